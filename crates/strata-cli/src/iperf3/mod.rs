//! `strata iperf3`: a throughput test that speaks the iperf3 protocol, so
//! either end may be the real `iperf3` (see [`proto`] for the protocol).
//!
//! The client (`-c HOST`) and the server (`-s`) run on the strata stack
//! attached to a TAP device. Each data stream has a thread that sends or
//! receives; the main thread prints a line per stream every interval (`-i`)
//! and, at the end, the summary with both sides' counts: the sender's bytes
//! and (TCP) retransmissions, the receiver's bytes, and (UDP) jitter and
//! lost datagrams as the receiver saw them.

pub mod proto;
pub mod report;
pub mod sim;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _};
use clap::Args;
use strata_io::runtime::Runtime;
use strata_io::tcp::{TcpListener, TcpStream};
use strata_io::udp::UdpSocket;

use crate::tapnet::{usage, TapArgs};
use proto::{Params, Proto, Results, State, StreamResult, UdpRx};

/// With `-J` the text lines give way to one JSON document at the end.
static JSON_MODE: AtomicBool = AtomicBool::new(false);

/// `println!` unless the output is JSON.
macro_rules! say {
    ($($t:tt)*) => {
        if !JSON_MODE.load(Ordering::Relaxed) {
            println!($($t)*);
        }
    };
}

/// Arguments of `strata iperf3`.
#[derive(Args, Debug)]
#[command(
    group(clap::ArgGroup::new("role").required(true).args(["server", "client"])),
    after_help = "Examples:
  strata iperf3 -s --tap tap0 --addr 10.20.0.2/24                 # then: iperf3 -c 10.20.0.2
  strata iperf3 -c 10.20.0.1 --tap tap0 --addr 10.20.0.2/24 -t 5  # against: iperf3 -s
  strata iperf3 -c 10.20.0.1 --tap tap0 --addr 10.20.0.2/24 -u -b 10M -R
  strata sim bulk --bytes 50M                                     # the same in the simulator

Works with the iperf3 tool (3.x) in either role: TCP and UDP, -R, -P, -t, -n."
)]
pub struct Iperf3Args {
    #[command(flatten)]
    net: TapArgs,
    /// Run as the server.
    #[arg(short = 's', long)]
    server: bool,
    /// Run as the client, testing against the server at HOST.
    #[arg(short = 'c', long, value_name = "HOST")]
    client: Option<Ipv4Addr>,
    /// Server port.
    #[arg(short = 'p', long, default_value_t = proto::DEFAULT_PORT, allow_negative_numbers = true,
          value_parser = crate::units::parse_port)]
    port: u16,
    /// Seconds to transmit (client; ignored with -n).
    #[arg(short = 't', long, default_value_t = 10.0, allow_negative_numbers = true,
          value_parser = crate::units::parse_seconds)]
    time: f64,
    /// Bytes to transmit instead of a time (client): 10M, 1G, 500k.
    #[arg(short = 'n', long, value_name = "SIZE", allow_hyphen_values = true,
          value_parser = crate::units::parse_bytes)]
    bytes: Option<u64>,
    /// Parallel streams (client).
    #[arg(short = 'P', long, default_value_t = 1, allow_negative_numbers = true,
          value_parser = parse_parallel)]
    parallel: u32,
    /// Reverse: the server sends, the client receives (client).
    #[arg(short = 'R', long)]
    reverse: bool,
    /// UDP instead of TCP (client).
    #[arg(short = 'u', long)]
    udp: bool,
    /// Target rate per stream (client), 1M by default for UDP, unlimited
    /// for TCP: 10M, 1G (bit/s, decimal prefixes).
    #[arg(short = 'b', long, value_name = "RATE", allow_hyphen_values = true,
          value_parser = crate::units::parse_rate)]
    bitrate: Option<u64>,
    /// Write size (TCP, default 128 KiB) or datagram payload (UDP, default
    /// 1460 bytes) (client).
    #[arg(short = 'l', long, value_name = "SIZE", allow_hyphen_values = true,
          value_parser = crate::units::parse_bytes)]
    length: Option<u64>,
    /// Seconds between interval reports (0: none).
    #[arg(short = 'i', long, default_value_t = 1.0, allow_negative_numbers = true,
          value_parser = crate::units::parse_seconds)]
    interval: f64,
    /// Client: print one JSON document at the end instead of text (the
    /// fields of iperf3 -J that strata fills: start.test_start,
    /// end.streams, end.sum_sent, end.sum_received, end.sum for UDP).
    #[arg(short = 'J', long)]
    json: bool,
    /// Server: handle one test, then exit.
    #[arg(short = '1', long)]
    one_off: bool,
    /// Seconds the client waits for the connection to open.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true,
          value_parser = crate::units::parse_u64)]
    connect_timeout: u64,
}

