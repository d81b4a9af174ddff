//! IPv4 address helpers as the lesson teaches them (classes, private ranges)
//! and CIDR prefixes.

use core::fmt;
use core::net::Ipv4Addr;

/// An IPv4 prefix in CIDR notation, e.g. `10.1.2.0/24`.
///
/// The address is kept as given (so `10.1.2.7/24` can describe an interface
/// address); [`Ipv4Cidr::network`] gives the masked network address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix_len: u8,
}

impl Ipv4Cidr {
    /// A prefix; `None` when `prefix_len > 32`.
    pub const fn new(addr: Ipv4Addr, prefix_len: u8) -> Option<Self> {
        if prefix_len > 32 {
            None
        } else {
            Some(Ipv4Cidr { addr, prefix_len })
        }
    }
    /// The address as given.
    pub const fn address(&self) -> Ipv4Addr {
        self.addr
    }
    /// Number of leading one bits in the mask.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }
    /// The netmask, e.g. `255.255.255.0` for /24.
    pub const fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(mask_bits(self.prefix_len))
    }
    /// The network address (host bits cleared).
    pub const fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.addr.to_bits() & mask_bits(self.prefix_len))
    }
    /// The directed broadcast address (host bits set).
    pub const fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.addr.to_bits() | !mask_bits(self.prefix_len))
    }
    /// True when `ip` lies inside this prefix.
    pub const fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = mask_bits(self.prefix_len);
        ip.to_bits() & m == self.addr.to_bits() & m
    }
}

/// The mask with `prefix_len` leading ones (0 for /0, all ones for /32).
const fn mask_bits(prefix_len: u8) -> u32 {
    if prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - prefix_len as u32)
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl fmt::Debug for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
