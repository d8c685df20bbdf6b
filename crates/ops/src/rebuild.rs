//! `blankslate rebuild`: an admin's immediate rebuild, through the journal.
//!
//! The request is a conditional journal write (`reconcile::request_rebuild`: the desk
//! `Disconnected` with its grace period over, plus the request), made only after the same
//! checks the reconciler makes, on what was read just now: managed, selected (fresh tags),
//! terminable, and the user not connected unless `--force`. Then the deployed reconciler
//! is invoked so the rebuild starts now instead of at the next scheduled run; it checks
//! again before terminating (S1), and carries the rebuild on as any other (L1).

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use blankslate_core::ids::{DeskKey, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::reconcile::{request_rebuild, Refusal, Write};
use blankslate_core::Timestamp;
use blankslate_handlers::ports::{ErrorKind, Journal, Workspaces};

use crate::error::sdk_error;
use crate::stack::outputs;
use crate::{DeployedStack, OpsError};

/// What became of one requested WorkSpace.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Requested {
    /// The request is in the journal.
    Accepted {
        /// The desk.
        desk: DeskKey,
        /// The record as stored (its version included).
        record: Box<Record>,
    },
    /// Not written: why.
    Refused {
        /// The reason, in the reconciler's terms.
        reason: Refusal,
    },
    /// The WorkSpace is not in the journal: blankslate does not manage it.
    NotManaged,
    /// DescribeWorkspaces does not know it.
    NotFound,
}

/// How many times a request is retried when the journal record changed under it (a
/// function wrote it meanwhile); each retry re-reads everything.
const CONFLICT_RETRIES: usize = 3;

/// Writes a rebuild request for each WorkSpace, checked on fresh reads. `now` is the
/// caller's clock.
pub async fn request(
    stack: &DeployedStack,
    ids: &[WorkspaceId],
    force: bool,
    now: Timestamp,
) -> Result<Vec<(WorkspaceId, Requested)>, OpsError> {
    let journal = stack.journal();
    let workspaces = stack.workspaces();
    let mut out: Vec<(WorkspaceId, Requested)> = Vec::new();
    for id in ids {
        if out.iter().any(|(seen, _)| seen == id) {
            continue; // named twice: one request
        }
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            let Some(record) = journal.find_by_workspace(id).await? else { break Requested::NotManaged };
            let Some(desc) = workspaces.describe(std::slice::from_ref(id)).await?.into_iter().next() else {
                break Requested::NotFound;
            };
            let Some(conn) = workspaces.connection_status(std::slice::from_ref(id)).await?.into_iter().next() else {
                break Requested::NotFound;
            };
            let mut spec = desc.spec.clone();
            spec.tags = workspaces.tags(id).await?;
            let next = match request_rebuild(now, &stack.config, &record, &desc, &spec, &conn, force) {
                Ok(next) => next,
                Err(reason) => break Requested::Refused { reason },
            };
            match journal.write(&Write::Update(next)).await {
                Ok(Some(stored)) => break Requested::Accepted { desk: record.desk.clone(), record: Box::new(stored) },
                Ok(None) => break Requested::NotManaged,
                Err(e) if e.kind == ErrorKind::Conflict && attempt < CONFLICT_RETRIES => continue,
                Err(e) => return Err(e.into()),
            }
        };
        out.push((id.clone(), outcome));
    }
    Ok(out)
}

/// Invokes the deployed reconciler asynchronously (InvocationType Event), so the requests
/// are acted on now rather than at the next scheduled run. Idempotent: a run racing the
/// scheduled one loses its conditional writes and changes nothing.
pub async fn kick_reconciler(stack: &DeployedStack) -> Result<(), OpsError> {
    let function = stack.output(outputs::RECONCILER_FUNCTION)?;
    let payload = serde_json::json!({ "source": "blankslate.cli", "detail-type": "blankslate rebuild" }).to_string();
    stack
        .lambda()
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|e| sdk_error("lambda:Invoke", e))?;
    Ok(())
}

/// Where a requested rebuild is, from its desk's record.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Progress {
    /// Not started yet (waiting for the reconciler, a slot, or a readable connection state).
    Pending,
    /// Terminating the old WorkSpace.
    Terminating,
    /// Creating the new one (`last_error` when a create was refused).
    Creating(Option<String>),
    /// Done: the new WorkSpace.
    Done(WorkspaceId),
    /// The reconciler dropped the request: the user was back (the message), or the desk
    /// was released.
    Cancelled(String),
}

