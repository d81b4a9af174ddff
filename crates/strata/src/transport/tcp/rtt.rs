//! Round-trip time estimation and the retransmission timeout (RFC 6298),
//! with RTT measurement from timestamps (RFC 7323 §4).

use crate::time::Duration;

/// Clock granularity G used in the RTO formula (RFC 6298 §2).
pub const DEFAULT_GRANULARITY: Duration = Duration::from_millis(1);
/// Initial RTO before any sample (RFC 6298 §2.1).
pub const INITIAL_RTO: Duration = Duration::from_secs(1);
/// Upper bound on the RTO (RFC 6298 §2.5 allows a maximum of at least 60 s).
pub const MAX_RTO: Duration = Duration::from_secs(60);

/// SRTT/RTTVAR estimator with exponential backoff.
#[derive(Debug, Clone)]
pub struct RttEstimator {
    srtt: Option<u64>,
    rttvar: u64,
    base_rto: u64,
    backoff: u32,
    min: u64,
    max: u64,
    g: u64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl RttEstimator {
    /// A fresh estimator: RTO = 1 s (RFC 6298 §2.1), clamped to `[min, max]`.
    pub fn new(min: Duration, max: Duration, granularity: Duration) -> Self {
        let min = nanos(min);
        let max = nanos(max).max(min);
        RttEstimator {
            srtt: None,
            rttvar: 0,
            base_rto: nanos(INITIAL_RTO).clamp(min, max),
            backoff: 0,
            min,
            max,
            g: nanos(granularity),
        }
    }

    /// Smoothed RTT, once a sample was taken.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt.map(Duration::from_nanos)
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
            self.max
        } else {
            shifted.min(self.max)
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
        match self.srtt {
            None => {
                // RFC 6298 §2.2: first measurement.
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                // RFC 6298 §2.3 with alpha = 1/8, beta = 1/4 (divided by n,
                // RFC 7323 Appendix G).
                let delta = srtt.abs_diff(r);
                self.rttvar = self.rttvar - self.rttvar / (4 * n) + delta / (4 * n);
                self.srtt = Some(srtt - srtt / (8 * n) + r / (8 * n));
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        // RFC 6298 §2.2/§2.3: RTO = SRTT + max(G, K*RTTVAR), K = 4;
        // §2.4/§2.5: clamped to [min, max].
        let rto = srtt.saturating_add(self.g.max(4 * self.rttvar));
        self.base_rto = rto.clamp(self.min, self.max);
        // A fresh sample ends the backoff (RFC 6298 §5.7 recomputes RTO).
        self.backoff = 0;
    }

    /// The retransmission timer expired: back off (RFC 6298 §5.5).
    pub fn on_timeout(&mut self) {
        if self.rto() < Duration::from_nanos(self.max) {
            self.backoff += 1;
        }
    }

    /// Forget backoff without a sample (e.g. new data acked, Linux-like).
    pub fn reset_backoff(&mut self) {
        self.backoff = 0;
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
