//! The hand-off from IPv4 to the TCP engine: a segment is checked (length,
//! options, checksum; RFC 9293 §3.1) and passed to
//! [`Tcp::handle_segment`](super::Tcp::handle_segment). The engine itself
//! is the rest of this module.

use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::checksum;
use crate::wire::tcp::{TcpPacket, TcpRepr};
use core::net::Ipv4Addr;

impl Stack {
    pub(crate) fn ingress_tcp(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload: &[u8],
        bcast: bool,
    ) {
        // RFC 9293 §3.9.1 (and RFC 1122 §4.2.3.10): TCP is unicast only;
        // a segment to a broadcast address is dropped.
        if bcast {
            self.stats.tcp.broadcast += 1;
            return;
        }
        let Ok(p) = TcpPacket::new_checked(payload) else {
            self.stats.tcp.malformed += 1;
            return;
        };
        let _tcp = layer_span!(target: "strata::transport", "tcp");
        let seg = match TcpRepr::parse_unverified(&p) {
            Ok(seg) => seg,
            Err(_) => {
                // A bad checksum counts before a bad option.
                if p.verify_checksum(src, dst) {
                    self.stats.tcp.malformed += 1;
                } else {
                    self.stats.tcp.bad_checksum += 1;
                }
                return;
            }
        };
        // RFC 9293 §3.1 MUST-2/MUST-3: the checksum is verified before the
        // segment is acted on. When its connection takes the data in order,
        // the data is summed while it is copied into the receive buffer (one
        // pass instead of two); that copy becomes readable only if the
        // segment verifies and is then accepted.
        let data_sum = self
            .tcp
            .stage(src, dst, &seg)
            .unwrap_or_else(|| checksum::sum(seg.payload));
        // A device with receive checksum offload vouched for this one
        // (`receive_meta`): verified in hardware, or never on a wire.
        if !self.rx_trusted && checksum::combine(&[p.header_sum(src, dst), data_sum]) != 0xffff {
            self.tcp.unstage();
            self.stats.tcp.bad_checksum += 1;
            return;
        }
        super::trace_segment("in", &seg);
        self.stats.tcp.segments_in += 1;
        self.tcp.handle_segment(now, src, dst, &seg);
    }
}
