//! NAT on a simulated strata router (RFC 4787, RFC 5382, RFC 5508): hosts
//! behind it reach a server outside, the server sees the router's outside
//! address, mappings expire, and what nobody asked for is dropped.
//!
//! ```text
//!   h1 192.168.1.10 ─┐                          ┌─ server 203.0.113.80
//!                    ├─ lan ─ r (NAT) ─ wan ────┤
//!   h2 192.168.1.11 ─┘  192.168.1.1  203.0.113.1└─ other  203.0.113.90
//! ```

use std::cell::RefCell;
use std::net::SocketAddrV4;
use std::rc::Rc;

use strata::link::IfaceId;
use strata::net::nat::{Filtering, NatConfig, NatProtocol};
use strata::stack::{Event, StackConfig};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{TcpEvent, TcpHandle};
use strata::transport::udp::UdpHandle;
use strata::wire::ip::Ipv4Cidr;
use strata::wire::{Ipv4Addr, MacAddr};
use strata_sim::host::Host;
use strata_sim::{LinkConfig, NodeId, Sim, Switch};

const EXT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 80);
const OTHER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 90);
const H1: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const H2: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 11);

struct Net {
    sim: Sim,
    h1: NodeId,
    h2: NodeId,
    r: NodeId,
    server: NodeId,
    other: NodeId,
    /// What the UDP echo servers saw: (server, source of each datagram).
    seen: Rc<RefCell<Vec<(Ipv4Addr, SocketAddrV4)>>>,
}

fn cidr(a: Ipv4Addr, l: u8) -> Ipv4Cidr {
    Ipv4Cidr::new(a, l).unwrap()
}

fn host(name: &str, n: u8, addr: Ipv4Addr, gw: Option<Ipv4Addr>) -> Host {
    let mut h = Host::new(
        name,
        StackConfig {
            seed: u64::from(n),
            ..StackConfig::default()
        },
    );
    h.add_interface(MacAddr([2, 0, 0, 0, n, 0]), 1500, cidr(addr, 24));
    if let Some(g) = gw {
        h.stack_mut().set_default_gateway(g).unwrap();
    }
    h
}

/// A UDP server on port 7 that answers each datagram with the source
/// address it saw, as text.
fn echo_source(h: &mut Host, me: Ipv4Addr, seen: Rc<RefCell<Vec<(Ipv4Addr, SocketAddrV4)>>>) {
    let sock = h.stack_mut().udp_bind(None, 7).unwrap();
    h.set_app(Box::new(move |now, st, ev| {
        if *ev == Event::UdpReadable(sock) {
            while let Ok(Some(d)) = st.udp_recv_from(sock) {
                seen.borrow_mut().push((me, d.from));
                let _ = st.udp_send_to(now, sock, d.from, d.from.to_string().as_bytes());
            }
        }
    }));
}

fn net(filtering: Filtering) -> Net {
    let mut sim = Sim::new(7);
    let lan = sim.add_node(Box::new(Switch::named("lan", 3)));
    let wan = sim.add_node(Box::new(Switch::named("wan", 3)));
    let h1 = sim.add_node(Box::new(host(
        "h1",
        1,
        H1,
        Some(Ipv4Addr::new(192, 168, 1, 1)),
    )));
    let h2 = sim.add_node(Box::new(host(
        "h2",
        2,
        H2,
        Some(Ipv4Addr::new(192, 168, 1, 1)),
    )));
    let mut router = Host::router(
        "r",
        StackConfig {
            seed: 3,
            ..StackConfig::default()
        },
    );
    router.add_interface(
        MacAddr([2, 0, 0, 0, 3, 0]),
        1500,
        cidr(Ipv4Addr::new(192, 168, 1, 1), 24),
    );
    router.add_interface(MacAddr([2, 0, 0, 0, 3, 1]), 1500, cidr(EXT, 24));
    router
        .stack_mut()
        .enable_nat(
            IfaceId(1),
            NatConfig {
                filtering,
                ..NatConfig::default()
            },
        )
        .unwrap();
    let r = sim.add_node(Box::new(router));
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut s = host("server", 4, SERVER, None);
    echo_source(&mut s, SERVER, seen.clone());
    let server = sim.add_node(Box::new(s));
    let mut o = host("other", 5, OTHER, None);
    echo_source(&mut o, OTHER, seen.clone());
    let other = sim.add_node(Box::new(o));
    let l = LinkConfig::default();
    sim.connect((h1, 0), (lan, 0), l.clone()).unwrap();
    sim.connect((h2, 0), (lan, 1), l.clone()).unwrap();
    sim.connect((r, 0), (lan, 2), l.clone()).unwrap();
    sim.connect((r, 1), (wan, 0), l.clone()).unwrap();
    sim.connect((server, 0), (wan, 1), l.clone()).unwrap();
    sim.connect((other, 0), (wan, 2), l).unwrap();
    sim.run_for(Duration::from_millis(5));
    Net {
        sim,
        h1,
        h2,
        r,
        server,
        other,
        seen,
    }
}

