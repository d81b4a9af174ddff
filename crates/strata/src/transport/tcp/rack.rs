//! RACK: time-based loss detection (RFC 8985 §6), and the undo state of a
//! loss-recovery episode or timeout (RFC 3522 Eifel detection, RFC 3708
//! D-SACK detection, RFC 4015 response).
//!
//! RACK remembers when each outstanding segment was (last) sent. A
//! segment is lost when a segment sent *later* was delivered and more
//! than one RTT plus a reordering window has passed since the segment
//! went out (RFC 8985 §6.2 step 5). Unlike DupThresh (RFC 6675 IsLost),
//! which counts segments, this counts time: a segment overtaken by a
//! few others on a reordering path is not declared lost as long as it
//! arrives within the window, and the window adapts to D-SACKs (§6.2
//! step 4).
//!
//! The lost segments feed the RFC 6675 scoreboard as an edge: every
//! unSACKed byte below [`Rack::lost_edge`] is lost (`IsLost()`, RFC 6675
//! §4), the edge only moves up, and NextSeg/pipe read it. The edge is the
//! highest end of a segment RACK marked lost; segments in sequence order
//! were first sent in time order, so the marked set is a prefix of the
//! never-retransmitted ones.
//!
//! Everything lives in one box per connection ([`super::connection`]
//! allocates it when data is first sent): the per-segment list costs
//! memory in proportion to the flight, and the TCB stays small.
//!
//! Sequence numbers are compared modulo 2^32 ([`SeqNumber`]); nothing is
//! kept at or below SND.UNA, so the state is correct across wrap.

use super::congestion::Controller;
use super::recovery::Episode;
use super::seq::SeqNumber;
use crate::time::{Duration, Instant};
use std::collections::VecDeque;

/// The segment was retransmitted (RFC 8985 `Segment.retransmitted`).
const RETRANS: u8 = 1;
/// The segment was selectively acknowledged.
const SACKED: u8 = 2;
/// A retransmission of the segment was lost in turn (RFC 8985 §6.2 step
/// 5 marks retransmissions too): it must be sent again.
const RELOST: u8 = 4;

/// One transmitted segment: `[previous end, end)`.
#[derive(Debug, Clone, Copy)]
struct Sent {
    end: SeqNumber,
    /// RFC 8985 `Segment.xmit_ts`: the latest (re)transmission.
    xmit: Instant,
    flags: u8,
}

/// RFC 8985 §6.2 step 4: the reordering window persists for 16 loss
/// recoveries after a D-SACK widened it.
const REO_WND_PERSIST: u8 = 16;

