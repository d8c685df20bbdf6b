//! `blankslate doctor`: is the deployed stack able to do its job?
//!
//! Each check is a pure function from what was read ([`observe`] does the reading) to a
//! [`Check`]: PASS, WARN or FAIL, what was found, and for anything not passing the fix.
//! A check whose read failed (an API the endpoint lacks, a permission the caller lacks)
//! says "could not check: why" as a WARN, never a PASS.
//!
//! The checks:
//! - **CloudTrail**: a trail covering this Region (its own or multi-Region) is logging and
//!   records write management events from WorkSpaces. Without it EventBridge never sees
//!   CreateWorkspaces/TerminateWorkspaces, so alarms are armed and removed only by the
//!   reconciler's sweep.
//! - **Rules**: the stack's four EventBridge rules (two CloudTrail rules, the login rule,
//!   the reconcile schedule) exist, are ENABLED and target their function.
//! - **Alarms** (per-workspace mode): every WorkSpace the journal watches has its
//!   `Workspace_Disconnected_id_<id>` alarm, and no alarm of ours is orphaned (its
//!   WorkSpace gone, or no longer managed). These are the reconciler's own repair rules
//!   (`repair_alarms` in core), which its sweep applies; a finding that outlives a sweep
//!   means the sweep is failing.
//! - **Errors**: each function's `AWS/Lambda` `Errors` over the last hour, and the depth
//!   of the dead-letter queue where failed event deliveries land.
//! - **Permissions**: each function's role allows every action its code calls
//!   ([`needs`], the one list). The role's inline and attached policies are read
//!   (ListRolePolicies/GetRolePolicy, ListAttachedRolePolicies/GetPolicyVersion) and each
//!   needed action is evaluated against them ([`evaluate`]) with the request's resource
//!   and tag context. IAM's SimulatePrincipalPolicy would be the first choice, but local
//!   emulators (ministack 1.5) ignore its ContextEntries and all but the first resource,
//!   so every tag-fenced permission would read as denied there; reading the policies
//!   gives the same answer everywhere. What it does not see (permission boundaries, SCPs,
//!   session policies) is said in the check's text.
//! - **Directory** (when clean-up is configured): the clean-up function binds, its
//!   account may delete computer objects in the WorkSpaces OU, and how many orphaned
//!   objects are there ([`directory_checks`]).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use blankslate_core::config::{AlarmMode, Config};
use blankslate_core::ids::WorkspaceId;
use serde::Serialize;

use crate::stack::{outputs, DeployedStack};

mod directory;
mod permissions;

pub use directory::{directory_checks, DirectoryObservation};
pub use permissions::*;

/// A check's outcome.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// As it should be.
    Pass,
    /// Worth a look, or could not be checked; not a failure.
    Warn,
    /// Broken: blankslate cannot do (part of) its job.
    Fail,
}

impl Verdict {
    /// The word printed.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Check {
    /// What is checked, e.g. `rule Workspace_Create`.
    pub name: String,
    /// The outcome.
    pub verdict: Verdict,
    /// What was found.
    pub found: String,
    /// What to do, for a WARN or FAIL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: impl Into<String>, found: impl Into<String>) -> Self {
        Self { name: name.into(), verdict: Verdict::Pass, found: found.into(), fix: None }
    }
    fn warn(name: impl Into<String>, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { name: name.into(), verdict: Verdict::Warn, found: found.into(), fix: Some(fix.into()) }
    }
    fn fail(name: impl Into<String>, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { name: name.into(), verdict: Verdict::Fail, found: found.into(), fix: Some(fix.into()) }
    }
    /// A read that failed: never a pass.
    fn unknown(name: impl Into<String>, why: &str) -> Self {
        Self::warn(
            name,
            format!("could not check: {why}"),
            "run doctor with credentials that may read this (or against real AWS, if an emulator lacks the API)",
        )
    }
}

/// The whole report.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Report {
    /// The stack.
    pub stack: String,
    /// Its Region.
    pub region: String,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// True when any check failed (the exit code is then 1).
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.verdict == Verdict::Fail)
    }
}

// ===== CloudTrail =====

/// One trail as DescribeTrails, GetTrailStatus and GetEventSelectors show it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TrailObservation {
    /// Its name.
    pub name: String,
    /// Its home Region.
    pub home_region: String,
    /// Whether it records every Region.
    pub multi_region: bool,
    /// GetTrailStatus' IsLogging, or why it could not be read.
    pub logging: Result<bool, String>,
    /// GetEventSelectors, or why it could not be read.
    pub selectors: Result<TrailSelectors, String>,
}

/// A trail's event selectors.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TrailSelectors {
    /// Basic selectors: (IncludeManagementEvents, ReadWriteType, ExcludeManagementEventSources).
    Basic(Vec<(bool, String, Vec<String>)>),
    /// Advanced selectors: per selector, its field selectors.
    Advanced(Vec<Vec<FieldSelector>>),
}

/// One advanced field selector.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct FieldSelector {
    /// The field, e.g. `eventCategory`.
    pub field: String,
    /// Equals.
    pub equals: Vec<String>,
    /// NotEquals.
    pub not_equals: Vec<String>,
    /// StartsWith.
    pub starts_with: Vec<String>,
    /// NotStartsWith.
    pub not_starts_with: Vec<String>,
}

const WORKSPACES_SOURCE: &str = "workspaces.amazonaws.com";

/// Whether selectors record write management events from WorkSpaces.
pub fn records_workspaces_writes(selectors: &TrailSelectors) -> bool {
    match selectors {
        TrailSelectors::Basic(list) => list.iter().any(|(management, read_write, excluded)| {
            *management
                && (read_write.eq_ignore_ascii_case("All") || read_write.eq_ignore_ascii_case("WriteOnly"))
                && !excluded.iter().any(|s| s == WORKSPACES_SOURCE)
        }),
        TrailSelectors::Advanced(list) => list.iter().any(|fields| {
            // Every field selector of a selector must hold for an event to be recorded.
            fields.iter().all(|f| match f.field.as_str() {
                "eventCategory" => admits(f, "Management"),
                "readOnly" => admits(f, "false"),
                "eventSource" => admits(f, WORKSPACES_SOURCE),
                "eventName" => admits(f, "CreateWorkspaces") && admits(f, "TerminateWorkspaces"),
                // A field that cannot apply to management events.
                _ => true,
            }) && fields.iter().any(|f| f.field == "eventCategory" && f.equals.iter().any(|v| v == "Management"))
        }),
    }
}

