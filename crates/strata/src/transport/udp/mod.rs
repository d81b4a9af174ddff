//! UDP (RFC 768): datagram sockets and ephemeral ports.
//!
//! This module holds the socket table: bindings, the bounded receive
//! queues, pending errors, and the O(1) demultiplexer from (local address,
//! local port) to a socket. The [`Stack`](crate::stack::Stack) owns one and
//! drives it (`dispatch.rs`: datagrams in to their socket, datagrams out);
//! applications use the `udp_*` methods of the stack.

use crate::net::icmp::IcmpError;
use crate::transport::ports::SeededState;
use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::{HashMap, VecDeque};

mod dispatch;

/// A UDP socket inside a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UdpHandle {
    index: u32,
    generation: u32,
}

impl core::fmt::Display for UdpHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "udp#{}", self.index)
    }
}

/// Errors of UDP socket operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UdpError {
    /// The handle does not name an open socket.
    #[error("no such UDP socket")]
    InvalidHandle,
    /// Another socket is bound to this address and port.
    #[error("address {0} already in use")]
    AddrInUse(SocketAddrV4),
    /// The ephemeral range has no free port.
    #[error(transparent)]
    PortsExhausted(#[from] crate::transport::ports::PortsExhausted),
    /// `send` on a socket with no default peer.
    #[error("socket not connected")]
    NotConnected,
    /// Sending to a broadcast address needs `udp_set_broadcast(true)`
    /// (RFC 1122 §4.1.3.6 lets hosts refuse it by default).
    #[error("broadcast not enabled on this socket")]
    BroadcastNotAllowed,
    /// The datagram exceeds 65507 bytes (65535 minus IPv4 and UDP headers).
    #[error("datagram too large ({0} bytes)")]
    TooLarge(usize),
    /// The bound local address is not one of the stack's.
    #[error("address {0} is not assigned to this stack")]
    AddrNotAvailable(Ipv4Addr),
    /// No route to the destination.
    #[error("no route to {0}")]
    NoRoute(Ipv4Addr),
    /// The destination may not appear on a link (0/8, 127/8 without a
    /// loopback interface, multicast, class E; RFC 1122 §3.2.1.3).
    #[error("invalid destination {0}")]
    InvalidDestination(Ipv4Addr),
    /// An ICMP error came back for an earlier datagram (reported once).
    #[error("{0}")]
    Icmp(IcmpError),
    /// Don't-fragment is set and the datagram exceeds the first link's MTU.
    #[error("message too big for MTU {mtu}")]
    MessageTooBig {
        /// The MTU of the outgoing interface.
        mtu: usize,
    },
    /// The destination port is 0 (reserved, RFC 768).
    #[error("destination port 0")]
    PortZero,
}

/// Largest UDP payload in one IPv4 datagram.
pub const MAX_PAYLOAD: usize = 65535 - 20 - 8;

/// A datagram waiting in a socket's receive queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Sender.
    pub from: SocketAddrV4,
    /// The address it was sent to (ours, or a broadcast address).
    pub to: Ipv4Addr,
    /// The data.
    pub payload: Vec<u8>,
}

/// Counters of one socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpSocketStats {
    /// Datagrams queued for the application.
    pub received: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams dropped because the receive queue was full.
    pub dropped: u64,
    /// ICMP errors matched to this socket.
    pub errors: u64,
}

/// One socket.
#[derive(Debug)]
pub(crate) struct UdpSocket {
    pub(crate) local: SocketAddrV4,
    pub(crate) remote: Option<SocketAddrV4>,
    pub(crate) broadcast: bool,
    pub(crate) ttl: Option<u8>,
    pub(crate) dont_frag: bool,
    pub(crate) rx: VecDeque<Datagram>,
    /// Most datagrams queued.
    pub(crate) rx_limit: usize,
    /// Payload bytes queued.
    pub(crate) rx_bytes: usize,
    /// Most payload bytes queued (SO_RCVBUF; unlimited unless set).
    pub(crate) rx_byte_limit: usize,
    pub(crate) errors: VecDeque<IcmpError>,
    pub(crate) stats: UdpSocketStats,
    generation: u32,
}

