//! What stands between a caller and the simulated service: the WorkSpaces API's token
//! buckets and, while faults are on, injected failures. Every simulated API call passes
//! [`World::gate`] first.

use std::collections::BTreeMap;
use std::time::Duration;

use blankslate_core::Timestamp;
use blankslate_handlers::ports::{ErrorKind, PortError};
use rand::Rng;

use crate::limits::ApiLimits;
use crate::timeline::Actor;
use crate::world::World;

/// A token bucket: `rate` tokens a second up to `burst`. A caller that may wait up to
/// `patience` for a token takes it from the future (the bucket goes below zero), which
/// models a paced client: its calls are spread over the time the tokens take to arrive,
/// and whoever comes next finds the bucket drained.
#[derive(Clone, Debug)]
pub(crate) struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    at: Timestamp,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(rate: f64, burst: f64, now: Timestamp) -> Self {
        Self { tokens: burst, rate, burst, at: now }
    }

    /// Adds what arrived by `now` at the current rate.
    fn refill(&mut self, now: Timestamp) {
        if now > self.at {
            self.tokens = (self.tokens + self.rate * now.since(self.at).as_secs_f64()).min(self.burst);
            self.at = now;
        }
    }

    /// From `at` on, the bucket fills at `rate` up to `burst`: what arrived before `at`
    /// came at the old rate, and tokens above the new burst are lost (a debt stays owed).
    fn retune(&mut self, at: Timestamp, rate: f64, burst: f64) {
        self.refill(at);
        self.rate = rate;
        self.burst = burst;
        self.tokens = self.tokens.min(burst);
    }

    /// Takes a token if one arrives within `patience`; returns how long the caller waits
    /// for it, or `None` (ThrottlingException) when it would wait longer.
    fn take(&mut self, now: Timestamp, patience: Duration) -> Option<Duration> {
        if self.rate <= 0.0 {
            return Some(Duration::ZERO);
        }
        self.refill(now);
        let after = self.tokens - 1.0;
        if after < -self.rate * patience.as_secs_f64() {
            return None;
        }
        self.tokens = after;
        Some(Duration::from_secs_f64((-after).max(0.0) / self.rate))
    }
}

/// The WorkSpaces API's buckets of one account and Region, for a given [`ApiLimits`]:
/// one shared bucket, or one per operation keyed by the WorkSpaces operation name
/// (`DescribeWorkspaces`, `DescribeWorkspacesConnectionStatus`, `DescribeTags`,
/// `TerminateWorkspaces`, `CreateWorkspaces`, ...). The limit's scheduled changes take
/// effect at their instant, whenever the next call comes; [`ApiBuckets::change`] changes
/// it from outside (the emulator's control endpoint). Time is whatever the caller says:
/// the simulator's virtual clock or the emulator's wall clock.
#[derive(Clone, Debug)]
pub struct ApiBuckets {
    per_operation: bool,
    rate: f64,
    burst: f64,
    /// Scheduled changes not yet applied, soonest last.
    pending: Vec<(Timestamp, Option<f64>, Option<f64>)>,
    buckets: BTreeMap<&'static str, TokenBucket>,
}

impl ApiBuckets {
    /// Full buckets for `limits` in a run that starts at `start` (its changes' times of
    /// day are on `start`'s day).
    pub fn new(limits: &ApiLimits, start: Timestamp) -> Self {
        let mut pending: Vec<_> =
            limits.changes.iter().map(|c| (c.at.on_day_of(start), c.rate_per_second, c.burst)).collect();
        pending.sort_by_key(|&(at, _, _)| std::cmp::Reverse(at));
        Self {
            per_operation: limits.per_operation,
            rate: limits.rate_per_second,
            burst: limits.burst,
            pending,
            buckets: BTreeMap::new(),
        }
    }

    /// The rate in force (requests per second; 0: no limit).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The burst in force.
    pub fn burst(&self) -> f64 {
        self.burst
    }

    /// From `at` on, the limit has this rate and/or burst (what is `None` stays): every
    /// bucket keeps what it holds, up to the new burst.
    pub fn change(&mut self, at: Timestamp, rate: Option<f64>, burst: Option<f64>) {
        self.rate = rate.unwrap_or(self.rate);
        self.burst = burst.unwrap_or(self.burst);
        for bucket in self.buckets.values_mut() {
            bucket.retune(at, self.rate, self.burst);
        }
    }