fn admits(f: &FieldSelector, value: &str) -> bool {
    (f.equals.is_empty() || f.equals.iter().any(|v| v == value))
        && !f.not_equals.iter().any(|v| v == value)
        && (f.starts_with.is_empty() || f.starts_with.iter().any(|p| value.starts_with(p.as_str())))
        && !f.not_starts_with.iter().any(|p| value.starts_with(p.as_str()))
}

/// The CloudTrail check.
pub fn trail_check(stack: &str, region: &str, trails: &Result<Vec<TrailObservation>, String>) -> Check {
    const NAME: &str = "cloudtrail";
    let trails = match trails {
        Ok(t) => t,
        Err(why) => return Check::unknown(NAME, why),
    };
    let create =
        format!("blankslate deploy --stack-name {stack} --region {region} --create-trail true (or ask for the account's trail to cover {region})");
    let covering: Vec<&TrailObservation> =
        trails.iter().filter(|t| t.multi_region || t.home_region == region).collect();
    if covering.is_empty() {
        return Check::fail(
            NAME,
            format!(
                "no trail records {region}: the CreateWorkspaces/TerminateWorkspaces rules never fire, so new \
                 WorkSpaces wait for the reconciler's sweep and terminated ones keep their alarms until then"
            ),
            create,
        );
    }
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    let mut unknown = Vec::new();
    for t in &covering {
        let scope = if t.multi_region { "multi-Region" } else { "this Region" };
        match (&t.logging, &t.selectors) {
            (Ok(true), Ok(s)) if records_workspaces_writes(s) => {
                return Check::pass(
                    NAME,
                    format!(
                        "trail {} ({scope}) is logging and records write management events from WorkSpaces",
                        t.name
                    ),
                );
            }
            (Ok(false), _) => {
                problems.push(format!("trail {} is not logging", t.name));
                fixes.push(format!("aws cloudtrail start-logging --name {} --region {}", t.name, t.home_region));
            }
            (Ok(true), Ok(_)) => {
                problems.push(format!(
                    "trail {}'s event selectors leave out write management events from {WORKSPACES_SOURCE}",
                    t.name
                ));
                fixes.push(format!(
                    "aws cloudtrail put-event-selectors --trail-name {} --region {} --event-selectors \
                     '[{{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":true}}]'",
                    t.name, t.home_region
                ));
            }
            (Err(why), _) | (_, Err(why)) => unknown.push(format!("trail {}: {why}", t.name)),
        }
    }
    if problems.is_empty() {
        return Check::unknown(NAME, &unknown.join("; "));
    }
    let mut found = format!("{}: the CreateWorkspaces/TerminateWorkspaces rules do not fire", problems.join("; "));
    if !unknown.is_empty() {
        found.push_str(&format!("; could not check {}", unknown.join("; ")));
    }
    Check::fail(NAME, found, fixes.join("; or "))
}

// ===== EventBridge rules =====

/// One of the stack's rules, as DescribeRule and ListTargetsByRule show it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RuleObservation {
    /// What the rule is for, e.g. `Workspace_Create`.
    pub role: &'static str,
    /// The rule's name (`<stack>-<role>`, as the template names it).
    pub name: String,
    /// The function it must target.
    pub function: String,
    /// `Ok(None)`: no such rule. `Ok(Some((state, target ARNs)))`. `Err`: the read failed.
    pub found: Result<Option<(String, Vec<String>)>, String>,
}

/// The rules the template creates: (name suffix, the output naming the target function).
pub const RULES: &[(&str, &str)] = &[
    ("Workspace_Create", outputs::ALARM_CREATE_FUNCTION),
    ("Workspace_Term", outputs::ALARM_DELETE_FUNCTION),
    ("Workspace_Access", outputs::TERM_REBUILD_FUNCTION),
    ("Workspace_Reconcile", outputs::RECONCILER_FUNCTION),
];

/// The check of one rule.
pub fn rule_check(stack: &str, region: &str, rule: &RuleObservation) -> Check {
    let name = format!("rule {}", rule.role);
    let redeploy = format!("redeploy: blankslate deploy --stack-name {stack} --region {region} (keeps its settings)");
    match &rule.found {
        Err(why) => Check::unknown(name, why),
        Ok(None) => Check::fail(name, format!("rule {} does not exist", rule.name), redeploy),
        Ok(Some((state, targets))) => {
            let targeted = targets.iter().any(|arn| arn.rsplit(':').next() == Some(rule.function.as_str()));
            if state != "ENABLED" {
                Check::fail(
                    name,
                    format!("rule {} is {state}", rule.name),
                    format!("aws events enable-rule --name {} --region {region}", rule.name),
                )
            } else if !targeted {
                Check::fail(
                    name,
                    format!(
                        "rule {} is ENABLED but does not target {} (targets: {})",
                        rule.name,
                        rule.function,
                        if targets.is_empty() { "none".to_owned() } else { targets.join(", ") }
                    ),
                    redeploy,
                )
            } else {
                Check::pass(name, format!("{} is ENABLED, target {}", rule.name, rule.function))
            }
        }
    }
}

// ===== Alarms =====

/// What the alarm checks read.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct AlarmObservation {
    /// WorkSpaces the journal watches (Active or Disconnected desks): each needs its alarm.
    pub watched: BTreeSet<WorkspaceId>,
    /// WorkSpaces that exist (DescribeWorkspaces, the whole Region), not being terminated.
    pub existing: BTreeSet<WorkspaceId>,
    /// WorkSpaces with an alarm of this stack (`core::alarm::prefix`).
    pub alarms: BTreeSet<WorkspaceId>,
    /// Managed WorkSpaces another stack's alarm claims too (`Record::claimed_by`), by desk.
    pub claimed: Vec<(String, WorkspaceId, String)>,
}

