//! `strata sim <scenario>`: run a simulated network and print what happened.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use strata::time::Duration;
use strata_sim::host::{self, ScenarioOptions};

/// Which scenario to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Two hosts on a switch: ARP, then echo round trips with their RTT.
    Ping,
    /// A — switch — router — switch — router — B: UDP probes with TTL 1, 2, 3…
    Traceroute,
    /// A UDP echo client (ephemeral port) and server (port 7); try --loss.
    Udp,
    /// Three switches in a loop and one broadcast ARP: a broadcast storm.
    Storm,
    /// One TCP connection moves --bytes from A to B, checked byte for byte.
    Bulk,
    /// A fetches a page (--bytes long) from a tiny HTTP/1.1 server on B.
    Http,
    /// A sends --count lines to a TCP echo server on B, one at a time.
    Echo,
    /// The demo's LAN; the server's cable is cut mid-conversation: the
    /// client retransmits with growing gaps, then times out.
    DeadPeer,
    /// The demo's LAN; forged SYNs fill the server's SYN queue while a
    /// client tries to connect.
    Flood,
    /// The demo's LAN; the client shuts down its sending side and still
    /// receives the answer.
    HalfClose,
    /// An iperf3 test from A to B (B to A with -R) for -t seconds or
    /// --bytes, -P streams, printed as `strata iperf3` prints a real run.
    Iperf3,
    /// Fragment floods from many spoofed sources against one host: the
    /// reassembler's memory, buffers and evictions (see --frames, --sources).
    FragFlood,
    /// Spoofed SYNs at 100× the SYN queue per RTT while a client connects:
    /// legitimate handshakes, peak memory and counters, with SYN cookies
    /// and without, side by side (see --syn-backlog, --flood-factor).
    Synflood,
    /// Slow HTTP clients (slowloris heads, zero windows, a byte read a
    /// minute) hold connections while a client fetches a page: its
    /// success, the server's peak TCP memory and counters, with the
    /// server's defences and without, side by side (see --attackers).
    Slowloris,
}

/// Which spanning tree protocol `sim storm --stp` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StpChoice {
    /// IEEE 802.1D Spanning Tree Protocol.
    Stp,
    /// IEEE 802.1w Rapid Spanning Tree Protocol.
    Rstp,
    /// Both, one after the other.
    Both,
}

impl StpChoice {
    fn protocols(self) -> Vec<strata_sim::stp::Protocol> {
        use strata_sim::stp::Protocol;
        match self {
            StpChoice::Stp => vec![Protocol::Stp],
            StpChoice::Rstp => vec![Protocol::Rstp],
            StpChoice::Both => vec![Protocol::Stp, Protocol::Rstp],
        }
    }
}

