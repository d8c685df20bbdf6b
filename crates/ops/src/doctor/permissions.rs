//! The permissions check: each function's role allows every action its code calls.
//!
//! [`needs`] is the one list of actions per function; [`Scope::request`] turns a need
//! into the request IAM would see in this deployment (resource ARNs, tag context);
//! [`evaluate`] reads the role's policy documents for it, as IAM's evaluation logic
//! does for identity policies (an explicit Deny wins; otherwise some Allow must match
//! every resource).

use std::collections::{BTreeMap, BTreeSet};

use blankslate_core::selector::Selector;
use serde_json::Value;

use super::Check;
use crate::stack::outputs;

/// The stack's four functions.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum Function {
    /// Workspace_Alarm_Create.
    AlarmCreate,
    /// Workspace_Alarm_Del.
    AlarmDelete,
    /// Workspace_Term_Rebuild.
    TermRebuild,
    /// Workspace_Reconciler.
    Reconciler,
    /// Workspace_Directory_Cleanup (only when directory clean-up is configured).
    DirectoryCleanup,
}

impl Function {
    /// The four every stack has.
    pub const ALL: [Function; 4] = [Self::AlarmCreate, Self::AlarmDelete, Self::TermRebuild, Self::Reconciler];

    /// The stack's functions: the four, and the clean-up function when `directory` is on.
    pub fn deployed(directory: bool) -> Vec<Function> {
        Self::ALL.into_iter().chain(directory.then_some(Self::DirectoryCleanup)).collect()
    }

    /// The seed's name.
    pub fn label(self) -> &'static str {
        match self {
            Self::AlarmCreate => "Workspace_Alarm_Create",
            Self::AlarmDelete => "Workspace_Alarm_Del",
            Self::TermRebuild => "Workspace_Term_Rebuild",
            Self::Reconciler => "Workspace_Reconciler",
            Self::DirectoryCleanup => "Workspace_Directory_Cleanup",
        }
    }

    /// The stack output naming the deployed function.
    pub fn output(self) -> &'static str {
        match self {
            Self::AlarmCreate => outputs::ALARM_CREATE_FUNCTION,
            Self::AlarmDelete => outputs::ALARM_DELETE_FUNCTION,
            Self::TermRebuild => outputs::TERM_REBUILD_FUNCTION,
            Self::Reconciler => outputs::RECONCILER_FUNCTION,
            Self::DirectoryCleanup => outputs::DIRECTORY_CLEANUP_FUNCTION,
        }
    }
}

/// What a needed action is performed on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum On {
    /// No resource type: IAM accepts only `*`.
    Any,
    /// The journal table.
    Journal,
    /// The journal's `by-workspace` index.
    JournalIndex,
    /// A `Workspace_Disconnected_id_*` alarm.
    DisconnectAlarm,
    /// The admin-notification topic.
    NotificationTopic,
    /// A managed WorkSpace (carrying the opt-in tag, under a tag selector).
    ManagedWorkspace,
    /// CreateWorkspaces' resources: the directory, the bundle and the new WorkSpace, with
    /// the opt-in tag in the request (under a tag selector).
    NewWorkspace,
    /// Tagging a new WorkSpace in its CreateWorkspaces request (the opt-in tag included).
    NewTags,
    /// The directory clean-up function.
    DirectoryFunction,
    /// The bind account's secret.
    DirectorySecret,
    /// The alarm queue Term_Rebuild drains.
    AlarmQueue,
}

/// One action a function's code performs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Need {
    /// The IAM action.
    pub action: &'static str,
    /// On what.
    pub on: On,
    /// Which call in the code needs it.
    pub why: &'static str,
}

pub(super) const fn need(action: &'static str, on: On, why: &'static str) -> Need {
    Need { action, on, why }
}

