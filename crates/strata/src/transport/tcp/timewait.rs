//! Compact TIME-WAIT records.
//!
//! An active closer lingers in TIME-WAIT for 2×MSL (RFC 9293 §3.10.7.4,
//! MUST-13), and a busy client holds one TIME-WAIT per connection it
//! closed in the last minute or two: tens of thousands. A full connection
//! slot (the TCB with its congestion, RACK and buffer state, ten cache
//! lines) is far more than the state needs. Once the application has
//! closed its handle, the engine turns a connection that reaches TIME-WAIT
//! into a [`TimeWait`] record of about 100 bytes and frees the slot at
//! once; the record keeps exactly what TIME-WAIT processing reads:
//!
//! - the 4-tuple (the demultiplexer finds the record as it finds a
//!   connection) and the handle the connection had, for the events that
//!   report its end;
//! - SND.UNA/SND.MAX and RCV.NXT with the window last advertised: the
//!   acceptability test and the ACK check of §3.10.7.4, and the ACK that
//!   answers a retransmitted FIN;
//! - TS.Recent, its age and our timestamp offset: PAWS (RFC 7323 §5) and
//!   the RFC 6191 test for reusing the 4-tuple;
//! - the rate limits of ACKs to unacceptable segments and of challenge
//!   ACKs (RFC 5961 §7);
//! - the 2×MSL deadline.
//!
//! Processing follows what [`super::connection::Conn`] does in TIME-WAIT,
//! step for step, so nothing a peer sees changes. A connection whose
//! handle the application still holds stays a full connection (its
//! getters must keep answering) until the handle is closed.

use super::connection::{
    paws_older, ts_now, GlobalRateLimit, RateLimit, OOW_ACK_INTERVAL, PAWS_IDLE,
};
use super::engine::{ConnInfo, TcpStats};
use super::seq::SeqNumber;
use super::table::Slab;
use super::{State, TcpConfig, TcpHandle};
use crate::time::{Duration, Instant};
use crate::wire::tcp::{SackBlock, TcpFlags, TcpOptions, TcpRepr, Timestamps};
use core::net::SocketAddrV4;
use std::collections::VecDeque;

/// A connection in TIME-WAIT, reduced to what RFC 9293 §3.10.7.4 needs
/// there (see the [module docs](self)).
#[derive(Debug, Clone)]
pub(crate) struct TimeWait {
    /// The handle the connection had (its events carry it).
    pub handle: TcpHandle,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    /// End of the 2×MSL wait.
    pub close_at: Instant,
    /// When TS.Recent was last set (RFC 7323 §5.5).
    pub ts_recent_age: Instant,
    pub snd_una: SeqNumber,
    /// SND.MAX: the sequence number of our ACKs (past our FIN).
    pub snd_max: SeqNumber,
    pub rcv_nxt: SeqNumber,
    /// RCV.WND as last advertised: RCV.ADV − RCV.NXT.
    pub rcv_wnd: u32,
    /// The largest window the peer offered (RFC 5961 §5.2 ACK bound).
    pub max_snd_wnd: u32,
    pub ts_recent: u32,
    pub ts_offset: u32,
    /// When the last ACK to an unacceptable segment left (ms, mod 2^32).
    pub last_oow_ack: Option<u32>,
    /// The connection's challenge-ACK budget (RFC 5961 §7).
    pub challenge_limit: RateLimit,
    /// A duplicate to report in the next ACK (RFC 2883 §4).
    pub dsack: Option<(SeqNumber, SeqNumber)>,
    /// The window field of our ACKs (scaled, as last advertised).
    pub window: u16,
    /// Diffserv codepoint of our segments, as the connection had it.
    pub dscp: u8,
    pub ts_ok: bool,
    pub sack_ok: bool,
    /// An ACK is due.
    pub ack_now: bool,
}

/// Whether an ACK to an unacceptable segment may leave now: at most one per
/// `OOW_ACK_INTERVAL`, so two confused ends (or an attacker) cannot start
/// an ACK storm (as Linux `tcp_invalid_ratelimit`). `last`: when the
/// previous one left (ms of the stack clock, mod 2^32).
pub(crate) fn oow_ack_allowed(last: &mut Option<u32>, now: Instant) -> bool {
    let ms = now.as_millis() as u32;
    let interval = OOW_ACK_INTERVAL.as_millis() as u32;
    if last.is_some_and(|t| ms.wrapping_sub(t) < interval) {
        return false;
    }
    *last = Some(ms);
    true
}

