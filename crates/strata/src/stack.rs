//! The stack: ties the layers together; the public entry point.
//!
//! A [`Stack`] is a value with no thread, clock or device. It follows the
//! quinn-proto rhythm (DESIGN.md): four kinds of methods —
//!
//! - **handlers** for what arrives: [`Stack::receive`] (one Ethernet frame)
//!   and [`Stack::handle_timeout`];
//! - **mutators** for what the application asks: interfaces, addresses,
//!   routes, [`Stack::ping`], the `udp_*` socket calls;
//! - **polls** for what the caller must do next: [`Stack::poll_transmit`]
//!   (write the next frame into a buffer), [`Stack::poll_timeout`] (when to
//!   call `handle_timeout`), [`Stack::poll_event`];
//! - **getters** (`&self`): [`Stack::stats`], sockets, ARP and routes.
//!
//! After any handler or mutator, the driver drains `poll_transmit` until it
//! returns `None`, drains `poll_event`, and re-reads `poll_timeout`. A
//! driver with room for several frames (a ring of buffers) drains with
//! [`Stack::poll_transmit_burst`] instead: the same frames in the same
//! order, with the per-frame queue, route and timer work done once per run
//! of segments.
//!
//! ```
//! use strata::stack::{Stack, StackConfig, Event};
//! use strata::time::Instant;
//! use strata::wire::{MacAddr, ip::Ipv4Cidr};
//! use core::net::Ipv4Addr;
//!
//! let mut a = Stack::new(StackConfig { seed: 1, ..StackConfig::default() });
//! let mut b = Stack::new(StackConfig { seed: 2, ..StackConfig::default() });
//! let ia = a.add_interface(MacAddr([2, 0, 0, 0, 0, 1]), 1500);
//! let ib = b.add_interface(MacAddr([2, 0, 0, 0, 0, 2]), 1500);
//! a.add_address(ia, Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap()).unwrap();
//! b.add_address(ib, Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 2), 24).unwrap()).unwrap();
//! let now = Instant::ZERO;
//! a.ping(now, Ipv4Addr::new(10, 0, 0, 2), 1, 1, b"hi").unwrap();
//! // A wire between the two stacks: move frames until both are quiet.
//! let mut buf = [0u8; 1514];
//! loop {
//!     let mut moved = false;
//!     while let Some((_, n)) = a.poll_transmit(now, &mut buf) { b.receive(now, ib, &buf[..n]); moved = true; }
//!     while let Some((_, n)) = b.poll_transmit(now, &mut buf) { a.receive(now, ia, &buf[..n]); moved = true; }
//!     if !moved { break; }
//! }
//! assert!(matches!(a.poll_event(), Some(Event::EchoReply { seq: 1, .. })));
//! ```

use crate::link::arp::{ArpCache, ArpConfig, NeighborState};
use crate::link::ethernet::{is_whole_tcp_v4, TxFrame};
use crate::link::interface::{is_broadcast_on, is_local, Interface};
use crate::link::probe::AddressProbe;
use crate::link::IfaceId;
use crate::net::egress::{Egress, RouteCache, TcpPoll};
use crate::net::frag::{FragConfig, Reassembler};
use crate::net::icmp::{ErrorRateLimiter, IcmpError};
use crate::net::ident::IdentGenerator;
use crate::net::martian::Arrival;
use crate::net::nat::{Nat, NatConfig};
use crate::net::route::{Route, RouteKind, RoutingTable};
use crate::phy::{DeviceCaps, FrameSink, Offloads, RxChecksum, RxMeta, TxMeta};
use crate::secret::Keys;
use crate::time::{Duration, Instant};
use crate::transport::ports::{EphemeralPorts, PortRange};
use crate::transport::tcp::{
    ListenerHandle, State as TcpState, Tcp, TcpConfig, TcpError, TcpEvent, TcpHandle, TcpStats,
};
use crate::transport::udp::{Datagram, UdpError, UdpHandle, UdpSocketStats, UdpSockets};
use crate::wire::icmpv4::Icmpv4Repr;
use crate::wire::ip::Ipv4Cidr;
use crate::wire::MacAddr;
use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::{BTreeMap, VecDeque};

pub use crate::stats::{
    ArpStats, FragStats, IcmpCounts, IcmpStats, IpDrops, IpStats, LinkStats, Stats, TcpIpStats,
    UdpStats,
};

/// Settings of a stack.
///
/// # Seed or secret
///
/// Every choice an outsider must not predict — ISNs (RFC 6528), SYN
/// cookies (RFC 4987), ephemeral ports (RFC 6056), IPv4 Identification
/// (RFC 7739), the keys of the socket tables — is keyed from one source
/// ([`crate::secret`]):
///
/// - with [`StackConfig::secret`] set, from that 128-bit secret. The
///   runtime (`strata-io`) draws it from the operating system's CSPRNG
///   (`getrandom`) for every stack on a real device, so two runs, or two
///   hosts on the same address, share nothing an attacker could learn;
/// - without it, from [`StackConfig::seed`] alone. The simulator and the
///   tests do this: the same seed gives the same ISNs, ports and
///   identifications, so a run (and its capture) replays byte for byte.
///   A seeded stack on a real network is predictable by anyone who knows
///   or guesses the seed.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Seed of every random choice (ephemeral ports, IP identification,
    /// hash keys, ISNs) when no [`StackConfig::secret`] is given, and of
    /// the timing jitter that needs no secrecy: the same seed gives the
    /// same behaviour.
    pub seed: u64,
    /// A secret from the operating system that keys ISNs, SYN cookies,
    /// ports, IP Identification and hash tables instead of the seed (see
    /// above). `None` by default (reproducible).
    pub secret: Option<crate::secret::StackSecret>,
    /// TTL of datagrams this stack originates (RFC 1700 recommends 64).
    pub default_ttl: u8,
    /// ARP cache tunables.
    pub arp: ArpConfig,
    /// Reassembly limits.
    pub frag: FragConfig,
    /// Ephemeral port range for UDP (and TCP).
    pub ephemeral_ports: PortRange,
    /// Datagrams a UDP socket queues for the application before dropping.
    pub udp_rx_queue: usize,
    /// Frames waiting for `poll_transmit` before new ones are dropped.
    pub tx_queue_limit: usize,
    /// Outstanding echo requests remembered for RTT measurement.
    pub max_pings: usize,
    /// ICMP error messages sent per second to any one destination at most,
    /// with bursts of up to this many (RFC 1812 §4.3.2.8 token bucket per
    /// destination); 0 disables the limit.
    pub icmp_error_rate: u32,
    /// ICMP error messages sent per second in all (burst as many), except
    /// "fragmentation needed", which only its destination's bucket limits
    /// (so floods cannot starve path MTU discovery); 0 disables it.
    pub icmp_error_global_rate: u32,
    /// The TCP engine's settings.
    pub tcp: TcpConfig,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            seed: 0,
            secret: None,
            default_ttl: 64,
            arp: ArpConfig::default(),
            frag: FragConfig::default(),
            ephemeral_ports: PortRange::DYNAMIC,
            udp_rx_queue: 64,
            tx_queue_limit: 4096,
            max_pings: 1024,
            icmp_error_rate: 100,
            icmp_error_global_rate: 1000,
            tcp: TcpConfig::default(),
        }
    }
}