impl Net {
    /// Sends `data` from `node`'s `sock` to `to` and lets 50 ms pass: time
    /// for it to cross the NAT and for any answer to come back.
    fn send_and_wait(&mut self, node: NodeId, sock: UdpHandle, to: SocketAddrV4, data: &[u8]) {
        send(&mut self.sim, node, sock, to, data);
        self.sim.run_for(Duration::from_millis(50));
    }
}

fn bind(sim: &mut Sim, node: NodeId, port: u16) -> UdpHandle {
    sim.with_node(node, |h: &mut Host, _| {
        h.stack_mut().udp_bind(None, port).unwrap()
    })
    .unwrap()
}

fn send(sim: &mut Sim, node: NodeId, sock: UdpHandle, to: SocketAddrV4, data: &[u8]) {
    sim.with_node(node, |h: &mut Host, now| {
        h.stack_mut().udp_send_to(now, sock, to, data).unwrap()
    })
    .unwrap();
}

/// Every datagram queued on `sock`: (from, payload as text).
fn recv_all(sim: &mut Sim, node: NodeId, sock: UdpHandle) -> Vec<(SocketAddrV4, String)> {
    sim.with_node(node, |h: &mut Host, _| {
        let mut out = Vec::new();
        while let Ok(Some(d)) = h.stack_mut().udp_recv_from(sock) {
            out.push((d.from, String::from_utf8_lossy(&d.payload).into_owned()));
        }
        out
    })
    .unwrap()
}

fn nat_stats(sim: &Sim, r: NodeId) -> strata::net::nat::NatStats {
    sim.node::<Host>(r).unwrap().stack().nat().unwrap().stats()
}

#[test]
fn hosts_behind_nat_reach_a_server_that_sees_the_outside_address() {
    let mut n = net(Filtering::AddressDependent);
    let s1 = bind(&mut n.sim, n.h1, 5000);
    let s2 = bind(&mut n.sim, n.h2, 5000);
    let to = SocketAddrV4::new(SERVER, 7);
    n.send_and_wait(n.h1, s1, to, b"one");
    n.send_and_wait(n.h2, s2, to, b"two");
    // The server saw the router's address; h1 kept its port (port
    // preservation), h2's same port was taken so it got the next.
    assert_eq!(
        *n.seen.borrow(),
        vec![
            (SERVER, SocketAddrV4::new(EXT, 5000)),
            (SERVER, SocketAddrV4::new(EXT, 5001))
        ]
    );
    // The answers came back through the mappings to the right hosts.
    assert_eq!(
        recv_all(&mut n.sim, n.h1, s1),
        vec![(to, "203.0.113.1:5000".to_string())]
    );
    assert_eq!(
        recv_all(&mut n.sim, n.h2, s2),
        vec![(to, "203.0.113.1:5001".to_string())]
    );
    // Endpoint-independent mapping (RFC 4787 REQ-1): h1 to another server
    // leaves from the same outside port.
    n.send_and_wait(n.h1, s1, SocketAddrV4::new(OTHER, 7), b"three");
    assert_eq!(
        n.seen.borrow().last(),
        Some(&(OTHER, SocketAddrV4::new(EXT, 5000)))
    );
    let st = nat_stats(&n.sim, n.r);
    assert_eq!(st.mappings_created, 2);
    assert_eq!(st.translated_out, 3);
    assert_eq!(st.translated_in, 3);
}

