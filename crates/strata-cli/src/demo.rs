//! `strata demo`: the lesson in one command.
//!
//! Two hosts — a client (a laptop with an Intel NIC) and a server (a
//! Raspberry Pi) — on a simulated switched LAN. The client resolves the
//! server's MAC with ARP, opens TCP to port 80 from an ephemeral port, sends
//! an HTTP GET, receives the page, and both sides close with the four-way
//! close; TIME_WAIT expires in virtual time. Everything printed comes from
//! the real run of the stack: the ladder diagram, the summary and the pcap.
//!
//! Other scenarios tell the rest of the lesson: who closes first
//! (`--closer`), a half-close, a peer presumed dead, a SYN flood.
//! `--narrate` puts a line of explanation beside each phase
//! ([`crate::lesson`]); `--layers N` lays frame N open ([`crate::layers`]).

use std::cell::RefCell;
use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use strata::stack::{Event, Stack, StackConfig};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{State as TcpState, TcpConfig, TcpEvent, TcpHandle};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::MacAddr;
use strata_sim::host::Host;
use strata_sim::traffic::ScriptedHost;
use strata_sim::{LinkConfig, LinkId, NodeId, PcapWriter, Sim, Switch};

use crate::ladder::{Entry, Ladder, Party, Side};
use crate::lesson::{Facts, Lang};

/// What the demo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// A browser fetches a web page (B/S): ARP, handshake, GET, 200, close.
    Http,
    /// A client sends lines to a TCP echo server (C/S) and reads them back.
    Echo,
    /// UDP datagrams to an echo server: no handshake, no retransmission.
    Udp,
    /// ICMP echo (ping) round trips.
    Ping,
    /// Routers, TTL and ICMP time exceeded: the path hop by hop (as `strata sim traceroute`).
    Traceroute,
    /// Three switches in a loop and one broadcast: a storm (as `strata sim storm`).
    Storm,
    /// The server's cable is cut mid-conversation: retransmissions with
    /// growing gaps, then the connection times out.
    DeadPeer,
    /// Attackers send SYNs from forged addresses while a client connects:
    /// half-open entries fill the server's SYN queue.
    Flood,
    /// The client sends its lines and shuts down its sending side; the
    /// server sorts them and answers after the client's FIN.
    HalfClose,
}

impl Scenario {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Http => "http",
            Scenario::Echo => "echo",
            Scenario::Udp => "udp",
            Scenario::Ping => "ping",
            Scenario::Traceroute => "traceroute",
            Scenario::Storm => "storm",
            Scenario::DeadPeer => "dead-peer",
            Scenario::Flood => "flood",
            Scenario::HalfClose => "half-close",
        }
    }
}

/// Who sends the first FIN (http and echo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Closer {
    /// The client closes first once it has the whole answer.
    Client,
    /// The server closes first after answering.
    Server,
    /// Both close at the same instant: a simultaneous close (CLOSING).
    Both,
}

/// `strata demo` arguments.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  strata demo                          # ARP → handshake → HTTP GET → 200 → four-way close
  strata demo --narrate                # the same, with a line of explanation beside each phase
  strata demo --narrate --lang zh      # 中文讲解
  strata demo --loss 20% --seed 7      # the same over a lossy wire: watch retransmissions
  strata demo --closer client          # the client sends the first FIN (--closer both: CLOSING)
  strata demo --scenario dead-peer     # the server's cable is cut: backoff, then timeout
  strata demo --scenario flood         # spoofed SYNs fill the server's SYN queue
  strata demo --scenario half-close    # shutdown(): the answer still comes after the FIN
  strata demo --layers 7               # frame 7 laid open: each header, its fields, its bytes
  strata demo --scenario echo --svg ladder.svg
  strata demo --scenario ping --no-color | less")]
pub struct DemoArgs {
    /// Which exchange to run.
    #[arg(long, value_enum, default_value = "http")]
    pub scenario: Scenario,
    /// Who sends the first FIN (http and echo; default: the server for
    /// http, the client for echo).
    #[arg(long, value_enum)]
    pub closer: Option<Closer>,
    /// Probability that the wire drops a frame, e.g. 0.2 or 20%.
    #[arg(long, default_value = "0", allow_hyphen_values = true, value_parser = crate::units::parse_probability)]
    pub loss: f64,
    /// Seed of the simulation (same seed, same bytes).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = crate::units::parse_seed)]
    pub seed: u64,
    /// Where to write the capture (open it in Wireshark).
    #[arg(long, default_value = "strata-demo.pcap")]
    pub pcap: PathBuf,
    /// Also draw the ladder diagram as SVG into this file.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Put a line beside each phase saying what it is for, with this run's numbers.
    #[arg(long)]
    pub narrate: bool,
    /// Language of the narration.
    #[arg(long, value_enum, default_value = "en")]
    pub lang: Lang,
    /// Lay frame N of the ladder (1 = the first frame) open as nested
    /// boxes: each layer's header, fields and bytes, and the overhead.
    #[arg(long, value_name = "N")]
    pub layers: Option<usize>,
    /// Plain text even on a terminal.
    #[arg(long)]
    pub no_color: bool,
    /// Colours even when the output is not a terminal.
    #[arg(long, conflicts_with = "no_color")]
    pub color: bool,
    /// Columns of the ladder (60–400) [default: the terminal's width up to
    /// 98; 98 when not a terminal].
    #[arg(long, value_name = "COLUMNS", value_parser = crate::ladder::parse_width)]
    pub width: Option<usize>,
}

/// The client: a laptop with an Intel NIC.
pub const CLIENT_MAC: MacAddr = MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5e]);
/// The server: a Raspberry Pi.
pub const SERVER_MAC: MacAddr = MacAddr([0xb8, 0x27, 0xeb, 0x5e, 0x12, 0xa4]);
/// Client address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
/// Server address.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 20);
/// The LAN's router (flood: where the server's answers to forged,
/// off-link addresses go).
pub const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
/// The router's MAC.
pub const GATEWAY_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);

/// flood: attacker hosts.
const ATTACKERS: u8 = 3;
/// flood: spoofed SYNs each attacker sends.
const SYNS_PER_ATTACKER: u8 = 3;
/// flood: the server's SYN queue (half-open connections per listener).
const FLOOD_BACKLOG: usize = 6;
/// flood: the client's SYN retries before it gives up.
const FLOOD_SYN_RETRIES: u32 = 2;
/// dead-peer: the client's retransmissions of a segment before giving up
/// (R2 of RFC 1122 §4.2.3.5).
const DEAD_PEER_RETRIES: u32 = 5;

const PAGE: &str = "<!doctype html>\n<html><head><title>strata</title></head>\n<body><h1>Hello from strata</h1>\n<p>This page crossed every layer: HTTP in TCP in IPv4 in Ethernet.</p></body></html>\n";

/// Which run to make.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The scenario.
    pub scenario: Scenario,
    /// Seed of the simulation.
    pub seed: u64,
    /// Loss probability on every cable.
    pub loss: f64,
    /// Who closes first (http, echo); `None` for the scenario's default.
    pub closer: Option<Closer>,
}

impl Plan {
    /// A plan with the scenario's defaults.
    pub fn new(scenario: Scenario, seed: u64, loss: f64) -> Self {
        Plan {
            scenario,
            seed,
            loss,
            closer: None,
        }
    }

    /// Who closes first in this run.
    pub fn closer(&self) -> Closer {
        match (self.closer, self.scenario) {
            (Some(c), _) => c,
            (None, Scenario::Http) => Closer::Server,
            (None, _) => Closer::Client,
        }
    }
}

/// Everything a run produced.
pub struct Outcome {
    /// The diagram.
    pub ladder: Ladder,
    /// The pcap bytes.
    pub pcap: Vec<u8>,
    /// Lines of the summary.
    pub summary: Vec<String>,
    /// What the narration needs beyond the ladder.
    pub facts: Facts,
}

impl Outcome {
    /// Adds the lesson's lines to the ladder.
    pub fn narrate(&mut self, lang: Lang) {
        let lines = crate::lesson::narrate(&self.ladder, &self.facts, lang);
        self.ladder.entries.extend(lines);
    }
}

