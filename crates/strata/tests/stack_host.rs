//! Host behaviour of the stack, spoken to only through frames.

mod stack_util;

use core::net::SocketAddrV4;
use stack_util::{ip, World};
use strata::net::icmp::IcmpErrorKind;
use strata::stack::Event;
use strata::time::Duration;
use strata::transport::udp::UdpError;

#[test]
fn ping_resolves_arp_then_echoes() {
    let mut w = World::lan();
    w.stacks[0]
        .ping(w.now, ip("10.0.0.2"), 7, 1, b"abcdefgh")
        .unwrap();
    w.run();
    let ev = w.take_events(0);
    assert_eq!(ev.len(), 1, "{ev:?}");
    match &ev[0] {
        Event::EchoReply {
            from,
            ident,
            seq,
            ttl,
            len,
            ..
        } => {
            assert_eq!(
                (*from, *ident, *seq, *ttl, *len),
                (ip("10.0.0.2"), 7, 1, 64, 8)
            );
        }
        e => panic!("{e:?}"),
    }
    let s = w.stacks[0].stats();
    assert_eq!(s.arp.misses, 1);
    assert_eq!(s.arp.replies_in, 1);
    assert_eq!(s.icmp.sent.echo_request, 1);
    assert_eq!(s.icmp.received.echo_reply, 1);
    // B learned A from A's request (RFC 826 merge) and answered without asking.
    assert_eq!(
        w.stacks[1].stats().arp.requests_out,
        1,
        "only B's own announcement"
    );
    assert_eq!(w.stacks[1].stats().icmp.sent.echo_reply, 1);
}

#[test]
fn packets_queued_during_arp_all_arrive_in_order() {
    let mut w = World::lan();
    let srv = w.stacks[1].udp_bind(None, 9000).unwrap();
    let cli = w.stacks[0].udp_bind(None, 0).unwrap();
    let to = SocketAddrV4::new(ip("10.0.0.2"), 9000);
    for i in 0..10u8 {
        w.stacks[0].udp_send_to(w.now, cli, to, &[i; 3]).unwrap();
    }
    assert_eq!(w.stacks[0].arp_entries(strata::link::IfaceId(0)).len(), 1);
    w.run();
    let mut got = Vec::new();
    while let Some(d) = w.stacks[1].udp_recv_from(srv).unwrap() {
        assert_eq!(d.from.ip(), &ip("10.0.0.1"));
        assert!(strata::transport::ports::PortRange::DYNAMIC.contains(d.from.port()));
        got.push(d.payload[0]);
    }
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    let s = w.stacks[0].stats();
    assert_eq!(
        (s.arp.misses, s.arp.queue_drops, s.arp.requests_out),
        (10, 0, 2)
    );
    assert_eq!(s.udp.datagrams_out, 10);
    assert_eq!(w.take_events(1), vec![Event::UdpReadable(srv)]);
}

#[test]
fn arp_failure_reports_host_unreachable_to_socket_and_ping() {
    let mut w = World::lan();
    let cli = w.stacks[0].udp_bind(None, 0).unwrap();
    let nobody = SocketAddrV4::new(ip("10.0.0.99"), 53);
    w.stacks[0].udp_send_to(w.now, cli, nobody, b"q").unwrap();
    w.stacks[0]
        .ping(w.now, ip("10.0.0.99"), 1, 1, b"p")
        .unwrap();
    w.advance(Duration::from_millis(2500));
    assert!(w.take_events(0).is_empty(), "still retrying");
    w.advance(Duration::from_millis(600));
    let ev = w.take_events(0);
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(matches!(&ev[0], Event::UdpError { handle, error }
        if *handle == cli && error.kind == IcmpErrorKind::HostUnreachable && error.original.dst == ip("10.0.0.99")));
    assert!(
        matches!(&ev[1], Event::EchoError { ident: 1, seq: 1, error }
        if error.kind == IcmpErrorKind::HostUnreachable)
    );
    match w.stacks[0].udp_recv_from(cli) {
        Err(UdpError::Icmp(e)) => assert_eq!(e.kind, IcmpErrorKind::HostUnreachable),
        r => panic!("{r:?}"),
    }
    assert_eq!(
        w.stacks[0].udp_recv_from(cli),
        Ok(None),
        "error reported once"
    );
    let s = w.stacks[0].stats();
    assert_eq!(
        (s.arp.failures, s.arp.requests_out),
        (1, 4),
        "announcement + 3 tries"
    );
    assert_eq!(s.ip.dropped.host_unreachable, 2);
}

