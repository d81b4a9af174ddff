//! `strata`: the command line of the strata stack.

use clap::{Parser, Subcommand};

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => {
            println!("strata demo: nothing to show yet");
        }
    }
    Ok(())
}
