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
//! returns `None`, drains `poll_event`, and re-reads `poll_timeout`.
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

use crate::link::arp::{ArpAction, ArpCache, ArpConfig, NeighborState, Resolve};
use crate::link::probe::{AddressProbe, ProbeAction};
use crate::link::IfaceId;
use crate::net::frag::{
    FragConfig, FragKey, FragmentError, FragmentPlan, Reassembler, ReassemblyStats,
};
use crate::net::icmp::{ErrorRateLimiter, IcmpError, IcmpErrorKind, QuotedDatagram};
use crate::net::ident::IdentGenerator;
use crate::net::martian::{self, Arrival};
use crate::net::nat::{Inbound, Nat, NatConfig, NatProtocol, Outbound};
use crate::net::route::{Route, RouteKind, RoutingTable};
use crate::phy::{DeviceCaps, Gso, Offloads, PartialChecksum, RxChecksum, RxMeta, TxMeta};
use crate::secret::Keys;
use crate::time::{Duration, Instant};
use crate::transport::ports::{EphemeralPorts, PortRange};
use crate::transport::tcp::{
    IcmpError as TcpIcmpError, ListenerHandle, State as TcpState, Tcp, TcpConfig, TcpError,
    TcpEvent, TcpHandle, TcpStats,
};
use crate::transport::udp::{Datagram, UdpError, UdpHandle, UdpSocketStats, UdpSockets};
use crate::wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use crate::wire::checksum;
use crate::wire::ethernet::{EtherType, EthernetFrame, EthernetRepr, MIN_FRAME_LEN};
use crate::wire::icmpv4::{msg_type, Icmpv4Packet, Icmpv4Repr};
use crate::wire::ip::Ipv4Cidr;
use crate::wire::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use crate::wire::tcp::{TcpPacket, TcpRepr};
use crate::wire::udp::{UdpPacket, UdpRepr};
use crate::wire::{Error as WireError, MacAddr};
use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::{BTreeMap, VecDeque};

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

/// Link-layer counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames handed to `receive`.
    pub frames_in: u64,
    /// Frames written by `poll_transmit`.
    pub frames_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes transmitted.
    pub bytes_out: u64,
    /// Frames too short for an Ethernet header, or for an unknown interface.
    pub malformed: u64,
    /// Unicast frames for another station, and multicast frames.
    pub not_for_us: u64,
    /// Frames carrying our own source MAC (a loop in the LAN).
    pub own_frames: u64,
    /// 802.1Q-tagged frames (no VLAN interfaces here).
    pub vlan_tagged: u64,
    /// Frames of an EtherType other than IPv4 and ARP.
    pub unknown_ethertype: u64,
    /// Frames dropped because the transmit queue was full.
    pub tx_queue_drops: u64,
    /// Frames dropped because the caller's buffer was too small.
    pub tx_buffer_too_small: u64,
}

/// ARP counters (cache counters summed over interfaces).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArpStats {
    /// Requests received.
    pub requests_in: u64,
    /// Replies received.
    pub replies_in: u64,
    /// Requests sent (resolutions, retries, refreshes, announcements).
    pub requests_out: u64,
    /// Replies sent.
    pub replies_out: u64,
    /// ARP packets that did not parse.
    pub malformed: u64,
    /// Packets sent on a cached mapping.
    pub hits: u64,
    /// Packets that waited for resolution.
    pub misses: u64,
    /// Waiting packets dropped because a neighbour's queue was full.
    pub queue_drops: u64,
    /// Resolutions that gave up.
    pub failures: u64,
    /// Address conflicts seen.
    pub conflicts: u64,
}

/// Why IPv4 datagrams were dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpDrops {
    /// Shorter than its header or its total length.
    pub truncated: u64,
    /// Version other than 4.
    pub bad_version: u64,
    /// IHL < 5 or total length < header length.
    pub bad_header_len: u64,
    /// Header checksum failed.
    pub bad_checksum: u64,
    /// Source address that may not appear on a link: broadcast (any of our
    /// prefixes' directed broadcasts), multicast, 0/8, 127/8, class E, or
    /// one of our own addresses arriving from the wire (RFC 1122
    /// §3.2.1.3, RFC 1812 §5.3.7).
    pub martian_source: u64,
    /// Destination 0/8, 127/8 from the wire, multicast or class E.
    pub martian_destination: u64,
    /// Carried a loose or strict source route (RFC 7126 §4.3–4.4).
    pub source_route: u64,
    /// Not addressed to us and not forwarded.
    pub not_for_us: u64,
    /// TTL ran out while forwarding.
    pub ttl_exceeded: u64,
    /// No route to the destination.
    pub no_route: u64,
    /// Protocol not handled here.
    pub unknown_protocol: u64,
    /// Broadcasts a router does not forward (RFC 1812 §5.3.5).
    pub broadcast_not_forwarded: u64,
    /// Too big for the next link with DF set.
    pub frag_needed: u64,
    /// Next hop did not answer ARP.
    pub host_unreachable: u64,
    /// Fragments dropped by reassembly (overlap, oversize, memory…).
    pub fragment: u64,
}

/// IPv4 counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpStats {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams delivered to ICMP/UDP/TCP here.
    pub delivered: u64,
    /// Datagrams forwarded (router mode).
    pub forwarded: u64,
    /// Datagrams originated here.
    pub sent: u64,
    /// Drops by reason.
    pub dropped: IpDrops,
}

/// Fragmentation counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragStats {
    /// Fragments received.
    pub fragments_in: u64,
    /// Fragments sent.
    pub fragments_out: u64,
    /// Datagrams cut into fragments.
    pub datagrams_fragmented: u64,
    /// Reassembly details (reassembled, overlaps, timeouts, memory drops…).
    pub reassembly: ReassemblyStats,
}

/// ICMP messages by type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IcmpCounts {
    /// Type 8.
    pub echo_request: u64,
    /// Type 0.
    pub echo_reply: u64,
    /// Type 3.
    pub dst_unreachable: u64,
    /// Type 11.
    pub time_exceeded: u64,
    /// Any other type.
    pub other: u64,
}

impl IcmpCounts {
    fn count(&mut self, ty: u8) {
        match ty {
            msg_type::ECHO_REQUEST => self.echo_request += 1,
            msg_type::ECHO_REPLY => self.echo_reply += 1,
            msg_type::DST_UNREACHABLE => self.dst_unreachable += 1,
            msg_type::TIME_EXCEEDED => self.time_exceeded += 1,
            _ => self.other += 1,
        }
    }
}

/// ICMP counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IcmpStats {
    /// Received, by type.
    pub received: IcmpCounts,
    /// Sent, by type.
    pub sent: IcmpCounts,
    /// Messages whose checksum failed, or too short.
    pub malformed: u64,
    /// Errors not sent because RFC 1122 §3.2.2 forbids it (about an ICMP
    /// error, a broadcast, a non-initial fragment…).
    pub errors_suppressed: u64,
    /// Errors received that matched no socket or ping.
    pub errors_unmatched: u64,
    /// Errors not sent because of the rate limit.
    pub errors_rate_limited: u64,
}

/// TCP counters kept by the IP side (the engine's own are
/// [`Stack::tcp_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpIpStats {
    /// Segments handed to the engine.
    pub segments_in: u64,
    /// Segments sent.
    pub segments_out: u64,
    /// Segments written straight into the caller's buffer (ARP known,
    /// no fragmentation): the allocation-free path.
    pub direct_out: u64,
    /// Checksum failures.
    pub bad_checksum: u64,
    /// Too short, bad offset or bad options.
    pub malformed: u64,
    /// Segments to a broadcast address (dropped).
    pub broadcast: u64,
    /// Segments the engine emitted for which there was no route.
    pub no_route: u64,
    /// Negative advice taken from TCP (RFC 9293 §3.8.3 MUST-20): the next
    /// hop was set to be re-confirmed and the cached route dropped.
    pub negative_advice: u64,
}

/// UDP counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpStats {
    /// Datagrams received and parsed.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Datagrams for a port nobody listens on.
    pub no_port: u64,
    /// Checksum failures.
    pub bad_checksum: u64,
    /// Too short or bad length.
    pub malformed: u64,
    /// Dropped because the socket's queue was full.
    pub queue_drops: u64,
}

/// All counters, per layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Ethernet.
    pub link: LinkStats,
    /// ARP.
    pub arp: ArpStats,
    /// IPv4.
    pub ip: IpStats,
    /// Fragments.
    pub frag: FragStats,
    /// ICMP.
    pub icmp: IcmpStats,
    /// UDP.
    pub udp: UdpStats,
    /// TCP (IP side).
    pub tcp: TcpIpStats,
}

#[derive(Debug)]
struct Interface {
    mac: MacAddr,
    mtu: usize,
    /// What the device does for the stack ([`Stack::set_device_caps`]).
    offloads: Offloads,
    addrs: Vec<Ipv4Cidr>,
    /// The loopback interface: no link, no ARP; every address of its
    /// prefixes is ours (127.0.0.0/8, as on Linux), and what is routed to
    /// it comes straight back in.
    loopback: bool,
    arp: ArpCache<Vec<u8>>,
    /// Last time each address was defended (RFC 5227 §2.4 (b)).
    defended: BTreeMap<Ipv4Addr, Instant>,
}

#[derive(Debug)]
struct TxFrame {
    iface: IfaceId,
    dst: MacAddr,
    ethertype: EtherType,
    payload: Vec<u8>,
}

/// Where a datagram leaves.
#[derive(Debug, Clone, Copy)]
struct Egress {
    iface: IfaceId,
    next_hop: Ipv4Addr,
    src: Ipv4Addr,
    broadcast: bool,
}

