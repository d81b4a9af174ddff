//! The lab: link parameters for `strata sim`, and the TCP scenarios
//! `bulk`, `http` and `echo` run between two strata hosts.
//!
//! Topology of the TCP scenarios: host A (10.0.0.1) and host B (10.0.0.2)
//! joined by one cable, a one-way link each way with the same settings:
//! `--rate` (serialisation and a queue of about one bandwidth-delay product),
//! `--rtt` (each direction gets half as propagation delay), and the faults
//! `--loss`/`--burst-loss`, `--reorder`, `--dup`, `--corrupt`. `--mtu` sets
//! the interfaces' MTU, the links' largest frame and the TCP MSS.
//! A capture of A's interface (both directions) feeds `--pcap`, the pictures
//! of `--svg` and the ladder.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{bail, Context as _};
use clap::Args;
use strata::stack::{Event, Stack, StackConfig};
use strata::time::{Duration, Instant};
use strata::transport::tcp::congestion::Algorithm;
use strata::transport::tcp::{State as TcpState, TcpConfig, TcpError, TcpEvent, TcpHandle};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::{Ipv4Addr, MacAddr};
use strata_sim::host::Host;
use strata_sim::{GilbertElliott, LinkConfig, NodeId, QueueLimit, Sim, TapId};

use crate::demo::Closer;
use crate::json::{self, EchoJson, FlowJson, FlowsJson, HttpJson, LinkJson, Summary, TcpJson};
use crate::ladder::{Ladder, Party, Side};
use crate::plot::{self, Sample, SeqTrace};
use crate::sim::{Scenario, SimArgs};
use crate::units::{self, format_bytes, format_duration, format_rate};

/// Lab options of `strata sim` (flattened into its arguments).
#[derive(Debug, Clone, Args)]
pub struct LabArgs {
    /// Link rate in bit/s: 100mbit, 1gbit, 10Mbps, 500kbit (decimal prefixes).
    #[arg(long, value_name = "RATE", allow_hyphen_values = true, value_parser = units::parse_rate)]
    pub rate: Option<u64>,
    /// Round-trip propagation delay: 20ms, 1.5s, 250us.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, value_parser = units::parse_duration)]
    pub rtt: Option<Duration>,
    /// Make --loss bursty (Gilbert–Elliott): same mean loss, in bursts of
    /// LEN frames on average (default 4).
    #[arg(long, value_name = "LEN", num_args = 0..=1, allow_negative_numbers = true,  default_missing_value = "4",
          value_parser = parse_burst_len)]
    pub burst_loss: Option<f64>,
    /// Probability a frame is held back 1 ms and overtaken (0.01 or 1%).
    #[arg(long, value_name = "P", default_value = "0", allow_hyphen_values = true, value_parser = units::parse_probability)]
    pub reorder: f64,
    /// Probability a frame is delivered twice.
    #[arg(long, value_name = "P", default_value = "0", allow_hyphen_values = true, value_parser = units::parse_probability)]
    pub dup: f64,
    /// Probability one bit of a frame is flipped (the checksums catch it).
    #[arg(long, value_name = "P", default_value = "0", allow_hyphen_values = true, value_parser = units::parse_probability)]
    pub corrupt: f64,
    /// IP MTU of the hosts and links, 576..=65535 (MSS = MTU − 40).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = units::parse_mtu)]
    pub mtu: Option<u16>,
    /// TCP congestion control of both hosts: cubic (RFC 9438, with
    /// HyStart++) or newreno (RFC 5681/6582). With --flows, a comma list
    /// is dealt to the flows in turn: --cc newreno,cubic.
    #[arg(long, value_name = "ALGORITHM", default_value = "cubic", value_parser = parse_cc)]
    pub cc: CcList,
    /// Initial congestion window in segments, 1..=255 (default: RFC 6928,
    /// 10 segments for MSS 1460).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_iw)]
    pub iw: Option<u8>,
    /// Send and receive buffer of every socket: 2k..=1G (default: four
    /// bandwidth-delay products, 256 KiB..16 MiB).
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true, value_parser = parse_buffer)]
    pub buffer: Option<usize>,
    /// Delayed-ACK timer in milliseconds, 0 (no delay)..=499 (RFC 9293
    /// §3.8.6.3: below 0.5 s); default 40.
    #[arg(long, value_name = "MS", allow_negative_numbers = true, value_parser = parse_delack)]
    pub delack: Option<u64>,
    /// Transmit queue of each link direction, in bytes (500K, 2M): the
    /// bottleneck's buffer, where a drop-tail queue overflows (default:
    /// one bandwidth-delay product, at least 64 frames).
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true, value_parser = units::parse_bytes)]
    pub queue: Option<u64>,
    /// Do not run HyStart++ (RFC 9406) in the initial slow start: it
    /// doubles the window every round trip until the first loss.
    #[arg(long)]
    pub no_hystart: bool,
    /// bulk, http, echo: N flows (1..=64) from A to B at once, each its own
    /// connection, sharing the link's queue; a summary per flow (goodput,
    /// retransmissions), the total and Jain's fairness index.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_flows)]
    pub flows: Option<u32>,
    /// Do not offer SACK (RFC 2018): loss recovery falls back to NewReno
    /// (RFC 6582), one hole per round trip.
    #[arg(long)]
    pub no_sack: bool,
    /// Do not offer timestamps (RFC 7323).
    #[arg(long)]
    pub no_timestamps: bool,
    /// bulk: bytes to move (50M = 50 MiB, 50MB = 50 000 000); http: page size.
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true, value_parser = units::parse_bytes)]
    pub bytes: Option<u64>,
    /// Write pictures: the ladder diagram (ping, udp and runs of at most 100
    /// frames), or for bulk and longer runs the time-sequence graph to FILE
    /// and cwnd/RTT to FILE with `-cwnd` added; for storm --stp, each switch
    /// port's role and state over time.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Print a machine-readable JSON summary on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Print the ladder diagram (by default only short runs print it).
    #[arg(long)]
    pub ladder: bool,
    /// No colours in the ladder (also when NO_COLOR is set or not a terminal).
    #[arg(long)]
    pub no_color: bool,
    /// Columns of the ladder (60–400) [default: the terminal's width up to
    /// 98; 98 when not a terminal].
    #[arg(long, value_name = "COLUMNS", value_parser = crate::ladder::parse_width)]
    pub width: Option<usize>,
}

/// Congestion-control algorithms dealt to flows in turn (at most 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcList {
    algs: [Algorithm; 8],
    len: u8,
}

impl Default for CcList {
    /// The lab's default, the stack's: CUBIC (RFC 9438).
    fn default() -> Self {
        CcList {
            algs: [Algorithm::default(); 8],
            len: 1,
        }
    }
}

impl From<Algorithm> for CcList {
    /// One algorithm for every flow.
    fn from(alg: Algorithm) -> Self {
        CcList {
            algs: [alg; 8],
            len: 1,
        }
    }
}

impl CcList {
    /// The algorithm of flow `i` (0-based).
    pub fn for_flow(&self, i: usize) -> Algorithm {
        self.algs[i % usize::from(self.len.max(1))]
    }

    /// More than one algorithm.
    pub fn is_mix(&self) -> bool {
        self.len > 1
    }
}

fn parse_cc(s: &str) -> Result<CcList, String> {
    let mut list = CcList::default();
    let names: Vec<&str> = s.split(',').map(str::trim).collect();
    if names.len() > list.algs.len() {
        return Err(format!(
            "at most {} algorithms in --cc, got {}",
            list.algs.len(),
            names.len()
        ));
    }
    for (i, name) in names.iter().enumerate() {
        list.algs[i] = name.parse().map_err(|e: &str| e.to_string())?;
    }
    list.len = names.len() as u8;
    Ok(list)
}

fn parse_iw(s: &str) -> Result<u8, String> {
    match units::parse_whole(s, 255) {
        Ok(v) if v >= 1 => Ok(v as u8),
        Ok(_) => Err("the initial window must be at least 1 segment (1..=255)".into()),
        Err(e) => Err(format!("{e} (segments of the initial window, 1..=255)")),
    }
}

fn parse_buffer(s: &str) -> Result<usize, String> {
    use strata::transport::tcp::{MAX_BUFFER_LIMIT, MIN_BUFFER_LIMIT};
    let v = units::parse_bytes(s)?;
    if v < MIN_BUFFER_LIMIT as u64 || v > MAX_BUFFER_LIMIT as u64 {
        return Err(format!(
            "buffer {} is outside {}..={} (the largest window a peer can be told, RFC 7323 §2.3)",
            format_bytes(v),
            format_bytes(MIN_BUFFER_LIMIT as u64),
            format_bytes(MAX_BUFFER_LIMIT as u64)
        ));
    }
    Ok(v as usize)
}

fn parse_delack(s: &str) -> Result<u64, String> {
    units::parse_whole(s, 499).map_err(|e| {
        format!(
            "{e} (milliseconds; RFC 9293 §3.8.6.3 MUST-40: an ACK is not delayed 0.5 s or more)"
        )
    })
}

fn parse_flows(s: &str) -> Result<u32, String> {
    match units::parse_whole(s, 64) {
        Ok(v) if v >= 1 => Ok(v as u32),
        Ok(_) => Err("--flows needs at least one flow (1..=64)".into()),
        Err(e) => Err(format!("{e} (flows, 1..=64)")),
    }
}

/// The slowest link on which hosts can still find each other: an ARP
/// request and its reply (two minimum-size 60-byte frames) must cross it
/// while the asker still waits. RFC 1122 §2.3.2.1 limits ARP to one request
/// per second per address; strata asks `max_requests` times, then gives up.
pub fn check_rate(rate_bps: u64) -> Result<(), String> {
    let arp = strata::link::arp::ArpConfig::default();
    let patience_ns = arp.retry_interval.as_nanos() * u128::from(arp.max_requests);
    let exchange_bits: u128 = 2 * 60 * 8;
    let min_bps = (exchange_bits * 1_000_000_000).div_ceil(patience_ns.max(1));
    if u128::from(rate_bps) < min_bps {
        let frame_s = 60.0 * 8.0 / rate_bps as f64;
        return Err(format!(
            "--rate {} is too slow: one 60-byte ARP frame takes {frame_s:.1} s on the wire and ARP \
             gives up after {} requests {} s apart; use at least {} (e.g. --rate 1kbit)",
            format_rate(rate_bps as f64),
            arp.max_requests,
            arp.retry_interval.as_nanos() / 1_000_000_000,
            format_rate(min_bps as f64)
        ));
    }
    Ok(())
}

fn parse_burst_len(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a burst length (frames, e.g. 4)"))?;
    if !(1.0..=1e6).contains(&v) {
        return Err(format!("burst length '{s}' must be at least 1 frame"));
    }
    Ok(v)
}

/// Everything that shapes the lab's links.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkParams {
    /// Rate, bit/s.
    pub rate_bps: u64,
    /// Round-trip propagation delay.
    pub rtt: Duration,
    /// Mean loss probability per frame.
    pub loss: f64,
    /// Mean burst length when loss is bursty.
    pub burst_len: Option<f64>,
    /// Reordering probability.
    pub reorder: f64,
    /// Duplication probability.
    pub dup: f64,
    /// Corruption probability.
    pub corrupt: f64,
    /// IP MTU.
    pub mtu: u16,
    /// TCP congestion control, dealt to flows in turn.
    pub cc: CcList,
    /// Offer SACK.
    pub sack: bool,
    /// Offer timestamps.
    pub timestamps: bool,
    /// Initial window in segments (None: RFC 6928).
    pub iw: Option<u8>,
    /// Socket buffers (None: four BDPs).
    pub buffer: Option<usize>,
    /// Delayed-ACK timer (None: the stack's 40 ms).
    pub delack: Option<Duration>,
    /// Link transmit queue in bytes (None: one BDP, at least 64 frames).
    pub queue: Option<u64>,
    /// HyStart++ in the initial slow start.
    pub hystart: bool,
}

impl LinkParams {
    /// Defaults of the TCP scenarios: 100 Mbit/s, 20 ms, MTU 1500.
    pub fn new(lab: &LabArgs, loss: f64) -> Self {
        LinkParams {
            rate_bps: lab.rate.unwrap_or(100_000_000),
            rtt: lab.rtt.unwrap_or(Duration::from_millis(20)),
            loss,
            burst_len: lab.burst_loss,
            reorder: lab.reorder,
            dup: lab.dup,
            corrupt: lab.corrupt,
            mtu: lab.mtu.unwrap_or(1500),
            cc: lab.cc,
            sack: !lab.no_sack,
            timestamps: !lab.no_timestamps,
            iw: lab.iw,
            buffer: lab.buffer,
            delack: lab.delack.map(Duration::from_millis),
            queue: lab.queue,
            hystart: !lab.no_hystart,
        }
    }

