//! IPv4 egress: the routing decision (RFC 1122 §3.3.4.3 source choice,
//! cached per TCP flow), loopback, the hand-off to ARP, fragmentation for
//! the link's MTU (RFC 791 §3.2), and TCP segments written straight into
//! the caller's buffer when the next hop's MAC is known.

use super::frag::{FragmentError, FragmentPlan};
use super::ident::IdentGenerator;
use super::martian::{self, Arrival};
use super::route::RoutingTable;
use crate::link::arp::{ArpCache, Resolve};
use crate::link::ethernet::TxFrame;
use crate::link::interface::{is_broadcast_on, source_for, Interface};
use crate::link::IfaceId;
use crate::phy::{FrameSink, Gso, PartialChecksum, TxMeta};
use crate::stack::{SendError, Stack, Transmit};
use crate::time::Instant;
use crate::wire::ethernet::{EtherType, EthernetRepr, MIN_FRAME_LEN};
use crate::wire::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use crate::wire::tcp::TcpRepr;
use crate::wire::MacAddr;
use core::net::Ipv4Addr;

/// Where a datagram leaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Egress {
    pub(crate) iface: IfaceId,
    pub(crate) next_hop: Ipv4Addr,
    pub(crate) src: Ipv4Addr,
    pub(crate) broadcast: bool,
}

/// The routing decision of the last TCP segment sent, reused while the
/// next segment goes between the same addresses and the configuration
/// (interfaces, addresses, routes) is unchanged: a bulk transfer routes
/// once, not once per segment. The next hop's MAC is kept with it while
/// the interface's ARP cache is unchanged ([`ArpCache::generation`]):
/// ageing, revalidation and negative advice all change the cache, so the
/// next segment after them asks it again, as every segment did before.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteCache {
    /// [`Stack::config_version`] when the entry was made.
    pub(crate) version: u64,
    pub(crate) src: Ipv4Addr,
    pub(crate) dst: Ipv4Addr,
    pub(crate) egress: Egress,
    /// The next hop's MAC and the ARP cache generation it was read at.
    pub(crate) neighbor: Option<(MacAddr, u64)>,
}

impl RouteCache {
    /// The unicast egress from `src` to `dst`: the cached decision while it
    /// is current, else [`route_in`]'s, which then replaces the cache.
    /// `None`: no route, or a broadcast destination (not for TCP).
    pub(crate) fn route(
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
            neighbor: None,
        });
        Some(egress)
    }
}

/// What [`Stack::poll_tcp_segments`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TcpPoll {
    /// The engine has nothing more to send now (it may have sent some).
    Drained,
    /// The run stopped early: a segment took the general path (or had no
    /// route), or something must go before the next segment, or the sink
    /// is full. Look again.
    Stopped,
}

/// What is left to do after a run of TCP segments stopped, once the engine
/// lets go of the stack's fields.
enum RunEnd {
    /// The run ended on its own, or the sink is full.
    Nothing,
    /// A stale ARP entry to revalidate: (interface, next hop, its MAC).
    Refresh(IfaceId, Ipv4Addr, MacAddr),
    /// A super-segment cut in software: its segments, in order.
    Pieces(IfaceId, Vec<Vec<u8>>),
    /// A segment built as a datagram for the general path.
    Datagram {
        iface: IfaceId,
        next_hop: Ipv4Addr,
        dgram: Vec<u8>,
        gso: usize,
    },
}

impl Stack {
    /// Routes `dst`, choosing the source address (RFC 1122 §3.3.4.3) unless
    /// `src` is given.
    pub(crate) fn route(&self, src: Option<Ipv4Addr>, dst: Ipv4Addr) -> Result<Egress, SendError> {
        route_in(&self.ifaces, &self.routes, src, dst)
    }