#[test]
fn tcp_segments_held_behind_a_failed_arp_are_counted_as_never_sent() {
    // Issue #17: the engine counts a SYN and its retry as sent, but both
    // wait for an ARP answer that never comes and are dropped with the
    // entry (RFC 1122 §2.3.2.2); the stack must say so, or its counters
    // and the wire disagree. A UDP datagram dropped alike is not TCP's.
    let mut w = World::lan();
    w.stacks[0]
        .tcp_connect(w.now, SocketAddrV4::new(ip("10.0.0.99"), 80))
        .unwrap();
    let cli = w.stacks[0].udp_bind(None, 0).unwrap();
    let nobody = SocketAddrV4::new(ip("10.0.0.99"), 53);
    w.stacks[0].udp_send_to(w.now, cli, nobody, b"q").unwrap();
    w.advance(Duration::from_millis(2900));
    let s = w.stacks[0].stats();
    assert_eq!(s.tcp.neighbour_drops, 0, "still waiting for ARP");
    assert_eq!(s.tcp.segments_out, 2, "the SYN and its retry at 1 s");
    w.advance(Duration::from_millis(200));
    let s = w.stacks[0].stats();
    assert_eq!(s.arp.failures, 1);
    assert_eq!(s.ip.dropped.host_unreachable, 3);
    assert_eq!(s.tcp.neighbour_drops, 2, "both SYNs never left");
    // The second retry (at 3 s) starts a fresh resolution and waits.
    assert_eq!(s.tcp.segments_out, 3);
    assert_eq!(w.stacks[0].tcp_stats().retransmits, 2);
}

#[test]
fn udp_to_closed_port_gives_port_unreachable_on_sender() {
    let mut w = World::lan();
    let cli = w.stacks[0].udp_bind(Some(ip("10.0.0.1")), 40000).unwrap();
    w.stacks[0]
        .udp_connect(cli, SocketAddrV4::new(ip("10.0.0.2"), 7777))
        .unwrap();
    w.stacks[0].udp_send(w.now, cli, b"hello?").unwrap();
    w.run();
    let ev = w.take_events(0);
    let Event::UdpError { handle, error } = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(*handle, cli);
    assert_eq!(error.kind, IcmpErrorKind::PortUnreachable);
    assert_eq!(error.from, ip("10.0.0.2"));
    assert_eq!(
        (error.original.src_port, error.original.dst_port),
        (40000, 7777)
    );
    assert_eq!(w.stacks[1].stats().udp.no_port, 1);
    assert_eq!(w.stacks[1].stats().icmp.sent.dst_unreachable, 1);
    assert!(matches!(
        w.stacks[0].udp_recv_from(cli),
        Err(UdpError::Icmp(_))
    ));
}

#[test]
fn large_datagrams_fragment_and_reassemble_at_several_mtus() {
    for mtu in [68usize, 576, 1006, 1500, 9000] {
        let mut w = World::new();
        let a = w.add_stack();
        let b = w.add_stack();
        let seg = w.add_segment();
        w.attach(a, seg, "10.0.0.1/24", mtu);
        w.attach(b, seg, "10.0.0.2/24", mtu);
        let srv = w.stacks[b].udp_bind(None, 5000).unwrap();
        let cli = w.stacks[a].udp_bind(None, 0).unwrap();
        let payload: Vec<u8> = (0..20_000u32).map(|i| (i * 31 % 251) as u8).collect();
        w.stacks[a]
            .udp_send_to(
                w.now,
                cli,
                SocketAddrV4::new(ip("10.0.0.2"), 5000),
                &payload,
            )
            .unwrap();
        w.run();
        let d = w.stacks[b]
            .udp_recv_from(srv)
            .unwrap()
            .expect("reassembled");
        assert_eq!(d.payload, payload, "mtu {mtu}");
        let frags = w.stacks[a].stats().frag.fragments_out;
        let per = ((mtu - 20) / 8 * 8) as u64;
        assert_eq!(frags, (20_008u64).div_ceil(per), "mtu {mtu}");
        assert_eq!(w.stacks[b].stats().frag.reassembly.reassembled, 1);
    }
}

