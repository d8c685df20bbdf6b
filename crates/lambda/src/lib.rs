//! The Lambda shell of blankslate: reads its configuration from the environment once,
//! builds the AWS SDK adapters once, and on each invocation hands the event, the ports
//! and the wall clock to the function its configuration names.
//!
//! One bootstrap serves all five functions (`BLANKSLATE_FUNCTION` picks the role): one
//! build and one zip instead of four identical ones, which halves what a 2-core build
//! machine compiles and what a deploy uploads; the role is configuration, not code.
//! Events arrive as plain JSON and are read by `blankslate_core::events`, whose errors
//! name the JSON path that was wrong, for every shape one function can receive.

#![deny(missing_docs)]

mod cleanup;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use blankslate_aws::{
    AwsWorkspaces, CloudWatchAlarms, DirectoryFunction, DynamoJournal, SnsNotifier, WorkspaceArnPrefix,
};
use blankslate_core::config::{AlarmMode, Config, TagReads};
use blankslate_core::reconcile::Notice;
use blankslate_core::{Timestamp, ValidationError};
use blankslate_handlers::ports::{Notifier, PortResult, Ports};
use blankslate_handlers::{self as handlers, HandlerError, Report};

/// Environment variables of the shell itself (the decision settings are
/// `blankslate_core::config::settings`).
pub mod env {
    /// Which function this is: `alarm-create`, `alarm-delete`, `term-rebuild` or `reconcile`.
    pub const FUNCTION: &str = "BLANKSLATE_FUNCTION";
    /// The DynamoDB journal table's name.
    pub const JOURNAL_TABLE: &str = "BLANKSLATE_JOURNAL_TABLE";
    /// The SNS topic the disconnect alarms publish to (required with per-WorkSpace alarms).
    pub const ALARM_TOPIC_ARN: &str = "BLANKSLATE_ALARM_TOPIC_ARN";
    /// The SNS topic for admin notifications (optional: without it notices are only logged).
    pub const NOTIFY_TOPIC_ARN: &str = "BLANKSLATE_NOTIFY_TOPIC_ARN";
    /// The ARN of this account's WorkSpaces without the ID,
    /// `arn:<partition>:workspaces:<region>:<account>:workspace/`: tags are then read 100
    /// WorkSpaces a call through the Resource Groups Tagging API. Optional: without it each
    /// WorkSpace's tags cost a DescribeTags call against the WorkSpaces API's rate.
    pub const WORKSPACE_ARN_PREFIX: &str = "BLANKSLATE_WORKSPACE_ARN_PREFIX";
    /// The reconciler's: the directory clean-up function to hand the deletes to. Required
    /// exactly when `BLANKSLATE_DIRECTORY_BASE_DN` turns the clean-up on.
    pub const DIRECTORY_FUNCTION: &str = "BLANKSLATE_DIRECTORY_FUNCTION";
    /// The clean-up function's: its domain controllers, `ldaps://` URLs, comma-separated,
    /// tried in order.
    pub const LDAP_URLS: &str = "BLANKSLATE_LDAP_URLS";
    /// The clean-up function's: the Secrets Manager secret with the bind account,
    /// `{"username": ..., "password": ...}`.
    pub const DIRECTORY_SECRET_ARN: &str = "BLANKSLATE_DIRECTORY_SECRET_ARN";
    /// The clean-up function's: PEM certificates to trust for LDAPS instead of the
    /// system's roots (optional).
    pub const LDAP_CA_BUNDLE: &str = "BLANKSLATE_LDAP_CA_BUNDLE";
    /// The clean-up function's: `true` allows `ldap://` URLs (the password then crosses
    /// the network unencrypted).
    pub const ALLOW_PLAIN_LDAP: &str = "BLANKSLATE_ALLOW_PLAIN_LDAP";
}

