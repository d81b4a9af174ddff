//! RFC 9293 requirements that involve the IP layer under TCP (source
//! address choice, TTL, IP options, ICMP), checked through whole stacks.
//! Each test names its requirements in a `// covers:` comment for
//! `cargo xtask compliance`.

mod stack_util;

use stack_util::{cidr, ip, World};
use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;
use strata::link::arp::NeighborState;
use strata::link::IfaceId;
use strata::stack::{Stack, StackConfig};
use strata::time::Duration;
use strata::transport::tcp::{TcpError, TcpHandle};
use strata::wire::ethernet::{EtherType, EthernetRepr};
use strata::wire::icmpv4::Icmpv4Repr;
use strata::wire::ipv4::{IpProtocol, Ipv4Options, Ipv4Packet, Ipv4Repr};
use strata::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
use strata::wire::MacAddr;

const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 9, 9, 9]);

/// An Ethernet frame to `dst_mac` holding `ip` and its payload.
fn frame(dst_mac: MacAddr, ip: &Ipv4Repr, payload: &[u8]) -> Vec<u8> {
    let eth = EthernetRepr {
        dst: dst_mac,
        src: PEER_MAC,
        ethertype: EtherType::IPV4,
        vlan: None,
    };
    let mut v = vec![0u8; eth.header_len() + ip.header_len() + payload.len()];
    let n = eth.emit(&mut v).unwrap();
    let h = ip.emit(&mut v[n..]).unwrap();
    v[n + h..].copy_from_slice(payload);
    v
}

/// A LAN of A (10.0.0.1 and 10.0.0.9) and B (10.0.0.2), with A's second
/// interface (10.1.0.1) on another LAN with C (10.1.0.2).
fn two_lans() -> World {
    let mut w = World::new();
    for _ in 0..3 {
        w.add_stack();
    }
    let (l0, l1) = (w.add_segment(), w.add_segment());
    let a0 = w.attach(0, l0, "10.0.0.1/24", 1500);
    w.stacks[0].add_address(a0, cidr("10.0.0.9/24")).unwrap();
    w.attach(1, l0, "10.0.0.2/24", 1500);
    w.attach(0, l1, "10.1.0.1/24", 1500);
    w.attach(2, l1, "10.1.0.2/24", 1500);
    w
}

fn accept_from(w: &mut World, s: usize, l: strata::transport::tcp::ListenerHandle) -> Ipv4Addr {
    let h = w.stacks[s].tcp_accept(l).unwrap();
    *w.stacks[s].tcp().remote_addr(h).unwrap().ip()
}

#[test]
// covers: MUST-43, MUST-44, MUST-45
fn open_takes_the_given_local_address_or_asks_ip_for_one() {
    let mut w = two_lans();
    let lb = w.stacks[1].tcp_listen(None, 80, 8).unwrap();
    let lc = w.stacks[2].tcp_listen(None, 80, 8).unwrap();
    // No local address: IP picks the source of the route's interface.
    let c = w.stacks[0]
        .tcp_connect(w.now, SocketAddrV4::new(ip("10.0.0.2"), 80))
        .unwrap();
    w.run();
    assert_eq!(accept_from(&mut w, 1, lb), ip("10.0.0.1"));
    assert_eq!(
        *w.stacks[0].tcp().local_addr(c).unwrap().ip(),
        ip("10.0.0.1")
    );
    w.stacks[0]
        .tcp_connect(w.now, SocketAddrV4::new(ip("10.1.0.2"), 80))
        .unwrap();
    w.run();
    assert_eq!(
        accept_from(&mut w, 2, lc),
        ip("10.1.0.1"),
        "the other interface's address"
    );
    // The application's local address is used for the SYN and after.
    let c = w.stacks[0]
        .tcp_connect_from(
            w.now,
            Some(SocketAddrV4::new(ip("10.0.0.9"), 0)),
            SocketAddrV4::new(ip("10.0.0.2"), 80),
        )
        .unwrap();
    w.run();
    assert_eq!(accept_from(&mut w, 1, lb), ip("10.0.0.9"));
    assert_eq!(
        *w.stacks[0].tcp().local_addr(c).unwrap().ip(),
        ip("10.0.0.9")
    );
    // An address that is not ours is refused.
    assert_eq!(
        w.stacks[0].tcp_connect_from(
            w.now,
            Some(SocketAddrV4::new(ip("10.0.0.77"), 0)),
            SocketAddrV4::new(ip("10.0.0.2"), 80),
        ),
        Err(TcpError::InvalidAddress)
    );
}

