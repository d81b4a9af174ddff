//! Regression tests for the findings of the RFC review of `transport/tcp`
//! (issue 13): one `Tcp` engine against a scripted peer that crafts every
//! segment, as a hostile or simply non-strata stack would.
#![allow(clippy::field_reassign_with_default)]

mod tcp_pipe;
mod tcp_scripted;

use std::net::SocketAddrV4;
use strata::time::{Duration, Instant};
use strata::transport::tcp::{IcmpError, ListenerHandle, State, Tcp, TcpConfig, TcpHandle};
use strata::wire::tcp::{SackBlock, TcpFlags, TcpOptions, Timestamps};
use tcp_pipe::Seg;
use tcp_scripted::{seg, Scripted, PEER, US};

/// Our engine listening on port 80; the test plays the peer.
struct Peer {
    tcp: Tcp,
    now: Instant,
    /// The peer's next sequence number.
    seq: u32,
    /// The peer's RCV.NXT (what it acknowledges).
    rcv_nxt: u32,
    handle: Option<TcpHandle>,
    /// The listener on port 80.
    lh: ListenerHandle,
    /// Timestamps in use (peer offered them).
    ts: bool,
    tsval: u32,
    /// Last TSval the engine sent (echoed in TSecr).
    ts_recent: u32,
}

/// The byte at stream offset `i` of the test pattern.
fn pat(i: u64) -> u8 {
    (i % 251) as u8
}

fn pattern(from: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| pat(from + i)).collect()
}

impl Scripted for Peer {
    fn engine(&mut self) -> (&mut Tcp, &mut Instant) {
        (&mut self.tcp, &mut self.now)
    }
}

impl Peer {
    fn new(cfg: TcpConfig) -> Self {
        let (tcp, lh) = tcp_scripted::listening(cfg);
        Peer {
            lh,
            tcp,
            now: tcp_scripted::START,
            seq: 1000,
            rcv_nxt: 0,
            handle: None,
            ts: false,
            tsval: 500,
            ts_recent: 0,
        }
    }

    fn h(&self) -> TcpHandle {
        self.handle.unwrap()
    }

    /// What the engine sends now; the last TSval seen is echoed after.
    fn output(&mut self) -> Vec<Seg> {
        let v = Scripted::output(self);
        if let Some(ts) = v.iter().rev().find_map(|s| s.options.timestamps) {
            self.ts_recent = ts.tsval;
        }
        v
    }

    /// A segment from the peer with its current SEQ/ACK (and timestamps).
    fn mk(&mut self, flags: TcpFlags, payload: &[u8]) -> Seg {
        let mut s = seg(flags, self.seq, self.rcv_nxt, payload);
        if self.ts {
            self.tsval += 1;
            s.options.timestamps = Some(Timestamps {
                tsval: self.tsval,
                tsecr: self.ts_recent,
            });
        }
        s
    }

    fn ack(&mut self, ack: u32) -> Seg {
        self.rcv_nxt = ack;
        self.mk(TcpFlags::ACK, &[])
    }

    /// A fresh engine with `cfg` and one connection established by a
    /// handshake in which the peer offers `opts`: the peer and our handle.
    fn connected(cfg: TcpConfig, opts: TcpOptions) -> (Self, TcpHandle) {
        let mut p = Peer::new(cfg);
        p.handshake(opts);
        let h = p.h();
        (p, h)
    }

    /// Our SND.UNA on the connection.
    fn snd_una(&self) -> u32 {
        self.tcp.info(self.h()).unwrap().snd_una
    }

    /// An ACK of `ack` that SACKs the one block `left..right`.
    fn sack(&mut self, ack: u32, left: u32, right: u32) -> Seg {
        let mut a = self.ack(ack);
        a.options.sack_blocks[0] = SackBlock { left, right };
        a.options.sack_len = 1;
        a
    }

    /// Handshake as the client offering `opts`; returns the SYN-ACK.
    fn handshake(&mut self, opts: TcpOptions) -> Seg {
        let mut syn = seg(TcpFlags::SYN, self.seq, 0, &[]);
        syn.options = opts;
        self.ts = opts.timestamps.is_some();
        if let Some(t) = opts.timestamps {
            self.tsval = t.tsval;
        }
        self.input(&syn);
        let out = self.output();
        assert_eq!(out.len(), 1);
        let synack = out[0].clone();
        assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
        self.ack_syn_ack(&synack);
        synack
    }

