//! RFC 9293 requirements (Appendix B) checked one by one against a single
//! `Tcp` engine driven with hand-made segments. Each test names the
//! requirements it checks in a `// covers:` comment, which
//! `cargo xtask compliance` collects into `docs/rfc9293.md`.
#![allow(clippy::field_reassign_with_default)]

mod tcp_pipe;
mod tcp_scripted;

use std::net::{Ipv4Addr, SocketAddrV4};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{Keepalive, State, Tcp, TcpConfig, TcpError, TcpEvent, TcpHandle};
use strata::wire::tcp::{TcpFlags, TcpOptions, Timestamps};
use tcp_pipe::Seg;
use tcp_scripted::{seg, Raw, Scripted, PEER, US};

impl Raw {
    /// Completes a handshake as the client with these SYN options and
    /// window; returns the SYN-ACK.
    fn handshake_with(&mut self, opts: TcpOptions, window: u16) -> Seg {
        let mut syn = seg(TcpFlags::SYN, self.peer_seq, 0, &[]);
        syn.options = opts;
        syn.window = window;
        self.input(&syn);
        let out = self.output();
        assert_eq!(out.len(), 1);
        let synack = out[0].clone();
        assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
        self.peer_seq += 1;
        self.our_seq = synack.seq.wrapping_add(1);
        let mut ack = seg(TcpFlags::ACK, self.peer_seq, self.our_seq, &[]);
        ack.window = window;
        if let Some(ts) = synack.options.timestamps {
            ack.options.timestamps = Some(Timestamps {
                tsval: 501,
                tsecr: ts.tsval,
            });
        }
        self.input(&ack);
        let l = self.listener();
        self.handle = Some(self.tcp.accept(l).unwrap());
        synack
    }

    fn handshake(&mut self) -> Seg {
        self.handshake_with(TcpOptions::default(), 65535)
    }

    /// A fresh engine with `cfg` and one connection (a handshake with no
    /// options): the peer and our handle.
    fn connected(cfg: TcpConfig) -> (Raw, TcpHandle) {
        let mut r = Raw::new(cfg);
        r.handshake();
        let h = r.h();
        (r, h)
    }

    /// A connection whose 1024-byte receive buffer (no window scaling)
    /// the peer has filled with two 512-byte segments: once our ACK goes
    /// out, the window it offers is zero.
    fn with_a_full_receive_window() -> (Raw, TcpHandle) {
        let mut cfg = TcpConfig::default();
        cfg.rx_buffer_limit = 1024;
        cfg.window_scale = false;
        Raw::connected(cfg)
    }

    /// The peer sends what fills the 1024-byte receive buffer of
    /// [`Raw::with_a_full_receive_window`]; checks that the ACK we send
    /// 50 ms later offers a zero window.
    fn fill_the_receive_window(&mut self) {
        for _ in 0..2 {
            let d = self.peer_data(&[1u8; 512]);
            self.input(&d);
        }
        self.advance(Duration::from_millis(50));
        let out = self.output();
        assert_eq!(out.last().unwrap().window, 0);
    }

    /// A data segment from the peer at its next sequence number (which
    /// then moves on).
    fn peer_data(&mut self, payload: &[u8]) -> Seg {
        let s = seg(
            TcpFlags::ACK | TcpFlags::PSH,
            self.peer_seq,
            self.our_seq,
            payload,
        );
        self.peer_seq = self.peer_seq.wrapping_add(payload.len() as u32);
        s
    }

    /// A pure ACK from the peer for `acked` bytes of ours with `window`.
    fn peer_ack(&self, acked: u32, window: u16) -> Seg {
        let mut s = seg(
            TcpFlags::ACK,
            self.peer_seq,
            self.our_seq.wrapping_add(acked),
            &[],
        );
        s.window = window;
        s
    }
}

fn payload_bytes(out: &[Seg]) -> usize {
    out.iter().map(|s| s.payload.len()).sum()
}

