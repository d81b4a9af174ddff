//! `strata explain <concept>`: the lesson's ideas, each shown on a tiny
//! run of the demo — `tcp-states`, `handshake`, `arp`, `ports`.
//!
//! The numbers printed (sequence numbers, times, ports, the transitions
//! taken) come from that run, not from a script.

use std::fmt::Write as _;

use strata::time::Instant;
use strata::wire::port::{self, PortRange};

use crate::demo::{self, Closer, Plan, Scenario};
use crate::ladder::{Entry, Ladder, Side};
use crate::lesson::dur;

/// Text styling shared with the value explanations.
#[derive(Clone, Copy)]
pub struct Paint {
    /// ANSI colours.
    pub color: bool,
}

impl Paint {
    fn bold(self, s: &str) -> String {
        self.code("1", s)
    }
    fn hi(self, s: &str) -> String {
        self.code("1;32", s)
    }
    fn dim(self, s: &str) -> String {
        self.code("2", s)
    }
    fn code(self, c: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{c}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// The explanation of `concept`, or `None` when it is not one.
pub fn explain(concept: &str, paint: Paint) -> Option<Result<String, String>> {
    let f = match concept {
        "tcp-states" | "states" => tcp_states,
        "handshake" => handshake,
        "arp" => arp,
        "ports" => ports,
        _ => return None,
    };
    Some(f(paint).map_err(|e| format!("the tiny run failed: {e:#}")))
}

/// Every transition of RFC 9293's state diagram (Figure 5), with what
/// causes it.
const TRANSITIONS: [(&str, &str, &str); 17] = [
    ("CLOSED", "LISTEN", "passive open (a server listens)"),
    ("CLOSED", "SYN-SENT", "active open: send SYN"),
    ("LISTEN", "SYN-RECEIVED", "receive SYN: send SYN/ACK"),
    ("LISTEN", "SYN-SENT", "send: send SYN"),
    (
        "SYN-SENT",
        "SYN-RECEIVED",
        "receive SYN (simultaneous open): send ACK",
    ),
    ("SYN-SENT", "ESTABLISHED", "receive SYN/ACK: send ACK"),
    ("SYN-SENT", "CLOSED", "close, or the SYN retries run out"),
    ("SYN-RECEIVED", "ESTABLISHED", "receive ACK of our SYN"),
    ("SYN-RECEIVED", "FIN-WAIT-1", "close: send FIN"),
    (
        "ESTABLISHED",
        "FIN-WAIT-1",
        "close: send FIN (active close)",
    ),
    (
        "ESTABLISHED",
        "CLOSE-WAIT",
        "receive FIN: send ACK (passive close)",
    ),
    ("FIN-WAIT-1", "FIN-WAIT-2", "receive ACK of our FIN"),
    (
        "FIN-WAIT-1",
        "CLOSING",
        "receive FIN: send ACK (simultaneous close)",
    ),
    ("FIN-WAIT-2", "TIME-WAIT", "receive FIN: send ACK"),
    ("CLOSING", "TIME-WAIT", "receive ACK of our FIN"),
    ("CLOSE-WAIT", "LAST-ACK", "close: send FIN"),
    ("LAST-ACK", "CLOSED", "receive ACK of our FIN"),
];

const DIAGRAM: &str = r"
                         ┌────────┐
           ┌────────────▶│ CLOSED │─────────────────────┐
           │             └────────┘                     │ active open
           │    passive open │                          │ send SYN
           │                 ▼                          ▼
           │            ┌────────┐    send SYN    ┌──────────┐
           │            │ LISTEN │───────────────▶│ SYN-SENT │
           │            └────────┘                └──────────┘
           │     rcv SYN     │                          │ rcv SYN/ACK
           │ send SYN/ACK    ▼                          ▼ send ACK
           │       ┌──────────────┐    rcv ACK    ┌─────────────┐
           │       │ SYN-RECEIVED │──────────────▶│ ESTABLISHED │
           │       └──────────────┘               └─────────────┘
           │      close, send FIN │  close, send FIN │      │ rcv FIN, send ACK
           │         ┌────────────┴──────────────────┘      ▼
           │         ▼                              ┌────────────┐
           │   ┌────────────┐  rcv FIN, send ACK    │ CLOSE-WAIT │
           │   │ FIN-WAIT-1 │────────────┐          └────────────┘
           │   └────────────┘            ▼                │ close, send FIN
           │         │ rcv ACK      ┌─────────┐           ▼
           │         ▼              │ CLOSING │     ┌──────────┐
           │   ┌────────────┐       └─────────┘     │ LAST-ACK │
           │   │ FIN-WAIT-2 │            │ rcv ACK  └──────────┘
           │   └────────────┘            ▼                │ rcv ACK
           │         │ rcv FIN    ┌───────────┐           │
           │         └───────────▶│ TIME-WAIT │           │
           │          send ACK    └───────────┘           │
           │                            │ 2×MSL           │
           └────────────────────────────┴─────────────────┘
";

/// The state changes of a run: (time, side, from, to).
fn transitions(ladder: &Ladder) -> Vec<(Instant, Side, String, String)> {
    let mut v: Vec<_> = ladder
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::State {
                t, side, from, to, ..
            } => Some((*t, *side, from.clone(), to.clone())),
            _ => None,
        })
        .collect();
    v.sort_by_key(|x| x.0);
    v
}