struct Lan {
    sim: Sim,
    client: NodeId,
    server: NodeId,
    /// The attackers' hosts (flood).
    attackers: Vec<NodeId>,
    /// client→switch, switch→client, server→switch, switch→server
    links: [LinkId; 4],
    /// Every host→switch link.
    ups: Vec<LinkId>,
    /// Every switch→host link.
    downs: Vec<LinkId>,
}

/// One-way latency of each cable.
const LATENCY: Duration = Duration::from_micros(50);
/// Bit rate of each cable: Fast Ethernet.
const RATE: u64 = 100_000_000;

/// Time from the client's (last) SYN leaving to the SYN/ACK arriving, i.e.
/// to the client entering ESTABLISHED — one round trip (Karn: the SYN that
/// was answered is the last one sent).
fn handshake_rtt(ladder: &Ladder) -> Option<Duration> {
    let established = ladder.entries.iter().find_map(|e| match e {
        Entry::State {
            t,
            side: Side::Left,
            to,
            ..
        } if to == "ESTABLISHED" => Some(*t),
        _ => None,
    })?;
    let syn = ladder
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Frame {
                t,
                frame,
                from: Side::Left,
                ..
            } if *t <= established => {
                let tcp = crate::decode::decode(frame).tcp?;
                (tcp.flags.syn() && !tcp.flags.ack()).then_some(*t)
            }
            _ => None,
        })
        .max()?;
    Some(established - syn)
}

/// The TCP settings of each host in a scenario: the lesson's points need
/// a small SYN queue (flood), few retries (dead-peer, flood).
fn tcp_configs(scenario: Scenario) -> (TcpConfig, TcpConfig) {
    let mut client = TcpConfig::default();
    let mut server = TcpConfig::default();
    match scenario {
        Scenario::DeadPeer => {
            client.max_retries = DEAD_PEER_RETRIES;
            // The lesson is the backoff and the final timeout (R2). Negative
            // advice at R1 (RFC 9293 §3.8.3) would re-probe the cut cable
            // with ARP; the failed probe would hold the last retries off the
            // wire and end the story as "host unreachable".
            client.r1_retries = DEAD_PEER_RETRIES + 1;
        }
        Scenario::Flood => {
            server.syn_backlog = FLOOD_BACKLOG;
            // The lesson shows the attack on a server without defences:
            // no SYN cookies, no recycling of the oldest half-open entry
            // (`strata sim synflood` shows both at work).
            server.syn_cookies = false;
            server.syn_queue_recycle = false;
            client.syn_retries = FLOOD_SYN_RETRIES;
        }
        _ => {}
    }
    (client, server)
}

fn lan(plan: &Plan) -> Result<Lan> {
    let seed = plan.seed;
    let mut sim = Sim::new(seed);
    let link = LinkConfig::default()
        .with_latency(LATENCY)
        .with_bandwidth(RATE)
        .with_loss(plan.loss);
    let (client_tcp, server_tcp) = tcp_configs(plan.scenario);
    let mut host = |name: &str, mac: MacAddr, ip: Ipv4Addr, salt: u64, tcp: TcpConfig| {
        let config = StackConfig {
            seed: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt,
            tcp,
            ..StackConfig::default()
        };
        let mut h = Host::new(name, config);
        h.add_interface(mac, 1500, Ipv4Cidr::new(ip, 24).expect("/24"));
        if plan.scenario == Scenario::Flood {
            let _ = h.stack_mut().set_default_gateway(GATEWAY_IP);
        }
        sim.add_node(Box::new(h))
    };
    let client = host("client", CLIENT_MAC, CLIENT_IP, 1, client_tcp);
    let server = host("server", SERVER_MAC, SERVER_IP, 2, server_tcp);
    let flood = plan.scenario == Scenario::Flood;
    let ports = if flood { 3 + usize::from(ATTACKERS) } else { 2 };
    let switch = sim.add_node(Box::new(Switch::named("switch", ports)));
    let (c_up, c_down) = sim.connect((client, 0), (switch, 0), link.clone())?;
    let (s_up, s_down) = sim.connect((server, 0), (switch, 1), link.clone())?;
    let mut ups = vec![c_up, s_up];
    let mut downs = vec![c_down, s_down];
    let mut attackers = Vec::new();
    if flood {
        // The router to the Internet: it answers ARP for its address and
        // takes whatever the server sends to the forged addresses.
        let gw = ScriptedHost::new("router", GATEWAY_MAC).with_arp_responder(GATEWAY_IP);
        let gw = sim.add_node(Box::new(gw));
        let (g_up, g_down) = sim.connect((gw, 0), (switch, 2), link.clone())?;
        ups.push(g_up);
        downs.push(g_down);
        for a in 0..ATTACKERS {
            let mac = MacAddr([0x02, 0xba, 0xd0, 0x00, 0x00, a + 1]);
            let mut h = ScriptedHost::new(format!("attacker{}", a + 1), mac);
            for k in 0..SYNS_PER_ATTACKER {
                // Forged sources from TEST-NET-3 (RFC 5737): addresses no
                // host here owns, reached through the router.
                let n = 1 + a * SYNS_PER_ATTACKER + k;
                let from = Ipv4Addr::new(203, 0, 113, 10 * n);
                let at = Instant::from_micros(200 + 40 * u64::from(a) + 150 * u64::from(k));
                let sport = 40_000 + u16::from(n) * 7;
                h.schedule(
                    at,
                    0,
                    spoofed_syn(mac, from, sport, u32::from(n) * 0x0101_0101),
                );
            }
            let id = sim.add_node(Box::new(h));
            let (a_up, a_down) =
                sim.connect((id, 0), (switch, 3 + usize::from(a)), link.clone())?;
            ups.push(a_up);
            downs.push(a_down);
            attackers.push(id);
        }
    }
    for &l in ups.iter().chain(&downs) {
        sim.log_offers(l);
    }
    Ok(Lan {
        sim,
        client,
        server,
        attackers,
        links: [c_up, c_down, s_up, s_down],
        ups,
        downs,
    })
}

/// A TCP SYN to the server's port 80 from a forged address, as an attacker
/// puts it on the wire (Ethernet, IPv4, TCP, padded to 60 bytes).
fn spoofed_syn(mac: MacAddr, from: Ipv4Addr, sport: u16, isn: u32) -> Vec<u8> {
    // A SYN always fits a frame: to_frame cannot fail here.
    strata::wire::tcp::TcpRepr::syn(sport, 80, isn)
        .to_frame(mac, SERVER_MAC, from, SERVER_IP)
        .unwrap_or_default()
}

fn parties() -> (Party, Party) {
    (
        Party {
            name: "client".into(),
            ip: CLIENT_IP,
            mac: CLIENT_MAC,
        },
        Party {
            name: "server".into(),
            ip: SERVER_IP,
            mac: SERVER_MAC,
        },
    )
}

/// Runs one scenario with its defaults and returns its ladder, pcap and
/// summary.
#[cfg(test)]
pub fn run(scenario: Scenario, seed: u64, loss: f64) -> Result<Outcome> {
    run_plan(&Plan::new(scenario, seed, loss))
}

