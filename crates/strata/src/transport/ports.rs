//! Ephemeral port selection (RFC 6056) and the keyed hash it uses.
//!
//! A client that does not name its local port gets one from the *dynamic*
//! range 49152–65535 (RFC 6335 §6). RFC 6056 asks that the choice be hard to
//! guess, so an off-path attacker cannot aim spoofed segments at a
//! connection. We implement its Algorithm 4, "double-hash port selection"
//! (RFC 6056 §3.3.4): a keyed hash of the connection's addresses gives a
//! starting offset, a second keyed hash picks a slot in a small table of
//! counters that advance on every use, and candidates that the caller says
//! are in use are skipped. The keys come from the stack seed, so a seeded
//! stack is deterministic.

use core::hash::{BuildHasher, Hasher};
use core::net::Ipv4Addr;

use crate::secret::splitmix64;

/// An inclusive range of port numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// The dynamic/private range 49152–65535 (RFC 6335 §6), the default
    /// source of ephemeral ports (RFC 6056 §3.2).
    pub const DYNAMIC: PortRange = PortRange {
        first: 49152,
        last: 65535,
    };

    /// `first..=last`; `None` when empty or when it contains port 0 (which
    /// means "any port" and is never allocated).
    pub const fn new(first: u16, last: u16) -> Option<PortRange> {
        if first == 0 || first > last {
            None
        } else {
            Some(PortRange { first, last })
        }
    }
    /// First port of the range.
    pub const fn first(&self) -> u16 {
        self.first
    }
    /// Last port of the range (inclusive).
    pub const fn last(&self) -> u16 {
        self.last
    }
    /// Number of ports in the range.
    pub const fn len(&self) -> u32 {
        self.last as u32 - self.first as u32 + 1
    }
    /// Always false: a range holds at least one port.
    pub const fn is_empty(&self) -> bool {
        false
    }
    /// True when `port` lies in the range.
    pub const fn contains(&self, port: u16) -> bool {
        port >= self.first && port <= self.last
    }
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange::DYNAMIC
    }
}

/// Every port of the ephemeral range is taken for this tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no free ephemeral port in {first}-{last}: all {count} are in use")]
pub struct PortsExhausted {
    /// First port of the range searched.
    pub first: u16,
    /// Last port of the range searched.
    pub last: u16,
    /// How many candidates were tried (the whole range).
    pub count: u32,
}

/// Size of the table of per-slot counters (RFC 6056 §3.3.4 "table[]").
const TABLE_LEN: usize = 256;

/// The ephemeral port allocator (RFC 6056 §3.3.4, Algorithm 4).
#[derive(Clone)]
pub struct EphemeralPorts {
    range: PortRange,
    key_offset: SeededState,
    key_index: SeededState,
    table: Box<[u16; TABLE_LEN]>,
    /// Key and counter of the random draws for unconnected binds.
    key_random: SeededState,
    draws: u64,
}

impl core::fmt::Debug for EphemeralPorts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EphemeralPorts")
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl EphemeralPorts {
    /// An allocator over `range` whose secret keys derive from `seed`.
    pub fn new(range: PortRange, seed: u64) -> Self {
        Self::with_keys(range, &crate::secret::Keys::Seed(seed))
    }

    /// An allocator over `range` keyed from `keys` (an operating-system
    /// secret on real devices, RFC 6056 §3.3.4).
    pub fn with_keys(range: PortRange, keys: &crate::secret::Keys) -> Self {
        EphemeralPorts {
            range,
            // Two independent keys (RFC 6056 §3.3.4: secret_key1, secret_key2).
            key_offset: keys.state(0x706f_7274_6f66_6673),
            key_index: keys.state(0x706f_7274_696e_6478),
            table: Box::new([0; TABLE_LEN]),
            key_random: keys.state(0x706f_7274_7261_6e64),
            draws: 0,
        }
    }

    /// The range ports are drawn from.
    pub fn range(&self) -> PortRange {
        self.range
    }

    /// The error once every port of the range was tried and found taken.
    fn exhausted(&self) -> PortsExhausted {
        PortsExhausted {
            first: self.range.first,
            last: self.range.last,
            count: self.range.len(),
        }
    }

    /// Picks a local port for a flow from `local` to `remote:remote_port`
    /// (use `0.0.0.0`/0 for an unconnected socket). `in_use(port)` tells
    /// whether a candidate is taken; taken ports are skipped. Fails only when
    /// every port of the range is taken.
    pub fn allocate(
        &mut self,
        local: Ipv4Addr,
        remote: Ipv4Addr,
        remote_port: u16,
        mut in_use: impl FnMut(u16) -> bool,
    ) -> Result<u16, PortsExhausted> {
        let n = self.range.len();
        // RFC 6056 §3.3.4: offset = F(local_IP, remote_IP, remote_port, secret_key1)
        let offset = tuple_hash(&self.key_offset, local, remote, remote_port);
        // index = G(local_IP, remote_IP, remote_port, secret_key2)
        let index = tuple_hash(&self.key_index, local, remote, remote_port) as usize % TABLE_LEN;
        for _ in 0..n {
            let step = u64::from(self.table[index]);
            let port = self.range.first as u64 + (offset.wrapping_add(step) % u64::from(n));
            // table[index]++ — advance on every candidate so consecutive
            // allocations for the same tuple walk the range.
            self.table[index] = self.table[index].wrapping_add(1);
            let port = port as u16;
            if !in_use(port) {
                return Ok(port);
            }
        }
        Err(self.exhausted())
    }
}