/// A stream count, 1 to 128.
pub fn parse_parallel(s: &str) -> Result<u32, String> {
    match crate::units::parse_whole(s, 128)? {
        0 => Err("at least one stream is needed".into()),
        n => Ok(n as u32),
    }
}

/// Runs `strata iperf3`.
pub fn run(args: &Iperf3Args) -> anyhow::Result<()> {
    let client_only = [
        ("-R", args.reverse),
        ("-u", args.udp),
        ("-n", args.bytes.is_some()),
        ("-b", args.bitrate.is_some()),
        ("-l", args.length.is_some()),
        ("-P", args.parallel != 1),
    ];
    if args.server {
        if let Some((flag, _)) = client_only.iter().find(|(_, set)| *set) {
            return usage(format!(
                "{flag} is a client option: the client tells the server what to do"
            ));
        }
        if args.json {
            return usage("-J is a client option here");
        }
    } else if args.one_off {
        return usage("-1 is a server option");
    }
    JSON_MODE.store(args.json, Ordering::Relaxed);
    if args.client.is_some() && args.bytes.is_none() && args.time <= 0.0 {
        return usage("-t must be above 0 seconds (or give -n)");
    }
    let len = match args.length {
        None => None,
        Some(l) if args.udp && !(16..=65507).contains(&l) => {
            return usage(format!(
                "-l {l}: a UDP datagram carries 16 to 65507 bytes here"
            ))
        }
        Some(l) if !(1..=1 << 24).contains(&l) => {
            return usage(format!("-l {l}: give 1 byte to 16 MiB"))
        }
        Some(l) => Some(l as usize),
    };
    let rt = args.net.start("iperf3")?;
    let interval = (args.interval > 0.0).then(|| Duration::from_secs_f64(args.interval));
    match args.client {
        Some(host) => {
            let proto = if args.udp { Proto::Udp } else { Proto::Tcp };
            let params = Params {
                proto,
                time: if args.bytes.is_some() { 0.0 } else { args.time },
                bytes: args.bytes.unwrap_or(0),
                parallel: args.parallel,
                reverse: args.reverse,
                len: len.unwrap_or(match proto {
                    Proto::Tcp => proto::DEFAULT_TCP_LEN,
                    Proto::Udp => proto::DEFAULT_UDP_LEN,
                }),
                bandwidth: args.bitrate.unwrap_or(match proto {
                    Proto::Tcp => 0,
                    Proto::Udp => proto::DEFAULT_UDP_RATE,
                }),
                udp64: false,
            };
            client(
                &rt,
                SocketAddrV4::new(host, args.port),
                &params,
                interval,
                Duration::from_secs(args.connect_timeout.max(1)),
            )
        }
        None => server(&rt, args.port, interval, args.one_off),
    }
}

/// What a stream's worker has counted so far.
#[derive(Debug, Default)]
struct Counters {
    /// Payload bytes sent or received.
    bytes: AtomicU64,
    /// UDP datagrams sent.
    packets: AtomicU64,
    /// UDP receive accounting.
    rx: Mutex<UdpRx>,
    /// Why the worker stopped early, if it did.
    error: Mutex<Option<String>>,
}

/// One data stream.
struct Stream {
    id: u32,
    /// This side sends on it.
    sender: bool,
    tcp: Option<Arc<TcpStream>>,
    udp: Option<(Arc<UdpSocket>, SocketAddr)>,
    counters: Arc<Counters>,
    worker: Option<JoinHandle<()>>,
}

impl Stream {
    fn result(&self, rt: &Runtime, seconds: f64) -> StreamResult {
        let c = &self.counters;
        let rx = *c.rx.lock().unwrap_or_else(|e| e.into_inner());
        let udp = self.udp.is_some();
        StreamResult {
            id: self.id,
            bytes: c.bytes.load(Ordering::Relaxed),
            retransmits: if self.sender && !udp {
                tcp_info(rt, self).map_or(0, |(r, _)| r as i64)
            } else {
                -1
            },
            jitter: if udp && !self.sender { rx.jitter } else { 0.0 },
            errors: if udp && !self.sender {
                rx.lost.max(0)
            } else {
                0
            },
            packets: if !udp {
                0
            } else if self.sender {
                c.packets.load(Ordering::Relaxed) as i64
            } else {
                rx.highest as i64
            },
            seconds,
        }
    }
}

/// Retransmissions and congestion window of a TCP stream, from the stack.
fn tcp_info(rt: &Runtime, s: &Stream) -> Option<(u64, usize)> {
    let h = s.tcp.as_ref()?.handle();
    rt.with_stack(|st| st.tcp().info(h).ok().map(|i| (i.retransmits, i.cwnd)))
        .ok()
        .flatten()
}