/// The seed's three functions, the reconciler and the directory clean-up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Function {
    /// `Workspace_Alarm_Create`.
    AlarmCreate,
    /// `Workspace_Alarm_Del`.
    AlarmDelete,
    /// `Workspace_Term_Rebuild`.
    TermRebuild,
    /// The scheduled reconciler.
    Reconcile,
    /// Deletes computer objects for the reconciler, inside the customer's VPC.
    DirectoryCleanup,
}

impl std::str::FromStr for Function {
    type Err = ValidationError;
    fn from_str(text: &str) -> Result<Self, ValidationError> {
        match text.trim() {
            "alarm-create" => Ok(Self::AlarmCreate),
            "alarm-delete" => Ok(Self::AlarmDelete),
            "term-rebuild" => Ok(Self::TermRebuild),
            "reconcile" => Ok(Self::Reconcile),
            "directory-cleanup" => Ok(Self::DirectoryCleanup),
            other => Err(ValidationError::new(
                env::FUNCTION,
                other,
                "expected alarm-create, alarm-delete, term-rebuild, reconcile or directory-cleanup",
            )),
        }
    }
}

/// Where admin notices go: the SNS topic, or the log when none is configured.
pub enum AdminNotifier {
    /// Publish to SNS.
    Sns(SnsNotifier),
    /// Log only.
    Log,
}

impl Notifier for AdminNotifier {
    async fn notify(&self, notice: &Notice) -> PortResult<()> {
        match self {
            Self::Sns(sns) => sns.notify(notice).await,
            Self::Log => {
                tracing::warn!(desk = %notice.desk, subject = %notice.subject, "{}", notice.message);
                Ok(())
            }
        }
    }
}

/// A configuration problem found at cold start.
#[derive(thiserror::Error)]
#[error("blankslate cannot start: {0}")]
pub struct ConfigError(#[from] ValidationError);

/// `main` returning this error prints it with `Debug`: make that the readable message.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Why an invocation failed, as Lambda reports it: `errorType` is one of a small closed
/// set an admin (or a metric filter on the function's log) can act on, `errorMessage` the
/// error's own text. Without this the runtime names the Rust type
/// (`&alloc::boxed::Box<dyn core::error::Error + ...>`), which says nothing.
///
/// | `errorType`  | meaning                                                           |
/// |--------------|-------------------------------------------------------------------|
/// | `BadEvent`   | the event is not one this function reads (mis-wired rule, garbage) |
/// | `Config`     | the function's configuration cannot serve this invocation          |
/// | `Journal`    | a journal (DynamoDB) read the invocation depends on failed          |
/// | `Workspaces` | a WorkSpaces read the invocation depends on failed                 |
/// | `Internal`   | a bug: an answer could not be written                              |
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    /// `BadEvent`.
    #[error("{0}")]
    BadEvent(String),
    /// `Config`.
    #[error("{0}")]
    Config(String),
    /// `Journal`.
    #[error("{0}")]
    Journal(String),
    /// `Workspaces`.
    #[error("{0}")]
    Workspaces(String),
    /// `Internal`.
    #[error("{0}")]
    Internal(String),
}

impl FunctionError {
    /// The `errorType` Lambda reports.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::BadEvent(_) => "BadEvent",
            Self::Config(_) => "Config",
            Self::Journal(_) => "Journal",
            Self::Workspaces(_) => "Workspaces",
            Self::Internal(_) => "Internal",
        }
    }
}

impl From<HandlerError> for FunctionError {
    fn from(error: HandlerError) -> Self {
        let message = error.to_string();
        match error {
            HandlerError::Event(_) => Self::BadEvent(message),
            HandlerError::Journal(_) => Self::Journal(message),
            HandlerError::Workspaces(_) => Self::Workspaces(message),
        }
    }
}

impl From<FunctionError> for lambda_runtime::Diagnostic {
    fn from(error: FunctionError) -> Self {
        Self { error_type: error.error_type().to_owned(), error_message: error.to_string() }
    }
}

