//! RACK, D-SACK and undo (issue #14), segment by segment against a
//! scripted peer:
//!
//! * the receiver reports duplicates in the first SACK block (RFC 2883);
//! * a segment overtaken by others is retransmitted at once while no
//!   reordering was seen (RACK's DupThresh rule, RFC 8985 §6.2), and the
//!   retransmission is undone when the original's ACK echoes an older
//!   timestamp (RFC 3522 Eifel, RFC 4015 response) or a D-SACK reports it
//!   (RFC 3708);
//! * once reordering was seen, an overtaken segment waits out the
//!   reordering window, and the RACK reorder timer (RFC 8985 §6.3)
//!   retransmits it only when it does not come;
//! * a spurious retransmission timeout is undone (RFC 3522, RFC 4015)
//!   without a go-back-N of what the peer holds, and without timestamps
//!   F-RTO (RFC 5682) tells a spurious timeout from a genuine one;
//! * a loss probe whose original a D-SACK shows arrived reduces nothing
//!   (RFC 8985 §7.4.2);
//! * PAWS (RFC 7323 §5.3) keeps a reordered duplicate ACK and an original
//!   overtaken by a retransmission one tick younger (as Linux).

mod tcp_pipe;
mod tcp_scripted;

use strata::time::Duration;
use strata::transport::tcp::{TcpConfig, TcpHandle};
use strata::wire::tcp::{SackBlock, TcpFlags, TcpOptions, Timestamps};
use tcp_pipe::Seg;
use tcp_scripted::{seg, Raw, Scripted};

const MSS: u32 = 1000;

/// The peer's side: handshake, data and ACKs with or without timestamps.
struct Peer {
    raw: Raw,
    ts: bool,
    /// The engine's latest TSval (what the peer echoes).
    ts_recent: u32,
}

impl Scripted for Peer {
    fn engine(&mut self) -> (&mut strata::transport::tcp::Tcp, &mut strata::time::Instant) {
        (&mut self.raw.tcp, &mut self.raw.now)
    }
}

impl Peer {
    fn new(ts: bool) -> Self {
        let cfg = TcpConfig {
            nodelay: true,
            ..TcpConfig::default()
        };
        let mut p = Peer {
            raw: Raw::new(cfg),
            ts,
            ts_recent: 0,
        };
        let mut syn = seg(TcpFlags::SYN, p.raw.peer_seq, 0, &[]);
        syn.options = TcpOptions {
            mss: Some(MSS as u16 + if ts { 12 } else { 0 }),
            sack_permitted: true,
            timestamps: ts.then_some(Timestamps {
                tsval: 500,
                tsecr: 0,
            }),
            ..TcpOptions::default()
        };
        p.input(&syn);
        let synack = p.output().remove(0);
        // A 20 ms round trip for the handshake's RTT sample.
        p.advance_ms(20);
        p.raw.peer_seq += 1;
        p.raw.our_seq = synack.seq.wrapping_add(1);
        if let Some(t) = synack.options.timestamps {
            p.ts_recent = t.tsval;
        }
        let ack = p.ack(p.raw.our_seq, &[]);
        p.input(&ack);
        let l = p.listener();
        p.raw.handle = Some(p.raw.tcp.accept(l).unwrap());
        p
    }

    fn h(&self) -> TcpHandle {
        self.raw.h()
    }

    /// A segment from the peer echoing `self.ts_recent`.
    fn with_ts(&mut self, mut s: Seg) -> Seg {
        if self.ts {
            self.raw.tsval += 1;
            s.options.timestamps = Some(Timestamps {
                tsval: self.raw.tsval,
                tsecr: self.ts_recent,
            });
        }
        s
    }

    /// An ACK of `ack` with SACK blocks `[left, right)`.
    fn ack(&mut self, ack: u32, blocks: &[(u32, u32)]) -> Seg {
        let mut s = seg(TcpFlags::ACK, self.raw.peer_seq, ack, &[]);
        for (i, &(left, right)) in blocks.iter().enumerate() {
            s.options.sack_blocks[i] = SackBlock { left, right };
        }
        s.options.sack_len = blocks.len() as u8;
        self.with_ts(s)
    }

