//! The application-layer servers of [`strata::app`] on a runtime's UDP
//! sockets, each on a thread of its own that ends when its
//! [`ServiceThread`] guard is dropped.
//!
//! The protocol logic is the sans-IO state machine (DNS, DHCP); this module only reads
//! datagrams, hands them to it and sends back what it returns.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use strata::app::dhcp::server::Server as DhcpServer;
use strata::app::dns::server::Server as DnsServer;
use strata::link::IfaceId;

use crate::runtime::RuntimeHandle;
use crate::udp::{any, UdpSocket};

/// How often a service thread looks at its stop flag.
const POLL: Duration = Duration::from_millis(50);

/// A running service; dropping it stops the thread and closes its socket.
#[derive(Debug)]
pub struct ServiceThread {
    stop: Arc<AtomicBool>,
    join: Option<JoinHandle<()>>,
    local: SocketAddr,
}

impl ServiceThread {
    pub(crate) fn new(stop: Arc<AtomicBool>, join: JoinHandle<()>, local: SocketAddr) -> Self {
        ServiceThread {
            stop,
            join: Some(join),
            local,
        }
    }

    /// The address the service listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for ServiceThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

/// Runs `serve` for each datagram on `port` until stopped (or the device
/// fails); what it returns is sent back to the datagram's source.
fn udp_service(
    rt: &RuntimeHandle,
    port: u16,
    name: &'static str,
    mut serve: impl FnMut(&[u8], SocketAddr) -> Option<(Vec<u8>, SocketAddr)> + Send + 'static,
) -> io::Result<ServiceThread> {
    let sock = UdpSocket::bind(rt, any(port))?;
    sock.set_read_timeout(Some(POLL))?;
    sock.set_broadcast(true)?;
    let local = sock.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let join = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let mut buf = vec![0u8; 65_535];
            while !flag.load(Ordering::Relaxed) {
                match sock.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        if let Some((reply, to)) = serve(&buf[..n], from) {
                            if let Err(e) = sock.send_to(&reply, to) {
                                tracing::debug!(target: "strata::app", %to, "{name} reply not sent: {e}");
                            }
                        }
                    }
                    // The device is gone, or the runtime with it.
                    Err(e) if runtime_gone(&e) => break,
                    // A timeout, or an ICMP error for an earlier reply: not
                    // the service's to act on.
                    Err(_) => {}
                }
            }
        })?;
    Ok(ServiceThread {
        stop,
        join: Some(join),
        local,
    })
}

/// Serves DNS (RFC 1035) on UDP port 53 of `rt` with `server`.
pub fn serve_dns(rt: &RuntimeHandle, server: Arc<Mutex<DnsServer>>) -> io::Result<ServiceThread> {
    udp_service(rt, strata::app::dns::PORT, "strata-dns", move |q, from| {
        let reply = server.lock().unwrap_or_else(|e| e.into_inner()).answer(q)?;
        Some((reply, from))
    })
}

/// Serves DHCP (RFC 2131) on UDP port 67 of `rt` with `server`. Replies to
/// clients without an address are broadcast out of the interface that
/// holds the server's address, from that address (the server identifier).
pub fn serve_dhcp(rt: &RuntimeHandle, server: Arc<Mutex<DhcpServer>>) -> io::Result<ServiceThread> {
    let sock = UdpSocket::bind(rt, any(strata::app::dhcp::SERVER_PORT))?;
    sock.set_read_timeout(Some(POLL))?;
    sock.set_broadcast(true)?;
    let local = sock.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let rt = rt.clone();
    let join = std::thread::Builder::new()
        .name("strata-dhcp".into())
        .spawn(move || {
            let mut buf = vec![0u8; 65_535];
            while !flag.load(Ordering::Relaxed) {
                let n = match sock.recv_from(&mut buf) {
                    Ok((n, _)) => n,
                    Err(e) if runtime_gone(&e) => break,
                    Err(_) => continue,
                };
                let h = sock.handle();
                let sent = rt.with_stack(|stack, now| {
                    let mut srv = server.lock().unwrap_or_else(|e| e.into_inner());
                    let Some(r) = srv.handle(now, &buf[..n]) else {
                        return Ok(());
                    };
                    let src = srv.config().server.address();
                    if r.to.ip().is_broadcast() {
                        let iface = (0..stack.interface_count())
                            .map(IfaceId)
                            .find(|&i| stack.addresses(i).iter().any(|c| c.address() == src))
                            .unwrap_or(IfaceId(0));
                        stack.udp_send_on(now, h, iface, src, r.to, &r.payload)
                    } else {
                        stack.udp_send_to(now, h, r.to, &r.payload)
                    }
                });
                if let Ok(Err(e)) = sent {
                    tracing::debug!(target: "strata::app", "DHCP reply not sent: {e}");
                }
            }
        })?;
    Ok(ServiceThread {
        stop,
        join: Some(join),
        local,
    })
}

/// Whether a socket call failed because the device is gone, or the
/// runtime with it: a service thread then ends.
fn runtime_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NetworkDown | io::ErrorKind::NotConnected
    )
}
