//! One stack shard per device queue: a multi-queue TAP (`IFF_MULTI_QUEUE`,
//! [`TapDevice::open_queues`](crate::tap::TapDevice::open_queues)) read by
//! as many runtimes, each with its own stack, I/O thread and queue, so
//! that several connections use several cores.
//!
//! # Who owns a flow
//!
//! The shards share the interface's address and MAC; each TCP connection
//! lives in exactly one of them:
//!
//! - an outgoing connection in the shard it was opened on
//!   ([`MultiQueueHandle::connect`] deals them out in turn), with a local
//!   port from that shard's own slice of the ephemeral range, so two
//!   shards never pick the same 4-tuple;
//! - an incoming one in the shard its SYN is dealt to: every shard
//!   listens ([`MultiQueueListener`] accepts from all of them), and the
//!   SYNs of new connections are dealt to the listening shards in turn,
//!   whichever queue brought them.
//!
//! The kernel picks the queue of each frame it sends. Linux's TAP driver
//! (`tun_automq_select_queue`) sends a flow's frames to the queue that last
//! wrote frames of that flow, and a new flow's to a queue chosen by its
//! hash, so a shard that answers on its own queue keeps receiving its own
//! flows: the SYN-ACK the dealt shard writes on its queue moves the flow
//! there. (Left to the hash, four connections fell 3 to 1 on two queues
//! as often as 2 to 2, and one shard carried three quarters of the load.) The kernel forgets a flow after three idle seconds, and then a
//! frame can come in on another queue: each I/O thread therefore checks
//! every TCP frame it reads (its own connection? a SYN for a listener? a
//! port of another shard's slice? another shard's connection?) and hands
//! a frame of another shard to that shard's stack. ARP replies go to
//! every shard (each keeps its own cache); other ARP, and everything else
//! not TCP (ICMP, UDP), goes to shard 0, which also holds the loopback
//! interface: UDP sockets and `ping` use [`MultiQueueRuntime::handle`].

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use strata::transport::ports::PortRange;
use strata::transport::tcp::TcpError;

use crate::device::Device;
use crate::runtime::{thread_waker, Inner, Runtime, RuntimeConfig, RuntimeHandle, RuntimeStats};
use crate::tcp::{TcpListener, TcpStream};

/// The shards of a [`MultiQueueRuntime`], as each shard's I/O thread sees
/// them: its own index, all of them, and their slices of the ephemeral
/// port range.
pub(crate) struct ShardSet {
    pub(crate) index: usize,
    pub(crate) all: Vec<Weak<Inner>>,
    pub(crate) ports: Vec<PortRange>,
    /// The next shard a new connection's SYN is dealt to (shared by all
    /// shards).
    pub(crate) next_syn: Arc<AtomicUsize>,
}

/// Where a frame read on one queue belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Steer {
    /// The shard that read it.
    Local,
    /// Another shard.
    To(usize),
    /// Every shard (ARP replies).
    All,
    /// A TCP segment of no connection here, no SYN, no port of a slice:
    /// ask the other shards whether one has its connection.
    Ask,
    /// A SYN of no connection here: the shard that holds its connection
    /// if one does (a retransmitted SYN), else the next listening shard in
    /// turn ([`ShardSet::deal_syn`]).
    Syn,
}

impl ShardSet {
    /// The shard the next new connection goes to, in turn over all of
    /// them.
    pub(crate) fn deal_syn(&self) -> usize {
        self.next_syn.fetch_add(1, Ordering::Relaxed) % self.all.len().max(1)
    }

