//! Blocking TCP sockets over a strata [`Runtime`](crate::Runtime), shaped
//! like `std::net::{TcpListener, TcpStream}`.
//!
//! Every call locks the runtime's stack briefly; a call that cannot make
//! progress (nothing to read, send buffer full, no connection to accept,
//! handshake in flight) sleeps on the runtime's condition variable until
//! the stack reports an event, then tries again. Errors are
//! `std::io::Error`s whose kind is the one `std` would give
//! (`ConnectionRefused`, `ConnectionReset`, `TimedOut`, `AddrInUse`,
//! `WouldBlock` ...).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use strata::time::Instant;
use strata::transport::tcp::{ListenerHandle, State as TcpState, TcpError, TcpHandle};

use crate::runtime::{RuntimeHandle, State, WakeKey};
use crate::udp::v4;

/// Accept-queue length of listeners by default (Linux's `somaxconn`).
pub const DEFAULT_BACKLOG: usize = 4096;

/// Half-open (SYN-RECEIVED) connections a listener keeps by default
/// (as Linux's `tcp_max_syn_backlog` on a host with some memory).
pub const DEFAULT_SYN_BACKLOG: usize = 4096;

/// How a listener queues connections, for [`TcpListener::bind_with`] and
/// [`crate::tokio::TcpListener::bind_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenOptions {
    /// Established connections waiting for `accept` (the `backlog` of
    /// `listen(2)`); SYNs beyond it are dropped, so the client retries.
    pub backlog: usize,
    /// Handshakes in progress (SYN received, SYN-ACK sent); SYNs beyond it
    /// are dropped and counted (`TcpStats::syn_queue_drops`).
    pub syn_backlog: usize,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            backlog: DEFAULT_BACKLOG,
            syn_backlog: DEFAULT_SYN_BACKLOG,
        }
    }
}

impl ListenOptions {
    /// The defaults with another accept-queue length.
    pub fn backlog(backlog: usize) -> ListenOptions {
        ListenOptions {
            backlog,
            ..ListenOptions::default()
        }
    }
}

/// The few stack calls this module makes, in one place.
pub(crate) mod api {
    use super::*;

    pub fn listen(
        st: &mut State,
        local: SocketAddrV4,
        opts: ListenOptions,
    ) -> Result<ListenerHandle, TcpError> {
        let ip = Some(*local.ip()).filter(|i| !i.is_unspecified());
        let l = st.stack.tcp_listen(ip, local.port(), opts.backlog)?;
        st.stack
            .tcp_set_listen_queues(l, None, opts.syn_backlog)
            .inspect_err(|_| {
                let _ = st.stack.tcp_close_listener(Instant::ZERO, l);
            })?;
        Ok(l)
    }
    pub fn accept(st: &mut State, l: ListenerHandle) -> Result<TcpHandle, TcpError> {
        st.stack.tcp_accept(l)
    }
    pub fn close_listener(st: &mut State, now: Instant, l: ListenerHandle) {
        let _ = st.stack.tcp_close_listener(now, l);
    }
    pub fn connect(
        st: &mut State,
        now: Instant,
        remote: SocketAddrV4,
    ) -> Result<TcpHandle, TcpError> {
        st.stack.tcp_connect(now, remote)
    }
    pub fn send(
        st: &mut State,
        _now: Instant,
        h: TcpHandle,
        data: &[u8],
    ) -> Result<usize, TcpError> {
        st.stack.tcp_send(h, data)
    }
    pub fn recv(
        st: &mut State,
        _now: Instant,
        h: TcpHandle,
        buf: &mut [u8],
    ) -> Result<usize, TcpError> {
        st.stack.tcp_recv(h, buf)
    }
    pub fn shutdown_write(st: &mut State, now: Instant, h: TcpHandle) -> Result<(), TcpError> {
        st.stack.tcp_shutdown(now, h)
    }
    pub fn close(st: &mut State, now: Instant, h: TcpHandle) {
        let _ = st.stack.tcp_close(now, h);
    }
    pub fn abort(st: &mut State, now: Instant, h: TcpHandle) {
        let _ = st.stack.tcp_abort(now, h);
    }
    pub fn state(st: &State, h: TcpHandle) -> TcpState {
        st.stack.tcp_state(h)
    }
    pub fn error(st: &State, h: TcpHandle) -> Option<TcpError> {
        st.stack.tcp().error(h)
    }
    pub fn local_addr(st: &State, h: TcpHandle) -> Result<SocketAddrV4, TcpError> {
        st.stack.tcp().local_addr(h)
    }
    pub fn remote_addr(st: &State, h: TcpHandle) -> Result<SocketAddrV4, TcpError> {
        st.stack.tcp().remote_addr(h)
    }
    pub fn set_nodelay(st: &mut State, h: TcpHandle, on: bool) -> Result<(), TcpError> {
        st.stack.tcp_set_nodelay(h, on)
    }
    pub fn send_more(st: &mut State, h: TcpHandle, data: &[u8]) -> Result<usize, TcpError> {
        st.stack.tcp_send_more(h, data)
    }
    pub fn set_cork(st: &mut State, h: TcpHandle, on: bool) -> Result<(), TcpError> {
        st.stack.tcp_set_cork(h, on)
    }
    pub fn cork(st: &State, h: TcpHandle) -> Result<bool, TcpError> {
        st.stack.tcp().cork(h)
    }
}

