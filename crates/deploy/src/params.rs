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

/// The longest stack name with directory clean-up ("<stack>-Workspace_Directory_Cleanup"
/// within Lambda's 64 characters).
pub const MAX_STACK_NAME_WITH_DIRECTORY: usize = 36;

/// Lambda's limit on a function's environment variables, all of them together (4 KB).
pub const LAMBDA_ENVIRONMENT_BYTES: usize = 4096;

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
    /// The `Directory*` parameters.
    pub directory: DirectoryChange,
}

/// What a deploy does to directory clean-up (the template's `Directory*` parameters).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub enum DirectoryChange {
    /// No directory flag given: every `Directory*` parameter keeps its current value.
    #[default]
    Keep,
    /// `--no-directory-cleanup`: every `Directory*` parameter back to the template's default
    /// (clean-up off, the function, its role and the endpoint deleted).
    Off,
    /// Directory flags given: clean-up on with these settings.
    On(Box<DirectoryCleanup>),
}

/// Directory clean-up's settings. The five that make it work are given together whenever
/// any directory setting changes; `None` keeps the stack's current value of an optional one
/// (`Some("")` clears it).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct DirectoryCleanup {
    /// `DirectoryBaseDn`: the WorkSpaces OU.
    pub base_dn: String,
    /// `DirectoryLdapUrls`, joined with commas.
    pub ldap_urls: Vec<String>,
    /// `DirectorySubnetIds`, joined with commas.
    pub subnet_ids: Vec<String>,
    /// `DirectorySecurityGroupId`.
    pub security_group_id: String,
    /// `DirectorySecretArn`.
    pub secret_arn: String,
    /// `DirectoryAllowPlainLdap`: sent with the URLs it is about.
    pub allow_plain_ldap: bool,
    /// `DirectorySecretKeyArn`.
    pub secret_key_arn: Option<String>,
    /// `DirectoryCaBundle`: the PEM text.
    pub ca_bundle: Option<String>,
    /// `DirectoryComputerNamePrefix`.
    pub computer_name_prefix: Option<String>,
    /// `DirectoryCreateSecretsManagerEndpoint`.
    pub create_secrets_endpoint: Option<bool>,
    /// `DirectoryVpcId`.
    pub vpc_id: Option<String>,
}

/// The `Directory*` parameters and their template defaults (what `Off` sends).
const DIRECTORY_DEFAULTS: [(&str, &str); 11] = [
    ("DirectoryBaseDn", ""),
    ("DirectoryLdapUrls", ""),
    ("DirectorySubnetIds", ""),
    ("DirectorySecurityGroupId", ""),
    ("DirectorySecretArn", ""),
    ("DirectorySecretKeyArn", ""),
    ("DirectoryCaBundle", ""),
    ("DirectoryAllowPlainLdap", "false"),
    ("DirectoryComputerNamePrefix", "WSAMZN-"),
    ("DirectoryCreateSecretsManagerEndpoint", "false"),
    ("DirectoryVpcId", ""),
];

/// `text` matches `prefix` followed by 8 or 17 lowercase hex digits, as EC2 IDs do.
fn is_ec2_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// An ARN's parts: (partition, service, Region, account, resource).
fn arn_parts(arn: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (partition.starts_with("aws") && !region.is_empty() && account_ok)
        .then_some((partition, service, region, account, resource))
}

