//! SACK-based loss recovery (RFC 6675) paced by Proportional Rate
//! Reduction (RFC 6937).
//!
//! * [`Scoreboard`]: which ranges above SND.UNA the receiver reported
//!   holding (RFC 6675 §3 "scoreboard"), with `IsLost()` (§4) and the
//!   `pipe` estimate of `SetPipe()` (§4) computed from the ranges.
//! * [`Episode`]: one loss-recovery episode (RFC 6675 §5): RecoveryPoint,
//!   RescueRxt and the PRR counters. `HighRxt` is the connection's
//!   `rexmit_hi` (the end of the highest retransmitted range).
//! * [`next_seg`]: `NextSeg()` rules 1–4 (RFC 6675 §4).
//!
//! Every sequence number is compared modulo 2^32 ([`SeqNumber`]), and the
//! scoreboard holds nothing at or below SND.UNA, so the state is correct
//! across sequence wrap.
//!
//! The connection feeds these from its ACK processing and asks
//! [`next_seg`] what to send while an episode runs; the congestion
//! controller only supplies ssthresh at entry (its reduction rule) and
//! receives the PRR window.

use super::seq::SeqNumber;

/// RFC 6675 §2 DupThresh: the number of duplicate ACKs (or SACKed
/// segments) that indicates a loss.
pub const DUP_THRESH: usize = 3;

/// The SACK scoreboard (RFC 6675 §3): sorted, disjoint ranges `[left,
/// right)` the peer reported holding above SND.UNA.
#[derive(Debug, Clone, Default)]
pub struct Scoreboard {
    ranges: Vec<(SeqNumber, SeqNumber)>,
}

impl Scoreboard {
    /// Most ranges remembered. The receiver reports at most 3–4 blocks per
    /// ACK but a burst of drops leaves as many holes as drops; the bound
    /// keeps each ACK's work (linear in the ranges) small against a peer
    /// that reports thousands of one-byte blocks.
    pub const MAX: usize = 2048;