/// Runs one plan and returns its ladder, pcap and summary.
pub fn run_plan(plan: &Plan) -> Result<Outcome> {
    let scenario = plan.scenario;
    let Lan {
        mut sim,
        client,
        server,
        attackers,
        links,
        ups,
        downs,
    } = lan(plan)?;
    let [c_up, c_down, s_up, s_down] = links;
    // What a capture on the client's NIC sees: every frame it sends (at send
    // time, even if the wire loses it later) and every frame delivered to it.
    // The flood is watched from the server's NIC, where it happens.
    let (nic_up, nic_down) = if scenario == Scenario::Flood {
        (s_up, s_down)
    } else {
        (c_up, c_down)
    };
    let inbound = sim.tap_memory(nic_down)?;
    let (l, r) = parties();
    let mut ladder = Ladder::new(l, r);
    let mut summary = Vec::new();
    let defaults = TcpConfig::default();
    let mut facts = Facts {
        msl: defaults.msl,
        rto_max: defaults.rto_max,
        ..Facts::default()
    };
    match scenario {
        Scenario::Http
        | Scenario::Echo
        | Scenario::HalfClose
        | Scenario::DeadPeer
        | Scenario::Flood => tcp_exchange(
            &mut sim,
            [client, server],
            [s_up, s_down],
            plan,
            &mut ladder,
            &mut summary,
            &mut facts,
        )?,
        Scenario::Udp => udp_exchange(&mut sim, client, server, &mut summary)?,
        Scenario::Ping => ping_exchange(&mut sim, client, &mut summary)?,
        Scenario::Traceroute | Scenario::Storm => {
            bail!("the {scenario:?} scenario has more than two nodes: run it with `strata sim`")
        }
    }
    let _ = attackers;
    sim.flush_taps()?;
    let delivered = strata_sim::pcap::parse(sim.tap_bytes(inbound).context("memory tap")?)
        .context("reading our own pcap")?;
    let log = sim.offer_log();
    // The ladder: each host's frames at their send time; lost when either
    // hop (host→switch, switch→host) dropped them. The switch forwards the
    // same bytes: a frame's second hop is the first unmatched copy on a
    // switch→host link, sent no earlier.
    let mut second_hop: Vec<&strata_sim::Offered> =
        log.iter().filter(|o| downs.contains(&o.link)).collect();
    // Host by host, so that frames sent at the same instant keep that
    // order on the ladder.
    for o in ups
        .iter()
        .flat_map(|&up| log.iter().filter(move |o| o.link == up))
    {
        let lost = o.dropped.is_some() || {
            match second_hop
                .iter()
                .position(|h| h.frame == o.frame && h.at >= o.at)
            {
                Some(i) => second_hop.remove(i).dropped.is_some(),
                None => true,
            }
        };
        ladder.frame(o.at, &o.frame, lost);
    }
    // Arrivals first at equal times: a host answers at the instant a frame
    // arrives, and the stable sort keeps cause before effect.
    let mut pcap_frames: Vec<(Instant, &[u8])> = delivered
        .iter()
        .map(|r| (r.ts, r.data.as_slice()))
        .chain(
            log.iter()
                .filter(|o| o.link == nic_up)
                .map(|o| (o.at, o.frame.as_slice())),
        )
        .collect();
    pcap_frames.sort_by_key(|f| f.0);
    let mut w = PcapWriter::new(Vec::new())?;
    for (t, f) in pcap_frames {
        w.write_frame(t, f)?;
    }
    let pcap = w.into_inner();
    if let Some(rtt) = handshake_rtt(&ladder) {
        summary.insert(
            1.min(summary.len()),
            format!(
                "rtt         {} (client's SYN sent → SYN/ACK received)",
                fmt_dur(rtt)
            ),
        );
    }
    if scenario == Scenario::DeadPeer {
        dead_peer_summary(&ladder, &facts, &mut summary)?;
    }
    if matches!(
        scenario,
        Scenario::Http | Scenario::Echo | Scenario::HalfClose
    ) {
        let who = match first_fins(&ladder) {
            (Some(_), Some(_)) => "both at once (a simultaneous close)",
            (Some(_), None) => "the client",
            (None, Some(_)) => "the server",
            (None, None) => "nobody",
        };
        summary.push(format!("close       first FIN from {who}"));
    }
    // What each layer added, from the frames themselves.
    let mut frames = 0usize;
    let (mut eth, mut net, mut tr, mut app) = (0usize, 0usize, 0usize, 0usize);
    for e in &ladder.entries {
        if let Entry::Frame { frame, .. } = e {
            let d = crate::decode::decode(frame);
            frames += 1;
            eth += d.header_bytes[0];
            net += d.header_bytes[1];
            tr += d.header_bytes[2];
            app += d.payload_len;
        }
    }
    let wire: usize = ladder
        .entries
        .iter()
        .map(|e| {
            if let Entry::Frame { frame, .. } = e {
                frame.len()
            } else {
                0
            }
        })
        .sum();
    let cable = if scenario == Scenario::Flood {
        "on the LAN"
    } else {
        "on the client's cable"
    };
    summary.push(format!("frames      {frames} {cable}, {wire} bytes in all"));
    summary.push(format!(
        "layers      Ethernet {eth} B · IPv4/ARP {net} B · TCP/UDP/ICMP {tr} B · application {app} B (padding {} B)",
        wire.saturating_sub(eth + net + tr + app)
    ));
    // UDP and ICMP have no retransmissions to count (the udp line says so).
    if !matches!(scenario, Scenario::Udp | Scenario::Ping) {
        // The wire's count beside the stacks' own: they differ by the
        // segments ARP held back, which no capture shows (a retry whose
        // earlier copies never left is the first the wire sees).
        let (mut counted, mut held) = (0, 0);
        for id in [client, server] {
            if let Some(h) = sim.node::<Host>(id) {
                counted += h.stack().tcp_stats().retransmits;
                held += h.stack().stats().tcp.neighbour_drops;
            }
        }
        let why = if held > 0 {
            format!(" (the stacks count {counted}; {held} segments held behind ARP never left)")
        } else {
            String::new()
        };
        summary.push(format!(
            "retrans     {} TCP retransmissions seen on the wire{why}",
            ladder.retransmissions()
        ));
    }
    Ok(Outcome {
        ladder,
        pcap,
        summary,
        facts,
    })
}

/// Application state of the TCP scenarios (both sides).
#[derive(Default)]
struct AppLog {
    /// (time, side, text) notes for the ladder.
    notes: Vec<(Instant, Side, String)>,
    /// Bytes the client read.
    received: Vec<u8>,
    /// When the handshake completed (client side).
    connected_at: Option<Instant>,
    /// When the client called connect.
    started_at: Option<Instant>,
    /// Errors reported by the stack: (time, side, what).
    errors: Vec<(Instant, Side, TcpEvent)>,
    /// When the peer's FIN arrived (client side).
    peer_closed_at: Option<Instant>,
    /// The client's application has called close (or shutdown).
    client_closed: bool,
    /// The server's application has called close.
    server_closed: bool,
    /// The client has the whole answer.
    complete_at: Option<Instant>,
    /// The server's connection, once accepted.
    server_conn: Option<TcpHandle>,
}

impl AppLog {
    fn note(&mut self, t: Instant, side: Side, text: impl Into<String>) {
        self.notes.push((t, side, text.into()));
    }
}

/// The lines the echo-like scenarios send.
const LINES: &[u8] = b"hello, strata\nthe layers, one by one\n";
/// The lines the half-close client sends for sorting.
const SORT_LINES: &[u8] = b"transport\nnetwork\nlink\napplication\n";
/// dead-peer: the line sent after the cable is cut.
const LAST_LINE: &[u8] = b"are you still there?\n";