fn list(ids: &[&WorkspaceId]) -> String {
    const SHOWN: usize = 10;
    let mut text = ids.iter().take(SHOWN).map(|i| i.as_str()).collect::<Vec<_>>().join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    text
}

/// The two alarm checks: none missing, none orphaned. In alarm-free mode any alarm of
/// ours is an orphan.
pub fn alarm_checks(
    config: &Config,
    region: &str,
    reconciler: &str,
    obs: &Result<AlarmObservation, String>,
) -> Vec<Check> {
    let prefix = blankslate_core::alarm::prefix(&config.alarm_owner());
    let obs = match obs {
        Ok(o) => o,
        Err(why) => return vec![Check::unknown("alarms", why)],
    };
    let sweep = config.sweep_period.as_secs() / 60;
    let per_workspace = config.alarm_mode == AlarmMode::PerWorkspace;
    let mut checks = Vec::new();
    if per_workspace {
        let missing: Vec<&WorkspaceId> =
            obs.watched.iter().filter(|id| obs.existing.contains(*id) && !obs.alarms.contains(*id)).collect();
        let name = "alarms: every managed WorkSpace has one";
        checks.push(if missing.is_empty() {
            Check::pass(name, format!("{} managed WorkSpace(s), each with its {prefix}<id> alarm", obs.watched.len()))
        } else {
            Check::fail(
                name,
                format!(
                    "{} managed WorkSpace(s) without a disconnect alarm, so their disconnects go unnoticed until a \
                     sweep: {}",
                    missing.len(),
                    list(&missing)
                ),
                format!(
                    "the reconciler's sweep (every {sweep} min) re-arms them; if this persists, check its errors \
                     (below) and run it now: aws lambda invoke --function-name {reconciler} --region {region} /dev/null"
                ),
            )
        });
    } else {
        checks.push(Check::pass("alarms: every managed WorkSpace has one", "alarm mode off: no alarms are needed"));
    }
    let name = "alarms: no WorkSpace claimed by another stack too";
    checks.push(if obs.claimed.is_empty() {
        Check::pass(name, "no other stack's alarm watches a WorkSpace this stack manages")
    } else {
        let shown: Vec<String> =
            obs.claimed.iter().take(10).map(|(desk, id, other)| format!("{desk} ({id}): stack {other}")).collect();
        Check::fail(
            name,
            format!(
                "{} WorkSpace(s) managed by another stack too, so neither rebuilds them: {}{}",
                obs.claimed.len(),
                shown.join(", "),
                if obs.claimed.len() > 10 { ", ..." } else { "" }
            ),
            "narrow one stack's selector so it leaves them out (`blankslate deploy --selector ...`); the next sweep \
             of each stack then sees one owner"
                .to_owned(),
        )
    });
    let wanted: BTreeSet<&WorkspaceId> = if per_workspace { obs.watched.iter().collect() } else { BTreeSet::new() };
    let orphans: Vec<&WorkspaceId> = obs.alarms.iter().filter(|id| !wanted.contains(id)).collect();
    let name = "alarms: none orphaned";
    if orphans.is_empty() {
        checks.push(Check::pass(name, format!("{} alarm(s), all for managed WorkSpaces", obs.alarms.len())));
    } else {
        let gone = orphans.iter().filter(|id| !obs.existing.contains(**id)).count();
        let names: Vec<String> = orphans.iter().map(|id| format!("{prefix}{id}")).collect();
        checks.push(Check::fail(
            name,
            format!(
                "{} alarm(s) for WorkSpaces that are gone ({gone}) or not managed ({}), each costing $0.10 a month: {}",
                orphans.len(),
                orphans.len() - gone,
                list(&orphans)
            ),
            format!(
                "the reconciler's sweep (every {sweep} min) deletes them; now: aws cloudwatch delete-alarms --region \
                 {region} --alarm-names {}",
                names.join(" ")
            ),
        ));
    }
    checks
}

// ===== Errors =====

/// One function's `Errors` sum over the window, or why it could not be read.
#[derive(Clone, PartialEq, Debug)]
pub struct ErrorsObservation {
    /// The seed's name of the function, e.g. `Workspace_Reconciler`.
    pub label: &'static str,
    /// The deployed function's name.
    pub function: String,
    /// The sum of `AWS/Lambda` `Errors` (no datapoints: 0).
    pub errors: Result<f64, String>,
}

/// The errors check of one function.
pub fn errors_check(region: &str, window: Duration, obs: &ErrorsObservation) -> Check {
    let name = format!("errors {}", obs.label);
    let minutes = window.as_secs() / 60;
    match &obs.errors {
        Err(why) => Check::unknown(name, why),
        Ok(n) if *n > 0.0 => Check::fail(
            name,
            format!("{} failed {n} time(s) in the last {minutes} min (AWS/Lambda Errors)", obs.function),
            format!("read its log: aws logs tail /aws/lambda/{} --since {minutes}m --region {region}", obs.function),
        ),
        Ok(_) => Check::pass(name, format!("{}: no errors in the last {minutes} min", obs.function)),
    }
}

/// The dead-letter queue check: events the event functions failed on land there.
pub fn dead_letter_check(region: &str, url: &str, depth: &Result<u64, String>) -> Check {
    const NAME: &str = "dead-letter queue";
    match depth {
        Err(why) => Check::unknown(NAME, why),
        Ok(0) => Check::pass(NAME, "empty"),
        Ok(n) => Check::fail(
            NAME,
            format!("{n} event(s) the event functions could not handle; the reconciler's sweep catches up on them"),
            format!(
                "read them to see why: aws sqs receive-message --queue-url {url} --region {region} \
                 --max-number-of-messages 10; then purge the queue"
            ),
        ),
    }
}