/// RFC 9293 §3.10.7.4 first check, the table of four cases: is a segment
/// of `seg_len` sequence numbers starting at `seq` acceptable in the
/// receive window `rcv_nxt .. rcv_nxt + wnd`?
pub(crate) fn acceptable(seq: SeqNumber, seg_len: usize, rcv_nxt: SeqNumber, wnd: usize) -> bool {
    let end = rcv_nxt + wnd;
    match (seg_len, wnd) {
        (0, 0) => seq == rcv_nxt,
        (0, _) => seq.in_range(rcv_nxt, end),
        (_, 0) => false,
        (_, _) => seq.in_range(rcv_nxt, end) || (seq + (seg_len - 1)).in_range(rcv_nxt, end),
    }
}

/// RFC 9293 §3.6 MAY-2 (and RFC 6191 with timestamps, SHLD-4): a SYN may
/// reopen a 4-tuple in TIME-WAIT when it is beyond everything seen: its
/// TSval newer than TS.Recent, or without timestamps its sequence number
/// beyond RCV.NXT.
pub(crate) fn reusable(ts_ok: bool, ts_recent: u32, rcv_nxt: SeqNumber, seg: &TcpRepr<'_>) -> bool {
    if ts_ok {
        if let Some(ts) = seg.options.timestamps {
            return (ts.tsval.wrapping_sub(ts_recent) as i32) > 0;
        }
    }
    SeqNumber(seg.seq) > rcv_nxt
}

impl TimeWait {
    /// Whether a SYN (without ACK) may replace this TIME-WAIT with a new
    /// incarnation (see [`reusable`]).
    pub fn reusable(&self, seg: &TcpRepr<'_>) -> bool {
        reusable(self.ts_ok, self.ts_recent, self.rcv_nxt, seg)
    }

    fn oow_ack_allowed(&mut self, now: Instant) -> bool {
        oow_ack_allowed(&mut self.last_oow_ack, now)
    }

    /// RFC 5961 §7 challenge ACK, rate-limited per connection and then
    /// engine-wide, as [`super::connection::Conn`] sends it.
    fn challenge_ack(
        &mut self,
        now: Instant,
        cfg: &TcpConfig,
        stats: &mut TcpStats,
        global: &mut GlobalRateLimit,
    ) {
        if self.challenge_limit.allow(now, cfg.challenge_ack_limit)
            && global.allow(now, cfg.challenge_ack_global_limit)
        {
            stats.challenge_acks += 1;
            self.ack_now = true;
        } else {
            stats.challenge_acks_suppressed += 1;
        }
    }

