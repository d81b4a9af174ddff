//! `strata demo`: the lesson in one command.
//!
//! Two hosts — a client (a laptop with an Intel NIC) and a server (a
//! Raspberry Pi) — on a simulated switched LAN. The client resolves the
//! server's MAC with ARP, opens TCP to port 80 from an ephemeral port, sends
//! an HTTP GET, receives the page, and both sides close with the four-way
//! close; TIME_WAIT expires in virtual time. Everything printed comes from
//! the real run of the stack: the ladder diagram, the summary and the pcap.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use strata::stack::{Event, Stack, StackConfig};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{State as TcpState, TcpEvent, TcpHandle};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::MacAddr;
use strata_sim::host::Host;
use strata_sim::{LinkConfig, LinkId, NodeId, PcapWriter, Sim, Switch};

use crate::ladder::{Entry, Ladder, Party, Side};

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
}

/// `strata demo` arguments.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  strata demo                          # ARP → handshake → HTTP GET → 200 → four-way close
  strata demo --loss 20% --seed 7      # the same over a lossy wire: watch retransmissions
  strata demo --scenario echo --svg ladder.svg
  strata demo --scenario ping --no-color | less")]
pub struct DemoArgs {
    /// Which exchange to run.
    #[arg(long, value_enum, default_value = "http")]
    pub scenario: Scenario,
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
    /// Plain text even on a terminal.
    #[arg(long)]
    pub no_color: bool,
}

/// The client: a laptop with an Intel NIC.
pub const CLIENT_MAC: MacAddr = MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5e]);
/// The server: a Raspberry Pi.
pub const SERVER_MAC: MacAddr = MacAddr([0xb8, 0x27, 0xeb, 0x5e, 0x12, 0xa4]);
/// Client address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
/// Server address.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 20);

const PAGE: &str = "<!doctype html>\n<html><head><title>strata</title></head>\n<body><h1>Hello from strata</h1>\n<p>This page crossed every layer: HTTP in TCP in IPv4 in Ethernet.</p></body></html>\n";

/// Everything a run produced.
pub struct Outcome {
    /// The diagram.
    pub ladder: Ladder,
    /// The pcap bytes.
    pub pcap: Vec<u8>,
    /// Lines of the summary.
    pub summary: Vec<String>,
}

