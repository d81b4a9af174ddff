//! A listener under a SYN flood, driven segment by segment: the SYN queue
//! apart from the accept queue, SYN cookies (RFC 4987 §3.6) with the
//! options carried in the timestamp, the oldest unanswered half-open entry
//! dropped first, the SYN-ACK retry cap, and the counters.
#![allow(clippy::field_reassign_with_default)]

mod tcp_pipe;

use std::net::{Ipv4Addr, SocketAddrV4};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{ListenerHandle, State, Tcp, TcpConfig, TcpEvent};
use strata::wire::tcp::{TcpFlags, TcpOptions, Timestamps};
use tcp_pipe::Seg;

const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

struct Server {
    tcp: Tcp,
    now: Instant,
    listener: ListenerHandle,
}

fn syn_from(src: Ipv4Addr, port: u16, seq: u32, opts: TcpOptions) -> Seg {
    Seg {
        src,
        dst: US,
        src_port: port,
        dst_port: 80,
        seq,
        ack: 0,
        flags: TcpFlags::SYN,
        window: 65535,
        options: opts,
        payload: Vec::new(),
    }
}

fn full_options(tsval: u32) -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some(Timestamps { tsval, tsecr: 0 }),
        ..TcpOptions::default()
    }
}

impl Server {
    fn new(cfg: TcpConfig) -> Self {
        let mut tcp = Tcp::new(cfg, 42);
        let listener = tcp
            .listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 16)
            .unwrap();
        Server {
            tcp,
            now: Instant::from_secs(100),
            listener,
        }
    }

    fn with_syn_backlog(n: usize) -> Self {
        let mut cfg = TcpConfig::default();
        cfg.syn_backlog = n;
        Self::new(cfg)
    }

    fn input(&mut self, s: &Seg) {
        self.tcp.handle_segment(self.now, s.src, s.dst, &s.repr());
    }

    fn output(&mut self) -> Vec<Seg> {
        let mut v = Vec::new();
        while let Some(s) = self.tcp.poll_transmit(self.now, Seg::from_repr) {
            v.push(s);
        }
        v
    }

    fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        while let Some(t) = self.tcp.poll_timeout() {
            if t > until {
                break;
            }
            self.now = self.now.max(t);
            self.tcp.handle_timeout(self.now);
        }
        self.now = until;
    }

    /// `n` forged SYNs from distinct sources, never answered; their
    /// SYN-ACKs are returned.
    fn flood(&mut self, n: u32, first: u32) -> Vec<Seg> {
        for i in first..first + n {
            let src = Ipv4Addr::from(0x0a01_0000 + i);
            self.input(&syn_from(
                src,
                1024 + (i % 50_000) as u16,
                i,
                full_options(i),
            ));
        }
        self.output()
    }

    fn accepted(&mut self) -> Option<strata::transport::tcp::TcpHandle> {
        while let Some(e) = self.tcp.poll_event() {
            if let TcpEvent::Acceptable { .. } = e {
                break;
            }
        }
        self.tcp.accept(self.listener).ok()
    }
}

/// The client's ACK of a SYN-ACK, echoing its TSval.
fn ack_of(synack: &Seg, tsval: Option<u32>) -> Seg {
    Seg {
        src: synack.dst,
        dst: synack.src,
        src_port: synack.dst_port,
        dst_port: synack.src_port,
        seq: synack.ack,
        ack: synack.seq.wrapping_add(1),
        flags: TcpFlags::ACK,
        window: 1000,
        options: TcpOptions {
            timestamps: tsval.map(|v| Timestamps {
                tsval: v,
                tsecr: synack.options.timestamps.map_or(0, |t| t.tsval),
            }),
            ..TcpOptions::default()
        },
        payload: Vec::new(),
    }
}