#[test]
fn broadcast_needs_permission_and_reaches_all() {
    let mut w = World::new();
    let seg = w.add_segment();
    for i in 0..4 {
        let s = w.add_stack();
        w.attach(s, seg, &format!("10.0.0.{}/24", i + 1), 1500);
    }
    let socks: Vec<_> = (1..4)
        .map(|s| w.stacks[s].udp_bind(None, 67).unwrap())
        .collect();
    let cli = w.stacks[0].udp_bind(None, 68).unwrap();
    let bc = SocketAddrV4::new(ip("255.255.255.255"), 67);
    assert_eq!(
        w.stacks[0].udp_send_to(w.now, cli, bc, b"discover"),
        Err(UdpError::BroadcastNotAllowed)
    );
    let directed = SocketAddrV4::new(ip("10.0.0.255"), 67);
    assert_eq!(
        w.stacks[0].udp_send_to(w.now, cli, directed, b"x"),
        Err(UdpError::BroadcastNotAllowed)
    );
    w.stacks[0].udp_set_broadcast(cli, true).unwrap();
    w.stacks[0]
        .udp_send_to(w.now, cli, bc, b"discover")
        .unwrap();
    w.stacks[0]
        .udp_send_to(w.now, cli, directed, b"directed")
        .unwrap();
    w.run();
    for (i, h) in socks.iter().enumerate() {
        let s = &mut w.stacks[i + 1];
        assert_eq!(s.udp_recv_from(*h).unwrap().unwrap().payload, b"discover");
        assert_eq!(s.udp_recv_from(*h).unwrap().unwrap().payload, b"directed");
    }
    // No ARP was needed for broadcasts.
    assert_eq!(w.stacks[0].stats().arp.misses, 0);
}

#[test]
fn duplicate_address_is_reported_on_both_sides() {
    let mut w = World::new();
    let a = w.add_stack();
    let b = w.add_stack();
    let seg = w.add_segment();
    w.attach(a, seg, "10.0.0.5/24", 1500);
    w.run();
    w.attach(b, seg, "10.0.0.5/24", 1500);
    w.run();
    // B's announcement reveals the conflict to A, A defends once (RFC 5227
    // §2.4 (b)), B sees it; each side defends at most once per interval so
    // the exchange stops.
    let ea = w.take_events(a);
    let eb = w.take_events(b);
    let is_conflict = |e: &Event, mac| matches!(e, Event::AddressConflict { addr, mac: m, .. } if *addr == ip("10.0.0.5") && *m == mac);
    let (ma, mb) = (
        w.stacks[a].mac(strata::link::IfaceId(0)).unwrap(),
        w.stacks[b].mac(strata::link::IfaceId(0)).unwrap(),
    );
    assert!(
        !ea.is_empty() && ea.iter().all(|e| is_conflict(e, mb)),
        "{ea:?}"
    );
    assert!(
        !eb.is_empty() && eb.iter().all(|e| is_conflict(e, ma)),
        "{eb:?}"
    );
    assert!(
        w.frames < 8,
        "defence must not ping-pong: {} frames",
        w.frames
    );
}

#[test]
fn ephemeral_binds_never_collide_and_exhaust_cleanly() {
    use strata::stack::{Stack, StackConfig};
    use strata::transport::ports::PortRange;
    let mut s = Stack::new(StackConfig {
        ephemeral_ports: PortRange::new(50000, 50099).unwrap(),
        ..StackConfig::default()
    });
    let mut seen = std::collections::HashSet::new();
    for _ in 0..100 {
        let h = s.udp_bind(None, 0).unwrap();
        assert!(seen.insert(s.udp_local_addr(h).unwrap().port()));
    }
    assert!(matches!(
        s.udp_bind(None, 0),
        Err(UdpError::PortsExhausted(_))
    ));
    assert!(matches!(
        s.udp_bind(None, 50000),
        Err(UdpError::AddrInUse(_))
    ));
}

#[test]
fn full_receive_queue_drops_and_counts() {
    let mut w = World::lan();
    let srv = w.stacks[1].udp_bind(None, 9).unwrap();
    let cli = w.stacks[0].udp_bind(None, 0).unwrap();
    for _ in 0..100 {
        w.stacks[0]
            .udp_send_to(w.now, cli, SocketAddrV4::new(ip("10.0.0.2"), 9), b"x")
            .unwrap();
        w.run();
    }
    let st = w.stacks[1].udp_socket_stats(srv).unwrap();
    assert_eq!((st.received, st.dropped), (64, 36));
    assert_eq!(w.stacks[1].stats().udp.queue_drops, 36);
}

