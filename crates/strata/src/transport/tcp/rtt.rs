//! Round-trip time estimation and the retransmission timeout (RFC 6298,
//! required by RFC 9293 §3.8.1 MUST-18), with RTT measurement from
//! timestamps (RFC 7323 §4).

use crate::time::Duration;

/// Clock granularity G used in the RTO formula (RFC 6298 §2).
pub const DEFAULT_GRANULARITY: Duration = Duration::from_millis(1);
/// Initial RTO before any sample (RFC 6298 §2.1).
pub const INITIAL_RTO: Duration = Duration::from_secs(1);
/// RTO once data flows after a lost SYN or SYN-ACK (RFC 6298 §5.7).
pub const HANDSHAKE_LOSS_RTO: Duration = Duration::from_secs(3);
/// Upper bound on the RTO (RFC 6298 §2.5 allows a maximum of at least 60 s).
pub const MAX_RTO: Duration = Duration::from_secs(60);

/// SRTT/RTTVAR estimator with exponential backoff.
///
/// Kept compact (one per connection): times in nanoseconds, bounds and
/// granularity in microseconds.
#[derive(Debug, Clone)]
pub struct RttEstimator {
    /// Smoothed RTT in ns; 0 until the first sample.
    srtt: u64,
    rttvar: u64,
    base_rto: u64,
    backoff: u32,
    min_us: u32,
    max_us: u32,
    g_us: u32,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn micros32(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

impl RttEstimator {
    /// A fresh estimator: RTO = 1 s (RFC 6298 §2.1), clamped to `[min, max]`.
    pub fn new(min: Duration, max: Duration, granularity: Duration) -> Self {
        let min_us = micros32(min);
        let max_us = micros32(max).max(min_us);
        let mut e = RttEstimator {
            srtt: 0,
            rttvar: 0,
            base_rto: 0,
            backoff: 0,
            min_us,
            max_us,
            g_us: micros32(granularity),
        };
        e.base_rto = nanos(INITIAL_RTO).clamp(e.min(), e.max());
        e
    }

    fn min(&self) -> u64 {
        u64::from(self.min_us) * 1000
    }

    fn max(&self) -> u64 {
        u64::from(self.max_us) * 1000
    }

    /// Smoothed RTT, once a sample was taken.
    pub fn srtt(&self) -> Option<Duration> {
        (self.srtt != 0).then(|| Duration::from_nanos(self.srtt))
    }

    /// RTT variation.
    pub fn rttvar(&self) -> Duration {
        Duration::from_nanos(self.rttvar)
    }

    /// Number of consecutive backoffs applied.
    pub fn backoff(&self) -> u32 {
        self.backoff
    }

    /// The current RTO including backoff (RFC 6298 §5.5), at most the maximum.
    pub fn rto(&self) -> Duration {
        let shifted = self.base_rto.checked_shl(self.backoff).unwrap_or(u64::MAX);
        let v = if self.backoff >= 32 {
            self.max()
        } else {
            shifted.min(self.max())
        };
        Duration::from_nanos(v)
    }

    /// Take a sample `r` (RFC 6298 §2.2/§2.3). The caller applies Karn's
    /// rule: no samples from retransmitted segments unless timed by
    /// timestamps. `expected_samples` (≥ 1) is how many samples arrive per
    /// RTT; with timestamps every ACK gives one, and RFC 7323 Appendix G
    /// divides the gains by it so the estimator keeps its memory.
    pub fn sample(&mut self, r: Duration, expected_samples: u32) {
        let r = nanos(r);
        let n = u64::from(expected_samples.max(1));
        let r = r.max(1);
        if self.srtt == 0 {
            // RFC 6298 §2.2: first measurement.
            self.srtt = r;
            self.rttvar = r / 2;
        } else {
            // RFC 6298 §2.3 with alpha = 1/8, beta = 1/4 (divided by n,
            // RFC 7323 Appendix G).
            let srtt = self.srtt;
            let delta = srtt.abs_diff(r);
            self.rttvar = self.rttvar - self.rttvar / (4 * n) + delta / (4 * n);
            self.srtt = (srtt - srtt / (8 * n) + r / (8 * n)).max(1);
        }
        let srtt = self.srtt;
        // RFC 6298 §2.2/§2.3: RTO = SRTT + max(G, K*RTTVAR), K = 4;
        // §2.4/§2.5: clamped to [min, max].
        let g = u64::from(self.g_us) * 1000;
        let rto = srtt.saturating_add(g.max(4 * self.rttvar));
        self.base_rto = rto.clamp(self.min(), self.max());
        // A fresh sample ends the backoff (RFC 6298 §5.7 recomputes RTO).
        self.backoff = 0;
    }

    /// The retransmission timer expired: back off (RFC 6298 §5.5).
    pub fn on_timeout(&mut self) {
        if self.rto() < Duration::from_nanos(self.max()) {
            self.backoff += 1;
        }
    }

    /// Forget backoff without a sample (e.g. new data acked, Linux-like).
    pub fn reset_backoff(&mut self) {
        self.backoff = 0;
    }

    /// The SYN or SYN-ACK was retransmitted and the handshake gave no RTT
    /// sample: RFC 6298 §5.7, the RTO MUST be re-initialized to 3 s when
    /// data transmission begins (if it was below that).
    pub fn on_handshake_loss(&mut self) {
        self.backoff = 0;
        if self.srtt == 0 {
            let fallback = nanos(HANDSHAKE_LOSS_RTO).clamp(self.min(), self.max());
            self.base_rto = self.base_rto.max(fallback);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> RttEstimator {
        RttEstimator::new(Duration::from_millis(200), MAX_RTO, DEFAULT_GRANULARITY)
    }

    #[test]
    fn initial_and_first_sample() {
        let mut e = est();
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.sample(Duration::from_millis(100), 1);
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        // 100 + 4*50 = 300 ms.
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn smoothing_follows_rfc6298() {
        let mut e = est();
        e.sample(Duration::from_millis(100), 1);
        e.sample(Duration::from_millis(200), 1);
        // RTTVAR = 3/4*50 + 1/4*100 = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(362_500));
    }

    #[test]
    fn min_clamp_and_backoff_cap() {
        let mut e = est();
        e.sample(Duration::from_millis(1), 1);
        assert_eq!(e.rto(), Duration::from_millis(200));
        let mut seen = Vec::new();
        for _ in 0..12 {
            e.on_timeout();
            seen.push(e.rto().as_millis());
        }
        assert_eq!(
            seen,
            [400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000, 60000]
        );
        e.sample(Duration::from_millis(1), 1);
        assert_eq!(e.rto(), Duration::from_millis(200));
    }

    #[test]
    fn many_samples_per_rtt_damp_the_gain() {
        let mut a = est();
        let mut b = est();
        a.sample(Duration::from_millis(100), 1);
        b.sample(Duration::from_millis(100), 1);
        a.sample(Duration::from_millis(500), 1);
        b.sample(Duration::from_millis(500), 10);
        assert!(b.srtt().unwrap() < a.srtt().unwrap());
    }
}