/// The actions each function's code calls: the one list.
///
/// Derived from the port calls in `crates/handlers/src/functions.rs` (and `execute.rs`,
/// which carries out their steps), mapped to IAM actions by the adapters in `crates/aws`:
/// `Journal::get` is GetItem, `list` is Scan, `find_by_workspace` is a Query on the
/// `by-workspace` index *and a consistent GetItem* of each hit, `write` is PutItem
/// (insert and update, conditional) or DeleteItem; `Alarms::put_disconnect_alarm` is
/// PutMetricAlarm, `delete_disconnect_alarms` DeleteAlarms, `list_disconnect_alarms`
/// DescribeAlarms; `Notifier::notify` is sns:Publish; `Workspaces::describe`,
/// `describe_all` and `describe_desk` are DescribeWorkspaces, `connection_status`
/// DescribeWorkspacesConnectionStatus, `tags` DescribeTags, `tags_in_bulk`
/// tag:GetResources (DescribeTags for what its answer leaves out), `terminate`
/// TerminateWorkspaces, `create` CreateWorkspaces (and CreateTags for its tags).
/// Logging and KMS use by the services on the functions' behalf are not code calls and
/// are not listed.
/// The clean-up function reads its secret (`CleanupShell`, `aws::secrets`); the
/// reconciler's `Directory` port is a synchronous Invoke of it (`aws::DirectoryFunction`).
pub fn needs(function: Function) -> &'static [Need] {
    use On::*;
    const JOURNAL_WRITES: [Need; 2] = [
        need("dynamodb:PutItem", Journal, "Journal::write (insert, update)"),
        need("dynamodb:DeleteItem", Journal, "Journal::write (release)"),
    ];
    const ALARM_CREATE: &[Need] = &[
        need("workspaces:DescribeWorkspaces", Any, "Workspaces::describe of the created IDs"),
        need("workspaces:DescribeTags", Any, "Workspaces::tags (tag selector)"),
        need("dynamodb:GetItem", Journal, "Journal::get of the desk"),
        JOURNAL_WRITES[0],
        JOURNAL_WRITES[1],
        need("cloudwatch:PutMetricAlarm", DisconnectAlarm, "Alarms::put_disconnect_alarm"),
        need("cloudwatch:DeleteAlarms", DisconnectAlarm, "Alarms::delete_disconnect_alarms (release)"),
    ];
    const ALARM_DELETE: &[Need] = &[
        need("dynamodb:Query", JournalIndex, "Journal::find_by_workspace"),
        need("dynamodb:GetItem", Journal, "Journal::find_by_workspace re-reads each index hit"),
        JOURNAL_WRITES[0],
        JOURNAL_WRITES[1],
        need("cloudwatch:DeleteAlarms", DisconnectAlarm, "Alarms::delete_disconnect_alarms"),
    ];
    const TERM_REBUILD: &[Need] = &[
        need("dynamodb:Query", JournalIndex, "Journal::find_by_workspace"),
        need("dynamodb:GetItem", Journal, "Journal::find_by_workspace re-reads each index hit"),
        JOURNAL_WRITES[0],
    ];
    const RECONCILER: &[Need] = &[
        need("dynamodb:Scan", Journal, "Journal::list"),
        JOURNAL_WRITES[0],
        JOURNAL_WRITES[1],
        need("workspaces:DescribeWorkspaces", Any, "Workspaces::describe, describe_all, describe_desk"),
        need("workspaces:DescribeWorkspacesConnectionStatus", Any, "Workspaces::connection_status"),
        need("workspaces:DescribeTags", Any, "Workspaces::tags"),
        need("tag:GetResources", Any, "Workspaces::tags_in_bulk"),
        need("workspaces:TerminateWorkspaces", ManagedWorkspace, "Workspaces::terminate"),
        need("workspaces:CreateWorkspaces", NewWorkspace, "Workspaces::create"),
        need("workspaces:CreateTags", NewTags, "Workspaces::create carries the old WorkSpace's tags"),
        need("cloudwatch:DescribeAlarms", Any, "Alarms::list_disconnect_alarms"),
        need("cloudwatch:PutMetricAlarm", DisconnectAlarm, "Alarms::put_disconnect_alarm"),
        need("cloudwatch:DeleteAlarms", DisconnectAlarm, "Alarms::delete_disconnect_alarms"),
        need("sns:Publish", NotificationTopic, "Notifier::notify"),
    ];
    const DIRECTORY_CLEANUP: &[Need] =
        &[need("secretsmanager:GetSecretValue", DirectorySecret, "the bind account (aws::secrets::bind_account)")];
    match function {
        Function::AlarmCreate => ALARM_CREATE,
        Function::AlarmDelete => ALARM_DELETE,
        Function::TermRebuild => TERM_REBUILD,
        Function::Reconciler => RECONCILER,
        Function::DirectoryCleanup => DIRECTORY_CLEANUP,
    }
}