    /// The handshake's last step: the peer's SYN counted, it ACKs
    /// `synack` (our SYN-ACK); returns the connection accepted.
    fn ack_syn_ack(&mut self, synack: &Seg) -> TcpHandle {
        self.seq = self.seq.wrapping_add(1);
        let a = self.ack(synack.seq.wrapping_add(1));
        self.input(&a);
        let l = self.listener();
        let h = self.tcp.accept(l).unwrap();
        self.handle = Some(h);
        h
    }
}

fn opts(mss: u16, sack: bool) -> TcpOptions {
    TcpOptions {
        mss: Some(mss),
        sack_permitted: sack,
        ..TcpOptions::default()
    }
}

/// MSS 1000, no SACK, and timestamps (the peer's first TSval 500).
fn opts_with_timestamps() -> TcpOptions {
    TcpOptions {
        timestamps: Some(Timestamps {
            tsval: 500,
            tsecr: 0,
        }),
        ..opts(1000, false)
    }
}

/// The RST among `out`.
fn rst_in(out: &[Seg]) -> &Seg {
    out.iter().find(|s| s.flags.rst()).expect("RST")
}

/// A receiver that holds data in order only: accepts a segment starting
/// at its RCV.NXT, drops everything else, and ACKs every segment with no
/// SACK blocks. Returns the stream offset it has received up to.
fn in_order_receiver(p: &mut Peer, base: u32, out: &[Seg], upto: &mut u64) {
    for s in out.iter().filter(|s| !s.payload.is_empty()) {
        let off = u64::from(s.seq.wrapping_sub(base));
        let end = off + s.payload.len() as u64;
        if off <= *upto && *upto < end {
            assert_eq!(s.payload, pattern(off, s.payload.len()));
            *upto = end;
        }
        let a = p.ack(base.wrapping_add(*upto as u32));
        p.input(&a);
    }
}

/// Checks every data segment against the pattern stream that starts at
/// sequence number `base` (stream offset 0), then returns them.
fn check_stream(base: u32, out: &[Seg]) {
    for s in out.iter().filter(|s| !s.payload.is_empty()) {
        let off = u64::from(s.seq.wrapping_sub(base));
        let want = pattern(off, s.payload.len());
        assert!(
            s.payload == want,
            "segment seq={} (stream offset {off}) carries the wrong bytes: {:?}... instead of {:?}...",
            s.seq,
            &s.payload[..8.min(s.payload.len())],
            &want[..8.min(want.len())]
        );
    }
}

/// Finding (a): SND.UNA coming back round to ISS after 2^32 - 1 bytes must
/// not be taken for "our SYN is not yet acknowledged".
#[test]
fn ack_landing_on_iss_after_wrap_keeps_the_stream_aligned() {
    let mut p = Peer::new(TcpConfig::default());
    p.tcp.force_next_isn(0x1234_5678);
    let synack = p.handshake(opts(1000, false));
    let iss = synack.seq;
    let h = p.h();
    // Pretend 2^32 - 101 bytes went by: SND.UNA = ISS - 100.
    p.tcp.skip_acked_bytes(h, (1u64 << 32) - 101).unwrap();
    let base = iss.wrapping_sub(100);
    assert_eq!(p.snd_una(), base);
    let total = 30_000usize;
    let data = pattern(0, total);
    assert_eq!(p.tcp.send(h, &data).unwrap(), total);
    let out = p.output();
    assert!(!out.is_empty());
    check_stream(base, &out);
    let mut sent_hi = sent_end(base, &out, 0);
    // The first ACK lands exactly on ISS, the next ones one MSS further
    // each (within what was sent).
    let mut off = 100u64;
    let mut rounds = 0;
    loop {
        let a = p.ack(base.wrapping_add(off as u32));
        p.input(&a);
        let out = p.output();
        check_stream(base, &out);
        sent_hi = sent_end(base, &out, sent_hi);
        if off == total as u64 {
            break;
        }
        off = (off + 1000).min(sent_hi);
        rounds += 1;
        assert!(rounds < 200, "transfer does not finish");
    }
    assert_eq!(p.tcp.send_queue(h).unwrap(), 0);
    assert_eq!(p.snd_una(), base.wrapping_add(total as u32));
}

/// Highest stream offset sent so far, given this batch of segments.
fn sent_end(base: u32, out: &[Seg], hi: u64) -> u64 {
    out.iter()
        .map(|s| u64::from(s.seq.wrapping_sub(base)) + s.payload.len() as u64)
        .fold(hi, u64::max)
}

