//! Segment-level behaviour of one `Tcp` engine, driven by hand-made
//! segments: option negotiation, RFC 5961, PAWS, delayed ACK, SACK,
//! hostile input, ICMP errors.
#![allow(clippy::field_reassign_with_default)]

mod tcp_pipe;
mod tcp_scripted;

use proptest::prelude::*;
use std::net::SocketAddrV4;
use strata::time::{Duration, Instant};
use strata::transport::tcp::{IcmpError, State, Tcp, TcpConfig, TcpError};
use strata::wire::tcp::{TcpFlags, TcpOptions, Timestamps};
use tcp_pipe::Seg;
use tcp_scripted::{seg, Raw, Scripted, PEER, US};

impl Raw {
    fn ts(&mut self) -> Option<Timestamps> {
        self.tsval += 1;
        Some(Timestamps {
            tsval: self.tsval,
            tsecr: 0,
        })
    }

    /// Complete a handshake as the client with the given SYN options.
    fn handshake(&mut self, opts: TcpOptions) -> Seg {
        let mut syn = seg(TcpFlags::SYN, self.peer_seq, 0, &[]);
        syn.options = opts;
        self.input(&syn);
        let out = self.output();
        assert_eq!(out.len(), 1);
        let synack = out[0].clone();
        assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
        assert_eq!(synack.ack, self.peer_seq + 1);
        self.peer_seq += 1;
        self.our_seq = synack.seq.wrapping_add(1);
        let mut ack = seg(TcpFlags::ACK, self.peer_seq, self.our_seq, &[]);
        if opts.timestamps.is_some() {
            ack.options.timestamps = Some(Timestamps {
                tsval: self.tsval,
                tsecr: synack.options.timestamps.unwrap().tsval,
            });
        }
        self.input(&ack);
        let l = self.listener();
        self.handle = Some(self.tcp.accept(l).unwrap());
        synack
    }

    fn data(&mut self, payload: &[u8]) -> Seg {
        let mut s = seg(
            TcpFlags::ACK | TcpFlags::PSH,
            self.peer_seq,
            self.our_seq,
            payload,
        );
        s.options.timestamps = self.ts_opt();
        s
    }

    fn ts_opt(&mut self) -> Option<Timestamps> {
        let info = self.tcp.info(self.handle.unwrap()).unwrap();
        if info.timestamps {
            self.ts()
        } else {
            None
        }
    }
}

fn full_opts() -> TcpOptions {
    TcpOptions {
        mss: Some(1000),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some(Timestamps {
            tsval: 500,
            tsecr: 0,
        }),
        ..TcpOptions::default()
    }
}

#[test]
// covers: MUST-14, MUST-16, REC-1, SHLD-28
fn syn_ack_mirrors_options_and_segments_respect_peer_mss() {
    let mut r = Raw::new(TcpConfig::default());
    let synack = r.handshake(full_opts());
    let o = synack.options;
    assert_eq!(o.mss, Some(1460));
    assert_eq!(o.window_scale, Some(3), "256 KiB needs shift 3");
    assert!(o.sack_permitted);
    assert_eq!(o.timestamps.unwrap().tsecr, 500);
    let h = r.handle.unwrap();
    let info = r.tcp.info(h).unwrap();
    assert_eq!(info.wscale, Some((3, 7)));
    assert_eq!(info.mss, 1000 - 12);
    r.tcp.send(h, &[7u8; 5000]).unwrap();
    let out = r.output();
    assert!(!out.is_empty());
    assert!(out.iter().all(|s| s.payload.len() <= 988));
    // Five full segments and the 60-byte tail: no small segment is
    // unacknowledged, so Minshall's Nagle lets the tail go at once.
    assert_eq!(
        out.iter().map(|s| s.payload.len()).collect::<Vec<_>>(),
        [988, 988, 988, 988, 988, 60]
    );
    // Window field is scaled by our shift.
    assert_eq!(out[0].window, ((256 * 1024) >> 3) as u16 - 1 + 1);
}

