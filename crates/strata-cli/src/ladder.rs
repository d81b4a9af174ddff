//! The ladder (sequence) diagram: one row per frame between two hosts, with
//! each host's TCP state transitions beside its rail — the lesson's
//! handshake and close figures, drawn from a real run.
//!
//! Rendered as text (coloured when the terminal supports it) and as SVG.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use strata::stack::Event;
use strata::time::Instant;
use strata::transport::tcp::TcpEvent;
use strata::wire::MacAddr;

use crate::decode::{self, Decoded};

/// Which host of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The left rail (the client).
    Left,
    /// The right rail (the server).
    Right,
}

/// One host drawn as a rail.
#[derive(Debug, Clone)]
pub struct Party {
    /// Role, e.g. "client".
    pub name: String,
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
    /// Its MAC address.
    pub mac: MacAddr,
}

/// Something that happened, in time order.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A frame sent by `from`; `lost` when the wire dropped it.
    Frame {
        /// When it left the sender.
        t: Instant,
        /// The sender.
        from: Side,
        /// The bytes on the wire.
        frame: Vec<u8>,
        /// Dropped on the way (never delivered).
        lost: bool,
    },
    /// A TCP state transition on one host.
    State {
        /// When.
        t: Instant,
        /// Which host.
        side: Side,
        /// Old state name.
        from: String,
        /// New state name.
        to: String,
    },
    /// A free-text annotation (e.g. "app: GET / sent", "TIME_WAIT expired").
    Note {
        /// When.
        t: Instant,
        /// Which host, or none for both.
        side: Option<Side>,
        /// The text.
        text: String,
    },
    /// A line of the lesson (`strata demo --narrate`): what the row above
    /// is for, in this run's numbers. Drawn after the frames and states of
    /// the same instant.
    Lesson {
        /// When.
        t: Instant,
        /// The narration, already in the chosen language.
        text: String,
    },
}

impl Entry {
    fn time(&self) -> Instant {
        match self {
            Entry::Frame { t, .. }
            | Entry::State { t, .. }
            | Entry::Note { t, .. }
            | Entry::Lesson { t, .. } => *t,
        }
    }
}

/// A decoded row ready to draw (and to narrate).
pub(crate) struct Row<'a> {
    /// What happened.
    pub(crate) entry: &'a Entry,
    /// The frame, decoded, with sequence numbers relative to the ISNs.
    pub(crate) decoded: Option<Decoded>,
    /// The frame repeats TCP sequence space already sent.
    pub(crate) retransmission: bool,
}

/// The whole diagram.
pub struct Ladder {
    /// Left and right hosts.
    pub parties: [Party; 2],
    /// What happened (sorted by time when drawn; ties keep insertion order).
    pub entries: Vec<Entry>,
}

/// Tracks TCP sequence numbers per direction so the ladder shows them relative
/// to each side's ISN (as Wireshark does) and spots retransmissions.
#[derive(Default)]
struct SeqTracker {
    /// (src ip, src port, dst ip, dst port) → (ISN, highest seq+len sent so far)
    flows: HashMap<(Ipv4Addr, u16, Ipv4Addr, u16), (u32, u32)>,
}

impl SeqTracker {
    /// Rewrites the TCP summary relative to the ISNs; returns true when the
    /// segment repeats sequence space already sent (a retransmission).
    fn observe(&mut self, d: &mut Decoded) -> bool {
        let Some(tcp) = d.tcp.as_mut() else {
            return false;
        };
        let key = (tcp.src_ip, tcp.src_port, tcp.dst_ip, tcp.dst_port);
        let rev = (tcp.dst_ip, tcp.dst_port, tcp.src_ip, tcp.src_port);
        let space = tcp.len + u32::from(tcp.syn) + u32::from(tcp.fin);
        let entry = self.flows.entry(key).or_insert((tcp.seq, tcp.seq));
        if tcp.syn {
            entry.0 = tcp.seq;
        }
        let (isn, high) = *entry;
        let end = tcp.seq.wrapping_add(space);
        let retrans =
            space > 0 && (end.wrapping_sub(high) as i32) <= 0 && !(tcp.syn && high == tcp.seq);
        if (end.wrapping_sub(high) as i32) > 0 {
            entry.1 = end;
        }
        tcp.rel_seq = Some(tcp.seq.wrapping_sub(isn));
        if let Some(&(peer_isn, _)) = self.flows.get(&rev) {
            tcp.rel_ack = Some(tcp.ack.wrapping_sub(peer_isn));
        }
        retrans
    }
}

