//! ICMP on the packet path (RFC 792, RFC 1122 §3.2.2): echo requests
//! answered, echo replies matched to pings, errors that arrive handed to
//! the socket or connection they concern, and errors this stack generates
//! (with the RFC 1122 / RFC 1812 suppressions and the rate limit).

use super::icmp::{IcmpError, IcmpErrorKind, QuotedDatagram};
use super::martian::{self, Arrival};
use crate::stack::{Event, SendError, Stack};
use crate::time::Instant;
use crate::transport::tcp::IcmpError as TcpIcmpError;
use crate::wire::icmpv4::{msg_type, Icmpv4Packet, Icmpv4Repr};
use crate::wire::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use core::net::{Ipv4Addr, SocketAddrV4};

/// Largest quote in an ICMP error: the whole error fits 576 bytes
/// (RFC 1812 §4.3.2.3).
const MAX_ICMP_QUOTE: usize = 576 - 20 - 8;

impl Stack {
    pub(crate) fn ingress_icmp(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
        payload: &[u8],
        bcast: bool,
    ) {
        let Some(r) = Icmpv4Packet::new_checked(payload)
            .ok()
            .and_then(|p| Icmpv4Repr::parse(&p).ok())
        else {
            self.stats.icmp.malformed += 1;
            return;
        };
        self.stats.icmp.received.count(payload[0]);
        match r {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                // RFC 1122 §3.2.2.6: an echo request to a broadcast MAY be
                // silently discarded; we do (no smurf amplification).
                if bcast {
                    return;
                }
                // RFC 792 / RFC 1122 §3.2.2.6: reply with the same data,
                // from the address the request was sent to.
                let reply = Icmpv4Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let _ = self.send_icmp(now, Some(dst), src, &reply, None);
            }
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                // RFC 792: the reply comes from the host we asked; one from
                // anyone else with the same (ident, seq) is a forgery (a
                // broadcast request may be answered by any host).
                let asked = self.pings.get(&(ident, seq_no)).copied();
                if let Some((_, sent)) = asked
                    .filter(|&(to, _)| to == src || to.is_broadcast() || self.is_any_broadcast(to))
                {
                    self.pings.remove(&(ident, seq_no));
                    self.events.push_back(Event::EchoReply {
                        from: src,
                        ident,
                        seq: seq_no,
                        rtt: now.saturating_duration_since(sent),
                        ttl,
                        len: data.len(),
                    });
                }
            }
            Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu,
                quoted,
            } => self.icmp_error_in(
                now,
                src,
                msg_type::DST_UNREACHABLE,
                code,
                next_hop_mtu,
                quoted,
            ),
            Icmpv4Repr::TimeExceeded { code, quoted } => {
                self.icmp_error_in(now, src, msg_type::TIME_EXCEEDED, code, 0, quoted)
            }
            // RFC 9293 §3.9.2.2 MUST-55: Source Quench (type 4, deprecated
            // by RFC 6633) is silently discarded; so are the other kinds we
            // do not act on, Parameter Problem among them (MUST-56).
            Icmpv4Repr::Other { .. } => {}
        }
    }

    /// An ICMP error arrived: match the quoted datagram to its sender
    /// (RFC 1122 §3.2.2: "the ICMP error message MUST be passed to the
    /// transport layer").
    pub(crate) fn icmp_error_in(
        &mut self,
        now: Instant,
        from: Ipv4Addr,
        ty: u8,
        code: u8,
        mtu: u16,
        quoted: &[u8],
    ) {
        let (Some(kind), Some(original)) = (
            IcmpErrorKind::from_type_code(ty, code, mtu),
            QuotedDatagram::parse(quoted),
        ) else {
            self.stats.icmp.errors_unmatched += 1;
            return;
        };
        if !self.is_local_addr(original.src) {
            self.stats.icmp.errors_unmatched += 1;
            return;
        }
        tracing::debug!(target: "strata::net", %from, %kind, dst = %original.dst, "ICMP error in");
        self.deliver_error(
            now,
            IcmpError {
                kind,
                from,
                original,
            },
        );
    }

    /// Hands an error about one of our datagrams to whoever sent it.
    pub(crate) fn deliver_error(&mut self, now: Instant, error: IcmpError) {
        let o = error.original;
        match o.protocol {
            IpProtocol::UDP => {
                let local = SocketAddrV4::new(o.src, o.src_port);
                let remote = SocketAddrV4::new(o.dst, o.dst_port);
                // RFC 1122 §4.1.3.3 / RFC 8085 §5.2: a connected socket
                // only hears errors about datagrams to its peer, so an
                // off-path attacker who guesses the port cannot fail it.
                let matched = self.udp.by_local(local).filter(|&h| {
                    self.udp
                        .get(h)
                        .is_ok_and(|s| s.remote.is_none_or(|r| r == remote))
                });
                match matched {
                    Some(h) => {
                        let s = self.udp.get_mut(h).expect("live handle");
                        s.stats.errors += 1;
                        if s.errors.len() < 16 {
                            s.errors.push_back(error);
                        }
                        self.events.push_back(Event::UdpError { handle: h, error });
                    }
                    None => self.stats.icmp.errors_unmatched += 1,
                }
            }
            IpProtocol::ICMP if o.icmp_type == msg_type::ECHO_REQUEST => {
                let (ident, seq) = (o.src_port, o.dst_port);
                // The quoted request must be one we sent to that address.
                if self
                    .pings
                    .get(&(ident, seq))
                    .is_some_and(|&(to, _)| to == o.dst)
                {
                    self.pings.remove(&(ident, seq));
                    self.events
                        .push_back(Event::EchoError { ident, seq, error });
                } else {
                    self.stats.icmp.errors_unmatched += 1;
                }
            }
            IpProtocol::TCP => {
                // RFC 9293 §3.9.4 / RFC 1122 §4.2.3.9: hand ICMP errors to
                // the connection; time exceeded is ignored (soft, transient).
                let err = match error.kind {
                    IcmpErrorKind::NetUnreachable => TcpIcmpError::NetUnreachable,
                    IcmpErrorKind::HostUnreachable => TcpIcmpError::HostUnreachable,
                    IcmpErrorKind::ProtocolUnreachable => TcpIcmpError::ProtocolUnreachable,
                    IcmpErrorKind::PortUnreachable => TcpIcmpError::PortUnreachable,
                    IcmpErrorKind::FragmentationNeeded { mtu } => {
                        TcpIcmpError::FragmentationNeeded { mtu }
                    }
                    IcmpErrorKind::Unreachable { code: 9 | 10 | 13 } => {
                        TcpIcmpError::AdminProhibited
                    }
                    _ => return,
                };
                let local = SocketAddrV4::new(o.src, o.src_port);
                let remote = SocketAddrV4::new(o.dst, o.dst_port);
                // RFC 5927 §4.1: the quoted sequence number must be in flight.
                self.tcp
                    .handle_icmp_error_quoting(now, local, remote, o.tcp_seq, err);
            }
            _ => self.stats.icmp.errors_unmatched += 1,
        }
    }

    /// Originates an ICMP message.
    pub(crate) fn send_icmp(
        &mut self,
        now: Instant,
        src: Option<Ipv4Addr>,
        dst: Ipv4Addr,
        msg: &Icmpv4Repr<'_>,
        ttl: Option<u8>,
    ) -> Result<(), SendError> {
        let eg = self.route(src, dst)?;
        // RFC 1122 §3.2.2 / §3.2.2.6: errors and echo replies are never
        // broadcast, whatever the datagram they answer claimed as its
        // source (no smurf reflector). Only an echo request the
        // application asked for may go to a broadcast address.
        if eg.broadcast && !matches!(msg, Icmpv4Repr::EchoRequest { .. }) {
            self.stats.icmp.errors_suppressed += 1;
            return Err(SendError::Broadcast(dst));
        }
        let len = msg.buffer_len();
        if len + 20 > 65535 {
            return Err(SendError::TooLarge);
        }
        let mut repr = Ipv4Repr::new(
            eg.src,
            dst,
            IpProtocol::ICMP,
            ttl.unwrap_or(self.config.default_ttl),
            len,
        );
        repr.ident = self.idents.next(eg.src, dst, IpProtocol::ICMP.0);
        let d = Self::build_datagram(&repr, |b| {
            let _ = msg.emit(b);
        });
        let ty = d[repr.header_len()];
        self.stats.icmp.sent.count(ty);
        self.stats.ip.sent += 1;
        self.dispatch(now, &eg, d);
        Ok(())
    }

    /// Sends an ICMP error about a datagram (`header` + `payload`) to its
    /// source, unless RFC 1122 §3.2.2 / RFC 1812 §4.3.2.7 forbid it.
    pub(crate) fn icmp_error(
        &mut self,
        now: Instant,
        kind: IcmpErrorKind,
        header: &[u8],
        payload: &[u8],
        link_bcast: bool,
    ) {
        let h = Ipv4Packet::new_unchecked(header);
        let (src, dst) = (h.src(), h.dst());
        let is_icmp_error = h.protocol() == IpProtocol::ICMP
            && payload.first().is_some_and(|t| {
                !matches!(*t, msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY | 13..=18)
            });
        // RFC 1122 §3.2.2: not about an ICMP error, a broadcast/multicast
        // destination, a link-layer broadcast, a non-initial fragment, or a
        // source that does not name a single host.
        if is_icmp_error
            || link_bcast
            || dst.is_broadcast()
            || dst.is_multicast()
            || self.is_any_broadcast(dst)
            || h.frag_offset() != 0
            || src.is_unspecified()
            || martian::check_source(
                src,
                Arrival::Loopback,
                |a| self.is_any_broadcast(a),
                |_| false,
            )
            .is_err()
        {
            self.stats.icmp.errors_suppressed += 1;
            return;
        }
        if !self.icmp_limit.allow(now, src, kind) {
            self.stats.icmp.errors_rate_limited += 1;
            return;
        }
        // Quote the header and as much data as fits 576 bytes
        // (RFC 1812 §4.3.2.3; RFC 792 requires at least 8 bytes).
        let take = payload
            .len()
            .min(MAX_ICMP_QUOTE.saturating_sub(header.len()));
        let mut quoted = Vec::with_capacity(header.len() + take);
        quoted.extend_from_slice(header);
        quoted.extend_from_slice(&payload[..take]);
        tracing::debug!(target: "strata::net", %kind, to = %src, about = %dst, "ICMP error out");
        let (ty, code) = kind.type_code();
        let msg = match ty {
            msg_type::TIME_EXCEEDED => Icmpv4Repr::TimeExceeded {
                code,
                quoted: &quoted,
            },
            _ => Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: match kind {
                    IcmpErrorKind::FragmentationNeeded { mtu } => mtu,
                    _ => 0,
                },
                quoted: &quoted,
            },
        };
        // RFC 1812 §4.3.2.4: the source is the address of the interface the
        // error leaves by (chosen by routing).
        let _ = self.send_icmp(now, None, src, &msg, None);
    }

    /// A datagram we could not deliver to the next hop (ARP failed): tell
    /// its sender, locally or with ICMP host unreachable (RFC 1122
    /// §2.3.2.2, RFC 1812 §5.2.7.1).
    pub(crate) fn undeliverable(&mut self, now: Instant, dgram: &[u8]) {
        self.stats.ip.dropped.host_unreachable += 1;
        self.count_neighbour_drop(dgram);
        tracing::debug!(target: "strata::link", len = dgram.len(), "ARP gave up: host unreachable");
        let Ok(pkt) = Ipv4Packet::new_checked(dgram) else {
            return;
        };
        let hl = pkt.header_len();
        if self.is_local_addr(pkt.src()) {
            if pkt.frag_offset() != 0 {
                return;
            }
            if let Some(original) = QuotedDatagram::parse(dgram) {
                self.deliver_error(
                    now,
                    IcmpError {
                        kind: IcmpErrorKind::HostUnreachable,
                        from: pkt.src(),
                        original,
                    },
                );
            }
        } else {
            self.icmp_error(
                now,
                IcmpErrorKind::HostUnreachable,
                &dgram[..hl],
                &dgram[hl..],
                false,
            );
        }
    }
}