    /// Data from the peer at `seq`.
    fn data(&mut self, seq: u32, payload: &[u8]) -> Seg {
        let s = seg(
            TcpFlags::ACK | TcpFlags::PSH,
            seq,
            self.raw.our_seq,
            payload,
        );
        self.with_ts(s)
    }

    /// Everything the engine sends now; remembers its TSval.
    fn out(&mut self) -> Vec<Seg> {
        let v = self.output();
        if let Some(t) = v.iter().rev().find_map(|s| s.options.timestamps) {
            self.ts_recent = t.tsval;
        }
        v
    }

    fn advance_ms(&mut self, ms: u64) {
        self.advance(Duration::from_millis(ms));
    }

    /// Data segment `k` (counting from the first data byte).
    fn seg_k(&self, k: u32) -> u32 {
        self.first_data().wrapping_add(k * MSS)
    }

    fn first_data(&self) -> u32 {
        self.raw.tcp.info(self.h()).unwrap().iss.wrapping_add(1)
    }
}

/// Sends 40 segments' worth, lets IW10 out, and acknowledges the first
/// two after 20 ms (the RTT sample); returns the segments sent.
fn start_transfer(p: &mut Peer) -> Vec<Seg> {
    let h = p.h();
    p.raw.tcp.send(h, &[7u8; 40 * MSS as usize]).unwrap();
    let first = p.out();
    assert_eq!(first.len(), 10, "IW10");
    p.advance_ms(20);
    let ack = p.ack(p.seg_k(2), &[]);
    p.input(&ack);
    let more = p.out();
    assert!(!more.is_empty());
    // A D-SACK-free, reorder-free start: no retransmission yet.
    assert_eq!(p.raw.tcp.stats().retransmits, 0);
    first.into_iter().chain(more).collect()
}

#[test]
fn the_receiver_reports_duplicates_first_in_the_sack_blocks() {
    let mut p = Peer::new(false);
    let base = p.raw.peer_seq;
    let d = p.data(base, &[1u8; 100]);
    p.input(&d);
    p.advance_ms(300);
    let out = p.out();
    assert_eq!(out.last().unwrap().ack, base + 100);
    // RFC 2883 §4: a duplicate below RCV.NXT is reported at once in the
    // first SACK block, each time (no 100 ms rate limit on data).
    for _ in 0..3 {
        p.input(&d);
        let out = p.out();
        assert_eq!(out.len(), 1, "an immediate ACK");
        assert_eq!(out[0].ack, base + 100);
        assert_eq!(
            out[0].options.sack(),
            &[SackBlock {
                left: base,
                right: base + 100
            }]
        );
    }
    // Out-of-order data received twice: the D-SACK block, then the block
    // holding it (RFC 2883 §4.2 example).
    let ooo = p.data(base + 200, &[2u8; 50]);
    p.input(&ooo);
    let out = p.out();
    assert_eq!(
        out[0].options.sack(),
        &[SackBlock {
            left: base + 200,
            right: base + 250
        }]
    );
    let ooo2 = p.data(base + 300, &[2u8; 50]);
    p.input(&ooo2);
    p.out();
    p.input(&ooo);
    let out = p.out();
    assert_eq!(
        out[0].options.sack(),
        &[
            SackBlock {
                left: base + 200,
                right: base + 250
            },
            SackBlock {
                left: base + 200,
                right: base + 250
            },
            SackBlock {
                left: base + 300,
                right: base + 350
            }
        ]
    );
    // A segment partly below RCV.NXT: the old part is the duplicate
    // (RFC 2883 §4.1.1). The D-SACK is reported once.
    let part = p.data(base + 50, &[1u8; 150]);
    p.input(&part);
    let out = p.out();
    assert_eq!(out[0].ack, base + 250);
    assert_eq!(
        out[0].options.sack()[0],
        SackBlock {
            left: base + 50,
            right: base + 100
        }
    );
    assert!(p.raw.tcp.stats().dsacks_sent >= 5);
}

/// The engine's segments 3..=6 arrive before segment 2 ("overtaken").
fn overtake_segment_two(p: &mut Peer) {
    let ack = p.ack(p.seg_k(2), &[(p.seg_k(3), p.seg_k(7))]);
    p.input(&ack);
}