#[test]
// covers: MUST-1
fn window_is_an_unsigned_number() {
    // 40 000 and 65 535 are negative as signed 16-bit numbers.
    for window in [40_000u16, 65_535] {
        let mut r = Raw::new(TcpConfig::default());
        r.handshake_with(TcpOptions::default(), window);
        let h = r.h();
        assert_eq!(r.tcp.info(h).unwrap().snd_wnd, u32::from(window));
        r.tcp.set_nodelay(h, true).unwrap();
        r.tcp.send(h, &[5u8; 2000]).unwrap();
        assert_eq!(payload_bytes(&r.output()), 2000, "window {window} is open");
    }
}

#[test]
// covers: MUST-65
fn mss_option_only_on_syn_segments() {
    let mut r = Raw::new(TcpConfig::default());
    let synack = r.handshake_with(
        TcpOptions {
            mss: Some(1000),
            timestamps: Some(Timestamps {
                tsval: 500,
                tsecr: 0,
            }),
            ..TcpOptions::default()
        },
        65535,
    );
    assert!(synack.options.mss.is_some(), "the SYN-ACK announces MSS");
    let h = r.h();
    r.tcp.send(h, &[1u8; 3000]).unwrap();
    let d = r.peer_data(b"req");
    r.input(&d);
    let now = r.now;
    r.tcp.close(now, h).unwrap();
    let out = r.output();
    assert!(out.len() >= 3);
    assert!(out
        .iter()
        .all(|s| !s.flags.syn() && s.options.mss.is_none()));
    assert!(out.iter().any(|s| s.options.timestamps.is_some()));

    // The active side's SYN carries it too.
    let mut tcp = Tcp::new(TcpConfig::default(), 3);
    tcp.connect(
        r.now,
        SocketAddrV4::new(US, 40000),
        SocketAddrV4::new(PEER, 80),
    )
    .unwrap();
    let syn = tcp.poll_transmit(r.now, Seg::from_repr).unwrap();
    assert!(syn.flags.syn() && syn.options.mss == Some(1460));
}

#[test]
// covers: MUST-18
fn karn_no_rtt_sample_from_a_retransmitted_segment() {
    let (mut r, h) = Raw::connected(TcpConfig::default());
    let before = r.tcp.info(h).unwrap().srtt;
    r.tcp.send(h, b"lost").unwrap();
    assert_eq!(r.output().len(), 1);
    // Nothing is acknowledged: the segment is retransmitted at RTO.
    let rto = r.tcp.info(h).unwrap().rto;
    r.advance(rto + Duration::from_millis(1));
    let out = r.output();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].payload, b"lost");
    // The ACK comes late: it may belong to either transmission, so no RTT
    // sample is taken from it.
    r.advance(Duration::from_millis(900));
    let ack = r.peer_ack(4, 65535);
    r.input(&ack);
    assert_eq!(r.tcp.info(h).unwrap().srtt, before, "no sample (Karn)");
    // A segment sent once gives a sample.
    r.tcp.send(h, b"fresh").unwrap();
    assert_eq!(r.output().len(), 1);
    r.advance(Duration::from_millis(30));
    let ack = r.peer_ack(9, 65535);
    r.input(&ack);
    assert_ne!(r.tcp.info(h).unwrap().srtt, before, "a clean sample counts");
}

#[test]
// covers: MUST-23
fn syn_is_retried_for_at_least_three_minutes_by_default() {
    let mut tcp = Tcp::new(TcpConfig::default(), 5);
    let mut now = Instant::from_secs(1);
    let t0 = now;
    let h = tcp
        .connect(
            now,
            SocketAddrV4::new(US, 40000),
            SocketAddrV4::new(PEER, 80),
        )
        .unwrap();
    let mut syns = vec![(
        Duration::ZERO,
        tcp.poll_transmit(now, Seg::from_repr).unwrap().flags,
    )];
    while let Some(t) = tcp.poll_timeout() {
        if t - t0 > Duration::from_secs(3600) {
            break;
        }
        now = t;
        tcp.handle_timeout(now);
        while let Some(s) = tcp.poll_transmit(now, Seg::from_repr) {
            syns.push((now - t0, s.flags));
        }
        if tcp.error(h).is_some() {
            break;
        }
    }
    assert_eq!(tcp.error(h), Some(TcpError::TimedOut), "{syns:?}");
    assert!(
        now - t0 >= Duration::from_secs(180),
        "gave up after {:?}",
        now - t0
    );
    assert!(syns.len() >= 3 && syns.iter().all(|(_, f)| *f == TcpFlags::SYN));
}

