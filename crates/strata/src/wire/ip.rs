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

/// Why a string is not a CIDR prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseCidrError {
    /// The part before `/` is not a dotted-quad IPv4 address.
    #[error("invalid IPv4 address in prefix")]
    InvalidAddress,
    /// The part after `/` is not a whole number from 0 to 32.
    #[error("prefix length must be a number from 0 to 32")]
    InvalidPrefixLen,
}

impl core::str::FromStr for Ipv4Cidr {
    type Err = ParseCidrError;

    /// Parses `10.1.2.0/24`; a bare address means a single host (`/32`).
    /// Host bits may be set (`10.1.2.7/24`, an interface address).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => {
                // Only plain decimal digits: `u8::from_str` would accept "+24".
                if l.is_empty() || l.len() > 2 || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ParseCidrError::InvalidPrefixLen);
                }
                (
                    a,
                    l.parse::<u8>()
                        .map_err(|_| ParseCidrError::InvalidPrefixLen)?,
                )
            }
            None => (s, 32),
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| ParseCidrError::InvalidAddress)?;
        Ipv4Cidr::new(addr, len).ok_or(ParseCidrError::InvalidPrefixLen)
    }
}

impl Ipv4Cidr {
    /// The hostmask (wildcard mask, as ACLs write it): `0.0.0.255` for /24.
    pub const fn wildcard(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(!mask_bits(self.prefix_len))
    }
    /// The same prefix with the host bits cleared (`10.1.2.7/24` → `10.1.2.0/24`).
    pub const fn trunc(&self) -> Ipv4Cidr {
        Ipv4Cidr {
            addr: self.network(),
            prefix_len: self.prefix_len,
        }
    }
    /// True when the address has no host bits set, i.e. it names the
    /// network itself (always true for /32).
    pub const fn is_network_address(&self) -> bool {
        self.addr.to_bits() == self.network().to_bits()
    }
    /// Every address in the prefix, network and broadcast included
    /// (2^(32 − prefix_len); 4 294 967 296 for /0).
    pub const fn address_count(&self) -> u64 {
        1u64 << (32 - self.prefix_len as u32)
    }
    /// Usable host addresses: all but the network and broadcast addresses;
    /// a /31 has two (point-to-point link, RFC 3021 §2.1) and a /32 one
    /// (a single host route).
    pub const fn host_count(&self) -> u64 {
        match self.prefix_len {
            32 => 1,
            // RFC 3021 §2.1: on a /31 both addresses are host addresses.
            31 => 2,
            _ => self.address_count() - 2,
        }
    }
    /// The first usable host address (see [`Ipv4Cidr::host_count`] for /31, /32).
    pub const fn first_host(&self) -> Ipv4Addr {
        if self.prefix_len >= 31 {
            self.network()
        } else {
            Ipv4Addr::from_bits(self.network().to_bits() + 1)
        }
    }
    /// The last usable host address (see [`Ipv4Cidr::host_count`] for /31, /32).
    pub const fn last_host(&self) -> Ipv4Addr {
        if self.prefix_len >= 31 {
            self.broadcast()
        } else {
            Ipv4Addr::from_bits(self.broadcast().to_bits() - 1)
        }
    }
    /// True when every address of `other` lies inside this prefix.
    pub const fn contains_cidr(&self, other: &Ipv4Cidr) -> bool {
        other.prefix_len >= self.prefix_len && self.contains(other.addr)
    }
    /// The subnets of length `new_prefix_len` this prefix splits into, in
    /// address order; `None` when `new_prefix_len` is shorter than this
    /// prefix or longer than 32. Lazy: `/0` into `/32` is fine to iterate partly.
    pub fn subnets(&self, new_prefix_len: u8) -> Option<Subnets> {
        if new_prefix_len < self.prefix_len || new_prefix_len > 32 {
            return None;
        }
        Some(Subnets {
            next: u64::from(self.network().to_bits()),
            end: u64::from(self.network().to_bits()) + self.address_count(),
            step: 1u64 << (32 - u32::from(new_prefix_len)),
            prefix_len: new_prefix_len,
        })
    }
    /// The classful network this prefix's address belongs to, when its class
    /// (A, B or C) has one: `10.1.2.0/24` → `10.0.0.0/8`.
    pub fn classful(&self) -> Option<Ipv4Cidr> {
        let len = self.addr.class().default_prefix_len()?;
        Ipv4Cidr::new(self.addr, len).map(|c| c.trunc())
    }
}

