//! Engine-level TCP scenarios: two `Tcp` engines joined by a test pipe.
#![allow(clippy::field_reassign_with_default)]

mod tcp_pipe;

use strata::time::{Duration, Instant};
use strata::transport::tcp::{State, TcpConfig, TcpError, TcpEvent, TcpHandle};
use tcp_pipe::{Net, A, B};

fn read_all(net: &mut Net, host: usize, h: TcpHandle) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = net.hosts[host].recv(h, &mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn handshake_data_and_close() {
    let mut net = Net::default_pair(1);
    let (c, s) = net.connect_pair();
    assert!(net.has_event(A, |e| matches!(e, TcpEvent::Connected(h) if *h == c)));
    let info = net.hosts[A].info(c).unwrap();
    assert!(info.timestamps && info.sack && info.wscale.is_some());
    assert_eq!(info.mss, 1460 - 12);

    assert_eq!(net.hosts[A].send(c, b"hello, world").unwrap(), 12);
    net.run_for(Duration::from_millis(100));
    assert_eq!(read_all(&mut net, B, s), b"hello, world");
    net.hosts[B].send(s, b"pong").unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(read_all(&mut net, A, c), b"pong");

    // Client closes first: FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT; server
    // CLOSE-WAIT → LAST-ACK → CLOSED.
    let now = net.now;
    net.hosts[A].shutdown_write(now, c).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].state(c), State::FinWait2);
    assert_eq!(net.hosts[B].state(s), State::CloseWait);
    let mut buf = [0u8; 10];
    assert_eq!(net.hosts[B].recv(s, &mut buf), Ok(0));
    let now = net.now;
    net.hosts[B].close(now, s).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].state(c), State::TimeWait);
    assert!(net.has_event(B, |e| matches!(e, TcpEvent::Closed(_))));
    // TIME-WAIT lasts 2×MSL = 60 s.
    net.run_for(Duration::from_secs(59));
    assert_eq!(net.hosts[A].state(c), State::TimeWait);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.hosts[A].state(c), State::Closed);
    assert_eq!(net.hosts[B].connection_count(), 0);
    let states: Vec<_> = net.events[A]
        .iter()
        .filter_map(|(_, e)| match e {
            TcpEvent::StateChanged { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            State::SynSent,
            State::Established,
            State::FinWait1,
            State::FinWait2,
            State::TimeWait,
            State::Closed
        ]
    );
}

#[test]
fn refused_connect() {
    let mut net = Net::default_pair(2);
    let c = net.connect(A, 40000, 81).unwrap();
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.hosts[A].state(c), State::Closed);
    assert_eq!(net.hosts[A].error(c), Some(TcpError::Refused));
    assert!(net.has_event(A, |e| matches!(e, TcpEvent::Refused(_))));
    let mut buf = [0u8; 4];
    assert_eq!(net.hosts[A].recv(c, &mut buf), Err(TcpError::Refused));
    assert_eq!(
        TcpError::Refused.kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    let now = net.now;
    net.hosts[A].close(now, c).unwrap();
    assert_eq!(net.hosts[A].connection_count(), 0);
    let _ = TcpConfig::default();
    let _ = Instant::ZERO;
}

fn states_of(net: &Net, host: usize, h: TcpHandle) -> Vec<State> {
    net.events[host]
        .iter()
        .filter_map(|(_, e)| match e {
            TcpEvent::StateChanged { handle, to, .. } if *handle == h => Some(*to),
            _ => None,
        })
        .collect()
}

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add((i >> 8) as u8) ^ salt)
        .collect()
}