#[test]
fn a_spurious_fast_retransmit_is_undone_by_its_timestamp_echo() {
    let mut p = Peer::new(true);
    let sent = start_transfer(&mut p);
    let original_ts = sent[2].options.timestamps.unwrap().tsval;
    p.advance_ms(1);
    let info0 = p.raw.tcp.info(p.h()).unwrap();
    overtake_segment_two(&mut p);
    // No reordering seen yet: RACK's DupThresh rule marks segment 2 lost
    // (RFC 8985 §6.2 step 4) and fast recovery resends it.
    let out = p.out();
    let rexmit = out
        .iter()
        .find(|s| s.seq == p.seg_k(2))
        .expect("segment 2 resent");
    assert!(rexmit.options.timestamps.unwrap().tsval > original_ts);
    let st = p.raw.tcp.stats().clone();
    assert_eq!((st.fast_retransmits, st.retransmits_rack), (1, 1));
    assert!(p.raw.tcp.info(p.h()).unwrap().ssthresh < info0.cwnd * 2);
    // The original arrives: the ACK echoes the original's timestamp
    // (RFC 7323: it filled the hole at RCV.NXT). RFC 3522: spurious.
    p.ts_recent = original_ts;
    let ack = p.ack(p.seg_k(7), &[]);
    p.input(&ack);
    let st = p.raw.tcp.stats().clone();
    let info = p.raw.tcp.info(p.h()).unwrap();
    println!(
        "undo: cwnd {} -> ssthresh {} after undo (cwnd before {}), {} undone",
        info.cwnd, info.ssthresh, info0.cwnd, st.spurious_undone
    );
    assert_eq!(st.spurious_undone, 1);
    assert_eq!(st.spurious_rto_undone, 0);
    // RFC 4015 §3.2: ssthresh back to what it was (the initial, huge
    // one here), cwnd at least the flight: slow start resumes.
    assert!(info.ssthresh >= info0.ssthresh.min(1 << 30), "{info:?}");
    assert!(info.cwnd >= info0.cwnd, "{} < {}", info.cwnd, info0.cwnd);
}

#[test]
fn a_spurious_fast_retransmit_is_undone_by_a_dsack() {
    let mut p = Peer::new(false);
    start_transfer(&mut p);
    p.advance_ms(1);
    overtake_segment_two(&mut p);
    let out = p.out();
    assert!(out.iter().any(|s| s.seq == p.seg_k(2)), "segment 2 resent");
    // The original arrives first (a plain cumulative ACK), then the
    // retransmission, reported as a duplicate (RFC 2883 §4.1.1).
    let ack = p.ack(p.seg_k(7), &[]);
    p.input(&ack);
    assert_eq!(p.raw.tcp.stats().spurious_undone, 0, "no timestamps");
    let dsack = p.ack(p.seg_k(7), &[(p.seg_k(2), p.seg_k(3))]);
    p.input(&dsack);
    let st = p.raw.tcp.stats().clone();
    assert_eq!(st.dsacks_received, 1);
    // RFC 3708: every retransmission of the episode was a duplicate.
    assert_eq!(st.spurious_undone, 1);
    assert_eq!(st.retransmits, 1);
}

/// The data segments of `v` (new data sent at one instant).
fn data_only(v: Vec<Seg>) -> Vec<Seg> {
    v.into_iter().filter(|s| !s.payload.is_empty()).collect()
}

fn end_of(s: &Seg) -> u32 {
    s.seq.wrapping_add(s.payload.len() as u32)
}

