//! `strata ping`: ICMP echo from the strata stack on a TAP device.

use std::net::Ipv4Addr;
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

/// Runs `strata ping`; exits 1 if no reply came back.
pub fn run(args: &PingArgs) -> anyhow::Result<()> {
    let rt = args.net.start("ping")?;
    println!(
        "PING {} ({}) from {}: {} data bytes",
        args.dest,
        args.dest,
        rt.addr().address(),
        args.size
    );
    let payload: Vec<u8> = (0..args.size).map(|i| i as u8).collect();
    let (mut sent, mut received) = (0u32, 0u32);
    let mut rtts = Vec::new();
    let start = Instant::now();
    for seq in 1..=args.count {
        let t0 = Instant::now();
        sent += 1;
        match rt.ping(
            args.dest,
            seq,
            &payload,
            Duration::from_secs_f64(args.timeout),
        )? {
            PingReply::Reply {
                from,
                rtt,
                ttl,
                len,
            } => {
                received += 1;
                rtts.push(rtt);
                println!(
                    "{} bytes from {from}: icmp_seq={seq} ttl={ttl} time={:.3} ms",
                    len + 8,
                    rtt.as_secs_f64() * 1e3
                );
            }
            PingReply::Error(e) => println!("From {}: icmp_seq={seq} {e}", rt.addr().address()),
            PingReply::Timeout => println!("Request timeout for icmp_seq={seq}"),
        }
        if seq < args.count {
            let wait = Duration::from_secs_f64(args.interval).saturating_sub(t0.elapsed());
            std::thread::sleep(wait);
        }
    }
    println!("\n--- {} ping statistics ---", args.dest);
    println!(
        "{sent} packets transmitted, {received} received, {:.0}% packet loss, time {}ms",
        100.0 * f64::from(sent - received) / f64::from(sent.max(1)),
        start.elapsed().as_millis()
    );
    if !rtts.is_empty() {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let min = rtts.iter().copied().min().unwrap_or_default();
        let max = rtts.iter().copied().max().unwrap_or_default();
        let avg = rtts.iter().map(|d| ms(*d)).sum::<f64>() / rtts.len() as f64;
        println!(
            "rtt min/avg/max = {:.3}/{avg:.3}/{:.3} ms",
            ms(min),
            ms(max)
        );
    }
    if received == 0 {
        anyhow::bail!("no reply from {}", args.dest);
    }
    Ok(())
}