/// Finding (b): a receiver that SACKs data and then discards it (RFC 2018
/// §8 reneging). After the retransmission timeout the segment at the left
/// window edge must be resent whether SACKed or not, and while data is
/// outstanding a timer must stay armed: the transfer completes.
// covers: MUST-19
#[test]
fn reneged_sack_data_is_resent_after_rto() {
    let (mut p, h) = Peer::connected(TcpConfig::default(), opts(1000, true));
    let base = p.snd_una();
    let total = 5000usize;
    p.tcp.send(h, &pattern(0, total)).unwrap();
    let out = p.output();
    assert_eq!(out.len(), 5);
    // The first segment is lost; the peer SACKs the other four ...
    let a = p.sack(base, base.wrapping_add(1000), base.wrapping_add(5000));
    p.input(&a);
    let _ = p.output();
    assert_eq!(p.tcp.info(h).unwrap().sacked_bytes, 4000);
    // ... then reneges: it keeps in-order data only from now on.
    let mut upto = 0u64;
    for _ in 0..600 {
        if p.snd_una() == base.wrapping_add(total as u32) {
            break;
        }
        assert!(
            p.tcp.poll_timeout().is_some(),
            "data outstanding but no timer armed"
        );
        p.advance(Duration::from_millis(500));
        let out = p.output();
        in_order_receiver(&mut p, base, &out, &mut upto);
        let out = p.output();
        in_order_receiver(&mut p, base, &out, &mut upto);
    }
    assert_eq!(upto, total as u64, "the reneged data was never resent");
    assert_eq!(p.tcp.send_queue(h).unwrap(), 0);
    assert_eq!(p.tcp.state(h), State::Established);
}

/// Finding (b), second half: the scoreboard is pruned below SND.UNA by
/// every ACK, not only by ACKs that carry SACK blocks, so old ranges cannot
/// survive into the next trip round the sequence space.
#[test]
fn scoreboard_is_pruned_by_acks_without_sack_blocks() {
    let (mut p, h) = Peer::connected(TcpConfig::default(), opts(1000, true));
    let base = p.snd_una();
    p.tcp.send(h, &pattern(0, 3000)).unwrap();
    assert_eq!(p.output().len(), 3);
    let a = p.sack(base, base.wrapping_add(1000), base.wrapping_add(3000));
    p.input(&a);
    assert_eq!(p.tcp.info(h).unwrap().sacked_bytes, 2000);
    // The hole is filled; the cumulative ACK covers everything and, the
    // receiver holding nothing out of order, carries no SACK block.
    let a = p.ack(base.wrapping_add(3000));
    p.input(&a);
    assert_eq!(p.snd_una(), base.wrapping_add(3000));
    assert_eq!(p.tcp.info(h).unwrap().sacked_bytes, 0);
}

/// Finding (c): the challenge-ACK budget is per connection (RFC 5961 §7).
/// With one engine-wide budget, an off-path attacker learns from the
/// challenge ACKs on its own connection whether spoofed segments hit
/// another one (CVE-2016-5696).
#[test]
fn challenge_ack_budget_is_per_connection() {
    let mut cfg = TcpConfig::default();
    cfg.challenge_ack_limit = 3;
    let (mut p, victim) = Peer::connected(cfg, opts(1000, false));
    // Spoofed in-window RSTs hit the victim: its budget runs out.
    let mut victim_acks = 0;
    for i in 1..=5u32 {
        let rst = seg(TcpFlags::RST, p.seq.wrapping_add(i * 10), 0, &[]);
        p.input(&rst);
        victim_acks += p.output().len();
    }
    assert_eq!(victim_acks, 3);
    assert_eq!(p.tcp.state(victim), State::Established);
    // The attacker's own connection, in the same second.
    let mut a = Peer::new(TcpConfig::default());
    std::mem::swap(&mut a.tcp, &mut p.tcp);
    a.now = p.now;
    a.seq = 77_000;
    let mut syn = seg(TcpFlags::SYN, a.seq, 0, &[]);
    syn.src_port = 6666;
    a.input(&syn);
    let synack = a.output().pop().unwrap();
    a.seq += 1;
    let mut ack = seg(TcpFlags::ACK, a.seq, synack.seq.wrapping_add(1), &[]);
    ack.src_port = 6666;
    a.input(&ack);
    let mut own = 0;
    for i in 1..=3u32 {
        let mut rst = seg(TcpFlags::RST, a.seq.wrapping_add(i * 10), 0, &[]);
        rst.src_port = 6666;
        a.input(&rst);
        own += a.output().len();
    }
    assert_eq!(
        own, 3,
        "the attacker's budget must not depend on the victim's"
    );
}