#[test]
// covers: MUST-15
fn no_options_means_defaults() {
    let mut r = Raw::new(TcpConfig::default());
    let synack = r.handshake(TcpOptions::default());
    assert_eq!(synack.options.window_scale, None);
    assert_eq!(synack.options.timestamps, None);
    assert!(!synack.options.sack_permitted);
    assert_eq!(synack.window, 65535);
    let h = r.handle.unwrap();
    let info = r.tcp.info(h).unwrap();
    assert_eq!(info.mss, 536, "RFC 9293 MUST-15 default MSS");
    assert_eq!(info.wscale, None);
    r.tcp.send(h, &[1u8; 3000]).unwrap();
    assert!(r.output().iter().all(|s| s.payload.len() <= 536));
}

#[test]
// covers: MUST-16, MUST-67, SHLD-6, MUST-54
fn our_mtu_bounds_segments_and_icmp_frag_needed_lowers_it() {
    let mut cfg = TcpConfig::default();
    cfg.mtu = 1000;
    let mut r = Raw::new(cfg);
    let synack = r.handshake(TcpOptions {
        mss: Some(9000),
        ..TcpOptions::default()
    });
    assert_eq!(synack.options.mss, Some(960));
    let h = r.handle.unwrap();
    r.tcp.send(h, &[1u8; 3000]).unwrap();
    let out = r.output();
    assert!(out.iter().all(|s| s.payload.len() <= 960));
    let local = r.tcp.local_addr(h).unwrap();
    let remote = r.tcp.remote_addr(h).unwrap();
    let now = r.now;
    r.tcp.handle_icmp_error(
        now,
        local,
        remote,
        IcmpError::FragmentationNeeded { mtu: 576 },
    );
    let out = r.output();
    assert!(!out.is_empty(), "in-flight data is resent at the new size");
    assert!(out.iter().all(|s| s.payload.len() <= 536));
}

#[test]
// covers: MAY-12
fn syn_in_established_gets_challenge_ack() {
    let mut r = Raw::new(TcpConfig::default());
    r.handshake(TcpOptions::default());
    let h = r.handle.unwrap();
    // RFC 5961 §4: any SYN in a synchronized state → challenge ACK.
    let syn = seg(TcpFlags::SYN, r.peer_seq + 100, 0, &[]);
    r.input(&syn);
    let out = r.output();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].flags, TcpFlags::ACK);
    assert_eq!(out[0].ack, r.peer_seq);
    assert_eq!(r.tcp.state(h), State::Established);
    assert_eq!(r.tcp.stats().challenge_acks, 1);
}

#[test]
// covers: MAY-12
fn challenge_acks_are_rate_limited() {
    let mut cfg = TcpConfig::default();
    cfg.challenge_ack_limit = 2;
    let mut r = Raw::new(cfg);
    r.handshake(TcpOptions::default());
    let mut acks = 0;
    for i in 1..=5 {
        let rst = seg(TcpFlags::RST, r.peer_seq + i * 10, 0, &[]);
        r.input(&rst);
        acks += r.output().len();
    }
    assert_eq!(acks, 2);
    assert_eq!(r.tcp.stats().challenge_acks, 2);
    assert_eq!(r.tcp.stats().challenge_acks_suppressed, 3);
    assert_eq!(r.tcp.state(r.handle.unwrap()), State::Established);
    // Out-of-window RST: silently dropped.
    let rst = seg(TcpFlags::RST, r.peer_seq.wrapping_add(1 << 30), 0, &[]);
    r.input(&rst);
    assert_eq!(r.tcp.state(r.handle.unwrap()), State::Established);
}

#[test]
fn ack_for_unsent_data_is_answered_and_dropped() {
    let mut r = Raw::new(TcpConfig::default());
    r.handshake(TcpOptions::default());
    let h = r.handle.unwrap();
    let bad = seg(
        TcpFlags::ACK,
        r.peer_seq,
        r.our_seq.wrapping_add(5000),
        b"data",
    );
    r.input(&bad);
    let out = r.output();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].ack, r.peer_seq,
        "data of the bad segment not accepted"
    );
    assert_eq!(r.tcp.recv_queue(h).unwrap(), 0);
}

