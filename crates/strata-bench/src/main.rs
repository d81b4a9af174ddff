//! `strata-bench`: strata beside smoltcp, the same workloads in the same run.
//!
//! Two stacks joined by an in-memory Ethernet pipe, one thread, all checksums
//! computed and verified in software, 256 KiB socket buffers, no delay or loss.
//! Rounds are paired and alternate the order (strata then smoltcp, then
//! smoltcp then strata); the table shows the median of the per-round ratios
//! with their spread.

mod alloc;
mod http;
mod pipe;
mod smol;
mod strata_side;
mod tap;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use clap::Parser;

use pipe::Pattern;
use smol::Smoltcp;
use strata_side::Strata;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// Socket buffer size for both stacks.
pub const BUF: usize = 256 * 1024;
/// Server port for every workload.
pub const PORT: u16 = 5001;
/// Delayed-ACK time of both stacks (strata's default and Linux's minimum;
/// smoltcp's default is 10 ms).
pub const DELAYED_ACK: Duration = Duration::from_millis(40);
/// Bytes a bulk transfer moves before its clock starts (not counted): slow
/// start, and smoltcp's congestion control, which starts at 2 048 bytes
/// whatever the MSS, so that with jumbo frames each early flight is shorter
/// than one segment and waits for the receiver's delayed ACK (about 0.3 s
/// before the window opens). The figure is the steady state.
pub const WARM: u64 = 16 << 20;
/// Nagle's algorithm off on both stacks. With it on, smoltcp's Reno and
/// CUBIC stall a bulk transfer: a congestion window that is not a multiple
/// of the MSS leaves a short segment that Nagle holds until the receiver's
/// delayed ACK fires (an 8 MiB transfer spent 69 000 of its 69 100 rounds
/// waiting), which measures the timer, not the stack. The workloads write
/// 64 KiB chunks or one whole message, so Nagle has nothing to coalesce.
pub const NODELAY: bool = true;
/// Virtual time per clock reading under `--callgrind` (ns; about one
/// `settle` round of a 64-wide batch at native speed).
pub const VIRTUAL_TICK: u64 = 100_000;

static VIRTUAL: AtomicBool = AtomicBool::new(false);

/// True when both stacks run on a virtual clock (`--callgrind`).
pub fn virtual_clock() -> bool {
    VIRTUAL.load(Ordering::Relaxed)
}

/// Congestion control of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cc {
    /// strata's NewReno (RFC 5681 + 6582) against smoltcp's `socket-tcp-reno`.
    Reno,
    /// CUBIC on both (smoltcp's `socket-tcp-cubic`).
    Cubic,
    /// smoltcp without congestion control against strata's NewReno (strata
    /// has no way to turn it off): the configuration of earlier tables.
    SmoltcpNone,
}

/// The TCP features both stacks run with in one row.
#[derive(Clone, Copy, Debug)]
pub struct Features {
    /// RFC 7323 timestamps (12 option bytes per segment: 1448 payload
    /// bytes in a 1514-byte frame instead of 1460, on both stacks).
    pub timestamps: bool,
    /// Congestion control.
    pub cc: Cc,
}

impl Features {
    /// Timestamps on, NewReno/Reno: every row without a suffix.
    pub const DEFAULT: Features = Features {
        timestamps: true,
        cc: Cc::Reno,
    };
}

/// What the connections of an `idle-mem` row carried before the heap is read.
#[derive(Clone, Copy, Debug)]
pub enum After {
    /// Nothing: just established.
    Nothing,
    /// One 64-byte request and its reply on every connection.
    RequestReply,
    /// This many bytes one way on every connection.
    Bulk(u64),
}

/// The outcome of one `many` run.
#[derive(Clone, Copy, Debug)]
pub struct Many {
    /// Connections established (fewer than asked when the setup hit its
    /// time bound).
    pub opened: usize,
    /// True when the untimed warm-up exchange ran on every opened connection
    /// (it too is bounded by the setup's time limit).
    pub warmed: bool,
    /// Seconds the setup took.
    pub setup_secs: f64,
    /// Wall-clock ns per request/reply exchange over the opened connections.
    pub ns_per_exchange: f64,
    /// Frames (both directions) per exchange.
    pub frames_per_exchange: f64,
}