/// Iterator over equal-sized subnets, from [`Ipv4Cidr::subnets`].
#[derive(Debug, Clone)]
pub struct Subnets {
    next: u64,
    end: u64,
    step: u64,
    prefix_len: u8,
}

impl Iterator for Subnets {
    type Item = Ipv4Cidr;
    fn next(&mut self) -> Option<Ipv4Cidr> {
        if self.next >= self.end {
            return None;
        }
        let addr = Ipv4Addr::from_bits(u32::try_from(self.next).ok()?);
        self.next += self.step;
        Ipv4Cidr::new(addr, self.prefix_len)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.end.saturating_sub(self.next)) / self.step;
        match usize::try_from(n) {
            Ok(n) => (n, Some(n)),
            Err(_) => (usize::MAX, None),
        }
    }
}

/// Longest-prefix match (RFC 1812 §5.2.4.3): among the routes whose prefix
/// contains `ip`, the value of the one with the longest prefix. Among equal
/// prefixes the first one given wins, so the result does not depend on
/// anything but the order of `routes`.
///
/// ```
/// # use strata::wire::ip::{longest_match, Ipv4Cidr};
/// let routes: Vec<(Ipv4Cidr, &str)> = vec![
///     ("0.0.0.0/0".parse().unwrap(), "default"),
///     ("10.0.0.0/8".parse().unwrap(), "corp"),
///     ("10.1.0.0/16".parse().unwrap(), "lab"),
/// ];
/// let hop = longest_match(routes.iter().map(|(c, v)| (c, *v)), "10.1.2.3".parse().unwrap());
/// assert_eq!(hop, Some("lab"));
/// ```
pub fn longest_match<'a, T>(
    routes: impl IntoIterator<Item = (&'a Ipv4Cidr, T)>,
    ip: Ipv4Addr,
) -> Option<T> {
    let mut best: Option<(u8, T)> = None;
    for (cidr, value) in routes {
        if cidr.contains(ip) && best.as_ref().is_none_or(|(len, _)| cidr.prefix_len > *len) {
            best = Some((cidr.prefix_len, value));
        }
    }
    best.map(|(_, v)| v)
}

/// The historic address classes (RFC 791 §3.2, RFC 1112 §4), decided by the
/// leading bits of the first octet. Classes were replaced by CIDR
/// (RFC 4632) but are still how the lesson introduces addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ipv4Class {
    /// `0xxx…`: 0.0.0.0–127.255.255.255, default mask /8.
    A,
    /// `10xx…`: 128.0.0.0–191.255.255.255, default mask /16.
    B,
    /// `110x…`: 192.0.0.0–223.255.255.255, default mask /24.
    C,
    /// `1110…`: 224.0.0.0–239.255.255.255, multicast, no mask.
    D,
    /// `1111…`: 240.0.0.0–255.255.255.255, reserved, no mask.
    E,
}

impl Ipv4Class {
    /// The class of an address.
    pub const fn of(ip: Ipv4Addr) -> Self {
        match ip.octets()[0] {
            0..=127 => Ipv4Class::A,
            128..=191 => Ipv4Class::B,
            192..=223 => Ipv4Class::C,
            224..=239 => Ipv4Class::D,
            _ => Ipv4Class::E,
        }
    }
    /// The classful (default) prefix length: 8, 16, 24; none for D and E.
    pub const fn default_prefix_len(self) -> Option<u8> {
        match self {
            Ipv4Class::A => Some(8),
            Ipv4Class::B => Some(16),
            Ipv4Class::C => Some(24),
            Ipv4Class::D | Ipv4Class::E => None,
        }
    }
    /// The classful default netmask (`255.0.0.0` for A); none for D and E.
    pub const fn default_mask(self) -> Option<Ipv4Addr> {
        match self.default_prefix_len() {
            Some(len) => Some(Ipv4Addr::from_bits(mask_bits(len))),
            None => None,
        }
    }
    /// The leading bits of the first octet that mark the class (`"10"` for B).
    pub const fn leading_bits(self) -> &'static str {
        match self {
            Ipv4Class::A => "0",
            Ipv4Class::B => "10",
            Ipv4Class::C => "110",
            Ipv4Class::D => "1110",
            Ipv4Class::E => "1111",
        }
    }
    /// The first and last address of the class.
    pub const fn range(self) -> (Ipv4Addr, Ipv4Addr) {
        let (lo, hi) = match self {
            Ipv4Class::A => (0, 127),
            Ipv4Class::B => (128, 191),
            Ipv4Class::C => (192, 223),
            Ipv4Class::D => (224, 239),
            Ipv4Class::E => (240, 255),
        };
        (Ipv4Addr::new(lo, 0, 0, 0), Ipv4Addr::new(hi, 255, 255, 255))
    }
}

