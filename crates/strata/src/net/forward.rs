//! Router mode (RFC 1812): forwarding datagrams not addressed to us, and
//! address and port translation on the way (NAPT, RFC 3022; the mapping
//! table is [`super::nat`]).

use super::frag::FragKey;
use super::icmp::IcmpErrorKind;
use super::nat::{Inbound, Nat, NatProtocol, Outbound};
use crate::link::IfaceId;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::ipv4::{IpProtocol, Ipv4Packet};
use core::net::Ipv4Addr;

impl Stack {
    /// Router mode: forward a datagram received on `in_iface` (RFC 1812
    /// §5.2, §5.3).
    pub(crate) fn forward(
        &mut self,
        now: Instant,
        in_iface: IfaceId,
        datagram: &[u8],
        link_bcast: bool,
    ) {
        let pkt = Ipv4Packet::new_unchecked(datagram);
        let (src, dst, ttl) = (pkt.src(), pkt.dst(), pkt.ttl());
        let hl = pkt.header_len();
        // RFC 1812 §5.3.4 / §5.3.5: never forward link-layer broadcasts,
        // limited or directed broadcasts, multicast, or from 0.0.0.0.
        if link_bcast
            || dst.is_broadcast()
            || dst.is_multicast()
            || self.is_any_broadcast(dst)
            || src.is_unspecified()
        {
            self.stats.ip.dropped.broadcast_not_forwarded += 1;
            return;
        }
        // RFC 1812 §5.3.1: decrement TTL; if it reaches 0, discard and send
        // time exceeded (code 0) to the source.
        if ttl <= 1 {
            self.stats.ip.dropped.ttl_exceeded += 1;
            self.icmp_error(
                now,
                IcmpErrorKind::TtlExceeded,
                &datagram[..hl],
                &datagram[hl..],
                false,
            );
            return;
        }
        let Some(route) = self.routes.lookup(dst).copied() else {
            self.stats.ip.dropped.no_route += 1;
            // RFC 1812 §5.2.7.1: network unreachable.
            self.icmp_error(
                now,
                IcmpErrorKind::NetUnreachable,
                &datagram[..hl],
                &datagram[hl..],
                false,
            );
            return;
        };
        let mut copy = datagram.to_vec();
        // RFC 1624: update the checksum incrementally for the new TTL.
        Ipv4Packet::new_unchecked(&mut copy[..]).set_ttl_incremental(ttl - 1);
        let next_hop = route.next_hop(dst);
        let mtu = self.ifaces[route.iface.0].mtu;
        if copy.len() > mtu && pkt.dont_frag() {
            // RFC 1191 §4 / RFC 1812 §5.2.7.1: fragmentation needed, with
            // the next-hop MTU.
            self.stats.ip.dropped.frag_needed += 1;
            let kind = IcmpErrorKind::FragmentationNeeded {
                mtu: u16::try_from(mtu).unwrap_or(u16::MAX),
            };
            self.icmp_error(now, kind, &datagram[..hl], &datagram[hl..], false);
            return;
        }
        if self.nat_outside() == Some(route.iface) && in_iface != route.iface {
            // RFC 3022 §2.2: out through the outside interface, from its
            // address.
            let Some(ext) = self.nat_address() else {
                self.stats.ip.dropped.no_route += 1;
                return;
            };
            if pkt.more_frags() || pkt.frag_offset() != 0 {
                // RFC 4787 REQ-14: only the first fragment has the ports;
                // the datagram is reassembled here, translated whole and
                // cut again for the outside link.
                let key = FragKey {
                    src,
                    dst,
                    protocol: pkt.protocol().0,
                    ident: pkt.ident(),
                };
                let off = usize::from(pkt.frag_offset());
                let more = pkt.more_frags();
                match self
                    .reasm
                    .push(now, key, &copy[..hl], off, more, &copy[hl..])
                {
                    Ok(Some(whole)) => copy = whole_datagram(&whole.header, &whole.payload),
                    Ok(None) => return,
                    Err(_) => {
                        self.stats.ip.dropped.fragment += 1;
                        return;
                    }
                }
            }
            if !self.nat_out(now, ext, &mut copy) {
                return;
            }
        }
        self.stats.ip.forwarded += 1;
        tracing::trace!(target: "strata::net", %src, %dst, ttl = ttl - 1, via = %route.iface, "forward");
        self.send_datagram(now, route.iface, next_hop, false, copy);
    }

    /// The outside interface of the NAT, when on.
    pub(crate) fn nat_outside(&self) -> Option<IfaceId> {
        self.nat.as_ref().map(Nat::outside)
    }

