//! The event loop: pops the next scheduled item off the virtual clock and lets the
//! simulated users, AWS and the chosen policy's functions react to it.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use blankslate_core::config::AlarmMode;
use blankslate_core::events;
use blankslate_core::ids::WorkspaceId;
use blankslate_core::journal::Phase;
use blankslate_core::observe::WorkspaceState;
use blankslate_core::Timestamp;
use blankslate_handlers as handlers;
use blankslate_handlers::ports::Ports;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use blankslate_handlers::ports::ErrorKind;
use blankslate_handlers::HandlerError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::aws::SimAws;
use crate::metrics::{Metrics, EVENT_FUNCTION_GB, RECONCILER_GB};
use crate::open::Metric;
use crate::queue;
use crate::scenario::Scenario;
use crate::seed_policy::SeedFunctions;
use crate::timeline::{Actor, Entry, EntryKind};
use crate::world::{Due, Function, SimWorkspace, Violation, World};

/// Which system runs the fleet.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub enum Policy {
    /// Ours.
    Blankslate,
    /// The seed's algorithm as written.
    Seed,
}

/// Everything a run produced.
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// The policy that ran.
    pub policy: Policy,
    /// The seed of the run; the same scenario and seed replay it exactly.
    pub seed: u64,
    /// What happened, in order.
    pub timeline: Vec<Entry>,
    /// Broken invariants (empty for a correct policy).
    pub violations: Vec<Violation>,
    /// Counters.
    pub metrics: Metrics,
}

/// Runs the future of a function against the simulated account. The simulated ports
/// never wait, so every future is ready on its first poll; one that is not means a port
/// started waiting on something, which the simulator reports instead of hanging.
pub fn run_inline<F: Future>(future: F) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Estimated billed duration of one of our invocations: start-up plus a round trip per
/// call. A model (20 ms + 25 ms per call), not a measurement.
fn estimated_seconds(calls: u64) -> f64 {
    0.02 + 0.025 * calls as f64
}

/// Runs `scenario` under `policy`; the same inputs always give the same outcome.
pub fn run(scenario: Scenario, policy: Policy, seed: u64) -> Outcome {
    Simulation::new(scenario, policy, seed).finish()
}

/// An event held back from delivery (see [`Simulation::hold_events`]).
#[derive(Clone, Debug)]
pub struct HeldEvent {
    /// The function it was on its way to.
    pub function: Function,
    /// The event.
    pub event: serde_json::Value,
}

/// A run that can be stepped, inspected and interfered with: tests hold events back
/// and deliver them late, twice, out of order or never.
pub struct Simulation {
    aws: SimAws,
    /// When each of our running function instances ends (for Lambda concurrency).
    running: BinaryHeap<Reverse<Timestamp>>,
    /// When each batch the alarm queue's poller has in flight ends.
    esm_running: BinaryHeap<Reverse<Timestamp>>,
    policy: Policy,
    seed: u64,
    seed_functions: SeedFunctions,
    end: Timestamp,
    /// When set, events on their way to a function are kept in [`Simulation::take_held`]
    /// instead of being delivered.
    pub hold_events: bool,
    held: Vec<HeldEvent>,
}

impl Simulation {
    /// Sets the scenario up at its start time: pre-existing WorkSpaces, the admin's
    /// creates, the first sessions and the reconciler's schedule.
    pub fn new(scenario: Scenario, policy: Policy, seed: u64) -> Self {
        let mut world = World::new(scenario, ChaCha8Rng::seed_from_u64(seed));
        if policy == Policy::Blankslate && world.scenario.config.directory.is_none() {
            // Every simulated fleet joins a directory; blankslate cleans it up (issue 14).
            world.scenario.config.directory =
                blankslate_core::directory::DirectorySettings::new(crate::directory::BASE_DN, "WSAMZN-").ok();
        }
        let end = world.now + world.scenario.duration + world.scenario.settle;
        world.faults_until = world.now + world.scenario.duration;
        setup(&mut world, policy);
        Self {
            aws: SimAws::new(world),
            running: BinaryHeap::new(),
            esm_running: BinaryHeap::new(),
            policy,
            seed,
            seed_functions: SeedFunctions::default(),
            end,
            hold_events: false,
            held: Vec::new(),
        }
    }

