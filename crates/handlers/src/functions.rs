//! The four functions. Each reads what its decision needs, decides with the core, and
//! executes the resulting steps.

use blankslate_core::config::{Config, TagReads, MAX_BATCH};
use blankslate_core::events::{self, AlarmTime, Event, EventError};
use std::collections::BTreeSet;

use blankslate_core::ids::{DeskKey, WorkspaceId};
use blankslate_core::journal::Record;
use blankslate_core::pacing::{Pacing, TickUse};
use blankslate_core::reconcile::{self, Observations, Stage, Step};
use blankslate_core::Timestamp;

use crate::execute::{execute, Report};
use crate::ports::{Alarms, ErrorKind, Journal, Notifier, PortError, Ports, Workspaces};

/// Why an invocation failed as a whole. Per-item failures do not fail an invocation:
/// they are in [`Report::errors`] and the reconciler retries them.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event could not be read.
    #[error("bad event: {0}")]
    Event(#[from] EventError),
    /// A journal read the whole invocation depends on failed.
    #[error("journal: {0}")]
    Journal(PortError),
    /// A WorkSpaces read the whole invocation depends on failed.
    #[error("WorkSpaces: {0}")]
    Workspaces(PortError),
}

impl HandlerError {
    /// The failed call, when a call failed.
    pub fn port(&self) -> Option<&PortError> {
        match self {
            Self::Event(_) => None,
            Self::Journal(e) | Self::Workspaces(e) => Some(e),
        }
    }
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
        let described = ports.workspaces.describe(chunk).await.map_err(HandlerError::Workspaces)?;
        for id in chunk.iter().filter(|id| !described.iter().any(|d| &d.id == *id)) {
            // Eventual consistency: the reconciler's next sweep enrols it.
            tracing::info!(workspace = %id, "not visible yet; leaving it to the next sweep");
        }
        for desc in &described {
            let record = ports.journal.get(&desc.spec.desk()).await.map_err(HandlerError::Journal)?;
            // Our own re-create is already its desk's WorkSpace: no tags to read (a call
            // each, against a shared 2 requests/s budget).
            let ours = record.as_ref().is_some_and(|r| r.workspace_id() == Some(&desc.id));
            let tags = if config.selector.needs_tags() && !ours {
                Some(ports.workspaces.tags(&desc.id).await.map_err(HandlerError::Workspaces)?)
            } else {
                None
            };
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
        if let Some(record) = ports.journal.find_by_workspace(id).await.map_err(HandlerError::Journal)? {
            steps.extend(reconcile::on_terminated(&record, id));
        }
    }
    execute(ports, config, now, steps, &mut report).await;
    Ok(report)
}

/// `Workspace_Term_Rebuild`, for the "WorkSpaces Access" rule's login events (and an
/// SNS alarm delivered directly, as before the alarm queue): records the fact in the
/// journal and returns at once; the reconciler terminates when the grace period is over,
/// after re-checking the connection. Unmanaged WorkSpaces are ignored (S2). The alarm
/// queue's batches go to [`term_rebuild_queue`].
pub async fn term_rebuild<W: Workspaces, A: Alarms, J: Journal, N: Notifier>(
    ports: Ports<'_, W, A, J, N>,
    config: &Config,
    now: Timestamp,
    event: &serde_json::Value,
) -> Result<Report, HandlerError> {
    let mut report = Report::default();
    record_facts(ports, config, now, events::parse_any(event)?, &mut report).await?;
    Ok(report)
}

/// What [`term_rebuild_queue`] did with a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueReport {
    /// The batch's work, summed over its messages.
    pub report: Report,
    /// The `messageId`s to redeliver (the partial batch response): each message that
    /// could not be read or whose fact did not reach the journal, and no other.
    pub failed: Vec<String>,
}

/// `Workspace_Term_Rebuild` for a batch from the alarm queue (SQS event source mapping).
/// Each message is recorded on its own, so one that fails (unreadable, a journal error, a
/// lost write race) is named for redelivery and the others are deleted. An unreadable
/// message fails at every delivery until the queue's redrive policy moves it to the
/// dead-letter queue: kept for an admin to read, never retried for ever.
pub async fn term_rebuild_queue<W: Workspaces, A: Alarms, J: Journal, N: Notifier>(
    ports: Ports<'_, W, A, J, N>,
    config: &Config,
    now: Timestamp,
    event: &serde_json::Value,
) -> Result<QueueReport, HandlerError> {
    let mut out = QueueReport::default();
    for message in blankslate_core::events::sqs::parse_sqs(event)? {
        let mut report = Report::default();
        let recorded = match message.events {
            Ok(events) => match record_facts(ports, config, now, events, &mut report).await {
                Ok(()) => report.errors.is_empty() && report.conflicts == 0,
                Err(e) => {
                    report.error("reading the journal", e);
                    false
                }
            },
            Err(e) => {
                report.error("unreadable message (to the dead-letter queue after its last receive)", e);
                false
            }
        };
        if !recorded {
            tracing::warn!(message_id = %message.message_id, "to be redelivered");
            out.failed.push(message.message_id);
        }
        out.report.absorb(report);
    }
    Ok(out)
}