/// Columns of the text ladder when the output is not a terminal (and the
/// most it takes on a wide one): 12 for the time, two rails, 84 between.
pub const DEFAULT_WIDTH: usize = 98;
/// The narrowest ladder that still has room for a frame's label.
pub const MIN_WIDTH: usize = 60;
/// The widest ladder `--width` accepts.
pub const MAX_WIDTH: usize = 400;
/// Columns left of the left rail: the time and two spaces.
const TIME_COLS: usize = 12;

/// Parses `--width`: a column count in [`MIN_WIDTH`]..=[`MAX_WIDTH`].
pub fn parse_width(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("'{s}' is not a column count (a whole number)"))?;
    if !(MIN_WIDTH..=MAX_WIDTH).contains(&n) {
        return Err(format!(
            "{n} columns: the ladder needs {MIN_WIDTH} to {MAX_WIDTH}"
        ));
    }
    Ok(n)
}

/// The width of the terminal on standard output, if it is one.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we pass.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

/// The ladder's width: `--width` if given; else the terminal's, between
/// [`MIN_WIDTH`] and [`DEFAULT_WIDTH`] (an 80-column terminal gets an
/// 80-column ladder); else [`DEFAULT_WIDTH`].
pub fn choose_width(asked: Option<usize>) -> usize {
    asked.unwrap_or_else(|| {
        terminal_width().map_or(DEFAULT_WIDTH, |w| w.clamp(MIN_WIDTH, DEFAULT_WIDTH))
    })
}