/// [`needs`] in a deployment: with directory clean-up on, the reconciler also invokes
/// the clean-up function.
pub fn needs_in(function: Function, scope: &Scope) -> Vec<Need> {
    let mut list = needs(function).to_vec();
    if function == Function::TermRebuild && scope.alarm_queue.is_some() {
        // Lambda's poller acts as the function's role on the queue (the event source mapping).
        list.extend([
            need("sqs:ReceiveMessage", On::AlarmQueue, "the alarm queue's event source mapping"),
            need("sqs:DeleteMessage", On::AlarmQueue, "the event source mapping deletes what the batch did not fail"),
            need("sqs:GetQueueAttributes", On::AlarmQueue, "the event source mapping reads the queue's settings"),
        ]);
    }
    if function == Function::Reconciler && scope.directory.is_some() {
        list.push(need(
            "lambda:InvokeFunction",
            On::DirectoryFunction,
            "Directory::delete_computers (DirectoryFunction)",
        ));
    }
    list
}

/// The directory clean-up's resources in a deployment.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DirectoryScope {
    /// The clean-up function's name.
    pub function: String,
    /// The bind account's secret (from the function's environment), when read.
    pub secret_arn: String,
}

/// Where the stack's resources are, to turn [`On`] into ARNs and request context.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Scope {
    /// `aws`, `aws-cn`, ...
    pub partition: String,
    /// The Region.
    pub region: String,
    /// The account.
    pub account: String,
    /// The journal table's name.
    pub table: String,
    /// The admin-notification topic's ARN.
    pub notification_topic: String,
    /// The deployment's selector.
    pub selector: Selector,
    /// The directory clean-up, when configured.
    pub directory: Option<DirectoryScope>,
    /// The alarm queue's name (stacks deployed before the queue have none).
    pub alarm_queue: Option<String>,
    /// What this stack's per-WorkSpace alarms' names start with (`core::alarm::prefix`).
    pub alarm_prefix: String,
}

/// One request to evaluate: resources that must all be allowed, and the condition context.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Request {
    /// The action.
    pub action: String,
    /// Every resource the action is authorised on.
    pub resources: Vec<String>,
    /// Condition keys (lowercase) and their values.
    pub context: BTreeMap<String, String>,
}

/// A sample WorkSpace ID for resource ARNs (`workspace/*` and the alarm name pattern).
pub(super) const SAMPLE_WORKSPACE: &str = "ws-0000000000";