/// Finding (c), second part: the other ACK replies are rate-limited too,
/// so two out-of-sync peers cannot ping-pong ACKs (RFC 5961 §7 spirit,
/// Linux tcp_invalid_ratelimit).
#[test]
fn acks_for_unsent_data_and_paws_rejects_are_rate_limited() {
    let mut p = Peer::new(TcpConfig::default());
    p.handshake(opts(1000, false));
    let una = p.snd_una();
    let mut replies = 0;
    for _ in 0..10 {
        let bad = seg(TcpFlags::ACK, p.seq, una.wrapping_add(5000), &[]);
        p.input(&bad);
        replies += p.output().len();
    }
    assert_eq!(
        replies, 1,
        "ACKs beyond SND.MAX answered at most once per interval"
    );

    let mut p = Peer::new(TcpConfig::default());
    p.handshake(opts_with_timestamps());
    let mut replies = 0;
    for _ in 0..10 {
        let mut old = p.mk(TcpFlags::ACK, b"x");
        old.options.timestamps = Some(Timestamps {
            tsval: 10,
            tsecr: 0,
        });
        p.input(&old);
        replies += p.output().len();
    }
    assert_eq!(p.tcp.stats().paws_rejected, 10);
    assert_eq!(
        replies, 1,
        "PAWS rejects answered at most once per interval"
    );
}

/// Finding (d): NewReno's `recover` follows the cumulative ACK, so after
/// 2^31 loss-free bytes three duplicate ACKs still start fast retransmit
/// (RFC 6582 §3.2).
// covers: MUST-19
#[test]
fn fast_retransmit_still_works_after_two_gib_without_loss() {
    let (mut p, h) = Peer::connected(TcpConfig::default(), opts(1000, false));
    p.tcp.skip_acked_bytes(h, (1u64 << 31) + 12_345).unwrap();
    let base = p.snd_una();
    p.tcp.send(h, &pattern(0, 8000)).unwrap();
    let out = p.output();
    assert_eq!(out.len(), 8);
    // The first segment is lost; the other seven each draw a dup ACK.
    for _ in 0..3 {
        let a = p.ack(base);
        p.input(&a);
    }
    let out = p.output();
    assert_eq!(p.tcp.stats().fast_retransmits, 1);
    assert!(out.iter().any(|s| s.seq == base && s.payload.len() == 1000));
}

/// Finding (e): Karn's rule (MUST-18) for a SYN-ACK resent because the
/// peer's SYN came again: the ACK that follows may answer either copy,
/// so it gives no RTT sample.
// covers: MUST-18
#[test]
fn resent_syn_ack_gives_no_rtt_sample() {
    let mut p = Peer::new(TcpConfig::default());
    let syn = seg(TcpFlags::SYN, p.seq, 0, &[]);
    p.input(&syn);
    let first = p.output();
    assert_eq!(first.len(), 1);
    // Our SYN-ACK is "lost"; the peer resends its SYN 900 ms later.
    p.advance(Duration::from_millis(900));
    p.input(&syn);
    let second = p.output();
    assert_eq!(second.len(), 1, "the SYN-ACK is resent at once");
    // The real RTT is 50 ms.
    p.advance(Duration::from_millis(50));
    let h = p.ack_syn_ack(&second[0]);
    let info = p.tcp.info(h).unwrap();
    assert_eq!(info.srtt, None, "no sample from an ambiguous SYN-ACK");
}

/// Finding (f): a RST sent after a timeout rewound SND.NXT carries the
/// highest sequence number sent, the one a peer holding everything expects.
#[test]
fn abort_after_timeout_sends_rst_at_snd_max() {
    let (mut p, h) = Peer::connected(TcpConfig::default(), opts(1000, false));
    let base = p.snd_una();
    p.tcp.send(h, &pattern(0, 5000)).unwrap();
    assert_eq!(p.output().len(), 5);
    // All five arrived but the ACKs are lost: the timer fires.
    p.advance(Duration::from_millis(1100));
    let out = p.output();
    assert_eq!(out.len(), 1, "one segment retransmitted");
    let now = p.now;
    p.tcp.abort(now, h).unwrap();
    let out = p.output();
    let rst = rst_in(&out);
    assert_eq!(rst.seq, base.wrapping_add(5000));
}