fn tcp_states(p: Paint) -> anyhow::Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "{}", p.bold("TCP states — RFC 9293 §3.3.2, Figure 5"));
    let server_first = demo::run_plan(&Plan::new(Scenario::Http, 1, 0.0))?;
    let both = demo::run_plan(&Plan {
        closer: Some(Closer::Both),
        ..Plan::new(Scenario::Http, 1, 0.0)
    })?;
    let runs = [transitions(&server_first.ladder), transitions(&both.ladder)];
    // On a terminal the states the runs passed through light up.
    let mut diagram = DIAGRAM.to_string();
    if p.color {
        let mut visited: Vec<&str> = runs
            .iter()
            .flatten()
            .map(|(_, _, _, to)| to.split(' ').next().unwrap_or(to))
            .collect();
        visited.sort_by_key(|s| std::cmp::Reverse(s.len()));
        visited.dedup();
        for s in visited {
            diagram = diagram.replace(&format!(" {s} "), &format!(" {} ", p.hi(s)));
        }
    }
    out.push_str(&diagram);
    let _ = writeln!(
        out,
        "\nA tiny run: `strata demo` twice — the server closes first (http), then both close at once (--closer both)."
    );
    let _ = writeln!(
        out,
        "Every transition of the diagram; {} marks the ones these runs took (C client, S server):\n",
        p.hi("●")
    );
    for (from, to, why) in TRANSITIONS {
        let mut who = String::with_capacity(2);
        let mut first: Option<Instant> = None;
        for run in &runs {
            for (t, side, f, tt) in run {
                // The listener's row reads "LISTEN :80".
                let tt = tt.split(' ').next().unwrap_or(tt);
                if f == from && tt == to {
                    let c = if *side == Side::Left { 'C' } else { 'S' };
                    if !who.contains(c) {
                        who.push(c);
                    }
                    first = Some(first.map_or(*t, |x: Instant| x.min(*t)));
                }
            }
        }
        let edge = format!("{from:>12} → {to:<12}");
        // Client first, then server.
        let who: String = ['C', 'S'].iter().filter(|c| who.contains(**c)).collect();
        if who.is_empty() {
            let _ = writeln!(out, "       {}  {}", edge, p.dim(why));
        } else {
            let at = first
                .map(|t| format!(" (first at {t})"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {} {:<2} {}  {why}{at}", p.hi("●"), who, p.hi(&edge));
        }
    }
    let _ = writeln!(
        out,
        "\nSee them happen: strata demo --narrate (and --closer client|server|both)."
    );
    Ok(out)
}

fn handshake(p: Paint) -> anyhow::Result<String> {
    let run = demo::run_plan(&Plan::new(Scenario::Http, 1, 0.0))?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}\n",
        p.bold("The three-way handshake — RFC 9293 §3.5")
    );
    let _ = writeln!(
        out,
        "Each side numbers its bytes from a random initial sequence number (ISN) and must\n\
         see that number acknowledged. Two SYNs and two ACKs are needed; the server's SYN\n\
         and its ACK travel in one segment, so three segments suffice — and after them\n\
         both sides know the path works in both directions.\n"
    );
    let _ = writeln!(out, "A tiny run (`strata demo`, seed 1):\n");
    let rows = run.ladder.rows();
    let mut syn_at = None;
    let mut step = 0;
    for r in &rows {
        let (Entry::Frame { t, from, .. }, Some(d)) = (r.entry, r.decoded.as_ref()) else {
            continue;
        };
        let Some(tcp) = d.tcp.as_ref() else { continue };
        let f = tcp.flags;
        let (n, what) = if f.syn() && !f.ack() {
            syn_at = Some(*t);
            (1, "SYN      \"my bytes start after ISN x\"")
        } else if f.syn() {
            (2, "SYN/ACK  \"got x; mine start after ISN y\"")
        } else if step == 2 && f.ack() {
            (3, "ACK      \"got y\"")
        } else {
            continue;
        };
        step = n;
        let who = if *from == Side::Left {
            "client → server"
        } else {
            "server → client"
        };
        let ack = if f.ack() {
            format!(" ack={}", tcp.ack)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {n}/3  {t}  {who}  {}  seq={}{ack}",
            p.hi(what),
            tcp.seq
        );
        if n == 3 {
            if let Some(s) = syn_at {
                let _ = writeln!(
                    out,
                    "\n  One round trip from the SYN to the third segment: {}.",
                    dur(*t - s)
                );
            }
            let _ = writeln!(
                out,
                "  The ACK of step 3 rides on the first data (the GET): {} bytes.",
                tcp.len
            );
            break;
        }
    }
    let _ = writeln!(
        out,
        "\nSee it narrated: strata demo --narrate; lose a SYN: strata demo --scenario flood."
    );
    Ok(out)
}