// ===== Reading =====

/// The window over which function errors are summed.
pub const ERRORS_WINDOW: Duration = Duration::from_secs(3600);

fn err_text<E>(
    operation: &str,
    e: aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{operation}: {code}: {message}"),
        (Some(code), None) => format!("{operation}: {code}"),
        _ => format!("{operation}: {}", aws_smithy_types::error::display::DisplayErrorContext(&e)),
    }
}

async fn read_trails(sdk: &aws_config::SdkConfig) -> Result<Vec<TrailObservation>, String> {
    let client = aws_sdk_cloudtrail::Client::new(sdk);
    let described = client
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|e| err_text("cloudtrail:DescribeTrails", e))?;
    let mut trails = Vec::new();
    for t in described.trail_list() {
        let Some(arn) = t.trail_arn().or(t.name()) else { continue };
        let logging = client
            .get_trail_status()
            .name(arn)
            .send()
            .await
            .map(|s| s.is_logging().unwrap_or(false))
            .map_err(|e| err_text("cloudtrail:GetTrailStatus", e));
        let selectors = client
            .get_event_selectors()
            .trail_name(arn)
            .send()
            .await
            .map(|s| {
                if s.advanced_event_selectors().is_empty() {
                    TrailSelectors::Basic(
                        s.event_selectors()
                            .iter()
                            .map(|e| {
                                (
                                    e.include_management_events().unwrap_or(true),
                                    e.read_write_type().map_or("All", |r| r.as_str()).to_owned(),
                                    e.exclude_management_event_sources().to_vec(),
                                )
                            })
                            .collect(),
                    )
                } else {
                    TrailSelectors::Advanced(
                        s.advanced_event_selectors()
                            .iter()
                            .map(|a| {
                                a.field_selectors()
                                    .iter()
                                    .map(|f| FieldSelector {
                                        field: f.field().to_owned(),
                                        equals: f.equals().to_vec(),
                                        not_equals: f.not_equals().to_vec(),
                                        starts_with: f.starts_with().to_vec(),
                                        not_starts_with: f.not_starts_with().to_vec(),
                                    })
                                    .collect()
                            })
                            .collect(),
                    )
                }
            })
            .map_err(|e| err_text("cloudtrail:GetEventSelectors", e));
        trails.push(TrailObservation {
            name: t.name().unwrap_or(arn).to_owned(),
            home_region: t.home_region().unwrap_or_default().to_owned(),
            multi_region: t.is_multi_region_trail().unwrap_or(false),
            logging,
            selectors,
        });
    }
    Ok(trails)
}

async fn read_rule(client: &aws_sdk_eventbridge::Client, name: &str) -> Result<Option<(String, Vec<String>)>, String> {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    let rule = match client.describe_rule().name(name).send().await {
        Ok(rule) => rule,
        Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(err_text("events:DescribeRule", e)),
    };
    let state = rule.state().map_or("ENABLED", |s| s.as_str()).to_owned();
    let targets =
        client.list_targets_by_rule().rule(name).send().await.map_err(|e| err_text("events:ListTargetsByRule", e))?;
    Ok(Some((state, targets.targets().iter().map(|t| t.arn().to_owned()).collect())))
}

async fn read_alarms(stack: &DeployedStack) -> Result<AlarmObservation, String> {
    use blankslate_handlers::ports::{Alarms, Journal, Workspaces};
    let records = stack.journal().list().await.map_err(|e| e.to_string())?;
    let watched = records
        .iter()
        .filter_map(|r| match &r.phase {
            blankslate_core::journal::Phase::Active { workspace_id }
            | blankslate_core::journal::Phase::Disconnected { workspace_id, .. } => Some(workspace_id.clone()),
            _ => None,
        })
        .collect();
    let existing = stack
        .workspaces()
        .describe_all()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|d| !d.state.is_going())
        .map(|d| d.id)
        .collect();
    let alarms = stack.alarms().list_disconnect_alarms().await.map_err(|e| e.to_string())?.into_iter().collect();
    let claimed = records
        .iter()
        .filter_map(|r| Some((r.desk.to_string(), r.workspace_id()?.clone(), r.claimed_by.as_ref()?.to_string())))
        .collect();
    Ok(AlarmObservation { watched, existing, alarms, claimed })
}

async fn read_errors(sdk: &aws_config::SdkConfig, function: &str, now: SystemTime) -> Result<f64, String> {
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let client = aws_sdk_cloudwatch::Client::new(sdk);
    let dimension = Dimension::builder().name("FunctionName").value(function).build();
    let out = client
        .get_metric_statistics()
        .namespace("AWS/Lambda")
        .metric_name("Errors")
        .dimensions(dimension)
        .start_time(aws_smithy_types::DateTime::from(now - ERRORS_WINDOW))
        .end_time(aws_smithy_types::DateTime::from(now))
        .period(ERRORS_WINDOW.as_secs() as i32)
        .statistics(Statistic::Sum)
        .send()
        .await
        .map_err(|e| err_text("cloudwatch:GetMetricStatistics", e))?;
    Ok(out.datapoints().iter().filter_map(|d| d.sum()).sum())
}

async fn read_queue_depth(sdk: &aws_config::SdkConfig, url: &str) -> Result<u64, String> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let client = aws_sdk_sqs::Client::new(sdk);
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(|e| err_text("sqs:GetQueueAttributes", e))?;
    let depth = out.attributes().and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages));
    depth
        .ok_or_else(|| "sqs:GetQueueAttributes returned no ApproximateNumberOfMessages".to_owned())?
        .parse()
        .map_err(|_| "sqs:GetQueueAttributes returned a non-numeric ApproximateNumberOfMessages".to_owned())
}

/// The function's role name and its ARN's partition and account.
/// A function's role name, partition and account, and its environment variables.
type FunctionConfiguration = (String, String, String, std::collections::HashMap<String, String>);

