//! Initial sequence numbers (RFC 6528) and the keyed hash behind them.
//!
//! ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where
//! M is a clock ticking every 4 µs and F is SipHash-2-4 keyed from the seed
//! the user or simulator provides — so simulations stay deterministic while
//! sequence numbers stay unpredictable to anyone without the seed.

use crate::time::Instant;
use core::net::SocketAddrV4;

/// SipHash-2-4 (Aumasson & Bernstein) over a byte string with a 128-bit key.
#[derive(Debug, Clone, Copy)]
pub struct SipHasher24 {
    k0: u64,
    k1: u64,
}

#[inline]
fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// One message word: two compression rounds (SipHash-2-4).
#[inline(always)]
fn compress(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    sipround(v);
    sipround(v);
    v[0] ^= m;
}

/// The four finalization rounds and the output word.
#[inline(always)]
fn finalize(mut v: [u64; 4]) -> u64 {
    v[2] ^= 0xff;
    for _ in 0..4 {
        sipround(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

impl SipHasher24 {
    /// A hasher with key `(k0, k1)`.
    pub const fn new(k0: u64, k1: u64) -> Self {
        SipHasher24 { k0, k1 }
    }

    /// The initial state for this key.
    fn init(&self) -> [u64; 4] {
        [
            self.k0 ^ 0x736f_6d65_7073_6575,
            self.k1 ^ 0x646f_7261_6e64_6f6d,
            self.k0 ^ 0x6c79_6765_6e65_7261,
            self.k1 ^ 0x7465_6462_7974_6573,
        ]
    }

    /// SipHash-2-4 of `data`.
    pub fn hash(&self, data: &[u8]) -> u64 {
        let mut v = self.init();
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            compress(&mut v, u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        w[7] = data.len() as u8;
        compress(&mut v, u64::from_le_bytes(w));
        finalize(v)
    }

    /// SipHash-2-4 of the 12-byte connection identifier `local IP, local
    /// port, remote IP, remote port` (ports big-endian): the same value as
    /// [`SipHasher24::hash`] over those bytes, with the two message words
    /// built directly instead of through the generic byte loop.
    #[inline]
    pub fn hash_tuple(&self, local: SocketAddrV4, remote: SocketAddrV4) -> u64 {
        let l = local.ip().octets();
        let lp = local.port().to_be_bytes();
        let r = remote.ip().octets();
        let rp = remote.port().to_be_bytes();
        let m0 = u64::from_le_bytes([l[0], l[1], l[2], l[3], lp[0], lp[1], r[0], r[1]]);
        // Last word: the remaining 4 bytes, zero padding, length 12 on top.
        let m1 = u64::from_le_bytes([r[2], r[3], rp[0], rp[1], 0, 0, 0, 12]);
        let mut v = self.init();
        compress(&mut v, m0);
        compress(&mut v, m1);
        finalize(v)
    }
}

/// Derive a 128-bit key from a 64-bit seed (splitmix64 twice).
pub fn key_from_seed(seed: u64) -> (u64, u64) {
    let mut s = seed;
    (
        crate::secret::splitmix64(&mut s),
        crate::secret::splitmix64(&mut s),
    )
}

/// The RFC 6528 ISN generator.
#[derive(Debug, Clone, Copy)]
pub struct IsnGenerator {
    /// The key of the current epoch.
    f: SipHasher24,
    /// The key of epoch 0, from which every later epoch's key derives.
    base: SipHasher24,
    /// The epoch `f` belongs to (see [`IsnGenerator::rekey`]).
    epoch: u64,
}

impl IsnGenerator {
    /// A generator keyed from `seed`.
    pub fn new(seed: u64) -> Self {
        let (k0, k1) = key_from_seed(seed ^ 0x6973_6e5f_6b65_7921);
        Self::from_key(k0, k1)
    }

    /// A generator with the 128-bit secret key `(k0, k1)` (RFC 6528 §3:
    /// secretkey, from a good random source on real devices).
    pub const fn from_key(k0: u64, k1: u64) -> Self {
        let f = SipHasher24::new(k0, k1);
        IsnGenerator {
            f,
            base: f,
            epoch: 0,
        }
    }

    /// RFC 6528 §3 lets the secret key be changed: the key in use at `now`
    /// is that of epoch `now / lifetime`, derived from the first key by the
    /// same PRF (so a later key says nothing about an earlier one to anyone
    /// without the secret). A zero `lifetime` keeps one key forever.
    /// Changing the key moves F() for every 4-tuple, so an ISN for a tuple
    /// reused across the change need not be above the previous
    /// incarnation's; a long lifetime keeps that rare (RFC 9293 §3.4.1's
    /// clock M still ticks on across the change).
    pub fn rekey(&mut self, now: Instant, lifetime: crate::time::Duration) {
        let life = lifetime.as_nanos();
        if life == 0 {
            return;
        }
        let e = (u128::from(now.as_nanos()) / life) as u64;
        if e == self.epoch {
            return;
        }
        self.epoch = e;
        self.f = if e == 0 {
            self.base
        } else {
            SipHasher24::new(
                self.base.hash(&e.to_le_bytes()),
                self.base.hash(&(!e).to_le_bytes()),
            )
        };
    }

    /// The epoch of the key in use (0 until the first change).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// RFC 6528 §3 / RFC 9293 §3.4.1: ISN = M + F(localip, localport,
    /// remoteip, remoteport, secretkey) with M a timer that ticks every
    /// 4 microseconds (MUST-8, SHLD-1) and F a keyed PRF that cannot be
    /// computed from outside without the key (MUST-9).
    pub fn isn(&self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        self.isn_and_ts_offset(now, local, remote).0
    }

    /// The ISN of [`IsnGenerator::isn`] and the connection's timestamp
    /// offset (RFC 7323 §7.1: TSval = clock + a per-connection offset an
    /// attacker cannot guess) from one evaluation of F: the ISN takes the
    /// low 32 bits of the 64-bit SipHash-2-4 output, the offset the high
    /// 32. F is a keyed PRF, so the two halves are independent secrets: the
    /// ISN a peer sees tells it nothing about the offset, and neither says
    /// anything about another 4-tuple's values (RFC 6528 §3 asks exactly
    /// that of F). Linux likewise derives both from SipHash of the 4-tuple.
    /// One hash instead of two per connection on the connect/accept path.
    pub fn isn_and_ts_offset(
        &self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> (u32, u32) {
        let f = self.f.hash_tuple(local, remote);
        let m = (now.as_micros() / 4) as u32;
        (m.wrapping_add(f as u32), (f >> 32) as u32)
    }

    /// A keyed 32-bit value for other per-connection secrets (e.g. the
    /// timestamp offset, RFC 7323 §7.1).
    pub fn secret32(&self, tag: u8, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        let mut b = [0u8; 13];
        b[0..4].copy_from_slice(&local.ip().octets());
        b[4..6].copy_from_slice(&local.port().to_be_bytes());
        b[6..10].copy_from_slice(&remote.ip().octets());
        b[10..12].copy_from_slice(&remote.port().to_be_bytes());
        b[12] = tag;
        self.f.hash(&b) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn siphash_reference_vectors() {
        // Reference vectors from the SipHash paper (key 00..0f, messages 00..n-1).
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let h = SipHasher24::new(k0, k1);
        assert_eq!(h.hash(&[]), 0x726f_db47_dd0e_0e31);
        let msg: Vec<u8> = (0..15).collect();
        assert_eq!(h.hash(&msg), 0xa129_ca61_49be_45e5);
        let msg8: Vec<u8> = (0..8).collect();
        assert_eq!(h.hash(&msg8), 0x93f5_f579_9a93_2462);
    }

    #[test]
    fn tuple_hash_equals_the_byte_string_hash() {
        let h = SipHasher24::new(0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
        for (l, r) in [
            ((10, 0, 0, 1, 1234), (10, 0, 0, 2, 80)),
            ((192, 168, 255, 254, 65535), (1, 2, 3, 4, 1)),
        ] {
            let local = SocketAddrV4::new(Ipv4Addr::new(l.0, l.1, l.2, l.3), l.4);
            let remote = SocketAddrV4::new(Ipv4Addr::new(r.0, r.1, r.2, r.3), r.4);
            let mut b = Vec::new();
            b.extend_from_slice(&local.ip().octets());
            b.extend_from_slice(&local.port().to_be_bytes());
            b.extend_from_slice(&remote.ip().octets());
            b.extend_from_slice(&remote.port().to_be_bytes());
            assert_eq!(h.hash_tuple(local, remote), h.hash(&b));
        }
    }

    #[test]
    fn ts_offset_is_keyed_and_independent_of_the_clock() {
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 1234);
        let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let g = IsnGenerator::new(7);
        let (t0, t1) = (Instant::from_secs(1), Instant::from_secs(9));
        let (isn, off) = g.isn_and_ts_offset(t0, a, b);
        assert_eq!(isn, g.isn(t0, a, b));
        assert_eq!(off, g.isn_and_ts_offset(t1, a, b).1);
        assert_ne!(off, IsnGenerator::new(8).isn_and_ts_offset(t0, a, b).1);
        assert_ne!(off, g.isn_and_ts_offset(t0, b, a).1);
        assert_ne!(off, isn.wrapping_sub((t0.as_micros() / 4) as u32));
    }

    #[test]
    fn rekeying_changes_f_by_epoch_and_keeps_the_clock() {
        use crate::time::Duration;
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 1234);
        let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let life = Duration::from_secs(60);
        let mut g = IsnGenerator::new(7);
        let t0 = Instant::from_secs(1);
        g.rekey(t0, life);
        assert_eq!(g.epoch(), 0);
        let f0 = g.isn(t0, a, b).wrapping_sub((t0.as_micros() / 4) as u32);
        let t1 = Instant::from_secs(61);
        g.rekey(t1, life);
        assert_eq!(g.epoch(), 1);
        let f1 = g.isn(t1, a, b).wrapping_sub((t1.as_micros() / 4) as u32);
        assert_ne!(f0, f1, "a new epoch has a new F()");
        // Within an epoch F() is fixed; the same epoch gives the same key.
        let mut h = IsnGenerator::new(7);
        h.rekey(Instant::from_secs(100), life);
        assert_eq!(h.isn(t1, a, b), g.isn(t1, a, b));
        // Back at epoch 0 (a clock that restarts), the first key again.
        g.rekey(t0, life);
        assert_eq!(g.isn(t0, a, b), IsnGenerator::new(7).isn(t0, a, b));
        // A zero lifetime never rekeys.
        let mut k = IsnGenerator::new(7);
        k.rekey(Instant::from_secs(1_000_000), Duration::ZERO);
        assert_eq!(k.epoch(), 0);
    }

    #[test]
    // covers: MUST-8, MUST-9, SHLD-1
    fn isn_depends_on_tuple_seed_and_clock() {
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 1234);
        let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let g = IsnGenerator::new(7);
        let t = Instant::from_secs(1);
        assert_eq!(g.isn(t, a, b), IsnGenerator::new(7).isn(t, a, b));
        assert_ne!(g.isn(t, a, b), IsnGenerator::new(8).isn(t, a, b));
        assert_ne!(g.isn(t, a, b), g.isn(t, b, a));
        // M ticks every 4 µs.
        let later = t + crate::time::Duration::from_micros(400);
        assert_eq!(g.isn(later, a, b).wrapping_sub(g.isn(t, a, b)), 100);
    }
}
