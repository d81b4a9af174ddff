//! The stack's counters, one struct per layer, gathered in [`Stats`]
//! ([`Stack::stats`](crate::stack::Stack::stats) returns them). Each
//! layer's processing (`link/`, `net/`, `transport/`) counts into its own
//! part; the types are re-exported from [`crate::stack`].

use crate::net::frag::ReassemblyStats;
use crate::wire::icmpv4::msg_type;

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
    pub(crate) fn count(&mut self, ty: u8) {
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
/// [`Stack::tcp_stats`](crate::stack::Stack::tcp_stats)).
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
    /// Segments the engine emitted that never reached the link: they
    /// waited for ARP resolution and were dropped when it failed or when
    /// the neighbour's queue overflowed (RFC 1122 §2.3.2.2). They are in
    /// `segments_out` and in the engine's counters (a retransmission among
    /// them was counted as one), but no capture shows them.
    pub neighbour_drops: u64,
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
