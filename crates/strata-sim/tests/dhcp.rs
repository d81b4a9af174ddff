//! DHCP in the simulator: a server host and clients without addresses on
//! one switch. The clients broadcast from 0.0.0.0, get distinct leases,
//! configure them, and then reach the server with the address they got;
//! with a short lease they renew at T1; with the server gone the lease
//! ends and the address is removed.

use std::net::Ipv4Addr;

use strata::app::dhcp::client::{Client, ClientEvent, State};
use strata::app::dhcp::server::{Server, ServerConfig};
use strata::stack::StackConfig;
use strata::time::{Duration, Instant};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::MacAddr;
use strata_sim::host::Host;
use strata_sim::services::{shared, DhcpClients, Services};
use strata_sim::{LinkConfig, Sim, Switch};

fn cidr(a: [u8; 4], l: u8) -> Ipv4Cidr {
    Ipv4Cidr::new(Ipv4Addr::from(a), l).unwrap()
}

struct Net {
    sim: Sim,
    server: strata_sim::NodeId,
    clients: Vec<strata_sim::NodeId>,
}

fn net(n: usize, lease: Duration, loss: f64) -> (Net, strata_sim::services::Shared<Server>) {
    let mut sim = Sim::new(7);
    let mut s = Host::new("server", StackConfig::default());
    s.add_interface(MacAddr([2, 0, 0, 0, 1, 0]), 1500, cidr([10, 0, 0, 1], 24));
    let server = sim.add_node(Box::new(s));
    let sw = sim.add_node(Box::new(Switch::named("switch", n + 1)));
    let link = LinkConfig::default()
        .with_latency(Duration::from_micros(100))
        .with_loss(loss);
    sim.connect((server, 0), (sw, 0), link.clone()).unwrap();
    let mut clients = Vec::new();
    for i in 0..n {
        let mut h = Host::new(
            format!("c{i}"),
            StackConfig {
                seed: 100 + i as u64,
                ..StackConfig::default()
            },
        );
        // An interface with no address: what DHCP is for.
        h.stack_mut()
            .add_interface(MacAddr([2, 0, 0, 0, 2, i as u8]), 1500);
        let id = sim.add_node(Box::new(h));
        sim.connect((id, 0), (sw, i + 1), link.clone()).unwrap();
        clients.push(id);
    }
    let mut cfg = ServerConfig::new(
        cidr([10, 0, 0, 1], 24),
        Ipv4Addr::new(10, 0, 0, 100),
        Ipv4Addr::new(10, 0, 0, 199),
    );
    cfg.lease_time = lease;
    let dhcp = shared(Server::new(cfg).unwrap());
    Services {
        dhcp: Some((0, dhcp.clone())),
        ..Services::default()
    }
    .install(&mut sim, server)
    .unwrap();
    (
        Net {
            sim,
            server,
            clients,
        },
        dhcp,
    )
}

#[test]
fn three_clients_get_distinct_leases_and_use_them() {
    let (mut n, server) = net(3, Duration::from_secs(3600), 0.0);
    let mut dc = DhcpClients::new();
    for (i, &c) in n.clients.iter().enumerate() {
        dc.add(
            &mut n.sim,
            c,
            0,
            Client::new(MacAddr([2, 0, 0, 0, 2, i as u8]), i as u64),
        )
        .unwrap();
    }
    let bound_at = dc.run_until_bound(&mut n.sim, Instant::from_secs(30));
    assert!(bound_at.is_some(), "not every client was bound");
    let mut addrs = Vec::new();
    for &c in &n.clients {
        let h = n.sim.node::<Host>(c).unwrap();
        let a = h.stack().addresses(strata::link::IfaceId(0)).to_vec();
        assert_eq!(a.len(), 1, "{c:?}: {a:?}");
        assert_eq!(a[0].prefix_len(), 24);
        addrs.push(a[0].address());
    }
    addrs.sort();
    addrs.dedup();
    assert_eq!(addrs.len(), 3, "{addrs:?}");
    assert_eq!(server.borrow().stats().acks, 3);
    // Each client reaches the server from its new address, through the
    // default route the lease gave it.
    for &c in &n.clients {
        n.sim.with_node(c, |h: &mut Host, now| {
            h.stack_mut()
                .ping(now, Ipv4Addr::new(10, 0, 0, 1), 1, 1, &[0; 8])
                .unwrap()
        });
    }
    n.sim.run_for(Duration::from_millis(100));
    for &c in &n.clients {
        let h = n.sim.node::<Host>(c).unwrap();
        assert!(
            h.events()
                .iter()
                .any(|(_, e)| matches!(e, strata::stack::Event::EchoReply { .. })),
            "no echo reply"
        );
        assert_eq!(
            h.stack()
                .routes()
                .lookup(Ipv4Addr::new(8, 8, 8, 8))
                .and_then(|r| r.gateway),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
    }
    let _ = n.server;
}

#[test]
fn a_short_lease_is_renewed_then_lost_when_the_server_goes() {
    let (mut n, server) = net(1, Duration::from_secs(20), 0.0);
    let mut dc = DhcpClients::new();
    dc.add(
        &mut n.sim,
        n.clients[0],
        0,
        Client::new(MacAddr([2, 0, 0, 0, 2, 0]), 9),
    )
    .unwrap();
    dc.run_until_bound(&mut n.sim, Instant::from_secs(30))
        .unwrap();
    // Past T1 (10 s) the client renews by unicast.
    let t = n.sim.now() + Duration::from_secs(15);
    dc.run_until(&mut n.sim, t);
    assert_eq!(server.borrow().stats().acks, 2);
    assert!(dc
        .events(0)
        .iter()
        .any(|e| matches!(e, ClientEvent::Renewed(_))));
    // The server stops answering: the lease runs out, the address goes.
    Services::default().install(&mut n.sim, n.server).unwrap();
    let t = n.sim.now() + Duration::from_secs(30);
    dc.run_until(&mut n.sim, t);
    assert!(dc
        .events(0)
        .iter()
        .any(|e| matches!(e, ClientEvent::Lost(_))));
    assert_eq!(dc.client(0).state(), State::Selecting);
    let h = n.sim.node::<Host>(n.clients[0]).unwrap();
    assert!(h.stack().addresses(strata::link::IfaceId(0)).is_empty());
}

#[test]
fn leases_are_had_on_a_lossy_wire() {
    let (mut n, _server) = net(4, Duration::from_secs(3600), 0.2);
    let mut dc = DhcpClients::new();
    for (i, &c) in n.clients.iter().enumerate() {
        dc.add(
            &mut n.sim,
            c,
            0,
            Client::new(MacAddr([2, 0, 0, 0, 2, i as u8]), 50 + i as u64),
        )
        .unwrap();
    }
    assert!(dc
        .run_until_bound(&mut n.sim, Instant::from_secs(600))
        .is_some());
    let retransmits: u64 = (0..4).map(|i| dc.client(i).stats().retransmits).sum();
    assert!(retransmits > 0, "20 % loss and no retransmission");
}
