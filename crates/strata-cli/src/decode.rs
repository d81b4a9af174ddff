//! Decodes a captured Ethernet frame layer by layer for the ladder diagram
//! and the summaries, with strata's own wire parsers.

use std::net::{Ipv4Addr, SocketAddrV4};

use strata::wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use strata::wire::ethernet::{EtherType, EthernetFrame};
use strata::wire::icmpv4::{Icmpv4Packet, Icmpv4Repr};
use strata::wire::ipv4::{IpProtocol, Ipv4Packet};
use strata::wire::tcp::{TcpFlags, TcpOptions, TcpPacket, TcpRepr};
use strata::wire::udp::UdpPacket;

/// The TCP fields the ladder and the time-sequence graph use.
#[derive(Debug, Clone)]
pub struct TcpInfo {
    /// Source address.
    pub src_ip: Ipv4Addr,
    /// Destination address.
    pub dst_ip: Ipv4Addr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Absolute sequence number.
    pub seq: u32,
    /// Absolute acknowledgment number.
    pub ack: u32,
    /// Sequence number relative to the sender's ISN, once known.
    pub rel_seq: Option<u32>,
    /// Acknowledgment relative to the receiver's ISN, once known.
    pub rel_ack: Option<u32>,
    /// Control bits.
    pub flags: TcpFlags,
    /// SYN set.
    pub syn: bool,
    /// FIN set.
    pub fin: bool,
    /// Window field (unscaled).
    pub window: u16,
    /// Payload length.
    pub len: u32,
    /// Options: MSS, window scale, SACK blocks, timestamps.
    pub options: TcpOptions,
}

impl TcpInfo {
    /// The sender's address and port.
    pub fn src(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.src_ip, self.src_port)
    }

    /// The receiver's address and port.
    pub fn dst(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.dst_ip, self.dst_port)
    }
}

/// A frame decoded layer by layer.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// Link layer summary.
    pub eth: String,
    /// Network layer summary (IPv4 or ARP).
    pub net: Option<String>,
    /// Transport layer summary (TCP, UDP, ICMP).
    pub transport: Option<String>,
    /// Application layer summary (first line of HTTP etc).
    pub app: Option<String>,
    /// The short label drawn on the arrow when not TCP.
    pub label: String,
    /// TCP details when the frame carries TCP.
    pub tcp: Option<TcpInfo>,
    /// Header bytes added by [link, network, transport].
    pub header_bytes: [usize; 3],
    /// Application bytes carried.
    pub payload_len: usize,
}

fn options_text(o: &TcpOptions) -> String {
    let mut s = String::new();
    if let Some(m) = o.mss {
        s += &format!(" MSS={m}");
    }
    if let Some(w) = o.window_scale {
        s += &format!(" WS={w}");
    }
    if o.sack_permitted {
        s += " SACK_PERM";
    }
    for b in o.sack() {
        s += &format!(" SACK={}-{}", b.left, b.right);
    }
    if let Some(ts) = o.timestamps {
        s += &format!(" TSval={} TSecr={}", ts.tsval, ts.tsecr);
    }
    s
}

fn flag_names(f: TcpFlags) -> String {
    format!("{f:?}")
}

impl Decoded {
    /// The arrow label: TCP flags and relative numbers, or the ARP/ICMP/UDP gist.
    pub fn headline(&self) -> String {
        match &self.tcp {
            Some(t) => {
                let seq = t.rel_seq.unwrap_or(t.seq);
                let mut s = format!("{} seq={seq}", flag_names(t.flags));
                if t.flags.ack() {
                    s += &format!(" ack={}", t.rel_ack.unwrap_or(t.ack));
                }
                s += &format!(" win={} len={}", t.window, t.len);
                if let Some(app) = &self.app {
                    s = format!("{app}  {s}");
                }
                s
            }
            None => self.label.clone(),
        }
    }

    /// [`Decoded::headline`] in at most `max` characters: a narrow ladder
    /// shortens the application's part first, so the TCP numbers stay.
    pub fn headline_within(&self, max: usize) -> String {
        let full = self.headline();
        if full.chars().count() <= max {
            return full;
        }
        let cut = |s: &str, n: usize| -> String {
            let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
            t.push('…');
            t
        };
        if let (Some(app), Some(_)) = (&self.app, &self.tcp) {
            // The TCP summary is what follows "{app}  ".
            let tcp: String = full.chars().skip(app.chars().count() + 2).collect();
            let room = max.saturating_sub(tcp.chars().count() + 2);
            if room >= 8 {
                return format!("{}  {tcp}", cut(app, room));
            }
            if tcp.chars().count() <= max {
                return tcp;
            }
            return cut(&tcp, max);
        }
        cut(&full, max)
    }

