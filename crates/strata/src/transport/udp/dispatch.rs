//! UDP on the packet path (RFC 768): datagrams in, checked (RFC 1122
//! §4.1.3.4) and demultiplexed to their socket's queue, or answered with
//! port unreachable; datagrams out, built for the socket's route.

use super::{Datagram, UdpError, UdpHandle};
use crate::link::IfaceId;
use crate::net::egress::Egress;
use crate::net::icmp::IcmpErrorKind;
use crate::stack::{Event, Stack};
use crate::time::Instant;
use crate::wire::ipv4::{IpProtocol, Ipv4Repr};
use crate::wire::udp::{UdpPacket, UdpRepr};
use core::net::{Ipv4Addr, SocketAddrV4};

impl Stack {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ingress_udp(
        &mut self,
        now: Instant,
        _iface: IfaceId,
        header: &[u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload: &[u8],
        bcast: bool,
    ) {
        let _udp = layer_span!(target: "strata::transport", "udp");
        let Ok(p) = UdpPacket::new_checked(payload) else {
            self.stats.udp.malformed += 1;
            return;
        };
        // RFC 1122 §4.1.3.4: verify a non-zero checksum, discard on failure.
        let Ok(r) = UdpRepr::parse(&p, src, dst) else {
            self.stats.udp.bad_checksum += 1;
            return;
        };
        self.stats.udp.datagrams_in += 1;
        let from = SocketAddrV4::new(src, r.src_port);
        match self.udp.demux(dst, r.dst_port, from) {
            Some(h) => {
                let s = self.udp.get_mut(h).expect("demux returns live handles");
                // A full queue (in datagrams, or in bytes once SO_RCVBUF
                // was set) drops what arrives, as Linux does.
                if s.rx.len() >= s.rx_limit
                    || s.rx_bytes.saturating_add(p.payload().len()) > s.rx_byte_limit
                {
                    s.stats.dropped += 1;
                    self.stats.udp.queue_drops += 1;
                    return;
                }
                s.stats.received += 1;
                let was_empty = s.rx.is_empty();
                s.rx_bytes += p.payload().len();
                s.rx.push_back(Datagram {
                    from,
                    to: dst,
                    payload: p.payload().to_vec(),
                });
                if was_empty {
                    self.events.push_back(Event::UdpReadable(h));
                }
            }
            None => {
                self.stats.udp.no_port += 1;
                // RFC 1122 §4.1.3.1: port unreachable SHOULD be sent, but
                // never for a broadcast (§3.2.2).
                if !bcast {
                    self.icmp_error(now, IcmpErrorKind::PortUnreachable, header, payload, false);
                }
            }
        }
    }

    /// Builds and dispatches one UDP datagram along `eg`.
    pub(crate) fn udp_emit(
        &mut self,
        now: Instant,
        h: UdpHandle,
        eg: &Egress,
        to: SocketAddrV4,
        payload: &[u8],
    ) -> Result<(), UdpError> {
        let s = self.udp.get(h)?;
        if payload.len() > crate::transport::udp::MAX_PAYLOAD {
            return Err(UdpError::TooLarge(payload.len()));
        }
        if to.port() == 0 {
            return Err(UdpError::PortZero);
        }
        let (local, ttl, broadcast_ok, df) = (s.local, s.ttl, s.broadcast, s.dont_frag);
        let dst = *to.ip();
        if (eg.broadcast || dst.is_broadcast()) && !broadcast_ok {
            // RFC 1122 §4.1.3.6 leaves broadcast to the application's choice.
            return Err(UdpError::BroadcastNotAllowed);
        }
        let udp = UdpRepr {
            src_port: local.port(),
            dst_port: to.port(),
        };
        let mut ip = Ipv4Repr::new(
            eg.src,
            dst,
            IpProtocol::UDP,
            ttl.unwrap_or(self.config.default_ttl),
            udp.buffer_len(payload.len()),
        );
        ip.dont_frag = df;
        let mtu = self.ifaces[eg.iface.0].mtu;
        if df && ip.buffer_len() > mtu {
            return Err(UdpError::MessageTooBig { mtu });
        }
        ip.ident = self.idents.for_datagram(eg.src, dst, IpProtocol::UDP.0, df);
        let d = Self::build_datagram(&ip, |b| {
            let _ = udp.emit(b, eg.src, dst, payload);
        });
        self.stats.udp.datagrams_out += 1;
        self.stats.ip.sent += 1;
        self.udp.get_mut(h)?.stats.sent += 1;
        self.dispatch(now, eg, d);
        Ok(())
    }
}