/// Push `data` from `from` to `to` while draining the receiver, until all
/// of it has arrived (or `max` virtual time passed). Returns what arrived.
fn transfer(
    net: &mut Net,
    from: usize,
    fh: TcpHandle,
    to: usize,
    th: TcpHandle,
    data: &[u8],
    max: Duration,
) -> Vec<u8> {
    let mut sent = 0;
    let mut got = Vec::new();
    let limit = net.now + max;
    let mut buf = vec![0u8; 65536];
    while got.len() < data.len() && net.now < limit {
        if sent < data.len() {
            if let Ok(n) = net.hosts[from].send(fh, &data[sent..]) {
                sent += n;
            }
        }
        if !net.step(limit) {
            break;
        }
        while let Ok(n) = net.hosts[to].recv(th, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
    got
}

#[test]
// covers: MUST-10, MUST-11
fn simultaneous_open() {
    let mut net = Net::default_pair(3);
    let a = net.connect(A, 5000, 6000).unwrap();
    let b = net.connect(B, 6000, 5000).unwrap();
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.hosts[A].state(a), State::Established);
    assert_eq!(net.hosts[B].state(b), State::Established);
    assert_eq!(
        states_of(&net, A, a),
        [State::SynSent, State::SynReceived, State::Established]
    );
    assert_eq!(
        states_of(&net, B, b),
        [State::SynSent, State::SynReceived, State::Established]
    );
    net.hosts[A].send(a, b"from a").unwrap();
    net.hosts[B].send(b, b"from b").unwrap();
    net.run_for(Duration::from_millis(200));
    assert_eq!(read_all(&mut net, B, b), b"from a");
    assert_eq!(read_all(&mut net, A, a), b"from b");
}

#[test]
fn server_closes_first() {
    let mut net = Net::default_pair(4);
    let (c, s) = net.connect_pair();
    net.hosts[B].send(s, b"bye").unwrap();
    net.close(B, s);
    net.run_for(Duration::from_millis(200));
    assert_eq!(read_all(&mut net, A, c), b"bye");
    assert_eq!(net.hosts[A].state(c), State::CloseWait);
    assert!(net.has_event(A, |e| matches!(e, TcpEvent::PeerClosed(_))));
    net.close(A, c);
    net.run_for(Duration::from_millis(200));
    // B (active closer) sits in TIME-WAIT, A is gone.
    assert_eq!(net.hosts[A].connection_count(), 0);
    assert_eq!(net.hosts[B].connection_count(), 1);
    assert!(!net.hosts[B].is_tuple_free(net.addr(B, 80), net.addr(A, 40000)));
    net.run_for(Duration::from_secs(61));
    assert_eq!(net.hosts[B].connection_count(), 0);
    assert!(net.hosts[B].is_tuple_free(net.addr(B, 80), net.addr(A, 40000)));
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let mut net = Net::default_pair(5);
    let (c, s) = net.connect_pair();
    net.shutdown(A, c);
    net.shutdown(B, s);
    net.run_for(Duration::from_millis(500));
    assert_eq!(net.hosts[A].state(c), State::TimeWait);
    assert_eq!(net.hosts[B].state(s), State::TimeWait);
    assert!(states_of(&net, A, c).contains(&State::Closing));
    assert!(states_of(&net, B, s).contains(&State::Closing));
    net.run_for(Duration::from_secs(61));
    assert_eq!(net.hosts[A].state(c), State::Closed);
    assert_eq!(net.hosts[B].state(s), State::Closed);
}

#[test]
// covers: MAY-1
fn half_close_keeps_reading() {
    let mut net = Net::default_pair(6);
    let (c, s) = net.connect_pair();
    net.hosts[A].send(c, b"request").unwrap();
    net.shutdown(A, c);
    net.run_for(Duration::from_millis(200));
    assert_eq!(read_all(&mut net, B, s), b"request");
    let mut buf = [0u8; 8];
    assert_eq!(net.hosts[B].recv(s, &mut buf), Ok(0));
    assert_eq!(net.hosts[A].send(c, b"more"), Err(TcpError::InvalidState));
    // B keeps sending after A's FIN.
    let data = pattern(200_000, 7);
    let got = transfer(&mut net, B, s, A, c, &data, Duration::from_secs(30));
    assert_eq!(got, data);
    net.close(B, s);
    net.run_for(Duration::from_millis(200));
    assert_eq!(net.hosts[A].recv(c, &mut buf), Ok(0));
    assert_eq!(net.hosts[A].state(c), State::TimeWait);
}

#[test]
// covers: MUST-13
fn time_wait_expiry_then_same_tuple_again() {
    let mut net = Net::default_pair(7);
    let (c, s) = net.connect_pair();
    net.close(A, c);
    net.run_for(Duration::from_millis(100));
    net.close(B, s);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].connection_count(), 1, "client in TIME-WAIT");
    assert_eq!(net.connect(A, 40000, 80), Err(TcpError::AddrInUse));
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.hosts[A].connection_count(), 0);
    let c2 = net.connect(A, 40000, 80).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].state(c2), State::Established);
}

#[test]
// covers: MAY-2
fn new_syn_reuses_time_wait_of_server() {
    let mut net = Net::default_pair(8);
    let l = net.listen(B, 80, 8);
    let c = net.connect(A, 40000, 80).unwrap();
    net.run_for(Duration::from_millis(100));
    let s = net.hosts[B].accept(l).unwrap();
    net.close(B, s);
    net.run_for(Duration::from_millis(100));
    net.close(A, c);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[B].connection_count(), 1, "server in TIME-WAIT");
    net.run_for(Duration::from_secs(5));
    let c2 = net.connect(A, 40000, 80).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].state(c2), State::Established);
    let s2 = net.hosts[B].accept(l).unwrap();
    assert_eq!(net.hosts[B].state(s2), State::Established);
}