/// Arguments of `strata sim`.
#[derive(Debug, Args)]
#[command(after_help = crate::lab::EXAMPLES)]
pub struct SimArgs {
    /// The scenario to run (not with --topology).
    #[arg(
        value_enum,
        required = false,
        required_unless_present = "topology",
        conflicts_with = "topology",
        default_value_if("topology", clap::builder::ArgPredicate::IsPresent, Some("ping"))
    )]
    pub scenario: Scenario,
    /// Run the network a TOML file describes instead of a scenario: hosts,
    /// routers, switches (with spanning tree), links with their faults,
    /// fixed or DHCP addresses, DNS and DHCP servers, and what each host
    /// runs (see examples/topologies/). --seed overrides the file's seed;
    /// --pcap captures every link.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Seed of every random choice: the same seed replays the same run.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = crate::units::parse_seed)]
    pub seed: u64,
    /// Write a pcap capture of host A's interface (open it in Wireshark).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Random loss per frame on every link: a probability (0.2) or a percentage (20%).
    #[arg(long, value_name = "P", default_value = "0", allow_hyphen_values = true, value_parser = crate::units::parse_probability)]
    pub loss: f64,
    /// One-way latency of every link, in microseconds.
    #[arg(long, value_name = "MICROS", default_value_t = 100, allow_negative_numbers = true, value_parser = crate::units::parse_u64)]
    pub latency_us: u64,
    /// Echo requests (ping), datagrams (udp), probes per hop (traceroute)
    /// or lines (echo).
    #[arg(long, short = 'c', allow_negative_numbers = true, value_parser = crate::units::parse_count16)]
    pub count: Option<u16>,
    /// storm: frames the storm may produce before the simulation stops it.
    #[arg(long, default_value_t = 10_000, allow_negative_numbers = true, value_parser = crate::units::parse_u64)]
    pub budget: u64,
    /// storm: block one port of the loop, as spanning tree would.
    #[arg(long)]
    pub blocked: bool,
    /// storm: run spanning tree on the switches — `stp` (802.1D), `rstp`
    /// (802.1w) or `both` (the default when the flag has no value): the
    /// tree converges, the broadcast does not storm, a cut link is repaired.
    #[arg(long, value_enum, value_name = "PROTOCOL", num_args = 0..=1, default_missing_value = "both")]
    pub stp: Option<StpChoice>,
    /// dead-peer, flood, half-close: a line beside each phase saying what
    /// it is for (as `strata demo --narrate`; shown with --ladder).
    #[arg(long)]
    pub narrate: bool,
    /// Language of the narration.
    #[arg(long, value_enum, default_value = "en")]
    pub lang: crate::lesson::Lang,
    /// http, echo: who sends the first FIN — the client, the server, or
    /// both at the same instant (a simultaneous close, CLOSING). The side
    /// that closes first waits in TIME-WAIT. Default: the server for http
    /// ("Connection: close"), the client for echo.
    #[arg(long, value_enum, value_name = "SIDE")]
    pub closer: Option<crate::demo::Closer>,
    /// iperf3: virtual seconds to send (ignored with --bytes).
    #[arg(short = 't', long, value_name = "SECS", default_value_t = 10.0,
          allow_negative_numbers = true, value_parser = crate::units::parse_seconds)]
    pub time: f64,
    /// iperf3: parallel streams.
    #[arg(short = 'P', long, default_value_t = 1, allow_negative_numbers = true,
          value_parser = crate::iperf3::parse_parallel)]
    pub parallel: u32,
    /// iperf3: reverse, B sends to A.
    #[arg(short = 'R', long)]
    pub reverse: bool,
    /// iperf3: seconds between interval reports (0: none).
    #[arg(short = 'i', long, value_name = "SECS", default_value_t = 1.0,
          allow_negative_numbers = true, value_parser = crate::units::parse_seconds)]
    pub interval: f64,
    /// frag-flood: flood frames (and as many ordinary datagrams after).
    #[arg(long, default_value_t = 100_000, allow_negative_numbers = true, value_parser = crate::units::parse_u64)]
    pub frames: u64,
    /// frag-flood: spoofed source addresses (1 to 2^22).
    #[arg(long, default_value_t = 4096, allow_negative_numbers = true, value_parser = parse_sources)]
    pub sources: u32,
    /// synflood: the listener's SYN queue (half-open connections).
    #[arg(long, default_value_t = 64, allow_negative_numbers = true, value_parser = parse_syn_backlog)]
    pub syn_backlog: usize,
    /// synflood: spoofed SYNs per RTT, as a multiple of the SYN queue.
    #[arg(long, default_value_t = 100, allow_negative_numbers = true, value_parser = parse_flood_factor)]
    pub flood_factor: u32,
    /// slowloris: attacking connections, kept open all the time.
    #[arg(long, default_value_t = 600, allow_negative_numbers = true, value_parser = parse_attackers)]
    pub attackers: usize,
    /// Lab options: link shape, pictures, JSON.
    #[command(flatten)]
    pub lab: crate::lab::LabArgs,
}

/// dead-peer, flood, half-close: the same runs as `strata demo --scenario
/// NAME`, on the demo's LAN, reported the lab's way.
fn run_lesson(args: &SimArgs) -> anyhow::Result<()> {
    use crate::demo::{self, Plan, Scenario as Demo};
    let (name, scenario) = match args.scenario {
        Scenario::DeadPeer => ("dead-peer", Demo::DeadPeer),
        Scenario::Flood => ("flood", Demo::Flood),
        _ => ("half-close", Demo::HalfClose),
    };
    let lab = &args.lab;
    let unsupported = [
        ("--rtt", lab.rtt.is_some()),
        ("--rate", lab.rate.is_some()),
        ("--burst-loss", lab.burst_loss.is_some()),
        ("--reorder", lab.reorder > 0.0),
        ("--dup", lab.dup > 0.0),
        ("--corrupt", lab.corrupt > 0.0),
        ("--mtu", lab.mtu.is_some()),
        ("--bytes", lab.bytes.is_some()),
        ("--json", lab.json),
        ("--count", args.count.is_some()),
        ("--cc", lab.cc != Default::default()),
        ("--no-sack", lab.no_sack),
        ("--no-timestamps", lab.no_timestamps),
        ("--iw", lab.iw.is_some()),
        ("--buffer", lab.buffer.is_some()),
        ("--delack", lab.delack.is_some()),
        ("--flows", lab.flows.is_some()),
    ];
    for (flag, set) in unsupported {
        if set {
            crate::lab::usage_error(&format!(
                "{flag} does not apply: {name} runs on the demo's LAN; it takes --seed, --loss, --pcap, --ladder, --svg and --narrate"
            ));
        }
    }
    let mut out = demo::run_plan(&Plan::new(scenario, args.seed, args.loss))?;
    if args.narrate {
        out.narrate(args.lang);
    }
    if lab.ladder {
        println!(
            "{}",
            out.ladder.render_text(
                crate::lab::use_color(lab),
                crate::ladder::choose_width(lab.width)
            )
        );
    }
    println!(
        "{name} (seed {}): the same run as `strata demo --scenario {name}`",
        args.seed
    );
    for line in &out.summary {
        println!("  {line}");
    }
    if let Some(p) = &args.pcap {
        std::fs::write(p, &out.pcap).with_context(|| format!("cannot write {}", p.display()))?;
        println!("capture written to {}", p.display());
    }
    if let Some(svg) = &lab.svg {
        std::fs::write(svg, out.ladder.render_svg())
            .with_context(|| format!("cannot write {}", svg.display()))?;
        println!("ladder written to {}", svg.display());
    }
    Ok(())
}

