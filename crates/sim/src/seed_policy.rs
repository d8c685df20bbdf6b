//! The seed's three functions as written, as a baseline to run on the same scenario.
//!
//! - `Workspace_Alarm_Create` alarms only `pendingRequests[0]`, for every WorkSpace.
//! - `Workspace_Alarm_Del` deletes the alarm of `terminateWorkspaceRequests[0]` only.
//! - `Workspace_Term_Rebuild` sleeps 10 minutes, counts ConnectionSuccess datapoints of
//!   the last 15 minutes, terminates if there are none, sleeps a fixed 4 minutes, and
//!   re-creates from bundle, user and directory only. 15-minute timeout, 0 retries,
//!   128 MB, and the account's Lambda concurrency limit.

use std::collections::BTreeMap;
use std::time::Duration;

use blankslate_core::events::{self, Event};
use blankslate_core::ids::WorkspaceId;
use blankslate_core::spec::WorkspaceSpec;
use blankslate_core::Timestamp;

use crate::metrics::SEED_LAMBDA_GB;
use crate::timeline::{Actor, EntryKind};
use crate::world::{Due, Function, World};

const FIRST_SLEEP: Duration = Duration::from_secs(10 * 60);
const SECOND_SLEEP: Duration = Duration::from_secs(4 * 60);
const LOOK_BACK: Duration = Duration::from_secs(15 * 60);
/// The seed's own log shows about 1.2 s for the alarm functions.
const ALARM_FUNCTION_SECONDS: f64 = 1.2;

enum Stage {
    Waiting { workspace: WorkspaceId, spec: WorkspaceSpec },
    Terminated { spec: WorkspaceSpec },
}

struct Running {
    started: Timestamp,
    stage: Stage,
}

/// The seed functions' in-flight invocations (the sleeping ones).
#[derive(Default)]
pub(crate) struct SeedFunctions {
    running: BTreeMap<u64, Running>,
    next: u64,
}

impl SeedFunctions {
    pub(crate) fn deliver(&mut self, world: &mut World, function: Function, event: &serde_json::Value) {
        world.caller = Actor::Seed;
        match function {
            Function::AlarmCreate => {
                count(world, "Workspace_Alarm_Create", ALARM_FUNCTION_SECONDS);
                if let Ok(Some(Event::WorkspacesCreated { ids, .. })) = events::parse_eventbridge(event) {
                    if let Some(first) = ids.first() {
                        let _ = world.api_put_alarm(first);
                    }
                }
            }
            Function::AlarmDelete => {
                count(world, "Workspace_Alarm_Del", ALARM_FUNCTION_SECONDS);
                if let Ok(Some(Event::WorkspacesTerminated { ids, .. })) = events::parse_eventbridge(event) {
                    if let Some(first) = ids.first() {
                        let _ = world.api_delete_alarms(std::slice::from_ref(first));
                    }
                }
            }
            Function::TermRebuild => self.start_rebuild(world, event),
        }
        world.caller = Actor::Admin;
    }

    fn start_rebuild(&mut self, world: &mut World, event: &serde_json::Value) {
        if self.running.len() >= world.scenario.lambda_concurrency {
            // Throttled: Lambda's async queue retries it later.
            world.schedule_in(Duration::from_secs(60), Due::Deliver(Function::TermRebuild, event.clone()));
            return;
        }
        let Ok(parsed) = events::parse_sns(event) else { return };
        for event in parsed {
            let Event::DisconnectAlarm { workspace_id, .. } = event else { continue };
            *world.metrics.invocations.entry("Workspace_Term_Rebuild").or_default() += 1;
            // describe_workspaces: user name, bundle and directory (and nothing else).
            let Ok(found) = world.api_describe(std::slice::from_ref(&workspace_id)) else { continue };
            let Some(desc) = found.into_iter().next() else {
                fail(world, &workspace_id, "WorkSpace not found");
                continue;
            };
            let spec = WorkspaceSpec::new(desc.spec.directory_id, desc.spec.user_name, desc.spec.bundle_id);
            self.next += 1;
            self.running.insert(
                self.next,
                Running { started: world.now, stage: Stage::Waiting { workspace: workspace_id, spec } },
            );
            self.count_running(world);
            world.schedule_in(FIRST_SLEEP, Due::SeedWake(self.next));
        }
    }

    pub(crate) fn wake(&mut self, world: &mut World, invocation: u64) {
        let Some(running) = self.running.remove(&invocation) else { return };
        world.caller = Actor::Seed;
        match running.stage {
            Stage::Waiting { workspace, spec } => {
                let since = world.now - LOOK_BACK;
                if world.connection_successes(&workspace, since) > 0 {
                    world
                        .note_for_ws(&workspace, EntryKind::SeedFailed("user reconnected: termination aborted".into()));
                    finish(world, running.started);
                } else {
                    match world.api_terminate(std::slice::from_ref(&workspace)) {
                        Ok(failed) if failed.is_empty() => {
                            self.running.insert(
                                invocation,
                                Running { started: running.started, stage: Stage::Terminated { spec } },
                            );
                            world.schedule_in(SECOND_SLEEP, Due::SeedWake(invocation));
                        }
                        _ => {
                            fail(world, &workspace, "TerminateWorkspaces refused");
                            finish(world, running.started);
                        }
                    }
                }
            }
            Stage::Terminated { spec } => {
                let user = spec.user_name.to_string();
                match world.api_create(std::slice::from_ref(&spec)) {
                    Ok(answer) if !answer.pending.is_empty() => {}
                    Ok(answer) => {
                        let code = answer.failed.first().map(|f| f.code.clone()).unwrap_or_default();
                        world.metrics.seed_failures += 1;
                        let why =
                            format!("CreateWorkspaces failed ({code}) 4 min after terminate; 0 retries: desktop lost");
                        world.record(user, None, EntryKind::SeedFailed(why));
                    }
                    Err(e) => {
                        world.metrics.seed_failures += 1;
                        world.record(user, None, EntryKind::SeedFailed(e.to_string()));
                    }
                }
                finish(world, running.started);
            }
        }
        // Counted once the stage is over: an invocation going back to sleep runs on.
        self.count_running(world);
        world.caller = Actor::Admin;
    }

    /// The sleeping invocations are the seed's running instances (its alarm functions,
    /// 1.2 s each, are not counted).
    fn count_running(&self, world: &mut World) {
        world.metrics.peak_concurrency = world.metrics.peak_concurrency.max(self.running.len());
        let minute = world.minute();
        world.metrics.series.concurrency(minute, self.running.len());
    }

    /// Invocations still asleep when the run ends are billed up to the end.
    pub(crate) fn finish(&mut self, world: &mut World) {
        for running in std::mem::take(&mut self.running).into_values() {
            finish(world, running.started);
        }
    }
}

fn count(world: &mut World, name: &'static str, seconds: f64) {
    *world.metrics.invocations.entry(name).or_default() += 1;
    world.metrics.lambda_gb_seconds += SEED_LAMBDA_GB * seconds;
}

fn finish(world: &mut World, started: Timestamp) {
    world.metrics.lambda_gb_seconds += SEED_LAMBDA_GB * world.now.since(started).as_secs_f64();
}

fn fail(world: &mut World, id: &WorkspaceId, why: &str) {
    world.metrics.seed_failures += 1;
    world.note_for_ws(id, EntryKind::SeedFailed(why.into()));
}