#[test]
// covers: MUST-5
fn paws_drops_old_timestamps() {
    let mut r = Raw::new(TcpConfig::default());
    r.handshake(full_opts());
    let h = r.handle.unwrap();
    let d = r.data(b"fresh");
    r.input(&d);
    r.peer_seq += 5;
    assert_eq!(r.tcp.recv_queue(h).unwrap(), 5);
    // Same sequence space but an old TSval: PAWS rejects it.
    let mut old = r.data(b"stale");
    old.options.timestamps = Some(Timestamps {
        tsval: 10,
        tsecr: 0,
    });
    r.input(&old);
    assert_eq!(r.tcp.recv_queue(h).unwrap(), 5);
    assert_eq!(r.tcp.stats().paws_rejected, 1);
    // After 24 days of idleness TS.Recent is no longer trusted (RFC 7323 §5.5).
    r.now += Duration::from_secs(25 * 24 * 3600);
    r.input(&old);
    assert_eq!(r.tcp.recv_queue(h).unwrap(), 10);
}

#[test]
// covers: SHLD-18, SHLD-19, MUST-40
fn delayed_ack_and_every_second_full_segment() {
    let mut r = Raw::new(TcpConfig::default());
    r.handshake(TcpOptions::default());
    let _ = r.output();
    let d = r.data(&[1u8; 100]);
    r.input(&d);
    r.peer_seq += 100;
    assert!(r.output().is_empty(), "ACK is delayed");
    r.advance(Duration::from_millis(39));
    assert!(r.output().is_empty());
    r.advance(Duration::from_millis(2));
    let out = r.output();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack, r.peer_seq);
    // Two full-sized segments: ACK at once.
    for _ in 0..2 {
        let d = r.data(&[2u8; 536]);
        r.input(&d);
        r.peer_seq += 536;
    }
    let out = r.output();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack, r.peer_seq);
}

#[test]
fn timer_moved_later_wakes_at_its_new_deadline_not_before() {
    // A request arms the delayed ACK; the reply takes the ACK along and
    // arms RTO instead. The engine's wake for the delayed ACK is now early:
    // when it comes nothing may go out, and the connection must still be
    // woken at the RTO deadline (the reply is retransmitted then).
    let mut r = Raw::new(TcpConfig::default());
    r.handshake(TcpOptions::default());
    let _ = r.output();
    let h = r.handle.unwrap();
    let d = r.data(b"request");
    r.input(&d);
    r.peer_seq += 7;
    let delack = r.tcp.poll_timeout().expect("delayed ACK armed");
    assert_eq!(delack, r.now + Duration::from_millis(40));
    r.tcp.send(h, b"reply").unwrap();
    let out = r.output();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack, r.peer_seq, "the reply carries the ACK");
    let rto = r.tcp.info(h).unwrap().rto;
    let sent_at = r.now;
    // The early wake: nothing to send, and the next deadline is RTO's.
    r.advance(Duration::from_millis(41));
    assert!(r.output().is_empty(), "no ACK or retransmission at 40 ms");
    assert_eq!(r.tcp.poll_timeout(), Some(sent_at + rto));
    r.advance(rto - Duration::from_millis(42));
    assert!(r.output().is_empty(), "nothing before RTO");
    assert_eq!(r.tcp.stats().retransmits, 0);
    r.advance(Duration::from_millis(2));
    let out = r.output();
    assert_eq!(out.len(), 1, "the reply is retransmitted at RTO");
    assert_eq!(out[0].payload, b"reply");
    assert_eq!(r.tcp.stats().retransmits, 1);
}

#[test]
// covers: SHLD-31, MAY-13
fn out_of_order_gets_quick_ack_with_sack_blocks() {
    let mut r = Raw::new(TcpConfig::default());
    r.handshake(TcpOptions {
        sack_permitted: true,
        ..TcpOptions::default()
    });
    let h = r.handle.unwrap();
    let base = r.peer_seq;
    r.peer_seq = base + 100;
    let d = r.data(&[3u8; 50]);
    r.input(&d);
    let out = r.output();
    assert_eq!(out.len(), 1, "immediate duplicate ACK");
    assert_eq!(out[0].ack, base);
    assert_eq!(
        out[0].options.sack(),
        &[strata::wire::tcp::SackBlock {
            left: base + 100,
            right: base + 150
        }]
    );
    r.peer_seq = base + 200;
    let d = r.data(&[3u8; 50]);
    r.input(&d);
    let out = r.output();
    // Most recent block first (RFC 2018 §4).
    assert_eq!(out[0].options.sack()[0].left, base + 200);
    assert_eq!(out[0].options.sack()[1].left, base + 100);
    // Fill the hole: everything becomes readable, ACK at once.
    r.peer_seq = base;
    let d = r.data(&[3u8; 100]);
    r.input(&d);
    let out = r.output();
    assert_eq!(out[0].ack, base + 150);
    assert_eq!(r.tcp.recv_queue(h).unwrap(), 150);
}

