//! `strata fetch`: an HTTP/1.1 client on the strata stack attached to a TAP
//! device.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use strata_io::http::Url;
use strata_io::tcp::TcpStream;

use crate::tapnet::TapArgs;

/// Arguments of `strata fetch`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  strata fetch --tap tap0 --addr 10.20.0.2/24 http://10.20.0.1:8000/
  strata fetch --tap tap0 --addr 10.20.0.2/24 -o big.bin http://10.20.0.1:8000/big.bin")]
pub struct FetchArgs {
    #[command(flatten)]
    net: TapArgs,
    /// What to fetch: http://A.B.C.D/PATH or http://A.B.C.D:PORT/PATH
    url: String,
    /// Write the body to this file instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Seconds to wait for the connection to open.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true,
          value_parser = crate::units::parse_u64)]
    connect_timeout: u64,
}

/// Runs `strata fetch`; fails on a connection error or a non-2xx status.
pub fn run(args: &FetchArgs) -> anyhow::Result<()> {
    let url: Url = match args.url.parse() {
        Ok(u) => u,
        Err(e) => return crate::tapnet::usage(e.to_string()),
    };
    let rt = args.net.start("fetch")?;
    let peer = SocketAddr::from((url.host, url.port));
    let stream = TcpStream::connect_timeout(
        &rt.handle(),
        peer,
        Duration::from_secs(args.connect_timeout),
    )
    .with_context(|| format!("connecting to {peer}"))?;
    let start = Instant::now();
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let resp =
        strata_io::http::get(stream, &url, &mut out).with_context(|| format!("fetching {url}"))?;
    out.flush()?;
    drop(out);
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "strata fetch: {} {} — {} bytes in {:.3} s ({:.1} Mbit/s)",
        resp.status,
        resp.reason,
        resp.body_len,
        secs,
        resp.body_len as f64 * 8.0 / secs.max(1e-9) / 1e6
    );
    if !(200..300).contains(&resp.status) {
        anyhow::bail!("server answered {} {}", resp.status, resp.reason);
    }
    Ok(())
}
