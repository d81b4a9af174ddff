//! SVG pictures of a TCP run, written directly as text (no plotting crate).
//!
//! - [`time_sequence_svg`]: a tcptrace/Wireshark-style *time-sequence graph*
//!   of one direction of a connection: x is time, y is the sequence number
//!   relative to the ISN. Each data segment is a vertical bar from its first
//!   to its last byte; the ACK line steps up as the other side acknowledges;
//!   the receive-window line (ACK + window, scaled) shows how far the sender
//!   may go; SACK blocks are purple bars at the time of the ACK carrying
//!   them; retransmissions are red bars with a red dot.
//! - [`cwnd_rtt_svg`]: congestion window (and ssthresh) over time above the
//!   smoothed RTT over time, from [`Sample`]s the simulation loop takes from
//!   `Tcp::info`.
//!
//! Frames come as captured: `(Instant, Vec<u8>)` Ethernet frames. The
//! analysis ([`SeqTrace::from_frames`]) is separate from drawing so it can be
//! tested and reused (the lab's summary counts retransmissions from it).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddrV4;
use std::time::Duration;

use strata::time::Instant;

use crate::decode::{self, TcpInfo};

/// One reading of a connection's congestion state, taken by the simulation
/// loop (e.g. from `strata::transport::tcp::Tcp::info`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When the reading was taken (virtual time).
    pub t: Instant,
    /// Congestion window in bytes.
    pub cwnd: u64,
    /// Slow-start threshold in bytes, when it is meaningful (not "infinite").
    pub ssthresh: Option<u64>,
    /// Smoothed round-trip time, once measured.
    pub srtt: Option<Duration>,
    /// Retransmission timeout (RFC 6298) at the time of the reading, if known.
    pub rto: Option<Duration>,
    /// The smallest RTT sample of a delivered data segment so far (RACK's
    /// min RTT), if known.
    pub min_rtt: Option<Duration>,
    /// Bytes sent and not yet acknowledged, if known.
    pub flight: Option<u64>,
}

/// One direction of a TCP connection: data flows from `src` to `dst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Flow {
    /// Sender of the data.
    pub src: SocketAddrV4,
    /// Receiver of the data (it sends the ACKs).
    pub dst: SocketAddrV4,
}

impl std::fmt::Display for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} → {}", self.src, self.dst)
    }
}

/// A data-carrying segment (or SYN/FIN) of the plotted direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegMark {
    /// Seconds since the trace start.
    pub t: f64,
    /// First relative sequence number occupied.
    pub start: i64,
    /// One past the last relative sequence number occupied.
    pub end: i64,
    /// It covers sequence space that was sent before.
    pub retransmission: bool,
}

/// An ACK of the other direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AckMark {
    /// Seconds since the trace start.
    pub t: f64,
    /// Relative acknowledgment number.
    pub ack: i64,
    /// Right edge of the receive window: ack + (window << scale).
    pub window_edge: i64,
}

/// A SACK block reported by an ACK.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SackMark {
    /// Seconds since the trace start.
    pub t: f64,
    /// Relative left edge.
    pub left: i64,
    /// Relative right edge.
    pub right: i64,
}

/// The analysed time-sequence data of one direction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeqTrace {
    /// The direction analysed (None when the frames held no TCP).
    pub flow: Option<Flow>,
    /// Data segments, in capture order.
    pub segments: Vec<SegMark>,
    /// ACKs from the receiver, in capture order.
    pub acks: Vec<AckMark>,
    /// SACK blocks from the receiver.
    pub sacks: Vec<SackMark>,
    /// Time of the last frame, seconds since the trace start.
    pub duration: f64,
}

/// Extends 32-bit relative sequence numbers to 64 bits, choosing the value
/// nearest to a reference (so a transfer past 4 GiB keeps climbing).
fn unwrap(rel: u32, reference: i64) -> i64 {
    let base = reference & !0xffff_ffff;
    let mut best = base + i64::from(rel);
    for cand in [best - (1 << 32), best + (1 << 32)] {
        if (cand - reference).abs() < (best - reference).abs() {
            best = cand;
        }
    }
    best
}