    /// The simulated account.
    pub fn aws(&self) -> &SimAws {
        &self.aws
    }

    /// The virtual clock.
    pub fn now(&self) -> Timestamp {
        self.aws.world().now
    }

    /// When the run ends (the scenario's duration plus its settle period).
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// The policy running the fleet.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Processes everything scheduled up to `until` (or the end of the scenario).
    pub fn run_until(&mut self, until: Timestamp) {
        let until = until.min(self.end);
        loop {
            let Some(due) = self.aws.world().pop(until) else { break };
            match due {
                Due::Deliver(function, event) if self.hold_events => self.held.push(HeldEvent { function, event }),
                Due::Deliver(function, event) => self.deliver(function, &event),
                Due::Retry(function, event, attempt) => self.deliver_attempt(function, &event, attempt),
                Due::Reconcile => {
                    self.invoke(None, 0);
                    let mut world = self.aws.world();
                    let period = world.scenario.config.reconcile_period;
                    world.schedule_in(period, Due::Reconcile);
                }
                Due::SeedWake(invocation) => self.seed_functions.wake(&mut self.aws.world(), invocation),
                Due::Poll => self.poll(),
                other => self.aws.world().advance(other, self.policy),
            }
        }
        let mut world = self.aws.world();
        world.now = world.now.max(until);
    }

    /// Events held back so far (emptied).
    pub fn take_held(&mut self) -> Vec<HeldEvent> {
        std::mem::take(&mut self.held)
    }

    /// Delivers an event to a function now.
    pub fn deliver(&mut self, function: Function, event: &serde_json::Value) {
        self.deliver_attempt(function, event, 0);
    }

    fn deliver_attempt(&mut self, function: Function, event: &serde_json::Value, attempt: u8) {
        match self.policy {
            // The disconnect topic's subscriber is the alarm queue, not the function.
            Policy::Blankslate if function == Function::TermRebuild && is_sns(event) => self.enqueue(event),
            Policy::Blankslate => self.invoke(Some((function, event)), attempt),
            Policy::Seed => self.seed_functions.deliver(&mut self.aws.world(), function, event),
        }
    }

    /// Runs to the end of the scenario and judges the result.
    pub fn finish(mut self) -> Outcome {
        self.run_until(self.end);
        let mut world = self.aws.into_world();
        end_instances(&mut self.running, &mut world, self.end);
        let minutes = world.minute_of(self.end);
        world.metrics.series.finish(minutes);
        self.seed_functions.finish(&mut world);
        final_checks(&mut world, self.policy);
        let seed = self.seed;
        Outcome {
            policy: self.policy,
            seed,
            timeline: world.timeline,
            violations: world.violations,
            metrics: world.metrics,
        }
    }
}

