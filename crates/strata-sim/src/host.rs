//! Hosts and routers running the strata stack inside the simulator, and
//! the ready-made scenarios behind `strata sim ping|traceroute|udp`.
//!
//! A [`Host`] wraps one [`Stack`]: simulator port `n` is interface
//! `IfaceId(n)`. A router is a host with forwarding on ([`Host::router`]).
//! Events the stack raises are kept with their virtual time stamp
//! ([`Host::events`]); an optional application callback ([`Host::set_app`])
//! runs inside the node as each event happens, so a server answers with no
//! delay of its own.

use std::fmt::{self, Write as _};
use std::io::Write;

use strata::link::IfaceId;
use strata::net::icmp::IcmpErrorKind;
use strata::stack::{Event, Stack, StackConfig};
use strata::time::{Duration, Instant};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::{Ipv4Addr, MacAddr};

use crate::link::LinkConfig;
use crate::node::{Node, NodeId};
use crate::sim::{Sim, SimError};
use crate::switch::Switch;

/// Events a [`Host`] keeps; older ones are dropped past this.
pub const MAX_EVENTS: usize = 65_536;

/// Application logic run inside a host for each stack event.
pub type App = Box<dyn FnMut(Instant, &mut Stack, &Event)>;

/// A simulated machine running a strata [`Stack`].
pub struct Host {
    name: String,
    stack: Stack,
    buf: Vec<u8>,
    events: Vec<(Instant, Event)>,
    app: Option<App>,
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("name", &self.name)
            .field("stack", &self.stack)
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A host with no interfaces yet.
    pub fn new(name: impl Into<String>, config: StackConfig) -> Self {
        Host {
            name: name.into(),
            stack: Stack::new(config),
            // The largest frame: a 65535-byte IPv4 datagram (RFC 791) in Ethernet.
            buf: vec![0; 65535 + 14],
            events: Vec::new(),
            app: None,
        }
    }

    /// A router: a host that forwards between its interfaces.
    pub fn router(name: impl Into<String>, config: StackConfig) -> Self {
        let mut h = Host::new(name, config);
        h.stack.set_forwarding(true);
        h
    }

    /// Adds an interface (its index is the simulator port) with `addr`.
    pub fn add_interface(&mut self, mac: MacAddr, mtu: usize, addr: Ipv4Cidr) -> IfaceId {
        let i = self.stack.add_interface(mac, mtu);
        // No RFC 5227 probing: the simulation chose every address on its
        // links, so none is held elsewhere (a scenario about conflicts
        // calls `Stack::probe_address` itself).
        self.stack
            .add_address(i, addr)
            .expect("a fresh interface takes a unicast address");
        i
    }

    /// The stack.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The stack, to act on it (from [`Sim::with_node`] so output is sent).
    pub fn stack_mut(&mut self) -> &mut Stack {
        &mut self.stack
    }

    /// The events so far (the most recent [`MAX_EVENTS`] at most) with the
    /// virtual time each happened.
    pub fn events(&self) -> &[(Instant, Event)] {
        &self.events
    }

    /// Takes the events collected so far.
    pub fn take_events(&mut self) -> Vec<(Instant, Event)> {
        std::mem::take(&mut self.events)
    }

    /// Runs `app` inside the node for every event from now on.
    pub fn set_app(&mut self, app: App) {
        self.app = Some(app);
    }

    fn collect(&mut self, now: Instant) {
        while let Some(e) = self.stack.poll_event() {
            if let Some(app) = self.app.as_mut() {
                app(now, &mut self.stack, &e);
            }
            // Bounded log: a long run keeps the most recent events.
            if self.events.len() >= MAX_EVENTS {
                self.events.drain(..MAX_EVENTS / 2);
            }
            self.events.push((now, e));
        }
    }
}