    /// The layers below the arrow, packed greedily into lines of at most
    /// `width` characters: `eth … | IPv4 …` / `TCP … options`.
    pub fn layer_lines(&self, width: usize) -> Vec<String> {
        let mut parts = vec![self.eth.clone()];
        // ARP, ICMP and UDP already say everything on the arrow.
        parts.extend(self.net.clone().filter(|n| *n != self.label));
        parts.extend(self.transport.clone().filter(|t| *t != self.label));
        let mut lines: Vec<String> = Vec::new();
        for p in parts {
            match lines.last_mut() {
                Some(l) if l.chars().count() + 3 + p.chars().count() <= width => {
                    l.push_str(" | ");
                    l.push_str(&p);
                }
                _ => lines.push(p),
            }
        }
        lines
    }
}

/// Decodes `frame`; never fails (undecodable layers are described as such).
pub fn decode(frame: &[u8]) -> Decoded {
    let mut d = Decoded::default();
    let eth = match EthernetFrame::new_checked(frame) {
        Ok(e) => e,
        Err(e) => {
            d.eth = format!("eth ({e})");
            d.label = "malformed frame".into();
            return d;
        }
    };
    d.header_bytes[0] = eth.header_len();
    d.eth = format!("eth {}→{}", eth.src(), eth.dst());
    if let Some(v) = eth.vlan() {
        d.eth += &format!(" vlan {}", v.vid);
    }
    let payload = eth.payload();
    match eth.ethertype() {
        EtherType::ARP => decode_arp(&mut d, payload),
        EtherType::IPV4 => decode_ipv4(&mut d, payload),
        // An 802.3 length field, not an EtherType: LLC; BPDUs are LLC 42 42 03.
        other if other.0 < 0x0600 => match strata::wire::stp::BpduRepr::parse_frame(frame) {
            Ok(bpdu) => {
                d.header_bytes[1] = strata::wire::stp::LLC_HEADER.len() + bpdu.buffer_len();
                let text = bpdu.to_string();
                d.net = Some(text.clone());
                d.label = text;
            }
            Err(e) => {
                d.label = format!("802.3 LLC, {} bytes ({e})", other.0);
                d.payload_len = payload.len();
            }
        },
        other => {
            d.label = format!("ethertype {:#06x}", other.0);
            d.payload_len = payload.len();
        }
    }
    d
}

fn decode_arp(d: &mut Decoded, bytes: &[u8]) {
    let parsed = ArpPacket::new_checked(bytes).and_then(|p| ArpRepr::parse(&p));
    match parsed {
        Ok(a) => {
            d.header_bytes[1] = strata::wire::arp::PACKET_LEN;
            let text = match a.operation {
                ArpOperation::Request if a.sender_ip == a.target_ip => {
                    format!(
                        "ARP announce {} is-at {} (gratuitous)",
                        a.sender_ip, a.sender_mac
                    )
                }
                ArpOperation::Request => {
                    format!("ARP who-has {}? tell {}", a.target_ip, a.sender_ip)
                }
                ArpOperation::Reply => format!("ARP {} is-at {}", a.sender_ip, a.sender_mac),
            };
            d.net = Some(text.clone());
            d.label = text;
        }
        Err(e) => {
            d.net = Some(format!("ARP ({e})"));
            d.label = "ARP (malformed)".into();
        }
    }
}

