//! The deployed stack: where its journal, topics and functions are, and the configuration
//! its functions run with.
//!
//! Everything an operations command needs is read from CloudFormation (DescribeStacks):
//! the outputs name the resources, the parameters give the settings. The configuration
//! is the reconciler's own environment (GetFunctionConfiguration) read through the same
//! `Config::from_settings` the functions use, so a command judges desks with exactly the
//! functions' rules, settings outside the template's parameters included; when that
//! cannot be read, it is rebuilt from the parameters with the mapping the template
//! applies (`ReconcileMinutes` → seconds, sweep period 15 minutes or the tick when longer).

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use blankslate_aws::{AwsWorkspaces, CloudWatchAlarms, DynamoJournal};
use blankslate_core::config::{settings, Config};
use blankslate_core::ValidationError;
use blankslate_deploy::error::{classify, ErrorClass};
use blankslate_deploy::Session;

use crate::error::{sdk_error, OpsError};

/// The template's output keys.
pub mod outputs {
    /// The journal table.
    pub const JOURNAL_TABLE: &str = "JournalTableName";
    /// The seed's Workspace_Disconnected_Topic, where the disconnect alarms publish.
    pub const DISCONNECT_TOPIC: &str = "DisconnectTopicArn";
    /// The admin-notification topic.
    pub const NOTIFICATION_TOPIC: &str = "NotificationTopicArn";
    /// Workspace_Alarm_Create.
    pub const ALARM_CREATE_FUNCTION: &str = "AlarmCreateFunctionName";
    /// Workspace_Alarm_Del.
    pub const ALARM_DELETE_FUNCTION: &str = "AlarmDeleteFunctionName";
    /// Workspace_Term_Rebuild.
    pub const TERM_REBUILD_FUNCTION: &str = "TermRebuildFunctionName";
    /// The scheduled reconciler.
    pub const RECONCILER_FUNCTION: &str = "ReconcilerFunctionName";
    /// The event functions' dead-letter queue.
    pub const DEAD_LETTER_QUEUE: &str = "DeadLetterQueueUrl";
    /// The alarm queue Term_Rebuild drains (stacks deployed since issue 11).
    pub const DISCONNECT_QUEUE: &str = "DisconnectQueueUrl";
    /// The directory clean-up function (only when clean-up is configured).
    pub const DIRECTORY_CLEANUP_FUNCTION: &str = "DirectoryCleanupFunctionName";
}

/// The template's parameter keys that shape the functions' configuration.
pub mod parameters {
    /// The opt-in selector.
    pub const SELECTOR: &str = "Selector";
    /// Grace period in minutes.
    pub const GRACE_MINUTES: &str = "GraceMinutes";
    /// Reconcile period in whole minutes.
    pub const RECONCILE_MINUTES: &str = "ReconcileMinutes";
    /// `per-workspace` or `off`.
    pub const ALARM_MODE: &str = "AlarmMode";
}

/// The functions' configuration from the stack's parameters, mapped as the template maps
/// them into the functions' environment (`Mappings: ReconcilePeriod`). Absent parameters
/// take the template's defaults; the error names the parameter's setting.
pub fn config_from_parameters(params: &BTreeMap<String, String>) -> Result<Config, ValidationError> {
    let reconcile_minutes = match params.get(parameters::RECONCILE_MINUTES) {
        None => None,
        Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
            ValidationError::new(parameters::RECONCILE_MINUTES, text, "is not a whole number of minutes")
        })?),
    };
    let get = |name: &str| -> Option<String> {
        match name {
            settings::SELECTOR => params.get(parameters::SELECTOR).cloned(),
            settings::GRACE_MINUTES => params.get(parameters::GRACE_MINUTES).cloned(),
            settings::ALARM_MODE => params.get(parameters::ALARM_MODE).cloned(),
            settings::RECONCILE_SECONDS => reconcile_minutes.map(|m| (m * 60).to_string()),
            settings::SWEEP_MINUTES => reconcile_minutes.map(|m| m.max(15).to_string()),
            _ => None,
        }
    };
    Config::from_settings(get)
}

