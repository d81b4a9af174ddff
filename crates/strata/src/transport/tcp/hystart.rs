//! HyStart++ (RFC 9406): leaving the initial slow start when the RTT
//! starts to grow, before the queue overflows.
//!
//! Slow start doubles the window every round trip until a loss; on a path
//! with a drop-tail queue that loss is a whole burst (up to half a window).
//! HyStart++ watches the smallest RTT sample of each round: when it rises
//! by more than `RttThresh` over the previous round's (the queue is
//! filling), the sender enters Conservative Slow Start (CSS), growing a
//! quarter as fast; after `CSS_ROUNDS` rounds of CSS it enters congestion
//! avoidance with ssthresh = cwnd. If the RTT falls back below the
//! baseline during CSS the exit was spurious and slow start resumes.
//!
//! The state lives in a box that exists only during the initial slow start
//! (RFC 9406 §4.3: HyStart++ runs only then), so it costs connections
//! nothing once they leave it.

use super::seq::SeqNumber;
use crate::time::Duration;

/// RFC 9406 §4.3 constants.
pub const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
/// RFC 9406 §4.3.
pub const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
/// RFC 9406 §4.3.
pub const MIN_RTT_DIVISOR: u32 = 8;
/// RFC 9406 §4.3: RTT samples a round needs before its minimum counts.
pub const N_RTT_SAMPLE: u32 = 8;
/// RFC 9406 §4.3: CSS grows the window this many times slower.
pub const CSS_GROWTH_DIVISOR: usize = 4;
/// RFC 9406 §4.3: rounds of CSS before congestion avoidance.
pub const CSS_ROUNDS: u32 = 5;

/// What the sender does with this ACK's slow-start increase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Standard slow start: the whole increase.
    SlowStart,
    /// Conservative slow start: a quarter of it (RFC 9406 §4.2).
    Css,
    /// CSS_ROUNDS rounds of CSS are over: ssthresh = cwnd, congestion
    /// avoidance from now on.
    Exit,
}

/// HyStart++ state of one connection's initial slow start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HyStart {
    /// The round ends when this sequence number is acknowledged
    /// (RFC 9406 §4.2 `windowEnd`, SND.NXT when the round began); None
    /// until the first ACK of the round sets it.
    window_end: Option<SeqNumber>,
    last_round_min: Option<Duration>,
    current_round_min: Option<Duration>,
    samples: u32,
    /// `cssBaselineMinRtt`: set while in CSS.
    css_baseline: Option<Duration>,
    css_rounds: u32,
}

impl Default for HyStart {
    fn default() -> Self {
        Self::new()
    }
}

impl HyStart {
    /// The state at the start of slow start.
    pub fn new() -> Self {
        HyStart {
            window_end: None,
            last_round_min: None,
            current_round_min: None,
            samples: 0,
            css_baseline: None,
            css_rounds: 0,
        }
    }

    /// True while in Conservative Slow Start.
    pub fn in_css(&self) -> bool {
        self.css_baseline.is_some()
    }

