//! Request/response on one keep-alive connection, against a client that
//! delays its ACKs by 40 ms (strata's default delayed ACK: every second
//! full segment, or after 40 ms): no response may wait for that timer.
//!
//! Classic Nagle (RFC 896, RFC 1122 §4.2.3.4) holds the last, partial
//! segment of a response until everything before it is acknowledged; when
//! the full segments before it are odd in number, the client's ACK of the
//! last one waits 40 ms, and so does the response. Minshall's variant
//! (draft-minshall-nagle-01, Linux's `tcp_minshall_check`) sends it, and
//! cork / "more data follows" keep a header written apart from its body
//! from becoming a small segment of its own.

use std::net::SocketAddrV4;

use strata::stack::{Event, Stack};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{State as TcpState, TcpError, TcpEvent, TcpHandle};
use strata::wire::Ipv4Addr;
use strata_sim::host::{self, Host, ScenarioOptions};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// How the server writes a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// Header and body in one write.
    Whole,
    /// The header with "more data follows" (MSG_MORE), then the body.
    More,
    /// Corked (TCP_CORK): header, body, uncork.
    Cork,
}

/// The response head for a body of `n` bytes.
fn head(n: usize) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: keep-alive\r\n\r\n")
}

fn body_byte(i: usize) -> u8 {
    b'a' + (i % 26) as u8
}

struct Pending {
    c: TcpHandle,
    req: Vec<u8>,
    /// Response bytes not yet taken by the stack.
    out: Vec<u8>,
    /// The head goes first (More/Cork write it apart).
    head_left: usize,
}

/// A keep-alive server: `GET /N` is answered with N body bytes.
fn install_server(h: &mut Host, how: Write) {
    let l = h.stack_mut().tcp_listen(None, 80, 16).unwrap();
    let mut conns: Vec<Pending> = Vec::new();
    h.set_app(Box::new(move |_now, st: &mut Stack, ev| {
        if let Event::Tcp(TcpEvent::Acceptable { listener }) = ev {
            if *listener == l {
                while let Ok(c) = st.tcp_accept(l) {
                    conns.push(Pending {
                        c,
                        req: Vec::new(),
                        out: Vec::new(),
                        head_left: 0,
                    });
                }
            }
        }
        // Read every connection (a request may arrive with the handshake's
        // last ACK, before the connection is accepted).
        for p in conns.iter_mut() {
            let mut buf = [0u8; 2048];
            while let Ok(n) = st.tcp_recv(p.c, &mut buf) {
                if n == 0 {
                    break;
                }
                p.req.extend_from_slice(&buf[..n]);
            }
            if !p.out.is_empty() {
                continue;
            }
            let Some(end) = p.req.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let line = String::from_utf8_lossy(&p.req[..end]).into_owned();
            p.req.drain(..end + 4);
            let n: usize = line
                .strip_prefix("GET /")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .expect("GET /N");
            let head = head(n);
            p.head_left = head.len();
            p.out.extend_from_slice(head.as_bytes());
            p.out.extend((0..n).map(body_byte));
            if how == Write::Cork {
                st.tcp_set_cork(p.c, true).unwrap();
            }
        }
        // Push what fits.
        for p in conns.iter_mut() {
            while !p.out.is_empty() {
                let r = if p.head_left > 0 && how != Write::Whole {
                    let head = &p.out[..p.head_left];
                    match how {
                        Write::More => st.tcp_send_more(p.c, head),
                        _ => st.tcp_send(p.c, head),
                    }
                } else {
                    st.tcp_send(p.c, &p.out)
                };
                match r {
                    Ok(n) => {
                        p.out.drain(..n);
                        p.head_left = p.head_left.saturating_sub(n);
                        if p.out.is_empty() && how == Write::Cork {
                            st.tcp_set_cork(p.c, false).unwrap();
                        }
                    }
                    Err(TcpError::WouldBlock) => break,
                    Err(e) => panic!("server send: {e}"),
                }
            }
        }
    }));
}