    /// Where `frame` (an Ethernet frame read on this shard's queue) goes,
    /// given `has_conn(local, remote)`: whether this shard's stack holds
    /// that connection.
    pub(crate) fn steer(
        &self,
        frame: &[u8],
        has_conn: impl Fn(std::net::SocketAddrV4, std::net::SocketAddrV4) -> bool,
    ) -> Steer {
        let to0 = if self.index == 0 {
            Steer::Local
        } else {
            Steer::To(0)
        };
        let Some(ethertype) = frame.get(12..14) else {
            return Steer::Local;
        };
        match u16::from_be_bytes([ethertype[0], ethertype[1]]) {
            // ARP: replies teach every shard's cache; a request is answered
            // by shard 0.
            0x0806 => {
                return match frame.get(20..22) {
                    Some([0, 2]) => Steer::All,
                    _ => to0,
                }
            }
            0x0800 => {}
            _ => return to0,
        }
        let ip = &frame[14..];
        let Some(&vihl) = ip.first() else {
            return to0;
        };
        let ihl = usize::from(vihl & 0x0f) * 4;
        if ip.len() < 20 || ihl < 20 || ip[9] != 6 {
            return to0;
        }
        // A fragment (MF or an offset): shard 0 reassembles.
        if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
            return to0;
        }
        let Some(tcp) = ip.get(ihl..ihl + 14) else {
            return to0;
        };
        let src = std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let dst = std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
        let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
        let local = std::net::SocketAddrV4::new(dst, dport);
        let remote = std::net::SocketAddrV4::new(src, sport);
        if has_conn(local, remote) {
            return Steer::Local;
        }
        let (syn, ack) = (tcp[13] & 0x02 != 0, tcp[13] & 0x10 != 0);
        if syn && !ack {
            // A new connection: dealt to a listening shard in turn.
            return Steer::Syn;
        }
        match self.ports.iter().position(|r| r.contains(dport)) {
            Some(k) if k == self.index => Steer::Local,
            Some(k) => Steer::To(k),
            None => Steer::Ask,
        }
    }
}

/// Splits `range` into `n` slices of (nearly) equal length.
fn split_ports(range: PortRange, n: usize) -> io::Result<Vec<PortRange>> {
    let len = range.len() as usize;
    if n == 0 || n > len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{n} shards cannot share {len} ephemeral ports"),
        ));
    }
    let mut out = Vec::with_capacity(n);
    let mut first = u32::from(range.first());
    for k in 0..n {
        let size = (len / n + usize::from(k < len % n)) as u32;
        let last = first + size - 1;
        out.push(PortRange::new(first as u16, last as u16).expect("a non-empty slice"));
        first = last + 1;
    }
    Ok(out)
}

/// Runtimes sharing one interface, one per device queue (see the
/// [module documentation](self)).
pub struct MultiQueueRuntime {
    shards: Vec<Runtime>,
    handle: MultiQueueHandle,
}

impl std::fmt::Debug for MultiQueueRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MultiQueueRuntime({} shards)", self.shards.len())
    }
}

impl MultiQueueRuntime {
    /// Starts one shard per device (the queues of one interface), each
    /// configured by `config` with its own slice of
    /// `config.stack.ephemeral_ports`. Shard 0 probes the address if
    /// `config` asks for it, and alone holds the loopback interface.
    pub fn new<D: Device>(devices: Vec<D>, config: RuntimeConfig) -> io::Result<MultiQueueRuntime> {
        let ports = split_ports(config.stack.ephemeral_ports, devices.len())?;
        let mut shards = Vec::with_capacity(devices.len());
        for (k, dev) in devices.into_iter().enumerate() {
            let mut c = config.clone();
            c.stack.ephemeral_ports = ports[k];
            c.stack.seed ^= (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            if k > 0 {
                // Shard 0 made sure of the address.
                c.probe_address = false;
                c.loopback = false;
            }
            shards.push(Runtime::new(dev, c)?);
        }
        let all: Vec<Weak<Inner>> = shards.iter().map(|r| Arc::downgrade(&r.inner)).collect();
        let next_syn = Arc::new(AtomicUsize::new(0));
        for (k, r) in shards.iter().enumerate() {
            r.inner.join_shards(ShardSet {
                index: k,
                all: all.clone(),
                ports: ports.clone(),
                next_syn: next_syn.clone(),
            });
        }
        let handle = MultiQueueHandle {
            shards: shards.iter().map(Runtime::handle).collect(),
            next: Arc::new(AtomicUsize::new(0)),
        };
        Ok(MultiQueueRuntime { shards, handle })
    }

    /// How many shards (queues) there are.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Shard `k`'s runtime.
    pub fn shard(&self, k: usize) -> &Runtime {
        &self.shards[k]
    }

    /// A handle for creating sockets on the shards.
    pub fn handle(&self) -> MultiQueueHandle {
        self.handle.clone()
    }

    /// Each shard's device counters.
    pub fn stats(&self) -> Vec<RuntimeStats> {
        self.shards.iter().map(Runtime::stats).collect()
    }
}

/// A cloneable handle to the shards of a [`MultiQueueRuntime`].
#[derive(Debug, Clone)]
pub struct MultiQueueHandle {
    shards: Vec<RuntimeHandle>,
    next: Arc<AtomicUsize>,
}

impl MultiQueueHandle {
    /// Shard `k`'s handle (shard 0's for UDP sockets and `ping`).
    pub fn shard(&self, k: usize) -> &RuntimeHandle {
        &self.shards[k]
    }