impl SeqTrace {
    /// Analyses the captured frames for `flow`, or for the direction that
    /// carried the most payload when `flow` is None. Frames that are not
    /// TCP (or fail their checksum) are skipped. Time zero is the first frame.
    pub fn from_frames(frames: &[(Instant, Vec<u8>)], flow: Option<Flow>) -> SeqTrace {
        let start = frames.first().map_or(Instant::ZERO, |f| f.0);
        let secs = |t: Instant| t.saturating_duration_since(start).as_secs_f64();
        // The TCP segments of Ethernet/IPv4 frames; not fragments, not
        // segments failing their checksum.
        let segs: Vec<(f64, TcpInfo)> = frames
            .iter()
            .filter_map(|(t, f)| decode::decode(f).tcp.map(|s| (secs(*t), s)))
            .collect();
        let duration = frames.last().map_or(0.0, |f| secs(f.0));
        let flow = flow.or_else(|| {
            let mut bytes: BTreeMap<Flow, u64> = BTreeMap::new();
            for (_, s) in &segs {
                *bytes
                    .entry(Flow {
                        src: s.src(),
                        dst: s.dst(),
                    })
                    .or_default() += u64::from(s.len);
            }
            // Most payload wins; ties go to the smallest flow (deterministic).
            bytes
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(f, _)| *f)
        });
        let Some(flow) = flow else {
            return SeqTrace {
                duration,
                ..Default::default()
            };
        };
        let fwd = |s: &TcpInfo| s.src() == flow.src && s.dst() == flow.dst;
        let rev = |s: &TcpInfo| s.src() == flow.dst && s.dst() == flow.src;
        // ISN: the sender's SYN, else the first sequence number seen.
        let isn = segs
            .iter()
            .find(|(_, s)| fwd(s) && s.syn)
            .or_else(|| segs.iter().find(|(_, s)| fwd(s)))
            .map_or(0, |(_, s)| s.seq);
        // Window scaling applies only when both SYNs carried the option
        // (RFC 7323 §2.2); the receiver's shift scales its windows.
        let snd_ws = segs
            .iter()
            .find(|(_, s)| fwd(s) && s.syn)
            .and_then(|(_, s)| s.options.window_scale);
        let rcv_ws = segs
            .iter()
            .find(|(_, s)| rev(s) && s.syn)
            .and_then(|(_, s)| s.options.window_scale);
        let shift = match (snd_ws, rcv_ws) {
            (Some(_), Some(r)) => u32::from(r.min(14)),
            _ => 0,
        };

        let mut out = SeqTrace {
            flow: Some(flow),
            duration,
            ..Default::default()
        };
        let mut highest: i64 = 0; // one past the highest sequence number sent
        let mut reference: i64 = 0;
        for (t, s) in &segs {
            if fwd(s) {
                let seq_len = i64::from(s.len) + i64::from(s.syn) + i64::from(s.fin);
                if seq_len == 0 {
                    continue;
                }
                let start = unwrap(s.seq.wrapping_sub(isn), reference);
                let end = start + seq_len;
                reference = reference.max(end);
                let retransmission = start < highest;
                highest = highest.max(end);
                out.segments.push(SegMark {
                    t: *t,
                    start,
                    end,
                    retransmission,
                });
            } else if rev(s) && s.flags.ack() {
                let ack = unwrap(s.ack.wrapping_sub(isn), reference);
                // RFC 7323 §2.2: the window field of a SYN is never scaled.
                let win = if s.syn {
                    u64::from(s.window)
                } else {
                    u64::from(s.window) << shift
                };
                out.acks.push(AckMark {
                    t: *t,
                    ack,
                    window_edge: ack + win as i64,
                });
                for b in s.options.sack() {
                    let left = unwrap(b.left.wrapping_sub(isn), reference);
                    let right = unwrap(b.right.wrapping_sub(isn), reference);
                    if right > left {
                        out.sacks.push(SackMark { t: *t, left, right });
                    }
                }
            }
        }
        out
    }

    /// Number of retransmitted segments seen.
    pub fn retransmissions(&self) -> usize {
        self.segments.iter().filter(|s| s.retransmission).count()
    }
}

// ---------------------------------------------------------------------------
// SVG drawing helpers

const W: f64 = 1000.0;
const FONT: &str = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"";
/// Colour of data segments.
pub const DATA_COLOUR: &str = "#1f3b73";
/// Colour of the ACK line.
pub const ACK_COLOUR: &str = "#2ca02c";
/// Colour of the receive-window line.
pub const WINDOW_COLOUR: &str = "#d98e04";
/// Colour of SACK blocks.
pub const SACK_COLOUR: &str = "#9467bd";
/// Colour of retransmissions.
pub const RETRANSMIT_COLOUR: &str = "#d62728";

/// Escapes text for XML content and attribute values.
fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// Rounds to one decimal for compact, stable output.
fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Tick positions: steps of 1, 2 or 5 × 10^k, about `target` of them.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    let mut v = Vec::new();
    let mut k = 0.0;
    loop {
        let x = first + k * step;
        if x > hi + step * 1e-9 || v.len() > 100 {
            break;
        }
        v.push(if x.abs() < step * 1e-9 { 0.0 } else { x });
        k += 1.0;
    }
    v
}

/// Formats a tick value compactly: 0, 250, 1.5k, 2M, 0.25.
fn short(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{suffix}")
}

/// A rectangular plotting area with data ranges.
struct Panel {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    xr: (f64, f64),
    yr: (f64, f64),
}

impl Panel {
    fn px(&self, v: f64) -> f64 {
        let (a, b) = self.xr;
        r1(self.x + (v - a) / (b - a) * self.w)
    }
    fn py(&self, v: f64) -> f64 {
        let (a, b) = self.yr;
        r1(self.y + self.h - (v - a) / (b - a) * self.h)
    }