/// `--sources`: 1 to 2^22 (the spoofed sources are 10.128.0.0/10 + i).
fn parse_sources(s: &str) -> Result<u32, String> {
    match crate::units::parse_whole(s, 1 << 22)? {
        0 => Err("at least one source".into()),
        n => Ok(n as u32),
    }
}

fn parse_syn_backlog(s: &str) -> Result<usize, String> {
    match crate::units::parse_whole(s, 1 << 16)? {
        0 => Err("at least 1".into()),
        n => Ok(n as usize),
    }
}

fn parse_attackers(s: &str) -> Result<usize, String> {
    Ok(crate::units::parse_whole(s, 10_000)? as usize)
}

fn parse_flood_factor(s: &str) -> Result<u32, String> {
    match crate::units::parse_whole(s, 10_000)? {
        0 => Err("at least 1".into()),
        n => Ok(n as u32),
    }
}

/// Runs the scenario and prints its report.
/// `strata sim --topology FILE`: load, run, print what happened.
fn run_topology(args: &SimArgs, path: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut topo = match strata_sim::topology::Topology::parse(&text) {
        Ok(t) => t,
        // One line naming the file and the line: bad input, status 2.
        Err(e) => {
            return crate::tapnet::usage(format!("{}:{}: {}", path.display(), e.line, e.message))
        }
    };
    if args.seed != 1 {
        topo.seed = args.seed;
    }
    let pcap: Option<Box<dyn std::io::Write>> = match &args.pcap {
        Some(p) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ))),
        None => None,
    };
    let run = topo.run(pcap)?;
    println!(
        "{}: {} hosts and routers, {} switches, {} links, seed {}",
        path.display(),
        topo.hosts.len(),
        topo.switches.len(),
        topo.links.len(),
        topo.seed
    );
    println!("{run}");
    Ok(())
}