#[test]
fn urgent_data_is_delivered_inline() {
    let mut r = Raw::new(TcpConfig::default());
    r.handshake(TcpOptions::default());
    let h = r.handle.unwrap();
    let mut d = r.data(b"urgent!");
    d.flags |= TcpFlags::URG;
    let mut repr_seg = d.clone();
    repr_seg.window = 1000;
    let mut rep = repr_seg.repr();
    rep.urgent = 3;
    let now = r.now;
    r.tcp.handle_segment(now, PEER, US, &rep);
    let mut buf = [0u8; 16];
    assert_eq!(r.tcp.recv(h, &mut buf), Ok(7));
    assert_eq!(&buf[..7], b"urgent!");
}

#[test]
fn hostile_flags_and_closed_ports() {
    let mut r = Raw::new(TcpConfig::default());
    r.input(&seg(TcpFlags::SYN | TcpFlags::FIN, 1, 0, &[]));
    r.input(&seg(TcpFlags::SYN | TcpFlags::RST, 1, 0, &[]));
    r.input(&seg(TcpFlags::NONE, 1, 0, b"null scan"));
    assert_eq!(r.tcp.stats().bad_flags, 3);
    assert!(r.output().is_empty());
    // A SYN to a closed port: RST|ACK acking the SYN.
    let mut s = seg(TcpFlags::SYN, 777, 0, &[]);
    s.dst_port = 81;
    r.input(&s);
    let out = r.output();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].flags, TcpFlags::RST | TcpFlags::ACK);
    assert_eq!((out[0].seq, out[0].ack), (0, 778));
    // An ACK to a closed port: RST with SEQ = SEG.ACK.
    let mut s = seg(TcpFlags::ACK, 777, 4242, b"xx");
    s.dst_port = 81;
    r.input(&s);
    let out = r.output();
    assert_eq!(out[0].flags, TcpFlags::RST);
    assert_eq!(out[0].seq, 4242);
    // A RST to a closed port: nothing.
    let mut s = seg(TcpFlags::RST, 777, 0, &[]);
    s.dst_port = 81;
    r.input(&s);
    assert!(r.output().is_empty());
    // An ACK to a listener: RST.
    r.input(&seg(TcpFlags::ACK, 5, 99, &[]));
    let out = r.output();
    assert_eq!((out[0].flags, out[0].seq), (TcpFlags::RST, 99));
}

#[test]
// covers: SHLD-3
fn close_with_unread_data_resets_and_data_after_close_resets() {
    let mut r = Raw::new(TcpConfig::default());
    r.handshake(TcpOptions::default());
    let h = r.handle.unwrap();
    let d = r.data(b"unread");
    r.input(&d);
    let _ = r.output();
    let now = r.now;
    r.tcp.close(now, h).unwrap();
    let out = r.output();
    assert!(
        out.iter().any(|s| s.flags.rst()),
        "RFC 2525: unread data → RST"
    );
    assert_eq!(r.tcp.connection_count(), 0);

    let mut r = Raw::new(TcpConfig::default());
    r.handshake(TcpOptions::default());
    let h = r.handle.unwrap();
    let now = r.now;
    r.tcp.close(now, h).unwrap();
    let out = r.output();
    assert!(out[0].flags.fin());
    let d = seg(TcpFlags::ACK, r.peer_seq, r.our_seq, b"late data");
    r.input(&d);
    let out = r.output();
    assert!(out.iter().any(|s| s.flags.rst()));
    assert_eq!(r.tcp.stats().data_after_close, 1);
    assert_eq!(r.tcp.connection_count(), 0);
}