async fn read_function(lambda: &aws_sdk_lambda::Client, name: &str) -> Result<FunctionConfiguration, String> {
    let out = lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .map_err(|e| err_text("lambda:GetFunctionConfiguration", e))?;
    let role = out.role().ok_or("the function has no role")?;
    let role_name = role.rsplit('/').next().unwrap_or(role).to_owned();
    let arn = out.function_arn().unwrap_or_default();
    let parts: Vec<&str> = arn.split(':').collect();
    let (partition, account) = match parts.as_slice() {
        ["arn", partition, _, _, account, ..] => ((*partition).to_owned(), (*account).to_owned()),
        _ => return Err(format!("unexpected function ARN {arn:?}")),
    };
    let env = out.environment.and_then(|e| e.variables).unwrap_or_default();
    Ok((role_name, partition, account, env))
}

async fn read_policies(iam: &aws_sdk_iam::Client, role: &str) -> Result<Vec<(String, String)>, String> {
    let mut docs = Vec::new();
    let inline =
        iam.list_role_policies().role_name(role).send().await.map_err(|e| err_text("iam:ListRolePolicies", e))?;
    for name in inline.policy_names() {
        let p = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .map_err(|e| err_text("iam:GetRolePolicy", e))?;
        docs.push((name.clone(), decode_policy(p.policy_document())));
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(|e| err_text("iam:ListAttachedRolePolicies", e))?;
    for policy in attached.attached_policies() {
        let Some(arn) = policy.policy_arn() else { continue };
        let meta = iam.get_policy().policy_arn(arn).send().await.map_err(|e| err_text("iam:GetPolicy", e))?;
        let version = meta.policy().and_then(|p| p.default_version_id()).unwrap_or("v1");
        let v = iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| err_text("iam:GetPolicyVersion", e))?;
        let document = v.policy_version().and_then(|v| v.document()).unwrap_or_default();
        docs.push((arn.to_owned(), decode_policy(document)));
    }
    Ok(docs)
}

/// Reads everything and runs every check. `step` is told what is being read (for a
/// progress display); `now` ends the errors window.
pub async fn run(stack: &DeployedStack, now: SystemTime, mut step: impl FnMut(&str)) -> Report {
    let sdk = stack.sdk_config();
    let region = stack.region.as_str();
    let name = stack.name.as_str();
    let mut checks = Vec::new();

    step("CloudTrail trails");
    checks.push(trail_check(name, region, &read_trails(sdk).await));

    step("EventBridge rules");
    let events = aws_sdk_eventbridge::Client::new(sdk);
    for (suffix, output) in RULES {
        let rule_name = format!("{name}-{suffix}");
        let check = match stack.output(output) {
            Err(e) => Check::unknown(format!("rule {suffix}"), &e.to_string()),
            Ok(function) => rule_check(
                name,
                region,
                &RuleObservation {
                    role: suffix,
                    found: read_rule(&events, &rule_name).await,
                    name: rule_name,
                    function: function.to_owned(),
                },
            ),
        };
        checks.push(check);
    }

    step("journal, WorkSpaces and alarms");
    let reconciler = stack.output(outputs::RECONCILER_FUNCTION).unwrap_or("<reconciler>").to_owned();
    checks.extend(alarm_checks(&stack.config, region, &reconciler, &read_alarms(stack).await));

    let functions = Function::deployed(stack.config.directory.is_some());
    step("function errors");
    for function in functions.iter().copied() {
        let check = match stack.output(function.output()) {
            Err(e) => Check::unknown(format!("errors {}", function.label()), &e.to_string()),
            Ok(deployed) => errors_check(
                region,
                ERRORS_WINDOW,
                &ErrorsObservation {
                    label: function.label(),
                    function: deployed.to_owned(),
                    errors: read_errors(sdk, deployed, now).await,
                },
            ),
        };
        checks.push(check);
    }
    checks.push(match stack.output(outputs::DEAD_LETTER_QUEUE) {
        Err(e) => Check::unknown("dead-letter queue", &e.to_string()),
        Ok(url) => dead_letter_check(region, url, &read_queue_depth(sdk, url).await),
    });

    step("roles");
    let lambda = stack.lambda();
    let iam = aws_sdk_iam::Client::new(sdk);
    // The clean-up function's secret, from its own environment: what it really reads.
    let directory = match stack.output(outputs::DIRECTORY_CLEANUP_FUNCTION) {
        Ok(function) if stack.config.directory.is_some() => Some(DirectoryScope {
            function: function.to_owned(),
            secret_arn: read_function(&lambda, function)
                .await
                .ok()
                .and_then(|(_, _, _, env)| env.get("BLANKSLATE_DIRECTORY_SECRET_ARN").cloned())
                .unwrap_or_default(),
        }),
        _ => None,
    };
    for function in functions.iter().copied() {
        let label = format!("permissions {}", function.label());
        let deployed = match stack.output(function.output()) {
            Ok(d) => d,
            Err(e) => {
                checks.push(Check::unknown(label, &e.to_string()));
                continue;
            }
        };
        let (role, partition, account, _) = match read_function(&lambda, deployed).await {
            Ok(found) => found,
            Err(why) => {
                checks.push(Check::unknown(label, &why));
                continue;
            }
        };
        let scope = Scope {
            partition,
            region: region.to_owned(),
            account,
            table: stack.journal_table().to_owned(),
            notification_topic: stack.outputs.get(outputs::NOTIFICATION_TOPIC).cloned().unwrap_or_default(),
            selector: stack.config.selector.clone(),
            directory: directory.clone(),
            // The queue's URL ends in its name.
            alarm_queue: stack
                .outputs
                .get(outputs::DISCONNECT_QUEUE)
                .and_then(|url| url.rsplit('/').next())
                .map(str::to_owned),
            alarm_prefix: blankslate_core::alarm::prefix(&stack.config.alarm_owner()),
        };
        let policies = read_policies(&iam, &role).await;
        checks.push(role_check(&scope, name, &RoleObservation { function, role: Ok(role), policies }));
    }
    step("directory clean-up");
    checks.extend(read_directory(stack).await);
    Report { stack: name.to_owned(), region: region.to_owned(), checks }
}

