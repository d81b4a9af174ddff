//! `strata`: the command line of the strata stack.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod decode;
mod demo;
mod explain;
mod fetch;
mod json;
mod lab;
mod ladder;
mod ping;
mod plot;
mod serve;
mod sim;
mod tapnet;
mod units;

/// strata — a userspace TCP/IP stack you can watch, layer by layer.
#[derive(Parser)]
#[command(
    name = "strata",
    version,
    about,
    after_help = "Examples:
  strata demo                       # ARP, the three-way handshake, HTTP GET, the four-way close
  strata demo --loss 20% --seed 7   # the same over a lossy wire
  strata explain 00:1b:21:3a:4f:5e  # who made this network card?
  strata explain 192.168.1.0/26     # network, broadcast, hosts
  strata sim traceroute             # routers, TTL and ICMP time exceeded"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Watch two simulated hosts talk, layer by layer (ladder diagram + pcap).
    ///
    /// A client resolves the server with ARP, opens TCP (three-way
    /// handshake), fetches a page with HTTP and closes (four-way close).
    Demo(demo::DemoArgs),
    /// Explain a MAC address, IPv4 address, CIDR prefix or port.
    ///
    /// Prints what the lesson teaches about one value: binary form, class,
    /// private ranges, netmask and hosts, OUI vendor, port range and service.
    Explain(explain::ExplainArgs),
    /// Run a simulated network scenario: ping, traceroute, udp, storm.
    ///
    /// Hosts and routers run the strata stack in the deterministic
    /// simulator; the same --seed replays the same run byte for byte.
    Sim(sim::SimArgs),
    /// Serve files over HTTP/1.1 (--http DIR) or echo (--echo) on a TAP device.
    Serve(serve::ServeArgs),
    /// Download a URL over HTTP/1.1 from a TAP device.
    Fetch(fetch::FetchArgs),
    /// Send ICMP echo requests from a TAP device.
    Ping(ping::PingArgs),
}

/// `RUST_LOG=strata=debug` shows each frame climbing and descending the
/// layers (spans per layer) on stderr; nothing is logged without RUST_LOG.
fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .with_target(true)
            .try_init();
    }
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::main(args),
        Command::Explain(args) => {
            explain::run(&args);
            Ok(())
        }
        Command::Sim(args) => sim::run(&args),
        Command::Serve(args) => {
            tapnet::exit_on_error("serve", serve::run(&args));
            Ok(())
        }
        Command::Fetch(args) => {
            tapnet::exit_on_error("fetch", fetch::run(&args));
            Ok(())
        }
        Command::Ping(args) => {
            tapnet::exit_on_error("ping", ping::run(&args));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One clear line, not a backtrace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