#[test]
// covers: MUST-25, MUST-28
fn keepalive_is_off_by_default_and_waits_two_hours_when_on() {
    assert!(TcpConfig::default().keepalive.is_none());
    let (mut r, h) = Raw::connected(TcpConfig::default());
    // Three idle hours: no probe.
    for _ in 0..3 * 60 {
        r.advance(Duration::from_secs(60));
        assert!(r.output().is_empty());
    }
    assert_eq!(r.tcp.stats().keepalive_probes, 0);
    assert_eq!(r.tcp.state(h), State::Established);
    // Turned on with the defaults: the first probe after two idle hours.
    assert!(Keepalive::default().idle >= Duration::from_secs(2 * 3600));
    let now = r.now;
    r.tcp
        .set_keepalive(now, h, Some(Keepalive::default()))
        .unwrap();
    let d = r.peer_data(b"wake");
    r.input(&d);
    let _ = r.output();
    r.advance(Duration::from_secs(2 * 3600 - 1));
    let _ = r.output();
    assert_eq!(r.tcp.stats().keepalive_probes, 0, "not before 2 h idle");
    r.advance(Duration::from_secs(2));
    let out = r.output();
    assert_eq!(r.tcp.stats().keepalive_probes, 1);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].seq,
        r.our_seq.wrapping_sub(1),
        "SEG.SEQ = SND.NXT - 1"
    );
}

#[test]
// covers: MUST-34, SHLD-15
fn sender_is_robust_against_a_shrinking_window() {
    let (mut r, h) = Raw::connected(TcpConfig::default());
    r.tcp.set_nodelay(h, true).unwrap();
    r.tcp.send(h, &[9u8; 20_000]).unwrap();
    let flight = payload_bytes(&r.output()) as u32;
    assert!(flight > 2000);
    // The peer acknowledges one segment and moves its right edge left of
    // SND.NXT: the usable window is negative.
    let ack = r.peer_ack(536, 1000);
    r.input(&ack);
    assert!(r.output().is_empty(), "no new data past the shrunk edge");
    assert_eq!(r.tcp.state(h), State::Established);
    // The window opens again: everything outstanding is acknowledged and
    // sending resumes right after it.
    let ack = r.peer_ack(flight, 65535);
    r.input(&ack);
    let out = r.output();
    assert!(!out.is_empty());
    assert_eq!(out[0].seq, r.our_seq.wrapping_add(flight));
}

#[test]
// covers: MUST-38
fn sender_sws_avoidance_waits_for_a_useful_window() {
    let (mut r, h) = Raw::connected(TcpConfig::default());
    r.tcp.set_nodelay(h, true).unwrap();
    r.tcp.send(h, &[1u8; 1000]).unwrap();
    assert_eq!(payload_bytes(&r.output()), 1000);
    // All acknowledged, but only 100 bytes of window offered (the peer
    // once offered 65 535): a 100-byte segment would be silly.
    let ack = r.peer_ack(1000, 100);
    r.input(&ack);
    r.tcp.send(h, &[2u8; 1000]).unwrap();
    assert!(r.output().is_empty(), "no tiny segment into a tiny window");
    // A useful window: the data goes.
    let ack = r.peer_ack(1000, 8000);
    r.input(&ack);
    assert_eq!(payload_bytes(&r.output()), 1000);
}

