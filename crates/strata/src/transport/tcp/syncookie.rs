//! SYN cookies (RFC 4987 §3.6): a listener whose SYN queue is full answers
//! a SYN without keeping any state, and rebuilds the connection from the
//! ACK that comes back.
//!
//! The SYN-ACK's sequence number (our ISN) is the cookie, laid out as RFC
//! 4987 §3.6 describes Bernstein's cookies:
//!
//! ```text
//!  31      27 26  24 23                                   0
//! +----------+------+--------------------------------------+
//! | t mod 32 | MSS  |  MAC(key, 4-tuple, t, peer ISN, MSS)  |
//! +----------+------+--------------------------------------+
//! ```
//!
//! - `t` counts 64-second periods. The MAC covers the whole counter, so the
//!   secret in effect rotates every period (RFC 4987 §3.6: "a secret
//!   function ... and t"); a cookie is accepted for the period it was made
//!   in and the next one, then expires.
//! - `MSS` indexes a table of eight segment sizes: the largest not above
//!   what the peer announced (the SYN's other options cannot be kept, §3.6).
//! - The MAC is SipHash-2-4 under a key from the stack's secret
//!   ([`crate::secret`]), truncated to 24 bits: a forged ACK passes with
//!   probability 2⁻²⁴ per guess, and every guess costs the attacker a
//!   packet.
//!
//! When the peer's SYN carried timestamps, the options a cookie cannot hold
//! travel in the low six bits of our SYN-ACK's TSval, as Linux does: bits
//! 0–3 the peer's window-scale shift (15: none), bit 4 SACK permitted, bit
//! 5 ECN (never set: strata does not negotiate ECN). The peer echoes the
//! TSval in the TSecr of its ACK. The value is rounded down, never up, so
//! the connection's later TSvals stay above it (RFC 7323 §5.4: monotonic).

use super::isn::SipHasher24;
use crate::time::Instant;
use core::net::SocketAddrV4;

/// The segment sizes a cookie can name (3 bits). The first is the
/// smallest MSS strata accepts; 536 is the default without the option
/// (RFC 9293 §3.7.1 MUST-15); then common Ethernet, tunnel and jumbo
/// values, and the loopback maximum.
pub const MSS_TABLE: [u16; 8] = [64, 536, 1220, 1360, 1440, 1460, 8960, 65_495];

/// Length of one cookie period: RFC 4987 §3.6's `t` ticks every 64 s.
pub const PERIOD_SECS: u64 = 64;

/// The options of the peer's SYN that survive in the TSval (see the
/// [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsOptions {
    /// The peer's window-scale shift, if it offered window scaling.
    pub window_scale: Option<u8>,
    /// The peer offered SACK.
    pub sack: bool,
}

/// Creates and checks SYN cookies under one secret key.
#[derive(Debug, Clone, Copy)]
pub struct SynCookies {
    key: SipHasher24,
}

impl SynCookies {
    /// Cookies under the 128-bit key `(k0, k1)`.
    pub const fn new(k0: u64, k1: u64) -> Self {
        SynCookies {
            key: SipHasher24::new(k0, k1),
        }
    }

    /// The 64-second counter `t` at `now`.
    pub fn counter(now: Instant) -> u64 {
        now.as_nanos() / (PERIOD_SECS * 1_000_000_000)
    }

    /// The 24-bit MAC of a cookie.
    fn mac(
        &self,
        t: u64,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        peer_isn: u32,
        mss_index: u8,
    ) -> u32 {
        let mut b = [0u8; 25];
        b[0..4].copy_from_slice(&local.ip().octets());
        b[4..6].copy_from_slice(&local.port().to_be_bytes());
        b[6..10].copy_from_slice(&remote.ip().octets());
        b[10..12].copy_from_slice(&remote.port().to_be_bytes());
        b[12..16].copy_from_slice(&peer_isn.to_be_bytes());
        b[16..24].copy_from_slice(&t.to_le_bytes());
        b[24] = mss_index;
        (self.key.hash(&b) as u32) & 0x00ff_ffff
    }