#[test]
fn after_reordering_an_overtaken_segment_waits_for_the_reordering_window() {
    let mut p = Peer::new(true);
    let sent = start_transfer(&mut p);
    p.advance_ms(1);
    overtake_segment_two(&mut p);
    p.out();
    p.ts_recent = sent[2].options.timestamps.unwrap().tsval;
    let ack = p.ack(p.seg_k(7), &[]);
    p.input(&ack);
    assert_eq!(p.raw.tcp.stats().spurious_undone, 1);
    // Reordering seen (the undo proved it). The burst sent now arrives
    // one RTT later with its first segment overtaken by the others: RACK
    // waits RACK.rtt + min_RTT/4 (RFC 8985 §6.2) instead of resending.
    let burst = data_only(p.out());
    assert!(burst.len() >= 4, "{} segments", burst.len());
    p.advance_ms(20);
    let ack = p.ack(
        burst[0].seq,
        &[(burst[1].seq, end_of(burst.last().unwrap()))],
    );
    p.input(&ack);
    let retransmits = p.raw.tcp.stats().retransmits;
    let burst2 = data_only(p.out());
    assert!(
        burst2.iter().all(|s| s.seq != burst[0].seq),
        "no retransmission within the reordering window"
    );
    // It arrives 2 ms later: nothing was resent.
    p.advance_ms(2);
    let ack = p.ack(end_of(burst.last().unwrap()), &[]);
    p.input(&ack);
    let burst3 = data_only(p.out());
    assert!(burst3.len() >= 2, "{} segments", burst3.len());
    assert_eq!(p.raw.tcp.stats().retransmits, retransmits);
    assert_eq!(p.raw.tcp.stats().fast_retransmits, 1);
    // The next burst's first segment is overtaken and never arrives: the
    // RACK reorder timer (RFC 8985 §6.3) resends it about min_RTT/4
    // later, well before a probe or the retransmission timer.
    p.advance_ms(20);
    let ack = p.ack(
        burst3[0].seq,
        &[(burst3[1].seq, end_of(burst3.last().unwrap()))],
    );
    p.input(&ack);
    assert!(data_only(p.out()).iter().all(|s| s.seq != burst3[0].seq));
    let rto = p.raw.tcp.info(p.h()).unwrap().rto;
    let mut resent_after = None;
    for ms in 1..=100u64 {
        p.advance_ms(1);
        if p.out().iter().any(|s| s.seq == burst3[0].seq) {
            resent_after = Some(ms);
            break;
        }
    }
    let after = resent_after.expect("the reorder timer resent the segment");
    println!("the lost segment resent {after} ms after its SACKs (RTO {rto:?}, min_RTT/4 5 ms)");
    assert!(Duration::from_millis(after) <= Duration::from_millis(6));
    let st = p.raw.tcp.stats().clone();
    assert_eq!(st.rto_expired, 0);
    assert_eq!(st.tlp_probes, 0);
    assert_eq!(st.fast_retransmits, 2);
}

#[test]
fn a_spurious_timeout_is_undone_without_go_back_n() {
    let mut p = Peer::new(true);
    // The ACKs are late: a tail loss probe (two RTTs) sends new data,
    // then the retransmission timer fires and resends segment 0.
    let sent = first_flight_then_timeout(&mut p);
    // The ACK of the original flight arrives, echoing the original
    // TSval: RFC 3522 says the timeout was spurious.
    p.ts_recent = sent[9].options.timestamps.unwrap().tsval;
    let ack = p.ack(p.seg_k(10), &[]);
    p.input(&ack);
    let st = p.raw.tcp.stats().clone();
    assert_eq!((st.spurious_undone, st.spurious_rto_undone), (1, 1));
    // RFC 4015 §3.2: SND.NXT = SND.MAX, new data follows, nothing of the
    // first flight is sent again; the window is not one segment.
    let out = p.out();
    assert!(out.len() >= 2, "{} segments", out.len());
    assert!(out
        .iter()
        .all(|s| s.seq.wrapping_sub(p.seg_k(10)) as i32 >= 0));
    assert_eq!(p.raw.tcp.stats().retransmits, 1);
}

/// Sends 40 segments' worth and lets the first flight (IW10, returned)
/// and a tail loss probe of new data out; then the retransmission timer
/// fires and resends segment 0 (RFC 6298 §5.4; without timestamps, RFC
/// 5682 §2.1 step 1).
fn first_flight_then_timeout(p: &mut Peer) -> Vec<Seg> {
    let h = p.h();
    p.raw.tcp.send(h, &[7u8; 40 * MSS as usize]).unwrap();
    let sent = p.out();
    assert_eq!(sent.len(), 10);
    p.advance_ms(50);
    let probe = p.out();
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].seq, p.seg_k(10));
    let rto = p.raw.tcp.info(h).unwrap().rto;
    p.advance(rto);
    let out = p.out();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].seq, p.seg_k(0));
    assert_eq!(p.raw.tcp.stats().rto_expired, 1);
    sent
}

