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
use super::hystart::{HyStart, Phase, CSS_GROWTH_DIVISOR};
pub use super::recovery::Scoreboard;
use super::seq::SeqNumber;
use crate::time::{Duration, Instant};
use core::fmt::Debug;

/// Which congestion-control algorithm a connection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// RFC 5681 + RFC 6582.
    NewReno,
    /// RFC 9438, the default (as in Linux; RFC 9438 §1 for why).
    #[default]
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

/// The controller's switches beside the algorithm: stack-wide in
/// [`super::TcpConfig`] (`hystart`, `cwnd_validation`) and per socket
/// ([`super::Tcp::set_cc_options`]). Both are on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcOptions {
    /// HyStart++ (RFC 9406) in the initial slow start.
    pub hystart: bool,
    /// Congestion window validation (RFC 7661): the window does not grow
    /// while the sender does not use it, is kept (not cut to the restart
    /// window of RFC 5681 §4.1) across idle periods, and decays after five
    /// minutes of disuse.
    pub cwnd_validation: bool,
    /// Initial window in segments, 1..=255; 0 is RFC 6928's
    /// min(10·MSS, max(2·MSS, 14 600 bytes)).
    pub initial_window: u8,
}

impl Default for CcOptions {
    fn default() -> Self {
        CcOptions {
            hystart: true,
            cwnd_validation: true,
            initial_window: 0,
        }
    }
}

impl CcOptions {
    /// The initial window in bytes for segments of `mss` bytes.
    pub fn initial_window(&self, mss: usize) -> usize {
        match self.initial_window {
            0 => initial_window(mss),
            n => usize::from(n) * mss,
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
    /// `acked` new bytes were acknowledged at `at.now`; `ack` is the new
    /// SND.UNA, `flight` the bytes outstanding before this ACK.
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
    /// New data is about to be sent after the connection was idle (nothing
    /// in flight) for longer than an RTO: RFC 5681 §4.1's restart window,
    /// or with window validation RFC 7661 §4.3. `srtt` is the smoothed RTT.
    fn on_idle_restart(&mut self, now: Instant, srtt: Duration, mss: usize);
    /// New data leaves with nothing in flight, `idle` after the last data
    /// segment (RFC 9438 §5.8: CUBIC's clock does not run while idle).
    fn on_tx_start(&mut self, idle: Duration);
    /// The SYN or SYN-ACK was lost: RFC 5681 §3.1, the initial window
    /// after a correctly transmitted SYN MUST be one segment.
    fn on_handshake_loss(&mut self, mss: usize);
}

/// What the controller learns with an ACK beside the bytes it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckTime {
    /// The time of the ACK.
    pub now: Instant,
    /// The smoothed RTT.
    pub rtt: Duration,
    /// The RTT sample this ACK gave, if any (HyStart++, RFC 9406 §4.2).
    pub rtt_sample: Option<Duration>,
    /// SND.NXT when the ACK arrived (HyStart++'s rounds end there).
    pub snd_nxt: SeqNumber,
}

/// Initial window (RFC 6928 §2): min(10*MSS, max(2*MSS, 14600)).
pub fn initial_window(mss: usize) -> usize {
    (10 * mss).min((2 * mss).max(14_600))
}

/// RFC 3465 §2.2: in slow start cwnd grows by min(N, L·SMSS) per ACK
/// covering N new bytes; L = 2 SMSS, so a delayed ACK of two segments
/// grows the window by both (RFC 5681's min(N, SMSS) would halve slow
/// start's rate behind a delaying receiver).
pub const ABC_L: usize = 2;

/// RFC 7661 §4.4.3: NonValidatedPeriod, five minutes.
pub const NON_VALIDATED_PERIOD: Duration = Duration::from_secs(300);

/// ssthresh before any congestion: "arbitrarily high" (RFC 5681 §3.1).
const SSTHRESH_INIT: u32 = u32::MAX;

// Controller flags.
const IN_RECOVERY: u8 = 1;
const SACK_RECOVERY: u8 = 1 << 1;
/// Between an RTO and the first congestion-avoidance ACK after it.
const AFTER_RTO: u8 = 1 << 2;
const OPT_HYSTART: u8 = 1 << 3;
const OPT_CWV: u8 = 1 << 4;
/// RFC 7661 §4.3: the non-validated phase.
const NON_VALIDATED: u8 = 1 << 5;
/// The first pipeACK sample has begun.
const CWV_STARTED: u8 = 1 << 6;
/// RFC 7661 §4.4.1: the current loss recovery began in the non-validated
/// phase; its end sets the window from pipeACK, not from cwnd.
const NVP_LOSS: u8 = 1 << 7;

fn ms32(t: Instant) -> u32 {
    t.as_millis() as u32
}

fn clamp32(v: usize) -> u32 {
    v.min(u32::MAX as usize - 1) as u32
}

/// RFC 7661 state, inline (it is read on every ACK): times are a 32-bit
/// millisecond clock compared by wrapping difference.
#[derive(Debug, Clone, Copy, Default)]
struct Cwv {
    /// When the current pipeACK sample began.
    sample_start: u32,
    /// Bytes acknowledged since then.
    sample_acked: u32,
    /// cwnd when it began: what the sender could have had acknowledged.
    sample_cwnd: u32,
    /// Validated: when the last sample validated the window (pipeACK ≥
    /// cwnd / 2). In the non-validated phase (NON_VALIDATED): when the
    /// current NonValidatedPeriod began (§4.4.3).
    phase_at: u32,
    /// RFC 7661 §4.1 pipeACK, in bytes: the largest sample since the last
    /// one that validated the window. In the non-validated phase those
    /// samples span at least the pipeACK sampling period §4.1 asks for
    /// (possibly more), and every one of them is below cwnd / 2.
    pipe_ack: u32,
}

impl Cwv {
    // During a recovery that began in the non-validated phase (NVP_LOSS)
    // no sample runs (ACKs in recovery are not sampled, and sampling
    // starts afresh after it), so the sample's two counters hold RFC 7661
    // §4.4.1's LossFlightSize and R: the connection stays within its
    // cache lines.

