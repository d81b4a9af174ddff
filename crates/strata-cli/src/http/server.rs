//! The HTTP server of `strata serve --http`: hyper's HTTP/1.1 connection
//! handling on strata's tokio sockets, the static-file service of
//! [`super::files`], and an access log line per request.

use std::convert::Infallible;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use strata_io::tokio::TcpListener;
use tokio::io::{AsyncRead, AsyncSeekExt as _, ReadBuf};

use super::files::{self, Content};

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The directory served (canonical).
    pub root: PathBuf,
    /// Write an access log line per request to standard output.
    pub access_log: bool,
    /// Close a connection whose request head has not fully arrived this
    /// long after the server started waiting for it (also bounds an idle
    /// keep-alive connection).
    pub header_read_timeout: Duration,
}

/// Serves `opts.root` on `listener` until accepting fails (the device or
/// runtime went away). Each connection runs as its own task.
pub async fn run(listener: TcpListener, opts: Options) -> io::Result<()> {
    let opts = Arc::new(opts);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    loop {
        let (stream, peer) = listener.accept().await?;
        let opts = opts.clone();
        let conn = http.serve_connection(
            TokioIo::new(stream),
            hyper::service::service_fn(move |req| {
                let opts = opts.clone();
                async move { Ok::<_, Infallible>(respond(&opts, peer, req).await) }
            }),
        );
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::info!(%peer, error = %e, "http connection ended");
            }
        });
    }
}

/// Answers one request from the file service.
async fn respond(opts: &Options, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let when = SystemTime::now();
    let method = req.method().as_str().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let range = req
        .headers()
        .get(hyper::header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let log = opts.access_log.then(|| LogLine {
        peer,
        when,
        started,
        request: format!("{method} {target} {:?}", req.version()),
        status: 0,
    });
    let root = opts.root.clone();
    let (m, t) = (method.clone(), target.clone());
    // File-system calls block: off the async workers.
    let answer =
        tokio::task::spawn_blocking(move || files::answer(&root, &m, &t, range.as_deref())).await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "file lookup failed");
            files::Answer {
                status: 500,
                headers: vec![("content-type", "text/plain; charset=utf-8".into())],
                body: Content::Bytes(b"500 Internal Server Error\n".to_vec()),
            }
        }
    };
    let len = answer.body.len();
    let head_only = method == "HEAD";
    let source = match answer.body {
        _ if head_only => Source::Bytes(None),
        Content::Bytes(b) => Source::Bytes(Some(Bytes::from(b))),
        Content::File { file, start, len } => {
            let mut file = tokio::fs::File::from_std(file);
            match file.seek(io::SeekFrom::Start(start)).await {
                Ok(_) => Source::File {
                    file,
                    left: len,
                    buf: Vec::new(),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "seeking a file");
                    Source::Bytes(None)
                }
            }
        }
    };
    let mut builder = Response::builder()
        .status(answer.status)
        .header(hyper::header::SERVER, "strata");
    for (name, value) in &answer.headers {
        builder = builder.header(*name, value);
    }
    if head_only {
        // RFC 9110 §9.3.2: HEAD announces the length GET would send.
        builder = builder.header(hyper::header::CONTENT_LENGTH, len);
    }
    let body = Body {
        source,
        sent: 0,
        log: log.map(|mut l| {
            l.status = answer.status;
            l
        }),
    };
    builder.body(body).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "building a response");
        let mut r = Response::new(Body {
            source: Source::Bytes(None),
            sent: 0,
            log: None,
        });
        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// One access log line, written when its response body is done (or
/// dropped: a client that went away mid-transfer), with the bytes that
/// were really handed to the connection.
#[derive(Debug)]
struct LogLine {
    peer: SocketAddr,
    when: SystemTime,
    started: Instant,
    request: String,
    status: u16,
}

impl LogLine {
    /// The Common Log Format line (client, time, request line, status,
    /// body bytes), followed by the time taken to answer.
    fn format(&self, bytes: u64) -> String {
        format!(
            "{} - - [{}] \"{}\" {} {} {:.3}ms",
            self.peer.ip(),
            clf_time(self.when),
            self.request,
            self.status,
            bytes,
            self.started.elapsed().as_secs_f64() * 1e3
        )
    }
}

/// `06/Dec/2026:03:01:02 +0000`: the Common Log Format's time, in UTC.
fn clf_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Year, month (1..=12), day (1..=31) of a day count since 1970-01-01
/// (proleptic Gregorian calendar; H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Where a response body comes from.
enum Source {
    /// Generated bytes, taken on the first poll (`None`: empty or sent).
    Bytes(Option<Bytes>),
    /// `left` more bytes of an open file, read in chunks.
    File {
        file: tokio::fs::File,
        left: u64,
        buf: Vec<u8>,
    },
}

/// Size of the chunks a file is read and handed to hyper in.
const CHUNK: usize = 64 * 1024;

/// A response body: its source, the bytes handed on, and its log line.
pub struct Body {
    source: Source,
    sent: u64,
    log: Option<LogLine>,
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let data = match &mut this.source {
            Source::Bytes(b) => match b.take() {
                Some(b) => b,
                None => return Poll::Ready(None),
            },
            Source::File { file, left, buf } => {
                if *left == 0 {
                    return Poll::Ready(None);
                }
                let want = (*left).min(CHUNK as u64) as usize;
                buf.resize(want, 0);
                let mut rb = ReadBuf::new(&mut buf[..want]);
                ready!(Pin::new(file).poll_read(cx, &mut rb))?;
                let got = rb.filled().len();
                if got == 0 {
                    // The file shrank under us: the promised length
                    // cannot be kept; hyper aborts the connection.
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank while serving",
                    ))));
                }
                *left -= got as u64;
                Bytes::copy_from_slice(&buf[..got])
            }
        };
        this.sent += data.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        match &self.source {
            Source::Bytes(b) => b.is_none(),
            Source::File { left, .. } => *left == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(match &self.source {
            Source::Bytes(b) => b.as_ref().map_or(0, |b| b.len() as u64),
            Source::File { left, .. } => *left,
        })
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Some(log) = self.log.take() {
            let line = log.format(self.sent);
            // A closed standard output does not stop the server.
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_log_format_time() {
        // 2026-12-06T03:01:02Z
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_526_062);
        assert_eq!(clf_time(t), "06/Dec/2026:03:01:02 +0000");
        assert_eq!(
            clf_time(SystemTime::UNIX_EPOCH),
            "01/Jan/1970:00:00:00 +0000"
        );
        // A leap day.
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(clf_time(t), "29/Feb/2000:00:00:00 +0000");
    }

    #[test]
    fn a_log_line_names_client_request_status_and_bytes() {
        let l = LogLine {
            peer: "10.20.0.1:40000".parse().unwrap(),
            when: SystemTime::UNIX_EPOCH,
            started: Instant::now(),
            request: "GET /a%20b?x=1 HTTP/1.1".into(),
            status: 206,
        };
        let s = l.format(100);
        assert!(
            s.starts_with(
                "10.20.0.1 - - [01/Jan/1970:00:00:00 +0000] \"GET /a%20b?x=1 HTTP/1.1\" 206 100 "
            ),
            "{s}"
        );
        assert!(s.ends_with("ms"), "{s}");
    }
}