    /// Frame, grid, ticks, tick labels and axis titles.
    fn axes(&self, svg: &mut String, xlabel: &str, ylabel: &str, yfmt: &dyn Fn(f64) -> String) {
        let (x0, y0, x1, y1) = (self.x, self.y, self.x + self.w, self.y + self.h);
        let _ = writeln!(
            svg,
            "<g class=\"axes\" {FONT} font-size=\"12\" fill=\"#333\">"
        );
        let _ = writeln!(
            svg,
            "<rect class=\"frame\" x=\"{x0}\" y=\"{y0}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>",
            self.w, self.h
        );
        for t in nice_ticks(self.xr.0, self.xr.1, 8) {
            let x = self.px(t);
            let _ = writeln!(
                svg,
                "<line class=\"grid\" x1=\"{x}\" y1=\"{y0}\" x2=\"{x}\" y2=\"{y1}\" stroke=\"#e4e4e4\"/>\
                 <line class=\"tick\" x1=\"{x}\" y1=\"{y1}\" x2=\"{x}\" y2=\"{}\" stroke=\"#444\"/>\
                 <text class=\"tick-label\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                y1 + 5.0,
                y1 + 19.0,
                xml(&short(t))
            );
        }
        for t in nice_ticks(self.yr.0, self.yr.1, 6) {
            let y = self.py(t);
            let _ = writeln!(
                svg,
                "<line class=\"grid\" x1=\"{x0}\" y1=\"{y}\" x2=\"{x1}\" y2=\"{y}\" stroke=\"#e4e4e4\"/>\
                 <line class=\"tick\" x1=\"{}\" y1=\"{y}\" x2=\"{x0}\" y2=\"{y}\" stroke=\"#444\"/>\
                 <text class=\"tick-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                x0 - 5.0,
                x0 - 8.0,
                y + 4.0,
                xml(&yfmt(t))
            );
        }
        let _ = writeln!(
            svg,
            "<text class=\"axis-label x\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"14\">{}</text>",
            r1(x0 + self.w / 2.0),
            y1 + 40.0,
            xml(xlabel)
        );
        let (lx, ly) = (x0 - 62.0, r1(y0 + self.h / 2.0));
        let _ = writeln!(
            svg,
            "<text class=\"axis-label y\" x=\"{lx}\" y=\"{ly}\" text-anchor=\"middle\" font-size=\"14\" transform=\"rotate(-90 {lx} {ly})\">{}</text>",
            xml(ylabel)
        );
        let _ = writeln!(svg, "</g>");
    }
}

fn header(svg: &mut String, h: f64, title: &str, subtitle: &str) {
    let _ = writeln!(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\">"
    );
    let _ = writeln!(svg, "<title>{}</title>", xml(title));
    let _ = writeln!(svg, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        svg,
        "<text class=\"title\" x=\"{}\" y=\"28\" text-anchor=\"middle\" {FONT} font-size=\"18\" font-weight=\"bold\" fill=\"#111\">{}</text>",
        W / 2.0,
        xml(title)
    );
    if !subtitle.is_empty() {
        let _ = writeln!(
            svg,
            "<text class=\"subtitle\" x=\"{}\" y=\"48\" text-anchor=\"middle\" {FONT} font-size=\"13\" fill=\"#555\">{}</text>",
            W / 2.0,
            xml(subtitle)
        );
    }
}

/// A legend box: (colour, label, dashed) rows, top-left of the panel.
fn legend(svg: &mut String, p: &Panel, rows: &[(&str, &str, bool)]) {
    let (x, y) = (p.x + 12.0, p.y + 12.0);
    let width =
        20.0 + 7.5 * rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0) as f64 + 30.0;
    let _ = writeln!(
        svg,
        "<g class=\"legend\" {FONT} font-size=\"12\" fill=\"#222\">"
    );
    let _ = writeln!(
        svg,
        "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{}\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#bbb\"/>",
        r1(width),
        10.0 + 18.0 * rows.len() as f64
    );
    for (i, (colour, label, dashed)) in rows.iter().enumerate() {
        let ly = y + 18.0 + 18.0 * i as f64;
        let dash = if *dashed {
            " stroke-dasharray=\"6 3\""
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{colour}\" stroke-width=\"3\"{dash}/><text x=\"{}\" y=\"{ly}\">{}</text>",
            x + 8.0,
            ly - 4.0,
            x + 30.0,
            ly - 4.0,
            x + 36.0,
            xml(label)
        );
    }
    let _ = writeln!(svg, "</g>");
}

/// A one-row legend right-aligned just above the panel (for panels whose
/// top-left corner holds data).
fn legend_above(svg: &mut String, p: &Panel, rows: &[(&str, &str, bool)]) {
    let widths: Vec<f64> = rows
        .iter()
        .map(|r| 44.0 + 7.0 * r.1.chars().count() as f64)
        .collect();
    let mut x = p.x + p.w - widths.iter().sum::<f64>();
    let y = p.y - 8.0;
    let _ = writeln!(
        svg,
        "<g class=\"legend\" {FONT} font-size=\"12\" fill=\"#222\">"
    );
    for ((colour, label, dashed), w) in rows.iter().zip(&widths) {
        let dash = if *dashed {
            " stroke-dasharray=\"6 3\""
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{colour}\" stroke-width=\"3\"{dash}/><text x=\"{}\" y=\"{y}\">{}</text>",
            r1(x),
            y - 4.0,
            r1(x + 22.0),
            y - 4.0,
            r1(x + 28.0),
            xml(label)
        );
        x += w;
    }
    let _ = writeln!(svg, "</g>");
}