impl fmt::Display for Ipv4Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = match self {
            Ipv4Class::A => "A",
            Ipv4Class::B => "B",
            Ipv4Class::C => "C",
            Ipv4Class::D => "D",
            Ipv4Class::E => "E",
        };
        f.write_str(c)
    }
}

/// What a special-purpose block is for (RFC 6890 and the IANA registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockKind {
    /// `0.0.0.0/8`: "this network"; only as a source while booting.
    ThisNetwork,
    /// `0.0.0.0/32`: the unspecified address.
    Unspecified,
    /// RFC 1918 private networks (10/8, 172.16/12, 192.168/16).
    Private,
    /// `100.64.0.0/10`: shared address space for carrier-grade NAT.
    Shared,
    /// `127.0.0.0/8`: loopback, never leaves the host.
    Loopback,
    /// `169.254.0.0/16`: link-local, self-assigned when DHCP fails.
    LinkLocal,
    /// `192.0.0.0/24`: IETF protocol assignments.
    ProtocolAssignments,
    /// TEST-NET-1/2/3, reserved for examples in documentation.
    Documentation,
    /// `198.18.0.0/15`: network device benchmarking.
    Benchmarking,
    /// `224.0.0.0/4`: multicast (class D).
    Multicast,
    /// `240.0.0.0/4`: reserved for future use (class E).
    Reserved,
    /// `255.255.255.255/32`: limited broadcast, never forwarded.
    LimitedBroadcast,
}

/// A special-purpose IPv4 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialBlock {
    /// The block.
    pub cidr: Ipv4Cidr,
    /// What it is for.
    pub kind: BlockKind,
    /// A short name, e.g. `"private network"`.
    pub name: &'static str,
    /// The defining document, e.g. `"RFC 1918"`.
    pub rfc: &'static str,
}

const fn block(
    a: u8,
    b: u8,
    len: u8,
    kind: BlockKind,
    name: &'static str,
    rfc: &'static str,
) -> SpecialBlock {
    SpecialBlock {
        cidr: Ipv4Cidr {
            addr: Ipv4Addr::new(a, b, 0, 0),
            prefix_len: len,
        },
        kind,
        name,
        rfc,
    }
}