#[test]
fn icmp_errors_are_rate_limited() {
    let mut w = World::lan();
    let cli = w.stacks[0].udp_bind(None, 0).unwrap();
    let to = SocketAddrV4::new(ip("10.0.0.2"), 9999);
    for _ in 0..300 {
        w.stacks[0].udp_send_to(w.now, cli, to, b"x").unwrap();
        w.run();
    }
    let b = w.stacks[1].stats();
    assert_eq!(b.udp.no_port, 300);
    assert_eq!(b.icmp.sent.dst_unreachable, 100, "burst of 100");
    assert_eq!(b.icmp.errors_rate_limited, 200);
    // Half a second later, 50 more tokens.
    w.advance(Duration::from_millis(500));
    for _ in 0..60 {
        w.stacks[0].udp_send_to(w.now, cli, to, b"x").unwrap();
        w.run();
    }
    assert_eq!(w.stacks[1].stats().icmp.sent.dst_unreachable, 150);
}

#[test]
fn own_addresses_loop_back_without_touching_the_link() {
    let mut w = World::lan();
    let frames = w.frames;
    w.stacks[0]
        .ping(w.now, ip("10.0.0.1"), 3, 1, b"self")
        .unwrap();
    let srv = w.stacks[0].udp_bind(None, 4242).unwrap();
    let cli = w.stacks[0].udp_bind(None, 0).unwrap();
    w.stacks[0]
        .udp_send_to(w.now, cli, SocketAddrV4::new(ip("10.0.0.1"), 4242), b"me")
        .unwrap();
    w.run();
    assert_eq!(w.frames, frames, "nothing on the wire");
    let ev = w.take_events(0);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::EchoReply { from, seq: 1, rtt, .. }
        if *from == ip("10.0.0.1") && rtt.is_zero())),
        "{ev:?}"
    );
    let d = w.stacks[0].udp_recv_from(srv).unwrap().unwrap();
    assert_eq!(
        (d.payload.as_slice(), *d.from.ip()),
        (&b"me"[..], ip("10.0.0.1"))
    );
    assert_eq!(w.stacks[0].stats().arp.misses, 0);
}

/// RFC 9293 §3.1 MUST-2/MUST-3: a data segment whose checksum fails is
/// dropped before it is acted on — even though the receive path copies the
/// data into the receive buffer while it verifies the checksum, none of it
/// becomes readable; the intact segment afterwards is delivered exactly.
#[test]
// covers: MUST-3
fn corrupted_data_segment_is_dropped_and_the_intact_one_delivered() {
    let mut w = World::lan();
    let (a, b) = (0, 1);
    let (c, s) = w.tcp_pair(5000);
    // Grow B's receive buffer with a first exchange, so the next segment
    // is copied in place while its checksum is computed.
    w.stacks[a].tcp_set_nodelay(c, true).unwrap();
    w.stacks[a].tcp_send(c, &[1u8; 4000]).unwrap();
    w.run();
    let mut buf = vec![0u8; 4096];
    assert_eq!(w.stacks[b].tcp_recv(s, &mut buf).unwrap(), 4000);
    let copied = w.stacks[b].tcp_stats().copied_while_verified;

    let data: Vec<u8> = (0..1200u32).map(|i| (i * 31 + 7) as u8).collect();
    w.stacks[a].tcp_send(c, &data).unwrap();
    let mut frame = vec![0u8; 2048];
    let (iface, n) = w.stacks[a].poll_transmit(w.now, &mut frame).unwrap();
    assert_eq!(iface.0, 0);
    let frame = frame[..n].to_vec();
    let bad_before = w.stacks[b].stats().tcp.bad_checksum;
    for flip in [n - 1, n - 600, n - 1199] {
        let mut bad = frame.clone();
        bad[flip] ^= 0x10;
        w.stacks[b].receive(w.now, iface, &bad);
        assert!(
            w.stacks[b].tcp_recv(s, &mut buf).is_err(),
            "nothing readable after a corrupted segment (byte {flip})"
        );
    }
    assert_eq!(w.stacks[b].stats().tcp.bad_checksum, bad_before + 3);
    w.stacks[b].receive(w.now, iface, &frame);
    assert_eq!(w.stacks[b].tcp_recv(s, &mut buf).unwrap(), data.len());
    assert_eq!(&buf[..data.len()], &data[..]);
    // The one-pass path took it (the corrupted copies did not count).
    assert_eq!(w.stacks[b].tcp_stats().copied_while_verified, copied + 1);
}

