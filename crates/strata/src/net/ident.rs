//! IPv4 Identification values (RFC 791 §3.1, RFC 6864, RFC 6274 §3.5,
//! RFC 7739 §5.3).
//!
//! One global counter lets anyone who receives two of our datagrams learn
//! how many we sent in between, to anyone (the "idle scan"), and predict
//! the IDs of fragments we send to a third party (to forge fragments that
//! poison its reassembly). RFC 7739 §5.3's hash-based algorithm (written for
//! IPv6 but the same problem) fixes both: a keyed hash of the addresses
//! gives each destination its own starting offset, and a second keyed hash
//! picks one of a table of counters that advance on use:
//!
//! ```text
//! id = F(src, dst, proto, key1) + counter[G(src, dst, proto, key2)]++
//! ```
//!
//! So IDs to one destination still count up (reassembly at that peer
//! needs them distinct while datagrams are in flight), but they tell
//! nothing about traffic to others. Atomic datagrams (DF set, never
//! fragmented) get 0 instead: RFC 6864 §4.1 lets a source set any value,
//! and a constant leaks nothing and costs nothing on the TCP fast path.

use crate::transport::ports::SeededState;
use core::hash::{BuildHasher, Hasher};
use core::net::Ipv4Addr;

/// Counters in the table (RFC 7739 §5.3 "TABLE_LENGTH").
const TABLE_LEN: usize = 1024;

/// Chooses the Identification of each datagram we originate.
#[derive(Clone)]
pub struct IdentGenerator {
    key_offset: SeededState,
    key_index: SeededState,
    table: Box<[u16; TABLE_LEN]>,
}

impl core::fmt::Debug for IdentGenerator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdentGenerator").finish_non_exhaustive()
    }
}

impl IdentGenerator {
    /// A generator whose secret keys derive from `seed`.
    pub fn new(seed: u64) -> Self {
        Self::with_keys(&crate::secret::Keys::Seed(seed))
    }

    /// A generator keyed from `keys` (an operating-system secret on real
    /// devices: RFC 7739 §5.3 wants the offsets unpredictable).
    pub fn with_keys(keys: &crate::secret::Keys) -> Self {
        IdentGenerator {
            key_offset: keys.state(0x6970_6964_6f66_6673),
            key_index: keys.state(0x6970_6964_696e_6478),
            table: Box::new([0; TABLE_LEN]),
        }
    }

    /// The Identification for a datagram from `src` to `dst` of `protocol`
    /// that may be fragmented (DF clear).
    pub fn next(&mut self, src: Ipv4Addr, dst: Ipv4Addr, protocol: u8) -> u16 {
        let offset = hash(&self.key_offset, src, dst, protocol);
        let index = hash(&self.key_index, src, dst, protocol) as usize % TABLE_LEN;
        // RFC 7739 §5.3: counter[index] is incremented on every use.
        self.table[index] = self.table[index].wrapping_add(1);
        (offset as u16).wrapping_add(self.table[index])
    }

    /// The Identification for a datagram, atomic or not: 0 when `dont_frag`
    /// (RFC 6864 §4.1), else [`IdentGenerator::next`].
    pub fn for_datagram(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: u8,
        dont_frag: bool,
    ) -> u16 {
        if dont_frag {
            0
        } else {
            self.next(src, dst, protocol)
        }
    }
}

fn hash(state: &SeededState, src: Ipv4Addr, dst: Ipv4Addr, protocol: u8) -> u64 {
    let mut h = state.build_hasher();
    h.write(&src.octets());
    h.write(&dst.octets());
    h.write(&[protocol]);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    #[test]
    fn per_destination_sequences_are_independent() {
        let mut g = IdentGenerator::new(3);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        let c = Ipv4Addr::new(10, 0, 0, 3);
        let b1 = g.next(A, b, 17);
        for _ in 0..100 {
            g.next(A, c, 17);
        }
        // Traffic to C does not show in the IDs to B.
        assert_eq!(g.next(A, b, 17), b1.wrapping_add(1));
        // Different destinations start at unrelated places.
        let mut h = IdentGenerator::new(3);
        let starts: std::collections::HashSet<u16> = (1..=50u8)
            .map(|i| h.next(A, Ipv4Addr::new(192, 0, 2, i), 17))
            .collect();
        assert!(starts.len() >= 48);
        // Keys come from the seed.
        assert_ne!(IdentGenerator::new(4).next(A, b, 17), b1);
        assert_eq!(g.for_datagram(A, b, 6, true), 0);
    }
}
