//! The loopback interface: a host talks to itself over 127.0.0.0/8 without
//! any link, and loopback addresses arriving from a link are refused.

use core::net::{Ipv4Addr, SocketAddrV4};
use strata::net::icmp::IcmpErrorKind;
use strata::stack::{Event, Stack, StackConfig};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{State, TcpError};
use strata::transport::udp::UdpError;
use strata::wire::ip::Ipv4Cidr;
use strata::wire::ipv4::{IpProtocol, Ipv4Repr};
use strata::wire::udp::UdpRepr;
use strata::wire::MacAddr;

const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const PEER: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn stack() -> Stack {
    Stack::new(StackConfig {
        seed: 7,
        ..StackConfig::default()
    })
}

/// Runs the stack's loopback until quiet; returns the frames that left
/// for a link (none are expected on a loopback-only path).
fn pump(s: &mut Stack, now: Instant) -> usize {
    let mut buf = vec![0u8; 70_000];
    let mut frames = 0;
    while s.poll_transmit(now, &mut buf).is_some() {
        frames += 1;
        assert!(frames < 10_000, "loopback never went quiet");
    }
    frames
}

#[test]
fn add_loopback_owns_127_slash_8_and_is_idempotent() {
    let mut s = stack();
    assert_eq!(s.loopback_iface(), None);
    assert!(!s.is_local_addr(LO));
    let lo = s.add_loopback();
    assert_eq!(s.add_loopback(), lo);
    assert_eq!(s.loopback_iface(), Some(lo));
    assert_eq!(s.addresses(lo), &[Ipv4Cidr::new(LO, 8).unwrap()]);
    for a in [
        LO,
        Ipv4Addr::new(127, 1, 2, 3),
        Ipv4Addr::new(127, 255, 0, 1),
    ] {
        assert!(s.is_local_addr(a), "{a}");
    }
    assert!(!s.is_local_addr(Ipv4Addr::new(128, 0, 0, 1)));
    // The loopback announces nothing on any link.
    assert_eq!(pump(&mut s, Instant::ZERO), 0);
}