    /// One call of `operation` at `now` by a caller that may wait up to `patience` for a
    /// token: how long it waits, or `None` when it is throttled.
    pub fn take(&mut self, operation: &'static str, now: Timestamp, patience: Duration) -> Option<Duration> {
        while self.pending.last().is_some_and(|&(at, _, _)| at <= now) {
            if let Some((at, rate, burst)) = self.pending.pop() {
                self.change(at, rate, burst);
            }
        }
        let key = if self.per_operation { operation } else { "WorkSpaces" };
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.entry(key).or_insert_with(|| TokenBucket::new(rate, burst, now)).take(now, patience)
    }
}

/// What a call may do after the gate.
pub(crate) enum Pass {
    /// Go ahead and answer normally.
    Go,
    /// Take effect, then answer with this error (a 5xx after the work was done).
    ThenFail(PortError),
}

/// GetResources' documented rate: 15 calls a second per account and Region (Tag Editor
/// user guide, "Service quotas"). AWS documents no burst; one second's worth is assumed.
pub(crate) const TAGGING_RATE: f64 = 15.0;

/// Which service a call belongs to: WorkSpaces calls meet its buckets, the Resource
/// Groups Tagging API's calls its own.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    WorkSpaces,
    Tagging,
    Other,
}

impl World {
    /// Are faults being injected now (our functions' calls, before the settle period)?
    pub(crate) fn faults_on(&self) -> bool {
        !self.open && self.caller == Actor::Blankslate && self.now < self.faults_until && self.scenario.faults.any()
    }

    pub(crate) fn chance(&mut self, rate: f64) -> bool {
        rate > 0.0 && self.rng.random_bool(rate.min(1.0))
    }

    /// Counts the call, then lets it through, throttles it, fails it, or crashes the
    /// calling function at it. `writes` marks calls whose effect may be unknown on a 5xx.
    pub(crate) fn gate(&mut self, operation: &'static str, service: Service, writes: bool) -> Result<Pass, PortError> {
        if self.crashed {
            return Err(PortError::new(ErrorKind::Unavailable, operation, "the function crashed before this call"));
        }
        self.count_call(operation);
        if self.open {
            return Ok(Pass::Go);
        }
        let faults = self.faults_on();
        self.calls_in_invocation += 1;
        if faults && self.crash_at == Some(self.calls_in_invocation) {
            self.crashed = true;
            self.metrics.crashes += 1;
            let error =
                PortError::new(ErrorKind::Unavailable, operation, "injected: the function crashed at this call");
            return if writes && self.rng.random_bool(0.5) { Ok(Pass::ThenFail(error)) } else { Err(error) };
        }
        if service == Service::WorkSpaces && self.scenario.api.is_on() {
            let patience = match self.caller {
                Actor::Blankslate => self.patience,
                // boto3's default retries: a few attempts over a few seconds.
                Actor::Seed => Duration::from_secs(5),
                // The admin's own scripts retry until their call goes through.
                Actor::Admin => Duration::from_secs(3600),
            };
            match self.buckets.take(operation, self.now, patience) {
                Some(wait) => self.waited = self.waited.max(wait),
                None => return Err(self.throttled(operation, "Rate exceeded")),
            }
        }
        // The tagging API is limited whether or not the scenario limits WorkSpaces: its
        // rate is documented. Our adapter does not pace it; the SDK's retries wait a few
        // seconds, as boto3's do.
        if service == Service::Tagging && self.tagging.take(self.now, Duration::from_secs(5)).is_none() {
            return Err(self.throttled(operation, "Rate exceeded"));
        }
        if faults && service != Service::Other && self.chance(self.scenario.faults.throttle) {
            return Err(self.throttled(operation, "injected: Rate exceeded"));
        }
        if faults && self.chance(self.scenario.faults.server_error) {
            *self.metrics.server_errors.entry(operation).or_default() += 1;
            let error = PortError::new(ErrorKind::Unavailable, operation, "injected: InternalServerError (HTTP 500)");
            return if writes && self.rng.random_bool(0.5) { Ok(Pass::ThenFail(error)) } else { Err(error) };
        }
        Ok(Pass::Go)
    }

    fn throttled(&mut self, operation: &'static str, message: &str) -> PortError {
        *self.metrics.throttled.entry(operation).or_default() += 1;
        PortError::new(ErrorKind::Throttled, operation, format!("ThrottlingException: {message}"))
    }
}
