//! `strata-bench`: strata beside smoltcp, the same workloads in the same run.
//!
//! Two stacks joined by an in-memory Ethernet pipe, one thread, all checksums
//! computed and verified in software, 256 KiB socket buffers, no delay or loss.
//! The contenders alternate over several rounds; the table shows medians.

mod alloc;
mod pipe;
mod smol;
mod strata_side;

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

/// One stack's implementation of every workload.
pub trait Contender {
    /// Name in the table.
    const NAME: &'static str;
    /// Seconds to move `bytes` one way over one connection with `frame`-byte
    /// Ethernet frames (payload verified by the receiver).
    fn bulk(frame: usize, bytes: u64, pattern: &Pattern) -> Result<f64>;
    /// Seconds for `n` sequential connect/request/reply/close cycles.
    fn conns(n: usize) -> Result<f64>;
    /// ns per segment of request/reply traffic over `n` open connections,
    /// or `None` when setting them up exceeds the time budget.
    fn many(n: usize, budget: Duration) -> Result<Option<f64>>;
    /// Heap bytes per idle established connection endpoint with `n` connections.
    fn idle_mem(n: usize) -> Result<f64>;
}

#[derive(Parser)]
#[command(about = "strata beside smoltcp: the same workloads in the same run")]
struct Args {
    /// Workload: bulk-1514, bulk-9014, bulk-65535, conns, many, idle-mem (default: all).
    /// With `--callgrind`: bulk (default), conns or many-N (strata only).
    workload: Option<String>,
    /// Smaller sizes and fewer rounds (used by the test suite).
    #[arg(long)]
    quick: bool,
    /// Rounds per workload (default 5, 1 with --quick).
    #[arg(long)]
    rounds: Option<usize>,
    /// Run one fixed piece of work on one stack only, for
    /// `valgrind --tool=callgrind`: with workload `bulk` (the default) a
    /// 64 MiB transfer over 1514-byte frames (instructions per payload byte),
    /// with `conns` 5 000 connection cycles (instructions per connection),
    /// with `many-N` 3 000 batches of the `many` traffic over N connections
    /// on a virtual clock (instructions and cache misses per frame).
    #[arg(long, value_name = "STACK", value_parser = ["strata", "smoltcp"])]
    callgrind: Option<String>,
}

/// Bytes moved by `--callgrind STACK [bulk]`.
const CALLGRIND_BYTES: u64 = 64 << 20;
/// Batches of 64 request/replies run by `--callgrind strata many-N`.
const CALLGRIND_BATCHES: u64 = 3_000;
/// Connection cycles run by `--callgrind STACK conns`.
const CALLGRIND_CONNS: usize = 5_000;

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

impl Row {
    fn higher_better(w: &str, unit: &'static str, a: Vec<f64>, b: Vec<f64>) -> Row {
        Row::new(w, unit, a, b, |strata, smoltcp| strata / smoltcp)
    }
    fn lower_better(w: &str, unit: &'static str, a: Vec<f64>, b: Vec<f64>) -> Row {
        Row::new(w, unit, a, b, |strata, smoltcp| smoltcp / strata)
    }
    /// Medians of both stacks' rounds; `ratio` says how much better strata is.
    fn new(
        w: &str,
        unit: &'static str,
        a: Vec<f64>,
        b: Vec<f64>,
        ratio: fn(f64, f64) -> f64,
    ) -> Row {
        let (strata, smoltcp) = (median(a), median(b));
        Row {
            workload: w.into(),
            unit,
            strata,
            smoltcp,
            ratio: ratio(strata, smoltcp),
        }
    }
}

