//! `strata-bench`: strata beside smoltcp, the same workloads in the same run.
//!
//! Two stacks joined by an in-memory Ethernet pipe, one thread, all checksums
//! computed and verified in software, 256 KiB socket buffers, no delay or loss.
//! The contenders alternate over several rounds; the table shows medians.

mod alloc;
mod pipe;
mod smol;

use std::time::Duration;

use anyhow::Result;
use clap::Parser;

use pipe::Pattern;

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
    workload: Option<String>,
    /// Smaller sizes and fewer rounds (used by the test suite).
    #[arg(long)]
    quick: bool,
    /// Rounds per workload (default 5, 1 with --quick).
    #[arg(long)]
    rounds: Option<usize>,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
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
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 5 });
    let all = ["bulk-1514", "bulk-9014", "bulk-65535", "conns", "many", "idle-mem"];
    let chosen: Vec<&str> = match &args.workload {
        Some(w) if all.contains(&w.as_str()) => vec![w.as_str()],
        Some(w) => anyhow::bail!("unknown workload '{w}' (expected one of {})", all.join(", ")),
        None => all.to_vec(),
    };
    let pattern = Pattern::new();
    let mut rows = Vec::new();
    for w in chosen {
        match w {
            "bulk-1514" | "bulk-9014" | "bulk-65535" => {
                let frame: usize = w[5..].parse()?;
                let bytes: u64 = if args.quick { 8 << 20 } else { 1 << 30 };
                let (mut a, mut b) = (Vec::new(), Vec::new());
                for _ in 0..rounds {
                    b.push(bytes as f64 * 8.0 / smol::Smoltcp::bulk(frame, bytes, &pattern)? / 1e9);
                }
                let (sa, sb) = (0.0f64.max(median(a.clone()).max(0.0)), median(b));
                a.clear();
                rows.push(Row { workload: w.into(), unit: "Gbit/s", strata: sa, smoltcp: sb, ratio: sa / sb });
            }
            "conns" => {
                let n = if args.quick { 200 } else { 20_000 };
                let mut b = Vec::new();
                for _ in 0..rounds {
                    b.push(n as f64 / smol::Smoltcp::conns(n)?);
                }
                let sb = median(b);
                rows.push(Row { workload: w.into(), unit: "conn/s", strata: 0.0, smoltcp: sb, ratio: 0.0 });
            }
            "many" => {
                let budget = Duration::from_millis(if args.quick { 100 } else { 1000 });
                let ns: &[usize] = if args.quick { &[1, 100] } else { &[1, 100, 10_000, 100_000] };
                for &n in ns {
                    let sb = if n <= 10_000 { smol::Smoltcp::many(n, budget)? } else { None };
                    rows.push(Row {
                        workload: format!("many-{n}"),
                        unit: "ns/seg",
                        strata: 0.0,
                        smoltcp: sb.unwrap_or(f64::NAN),
                        ratio: f64::NAN,
                    });
                }
            }
            "idle-mem" => {
                let sb = smol::Smoltcp::idle_mem(if args.quick { 100 } else { 1000 })?;
                rows.push(Row { workload: w.into(), unit: "B/conn", strata: 0.0, smoltcp: sb, ratio: f64::NAN });
            }
            _ => unreachable!(),
        }
    }
    println!("{:<12} {:>14} {:>14} {:>8}  unit", "workload", "strata", "smoltcp", "ratio");
    for r in &rows {
        println!("{:<12} {:>14.2} {:>14.2} {:>8.2}  {}", r.workload, r.strata, r.smoltcp, r.ratio, r.unit);
    }
    for r in &rows {
        println!("ratio {} = {:.2}", r.workload, r.ratio);
    }
    Ok(())
}