impl EphemeralPorts {
    /// Picks a port for a socket with no peer yet (an unconnected UDP
    /// bind): RFC 6056 §3.3.1, Algorithm 1 — a random starting point, then
    /// the next free port. Algorithm 4 keyed on the constant tuple
    /// (0.0.0.0, 0) would be one global counter, so a DNS client's next
    /// port would be predictable (RFC 5452 §9.2). The draws are a keyed
    /// hash of a counter, so a seeded stack still replays exactly.
    pub fn allocate_random(
        &mut self,
        mut in_use: impl FnMut(u16) -> bool,
    ) -> Result<u16, PortsExhausted> {
        let n = self.range.len();
        self.draws += 1;
        let mut h = self.key_random.build_hasher();
        h.write(&self.draws.to_le_bytes());
        let start = h.finish() % u64::from(n);
        for i in 0..u64::from(n) {
            let port = self.range.first as u64 + (start + i) % u64::from(n);
            let port = port as u16;
            if !in_use(port) {
                return Ok(port);
            }
        }
        Err(self.exhausted())
    }
}

fn tuple_hash(state: &SeededState, local: Ipv4Addr, remote: Ipv4Addr, port: u16) -> u64 {
    let mut h = state.build_hasher();
    h.write(&local.octets());
    h.write(&remote.octets());
    h.write(&port.to_be_bytes());
    h.finish()
}

/// A keyed, deterministic [`BuildHasher`]: SipHash-1-3 with a 128-bit key
/// derived from a seed. Used for ephemeral ports and for the socket tables
/// (O(1) demultiplexing whose layout an attacker cannot predict without the
/// seed, and which does not depend on process-random state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeededState {
    k0: u64,
    k1: u64,
}

impl SeededState {
    /// Keys derived from `seed` and a domain-separation constant `domain`.
    pub fn new(seed: u64, domain: u64) -> Self {
        let mut x = seed ^ domain.rotate_left(17);
        let k0 = splitmix64(&mut x);
        let k1 = splitmix64(&mut x);
        SeededState { k0, k1 }
    }

    /// A state with the 128-bit key `(k0, k1)` (e.g. from a
    /// [`crate::secret::StackSecret`]).
    pub const fn from_keys(k0: u64, k1: u64) -> Self {
        SeededState { k0, k1 }
    }
}

impl Default for SeededState {
    fn default() -> Self {
        SeededState::new(0, 0)
    }
}

impl BuildHasher for SeededState {
    type Hasher = SipHasher13;
    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

/// SipHash-1-3 (Aumasson & Bernstein), written out so its output never
/// changes with the toolchain.
#[derive(Clone, Debug)]
pub struct SipHasher13 {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
    tail: u64,
    ntail: usize,
    length: usize,
}

impl SipHasher13 {
    /// A hasher keyed with `(k0, k1)`.
    pub fn new_with_keys(k0: u64, k1: u64) -> Self {
        SipHasher13 {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            v1: k1 ^ 0x646f_7261_6e64_6f6d,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
            tail: 0,
            ntail: 0,
            length: 0,
        }
    }

    #[inline]
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13) ^ self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16) ^ self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21) ^ self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17) ^ self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    #[inline]
    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.v0 ^= m;
    }
}