    /// Which shard holds connection `s` (`None`: a stream of another
    /// runtime).
    pub fn shard_of(&self, s: &TcpStream) -> Option<usize> {
        self.shards.iter().position(|h| h.same_runtime(s.rt()))
    }

    /// The shard the next outgoing connection goes to (in turn).
    fn next_shard(&self) -> &RuntimeHandle {
        let k = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        &self.shards[k]
    }

    /// Opens a connection to `addr` on the next shard in turn.
    pub fn connect(&self, addr: impl Into<SocketAddr>) -> io::Result<TcpStream> {
        TcpStream::connect(self.next_shard(), addr)
    }

    /// Opens a connection to `addr` on the next shard in turn, giving up
    /// after `timeout`.
    pub fn connect_timeout(
        &self,
        addr: impl Into<SocketAddr>,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        TcpStream::connect_timeout(self.next_shard(), addr, timeout)
    }

    /// Listens on `addr` on every shard.
    pub fn listen(&self, addr: impl Into<SocketAddr>) -> io::Result<MultiQueueListener> {
        let addr = addr.into();
        let listeners = self
            .shards
            .iter()
            .map(|h| TcpListener::bind(h, addr))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(MultiQueueListener {
            listeners,
            next: AtomicUsize::new(0),
            nonblocking: AtomicBool::new(false),
        })
    }
}

/// A listener on every shard: `accept` gives the next connection any of
/// them took.
#[derive(Debug)]
pub struct MultiQueueListener {
    listeners: Vec<TcpListener>,
    /// Where the next look starts, so no shard's queue starves.
    next: AtomicUsize,
    nonblocking: AtomicBool,
}

impl MultiQueueListener {
    /// The listening address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listeners[0].local_addr()
    }

