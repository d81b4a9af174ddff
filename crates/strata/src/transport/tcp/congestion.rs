//! Congestion control (RFC 9293 §3.8.2 MUST-19: slow start, congestion
//! avoidance and RTO backoff): the [`CongestionControl`] seam and its one
//! implementation, [`Controller`], which runs either [`Algorithm`]:
//!
//! * **NewReno**: RFC 5681 slow start and congestion avoidance, RFC 6582
//!   fast retransmit and fast recovery with partial ACKs, ssthresh =
//!   FlightSize / 2;
//! * **CUBIC** (RFC 9438): the same slow start and fast recovery, but
//!   ssthresh = cwnd · 0.7 and, in congestion avoidance, the cubic window
//!   growth of [`super::cubic`].
//!
//! One controller with two growth rules, rather than two controllers,
//! because the RFCs share everything but the decrease factor and the
//! growth in congestion avoidance. It lives inline in the connection (an
//! enum-free struct: no box, no dispatch on every ACK). The algorithm is
//! chosen stack-wide ([`super::TcpConfig::congestion_control`]) and per
//! socket ([`super::Tcp::set_congestion_control`]).
//!
//! The connection owns duplicate-ACK detection (RFC 5681 §2 definition)
//! and retransmission; the controller only decides the window and when a
//! fast retransmit happens.

use super::cubic::Cubic;
pub use super::recovery::Scoreboard;
use super::seq::SeqNumber;
use crate::time::{Duration, Instant};
use core::fmt::Debug;

/// Which congestion-control algorithm a connection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// RFC 5681 + RFC 6582.
    #[default]
    NewReno,
    /// RFC 9438.
    Cubic,
}

impl Algorithm {
    /// "newreno" or "cubic", as Linux names them.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::NewReno => "newreno",
            Algorithm::Cubic => "cubic",
        }
    }
}

impl core::str::FromStr for Algorithm {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "newreno" | "reno" => Ok(Algorithm::NewReno),
            "cubic" => Ok(Algorithm::Cubic),
            _ => Err("unknown congestion control (newreno, cubic)"),
        }
    }
}

/// What the sender must do after an acknowledgement of new data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckOutcome {
    /// Nothing special.
    Normal,
    /// A partial ACK during fast recovery (RFC 6582 §3.2 step 5): the
    /// first unacknowledged segment must be retransmitted now.
    PartialAck,
    /// The ACK ended fast recovery.
    RecoveryExit,
}

/// A congestion controller, one per connection.
pub trait CongestionControl: Debug + Send {
    /// The congestion window in bytes.
    fn cwnd(&self) -> usize;
    /// The slow-start threshold in bytes.
    fn ssthresh(&self) -> usize;
    /// True while in fast recovery.
    fn in_recovery(&self) -> bool;
    /// `acked` new bytes were acknowledged at `now`; `ack` is the new
    /// SND.UNA, `flight` the bytes outstanding before this ACK and `rtt`
    /// the smoothed round-trip time.
    fn on_ack(
        &mut self,
        at: AckTime,
        ack: SeqNumber,
        acked: usize,
        flight: usize,
        mss: usize,
    ) -> AckOutcome;
    /// The `count`-th consecutive duplicate ACK arrived (RFC 5681 §2).
    /// `snd_max` is the highest sequence number sent. Returns true when the
    /// sender must fast-retransmit the first unacknowledged segment now.
    fn on_dup_ack(
        &mut self,
        count: u32,
        ack: SeqNumber,
        snd_max: SeqNumber,
        flight: usize,
        mss: usize,
    ) -> bool;
    /// The retransmission timer expired (RFC 5681 §3.1 equation 4).
    fn on_rto(&mut self, snd_max: SeqNumber, flight: usize, mss: usize);
    /// The connection was idle longer than an RTO (RFC 5681 §4.1 restart window).
    fn on_idle_restart(&mut self, mss: usize);
    /// The SYN or SYN-ACK was lost: RFC 5681 §3.1, the initial window
    /// after a correctly transmitted SYN MUST be one segment.
    fn on_handshake_loss(&mut self, mss: usize);
}

/// When an ACK arrived and the smoothed RTT then (CUBIC's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckTime {
    /// The time of the ACK.
    pub now: Instant,
    /// The smoothed RTT.
    pub rtt: Duration,
}

