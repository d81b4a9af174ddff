//! Network address and port translation (NAPT, RFC 3022) for a router
//! whose inside networks use private addresses and whose one outside
//! interface has one public address.
//!
//! The behaviour follows the BEHAVE requirements:
//!
//! * **Mapping** is endpoint-independent (RFC 4787 §4.1 REQ-1, RFC 5382
//!   REQ-1): an inside endpoint (address, port) keeps one outside port
//!   whatever it talks to, for as long as any of its sessions lives.
//! * **Filtering** is a choice ([`Filtering`]): address-dependent by default
//!   (RFC 4787 §5 REQ-8 allows it "if it is more important to have strict
//!   filtering"), or endpoint-independent (REQ-8's recommendation, for
//!   peer-to-peer applications). Unsolicited inbound packets that no
//!   mapping admits are dropped silently and counted
//!   ([`NatStats::dropped_unsolicited`]); RFC 5382 REQ-4 allows the silent
//!   drop for an unsolicited SYN.
//! * **Port assignment** preserves the inside port when it is free (RFC 4787
//!   §4.2.1, "port preservation"), else takes the next free port of the same
//!   range: 1–1023 for an inside port below 1024, 1024–65535 for the others
//!   (REQ-3). Ports the router's own sockets hold are never assigned.
//! * **Timeouts** ([`NatConfig`]): UDP 5 minutes (REQ-5: not less than
//!   2 minutes, 5 recommended); TCP established 2 h 4 min (RFC 5382 REQ-5),
//!   transitory (handshake not finished, after FINs both ways or an RST)
//!   4 minutes; ICMP query 60 s (RFC 5508 REQ-1). Both directions refresh
//!   a session (REQ-6: outbound refresh MUST; inbound MAY).
//! * **ICMP**: echo requests are mapped by their identifier (RFC 5508 §3.1,
//!   REQ-1); ICMP errors about a mapped session are translated both ways,
//!   the outer and the quoted header and the quoted port, with every
//!   checksum fixed (RFC 5508 §4.2 REQ-3, REQ-4); an error matching no
//!   mapping is not forwarded.
//! * **Hairpinning** (RFC 4787 §6 REQ-9, RFC 5382 REQ-8): an inside host may
//!   reach another inside host through its outside address and port; the
//!   packet goes back in with its source translated to the sender's own
//!   outside address and port (REQ-9 b), so both hosts see outside
//!   endpoints only.
//! * **Fragments** (RFC 4787 REQ-14): the router reassembles fragmented
//!   datagrams it translates (only the first fragment carries the ports)
//!   and fragments them again for the next link.
//!
//! Only UDP, TCP and ICMP are translated; a datagram of another protocol
//! from inside is dropped ([`NatStats::dropped_unsupported`]).
//!
//! [`Nat`] is a table with packet rewriting functions; the
//! [`Stack`](crate::stack::Stack) calls them on its forwarding path once
//! [`Stack::enable_nat`](crate::stack::Stack::enable_nat) named the outside
//! interface.

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::BTreeMap;

use crate::link::IfaceId;
use crate::time::{Duration, Instant};
use crate::wire::checksum;
use crate::wire::icmpv4::msg_type;
use crate::wire::ipv4::IpProtocol;

/// Which inbound packets a mapping admits (RFC 4787 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filtering {
    /// Any outside endpoint may send to a mapped port (RFC 4787 §5,
    /// "Endpoint-Independent Filtering").
    EndpointIndependent,
    /// Only outside addresses the inside endpoint has sent to may send
    /// back, from any port (RFC 4787 §5, "Address-Dependent Filtering").
    AddressDependent,
}