/// Starts the worker of each stream.
fn start_workers(
    streams: &mut [Stream],
    p: &Params,
    stop: &Arc<AtomicBool>,
    total: &Arc<AtomicU64>,
) {
    let start = Instant::now();
    for s in streams.iter_mut() {
        let c = s.counters.clone();
        let stop = stop.clone();
        let p = p.clone();
        let sender = Sender {
            c: c.clone(),
            stop: stop.clone(),
            total: total.clone(),
            limit: (p.bytes > 0).then_some(p.bytes),
            p: p.clone(),
            start,
        };
        let work: Box<dyn FnOnce() -> io::Result<()> + Send> = match (&s.tcp, &s.udp, s.sender) {
            (Some(t), _, true) => {
                let t = t.clone();
                Box::new(move || tcp_send(&t, &sender))
            }
            (Some(t), _, false) => {
                let t = t.clone();
                Box::new(move || tcp_recv(&t, &c, &stop))
            }
            (None, Some((u, peer)), true) => {
                let (u, peer) = (u.clone(), *peer);
                Box::new(move || udp_send(&u, peer, &sender))
            }
            (None, Some((u, _)), false) => {
                let u = u.clone();
                let udp64 = p.udp64;
                Box::new(move || udp_recv(&u, None, std::slice::from_ref(&c), &stop, udp64))
            }
            (None, None, _) => continue,
        };
        let c = s.counters.clone();
        s.worker = Some(std::thread::spawn(move || {
            if let Err(e) = work() {
                *c.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
            }
        }));
    }
}

/// Waits for every worker (they watch `stop`).
fn join_workers(streams: &mut [Stream]) {
    for s in streams.iter_mut() {
        if let Some(w) = s.worker.take() {
            let _ = w.join();
        }
    }
}

/// How often a blocked worker looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sleeps until `bytes` sent at `rate` bit/s since `start` are due.
fn pace(rate: u64, start: Instant, bytes: u64, stop: &AtomicBool) {
    if rate == 0 {
        return;
    }
    let due = start + Duration::from_secs_f64(bytes as f64 * 8.0 / rate as f64);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= due {
            return;
        }
        std::thread::sleep((due - now).min(POLL));
    }
}

/// What a sending worker goes by: its counters, the stop flag, the bytes
/// all streams sent together and their limit (`-n`), the paced rate
/// (`-b`) since `start`.
struct Sender {
    c: Arc<Counters>,
    stop: Arc<AtomicBool>,
    total: Arc<AtomicU64>,
    limit: Option<u64>,
    p: Params,
    start: Instant,
}

impl Sender {
    /// A block of `-l` bytes to send (a repeating pattern).
    fn block(&self) -> Vec<u8> {
        (0..self.p.len).map(|i| (i % 251) as u8).collect()
    }

    /// True while another block is to go: not stopped and the limit not
    /// reached, once the rate allows it (waits until then).
    fn go_on(&self) -> bool {
        if self.stop.load(Ordering::Relaxed)
            || self
                .limit
                .is_some_and(|n| self.total.load(Ordering::Relaxed) >= n)
        {
            return false;
        }
        let sent = self.c.bytes.load(Ordering::Relaxed);
        pace(self.p.bandwidth, self.start, sent, &self.stop);
        true
    }

    /// Counts `n` bytes sent.
    fn sent(&self, n: usize) {
        self.c.bytes.fetch_add(n as u64, Ordering::Relaxed);
        self.total.fetch_add(n as u64, Ordering::Relaxed);
    }
}

