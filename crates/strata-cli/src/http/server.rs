//! The HTTP server of `strata serve --http`: hyper's HTTP/1.1 connection
//! handling on strata's tokio sockets, the static-file service of
//! [`super::files`], and an access log line per request.

use std::convert::Infallible;
use std::future::Future as _;
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
use tokio::io::{AsyncRead, AsyncSeekExt as _, AsyncWrite, ReadBuf};

use super::files::{self, Content};

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The directory served (canonical).
    pub root: PathBuf,
    /// Write an access log line per request to standard output.
    pub access_log: bool,
    /// Close a connection whose request head has not fully arrived this
    /// long after it began: from the accept for the first request, from
    /// the first byte of the next one on a keep-alive connection (a
    /// slowloris client sending its header a byte at a time). A keep-alive
    /// connection waiting between requests is not cut off by it.
    pub header_read_timeout: Duration,
    /// Close a connection on which no byte has moved either way for this
    /// long: an idle keep-alive connection between requests, or a client
    /// that stopped reading its response (a zero window).
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
    /// Connections closed because a request head did not arrive in full
    /// within the header timeout.
    pub header_timeouts: AtomicU64,
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
        // is cut off by time (`HeadClock`), an oversized one by size (431,
        // RFC 6585 §5). hyper's own header timer also runs while a
        // keep-alive connection waits between requests, so it would end
        // every idle keep-alive connection after the header timeout
        // instead of the idle timeout: it is off.
        .header_read_timeout(None)
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
        // Waiting for the first request's head from now on.
        let head = Arc::new(HeadClock::new(0));
        let io = TokioIo::new(Activity {
            inner: stream,
            last: activity.clone(),
            epoch,
            head: head.clone(),
        });
        let service_opts = opts.clone();
        let service_counters = counters.clone();
        let service_head = head.clone();
        let conn = http.serve_connection(
            io,
            hyper::service::service_fn(move |req| {
                let opts = service_opts.clone();
                let counters = service_counters.clone();
                // The head is in: no header timeout while it is answered.
                service_head.answering();
                let head = service_head.clone();
                async move { Ok::<_, Infallible>(respond(&opts, &counters, peer, req, head).await) }
            }),
        );
        tokio::spawn(async move {
            let _permit = permit;
            let mut conn = std::pin::pin!(conn);
            let (idle, header) = (opts.idle_timeout, opts.header_read_timeout);
            let mut closing = false;
            // The one timer of the connection, re-aimed at every poll at
            // the earlier of its two deadlines (both only move through this
            // task's own reads and writes, so a poll sees every change).
            let mut timer = std::pin::pin!(tokio::time::sleep_until(epoch + header));
            loop {
                let last = epoch + Duration::from_millis(activity.load(Ordering::Relaxed));
                let ended = std::future::poll_fn(|cx| {
                    if let Poll::Ready(r) = conn.as_mut().poll(cx) {
                        return Poll::Ready(Some(r));
                    }
                    let last = epoch + Duration::from_millis(activity.load(Ordering::Relaxed));
                    let mut due = last + idle;
                    if let Some(since) = head.since() {
                        due = due.min(epoch + Duration::from_millis(since) + header);
                    }
                    if timer.deadline() != due {
                        timer.as_mut().reset(due);
                    }
                    ready!(timer.as_mut().poll(cx));
                    Poll::Ready(None)
                })
                .await;
                if let Some(r) = ended {
                    if let Err(e) = r {
                        tracing::info!(%peer, error = %e, "http connection ended");
                    }
                    break;
                }
                let now = tokio::time::Instant::now();
                if head
                    .since()
                    .is_some_and(|since| now >= epoch + Duration::from_millis(since) + header)
                {
                    // RFC 9112 §2.3 leaves it to the server: a head that
                    // does not arrive in time ends the connection.
                    counters.header_timeouts.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%peer, "request head not in after the header timeout: connection closed");
                    break;
                }
                let moved = epoch + Duration::from_millis(activity.load(Ordering::Relaxed));
                if moved > last || now < moved + idle {
                    continue; // bytes moved meanwhile
                }
                if closing {
                    // Still nothing moved: drop the connection.
                    tracing::info!(%peer, "idle connection dropped");
                    break;
                }
                // Nothing moved for the idle timeout: end the connection
                // (at once when between requests), and drop it if another
                // idle period passes.
                counters.idle_closed.fetch_add(1, Ordering::Relaxed);
                conn.as_mut().graceful_shutdown();
                closing = true;
                activity.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
            }
        });
    }
}

/// Where a connection stands for the header timeout: waiting for a
/// request head since some moment, answering a request, or idle between
/// two requests of a keep-alive connection (the next head's clock starts
/// with its first byte, as nginx's `client_header_timeout` does after
/// `keepalive_timeout`).
#[derive(Debug)]
struct HeadClock(AtomicU64);

/// [`HeadClock`]: a request is being answered.
const ANSWERING: u64 = u64::MAX;
/// [`HeadClock`]: between requests; the next byte read starts the clock.
const BETWEEN: u64 = u64::MAX - 1;

impl HeadClock {
    /// Waiting for a head since `ms` (milliseconds since the connection's
    /// epoch).
    fn new(ms: u64) -> HeadClock {
        HeadClock(AtomicU64::new(ms))
    }

    /// Since when a head has been awaited (ms since the epoch), if one is.
    fn since(&self) -> Option<u64> {
        let v = self.0.load(Ordering::Relaxed);
        (v < BETWEEN).then_some(v)
    }

