//! [`VirtualClock`]: the only source of time inside the twin.
//!
//! Virtual time is a fixed (or seeded) epoch plus the tokio [`Instant`]
//! elapsed since the clock was made, times a speed factor. Under tokio's
//! paused time (`#[tokio::test(start_paused = true)]`) virtual hours pass in
//! microseconds of wall time; in served mode `speed` makes the cluster age
//! faster than the wall clock. Nothing in the twin reads the system clock.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

/// The default epoch: a fixed instant, so runs are reproducible.
pub const DEFAULT_EPOCH: &str = "2026-01-01T00:00:00Z";

/// A virtual clock. Cheap to clone; clones share the same origin.
#[derive(Clone, Debug)]
pub struct VirtualClock {
    epoch: Timestamp,
    origin: Instant,
    speed: f64,
}

impl VirtualClock {
    /// A clock that reads `epoch` now and advances `speed` virtual seconds per
    /// tokio second. A non-finite or non-positive speed is treated as 1.
    pub fn new(epoch: Timestamp, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Self {
            epoch,
            origin: Instant::now(),
            speed,
        }
    }

    /// A clock at [`DEFAULT_EPOCH`] running at speed 1.
    pub fn fixed() -> Self {
        Self::new(default_epoch(), 1.0)
    }

    /// The epoch (virtual time at creation).
    pub fn epoch(&self) -> Timestamp {
        self.epoch
    }

    /// Virtual seconds per tokio second.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Virtual time elapsed since the clock was made.
    pub fn elapsed(&self) -> Duration {
        // Saturates instead of panicking at absurd speeds.
        Duration::try_from_secs_f64(self.origin.elapsed().as_secs_f64() * self.speed)
            .unwrap_or(Duration::MAX)
    }

    /// The current virtual time, with nanosecond precision.
    pub fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.elapsed()).unwrap_or(SignedDuration::MAX);
        self.epoch.saturating_add(elapsed).unwrap_or(self.epoch)
    }

    /// The current virtual time truncated to whole seconds, as Kubernetes
    /// stores `metav1.Time`.
    pub fn now_seconds(&self) -> Timestamp {
        Timestamp::from_second(self.now().as_second()).unwrap_or(self.epoch)
    }

    /// The tokio duration that corresponds to `virtual_time` at this speed.
    pub fn to_tokio(&self, virtual_time: Duration) -> Duration {
        Duration::try_from_secs_f64(virtual_time.as_secs_f64() / self.speed)
            .unwrap_or(Duration::MAX)
    }

    /// Sleeps for `virtual_time` of virtual time.
    pub async fn sleep(&self, virtual_time: Duration) {
        tokio::time::sleep(self.to_tokio(virtual_time)).await;
    }

    /// The tokio instant at which `virtual_time` from now will have passed.
    pub fn deadline(&self, virtual_time: Duration) -> Instant {
        Instant::now() + self.to_tokio(virtual_time)
    }
}

/// [`DEFAULT_EPOCH`] parsed.
pub fn default_epoch() -> Timestamp {
    DEFAULT_EPOCH.parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Formats a timestamp the way Kubernetes serializes `metav1.Time`
/// (RFC 3339, UTC, whole seconds).
pub fn k8s_time(ts: Timestamp) -> String {
    let secs = Timestamp::from_second(ts.as_second()).unwrap_or(ts);
    secs.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses a Kubernetes timestamp; `None` when absent or malformed.
pub fn parse_k8s_time(text: &str) -> Option<Timestamp> {
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn advances_with_paused_tokio_time_and_speed() {
        let clock = VirtualClock::new(default_epoch(), 10.0);
        assert_eq!(k8s_time(clock.now()), "2026-01-01T00:00:00Z");
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(k8s_time(clock.now()), "2026-01-01T00:01:00Z");
        assert_eq!(
            clock.to_tokio(Duration::from_secs(30)),
            Duration::from_secs(3)
        );
        let start = clock.now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now().duration_since(start).as_secs(), 3600);
    }

    #[test]
    fn bad_speed_falls_back_to_one_and_times_round_trip() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let clock = rt.block_on(async { VirtualClock::new(default_epoch(), -3.0) });
        assert_eq!(clock.speed(), 1.0);
        let t = parse_k8s_time("2026-01-01T00:05:07Z").unwrap();
        assert_eq!(k8s_time(t), "2026-01-01T00:05:07Z");
        assert!(parse_k8s_time("yesterday").is_none());
    }
}