impl Node for Host {
    fn receive(&mut self, now: Instant, port: usize, frame: &[u8]) {
        let _host =
            tracing::debug_span!(target: "strata::sim", "host", name = %self.name, %now).entered();
        self.stack.receive(now, IfaceId(port), frame);
        self.collect(now);
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<(usize, Vec<u8>)> {
        let _host =
            tracing::debug_span!(target: "strata::sim", "host", name = %self.name, %now).entered();
        self.collect(now);
        let (iface, n) = self.stack.poll_transmit(now, &mut self.buf)?;
        Some((iface.0, self.buf[..n].to_vec()))
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.stack.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.stack.handle_timeout(now);
        self.collect(now);
    }
    fn name(&self) -> &str {
        &self.name
    }
}

fn cidr(a: [u8; 4], len: u8) -> Ipv4Cidr {
    Ipv4Cidr::new(Ipv4Addr::from(a), len).expect("prefix length ≤ 32")
}

fn mac(n: u8, port: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, n, port])
}

/// Settings shared by the scenarios.
pub struct ScenarioOptions {
    /// Seed of the simulation and of the stacks.
    pub seed: u64,
    /// Random loss probability on every link (each direction).
    pub loss: f64,
    /// One-way latency of every link.
    pub latency: Duration,
    /// Bandwidth of every link, bits per second.
    pub bandwidth_bps: u64,
    /// How many echo requests / datagrams / probes per hop.
    pub count: u16,
    /// Where to write a pcap of host A's interface, if anywhere.
    pub pcap: Option<Box<dyn Write>>,
}

impl fmt::Debug for ScenarioOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScenarioOptions")
            .field("seed", &self.seed)
            .field("loss", &self.loss)
            .field("latency", &self.latency)
            .field("bandwidth_bps", &self.bandwidth_bps)
            .field("count", &self.count)
            .field("pcap", &self.pcap.is_some())
            .finish()
    }
}

impl Default for ScenarioOptions {
    fn default() -> Self {
        ScenarioOptions {
            seed: 1,
            loss: 0.0,
            latency: Duration::from_micros(100),
            bandwidth_bps: 100_000_000,
            count: 4,
            pcap: None,
        }
    }
}

impl ScenarioOptions {
    fn link(&self) -> LinkConfig {
        LinkConfig::default()
            .with_latency(self.latency)
            .with_bandwidth(self.bandwidth_bps)
            .with_loss(self.loss)
    }
    fn stack(&self, n: u64) -> StackConfig {
        StackConfig {
            seed: self.seed.wrapping_mul(1000).wrapping_add(n),
            ..StackConfig::default()
        }
    }
}

/// Two hosts on a switch: the `ping` scenario's topology.
#[derive(Debug)]
pub struct Lan {
    /// The simulation.
    pub sim: Sim,
    /// Host A, 10.0.0.1, switch port 0.
    pub a: NodeId,
    /// Host B, 10.0.0.2, switch port 1.
    pub b: NodeId,
    /// The switch.
    pub switch: NodeId,
}

/// Builds [`Lan`] with `opts`' links (and its pcap tap on A).
pub fn lan(opts: &mut ScenarioOptions) -> Result<Lan, SimError> {
    let mut sim = Sim::new(opts.seed);
    let mut a = Host::new("A", opts.stack(1));
    a.add_interface(mac(1, 0), 1500, cidr([10, 0, 0, 1], 24));
    let mut b = Host::new("B", opts.stack(2));
    b.add_interface(mac(2, 0), 1500, cidr([10, 0, 0, 2], 24));
    let a = sim.add_node(Box::new(a));
    let b = sim.add_node(Box::new(b));
    let switch = sim.add_node(Box::new(Switch::named("switch", 2)));
    sim.connect((a, 0), (switch, 0), opts.link())?;
    sim.connect((b, 0), (switch, 1), opts.link())?;
    if let Some(out) = opts.pcap.take() {
        sim.tap_port(a, 0, out)?;
    }
    Ok(Lan { sim, a, b, switch })
}

/// What the `ping` scenario measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingReport {
    /// Destination.
    pub dst: Ipv4Addr,
    /// Data bytes per request.
    pub size: usize,
    /// Per sequence number: `(seq, rtt, ttl)` or `None` when lost.
    pub replies: Vec<(u16, Option<(Duration, u8)>)>,
    /// Requests answered by an error instead: `(seq, reporter, error)`
    /// (e.g. host unreachable when ARP got no answer).
    pub errors: Vec<(u16, Ipv4Addr, IcmpErrorKind)>,
}