/// Finding (f), the "data after close" RST.
#[test]
fn data_after_close_rst_uses_snd_max() {
    let (mut p, h) = Peer::connected(TcpConfig::default(), opts(1000, false));
    let base = p.snd_una();
    p.tcp.send(h, &pattern(0, 3000)).unwrap();
    let now = p.now;
    p.tcp.close(now, h).unwrap();
    let out = p.output();
    assert!(out.last().unwrap().flags.fin());
    p.advance(Duration::from_millis(1100));
    let _ = p.output();
    let d = p.mk(TcpFlags::ACK, b"late");
    p.input(&d);
    let out = p.output();
    let rst = rst_in(&out);
    assert_eq!(rst.seq, base.wrapping_add(3001), "3000 bytes and the FIN");
}

/// Finding (g): after a lost SYN the initial window is one segment (RFC
/// 5681 §3.1) and, with no RTT sample, the RTO is 3 s (RFC 6298 §5.7).
// covers: MUST-18, MUST-19
#[test]
fn lost_syn_means_one_segment_initial_window_and_three_second_rto() {
    let mut tcp = Tcp::new(TcpConfig::default(), 7);
    let local = SocketAddrV4::new(US, 40000);
    let remote = SocketAddrV4::new(PEER, 80);
    let mut now = Instant::from_secs(1);
    let h = tcp.connect(now, local, remote).unwrap();
    let syn1 = tcp.poll_transmit(now, Seg::from_repr).unwrap();
    now = tcp.poll_timeout().unwrap();
    tcp.handle_timeout(now);
    let syn2 = tcp.poll_transmit(now, Seg::from_repr).unwrap();
    assert_eq!(syn1.seq, syn2.seq);
    assert!(syn2.flags.syn());
    now += Duration::from_millis(30);
    let mut sa = Seg {
        src: PEER,
        dst: US,
        src_port: 80,
        dst_port: 40000,
        seq: 9000,
        ack: syn1.seq.wrapping_add(1),
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 65535,
        options: opts(1000, false),
        payload: vec![],
    };
    sa.options.mss = Some(1000);
    tcp.handle_segment(now, PEER, US, &sa.repr());
    assert_eq!(tcp.state(h), State::Established);
    let info = tcp.info(h).unwrap();
    assert_eq!(info.cwnd, info.mss, "one segment after a lost SYN");
    assert_eq!(info.rto, Duration::from_secs(3));
    tcp.send(h, &pattern(0, 5000)).unwrap();
    let mut data = 0;
    while let Some(s) = tcp.poll_transmit(now, Seg::from_repr) {
        if !s.payload.is_empty() {
            data += 1;
        }
    }
    assert_eq!(data, 1);
}

/// Finding (g) on the passive side: a SYN-ACK resent after its timer
/// fired leaves the initial window at one segment and the RTO at 3 s.
// covers: MUST-18, MUST-19
#[test]
fn lost_syn_ack_means_one_segment_initial_window_and_three_second_rto() {
    let mut p = Peer::new(TcpConfig::default());
    let mut syn = seg(TcpFlags::SYN, p.seq, 0, &[]);
    syn.options = opts(1000, false);
    p.input(&syn);
    assert_eq!(p.output().len(), 1);
    p.advance(Duration::from_millis(1001));
    let again = p.output();
    assert_eq!(again.len(), 1, "SYN-ACK resent by its timer");
    p.advance(Duration::from_millis(20));
    let h = p.ack_syn_ack(&again[0]);
    let info = p.tcp.info(h).unwrap();
    assert_eq!(info.cwnd, info.mss);
    assert_eq!(info.rto, Duration::from_secs(3));
}

/// A second connection from the peer's `port` (the scripted peer's own
/// handshake); returns our handle and the peer's next sequence number and
/// our SND.UNA.
fn second_conn(p: &mut Peer, port: u16) -> (TcpHandle, u32, u32) {
    let mut syn = seg(TcpFlags::SYN, 50_000, 0, &[]);
    syn.src_port = port;
    syn.options = opts(1000, false);
    p.input(&syn);
    let synack = p.output().pop().unwrap();
    let our = synack.seq.wrapping_add(1);
    let mut ack = seg(TcpFlags::ACK, 50_001, our, &[]);
    ack.src_port = port;
    p.input(&ack);
    let l = p.listener();
    (p.tcp.accept(l).unwrap(), 50_001, our)
}