/// The half-close server's answer: the lines it read, sorted (it can only
/// sort once it has them all, which the client's FIN tells it).
fn sorted_lines(input: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = input
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

fn tcp_exchange(
    sim: &mut Sim,
    [client, server]: [NodeId; 2],
    server_links: [LinkId; 2],
    plan: &Plan,
    ladder: &mut Ladder,
    summary: &mut Vec<String>,
    facts: &mut Facts,
) -> Result<()> {
    let scenario = plan.scenario;
    let closer = plan.closer();
    let is_http = matches!(scenario, Scenario::Http | Scenario::Flood);
    let port = if is_http { 80 } else { 7 };
    let log = Rc::new(RefCell::new(AppLog::default()));
    let request: Vec<u8> = if is_http {
        format!("GET / HTTP/1.1\r\nHost: {SERVER_IP}\r\nUser-Agent: strata-demo\r\nConnection: close\r\n\r\n").into_bytes()
    } else if scenario == Scenario::HalfClose {
        SORT_LINES.to_vec()
    } else {
        LINES.to_vec()
    };
    let http_reply = {
        let mut r = format!("HTTP/1.1 200 OK\r\nServer: strata\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", PAGE.len()).into_bytes();
        r.extend_from_slice(PAGE.as_bytes());
        r
    };
    // What the client expects back.
    let expected: Vec<u8> = match scenario {
        Scenario::Http | Scenario::Flood => http_reply.clone(),
        Scenario::HalfClose => sorted_lines(&request),
        _ => request.clone(),
    };

    // Server: accept, read the request, answer; close as the plan says.
    let slog = log.clone();
    let mut pending: Vec<u8> = Vec::new();
    let mut echoed = 0usize;
    let mut server_conn: Option<TcpHandle> = None;
    let listener = sim
        .with_node::<Host, _>(server, |h, _| h.stack_mut().tcp_listen(None, port, 16))
        .context("server node")??;
    ladder.entries.push(Entry::State {
        t: Instant::ZERO,
        side: Side::Right,
        from: "CLOSED".into(),
        to: format!("LISTEN :{port}"),
    });
    let request_len = request.len();
    let reply = http_reply.clone();
    let serve_data = move |now: Instant,
                           stack: &mut Stack,
                           c: TcpHandle,
                           pending: &mut Vec<u8>,
                           echoed: &mut usize,
                           slog: &Rc<RefCell<AppLog>>| {
        match scenario {
            Scenario::Http | Scenario::Flood => {
                if !pending.windows(4).any(|w| w == b"\r\n\r\n") {
                    return;
                }
                pending.clear();
                slog.borrow_mut()
                    .note(now, Side::Right, "app: GET / → 200 OK");
                let _ = stack.tcp_send(c, &reply);
                if closer == Closer::Server {
                    // HTTP/1.1 with "Connection: close": the server closes.
                    let _ = stack.tcp_close(now, c);
                    slog.borrow_mut().server_closed = true;
                }
            }
            // The half-close server answers only at the end of the input.
            Scenario::HalfClose => {}
            _ => {
                if pending.is_empty() {
                    return;
                }
                slog.borrow_mut().note(
                    now,
                    Side::Right,
                    format!("app: echo {} bytes", pending.len()),
                );
                let _ = stack.tcp_send(c, pending);
                *echoed += pending.len();
                pending.clear();
                if closer == Closer::Server && *echoed >= request_len && scenario == Scenario::Echo
                {
                    let _ = stack.tcp_close(now, c);
                    slog.borrow_mut().server_closed = true;
                }
            }
        }
    };
    let serve = move |now: Instant,
                      stack: &mut Stack,
                      c: TcpHandle,
                      pending: &mut Vec<u8>,
                      echoed: &mut usize,
                      slog: &Rc<RefCell<AppLog>>| {
        let mut buf = [0u8; 4096];
        let mut eof = false;
        while let Ok(n) = stack.tcp_recv(c, &mut buf) {
            if n == 0 {
                eof = true;
                break;
            }
            pending.extend_from_slice(&buf[..n]);
        }
        serve_data(now, stack, c, pending, echoed, slog);
        if eof && !slog.borrow().server_closed {
            // The client's FIN: its request is complete. The half-close
            // server answers now; every server closes its side in turn.
            if scenario == Scenario::HalfClose {
                let answer = sorted_lines(pending);
                slog.borrow_mut().note(
                    now,
                    Side::Right,
                    format!("app: EOF → send {} sorted bytes", answer.len()),
                );
                let _ = stack.tcp_send(c, &answer);
            }
            slog.borrow_mut().server_closed = true;
            slog.borrow_mut().note(now, Side::Right, "app: close()");
            let _ = stack.tcp_close(now, c);
        }
    };
    sim.with_node::<Host, _>(server, |h, _| {
        h.set_app(Box::new(move |now, stack, ev| {
            let Event::Tcp(ev) = ev else { return };
            match *ev {
                TcpEvent::Acceptable { listener: l } if l == listener => {
                    if let Ok(c) = stack.tcp_accept(l) {
                        server_conn = Some(c);
                        slog.borrow_mut().server_conn = Some(c);
                        slog.borrow_mut().note(now, Side::Right, "app: accept()");
                        // The request may already be queued: read it now.
                        serve(now, stack, c, &mut pending, &mut echoed, &slog);
                    }
                }
                TcpEvent::Readable(c) if Some(c) == server_conn => {
                    serve(now, stack, c, &mut pending, &mut echoed, &slog);
                }
                TcpEvent::PeerClosed(c) if Some(c) == server_conn => {
                    serve(now, stack, c, &mut pending, &mut echoed, &slog);
                }
                TcpEvent::Reset(_) | TcpEvent::TimedOut(_) => {
                    slog.borrow_mut().errors.push((now, Side::Right, *ev));
                }
                _ => {}
            }
        }));
    });

    // Both hosts announce themselves (gratuitous ARP) when their address is
    // configured; let that settle so the exchange starts on a quiet wire.
    sim.run_for(Duration::from_millis(1));

    // Client: connect, send the request, read the answer; close as the plan
    // says.
    let clog = log.clone();
    let conn = sim
        .with_node::<Host, _>(client, |h, now| {
            clog.borrow_mut().started_at = Some(now);
            h.stack_mut()
                .tcp_connect(now, SocketAddrV4::new(SERVER_IP, port))
        })
        .context("client node")??;
    let clog = log.clone();
    let mut req = Some(request.clone());
    let expected_len = expected.len();
    sim.with_node::<Host, _>(client, move |h, _| {
        h.set_app(Box::new(move |now, stack, ev| {
            let Event::Tcp(ev) = ev else { return };
            match *ev {
                TcpEvent::Connected(c) if c == conn => {
                    let mut l = clog.borrow_mut();
                    l.connected_at = Some(now);
                    if let Some(r) = req.take() {
                        let _ = stack.tcp_send(c, &r);
                        let what = if is_http {
                            "app: send GET /".to_string()
                        } else {
                            format!(
                                "app: send {} lines",
                                r.iter().filter(|&&b| b == b'\n').count()
                            )
                        };
                        l.note(now, Side::Left, what);
                        if scenario == Scenario::HalfClose {
                            let _ = stack.tcp_shutdown(now, c);
                            l.client_closed = true;
                            l.note(now, Side::Left, "app: shutdown(SHUT_WR)");
                        }
                    }
                }
                TcpEvent::Readable(c) if c == conn => {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = stack.tcp_recv(c, &mut buf) {
                        if n == 0 {
                            break;
                        }
                        clog.borrow_mut().received.extend_from_slice(&buf[..n]);
                    }
                    let mut l = clog.borrow_mut();
                    if l.complete_at.is_none() && l.received.len() >= expected_len {
                        l.complete_at = Some(now);
                        if closer == Closer::Client
                            && !l.client_closed
                            && matches!(scenario, Scenario::Http | Scenario::Echo)
                        {
                            l.client_closed = true;
                            l.note(now, Side::Left, "app: close()");
                            let _ = stack.tcp_close(now, c);
                        }
                    }
                }
                TcpEvent::PeerClosed(c) if c == conn => {
                    clog.borrow_mut().peer_closed_at = Some(now);
                }
                TcpEvent::Reset(_)
                | TcpEvent::Refused(_)
                | TcpEvent::TimedOut(_)
                | TcpEvent::Unreachable { .. } => {
                    clog.borrow_mut().errors.push((now, Side::Left, *ev));
                }
                _ => {}
            }
        }));
    });

    let watch = log.clone();
    let done = move |_: &Sim| {
        let l = watch.borrow();
        !l.errors.is_empty() || l.peer_closed_at.is_some()
    };
    match (scenario, closer) {
        (Scenario::DeadPeer, _) => {
            // The first line is echoed; then the server's cable is cut and
            // the client's next line finds no one.
            let watch = log.clone();
            sim.run_until_condition(Instant::from_secs(10), move |_| {
                watch.borrow().complete_at.is_some() || !watch.borrow().errors.is_empty()
            });
            // Long enough for the client's delayed ACK of the echo: the
            // server has nothing outstanding when its cable is cut.
            sim.run_for(Duration::from_millis(100));
            let cut = sim.now();
            for l in server_links {
                if let Some(cfg) = sim.link_config_mut(l) {
                    cfg.partitions.push((cut, Instant::MAX));
                }
            }
            facts.cut_at = Some(cut);
            let clog = log.clone();
            sim.with_node::<Host, _>(client, move |h, now| {
                let _ = h.stack_mut().tcp_send(conn, LAST_LINE);
                clog.borrow_mut().note(now, Side::Left, "app: send 1 line");
            });
            let watch = log.clone();
            sim.run_until_condition(Instant::from_secs(600), move |_| {
                !watch.borrow().errors.is_empty()
            });
        }
        (Scenario::Flood, _) => {
            // The client gets in or gives up; the half-open entries would
            // linger another minute, which the summary tells.
            let watch = log.clone();
            sim.run_until_condition(Instant::from_secs(120), move |_| {
                let l = watch.borrow();
                !l.errors.is_empty() || l.connected_at.is_some()
            });
            if log.borrow().connected_at.is_some() {
                sim.run_until_condition(Instant::from_secs(120), done);
            }
        }
        (Scenario::HalfClose, _) | (_, Closer::Client) => {
            sim.run_until_condition(Instant::from_secs(120), done);
        }
        (_, Closer::Server) => {
            // The client reads until the server's FIN, then — after a
            // moment of application "think time", so the four segments of
            // the close are distinct as in the lesson's figure — closes.
            sim.run_until_condition(Instant::from_secs(120), done);
            sim.run_for(Duration::from_millis(1));
            let closing = log.clone();
            sim.with_node::<Host, _>(client, move |h, now| {
                let mut l = closing.borrow_mut();
                if l.peer_closed_at.is_some() && !l.client_closed {
                    l.client_closed = true;
                    l.note(now, Side::Left, "app: close()");
                    let _ = h.stack_mut().tcp_close(now, conn);
                }
            });
        }
        (_, Closer::Both) => {
            // Both applications close at the same instant, once the whole
            // answer is in and acknowledged: the two FINs cross on the wire.
            let watch = log.clone();
            sim.run_until_condition(Instant::from_secs(120), move |_| {
                watch.borrow().complete_at.is_some() || !watch.borrow().errors.is_empty()
            });
            sim.run_for(Duration::from_millis(1));
            let closing = log.clone();
            sim.with_node::<Host, _>(client, move |h, now| {
                let mut l = closing.borrow_mut();
                l.client_closed = true;
                l.note(now, Side::Left, "app: close()");
                let _ = h.stack_mut().tcp_close(now, conn);
            });
            let closing = log.clone();
            sim.with_node::<Host, _>(server, move |h, now| {
                let mut l = closing.borrow_mut();
                l.server_closed = true;
                l.note(now, Side::Right, "app: close()");
                if let Some(c) = l.server_conn {
                    let _ = h.stack_mut().tcp_close(now, c);
                }
            });
        }
    }
    if scenario != Scenario::Flood {
        // Long enough for TIME_WAIT (2×MSL, 60 s) to expire in virtual time.
        sim.run_until_idle(Instant::from_secs(600));
    }

    // State transitions from both stacks.
    for (id, side) in [(client, Side::Left), (server, Side::Right)] {
        let host = sim.node::<Host>(id).context("host")?;
        ladder.tcp_states(side, host.events());
    }
    if std::env::var_os("STRATA_DEMO_DEBUG").is_some() {
        for id in [client, server] {
            for (t, e) in sim.node::<Host>(id).context("host")?.events() {
                eprintln!("{t} {id:?} {e:?}");
            }
        }
    }
    let log = log.borrow();
    for (t, side, text) in &log.notes {
        ladder.entries.push(Entry::Note {
            t: *t,
            side: Some(*side),
            text: text.clone(),
        });
    }
    for (t, side, ev) in &log.errors {
        if matches!(ev, TcpEvent::TimedOut(_)) {
            facts.timed_out.push((*t, *side));
        }
    }
    let expected_errors = matches!(scenario, Scenario::DeadPeer | Scenario::Flood);
    if !log.errors.is_empty() && !expected_errors {
        let what: Vec<String> = log.errors.iter().map(|e| format!("{:?}", e.2)).collect();
        bail!("the exchange failed: {}", what.join(", "));
    }
    if scenario == Scenario::Flood {
        flood_summary(sim, server, &log, facts, summary)?;
    }
    if scenario == Scenario::Flood && log.connected_at.is_none() {
        return Ok(());
    }
    let body_ok = if scenario == Scenario::DeadPeer {
        log.received == request
    } else {
        log.received == expected
    };
    if !body_ok {
        bail!(
            "the client did not receive the expected bytes ({} bytes arrived)",
            log.received.len()
        );
    }
    if let (Some(a), Some(b)) = (log.started_at, log.connected_at) {
        summary.push(format!(
            "handshake   {} (SYN sent → ESTABLISHED, incl. ARP)",
            fmt_dur(b - a)
        ));
    }
    let what = match scenario {
        Scenario::Http | Scenario::Flood => "HTTP GET / → 200 OK, page",
        Scenario::HalfClose => "sorted after the client's FIN,",
        _ => "echoed",
    };
    summary.push(format!(
        "app         {what} {} bytes, checked byte for byte",
        if is_http {
            PAGE.len()
        } else {
            log.received.len()
        }
    ));
    for (id, who) in [(client, "client"), (server, "server")] {
        let stack = sim.node::<Host>(id).context("host")?.stack();
        let st = stack.tcp_stats();
        // The causes add up to the total: SYN and SYN-ACK retries count as
        // timeouts, a SYN-ACK repeated for a repeated SYN is named apart.
        let repeats = match st.retransmits_syn_ack {
            0 => String::new(),
            n => format!(", {n} SYN-ACK repeated"),
        };
        // Tail loss probes (RFC 8985 §7) are named apart from the fast
        // retransmissions they are counted with.
        let probes = match st.retransmits_tlp {
            0 => String::new(),
            n => format!(", {n} tail loss probe{}", if n == 1 { "" } else { "s" }),
        };
        summary.push(format!(
            "tcp         {who}: {} segments out, {} in, {} retransmitted ({} by timeout, {} fast{probes}{repeats})",
            st.segments_out,
            st.segments_in,
            st.retransmits,
            st.retransmits_timeout,
            st.retransmits_recovery - st.retransmits_tlp
        ));
        // Counted as sent by TCP, dropped below it: the reason the wire
        // shows fewer segments (and retransmissions) than the engine.
        let held = stack.stats().tcp.neighbour_drops;
        if held > 0 {
            summary.push(format!(
                "            {who}: {held} of those segments held behind ARP and never sent \
                 (the resolution failed or its queue overflowed)"
            ));
        }
    }
    let last_close = [client, server]
        .iter()
        .filter_map(|&id| sim.node::<Host>(id))
        .flat_map(|h| h.events().iter())
        .filter_map(|(t, e)| match e {
            Event::Tcp(TcpEvent::StateChanged {
                from: TcpState::TimeWait,
                ..
            }) => Some(*t),
            _ => None,
        })
        .max();
    if let Some(t) = last_close {
        summary.push(format!(
            "time        TIME-WAIT expired at {t} (2×MSL): every socket CLOSED"
        ));
    }
    Ok(())
}

/// When each side (client, server) sent its first FIN, for the side(s)
/// that sent first: both when their FINs left at the same instant.
fn first_fins(ladder: &Ladder) -> (Option<Instant>, Option<Instant>) {
    let fin_at = |side: Side| {
        ladder
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Frame { t, from, frame, .. } if *from == side => {
                    let tcp = crate::decode::decode(frame).tcp?;
                    tcp.fin.then_some(*t)
                }
                _ => None,
            })
            .min()
    };
    let (c, s) = (fin_at(Side::Left), fin_at(Side::Right));
    match (c, s) {
        (Some(a), Some(b)) if a < b => (Some(a), None),
        (Some(a), Some(b)) if b < a => (None, Some(b)),
        other => other,
    }
}