impl fmt::Display for PingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "PING {}: {} data bytes", self.dst, self.size)?;
        let mut rtts = Vec::new();
        for (seq, r) in &self.replies {
            match r {
                Some((rtt, ttl)) => {
                    rtts.push(*rtt);
                    writeln!(
                        f,
                        "{} bytes from {}: icmp_seq={seq} ttl={ttl} time={:.3} ms",
                        self.size + 8,
                        self.dst,
                        rtt.as_nanos() as f64 / 1e6
                    )?;
                }
                None => match self.errors.iter().find(|e| e.0 == *seq) {
                    Some((_, from, kind)) => writeln!(f, "From {from} icmp_seq={seq} {kind}")?,
                    None => writeln!(f, "request icmp_seq={seq} timed out")?,
                },
            }
        }
        let sent = self.replies.len();
        let got = rtts.len();
        writeln!(f, "--- {} ping statistics ---", self.dst)?;
        write!(
            f,
            "{sent} packets transmitted, {got} received, {:.0}% packet loss",
            if sent == 0 {
                0.0
            } else {
                100.0 * (sent - got) as f64 / sent as f64
            }
        )?;
        if let (Some(min), Some(max)) = (rtts.iter().min(), rtts.iter().max()) {
            let avg = rtts.iter().map(|d| d.as_nanos()).sum::<u128>() / got as u128;
            write!(
                f,
                "\nrtt min/avg/max = {:.3}/{:.3}/{:.3} ms",
                min.as_nanos() as f64 / 1e6,
                avg as f64 / 1e6,
                max.as_nanos() as f64 / 1e6
            )?;
        }
        Ok(())
    }
}

/// `strata sim ping`: A pings B across a switch, `count` requests one
/// second apart (the first waits for ARP), 56 data bytes each.
pub fn ping(mut opts: ScenarioOptions) -> Result<(PingReport, Sim), SimError> {
    let Lan { mut sim, a, .. } = lan(&mut opts)?;
    let dst = Ipv4Addr::new(10, 0, 0, 2);
    let data: Vec<u8> = (0..56u8).collect();
    sim.run_until(Instant::from_millis(1));
    // One request a second, then a few seconds for late answers (an ARP
    // resolution that gives up reports after three tries).
    sim.with_node(a, |h: &mut Host, _| h.take_events());
    for seq in 1..=opts.count {
        sim.with_node(a, |h: &mut Host, now| {
            let _ = h.stack_mut().ping(now, dst, 0x5354, seq, &data);
        });
        sim.run_for(Duration::from_secs(1));
    }
    sim.run_for(Duration::from_secs(3));
    let evs = sim
        .with_node(a, |h: &mut Host, _| h.take_events())
        .unwrap_or_default();
    let replies = (1..=opts.count)
        .map(|seq| {
            let r = evs.iter().find_map(|(_, e)| match e {
                Event::EchoReply {
                    seq: s, rtt, ttl, ..
                } if *s == seq => Some((*rtt, *ttl)),
                _ => None,
            });
            (seq, r)
        })
        .collect();
    let errors = evs
        .iter()
        .filter_map(|(_, e)| match e {
            Event::EchoError { seq, error, .. } => Some((*seq, error.from, error.kind)),
            _ => None,
        })
        .collect();
    sim.flush_taps()?;
    Ok((
        PingReport {
            dst,
            size: data.len(),
            replies,
            errors,
        },
        sim,
    ))
}

/// A — switch — R1 — switch — R2 — B: the `traceroute` scenario's topology.
#[derive(Debug)]
pub struct RoutedPath {
    /// The simulation.
    pub sim: Sim,
    /// Host A, 10.0.1.10 (gateway R1 10.0.1.1).
    pub a: NodeId,
    /// Router R1: 10.0.1.1 and 10.0.2.1.
    pub r1: NodeId,
    /// Router R2: 10.0.2.2 and 10.0.3.1.
    pub r2: NodeId,
    /// Host B, 10.0.3.10 (gateway R2 10.0.3.1).
    pub b: NodeId,
}