/// SHOULD gap: an orphan (closed by the application) whose peer holds a
/// zero window and answers every probe is given up after a bounded number
/// of probes (as Linux `tcp_orphan_retries`), not kept forever.
#[test]
fn orphan_facing_a_zero_window_forever_is_given_up() {
    let (mut p, h) = Peer::connected(TcpConfig::default(), opts(1000, false));
    let base = p.snd_una();
    p.tcp.send(h, &pattern(0, 3000)).unwrap();
    assert_eq!(p.output().len(), 3);
    let mut a = p.ack(base.wrapping_add(3000));
    a.window = 0;
    p.input(&a);
    p.tcp.send(h, &pattern(3000, 2000)).unwrap();
    let now = p.now;
    p.tcp.close(now, h).unwrap();
    assert_eq!(p.tcp.orphan_count(), 1);
    let mut probes = 0;
    for _ in 0..720 {
        if p.tcp.connection_count() == 0 {
            break;
        }
        p.advance(Duration::from_secs(10));
        for _ in p.output() {
            probes += 1;
            // The peer is alive: every probe is answered, window still 0.
            let mut a = p.ack(base.wrapping_add(3000));
            a.window = 0;
            p.input(&a);
        }
    }
    assert_eq!(
        p.tcp.connection_count(),
        0,
        "orphan kept after {probes} answered probes"
    );
    assert_eq!(p.tcp.orphan_count(), 0);
}

/// SHOULD gap: orphans are counted and capped; past the cap a close resets
/// the connection instead of leaving another orphan behind.
#[test]
fn orphans_are_counted_and_capped() {
    let mut cfg = TcpConfig::default();
    cfg.max_orphans = 1;
    let (mut p, h1) = Peer::connected(cfg, opts(1000, false));
    let (h2, _, _) = second_conn(&mut p, 6000);
    for h in [h1, h2] {
        p.tcp.send(h, &pattern(0, 2000)).unwrap();
    }
    let _ = p.output();
    let now = p.now;
    p.tcp.close(now, h1).unwrap();
    assert_eq!(p.tcp.orphan_count(), 1);
    assert!(p.output().iter().all(|s| !s.flags.rst()));
    p.tcp.close(now, h2).unwrap();
    let out = p.output();
    assert!(
        out.iter()
            .any(|s| s.flags.rst() && s.src_port == 80 && s.dst_port == 6000),
        "the orphan past the cap is reset"
    );
    assert_eq!(p.tcp.orphan_count(), 1);
    assert_eq!(p.tcp.connection_count(), 1);
}

/// SHOULD gap: a SYN for a TIME-WAIT connection whose port has no listener
/// must not destroy the TIME-WAIT (it is answered as any segment in
/// TIME-WAIT is; there is nothing to reuse it for).
#[test]
fn syn_to_time_wait_without_listener_keeps_it() {
    let (mut p, h) = Peer::connected(TcpConfig::default(), opts(1000, false));
    let now = p.now;
    p.tcp.close(now, h).unwrap();
    let fin = p.output().pop().unwrap();
    assert!(fin.flags.fin());
    let a = p.ack(fin.seq.wrapping_add(1));
    p.input(&a);
    let f = p.mk(TcpFlags::FIN | TcpFlags::ACK, &[]);
    p.input(&f);
    p.seq += 1;
    let _ = p.output();
    let tw = |p: &Peer| {
        p.tcp
            .connections()
            .filter(|(_, c)| c.state == State::TimeWait)
            .count()
    };
    assert_eq!(tw(&p), 1);
    // No more listener on port 80.
    let now = p.now;
    p.tcp.close_listener(now, p.lh).unwrap();
    let syn = seg(TcpFlags::SYN, p.seq.wrapping_add(100_000), 0, &[]);
    p.input(&syn);
    let out = p.output();
    assert_eq!(tw(&p), 1, "the TIME-WAIT survives");
    assert!(out.iter().all(|s| !s.flags.rst()), "{out:?}");
}

/// SHOULD gap: a bare FIN at RCV.NXT is accepted while the receive window
/// is zero (it takes no buffer space).
#[test]
fn bare_fin_accepted_with_zero_receive_window() {
    let mut cfg = TcpConfig::default();
    cfg.rx_buffer_limit = 2000;
    let (mut p, h) = Peer::connected(cfg, opts(1000, false));
    for i in 0..2 {
        let d = p.mk(TcpFlags::ACK, &pattern(i * 1000, 1000));
        p.input(&d);
        p.seq += 1000;
    }
    p.advance(Duration::from_millis(100));
    let out = p.output();
    assert_eq!(out.last().unwrap().window, 0, "window closed");
    assert_eq!(p.tcp.recv_queue(h).unwrap(), 2000);
    let f = p.mk(TcpFlags::FIN | TcpFlags::ACK, &[]);
    p.input(&f);
    assert_eq!(p.tcp.state(h), State::CloseWait);
    let out = p.output();
    assert_eq!(out.last().unwrap().ack, p.seq.wrapping_add(1));
}