#[test]
// covers: MUST-54, MUST-56, MUST-47, SHLD-25, SHLD-26
fn soft_icmp_error_reported_at_timeout_and_port_unreachable_refuses() {
    let mut cfg = TcpConfig::default();
    cfg.syn_retries = 2;
    let mut tcp = Tcp::new(cfg, 1);
    let local = SocketAddrV4::new(US, 40000);
    let remote = SocketAddrV4::new(PEER, 80);
    let mut now = Instant::from_secs(1);
    let h = tcp.connect(now, local, remote).unwrap();
    assert!(tcp.poll_transmit(now, Seg::from_repr).is_some());
    tcp.handle_icmp_error(now, local, remote, IcmpError::HostUnreachable);
    assert_eq!(tcp.state(h), State::SynSent, "soft error: keep trying");
    assert_eq!(tcp.soft_error(h), Some(TcpError::HostUnreachable));
    for _ in 0..10 {
        if let Some(t) = tcp.poll_timeout() {
            now = t;
            tcp.handle_timeout(now);
            while tcp.poll_transmit(now, Seg::from_repr).is_some() {}
        }
    }
    assert_eq!(tcp.error(h), Some(TcpError::HostUnreachable));

    let h2 = tcp
        .connect(now, SocketAddrV4::new(US, 40001), remote)
        .unwrap();
    tcp.handle_icmp_error(
        now,
        SocketAddrV4::new(US, 40001),
        remote,
        IcmpError::PortUnreachable,
    );
    assert_eq!(tcp.error(h2), Some(TcpError::Refused));
}

#[test]
// covers: MUST-21
fn user_timeout_aborts_before_retries_run_out() {
    let mut cfg = TcpConfig::default();
    cfg.user_timeout = Some(Duration::from_secs(3));
    let mut r = Raw::new(cfg);
    r.handshake(TcpOptions::default());
    let h = r.handle.unwrap();
    r.tcp.send(h, b"hello").unwrap();
    let t0 = r.now;
    let _ = r.output();
    for _ in 0..50 {
        r.advance(Duration::from_millis(100));
        let _ = r.output();
    }
    assert_eq!(r.tcp.error(h), Some(TcpError::TimedOut));
    let (t, _) = (r.now, ());
    assert!(t - t0 >= Duration::from_secs(3));
}

#[test]
// covers: SHLD-7, MUST-17, MAY-16
fn nagle_coalesces_small_writes() {
    let mut r = Raw::new(TcpConfig::default());
    r.handshake(TcpOptions::default());
    let h = r.handle.unwrap();
    r.tcp.send(h, b"a").unwrap();
    assert_eq!(r.output().len(), 1);
    for _ in 0..10 {
        r.tcp.send(h, b"b").unwrap();
    }
    assert!(
        r.output().is_empty(),
        "Nagle holds small data while unacked"
    );
    let ack = seg(TcpFlags::ACK, r.peer_seq, r.our_seq + 1, &[]);
    r.input(&ack);
    let out = r.output();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].payload, b"bbbbbbbbbb");
    // With nodelay every write goes at once.
    r.tcp.set_nodelay(h, true).unwrap();
    r.tcp.send(h, b"c").unwrap();
    r.tcp.send(h, b"d").unwrap();
    assert_eq!(r.output().len(), 1, "the first small write leaves");
    r.tcp.send(h, b"e").unwrap();
    assert_eq!(r.output().len(), 1);
}

fn lens(out: &[Seg]) -> Vec<usize> {
    out.iter().map(|s| s.payload.len()).collect()
}

#[test]
// covers: SHLD-7
fn minshall_nagle_holds_a_small_segment_only_behind_another_small_one() {
    // Nagle as Linux does it (draft-minshall-nagle): the tail of a write
    // leaves with the full segments before it; only a small segment still
    // unacknowledged holds the next small one.
    let mut r = Raw::new(TcpConfig::default());
    r.handshake(TcpOptions::default());
    let h = r.handle.unwrap();
    r.tcp.send(h, &[1u8; 2000]).unwrap();
    assert_eq!(
        lens(&r.output()),
        [536, 536, 536, 392],
        "the tail is not held"
    );
    r.tcp.send(h, &[2u8; 100]).unwrap();
    assert!(
        r.output().is_empty(),
        "the 392-byte segment is unacknowledged"
    );
    // ACK of the full segments only: the small one is still out.
    let ack = seg(TcpFlags::ACK, r.peer_seq, r.our_seq + 1608, &[]);
    r.input(&ack);
    assert!(r.output().is_empty());
    let ack = seg(TcpFlags::ACK, r.peer_seq, r.our_seq + 2000, &[]);
    r.input(&ack);
    assert_eq!(lens(&r.output()), [100]);
    // Full segments are never held; the new tail waits behind the 100.
    r.tcp.send(h, &[3u8; 600]).unwrap();
    assert_eq!(lens(&r.output()), [536]);
    let ack = seg(TcpFlags::ACK, r.peer_seq, r.our_seq + 2100, &[]);
    r.input(&ack);
    assert_eq!(lens(&r.output()), [64]);
}