/// Builds [`RoutedPath`]; `mtu3` is the MTU of the R2–B link.
pub fn routed_path(opts: &mut ScenarioOptions, mtu3: usize) -> Result<RoutedPath, SimError> {
    let mut sim = Sim::new(opts.seed);
    let mut a = Host::new("A", opts.stack(1));
    a.add_interface(mac(1, 0), 1500, cidr([10, 0, 1, 10], 24));
    a.stack_mut()
        .set_default_gateway(Ipv4Addr::new(10, 0, 1, 1))
        .expect("gateway on a connected prefix");
    let mut r1 = Host::router("R1", opts.stack(2));
    r1.add_interface(mac(2, 0), 1500, cidr([10, 0, 1, 1], 24));
    let r1_east = r1.add_interface(mac(2, 1), 1500, cidr([10, 0, 2, 1], 24));
    r1.stack_mut()
        .add_route(
            cidr([10, 0, 3, 0], 24),
            Some(Ipv4Addr::new(10, 0, 2, 2)),
            r1_east,
        )
        .expect("interface exists");
    let mut r2 = Host::router("R2", opts.stack(3));
    r2.add_interface(mac(3, 0), 1500, cidr([10, 0, 2, 2], 24));
    r2.add_interface(mac(3, 1), mtu3, cidr([10, 0, 3, 1], 24));
    r2.stack_mut()
        .set_default_gateway(Ipv4Addr::new(10, 0, 2, 1))
        .expect("gateway on a connected prefix");
    let mut b = Host::new("B", opts.stack(4));
    b.add_interface(mac(4, 0), mtu3, cidr([10, 0, 3, 10], 24));
    b.stack_mut()
        .set_default_gateway(Ipv4Addr::new(10, 0, 3, 1))
        .expect("gateway on a connected prefix");
    let (a, r1, r2, b) = (
        sim.add_node(Box::new(a)),
        sim.add_node(Box::new(r1)),
        sim.add_node(Box::new(r2)),
        sim.add_node(Box::new(b)),
    );
    let sw1 = sim.add_node(Box::new(Switch::named("sw1", 2)));
    let sw2 = sim.add_node(Box::new(Switch::named("sw2", 2)));
    let link = opts.link();
    sim.connect((a, 0), (sw1, 0), link.clone())?;
    sim.connect((r1, 0), (sw1, 1), link.clone())?;
    sim.connect((r1, 1), (sw2, 0), link.clone())?;
    sim.connect((r2, 0), (sw2, 1), link.clone())?;
    let mut last = link;
    last.max_frame = last.max_frame.max(mtu3 + 14);
    sim.connect((r2, 1), (b, 0), last)?;
    if let Some(out) = opts.pcap.take() {
        sim.tap_port(a, 0, out)?;
    }
    Ok(RoutedPath { sim, a, r1, r2, b })
}

/// One line of a traceroute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// TTL of the probes.
    pub ttl: u8,
    /// Per probe: who answered, after how long, with what; `None` when
    /// nothing came back within a second.
    pub probes: Vec<Option<(Ipv4Addr, Duration, IcmpErrorKind)>>,
}

/// What the `traceroute` scenario found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracerouteReport {
    /// Destination.
    pub dst: Ipv4Addr,
    /// Hops in order.
    pub hops: Vec<Hop>,
    /// True when the destination answered (port unreachable).
    pub reached: bool,
}

impl TracerouteReport {
    /// The first responder of each hop (`None` for a silent hop).
    pub fn hop_addresses(&self) -> Vec<Option<Ipv4Addr>> {
        self.hops
            .iter()
            .map(|h| h.probes.iter().flatten().map(|p| p.0).next())
            .collect()
    }
}