    /// Refuses settings under which no byte can arrive, with the reason.
    pub fn check(&self) -> Result<(), String> {
        if self.loss >= 1.0 {
            return Err("--loss 100% would lose every frame: nothing can arrive".into());
        }
        if self.corrupt >= 1.0 {
            return Err(
                "--corrupt 100% would damage every frame: the checksums would drop them all".into(),
            );
        }
        let frame = u64::from(self.mtu) + 14;
        if let Some(q) = self.queue.filter(|&q| q < frame) {
            return Err(format!(
                "--queue {} holds no frame of {} (the MTU and its Ethernet header): every frame \
                 behind the one on the wire would be dropped",
                format_bytes(q),
                format_bytes(frame)
            ));
        }
        check_rate(self.rate_bps)
    }

    /// Bandwidth-delay product in bytes.
    pub fn bdp(&self) -> u64 {
        (self.rate_bps as u128 * self.rtt.as_nanos() / 8 / 1_000_000_000) as u64
    }

    /// One direction of the cable.
    pub fn one_way(&self) -> LinkConfig {
        let frame = usize::from(self.mtu) + 14;
        let queue = match self.queue {
            Some(q) => usize::try_from(q).unwrap_or(usize::MAX),
            None => (self.bdp() as usize).max(64 * frame),
        };
        let mut c = LinkConfig::default()
            .with_latency(self.rtt / 2)
            .with_bandwidth(self.rate_bps)
            .with_max_frame(frame)
            .with_queue_limit(QueueLimit::Bytes(queue))
            .with_duplicate(self.dup)
            .with_corrupt(self.corrupt);
        if self.reorder > 0.0 {
            c = c.with_reorder(self.reorder, Duration::from_millis(1));
        }
        match self.burst_len {
            // Gilbert: no loss while good, all lost while bad; the bad state
            // lasts `len` frames on average and is entered often enough that
            // the long-run loss equals --loss.
            Some(len) if self.loss > 0.0 => {
                let p_bg = 1.0 / len;
                let p_gb = (self.loss * p_bg / (1.0 - self.loss).max(1e-9)).min(1.0);
                c.with_burst_loss(GilbertElliott::gilbert(p_gb, p_bg))
            }
            _ => c.with_loss(self.loss),
        }
    }

    /// TCP settings fitting the path: MSS from the MTU, buffers of four
    /// bandwidth-delay products (at least 256 KiB, at most 16 MiB) so the
    /// window, not the buffer, is what congestion control moves.
    pub fn tcp(&self) -> TcpConfig {
        let buf = self
            .buffer
            .unwrap_or((4 * self.bdp()).clamp(256 * 1024, 16 * 1024 * 1024) as usize);
        let d = TcpConfig::default();
        TcpConfig {
            mtu: self.mtu,
            mss: self.mtu - 40,
            rx_buffer_limit: buf,
            tx_buffer_limit: buf,
            congestion_control: self.cc.for_flow(0),
            sack: self.sack,
            timestamps: self.timestamps,
            initial_window: self.iw.unwrap_or(0),
            delayed_ack: self.delack.unwrap_or(d.delayed_ack),
            hystart: self.hystart,
            ..d
        }
    }

    /// For the JSON summary.
    pub fn json(&self) -> LinkJson {
        LinkJson {
            rate_bps: self.rate_bps,
            rtt_ms: json::ms(self.rtt),
            loss: self.loss,
            burst_loss_len: self.burst_len,
            reorder: self.reorder,
            dup: self.dup,
            corrupt: self.corrupt,
            mtu: self.mtu,
        }
    }

    /// One line for the text report.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{}, RTT {}, MTU {}",
            format_rate(self.rate_bps as f64),
            format_duration(self.rtt),
            self.mtu
        );
        if self.loss > 0.0 {
            s += &format!(", loss {}%", self.loss * 100.0);
            if let Some(l) = self.burst_len {
                s += &format!(" in bursts of ~{l} frames");
            }
        }
        for (name, p) in [
            ("reorder", self.reorder),
            ("dup", self.dup),
            ("corrupt", self.corrupt),
        ] {
            if p > 0.0 {
                s += &format!(", {name} {}%", p * 100.0);
            }
        }
        s
    }
}

/// Address of host A.
pub const A_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Address of host B.
pub const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// MAC of host A (locally administered).
pub const A_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
/// MAC of host B.
pub const B_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]);

/// The two hosts and their cable.
pub struct Net {
    /// The simulation.
    pub sim: Sim,
    /// Host A (client / sender).
    pub a: NodeId,
    /// Host B (server / receiver).
    pub b: NodeId,
    /// Memory capture of A's interface, when asked for.
    pub tap: Option<TapId>,
}

/// What to record during a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Record {
    /// Capture A's interface (for --pcap and the pictures).
    pub pcap: bool,
    /// Log every frame offered to the cable, lost ones too (for the ladder).
    pub offers: bool,
}

/// Builds A ⇄ B with `params`; `apps` are installed before the run starts.
pub fn build(
    params: &LinkParams,
    seed: u64,
    rec: Record,
    a_app: Option<strata_sim::host::App>,
    b_app: Option<strata_sim::host::App>,
) -> anyhow::Result<Net> {
    let mut sim = Sim::new(seed);
    let tcp = params.tcp();
    let host =
        |name: &str, n: u64, mac: MacAddr, ip: Ipv4Addr, app: Option<strata_sim::host::App>| {
            let mut h = Host::new(
                name,
                StackConfig {
                    seed: seed.wrapping_mul(1000).wrapping_add(n),
                    tcp: tcp.clone(),
                    ..StackConfig::default()
                },
            );
            h.add_interface(
                mac,
                usize::from(params.mtu),
                Ipv4Cidr::new(ip, 24).expect("/24 is valid"),
            );
            if let Some(app) = app {
                h.set_app(app);
            }
            h
        };
    let a = sim.add_node(Box::new(host("A", 1, A_MAC, A_IP, a_app)));
    let b = sim.add_node(Box::new(host("B", 2, B_MAC, B_IP, b_app)));
    sim.connect((a, 0), (b, 0), params.one_way())?;
    if rec.offers {
        for link in [sim.link_from(a, 0), sim.link_to(a, 0)]
            .into_iter()
            .flatten()
        {
            sim.log_offers(link);
        }
    }
    let tap = if rec.pcap {
        Some(sim.tap_port_memory(a, 0)?)
    } else {
        None
    };
    Ok(Net { sim, a, b, tap })
}

/// Captured frames with their virtual time.
pub type Frames = Vec<(Instant, Vec<u8>)>;

/// The pcap bytes and the frames captured on A's interface.
pub fn captured(net: &Net) -> anyhow::Result<(Vec<u8>, Frames)> {
    let Some(tap) = net.tap else {
        return Ok((Vec::new(), Vec::new()));
    };
    let bytes = net.sim.tap_bytes(tap).unwrap_or_default().to_vec();
    let frames = strata_sim::pcap::parse(&bytes)
        .context("reading back the capture")?
        .into_iter()
        .map(|r| (r.ts, r.data))
        .collect();
    Ok((bytes, frames))
}