/// The special-purpose blocks the lesson names (RFC 6890 §2.2.2), most
/// specific first, so the first containing block is the most specific.
pub static SPECIAL_BLOCKS: [SpecialBlock; 16] = [
    block(
        0,
        0,
        32,
        BlockKind::Unspecified,
        "unspecified address",
        "RFC 1122 §3.2.1.3",
    ),
    SpecialBlock {
        cidr: Ipv4Cidr {
            addr: Ipv4Addr::BROADCAST,
            prefix_len: 32,
        },
        kind: BlockKind::LimitedBroadcast,
        name: "limited broadcast",
        rfc: "RFC 919 §7",
    },
    SpecialBlock {
        cidr: Ipv4Cidr {
            addr: Ipv4Addr::new(192, 0, 2, 0),
            prefix_len: 24,
        },
        kind: BlockKind::Documentation,
        name: "documentation (TEST-NET-1)",
        rfc: "RFC 5737",
    },
    SpecialBlock {
        cidr: Ipv4Cidr {
            addr: Ipv4Addr::new(198, 51, 100, 0),
            prefix_len: 24,
        },
        kind: BlockKind::Documentation,
        name: "documentation (TEST-NET-2)",
        rfc: "RFC 5737",
    },
    SpecialBlock {
        cidr: Ipv4Cidr {
            addr: Ipv4Addr::new(203, 0, 113, 0),
            prefix_len: 24,
        },
        kind: BlockKind::Documentation,
        name: "documentation (TEST-NET-3)",
        rfc: "RFC 5737",
    },
    block(
        192,
        0,
        24,
        BlockKind::ProtocolAssignments,
        "IETF protocol assignments",
        "RFC 6890",
    ),
    block(
        192,
        168,
        16,
        BlockKind::Private,
        "private network",
        "RFC 1918",
    ),
    block(
        169,
        254,
        16,
        BlockKind::LinkLocal,
        "link-local (self-assigned)",
        "RFC 3927",
    ),
    block(
        198,
        18,
        15,
        BlockKind::Benchmarking,
        "benchmarking",
        "RFC 2544",
    ),
    block(
        172,
        16,
        12,
        BlockKind::Private,
        "private network",
        "RFC 1918",
    ),
    block(
        100,
        64,
        10,
        BlockKind::Shared,
        "shared address space (carrier-grade NAT)",
        "RFC 6598",
    ),
    block(
        0,
        0,
        8,
        BlockKind::ThisNetwork,
        "\"this network\"",
        "RFC 1122 §3.2.1.3",
    ),
    block(10, 0, 8, BlockKind::Private, "private network", "RFC 1918"),
    block(
        127,
        0,
        8,
        BlockKind::Loopback,
        "loopback",
        "RFC 1122 §3.2.1.3",
    ),
    block(224, 0, 4, BlockKind::Multicast, "multicast", "RFC 5771"),
    block(
        240,
        0,
        4,
        BlockKind::Reserved,
        "reserved (future use)",
        "RFC 1112 §4",
    ),
];

/// Lesson helpers on [`Ipv4Addr`]. The standard library already answers
/// `is_loopback`, `is_link_local`, `is_multicast`, `is_broadcast`,
/// `is_unspecified`, `is_documentation` and `is_private` (RFC 1918); this
/// adds the class, the special block with its RFC, and the ranges std
/// leaves unstable.
pub trait Ipv4Ext {
    /// The historic class (A–E).
    fn class(&self) -> Ipv4Class;
    /// The most specific special-purpose block containing the address, if
    /// any; `None` for ordinary public unicast addresses.
    fn special_block(&self) -> Option<&'static SpecialBlock>;
    /// In `100.64.0.0/10`, shared address space for carrier-grade NAT (RFC 6598).
    fn is_cgnat_shared(&self) -> bool;
    /// In `198.18.0.0/15`, for benchmarking (RFC 2544).
    fn is_benchmark_range(&self) -> bool;
    /// In `240.0.0.0/4` (class E) but not the limited broadcast address.
    fn is_class_e_reserved(&self) -> bool;
    /// True for an ordinary public unicast address: no special block applies.
    fn is_public_unicast(&self) -> bool {
        self.special_block().is_none()
    }
}