#[test]
fn tcp_over_loopback_carries_a_whole_exchange_without_a_link() {
    let mut s = stack();
    s.add_loopback();
    let mut now = Instant::ZERO;
    let l = s.tcp_listen(Some(LO), 8080, 5).unwrap();
    let c = s.tcp_connect(now, SocketAddrV4::new(LO, 8080)).unwrap();
    assert_eq!(s.tcp().local_addr(c).unwrap().ip(), &LO);
    assert_eq!(pump(&mut s, now), 0);
    assert_eq!(s.tcp_state(c), State::Established);
    let a = s.tcp_accept(l).unwrap();
    assert_eq!(
        s.tcp().remote_addr(a).unwrap(),
        s.tcp().local_addr(c).unwrap()
    );

    // More than one segment each way, so windows and ACKs are exercised.
    let msg: Vec<u8> = (0..20_000u32).map(|i| (i * 7) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..1000 {
        if sent < msg.len() {
            sent += s.tcp_send(c, &msg[sent..]).unwrap_or(0);
        }
        now += Duration::from_millis(1);
        if s.poll_timeout().is_some_and(|t| t <= now) {
            s.handle_timeout(now);
        }
        assert_eq!(pump(&mut s, now), 0, "loopback traffic reached a link");
        while let Ok(n) = s.tcp_recv(a, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() == msg.len() {
            break;
        }
    }
    assert_eq!(got, msg);
    s.tcp_send(a, b"HELLO").unwrap();
    pump(&mut s, now);
    let n = s.tcp_recv(c, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"HELLO");
    assert_eq!(s.stats().link.frames_out, 0);
}

#[test]
fn connecting_to_a_closed_loopback_port_is_refused() {
    let mut s = stack();
    s.add_loopback();
    let now = Instant::ZERO;
    let c = s.tcp_connect(now, SocketAddrV4::new(LO, 9)).unwrap();
    pump(&mut s, now);
    assert_eq!(s.tcp_state(c), State::Closed);
    assert_eq!(s.tcp().error(c), Some(TcpError::Refused));
}

#[test]
fn udp_and_ping_reach_any_loopback_address() {
    let mut s = stack();
    s.add_loopback();
    let now = Instant::ZERO;
    let server = s.udp_bind(Some(Ipv4Addr::new(127, 0, 0, 2)), 5000).unwrap();
    let client = s.udp_bind(None, 0).unwrap();
    s.udp_send_to(
        now,
        client,
        SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 5000),
        b"ping",
    )
    .unwrap();
    pump(&mut s, now);
    let d = s
        .udp_recv_from(server)
        .unwrap()
        .expect("datagram looped back");
    assert_eq!(d.payload, b"ping");
    assert!(d.from.ip().is_loopback());

    s.ping(now, Ipv4Addr::new(127, 9, 9, 9), 1, 1, b"x")
        .unwrap();
    pump(&mut s, now);
    let mut replied = false;
    while let Some(e) = s.poll_event() {
        if let Event::EchoReply { from, seq: 1, .. } = e {
            assert_eq!(from, Ipv4Addr::new(127, 9, 9, 9));
            replied = true;
        }
    }
    assert!(replied, "no echo reply over loopback");
}

#[test]
fn udp_to_an_unbound_loopback_port_reports_port_unreachable() {
    // Before the loopback interface existed, ICMP errors to 127.x sources
    // were suppressed; a local sender now learns of the closed port, as on
    // Linux.
    let mut s = stack();
    s.add_loopback();
    let now = Instant::ZERO;
    let client = s.udp_bind(Some(LO), 0).unwrap();
    s.udp_send_to(now, client, SocketAddrV4::new(LO, 9), b"anyone?")
        .unwrap();
    pump(&mut s, now);
    match s.udp_recv_from(client) {
        Err(UdpError::Icmp(e)) => assert_eq!(e.kind, IcmpErrorKind::PortUnreachable),
        other => panic!("expected port unreachable, got {other:?}"),
    }
}

/// An Ethernet frame from PEER carrying UDP `src` → `dst`:53.
fn udp_frame(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let payload = b"spoofed";
    let udp = UdpRepr {
        src_port: 1234,
        dst_port: 53,
    };
    let r = Ipv4Repr::new(src, dst, IpProtocol::UDP, 64, udp.buffer_len(payload.len()));
    let mut f = vec![0u8; 14 + r.buffer_len()];
    f[0..6].copy_from_slice(&MAC.0);
    f[6..12].copy_from_slice(&PEER.0);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let hl = r.emit(&mut f[14..]).unwrap();
    udp.emit(&mut f[14 + hl..], src, dst, payload).unwrap();
    f
}

#[test]
fn loopback_addresses_from_a_link_are_dropped() {
    let mut s = stack();
    let eth = s.add_interface(MAC, 1500);
    s.add_address(eth, Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap())
        .unwrap();
    let lo = s.add_loopback();
    let sock = s.udp_bind(None, 53).unwrap();
    let now = Instant::ZERO;
    pump(&mut s, now);
    // RFC 1122 §3.2.1.3 (g): never from outside the host, either way.
    s.receive(now, eth, &udp_frame(Ipv4Addr::new(10, 0, 0, 2), LO));
    s.receive(now, eth, &udp_frame(LO, Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(s.stats().ip.dropped.martian_destination, 1);
    assert_eq!(s.stats().ip.dropped.martian_source, 1);
    // Nothing arrives on the loopback interface from outside either.
    s.receive(now, lo, &udp_frame(LO, LO));
    assert_eq!(pump(&mut s, now), 0);
    assert!(s.udp_recv_from(sock).unwrap().is_none());
    // The control: the same frame between real addresses is delivered.
    s.receive(
        now,
        eth,
        &udp_frame(Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1)),
    );
    assert!(s.udp_recv_from(sock).unwrap().is_some());
}

#[test]
fn loopback_traffic_never_leaves_by_the_ethernet_interface() {
    let mut s = stack();
    let eth = s.add_interface(MAC, 1500);
    s.add_address(eth, Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap())
        .unwrap();
    s.set_default_gateway(Ipv4Addr::new(10, 0, 0, 254)).unwrap();
    s.add_loopback();
    let now = Instant::ZERO;
    pump(&mut s, now);
    let before = s.stats().link.frames_out;
    let l = s.tcp_listen(None, 80, 5).unwrap();
    let c = s.tcp_connect(now, SocketAddrV4::new(LO, 80)).unwrap();
    assert_eq!(pump(&mut s, now), 0);
    assert_eq!(s.tcp_state(c), State::Established);
    assert!(s.tcp_accept(l).is_ok());
    assert_eq!(s.stats().link.frames_out, before);
}

#[test]
fn udp_connect_fixes_the_source_address_of_a_wildcard_socket() {
    // As a kernel's connect: the socket's local address becomes the one
    // the route picks, and the peer's answers still arrive.
    let mut s = stack();
    s.add_loopback();
    let now = Instant::ZERO;
    let server = s.udp_bind(Some(Ipv4Addr::new(127, 0, 0, 3)), 5001).unwrap();
    let client = s.udp_bind(None, 0).unwrap();
    let port = s.udp_local_addr(client).unwrap().port();
    assert!(s.udp_local_addr(client).unwrap().ip().is_unspecified());
    s.udp_connect(client, SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 3), 5001))
        .unwrap();
    assert_eq!(
        s.udp_local_addr(client).unwrap(),
        SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 3), port)
    );
    s.udp_send(now, client, b"hi").unwrap();
    pump(&mut s, now);
    let d = s.udp_recv_from(server).unwrap().expect("delivered");
    assert_eq!(d.from, s.udp_local_addr(client).unwrap());
    s.udp_send_to(now, server, d.from, b"back").unwrap();
    pump(&mut s, now);
    assert_eq!(s.udp_recv_from(client).unwrap().unwrap().payload, b"back");
    // The port stays taken for a wildcard bind.
    assert!(s.udp_bind(None, port).is_err());
    s.udp_close(client).unwrap();
    s.udp_bind(None, port).unwrap();
}

#[test]
fn udp_receive_buffer_in_bytes_drops_what_does_not_fit() {
    let mut s = stack();
    s.add_loopback();
    let now = Instant::ZERO;
    let server = s.udp_bind(Some(LO), 5002).unwrap();
    let client = s.udp_bind(Some(LO), 0).unwrap();
    assert_eq!(s.udp_recv_buffer(server).unwrap(), None);
    s.udp_set_recv_buffer(server, Some(2500)).unwrap();
    assert_eq!(s.udp_recv_buffer(server).unwrap(), Some(2500));
    for _ in 0..5 {
        s.udp_send_to(now, client, SocketAddrV4::new(LO, 5002), &[1u8; 1000])
            .unwrap();
    }
    pump(&mut s, now);
    let mut n = 0;
    while let Some(d) = s.udp_recv_from(server).unwrap() {
        assert_eq!(d.payload.len(), 1000);
        n += 1;
    }
    assert_eq!(n, 2, "two 1000-byte datagrams fit in 2500 bytes");
    assert_eq!(s.udp_socket_stats(server).unwrap().dropped, 3);
    // Read out, the room is back.
    s.udp_send_to(now, client, SocketAddrV4::new(LO, 5002), &[1u8; 1000])
        .unwrap();
    pump(&mut s, now);
    assert!(s.udp_recv_from(server).unwrap().is_some());
}
