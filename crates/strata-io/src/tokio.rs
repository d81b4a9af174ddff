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