/// Connections taken from a listener's queue in one go (one lock of the
/// stack for up to this many accepts); the extra ones wait in the
/// listener for the next `accept` calls.
pub const ACCEPT_BATCH: usize = 64;

/// Accepted connections taken from the stack in a batch and not yet handed
/// out (see [`ACCEPT_BATCH`]).
#[derive(Debug, Default)]
pub(crate) struct Batch(Mutex<std::collections::VecDeque<TcpHandle>>);

impl Batch {
    /// The next connection: one taken earlier, or a fresh batch from the
    /// stack (the first of it returned, the rest kept).
    pub(crate) fn accept(&self, st: &mut State, l: ListenerHandle) -> Result<TcpHandle, TcpError> {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = q.pop_front() {
            return Ok(h);
        }
        let first = api::accept(st, l)?;
        while q.len() < ACCEPT_BATCH - 1 {
            match api::accept(st, l) {
                Ok(h) => q.push_back(h),
                Err(_) => break,
            }
        }
        Ok(first)
    }

    /// Resets the connections never handed out (the listener closes; as
    /// Linux resets what waits in a closed listener's accept queue).
    pub(crate) fn abort_all(&self, st: &mut State, now: Instant) {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for h in q.drain(..) {
            api::abort(st, now, h);
        }
    }
}

fn deadline(nonblocking: bool, timeout: Option<Duration>) -> Option<std::time::Instant> {
    if nonblocking {
        Some(std::time::Instant::now())
    } else {
        timeout.map(|t| std::time::Instant::now() + t)
    }
}

fn would_block(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::WouldBlock, format!("{what} would block"))
}

/// What a connect attempt is doing now: done, failed, or still in flight.
pub(crate) fn connect_progress(st: &State, h: TcpHandle) -> Option<io::Result<()>> {
    match api::state(st, h) {
        TcpState::SynSent | TcpState::SynReceived => None,
        TcpState::Closed => Some(Err(api::error(st, h).unwrap_or(TcpError::Refused).into())),
        _ => match api::error(st, h) {
            Some(e) => Some(Err(e.into())),
            None => Some(Ok(())),
        },
    }
}

/// A TCP listening socket of a strata stack.
#[derive(Debug)]
pub struct TcpListener {
    rt: RuntimeHandle,
    l: ListenerHandle,
    local: SocketAddrV4,
    nonblocking: AtomicBool,
    batch: Batch,
}

