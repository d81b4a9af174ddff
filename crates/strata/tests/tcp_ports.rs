//! Ephemeral port choice for TCP active opens (RFC 6056 §3.3.1
//! `check_suitable_port()`): the 4-tuple must be unique and the port not
//! held by a listener; ports other connections (TIME-WAIT included) use
//! towards other peers may be reused.

mod stack_util;

use core::net::SocketAddrV4;
use stack_util::{ip, World};
use strata::stack::{Stack, StackConfig};
use strata::transport::ports::PortRange;
use strata::transport::tcp::{State, TcpError};

/// A (client) and B (server) on one LAN; A's ephemeral range is `range`.
fn lan(range: PortRange) -> World {
    let mut w = World::new();
    let a = w.add_stack();
    let b = w.add_stack();
    w.stacks[a] = Stack::new(StackConfig {
        seed: 1,
        ephemeral_ports: range,
        ..StackConfig::default()
    });
    let seg = w.add_segment();
    w.attach(a, seg, "10.0.0.1/24", 1500);
    w.attach(b, seg, "10.0.0.2/24", 1500);
    w.run();
    w
}

/// Opens a connection A → B:`port`, exchanges nothing, closes A first then
/// B, leaving A's end in TIME-WAIT. Returns A's local port.
fn connect_and_close(w: &mut World, port: u16) -> Result<u16, TcpError> {
    let l = w.stacks[1].tcp_listen(None, port, 16).unwrap();
    let c = w.stacks[0].tcp_connect(w.now, SocketAddrV4::new(ip("10.0.0.2"), port))?;
    w.run();
    let s = w.stacks[1].tcp_accept(l).expect("handshake completed");
    let local = w.stacks[0].tcp().local_addr(c).unwrap().port();
    w.stacks[0].tcp_close(w.now, c).unwrap();
    w.run();
    w.stacks[1].tcp_close(w.now, s).unwrap();
    w.run();
    w.stacks[1].tcp_close_listener(w.now, l).unwrap();
    Ok(local)
}

/// A's connections in TIME-WAIT towards `remote_port`.
fn time_waits(w: &World, remote_port: u16) -> usize {
    w.stacks[0]
        .tcp()
        .connections()
        .filter(|(_, i)| i.state == State::TimeWait && i.remote.port() == remote_port)
        .count()
}

#[test]
fn connect_reuses_ports_whose_time_waits_lead_to_other_peers() {
    let range = PortRange::new(40_000, 40_063).unwrap();
    let mut w = lan(range);
    // Every port of the range ends in TIME-WAIT towards B:80.
    let mut used = Vec::new();
    for _ in 0..range.len() {
        used.push(connect_and_close(&mut w, 80).expect("a free port"));
    }
    used.sort_unstable();
    used.dedup();
    assert_eq!(used.len(), range.len() as usize, "each port once");
    assert_eq!(time_waits(&w, 80), range.len() as usize);
    // Towards B:80 every 4-tuple is taken: no port is suitable.
    let again = w.stacks[0].tcp_connect(w.now, SocketAddrV4::new(ip("10.0.0.2"), 80));
    assert_eq!(again, Err(TcpError::NoFreePort));
    // Towards B:81 the same ports form new 4-tuples: connect succeeds while
    // the 64 TIME-WAITs still hold their own 4-tuples (2×MSL not over).
    let p = connect_and_close(&mut w, 81).expect("4-tuple is free");
    assert!(range.contains(p));
    assert_eq!(time_waits(&w, 80), range.len() as usize);
    assert_eq!(time_waits(&w, 81), 1);
}

#[test]
fn ephemeral_choice_skips_ports_held_by_listeners() {
    // Two ports; a listener on A holds one of them.
    let range = PortRange::new(40_000, 40_001).unwrap();
    let mut w = lan(range);
    let l = w.stacks[0].tcp_listen(None, 40_000, 4).unwrap();
    assert_eq!(connect_and_close(&mut w, 80), Ok(40_001));
    // The free port's 4-tuple towards B:80 is in TIME-WAIT and the other
    // port is the listener's: nothing is suitable.
    let to = SocketAddrV4::new(ip("10.0.0.2"), 80);
    assert_eq!(
        w.stacks[0].tcp_connect(w.now, to),
        Err(TcpError::NoFreePort)
    );
    // Without the listener its port is suitable again.
    w.stacks[0].tcp_close_listener(w.now, l).unwrap();
    assert_eq!(connect_and_close(&mut w, 80), Ok(40_000));
}

#[test]
fn binding_a_port_held_by_a_listener_is_addr_in_use() {
    let mut w = lan(PortRange::DYNAMIC);
    let b = &mut w.stacks[1];
    let l = b.tcp_listen(None, 80, 4).unwrap();
    // The same port again, on the wildcard or on a specific address.
    assert_eq!(b.tcp_listen(None, 80, 4), Err(TcpError::AddrInUse));
    assert_eq!(
        b.tcp_listen(Some(ip("10.0.0.2")), 80, 4),
        Err(TcpError::AddrInUse)
    );
    // Once the listener is closed the port can be bound again.
    w.stacks[1].tcp_close_listener(w.now, l).unwrap();
    assert!(w.stacks[1].tcp_listen(None, 80, 4).is_ok());
    // An explicit local port that repeats a live 4-tuple is refused.
    let a = &mut w.stacks[0];
    let to = SocketAddrV4::new(ip("10.0.0.2"), 80);
    let from = SocketAddrV4::new(ip("10.0.0.1"), 5555);
    a.tcp_connect_from(w.now, Some(from), to).unwrap();
    assert_eq!(
        a.tcp_connect_from(w.now, Some(from), to),
        Err(TcpError::AddrInUse)
    );
}
