//! TCP through the whole stack in the simulator.

use std::net::SocketAddrV4;
use strata::stack::Event;
use strata::time::{Duration, Instant};
use strata::transport::tcp::{TcpError, TcpEvent, TcpHandle};
use strata::wire::Ipv4Addr;
use strata_sim::host::{self, Host, ScenarioOptions};
use strata_sim::{NodeId, Sim};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// An HTTP/1.0-like server on B:80 answering each request with a body of
/// `body_len` bytes, then closing.
fn install_server(h: &mut Host, body_len: usize) {
    let l = h.stack_mut().tcp_listen(None, 80, 16).unwrap();
    let mut conns: Vec<(TcpHandle, Vec<u8>, Vec<u8>)> = Vec::new();
    h.set_app(Box::new(move |now, st, ev| {
        match ev {
            Event::Tcp(TcpEvent::Acceptable { listener }) if *listener == l => {
                while let Ok(c) = st.tcp_accept(l) {
                    conns.push((c, Vec::new(), Vec::new()));
                }
            }
            Event::Tcp(TcpEvent::Readable(c)) => {
                if let Some((_, req, out)) = conns.iter_mut().find(|x| x.0 == *c) {
                    let mut buf = [0u8; 2048];
                    while let Ok(n) = st.tcp_recv(*c, &mut buf) {
                        if n == 0 {
                            break;
                        }
                        req.extend_from_slice(&buf[..n]);
                    }
                    if req.ends_with(b"\r\n\r\n") && out.is_empty() {
                        let body: Vec<u8> = (0..body_len).map(|i| b'a' + (i % 26) as u8).collect();
                        out.extend_from_slice(
                            format!("HTTP/1.0 200 OK\r\nContent-Length: {body_len}\r\n\r\n")
                                .as_bytes(),
                        );
                        out.extend_from_slice(&body);
                    }
                }
            }
            _ => {}
        }
        // Push what fits; close once everything is queued.
        for (c, _, out) in conns.iter_mut() {
            if out.is_empty() {
                continue;
            }
            if let Ok(n) = st.tcp_send(*c, out) {
                out.drain(..n);
                if out.is_empty() {
                    let _ = st.tcp_close(now, *c);
                }
            }
        }
    }));
}

/// Host `node` opens a connection to `to`.
fn connect(sim: &mut Sim, node: NodeId, to: SocketAddrV4) -> TcpHandle {
    sim.with_node(node, |h: &mut Host, now| {
        h.stack_mut().tcp_connect(now, to).unwrap()
    })
    .unwrap()
}

fn fetch(opts: ScenarioOptions, body_len: usize) -> (Vec<u8>, host::Lan) {
    let mut o = opts;
    let mut lan = host::lan(&mut o).unwrap();
    lan.sim
        .with_node(lan.b, |h: &mut Host, _| install_server(h, body_len));
    let c = connect(&mut lan.sim, lan.a, SocketAddrV4::new(SERVER, 80));
    let mut sent = false;
    let mut resp = Vec::new();
    let mut done = false;
    let deadline = Instant::from_secs(120);
    while !done && lan.sim.now() < deadline {
        lan.sim.run_for(Duration::from_millis(5));
        lan.sim.with_node(lan.a, |h: &mut Host, now| {
            let evs = h.take_events();
            let st = h.stack_mut();
            for (_, e) in evs {
                if let Event::Tcp(TcpEvent::Connected(x)) = e {
                    assert_eq!(x, c);
                    if !sent {
                        st.tcp_send(c, b"GET /index.html HTTP/1.0\r\nHost: b\r\n\r\n")
                            .unwrap();
                        sent = true;
                    }
                }
            }
            let mut buf = [0u8; 4096];
            loop {
                match st.tcp_recv(c, &mut buf) {
                    Ok(0) => {
                        done = true;
                        let _ = st.tcp_close(now, c);
                        break;
                    }
                    Ok(n) => resp.extend_from_slice(&buf[..n]),
                    Err(TcpError::WouldBlock) => break,
                    Err(e) => panic!("{e}"),
                }
            }
        });
    }
    assert!(done, "no end of stream by {}", lan.sim.now());
    (resp, lan)
}

fn check(resp: &[u8], body_len: usize) {
    let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {body_len}\r\n\r\n");
    assert!(
        resp.starts_with(head.as_bytes()),
        "{:?}",
        String::from_utf8_lossy(&resp[..resp.len().min(80)])
    );
    let body = &resp[head.len()..];
    assert_eq!(body.len(), body_len);
    assert!(body
        .iter()
        .enumerate()
        .all(|(i, b)| *b == b'a' + (i % 26) as u8));
}

#[test]
fn http_like_request_response_over_a_switch() {
    let (resp, lan) = fetch(ScenarioOptions::default(), 100_000);
    check(&resp, 100_000);
    let a = lan.sim.node::<Host>(lan.a).unwrap().stack();
    let s = a.stats();
    assert!(s.tcp.segments_in > 60);
    assert!(
        s.tcp.direct_out > 0,
        "segments written straight into the buffer: {s:?}"
    );
}

