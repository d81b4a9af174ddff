//! Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4).
//!
//! Sequence numbers live on a circle: `a < b` means "b is ahead of a by
//! less than 2^31". The comparison is therefore not a total order and must
//! only be used between numbers that are within 2^31 of each other, which
//! the windows of a TCP connection guarantee (RFC 9293 §3.4, RFC 7323 §2.3).

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A 32-bit TCP sequence number with wrap-around comparison.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The signed distance from `other` to `self` (positive when `self` is ahead).
    pub const fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// Distance from `other` to `self` as a byte count; 0 when `self` is not ahead.
    pub fn since(self, other: SeqNumber) -> usize {
        let d = self.diff(other);
        if d > 0 {
            d as usize
        } else {
            0
        }
    }

    /// `self + n` with wrap-around.
    pub const fn add_i32(self, n: i32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n as u32))
    }

    /// The later of two sequence numbers.
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self.diff(other) >= 0 {
            self
        } else {
            other
        }
    }

    /// The earlier of two sequence numbers.
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self.diff(other) <= 0 {
            self
        } else {
            other
        }
    }

    /// `lo <= self < hi` on the circle (RFC 9293 §3.4 window test).
    pub fn in_range(self, lo: SeqNumber, hi: SeqNumber) -> bool {
        lo <= self && self < hi
    }
}

impl PartialOrd for SeqNumber {
    /// Modular comparison: `a < b` iff `(b - a) mod 2^32` lies in `1..2^31`.
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, n: usize) -> SeqNumber {
        // Truncation is the modular arithmetic we want.
        SeqNumber(self.0.wrapping_add(n as u32))
    }
}

impl AddAssign<usize> for SeqNumber {
    fn add_assign(&mut self, n: usize) {
        *self = *self + n;
    }
}

impl Sub<usize> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, n: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n as u32))
    }
}

impl Sub<SeqNumber> for SeqNumber {
    type Output = i32;
    /// Signed distance, see [`SeqNumber::diff`].
    fn sub(self, rhs: SeqNumber) -> i32 {
        self.diff(rhs)
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_across_wrap() {
        let a = SeqNumber(u32::MAX - 10);
        let b = a + 20usize;
        assert_eq!(b.0, 9);
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b - a, 20);
        assert_eq!(a - b, -20);
        assert_eq!(b.since(a), 20);
        assert_eq!(a.since(b), 0);
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
        assert!(SeqNumber(u32::MAX).in_range(a, b));
        assert!(SeqNumber(0).in_range(a, b));
        assert!(!b.in_range(a, b));
        assert_eq!(b - 20usize, a);
        assert_eq!(SeqNumber(5).add_i32(-10).0, u32::MAX - 4);
    }

    #[test]
    fn half_circle_boundary() {
        let a = SeqNumber(0);
        assert!(a < SeqNumber(0x7fff_ffff));
        // Exactly 2^31 apart: the distance is i32::MIN, so "behind".
        assert!(SeqNumber(0x8000_0000) < a);
        let mut c = SeqNumber(u32::MAX);
        c += 1;
        assert_eq!(c, SeqNumber(0));
    }
}
