//! The HTTP server of `strata serve --http`: hyper's HTTP/1.1 connection
//! handling on strata's tokio sockets, the static-file service of
//! [`super::files`], and an access log line per request.

use std::convert::Infallible;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// long after the server started waiting for it (a slowloris client
    /// sending its header a byte at a time).
    pub header_read_timeout: Duration,
    /// Close a connection on which no byte has moved either way for this
    /// long: an idle keep-alive connection, or a client that stopped
    /// reading its response (a zero window).
    pub idle_timeout: Duration,
    /// Most connections served at once; one more is closed as soon as it
    /// is accepted (counted in [`Counters::refused`]).
    pub max_connections: usize,
    /// Largest request accepted: its head (request line and header
    /// fields; a larger one is answered 431) and its body (a larger one,
    /// or one of unknown length, is answered 413 and the connection
    /// closed). At least [`MIN_REQUEST_BYTES`].
    pub max_request_bytes: usize,
}

/// Smallest request-size cap: hyper's read buffer is never smaller.
pub const MIN_REQUEST_BYTES: usize = 8192;

impl Options {
    /// The defaults `strata serve --http` shows in its help.
    pub fn new(root: PathBuf) -> Options {
        Options {
            root,
            access_log: true,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_request_bytes: 64 * 1024,
        }
    }
}

/// What the server's defences did.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections closed at once because `max_connections` were open.
    pub refused: AtomicU64,
    /// Connections closed by the idle timeout.
    pub idle_closed: AtomicU64,
    /// Requests answered 413 (body above the cap or of unknown length).
    pub too_large: AtomicU64,
}

/// Serves `opts.root` on `listener` until accepting fails (the device or
/// runtime went away). Each connection runs as its own task.
pub async fn run(listener: TcpListener, opts: Options) -> io::Result<()> {
    run_counted(listener, opts, Arc::default()).await
}

/// [`run`], counting what the defences do in `counters`.
pub async fn run_counted(
    listener: TcpListener,
    opts: Options,
    counters: Arc<Counters>,
) -> io::Result<()> {
    let opts = Arc::new(opts);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        // RFC 9112 §2.3 leaves the limits to the server: a slowloris head
        // is cut off by time, an oversized one by size (431, RFC 6585 §5).
        .header_read_timeout(opts.header_read_timeout)
        .max_buf_size(opts.max_request_bytes.max(MIN_REQUEST_BYTES));
    let slots = Arc::new(tokio::sync::Semaphore::new(opts.max_connections.max(1)));
    loop {
        let (stream, peer) = listener.accept().await?;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // At the cap: this connection is closed at once.
            counters.refused.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, "connection refused: at the connection cap");
            drop(stream);
            continue;
        };
        let (opts, counters) = (opts.clone(), counters.clone());
        let activity = Arc::new(AtomicU64::new(0));
        let epoch = tokio::time::Instant::now();
        let io = Activity {
            inner: TokioIo::new(stream),
            last: activity.clone(),
            epoch,
        };
        let service_opts = opts.clone();
        let service_counters = counters.clone();
        let conn = http.serve_connection(
            io,
            hyper::service::service_fn(move |req| {
                let opts = service_opts.clone();
                let counters = service_counters.clone();
                async move { Ok::<_, Infallible>(respond(&opts, &counters, peer, req).await) }
            }),
        );
        tokio::spawn(async move {
            let _permit = permit;
            let mut conn = std::pin::pin!(conn);
            let idle = opts.idle_timeout;
            let mut closing = false;
            loop {
                let last = epoch + Duration::from_millis(activity.load(Ordering::Relaxed));
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::info!(%peer, error = %e, "http connection ended");
                        }
                        break;
                    }
                    _ = tokio::time::sleep_until(last + idle) => {
                        let now = epoch + Duration::from_millis(activity.load(Ordering::Relaxed));
                        if now > last {
                            continue; // bytes moved meanwhile
                        }
                        if closing {
                            // Still nothing moved: drop the connection.
                            tracing::info!(%peer, "idle connection dropped");
                            break;
                        }
                        // Nothing moved for the idle timeout: end the
                        // connection (at once when between requests),
                        // and drop it if another idle period passes.
                        counters.idle_closed.fetch_add(1, Ordering::Relaxed);
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                        activity.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
                    }
                }
            }
        });
    }
}

/// A connection's I/O that notes when bytes last moved (milliseconds
/// since `epoch`), for the idle timeout.
struct Activity<T> {
    inner: T,
    last: Arc<AtomicU64>,
    epoch: tokio::time::Instant,
}

impl<T> Activity<T> {
    fn touch(&self) {
        self.last
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for Activity<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if r.is_ready() {
            this.touch();
        }
        r
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for Activity<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Answers one request from the file service.
async fn respond(
    opts: &Options,
    counters: &Counters,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    let started = Instant::now();
    let when = SystemTime::now();
    let hint = hyper::body::Body::size_hint(req.body());
    if hint.lower() > opts.max_request_bytes as u64 || hint.upper().is_none() {
        // A body above the cap, or of unknown length: 413 (RFC 9110
        // §15.5.14), and the connection closes rather than read it.
        counters.too_large.fetch_add(1, Ordering::Relaxed);
        let mut r = Response::new(Body {
            source: Source::Bytes(Some(Bytes::from_static(b"413 Content Too Large\n"))),
            sent: 0,
            log: None,
        });
        *r.status_mut() = hyper::StatusCode::PAYLOAD_TOO_LARGE;
        r.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("close"),
        );
        return r;
    }
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