/// Vertical bars in pixel space, merged when they share a column and touch,
/// so a 50 MB transfer draws a few thousand lines, not tens of thousands.
fn bars(items: impl Iterator<Item = (f64, f64, f64)>) -> Vec<(f64, f64, f64)> {
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    for (x, y_lo, y_hi) in items {
        // pixel y grows downwards: y_lo is the larger number
        if let Some(last) = out.last_mut() {
            if (last.0 - x).abs() < 0.5 && y_hi <= last.1 + 1.0 && y_lo >= last.2 - 1.0 {
                last.1 = last.1.max(y_lo);
                last.2 = last.2.min(y_hi);
                continue;
            }
        }
        out.push((x, y_lo, y_hi));
    }
    out
}

/// A step line through (x, y) points in pixel space: horizontal, then
/// vertical. Points in the same half-pixel column collapse to one riser.
fn step_points(points: impl Iterator<Item = (f64, f64)>) -> String {
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for (x, y) in points {
        let x = (x * 2.0).round() / 2.0;
        if let Some(&(_, py)) = pts.last() {
            push_point(&mut pts, (x, py));
        }
        push_point(&mut pts, (x, y));
    }
    let mut s = String::with_capacity(pts.len() * 12);
    for (i, (x, y)) in pts.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{x},{y}");
    }
    s
}

fn push_point(pts: &mut Vec<(f64, f64)>, p: (f64, f64)) {
    let n = pts.len();
    if n >= 1 && pts[n - 1] == p {
        return;
    }
    if n >= 2 {
        let (a, b) = (pts[n - 2], pts[n - 1]);
        if (a.0 == b.0 && b.0 == p.0) || (a.1 == b.1 && b.1 == p.1) {
            pts[n - 1] = p;
            return;
        }
    }
    pts.push(p);
}

/// Time axis unit: milliseconds for short runs, seconds otherwise.
fn time_unit(duration: f64) -> (f64, &'static str) {
    if duration < 2.0 {
        (1e3, "time (ms)")
    } else {
        (1.0, "time (s)")
    }
}

/// Draws the time-sequence graph of `trace` as a standalone SVG document.
pub fn time_sequence_svg(trace: &SeqTrace, title: &str) -> String {
    let h = 620.0;
    let mut svg = String::new();
    let subtitle = match trace.flow {
        Some(f) => format!(
            "{f} · {} segments · {} retransmitted · {} ACKs · {} SACK blocks",
            trace.segments.len(),
            trace.retransmissions(),
            trace.acks.len(),
            trace.sacks.len()
        ),
        None => "no TCP data in the capture".to_string(),
    };
    header(&mut svg, h, title, &subtitle);

    let (tscale, xlabel) = time_unit(trace.duration);
    let t_hi = trace.duration.max(1e-6) * tscale;
    let mut y_hi: i64 = 1;
    let mut y_lo: i64 = 0;
    for s in &trace.segments {
        y_hi = y_hi.max(s.end);
        y_lo = y_lo.min(s.start);
    }
    for a in &trace.acks {
        y_hi = y_hi.max(a.window_edge);
        y_lo = y_lo.min(a.ack);
    }
    let span = (y_hi - y_lo) as f64;
    let p = Panel {
        x: 100.0,
        y: 64.0,
        w: W - 130.0,
        h: h - 64.0 - 80.0,
        xr: (0.0, t_hi * 1.02),
        yr: (y_lo as f64, y_lo as f64 + span * 1.04),
    };
    p.axes(&mut svg, xlabel, "relative sequence number (bytes)", &short);
    let _ = writeln!(
        svg,
        "<clipPath id=\"plot-area\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath>",
        p.x, p.y, p.w, p.h
    );
    let _ = writeln!(svg, "<g clip-path=\"url(#plot-area)\">");

    // Receive window, then ACK line, under the data.
    let win = step_points(
        trace
            .acks
            .iter()
            .map(|a| (p.px(a.t * tscale), p.py(a.window_edge as f64))),
    );
    if !win.is_empty() {
        let _ = writeln!(
            svg,
            "<polyline class=\"window\" fill=\"none\" stroke=\"{WINDOW_COLOUR}\" stroke-width=\"1.5\" points=\"{win}\"/>"
        );
    }
    let ack = step_points(
        trace
            .acks
            .iter()
            .map(|a| (p.px(a.t * tscale), p.py(a.ack as f64))),
    );
    if !ack.is_empty() {
        let _ = writeln!(
            svg,
            "<polyline class=\"ack\" fill=\"none\" stroke=\"{ACK_COLOUR}\" stroke-width=\"1.5\" points=\"{ack}\"/>"
        );
    }

    let draw_bars =
        |svg: &mut String, class: &str, colour: &str, width: f64, b: &[(f64, f64, f64)]| {
            let _ = writeln!(
                svg,
                "<g class=\"{class}\" stroke=\"{colour}\" stroke-width=\"{width}\">"
            );
            for &(x, lo, hi) in b {
                // At least 2 px tall so a single segment stays visible.
                let (lo, hi) = if lo - hi < 2.0 {
                    (r1((lo + hi) / 2.0 + 1.0), r1((lo + hi) / 2.0 - 1.0))
                } else {
                    (lo, hi)
                };
                let _ = writeln!(svg, "<line x1=\"{x}\" y1=\"{lo}\" x2=\"{x}\" y2=\"{hi}\"/>");
            }
            let _ = writeln!(svg, "</g>");
        };
    let sacks = bars(trace.sacks.iter().map(|s| {
        (
            p.px(s.t * tscale),
            p.py(s.left as f64),
            p.py(s.right as f64),
        )
    }));
    draw_bars(&mut svg, "sack", SACK_COLOUR, 2.0, &sacks);
    let data = bars(
        trace
            .segments
            .iter()
            .filter(|s| !s.retransmission)
            .map(|s| (p.px(s.t * tscale), p.py(s.start as f64), p.py(s.end as f64))),
    );
    draw_bars(&mut svg, "data", DATA_COLOUR, 1.5, &data);
    let rtx = bars(
        trace
            .segments
            .iter()
            .filter(|s| s.retransmission)
            .map(|s| (p.px(s.t * tscale), p.py(s.start as f64), p.py(s.end as f64))),
    );
    draw_bars(&mut svg, "retransmission", RETRANSMIT_COLOUR, 2.5, &rtx);
    let _ = writeln!(
        svg,
        "<g class=\"retransmission-marker\" fill=\"{RETRANSMIT_COLOUR}\">"
    );
    let mut last: Option<(f64, f64)> = None;
    for &(x, lo, hi) in &rtx {
        let y = r1((lo + hi) / 2.0);
        if last.is_some_and(|(lx, ly)| (lx - x).abs() < 3.0 && (ly - y).abs() < 3.0) {
            continue;
        }
        last = Some((x, y));
        let _ = writeln!(svg, "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\"/>");
    }
    let _ = writeln!(svg, "</g>");
    let _ = writeln!(svg, "</g>");

    legend(
        &mut svg,
        &p,
        &[
            (DATA_COLOUR, "data segment", false),
            (RETRANSMIT_COLOUR, "retransmission", false),
            (ACK_COLOUR, "ACK (cumulative)", false),
            (WINDOW_COLOUR, "receive window edge", false),
            (SACK_COLOUR, "SACK block", false),
        ],
    );
    let _ = writeln!(svg, "</svg>");
    svg
}