/// A deployed blankslate stack, as DescribeStacks shows it, with the clients to reach
/// its resources.
///
/// Open it with [`DeployedStack::open`]; the journal table output and a valid
/// configuration are checked then, the other outputs when a command asks for them
/// ([`DeployedStack::output`]), so a command fails only for what it needs.
#[derive(Clone, Debug)]
pub struct DeployedStack {
    /// The stack name.
    pub name: String,
    /// The Region it is in.
    pub region: String,
    /// Its CloudFormation status, e.g. `CREATE_COMPLETE`.
    pub status: String,
    /// Parameter key → value.
    pub parameters: BTreeMap<String, String>,
    /// Output key → value.
    pub outputs: BTreeMap<String, String>,
    /// The configuration the functions run with.
    pub config: Config,
    /// Where `config` was read from.
    pub config_source: ConfigSource,
    sdk: SdkConfig,
}

/// Where a [`DeployedStack`]'s configuration comes from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ConfigSource {
    /// The reconciler's own environment (GetFunctionConfiguration): exactly what it runs
    /// with, settings outside the template's parameters included.
    Reconciler,
    /// The stack's parameters, mapped as the template maps them; used when the
    /// reconciler's configuration could not be read (the reason is kept).
    Parameters(String),
}

/// Loads credentials and Region from the standard chain (`--profile`, `--region`), failing
/// early with what to do when there are none. The same loading as `blankslate deploy`.
pub async fn connect(profile: Option<&str>, region: Option<&str>) -> Result<Session, OpsError> {
    Ok(Session::connect(profile, region).await?)
}

