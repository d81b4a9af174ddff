//! The IPv4 routing table: longest-prefix match over directly connected
//! prefixes, static routes and a default gateway (RFC 1812 §5.2.4.3,
//! RFC 1122 §3.3.1).
//!
//! Routes are kept in one ordered map per prefix length, keyed by the
//! network address, so a lookup probes at most 33 maps from /32 down to /0
//! and the first hit is the longest match.

use crate::link::IfaceId;
use crate::wire::ip::Ipv4Cidr;
use core::net::Ipv4Addr;
use std::collections::BTreeMap;

/// Where a route sends matching packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The destinations it covers.
    pub prefix: Ipv4Cidr,
    /// The next-hop router, or `None` when the prefix is directly
    /// connected (the destination itself is the next hop).
    pub gateway: Option<Ipv4Addr>,
    /// The interface to send on.
    pub iface: IfaceId,
    /// Where the route came from.
    pub kind: RouteKind,
}

/// Origin of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteKind {
    /// Added with an interface address.
    Connected,
    /// Added by hand.
    Static,
}

impl Route {
    /// The IP address to resolve with ARP for destination `dst`.
    pub fn next_hop(&self, dst: Ipv4Addr) -> Ipv4Addr {
        self.gateway.unwrap_or(dst)
    }
}

/// A routing table.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    /// `by_len[l]` maps a masked network address to the route of length `l`.
    by_len: [BTreeMap<u32, Route>; 33],
    /// Bit `l` set when `by_len[l]` is not empty: a lookup visits only the
    /// prefix lengths in use (usually two or three), longest first.
    lengths: u64,
    len: usize,
}

impl Default for RoutingTable {
    fn default() -> Self {
        RoutingTable {
            by_len: core::array::from_fn(|_| BTreeMap::new()),
            lengths: 0,
            len: 0,
        }
    }
}

impl RoutingTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the route for `route.prefix`. A connected route is
    /// never replaced by a static one for the same prefix.
    pub fn insert(&mut self, route: Route) -> Option<Route> {
        let prefix = Ipv4Cidr::new(route.prefix.network(), route.prefix.prefix_len())
            .expect("prefix length already valid");
        let route = Route { prefix, ..route };
        let map = &mut self.by_len[usize::from(prefix.prefix_len())];
        let key = prefix.network().to_bits();
        if let Some(old) = map.get(&key) {
            if old.kind == RouteKind::Connected && route.kind == RouteKind::Static {
                return Some(route);
            }
        } else {
            self.len += 1;
        }
        self.lengths |= 1 << prefix.prefix_len();
        map.insert(key, route)
    }

    /// Removes the route for exactly `prefix`.
    pub fn remove(&mut self, prefix: Ipv4Cidr) -> Option<Route> {
        let l = usize::from(prefix.prefix_len());
        let r = self.by_len[l].remove(&prefix.network().to_bits());
        if r.is_some() {
            self.len -= 1;
        }
        if self.by_len[l].is_empty() {
            self.lengths &= !(1 << l);
        }
        r
    }

    /// Sets the default route (0.0.0.0/0) via `gateway` on `iface`.
    pub fn set_default_gateway(&mut self, gateway: Ipv4Addr, iface: IfaceId) {
        self.insert(Route {
            prefix: Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0).expect("/0 valid"),
            gateway: Some(gateway),
            iface,
            kind: RouteKind::Static,
        });
    }

    /// The longest-prefix match for `dst` (RFC 1812 §5.2.4.3).
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<&Route> {
        let bits = dst.to_bits();
        let mut lengths = self.lengths;
        while lengths != 0 {
            // The longest prefix length still in play.
            let l = 63 - lengths.leading_zeros() as usize;
            lengths &= !(1 << l);
            let mask = if l == 0 { 0 } else { u32::MAX << (32 - l) };
            if let Some(r) = self.by_len[l].get(&(bits & mask)) {
                return Some(r);
            }
        }
        None
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no routes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All routes, longest prefixes first, then by network address.
    pub fn iter(&self) -> impl Iterator<Item = &Route> + '_ {
        self.by_len.iter().rev().flat_map(|m| m.values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(a: [u8; 4], l: u8) -> Ipv4Cidr {
        Ipv4Cidr::new(Ipv4Addr::from(a), l).unwrap()
    }

    fn table() -> RoutingTable {
        let mut t = RoutingTable::new();
        t.insert(Route {
            prefix: cidr([10, 0, 0, 1], 24),
            gateway: None,
            iface: IfaceId(0),
            kind: RouteKind::Connected,
        });
        t.insert(Route {
            prefix: cidr([10, 0, 0, 0], 8),
            gateway: Some(Ipv4Addr::new(10, 0, 0, 254)),
            iface: IfaceId(0),
            kind: RouteKind::Static,
        });
        t.insert(Route {
            prefix: cidr([10, 0, 0, 128], 25),
            gateway: Some(Ipv4Addr::new(10, 0, 0, 253)),
            iface: IfaceId(1),
            kind: RouteKind::Static,
        });
        t.set_default_gateway(Ipv4Addr::new(10, 0, 0, 1), IfaceId(2));
        t
    }

    #[test]
    fn longest_prefix_wins() {
        let t = table();
        let hop = |d: [u8; 4]| {
            let r = t.lookup(Ipv4Addr::from(d)).unwrap();
            (r.iface, r.next_hop(Ipv4Addr::from(d)))
        };
        assert_eq!(hop([10, 0, 0, 5]), (IfaceId(0), Ipv4Addr::new(10, 0, 0, 5)));
        assert_eq!(
            hop([10, 0, 0, 200]),
            (IfaceId(1), Ipv4Addr::new(10, 0, 0, 253))
        );
        assert_eq!(
            hop([10, 9, 9, 9]),
            (IfaceId(0), Ipv4Addr::new(10, 0, 0, 254))
        );
        assert_eq!(hop([8, 8, 8, 8]), (IfaceId(2), Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(t.len(), 4);
        let lens: Vec<u8> = t.iter().map(|r| r.prefix.prefix_len()).collect();
        assert_eq!(lens, [25, 24, 8, 0]);
    }

    #[test]
    fn no_default_means_no_route() {
        let mut t = table();
        t.remove(cidr([0, 0, 0, 0], 0)).unwrap();
        assert!(t.lookup(Ipv4Addr::new(8, 8, 8, 8)).is_none());
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn static_does_not_override_connected() {
        let mut t = table();
        t.insert(Route {
            prefix: cidr([10, 0, 0, 0], 24),
            gateway: Some(Ipv4Addr::new(1, 1, 1, 1)),
            iface: IfaceId(3),
            kind: RouteKind::Static,
        });
        let r = t.lookup(Ipv4Addr::new(10, 0, 0, 9)).unwrap();
        assert_eq!(r.kind, RouteKind::Connected);
        assert_eq!(r.prefix, cidr([10, 0, 0, 0], 24), "stored masked");
    }

    #[test]
    fn host_route_beats_all() {
        let mut t = table();
        t.insert(Route {
            prefix: cidr([10, 0, 0, 7], 32),
            gateway: None,
            iface: IfaceId(5),
            kind: RouteKind::Static,
        });
        assert_eq!(
            t.lookup(Ipv4Addr::new(10, 0, 0, 7)).unwrap().iface,
            IfaceId(5)
        );
        assert_eq!(
            t.lookup(Ipv4Addr::new(10, 0, 0, 6)).unwrap().iface,
            IfaceId(0)
        );
    }
}