/// The socket table.
#[derive(Debug)]
pub(crate) struct UdpSockets {
    slots: Vec<Option<UdpSocket>>,
    free: Vec<u32>,
    generations: Vec<u32>,
    /// (local address or 0.0.0.0, local port) → socket.
    by_local: HashMap<(Ipv4Addr, u16), UdpHandle, SeededState>,
    /// Number of bindings per port, for "is this port in use" in O(1).
    port_users: HashMap<u16, u32, SeededState>,
}

impl UdpSockets {
    #[cfg(test)]
    pub(crate) fn new(seed: u64) -> Self {
        Self::with_keys(&crate::secret::Keys::Seed(seed))
    }

    /// Socket tables keyed from `keys`.
    pub(crate) fn with_keys(keys: &crate::secret::Keys) -> Self {
        UdpSockets {
            slots: Vec::new(),
            free: Vec::new(),
            generations: Vec::new(),
            by_local: HashMap::with_hasher(keys.state(0x7564_7064_656d_7578)),
            port_users: HashMap::with_hasher(keys.state(0x7564_7070_6f72_7473)),
        }
    }

    /// True when some socket is bound to `port` (any address).
    pub(crate) fn port_in_use(&self, port: u16) -> bool {
        self.port_users.get(&port).is_some_and(|&n| n > 0)
    }

    /// True when `local` can be bound: no identical binding, and a wildcard
    /// binding conflicts with any binding of the port (and vice versa).
    pub(crate) fn can_bind(&self, local: SocketAddrV4) -> bool {
        if local.ip().is_unspecified() {
            !self.port_in_use(local.port())
        } else {
            !self.by_local.contains_key(&(*local.ip(), local.port()))
                && !self
                    .by_local
                    .contains_key(&(Ipv4Addr::UNSPECIFIED, local.port()))
        }
    }