#[test]
fn without_timestamps_f_rto_finds_a_spurious_timeout_and_undoes_it() {
    let mut p = Peer::new(false);
    first_flight_then_timeout(&mut p);
    // The ACKs of the original flight were only late. The first one
    // covers segments 0 and 1: F-RTO step 2 (RFC 5682 §2.1 (2.b)) sends
    // two new segments instead of resending segments 1 and 2.
    let ack = p.ack(p.seg_k(2), &[]);
    p.input(&ack);
    let out = data_only(p.out());
    let seqs: Vec<u32> = out.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, [p.seg_k(11), p.seg_k(12)], "two new segments");
    // Step 3: the next ACK covers segments never retransmitted (3.b):
    // the timeout was spurious. RFC 4015 §3.2: no go-back-N, the window
    // is restored.
    let ack = p.ack(p.seg_k(10), &[]);
    p.input(&ack);
    let st = p.raw.tcp.stats().clone();
    let info = p.raw.tcp.info(p.h()).unwrap();
    println!(
        "F-RTO: {} spurious timeout undone, cwnd {} ssthresh {}, {} retransmission",
        st.spurious_rto_undone, info.cwnd, info.ssthresh, st.retransmits
    );
    assert_eq!((st.spurious_undone, st.spurious_rto_undone), (1, 1));
    let out = data_only(p.out());
    assert!(out.len() >= 2, "{} segments", out.len());
    assert!(out
        .iter()
        .all(|s| s.seq.wrapping_sub(p.seg_k(13)) as i32 >= 0));
    assert_eq!(st.retransmits, 1, "only segment 0 was sent twice");
    assert!(info.cwnd >= 10 * MSS as usize, "{info:?}");
}

#[test]
fn without_timestamps_f_rto_goes_back_n_after_a_genuine_timeout() {
    let mut p = Peer::new(false);
    first_flight_then_timeout(&mut p);
    // The flight was lost: only the retransmission of segment 0 arrives.
    let ack = p.ack(p.seg_k(1), &[]);
    p.input(&ack);
    let seqs: Vec<u32> = data_only(p.out()).iter().map(|s| s.seq).collect();
    assert_eq!(seqs, [p.seg_k(11), p.seg_k(12)], "two new segments");
    // They arrive; the ACK is a duplicate (3.a): the timeout was real.
    // Slow start from at most 3 segments, resending what was lost.
    let ack = p.ack(p.seg_k(1), &[(p.seg_k(11), p.seg_k(13))]);
    p.input(&ack);
    let info = p.raw.tcp.info(p.h()).unwrap();
    let out = data_only(p.out());
    println!(
        "genuine: cwnd {} (reference at most 3 segments), next {:?}",
        info.cwnd,
        out.iter()
            .map(|s| s.seq.wrapping_sub(p.seg_k(0)) / MSS)
            .collect::<Vec<_>>()
    );
    assert!(info.cwnd <= 3 * MSS as usize);
    assert_eq!(out.first().map(|s| s.seq), Some(p.seg_k(1)));
    assert_eq!(p.raw.tcp.stats().spurious_undone, 0);
}

