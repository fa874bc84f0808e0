//! Each simulated host's own clocks. The simulator's true time is the span since the
//! run started (a `Duration`, as the scenarios schedule it); a host's monotonic clock
//! turns it into the core's [`Time`], the only kind of time its state machine sees.

use nlb_core::time::Time;
use std::time::Duration;

/// A host's clocks: a monotonic one that runs from its own origin at a rate off true
/// time by a bounded drift, and a wall clock that operators and NTP can step.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    pub(super) origin_ns: u64,
    pub(super) drift_ppm: i64,
    pub(super) wall_offset_ns: i64,
}

/// The most a simulated host's clock runs fast or slow (a common crystal's bound).
pub(super) const MAX_DRIFT_PPM: u64 = 100;

impl Clock {
    /// The host's monotonic time at true time `t` (the time since the run started):
    /// what its state machine is told.
    pub(super) fn local(&self, t: Duration) -> Time {
        let n = t.as_nanos() as i128;
        let l = i128::from(self.origin_ns) + n + n * i128::from(self.drift_ppm) / 1_000_000;
        Time::from_duration(Duration::from_nanos(l as u64))
    }

    /// The earliest true time at which the host's monotonic clock reads at least
    /// `local` (with a microsecond to spare for rounding).
    pub(super) fn global(&self, local: Time) -> Duration {
        let l = local.as_duration().as_nanos() as i128 - i128::from(self.origin_ns);
        if l <= 0 {
            return Duration::ZERO;
        }
        let den = 1_000_000 + i128::from(self.drift_ppm);
        let t = (l * 1_000_000 + den - 1) / den + 1_000;
        Duration::from_nanos(t as u64)
    }

    /// The wall clock at true time `t`, in ns since the epoch.
    pub(super) fn wall(&self, t: Duration) -> u64 {
        (t.as_nanos() as i128 + i128::from(self.wall_offset_ns)) as u64
    }
}