#[test]
fn http_like_exchange_survives_loss() {
    let (resp, lan) = fetch(
        ScenarioOptions {
            loss: 0.05,
            seed: 3,
            ..ScenarioOptions::default()
        },
        50_000,
    );
    check(&resp, 50_000);
    let b = lan.sim.node::<Host>(lan.b).unwrap().stack();
    assert!(b.tcp_stats().retransmits > 0);
}

#[test]
fn connect_to_closed_port_is_refused() {
    let mut o = ScenarioOptions::default();
    let mut lan = host::lan(&mut o).unwrap();
    let c = connect(&mut lan.sim, lan.a, SocketAddrV4::new(SERVER, 81));
    lan.sim.run_for(Duration::from_millis(100));
    let a = lan.sim.node::<Host>(lan.a).unwrap();
    assert!(
        a.events()
            .iter()
            .any(|(_, e)| *e == Event::Tcp(TcpEvent::Refused(c))),
        "{:?}",
        a.events()
    );
    assert_eq!(a.stack().tcp().error(c), Some(TcpError::Refused));
}

#[test]
fn connect_to_silent_host_reports_host_unreachable() {
    let mut o = ScenarioOptions::default();
    let mut lan = host::lan(&mut o).unwrap();
    let c = connect(
        &mut lan.sim,
        lan.a,
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 77), 80),
    );
    lan.sim.run_for(Duration::from_secs(200));
    let a = lan.sim.node::<Host>(lan.a).unwrap();
    let st = a.stack();
    assert!(st.stats().arp.failures > 0);
    assert!(
        matches!(
            st.tcp().error(c),
            Some(TcpError::HostUnreachable) | Some(TcpError::TimedOut)
        ),
        "{:?}",
        st.tcp().error(c)
    );
}

#[test]
fn tcp_to_own_address_over_loopback() {
    let mut o = ScenarioOptions::default();
    let mut lan = host::lan(&mut o).unwrap();
    let (l, c) = lan
        .sim
        .with_node(lan.a, |h: &mut Host, now| {
            let st = h.stack_mut();
            let l = st.tcp_listen(None, 7000, 4).unwrap();
            let c = st
                .tcp_connect(now, SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 7000))
                .unwrap();
            (l, c)
        })
        .unwrap();
    lan.sim.run_for(Duration::from_millis(10));
    let got = lan
        .sim
        .with_node(lan.a, |h: &mut Host, now| {
            let st = h.stack_mut();
            let s = st.tcp_accept(l).unwrap();
            assert_eq!(st.tcp_send(c, b"hello me").unwrap(), 8);
            let _ = now;
            s
        })
        .unwrap();
    lan.sim.run_for(Duration::from_millis(100));
    let a = lan.sim.node_mut::<Host>(lan.a).unwrap();
    let mut buf = [0u8; 32];
    let n = a.stack_mut().tcp_recv(got, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello me");
    let local = a.stack().tcp().local_addr(c).unwrap();
    assert!((49152..=65535).contains(&local.port()), "{local}");
    assert_eq!(
        lan.sim.total_stats().frames_sent,
        2 + 2,
        "only the two announcements (and the switch floods them)"
    );
}

#[test]
fn tcp_path_mtu_discovery_through_a_narrow_link() {
    // A — sw — R1 — sw — R2 —(MTU 576)— B: A's full-size DF segments meet
    // "fragmentation needed" at R2; the connection shrinks its segments and
    // the upload arrives intact.
    let mut o = ScenarioOptions::default();
    let mut p = host::routed_path(&mut o, 576).unwrap();
    let b_ip = Ipv4Addr::new(10, 0, 3, 10);
    let l = p
        .sim
        .with_node(p.b, |h: &mut Host, _| {
            h.stack_mut().tcp_listen(None, 9000, 4).unwrap()
        })
        .unwrap();
    let c = connect(&mut p.sim, p.a, SocketAddrV4::new(b_ip, 9000));
    p.sim.run_for(Duration::from_millis(50));
    let s = p
        .sim
        .with_node(p.b, |h: &mut Host, _| h.stack_mut().tcp_accept(l).unwrap())
        .unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut off = 0;
    let mut got = Vec::new();
    for _ in 0..2000 {
        p.sim.with_node(p.a, |h: &mut Host, _| {
            if off < data.len() {
                if let Ok(n) = h.stack_mut().tcp_send(c, &data[off..]) {
                    off += n;
                }
            }
        });
        p.sim.run_for(Duration::from_millis(10));
        p.sim.with_node(p.b, |h: &mut Host, _| {
            let mut buf = [0u8; 8192];
            while let Ok(n) = h.stack_mut().tcp_recv(s, &mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
        });
        if got.len() == data.len() {
            break;
        }
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data);
    let r2 = p.sim.node::<Host>(p.r2).unwrap().stack().stats();
    assert!(r2.ip.dropped.frag_needed >= 1, "{r2:?}");
    assert_eq!(r2.frag.fragments_out, 0, "DF segments are never fragmented");
    let a = p.sim.node::<Host>(p.a).unwrap().stack();
    assert!(a.tcp().info(c).is_ok());
}