/// The routing decision is reused from segment to segment, but a route
/// added while a connection runs takes effect at its next segment.
#[test]
fn a_new_route_applies_to_the_next_segment_of_a_running_connection() {
    let mut w = World::lan();
    let (a, b) = (0, 1);
    let (c, s) = w.tcp_pair(5001);
    w.stacks[a].tcp_set_nodelay(c, true).unwrap();
    w.stacks[a].tcp_send(c, b"first").unwrap();
    w.run();
    let mut buf = [0u8; 16];
    assert_eq!(w.stacks[b].tcp_recv(s, &mut buf).unwrap(), 5);
    // Now reach 10.0.0.2 through a gateway (whose MAC is unknown).
    let route = strata::wire::ip::Ipv4Cidr::new(ip("10.0.0.2"), 32).unwrap();
    w.stacks[a]
        .add_route(route, Some(ip("10.0.0.9")), strata::link::IfaceId(0))
        .unwrap();
    w.stacks[a].tcp_send(c, b"second").unwrap();
    let mut frame = vec![0u8; 2048];
    let (_, n) = w.stacks[a].poll_transmit(w.now, &mut frame).unwrap();
    // An ARP request (EtherType 0x0806) asking for the gateway, 10.0.0.9.
    assert_eq!(&frame[12..14], &[0x08, 0x06], "{:02x?}", &frame[..n]);
    assert_eq!(&frame[38..42], &[10, 0, 0, 9]);
}

/// Sends `n` bytes from A's `c` and reads them at B's `s`.
fn push(
    w: &mut World,
    c: strata::transport::tcp::TcpHandle,
    s: strata::transport::tcp::TcpHandle,
    n: usize,
) {
    let data = vec![0x5a; n];
    let (mut sent, mut got) = (0, 0);
    let mut buf = [0u8; 4096];
    while got < n {
        sent += w.stacks[0].tcp_send(c, &data[sent..]).unwrap_or(0);
        w.run();
        while let Ok(k) = w.stacks[1].tcp_recv(s, &mut buf) {
            if k == 0 {
                break;
            }
            got += k;
        }
        w.advance(Duration::from_millis(1));
    }
}

/// The sender keeps the next hop's MAC per flow (net/egress.rs) but still
/// follows the ARP cache: every segment counts as a hit, and once the
/// entry has aged to stale (RFC 1122 §2.3.2.1) the next segment makes A
/// re-confirm B with one unicast request, as a lookup per segment did.
#[test]
fn a_tcp_flow_counts_every_arp_hit_and_revalidates_a_stale_neighbour() {
    use strata::link::arp::NeighborState;
    let mut w = World::lan();
    let (c, s) = w.tcp_pair(80);
    let unicast_arp = w.count_unicast_arp_to_b(|_, _| true);
    let counts = |w: &World| {
        let st = w.stacks[0].stats();
        (st.arp.hits, st.tcp.direct_out)
    };
    let (h0, d0) = counts(&w);
    push(&mut w, c, s, 50_000);
    let (h1, d1) = counts(&w);
    assert!(d1 - d0 >= 30, "a flow of segments: {}", d1 - d0);
    assert_eq!(h1 - h0, d1 - d0, "one ARP hit per segment sent");
    assert_eq!(w.neighbour_of_a(), Some(NeighborState::Reachable));
    assert_eq!(*unicast_arp.borrow(), 0);
    // Past the reachable time (30 s by default), within the stale time.
    w.advance(Duration::from_secs(31));
    assert_eq!(w.neighbour_of_a(), Some(NeighborState::Stale));
    push(&mut w, c, s, 50_000);
    let (h2, d2) = counts(&w);
    assert_eq!(*unicast_arp.borrow(), 1, "one re-confirmation");
    assert_eq!(w.neighbour_of_a(), Some(NeighborState::Reachable));
    assert_eq!(h2 - h1, d2 - d1, "one ARP hit per segment sent");
}
