//! A small HTTP/1.1 static-file server and client (RFC 9110, RFC 9112),
//! written over any `Read + Write` stream: a strata `TcpStream`, a
//! `std::net::TcpStream`, or an in-memory pipe in tests.
//!
//! Server: `GET` and `HEAD`, content types by file extension, `404`, `405`,
//! directory index (`index.html` or a listing), persistent connections
//! (keep-alive, pipelining), `Content-Length` on every response.
//! Client: `GET` of an `http://A.B.C.D[:port]/path` URL, body by
//! `Content-Length`, chunked transfer coding, or until the peer closes.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// Largest request or response head accepted (request line + headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Size of the chunks the server copies a file in.
const COPY_CHUNK: usize = 64 * 1024;

/// What went wrong in the client.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The stream failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The URL is not `http://IPV4[:PORT][/PATH]`.
    #[error("bad URL {0:?}: expected http://A.B.C.D[:PORT][/PATH]")]
    BadUrl(String),
    /// The peer's response is not valid HTTP/1.x.
    #[error("malformed HTTP response: {0}")]
    BadResponse(String),
    /// The connection closed before the full body arrived.
    #[error("connection closed after {got} of {expected} body bytes")]
    Truncated {
        /// Body bytes received.
        got: u64,
        /// Body bytes announced by Content-Length.
        expected: u64,
    },
}

/// An `http://` URL with a literal IPv4 host (strata has no resolver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The host address.
    pub host: std::net::Ipv4Addr,
    /// The TCP port (80 unless given).
    pub port: u16,
    /// The request target: path and query, starting with `/`.
    pub path: String,
}

impl FromStr for Url {
    type Err = HttpError;
    fn from_str(s: &str) -> Result<Url, HttpError> {
        let bad = || HttpError::BadUrl(s.to_string());
        let rest = s.strip_prefix("http://").ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (authority, 80),
        };
        let host = host.parse().map_err(|_| bad())?;
        let path = path.split('#').next().unwrap_or("/").to_string();
        Ok(Url { host, port, path })
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}:{}{}", self.host, self.port, self.path)
    }
}

/// The head of a response the client received.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code, e.g. 200.
    pub status: u16,
    /// Reason phrase, e.g. `OK`.
    pub reason: String,
    /// Header fields in arrival order (names as sent).
    pub headers: Vec<(String, String)>,
    /// Body bytes written to the caller's sink.
    pub body_len: u64,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A buffered reader that keeps bytes read past the head for the body or
/// the next pipelined request.
struct Input<S> {
    stream: S,
    buf: Vec<u8>,
    start: usize,
}

impl<S: Read> Input<S> {
    fn new(stream: S) -> Self {
        Input {
            stream,
            buf: Vec::with_capacity(8192),
            start: 0,
        }
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Reads more bytes; `Ok(0)` at end of stream.
    fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.start * 2 > self.buf.capacity() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + 16 * 1024, 0);
        let n = loop {
            match self.stream.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(old + n);
        Ok(n)
    }