/// Byte `i` of the bulk stream: a hash of the offset, so a byte in the
/// wrong place is caught, not only a wrong byte.
pub fn pattern(i: u64) -> u8 {
    (i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// Set by the SIGINT handler while a lab run is in progress.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// From here on, Ctrl-C (SIGINT) stops the lab's run at its next slice of
/// virtual time instead of killing the process, so the summary of what
/// happened so far is still printed (like ping(8) and iperf3).
pub fn catch_interrupt() {
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}

/// Ctrl-C was pressed during the run.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Runs the simulation to `next`, one slice of a lab run; a slice of a
/// long run is many frames, so Ctrl-C ([`catch_interrupt`]) stops it at
/// once.
fn run_slice(net: &mut Net, next: Instant) {
    net.sim.run_until_condition(next, |_| interrupted());
    if !interrupted() {
        // Idle before `next`: the clock still moves to it.
        net.sim.run_until(next);
    }
}

/// The exit status of a run stopped by Ctrl-C (128 + SIGINT, as a shell
/// reports it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// A progress bar on stderr, shown only once a run has taken a second of
/// wall time and only when stderr is a terminal.
pub struct Progress {
    started: std::time::Instant,
    total: u64,
    label: &'static str,
    bar: Option<indicatif::ProgressBar>,
    enabled: bool,
}

impl Progress {
    /// A progress tracker towards `total` units.
    pub fn new(total: u64, label: &'static str) -> Self {
        Progress {
            started: std::time::Instant::now(),
            total,
            label,
            bar: None,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// Reports `done` units at virtual time `t`.
    pub fn update(&mut self, done: u64, t: Instant) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() >= std::time::Duration::from_secs(1) {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(self.total),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:40.cyan/blue}] {bytes}/{total_bytes} ({elapsed}, about {eta} left; Ctrl-C stops and summarises) {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(self.label);
            let bar = bar.with_elapsed(self.started.elapsed());
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!("virtual {:.2}s", t.as_nanos() as f64 / 1e9));
        }
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

// ---------------------------------------------------------------------------
// Application helpers run inside the hosts

/// Bytes waiting to be handed to TCP (what `send` refused so far).
#[derive(Debug, Default)]
struct Outbox {
    data: Vec<u8>,
    off: usize,
    close_when_done: bool,
    closed: bool,
}

impl Outbox {
    fn push(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }
    /// Hands TCP what it takes; closes once everything went if asked.
    fn flush(&mut self, now: Instant, stack: &mut Stack, h: TcpHandle) -> Result<(), TcpError> {
        while self.off < self.data.len() {
            match stack.tcp_send(h, &self.data[self.off..]) {
                Ok(0) | Err(TcpError::WouldBlock) => break,
                Ok(n) => self.off += n,
                Err(e) => return Err(e),
            }
        }
        if self.off == self.data.len() {
            self.data.clear();
            self.off = 0;
            if self.close_when_done && !self.closed {
                self.closed = true;
                stack.tcp_close(now, h)?;
            }
        }
        Ok(())
    }
}

/// Reads everything readable; `Ok(true)` at end of stream.
fn drain(stack: &mut Stack, h: TcpHandle, into: &mut dyn FnMut(&[u8])) -> Result<bool, TcpError> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stack.tcp_recv(h, &mut buf) {
            Ok(0) => return Ok(true),
            Ok(n) => into(&buf[..n]),
            Err(TcpError::WouldBlock) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

fn failure(ev: &TcpEvent) -> Option<String> {
    match ev {
        TcpEvent::Reset(_) => Some("connection reset".into()),
        TcpEvent::Refused(_) => Some("connection refused".into()),
        TcpEvent::TimedOut(_) => Some("connection timed out".into()),
        TcpEvent::Unreachable { error, .. } => Some(format!("unreachable: {error}")),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// The scenarios

/// Common results of a TCP scenario.
pub struct TcpRun {
    /// The network after the run.
    pub net: Net,
    /// Congestion samples of A's connection.
    pub samples: Vec<Sample>,
    /// Section for the JSON summary.
    pub tcp: TcpJson,
    /// Text report lines.
    pub report: Vec<String>,
    /// Scenario-specific JSON sections.
    pub http: Option<HttpJson>,
    /// Echo section.
    pub echo: Option<EchoJson>,
    /// `--flows`: per-flow results.
    pub flows: Option<FlowsJson>,
    /// `--flows`: each flow's congestion samples, with its label.
    pub flow_samples: Vec<(String, Vec<Sample>)>,
}

/// A's connection state now. Looked up by its handle while the
/// application holds it, then, when it is A's only connection (`alone`),
/// among A's connections (after `close` the connection lives on, orphaned,
/// until the data is delivered).
fn sample_of(sim: &Sim, a: NodeId, h: TcpHandle, alone: bool) -> Option<Sample> {
    let tcp = sim.node::<Host>(a)?.stack().tcp();
    let info = tcp.info(h).ok().or_else(|| {
        tcp.connections()
            .map(|(_, c)| c)
            .find(|c| alone && c.remote.ip() == &B_IP)
    })?;
    Some(Sample {
        t: sim.now(),
        cwnd: info.cwnd as u64,
        ssthresh: (info.ssthresh < (u32::MAX as usize)).then_some(info.ssthresh as u64),
        srtt: info.srtt,
        rto: Some(info.rto),
        min_rtt: info.min_rtt,
        flight: Some(u64::from(info.snd_nxt.wrapping_sub(info.snd_una))),
    })
}

/// True when no connection on `nodes` is still closing.
fn closed(sim: &Sim, nodes: [NodeId; 2]) -> bool {
    nodes.iter().all(|&id| {
        sim.node::<Host>(id).is_none_or(|h| {
            h.stack()
                .tcp()
                .connections()
                .all(|(_, c)| matches!(c.state, TcpState::TimeWait | TcpState::Closed))
        })
    })
}

/// Most congestion samples kept for one run.
const MAX_SAMPLES: usize = 6000;

/// Runs the simulation in slices of `slice` until `done` holds (then a
/// little longer so the close completes), sampling each of A's
/// connections `conns` into its vector of `samples` and calling `each`
/// after every slice (the flows' byte timeline).
#[allow(clippy::too_many_arguments)]
fn drive(
    net: &mut Net,
    conns: &[TcpHandle],
    slice: Duration,
    limit: Instant,
    progress: &mut Progress,
    mut done: impl FnMut() -> bool,
    mut progress_of: impl FnMut() -> u64,
    samples: &mut [Vec<Sample>],
    close_both: bool,
    mut each: impl FnMut(&Net),
) -> bool {
    let mut slice = slice;
    let alone = conns.len() == 1;
    let take = |net: &Net, samples: &mut [Vec<Sample>]| {
        for (&h, v) in conns.iter().zip(samples.iter_mut()) {
            v.extend(sample_of(&net.sim, net.a, h, alone));
        }
    };
    // The first sample at the start, so the pictures share time zero.
    take(net, samples);
    let finished = loop {
        run_slice(net, net.sim.now() + slice);
        take(net, samples);
        // Long runs: keep every other sample and sample half as often, so
        // a picture never holds more than a few thousand points.
        if samples.iter().map(Vec::len).max().unwrap_or(0) >= MAX_SAMPLES {
            for v in samples.iter_mut() {
                let mut k = 0;
                v.retain(|_| {
                    k += 1;
                    k % 2 == 1
                });
            }
            slice *= 2;
        }
        each(net);
        progress.update(progress_of(), net.sim.now());
        if interrupted() {
            break false;
        }
        if done() {
            if close_both {
                close_all(net);
            }
            break true;
        }
        if net.sim.now() >= limit {
            break false;
        }
    };
    progress.finish();
    if !finished {
        return false;
    }
    // Let the four-way close finish: every connection on both hosts gone
    // or in TIME-WAIT (bounded, in case a peer never answers).
    let end = net.sim.now() + Duration::from_secs(60);
    while net.sim.now() < end && !closed(&net.sim, [net.a, net.b]) {
        let next = net.sim.now() + slice;
        net.sim.run_until(next);
    }
    true
}

/// Both applications close every connection at the same instant, so the
/// two FINs cross on the wire (a simultaneous close, RFC 9293 §3.6).
fn close_all(net: &mut Net) {
    for id in [net.a, net.b] {
        net.sim.with_node(id, |h: &mut Host, now| {
            let stack = h.stack_mut();
            let open: Vec<TcpHandle> = stack
                .tcp()
                .connections()
                .filter(|(_, c)| matches!(c.state, TcpState::Established | TcpState::CloseWait))
                .map(|(h, _)| h)
                .collect();
            for c in open {
                let _ = stack.tcp_close(now, c);
            }
        });
    }
}

/// Who sent the first FIN and who waits in TIME-WAIT, from both hosts'
/// state changes: the side that closes first is the one that waits.
fn close_report(net: &Net) -> String {
    let entered = |id: NodeId, state: TcpState| {
        net.sim.node::<Host>(id).and_then(|h| {
            h.events().iter().find_map(|(t, e)| match e {
                Event::Tcp(TcpEvent::StateChanged { to, .. }) if *to == state => Some(*t),
                _ => None,
            })
        })
    };
    let (a, b) = ("A (client)", "B (server)");
    let first = match (
        entered(net.a, TcpState::FinWait1),
        entered(net.b, TcpState::FinWait1),
    ) {
        (Some(x), Some(y)) if x == y => "both at once (a simultaneous close: CLOSING)".into(),
        (Some(x), Some(y)) if y < x => b.to_string(),
        (Some(_), _) => a.to_string(),
        (None, Some(_)) => b.to_string(),
        (None, None) => "nobody".to_string(),
    };
    let waits: Vec<&str> = [(net.a, a), (net.b, b)]
        .into_iter()
        .filter(|&(id, _)| entered(id, TcpState::TimeWait).is_some())
        .map(|(_, n)| n)
        .collect();
    let waits = if waits.is_empty() {
        "nobody".to_string()
    } else {
        waits.join(" and ")
    };
    format!("close: the first FIN from {first}; TIME-WAIT (2×MSL) on {waits}")
}

fn tcp_json(
    net: &Net,
    sender: NodeId,
    bytes: u64,
    verified: bool,
    duration: Duration,
    samples: &[Sample],
) -> TcpJson {
    // The counters of the host that sent the data: retransmissions and
    // probes happen at the sender.
    let (stats, held) = net
        .sim
        .node::<Host>(sender)
        .map(|h| {
            let s = h.stack();
            (s.tcp_stats().clone(), s.stats().tcp.neighbour_drops)
        })
        .unwrap_or_default();
    // Frames lost on the way from the sender: what retransmissions repair
    // (lost ACKs on the way back need none).
    let drops = net
        .sim
        .link_from(sender, 0)
        .and_then(|l| net.sim.link_stats(l))
        .map_or(0, |s| s.dropped());
    let secs = duration.as_secs_f64();
    let srtts: Vec<Duration> = samples.iter().filter_map(|s| s.srtt).collect();
    TcpJson {
        bytes,
        verified,
        duration_s: secs,
        goodput_bps: if secs > 0.0 {
            bytes as f64 * 8.0 / secs
        } else {
            0.0
        },
        sender: if sender == net.a { "A" } else { "B" }.to_string(),
        retransmissions: stats.retransmits,
        fast_retransmits: stats.fast_retransmits,
        rto_expired: stats.rto_expired,
        tail_probes: stats.tlp_probes,
        tail_probe_repairs: stats.tlp_recoveries,
        hystart_css: stats.hystart_css,
        hystart_exits: stats.hystart_exits,
        retransmissions_rack: stats.retransmits_rack,
        retransmissions_dupthresh: stats.retransmits_dupthresh,
        retransmissions_tlp: stats.retransmits_tlp,
        retransmissions_rto: stats.retransmits_timeout,
        retransmissions_syn_ack: stats.retransmits_syn_ack,
        spurious_undone: stats.spurious_undone,
        spurious_rto_undone: stats.spurious_rto_undone,
        spurious_retransmissions: stats.spurious_retransmits,
        dsacks_received: stats.dsacks_received,
        link_drops: drops,
        efficiency: (drops > 0).then(|| stats.retransmits as f64 / drops as f64),
        segments_sent: stats.segments_out,
        segments_held: held,
        rtt_min_ms: samples.iter().filter_map(|s| s.min_rtt).min().map(json::ms),
        srtt_ms: srtts.last().map(|d| json::ms(*d)),
        srtt_min_ms: srtts.iter().min().map(|d| json::ms(*d)),
        srtt_max_ms: srtts.iter().max().map(|d| json::ms(*d)),
        cwnd_max: samples.iter().map(|s| s.cwnd).max().unwrap_or(0),
        samples: samples.len(),
    }
}

fn tcp_lines(t: &TcpJson) -> Vec<String> {
    let srtt = |v: Option<f64>| v.map_or("-".to_string(), |m| format!("{m:.2}ms"));
    let mut lines = vec![
        format!(
            "sender {}: retransmissions {} (fast recoveries {}, timeouts {}, tail probes {} \
             of which {} repaired a loss), {} segments sent{}",
            t.sender,
            t.retransmissions,
            t.fast_retransmits,
            t.rto_expired,
            t.tail_probes,
            t.tail_probe_repairs,
            t.segments_sent,
            match t.segments_held {
                0 => String::new(),
                n => format!(" ({n} held behind ARP and never sent)"),
            }
        ),
        format!(
            "retransmissions by cause: RACK {}, dupthresh {}, TLP {}, RTO {}{}; \
             spurious recoveries undone {} (of them timeouts {}, with {} retransmissions), \
             D-SACKs received {}",
            t.retransmissions_rack,
            t.retransmissions_dupthresh,
            t.retransmissions_tlp,
            t.retransmissions_rto,
            match t.retransmissions_syn_ack {
                0 => String::new(),
                n => format!(", SYN-ACK repeated {n}"),
            },
            t.spurious_undone,
            t.spurious_rto_undone,
            t.spurious_retransmissions,
            t.dsacks_received
        ),
        match t.efficiency {
            Some(e) => format!(
                "efficiency {e:.2} retransmissions per frame the sender lost ({} dropped on its link)",
                t.link_drops
            ),
            None => "the sender's link dropped no frame".to_string(),
        },
        format!(
            "RTT {} (the smallest sample of a data segment), smoothed RTT {} (min {}, max {}), largest cwnd {}",
            srtt(t.rtt_min_ms),
            srtt(t.srtt_ms),
            srtt(t.srtt_min_ms),
            srtt(t.srtt_max_ms),
            format_bytes(t.cwnd_max)
        ),
    ];
    if t.hystart_css > 0 {
        // RFC 9406: shown when HyStart++ acted.
        lines.push(format!(
            "HyStart++: conservative slow start entered {} time{} on an RTT increase, slow start \
             left before any loss {}",
            t.hystart_css,
            if t.hystart_css == 1 { "" } else { "s" },
            if t.hystart_exits > 0 { "yes" } else { "no" }
        ));
    }
    lines
}

fn slice_for(params: &LinkParams, expected: Duration) -> Duration {
    // About ten samples per RTT, at most ~5000 samples per run.
    let per_rtt = params.rtt / 10;
    let per_run = expected / 5000;
    per_rtt.max(per_run).max(Duration::from_micros(100))
}

fn connect(net: &mut Net, port: u16) -> anyhow::Result<TcpHandle> {
    let b = net.b;
    net.sim
        .with_node(b, |h: &mut Host, _| {
            h.stack_mut().tcp_listen(None, port, 16)
        })
        .context("host B")?
        .context("listen")?;
    let a = net.a;
    let h = net
        .sim
        .with_node(a, |h: &mut Host, now| {
            h.stack_mut()
                .tcp_connect(now, SocketAddrV4::new(B_IP, port))
        })
        .context("host A")?
        .context("connect")?;
    Ok(h)
}

/// What a TCP scenario sets up besides its applications: B's port, and
/// how long and how much the run is expected to take.
struct Setup {
    port: u16,
    /// Virtual time the run should take; it is given up after 50 times that
    /// plus 10 minutes.
    expected: Duration,
    /// Payload bytes the progress bar counts to, and its label.
    total: u64,
    label: &'static str,
    /// Both applications close at once when the run is done
    /// (`--closer both`).
    close_both: bool,
}

/// A TCP scenario after its run.
struct Driven {
    net: Net,
    start: Instant,
    limit: Instant,
    samples: Vec<Sample>,
    finished: bool,
}

impl Driven {
    /// Fails with "`what` did not finish within … of virtual time`more`"
    /// when the run ran out of time.
    fn ensure_finished(&self, what: &str, more: impl FnOnce() -> String) -> anyhow::Result<()> {
        if !self.finished && interrupted() {
            // Ctrl-C: the summary below is of what happened so far.
            eprintln!(
                "interrupted at {} of virtual time: the figures below are partial",
                format_duration(self.net.sim.now().saturating_duration_since(self.start))
            );
            return Ok(());
        }
        if !self.finished {
            bail!(
                "{what} did not finish within {} of virtual time{}",
                format_duration(self.limit.saturating_duration_since(self.start)),
                more()
            );
        }
        Ok(())
    }

    /// Virtual time from the start of the run to `end` (or zero).
    fn since_start(&self, end: Option<Instant>) -> Duration {
        end.unwrap_or(self.start)
            .saturating_duration_since(self.start)
    }

    /// The JSON section of A's connection.
    fn tcp(&self, bytes: u64, verified: bool, duration: Duration) -> TcpJson {
        tcp_json(
            &self.net,
            self.net.a,
            bytes,
            verified,
            duration,
            &self.samples,
        )
    }

    /// The same, with the counters of `sender` (B serves the page in http).
    fn tcp_sent_by(
        &self,
        sender: NodeId,
        bytes: u64,
        verified: bool,
        duration: Duration,
    ) -> TcpJson {
        tcp_json(&self.net, sender, bytes, verified, duration, &self.samples)
    }

    /// The results: the scenario's own report lines, then the TCP lines.
    fn into_run(self, tcp: TcpJson, mut report: Vec<String>) -> TcpRun {
        report.extend(tcp_lines(&tcp));
        TcpRun {
            net: self.net,
            samples: self.samples,
            tcp,
            report,
            http: None,
            echo: None,
            flows: None,
            flow_samples: Vec::new(),
        }
    }
}

/// Builds A ⇄ B running `flow`'s two applications, connects A to B's port
/// and drives the run until the flow is done or the time limit passes.
fn run_scenario<F: FlowApp + 'static>(
    params: &LinkParams,
    seed: u64,
    rec: Record,
    setup: Setup,
    flow: &Rc<RefCell<F>>,
) -> anyhow::Result<Driven> {
    let (a_app, b_app) = one_flow(flow);
    let mut net = build(params, seed, rec, Some(a_app), Some(b_app))?;
    let start = net.sim.now();
    let conn = connect(&mut net, setup.port)?;
    let limit = start + setup.expected * 50 + Duration::from_secs(600);
    if setup.expected > Duration::from_secs(60) {
        // `--bytes 1T` is days of simulation: say so before it starts.
        eprintln!(
            "a long run: at least {} of virtual time at the link rate; the progress bar \
             shows the time left, and Ctrl-C stops the run and prints what happened so far",
            format_duration(setup.expected)
        );
    }
    let mut samples = vec![Vec::new()];
    let mut progress = Progress::new(setup.total, setup.label);
    let finished = drive(
        &mut net,
        &[conn],
        slice_for(params, setup.expected),
        limit,
        &mut progress,
        || flow.borrow().done(),
        || flow.borrow().delivered(),
        &mut samples,
        setup.close_both,
        |_| {},
    );
    Ok(Driven {
        net,
        start,
        limit,
        samples: samples.pop().unwrap_or_default(),
        finished,
    })
}

/// Virtual time to move `bytes` at the link rate, plus four round trips.
fn transfer_time(params: &LinkParams, bytes: u64) -> Duration {
    Duration::from_secs_f64(bytes as f64 * 8.0 / params.rate_bps as f64) + params.rtt * 4
}

// ---------------------------------------------------------------------------
// One flow: the client on A and the server on B, over one connection

/// The two applications of one flow of a TCP scenario, as the runners
/// drive them: alone ([`run_scenario`]) or side by side with others on the
/// same link ([`run_flows`], `--flows N`).
trait FlowApp {
    /// A's application: an event of this flow's connection on A.
    fn client(&mut self, now: Instant, stack: &mut Stack, ev: &TcpEvent);
    /// B's application: an event of this flow's connection on B.
    fn server(&mut self, now: Instant, stack: &mut Stack, ev: &TcpEvent);
    /// How the flow ended, so far.
    fn ending(&self) -> &Ending;
    /// The same, to record it.
    fn ending_mut(&mut self) -> &mut Ending;
    /// Payload bytes the receiving application has read so far.
    fn delivered(&self) -> u64;
    /// Every payload byte arrived, as sent.
    fn verified(&self) -> bool;

    /// The flow is over: its receiver has all it waited for, or it failed.
    fn done(&self) -> bool {
        let e = self.ending();
        e.done_at.is_some() || e.error.is_some()
    }
    /// The first error the flow met.
    fn error(&self) -> Option<&str> {
        self.ending().error.as_deref()
    }
    /// Records an error; the first one is kept.
    fn fail(&mut self, e: String) {
        self.ending_mut().error.get_or_insert(e);
    }
    /// Records the error a connection event reports (reset, refused,
    /// timed out, unreachable), if it reports one.
    fn fail_on(&mut self, ev: &TcpEvent) {
        if let Some(e) = failure(ev) {
            self.fail(e);
        }
    }
    /// When the receiving application had its last payload byte (by
    /// default: when it had all it waited for).
    fn last_byte(&self) -> Option<Instant> {
        self.ending().done_at
    }
}

/// [`FlowApp::ending`] and [`FlowApp::ending_mut`] for a flow that keeps
/// its [`Ending`] in a field `ending`.
macro_rules! ending_in_field {
    () => {
        fn ending(&self) -> &Ending {
            &self.ending
        }

        fn ending_mut(&mut self) -> &mut Ending {
            &mut self.ending
        }
    };
}

/// How a flow ended: when its receiving application had all it waited
/// for, or the first error.
#[derive(Debug, Default, Clone)]
struct Ending {
    done_at: Option<Instant>,
    error: Option<String>,
}

/// A's and B's applications when `flow` runs alone: B accepts whatever
/// arrives, and every other event goes to the flow.
fn one_flow<F: FlowApp + 'static>(
    flow: &Rc<RefCell<F>>,
) -> (strata_sim::host::App, strata_sim::host::App) {
    let f = flow.clone();
    let a_app: strata_sim::host::App = Box::new(move |now, stack, ev| {
        if let Event::Tcp(ev) = ev {
            f.borrow_mut().client(now, stack, ev);
        }
    });
    let f = flow.clone();
    let b_app: strata_sim::host::App = Box::new(move |now, stack, ev| match ev {
        Event::Tcp(TcpEvent::Acceptable { listener }) => {
            while stack.tcp_accept(*listener).is_ok() {}
        }
        Event::Tcp(ev) => f.borrow_mut().server(now, stack, ev),
        _ => {}
    });
    (a_app, b_app)
}

/// The connection an event is about (none for a listener's).
fn handle_of(ev: &TcpEvent) -> Option<TcpHandle> {
    match *ev {
        TcpEvent::StateChanged { handle, .. } | TcpEvent::Unreachable { handle, .. } => {
            Some(handle)
        }
        TcpEvent::Connected(h)
        | TcpEvent::Readable(h)
        | TcpEvent::Writable(h)
        | TcpEvent::PeerClosed(h)
        | TcpEvent::Urgent(h)
        | TcpEvent::Reset(h)
        | TcpEvent::Refused(h)
        | TcpEvent::TimedOut(h)
        | TcpEvent::Closed(h) => Some(h),
        TcpEvent::Acceptable { .. } => None,
    }
}

/// One bulk transfer as its two applications see it: what A has handed to
/// TCP, and what B has read, each byte checked against [`pattern`].
#[derive(Debug, Default, Clone)]
struct BulkFlow {
    total: u64,
    sent: u64,
    closed: bool,
    received: u64,
    bad_at: Option<u64>,
    last_byte: Option<Instant>,
    /// Done at the end of the stream.
    ending: Ending,
}

impl BulkFlow {
    /// A transfer of `total` bytes.
    fn new(total: u64) -> Self {
        BulkFlow {
            total,
            ..BulkFlow::default()
        }
    }

    /// A's side: hands TCP the pattern's next bytes up to the total, then
    /// closes.
    fn write(&mut self, now: Instant, stack: &mut Stack, h: TcpHandle) {
        let total = self.total;
        let mut chunk = vec![0u8; 64 * 1024];
        while self.sent < total {
            let n = (total - self.sent).min(chunk.len() as u64) as usize;
            for (i, b) in chunk[..n].iter_mut().enumerate() {
                *b = pattern(self.sent + i as u64);
            }
            match stack.tcp_send(h, &chunk[..n]) {
                Ok(0) | Err(TcpError::WouldBlock) => break,
                Ok(k) => self.sent += k as u64,
                Err(e) => {
                    self.fail(e.to_string());
                    break;
                }
            }
        }
        if self.sent == total && !self.closed {
            self.closed = true;
            let _ = stack.tcp_close(now, h);
        }
    }

    /// B's side: reads what arrived, checking every byte, and closes at
    /// the end of the stream.
    fn read(&mut self, now: Instant, stack: &mut Stack, h: TcpHandle) {
        if self.ending.done_at.is_some() {
            return;
        }
        let (start, mut got, mut bad) = (self.received, 0u64, self.bad_at);
        let res = drain(stack, h, &mut |chunk| {
            for (i, &b) in chunk.iter().enumerate() {
                let off = start + got + i as u64;
                if bad.is_none() && b != pattern(off) {
                    bad = Some(off);
                }
            }
            got += chunk.len() as u64;
        });
        self.received += got;
        self.bad_at = bad;
        if got > 0 {
            self.last_byte = Some(now);
        }
        match res {
            Ok(true) => {
                self.ending.done_at = Some(now);
                let _ = stack.tcp_close(now, h);
            }
            Ok(false) => {}
            Err(e) => self.fail(e.to_string()),
        }
    }
}

impl FlowApp for BulkFlow {
    fn client(&mut self, now: Instant, stack: &mut Stack, ev: &TcpEvent) {
        match *ev {
            TcpEvent::Connected(h) | TcpEvent::Writable(h) => self.write(now, stack, h),
            ref other => self.fail_on(other),
        }
    }

    fn server(&mut self, now: Instant, stack: &mut Stack, ev: &TcpEvent) {
        match *ev {
            TcpEvent::Readable(h) | TcpEvent::PeerClosed(h) => self.read(now, stack, h),
            ref other => self.fail_on(other),
        }
    }

    ending_in_field!();

    fn delivered(&self) -> u64 {
        self.received
    }

    fn last_byte(&self) -> Option<Instant> {
        self.last_byte
    }

    fn verified(&self) -> bool {
        self.received == self.total && self.bad_at.is_none()
    }
}

/// `bulk`: A sends `bytes` to B:5001; B checks every byte.
pub fn bulk(params: &LinkParams, seed: u64, bytes: u64, rec: Record) -> anyhow::Result<TcpRun> {
    let flow = Rc::new(RefCell::new(BulkFlow::new(bytes)));
    let setup = Setup {
        port: 5001,
        expected: transfer_time(params, bytes),
        total: bytes,
        label: "bulk",
        close_both: false,
    };
    let run = run_scenario(params, seed, rec, setup, &flow)?;
    let r = flow.borrow();
    if let Some(e) = r.error() {
        bail!(
            "bulk transfer failed: {e} after {} of {} bytes",
            r.received,
            bytes
        );
    }
    run.ensure_finished("bulk transfer", || {
        format!(" ({} of {} bytes arrived)", r.received, bytes)
    })?;
    let verified = r.verified();
    let duration = run.since_start(r.last_byte);
    let tcp = run.tcp(r.received, verified, duration);
    let check = match (r.received == bytes, r.bad_at) {
        (true, None) => "byte check OK".to_string(),
        (_, Some(off)) => format!("BYTE CHECK FAILED at offset {off}"),
        (false, None) if interrupted() => {
            format!(
                "interrupted: {} of {bytes} bytes so far, each checked",
                r.received
            )
        }
        (false, None) => format!("BYTE CHECK FAILED: {} of {bytes} bytes", r.received),
    };
    let report = vec![
        format!("bulk: 10.0.0.1 → 10.0.0.2:5001 over {}", params.describe()),
        format!(
            "{} ({} bytes) in {} virtual: goodput {} — {check}",
            format_bytes(r.received),
            r.received,
            format_duration(duration),
            format_rate(tcp.goodput_bps)
        ),
    ];
    drop(r);
    Ok(run.into_run(tcp, report))
}

/// Jain's fairness index (Jain, Chiu and Hawe 1984): (Σx)² / (n·Σx²);
/// 1 when every flow got the same, 1/n when one got everything.
pub fn jain_index(x: &[f64]) -> f64 {
    let sum: f64 = x.iter().sum();
    let sq: f64 = x.iter().map(|v| v * v).sum();
    if x.is_empty() || sq <= 0.0 {
        return 1.0;
    }
    sum * sum / (x.len() as f64 * sq)
}

/// Windows over which `--flows` measures fairness.
const FAIRNESS_WINDOW: Duration = Duration::from_secs(5);

/// How [`run_flows`] runs one scenario N times at once on the link.
struct FlowsSetup {
    /// The scenario, as the report names it (`bulk`, `http`, `echo`).
    name: &'static str,
    /// What did not finish, for the error (`bulk transfer`).
    what: &'static str,
    /// B's port.
    port: u16,
    /// How many flows.
    flows: u32,
    /// Payload bytes each flow moves.
    bytes_each: u64,
    /// What each flow does, for the first line (`3.00 MiB each`).
    each: String,
    /// Virtual time all the flows should take together.
    expected: Duration,
    /// The payload flows from B to A (http): B's connections get the
    /// flows' algorithms, and B's counters are the sender's.
    sender_b: bool,
    /// Both applications close every connection at once when all are done.
    close_both: bool,
}

/// The flows of a `--flows N` run, and how their connections are told
/// apart: A's by handle, B's by A's port (B may see a connection's data
/// before it accepts it).
struct FlowTable<F> {
    flows: Vec<F>,
    by_a: HashMap<TcpHandle, usize>,
    by_b: HashMap<TcpHandle, usize>,
    by_port: HashMap<u16, usize>,
    /// B's connection of each flow, once B has seen it.
    b_handles: Vec<Option<TcpHandle>>,
    /// The algorithms dealt to the flows, set on B's connections when B
    /// sends the payload.
    cc_on_b: Option<CcList>,
}

impl<F: FlowApp> FlowTable<F> {
    /// An error no flow can be told apart by goes to the first one still
    /// running.
    fn fail(&mut self, e: String) {
        if let Some(f) = self.flows.iter_mut().find(|f| !f.done()) {
            f.fail(e);
        }
    }

    /// The same for the error a connection event reports, if it reports
    /// one.
    fn fail_on(&mut self, ev: &TcpEvent) {
        if let Some(e) = failure(ev) {
            self.fail(e);
        }
    }

    /// A's application: the event goes to the flow of its connection.
    fn on_a(&mut self, now: Instant, stack: &mut Stack, ev: &TcpEvent) {
        match handle_of(ev).and_then(|h| self.by_a.get(&h).copied()) {
            Some(i) => self.flows[i].client(now, stack, ev),
            None => self.fail_on(ev),
        }
    }

    /// B's application: accepts every connection, and the event goes to
    /// the flow of its connection.
    fn on_b(&mut self, now: Instant, stack: &mut Stack, ev: &TcpEvent) {
        if let TcpEvent::Acceptable { listener } = *ev {
            while let Ok(h) = stack.tcp_accept(listener) {
                self.flow_on_b(stack, h);
            }
            return;
        }
        match handle_of(ev).and_then(|h| self.flow_on_b(stack, h)) {
            Some(i) => self.flows[i].server(now, stack, ev),
            None => self.fail_on(ev),
        }
    }

    /// The flow of B's connection `h`, known by A's port the first time.
    fn flow_on_b(&mut self, stack: &mut Stack, h: TcpHandle) -> Option<usize> {
        if let Some(&i) = self.by_b.get(&h) {
            return Some(i);
        }
        let port = stack.tcp().info(h).ok()?.remote.port();
        let i = *self.by_port.get(&port)?;
        self.by_b.insert(h, i);
        self.b_handles[i] = Some(h);
        if let Some(cc) = self.cc_on_b {
            // Before B sends a byte of this connection.
            let _ = stack.tcp_set_congestion_control(h, cc.for_flow(i));
        }
        Some(i)
    }
}

/// `--flows N`: N flows of one scenario (`make(i)` gives flow i) start at
/// once from A to B and share the link (its queue is the bottleneck).
/// Flow i's sender runs `params.cc.for_flow(i)`. The report gives each
/// flow's goodput and retransmissions, the total, Jain's fairness index
/// while all ran and over windows, then the sender's counters.
fn run_flows<F: FlowApp + 'static>(
    params: &LinkParams,
    seed: u64,
    rec: Record,
    setup: FlowsSetup,
    make: impl FnMut(usize) -> F,
) -> anyhow::Result<TcpRun> {
    let n = setup.flows as usize;
    let table = Rc::new(RefCell::new(FlowTable {
        flows: (0..n).map(make).collect(),
        by_a: HashMap::new(),
        by_b: HashMap::new(),
        by_port: HashMap::new(),
        b_handles: vec![None; n],
        cc_on_b: setup.sender_b.then_some(params.cc),
    }));
    let t = table.clone();
    let a_app: strata_sim::host::App = Box::new(move |now, stack, ev| {
        if let Event::Tcp(ev) = ev {
            t.borrow_mut().on_a(now, stack, ev);
        }
    });
    let t = table.clone();
    let b_app: strata_sim::host::App = Box::new(move |now, stack, ev| {
        if let Event::Tcp(ev) = ev {
            t.borrow_mut().on_b(now, stack, ev);
        }
    });
    let mut net = build(params, seed, rec, Some(a_app), Some(b_app))?;
    let start = net.sim.now();
    let port = setup.port;
    net.sim
        .with_node(net.b, |h: &mut Host, _| {
            h.stack_mut().tcp_listen(None, port, n)
        })
        .context("host B")?
        .context("listen")?;
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        // The sender's algorithm: set here when A sends the payload.
        let cc = (!setup.sender_b).then(|| params.cc.for_flow(i));
        let (h, local) = net
            .sim
            .with_node(net.a, |host: &mut Host, now| {
                let st = host.stack_mut();
                let h = st.tcp_connect(now, SocketAddrV4::new(B_IP, port))?;
                if let Some(cc) = cc {
                    st.tcp_set_congestion_control(h, cc)?;
                }
                let local = st.tcp().info(h)?.local.port();
                Ok::<_, TcpError>((h, local))
            })
            .context("host A")?
            .context("connect")?;
        let mut t = table.borrow_mut();
        t.by_a.insert(h, i);
        t.by_port.insert(local, i);
        handles.push(h);
    }
    let all_bytes = setup.bytes_each * n as u64;
    let limit = start + setup.expected * 50 + Duration::from_secs(600);
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); n];
    let mut retrans = vec![0u64; n];
    // Bytes each flow had delivered, at every slice (for the windows).
    let mut timeline: Vec<(Instant, Vec<u64>)> = vec![(start, vec![0; n])];
    let mut progress = Progress::new(all_bytes, setup.name);
    let sender = if setup.sender_b { net.b } else { net.a };
    let finished = drive(
        &mut net,
        &handles,
        slice_for(params, setup.expected),
        limit,
        &mut progress,
        || {
            let t = table.borrow();
            t.flows.iter().all(|f| f.done()) || t.flows.iter().any(|f| f.error().is_some())
        },
        || table.borrow().flows.iter().map(|f| f.delivered()).sum(),
        &mut samples,
        setup.close_both,
        |net| {
            let t = table.borrow();
            // Each flow's retransmissions, at its sender, while its handle
            // lasts.
            if let Some(host) = net.sim.node::<Host>(sender) {
                for (i, r) in retrans.iter_mut().enumerate() {
                    let h = if setup.sender_b {
                        t.b_handles[i]
                    } else {
                        Some(handles[i])
                    };
                    if let Some(info) = h.and_then(|h| host.stack().tcp().info(h).ok()) {
                        *r = info.retransmits;
                    }
                }
            }
            timeline.push((
                net.sim.now(),
                t.flows.iter().map(|f| f.delivered()).collect(),
            ));
        },
    );
    let t = table.borrow();
    if let Some((i, e)) = t
        .flows
        .iter()
        .enumerate()
        .find_map(|(i, f)| f.error().map(|e| (i, e)))
    {
        bail!(
            "{} flow {} failed: {e} after {} of {} bytes",
            setup.name,
            i + 1,
            t.flows[i].delivered(),
            setup.bytes_each
        );
    }
    if !finished && interrupted() {
        eprintln!(
            "interrupted at {} of virtual time: the figures below are partial",
            format_duration(net.sim.now().saturating_duration_since(start))
        );
    } else if !finished {
        bail!(
            "{} did not finish within {} of virtual time ({} of {} bytes arrived)",
            setup.what,
            format_duration(limit.saturating_duration_since(start)),
            t.flows.iter().map(|f| f.delivered()).sum::<u64>(),
            all_bytes
        );
    }
    // While every flow ran: until the first one delivered its last byte.
    let shared_end = t
        .flows
        .iter()
        .map(|f| f.last_byte().unwrap_or(start))
        .min()
        .unwrap_or(start);
    let at = |t: Instant| -> &Vec<u64> {
        let k = timeline.partition_point(|(ts, _)| *ts <= t);
        &timeline[k.saturating_sub(1)].1
    };
    let shared: Vec<u64> = at(shared_end).clone();
    let jain = jain_index(&shared.iter().map(|&b| b as f64).collect::<Vec<_>>());
    let mut fairness = Vec::new();
    let mut w = start + FAIRNESS_WINDOW;
    while w <= shared_end {
        let (hi, lo) = (at(w), at(w - FAIRNESS_WINDOW));
        let got: Vec<f64> = hi.iter().zip(lo).map(|(h, l)| (h - l) as f64).collect();
        let secs = w.saturating_duration_since(start).as_secs_f64();
        fairness.push([secs, (jain_index(&got) * 1e4).round() / 1e4]);
        w += Duration::from_secs(1);
    }
    let fair_at_s = fairness.iter().find(|w| w[1] >= 0.95).map(|w| w[0]);
    let since = |t: Option<Instant>| t.unwrap_or(start).saturating_duration_since(start);
    let per_flow: Vec<FlowJson> = t
        .flows
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let d = since(f.last_byte()).as_secs_f64();
            FlowJson {
                flow: i as u32 + 1,
                cc: params.cc.for_flow(i).name().to_string(),
                bytes: f.delivered(),
                verified: f.verified(),
                duration_s: d,
                goodput_bps: if d > 0.0 {
                    f.delivered() as f64 * 8.0 / d
                } else {
                    0.0
                },
                shared_bytes: shared[i],
                retransmissions: retrans[i],
            }
        })
        .collect();
    let received: u64 = per_flow.iter().map(|f| f.bytes).sum();
    let verified = per_flow.iter().all(|f| f.verified);
    let duration = since(t.flows.iter().filter_map(|f| f.last_byte()).max());
    let tcp = tcp_json(&net, sender, received, verified, duration, &samples[0]);
    let mut report = vec![format!(
        "{}: {} flows 10.0.0.1 → 10.0.0.2:{port} at once over {}, {}",
        setup.name,
        setup.flows,
        params.describe(),
        setup.each
    )];
    for f in &per_flow {
        report.push(format!(
            "  flow {} ({}): {} in {}, goodput {}, retransmissions {}, {} while all ran — {}",
            f.flow,
            f.cc,
            format_bytes(f.bytes),
            format_duration(Duration::from_secs_f64(f.duration_s)),
            format_rate(f.goodput_bps),
            f.retransmissions,
            format_bytes(f.shared_bytes),
            if f.verified {
                "byte check OK"
            } else {
                "BYTE CHECK FAILED"
            }
        ));
    }
    let shared_s = shared_end.saturating_duration_since(start).as_secs_f64();
    report.push(format!(
        "total: {} in {} virtual: goodput {}",
        format_bytes(received),
        format_duration(duration),
        format_rate(tcp.goodput_bps)
    ));
    report.push(format!(
        "fairness: Jain's index {jain:.3} over the {} all flows ran; {} windows: {}",
        format_duration(Duration::from_secs_f64(shared_s)),
        format_duration(FAIRNESS_WINDOW),
        match fair_at_s {
            Some(t) => format!("≥ 0.95 from {t:.0} s on"),
            None if fairness.is_empty() => "none (the flows did not all run that long)".into(),
            None => "never ≥ 0.95".into(),
        }
    ));
    let flows_json = FlowsJson {
        flows: per_flow,
        shared_s,
        jain,
        window_s: FAIRNESS_WINDOW.as_secs_f64(),
        fairness,
        fair_at_s,
    };
    let flow_samples: Vec<(String, Vec<Sample>)> = samples
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            (
                format!("flow {} ({})", i + 1, params.cc.for_flow(i).name()),
                v,
            )
        })
        .collect();
    drop(t);
    report.extend(tcp_lines(&tcp));
    let first = flow_samples_first(&flow_samples);
    Ok(TcpRun {
        net,
        samples: first,
        tcp,
        report,
        http: None,
        echo: None,
        flows: Some(flows_json),
        flow_samples,
    })
}