fn tcp_send(t: &TcpStream, s: &Sender) -> io::Result<()> {
    t.set_write_timeout(Some(POLL))?;
    let block = s.block();
    while s.go_on() {
        match (&mut &*t).write(&block) {
            Ok(n) => s.sent(n),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn tcp_recv(t: &TcpStream, c: &Counters, stop: &AtomicBool) -> io::Result<()> {
    t.set_read_timeout(Some(POLL))?;
    let mut buf = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match (&mut &*t).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                c.bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Seconds and microseconds of the wall clock, as iperf3 stamps datagrams.
fn wall_clock() -> (u32, u32) {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as u32, d.subsec_micros())
}

fn udp_send(u: &UdpSocket, peer: SocketAddr, s: &Sender) -> io::Result<()> {
    let mut buf = s.block();
    let mut count = 0u64;
    while s.go_on() {
        if s.stop.load(Ordering::Relaxed) {
            break;
        }
        count += 1;
        let (secs, us) = wall_clock();
        proto::put_udp_header(&mut buf, s.p.udp64, secs, us, count);
        match u.send_to(&buf, peer) {
            Ok(n) => {
                s.sent(n);
                s.c.packets.fetch_add(1, Ordering::Relaxed);
            }
            // A full queue drops the datagram, as a kernel socket would.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                s.c.packets.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Receives datagrams on `u`; with `peers`, each sender address has its
/// own counters (the server's one socket serves every stream), else all go
/// to `counters[0]`.
fn udp_recv(
    u: &UdpSocket,
    peers: Option<&HashMap<SocketAddr, usize>>,
    counters: &[Arc<Counters>],
    stop: &AtomicBool,
    udp64: bool,
) -> io::Result<()> {
    u.set_read_timeout(Some(POLL))?;
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        match u.recv_from(&mut buf) {
            Ok((n, from)) => {
                let i = match peers {
                    Some(m) => match m.get(&from) {
                        Some(&i) => i,
                        None => continue,
                    },
                    None => 0,
                };
                let Some((s, us, count)) = proto::get_udp_header(&buf[..n], udp64) else {
                    continue;
                };
                let (ns, nus) = wall_clock();
                let sent = f64::from(s) + f64::from(us) / 1e6;
                let arrived = f64::from(ns) + f64::from(nus) / 1e6;
                let c = &counters[i];
                c.bytes.fetch_add(n as u64, Ordering::Relaxed);
                c.rx.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .datagram(count, sent, arrived);
            }
            Err(e) if is_timeout(&e) => {}
            // An ICMP error for an earlier datagram: keep receiving.
            Err(e) if e.kind() != io::ErrorKind::NotConnected => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Prints interval lines: what each stream moved since the last call.
struct Intervals {
    start: Instant,
    last_t: f64,
    last: Vec<(u64, u64, u64)>,
    udp: bool,
    header_done: bool,
}

impl Intervals {
    fn new(streams: &[Stream], udp: bool) -> Self {
        Intervals {
            start: Instant::now(),
            last_t: 0.0,
            last: vec![(0, 0, 0); streams.len()],
            udp,
            header_done: false,
        }
    }

    fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn print(&mut self, rt: &Runtime, streams: &[Stream]) {
        let t = self.elapsed();
        if t - self.last_t < 0.05 {
            return;
        }
        let sender = streams.first().is_some_and(|s| s.sender);
        if !self.header_done {
            let extra = match (self.udp, sender) {
                (false, true) => "         Retr  Cwnd",
                (true, true) => "         Total Datagrams",
                (true, false) => "         Jitter    Lost/Total Datagrams",
                (false, false) => "",
            };
            say!("[ ID] Interval           Transfer     Bitrate{extra}");
            self.header_done = true;
        }
        let mut sum = (0u64, 0u64);
        for (s, last) in streams.iter().zip(self.last.iter_mut()) {
            let bytes = s.counters.bytes.load(Ordering::Relaxed);
            let pk = s.counters.packets.load(Ordering::Relaxed);
            let db = bytes - last.0;
            sum.0 += db;
            let mut l = report::line(Some(s.id), self.last_t, t, db);
            match (self.udp, s.sender) {
                (false, true) => {
                    let (retr, cwnd) = tcp_info(rt, s).unwrap_or((0, 0));
                    l += &format!("  {:>3}   {}", retr - last.2, report::bytes(cwnd as f64));
                    last.2 = retr;
                }
                (true, true) => {
                    l += &format!("  {}", pk - last.1);
                    sum.1 += pk - last.1;
                }
                (true, false) => {
                    let rx = *s.counters.rx.lock().unwrap_or_else(|e| e.into_inner());
                    l += &format!(
                        "  {:.3} ms  {}/{}",
                        rx.jitter * 1e3,
                        rx.lost.max(0),
                        rx.highest
                    );
                }
                (false, false) => {}
            }
            *last = (bytes, pk, last.2);
            say!("{l}");
        }
        if streams.len() > 1 {
            let mut l = report::line(None, self.last_t, t, sum.0);
            if self.udp && sender {
                l += &format!("  {}", sum.1);
            }
            say!("{l}");
        }
        self.last_t = t;
    }
}

/// CPU time this process used so far (user, system), in seconds.
fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage fills the struct it is given; zeroed is a valid
    // starting value for this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid, writable rusage pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (s(ru.ru_utime), s(ru.ru_stime))
}

/// CPU use over a wall-clock span, percent: total, user, system.
fn cpu_percent(before: (f64, f64), wall: f64) -> [f64; 3] {
    let now = cpu_times();
    let (u, s) = (now.0 - before.0, now.1 - before.1);
    let pct = |x: f64| 100.0 * x / wall.max(1e-9);
    [pct(u + s), pct(u), pct(s)]
}

/// The closing summary: for each stream the sender's and the receiver's
/// line, each from the side that did it.
pub fn print_summary(udp: bool, sender: &[StreamResult], receiver: &[StreamResult]) {
    say!("{}", report::RULE);
    if udp {
        say!(
            "[ ID] Interval           Transfer     Bitrate         Jitter    Lost/Total Datagrams"
        );
    } else {
        say!("[ ID] Interval           Transfer     Bitrate         Retr");
    }
    let mut sums = [StreamResult::default(), StreamResult::default()];
    for s in sender {
        let r = receiver
            .iter()
            .find(|r| r.id == s.id)
            .copied()
            .unwrap_or_default();
        for (i, x) in [(0, s), (1, &r)] {
            sums[i].bytes += x.bytes;
            sums[i].seconds = sums[i].seconds.max(x.seconds);
            sums[i].retransmits += x.retransmits.max(0);
            sums[i].errors += x.errors;
            sums[i].packets += x.packets;
            sums[i].jitter += x.jitter / sender.len() as f64;
        }
        print_pair(Some(s.id), udp, s, &r);
    }
    if sender.len() > 1 {
        print_pair(None, udp, &sums[0], &sums[1]);
    }
}

fn print_pair(id: Option<u32>, udp: bool, s: &StreamResult, r: &StreamResult) {
    let total = s.packets.max(1);
    if udp {
        say!(
            "{}  0.000 ms  0/{} (0%)  sender",
            report::line(id, 0.0, s.seconds, s.bytes),
            s.packets
        );
        say!(
            "{}  {:.3} ms  {}/{} ({:.2}%)  receiver",
            report::line(id, 0.0, r.seconds, r.bytes),
            r.jitter * 1e3,
            r.errors,
            s.packets,
            100.0 * r.errors as f64 / total as f64
        );
    } else {
        say!(
            "{}  {:>4}             sender",
            report::line(id, 0.0, s.seconds, s.bytes),
            s.retransmits.max(0)
        );
        say!(
            "{}                  receiver",
            report::line(id, 0.0, r.seconds, r.bytes)
        );
    }
}

/// The end of the test as JSON, in iperf3 -J's shape.
fn summary_json(
    p: &Params,
    sender: &[StreamResult],
    receiver: &[StreamResult],
) -> serde_json::Value {
    use serde_json::json;
    let side = |r: &StreamResult, is_sender: bool| {
        let mut v = json!({
            "id": r.id,
            "bytes": r.bytes,
            "seconds": r.seconds,
            "bits_per_second": r.bytes as f64 * 8.0 / r.seconds.max(1e-9),
            "sender": is_sender,
        });
        if is_sender && p.proto == Proto::Tcp {
            v["retransmits"] = r.retransmits.max(0).into();
        }
        v
    };
    let find = |id: u32| {
        receiver
            .iter()
            .find(|r| r.id == id)
            .copied()
            .unwrap_or_default()
    };
    let streams: Vec<_> = sender
        .iter()
        .map(|s| json!({"sender": side(s, true), "receiver": side(&find(s.id), false)}))
        .collect();
    let total = |rs: &[StreamResult]| StreamResult {
        bytes: rs.iter().map(|r| r.bytes).sum(),
        seconds: rs.iter().map(|r| r.seconds).fold(0.0, f64::max),
        retransmits: rs.iter().map(|r| r.retransmits.max(0)).sum(),
        ..StreamResult::default()
    };
    let mut end = json!({
        "streams": streams,
        "sum_sent": side(&total(sender), true),
        "sum_received": side(&total(receiver), false),
    });
    if p.proto == Proto::Udp {
        let packets: i64 = sender.iter().map(|s| s.packets).sum();
        let lost: i64 = receiver.iter().map(|r| r.errors).sum();
        let jitter = receiver.iter().map(|r| r.jitter).sum::<f64>() / receiver.len().max(1) as f64;
        end["sum"] = json!({
            "bytes": total(receiver).bytes,
            "packets": packets,
            "lost_packets": lost,
            "lost_percent": 100.0 * lost as f64 / packets.max(1) as f64,
            "jitter_ms": jitter * 1e3,
        });
    }
    json!({
        "start": {"test_start": {
            "protocol": if p.proto == Proto::Udp { "UDP" } else { "TCP" },
            "num_streams": p.parallel,
            "blksize": p.len,
            "duration": p.time,
            "bytes": p.bytes,
            "reverse": u8::from(p.reverse),
        }},
        "end": end,
    })
}

fn describe(local: SocketAddr, peer: SocketAddr, id: u32) {
    say!(
        "{} local {} port {} connected to {} port {}",
        report::tag(Some(id)),
        local.ip(),
        local.port(),
        peer.ip(),
        peer.port()
    );
}

/// The client: connects, follows the server's states, runs the streams,
/// prints the summary.
fn client(
    rt: &Runtime,
    server: SocketAddrV4,
    p: &Params,
    interval: Option<Duration>,
    connect_timeout: Duration,
) -> anyhow::Result<()> {
    let h = rt.handle();
    say!("Connecting to host {}, port {}", server.ip(), server.port());
    if p.reverse {
        say!("Reverse mode, remote host {} is sending", server.ip());
    }
    let ctrl = TcpStream::connect_timeout(&h, server, connect_timeout)
        .with_context(|| format!("connecting to {server}"))?;
    ctrl.set_nodelay(true)?;
    ctrl.set_read_timeout(Some(Duration::from_secs(30)))?;
    let cookie = proto::new_cookie()?;
    (&ctrl).write_all(&cookie)?;
    let mut streams: Vec<Stream> = Vec::new();
    let mut mine = Results::default();
    let mut theirs = Results::default();
    loop {
        let state = proto::read_state(&mut &ctrl).context("reading the server's state")?;
        match state {
            State::ParamExchange => proto::write_json(&mut &ctrl, &p.to_json())?,
            State::CreateStreams => {
                for i in 0..p.parallel as usize {
                    let id = proto::stream_id(i);
                    let s = open_stream(&h, server, p, id, &cookie, connect_timeout)?;
                    streams.push(s);
                }
            }
            State::TestStart => {}
            State::TestRunning => {
                mine = run_client_test(rt, &ctrl, &mut streams, p, interval)?;
            }
            State::ExchangeResults => {
                proto::write_json(&mut &ctrl, &mine.to_json())?;
                let v = proto::read_json(&mut &ctrl).context("reading the server's results")?;
                theirs = Results::from_json(&v).map_err(anyhow::Error::msg)?;
            }
            State::DisplayResults => {
                let (snd, rcv) = if p.reverse {
                    (&theirs.streams, &mine.streams)
                } else {
                    (&mine.streams, &theirs.streams)
                };
                if JSON_MODE.load(Ordering::Relaxed) {
                    let v = summary_json(p, snd, rcv);
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
                print_summary(p.proto == Proto::Udp, snd, rcv);
                say!("\niperf Done.");
                proto::send_state(&mut &ctrl, State::IperfDone)?;
                return Ok(());
            }
            State::AccessDenied => bail!("the server is busy running a test. try again later"),
            State::ServerError => {
                let mut b = [0u8; 8];
                (&ctrl).read_exact(&mut b)?;
                let ie = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                let errno = i32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                bail!("the server has failed (iperf error {ie}, errno {errno})");
            }
            State::ServerTerminate => bail!("the server has terminated"),
            other => bail!("unexpected state {other:?} from the server"),
        }
    }
}

/// Opens data stream `id` to the server: TCP with the cookie first, or UDP
/// with the hello exchange.
fn open_stream(
    h: &strata_io::RuntimeHandle,
    server: SocketAddrV4,
    p: &Params,
    id: u32,
    cookie: &[u8],
    timeout: Duration,
) -> anyhow::Result<Stream> {
    let counters = Arc::new(Counters::default());
    match p.proto {
        Proto::Tcp => {
            let t = TcpStream::connect_timeout(h, server, timeout)
                .with_context(|| format!("opening data stream {id} to {server}"))?;
            (&t).write_all(cookie)?;
            describe(t.local_addr()?, t.peer_addr()?, id);
            Ok(Stream {
                id,
                sender: !p.reverse,
                tcp: Some(Arc::new(t)),
                udp: None,
                counters,
                worker: None,
            })
        }
        Proto::Udp => {
            let u = UdpSocket::bind(h, SocketAddr::from(([0, 0, 0, 0], 0)))?;
            u.connect(server)?;
            u.set_read_timeout(Some(Duration::from_secs(1)))?;
            let mut buf = [0u8; 64];
            let mut answered = false;
            for _ in 0..3 {
                u.send_to(&proto::UDP_CONNECT_MSG, server)?;
                match u.recv_from(&mut buf) {
                    Ok((4, _))
                        if buf[..4] == proto::UDP_CONNECT_REPLY
                            || buf[..4] == proto::LEGACY_UDP_CONNECT_REPLY =>
                    {
                        answered = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) if is_timeout(&e) => {}
                    Err(e) => return Err(e).context("UDP hello"),
                }
            }
            if !answered {
                bail!("the server did not answer UDP stream {id}'s hello");
            }
            describe(u.local_addr()?, SocketAddr::V4(server), id);
            Ok(Stream {
                id,
                sender: !p.reverse,
                tcp: None,
                udp: Some((Arc::new(u), SocketAddr::V4(server))),
                counters,
                worker: None,
            })
        }
    }
}

/// Runs the data phase on the client and sends `TEST_END` when the time is
/// up or the bytes have moved; returns this side's results.
fn run_client_test(
    rt: &Runtime,
    ctrl: &TcpStream,
    streams: &mut [Stream],
    p: &Params,
    interval: Option<Duration>,
) -> anyhow::Result<Results> {
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_times();
    let mut iv = Intervals::new(streams, p.proto == Proto::Udp);
    start_workers(streams, p, &stop, &total);
    let end = (p.bytes == 0).then(|| Duration::from_secs_f64(p.time));
    let mut next = interval;
    loop {
        let el = iv.start.elapsed();
        let moved: u64 = streams
            .iter()
            .map(|s| s.counters.bytes.load(Ordering::Relaxed))
            .sum();
        let done = match end {
            Some(t) => el >= t,
            None => moved >= p.bytes,
        };
        let failed = streams
            .iter()
            .all(|s| s.worker.as_ref().is_none_or(|w| w.is_finished()));
        if done || failed {
            break;
        }
        if let Some(n) = next.filter(|n| el >= *n) {
            iv.print(rt, streams);
            next = interval.map(|i| n + i);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Stop the streams first: the server closes its ends on TEST_END
    // (unread data makes that a reset), which must not read as a failure.
    let secs = iv.elapsed();
    stop.store(true, Ordering::Relaxed);
    join_workers(streams);
    proto::send_state(&mut &*ctrl, State::TestEnd)?;
    if interval.is_some() {
        iv.print(rt, streams);
    }
    if let Some(e) = streams.iter().find_map(|s| {
        s.counters
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }) {
        bail!("a data stream failed: {e}");
    }
    Ok(Results {
        cpu: cpu_percent(cpu0, secs),
        sender_has_retransmits: if p.reverse || p.proto == Proto::Udp {
            -1
        } else {
            1
        },
        streams: streams.iter().map(|s| s.result(rt, secs)).collect(),
    })
}

/// The server: one test at a time, until killed (or after one with `-1`).
fn server(
    rt: &Runtime,
    port: u16,
    interval: Option<Duration>,
    one_off: bool,
) -> anyhow::Result<()> {
    let h = rt.handle();
    let listener = TcpListener::bind(&h, SocketAddr::from(([0, 0, 0, 0], port)))
        .with_context(|| format!("listening on port {port}"))?;
    loop {
        say!("-----------------------------------------------------------");
        say!(
            "Server listening on {port} (test #1 at {})",
            rt.addr().address()
        );
        say!("-----------------------------------------------------------");
        let (ctrl, peer) = listener.accept().context("accepting a client")?;
        say!(
            "Accepted connection from {}, port {}",
            peer.ip(),
            peer.port()
        );
        let r = serve_test(rt, &listener, &ctrl, port, interval);
        drop(ctrl);
        match r {
            Ok(()) => {}
            Err(e) if one_off => return Err(e),
            Err(e) => eprintln!("strata iperf3: {e:#}"),
        }
        if one_off {
            return Ok(());
        }
    }
}

fn serve_test(
    rt: &Runtime,
    listener: &TcpListener,
    ctrl: &TcpStream,
    port: u16,
    interval: Option<Duration>,
) -> anyhow::Result<()> {
    let h = rt.handle();
    ctrl.set_nodelay(true)?;
    ctrl.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut cookie = [0u8; proto::COOKIE_SIZE];
    (&*ctrl)
        .read_exact(&mut cookie)
        .context("reading the cookie")?;
    proto::send_state(&mut &*ctrl, State::ParamExchange)?;
    let v = proto::read_json(&mut &*ctrl).context("reading the parameters")?;
    let p = match Params::from_json(&v) {
        Ok(p) => p,
        Err(why) => {
            proto::send_state(&mut &*ctrl, State::ServerError)?;
            let mut b = proto::IE_UNIMP.to_be_bytes().to_vec();
            b.extend_from_slice(&0i32.to_be_bytes());
            (&*ctrl).write_all(&b)?;
            bail!("refused the client's test: {why}");
        }
    };
    let udp_sock = match p.proto {
        Proto::Udp => Some(Arc::new(
            UdpSocket::bind(&h, SocketAddr::from(([0, 0, 0, 0], port)))
                .with_context(|| format!("binding UDP port {port}"))?,
        )),
        Proto::Tcp => None,
    };
    proto::send_state(&mut &*ctrl, State::CreateStreams)?;
    let mut streams: Vec<Stream> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut udp_peers: HashMap<SocketAddr, usize> = HashMap::new();
    while streams.len() < p.parallel as usize {
        if Instant::now() > deadline {
            bail!(
                "the client opened {} of {} streams",
                streams.len(),
                p.parallel
            );
        }
        let id = proto::stream_id(streams.len());
        let counters = Arc::new(Counters::default());
        match &udp_sock {
            None => {
                listener.set_nonblocking(true)?;
                let (t, from) = match listener.accept() {
                    Ok(x) => x,
                    Err(e) if is_timeout(&e) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    Err(e) => return Err(e).context("accepting a data stream"),
                };
                listener.set_nonblocking(false)?;
                t.set_read_timeout(Some(Duration::from_secs(5)))?;
                let mut c = [0u8; proto::COOKIE_SIZE];
                if (&t).read_exact(&mut c).is_err() || c != cookie {
                    // Someone else's connection while a test runs.
                    let _ = (&t).write_all(&[State::AccessDenied.byte() as u8]);
                    continue;
                }
                describe(t.local_addr()?, from, id);
                streams.push(Stream {
                    id,
                    sender: p.reverse,
                    tcp: Some(Arc::new(t)),
                    udp: None,
                    counters,
                    worker: None,
                });
            }
            Some(u) => {
                u.set_read_timeout(Some(Duration::from_millis(200)))?;
                let mut buf = [0u8; 64];
                let (n, from) = match u.recv_from(&mut buf) {
                    Ok(x) => x,
                    Err(e) if is_timeout(&e) => continue,
                    Err(e) => return Err(e).context("waiting for a UDP stream"),
                };
                if n != 4 || udp_peers.contains_key(&from) {
                    continue;
                }
                u.send_to(&proto::UDP_CONNECT_REPLY, from)?;
                udp_peers.insert(from, streams.len());
                describe(u.local_addr()?, from, id);
                streams.push(Stream {
                    id,
                    sender: p.reverse,
                    tcp: None,
                    udp: Some((u.clone(), from)),
                    counters,
                    worker: None,
                });
            }
        }
    }
    listener.set_nonblocking(false)?;
    proto::send_state(&mut &*ctrl, State::TestStart)?;
    proto::send_state(&mut &*ctrl, State::TestRunning)?;
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_times();
    let mut iv = Intervals::new(&streams, p.proto == Proto::Udp);
    let mut shared_rx = None;
    match (&udp_sock, p.reverse) {
        // One socket serves every UDP stream: one receiver demultiplexes.
        (Some(u), false) => {
            let (u, stop, peers) = (u.clone(), stop.clone(), udp_peers.clone());
            let counters: Vec<Arc<Counters>> = streams.iter().map(|s| s.counters.clone()).collect();
            let udp64 = p.udp64;
            shared_rx = Some(std::thread::spawn(move || {
                let _ = udp_recv(&u, Some(&peers), &counters, &stop, udp64);
            }));
        }
        _ => start_workers(&mut streams, &p, &stop, &total),
    }
    // Wait for TEST_END, printing intervals meanwhile.
    let mut next = interval;
    let outcome = loop {
        let wait = next
            .map(|n| n.saturating_sub(iv.start.elapsed()))
            .unwrap_or(POLL)
            .max(Duration::from_millis(10));
        ctrl.set_read_timeout(Some(wait))?;
        match proto::read_state(&mut &*ctrl) {
            Ok(s) => break Ok(s),
            Err(e) if is_timeout(&e) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                break Err(anyhow::anyhow!(
                    "the client has unexpectedly closed the connection"
                ))
            }
            Err(e) => break Err(e.into()),
        }
        if let Some(n) = next.filter(|n| iv.start.elapsed() >= *n) {
            iv.print(rt, &streams);
            next = interval.map(|i| n + i);
        }
    };
    let secs = iv.elapsed();
    stop.store(true, Ordering::Relaxed);
    join_workers(&mut streams);
    if let Some(t) = shared_rx {
        let _ = t.join();
    }
    if interval.is_some() {
        iv.print(rt, &streams);
    }
    let state = outcome?;
    match state {
        State::TestEnd => {}
        State::ClientTerminate => bail!("the client has terminated"),
        other => bail!("unexpected state {other:?} from the client"),
    }
    let mine = Results {
        cpu: cpu_percent(cpu0, secs),
        sender_has_retransmits: if p.reverse && p.proto == Proto::Tcp {
            1
        } else {
            -1
        },
        streams: streams.iter().map(|s| s.result(rt, secs)).collect(),
    };
    // The streams close before the results go out, as iperf3's do.
    drop(streams);
    drop(udp_sock);
    ctrl.set_read_timeout(Some(Duration::from_secs(10)))?;
    proto::send_state(&mut &*ctrl, State::ExchangeResults)?;
    let v = proto::read_json(&mut &*ctrl).context("reading the client's results")?;
    let theirs = Results::from_json(&v).map_err(anyhow::Error::msg)?;
    proto::write_json(&mut &*ctrl, &mine.to_json())?;
    proto::send_state(&mut &*ctrl, State::DisplayResults)?;
    let (snd, rcv) = if p.reverse {
        (&mine.streams, &theirs.streams)
    } else {
        (&theirs.streams, &mine.streams)
    };
    print_summary(p.proto == Proto::Udp, snd, rcv);
    // The client says IPERF_DONE (or just closes).
    match proto::read_state(&mut &*ctrl) {
        Ok(State::IperfDone) | Err(_) => Ok(()),
        Ok(other) => bail!("unexpected state {other:?} at the end"),
    }
}