impl Simulation {
    /// Invokes one of our functions as Lambda would (an event for one of the event
    /// functions, `None` for the reconciler's schedule), and accounts for it: its billed
    /// time (a model: start-up, a round trip per call, and any wait for API tokens), the
    /// concurrency it adds, and Lambda's two retries of a failed event invocation.
    fn invoke(&mut self, event: Option<(Function, &serde_json::Value)>, attempt: u8) {
        let Some((config, now, calls_before)) = self.begin_invocation(event.is_some()) else {
            // Lambda throttles the invocation: an event waits in the async queue, a
            // schedule tick is simply missed.
            if let Some((function, event)) = event {
                self.aws.world().schedule_in(Duration::from_secs(60), Due::Retry(function, event.clone(), attempt));
            }
            return;
        };
        let aws = &self.aws;
        let idle = event.is_none() && aws.world().reconcile_tick_is_idle();
        let ports = Ports { workspaces: aws, alarms: aws, journal: aws, notifier: aws };
        let name = event.map_or("reconcile", |(f, _)| f.name());
        let result = if idle {
            // The tick would list the journal and find nothing to read or do: account for
            // exactly that (same calls, same time) without copying every record.
            let scan = aws.world().journal_scan_pages();
            Some(scan.map(|()| handlers::Report::default()).map_err(HandlerError::Journal))
        } else {
            run_inline(async {
                match event {
                    Some((Function::AlarmCreate, event)) => handlers::alarm_create(ports, &config, now, event).await,
                    Some((Function::AlarmDelete, event)) => handlers::alarm_delete(ports, &config, now, event).await,
                    Some((Function::TermRebuild, event)) => handlers::term_rebuild(ports, &config, now, event).await,
                    None => handlers::reconcile_with_directory(ports, Some(aws), &config, now).await,
                }
            })
        };
        let (crashed, _) = self.finish_invocation(name, event.is_some(), now, calls_before);
        let mut world = self.aws.world();
        match result.map(|r| r.map(|_| ())) {
            Some(outcome) if crashed || failed_transiently(&outcome.as_ref().map(|_| ())) => {
                // The invocation failed as a function fails in Lambda: an event is retried
                // twice (after about 1 and 2 minutes), then dropped; the schedule runs the
                // reconciler again anyway.
                world.metrics.failed_invocations += 1;
                if let Some((function, event)) = event.filter(|_| attempt < 2) {
                    let after = Duration::from_secs(60 * (u64::from(attempt) + 1));
                    world.schedule_in(after, Due::Retry(function, event.clone(), attempt + 1));
                }
            }
            Some(Ok(())) => {}
            Some(Err(e)) => {
                let detail = format!("{name} failed: {e}");
                world.violation("handler", String::new(), None, detail);
            }
            None => world.violation("handler", String::new(), None, format!("{name} waited on a simulated port")),
        }
    }

    /// Starts an invocation: `None` when the account's concurrency is used up (Lambda
    /// throttles it); else the configuration, the time and the API calls so far.
    fn begin_invocation(&mut self, event: bool) -> Option<(blankslate_core::config::Config, Timestamp, u64)> {
        let mut world = self.aws.world();
        let now = world.now;
        end_instances(&mut self.running, &mut world, now);
        if self.running.len() >= world.scenario.lambda_concurrency {
            return None;
        }
        world.caller = Actor::Blankslate;
        // The reconciler spreads its tick's calls over its period at the rate it has
        // learned, so a call may wait for a token until the period ends; beyond
        // that its SDK gives up with ThrottlingException, as an event function's does.
        world.patience = if event { EVENT_PATIENCE } else { world.scenario.config.reconcile_period };
        world.waited = Duration::ZERO;
        world.crashed = false;
        world.calls_in_invocation = 0;
        // A crashing invocation dies between two of its first 64 calls (or not at all
        // if it makes fewer).
        let crash = world.scenario.faults.crash;
        world.crash_at =
            if world.faults_on() && world.chance(crash) { Some(world.rng.random_range(1..=64)) } else { None };
        Some((world.scenario.config.clone(), now, world.metrics.api_calls.values().sum::<u64>()))
    }

    /// Ends an invocation begun at `now`: bills it, counts its concurrency. Returns whether
    /// it died at an injected crash, and when it ends.
    fn finish_invocation(
        &mut self,
        name: &'static str,
        event: bool,
        now: Timestamp,
        calls_before: u64,
    ) -> (bool, Timestamp) {
        let mut world = self.aws.world();
        world.caller = Actor::Admin;
        let crashed = std::mem::take(&mut world.crashed);
        let calls = world.metrics.api_calls.values().sum::<u64>() - calls_before;
        *world.metrics.invocations.entry(name).or_default() += 1;
        let memory_gb = if event { EVENT_FUNCTION_GB } else { RECONCILER_GB };
        let seconds = estimated_seconds(calls) + world.waited.as_secs_f64();
        world.metrics.lambda_gb_seconds += memory_gb * seconds;
        let ends = now + Duration::from_secs_f64(seconds);
        self.running.push(Reverse(ends));
        world.metrics.peak_concurrency = world.metrics.peak_concurrency.max(self.running.len());
        let minute = world.minute();
        world.metrics.series.concurrency(minute, self.running.len());
        (crashed, ends)
    }