/// Runs every size, twice, on one connection; returns, per request, the
/// body size and the time from the request's write to the response's
/// last byte.
///
/// The client reads a response only once all of it has arrived, as a
/// kernel client that sleeps in `read` does: reading early would open the
/// window and send an ACK at once (strata's receiver-SWS window update),
/// hiding the 40 ms delayed ACK that the test is about.
fn run(how: Write, sizes: &[usize]) -> Vec<(usize, Duration)> {
    let mut opts = ScenarioOptions {
        latency: Duration::from_micros(50),
        bandwidth_bps: 10_000_000_000,
        ..ScenarioOptions::default()
    };
    let mut lan = host::lan(&mut opts).unwrap();
    lan.sim
        .with_node(lan.b, |h: &mut Host, _| install_server(h, how));
    let c = lan
        .sim
        .with_node(lan.a, |h: &mut Host, now| {
            h.stack_mut()
                .tcp_connect(now, SocketAddrV4::new(SERVER, 80))
                .unwrap()
        })
        .unwrap();
    let sizes: Vec<usize> = sizes.iter().flat_map(|&s| [s, s]).collect();
    let mut times = Vec::new();
    // (body size, expected response length, when requested)
    let mut asked: Option<(usize, usize, Instant)> = None;
    let mut resp = Vec::new();
    let deadline = Instant::from_secs(60);
    while times.len() < sizes.len() && lan.sim.now() < deadline {
        lan.sim.run_for(Duration::from_micros(100));
        lan.sim.with_node(lan.a, |h: &mut Host, now| {
            let st = h.stack_mut();
            if st.tcp_state(c) != TcpState::Established {
                return;
            }
            if let Some((n, total, since)) = asked {
                // A response larger than the receive buffer is read as it
                // comes, all but its last 64 KiB.
                let avail = st.tcp().recv_queue(c).unwrap();
                let early = avail.min((total - resp.len()).saturating_sub(64 * 1024));
                let take = if resp.len() + avail >= total {
                    total - resp.len()
                } else {
                    early
                };
                let mut got = resp.len();
                resp.resize(got + take, 0);
                while got < resp.len() {
                    got += st.tcp_recv(c, &mut resp[got..]).unwrap();
                }
                if resp.len() < total {
                    return;
                }
                assert_eq!(&resp[..total - n], head(n).as_bytes());
                assert!(
                    resp[total - n..]
                        .iter()
                        .enumerate()
                        .all(|(i, b)| *b == body_byte(i)),
                    "body of {n} bytes intact"
                );
                times.push((n, now - since));
                asked = None;
                resp.clear();
            }
            if let Some(&n) = sizes.get(times.len()) {
                let req = format!("GET /{n} HTTP/1.1\r\nHost: b\r\n\r\n");
                assert_eq!(st.tcp_send(c, req.as_bytes()).unwrap(), req.len());
                asked = Some((n, head(n).len() + n, now));
            }
        });
    }
    assert_eq!(
        times.len(),
        sizes.len(),
        "{how:?}: only {times:?} by {}",
        lan.sim.now()
    );
    times
}

const SIZES: &[usize] = &[
    1,
    100,
    1000,
    1400,
    1459,
    1460,
    1461,
    2000,
    2920,
    2921,
    4000,
    10 * 1024,
    10 * 1024 + 1,
    64 * 1024,
    100_000,
    256 * 1024 + 13,
    1 << 20,
];

/// No exchange comes near the 40 ms of the client's delayed ACK: at 10
/// Gbit/s even 1 MiB takes about 1 ms, so a stall stands out by itself.
fn assert_no_stall(how: Write) {
    let times = run(how, SIZES);
    let worst = times.iter().max_by_key(|t| t.1).unwrap();
    eprintln!("{how:?}: worst exchange {} bytes in {:?}", worst.0, worst.1);
    for (n, t) in &times {
        assert!(
            *t < Duration::from_millis(20),
            "{how:?}: a {n}-byte response took {t:?} (a delayed-ACK stall): {times:?}"
        );
    }
}

#[test]
fn one_write_responses_never_wait_for_a_delayed_ack() {
    assert_no_stall(Write::Whole);
}

#[test]
fn header_with_more_data_follows_then_body_never_waits() {
    assert_no_stall(Write::More);
}

#[test]
fn corked_header_and_body_never_wait() {
    assert_no_stall(Write::Cork);
}