    /// Reads one head (up to and including the blank line). `Ok(None)` on
    /// a clean end of stream before any byte of a new head.
    fn read_head(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(end) = find(self.pending(), b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.pending()[..end]).into_owned();
                self.consume(end + 4);
                return Ok(Some(head));
            }
            if self.pending().len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
            }
            if self.fill()? == 0 {
                if self.pending().is_empty() {
                    return Ok(None);
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Reads one CRLF-terminated line (for chunked coding).
    fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(end) = find(self.pending(), b"\r\n") {
                let line = String::from_utf8_lossy(&self.pending()[..end]).into_owned();
                self.consume(end + 2);
                return Ok(line);
            }
            if self.pending().len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Copies up to `n` bytes to `out`; returns how many were copied (less
    /// than `n` only at end of stream).
    fn copy_n(&mut self, mut n: u64, out: &mut dyn Write) -> io::Result<u64> {
        let mut copied = 0;
        while n > 0 {
            if self.pending().is_empty() && self.fill()? == 0 {
                break;
            }
            let take = (self.pending().len() as u64).min(n) as usize;
            out.write_all(&self.pending()[..take])?;
            self.consume(take);
            n -= take as u64;
            copied += take as u64;
        }
        Ok(copied)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The content type for a file name, by extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" | "md" | "rs" | "toml" => "text/plain; charset=utf-8",
        "css" => "text/css",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "pcap" => "application/vnd.tcpdump.pcap",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// Decodes `%XX` escapes (RFC 3986 §2.1); `None` if an escape is malformed.
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Maps a request target to a path under `root`, refusing anything that
/// would escape it (`..`, absolute segments, NUL).
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    resolve_path(root, target.split(['?', '#']).next().unwrap_or("/"))
}

/// Maps a request path (no query or fragment) to a file under `root`,
/// refusing anything that would escape it (`..`, absolute segments, NUL).
pub fn resolve_path(root: &Path, path: &str) -> Option<PathBuf> {
    if !path.starts_with('/') {
        return None;
    }
    let decoded = String::from_utf8(percent_decode(path)?).ok()?;
    if decoded.contains('\0') {
        return None;
    }
    let mut out = root.to_path_buf();
    for comp in Path::new(decoded.trim_start_matches('/')).components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// What a server connection did (for logs and tests).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ServeStats {
    /// Requests answered on this connection.
    pub requests: u64,
    /// Body bytes sent.
    pub body_bytes: u64,
}

struct Reply {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: Body,
}

enum Body {
    Bytes(Vec<u8>),
    File(fs::File, u64),
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::File(_, n) => *n,
        }
    }
}

fn simple(status: u16, reason: &'static str) -> Reply {
    Reply {
        status,
        reason,
        content_type: "text/plain; charset=utf-8",
        body: Body::Bytes(format!("{status} {reason}\n").into_bytes()),
    }
}

/// The HTML listing of directory `dir`, served at request path `path`
/// (no query): names escaped for HTML, links percent-encoded (RFC 3986
/// §2.1), directories with a trailing `/`.
pub fn listing_html(path: &str, dir: &Path) -> io::Result<String> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| {
            let mut n = e.file_name().to_string_lossy().into_owned();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                n.push('/');
            }
            n
        })
        .collect();
    names.sort();
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let title = esc(&String::from_utf8_lossy(
        &percent_decode(path).unwrap_or_default(),
    ));
    let mut html = format!("<!DOCTYPE html>\n<title>{title}</title>\n<h1>{title}</h1>\n<ul>\n");
    for n in names {
        let href = match n.strip_suffix('/') {
            Some(d) => format!("{}/", percent_encode(d)),
            None => percent_encode(&n),
        };
        html.push_str(&format!("<li><a href=\"{href}\">{}</a></li>\n", esc(&n)));
    }
    html.push_str("</ul>\n");
    Ok(html)
}

/// Encodes a file name for an `href`: unreserved characters (RFC 3986
/// §2.3) stay, everything else becomes `%XX`.
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn listing(target: &str, dir: &Path) -> io::Result<Reply> {
    let html = listing_html(target.split(['?', '#']).next().unwrap_or("/"), dir)?;
    Ok(Reply {
        status: 200,
        reason: "OK",
        content_type: "text/html; charset=utf-8",
        body: Body::Bytes(html.into_bytes()),
    })
}

fn route(root: &Path, method: &str, target: &str) -> Reply {
    if method != "GET" && method != "HEAD" {
        return simple(405, "Method Not Allowed");
    }
    let Some(mut path) = resolve(root, target) else {
        return simple(400, "Bad Request");
    };
    if path.is_dir() {
        let index = path.join("index.html");
        if index.is_file() {
            path = index;
        } else {
            return listing(target, &path).unwrap_or_else(|_| simple(403, "Forbidden"));
        }
    }
    match fs::File::open(&path).and_then(|f| f.metadata().map(|m| (f, m))) {
        Ok((f, m)) if m.is_file() => Reply {
            status: 200,
            reason: "OK",
            content_type: content_type(&path),
            body: Body::File(f, m.len()),
        },
        Ok(_) => simple(404, "Not Found"),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => simple(403, "Forbidden"),
        Err(_) => simple(404, "Not Found"),
    }
}

