//! Carries out decided steps: each journal write first, then, if it held, its actions,
//! batched as the WorkSpaces API allows.

use std::collections::BTreeMap;

use blankslate_core::config::Config;
use blankslate_core::ids::{DeskKey, WorkspaceId};
use blankslate_core::journal::Record;
use blankslate_core::reconcile::{self, batches, Action, Notice, Outcome, Step, Write};
use blankslate_core::spec::WorkspaceSpec;
use blankslate_core::Timestamp;

use crate::ports::{Alarms, ErrorKind, Journal, Notifier, PortError, Ports, Workspaces};

/// DeleteAlarms takes at most 100 names.
const DELETE_ALARMS_BATCH: usize = 100;

/// What one invocation did, for logs, tests and the simulator's timeline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Journal writes that held.
    pub writes: usize,
    /// Writes that lost a race (someone else changed the record first); their actions were skipped.
    pub conflicts: usize,
    /// WorkSpaces whose termination AWS accepted.
    pub terminated: Vec<WorkspaceId>,
    /// New WorkSpaces created, by desk.
    pub created: Vec<(DeskKey, WorkspaceId)>,
    /// Alarms put.
    pub alarms_put: usize,
    /// Alarms deleted.
    pub alarms_deleted: usize,
    /// Notices published.
    pub notices: usize,
    /// Failures that did not stop the invocation (each is retried by a later tick).
    pub errors: Vec<String>,
    /// WorkSpaces calls refused with ThrottlingException (after the SDK's retries).
    pub throttled: usize,
    /// The WorkSpaces calls this tick could plan (the reconciler's learned rate), and
    /// what the next tick may plan.
    pub api_budget: Option<(usize, usize)>,
    /// When the reconciler next has something to do, if it knows.
    pub next_wakeup: Option<Timestamp>,
    /// Directory clean-ups due after this tick (issue 14), for `directory::clean`: the
    /// reconciler hands them to the directory port only after its creates.
    pub directory_due: Vec<blankslate_core::directory::CleanupItem>,
    /// Directory clean-up outcomes of this tick, one line each (`directory::clean`).
    pub directory_done: Vec<String>,
}

impl Report {
    pub(crate) fn error(&mut self, context: impl std::fmt::Display, error: impl std::fmt::Display) {
        tracing::warn!(%error, "{context}");
        self.errors.push(format!("{context}: {error}"));
    }