fn flow_samples_first(v: &[(String, Vec<Sample>)]) -> Vec<Sample> {
    v.first().map(|(_, s)| s.clone()).unwrap_or_default()
}

/// `bulk --flows N`: N connections from A to B:5001 start at once and
/// share A's link; each moves `bytes`, every byte checked.
pub fn bulk_flows(
    params: &LinkParams,
    seed: u64,
    bytes: u64,
    flows: u32,
    rec: Record,
) -> anyhow::Result<TcpRun> {
    let setup = FlowsSetup {
        name: "bulk",
        what: "bulk transfer",
        port: 5001,
        flows,
        bytes_each: bytes,
        each: format!("{} each", format_bytes(bytes)),
        expected: transfer_time(params, bytes * u64::from(flows)),
        sender_b: false,
        close_both: false,
    };
    run_flows(params, seed, rec, setup, |_| BulkFlow::new(bytes))
}

/// The page the `http` scenario's server returns: `size` bytes of HTML.
pub fn page(size: u64) -> Vec<u8> {
    let head = b"<!doctype html><html><head><title>strata</title></head><body><h1>Hello from strata</h1><p>";
    let tail = b"</p></body></html>\n";
    let mut body: Vec<u8> = Vec::with_capacity(size as usize);
    body.extend_from_slice(head);
    let filler = b"A userspace TCP/IP stack you can watch, layer by layer. ";
    let mut i = 0usize;
    while body.len() + tail.len() < size as usize {
        body.push(filler[i % filler.len()]);
        i += 1;
    }
    body.extend_from_slice(tail);
    body.truncate(size as usize);
    body
}