fn ansi(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn fit(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn vendor(mac: MacAddr) -> String {
    match mac.vendor() {
        Some(v) => format!("{mac} ({v})"),
        None => mac.to_string(),
    }
}

impl Ladder {
    /// A ladder between two hosts.
    pub fn new(left: Party, right: Party) -> Self {
        Ladder {
            parties: [left, right],
            entries: Vec::new(),
        }
    }

    fn side_of(&self, ip: Option<Ipv4Addr>, mac: MacAddr) -> Side {
        if ip == Some(self.parties[1].ip) || mac == self.parties[1].mac {
            Side::Right
        } else {
            Side::Left
        }
    }

    /// Adds a frame, working out its sender from the source MAC.
    pub fn frame(&mut self, t: Instant, frame: &[u8], lost: bool) {
        let src = strata::wire::ethernet::EthernetFrame::new_checked(frame)
            .map(|f| f.src())
            .unwrap_or_default();
        let from = self.side_of(None, src);
        self.entries.push(Entry::Frame {
            t,
            from,
            frame: frame.to_vec(),
            lost,
        });
    }

    /// Adds the TCP state changes among a host's `events` on `side`.
    pub fn tcp_states(&mut self, side: Side, events: &[(Instant, Event)]) {
        for (t, e) in events {
            if let Event::Tcp(TcpEvent::StateChanged { from, to, .. }) = e {
                self.entries.push(Entry::State {
                    t: *t,
                    side,
                    from: from.name().into(),
                    to: to.name().into(),
                });
            }
        }
    }

    /// The entries in drawing order, frames decoded.
    pub(crate) fn rows(&self) -> Vec<Row<'_>> {
        let mut order: Vec<&Entry> = self.entries.iter().collect();
        // Frames are drawn at their send time. At equal times a host's state
        // change or application action comes first: it is what made the
        // host send the frame stamped with the same instant. The lesson's
        // lines come last: they explain what was just drawn.
        order.sort_by_key(|e| {
            let rank = match e {
                Entry::State { .. } | Entry::Note { .. } => 0,
                Entry::Frame { .. } => 1,
                Entry::Lesson { .. } => 2,
            };
            (e.time(), rank)
        });
        let mut seq = SeqTracker::default();
        order
            .into_iter()
            .map(|entry| match entry {
                Entry::Frame { frame, .. } => {
                    let mut d = decode::decode(frame);
                    let retransmission = seq.observe(&mut d);
                    Row {
                        entry,
                        decoded: Some(d),
                        retransmission,
                    }
                }
                _ => Row {
                    entry,
                    decoded: None,
                    retransmission: false,
                },
            })
            .collect()
    }

    /// The frames in drawing order, as numbered by `strata demo --layers`
    /// (1 = the first).
    pub fn frames(&self) -> Vec<Vec<u8>> {
        self.rows()
            .into_iter()
            .filter_map(|r| match r.entry {
                Entry::Frame { frame, .. } => Some(frame.clone()),
                _ => None,
            })
            .collect()
    }

    /// Number of frames that repeat TCP sequence space (retransmissions).
    pub fn retransmissions(&self) -> usize {
        self.rows().iter().filter(|r| r.retransmission).count()
    }

    /// The diagram as terminal text in `columns` columns (at least
    /// [`MIN_WIDTH`]): labels that do not fit are cut with `…`, the layer
    /// lines under each frame wrap at their ` | ` separators. ANSI
    /// colours when `color`.
    pub fn render_text(&self, color: bool, columns: usize) -> String {
        let mid = columns.max(MIN_WIDTH) - TIME_COLS - 2;
        let mut out = String::new();
        let [l, r] = &self.parties;
        let pad = " ".repeat(TIME_COLS);
        // Each half of the heading gets half the rails' span; a name too
        // long for it (a vendor on a narrow ladder) is cut.
        let head = |a: String, b: String| {
            let w = mid / 2 + 1;
            let (a, b) = (fit(&a, w - 1), fit(&b, w));
            format!("{pad}{a:<w$}{b:>w$}\n")
        };
        out += &ansi(
            color,
            "1",
            &head(
                format!("{} {}", l.name, l.ip),
                format!("{} {}", r.name, r.ip),
            ),
        );
        out += &head(vendor(l.mac), vendor(r.mac));
        let rail = format!("{pad}│{}│\n", " ".repeat(mid));
        out += &rail;
        for row in self.rows() {
            let t = format!("{:>10}  ", row.entry.time().to_string());
            match row.entry {
                Entry::State { side, from, to, .. } => {
                    let text = format!("{from} → {to}");
                    let body = match side {
                        Side::Left => format!(" {text:<w$}", w = mid - 1),
                        Side::Right => format!("{text:>w$} ", w = mid - 1),
                    };
                    let _ = writeln!(out, "{t}│{}│", ansi(color, "33", &body));
                }
                Entry::Note { side, text, .. } => {
                    let text = fit(text, mid - 2);
                    let body = match side {
                        Some(Side::Left) => format!(" {text:<w$}", w = mid - 1),
                        Some(Side::Right) => format!("{text:>w$} ", w = mid - 1),
                        None => format!("{text:^w$}", w = mid),
                    };
                    let _ = writeln!(out, "{t}│{}│", ansi(color, "2;3", &body));
                }
                Entry::Lesson { text, .. } => {
                    for line in wrap(text, mid - 4) {
                        let pad_to = (mid - 3).saturating_sub(width(&line));
                        let body = format!("» {line}{}", " ".repeat(pad_to));
                        let _ = writeln!(out, "{pad}│ {}│", ansi(color, "34", &body));
                    }
                }
                Entry::Frame { from, lost, .. } => {
                    let d = row.decoded.as_ref().expect("frames are decoded");
                    let prefix = if row.retransmission {
                        "RETRANSMISSION "
                    } else {
                        ""
                    };
                    // Room between the arrow's ends, less the spaces around
                    // the label and the prefix.
                    // A lost frame's arrow also carries "✕ lost".
                    let span = if *lost { mid - 8 } else { mid - 6 };
                    let room = span.saturating_sub(2 + prefix.len());
                    let label = format!(" {prefix}{} ", d.headline_within(room));
                    let label = fit(&label, span);
                    let n = label.chars().count();
                    let (arrow, code) = match (from, lost) {
                        (Side::Left, false) => {
                            let left = (mid - 1 - n) / 2;
                            let right = mid - 1 - n - left;
                            (
                                format!("{}{label}{}▶", "─".repeat(left), "─".repeat(right)),
                                "36",
                            )
                        }
                        (Side::Right, false) => {
                            let left = (mid - 1 - n) / 2;
                            let right = mid - 1 - n - left;
                            (
                                format!("◀{}{label}{}", "─".repeat(left), "─".repeat(right)),
                                "32",
                            )
                        }
                        (Side::Left, true) => {
                            let half = mid / 2;
                            let body = format!("{label}✕ lost");
                            let rest = mid.saturating_sub(body.chars().count() + 1);
                            let _ = half;
                            (
                                format!(
                                    "{}{body}{}",
                                    "─".repeat(rest / 2),
                                    " ".repeat(rest - rest / 2 + 1)
                                ),
                                "31",
                            )
                        }
                        (Side::Right, true) => {
                            let body = format!("lost ✕{label}");
                            let rest = mid.saturating_sub(body.chars().count() + 1);
                            (
                                format!(
                                    "{}{body}{}",
                                    " ".repeat(rest - rest / 2 + 1),
                                    "─".repeat(rest / 2)
                                ),
                                "31",
                            )
                        }
                    };
                    let code = if row.retransmission { "1;31" } else { code };
                    let _ = writeln!(out, "{t}│{}│", ansi(color, code, &arrow));
                    for line in d.layer_lines(mid - 2) {
                        let detail = fit(&line, mid - 2);
                        let _ = writeln!(
                            out,
                            "{pad}│ {}│",
                            ansi(color, "2", &format!("{detail:<w$}", w = mid - 1))
                        );
                    }
                }
            }
        }
        out += &rail;
        out
    }

    /// The diagram as a standalone SVG document.
    pub fn render_svg(&self) -> String {
        const ROW: f64 = 34.0;
        const LEFT_X: f64 = 340.0;
        const RIGHT_X: f64 = 980.0;
        let rows = self.rows();
        let height = 130.0 + ROW * rows.len() as f64 + 40.0;
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="1260" height="{height}" viewBox="0 0 1260 {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="13">
<title>strata ladder diagram</title>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>
<rect width="100%" height="100%" fill="white"/>
"#
        );
        for (i, (p, x)) in self.parties.iter().zip([LEFT_X, RIGHT_X]).enumerate() {
            let _ = writeln!(
                s,
                r##"<g class="party" id="party-{i}"><text x="{x}" y="30" text-anchor="middle" font-weight="bold" font-size="16">{}</text><text x="{x}" y="50" text-anchor="middle">{}</text><text x="{x}" y="68" text-anchor="middle" fill="#555">{}</text><line x1="{x}" y1="80" x2="{x}" y2="{}" stroke="black" stroke-width="2"/></g>"##,
                xml(&p.name),
                p.ip,
                xml(&vendor(p.mac)),
                height - 20.0
            );
        }
        let mut y = 110.0;
        for row in &rows {
            let t = row.entry.time();
            let _ = writeln!(
                s,
                r##"<text x="12" y="{}" fill="#777">{}</text>"##,
                y + 4.0,
                t
            );
            match row.entry {
                Entry::State { side, from, to, .. } => {
                    let (x, anchor) = match side {
                        Side::Left => (LEFT_X - 10.0, "end"),
                        Side::Right => (RIGHT_X + 10.0, "start"),
                    };
                    let _ = writeln!(
                        s,
                        r##"<text class="state" x="{x}" y="{}" text-anchor="{anchor}" fill="#b8860b" font-weight="bold">{} → {}</text>"##,
                        y + 4.0,
                        xml(from),
                        xml(to)
                    );
                }
                Entry::Note { side, text, .. } => {
                    let (x, anchor) = match side {
                        Some(Side::Left) => (LEFT_X - 10.0, "end"),
                        Some(Side::Right) => (RIGHT_X + 10.0, "start"),
                        None => ((LEFT_X + RIGHT_X) / 2.0, "middle"),
                    };
                    let _ = writeln!(
                        s,
                        r##"<text class="note" x="{x}" y="{}" text-anchor="{anchor}" fill="#666" font-style="italic">{}</text>"##,
                        y + 4.0,
                        xml(text)
                    );
                }
                Entry::Lesson { text, .. } => {
                    let _ = writeln!(
                        s,
                        r##"<text class="lesson" x="{}" y="{}" text-anchor="middle" fill="#1f4e9a">» {}</text>"##,
                        (LEFT_X + RIGHT_X) / 2.0,
                        y + 4.0,
                        xml(text)
                    );
                }
                Entry::Frame { from, lost, .. } => {
                    let d = row.decoded.as_ref().expect("frames are decoded");
                    let (x1, x2) = match from {
                        Side::Left => (LEFT_X, RIGHT_X),
                        Side::Right => (RIGHT_X, LEFT_X),
                    };
                    let color = if row.retransmission || *lost {
                        "#c0392b"
                    } else if *from == Side::Left {
                        "#1f77b4"
                    } else {
                        "#2e8b57"
                    };
                    let (x2, y2) = if *lost {
                        ((x1 + x2) / 2.0, y + ROW * 0.4)
                    } else {
                        (x2, y + ROW * 0.8)
                    };
                    let dash = if *lost {
                        r#" stroke-dasharray="6 4""#
                    } else {
                        ""
                    };
                    let mut label = d.headline();
                    if row.retransmission {
                        label = format!("RETRANSMISSION {label}");
                    }
                    if *lost {
                        label = format!("{label} ✕ lost");
                    }
                    let _ = writeln!(
                        s,
                        r#"<g class="frame"><line x1="{x1}" y1="{y}" x2="{x2}" y2="{y2}" stroke="{color}" stroke-width="1.6" marker-end="url(#arrow)"{dash}/><text x="{}" y="{}" text-anchor="middle" fill="{color}">{}</text></g>"#,
                        (LEFT_X + RIGHT_X) / 2.0,
                        y + 2.0,
                        xml(&fit(&label, 78))
                    );
                }
            }
            y += ROW;
        }
        s.push_str("</svg>\n");
        s
    }
}