/// The layout both cwnd pictures share: the header, then the congestion
/// window (top) and the smoothed RTT (bottom) over the samples' time, the
/// cwnd axis reaching `cwnd_top` bytes.
struct CwndLayout {
    cw: Panel,
    rt: Panel,
    start: Instant,
    tscale: f64,
}

impl CwndLayout {
    fn draw<'a>(
        svg: &mut String,
        samples: impl Iterator<Item = &'a Sample> + Clone,
        (title, subtitle): (&str, &str),
        cwnd_top: u64,
        cwnd_label: &str,
    ) -> Self {
        let start = samples.clone().map(|s| s.t).min().unwrap_or(Instant::ZERO);
        let duration = samples
            .clone()
            .map(|s| s.t.saturating_duration_since(start).as_secs_f64())
            .fold(0.0, f64::max);
        let (tscale, xlabel) = time_unit(duration);
        let t_hi = duration.max(1e-6) * tscale * 1.02;
        let max_rtt = samples
            .filter_map(|s| s.srtt)
            .max()
            .unwrap_or(Duration::ZERO);
        header(svg, 720.0, title, subtitle);
        let cw = Panel {
            x: 100.0,
            y: 84.0,
            w: W - 130.0,
            h: 260.0,
            xr: (0.0, t_hi),
            yr: (0.0, (cwnd_top as f64 * 1.08).max(1.0)),
        };
        cw.axes(svg, xlabel, cwnd_label, &short);
        let rt = Panel {
            x: 100.0,
            y: 84.0 + 260.0 + 80.0,
            w: W - 130.0,
            h: 200.0,
            xr: (0.0, t_hi),
            yr: (0.0, (max_rtt.as_secs_f64() * 1e3 * 1.15).max(1.0)),
        };
        rt.axes(svg, xlabel, "smoothed RTT (ms)", &short);
        CwndLayout {
            cw,
            rt,
            start,
            tscale,
        }
    }

    /// Where `t` falls on the time axis (both panels share it).
    fn x(&self, t: Instant) -> f64 {
        self.cw
            .px(t.saturating_duration_since(self.start).as_secs_f64() * self.tscale)
    }

    /// The step lines of cwnd (top) and smoothed RTT (bottom) of `samples`.
    fn cwnd_and_rtt(&self, samples: &[Sample]) -> (String, String) {
        let cwnd = step_points(
            samples
                .iter()
                .map(|s| (self.x(s.t), self.cw.py(s.cwnd as f64))),
        );
        let rtt = step_points(samples.iter().filter_map(|s| {
            s.srtt
                .map(|r| (self.x(s.t), self.rt.py(r.as_secs_f64() * 1e3)))
        }));
        (cwnd, rtt)
    }
}