/// Settings of a [`Nat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatConfig {
    /// Inbound filtering.
    pub filtering: Filtering,
    /// Idle time after which a UDP session ends (RFC 4787 REQ-5: at least
    /// 2 minutes; 5 recommended and the default).
    pub udp_timeout: Duration,
    /// Idle time of an established TCP connection (RFC 5382 REQ-5: at least
    /// 2 hours 4 minutes, the default).
    pub tcp_established_timeout: Duration,
    /// Idle time of a TCP connection in its opening or closing phases
    /// (RFC 5382 REQ-5: at least 4 minutes, the default).
    pub tcp_transitory_timeout: Duration,
    /// Idle time of an ICMP query mapping (RFC 5508 REQ-1: at least 60 s,
    /// the default).
    pub icmp_timeout: Duration,
    /// Most mappings at once; a new inside endpoint beyond it is dropped
    /// ([`NatStats::dropped_no_mapping`]).
    pub max_mappings: usize,
    /// Most remote endpoints one mapping tracks (older ones beyond this are
    /// forgotten first).
    pub max_sessions_per_mapping: usize,
}

impl Default for NatConfig {
    fn default() -> Self {
        NatConfig {
            filtering: Filtering::AddressDependent,
            udp_timeout: Duration::from_secs(300),
            tcp_established_timeout: Duration::from_secs(2 * 3600 + 4 * 60),
            tcp_transitory_timeout: Duration::from_secs(240),
            icmp_timeout: Duration::from_secs(60),
            max_mappings: 4096,
            max_sessions_per_mapping: 64,
        }
    }
}

/// What a mapping translates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NatProtocol {
    /// UDP ports.
    Udp,
    /// TCP ports.
    Tcp,
    /// ICMP query identifiers (echo).
    Icmp,
}

impl NatProtocol {
    fn of(p: IpProtocol) -> Option<NatProtocol> {
        match p {
            IpProtocol::UDP => Some(NatProtocol::Udp),
            IpProtocol::TCP => Some(NatProtocol::Tcp),
            IpProtocol::ICMP => Some(NatProtocol::Icmp),
            _ => None,
        }
    }

    /// "udp", "tcp" or "icmp".
    pub fn name(self) -> &'static str {
        match self {
            NatProtocol::Udp => "udp",
            NatProtocol::Tcp => "tcp",
            NatProtocol::Icmp => "icmp",
        }
    }
}

/// NAT counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatStats {
    /// Datagrams translated on their way out.
    pub translated_out: u64,
    /// Datagrams translated on their way in.
    pub translated_in: u64,
    /// ICMP errors whose quoted datagram was translated (both ways).
    pub icmp_errors_translated: u64,
    /// Datagrams from inside to an inside host's outside endpoint, turned
    /// back in (hairpinning).
    pub hairpinned: u64,
    /// Mappings made.
    pub mappings_created: u64,
    /// Mappings that timed out.
    pub mappings_expired: u64,
    /// Inbound datagrams no mapping admitted (unsolicited, or filtered).
    pub dropped_unsolicited: u64,
    /// Outbound datagrams of a protocol NAPT cannot translate.
    pub dropped_unsupported: u64,
    /// Outbound datagrams for which no mapping could be made (table full
    /// or no free port).
    pub dropped_no_mapping: u64,
    /// Datagrams too short to hold the ports they need, or ICMP errors
    /// quoting nothing usable.
    pub dropped_malformed: u64,
}

/// One mapping as [`Nat::mappings`] shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingInfo {
    /// Protocol.
    pub protocol: NatProtocol,
    /// The inside endpoint (for ICMP the port is the echo identifier).
    pub internal: SocketAddrV4,
    /// The outside port (or identifier).
    pub external_port: u16,
    /// Remote endpoints it has sessions with.
    pub sessions: usize,
    /// When it ends unless refreshed.
    pub expires: Instant,
}

/// TCP state as the NAT sees it (RFC 5382 §5: established or transitory).
#[derive(Debug, Clone, Copy, Default)]
struct TcpSeen {
    syn_out: bool,
    syn_in: bool,
    fin_out: bool,
    fin_in: bool,
    rst: bool,
}