/// Everything a warm function keeps between invocations.
pub enum Shell {
    /// The four functions that manage the fleet.
    Fleet(Box<FleetShell>),
    /// The directory clean-up function.
    DirectoryCleanup(Box<cleanup::CleanupShell>),
}

/// The fleet functions' clients and configuration.
pub struct FleetShell {
    function: Function,
    config: Config,
    workspaces: AwsWorkspaces,
    alarms: CloudWatchAlarms,
    journal: DynamoJournal,
    notifier: AdminNotifier,
    /// The reconciler's directory clean-up, when configured.
    directory: Option<DirectoryFunction>,
    /// `AWS_LAMBDA_FUNCTION_NAME`, the dimension of the metrics the reconciler logs.
    name: String,
}

pub(crate) fn required(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ValidationError> {
    get(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| ValidationError::new(name, "", "is required"))
}

impl Shell {
    /// Reads the environment, validates it, and builds the SDK clients.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let sdk = blankslate_aws::load_sdk_config().await;
        Self::new(&sdk, |name| std::env::var(name).ok())
    }

    /// Builds a shell from named settings (the environment, or a test's map).
    pub fn new(sdk: &aws_config::SdkConfig, get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match required(&get, env::FUNCTION)?.parse()? {
            Function::DirectoryCleanup => Ok(Self::DirectoryCleanup(Box::new(cleanup::CleanupShell::new(sdk, &get)?))),
            function => Ok(Self::Fleet(Box::new(FleetShell::new(sdk, function, &get)?))),
        }
    }

    /// Handles one invocation.
    pub async fn handle(&self, event: serde_json::Value) -> Result<serde_json::Value, FunctionError> {
        match self {
            Self::Fleet(shell) => shell.handle(event).await,
            Self::DirectoryCleanup(shell) => shell.handle(event).await,
        }
    }
}

