//! FTP in the simulator: the sans-IO [`Session`] and [`Client`] of
//! [`strata::app::ftp`] wired to a simulated host's TCP sockets.
//!
//! A server ([`FtpServer`]) is part of a host's [`Services`](crate::services::Services):
//! it runs inside the node, pumped on every stack event. A client runs from
//! outside ([`ftp_session`]), like the DNS resolver: the simulation is run
//! in small steps until its requests are done.

use std::net::SocketAddrV4;

use strata::app::ftp::client::{Client, ClientAction, ClientEvent};
use strata::app::ftp::fs::Fs;
use strata::app::ftp::server::{Action, ServerConfig, Session};
use strata::app::ftp::{DataEndpoint, Transfer, PORT};
use strata::stack::Stack;
use strata::time::{Duration, Instant};
use strata::transport::tcp::{ListenerHandle, State as TcpState, TcpError, TcpHandle};
use strata::wire::Ipv4Addr;

use crate::host::Host;
use crate::node::NodeId;
use crate::services::ServiceError;
use crate::sim::Sim;

/// Ports tried for passive listeners (server) and active ones (client).
const DATA_PORTS: core::ops::RangeInclusive<u16> = 50000..=50999;

/// What a data connection is for.
#[derive(Debug)]
enum Job {
    /// Bytes still to send (and how many are queued), then close.
    Send(Vec<u8>, usize),
    /// Bytes received so far (until the peer closes).
    Recv(Vec<u8>),
}

/// One data connection being set up or used.
#[derive(Debug, Default)]
struct Data {
    listener: Option<ListenerHandle>,
    conn: Option<TcpHandle>,
    job: Option<Job>,
}

/// What became of a data connection in one pump.
enum DataOutcome {
    Pending,
    Done(Transfer),
}

impl Data {
    /// Opens a listener on a free port of `DATA_PORTS` at `ip`.
    fn listen(&mut self, st: &mut Stack, ip: Ipv4Addr, next: &mut u16) -> Option<u16> {
        for _ in 0..DATA_PORTS.clone().count() {
            let p = *next;
            *next = if p >= *DATA_PORTS.end() {
                *DATA_PORTS.start()
            } else {
                p + 1
            };
            if let Ok(l) = st.tcp_listen(Some(ip), p, 1) {
                self.listener = Some(l);
                return Some(p);
            }
        }
        None
    }

    fn close_listener(&mut self, now: Instant, st: &mut Stack) {
        if let Some(l) = self.listener.take() {
            let _ = st.tcp_close_listener(now, l);
        }
    }

    /// Moves the job on: accepts, sends, receives.
    fn pump(&mut self, now: Instant, st: &mut Stack) -> DataOutcome {
        if self.job.is_none() {
            return DataOutcome::Pending;
        }
        if self.conn.is_none() {
            if let Some(l) = self.listener {
                if let Ok(c) = st.tcp_accept(l) {
                    self.conn = Some(c);
                    self.close_listener(now, st);
                }
            }
        }
        let Some(c) = self.conn else {
            return DataOutcome::Pending;
        };
        match st.tcp_state(c) {
            TcpState::SynSent | TcpState::SynReceived => return DataOutcome::Pending,
            TcpState::Closed => {
                self.conn = None;
                self.job = None;
                return DataOutcome::Done(Transfer::CannotOpen);
            }
            _ => {}
        }
        // Some(Ok(t)): the transfer is done; Some(Err(())): the data
        // connection failed; None: it goes on.
        let step = match self.job.as_mut().expect("checked") {
            Job::Send(d, queued) => loop {
                if *queued >= d.len() {
                    break Some(Ok(Transfer::Done(Vec::new())));
                }
                match st.tcp_send(c, &d[*queued..]) {
                    Ok(n) => *queued += n,
                    Err(TcpError::WouldBlock) => break None,
                    Err(_) => break Some(Err(())),
                }
            },
            Job::Recv(buf) => {
                let mut b = [0u8; 4096];
                loop {
                    match st.tcp_recv(c, &mut b) {
                        Ok(0) => break Some(Ok(Transfer::Done(core::mem::take(buf)))),
                        Ok(n) => buf.extend_from_slice(&b[..n]),
                        Err(TcpError::WouldBlock) => break None,
                        Err(_) => break Some(Err(())),
                    }
                }
            }
        };
        let out = match step {
            None => return DataOutcome::Pending,
            Some(Ok(t)) => {
                let _ = st.tcp_close(now, c);
                t
            }
            Some(Err(())) => {
                let _ = st.tcp_abort(now, c);
                Transfer::Aborted
            }
        };
        self.conn = None;
        self.job = None;
        DataOutcome::Done(out)
    }

    /// Gives up on any connection or listener.
    fn reset(&mut self, now: Instant, st: &mut Stack) {
        self.close_listener(now, st);
        if let Some(c) = self.conn.take() {
            let _ = st.tcp_abort(now, c);
        }
        self.job = None;
    }
}

