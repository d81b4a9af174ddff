//! Below TCP under hostile input (issue 23): each test is one attack from
//! the link, spoken to the stack only through frames and its public calls.

use core::net::{Ipv4Addr, SocketAddrV4};
use strata::link::IfaceId;
use strata::stack::{Stack, StackConfig};
use strata::time::Instant;
use strata::wire::icmpv4::Icmpv4Repr;
use strata::wire::ip::Ipv4Cidr;
use strata::wire::ipv4::{IpProtocol, Ipv4Options, Ipv4Packet, Ipv4Repr};
use strata::wire::udp::UdpRepr;
use strata::wire::MacAddr;

const MAC0: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const MAC1: MacAddr = MacAddr([2, 0, 0, 0, 1, 1]);
const PEER: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xaa]);
const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const ME1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const GW: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);
const T0: Instant = Instant::ZERO;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A host with 10.0.0.1/24 on if0 and 10.0.1.1/24 on if1, default gateway
/// 10.0.0.254 (whose MAC is known), forwarding as asked.
fn host(forwarding: bool) -> Stack {
    let mut s = Stack::new(StackConfig {
        seed: 5,
        ..StackConfig::default()
    });
    let i0 = s.add_interface(MAC0, 1500);
    s.add_address(i0, Ipv4Cidr::new(ME, 24).unwrap()).unwrap();
    let i1 = s.add_interface(MAC1, 1500);
    s.add_address(i1, Ipv4Cidr::new(ME1, 24).unwrap()).unwrap();
    s.set_default_gateway(GW).unwrap();
    s.set_forwarding(forwarding);
    // Teach it the gateway's MAC (an ARP request from the gateway to us).
    s.receive(T0, i0, &arp_request(PEER, GW, ME));
    out(&mut s, T0);
    s
}