    /// An empty scoreboard.
    pub const fn new() -> Self {
        Scoreboard { ranges: Vec::new() }
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of disjoint SACKed ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Forget everything: after a retransmission timeout, as the receiver
    /// may have reneged (RFC 2018 §8, RFC 6675 §5.1).
    pub fn clear(&mut self) {
        self.ranges = Vec::new();
    }

    /// Drop what lies at or below `una` (SND.UNA advanced).
    pub fn prune(&mut self, una: SeqNumber) {
        if !self.ranges.is_empty() {
            self.update(&[], una, una);
        }
    }

    /// Record SACK blocks `[left, right)` that lie within `(una, snd_max]`,
    /// and drop everything at or below `una`. Returns the number of bytes
    /// newly marked SACKed (RFC 6937 "change in SACKd" when positive).
    pub fn update(
        &mut self,
        blocks: &[(SeqNumber, SeqNumber)],
        una: SeqNumber,
        snd_max: SeqNumber,
    ) -> usize {
        self.ranges.retain_mut(|r| {
            if r.1 <= una {
                return false;
            }
            r.0 = r.0.max(una);
            true
        });
        let before = self.sacked_bytes();
        for &(l, r) in blocks {
            // RFC 2018 §5: ignore blocks outside what we sent; RFC 2883
            // D-SACK blocks at or below SND.UNA fall out here too.
            if !(una < r && l < r && r <= snd_max) {
                continue;
            }
            let l = l.max(una);
            self.insert(l, r);
        }
        if self.ranges.is_empty() {
            self.ranges = Vec::new();
        }
        self.sacked_bytes().saturating_sub(before)
    }

    fn insert(&mut self, l: SeqNumber, r: SeqNumber) {
        let (mut l, mut r) = (l, r);
        self.ranges.retain(|&(a, b)| {
            if b < l || r < a {
                true
            } else {
                l = l.min(a);
                r = r.max(b);
                false
            }
        });
        let pos = self.ranges.partition_point(|&(a, _)| a < l);
        if self.ranges.len() >= Self::MAX {
            // Keep the lowest ranges: they matter first for retransmission.
            if pos >= Self::MAX {
                return;
            }
            self.ranges.pop();
        }
        self.ranges.insert(pos, (l, r));
    }

    /// If `seq` is inside a SACKed range, the end of that range.
    pub fn sacked_until(&self, seq: SeqNumber) -> Option<SeqNumber> {
        self.ranges
            .iter()
            .find(|&&(a, b)| a <= seq && seq < b)
            .map(|&(_, b)| b)
    }

    /// Start of the first SACKed range above `seq` (where a retransmission
    /// starting at `seq` should stop), if any.
    pub fn next_sacked_after(&self, seq: SeqNumber) -> Option<SeqNumber> {
        self.ranges.iter().find(|&&(a, _)| seq < a).map(|&(a, _)| a)
    }

    /// The highest SACKed sequence number (right edge of the last range).
    pub fn highest(&self) -> Option<SeqNumber> {
        self.ranges.last().map(|&(_, b)| b)
    }

    /// Total bytes SACKed.
    pub fn sacked_bytes(&self) -> usize {
        self.ranges.iter().map(|&(a, b)| b.since(a)).sum()
    }

    /// SACKed bytes below `seq`.
    fn sacked_below(&self, seq: SeqNumber) -> usize {
        self.ranges
            .iter()
            .take_while(|&&(a, _)| a < seq)
            .map(|&(a, b)| b.min(seq).since(a))
            .sum()
    }

    /// Unsacked bytes in `[una, end)`.
    fn unsacked_between(&self, una: SeqNumber, end: SeqNumber) -> usize {
        end.since(una).saturating_sub(self.sacked_below(end))
    }

    /// The lowest sequence number at or above which no unSACKed byte is
    /// "lost": RFC 6675 §4 `IsLost(S)` holds exactly for the unSACKed
    /// bytes below this edge. `None` when nothing is lost.
    ///
    /// RFC 6675 §4 IsLost: true when DupThresh discontiguous SACKed
    /// sequences lie above S, or more than (DupThresh − 1) · SMSS bytes
    /// above S were SACKed. Both counts only grow as S moves down, so
    /// the lost bytes are those below the start of the highest range
    /// for which the ranges from it upwards meet either condition.
    pub fn lost_edge(&self, mss: usize) -> Option<SeqNumber> {
        let mut bytes = 0;
        for (k, &(a, b)) in self.ranges.iter().enumerate().rev() {
            bytes += b.since(a);
            let count = self.ranges.len() - k;
            if count >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss {
                return Some(a);
            }
        }
        None
    }

    /// RFC 6675 §4 `IsLost(seq)` for an unSACKed `seq`, by the DupThresh
    /// rule of [`Scoreboard::lost_edge`].
    pub fn is_lost(&self, seq: SeqNumber, mss: usize) -> bool {
        self.lost_edge(mss).is_some_and(|e| seq < e)
    }

    /// RFC 6675 §4 `SetPipe()`: the bytes the sender believes are still in
    /// the network. For each unSACKed octet between HighACK (`una`) and
    /// HighData (`snd_max`): (a) one if it is not lost, (b) one more if it
    /// was retransmitted (below HighRxt, here the exclusive `high_rxt`).
    /// `lost` is the loss edge: `IsLost()` holds for the unSACKed octets
    /// below it (RFC 8985 RACK marks, or [`Scoreboard::lost_edge`]).
    pub fn pipe(
        &self,
        una: SeqNumber,
        snd_max: SeqNumber,
        high_rxt: SeqNumber,
        lost: Option<SeqNumber>,
    ) -> usize {
        let unsacked = self.unsacked_between(una, snd_max);
        let lost = match lost {
            Some(e) => self.unsacked_between(una, e.min(snd_max)),
            None => 0,
        };
        let hr = high_rxt.max(una).min(snd_max);
        let retransmitted = self.unsacked_between(una, hr);
        unsacked - lost + retransmitted
    }

    /// The first unSACKed sequence number at or above `seq`.
    fn unsacked_from(&self, mut seq: SeqNumber) -> SeqNumber {
        while let Some(end) = self.sacked_until(seq) {
            seq = end;
        }
        seq
    }

    /// The highest unSACKed range below `snd_max`, as `[start, end)`.
    fn highest_hole(&self, una: SeqNumber, snd_max: SeqNumber) -> Option<(SeqNumber, SeqNumber)> {
        let mut end = snd_max;
        for &(a, b) in self.ranges.iter().rev() {
            if b < end {
                return Some((b, end));
            }
            end = a;
        }
        (una < end).then_some((una, end))
    }
}

/// What `NextSeg()` (RFC 6675 §4) says to send next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextSeg {
    /// Retransmit from `seq` (up to one SMSS, stopping at the next SACKed
    /// range); `rescue` for the rule (4) rescue retransmission, which does
    /// not move HighRxt.
    Retransmit {
        /// First byte to retransmit.
        seq: SeqNumber,
        /// Rule (4): the rescue retransmission.
        rescue: bool,
    },
    /// Rule (2): send new data.
    NewData,
    /// Rule (5): nothing may be sent.
    Nothing,
}