/// Draws congestion window (top) and smoothed RTT (bottom) over time.
pub fn cwnd_rtt_svg(samples: &[Sample], title: &str) -> String {
    let mut svg = String::new();
    let max_rtt = samples
        .iter()
        .filter_map(|s| s.srtt)
        .max()
        .unwrap_or(Duration::ZERO);
    // The subtitle names the largest cwnd as the text summary does (bytes
    // in flight may stand above cwnd while it is cut: the axis takes both).
    let cwnd_only = samples.iter().map(|s| s.cwnd).max().unwrap_or(0);
    let flight_max = samples.iter().filter_map(|s| s.flight).max().unwrap_or(0);
    let subtitle = format!(
        "{} samples · max cwnd {} · max in flight {} · max srtt {}",
        samples.len(),
        crate::units::format_bytes(cwnd_only),
        crate::units::format_bytes(flight_max),
        crate::units::format_duration(max_rtt)
    );
    let max_cwnd = cwnd_only.max(flight_max);
    let layout = CwndLayout::draw(
        &mut svg,
        samples.iter(),
        (title, &subtitle),
        max_cwnd,
        "bytes",
    );
    let (cw, rt) = (&layout.cw, &layout.rt);

    let series = |svg: &mut String, class: &str, colour: &str, dashed: bool, pts: String| {
        if pts.is_empty() {
            return;
        }
        let dash = if dashed {
            " stroke-dasharray=\"6 3\""
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            "<polyline class=\"{class}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.8\"{dash} points=\"{pts}\"/>"
        );
    };
    let flight = step_points(
        samples
            .iter()
            .filter_map(|s| s.flight.map(|f| (layout.x(s.t), cw.py(f as f64)))),
    );
    series(&mut svg, "flight", "#9a9a9a", false, flight);
    let ssth = step_points(samples.iter().filter_map(|s| {
        s.ssthresh
            .filter(|&v| v <= max_cwnd.saturating_mul(4))
            .map(|v| (layout.x(s.t), cw.py((v as f64).min(cw.yr.1))))
    }));
    series(&mut svg, "ssthresh", "#ff7f0e", true, ssth);
    let (cwnd, rtt) = layout.cwnd_and_rtt(samples);
    series(&mut svg, "cwnd", "#1f77b4", false, cwnd);
    series(&mut svg, "srtt", "#2ca02c", false, rtt);
    if samples.is_empty() {
        let _ = writeln!(
            svg,
            "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" {FONT} font-size=\"16\" fill=\"#888\">no samples</text>",
            W / 2.0,
            cw.y + cw.h / 2.0
        );
    }
    legend_above(
        &mut svg,
        cw,
        &[
            ("#1f77b4", "congestion window", false),
            ("#ff7f0e", "ssthresh", true),
            ("#9a9a9a", "bytes in flight", false),
        ],
    );
    legend_above(&mut svg, rt, &[("#2ca02c", "smoothed RTT", false)]);
    let _ = writeln!(svg, "</svg>");
    svg
}

/// Colours of the flows in [`cwnd_flows_svg`] (dealt in turn).
const FLOW_COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
];

/// Draws the congestion window (top) and smoothed RTT (bottom) of several
/// flows over time, one colour per flow (`--flows`).
pub fn cwnd_flows_svg(flows: &[(String, Vec<Sample>)], title: &str) -> String {
    let mut svg = String::new();
    let all = || flows.iter().flat_map(|(_, v)| v.iter());
    let max_cwnd = all().map(|s| s.cwnd).max().unwrap_or(0);
    let max_rtt = all().filter_map(|s| s.srtt).max().unwrap_or(Duration::ZERO);
    let subtitle = format!(
        "{} flows · max cwnd {} · max srtt {}",
        flows.len(),
        crate::units::format_bytes(max_cwnd),
        crate::units::format_duration(max_rtt)
    );
    let layout = CwndLayout::draw(
        &mut svg,
        all(),
        (title, &subtitle),
        max_cwnd,
        "cwnd (bytes)",
    );
    let mut legend_rows = Vec::new();
    for (i, (label, samples)) in flows.iter().enumerate() {
        let colour = FLOW_COLOURS[i % FLOW_COLOURS.len()];
        let (cwnd, rtt) = layout.cwnd_and_rtt(samples);
        for (class, pts) in [("cwnd", cwnd), ("srtt", rtt)] {
            if !pts.is_empty() {
                let _ = writeln!(
                    svg,
                    "<polyline class=\"{class} flow{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\" points=\"{pts}\"/>",
                    i + 1
                );
            }
        }
        legend_rows.push((colour, label.as_str(), false));
    }
    legend_above(&mut svg, &layout.cw, &legend_rows);
    let _ = writeln!(svg, "</svg>");
    svg
}

/// Colour and legend name of a spanning-tree port state.
fn stp_state_style(s: strata_sim::switch::PortState) -> (&'static str, &'static str) {
    use strata_sim::switch::PortState;
    match s {
        PortState::Forwarding => ("#2ca02c", "forwarding"),
        PortState::Learning => ("#bcbd22", "learning"),
        PortState::Listening => ("#ff7f0e", "listening"),
        PortState::Blocking => ("#d62728", "blocking"),
    }
}