impl Scope {
    /// The request `need` makes in this deployment.
    pub fn request(&self, need: &Need) -> Request {
        let Scope { partition: p, region: r, account: a, .. } = self;
        let mut context = BTreeMap::from([("aws:requestedregion".to_owned(), r.clone())]);
        let tag = match &self.selector {
            Selector::Tag { key, value } => {
                Some((key.to_string().to_ascii_lowercase(), value.as_ref().map_or("on".to_owned(), |v| v.to_string())))
            }
            _ => None,
        };
        let workspace = format!("arn:{p}:workspaces:{r}:{a}:workspace/{SAMPLE_WORKSPACE}");
        let resources = match need.on {
            On::Any => vec!["*".to_owned()],
            On::Journal => vec![format!("arn:{p}:dynamodb:{r}:{a}:table/{}", self.table)],
            On::JournalIndex => vec![format!("arn:{p}:dynamodb:{r}:{a}:table/{}/index/by-workspace", self.table)],
            On::DisconnectAlarm => {
                vec![format!("arn:{p}:cloudwatch:{r}:{a}:alarm:{}{SAMPLE_WORKSPACE}", self.alarm_prefix)]
            }
            On::NotificationTopic => vec![self.notification_topic.clone()],
            On::DirectoryFunction => vec![format!(
                "arn:{p}:lambda:{r}:{a}:function:{}",
                self.directory.as_ref().map_or("", |d| d.function.as_str())
            )],
            On::AlarmQueue => vec![format!("arn:{p}:sqs:{r}:{a}:{}", self.alarm_queue.as_deref().unwrap_or_default())],
            On::DirectorySecret => vec![self.directory.as_ref().map_or(String::new(), |d| d.secret_arn.clone())],
            On::ManagedWorkspace => {
                if let Some((key, value)) = &tag {
                    context.insert(format!("aws:resourcetag/{key}"), value.clone());
                }
                vec![workspace]
            }
            On::NewWorkspace | On::NewTags => {
                if let Some((key, value)) = &tag {
                    context.insert(format!("aws:requesttag/{key}"), value.clone());
                }
                if need.on == On::NewTags {
                    vec!["*".to_owned()]
                } else {
                    let directory = match &self.selector {
                        Selector::Directories(ids) => ids.iter().next().map(|d| d.to_string()),
                        _ => None,
                    }
                    .unwrap_or_else(|| "d-0000000000".to_owned());
                    let bundle = match &self.selector {
                        Selector::Bundles(ids) => ids.iter().next().map(|b| b.to_string()),
                        _ => None,
                    }
                    .unwrap_or_else(|| "wsb-0000000000".to_owned());
                    vec![
                        format!("arn:{p}:workspaces:{r}:{a}:directory/{directory}"),
                        format!("arn:{p}:workspaces:{r}:{a}:workspacebundle/{bundle}"),
                        workspace,
                    ]
                }
            }
        };
        Request { action: need.action.to_owned(), resources, context }
    }
}

/// What the policies say about one request.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Decision {
    /// Allowed on every resource.
    Allowed,
    /// Some resource is allowed by no statement.
    NotAllowed(String),
    /// An explicit Deny matches.
    Denied(String),
}

/// Percent-decodes a policy document if IAM returned it URL-encoded (it does for
/// GetRolePolicy and GetPolicyVersion); plain JSON passes unchanged.
pub fn decode_policy(text: &str) -> String {
    if text.trim_start().starts_with('{') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// IAM's wildcard match: `*` any run, `?` one character.
pub(super) fn glob(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = if ignore_case {
        (pattern.to_ascii_lowercase().chars().collect(), value.to_ascii_lowercase().chars().collect())
    } else {
        (pattern.chars().collect(), value.chars().collect())
    };
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether a statement's conditions hold for `context`. Keys the context lacks are
/// missing at request time too (IAM then fails the condition, unless `...IfExists`);
/// keys doctor does not model (anything but the request's own context) are assumed to
/// hold and listed in `assumed`.
pub(super) fn conditions_hold(
    conditions: Option<&Value>,
    context: &BTreeMap<String, String>,
    assumed: &mut BTreeSet<String>,
) -> bool {
    let Some(Value::Object(ops)) = conditions else { return true };
    ops.iter().all(|(op, keys)| {
        let Value::Object(keys) = keys else { return true };
        let (op, if_exists) = match op.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (op.as_str(), false),
        };
        keys.iter().all(|(key, expected)| {
            let expected = strings(Some(expected));
            let lower = key.to_ascii_lowercase();
            let modelled = lower.starts_with("aws:resourcetag/")
                || lower.starts_with("aws:requesttag/")
                || lower == "aws:requestedregion";
            let Some(actual) = context.get(&lower) else {
                if modelled {
                    return if_exists;
                }
                assumed.insert(format!("{op} {key}"));
                return true;
            };
            match op {
                "StringEquals" | "ArnEquals" => expected.iter().any(|e| e == actual),
                "StringEqualsIgnoreCase" => expected.iter().any(|e| e.eq_ignore_ascii_case(actual)),
                "StringLike" | "ArnLike" => expected.iter().any(|e| glob(e, actual, false)),
                "StringNotEquals" | "ArnNotEquals" => expected.iter().all(|e| e != actual),
                "StringNotLike" | "ArnNotLike" => expected.iter().all(|e| !glob(e, actual, false)),
                other => {
                    assumed.insert(format!("{other} {key}"));
                    true
                }
            }
        })
    })
}

/// Evaluates `request` against policy documents (JSON text) as IAM does for one
/// identity: an explicit Deny wins, else every resource needs an Allow. Returns the
/// decision and the conditions assumed to hold.
pub fn evaluate(documents: &[String], request: &Request) -> (Decision, BTreeSet<String>) {
    let mut assumed = BTreeSet::new();
    let statements: Vec<Value> = documents
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .flat_map(|doc| match doc.get("Statement") {
            Some(Value::Array(items)) => items.clone(),
            Some(single @ Value::Object(_)) => vec![single.clone()],
            _ => Vec::new(),
        })
        .collect();
    let applies = |s: &Value, resource: &str, assumed: &mut BTreeSet<String>| {
        let action_ok = match (s.get("Action"), s.get("NotAction")) {
            (Some(a), _) => strings(Some(a)).iter().any(|p| glob(p, &request.action, true)),
            (None, Some(n)) => !strings(Some(n)).iter().any(|p| glob(p, &request.action, true)),
            (None, None) => false,
        };
        let resource_ok = match (s.get("Resource"), s.get("NotResource")) {
            (Some(r), _) => strings(Some(r)).iter().any(|p| p == "*" || glob(p, resource, false)),
            (None, Some(n)) => !strings(Some(n)).iter().any(|p| glob(p, resource, false)),
            (None, None) => false,
        };
        action_ok && resource_ok && conditions_hold(s.get("Condition"), &request.context, assumed)
    };
    for resource in &request.resources {
        let effect = |s: &Value| s.get("Effect").and_then(Value::as_str).unwrap_or("").to_owned();
        if let Some(deny) = statements.iter().find(|s| effect(s) == "Deny" && applies(s, resource, &mut assumed)) {
            let sid = deny.get("Sid").and_then(Value::as_str).unwrap_or("(no Sid)");
            return (Decision::Denied(format!("statement {sid} denies it on {resource}")), assumed);
        }
        if !statements.iter().any(|s| effect(s) == "Allow" && applies(s, resource, &mut assumed)) {
            return (Decision::NotAllowed(resource.clone()), assumed);
        }
    }
    (Decision::Allowed, assumed)
}

/// A function's role as read: its name and its policy documents (decoded JSON).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RoleObservation {
    /// The function.
    pub function: Function,
    /// The role's name, or why the function's configuration could not be read.
    pub role: Result<String, String>,
    /// (policy name, document) of every inline and attached policy, or why not read.
    pub policies: Result<Vec<(String, String)>, String>,
}