/// The routing decision of the last TCP segment sent, reused while the
/// next segment goes between the same addresses and the configuration
/// (interfaces, addresses, routes) is unchanged: a bulk transfer routes
/// once, not once per segment. The next hop's MAC is still looked up per
/// segment, so ARP ageing and revalidation are unaffected.
#[derive(Debug, Clone, Copy)]
struct RouteCache {
    /// [`Stack::config_version`] when the entry was made.
    version: u64,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    egress: Egress,
}

impl Interface {
    /// True when `ip` is an address of this interface (on the loopback
    /// interface: any address in its prefixes).
    fn owns(&self, ip: Ipv4Addr) -> bool {
        self.addrs
            .iter()
            .any(|c| c.address() == ip || (self.loopback && c.contains(ip)))
    }
}

impl RouteCache {
    /// The unicast egress from `src` to `dst`: the cached decision while it
    /// is current, else [`route_in`]'s, which then replaces the cache.
    /// `None`: no route, or a broadcast destination (not for TCP).
    fn route(
        cache: &mut Option<RouteCache>,
        version: u64,
        ifaces: &[Interface],
        routes: &RoutingTable,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Option<Egress> {
        if let Some(c) = cache {
            if c.version == version && c.src == src && c.dst == dst {
                return Some(c.egress);
            }
        }
        let egress = route_in(ifaces, routes, Some(src), dst)
            .ok()
            .filter(|eg| !eg.broadcast)?;
        *cache = Some(RouteCache {
            version,
            src,
            dst,
            egress,
        });
        Some(egress)
    }
}

/// Largest quote in an ICMP error: the whole error fits 576 bytes
/// (RFC 1812 §4.3.2.3).
const MAX_ICMP_QUOTE: usize = 576 - 20 - 8;
/// MTU of the loopback interface (the largest IPv4 datagram, so nothing
/// looped back is ever fragmented).
const LOOPBACK_MTU: usize = 65535;
/// Minimum spacing of address defences (RFC 5227 DEFEND_INTERVAL).
const DEFEND_INTERVAL: Duration = Duration::from_secs(10);

/// A sans-IO IPv4 host or router.
#[derive(Debug)]
pub struct Stack {
    config: StackConfig,
    ifaces: Vec<Interface>,
    routes: RoutingTable,
    /// Bumped by every change to interfaces, addresses or routes; a
    /// [`RouteCache`] from another version is stale.
    config_version: u64,
    route_cache: Option<RouteCache>,
    forwarding: bool,
    /// Address and port translation on the forwarding path, when on.
    nat: Option<Nat>,
    reasm: Reassembler,
    tx: VecDeque<TxFrame>,
    /// Datagrams to one of our own addresses, delivered on the next
    /// `poll_transmit` without touching a link.
    loopback: VecDeque<(IfaceId, Vec<u8>)>,
    events: VecDeque<Event>,
    udp: UdpSockets,
    ports: EphemeralPorts,
    /// IP Identification values (RFC 7739 §5.3, per destination).
    idents: IdentGenerator,
    /// Outstanding echo requests: (ident, seq) → (destination, sent at).
    pings: BTreeMap<(u16, u16), (Ipv4Addr, Instant)>,
    tcp: Tcp,
    /// ICMP error token buckets (per destination, and a global ceiling).
    icmp_limit: ErrorRateLimiter,
    /// RFC 5227 probes and announcements in progress.
    probes: Vec<(IfaceId, AddressProbe)>,
    /// Key and counter of the random delays of address probing.
    jitter_key: crate::transport::ports::SeededState,
    jitter_n: u64,
    /// The frame being received is one whose TCP checksum the device
    /// vouched for ([`Stack::receive_meta`]).
    rx_trusted: bool,
    /// Segments of a super-segment finished in software, waiting for
    /// [`Stack::poll_transmit`] (a caller that takes no [`TxMeta`]).
    split: VecDeque<(IfaceId, Vec<u8>)>,
    stats: Stats,
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
    fn jitter(&mut self) -> u64 {
        use core::hash::{BuildHasher, Hasher};
        self.jitter_n += 1;
        let mut h = self.jitter_key.build_hasher();
        h.write(&self.jitter_n.to_le_bytes());
        h.finish()
    }