struct Row {
    workload: String,
    unit: &'static str,
    strata: f64,
    smoltcp: f64,
    /// How much better strata is (>1 = strata wins), whatever the unit's direction.
    ratio: f64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(stack) = &args.callgrind {
        // The positional argument picks the callgrind workload: bulk or conns.
        match args.workload.as_deref().unwrap_or("bulk") {
            "bulk" => {
                let pattern = Pattern::new();
                if stack == "strata" {
                    Strata::bulk(1514, CALLGRIND_BYTES, &pattern)?;
                } else {
                    Smoltcp::bulk(1514, CALLGRIND_BYTES, &pattern)?;
                }
                println!(
                    "{stack}: moved {CALLGRIND_BYTES} payload bytes (divide callgrind's Ir by this)"
                );
            }
            "conns" => {
                if stack == "strata" {
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
                if stack != "strata" {
                    anyhow::bail!("--callgrind many-N runs strata only");
                }
                let frames = strata_side::many_batches(n, CALLGRIND_BATCHES)?;
                println!(
                    "{stack}: {CALLGRIND_BATCHES} batches over {n} connections, {frames} frames (divide callgrind's Ir by this)"
                );
            }
            w => anyhow::bail!("--callgrind runs bulk, conns or many-N, not '{w}'"),
        }
        return Ok(());
    }
    let mut growth: Vec<(usize, f64)> = Vec::new();
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 5 });
    let all = [
        "bulk-1514",
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
    let pattern = Pattern::new();
    let mut rows = Vec::new();
    for w in chosen {
        match w {
            "bulk-1514" | "bulk-9014" | "bulk-65535" => {
                let frame: usize = w[5..].parse()?;
                let bytes: u64 = if args.quick { 8 << 20 } else { 1 << 30 };
                let gbps = |secs: f64| bytes as f64 * 8.0 / secs / 1e9;
                let (mut a, mut b) = (Vec::new(), Vec::new());
                for _ in 0..rounds {
                    a.push(gbps(Strata::bulk(frame, bytes, &pattern)?));
                    b.push(gbps(Smoltcp::bulk(frame, bytes, &pattern)?));
                }
                rows.push(Row::higher_better(w, "Gbit/s", a, b));
            }
            "conns" => {
                let n = if args.quick { 200 } else { 20_000 };
                let (mut a, mut b) = (Vec::new(), Vec::new());
                for _ in 0..rounds {
                    a.push(n as f64 / Strata::conns(n)?);
                    b.push(n as f64 / Smoltcp::conns(n)?);
                }
                rows.push(Row::higher_better(w, "conn/s", a, b));
            }
            "many" => {
                let budget = Duration::from_millis(if args.quick { 100 } else { 1000 });
                let ns: &[usize] = if args.quick {
                    &[1, 100]
                } else {
                    &[1, 100, 10_000, 100_000]
                };
                let mut first = None;
                for &n in ns {
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    for _ in 0..rounds.min(3) {
                        a.push(Strata::many(n, budget)?.unwrap_or(f64::NAN));
                        // smoltcp walks every socket on each poll: past 10 000
                        // its setup alone exceeds the time bound.
                        b.push(if n <= 10_000 {
                            Smoltcp::many(n, budget)?.unwrap_or(f64::NAN)
                        } else {
                            f64::NAN
                        });
                    }
                    let row = Row::lower_better(&format!("many-{n}"), "ns/seg", a, b);
                    first.get_or_insert(row.strata);
                    if let Some(f) = first {
                        growth.push((n, row.strata / f));
                    }
                    rows.push(row);
                }
            }
            "idle-mem" => {
                let n = if args.quick { 1_000 } else { 100_000 };
                // smoltcp allocates both 256 KiB buffers per socket up front;
                // 100 000 of them would need 50 GiB, so it is measured at 1 000.
                let a = vec![Strata::idle_mem(n)?];
                let b = vec![Smoltcp::idle_mem(n.min(1_000))?];
                rows.push(Row::lower_better(w, "B/conn", a, b));
            }
            _ => unreachable!(),
        }
    }
    println!(
        "{:<12} {:>14} {:>14} {:>8}  unit",
        "workload", "strata", "smoltcp", "ratio"
    );
    for r in &rows {
        println!(
            "{:<12} {:>14.2} {:>14.2} {:>8.2}  {}",
            r.workload, r.strata, r.smoltcp, r.ratio, r.unit
        );
    }
    for (n, g) in &growth {
        println!("strata many-{n} / many-1 = {g:.2}");
    }
    for r in &rows {
        println!("ratio {} = {:.2}", r.workload, r.ratio);
    }
    Ok(())
}