    /// Adds `other`'s counts and lists to this one (a batch's messages, one report).
    pub(crate) fn absorb(&mut self, other: Report) {
        self.writes += other.writes;
        self.conflicts += other.conflicts;
        self.terminated.extend(other.terminated);
        self.created.extend(other.created);
        self.alarms_put += other.alarms_put;
        self.alarms_deleted += other.alarms_deleted;
        self.notices += other.notices;
        self.errors.extend(other.errors);
        self.throttled += other.throttled;
        self.api_budget = self.api_budget.or(other.api_budget);
        self.directory_due.extend(other.directory_due);
        self.directory_done.extend(other.directory_done);
        self.next_wakeup = match (self.next_wakeup, other.next_wakeup) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// A failed WorkSpaces call: counted as throttled when it was, for the pacing.
    pub(crate) fn workspaces_error(&mut self, context: impl std::fmt::Display, error: &PortError) {
        if error.kind == ErrorKind::Throttled {
            self.throttled += 1;
        }
        self.error(context, error);
    }
}

/// The records as the journal now stores them, by desk (`None`: deleted).
pub(crate) type Stored = BTreeMap<DeskKey, Option<Record>>;

/// Stores `write`; `None` when it did not hold (counted in `report`).
async fn store<J: Journal>(
    journal: &J,
    write: &Write,
    report: &mut Report,
    written: &mut Stored,
) -> Option<Option<Record>> {
    match journal.write(write).await {
        Ok(stored) => {
            report.writes += 1;
            written.insert(write.record().desk.clone(), stored.clone());
            Some(stored)
        }
        Err(e) if e.kind == ErrorKind::Conflict => {
            tracing::info!(desk = %write.record().desk, "journal write lost a race; skipping its actions");
            report.conflicts += 1;
            None
        }
        Err(e) => {
            report.error(format!("journal write for {}", write.record().desk), e);
            None
        }
    }
}

fn refused(e: &PortError) -> Outcome<()> {
    if e.kind == ErrorKind::Throttled {
        Outcome::Deferred
    } else if e.nothing_happened() {
        Outcome::Refused { code: format!("{:?}", e.kind), message: e.message.clone() }
    } else {
        Outcome::Unknown
    }
}

/// Performs `steps`: writes, then terminations and creations in batches, then the
/// follow-up writes their answers call for, then alarms and notices. Returns the records
/// as stored by the writes that held.
pub(crate) async fn execute<W, A, J, N>(
    ports: Ports<'_, W, A, J, N>,
    config: &Config,
    now: Timestamp,
    steps: Vec<Step>,
    report: &mut Report,
) -> Stored
where
    W: Workspaces,
    A: Alarms,
    J: Journal,
    N: Notifier,
{
    let mut put_alarms: Vec<WorkspaceId> = Vec::new();
    let mut delete_alarms: Vec<WorkspaceId> = Vec::new();
    let mut delete_legacy_alarms: Vec<WorkspaceId> = Vec::new();
    let mut notices: Vec<Notice> = Vec::new();
    let mut written = Stored::new();
    let mut round = steps;
    while !round.is_empty() {
        let mut terminate: Vec<(Record, WorkspaceId)> = Vec::new();
        let mut create: Vec<(Record, WorkspaceSpec)> = Vec::new();
        for step in round.drain(..) {
            let stored = match &step.write {
                Some(write) => match store(ports.journal, write, report, &mut written).await {
                    Some(stored) => stored,
                    None => continue,
                },
                None => None,
            };
            for action in step.actions {
                match (action, &stored) {
                    (Action::Terminate(id), Some(record)) => terminate.push((record.clone(), id)),
                    (Action::Create(spec), Some(record)) => create.push((record.clone(), *spec)),
                    (Action::Terminate(_) | Action::Create(_), None) => {
                        report.error("internal", "a terminate or create was decided without a journal intent; skipped")
                    }
                    (Action::PutAlarm(id), _) => put_alarms.push(id),
                    (Action::DeleteAlarm(id), _) => delete_alarms.push(id),
                    (Action::DeleteLegacyAlarm(id), _) => delete_legacy_alarms.push(id),
                    (Action::Notify(notice), _) => notices.push(notice),
                }
            }
        }

        for batch in batches(terminate, config.batch_size) {
            let ids: Vec<WorkspaceId> = batch.iter().map(|(_, id)| id.clone()).collect();
            let answer = ports.workspaces.terminate(&ids).await;
            if let Err(e) = &answer {
                report.workspaces_error("TerminateWorkspaces", e);
            }
            for (record, id) in batch {
                let outcome = match &answer {
                    Ok(failed) => match failed.iter().find(|f| f.key == id) {
                        Some(f) => Outcome::Refused { code: f.code.clone(), message: f.message.clone() },
                        None => Outcome::Accepted(()),
                    },
                    Err(e) => refused(e),
                };
                match &outcome {
                    Outcome::Accepted(()) => report.terminated.push(id.clone()),
                    Outcome::Refused { code, message } => {
                        report.error(format!("terminating {id}"), format!("{code}: {message}"))
                    }
                    Outcome::Unknown | Outcome::Deferred => {}
                }
                if let Some(next) = reconcile::on_terminate_result(&record, &outcome, now) {
                    store(ports.journal, &Write::Update(next), report, &mut written).await;
                }
            }
        }

        for batch in batches(create, config.batch_size) {
            let specs: Vec<WorkspaceSpec> = batch.iter().map(|(_, spec)| spec.clone()).collect();
            let answer = ports.workspaces.create(&specs).await;
            if let Err(e) = &answer {
                report.workspaces_error("CreateWorkspaces", e);
            }
            for (record, _) in batch {
                let outcome = match &answer {
                    Ok(answer) => create_outcome(answer, &record.desk),
                    Err(e) => match refused(e) {
                        Outcome::Refused { code, message } => Outcome::Refused { code, message },
                        Outcome::Deferred => Outcome::Deferred,
                        Outcome::Accepted(()) | Outcome::Unknown => Outcome::Unknown,
                    },
                };
                match &outcome {
                    Outcome::Accepted(id) => report.created.push((record.desk.clone(), id.clone())),
                    Outcome::Refused { code, message } => {
                        report.error(format!("creating for {}", record.desk), format!("{code}: {message}"))
                    }
                    Outcome::Unknown | Outcome::Deferred => {}
                }
                round.extend(reconcile::on_create_result(&record, &outcome, now, config));
            }
        }
    }

    for id in put_alarms {
        match ports.alarms.put_disconnect_alarm(&id).await {
            Ok(()) => report.alarms_put += 1,
            Err(e) => report.error(format!("alarm for {id}"), e),
        }
    }
    for batch in delete_alarms.chunks(DELETE_ALARMS_BATCH) {
        match ports.alarms.delete_disconnect_alarms(batch).await {
            Ok(()) => report.alarms_deleted += batch.len(),
            Err(e) => report.error("DeleteAlarms", e),
        }
    }
    for batch in delete_legacy_alarms.chunks(DELETE_ALARMS_BATCH) {
        match ports.alarms.delete_legacy_alarms(batch).await {
            Ok(()) => report.alarms_deleted += batch.len(),
            Err(e) => report.error("DeleteAlarms (the seed's naming)", e),
        }
    }
    for notice in notices {
        match ports.notifier.notify(&notice).await {
            Ok(()) => report.notices += 1,
            Err(e) => report.error("notifying the admins", e),
        }
    }
    written
}

fn create_outcome(answer: &crate::ports::CreateAnswer, desk: &DeskKey) -> Outcome<WorkspaceId> {
    if let Some((_, id)) = answer.pending.iter().find(|(d, _)| d == desk) {
        return Outcome::Accepted(id.clone());
    }
    match answer.failed.iter().find(|f| &f.key == desk) {
        Some(f) => Outcome::Refused { code: f.code.clone(), message: f.message.clone() },
        // Neither pending nor failed: the answer is incomplete, so the effect is unknown.
        None => Outcome::Unknown,
    }
}