#[test]
fn a_loss_probe_whose_original_arrived_does_not_reduce_the_window() {
    let mut p = Peer::new(true);
    let h = p.h();
    p.raw.tcp.send(h, &[7u8; 5 * MSS as usize]).unwrap();
    let sent = p.out();
    assert_eq!(sent.len(), 5);
    p.advance_ms(20);
    let ack = p.ack(p.seg_k(4), &[]);
    p.input(&ack);
    p.out();
    let before = p.raw.tcp.info(h).unwrap();
    // The last segment's ACK is late: the probe timeout resends it.
    let mut probe = None;
    for _ in 0..400 {
        p.advance_ms(1);
        if let Some(s) = p.out().into_iter().find(|s| !s.payload.is_empty()) {
            probe = Some(s);
            break;
        }
    }
    let probe = probe.expect("a loss probe");
    assert_eq!(probe.seq, p.seg_k(4));
    assert_eq!(p.raw.tcp.stats().tlp_probes, 1);
    // The original's ACK arrives (echoing the original's TSval), then the
    // receiver reports the probe as a duplicate (RFC 2883 D-SACK).
    p.ts_recent = sent[4].options.timestamps.unwrap().tsval;
    let ack = p.ack(p.seg_k(5), &[]);
    p.input(&ack);
    let dsack = p.ack(p.seg_k(5), &[(p.seg_k(4), p.seg_k(5))]);
    p.input(&dsack);
    let after = p.raw.tcp.info(h).unwrap();
    let st = p.raw.tcp.stats().clone();
    println!(
        "probe found redundant: cwnd {} -> {}, ssthresh {} -> {}, {} repaired by a probe",
        before.cwnd, after.cwnd, before.ssthresh, after.ssthresh, st.tlp_recoveries
    );
    // RFC 8985 §7.4.2: no loss, no reduction.
    assert_eq!(st.tlp_recoveries, 0);
    assert_eq!(after.ssthresh, before.ssthresh);
    assert!(after.cwnd >= before.cwnd);
}

#[test]
fn a_reordered_duplicate_ack_with_an_older_timestamp_is_not_dropped_by_paws() {
    let mut p = Peer::new(true);
    start_transfer(&mut p);
    p.advance_ms(1);
    // Two duplicate ACKs, sent in this order, arrive swapped: the one
    // that comes last carries the older TSval.
    let first = p.ack(p.seg_k(2), &[(p.seg_k(3), p.seg_k(4))]);
    // Some ticks later (beyond the one-tick tolerance).
    p.raw.tsval += 5;
    let second = p.ack(p.seg_k(2), &[(p.seg_k(3), p.seg_k(5))]);
    p.input(&second);
    p.input(&first);
    let st = p.raw.tcp.stats().clone();
    println!("PAWS rejected {} (reference 0)", st.paws_rejected);
    // RFC 7323 §5.3 R1 would drop it; as Linux (tcp_disordered_ack) the
    // engine keeps a pure duplicate ACK at RCV.NXT with the window in
    // force: its SACK blocks are what loss recovery runs on.
    assert_eq!(st.paws_rejected, 0);
    // A data segment with an old timestamp is still dropped.
    p.raw.tsval -= 10;
    let old = p.data(p.raw.peer_seq, b"old");
    p.input(&old);
    assert_eq!(p.raw.tcp.stats().paws_rejected, 1);
}

#[test]
fn an_original_overtaken_by_a_retransmission_a_tick_younger_is_kept() {
    let mut p = Peer::new(true);
    let h = p.h();
    let base = p.raw.peer_seq;
    // Segment 1 is lost; segment 2 is held back on the path, and the
    // retransmission of segment 1, sent one timestamp tick after it,
    // overtakes it.
    let seg2 = p.data(base + 100, &[2u8; 100]);
    let retx1 = p.data(base, &[1u8; 100]);
    // It fills RCV.NXT (SEG.SEQ = Last.ACK.sent): TS.Recent takes its
    // TSval (RFC 7323 §4.3), one tick above segment 2's.
    p.input(&retx1);
    p.input(&seg2);
    let st = p.raw.tcp.stats().clone();
    println!(
        "PAWS rejected {} (reference 0), {} bytes queued (reference 200)",
        st.paws_rejected,
        p.raw.tcp.recv_queue(h).unwrap()
    );
    assert_eq!(st.paws_rejected, 0);
    assert_eq!(p.raw.tcp.recv_queue(h).unwrap(), 200);
    // Two ticks older is older than the tolerance: rejected.
    let mut old = p.data(base + 200, &[3u8; 100]);
    let ts = old.options.timestamps.as_mut().unwrap();
    ts.tsval = ts.tsval.wrapping_sub(4);
    p.input(&old);
    assert_eq!(p.raw.tcp.stats().paws_rejected, 1);
    assert_eq!(p.raw.tcp.recv_queue(h).unwrap(), 200);
}