#[test]
fn a_full_syn_queue_answers_with_a_cookie_that_keeps_ws_sack_and_timestamps() {
    let mut s = Server::with_syn_backlog(4);
    let out = s.flood(4, 1);
    assert_eq!(out.len(), 4);
    assert_eq!(s.tcp.connection_count(), 4);
    // The queue is full and nobody answered yet: a legitimate SYN gets a
    // stateless SYN-ACK.
    s.input(&syn_from(CLIENT, 40_000, 7_000, full_options(900)));
    let out = s.output();
    assert_eq!(out.len(), 1);
    let synack = out[0].clone();
    assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(synack.ack, 7_001);
    assert_eq!(s.tcp.connection_count(), 4, "a cookie keeps no state");
    assert_eq!(s.tcp.stats().syncookies_sent, 1);
    // The SYN-ACK mirrors the offered options (RFC 7323 §2.2, RFC 2018).
    assert_eq!(synack.options.mss, Some(1460));
    assert!(synack.options.window_scale.is_some());
    assert!(synack.options.sack_permitted);
    let ts = synack.options.timestamps.expect("timestamps");
    assert_eq!(ts.tsecr, 900);
    // The options ride in the low bits of the TSval (Linux layout).
    assert_eq!(ts.tsval & 0xf, 7);
    assert_eq!(ts.tsval & 0x10, 0x10);

    // The ACK returns the cookie: the connection exists only now.
    let mut ack = ack_of(&synack, Some(901));
    ack.payload = b"hello".to_vec();
    s.input(&ack);
    assert_eq!(s.tcp.stats().syncookies_validated, 1);
    let h = s.accepted().expect("the cookie's connection is accepted");
    assert_eq!(s.tcp.state(h), State::Established);
    let info = s.tcp.info(h).unwrap();
    assert_eq!(info.iss, synack.seq);
    assert_eq!(info.irs, 7_000);
    // 1460 less the 12 bytes of the timestamps option in every segment.
    assert_eq!(info.mss, 1448);
    assert_eq!(info.wscale.map(|w| w.1), Some(7));
    assert!(info.sack && info.timestamps);
    // The data that came with the ACK is there, and is acknowledged.
    let mut buf = [0u8; 16];
    assert_eq!(s.tcp.recv(h, &mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    // Our next segment's TSval does not run behind the SYN-ACK's.
    s.tcp.send(h, b"x").unwrap();
    s.advance(Duration::from_millis(50));
    let out = s.output();
    let seg = out.iter().find(|x| x.dst == CLIENT).expect("a segment");
    let later = seg.options.timestamps.expect("ts").tsval;
    assert!(later.wrapping_sub(ts.tsval) as i32 >= 0);
}

#[test]
fn data_after_the_cookies_ack_is_taken_at_once() {
    // The rebuilt connection's receive window is the one the cookie
    // SYN-ACK offered: data in a segment after the bare ACK is in window
    // (it was dropped as beyond a zero window, costing the peer an RTO).
    let mut s = Server::with_syn_backlog(1);
    s.flood(1, 1);
    s.input(&syn_from(CLIENT, 40_010, 70, full_options(5)));
    let synack = s.output().pop().unwrap();
    assert_eq!(s.tcp.stats().syncookies_sent, 1);
    let ack = ack_of(&synack, Some(6));
    s.input(&ack);
    let h = s.accepted().expect("accepted");
    let mut data = ack.clone();
    data.payload = b"ping\n".to_vec();
    data.flags = TcpFlags::ACK | TcpFlags::PSH;
    s.input(&data);
    let mut buf = [0u8; 8];
    assert_eq!(s.tcp.recv(h, &mut buf).unwrap(), 5);
    assert_eq!(s.tcp.stats().out_of_window, 0);
}

#[test]
fn a_cookie_without_timestamps_gives_up_window_scale_and_sack() {
    let mut s = Server::with_syn_backlog(1);
    s.flood(1, 1);
    let mut opts = full_options(0);
    opts.timestamps = None;
    opts.mss = Some(1400);
    s.input(&syn_from(CLIENT, 40_001, 5, opts));
    let synack = s.output().pop().unwrap();
    assert_eq!(s.tcp.stats().syncookies_sent, 1);
    assert_eq!(synack.options.window_scale, None);
    assert!(!synack.options.sack_permitted);
    assert_eq!(synack.options.timestamps, None);
    s.input(&ack_of(&synack, None));
    let h = s.accepted().expect("accepted");
    let info = s.tcp.info(h).unwrap();
    // 1400 rounds down to the cookie table's 1360.
    assert_eq!(info.mss, 1360);
    assert_eq!(info.wscale, None);
    assert!(!info.sack && !info.timestamps);
}

#[test]
fn forged_and_expired_cookies_are_refused_with_a_reset() {
    let mut s = Server::with_syn_backlog(1);
    s.flood(1, 1);
    s.input(&syn_from(CLIENT, 40_002, 5, full_options(3)));
    let synack = s.output().pop().unwrap();
    // A blind attacker guesses the cookie wrong.
    let mut forged = ack_of(&synack, Some(4));
    forged.ack = forged.ack.wrapping_add(1);
    s.input(&forged);
    let out = s.output();
    assert!(out.iter().any(|x| x.flags.rst()), "{out:?}");
    assert_eq!(s.tcp.stats().syncookies_rejected, 1);
    assert_eq!(s.tcp.stats().syncookies_validated, 0);
    // The right cookie, with the peer's ISN changed, is refused too.
    let mut wrong_seq = ack_of(&synack, Some(4));
    wrong_seq.seq += 1;
    s.input(&wrong_seq);
    assert_eq!(s.tcp.stats().syncookies_rejected, 2);
    // The genuine ACK after two cookie periods has expired.
    s.advance(Duration::from_secs(129));
    // Keep the listener's cookie window open with a fresh overflow.
    s.flood(1, 50);
    s.input(&syn_from(CLIENT, 40_003, 9, full_options(3)));
    s.output();
    assert_eq!(s.tcp.stats().syncookies_sent, 2);
    s.input(&ack_of(&synack, Some(4)));
    assert_eq!(s.tcp.stats().syncookies_rejected, 3);
    assert!(s.accepted().is_none());
}

#[test]
fn an_ack_to_a_listener_that_sent_no_cookies_is_reset_without_checking() {
    let mut s = Server::with_syn_backlog(4);
    let mut stray = ack_of(&syn_from(CLIENT, 1, 1, TcpOptions::default()), None);
    stray.src = CLIENT;
    stray.dst = US;
    stray.src_port = 4000;
    stray.dst_port = 80;
    s.input(&stray);
    assert!(s.output().iter().any(|x| x.flags.rst()));
    assert_eq!(s.tcp.stats().syncookies_rejected, 0);
}

#[test]
fn without_cookies_a_full_syn_queue_drops_the_syn() {
    let mut cfg = TcpConfig::default();
    cfg.syn_backlog = 2;
    cfg.syn_cookies = false;
    let mut s = Server::new(cfg);
    s.flood(2, 1);
    s.input(&syn_from(CLIENT, 40_000, 5, full_options(1)));
    assert!(s.output().is_empty());
    assert_eq!(s.tcp.stats().syn_queue_drops, 1);
    assert_eq!(s.tcp.stats().syncookies_sent, 0);
}

#[test]
fn the_oldest_unanswered_half_open_entry_makes_room_first() {
    let mut cfg = TcpConfig::default();
    cfg.syn_backlog = 3;
    cfg.syn_cookies = false;
    let mut s = Server::new(cfg);
    // Two old entries, then (after their first SYN-ACK retransmission)
    // one young one.
    s.flood(2, 1);
    s.advance(Duration::from_millis(1500));
    let rexmit = s.output();
    assert_eq!(rexmit.len(), 2, "both SYN-ACKs retransmitted");
    s.flood(1, 100);
    assert_eq!(s.tcp.connection_count(), 3);
    // Full: a new SYN replaces the oldest entry (the first forged source).
    s.input(&syn_from(CLIENT, 40_000, 5, full_options(1)));
    let out = s.output();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dst, CLIENT);
    assert_eq!(s.tcp.stats().syn_queue_evictions, 1);
    assert_eq!(s.tcp.connection_count(), 3);
    let remotes: Vec<Ipv4Addr> = s.tcp.connections().map(|(_, i)| *i.remote.ip()).collect();
    assert!(
        !remotes.contains(&Ipv4Addr::from(0x0a01_0001)),
        "{remotes:?}"
    );
    assert!(remotes.contains(&Ipv4Addr::from(0x0a01_0002)));
    // The next SYN evicts the second old one; then only young entries are
    // left (the flood's young one and the client): the SYN is dropped.
    s.input(&syn_from(CLIENT, 40_001, 5, full_options(1)));
    assert_eq!(s.tcp.stats().syn_queue_evictions, 2);
    s.input(&syn_from(CLIENT, 40_002, 5, full_options(1)));
    assert_eq!(s.tcp.stats().syn_queue_evictions, 2);
    assert_eq!(s.tcp.stats().syn_queue_drops, 1);
    // The legitimate client answers in time and is accepted.
    let synack = out[0].clone();
    s.input(&ack_of(&synack, Some(2)));
    assert!(s.accepted().is_some());
}

#[test]
fn a_half_open_entry_gives_up_after_five_synack_retries() {
    let mut s = Server::with_syn_backlog(8);
    let first = s.flood(1, 1);
    assert_eq!(first.len(), 1);
    let mut sent = 1;
    for _ in 0..200 {
        s.advance(Duration::from_secs(1));
        sent += s.output().len();
        if s.tcp.connection_count() == 0 {
            break;
        }
    }
    assert_eq!(s.tcp.connection_count(), 0);
    // One SYN-ACK and tcp_synack_retries = 5 retransmissions.
    assert_eq!(sent, 6);
}

#[test]
fn a_flood_far_above_the_syn_queue_keeps_state_bounded_and_clients_connect() {
    let mut s = Server::with_syn_backlog(64);
    let mut clients = 0;
    let mut connected = 0;
    for round in 0..20u32 {
        s.flood(500, 1 + round * 500);
        // A legitimate client mid-flood.
        let port = 30_000 + round as u16;
        s.input(&syn_from(CLIENT, port, round * 10, full_options(round)));
        let out = s.output();
        clients += 1;
        if let Some(synack) = out.iter().find(|x| x.dst == CLIENT) {
            s.input(&ack_of(synack, Some(round + 1)));
            if s.accepted().is_some() {
                connected += 1;
            }
        }
        assert!(
            s.tcp.connection_count() <= 64 + connected,
            "{}",
            s.tcp.connection_count()
        );
        s.advance(Duration::from_millis(100));
        s.output();
    }
    assert_eq!(connected, clients);
    let st = s.tcp.stats();
    assert!(st.syncookies_sent > 9_000, "{st:?}");
    assert!(st.syncookies_validated >= 1, "{st:?}");
    // The flood stops: the next client at once.
    s.advance(Duration::from_secs(1));
    s.output();
    s.input(&syn_from(CLIENT, 50_000, 1, full_options(99)));
    let synack = s.output().into_iter().find(|x| x.dst == CLIENT).unwrap();
    s.input(&ack_of(&synack, Some(100)));
    assert!(s.accepted().is_some());
}