/// Serves HTTP/1.1 requests for files under `root` on one connection until
/// the client closes or asks to close. Returns what was served.
pub fn serve_connection<S: Read + Write>(stream: S, root: &Path) -> io::Result<ServeStats> {
    let mut input = Input::new(stream);
    let mut stats = ServeStats::default();
    let mut chunk = vec![0u8; COPY_CHUNK];
    loop {
        let head = match input.read_head() {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(stats),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                refuse(
                    &mut input.stream,
                    431,
                    "Request Header Fields Too Large",
                    &mut chunk,
                )?;
                return Ok(stats);
            }
            Err(e) => return Err(e),
        };
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or("");
        let mut parts = request_line.split(' ');
        let (method, target, version) =
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(m), Some(t), Some(v), None) if v.starts_with("HTTP/1.") && !m.is_empty() => {
                    (m, t, v)
                }
                _ => {
                    refuse(&mut input.stream, 400, "Bad Request", &mut chunk)?;
                    return Ok(stats);
                }
            };
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let connection = header(&headers, "connection")
            .unwrap_or("")
            .to_ascii_lowercase();
        // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; 1.0 only with "keep-alive".
        let keep_alive = if version == "HTTP/1.0" {
            connection.contains("keep-alive")
        } else {
            !connection.contains("close")
        };
        // A request body (not expected for GET/HEAD) is read and discarded
        // so the next request on the connection parses cleanly.
        if header(&headers, "transfer-encoding").is_some() {
            refuse(&mut input.stream, 411, "Length Required", &mut chunk)?;
            return Ok(stats);
        }
        if let Some(len) = header(&headers, "content-length") {
            let Ok(len) = len.parse::<u64>() else {
                refuse(&mut input.stream, 400, "Bad Request", &mut chunk)?;
                return Ok(stats);
            };
            input.copy_n(len, &mut io::sink())?;
        }
        let reply = route(root, method, target);
        tracing::debug!(method, target, status = reply.status, "http request");
        stats.requests += 1;
        stats.body_bytes += write_reply(
            &mut input.stream,
            reply,
            method == "HEAD",
            keep_alive,
            &mut chunk,
        )?;
        if !keep_alive {
            return Ok(stats);
        }
    }
}

/// Answers a request that cannot be served with a short error page; the
/// connection closes after it.
fn refuse<W: Write>(
    out: &mut W,
    status: u16,
    reason: &'static str,
    chunk: &mut [u8],
) -> io::Result<()> {
    write_reply(out, simple(status, reason), false, false, chunk).map(|_| ())
}

fn write_reply<W: Write>(
    out: &mut W,
    reply: Reply,
    head_only: bool,
    keep_alive: bool,
    chunk: &mut [u8],
) -> io::Result<u64> {
    let len = reply.body.len();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nServer: strata\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        reply.status, reply.reason, reply.content_type, len
    );
    head.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    if head_only {
        out.write_all(head.as_bytes())?;
        out.flush()?;
        return Ok(0);
    }
    match reply.body {
        Body::Bytes(b) => {
            let mut all = head.into_bytes();
            all.extend_from_slice(&b);
            out.write_all(&all)?;
        }
        Body::File(mut f, n) => {
            // The head goes with the first chunk of the file: one write, so
            // small files leave in as few segments as possible.
            let h = head.len();
            chunk[..h].copy_from_slice(head.as_bytes());
            let mut filled = h;
            let mut left = n;
            loop {
                while filled < chunk.len() && left > 0 {
                    let want = ((chunk.len() - filled) as u64).min(left) as usize;
                    let got = f.read(&mut chunk[filled..filled + want])?;
                    if got == 0 {
                        // The file shrank under us: the promised length cannot be kept.
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "file shrank while serving",
                        ));
                    }
                    filled += got;
                    left -= got as u64;
                }
                out.write_all(&chunk[..filled])?;
                filled = 0;
                if left == 0 {
                    break;
                }
            }
        }
    }
    out.flush()?;
    Ok(len)
}