impl TcpListener {
    /// Listens on `addr` (`0.0.0.0:port` for every local address), with
    /// the default queues ([`ListenOptions::default`]: 4096 and 4096).
    pub fn bind(rt: &RuntimeHandle, addr: impl Into<SocketAddr>) -> io::Result<TcpListener> {
        Self::bind_with(rt, addr, ListenOptions::default())
    }

    /// Listens on `addr` with chosen accept and SYN queue lengths.
    pub fn bind_with(
        rt: &RuntimeHandle,
        addr: impl Into<SocketAddr>,
        opts: ListenOptions,
    ) -> io::Result<TcpListener> {
        let local = v4(addr.into())?;
        if local.port() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "strata listeners need an explicit port",
            ));
        }
        let l = rt
            .inner
            .with_stack(|st, _| api::listen(st, local, opts))??;
        Ok(TcpListener {
            rt: rt.clone(),
            l,
            local,
            nonblocking: AtomicBool::new(false),
            batch: Batch::default(),
        })
    }

    /// The listening address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local.into())
    }

    /// Waits for the next established connection. Connections are taken
    /// from the stack up to [`ACCEPT_BATCH`] at a time.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let l = self.l;
        let nb = self.nonblocking.load(Ordering::Relaxed);
        let got = self
            .rt
            .inner
            .wait_on(WakeKey::Listener(l), deadline(nb, None), |st, _| match self
                .batch
                .accept(st, l)
            {
                Ok(h) => Some(Ok(h)),
                Err(TcpError::WouldBlock) => None,
                Err(e) => Some(Err(e)),
            })?
            .ok_or_else(|| would_block("accept"))??;
        let stream = TcpStream::from_handle(&self.rt, got);
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Makes `accept` return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.nonblocking.store(on, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn parts(&self) -> (&RuntimeHandle, ListenerHandle, &Batch) {
        (&self.rt, self.l, &self.batch)
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let l = self.l;
        let _ = self.rt.inner.with_stack(|st, now| {
            st.forget(WakeKey::Listener(l));
            self.batch.abort_all(st, now);
            api::close_listener(st, now, l)
        });
    }
}

/// Iterator over [`TcpListener::accept`] results.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

#[derive(Debug, Default)]
struct Opts {
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    nonblocking: bool,
    nodelay: bool,
}

/// A TCP connection of a strata stack.
#[derive(Debug)]
pub struct TcpStream {
    rt: RuntimeHandle,
    h: TcpHandle,
    opts: Mutex<Opts>,
    /// `shutdown(Read)` was called: reads return 0 from now on.
    read_shut: AtomicBool,
    /// `shutdown(Write)` was called: writes fail with `BrokenPipe`.
    write_shut: AtomicBool,
}

impl TcpStream {
    pub(crate) fn from_handle(rt: &RuntimeHandle, h: TcpHandle) -> TcpStream {
        TcpStream {
            rt: rt.clone(),
            h,
            opts: Mutex::new(Opts::default()),
            read_shut: AtomicBool::new(false),
            write_shut: AtomicBool::new(false),
        }
    }

    fn opts(&self) -> std::sync::MutexGuard<'_, Opts> {
        self.opts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a connection to `addr`, waiting as long as the stack keeps
    /// retrying its SYN.
    pub fn connect(rt: &RuntimeHandle, addr: impl Into<SocketAddr>) -> io::Result<TcpStream> {
        Self::connect_inner(rt, addr.into(), None)
    }