/// Asks the clean-up function to check the directory, and reads the fleet.
async fn read_directory(stack: &DeployedStack) -> Vec<Check> {
    use blankslate_handlers::ports::Workspaces;
    let Some(settings) = stack.config.directory.as_ref() else {
        return directory_checks(&DirectoryObservation {
            settings: None,
            function: Err(String::new()),
            checked: Err(String::new()),
            fleet: Ok(Vec::new()),
        });
    };
    let function = stack.output(outputs::DIRECTORY_CLEANUP_FUNCTION).map(str::to_owned).map_err(|e| e.to_string());
    let checked = match &function {
        Ok(name) => {
            blankslate_aws::DirectoryFunction::new(stack.sdk_config(), name.clone()).check(&settings.prefix).await
        }
        Err(why) => Err(why.clone()),
    };
    let fleet = stack.workspaces().describe_all().await.map_err(|e| e.to_string());
    directory_checks(&DirectoryObservation { settings: Some(settings), function, checked, fleet })
}

#[cfg(test)]
mod tests {
    use super::permissions::*;
    use super::*;

    fn trail(name: &str, home: &str, multi: bool, logging: bool, selectors: TrailSelectors) -> TrailObservation {
        TrailObservation {
            name: name.into(),
            home_region: home.into(),
            multi_region: multi,
            logging: Ok(logging),
            selectors: Ok(selectors),
        }
    }

    fn basic(management: bool, rw: &str) -> TrailSelectors {
        TrailSelectors::Basic(vec![(management, rw.into(), vec![])])
    }