#[test]
// covers: MUST-12
fn rst_from_peer_in_established_and_close_wait() {
    for peer_closed_first in [false, true] {
        let mut net = Net::default_pair(9);
        let (c, s) = net.connect_pair();
        if peer_closed_first {
            net.shutdown(B, s);
            net.run_for(Duration::from_millis(100));
            assert_eq!(net.hosts[A].state(c), State::CloseWait);
            assert_eq!(net.hosts[B].state(s), State::FinWait2);
        }
        net.abort(B, s);
        net.run_for(Duration::from_millis(100));
        assert_eq!(net.hosts[A].state(c), State::Closed);
        assert_eq!(net.hosts[A].error(c), Some(TcpError::Reset));
        assert!(net.has_event(A, |e| matches!(e, TcpEvent::Reset(_))));
        let mut buf = [0u8; 4];
        assert_eq!(net.hosts[A].recv(c, &mut buf), Err(TcpError::Reset));
        assert_eq!(net.hosts[A].send(c, b"x"), Err(TcpError::Reset));
        net.close(A, c);
        assert_eq!(net.hosts[A].connection_count(), 0);
    }
}

#[test]
fn rst_in_fin_wait_and_last_ack() {
    // A in FIN-WAIT-1 (FIN lost), B aborts.
    let mut net = Net::default_pair(10);
    let (c, s) = net.connect_pair();
    net.filter = Some(Box::new(|from, seg| from == A && seg.flags.fin()));
    net.shutdown(A, c);
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.hosts[A].state(c), State::FinWait1);
    net.abort(B, s);
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.hosts[A].state(c), State::Closed);
    assert_eq!(net.hosts[A].error(c), Some(TcpError::Reset));

    // B in LAST-ACK gets a RST: CLOSED without error.
    let mut net = Net::default_pair(11);
    let (c, s) = net.connect_pair();
    net.shutdown(A, c);
    net.run_for(Duration::from_millis(100));
    net.filter = Some(Box::new(|from, seg| from == B && seg.flags.fin()));
    net.shutdown(B, s);
    net.run_for(Duration::from_millis(20));
    assert_eq!(net.hosts[B].state(s), State::LastAck);
    net.filter = None;
    net.abort(A, c);
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.hosts[B].state(s), State::Closed);
    assert_eq!(net.hosts[B].error(s), None);
}

#[test]
fn rst_ignored_in_time_wait_and_challenge_ack_for_inexact_rst() {
    let mut net = Net::default_pair(12);
    let (c, s) = net.connect_pair();
    let info = net.hosts[A].info(c).unwrap();
    // An in-window RST with the wrong sequence number: challenge ACK.
    let bogus = tcp_pipe::Seg {
        src: net.ips[B],
        dst: net.ips[A],
        src_port: 80,
        dst_port: 40000,
        seq: info.rcv_nxt.wrapping_add(100),
        ack: 0,
        flags: strata::wire::tcp::TcpFlags::RST,
        window: 0,
        options: Default::default(),
        payload: vec![],
    };
    let now = net.now;
    net.hosts[A].handle_segment(now, bogus.src, bogus.dst, &bogus.repr());
    assert_eq!(net.hosts[A].state(c), State::Established);
    assert_eq!(net.hosts[A].stats().challenge_acks, 1);
    // Exact sequence: reset.
    let mut exact = bogus.clone();
    exact.seq = info.rcv_nxt;
    net.hosts[A].handle_segment(now, exact.src, exact.dst, &exact.repr());
    assert_eq!(net.hosts[A].error(c), Some(TcpError::Reset));

    // TIME-WAIT ignores RST (RFC 1337).
    let mut net = Net::default_pair(13);
    let (c, s2) = net.connect_pair();
    let _ = s;
    net.close(A, c);
    net.run_for(Duration::from_millis(100));
    net.close(B, s2);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].connection_count(), 1);
    let info_b = net
        .log
        .iter()
        .rev()
        .find(|x| x.from == B)
        .unwrap()
        .seg
        .clone();
    let mut rst = info_b.clone();
    rst.flags = strata::wire::tcp::TcpFlags::RST;
    rst.seq = info_b.seq.wrapping_add(1);
    rst.payload.clear();
    let now = net.now;
    net.hosts[A].handle_segment(now, rst.src, rst.dst, &rst.repr());
    assert_eq!(net.hosts[A].connection_count(), 1);
    assert_eq!(net.hosts[A].stats().rst_ignored_time_wait, 1);
}