#[test]
fn udp_mappings_expire_and_unsolicited_datagrams_are_dropped() {
    let mut n = net(Filtering::AddressDependent);
    let s1 = bind(&mut n.sim, n.h1, 6000);
    let to = SocketAddrV4::new(SERVER, 7);
    n.send_and_wait(n.h1, s1, to, b"hello");
    assert_eq!(recv_all(&mut n.sim, n.h1, s1).len(), 1);

    // Address-dependent filtering: a host h1 never sent to is refused,
    // the server from another of its ports is admitted.
    let intruder = bind(&mut n.sim, n.other, 9999);
    send(
        &mut n.sim,
        n.other,
        intruder,
        SocketAddrV4::new(EXT, 6000),
        b"let me in",
    );
    let server_other_port = bind(&mut n.sim, n.server, 8888);
    n.send_and_wait(
        n.server,
        server_other_port,
        SocketAddrV4::new(EXT, 6000),
        b"from 8888",
    );
    assert_eq!(
        recv_all(&mut n.sim, n.h1, s1),
        vec![(SocketAddrV4::new(SERVER, 8888), "from 8888".to_string())]
    );
    assert_eq!(nat_stats(&n.sim, n.r).dropped_unsolicited, 1);

    // A port nobody mapped: dropped, with neither answer nor error.
    n.send_and_wait(
        n.server,
        server_other_port,
        SocketAddrV4::new(EXT, 7777),
        b"anyone?",
    );
    assert_eq!(nat_stats(&n.sim, n.r).dropped_unsolicited, 2);

    // The mapping lives its UDP timeout (RFC 4787 REQ-5: at least two
    // minutes; five here) after the last datagram, and then ends.
    let info = |sim: &Sim| {
        sim.node::<Host>(n.r)
            .unwrap()
            .stack()
            .nat()
            .unwrap()
            .mappings()
            .collect::<Vec<_>>()
    };
    let m = info(&n.sim);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].protocol, NatProtocol::Udp);
    assert_eq!(m[0].internal, SocketAddrV4::new(H1, 6000));
    assert!(m[0].expires >= n.sim.now() + Duration::from_secs(299));
    n.sim.run_for(Duration::from_secs(120));
    assert_eq!(info(&n.sim).len(), 1, "alive after two minutes");
    n.sim.run_for(Duration::from_secs(185));
    assert!(info(&n.sim).is_empty(), "expired after five");
    assert_eq!(nat_stats(&n.sim, n.r).mappings_expired, 1);
    // The server's late answer finds no mapping: dropped.
    n.send_and_wait(
        n.server,
        server_other_port,
        SocketAddrV4::new(EXT, 6000),
        b"too late",
    );
    assert!(recv_all(&mut n.sim, n.h1, s1).is_empty());
    assert_eq!(nat_stats(&n.sim, n.r).dropped_unsolicited, 3);
}

#[test]
fn endpoint_independent_filtering_admits_any_sender_and_hairpins() {
    let mut n = net(Filtering::EndpointIndependent);
    let s1 = bind(&mut n.sim, n.h1, 6000);
    n.send_and_wait(n.h1, s1, SocketAddrV4::new(SERVER, 7), b"x");
    recv_all(&mut n.sim, n.h1, s1);
    let o = bind(&mut n.sim, n.other, 4444);
    n.send_and_wait(n.other, o, SocketAddrV4::new(EXT, 6000), b"hi");
    assert_eq!(
        recv_all(&mut n.sim, n.h1, s1),
        vec![(SocketAddrV4::new(OTHER, 4444), "hi".to_string())]
    );
    // Hairpinning (RFC 4787 REQ-9): h2 reaches h1 through h1's outside
    // endpoint and is seen as its own outside endpoint.
    let s2 = bind(&mut n.sim, n.h2, 7000);
    n.send_and_wait(n.h2, s2, SocketAddrV4::new(EXT, 6000), b"neighbour");
    assert_eq!(
        recv_all(&mut n.sim, n.h1, s1),
        vec![(SocketAddrV4::new(EXT, 7000), "neighbour".to_string())]
    );
    assert_eq!(nat_stats(&n.sim, n.r).hairpinned, 1);
}

