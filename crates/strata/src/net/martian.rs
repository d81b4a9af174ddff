//! Address sanity on the IPv4 path: one check for sources and destinations
//! that may never be seen on a wire (RFC 1122 §3.2.1.3, RFC 1812 §4.2.2.11
//! and §5.3.7, RFC 6890), and the source-route options a host drops by
//! default (RFC 7126 §4.3–4.4).
//!
//! The check knows whether the datagram came over a loopback path (our own
//! address to our own address, or a loopback interface): such traffic
//! legitimately carries 127/8 and our own addresses, so the caller passes
//! [`Arrival::Loopback`] for it and the check lets it through.

use core::net::Ipv4Addr;

/// How a datagram reached the IP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// From a link (Ethernet): nothing it says about addresses is trusted.
    Wire,
    /// From this host itself (the loopback queue or a loopback interface):
    /// 127/8 and our own addresses are expected.
    Loopback,
}

/// Why an address may not appear where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Martian {
    /// 0.0.0.0/8 other than 0.0.0.0 as a source: "this network" (RFC 1122
    /// §3.2.1.3 (a)(b): only a source during initialisation, never a
    /// destination).
    #[error("address in 0.0.0.0/8 (this network)")]
    ThisNetwork,
    /// 127.0.0.0/8 (RFC 1122 §3.2.1.3 (g): "MUST NOT appear outside a host").
    #[error("loopback address outside the host")]
    Loopback,
    /// 224.0.0.0/4 as a source (RFC 1122 §3.2.1.3, RFC 1812 §5.3.7), or as
    /// a destination of a stack that joins no group.
    #[error("multicast address")]
    Multicast,
    /// 240.0.0.0/4 but the limited broadcast (RFC 1812 §4.2.2.11 (d),
    /// §5.3.7: class E is reserved).
    #[error("reserved (class E) address")]
    Reserved,
    /// 255.255.255.255 or a directed broadcast as a source (RFC 1122
    /// §3.2.1.3 (c)(d)).
    #[error("broadcast source address")]
    BroadcastSource,
    /// One of our own addresses as the source of a datagram from a link:
    /// forged (LAND) or looped back by the network (RFC 1812 §5.3.7
    /// discards them; Linux does the same in its source validation).
    #[error("our own address as a source from the wire")]
    OwnAddress,
}

/// The source-address check of a received datagram (RFC 1122 §3.2.1.3: "A
/// host MUST silently discard an incoming datagram containing an IP source
/// address that is invalid by the rules of this section"). `is_broadcast`
/// tells whether an address is the directed broadcast of *any* of our
/// prefixes (not only the arrival interface's: a source "from 10.0.1.255"
/// arriving on another interface would turn a reply into a broadcast onto
/// 10.0.1.0/24); `is_own` whether it is one of our addresses.
/// 0.0.0.0 itself is allowed (a host initialising, e.g. DHCP), but never
/// answered (see [`check_destination`]).
pub fn check_source(
    src: Ipv4Addr,
    arrival: Arrival,
    is_broadcast: impl FnOnce(Ipv4Addr) -> bool,
    is_own: impl FnOnce(Ipv4Addr) -> bool,
) -> Result<(), Martian> {
    let o = src.octets();
    if src.is_broadcast() {
        return Err(Martian::BroadcastSource);
    }
    if src.is_multicast() {
        return Err(Martian::Multicast);
    }
    if o[0] >= 240 {
        return Err(Martian::Reserved);
    }
    if o[0] == 0 && !src.is_unspecified() {
        return Err(Martian::ThisNetwork);
    }
    if arrival == Arrival::Wire {
        if src.is_loopback() {
            return Err(Martian::Loopback);
        }
        if is_own(src) {
            return Err(Martian::OwnAddress);
        }
    }
    if is_broadcast(src) {
        return Err(Martian::BroadcastSource);
    }
    Ok(())
}

/// The destination-address check, for datagrams received (before local
/// delivery or forwarding) and for datagrams we are about to send.
/// Broadcast destinations are not martian here (the callers decide about
/// them); 0/8, 127/8 off a loopback path, multicast (no group is ever
/// joined here) and class E are (RFC 1122 §3.2.1.3, RFC 1812 §5.3.7: "A
/// router SHOULD NOT forward any packet that has an invalid IP source
/// address or a source address on network 0 ... MUST NOT forward ...
/// destination address ... class E").
pub fn check_destination(dst: Ipv4Addr, arrival: Arrival) -> Result<(), Martian> {
    let o = dst.octets();
    if dst.is_broadcast() {
        return Ok(());
    }
    if o[0] == 0 {
        return Err(Martian::ThisNetwork);
    }
    if dst.is_multicast() {
        return Err(Martian::Multicast);
    }
    if o[0] >= 240 {
        return Err(Martian::Reserved);
    }
    if arrival == Arrival::Wire && dst.is_loopback() {
        return Err(Martian::Loopback);
    }
    Ok(())
}