/// SHOULD gap: a SYN in a synchronized state whose sequence number lies
/// just below RCV.NXT (trimmed as old) is still a SYN: challenge ACK and
/// drop (RFC 5961 §4.2), its data is not taken.
#[test]
fn trimmed_in_window_syn_is_not_taken_as_data() {
    let (mut p, h) = Peer::connected(TcpConfig::default(), opts(1000, false));
    let s = seg(
        TcpFlags::SYN | TcpFlags::ACK,
        p.seq.wrapping_sub(1),
        p.rcv_nxt,
        b"evil",
    );
    p.input(&s);
    let out = p.output();
    assert_eq!(p.tcp.recv_queue(h).unwrap(), 0, "SYN data taken");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack, p.seq, "challenge ACK for the expected RCV.NXT");
    assert_eq!(p.tcp.stats().challenge_acks, 1);
    assert_eq!(p.tcp.state(h), State::Established);
}

/// SHOULD gap: the peer's 1-byte zero-window probes carry data, so they
/// are not duplicate ACKs (RFC 5681 §2) and start no fast retransmit.
#[test]
fn one_byte_zero_window_probes_are_not_duplicate_acks() {
    let mut cfg = TcpConfig::default();
    cfg.rx_buffer_limit = 1000;
    let (mut p, h) = Peer::connected(cfg, opts(1000, false));
    let d = p.mk(TcpFlags::ACK, &pattern(0, 1000));
    p.input(&d);
    p.seq += 1000;
    let _ = p.output();
    let base = p.snd_una();
    p.tcp.send(h, &pattern(0, 5000)).unwrap();
    let out = p.output();
    assert!(out.iter().filter(|s| !s.payload.is_empty()).count() >= 4);
    for _ in 0..4 {
        let mut probe = p.mk(TcpFlags::ACK, b"z");
        probe.ack = base;
        p.input(&probe);
        let _ = p.output();
    }
    assert_eq!(p.tcp.stats().fast_retransmits, 0);
}

/// SHOULD gap: "ACK at least every second full-sized segment" counts in
/// segments of the receive MSS (RFC 9293 §3.8.6.3, SHLD-19), not the send
/// MSS: one 1460-byte segment from a peer whose own MSS is 536 is one
/// segment, and its ACK is delayed.
#[test]
// covers: SHLD-18, SHLD-19
fn delayed_ack_counts_receive_mss_segments() {
    let mut p = Peer::new(TcpConfig::default());
    p.handshake(opts(536, false));
    let d = p.mk(TcpFlags::ACK, &pattern(0, 1460));
    p.input(&d);
    p.seq += 1460;
    assert!(p.output().is_empty(), "one full-sized segment: ACK delayed");
    let d = p.mk(TcpFlags::ACK, &pattern(1460, 1460));
    p.input(&d);
    p.seq += 1460;
    let out = p.output();
    assert_eq!(out.len(), 1, "second full-sized segment: ACK now");
    assert_eq!(out[0].ack, p.seq);
}

/// SHOULD gap: with timestamps negotiated, RSTs carry the option too
/// (RFC 7323 §3.2: "SHOULD be sent in an <RST> segment").
#[test]
fn rst_carries_timestamps_when_negotiated() {
    let (mut p, h) = Peer::connected(TcpConfig::default(), opts_with_timestamps());
    let now = p.now;
    p.tcp.abort(now, h).unwrap();
    let out = p.output();
    let rst = rst_in(&out);
    let ts = rst.options.timestamps.expect("timestamps on the RST");
    assert_eq!(ts.tsecr, p.tsval, "echoes TS.Recent");
}