impl TcpSeen {
    fn established(&self) -> bool {
        self.syn_out && self.syn_in && !self.rst && !(self.fin_out && self.fin_in)
    }
    fn update(&mut self, flags: u8, outbound: bool) {
        const FIN: u8 = 0x01;
        const SYN: u8 = 0x02;
        const RST: u8 = 0x04;
        if flags & RST != 0 {
            self.rst = true;
        }
        if flags & SYN != 0 {
            // A new SYN after an RST or a close starts the connection over.
            if self.rst || (self.fin_out && self.fin_in) {
                *self = TcpSeen::default();
            }
            if outbound {
                self.syn_out = true;
            } else {
                self.syn_in = true;
            }
        }
        if flags & FIN != 0 {
            if outbound {
                self.fin_out = true;
            } else {
                self.fin_in = true;
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Session {
    expires: Instant,
    tcp: TcpSeen,
}

#[derive(Debug, Clone)]
struct Entry {
    internal: SocketAddrV4,
    /// Remote endpoint → session.
    sessions: BTreeMap<SocketAddrV4, Session>,
    expires: Instant,
}

/// The translation table of a NAPT router. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Nat {
    config: NatConfig,
    outside: IfaceId,
    by_internal: BTreeMap<(NatProtocol, SocketAddrV4), u16>,
    by_external: BTreeMap<(NatProtocol, u16), Entry>,
    /// No mapping ends before this (a lower bound; refreshes only move
    /// expiries later).
    next_expiry: Option<Instant>,
    stats: NatStats,
}

/// What [`Nat::inbound`] did with a datagram to the outside address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// Rewritten for this inside host.
    Translated(Ipv4Addr),
    /// A mapping exists but filtering refused the sender.
    Filtered,
    /// No mapping for it (the router itself may own the port).
    NoMapping,
    /// Too short or malformed to translate.
    Malformed,
}

/// What [`Nat::outbound`] did with a datagram from inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outbound {
    /// Rewritten with the outside address.
    Translated,
    /// Dropped (counted).
    Dropped,
}

// Field offsets within UDP/TCP/ICMP headers.
const SPORT: core::ops::Range<usize> = 0..2;
const DPORT: core::ops::Range<usize> = 2..4;
const UDP_CSUM: core::ops::Range<usize> = 6..8;
const TCP_CSUM: core::ops::Range<usize> = 16..18;
const TCP_FLAGS: usize = 13;
const ICMP_CSUM: core::ops::Range<usize> = 2..4;
const ICMP_IDENT: core::ops::Range<usize> = 4..6;
const IP_SRC: core::ops::Range<usize> = 12..16;
const IP_DST: core::ops::Range<usize> = 16..20;

fn be16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    u16::from_be_bytes([b[r.start], b[r.start + 1]])
}