/// Option types of loose and strict source routes (RFC 791 §3.1).
const LSRR: u8 = 131;
const SSRR: u8 = 137;

/// True when the options of an IPv4 header (`options`: the bytes after the
/// fixed 20) carry a loose or strict source route. RFC 7126 §4.3.3 and
/// §4.4.3: such datagrams SHOULD be dropped by default — a source route
/// lets an attacker pick the path back, and RFC 1122 §3.3.5's unfinished
/// route would otherwise be delivered here or forwarded unchanged. A
/// malformed option list ends the scan (the header checksum already
/// passed; the option is not trusted either way).
pub fn has_source_route(options: &[u8]) -> bool {
    let mut i = 0;
    while i < options.len() {
        match options[i] {
            0 => return false,
            1 => i += 1,
            t => {
                if t == LSRR || t == SSRR {
                    return true;
                }
                let Some(&l) = options.get(i + 1) else {
                    return false;
                };
                if l < 2 {
                    return false;
                }
                i += usize::from(l);
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
        Ipv4Addr::new(a, b, c, d)
    }

    #[test]
    fn sources() {
        let none = |_| false;
        let wire = |s| check_source(s, Arrival::Wire, none, |a| a == ip(10, 0, 0, 1));
        assert_eq!(wire(ip(10, 0, 0, 2)), Ok(()));
        assert_eq!(wire(Ipv4Addr::UNSPECIFIED), Ok(()));
        assert_eq!(wire(ip(0, 1, 2, 3)), Err(Martian::ThisNetwork));
        assert_eq!(wire(ip(127, 0, 0, 1)), Err(Martian::Loopback));
        assert_eq!(wire(ip(224, 0, 0, 1)), Err(Martian::Multicast));
        assert_eq!(wire(ip(240, 0, 0, 1)), Err(Martian::Reserved));
        assert_eq!(wire(Ipv4Addr::BROADCAST), Err(Martian::BroadcastSource));
        assert_eq!(wire(ip(10, 0, 0, 1)), Err(Martian::OwnAddress));
        let bcast = |s| check_source(s, Arrival::Wire, |a| a == ip(10, 0, 1, 255), none);
        assert_eq!(bcast(ip(10, 0, 1, 255)), Err(Martian::BroadcastSource));
        // A loopback path may carry 127/8 and our own address.
        let lo = |s| check_source(s, Arrival::Loopback, none, |a| a == ip(10, 0, 0, 1));
        assert_eq!(lo(ip(127, 0, 0, 1)), Ok(()));
        assert_eq!(lo(ip(10, 0, 0, 1)), Ok(()));
        assert_eq!(lo(ip(240, 0, 0, 1)), Err(Martian::Reserved));
    }

    #[test]
    fn destinations() {
        let wire = |d| check_destination(d, Arrival::Wire);
        assert_eq!(wire(ip(10, 0, 0, 1)), Ok(()));
        assert_eq!(wire(Ipv4Addr::BROADCAST), Ok(()));
        assert_eq!(wire(Ipv4Addr::UNSPECIFIED), Err(Martian::ThisNetwork));
        assert_eq!(wire(ip(0, 0, 0, 9)), Err(Martian::ThisNetwork));
        assert_eq!(wire(ip(127, 0, 0, 1)), Err(Martian::Loopback));
        assert_eq!(wire(ip(239, 1, 1, 1)), Err(Martian::Multicast));
        assert_eq!(wire(ip(250, 0, 0, 1)), Err(Martian::Reserved));
        assert_eq!(
            check_destination(ip(127, 0, 0, 1), Arrival::Loopback),
            Ok(())
        );
    }

    #[test]
    fn source_route_options() {
        assert!(!has_source_route(&[]));
        assert!(!has_source_route(&[1, 1, 1, 0]));
        assert!(has_source_route(&[1, 131, 7, 4, 10, 0, 0, 1, 0]));
        assert!(has_source_route(&[137, 7, 4, 10, 0, 0, 1, 0]));
        // Record route (7) then strict source route.
        assert!(has_source_route(&[7, 3, 4, 137, 3, 4, 0, 0]));
        // Malformed length stops the scan.
        assert!(!has_source_route(&[7, 0, 131, 3]));
        assert!(!has_source_route(&[7]));
    }
}