/// Errors of configuration calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    /// No interface with this id.
    #[error("no interface {0}")]
    UnknownInterface(IfaceId),
    /// The address cannot be assigned (unspecified, broadcast, multicast).
    #[error("address {0} cannot be assigned to an interface")]
    InvalidAddress(Ipv4Addr),
    /// The address is already assigned.
    #[error("address {0} already assigned")]
    AddressExists(Ipv4Addr),
}

/// Errors of sending (ping, UDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No route matches the destination.
    #[error("no route to {0}")]
    NoRoute(Ipv4Addr),
    /// The outgoing interface has no IPv4 address.
    #[error("interface {0} has no address")]
    NoSourceAddress(IfaceId),
    /// The datagram does not fit in 65535 bytes.
    #[error("datagram too large")]
    TooLarge,
    /// The destination may not appear on a link (0/8, 127/8 without a
    /// loopback interface, multicast, class E; RFC 1122 §3.2.1.3).
    #[error("invalid destination {0}")]
    InvalidDestination(Ipv4Addr),
    /// The datagram would leave as a link-layer broadcast, which this
    /// message may not (an echo reply or an ICMP error, RFC 1122 §3.2.2).
    #[error("broadcast egress refused for {0}")]
    Broadcast(Ipv4Addr),
}

/// Something the application should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Another station claims one of our addresses (RFC 5227 §2.4).
    AddressConflict {
        /// Our interface that saw it.
        iface: IfaceId,
        /// The address in dispute.
        addr: Ipv4Addr,
        /// The other station's MAC.
        mac: MacAddr,
    },
    /// An echo reply matched an outstanding [`Stack::ping`].
    EchoReply {
        /// Who answered.
        from: Ipv4Addr,
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
        /// Round-trip time (send call to reply arrival).
        rtt: Duration,
        /// TTL of the reply.
        ttl: u8,
        /// Echo data length.
        len: usize,
    },
    /// An ICMP error (or local ARP failure) came back for an echo request.
    EchoError {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
        /// The error.
        error: IcmpError,
    },
    /// A UDP socket's receive queue became non-empty.
    UdpReadable(UdpHandle),
    /// An ICMP error was matched to a UDP socket; `udp_recv_from` returns it.
    UdpError {
        /// The socket.
        handle: UdpHandle,
        /// The error.
        error: IcmpError,
    },
    /// Something happened on a TCP connection or listener.
    Tcp(TcpEvent),
}

/// MTU of the loopback interface (the largest IPv4 datagram, so nothing
/// looped back is ever fragmented).
const LOOPBACK_MTU: usize = 65535;

/// A sans-IO IPv4 host or router.
#[derive(Debug)]
pub struct Stack {
    pub(crate) config: StackConfig,
    pub(crate) ifaces: Vec<Interface>,
    pub(crate) routes: RoutingTable,
    /// Bumped by every change to interfaces, addresses or routes; a
    /// [`RouteCache`] from another version is stale.
    pub(crate) config_version: u64,
    pub(crate) route_cache: Option<RouteCache>,
    pub(crate) forwarding: bool,
    /// Address and port translation on the forwarding path, when on.
    pub(crate) nat: Option<Nat>,
    pub(crate) reasm: Reassembler,
    pub(crate) tx: VecDeque<TxFrame>,
    /// Datagrams to one of our own addresses, delivered on the next
    /// `poll_transmit` without touching a link.
    pub(crate) loopback: VecDeque<(IfaceId, Vec<u8>)>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) udp: UdpSockets,
    pub(crate) ports: EphemeralPorts,
    /// IP Identification values (RFC 7739 §5.3, per destination).
    pub(crate) idents: IdentGenerator,
    /// Outstanding echo requests: (ident, seq) → (destination, sent at).
    pub(crate) pings: BTreeMap<(u16, u16), (Ipv4Addr, Instant)>,
    pub(crate) tcp: Tcp,
    /// ICMP error token buckets (per destination, and a global ceiling).
    pub(crate) icmp_limit: ErrorRateLimiter,
    /// RFC 5227 probes and announcements in progress.
    pub(crate) probes: Vec<(IfaceId, AddressProbe)>,
    /// Key and counter of the random delays of address probing.
    pub(crate) jitter_key: crate::transport::ports::SeededState,
    pub(crate) jitter_n: u64,
    /// The frame being received is one whose TCP checksum the device
    /// vouched for ([`Stack::receive_meta`]).
    pub(crate) rx_trusted: bool,
    /// Segments of a super-segment finished in software, waiting for
    /// [`Stack::poll_transmit`] (a caller that takes no [`TxMeta`]).
    pub(crate) split: VecDeque<(IfaceId, Vec<u8>)>,
    pub(crate) stats: Stats,
}

