//! Router behaviour: forwarding, TTL, ICMP errors, longest-prefix routing.

mod stack_util;

use core::net::SocketAddrV4;
use stack_util::{cidr, ip, World};
use strata::link::IfaceId;
use strata::net::icmp::IcmpErrorKind;
use strata::stack::Event;

/// A(10.0.1.10) — seg0 — R1 — seg1 — R2 — seg2 — B(10.0.3.10)
/// Returns (world, a, r1, r2, b).
fn chain(mtu2: usize) -> (World, usize, usize, usize, usize) {
    let mut w = World::new();
    let (a, r1, r2, b) = (w.add_stack(), w.add_stack(), w.add_stack(), w.add_stack());
    let (s0, s1, s2) = (w.add_segment(), w.add_segment(), w.add_segment());
    w.attach(a, s0, "10.0.1.10/24", 1500);
    w.attach(r1, s0, "10.0.1.1/24", 1500);
    w.attach(r1, s1, "10.0.2.1/24", 1500);
    w.attach(r2, s1, "10.0.2.2/24", 1500);
    w.attach(r2, s2, "10.0.3.1/24", mtu2);
    w.attach(b, s2, "10.0.3.10/24", mtu2);
    w.stacks[a].set_default_gateway(ip("10.0.1.1")).unwrap();
    w.stacks[b].set_default_gateway(ip("10.0.3.1")).unwrap();
    w.stacks[r1].set_forwarding(true);
    w.stacks[r2].set_forwarding(true);
    w.stacks[r1]
        .add_route(cidr("10.0.3.0/24"), Some(ip("10.0.2.2")), IfaceId(1))
        .unwrap();
    w.stacks[r2].set_default_gateway(ip("10.0.2.1")).unwrap();
    w.run();
    (w, a, r1, r2, b)
}

#[test]
fn ping_across_two_routers_decrements_ttl() {
    let (mut w, a, r1, r2, _b) = chain(1500);
    w.stacks[a]
        .ping(w.now, ip("10.0.3.10"), 1, 1, b"x")
        .unwrap();
    w.run();
    let ev = w.take_events(a);
    assert!(
        matches!(ev.as_slice(), [Event::EchoReply { from, ttl: 62, .. }] if *from == ip("10.0.3.10")),
        "{ev:?}"
    );
    assert_eq!(w.stacks[r1].stats().ip.forwarded, 2);
    assert_eq!(w.stacks[r2].stats().ip.forwarded, 2);
}

#[test]
fn udp_traceroute_lists_every_hop_then_port_unreachable() {
    let (mut w, a, ..) = chain(1500);
    let s = w.stacks[a].udp_bind(None, 0).unwrap();
    let mut hops = Vec::new();
    for ttl in 1..=4u8 {
        w.stacks[a].udp_set_ttl(s, Some(ttl)).unwrap();
        let to = SocketAddrV4::new(ip("10.0.3.10"), 33434 + u16::from(ttl));
        w.stacks[a].udp_send_to(w.now, s, to, b"probe").unwrap();
        w.run();
        let ev = w.take_events(a);
        let [Event::UdpError { error, .. }] = ev.as_slice() else {
            panic!("{ev:?}")
        };
        assert_eq!(error.original.dst_port, to.port());
        hops.push((error.from, error.kind));
        if error.kind == IcmpErrorKind::PortUnreachable {
            break;
        }
    }
    assert_eq!(
        hops,
        [
            (ip("10.0.1.1"), IcmpErrorKind::TtlExceeded),
            (ip("10.0.2.2"), IcmpErrorKind::TtlExceeded),
            (ip("10.0.3.10"), IcmpErrorKind::PortUnreachable),
        ]
    );
}

#[test]
fn router_fragments_for_a_smaller_link_and_refuses_when_df() {
    let (mut w, a, _r1, r2, b) = chain(576);
    let srv = w.stacks[b].udp_bind(None, 7).unwrap();
    let cli = w.stacks[a].udp_bind(None, 0).unwrap();
    let to = SocketAddrV4::new(ip("10.0.3.10"), 7);
    let data: Vec<u8> = (0..1400u32).map(|i| i as u8).collect();
    w.stacks[a].udp_send_to(w.now, cli, to, &data).unwrap();
    w.run();
    assert_eq!(
        w.stacks[b].udp_recv_from(srv).unwrap().unwrap().payload,
        data
    );
    assert_eq!(w.stacks[r2].stats().frag.fragments_out, 3);
    // With DF the last router answers "fragmentation needed", MTU 576.
    w.stacks[a].udp_set_dont_fragment(cli, true).unwrap();
    w.stacks[a].udp_send_to(w.now, cli, to, &data).unwrap();
    w.run();
    let ev = w.take_events(a);
    let [Event::UdpError { error, .. }] = ev.as_slice() else {
        panic!("{ev:?}")
    };
    assert_eq!(error.kind, IcmpErrorKind::FragmentationNeeded { mtu: 576 });
    assert_eq!(error.from, ip("10.0.2.2"));
    assert_eq!(w.stacks[r2].stats().ip.dropped.frag_needed, 1);
    assert_eq!(w.stacks[b].udp_recv_from(srv).unwrap(), None);
}