/// The TTL (and DSCP) of every TCP datagram delivered to stack `to`.
type Seen = Rc<RefCell<Vec<(usize, u8, u8)>>>;

fn watch_tcp(w: &mut World) -> Seen {
    let seen: Seen = Rc::default();
    let s = seen.clone();
    w.filter = Some(Box::new(move |to, _, f| {
        if f.len() > 34 && f[12..14] == [8, 0] {
            let p = Ipv4Packet::new_checked(&f[14..]).unwrap();
            if p.protocol() == IpProtocol::TCP {
                s.borrow_mut().push((to, p.ttl(), p.dscp()));
            }
        }
        true
    }));
    seen
}

#[test]
// covers: MUST-49
fn ttl_of_tcp_segments_is_configurable() {
    let mut w = World::new();
    w.add_stack();
    w.add_stack();
    w.stacks[0] = Stack::new(StackConfig {
        seed: 1,
        default_ttl: 17,
        ..StackConfig::default()
    });
    let l0 = w.add_segment();
    w.attach(0, l0, "10.0.0.1/24", 1500);
    w.attach(1, l0, "10.0.0.2/24", 1500);
    let seen = watch_tcp(&mut w);
    let (c, s) = w.tcp_pair(80);
    w.stacks[0].tcp_send(c, b"hello").unwrap();
    w.stacks[1].tcp_send(s, b"world").unwrap();
    w.run();
    let seen = seen.borrow();
    let from_a: Vec<u8> = seen.iter().filter(|x| x.0 == 1).map(|x| x.1).collect();
    let from_b: Vec<u8> = seen.iter().filter(|x| x.0 == 0).map(|x| x.1).collect();
    assert!(
        from_a.len() >= 3 && from_a.iter().all(|&t| t == 17),
        "{from_a:?}"
    );
    assert!(
        from_b.len() >= 2 && from_b.iter().all(|&t| t == 64),
        "{from_b:?}"
    );
}

fn tcp_bytes(src: Ipv4Addr, dst: Ipv4Addr, r: &TcpRepr<'_>) -> Vec<u8> {
    let mut v = vec![0u8; r.buffer_len()];
    r.emit(&mut v, src, dst).unwrap();
    v
}

#[test]
// covers: MUST-50
fn ip_options_under_a_segment_are_ignored() {
    let mut s = Stack::new(StackConfig::default());
    let mac = MacAddr([2, 0, 0, 0, 0, 1]);
    let i = s.add_interface(mac, 1500);
    s.add_address(i, cidr("10.0.0.2/24")).unwrap();
    s.tcp_listen(None, 80, 8).unwrap();
    let (peer, us) = (ip("10.0.0.1"), ip("10.0.0.2"));
    // Router Alert (RFC 2113), then a record route with room for one
    // address (RFC 791), then EOL padding.
    let options = [148, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0];
    for (port, opts) in [(5000u16, &options[..4]), (5001, &options[..])] {
        let syn = TcpRepr {
            src_port: port,
            dst_port: 80,
            seq: 77,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 65535,
            urgent: 0,
            options: TcpOptions::default(),
            payload: &[],
        };
        let seg = tcp_bytes(peer, us, &syn);
        let mut h = Ipv4Repr::new(peer, us, IpProtocol::TCP, 64, seg.len());
        h.options = Ipv4Options::new(opts).unwrap();
        s.receive(
            strata::time::Instant::from_secs(1),
            i,
            &frame(mac, &h, &seg),
        );
    }
    assert_eq!(
        s.tcp().connection_count(),
        2,
        "both SYNs opened a connection"
    );
    assert_eq!(s.stats().tcp.bad_checksum, 0);
}

/// The first 8 bytes of a TCP header of `c` (A → B) behind its IPv4
/// header, as an ICMP error quotes it.
fn quote(w: &World, c: TcpHandle) -> Vec<u8> {
    let (l, r) = (
        w.stacks[0].tcp().local_addr(c).unwrap(),
        w.stacks[0].tcp().remote_addr(c).unwrap(),
    );
    let info = w.stacks[0].tcp().info(c).unwrap();
    let h = Ipv4Repr::new(*l.ip(), *r.ip(), IpProtocol::TCP, 64, 20);
    let mut v = vec![0u8; 28];
    h.emit(&mut v).unwrap();
    v[20..22].copy_from_slice(&l.port().to_be_bytes());
    v[22..24].copy_from_slice(&r.port().to_be_bytes());
    v[24..28].copy_from_slice(&info.snd_una.to_be_bytes());
    v
}

