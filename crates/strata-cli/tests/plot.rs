//! The SVG plots: built from a synthetic capture with a loss, a SACK and a
//! retransmission; the output is parsed as XML and searched for the parts a
//! reader needs (axes, title, ACK and window lines, red retransmissions).
#![allow(dead_code)]

#[path = "../src/decode.rs"]
mod decode;
#[path = "../src/plot.rs"]
mod plot;
#[path = "../src/units.rs"]
mod units;

use std::net::Ipv4Addr;
use std::time::Duration;

use plot::{cwnd_rtt_svg, time_sequence_svg, Flow, Sample, SeqTrace, RETRANSMIT_COLOUR};
use strata::time::Instant;
use strata::wire::ethernet::{EtherType, EthernetRepr};
use strata::wire::ipv4::{IpProtocol, Ipv4Repr};
use strata::wire::mac::MacAddr;
use strata::wire::tcp::{SackBlock, TcpFlags, TcpOptions, TcpRepr};

const C: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const S: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const CISN: u32 = 0xffff_f000; // wraps during the transfer
const SISN: u32 = 5000;

struct Seg {
    from_client: bool,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    options: TcpOptions,
    len: usize,
}

fn frame(s: &Seg) -> Vec<u8> {
    let (src, dst, sp, dp) = if s.from_client {
        (C, S, 40000, 80)
    } else {
        (S, C, 80, 40000)
    };
    let payload = vec![0x61u8; s.len];
    let tcp = TcpRepr {
        src_port: sp,
        dst_port: dp,
        seq: s.seq,
        ack: s.ack,
        flags: s.flags,
        window: s.window,
        urgent: 0,
        options: s.options,
        payload: &payload,
    };
    let ip = Ipv4Repr::new(src, dst, IpProtocol::TCP, 64, tcp.buffer_len());
    let eth = EthernetRepr {
        dst: MacAddr([2, 0, 0, 0, 0, 2]),
        src: MacAddr([2, 0, 0, 0, 0, 1]),
        ethertype: EtherType::IPV4,
        vlan: None,
    };
    let mut buf = vec![0u8; 14 + ip.buffer_len()];
    let e = eth.emit(&mut buf).unwrap();
    let i = ip.emit(&mut buf[e..]).unwrap();
    tcp.emit(&mut buf[e + i..], src, dst).unwrap();
    buf
}

fn ms(v: u64) -> Instant {
    Instant::from_micros(v * 1000)
}

fn flags(bits: &[TcpFlags]) -> TcpFlags {
    TcpFlags(bits.iter().fold(0, |a, f| a | f.0))
}

/// Handshake with window scaling, 10 segments of 1000 bytes; the third is
/// lost, the receiver SACKs what follows, the sender retransmits it.
fn capture() -> Vec<(Instant, Vec<u8>)> {
    let mut out = Vec::new();
    let ws = |s| TcpOptions {
        window_scale: Some(s),
        sack_permitted: true,
        mss: Some(1000),
        ..Default::default()
    };
    let plain = TcpOptions::default();
    let ack = TcpFlags::ACK;
    out.push((
        ms(0),
        frame(&Seg {
            from_client: true,
            seq: CISN,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 65535,
            options: ws(7),
            len: 0,
        }),
    ));
    out.push((
        ms(10),
        frame(&Seg {
            from_client: false,
            seq: SISN,
            ack: CISN + 1,
            flags: flags(&[TcpFlags::SYN, ack]),
            window: 8000,
            options: ws(2),
            len: 0,
        }),
    ));
    out.push((
        ms(20),
        frame(&Seg {
            from_client: true,
            seq: CISN + 1,
            ack: SISN + 1,
            flags: ack,
            window: 512,
            options: plain,
            len: 0,
        }),
    ));
    let rel = |r: u32| CISN.wrapping_add(r);
    // The client's data segment of 1000 bytes at `seq`, at `t` ms.
    let data = |t: u64, seq: u32| {
        let s = Seg {
            from_client: true,
            seq,
            ack: SISN + 1,
            flags: ack,
            window: 512,
            options: plain,
            len: 1000,
        };
        (ms(t), frame(&s))
    };
    // The server's ACK of relative sequence number `acked`, at `t` ms.
    let ack_of = |t: u64, acked: u32, options: TcpOptions| {
        let s = Seg {
            from_client: false,
            seq: SISN + 1,
            ack: rel(acked),
            flags: ack,
            window: 4000,
            options,
            len: 0,
        };
        (ms(t), frame(&s))
    };
    for k in 0..10u32 {
        out.push(data(20 + u64::from(k), rel(1 + 1000 * k)));
    }
    // ACKs: 1001, 2001, then duplicates of 2001 with growing SACK blocks.
    out.push(ack_of(31, 1001, plain));
    out.push(ack_of(32, 2001, plain));
    for k in 0..4u32 {
        let mut o = TcpOptions::default();
        o.sack_blocks[0] = SackBlock {
            left: rel(3001),
            right: rel(4001 + 1000 * k),
        };
        o.sack_len = 1;
        out.push(ack_of(34 + u64::from(k), 2001, o));
    }
    // Fast retransmit of the lost segment, then the cumulative ACK.
    out.push(data(40, rel(2001)));
    out.push(ack_of(50, 10001, plain));
    // A non-TCP frame in the middle is ignored.
    out.push((ms(51), vec![0xff; 60]));
    out
}