/// One loss-recovery episode (RFC 6675 §5 step 4 until §5 (A)), with the
/// Proportional Rate Reduction counters of RFC 6937 §3.
#[derive(Debug, Clone)]
pub struct Episode {
    /// RFC 6675 RecoveryPoint: HighData when the episode began.
    pub point: SeqNumber,
    /// RFC 6675 RescueRxt, as the exclusive end (one past the octet the
    /// RFC names), like `point` and HighRxt.
    pub rescue_rxt: SeqNumber,
    /// RFC 6937 `prr_delivered`: bytes delivered to the receiver since
    /// the episode began.
    pub prr_delivered: usize,
    /// RFC 6937 `prr_out`: bytes sent since the episode began.
    pub prr_out: usize,
    /// RFC 6937 `RecoverFS`: the flight when the episode began.
    pub recover_fs: usize,
}

impl Episode {
    /// RFC 6675 §5 step (4): a new episode. RFC 6675 §5 (4.1):
    /// RecoveryPoint = HighData; (4.3): RescueRxt starts at the end of the
    /// first retransmitted segment (`first_end`), so that no rescue
    /// retransmission goes out before that segment is acknowledged.
    /// RFC 6937 §3: prr_delivered = prr_out = 0, RecoverFS = SND.NXT −
    /// SND.UNA.
    pub fn new(una: SeqNumber, snd_max: SeqNumber, first_end: SeqNumber) -> Self {
        Episode {
            point: snd_max,
            rescue_rxt: first_end,
            prr_delivered: 0,
            prr_out: 0,
            recover_fs: snd_max.since(una),
        }
    }

    /// RFC 6937 §3, on every ACK during recovery: `delivered` bytes
    /// (DeliveredData = change in SND.UNA + change in SACKed bytes) reached
    /// the receiver; returns the new cwnd, `pipe + sndcnt`.
    pub fn prr_on_ack(
        &mut self,
        delivered: usize,
        pipe: usize,
        ssthresh: usize,
        mss: usize,
    ) -> usize {
        self.prr_delivered += delivered;
        let sndcnt = if pipe > ssthresh {
            // RFC 6937 §3 proportional part:
            // sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
            let fs = self.recover_fs.max(1) as u128;
            let target = (self.prr_delivered as u128 * ssthresh as u128).div_ceil(fs);
            (target as usize).saturating_sub(self.prr_out)
        } else {
            // RFC 6937 §3 PRR-SSRB (slow-start reduction bound):
            // limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS,
            // sndcnt = MIN(ssthresh - pipe, limit).
            let limit = self
                .prr_delivered
                .saturating_sub(self.prr_out)
                .max(delivered)
                + mss;
            (ssthresh - pipe).min(limit)
        };
        // RFC 6937 §3 (and Linux): the fast retransmit that starts the
        // episode goes out even when the first sndcnt rounds to nothing.
        let sndcnt = if self.prr_out == 0 {
            sndcnt.max(mss)
        } else {
            sndcnt
        };
        pipe + sndcnt
    }

    /// RFC 6937 §3: "On any data transmission or retransmission:
    /// prr_out += (data sent)".
    pub fn on_sent(&mut self, len: usize) {
        self.prr_out += len;
    }
}

/// RFC 6675 §4 `NextSeg()`.
///
/// `una` is HighACK (SND.UNA), `snd_max` HighData, `high_rxt` the end of
/// the highest retransmitted byte, `new_data` whether unsent data is
/// queued and the receive window admits it, `lost` the loss edge below
/// which unSACKed octets are lost (`IsLost()`; RFC 8985 §6 RACK marks
/// them, see [`super::rack`]).
pub fn next_seg(
    sb: &Scoreboard,
    ep: &Episode,
    una: SeqNumber,
    snd_max: SeqNumber,
    high_rxt: SeqNumber,
    new_data: bool,
    lost: Option<SeqNumber>,
) -> NextSeg {
    let Some(top) = sb.highest() else {
        // No SACK information at all: nothing but new data or the rescue.
        return rescue_or_nothing(sb, ep, una, snd_max, high_rxt, new_data);
    };
    // (1.a) S2 > HighRxt: the first unSACKed byte not yet retransmitted.
    let s2 = sb.unsacked_from(high_rxt.max(una));
    // (1.b) S2 below the highest SACKed octet.
    if s2 < top && s2 < snd_max {
        // Rule (1): (1.c) IsLost(S2): retransmit.
        if lost.is_some_and(|e| s2 < e) {
            return NextSeg::Retransmit {
                seq: s2,
                rescue: false,
            };
        }
        // Rule (2): new data first.
        if new_data {
            return NextSeg::NewData;
        }
        // Rule (3): the same S2 without the loss test.
        return NextSeg::Retransmit {
            seq: s2,
            rescue: false,
        };
    }
    rescue_or_nothing(sb, ep, una, snd_max, high_rxt, new_data)
}