    pub(crate) fn insert(&mut self, local: SocketAddrV4, rx_limit: usize) -> UdpHandle {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.generations.push(0);
                (self.slots.len() - 1) as u32
            }
        };
        let generation = self.generations[index as usize];
        let h = UdpHandle { index, generation };
        self.slots[index as usize] = Some(UdpSocket {
            local,
            remote: None,
            broadcast: false,
            ttl: None,
            dont_frag: false,
            rx: VecDeque::new(),
            rx_limit,
            rx_bytes: 0,
            rx_byte_limit: usize::MAX,
            errors: VecDeque::new(),
            stats: UdpSocketStats::default(),
            generation,
        });
        self.by_local.insert((*local.ip(), local.port()), h);
        *self.port_users.entry(local.port()).or_insert(0) += 1;
        h
    }

    pub(crate) fn get(&self, h: UdpHandle) -> Result<&UdpSocket, UdpError> {
        self.slots
            .get(h.index as usize)
            .and_then(Option::as_ref)
            .filter(|s| s.generation == h.generation)
            .ok_or(UdpError::InvalidHandle)
    }

    pub(crate) fn get_mut(&mut self, h: UdpHandle) -> Result<&mut UdpSocket, UdpError> {
        self.slots
            .get_mut(h.index as usize)
            .and_then(Option::as_mut)
            .filter(|s| s.generation == h.generation)
            .ok_or(UdpError::InvalidHandle)
    }

    /// Gives a wildcard-bound socket the local address `ip` (a connect
    /// fixing the source address). The port stays, so no other binding
    /// can hold `(ip, port)`: the wildcard blocked it.
    pub(crate) fn bind_address(&mut self, h: UdpHandle, ip: Ipv4Addr) -> Result<(), UdpError> {
        let s = self.get_mut(h)?;
        let old = s.local;
        if !old.ip().is_unspecified() {
            return Ok(());
        }
        s.local = SocketAddrV4::new(ip, old.port());
        self.by_local.remove(&(*old.ip(), old.port()));
        self.by_local.insert((ip, old.port()), h);
        Ok(())
    }

    pub(crate) fn remove(&mut self, h: UdpHandle) -> Result<UdpSocket, UdpError> {
        self.get(h)?;
        let s = self.slots[h.index as usize].take().expect("checked");
        self.by_local.remove(&(*s.local.ip(), s.local.port()));
        if let Some(n) = self.port_users.get_mut(&s.local.port()) {
            *n -= 1;
            if *n == 0 {
                self.port_users.remove(&s.local.port());
            }
        }
        self.generations[h.index as usize] = self.generations[h.index as usize].wrapping_add(1);
        self.free.push(h.index);
        Ok(s)
    }

    /// The socket for a datagram to `dst:port` from `src:src_port`: the
    /// specific binding first, then the wildcard one (O(1), two hash
    /// probes). A connected socket only accepts its peer.
    pub(crate) fn demux(&self, dst: Ipv4Addr, port: u16, src: SocketAddrV4) -> Option<UdpHandle> {
        let accept = |h: &UdpHandle| {
            self.get(*h)
                .map(|s| s.remote.is_none_or(|r| r == src))
                .unwrap_or(false)
        };
        self.by_local
            .get(&(dst, port))
            .filter(|h| accept(h))
            .or_else(|| {
                self.by_local
                    .get(&(Ipv4Addr::UNSPECIFIED, port))
                    .filter(|h| accept(h))
            })
            .copied()
    }

    /// The socket bound to exactly `local` (for matching ICMP errors): the
    /// specific binding first, then the wildcard one.
    pub(crate) fn by_local(&self, local: SocketAddrV4) -> Option<UdpHandle> {
        self.by_local
            .get(&(*local.ip(), local.port()))
            .or_else(|| self.by_local.get(&(Ipv4Addr::UNSPECIFIED, local.port())))
            .copied()
    }

    /// Number of open sockets.
    pub(crate) fn len(&self) -> usize {
        self.by_local.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(a: [u8; 4], p: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(a), p)
    }

    #[test]
    fn demux_prefers_specific_then_wildcard() {
        let mut t = UdpSockets::new(1);
        let wild = t.insert(sa([0, 0, 0, 0], 53), 4);
        assert!(
            !t.can_bind(sa([10, 0, 0, 1], 53)),
            "wildcard blocks specific"
        );
        t.remove(wild).unwrap();
        let spec = t.insert(sa([10, 0, 0, 1], 53), 4);
        assert!(
            !t.can_bind(sa([0, 0, 0, 0], 53)),
            "specific blocks wildcard"
        );
        assert!(t.can_bind(sa([10, 0, 0, 2], 53)));
        let other = t.insert(sa([10, 0, 0, 2], 53), 4);
        let from = sa([10, 0, 0, 9], 1000);
        assert_eq!(t.demux(Ipv4Addr::new(10, 0, 0, 1), 53, from), Some(spec));
        assert_eq!(t.demux(Ipv4Addr::new(10, 0, 0, 2), 53, from), Some(other));
        assert_eq!(t.demux(Ipv4Addr::new(10, 0, 0, 3), 53, from), None);
        assert_eq!(t.demux(Ipv4Addr::new(10, 0, 0, 1), 54, from), None);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn connected_socket_filters_peer_and_stale_handles_fail() {
        let mut t = UdpSockets::new(1);
        let h = t.insert(sa([0, 0, 0, 0], 7), 4);
        t.get_mut(h).unwrap().remote = Some(sa([10, 0, 0, 9], 99));
        let d = Ipv4Addr::new(10, 0, 0, 1);
        assert_eq!(t.demux(d, 7, sa([10, 0, 0, 9], 99)), Some(h));
        assert_eq!(t.demux(d, 7, sa([10, 0, 0, 9], 98)), None);
        t.remove(h).unwrap();
        assert!(!t.port_in_use(7));
        let h2 = t.insert(sa([0, 0, 0, 0], 8), 4);
        assert_eq!(
            t.get(h).unwrap_err(),
            UdpError::InvalidHandle,
            "old handle is dead"
        );
        assert!(t.get(h2).is_ok());
    }
}