fn icmp_to_a(w: &mut World, msg: &Icmpv4Repr<'_>) {
    let mut body = vec![0u8; msg.buffer_len()];
    msg.emit(&mut body).unwrap();
    let h = Ipv4Repr::new(
        ip("10.0.0.2"),
        ip("10.0.0.1"),
        IpProtocol::ICMP,
        64,
        body.len(),
    );
    let iface = IfaceId(0);
    let mac = w.stacks[0].mac(iface).unwrap();
    let now = w.now;
    w.stacks[0].receive(now, iface, &frame(mac, &h, &body));
}

#[test]
// covers: MUST-55
fn source_quench_is_silently_discarded() {
    // The data left (and was lost): the quoted segment is in flight, as
    // RFC 5927 §4.1 requires of an ICMP error TCP acts on.
    let (mut w, c) = data_in_flight();
    let q = quote(&w, c);
    let before = w.stacks[0].tcp().info(c).unwrap();
    icmp_to_a(
        &mut w,
        &Icmpv4Repr::Other {
            msg_type: 4,
            code: 0,
            rest_of_header: [0; 4],
            data: &q,
        },
    );
    let after = w.stacks[0].tcp().info(c).unwrap();
    assert_eq!(w.stacks[0].tcp().soft_error(c), None);
    assert_eq!((after.cwnd, after.ssthresh), (before.cwnd, before.ssthresh));
    assert_eq!(after.state, before.state);
    // The same quote in a Destination Unreachable reaches the connection.
    icmp_to_a(
        &mut w,
        &Icmpv4Repr::DstUnreachable {
            code: 1,
            next_hop_mtu: 0,
            quoted: &q,
        },
    );
    assert_eq!(
        w.stacks[0].tcp().soft_error(c),
        Some(TcpError::HostUnreachable)
    );
}

/// Two LANs with a connection from A to B:80, and 3000 bytes from A that
/// left and were lost (sent into the void): the connection and its
/// segments in flight.
fn data_in_flight() -> (World, TcpHandle) {
    let mut w = two_lans();
    let (c, _) = w.tcp_pair(80);
    w.stacks[0].tcp_send(c, &[1u8; 3000]).unwrap();
    send_into_the_void(&mut w, 0);
    (w, c)
}

/// Transmit everything stack `i` has queued without delivering it.
fn send_into_the_void(w: &mut World, i: usize) {
    let mut buf = vec![0u8; 65_600];
    let now = w.now;
    let mut n = 0;
    while w.stacks[i].poll_transmit(now, &mut buf).is_some() {
        n += 1;
        assert!(n < 10_000);
    }
}

/// RFC 5927 §4.1: an ICMP error whose quoted TCP sequence number is not in
/// SND.UNA..SND.NXT is ignored — a blind "fragmentation needed" or "host
/// unreachable" does not reach the connection; one quoting a segment in
/// flight does.
#[test]
fn icmp_error_with_a_blind_sequence_number_is_ignored() {
    let (mut w, c) = data_in_flight();
    let mss = w.stacks[0].tcp().info(c).unwrap().mss;
    let mut blind = quote(&w, c);
    let una = w.stacks[0].tcp().info(c).unwrap().snd_una;
    blind[24..28].copy_from_slice(&una.wrapping_add(1_000_000).to_be_bytes());
    for (code, mtu) in [(4, 576), (1, 0)] {
        icmp_to_a(
            &mut w,
            &Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: mtu,
                quoted: &blind,
            },
        );
    }
    assert_eq!(w.stacks[0].tcp().info(c).unwrap().mss, mss, "blind PMTU");
    assert_eq!(w.stacks[0].tcp().soft_error(c), None, "blind soft error");
    let q = quote(&w, c);
    icmp_to_a(
        &mut w,
        &Icmpv4Repr::DstUnreachable {
            code: 4,
            next_hop_mtu: 576,
            quoted: &q,
        },
    );
    assert!(w.stacks[0].tcp().info(c).unwrap().mss < mss, "real PMTU");
}