fn rescue_or_nothing(
    sb: &Scoreboard,
    ep: &Episode,
    una: SeqNumber,
    snd_max: SeqNumber,
    high_rxt: SeqNumber,
    new_data: bool,
) -> NextSeg {
    if new_data {
        // Rule (2).
        return NextSeg::NewData;
    }
    // Rule (4): one rescue retransmission per episode, when HighACK is
    // above RescueRxt, of a segment holding the highest outstanding
    // unSACKed byte. (HighACK > RescueRxt with RescueRxt an inclusive
    // octet is SND.UNA ≥ its exclusive end.) strata narrows the rule to a
    // highest hole that was never retransmitted (its end above HighRxt):
    // the rescue exists for a lost tail that nothing above can reveal,
    // and a hole already retransmitted is counted in pipe and watched by
    // the retransmission timer; resending it again would only duplicate.
    if una >= ep.rescue_rxt {
        if let Some((start, end)) = sb.highest_hole(una, snd_max) {
            if end > high_rxt {
                return NextSeg::Retransmit {
                    seq: start,
                    rescue: true,
                };
            }
        }
    }
    // Rule (5).
    NextSeg::Nothing
}

/// Where the rule (4) rescue segment of at most `mss` bytes starts: it
/// must include the highest outstanding unSACKed byte.
pub fn rescue_start(
    sb: &Scoreboard,
    una: SeqNumber,
    snd_max: SeqNumber,
    mss: usize,
) -> Option<SeqNumber> {
    let (start, end) = sb.highest_hole(una, snd_max)?;
    Some(start.max(SeqNumber(end.0.wrapping_sub(mss as u32))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    fn s(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    #[test]
    fn scoreboard_merges_and_skips_across_wrap() {
        let mut sb = Scoreboard::new();
        let una = SeqNumber(u32::MAX - 100);
        let max = una + 10_000usize;
        sb.update(
            &[
                (una + 1000usize, una + 2000usize),
                (una + 3000usize, una + 4000usize),
            ],
            una,
            max,
        );
        assert_eq!(
            sb.update(&[(una + 2000usize, una + 2500usize)], una, max),
            500
        );
        assert_eq!(sb.sacked_until(una + 1500usize), Some(una + 2500usize));
        assert_eq!(sb.next_sacked_after(una), Some(una + 1000usize));
        assert_eq!(sb.sacked_bytes(), 2500);
        // Blocks beyond what was sent are ignored.
        assert_eq!(sb.update(&[(max, max + 10usize)], una, max), 0);
        sb.update(&[], una + 3500usize, max);
        assert_eq!(sb.sacked_bytes(), 500);
    }

    #[test]
    fn is_lost_follows_dupthresh() {
        // RFC 6675 §4: more than two segments' worth SACKed above, or
        // three discontiguous ranges above.
        let mut sb = Scoreboard::new();
        let (una, max) = (s(0), s(20_000));
        sb.update(&[(s(1000), s(3000))], una, max);
        // Two segments above 0: not yet lost.
        assert!(!sb.is_lost(s(0), MSS));
        sb.update(&[(s(3000), s(3001))], una, max);
        // 2001 bytes > (3 - 1) * 1000: lost.
        assert!(sb.is_lost(s(0), MSS));
        assert!(!sb.is_lost(s(3001), MSS));
        // Three small discontiguous ranges above 5000: lost.
        let mut sb = Scoreboard::new();
        sb.update(
            &[(s(6000), s(6001)), (s(7000), s(7001)), (s(8000), s(8001))],
            una,
            max,
        );
        assert!(sb.is_lost(s(5000), MSS));
        assert!(!sb.is_lost(s(6500), MSS));
    }

    #[test]
    fn pipe_counts_unsacked_not_lost_and_retransmitted() {
        // 10 segments out, 1 and 3 lost, the rest SACKed above them.
        let mut sb = Scoreboard::new();
        let (una, max) = (s(1000), s(11_000));
        sb.update(&[(s(2000), s(3000)), (s(4000), s(11_000))], una, max);
        // Both holes are lost: nothing in the network.
        assert_eq!(sb.pipe(una, max, una, sb.lost_edge(MSS)), 0);
        // The first hole retransmitted: one segment in the network.
        assert_eq!(sb.pipe(una, max, s(2000), sb.lost_edge(MSS)), MSS);
        // Unsacked data above the loss edge counts once.
        let max2 = s(13_000);
        assert_eq!(sb.pipe(una, max2, s(2000), sb.lost_edge(MSS)), 3 * MSS);
    }

    #[test]
    fn next_seg_rules() {
        let mut sb = Scoreboard::new();
        let (una, max) = (s(1000), s(11_000));
        sb.update(&[(s(2000), s(3000)), (s(4000), s(9000))], una, max);
        let ep = Episode::new(una, max, s(2000));
        // Rule 1: the first lost hole above HighRxt.
        assert_eq!(
            next_seg(&sb, &ep, una, max, una, true, sb.lost_edge(MSS)),
            NextSeg::Retransmit {
                seq: s(1000),
                rescue: false
            }
        );
        assert_eq!(
            next_seg(&sb, &ep, una, max, s(2000), true, sb.lost_edge(MSS)),
            NextSeg::Retransmit {
                seq: s(3000),
                rescue: false
            }
        );
        // Rule 2: no lost hole left above HighRxt: new data.
        assert_eq!(
            next_seg(&sb, &ep, una, max, s(4000), true, sb.lost_edge(MSS)),
            NextSeg::NewData
        );
        // Rule 4 needs HighACK above RescueRxt: not yet.
        assert_eq!(
            next_seg(&sb, &ep, una, max, s(4000), false, sb.lost_edge(MSS)),
            NextSeg::Nothing
        );
        // After the first retransmission is acknowledged, the rescue.
        let una2 = s(2000);
        sb.prune(una2);
        let got = next_seg(&sb, &ep, una2, max, s(4000), false, sb.lost_edge(MSS));
        assert_eq!(
            got,
            NextSeg::Retransmit {
                seq: s(9000),
                rescue: true
            }
        );
        assert_eq!(rescue_start(&sb, una2, max, MSS), Some(s(10_000)));
        // No rescue of a highest hole that was already retransmitted.
        assert_eq!(
            next_seg(&sb, &ep, una2, max, max, false, sb.lost_edge(MSS)),
            NextSeg::Nothing
        );
        // Rule 3: an unSACKed hole that is not (yet) lost.
        let mut sb = Scoreboard::new();
        sb.update(&[(s(2000), s(2500))], una, max);
        let ep = Episode::new(una, max, s(2000));
        assert_eq!(
            next_seg(&sb, &ep, una, max, una, false, sb.lost_edge(MSS)),
            NextSeg::Retransmit {
                seq: s(1000),
                rescue: false
            }
        );
        assert_eq!(
            next_seg(&sb, &ep, una, max, una, true, sb.lost_edge(MSS)),
            NextSeg::NewData
        );
    }

    #[test]
    fn prr_reduces_proportionally_then_slow_starts() {
        // RFC 6937 §3: 20 segments in flight, ssthresh 10: about one
        // segment out for every two delivered.
        let mut ep = Episode::new(s(0), s(20_000), s(1000));
        let ssthresh = 10 * MSS;
        let mut out = 0;
        for i in 0..10 {
            let pipe = 19 * MSS - i * MSS + out;
            let cwnd = ep.prr_on_ack(MSS, pipe, ssthresh, MSS);
            let sndcnt = cwnd - pipe;
            ep.on_sent(sndcnt);
            out += sndcnt;
        }
        assert_eq!(ep.prr_out, 5 * MSS);
        // Below ssthresh PRR-SSRB grows by at most one MSS beyond what
        // was delivered.
        let mut ep = Episode::new(s(0), s(20_000), s(1000));
        ep.on_sent(MSS);
        let cwnd = ep.prr_on_ack(MSS, 2 * MSS, ssthresh, MSS);
        assert_eq!(cwnd, 2 * MSS + 2 * MSS);
    }
}