    fn field(name: &str, equals: &[&str]) -> FieldSelector {
        FieldSelector {
            field: name.into(),
            equals: equals.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn trail_verdicts() {
        let r = "eu-west-1";
        type Case = (Result<Vec<TrailObservation>, String>, Verdict, &'static str);
        let cases: Vec<Case> = vec![
            (Ok(vec![]), Verdict::Fail, "no trail records eu-west-1"),
            (Ok(vec![trail("other", "us-east-1", false, true, basic(true, "All"))]), Verdict::Fail, "no trail"),
            (Ok(vec![trail("org", "us-east-1", true, true, basic(true, "All"))]), Verdict::Pass, "multi-Region"),
            (Ok(vec![trail("t", r, false, true, basic(true, "WriteOnly"))]), Verdict::Pass, "is logging"),
            (Ok(vec![trail("t", r, false, true, basic(true, "ReadOnly"))]), Verdict::Fail, "put-event-selectors"),
            (Ok(vec![trail("t", r, false, true, basic(false, "All"))]), Verdict::Fail, "leave out"),
            (Ok(vec![trail("t", r, false, false, basic(true, "All"))]), Verdict::Fail, "start-logging --name t"),
            (
                Ok(vec![trail(
                    "a",
                    r,
                    false,
                    true,
                    TrailSelectors::Advanced(vec![vec![field("eventCategory", &["Management"])]]),
                )]),
                Verdict::Pass,
                "is logging",
            ),
            (
                Ok(vec![trail(
                    "a",
                    r,
                    false,
                    true,
                    TrailSelectors::Advanced(vec![vec![
                        field("eventCategory", &["Management"]),
                        field("eventSource", &["s3.amazonaws.com"]),
                    ]]),
                )]),
                Verdict::Fail,
                "leave out",
            ),
            (
                Ok(vec![trail(
                    "a",
                    r,
                    false,
                    true,
                    TrailSelectors::Advanced(vec![vec![
                        field("eventCategory", &["Management"]),
                        field("readOnly", &["true"]),
                    ]]),
                )]),
                Verdict::Fail,
                "leave out",
            ),
            // A broken trail and a good one: the good one passes.
            (
                Ok(vec![
                    trail("off", r, false, false, basic(true, "All")),
                    trail("on", r, true, true, basic(true, "All")),
                ]),
                Verdict::Pass,
                "trail on",
            ),
            (Err("cloudtrail:DescribeTrails: UnknownOperation".into()), Verdict::Warn, "could not check"),
        ];
        for (obs, verdict, text) in cases {
            let check = trail_check("bs", r, &obs);
            assert_eq!(check.verdict, verdict, "{obs:?}: {check:?}");
            let all = format!("{} {}", check.found, check.fix.clone().unwrap_or_default());
            assert!(all.contains(text), "{text:?} in {all}");
        }
    }

    #[test]
    fn rule_verdicts() {
        let rule = |found| RuleObservation {
            role: "Workspace_Reconcile",
            name: "bs-Workspace_Reconcile".into(),
            function: "bs-Workspace_Reconciler".into(),
            found,
        };
        let target = "arn:aws:lambda:eu-west-1:1:function:bs-Workspace_Reconciler".to_owned();
        let cases = [
            (rule(Ok(Some(("ENABLED".into(), vec![target.clone()])))), Verdict::Pass, "ENABLED, target"),
            (
                rule(Ok(Some(("DISABLED".into(), vec![target])))),
                Verdict::Fail,
                "aws events enable-rule --name bs-Workspace_Reconcile",
            ),
            (rule(Ok(Some(("ENABLED".into(), vec![])))), Verdict::Fail, "targets: none"),
            (rule(Ok(None)), Verdict::Fail, "does not exist"),
            (rule(Err("events:DescribeRule: AccessDenied".into())), Verdict::Warn, "could not check"),
        ];
        for (obs, verdict, text) in cases {
            let check = rule_check("bs", "eu-west-1", &obs);
            assert_eq!(check.verdict, verdict, "{check:?}");
            assert!(format!("{} {:?}", check.found, check.fix).contains(text), "{text:?}: {check:?}");
        }
    }

    fn ids(list: &[&str]) -> BTreeSet<WorkspaceId> {
        list.iter().map(|i| WorkspaceId::new(*i).unwrap()).collect()
    }

    #[test]
    fn alarm_verdicts() {
        let config = Config::new("tag:blankslate".parse().unwrap());
        let obs = |watched: &[&str], existing: &[&str], alarms: &[&str]| {
            Ok(AlarmObservation {
                watched: ids(watched),
                existing: ids(existing),
                alarms: ids(alarms),
                claimed: vec![],
            })
        };
        let verdicts = |config: &Config, o| {
            alarm_checks(config, "r", "bs-Workspace_Reconciler", &o).iter().map(|c| c.verdict).collect::<Vec<_>>()
        };
        let (a, b, c) = ("ws-aaaaaaaa1", "ws-aaaaaaaa2", "ws-aaaaaaaa3");
        let all_pass = [Verdict::Pass, Verdict::Pass, Verdict::Pass];
        assert_eq!(verdicts(&config, obs(&[a, b], &[a, b, c], &[a, b])), all_pass);
        // b has no alarm; c's alarm is an orphan (not managed); a gone WorkSpace needs none.
        let checks = alarm_checks(&config, "r", "fn", &obs(&[a, b], &[b, c], &[c]));
        assert_eq!(checks.iter().map(|c| c.verdict).collect::<Vec<_>>(), [Verdict::Fail, Verdict::Pass, Verdict::Fail]);
        assert!(checks[0].found.contains(b) && !checks[0].found.contains(a), "{:?}", checks[0]);
        assert!(checks[2].found.contains("not managed (1)"), "{:?}", checks[2]);
        let prefix = blankslate_core::alarm::prefix(&config.alarm_owner());
        assert!(checks[2].fix.as_ref().unwrap().contains(&format!("--alarm-names {prefix}{c}")));
        // Another stack claims a: shown with the desk and the stack, and what to do.
        let mut claimed = obs(&[a], &[a], &[a]).unwrap();
        claimed.claimed = vec![("d-1/alice".into(), WorkspaceId::new(a).unwrap(), "exam".into())];
        let checks = alarm_checks(&config, "r", "fn", &Ok(claimed));
        assert_eq!(checks[1].verdict, Verdict::Fail);
        assert!(checks[1].found.contains("d-1/alice (ws-aaaaaaaa1): stack exam"), "{:?}", checks[1]);
        assert!(checks[1].fix.as_ref().unwrap().contains("selector"), "{:?}", checks[1]);
        // Alarm-free mode: any alarm of ours is an orphan.
        let off = Config { alarm_mode: AlarmMode::Off, ..config.clone() };
        assert_eq!(verdicts(&off, obs(&[a], &[a], &[])), all_pass);
        assert_eq!(verdicts(&off, obs(&[a], &[a], &[a])), [Verdict::Pass, Verdict::Pass, Verdict::Fail]);
        assert_eq!(verdicts(&config, Err("Scan: AccessDenied".into())), [Verdict::Warn]);
    }

    #[test]
    fn error_and_dead_letter_verdicts() {
        let obs = |errors| ErrorsObservation { label: "Workspace_Reconciler", function: "bs-R".into(), errors };
        let w = ERRORS_WINDOW;
        assert_eq!(errors_check("r", w, &obs(Ok(0.0))).verdict, Verdict::Pass);
        let failing = errors_check("r", w, &obs(Ok(3.0)));
        assert_eq!(failing.verdict, Verdict::Fail);
        assert!(
            failing.found.contains("bs-R failed 3") && failing.fix.unwrap().contains("aws logs tail /aws/lambda/bs-R")
        );
        assert_eq!(errors_check("r", w, &obs(Err("no metrics".into()))).verdict, Verdict::Warn);
        assert_eq!(dead_letter_check("r", "u", &Ok(0)).verdict, Verdict::Pass);
        assert_eq!(dead_letter_check("r", "u", &Ok(2)).verdict, Verdict::Fail);
        assert_eq!(dead_letter_check("r", "u", &Err("x".into())).verdict, Verdict::Warn);
    }

    fn scope(selector: &str) -> Scope {
        Scope {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            table: "bs-Workspace_Journal".into(),
            notification_topic: "arn:aws:sns:eu-west-1:123456789012:bs-notify".into(),
            directory: None,
            selector: selector.parse().unwrap(),
            alarm_queue: None,
            alarm_prefix: "Workspace_Disconnected_bs_id_".into(),
        }
    }

    #[test]
    fn policies_are_evaluated_with_resources_and_tag_context() {
        let tag_fenced = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"workspaces:TerminateWorkspaces","Resource":"arn:aws:workspaces:eu-west-1:123456789012:workspace/*",
             "Condition":{"StringLike":{"aws:ResourceTag/blankslate":"*"}}}]}"#;
        let s = scope("tag:blankslate");
        let terminate = s.request(&need("workspaces:TerminateWorkspaces", On::ManagedWorkspace, ""));
        assert_eq!(evaluate(&[tag_fenced.into()], &terminate).0, Decision::Allowed);
        // Another tag key does not fence this deployment's WorkSpaces.
        let other = scope("tag:lab=on").request(&need("workspaces:TerminateWorkspaces", On::ManagedWorkspace, ""));
        assert!(matches!(evaluate(&[tag_fenced.into()], &other).0, Decision::NotAllowed(_)));
        // An explicit Deny wins; wildcards in actions; NotAction.
        let deny = r#"{"Statement":{"Effect":"Deny","Action":"workspaces:Terminate*","Resource":"*"}}"#;
        assert!(matches!(evaluate(&[tag_fenced.into(), deny.into()], &terminate).0, Decision::Denied(_)));
        let table = s.request(&need("dynamodb:GetItem", On::Journal, ""));
        let journal = r#"{"Statement":[{"Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:Get*"],
            "Resource":"arn:aws:dynamodb:eu-west-1:123456789012:table/bs-Workspace_Journal"}]}"#;
        assert_eq!(evaluate(&[journal.into()], &table).0, Decision::Allowed);
        let index = s.request(&need("dynamodb:Query", On::JournalIndex, ""));
        assert!(matches!(evaluate(&[journal.into()], &index).0, Decision::NotAllowed(_)));
        // Keys doctor does not model are assumed, and said so.
        let kms = r#"{"Statement":[{"Effect":"Allow","Action":"sns:Publish","Resource":"*",
            "Condition":{"StringEquals":{"kms:ViaService":"sns.eu-west-1.amazonaws.com"}}}]}"#;
        let (decision, assumed) = evaluate(&[kms.into()], &s.request(&need("sns:Publish", On::NotificationTopic, "")));
        assert_eq!(decision, Decision::Allowed);
        assert!(assumed.iter().any(|a| a.contains("kms:ViaService")), "{assumed:?}");
    }

    #[test]
    fn a_role_missing_an_action_fails_naming_it_and_the_call() {
        let s = scope("tag:blankslate");
        let policy = r#"{"Statement":[
            {"Effect":"Allow","Action":"dynamodb:Query","Resource":"arn:aws:dynamodb:eu-west-1:123456789012:table/bs-Workspace_Journal/index/by-workspace"},
            {"Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:UpdateItem"],"Resource":"arn:aws:dynamodb:eu-west-1:123456789012:table/bs-Workspace_Journal"}]}"#;
        let obs = |policies: Vec<(String, String)>| RoleObservation {
            function: Function::TermRebuild,
            role: Ok("bs-TermRebuildRole".into()),
            policies: Ok(policies),
        };
        let check = role_check(&s, "bs", &obs(vec![("term-rebuild".into(), policy.into())]));
        assert_eq!(check.verdict, Verdict::Fail);
        assert!(check.found.contains("dynamodb:GetItem") && check.found.contains("find_by_workspace"), "{check:?}");
        let fixed = policy.replace("\"dynamodb:UpdateItem\"", "\"dynamodb:GetItem\"");
        assert_eq!(role_check(&s, "bs", &obs(vec![("term-rebuild".into(), fixed)])).verdict, Verdict::Pass);
        let unread = RoleObservation { policies: Err("iam:ListRolePolicies: AccessDenied".into()), ..obs(vec![]) };
        assert_eq!(role_check(&s, "bs", &unread).verdict, Verdict::Warn);

        // With the alarm queue, the role must also let the event source mapping drain it,
        // and only that queue.
        let queued = Scope { alarm_queue: Some("bs-Workspace_Disconnected_Queue".into()), ..s.clone() };
        let fixed = policy.replace("\"dynamodb:UpdateItem\"", "\"dynamodb:GetItem\"");
        let check = role_check(&queued, "bs", &obs(vec![("term-rebuild".into(), fixed.clone())]));
        assert_eq!(check.verdict, Verdict::Fail, "{check:?}");
        assert!(
            check
                .found
                .contains("sqs:ReceiveMessage on arn:aws:sqs:eu-west-1:123456789012:bs-Workspace_Disconnected_Queue"),
            "{check:?}"
        );
        let drain = |queue: &str| {
            format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:GetQueueAttributes"],"Resource":"arn:aws:sqs:eu-west-1:123456789012:{queue}"}}]}}"#
            )
        };
        let with = |queue: &str| obs(vec![("term-rebuild".into(), fixed.clone()), ("queue".into(), drain(queue))]);
        assert_eq!(role_check(&queued, "bs", &with("other-queue")).verdict, Verdict::Fail);
        assert_eq!(role_check(&queued, "bs", &with("bs-Workspace_Disconnected_Queue")).verdict, Verdict::Pass);
    }

    #[test]
    fn with_directory_clean_up_the_reconciler_must_invoke_it_and_it_may_read_only_its_secret() {
        let secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:blankslate-ldap-AbCdEf";
        let s = Scope {
            directory: Some(DirectoryScope {
                function: "bs-Workspace_Directory_Cleanup".into(),
                secret_arn: secret.into(),
            }),
            ..scope("tag:blankslate")
        };
        let cleanup = |policy: &str| RoleObservation {
            function: Function::DirectoryCleanup,
            role: Ok("bs-DirectoryCleanupRole".into()),
            policies: Ok(vec![("cleanup".into(), policy.into())]),
        };
        let other = r#"{"Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-*"}]}"#;
        let check = role_check(&s, "bs", &cleanup(other));
        assert_eq!(check.verdict, Verdict::Fail, "{check:?}");
        assert!(check.found.contains("secretsmanager:GetSecretValue on arn:aws:secretsmanager"), "{check:?}");
        let right = other.replace("secret:other-*", "secret:blankslate-ldap-AbCdEf");
        assert_eq!(role_check(&s, "bs", &cleanup(&right)).verdict, Verdict::Pass);

        let actions =
            |scope: &Scope| needs_in(Function::Reconciler, scope).iter().map(|n| n.action).collect::<Vec<_>>();
        assert!(actions(&s).contains(&"lambda:InvokeFunction"));
        assert!(!actions(&scope("tag:blankslate")).contains(&"lambda:InvokeFunction"));
        let invoke = s.request(
            &needs_in(Function::Reconciler, &s).into_iter().find(|n| n.action == "lambda:InvokeFunction").unwrap(),
        );
        assert_eq!(invoke.resources, ["arn:aws:lambda:eu-west-1:123456789012:function:bs-Workspace_Directory_Cleanup"]);
    }

    #[test]
    fn url_encoded_policies_are_decoded_and_globs_match_like_iam() {
        assert_eq!(decode_policy("%7B%22a%22%3A1%7D"), r#"{"a":1}"#);
        assert_eq!(decode_policy(r#"{"a":"%"}"#), r#"{"a":"%"}"#);
        assert!(glob("workspaces:Describe*", "workspaces:DescribeTags", false));
        assert!(glob(
            "arn:*:alarm:Workspace_Disconnected_id_*",
            "arn:aws:cloudwatch:r:1:alarm:Workspace_Disconnected_id_ws-1",
            false
        ));
        assert!(!glob("arn:*:table/a", "arn:aws:dynamodb:r:1:table/a/index/x", false));
        assert!(glob("DYNAMODB:getitem", "dynamodb:GetItem", true));
    }
}