#[test]
// covers: MUST-39, SHLD-14
fn receiver_sws_avoidance_opens_the_window_in_large_steps() {
    let mut cfg = TcpConfig::default();
    cfg.rx_buffer_limit = 4096;
    cfg.window_scale = false;
    let mut r = Raw::new(cfg);
    let synack = r.handshake();
    assert_eq!(synack.window, 4096);
    let h = r.h();
    for _ in 0..8 {
        let d = r.peer_data(&[7u8; 512]);
        r.input(&d);
    }
    let out = r.output();
    assert_eq!(out.last().unwrap().window, 0, "buffer full: window closed");
    // Reading a little does not open a silly window.
    let mut buf = [0u8; 4096];
    assert_eq!(r.tcp.recv(h, &mut buf[..100]), Ok(100));
    r.advance(Duration::from_millis(300));
    assert!(r.output().iter().all(|s| s.window == 0));
    // Reading a full segment's worth opens it (and says so).
    assert_eq!(r.tcp.recv(h, &mut buf[..500]), Ok(500));
    r.advance(Duration::from_millis(300));
    let out = r.output();
    assert!(!out.is_empty(), "window update sent");
    assert!(out.iter().all(|s| s.window >= 536), "{out:?}");
}

#[test]
// covers: SHLD-18, MUST-39
fn a_reads_window_update_rides_on_the_delayed_ack_unless_the_window_was_nearly_shut() {
    // RFC 9293 §3.8.6.2.2 says when the right edge may move, §3.8.6.3
    // (SHLD-18) when the ACK that carries it goes out: a read that opens
    // the window by two segments while most of it is still open sends
    // nothing of its own (Linux's tcp_cleanup_rbuf); the delayed ACK then
    // carries the larger window.
    let mut cfg = TcpConfig::default();
    cfg.rx_buffer_limit = 4096;
    cfg.window_scale = false;
    let mut r = Raw::new(cfg);
    r.handshake();
    let h = r.h();
    for _ in 0..2 {
        let d = r.peer_data(&[7u8; 512]);
        r.input(&d);
    }
    assert!(
        r.output().is_empty(),
        "1024 bytes < 2·RMSS: the ACK is delayed"
    );
    let mut buf = [0u8; 4096];
    assert_eq!(r.tcp.recv(h, &mut buf[..1024]), Ok(1024));
    assert!(
        r.output().is_empty(),
        "3072 of 4096 still offered: no ACK for the read"
    );
    r.advance(Duration::from_millis(40));
    let out = r.output();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        out[0].window, 4096,
        "the delayed ACK carries the opened window"
    );
    // A window nearly shut is reopened at once: the sender is held back.
    for _ in 0..8 {
        let d = r.peer_data(&[7u8; 512]);
        r.input(&d);
    }
    assert_eq!(r.output().last().unwrap().window, 0, "buffer full");
    assert_eq!(r.tcp.recv(h, &mut buf), Ok(4096));
    let out = r.output();
    assert_eq!(out.len(), 1, "window update at once: {out:?}");
    assert_eq!(out[0].window, 4096);
}

#[test]
// covers: MUST-41, MUST-42
fn listen_beside_a_connection_in_syn_sent() {
    let mut tcp = Tcp::new(TcpConfig::default(), 9);
    let now = Instant::from_secs(1);
    let local = SocketAddrV4::new(US, 7000);
    let remote = SocketAddrV4::new(PEER, 80);
    let c = tcp.connect(now, local, remote).unwrap();
    let syn = tcp.poll_transmit(now, Seg::from_repr).unwrap();
    // A LISTEN on the same port while the connection is in SYN-SENT.
    let l = tcp
        .listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7000), 4)
        .unwrap();
    assert_eq!(tcp.state(c), State::SynSent, "the connection is untouched");
    // The connection completes...
    let mut synack = seg(TcpFlags::SYN | TcpFlags::ACK, 5000, syn.seq + 1, &[]);
    synack.src_port = 80;
    synack.dst_port = 7000;
    tcp.handle_segment(now, PEER, US, &synack.repr());
    assert_eq!(tcp.state(c), State::Established);
    // ... and the listener takes a connection from another peer.
    let mut other = seg(TcpFlags::SYN, 9000, 0, &[]);
    other.src = Ipv4Addr::new(10, 0, 0, 3);
    other.dst_port = 7000;
    tcp.handle_segment(now, other.src, US, &other.repr());
    let out: Vec<Seg> = std::iter::from_fn(|| tcp.poll_transmit(now, Seg::from_repr)).collect();
    assert!(out
        .iter()
        .any(|s| s.flags == TcpFlags::SYN | TcpFlags::ACK && s.dst == other.src));
    assert_eq!(
        tcp.accept(l),
        Err(TcpError::WouldBlock),
        "handshake not done"
    );
    assert_eq!(tcp.connection_count(), 2);
}