/// dead-peer: each retry's time and gap, and how it ended.
fn dead_peer_summary(ladder: &Ladder, facts: &Facts, summary: &mut Vec<String>) -> Result<()> {
    let cut = facts.cut_at.context("the cable was cut")?;
    // The client's transmissions of the segment sent after the cut.
    let mut sends: Vec<Instant> = ladder
        .rows()
        .iter()
        .filter_map(|r| match r.entry {
            Entry::Frame {
                t,
                from: Side::Left,
                ..
            } if *t >= cut => {
                let tcp = r.decoded.as_ref()?.tcp.as_ref()?;
                (tcp.len > 0).then_some(*t)
            }
            _ => None,
        })
        .collect();
    sends.sort();
    let Some((&first, retries)) = sends.split_first() else {
        bail!("the client sent nothing after the cable was cut");
    };
    summary.push(format!(
        "cut         the server's cable at {cut}; the client's next segment left at {first}"
    ));
    let mut prev = first;
    for (i, &t) in retries.iter().enumerate() {
        summary.push(format!(
            "retry {:<5} at {t} (+{} after the previous try)",
            i + 1,
            crate::lesson::dur(t - prev)
        ));
        prev = t;
    }
    match facts.timed_out.first() {
        Some((t, Side::Left)) => summary.push(format!(
            "error       at {t}: connection timed out after {} retries ({} since the first try) — the peer is presumed dead",
            retries.len(),
            crate::lesson::dur(*t - first)
        )),
        _ => bail!("the client's connection did not time out"),
    }
    Ok(())
}