#[test]
// covers: MUST-20, SHLD-10
fn repeated_retransmissions_make_ip_reconfirm_the_neighbour() {
    let mut w = World::lan();
    let (c, _) = w.tcp_pair(80);
    // From now on B's TCP is silent (its host still answers ARP), and A's
    // unicast ARP requests to B are counted.
    let unicast_arp = w.count_unicast_arp_to_b(|to, f| to == 0 || f[12..14] == [8, 6]);
    w.stacks[0].tcp_send(c, b"anyone there?").unwrap();
    w.run();
    let t0 = w.now;
    let rto = w.stacks[0].tcp().info(c).unwrap().rto;
    // The lone segment's first retransmission is a tail loss probe at the
    // RTO's time (RFC 8985 §7.2), then timeouts at 2, 4, 8 and 16 RTOs.
    // A probe and one timeout (R1 = 3 timeouts not reached): nothing
    // said to IP.
    w.advance(rto * 3 + rto / 2);
    assert_eq!(w.stacks[0].tcp().info(c).unwrap().retransmits, 2);
    assert_eq!(w.stacks[0].stats().tcp.negative_advice, 0);
    assert_eq!(w.neighbour_of_a(), Some(NeighborState::Reachable));
    assert_eq!(*unicast_arp.borrow(), 0);
    // The third timeout: negative advice. The entry turns stale, so the
    // retransmission itself makes A re-confirm B with a unicast request,
    // which B (alive at the link layer) answers.
    w.advance(rto * 5);
    assert_eq!(w.stacks[0].tcp().info(c).unwrap().retransmits, 4);
    assert_eq!(w.stacks[0].tcp_stats().negative_advice, 1);
    assert_eq!(w.stacks[0].stats().tcp.negative_advice, 1);
    assert_eq!(*unicast_arp.borrow(), 1, "one re-confirmation");
    assert_eq!(w.neighbour_of_a(), Some(NeighborState::Reachable));
    // Later retransmissions of the same episode give no new advice.
    w.advance(rto * 8);
    assert_eq!(w.stacks[0].tcp().info(c).unwrap().retransmits, 5);
    assert!(w.now - t0 < Duration::from_secs(30), "before ARP ageing");
    assert_eq!(
        w.stacks[0].tcp_stats().negative_advice,
        1,
        "once per episode"
    );
}

#[test]
// covers: MUST-48, SHLD-21, SHLD-22
fn dscp_of_a_connection_is_carried_in_its_ipv4_headers() {
    let mut w = World::new();
    w.add_stack();
    w.add_stack();
    let l0 = w.add_segment();
    w.attach(0, l0, "10.0.0.1/24", 1500);
    w.attach(1, l0, "10.0.0.2/24", 1500);
    let seen = watch_tcp(&mut w);
    let l = w.stacks[1].tcp_listen(None, 80, 8).unwrap();
    let to_b = SocketAddrV4::new(ip("10.0.0.2"), 80);
    let c = w.stacks[0].tcp_connect(w.now, to_b).unwrap();
    let other = w.stacks[0].tcp_connect(w.now, to_b).unwrap();
    w.run();
    let s = w.stacks[1].tcp_accept(l).unwrap();
    assert!(seen.borrow().iter().all(|x| x.2 == 0), "DSCP 0 by default");
    // Expedited Forwarding (46) on one connection.
    w.stacks[0].tcp_set_dscp(c, 46).unwrap();
    assert_eq!(w.stacks[0].tcp().dscp(c), Ok(46));
    seen.borrow_mut().clear();
    w.stacks[0].tcp_send(c, b"voice").unwrap();
    w.stacks[0].tcp_send(other, b"bulk").unwrap();
    w.stacks[1].tcp_send(s, b"reply").unwrap();
    w.run();
    let dscps = |seen: &Seen, to: usize| -> Vec<u8> {
        seen.borrow()
            .iter()
            .filter(|x| x.0 == to)
            .map(|x| x.2)
            .collect()
    };
    let to_b_dscps = dscps(&seen, 1);
    assert_eq!(
        to_b_dscps.iter().filter(|&&d| d == 46).count(),
        1,
        "{to_b_dscps:?}"
    );
    assert_eq!(
        to_b_dscps.iter().filter(|&&d| d == 0).count(),
        1,
        "the other connection"
    );
    assert!(
        dscps(&seen, 0).iter().all(|&d| d == 0),
        "B's side unchanged"
    );
    // Changed during the connection: the next segment carries the new one.
    w.stacks[0].tcp_set_dscp(c, 10).unwrap();
    seen.borrow_mut().clear();
    w.stacks[0].tcp_send(c, b"more").unwrap();
    w.run();
    assert_eq!(dscps(&seen, 1), [10]);
    assert_eq!(
        w.stacks[0].tcp_set_dscp(c, 64),
        Err(TcpError::InvalidArgument)
    );
}