    /// RFC 7661 §4.4.1 LossFlightSize: FlightSize when the loss was
    /// detected.
    fn loss_flight(&mut self) -> &mut u32 {
        &mut self.sample_cwnd
    }

    /// RFC 7661 §4.4.1 R: bytes retransmitted in the recovery since.
    fn retrans(&mut self) -> &mut u32 {
        &mut self.sample_acked
    }
}

/// NewReno (RFC 5681 + RFC 6582) or CUBIC (RFC 9438), per [`Algorithm`],
/// with ABC (RFC 3465), HyStart++ (RFC 9406) and window validation
/// (RFC 7661). 72 bytes inline in the connection; HyStart++'s state is
/// boxed and lives only during the initial slow start.
#[derive(Debug, Clone)]
pub struct Controller {
    algorithm: Algorithm,
    flags: u8,
    /// CcOptions::initial_window.
    iw: u8,
    /// CUBIC's state (unused under NewReno).
    cubic: Cubic,
    cwnd: u32,
    ssthresh: u32,
    /// RFC 6582 `recover`: highest sequence sent when recovery began.
    recover: SeqNumber,
    /// Bytes acked during congestion avoidance not yet turned into cwnd.
    ca_acc: u32,
    /// HyStart++ (RFC 9406) during the initial slow start.
    hystart: Option<Box<HyStart>>,
    cwv: Cwv,
}

impl Controller {
    /// A controller starting at the initial window (RFC 6928) with an
    /// arbitrarily high ssthresh (RFC 5681 §3.1).
    pub fn new(algorithm: Algorithm, options: CcOptions, mss: usize, isn: SeqNumber) -> Self {
        let mut c = Controller {
            algorithm,
            flags: 0,
            iw: options.initial_window,
            cubic: Cubic::default(),
            cwnd: clamp32(options.initial_window(mss)),
            ssthresh: SSTHRESH_INIT,
            recover: isn,
            ca_acc: 0,
            hystart: None,
            cwv: Cwv::default(),
        };
        c.set_options(options);
        c
    }

