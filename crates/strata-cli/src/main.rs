//! `strata`: the command line of the strata stack.

use clap::{Parser, Subcommand};

mod explain;
mod fetch;
mod ping;
#[allow(dead_code)] // used by the lab (strata sim), wired in next
mod plot;
mod serve;
mod sim;
mod tapnet;
#[allow(dead_code)]
mod units;

/// strata — a userspace TCP/IP stack you can watch, layer by layer.
#[derive(Parser)]
#[command(name = "strata", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the simulated demo.
    Demo,
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => {
            println!("strata demo: nothing to show yet");
        }
        Command::Explain(args) => explain::run(&args),
        Command::Sim(args) => sim::run(&args)?,
        Command::Serve(args) => tapnet::exit_on_error("serve", serve::run(&args)),
        Command::Fetch(args) => tapnet::exit_on_error("fetch", fetch::run(&args)),
        Command::Ping(args) => tapnet::exit_on_error("ping", ping::run(&args)),
    }
    Ok(())
}