    /// Opens a connection to `addr`, giving up after `timeout`
    /// (`TimedOut`).
    pub fn connect_timeout(
        rt: &RuntimeHandle,
        addr: impl Into<SocketAddr>,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "zero timeout"));
        }
        Self::connect_inner(rt, addr.into(), Some(timeout))
    }

    fn connect_inner(
        rt: &RuntimeHandle,
        addr: SocketAddr,
        timeout: Option<Duration>,
    ) -> io::Result<TcpStream> {
        let remote = v4(addr)?;
        let h = rt
            .inner
            .with_stack(|st, now| api::connect(st, now, remote))??;
        // From here on the stream owns the handle: dropping it on failure
        // releases the connection in the stack.
        let stream = TcpStream::from_handle(rt, h);
        let done = rt
            .inner
            .wait_on(WakeKey::Tcp(h), deadline(false, timeout), |st, _| {
                connect_progress(st, h)
            })?;
        match done {
            Some(Ok(())) => Ok(stream),
            Some(Err(e)) => Err(e),
            None => {
                // RST the half-open attempt; the stream's drop then finds
                // the handle already released.
                let _ = rt.inner.with_stack(|st, now| api::abort(st, now, h));
                drop(stream);
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {remote} timed out"),
                ))
            }
        }
    }

    /// The stack handle of this connection.
    pub fn handle(&self) -> TcpHandle {
        self.h
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let h = self.h;
        Ok(self
            .rt
            .inner
            .with_stack(|st, _| api::remote_addr(st, h))??
            .into())
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let h = self.h;
        Ok(self
            .rt
            .inner
            .with_stack(|st, _| api::local_addr(st, h))??
            .into())
    }

    /// Closes the reading side, the writing side (a FIN follows the queued
    /// data), or both.
    ///
    /// As on Linux, shutting the reading side wakes a thread blocked in
    /// `read` on this socket, and that read and every later one return 0
    /// (end of stream): the usual way to stop a reader thread. A `write`
    /// after shutting the writing side, or blocked in it at that moment,
    /// fails with `BrokenPipe`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let h = self.h;
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.read_shut.store(true, Ordering::Release);
            // Wake readers (blocking and async): they look at the flag.
            self.rt.inner.wake_waiters(WakeKey::Tcp(h));
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            self.write_shut.store(true, Ordering::Release);
            // A writer blocked for room gets `BrokenPipe` at once.
            self.rt.inner.wake_waiters(WakeKey::Tcp(h));
            match self
                .rt
                .inner
                .with_stack(|st, now| api::shutdown_write(st, now, h))?
            {
                Ok(()) => {}
                // Already shut (FIN queued or sent): like Linux, not an error.
                Err(TcpError::InvalidState) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Turns Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        let h = self.h;
        self.rt
            .inner
            .with_stack(|st, _| api::set_nodelay(st, h, on))??;
        self.opts().nodelay = on;
        Ok(())
    }

    /// Whether Nagle's algorithm is off.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.opts().nodelay)
    }

    /// Writes `buf` as urgent data (RFC 9293 §3.8.5, RFC 6093): the bytes
    /// travel inline, in order, and the peer learns that the stream is
    /// urgent up to the last byte taken. Waits for buffer space like
    /// `write`. New protocols should not use urgent data (SHLD-13).
    pub fn write_urgent(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let dl = {
            let o = self.opts();
            deadline(o.nonblocking, o.write_timeout)
        };
        let h = self.h;
        self.rt
            .inner
            .wait_on(WakeKey::Tcp(h), dl, |st, _| {
                match st.stack.tcp_send_urgent(h, buf) {
                    Ok(n) => Some(Ok(n)),
                    Err(TcpError::WouldBlock) => None,
                    Err(e) => Some(Err(io::Error::from(e))),
                }
            })?
            .ok_or_else(|| would_block("write"))?
    }

    /// How many bytes, from the next `read`, are urgent: `Some(n)` while
    /// the peer's urgent mark lies ahead (RFC 9293 §3.8.5 MUST-33), `None`
    /// when no urgent data is pending.
    pub fn urgent_pending(&self) -> io::Result<Option<usize>> {
        let h = self.h;
        Ok(self
            .rt
            .inner
            .with_stack(|st, _| st.stack.tcp_urgent_pending(h))??)
    }

    /// Sets the Diffserv codepoint (0–63, the upper six bits of `IP_TOS`)
    /// of this connection's segments (RFC 9293 §3.9.1.9 MUST-48).
    pub fn set_dscp(&self, dscp: u8) -> io::Result<()> {
        let h = self.h;
        Ok(self
            .rt
            .inner
            .with_stack(|st, _| st.stack.tcp_set_dscp(h, dscp))??)
    }

    /// Sets the receive buffer limit (SO_RCVBUF): the window the peer is
    /// offered. See [`strata::transport::tcp::Tcp::set_buffer_limits`].
    pub fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        let h = self.h;
        Ok(self
            .rt
            .inner
            .with_stack(|st, _| st.stack.tcp_set_buffer_limits(h, Some(bytes), None))??)
    }

    /// The receive buffer limit in effect.
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        let h = self.h;
        Ok(self
            .rt
            .inner
            .with_stack(|st, _| st.stack.tcp().buffer_limits(h))??
            .0)
    }

    /// Sets the send buffer limit (SO_SNDBUF): how much the application
    /// may queue before `write` waits.
    pub fn set_send_buffer_size(&self, bytes: usize) -> io::Result<()> {
        let h = self.h;
        Ok(self
            .rt
            .inner
            .with_stack(|st, _| st.stack.tcp_set_buffer_limits(h, None, Some(bytes)))??)
    }

    /// The send buffer limit in effect.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        let h = self.h;
        Ok(self
            .rt
            .inner
            .with_stack(|st, _| st.stack.tcp().buffer_limits(h))??
            .1)
    }

    /// The connection's Diffserv codepoint.
    pub fn dscp(&self) -> io::Result<u8> {
        let h = self.h;
        Ok(self.rt.inner.with_stack(|st, _| st.stack.tcp().dscp(h))??)
    }

    /// How long `read` waits (`None`: forever); then `WouldBlock`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        if t == Some(Duration::ZERO) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "zero timeout"));
        }
        self.opts().read_timeout = t;
        Ok(())
    }

    /// How long `write` waits for buffer space (`None`: forever).
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        if t == Some(Duration::ZERO) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "zero timeout"));
        }
        self.opts().write_timeout = t;
        Ok(())
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.opts().read_timeout)
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.opts().write_timeout)
    }

    /// Makes reads and writes return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.opts().nonblocking = on;
        Ok(())
    }

    /// Corks (`true`) or uncorks the connection, as Linux's `TCP_CORK`:
    /// while corked only full-sized segments leave, so a header and a body
    /// written one after the other share segments; uncorking sends the
    /// rest. A corked partial segment leaves after one retransmission
    /// timeout at the latest (Linux: 200 ms).
    pub fn set_cork(&self, on: bool) -> io::Result<()> {
        let h = self.h;
        self.rt
            .inner
            .with_stack(|st, _| api::set_cork(st, h, on))??;
        Ok(())
    }

    /// Whether the connection is corked.
    pub fn cork(&self) -> io::Result<bool> {
        let h = self.h;
        Ok(self.rt.inner.with_stack(|st, _| api::cork(st, h))??)
    }

    /// Writes `buf` saying more data follows at once (Linux `MSG_MORE`):
    /// a final partial segment waits for the next write instead of
    /// leaving alone.
    pub fn write_more(&self, buf: &[u8]) -> io::Result<usize> {
        self.do_write_vectored(&[io::IoSlice::new(buf)], true)
    }

    /// Whether `shutdown(Read)` was called.
    pub(crate) fn read_is_shut(&self) -> bool {
        self.read_shut.load(Ordering::Acquire)
    }

    /// One non-blocking read attempt: `None` when it would block.
    pub(crate) fn try_read(&self, st: &mut State, buf: &mut [u8]) -> Option<io::Result<usize>> {
        if self.read_is_shut() {
            return Some(Ok(0));
        }
        match api::recv(st, Instant::ZERO, self.h, buf) {
            Ok(n) => Some(Ok(n)),
            Err(TcpError::WouldBlock) => None,
            Err(e) => Some(Err(io::Error::from(e))),
        }
    }

    /// One non-blocking write attempt: `None` when it would block.
    pub(crate) fn try_write(&self, st: &mut State, buf: &[u8]) -> Option<io::Result<usize>> {
        self.try_write_vectored(st, &[io::IoSlice::new(buf)], false)
    }

    /// One non-blocking attempt to write the slices in order, with one
    /// lock of the stack: no segment leaves between them, so a header and
    /// a body go out together in full-sized segments. All but the last
    /// slice are written with "more data follows" (and the last too with
    /// `more`). `None` when nothing could be written.
    pub(crate) fn try_write_vectored(
        &self,
        st: &mut State,
        bufs: &[io::IoSlice<'_>],
        more: bool,
    ) -> Option<io::Result<usize>> {
        if self.write_shut.load(Ordering::Acquire) {
            // std (Linux EPIPE): writing after one's own shutdown(Write).
            return Some(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the writing side was shut down",
            )));
        }
        if let Some(e) = st.device_error() {
            // Nothing written now could ever leave.
            return Some(Err(e));
        }
        let last = bufs.iter().rposition(|b| !b.is_empty())?;
        let mut total = 0;
        for (i, b) in bufs.iter().enumerate().take(last + 1) {
            if b.is_empty() {
                continue;
            }
            let r = if i < last || more {
                api::send_more(st, self.h, b)
            } else {
                api::send(st, Instant::ZERO, self.h, b)
            };
            match r {
                Ok(n) => {
                    total += n;
                    if n < b.len() {
                        break;
                    }
                }
                Err(TcpError::WouldBlock) => break,
                Err(e) if total == 0 => return Some(Err(io::Error::from(e))),
                Err(_) => break,
            }
        }
        if total == 0 {
            None
        } else {
            Some(Ok(total))
        }
    }

    fn do_write_vectored(&self, bufs: &[io::IoSlice<'_>], more: bool) -> io::Result<usize> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Ok(0);
        }
        let dl = {
            let o = self.opts();
            deadline(o.nonblocking, o.write_timeout)
        };
        self.rt
            .inner
            .wait_on(WakeKey::Tcp(self.h), dl, |st, _| {
                self.try_write_vectored(st, bufs, more)
            })?
            .ok_or_else(|| would_block("write"))?
    }

    fn do_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let dl = {
            let o = self.opts();
            deadline(o.nonblocking, o.read_timeout)
        };
        if self.read_is_shut() || buf.is_empty() {
            return Ok(0);
        }
        self.rt
            .inner
            .wait_on(WakeKey::Tcp(self.h), dl, |st, _| self.try_read(st, buf))?
            .ok_or_else(|| would_block("read"))?
    }

    fn do_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.do_write_vectored(&[io::IoSlice::new(buf)], false)
    }

    pub(crate) fn rt(&self) -> &RuntimeHandle {
        &self.rt
    }
}