#[test]
// covers: MUST-11
fn rst_to_half_open_returns_server_to_listen() {
    let mut net = Net::default_pair(14);
    let l = net.listen(B, 80, 8);
    // Drop the client's final ACK so B stays in SYN-RECEIVED.
    net.filter = Some(Box::new(|from, seg| from == A && !seg.flags.syn()));
    let c = net.connect(A, 40000, 80).unwrap();
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.hosts[A].state(c), State::Established);
    assert_eq!(net.hosts[B].connection_count(), 1);
    net.filter = None;
    net.abort(A, c);
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.hosts[B].connection_count(), 0);
    assert_eq!(net.hosts[B].accept(l), Err(TcpError::WouldBlock));
}

#[test]
fn backlog_overflow_drops_syn_and_recovers() {
    let mut net = Net::default_pair(15);
    let l = net.listen(B, 80, 2);
    // Four handshakes at once: all become half-open, but only two fit in
    // the accept queue; the other two final ACKs are dropped (Linux).
    let cs: Vec<_> = (0..4)
        .map(|i| net.connect(A, 41000 + i, 80).unwrap())
        .collect();
    net.run_for(Duration::from_millis(500));
    assert_eq!(net.hosts[B].stats().accept_queue_ack_drops, 2);
    // Queue full: new SYNs are dropped.
    let c5 = net.connect(A, 41010, 80).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].state(c5), State::SynSent);
    assert!(net.hosts[B].stats().listen_overflows >= 1);
    // Accepting makes room: SYN-ACK retransmissions and SYN retries get
    // the rest in.
    net.hosts[B].accept(l).unwrap();
    net.hosts[B].accept(l).unwrap();
    net.run_for(Duration::from_secs(4));
    let mut accepted = 2;
    loop {
        match net.hosts[B].accept(l) {
            Ok(_) => accepted += 1,
            Err(TcpError::WouldBlock) => break,
            Err(e) => panic!("{e}"),
        }
        net.run_for(Duration::from_secs(4));
    }
    assert_eq!(accepted, 5);
    for &c in cs.iter().chain([&c5]) {
        assert_eq!(net.hosts[A].state(c), State::Established);
    }
}

#[test]
// covers: MUST-19, MUST-20
fn retransmission_until_abort_with_backoff_timeline() {
    let mut cfg = TcpConfig::default();
    cfg.max_retries = 6;
    let mut net = Net::new(cfg, TcpConfig::default(), 16);
    let (c, _s) = net.connect_pair();
    net.down[B] = true;
    net.hosts[A].send(c, b"are you there?").unwrap();
    let t0 = net.now;
    net.run_for(Duration::from_secs(120));
    assert_eq!(net.hosts[A].state(c), State::Closed);
    assert_eq!(net.hosts[A].error(c), Some(TcpError::TimedOut));
    let times: Vec<u64> = net
        .sent_by(A)
        .filter(|s| !s.seg.payload.is_empty())
        .map(|s| (s.at - t0).as_millis() as u64)
        .collect();
    // First send; a tail loss probe at the RTO's time (RFC 8985 §7.2: a
    // lone segment's PTO, 2·SRTT + 200 ms, is later than the RTO); then 6
    // retransmissions by timeout, RTO = 200 ms doubling.
    assert_eq!(times, [0, 200, 400, 800, 1600, 3200, 6400, 12800]);
    let (tt, _) = net.events[A]
        .iter()
        .find(|(_, e)| matches!(e, TcpEvent::TimedOut(_)))
        .unwrap();
    assert_eq!((*tt - t0).as_millis(), 12800 + 12800);
}

#[test]
// covers: MUST-22
fn syn_retries_then_timeout() {
    let mut cfg = TcpConfig::default();
    cfg.syn_retries = 3;
    let mut net = Net::new(cfg, TcpConfig::default(), 17);
    net.down[B] = true;
    let t0 = net.now;
    let c = net.connect(A, 40000, 80).unwrap();
    net.run_for(Duration::from_secs(60));
    let times: Vec<u64> = net
        .sent_by(A)
        .map(|s| (s.at - t0).as_millis() as u64)
        .collect();
    assert_eq!(times, [0, 1000, 3000, 7000]);
    assert_eq!(net.hosts[A].error(c), Some(TcpError::TimedOut));
}

/// A pair where A sends keepalives after 10 s idle, every 2 s, and gives
/// up after 3 unanswered probes.
fn keepalive_net(seed: u64) -> Net {
    let mut cfg = TcpConfig::default();
    cfg.keepalive = Some(strata::transport::tcp::Keepalive {
        idle: Duration::from_secs(10),
        interval: Duration::from_secs(2),
        count: 3,
    });
    Net::new(cfg, TcpConfig::default(), seed)
}