impl fmt::Display for TracerouteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "traceroute to {}, {} hops max, UDP probes", self.dst, 30)?;
        for h in &self.hops {
            let mut line = format!("{:2} ", h.ttl);
            let mut shown: Option<Ipv4Addr> = None;
            for p in &h.probes {
                match p {
                    Some((from, rtt, _)) => {
                        if shown != Some(*from) {
                            let _ = write!(line, " {from} ");
                            shown = Some(*from);
                        }
                        let _ = write!(line, " {:.3} ms", rtt.as_nanos() as f64 / 1e6);
                    }
                    None => line.push_str(" *"),
                }
            }
            writeln!(f, "{line}")?;
        }
        if self.reached {
            write!(f, "reached {} (port unreachable)", self.dst)
        } else {
            write!(f, "did not reach {}", self.dst)
        }
    }
}

/// `strata sim traceroute`: UDP probes from A to B with TTL 1, 2, 3…
/// (`count` per hop, to ports 33434 and up); each router answers with
/// time exceeded, B with port unreachable.
pub fn traceroute(mut opts: ScenarioOptions) -> Result<(TracerouteReport, Sim), SimError> {
    let RoutedPath { mut sim, a, .. } = routed_path(&mut opts, 1500)?;
    let dst = Ipv4Addr::new(10, 0, 3, 10);
    let sock = sim
        .with_node(a, |h: &mut Host, _| h.stack_mut().udp_bind(None, 0))
        .expect("A is a host")
        .expect("ephemeral port");
    sim.run_until(Instant::from_millis(1));
    let mut hops = Vec::new();
    let mut reached = false;
    let mut port = 33434u16;
    for ttl in 1..=30u8 {
        let mut probes = Vec::new();
        for _ in 0..opts.count.max(1) {
            port = port.wrapping_add(1);
            let to = dst;
            let sent = sim.now();
            sim.with_node(a, |h: &mut Host, now| {
                h.take_events();
                let s = h.stack_mut();
                let _ = s.udp_set_ttl(sock, Some(ttl));
                let _ = s.udp_send_to(
                    now,
                    sock,
                    std::net::SocketAddrV4::new(to, port),
                    b"strata traceroute probe",
                );
            });
            let p = port;
            sim.run_until_condition(sent + Duration::from_secs(1), |sim| {
                sim.node::<Host>(a).is_some_and(|h| {
                    h.events().iter().any(|(_, e)| {
                        matches!(e, Event::UdpError { error, .. } if error.original.dst_port == p)
                    })
                })
            });
            let evs = sim
                .with_node(a, |h: &mut Host, _| h.take_events())
                .unwrap_or_default();
            let got = evs.iter().find_map(|(t, e)| match e {
                Event::UdpError { error, .. } if error.original.dst_port == p => {
                    Some((error.from, t.saturating_duration_since(sent), error.kind))
                }
                _ => None,
            });
            if !matches!(got, Some((_, _, IcmpErrorKind::TtlExceeded)) | None) {
                reached = true;
            }
            probes.push(got);
            // Let stragglers drain before the next probe.
            sim.run_until(sent + Duration::from_secs(1));
        }
        hops.push(Hop { ttl, probes });
        if reached {
            break;
        }
    }
    sim.flush_taps()?;
    Ok((TracerouteReport { dst, hops, reached }, sim))
}

/// What the `udp` scenario saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpEchoReport {
    /// Datagrams the client sent.
    pub sent: u16,
    /// Sequence numbers whose echo came back, in arrival order.
    pub echoed: Vec<u16>,
    /// Datagrams the server received (before echoing).
    pub server_received: u64,
    /// The client's ephemeral port.
    pub client_port: u16,
    /// ICMP (or ARP failure) errors the client socket reported.
    pub errors: Vec<IcmpErrorKind>,
    /// Datagrams the client's ARP queue dropped while resolving the server
    /// (the queue is bounded; the oldest go first).
    pub arp_queue_drops: u64,
}

impl UdpEchoReport {
    /// Sequence numbers that never came back.
    pub fn lost(&self) -> Vec<u16> {
        (1..=self.sent)
            .filter(|s| !self.echoed.contains(s))
            .collect()
    }
}