pub fn run(args: &SimArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.topology {
        return run_topology(args, path);
    }
    let iperf_only = [
        ("-t", args.time != 10.0),
        ("-P", args.parallel != 1),
        ("-R", args.reverse),
        ("-i", args.interval != 1.0),
    ];
    if args.scenario != Scenario::Iperf3 {
        if let Some((flag, _)) = iperf_only.iter().find(|(_, set)| *set) {
            crate::lab::usage_error(&format!("{flag} is for the iperf3 scenario"));
        }
    }
    if args.closer.is_some() && !matches!(args.scenario, Scenario::Http | Scenario::Echo) {
        crate::lab::usage_error("--closer is for the http and echo scenarios");
    }
    if args.scenario == Scenario::Iperf3 {
        return crate::lab::run_iperf3(args);
    }
    if args.scenario == Scenario::FragFlood {
        return crate::fragflood::run(args);
    }
    if args.scenario == Scenario::Synflood {
        return crate::synflood::run(args);
    }
    if args.scenario == Scenario::Slowloris {
        return crate::slowloris::run(args);
    }
    if matches!(
        args.scenario,
        Scenario::DeadPeer | Scenario::Flood | Scenario::HalfClose
    ) {
        return run_lesson(args);
    }
    if matches!(
        args.scenario,
        Scenario::Bulk | Scenario::Http | Scenario::Echo
    ) {
        return crate::lab::run_tcp(args);
    }
    crate::lab::check_for_lan_scenarios(args);
    let capture = crate::lab::Capture::default();
    // storm's --svg draws the spanning tree, not a ladder.
    let wants_ladder =
        args.lab.ladder || (args.lab.svg.is_some() && args.scenario != Scenario::Storm);
    let pcap: Option<Box<dyn std::io::Write>> = if args.pcap.is_some() || wants_ladder {
        Some(Box::new(capture.clone()))
    } else {
        None
    };
    let opts = ScenarioOptions {
        seed: args.seed,
        loss: args.loss,
        // The LAN path has two links each way: --rtt is four link latencies.
        latency: args
            .lab
            .rtt
            .map_or(Duration::from_micros(args.latency_us), |r| r / 4),
        bandwidth_bps: args
            .lab
            .rate
            .unwrap_or(ScenarioOptions::default().bandwidth_bps),
        count: args.count.unwrap_or(match args.scenario {
            Scenario::Traceroute => 3,
            Scenario::Udp => 20,
            _ => 4,
        }),
        pcap,
    };
    let name = format!("{:?}", args.scenario).to_lowercase();
    let mut summary = crate::lab::lan_summary(&name, args.seed, &opts);
    let (report, sim) = match args.scenario {
        Scenario::Ping => {
            let (r, sim) = host::ping(opts)?;
            summary.ping = Some((&r).into());
            (r.to_string(), Some(sim))
        }
        Scenario::Traceroute => {
            let (r, sim) = host::traceroute(opts)?;
            summary.traceroute = Some((&r).into());
            (r.to_string(), Some(sim))
        }
        Scenario::Udp => {
            let (r, sim) = host::udp_echo(opts)?;
            summary.udp = Some((&r).into());
            (r.to_string(), Some(sim))
        }
        Scenario::Storm => {
            if args.pcap.is_some() {
                anyhow::bail!("--pcap is not available for the storm scenario");
            }
            let s = strata_sim::demo::storm(args.seed, args.budget, args.blocked);
            let mut storm: crate::json::StormJson = (&s).into();
            summary.virtual_time_s = s.ended_at.as_nanos() as f64 / 1e9;
            summary.links = s.links.into();
            let mut text = s.to_string();
            let mut runs = Vec::new();
            for protocol in args.stp.map_or(vec![], StpChoice::protocols) {
                let d = strata_sim::demo::storm_stp(args.seed, protocol);
                text.push_str("\n\n");
                text.push_str(&d.to_string());
                storm.spanning_tree.push((&d).into());
                runs.push(d);
            }
            // --svg: the spanning tree's timeline (README's picture).
            if let Some(svg) = &args.lab.svg {
                std::fs::write(svg, crate::plot::stp_timeline_svg(&runs, args.seed))
                    .with_context(|| format!("cannot write {}", svg.display()))?;
                summary.files.push(svg.display().to_string());
                text.push_str(&format!(
                    "\n\nspanning tree timeline written to {}",
                    svg.display()
                ));
            }
            summary.storm = Some(storm);
            (text, None)
        }
        Scenario::Bulk | Scenario::Http | Scenario::Echo => return crate::lab::run_tcp(args),
        Scenario::DeadPeer | Scenario::Flood | Scenario::HalfClose => return run_lesson(args),
        Scenario::Iperf3 => return crate::lab::run_iperf3(args),
        Scenario::FragFlood => return crate::fragflood::run(args),
        Scenario::Synflood => return crate::synflood::run(args),
        Scenario::Slowloris => return crate::slowloris::run(args),
    };
    if let Some(p) = &args.pcap {
        std::fs::write(p, capture.bytes())
            .with_context(|| format!("cannot write {}", p.display()))?;
        summary.files.push(p.display().to_string());
    }
    // The ladder of host A's capture (ping and udp: two hosts on a switch).
    let ladder = if wants_ladder {
        Some(crate::lab::ladder_of_capture(&capture.bytes())?)
    } else {
        None
    };
    if let (Some(l), Some(svg)) = (&ladder, &args.lab.svg) {
        std::fs::write(svg, l.render_svg())
            .with_context(|| format!("cannot write {}", svg.display()))?;
        summary.files.push(svg.display().to_string());
    }
    if let Some(sim) = &sim {
        summary.virtual_time_s = sim.now().as_nanos() as f64 / 1e9;
        summary.links = sim.total_stats().into();
    }
    if args.lab.json {
        println!("{}", summary.to_json());
        return Ok(());
    }
    if let Some(l) = ladder.as_ref().filter(|_| args.lab.ladder) {
        println!(
            "{}",
            l.render_text(
                crate::lab::use_color(&args.lab),
                crate::ladder::choose_width(args.lab.width)
            )
        );
    }
    println!("{report}");
    if let Some(sim) = sim {
        println!("\nlinks:\n{}", sim.stats_table().trim_end());
    }
    if let Some(p) = &args.pcap {
        println!("capture written to {}", p.display());
    }
    if let Some(svg) = args.lab.svg.as_ref().filter(|_| ladder.is_some()) {
        println!("ladder written to {}", svg.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::units::parse_probability as parse_loss;

    #[test]
    fn loss_accepts_fraction_and_percent() {
        assert_eq!(parse_loss("0.2"), Ok(0.2));
        assert_eq!(parse_loss("20%"), Ok(0.2));
        assert_eq!(parse_loss(" 5 %"), Ok(0.05));
        assert_eq!(parse_loss("0"), Ok(0.0));
        assert!(parse_loss("120%").is_err());
        assert!(parse_loss("1.5").is_err());
        assert!(parse_loss("lots").is_err());
    }
}