#[derive(Debug)]
struct Conn {
    ctrl: TcpHandle,
    local: Ipv4Addr,
    session: Session,
    out: Vec<u8>,
    data: Data,
    closing: bool,
}

/// Counters of an [`FtpServer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FtpServerStats {
    /// Control connections accepted.
    pub sessions: u64,
    /// Successful logins.
    pub logins: u64,
    /// Files sent.
    pub files_sent: u64,
    /// Files stored.
    pub files_stored: u64,
    /// Listings sent.
    pub listings: u64,
    /// Error replies (4xx, 5xx).
    pub errors: u64,
}

/// An FTP server on a simulated host: its files, settings and sessions.
#[derive(Debug)]
pub struct FtpServer {
    /// The files it serves (and stores into, when writable).
    pub fs: Fs,
    config: ServerConfig,
    listener: Option<ListenerHandle>,
    conns: Vec<Conn>,
    next_port: u16,
    stats: FtpServerStats,
}

impl FtpServer {
    /// A server for `fs` with `config`; it listens once installed.
    pub fn new(fs: Fs, config: ServerConfig) -> FtpServer {
        FtpServer {
            fs,
            config,
            listener: None,
            conns: Vec::new(),
            next_port: *DATA_PORTS.start(),
            stats: FtpServerStats::default(),
        }
    }

    /// Counters (sessions still open included).
    pub fn stats(&self) -> FtpServerStats {
        let mut s = self.stats;
        for c in &self.conns {
            let x = c.session.stats();
            s.files_sent += x.files_sent;
            s.files_stored += x.files_stored;
            s.listings += x.listings;
            s.errors += x.errors;
            s.logins += u64::from(c.session.is_logged_in());
        }
        s
    }

    /// Listens on port 21.
    pub(crate) fn start(&mut self, st: &mut Stack) -> Result<(), TcpError> {
        self.listener = Some(st.tcp_listen(None, PORT, 16)?);
        Ok(())
    }

    /// Accepts, reads, answers and moves data for every session.
    pub(crate) fn pump(&mut self, now: Instant, st: &mut Stack) {
        if let Some(l) = self.listener {
            while let Ok(c) = st.tcp_accept(l) {
                let Ok(info) = st.tcp().info(c) else { continue };
                self.stats.sessions += 1;
                let _ = st.tcp_set_nodelay(c, true);
                self.conns.push(Conn {
                    ctrl: c,
                    local: *info.local.ip(),
                    session: Session::new(self.config.clone(), info.local, *info.remote.ip()),
                    out: Vec::new(),
                    data: Data::default(),
                    closing: false,
                });
            }
        }
        let mut i = 0;
        while i < self.conns.len() {
            let done = self.pump_conn(now, st, i);
            if done {
                let c = self.conns.remove(i);
                let x = c.session.stats();
                self.stats.files_sent += x.files_sent;
                self.stats.files_stored += x.files_stored;
                self.stats.listings += x.listings;
                self.stats.errors += x.errors;
                self.stats.logins += u64::from(c.session.is_logged_in());
            } else {
                i += 1;
            }
        }
    }

    /// One session; true when it is over.
    fn pump_conn(&mut self, now: Instant, st: &mut Stack, i: usize) -> bool {
        let fs = &mut self.fs;
        let next_port = &mut self.next_port;
        let c = &mut self.conns[i];
        let mut b = [0u8; 2048];
        loop {
            match st.tcp_recv(c.ctrl, &mut b) {
                Ok(0) => {
                    c.closing = true;
                    break;
                }
                Ok(n) => c.session.handle_input(fs, &b[..n]),
                Err(TcpError::WouldBlock) => break,
                Err(_) => {
                    c.data.reset(now, st);
                    return true;
                }
            }
        }
        // Until nothing more happens: actions, data, output.
        for _ in 0..16 {
            let mut progress = false;
            while let Some(a) = c.session.poll_action() {
                progress = true;
                match a {
                    Action::Listen => {
                        c.data.close_listener(now, st);
                        match c.data.listen(st, c.local, next_port) {
                            Some(p) => c
                                .session
                                .passive_listening(fs, SocketAddrV4::new(c.local, p)),
                            None => c.session.passive_failed(fs),
                        }
                    }
                    Action::Transfer { endpoint, send } => {
                        c.data.job = Some(match send {
                            Some(d) => Job::Send(d, 0),
                            None => Job::Recv(Vec::new()),
                        });
                        if let DataEndpoint::Active(to) = endpoint {
                            c.data.close_listener(now, st);
                            match st.tcp_connect_from(now, Some(SocketAddrV4::new(c.local, 0)), to)
                            {
                                Ok(h) => c.data.conn = Some(h),
                                Err(_) => {
                                    c.data.job = None;
                                    c.session.transfer_done(fs, Transfer::CannotOpen);
                                }
                            }
                        }
                    }
                    Action::Close => c.closing = true,
                }
            }
            if let DataOutcome::Done(t) = c.data.pump(now, st) {
                progress = true;
                c.session.transfer_done(fs, t);
            }
            if let Some(o) = c.session.poll_output() {
                progress = true;
                c.out.extend_from_slice(&o);
            }
            if !progress {
                break;
            }
        }
        while !c.out.is_empty() {
            match st.tcp_send(c.ctrl, &c.out) {
                Ok(n) => {
                    c.out.drain(..n);
                }
                Err(TcpError::WouldBlock) => break,
                Err(_) => {
                    c.data.reset(now, st);
                    return true;
                }
            }
        }
        if c.closing && c.out.is_empty() {
            let _ = st.tcp_close(now, c.ctrl);
            c.data.reset(now, st);
            return true;
        }
        false
    }
}