impl Stack {
    /// A stack with no interfaces.
    pub fn new(config: StackConfig) -> Self {
        let keys = match config.secret {
            Some(s) => Keys::Secret(s),
            None => Keys::Seed(config.seed),
        };
        let tcp_keys = match keys {
            Keys::Seed(seed) => Keys::Seed(seed ^ 0x7463_7073_6565_6421),
            k => k,
        };
        let tcp = Tcp::with_keys(config.tcp.clone(), &tcp_keys);
        Stack {
            tcp,
            probes: Vec::new(),
            jitter_key: keys.state(0x6172_7070_726f_6265),
            jitter_n: 0,
            icmp_limit: ErrorRateLimiter::with_key(
                config.icmp_error_rate,
                config.icmp_error_global_rate,
                keys.state(0x6963_6d70_7261_7465),
            ),
            ifaces: Vec::new(),
            routes: RoutingTable::new(),
            config_version: 0,
            route_cache: None,
            forwarding: false,
            nat: None,
            reasm: Reassembler::new(config.frag),
            config: config.clone(),
            tx: VecDeque::new(),
            loopback: VecDeque::new(),
            events: VecDeque::new(),
            udp: UdpSockets::with_keys(&keys),
            ports: EphemeralPorts::with_keys(config.ephemeral_ports, &keys),
            idents: IdentGenerator::with_keys(&keys),
            pings: BTreeMap::new(),
            rx_trusted: false,
            split: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    // ----- configuration (mutators) -----

    /// Adds an Ethernet interface with this MAC and MTU (the largest IP
    /// datagram its link carries).
    pub fn add_interface(&mut self, mac: MacAddr, mtu: usize) -> IfaceId {
        self.config_version += 1;
        self.ifaces.push(Interface {
            mac,
            mtu: mtu.max(crate::net::frag::MIN_MTU),
            offloads: Offloads::default(),
            addrs: Vec::new(),
            loopback: false,
            arp: ArpCache::new(self.config.arp),
            defended: BTreeMap::new(),
        });
        self.refresh_segment_offload();
        IfaceId(self.ifaces.len() - 1)
    }

    /// Tells the stack what the device of `iface` can do: its MTU, and the
    /// offloads it takes (TCP super-segments it cuts itself, checksums it
    /// completes or has verified). Frames of an offloading interface then
    /// come with a [`TxMeta`] from [`Stack::poll_transmit_meta`], and
    /// [`Stack::receive_meta`] honours what the device says of a frame's
    /// checksum. TCP sends super-segments only while every non-loopback
    /// interface takes them.
    pub fn set_device_caps(&mut self, iface: IfaceId, caps: DeviceCaps) {
        if let Some(i) = self.ifaces.get_mut(iface.0) {
            if !i.loopback {
                i.mtu = caps.mtu.max(crate::net::frag::MIN_MTU);
                i.offloads = caps.offloads;
                self.config_version += 1;
            }
        }
        self.refresh_segment_offload();
    }

    /// What [`Stack::set_device_caps`] said of `iface` (the plain defaults
    /// otherwise).
    pub fn device_caps(&self, iface: IfaceId) -> Option<DeviceCaps> {
        self.ifaces.get(iface.0).map(|i| DeviceCaps {
            mtu: i.mtu,
            offloads: i.offloads,
        })
    }

    /// The largest TCP payload of one segment: what the smallest TSO limit
    /// of the (non-loopback) interfaces leaves after the longest IPv4 and
    /// TCP headers; 0 (MSS-sized segments) when one interface has none.
    fn refresh_segment_offload(&mut self) {
        let mut burst: Option<usize> = None;
        for i in self.ifaces.iter().filter(|i| !i.loopback) {
            let room = i.offloads.tso_max.map_or(0, |m| {
                m.min(crate::phy::MAX_TSO_DATAGRAM).saturating_sub(
                    crate::wire::ipv4::HEADER_LEN + crate::wire::tcp::MAX_HEADER_LEN,
                )
            });
            burst = Some(burst.map_or(room, |b| b.min(room)));
        }
        self.tcp.set_segment_offload(burst.unwrap_or(0));
    }

    /// Adds the loopback interface (once; a second call returns the same
    /// id): it owns 127.0.0.0/8 (RFC 1122 §3.2.1.3 (g), RFC 5735 §3), with
    /// 127.0.0.1 as its address and a connected route, so a host can talk
    /// to itself. Datagrams routed to it never reach a link: they come back
    /// in through the next [`Stack::poll_transmit`], marked as looped back
    /// (ingress accepts loopback addresses only with that mark).
    pub fn add_loopback(&mut self) -> IfaceId {
        if let Some(lo) = self.loopback_iface() {
            return lo;
        }
        self.config_version += 1;
        let id = IfaceId(self.ifaces.len());
        let cidr = Ipv4Cidr::new(Ipv4Addr::LOCALHOST, 8).expect("/8 is a valid prefix");
        self.ifaces.push(Interface {
            mac: MacAddr::UNSPECIFIED,
            mtu: LOOPBACK_MTU,
            offloads: Offloads::default(),
            addrs: vec![cidr],
            loopback: true,
            arp: ArpCache::new(self.config.arp),
            defended: BTreeMap::new(),
        });
        self.routes.insert(Route {
            prefix: cidr,
            gateway: None,
            iface: id,
            kind: RouteKind::Connected,
        });
        id
    }

    /// The loopback interface, if [`Stack::add_loopback`] added one.
    pub fn loopback_iface(&self) -> Option<IfaceId> {
        self.ifaces.iter().position(|i| i.loopback).map(IfaceId)
    }

    /// Assigns `cidr` (address and prefix) to `iface` at once, without
    /// probing: adds the connected route and broadcasts a gratuitous ARP
    /// announcement (RFC 5227 §2.3) so neighbours update their caches and a
    /// holder of the same address reveals itself (reported as
    /// [`Event::AddressConflict`]). This is the explicit opt-out of RFC 5227
    /// probing, for links where the address is known to be free because
    /// the caller chose every address on them (the simulator's topologies,
    /// tests, benchmarks); on a real link RFC 5227 §2.1 requires
    /// [`Stack::probe_address`], which `strata_io::Runtime` uses by default.
    pub fn add_address(&mut self, iface: IfaceId, cidr: Ipv4Cidr) -> Result<(), StackError> {
        let mac = self.assign_address(iface, cidr)?;
        self.announce(iface, mac, cidr.address());
        Ok(())
    }

    /// Assigns `cidr` to `iface` as RFC 5227 §2.1 requires before an
    /// address is used: it stays tentative (not a source, not answered for,
    /// see [`Stack::is_tentative`]) while three ARP probes go out over
    /// about five seconds of `handle_timeout` calls; if no other station
    /// claims it, it is assigned and announced twice (§2.3). A conflict
    /// abandons it with [`Event::AddressConflict`].
    pub fn probe_address(
        &mut self,
        now: Instant,
        iface: IfaceId,
        cidr: Ipv4Cidr,
    ) -> Result<(), StackError> {
        self.check_new_address(iface, cidr.address())?;
        let jitter = self.jitter();
        self.probes
            .push((iface, AddressProbe::new(now, cidr, jitter)));
        Ok(())
    }

    /// True while `addr` is being probed (RFC 5227 §2.1) and not yet usable.
    pub fn is_tentative(&self, addr: Ipv4Addr) -> bool {
        self.probes
            .iter()
            .any(|(_, p)| p.is_tentative() && p.address() == addr)
    }

    fn check_new_address(&self, iface: IfaceId, addr: Ipv4Addr) -> Result<(), StackError> {
        if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() {
            return Err(StackError::InvalidAddress(addr));
        }
        if self.is_local_addr(addr) || self.is_tentative(addr) {
            return Err(StackError::AddressExists(addr));
        }
        self.iface(iface)?;
        Ok(())
    }

    /// A random value for probe delays (a keyed hash of a counter).
    pub(crate) fn jitter(&mut self) -> u64 {
        use core::hash::{BuildHasher, Hasher};
        self.jitter_n += 1;
        let mut h = self.jitter_key.build_hasher();
        h.write(&self.jitter_n.to_le_bytes());
        h.finish()
    }

    /// Puts the address and its connected route in place; returns the
    /// interface's MAC.
    pub(crate) fn assign_address(
        &mut self,
        iface: IfaceId,
        cidr: Ipv4Cidr,
    ) -> Result<MacAddr, StackError> {
        let addr = cidr.address();
        self.check_new_address(iface, addr)?;
        let ifc = self
            .ifaces
            .get_mut(iface.0)
            .ok_or(StackError::UnknownInterface(iface))?;
        ifc.addrs.push(cidr);
        let mac = ifc.mac;
        self.config_version += 1;
        if cidr.prefix_len() < 32 {
            self.routes.insert(Route {
                prefix: cidr,
                gateway: None,
                iface,
                kind: RouteKind::Connected,
            });
        }
        Ok(mac)
    }

    /// Takes `addr` off `iface` (a DHCP lease that ended): its connected
    /// route goes unless another address of the interface has the same
    /// prefix, and so do routes through gateways that were reachable only
    /// through it. Connections using it fail by themselves.
    pub fn remove_address(&mut self, iface: IfaceId, addr: Ipv4Addr) -> Result<(), StackError> {
        let ifc = self
            .ifaces
            .get_mut(iface.0)
            .ok_or(StackError::UnknownInterface(iface))?;
        let pos = ifc
            .addrs
            .iter()
            .position(|c| c.address() == addr)
            .ok_or(StackError::InvalidAddress(addr))?;
        let cidr = ifc.addrs.remove(pos);
        let net = cidr.trunc();
        let still = ifc.addrs.iter().any(|c| c.trunc() == net);
        self.config_version += 1;
        if !still && cidr.prefix_len() < 32 {
            let stale: Vec<Ipv4Cidr> = self
                .routes
                .iter()
                .filter(|r| {
                    r.iface == iface
                        && (r.prefix == net && r.gateway.is_none()
                            || r.gateway.is_some_and(|g| net.contains(g)))
                })
                .map(|r| r.prefix)
                .collect();
            for p in stale {
                self.routes.remove(p);
            }
        }
        Ok(())
    }

    /// Adds a static route to `prefix` via `gateway` (or directly
    /// connected when `None`) on `iface`.
    pub fn add_route(
        &mut self,
        prefix: Ipv4Cidr,
        gateway: Option<Ipv4Addr>,
        iface: IfaceId,
    ) -> Result<(), StackError> {
        self.iface(iface)?;
        self.config_version += 1;
        self.routes.insert(Route {
            prefix,
            gateway,
            iface,
            kind: RouteKind::Static,
        });
        Ok(())
    }

    /// Sets the default route via `gateway`; the interface is the one whose
    /// connected prefix contains the gateway.
    pub fn set_default_gateway(&mut self, gateway: Ipv4Addr) -> Result<(), SendError> {
        let iface = self
            .routes
            .lookup(gateway)
            .filter(|r| r.gateway.is_none())
            .map(|r| r.iface)
            .ok_or(SendError::NoRoute(gateway))?;
        self.config_version += 1;
        self.routes.set_default_gateway(gateway, iface);
        Ok(())
    }

    /// Router mode: forward datagrams not addressed to us (RFC 1812).
    pub fn set_forwarding(&mut self, on: bool) {
        self.forwarding = on;
    }

    /// Router mode with address and port translation (NAPT, RFC 3022) on
    /// `outside`: datagrams forwarded out of it leave from its (first)
    /// address, through mappings made as they go ([`crate::net::nat`] has
    /// the behaviour: RFC 4787, RFC 5382, RFC 5508). Turns forwarding on.
    pub fn enable_nat(&mut self, outside: IfaceId, config: NatConfig) -> Result<(), StackError> {
        self.iface(outside)?;
        self.forwarding = true;
        self.nat = Some(Nat::new(outside, config));
        Ok(())
    }

    /// The NAT table, when [`Stack::enable_nat`] turned it on.
    pub fn nat(&self) -> Option<&Nat> {
        self.nat.as_ref()
    }

    // ----- getters -----

    /// True in router mode.
    pub fn forwarding(&self) -> bool {
        self.forwarding
    }

    /// Number of interfaces.
    pub fn interface_count(&self) -> usize {
        self.ifaces.len()
    }

    /// MAC of an interface.
    pub fn mac(&self, iface: IfaceId) -> Option<MacAddr> {
        self.ifaces.get(iface.0).map(|i| i.mac)
    }

    /// MTU of an interface.
    pub fn mtu(&self, iface: IfaceId) -> Option<usize> {
        self.ifaces.get(iface.0).map(|i| i.mtu)
    }

    /// Addresses of an interface.
    pub fn addresses(&self, iface: IfaceId) -> &[Ipv4Cidr] {
        self.ifaces.get(iface.0).map_or(&[], |i| &i.addrs)
    }

    /// Bytes held by incomplete reassemblies.
    pub fn reassembly_memory(&self) -> usize {
        self.reasm.memory()
    }

    /// Reassembly buffers held (incomplete datagrams and discard markers).
    pub fn reassembly_buffers(&self) -> usize {
        self.reasm.pending()
    }

    /// Number of open UDP sockets.
    pub fn udp_socket_count(&self) -> usize {
        self.udp.len()
    }

    /// The routing table.
    pub fn routes(&self) -> &RoutingTable {
        &self.routes
    }

    /// Bytes of datagrams waiting for ARP resolution on an interface.
    pub fn arp_queued_bytes(&self, iface: IfaceId) -> usize {
        self.ifaces.get(iface.0).map_or(0, |i| i.arp.queued_bytes())
    }

    /// The ARP cache of an interface: `(ip, mac, state)` in address order.
    pub fn arp_entries(&self, iface: IfaceId) -> Vec<(Ipv4Addr, MacAddr, NeighborState)> {
        self.ifaces
            .get(iface.0)
            .map(|i| i.arp.entries().collect())
            .unwrap_or_default()
    }

    /// All counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        for i in &self.ifaces {
            let c = i.arp.stats();
            s.arp.hits += c.hits;
            s.arp.misses += c.misses;
            s.arp.queue_drops += c.queue_drops + c.table_full_drops;
            s.arp.failures += c.failures;
        }
        s.frag.reassembly = self.reasm.stats();
        s
    }