fn arp_request(mac: MacAddr, sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&sender.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

/// Every frame the stack wants to send now, with the events drained.
fn out(s: &mut Stack, now: Instant) -> Vec<(IfaceId, Vec<u8>)> {
    let mut buf = [0u8; 1600];
    let mut v = Vec::new();
    while let Some((i, n)) = s.poll_transmit(now, &mut buf) {
        v.push((i, buf[..n].to_vec()));
        assert!(v.len() < 10_000);
    }
    v
}

/// IPv4 datagrams among `frames`: (iface, source, destination, protocol).
fn datagrams(frames: &[(IfaceId, Vec<u8>)]) -> Vec<(IfaceId, Ipv4Addr, Ipv4Addr, u8)> {
    frames
        .iter()
        .filter(|(_, f)| f[12..14] == [0x08, 0x00])
        .map(|(i, f)| {
            let p = Ipv4Packet::new_checked(&f[14..]).unwrap();
            (*i, p.src(), p.dst(), p.protocol().0)
        })
        .collect()
}

/// An Ethernet frame to `dst_mac` carrying an IPv4 datagram.
fn frame(
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: IpProtocol,
    options: &[u8],
    l4: &[u8],
) -> Vec<u8> {
    let mut r = Ipv4Repr::new(src, dst, proto, 64, l4.len());
    r.ident = 77;
    r.options = Ipv4Options::new(options).unwrap();
    let mut f = vec![0u8; 14 + r.buffer_len()];
    f[0..6].copy_from_slice(&dst_mac.0);
    f[6..12].copy_from_slice(&PEER.0);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let hl = r.emit(&mut f[14..]).unwrap();
    f[14 + hl..].copy_from_slice(l4);
    f
}

fn echo_request(ident: u16, seq: u16) -> Vec<u8> {
    let m = Icmpv4Repr::EchoRequest {
        ident,
        seq_no: seq,
        data: b"hostile!",
    };
    let mut v = vec![0; m.buffer_len()];
    m.emit(&mut v).unwrap();
    v
}

fn udp(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, data: &[u8]) -> Vec<u8> {
    let r = UdpRepr {
        src_port: sport,
        dst_port: dport,
    };
    let mut v = vec![0; 8 + data.len()];
    r.emit(&mut v, src, dst, data).unwrap();
    v
}

// ----- problem 2: cross-interface directed-broadcast reflector -----

/// RFC 1122 §3.2.1.3 (d): a directed broadcast is never a source — not only
/// the arrival interface's. "From 10.0.1.255" arriving on if0 must not be
/// answered (the answer would be broadcast onto 10.0.1.0/24).
#[test]
fn another_interfaces_directed_broadcast_is_not_a_source() {
    for forwarding in [false, true] {
        let mut s = host(forwarding);
        let bcast = ip("10.0.1.255");
        s.receive(
            T0,
            IfaceId(0),
            &frame(MAC0, bcast, ME, IpProtocol::ICMP, &[], &echo_request(1, 1)),
        );
        let u = udp(bcast, 9, ME, 9999, b"x");
        s.receive(
            T0,
            IfaceId(0),
            &frame(MAC0, bcast, ME, IpProtocol::UDP, &[], &u),
        );
        let sent = out(&mut s, T0);
        assert!(
            sent.is_empty(),
            "forwarding {forwarding}: answered {sent:?}"
        );
        assert_eq!(s.stats().ip.dropped.martian_source, 2);
    }
}

// ----- problem 3: martians, own-address sources, forwarding -----

/// RFC 1122 §3.2.1.3 (g): 127/8 "MUST NOT appear outside a host": a
/// datagram "from 127.0.0.1:5353" off the wire never reaches a socket.
#[test]
fn loopback_source_from_the_wire_never_reaches_a_socket() {
    let mut s = host(false);
    let h = s.udp_bind(None, 53).unwrap();
    let lo = ip("127.0.0.1");
    let u = udp(lo, 5353, ME, 53, b"query");
    s.receive(
        T0,
        IfaceId(0),
        &frame(MAC0, lo, ME, IpProtocol::UDP, &[], &u),
    );
    assert_eq!(s.udp_recv_from(h).unwrap(), None);
    // Nor is it answered (the reply would leave through the gateway).
    s.receive(
        T0,
        IfaceId(0),
        &frame(MAC0, lo, ME, IpProtocol::ICMP, &[], &echo_request(2, 1)),
    );
    assert_eq!(datagrams(&out(&mut s, T0)), []);
}

/// Martian sources (0/8, 240/4) are not answered with ICMP errors nor
/// echo replies, even though a default route would carry the answer.
#[test]
fn martian_sources_get_no_answer() {
    let mut s = host(false);
    for src in ["0.1.2.3", "240.0.0.9", "224.0.0.5", "127.3.3.3"] {
        let src = ip(src);
        let u = udp(src, 9, ME, 9999, b"x");
        s.receive(
            T0,
            IfaceId(0),
            &frame(MAC0, src, ME, IpProtocol::UDP, &[], &u),
        );
        s.receive(
            T0,
            IfaceId(0),
            &frame(MAC0, src, ME, IpProtocol::ICMP, &[], &echo_request(3, 1)),
        );
        assert_eq!(datagrams(&out(&mut s, T0)), [], "answered {src}");
    }
}

/// Sending to 127/8 (no loopback interface owns it), 0/8, multicast or
/// class E is refused instead of going to the gateway as unicast.
#[test]
fn udp_send_to_martian_destinations_is_refused() {
    let mut s = host(false);
    let h = s.udp_bind(None, 0).unwrap();
    for dst in ["127.0.0.5", "0.1.2.3", "224.0.0.251", "240.0.0.1"] {
        let to = SocketAddrV4::new(ip(dst), 5353);
        let r = s.udp_send_to(T0, h, to, b"x");
        assert!(r.is_err(), "sent to {dst}");
        assert_eq!(datagrams(&out(&mut s, T0)), [], "{dst} left");
    }
    // The same socket still reaches a real destination.
    s.udp_send_to(T0, h, SocketAddrV4::new(ip("192.0.2.1"), 53), b"x")
        .unwrap();
    assert_eq!(datagrams(&out(&mut s, T0)).len(), 1);
}

/// LAND: a datagram from our own address and port to itself, off the
/// wire, is dropped — a UDP echo socket would otherwise answer itself
/// forever through the loopback queue. Our own loopback traffic still
/// flows.
#[test]
fn own_address_source_from_the_wire_is_dropped_but_loopback_works() {
    let mut s = host(false);
    let echo = s.udp_bind(None, 7).unwrap();
    let u = udp(ME, 7, ME, 7, b"land");
    s.receive(
        T0,
        IfaceId(0),
        &frame(MAC0, ME, ME, IpProtocol::UDP, &[], &u),
    );
    assert_eq!(s.udp_recv_from(echo).unwrap(), None);
    assert_eq!(s.stats().ip.dropped.martian_source, 1);
    // Genuine loopback: a socket of ours sends to our own address.
    let c = s.udp_bind(None, 0).unwrap();
    s.udp_send_to(T0, c, SocketAddrV4::new(ME1, 7), b"hello")
        .unwrap();
    out(&mut s, T0);
    let d = s.udp_recv_from(echo).unwrap().expect("looped back");
    assert_eq!(d.payload, b"hello");
}

/// RFC 1812 §5.3.7: a router does not forward martian sources or
/// destinations, and does not answer them with ICMP errors.
#[test]
fn router_does_not_forward_martians() {
    let mut s = host(true);
    let cases = [
        ("127.0.0.1", "10.0.1.9"),
        ("0.1.2.3", "10.0.1.9"),
        ("240.1.1.1", "10.0.1.9"),
        ("10.0.0.9", "127.0.0.1"),
        ("10.0.0.9", "0.9.9.9"),
        ("10.0.0.9", "240.9.9.9"),
        ("10.0.0.9", "239.1.1.1"),
    ];
    for (src, dst) in cases {
        let (src, dst) = (ip(src), ip(dst));
        let u = udp(src, 9, dst, 9, b"x");
        s.receive(
            T0,
            IfaceId(0),
            &frame(MAC0, src, dst, IpProtocol::UDP, &[], &u),
        );
        let sent = out(&mut s, T0);
        assert!(sent.is_empty(), "{src} -> {dst}: {:?}", datagrams(&sent));
    }
    assert_eq!(s.stats().ip.forwarded, 0);
    // A sane datagram is still forwarded (ARP for 10.0.1.9 goes out).
    let (src, dst) = (ip("10.0.0.9"), ip("10.0.1.9"));
    let u = udp(src, 9, dst, 9, b"x");
    s.receive(
        T0,
        IfaceId(0),
        &frame(MAC0, src, dst, IpProtocol::UDP, &[], &u),
    );
    assert_eq!(s.stats().ip.forwarded, 1);
}

// ----- problem 7: source routes -----

/// An unfinished loose source route (pointer 4, one hop left).
const LSRR: [u8; 8] = [131, 7, 4, 10, 0, 1, 9, 0];
/// A strict source route.
const SSRR: [u8; 8] = [137, 7, 4, 10, 0, 1, 9, 0];

/// RFC 7126 §4.3.3/§4.4.3: datagrams with LSRR or SSRR are dropped by
/// default: not delivered (RFC 1122 §3.3.5: an unfinished route is not
/// ours to deliver), not forwarded unchanged.
#[test]
fn source_routed_datagrams_are_dropped() {
    for opts in [LSRR, SSRR] {
        let mut s = host(true);
        let peer = ip("10.0.0.9");
        // The peer's MAC is known, so an answer would leave at once.
        s.receive(T0, IfaceId(0), &arp_request(PEER, peer, ME));
        out(&mut s, T0);
        s.receive(
            T0,
            IfaceId(0),
            &frame(MAC0, peer, ME, IpProtocol::ICMP, &opts, &echo_request(4, 1)),
        );
        assert_eq!(datagrams(&out(&mut s, T0)), [], "echo answered");
        assert_eq!(s.stats().icmp.received.echo_request, 0, "delivered");
        let dst = ip("10.0.1.9");
        let u = udp(peer, 9, dst, 9, b"x");
        s.receive(
            T0,
            IfaceId(0),
            &frame(MAC0, peer, dst, IpProtocol::UDP, &opts, &u),
        );
        assert!(out(&mut s, T0).is_empty(), "forwarded");
        assert_eq!(s.stats().ip.forwarded, 0);
    }
}

/// An ICMP error message from `from` quoting a UDP datagram
/// `quoted_src:sport -> quoted_dst:dport`.
fn icmp_port_unreachable(
    from: Ipv4Addr,
    quoted_src: Ipv4Addr,
    sport: u16,
    quoted_dst: Ipv4Addr,
    dport: u16,
) -> Vec<u8> {
    let inner_udp = udp(quoted_src, sport, quoted_dst, dport, b"q");
    let inner = frame(
        MAC0,
        quoted_src,
        quoted_dst,
        IpProtocol::UDP,
        &[],
        &inner_udp,
    );
    let m = Icmpv4Repr::DstUnreachable {
        code: 3,
        next_hop_mtu: 0,
        quoted: &inner[14..],
    };
    let mut v = vec![0; m.buffer_len()];
    m.emit(&mut v).unwrap();
    frame(MAC0, from, ME, IpProtocol::ICMP, &[], &v)
}

// ----- problem 4: ICMP errors to a connected UDP socket -----

/// RFC 1122 §4.1.3.3 / RFC 8085 §5.2: a connected socket only takes ICMP
/// errors that quote a datagram to its peer; one quoting another
/// destination (an off-path guess of the port) is ignored.
#[test]
fn connected_udp_socket_ignores_errors_about_other_peers() {
    let mut s = host(false);
    let h = s.udp_bind(None, 0).unwrap();
    let port = s.udp_local_addr(h).unwrap().port();
    let peer = SocketAddrV4::new(ip("10.0.0.9"), 53);
    s.udp_connect(h, peer).unwrap();
    let attacker = ip("10.0.0.66");
    // Quotes a datagram to 10.0.0.8:53, and one to the peer's address on
    // another port.
    for (dst, dport) in [(ip("10.0.0.8"), 53), (*peer.ip(), 54)] {
        s.receive(
            T0,
            IfaceId(0),
            &icmp_port_unreachable(attacker, ME, port, dst, dport),
        );
        assert_eq!(s.udp_recv_from(h), Ok(None));
    }
    // An error about a datagram to the peer is delivered.
    s.receive(
        T0,
        IfaceId(0),
        &icmp_port_unreachable(*peer.ip(), ME, port, *peer.ip(), peer.port()),
    );
    assert!(matches!(
        s.udp_recv_from(h),
        Err(strata::transport::udp::UdpError::Icmp(_))
    ));
}

// ----- problem 5: IP identification -----

fn ident_of(f: &[u8]) -> u16 {
    Ipv4Packet::new_checked(&f[14..]).unwrap().ident()
}

/// RFC 6274 §3.5 / RFC 7739: the IDs a prober sees in our echo replies do
/// not reveal how many datagrams we sent to others in between (idle scan).
#[test]
fn ip_ids_do_not_reveal_traffic_to_others() {
    let prober = ip("10.0.0.9");
    // Reply ID difference between two probes, with `k` datagrams to a
    // third party in between.
    let delta = |k: usize| {
        let mut s = host(false);
        s.receive(T0, IfaceId(0), &arp_request(PEER, prober, ME));
        out(&mut s, T0);
        let h = s.udp_bind(None, 0).unwrap();
        let probe = |s: &mut Stack, seq| {
            s.receive(
                T0,
                IfaceId(0),
                &frame(
                    MAC0,
                    prober,
                    ME,
                    IpProtocol::ICMP,
                    &[],
                    &echo_request(9, seq),
                ),
            );
            let sent = out(s, T0);
            assert_eq!(sent.len(), 1);
            ident_of(&sent[0].1)
        };
        let first = probe(&mut s, 1);
        for _ in 0..k {
            s.udp_send_to(T0, h, SocketAddrV4::new(ip("192.0.2.7"), 53), b"x")
                .unwrap();
            out(&mut s, T0);
        }
        probe(&mut s, 2).wrapping_sub(first)
    };
    assert_eq!(delta(0), delta(5));
    assert_eq!(delta(0), delta(1));
}

// ----- problem 6: ephemeral ports of unconnected UDP sockets -----

/// RFC 6056 §3.1 / RFC 5452 §9.2: successive unconnected binds do not get
/// successive ports.
#[test]
fn unconnected_udp_ports_are_not_sequential() {
    let mut s = host(false);
    let ports: Vec<u16> = (0..32)
        .map(|_| {
            let h = s.udp_bind(None, 0).unwrap();
            s.udp_local_addr(h).unwrap().port()
        })
        .collect();
    let steps = ports
        .windows(2)
        .filter(|w| w[1] == w[0].wrapping_add(1))
        .count();
    assert!(steps <= 1, "{ports:?}");
    let distinct: std::collections::HashSet<_> = ports.iter().collect();
    assert_eq!(distinct.len(), ports.len());
}

// ----- point 9: ARP -----

/// ARP requests naming us as target from off-link senders create no
/// entries: 1 024 of them used to evict the oldest entry, the gateway.
#[test]
fn arp_flood_from_off_link_senders_keeps_the_gateway() {
    let mut s = host(false);
    for i in 0..1100u32 {
        let sender = Ipv4Addr::from_bits(0xc0a8_0000 | i);
        let mac = MacAddr([2, 9, 0, 0, (i >> 8) as u8, i as u8]);
        s.receive(T0, IfaceId(0), &arp_request(mac, sender, ME));
        out(&mut s, T0);
    }
    let entries = s.arp_entries(IfaceId(0));
    assert!(
        entries.iter().any(|(ip, mac, _)| *ip == GW && *mac == PEER),
        "gateway evicted"
    );
    assert!(entries.len() <= 2, "{} entries", entries.len());
}

/// A known mapping does not flip to another MAC within the lock time; a
/// genuine change later is taken.
#[test]
fn arp_update_lock_time() {
    let mut s = host(false);
    let forger = MacAddr([2, 6, 6, 6, 6, 6]);
    let t = Instant::from_millis(100);
    s.receive(t, IfaceId(0), &arp_request(forger, GW, ME));
    out(&mut s, t);
    let mac_of_gw = |s: &Stack| {
        s.arp_entries(IfaceId(0))
            .into_iter()
            .find(|(ip, _, _)| *ip == GW)
            .map(|(_, m, _)| m)
    };
    assert_eq!(mac_of_gw(&s), Some(PEER));
    let later = Instant::from_secs(2);
    s.receive(later, IfaceId(0), &arp_request(forger, GW, ME));
    out(&mut s, later);
    assert_eq!(mac_of_gw(&s), Some(forger));
}

/// Datagrams waiting for ARP are bounded by bytes, per neighbour and in
/// all, not only by count (16 datagrams of 64 KiB per neighbour).
#[test]
fn arp_pending_queue_is_bounded_by_bytes() {
    let mut s = host(false);
    let h = s.udp_bind(None, 0).unwrap();
    let big = vec![7u8; 60_000];
    for n in 0..32u8 {
        let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 100 + n), 9);
        for _ in 0..16 {
            s.udp_send_to(T0, h, to, &big).unwrap();
        }
        out(&mut s, T0);
    }
    let queued = s.arp_queued_bytes(IfaceId(0));
    assert!(queued <= 1024 * 1024, "{queued} bytes queued");
    assert!(s.stats().arp.queue_drops > 0);
}