    /// Makes `accept` return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.nonblocking.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// Waits for the next established connection on any shard.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let waker = thread_waker();
        let n = self.listeners.len();
        loop {
            let start = self.next.fetch_add(1, Ordering::Relaxed);
            for k in 0..n {
                let (rt, l, batch) = self.listeners[(start + k) % n].parts();
                // The waker is registered under the same lock as the
                // look, so a connection that arrives after it wakes this
                // thread (an unpark before the park ends it at once).
                let got = rt.inner.with_stack(|st, _| match batch.accept(st, l) {
                    Ok(h) => Some(Ok(h)),
                    Err(TcpError::WouldBlock) => match st.device_error() {
                        Some(e) => Some(Err(e)),
                        None => {
                            crate::tcp::register_listener(st, l, &waker);
                            None
                        }
                    },
                    Err(e) => Some(Err(io::Error::from(e))),
                })?;
                if let Some(h) = got {
                    let s = TcpStream::from_handle(rt, h?);
                    let peer = s.peer_addr()?;
                    return Ok((s, peer));
                }
            }
            if self.nonblocking.load(Ordering::Relaxed) {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "accept would block",
                ));
            }
            std::thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_split_into_disjoint_slices_that_cover_the_range() {
        let s = split_ports(PortRange::DYNAMIC, 3).unwrap();
        assert_eq!(s[0].first(), 49152);
        assert_eq!(s[2].last(), 65535);
        assert_eq!(
            s.iter().map(|r| r.len()).sum::<u32>(),
            PortRange::DYNAMIC.len()
        );
        for w in s.windows(2) {
            assert_eq!(w[0].last() + 1, w[1].first());
        }
        assert!(split_ports(PortRange::new(10, 11).unwrap(), 3).is_err());
        assert!(split_ports(PortRange::DYNAMIC, 0).is_err());
    }

    fn frame(ethertype: u16, ip: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(ip);
        f
    }

    /// An IPv4 header (no options) and the first 14 bytes of a TCP header.
    fn tcp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, flags: u8, frag: u16) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 54, 0, 0];
        ip.extend_from_slice(&frag.to_be_bytes());
        ip.extend_from_slice(&[64, 6, 0, 0]);
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        ip.extend_from_slice(&sport.to_be_bytes());
        ip.extend_from_slice(&dport.to_be_bytes());
        ip.extend_from_slice(&[0; 9]);
        ip.push(flags);
        ip.extend_from_slice(&[0; 6]);
        frame(0x0800, &ip)
    }

    #[test]
    fn frames_are_steered_to_the_shard_that_owns_their_flow() {
        let ports = split_ports(PortRange::DYNAMIC, 2).unwrap();
        let next_syn = Arc::new(AtomicUsize::new(0));
        let set = |index| ShardSet {
            index,
            all: vec![Weak::new(), Weak::new()],
            ports: ports.clone(),
            next_syn: next_syn.clone(),
        };
        let (k, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let none = |_, _| false;
        let all = |_, _| true;
        // A segment of a connection this shard holds stays here.
        assert_eq!(set(1).steer(&tcp(k, 80, s, 80, 0x10, 0), all), Steer::Local);
        // A SYN of a new connection is dealt out (by the I/O thread).
        assert_eq!(
            set(1).steer(&tcp(k, 4000, s, 80, 0x02, 0), none),
            Steer::Syn
        );
        // A SYN-ACK is no new connection.
        assert_ne!(
            set(1).steer(&tcp(k, 4000, s, 80, 0x12, 0), none),
            Steer::Syn
        );
        // Dealing goes round every shard in turn.
        let dealt: Vec<usize> = (0..5).map(|_| set(0).deal_syn()).collect();
        assert_eq!(dealt, [0, 1, 0, 1, 0]);
        // A segment to a port of shard 0's slice goes to shard 0, and one
        // of this shard's slice stays.
        let p0 = ports[0].first() + 7;
        let p1 = ports[1].first() + 7;
        assert_eq!(
            set(1).steer(&tcp(k, 80, s, p0, 0x12, 0), none),
            Steer::To(0)
        );
        assert_eq!(
            set(1).steer(&tcp(k, 80, s, p1, 0x10, 0), none),
            Steer::Local
        );
        // A segment of no known connection to a listener's port: ask.
        assert_eq!(
            set(1).steer(&tcp(k, 4000, s, 80, 0x10, 0), none),
            Steer::Ask
        );
        // Fragments, ICMP/UDP and ARP requests go to shard 0; ARP replies
        // to every shard.
        assert_eq!(
            set(1).steer(&tcp(k, 1, s, 80, 0x10, 0x2000), none),
            Steer::To(0)
        );
        assert_eq!(
            set(0).steer(&tcp(k, 1, s, 80, 0x10, 0x2000), none),
            Steer::Local
        );
        let mut icmp = tcp(k, 1, s, 80, 0, 0);
        icmp[14 + 9] = 1;
        assert_eq!(set(1).steer(&icmp, none), Steer::To(0));
        let mut arp = frame(0x0806, &[0; 28]);
        arp[21] = 1;
        assert_eq!(set(1).steer(&arp, none), Steer::To(0));
        arp[21] = 2;
        assert_eq!(set(1).steer(&arp, none), Steer::All);
        // Short or odd frames never panic.
        for n in 0..60 {
            let f = tcp(k, 80, s, 80, 0x10, 0);
            let _ = set(1).steer(&f[..n.min(f.len())], none);
        }
        assert_eq!(set(1).steer(&frame(0x86dd, &[]), none), Steer::To(0));
    }
}