    /// SNS delivers an alarm notification to the alarm queue (raw message delivery: the
    /// body is the notification itself), and the poller hears of it.
    fn enqueue(&mut self, event: &serde_json::Value) {
        let mut world = self.aws.world();
        let now = world.now;
        for record in event["Records"].as_array().into_iter().flatten() {
            let body = record["Sns"]["Message"].as_str().map_or_else(|| record.to_string(), str::to_owned);
            world.alarm_queue.send(body, now);
        }
        let visible = world.alarm_queue.visible(now);
        drop(world);
        // The poller sends a full batch at once, else what it has when the window ends.
        self.poll_at(if visible >= queue::BATCH_SIZE { now } else { now + queue::BATCHING_WINDOW });
    }

    /// Schedules the poller's wake-up at `at`, unless one is due no later.
    fn poll_at(&mut self, at: Timestamp) {
        let mut world = self.aws.world();
        let now = world.now;
        let pending = world.alarm_queue.next_poll.filter(|&p| p > now || p == at);
        if pending.is_none_or(|p| at < p) {
            world.alarm_queue.next_poll = Some(at);
            world.schedule(at, Due::Poll);
        }
    }

    /// Lambda's SQS poller: hands Workspace_Term_Rebuild every visible message, a batch at
    /// a time, as far as the mapping's concurrency allows; deletes what each batch did not
    /// fail; looks again when a batch ends or a message becomes visible again.
    fn poll(&mut self) {
        let now = self.now();
        {
            let mut world = self.aws.world();
            if world.alarm_queue.next_poll.is_some_and(|p| p <= now) {
                world.alarm_queue.next_poll = None;
            }
        }
        while self.esm_running.peek().is_some_and(|Reverse(end)| *end <= now) {
            self.esm_running.pop();
        }
        loop {
            let (capacity, batch) = {
                let mut world = self.aws.world();
                let capacity = world.alarm_queue.concurrency(now);
                if self.esm_running.len() >= capacity || world.alarm_queue.visible(now) == 0 {
                    break;
                }
                let dead_before = world.alarm_queue.dead_letters.len();
                let batch = world.alarm_queue.receive(now);
                let dead: Vec<(String, String)> = world.alarm_queue.dead_letters[dead_before..].to_vec();
                for (id, body) in dead {
                    world.dead_letter(&id, &body);
                }
                (capacity, batch)
            };
            if batch.is_empty() {
                continue;
            }
            let Some(ends) = self.invoke_batch(&batch) else { break };
            self.esm_running.push(Reverse(ends));
            debug_assert!(self.esm_running.len() <= capacity);
        }
        let world = self.aws.world();
        let next = if world.alarm_queue.visible(now) > 0 {
            // Every poller busy: look again when the first batch ends.
            self.esm_running.peek().map(|Reverse(end)| *end).or(Some(now + Duration::from_secs(1)))
        } else {
            world.alarm_queue.next_visible(now)
        };
        drop(world);
        if let Some(at) = next {
            self.poll_at(at);
        }
    }