// ----- point 9: ICMP -----

/// An echo reply is matched by its sender too: a forged reply with the
/// right (ident, seq) from another host is not taken for the real one.
#[test]
fn echo_reply_from_another_host_does_not_match() {
    let mut s = host(false);
    let target = ip("10.0.0.9");
    s.ping(T0, target, 0x1234, 1, b"abc").unwrap();
    out(&mut s, T0);
    let reply = |from| {
        let m = Icmpv4Repr::EchoReply {
            ident: 0x1234,
            seq_no: 1,
            data: b"abc",
        };
        let mut v = vec![0; m.buffer_len()];
        m.emit(&mut v).unwrap();
        frame(MAC0, from, ME, IpProtocol::ICMP, &[], &v)
    };
    s.receive(T0, IfaceId(0), &reply(ip("10.0.0.66")));
    assert_eq!(s.poll_event(), None, "forged reply accepted");
    s.receive(T0, IfaceId(0), &reply(target));
    assert!(matches!(
        s.poll_event(),
        Some(strata::stack::Event::EchoReply { from, .. }) if from == target
    ));
}

/// Errors drawn by spoofed sources do not use up the errors owed to a real
/// peer: a router still tells it "fragmentation needed" (path MTU
/// discovery) after a flood of port-unreachable triggers.
#[test]
fn spoofed_error_floods_do_not_starve_fragmentation_needed() {
    let mut s = Stack::new(StackConfig {
        seed: 5,
        ..StackConfig::default()
    });
    let i0 = s.add_interface(MAC0, 1500);
    s.add_address(i0, Ipv4Cidr::new(ME, 24).unwrap()).unwrap();
    let i1 = s.add_interface(MAC1, 576);
    s.add_address(i1, Ipv4Cidr::new(ME1, 24).unwrap()).unwrap();
    s.set_default_gateway(GW).unwrap();
    s.set_forwarding(true);
    s.receive(T0, i0, &arp_request(PEER, GW, ME));
    let peer = ip("10.0.0.9");
    s.receive(T0, i0, &arp_request(PEER, peer, ME));
    out(&mut s, T0);
    // 1 500 datagrams to closed ports from spoofed off-link sources (the
    // errors go through the gateway).
    for i in 0..1500u32 {
        let src = Ipv4Addr::from_bits(0xc612_0000 | i);
        let u = udp(src, 9, ME, 9999, b"x");
        s.receive(T0, i0, &frame(MAC0, src, ME, IpProtocol::UDP, &[], &u));
        out(&mut s, T0);
    }
    assert!(s.stats().icmp.errors_rate_limited > 0);
    // The real peer sends a DF datagram too big for if1 (MTU 576).
    let dst = ip("10.0.1.9");
    let u = udp(peer, 9, dst, 9, &[0u8; 1000]);
    let mut r = Ipv4Repr::new(peer, dst, IpProtocol::UDP, 64, u.len());
    r.dont_frag = true;
    let mut f = vec![0u8; 14 + r.buffer_len()];
    f[0..6].copy_from_slice(&MAC0.0);
    f[6..12].copy_from_slice(&PEER.0);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let hl = r.emit(&mut f[14..]).unwrap();
    f[14 + hl..].copy_from_slice(&u);
    s.receive(T0, i0, &f);
    let sent = out(&mut s, T0);
    let frag_needed = sent.iter().any(|(_, f)| {
        let p = Ipv4Packet::new_checked(&f[14..]).unwrap();
        p.dst() == peer && p.protocol() == IpProtocol::ICMP && p.payload()[..2] == [3, 4]
    });
    assert!(frag_needed, "no fragmentation needed sent to {peer}");
}