    /// True when `ip` is assigned to one of our interfaces (with a
    /// loopback interface, every address in 127.0.0.0/8 is ours).
    pub fn is_local_addr(&self, ip: Ipv4Addr) -> bool {
        is_local(&self.ifaces, ip)
    }

    fn iface(&self, id: IfaceId) -> Result<&Interface, StackError> {
        self.ifaces
            .get(id.0)
            .ok_or(StackError::UnknownInterface(id))
    }

    // ----- handlers -----

    /// [`Stack::receive`] with what the device knows of the frame: when the
    /// interface's [`Offloads::rx_checksum`] is on, a TCP segment the
    /// device verified, or whose checksum a local sender left partial
    /// (it crossed no wire), skips the checksum check. A partial checksum
    /// on anything else (another protocol, a fragment, a datagram this
    /// stack forwards) is completed first, so nothing partial goes on.
    pub fn receive_meta(&mut self, now: Instant, iface: IfaceId, frame: &[u8], meta: RxMeta) {
        let trusted = self
            .ifaces
            .get(iface.0)
            .is_some_and(|i| i.offloads.rx_checksum);
        let tcp_local = trusted && !self.forwarding && is_whole_tcp_v4(frame);
        match meta.checksum {
            RxChecksum::Unknown => self.receive(now, iface, frame),
            RxChecksum::Verified | RxChecksum::Partial(_) if tcp_local => {
                self.rx_trusted = true;
                self.receive(now, iface, frame);
                self.rx_trusted = false;
            }
            RxChecksum::Verified => self.receive(now, iface, frame),
            RxChecksum::Partial(c) => {
                let mut copy = frame.to_vec();
                if crate::phy::complete_checksum(&mut copy, c).is_err() {
                    self.stats.link.malformed += 1;
                    return;
                }
                self.receive(now, iface, &copy);
            }
        }
    }