/// SHOULD gap: restart after idle (RFC 5681 §4.1) looks at when data was
/// last sent; pure ACKs sent meanwhile do not count as sending. (With
/// window validation, RFC 7661, the default, the window is kept instead:
/// the restart window applies when it is turned off.)
#[test]
fn pure_acks_do_not_defer_restart_after_idle() {
    let (mut p, h) = Peer::connected(
        TcpConfig {
            cwnd_validation: false,
            ..TcpConfig::default()
        },
        opts(1000, false),
    );
    // Grow the window well beyond the initial 10 segments.
    let mut off = 0u64;
    for _ in 0..4 {
        p.tcp.send(h, &pattern(off, 20_000)).unwrap();
        off += 20_000;
        for _ in 0..20 {
            // One ACK per segment (slow start grows by one MSS per ACK).
            for s in p.output() {
                if !s.payload.is_empty() {
                    let end = s.seq.wrapping_add(s.payload.len() as u32);
                    let a = p.ack(end);
                    p.input(&a);
                }
            }
        }
    }
    assert!(p.tcp.info(h).unwrap().cwnd >= 30_000);
    assert_eq!(p.tcp.send_queue(h).unwrap(), 0);
    // Three idle seconds for our data; the peer talks, we only ACK.
    for _ in 0..15 {
        p.advance(Duration::from_millis(200));
        let d = p.mk(TcpFlags::ACK, b"ping");
        p.input(&d);
        p.seq += 4;
        p.advance(Duration::from_millis(50));
        assert!(p.output().iter().all(|s| s.payload.is_empty()));
    }
    p.tcp.send(h, &pattern(off, 40_000)).unwrap();
    let burst = p.output().iter().filter(|s| !s.payload.is_empty()).count();
    assert!(
        burst <= 10,
        "restart window is the initial window: {burst} segments"
    );
}

/// SHOULD gap: a lowered path MTU is tried again later (RFC 1191 §6.3,
/// after 10 minutes), and never lowered below a floor.
#[test]
fn path_mtu_is_raised_again_after_ten_minutes_and_has_a_floor() {
    let (mut p, h) = Peer::connected(TcpConfig::default(), opts(1460, false));
    let (local, remote) = (p.tcp.local_addr(h).unwrap(), p.tcp.remote_addr(h).unwrap());
    let now = p.now;
    p.tcp.handle_icmp_error(
        now,
        local,
        remote,
        IcmpError::FragmentationNeeded { mtu: 100 },
    );
    let mss = p.tcp.info(h).unwrap().mss;
    assert!(mss >= 512, "MSS forced down to {mss}");
    p.advance(Duration::from_secs(9 * 60));
    p.tcp.send(h, &pattern(0, 1460)).unwrap();
    let mut sizes = Vec::new();
    for _ in 0..5 {
        for s in p.output() {
            if !s.payload.is_empty() {
                sizes.push(s.payload.len());
                let a = p.ack(s.seq.wrapping_add(s.payload.len() as u32));
                p.input(&a);
            }
        }
    }
    assert_eq!(p.tcp.send_queue(h).unwrap(), 0);
    assert_eq!(sizes[0], mss, "still lowered after 9 minutes: {sizes:?}");
    p.advance(Duration::from_secs(61));
    p.tcp.send(h, &pattern(0, 1460)).unwrap();
    let out = p.output();
    assert_eq!(out.len(), 1, "after 10 minutes the full size again");
    assert_eq!(out[0].payload.len(), 1460);
}

/// SHOULD gap: an ICMP error is acted on only when the sequence number it
/// quotes is in flight (RFC 5927 §4.1): a blind "fragmentation needed"
/// cannot shrink the segments.
#[test]
fn icmp_error_quoting_a_sequence_number_not_in_flight_is_ignored() {
    let (mut p, h) = Peer::connected(TcpConfig::default(), opts(1460, false));
    let base = p.snd_una();
    p.tcp.send(h, &pattern(0, 3000)).unwrap();
    assert!(!p.output().is_empty());
    let (local, remote) = (p.tcp.local_addr(h).unwrap(), p.tcp.remote_addr(h).unwrap());
    let now = p.now;
    let frag = IcmpError::FragmentationNeeded { mtu: 576 };
    for blind in [
        base.wrapping_sub(1),
        base.wrapping_add(3000),
        base ^ 0x8000_0000,
    ] {
        p.tcp
            .handle_icmp_error_quoting(now, local, remote, blind, frag);
    }
    assert_eq!(p.tcp.info(h).unwrap().mss, 1460, "blind ICMP ignored");
    assert!(p.output().is_empty(), "nothing resent");
    assert_eq!(p.tcp.stats().icmp_out_of_window, 3);
    // Quoting a segment really in flight: acted on.
    p.tcp
        .handle_icmp_error_quoting(now, local, remote, base.wrapping_add(1460), frag);
    assert_eq!(p.tcp.info(h).unwrap().mss, 536);
    assert!(p.output().iter().all(|s| s.payload.len() <= 536));
}