    /// One batch from the alarm queue, as the event source mapping invokes it. Returns when
    /// the invocation ends, or `None` when Lambda throttled it (the messages come back
    /// after their visibility timeout).
    fn invoke_batch(&mut self, batch: &[blankslate_core::events::sqs::Delivery]) -> Option<Timestamp> {
        let (config, now, calls_before) = self.begin_invocation(true)?;
        let event = {
            let mut world = self.aws.world();
            let ctx = world.emit_context();
            let queue = format!("arn:aws:sqs:{}:{}:Workspace_Disconnected_Queue", ctx.region, ctx.account);
            blankslate_core::events::sqs::sqs_event(&queue, &ctx.region, &ctx.account, batch)
        };
        let aws = &self.aws;
        let ports = Ports { workspaces: aws, alarms: aws, journal: aws, notifier: aws };
        let result = run_inline(handlers::term_rebuild_queue(ports, &config, now, &event));
        let name = Function::TermRebuild.name();
        let (crashed, ends) = self.finish_invocation(name, true, now, calls_before);
        let mut world = self.aws.world();
        world.metrics.queue_batches += 1;
        match result {
            // A crash or a failed invocation: the whole batch comes back after the
            // visibility timeout (nothing is deleted).
            Some(outcome) if crashed || failed_transiently(&outcome.as_ref().map(|_| ())) => {
                world.metrics.failed_invocations += 1;
            }
            Some(Ok(answer)) => world.alarm_queue.settle(batch, &answer.failed),
            Some(Err(e)) => world.violation("handler", String::new(), None, format!("{name} failed on a batch: {e}")),
            None => world.violation("handler", String::new(), None, format!("{name} waited on a simulated port")),
        }
        Some(ends)
    }
}

/// A failed call Lambda's retries are for (throttled, or a 5xx/timeout).
fn failed_transiently(outcome: &Result<(), &HandlerError>) -> bool {
    matches!(outcome, Err(e) if e.port().is_some_and(|e| matches!(e.kind, ErrorKind::Throttled | ErrorKind::Unavailable)))
}

/// An event as SNS hands it to a subscriber.
fn is_sns(event: &serde_json::Value) -> bool {
    event.pointer("/Records/0/EventSource").and_then(serde_json::Value::as_str) == Some("aws:sns")
}

/// Takes the instances that ended by `now` off `running`, in the order they ended, into
/// the concurrency series.
fn end_instances(running: &mut BinaryHeap<Reverse<Timestamp>>, world: &mut World, now: Timestamp) {
    while let Some(&Reverse(end)) = running.peek().filter(|Reverse(end)| *end <= now) {
        running.pop();
        let minute = world.minute_of(end);
        world.metrics.series.concurrency(minute, running.len());
    }
}

/// How long an event function's calls may wait for an API token: its SDK retries within
/// a 30-second timeout.
const EVENT_PATIENCE: Duration = Duration::from_secs(20);

impl Function {
    fn name(self) -> &'static str {
        match self {
            Self::AlarmCreate => "Workspace_Alarm_Create",
            Self::AlarmDelete => "Workspace_Alarm_Del",
            Self::TermRebuild => "Workspace_Term_Rebuild",
        }
    }
}

/// Day zero: WorkSpaces that predate the deploy, the admin's creates, the users' first
/// sessions and the reconciler's schedule.
fn setup(world: &mut World, policy: Policy) {
    let start = world.now;
    let alarms_on = world.scenario.config.alarm_mode == AlarmMode::PerWorkspace;
    for i in 0..world.scenario.desks.len() {
        let plan = world.scenario.desks[i].clone();
        match plan.created_at {
            None => {
                let id = world.insert_existing(i);
                if world.scenario.enrolled_at_start {
                    // Deployed on an earlier day: enrolled and alarmed (the seed alarms all).
                    let managed = world.scenario.config.selector.matches(&plan.spec);
                    if policy == Policy::Seed || (managed && alarms_on) {
                        world.alarms.insert(id.clone(), false);
                    }
                    if policy == Policy::Blankslate && managed {
                        let since = start - Duration::from_secs(3600);
                        world.journal_seed(blankslate_core::journal::Record::enrol(plan.spec.clone(), id, since));
                    }
                }
            }
            Some(offset) => world.schedule(start + offset, Due::AdminCreate(i)),
        }
        if let Some(first) = plan.sessions.first() {
            world.schedule(start + first.start, Due::UserArrives(i));
        }
    }
    if policy == Policy::Blankslate {
        world.schedule(start, Due::Reconcile);
    }
    world.metrics.series.sample_minutes = SAMPLE_MINUTES;
    world.schedule(start, Due::Sample);
}