    /// The head arrived: the request is being answered.
    fn answering(&self) {
        self.0.store(ANSWERING, Ordering::Relaxed);
    }

    /// The response is done: idle until the next request begins.
    fn between(&self) {
        self.0.store(BETWEEN, Ordering::Relaxed);
    }

    /// Bytes arrived at `ms`: between requests, they begin the next head.
    fn bytes_in(&self, ms: u64) {
        let _ = self
            .0
            .compare_exchange(BETWEEN, ms, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// A connection's I/O that notes when bytes last moved (milliseconds
/// since `epoch`), for the idle timeout.
struct Activity<T> {
    inner: T,
    last: Arc<AtomicU64>,
    epoch: tokio::time::Instant,
    /// Where the connection stands for the header timeout.
    head: Arc<HeadClock>,
}

impl<T> Activity<T> {
    fn touch(&self) -> u64 {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last.store(ms, Ordering::Relaxed);
        ms
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Activity<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if r.is_ready() {
            let ms = this.touch();
            if buf.filled().len() > before {
                this.head.bytes_in(ms);
            }
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Activity<T> {
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
    head: Arc<HeadClock>,
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
            head: head.clone(),
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
        head: head.clone(),
    };
    builder.body(body).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "building a response");
        let mut r = Response::new(Body {
            source: Source::Bytes(None),
            sent: 0,
            log: None,
            head: head.clone(),
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
    /// Told when the response is done (the connection then waits for its
    /// next request, with no header timeout until that begins).
    head: Arc<HeadClock>,
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
        self.head.between();
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

    /// Reads one response (head and a `Content-Length` body) from `s`.
    async fn one_response(s: &mut strata_io::tokio::TcpStream) -> String {
        use tokio::io::AsyncReadExt as _;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let len: usize = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + len {
                    return text;
                }
            }
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before a whole response: {text}");
            got.extend_from_slice(&buf[..n]);
        }
    }

    /// Seconds until the server closes `s` (end of file or reset), reading
    /// and discarding; `None` if it is still open after `limit`.
    async fn closed_within(s: &mut strata_io::tokio::TcpStream, limit: Duration) -> Option<f64> {
        use tokio::io::AsyncReadExt as _;
        let t0 = Instant::now();
        let mut buf = [0u8; 4096];
        tokio::time::timeout(limit, async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return t0.elapsed().as_secs_f64(),
                    Ok(_) => {}
                }
            }
        })
        .await
        .ok()
    }

    /// The header timeout cuts off a head that arrives too slowly (the
    /// first request's, and the next one's on a keep-alive connection once
    /// its first byte came), but not a keep-alive connection waiting
    /// between requests: that one is the idle timeout's. hyper's own
    /// header timer closed it after the header timeout.
    #[test]
    fn idle_keep_alive_outlives_the_header_timeout_but_slow_heads_do_not() {
        use tokio::io::AsyncWriteExt as _;
        let dir = std::env::temp_dir().join(format!("strata-headclock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.txt"), b"hello\n").unwrap();
        let rt = strata_io::Runtime::loopback(strata::stack::StackConfig::default()).unwrap();
        let h = rt.handle();
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (header, idle) = (Duration::from_secs(1), Duration::from_secs(4));
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let root = dir.canonicalize().unwrap();
        tokio.block_on(async move {
            let addr = SocketAddr::from(([127, 0, 0, 1], 8088));
            let listener = TcpListener::bind(&h, addr).await.unwrap();
            let opts = Options {
                access_log: false,
                header_read_timeout: header,
                idle_timeout: idle,
                ..Options::new(root)
            };
            tokio::spawn(run_counted(listener, opts, c));
            let get = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
            // A keep-alive connection: one request, then 2.5 header
            // timeouts of silence, then another request on it.
            let mut a = strata_io::tokio::TcpStream::connect(&h, addr)
                .await
                .unwrap();
            a.write_all(get).await.unwrap();
            assert!(one_response(&mut a).await.starts_with("HTTP/1.1 200"));
            let idle_since = Instant::now();
            // Meanwhile a head sent a line every 200 ms is cut off.
            let mut b = strata_io::tokio::TcpStream::connect(&h, addr)
                .await
                .unwrap();
            b.write_all(b"GET /a.txt HTTP/1.1\r\n").await.unwrap();
            let t0 = Instant::now();
            let mut cut = None;
            for _ in 0..15 {
                let step = Duration::from_millis(200);
                if b.write_all(b"X-a: b\r\n").await.is_err()
                    || closed_within(&mut b, step).await.is_some()
                {
                    cut = Some(t0.elapsed().as_secs_f64());
                    break;
                }
            }
            let cut = cut.expect("a head sent a line every 200 ms was kept for 3 s");
            assert!(
                (0.8..3.0).contains(&cut),
                "slow head cut off after {cut:.2} s"
            );
            tokio::time::sleep_until((idle_since + header * 5 / 2).into()).await;
            a.write_all(get)
                .await
                .expect("the idle keep-alive connection was closed");
            assert!(one_response(&mut a).await.starts_with("HTTP/1.1 200"));
            // The next head begins and stalls: the header timeout, not the
            // idle timeout, ends it.
            a.write_all(b"GET /a.txt HTTP/1.1\r\n").await.unwrap();
            let t = closed_within(&mut a, idle)
                .await
                .expect("stalled head kept");
            assert!(
                (0.8..3.0).contains(&t),
                "stalled next head cut off after {t:.2} s"
            );
        });
        assert_eq!(counters.header_timeouts.load(Ordering::Relaxed), 2);
        assert_eq!(counters.idle_closed.load(Ordering::Relaxed), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