#[test]
// covers: MUST-46
fn open_to_broadcast_or_multicast_is_refused() {
    let mut tcp = Tcp::new(TcpConfig::default(), 9);
    let now = Instant::from_secs(1);
    let local = SocketAddrV4::new(US, 7000);
    for dst in [
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::new(239, 1, 2, 3),
    ] {
        assert!(tcp.connect(now, local, SocketAddrV4::new(dst, 80)).is_err());
    }
    assert_eq!(tcp.connection_count(), 0);
    assert!(tcp.poll_transmit(now, Seg::from_repr).is_none());
    assert!(tcp.connect(now, local, SocketAddrV4::new(PEER, 80)).is_ok());
}

#[test]
// covers: MUST-57, MUST-63
fn syn_from_or_to_broadcast_and_multicast_is_discarded() {
    let mut r = Raw::new(TcpConfig::default());
    let cases = [
        (Ipv4Addr::BROADCAST, US),
        (Ipv4Addr::new(224, 0, 0, 9), US),
        (Ipv4Addr::UNSPECIFIED, US),
        (PEER, Ipv4Addr::BROADCAST),
        (PEER, Ipv4Addr::new(224, 0, 0, 1)),
    ];
    for (src, dst) in cases {
        let mut s = seg(TcpFlags::SYN, 100, 0, &[]);
        s.src = src;
        s.dst = dst;
        r.input(&s);
        assert!(r.output().is_empty(), "{src} -> {dst}: silently dropped");
    }
    assert_eq!(r.tcp.connection_count(), 0);
    // The same SYN between unicast addresses is answered.
    r.input(&seg(TcpFlags::SYN, 100, 0, &[]));
    assert_eq!(r.output().len(), 1);
}

#[test]
// covers: MUST-58, MUST-59
fn acks_are_aggregated_over_a_batch_of_segments() {
    let mut r = Raw::new(TcpConfig::default());
    r.handshake();
    let _ = r.output();
    // Four full segments (two would trigger an ACK each) and an
    // out-of-order one arrive before the caller polls: one ACK for all.
    let first = r.peer_seq;
    let segs: Vec<Seg> = (0..4).map(|_| r.peer_data(&[3u8; 536])).collect();
    for s in &segs {
        r.input(s);
    }
    let out = r.output();
    assert_eq!(out.len(), 1, "one ACK for the batch");
    assert_eq!(out[0].ack, first.wrapping_add(4 * 536));
}

#[test]
// covers: MUST-60, MUST-61, SHLD-27
fn psh_on_the_last_segment_and_nothing_held_forever() {
    let (mut r, h) = Raw::connected(TcpConfig::default());
    // Nagle on (Minshall's form): 1200 bytes go as 536 + 536 + 128 at
    // once, PSH on the last segment only.
    r.tcp.send(h, &[4u8; 1200]).unwrap();
    let out = r.output();
    assert_eq!(payload_bytes(&out), 1200, "the tail is not held");
    assert!(out.last().unwrap().flags.psh(), "PSH on the last segment");
    assert!(out[..out.len() - 1].iter().all(|s| !s.flags.psh()));
    let ack = r.peer_ack(1200, 65535);
    r.input(&ack);
    assert!(r.output().is_empty());
    // A write that fits one segment: PSH on it.
    r.tcp.send(h, b"ping").unwrap();
    r.advance(Duration::from_secs(1));
    let out = r.output();
    assert!(!out.is_empty(), "nothing held indefinitely");
    assert!(out.last().unwrap().flags.psh());
}

