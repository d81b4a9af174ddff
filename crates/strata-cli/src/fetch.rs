//! `strata fetch`: an HTTP/1.1 client on the strata stack attached to a TAP
//! device, with curl's habits: `-o FILE` or `-O` (name from the URL), `-L`
//! follows redirects, `-f` fails on an HTTP error without writing anything,
//! a progress line on a terminal, and the status line on stderr.

use std::io::{IsTerminal as _, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use strata_io::http::Url;
use strata_io::tcp::TcpStream;

use crate::tapnet::{usage, TapArgs};

/// Arguments of `strata fetch`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  strata fetch --tap tap0 --addr 10.20.0.2/24 http://10.20.0.1:8000/
  strata fetch --tap tap0 --addr 10.20.0.2/24 -O http://10.20.0.1:8000/big.bin
  strata fetch --tap tap0 --addr 10.20.0.2/24 -fL -o page.html http://10.20.0.1:8000/sub

Like curl: without -f an error page is written and the exit status is 0;
with -f an HTTP status of 400 or more writes nothing and exits 1.")]
pub struct FetchArgs {
    #[command(flatten)]
    net: TapArgs,
    /// What to fetch: http://A.B.C.D/PATH or http://A.B.C.D:PORT/PATH
    url: String,
    /// Write the body to this file instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE", conflicts_with = "remote_name")]
    output: Option<PathBuf>,
    /// Write the body to a file named like the URL's last path segment.
    #[arg(short = 'O', long)]
    remote_name: bool,
    /// Follow redirects (301, 302, 303, 307, 308), at most 10.
    #[arg(short = 'L', long)]
    location: bool,
    /// Fail on an HTTP error (status 400 or more) without writing the body.
    #[arg(short = 'f', long)]
    fail: bool,
    /// No progress line and no status line.
    #[arg(short = 's', long)]
    silent: bool,
    /// Seconds to wait for the connection to open.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true,
          value_parser = crate::units::parse_u64)]
    connect_timeout: u64,
}

/// Where a redirect points, resolved against the URL that answered.
fn resolve(base: &Url, location: &str) -> anyhow::Result<Url> {
    if location.starts_with("http://") || location.starts_with("HTTP://") {
        return location
            .parse()
            .with_context(|| format!("following the redirect to {location}"));
    }
    let path = if location.starts_with('/') {
        location.to_string()
    } else {
        let dir = base.path.rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{location}")
    };
    Ok(Url {
        host: base.host,
        port: base.port,
        path,
    })
}

/// The file name `-O` takes from a URL: its last path segment.
fn remote_name(url: &Url) -> Option<String> {
    let path = url.path.split(['?', '#']).next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    (!name.is_empty() && name != "." && name != "..").then(|| name.to_string())
}

/// Counts the bytes that pass and shows them on a terminal.
struct Meter<W> {
    inner: W,
    bytes: u64,
    bar: Option<indicatif::ProgressBar>,
}

impl<W: Write> Write for Meter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        if let Some(b) = &self.bar {
            b.set_position(self.bytes);
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Runs `strata fetch`.
pub fn run(args: &FetchArgs) -> anyhow::Result<()> {
    let mut url: Url = match args.url.parse() {
        Ok(u) => u,
        Err(e) => return usage(e.to_string()),
    };
    let out_path = match (&args.output, args.remote_name) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => match remote_name(&url) {
            Some(n) => Some(PathBuf::from(n)),
            None => return usage(format!("-O needs a file name at the end of {}", args.url)),
        },
        (None, false) => None,
    };
    let rt = args.net.start("fetch")?;
    let part = out_path.as_ref().map(|p| part_path(p));
    let start = Instant::now();
    let mut redirects = 0;
    let (resp, body) = loop {
        let peer = SocketAddr::from((url.host, url.port));
        let stream = TcpStream::connect_timeout(
            &rt.handle(),
            peer,
            Duration::from_secs(args.connect_timeout.max(1)),
        )
        .with_context(|| format!("connecting to {peer}"))?;
        // The body goes to FILE.part (renamed when it is wanted) or to
        // memory (printed when it is wanted): a redirect's or, with -f, an
        // error's body is never shown.
        let sink = match &part {
            Some(p) => Sink::File(std::io::BufWriter::with_capacity(
                1 << 20,
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            )),
            None => Sink::Memory(Vec::new()),
        };
        let bar = (!args.silent && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} {bytes} ({binary_bytes_per_sec}) {elapsed}",
            ) {
                b.set_style(style);
            }
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        let mut meter = Meter {
            inner: sink,
            bytes: 0,
            bar,
        };
        let resp = strata_io::http::get(stream, &url, &mut meter)
            .with_context(|| format!("fetching {url}"));
        if let Some(b) = meter.bar.take() {
            b.finish_and_clear();
        }
        let resp = resp.inspect_err(|_| {
            if let Some(p) = &part {
                let _ = std::fs::remove_file(p);
            }
        })?;
        meter.flush()?;
        let body = match meter.inner {
            Sink::Memory(v) => Some(v),
            Sink::File(_) => None,
        };
        let redirect = matches!(resp.status, 301 | 302 | 303 | 307 | 308);
        match resp
            .header("location")
            .filter(|_| redirect && args.location)
        {
            Some(loc) => {
                redirects += 1;
                if redirects > 10 {
                    bail!("more than 10 redirects");
                }
                if !args.silent {
                    eprintln!("strata fetch: {} {} → {loc}", resp.status, resp.reason);
                }
                url = resolve(&url, loc)?;
            }
            None => break (resp, body),
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let failed = resp.status >= 400;
    if failed && args.fail {
        if let Some(p) = &part {
            let _ = std::fs::remove_file(p);
        }
        bail!(
            "the server answered {} {} for {url}",
            resp.status,
            resp.reason
        );
    }
    match (&part, &out_path) {
        (Some(p), Some(o)) => std::fs::rename(p, o)
            .with_context(|| format!("renaming {} to {}", p.display(), o.display()))?,
        _ => {
            let mut so = std::io::stdout().lock();
            so.write_all(&body.unwrap_or_default())?;
            so.flush()?;
        }
    }
    if !args.silent {
        eprintln!(
            "strata fetch: {} {} — {} bytes in {:.3} s ({:.1} Mbit/s){}{}",
            resp.status,
            resp.reason,
            resp.body_len,
            secs,
            resp.body_len as f64 * 8.0 / secs.max(1e-9) / 1e6,
            crate::tapnet::device_drops(&rt),
            out_path
                .as_ref()
                .map_or(String::new(), |o| format!(" → {}", o.display()))
        );
    }
    Ok(())
}

/// `FILE.part` beside FILE.
fn part_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// Where a body goes: a file, or memory until it is known to be wanted.
enum Sink {
    File(std::io::BufWriter<std::fs::File>),
    Memory(Vec<u8>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Memory(v) => v.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
            Sink::Memory(_) => Ok(()),
        }
    }
}