/// Minutes between two samples of the fleet's states.
const SAMPLE_MINUTES: u32 = 5;

impl World {
    /// Users, WorkSpaces and CloudWatch reacting to the clock.
    pub(crate) fn advance(&mut self, due: Due, policy: Policy) {
        match due {
            Due::Ready(id) => self.ready(&id),
            Due::TerminateDone(id) => {
                if let Some(w) = self.workspaces.get_mut(&id) {
                    w.state = WorkspaceState::Terminated;
                }
                let visible = self.scenario.timings.terminated_visible;
                self.schedule_in(visible, Due::Removed(id));
            }
            Due::Removed(id) => self.remove(&id),
            Due::UserArrives(i) => self.user_arrives(i, policy),
            Due::UserLeaves(i, generation) => self.user_leaves(i, generation),
            Due::AlarmEval(id) => self.evaluate_alarm(&id),
            Due::AdminCreate(i) => {
                self.caller = Actor::Admin;
                let spec = self.scenario.desks[i].spec.clone();
                if let Err(e) = self.api_create(&[spec]) {
                    let user = self.desks[i].key.user_name.to_string();
                    self.record(user, None, EntryKind::Notice(format!("admin's create failed: {e}")));
                }
            }
            Due::Sample => {
                self.sample_states();
                self.schedule_in(Duration::from_secs(60 * u64::from(SAMPLE_MINUTES)), Due::Sample);
            }
            Due::Deliver(..) | Due::Retry(..) | Due::Reconcile | Due::SeedWake(_) | Due::Poll => {}
        }
    }

    fn ready(&mut self, id: &WorkspaceId) {
        let Some(w) = self.workspaces.get_mut(id) else { return };
        if w.state != WorkspaceState::Pending {
            return;
        }
        w.state = WorkspaceState::Available;
        let completes = w.completes_rebuild.take();
        let aws_time = w.aws_time;
        self.note_for_ws(id, EntryKind::Available);
        if let Some(disconnected) = completes {
            let took = self.now.since(disconnected);
            self.metrics.rebuilds += 1;
            self.metrics.time_to_fresh.push(took);
            self.metrics.overhead.push(took.saturating_sub(self.scenario.config.grace + aws_time));
            let minute = self.minute();
            self.metrics.series.rebuilt(minute);
            self.note_for_ws(id, EntryKind::Rebuilt { took });
        }
    }

    fn remove(&mut self, id: &WorkspaceId) {
        let Some(w) = self.take_workspace(id) else { return };
        if let Some(i) = self.desk_of(&w.spec.desk()) {
            if self.desks[i].current.as_ref() == Some(id) {
                self.desks[i].current = None;
            }
        }
        self.record(w.spec.user_name.to_string(), Some(id.clone()), EntryKind::Gone);
    }

    fn user_arrives(&mut self, i: usize, policy: Policy) {
        let end_of_day = self.scenario.start + self.scenario.duration;
        let desk = &self.desks[i];
        if desk.connected || self.now > end_of_day {
            return;
        }
        let Some(session) = self.scenario.desks[i].sessions.get(desk.next_session).copied() else { return };
        let user = desk.key.user_name.to_string();
        let now = self.now;
        self.settle_absence(i, now);
        let desk = &self.desks[i];
        let usable = desk.current.clone().filter(|id| {
            self.workspaces.get(id).is_some_and(|w| w.state == WorkspaceState::Available && w.visible_at <= self.now)
        });
        let Some(id) = usable else {
            if desk.waiting_since.is_none() {
                let current = desk.current.clone();
                self.desks[i].waiting_since = Some(self.now);
                self.record(user, current, EntryKind::Waiting);
            }
            self.schedule_in(Duration::from_secs(60), Due::UserArrives(i));
            return;
        };
        if let Some(since) = self.desks[i].waiting_since.take() {
            self.metrics.waits += 1;
            self.metrics.wait_total += now.since(since);
        }
        let generation = self.begin_session(i, &id);
        self.schedule_in(session.length, Due::UserLeaves(i, generation));
        if policy == Policy::Blankslate {
            // The seed has no rule for WorkSpaces' login events.
            self.announce_login(&id);
        }
    }