/// One stack's implementation of every workload.
pub trait Contender {
    /// Name in the table.
    const NAME: &'static str;
    /// Seconds to move `bytes` one way over one connection with `frame`-byte
    /// Ethernet frames, after a warm-up of [`WARM`] bytes (payload verified
    /// by the receiver).
    fn bulk(frame: usize, bytes: u64, pattern: &Pattern, features: Features) -> Result<f64>;
    /// Seconds for `n` sequential connect/request/reply/close cycles.
    fn conns(n: usize) -> Result<f64>;
    /// Request/reply traffic over `n` open connections for `budget`; the
    /// setup (and warm-up) may stop early at `setup_limit`.
    fn many(n: usize, budget: Duration, setup_limit: Duration) -> Result<Many>;
    /// Heap bytes per connection endpoint with `n` connections after `after`
    /// (`buf`: the size of smoltcp's preallocated buffers; strata's grow on
    /// demand up to [`BUF`]).
    fn idle_mem(n: usize, after: After, buf: usize, pattern: &Pattern) -> Result<f64>;
}

#[derive(Parser)]
#[command(about = "strata beside smoltcp: the same workloads in the same run")]
struct Args {
    /// Workload: bulk-1514, bulk-1514-nots, bulk-1514-cubic, bulk-1514-nocc,
    /// bulk-9014, bulk-65535, conns, many, idle-mem (default: all),
    /// or `tap`: both stacks over a real TAP with the Linux kernel as the peer
    /// (needs root and /dev/net/tun; not part of "all").
    /// With `--callgrind`: bulk (default), conns or many-N.
    /// `http`: ab against `strata serve` over a TAP and nginx over a veth
    /// pair (root; see --requests, --concurrency, --size, --idle).
    workload: Option<String>,
    /// `http`: requests per row (at least the concurrency).
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// `http`: concurrency levels.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 10, 100, 500, 1000])]
    concurrency: Vec<usize>,
    /// `http`: bytes per response.
    #[arg(long, default_value_t = 10 * 1024)]
    size: usize,
    /// `http`: idle keep-alive connections (to each server) held open
    /// during two extra c=100 rows (0: none).
    #[arg(long, default_value_t = 1000)]
    idle: usize,
    /// `http`: `strata serve --backlog`.
    #[arg(long, default_value_t = 4096)]
    backlog: usize,
    /// `http`: the TAP's `txqueuelen` (frames the kernel queues for strata).
    #[arg(long, default_value_t = 10_000)]
    tap_queue: usize,
    /// `http`: instead of the table, count the instructions `strata serve`
    /// spends per request at c=100 with and without the `--idle` clients
    /// (under `valgrind --tool=callgrind`; deterministic where wall time on
    /// a shared machine is not).
    #[arg(long)]
    instructions: bool,
    /// `http`: the `strata` binary (default: next to this one).
    #[arg(long, value_name = "PATH")]
    strata: Option<std::path::PathBuf>,
    /// Smaller sizes and fewer rounds (used by the test suite).
    #[arg(long)]
    quick: bool,
    /// Paired rounds per workload (default 5, 2 with --quick; `many` runs
    /// at most 3, and one at 100 000 connections).
    #[arg(long)]
    rounds: Option<usize>,
    /// Bytes per transfer of `tap` (e.g. 64M, 1G; default 64M, 8M with
    /// --quick; also STRATA_BENCH_TAP_BYTES).
    #[arg(long)]
    bytes: Option<String>,
    /// `tap`: strata's runtimes busy-poll the TAP for this many
    /// microseconds before they sleep (default: they sleep at once).
    #[arg(long, value_name = "MICROS")]
    busy_poll: Option<u64>,
    /// `tap`: compare C connections (--conns) over one queue of a
    /// multi-queue TAP with C connections over this many queues, one
    /// strata shard per queue (instead of the stack comparison).
    #[arg(long, value_name = "Q")]
    queues: Option<usize>,
    /// `tap --queues`: connections at once (default 4).
    #[arg(long, value_name = "C", default_value_t = 4)]
    conns: usize,
    /// Run one fixed piece of work on one stack only, for
    /// `valgrind --tool=callgrind`: with workload `bulk` (the default) a
    /// 64 MiB transfer over 1514-byte frames (instructions per payload byte),
    /// with `conns` 5 000 connection cycles (instructions per connection),
    /// with `many-N` 3 000 batches of the `many` traffic over N connections
    /// (instructions and cache misses per exchange). Both stacks then run
    /// on a virtual clock.
    #[arg(long, value_name = "STACK", value_parser = ["strata", "smoltcp"])]
    callgrind: Option<String>,
}

