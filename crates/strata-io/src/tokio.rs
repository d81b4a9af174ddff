//! tokio sockets over a strata runtime: the strata I/O thread wakes the
//! task that waits on a socket when the stack reports an event for that
//! socket (no polling loops, no timers).
//!
//! Any tokio runtime works (current-thread or multi-thread): these sockets
//! do not use tokio's reactor.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;

use crate::runtime::RuntimeHandle;

/// An async UDP socket of a strata stack.
#[derive(Debug)]
pub struct UdpSocket {
    inner: crate::udp::UdpSocket,
}

impl UdpSocket {
    /// Binds to `addr` (see [`crate::udp::UdpSocket::bind`]).
    pub async fn bind(rt: &RuntimeHandle, addr: impl Into<SocketAddr>) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: crate::udp::UdpSocket::bind(rt, addr)?,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Sets the default peer.
    pub async fn connect(&self, to: impl Into<SocketAddr>) -> io::Result<()> {
        self.inner.connect(to)
    }

    /// Sends one datagram to `to` (UDP never waits for room: the frame is
    /// queued or dropped, as on a real NIC).
    pub async fn send_to(&self, buf: &[u8], to: impl Into<SocketAddr>) -> io::Result<usize> {
        self.inner.send_to(buf, to)
    }

    /// Sends one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.send(buf)
    }

    /// Waits for one datagram.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.inner.poll_recv_from(cx.waker(), buf)).await
    }

    /// Waits for one datagram from anyone.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }
}

use std::pin::Pin;
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use strata::time::Instant;
use strata::transport::tcp::TcpError;

use crate::runtime::State;
use crate::tcp::{api, connect_progress, register_conn, register_listener, ListenOptions};

/// Runs `f` with the stack locked: `Ready` with the result it gives, or
/// `Pending` when it gives none (it has registered the task's waker) —
/// unless the device has failed, when nothing will ever wake the task:
/// then `Ready` with the device's error.
fn poll_locked<T>(
    rt: &RuntimeHandle,
    f: impl FnOnce(&mut State, Instant) -> Option<io::Result<T>>,
) -> Poll<io::Result<T>> {
    let r = rt.inner.with_stack(|st, now| match f(st, now) {
        None => st.device_error().map(Err),
        r => r,
    });
    match r {
        Err(e) => Poll::Ready(Err(e)),
        Ok(None) => Poll::Pending,
        Ok(Some(r)) => Poll::Ready(r),
    }
}

/// Runs a socket call with the stack locked: `Ready` with its result, or
/// `Pending` when it would block, after `wait` has registered the task's
/// waker with the socket.
fn poll_call<T>(
    rt: &RuntimeHandle,
    call: impl FnOnce(&mut State, Instant) -> Result<T, TcpError>,
    wait: impl FnOnce(&mut State),
) -> Poll<io::Result<T>> {
    poll_locked(rt, |st, now| match call(st, now) {
        Err(TcpError::WouldBlock) => {
            wait(st);
            None
        }
        r => Some(r.map_err(io::Error::from)),
    })
}

/// An async TCP listener of a strata stack.
#[derive(Debug)]
pub struct TcpListener {
    inner: crate::tcp::TcpListener,
}

impl TcpListener {
    /// Listens on `addr` (`0.0.0.0:port` for every local address), with
    /// the default queues ([`ListenOptions::default`]).
    pub async fn bind(rt: &RuntimeHandle, addr: impl Into<SocketAddr>) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: crate::tcp::TcpListener::bind(rt, addr)?,
        })
    }

    /// Listens on `addr` with chosen accept and SYN queue lengths.
    pub async fn bind_with(
        rt: &RuntimeHandle,
        addr: impl Into<SocketAddr>,
        opts: ListenOptions,
    ) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: crate::tcp::TcpListener::bind_with(rt, addr, opts)?,
        })
    }

    /// The listening address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Waits for the next established connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (rt, l, batch) = self.inner.parts();
        let h = poll_fn(|cx| {
            poll_call(
                rt,
                |st, _| batch.accept(st, l),
                |st| register_listener(st, l, cx.waker()),
            )
        })
        .await?;
        let inner = crate::tcp::TcpStream::from_handle(rt, h);
        let peer = inner.peer_addr()?;
        Ok((TcpStream { inner }, peer))
    }
}

/// An async TCP connection of a strata stack: tokio's `AsyncRead` and
/// `AsyncWrite`, so hyper, tokio-util codecs and `tokio::io::copy` work
/// on it unchanged.
#[derive(Debug)]
pub struct TcpStream {
    inner: crate::tcp::TcpStream,
}

impl TcpStream {
    /// Opens a connection to `addr` (wrap in `tokio::time::timeout` to
    /// bound the wait).
    pub async fn connect(rt: &RuntimeHandle, addr: impl Into<SocketAddr>) -> io::Result<TcpStream> {
        let remote = crate::udp::v4(addr.into())?;
        let h = rt
            .inner
            .with_stack(|st, now| api::connect(st, now, remote))??;
        let inner = crate::tcp::TcpStream::from_handle(rt, h);
        poll_fn(|cx| {
            poll_locked(rt, |st, _| {
                let p = connect_progress(st, h);
                if p.is_none() {
                    register_conn(st, h, cx.waker());
                }
                p
            })
        })
        .await?;
        Ok(TcpStream { inner })
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Turns Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.inner.set_nodelay(on)
    }

    /// Corks or uncorks the connection (Linux `TCP_CORK`): see
    /// [`crate::tcp::TcpStream::set_cork`].
    pub fn set_cork(&self, on: bool) -> io::Result<()> {
        self.inner.set_cork(on)
    }

    /// The blocking socket underneath (same connection).
    pub fn into_std(self) -> crate::tcp::TcpStream {
        self.inner
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let h = self.inner.handle();
        let inner = &self.inner;
        poll_locked(inner.rt(), |st, _| {
            let r = inner.try_read(st, buf.initialize_unfilled());
            if r.is_none() {
                register_conn(st, h, cx.waker());
            }
            r
        })
        .map_ok(|n| buf.advance(n))
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let h = self.inner.handle();
        let inner = &self.inner;
        poll_locked(inner.rt(), |st, _| {
            let r = inner.try_write(st, data);
            if r.is_none() {
                register_conn(st, h, cx.waker());
            }
            r
        })
    }

    /// Every slice in one lock of the stack, so that hyper's header and
    /// body leave together in full-sized segments instead of the header
    /// as a small segment of its own.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        let h = self.inner.handle();
        let inner = &self.inner;
        poll_locked(inner.rt(), |st, _| {
            let r = inner.try_write_vectored(st, bufs, false);
            if r.is_none() {
                register_conn(st, h, cx.waker());
            }
            r
        })
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.inner.shutdown(std::net::Shutdown::Write))
    }
}