    fn flag(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn set_flag(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    fn set_cwnd(&mut self, v: usize) {
        self.cwnd = clamp32(v);
    }

    fn set_ssthresh(&mut self, v: usize) {
        self.ssthresh = clamp32(v);
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

    /// The switches in force.
    pub fn options(&self) -> CcOptions {
        CcOptions {
            hystart: self.flag(OPT_HYSTART),
            cwnd_validation: self.flag(OPT_CWV),
            initial_window: self.iw,
        }
    }

    /// Turns HyStart++ and window validation on or off; the initial
    /// window applies to restarts from now on (and to the connection's
    /// start when set before the handshake completes).
    pub fn set_options(&mut self, o: CcOptions) {
        self.iw = o.initial_window;
        self.set_flag(OPT_HYSTART, o.hystart);
        if !o.hystart {
            self.hystart = None;
        }
        self.set_flag(OPT_CWV, o.cwnd_validation);
        if !o.cwnd_validation {
            self.set_flag(NON_VALIDATED | CWV_STARTED | NVP_LOSS, false);
        }
    }

    /// True in HyStart++'s Conservative Slow Start (RFC 9406 §4.2).
    pub fn in_css(&self) -> bool {
        self.hystart.as_deref().is_some_and(HyStart::in_css)
    }

    /// True in RFC 7661's non-validated phase: the sender has not used half
    /// its window for a pipeACK sampling period, and cwnd does not grow.
    pub fn non_validated(&self) -> bool {
        self.flag(NON_VALIDATED)
    }

    /// May a new loss-recovery episode begin at cumulative ACK `ack`?
    /// RFC 6582 §3.2 step 2 and RFC 6675 §5.1: not before the ACK covers
    /// `recover` (the highest sequence sent when the last episode or
    /// timeout began), so one window of losses reduces the window once.
    ///
    /// `recover` is kept as SND.MAX at that moment, one past RFC 6582's
    /// "highest sequence number transmitted": an ACK equal to it covers
    /// everything sent then (the same test ends the episode), and a loss
    /// among the segments sent during the episode starts a new one.
    pub fn may_enter_recovery(&self, ack: SeqNumber) -> bool {
        !self.flag(IN_RECOVERY) && ack >= self.recover
    }

    /// Enters SACK-based loss recovery (RFC 6675 §5 step 4) with `flight`
    /// bytes outstanding and `snd_max` the highest sequence sent.
    /// RFC 6675 (4.1) RecoveryPoint = HighData; (4.2) ssthresh by the
    /// algorithm's decrease rule (RFC 5681 equation 4, RFC 9438 §4.6) and
    /// cwnd = ssthresh, which PRR (RFC 6937) then replaces on every ACK.
    pub fn enter_sack_recovery(&mut self, snd_max: SeqNumber, flight: usize, mss: usize) {
        let s = self.reduce_on_loss(flight, mss);
        self.set_ssthresh(s);
        self.cwnd = self.ssthresh;
        self.recover = snd_max;
        self.set_flag(IN_RECOVERY | SACK_RECOVERY, true);
        self.ca_acc = 0;
    }

    /// A loss was repaired outside fast recovery (a tail loss probe that
    /// resent the last segment was acknowledged, RFC 8985 §7.4.2): the
    /// window is reduced once, as a fast recovery would have (RFC 5681
    /// equation 4, RFC 9438 §4.6).
    pub fn on_loss_repaired(&mut self, snd_max: SeqNumber, flight: usize, mss: usize) {
        if self.flag(IN_RECOVERY) {
            return;
        }
        let s = self.reduce_on_loss(flight, mss);
        self.set_ssthresh(s);
        self.cwnd = self.ssthresh;
        self.ca_acc = 0;
        self.recover = snd_max;
        if self.flag(NVP_LOSS) {
            // RFC 7661 §4.4.1 with the recovery already over: R is the
            // probe, one segment at most.
            *self.cwv.retrans() = clamp32(mss);
            self.nvp_recovery_end(mss);
        }
    }

    /// Undoes a window reduction found spurious (RFC 3522 Eifel or RFC
    /// 3708 D-SACK detection) with the RFC 4015 §3.2 response: ssthresh
    /// back to `pipe_prev` (max(FlightSize, ssthresh) before the
    /// reduction), cwnd to at least `cwnd` (FlightSize + min(bytes_acked,
    /// IW): no burst, slow start climbs back to ssthresh), and CUBIC's
    /// W_max and epoch as they were (`prior`). The episode ends; a new one
    /// may begin at the next loss (`recover` below `una`).
    pub fn undo(&mut self, prior: &Controller, pipe_prev: usize, cwnd: usize, una: SeqNumber) {
        if prior.algorithm == self.algorithm {
            self.cubic = prior.cubic;
        }
        self.ssthresh = self.ssthresh.max(clamp32(pipe_prev));
        self.cwnd = self.cwnd.max(clamp32(cwnd));
        // Neither in recovery nor after a timeout any more.
        self.end_nvp_loss();
        self.set_flag(IN_RECOVERY | SACK_RECOVERY | AFTER_RTO, false);
        self.ca_acc = 0;
        self.recover = una - 1usize;
    }

    /// Lowers cwnd to at most `max` bytes (RFC 5682 §2.1 (3.a): a timeout
    /// F-RTO found genuine continues in slow start from no more than
    /// 3·MSS).
    pub fn cap_cwnd(&mut self, max: usize) {
        self.set_cwnd(self.cwnd().min(max));
    }

    /// The window PRR computed for this ACK (RFC 6937 §3 `cwnd = pipe +
    /// sndcnt`); only during SACK-based recovery.
    pub fn set_recovery_cwnd(&mut self, cwnd: usize) {
        if self.flag(IN_RECOVERY) && self.flag(SACK_RECOVERY) {
            self.set_cwnd(cwnd);
        }
    }

    /// CUBIC's state (W_max, K), for statistics and tests.
    pub fn cubic(&self) -> &Cubic {
        &self.cubic
    }

    /// A congestion event with `flight` bytes outstanding: the new
    /// ssthresh (RFC 5681 §3.1 equation 4; RFC 9438 §4.6). Slow start
    /// ends for good: HyStart++ is only for the initial one (RFC 9406 §4.3).
    fn reduce(&mut self, flight: usize, mss: usize) -> usize {
        self.hystart = None;
        self.set_flag(AFTER_RTO, false);
        match self.algorithm {
            Algorithm::NewReno => (flight / 2).max(2 * mss),
            // RFC 9438 §4.6 computes from cwnd, which it allows only with
            // measures that keep an unused cwnd from growing: RFC 7661
            // (`cwv_on_ack`) is that measure.
            Algorithm::Cubic => self.cubic.on_congestion(self.cwnd(), mss),
        }
    }

    /// A loss detected by ACKs (a fast recovery or a repaired tail loss)
    /// with `flight` bytes outstanding: the new ssthresh. In RFC 7661's
    /// non-validated phase cwnd says nothing of what the path carried, so
    /// the reduction starts from what it did (§4.4.1) and the end of the
    /// recovery sets the window from it ([`Controller::nvp_recovery_end`]).
    fn reduce_on_loss(&mut self, flight: usize, mss: usize) -> usize {
        if !(self.flag(OPT_CWV) && self.flag(NON_VALIDATED)) {
            self.end_nvp_loss();
            return self.reduce(flight, mss);
        }
        self.hystart = None;
        self.set_flag(AFTER_RTO, false);
        // RFC 7661 §4.4.1: LossFlightSize is the FlightSize when the loss
        // was detected; R counts the data retransmitted from now on.
        self.set_flag(NVP_LOSS, true);
        *self.cwv.loss_flight() = clamp32(flight);
        *self.cwv.retrans() = 0;
        let used = (self.cwv.pipe_ack as usize).max(flight);
        if self.algorithm == Algorithm::Cubic {
            // RFC 9438 §4.6 takes W_max from cwnd only where a measure
            // keeps an unused cwnd from standing for the path: here the
            // window in use, max(pipeACK, LossFlightSize), is that.
            self.cubic.on_congestion(used, mss);
        }
        // RFC 7661 §4.4.1: during the recovery the sender reduces to
        // max(pipeACK, LossFlightSize) / 2 (RFC 5681 equation 4's floor
        // of two segments).
        (used / 2).max(2 * mss)
    }

    /// The end of a loss recovery that began in the non-validated phase
    /// (RFC 7661 §4.4.1): "cwnd = (max(pipeACK, LossFlightSize) − R) / 2",
    /// R the data retransmitted in the recovery; ssthresh with it (at
    /// least two segments, RFC 5681 equation 4). The window now rests on
    /// what the path carried: pipeACK sampling starts again at the next
    /// ACK, validated, as at the connection's start (§4.1). False when the
    /// recovery did not begin in that phase.
    fn nvp_recovery_end(&mut self, mss: usize) -> bool {
        if !self.flag(NVP_LOSS) {
            return false;
        }
        let used = self.cwv.pipe_ack.max(*self.cwv.loss_flight()) as usize;
        let cwnd = (used.saturating_sub(*self.cwv.retrans() as usize) / 2).max(mss);
        self.set_cwnd(cwnd);
        self.set_ssthresh(cwnd.max(2 * mss));
        self.ca_acc = 0;
        self.set_flag(NVP_LOSS | NON_VALIDATED | CWV_STARTED, false);
        true
    }

    /// A recovery begun in the non-validated phase ends without §4.4.1's
    /// response (undone, or a timeout took over): the sample's counters
    /// held LossFlightSize and R, so sampling starts afresh at the next ACK.
    fn end_nvp_loss(&mut self) {
        if self.flag(NVP_LOSS) {
            self.set_flag(NVP_LOSS | CWV_STARTED, false);
        }
    }

    /// A retransmission of `bytes` went out: RFC 7661 §4.4.1's R while a
    /// recovery that began in the non-validated phase runs.
    pub fn on_retransmit(&mut self, bytes: usize) {
        if self.flag(NVP_LOSS) {
            let r = self.cwv.retrans();
            *r = r.saturating_add(clamp32(bytes));
        }
    }

    /// RFC 7661 §4.1 pipeACK in bytes: the most data acknowledged in one
    /// RTT over the last pipeACK sampling period (0 before a sample).
    pub fn pipe_ack(&self) -> usize {
        self.cwv.pipe_ack as usize
    }

    /// RFC 7661 §4.2: pipeACK sampling on an ACK of `acked` new bytes.
    /// Returns false in the non-validated phase, when cwnd must not grow
    /// (RFC 7661 §4.3; RFC 9438 §5.8 for CUBIC: no growth while
    /// application-limited).
    ///
    /// A sample is the data acknowledged in one smoothed RTT; pipeACK is
    /// the largest sample within the pipeACK sampling period PSP =
    /// max(3·RTT, 1 s). The sender is validated while pipeACK ≥ cwnd / 2.
    /// Each sample is compared with the cwnd at its start rather than the
    /// cwnd at its end: in slow start the window doubles within the very
    /// RTT being measured, and the ACKs of one RTT carry data sent under
    /// the earlier window.
    fn cwv_on_ack(&mut self, at: AckTime, acked: usize, flight: usize, mss: usize) -> bool {
        if !self.flag(OPT_CWV) {
            return true;
        }
        // The same test on this ACK alone: less than half the window was
        // outstanding, so the window was not what limited the sender (the
        // receiver's window or the application was). Growing it anyway
        // builds a window the path never saw, released in one burst when
        // the receiver's window opens (RFC 9438 §5.8: "CUBIC does not
        // increase cwnd when ... limited by ... the receiver application
        // (via the receiver's advertised window)").
        let used = flight.saturating_mul(2) >= self.cwnd();
        let now = ms32(at.now);
        if !self.flag(CWV_STARTED) {
            // RFC 7661 §4.1: a connection starts validated.
            self.set_flag(CWV_STARTED, true);
            self.cwv = Cwv {
                sample_start: now,
                sample_acked: 0,
                sample_cwnd: self.cwnd,
                phase_at: now,
                pipe_ack: 0,
            };
        }
        self.cwv.sample_acked = self.cwv.sample_acked.saturating_add(clamp32(acked));
        let rtt_ms = (at.rtt.as_millis() as u32).max(1);
        if now.wrapping_sub(self.cwv.sample_start) >= rtt_ms {
            if u64::from(self.cwv.sample_acked) * 2 >= u64::from(self.cwv.sample_cwnd) {
                self.cwv.phase_at = now;
                self.cwv.pipe_ack = 0;
                self.set_flag(NON_VALIDATED, false);
            } else {
                // RFC 7661 §4.1: pipeACK is the largest sample measured
                // over the PSP (here: since the window was last validated).
                self.cwv.pipe_ack = self.cwv.pipe_ack.max(self.cwv.sample_acked);
            }
            self.cwv.sample_start = now;
            self.cwv.sample_acked = 0;
            self.cwv.sample_cwnd = self.cwnd;
        }
        self.cwv_check(now, rtt_ms, mss);
        used && !self.flag(NON_VALIDATED)
    }

    /// Enters the non-validated phase once no sample validated the window
    /// for a PSP, and applies RFC 7661 §4.4.3 for every NonValidatedPeriod
    /// spent in it.
    fn cwv_check(&mut self, now: u32, rtt_ms: u32, mss: usize) {
        let psp = rtt_ms.saturating_mul(3).max(1000);
        if !self.flag(NON_VALIDATED) && now.wrapping_sub(self.cwv.phase_at) > psp {
            // RFC 7661 §4.3: pipeACK < (1/2)·cwnd: the non-validated phase.
            self.set_flag(NON_VALIDATED, true);
            self.cwv.phase_at = self.cwv.phase_at.wrapping_add(psp);
        }
        if !self.flag(NON_VALIDATED) {
            return;
        }
        let nvp = NON_VALIDATED_PERIOD.as_millis() as u32;
        // Bounded: eight halvings bring any window to the initial window.
        for _ in 0..8 {
            let spent = now.wrapping_sub(self.cwv.phase_at);
            if spent < nvp || spent > u32::MAX / 2 {
                break;
            }
            // RFC 7661 §4.4.3, at the end of the non-validated period:
            // ssthresh = max(ssthresh, 3·cwnd/4), cwnd = max(cwnd/2, IW).
            let cwnd = self.cwnd();
            if self.ssthresh != SSTHRESH_INIT {
                self.set_ssthresh(self.ssthresh().max(cwnd * 3 / 4));
            }
            self.set_cwnd((cwnd / 2).max(self.options().initial_window(mss)).min(cwnd));
            self.cwv.phase_at = self.cwv.phase_at.wrapping_add(nvp);
            self.cubic.restart_epoch();
        }
    }

    /// True when the next ACK in slow start starts HyStart++'s state
    /// ([`Controller::give_hystart`] may hand it a pooled one).
    pub(crate) fn wants_hystart(&self) -> bool {
        self.hystart.is_none() && self.flag(OPT_HYSTART) && self.ssthresh == SSTHRESH_INIT
    }

    /// The HyStart++ state to use from the next ACK on (a fresh one).
    pub(crate) fn give_hystart(&mut self, h: Box<HyStart>) {
        self.hystart = Some(h);
    }

    /// The boxed HyStart++ state, taken for reuse.
    pub(crate) fn take_hystart(&mut self) -> Option<Box<HyStart>> {
        self.hystart.take()
    }

    /// The slow-start increase for an ACK of `acked` bytes, through
    /// HyStart++ while it runs.
    fn slow_start(&mut self, at: AckTime, ack: SeqNumber, acked: usize, mss: usize) -> usize {
        // RFC 3465 §2.2: cwnd += min(N, L·SMSS) with L = 2; §2.3: L = 1
        // during the slow start that follows a retransmission timeout.
        let l = if self.flag(AFTER_RTO) { 1 } else { ABC_L };
        let inc = acked.min(l * mss);
        if self.flag(OPT_HYSTART) && self.ssthresh == SSTHRESH_INIT && acked > 1 {
            // RFC 9406 §4.3: only the initial slow start (ssthresh still at
            // its initial, arbitrarily high value).
            let hs = self.hystart.get_or_insert_with(Default::default);
            match hs.on_ack(ack, at.snd_nxt, at.rtt_sample) {
                Phase::SlowStart => {}
                // RFC 9406 §4.2: cwnd += min(N, L·SMSS) / CSS_GROWTH_DIVISOR.
                Phase::Css => return inc / CSS_GROWTH_DIVISOR,
                Phase::Exit => {
                    // "enter congestion avoidance by setting the ssthresh
                    // to the current cwnd"; RFC 9438 §4.10 for CUBIC.
                    self.ssthresh = self.cwnd;
                    self.hystart = None;
                    self.cubic.on_slow_start_exit(self.cwnd());
                    return 0;
                }
            }
        }
        inc
    }
}

impl CongestionControl for Controller {
    fn cwnd(&self) -> usize {
        self.cwnd as usize
    }
    fn ssthresh(&self) -> usize {
        if self.ssthresh == SSTHRESH_INIT {
            usize::MAX / 2
        } else {
            self.ssthresh as usize
        }
    }
    fn in_recovery(&self) -> bool {
        self.flag(IN_RECOVERY)
    }

    fn on_ack(
        &mut self,
        at: AckTime,
        ack: SeqNumber,
        acked: usize,
        flight: usize,
        mss: usize,
    ) -> AckOutcome {
        if self.flag(IN_RECOVERY) && self.flag(SACK_RECOVERY) {
            if ack >= self.recover {
                // RFC 6675 §5 (A): the cumulative ACK covers RecoveryPoint;
                // RFC 6937 §3: "cwnd = ssthresh" at the end of recovery,
                // RFC 7661 §4.4.1's window after a loss in the
                // non-validated phase.
                if !self.nvp_recovery_end(mss) {
                    self.set_cwnd(self.ssthresh().max(mss));
                }
                self.set_flag(IN_RECOVERY | SACK_RECOVERY, false);
                return AckOutcome::RecoveryExit;
            }
            // PRR sets the window on every ACK; no partial-ACK handling.
            return AckOutcome::Normal;
        }
        if self.flag(IN_RECOVERY) {
            if ack >= self.recover {
                // RFC 6582 §3.2 step 4 (full acknowledgement), option 1:
                // cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
                let remaining = flight.saturating_sub(acked);
                if !self.nvp_recovery_end(mss) {
                    self.set_cwnd(self.ssthresh().min(remaining.max(mss) + mss));
                }
                self.set_flag(IN_RECOVERY, false);
                return AckOutcome::RecoveryExit;
            }
            // RFC 6582 §3.2 step 5: partial ACK. Deflate by the amount
            // acked, add back one SMSS if at least one SMSS was acked.
            let mut cwnd = self.cwnd().saturating_sub(acked);
            if acked >= mss {
                cwnd += mss;
            }
            self.set_cwnd(cwnd.max(mss));
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
        let validated = self.cwv_on_ack(at, acked, flight, mss);
        if self.cwnd() < self.ssthresh() {
            // RFC 5681 §3.1 slow start (equation 2) with RFC 3465's byte
            // counting; RFC 9438 §4.10: CUBIC's slow start is the same.
            let inc = self.slow_start(at, ack, acked, mss);
            if validated {
                self.set_cwnd(self.cwnd() + inc);
            }
            return AckOutcome::Normal;
        }
        let after_rto = self.flags & AFTER_RTO != 0;
        self.set_flag(AFTER_RTO, false);
        if !validated {
            // RFC 7661 §4.3 / RFC 9438 §5.8: an unused window does not grow.
            return AckOutcome::Normal;
        }
        if self.algorithm == Algorithm::Cubic {
            // RFC 9438 §4.2–§4.5 congestion avoidance (§4.8 after an RTO).
            let w = self
                .cubic
                .on_ack(at.now, at.rtt, self.cwnd(), acked, mss, after_rto);
            self.set_cwnd(w);
        } else {
            // RFC 5681 §3.1 congestion avoidance by byte counting:
            // one SMSS per cwnd of acknowledged data (RFC 3465 §2.1).
            self.ca_acc = self.ca_acc.saturating_add(clamp32(acked));
            if self.ca_acc >= self.cwnd {
                self.ca_acc -= self.cwnd;
                self.set_cwnd(self.cwnd() + mss);
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
        if self.flag(IN_RECOVERY) && self.flag(SACK_RECOVERY) {
            // RFC 6675: the window follows pipe and PRR, not dup ACKs.
            return false;
        }
        if self.flag(IN_RECOVERY) {
            // RFC 6582 §3.2 step 3 / RFC 5681 §3.2 step 4: inflate.
            self.set_cwnd(self.cwnd() + mss);
            return false;
        }
        if count == 3 {
            // RFC 6582 §3.2 step 2: only when the ACK covers more than
            // `recover` (avoids multiple reductions per window); see
            // `may_enter_recovery` for the one-past convention.
            if !self.may_enter_recovery(ack) {
                return false;
            }
            // RFC 5681 §3.2 step 2 (equation 4) and step 3; RFC 9438
            // §4.6 for CUBIC's β; RFC 7661 §4.4.1 in the non-validated
            // phase.
            let s = self.reduce_on_loss(flight, mss);
            self.set_ssthresh(s);
            self.recover = snd_max;
            self.set_flag(IN_RECOVERY, true);
            self.set_cwnd(self.ssthresh() + 3 * mss);
            return true;
        }
        false
    }

    fn on_rto(&mut self, snd_max: SeqNumber, flight: usize, mss: usize) {
        // RFC 5681 §3.1 equation 4 (RFC 9438 §4.8 for CUBIC) and a loss
        // window of one segment.
        let s = self.reduce(flight, mss);
        self.set_ssthresh(s);
        self.set_cwnd(mss);
        self.ca_acc = 0;
        // A timeout ends any recovery, RFC 7661 §4.4.1's included: its
        // window of one segment stands.
        self.end_nvp_loss();
        self.set_flag(IN_RECOVERY | SACK_RECOVERY, false);
        // RFC 3465 §2.3 (L = 1 in this slow start) and RFC 9438 §4.8 (K = 0
        // in the first congestion avoidance after it).
        self.set_flag(AFTER_RTO, true);
        // RFC 6582 §3.2 step 1 after a timeout: recover = highest sent.
        self.recover = snd_max;
    }

    fn on_idle_restart(&mut self, now: Instant, srtt: Duration, mss: usize) {
        if self.flag(OPT_CWV) {
            // RFC 7661 §4.3: the window is preserved across the idle
            // period (no restart window); the idle time counts toward the
            // non-validated phase and its decay (§4.4.3).
            if self.flag(CWV_STARTED) {
                let rtt_ms = (srtt.as_millis() as u32).max(1);
                self.cwv_check(ms32(now), rtt_ms, mss);
            }
            return;
        }
        // RFC 5681 §4.1: RW = min(IW, cwnd); RFC 9438 §5.8: CUBIC's epoch
        // restarts, so the idle time does not count as growth time.
        self.set_cwnd(self.cwnd().min(self.options().initial_window(mss)));
        self.cubic.restart_epoch();
    }

    fn on_tx_start(&mut self, idle: Duration) {
        // RFC 9438 §5.8: t is the time CUBIC has been sending; the idle
        // period moves the epoch's start forward.
        self.cubic.shift_epoch(idle);
    }

    fn on_handshake_loss(&mut self, mss: usize) {
        // RFC 5681 §3.1: "If the SYN or SYN/ACK is lost, the initial window
        // used by a sender after a correctly transmitted SYN MUST be one
        // segment consisting of at most SMSS bytes."
        self.set_cwnd(mss);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: AckTime = AckTime {
        now: Instant::ZERO,
        rtt: Duration::from_millis(100),
        rtt_sample: None,
        snd_nxt: SeqNumber(0),
    };
    /// NewReno as RFC 5681 writes it: no HyStart++, no window validation.
    const PLAIN: CcOptions = CcOptions {
        hystart: false,
        cwnd_validation: false,
        initial_window: 0,
    };
    const MSS: usize = 1000;

    #[test]
    // covers: MUST-19
    fn slow_start_then_avoidance() {
        let mut c = Controller::new(Algorithm::NewReno, PLAIN, MSS, SeqNumber(0));
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
        let mut c = Controller::new(Algorithm::NewReno, PLAIN, MSS, SeqNumber(0));
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
        // A segment sent during the episode, the first after it, is lost:
        // duplicate ACKs at exactly `recover` (everything sent when the
        // episode began is acknowledged) start a new one (RFC 6582 §3.2
        // step 2: the ACK covers more than the highest sequence sent then).
        assert!(c.may_enter_recovery(max));
        assert!(c.on_dup_ack(3, max, SeqNumber(19_000), 8 * MSS, MSS));
        assert!(c.in_recovery());
    }
}

#[cfg(test)]
mod rfc_tests {
    //! ABC, HyStart++, window validation and CUBIC's timeout and idle
    //! rules, each against its RFC.
    use super::*;

    const MSS: usize = 1000;

    fn at(ms: u64, rtt_ms: u64, sample: Option<u64>, snd_nxt: u32) -> AckTime {
        AckTime {
            now: Instant::from_millis(ms),
            rtt: Duration::from_millis(rtt_ms),
            rtt_sample: sample.map(Duration::from_millis),
            snd_nxt: SeqNumber(snd_nxt),
        }
    }

    fn opts(hystart: bool, cwnd_validation: bool) -> CcOptions {
        CcOptions {
            hystart,
            cwnd_validation,
            initial_window: 0,
        }
    }

    #[test]
    fn the_defaults_are_hystart_and_validation() {
        assert_eq!(Algorithm::default(), Algorithm::Cubic);
        assert_eq!(CcOptions::default(), opts(true, true));
    }

    #[test]
    fn abc_grows_by_two_segments_per_delayed_ack_and_one_after_an_rto() {
        let mut c = Controller::new(Algorithm::NewReno, opts(false, false), MSS, SeqNumber(0));
        // RFC 3465 §2.2, L = 2: an ACK of two segments grows cwnd by two
        // (RFC 5681's min(N, SMSS) would give one); of three, by two.
        c.on_ack(at(0, 20, None, 0), SeqNumber(2000), 2 * MSS, 10 * MSS, MSS);
        assert_eq!(c.cwnd(), 12 * MSS);
        c.on_ack(at(0, 20, None, 0), SeqNumber(5000), 3 * MSS, 10 * MSS, MSS);
        assert_eq!(c.cwnd(), 14 * MSS);
        // §2.3: L = 1 in the slow start after a retransmission timeout.
        c.on_rto(SeqNumber(20_000), 14 * MSS, MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 7 * MSS));
        c.on_ack(at(0, 20, None, 0), SeqNumber(7000), 2 * MSS, MSS, MSS);
        assert_eq!(c.cwnd(), 2 * MSS);
    }

    #[test]
    fn cubic_after_a_timeout_starts_its_curve_at_the_window_with_k_zero() {
        let mut c = Controller::new(Algorithm::Cubic, opts(false, false), MSS, SeqNumber(0));
        // Grow to 100 segments, then a timeout: ssthresh 70, W_max 100.
        for i in 0..45 {
            c.on_ack(at(i, 20, None, 0), SeqNumber(1), 2 * MSS, 100 * MSS, MSS);
        }
        assert_eq!(c.cwnd(), 100 * MSS);
        c.on_rto(SeqNumber(100_000), 100 * MSS, MSS);
        assert_eq!(c.ssthresh(), 70 * MSS);
        // Slow start back to ssthresh (L = 1 after the RTO).
        let mut t = 1000;
        while c.cwnd() < c.ssthresh() {
            c.on_ack(at(t, 20, None, 0), SeqNumber(1), MSS, c.cwnd(), MSS);
            t += 1;
        }
        let cwnd_epoch = c.cwnd();
        c.on_ack(at(t, 20, None, 0), SeqNumber(1), MSS, c.cwnd(), MSS);
        // RFC 9438 §4.8: K = 0 and W_max = cwnd at the start of this
        // congestion avoidance (not 100 segments, the pre-timeout W_max,
        // which would give K = ∛(30/0.4) ≈ 4.2 s).
        println!(
            "after the RTO: W_max {} (reference {cwnd_epoch}), K {} s (reference 0)",
            c.cubic().w_max(),
            c.cubic().k()
        );
        assert_eq!(c.cubic().k(), 0.0);
        assert_eq!(c.cubic().w_max(), cwnd_epoch);
    }

    #[test]
    fn hystart_leaves_slow_start_on_a_delay_increase_without_a_loss() {
        let mut c = Controller::new(Algorithm::Cubic, opts(true, false), MSS, SeqNumber(0));
        let (mut una, mut t, mut rtt) = (0u32, 0u64, 20u64);
        let mut exited_at = None;
        for round in 0..40 {
            // One round: the window's worth of ACKs of two segments each.
            // The queue adds 5 ms per round once the window passes 64.
            let acks = c.cwnd() / (2 * MSS);
            for _ in 0..acks {
                una += 2 * MSS as u32;
                let nxt = una + c.cwnd() as u32;
                c.on_ack(
                    at(t, rtt, Some(rtt), nxt),
                    SeqNumber(una),
                    2 * MSS,
                    c.cwnd(),
                    MSS,
                );
                if c.ssthresh() < usize::MAX / 4 && exited_at.is_none() {
                    exited_at = Some((round, c.cwnd()));
                    assert_eq!(c.ssthresh(), c.cwnd());
                }
            }
            t += rtt;
            if c.cwnd() > 64 * MSS {
                rtt += 5;
            }
            if exited_at.is_some() {
                break;
            }
        }
        let (round, cwnd) = exited_at.expect("HyStart++ set ssthresh without a loss");
        println!("HyStart++: congestion avoidance from round {round} at cwnd {cwnd}");
        // Seven rounds of doubling reach 1280; CSS then grows a quarter as
        // fast for its five rounds.
        assert!(round <= 12, "{round}");
        assert!(cwnd < 1000 * MSS, "{cwnd}");
        assert!(c.hystart.is_none(), "the state is freed after the exit");
    }

    #[test]
    fn hystart_off_is_plain_slow_start() {
        let mut c = Controller::new(Algorithm::Cubic, opts(false, false), MSS, SeqNumber(0));
        for i in 0..200u32 {
            let rtt = 20 + u64::from(i);
            c.on_ack(
                at(u64::from(i), rtt, Some(rtt), 1_000_000),
                SeqNumber(i * 2000 + 2000),
                2 * MSS,
                c.cwnd(),
                MSS,
            );
        }
        assert_eq!(c.cwnd(), 410 * MSS);
        assert!(c.ssthresh() > usize::MAX / 4);
    }

    /// `n` ACKs of `bytes` each, `gap_ms` apart from `t`.
    fn trickle(c: &mut Controller, t: &mut u64, n: usize, bytes: usize, gap_ms: u64) {
        for _ in 0..n {
            *t += gap_ms;
            c.on_ack(at(*t, 20, None, 0), SeqNumber(1), bytes, bytes, MSS);
        }
    }

    #[test]
    fn an_unused_window_stops_growing_under_window_validation() {
        for cwv in [true, false] {
            let mut c = Controller::new(Algorithm::Cubic, opts(false, cwv), MSS, SeqNumber(0));
            let mut t = 0;
            // The application sends one segment every 10 ms: 2 segments per
            // 20 ms RTT against a window of 10, for 5 s.
            trickle(&mut c, &mut t, 500, MSS, 10);
            println!(
                "cwv {cwv}: cwnd {} after 5 s of 2 segments per RTT, non-validated {}",
                c.cwnd(),
                c.non_validated()
            );
            if cwv {
                // Validated for the first PSP (1 s), then frozen (RFC 7661
                // §4.3): ~100 ACKs grew it in the first second.
                assert!(c.non_validated());
                assert!(c.cwnd() <= 111 * MSS, "{}", c.cwnd());
                let frozen = c.cwnd();
                trickle(&mut c, &mut t, 100, MSS, 10);
                assert_eq!(c.cwnd(), frozen);
                // Using the window again validates it and growth resumes.
                trickle(&mut c, &mut t, 40, frozen / 2, 1);
                assert!(!c.non_validated());
                assert!(c.cwnd() > frozen);
            } else {
                // RFC 5681 alone: one segment per ACK, 500 ACKs.
                assert_eq!(c.cwnd(), 510 * MSS);
            }
        }
    }

    #[test]
    fn a_loss_in_the_non_validated_phase_sets_the_window_from_pipe_ack() {
        for algorithm in [Algorithm::NewReno, Algorithm::Cubic] {
            let mut c = Controller::new(algorithm, opts(false, true), MSS, SeqNumber(0));
            // A window of 100 segments from an earlier bulk phase, then
            // one segment every 10 ms at a 20 ms RTT for 3 s: validated
            // for the first PSP (1 s), then non-validated with pipeACK =
            // 2 or 3 segments (an RTT holds two or three ACKs).
            c.set_cwnd(100 * MSS);
            c.set_ssthresh(50 * MSS);
            let mut t = 0;
            trickle(&mut c, &mut t, 300, MSS, 10);
            assert!(c.non_validated());
            let (unused, pipe_ack) = (c.cwnd(), c.pipe_ack());
            assert!((2 * MSS..=3 * MSS).contains(&pipe_ack), "{pipe_ack}");
            // A loss with two segments in flight; one retransmission
            // repairs it and the ACK of RecoveryPoint ends the recovery.
            let flight = 2 * MSS;
            c.enter_sack_recovery(SeqNumber(10_000), flight, MSS);
            // RFC 7661 §4.4.1: reduce to max(pipeACK, LossFlightSize)/2
            // (two segments' floor), not cwnd·β of the unused window.
            assert_eq!(c.ssthresh(), 2 * MSS, "{algorithm:?}");
            c.on_retransmit(MSS);
            c.set_recovery_cwnd(2 * MSS);
            let out = c.on_ack(at(t + 20, 20, None, 0), SeqNumber(10_000), MSS, flight, MSS);
            assert_eq!(out, AckOutcome::RecoveryExit);
            // "cwnd = (max(pipeACK, LossFlightSize) - R)/2" = (2 - 1)/2
            // segments, at least one.
            let reference = ((pipe_ack.max(flight) - MSS) / 2).max(MSS);
            println!(
                "{algorithm:?}: window {unused} unused, pipeACK {pipe_ack}; after the \
                 recovery cwnd {} (reference {reference}), ssthresh {} (reference {})",
                c.cwnd(),
                c.ssthresh(),
                2 * MSS
            );
            assert_eq!(c.cwnd(), reference);
            assert_eq!(c.ssthresh(), 2 * MSS);
            assert!(!c.non_validated(), "the recovery ends the phase");
            // Validated again from here: using the window grows it.
            trickle(&mut c, &mut t, 4, MSS, 5);
            assert!(c.cwnd() > reference, "{}", c.cwnd());
        }
    }

    #[test]
    fn a_loss_in_the_validated_phase_keeps_the_algorithm_reduction() {
        let mut c = Controller::new(Algorithm::Cubic, opts(false, true), MSS, SeqNumber(0));
        let mut t = 0;
        // The window in use: 40 ACKs of a full window, 20 ms apart.
        c.set_cwnd(40 * MSS);
        trickle(&mut c, &mut t, 5, 40 * MSS, 20);
        assert!(!c.non_validated());
        let w = c.cwnd();
        c.enter_sack_recovery(SeqNumber(100_000), w, MSS);
        c.on_retransmit(MSS);
        assert_eq!(c.ssthresh(), (w as f64 * 0.7) as usize);
        c.on_ack(at(t + 20, 20, None, 0), SeqNumber(100_000), MSS, w, MSS);
        assert_eq!(
            c.cwnd(),
            (w as f64 * 0.7) as usize,
            "RFC 6937: cwnd = ssthresh"
        );
    }

    #[test]
    fn idle_keeps_the_window_under_validation_and_halves_it_after_five_minutes() {
        let grown = |cwv| {
            let mut c = Controller::new(Algorithm::NewReno, opts(false, cwv), MSS, SeqNumber(0));
            c.on_dup_ack(3, SeqNumber(1), SeqNumber(1000), 200 * MSS, MSS);
            c.on_ack(at(0, 20, None, 0), SeqNumber(1000), MSS, 100 * MSS, MSS);
            c.set_cwnd(100 * MSS);
            c.set_ssthresh(50 * MSS);
            let mut t = 0;
            trickle(&mut c, &mut t, 10, 100 * MSS, 20);
            (c, t)
        };
        // RFC 5681 §4.1: the restart window.
        let (mut c, t) = grown(false);
        let w = c.cwnd();
        c.on_idle_restart(
            Instant::from_millis(t + 2000),
            Duration::from_millis(20),
            MSS,
        );
        assert_eq!(c.cwnd(), 10 * MSS, "from {w}");
        // RFC 7661 §4.3: preserved after 2 s of idleness ...
        let (mut c, t) = grown(true);
        let w = c.cwnd();
        c.on_idle_restart(
            Instant::from_millis(t + 2000),
            Duration::from_millis(20),
            MSS,
        );
        assert_eq!(c.cwnd(), w);
        // ... §4.4.3: halved (and ssthresh ≥ 3/4 of it) once the
        // non-validated phase lasted NonValidatedPeriod, 5 minutes after
        // it began (1 s, the PSP, after the last validating sample).
        c.on_idle_restart(
            Instant::from_millis(t + 300_500),
            Duration::from_millis(20),
            MSS,
        );
        assert_eq!(c.cwnd(), w);
        c.on_idle_restart(
            Instant::from_millis(t + 301_100),
            Duration::from_millis(20),
            MSS,
        );
        println!(
            "after 301 s idle: cwnd {} (reference {}), ssthresh {} (reference {})",
            c.cwnd(),
            w / 2,
            c.ssthresh(),
            w * 3 / 4
        );
        assert_eq!(c.cwnd(), w / 2);
        assert_eq!(c.ssthresh(), w * 3 / 4);
        // Two more periods: a quarter, then an eighth (never below IW).
        c.on_idle_restart(
            Instant::from_millis(t + 901_100),
            Duration::from_millis(20),
            MSS,
        );
        assert_eq!(c.cwnd(), (w / 8).max(10 * MSS));
    }

    #[test]
    fn cubic_time_skips_an_idle_period() {
        let mut c = Controller::new(Algorithm::Cubic, opts(false, false), MSS, SeqNumber(0));
        c.set_cwnd(100 * MSS);
        c.on_dup_ack(3, SeqNumber(1), SeqNumber(100_000), 100 * MSS, MSS);
        c.on_ack(at(0, 100, None, 0), SeqNumber(100_000), MSS, 100 * MSS, MSS);
        let mut t = 0;
        trickle(&mut c, &mut t, 20, 35 * MSS, 50);
        let before = c.cwnd();
        // 10 s idle, then the window is used again.
        c.on_tx_start(Duration::from_secs(10));
        t += 10_000;
        c.on_ack(at(t, 100, None, 0), SeqNumber(1), before, before, MSS);
        let after = c.cwnd();
        println!("cwnd {before} before 10 s idle, {after} after a window of ACKs");
        // Without the shift the curve 11 s into the epoch (K ≈ 4.2 s, 231
        // segments) would take the window to its 1.5·cwnd bound at once.
        assert!(after - before < 10 * MSS, "{before} -> {after}");
    }
}