/// What the record says about the rebuild of `old` requested at `requested_at`.
pub fn progress(record: Option<&Record>, old: &WorkspaceId, requested_at: Timestamp) -> Progress {
    let Some(record) = record else { return Progress::Cancelled("the desk was released".into()) };
    match &record.phase {
        Phase::Disconnected { .. } if record.live_request().is_some() => Progress::Pending,
        Phase::Terminating { workspace_id, .. } if workspace_id == old => Progress::Terminating,
        Phase::Creating { replaces, .. } if replaces == old => Progress::Creating(record.last_error.clone()),
        Phase::Active { workspace_id } if workspace_id != old => match &record.last_rebuild {
            Some(s) if s.old_workspace_id == *old && s.finished_at >= requested_at => {
                Progress::Done(workspace_id.clone())
            }
            _ => Progress::Cancelled(format!("the desk moved to {workspace_id} another way")),
        },
        _ => Progress::Cancelled(
            record.last_error.clone().unwrap_or_else(|| "the user connected again: the request was dropped".into()),
        ),
    }
}

/// Polls the journal every `every` until each desk is done or cancelled, or `limit`
/// passes, re-invoking the reconciler each round so the rebuild advances without waiting
/// for the schedule. `report` sees every round's progress.
pub async fn wait(
    stack: &DeployedStack,
    accepted: &[(DeskKey, WorkspaceId, Timestamp)],
    every: Duration,
    limit: Duration,
    mut report: impl FnMut(&[(DeskKey, Progress)]),
) -> Result<Vec<(DeskKey, Progress)>, OpsError> {
    let journal = stack.journal();
    let start = tokio::time::Instant::now();
    loop {
        let mut now = Vec::new();
        for (desk, old, at) in accepted {
            let record = journal.get(desk).await?;
            now.push((desk.clone(), progress(record.as_ref(), old, *at)));
        }
        report(&now);
        let finished = now.iter().all(|(_, p)| matches!(p, Progress::Done(_) | Progress::Cancelled(_)));
        if finished || start.elapsed() >= limit {
            return Ok(now);
        }
        tokio::time::sleep(every).await;
        kick_reconciler(stack).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blankslate_core::ids::{BundleId, DirectoryId, UserName};
    use blankslate_core::journal::{RebuildReason, RebuildRequest, RebuildSummary};
    use blankslate_core::spec::WorkspaceSpec;

    fn ws(n: &str) -> WorkspaceId {
        WorkspaceId::new(format!("ws-{n:0<8}")).unwrap()
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    #[test]
    fn progress_reads_the_record_as_the_reconciler_leaves_it() {
        let spec = WorkspaceSpec::new(
            DirectoryId::new("d-9067083b4b").unwrap(),
            UserName::new("alice").unwrap(),
            BundleId::new("wsb-vw0mb86zg").unwrap(),
        );
        let old = ws("a");
        let base = Record::enrol(spec, old.clone(), t(0));
        let with = |phase: Phase| Record { phase, ..base.clone() };
        let mut pending = with(Phase::Disconnected { workspace_id: old.clone(), at: t(-600) });
        pending.request = Some(RebuildRequest { workspace_id: old.clone(), requested_at: t(0), force: false });
        let terminating = with(Phase::Terminating {
            workspace_id: old.clone(),
            disconnected_at: t(-600),
            started_at: t(1),
            requested_at: t(1),
            attempts: 1,
        });
        let mut creating = with(Phase::Creating {
            replaces: old.clone(),
            disconnected_at: t(-600),
            started_at: t(1),
            attempts: 2,
            retry_at: t(60),
            maybe_created: false,
        });
        creating.last_error = Some("CreateWorkspaces: refused".into());
        let mut done = with(Phase::Active { workspace_id: ws("b") });
        done.last_rebuild = Some(RebuildSummary {
            old_workspace_id: old.clone(),
            new_workspace_id: ws("b"),
            disconnected_at: t(-600),
            started_at: t(1),
            finished_at: t(9),
            reason: RebuildReason::Admin { force: false, requested_at: t(0) },
        });
        let mut back = with(Phase::Active { workspace_id: old.clone() });
        back.last_error = Some("rebuild requested at … cancelled: the user was connected".into());
        let cases: [(Option<&Record>, Progress); 6] = [
            (Some(&pending), Progress::Pending),
            (Some(&terminating), Progress::Terminating),
            (Some(&creating), Progress::Creating(Some("CreateWorkspaces: refused".into()))),
            (Some(&done), Progress::Done(ws("b"))),
            (Some(&back), Progress::Cancelled("rebuild requested at … cancelled: the user was connected".into())),
            (None, Progress::Cancelled("the desk was released".into())),
        ];
        for (record, want) in cases {
            assert_eq!(progress(record, &old, t(0)), want, "{record:?}");
        }
    }
}