/// What [`ftp_session`] saw.
#[derive(Debug, Clone)]
pub struct FtpOutcome {
    /// The client's events in order.
    pub events: Vec<ClientEvent>,
    /// Virtual time from connecting to the end.
    pub elapsed: Duration,
    /// True when the session ended (QUIT answered) before the time limit.
    pub finished: bool,
}

/// Runs `client` on `host` against the FTP server at `server` (port 21)
/// until its session ends or `max` of virtual time passes. Queue the
/// requests and `quit()` on the client first.
pub fn ftp_session(
    sim: &mut Sim,
    host: NodeId,
    server: Ipv4Addr,
    mut client: Client,
    max: Duration,
) -> Result<FtpOutcome, ServiceError> {
    let start = sim.now();
    let ctrl = sim
        .with_node(host, |h: &mut Host, now| {
            h.stack_mut()
                .tcp_connect(now, SocketAddrV4::new(server, PORT))
        })
        .ok_or(ServiceError::NotAHost(host))?
        .map_err(ServiceError::Tcp)?;
    let mut data = Data::default();
    let mut next_port = *DATA_PORTS.start();
    let mut out: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    let mut closed = false;
    let end = start + max;
    while sim.now() < end && !closed {
        sim.with_node(host, |h: &mut Host, now| {
            let st = h.stack_mut();
            let mut b = [0u8; 2048];
            loop {
                match st.tcp_recv(ctrl, &mut b) {
                    Ok(0) => {
                        client.connection_closed();
                        break;
                    }
                    Ok(n) => client.handle_input(&b[..n]),
                    Err(TcpError::WouldBlock) => break,
                    Err(_) => {
                        if st.tcp_state(ctrl) != TcpState::SynSent {
                            client.connection_closed();
                        }
                        break;
                    }
                }
            }
            for _ in 0..16 {
                let mut progress = false;
                while let Some(a) = client.poll_action() {
                    progress = true;
                    let local = st
                        .tcp()
                        .info(ctrl)
                        .map(|i| *i.local.ip())
                        .unwrap_or(Ipv4Addr::UNSPECIFIED);
                    match a {
                        ClientAction::Connect(to) => {
                            data.reset(now, st);
                            match st.tcp_connect(now, to) {
                                Ok(c) => data.conn = Some(c),
                                Err(_) => client.data_failed(),
                            }
                        }
                        ClientAction::Listen => {
                            data.reset(now, st);
                            match data.listen(st, local, &mut next_port) {
                                Some(p) => client.listening(SocketAddrV4::new(local, p)),
                                None => client.data_failed(),
                            }
                        }
                        ClientAction::Transfer(send) => {
                            data.job = Some(match send {
                                Some(d) => Job::Send(d, 0),
                                None => Job::Recv(Vec::new()),
                            });
                        }
                        ClientAction::Close => {
                            let _ = st.tcp_close(now, ctrl);
                            data.reset(now, st);
                        }
                    }
                }
                if let DataOutcome::Done(t) = data.pump(now, st) {
                    progress = true;
                    client.transfer_done(t);
                }
                if let Some(o) = client.poll_transmit() {
                    progress = true;
                    out.extend_from_slice(&o);
                }
                while let Some(e) = client.poll_event() {
                    progress = true;
                    if let ClientEvent::Done(..) = e {
                        // A request that failed before its data moved
                        // leaves nothing to wait for.
                        if data.job.is_some() && client.is_idle() {
                            data.reset(now, st);
                        }
                    }
                    closed |= e == ClientEvent::Closed;
                    events.push(e);
                }
                if !progress {
                    break;
                }
            }
            while !out.is_empty() {
                match st.tcp_send(ctrl, &out) {
                    Ok(n) => {
                        out.drain(..n);
                    }
                    Err(_) => break,
                }
            }
        });
        if !closed {
            sim.run_for(Duration::from_millis(1));
        }
    }
    if !closed {
        sim.with_node(host, |h: &mut Host, now| {
            let _ = h.stack_mut().tcp_abort(now, ctrl);
            data.reset(now, h.stack_mut());
        });
    }
    Ok(FtpOutcome {
        events,
        elapsed: sim.now().saturating_duration_since(start),
        finished: closed,
    })
}