/// The RACK state of one connection (RFC 8985 §6.1), its sent-segment
/// list, and the undo state of the current episode.
#[derive(Debug, Clone)]
pub struct Rack {
    /// The connection's early timer (`pto_at`) holds the RACK reorder
    /// timer (RFC 8985 §6.3), not the probe timeout: one early timer
    /// serves both, as in Linux. Kept here, off the TCB's hot lines.
    pub(crate) reo_armed: bool,
    /// Outstanding segments in sequence order; the first starts at `head`.
    sent: VecDeque<Sent>,
    /// Start of `sent[0]` (SND.UNA once anything was acknowledged).
    head: SeqNumber,
    /// RFC 8985 RACK.xmit_ts and RACK.end_seq: the most recently sent
    /// segment that was delivered.
    xmit_ts: Option<Instant>,
    end_seq: SeqNumber,
    /// RFC 8985 RACK.rtt: the RTT of that segment.
    rtt: Duration,
    /// RFC 8985 RACK.min_RTT: the smallest RTT measured.
    min_rtt: Option<Duration>,
    /// RFC 8985 RACK.fack: the highest end of a delivered segment.
    fack: SeqNumber,
    /// RFC 8985 RACK.segs_sacked.
    segs_sacked: u32,
    /// RFC 8985 RACK.reo_wnd_mult.
    reo_wnd_mult: u8,
    /// RFC 8985 RACK.reo_wnd_persist.
    reo_wnd_persist: u8,
    /// RFC 8985 RACK.reordering_seen.
    reordering_seen: bool,
    /// RFC 8985 RACK.dsack_round.
    dsack_round: Option<SeqNumber>,
    /// Everything unSACKed below this edge is lost (sticky until SND.UNA
    /// passes it).
    lost: SeqNumber,
    /// Bytes of retransmissions marked lost again and not yet resent.
    relost_bytes: usize,
    /// The latest transmit time handed out: every transmission gets a
    /// later one, at least by a nanosecond, so that "sent after" (RFC 8985
    /// RACK_sent_after) is the order of transmission even for segments
    /// sent at one instant (a retransmission after new data, or the
    /// reverse), which the RFC's sequence-number tie-break would misjudge.
    last_xmit: Option<Instant>,
    /// The undo state of the running (or just ended) episode.
    pub undo: Option<Undo>,
    /// The running SACK loss-recovery episode (RFC 6675 §5, RFC 6937):
    /// out of the TCB with the rest, most connections never have one.
    pub episode: Option<Episode>,
    /// F-RTO step 2 (RFC 5682 §2.1 (2.b)): new segments that may still go
    /// out whatever cwnd says ("transmit up to two new (previously
    /// unsent) segments").
    pub frto_new: u8,
}

/// Most segments remembered: beyond this (tiny segments, huge windows)
/// new data extends the last entry, which only makes RACK slower to
/// declare that data lost. 16 bytes each.
pub const MAX_SENT: usize = 1 << 14;

/// What made a congestion-window reduction that may turn out spurious.
#[derive(Debug, Clone)]
pub struct Undo {
    /// The controller before the reduction (its window, ssthresh and
    /// CUBIC's W_max), restored if the reduction was spurious.
    pub prior: Controller,
    /// RFC 4015 §3.2 `pipe_prev`: max(FlightSize, ssthresh) before the
    /// reduction.
    pub pipe_prev: usize,
    /// SND.UNA when the reduction happened (Linux `undo_marker`): only
    /// D-SACKs above it are about this episode's retransmissions.
    pub marker: SeqNumber,
    /// SND.MAX when the reduction happened: a late D-SACK may still undo
    /// until SND.UNA passes one more flight beyond it.
    pub point: SeqNumber,
    /// RFC 3708 §3: retransmissions of this episode not (yet) reported
    /// as duplicates by a D-SACK; zero with at least one sent means every
    /// retransmission was unnecessary.
    pub retrans: u32,
    /// Retransmissions of this episode (for the count of those undone).
    pub sent: u32,
    /// RFC 3522 §3.2 RetransmitTS: the TSval of the first retransmission.
    pub retransmit_ts: Option<u32>,
    /// RFC 3522 §3.2: the first acceptable ACK after the retransmission
    /// is still to be checked.
    pub eifel_armed: bool,
    /// The episode began (or continued) with a retransmission timeout.
    pub rto: bool,
    /// F-RTO (RFC 5682 §2.1) after this timeout: the step the next new
    /// acknowledgement takes ([`Frto`]).
    pub frto: Frto,
}

/// Where F-RTO (RFC 5682 §2.1) stands after a retransmission timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Frto {
    /// Not running: conventional recovery (go-back-N in slow start).
    #[default]
    Off,
    /// Step 2: the first segment was retransmitted; waiting for the first
    /// acknowledgement of new data.
    Step2,
    /// Step 3: up to two new segments were sent; the next acknowledgement
    /// says whether the timeout was spurious.
    Step3,
}

impl Rack {
    /// The state of [`Rack::new`], keeping the room of the transmit
    /// records (up to a few hundred) for reuse by another connection.
    pub fn reset(&mut self, una: SeqNumber) {
        let mut sent = core::mem::take(&mut self.sent);
        sent.clear();
        if sent.capacity() > 256 {
            sent = VecDeque::new();
        }
        *self = Rack {
            sent,
            ..Rack::new(una)
        };
    }