/// The permissions check of one function.
pub fn role_check(scope: &Scope, stack: &str, obs: &RoleObservation) -> Check {
    let name = format!("permissions {}", obs.function.label());
    let role = match &obs.role {
        Ok(r) => r,
        Err(why) => return Check::unknown(name, why),
    };
    let policies = match &obs.policies {
        Ok(p) => p,
        Err(why) => return Check::unknown(name, &format!("role {role}: {why}")),
    };
    let documents: Vec<String> = policies.iter().map(|(_, d)| d.clone()).collect();
    let mut missing = Vec::new();
    let mut assumed = BTreeSet::new();
    let list = needs_in(obs.function, scope);
    for need in &list {
        let request = scope.request(need);
        let (decision, assumes) = evaluate(&documents, &request);
        assumed.extend(assumes);
        match decision {
            Decision::Allowed => {}
            Decision::NotAllowed(resource) => missing.push(format!("{} on {resource} ({})", need.action, need.why)),
            Decision::Denied(why) => missing.push(format!("{}: {why} ({})", need.action, need.why)),
        }
    }
    let read = format!("read role {role}'s {} policies", policies.len());
    if missing.is_empty() {
        let mut found = format!("all {} actions its code calls are allowed ({read}", list.len());
        if !assumed.is_empty() {
            found.push_str(&format!("; assumed to hold: {}", assumed.into_iter().collect::<Vec<_>>().join(", ")));
        }
        found.push_str("; boundaries and SCPs not seen)");
        Check::pass(name, found)
    } else {
        Check::fail(
            name,
            format!("role {role} does not allow {} ({read})", missing.join("; ")),
            format!(
                "redeploy with this version's template (blankslate deploy --stack-name {stack} --region {}), or add \
                 the actions to role {role}",
                scope.region
            ),
        )
    }
}
