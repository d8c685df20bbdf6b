//! What stands between a caller and the simulated service: the WorkSpaces API's token
//! buckets and, while faults are on, injected failures. Every simulated API call passes
//! [`World::gate`] first.

use std::collections::BTreeMap;
use std::time::Duration;

use blankslate_core::Timestamp;
use blankslate_handlers::ports::{ErrorKind, PortError};
use rand::Rng;

use crate::scenario::ApiLimits;
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
    pub(crate) fn new(limits: &ApiLimits, now: Timestamp) -> Self {
        Self { tokens: limits.burst, rate: limits.rate_per_second, burst: limits.burst, at: now }
    }

    /// Takes a token if one arrives within `patience`; returns how long the caller waits
    /// for it, or `None` (ThrottlingException) when it would wait longer.
    pub(crate) fn take(&mut self, now: Timestamp, patience: Duration) -> Option<Duration> {
        if self.rate <= 0.0 {
            return Some(Duration::ZERO);
        }
        if now > self.at {
            self.tokens = (self.tokens + self.rate * now.since(self.at).as_secs_f64()).min(self.burst);
            self.at = now;
        }
        let after = self.tokens - 1.0;
        if after < -self.rate * patience.as_secs_f64() {
            return None;
        }
        self.tokens = after;
        Some(Duration::from_secs_f64((-after).max(0.0) / self.rate))
    }
}

/// The buckets of one account and Region.
#[derive(Clone, Debug, Default)]
pub(crate) struct Buckets {
    buckets: BTreeMap<&'static str, TokenBucket>,
}

impl Buckets {
    fn take(
        &mut self,
        limits: &ApiLimits,
        operation: &'static str,
        now: Timestamp,
        patience: Duration,
    ) -> Option<Duration> {
        let key = if limits.per_operation { operation } else { "WorkSpaces" };
        self.buckets.entry(key).or_insert_with(|| TokenBucket::new(limits, now)).take(now, patience)
    }
}

/// What a call may do after the gate.
pub(crate) enum Pass {
    /// Go ahead and answer normally.
    Go,
    /// Take effect, then answer with this error (a 5xx after the work was done).
    ThenFail(PortError),
}

/// Which service a call belongs to: only WorkSpaces calls meet its buckets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    WorkSpaces,
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
        if service == Service::WorkSpaces && self.scenario.api.rate_per_second > 0.0 {
            let limits = self.scenario.api;
            let patience = match self.caller {
                Actor::Blankslate => self.patience,
                // boto3's default retries: a few attempts over a few seconds.
                Actor::Seed => Duration::from_secs(5),
                // The admin's own scripts retry until their call goes through.
                Actor::Admin => Duration::from_secs(3600),
            };
            match self.buckets.take(&limits, operation, self.now, patience) {
                Some(wait) => self.waited = self.waited.max(wait),
                None => return Err(self.throttled(operation, "Rate exceeded")),
            }
        }
        if faults && service == Service::WorkSpaces && self.chance(self.scenario.faults.throttle) {
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