    /// An ACK of new data arrived in slow start: `ack` is the new SND.UNA,
    /// `snd_nxt` the next sequence number to send when it arrived (before
    /// the segments it releases), `rtt` the RTT sample it gave (if any).
    /// Returns what to do with the window increase.
    pub fn on_ack(&mut self, ack: SeqNumber, snd_nxt: SeqNumber, rtt: Option<Duration>) -> Phase {
        // RFC 9406 §4.2: a round is a window of data, from windowEnd =
        // SND.NXT at its start to the ACK of windowEnd. SND.NXT is taken
        // once the ACK that ended the last round has released its
        // segments: here, at the next ACK. Taken before them (at the ACK
        // itself), the round would end that many segments early, and in
        // slow start, where each ACK releases two, the boundary moves 2n + 2
        // segments further into the previous flight each round: a round's
        // first samples would then be the tail of a burst, where the queue
        // the burst itself built is longest, and its minimum would rise and
        // fall with the bursts (CSS entered, then judged spurious) instead
        // of showing a standing queue.
        let end = *self.window_end.get_or_insert(snd_nxt);
        // RFC 9406 §4.2: "currentRoundMinRTT = min(currentRoundMinRTT, RTT);
        // rttSampleCount += 1" for each arriving ACK with a sample.
        if let Some(r) = rtt {
            self.current_round_min = Some(self.current_round_min.map_or(r, |m| m.min(r)));
            self.samples += 1;
        }
        if self.samples >= N_RTT_SAMPLE {
            match (
                self.css_baseline,
                self.current_round_min,
                self.last_round_min,
            ) {
                (None, Some(cur), Some(last)) => {
                    // RFC 9406 §4.2: RttThresh = max(MIN_RTT_THRESH,
                    // min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH)).
                    let thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                    if cur >= last + thresh {
                        // The delay grew: exit slow start and enter CSS.
                        self.css_baseline = Some(cur);
                        self.css_rounds = 0;
                    }
                }
                (Some(base), Some(cur), _) if cur < base => {
                    // RFC 9406 §4.2: the round's minimum RTT fell below the
                    // baseline, the exit was spurious: resume slow start.
                    self.css_baseline = None;
                }
                _ => {}
            }
        }
        // RFC 9406 §4.2: a round ends when windowEnd is acknowledged; the
        // next one starts with lastRoundMinRTT = currentRoundMinRTT.
        if ack >= end {
            self.window_end = None;
            self.last_round_min = self.current_round_min.take();
            self.samples = 0;
            if self.in_css() {
                self.css_rounds += 1;
                if self.css_rounds >= CSS_ROUNDS {
                    // "If CSS_ROUNDS rounds are complete, enter congestion
                    // avoidance by setting the ssthresh to the current cwnd."
                    return Phase::Exit;
                }
            }
        }
        if self.in_css() {
            Phase::Css
        } else {
            Phase::SlowStart
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    /// One round of `n` ACKs with RTT `rtt`; the round ends at `end`.
    fn round(h: &mut HyStart, start: u32, n: u32, rtt: Duration) -> Vec<Phase> {
        let mut out = Vec::new();
        for i in 0..n {
            let ack = SeqNumber(start + (i + 1) * 1000);
            let nxt = SeqNumber(start + n * 1000 + (i + 1) * 2000);
            out.push(h.on_ack(ack, nxt, Some(rtt)));
        }
        out
    }

    #[test]
    fn a_delay_increase_enters_css_then_congestion_avoidance_after_five_rounds() {
        let mut h = HyStart::new();
        // window_end is set on the first ACK to SND.NXT then.
        h.window_end = Some(SeqNumber(10_000));
        assert!(round(&mut h, 0, 10, MS(20))
            .iter()
            .all(|p| *p == Phase::SlowStart));
        // 20 ms + max(4 ms, 20/8 ms) = 24 ms: 23 ms stays in slow start.
        let mut seq = 10_000;
        h.window_end = Some(SeqNumber(seq + 20_000));
        let p = round(&mut h, seq, 20, MS(23));
        assert!(p.iter().all(|p| *p == Phase::SlowStart), "{p:?}");
        seq += 20_000;
        h.window_end = Some(SeqNumber(seq + 20_000));
        // The round's minimum at 27 ms ≥ 23 + 4: CSS from the 8th sample.
        let p = round(&mut h, seq, 20, MS(27));
        assert_eq!(p[6], Phase::SlowStart);
        assert_eq!(p[7], Phase::Css, "{p:?}");
        seq += 20_000;
        let mut exit_round = None;
        for r in 1..=6 {
            h.window_end = Some(SeqNumber(seq + 20_000));
            let p = round(&mut h, seq, 20, MS(27));
            seq += 20_000;
            if p.contains(&Phase::Exit) {
                exit_round = Some(r);
                break;
            }
        }
        // The round that entered CSS counts as the first of CSS_ROUNDS.
        assert_eq!(exit_round, Some(CSS_ROUNDS - 1));
    }

    #[test]
    fn an_rtt_below_the_baseline_resumes_slow_start() {
        let mut h = HyStart::new();
        h.window_end = Some(SeqNumber(10_000));
        round(&mut h, 0, 10, MS(40));
        h.window_end = Some(SeqNumber(30_000));
        // 40 + 5 ms (40/8): 45 ms enters CSS.
        let p = round(&mut h, 10_000, 20, MS(45));
        assert_eq!(*p.last().unwrap(), Phase::Css);
        h.window_end = Some(SeqNumber(50_000));
        let p = round(&mut h, 30_000, 20, MS(41));
        assert_eq!(p[6], Phase::Css);
        assert_eq!(p[7], Phase::SlowStart, "{p:?}");
    }

    /// Slow start with an ACK per segment from IW 10: flight k holds
    /// 10·2^k segments of 1000 bytes; its i-th ACK sees `rtt(k, i)` and
    /// releases two segments of flight k + 1 (sent after the ACK is
    /// processed, so `snd_nxt` at the ACK excludes them). Returns, per
    /// flight, the phases of its ACKs.
    fn slow_start(
        h: &mut HyStart,
        flights: u32,
        rtt: impl Fn(u32, u32) -> Duration,
    ) -> Vec<Vec<Phase>> {
        let seg = 1000u32;
        let mut start = 0u32;
        let mut out = Vec::new();
        for k in 0..flights {
            let n = 10 << k;
            let next = start + n * seg;
            let phases = (0..n)
                .map(|i| {
                    let ack = SeqNumber(start + (i + 1) * seg);
                    let nxt = SeqNumber(next + 2 * i * seg);
                    h.on_ack(ack, nxt, Some(rtt(k, i)))
                })
                .collect();
            out.push(phases);
            start = next;
        }
        out
    }

    #[test]
    fn a_queue_each_burst_builds_and_drains_is_no_delay_increase() {
        // Each flight goes out at twice the bottleneck's rate: the queue
        // grows by one segment (0.12 ms at 100 Mbit/s) per ACK and drains
        // before the next flight (the window is below the BDP). Each
        // round's minimum is the path's 20 ms: nothing to exit for.
        let mut h = HyStart::new();
        let q = Duration::from_micros(120);
        let flights = slow_start(&mut h, 6, |_, i| MS(20) + q * i);
        let css: Vec<usize> = flights
            .iter()
            .map(|f| f.iter().filter(|p| **p != Phase::SlowStart).count())
            .collect();
        println!("ACKs in CSS per flight: {css:?} (reference: none)");
        assert!(css.iter().all(|&n| n == 0), "{css:?}");
        // A standing queue (each flight starts 6 ms later than the last,
        // more than max(4 ms, 20/8 ms)): CSS from the first flight that
        // shows it, then congestion avoidance.
        let mut h = HyStart::new();
        let flights = slow_start(&mut h, 9, |k, i| {
            MS(20 + 6 * u64::from(k.saturating_sub(3))) + q * i
        });
        let first_css = flights.iter().position(|f| f.contains(&Phase::Css));
        let exit = flights.iter().position(|f| f.contains(&Phase::Exit));
        println!("standing queue: CSS from flight {first_css:?}, exit in flight {exit:?}");
        assert_eq!(first_css, Some(4));
        assert_eq!(exit, Some(4 + CSS_ROUNDS as usize - 1));
    }

    #[test]
    fn fewer_than_eight_samples_decide_nothing() {
        let mut h = HyStart::new();
        h.window_end = Some(SeqNumber(7000));
        round(&mut h, 0, 7, MS(10));
        h.window_end = Some(SeqNumber(14_000));
        let p = round(&mut h, 7000, 7, MS(100));
        assert!(p.iter().all(|p| *p == Phase::SlowStart));
    }
}