/// flood: the SYN queue's occupancy over time and what became of the
/// client.
fn flood_summary(
    sim: &Sim,
    server: NodeId,
    log: &AppLog,
    facts: &mut Facts,
    summary: &mut Vec<String>,
) -> Result<()> {
    facts.syn_backlog = Some(FLOOD_BACKLOG);
    let host = sim.node::<Host>(server).context("server")?;
    let mut n = 0usize;
    let mut steps: Vec<(Instant, usize)> = Vec::new();
    for (t, e) in host.events() {
        if let Event::Tcp(TcpEvent::StateChanged { from, to, .. }) = e {
            let before = n;
            if *to == TcpState::SynReceived {
                n += 1;
            } else if *from == TcpState::SynReceived {
                n = n.saturating_sub(1);
            }
            if n != before {
                match steps.last_mut() {
                    Some(last) if last.0 == *t => last.1 = n,
                    _ => steps.push((*t, n)),
                }
            }
        }
    }
    let bar = |k: usize| {
        format!(
            "{}{} {k}/{FLOOD_BACKLOG}",
            "█".repeat(k),
            "·".repeat(FLOOD_BACKLOG.saturating_sub(k))
        )
    };
    summary.push(format!(
        "flood       {} attackers sent {} SYNs from forged addresses; SYN queue of {FLOOD_BACKLOG}",
        ATTACKERS,
        u32::from(ATTACKERS) * u32::from(SYNS_PER_ATTACKER)
    ));
    for (t, k) in &steps {
        summary.push(format!("queue       {:>12}  {}", t.to_string(), bar(*k)));
    }
    summary.push(format!(
        "queue       {:>12}  {} (end of the run)",
        sim.now().to_string(),
        bar(n)
    ));
    let st = host.stack().tcp_stats();
    summary.push(format!(
        "dropped     {} SYNs found the queue full (the client's among them)",
        st.syn_queue_drops
    ));
    let synack = TcpConfig::default().synack_retries;
    summary.push(format!(
        "half-open   each entry stays until its SYN/ACK has been retried {synack} times (about a minute) — this server runs without SYN cookies (see `strata sim synflood`)"
    ));
    match (log.connected_at, log.errors.first()) {
        (Some(t), _) => summary.push(format!("client      got in at {t}")),
        (None, Some((t, _, ev))) => summary.push(format!(
            "client      gave up at {t} after {FLOOD_SYN_RETRIES} SYN retries: {}",
            match ev {
                TcpEvent::TimedOut(_) => "connection timed out".to_string(),
                other => format!("{other:?}"),
            }
        )),
        (None, None) => summary.push("client      neither connected nor gave up".into()),
    }
    Ok(())
}
fn udp_exchange(
    sim: &mut Sim,
    client: NodeId,
    server: NodeId,
    summary: &mut Vec<String>,
) -> Result<()> {
    let port = 7;
    let s = sim
        .with_node::<Host, _>(server, |h, _| h.stack_mut().udp_bind(None, port))
        .context("server")??;
    sim.with_node::<Host, _>(server, move |h, _| {
        h.set_app(Box::new(move |now, stack, ev| {
            if let Event::UdpReadable(sock) = ev {
                if *sock == s {
                    while let Ok(Some(d)) = stack.udp_recv_from(s) {
                        let _ = stack.udp_send_to(now, s, d.from, &d.payload);
                    }
                }
            }
        }));
    });
    let c = sim
        .with_node::<Host, _>(client, |h, _| h.stack_mut().udp_bind(None, 0))
        .context("client")??;
    let mut sent = 0;
    for i in 0..4u8 {
        let msg = format!("datagram {i}");
        sim.with_node::<Host, _>(client, |h, now| {
            h.stack_mut()
                .udp_send_to(now, c, SocketAddrV4::new(SERVER_IP, port), msg.as_bytes())
        })
        .context("client")??;
        sent += 1;
        sim.run_for(Duration::from_millis(10));
    }
    sim.run_until_idle(Instant::from_secs(5));
    let mut back = 0;
    sim.with_node::<Host, _>(client, |h, _| {
        while let Ok(Some(_)) = h.stack_mut().udp_recv_from(c) {
            back += 1;
        }
    });
    summary.push(format!(
        "udp         {sent} datagrams sent, {back} echoed back — UDP neither retransmits nor tells"
    ));
    Ok(())
}

fn ping_exchange(sim: &mut Sim, client: NodeId, summary: &mut Vec<String>) -> Result<()> {
    for seq in 0..4u16 {
        sim.with_node::<Host, _>(client, |h, now| {
            h.stack_mut()
                .ping(now, SERVER_IP, 0x5354, seq, b"strata ping payload")
        })
        .context("client")??;
        sim.run_for(Duration::from_secs(1));
    }
    sim.run_until_idle(Instant::from_secs(10));
    let host = sim.node::<Host>(client).context("client")?;
    for (_, e) in host.events() {
        if let Event::EchoReply {
            from,
            seq,
            rtt,
            ttl,
            len,
            ..
        } = e
        {
            summary.push(format!(
                "ping        {len} bytes from {from}: icmp_seq={seq} ttl={ttl} time={}",
                fmt_dur(*rtt)
            ));
        }
    }
    Ok(())
}

/// A duration the way ping prints it.
pub fn fmt_dur(d: Duration) -> String {
    let us = d.as_nanos() as f64 / 1000.0;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.3} ms", us / 1000.0)
    }
}

/// Runs a multi-node scenario through the `strata sim` lab, which draws it
/// (a two-host ladder does not fit routers and switch loops).
fn via_lab(args: &DemoArgs) -> Result<()> {
    use clap::Parser;
    #[derive(Parser)]
    struct Lab {
        #[command(flatten)]
        sim: crate::sim::SimArgs,
    }
    let name = if args.scenario == Scenario::Traceroute {
        "traceroute"
    } else {
        "storm"
    };
    let mut argv = vec![
        "strata-sim".to_string(),
        name.to_string(),
        "--seed".into(),
        args.seed.to_string(),
        "--loss".into(),
        args.loss.to_string(),
    ];
    if args.scenario == Scenario::Traceroute {
        // A storm's capture would be the storm itself: the lab keeps none.
        argv.extend(["--pcap".into(), args.pcap.display().to_string()]);
    }
    if let Some(svg) = &args.svg {
        argv.extend(["--svg".into(), svg.display().to_string()]);
    }
    if args.no_color {
        argv.push("--no-color".into());
    }
    if let Some(w) = args.width {
        argv.extend(["--width".into(), w.to_string()]);
    }
    let lab = Lab::try_parse_from(argv).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "strata demo --scenario {name} (seed {}): the same run as `strata sim {name}`",
        args.seed
    );
    crate::sim::run(&lab.sim)
}