    /// Sends a datagram we originated: looped back when it is for one of
    /// our own addresses, else onto the link.
    pub(crate) fn dispatch(&mut self, now: Instant, eg: &Egress, d: Vec<u8>) {
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
    pub(crate) fn send_datagram(
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
            Resolve::Queued { request, dropped } => {
                if request {
                    self.arp_request(iface, next_hop, None);
                }
                for d in dropped {
                    self.count_neighbour_drop(&d);
                }
            }
            Resolve::Dropped(d) => self.count_neighbour_drop(&d),
        }
    }

    /// Counts a datagram the neighbour layer gave up before it reached the
    /// link, against TCP when it is a segment of ours: the engine counted
    /// it as sent, and the summaries must say why the wire shows less.
    pub(crate) fn count_neighbour_drop(&mut self, dgram: &[u8]) {
        let Ok(pkt) = Ipv4Packet::new_checked(dgram) else {
            return;
        };
        if pkt.protocol() == IpProtocol::TCP
            && pkt.frag_offset() == 0
            && self.is_local_addr(pkt.src())
        {
            self.stats.tcp.neighbour_drops += 1;
        }
    }

    /// Puts a datagram on the link to `dst`, cut into fragments when it
    /// exceeds the MTU (RFC 791 §3.2). A DF datagram that is too big must
    /// have been refused by the caller; here it is dropped and counted.
    pub(crate) fn emit_fragments(&mut self, iface: IfaceId, dst: MacAddr, dgram: Vec<u8>) {
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

    /// Builds an IPv4 datagram: header from `repr` (payload_len set by the
    /// caller), then `fill` writes the payload into the slice after it.
    pub(crate) fn build_datagram(repr: &Ipv4Repr, fill: impl FnOnce(&mut [u8])) -> Vec<u8> {
        let mut d = vec![0; repr.buffer_len()];
        let hl = repr.emit(&mut d).expect("buffer sized by buffer_len");
        fill(&mut d[hl..]);
        d
    }

    /// Negative advice from TCP about the path `src` → `dst` (RFC 9293
    /// §3.8.3 MUST-20, RFC 1122 §3.3.1.4): the cached routing decision is
    /// dropped, and the next hop's ARP entry is made stale so that the next
    /// segment re-confirms it with a unicast request (and a neighbour that
    /// stays silent is forgotten).
    pub(crate) fn negative_advice(&mut self, now: Instant, src: Ipv4Addr, dst: Ipv4Addr) {
        self.stats.tcp.negative_advice += 1;
        self.route_cache = None;
        if let Ok(eg) = route_in(&self.ifaces, &self.routes, Some(src), dst) {
            self.ifaces[eg.iface.0].arp.mark_stale(now, eg.next_hop);
        }
    }

    /// Asks the TCP engine for its segments and routes them: each straight
    /// into a buffer of `sink` while the next hop's MAC is known and no
    /// fragmentation is needed, else as a datagram through
    /// [`Stack::dispatch`] (ARP queue, fragments), which comes out of the
    /// transmit queue on the next round. A run of segments goes on while
    /// the sink takes frames and nothing has to go before the next segment
    /// (an ARP refresh, a datagram on the general path, the pieces of a
    /// super-segment cut in software when `finished`), so the frames come
    /// in the order single polls would give them. `n` counts the frames
    /// given to `sink`.
    pub(crate) fn poll_tcp_segments(
        &mut self,
        now: Instant,
        sink: &mut impl FrameSink,
        finished: bool,
        n: &mut usize,
    ) -> TcpPoll {
        let Stack {
            ifaces,
            routes,
            config_version,
            route_cache,
            tcp,
            config,
            idents,
            stats,
            ..
        } = self;
        // RFC 9293 §3.9.2 MUST-49: the TTL of TCP segments is the
        // configurable `StackConfig::default_ttl`.
        let ttl = config.default_ttl;
        let mut end = RunEnd::Nothing;
        let mut scratch = Vec::new();
        let mut stopped = false;
        tcp.poll_transmit_burst(now, |src, dst, dscp, gso, seg| {
            stopped = true;
            stats.tcp.segments_out += 1;
            stats.ip.sent += 1;
            let Some(eg) =
                RouteCache::route(route_cache, *config_version, ifaces, routes, src, dst)
            else {
                stats.tcp.no_route += 1;
                return false;
            };
            // `route` left this flow's entry in the cache.
            let neighbor = route_cache.as_mut().map(|c| &mut c.neighbor);
            // The sink said it had room before the engine made the segment;
            // one that breaks its word gets it through the frame queue.
            let mut none = [0u8; 0];
            let buf = match sink.buffer() {
                Some(b) => b,
                None => &mut none[..],
            };
            let out = tcp_out(
                now,
                ifaces,
                (eg, neighbor),
                (ttl, dscp, gso),
                idents,
                buf,
                (src, dst),
                seg,
            );
            match out {
                TcpOut::Written {
                    iface,
                    len,
                    refresh,
                    meta,
                } => {
                    stats.tcp.direct_out += 1;
                    stats.link.frames_out += 1;
                    stats.link.bytes_out += len as u64;
                    if finished && !meta.is_plain() {
                        // What the device would do, done here: the pieces
                        // go out first on the next round.
                        let mut pieces = Vec::new();
                        let done = crate::phy::finish_in_software(
                            &mut buf[..len],
                            &meta,
                            &mut scratch,
                            |f| pieces.push(f.to_vec()),
                        );
                        if done.is_err() {
                            // Dropped whole, as a device would.
                            stats.link.malformed += 1;
                            pieces.clear();
                        }
                        end = RunEnd::Pieces(iface, pieces);
                        return false;
                    }
                    sink.send(Transmit { iface, len, meta });
                    *n += 1;
                    if let Some((ip, mac)) = refresh {
                        // The ARP request goes before the next segment.
                        end = RunEnd::Refresh(iface, ip, mac);
                        return false;
                    }
                    stopped = sink.buffer().is_none();
                    !stopped
                }
                TcpOut::Datagram {
                    iface,
                    next_hop,
                    dgram,
                    gso,
                } => {
                    end = RunEnd::Datagram {
                        iface,
                        next_hop,
                        dgram,
                        gso,
                    };
                    false
                }
            }
        });
        match end {
            RunEnd::Nothing => {}
            RunEnd::Refresh(iface, ip, mac) => self.arp_request(iface, ip, Some(mac)),
            RunEnd::Pieces(iface, pieces) => self.split.extend(pieces.into_iter().map(|mut f| {
                if f.len() < MIN_FRAME_LEN {
                    f.resize(MIN_FRAME_LEN, 0);
                }
                (iface, f)
            })),
            RunEnd::Datagram {
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
        }
        if stopped {
            TcpPoll::Stopped
        } else {
            TcpPoll::Drained
        }
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

/// Routes `dst` over `ifaces` and `routes` (see [`Stack::route`]).
pub(crate) fn route_in(
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
    (eg, neighbor): (Egress, Option<&mut Option<(MacAddr, u64)>>),
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
        if let Some((mac, refresh)) = next_hop_mac(now, &mut ifc.arp, eg.next_hop, neighbor) {
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
                crate::transport::tcp::trace_segment("out", seg);
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

/// The next hop's MAC for a segment written straight into the caller's
/// buffer, as [`ArpCache::lookup_for_send`] gives it: from the flow's
/// `kept` mapping while the ARP cache has not changed since it was read
/// (the same answer, without the lookup), else from the cache, which
/// `kept` then remembers.
fn next_hop_mac(
    now: Instant,
    arp: &mut ArpCache<Vec<u8>>,
    next_hop: Ipv4Addr,
    kept: Option<&mut Option<(MacAddr, u64)>>,
) -> Option<(MacAddr, bool)> {
    let Some(kept) = kept else {
        return arp.lookup_for_send(now, next_hop);
    };
    if let Some((mac, generation)) = *kept {
        if generation == arp.generation() {
            arp.count_hit();
            return Some((mac, false));
        }
    }
    let found = arp.lookup_for_send(now, next_hop);
    *kept = found.map(|(mac, _)| (mac, arp.generation()));
    found
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
