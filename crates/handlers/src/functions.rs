//! The four functions. Each reads what its decision needs, decides with the core, and
//! executes the resulting steps.

use blankslate_core::config::{Config, MAX_BATCH};
use blankslate_core::events::{self, Event, EventError};
use std::collections::BTreeSet;

use blankslate_core::ids::{DeskKey, WorkspaceId};
use blankslate_core::journal::Record;
use blankslate_core::reconcile::{self, Observations, Step};
use blankslate_core::Timestamp;

use crate::execute::{execute, Report};
use crate::ports::{Alarms, Journal, Notifier, PortError, Ports, Workspaces};

/// Why an invocation failed as a whole. Per-item failures do not fail an invocation:
/// they are in [`Report::errors`] and the reconciler retries them.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event could not be read.
    #[error("bad event: {0}")]
    Event(#[from] EventError),
    /// A read the whole invocation depends on failed (the journal, typically).
    #[error(transparent)]
    Port(#[from] PortError),
}

/// `Workspace_Alarm_Create`: CloudTrail saw CreateWorkspaces. For every new WorkSpace
/// (every pending request, not only the first): read it from the API (CloudTrail may
/// redact request fields), and if the selector manages it, enrol it in the journal, or
/// record it as its desk's rebuilt WorkSpace, and arm its disconnect alarm.
pub async fn alarm_create<W: Workspaces, A: Alarms, J: Journal, N: Notifier>(
    ports: Ports<'_, W, A, J, N>,
    config: &Config,
    now: Timestamp,
    event: &serde_json::Value,
) -> Result<Report, HandlerError> {
    let mut report = Report::default();
    let Some(Event::WorkspacesCreated { ids, .. }) = events::parse_eventbridge(event)? else {
        tracing::info!("not a successful CreateWorkspaces call; nothing to do");
        return Ok(report);
    };
    let mut steps = Vec::new();
    for chunk in ids.chunks(MAX_BATCH) {
        let described = ports.workspaces.describe(chunk).await?;
        for id in chunk.iter().filter(|id| !described.iter().any(|d| &d.id == *id)) {
            // Eventual consistency: the reconciler's next sweep enrols it.
            tracing::info!(workspace = %id, "not visible yet; leaving it to the next sweep");
        }
        for desc in &described {
            let record = ports.journal.get(&desc.spec.desk()).await?;
            // Our own re-create is already its desk's WorkSpace: no tags to read (a call
            // each, against a shared 2 requests/s budget).
            let ours = record.as_ref().is_some_and(|r| r.workspace_id() == Some(&desc.id));
            let tags =
                if config.selector.needs_tags() && !ours { Some(ports.workspaces.tags(&desc.id).await?) } else { None };
            steps.extend(reconcile::on_workspace_seen(now, config, record.as_ref(), desc, tags.as_ref()));
        }
    }
    execute(ports, config, now, steps, &mut report).await;
    Ok(report)
}

/// `Workspace_Alarm_Del`: CloudTrail saw TerminateWorkspaces. Deletes the alarm of every
/// terminated WorkSpace, and releases desks terminated by someone other than blankslate
/// (an admin's termination is final: it is never undone by a rebuild).
pub async fn alarm_delete<W: Workspaces, A: Alarms, J: Journal, N: Notifier>(
    ports: Ports<'_, W, A, J, N>,
    config: &Config,
    now: Timestamp,
    event: &serde_json::Value,
) -> Result<Report, HandlerError> {
    let mut report = Report::default();
    let Some(Event::WorkspacesTerminated { ids, .. }) = events::parse_eventbridge(event)? else {
        tracing::info!("not a successful TerminateWorkspaces call; nothing to do");
        return Ok(report);
    };
    let mut steps =
        vec![Step { write: None, actions: ids.iter().cloned().map(reconcile::Action::DeleteAlarm).collect() }];
    for id in &ids {
        if let Some(record) = ports.journal.find_by_workspace(id).await? {
            steps.extend(reconcile::on_terminated(&record, id));
        }
    }
    execute(ports, config, now, steps, &mut report).await;
    Ok(report)
}

/// `Workspace_Term_Rebuild`: a disconnect alarm fired (via SNS), or a user logged in
/// ("WorkSpaces Access"). Records the fact in the journal and returns at once; the
/// reconciler terminates when the grace period is over, after re-checking the
/// connection. Unmanaged WorkSpaces are ignored (S2).
pub async fn term_rebuild<W: Workspaces, A: Alarms, J: Journal, N: Notifier>(
    ports: Ports<'_, W, A, J, N>,
    config: &Config,
    now: Timestamp,
    event: &serde_json::Value,
) -> Result<Report, HandlerError> {
    let mut report = Report::default();
    let mut steps = Vec::new();
    for event in events::parse_any(event)? {
        type Decide = fn(&Record, &WorkspaceId, Timestamp, Timestamp) -> Option<Step>;
        let (id, at, decide): (WorkspaceId, Timestamp, Decide) = match event {
            Event::DisconnectAlarm { workspace_id, at } => (workspace_id, at, reconcile::on_disconnect_alarm),
            Event::UserLoggedIn { workspace_id, at, .. } => (workspace_id, at, reconcile::on_login),
            Event::WorkspacesCreated { .. } | Event::WorkspacesTerminated { .. } => continue,
        };
        match ports.journal.find_by_workspace(&id).await? {
            Some(record) => steps.extend(decide(&record, &id, at, now)),
            None => tracing::info!(workspace = %id, "not managed; ignored"),
        }
    }
    execute(ports, config, now, steps, &mut report).await;
    Ok(report)
}

/// The reconciler, run every reconcile period: advances due rebuilds in batches,
/// re-checking connections right before terminating; on sweep ticks also enrols managed
/// WorkSpaces, catches disconnects whose alarm never fired, and repairs alarms.
pub async fn reconcile<W: Workspaces, A: Alarms, J: Journal, N: Notifier>(
    ports: Ports<'_, W, A, J, N>,
    config: &Config,
    now: Timestamp,
) -> Result<Report, HandlerError> {
    let records = ports.journal.list().await?;
    let sweep = reconcile::is_sweep_tick(now, config, records.is_empty());
    let plan = reconcile::plan_reads_within(now, config, &records, sweep, config.api_budget_per_tick);
    let mut report = Report::default();
    let obs = observe(ports, config, &records, &plan, &mut report).await;
    let decision = reconcile::decide(now, config, &records, &obs);
    report.next_wakeup = decision.next_wakeup;
    report.directory_due = decision.cleanups; // Issue 14: carried out after the creates.
    execute(ports, config, now, decision.steps, &mut report).await;
    Ok(report)
}

/// Performs a read plan. A failed read leaves its part of the observations empty, which
/// the decisions treat as "not known yet": the affected desks simply wait a tick.
async fn observe<W: Workspaces, A: Alarms, J: Journal, N: Notifier>(
    ports: Ports<'_, W, A, J, N>,
    config: &Config,
    records: &[Record],
    plan: &reconcile::ReadPlan,
    report: &mut Report,
) -> Observations {
    let mut obs = Observations::default();
    for chunk in plan.describe.chunks(MAX_BATCH) {
        match ports.workspaces.describe(chunk).await {
            Ok(found) => {
                obs.described.extend(chunk.iter().cloned());
                obs.workspaces.extend(found.into_iter().map(|d| (d.id.clone(), d)));
            }
            Err(e) => report.error("DescribeWorkspaces", e),
        }
    }
    if plan.sweep {
        match ports.workspaces.describe_all().await {
            Ok(all) => {
                obs.fleet_listed = true;
                obs.workspaces.extend(all.into_iter().map(|d| (d.id.clone(), d)));
            }
            Err(e) => report.error("DescribeWorkspaces (sweep)", e),
        }
        match ports.alarms.list_disconnect_alarms().await {
            Ok(ids) => obs.alarms = Some(ids.into_iter().collect()),
            Err(e) => report.error("DescribeAlarms", e),
        }
    }
    for chunk in plan.connections.chunks(MAX_BATCH) {
        match ports.workspaces.connection_status(chunk).await {
            Ok(found) => obs.connections.extend(found.into_iter().map(|c| (c.id.clone(), c))),
            Err(e) => report.error("DescribeWorkspacesConnectionStatus", e),
        }
    }
    let mut tag_ids = plan.tags.clone();
    if plan.sweep && config.selector.needs_tags() {
        // Only enrolment candidates: a managed desk's tags are read right before its
        // termination anyway (S2, S3), so a sweep need not spend a call per desk on them.
        let known: BTreeSet<&DeskKey> = records.iter().map(|r| &r.desk).collect();
        tag_ids.extend(
            obs.workspaces
                .values()
                .filter(|d| !d.state.is_going() && !known.contains(&d.spec.desk()))
                .map(|d| d.id.clone()),
        );
        tag_ids.sort();
        tag_ids.dedup();
    }
    for id in tag_ids {
        match ports.workspaces.tags(&id).await {
            Ok(tags) => {
                obs.tags.insert(id, tags);
            }
            Err(e) => report.error(format!("DescribeTags {id}"), e),
        }
    }
    for desk in &plan.desks {
        match ports.workspaces.describe_desk(desk).await {
            Ok(found) => {
                obs.desks.insert(desk.clone(), found);
            }
            Err(e) => report.error(format!("DescribeWorkspaces for {desk}"), e),
        }
    }
    obs
}