/// Initial window (RFC 6928 §2): min(10*MSS, max(2*MSS, 14600)).
pub fn initial_window(mss: usize) -> usize {
    (10 * mss).min((2 * mss).max(14_600))
}

/// NewReno (RFC 5681 + RFC 6582) or CUBIC (RFC 9438), per [`Algorithm`].
#[derive(Debug, Clone)]
pub struct Controller {
    algorithm: Algorithm,
    /// CUBIC's state (unused under NewReno).
    cubic: Cubic,
    cwnd: usize,
    ssthresh: usize,
    /// RFC 6582 `recover`: highest sequence sent when recovery began.
    recover: SeqNumber,
    in_recovery: bool,
    /// Bytes acked during congestion avoidance not yet turned into cwnd.
    ca_acc: usize,
    /// RFC 6582 §3.2 step 5: only the first partial ACK resets the timer;
    /// the connection handles the timer, we only count.
    partial_acks: u32,
    /// The current recovery is SACK-based (RFC 6675): the connection
    /// drives it and sets the window (RFC 6937 PRR); no NewReno inflation.
    sack_recovery: bool,
}

impl Controller {
    /// A controller starting at the initial window (RFC 6928) with an
    /// arbitrarily high ssthresh (RFC 5681 §3.1).
    pub fn new(algorithm: Algorithm, mss: usize, isn: SeqNumber) -> Self {
        Controller {
            algorithm,
            cubic: Cubic::default(),
            cwnd: initial_window(mss),
            ssthresh: usize::MAX / 2,
            recover: isn,
            in_recovery: false,
            ca_acc: 0,
            partial_acks: 0,
            sack_recovery: false,
        }
    }

    /// The algorithm it runs.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Switches the algorithm, keeping the window and ssthresh; CUBIC
    /// starts a new epoch at the next ACK.
    pub fn set_algorithm(&mut self, algorithm: Algorithm) {
        if algorithm != self.algorithm {
            self.algorithm = algorithm;
            self.cubic = Cubic::default();
            self.ca_acc = 0;
        }
    }

    /// May a new loss-recovery episode begin at cumulative ACK `ack`?
    /// RFC 6582 §3.2 step 2 and RFC 6675 §5.1: not before the ACK covers
    /// `recover` (the highest sequence sent when the last episode or
    /// timeout began), so one window of losses reduces the window once.
    pub fn may_enter_recovery(&self, ack: SeqNumber) -> bool {
        !self.in_recovery && ack > self.recover
    }

    /// Enters SACK-based loss recovery (RFC 6675 §5 step 4) with `flight`
    /// bytes outstanding and `snd_max` the highest sequence sent.
    /// RFC 6675 (4.1) RecoveryPoint = HighData; (4.2) ssthresh by the
    /// algorithm's decrease rule (RFC 5681 equation 4, RFC 9438 §4.6) and
    /// cwnd = ssthresh, which PRR (RFC 6937) then replaces on every ACK.
    pub fn enter_sack_recovery(&mut self, snd_max: SeqNumber, flight: usize, mss: usize) {
        self.ssthresh = self.reduce(flight, mss);
        self.cwnd = self.ssthresh;
        self.recover = snd_max;
        self.in_recovery = true;
        self.sack_recovery = true;
        self.partial_acks = 0;
        self.ca_acc = 0;
    }

    /// A loss was repaired outside fast recovery (a tail loss probe that
    /// resent the last segment was acknowledged, RFC 8985 §7.4.2): the
    /// window is reduced once, as a fast recovery would have (RFC 5681
    /// equation 4, RFC 9438 §4.6).
    pub fn on_loss_repaired(&mut self, snd_max: SeqNumber, flight: usize, mss: usize) {
        if self.in_recovery {
            return;
        }
        self.ssthresh = self.reduce(flight, mss);
        self.cwnd = self.ssthresh;
        self.ca_acc = 0;
        self.recover = snd_max;
    }

    /// The window PRR computed for this ACK (RFC 6937 §3 `cwnd = pipe +
    /// sndcnt`); only during SACK-based recovery.
    pub fn set_recovery_cwnd(&mut self, cwnd: usize) {
        if self.in_recovery && self.sack_recovery {
            self.cwnd = cwnd;
        }
    }

    /// CUBIC's state (W_max, K), for statistics and tests.
    pub fn cubic(&self) -> &Cubic {
        &self.cubic
    }

