//! Where the stack's secrets come from.
//!
//! Several choices must be unpredictable to anyone outside the host: the
//! initial sequence numbers (RFC 6528 §3, RFC 9293 §3.4.1 MUST-9), the SYN
//! cookies (RFC 4987 §3.6), ephemeral ports (RFC 6056 §3.3.4), the IPv4
//! Identification (RFC 7739 §5.3) and the keys of the demultiplexing tables
//! (an attacker who can compute the hash can make 4-tuples collide). Each
//! of them takes a 128-bit key for its own domain from one [`Keys`] source:
//!
//! - on a real device, a [`StackSecret`] of 128 bits the runtime draws from
//!   the operating system's CSPRNG (`getrandom`) — nothing in it is
//!   derived from anything an attacker can see;
//! - in the simulator and in tests, the 64-bit [`StackConfig::seed`] alone,
//!   so a run replays exactly (the same seed, the same ISNs, ports and
//!   identifications).
//!
//! [`StackConfig::seed`]: crate::stack::StackConfig::seed

use crate::transport::ports::SeededState;
use crate::transport::tcp::isn::SipHasher24;

/// SplitMix64 (Steele, Lea and Flood 2014): the next number of the
/// sequence whose state is `x`. A tiny, well-mixed generator for deriving
/// keys and draws from a seed; it is not a CSPRNG.
pub(crate) fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A 128-bit secret that keys every random choice of a stack. The runtime
/// draws it from the operating system (see [`crate::stack::StackConfig::secret`]);
/// its `Debug` form never shows the bits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StackSecret {
    k0: u64,
    k1: u64,
}

impl core::fmt::Debug for StackSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StackSecret(..)")
    }
}

impl StackSecret {
    /// A secret from 16 bytes, which should come from a cryptographically
    /// secure random source (`getrandom`).
    pub const fn from_bytes(b: [u8; 16]) -> StackSecret {
        let mut lo = [0u8; 8];
        let mut hi = [0u8; 8];
        let mut i = 0;
        while i < 8 {
            lo[i] = b[i];
            hi[i] = b[i + 8];
            i += 1;
        }
        StackSecret {
            k0: u64::from_le_bytes(lo),
            k1: u64::from_le_bytes(hi),
        }
    }

    /// The 128-bit key of one domain: SipHash-2-4, a PRF under the secret,
    /// of the domain constant and of its complement. Keys of different
    /// domains are independent, and none reveals the secret.
    pub(crate) fn key(&self, domain: u64) -> (u64, u64) {
        let h = SipHasher24::new(self.k0, self.k1);
        (
            h.hash(&domain.to_le_bytes()),
            h.hash(&(!domain).to_le_bytes()),
        )
    }
}

/// The source every keyed component of a stack draws its key from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// Keys derived from a 64-bit seed (simulator, tests): reproducible,
    /// and exactly the derivations strata always used, so seeded runs and
    /// their recorded captures stay the same.
    Seed(u64),
    /// Keys derived from a secret from the operating system.
    Secret(StackSecret),
}

impl Keys {
    /// The keyed-hasher state of `domain`: with a seed, exactly
    /// [`SeededState::new`]`(seed, domain)`.
    pub fn state(&self, domain: u64) -> SeededState {
        match self {
            Keys::Seed(seed) => SeededState::new(*seed, domain),
            Keys::Secret(s) => {
                let (k0, k1) = s.key(domain);
                SeededState::from_keys(k0, k1)
            }
        }
    }

    /// A 128-bit key for `domain`; with a seed, `from_seed(seed)` (each
    /// component keeps its historical derivation).
    pub fn key_or(&self, domain: u64, from_seed: impl FnOnce(u64) -> (u64, u64)) -> (u64, u64) {
        match self {
            Keys::Seed(seed) => from_seed(*seed),
            Keys::Secret(s) => s.key(domain),
        }
    }

    /// True when the keys come from an operating-system secret.
    pub fn is_secret(&self) -> bool {
        matches!(self, Keys::Secret(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::hash::BuildHasher;

    #[test]
    fn secret_keys_differ_by_domain_and_secret_and_hide_the_bits() {
        let a = StackSecret::from_bytes([7; 16]);
        let b = StackSecret::from_bytes([8; 16]);
        assert_ne!(a.key(1), a.key(2));
        assert_ne!(a.key(1), b.key(1));
        assert_eq!(format!("{a:?}"), "StackSecret(..)");
        let x = Keys::Secret(a).state(5).hash_one(42u64);
        assert_ne!(x, Keys::Secret(b).state(5).hash_one(42u64));
        assert_ne!(x, Keys::Seed(0).state(5).hash_one(42u64));
    }

    #[test]
    fn seeded_keys_are_the_historical_derivation() {
        let s = Keys::Seed(99).state(0x1234);
        assert_eq!(s, SeededState::new(99, 0x1234));
    }
}