/// One `GET /` as its two applications see it: a tiny HTTP/1.1 server on
/// B that answers with `page`, and the client on A. `closer` says who
/// sends the first FIN: the server after its answer (HTTP/1.1
/// "Connection: close", the default), the client once it has the whole
/// answer, or both at the same instant (the driver closes both ends).
struct HttpFlow {
    page: Rc<Vec<u8>>,
    closer: Closer,
    /// B: the request so far, and the answer TCP has not taken yet.
    request: Vec<u8>,
    answered: bool,
    answer: Outbox,
    /// A: the request TCP has not taken yet, and the answer so far.
    ask: Outbox,
    response: Vec<u8>,
    /// Length of the answer's head (with its empty line), once in.
    head_len: Option<usize>,
    first_byte: Option<Instant>,
    ending: Ending,
}

impl HttpFlow {
    fn new(page: Rc<Vec<u8>>, closer: Closer) -> Self {
        HttpFlow {
            page,
            closer,
            request: Vec::new(),
            answered: false,
            answer: Outbox::default(),
            ask: Outbox::default(),
            response: Vec::new(),
            head_len: None,
            first_byte: None,
            ending: Ending::default(),
        }
    }

    /// The answer's status line.
    fn status(&self) -> String {
        let head = &self.response[..self.head_len.unwrap_or(self.response.len())];
        String::from_utf8_lossy(head)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    }

