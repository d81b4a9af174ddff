//! One interface of a [`Stack`]: its MAC, MTU, device offloads, IPv4
//! addresses and ARP cache, and the address questions every layer asks of
//! the interfaces (is this address ours, a broadcast, which source to use).

use super::arp::ArpCache;
use super::IfaceId;
use crate::phy::Offloads;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::ip::Ipv4Cidr;
use crate::wire::MacAddr;
use core::net::Ipv4Addr;
use std::collections::BTreeMap;

/// One interface of a stack (`Stack::add_interface`, `add_loopback`).
#[derive(Debug)]
pub(crate) struct Interface {
    pub(crate) mac: MacAddr,
    pub(crate) mtu: usize,
    /// What the device does for the stack ([`Stack::set_device_caps`]).
    pub(crate) offloads: Offloads,
    pub(crate) addrs: Vec<Ipv4Cidr>,
    /// The loopback interface: no link, no ARP; every address of its
    /// prefixes is ours (127.0.0.0/8, as on Linux), and what is routed to
    /// it comes straight back in.
    pub(crate) loopback: bool,
    pub(crate) arp: ArpCache<Vec<u8>>,
    /// Last time each address was defended (RFC 5227 §2.4 (b)).
    pub(crate) defended: BTreeMap<Ipv4Addr, Instant>,
}

impl Interface {
    /// True when `ip` is an address of this interface (on the loopback
    /// interface: any address in its prefixes).
    pub(crate) fn owns(&self, ip: Ipv4Addr) -> bool {
        self.addrs
            .iter()
            .any(|c| c.address() == ip || (self.loopback && c.contains(ip)))
    }
}

impl Stack {
    /// True when `ip` is the limited broadcast or a directed broadcast of
    /// a prefix on `iface`.
    pub(crate) fn is_broadcast_on(&self, iface: IfaceId, ip: Ipv4Addr) -> bool {
        is_broadcast_on(&self.ifaces, iface, ip)
    }

    /// True when `ip` is a broadcast address on any interface.
    pub(crate) fn is_any_broadcast(&self, ip: Ipv4Addr) -> bool {
        any_broadcast(&self.ifaces, ip)
    }

    /// Our address on `iface` best suited to talk to `peer`.
    pub(crate) fn source_for(&self, iface: IfaceId, peer: Ipv4Addr) -> Option<Ipv4Addr> {
        source_for(&self.ifaces, iface, peer)
    }
}

/// Our address on `iface` best suited to talk to `peer`: one whose prefix
/// contains it, else the first.
pub(crate) fn source_for(ifaces: &[Interface], iface: IfaceId, peer: Ipv4Addr) -> Option<Ipv4Addr> {
    let i = ifaces.get(iface.0)?;
    i.addrs
        .iter()
        .find(|c| c.contains(peer))
        .or(i.addrs.first())
        .map(|c| c.address())
}

/// True when `ip` is the limited broadcast or the directed broadcast of a
/// prefix on `iface`.
pub(crate) fn is_broadcast_on(ifaces: &[Interface], iface: IfaceId, ip: Ipv4Addr) -> bool {
    ip.is_broadcast()
        || ifaces.get(iface.0).is_some_and(|i| {
            i.addrs
                .iter()
                .any(|c| c.prefix_len() < 31 && c.broadcast() == ip)
        })
}

/// True when `ip` is assigned to one of `ifaces`.
pub(crate) fn is_local(ifaces: &[Interface], ip: Ipv4Addr) -> bool {
    ifaces.iter().any(|i| i.owns(ip))
}

/// True when `ip` is the limited broadcast or the directed broadcast of a
/// prefix on any of `ifaces`.
pub(crate) fn any_broadcast(ifaces: &[Interface], ip: Ipv4Addr) -> bool {
    (0..ifaces.len()).any(|i| is_broadcast_on(ifaces, IfaceId(i), ip))
}
