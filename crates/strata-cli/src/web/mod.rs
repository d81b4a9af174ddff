//! `strata lab --web`: a page in the browser that shows a run of the lab —
//! the ladder, each frame laid open with its fields and bytes, both hosts'
//! TCP states over time, cwnd, RTT and RTO, the topology with its link
//! counters — and runs it again with other options or another seed.
//!
//! The server is hyper over tokio on loopback only; the page is plain
//! HTML, CSS and JavaScript drawing its own SVG, embedded in the binary
//! (it works without a network connection). Its JSON API:
//!
//! - `GET /api/run?scenario=bulk&seed=7&loss=1%25…`: the run (see
//!   [`query`] for the options, the same as `strata sim`'s flags);
//! - `GET /api/frame?…&n=N`: frame N of that run laid open;
//! - `GET /api/pcap?…`: the capture of host A's interface;
//! - `GET /api/svg?…&kind=ladder|tseq|cwnd`: `strata sim --svg`'s pictures.
//!
//! A bad option is answered 400 with a message; the same query always
//! gives the same run (the simulator is deterministic by seed), so the
//! page's URL, `/?QUERY#frame=N`, reproduces what it shows.

use std::net::{IpAddr, SocketAddr};

use clap::Args;

pub mod query;
pub mod run;
mod server;

/// Arguments of `strata lab`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  strata lab --web                  # open http://127.0.0.1:8080/ in a browser
  strata lab --web --port 0         # any free port (printed)
  then e.g. http://127.0.0.1:8080/?scenario=bulk&seed=7&loss=1%25&bytes=256k#frame=40

The page runs echo, http, bulk, ping and udp with the options of `strata sim`
(seed, loss, burst, rtt, rate, reorder, dup, corrupt, mtu, cc, sack,
timestamps, bytes, count, closer); the URL of a run reproduces it.")]
pub struct LabArgs {
    /// Serve the web view of the lab's runs (in a browser).
    #[arg(long)]
    pub web: bool,
    /// Port to listen on (0: a free port, printed).
    #[arg(long, default_value_t = 8080, allow_negative_numbers = true, value_parser = crate::units::parse_port)]
    pub port: u16,
    /// Address to listen on: loopback only (127.0.0.1 or ::1). The page runs
    /// simulations for whoever reaches it, so it is never served to the network.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: String,
}

/// Checks `--bind`: a loopback address, or a usage error saying why not.
pub fn loopback(bind: &str) -> anyhow::Result<IpAddr> {
    let ip: IpAddr = match bind.trim().parse() {
        Ok(ip) => ip,
        Err(_) => {
            return crate::tapnet::usage(format!(
                "--bind '{bind}' is not an IP address (the web view listens on 127.0.0.1)"
            ))
        }
    };
    if !ip.is_loopback() {
        return crate::tapnet::usage(format!(
            "--bind {ip} refused: the web view listens on loopback only (127.0.0.1 or ::1), \
             since it runs simulations for anyone who can reach it"
        ));
    }
    Ok(ip)
}

/// `strata lab`.
pub fn run(args: &LabArgs) -> anyhow::Result<()> {
    if !args.web {
        return crate::tapnet::usage(
            "strata lab shows runs in a browser: add --web (see 'strata lab --help')",
        );
    }
    let ip = loopback(&args.bind)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, args.port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {ip}:{}: {e}", args.port))?;
        let addr = listener.local_addr()?;
        let host = match addr.ip() {
            IpAddr::V6(v6) => format!("[{v6}]"),
            IpAddr::V4(v4) => v4.to_string(),
        };
        println!(
            "strata lab: the web view is at http://{host}:{}/ (Ctrl-C stops it)",
            addr.port()
        );
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        server::serve(listener).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_served() {
        assert!(loopback("127.0.0.1").is_ok());
        assert!(loopback("::1").is_ok());
        for bad in ["0.0.0.0", "192.168.1.10", "::", "localhost", ""] {
            let e = loopback(bad).unwrap_err();
            assert!(e.downcast_ref::<crate::tapnet::Usage>().is_some(), "{bad}");
        }
        let e = loopback("0.0.0.0").unwrap_err().to_string();
        assert!(e.contains("loopback only"), "{e}");
    }
}