    /// The answer's body so far.
    fn body(&self) -> &[u8] {
        self.head_len.map_or(&[][..], |p| &self.response[p..])
    }

    /// True once the whole answer is in: its head and as many body bytes
    /// as its Content-Length says.
    fn complete(&self) -> bool {
        let Some(p) = self.head_len else {
            return false;
        };
        let head = String::from_utf8_lossy(&self.response[..p]);
        let len = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        });
        len.is_some_and(|n| self.response.len() >= p + n)
    }
}

impl FlowApp for HttpFlow {
    fn client(&mut self, now: Instant, stack: &mut Stack, ev: &TcpEvent) {
        match *ev {
            TcpEvent::Connected(h) => {
                self.ask.push(b"GET / HTTP/1.1\r\nHost: 10.0.0.2\r\nUser-Agent: strata-sim\r\nAccept: */*\r\n\r\n");
                let _ = self.ask.flush(now, stack, h);
            }
            TcpEvent::Writable(h) => {
                let _ = self.ask.flush(now, stack, h);
            }
            TcpEvent::Readable(h) | TcpEvent::PeerClosed(h) if self.ending.done_at.is_none() => {
                let res = drain(stack, h, &mut |chunk| {
                    self.response.extend_from_slice(chunk)
                });
                if !self.response.is_empty() && self.first_byte.is_none() {
                    self.first_byte = Some(now);
                }
                if self.head_len.is_none() {
                    self.head_len = self
                        .response
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .map(|p| p + 4);
                }
                match res {
                    Ok(true) => {
                        self.ending.done_at = Some(now);
                        let _ = stack.tcp_close(now, h);
                    }
                    Ok(false) if self.closer != Closer::Server && self.complete() => {
                        // The whole answer is in: the client closes first
                        // (with --closer both, the driver closes both ends
                        // at once).
                        self.ending.done_at = Some(now);
                        if self.closer == Closer::Client {
                            let _ = stack.tcp_close(now, h);
                        }
                    }
                    Ok(false) => {}
                    Err(e) => self.fail(e.to_string()),
                }
            }
            ref other => self.fail_on(other),
        }
    }

    fn server(&mut self, now: Instant, stack: &mut Stack, ev: &TcpEvent) {
        match *ev {
            TcpEvent::Readable(h) | TcpEvent::PeerClosed(h) => {
                let eof =
                    drain(stack, h, &mut |c| self.request.extend_from_slice(c)).unwrap_or(true);
                if !self.answered && self.request.windows(4).any(|w| w == b"\r\n\r\n") {
                    self.answered = true;
                    let ok = self.request.starts_with(b"GET / ");
                    let (status, payload): (&str, &[u8]) = if ok {
                        ("200 OK", &self.page)
                    } else {
                        ("404 Not Found", b"not found\n")
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nServer: strata\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        payload.len()
                    );
                    self.answer.push(head.as_bytes());
                    self.answer.push(payload);
                    self.answer.close_when_done = self.closer == Closer::Server;
                    let _ = self.answer.flush(now, stack, h);
                }
                if eof {
                    // The client's FIN: close in turn, once the answer
                    // (if any) is handed over.
                    self.answer.close_when_done = true;
                    let _ = self.answer.flush(now, stack, h);
                }
            }
            TcpEvent::Writable(h) => {
                let _ = self.answer.flush(now, stack, h);
            }
            _ => {}
        }
    }

    ending_in_field!();

    fn delivered(&self) -> u64 {
        self.body().len() as u64
    }

    fn verified(&self) -> bool {
        self.status() == "HTTP/1.1 200 OK" && self.body() == self.page.as_slice()
    }
}

/// `http`: A fetches `GET /` from a tiny HTTP/1.1 server on B:80. `closer`
/// says who sends the first FIN: the server after its answer (HTTP/1.1
/// "Connection: close", the default), the client once it has the whole
/// answer, or both at the same instant.
pub fn http(
    params: &LinkParams,
    seed: u64,
    size: u64,
    rec: Record,
    closer: Closer,
) -> anyhow::Result<TcpRun> {
    let flow = Rc::new(RefCell::new(HttpFlow::new(Rc::new(page(size)), closer)));
    let setup = Setup {
        port: 80,
        expected: transfer_time(params, size),
        total: size,
        label: "http",
        close_both: closer == Closer::Both,
    };
    let run = run_scenario(params, seed, rec, setup, &flow)?;
    let c = flow.borrow();
    if let Some(e) = c.error() {
        bail!("http fetch failed: {e}");
    }
    run.ensure_finished("http fetch", String::new)?;
    let status = c.status();
    let got_body = c.body();
    let verified = c.verified();
    let duration = run.since_start(c.ending.done_at);
    // The page flows from B: its counters are the sender's.
    let tcp = run.tcp_sent_by(run.net.b, got_body.len() as u64, verified, duration);
    let ttfb = c.first_byte.map(|t| t.saturating_duration_since(run.start));
    let report = vec![
        format!(
            "http: GET http://10.0.0.2/ from 10.0.0.1 over {}",
            params.describe()
        ),
        format!(
            "{status} — {} body bytes{}; first byte after {}, done after {} (virtual)",
            got_body.len(),
            if verified {
                ", page intact"
            } else {
                ", PAGE MISMATCH"
            },
            ttfb.map_or("-".into(), format_duration),
            format_duration(duration)
        ),
        close_report(&run.net),
    ];
    let http = HttpJson {
        status,
        body_bytes: got_body.len() as u64,
        time_to_first_byte_ms: ttfb.map(json::ms),
    };
    drop(c);
    Ok(TcpRun {
        http: Some(http),
        ..run.into_run(tcp, report)
    })
}

/// `http --flows N`: N clients on A fetch `GET /` (a page of `size` bytes)
/// from B:80 at once; each page is checked. The pages flow from B, so the
/// flows' algorithms are B's and so are the summary's counters.
pub fn http_flows(
    params: &LinkParams,
    seed: u64,
    size: u64,
    flows: u32,
    rec: Record,
    closer: Closer,
) -> anyhow::Result<TcpRun> {
    let page = Rc::new(page(size));
    let setup = FlowsSetup {
        name: "http",
        what: "http fetch",
        port: 80,
        flows,
        bytes_each: size,
        each: format!("GET / of a {} page each", format_bytes(size)),
        expected: transfer_time(params, size * u64::from(flows)),
        sender_b: true,
        close_both: closer == Closer::Both,
    };
    run_flows(params, seed, rec, setup, |_| {
        HttpFlow::new(page.clone(), closer)
    })
}

/// Line `k` (from 1) the echo client sends.
fn echo_line(k: u16) -> Vec<u8> {
    format!("hello strata, line {k}\n").into_bytes()
}

/// One echo conversation as its two applications see it: the client on A
/// sends `lines` lines, one at a time, each after the previous came back;
/// the echo server on B sends back what it reads. `closer` says who sends
/// the first FIN once every line is back: the client (the default), the
/// server, or both at the same instant.
struct EchoFlow {
    lines: u16,
    closer: Closer,
    /// Bytes of all the lines together.
    total: usize,
    /// B: what TCP has not taken yet, and how much it echoed.
    echo: Outbox,
    echoed_by_b: usize,
    /// A: the last line sent, and when; what came back so far.
    out: Outbox,
    next: u16,
    sent_at: Option<Instant>,
    pending: Vec<u8>,
    /// The round trip of each line that came back.
    echoed: Vec<Duration>,
    echoed_bytes: u64,
    bad: u16,
    ending: Ending,
}

impl EchoFlow {
    fn new(lines: u16, closer: Closer) -> Self {
        EchoFlow {
            lines,
            closer,
            total: (1..=lines).map(|k| echo_line(k).len()).sum(),
            echo: Outbox::default(),
            echoed_by_b: 0,
            out: Outbox::default(),
            next: 0,
            sent_at: None,
            pending: Vec::new(),
            echoed: Vec::new(),
            echoed_bytes: 0,
            bad: 0,
            ending: Ending::default(),
        }
    }

    /// A sends the next line, or, with every line back, is done: it closes
    /// (the server closes in turn), unless another side is to close first.
    fn send_next(&mut self, now: Instant, stack: &mut Stack, h: TcpHandle) {
        if self.next < self.lines {
            self.next += 1;
            self.out.push(&echo_line(self.next));
            self.sent_at = Some(now);
        } else {
            self.ending.done_at = Some(now);
            self.out.close_when_done = self.closer == Closer::Client;
        }
        let _ = self.out.flush(now, stack, h);
    }
}

impl FlowApp for EchoFlow {
    fn client(&mut self, now: Instant, stack: &mut Stack, ev: &TcpEvent) {
        match *ev {
            TcpEvent::Connected(h) => self.send_next(now, stack, h),
            TcpEvent::Writable(h) => {
                let _ = self.out.flush(now, stack, h);
            }
            TcpEvent::Readable(h) | TcpEvent::PeerClosed(h) if self.ending.done_at.is_some() => {
                // Every line is back: only the server's FIN is awaited
                // (--closer server), and answered with ours.
                if matches!(drain(stack, h, &mut |_| {}), Ok(true)) && self.closer == Closer::Server
                {
                    self.out.close_when_done = true;
                    let _ = self.out.flush(now, stack, h);
                }
            }
            TcpEvent::Readable(h) | TcpEvent::PeerClosed(h) => {
                let res = drain(stack, h, &mut |chunk| self.pending.extend_from_slice(chunk));
                while self.ending.done_at.is_none() {
                    let Some(p) = self.pending.iter().position(|&b| b == b'\n') else {
                        break;
                    };
                    let l: Vec<u8> = self.pending.drain(..=p).collect();
                    let k = self.echoed.len() as u16 + 1;
                    if l != echo_line(k) {
                        self.bad += 1;
                    }
                    self.echoed_bytes += l.len() as u64;
                    let rtt = self
                        .sent_at
                        .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
                    self.echoed.push(rtt);
                    self.send_next(now, stack, h);
                }
                match res {
                    // The server closed before echoing everything.
                    Ok(true) if self.ending.done_at.is_none() => self.ending.done_at = Some(now),
                    // The last line came with the server's FIN.
                    Ok(true) if self.closer == Closer::Server => {
                        self.out.close_when_done = true;
                        let _ = self.out.flush(now, stack, h);
                    }
                    Ok(_) => {}
                    Err(e) if self.ending.done_at.is_none() => self.fail(e.to_string()),
                    Err(_) => {}
                }
            }
            ref other => self.fail_on(other),
        }
    }