// ----- point 9: RFC 5227 -----

/// (sender ip, target ip) of every ARP frame in `frames`.
fn arp_frames(frames: &[(IfaceId, Vec<u8>)]) -> Vec<(Ipv4Addr, Ipv4Addr)> {
    frames
        .iter()
        .filter(|(_, f)| f[12..14] == [0x08, 0x06])
        .map(|(_, f)| {
            let a = &f[14..];
            (
                Ipv4Addr::new(a[14], a[15], a[16], a[17]),
                Ipv4Addr::new(a[24], a[25], a[26], a[27]),
            )
        })
        .collect()
}

/// Runs the stack's timers until it has nothing left or `until`.
fn run_timers(s: &mut Stack, until: Instant) -> Vec<(IfaceId, Vec<u8>)> {
    let mut all = Vec::new();
    while let Some(t) = s.poll_timeout().filter(|t| *t <= until) {
        s.handle_timeout(t);
        all.extend(out(s, t));
    }
    all
}

/// RFC 5227 §2.1: three probes (sender 0.0.0.0) while the address is
/// tentative and unused, then two announcements.
#[test]
fn probed_address_is_tentative_then_announced_twice() {
    let mut s = Stack::new(StackConfig::default());
    let i = s.add_interface(MAC0, 1500);
    let addr = ip("10.0.0.7");
    s.probe_address(T0, i, Ipv4Cidr::new(addr, 24).unwrap())
        .unwrap();
    assert!(s.is_tentative(addr));
    assert!(!s.is_local_addr(addr));
    // Someone asks for the address meanwhile: no answer (§2.1.1: the
    // address is not ours yet).
    s.receive(T0, i, &arp_request(PEER, ip("10.0.0.9"), addr));
    assert!(arp_frames(&out(&mut s, T0)).is_empty());
    let frames = run_timers(&mut s, Instant::from_secs(60));
    let z = Ipv4Addr::UNSPECIFIED;
    assert_eq!(
        arp_frames(&frames),
        [(z, addr), (z, addr), (z, addr), (addr, addr), (addr, addr)]
    );
    assert!(!s.is_tentative(addr));
    assert!(s.is_local_addr(addr));
}