    /// The NAT's outside address: the outside interface's first address.
    pub(crate) fn nat_address(&self) -> Option<Ipv4Addr> {
        let o = self.nat_outside()?;
        self.ifaces.get(o.0)?.addrs.first().map(|c| c.address())
    }

    /// Whether the router's own sockets hold `port` (the NAT leaves such
    /// ports alone).
    pub(crate) fn owns_port(&self, p: NatProtocol, port: u16) -> bool {
        match p {
            NatProtocol::Udp => self.udp.port_in_use(port),
            NatProtocol::Tcp => {
                self.tcp.is_listening_port(Ipv4Addr::UNSPECIFIED, port)
                    || self.tcp.connections().any(|(_, c)| c.local.port() == port)
            }
            NatProtocol::Icmp => self.pings.keys().any(|(id, _)| *id == port),
        }
    }

    /// Translates a datagram from inside on its way out; false when the
    /// NAT dropped it.
    pub(crate) fn nat_out(&mut self, now: Instant, ext: Ipv4Addr, d: &mut [u8]) -> bool {
        let Some(mut nat) = self.nat.take() else {
            return true;
        };
        let r = nat.outbound(now, ext, d, &|p, port| self.owns_port(p, port));
        self.nat = Some(nat);
        r == Outbound::Translated
    }

    /// A whole datagram for the NAT's outside address (from outside, or
    /// from inside: hairpinning). True when the NAT took it (translated
    /// and forwarded, or dropped); false when it is for the router itself.
    pub(crate) fn nat_intercept(&mut self, now: Instant, iface: IfaceId, d: &mut Vec<u8>) -> bool {
        let (Some(ext), Some(outside)) = (self.nat_address(), self.nat_outside()) else {
            return false;
        };
        let Some((proto, dport)) = nat_ports(d) else {
            return false;
        };
        let from_inside = iface != outside;
        if from_inside {
            // RFC 4787 §6 REQ-9: hairpinning. Only for a mapped port: the
            // rest is for the router itself.
            if !self.nat.as_ref().is_some_and(|n| n.has_mapping(proto, d)) {
                return false;
            }
            // REQ-9 b: the source becomes the sender's outside endpoint.
            if !self.nat_out(now, ext, d) {
                return true;
            }
            if let Some(n) = self.nat.as_mut() {
                n.count_hairpin();
            }
        }
        let Some(nat) = self.nat.as_mut() else {
            return false;
        };
        match nat.inbound(now, ext, d) {
            Inbound::Translated(_) => {
                // Forwarded in with the TTL decremented (RFC 1812 §5.3.1).
                let d = core::mem::take(d);
                self.forward(now, iface, &d, false);
                true
            }
            Inbound::Filtered | Inbound::Malformed => true,
            Inbound::NoMapping => {
                if dport.is_none_or(|(p, port)| self.owns_port(p, port)) {
                    return false;
                }
                // RFC 4787 §5 / RFC 5382 REQ-4: unsolicited, dropped
                // silently (no port unreachable, no RST from the NAT).
                if let Some(n) = self.nat.as_mut() {
                    n.count_unsolicited();
                }
                true
            }
        }
    }
}

/// A reassembled datagram as one buffer: the first fragment's header with
/// the total length set and the fragment fields cleared (DF kept).
pub(crate) fn whole_datagram(header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(header.len() + payload.len());
    d.extend_from_slice(header);
    d.extend_from_slice(payload);
    let total = u16::try_from(d.len()).unwrap_or(u16::MAX);
    d[2..4].copy_from_slice(&total.to_be_bytes());
    d[6] &= 0x40;
    d[7] = 0;
    Ipv4Packet::new_unchecked(&mut d[..header.len()]).fill_checksum();
    d
}

/// The protocol of a datagram and, for UDP and TCP, its destination port
/// (`None` when too short to say).
fn nat_ports(d: &[u8]) -> Option<(IpProtocol, Option<(NatProtocol, u16)>)> {
    let hl = usize::from(*d.first()? & 0x0f) * 4;
    let proto = IpProtocol(*d.get(9)?);
    let l4 = d.get(hl..)?;
    let port = |p| l4.get(2..4).map(|b| (p, u16::from_be_bytes([b[0], b[1]])));
    let dport = match proto {
        IpProtocol::UDP => port(NatProtocol::Udp),
        IpProtocol::TCP => port(NatProtocol::Tcp),
        _ => None,
    };
    Some((proto, dport))
}