    /// RFC 9293 §3.10.7.4 SEGMENT ARRIVES in TIME-WAIT: "The only thing
    /// that can arrive in this state is a retransmission of the remote FIN.
    /// Acknowledge it, and restart the 2 MSL timeout." Everything else is
    /// checked as in the other synchronized states and dropped. Sets
    /// [`TimeWait::ack_now`] when an ACK is due and moves
    /// [`TimeWait::close_at`] when the wait restarts.
    pub fn on_segment(
        &mut self,
        now: Instant,
        cfg: &TcpConfig,
        stats: &mut TcpStats,
        global: &mut GlobalRateLimit,
        seg: &TcpRepr<'_>,
    ) {
        let f = seg.flags;
        let seq = SeqNumber(seg.seq);
        // RFC 7323 §5.3: PAWS, before the sequence check.
        if self.ts_ok && !f.rst() {
            match seg.options.timestamps {
                Some(ts) => {
                    // (One tick older passes, as on the full connection.)
                    let older = paws_older(self.ts_recent, ts.tsval);
                    // RFC 7323 §5.5: after 24 days idle TS.Recent is invalid.
                    let stale = now.saturating_duration_since(self.ts_recent_age) > PAWS_IDLE;
                    if older && !stale {
                        // RFC 7323 §5.3: acknowledge (rate-limited) and drop.
                        stats.paws_rejected += 1;
                        if self.oow_ack_allowed(now) {
                            self.ack_now = true;
                        }
                        return;
                    }
                    if older && stale {
                        self.ts_recent = ts.tsval;
                        self.ts_recent_age = now;
                    }
                }
                None => {
                    // RFC 7323 §3.2: a non-RST segment without TSopt once
                    // negotiated is dropped.
                    stats.missing_timestamps += 1;
                    return;
                }
            }
        }
        // First: the sequence number (RFC 9293 §3.10.7.4).
        let (syn, fin) = (f.syn(), f.fin());
        let len = seg.payload.len();
        let seg_len = len + usize::from(syn) + usize::from(fin);
        let wnd = self.rcv_wnd as usize;
        let ok = acceptable(seq, seg_len, self.rcv_nxt, wnd);
        // MUST-66: with a zero window, ACKs, URGs and RSTs at RCV.NXT.
        let zero_window_allowance = !ok && wnd == 0 && seq == self.rcv_nxt;
        if !ok && !zero_window_allowance {
            // "If an incoming segment is not acceptable, an acknowledgment
            // should be sent in reply (unless the RST bit is set)", at most
            // one per interval.
            if !f.rst() && self.oow_ack_allowed(now) {
                self.ack_now = true;
                if fin {
                    // RFC 9293 §3.10.7.4 TIME-WAIT: a retransmitted FIN —
                    // acknowledge it and restart the 2 MSL timeout.
                    self.close_at = now + 2 * cfg.msl;
                }
            }
            stats.out_of_window += 1;
            return;
        }
        let mut text = 0;
        if zero_window_allowance {
            if len > 0 {
                stats.zero_window_drops += 1;
                self.ack_now = true;
            }
        } else {
            let skip = self.rcv_nxt.since(seq);
            if skip > 0 && syn {
                // A SYN below RCV.NXT: RFC 5961 §4.2, challenge ACK and drop.
                self.challenge_ack(now, cfg, stats, global);
                return;
            }
            let k = skip.min(len);
            if k > 0 && self.sack_ok {
                // RFC 2883 §4.1.1: report the duplicate part as a D-SACK.
                stats.dsacks_sent += 1;
                self.dsack = Some((seq, seq + k));
                self.ack_now = true;
            }
            let room = (self.rcv_nxt + wnd).since(seq + k);
            text = (len - k).min(room);
        }
        // RFC 7323 §4.3: TS.Recent follows a segment that covers
        // Last.ACK.sent (RCV.NXT: our ACK of the FIN).
        if self.ts_ok {
            if let Some(ts) = seg.options.timestamps {
                if seq <= self.rcv_nxt && (ts.tsval.wrapping_sub(self.ts_recent) as i32) >= 0 {
                    self.ts_recent = ts.tsval;
                    self.ts_recent_age = now;
                }
            }
        }
        // Second: the RST bit.
        if f.rst() {
            stats.rst_received += 1;
            // RFC 1337: TIME-WAIT assassination guard — ignore the RST.
            stats.rst_ignored_time_wait += 1;
            return;
        }
        // Fourth: the SYN bit (RFC 5961 §4.2): challenge ACK, drop.
        if syn {
            self.challenge_ack(now, cfg, stats, global);
            return;
        }
        // Fifth: the ACK field.
        if !f.ack() {
            stats.no_ack += 1;
            return;
        }
        let ack = SeqNumber(seg.ack);
        if ack > self.snd_max {
            // "If the ACK acks something not yet sent ... send an ACK, drop".
            if self.oow_ack_allowed(now) {
                self.ack_now = true;
            }
            stats.bad_ack += 1;
            return;
        }
        if ack < self.snd_una - self.max_snd_wnd as usize {
            // RFC 5961 §5.2: too old → challenge ACK, drop.
            stats.bad_ack += 1;
            self.challenge_ack(now, cfg, stats, global);
            return;
        }
        // Nothing is in flight: an acceptable ACK acknowledges nothing new.
        // A D-SACK block in it is counted (RFC 2883 §4).
        if self.sack_ok && seg.options.sack_len > 0 {
            let b = seg.options.sack();
            let (l0, r0) = (SeqNumber(b[0].left), SeqNumber(b[0].right));
            let inside = b.len() >= 2 && SeqNumber(b[1].left) <= l0 && r0 <= SeqNumber(b[1].right);
            if l0 < r0 && (r0 <= ack || inside) {
                stats.dsacks_received += 1;
            }
        }
        // Seventh: text after the peer's FIN "should not occur" — ignored.
        // Eighth: a FIN at or past RCV.NXT changes nothing (the peer's FIN
        // is already in).
        if text > 0 {
            stats.data_ignored += 1;
        }
    }