impl Ipv4Ext for Ipv4Addr {
    fn class(&self) -> Ipv4Class {
        Ipv4Class::of(*self)
    }
    fn special_block(&self) -> Option<&'static SpecialBlock> {
        SPECIAL_BLOCKS.iter().find(|b| b.cidr.contains(*self))
    }
    fn is_cgnat_shared(&self) -> bool {
        self.special_block()
            .is_some_and(|b| b.kind == BlockKind::Shared)
    }
    fn is_benchmark_range(&self) -> bool {
        self.special_block()
            .is_some_and(|b| b.kind == BlockKind::Benchmarking)
    }
    fn is_class_e_reserved(&self) -> bool {
        self.special_block()
            .is_some_and(|b| b.kind == BlockKind::Reserved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_prefixes_and_bare_addresses() {
        let p = c("10.1.2.0/24");
        assert_eq!((p.address(), p.prefix_len()), (ip("10.1.2.0"), 24));
        assert_eq!(c("10.1.2.7").prefix_len(), 32);
        assert_eq!(c("0.0.0.0/0").prefix_len(), 0);
        assert_eq!(c("10.1.2.7/24").to_string(), "10.1.2.7/24");
    }

    #[test]
    fn rejects_bad_prefixes_with_typed_errors() {
        use ParseCidrError::*;
        for (s, e) in [
            ("10.1.2.0/33", InvalidPrefixLen),
            ("10.1.2.0/", InvalidPrefixLen),
            ("10.1.2.0/+8", InvalidPrefixLen),
            ("10.1.2.0/-1", InvalidPrefixLen),
            ("10.1.2.0/024", InvalidPrefixLen),
            ("10.1.2.0/2a", InvalidPrefixLen),
            ("10.1.2.0/24/8", InvalidPrefixLen),
            ("999.1.1.1", InvalidAddress),
            ("10.1.2/24", InvalidAddress),
            ("/24", InvalidAddress),
            ("", InvalidAddress),
            ("010.1.2.0/8", InvalidAddress),
        ] {
            assert_eq!(s.parse::<Ipv4Cidr>(), Err(e), "{s:?}");
        }
    }

    #[test]
    fn network_broadcast_masks_and_hosts() {
        let p = c("192.168.1.0/26");
        assert_eq!(p.network(), ip("192.168.1.0"));
        assert_eq!(p.broadcast(), ip("192.168.1.63"));
        assert_eq!(p.netmask(), ip("255.255.255.192"));
        assert_eq!(p.wildcard(), ip("0.0.0.63"));
        assert_eq!(p.address_count(), 64);
        assert_eq!(p.host_count(), 62);
        assert_eq!(p.first_host(), ip("192.168.1.1"));
        assert_eq!(p.last_host(), ip("192.168.1.62"));
        assert!(p.is_network_address());
        let q = c("192.168.1.77/26");
        assert!(!q.is_network_address());
        assert_eq!(q.trunc(), c("192.168.1.64/26"));
        assert_eq!(q.last_host(), ip("192.168.1.126"));
    }

    #[test]
    fn edge_prefixes() {
        let all = c("0.0.0.0/0");
        assert_eq!(all.netmask(), ip("0.0.0.0"));
        assert_eq!(all.wildcard(), ip("255.255.255.255"));
        assert_eq!(all.broadcast(), ip("255.255.255.255"));
        assert_eq!(all.address_count(), 1 << 32);
        assert_eq!(all.host_count(), (1 << 32) - 2);
        assert_eq!(
            (all.first_host(), all.last_host()),
            (ip("0.0.0.1"), ip("255.255.255.254"))
        );
        assert!(all.contains(ip("8.8.8.8")) && all.contains(ip("255.255.255.255")));

        // RFC 3021: a /31 point-to-point link has two usable hosts.
        let p2p = c("10.0.0.4/31");
        assert_eq!(p2p.host_count(), 2);
        assert_eq!(
            (p2p.first_host(), p2p.last_host()),
            (ip("10.0.0.4"), ip("10.0.0.5"))
        );
        assert!(!p2p.contains(ip("10.0.0.6")));

        let host = c("10.0.0.9/32");
        assert_eq!(host.host_count(), 1);
        assert_eq!(host.netmask(), ip("255.255.255.255"));
        assert_eq!(
            (host.first_host(), host.last_host()),
            (ip("10.0.0.9"), ip("10.0.0.9"))
        );
        assert!(host.is_network_address());
        assert!(host.contains(ip("10.0.0.9")) && !host.contains(ip("10.0.0.8")));

        assert_eq!(c("10.0.0.0/30").host_count(), 2);
    }

    #[test]
    fn contains_prefixes() {
        assert!(c("10.0.0.0/8").contains_cidr(&c("10.1.0.0/16")));
        assert!(c("10.0.0.0/8").contains_cidr(&c("10.0.0.0/8")));
        assert!(!c("10.1.0.0/16").contains_cidr(&c("10.0.0.0/8")));
        assert!(!c("10.0.0.0/8").contains_cidr(&c("11.0.0.0/16")));
    }

    #[test]
    fn subnets_split_in_order() {
        let subs: Vec<_> = c("192.168.1.0/24").subnets(26).unwrap().collect();
        assert_eq!(
            subs,
            [
                c("192.168.1.0/26"),
                c("192.168.1.64/26"),
                c("192.168.1.128/26"),
                c("192.168.1.192/26")
            ]
        );
        assert_eq!(
            c("10.0.0.0/8").subnets(8).unwrap().collect::<Vec<_>>(),
            [c("10.0.0.0/8")]
        );
        assert!(c("10.0.0.0/8").subnets(7).is_none());
        assert!(c("10.0.0.0/8").subnets(33).is_none());
        // The last subnet of the whole space ends at 255.255.255.255 without overflow.
        let last = c("0.0.0.0/0").subnets(2).unwrap().last();
        assert_eq!(last, Some(c("192.0.0.0/2")));
        let mut it = c("0.0.0.0/0").subnets(32).unwrap();
        assert_eq!(it.size_hint().0 as u64, 1 << 32);
        assert_eq!(it.nth(5), Some(c("0.0.0.5/32")));
        assert_eq!(c("255.255.255.252/30").subnets(32).unwrap().count(), 4);
    }

    #[test]
    fn longest_prefix_match() {
        let routes = [
            (c("0.0.0.0/0"), "default"),
            (c("10.0.0.0/8"), "corp"),
            (c("10.1.0.0/16"), "lab"),
            (c("10.1.2.3/32"), "host"),
            (c("10.1.0.0/16"), "lab-duplicate"),
        ];
        let lpm = |s| longest_match(routes.iter().map(|(c, v)| (c, *v)), ip(s));
        assert_eq!(lpm("10.1.2.3"), Some("host"));
        assert_eq!(lpm("10.1.2.4"), Some("lab"));
        assert_eq!(lpm("10.200.0.1"), Some("corp"));
        assert_eq!(lpm("8.8.8.8"), Some("default"));
        let no_default = [(c("10.0.0.0/8"), 1)];
        assert_eq!(
            longest_match(no_default.iter().map(|(c, v)| (c, *v)), ip("11.0.0.1")),
            None
        );
        assert_eq!(
            longest_match(core::iter::empty::<(&Ipv4Cidr, u8)>(), ip("1.1.1.1")),
            None
        );
    }

    #[test]
    fn classes_and_default_masks() {
        let cases = [
            ("0.0.0.0", Ipv4Class::A, Some(8)),
            ("10.0.0.1", Ipv4Class::A, Some(8)),
            ("127.255.255.255", Ipv4Class::A, Some(8)),
            ("128.0.0.0", Ipv4Class::B, Some(16)),
            ("172.16.5.4", Ipv4Class::B, Some(16)),
            ("191.255.0.1", Ipv4Class::B, Some(16)),
            ("192.0.0.0", Ipv4Class::C, Some(24)),
            ("223.255.255.255", Ipv4Class::C, Some(24)),
            ("224.0.0.1", Ipv4Class::D, None),
            ("239.255.255.255", Ipv4Class::D, None),
            ("240.0.0.0", Ipv4Class::E, None),
            ("255.255.255.255", Ipv4Class::E, None),
        ];
        for (s, class, len) in cases {
            assert_eq!(ip(s).class(), class, "{s}");
            assert_eq!(class.default_prefix_len(), len);
            let (lo, hi) = class.range();
            assert!(lo <= ip(s) && ip(s) <= hi);
            let first_octet = ip(s).octets()[0];
            assert!(format!("{first_octet:08b}").starts_with(class.leading_bits()));
        }
        assert_eq!(Ipv4Class::B.default_mask(), Some(ip("255.255.0.0")));
        assert_eq!(Ipv4Class::D.default_mask(), None);
        assert_eq!(c("172.16.5.4").classful(), Some(c("172.16.0.0/16")));
        assert_eq!(c("224.0.0.1").classful(), None);
    }

    #[test]
    fn special_blocks() {
        let kind = |s: &str| ip(s).special_block().map(|b| b.kind);
        assert_eq!(kind("10.9.8.7"), Some(BlockKind::Private));
        assert_eq!(kind("172.16.5.4"), Some(BlockKind::Private));
        assert_eq!(kind("172.31.255.255"), Some(BlockKind::Private));
        assert_eq!(kind("172.32.0.1"), None);
        assert_eq!(kind("192.168.1.10"), Some(BlockKind::Private));
        assert_eq!(kind("100.64.0.1"), Some(BlockKind::Shared));
        assert_eq!(kind("100.128.0.1"), None);
        assert_eq!(kind("127.0.0.1"), Some(BlockKind::Loopback));
        assert_eq!(kind("169.254.1.1"), Some(BlockKind::LinkLocal));
        assert_eq!(kind("192.0.2.33"), Some(BlockKind::Documentation));
        assert_eq!(kind("198.51.100.1"), Some(BlockKind::Documentation));
        assert_eq!(kind("203.0.113.255"), Some(BlockKind::Documentation));
        assert_eq!(kind("192.0.0.8"), Some(BlockKind::ProtocolAssignments));
        assert_eq!(kind("198.19.0.1"), Some(BlockKind::Benchmarking));
        assert_eq!(kind("224.0.0.251"), Some(BlockKind::Multicast));
        assert_eq!(kind("250.1.1.1"), Some(BlockKind::Reserved));
        assert_eq!(kind("255.255.255.255"), Some(BlockKind::LimitedBroadcast));
        assert_eq!(kind("0.0.0.0"), Some(BlockKind::Unspecified));
        assert_eq!(kind("0.1.2.3"), Some(BlockKind::ThisNetwork));
        assert_eq!(kind("8.8.8.8"), None);
        assert_eq!(
            ip("172.16.5.4").special_block().unwrap().cidr,
            c("172.16.0.0/12")
        );
        assert!(ip("100.100.0.1").is_cgnat_shared() && !ip("10.0.0.1").is_cgnat_shared());
        assert!(ip("198.18.0.1").is_benchmark_range());
        assert!(
            ip("240.0.0.1").is_class_e_reserved() && !ip("255.255.255.255").is_class_e_reserved()
        );
        assert!(ip("1.1.1.1").is_public_unicast() && !ip("10.0.0.1").is_public_unicast());
        // Agreement with std where std has a stable answer.
        for b in &SPECIAL_BLOCKS {
            let a = b.cidr.network();
            assert_eq!(b.kind == BlockKind::Private, a.is_private(), "{a}");
            assert_eq!(b.kind == BlockKind::Loopback, a.is_loopback(), "{a}");
            assert_eq!(b.kind == BlockKind::LinkLocal, a.is_link_local(), "{a}");
            assert_eq!(b.kind == BlockKind::Multicast, a.is_multicast(), "{a}");
            assert_eq!(
                b.kind == BlockKind::Documentation,
                a.is_documentation(),
                "{a}"
            );
        }
    }

    #[test]
    fn special_blocks_are_ordered_most_specific_first() {
        for (i, a) in SPECIAL_BLOCKS.iter().enumerate() {
            assert!(a.cidr.is_network_address(), "{}", a.cidr);
            for b in &SPECIAL_BLOCKS[i + 1..] {
                assert!(
                    !b.cidr.contains_cidr(&a.cidr)
                        || b.cidr.prefix_len() < a.cidr.prefix_len()
                        || a == b
                );
                assert!(
                    !a.cidr.contains_cidr(&b.cidr) || a.cidr == b.cidr,
                    "{} before {}",
                    a.cidr,
                    b.cidr
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn cidr_display_round_trips_and_is_consistent(bits in proptest::num::u32::ANY, len in 0u8..=32) {
            let p = Ipv4Cidr::new(Ipv4Addr::from_bits(bits), len).unwrap();
            proptest::prop_assert_eq!(p.to_string().parse::<Ipv4Cidr>(), Ok(p));
            proptest::prop_assert!(p.contains(p.network()) && p.contains(p.broadcast()));
            proptest::prop_assert!(p.contains(p.first_host()) && p.contains(p.last_host()));
            proptest::prop_assert_eq!(
                u64::from(p.broadcast().to_bits() - p.network().to_bits()) + 1,
                p.address_count()
            );
            proptest::prop_assert_eq!(p.netmask().to_bits() | p.wildcard().to_bits(), u32::MAX);
        }

        #[test]
        fn cidr_parse_never_panics(s in "[0-9./+-]{0,24}|\\PC{0,24}") {
            let _ = s.parse::<Ipv4Cidr>();
        }
    }
}