impl Hasher for SipHasher13 {
    fn write(&mut self, bytes: &[u8]) {
        self.length += bytes.len();
        for &b in bytes {
            self.tail |= u64::from(b) << (8 * self.ntail);
            self.ntail += 1;
            if self.ntail == 8 {
                let m = self.tail;
                self.compress(m);
                self.tail = 0;
                self.ntail = 0;
            }
        }
    }

    fn finish(&self) -> u64 {
        let mut s = self.clone();
        let b = ((self.length as u64 & 0xff) << 56) | self.tail;
        s.compress(b);
        s.v2 ^= 0xff;
        s.round();
        s.round();
        s.round();
        s.v0 ^ s.v1 ^ s.v2 ^ s.v3
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn ten_thousand_allocations_never_collide() {
        let mut ports = EphemeralPorts::new(PortRange::DYNAMIC, 42);
        let mut used = HashSet::new();
        for i in 0..10_000u32 {
            // Vary the remote so both hashes move around, as real flows do.
            let remote = Ipv4Addr::from_bits(0x0a00_0000 | (i % 97));
            let p = ports
                .allocate(A, remote, (i % 7) as u16 + 80, |p| used.contains(&p))
                .expect("range not exhausted");
            assert!(PortRange::DYNAMIC.contains(p), "{p} outside range");
            assert!(used.insert(p), "port {p} allocated twice");
        }
        assert_eq!(used.len(), 10_000);
    }

    #[test]
    fn exhaustion_is_a_clear_error_and_every_port_is_reachable() {
        let range = PortRange::new(5000, 5009).unwrap();
        let mut ports = EphemeralPorts::new(range, 7);
        let mut used = HashSet::new();
        for _ in 0..10 {
            let p = ports.allocate(A, B, 80, |p| used.contains(&p)).unwrap();
            assert!(used.insert(p));
        }
        let err = ports.allocate(A, B, 80, |p| used.contains(&p)).unwrap_err();
        assert_eq!(err.count, 10);
        assert_eq!(
            err.to_string(),
            "no free ephemeral port in 5000-5009: all 10 are in use"
        );
        // Freeing one makes exactly that one available.
        used.remove(&5004);
        assert_eq!(ports.allocate(A, B, 80, |p| used.contains(&p)), Ok(5004));
    }

    #[test]
    fn seeds_change_the_sequence_but_replay_it_exactly() {
        let seq = |seed| {
            let mut ports = EphemeralPorts::new(PortRange::DYNAMIC, seed);
            (0..8)
                .map(|_| ports.allocate(A, B, 80, |_| false).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(seq(1), seq(1));
        assert_ne!(seq(1), seq(2));
        // Not simply sequential from the start of the range.
        assert_ne!(seq(1)[0], PortRange::DYNAMIC.first());
    }

    #[test]
    fn siphash13_agrees_with_std_and_is_chunking_independent() {
        // std's DefaultHasher is SipHash-1-3 keyed with (0, 0).
        let mut std_h = std::hash::DefaultHasher::new();
        let msg: Vec<u8> = (0..37).collect();
        std_h.write(&msg);
        let mut ours = SipHasher13::new_with_keys(0, 0);
        ours.write(&msg[..5]);
        ours.write(&msg[5..]);
        assert_eq!(ours.finish(), std_h.finish());
    }

    #[test]
    fn random_allocation_is_not_sequential_and_finds_the_last_free_port() {
        let mut ports = EphemeralPorts::new(PortRange::DYNAMIC, 11);
        let seq: Vec<u16> = (0..64)
            .map(|_| ports.allocate_random(|_| false).unwrap())
            .collect();
        let steps = seq
            .windows(2)
            .filter(|w| w[1] == w[0].wrapping_add(1))
            .count();
        assert!(steps <= 1, "{seq:?}");
        let range = PortRange::new(7000, 7009).unwrap();
        let mut ports = EphemeralPorts::new(range, 1);
        assert_eq!(ports.allocate_random(|p| p != 7003), Ok(7003));
        assert!(ports.allocate_random(|_| true).is_err());
    }

    #[test]
    fn range_rejects_empty_and_zero() {
        assert!(PortRange::new(0, 10).is_none());
        assert!(PortRange::new(10, 9).is_none());
        assert_eq!(PortRange::DYNAMIC.len(), 16384);
    }
}