/// While B answers, A's idle connection `c` stays in `state` for a minute
/// of probes; once B goes silent, A reports it dead within idle + interval
/// × count (and a second).
fn assert_keepalive_finds_peer_dead(net: &mut Net, c: TcpHandle, state: State) {
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.hosts[A].state(c), state);
    assert!(net.hosts[A].stats().keepalive_probes >= 5);
    net.down[B] = true;
    let t0 = net.now;
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.hosts[A].error(c), Some(TcpError::TimedOut));
    let (tt, _) = net.events[A]
        .iter()
        .find(|(_, e)| matches!(e, TcpEvent::TimedOut(_)))
        .unwrap();
    assert!(
        *tt - t0 <= Duration::from_secs(10 + 2 * 3 + 1),
        "{:?}",
        *tt - t0
    );
}

#[test]
// covers: MAY-5, MUST-24, MUST-26, MUST-27, MUST-29
fn keepalive_detects_dead_peer() {
    let mut net = keepalive_net(18);
    let (c, _s) = net.connect_pair();
    // Idle but alive: keepalives are answered, the connection stays.
    assert_keepalive_finds_peer_dead(&mut net, c, State::Established);
}

/// Found by the simulator sweep (strata-sim tests/tcp_sweep.rs): after a
/// half-close our FIN is acknowledged (FIN-WAIT-2) and we wait for the
/// peer's data; if the peer then gives up silently, keepalive must still
/// probe (RFC 9293 §3.8.4 applies to any idle synchronized connection) and
/// report the peer dead instead of waiting forever.
#[test]
fn keepalive_probes_in_fin_wait_2() {
    let mut net = keepalive_net(21);
    let (c, _s) = net.connect_pair();
    net.shutdown(A, c);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.hosts[A].state(c), State::FinWait2);
    // The peer is alive: probes are answered, the half-closed connection stays.
    assert_keepalive_finds_peer_dead(&mut net, c, State::FinWait2);
}

#[test]
// covers: MUST-35, MUST-36, MUST-37, SHLD-30, MAY-8
fn zero_window_held_for_minutes_then_reopened() {
    let mut cfg_b = TcpConfig::default();
    cfg_b.rx_buffer_limit = 8192;
    let mut net = Net::new(TcpConfig::default(), cfg_b, 19);
    let (c, s) = net.connect_pair();
    let data = pattern(100_000, 3);
    let mut sent = net.hosts[A].send(c, &data).unwrap();
    net.run_for(Duration::from_secs(600));
    assert_eq!(net.hosts[A].state(c), State::Established);
    assert_eq!(net.hosts[A].info(c).unwrap().snd_wnd, 0);
    // Probes back off to one per 60 s but never stop.
    let probes = net.hosts[A].stats().window_probes;
    assert!((10..=25).contains(&probes), "{probes}");
    assert_eq!(net.hosts[B].recv_queue(s).unwrap(), 8192);
    // Reader wakes up.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    let limit = net.now + Duration::from_secs(120);
    while got.len() < data.len() && net.now < limit {
        if sent < data.len() {
            if let Ok(n) = net.hosts[A].send(c, &data[sent..]) {
                sent += n;
            }
        }
        while let Ok(n) = net.hosts[B].recv(s, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        net.step(limit);
    }
    assert_eq!(got, data);
}

#[test]
fn sequence_numbers_wrap() {
    let mut net = Net::default_pair(20);
    net.hosts[A].force_next_isn(u32::MAX - 5000);
    net.hosts[B].force_next_isn(u32::MAX - 100);
    let (c, s) = net.connect_pair();
    assert_eq!(net.hosts[A].info(c).unwrap().iss, u32::MAX - 5000);
    let d1 = pattern(300_000, 1);
    let d2 = pattern(300_000, 2);
    assert_eq!(
        transfer(&mut net, A, c, B, s, &d1, Duration::from_secs(60)),
        d1
    );
    assert_eq!(
        transfer(&mut net, B, s, A, c, &d2, Duration::from_secs(60)),
        d2
    );
    assert!(net.hosts[A].info(c).unwrap().snd_una < 1_000_000);
}

#[test]
fn bulk_transfer_under_loss_is_byte_exact() {
    for seed in 0..3u64 {
        let mut net = Net::default_pair(100 + seed);
        let (c, s) = net.connect_pair();
        net.faults.loss = 0.10;
        net.faults.reorder = 0.05;
        net.faults.dup = 0.02;
        let data = pattern(1_000_000, seed as u8);
        let got = transfer(&mut net, A, c, B, s, &data, Duration::from_secs(600));
        assert_eq!(got.len(), data.len(), "seed {seed}");
        assert!(got == data, "seed {seed}: corrupted stream");
        // Every retransmission has one cause, and the causes add up.
        let st = net.hosts[A].stats();
        assert!(st.retransmits > 0);
        assert!(
            st.retransmits_timeout + st.retransmits_recovery > 0,
            "{st:?}"
        );
        assert_eq!(
            st.retransmits,
            st.retransmits_timeout + st.retransmits_recovery + st.retransmits_syn_ack,
            "seed {seed}: {st:?}"
        );
    }
}

fn rst_to(net: &Net, host: usize, h: TcpHandle) -> tcp_pipe::Seg {
    let info = net.hosts[host].info(h).unwrap();
    tcp_pipe::Seg {
        src: *info.remote.ip(),
        dst: *info.local.ip(),
        src_port: info.remote.port(),
        dst_port: info.local.port(),
        seq: info.rcv_nxt,
        ack: 0,
        flags: strata::wire::tcp::TcpFlags::RST,
        window: 0,
        options: Default::default(),
        payload: vec![],
    }
}

#[test]
fn rst_in_fin_wait_2_and_closing_and_active_syn_received() {
    // FIN-WAIT-2: reset by peer.
    let mut net = Net::default_pair(21);
    let (c, s) = net.connect_pair();
    net.shutdown(A, c);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].state(c), State::FinWait2);
    net.abort(B, s);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].error(c), Some(TcpError::Reset));

    // CLOSING: RST closes without error.
    let mut net = Net::default_pair(22);
    let (c, s) = net.connect_pair();
    net.filter = Some(Box::new(|_, seg| {
        seg.flags == strata::wire::tcp::TcpFlags::ACK && seg.payload.is_empty()
    }));
    net.shutdown(A, c);
    net.shutdown(B, s);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].state(c), State::Closing);
    let rst = rst_to(&net, A, c);
    let now = net.now;
    net.hosts[A].handle_segment(now, rst.src, rst.dst, &rst.repr());
    assert_eq!(net.hosts[A].state(c), State::Closed);
    assert_eq!(net.hosts[A].error(c), None);

    // SYN-RECEIVED reached by simultaneous open: a RST means refused.
    let mut net = Net::default_pair(23);
    net.filter = Some(Box::new(|_, seg| {
        seg.flags
            .contains(strata::wire::tcp::TcpFlags::SYN | strata::wire::tcp::TcpFlags::ACK)
    }));
    let a = net.connect(A, 5000, 6000).unwrap();
    let _b = net.connect(B, 6000, 5000).unwrap();
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.hosts[A].state(a), State::SynReceived);
    let rst = rst_to(&net, A, a);
    let now = net.now;
    net.hosts[A].handle_segment(now, rst.src, rst.dst, &rst.repr());
    assert_eq!(net.hosts[A].error(a), Some(TcpError::Refused));
}