/// `strata demo`.
pub fn main(args: DemoArgs) -> Result<()> {
    if matches!(args.scenario, Scenario::Traceroute | Scenario::Storm) {
        return via_lab(&args);
    }
    if args.closer.is_some() && !matches!(args.scenario, Scenario::Http | Scenario::Echo) {
        crate::lab::usage_error(&format!(
            "--closer applies to the http and echo scenarios, not {}",
            args.scenario.name()
        ));
    }
    if args.layers == Some(0) {
        crate::lab::usage_error("--layers counts frames from 1");
    }
    let color = args.color
        || (!args.no_color
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none());
    let plan = Plan {
        closer: args.closer,
        ..Plan::new(args.scenario, args.seed, args.loss)
    };
    let mut out = run_plan(&plan)?;
    if args.narrate {
        out.narrate(args.lang);
    }
    let title = match args.scenario {
        Scenario::Http => "a browser fetches a page from a web server (B/S) over a switched LAN",
        Scenario::Echo => "a client talks to a TCP echo server (C/S) over a switched LAN",
        Scenario::Udp => "UDP datagrams to an echo server over a switched LAN",
        Scenario::Ping => "ping: ICMP echo request and reply over a switched LAN",
        Scenario::DeadPeer => "the server's cable is cut mid-conversation: is the peer dead?",
        Scenario::Flood => "a SYN flood from forged addresses while a client connects",
        Scenario::HalfClose => "half-close: the client is done sending, the server still answers",
        Scenario::Traceroute | Scenario::Storm => unreachable!("run through the lab"),
    };
    let bold = |s: &str| {
        if color {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    println!("{}", bold(&format!("strata demo — {title}")));
    let mut replay = format!("strata demo --scenario {}", args.scenario.name());
    if let Some(c) = args.closer {
        replay += &format!(" --closer {}", format!("{c:?}").to_lowercase());
    }
    println!(
        "seed {} · loss {}% · replay with: {replay} --seed {} --loss {}",
        args.seed,
        args.loss * 100.0,
        args.seed,
        args.loss
    );
    println!();
    if let Some(n) = args.layers {
        let frames = out.ladder.frames();
        let Some(frame) = n.checked_sub(1).and_then(|i| frames.get(i)) else {
            crate::lab::usage_error(&format!(
                "--layers {n}: this run has frames 1 to {} on the ladder",
                frames.len()
            ));
        };
        // Which arrow of the ladder this is, as drawn there.
        let headline = out
            .ladder
            .rows()
            .iter()
            .filter_map(|r| r.decoded.as_ref())
            .nth(n - 1)
            .map(|d| d.headline())
            .unwrap_or_default();
        println!("frame {n} of {} on the ladder: {headline}", frames.len());
        print!("{}", crate::layers::render(n, frame, color));
        return Ok(());
    }
    print!(
        "{}",
        out.ladder
            .render_text(color, crate::ladder::choose_width(args.width))
    );
    println!();
    println!("{}", bold("summary"));
    for line in &out.summary {
        println!("  {line}");
    }
    std::fs::write(&args.pcap, &out.pcap)
        .with_context(|| format!("writing {}", args.pcap.display()))?;
    println!(
        "  pcap        {} (open it in Wireshark, or: tshark -r {})",
        args.pcap.display(),
        args.pcap.display()
    );
    if let Some(svg) = &args.svg {
        std::fs::write(svg, out.ladder.render_svg())
            .with_context(|| format!("writing {}", svg.display()))?;
        println!("  svg         {}", svg.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: Scenario) -> String {
        run(s, 1, 0.0)
            .expect("scenario runs")
            .ladder
            .render_text(false, crate::ladder::DEFAULT_WIDTH)
    }

    #[test]
    fn http_ladder_snapshot() {
        insta::assert_snapshot!("demo_http", text(Scenario::Http));
    }

    #[test]
    fn echo_ladder_snapshot() {
        insta::assert_snapshot!("demo_echo", text(Scenario::Echo));
    }

    #[test]
    fn ping_ladder_snapshot() {
        insta::assert_snapshot!("demo_ping", text(Scenario::Ping));
    }

    #[test]
    fn http_tells_the_whole_story_in_order() {
        let t = text(Scenario::Http);
        let order = [
            "ARP who-has 192.168.1.20? tell 192.168.1.10",
            "ARP 192.168.1.20 is-at b8:27:eb:5e:12:a4",
            "[SYN] seq=0 win=",
            "[SYN, ACK] seq=0 ack=1",
            "HTTP \"GET / HTTP/1.1\"",
            "HTTP \"HTTP/1.1 200 OK\"",
            "FIN-WAIT-1 → FIN-WAIT-2",
            "CLOSE-WAIT → LAST-ACK",
            "LAST-ACK → CLOSED",
            "TIME-WAIT → CLOSED",
        ];
        let mut at = 0;
        for needle in order {
            let i = t[at..]
                .find(needle)
                .unwrap_or_else(|| panic!("'{needle}' missing after byte {at}:\n{t}"));
            at += i + needle.len();
        }
        assert!(
            !t.contains("RETRANSMISSION"),
            "no retransmission without loss:\n{t}"
        );
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_ports() {
        let a = run(Scenario::Http, 9, 0.1).unwrap();
        let b = run(Scenario::Http, 9, 0.1).unwrap();
        assert_eq!(a.pcap, b.pcap);
        assert_eq!(
            a.ladder.render_text(false, crate::ladder::DEFAULT_WIDTH),
            b.ladder.render_text(false, crate::ladder::DEFAULT_WIDTH)
        );
        assert_eq!(a.summary, b.summary);
        let c = run(Scenario::Http, 10, 0.1).unwrap();
        assert_ne!(a.pcap, c.pcap);
    }

    #[test]
    fn loss_shows_retransmissions_and_lost_frames() {
        // Over seeds 1..=20 at 20% loss, retransmissions must appear and the
        // page must still arrive intact (run() checks the bytes).
        let mut retrans = 0;
        let mut lost = 0;
        for seed in 1..=20 {
            let out = run(Scenario::Http, seed, 0.2).expect("TCP recovers from 20% loss");
            retrans += out.ladder.retransmissions();
            let t = out.ladder.render_text(false, crate::ladder::DEFAULT_WIDTH);
            lost += t.matches("✕ lost").count();
        }
        assert!(retrans > 5, "{retrans} retransmissions over 20 lossy runs");
        assert!(lost > 5, "{lost} lost frames over 20 lossy runs");
    }

    #[test]
    fn svg_is_valid_xml_with_parties_frames_and_states() {
        let out = run(Scenario::Http, 1, 0.0).unwrap();
        let svg = out.ladder.render_svg();
        let doc = roxmltree::Document::parse(&svg).expect("valid XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let class = |c: &str| {
            doc.descendants()
                .filter(|n| n.attribute("class") == Some(c))
                .count()
        };
        assert_eq!(class("party"), 2);
        let frames = out
            .ladder
            .entries
            .iter()
            .filter(|e| matches!(e, Entry::Frame { .. }))
            .count();
        assert_eq!(class("frame"), frames);
        assert!(class("state") >= 8, "state transitions drawn");
        let texts: String = doc
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect();
        assert!(texts.contains("[SYN, ACK]"));
        assert!(texts.contains("TIME-WAIT"));
    }

    /// The lesson's lines of a run: `time  text`, one per line.
    fn narration(plan: &Plan, lang: Lang) -> String {
        let mut out = run_plan(plan).expect("scenario runs");
        out.narrate(lang);
        out.ladder
            .rows()
            .iter()
            .filter_map(|r| match r.entry {
                Entry::Lesson { t, text } => Some(format!("{:>11}  {text}\n", t.to_string())),
                _ => None,
            })
            .collect()
    }

    /// Every scenario of the demo, with the closers of http and echo.
    fn every_plan() -> Vec<(String, Plan)> {
        let mut plans = Vec::new();
        for s in [
            Scenario::Http,
            Scenario::Echo,
            Scenario::Udp,
            Scenario::Ping,
            Scenario::DeadPeer,
            Scenario::Flood,
            Scenario::HalfClose,
        ] {
            plans.push((s.name().to_string(), Plan::new(s, 1, 0.0)));
        }
        // Over a lossy wire: lost frames, retransmissions, backoff.
        plans.push((
            "http-loss20-seed3".into(),
            Plan::new(Scenario::Http, 3, 0.2),
        ));
        // An ARP answer lost on the way back: the narration says so, and
        // does not claim that no host owns the address.
        plans.push((
            "http-loss20-seed4".into(),
            Plan::new(Scenario::Http, 4, 0.2),
        ));
        for s in [Scenario::Http, Scenario::Echo] {
            for c in [Closer::Client, Closer::Server, Closer::Both] {
                let mut p = Plan::new(s, 1, 0.0);
                p.closer = Some(c);
                let c = format!("{c:?}").to_lowercase();
                plans.push((format!("{}-closer-{c}", s.name()), p));
            }
        }
        plans
    }

    #[test]
    fn narration_snapshots_every_scenario_in_every_language() {
        for (name, plan) in every_plan() {
            for (lang, tag) in [(Lang::En, "en"), (Lang::Zh, "zh")] {
                let text = narration(&plan, lang);
                assert!(!text.is_empty(), "{name} {tag}: no narration");
                insta::assert_snapshot!(format!("narration_{name}_{tag}"), text);
            }
        }
    }

    #[test]
    fn narration_speaks_in_this_runs_numbers() {
        let out = run(Scenario::Http, 1, 0.0).unwrap();
        let rtt = handshake_rtt(&out.ladder).unwrap();
        let text = narration(&Plan::new(Scenario::Http, 1, 0.0), Lang::En);
        assert!(
            text.contains(&format!("One round trip: {}", crate::lesson::dur(rtt))),
            "{text}"
        );
        // The client's ephemeral port is the one on the wire.
        let port = out
            .ladder
            .frames()
            .iter()
            .find_map(|f| crate::decode::decode(f).tcp.map(|t| t.src_port))
            .unwrap();
        assert!(text.contains(&format!("port {port} is dynamic")), "{text}");
        // Another seed, another port, another narration.
        let other = narration(&Plan::new(Scenario::Http, 2, 0.0), Lang::En);
        assert_ne!(text, other);
        // Dead peer: a tail loss probe at the RTO's time, then each
        // retransmission by timeout waited twice as long as the last.
        let dead = narration(&Plan::new(Scenario::DeadPeer, 1, 0.0), Lang::En);
        assert_eq!(dead.matches("tail loss probe: ").count(), 1, "{dead}");
        let gaps: Vec<&str> = dead
            .lines()
            .filter(|l| l.contains("(the retransmission timeout)"))
            .filter_map(|l| l.split("within ").nth(1))
            .filter_map(|l| l.split(" (").next())
            .collect();
        assert_eq!(
            gaps,
            ["200 ms", "400 ms", "800 ms", "1.600 s", "3.200 s"],
            "{dead}"
        );
        assert!(dead.contains("gives up after 6 retransmissions"), "{dead}");
        // Loss: the SYN and the GET are lost and sent again, the GET first
        // by a tail loss probe at the RTO's time (RFC 8985 §7.2).
        let lossy = narration(&Plan::new(Scenario::Http, 3, 0.2), Lang::En);
        for want in [
            "the SYN is sent again (try 2)",
            "tail loss probe: no ACK for seq=1 within 200 ms",
            "retransmission 2: no ACK for seq=1 within 200 ms",
            "retransmission 3: no ACK for seq=1 within 400 ms",
        ] {
            assert!(lossy.contains(want), "{want}:\n{lossy}");
        }
        // A lost SYN/ACK is sent again.
        let lossy = narration(&Plan::new(Scenario::Http, 6, 0.2), Lang::En);
        let want = "no ACK for the SYN/ACK after 1 s";
        assert!(lossy.contains(want), "{want}:\n{lossy}");
        // TIME-WAIT on the side that closed first.
        let mut p = Plan::new(Scenario::Http, 1, 0.0);
        p.closer = Some(Closer::Client);
        let t = narration(&p, Lang::En);
        assert!(t.contains("TIME-WAIT: the client closed first"), "{t}");
        p.closer = Some(Closer::Both);
        assert!(narration(&p, Lang::En).contains("CLOSING: the client"));
    }

    #[test]
    fn closer_decides_who_sends_the_first_fin() {
        for (scenario, closer, want) in [
            (
                Scenario::Http,
                Closer::Client,
                "close       first FIN from the client",
            ),
            (
                Scenario::Http,
                Closer::Server,
                "close       first FIN from the server",
            ),
            (
                Scenario::Echo,
                Closer::Server,
                "close       first FIN from the server",
            ),
            (
                Scenario::Echo,
                Closer::Client,
                "close       first FIN from the client",
            ),
            (
                Scenario::Echo,
                Closer::Both,
                "close       first FIN from both at once (a simultaneous close)",
            ),
        ] {
            let mut p = Plan::new(scenario, 3, 0.0);
            p.closer = Some(closer);
            let out = run_plan(&p).unwrap();
            assert!(out.summary.iter().any(|l| l == want), "{:?}", out.summary);
            let t = out.ladder.render_text(false, crate::ladder::DEFAULT_WIDTH);
            if closer == Closer::Both {
                assert_eq!(t.matches("FIN-WAIT-1 → CLOSING").count(), 2, "{t}");
            } else {
                assert!(!t.contains("CLOSING"), "{t}");
            }
        }
    }

    #[test]
    fn dead_peer_backs_off_then_times_out() {
        let out = run(Scenario::DeadPeer, 1, 0.0).unwrap();
        let retries: Vec<&String> = out
            .summary
            .iter()
            .filter(|l| l.starts_with("retry"))
            .collect();
        // The tail loss probe at the RTO's time (RFC 8985 §7.2), then the
        // timeouts.
        assert_eq!(
            retries.len(),
            DEAD_PEER_RETRIES as usize + 1,
            "{:?}",
            out.summary
        );
        assert!(retries[0].ends_with("(+200 ms after the previous try)"));
        assert!(retries[1].ends_with("(+200 ms after the previous try)"));
        assert!(retries[5].ends_with("(+3.200 s after the previous try)"));
        assert!(out
            .summary
            .iter()
            .any(|l| l.contains("connection timed out after 6 retries")));
        assert_eq!(out.facts.timed_out.len(), 1);
    }

    #[test]
    fn flood_fills_the_queue_and_locks_the_client_out() {
        let out = run(Scenario::Flood, 1, 0.0).unwrap();
        let s = out.summary.join("\n");
        assert!(s.contains("██████ 6/6"), "{s}");
        assert!(s.contains("client      gave up at"), "{s}");
        assert!(s.contains("connection timed out"), "{s}");
        // The server never answered the client: no SYN/ACK to it.
        let answered = out.ladder.frames().iter().any(|f| {
            crate::decode::decode(f)
                .tcp
                .is_some_and(|t| t.syn && t.flags.ack() && t.dst_ip == CLIENT_IP)
        });
        assert!(!answered);
    }

    #[test]
    fn half_close_answer_arrives_after_the_clients_fin() {
        let out = run(Scenario::HalfClose, 1, 0.0).unwrap();
        let frames = out.ladder.frames();
        let tcp: Vec<_> = frames
            .iter()
            .filter_map(|f| crate::decode::decode(f).tcp)
            .collect();
        let client_fin = tcp
            .iter()
            .position(|t| t.fin && t.src_ip == CLIENT_IP)
            .expect("client FIN");
        let answer = tcp
            .iter()
            .position(|t| t.len > 0 && t.src_ip == SERVER_IP)
            .expect("server data");
        assert!(client_fin < answer);
        assert!(out
            .summary
            .iter()
            .any(|l| l.contains("sorted after the client's FIN")));
    }

    #[test]
    fn probabilities_parse_both_ways() {
        use crate::units::parse_probability;
        assert_eq!(parse_probability("0.2"), Ok(0.2));
        assert_eq!(parse_probability("20%"), Ok(0.2));
        assert!(parse_probability("120%").is_err());
        assert!(parse_probability("-0.1").is_err());
        assert!(parse_probability("lots").is_err());
    }
}