impl FleetShell {
    fn new(
        sdk: &aws_config::SdkConfig,
        function: Function,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name);
        let mut config = Config::from_settings(get)?;
        let journal = DynamoJournal::new(sdk, required(&get, env::JOURNAL_TABLE)?);
        let alarm_topic = match config.alarm_mode {
            AlarmMode::PerWorkspace => required(&get, env::ALARM_TOPIC_ARN)?,
            // Alarm-free: alarms are only ever listed and deleted, never put.
            AlarmMode::Off => get(env::ALARM_TOPIC_ARN).unwrap_or_default(),
        };
        let notifier = match get(env::NOTIFY_TOPIC_ARN).filter(|v| !v.trim().is_empty()) {
            Some(topic) => AdminNotifier::Sns(SnsNotifier::new(sdk, topic)),
            None => AdminNotifier::Log,
        };
        let directory = match (get(env::DIRECTORY_FUNCTION).filter(|v| !v.trim().is_empty()), &config.directory) {
            (Some(name), Some(_)) => Some(DirectoryFunction::new(sdk, name)),
            (None, None) => None,
            (Some(name), None) => {
                return Err(ValidationError::new(
                    blankslate_core::config::settings::DIRECTORY_BASE_DN,
                    "",
                    format!("is required with {}={name}: it turns the directory clean-up on", env::DIRECTORY_FUNCTION),
                )
                .into())
            }
            (None, Some(_)) => {
                return Err(ValidationError::new(
                    env::DIRECTORY_FUNCTION,
                    "",
                    "is required when BLANKSLATE_DIRECTORY_BASE_DN turns the directory clean-up on: the function that deletes the computer objects inside the VPC",
                )
                .into())
            }
        };
        let mut workspaces = AwsWorkspaces::new(sdk);
        let arn_prefix = get(env::WORKSPACE_ARN_PREFIX).filter(|v| !v.trim().is_empty());
        if let Some(prefix) = &arn_prefix {
            let prefix = WorkspaceArnPrefix::new(prefix.trim())
                .map_err(|e| ValidationError { field: env::WORKSPACE_ARN_PREFIX, ..e })?;
            workspaces = workspaces.with_bulk_tags(sdk, prefix);
        }
        config.tag_reads = if arn_prefix.is_some() { TagReads::Bulk } else { TagReads::OneByOne };
        tracing::info!(?function, stack = ?config.stack.as_ref().map(|s| s.as_str()), selector = %config.selector, grace_s = config.grace.as_secs(), bulk_tags = arn_prefix.is_some(), directory = ?directory.as_ref().map(DirectoryFunction::name), "configured");
        let alarms = CloudWatchAlarms::new(sdk, alarm_topic).owned_by(config.alarm_owner());
        Ok(Self {
            function,
            config,
            workspaces,
            alarms,
            journal,
            notifier,
            directory,
            name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "blankslate".to_owned()),
        })
    }

    /// Handles one invocation. A bad event or an unreachable journal fails the
    /// invocation (so Lambda's error metrics and retries see it); per-item failures are
    /// in the returned report and are retried by the reconciler.
    async fn handle(&self, event: serde_json::Value) -> Result<serde_json::Value, FunctionError> {
        let now = wall_clock();
        let ports = Ports {
            workspaces: &self.workspaces,
            alarms: &self.alarms,
            journal: &self.journal,
            notifier: &self.notifier,
        };
        let config = &self.config;
        let report = match self.function {
            Function::AlarmCreate => handlers::alarm_create(ports, config, now, &event).await?,
            Function::AlarmDelete => handlers::alarm_delete(ports, config, now, &event).await?,
            Function::TermRebuild if blankslate_core::events::sqs::is_sqs_event(&event) => {
                // The alarm queue's batch: the answer is the partial batch response, which
                // names exactly the messages SQS must deliver again.
                let batch = handlers::term_rebuild_queue(ports, config, now, &event).await?;
                log_report(self.function, &batch.report);
                tracing::info!(redelivered = batch.failed.len(), "batch done");
                return Ok(blankslate_core::events::sqs::batch_response(&batch.failed));
            }
            Function::TermRebuild => handlers::term_rebuild(ports, config, now, &event).await?,
            Function::Reconcile => {
                if let Ok(trigger) = serde_json::from_value::<EventBridgeEvent>(event) {
                    tracing::debug!(id = ?trigger.id, time = ?trigger.time, "scheduled run");
                }
                handlers::reconcile_with_directory(ports, self.directory.as_ref(), config, now).await?
            }
            // `Shell::new` gives this function its own shell; never a fleet shell.
            Function::DirectoryCleanup => {
                return Err(FunctionError::Config("the directory clean-up function has no fleet shell".into()))
            }
        };
        log_report(self.function, &report);
        if let Some(line) = pacing_metrics(&self.name, config, &report, now) {
            // CloudWatch Logs reads this line as metrics (embedded metric format): the
            // dashboard's learned-rate graph, with no PutMetricData call or permission.
            println!("{line}");
        }
        Ok(summary(&report))
    }
}

/// The only clock read in blankslate's Lambda code.
fn wall_clock() -> Timestamp {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    Timestamp::from_millis(i64::try_from(millis).unwrap_or(i64::MAX))
}

fn log_report(function: Function, report: &Report) {
    tracing::info!(
        ?function,
        writes = report.writes,
        conflicts = report.conflicts,
        terminated = report.terminated.len(),
        created = report.created.len(),
        alarms_put = report.alarms_put,
        alarms_deleted = report.alarms_deleted,
        errors = report.errors.len(),
        "done"
    );
    for error in &report.errors {
        tracing::warn!(%error, "will be retried");
    }
}