    /// A congestion event with `flight` bytes outstanding: the new
    /// ssthresh (RFC 5681 §3.1 equation 4; RFC 9438 §4.6).
    fn reduce(&mut self, flight: usize, mss: usize) -> usize {
        match self.algorithm {
            Algorithm::NewReno => (flight / 2).max(2 * mss),
            Algorithm::Cubic => self.cubic.on_congestion(self.cwnd, mss),
        }
    }
}

impl CongestionControl for Controller {
    fn cwnd(&self) -> usize {
        self.cwnd
    }
    fn ssthresh(&self) -> usize {
        self.ssthresh
    }
    fn in_recovery(&self) -> bool {
        self.in_recovery
    }

    fn on_ack(
        &mut self,
        at: AckTime,
        ack: SeqNumber,
        acked: usize,
        flight: usize,
        mss: usize,
    ) -> AckOutcome {
        if self.in_recovery && self.sack_recovery {
            if ack >= self.recover {
                // RFC 6675 §5 (A): the cumulative ACK covers RecoveryPoint;
                // RFC 6937 §3: "cwnd = ssthresh" at the end of recovery.
                self.cwnd = self.ssthresh.max(mss);
                self.in_recovery = false;
                self.sack_recovery = false;
                return AckOutcome::RecoveryExit;
            }
            // PRR sets the window on every ACK; no partial-ACK handling.
            return AckOutcome::Normal;
        }
        if self.in_recovery {
            if ack >= self.recover {
                // RFC 6582 §3.2 step 4 (full acknowledgement), option 1:
                // cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
                let remaining = flight.saturating_sub(acked);
                self.cwnd = self.ssthresh.min(remaining.max(mss) + mss);
                self.in_recovery = false;
                self.partial_acks = 0;
                return AckOutcome::RecoveryExit;
            }
            // RFC 6582 §3.2 step 5: partial ACK. Deflate by the amount
            // acked, add back one SMSS if at least one SMSS was acked.
            self.cwnd = self.cwnd.saturating_sub(acked);
            if acked >= mss {
                self.cwnd += mss;
            }
            self.cwnd = self.cwnd.max(mss);
            self.partial_acks += 1;
            return AckOutcome::PartialAck;
        }
        // RFC 6582 §3.2: `recover` starts at the ISN and is compared with
        // the cumulative ACK modulo 2^32. Left behind, it would read as
        // "ahead" of the ACK after 2^31 loss-free bytes and block fast
        // retransmit; outside recovery it follows SND.UNA - 1, which keeps
        // both the comparison valid and its meaning (a duplicate ACK at
        // SND.UNA covers more than `recover`).
        let below = ack - 1usize;
        if self.recover < below {
            self.recover = below;
        }
        if acked == 0 {
            return AckOutcome::Normal;
        }
        if self.cwnd < self.ssthresh {
            // RFC 5681 §3.1 slow start (equation 2): cwnd += min(N, SMSS);
            // RFC 9438 §4.10: CUBIC's slow start is the same.
            self.cwnd += acked.min(mss);
        } else if self.algorithm == Algorithm::Cubic {
            // RFC 9438 §4.2–§4.5 congestion avoidance.
            self.cwnd = self.cubic.on_ack(at.now, at.rtt, self.cwnd, acked, mss);
        } else {
            // RFC 5681 §3.1 congestion avoidance by byte counting:
            // one SMSS per cwnd of acknowledged data (RFC 3465).
            self.ca_acc += acked;
            if self.ca_acc >= self.cwnd {
                self.ca_acc -= self.cwnd;
                self.cwnd += mss;
            }
        }
        AckOutcome::Normal
    }

    fn on_dup_ack(
        &mut self,
        count: u32,
        ack: SeqNumber,
        snd_max: SeqNumber,
        flight: usize,
        mss: usize,
    ) -> bool {
        if self.in_recovery && self.sack_recovery {
            // RFC 6675: the window follows pipe and PRR, not dup ACKs.
            return false;
        }
        if self.in_recovery {
            // RFC 6582 §3.2 step 3 / RFC 5681 §3.2 step 4: inflate.
            self.cwnd += mss;
            return false;
        }
        if count == 3 {
            // RFC 6582 §3.2 step 2: only when the ACK covers more than
            // `recover` (avoids multiple reductions per window).
            if ack <= self.recover {
                return false;
            }
            // RFC 5681 §3.2 step 2 (equation 4) and step 3; RFC 9438
            // §4.6 for CUBIC's β.
            self.ssthresh = self.reduce(flight, mss);
            self.recover = snd_max;
            self.in_recovery = true;
            self.partial_acks = 0;
            self.cwnd = self.ssthresh + 3 * mss;
            return true;
        }
        false
    }

