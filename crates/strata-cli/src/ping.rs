//! `strata ping`: ICMP echo from the strata stack on a TAP device.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use strata_io::runtime::PingReply;

use crate::tapnet::TapArgs;

/// Arguments of `strata ping`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  strata ping --tap tap0 --addr 10.20.0.2/24 10.20.0.1
  strata ping --tap tap0 --addr 10.20.0.2/24 --gateway 10.20.0.1 -c 10 -i 0.2 10.30.0.5")]
pub struct PingArgs {
    #[command(flatten)]
    net: TapArgs,
    /// Who to ping.
    dest: Ipv4Addr,
    /// Stop after this many requests.
    #[arg(short = 'c', long, default_value_t = 4, allow_negative_numbers = true,
          value_parser = crate::units::parse_count16)]
    count: u16,
    /// Seconds between requests.
    #[arg(short = 'i', long, default_value_t = 1.0, allow_negative_numbers = true,
          value_parser = crate::units::parse_seconds)]
    interval: f64,
    /// Echo data bytes per request.
    #[arg(short = 's', long, default_value_t = 56, allow_negative_numbers = true,
          value_parser = parse_size)]
    size: usize,
    /// Seconds to wait for each reply.
    #[arg(short = 'W', long, default_value_t = 2.0, allow_negative_numbers = true,
          value_parser = parse_timeout)]
    timeout: f64,
}

/// Echo data bytes: an ICMP echo fits one IPv4 datagram (65535 − 20 − 8).
fn parse_size(s: &str) -> Result<usize, String> {
    crate::units::parse_whole(s, 65507).map(|v| v as usize)
}

/// A reply wait above zero.
fn parse_timeout(s: &str) -> Result<f64, String> {
    match crate::units::parse_seconds(s)? {
        t if t > 0.0 => Ok(t),
        _ => Err("a timeout of 0 s would give up before any reply".into()),
    }
}

/// Set by SIGINT (Ctrl-C): stop and print the statistics, as ping(8) does.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes Ctrl-C set [`INTERRUPTED`] instead of killing the process.
pub fn catch_ctrl_c() {
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: the handler only stores to an atomic, which is
    // async-signal-safe; `signal` has no other preconditions.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
}

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// What the statistics block counts.
#[derive(Debug, Default)]
struct Tally {
    sent: u32,
    received: u32,
    errors: u32,
    rtts: Vec<Duration>,
}

/// ping(8)'s closing block: transmitted, received, loss, time, and
/// min/avg/max/mdev of the round trips.
fn statistics(dest: Ipv4Addr, t: &Tally, elapsed: Duration) -> String {
    let mut s = format!(
        "\n--- {dest} ping statistics ---\n{} packets transmitted, {} received, {}{:.0}% packet loss, time {}ms",
        t.sent,
        t.received,
        if t.errors > 0 {
            format!("+{} errors, ", t.errors)
        } else {
            String::new()
        },
        100.0 * f64::from(t.sent - t.received.min(t.sent)) / f64::from(t.sent.max(1)),
        elapsed.as_millis()
    );
    if !t.rtts.is_empty() {
        let ms: Vec<f64> = t.rtts.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        let n = ms.len() as f64;
        let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
        let max = ms.iter().copied().fold(0.0, f64::max);
        let avg = ms.iter().sum::<f64>() / n;
        // mdev as ping(8) computes it: sqrt(mean(x²) − mean(x)²).
        let mdev = (ms.iter().map(|x| x * x).sum::<f64>() / n - avg * avg)
            .max(0.0)
            .sqrt();
        s += &format!("\nrtt min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms");
    }
    s
}

/// Runs `strata ping`; exits 1 if no reply came back. Ctrl-C stops it
/// early and still prints the statistics.
pub fn run(args: &PingArgs) -> anyhow::Result<()> {
    let rt = Arc::new(args.net.start("ping")?);
    println!(
        "PING {} ({}) from {}: {} data bytes",
        args.dest,
        args.dest,
        rt.addr().address(),
        args.size
    );
    catch_ctrl_c();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let start = Instant::now();
    // The requests go out from a worker, so Ctrl-C is answered at once,
    // even while a reply is awaited.
    let worker = {
        let (rt, tally) = (rt.clone(), tally.clone());
        let (dest, count, size) = (args.dest, args.count, args.size);
        let (interval, timeout) = (args.interval, args.timeout);
        std::thread::spawn(move || -> anyhow::Result<()> {
            let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
            for seq in 1..=count {
                let t0 = Instant::now();
                tally.lock().unwrap_or_else(|e| e.into_inner()).sent += 1;
                let reply = rt.ping(dest, seq, &payload, Duration::from_secs_f64(timeout))?;
                let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                match reply {
                    PingReply::Reply {
                        from,
                        rtt,
                        ttl,
                        len,
                    } => {
                        t.received += 1;
                        t.rtts.push(rtt);
                        println!(
                            "{} bytes from {from}: icmp_seq={seq} ttl={ttl} time={:.3} ms",
                            len + 8,
                            rtt.as_secs_f64() * 1e3
                        );
                    }
                    PingReply::Error(e) => {
                        t.errors += 1;
                        println!("From {}: icmp_seq={seq} {e}", rt.addr().address());
                    }
                    PingReply::Timeout => println!("Request timeout for icmp_seq={seq}"),
                }
                drop(t);
                if seq < count {
                    let wait = Duration::from_secs_f64(interval).saturating_sub(t0.elapsed());
                    std::thread::sleep(wait);
                }
            }
            Ok(())
        })
    };
    while !worker.is_finished() && !interrupted() {
        std::thread::sleep(Duration::from_millis(20));
    }
    if worker.is_finished() {
        worker
            .join()
            .map_err(|_| anyhow::anyhow!("the ping thread panicked"))??;
    }
    let t = tally.lock().unwrap_or_else(|e| e.into_inner());
    println!(
        "{}{}",
        statistics(args.dest, &t, start.elapsed()),
        crate::tapnet::device_drops_line(&rt)
    );
    use std::io::Write as _;
    std::io::stdout().flush()?;
    if t.received == 0 {
        anyhow::bail!("no reply from {}", args.dest);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_read_like_ping8() {
        let t = Tally {
            sent: 4,
            received: 3,
            errors: 0,
            rtts: [1.0, 2.0, 3.0]
                .map(|ms| Duration::from_secs_f64(ms / 1e3))
                .to_vec(),
        };
        let s = statistics(Ipv4Addr::new(10, 0, 0, 1), &t, Duration::from_millis(3003));
        assert!(s.contains("--- 10.0.0.1 ping statistics ---"), "{s}");
        assert!(
            s.contains("4 packets transmitted, 3 received, 25% packet loss, time 3003ms"),
            "{s}"
        );
        // mdev of 1, 2, 3 ms: sqrt(14/3 − 4) = 0.816.
        assert!(
            s.contains("rtt min/avg/max/mdev = 1.000/2.000/3.000/0.816 ms"),
            "{s}"
        );
    }
}