    fn server(&mut self, now: Instant, stack: &mut Stack, ev: &TcpEvent) {
        match *ev {
            TcpEvent::Readable(h) | TcpEvent::PeerClosed(h) => {
                let mut got = Vec::new();
                let eof = drain(stack, h, &mut |c| got.extend_from_slice(c)).unwrap_or(true);
                self.echo.push(&got);
                self.echoed_by_b += got.len();
                // The client's FIN, or (--closer server) every line echoed.
                if eof || (self.closer == Closer::Server && self.echoed_by_b >= self.total) {
                    self.echo.close_when_done = true;
                }
                let _ = self.echo.flush(now, stack, h);
            }
            TcpEvent::Writable(h) => {
                let _ = self.echo.flush(now, stack, h);
            }
            _ => {}
        }
    }

    ending_in_field!();

    fn delivered(&self) -> u64 {
        self.echoed_bytes
    }

    fn verified(&self) -> bool {
        self.echoed.len() == usize::from(self.lines) && self.bad == 0
    }
}

/// `echo`: A sends `lines` lines to an echo server on B:7, one at a time,
/// each after the previous came back. `closer` says who sends the first
/// FIN once every line is back: the client (the default), the server, or
/// both at the same instant.
pub fn echo(
    params: &LinkParams,
    seed: u64,
    lines: u16,
    rec: Record,
    closer: Closer,
) -> anyhow::Result<TcpRun> {
    let flow = Rc::new(RefCell::new(EchoFlow::new(lines, closer)));
    let bytes = flow.borrow().total as u64;
    let setup = Setup {
        port: 7,
        expected: params.rtt * (u32::from(lines) + 4),
        total: bytes,
        label: "echo",
        close_both: closer == Closer::Both,
    };
    let run = run_scenario(params, seed, rec, setup, &flow)?;
    let c = flow.borrow();
    if let Some(e) = c.error() {
        bail!("echo failed: {e}");
    }
    run.ensure_finished("echo", String::new)?;
    let verified = c.verified();
    let duration = run.since_start(c.ending.done_at);
    let tcp = run.tcp(bytes, verified, duration);
    let rtts: Vec<f64> = c.echoed.iter().map(|d| json::ms(*d)).collect();
    let report = vec![
        format!(
            "echo: 10.0.0.1 → 10.0.0.2:7, {lines} lines over {}",
            params.describe()
        ),
        format!(
            "{} of {lines} lines echoed{}; round trips {}",
            c.echoed.len(),
            if verified { " intact" } else { ", SOME WRONG" },
            c.echoed
                .iter()
                .map(|d| format_duration(*d))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        close_report(&run.net),
    ];
    let echo = EchoJson {
        lines_sent: u64::from(c.next),
        lines_echoed: c.echoed.len() as u64,
        rtt_ms: rtts,
    };
    drop(c);
    Ok(TcpRun {
        echo: Some(echo),
        ..run.into_run(tcp, report)
    })
}

/// `echo --flows N`: N clients on A each send `lines` lines to the echo
/// server on B:7 at once, one line at a time; every line is checked.
pub fn echo_flows(
    params: &LinkParams,
    seed: u64,
    lines: u16,
    flows: u32,
    rec: Record,
    closer: Closer,
) -> anyhow::Result<TcpRun> {
    let bytes = EchoFlow::new(lines, closer).total as u64;
    let setup = FlowsSetup {
        name: "echo",
        what: "echo",
        port: 7,
        flows,
        bytes_each: bytes,
        each: format!("{lines} lines ({}) each", format_bytes(bytes)),
        expected: params.rtt * (u32::from(lines) + 4),
        sender_b: false,
        close_both: closer == Closer::Both,
    };
    run_flows(params, seed, rec, setup, |_| EchoFlow::new(lines, closer))
}

/// `FILE.svg` → `FILE-cwnd.svg` (the suffix goes before the extension).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}{suffix}"),
    };
    path.with_file_name(name)
}

/// Writes the bulk pictures; returns the paths written.
pub fn write_bulk_svgs(
    path: &Path,
    frames: &[(Instant, Vec<u8>)],
    samples: &[Sample],
    params: &LinkParams,
) -> anyhow::Result<Vec<PathBuf>> {
    let trace = SeqTrace::from_frames(frames, None);
    let title = format!("Time-sequence graph — {}", params.describe());
    std::fs::write(path, plot::time_sequence_svg(&trace, &title))
        .with_context(|| format!("cannot write {}", path.display()))?;
    let cwnd = with_suffix(path, "-cwnd");
    let title = format!("Congestion window and RTT — {}", params.describe());
    std::fs::write(&cwnd, plot::cwnd_rtt_svg(samples, &title))
        .with_context(|| format!("cannot write {}", cwnd.display()))?;
    Ok(vec![path.to_path_buf(), cwnd])
}

/// The pictures of `--flows`: the time-sequence graph of the first
/// flow and every flow's congestion window and RTT.
pub fn write_flows_svgs(
    path: &Path,
    frames: &[(Instant, Vec<u8>)],
    flows: &[(String, Vec<Sample>)],
    params: &LinkParams,
) -> anyhow::Result<Vec<PathBuf>> {
    let trace = SeqTrace::from_frames(frames, None);
    let title = format!("Time-sequence graph of flow 1 — {}", params.describe());
    std::fs::write(path, plot::time_sequence_svg(&trace, &title))
        .with_context(|| format!("cannot write {}", path.display()))?;
    let cwnd = with_suffix(path, "-cwnd");
    let title = format!(
        "Congestion windows of {} flows on one link — {}",
        flows.len(),
        params.describe()
    );
    std::fs::write(&cwnd, plot::cwnd_flows_svg(flows, &title))
        .with_context(|| format!("cannot write {}", cwnd.display()))?;
    Ok(vec![path.to_path_buf(), cwnd])
}

/// Builds the JSON summary of a TCP run.
pub fn summary(
    scenario: &str,
    seed: u64,
    params: &LinkParams,
    run: &TcpRun,
    files: &[PathBuf],
) -> Summary {
    Summary {
        scenario: scenario.to_string(),
        seed,
        link: params.json(),
        virtual_time_s: run.net.sim.now().as_nanos() as f64 / 1e9,
        links: run.net.sim.total_stats().into(),
        tcp: Some(run.tcp.clone()),
        http: run.http.clone(),
        echo: run.echo.clone(),
        ping: None,
        udp: None,
        traceroute: None,
        storm: None,
        flows: run.flows.clone(),
        files: files.iter().map(|p| p.display().to_string()).collect(),
    }
}

/// Examples shown under `strata sim --help`.
pub const EXAMPLES: &str = "\
Examples:
  strata sim ping                          ARP, then four echo round trips
  strata sim bulk --bytes 50M --rate 100mbit --rtt 20ms --loss 1%
  strata sim bulk --bytes 5M --loss 2% --burst-loss --svg bulk.svg
                                           (writes bulk.svg and bulk-cwnd.svg)
  strata sim http --loss 20% --ladder      watch the retransmissions
  strata sim http --flows 4 --bytes 2M     four fetches share the link: fairness
  strata sim echo -c 3 --reorder 5% --dup 1% --pcap echo.pcap
  strata sim bulk --bytes 2M --json        machine-readable summary
  strata sim iperf3 -t 5 -P 2 --rate 100mbit --rtt 20ms --loss 0.5%
                                           reads like strata iperf3 on a TAP

Values: rates 500kbit, 100mbit, 1gbit, 10Mbps (bit/s, decimal prefixes);
durations 250us, 20ms, 1.5s; probabilities 0.2 or 20%; sizes 1500, 64k,
50M, 1G (1024-based) or 50MB (1000-based).
bulk, http and echo run on one cable A (10.0.0.1) ⇄ B (10.0.0.2) shaped by
every link option; ping, udp and traceroute cross switches and routers and
take --loss, --rtt and --rate (ping and udp also --ladder and --svg).";

/// Prints `msg` as a usage error (`error: …`) and exits with code 2.
pub fn usage_error(msg: &str) -> ! {
    clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, format!("{msg}\n")).exit()
}

/// A pcap sink in memory that can be read after the simulation that owns
/// the writer is gone.
#[derive(Debug, Clone, Default)]
pub struct Capture(Rc<RefCell<Vec<u8>>>);

