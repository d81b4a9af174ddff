//! CUBIC's window growth (RFC 9438), the congestion-avoidance half of
//! [`super::congestion::Controller`] when it runs [`Algorithm::Cubic`]
//! (slow start, fast retransmit and recovery are shared with NewReno).
//!
//! After a congestion event the window follows a cubic function of the
//! time since the event (RFC 9438 §4.2, equation 1):
//!
//! ```text
//! W_cubic(t) = C·(t − K)³ + W_max,   K = ∛((W_max − cwnd_epoch) / C)
//! ```
//!
//! concave up to `W_max`, the window where the last loss happened, flat
//! around it, then convex as it probes beyond. Windows are in segments
//! and times in seconds in the formulas; [`Cubic`] keeps bytes and
//! converts with the MSS. Independent of the RTT, this grows much faster
//! than Reno on long fat paths; on short paths the *Reno-friendly* estimate
//! `W_est` (§4.3) keeps CUBIC at least as fast as Reno would be.
//!
//! [`Algorithm::Cubic`]: super::congestion::Algorithm::Cubic

use crate::time::{Duration, Instant};

/// RFC 9438 §5: C = 0.4.
pub const C: f64 = 0.4;
/// RFC 9438 §4.6: β_cubic = 0.7, the multiplicative decrease factor.
pub const BETA: f64 = 0.7;
/// RFC 9438 §4.3: α_cubic = 3·(1 − β) / (1 + β), Reno-friendly growth.
pub const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// CUBIC's state between congestion events: 24 bytes, inline in every
/// connection (stored as `f32`, computed in `f64`; a window of 1 GB keeps
/// its value to within 64 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cubic {
    /// W_max in bytes: the window just before the last reduction
    /// (after fast convergence, §4.7). 0 before the first loss.
    w_max: f32,
    /// K in seconds (§4.2 equation 2).
    k: f32,
    /// When the current congestion-avoidance epoch began (§4.2: the first
    /// ACK in congestion avoidance after slow start or a reduction).
    epoch_start: Option<Instant>,
    /// W_est in bytes (§4.3).
    w_est: f32,
    /// cwnd just before the last reduction, for W_est's α switch (§4.3).
    cwnd_prior: f32,
}

