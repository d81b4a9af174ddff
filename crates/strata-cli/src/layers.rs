//! Encapsulation laid open (`strata demo --layers N`): one frame drawn as
//! nested boxes — Ethernet around IPv4 (or ARP) around TCP, UDP or ICMP
//! around the data — each with its size, its fields and its bytes, then
//! the whole frame in hex coloured by layer, and what the headers cost.
//!
//! Parsed with strata's own wire views, the same that the stack uses.

use std::fmt::Write as _;

use strata::wire::arp::ArpPacket;
use strata::wire::ethernet::{EtherType, EthernetFrame};
use strata::wire::icmpv4::Icmpv4Packet;
use strata::wire::ipv4::{IpProtocol, Ipv4Packet};
use strata::wire::tcp::{TcpOptions, TcpPacket};
use strata::wire::udp::UdpPacket;

use crate::ladder::{width, wrap};

/// The layers a byte can belong to, each with its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Ethernet,
    Network,
    Transport,
    Data,
    Padding,
}

impl Layer {
    /// ANSI colour.
    fn code(self) -> &'static str {
        match self {
            Layer::Ethernet => "34",
            Layer::Network => "32",
            Layer::Transport => "33",
            Layer::Data => "35",
            Layer::Padding => "2",
        }
    }
    /// Its name in the web view's data (a CSS class).
    fn name(self) -> &'static str {
        match self {
            Layer::Ethernet => "ethernet",
            Layer::Network => "network",
            Layer::Transport => "transport",
            Layer::Data => "data",
            Layer::Padding => "padding",
        }
    }
    /// The letter marking the layer under plain hex.
    fn letter(self) -> char {
        match self {
            Layer::Ethernet => 'E',
            Layer::Network => 'I',
            Layer::Transport => 'T',
            Layer::Data => 'D',
            Layer::Padding => 'P',
        }
    }
}

/// One box: a title, its lines, and the box nested inside it.
struct Boxed {
    layer: Layer,
    title: String,
    lines: Vec<String>,
    inner: Option<Box<Boxed>>,
    /// Lines after the nested box (what trails the payload: padding, FCS).
    after: Vec<String>,
}

fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn hex_lines(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks(16)
        .map(|c| {
            c.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

impl Boxed {
    fn render(&self, width_total: usize, color: bool, out: &mut Vec<String>) {
        let inner_w = width_total.saturating_sub(4);
        let title = format!("─ {} ", self.title);
        let dash = width_total.saturating_sub(2 + width(&title));
        let edge = |s: String| paint(color, self.layer.code(), &s);
        out.push(edge(format!("┌{title}{}┐", "─".repeat(dash))));
        let side = edge("│".to_string());
        for l in &self.lines {
            for piece in wrap(l, inner_w) {
                let pad = inner_w.saturating_sub(width(&piece));
                out.push(format!("{side} {piece}{} {side}", " ".repeat(pad)));
            }
        }
        if let Some(inner) = &self.inner {
            let mut nested = Vec::new();
            inner.render(inner_w, color, &mut nested);
            for l in nested {
                out.push(format!("{side} {l} {side}"));
            }
        }
        for l in &self.after {
            for piece in wrap(l, inner_w) {
                let pad = inner_w.saturating_sub(width(&piece));
                out.push(format!("{side} {piece}{} {side}", " ".repeat(pad)));
            }
        }
        out.push(edge(format!(
            "└{}┘",
            "─".repeat(width_total.saturating_sub(2))
        )));
    }
}

fn options_text(o: &TcpOptions) -> String {
    let mut parts = Vec::new();
    if let Some(m) = o.mss {
        parts.push(format!("MSS {m}"));
    }
    if let Some(w) = o.window_scale {
        parts.push(format!("window scale {w}"));
    }
    if o.sack_permitted {
        parts.push("SACK permitted".to_string());
    }
    for b in o.sack() {
        parts.push(format!("SACK {}-{}", b.left, b.right));
    }
    if let Some(ts) = o.timestamps {
        parts.push(format!("timestamps {} / {}", ts.tsval, ts.tsecr));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(" · ")
    }
}

fn data_box(bytes: &[u8], what: &str) -> Boxed {
    let mut lines = Vec::new();
    let shown = &bytes[..bytes.len().min(48)];
    let text: String = shown
        .iter()
        .map(|&b| match b {
            b'\r' => "\\r".to_string(),
            b'\n' => "\\n".to_string(),
            0x20..=0x7e => (b as char).to_string(),
            _ => ".".to_string(),
        })
        .collect();
    lines.push(format!(
        "\"{text}{}\"",
        if bytes.len() > 48 { "…" } else { "" }
    ));
    lines.extend(hex_lines(shown));
    if bytes.len() > 48 {
        lines.push(format!("… {} more bytes", bytes.len() - 48));
    }
    Boxed {
        layer: Layer::Data,
        title: format!("{what} ─ {} bytes", bytes.len()),
        lines,
        inner: None,
        after: Vec::new(),
    }
}

/// Which layer each byte of `frame` belongs to, and the boxes.
fn dissect(frame: &[u8]) -> (Boxed, Vec<Layer>, [usize; 4]) {
    let mut owner = vec![Layer::Padding; frame.len()];
    // Bytes per layer: Ethernet, network, transport, data.
    let mut sizes = [0usize; 4];
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        let b = Boxed {
            layer: Layer::Ethernet,
            title: format!("not an Ethernet frame ─ {} bytes", frame.len()),
            lines: hex_lines(frame),
            inner: None,
            after: Vec::new(),
        };
        return (b, owner, sizes);
    };
    let eh = eth.header_len();
    sizes[0] = eh;
    owner[..eh].fill(Layer::Ethernet);
    let et = eth.ethertype();
    let et_name = match et {
        EtherType::IPV4 => " (IPv4)",
        EtherType::ARP => " (ARP)",
        _ => "",
    };
    let mut outer = Boxed {
        layer: Layer::Ethernet,
        title: format!("Ethernet II header ─ {eh} bytes"),
        lines: vec![
            format!("destination {} · source {}", eth.dst(), eth.src()),
            format!("EtherType 0x{:04x}{et_name}", et.0),
            hex_lines(&frame[..eh]).join(" "),
        ],
        inner: None,
        after: Vec::new(),
    };
    let payload = eth.payload();
    let base = eh;
    let mut used = 0usize;
    if et == EtherType::ARP {
        if let Ok(a) = ArpPacket::new_checked(payload) {
            let n = strata::wire::arp::PACKET_LEN.min(payload.len());
            used = n;
            sizes[1] = n;
            owner[base..base + n].fill(Layer::Network);
            let op = match a.oper() {
                1 => "1 (request)",
                2 => "2 (reply)",
                _ => "other",
            };
            outer.inner = Some(Box::new(Boxed {
                layer: Layer::Network,
                title: format!("ARP ─ {n} bytes"),
                lines: vec![
                    format!(
                        "hardware type {} · protocol 0x{:04x} · sizes {}/{} · operation {op}",
                        a.htype(),
                        a.ptype(),
                        a.hlen(),
                        a.plen()
                    ),
                    format!("sender {} at {}", a.sender_ip(), a.sender_mac()),
                    format!("target {} at {}", a.target_ip(), a.target_mac()),
                    hex_lines(&payload[..n]).join(" "),
                ],
                inner: None,
                after: Vec::new(),
            }));
        }
    } else if et == EtherType::IPV4 {
        if let Ok(ip) = Ipv4Packet::new_checked(payload) {
            let ih = ip.header_len();
            let total = usize::from(ip.total_len()).min(payload.len());
            used = total;
            sizes[1] = ih;
            owner[base..base + ih].fill(Layer::Network);
            let proto = ip.protocol();
            let proto_name = match proto {
                IpProtocol::TCP => " (TCP)",
                IpProtocol::UDP => " (UDP)",
                IpProtocol::ICMP => " (ICMP)",
                _ => "",
            };
            let mut flags = Vec::new();
            if ip.dont_frag() {
                flags.push("DF");
            }
            if ip.more_frags() {
                flags.push("MF");
            }
            let mut ipbox = Boxed {
                layer: Layer::Network,
                title: format!("IPv4 header ─ {ih} bytes"),
                lines: vec![
                    format!(
                        "version {} · header {ih} B · DSCP {} · ECN {} · total length {}",
                        ip.version(),
                        ip.dscp(),
                        ip.ecn(),
                        ip.total_len()
                    ),
                    format!(
                        "id 0x{:04x} · flags {} · fragment offset {} · TTL {} · protocol {}{proto_name} · checksum 0x{:04x}",
                        ip.ident(),
                        if flags.is_empty() { "none".to_string() } else { flags.join(",") },
                        ip.frag_offset(),
                        ip.ttl(),
                        proto.0,
                        ip.checksum()
                    ),
                    format!("source {} → destination {}", ip.src(), ip.dst()),
                ],
                inner: None,
                after: Vec::new(),
            };
            ipbox.lines.extend(hex_lines(&payload[..ih]));
            let seg = &payload[ih..total.max(ih)];
            let tb = base + ih;
            let transport = match proto {
                IpProtocol::TCP => TcpPacket::new_checked(seg).ok().map(|t| {
                    let th = t.header_len();
                    let opts = TcpOptions::parse(t.options())
                        .map(|o| options_text(&o))
                        .unwrap_or_else(|e| format!("unreadable ({e})"));
                    let mut b = Boxed {
                        layer: Layer::Transport,
                        title: format!("TCP header ─ {th} bytes"),
                        lines: vec![
                            format!(
                                "ports {} → {} · seq {} · ack {}",
                                t.src_port(),
                                t.dst_port(),
                                t.seq(),
                                t.ack()
                            ),
                            format!(
                                "header {th} B · flags {} · window {} · checksum 0x{:04x} · urgent {}",
                                t.flags(),
                                t.window(),
                                t.checksum(),
                                t.urgent()
                            ),
                            format!("options: {opts}"),
                        ],
                        inner: None,
                        after: Vec::new(),
                    };
                    b.lines.extend(hex_lines(&seg[..th]));
                    (b, th)
                }),
                IpProtocol::UDP => UdpPacket::new_checked(seg).ok().map(|u| {
                    let mut b = Boxed {
                        layer: Layer::Transport,
                        title: "UDP header ─ 8 bytes".into(),
                        lines: vec![format!(
                            "ports {} → {} · length {} · checksum 0x{:04x}",
                            u.src_port(),
                            u.dst_port(),
                            u.len(),
                            u.checksum()
                        )],
                        inner: None,
                        after: Vec::new(),
                    };
                    b.lines.extend(hex_lines(&seg[..8]));
                    (b, 8)
                }),
                IpProtocol::ICMP => Icmpv4Packet::new_checked(seg).ok().map(|p| {
                    let mut b = Boxed {
                        layer: Layer::Transport,
                        title: "ICMP header ─ 8 bytes".into(),
                        lines: vec![format!(
                            "type {} · code {} · checksum 0x{:04x} · identifier {} · sequence {}",
                            p.msg_type(),
                            p.code(),
                            p.checksum(),
                            p.echo_ident(),
                            p.echo_seq_no()
                        )],
                        inner: None,
                        after: Vec::new(),
                    };
                    b.lines.extend(hex_lines(&seg[..8.min(seg.len())]));
                    (b, 8.min(seg.len()))
                }),
                _ => None,
            };
            if let Some((mut tbox, th)) = transport {
                sizes[2] = th;
                owner[tb..tb + th].fill(Layer::Transport);
                let data = &seg[th..];
                sizes[3] = data.len();
                owner[tb + th..tb + seg.len()].fill(Layer::Data);
                if !data.is_empty() {
                    let what = if data.starts_with(b"GET ") || data.starts_with(b"HTTP/1.") {
                        "data (HTTP)"
                    } else {
                        "data"
                    };
                    tbox.inner = Some(Box::new(data_box(data, what)));
                }
                ipbox.inner = Some(Box::new(tbox));
            } else {
                sizes[3] = seg.len();
                owner[tb..tb + seg.len()].fill(Layer::Data);
            }
            outer.inner = Some(Box::new(ipbox));
        }
    }
    let padding = payload.len().saturating_sub(used);
    outer.after.push(if padding > 0 {
        format!(
            "padding {padding} bytes: Ethernet frames are at least 60 bytes before the FCS \
             (64 with it), so short packets are filled with zeros"
        )
    } else {
        "padding none: the frame is longer than the 60-byte minimum".into()
    });
    outer.after.push(
        "FCS 4 bytes (CRC-32): added and checked by the network card, so no capture shows it"
            .into(),
    );
    (outer, owner, sizes)
}

/// One layer of a frame laid open, outermost first, for the web view.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LayerView {
    /// `ethernet`, `network`, `transport`, `data` or `padding`: the class
    /// the page colours it by (the same colours as the hex dump's bytes).
    pub layer: &'static str,
    /// The box's title, e.g. `TCP header ─ 32 bytes`.
    pub title: String,
    /// Its fields, then its bytes in hex (as `strata demo --layers` prints).
    pub lines: Vec<String>,
}

/// A frame laid open as data: the layers (the same boxes as [`render`],
/// outermost first, with what trails the payload as a last `padding`
/// entry) and, for every byte of the frame, the layer it belongs to.
pub fn views(frame: &[u8]) -> (Vec<LayerView>, Vec<&'static str>) {
    let (outer, owner, _) = dissect(frame);
    let mut out = Vec::new();
    let mut next = Some(&outer);
    while let Some(b) = next {
        out.push(LayerView {
            layer: b.layer.name(),
            title: b.title.clone(),
            lines: b.lines.clone(),
        });
        next = b.inner.as_deref();
    }
    if !outer.after.is_empty() {
        out.push(LayerView {
            layer: Layer::Padding.name(),
            title: "after the payload".into(),
            lines: outer.after.clone(),
        });
    }
    (out, owner.into_iter().map(Layer::name).collect())
}

/// Frame `n` (1-based, as counted on the ladder) laid open.
pub fn render(n: usize, frame: &[u8], color: bool) -> String {
    let (outer, owner, sizes) = dissect(frame);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "frame {n}: {} bytes captured, {} on the wire with the FCS",
        frame.len(),
        frame.len() + 4
    );
    let mut lines = Vec::new();
    outer.render(78, color, &mut lines);
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    let _ = writeln!(out);
    let legend: Vec<String> = [
        (Layer::Ethernet, "Ethernet"),
        (Layer::Network, "IPv4/ARP"),
        (Layer::Transport, "TCP/UDP/ICMP"),
        (Layer::Data, "data"),
        (Layer::Padding, "padding"),
    ]
    .iter()
    .map(|(l, name)| paint(color, l.code(), &format!("{} {name}", l.letter())))
    .collect();
    let _ = writeln!(out, "the frame in hex, by layer: {}", legend.join("  "));
    for (row, chunk) in frame.chunks(16).enumerate() {
        let start = row * 16;
        let hex: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, b)| paint(color, owner[start + i].code(), &format!("{b:02x}")))
            .collect();
        let _ = writeln!(out, "  {start:04x}  {}", hex.join(" "));
        if !color {
            let marks: Vec<String> = (0..chunk.len())
                .map(|i| format!("{} ", owner[start + i].letter()).repeat(1))
                .map(|m| format!("{m} "))
                .collect();
            let _ = writeln!(out, "        {}", marks.concat().trim_end());
        }
    }
    let headers = sizes[0] + sizes[1] + sizes[2];
    let wire = frame.len() + 4;
    let padding = frame.len().saturating_sub(headers + sizes[3]);
    let overhead = headers + padding + 4;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "overhead    Ethernet {} B + IPv4/ARP {} B + TCP/UDP/ICMP {} B headers, {padding} B padding, 4 B FCS",
        sizes[0], sizes[1], sizes[2]
    );
    let _ = writeln!(
        out,
        "            = {overhead} of {wire} bytes on the wire ({:.0}%) carry no data; {} B are data ({:.0}%)",
        100.0 * overhead as f64 / wire as f64,
        sizes[3],
        100.0 * sizes[3] as f64 / wire as f64
    );
    let _ = writeln!(
        out,
        "            (the cable also carries an 8-byte preamble and a 12-byte gap around every frame)"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_frame_is_laid_open_with_its_overhead() {
        let out = crate::demo::run(crate::demo::Scenario::Http, 1, 0.0).unwrap();
        let frames = out.ladder.frames();
        let (n, get) = frames
            .iter()
            .enumerate()
            .find(|(_, f)| f.windows(4).any(|w| w == b"GET "))
            .expect("a GET");
        let text = render(n + 1, get, false);
        for want in [
            "Ethernet II header ─ 14 bytes",
            "IPv4 header ─ 20 bytes",
            "TCP header ─ 32 bytes",
            "data (HTTP) ─ 82 bytes",
            "EtherType 0x0800 (IPv4)",
            "source 192.168.1.10 → destination 192.168.1.20",
            "FCS 4 bytes",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
        // 14 + 20 + 32 headers + 4 FCS of 148 + 4 bytes.
        assert!(
            text.contains(&format!("= 70 of {} bytes on the wire", get.len() + 4)),
            "{text}"
        );
        // Every line of the boxes is as wide as the outer box.
        let boxes: Vec<&str> = text.lines().skip(1).take_while(|l| !l.is_empty()).collect();
        assert!(boxes.iter().all(|l| width(l) == 78), "{text}");
        assert!(!text.contains('\x1b'));
        assert!(render(n + 1, get, true).contains("\x1b[35m"));
    }

    #[test]
    fn short_frames_show_their_padding() {
        let out = crate::demo::run(crate::demo::Scenario::Http, 1, 0.0).unwrap();
        let frames = out.ladder.frames();
        let arp = &frames[0];
        let text = render(1, arp, false);
        assert!(text.contains("ARP ─ 28 bytes"), "{text}");
        assert!(text.contains("padding 18 bytes"), "{text}");
        assert!(text.contains("= 64 of 64 bytes"), "{text}");
    }
}