impl fmt::Display for UdpEchoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "UDP echo: client 10.0.0.1:{} → server 10.0.0.2:7",
            self.client_port
        )?;
        writeln!(
            f,
            "sent {}, server got {}, echoes back {}",
            self.sent,
            self.server_received,
            self.echoed.len()
        )?;
        let lost = self.lost();
        if lost.is_empty() {
            write!(f, "nothing lost")?;
        } else {
            write!(
                f,
                "lost for good: {:?} (UDP has no acknowledgement and no retransmission)",
                lost
            )?;
        }
        if self.arp_queue_drops > 0 {
            write!(
                f,
                "\n{} datagrams dropped from the full ARP queue while the server's address was being resolved",
                self.arp_queue_drops
            )?;
        }
        if !self.errors.is_empty() {
            write!(
                f,
                "\nerrors on the client socket: {}",
                self.errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        let mut sorted = self.echoed.clone();
        sorted.sort_unstable();
        if sorted != self.echoed {
            write!(f, "\nechoes arrived out of order: {:?}", self.echoed)?;
        }
        Ok(())
    }
}

/// `strata sim udp`: a client with an ephemeral port sends `count`
/// numbered datagrams, 100 ms apart, to an echo server on port 7; with
/// `--loss` some never come back, and nobody notices but the counter.
pub fn udp_echo(mut opts: ScenarioOptions) -> Result<(UdpEchoReport, Sim), SimError> {
    let Lan { mut sim, a, b, .. } = lan(&mut opts)?;
    let srv = sim
        .with_node(b, |h: &mut Host, _| {
            let s = h.stack_mut().udp_bind(None, 7).expect("port 7 free");
            // The echo server: answer every datagram as it arrives.
            h.set_app(Box::new(move |now, stack, ev| {
                if *ev == Event::UdpReadable(s) {
                    while let Ok(Some(d)) = stack.udp_recv_from(s) {
                        let _ = stack.udp_send_to(now, s, d.from, &d.payload);
                    }
                }
            }));
            s
        })
        .expect("B is a host");
    let cli = sim
        .with_node(a, |h: &mut Host, _| h.stack_mut().udp_bind(None, 0))
        .expect("A is a host")
        .expect("ephemeral port");
    let client_port = sim
        .node::<Host>(a)
        .and_then(|h| h.stack().udp_local_addr(cli).ok())
        .map_or(0, |s| s.port());
    let server = std::net::SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 7);
    sim.run_until(Instant::from_millis(1));
    for seq in 1..=opts.count {
        sim.with_node(a, |h: &mut Host, now| {
            let _ =
                h.stack_mut()
                    .udp_send_to(now, cli, server, format!("datagram {seq}").as_bytes());
        });
        sim.run_for(Duration::from_millis(100));
    }
    sim.run_for(Duration::from_secs(5));
    let mut echoed = Vec::new();
    let mut errors = Vec::new();
    sim.with_node(a, |h: &mut Host, _| loop {
        match h.stack_mut().udp_recv_from(cli) {
            Ok(Some(d)) => {
                if let Some(n) = std::str::from_utf8(&d.payload)
                    .ok()
                    .and_then(|s| s.strip_prefix("datagram "))
                    .and_then(|n| n.parse().ok())
                {
                    echoed.push(n);
                }
            }
            Ok(None) => break,
            Err(strata::transport::udp::UdpError::Icmp(e)) => errors.push(e.kind),
            Err(_) => break,
        }
    });
    let arp_queue_drops = sim
        .node::<Host>(a)
        .map_or(0, |h| h.stack().stats().arp.queue_drops);
    let server_received = sim
        .node::<Host>(b)
        .and_then(|h| h.stack().udp_socket_stats(srv).ok())
        .map_or(0, |s| s.received);
    sim.flush_taps()?;
    Ok((
        UdpEchoReport {
            sent: opts.count,
            echoed,
            server_received,
            client_port,
            errors,
            arp_queue_drops,
        },
        sim,
    ))
}
