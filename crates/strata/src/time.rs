//! Virtual or real time as a plain value.
//!
//! The stack never reads a clock: callers pass an [`Instant`] into every
//! call that may act. In the simulator it is virtual time; over a TAP device
//! it is derived from a monotonic clock by the runtime.

use core::fmt;
use core::num::NonZeroU64;
use core::ops::{Add, AddAssign, Sub};
pub use core::time::Duration;

/// A point in time: nanoseconds since an arbitrary zero chosen by the caller
/// (up to [`Instant::MAX`], about 584 years; later instants saturate).
///
/// Stored as nanoseconds + 1 in a `NonZeroU64`, so `Option<Instant>` (every
/// timer of a connection) takes 8 bytes instead of 16.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(NonZeroU64);

/// The largest nanosecond count an [`Instant`] holds.
const MAX_NANOS: u64 = u64::MAX - 1;

impl Instant {
    /// The arbitrary zero.
    pub const ZERO: Instant = Instant::from_nanos(0);
    /// The latest representable instant ("never").
    pub const MAX: Instant = Instant::from_nanos(MAX_NANOS);

    /// An instant `nanos` nanoseconds after zero (saturating at
    /// [`Instant::MAX`]).
    pub const fn from_nanos(nanos: u64) -> Self {
        let n = if nanos > MAX_NANOS { MAX_NANOS } else { nanos };
        match NonZeroU64::new(n + 1) {
            Some(v) => Instant(v),
            // n + 1 is at least 1.
            None => Instant(NonZeroU64::MIN),
        }
    }
    /// An instant `micros` microseconds after zero.
    pub const fn from_micros(micros: u64) -> Self {
        Instant::from_nanos(micros.saturating_mul(1_000))
    }
    /// An instant `millis` milliseconds after zero.
    pub const fn from_millis(millis: u64) -> Self {
        Instant::from_nanos(millis.saturating_mul(1_000_000))
    }
    /// An instant `secs` seconds after zero.
    pub const fn from_secs(secs: u64) -> Self {
        Instant::from_nanos(secs.saturating_mul(1_000_000_000))
    }
    /// Nanoseconds since zero.
    pub const fn as_nanos(self) -> u64 {
        self.0.get() - 1
    }
    /// Whole microseconds since zero.
    pub const fn as_micros(self) -> u64 {
        self.as_nanos() / 1_000
    }
    /// Whole milliseconds since zero.
    pub const fn as_millis(self) -> u64 {
        self.as_nanos() / 1_000_000
    }
    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.as_nanos().saturating_sub(earlier.as_nanos()))
    }
    /// `self + d`, saturating at [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Instant {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Instant::from_nanos(self.as_nanos().saturating_add(nanos))
    }
}

impl Default for Instant {
    /// [`Instant::ZERO`].
    fn default() -> Self {
        Instant::ZERO
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Instant::from_nanos(self.as_nanos().saturating_sub(nanos))
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Instant {
    /// Seconds with microsecond precision, e.g. `1.000250s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.as_nanos() / 1_000_000_000,
            (self.as_nanos() / 1_000) % 1_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_displays() {
        let t = Instant::from_millis(1500);
        assert_eq!(t + Duration::from_millis(500), Instant::from_secs(2));
        assert_eq!(Instant::from_secs(1) - t, Duration::ZERO);
        assert_eq!(t - Instant::from_secs(1), Duration::from_millis(500));
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(t.to_string(), "1.500000s");
        assert_eq!(Instant::from_nanos(u64::MAX), Instant::MAX);
        assert_eq!(Instant::ZERO - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(Instant::default(), Instant::ZERO);
        assert!(Instant::ZERO < Instant::from_nanos(1));
        assert_eq!(Instant::from_nanos(7).as_nanos(), 7);
    }

    #[test]
    fn an_optional_instant_is_one_word() {
        assert_eq!(core::mem::size_of::<Option<Instant>>(), 8);
    }
}