#[test]
// covers: MUST-66
fn zero_window_still_processes_ack_and_rst() {
    let (mut r, h) = Raw::with_a_full_receive_window();
    r.tcp.set_nodelay(h, true).unwrap();
    r.tcp.send(h, b"abc").unwrap();
    assert_eq!(r.output().len(), 1);
    r.fill_the_receive_window();
    // An ACK at RCV.NXT is processed although the window is zero.
    let ack = r.peer_ack(3, 65535);
    r.input(&ack);
    assert_eq!(r.tcp.info(h).unwrap().snd_una, r.our_seq.wrapping_add(3));
    // So is a RST at RCV.NXT.
    let rst = seg(TcpFlags::RST, r.peer_seq, 0, &[]);
    r.input(&rst);
    assert_eq!(r.tcp.error(h), Some(TcpError::Reset));
}

/// A peer segment with URG and the urgent field set.
fn urgent_seg(r: &mut Raw, payload: &[u8]) -> Seg {
    let mut s = r.peer_data(payload);
    s.flags |= TcpFlags::URG;
    s
}

fn input_urgent(r: &mut Raw, s: &Seg, urgent: u16) {
    let mut rep = s.repr();
    rep.urgent = urgent;
    let now = r.now;
    r.tcp.handle_segment(now, s.src, s.dst, &rep);
}

fn urgent_events(r: &mut Raw) -> usize {
    std::iter::from_fn(|| r.tcp.poll_event())
        .filter(|e| matches!(e, TcpEvent::Urgent(_)))
        .count()
}

#[test]
// covers: MUST-30, MUST-32, MUST-33, MUST-62
fn urgent_data_arrives_inline_and_its_mark_is_reported() {
    let (mut r, h) = Raw::connected(TcpConfig::default());
    // Plain data first: no urgent mark.
    let d = r.peer_data(b"plain");
    r.input(&d);
    assert_eq!(urgent_events(&mut r), 0);
    assert_eq!(r.tcp.urgent_pending(h), Ok(None));
    // "hello" then 3 urgent octets "XYZ": the pointer names the octet
    // after Z, 8 past this segment's sequence number.
    let s = urgent_seg(&mut r, b"helloXYZ");
    input_urgent(&mut r, &s, 8);
    assert_eq!(urgent_events(&mut r), 1, "told at once");
    assert_eq!(r.tcp.urgent_pending(h), Ok(Some(13)), "plain + hello + XYZ");
    // An older pointer is no news.
    let s2 = urgent_seg(&mut r, b"");
    input_urgent(&mut r, &s2, 0);
    assert_eq!(urgent_events(&mut r), 0);
    // Read up to the mark: everything arrives inline, in order.
    let mut buf = [0u8; 32];
    assert_eq!(r.tcp.recv(h, &mut buf[..10]), Ok(10));
    assert_eq!(&buf[..10], b"plainhello");
    assert_eq!(r.tcp.urgent_pending(h), Ok(Some(3)));
    assert_eq!(r.tcp.recv(h, &mut buf), Ok(3));
    assert_eq!(&buf[..3], b"XYZ");
    assert_eq!(r.tcp.urgent_pending(h), Ok(None), "past the mark");
    // The mark advances: told again.
    let s3 = urgent_seg(&mut r, b"ab!");
    input_urgent(&mut r, &s3, 3);
    assert_eq!(urgent_events(&mut r), 1);
    assert_eq!(r.tcp.urgent_pending(h), Ok(Some(3)));
}

/// Segments out as (seq, flags, urgent field, payload length).
fn out_urgent(r: &mut Raw) -> Vec<(u32, TcpFlags, u16, usize)> {
    let now = r.now;
    std::iter::from_fn(|| {
        r.tcp
            .poll_transmit(now, |_, _, s| (s.seq, s.flags, s.urgent, s.payload.len()))
    })
    .collect()
}