/// Columns a string takes on a terminal: East Asian wide characters (the
/// Chinese narration) take two.
pub fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115f
            | 0x2e80..=0x303e
            | 0x3041..=0x33ff
            | 0x3400..=0x4dbf
            | 0x4e00..=0x9fff
            | 0xa000..=0xa4cf
            | 0xac00..=0xd7a3
            | 0xf900..=0xfaff
            | 0xfe30..=0xfe4f
            | 0xff00..=0xff60
            | 0xffe0..=0xffe6 => 2,
            _ => 1,
        })
        .sum()
}

/// Breaks `text` into lines of at most `max` columns: at spaces, or between
/// any two wide characters (Chinese has no spaces between words).
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut w = 0;
    // Tokens: a word with its trailing space, or one wide character.
    let mut tokens: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if width(c.encode_utf8(&mut [0; 4])) == 2 {
            if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
            tokens.push(c.to_string());
        } else {
            cur.push(c);
            if c == ' ' {
                tokens.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    for tok in tokens {
        let tw = width(tok.trim_end());
        if w > 0 && w + tw > max {
            lines.push(line.trim_end().to_string());
            line.clear();
            w = 0;
        }
        line.push_str(&tok);
        w += width(&tok);
    }
    if !line.trim().is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// Escapes text for XML.
pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