/// Records disconnects and logins of managed WorkSpaces in the journal.
async fn record_facts<W: Workspaces, A: Alarms, J: Journal, N: Notifier>(
    ports: Ports<'_, W, A, J, N>,
    config: &Config,
    now: Timestamp,
    facts: Vec<Event>,
    report: &mut Report,
) -> Result<(), HandlerError> {
    let mut steps = Vec::new();
    for event in facts {
        type Decide = fn(&Record, &WorkspaceId, Timestamp, Timestamp) -> Option<Step>;
        let (id, at, decide): (WorkspaceId, Timestamp, Decide) = match event {
            Event::DisconnectAlarm { workspace_id, at, time_from } => {
                if let AlarmTime::Fallback(why) = &time_from {
                    tracing::warn!(workspace = %workspace_id, %at, "no datapoint time in the alarm ({why}); grace counts from StateChangeTime");
                }
                (workspace_id, at, reconcile::on_disconnect_alarm)
            }
            Event::UserLoggedIn { workspace_id, at, .. } => (workspace_id, at, reconcile::on_login),
            Event::WorkspacesCreated { .. } | Event::WorkspacesTerminated { .. } => continue,
        };
        match ports.journal.find_by_workspace(&id).await.map_err(HandlerError::Journal)? {
            Some(record) => steps.extend(decide(&record, &id, at, now)),
            None => tracing::info!(workspace = %id, "not managed; ignored"),
        }
    }
    execute(ports, config, now, steps, report).await;
    Ok(())
}

/// The reconciler, run every reconcile period: advances due rebuilds in batches,
/// re-checking connections right before terminating; on sweep ticks also enrols managed
/// WorkSpaces, catches disconnects whose alarm never fired, and repairs alarms.
///
/// It spends the rate it has learned (`core::pacing`, kept in the journal): the tick's
/// budget is planned by priority, run in [`reconcile::Stage`]s so that the calls of
/// rebuilds under way go out first and a sweep's listing last, and the rate is cut after a
/// tick throttled within its budget and raised after a clean one that needed more.
pub async fn reconcile<W: Workspaces, A: Alarms, J: Journal, N: Notifier>(
    ports: Ports<'_, W, A, J, N>,
    config: &Config,
    now: Timestamp,
) -> Result<Report, HandlerError> {
    let mut records = ports.journal.list().await.map_err(HandlerError::Journal)?;
    let mut report = Report::default();
    let (ceiling, period) = (config.api_budget_per_tick, config.reconcile_period);
    let (pacing, known) = match ports.journal.pacing().await {
        Ok(stored) => (stored.unwrap_or_else(|| Pacing::start(now, ceiling, period)), true),
        Err(e) if e.kind == ErrorKind::Rejected => {
            // Undecodable: learned again from the start, and the item rewritten.
            report.error("reading the learned API rate (starting again)", e);
            (Pacing::start(now, ceiling, period), true)
        }
        Err(e) => {
            // Unreadable now: the floor, which makes progress at any rate (L1); the
            // stored rate is left as it is.
            report.error("reading the learned API rate", e);
            (Pacing::at(0.0, now), false)
        }
    };
    let budget = pacing.budget(ceiling, period);
    ports.workspaces.pace(budget as f64 / period.as_secs_f64().max(1.0));
    let sweep = reconcile::is_sweep_tick(now, config, records.is_empty());
    let plan = reconcile::plan_reads_within(now, config, &records, sweep, budget);
    let stages = Stage::ALL.map(|stage| (stage, plan.for_stage(stage, &records)));
    // Throttling met beyond the budget, knowingly: it teaches the rate nothing.
    let mut over_budget_throttled = 0;
    for (stage, part) in stages {
        if stage == Stage::Sweep && !part.sweep {
            // Nothing to read: without observations the sweep's desks decide nothing, and
            // enrolment and alarm repair need the listing, so the pass would only cost a
            // 10,000-desk tick another walk over the journal.
            continue;
        }
        let throttled_before = report.throttled;
        let obs = observe(ports, config, now, &records, &part, &mut report).await;
        let decision = reconcile::decide_stage(now, config, &records, &obs, stage);
        let stored = execute(ports, config, now, decision.steps, &mut report).await;
        if !stored.is_empty() {
            records = apply(records, stored);
        }
        if part.sweep_over_budget {
            over_budget_throttled += report.throttled - throttled_before;
        }
    }
    report.next_wakeup = reconcile::next_wakeup_of(config, &records);
    // Issue 14: the directory clean-ups due, from the journal as the tick left it; carried
    // out after every terminate and create of the tick (`reconcile_with_directory`).
    report.directory_due = blankslate_core::directory::due(now, config, &records, &[]);
    // A listing beyond the budget that went through shows the limit allows more than the
    // budget (the tick was budget-bound); one that was throttled shows nothing either way.
    let used = TickUse {
        throttled: report.throttled - over_budget_throttled,
        budget_bound: plan.budget_bound && over_budget_throttled == 0,
    };
    let next = pacing.after_tick(used, ceiling, period, now);
    report.api_budget = Some((budget, next.budget(ceiling, period)));
    if known && next != pacing {
        if let Err(e) = ports.journal.store_pacing(&next).await {
            report.error("storing the learned API rate", e);
        }
    }
    Ok(report)
}