/// The learned WorkSpaces API rate of a reconcile tick, as one line in CloudWatch's
/// embedded metric format (namespace `blankslate`, dimension `FunctionName`).
fn pacing_metrics(function: &str, config: &Config, report: &Report, now: Timestamp) -> Option<serde_json::Value> {
    let (budget, next) = report.api_budget?;
    let per_second = |calls: usize| calls as f64 / config.reconcile_period.as_secs_f64().max(1.0);
    Some(serde_json::json!({
        "_aws": {
            "Timestamp": now.as_millis(),
            "CloudWatchMetrics": [{
                "Namespace": "blankslate",
                "Dimensions": [["FunctionName"]],
                "Metrics": [
                    {"Name": "LearnedApiRate", "Unit": "Count/Second"},
                    {"Name": "ThrottledCalls", "Unit": "Count"}
                ]
            }]
        },
        "FunctionName": function,
        "LearnedApiRate": per_second(next),
        "ThrottledCalls": report.throttled,
        "ApiBudgetThisTick": budget,
    }))
}

fn summary(report: &Report) -> serde_json::Value {
    serde_json::json!({
        "writes": report.writes,
        "conflicts": report.conflicts,
        "terminated": report.terminated,
        "created": report.created.iter().map(|(desk, id)| serde_json::json!({"desk": desk.to_string(), "workspaceId": id})).collect::<Vec<_>>(),
        "alarmsPut": report.alarms_put,
        "alarmsDeleted": report.alarms_deleted,
        "notices": report.notices,
        "errors": report.errors,
        "nextWakeup": report.next_wakeup.map(Timestamp::to_rfc3339),
        "throttled": report.throttled,
        "directory": report.directory_done,
        "apiBudget": report.api_budget.map(|(this, next)| serde_json::json!({"thisTick": this, "nextTick": next})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_its_error_type_and_its_own_message() {
        use blankslate_handlers::ports::{ErrorKind, PortError};
        let bad = blankslate_core::events::parse_any(&serde_json::json!({"hello": 1})).unwrap_err();
        let journal = PortError::new(ErrorKind::Unavailable, "Query", "connection reset");
        let cases = [
            (FunctionError::from(HandlerError::Event(bad)), "BadEvent", "bad event: unrecognised event: neither"),
            (
                HandlerError::Journal(journal.clone()).into(),
                "Journal",
                "journal: Query failed (Unavailable): connection reset",
            ),
            (HandlerError::Workspaces(journal).into(), "Workspaces", "WorkSpaces: Query failed"),
            (FunctionError::Config("no fleet shell".into()), "Config", "no fleet shell"),
        ];
        for (error, error_type, message) in cases {
            let diagnostic = lambda_runtime::Diagnostic::from(error);
            assert_eq!(diagnostic.error_type, error_type);
            assert!(diagnostic.error_message.starts_with(message), "{}", diagnostic.error_message);
            // What the runtime posts to /invocation/{id}/error.
            let body = serde_json::to_value(&diagnostic).unwrap();
            assert_eq!(body["errorType"], error_type, "{body}");
        }
    }

    #[test]
    fn a_tick_logs_its_learned_rate_as_embedded_metrics() {
        let mut config = Config::new("tag:blankslate".parse().unwrap());
        config.reconcile_period = std::time::Duration::from_secs(60);
        let report = Report { throttled: 3, api_budget: Some((90, 63)), ..Report::default() };
        let line = pacing_metrics("bs-Workspace_Reconciler", &config, &report, Timestamp::from_millis(7)).unwrap();
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "blankslate");
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0], "FunctionName");
        assert_eq!(line["_aws"]["Timestamp"], 7);
        assert_eq!(line["FunctionName"], "bs-Workspace_Reconciler");
        assert_eq!((line["LearnedApiRate"].as_f64(), line["ThrottledCalls"].as_u64()), (Some(1.05), Some(3)));
        // An event function's report has no budget: nothing to log.
        assert!(pacing_metrics("f", &config, &Report::default(), Timestamp::from_millis(7)).is_none());
    }
}