impl DirectoryCleanup {
    /// The checks the template's patterns make, with messages naming the flag, so that a
    /// mistake is found before anything is uploaded. The LDAP URLs' scheme and the CA
    /// bundle's certificates are checked by the caller with `blankslate_directory`'s own
    /// rules (the function's, at its start).
    pub fn check(&self, stack_name: &str) -> Result<(), String> {
        if stack_name.len() > MAX_STACK_NAME_WITH_DIRECTORY {
            return Err(format!(
                "--stack-name {stack_name:?} has {} characters; with directory clean-up at most \
                 {MAX_STACK_NAME_WITH_DIRECTORY} (\"<stack>-Workspace_Directory_Cleanup\" within Lambda's 64)",
                stack_name.len()
            ));
        }
        let prefix = self.computer_name_prefix.as_deref().unwrap_or(blankslate_core::directory::WORKSPACES_PREFIX);
        blankslate_core::directory::DirectorySettings::new(&self.base_dn, prefix)
            .map_err(|e| format!("--directory-base-dn / --directory-prefix: {e}"))?;
        if self.base_dn.contains(['\r', '\n']) {
            return Err("--directory-base-dn: a DN is one line".into());
        }
        if let Some(url) = self.ldap_urls.iter().find(|u| u.is_empty() || u.contains([',', ' ', '\t', '\r', '\n'])) {
            return Err(format!("--ldap-url {url:?}: a URL with no commas or spaces (give --ldap-url once per URL)"));
        }
        if self.subnet_ids.is_empty() {
            return Err("--directory-subnet: at least one subnet (subnet-...) for the function".into());
        }
        if let Some(bad) = self.subnet_ids.iter().find(|s| !is_ec2_id(s, "subnet-")) {
            return Err(format!("--directory-subnet {bad:?}: not a subnet ID (subnet- and 8 or 17 hex digits)"));
        }
        if !is_ec2_id(&self.security_group_id, "sg-") {
            return Err(format!(
                "--directory-security-group {:?}: not a security group ID (sg- and 8 or 17 hex digits)",
                self.security_group_id
            ));
        }
        let secret_ok = arn_parts(&self.secret_arn).is_some_and(|(_, service, _, _, resource)| {
            service == "secretsmanager"
                && resource.strip_prefix("secret:").is_some_and(|name| {
                    name.rsplit_once('-').is_some_and(|(_, suffix)| {
                        suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
                    })
                })
        });
        if !secret_ok {
            return Err(format!(
                "--directory-secret-arn {:?}: the secret's full ARN, with its 6-character suffix, as \
                 `aws secretsmanager create-secret` or `describe-secret` prints it \
                 (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf)",
                self.secret_arn
            ));
        }
        if let Some(key) = self.secret_key_arn.as_deref().filter(|k| !k.is_empty()) {
            let key_ok = arn_parts(key).is_some_and(|(_, service, _, _, resource)| {
                service == "kms" && resource.strip_prefix("key/").is_some_and(|id| !id.is_empty())
            });
            if !key_ok {
                return Err(format!(
                    "--directory-secret-key-arn {key:?}: a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias"
                ));
            }
        }
        match (self.create_secrets_endpoint, self.vpc_id.as_deref()) {
            (Some(true), None | Some("")) => {
                return Err("--create-secrets-endpoint true needs --directory-vpc vpc-..., the subnets' VPC".into())
            }
            (_, Some(vpc)) if !vpc.is_empty() && !is_ec2_id(vpc, "vpc-") => {
                return Err(format!("--directory-vpc {vpc:?}: not a VPC ID (vpc- and 8 or 17 hex digits)"))
            }
            _ => {}
        }
        if let Some(bundle) = self.ca_bundle.as_deref() {
            let bytes = self.function_environment_bytes(bundle);
            if bytes > LAMBDA_ENVIRONMENT_BYTES {
                return Err(format!(
                    "--directory-ca-bundle: the clean-up function's environment would be {bytes} bytes with \
                     this {}-byte bundle, over Lambda's {LAMBDA_ENVIRONMENT_BYTES}; give only the CA(s) that \
                     signed the domain controllers' certificates (usually the issuing CA and its root)",
                    bundle.len()
                ));
            }
        }
        Ok(())
    }

    /// The size Lambda counts of the clean-up function's environment (names and values)
    /// with `ca_bundle`, as the template sets it.
    pub fn function_environment_bytes(&self, ca_bundle: &str) -> usize {
        let prefix = self.computer_name_prefix.as_deref().unwrap_or(blankslate_core::directory::WORKSPACES_PREFIX);
        let plain = if self.allow_plain_ldap { "true" } else { "false" };
        let urls = self.ldap_urls.join(",");
        [
            ("BLANKSLATE_FUNCTION", "directory-cleanup"),
            ("BLANKSLATE_LDAP_URLS", urls.as_str()),
            ("BLANKSLATE_DIRECTORY_BASE_DN", self.base_dn.as_str()),
            ("BLANKSLATE_DIRECTORY_SECRET_ARN", self.secret_arn.as_str()),
            ("BLANKSLATE_LDAP_CA_BUNDLE", ca_bundle),
            ("BLANKSLATE_ALLOW_PLAIN_LDAP", plain),
            ("BLANKSLATE_DIRECTORY_PREFIX", prefix),
        ]
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum()
    }