    /// The index in [`MSS_TABLE`] of the largest size not above `peer_mss`
    /// (0 when it is below every entry).
    pub fn mss_index(peer_mss: u16) -> u8 {
        MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0) as u8
    }

    /// The cookie (our ISN) for a SYN from `remote` to `local` with
    /// sequence number `peer_isn` announcing `peer_mss` (RFC 4987 §3.6),
    /// and the MSS it encodes.
    pub fn make(
        &self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        peer_isn: u32,
        peer_mss: u16,
    ) -> (u32, u16) {
        let t = Self::counter(now);
        let i = Self::mss_index(peer_mss);
        let cookie = ((t as u32 & 31) << 27)
            | (u32::from(i) << 24)
            | self.mac(t, local, remote, peer_isn, i);
        (cookie, MSS_TABLE[usize::from(i)])
    }

    /// Checks the cookie an ACK returns (`SEG.ACK − 1`) for the connection
    /// whose peer ISN was `peer_isn` (`SEG.SEQ − 1`): RFC 4987 §3.6, "the
    /// value of t is checked against the current time to see if it has
    /// expired" (it must be this period or the one before) and the MAC is
    /// recomputed. Returns the MSS it encodes.
    pub fn check(
        &self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        peer_isn: u32,
        cookie: u32,
    ) -> Option<u16> {
        let now_t = Self::counter(now);
        let i = ((cookie >> 24) & 7) as u8;
        for age in 0..=1u64 {
            let Some(t) = now_t.checked_sub(age) else {
                break;
            };
            if (t as u32 & 31) != cookie >> 27 {
                continue;
            }
            if self.mac(t, local, remote, peer_isn, i) == cookie & 0x00ff_ffff {
                return Some(MSS_TABLE[usize::from(i)]);
            }
        }
        None
    }

    /// Our SYN-ACK's TSval carrying `opts` in its low six bits: `tsval`
    /// rounded down to a multiple of 64 plus the bits (64 less when that
    /// would exceed `tsval`, so the clock never runs backwards).
    pub fn ts_encode(tsval: u32, opts: TsOptions) -> u32 {
        let bits =
            u32::from(opts.window_scale.map_or(15, |s| s.min(14))) | (u32::from(opts.sack) << 4);
        let v = (tsval & !0x3f) | bits;
        if (v.wrapping_sub(tsval) as i32) > 0 {
            v.wrapping_sub(64)
        } else {
            v
        }
    }

    /// The options an ACK's TSecr brings back; `None` when the bits cannot
    /// be ours (ECN bit set).
    pub fn ts_decode(tsecr: u32) -> Option<TsOptions> {
        if tsecr & 0x20 != 0 {
            return None;
        }
        let ws = (tsecr & 0xf) as u8;
        Some(TsOptions {
            window_scale: (ws != 15).then_some(ws.min(14)),
            sack: tsecr & 0x10 != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn addrs() -> (SocketAddrV4, SocketAddrV4) {
        (
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 40_000),
        )
    }

    #[test]
    fn a_cookie_checks_for_two_periods_then_expires() {
        let c = SynCookies::new(1, 2);
        let (l, r) = addrs();
        let t0 = Instant::from_secs(1000);
        let (cookie, mss) = c.make(t0, l, r, 12345, 1460);
        assert_eq!(mss, 1460);
        assert_eq!(c.check(t0, l, r, 12345, cookie), Some(1460));
        let next = Instant::from_secs(1000 + PERIOD_SECS);
        assert_eq!(c.check(next, l, r, 12345, cookie), Some(1460));
        let late = Instant::from_secs(1000 + 2 * PERIOD_SECS);
        assert_eq!(c.check(late, l, r, 12345, cookie), None);
        // 32 periods later t mod 32 matches again, but the MAC covers the
        // whole counter.
        let wrap = Instant::from_secs(1000 + 32 * PERIOD_SECS);
        assert_eq!(c.check(wrap, l, r, 12345, cookie), None);
    }

    #[test]
    fn a_cookie_is_bound_to_tuple_peer_isn_mss_and_key() {
        let c = SynCookies::new(1, 2);
        let (l, r) = addrs();
        let t = Instant::from_secs(5);
        let (cookie, _) = c.make(t, l, r, 777, 1400);
        assert_eq!(c.check(t, l, r, 777, cookie), Some(1360));
        assert_eq!(c.check(t, r, l, 777, cookie), None);
        assert_eq!(c.check(t, l, r, 778, cookie), None);
        let other_port = SocketAddrV4::new(*r.ip(), r.port() + 1);
        assert_eq!(c.check(t, l, other_port, 777, cookie), None);
        assert_eq!(SynCookies::new(1, 3).check(t, l, r, 777, cookie), None);
        // Another MSS index with the same MAC bits is refused.
        let forged = cookie ^ (1 << 24);
        assert_eq!(c.check(t, l, r, 777, forged), None);
        // A flipped MAC bit is refused.
        assert_eq!(c.check(t, l, r, 777, cookie ^ 1), None);
    }

    #[test]
    fn forged_cookies_almost_never_pass() {
        let c = SynCookies::new(9, 9);
        let (l, r) = addrs();
        let t = Instant::from_secs(77);
        let mut passed = 0;
        let mut x = 0x1234_5678u32;
        for _ in 0..100_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if c.check(t, l, r, 1, x).is_some() {
                passed += 1;
            }
        }
        // Expected 100 000 · 2 periods / 32 · 2⁻²⁴ ≈ 0.0004.
        assert!(passed <= 1, "{passed} forged cookies passed");
    }

    #[test]
    fn mss_rounds_down_to_the_table() {
        assert_eq!(SynCookies::mss_index(1460), 5);
        assert_eq!(SynCookies::mss_index(1459), 4);
        assert_eq!(SynCookies::mss_index(536), 1);
        assert_eq!(SynCookies::mss_index(100), 0);
        assert_eq!(SynCookies::mss_index(10), 0);
        assert_eq!(SynCookies::mss_index(u16::MAX), 7);
    }

    #[test]
    fn timestamp_bits_round_trip_and_never_run_ahead() {
        for tsval in [0u32, 5, 63, 64, 1000, 0xffff_fff0, u32::MAX] {
            for ws in [None, Some(0), Some(7), Some(14)] {
                for sack in [false, true] {
                    let o = TsOptions {
                        window_scale: ws,
                        sack,
                    };
                    let v = SynCookies::ts_encode(tsval, o);
                    assert!((tsval.wrapping_sub(v) as i32) >= 0, "{tsval} {v}");
                    assert!(tsval.wrapping_sub(v) < 64);
                    assert_eq!(SynCookies::ts_decode(v), Some(o));
                }
            }
        }
        assert_eq!(SynCookies::ts_decode(0x20), None);
    }
}