/// A span of seconds as people say it: 31 µs, 1.5 ms, 30 s.
fn say_secs(s: f64) -> String {
    let (v, unit) = if s < 1e-3 {
        (s * 1e6, "µs")
    } else if s < 1.0 {
        (s * 1e3, "ms")
    } else {
        (s, "s")
    };
    let t = format!("{v:.1}");
    format!("{} {unit}", t.trim_end_matches(".0"))
}

/// Draws spanning-tree runs ([`strata_sim::demo::storm_stp`]) as timelines:
/// one panel per protocol, one row per switch port, each row a bar
/// coloured by the port's state over time and labelled with its role;
/// dashed lines mark convergence, the link failure and the repair.
pub fn stp_timeline_svg(runs: &[strata_sim::demo::StpDemo], seed: u64) -> String {
    use strata_sim::switch::PortState;
    let secs = |t: Instant| t.as_nanos() as f64 / 1e9;
    let t_hi = runs.iter().map(|r| secs(r.ended_at)).fold(1.0, f64::max);
    let (row_h, gap) = (18.0, 6.0);
    let rows = runs.iter().map(|r| r.history.len()).max().unwrap_or(0) as f64;
    let panel_h = rows * (row_h + gap) - gap;
    // Panel title, two lines of event labels, the rows, the time axis.
    let block = 50.0 + panel_h + 52.0;
    let top = 92.0;
    let h = top + block * runs.len() as f64 + 10.0;
    let mut svg = String::new();
    let cut = runs.first().map_or(0.0, |r| secs(r.cut_at));
    let mut sub = vec![format!("seed {seed}")];
    for r in runs {
        sub.push(format!(
            "{} converges in {}, repairs in {}",
            r.protocol.name(),
            say_secs(secs(r.converged_at)),
            r.healed_after
                .map_or("—".to_string(), |d| say_secs(d.as_secs_f64()))
        ));
    }
    header(
        &mut svg,
        h,
        &format!(
            "Spanning tree on the storm triangle: power-on, then link sw0–sw1 fails at {}",
            say_secs(cut)
        ),
        &sub.join(" · "),
    );
    // The legend: one swatch per state, right-aligned above the panels.
    let states = [
        PortState::Blocking,
        PortState::Listening,
        PortState::Learning,
        PortState::Forwarding,
    ];
    let _ = writeln!(
        svg,
        "<g class=\"legend\" {FONT} font-size=\"12\" fill=\"#222\">"
    );
    let mut lx = W - 540.0;
    for s in states {
        let (colour, name) = stp_state_style(s);
        let label = if s == PortState::Blocking {
            "blocking (RSTP: discarding)"
        } else {
            name
        };
        let _ = writeln!(
            svg,
            "<rect class=\"swatch {name}\" x=\"{}\" y=\"62\" width=\"14\" height=\"12\" fill=\"{colour}\"/><text x=\"{}\" y=\"72\">{label}</text>",
            r1(lx),
            r1(lx + 18.0)
        );
        lx += if s == PortState::Blocking {
            190.0
        } else {
            84.0
        };
    }
    let _ = writeln!(
        svg,
        "<text x=\"30\" y=\"72\">bar: the port's state · text: its role</text>"
    );
    let _ = writeln!(svg, "</g>");
    for (k, run) in runs.iter().enumerate() {
        let y0 = top + block * k as f64;
        let p = Panel {
            x: 110.0,
            y: y0 + 50.0,
            w: W - 140.0,
            h: panel_h,
            xr: (0.0, t_hi),
            yr: (0.0, 1.0),
        };
        let name = match run.protocol {
            strata_sim::stp::Protocol::Stp => "STP (IEEE 802.1D)",
            strata_sim::stp::Protocol::Rstp => "RSTP (IEEE 802.1w)",
        };
        let _ = writeln!(
            svg,
            "<g class=\"stp-panel\" data-protocol=\"{}\" {FONT}>",
            run.protocol.name()
        );
        let _ = writeln!(
            svg,
            "<text class=\"panel-title\" x=\"{}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\" fill=\"#111\">{}</text>",
            p.x,
            r1(y0 + 14.0),
            xml(name)
        );
        // Time grid and axis under the rows.
        let y1 = p.y + p.h;
        for t in nice_ticks(0.0, t_hi, 8) {
            let x = p.px(t);
            let _ = writeln!(
                svg,
                "<line class=\"grid\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{y1}\" stroke=\"#e4e4e4\"/>\
                 <text class=\"tick-label\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\" fill=\"#333\">{}</text>",
                p.y,
                y1 + 16.0,
                xml(&short(t))
            );
        }
        let _ = writeln!(
            svg,
            "<text class=\"axis-label x\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\" fill=\"#333\">time after power-on (s)</text>",
            r1(p.x + p.w / 2.0),
            y1 + 34.0
        );
        for (i, port) in run.history.iter().enumerate() {
            let ry = r1(p.y + i as f64 * (row_h + gap));
            let _ = writeln!(
                svg,
                "<g class=\"port-row\" data-port=\"{} port {}\"><text class=\"port-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\" fill=\"#222\">{} port {}</text>",
                xml(&port.switch),
                port.port,
                p.x - 8.0,
                r1(ry + 13.0),
                xml(&port.switch),
                port.port
            );
            // Spans of constant (role, state), from power-on to the end.
            let mut spans: Vec<(f64, strata_sim::stp::PortRole, PortState)> =
                vec![(0.0, port.initial.0, port.initial.1)];
            for c in &port.changes {
                let t = secs(c.at);
                match spans.last_mut() {
                    Some(last) if last.0 == t => (last.1, last.2) = (c.role, c.state),
                    _ => spans.push((t, c.role, c.state)),
                }
            }
            for (j, &(t, role, state)) in spans.iter().enumerate() {
                let end = spans.get(j + 1).map_or(t_hi, |s| s.0);
                let (xa, xb) = (p.px(t), p.px(end));
                let (colour, sname) = stp_state_style(state);
                let _ = writeln!(
                    svg,
                    "<rect class=\"state {sname}\" data-role=\"{}\" data-from=\"{t}\" x=\"{xa}\" y=\"{ry}\" width=\"{}\" height=\"{row_h}\" fill=\"{colour}\"><title>{} port {}: {} {sname} from {}</title></rect>",
                    role.name(),
                    r1((xb - xa).max(0.5)),
                    xml(&port.switch),
                    port.port,
                    role.name(),
                    say_secs(t)
                );
                // The role where the bar is wide enough to hold it, and
                // always on the first span (the role at power-on).
                if xb - xa > 62.0 {
                    let _ = writeln!(
                        svg,
                        "<text class=\"role\" x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"white\">{}</text>",
                        r1(xa + 4.0),
                        r1(ry + 13.0),
                        role.name()
                    );
                }
            }
            let _ = writeln!(svg, "</g>");
        }
        // Events: convergence, the cut, the repair.
        let mut events = vec![
            (
                "converged",
                secs(run.converged_at),
                format!("converged after {}", say_secs(secs(run.converged_at))),
                "start",
            ),
            (
                "cut",
                secs(run.cut_at),
                "link sw0–sw1 cut".to_string(),
                "end",
            ),
        ];
        if let Some(d) = run.healed_after {
            events.push((
                "repaired",
                secs(run.cut_at) + d.as_secs_f64(),
                format!("repaired {} after the cut", say_secs(d.as_secs_f64())),
                "start",
            ));
        }
        // Each label on the lower line unless it would run into the last
        // label there (about 7 px a character), then on the upper line.
        let mut ends = [f64::MIN; 2];
        for (class, t, label, anchor) in events {
            let x = p.px(t);
            let width = 7.0 * label.chars().count() as f64;
            let (tx, from, to) = if anchor == "end" {
                (x - 4.0, x - 4.0 - width, x)
            } else {
                (x + 4.0, x, x + 4.0 + width)
            };
            let level = usize::from(from < ends[0] + 8.0);
            ends[level] = ends[level].max(to);
            let ty = p.y - 5.0 - 16.0 * level as f64;
            let _ = writeln!(
                svg,
                "<line class=\"event {class}\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#111\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>\
                 <text class=\"event-label {class}\" x=\"{}\" y=\"{ty}\" text-anchor=\"{anchor}\" font-size=\"12\" fill=\"#111\">{}</text>",
                ty - 11.0,
                y1 + 2.0,
                r1(tx),
                xml(&label)
            );
        }
        let _ = writeln!(svg, "</g>");
    }
    let _ = writeln!(svg, "</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrap_crosses_4gib() {
        assert_eq!(unwrap(10, 0), 10);
        assert_eq!(unwrap(0xffff_fff0, 0), -16);
        assert_eq!(unwrap(5, 0xffff_fff0), (1 << 32) + 5);
        assert_eq!(unwrap(0xffff_fff0, (1 << 32) + 5), 0xffff_fff0);
    }

    #[test]
    fn ticks_are_nice() {
        assert_eq!(
            nice_ticks(0.0, 10.0, 5),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(nice_ticks(0.0, 1.0, 4), vec![0.0, 0.5, 1.0]);
        assert_eq!(short(1_500_000.0), "1.5M");
        assert_eq!(short(20_000.0), "20k");
        assert_eq!(short(250.0), "250");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(nice_ticks(5.0, 5.0, 4), vec![5.0]);
    }

    #[test]
    fn step_line_collapses_columns() {
        let s = step_points([(0.0, 100.0), (0.1, 90.0), (0.2, 80.0), (10.0, 70.0)].into_iter());
        assert_eq!(s, "0,100 0,80 10,80 10,70");
    }

    #[test]
    fn bars_merge_adjacent() {
        let b = bars([(1.0, 100.0, 99.0), (1.2, 99.0, 98.0), (5.0, 50.0, 49.0)].into_iter());
        assert_eq!(b, vec![(1.0, 100.0, 98.0), (5.0, 50.0, 49.0)]);
    }
}