    /// An empty list starting at `una`.
    pub fn new(una: SeqNumber) -> Self {
        Rack {
            reo_armed: false,
            sent: VecDeque::new(),
            head: una,
            xmit_ts: None,
            end_seq: una,
            rtt: Duration::ZERO,
            min_rtt: None,
            fack: una,
            segs_sacked: 0,
            reo_wnd_mult: 1,
            reo_wnd_persist: 0,
            reordering_seen: false,
            dsack_round: None,
            lost: una,
            relost_bytes: 0,
            last_xmit: None,
            undo: None,
            episode: None,
            frto_new: 0,
        }
    }

    /// RFC 8985 RACK.min_RTT, once measured.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// RFC 8985 RACK.reordering_seen.
    pub fn reordering_seen(&self) -> bool {
        self.reordering_seen
    }

    /// RFC 8985 RACK.reo_wnd_mult.
    pub fn reo_wnd_mult(&self) -> u8 {
        self.reo_wnd_mult
    }

    /// Segments remembered.
    pub fn len(&self) -> usize {
        self.sent.len()
    }

    /// True when no segment is outstanding.
    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }

    fn start_of(&self, i: usize) -> SeqNumber {
        if i == 0 {
            self.head
        } else {
            self.sent[i - 1].end
        }
    }

    /// `[seq, end)` went out at `now`; bytes below `snd_max` (SND.MAX
    /// before this segment) are a retransmission, the rest new data.
    /// RFC 8985 §6.1: Segment.xmit_ts and Segment.retransmitted.
    pub fn on_transmit(
        &mut self,
        seq: SeqNumber,
        end: SeqNumber,
        snd_max: SeqNumber,
        now: Instant,
    ) {
        let now = match self.last_xmit {
            Some(t) if now <= t => t + Duration::from_nanos(1),
            _ => now,
        };
        self.last_xmit = Some(now);
        if seq < snd_max {
            self.mark_retransmitted(seq, end.min(snd_max), now);
        }
        let start = seq.max(snd_max);
        if start >= end {
            return;
        }
        if self.sent.is_empty() {
            self.head = start;
        }
        let full = self.sent.len() >= MAX_SENT;
        match self.sent.back_mut() {
            Some(last) if full => {
                last.end = last.end.max(end);
                last.xmit = now;
            }
            _ => self.sent.push_back(Sent {
                end,
                xmit: now,
                flags: 0,
            }),
        }
    }

    /// Index of the entry holding `seq`, if any.
    fn index_of(&self, seq: SeqNumber) -> Option<usize> {
        if seq < self.head {
            return None;
        }
        let i = self.sent.partition_point(|s| s.end <= seq);
        (i < self.sent.len()).then_some(i)
    }

    /// Splits the entry holding `at` so that an entry starts there.
    fn split_at(&mut self, at: SeqNumber) {
        if self.sent.len() >= MAX_SENT {
            return;
        }
        if let Some(i) = self.index_of(at) {
            if self.start_of(i) < at {
                let e = self.sent[i];
                self.sent.insert(i, Sent { end: at, ..e });
            }
        }
    }

    fn mark_retransmitted(&mut self, seq: SeqNumber, end: SeqNumber, now: Instant) {
        let seq = seq.max(self.head);
        if seq >= end {
            return;
        }
        self.split_at(seq);
        self.split_at(end);
        let Some(mut i) = self.index_of(seq) else {
            return;
        };
        while i < self.sent.len() && self.start_of(i) < end {
            let len = self.sent[i].end.since(self.start_of(i));
            let s = &mut self.sent[i];
            s.xmit = now;
            s.flags |= RETRANS;
            if s.flags & RELOST != 0 {
                s.flags &= !RELOST;
                self.relost_bytes = self.relost_bytes.saturating_sub(len);
            }
            if s.flags & SACKED != 0 {
                // Sent again after a timeout forgot the SACK information.
                s.flags &= !SACKED;
                self.segs_sacked = self.segs_sacked.saturating_sub(1);
            }
            i += 1;
        }
    }

    /// A retransmission timeout forgot the SACK information (RFC 6675
    /// §5.1): the SACKed marks and the loss edge go with it.
    pub fn on_rto(&mut self, una: SeqNumber) {
        for s in self.sent.iter_mut() {
            s.flags &= !(SACKED | RELOST);
        }
        self.segs_sacked = 0;
        self.relost_bytes = 0;
        self.lost = una;
    }

    /// RFC 8985 §6.2 steps 2 and 3 for the segments this ACK delivered:
    /// everything below `una` (cumulatively) and the SACK `blocks` (sorted,
    /// D-SACK left out). `tsecr` is the ACK's echoed timestamp and `ts_of`
    /// the TSval a transmission at an instant carried. Returns true when
    /// a segment was newly delivered.
    pub fn on_ack(
        &mut self,
        now: Instant,
        una: SeqNumber,
        blocks: &[(SeqNumber, SeqNumber)],
        tsecr: Option<u32>,
        ts_of: impl Fn(Instant) -> u32,
    ) -> bool {
        let mut delivered = false;
        // Cumulatively acknowledged, in ascending order.
        while let Some(&s) = self.sent.front() {
            if s.end > una {
                break;
            }
            let start = self.head;
            self.sent.pop_front();
            self.head = s.end;
            if s.flags & RELOST != 0 {
                self.relost_bytes = self.relost_bytes.saturating_sub(s.end.since(start));
            }
            if s.flags & SACKED != 0 {
                self.segs_sacked = self.segs_sacked.saturating_sub(1);
            } else {
                self.deliver(now, s, tsecr, &ts_of);
                delivered = true;
            }
        }
        if self.head < una {
            self.head = una;
        }
        if self.sent.is_empty() {
            self.head = una;
        }
        // Selectively acknowledged: whole segments inside a block.
        for &(l, r) in blocks {
            let l = l.max(self.head);
            let Some(mut i) = self.index_of(l) else {
                continue;
            };
            while i < self.sent.len() && self.start_of(i) < r {
                let s = self.sent[i];
                if s.flags & SACKED == 0 && self.start_of(i) >= l && s.end <= r {
                    if s.flags & RELOST != 0 {
                        let len = s.end.since(self.start_of(i));
                        self.relost_bytes = self.relost_bytes.saturating_sub(len);
                        self.sent[i].flags &= !RELOST;
                    }
                    self.sent[i].flags |= SACKED;
                    self.segs_sacked += 1;
                    self.deliver(now, s, tsecr, &ts_of);
                    delivered = true;
                }
                i += 1;
            }
        }
        if self.lost < una {
            self.lost = una;
        }
        delivered
    }

    fn deliver(
        &mut self,
        now: Instant,
        s: Sent,
        tsecr: Option<u32>,
        ts_of: impl Fn(Instant) -> u32,
    ) {
        // RFC 8985 §6.2 step 3 (RACK_detect_reordering): a segment never
        // retransmitted delivered below the highest delivered one arrived
        // out of order.
        if s.end > self.fack {
            self.fack = s.end;
        } else if s.end < self.fack && s.flags & RETRANS == 0 {
            self.reordering_seen = true;
        }
        // RFC 8985 §6.2 step 2 (RACK_update).
        let rtt = now.saturating_duration_since(s.xmit);
        if s.flags & RETRANS != 0 {
            // The ACK may answer the original transmission: with
            // timestamps, an echo older than the retransmission says so;
            // without, an RTT below the minimum does.
            if tsecr.is_some_and(|e| (e.wrapping_sub(ts_of(s.xmit)) as i32) < 0) {
                return;
            }
            if self.min_rtt.is_some_and(|m| rtt < m) {
                return;
            }
        }
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        let after = match self.xmit_ts {
            None => true,
            // RFC 8985 §6.2 RACK_sent_after(t1, seq1, t2, seq2).
            Some(t) => s.xmit > t || (s.xmit == t && s.end > self.end_seq),
        };
        if after {
            self.rtt = rtt;
            self.xmit_ts = Some(s.xmit);
            self.end_seq = s.end;
        }
    }

    /// RFC 8985 §6.2 step 4 (RACK_update_reo_wnd): `dsack` when the ACK
    /// carried a D-SACK, `exited` when it ended a loss recovery,
    /// `recovering` while one runs; returns RACK.reo_wnd.
    pub fn update_reo_wnd(
        &mut self,
        dsack: bool,
        exited: bool,
        recovering: bool,
        una: SeqNumber,
        snd_nxt: SeqNumber,
        srtt: Option<Duration>,
    ) -> Duration {
        if self.dsack_round.is_some_and(|r| una >= r) {
            self.dsack_round = None;
        }
        if self.dsack_round.is_none() && dsack {
            // "If ... the ACK has a D-SACK, the reordering window is
            // widened by one min_RTT/4 for one round trip's D-SACKs".
            self.dsack_round = Some(snd_nxt);
            self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1);
            self.reo_wnd_persist = REO_WND_PERSIST;
        } else if exited {
            self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
            if self.reo_wnd_persist == 0 {
                self.reo_wnd_mult = 1;
            }
        }
        if !self.reordering_seen {
            // Without reordering seen: the DupThresh rule (zero window
            // once DupThresh segments were SACKed) and a zero window in
            // recovery.
            if recovering || self.segs_sacked as usize >= super::recovery::DUP_THRESH {
                return Duration::ZERO;
            }
        }
        let Some(min_rtt) = self.min_rtt else {
            return Duration::ZERO;
        };
        let w = (min_rtt / 4) * u32::from(self.reo_wnd_mult);
        match srtt {
            Some(s) => w.min(s),
            None => w,
        }
    }

    /// RFC 8985 §6.2 step 5 (RACK_detect_loss) with `reo_wnd`: every
    /// segment sent before RACK.xmit_ts that has been out for RACK.rtt +
    /// reo_wnd is lost: first transmissions move the loss edge, lost
    /// retransmissions are marked to be sent again. Returns how long until
    /// the next one would be (the RACK reorder timer, §6.3), if any.
    pub fn detect_loss(&mut self, now: Instant, reo_wnd: Duration) -> Option<Duration> {
        let xmit_ts = self.xmit_ts?;
        let mut timeout: Option<Duration> = None;
        let mut start = self.head;
        let mut i = 0;
        while i < self.sent.len() {
            let s = self.sent[i];
            let seg_start = start;
            start = s.end;
            i += 1;
            let retrans = s.flags & RETRANS != 0;
            if s.flags & (SACKED | RELOST) != 0 {
                continue;
            }
            let below_edge = s.end <= self.lost;
            // RFC 8985 §6.2 RACK_sent_after(RACK.xmit_ts, RACK.end_seq,
            // Segment.xmit_ts, Segment.end_seq).
            let before = s.xmit < xmit_ts || (s.xmit == xmit_ts && s.end < self.end_seq);
            if below_edge && (!retrans || !before) {
                // Below the edge, retransmissions went out in sequence
                // order before the lost segments still waiting for theirs:
                // past the first of those, or past a retransmission sent
                // after RACK.xmit_ts, nothing below the edge is due.
                // Continue at the edge.
                let j = self.sent.partition_point(|e| e.end <= self.lost).max(i);
                start = self.start_of(j);
                i = j;
                continue;
            }
            if !before {
                if !retrans {
                    // Later first transmissions were all sent later still.
                    break;
                }
                continue;
            }
            let deadline = s.xmit.saturating_add(self.rtt).saturating_add(reo_wnd);
            if deadline <= now {
                if retrans {
                    // A lost retransmission: send it again.
                    self.sent[i - 1].flags |= RELOST;
                    self.relost_bytes += s.end.since(seg_start);
                }
                self.lost = self.lost.max(s.end);
            } else {
                // RFC 8985: timeout = max(remaining, timeout).
                let remaining = deadline - now;
                timeout = Some(timeout.map_or(remaining, |t| t.max(remaining)));
                if !retrans && !below_edge {
                    break;
                }
            }
        }
        timeout
    }

    /// The first retransmission RACK found lost again, to send once more.
    pub fn first_relost(&self) -> Option<SeqNumber> {
        if self.relost_bytes == 0 {
            return None;
        }
        let i = self.sent.iter().position(|s| s.flags & RELOST != 0)?;
        Some(self.start_of(i))
    }

    /// Bytes of lost retransmissions not yet resent: out of the network,
    /// though below HighRxt (RFC 6675 `pipe` would count them).
    pub fn relost_bytes(&self) -> usize {
        self.relost_bytes
    }

    /// The loss edge: every unSACKed byte in `[una, edge)` is lost. `None`
    /// when RACK has marked nothing above `una`.
    pub fn lost_edge(&self, una: SeqNumber) -> Option<SeqNumber> {
        (self.lost > una).then_some(self.lost)
    }

    /// A spurious retransmission was detected (RFC 3522, RFC 3708): the
    /// original segments were delayed, not lost, which is reordering
    /// (RACK.reordering_seen; Linux does the same on undo).
    pub fn on_spurious(&mut self, una: SeqNumber) {
        self.reordering_seen = true;
        self.lost = una;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    #[test]
    fn a_pooled_state_is_a_new_one_that_keeps_its_room() {
        // The engine's pool hands a freed connection's RACK state to the
        // next connection: it must start as `Rack::new` would, only with
        // the transmit records' allocation kept.
        let mut pool = super::super::buffer::BufPool::default();
        let mut r = pool.rack(s(1000));
        for k in 0..10u32 {
            r.on_transmit(
                s(1000 + k * 100),
                s(1100 + k * 100),
                s(1000 + k * 100),
                ms(u64::from(k)),
            );
        }
        r.reo_wnd_mult = 3;
        r.segs_sacked = 4;
        assert_eq!(r.sent.len(), 10);
        let room = r.sent.capacity();
        pool.put_rack(r);
        let r = pool.rack(s(77));
        let fresh = Rack::new(s(77));
        assert!(r.sent.is_empty());
        assert_eq!(r.sent.capacity(), room, "the allocation is reused");
        assert_eq!(format!("{r:?}"), format!("{fresh:?}"));
        assert_eq!(
            (r.head, r.lost, r.fack, r.end_seq),
            (s(77), s(77), s(77), s(77))
        );
        assert_eq!((r.reo_wnd_mult, r.segs_sacked), (1, 0));
    }
    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }
    fn ts(i: Instant) -> u32 {
        i.as_millis() as u32
    }

    /// Ten 1000-byte segments starting near the wrap, one per ms.
    fn ten(base: u32) -> Rack {
        let mut r = Rack::new(s(base));
        for k in 0..10u32 {
            let a = s(base.wrapping_add(k * 1000));
            r.on_transmit(a, a + 1000usize, a, ms(u64::from(k)));
        }
        r
    }

    #[test]
    fn a_segment_overtaken_within_the_window_is_not_lost_then_is() {
        let base = u32::MAX - 3500;
        let b = s(base);
        let mut r = ten(base);
        // Segment 0 acknowledged after 20 ms: min_RTT 20 ms.
        assert!(r.on_ack(ms(20), b + 1000usize, &[], None, ts));
        // Segments 2..5 SACKed (segment 1 overtaken).
        let blk = [(b + 2000usize, b + 5000usize)];
        assert!(r.on_ack(ms(24), b + 1000usize, &blk, None, ts));
        // Not yet reordering seen, 3 SACKed: DupThresh rule, zero window.
        let w = r.update_reo_wnd(false, false, false, b + 1000usize, b + 10_000usize, None);
        assert_eq!(w, Duration::ZERO);
        // Segment 1 was sent at 1 ms, RACK.xmit_ts is 4 ms with RTT 20 ms:
        // lost at 21 ms, so at 24 ms.
        assert_eq!(r.detect_loss(ms(24), w), None);
        assert_eq!(r.lost_edge(b + 1000usize), Some(b + 2000usize));
        // With reordering seen, min_RTT/4 = 5 ms: not lost before 26 ms.
        let mut r = ten(base);
        r.reordering_seen = true;
        r.on_ack(ms(20), b + 1000usize, &[], None, ts);
        r.on_ack(ms(24), b + 1000usize, &blk, None, ts);
        let w = r.update_reo_wnd(false, false, false, b + 1000usize, b + 10_000usize, None);
        assert_eq!(w, Duration::from_millis(5));
        assert_eq!(r.detect_loss(ms(24), w), Some(Duration::from_millis(2)));
        assert_eq!(r.lost_edge(b + 1000usize), None);
        assert_eq!(r.detect_loss(ms(26), w), None);
        assert_eq!(r.lost_edge(b + 1000usize), Some(b + 2000usize));
    }

    #[test]
    fn late_original_shows_reordering_and_dsack_widens_the_window() {
        let b = s(1);
        let mut r = ten(1);
        r.on_ack(ms(20), b + 1000usize, &[], None, ts);
        r.on_ack(
            ms(22),
            b + 1000usize,
            &[(b + 2000usize, b + 3000usize)],
            None,
            ts,
        );
        assert!(!r.reordering_seen());
        // Segment 1 arrives late, never retransmitted: reordering.
        r.on_ack(ms(22), b + 3000usize, &[], None, ts);
        assert!(r.reordering_seen());
        assert_eq!(r.len(), 7);
        // A D-SACK widens the window to 2·min_RTT/4, capped by SRTT.
        let w = r.update_reo_wnd(true, false, false, b + 3000usize, b + 10_000usize, None);
        assert_eq!(w, Duration::from_millis(10));
        assert_eq!(r.reo_wnd_mult(), 2);
        let srtt = Some(Duration::from_millis(8));
        let w = r.update_reo_wnd(true, false, false, b + 3000usize, b + 10_000usize, srtt);
        assert_eq!(w, Duration::from_millis(8), "one widening per round");
        // Sixteen recoveries later it is back to one.
        for _ in 0..16 {
            r.update_reo_wnd(false, true, false, b + 10_000usize, b + 10_000usize, None);
        }
        assert_eq!(r.reo_wnd_mult(), 1);
    }

    #[test]
    fn an_ack_of_the_original_does_not_time_a_retransmission() {
        let b = s(0);
        let mut r = ten(0);
        r.on_ack(ms(20), b + 1000usize, &[], None, ts);
        // Segment 1 retransmitted at 30 ms; the original's ACK arrives at
        // 31 ms echoing its 1 ms timestamp: no RTT of 1 ms.
        r.on_transmit(b + 1000usize, b + 2000usize, b + 10_000usize, ms(30));
        r.on_ack(ms(31), b + 2000usize, &[], Some(1), ts);
        assert_eq!(r.min_rtt(), Some(Duration::from_millis(20)));
        // Retransmissions split entries at their edges.
        let mut r = ten(0);
        r.on_transmit(b + 500usize, b + 700usize, b + 10_000usize, ms(40));
        assert_eq!(r.len(), 12);
        r.on_ack(ms(41), b + 700usize, &[], None, ts);
        assert_eq!(r.len(), 10);
    }
}