#[test]
fn trace_analysis_finds_segments_acks_sacks_and_the_retransmission() {
    let t = SeqTrace::from_frames(&capture(), None);
    let flow = t.flow.expect("a flow");
    assert_eq!(flow.src.ip(), &C, "the client sent the data");
    assert_eq!(flow.src.port(), 40000);
    // SYN + 10 data + 1 retransmission (the pure ACK is not a segment).
    assert_eq!(t.segments.len(), 12);
    assert_eq!(t.retransmissions(), 1);
    let r = t.segments.iter().find(|s| s.retransmission).unwrap();
    assert_eq!((r.start, r.end), (2001, 3001));
    assert!((r.t - 0.040).abs() < 1e-9);
    // Sequence numbers keep climbing across the 32-bit wrap of CISN.
    assert_eq!(t.segments.last().unwrap().start, 2001);
    assert_eq!(t.segments.iter().map(|s| s.end).max(), Some(10001));
    // SYN-ACK window is unscaled; later windows are scaled by 2 bits.
    assert_eq!(t.acks[0].ack, 1);
    assert_eq!(t.acks[0].window_edge, 1 + 8000);
    assert_eq!(t.acks[1].window_edge, 1001 + 16000);
    assert_eq!(t.acks.last().unwrap().ack, 10001);
    assert_eq!(t.sacks.len(), 4);
    assert_eq!((t.sacks[3].left, t.sacks[3].right), (3001, 7001));
    // Asking for the other direction: only the SYN-ACK occupies sequence space.
    let back = SeqTrace::from_frames(
        &capture(),
        Some(Flow {
            src: flow.dst,
            dst: flow.src,
        }),
    );
    assert_eq!(back.segments.len(), 1);
    assert_eq!(back.retransmissions(), 0);
}

/// How many `tag` elements are direct children of `n`.
fn children_named(n: roxmltree::Node, tag: &str) -> usize {
    n.children().filter(|c| c.has_tag_name(tag)).count()
}

fn find<'a>(doc: &'a roxmltree::Document, tag: &str, class: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| {
            n.has_tag_name(tag)
                && n.attribute("class")
                    .is_some_and(|c| c.split(' ').any(|c| c == class))
        })
        .collect()
}

#[test]
fn time_sequence_svg_is_valid_xml_with_every_part() {
    let trace = SeqTrace::from_frames(&capture(), None);
    let svg = time_sequence_svg(&trace, "Time-sequence graph <test & check>");
    let doc = roxmltree::Document::parse(&svg).expect("valid XML");
    let root = doc.root_element();
    assert!(root.has_tag_name(("http://www.w3.org/2000/svg", "svg")));
    // Title, escaped correctly.
    let title = find(&doc, "text", "title");
    assert_eq!(title.len(), 1);
    assert_eq!(title[0].text(), Some("Time-sequence graph <test & check>"));
    // Axes: a frame, tick labels, both axis titles.
    assert!(!find(&doc, "g", "axes").is_empty());
    assert!(find(&doc, "text", "tick-label").len() >= 6);
    let labels: Vec<_> = find(&doc, "text", "axis-label")
        .iter()
        .filter_map(|n| n.text())
        .collect();
    assert!(labels.contains(&"time (ms)"), "{labels:?}");
    assert!(labels.contains(&"relative sequence number (bytes)"));
    // The ACK step line: many points, non-decreasing in x.
    let ack = find(&doc, "polyline", "ack");
    assert_eq!(ack.len(), 1);
    let pts: Vec<(f64, f64)> = ack[0]
        .attribute("points")
        .unwrap()
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    assert!(pts.len() >= 4, "{pts:?}");
    assert!(pts.windows(2).all(|w| w[1].0 >= w[0].0));
    // The ACK line ends higher (smaller y) than it starts.
    assert!(pts.last().unwrap().1 < pts[0].1);
    assert_eq!(find(&doc, "polyline", "window").len(), 1);
    // Red retransmission bars and markers.
    let rtx = find(&doc, "g", "retransmission");
    assert_eq!(rtx.len(), 1);
    assert_eq!(rtx[0].attribute("stroke"), Some(RETRANSMIT_COLOUR));
    assert_eq!(children_named(rtx[0], "line"), 1);
    let markers = find(&doc, "g", "retransmission-marker");
    assert_eq!(markers[0].attribute("fill"), Some(RETRANSMIT_COLOUR));
    assert_eq!(children_named(markers[0], "circle"), 1);
    // Data bars and SACK bars.
    assert!(children_named(find(&doc, "g", "data")[0], "line") >= 1);
    assert!(children_named(find(&doc, "g", "sack")[0], "line") >= 1);
    // The legend names every series.
    let legend: String = find(&doc, "g", "legend")[0]
        .descendants()
        .filter_map(|n| n.text())
        .collect();
    for word in [
        "data segment",
        "retransmission",
        "ACK",
        "receive window",
        "SACK",
    ] {
        assert!(legend.contains(word), "legend lacks {word}: {legend}");
    }
}