#[test]
fn ping_through_nat_and_icmp_errors_are_translated() {
    let mut n = net(Filtering::AddressDependent);
    n.sim.with_node(n.h1, |h: &mut Host, now| {
        h.stack_mut().ping(now, SERVER, 0x77, 1, b"abc").unwrap();
    });
    n.sim.run_for(Duration::from_millis(50));
    let h1 = n.sim.node::<Host>(n.h1).unwrap();
    assert!(h1.events().iter().any(|(_, e)| matches!(
        e,
        Event::EchoReply {
            from: SERVER,
            ident: 0x77,
            seq: 1,
            ..
        }
    )));
    let m: Vec<_> = n
        .sim
        .node::<Host>(n.r)
        .unwrap()
        .stack()
        .nat()
        .unwrap()
        .mappings()
        .collect();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].protocol, NatProtocol::Icmp);
    // RFC 5508 REQ-1: an ICMP query mapping lasts at least 60 s.
    assert!(m[0].expires >= n.sim.now() + Duration::from_secs(59));

    // A datagram to a closed port of the server: its port unreachable
    // comes back to the outside address and is translated for h1 (outer
    // and quoted header), whose socket learns of it.
    let s1 = bind(&mut n.sim, n.h1, 6100);
    n.send_and_wait(n.h1, s1, SocketAddrV4::new(SERVER, 9), b"x");
    let h1 = n.sim.node::<Host>(n.h1).unwrap();
    assert!(
        h1.events()
            .iter()
            .any(|(_, e)| matches!(e, Event::UdpError { handle, .. } if *handle == s1)),
        "{:?}",
        h1.events()
    );
    assert_eq!(nat_stats(&n.sim, n.r).icmp_errors_translated, 1);
}

/// h1 opens a TCP connection to the server's port 80; the server's
/// application writes back the address it sees, then the client closes.
#[test]
fn tcp_through_nat_with_established_and_transitory_timeouts() {
    let mut n = net(Filtering::AddressDependent);
    let peer = Rc::new(RefCell::new(None));
    let p2 = peer.clone();
    n.sim.with_node(n.server, |h: &mut Host, _| {
        let l = h.stack_mut().tcp_listen(None, 80, 4).unwrap();
        let mut conns: Vec<TcpHandle> = Vec::new();
        h.set_app(Box::new(move |now, st, ev| match ev {
            Event::Tcp(TcpEvent::Acceptable { listener }) if *listener == l => {
                while let Ok(c) = st.tcp_accept(l) {
                    let remote = st.tcp().info(c).ok().map(|i| i.remote);
                    *p2.borrow_mut() = remote;
                    let _ = st.tcp_send(c, format!("{remote:?}").as_bytes());
                    conns.push(c);
                }
            }
            Event::Tcp(TcpEvent::PeerClosed(c)) => {
                let _ = st.tcp_close(now, *c);
            }
            _ => {}
        }));
    });
    let c = n
        .sim
        .with_node(n.h1, |h: &mut Host, now| {
            h.stack_mut()
                .tcp_connect(now, SocketAddrV4::new(SERVER, 80))
                .unwrap()
        })
        .unwrap();
    n.sim.run_for(Duration::from_millis(100));
    let seen = peer.borrow().expect("the server accepted");
    assert_eq!(*seen.ip(), EXT, "the server sees the NAT's address");
    let got = n
        .sim
        .with_node(n.h1, |h: &mut Host, _| {
            let mut b = [0u8; 100];
            let k = h.stack_mut().tcp_recv(c, &mut b).unwrap();
            String::from_utf8_lossy(&b[..k]).into_owned()
        })
        .unwrap();
    assert_eq!(got, format!("{:?}", Some(seen)));
    let expiry = |sim: &Sim| {
        sim.node::<Host>(n.r)
            .unwrap()
            .stack()
            .nat()
            .unwrap()
            .mappings()
            .find(|m| m.protocol == NatProtocol::Tcp)
            .map(|m| m.expires)
    };
    // Established: RFC 5382 REQ-5, at least 2 h 4 min idle.
    let e = expiry(&n.sim).unwrap();
    assert!(e >= n.sim.now() + Duration::from_secs(2 * 3600 + 4 * 60 - 1));
    // Closed both ways: transitory, 4 minutes.
    n.sim.with_node(n.h1, |h: &mut Host, now| {
        h.stack_mut().tcp_close(now, c).unwrap();
    });
    n.sim.run_for(Duration::from_millis(100));
    let e = expiry(&n.sim).unwrap();
    assert!(e <= n.sim.now() + Duration::from_secs(240));
    n.sim.run_until(Instant::ZERO + Duration::from_secs(300));
    assert_eq!(expiry(&n.sim), None);
    let _ = (n.h2, n.other);
}