/// `Read` and `Write` for the stream and for a shared reference to it
/// (as `std::net::TcpStream` has both: one thread reads while another
/// writes).
macro_rules! stream_io {
    ($($t:ty),*) => {$(
        impl Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.do_read(buf)
            }
        }

        impl Write for $t {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.do_write(buf)
            }
            /// All slices in one lock of the stack: they leave as one
            /// stream of full-sized segments (a header and its body
            /// together).
            fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
                self.do_write_vectored(bufs, false)
            }
            /// Bytes are in the stack once `write` returns; nothing to
            /// flush.
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
    )*};
}

stream_io!(TcpStream, &TcpStream);

impl Drop for TcpStream {
    /// Closes gracefully: queued data is still delivered, then FIN (or RST
    /// if received data was left unread, as Linux does).
    fn drop(&mut self) {
        let h = self.h;
        let _ = self.rt.inner.with_stack(|st, now| {
            st.forget(WakeKey::Tcp(h));
            api::close(st, now, h)
        });
    }
}

/// Registers a waker for events about connection `h`.
pub(crate) fn register_conn(st: &mut State, h: TcpHandle, w: &std::task::Waker) {
    st.register(WakeKey::Tcp(h), w);
}

/// Registers a waker for connections arriving on listener `l`.
pub(crate) fn register_listener(st: &mut State, l: ListenerHandle, w: &std::task::Waker) {
    st.register(WakeKey::Listener(l), w);
}