#[test]
fn time_wait_holds_no_buffers() {
    let mut net = Net::default_pair(24);
    let (c, s) = net.connect_pair();
    let data = pattern(100_000, 9);
    assert_eq!(
        transfer(&mut net, A, c, B, s, &data, Duration::from_secs(10)),
        data
    );
    assert_eq!(
        transfer(&mut net, B, s, A, c, &data, Duration::from_secs(10)),
        data
    );
    net.shutdown(A, c);
    net.run_for(Duration::from_millis(100));
    net.close(B, s);
    net.run_for(Duration::from_millis(100));
    let mut buf = [0u8; 4];
    assert_eq!(net.hosts[A].recv(c, &mut buf), Ok(0));
    let info = net.hosts[A].info(c).unwrap();
    assert_eq!(info.state, State::TimeWait);
    assert_eq!(info.buffer_bytes, 0);
}

/// A host in TIME-WAIT after an active close, its handle closed
/// (`release`: a compact TIME-WAIT record) or still held (the full
/// connection), then the same segments from outside: what it sends back,
/// its counters and its events.
fn time_wait_answers(
    release: bool,
) -> (
    Vec<tcp_pipe::Seg>,
    strata::transport::tcp::TcpStats,
    Vec<TcpEvent>,
    usize,
) {
    use strata::wire::tcp::{TcpFlags, Timestamps};
    let mut net = Net::default_pair(31);
    let (c, s) = net.connect_pair();
    net.hosts[A].send(c, b"request").unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(read_all(&mut net, B, s), b"request");
    if release {
        net.close(A, c);
    } else {
        net.shutdown(A, c);
    }
    net.run_for(Duration::from_millis(100));
    net.close(B, s);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].connection_count(), 1);
    assert_eq!(net.hosts[B].connection_count(), 0);
    assert_eq!(net.hosts[A].time_wait_records(), usize::from(release));
    let fin = net
        .sent_by(B)
        .filter(|x| x.seg.flags.fin())
        .last()
        .unwrap()
        .seg
        .clone();
    let ts = fin.options.timestamps.unwrap();
    let first = net.log.len();
    let inject = |net: &mut Net, seg: &tcp_pipe::Seg| {
        let now = net.now;
        net.hosts[A].handle_segment(now, seg.src, seg.dst, &seg.repr());
        net.flush();
        net.run_for(Duration::from_millis(1));
    };
    // 30 s in: B's FIN again (its ACK was lost): ACKed, 2×MSL restarts.
    net.run_for(Duration::from_secs(30));
    inject(&mut net, &fin);
    // Again at once: the ACK to an unacceptable segment is rate-limited.
    inject(&mut net, &fin);
    net.run_for(Duration::from_millis(200));
    // One tick older: passes PAWS (as Linux's TCP_PAWS_WINDOW), an old
    // FIN again: ACKed.
    let mut tick = fin.clone();
    tick.options.timestamps = Some(Timestamps {
        tsval: ts.tsval.wrapping_sub(1),
        tsecr: ts.tsecr,
    });
    inject(&mut net, &tick);
    net.run_for(Duration::from_millis(200));
    // An older TSval: PAWS drops it and ACKs.
    let mut old = fin.clone();
    old.options.timestamps = Some(Timestamps {
        tsval: ts.tsval.wrapping_sub(1000),
        tsecr: ts.tsecr,
    });
    inject(&mut net, &old);
    net.run_for(Duration::from_millis(200));
    // A SYN for A's port, which nobody listens on: not a new incarnation;
    // a challenge ACK (RFC 5961 §4.2).
    let mut syn = fin.clone();
    syn.flags = TcpFlags::SYN;
    syn.seq = fin.seq.wrapping_add(100_000);
    syn.options.timestamps = Some(Timestamps {
        tsval: ts.tsval.wrapping_add(10),
        tsecr: 0,
    });
    inject(&mut net, &syn);
    // RST: ignored (RFC 1337).
    let mut rst = fin.clone();
    rst.flags = TcpFlags::RST;
    rst.seq = fin.seq.wrapping_add(1);
    inject(&mut net, &rst);
    // In-window data after the FIN: ignored.
    let mut data = fin.clone();
    data.flags = TcpFlags::ACK;
    data.seq = fin.seq.wrapping_add(1);
    data.payload = b"late".to_vec();
    inject(&mut net, &data);
    // An ACK of something never sent: ACKed back.
    net.run_for(Duration::from_millis(200));
    let mut ahead = fin.clone();
    ahead.flags = TcpFlags::ACK;
    ahead.seq = fin.seq.wrapping_add(1);
    ahead.ack = fin.ack.wrapping_add(5000);
    inject(&mut net, &ahead);
    // 2×MSL from the restart, not from the start.
    let time_waits = |net: &Net| {
        net.hosts[A]
            .connections()
            .filter(|(_, i)| i.state == State::TimeWait)
            .count()
    };
    net.run_for(Duration::from_secs(45));
    assert_eq!(time_waits(&net), 1, "2×MSL restarted");
    net.run_for(Duration::from_secs(20));
    assert_eq!(time_waits(&net), 0);
    assert_eq!(net.hosts[A].time_wait_records(), 0);
    let sent: Vec<_> = net.log[first..]
        .iter()
        .filter(|x| x.from == A)
        .map(|x| x.seg.clone())
        .collect();
    let events = net.events[A]
        .iter()
        .map(|(_, e)| *e)
        .filter(|e| {
            matches!(e, TcpEvent::Closed(h) | TcpEvent::StateChanged { handle: h, .. } if *h == c)
        })
        .collect();
    (
        sent,
        net.hosts[A].stats().clone(),
        events,
        net.hosts[B].connection_count(),
    )
}