/// Sends `GET url` on `stream` and copies the response body to `body`.
/// Returns the response head; the status may be any code (the caller
/// decides what a 404 means).
pub fn get<S: Read + Write>(
    stream: S,
    url: &Url,
    body: &mut dyn Write,
) -> Result<Response, HttpError> {
    let mut input = Input::new(stream);
    let host = if url.port == 80 {
        url.host.to_string()
    } else {
        format!("{}:{}", url.host, url.port)
    };
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: strata-fetch/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path,
        env!("CARGO_PKG_VERSION")
    );
    input.stream.write_all(req.as_bytes())?;
    input.stream.flush()?;
    let head = loop {
        let head = input
            .read_head()?
            .ok_or_else(|| HttpError::BadResponse("connection closed before a response".into()))?;
        // RFC 9110 §15.2: skip interim 1xx responses.
        if !head.starts_with("HTTP/1.1 1") && !head.starts_with("HTTP/1.0 1") {
            break head;
        }
    };
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::BadResponse(format!(
            "status line {status_line:?}"
        )));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| HttpError::BadResponse(format!("status line {status_line:?}")))?;
    let reason = parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = header(&headers, "transfer-encoding")
        .map(|v| v.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false);
    let length = header(&headers, "content-length")
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| HttpError::BadResponse(format!("Content-Length {v:?}")))
        })
        .transpose()?;
    let body_len = if status == 204 || status == 304 {
        0
    } else if chunked {
        // RFC 9112 §7.1: chunk-size [ext] CRLF data CRLF ... 0 CRLF trailers CRLF.
        let mut total = 0;
        loop {
            let line = input.read_line()?;
            let size_str = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_str, 16)
                .map_err(|_| HttpError::BadResponse(format!("chunk size {line:?}")))?;
            if size == 0 {
                while !input.read_line()?.is_empty() {}
                break total;
            }
            let got = input.copy_n(size, body)?;
            total += got;
            if got < size {
                return Err(HttpError::Truncated {
                    got: total,
                    expected: total - got + size,
                });
            }
            if !input.read_line()?.is_empty() {
                return Err(HttpError::BadResponse("chunk not followed by CRLF".into()));
            }
        }
    } else if let Some(len) = length {
        let got = input.copy_n(len, body)?;
        if got < len {
            return Err(HttpError::Truncated { got, expected: len });
        }
        got
    } else {
        // RFC 9112 §6.3 item 8: the body runs to the end of the connection.
        input.copy_n(u64::MAX, body)?
    };
    body.flush()?;
    Ok(Response {
        status,
        reason,
        headers,
        body_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("strata-http-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("sub")).unwrap();
        d
    }

    /// Serves `root` on 127.0.0.1 for `conns` connections; returns the port.
    fn server(root: PathBuf, conns: usize) -> (u16, std::thread::JoinHandle<Vec<ServeStats>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            (0..conns)
                .map(|_| {
                    let (s, _) = l.accept().unwrap();
                    serve_connection(s, &root).unwrap()
                })
                .collect()
        });
        (port, h)
    }

    #[test]
    fn url_parsing() {
        let u: Url = "http://10.20.0.2:8080/a/b?x=1#frag".parse().unwrap();
        assert_eq!(u.host, std::net::Ipv4Addr::new(10, 20, 0, 2));
        assert_eq!(u.port, 8080);
        assert_eq!(u.path, "/a/b?x=1");
        let u: Url = "http://10.0.0.1".parse().unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        for bad in [
            "ftp://1.2.3.4/",
            "http://example.com/",
            "http://1.2.3.4:99999/",
            "http://1.2.3/",
        ] {
            assert!(
                matches!(bad.parse::<Url>(), Err(HttpError::BadUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn resolve_refuses_escapes() {
        let root = Path::new("/srv");
        assert_eq!(
            resolve(root, "/a/b.txt"),
            Some(PathBuf::from("/srv/a/b.txt"))
        );
        assert_eq!(resolve(root, "/a%20b?q"), Some(PathBuf::from("/srv/a b")));
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/a/%2e%2e/%2e%2e/x"), None);
        assert_eq!(resolve(root, "/%zz"), None);
        assert_eq!(resolve(root, "noslash"), None);
    }

    #[test]
    fn listing_escapes_names_and_encodes_links() {
        let dir = std::env::temp_dir().join(format!("strata-listing-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("a b&<.txt"), b"x").unwrap();
        let html = listing_html("/x%20y/", &dir).unwrap();
        let _ = fs::remove_dir_all(&dir);
        assert!(html.contains("<title>/x y/</title>"), "{html}");
        assert!(
            html.contains("<li><a href=\"a%20b%26%3C.txt\">a b&amp;&lt;.txt</a></li>"),
            "{html}"
        );
        assert!(
            html.contains("<li><a href=\"sub/\">sub/</a></li>"),
            "{html}"
        );
        // Sorted by name: the file before the directory.
        assert!(html.find("a%20b").unwrap() < html.find("sub/").unwrap());
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            content_type(Path::new("a.HTML")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("x.png")), "image/png");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }

    #[test]
    fn get_files_over_loopback_byte_exact() {
        let root = tempdir("get");
        let big: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        fs::write(root.join("big.bin"), &big).unwrap();
        fs::write(root.join("empty.txt"), b"").unwrap();
        fs::write(root.join("sub/index.html"), b"<p>hi</p>").unwrap();
        let (port, h) = server(root.clone(), 4);
        let fetch = |path: &str| {
            let url = format!("http://127.0.0.1:{port}{path}").parse().unwrap();
            let mut body = Vec::new();
            let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            (get(stream, &url, &mut body).unwrap(), body)
        };

        let (r, body) = fetch("/big.bin");
        assert_eq!((r.status, r.body_len), (200, big.len() as u64));
        assert_eq!(body, big);
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));

        let (r, body) = fetch("/empty.txt");
        assert_eq!((r.status, body.len()), (200, 0));
        assert_eq!(r.header("Content-Length"), Some("0"));

        let (r, body) = fetch("/sub/");
        assert_eq!((r.status, body.as_slice()), (200, &b"<p>hi</p>"[..]));
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));

        let (r, body) = fetch("/missing");
        assert_eq!(r.status, 404);
        assert_eq!(body, b"404 Not Found\n");
        let stats = h.join().unwrap();
        assert!(stats.iter().all(|s| s.requests == 1));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn keep_alive_pipelining_head_and_405() {
        let root = tempdir("ka");
        fs::write(root.join("a.txt"), b"hello").unwrap();
        let (port, h) = server(root.clone(), 1);
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(
            b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n\
              HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n\
              POST /a.txt HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\
              GET /sub HTTP/1.1\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut all = String::new();
        s.read_to_string(&mut all).unwrap();
        let stats = h.join().unwrap();
        assert_eq!(stats[0].requests, 4);
        let responses: Vec<&str> = all.split("HTTP/1.1 ").skip(1).collect();
        assert_eq!(responses.len(), 4, "{all}");
        assert!(responses[0].starts_with("200 OK") && responses[0].ends_with("\r\n\r\nhello"));
        assert!(responses[0].contains("Connection: keep-alive"));
        assert!(
            responses[1].starts_with("200 OK")
                && responses[1].contains("Content-Length: 5\r\n")
                && responses[1].ends_with("\r\n\r\n")
        );
        assert!(responses[2].starts_with("405 "));
        assert!(
            responses[3].starts_with("200 OK")
                && responses[3].contains("Connection: close")
                && responses[3].contains("<ul>")
        );
        fs::remove_dir_all(root).unwrap();
    }

    /// A one-connection loopback server that reads the request (one read)
    /// and answers `reply`; the thread returns the request bytes.
    fn canned_server(reply: &[u8]) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let reply = reply.to_vec();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = [0u8; 1024];
            let n = s.read(&mut req).unwrap();
            s.write_all(&reply).unwrap();
            req[..n].to_vec()
        });
        (port, h)
    }

    #[test]
    fn client_handles_chunked_and_close_delimited_bodies() {
        for (reply, want) in [
            (&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: v\r\n\r\n"[..], &b"hello world"[..]),
            (&b"HTTP/1.0 200 OK\r\n\r\nuntil close"[..], &b"until close"[..]),
            (&b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"[..], &b"ok"[..]),
        ] {
            let (port, h) = canned_server(reply);
            let mut body = Vec::new();
            let url: Url = format!("http://127.0.0.1:{port}/x").parse().unwrap();
            let r = get(TcpStream::connect(("127.0.0.1", port)).unwrap(), &url, &mut body).unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(body, want);
            assert!(h.join().unwrap().starts_with(b"GET /x HTTP/1.1\r\n"));
        }
    }

    #[test]
    fn client_reports_truncation_and_garbage() {
        for (reply, truncated) in [
            (
                &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"[..],
                true,
            ),
            (&b"SSH-2.0-OpenSSH\r\n\r\n"[..], false),
        ] {
            let (port, h) = canned_server(reply);
            let url: Url = format!("http://127.0.0.1:{port}/").parse().unwrap();
            let err = get(
                TcpStream::connect(("127.0.0.1", port)).unwrap(),
                &url,
                &mut Vec::new(),
            )
            .unwrap_err();
            if truncated {
                assert!(
                    matches!(
                        err,
                        HttpError::Truncated {
                            got: 5,
                            expected: 10
                        }
                    ),
                    "{err}"
                );
            } else {
                assert!(matches!(err, HttpError::BadResponse(_)), "{err}");
            }
            h.join().unwrap();
        }
    }
}
