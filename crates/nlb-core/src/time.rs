//! Points in time on the clock the shells inject.
//!
//! The core reads no clock: nlbd and the simulator pass the time in with every input.
//! A point in time is a [`Time`], a span is a [`Duration`], and the two do not mix:
//! `Time + Duration` is a `Time`, `Time - Time` a `Duration`, `Time + Time` does not
//! compile. A shell turns its clock's reading into a `Time` where it calls the core
//! ([`Time::from_duration`]) and back where it must hand one on ([`Time::as_duration`]),
//! nowhere else.

use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A point in time on a host's monotonic clock: the span since that clock's origin
/// (for nlbd, `CLOCK_MONOTONIC`'s, the clock the data path's lease is checked on; for
/// the simulator, each host's own). Like [`std::time::Instant`], but the core makes
/// none itself: the shells make them from their clock's readings.
///
/// Arithmetic follows `Instant`'s: adding a span panics on overflow (as `Duration`
/// does: no clock gets there), a difference of two points saturates at zero, and so
/// does subtracting a span from a point (at [`Time::ZERO`], the clock's origin, the
/// earliest point the clock can read). The `checked_` methods say when they would.
///
/// Serialized as the [`Duration`] since the origin, exactly as the state machine's
/// times were before they had this type, so a hand-off record ([`crate::convergence::HandOff`])
/// reads the same either way.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Time(Duration);

impl Time {
    /// The clock's origin.
    pub const ZERO: Time = Time(Duration::ZERO);

    /// The point `since_origin` after the clock's origin: a clock reading.
    pub const fn from_duration(since_origin: Duration) -> Time {
        Time(since_origin)
    }

    /// The span from the clock's origin to this point: what a shell hands on to
    /// something that counts on the same clock (the data path's lease deadline).
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// The span from `earlier` to this point, or `None` when `earlier` is later.
    pub fn checked_duration_since(self, earlier: Time) -> Option<Duration> {
        self.0.checked_sub(earlier.0)
    }

    /// The span from `earlier` to this point, zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// The point `d` later, or `None` when it overflows.
    pub fn checked_add(self, d: Duration) -> Option<Time> {
        self.0.checked_add(d).map(Time)
    }

    /// The point `d` earlier, or `None` when it is before the clock's origin.
    pub fn checked_sub(self, d: Duration) -> Option<Time> {
        self.0.checked_sub(d).map(Time)
    }
}

/// The point a span later. Panics on overflow, as [`Duration`]'s addition does.
impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0 + d)
    }
}

impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, d: Duration) {
        self.0 += d;
    }
}

/// The point a span earlier, [`Time::ZERO`] at the earliest (see
/// [`Time::checked_sub`]).
impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, d: Duration) -> Time {
        Time(self.0.saturating_sub(d))
    }
}

/// The span between two points, zero when `earlier` is the later one (as
/// [`Time::saturating_duration_since`] and [`std::time::Instant`]'s subtraction).
impl Sub<Time> for Time {
    type Output = Duration;
    fn sub(self, earlier: Time) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn points_and_spans() {
        let t = Time::from_duration(ms(1500));
        assert_eq!((t + ms(500)).as_duration(), ms(2000));
        assert_eq!(t + ms(500) - t, ms(500));
        assert_eq!(t - (t + ms(500)), Duration::ZERO, "saturates");
        assert_eq!(t.checked_duration_since(t + ms(1)), None);
        assert_eq!(t.checked_duration_since(Time::ZERO), Some(ms(1500)));
        assert_eq!(t - ms(2000), Time::ZERO, "saturates at the origin");
        assert_eq!(t.checked_sub(ms(2000)), None);
        assert_eq!(t.checked_sub(ms(500)), Some(Time::from_duration(ms(1000))));
        assert_eq!(Time::from_duration(Duration::MAX).checked_add(ms(1)), None);
        let mut u = t;
        u += ms(1);
        assert!(u > t);
    }

    #[test]
    fn serialized_as_the_duration_since_the_origin() {
        let d = Duration::new(12, 345);
        let t = Time::from_duration(d);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, serde_json::to_string(&d).unwrap());
        assert_eq!(serde_json::from_str::<Time>(&json).unwrap(), t);
    }
}