/// Bytes moved by `--callgrind STACK [bulk]`.
const CALLGRIND_BYTES: u64 = 64 << 20;
/// Batches of 64 request/replies run by `--callgrind STACK many-N`.
const CALLGRIND_BATCHES: u64 = 3_000;
/// Connection cycles run by `--callgrind STACK conns`.
const CALLGRIND_CONNS: usize = 5_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    }
}

/// Runs `rounds` paired rounds, alternating which stack goes first (strata
/// then smoltcp in even rounds, smoltcp then strata in odd ones), so that
/// neither always meets a warmer or a colder machine.
fn paired<T>(
    rounds: usize,
    mut strata: impl FnMut() -> Result<T>,
    mut smoltcp: impl FnMut() -> Result<T>,
) -> Result<(Vec<T>, Vec<T>)> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        if r.is_multiple_of(2) {
            a.push(strata()?);
            b.push(smoltcp()?);
        } else {
            b.push(smoltcp()?);
            a.push(strata()?);
        }
    }
    Ok((a, b))
}

struct Row {
    workload: String,
    unit: &'static str,
    /// Median of strata's rounds.
    strata: f64,
    /// Median of smoltcp's rounds.
    smoltcp: f64,
    /// Per-round ratios, how much better strata is (>1 = strata wins),
    /// whatever the unit's direction.
    ratios: Vec<f64>,
}

