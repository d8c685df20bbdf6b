//! The template's parameters, from the command's flags.
//!
//! Each flag left out keeps the stack's current value on an update (read from
//! DescribeStacks), and the template's default on a create: re-deploying new code must
//! never silently reset a grace period someone set a month ago. The selector is always
//! given, because it decides what may be wiped.

use std::collections::BTreeMap;

/// The CPU the functions run on (the template's `Architecture`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Architecture {
    /// Lambda's default; what `scripts/package` builds without `--arm64`.
    #[default]
    X86_64,
    /// Graviton: about 20 % cheaper per GB-second; needs an aarch64 build.
    Arm64,
}

impl Architecture {
    /// The template's value.
    pub fn as_param(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }
}

/// The template's `AlarmMode`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AlarmMode {
    /// A SessionDisconnect alarm per WorkSpace, as in the seed.
    PerWorkspace,
    /// No alarms; the reconciler reads connection states itself.
    Off,
}

impl AlarmMode {
    /// The template's value.
    pub fn as_param(self) -> &'static str {
        match self {
            Self::PerWorkspace => "per-workspace",
            Self::Off => "off",
        }
    }
}

/// The values the template's `LogRetentionDays` allows (CloudWatch Logs' own list).
pub const LOG_RETENTION_DAYS: [u32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// The longest stack name the template's function names allow
/// ("<stack>-Workspace_Alarm_Create" within Lambda's 64 characters).
pub const MAX_STACK_NAME: usize = 41;

/// Checks a stack name against CloudFormation's rule and the template's length limit.
pub fn check_stack_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_with_letter || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("{name:?}: a stack name starts with a letter and has only letters, digits and -"));
    }
    if name.len() > MAX_STACK_NAME {
        return Err(format!(
            "{name:?} has {} characters; at most {MAX_STACK_NAME} (the function names append 23)",
            name.len()
        ));
    }
    Ok(())
}

/// The template parameters a deploy sets. `None` means "not given on the command line".
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct StackSettings {
    /// `Selector`: what is managed (checked by `blankslate_core::selector::Selector`).
    pub selector: String,
    /// `GraceMinutes`.
    pub grace_minutes: Option<u32>,
    /// `ReconcileMinutes`.
    pub reconcile_minutes: Option<u32>,
    /// `AlarmMode`.
    pub alarm_mode: Option<AlarmMode>,
    /// `NotificationEmail`; `Some("")` removes the subscription.
    pub notification_email: Option<String>,
    /// `CreateTrail`.
    pub create_trail: Option<bool>,
    /// `TrailLogRetentionDays`.
    pub trail_log_retention_days: Option<u32>,
    /// `LogRetentionDays`.
    pub log_retention_days: Option<u32>,
    /// `EventFunctionsReservedConcurrency`.
    pub event_functions_reserved_concurrency: Option<u32>,
    /// `VolumeEncryptionKeyArns`; `Some(vec![])` clears them.
    pub volume_encryption_key_arns: Option<Vec<String>>,
    /// `Architecture`: always sent, since it must match the uploaded zip.
    pub architecture: Architecture,
}

impl StackSettings {
    /// The parameters to send, sorted by name: the flags given; for the others the
    /// stack's `previous` value if it has one (an update), else nothing (the template's
    /// default). `CodeBucket`, `CodeKey`, `Selector` and `Architecture` are always sent.
    pub fn parameters(
        &self,
        code_bucket: &str,
        code_key: &str,
        previous: &BTreeMap<String, String>,
    ) -> Vec<(String, String)> {
        let given: [(&str, Option<String>); 11] = [
            ("Selector", Some(self.selector.clone())),
            ("CodeBucket", Some(code_bucket.to_owned())),
            ("CodeKey", Some(code_key.to_owned())),
            ("Architecture", Some(self.architecture.as_param().to_owned())),
            ("GraceMinutes", self.grace_minutes.map(|v| v.to_string())),
            ("ReconcileMinutes", self.reconcile_minutes.map(|v| v.to_string())),
            ("AlarmMode", self.alarm_mode.map(|m| m.as_param().to_owned())),
            ("NotificationEmail", self.notification_email.clone()),
            ("CreateTrail", self.create_trail.map(|b| b.to_string())),
            ("TrailLogRetentionDays", self.trail_log_retention_days.map(|v| v.to_string())),
            ("LogRetentionDays", self.log_retention_days.map(|v| v.to_string())),
        ];
        let more = [
            ("EventFunctionsReservedConcurrency", self.event_functions_reserved_concurrency.map(|v| v.to_string())),
            ("VolumeEncryptionKeyArns", self.volume_encryption_key_arns.as_ref().map(|arns| arns.join(","))),
        ];
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in given.into_iter().chain(more) {
            if let Some(value) = value.or_else(|| previous.get(name).cloned()) {
                out.insert(name.to_owned(), value);
            }
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(params: &[(String, String)]) -> Vec<&str> {
        params.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn a_create_sends_only_what_was_given_and_the_code() {
        let settings =
            StackSettings { selector: "tag:blankslate".into(), grace_minutes: Some(20), ..Default::default() };
        let params = settings.parameters("bucket", "key.zip", &BTreeMap::new());
        assert_eq!(names(&params), ["Architecture", "CodeBucket", "CodeKey", "GraceMinutes", "Selector"]);
        assert!(params.contains(&("GraceMinutes".into(), "20".into())));
        assert!(params.contains(&("Architecture".into(), "x86_64".into())));
    }

    #[test]
    fn an_update_keeps_the_previous_values_of_flags_left_out() {
        let previous: BTreeMap<String, String> = [
            ("Selector", "tag:old"),
            ("GraceMinutes", "30"),
            ("AlarmMode", "off"),
            ("CodeKey", "old.zip"),
            ("NotificationEmail", "ops@example.com"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let settings = StackSettings {
            selector: "tag:new".into(),
            alarm_mode: Some(AlarmMode::PerWorkspace),
            notification_email: Some(String::new()),
            create_trail: Some(true),
            volume_encryption_key_arns: Some(vec!["arn:a".into(), "arn:b".into()]),
            architecture: Architecture::Arm64,
            ..Default::default()
        };
        let params: BTreeMap<_, _> = settings.parameters("b", "new.zip", &previous).into_iter().collect();
        let get = |k: &str| params.get(k).map(String::as_str);
        assert_eq!(get("Selector"), Some("tag:new"), "the flag wins");
        assert_eq!(get("CodeKey"), Some("new.zip"), "the code is always the new upload");
        assert_eq!(get("GraceMinutes"), Some("30"), "left out: kept");
        assert_eq!(get("AlarmMode"), Some("per-workspace"));
        assert_eq!(get("NotificationEmail"), Some(""), "an empty flag clears it");
        assert_eq!(get("CreateTrail"), Some("true"));
        assert_eq!(get("VolumeEncryptionKeyArns"), Some("arn:a,arn:b"));
        assert_eq!(get("Architecture"), Some("arm64"));
        assert_eq!(get("LogRetentionDays"), None, "never set: the template's default");
    }

    #[test]
    fn stack_names_follow_cloudformation_and_the_function_name_limit() {
        assert!(check_stack_name("blankslate").is_ok());
        assert!(check_stack_name("a-41-character-stack-name-xxxxxxxxxxxxxxx").is_ok());
        for bad in ["", "1stack", "my_stack", "a-42-character-stack-name-xxxxxxxxxxxxxxxx"] {
            assert!(check_stack_name(bad).is_err(), "{bad:?}");
        }
    }
}