#[test]
// covers: MUST-13
fn time_wait_record_answers_as_the_full_connection() {
    let (full, full_stats, full_events, _) = time_wait_answers(false);
    let (rec, rec_stats, rec_events, _) = time_wait_answers(true);
    // ACK of the FIN (twice), the PAWS ACK, the challenge ACK, the ACK of
    // the unsent data; the RST and the late data get none.
    assert_eq!(full.len(), 5, "{full:?}");
    assert!(full
        .iter()
        .all(|s| s.flags == strata::wire::tcp::TcpFlags::ACK));
    assert_eq!(
        format!("{rec:?}"),
        format!("{full:?}"),
        "the record sends what the full connection sends"
    );
    assert_eq!(rec_stats, full_stats);
    // The RST injected, and B's RSTs (it has no connection) to A's ACKs.
    assert_eq!(rec_stats.rst_ignored_time_wait, 1 + 5);
    assert_eq!(rec_stats.paws_rejected, 1);
    assert_eq!(rec_stats.challenge_acks, 1);
    // Both report the end under the connection's handle.
    assert_eq!(rec_events, full_events);
    assert!(matches!(rec_events.last(), Some(TcpEvent::Closed(_))));
}

#[test]
// covers: MUST-13
fn handle_closed_in_time_wait_keeps_the_deadline() {
    // Two connections from A: the first waits in TIME-WAIT with its handle
    // held, the second is closed by the application and becomes a compact
    // record at once. When the first handle is closed 10 s later, its
    // record still ends 2×MSL after TIME-WAIT began — before the second's.
    let mut net = Net::default_pair(32);
    let l = net.listen(B, 80, 8);
    let c1 = net.connect(A, 40001, 80).unwrap();
    net.run_for(Duration::from_millis(100));
    let s1 = net.hosts[B].accept(l).unwrap();
    net.shutdown(A, c1);
    net.run_for(Duration::from_millis(100));
    net.close(B, s1);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].state(c1), State::TimeWait);
    assert_eq!(net.hosts[A].time_wait_records(), 0, "handle still held");
    net.run_for(Duration::from_secs(5));
    let c2 = net.connect(A, 40002, 80).unwrap();
    net.run_for(Duration::from_millis(100));
    let s2 = net.hosts[B].accept(l).unwrap();
    net.close(A, c2);
    net.run_for(Duration::from_millis(100));
    net.close(B, s2);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].time_wait_records(), 1);
    net.run_for(Duration::from_secs(5));
    net.close(A, c1);
    assert_eq!(net.hosts[A].time_wait_records(), 2);
    let waiting = |net: &Net| {
        let mut p: Vec<u16> = net.hosts[A]
            .connections()
            .filter(|(_, i)| i.state == State::TimeWait)
            .map(|(_, i)| i.local.port())
            .collect();
        p.sort_unstable();
        p
    };
    // c1 entered TIME-WAIT about 10.4 s ago, c2 about 5.1 s ago.
    net.run_for(Duration::from_secs(49));
    assert_eq!(waiting(&net), [40001, 40002]);
    net.run_for(Duration::from_secs(1));
    assert_eq!(waiting(&net), [40002], "the first wait ended on time");
    net.run_for(Duration::from_secs(6));
    assert!(waiting(&net).is_empty());
    assert_eq!(net.hosts[A].connection_count(), 0);
}