    /// The user of desk `i` connects to `id` now: the session, the ConnectionSuccess
    /// datapoint and the timeline entry. Returns the session's generation.
    pub(crate) fn begin_session(&mut self, i: usize, id: &WorkspaceId) -> u64 {
        let now = self.now;
        let desk = &mut self.desks[i];
        desk.connected = true;
        desk.generation += 1;
        desk.next_session += 1;
        let generation = desk.generation;
        let user = desk.key.user_name.to_string();
        let fresh = self.workspaces.get(id).is_some_and(|w| !w.used);
        let grace = self.scenario.config.grace;
        let owed = fresh || self.desks[i].last_disconnect.is_none_or(|t| now.since(t) > grace);
        if owed && self.scenario.config.selector.matches(&self.scenario.desks[i].spec) {
            self.metrics.owed_fresh += 1;
            self.metrics.got_fresh += u64::from(fresh);
        }
        if let Some(w) = self.workspaces.get_mut(id) {
            w.used = true;
            w.last_user_connection = Some(now);
            w.connections.push(now);
        }
        self.metrics.sessions += 1;
        if fresh {
            self.metrics.fresh_sessions += 1;
        } else {
            self.metrics.used_sessions += 1;
        }
        self.record(user, Some(id.clone()), EntryKind::Connected { fresh });
        self.emit_metric(id, Metric::ConnectionSuccess);
        generation
    }

    /// WorkSpaces' "WorkSpaces Access" event for a login to `id` now, on its way to the
    /// rebuild function after the login event delay.
    pub(crate) fn announce_login(&mut self, id: &WorkspaceId) {
        let Some(directory) = self.workspaces.get(id).map(|w| w.spec.directory_id.clone()) else { return };
        let ctx = self.emit_context();
        let event = events::workspaces_access_login(&ctx, self.now, id, &directory);
        let delay = self.scenario.timings.login_event_delay.sample(&mut self.rng);
        self.schedule_in(delay, Due::Deliver(Function::TermRebuild, event));
    }

    pub(crate) fn user_leaves(&mut self, i: usize, generation: u64) {
        let desk = &mut self.desks[i];
        if !desk.connected || desk.generation != generation {
            return;
        }
        desk.connected = false;
        desk.last_disconnect = Some(self.now);
        if self.scenario.config.selector.matches(&self.scenario.desks[i].spec) {
            desk.away_since = Some(self.now);
        }
        let user = desk.key.user_name.to_string();
        let current = desk.current.clone();
        let next_start = self.scenario.desks[i].sessions.get(desk.next_session).map(|s| s.start);
        if let Some(id) = &current {
            let now = self.now;
            if let Some(w) = self.workspaces.get_mut(id) {
                w.disconnects.push(now);
            }
            self.emit_metric(id, Metric::SessionDisconnect);
            // CloudWatch evaluates at the first minute boundary whose window holds the datapoint.
            let published = now + self.scenario.timings.metric_delay;
            let minute = 60_000;
            let eval = Timestamp::from_millis((published.as_millis().div_euclid(minute) + 1) * minute);
            self.schedule(eval, Due::AlarmEval(id.clone()));
        }
        self.record(user, current, EntryKind::Disconnected);
        if let Some(start) = next_start {
            let at = (self.scenario.start + start).max(self.now + Duration::from_secs(1));
            self.schedule(at, Due::UserArrives(i));
        }
    }
}

