//! Ethernet on the packet path: frames in (checked, then handed to ARP or
//! IPv4 by EtherType) and frames out (the transmit queue, written into the
//! caller's buffer with the Ethernet header and padding).

use crate::link::IfaceId;
use crate::net::martian::Arrival;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::ethernet::{EtherType, EthernetFrame, EthernetRepr, MIN_FRAME_LEN};
use crate::wire::ipv4::{IpProtocol, Ipv4Packet};
use crate::wire::MacAddr;

/// A frame in the transmit queue: where it goes and its payload (an ARP
/// packet or an IPv4 datagram or fragment); the Ethernet header is written
/// as it leaves ([`Stack::write_frame`]).
#[derive(Debug)]
pub(crate) struct TxFrame {
    pub(crate) iface: IfaceId,
    pub(crate) dst: MacAddr,
    pub(crate) ethertype: EtherType,
    pub(crate) payload: Vec<u8>,
}

impl Stack {
    /// Ethernet ingress (IEEE 802.3, RFC 894): one frame received on
    /// `iface`, checked for length, destination and source, then handed
    /// to ARP or IPv4 by its EtherType.
    pub(crate) fn ingress_ethernet(&mut self, now: Instant, iface: IfaceId, frame: &[u8]) {
        self.stats.link.frames_in += 1;
        self.stats.link.bytes_in += frame.len() as u64;
        // One span per layer: `RUST_LOG=strata=debug` shows a frame
        // climbing link → net → transport.
        let _link = layer_span!(target: "strata::link", "link", %iface);
        let Some(ifc) = self.ifaces.get(iface.0) else {
            self.stats.link.malformed += 1;
            return;
        };
        if ifc.loopback {
            // The loopback interface has no link: nothing arrives on it
            // from outside.
            self.stats.link.not_for_us += 1;
            return;
        }
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.stats.link.malformed += 1;
            tracing::debug!(target: "strata::link", len = frame.len(), "malformed frame dropped");
            return;
        };
        tracing::debug!(
            target: "strata::link",
            src = %eth.src(),
            dst = %eth.dst(),
            ethertype = %format_args!("{:#06x}", eth.ethertype().0),
            len = frame.len(),
            "frame in"
        );
        let dst = eth.dst();
        let link_broadcast = dst.is_broadcast();
        if dst != ifc.mac && !link_broadcast {
            self.stats.link.not_for_us += 1;
            return;
        }
        if eth.src() == ifc.mac {
            self.stats.link.own_frames += 1;
            return;
        }
        if eth.vlan().is_some() {
            self.stats.link.vlan_tagged += 1;
            return;
        }
        match eth.ethertype() {
            EtherType::ARP => self.ingress_arp(now, iface, eth.payload()),
            EtherType::IPV4 => {
                self.ingress_ipv4(now, iface, eth.payload(), link_broadcast, Arrival::Wire)
            }
            _ => self.stats.link.unknown_ethertype += 1,
        }
    }

    pub(crate) fn push_tx(&mut self, f: TxFrame) {
        if self.tx.len() >= self.config.tx_queue_limit {
            self.stats.link.tx_queue_drops += 1;
            return;
        }
        self.tx.push_back(f);
    }

    /// Writes a queued frame into `buf` (padded to 60 bytes); `None` when
    /// it does not fit (dropped and counted).
    pub(crate) fn write_frame(&mut self, f: &TxFrame, buf: &mut [u8]) -> Option<(IfaceId, usize)> {
        let eth = EthernetRepr {
            dst: f.dst,
            src: self.ifaces[f.iface.0].mac,
            ethertype: f.ethertype,
            vlan: None,
        };
        let hl = eth.header_len();
        let n = hl + f.payload.len();
        if buf.len() < n.max(MIN_FRAME_LEN) {
            self.stats.link.tx_buffer_too_small += 1;
            return None;
        }
        eth.emit(buf).ok()?;
        buf[hl..n].copy_from_slice(&f.payload);
        let n = if n < MIN_FRAME_LEN {
            buf[n..MIN_FRAME_LEN].fill(0);
            MIN_FRAME_LEN
        } else {
            n
        };
        self.stats.link.frames_out += 1;
        self.stats.link.bytes_out += n as u64;
        tracing::debug!(target: "strata::link", iface = %f.iface, dst = %f.dst, len = n, "frame out");
        Some((f.iface, n))
    }
}

/// True when `frame` is Ethernet + IPv4 (not a fragment) + TCP: the only
/// frames whose checksum a device's word may spare (see
/// [`Stack::receive_meta`]).
pub(crate) fn is_whole_tcp_v4(frame: &[u8]) -> bool {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return false;
    };
    if eth.ethertype() != EtherType::IPV4 || eth.vlan().is_some() {
        return false;
    }
    let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
        return false;
    };
    ip.protocol() == IpProtocol::TCP && !ip.more_frags() && ip.frag_offset() == 0
}