#[test]
// covers: MUST-60
fn cork_and_more_data_follows_coalesce_a_header_and_its_body() {
    let mut r = Raw::new(TcpConfig::default());
    r.handshake(TcpOptions::default());
    let h = r.handle.unwrap();
    // "More data follows": a header alone does not leave ...
    r.tcp.send_more(h, &[b'h'; 100]).unwrap();
    assert!(r.output().is_empty(), "held for the body");
    // ... and leaves with its body, in full segments.
    r.tcp.send(h, &[b'b'; 1000]).unwrap();
    let out = r.output();
    assert_eq!(lens(&out), [536, 536, 28]);
    let ack = seg(TcpFlags::ACK, r.peer_seq, r.our_seq + 1100, &[]);
    r.input(&ack);
    assert!(r.output().is_empty());

    // TCP_CORK: only full segments while corked, the rest on uncork.
    r.tcp.set_cork(h, true).unwrap();
    assert!(r.tcp.cork(h).unwrap());
    r.tcp.send(h, &[4u8; 300]).unwrap();
    r.tcp.send(h, &[5u8; 300]).unwrap();
    assert_eq!(lens(&r.output()), [536], "the 64-byte rest waits");
    r.tcp.set_cork(h, false).unwrap();
    assert_eq!(lens(&r.output()), [64]);
    let ack = seg(TcpFlags::ACK, r.peer_seq, r.our_seq + 1700, &[]);
    r.input(&ack);

    // Nothing is held indefinitely: the cork ceiling (one RTO).
    r.tcp.set_cork(h, true).unwrap();
    r.tcp.send(h, b"tail").unwrap();
    r.advance(Duration::from_millis(100));
    assert!(r.output().is_empty(), "corked");
    r.advance(Duration::from_secs(2));
    assert_eq!(lens(&r.output()), [4], "sent at the cork ceiling");
    let ack = seg(TcpFlags::ACK, r.peer_seq, r.our_seq + 1704, &[]);
    r.input(&ack);

    // A close sends the corked rest with the FIN.
    r.tcp.send(h, b"bye").unwrap();
    assert!(r.output().is_empty(), "still corked");
    r.tcp.close(r.now, h).unwrap();
    let out = r.output();
    assert_eq!(lens(&out), [3]);
    assert!(out[0].flags.fin());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]
    /// Arbitrary segments against a listener and an established connection:
    /// never a panic, and the engine keeps working.
    #[test]
    fn arbitrary_segments_never_panic(
        segs in proptest::collection::vec(
            (any::<u16>(), any::<u32>(), any::<u32>(), any::<u16>(), any::<u16>(),
             proptest::option::of(any::<u16>()), proptest::option::of(any::<u8>()), any::<bool>(),
             proptest::option::of((any::<u32>(), any::<u32>())),
             proptest::collection::vec(any::<u8>(), 0..64), 0u8..3),
            1..40)
    ) {
        let mut r = Raw::new(TcpConfig::default());
        r.handshake(full_opts());
        for (flags, seq, ack, window, urgent, mss, ws, sackp, ts, payload, port_sel) in segs {
            let mut s = seg(TcpFlags(flags & 0x1ff), seq, ack, &payload);
            s.window = window;
            s.dst_port = [80, 81, 80][port_sel as usize];
            s.src_port = if port_sel == 2 { 5555 } else { 6000 + (seq % 4) as u16 };
            s.options = TcpOptions { mss, window_scale: ws, sack_permitted: sackp,
                timestamps: ts.map(|(a, b)| Timestamps { tsval: a, tsecr: b }), ..TcpOptions::default() };
            let mut rep = s.repr();
            rep.urgent = urgent;
            let now = r.now;
            r.tcp.handle_segment(now, PEER, US, &rep);
            let _ = r.output();
            r.advance(Duration::from_millis(300));
            let _ = r.output();
            while r.tcp.poll_event().is_some() {}
        }
        r.advance(Duration::from_secs(600));
        let _ = r.output();
    }
}
