//! A small web server and client for simulated hosts: HTTP/1.0 GET of
//! files held in memory (RFC 1945 §5, §6), one request per connection.
//! Enough for topology files to show a page fetched across a network
//! (through a NAT, by name); the full HTTP/1.1 server runs over TAP in
//! `strata serve`.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;

use strata::stack::Stack;
use strata::time::{Duration, Instant};
use strata::transport::tcp::{ListenerHandle, State as TcpState, TcpError, TcpHandle};
use strata::wire::Ipv4Addr;

use crate::host::Host;
use crate::node::NodeId;
use crate::services::ServiceError;
use crate::sim::Sim;

/// The HTTP port.
pub const PORT: u16 = 80;
/// Longest request head read.
const MAX_REQUEST: usize = 8192;

#[derive(Debug)]
struct Conn {
    h: TcpHandle,
    req: Vec<u8>,
    out: Vec<u8>,
    answered: bool,
}

/// Counters and what a [`WebServer`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebStats {
    /// Requests answered 200.
    pub ok: u64,
    /// Requests answered 404.
    pub not_found: u64,
    /// Requests answered 400.
    pub bad: u64,
    /// The client address of each request, in order (at most 64).
    pub clients: Vec<SocketAddrV4>,
}

/// A web server serving files by path.
#[derive(Debug, Default)]
pub struct WebServer {
    files: BTreeMap<String, Vec<u8>>,
    listener: Option<ListenerHandle>,
    conns: Vec<Conn>,
    stats: WebStats,
}

impl WebServer {
    /// A server for these files (paths start with `/`; `/` serves
    /// `/index.html`).
    pub fn new(files: BTreeMap<String, Vec<u8>>) -> WebServer {
        WebServer {
            files,
            ..WebServer::default()
        }
    }

    /// Counters.
    pub fn stats(&self) -> &WebStats {
        &self.stats
    }

    pub(crate) fn start(&mut self, st: &mut Stack) -> Result<(), TcpError> {
        self.listener = Some(st.tcp_listen(None, PORT, 16)?);
        Ok(())
    }

    fn answer(&mut self, head: &[u8]) -> Vec<u8> {
        let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let mut w = line.split_whitespace();
        let (status, body): (&str, Vec<u8>) = match (w.next(), w.next()) {
            (Some("GET"), Some(path)) => {
                let path = if path.ends_with('/') {
                    format!("{path}index.html")
                } else {
                    path.to_string()
                };
                match self.files.get(&path) {
                    Some(b) => {
                        self.stats.ok += 1;
                        ("200 OK", b.clone())
                    }
                    None => {
                        self.stats.not_found += 1;
                        ("404 Not Found", b"not found\n".to_vec())
                    }
                }
            }
            _ => {
                self.stats.bad += 1;
                ("400 Bad Request", b"bad request\n".to_vec())
            }
        };
        let mut out = format!(
            "HTTP/1.0 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        out
    }

    pub(crate) fn pump(&mut self, now: Instant, st: &mut Stack) {
        if let Some(l) = self.listener {
            while let Ok(h) = st.tcp_accept(l) {
                if let Ok(i) = st.tcp().info(h) {
                    if self.stats.clients.len() < 64 {
                        self.stats.clients.push(i.remote);
                    }
                }
                self.conns.push(Conn {
                    h,
                    req: Vec::new(),
                    out: Vec::new(),
                    answered: false,
                });
            }
        }
        let mut i = 0;
        while i < self.conns.len() {
            let mut b = [0u8; 2048];
            let mut gone = false;
            loop {
                match st.tcp_recv(self.conns[i].h, &mut b) {
                    Ok(0) => break,
                    Ok(n) => {
                        let c = &mut self.conns[i];
                        c.req.extend_from_slice(&b[..n]);
                        c.req.truncate(MAX_REQUEST);
                    }
                    Err(TcpError::WouldBlock) => break,
                    Err(_) => {
                        gone = true;
                        break;
                    }
                }
            }
            let c = &self.conns[i];
            if !c.answered
                && (c.req.windows(4).any(|w| w == b"\r\n\r\n") || c.req.len() >= MAX_REQUEST)
            {
                let head = c.req.clone();
                let out = self.answer(&head);
                let c = &mut self.conns[i];
                c.out = out;
                c.answered = true;
            }
            let c = &mut self.conns[i];
            while !c.out.is_empty() && !gone {
                match st.tcp_send(c.h, &c.out) {
                    Ok(n) => {
                        c.out.drain(..n);
                    }
                    Err(TcpError::WouldBlock) => break,
                    Err(_) => gone = true,
                }
            }
            if gone || (c.answered && c.out.is_empty()) {
                let _ = st.tcp_close(now, c.h);
                self.conns.remove(i);
            } else {
                i += 1;
            }
        }
    }
}

/// What [`http_get`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebResponse {
    /// The status line's code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// From connecting to the end of the body.
    pub elapsed: Duration,
}

/// Fetches `path` from the web server at `server` on `host` (HTTP/1.0
/// GET, read to the end), within `max` of virtual time.
pub fn http_get(
    sim: &mut Sim,
    host: NodeId,
    server: Ipv4Addr,
    name: &str,
    path: &str,
    max: Duration,
) -> Result<Result<WebResponse, String>, ServiceError> {
    let start = sim.now();
    let c = sim
        .with_node(host, |h: &mut Host, now| {
            h.stack_mut()
                .tcp_connect(now, SocketAddrV4::new(server, PORT))
        })
        .ok_or(ServiceError::NotAHost(host))?
        .map_err(ServiceError::Tcp)?;
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: {name}\r\n\r\n").into_bytes();
    let mut resp = Vec::new();
    let mut end: Option<Result<(), String>> = None;
    while end.is_none() && sim.now() < start + max {
        sim.run_for(Duration::from_millis(1));
        sim.with_node(host, |h: &mut Host, now| {
            let st = h.stack_mut();
            match st.tcp_state(c) {
                TcpState::SynSent => return,
                TcpState::Closed => {
                    end = Some(Err("connection failed".into()));
                    return;
                }
                _ => {}
            }
            if !req.is_empty() {
                if let Ok(n) = st.tcp_send(c, &req) {
                    req.drain(..n);
                }
            }
            let mut b = [0u8; 4096];
            loop {
                match st.tcp_recv(c, &mut b) {
                    Ok(0) => {
                        let _ = st.tcp_close(now, c);
                        end = Some(Ok(()));
                        break;
                    }
                    Ok(n) => resp.extend_from_slice(&b[..n]),
                    Err(TcpError::WouldBlock) => break,
                    Err(e) => {
                        end = Some(Err(e.to_string()));
                        break;
                    }
                }
            }
        });
    }
    let elapsed = sim.now().saturating_duration_since(start);
    match end {
        None => {
            sim.with_node(host, |h: &mut Host, now| {
                let _ = h.stack_mut().tcp_abort(now, c);
            });
            Ok(Err("timed out".into()))
        }
        Some(Err(e)) => Ok(Err(e)),
        Some(Ok(())) => {
            let Some(split) = resp.windows(4).position(|w| w == b"\r\n\r\n") else {
                return Ok(Err("no HTTP response".into()));
            };
            let head = String::from_utf8_lossy(&resp[..split]);
            let status = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            Ok(Ok(WebResponse {
                status,
                body: resp[split + 4..].to_vec(),
                elapsed,
            }))
        }
    }
}
