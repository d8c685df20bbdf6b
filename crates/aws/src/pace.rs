//! Spacing WorkSpaces calls at the reconciler's learned rate.
//!
//! The reconciler plans a tick's calls within the rate it has learned
//! (`blankslate_core::pacing`), but a plan is a count, not a schedule: sent back to back,
//! 60 calls meet a bucket of a few tokens and most are throttled. So the adapter spaces
//! them: each call waits until one interval after the previous one. Unset (the event
//! functions, the operator commands), calls go out at once, as before.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Shared by the clones of one adapter, so a tick's calls are spaced however they are made.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pacer(Arc<Mutex<Spacing>>);

#[derive(Debug, Default)]
struct Spacing {
    interval: Option<Duration>,
    next: Option<Instant>,
}

impl Pacer {
    /// At most `per_second` calls a second from now on; 0, negative or not finite: unpaced.
    pub(crate) fn set(&self, per_second: f64) {
        let interval = (per_second.is_finite() && per_second > 0.0).then(|| Duration::from_secs_f64(1.0 / per_second));
        let mut spacing = self.0.lock().unwrap_or_else(|p| p.into_inner());
        spacing.interval = interval.filter(|i| *i <= Duration::from_secs(60));
    }

    /// Waits for this call's turn.
    pub(crate) async fn turn(&self) {
        let at = {
            let mut spacing = self.0.lock().unwrap_or_else(|p| p.into_inner());
            let Some(interval) = spacing.interval else { return };
            let now = Instant::now();
            let at = spacing.next.map_or(now, |next| next.max(now));
            spacing.next = Some(at + interval);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced_by_the_interval_and_unpaced_when_unset() {
        let pacer = Pacer::default();
        let start = Instant::now();
        pacer.turn().await;
        pacer.turn().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "unset: no wait");
        pacer.set(4.0);
        for _ in 0..5 {
            pacer.turn().await;
        }
        // The first goes at once, the next four a quarter of a second apart.
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 0.001] {
            pacer.set(bad);
            let before = Instant::now();
            pacer.turn().await;
            assert_eq!(before.elapsed(), Duration::ZERO, "{bad}: unpaced");
        }
    }
}
