//! IPv4 ingress: a datagram from a link (or looped back) is checked
//! (RFC 791, RFC 1122 §3.2.1), refused when martian, translated or
//! forwarded when not ours, reassembled when a fragment, and delivered to
//! ICMP, UDP or TCP.

use super::forward::whole_datagram;
use super::frag::FragKey;
use super::icmp::IcmpErrorKind;
use super::martian::{self, Arrival};
use crate::link::interface::{any_broadcast, is_local};
use crate::link::IfaceId;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::ipv4::{IpProtocol, Ipv4Packet};
use crate::wire::Error as WireError;

impl Stack {
    /// One IPv4 datagram from `iface`; `arrival` says whether it came over
    /// a link or from this host itself (the loopback path, which may carry
    /// 127/8 and our own addresses).
    pub(crate) fn ingress_ipv4(
        &mut self,
        now: Instant,
        iface: IfaceId,
        payload: &[u8],
        link_bcast: bool,
        arrival: Arrival,
    ) {
        let _net = layer_span!(target: "strata::net", "ipv4");
        self.stats.ip.received += 1;
        let pkt = match Ipv4Packet::new_checked(payload) {
            Ok(p) => p,
            Err(WireError::Truncated) => {
                self.stats.ip.dropped.truncated += 1;
                return;
            }
            Err(_) => {
                self.stats.ip.dropped.bad_header_len += 1;
                return;
            }
        };
        // RFC 791 §3.1 / RFC 1122 §3.2.1.1: version 4 only.
        if pkt.version() != 4 {
            self.stats.ip.dropped.bad_version += 1;
            return;
        }
        // RFC 1122 §3.2.1.2: verify the header checksum, discard silently.
        if !pkt.verify_checksum() {
            self.stats.ip.dropped.bad_checksum += 1;
            return;
        }
        let (src, dst) = (pkt.src(), pkt.dst());
        // RFC 1122 §3.2.1.3 / RFC 1812 §5.3.7: one check of both addresses
        // (net/martian.rs); a martian is neither delivered nor forwarded.
        let ifaces = &self.ifaces;
        if martian::check_source(
            src,
            arrival,
            |a| any_broadcast(ifaces, a),
            |a| is_local(ifaces, a),
        )
        .is_err()
        {
            self.stats.ip.dropped.martian_source += 1;
            return;
        }
        if martian::check_destination(dst, arrival).is_err() {
            self.stats.ip.dropped.martian_destination += 1;
            return;
        }
        // RFC 7126 §4.3.3, §4.4.3: LSRR and SSRR are dropped by default,
        // so an unfinished route is neither delivered (RFC 1122 §3.3.5) nor
        // forwarded unchanged.
        if martian::has_source_route(pkt.options()) {
            self.stats.ip.dropped.source_route += 1;
            return;
        }
        let total = usize::from(pkt.total_len());
        let datagram = &payload[..total];
        tracing::debug!(target: "strata::net", %src, %dst, ttl = pkt.ttl(), proto = %pkt.protocol(), len = total, "IPv4 in");
        let to_bcast = self.is_broadcast_on(iface, dst);
        let for_us = to_bcast || self.is_local_addr(dst);
        let fragment = pkt.more_frags() || pkt.frag_offset() != 0;
        if self.nat.is_some() && !fragment && !link_bcast {
            // RFC 3022 §2.2: datagrams to the outside address go back in
            // through their mapping; hairpinned ones too (RFC 4787 REQ-9).
            if for_us && self.nat_address() == Some(dst) {
                let mut d = datagram.to_vec();
                if self.nat_intercept(now, iface, &mut d) {
                    return;
                }
            } else if !for_us && self.nat_outside() == Some(iface) {
                // Inside addresses are not reachable from outside except
                // through a mapping.
                if let Some(n) = self.nat.as_mut() {
                    n.count_unsolicited();
                }
                return;
            }
        }
        if !for_us {
            if self.forwarding {
                self.forward(now, iface, datagram, link_bcast);
            } else {
                self.stats.ip.dropped.not_for_us += 1;
            }
            return;
        }
        let hl = pkt.header_len();
        if fragment {
            self.stats.frag.fragments_in += 1;
            let key = FragKey {
                src,
                dst,
                protocol: pkt.protocol().0,
                ident: pkt.ident(),
            };
            match self.reasm.push(
                now,
                key,
                &datagram[..hl],
                usize::from(pkt.frag_offset()),
                pkt.more_frags(),
                &datagram[hl..],
            ) {
                Ok(Some(whole)) => {
                    if self.nat.is_some() && !to_bcast && self.nat_address() == Some(dst) {
                        // RFC 4787 REQ-14: a fragmented datagram is
                        // translated once whole.
                        let mut d = whole_datagram(&whole.header, &whole.payload);
                        if self.nat_intercept(now, iface, &mut d) {
                            return;
                        }
                    }
                    self.deliver(
                        now,
                        iface,
                        &whole.header,
                        &whole.payload,
                        to_bcast || link_bcast,
                    )
                }
                Ok(None) => {}
                Err(_) => self.stats.ip.dropped.fragment += 1,
            }
            return;
        }
        self.deliver(
            now,
            iface,
            &datagram[..hl],
            &datagram[hl..],
            to_bcast || link_bcast,
        );
    }

    /// Local delivery of a whole datagram (`header` as received).
    pub(crate) fn deliver(
        &mut self,
        now: Instant,
        iface: IfaceId,
        header: &[u8],
        payload: &[u8],
        bcast: bool,
    ) {
        self.stats.ip.delivered += 1;
        let h = Ipv4Packet::new_unchecked(header);
        let (src, dst, ttl) = (h.src(), h.dst(), h.ttl());
        match h.protocol() {
            IpProtocol::ICMP => self.ingress_icmp(now, src, dst, ttl, payload, bcast),
            IpProtocol::UDP => self.ingress_udp(now, iface, header, src, dst, payload, bcast),
            // RFC 9293 §3.9.2 MUST-50: TCP gets the addresses, not the IP
            // options, so any option in the header is ignored.
            IpProtocol::TCP => self.ingress_tcp(now, src, dst, payload, bcast),
            _ => {
                self.stats.ip.dropped.unknown_protocol += 1;
                // RFC 1122 §3.2.2.1: protocol unreachable SHOULD be sent.
                if !bcast {
                    self.icmp_error(
                        now,
                        IcmpErrorKind::ProtocolUnreachable,
                        header,
                        payload,
                        false,
                    );
                }
            }
        }
    }

    /// Reassembly timers due at `now`: incomplete datagrams dropped, with
    /// ICMP time exceeded to the sender when fragment zero had arrived.
    pub(crate) fn reassembly_timeouts(&mut self, now: Instant) {
        if self.reasm.poll_timeout().is_none_or(|t| t > now) {
            return;
        }
        let mut expired = Vec::new();
        self.reasm.handle_timeout(now, &mut expired);
        for e in expired {
            // RFC 1122 §3.3.2: time exceeded (reassembly) only if fragment
            // zero had arrived.
            let Some(q) = e.quote else { continue };
            // The quoted header's length: as it parses, or from its IHL
            // (within the quote) when the rest of it does not.
            let hl = match Ipv4Packet::new_checked(&q[..]) {
                Ok(p) => p.header_len().min(q.len()),
                Err(_) if q.len() >= 20 => (usize::from(q[0] & 0x0f) * 4).clamp(20, q.len()),
                Err(_) => continue,
            };
            self.icmp_error(
                now,
                IcmpErrorKind::ReassemblyTimeExceeded,
                &q[..hl],
                &q[hl..],
                false,
            );
        }
    }
}
