//! The model on the wall clock: one `World` behind a lock, moved to "now" before anyone
//! looks at it, and what it sends out handed to the side-effect queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use blankslate_core::Timestamp;
use blankslate_sim::limits::ApiLimits;
use blankslate_sim::scenario::Timings;
use blankslate_sim::World;

use crate::effects::Effects;
use crate::throttle::{Throttle, Throttling};

/// The system clock as a model time (read once at the start; the model's time then runs
/// on the monotonic clock, see [`Shared::now`]).
pub(crate) fn wall_clock() -> Timestamp {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    Timestamp::from_millis(i64::try_from(wall).unwrap_or(i64::MAX))
}

/// Everything a request handler needs.
pub(crate) struct Shared {
    world: Mutex<World>,
    /// The wall-clock instant the emulator started, and the monotonic instant it maps to:
    /// the model's time is the first plus the time elapsed since the second, so it never
    /// goes back when the system clock is adjusted.
    epoch: (Timestamp, Instant),
    timings: Timings,
    seed: u64,
    resets: AtomicU64,
    requests: AtomicU64,
    pub(crate) effects: Effects,
    /// The API's rate limit: apart from the model, which has no notion of who calls it
    /// over the wire or of wall-clock pacing.
    throttle: Mutex<Throttle>,
    /// The Region in the ARNs the emulator makes up.
    region: String,
}

impl Shared {
    pub(crate) fn new(timings: Timings, seed: u64, effects: Effects, limit: Option<ApiLimits>, region: String) -> Self {
        let start = wall_clock();
        let shared = Self {
            world: Mutex::new(World::open(start, timings.clone(), seed)),
            epoch: (start, Instant::now()),
            timings,
            seed,
            resets: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            effects,
            throttle: Mutex::new(Throttle::default()),
            region,
        };
        shared.set_limit(limit);
        shared
    }

    /// The Region the emulator answers for.
    pub(crate) fn region(&self) -> &str {
        &self.region
    }

    /// The wall clock, as the model's time.
    pub(crate) fn now(&self) -> Timestamp {
        self.epoch.0 + self.epoch.1.elapsed()
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock is a bug in the model; its state is still the
        // best there is, and the emulator must keep answering.
        self.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the model at the current wall-clock time: first everything due by now
    /// happens, then `f`, then whatever `f` made due at once (a zero delay) is released,
    /// and everything the model sent out is queued for delivery, in order.
    pub(crate) fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let now = self.now();
        let mut world = self.lock();
        world.advance_to(now);
        let result = f(&mut world);
        world.advance_to(now);
        let outputs = world.take_outputs();
        // Queued under the lock, so concurrent requests cannot reorder the events.
        self.effects.dispatch(outputs);
        result
    }

    /// Replaces the model with an empty account (same timings; a new seed, so IDs from
    /// before the reset are not handed out again). The API's limit stays, with full
    /// buckets and zeroed counters.
    pub(crate) fn reset(&self) {
        let resets = self.resets.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.now();
        *self.lock() = World::open(now, self.timings.clone(), self.seed.wrapping_add(resets));
        self.effects.reset();
        self.throttle().reset(now);
    }

    fn throttle(&self) -> MutexGuard<'_, Throttle> {
        // As for the model: counters and buckets stay usable after a panic elsewhere.
        self.throttle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One call of `operation` now, at the limit: false when it is throttled.
    pub(crate) fn admit(&self, operation: &'static str) -> bool {
        let now = self.now();
        self.throttle().admit(operation, now)
    }

    /// Counts a call that the WorkSpaces API's limit does not cover, for the stats.
    pub(crate) fn count(&self, operation: &'static str) {
        self.throttle().count(operation);
    }

    /// Sets, changes or (`None`) lifts the API's rate limit from now on (a checked limit).
    pub(crate) fn set_limit(&self, limit: Option<ApiLimits>) {
        let now = self.now();
        self.throttle().set(limit, now);
    }

    /// The limit in force and each operation's calls and throttles.
    pub(crate) fn throttling(&self) -> Throttling {
        self.throttle().snapshot()
    }

    /// A request ID in the shape AWS uses (a UUID), unique within this emulator.
    pub(crate) fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-0000-4000-8000-{:012x}", self.seed as u32, n)
    }
}