impl Default for Cubic {
    fn default() -> Self {
        Cubic {
            w_max: 0.0,
            k: 0.0,
            epoch_start: None,
            w_est: 0.0,
            cwnd_prior: 0.0,
        }
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl Cubic {
    /// W_max in bytes (0 before the first congestion event).
    pub fn w_max(&self) -> usize {
        self.w_max as usize
    }

    /// K in seconds: when the window regains W_max after the last event.
    pub fn k(&self) -> f64 {
        f64::from(self.k)
    }

    /// A congestion event (loss detected by duplicate ACKs, or an RTO)
    /// with the window at `cwnd` bytes: remembers W_max, with fast
    /// convergence (§4.7), and returns the new ssthresh: cwnd · β (§4.6),
    /// at least two segments.
    pub fn on_congestion(&mut self, cwnd: usize, mss: usize) -> usize {
        let cwnd = cwnd as f64;
        // §4.7 fast convergence: a flow whose W_max keeps shrinking gives
        // bandwidth up to newcomers by remembering less than it had.
        let w_max = if cwnd < f64::from(self.w_max) {
            cwnd * (1.0 + BETA) / 2.0
        } else {
            cwnd
        };
        self.w_max = w_max as f32;
        self.cwnd_prior = cwnd as f32;
        self.epoch_start = None;
        ((cwnd * BETA) as usize).max(2 * mss)
    }

    /// The sender was idle or the epoch must restart (§5.8: a new epoch
    /// starts at the next ACK, from the window the sender then has, so an
    /// idle period does not count as time to grow).
    pub fn restart_epoch(&mut self) {
        self.epoch_start = None;
    }

    /// §5.8: the sender was idle for `idle` with the window kept (RFC 7661
    /// window validation): the epoch's start moves forward by the idle
    /// time, so t counts only time spent sending and the window resumes
    /// the curve where it left it instead of jumping along it.
    pub fn shift_epoch(&mut self, idle: Duration) {
        if let Some(s) = self.epoch_start {
            self.epoch_start = Some(s.saturating_add(idle));
        }
    }

    /// §4.10: slow start ended without a congestion event (HyStart++):
    /// cwnd_prior = cwnd, and the next epoch starts with W_max = cwnd and
    /// K = 0.
    pub fn on_slow_start_exit(&mut self, cwnd: usize) {
        self.w_max = 0.0;
        self.cwnd_prior = cwnd as f32;
        self.epoch_start = None;
    }

    /// Congestion avoidance: `acked` bytes were acknowledged at `now` with
    /// the window at `cwnd`; `rtt` is the smoothed RTT; `after_timeout`
    /// marks the first congestion avoidance after an RTO (§4.8). Returns
    /// the new window in bytes (§4.2–§4.4).
    pub fn on_ack(
        &mut self,
        now: Instant,
        rtt: Duration,
        cwnd: usize,
        acked: usize,
        mss: usize,
        after_timeout: bool,
    ) -> usize {
        let seg = mss as f64;
        let cwnd_f = cwnd as f64;
        let start = match self.epoch_start {
            Some(s) => s,
            None => {
                // §4.2: a new epoch. K from the distance to W_max (0 when
                // the window is already above it: then W_max = cwnd).
                self.epoch_start = Some(now);
                // §4.8: in the first congestion avoidance after a timeout
                // "K is set to 0, and W_max is set to the congestion window
                // size at the beginning of the current congestion avoidance
                // stage" (and W_est to it, below).
                if after_timeout || f64::from(self.w_max) <= cwnd_f {
                    self.w_max = cwnd_f as f32;
                    self.k = 0.0;
                } else {
                    self.k = ((f64::from(self.w_max) - cwnd_f) / seg / C).cbrt() as f32;
                }
                self.w_est = cwnd_f as f32;
                now
            }
        };
        let t = secs(now.saturating_duration_since(start));
        let (k, w_max) = (f64::from(self.k), f64::from(self.w_max));
        let w_cubic = |t: f64| (C * (t - k).powi(3)) * seg + w_max;
        // §4.3 Reno-friendly region: W_est grows by α segments per window
        // of acknowledged data (1 once it passed cwnd_prior).
        let mut w_est = f64::from(self.w_est);
        let alpha = if w_est >= f64::from(self.cwnd_prior) {
            1.0
        } else {
            ALPHA
        };
        w_est += alpha * seg * (acked as f64) / cwnd_f.max(seg);
        self.w_est = w_est as f32;
        if w_cubic(t) < w_est {
            return (w_est as usize).max(cwnd);
        }
        // §4.4/§4.5: the target one RTT ahead, kept within
        // [cwnd, 1.5·cwnd]; cwnd moves toward it by (target − cwnd)/cwnd
        // per acknowledged segment.
        let target = w_cubic(t + secs(rtt)).clamp(cwnd_f, 1.5 * cwnd_f);
        let grow = (target - cwnd_f) * (acked as f64) / cwnd_f.max(seg);
        cwnd + grow as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    /// Drives congestion avoidance with one window of ACKs per RTT and
    /// returns the window (in segments) at the end of each RTT.
    fn rounds(c: &mut Cubic, mut cwnd: usize, start: Instant, rtt: Duration, n: usize) -> Vec<f64> {
        let mut out = Vec::new();
        let mut now = start;
        for _ in 0..n {
            let segs = cwnd / MSS;
            for _ in 0..segs {
                cwnd = c.on_ack(now, rtt, cwnd, MSS, MSS, false);
            }
            now += rtt;
            out.push(cwnd as f64 / MSS as f64);
        }
        out
    }

    #[test]
    fn the_window_regains_w_max_after_k_seconds_then_probes_beyond() {
        // A loss at 1000 segments: ssthresh = 700 segments, K = ∛(300/0.4) ≈ 9.09 s.
        let mut c = Cubic::default();
        let ssthresh = c.on_congestion(1000 * MSS, MSS);
        assert_eq!(ssthresh, 700 * MSS);
        let rtt = Duration::from_millis(100);
        let w = rounds(&mut c, ssthresh, Instant::from_secs(1), rtt, 200);
        assert!(
            (c.k() - (300.0f64 / 0.4).cbrt()).abs() < 1e-5,
            "K {}",
            c.k()
        );
        // Concave: fast at first, slowing toward W_max.
        let gain = |a: usize, b: usize| w[b] - w[a];
        assert!(gain(0, 10) > gain(40, 50), "{w:?}");
        // At t ≈ K (91 RTTs of 100 ms; the target looks one RTT ahead):
        // within a few segments of W_max = 1000.
        assert!((w[89] - 1000.0).abs() < 5.0, "w(K) = {}", w[89]);
        // Then convex: beyond W_max and accelerating.
        assert!(
            w[199] > 1100.0 && gain(150, 199) > gain(100, 149),
            "{}",
            w[199]
        );
    }

    #[test]
    fn on_a_short_path_the_reno_friendly_estimate_leads() {
        // 1 ms RTT: the cubic curve hardly moves in a few hundred RTTs,
        // W_est grows like Reno with α ≈ 0.53 segments per RTT.
        let mut c = Cubic::default();
        let ssthresh = c.on_congestion(100 * MSS, MSS);
        let w = rounds(
            &mut c,
            ssthresh,
            Instant::from_secs(1),
            Duration::from_millis(1),
            100,
        );
        let per_rtt = (w[50] - w[10]) / 40.0;
        assert!(
            (0.5..0.56).contains(&per_rtt),
            "growth {per_rtt} segments per RTT: {w:?}"
        );
        // Past cwnd_prior (100 segments) W_est grows like Reno itself: α = 1.
        let per_rtt = (w[99] - w[70]) / 29.0;
        assert!((0.95..1.05).contains(&per_rtt), "growth {per_rtt}: {w:?}");
    }

    #[test]
    fn fast_convergence_remembers_less_when_w_max_shrinks() {
        let mut c = Cubic::default();
        c.on_congestion(1000 * MSS, MSS);
        assert_eq!(c.w_max(), 1000 * MSS);
        // The next loss comes below the old W_max: W_max = 800·(1+β)/2 = 680.
        c.on_congestion(800 * MSS, MSS);
        assert_eq!(c.w_max(), 680 * MSS);
        // A loss above it is remembered as is.
        c.on_congestion(900 * MSS, MSS);
        assert_eq!(c.w_max(), 900 * MSS);
    }

    #[test]
    fn a_restarted_epoch_does_not_count_idle_time() {
        let mut c = Cubic::default();
        let mut cwnd = c.on_congestion(1000 * MSS, MSS);
        let rtt = Duration::from_millis(100);
        cwnd = c.on_ack(Instant::from_secs(1), rtt, cwnd, MSS, MSS, false);
        c.restart_epoch();
        // 60 s idle: a new epoch starts from the current window, so the
        // next ACK grows it by a fraction of a segment, not by the cubic
        // curve's value 60 s on.
        let after = c.on_ack(Instant::from_secs(61), rtt, cwnd, MSS, MSS, false);
        assert!(after - cwnd < MSS, "{cwnd} -> {after}");
    }
}
