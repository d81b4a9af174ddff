//! `strata fetch`: an HTTP/1.1 client (hyper over strata's tokio sockets)
//! on the strata stack attached to a TAP device, with curl's habits: `-o FILE` or `-O` (name from the URL), `-L`
//! follows redirects, `-f` fails on an HTTP error without writing anything,
//! a progress line on a terminal, and the status line on stderr.

use std::io::{IsTerminal as _, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use strata_io::tokio::TcpStream;

use crate::http::Url;

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
    let url: Url = match args.url.parse() {
        Ok(u) => u,
        Err(e) => return usage(format!("{e}")),
    };
    let out_path = match (&args.output, args.remote_name) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => match url.file_name() {
            Some(n) => Some(PathBuf::from(n)),
            None => return usage(format!("-O needs a file name at the end of {}", args.url)),
        },
        (None, false) => None,
    };
    let rt = args.net.start("fetch")?;
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the HTTP client")?;
    tokio.block_on(fetch(args, &rt, url, out_path))
}

/// The head of the final response and how many body bytes came.
struct Got {
    status: u16,
    reason: String,
    body_len: u64,
}

/// Fetches `url`, following redirects with `-L`, and writes the body where
/// it is wanted.
async fn fetch(
    args: &FetchArgs,
    rt: &strata_io::Runtime,
    mut url: Url,
    out_path: Option<PathBuf>,
) -> anyhow::Result<()> {
    // A regular file is written as FILE.part and renamed into place; a
    // device or pipe (`-o /dev/null`) is written directly, as curl does:
    // renaming over it would replace /dev/null with a regular file.
    let direct = out_path.as_deref().is_some_and(is_special);
    let part = out_path
        .as_ref()
        .map(|p| if direct { p.clone() } else { part_path(p) });
    let start = Instant::now();
    let mut redirects = 0;
    let (got, body) = loop {
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
        let mut meter = Meter {
            inner: sink,
            bytes: 0,
            bar: None,
        };
        let result = get(args, rt, &url, &mut meter).await;
        if let Some(b) = meter.bar.take() {
            b.finish_and_clear();
        }
        let (got, location) = match result {
            Ok(r) => r,
            Err(e) => {
                if let Some(p) = part.as_ref().filter(|_| !direct) {
                    let _ = std::fs::remove_file(p);
                }
                return Err(e);
            }
        };
        meter.flush()?;
        let body = match meter.inner {
            Sink::Memory(v) => Some(v),
            Sink::File(_) => None,
        };
        let redirect = matches!(got.status, 301 | 302 | 303 | 307 | 308);
        match location.filter(|_| redirect && args.location) {
            Some(loc) => {
                redirects += 1;
                if redirects > 10 {
                    bail!("more than 10 redirects");
                }
                if !args.silent {
                    eprintln!("strata fetch: {} {} → {loc}", got.status, got.reason);
                }
                url = url
                    .join(&loc)
                    .with_context(|| format!("following the redirect to {loc}"))?;
            }
            None => break (got, body),
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let failed = got.status >= 400;
    if failed && args.fail {
        if let Some(p) = part.as_ref().filter(|_| !direct) {
            let _ = std::fs::remove_file(p);
        }
        bail!(
            "the server answered {} {} for {url}",
            got.status,
            got.reason
        );
    }
    match (&part, &out_path) {
        (Some(_), Some(_)) if direct => {}
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
            got.status,
            got.reason,
            got.body_len,
            secs,
            got.body_len as f64 * 8.0 / secs.max(1e-9) / 1e6,
            crate::tapnet::device_drops(rt),
            out_path
                .as_ref()
                .map_or(String::new(), |o| format!(" → {}", o.display()))
        );
    }
    Ok(())
}

/// One `GET url` on a new connection: the response head, the body copied
/// into `meter`, and the `Location` field if there was one.
async fn get<W: Write>(
    args: &FetchArgs,
    rt: &strata_io::Runtime,
    url: &Url,
    meter: &mut Meter<W>,
) -> anyhow::Result<(Got, Option<String>)> {
    let peer = SocketAddr::from((url.host, url.port));
    let wait = Duration::from_secs(args.connect_timeout.max(1));
    let stream = match tokio::time::timeout(wait, TcpStream::connect(&rt.handle(), peer)).await {
        Ok(s) => s.with_context(|| format!("connecting to {peer}"))?,
        Err(_) => bail!(
            "connecting to {peer}: no answer within {} s",
            wait.as_secs()
        ),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("starting HTTP")?;
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(url.path.as_str())
        .header(hyper::header::HOST, url.host_header())
        .header(
            hyper::header::USER_AGENT,
            concat!("strata-fetch/", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::ACCEPT, "*/*")
        .header(hyper::header::CONNECTION, "close")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .with_context(|| format!("building the request for {url}"))?;
    let resp = sender
        .send_request(req)
        .await
        .with_context(|| format!("fetching {url}"))?;
    let status = resp.status().as_u16();
    // The reason phrase as the server sent it, else the standard one.
    let reason = resp
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
        .or_else(|| resp.status().canonical_reason().map(str::to_string))
        .unwrap_or_default();
    let location = resp
        .headers()
        .get(hyper::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let length = resp
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    meter.bar = (!args.silent && std::io::stderr().is_terminal()).then(|| progress(length));
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.with_context(|| format!("reading the body of {url}"))?;
        if let Some(data) = frame.data_ref() {
            meter.write_all(data)?;
        }
    }
    // The connection closes after the response ("Connection: close").
    drop(sender);
    let _ = conn.await;
    let body_len = meter.bytes;
    Ok((
        Got {
            status,
            reason,
            body_len,
        },
        location,
    ))
}

/// A progress bar when the length is known, else a byte counter.
fn progress(length: Option<u64>) -> indicatif::ProgressBar {
    let (b, template) = match length {
        Some(n) => (
            indicatif::ProgressBar::new(n),
            "{bar:30} {bytes}/{total_bytes} ({binary_bytes_per_sec}, {eta} left)",
        ),
        None => (
            indicatif::ProgressBar::new_spinner(),
            "{spinner} {bytes} ({binary_bytes_per_sec}) {elapsed}",
        ),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        b.set_style(style);
    }
    b.enable_steady_tick(Duration::from_millis(200));
    b
}

/// Whether `p` exists and is not a regular file (a device such as
/// /dev/null, a FIFO, a socket): such a target is written in place.
fn is_special(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| !m.file_type().is_file())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `-o /dev/null` must be written in place: staging it as
    /// `/dev/null.part` and renaming that over it replaced the machine's
    /// /dev/null with a regular file.
    #[test]
    fn devices_are_written_in_place_and_files_are_staged() {
        assert!(is_special(Path::new("/dev/null")));
        let dir = std::env::temp_dir().join(format!("strata-fetch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("body.bin");
        assert!(!is_special(&file), "a missing file is staged");
        std::fs::write(&file, b"x").unwrap();
        assert!(!is_special(&file), "a regular file is staged");
        assert!(is_special(&dir), "a directory is not renamed over");
        assert_eq!(part_path(&file), dir.join("body.bin.part"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