/// A reply claiming the candidate during probing abandons it.
#[test]
fn probe_conflict_abandons_the_address() {
    let mut s = Stack::new(StackConfig::default());
    let i = s.add_interface(MAC0, 1500);
    let addr = ip("10.0.0.7");
    s.probe_address(T0, i, Ipv4Cidr::new(addr, 24).unwrap())
        .unwrap();
    let first = s.poll_timeout().unwrap();
    s.handle_timeout(first);
    out(&mut s, first);
    let mut reply = arp_request(PEER, addr, ME);
    reply[21] = 2;
    s.receive(first, i, &reply);
    assert!(matches!(
        s.poll_event(),
        Some(strata::stack::Event::AddressConflict { addr: a, .. }) if a == addr
    ));
    let frames = run_timers(&mut s, Instant::from_secs(60));
    assert!(arp_frames(&frames).is_empty(), "kept probing");
    assert!(!s.is_local_addr(addr));
    assert!(!s.is_tentative(addr));
}

/// The on-link rule still lets us learn what we asked for: a neighbour
/// reached by a direct route outside the interface's prefix answers our
/// request, and the waiting datagram goes out.
#[test]
fn arp_reply_from_a_directly_routed_neighbour_is_learned() {
    let mut s = host(false);
    let far = ip("192.168.50.7");
    s.add_route(Ipv4Cidr::new(far, 32).unwrap(), None, IfaceId(0))
        .unwrap();
    let h = s.udp_bind(None, 0).unwrap();
    s.udp_send_to(T0, h, SocketAddrV4::new(far, 9), b"x")
        .unwrap();
    assert_eq!(arp_frames(&out(&mut s, T0)), [(ME, far)]);
    let mut reply = arp_request(MacAddr([2, 7, 7, 7, 7, 7]), far, ME);
    reply[21] = 2;
    s.receive(T0, IfaceId(0), &reply);
    let sent = datagrams(&out(&mut s, T0));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].2, far);
}
