//! CloudFormation's states and events, turned into decisions and lines for a person.
//!
//! All pure: the shell feeds in what DescribeStacks, DescribeChangeSet and
//! DescribeStackEvents returned.

use std::fmt::Write as _;
use std::time::Duration;

/// Whether the change set creates the stack or updates it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChangeSetKind {
    /// ChangeSetType CREATE.
    Create,
    /// ChangeSetType UPDATE.
    Update,
}

/// The change-set type for a stack with this status (`None`: no such stack), or what to
/// do first when no change set can start from it.
pub fn change_set_kind(status: Option<&str>) -> Result<ChangeSetKind, String> {
    match status {
        // REVIEW_IN_PROGRESS: an earlier CREATE change set was never executed; the stack
        // holds no resources and takes another CREATE change set.
        None | Some("REVIEW_IN_PROGRESS") | Some("DELETE_COMPLETE") => Ok(ChangeSetKind::Create),
        Some("ROLLBACK_COMPLETE") | Some("ROLLBACK_FAILED") => {
            Err("its first creation failed and was rolled back, and such a stack cannot be updated: run `blankslate \
             destroy` with the same --stack-name, then deploy again"
                .to_owned())
        }
        Some("DELETE_FAILED") => Err("an earlier delete failed: run `blankslate destroy` again".to_owned()),
        Some("UPDATE_ROLLBACK_FAILED") => Err("a rollback failed: continue it with `aws cloudformation \
             continue-update-rollback`, then deploy again"
            .to_owned()),
        Some(s) if s.ends_with("_IN_PROGRESS") => {
            Err("another operation is running: wait for it to end, then deploy again".to_owned())
        }
        Some(_) => Ok(ChangeSetKind::Update),
    }
}

/// The stack operation being followed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Operation {
    /// Executing a CREATE change set.
    Create,
    /// Executing an UPDATE change set.
    Update,
    /// DeleteStack.
    Delete,
}

impl From<ChangeSetKind> for Operation {
    fn from(kind: ChangeSetKind) -> Self {
        match kind {
            ChangeSetKind::Create => Self::Create,
            ChangeSetKind::Update => Self::Update,
        }
    }
}

/// Where an operation stands, given the stack's status.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// Not finished.
    InProgress,
    /// Finished as asked.
    Succeeded,
    /// Finished otherwise (failed, or rolled back).
    Failed,
}

/// The terminal-status rules: which statuses end `op`, and how.
pub fn outcome(op: Operation, status: &str) -> Outcome {
    if status.ends_with("_IN_PROGRESS") {
        return Outcome::InProgress;
    }
    match (op, status) {
        (Operation::Create, "CREATE_COMPLETE") | (Operation::Update, "UPDATE_COMPLETE") => Outcome::Succeeded,
        (Operation::Delete, "DELETE_COMPLETE") => Outcome::Succeeded,
        (Operation::Delete, "DELETE_FAILED") => Outcome::Failed,
        // Until DeleteStack shows, the stack keeps its old, complete status.
        (Operation::Delete, _) => Outcome::InProgress,
        (_, s) if s.ends_with("_FAILED") || s.contains("ROLLBACK") => Outcome::Failed,
        // REVIEW_IN_PROGRESS was caught above; the old status of an update (e.g.
        // CREATE_COMPLETE) before ExecuteChangeSet shows.
        _ => Outcome::InProgress,
    }
}

/// One stack event, as much of it as we print.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Event {
    /// EventId, to print each event once.
    pub id: String,
    /// When, "HH:MM:SS" in UTC (already formatted by the shell).
    pub time: String,
    /// LogicalResourceId (the stack's name for the stack itself).
    pub logical_id: String,
    /// ResourceType.
    pub resource_type: String,
    /// ResourceStatus.
    pub status: String,
    /// ResourceStatusReason, if any.
    pub reason: Option<String>,
}

impl Event {
    /// True for the stack's own events (as opposed to its resources').
    pub fn is_stack(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }
}

/// A progress line: time, status, type, logical ID, reason.
pub fn progress_line(event: &Event) -> String {
    let mut line = format!("  {}  {:<20}  {:<36}  {}", event.time, event.status, event.resource_type, event.logical_id);
    if let Some(reason) = event.reason.as_deref().filter(|r| !r.is_empty()) {
        let _ = write!(line, "  {reason}");
    }
    line
}

/// The first failed event (events oldest first), "LogicalId (Type): reason": usually the
/// cause, since what fails after it mostly says "Resource creation cancelled".
pub fn first_failure<'a>(events: impl IntoIterator<Item = &'a Event>) -> Option<String> {
    events.into_iter().find(|e| e.status.ends_with("_FAILED") && !e.is_stack()).map(|e| {
        format!("{} ({}): {}", e.logical_id, e.resource_type, e.reason.as_deref().unwrap_or("no reason given"))
    })
}