fn decode_ipv4(d: &mut Decoded, bytes: &[u8]) {
    let ip = match Ipv4Packet::new_checked(bytes) {
        Ok(p) => p,
        Err(e) => {
            d.net = Some(format!("IPv4 ({e})"));
            d.label = "IPv4 (malformed)".into();
            return;
        }
    };
    d.header_bytes[1] = ip.header_len();
    let (src, dst) = (ip.src(), ip.dst());
    let mut net = format!("IPv4 {src}→{dst} ttl={}", ip.ttl());
    if !ip.verify_checksum() {
        net += " (bad checksum)";
    }
    if ip.more_frags() || ip.frag_offset() != 0 {
        net += &format!(
            " frag off={} mf={}",
            ip.frag_offset(),
            u8::from(ip.more_frags())
        );
        d.net = Some(net);
        d.label = format!("IPv4 fragment {src}→{dst}");
        d.payload_len = ip.payload().len();
        return;
    }
    d.net = Some(net);
    let payload = ip.payload();
    match ip.protocol() {
        IpProtocol::TCP => decode_tcp(d, src, dst, payload),
        IpProtocol::UDP => match UdpPacket::new_checked(payload) {
            Ok(u) => {
                d.header_bytes[2] = 8;
                d.payload_len = u.payload().len();
                let ok = if u.verify_checksum(src, dst) {
                    ""
                } else {
                    " (bad checksum)"
                };
                let t = format!(
                    "UDP {}→{} len={}{ok}",
                    u.src_port(),
                    u.dst_port(),
                    u.payload().len()
                );
                d.label = t.clone();
                d.transport = Some(t);
            }
            Err(e) => d.label = format!("UDP ({e})"),
        },
        IpProtocol::ICMP => {
            let parsed = Icmpv4Packet::new_checked(payload).and_then(|p| Icmpv4Repr::parse(&p));
            match parsed {
                Ok(r) => {
                    d.header_bytes[2] = 8;
                    d.payload_len = payload.len().saturating_sub(8);
                    let t = r.to_string();
                    d.label = t.clone();
                    d.transport = Some(t);
                }
                Err(e) => d.label = format!("ICMP ({e})"),
            }
        }
        p => d.label = format!("IPv4 protocol {}", p.0),
    }
}

fn decode_tcp(d: &mut Decoded, src: Ipv4Addr, dst: Ipv4Addr, bytes: &[u8]) {
    let parsed = TcpPacket::new_checked(bytes).and_then(|p| {
        let hl = p.header_len();
        TcpRepr::parse(&p, src, dst).map(|r| (r, hl))
    });
    let (r, hl) = match parsed {
        Ok(x) => x,
        Err(e) => {
            d.transport = Some(format!("TCP ({e})"));
            d.label = format!("TCP ({e})");
            return;
        }
    };
    d.header_bytes[2] = hl;
    d.payload_len = r.payload.len();
    d.transport = Some(format!(
        "TCP {}→{}{}",
        r.src_port,
        r.dst_port,
        options_text(&r.options)
    ));
    d.app = app_line(r.payload);
    d.tcp = Some(TcpInfo {
        src_ip: src,
        dst_ip: dst,
        src_port: r.src_port,
        dst_port: r.dst_port,
        seq: r.seq,
        ack: r.ack,
        rel_seq: None,
        rel_ack: None,
        flags: r.flags,
        syn: r.flags.syn(),
        fin: r.flags.fin(),
        window: r.window,
        len: r.payload.len() as u32,
        options: r.options,
    });
}

/// The first line of an application message we recognise (HTTP).
fn app_line(payload: &[u8]) -> Option<String> {
    let starts = [&b"GET "[..], b"HEAD ", b"POST ", b"HTTP/1."];
    if !starts.iter().any(|s| payload.starts_with(s)) {
        return None;
    }
    let end = payload
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(payload.len());
    let line = String::from_utf8_lossy(&payload[..end.min(60)]).into_owned();
    Some(format!("HTTP \"{line}\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata::wire::stp::{flags, BpduInfo, BpduRepr, BpduRole, BridgeId};
    use strata::wire::MacAddr;

    #[test]
    fn bpdus_are_decoded() {
        let id = BridgeId {
            priority: 32768,
            mac: MacAddr([2, 0, 0, 0, 0, 0]),
        };
        let mut info = BpduInfo {
            flags: flags::PROPOSAL,
            root: id,
            root_cost: 0,
            bridge: id,
            port: 0x8001,
            message_age: 0,
            max_age: 20 * 256,
            hello_time: 2 * 256,
            forward_delay: 15 * 256,
        };
        info.set_role(BpduRole::Designated);
        let d = decode(&BpduRepr::Rst(info).to_frame(MacAddr([2, 0, 0, 0, 0, 1])));
        assert_eq!(
            d.headline(),
            "RST root=32768/02:00:00:00:00:00 cost=0 bridge=32768/02:00:00:00:00:00 port=0x8001 P role=desg"
        );
        let tcn = decode(&BpduRepr::Tcn.to_frame(MacAddr([2, 0, 0, 0, 0, 1])));
        assert_eq!(tcn.headline(), "STP TCN");
        let mut llc = BpduRepr::Tcn.to_frame(MacAddr([2, 0, 0, 0, 0, 1]));
        llc[14] = 0xaa; // SNAP, not a BPDU
        assert!(decode(&llc).headline().starts_with("802.3 LLC"));
    }
}