    /// The pure ACK this record sends (RFC 9293 §3.10.7.4, <SEQ=SND.NXT>
    /// <ACK=RCV.NXT><CTL=ACK>, with timestamps and a pending D-SACK), and
    /// clears [`TimeWait::ack_now`].
    pub fn ack(&mut self, now: Instant, stats: &mut TcpStats) -> TcpRepr<'static> {
        let mut options = TcpOptions::default();
        if self.ts_ok {
            options.timestamps = Some(Timestamps {
                tsval: ts_now(now, self.ts_offset),
                tsecr: self.ts_recent,
            });
        }
        if let (true, Some((l, r))) = (self.sack_ok, self.dsack.take()) {
            options.sack_blocks[0] = SackBlock {
                left: l.0,
                right: r.0,
            };
            options.sack_len = 1;
        }
        self.ack_now = false;
        stats.segments_out += 1;
        stats.acks_out += 1;
        TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: self.snd_max.0,
            ack: self.rcv_nxt.0,
            flags: TcpFlags::ACK,
            window: self.window,
            urgent: 0,
            options,
            payload: &[],
        }
    }

    /// What [`super::Tcp::info`] reports for this record: the state, the
    /// addresses and sequence numbers kept; what a TIME-WAIT no longer
    /// holds (ISS, IRS, RTT, congestion state, options) reads as zero.
    pub fn info(&self) -> ConnInfo {
        ConnInfo {
            state: State::TimeWait,
            local: self.local,
            remote: self.remote,
            iss: 0,
            irs: 0,
            snd_una: self.snd_una.0,
            snd_nxt: self.snd_max.0,
            rcv_nxt: self.rcv_nxt.0,
            snd_wnd: 0,
            send_queue: 0,
            recv_queue: 0,
            rto: Duration::ZERO,
            srtt: None,
            min_rtt: None,
            cwnd: 0,
            ssthresh: 0,
            mss: 0,
            wscale: None,
            timestamps: self.ts_ok,
            sack: self.sack_ok,
            retransmits: 0,
            buffer_bytes: 0,
            sacked_bytes: 0,
        }
    }
}

/// A slot of the record table: the record and a generation that tells
/// the timer entries of earlier records in the slot apart.
#[derive(Debug)]
struct Slot {
    gen: u32,
    rec: Option<TimeWait>,
}

/// The engine's TIME-WAIT records, in chunked slots addressed by index
/// (no reallocation moves them, no over-allocation beyond a chunk).
#[derive(Debug, Default)]
pub(crate) struct TimeWaits {
    slots: Slab<Slot>,
    free: Vec<u32>,
    len: usize,
    /// Records with an ACK to send, oldest first: (index, generation).
    acks: VecDeque<(u32, u32)>,
    /// The records' 2×MSL deadlines in the order they were set:
    /// (deadline, index, generation). Every wait lasts the same 2×MSL from
    /// "now", so deadlines come in order and a queue serves them in O(1),
    /// where the timer wheel would keep them in its heap beyond the
    /// horizon. A restarted wait adds a new entry; the old one is found
    /// stale when it comes due.
    deadlines: VecDeque<(Instant, u32, u32)>,
}

impl TimeWaits {
    /// Records held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Keeps `rec`; returns its index and generation.
    pub fn insert(&mut self, rec: TimeWait) -> (u32, u32) {
        let want_ack = rec.ack_now;
        let (idx, gen) = match self.free.pop() {
            Some(i) => {
                let s = &mut self.slots[i as usize];
                s.rec = Some(rec);
                (i, s.gen)
            }
            None => {
                let i = self.slots.push(Slot {
                    gen: 0,
                    rec: Some(rec),
                });
                (i as u32, 0)
            }
        };
        self.len += 1;
        if want_ack {
            self.acks.push_back((idx, gen));
        }
        (idx, gen)
    }

    /// The record in slot `idx`.
    #[inline]
    pub fn get(&self, idx: u32) -> Option<&TimeWait> {
        self.slots.get(idx as usize).and_then(|s| s.rec.as_ref())
    }