    /// The parameters it sets; `None` for an optional one left out.
    fn parameters(&self) -> [(&'static str, Option<String>); 11] {
        [
            ("DirectoryBaseDn", Some(self.base_dn.clone())),
            ("DirectoryLdapUrls", Some(self.ldap_urls.join(","))),
            ("DirectorySubnetIds", Some(self.subnet_ids.join(","))),
            ("DirectorySecurityGroupId", Some(self.security_group_id.clone())),
            ("DirectorySecretArn", Some(self.secret_arn.clone())),
            ("DirectoryAllowPlainLdap", Some(self.allow_plain_ldap.to_string())),
            ("DirectorySecretKeyArn", self.secret_key_arn.clone()),
            ("DirectoryCaBundle", self.ca_bundle.clone()),
            ("DirectoryComputerNamePrefix", self.computer_name_prefix.clone()),
            ("DirectoryCreateSecretsManagerEndpoint", self.create_secrets_endpoint.map(|b| b.to_string())),
            ("DirectoryVpcId", self.vpc_id.clone()),
        ]
    }
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
        let directory: Vec<(&str, Option<String>)> = match &self.directory {
            DirectoryChange::Keep => DIRECTORY_DEFAULTS.iter().map(|(name, _)| (*name, None)).collect(),
            DirectoryChange::Off => {
                DIRECTORY_DEFAULTS.iter().map(|(name, default)| (*name, Some((*default).to_owned()))).collect()
            }
            DirectoryChange::On(settings) => settings.parameters().into_iter().collect(),
        };
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in given.into_iter().chain(more).chain(directory) {
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

    fn cleanup() -> DirectoryCleanup {
        DirectoryCleanup {
            base_dn: "OU=WorkSpaces,DC=corp,DC=example".into(),
            ldap_urls: vec!["ldaps://dc1.corp.example".into(), "ldaps://dc2.corp.example:636".into()],
            subnet_ids: vec!["subnet-0123456789abcdef0".into(), "subnet-89abcdef".into()],
            security_group_id: "sg-0123456789abcdef0".into(),
            secret_arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:blankslate/ldap-AbC12f".into(),
            ..Default::default()
        }
    }

    #[test]
    fn directory_settings_map_to_their_parameters_and_keep_what_was_left_out() {
        let previous: BTreeMap<String, String> = [
            ("DirectoryBaseDn", "OU=Old,DC=corp,DC=example"),
            ("DirectoryCaBundle", "-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----\n"),
            ("DirectoryComputerNamePrefix", "LAB-"),
            ("DirectoryAllowPlainLdap", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let on = StackSettings {
            selector: "all".into(),
            directory: DirectoryChange::On(Box::new(DirectoryCleanup {
                secret_key_arn: Some(String::new()),
                ..cleanup()
            })),
            ..Default::default()
        };
        let params: BTreeMap<_, _> = on.parameters("b", "k", &previous).into_iter().collect();
        let get = |k: &str| params.get(k).map(String::as_str);
        assert_eq!(get("DirectoryBaseDn"), Some("OU=WorkSpaces,DC=corp,DC=example"));
        assert_eq!(get("DirectoryLdapUrls"), Some("ldaps://dc1.corp.example,ldaps://dc2.corp.example:636"));
        assert_eq!(get("DirectorySubnetIds"), Some("subnet-0123456789abcdef0,subnet-89abcdef"));
        assert_eq!(get("DirectorySecurityGroupId"), Some("sg-0123456789abcdef0"));
        assert_eq!(
            get("DirectorySecretArn"),
            Some("arn:aws:secretsmanager:eu-west-1:123456789012:secret:blankslate/ldap-AbC12f")
        );
        assert_eq!(get("DirectoryAllowPlainLdap"), Some("false"), "sent with the URLs it is about, never kept");
        assert_eq!(get("DirectorySecretKeyArn"), Some(""), "an empty flag clears it");
        assert!(get("DirectoryCaBundle").is_some_and(|b| b.contains("old")), "left out: kept");
        assert_eq!(get("DirectoryComputerNamePrefix"), Some("LAB-"), "left out: kept");
        assert_eq!(get("DirectoryVpcId"), None, "never set: the template's default");

        // No directory flag: every previous value kept, nothing else sent.
        let keep = StackSettings { selector: "all".into(), ..Default::default() };
        let params: BTreeMap<_, _> = keep.parameters("b", "k", &previous).into_iter().collect();
        assert_eq!(params.get("DirectoryBaseDn").map(String::as_str), Some("OU=Old,DC=corp,DC=example"));
        assert_eq!(params.get("DirectoryAllowPlainLdap").map(String::as_str), Some("true"));
        assert!(!params.contains_key("DirectorySecretArn"));

        // Off: every Directory* parameter back to its template default, whatever was there.
        let off = StackSettings { selector: "all".into(), directory: DirectoryChange::Off, ..Default::default() };
        let params: BTreeMap<_, _> = off.parameters("b", "k", &previous).into_iter().collect();
        let directory: Vec<_> = params.iter().filter(|(k, _)| k.starts_with("Directory")).collect();
        assert_eq!(directory.len(), 11, "{directory:?}");
        assert_eq!(params.get("DirectoryBaseDn").map(String::as_str), Some(""));
        assert_eq!(params.get("DirectoryCaBundle").map(String::as_str), Some(""));
        assert_eq!(params.get("DirectoryAllowPlainLdap").map(String::as_str), Some("false"));
        assert_eq!(params.get("DirectoryComputerNamePrefix").map(String::as_str), Some("WSAMZN-"));
    }

    #[test]
    fn the_directory_parameter_names_are_the_templates() {
        let template = include_str!("../../../deploy/blankslate.yaml");
        for (name, default) in DIRECTORY_DEFAULTS {
            let declared = format!("\n  {name}:\n    Type: String\n");
            assert!(template.contains(&declared), "{name} is not a String parameter of the template");
            let start = template.find(&declared).expect("declared") + declared.len();
            let block = &template[start..start + template[start..].find("\n  D").unwrap_or(0)];
            let written =
                if default.is_empty() || default == "false" { format!("\"{default}\"") } else { default.into() };
            assert!(block.contains(&format!("    Default: {written}\n")), "{name}'s default is not {written}: {block}");
        }
    }

    #[test]
    fn directory_settings_are_checked_naming_the_flag() {
        assert_eq!(cleanup().check("blankslate"), Ok(()));
        let with_all = DirectoryCleanup {
            secret_key_arn: Some("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into()),
            create_secrets_endpoint: Some(true),
            vpc_id: Some("vpc-0123456789abcdef0".into()),
            computer_name_prefix: Some("LAB-".into()),
            ..cleanup()
        };
        assert_eq!(with_all.check("a-36-character-stack-name-xxxxxxxxxx"), Ok(()));
        let cases: [(DirectoryCleanup, &str, &str); 12] = [
            (cleanup(), "a-37-character-stack-name-xxxxxxxxxxx", "--stack-name"),
            (DirectoryCleanup { base_dn: "WorkSpaces".into(), ..cleanup() }, "", "--directory-base-dn"),
            (
                DirectoryCleanup { computer_name_prefix: Some("BAD PREFIX".into()), ..cleanup() },
                "",
                "--directory-prefix",
            ),
            (DirectoryCleanup { ldap_urls: vec!["ldaps://a,ldaps://b".into()], ..cleanup() }, "", "--ldap-url"),
            (DirectoryCleanup { subnet_ids: vec![], ..cleanup() }, "", "--directory-subnet"),
            (
                DirectoryCleanup { subnet_ids: vec!["subnet-xyz".into()], ..cleanup() },
                "",
                "--directory-subnet \"subnet-xyz\"",
            ),
            (DirectoryCleanup { security_group_id: "sg-123".into(), ..cleanup() }, "", "--directory-security-group"),
            (
                DirectoryCleanup {
                    secret_arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:blankslate/ldap".into(),
                    ..cleanup()
                },
                "",
                "6-character suffix",
            ),
            (
                DirectoryCleanup {
                    secret_arn: "arn:aws:ssm:eu-west-1:123456789012:secret:x-AbC12f".into(),
                    ..cleanup()
                },
                "",
                "--directory-secret-arn",
            ),
            (
                DirectoryCleanup {
                    secret_key_arn: Some("arn:aws:kms:eu-west-1:123456789012:alias/x".into()),
                    ..cleanup()
                },
                "",
                "--directory-secret-key-arn",
            ),
            (DirectoryCleanup { create_secrets_endpoint: Some(true), ..cleanup() }, "", "--directory-vpc"),
            (DirectoryCleanup { ca_bundle: Some("x".repeat(3800)), ..cleanup() }, "", "over Lambda's 4096"),
        ];
        for (settings, stack, named) in cases {
            let stack = if stack.is_empty() { "blankslate" } else { stack };
            let err = settings.check(stack).expect_err(named);
            assert!(err.contains(named), "expected {named:?} in: {err}");
        }
    }

    #[test]
    fn the_environment_size_counts_names_and_values() {
        let settings = DirectoryCleanup { ldap_urls: vec!["ldaps://a".into()], ..cleanup() };
        let empty = settings.function_environment_bytes("");
        assert_eq!(settings.function_environment_bytes("12345") - empty, 5);
        // the seven names (177 bytes) and the values without the bundle
        let values = "directory-cleanup".len()
            + "ldaps://a".len()
            + settings.base_dn.len()
            + settings.secret_arn.len()
            + "false".len()
            + "WSAMZN-".len();
        assert_eq!(empty, values + 177);
        // The largest bundle that fits is about 3.7 KB with these settings.
        assert!(settings.check("blankslate").is_ok());
        let fits = LAMBDA_ENVIRONMENT_BYTES - empty;
        assert!(DirectoryCleanup { ca_bundle: Some("x".repeat(fits)), ..settings.clone() }.check("b").is_ok());
        assert!(DirectoryCleanup { ca_bundle: Some("x".repeat(fits + 1)), ..settings }.check("b").is_err());
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