/// True when a FAILED change set only means there is nothing to change.
pub fn is_empty_change_set(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

/// One row of the change table.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Change {
    /// Add, Modify, Remove, Import, Dynamic.
    pub action: String,
    /// LogicalResourceId.
    pub logical_id: String,
    /// ResourceType.
    pub resource_type: String,
    /// For Modify: True, False or Conditional (replacement may lose data).
    pub replacement: Option<String>,
}

/// The changes as an aligned table, one per line, with a header.
pub fn change_table(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "  (no resource changes)\n".to_owned();
    }
    let header = Change {
        action: "ACTION".into(),
        logical_id: "RESOURCE".into(),
        resource_type: "TYPE".into(),
        replacement: Some("REPLACEMENT".into()),
    };
    let rows: Vec<&Change> = std::iter::once(&header).chain(changes).collect();
    let width = |f: fn(&Change) -> usize| rows.iter().map(|c| f(c)).max().unwrap_or(0);
    let (wa, wl, wt) = (width(|c| c.action.len()), width(|c| c.logical_id.len()), width(|c| c.resource_type.len()));
    let mut out = String::new();
    for c in rows {
        let line = format!(
            "  {:<wa$}  {:<wl$}  {:<wt$}  {}",
            c.action,
            c.logical_id,
            c.resource_type,
            c.replacement.as_deref().unwrap_or("")
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// The resources an `IAM` capability covers; a template with any of these needs
/// CAPABILITY_IAM, and with a custom name for one (`RoleName`, ...) CAPABILITY_NAMED_IAM.
const IAM_TYPES: [&str; 6] = [
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::User",
    "AWS::IAM::Group",
    "AWS::IAM::InstanceProfile",
];
const IAM_NAMES: [&str; 6] =
    ["RoleName:", "ManagedPolicyName:", "UserName:", "GroupName:", "InstanceProfileName:", "\"RoleName\""];

/// The capabilities the template needs acknowledged, read from its text.
pub fn capabilities(template: &str) -> Vec<&'static str> {
    let mut needed = Vec::new();
    if IAM_TYPES.iter().any(|t| template.contains(t)) {
        needed.push("CAPABILITY_IAM");
        if IAM_NAMES.iter().any(|n| template.contains(n)) {
            needed.push("CAPABILITY_NAMED_IAM");
        }
    }
    if template.contains("Transform:") || template.contains("\"Transform\"") {
        needed.push("CAPABILITY_AUTO_EXPAND");
    }
    needed
}

/// The default artifacts bucket: one per account and Region, so its name is predictable
/// and the bucket is in the stack's Region (Lambda reads code only from there).
pub fn bucket_name(account: &str, region: &str) -> String {
    format!("blankslate-artifacts-{account}-{region}")
}

/// The TemplateURL of an uploaded template. CloudFormation wants an S3 HTTPS URL; with a
/// custom endpoint (an emulator, `AWS_ENDPOINT_URL`) the path-style URL on it.
pub fn template_url(endpoint: Option<&str>, bucket: &str, region: &str, key: &str) -> String {
    match endpoint {
        Some(endpoint) => format!("{}/{bucket}/{key}", endpoint.trim_end_matches('/')),
        None => format!("https://{bucket}.s3.{region}.amazonaws.com/{key}"),
    }
}

/// How long to wait before the next poll: quick at first (emulators and small updates
/// finish in seconds), then every 5 s, which keeps DescribeStackEvents well under its
/// throttling limits on a 10-minute create.
pub fn poll_delay(poll: u32) -> Duration {
    Duration::from_millis(match poll {
        0..=4 => 500,
        5..=14 => 2_000,
        _ => 5_000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_set_type_follows_the_stack_status() {
        use ChangeSetKind::*;
        let cases: [(Option<&str>, Result<ChangeSetKind, &str>); 9] = [
            (None, Ok(Create)),
            (Some("REVIEW_IN_PROGRESS"), Ok(Create)),
            (Some("CREATE_COMPLETE"), Ok(Update)),
            (Some("UPDATE_COMPLETE"), Ok(Update)),
            (Some("UPDATE_ROLLBACK_COMPLETE"), Ok(Update)),
            (Some("ROLLBACK_COMPLETE"), Err("blankslate destroy")),
            (Some("DELETE_FAILED"), Err("destroy")),
            (Some("UPDATE_IN_PROGRESS"), Err("wait")),
            (Some("UPDATE_ROLLBACK_FAILED"), Err("continue-update-rollback")),
        ];
        for (status, expected) in cases {
            match (change_set_kind(status), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{status:?}"),
                (Err(advice), Err(hint)) => assert!(advice.contains(hint), "{status:?}: {advice}"),
                (got, want) => panic!("{status:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn terminal_statuses_end_each_operation_as_they_should() {
        use Operation::*;
        use Outcome::*;
        let cases = [
            (Create, "CREATE_IN_PROGRESS", InProgress),
            (Create, "CREATE_COMPLETE", Succeeded),
            (Create, "ROLLBACK_IN_PROGRESS", InProgress),
            (Create, "ROLLBACK_COMPLETE", Failed),
            (Create, "CREATE_FAILED", Failed),
            (Create, "REVIEW_IN_PROGRESS", InProgress),
            (Update, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", InProgress),
            (Update, "UPDATE_COMPLETE", Succeeded),
            (Update, "UPDATE_ROLLBACK_COMPLETE", Failed),
            (Update, "UPDATE_FAILED", Failed),
            (Update, "CREATE_COMPLETE", InProgress),
            (Delete, "DELETE_IN_PROGRESS", InProgress),
            (Delete, "DELETE_COMPLETE", Succeeded),
            (Delete, "DELETE_FAILED", Failed),
            (Delete, "UPDATE_COMPLETE", InProgress),
        ];
        for (op, status, expected) in cases {
            assert_eq!(outcome(op, status), expected, "{op:?} {status}");
        }
    }

    fn event(logical: &str, kind: &str, status: &str, reason: Option<&str>) -> Event {
        Event {
            id: format!("{logical}-{status}"),
            time: "17:03:23".into(),
            logical_id: logical.into(),
            resource_type: kind.into(),
            status: status.into(),
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn events_become_lines_and_the_first_failure_is_the_cause() {
        let events = [
            event("bs", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", Some("User Initiated")),
            event("JournalTable", "AWS::DynamoDB::Table", "CREATE_FAILED", Some("Limit exceeded")),
            event("DisconnectTopic", "AWS::SNS::Topic", "CREATE_FAILED", Some("Resource creation cancelled")),
            event("bs", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", None),
        ];
        assert_eq!(first_failure(&events).as_deref(), Some("JournalTable (AWS::DynamoDB::Table): Limit exceeded"));
        assert_eq!(first_failure(&events[..1]), None);
        let line = progress_line(&events[1]);
        for part in ["17:03:23", "CREATE_FAILED", "AWS::DynamoDB::Table", "JournalTable", "Limit exceeded"] {
            assert!(line.contains(part), "{line}");
        }
        assert!(!progress_line(&events[3]).ends_with(' '));
    }

    #[test]
    fn the_change_table_aligns_its_columns() {
        let changes = [
            Change {
                action: "Add".into(),
                logical_id: "JournalTable".into(),
                resource_type: "AWS::DynamoDB::Table".into(),
                replacement: None,
            },
            Change {
                action: "Modify".into(),
                logical_id: "ReconcilerFunction".into(),
                resource_type: "AWS::Lambda::Function".into(),
                replacement: Some("False".into()),
            },
        ];
        let table = change_table(&changes);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[0].contains("ACTION") && lines[0].contains("REPLACEMENT"));
        let column = |l: &str| l.find("AWS::");
        assert_eq!(column(lines[1]), column(lines[2]), "{table}");
        assert!(lines[2].ends_with("False"));
        assert!(change_table(&[]).contains("no resource changes"));
    }

    #[test]
    fn empty_change_sets_are_recognised_in_both_wordings() {
        assert!(is_empty_change_set(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(is_empty_change_set("No updates are to be performed."));
        assert!(!is_empty_change_set("Parameter validation failed"));
    }

    #[test]
    fn capabilities_are_read_from_the_template() {
        assert_eq!(capabilities("Type: AWS::SNS::Topic"), Vec::<&str>::new());
        assert_eq!(capabilities("Type: AWS::IAM::Role"), ["CAPABILITY_IAM"]);
        assert_eq!(capabilities("Type: AWS::IAM::Role\n  RoleName: x"), ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]);
        let ours = include_str!("../../../deploy/blankslate.yaml");
        assert!(capabilities(ours).contains(&"CAPABILITY_IAM"), "the template creates roles");
    }

    #[test]
    fn bucket_and_template_url_fit_s3_and_emulators() {
        let bucket = bucket_name("123456789012", "ap-southeast-2");
        assert_eq!(bucket, "blankslate-artifacts-123456789012-ap-southeast-2");
        assert!(bucket.len() <= 63);
        assert_eq!(
            template_url(None, &bucket, "ap-southeast-2", "k/t.yaml"),
            "https://blankslate-artifacts-123456789012-ap-southeast-2.s3.ap-southeast-2.amazonaws.com/k/t.yaml"
        );
        assert_eq!(template_url(Some("http://127.0.0.1:4566/"), "b", "us-east-1", "k"), "http://127.0.0.1:4566/b/k");
        assert!(poll_delay(0) < poll_delay(100));
    }
}