fn arp(p: Paint) -> anyhow::Result<String> {
    let run = demo::run_plan(&Plan::new(Scenario::Http, 1, 0.0))?;
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", p.bold("ARP — RFC 826"));
    let _ = writeln!(
        out,
        "IP addresses name hosts across networks; Ethernet delivers frames by MAC address,\n\
         and a MAC address means something only on the local link. Before its first frame\n\
         to a neighbour, a host asks the whole link (broadcast ff:ff:ff:ff:ff:ff) who has\n\
         that IP; the owner answers to the asker alone, and the answer is cached.\n"
    );
    let _ = writeln!(out, "A tiny run (`strata demo`, seed 1):\n");
    let mut asked = None;
    for r in run.ladder.rows() {
        let (Entry::Frame { t, frame, .. }, Some(d)) = (r.entry, r.decoded.as_ref()) else {
            continue;
        };
        if !d.label.starts_with("ARP") {
            continue;
        }
        let dst = strata::wire::ethernet::EthernetFrame::new_checked(frame.as_slice())
            .map(|e| e.dst().to_string())
            .unwrap_or_default();
        let _ = writeln!(out, "  {t}  {}  (to {dst})", p.hi(&d.label));
        if d.label.contains("who-has") && !d.label.contains("announce") {
            asked = Some(*t);
        } else if let (Some(a), false) = (asked, d.label.contains("announce")) {
            let _ = writeln!(out, "\n  Answered in {}.", dur(*t - a));
            break;
        }
    }
    let _ = writeln!(
        out,
        "  The first two frames are gratuitous ARP: each host announces its own address\n  \
         as it comes up. Try: strata explain b8:27:eb:5e:12:a4 (whose card answered)."
    );
    Ok(out)
}