#[test]
fn routers_never_forward_broadcasts() {
    let (mut w, a, r1, r2, b) = chain(1500);
    let srv = w.stacks[b].udp_bind(None, 9).unwrap();
    let cli = w.stacks[a].udp_bind(None, 0).unwrap();
    w.stacks[a].udp_set_broadcast(cli, true).unwrap();
    w.stacks[a]
        .udp_send_to(
            w.now,
            cli,
            SocketAddrV4::new(ip("255.255.255.255"), 9),
            b"all",
        )
        .unwrap();
    w.stacks[a]
        .udp_send_to(w.now, cli, SocketAddrV4::new(ip("10.0.3.255"), 9), b"dir")
        .unwrap();
    w.run();
    assert_eq!(w.stacks[b].udp_recv_from(srv).unwrap(), None);
    // R1 cannot know 10.0.3.255 is a broadcast and forwards it as unicast
    // (RFC 1812 §5.3.5.2); R2, attached to 10.0.3.0/24, refuses it.
    let r = w.stacks[r1].stats();
    assert_eq!(r.ip.forwarded, 1);
    assert_eq!(
        r.udp.no_port, 1,
        "limited broadcast is delivered locally, not forwarded"
    );
    let r = w.stacks[r2].stats();
    assert_eq!(r.ip.forwarded, 0);
    assert_eq!(r.ip.dropped.broadcast_not_forwarded, 1);
}

#[test]
fn no_route_is_net_unreachable() {
    let (mut w, a, r1, ..) = chain(1500);
    let cli = w.stacks[a].udp_bind(None, 0).unwrap();
    w.stacks[a]
        .udp_send_to(w.now, cli, SocketAddrV4::new(ip("192.168.7.7"), 9), b"?")
        .unwrap();
    w.run();
    // R1 has no default route: network unreachable from R1.
    let ev = w.take_events(a);
    assert!(
        matches!(ev.as_slice(), [Event::UdpError { error, .. }]
        if error.kind == IcmpErrorKind::NetUnreachable && error.from == ip("10.0.1.1")),
        "{ev:?}"
    );
    assert_eq!(w.stacks[r1].stats().ip.dropped.no_route, 1);
}

#[test]
fn longest_prefix_and_default_route_pick_the_interface() {
    // H has three interfaces; the routes send each destination out of a
    // different one, observed by who receives the datagram.
    let mut w = World::new();
    let h = w.add_stack();
    let (s0, s1, s2) = (w.add_segment(), w.add_segment(), w.add_segment());
    w.attach(h, s0, "10.0.0.1/24", 1500);
    w.attach(h, s1, "10.1.0.1/24", 1500);
    w.attach(h, s2, "10.2.0.1/24", 1500);
    let g0 = w.add_stack();
    let g1 = w.add_stack();
    let g2 = w.add_stack();
    w.attach(g0, s0, "10.0.0.254/24", 1500);
    w.attach(g1, s1, "10.1.0.254/24", 1500);
    w.attach(g2, s2, "10.2.0.254/24", 1500);
    // 172.16.0.0/12 via g1, 172.16.5.0/24 via g2, default via g0.
    w.stacks[h]
        .add_route(cidr("172.16.0.0/12"), Some(ip("10.1.0.254")), IfaceId(1))
        .unwrap();
    w.stacks[h]
        .add_route(cidr("172.16.5.0/24"), Some(ip("10.2.0.254")), IfaceId(2))
        .unwrap();
    w.stacks[h].set_default_gateway(ip("10.0.0.254")).unwrap();
    w.run();
    let cli = w.stacks[h].udp_bind(None, 0).unwrap();
    for (dst, gw) in [
        ("172.16.5.9", g2),
        ("172.17.0.1", g1),
        ("8.8.8.8", g0),
        ("172.16.4.255", g1),
    ] {
        let before: Vec<u64> = [g0, g1, g2]
            .iter()
            .map(|g| w.stacks[*g].stats().ip.received)
            .collect();
        w.stacks[h]
            .udp_send_to(w.now, cli, SocketAddrV4::new(ip(dst), 9), b"x")
            .unwrap();
        w.run();
        for (k, g) in [g0, g1, g2].iter().enumerate() {
            let got = w.stacks[*g].stats().ip.received - before[k];
            assert_eq!(got, u64::from(*g == gw), "{dst} via stack {g}");
        }
    }
}

#[test]
fn icmp_traceroute_matches_time_exceeded_to_the_echo() {
    let (mut w, a, ..) = chain(1500);
    let mut hops = Vec::new();
    for ttl in 1..=3u8 {
        w.stacks[a]
            .ping_with_ttl(
                w.now,
                ip("10.0.3.10"),
                77,
                u16::from(ttl),
                b"trace",
                Some(ttl),
            )
            .unwrap();
        w.run();
        for e in w.take_events(a) {
            match e {
                Event::EchoError { seq, error, .. } => {
                    assert_eq!(error.kind, IcmpErrorKind::TtlExceeded);
                    hops.push((seq, error.from));
                }
                Event::EchoReply { seq, from, .. } => hops.push((seq, from)),
                e => panic!("{e:?}"),
            }
        }
    }
    assert_eq!(
        hops,
        [
            (1, ip("10.0.1.1")),
            (2, ip("10.0.2.2")),
            (3, ip("10.0.3.10"))
        ]
    );
}

#[test]
fn broadcast_pings_are_not_answered() {
    let (mut w, a, r1, ..) = chain(1500);
    w.stacks[a]
        .ping(w.now, ip("10.0.1.255"), 1, 1, b"smurf")
        .unwrap();
    w.run();
    assert!(w.take_events(a).is_empty());
    assert_eq!(w.stacks[r1].stats().icmp.received.echo_request, 1);
    assert_eq!(w.stacks[r1].stats().icmp.sent.echo_reply, 0);
}