    /// The record in slot `idx` if it is of generation `gen`.
    pub fn get_gen_mut(&mut self, idx: u32, gen: u32) -> Option<&mut TimeWait> {
        self.slots
            .get_mut(idx as usize)
            .filter(|s| s.gen == gen)
            .and_then(|s| s.rec.as_mut())
    }

    /// The generation of slot `idx`.
    pub fn gen(&self, idx: u32) -> u32 {
        self.slots.get(idx as usize).map_or(0, |s| s.gen)
    }

    /// Frees slot `idx`, returning its record.
    pub fn remove(&mut self, idx: u32) -> Option<TimeWait> {
        let s = self.slots.get_mut(idx as usize)?;
        let rec = s.rec.take()?;
        s.gen = s.gen.wrapping_add(1);
        self.free.push(idx);
        self.len -= 1;
        if self.len == 0 && self.acks.is_empty() {
            // After a burst, the free list's memory goes back too.
            self.free.shrink_to(64);
        }
        Some(rec)
    }

    /// The record in slot `idx` has just come to want an ACK (its
    /// `ack_now` went from false to true): queue it. While `ack_now` stays
    /// set the record is queued once.
    pub fn queue_ack(&mut self, idx: u32) {
        let gen = self.gen(idx);
        self.acks.push_back((idx, gen));
    }

    /// True when an ACK waits.
    #[inline]
    pub fn has_acks(&self) -> bool {
        !self.acks.is_empty()
    }

    /// The next ACK to send: (record, segment).
    pub fn poll_ack(
        &mut self,
        now: Instant,
        stats: &mut TcpStats,
    ) -> Option<(&TimeWait, TcpRepr<'static>)> {
        while let Some((idx, gen)) = self.acks.pop_front() {
            if !self.get_gen_mut(idx, gen).is_some_and(|r| r.ack_now) {
                continue;
            }
            let rec = self.get_gen_mut(idx, gen)?;
            let seg = rec.ack(now, stats);
            return Some((&*rec, seg));
        }
        None
    }

    /// Arms record `idx` (generation `gen`) to end at `at`. False when `at`
    /// is earlier than a deadline already queued (2×MSL was shortened by a
    /// configuration change): the caller arms it elsewhere.
    pub fn arm(&mut self, at: Instant, idx: u32, gen: u32) -> bool {
        if self.deadlines.back().is_some_and(|&(last, _, _)| at < last) {
            return false;
        }
        self.deadlines.push_back((at, idx, gen));
        true
    }

    /// The earliest deadline queued (perhaps of a record since gone).
    #[inline]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|&(at, _, _)| at)
    }

    /// The next queued deadline due at `now`: (deadline, index,
    /// generation).
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, u32, u32)> {
        if self.deadlines.front().is_some_and(|&(at, _, _)| at <= now) {
            let d = self.deadlines.pop_front();
            if self.deadlines.is_empty() && self.deadlines.capacity() > 1024 {
                self.deadlines = VecDeque::new();
            }
            return d;
        }
        None
    }

    /// Every record, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &TimeWait> + '_ {
        self.slots.iter().filter_map(|s| s.rec.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_small() {
        let rec = core::mem::size_of::<TimeWait>();
        let slot = core::mem::size_of::<Slot>();
        eprintln!("size_of::<TimeWait>() = {rec}, slot {slot}");
        // Two cache lines at most, against a connection slot's ten.
        assert!(slot <= 128, "{slot}");
    }

    #[test]
    fn deadlines_queue_in_order_and_refuse_an_earlier_one() {
        let mut t = TimeWaits::default();
        let at = Instant::from_secs;
        assert!(t.arm(at(60), 0, 0));
        assert!(t.arm(at(60), 1, 0));
        assert!(t.arm(at(61), 0, 0));
        // A wait that began earlier (a handle closed late in TIME-WAIT)
        // goes elsewhere.
        assert!(!t.arm(at(59), 2, 0));
        assert_eq!(t.next_deadline(), Some(at(60)));
        assert_eq!(t.pop_due(at(59)), None);
        assert_eq!(t.pop_due(at(60)), Some((at(60), 0, 0)));
        assert_eq!(t.pop_due(at(60)), Some((at(60), 1, 0)));
        assert_eq!(t.pop_due(at(60)), None);
        assert_eq!(t.next_deadline(), Some(at(61)));
    }
}