    /// Hands the stack one Ethernet frame received on `iface`. It climbs
    /// the layers as their folders are laid out: Ethernet
    /// (`link/ethernet.rs`) → ARP (`link/neighbor.rs`) or IPv4
    /// (`net/ingress.rs`, forwarding in `net/forward.rs`) → ICMP
    /// (`net/icmp_path.rs`), UDP (`transport/udp/dispatch.rs`) or TCP
    /// (`transport/tcp/ingress.rs`).
    pub fn receive(&mut self, now: Instant, iface: IfaceId, frame: &[u8]) {
        self.ingress_ethernet(now, iface, frame);
    }

    // ----- polls -----

    /// Writes the next outbound frame into `buf` and returns the interface
    /// to send it on and its length; `None` when there is nothing to send.
    /// Frames are padded to the Ethernet minimum of 60 bytes. `buf` should
    /// hold the largest MTU plus 14 bytes; a frame that does not fit is
    /// dropped and counted.
    ///
    /// Every frame is finished: on an interface with offloads
    /// ([`Stack::set_device_caps`]) what the device would have done is done
    /// here (checksums completed, super-segments cut). A driver whose
    /// device takes offloaded frames calls [`Stack::poll_transmit_meta`].
    /// A burst of one: [`Stack::poll_transmit_burst`] gives the same frames
    /// in the same order, several per call.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(IfaceId, usize)> {
        let mut one = OneFrame { buf, sent: None };
        self.transmit_burst(now, &mut one, true);
        one.sent.map(|t| (t.iface, t.len))
    }

    /// Like [`Stack::poll_transmit`], for a device that takes offloaded
    /// frames: the frame may be a TCP super-segment (up to the interface's
    /// [`Offloads::tso_max`]; `buf` must hold that plus 14 bytes) or carry
    /// a partial checksum, as its [`TxMeta`] says (such a frame is not
    /// padded: the checksum covers it to its end). Frames of interfaces
    /// without offloads come plain.
    pub fn poll_transmit_meta(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let mut one = OneFrame { buf, sent: None };
        self.transmit_burst(now, &mut one, false);
        one.sent
    }

    /// Writes every frame there is to send (or as many as `sink` takes)
    /// into the sink's buffers, finished as [`Stack::poll_transmit`]
    /// finishes them, in the order repeated calls of `poll_transmit` would
    /// give them; returns how many. Queues, route and next hop are looked
    /// at once per run of TCP segments of one connection, and the
    /// connection's timers re-armed once, not once per frame.
    pub fn poll_transmit_burst(&mut self, now: Instant, sink: &mut impl FrameSink) -> usize {
        self.transmit_burst(now, sink, true)
    }

    /// [`Stack::poll_transmit_burst`] for a device that takes offloaded
    /// frames: each frame comes with its [`TxMeta`], as from
    /// [`Stack::poll_transmit_meta`].
    pub fn poll_transmit_burst_meta(&mut self, now: Instant, sink: &mut impl FrameSink) -> usize {
        self.transmit_burst(now, sink, false)
    }

    /// The transmit path of every poll: leftovers of a cut super-segment,
    /// then what loops back, the frame queue (ARP, ICMP, UDP, fragments),
    /// and TCP segments written straight into the sink's buffers
    /// (`net/egress.rs`). `finished`: offloads are done in software.
    fn transmit_burst(&mut self, now: Instant, sink: &mut impl FrameSink, finished: bool) -> usize {
        let mut n = 0;
        loop {
            // Segments of a super-segment cut in software (or left over
            // from `poll_transmit` when a driver mixes the two).
            while !self.split.is_empty() {
                let Some(buf) = sink.buffer() else {
                    return n;
                };
                let Some((iface, f)) = self.split.pop_front() else {
                    break;
                };
                if buf.len() < f.len() {
                    self.stats.link.tx_buffer_too_small += 1;
                    continue;
                }
                buf[..f.len()].copy_from_slice(&f);
                sink.send(Transmit {
                    iface,
                    len: f.len(),
                    meta: TxMeta::default(),
                });
                n += 1;
            }
            // Loopback first: what it produces (replies) may go anywhere.
            // Each round handles what was queued when it started, so a
            // datagram bouncing between our own sockets cannot spin here.
            for _ in 0..self.loopback.len() {
                if let Some((iface, d)) = self.loopback.pop_front() {
                    self.ingress_ipv4(now, iface, &d, false, Arrival::Loopback);
                }
            }
            while !self.tx.is_empty() {
                let Some(buf) = sink.buffer() else {
                    return n;
                };
                let Some(f) = self.tx.pop_front() else {
                    break;
                };
                if let Some((iface, len)) = self.write_frame(&f, buf) {
                    sink.send(Transmit {
                        iface,
                        len,
                        meta: TxMeta::default(),
                    });
                    n += 1;
                }
            }
            if sink.buffer().is_none() {
                return n;
            }
            // TCP segments go straight into the sink's buffers when the
            // next hop's MAC is known and no fragmentation is needed;
            // otherwise they take the general path (ARP queue, fragments)
            // and come out of `tx` on the next round (`net/egress.rs`).
            if self.poll_tcp_segments(now, sink, finished, &mut n) == TcpPoll::Drained
                && self.loopback.is_empty()
                && self.tx.is_empty()
                && self.split.is_empty()
            {
                return n;
            }
        }
    }

    /// When [`Stack::handle_timeout`] next has work (ARP retries and
    /// expiry, reassembly timeouts).
    pub fn poll_timeout(&self) -> Option<Instant> {
        // Called after every poll: plain comparisons, no iterator chain.
        let mut t = earlier(self.tcp.poll_timeout(), self.reasm.poll_timeout());
        for i in &self.ifaces {
            t = earlier(t, i.arp.poll_timeout());
        }
        for (_, p) in &self.probes {
            t = earlier(t, p.poll_timeout());
        }
        if let Some(n) = &self.nat {
            t = earlier(t, n.poll_timeout());
        }
        t
    }

    /// Runs the timers due at `now`. Each part (TCP, every ARP cache,
    /// reassembly) runs only when its own deadline has come, so a TCP
    /// timer does not make the stack sweep its ARP caches.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        if due(self.tcp.poll_timeout()) {
            self.tcp.handle_timeout(now);
            while let Some((src, dst)) = self.tcp.poll_negative_advice() {
                self.negative_advice(now, src, dst);
            }
        }
        self.arp_timeouts(now);
        self.run_probes(now);
        if let Some(n) = self.nat.as_mut() {
            if due(n.poll_timeout()) {
                n.handle_timeout(now);
            }
        }
        self.reassembly_timeouts(now);
    }

    /// The next event for the application.
    ///
    /// Call until `None` after every handler and mutator; with nothing
    /// queued it costs two comparisons.
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        if !self.tcp.has_events() {
            return None;
        }
        self.tcp.poll_event().map(Event::Tcp)
    }

    // ----- ICMP echo -----

    /// Sends an echo request (RFC 792) to `dst`; the reply comes back as
    /// [`Event::EchoReply`] with its round-trip time, an error as
    /// [`Event::EchoError`].
    pub fn ping(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        ident: u16,
        seq: u16,
        payload: &[u8],
    ) -> Result<(), SendError> {
        self.ping_with_ttl(now, dst, ident, seq, payload, None)
    }

    /// [`Stack::ping`] with an explicit TTL (for ICMP traceroute).
    pub fn ping_with_ttl(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        ident: u16,
        seq: u16,
        payload: &[u8],
        ttl: Option<u8>,
    ) -> Result<(), SendError> {
        let msg = Icmpv4Repr::EchoRequest {
            ident,
            seq_no: seq,
            data: payload,
        };
        self.send_icmp(now, None, dst, &msg, ttl)?;
        if self.pings.len() >= self.config.max_pings {
            if let Some(k) = self
                .pings
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| *k)
            {
                self.pings.remove(&k);
            }
        }
        self.pings.insert((ident, seq), (dst, now));
        Ok(())
    }

    // ----- UDP sockets -----

    /// Opens a UDP socket bound to `addr` (one of ours, or any when `None`)
    /// and `port` (0: an ephemeral port, RFC 6056).
    pub fn udp_bind(&mut self, addr: Option<Ipv4Addr>, port: u16) -> Result<UdpHandle, UdpError> {
        let ip = addr.unwrap_or(Ipv4Addr::UNSPECIFIED);
        if !ip.is_unspecified() && !self.is_local_addr(ip) {
            return Err(UdpError::AddrNotAvailable(ip));
        }
        let port = if port == 0 {
            let udp = &self.udp;
            // RFC 6056 §3.3.1: random selection for a socket with no peer.
            self.ports
                .allocate_random(|p| !udp.can_bind(SocketAddrV4::new(ip, p)))?
        } else {
            port
        };
        let local = SocketAddrV4::new(ip, port);
        if !self.udp.can_bind(local) {
            return Err(UdpError::AddrInUse(local));
        }
        Ok(self.udp.insert(local, self.config.udp_rx_queue))
    }

    /// Sets the default peer of a socket: `udp_send` goes there, and only
    /// its datagrams are received.
    /// A socket bound to the wildcard address takes the source address
    /// the route to `remote` picks (RFC 1122 §3.3.4.3), as a kernel's
    /// connect does: `udp_local_addr` then tells it, and datagrams to our
    /// other addresses no longer reach the socket. With no route yet it
    /// stays on the wildcard.
    pub fn udp_connect(&mut self, h: UdpHandle, remote: SocketAddrV4) -> Result<(), UdpError> {
        let local = self.udp.get(h)?.local;
        if local.ip().is_unspecified() {
            if let Ok(eg) = self.route(None, *remote.ip()) {
                self.udp.bind_address(h, eg.src)?;
            }
        }
        self.udp.get_mut(h)?.remote = Some(remote);
        Ok(())
    }

    /// Allows sending to broadcast addresses (SO_BROADCAST).
    pub fn udp_set_broadcast(&mut self, h: UdpHandle, on: bool) -> Result<(), UdpError> {
        self.udp.get_mut(h)?.broadcast = on;
        Ok(())
    }

    /// TTL of datagrams sent from the socket (`None`: the stack default).
    pub fn udp_set_ttl(&mut self, h: UdpHandle, ttl: Option<u8>) -> Result<(), UdpError> {
        self.udp.get_mut(h)?.ttl = ttl;
        Ok(())
    }

    /// Sets Don't Fragment on datagrams from the socket (for path MTU
    /// discovery, RFC 1191): routers answer "fragmentation needed" instead
    /// of fragmenting.
    pub fn udp_set_dont_fragment(&mut self, h: UdpHandle, on: bool) -> Result<(), UdpError> {
        self.udp.get_mut(h)?.dont_frag = on;
        Ok(())
    }

    /// The socket's local address (port chosen even for an ephemeral bind).
    pub fn udp_local_addr(&self, h: UdpHandle) -> Result<SocketAddrV4, UdpError> {
        Ok(self.udp.get(h)?.local)
    }

    /// Counters of one socket.
    pub fn udp_socket_stats(&self, h: UdpHandle) -> Result<UdpSocketStats, UdpError> {
        Ok(self.udp.get(h)?.stats)
    }

    /// Closes a socket; queued datagrams are discarded.
    pub fn udp_close(&mut self, h: UdpHandle) -> Result<(), UdpError> {
        self.udp.remove(h).map(|_| ())
    }

    /// Sends to the connected peer.
    pub fn udp_send(&mut self, now: Instant, h: UdpHandle, payload: &[u8]) -> Result<(), UdpError> {
        let to = self.udp.get(h)?.remote.ok_or(UdpError::NotConnected)?;
        self.udp_send_to(now, h, to, payload)
    }

    /// Sends one datagram to `to`.
    pub fn udp_send_to(
        &mut self,
        now: Instant,
        h: UdpHandle,
        to: SocketAddrV4,
        payload: &[u8],
    ) -> Result<(), UdpError> {
        let local = self.udp.get(h)?.local;
        let dst = *to.ip();
        let bound = Some(*local.ip()).filter(|i| !i.is_unspecified());
        let eg = self.route(bound, dst).map_err(|e| match e {
            SendError::NoRoute(d) => UdpError::NoRoute(d),
            SendError::InvalidDestination(d) => UdpError::InvalidDestination(d),
            _ => UdpError::NoRoute(dst),
        })?;
        self.udp_emit(now, h, &eg, to, payload)
    }

    /// Sends one datagram to `to` out of `iface` with source address `src`,
    /// as `IP_PKTINFO` does on a BSD socket. `src` is one of the
    /// interface's addresses, or 0.0.0.0 on a host that has none yet (RFC
    /// 1122 §3.2.1.3 (a): "this host on this network", a source only while
    /// it learns its address; RFC 2131 §4.1: a DHCP client's messages
    /// before it has a lease "must have the source address field in the IP
    /// header set to 0"). `to` must be the limited broadcast or on the
    /// interface's link: nothing is routed. A DHCP server uses it to answer
    /// on the interface of its subnet.
    pub fn udp_send_on(
        &mut self,
        now: Instant,
        h: UdpHandle,
        iface: IfaceId,
        src: Ipv4Addr,
        to: SocketAddrV4,
        payload: &[u8],
    ) -> Result<(), UdpError> {
        self.udp.get(h)?;
        let dst = *to.ip();
        let ifc = self.ifaces.get(iface.0).ok_or(UdpError::NoRoute(dst))?;
        if !src.is_unspecified() && !ifc.addrs.iter().any(|c| c.address() == src) {
            return Err(UdpError::AddrNotAvailable(src));
        }
        if !(dst.is_broadcast() || ifc.addrs.iter().any(|c| c.contains(dst))) {
            return Err(UdpError::NoRoute(dst));
        }
        let eg = Egress {
            iface,
            next_hop: dst,
            src,
            broadcast: is_broadcast_on(&self.ifaces, iface, dst),
        };
        self.udp_emit(now, h, &eg, to, payload)
    }

    /// Takes the next datagram. A pending ICMP error is reported first, as
    /// `Err(UdpError::Icmp)`, once. `Ok(None)` when nothing is queued.
    pub fn udp_recv_from(&mut self, h: UdpHandle) -> Result<Option<Datagram>, UdpError> {
        let s = self.udp.get_mut(h)?;
        if let Some(e) = s.errors.pop_front() {
            return Err(UdpError::Icmp(e));
        }
        let d = s.rx.pop_front();
        if let Some(d) = &d {
            s.rx_bytes -= d.payload.len();
        }
        Ok(d)
    }

    /// Limits the payload bytes a socket queues for the application
    /// (SO_RCVBUF; `None`: only the datagram count of
    /// [`StackConfig::udp_rx_queue`] limits it). Datagrams beyond are
    /// dropped and counted. Queued datagrams stay.
    pub fn udp_set_recv_buffer(
        &mut self,
        h: UdpHandle,
        bytes: Option<usize>,
    ) -> Result<(), UdpError> {
        self.udp.get_mut(h)?.rx_byte_limit = bytes.unwrap_or(usize::MAX);
        Ok(())
    }

    /// The socket's receive byte limit, if set.
    pub fn udp_recv_buffer(&self, h: UdpHandle) -> Result<Option<usize>, UdpError> {
        let l = self.udp.get(h)?.rx_byte_limit;
        Ok((l != usize::MAX).then_some(l))
    }

    // ----- TCP (thin wrappers over the engine) -----

    /// Listens on `addr` (one of ours, or any when `None`) and `port`.
    pub fn tcp_listen(
        &mut self,
        addr: Option<Ipv4Addr>,
        port: u16,
        backlog: usize,
    ) -> Result<ListenerHandle, TcpError> {
        let ip = addr.unwrap_or(Ipv4Addr::UNSPECIFIED);
        if !ip.is_unspecified() && !self.is_local_addr(ip) {
            return Err(TcpError::InvalidAddress);
        }
        self.tcp.listen(SocketAddrV4::new(ip, port), backlog)
    }

    /// Takes an established connection from a listener's queue
    /// ([`TcpError::WouldBlock`] when empty; [`TcpEvent::Acceptable`] says
    /// when to call).
    pub fn tcp_accept(&mut self, l: ListenerHandle) -> Result<TcpHandle, TcpError> {
        self.tcp.accept(l)
    }

    /// Sets a listener's queue lengths: `syn_backlog` half-open
    /// connections (SYN-RECEIVED) and, when given, `backlog` established
    /// ones waiting for `accept` (see [`Tcp::set_listen_queues`]).
    pub fn tcp_set_listen_queues(
        &mut self,
        l: ListenerHandle,
        backlog: Option<usize>,
        syn_backlog: usize,
    ) -> Result<(), TcpError> {
        self.tcp.set_listen_queues(l, backlog, syn_backlog)
    }

    /// Stops listening.
    pub fn tcp_close_listener(&mut self, now: Instant, l: ListenerHandle) -> Result<(), TcpError> {
        self.tcp.close_listener(now, l)
    }

    /// Opens a connection to `remote`: the source address comes from the
    /// route (RFC 1122 §3.3.4.3), the local port from the ephemeral range
    /// (RFC 6056), never one in use. [`TcpEvent::Connected`] follows.
    pub fn tcp_connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
    ) -> Result<TcpHandle, TcpError> {
        self.tcp_connect_from(now, None, remote)
    }

    /// Like [`Stack::tcp_connect`] from a chosen local address and/or port
    /// (port 0: ephemeral).
    pub fn tcp_connect_from(
        &mut self,
        now: Instant,
        local: Option<SocketAddrV4>,
        remote: SocketAddrV4,
    ) -> Result<TcpHandle, TcpError> {
        // RFC 9293 §3.9.1.1: the OPEN takes an optional local IP address
        // (MUST-43); without one the IP layer (the route) picks the source
        // before the SYN is sent (MUST-44), with one that address is the
        // connection's (MUST-45).
        let want_ip = local.map(|l| *l.ip()).filter(|i| !i.is_unspecified());
        if want_ip.is_some_and(|i| !self.is_local_addr(i)) {
            return Err(TcpError::InvalidAddress);
        }
        let eg = self.route(want_ip, *remote.ip()).map_err(|e| match e {
            SendError::NoRoute(_) => TcpError::NoRoute,
            _ => TcpError::InvalidAddress,
        })?;
        if eg.broadcast {
            return Err(TcpError::InvalidAddress);
        }
        let src = eg.src;
        match local.map_or(0, |l| l.port()) {
            0 => {
                let tcp = &self.tcp;
                // RFC 6056 §3.3.1 check_suitable_port(): the 4-tuple must be
                // unique and the port not held by a LISTEN socket. A port
                // whose other connections (TIME-WAIT included) lead to other
                // peers is fine — only the 4-tuple identifies a connection
                // (RFC 9293 §3.4), and Linux reuses such ports the same way.
                // Requiring the port to be unused by every connection would
                // make each connect probe past every TIME-WAIT port.
                let port = self
                    .ports
                    .allocate(src, *remote.ip(), remote.port(), |p| {
                        tcp.is_listening_port(src, p)
                            || !tcp.is_tuple_free(SocketAddrV4::new(src, p), remote)
                    })
                    .map_err(|_| TcpError::NoFreePort)?;
                // The allocation just checked the 4-tuple.
                self.tcp
                    .connect_on_free_tuple(now, SocketAddrV4::new(src, port), remote)
            }
            p => self.tcp.connect(now, SocketAddrV4::new(src, p), remote),
        }
    }

    /// Queues bytes for sending; returns how many were taken.
    pub fn tcp_send(&mut self, h: TcpHandle, data: &[u8]) -> Result<usize, TcpError> {
        self.tcp.send(h, data)
    }

    /// Queues bytes for sending with "more data follows" (Linux
    /// `MSG_MORE`): see [`Tcp::send_more`].
    pub fn tcp_send_more(&mut self, h: TcpHandle, data: &[u8]) -> Result<usize, TcpError> {
        self.tcp.send_more(h, data)
    }

    /// Corks or uncorks a connection (Linux `TCP_CORK`): see
    /// [`Tcp::set_cork`].
    pub fn tcp_set_cork(&mut self, h: TcpHandle, cork: bool) -> Result<(), TcpError> {
        self.tcp.set_cork(h, cork)
    }

    /// Sets the Diffserv codepoint of a connection's segments (RFC 9293
    /// §3.9.1.9 MUST-48): see [`Tcp::set_dscp`].
    pub fn tcp_set_dscp(&mut self, h: TcpHandle, dscp: u8) -> Result<(), TcpError> {
        self.tcp.set_dscp(h, dscp)
    }

    /// Queues urgent bytes (RFC 9293 §3.8.5): see [`Tcp::send_urgent`].
    pub fn tcp_send_urgent(&mut self, h: TcpHandle, data: &[u8]) -> Result<usize, TcpError> {
        self.tcp.send_urgent(h, data)
    }

    /// Bytes from the read position up to the peer's urgent mark, if urgent
    /// data is pending: see [`Tcp::urgent_pending`].
    pub fn tcp_urgent_pending(&self, h: TcpHandle) -> Result<Option<usize>, TcpError> {
        self.tcp.urgent_pending(h)
    }

    /// Reads received bytes; `Ok(0)` at end of stream.
    pub fn tcp_recv(&mut self, h: TcpHandle, buf: &mut [u8]) -> Result<usize, TcpError> {
        self.tcp.recv(h, buf)
    }

    /// Reads received bytes in place, without copying: `f` gets the next
    /// contiguous readable bytes and returns `(consumed, result)`; an empty
    /// slice means end of stream; `WouldBlock` when nothing is readable.
    pub fn tcp_recv_with<R>(
        &mut self,
        h: TcpHandle,
        f: impl FnOnce(&[u8]) -> (usize, R),
    ) -> Result<R, TcpError> {
        self.tcp.recv_with(h, f)
    }

    /// Half-close: FIN after the queued data.
    pub fn tcp_shutdown(&mut self, now: Instant, h: TcpHandle) -> Result<(), TcpError> {
        self.tcp.shutdown_write(now, h)
    }

    /// Closes the connection and releases the handle.
    pub fn tcp_close(&mut self, now: Instant, h: TcpHandle) -> Result<(), TcpError> {
        self.tcp.close(now, h)
    }

    /// Aborts the connection with a RST.
    pub fn tcp_abort(&mut self, now: Instant, h: TcpHandle) -> Result<(), TcpError> {
        self.tcp.abort(now, h)
    }

    /// The RFC 9293 state of a connection.
    pub fn tcp_state(&self, h: TcpHandle) -> TcpState {
        self.tcp.state(h)
    }

    /// Turns Nagle's algorithm off (`true`) or on for one connection
    /// (RFC 1122 §4.2.3.4: an application may disable it).
    pub fn tcp_set_nodelay(&mut self, h: TcpHandle, nodelay: bool) -> Result<(), TcpError> {
        self.tcp.set_nodelay(h, nodelay)
    }

    /// Sets one connection's receive and/or send buffer limit (SO_RCVBUF /
    /// SO_SNDBUF); see [`Tcp::set_buffer_limits`](crate::transport::tcp::Tcp::set_buffer_limits).
    pub fn tcp_set_buffer_limits(
        &mut self,
        h: TcpHandle,
        rx: Option<usize>,
        tx: Option<usize>,
    ) -> Result<(), TcpError> {
        self.tcp.set_buffer_limits(h, rx, tx)
    }

    /// Chooses the congestion control of one connection (NewReno or
    /// CUBIC; Linux's `TCP_CONGESTION`); new connections take
    /// [`TcpConfig::congestion_control`](crate::transport::tcp::TcpConfig::congestion_control).
    pub fn tcp_set_congestion_control(
        &mut self,
        h: TcpHandle,
        algorithm: crate::transport::tcp::congestion::Algorithm,
    ) -> Result<(), TcpError> {
        self.tcp.set_congestion_control(h, algorithm)
    }

    /// Turns HyStart++ (RFC 9406) and congestion window validation (RFC
    /// 7661) on or off for one connection.
    pub fn tcp_set_cc_options(
        &mut self,
        h: TcpHandle,
        options: crate::transport::tcp::congestion::CcOptions,
    ) -> Result<(), TcpError> {
        self.tcp.set_cc_options(h, options)
    }

    /// Turns keepalive probes on (`Some`) or off (`None`) for one
    /// connection (RFC 1122 §4.2.3.6: off by default, the application's
    /// choice; SO_KEEPALIVE).
    pub fn tcp_set_keepalive(
        &mut self,
        now: Instant,
        h: TcpHandle,
        ka: Option<crate::transport::tcp::Keepalive>,
    ) -> Result<(), TcpError> {
        self.tcp.set_keepalive(now, h, ka)
    }

    /// The TCP engine, for every other getter (addresses, info, queues).
    pub fn tcp(&self) -> &Tcp {
        &self.tcp
    }

    /// The TCP engine's counters.
    pub fn tcp_stats(&self) -> &TcpStats {
        self.tcp.stats()
    }
}

/// The earlier of two optional deadlines (`None`: no deadline).
#[inline]
fn earlier(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The sink of [`Stack::poll_transmit`]: the caller's one buffer.
struct OneFrame<'a> {
    buf: &'a mut [u8],
    sent: Option<Transmit>,
}

impl FrameSink for OneFrame<'_> {
    fn buffer(&mut self) -> Option<&mut [u8]> {
        match self.sent {
            None => Some(&mut *self.buf),
            Some(_) => None,
        }
    }
    fn send(&mut self, t: Transmit) {
        self.sent = Some(t);
    }
}

/// One frame from [`Stack::poll_transmit_meta`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// The interface to send it on.
    pub iface: IfaceId,
    /// Its length in the caller's buffer.
    pub len: usize,
    /// What the device is to finish (nothing on a plain interface).
    pub meta: TxMeta,
}