impl DeployedStack {
    /// Reads stack `name` in the session's Region.
    pub async fn open(session: &Session, name: &str) -> Result<Self, OpsError> {
        let sdk = session.sdk_config().clone();
        let region = session.region().to_owned();
        let cfn = aws_sdk_cloudformation::Client::new(&sdk);
        let stack = match cfn.describe_stacks().stack_name(name).send().await {
            Ok(out) => out.stacks().first().cloned(),
            Err(e) => {
                let detail = aws_smithy_types::error::display::DisplayErrorContext(&e).to_string();
                let code = aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e).map(str::to_owned);
                if classify(code.as_deref(), &detail, false) == ErrorClass::StackNotFound {
                    None
                } else {
                    return Err(sdk_error("cloudformation:DescribeStacks", e));
                }
            }
        };
        let not_found = || OpsError::StackNotFound { stack: name.to_owned(), region: region.clone() };
        let stack = stack.ok_or_else(not_found)?;
        let status = stack.stack_status().map(|s| s.as_str().to_owned()).unwrap_or_default();
        if status == "DELETE_COMPLETE" {
            return Err(not_found());
        }
        let parameters = stack
            .parameters()
            .iter()
            .filter_map(|p| Some((p.parameter_key()?.to_owned(), p.parameter_value().unwrap_or_default().to_owned())))
            .collect();
        let outputs = stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value().unwrap_or_default().to_owned())))
            .collect();
        let mut stack = Self::from_parts(name.to_owned(), region, status, parameters, outputs, sdk)?;
        stack.read_reconciler_config().await;
        Ok(stack)
    }

    /// Replaces the parameters' configuration with the reconciler's own environment when
    /// it can be read and validates; otherwise keeps the parameters' and records why.
    async fn read_reconciler_config(&mut self) {
        let why = match self.output(outputs::RECONCILER_FUNCTION) {
            Err(e) => e.to_string(),
            Ok(function) => match self.lambda().get_function_configuration().function_name(function).send().await {
                Err(e) => sdk_error("lambda:GetFunctionConfiguration", e).to_string(),
                Ok(answer) => {
                    let vars = answer.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
                    match Config::from_settings(|name| vars.get(name).cloned()) {
                        Ok(config) => {
                            self.config = config;
                            self.config_source = ConfigSource::Reconciler;
                            return;
                        }
                        Err(e) => format!("the reconciler's environment: {e}"),
                    }
                }
            },
        };
        self.config_source = ConfigSource::Parameters(why);
    }

    /// A stack from what DescribeStacks said (tests build one without CloudFormation).
    pub fn from_parts(
        name: String,
        region: String,
        status: String,
        parameters: BTreeMap<String, String>,
        outputs: BTreeMap<String, String>,
        sdk: SdkConfig,
    ) -> Result<Self, OpsError> {
        let config = config_from_parameters(&parameters)
            .map_err(|source| OpsError::BadParameters { stack: name.clone(), source })?;
        let stack = Self {
            name,
            region,
            status,
            parameters,
            outputs,
            config,
            config_source: ConfigSource::Parameters("not read yet".into()),
            sdk,
        };
        stack.output(outputs::JOURNAL_TABLE)?;
        Ok(stack)
    }

    /// The value of output `key`, or an error naming the stack, the output and what to do.
    pub fn output(&self, key: &'static str) -> Result<&str, OpsError> {
        self.outputs.get(key).map(String::as_str).filter(|v| !v.is_empty()).ok_or_else(|| OpsError::MissingOutput {
            stack: self.name.clone(),
            region: self.region.clone(),
            output: key,
            status: self.status.clone(),
        })
    }

    /// The SDK configuration (credentials, Region, retry policy) for other clients.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The journal table's name.
    pub fn journal_table(&self) -> &str {
        self.outputs.get(outputs::JOURNAL_TABLE).map(String::as_str).unwrap_or_default()
    }

    /// The journal adapter on the stack's table.
    pub fn journal(&self) -> DynamoJournal {
        DynamoJournal::new(&self.sdk, self.journal_table().to_owned())
    }

    /// The WorkSpaces adapter in the stack's Region.
    pub fn workspaces(&self) -> AwsWorkspaces {
        AwsWorkspaces::new(&self.sdk)
    }

    /// The alarms adapter, publishing to the stack's disconnect topic (empty when the
    /// stack has none: listing and deleting alarms need no topic).
    pub fn alarms(&self) -> CloudWatchAlarms {
        let topic = self.outputs.get(outputs::DISCONNECT_TOPIC).cloned().unwrap_or_default();
        CloudWatchAlarms::new(&self.sdk, topic).owned_by(self.config.alarm_owner())
    }

    /// A Lambda client, for invoking the stack's functions.
    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.sdk)
    }

    /// A CloudFormation client.
    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blankslate_core::config::AlarmMode;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parameters_map_to_the_functions_configuration_as_the_template_does() {
        let c = config_from_parameters(&params(&[("Selector", "tag:blankslate")])).unwrap();
        assert_eq!(c, Config::new("tag:blankslate".parse().unwrap()));
        let c = config_from_parameters(&params(&[
            ("Selector", "all"),
            ("GraceMinutes", "3"),
            ("ReconcileMinutes", "20"),
            ("AlarmMode", "off"),
        ]))
        .unwrap();
        assert_eq!(
            (c.grace.as_secs(), c.reconcile_period.as_secs(), c.sweep_period.as_secs(), c.alarm_mode),
            (180, 1200, 1200, AlarmMode::Off)
        );
        let c = config_from_parameters(&params(&[("Selector", "all"), ("ReconcileMinutes", "2")])).unwrap();
        assert_eq!((c.reconcile_period.as_secs(), c.sweep_period.as_secs()), (120, 900));
        for (pairs, field) in [
            (&[][..], "BLANKSLATE_SELECTOR"),
            (&[("Selector", "all"), ("ReconcileMinutes", "x")][..], "ReconcileMinutes"),
            (&[("Selector", "all"), ("GraceMinutes", "0")][..], "grace period"),
        ] {
            assert_eq!(config_from_parameters(&params(pairs)).unwrap_err().field, field, "{pairs:?}");
        }
    }

    #[test]
    fn a_missing_output_is_named_with_what_to_do() {
        let sdk = SdkConfig::builder().build();
        let p = params(&[("Selector", "all")]);
        let err = DeployedStack::from_parts(
            "bs".into(),
            "eu-west-1".into(),
            "CREATE_IN_PROGRESS".into(),
            p,
            BTreeMap::new(),
            sdk,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("JournalTableName") && text.contains("CREATE_IN_PROGRESS"), "{text}");
        let bad = params(&[("Selector", "everything")]);
        let err = DeployedStack::from_parts(
            "bs".into(),
            "r".into(),
            "s".into(),
            bad,
            BTreeMap::new(),
            SdkConfig::builder().build(),
        )
        .unwrap_err();
        assert!(matches!(err, OpsError::BadParameters { .. }), "{err}");
    }
}