#[test]
fn no_retransmission_no_red() {
    let frames: Vec<_> = capture()
        .into_iter()
        .filter(|(t, _)| *t != ms(40))
        .collect();
    let trace = SeqTrace::from_frames(&frames, None);
    assert_eq!(trace.retransmissions(), 0);
    let svg = time_sequence_svg(&trace, "clean");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(
        find(&doc, "g", "retransmission")[0]
            .children()
            .filter(|n| n.is_element())
            .count(),
        0
    );
    assert_eq!(
        find(&doc, "g", "retransmission-marker")[0]
            .children()
            .filter(|n| n.is_element())
            .count(),
        0
    );
}

#[test]
fn empty_capture_still_draws_a_valid_picture() {
    let trace = SeqTrace::from_frames(&[], None);
    assert!(trace.flow.is_none());
    let svg = time_sequence_svg(&trace, "nothing");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let sub = find(&doc, "text", "subtitle");
    assert_eq!(sub[0].text(), Some("no TCP data in the capture"));
    let svg = cwnd_rtt_svg(&[], "nothing");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(find(&doc, "text", "empty").len(), 1);
}

#[test]
fn long_transfers_are_thinned_but_keep_their_shape() {
    // 20 000 segments over 10 s, ACKed one by one: the SVG stays small.
    let mut frames = Vec::new();
    let ack = TcpFlags::ACK;
    for k in 0..20_000u32 {
        let t = Instant::from_micros(u64::from(k) * 500);
        let seq = CISN.wrapping_add(1 + 1000 * k);
        frames.push((
            t,
            frame(&Seg {
                from_client: true,
                seq,
                ack: SISN,
                flags: ack,
                window: 512,
                options: TcpOptions::default(),
                len: 1000,
            }),
        ));
        let t2 = Instant::from_micros(u64::from(k) * 500 + 250);
        frames.push((
            t2,
            frame(&Seg {
                from_client: false,
                seq: SISN,
                ack: seq.wrapping_add(1000),
                flags: ack,
                window: 60000,
                options: TcpOptions::default(),
                len: 0,
            }),
        ));
    }
    let trace = SeqTrace::from_frames(&frames, None);
    assert_eq!(trace.segments.len(), 20_000);
    assert_eq!(trace.retransmissions(), 0);
    assert_eq!(trace.segments.last().unwrap().end, 20_000_000);
    let svg = time_sequence_svg(&trace, "bulk");
    assert!(svg.len() < 400_000, "svg is {} bytes", svg.len());
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let labels: Vec<_> = find(&doc, "text", "axis-label")
        .iter()
        .filter_map(|n| n.text())
        .collect();
    assert!(labels.contains(&"time (s)"));
    let ticks: Vec<_> = find(&doc, "text", "tick-label")
        .iter()
        .filter_map(|n| n.text())
        .collect();
    assert!(ticks.contains(&"10M"), "{ticks:?}");
}

#[test]
fn cwnd_and_rtt_panels() {
    let samples: Vec<Sample> = (0..300u64)
        .map(|k| Sample {
            t: Instant::from_millis(k * 10),
            cwnd: 10_000 + (k % 50) * 2000,
            ssthresh: (k > 50).then_some(60_000),
            srtt: (k > 0).then(|| Duration::from_micros(20_000 + k * 50)),
            rto: Some(Duration::from_millis(200)),
            min_rtt: None,
            flight: Some(8_000 + (k % 50) * 1500),
        })
        .collect();
    let svg = cwnd_rtt_svg(&samples, "Congestion window and RTT");
    let doc = roxmltree::Document::parse(&svg).expect("valid XML");
    assert_eq!(
        find(&doc, "text", "title")[0].text(),
        Some("Congestion window and RTT")
    );
    assert_eq!(find(&doc, "g", "axes").len(), 2, "two panels");
    for class in ["cwnd", "ssthresh", "srtt", "flight"] {
        let p = find(&doc, "polyline", class);
        assert_eq!(p.len(), 1, "{class}");
        assert!(
            p[0].attribute("points").unwrap().split(' ').count() >= 2,
            "{class}"
        );
    }
    let labels: Vec<_> = find(&doc, "text", "axis-label")
        .iter()
        .filter_map(|n| n.text())
        .collect();
    assert!(labels.contains(&"smoothed RTT (ms)"));
    assert!(labels.contains(&"time (s)"));
}
