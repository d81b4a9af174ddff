//! Blocking UDP sockets over a strata [`Runtime`](crate::Runtime), shaped
//! like `std::net::UdpSocket`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use strata::transport::udp::{UdpError, UdpHandle};

use crate::runtime::{RuntimeHandle, WakeKey};

/// Maps a stack UDP error onto the `std::io` kind an application expects.
pub(crate) fn udp_error(e: UdpError) -> io::Error {
    use io::ErrorKind as K;
    let kind = match &e {
        UdpError::InvalidHandle => K::NotConnected,
        UdpError::AddrInUse(_) => K::AddrInUse,
        UdpError::PortsExhausted(_) => K::AddrNotAvailable,
        UdpError::NotConnected => K::NotConnected,
        UdpError::BroadcastNotAllowed => K::PermissionDenied,
        UdpError::TooLarge(_) => K::InvalidInput,
        UdpError::AddrNotAvailable(_) => K::AddrNotAvailable,
        UdpError::NoRoute(_) => K::NetworkUnreachable,
        UdpError::Icmp(err) => {
            use strata::net::icmp::IcmpErrorKind as I;
            match err.kind {
                I::PortUnreachable => K::ConnectionRefused,
                I::NetUnreachable => K::NetworkUnreachable,
                I::HostUnreachable => K::HostUnreachable,
                _ => K::Other,
            }
        }
        UdpError::PortZero => K::InvalidInput,
        #[allow(unreachable_patterns)]
        _ => K::Other,
    };
    io::Error::new(kind, e)
}

/// Only IPv4 exists in strata.
pub(crate) fn v4(addr: SocketAddr) -> io::Result<SocketAddrV4> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "strata speaks IPv4 only",
        )),
    }
}

/// A UDP socket of a strata stack.
#[derive(Debug)]
pub struct UdpSocket {
    rt: RuntimeHandle,
    h: UdpHandle,
    /// (read timeout, non-blocking): settable through `&self`, as in `std`.
    opts: std::sync::Mutex<(Option<Duration>, bool)>,
}

impl UdpSocket {
    /// Binds to `addr` (`0.0.0.0` for any local address; port 0 picks an
    /// ephemeral port).
    pub fn bind(rt: &RuntimeHandle, addr: impl Into<SocketAddr>) -> io::Result<UdpSocket> {
        let addr = v4(addr.into())?;
        let ip = Some(*addr.ip()).filter(|i| !i.is_unspecified());
        let h = rt
            .inner
            .with_stack(|st, _| st.stack.udp_bind(ip, addr.port()))?
            .map_err(udp_error)?;
        Ok(UdpSocket {
            rt: rt.clone(),
            h,
            opts: std::sync::Mutex::new((None, false)),
        })
    }

    /// The stack handle of this socket.
    pub fn handle(&self) -> UdpHandle {
        self.h
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let a = self
            .rt
            .inner
            .with_stack(|st, _| st.stack.udp_local_addr(self.h))?
            .map_err(udp_error)?;
        Ok(a.into())
    }

    /// Sends one datagram to `to`.
    pub fn send_to(&self, buf: &[u8], to: impl Into<SocketAddr>) -> io::Result<usize> {
        let to = v4(to.into())?;
        self.rt
            .inner
            .with_stack(|st, now| match st.device_error() {
                Some(e) => Err(e),
                None => st
                    .stack
                    .udp_send_to(now, self.h, to, buf)
                    .map_err(udp_error),
            })??;
        Ok(buf.len())
    }

    /// Sets the default peer: `send` goes there.
    pub fn connect(&self, to: impl Into<SocketAddr>) -> io::Result<()> {
        let to = v4(to.into())?;
        self.rt
            .inner
            .with_stack(|st, _| st.stack.udp_connect(self.h, to))?
            .map_err(udp_error)
    }

    /// Sends one datagram to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.rt
            .inner
            .with_stack(|st, now| match st.device_error() {
                Some(e) => Err(e),
                None => st.stack.udp_send(now, self.h, buf).map_err(udp_error),
            })??;
        Ok(buf.len())
    }

    /// Receives one datagram; a longer one is truncated to `buf` (the rest
    /// is discarded, as with `std`). Blocks unless non-blocking, up to the
    /// read timeout (then `WouldBlock`, like `std` on Linux).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (timeout, nonblocking) = *self.opts.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = if nonblocking {
            Some(std::time::Instant::now())
        } else {
            timeout.map(|t| std::time::Instant::now() + t)
        };
        let h = self.h;
        let got = self
            .rt
            .inner
            .wait_for(deadline, |st, _| match st.stack.udp_recv_from(h) {
                Ok(Some(d)) => Some(Ok(d)),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            })?;
        match got {
            Some(Ok(d)) => {
                let n = d.payload.len().min(buf.len());
                buf[..n].copy_from_slice(&d.payload[..n]);
                Ok((n, SocketAddr::V4(d.from)))
            }
            Some(Err(e)) => Err(udp_error(e)),
            None => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "no datagram before the timeout",
            )),
        }
    }

    /// Receives one datagram from anyone (see [`UdpSocket::recv_from`]).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    /// Sets how long `recv*` blocks (`None`: forever). A zero duration is
    /// refused, as with `std`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        if t == Some(Duration::ZERO) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "zero timeout"));
        }
        self.opts.lock().unwrap_or_else(|e| e.into_inner()).0 = t;
        Ok(())
    }

    /// Makes `recv*` return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.opts.lock().unwrap_or_else(|e| e.into_inner()).1 = on;
        Ok(())
    }

    /// Allows sending to broadcast addresses.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.rt
            .inner
            .with_stack(|st, _| st.stack.udp_set_broadcast(self.h, on))?
            .map_err(udp_error)
    }

    /// Polls for a datagram without blocking, registering `waker` for the
    /// next one (the async socket's building block).
    pub(crate) fn poll_recv_from(
        &self,
        waker: &std::task::Waker,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<(usize, SocketAddr)>> {
        use std::task::Poll;
        let h = self.h;
        let r = self
            .rt
            .inner
            .with_stack(|st, _| match st.stack.udp_recv_from(h) {
                Ok(Some(d)) => Some(Ok(d)),
                Ok(None) => match st.device_error() {
                    // Nothing will ever arrive: fail instead of waiting.
                    Some(e) => Some(Err(Err(e))),
                    None => {
                        st.register(WakeKey::Udp(h), waker);
                        None
                    }
                },
                Err(e) => Some(Err(Ok(e))),
            });
        match r {
            Err(e) => Poll::Ready(Err(e)),
            Ok(None) => Poll::Pending,
            Ok(Some(Err(Ok(e)))) => Poll::Ready(Err(udp_error(e))),
            Ok(Some(Err(Err(e)))) => Poll::Ready(Err(e)),
            Ok(Some(Ok(d))) => {
                let n = d.payload.len().min(buf.len());
                buf[..n].copy_from_slice(&d.payload[..n]);
                Poll::Ready(Ok((n, SocketAddr::V4(d.from))))
            }
        }
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        let h = self.h;
        let _ = self.rt.inner.with_stack(|st, _| {
            st.forget(WakeKey::Udp(h));
            st.stack.udp_close(h)
        });
    }
}

/// `0.0.0.0:port`, for binding to any local address.
pub fn any(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
}