/// What can only be judged at the end: every rebuild finished (L1), one WorkSpace per
/// desk (S4), no leaked or missing alarms, a bounded journal, every managed desk enrolled.
fn final_checks(world: &mut World, policy: Policy) {
    world.metrics.stale_computer_objects = world.stale_computer_objects();
    world.metrics.computer_objects_deleted = world.directory.deleted;
    let end = world.now;
    for i in 0..world.desks.len() {
        world.settle_absence(i, end);
        let desk = world.desks[i].clone();
        let user = desk.key.user_name.to_string();
        let planned = world.scenario.desks[i].sessions.iter().filter(|s| s.start <= world.scenario.duration).count();
        world.metrics.sessions_missed += planned.saturating_sub(desk.next_session) as u64;
        if desk.awaiting_rebuild.is_some() {
            // A rebuild our journal shows under way, started within the settle period, is
            // still running when the clock stops (a backlog, not a loss); anything else is.
            let settle_began = world.now - world.scenario.settle;
            let running = policy == Policy::Blankslate
                && world.journal.get(&desk.key).is_some_and(|r| match r.phase {
                    Phase::Terminating { started_at, .. } | Phase::Creating { started_at, .. } => {
                        started_at >= settle_began
                    }
                    _ => false,
                });
            if running {
                world.metrics.unfinished_at_end += 1;
            } else {
                world.metrics.lost_desktops += 1;
                world.violation("L1", user.clone(), None, "terminated by the policy and never re-created".into());
            }
        }
        if desk.next_session > 0
            && !desk.connected
            && world.scenario.config.selector.matches(&world.scenario.desks[i].spec)
        {
            // A user who has left: is a fresh desktop waiting for their next session?
            world.metrics.left_users += 1;
            let ready = desk
                .current
                .as_ref()
                .and_then(|id| world.workspaces.get(id))
                .is_some_and(|w| !w.used && matches!(w.state, WorkspaceState::Available | WorkspaceState::Pending));
            world.metrics.left_with_fresh += u64::from(ready);
        }
        let live: Vec<&SimWorkspace> =
            world.workspaces_of_desk(&desk.key).iter().filter_map(|id| world.workspaces.get(id)).collect();
        let count = live.len();
        let managed_now = live.iter().any(|w| !w.state.is_going() && world.scenario.config.selector.matches(&w.spec));
        if count > 1 {
            world.violation("S4", user.clone(), None, format!("{count} WorkSpaces for one desk"));
        }
        if policy == Policy::Blankslate && managed_now && !world.journal.contains_key(&desk.key) {
            world.violation("enrol", user, None, "a managed WorkSpace was never enrolled".into());
        }
    }
    let leaked: Vec<_> = world.alarms.keys().filter(|id| !world.workspaces.contains_key(*id)).cloned().collect();
    for id in leaked {
        world.violation("alarms", String::new(), Some(id), "alarm left for a WorkSpace that no longer exists".into());
    }
    if policy == Policy::Blankslate {
        let alarms_on = world.scenario.config.alarm_mode == AlarmMode::PerWorkspace;
        let missing: Vec<_> = world
            .journal
            .values()
            .filter_map(|r| match &r.phase {
                Phase::Active { workspace_id } | Phase::Disconnected { workspace_id, .. } => Some(workspace_id.clone()),
                _ => None,
            })
            .filter(|id| alarms_on && !world.alarms.contains_key(id))
            .collect();
        for id in missing {
            world.violation("alarms", String::new(), Some(id), "managed WorkSpace without its alarm".into());
        }
        if world.journal.len() > world.desks.len() {
            let detail = format!("{} records for {} desks", world.journal.len(), world.desks.len());
            world.violation("journal", String::new(), None, detail);
        }
        let unmanaged: Vec<_> =
            world.journal.keys().filter(|k| world.desk_of(k).is_none()).map(|k| k.user_name.to_string()).collect();
        for user in unmanaged {
            world.violation("journal", user, None, "record for a desk outside the fleet".into());
        }
    }
}