impl Row {
    fn higher_better(w: &str, unit: &'static str, a: Vec<f64>, b: Vec<f64>) -> Row {
        Row::new(w, unit, a, b, |strata, smoltcp| strata / smoltcp)
    }
    fn lower_better(w: &str, unit: &'static str, a: Vec<f64>, b: Vec<f64>) -> Row {
        Row::new(w, unit, a, b, |strata, smoltcp| smoltcp / strata)
    }
    fn new(
        w: &str,
        unit: &'static str,
        a: Vec<f64>,
        b: Vec<f64>,
        ratio: fn(f64, f64) -> f64,
    ) -> Row {
        let ratios = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| ratio(x, y))
            .filter(|r| !r.is_nan())
            .collect();
        Row {
            workload: w.into(),
            unit,
            strata: median(a),
            smoltcp: median(b),
            ratios,
        }
    }
    /// Median of the per-round ratios.
    fn ratio(&self) -> f64 {
        median(self.ratios.clone())
    }
    /// Smallest and largest per-round ratio.
    fn spread(&self) -> (f64, f64) {
        let lo = self.ratios.iter().copied().fold(f64::NAN, f64::min);
        let hi = self.ratios.iter().copied().fold(f64::NAN, f64::max);
        (lo, hi)
    }
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` gives them.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Frame size and features of a bulk row: `bulk-<frame>[-nots|-cubic|-nocc]`.
fn bulk_row(w: &str) -> Result<(usize, Features)> {
    let mut parts = w["bulk-".len()..].splitn(2, '-');
    let frame: usize = parts.next().unwrap_or_default().parse()?;
    let features = match parts.next() {
        None => Features::DEFAULT,
        Some("nots") => Features {
            timestamps: false,
            ..Features::DEFAULT
        },
        Some("cubic") => Features {
            cc: Cc::Cubic,
            ..Features::DEFAULT
        },
        Some("nocc") => Features {
            cc: Cc::SmoltcpNone,
            ..Features::DEFAULT
        },
        Some(x) => anyhow::bail!("unknown bulk variant '{x}'"),
    };
    Ok((frame, features))
}

fn callgrind(stack: &str, workload: &str) -> Result<()> {
    VIRTUAL.store(true, Ordering::Relaxed);
    let strata = stack == "strata";
    match workload {
        "bulk" => {
            let pattern = Pattern::new();
            if strata {
                Strata::bulk(1514, CALLGRIND_BYTES, &pattern, Features::DEFAULT)?;
            } else {
                Smoltcp::bulk(1514, CALLGRIND_BYTES, &pattern, Features::DEFAULT)?;
            }
            let moved = CALLGRIND_BYTES + WARM;
            println!("{stack}: moved {moved} payload bytes (divide callgrind's Ir by this)");
        }
        "conns" => {
            if strata {
                Strata::conns(CALLGRIND_CONNS)?;
            } else {
                Smoltcp::conns(CALLGRIND_CONNS)?;
            }
            println!(
                "{stack}: ran {CALLGRIND_CONNS} connection cycles (divide callgrind's Ir by this)"
            );
        }
        w if w.starts_with("many-") => {
            let n: usize = w["many-".len()..].parse()?;
            let (frames, exchanges) = if strata {
                strata_side::many_batches(n, CALLGRIND_BATCHES)?
            } else {
                smol::many_batches(n, CALLGRIND_BATCHES)?
            };
            println!(
                "{stack}: {CALLGRIND_BATCHES} batches over {n} connections: {exchanges} exchanges, \
                 {frames} frames (divide callgrind's Ir by these)"
            );
        }
        w => anyhow::bail!("--callgrind runs bulk, conns or many-N, not '{w}'"),
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(stack) = &args.callgrind {
        return callgrind(stack, args.workload.as_deref().unwrap_or("bulk"));
    }
    if args.workload.as_deref() == Some("http") {
        return http::run(&http::HttpOptions {
            requests: args.requests,
            concurrency: args.concurrency.clone(),
            size: args.size,
            strata: args.strata.clone().unwrap_or_else(http::default_strata_bin),
            idle: args.idle,
            backlog: args.backlog,
            tap_queue: args.tap_queue,
            instructions: args.instructions,
        });
    }
    let rounds = args.rounds.unwrap_or(if args.quick { 2 } else { 5 }).max(1);
    if args.workload.as_deref() == Some("tap") {
        let bytes = match args
            .bytes
            .clone()
            .or_else(|| std::env::var("STRATA_BENCH_TAP_BYTES").ok())
        {
            Some(s) => tap::parse_size(&s)?,
            None if args.quick => 8 << 20,
            None => 64 << 20,
        };
        let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 5 }).max(1);
        if let Some(queues) = args.queues {
            return tap::run_multi_queue(tap::MqPlan {
                bytes,
                rounds,
                queues,
                conns: args.conns,
                busy_poll: args.busy_poll.map(Duration::from_micros),
            });
        }
        return tap::run(tap::TapPlan {
            bytes,
            rounds,
            busy_poll: args.busy_poll.map(Duration::from_micros),
        });
    }
    let all = [
        "bulk-1514",
        "bulk-1514-nots",
        "bulk-1514-cubic",
        "bulk-1514-nocc",
        "bulk-9014",
        "bulk-65535",
        "conns",
        "many",
        "idle-mem",
    ];
    let chosen: Vec<&str> = match &args.workload {
        Some(w) if all.contains(&w.as_str()) => vec![w.as_str()],
        Some(w) => anyhow::bail!(
            "unknown workload '{w}' (expected one of {})",
            all.join(", ")
        ),
        None => all.to_vec(),
    };
    let load_before = loadavg();
    let pattern = Pattern::new();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for w in chosen {
        match w {
            w if w.starts_with("bulk-") => {
                let (frame, features) = bulk_row(w)?;
                let bytes: u64 = if args.quick { 8 << 20 } else { 1 << 30 };
                let gbps = |secs: f64| bytes as f64 * 8.0 / secs / 1e9;
                let (a, b) = paired(
                    rounds,
                    || Ok(gbps(Strata::bulk(frame, bytes, &pattern, features)?)),
                    || Ok(gbps(Smoltcp::bulk(frame, bytes, &pattern, features)?)),
                )?;
                rows.push(Row::higher_better(w, "Gbit/s", a, b));
            }
            "conns" => {
                let n = if args.quick { 200 } else { 20_000 };
                let (a, b) = paired(
                    rounds,
                    || Ok(n as f64 / Strata::conns(n)?),
                    || Ok(n as f64 / Smoltcp::conns(n)?),
                )?;
                rows.push(Row::higher_better(w, "conn/s", a, b));
            }
            "many" => many_rows(&args, rounds, &mut rows, &mut notes)?,
            "idle-mem" => idle_mem_rows(&args, &pattern, &mut rows, &mut notes)?,
            _ => unreachable!(),
        }
    }
    println!(
        "built for {}; delayed ACK {} ms on both; {rounds} paired rounds (order alternated); \
         load average {load_before} before, {} after",
        if cfg!(target_feature = "avx2") {
            "a CPU with AVX2 (-C target-cpu=native or similar)"
        } else {
            "baseline x86-64 (strata picks its AVX2 checksum at run time)"
        },
        DELAYED_ACK.as_millis(),
        loadavg()
    );
    println!(
        "{:<16} {:>12} {:>12} {:>7} {:>13}  unit",
        "workload", "strata", "smoltcp", "ratio", "spread"
    );
    for r in &rows {
        let (lo, hi) = r.spread();
        println!(
            "{:<16} {:>12.2} {:>12.2} {:>7.2} {:>6.2}–{:<6.2}  {}",
            r.workload,
            r.strata,
            r.smoltcp,
            r.ratio(),
            lo,
            hi,
            r.unit
        );
    }
    for n in &notes {
        println!("{n}");
    }
    for r in &rows {
        println!("ratio {} = {:.2}", r.workload, r.ratio());
    }
    Ok(())
}

/// `many-N`: ns and frames per request/reply exchange; growth from many-100.
fn many_rows(
    args: &Args,
    rounds: usize,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result<()> {
    let budget = Duration::from_millis(if args.quick { 100 } else { 1000 });
    // smoltcp walks every socket on each poll: its setup (and the warm-up
    // exchange on every connection) grows with N², so it runs within a time
    // bound and prints what it reached.
    let setup_limit = Duration::from_secs(if args.quick { 5 } else { 30 });
    let ns: &[usize] = if args.quick {
        &[1, 100]
    } else {
        &[1, 100, 10_000, 100_000]
    };
    let mut base: Option<(f64, f64)> = None;
    for &n in ns {
        let r = if n >= 100_000 { 1 } else { rounds.min(3) };
        let (a, b) = paired(
            r,
            || Strata::many(n, budget, setup_limit),
            || Smoltcp::many(n, budget, setup_limit),
        )?;
        for m in &b {
            if m.opened < n || !m.warmed {
                notes.push(format!(
                    "smoltcp many-{n}: partial ({} s bound on setup and warm-up): {} of {n} \
                     connections open after {:.1} s ({:.0} conn/s){}; over those: {:.0} ns \
                     and {:.2} frames per exchange",
                    setup_limit.as_secs(),
                    m.opened,
                    m.setup_secs,
                    m.opened as f64 / m.setup_secs,
                    if m.warmed { "" } else { ", warm-up cut short" },
                    m.ns_per_exchange,
                    m.frames_per_exchange
                ));
            }
        }
        // A partial smoltcp run does not count as a figure at N.
        let full = |m: &Many| m.opened == n && m.warmed;
        let ns_of = |v: &[Many]| -> Vec<f64> {
            v.iter()
                .map(|m| if full(m) { m.ns_per_exchange } else { f64::NAN })
                .collect()
        };
        let frames_of = |v: &[Many]| -> Vec<f64> {
            v.iter()
                .map(|m| {
                    if full(m) {
                        m.frames_per_exchange
                    } else {
                        f64::NAN
                    }
                })
                .collect()
        };
        let row = Row::lower_better(&format!("many-{n}"), "ns/exch", ns_of(&a), ns_of(&b));
        let frames = Row::lower_better(
            &format!("many-{n}-frames"),
            "frames/exch",
            frames_of(&a),
            frames_of(&b),
        );
        if n == 100 {
            base = Some((row.strata, row.smoltcp));
        }
        if let (Some((s0, m0)), true) = (base, n > 100) {
            notes.push(format!(
                "growth many-{n} / many-100 (ns per exchange): strata {:.2}, smoltcp {:.2}",
                row.strata / s0,
                row.smoltcp / m0
            ));
        }
        rows.push(row);
        rows.push(frames);
    }
    Ok(())
}

/// `idle-mem`: heap per connection endpoint, state and buffers apart.
fn idle_mem_rows(
    args: &Args,
    pattern: &Pattern,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result<()> {
    let n = if args.quick { 1_000 } else { 100_000 };
    // smoltcp allocates both buffers per socket up front: 100 000 sockets
    // with 256 KiB buffers would need 50 GiB, so it is measured at 1 000.
    let n_smol = n.min(1_000);
    let (bulk_n, bulk_bytes) = if args.quick {
        (20, 256 << 10)
    } else {
        (100, 1 << 20)
    };
    let strata_fresh = Strata::idle_mem(n, After::Nothing, BUF, pattern)?;
    let strata_rr = Strata::idle_mem(n, After::RequestReply, BUF, pattern)?;
    let strata_bulk = Strata::idle_mem(bulk_n, After::Bulk(bulk_bytes), BUF, pattern)?;
    let smol_fresh = Smoltcp::idle_mem(n_smol, After::Nothing, BUF, pattern)?;
    let smol_rr = Smoltcp::idle_mem(n_smol, After::RequestReply, BUF, pattern)?;
    let smol_bulk = Smoltcp::idle_mem(bulk_n, After::Bulk(bulk_bytes), BUF, pattern)?;
    let small = smol::SMALL_BUF;
    let smol_small = Smoltcp::idle_mem(n.min(10_000), After::RequestReply, small, pattern)?;
    // smoltcp's buffers are exactly two `buf`-byte vectors per socket; the
    // rest is its state. strata's buffers grow on demand, so a connection
    // that never carried a byte holds state only.
    let smol_state = smol_fresh - (2 * BUF) as f64;
    let mut row = |w: &str, a: f64, b: f64| {
        rows.push(Row::lower_better(w, "B/endpoint", vec![a], vec![b]));
    };
    row("idle-mem-state", strata_fresh, smol_state);
    row("idle-mem", strata_fresh, smol_fresh);
    row("idle-mem-rr", strata_rr, smol_rr);
    row("idle-mem-bulk", strata_bulk, smol_bulk);
    row("idle-mem-small", strata_rr, smol_small);
    notes.push(format!(
        "idle-mem: strata at {n} connections, smoltcp at {n_smol} with two {BUF}-byte buffers \
         ({} B of them per endpoint, {smol_state:.0} B state) and at {} with two {small}-byte \
         buffers (idle-mem-small); buffers strata keeps per endpoint: {:.0} B after one \
         request/reply, {:.0} B after {bulk_bytes} bytes one way ({bulk_n} connections)",
        2 * BUF,
        n.min(10_000),
        strata_rr - strata_fresh,
        strata_bulk - strata_fresh
    ));
    Ok(())
}
