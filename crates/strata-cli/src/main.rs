//! `strata`: the command line of the strata stack.

use clap::{Parser, Subcommand};

mod explain;

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => {
            println!("strata demo: nothing to show yet");
        }
        Command::Explain(args) => explain::run(&args),
    }
    Ok(())
}