#[test]
// covers: MUST-30, MUST-62
fn urgent_send_sets_urg_and_points_past_the_urgent_data() {
    let (mut r, h) = Raw::connected(TcpConfig::default());
    r.tcp.send(h, b"normal").unwrap();
    let out = out_urgent(&mut r);
    assert_eq!(out.len(), 1);
    assert!(!out[0].1.urg());
    // Nagle would hold two bytes behind unacknowledged data; urgent data
    // goes at once, with the pointer just past it.
    assert_eq!(r.tcp.send_urgent(h, b"!!"), Ok(2));
    let out = out_urgent(&mut r);
    assert_eq!(out.len(), 1, "{out:?}");
    let (seq, flags, up, len) = out[0];
    assert_eq!((seq, len), (r.our_seq.wrapping_add(6), 2));
    assert!(flags.urg());
    assert_eq!(up, 2, "SEG.SEQ + 2 is the octet after the urgent data");
    // A retransmission of the first segment, sent before SND.UP, carries
    // the pointer from its own sequence number.
    let rto = r.tcp.info(h).unwrap().rto;
    r.advance(rto + Duration::from_millis(1));
    let out = out_urgent(&mut r);
    assert!(!out.is_empty());
    assert_eq!(out[0].0, r.our_seq);
    assert!(out[0].1.urg());
    assert_eq!(out[0].2, 8);
    // Once everything is acknowledged urgent mode ends.
    let ack = r.peer_ack(8, 65535);
    r.input(&ack);
    r.tcp.send(h, b"later").unwrap();
    let out = out_urgent(&mut r);
    assert!(!out.is_empty());
    assert!(out.iter().all(|s| !s.1.urg()), "{out:?}");
}

/// Moves every segment between `a` and `b` (URG and the urgent field
/// included) and runs their timers, 1 ms per round, until `done` or
/// `rounds` run out.
fn pump(a: &mut Tcp, b: &mut Tcp, now: &mut Instant, rounds: usize, done: impl Fn(&Tcp) -> bool) {
    for _ in 0..rounds {
        if done(b) {
            return;
        }
        for t in [&mut *a, &mut *b] {
            if t.poll_timeout().is_some_and(|w| w <= *now) {
                t.handle_timeout(*now);
            }
        }
        let n = *now;
        while a
            .poll_transmit(n, |s, d, r| b.handle_segment(n, s, d, r))
            .is_some()
        {}
        while b
            .poll_transmit(n, |s, d, r| a.handle_segment(n, s, d, r))
            .is_some()
        {}
        *now += Duration::from_millis(1);
    }
}

#[test]
// covers: MUST-31
fn urgent_data_of_any_length() {
    let (mut a, mut b) = (
        Tcp::new(TcpConfig::default(), 1),
        Tcp::new(TcpConfig::default(), 2),
    );
    let mut now = Instant::from_secs(1);
    let l = b.listen(SocketAddrV4::new(US, 80), 4).unwrap();
    let c = a
        .connect(
            now,
            SocketAddrV4::new(PEER, 40000),
            SocketAddrV4::new(US, 80),
        )
        .unwrap();
    pump(&mut a, &mut b, &mut now, 100, |_| false);
    let s = b.accept(l).unwrap();
    // 200 000 urgent octets: the pointer does not fit the 16-bit field
    // until the last 64 KiB, and the receiver's mark still lands after the
    // last one.
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + 1) as u8).collect();
    assert_eq!(a.send_urgent(c, &data), Ok(data.len()));
    pump(&mut a, &mut b, &mut now, 20_000, |b| {
        b.recv_queue(s) == Ok(200_000)
    });
    assert_eq!(b.recv_queue(s), Ok(200_000));
    assert_eq!(b.urgent_pending(s), Ok(Some(200_000)));
    let mut got = vec![0u8; 200_000];
    let mut n = 0;
    while n < got.len() {
        n += b.recv(s, &mut got[n..]).unwrap();
    }
    assert_eq!(got, data);
    assert_eq!(b.urgent_pending(s), Ok(None));
}

#[test]
// covers: MUST-66
fn urgent_pointer_is_taken_with_a_zero_window() {
    let (mut r, h) = Raw::with_a_full_receive_window();
    r.fill_the_receive_window();
    let _ = urgent_events(&mut r);
    // No room for data, but the URG at RCV.NXT is processed.
    let s = urgent_seg(&mut r, b"");
    input_urgent(&mut r, &s, 10);
    assert_eq!(urgent_events(&mut r), 1);
    assert_eq!(r.tcp.urgent_pending(h), Ok(Some(1024 + 10)));
}
