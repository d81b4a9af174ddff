//! `strata`: the command line of the strata stack.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod concepts;
mod decode;
mod demo;
mod explain;
mod fetch;
mod fragflood;
mod http;
mod iperf3;
mod json;
mod lab;
mod ladder;
mod layers;
mod lesson;
mod ping;
mod plot;
mod serve;
mod sim;
mod slowloris;
mod synflood;
mod tapnet;
mod units;
mod web;

/// Counts heap bytes for `strata sim frag-flood`'s memory figures.
#[global_allocator]
static ALLOC: fragflood::Counting = fragflood::Counting;

/// strata — a userspace TCP/IP stack you can watch, layer by layer.
#[derive(Parser)]
#[command(
    name = "strata",
    version,
    about = "strata — a userspace TCP/IP stack you can watch, layer by layer",
    after_help = "Examples:
  strata demo                       # ARP, the three-way handshake, HTTP GET, the four-way close
  strata demo --loss 20% --seed 7   # the same over a lossy wire
  strata explain 00:1b:21:3a:4f:5e  # who made this network card?
  strata explain 192.168.1.0/26     # network, broadcast, hosts
  strata explain tcp-states         # the state diagram, with the transitions a demo took
  strata sim traceroute             # routers, TTL and ICMP time exceeded
  strata sim bulk --bytes 50M --rate 100mbit --rtt 20ms --loss 1%
  strata serve --tap tap0 --addr 10.20.0.2/24 --http ./site
  strata fetch --tap tap0 --addr 10.20.0.2/24 http://10.20.0.1:8000/
  strata ping --tap tap0 --addr 10.20.0.2/24 10.20.0.1
  strata lab --web                  # the lab in a browser: http://127.0.0.1:8080/

serve, fetch and ping need a TAP interface (as root: ip tuntap add dev tap0
mode tap; ip addr add 10.20.0.1/24 dev tap0; ip link set tap0 up).
Bad input exits with status 2, a failure while running with status 1."
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
    /// Explain a MAC address, IPv4 address, CIDR prefix, port, or a concept
    /// (tcp-states, handshake, arp, ports).
    ///
    /// Prints what the lesson teaches about one value: binary form, class,
    /// private ranges, netmask and hosts, OUI vendor, port range and service.
    Explain(explain::ExplainArgs),
    /// Run a simulated scenario: ping, storm, bulk, http, echo, iperf3, synflood, slowloris and more.
    ///
    /// Hosts and routers run the strata stack in the deterministic
    /// simulator; the same --seed replays the same run byte for byte.
    Sim(Box<sim::SimArgs>),
    /// Serve files over HTTP/1.1 (--http DIR) or echo (--echo) on a TAP device.
    Serve(serve::ServeArgs),
    /// Download a URL over HTTP/1.1 from a TAP device.
    Fetch(fetch::FetchArgs),
    /// Send ICMP echo requests from a TAP device.
    Ping(ping::PingArgs),
    /// Measure throughput with the iperf3 protocol (client or server) on a TAP device.
    Iperf3(iperf3::Iperf3Args),
    /// Watch the lab's simulated runs in a browser (`strata lab --web`).
    ///
    /// Serves, on loopback only, a page with the ladder, each frame laid
    /// open, both hosts' TCP states, cwnd/RTT/RTO and the topology with its
    /// link counters; pick a scenario and options, run again; the URL
    /// replays the run.
    Lab(web::LabArgs),
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

/// Prints a clap error as one line (`error: …`), the usage block and tips
/// left out, and exits 2; help and version go to stdout and exit 0.
fn exit_on_parse_error(e: clap::Error) -> ! {
    if !e.use_stderr() {
        e.exit();
    }
    let text = e.render().to_string();
    // The first paragraph, its lines joined: "the following required
    // arguments were not provided: --tap <NAME>, --addr <CIDR>".
    let mut line = String::new();
    for l in text.lines().take_while(|l| !l.trim().is_empty()) {
        let l = l.trim();
        if line.is_empty() {
            line.push_str(l);
        } else if line.ends_with(':') || l.starts_with('[') {
            line.push(' ');
            line.push_str(l);
        } else {
            line.push_str(", ");
            line.push_str(l);
        }
    }
    let cmd = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with('-'))
        .map_or("strata".to_string(), |c| format!("strata {c}"));
    eprintln!("{line} (see '{cmd} --help')");
    std::process::exit(2);
}

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of our
    // output goes away (`strata sim storm --json | head`): restore SIGPIPE's
    // default action, which Rust's runtime sets to "ignore".
    // SAFETY: setting a signal's disposition to SIG_DFL has no
    // preconditions; it happens before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    init_tracing();
    let cli = Cli::try_parse().unwrap_or_else(|e| exit_on_parse_error(e));
    let (name, result) = match cli.command {
        Command::Demo(args) => ("demo", demo::main(args)),
        Command::Explain(args) => {
            explain::run(&args);
            ("explain", Ok(()))
        }
        Command::Sim(args) => ("sim", sim::run(&args)),
        Command::Serve(args) => ("serve", serve::run(&args)),
        Command::Fetch(args) => ("fetch", fetch::run(&args)),
        Command::Ping(args) => ("ping", ping::run(&args)),
        Command::Iperf3(args) => ("iperf3", iperf3::run(&args)),
        Command::Lab(args) => ("lab", web::run(&args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Bad input: one `error:` line, status 2 (as clap does).
        Err(e) if e.downcast_ref::<tapnet::Usage>().is_some() => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        // A failure while running: one line naming the command, status 1.
        Err(e) => {
            eprintln!("strata {name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