    fn on_rto(&mut self, snd_max: SeqNumber, flight: usize, mss: usize) {
        // RFC 5681 §3.1 equation 4 (RFC 9438 §4.8 for CUBIC) and a loss
        // window of one segment.
        self.ssthresh = self.reduce(flight, mss);
        self.cwnd = mss;
        self.ca_acc = 0;
        self.in_recovery = false;
        self.sack_recovery = false;
        // RFC 6582 §3.2 step 1 after a timeout: recover = highest sent.
        self.recover = snd_max;
    }

    fn on_idle_restart(&mut self, mss: usize) {
        // RFC 5681 §4.1: RW = min(IW, cwnd); RFC 9438 §5.8: CUBIC's epoch
        // restarts, so the idle time does not count as growth time.
        self.cwnd = self.cwnd.min(initial_window(mss));
        self.cubic.restart_epoch();
    }

    fn on_handshake_loss(&mut self, mss: usize) {
        // RFC 5681 §3.1: "If the SYN or SYN/ACK is lost, the initial window
        // used by a sender after a correctly transmitted SYN MUST be one
        // segment consisting of at most SMSS bytes."
        self.cwnd = mss;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: AckTime = AckTime {
        now: Instant::ZERO,
        rtt: Duration::from_millis(100),
    };
    const MSS: usize = 1000;

    #[test]
    // covers: MUST-19
    fn slow_start_then_avoidance() {
        let mut c = Controller::new(Algorithm::NewReno, MSS, SeqNumber(0));
        assert_eq!(c.cwnd(), 10 * MSS);
        for _ in 0..10 {
            assert_eq!(
                c.on_ack(T, SeqNumber(0), MSS, 10 * MSS, MSS),
                AckOutcome::Normal
            );
        }
        assert_eq!(c.cwnd(), 20 * MSS);
        c.on_rto(SeqNumber(20_000), 20 * MSS, MSS);
        assert_eq!(c.cwnd(), MSS);
        assert_eq!(c.ssthresh(), 10 * MSS);
        // Slow start up to ssthresh.
        for _ in 0..9 {
            c.on_ack(T, SeqNumber(0), MSS, MSS, MSS);
        }
        assert_eq!(c.cwnd(), 10 * MSS);
        // Avoidance: one MSS per window.
        for _ in 0..9 {
            c.on_ack(T, SeqNumber(0), MSS, 10 * MSS, MSS);
        }
        assert_eq!(c.cwnd(), 10 * MSS);
        c.on_ack(T, SeqNumber(0), MSS, 10 * MSS, MSS);
        assert_eq!(c.cwnd(), 11 * MSS);
    }

    #[test]
    fn fast_recovery_with_partial_ack() {
        let mut c = Controller::new(Algorithm::NewReno, MSS, SeqNumber(0));
        let una = SeqNumber(1000);
        let max = SeqNumber(11_000);
        assert!(!c.on_dup_ack(1, una, max, 10 * MSS, MSS));
        assert!(!c.on_dup_ack(2, una, max, 10 * MSS, MSS));
        assert!(c.on_dup_ack(3, una, max, 10 * MSS, MSS));
        assert!(c.in_recovery());
        assert_eq!(c.ssthresh(), 5 * MSS);
        assert_eq!(c.cwnd(), 8 * MSS);
        assert!(!c.on_dup_ack(4, una, max, 10 * MSS, MSS));
        assert_eq!(c.cwnd(), 9 * MSS);
        // Partial ACK: 2 segments acked.
        assert_eq!(
            c.on_ack(T, SeqNumber(3000), 2 * MSS, 10 * MSS, MSS),
            AckOutcome::PartialAck
        );
        assert_eq!(c.cwnd(), 8 * MSS);
        // Full ACK ends recovery.
        assert_eq!(
            c.on_ack(T, SeqNumber(11_000), 8 * MSS, 8 * MSS, MSS),
            AckOutcome::RecoveryExit
        );
        assert!(!c.in_recovery());
        assert_eq!(c.cwnd(), 2 * MSS);
        // Duplicate ACKs for data below `recover` do not re-enter.
        assert!(!c.on_dup_ack(3, SeqNumber(5000), max, 4 * MSS, MSS));
    }
}