fn addr_at(b: &[u8], r: core::ops::Range<usize>) -> Ipv4Addr {
    Ipv4Addr::new(b[r.start], b[r.start + 1], b[r.start + 2], b[r.start + 3])
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field `old` → `new`.
fn adjust16(csum: u16, old: u16, new: u16) -> u16 {
    !checksum::fold(u64::from(!csum) + u64::from(!old) + u64::from(new))
}

fn adjust_addr(csum: u16, old: Ipv4Addr, new: Ipv4Addr) -> u16 {
    let (o, n) = (old.to_bits(), new.to_bits());
    let c = adjust16(csum, (o >> 16) as u16, (n >> 16) as u16);
    adjust16(c, o as u16, n as u16)
}

/// Rewrites a checksum field at `at` in `b` (if present) for an address
/// and a port change. `udp`: a zero checksum means "none" and stays zero
/// (RFC 768), and a computed zero is sent as all ones.
fn fix_l4(
    b: &mut [u8],
    at: core::ops::Range<usize>,
    udp: bool,
    addr: (Ipv4Addr, Ipv4Addr),
    port: Option<(u16, u16)>,
) {
    if b.len() < at.end {
        return;
    }
    let old = be16(b, at.clone());
    if udp && old == 0 {
        return;
    }
    let mut c = adjust_addr(old, addr.0, addr.1);
    if let Some((o, n)) = port {
        c = adjust16(c, o, n);
    }
    if udp && c == 0 {
        c = 0xffff;
    }
    b[at].copy_from_slice(&c.to_be_bytes());
}

/// Recomputes an IPv4 header checksum in place.
fn fill_ip_checksum(h: &mut [u8]) {
    h[10] = 0;
    h[11] = 0;
    let c = checksum::checksum(h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Recomputes the ICMP checksum over the whole message.
fn fill_icmp_checksum(icmp: &mut [u8]) {
    icmp[ICMP_CSUM].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(icmp);
    icmp[ICMP_CSUM].copy_from_slice(&c.to_be_bytes());
}

fn is_icmp_error(t: u8) -> bool {
    // RFC 5508 §4: destination unreachable, time exceeded, parameter
    // problem (and source quench, deprecated but still an error).
    matches!(
        t,
        msg_type::DST_UNREACHABLE | msg_type::TIME_EXCEEDED | 4 | 12
    )
}

/// Where the parts of a whole datagram are: header length, protocol.
fn ip_parts(d: &[u8]) -> Option<(usize, IpProtocol)> {
    if d.len() < 20 {
        return None;
    }
    let hl = usize::from(d[0] & 0x0f) * 4;
    if hl < 20 || d.len() < hl {
        return None;
    }
    Some((hl, IpProtocol(d[9])))
}

impl Nat {
    /// A NAT whose outside interface is `outside`.
    pub fn new(outside: IfaceId, config: NatConfig) -> Nat {
        Nat {
            config,
            outside,
            by_internal: BTreeMap::new(),
            by_external: BTreeMap::new(),
            next_expiry: None,
            stats: NatStats::default(),
        }
    }

    /// The outside interface.
    pub fn outside(&self) -> IfaceId {
        self.outside
    }

    /// The settings.
    pub fn config(&self) -> &NatConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> NatStats {
        self.stats
    }

    /// Number of live mappings.
    pub fn mapping_count(&self) -> usize {
        self.by_external.len()
    }

    /// Every mapping, ordered by protocol and outside port.
    pub fn mappings(&self) -> impl Iterator<Item = MappingInfo> + '_ {
        self.by_external.iter().map(|(&(p, port), e)| MappingInfo {
            protocol: p,
            internal: e.internal,
            external_port: port,
            sessions: e.sessions.len(),
            expires: e.expires,
        })
    }

    /// The outside port of an inside endpoint's mapping, if it has one.
    pub fn lookup(&self, protocol: NatProtocol, internal: SocketAddrV4) -> Option<u16> {
        self.by_internal.get(&(protocol, internal)).copied()
    }

    /// When the next mapping may end.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_expiry
    }

    /// Ends the sessions and mappings whose time has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_expiry.is_none_or(|t| t > now) {
            return;
        }
        let mut next: Option<Instant> = None;
        let mut dead = Vec::new();
        for (k, e) in self.by_external.iter_mut() {
            e.sessions.retain(|_, s| s.expires > now);
            e.expires = e.sessions.values().map(|s| s.expires).max().unwrap_or(now);
            if e.sessions.is_empty() {
                dead.push(*k);
            } else {
                let first = e.sessions.values().map(|s| s.expires).min();
                next = match (next, first) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        for k in dead {
            if let Some(e) = self.by_external.remove(&k) {
                self.by_internal.remove(&(k.0, e.internal));
                self.stats.mappings_expired += 1;
            }
        }
        self.next_expiry = next;
    }

    fn timeout_for(&self, p: NatProtocol, tcp: &TcpSeen) -> Duration {
        match p {
            NatProtocol::Udp => self.config.udp_timeout,
            NatProtocol::Icmp => self.config.icmp_timeout,
            // RFC 5382 REQ-5: established 2 h 4 min, transitory 4 min.
            NatProtocol::Tcp if tcp.established() => self.config.tcp_established_timeout,
            NatProtocol::Tcp => self.config.tcp_transitory_timeout,
        }
    }

    /// Creates or refreshes the session with `remote` of mapping `key`.
    fn touch(
        &mut self,
        now: Instant,
        key: (NatProtocol, u16),
        remote: SocketAddrV4,
        tcp_flags: Option<u8>,
        outbound: bool,
    ) {
        let max = self.config.max_sessions_per_mapping.max(1);
        let Some(e) = self.by_external.get_mut(&key) else {
            return;
        };
        if !e.sessions.contains_key(&remote) && e.sessions.len() >= max {
            // Forget the session closest to its end.
            if let Some(old) = e
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(r, _)| *r)
            {
                e.sessions.remove(&old);
            }
        }
        let s = e.sessions.entry(remote).or_insert(Session {
            expires: now,
            tcp: TcpSeen::default(),
        });
        if let Some(f) = tcp_flags {
            s.tcp.update(f, outbound);
        }
        let tcp = s.tcp;
        let t = now + self.timeout_for(key.0, &tcp);
        let e = self.by_external.get_mut(&key).expect("present above");
        let s = e.sessions.get_mut(&remote).expect("inserted above");
        s.expires = t;
        e.expires = e.sessions.values().map(|s| s.expires).max().unwrap_or(t);
        self.next_expiry = Some(self.next_expiry.map_or(t, |n| n.min(t)));
    }

    /// The mapping of `internal`, made if needed: the inside port when it
    /// is free (port preservation, RFC 4787 §4.2.1), else the next free one
    /// in the same range (REQ-3).
    fn map(
        &mut self,
        p: NatProtocol,
        internal: SocketAddrV4,
        in_use: &dyn Fn(NatProtocol, u16) -> bool,
    ) -> Option<u16> {
        if let Some(&port) = self.by_internal.get(&(p, internal)) {
            return Some(port);
        }
        if self.by_external.len() >= self.config.max_mappings {
            return None;
        }
        let want = internal.port();
        // RFC 4787 REQ-3: 0–1023 maps into 1–1023, the rest into 1024–65535.
        // ICMP identifiers use the whole space.
        let (lo, hi) = match p {
            NatProtocol::Icmp => (0u16, u16::MAX),
            _ if want < 1024 => (1, 1023),
            _ => (1024, u16::MAX),
        };
        let free = |port: u16| !self.by_external.contains_key(&(p, port)) && !in_use(p, port);
        let span = u32::from(hi - lo) + 1;
        let start = want.clamp(lo, hi);
        let port = (0..span)
            .map(|i| (u32::from(start - lo) + i) % span + u32::from(lo))
            .map(|v| v as u16)
            .find(|&port| free(port))?;
        self.by_internal.insert((p, internal), port);
        self.by_external.insert(
            (p, port),
            Entry {
                internal,
                sessions: BTreeMap::new(),
                expires: Instant::ZERO,
            },
        );
        self.stats.mappings_created += 1;
        Some(port)
    }

    /// Translates a whole (unfragmented or reassembled) datagram from
    /// inside on its way out through the outside address `ext`. `in_use`
    /// says which outside ports the router's own sockets hold.
    pub(crate) fn outbound(
        &mut self,
        now: Instant,
        ext: Ipv4Addr,
        d: &mut [u8],
        in_use: &dyn Fn(NatProtocol, u16) -> bool,
    ) -> Outbound {
        let Some((hl, proto)) = ip_parts(d) else {
            self.stats.dropped_malformed += 1;
            return Outbound::Dropped;
        };
        let Some(p) = NatProtocol::of(proto) else {
            self.stats.dropped_unsupported += 1;
            return Outbound::Dropped;
        };
        let src = addr_at(d, IP_SRC);
        let dst = addr_at(d, IP_DST);
        let (h, l4) = d.split_at_mut(hl);
        match p {
            NatProtocol::Udp | NatProtocol::Tcp => {
                if l4.len() < 4 || (p == NatProtocol::Tcp && l4.len() < 14) {
                    self.stats.dropped_malformed += 1;
                    return Outbound::Dropped;
                }
                let sport = be16(l4, SPORT);
                let dport = be16(l4, DPORT);
                let internal = SocketAddrV4::new(src, sport);
                let Some(port) = self.map(p, internal, in_use) else {
                    self.stats.dropped_no_mapping += 1;
                    return Outbound::Dropped;
                };
                let flags = (p == NatProtocol::Tcp).then(|| l4[TCP_FLAGS]);
                self.touch(now, (p, port), SocketAddrV4::new(dst, dport), flags, true);
                l4[SPORT].copy_from_slice(&port.to_be_bytes());
                let (csum, udp) = match p {
                    NatProtocol::Udp => (UDP_CSUM, true),
                    _ => (TCP_CSUM, false),
                };
                fix_l4(l4, csum, udp, (src, ext), Some((sport, port)));
            }
            NatProtocol::Icmp => {
                if l4.len() < 8 {
                    self.stats.dropped_malformed += 1;
                    return Outbound::Dropped;
                }
                let t = l4[0];
                if t == msg_type::ECHO_REQUEST {
                    // RFC 5508 §3.1: the identifier is the query's "port".
                    let ident = be16(l4, ICMP_IDENT);
                    let internal = SocketAddrV4::new(src, ident);
                    let Some(id) = self.map(p, internal, in_use) else {
                        self.stats.dropped_no_mapping += 1;
                        return Outbound::Dropped;
                    };
                    self.touch(now, (p, id), SocketAddrV4::new(dst, 0), None, true);
                    l4[ICMP_IDENT].copy_from_slice(&id.to_be_bytes());
                    let c = adjust16(be16(l4, ICMP_CSUM), ident, id);
                    l4[ICMP_CSUM].copy_from_slice(&c.to_be_bytes());
                } else if is_icmp_error(t) {
                    // RFC 5508 §4.2 REQ-4: an inside host's error about a
                    // datagram that came in through a mapping: the quote's
                    // destination is the inside endpoint.
                    if !self.translate_quote(ext, l4, false) {
                        return Outbound::Dropped;
                    }
                } else {
                    // Echo replies and other queries from inside answer
                    // nothing we mapped.
                    self.stats.dropped_unsupported += 1;
                    return Outbound::Dropped;
                }
            }
        }
        h[IP_SRC].copy_from_slice(&ext.octets());
        fill_ip_checksum(h);
        self.stats.translated_out += 1;
        Outbound::Translated
    }

    /// Translates a whole datagram that arrived for the outside address
    /// `ext` back to the inside endpoint of its mapping.
    pub(crate) fn inbound(&mut self, now: Instant, ext: Ipv4Addr, d: &mut [u8]) -> Inbound {
        let Some((hl, proto)) = ip_parts(d) else {
            return Inbound::Malformed;
        };
        let Some(p) = NatProtocol::of(proto) else {
            return Inbound::NoMapping;
        };
        let src = addr_at(d, IP_SRC);
        let (h, l4) = d.split_at_mut(hl);
        let internal = match p {
            NatProtocol::Udp | NatProtocol::Tcp => {
                if l4.len() < 4 || (p == NatProtocol::Tcp && l4.len() < 14) {
                    return Inbound::Malformed;
                }
                let sport = be16(l4, SPORT);
                let dport = be16(l4, DPORT);
                let key = (p, dport);
                let Some(internal) = self.admit(key, src) else {
                    return self.refused(key);
                };
                let flags = (p == NatProtocol::Tcp).then(|| l4[TCP_FLAGS]);
                self.touch(now, key, SocketAddrV4::new(src, sport), flags, false);
                l4[DPORT].copy_from_slice(&internal.port().to_be_bytes());
                let (csum, udp) = match p {
                    NatProtocol::Udp => (UDP_CSUM, true),
                    _ => (TCP_CSUM, false),
                };
                fix_l4(
                    l4,
                    csum,
                    udp,
                    (ext, *internal.ip()),
                    Some((dport, internal.port())),
                );
                internal
            }
            NatProtocol::Icmp => {
                if l4.len() < 8 {
                    return Inbound::Malformed;
                }
                let t = l4[0];
                if t == msg_type::ECHO_REPLY {
                    let id = be16(l4, ICMP_IDENT);
                    let key = (p, id);
                    let Some(internal) = self.admit(key, src) else {
                        return self.refused(key);
                    };
                    self.touch(now, key, SocketAddrV4::new(src, 0), None, false);
                    l4[ICMP_IDENT].copy_from_slice(&internal.port().to_be_bytes());
                    let c = adjust16(be16(l4, ICMP_CSUM), id, internal.port());
                    l4[ICMP_CSUM].copy_from_slice(&c.to_be_bytes());
                    internal
                } else if is_icmp_error(t) {
                    // RFC 5508 §4.2 REQ-3: an error about a datagram that
                    // went out through a mapping.
                    match self.quoted_mapping(ext, l4) {
                        Some(internal) => {
                            if !self.translate_quote(ext, l4, true) {
                                return Inbound::Malformed;
                            }
                            SocketAddrV4::new(internal, 0)
                        }
                        None => return Inbound::NoMapping,
                    }
                } else {
                    // Echo requests to the router and the like: its own.
                    return Inbound::NoMapping;
                }
            }
        };
        h[IP_DST].copy_from_slice(&internal.ip().octets());
        fill_ip_checksum(h);
        self.stats.translated_in += 1;
        Inbound::Translated(*internal.ip())
    }

    fn refused(&mut self, key: (NatProtocol, u16)) -> Inbound {
        if self.by_external.contains_key(&key) {
            self.stats.dropped_unsolicited += 1;
            Inbound::Filtered
        } else {
            Inbound::NoMapping
        }
    }

    /// Counts an unsolicited inbound datagram that the router did not take
    /// for itself either.
    pub(crate) fn count_unsolicited(&mut self) {
        self.stats.dropped_unsolicited += 1;
    }

    /// Counts a datagram turned back in (hairpinning).
    pub(crate) fn count_hairpin(&mut self) {
        self.stats.hairpinned += 1;
    }

    /// The inside endpoint of mapping `key` if its filtering admits `src`.
    fn admit(&self, key: (NatProtocol, u16), src: Ipv4Addr) -> Option<SocketAddrV4> {
        let e = self.by_external.get(&key)?;
        let ok = match self.config.filtering {
            // RFC 4787 §5: any sender.
            Filtering::EndpointIndependent => true,
            // RFC 4787 §5: only addresses the inside endpoint sent to.
            Filtering::AddressDependent => e.sessions.keys().any(|r| *r.ip() == src),
        };
        ok.then_some(e.internal)
    }

    /// Whether a datagram to `ext:port` of `protocol` has a mapping (used
    /// to tell hairpin traffic from traffic for the router itself).
    pub(crate) fn has_mapping(&self, protocol: IpProtocol, d: &[u8]) -> bool {
        let Some((hl, _)) = ip_parts(d) else {
            return false;
        };
        let l4 = &d[hl..];
        match NatProtocol::of(protocol) {
            Some(p @ (NatProtocol::Udp | NatProtocol::Tcp)) if l4.len() >= 4 => {
                self.by_external.contains_key(&(p, be16(l4, DPORT)))
            }
            Some(NatProtocol::Icmp) if l4.len() >= 8 && l4[0] == msg_type::ECHO_REPLY => self
                .by_external
                .contains_key(&(NatProtocol::Icmp, be16(l4, ICMP_IDENT))),
            _ => false,
        }
    }

    /// The inside address an inbound ICMP error is about: its quote must be
    /// a datagram from `ext` through a live mapping.
    fn quoted_mapping(&self, ext: Ipv4Addr, icmp: &[u8]) -> Option<Ipv4Addr> {
        let q = icmp.get(8..)?;
        let (qhl, qproto) = ip_parts(q)?;
        if addr_at(q, IP_SRC) != ext {
            return None;
        }
        let p = NatProtocol::of(qproto)?;
        let ql4 = q.get(qhl..)?;
        let port = match p {
            NatProtocol::Icmp if ql4.len() >= 8 && ql4[0] == msg_type::ECHO_REQUEST => {
                be16(ql4, ICMP_IDENT)
            }
            NatProtocol::Udp | NatProtocol::Tcp if ql4.len() >= 4 => be16(ql4, SPORT),
            _ => return None,
        };
        self.by_external.get(&(p, port)).map(|e| *e.internal.ip())
    }

    /// Rewrites the datagram quoted in an ICMP error (RFC 5508 §4.2):
    /// inbound, the quote's source `ext:port` becomes the inside endpoint;
    /// outbound, the quote's destination (the inside endpoint) becomes
    /// `ext:port`. Fixes the quoted IP checksum, the quoted transport
    /// checksum when the quote holds it, and the ICMP checksum. False (and
    /// counted) when the quote matches no mapping.
    fn translate_quote(&mut self, ext: Ipv4Addr, icmp: &mut [u8], inbound: bool) -> bool {
        let Some(q) = icmp.get(8..) else {
            self.stats.dropped_malformed += 1;
            return false;
        };
        let Some((qhl, qproto)) = ip_parts(q) else {
            self.stats.dropped_malformed += 1;
            return false;
        };
        let Some(p) = NatProtocol::of(qproto) else {
            self.stats.dropped_malformed += 1;
            return false;
        };
        let (addr_field, port_field) = if inbound {
            (IP_SRC, SPORT)
        } else {
            (IP_DST, DPORT)
        };
        let qaddr = addr_at(q, addr_field.clone());
        let ql4 = &q[qhl..];
        let port_field = match p {
            NatProtocol::Icmp => ICMP_IDENT,
            _ => port_field,
        };
        if ql4.len() < port_field.end {
            self.stats.dropped_malformed += 1;
            return false;
        }
        let qport = be16(ql4, port_field.clone());
        let (new_addr, new_port) = if inbound {
            if qaddr != ext {
                return false;
            }
            match self.by_external.get(&(p, qport)) {
                Some(e) => (*e.internal.ip(), e.internal.port()),
                None => return false,
            }
        } else {
            match self.by_internal.get(&(p, SocketAddrV4::new(qaddr, qport))) {
                Some(&port) => (ext, port),
                None => {
                    self.stats.dropped_unsolicited += 1;
                    return false;
                }
            }
        };
        let q = &mut icmp[8..];
        let (qh, ql4) = q.split_at_mut(qhl);
        qh[addr_field].copy_from_slice(&new_addr.octets());
        fill_ip_checksum(qh);
        ql4[port_field.clone()].copy_from_slice(&new_port.to_be_bytes());
        match p {
            NatProtocol::Udp => fix_l4(
                ql4,
                UDP_CSUM,
                true,
                (qaddr, new_addr),
                Some((qport, new_port)),
            ),
            NatProtocol::Tcp => fix_l4(
                ql4,
                TCP_CSUM,
                false,
                (qaddr, new_addr),
                Some((qport, new_port)),
            ),
            NatProtocol::Icmp => {
                if ql4.len() >= 4 {
                    let c = adjust16(be16(ql4, ICMP_CSUM), qport, new_port);
                    ql4[ICMP_CSUM].copy_from_slice(&c.to_be_bytes());
                }
            }
        }
        fill_icmp_checksum(icmp);
        self.stats.icmp_errors_translated += 1;
        true
    }
}