struct Lan {
    sim: Sim,
    client: NodeId,
    server: NodeId,
    /// client→switch, switch→client, server→switch, switch→server
    links: [LinkId; 4],
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

fn lan(seed: u64, loss: f64) -> Result<Lan> {
    let mut sim = Sim::new(seed);
    let link = LinkConfig::default()
        .with_latency(LATENCY)
        .with_bandwidth(RATE)
        .with_loss(loss);
    let mut host = |name: &str, mac: MacAddr, ip: Ipv4Addr, salt: u64| {
        let config = StackConfig {
            seed: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt,
            ..StackConfig::default()
        };
        let mut h = Host::new(name, config);
        h.add_interface(mac, 1500, Ipv4Cidr::new(ip, 24).expect("/24"));
        sim.add_node(Box::new(h))
    };
    let client = host("client", CLIENT_MAC, CLIENT_IP, 1);
    let server = host("server", SERVER_MAC, SERVER_IP, 2);
    let switch = sim.add_node(Box::new(Switch::named("switch", 2)));
    let (c_up, c_down) = sim.connect((client, 0), (switch, 0), link.clone())?;
    let (s_up, s_down) = sim.connect((server, 0), (switch, 1), link)?;
    let links = [c_up, c_down, s_up, s_down];
    for l in links {
        sim.log_offers(l);
    }
    Ok(Lan {
        sim,
        client,
        server,
        links,
    })
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

/// Runs one scenario and returns its ladder, pcap and summary.
pub fn run(scenario: Scenario, seed: u64, loss: f64) -> Result<Outcome> {
    let Lan {
        mut sim,
        client,
        server,
        links,
    } = lan(seed, loss)?;
    let [c_up, c_down, s_up, s_down] = links;
    // What a capture on the client's NIC sees: every frame it sends (at send
    // time, even if the wire loses it later) and every frame delivered to it.
    let inbound = sim.tap_memory(c_down)?;
    let (l, r) = parties();
    let mut ladder = Ladder::new(l, r);
    let mut summary = Vec::new();
    match scenario {
        Scenario::Http | Scenario::Echo => tcp_exchange(
            &mut sim,
            client,
            server,
            scenario,
            &mut ladder,
            &mut summary,
        )?,
        Scenario::Udp => udp_exchange(&mut sim, client, server, &mut summary)?,
        Scenario::Ping => ping_exchange(&mut sim, client, &mut summary)?,
        Scenario::Traceroute | Scenario::Storm => {
            bail!("the {scenario:?} scenario has more than two nodes: run it with `strata sim`")
        }
    }
    sim.flush_taps()?;
    let delivered = strata_sim::pcap::parse(sim.tap_bytes(inbound).context("memory tap")?)
        .context("reading our own pcap")?;
    let log = sim.offer_log();
    // The ladder: each host's frames at their send time; lost when either
    // hop (host→switch, switch→host) dropped them.
    for (up, down) in [(c_up, s_down), (s_up, c_down)] {
        let mut second_hop: Vec<&strata_sim::Offered> =
            log.iter().filter(|o| o.link == down).collect();
        for o in log.iter().filter(|o| o.link == up) {
            let lost = o.dropped.is_some() || {
                // The switch forwards the same bytes: match the first
                // unmatched copy on the next hop.
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
    }
    // Arrivals first at equal times: a host answers at the instant a frame
    // arrives, and the stable sort keeps cause before effect.
    let mut pcap_frames: Vec<(Instant, &[u8])> = delivered
        .iter()
        .map(|r| (r.ts, r.data.as_slice()))
        .chain(
            log.iter()
                .filter(|o| o.link == c_up)
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
            1,
            format!(
                "rtt         {} (client's SYN sent → SYN/ACK received)",
                fmt_dur(rtt)
            ),
        );
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
    summary.push(format!(
        "frames      {frames} on the client's cable, {wire} bytes in all"
    ));
    summary.push(format!(
        "layers      Ethernet {eth} B · IPv4/ARP {net} B · TCP/UDP/ICMP {tr} B · application {app} B (padding {} B)",
        wire.saturating_sub(eth + net + tr + app)
    ));
    summary.push(format!(
        "retrans     {} TCP retransmissions seen on the wire",
        ladder.retransmissions()
    ));
    Ok(Outcome {
        ladder,
        pcap,
        summary,
    })
}

/// Application state of one side of the TCP scenarios.
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
    /// Errors reported by the stack.
    errors: Vec<String>,
    /// When the peer's FIN arrived (client side).
    peer_closed_at: Option<Instant>,
}

fn tcp_exchange(
    sim: &mut Sim,
    client: NodeId,
    server: NodeId,
    scenario: Scenario,
    ladder: &mut Ladder,
    summary: &mut Vec<String>,
) -> Result<()> {
    let port = if scenario == Scenario::Http { 80 } else { 7 };
    let log = Rc::new(RefCell::new(AppLog::default()));
    let request: Vec<u8> = match scenario {
        Scenario::Http => format!("GET / HTTP/1.1\r\nHost: {SERVER_IP}\r\nUser-Agent: strata-demo\r\nConnection: close\r\n\r\n").into_bytes(),
        _ => b"hello, strata\nthe layers, one by one\n".to_vec(),
    };

    // Server: accept, read the request, answer, close.
    let slog = log.clone();
    let is_http = scenario == Scenario::Http;
    let mut pending: Vec<u8> = Vec::new();
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
    let serve = move |now: Instant,
                      stack: &mut Stack,
                      c: TcpHandle,
                      pending: &mut Vec<u8>,
                      slog: &Rc<RefCell<AppLog>>| {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stack.tcp_recv(c, &mut buf) {
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
        }
        let complete = if is_http {
            pending.windows(4).any(|w| w == b"\r\n\r\n")
        } else {
            !pending.is_empty()
        };
        if !complete {
            return;
        }
        let reply = if is_http {
            let mut r = format!("HTTP/1.1 200 OK\r\nServer: strata\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", PAGE.len()).into_bytes();
            r.extend_from_slice(PAGE.as_bytes());
            slog.borrow_mut()
                .notes
                .push((now, Side::Right, "app: GET / → 200 OK".into()));
            r
        } else {
            slog.borrow_mut().notes.push((
                now,
                Side::Right,
                format!("app: echo {} bytes", pending.len()),
            ));
            pending.clone()
        };
        pending.clear();
        let _ = stack.tcp_send(c, &reply);
        if is_http {
            // HTTP/1.1 with "Connection: close": the server closes first.
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
                        slog.borrow_mut()
                            .notes
                            .push((now, Side::Right, "app: accept()".into()));
                        // The request may already be queued: read it now.
                        serve(now, stack, c, &mut pending, &slog);
                    }
                }
                TcpEvent::Readable(c) if Some(c) == server_conn => {
                    serve(now, stack, c, &mut pending, &slog);
                }
                TcpEvent::PeerClosed(c) if Some(c) == server_conn => {
                    let _ = stack.tcp_close(now, c);
                }
                _ => {}
            }
        }));
    });

    // Both hosts announce themselves (gratuitous ARP) when their address is
    // configured; let that settle so the exchange starts on a quiet wire.
    sim.run_for(Duration::from_millis(1));

    // Client: connect, send the request, read until EOF, close.
    let clog = log.clone();
    let mut req = Some(request.clone());
    let conn = sim
        .with_node::<Host, _>(client, |h, now| {
            clog.borrow_mut().started_at = Some(now);
            h.stack_mut()
                .tcp_connect(now, SocketAddrV4::new(SERVER_IP, port))
        })
        .context("client node")??;
    let clog = log.clone();
    let expected_len = request.len();
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
                            "app: send GET /"
                        } else {
                            "app: send 2 lines"
                        };
                        l.notes.push((now, Side::Left, what.into()));
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
                    if !is_http && clog.borrow().received.len() >= expected_len {
                        let _ = stack.tcp_close(now, c);
                    }
                }
                TcpEvent::PeerClosed(c) if c == conn => {
                    clog.borrow_mut().peer_closed_at = Some(now);
                }
                TcpEvent::Reset(_) | TcpEvent::Refused(_) | TcpEvent::TimedOut(_) => {
                    clog.borrow_mut().errors.push(format!("{ev:?}"));
                }
                _ => {}
            }
        }));
    });

    // The client reads until the server's FIN, then — after a moment of
    // application "think time", so the four segments of the close are
    // distinct as in the lesson's figure — closes its side.
    let watch = log.clone();
    sim.run_until_condition(Instant::from_secs(120), move |_| {
        watch.borrow().peer_closed_at.is_some() || !watch.borrow().errors.is_empty()
    });
    sim.run_for(Duration::from_millis(1));
    let closing = log.clone();
    sim.with_node::<Host, _>(client, move |h, now| {
        if closing.borrow().peer_closed_at.is_some() {
            closing
                .borrow_mut()
                .notes
                .push((now, Side::Left, "app: close()".into()));
            let _ = h.stack_mut().tcp_close(now, conn);
        }
    });
    // Long enough for TIME_WAIT (2×MSL, 60 s) to expire in virtual time.
    sim.run_until_idle(Instant::from_secs(600));

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
    if !log.errors.is_empty() {
        bail!("the exchange failed: {}", log.errors.join(", "));
    }
    let body_ok = if is_http {
        log.received.ends_with(PAGE.as_bytes()) && log.received.starts_with(b"HTTP/1.1 200 OK")
    } else {
        log.received == request
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
    let what = if is_http {
        "HTTP GET / → 200 OK, page"
    } else {
        "echoed"
    };
    summary.push(format!(
        "app         {what} {} bytes, checked byte for byte",
        if is_http { PAGE.len() } else { request.len() }
    ));
    for (id, who) in [(client, "client"), (server, "server")] {
        let st = sim
            .node::<Host>(id)
            .context("host")?
            .stack()
            .tcp_stats()
            .clone();
        summary.push(format!(
            "tcp         {who}: {} segments out, {} in, {} retransmitted ({} by timeout, {} fast)",
            st.segments_out, st.segments_in, st.retransmits, st.rto_expired, st.fast_retransmits
        ));
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
    let color =
        !args.no_color && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let out = run(args.scenario, args.seed, args.loss)?;
    let title = match args.scenario {
        Scenario::Http => "a browser fetches a page from a web server (B/S) over a switched LAN",
        Scenario::Echo => "a client talks to a TCP echo server (C/S) over a switched LAN",
        Scenario::Udp => "UDP datagrams to an echo server over a switched LAN",
        Scenario::Ping => "ping: ICMP echo request and reply over a switched LAN",
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
    println!(
        "seed {} · loss {}% · replay with: strata demo --scenario {} --seed {} --loss {}",
        args.seed,
        args.loss * 100.0,
        format!("{:?}", args.scenario).to_lowercase(),
        args.seed,
        args.loss
    );
    println!();
    print!("{}", out.ladder.render_text(color));
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
            .render_text(false)
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
        assert_eq!(a.ladder.render_text(false), b.ladder.render_text(false));
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
            let t = out.ladder.render_text(false);
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