    /// Puts the address and its connected route in place; returns the
    /// interface's MAC.
    fn assign_address(&mut self, iface: IfaceId, cidr: Ipv4Cidr) -> Result<MacAddr, StackError> {
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

    fn is_broadcast_on(&self, iface: IfaceId, ip: Ipv4Addr) -> bool {
        is_broadcast_on(&self.ifaces, iface, ip)
    }

    fn is_any_broadcast(&self, ip: Ipv4Addr) -> bool {
        any_broadcast(&self.ifaces, ip)
    }

    fn source_for(&self, iface: IfaceId, peer: Ipv4Addr) -> Option<Ipv4Addr> {
        source_for(&self.ifaces, iface, peer)
    }

    /// Routes `dst`, choosing the source address (RFC 1122 §3.3.4.3) unless
    /// `src` is given.
    fn route(&self, src: Option<Ipv4Addr>, dst: Ipv4Addr) -> Result<Egress, SendError> {
        route_in(&self.ifaces, &self.routes, src, dst)
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

    /// Hands the stack one Ethernet frame received on `iface`.
    pub fn receive(&mut self, now: Instant, iface: IfaceId, frame: &[u8]) {
        self.stats.link.frames_in += 1;
        self.stats.link.bytes_in += frame.len() as u64;
        // One span per layer: `RUST_LOG=strata=debug` shows a frame
        // climbing link → net → transport.
        let _link = tracing::debug_span!(target: "strata::link", "link", %iface).entered();
        let Some(ifc) = self.ifaces.get(iface.0) else {
            self.stats.link.malformed += 1;
            return;
        };
        if ifc.loopback {
            // The loopback interface has no link: nothing arrives on it
            // from outside.
            self.stats.link.not_for_us += 1;
            return;
        }
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.stats.link.malformed += 1;
            tracing::debug!(target: "strata::link", len = frame.len(), "malformed frame dropped");
            return;
        };
        tracing::debug!(
            target: "strata::link",
            src = %eth.src(),
            dst = %eth.dst(),
            ethertype = %format_args!("{:#06x}", eth.ethertype().0),
            len = frame.len(),
            "frame in"
        );
        let dst = eth.dst();
        let link_broadcast = dst.is_broadcast();
        if dst != ifc.mac && !link_broadcast {
            self.stats.link.not_for_us += 1;
            return;
        }
        if eth.src() == ifc.mac {
            self.stats.link.own_frames += 1;
            return;
        }
        if eth.vlan().is_some() {
            self.stats.link.vlan_tagged += 1;
            return;
        }
        match eth.ethertype() {
            EtherType::ARP => self.process_arp(now, iface, eth.payload()),
            EtherType::IPV4 => {
                self.process_ipv4(now, iface, eth.payload(), link_broadcast, Arrival::Wire)
            }
            _ => self.stats.link.unknown_ethertype += 1,
        }
    }

    fn process_arp(&mut self, now: Instant, iface: IfaceId, payload: &[u8]) {
        let Some(r) = ArpPacket::new_checked(payload)
            .ok()
            .and_then(|p| ArpRepr::parse(&p).ok())
        else {
            self.stats.arp.malformed += 1;
            return;
        };
        match r.operation {
            ArpOperation::Request => self.stats.arp.requests_in += 1,
            ArpOperation::Reply => self.stats.arp.replies_in += 1,
        }
        let my_mac = self.ifaces[iface.0].mac;
        // RFC 5227 §2.1.1: while an address is tentative, any ARP packet
        // with it as sender, or another host's probe for it, is a conflict.
        if r.sender_mac != my_mac {
            let mut lost = Vec::new();
            for (i, p) in &mut self.probes {
                if *i == iface
                    && p.conflicts(
                        r.sender_ip,
                        r.target_ip,
                        r.operation == ArpOperation::Request,
                    )
                {
                    lost.push(p.address());
                }
            }
            for addr in lost {
                self.stats.arp.conflicts += 1;
                self.events.push_back(Event::AddressConflict {
                    iface,
                    addr,
                    mac: r.sender_mac,
                });
            }
            self.probes.retain(|(_, p)| !p.is_done());
        }
        let ifc = &self.ifaces[iface.0];
        let owns = |ip: Ipv4Addr| ifc.addrs.iter().any(|c| c.address() == ip);
        // RFC 5227 §2.4: a packet whose sender address is ours, from
        // another MAC, is a conflict.
        if owns(r.sender_ip) && r.sender_mac != my_mac {
            self.stats.arp.conflicts += 1;
            tracing::warn!(target: "strata::link", addr = %r.sender_ip, mac = %r.sender_mac, "address conflict");
            self.events.push_back(Event::AddressConflict {
                iface,
                addr: r.sender_ip,
                mac: r.sender_mac,
            });
            // §2.4 (b): defend once per DEFEND_INTERVAL.
            let last = self.ifaces[iface.0].defended.get(&r.sender_ip).copied();
            if last.is_none_or(|t| now.saturating_duration_since(t) >= DEFEND_INTERVAL) {
                self.ifaces[iface.0].defended.insert(r.sender_ip, now);
                self.announce(iface, my_mac, r.sender_ip);
            }
            return;
        }
        let target_ours = owns(r.target_ip);
        // A new entry is made only for a neighbour on this link (one of the
        // interface's prefixes, or a route straight out of it): a flood of
        // requests from off-link senders would otherwise fill the cache and
        // evict the gateway. Entries we made by asking are updated as usual.
        let on_link = ifc.addrs.iter().any(|c| c.contains(r.sender_ip))
            || self
                .routes
                .lookup(r.sender_ip)
                .is_some_and(|rt| rt.gateway.is_none() && rt.iface == iface);
        if !r.sender_ip.is_unspecified() {
            // RFC 826 "Packet Reception": merge the sender into the cache
            // (update if present; add if we are the target).
            let flushed = self.ifaces[iface.0].arp.learn(
                now,
                r.sender_ip,
                r.sender_mac,
                target_ours && on_link,
            );
            for dgram in flushed {
                self.emit_fragments(iface, r.sender_mac, dgram);
            }
        }
        // RFC 826: if the opcode is request and we are the target, reply.
        // A gratuitous announcement (sender = target) needs no answer.
        if r.operation == ArpOperation::Request && target_ours && r.sender_ip != r.target_ip {
            let reply = ArpRepr {
                operation: ArpOperation::Reply,
                sender_mac: my_mac,
                sender_ip: r.target_ip,
                target_mac: r.sender_mac,
                target_ip: r.sender_ip,
            };
            self.stats.arp.replies_out += 1;
            self.push_arp(iface, r.sender_mac, &reply);
        }
    }

    /// One IPv4 datagram from `iface`; `arrival` says whether it came over
    /// a link or from this host itself (the loopback path, which may carry
    /// 127/8 and our own addresses).
    fn process_ipv4(
        &mut self,
        now: Instant,
        iface: IfaceId,
        payload: &[u8],
        link_bcast: bool,
        arrival: Arrival,
    ) {
        let _net = tracing::debug_span!(target: "strata::net", "ipv4").entered();
        self.stats.ip.received += 1;
        let pkt = match Ipv4Packet::new_checked(payload) {
            Ok(p) => p,
            Err(WireError::Truncated) => {
                self.stats.ip.dropped.truncated += 1;
                return;
            }
            Err(_) => {
                self.stats.ip.dropped.bad_header_len += 1;
                return;
            }
        };
        // RFC 791 §3.1 / RFC 1122 §3.2.1.1: version 4 only.
        if pkt.version() != 4 {
            self.stats.ip.dropped.bad_version += 1;
            return;
        }
        // RFC 1122 §3.2.1.2: verify the header checksum, discard silently.
        if !pkt.verify_checksum() {
            self.stats.ip.dropped.bad_checksum += 1;
            return;
        }
        let (src, dst) = (pkt.src(), pkt.dst());
        // RFC 1122 §3.2.1.3 / RFC 1812 §5.3.7: one check of both addresses
        // (net/martian.rs); a martian is neither delivered nor forwarded.
        let ifaces = &self.ifaces;
        if martian::check_source(
            src,
            arrival,
            |a| any_broadcast(ifaces, a),
            |a| is_local(ifaces, a),
        )
        .is_err()
        {
            self.stats.ip.dropped.martian_source += 1;
            return;
        }
        if martian::check_destination(dst, arrival).is_err() {
            self.stats.ip.dropped.martian_destination += 1;
            return;
        }
        // RFC 7126 §4.3.3, §4.4.3: LSRR and SSRR are dropped by default,
        // so an unfinished route is neither delivered (RFC 1122 §3.3.5) nor
        // forwarded unchanged.
        if martian::has_source_route(pkt.options()) {
            self.stats.ip.dropped.source_route += 1;
            return;
        }
        let total = usize::from(pkt.total_len());
        let datagram = &payload[..total];
        tracing::debug!(target: "strata::net", %src, %dst, ttl = pkt.ttl(), proto = %pkt.protocol(), len = total, "IPv4 in");
        let to_bcast = self.is_broadcast_on(iface, dst);
        let for_us = to_bcast || self.is_local_addr(dst);
        let fragment = pkt.more_frags() || pkt.frag_offset() != 0;
        if self.nat.is_some() && !fragment && !link_bcast {
            // RFC 3022 §2.2: datagrams to the outside address go back in
            // through their mapping; hairpinned ones too (RFC 4787 REQ-9).
            if for_us && self.nat_address() == Some(dst) {
                let mut d = datagram.to_vec();
                if self.nat_intercept(now, iface, &mut d) {
                    return;
                }
            } else if !for_us && self.nat_outside() == Some(iface) {
                // Inside addresses are not reachable from outside except
                // through a mapping.
                if let Some(n) = self.nat.as_mut() {
                    n.count_unsolicited();
                }
                return;
            }
        }
        if !for_us {
            if self.forwarding {
                self.forward(now, iface, datagram, link_bcast);
            } else {
                self.stats.ip.dropped.not_for_us += 1;
            }
            return;
        }
        let hl = pkt.header_len();
        if pkt.more_frags() || pkt.frag_offset() != 0 {
            self.stats.frag.fragments_in += 1;
            let key = FragKey {
                src,
                dst,
                protocol: pkt.protocol().0,
                ident: pkt.ident(),
            };
            match self.reasm.push(
                now,
                key,
                &datagram[..hl],
                usize::from(pkt.frag_offset()),
                pkt.more_frags(),
                pkt.payload(),
            ) {
                Ok(Some(whole)) => {
                    if self.nat.is_some() && !to_bcast && self.nat_address() == Some(dst) {
                        // RFC 4787 REQ-14: a fragmented datagram is
                        // translated once whole.
                        let mut d = whole_datagram(&whole.header, &whole.payload);
                        if self.nat_intercept(now, iface, &mut d) {
                            return;
                        }
                    }
                    self.deliver(
                        now,
                        iface,
                        &whole.header,
                        &whole.payload,
                        to_bcast || link_bcast,
                    )
                }
                Ok(None) => {}
                Err(_) => self.stats.ip.dropped.fragment += 1,
            }
            return;
        }
        self.deliver(
            now,
            iface,
            &datagram[..hl],
            pkt.payload(),
            to_bcast || link_bcast,
        );
    }

    /// Local delivery of a whole datagram (`header` as received).
    fn deliver(
        &mut self,
        now: Instant,
        iface: IfaceId,
        header: &[u8],
        payload: &[u8],
        bcast: bool,
    ) {
        self.stats.ip.delivered += 1;
        let h = Ipv4Packet::new_unchecked(header);
        let (src, dst, ttl) = (h.src(), h.dst(), h.ttl());
        match h.protocol() {
            IpProtocol::ICMP => self.process_icmp(now, src, dst, ttl, payload, bcast),
            IpProtocol::UDP => self.process_udp(now, iface, header, src, dst, payload, bcast),
            // RFC 9293 §3.9.2 MUST-50: TCP gets the addresses, not the IP
            // options, so any option in the header is ignored.
            IpProtocol::TCP => self.process_tcp(now, src, dst, payload, bcast),
            _ => {
                self.stats.ip.dropped.unknown_protocol += 1;
                // RFC 1122 §3.2.2.1: protocol unreachable SHOULD be sent.
                if !bcast {
                    self.icmp_error(
                        now,
                        IcmpErrorKind::ProtocolUnreachable,
                        header,
                        payload,
                        false,
                    );
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn process_udp(
        &mut self,
        now: Instant,
        _iface: IfaceId,
        header: &[u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload: &[u8],
        bcast: bool,
    ) {
        let _udp = tracing::debug_span!(target: "strata::transport", "udp").entered();
        let Ok(p) = UdpPacket::new_checked(payload) else {
            self.stats.udp.malformed += 1;
            return;
        };
        // RFC 1122 §4.1.3.4: verify a non-zero checksum, discard on failure.
        let Ok(r) = UdpRepr::parse(&p, src, dst) else {
            self.stats.udp.bad_checksum += 1;
            return;
        };
        self.stats.udp.datagrams_in += 1;
        let from = SocketAddrV4::new(src, r.src_port);
        match self.udp.demux(dst, r.dst_port, from) {
            Some(h) => {
                let s = self.udp.get_mut(h).expect("demux returns live handles");
                // A full queue (in datagrams, or in bytes once SO_RCVBUF
                // was set) drops what arrives, as Linux does.
                if s.rx.len() >= s.rx_limit
                    || s.rx_bytes.saturating_add(p.payload().len()) > s.rx_byte_limit
                {
                    s.stats.dropped += 1;
                    self.stats.udp.queue_drops += 1;
                    return;
                }
                s.stats.received += 1;
                let was_empty = s.rx.is_empty();
                s.rx_bytes += p.payload().len();
                s.rx.push_back(Datagram {
                    from,
                    to: dst,
                    payload: p.payload().to_vec(),
                });
                if was_empty {
                    self.events.push_back(Event::UdpReadable(h));
                }
            }
            None => {
                self.stats.udp.no_port += 1;
                // RFC 1122 §4.1.3.1: port unreachable SHOULD be sent, but
                // never for a broadcast (§3.2.2).
                if !bcast {
                    self.icmp_error(now, IcmpErrorKind::PortUnreachable, header, payload, false);
                }
            }
        }
    }

    fn process_tcp(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload: &[u8],
        bcast: bool,
    ) {
        // RFC 9293 §3.9.1 (and RFC 1122 §4.2.3.10): TCP is unicast only;
        // a segment to a broadcast address is dropped.
        if bcast {
            self.stats.tcp.broadcast += 1;
            return;
        }
        let Ok(p) = TcpPacket::new_checked(payload) else {
            self.stats.tcp.malformed += 1;
            return;
        };
        let _tcp = tracing::debug_span!(target: "strata::transport", "tcp").entered();
        let seg = match TcpRepr::parse_unverified(&p) {
            Ok(seg) => seg,
            Err(_) => {
                // A bad checksum counts before a bad option.
                if p.verify_checksum(src, dst) {
                    self.stats.tcp.malformed += 1;
                } else {
                    self.stats.tcp.bad_checksum += 1;
                }
                return;
            }
        };
        // RFC 9293 §3.1 MUST-2/MUST-3: the checksum is verified before the
        // segment is acted on. When its connection takes the data in order,
        // the data is summed while it is copied into the receive buffer (one
        // pass instead of two); that copy becomes readable only if the
        // segment verifies and is then accepted.
        let data_sum = self
            .tcp
            .stage(src, dst, &seg)
            .unwrap_or_else(|| checksum::sum(seg.payload));
        // A device with receive checksum offload vouched for this one
        // (`receive_meta`): verified in hardware, or never on a wire.
        if !self.rx_trusted && checksum::combine(&[p.header_sum(src, dst), data_sum]) != 0xffff {
            self.tcp.unstage();
            self.stats.tcp.bad_checksum += 1;
            return;
        }
        tracing::debug!(
            target: "strata::transport",
            src_port = seg.src_port,
            dst_port = seg.dst_port,
            flags = ?seg.flags,
            seq = seg.seq,
            ack = seg.ack,
            len = seg.payload.len(),
            "TCP segment in"
        );
        self.stats.tcp.segments_in += 1;
        self.tcp.handle_segment(now, src, dst, &seg);
    }

    fn process_icmp(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
        payload: &[u8],
        bcast: bool,
    ) {
        let Some(r) = Icmpv4Packet::new_checked(payload)
            .ok()
            .and_then(|p| Icmpv4Repr::parse(&p).ok())
        else {
            self.stats.icmp.malformed += 1;
            return;
        };
        self.stats.icmp.received.count(payload[0]);
        match r {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                // RFC 1122 §3.2.2.6: an echo request to a broadcast MAY be
                // silently discarded; we do (no smurf amplification).
                if bcast {
                    return;
                }
                // RFC 792 / RFC 1122 §3.2.2.6: reply with the same data,
                // from the address the request was sent to.
                let reply = Icmpv4Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let _ = self.send_icmp(now, Some(dst), src, &reply, None);
            }
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                // RFC 792: the reply comes from the host we asked; one from
                // anyone else with the same (ident, seq) is a forgery (a
                // broadcast request may be answered by any host).
                let asked = self.pings.get(&(ident, seq_no)).copied();
                if let Some((_, sent)) = asked
                    .filter(|&(to, _)| to == src || to.is_broadcast() || self.is_any_broadcast(to))
                {
                    self.pings.remove(&(ident, seq_no));
                    self.events.push_back(Event::EchoReply {
                        from: src,
                        ident,
                        seq: seq_no,
                        rtt: now.saturating_duration_since(sent),
                        ttl,
                        len: data.len(),
                    });
                }
            }
            Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu,
                quoted,
            } => self.icmp_error_in(
                now,
                src,
                msg_type::DST_UNREACHABLE,
                code,
                next_hop_mtu,
                quoted,
            ),
            Icmpv4Repr::TimeExceeded { code, quoted } => {
                self.icmp_error_in(now, src, msg_type::TIME_EXCEEDED, code, 0, quoted)
            }
            // RFC 9293 §3.9.2.2 MUST-55: Source Quench (type 4, deprecated
            // by RFC 6633) is silently discarded; so are the other kinds we
            // do not act on, Parameter Problem among them (MUST-56).
            Icmpv4Repr::Other { .. } => {}
        }
    }

    /// An ICMP error arrived: match the quoted datagram to its sender
    /// (RFC 1122 §3.2.2: "the ICMP error message MUST be passed to the
    /// transport layer").
    fn icmp_error_in(
        &mut self,
        now: Instant,
        from: Ipv4Addr,
        ty: u8,
        code: u8,
        mtu: u16,
        quoted: &[u8],
    ) {
        let (Some(kind), Some(original)) = (
            IcmpErrorKind::from_type_code(ty, code, mtu),
            QuotedDatagram::parse(quoted),
        ) else {
            self.stats.icmp.errors_unmatched += 1;
            return;
        };
        if !self.is_local_addr(original.src) {
            self.stats.icmp.errors_unmatched += 1;
            return;
        }
        tracing::debug!(target: "strata::net", %from, %kind, dst = %original.dst, "ICMP error in");
        self.deliver_error(
            now,
            IcmpError {
                kind,
                from,
                original,
            },
        );
    }

    /// Hands an error about one of our datagrams to whoever sent it.
    fn deliver_error(&mut self, now: Instant, error: IcmpError) {
        let o = error.original;
        match o.protocol {
            IpProtocol::UDP => {
                let local = SocketAddrV4::new(o.src, o.src_port);
                let remote = SocketAddrV4::new(o.dst, o.dst_port);
                // RFC 1122 §4.1.3.3 / RFC 8085 §5.2: a connected socket
                // only hears errors about datagrams to its peer, so an
                // off-path attacker who guesses the port cannot fail it.
                let matched = self.udp.by_local(local).filter(|&h| {
                    self.udp
                        .get(h)
                        .is_ok_and(|s| s.remote.is_none_or(|r| r == remote))
                });
                match matched {
                    Some(h) => {
                        let s = self.udp.get_mut(h).expect("live handle");
                        s.stats.errors += 1;
                        if s.errors.len() < 16 {
                            s.errors.push_back(error);
                        }
                        self.events.push_back(Event::UdpError { handle: h, error });
                    }
                    None => self.stats.icmp.errors_unmatched += 1,
                }
            }
            IpProtocol::ICMP if o.icmp_type == msg_type::ECHO_REQUEST => {
                let (ident, seq) = (o.src_port, o.dst_port);
                // The quoted request must be one we sent to that address.
                if self
                    .pings
                    .get(&(ident, seq))
                    .is_some_and(|&(to, _)| to == o.dst)
                {
                    self.pings.remove(&(ident, seq));
                    self.events
                        .push_back(Event::EchoError { ident, seq, error });
                } else {
                    self.stats.icmp.errors_unmatched += 1;
                }
            }
            IpProtocol::TCP => {
                // RFC 9293 §3.9.4 / RFC 1122 §4.2.3.9: hand ICMP errors to
                // the connection; time exceeded is ignored (soft, transient).
                let err = match error.kind {
                    IcmpErrorKind::NetUnreachable => TcpIcmpError::NetUnreachable,
                    IcmpErrorKind::HostUnreachable => TcpIcmpError::HostUnreachable,
                    IcmpErrorKind::ProtocolUnreachable => TcpIcmpError::ProtocolUnreachable,
                    IcmpErrorKind::PortUnreachable => TcpIcmpError::PortUnreachable,
                    IcmpErrorKind::FragmentationNeeded { mtu } => {
                        TcpIcmpError::FragmentationNeeded { mtu }
                    }
                    IcmpErrorKind::Unreachable { code: 9 | 10 | 13 } => {
                        TcpIcmpError::AdminProhibited
                    }
                    _ => return,
                };
                let local = SocketAddrV4::new(o.src, o.src_port);
                let remote = SocketAddrV4::new(o.dst, o.dst_port);
                // RFC 5927 §4.1: the quoted sequence number must be in flight.
                self.tcp
                    .handle_icmp_error_quoting(now, local, remote, o.tcp_seq, err);
            }
            _ => self.stats.icmp.errors_unmatched += 1,
        }
    }

    /// Router mode: forward a datagram received on `in_iface` (RFC 1812
    /// §5.2, §5.3).
    fn forward(&mut self, now: Instant, in_iface: IfaceId, datagram: &[u8], link_bcast: bool) {
        let pkt = Ipv4Packet::new_unchecked(datagram);
        let (src, dst, ttl) = (pkt.src(), pkt.dst(), pkt.ttl());
        let hl = pkt.header_len();
        // RFC 1812 §5.3.4 / §5.3.5: never forward link-layer broadcasts,
        // limited or directed broadcasts, multicast, or from 0.0.0.0.
        if link_bcast
            || dst.is_broadcast()
            || dst.is_multicast()
            || self.is_any_broadcast(dst)
            || src.is_unspecified()
        {
            self.stats.ip.dropped.broadcast_not_forwarded += 1;
            return;
        }
        // RFC 1812 §5.3.1: decrement TTL; if it reaches 0, discard and send
        // time exceeded (code 0) to the source.
        if ttl <= 1 {
            self.stats.ip.dropped.ttl_exceeded += 1;
            self.icmp_error(
                now,
                IcmpErrorKind::TtlExceeded,
                &datagram[..hl],
                &datagram[hl..],
                false,
            );
            return;
        }
        let Some(route) = self.routes.lookup(dst).copied() else {
            self.stats.ip.dropped.no_route += 1;
            // RFC 1812 §5.2.7.1: network unreachable.
            self.icmp_error(
                now,
                IcmpErrorKind::NetUnreachable,
                &datagram[..hl],
                &datagram[hl..],
                false,
            );
            return;
        };
        let mut copy = datagram.to_vec();
        // RFC 1624: update the checksum incrementally for the new TTL.
        Ipv4Packet::new_unchecked(&mut copy[..]).set_ttl_incremental(ttl - 1);
        let next_hop = route.next_hop(dst);
        let mtu = self.ifaces[route.iface.0].mtu;
        if copy.len() > mtu && pkt.dont_frag() {
            // RFC 1191 §4 / RFC 1812 §5.2.7.1: fragmentation needed, with
            // the next-hop MTU.
            self.stats.ip.dropped.frag_needed += 1;
            let kind = IcmpErrorKind::FragmentationNeeded {
                mtu: u16::try_from(mtu).unwrap_or(u16::MAX),
            };
            self.icmp_error(now, kind, &datagram[..hl], &datagram[hl..], false);
            return;
        }
        if self.nat_outside() == Some(route.iface) && in_iface != route.iface {
            // RFC 3022 §2.2: out through the outside interface, from its
            // address.
            let Some(ext) = self.nat_address() else {
                self.stats.ip.dropped.no_route += 1;
                return;
            };
            if pkt.more_frags() || pkt.frag_offset() != 0 {
                // RFC 4787 REQ-14: only the first fragment has the ports;
                // the datagram is reassembled here, translated whole and
                // cut again for the outside link.
                let key = FragKey {
                    src,
                    dst,
                    protocol: pkt.protocol().0,
                    ident: pkt.ident(),
                };
                let off = usize::from(pkt.frag_offset());
                let more = pkt.more_frags();
                match self
                    .reasm
                    .push(now, key, &copy[..hl], off, more, &copy[hl..])
                {
                    Ok(Some(whole)) => copy = whole_datagram(&whole.header, &whole.payload),
                    Ok(None) => return,
                    Err(_) => {
                        self.stats.ip.dropped.fragment += 1;
                        return;
                    }
                }
            }
            if !self.nat_out(now, ext, &mut copy) {
                return;
            }
        }
        self.stats.ip.forwarded += 1;
        tracing::trace!(target: "strata::net", %src, %dst, ttl = ttl - 1, via = %route.iface, "forward");
        self.send_datagram(now, route.iface, next_hop, false, copy);
    }

    /// The outside interface of the NAT, when on.
    fn nat_outside(&self) -> Option<IfaceId> {
        self.nat.as_ref().map(Nat::outside)
    }

    /// The NAT's outside address: the outside interface's first address.
    fn nat_address(&self) -> Option<Ipv4Addr> {
        let o = self.nat_outside()?;
        self.ifaces.get(o.0)?.addrs.first().map(|c| c.address())
    }

    /// Whether the router's own sockets hold `port` (the NAT leaves such
    /// ports alone).
    fn owns_port(&self, p: NatProtocol, port: u16) -> bool {
        match p {
            NatProtocol::Udp => self.udp.port_in_use(port),
            NatProtocol::Tcp => {
                self.tcp.is_listening_port(Ipv4Addr::UNSPECIFIED, port)
                    || self.tcp.connections().any(|(_, c)| c.local.port() == port)
            }
            NatProtocol::Icmp => self.pings.keys().any(|(id, _)| *id == port),
        }
    }

    /// Translates a datagram from inside on its way out; false when the
    /// NAT dropped it.
    fn nat_out(&mut self, now: Instant, ext: Ipv4Addr, d: &mut [u8]) -> bool {
        let Some(mut nat) = self.nat.take() else {
            return true;
        };
        let r = nat.outbound(now, ext, d, &|p, port| self.owns_port(p, port));
        self.nat = Some(nat);
        r == Outbound::Translated
    }

    /// A whole datagram for the NAT's outside address (from outside, or
    /// from inside: hairpinning). True when the NAT took it (translated
    /// and forwarded, or dropped); false when it is for the router itself.
    fn nat_intercept(&mut self, now: Instant, iface: IfaceId, d: &mut Vec<u8>) -> bool {
        let (Some(ext), Some(outside)) = (self.nat_address(), self.nat_outside()) else {
            return false;
        };
        let Some((proto, dport)) = nat_ports(d) else {
            return false;
        };
        let from_inside = iface != outside;
        if from_inside {
            // RFC 4787 §6 REQ-9: hairpinning. Only for a mapped port: the
            // rest is for the router itself.
            if !self.nat.as_ref().is_some_and(|n| n.has_mapping(proto, d)) {
                return false;
            }
            // REQ-9 b: the source becomes the sender's outside endpoint.
            if !self.nat_out(now, ext, d) {
                return true;
            }
            if let Some(n) = self.nat.as_mut() {
                n.count_hairpin();
            }
        }
        let Some(nat) = self.nat.as_mut() else {
            return false;
        };
        match nat.inbound(now, ext, d) {
            Inbound::Translated(_) => {
                // Forwarded in with the TTL decremented (RFC 1812 §5.3.1).
                let d = core::mem::take(d);
                self.forward(now, iface, &d, false);
                true
            }
            Inbound::Filtered | Inbound::Malformed => true,
            Inbound::NoMapping => {
                if dport.is_none_or(|(p, port)| self.owns_port(p, port)) {
                    return false;
                }
                // RFC 4787 §5 / RFC 5382 REQ-4: unsolicited, dropped
                // silently (no port unreachable, no RST from the NAT).
                if let Some(n) = self.nat.as_mut() {
                    n.count_unsolicited();
                }
                true
            }
        }
    }

    // ----- output -----

    /// Sends a datagram we originated: looped back when it is for one of
    /// our own addresses, else onto the link.
    fn dispatch(&mut self, now: Instant, eg: &Egress, d: Vec<u8>) {
        if !eg.broadcast && (self.is_local_addr(eg.next_hop) || self.ifaces[eg.iface.0].loopback) {
            if self.loopback.len() < self.config.tx_queue_limit {
                self.loopback.push_back((eg.iface, d));
            } else {
                self.stats.link.tx_queue_drops += 1;
            }
        } else {
            self.send_datagram(now, eg.iface, eg.next_hop, eg.broadcast, d);
        }
    }

    /// Sends a complete datagram towards `next_hop` on `iface`: broadcast,
    /// or via the ARP cache (sent now, or queued whole while resolution
    /// runs). Fragmentation for the MTU happens as the datagram goes onto
    /// the link, so a neighbour's queue holds datagrams, not fragments.
    fn send_datagram(
        &mut self,
        now: Instant,
        iface: IfaceId,
        next_hop: Ipv4Addr,
        bcast: bool,
        dgram: Vec<u8>,
    ) {
        if self.ifaces[iface.0].loopback {
            // Routed to the loopback interface: back in, never onto a link.
            if self.loopback.len() < self.config.tx_queue_limit {
                self.loopback.push_back((iface, dgram));
            } else {
                self.stats.link.tx_queue_drops += 1;
            }
            return;
        }
        if bcast {
            self.emit_fragments(iface, MacAddr::BROADCAST, dgram);
            return;
        }
        match self.ifaces[iface.0].arp.resolve(now, next_hop, dgram) {
            Resolve::Send {
                mac,
                packet,
                refresh,
            } => {
                self.emit_fragments(iface, mac, packet);
                if refresh {
                    self.arp_request(iface, next_hop, Some(mac));
                }
            }
            Resolve::Queued { request } => {
                if request {
                    self.arp_request(iface, next_hop, None);
                }
            }
            Resolve::Dropped(_) => {}
        }
    }

    /// Puts a datagram on the link to `dst`, cut into fragments when it
    /// exceeds the MTU (RFC 791 §3.2). A DF datagram that is too big must
    /// have been refused by the caller; here it is dropped and counted.
    fn emit_fragments(&mut self, iface: IfaceId, dst: MacAddr, dgram: Vec<u8>) {
        let mtu = self.ifaces[iface.0].mtu;
        if dgram.len() <= mtu {
            self.push_tx(TxFrame {
                iface,
                dst,
                ethertype: EtherType::IPV4,
                payload: dgram,
            });
            return;
        }
        let pkt = Ipv4Packet::new_unchecked(&dgram[..]);
        let hl = pkt.header_len();
        let plan = match FragmentPlan::new(hl, dgram.len() - hl, mtu, pkt.dont_frag()) {
            Ok(p) => p,
            Err(FragmentError::FragNeeded { .. }) | Err(FragmentError::MtuTooSmall { .. }) => {
                self.stats.ip.dropped.frag_needed += 1;
                return;
            }
        };
        let base_off = usize::from(pkt.frag_offset());
        let base_mf = pkt.more_frags();
        let first_header = &dgram[..hl];
        let later_header = header_with_copied_options(first_header);
        let payload = &dgram[hl..];
        self.stats.frag.datagrams_fragmented += 1;
        for (off, len, more) in plan.iter() {
            let h = if off == 0 {
                first_header
            } else {
                &later_header[..]
            };
            let mut f = Vec::with_capacity(h.len() + len);
            f.extend_from_slice(h);
            f.extend_from_slice(&payload[off..off + len]);
            let total = f.len() as u16;
            f[2..4].copy_from_slice(&total.to_be_bytes());
            // RFC 791 §3.2: MF set on all but the last (or when the
            // original was itself a non-last fragment); offset in 8-byte units.
            let mut fo = ((base_off + off) / 8) as u16;
            if more || base_mf {
                fo |= 0x2000;
            }
            f[6..8].copy_from_slice(&fo.to_be_bytes());
            Ipv4Packet::new_unchecked(&mut f[..]).fill_checksum();
            self.stats.frag.fragments_out += 1;
            self.push_tx(TxFrame {
                iface,
                dst,
                ethertype: EtherType::IPV4,
                payload: f,
            });
        }
    }

    fn arp_request(&mut self, iface: IfaceId, target: Ipv4Addr, unicast: Option<MacAddr>) {
        let Some(sender_ip) = self.source_for(iface, target) else {
            return;
        };
        let req = ArpRepr {
            operation: ArpOperation::Request,
            sender_mac: self.ifaces[iface.0].mac,
            sender_ip,
            target_mac: MacAddr::UNSPECIFIED,
            target_ip: target,
        };
        self.stats.arp.requests_out += 1;
        self.push_arp(iface, unicast.unwrap_or(MacAddr::BROADCAST), &req);
    }

    /// RFC 5227 §3: an ARP announcement (request with sender = target).
    fn announce(&mut self, iface: IfaceId, mac: MacAddr, addr: Ipv4Addr) {
        let ann = ArpRepr {
            operation: ArpOperation::Request,
            sender_mac: mac,
            sender_ip: addr,
            target_mac: MacAddr::UNSPECIFIED,
            target_ip: addr,
        };
        self.stats.arp.requests_out += 1;
        self.push_arp(iface, MacAddr::BROADCAST, &ann);
    }

    fn push_arp(&mut self, iface: IfaceId, dst: MacAddr, repr: &ArpRepr) {
        let mut payload = vec![0; repr.buffer_len()];
        if repr.emit(&mut payload).is_ok() {
            self.push_tx(TxFrame {
                iface,
                dst,
                ethertype: EtherType::ARP,
                payload,
            });
        }
    }

    fn push_tx(&mut self, f: TxFrame) {
        if self.tx.len() >= self.config.tx_queue_limit {
            self.stats.link.tx_queue_drops += 1;
            return;
        }
        self.tx.push_back(f);
    }

    /// Builds an IPv4 datagram: header from `repr` (payload_len set by the
    /// caller), then `fill` writes the payload into the slice after it.
    fn build_datagram(repr: &Ipv4Repr, fill: impl FnOnce(&mut [u8])) -> Vec<u8> {
        let mut d = vec![0; repr.buffer_len()];
        let hl = repr.emit(&mut d).expect("buffer sized by buffer_len");
        fill(&mut d[hl..]);
        d
    }

    /// Originates an ICMP message.
    fn send_icmp(
        &mut self,
        now: Instant,
        src: Option<Ipv4Addr>,
        dst: Ipv4Addr,
        msg: &Icmpv4Repr<'_>,
        ttl: Option<u8>,
    ) -> Result<(), SendError> {
        let eg = self.route(src, dst)?;
        // RFC 1122 §3.2.2 / §3.2.2.6: errors and echo replies are never
        // broadcast, whatever the datagram they answer claimed as its
        // source (no smurf reflector). Only an echo request the
        // application asked for may go to a broadcast address.
        if eg.broadcast && !matches!(msg, Icmpv4Repr::EchoRequest { .. }) {
            self.stats.icmp.errors_suppressed += 1;
            return Err(SendError::Broadcast(dst));
        }
        let len = msg.buffer_len();
        if len + 20 > 65535 {
            return Err(SendError::TooLarge);
        }
        let mut repr = Ipv4Repr::new(
            eg.src,
            dst,
            IpProtocol::ICMP,
            ttl.unwrap_or(self.config.default_ttl),
            len,
        );
        repr.ident = self.idents.next(eg.src, dst, IpProtocol::ICMP.0);
        let d = Self::build_datagram(&repr, |b| {
            let _ = msg.emit(b);
        });
        let ty = d[repr.header_len()];
        self.stats.icmp.sent.count(ty);
        self.stats.ip.sent += 1;
        self.dispatch(now, &eg, d);
        Ok(())
    }

    /// Sends an ICMP error about a datagram (`header` + `payload`) to its
    /// source, unless RFC 1122 §3.2.2 / RFC 1812 §4.3.2.7 forbid it.
    fn icmp_error(
        &mut self,
        now: Instant,
        kind: IcmpErrorKind,
        header: &[u8],
        payload: &[u8],
        link_bcast: bool,
    ) {
        let h = Ipv4Packet::new_unchecked(header);
        let (src, dst) = (h.src(), h.dst());
        let is_icmp_error = h.protocol() == IpProtocol::ICMP
            && payload.first().is_some_and(|t| {
                !matches!(*t, msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY | 13..=18)
            });
        // RFC 1122 §3.2.2: not about an ICMP error, a broadcast/multicast
        // destination, a link-layer broadcast, a non-initial fragment, or a
        // source that does not name a single host.
        if is_icmp_error
            || link_bcast
            || dst.is_broadcast()
            || dst.is_multicast()
            || self.is_any_broadcast(dst)
            || h.frag_offset() != 0
            || src.is_unspecified()
            || martian::check_source(
                src,
                Arrival::Loopback,
                |a| self.is_any_broadcast(a),
                |_| false,
            )
            .is_err()
        {
            self.stats.icmp.errors_suppressed += 1;
            return;
        }
        if !self.icmp_limit.allow(now, src, kind) {
            self.stats.icmp.errors_rate_limited += 1;
            return;
        }
        // Quote the header and as much data as fits 576 bytes
        // (RFC 1812 §4.3.2.3; RFC 792 requires at least 8 bytes).
        let take = payload
            .len()
            .min(MAX_ICMP_QUOTE.saturating_sub(header.len()));
        let mut quoted = Vec::with_capacity(header.len() + take);
        quoted.extend_from_slice(header);
        quoted.extend_from_slice(&payload[..take]);
        tracing::debug!(target: "strata::net", %kind, to = %src, about = %dst, "ICMP error out");
        let (ty, code) = kind.type_code();
        let msg = match ty {
            msg_type::TIME_EXCEEDED => Icmpv4Repr::TimeExceeded {
                code,
                quoted: &quoted,
            },
            _ => Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: match kind {
                    IcmpErrorKind::FragmentationNeeded { mtu } => mtu,
                    _ => 0,
                },
                quoted: &quoted,
            },
        };
        // RFC 1812 §4.3.2.4: the source is the address of the interface the
        // error leaves by (chosen by routing).
        let _ = self.send_icmp(now, None, src, &msg, None);
    }

    /// A datagram we could not deliver to the next hop (ARP failed): tell
    /// its sender, locally or with ICMP host unreachable (RFC 1122
    /// §2.3.2.2, RFC 1812 §5.2.7.1).
    fn undeliverable(&mut self, now: Instant, dgram: &[u8]) {
        self.stats.ip.dropped.host_unreachable += 1;
        tracing::debug!(target: "strata::link", len = dgram.len(), "ARP gave up: host unreachable");
        let Ok(pkt) = Ipv4Packet::new_checked(dgram) else {
            return;
        };
        let hl = pkt.header_len();
        if self.is_local_addr(pkt.src()) {
            if pkt.frag_offset() != 0 {
                return;
            }
            if let Some(original) = QuotedDatagram::parse(dgram) {
                self.deliver_error(
                    now,
                    IcmpError {
                        kind: IcmpErrorKind::HostUnreachable,
                        from: pkt.src(),
                        original,
                    },
                );
            }
        } else {
            self.icmp_error(
                now,
                IcmpErrorKind::HostUnreachable,
                &dgram[..hl],
                &dgram[hl..],
                false,
            );
        }
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
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(IfaceId, usize)> {
        loop {
            if let Some((iface, f)) = self.split.pop_front() {
                if buf.len() < f.len() {
                    self.stats.link.tx_buffer_too_small += 1;
                    continue;
                }
                buf[..f.len()].copy_from_slice(&f);
                return Some((iface, f.len()));
            }
            let t = self.poll_transmit_meta(now, buf)?;
            if t.meta.is_plain() {
                return Some((t.iface, t.len));
            }
            let mut pieces = Vec::new();
            let mut scratch = Vec::new();
            let done =
                crate::phy::finish_in_software(&mut buf[..t.len], &t.meta, &mut scratch, |f| {
                    pieces.push(f.to_vec())
                });
            if done.is_err() {
                self.stats.link.malformed += 1;
                continue;
            }
            self.split.extend(pieces.into_iter().map(|mut f| {
                if f.len() < MIN_FRAME_LEN {
                    f.resize(MIN_FRAME_LEN, 0);
                }
                (t.iface, f)
            }));
        }
    }

    /// Like [`Stack::poll_transmit`], for a device that takes offloaded
    /// frames: the frame may be a TCP super-segment (up to the interface's
    /// [`Offloads::tso_max`]; `buf` must hold that plus 14 bytes) or carry
    /// a partial checksum, as its [`TxMeta`] says (such a frame is not
    /// padded: the checksum covers it to its end). Frames of interfaces
    /// without offloads come plain.
    pub fn poll_transmit_meta(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if let Some((iface, f)) = self.split.pop_front() {
            // Left over from `poll_transmit` (a driver mixing the two).
            if buf.len() >= f.len() {
                buf[..f.len()].copy_from_slice(&f);
                return Some(Transmit {
                    iface,
                    len: f.len(),
                    meta: TxMeta::default(),
                });
            }
            self.stats.link.tx_buffer_too_small += 1;
        }
        let plain = |(iface, len)| Transmit {
            iface,
            len,
            meta: TxMeta::default(),
        };
        loop {
            // Loopback first: what it produces (replies) may go anywhere.
            // Each round handles what was queued when it started, so a
            // datagram bouncing between our own sockets cannot spin here.
            for _ in 0..self.loopback.len() {
                if let Some((iface, d)) = self.loopback.pop_front() {
                    self.process_ipv4(now, iface, &d, false, Arrival::Loopback);
                }
            }
            while let Some(f) = self.tx.pop_front() {
                if let Some(out) = self.write_frame(&f, buf) {
                    return Some(plain(out));
                }
            }
            // TCP segments go straight into `buf` when the next hop's MAC is
            // known and no fragmentation is needed; otherwise they take the
            // general path (ARP queue, fragments) and come out of `tx`.
            let Stack {
                ifaces,
                routes,
                config_version,
                route_cache,
                tcp,
                config,
                idents,
                ..
            } = self;
            // RFC 9293 §3.9.2 MUST-49: the TTL of TCP segments is the
            // configurable `StackConfig::default_ttl`.
            let ttl = config.default_ttl;
            let out =
                tcp.poll_transmit_offload(now, |src, dst, dscp, gso, seg| match RouteCache::route(
                    route_cache,
                    *config_version,
                    ifaces,
                    routes,
                    src,
                    dst,
                ) {
                    Some(eg) => tcp_out(
                        now,
                        ifaces,
                        eg,
                        (ttl, dscp, gso),
                        idents,
                        buf,
                        (src, dst),
                        seg,
                    ),
                    None => TcpOut::NoRoute,
                });
            let Some(out) = out else {
                if self.loopback.is_empty() && self.tx.is_empty() {
                    return None;
                }
                continue;
            };
            self.stats.tcp.segments_out += 1;
            self.stats.ip.sent += 1;
            match out {
                TcpOut::Written {
                    iface,
                    len,
                    refresh,
                    meta,
                } => {
                    self.stats.tcp.direct_out += 1;
                    self.stats.link.frames_out += 1;
                    self.stats.link.bytes_out += len as u64;
                    if let Some((ip, mac)) = refresh {
                        self.arp_request(iface, ip, Some(mac));
                    }
                    return Some(Transmit { iface, len, meta });
                }
                TcpOut::Datagram {
                    iface,
                    next_hop,
                    dgram,
                    gso,
                } => {
                    let eg = Egress {
                        iface,
                        next_hop,
                        src: next_hop,
                        broadcast: false,
                    };
                    if gso > 0 && dgram.len() > self.ifaces[iface.0].mtu {
                        // A super-segment that cannot go out as one (no
                        // MAC yet, or no TSO here): cut into segments.
                        for d in split_datagram(&dgram, gso) {
                            self.dispatch(now, &eg, d);
                        }
                    } else {
                        self.dispatch(now, &eg, dgram);
                    }
                }
                TcpOut::NoRoute => self.stats.tcp.no_route += 1,
            }
        }
    }

    /// Writes a queued frame into `buf` (padded to 60 bytes); `None` when
    /// it does not fit (dropped and counted).
    fn write_frame(&mut self, f: &TxFrame, buf: &mut [u8]) -> Option<(IfaceId, usize)> {
        let eth = EthernetRepr {
            dst: f.dst,
            src: self.ifaces[f.iface.0].mac,
            ethertype: f.ethertype,
            vlan: None,
        };
        let hl = eth.header_len();
        let n = hl + f.payload.len();
        if buf.len() < n.max(MIN_FRAME_LEN) {
            self.stats.link.tx_buffer_too_small += 1;
            return None;
        }
        eth.emit(buf).ok()?;
        buf[hl..n].copy_from_slice(&f.payload);
        let n = if n < MIN_FRAME_LEN {
            buf[n..MIN_FRAME_LEN].fill(0);
            MIN_FRAME_LEN
        } else {
            n
        };
        self.stats.link.frames_out += 1;
        self.stats.link.bytes_out += n as u64;
        tracing::debug!(target: "strata::link", iface = %f.iface, dst = %f.dst, len = n, "frame out");
        Some((f.iface, n))
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
        let mut actions = Vec::new();
        for i in 0..self.ifaces.len() {
            if !due(self.ifaces[i].arp.poll_timeout()) {
                continue;
            }
            actions.clear();
            self.ifaces[i].arp.handle_timeout(now, &mut actions);
            for a in actions.drain(..) {
                match a {
                    ArpAction::Request { ip, unicast } => self.arp_request(IfaceId(i), ip, unicast),
                    ArpAction::Failed { packets, .. } => {
                        for p in packets {
                            self.undeliverable(now, &p);
                        }
                    }
                }
            }
        }
        self.run_probes(now);
        if let Some(n) = self.nat.as_mut() {
            if due(n.poll_timeout()) {
                n.handle_timeout(now);
            }
        }
        if !due(self.reasm.poll_timeout()) {
            return;
        }
        let mut expired = Vec::new();
        self.reasm.handle_timeout(now, &mut expired);
        for e in expired {
            // RFC 1122 §3.3.2: time exceeded (reassembly) only if fragment
            // zero had arrived.
            if let Some(q) = e.quote {
                if let Ok(p) = Ipv4Packet::new_checked(&q[..]) {
                    let hl = p.header_len().min(q.len());
                    let _ = p;
                    self.icmp_error(
                        now,
                        IcmpErrorKind::ReassemblyTimeExceeded,
                        &q[..hl],
                        &q[hl..],
                        false,
                    );
                } else if q.len() >= 20 {
                    let hl = (usize::from(q[0] & 0x0f) * 4).clamp(20, q.len());
                    self.icmp_error(
                        now,
                        IcmpErrorKind::ReassemblyTimeExceeded,
                        &q[..hl],
                        &q[hl..],
                        false,
                    );
                }
            }
        }
    }

    /// RFC 5227 probes and announcements due at `now`.
    fn run_probes(&mut self, now: Instant) {
        for k in 0..self.probes.len() {
            loop {
                let jitter = self.jitter();
                let (iface, probe) = &mut self.probes[k];
                let iface = *iface;
                let Some(action) = probe.handle_timeout(now, jitter) else {
                    break;
                };
                let mac = self.ifaces[iface.0].mac;
                match action {
                    ProbeAction::Probe(addr) => {
                        // RFC 5227 §2.1.1: sender IP all zeroes, target the
                        // candidate, target MAC zero.
                        let probe = ArpRepr {
                            operation: ArpOperation::Request,
                            sender_mac: mac,
                            sender_ip: Ipv4Addr::UNSPECIFIED,
                            target_mac: MacAddr::UNSPECIFIED,
                            target_ip: addr,
                        };
                        self.stats.arp.requests_out += 1;
                        self.push_arp(iface, MacAddr::BROADCAST, &probe);
                    }
                    ProbeAction::Assign(cidr) => {
                        if self.assign_address(iface, cidr).is_err() {
                            // Taken meanwhile by add_address: nothing to
                            // announce.
                            self.probes[k].1.abandon();
                            break;
                        }
                    }
                    ProbeAction::Announce(addr) => self.announce(iface, mac, addr),
                }
            }
        }
        self.probes.retain(|(_, p)| !p.is_done());
    }

    /// Negative advice from TCP about the path `src` → `dst` (RFC 9293
    /// §3.8.3 MUST-20, RFC 1122 §3.3.1.4): the cached routing decision is
    /// dropped, and the next hop's ARP entry is made stale so that the next
    /// segment re-confirms it with a unicast request (and a neighbour that
    /// stays silent is forgotten).
    fn negative_advice(&mut self, now: Instant, src: Ipv4Addr, dst: Ipv4Addr) {
        self.stats.tcp.negative_advice += 1;
        self.route_cache = None;
        if let Ok(eg) = route_in(&self.ifaces, &self.routes, Some(src), dst) {
            self.ifaces[eg.iface.0].arp.mark_stale(now, eg.next_hop);
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events
            .pop_front()
            .or_else(|| self.tcp.poll_event().map(Event::Tcp))
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

    /// Builds and dispatches one UDP datagram along `eg`.
    fn udp_emit(
        &mut self,
        now: Instant,
        h: UdpHandle,
        eg: &Egress,
        to: SocketAddrV4,
        payload: &[u8],
    ) -> Result<(), UdpError> {
        let s = self.udp.get(h)?;
        if payload.len() > crate::transport::udp::MAX_PAYLOAD {
            return Err(UdpError::TooLarge(payload.len()));
        }
        if to.port() == 0 {
            return Err(UdpError::PortZero);
        }
        let (local, ttl, broadcast_ok, df) = (s.local, s.ttl, s.broadcast, s.dont_frag);
        let dst = *to.ip();
        if (eg.broadcast || dst.is_broadcast()) && !broadcast_ok {
            // RFC 1122 §4.1.3.6 leaves broadcast to the application's choice.
            return Err(UdpError::BroadcastNotAllowed);
        }
        let udp = UdpRepr {
            src_port: local.port(),
            dst_port: to.port(),
        };
        let mut ip = Ipv4Repr::new(
            eg.src,
            dst,
            IpProtocol::UDP,
            ttl.unwrap_or(self.config.default_ttl),
            udp.buffer_len(payload.len()),
        );
        ip.dont_frag = df;
        let mtu = self.ifaces[eg.iface.0].mtu;
        if df && ip.buffer_len() > mtu {
            return Err(UdpError::MessageTooBig { mtu });
        }
        ip.ident = self.idents.for_datagram(eg.src, dst, IpProtocol::UDP.0, df);
        let d = Self::build_datagram(&ip, |b| {
            let _ = udp.emit(b, eg.src, dst, payload);
        });
        self.stats.udp.datagrams_out += 1;
        self.stats.ip.sent += 1;
        self.udp.get_mut(h)?.stats.sent += 1;
        self.dispatch(now, eg, d);
        Ok(())
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

/// The header for non-initial fragments: only options whose "copied" flag
/// is set (RFC 791 §3.1, option type bit 0x80), padded to 4 bytes.
fn header_with_copied_options(h: &[u8]) -> Vec<u8> {
    if h.len() <= 20 {
        return h.to_vec();
    }
    let mut out = h[..20].to_vec();
    let opts = &h[20..];
    let mut i = 0;
    while i < opts.len() {
        let t = opts[i];
        match t {
            0 => break,
            1 => i += 1,
            _ => {
                let Some(&l) = opts.get(i + 1) else { break };
                let l = usize::from(l);
                if l < 2 || i + l > opts.len() {
                    break;
                }
                if t & 0x80 != 0 {
                    out.extend_from_slice(&opts[i..i + l]);
                }
                i += l;
            }
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out[0] = 0x40 | (out.len() / 4) as u8;
    out
}

/// Our address on `iface` best suited to talk to `peer`: one whose prefix
/// contains it, else the first.
fn source_for(ifaces: &[Interface], iface: IfaceId, peer: Ipv4Addr) -> Option<Ipv4Addr> {
    let i = ifaces.get(iface.0)?;
    i.addrs
        .iter()
        .find(|c| c.contains(peer))
        .or(i.addrs.first())
        .map(|c| c.address())
}

/// True when `ip` is the limited broadcast or the directed broadcast of a
/// prefix on `iface`.
fn is_broadcast_on(ifaces: &[Interface], iface: IfaceId, ip: Ipv4Addr) -> bool {
    ip.is_broadcast()
        || ifaces.get(iface.0).is_some_and(|i| {
            i.addrs
                .iter()
                .any(|c| c.prefix_len() < 31 && c.broadcast() == ip)
        })
}

/// True when `ip` is assigned to one of `ifaces`.
fn is_local(ifaces: &[Interface], ip: Ipv4Addr) -> bool {
    ifaces.iter().any(|i| i.owns(ip))
}

/// True when `ip` is the limited broadcast or the directed broadcast of a
/// prefix on any of `ifaces`.
fn any_broadcast(ifaces: &[Interface], ip: Ipv4Addr) -> bool {
    (0..ifaces.len()).any(|i| is_broadcast_on(ifaces, IfaceId(i), ip))
}

/// Routes `dst` over `ifaces` and `routes` (see [`Stack::route`]).
fn route_in(
    ifaces: &[Interface],
    routes: &RoutingTable,
    src: Option<Ipv4Addr>,
    dst: Ipv4Addr,
) -> Result<Egress, SendError> {
    let src = src.filter(|s| !s.is_unspecified());
    // One of our own addresses: looped back, from itself unless asked.
    if let Some(i) = ifaces.iter().position(|i| i.owns(dst)) {
        return Ok(Egress {
            iface: IfaceId(i),
            next_hop: dst,
            src: src.unwrap_or(dst),
            broadcast: false,
        });
    }
    if dst.is_broadcast() {
        // Limited broadcast: out of the interface owning the source, or
        // the first addressed interface.
        let iface = ifaces
            .iter()
            .position(|i| match src {
                Some(s) => i.addrs.iter().any(|c| c.address() == s),
                None => !i.addrs.is_empty(),
            })
            .map(IfaceId)
            .ok_or(SendError::NoRoute(dst))?;
        let src = src
            .or_else(|| source_for(ifaces, iface, dst))
            .ok_or(SendError::NoSourceAddress(iface))?;
        return Ok(Egress {
            iface,
            next_hop: dst,
            src,
            broadcast: true,
        });
    }
    // RFC 1122 §3.2.1.3: 0/8, 127/8, multicast (no group is joined here)
    // and class E never go onto a link — not even as "unicast to the
    // gateway". Our own addresses were looped back above; a loopback
    // interface's 127/8 addresses are local too and never get here.
    if martian::check_destination(dst, Arrival::Wire).is_err() {
        return Err(SendError::InvalidDestination(dst));
    }
    let r = routes.lookup(dst).ok_or(SendError::NoRoute(dst))?;
    let next_hop = r.next_hop(dst);
    let src = src
        .or_else(|| source_for(ifaces, r.iface, next_hop))
        .ok_or(SendError::NoSourceAddress(r.iface))?;
    Ok(Egress {
        iface: r.iface,
        next_hop,
        src,
        broadcast: r.gateway.is_none() && is_broadcast_on(ifaces, r.iface, dst),
    })
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

/// What [`tcp_out`] did with one segment.
enum TcpOut {
    /// Written into the caller's buffer as a whole frame.
    Written {
        iface: IfaceId,
        len: usize,
        /// A stale ARP entry to revalidate: (next hop, its MAC).
        refresh: Option<(Ipv4Addr, MacAddr)>,
        /// Work left to the device.
        meta: TxMeta,
    },
    /// Built as a datagram for the general path (complete checksums).
    Datagram {
        iface: IfaceId,
        next_hop: Ipv4Addr,
        dgram: Vec<u8>,
        /// The segment size to cut it at if it exceeds the MTU (0: never).
        gso: usize,
    },
    /// No route to the destination.
    NoRoute,
}

/// Emits one TCP segment routed to `eg`: straight into `buf` (Ethernet +
/// IPv4 + TCP) when the next hop's MAC is known and it fits the MTU, else as
/// a datagram.
/// A segment longer than the MTU goes out whole as a super-segment when
/// the interface cuts segments itself (TSO, [`Offloads::tso_max`]), with a
/// partial checksum and a [`Gso`] of `gso` payload bytes per segment.
#[allow(clippy::too_many_arguments)]
fn tcp_out(
    now: Instant,
    ifaces: &mut [Interface],
    eg: Egress,
    (ttl, dscp, gso): (u8, u8, usize),
    idents: &mut IdentGenerator,
    buf: &mut [u8],
    (src, dst): (Ipv4Addr, Ipv4Addr),
    seg: &TcpRepr<'_>,
) -> TcpOut {
    let mut ip = Ipv4Repr::new(src, dst, IpProtocol::TCP, ttl, seg.buffer_len());
    // RFC 9293 §3.9.1.9 MUST-48: the connection's Diffserv codepoint,
    // passed to IP unchanged (SHLD-22).
    ip.dscp = dscp;
    let ifc = &mut ifaces[eg.iface.0];
    let ip_len = ip.buffer_len();
    let offloads = ifc.offloads;
    let super_seg = ip_len > ifc.mtu
        && !ifc.loopback
        && gso > 0
        && gso <= usize::from(u16::MAX)
        && offloads.tso_max.is_some_and(|m| ip_len <= m);
    // RFC 1191: TCP segments carry DF for path MTU discovery, unless the
    // first link already needs them cut (a super-segment is cut by the
    // device into segments that fit, each with DF).
    ip.dont_frag = ip_len <= ifc.mtu || super_seg;
    // RFC 6864 §4.1 / RFC 7739: 0 for atomic datagrams, else a
    // per-destination counter — no global counter for an idle scan.
    ip.ident = idents.for_datagram(src, dst, IpProtocol::TCP.0, ip.dont_frag);
    let eth_len = crate::wire::ethernet::HEADER_LEN;
    if ip.dont_frag && !ifc.loopback && buf.len() >= (eth_len + ip_len).max(MIN_FRAME_LEN) {
        if let Some((mac, refresh)) = ifc.arp.lookup_for_send(now, eg.next_hop) {
            let eth = EthernetRepr {
                dst: mac,
                src: ifc.mac,
                ethertype: EtherType::IPV4,
                vlan: None,
            };
            let tcp_at = eth_len + ip.header_len();
            // The device completes the checksum: always for a super-segment
            // (each piece gets its own), else with checksum offload.
            let partial = super_seg || offloads.tx_checksum;
            let ok = eth.emit(buf).is_ok()
                && ip.emit(&mut buf[eth_len..]).is_ok()
                && if partial {
                    seg.emit_partial_checksum(&mut buf[tcp_at..], src, dst)
                        .is_ok()
                } else {
                    seg.emit(&mut buf[tcp_at..], src, dst).is_ok()
                };
            if ok {
                tracing::debug!(
                    target: "strata::transport",
                    src_port = seg.src_port,
                    dst_port = seg.dst_port,
                    flags = ?seg.flags,
                    seq = seg.seq,
                    len = seg.payload.len(),
                    "TCP segment out"
                );
                tracing::debug!(target: "strata::net", %src, %dst, ttl, len = ip_len, "IPv4 out");
                let mut n = eth_len + ip_len;
                // A partial checksum covers the frame to its end: no
                // padding (the device pads what it puts on a wire).
                if n < MIN_FRAME_LEN && !partial {
                    buf[n..MIN_FRAME_LEN].fill(0);
                    n = MIN_FRAME_LEN;
                }
                let meta = TxMeta {
                    checksum: partial.then_some(PartialChecksum {
                        start: tcp_at as u16,
                        // RFC 9293 §3.1: the checksum field.
                        offset: 16,
                    }),
                    gso: super_seg.then_some(Gso {
                        size: gso as u16,
                        hdr_len: (tcp_at + seg.header_len()) as u16,
                    }),
                };
                return TcpOut::Written {
                    iface: eg.iface,
                    len: n,
                    refresh: refresh.then_some((eg.next_hop, mac)),
                    meta,
                };
            }
        }
    }
    let mut d = vec![0; ip_len];
    let hl = ip.emit(&mut d).unwrap_or(20);
    let _ = seg.emit(&mut d[hl..], src, dst);
    TcpOut::Datagram {
        iface: eg.iface,
        next_hop: eg.next_hop,
        dgram: d,
        gso,
    }
}

/// Cuts a TCP super-segment datagram (complete checksum or not) into
/// datagrams of `gso` payload bytes with complete checksums.
fn split_datagram(dgram: &[u8], gso: usize) -> Vec<Vec<u8>> {
    let eth = crate::wire::ethernet::HEADER_LEN;
    let mut frame = vec![0u8; eth];
    frame[12..14].copy_from_slice(&EtherType::IPV4.0.to_be_bytes());
    frame.extend_from_slice(dgram);
    let hdr_len = 0; // recomputed by the splitter from the headers
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    let g = Gso {
        size: gso.min(usize::from(u16::MAX)) as u16,
        hdr_len,
    };
    let _ = crate::phy::split_super_frame(&frame, g, &mut scratch, |f| out.push(f[eth..].to_vec()));
    out
}

/// True when `frame` is Ethernet + IPv4 (not a fragment) + TCP: the only
/// frames whose checksum a device's word may spare (see
/// [`Stack::receive_meta`]).
fn is_whole_tcp_v4(frame: &[u8]) -> bool {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return false;
    };
    if eth.ethertype() != EtherType::IPV4 || eth.vlan().is_some() {
        return false;
    }
    let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
        return false;
    };
    ip.protocol() == IpProtocol::TCP && !ip.more_frags() && ip.frag_offset() == 0
}

/// A reassembled datagram as one buffer: the first fragment's header with
/// the total length set and the fragment fields cleared (DF kept).
fn whole_datagram(header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(header.len() + payload.len());
    d.extend_from_slice(header);
    d.extend_from_slice(payload);
    let total = u16::try_from(d.len()).unwrap_or(u16::MAX);
    d[2..4].copy_from_slice(&total.to_be_bytes());
    d[6] &= 0x40;
    d[7] = 0;
    Ipv4Packet::new_unchecked(&mut d[..header.len()]).fill_checksum();
    d
}

/// The protocol of a datagram and, for UDP and TCP, its destination port
/// (`None` when too short to say).
fn nat_ports(d: &[u8]) -> Option<(IpProtocol, Option<(NatProtocol, u16)>)> {
    let hl = usize::from(*d.first()? & 0x0f) * 4;
    let proto = IpProtocol(*d.get(9)?);
    let l4 = d.get(hl..)?;
    let port = |p| l4.get(2..4).map(|b| (p, u16::from_be_bytes([b[0], b[1]])));
    let dport = match proto {
        IpProtocol::UDP => port(NatProtocol::Udp),
        IpProtocol::TCP => port(NatProtocol::Tcp),
        _ => None,
    };
    Some((proto, dport))
}