/// The journal after a stage's writes, for the next stage's decisions.
fn apply(records: Vec<Record>, mut stored: crate::execute::Stored) -> Vec<Record> {
    let mut out: Vec<Record> = records
        .into_iter()
        .filter_map(|r| match stored.remove(&r.desk) {
            Some(now_stored) => now_stored,
            None => Some(r),
        })
        .collect();
    out.extend(stored.into_values().flatten());
    out
}

/// Performs a read plan. A failed read leaves its part of the observations empty, which
/// the decisions treat as "not known yet": the affected desks simply wait a tick.
async fn observe<W: Workspaces, A: Alarms, J: Journal, N: Notifier>(
    ports: Ports<'_, W, A, J, N>,
    config: &Config,
    now: Timestamp,
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
            Err(e) => report.workspaces_error("DescribeWorkspaces", &e),
        }
    }
    if plan.sweep {
        match ports.workspaces.describe_all().await {
            Ok(all) => {
                obs.fleet_listed = true;
                obs.workspaces.extend(all.into_iter().map(|d| (d.id.clone(), d)));
            }
            Err(e) => report.workspaces_error("DescribeWorkspaces (sweep)", &e),
        }
        match ports.alarms.list_alarm_family().await {
            Ok(alarms) => obs.alarms = Some(alarms),
            Err(e) => report.error("DescribeAlarms", e),
        }
    }
    // Terminates that look lost are re-checked (S1) before they are sent again; which
    // ones, only the describes above tell.
    let mut connections = plan.connections.clone();
    connections.extend(reconcile::lost_terminates(now, config, records, &plan.describe, &obs));
    for chunk in connections.chunks(MAX_BATCH) {
        match ports.workspaces.connection_status(chunk).await {
            Ok(found) => obs.connections.extend(found.into_iter().map(|c| (c.id.clone(), c))),
            Err(e) => report.workspaces_error("DescribeWorkspacesConnectionStatus", &e),
        }
    }
    let mut tag_ids = plan.tags.clone();
    if plan.sweep && config.selector.needs_tags() {
        // Only enrolment candidates: a managed desk's tags are read right before its
        // termination anyway (S2, S3), so a sweep need not read them for every desk.
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
    let mut unread = Vec::new();
    match config.tag_reads {
        TagReads::Bulk => {
            for chunk in tag_ids.chunks(reconcile::TAGS_BATCH) {
                match ports.workspaces.tags_in_bulk(chunk).await {
                    Ok(found) => {
                        let (known, confirm) = reconcile::settle_bulk_tags(records, chunk, found);
                        obs.tags.extend(known);
                        unread.extend(confirm);
                    }
                    // The tagging API's own limit: no lesson for the WorkSpaces rate.
                    Err(e) => report.error("GetResources", e),
                }
            }
        }
        // Each a WorkSpaces call of the budget: one throttled read leaves only its own
        // desk undecided, and teaches the rate.
        TagReads::OneByOne => unread = tag_ids,
    }
    for id in unread {
        match ports.workspaces.tags(&id).await {
            Ok(tags) => {
                obs.tags.insert(id, tags);
            }
            Err(e) => report.workspaces_error(format!("DescribeTags {id}"), &e),
        }
    }
    for desk in &plan.desks {
        match ports.workspaces.describe_desk(desk).await {
            Ok(found) => {
                obs.desks.insert(desk.clone(), found);
            }
            Err(e) => report.workspaces_error(format!("DescribeWorkspaces for {desk}"), &e),
        }
    }
    obs
}