/// One connection's whole life (handshake, data both ways, the client's
/// close into a TIME-WAIT record that runs out, the server's close) with
/// [`TcpConfig::state_events`] as given: the segments sent and the events
/// of both hosts, with their times.
fn life_with_state_events(on: bool) -> (Vec<String>, [Vec<(Instant, TcpEvent)>; 2]) {
    let cfg = TcpConfig {
        state_events: on,
        ..TcpConfig::default()
    };
    let mut net = Net::new(cfg.clone(), cfg, 7);
    let (c, s) = net.connect_pair();
    net.hosts[A].send(c, b"request").unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(read_all(&mut net, B, s), b"request");
    net.hosts[B].send(s, b"reply").unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(read_all(&mut net, A, c), b"reply");
    let now = net.now;
    net.hosts[A].close(now, c).unwrap();
    net.run_for(Duration::from_millis(100));
    let now = net.now;
    net.hosts[B].close(now, s).unwrap();
    net.run_for(Duration::from_secs(61));
    assert_eq!(net.hosts[A].connection_count(), 0);
    assert_eq!(net.hosts[B].connection_count(), 0);
    assert_eq!(net.hosts[A].time_wait_records(), 0);
    let sent = net.log.iter().map(|x| format!("{x:?}")).collect();
    (sent, net.events.clone())
}

#[test]
fn state_events_off_queues_none_and_changes_nothing_else() {
    let (sent_on, events_on) = life_with_state_events(true);
    let (sent_off, events_off) = life_with_state_events(false);
    // The same segments at the same times: the option only filters events.
    assert_eq!(sent_on, sent_off);
    for host in [A, B] {
        let on = &events_on[host];
        let changes = on
            .iter()
            .filter(|(_, e)| matches!(e, TcpEvent::StateChanged { .. }))
            .count();
        // Both ends pass through at least SYN-SENT/SYN-RECEIVED,
        // ESTABLISHED and two closing states, each reported when on.
        assert!(changes >= 4, "host {host}: {changes} state changes");
        let rest: Vec<_> = on
            .iter()
            .filter(|(_, e)| !matches!(e, TcpEvent::StateChanged { .. }))
            .copied()
            .collect();
        // Off: no state change, every other event as before (Connected,
        // Readable, PeerClosed, Closed — also the TIME-WAIT record's).
        assert_eq!(events_off[host], rest, "host {host}");
        assert!(rest.iter().any(|(_, e)| matches!(e, TcpEvent::Closed(_))));
    }
}