impl Capture {
    /// The bytes written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.borrow().clone()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Refuses lab options the switched scenarios (ping, udp, traceroute,
/// storm) cannot honour, with exit code 2.
pub fn check_for_lan_scenarios(args: &SimArgs) {
    let lab = &args.lab;
    let name = format!("{:?}", args.scenario).to_lowercase();
    let only_tcp = [
        ("--burst-loss", lab.burst_loss.is_some()),
        ("--reorder", lab.reorder > 0.0),
        ("--dup", lab.dup > 0.0),
        ("--corrupt", lab.corrupt > 0.0),
        ("--mtu", lab.mtu.is_some()),
        ("--bytes", lab.bytes.is_some()),
        ("--cc", lab.cc != CcList::default()),
        ("--iw", lab.iw.is_some()),
        ("--buffer", lab.buffer.is_some()),
        ("--delack", lab.delack.is_some()),
        ("--queue", lab.queue.is_some()),
        ("--no-hystart", lab.no_hystart),
        ("--flows", lab.flows.is_some()),
    ];
    for (flag, set) in only_tcp {
        if set {
            usage_error(&format!(
                "{flag} is for the bulk, http and echo scenarios; {name} takes --loss, --rtt, --rate, --pcap, --json, --ladder and --svg"
            ));
        }
    }
    let draws = lab.svg.is_some() || lab.ladder;
    // storm --stp --svg draws the spanning tree's timeline instead.
    let stp_svg = args.scenario == Scenario::Storm && args.stp.is_some() && !lab.ladder;
    if draws && !stp_svg && matches!(args.scenario, Scenario::Traceroute | Scenario::Storm) {
        usage_error(&format!(
            "--ladder and --svg draw two hosts; {name} has more: try ping, udp, http, echo or bulk \
             (storm --stp --svg draws the spanning tree)"
        ));
    }
    if args.scenario == Scenario::Storm && (lab.rtt.is_some() || lab.rate.is_some()) {
        usage_error("storm runs on fixed links: --rtt and --rate do not apply");
    }
    if let Some(Err(e)) = lab.rate.map(check_rate) {
        usage_error(&e);
    }
}

/// The JSON summary skeleton of a switched scenario (`strata sim` and the
/// web view).
pub fn lan_summary(scenario: &str, seed: u64, opts: &strata_sim::host::ScenarioOptions) -> Summary {
    Summary {
        scenario: scenario.to_string(),
        seed,
        link: LinkJson {
            rate_bps: opts.bandwidth_bps,
            rtt_ms: json::ms(opts.latency * 4),
            loss: opts.loss,
            burst_loss_len: None,
            reorder: 0.0,
            dup: 0.0,
            corrupt: 0.0,
            mtu: 1500,
        },
        virtual_time_s: 0.0,
        links: strata_sim::LinkStats::default().into(),
        tcp: None,
        http: None,
        echo: None,
        ping: None,
        udp: None,
        traceroute: None,
        storm: None,
        flows: None,
        files: Vec::new(),
    }
}

/// `strata sim bulk|http|echo`.
pub fn run_tcp(args: &SimArgs) -> anyhow::Result<()> {
    let lab = &args.lab;
    if lab.burst_loss.is_some() && args.loss == 0.0 {
        usage_error("--burst-loss shapes --loss into bursts: give the mean loss too, e.g. --loss 1% --burst-loss");
    }
    let params = LinkParams::new(lab, args.loss);
    if let Err(e) = params.check() {
        usage_error(&e);
    }
    if lab.cc.is_mix() && lab.flows.unwrap_or(1) < 2 {
        usage_error("a list of algorithms in --cc is dealt to flows: give --flows 2 or more");
    }
    let small_bulk = lab.bytes.unwrap_or(10 << 20) <= 64 * 1024;
    catch_interrupt();
    let rec = Record {
        pcap: args.pcap.is_some() || lab.svg.is_some(),
        // The ladder needs every offered frame; a big bulk run only when asked.
        offers: lab.ladder || args.scenario != Scenario::Bulk || small_bulk,
    };
    // One flow is the plain run; two or more share the link.
    let flows = lab.flows.filter(|&n| n > 1);
    let (name, run) = match args.scenario {
        Scenario::Bulk => {
            let bytes = lab.bytes.unwrap_or(10 << 20);
            let run = match flows {
                Some(n) => bulk_flows(&params, args.seed, bytes, n, rec)?,
                None => bulk(&params, args.seed, bytes, rec)?,
            };
            ("bulk", run)
        }
        Scenario::Http => {
            let (size, closer) = (
                lab.bytes.unwrap_or(1024),
                args.closer.unwrap_or(Closer::Server),
            );
            let run = match flows {
                Some(n) => http_flows(&params, args.seed, size, n, rec, closer)?,
                None => http(&params, args.seed, size, rec, closer)?,
            };
            ("http", run)
        }
        Scenario::Echo => {
            let (lines, closer) = (
                args.count.unwrap_or(4),
                args.closer.unwrap_or(Closer::Client),
            );
            let run = match flows {
                Some(n) => echo_flows(&params, args.seed, lines, n, rec, closer)?,
                None => echo(&params, args.seed, lines, rec, closer)?,
            };
            ("echo", run)
        }
        other => bail!("{other:?} is not a TCP scenario"),
    };
    let (pcap, frames) = captured(&run.net)?;
    let ladder = rec.offers.then(|| ladder_of(&run.net));
    let short = run.net.sim.offer_log().len() <= SHORT_RUN_FRAMES;
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(p) = &args.pcap {
        std::fs::write(p, &pcap).with_context(|| format!("cannot write {}", p.display()))?;
        files.push(p.clone());
    }
    if let Some(svg) = &lab.svg {
        match &ladder {
            Some(l) if short && args.scenario != Scenario::Bulk => {
                std::fs::write(svg, l.render_svg())
                    .with_context(|| format!("cannot write {}", svg.display()))?;
                files.push(svg.clone());
            }
            _ if run.flow_samples.len() > 1 => {
                files.extend(write_flows_svgs(svg, &frames, &run.flow_samples, &params)?)
            }
            _ => files.extend(write_bulk_svgs(svg, &frames, &run.samples, &params)?),
        }
    }
    if lab.json {
        println!(
            "{}",
            summary(name, args.seed, &params, &run, &files).to_json()
        );
    } else {
        println!("seed {} (replay with --seed {})", args.seed, args.seed);
        if let Some(l) = ladder.as_ref().filter(|_| lab.ladder || short) {
            println!(
                "{}",
                l.render_text(use_color(lab), crate::ladder::choose_width(lab.width))
            );
        }
        for line in &run.report {
            println!("{line}");
        }
        println!("\nlinks:\n{}", run.net.sim.stats_table().trim_end());
        for f in &files {
            println!("wrote {}", f.display());
        }
    }
    if interrupted() {
        std::process::exit(EXIT_INTERRUPTED);
    }
    if !run.tcp.verified {
        bail!("{name}: the data did not arrive intact");
    }
    Ok(())
}

/// `strata sim iperf3`: the iperf3 test on the lab's cable.
pub fn run_iperf3(args: &SimArgs) -> anyhow::Result<()> {
    let lab = &args.lab;
    let params = LinkParams::new(lab, args.loss);
    if let Err(e) = params.check() {
        usage_error(&e);
    }
    if args.count.is_some() || lab.ladder || lab.json {
        usage_error("iperf3 takes the link options, --bytes, -t, -P, -R, -i, --pcap and --svg");
    }
    if lab.flows.is_some() || lab.cc.is_mix() {
        usage_error("iperf3 runs parallel streams with -P, of one algorithm (--flows and --cc lists are for bulk, http and echo)");
    }
    if lab.bytes.is_none() && args.time <= 0.0 {
        usage_error("-t must be above 0 seconds (or give --bytes)");
    }
    let test = crate::iperf3::sim::Test {
        time: Duration::from_secs_f64(args.time),
        bytes: lab.bytes,
        parallel: args.parallel,
        reverse: args.reverse,
        interval: Duration::from_secs_f64(args.interval),
    };
    let rec = Record {
        pcap: args.pcap.is_some() || lab.svg.is_some(),
        offers: false,
    };
    println!("seed {} (replay with --seed {})", args.seed, args.seed);
    println!(
        "Connecting to host {B_IP}, port 5201 (simulated: {})",
        params.describe()
    );
    if args.reverse {
        println!("Reverse mode, remote host {B_IP} is sending");
    }
    let out = crate::iperf3::sim::run(&params, args.seed, &test, rec)?;
    crate::iperf3::print_summary(false, &out.sender, &out.receiver);
    let (pcap, frames) = captured(&out.net)?;
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(p) = &args.pcap {
        std::fs::write(p, &pcap).with_context(|| format!("cannot write {}", p.display()))?;
        files.push(p.clone());
    }
    if let Some(svg) = &lab.svg {
        files.extend(write_bulk_svgs(svg, &frames, &[], &params)?);
    }
    println!("\nlinks:\n{}", out.net.sim.stats_table().trim_end());
    for f in &files {
        println!("wrote {}", f.display());
    }
    Ok(())
}

/// Runs with at most this many frames count as short: their ladder is
/// printed without --ladder, and --svg draws the ladder.
pub const SHORT_RUN_FRAMES: usize = 100;

/// Colour on a terminal, unless --no-color or NO_COLOR say otherwise.
pub fn use_color(lab: &LabArgs) -> bool {
    !lab.no_color && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The ladder of host A's capture in the switched scenarios (ping, udp):
/// A = 10.0.0.1 on the left, B = 10.0.0.2 on the right. A capture holds
/// what reached A's cable, so a frame lost on the way is absent.
pub fn ladder_of_capture(pcap: &[u8]) -> anyhow::Result<Ladder> {
    let party = |name: &str, ip: Ipv4Addr, n: u8| Party {
        name: name.into(),
        ip,
        mac: MacAddr([0x02, 0, 0, 0, n, 0]),
    };
    let mut ladder = Ladder::new(party("A", A_IP, 1), party("B", B_IP, 2));
    for r in strata_sim::pcap::parse(pcap).context("reading back the capture")? {
        ladder.frame(r.ts, &r.data, false);
    }
    Ok(ladder)
}

/// The ladder of a TCP run: every frame offered to the cable at its send
/// time (lost ones marked), and both hosts' TCP state changes.
pub fn ladder_of(net: &Net) -> Ladder {
    let party = |name: &str, ip, mac| Party {
        name: name.into(),
        ip,
        mac,
    };
    let mut ladder = Ladder::new(
        party("A (client)", A_IP, A_MAC),
        party("B (server)", B_IP, B_MAC),
    );
    for o in net.sim.offer_log() {
        ladder.frame(o.at, &o.frame, o.dropped.is_some());
    }
    for (id, side) in [(net.a, Side::Left), (net.b, Side::Right)] {
        if let Some(host) = net.sim.node::<Host>(id) {
            ladder.tcp_states(side, host.events());
        }
    }
    ladder
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> LinkParams {
        LinkParams {
            rate_bps: 10_000_000,
            rtt: Duration::from_millis(10),
            loss: 0.0,
            burst_len: None,
            reorder: 0.0,
            dup: 0.0,
            corrupt: 0.0,
            mtu: 1500,
            cc: Default::default(),
            sack: true,
            timestamps: true,
            iw: None,
            buffer: None,
            delack: None,
            queue: None,
            hystart: true,
        }
    }

    #[test]
    fn link_settings_follow_the_parameters() {
        let p = LinkParams {
            loss: 0.02,
            burst_len: Some(5.0),
            ..params()
        };
        assert_eq!(p.bdp(), 12_500);
        let c = p.one_way();
        assert_eq!(c.latency, Duration::from_millis(5));
        assert_eq!(c.bandwidth_bps, 10_000_000);
        assert_eq!(c.max_frame, 1514);
        assert_eq!(c.loss, 0.0);
        let ge = c.burst_loss.expect("bursty");
        assert!((ge.mean_loss() - 0.02).abs() < 1e-12);
        assert!((1.0 / ge.p_bad_to_good - 5.0).abs() < 1e-12);
        let t = p.tcp();
        assert_eq!(t.mss, 1460);
        assert_eq!(t.rx_buffer_limit, 256 * 1024);
    }

    #[test]
    fn the_queue_and_hystart_reach_the_link_and_the_hosts() {
        // The default: one BDP (12.5 kB here), at least 64 frames.
        let p = params();
        assert_eq!(p.one_way().queue_limit, QueueLimit::Bytes(64 * 1514));
        assert!(p.tcp().hystart);
        let p = LinkParams {
            queue: Some(500_000),
            hystart: false,
            ..params()
        };
        assert_eq!(p.one_way().queue_limit, QueueLimit::Bytes(500_000));
        assert!(!p.tcp().hystart);
        let tiny = LinkParams {
            queue: Some(1000),
            ..params()
        };
        let e = tiny.check().unwrap_err();
        assert!(e.contains("--queue 1000 B holds no frame"), "{e}");
    }

    #[test]
    fn pattern_depends_on_position() {
        let a: Vec<u8> = (0..4096).map(pattern).collect();
        let b: Vec<u8> = (1..4097).map(pattern).collect();
        assert_ne!(a, b);
        assert!(a.contains(&0) && a.contains(&255));
    }

    #[test]
    fn suffix_goes_before_the_extension() {
        assert_eq!(
            with_suffix(Path::new("out/run.svg"), "-cwnd"),
            PathBuf::from("out/run-cwnd.svg")
        );
        assert_eq!(
            with_suffix(Path::new("run"), "-cwnd"),
            PathBuf::from("run-cwnd")
        );
    }

    #[test]
    fn page_has_the_asked_size() {
        for n in [200u64, 1024, 10_000] {
            let p = page(n);
            assert_eq!(p.len() as u64, n);
            assert!(p.starts_with(b"<!doctype html>"));
        }
    }

    #[test]
    fn bulk_moves_every_byte_with_loss() {
        let p = LinkParams {
            loss: 0.02,
            ..params()
        };
        let run = bulk(
            &p,
            7,
            300_000,
            Record {
                pcap: true,
                offers: false,
            },
        )
        .unwrap();
        assert!(run.tcp.verified);
        assert_eq!(run.tcp.bytes, 300_000);
        assert!(
            run.tcp.retransmissions > 0,
            "2% loss must cost retransmissions"
        );
        assert!(run.tcp.goodput_bps > 0.0 && run.tcp.goodput_bps < 10e6);
        // Samples start at time zero and go on after the sender's close()
        // (the orphaned connection still delivers the tail).
        assert_eq!(run.samples[0].t, Instant::ZERO);
        let last = run.samples.last().unwrap().t.as_nanos() as f64 / 1e9;
        assert!(
            last >= run.tcp.duration_s * 0.98,
            "{last} < {}",
            run.tcp.duration_s
        );
        let (_, frames) = captured(&run.net).unwrap();
        let trace = SeqTrace::from_frames(&frames, None);
        assert_eq!(trace.flow.unwrap().dst.port(), 5001);
        assert!(trace.retransmissions() > 0);
    }

    #[test]
    fn http_and_echo_complete() {
        let p = LinkParams {
            loss: 0.05,
            ..params()
        };
        let run = http(&p, 3, 20_000, Record::default(), Closer::Server).unwrap();
        assert!(run.tcp.verified, "{:?}", run.report);
        assert_eq!(run.http.as_ref().unwrap().status, "HTTP/1.1 200 OK");
        let run = echo(
            &p,
            3,
            5,
            Record {
                pcap: false,
                offers: true,
            },
            Closer::Client,
        )
        .unwrap();
        assert!(run.tcp.verified, "{:?}", run.report);
        assert_eq!(run.echo.as_ref().unwrap().lines_echoed, 5);
    }

    #[test]
    fn the_side_asked_to_close_first_is_the_one_in_time_wait() {
        let p = LinkParams {
            loss: 0.05,
            ..params()
        };
        let (a, b) = ("A (client)", "B (server)");
        for (closer, first, waits) in [
            (Closer::Client, a.to_string(), a.to_string()),
            (Closer::Server, b.to_string(), b.to_string()),
            (
                Closer::Both,
                "both at once (a simultaneous close: CLOSING)".to_string(),
                format!("{a} and {b}"),
            ),
        ] {
            let want = format!("close: the first FIN from {first}; TIME-WAIT (2×MSL) on {waits}");
            let run = http(&p, 3, 20_000, Record::default(), closer).unwrap();
            assert!(run.tcp.verified, "http {closer:?}: {:?}", run.report);
            assert!(
                run.report.contains(&want),
                "http {closer:?}: {:?}",
                run.report
            );
            let run = echo(&p, 3, 5, Record::default(), closer).unwrap();
            assert!(run.tcp.verified, "echo {closer:?}: {:?}", run.report);
            assert!(
                run.report.contains(&want),
                "echo {closer:?}: {:?}",
                run.report
            );
        }
    }
}