fn ports(p: Paint) -> anyhow::Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", p.bold("Ports — RFC 6335 §6"));
    let _ = writeln!(
        out,
        "A port is a 16-bit number that picks one application on a host; the four numbers\n\
         (client address, client port, server address, server port) name a connection.\n"
    );
    for r in [
        PortRange::WellKnown,
        PortRange::Registered,
        PortRange::Dynamic,
    ] {
        let (lo, hi) = r.bounds();
        let _ = writeln!(
            out,
            "  {:<12} {lo:>5}–{hi:<5}  {}",
            r.name(),
            r.description()
        );
    }
    let _ = writeln!(out, "\nThe lesson's examples:\n");
    for n in [80u16, 443, 3306, 5000, 6379, 8000] {
        let svc = port::service(n)
            .map(|s| format!("{} — {}", s.name, s.description))
            .unwrap_or_default();
        let _ = writeln!(out, "  {:>5}  {:<11} {svc}", n, PortRange::of(n).name());
    }
    let _ = writeln!(
        out,
        "\nA tiny run: three `strata demo` runs (seeds 1, 2, 3). The server always listens\n\
         on well-known port 80; the client's ephemeral port is picked anew each time:\n"
    );
    for seed in 1..=3u64 {
        let run = demo::run_plan(&Plan::new(Scenario::Http, seed, 0.0))?;
        let syn = run.ladder.frames().into_iter().find_map(|f| {
            let t = crate::decode::decode(&f).tcp?;
            (t.syn && !t.flags.ack()).then_some(t)
        });
        if let Some(t) = syn {
            let _ = writeln!(
                out,
                "  seed {seed}: {}:{} → {}:{}   ({} → {})",
                t.src_ip,
                p.hi(&t.src_port.to_string()),
                t.dst_ip,
                t.dst_port,
                PortRange::of(t.src_port).name(),
                PortRange::of(t.dst_port).name()
            );
        }
    }
    let _ = writeln!(out, "\nOne port in detail: strata explain 6379.");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Paint = Paint { color: false };

    fn text(c: &str) -> String {
        explain(c, PLAIN).expect("a concept").expect("runs")
    }

    #[test]
    fn tcp_states_marks_what_the_runs_took() {
        let t = text("tcp-states");
        let line = |edge: &str| {
            t.lines()
                .find(|l| l.contains(edge))
                .unwrap_or_else(|| panic!("{edge} missing:\n{t}"))
                .to_string()
        };
        assert!(line("SYN-SENT → ESTABLISHED").starts_with("  ● C "), "{t}");
        assert!(line("LISTEN → SYN-RECEIVED").starts_with("  ● S "), "{t}");
        assert!(line("FIN-WAIT-1 → CLOSING").starts_with("  ● CS"), "{t}");
        // Never taken by these runs.
        assert!(line("LISTEN → SYN-SENT").starts_with("      "), "{t}");
        assert!(line("SYN-SENT → SYN-RECEIVED").starts_with("      "), "{t}");
    }

    #[test]
    fn handshake_arp_and_ports_show_the_run() {
        let h = text("handshake");
        for step in ["1/3", "2/3", "3/3", "One round trip"] {
            assert!(h.contains(step), "{step}:\n{h}");
        }
        let a = text("arp");
        assert!(
            a.contains("ARP who-has 192.168.1.20? tell 192.168.1.10  (to ff:ff:ff:ff:ff:ff)"),
            "{a}"
        );
        assert!(a.contains("Answered in"), "{a}");
        let p = text("ports");
        for want in [
            "3306  registered",
            "6379  registered",
            "8000  registered",
            "5000  registered",
            "Redis",
            "MySQL",
            "seed 3:",
        ] {
            assert!(p.contains(want), "{want}:\n{p}");
        }
        assert!(explain("nonsense", PLAIN).is_none());
    }
}
