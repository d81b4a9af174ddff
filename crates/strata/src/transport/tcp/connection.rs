//! One TCP connection: the transmission control block (RFC 9293 §3.3.1)
//! and its event processing (RFC 9293 §3.10).
//!
//! Inbound segments go through [`Conn::on_segment`], which follows the
//! steps of RFC 9293 §3.10.7 in order. Outbound segments come from
//! [`Conn::next_segment`], which decides what (if anything) to send now:
//! SYN, retransmission, new data under the send and congestion windows,
//! FIN, window probes, keepalives and ACKs. Timers are deadlines checked by
//! [`Conn::on_timeout`]; the engine keeps them in one heap.

use super::buffer::{BufPool, RecvBuffer, SendBuffer};
use super::congestion::{initial_window, AckOutcome, AckTime, CongestionControl, Controller};
use super::rack::{Frto, Rack, Undo};
use super::recovery::{self, Episode, NextSeg, Scoreboard};
use super::rtt::RttEstimator;
use super::seq::SeqNumber;
use super::timewait::TimeWait;
use super::tlp::{self, Probe};
use super::{Keepalive, ListenerHandle, State, TcpConfig, TcpError, TcpEvent, TcpHandle};
use crate::time::{Duration, Instant};
use crate::wire::tcp::{SackBlock, TcpFlags, TcpOptions, TcpRepr, Timestamps};
use core::net::SocketAddrV4;
use std::collections::VecDeque;

/// Timestamp ticks a segment's TSval may lag TS.Recent and pass PAWS
/// (Linux TCP_PAWS_WINDOW; see the PAWS check).
const PAWS_WINDOW: i32 = 1;

/// RFC 7323 §5.3 R1: a segment whose TSval is older than TS.Recent, by
/// more than [`PAWS_WINDOW`] ticks, fails PAWS (unless TS.Recent is stale
/// or the segment is a disordered duplicate ACK; the caller checks those).
#[inline]
pub(crate) fn paws_older(ts_recent: u32, tsval: u32) -> bool {
    (ts_recent.wrapping_sub(tsval) as i32) > PAWS_WINDOW
}
/// RFC 7323 §5.5: TS.Recent older than 24 days is invalid for PAWS.
pub(crate) const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);
/// RFC 9293 §3.7.1 MUST-15: assume 536 when the peer sends no MSS option.
const DEFAULT_PEER_MSS: usize = 536;
/// Least time between ACKs sent for unacceptable segments.
pub(crate) const OOW_ACK_INTERVAL: Duration = Duration::from_millis(100);
/// Lowest path MTU a "fragmentation needed" may set (Linux min_pmtu).
const PMTU_FLOOR: u16 = 552;
/// RFC 1191 §6.3: after a decrease, try the larger path MTU again after
/// this long ("twice its minimum value (10 minutes)").
const PMTU_RAISE_AFTER: Duration = Duration::from_secs(600);
/// Bytes the timestamps option takes in every segment (RFC 7323 §3.2, padded).
const TS_OPTION_LEN: usize = 12;

/// Counters for the engine; see [`super::TcpStats`].
pub(crate) use super::engine::TcpStats;

/// A reset to send, queued engine-wide.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingRst {
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub seq: u32,
    pub ack: Option<u32>,
    /// The timestamps option, when the connection negotiated it (RFC 7323
    /// §3.2: TSopt SHOULD be sent in a RST).
    pub ts: Option<Timestamps>,
}

/// Engine-wide context passed into connection processing.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub cfg: &'a TcpConfig,
    pub events: &'a mut VecDeque<TcpEvent>,
    pub stats: &'a mut TcpStats,
    pub rsts: &'a mut VecDeque<PendingRst>,
    pub challenge: &'a mut GlobalRateLimit,
    /// Bytes of the segment being processed that [`Conn::stage`] already
    /// copied into the receive buffer (0: none).
    pub staged: usize,
    /// Bytes the buffers may still grow by under the engine's memory
    /// budget ([`super::TcpMem::high`]).
    pub mem_room: usize,
    /// The engine's pool of first buffer allocations.
    pub pool: &'a mut BufPool,
    /// Header prediction on ([`Conn::predicted`]; off only in tests that
    /// compare both paths).
    pub predict: bool,
}

impl Ctx<'_> {
    /// Queue a RST (bounded; extra RSTs are dropped and counted).
    pub fn rst(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seq: u32,
        ack: Option<u32>,
        ts: Option<Timestamps>,
    ) {
        if self.rsts.len() >= self.cfg.rst_queue_limit {
            self.stats.rst_dropped += 1;
            return;
        }
        self.rst_always(local, remote, seq, ack, ts);
    }

    /// Queue a RST whatever the queue's length: for RSTs the application
    /// asked for (ABORT), which are bounded by the connections it owns.
    pub fn rst_always(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seq: u32,
        ack: Option<u32>,
        ts: Option<Timestamps>,
    ) {
        self.rsts.push_back(PendingRst {
            local,
            remote,
            seq,
            ack,
            ts,
        });
    }
}

/// A per-connection rate limit: at most `limit` events per second
/// (RFC 5961 §7 for challenge ACKs). Compact (8 bytes), as it lives in
/// every TCB: the one-second window is kept in milliseconds modulo 2^32.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RateLimit {
    window_start_ms: u32,
    count: u32,
}

impl RateLimit {
    pub fn allow(&mut self, now: Instant, limit: u32) -> bool {
        let ms = now.as_millis() as u32;
        if self.count == 0 || ms.wrapping_sub(self.window_start_ms) >= 1000 {
            self.window_start_ms = ms;
            self.count = 0;
        }
        if self.count < limit {
            self.count += 1;
            true
        } else {
            false
        }
    }
}

/// The engine-wide challenge-ACK cap (RFC 5961 §7) with a budget drawn at
/// random for each one-second window, between `limit / 2` and
/// `3 * limit / 2` (Linux `tcp_challenge_ack_limit` since CVE-2016-5696):
/// an attacker cannot count on a fixed budget to learn about segments it
/// cannot see.
#[derive(Debug, Clone)]
pub(crate) struct GlobalRateLimit {
    window_start: Instant,
    budget: u32,
    count: u32,
    started: bool,
    rng: u64,
}

impl GlobalRateLimit {
    pub fn new(seed: u64) -> Self {
        GlobalRateLimit {
            window_start: Instant::ZERO,
            budget: 0,
            count: 0,
            started: false,
            rng: seed | 1,
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: deterministic per engine seed.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn allow(&mut self, now: Instant, limit: u32) -> bool {
        if !self.started
            || now.saturating_duration_since(self.window_start) >= Duration::from_secs(1)
        {
            self.started = true;
            self.window_start = now;
            self.count = 0;
            let span = u64::from(limit.max(1));
            self.budget = limit / 2 + (self.next_random() % span) as u32;
        }
        if self.count < self.budget {
            self.count += 1;
            true
        } else {
            false
        }
    }
}

/// What [`Conn::next_segment`] decided to send; the engine turns it into a
/// [`TcpRepr`] borrowing the payload from the send buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub seq: SeqNumber,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    /// Payload: offset into the send buffer and length.
    pub data_off: usize,
    pub data_len: usize,
}

/// The outcome of a timer or segment: what the engine must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Keep the connection.
    Keep,
    /// The connection reached CLOSED.
    Closed,
}

/// The rarely used part of a TCB (see [`Conn::rare`]).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Rare {
    /// Keepalive settings (RFC 9293 §3.8.4), `None`: off.
    pub keepalive: Option<Keepalive>,
    /// Urgent pointers (RFC 9293 §3.8.5).
    pub urgent: super::urgent::Urgent,
    /// A receive limit (SO_RCVBUF) below the window already promised: the
    /// limit comes down to it as the application reads (SHLD-14).
    pub rx_target: Option<usize>,
    /// The (receive, send) limits set before memory pressure clamped
    /// them ([`super::TcpMem`]); restored when the pressure ends.
    pub unclamped: Option<(usize, usize)>,
    /// The user timeout (RFC 9293 §3.8.3, RFC 5482), `None`: none.
    pub user_timeout: Option<Duration>,
    /// A duplicate segment to report in the first SACK block of the next
    /// ACK (RFC 2883 §4 D-SACK), `[left, right)`.
    pub dsack: Option<(SeqNumber, SeqNumber)>,
}

impl Conn {
    /// Keepalive settings, if on (kept in [`Conn::rare`]).
    pub fn keepalive(&self) -> Option<Keepalive> {
        self.rare.as_deref().and_then(|r| r.keepalive)
    }

    /// RACK.min_RTT (RFC 8985 §6.2): the smallest RTT of a delivered data
    /// segment, once RACK runs (with SACK). Unlike the smoothed RTT it does
    /// not carry the handshake's first sample, which includes the wait for
    /// ARP before the SYN left.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.rack.as_deref().and_then(|r| r.min_rtt())
    }

    /// The user timeout (RFC 9293 §3.8.3), if set (kept in [`Conn::rare`]).
    pub fn user_timeout(&self) -> Option<Duration> {
        self.rare.as_deref().and_then(|r| r.user_timeout)
    }

    /// Sets or clears the user timeout.
    pub fn set_user_timeout(&mut self, t: Option<Duration>) {
        match (&mut self.rare, t) {
            (Some(r), t) => r.user_timeout = t,
            (None, Some(t)) => {
                self.rare = Some(Box::new(Rare {
                    user_timeout: Some(t),
                    ..Default::default()
                }))
            }
            (None, None) => {}
        }
    }

    /// Turns keepalive on with `ka`, or off.
    pub fn set_keepalive(&mut self, ka: Option<Keepalive>) {
        match (&mut self.rare, ka) {
            (Some(r), ka) => r.keepalive = ka,
            (None, Some(ka)) => {
                self.rare = Some(Box::new(Rare {
                    keepalive: Some(ka),
                    ..Default::default()
                }))
            }
            (None, None) => {}
        }
    }
}

/// The transmission control block, laid out in declaration order
/// (`repr(C)`): hot fields first, cold ones last.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Conn {
    // Hot: the first two cache lines (`Slot` aligns the TCB to a line).
    // What every in-order data segment, pure ACK and header-predicted
    // segment reads and writes besides the buffers and the controllers:
    // the 4-tuple the demultiplexer compares, the sequence spaces (RFC
    // 9293 §3.3.1), TS.Recent, the per-segment timers and the flags.
    // `tcb_stays_small` checks that these stay within 128 bytes.
    pub rto_at: Option<Instant>,
    /// The probe timeout (RFC 8985 §7.2), beside the RTO.
    pto_at: Option<Instant>,
    delack_at: Option<Instant>,
    pub ts_recent_age: Instant,
    last_rcv: Instant,
    pub snd_una: SeqNumber,
    pub snd_nxt: SeqNumber,
    /// Highest sequence number sent (SND.NXT may rewind on timeout).
    pub snd_max: SeqNumber,
    pub snd_wnd: u32,
    pub snd_wl1: SeqNumber,
    pub snd_wl2: SeqNumber,
    pub rcv_nxt: SeqNumber,
    /// Right edge of the window we advertised.
    pub rcv_adv: SeqNumber,
    pub last_ack_sent: SeqNumber,
    pub ts_recent: u32,
    pub ts_offset: u32,
    /// Bytes received and not yet acknowledged.
    /// (u32: bounded by the receive buffer; the TCB stays small.)
    unacked_rx_bytes: u32,
    pub dupacks: u32,
    pub retries: u32,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    /// Payload bytes of a full-sized segment from the peer: RMSS of RFC
    /// 9293 §3.8.6.3 as the peer actually uses it (its own MSS and path may
    /// make its segments smaller than the MSS we announced). Starts at
    /// min(announced, 536) and grows to the largest segment seen, like
    /// Linux's `rcv_mss`. Used for the delayed-ACK and receiver-SWS
    /// thresholds; never the send MSS.
    rcv_mss: u16,
    pub state: State,
    pub ts_ok: bool,
    pub sack_ok: bool,
    pub ack_now: bool,
    /// Our SYN has been acknowledged. An explicit flag, not `SND.UNA ==
    /// ISS`: after 2^32 bytes SND.UNA comes back round to ISS.
    pub syn_acked: bool,
    /// The user asked to close the sending direction (FIN queued).
    pub fin_queued: bool,
    /// The peer's FIN has been processed.
    pub peer_fin: bool,
    /// The user called close/abort: the handle is gone, the connection
    /// finishes on its own (an orphan).
    pub released: bool,
    send_probe: bool,
    /// Send a segment smaller than SWS avoidance would (override timeout).
    pub(crate) force_send: bool,
    /// The retransmission timer fired: the segment at SND.UNA goes out
    /// next whatever the window says.
    rto_rexmit: bool,
    pub in_dirty: bool,
    pub readable_armed: bool,
    pub writable_armed: bool,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub nodelay: bool,
    /// The application corked the connection (Linux `TCP_CORK`): sub-MSS
    /// segments wait for more data, an uncork, a FIN or the cork ceiling.
    pub cork: bool,

    // Warm: the buffer headers, the congestion controller and the RTT
    // estimator (read on every segment, in the lines after the hot ones),
    // then what data, ACK and timer processing reach less often.
    pub rx: RecvBuffer,
    pub tx: SendBuffer,
    /// Inline, not boxed: it is read on every ACK, and a separate
    /// allocation costs a cache miss per segment when connections are many.
    /// One controller for NewReno and CUBIC (see `congestion.rs`).
    pub cc: Controller,
    pub rtt: RttEstimator,
    /// RACK (RFC 8985 §6): per-segment transmit times, the reordering
    /// window, and the undo state of spurious recoveries; boxed, allocated
    /// when data is first sent with SACK or a window is first reduced.
    rack: Option<Box<Rack>>,
    /// Rarely used per-connection state (keepalive settings, urgent
    /// pointers), boxed so that it costs one word of the TCB.
    pub rare: Option<Box<Rare>>,
    pub scoreboard: Scoreboard,
    persist_at: Option<Instant>,
    keepalive_at: Option<Instant>,
    /// When the connection closes by itself: end of TIME-WAIT (2×MSL) or
    /// the orphan FIN-WAIT-2 timeout.
    pub close_at: Option<Instant>,
    /// When the (empty) send and receive buffers are given back: memory is
    /// kept across bursts and released only once the connection went idle.
    buf_idle_at: Option<Instant>,
    last_snd: Instant,
    rtt_timing: Option<(SeqNumber, Instant)>,
    /// Largest segment the peer accepts / our path allows (payload + options).
    pub snd_mss: usize,
    /// Since when queued data has waited without a full segment's worth
    /// being delivered (the user timeout's clock, RFC 9293 §3.8.3);
    /// `Instant::MAX` when nothing waits (no `Option`: the TCB stays
    /// within its ten cache lines).
    stall_since: Instant,
    pub handle: TcpHandle,
    /// Passive open not yet accepted: the listener that owns it.
    pub listener: Option<ListenerHandle>,
    /// Sequence number of our FIN once it was sent.
    pub fin_seq: Option<SeqNumber>,
    /// Fast retransmit pending: resend the first unacknowledged segment.
    rexmit_at: Option<SeqNumber>,
    /// The tail loss probe in flight (RFC 8985 §7.3).
    tlp: Option<Probe>,
    /// A FIN received beyond RCV.NXT, waiting for the gap to fill.
    pub fin_pending: Option<SeqNumber>,
    pub max_snd_wnd: u32,
    /// Highest sequence retransmitted during the current recovery (RFC
    /// 6675 HighRxt, as an exclusive end).
    rexmit_hi: SeqNumber,
    /// End of the last sub-MSS segment of new data sent (Linux `snd_sml`):
    /// Minshall's Nagle holds a small segment only while this one is
    /// unacknowledged.
    snd_sml: SeqNumber,
    pub iss: SeqNumber,
    /// Bytes acknowledged since [`Conn::stall_since`] (saturating; a
    /// segment is less than 2^16): once a full segment got through, the
    /// data is moving and the stall clock restarts.
    stall_acked: u16,
    /// The last write said more data follows (Linux `MSG_MORE`): like
    /// `cork`, until the next write without it.
    pub more: bool,
    /// The next data segment is a loss probe of new data: it goes out
    /// whatever cwnd says (RFC 8985 §7.3).
    tlp_new_data: bool,

    // Cold: what the handshake, errors, probes, the path MTU, orphans and
    // the accept queue use, and counters.
    /// When the oldest unacknowledged data was first sent (RFC 5482).
    unacked_since: Option<Instant>,
    /// When the last ACK for an unacceptable segment went out.
    /// (Milliseconds of the stack clock modulo 2^32: the TCB stays small.)
    last_oow_ack: Option<u32>,
    /// Retransmitted segments on this connection.
    pub retransmits: u64,
    /// This connection's challenge-ACK budget (RFC 5961 §7).
    challenge_limit: RateLimit,
    /// TSval of the latest retransmission while data is outstanding.
    rexmit_tsval: Option<u32>,
    pub irs: SeqNumber,
    /// When to try `mss_ceiling` again: seconds of the stack clock, 0 when
    /// the MSS was never lowered (u32 seconds: the TCB stays small).
    pmtu_raise_at_s: u32,
    probes_unanswered: u32,
    ka_probes: u32,
    /// The send MSS before the path MTU was lowered (RFC 1191 §6.3).
    mss_ceiling: u16,
    /// Probes and retransmissions an orphan made without progress (Linux
    /// `tcp_orphan_retries`).
    orphan_probes: u16,
    /// Why the connection failed, reported to the user.
    pub error: Option<TcpError>,
    /// A soft ICMP error seen while connecting (RFC 1122 §4.2.3.9).
    pub soft_error: Option<TcpError>,
    /// Diffserv codepoint of the segments we send (RFC 9293 §3.9.1.9
    /// MUST-48), handed unchanged to IP (SHLD-22).
    pub dscp: u8,
    /// Counted among the engine's orphans.
    pub orphan: bool,
    /// Close requested while in SYN-RECEIVED: FIN goes out once established.
    pub close_after_established: bool,
    pub ws_ok: bool,
    persist_backoff: u8,
    /// The SYN or SYN-ACK was retransmitted (RFC 5681 §3.1, RFC 6298 §5.7).
    handshake_lost: bool,
    /// Counted in its listener's half-open (SYN-RECEIVED) set.
    pub half_open: bool,
    /// Waiting in the listener's accept queue.
    pub in_accept_queue: bool,
    /// The user holds the handle (active open or accepted).
    pub owned: bool,
}

/// How long empty send/receive buffers are kept before they are freed.
const BUFFER_IDLE: Duration = Duration::from_millis(200);
/// Empty buffers up to this many bytes (both together) are kept even when
/// the connection is idle.
const BUFFER_KEEP: usize = 1024;

pub(crate) fn ts_now(now: Instant, offset: u32) -> u32 {
    // RFC 7323 §5.4: a 1 ms timestamp clock, randomly offset (§7.1).
    (now.as_millis() as u32).wrapping_add(offset)
}

impl Conn {
    /// A fresh TCB for `local`/`remote` with initial send sequence `iss`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        handle: TcpHandle,
        now: Instant,
        cfg: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: u32,
        ts_offset: u32,
    ) -> Self {
        let iss = SeqNumber(iss);
        let mss = usize::from(cfg.announced_mss());
        Conn {
            handle,
            local,
            remote,
            state: State::Closed,
            listener: None,
            half_open: false,
            in_accept_queue: false,
            owned: false,
            released: false,
            error: None,
            soft_error: None,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            syn_acked: false,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: iss,
            snd_wscale: 0,
            dscp: cfg.dscp,
            snd_mss: DEFAULT_PEER_MSS.min(mss),
            rcv_mss: cfg.announced_mss().min(DEFAULT_PEER_MSS as u16),
            orphan_probes: 0,
            orphan: false,
            stall_acked: 0,
            stall_since: Instant::MAX,
            mss_ceiling: 0,
            pmtu_raise_at_s: 0,
            tx: SendBuffer::new(cfg.tx_buffer_limit),
            fin_queued: false,
            fin_seq: None,
            close_after_established: false,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_wscale: 0,
            rcv_adv: SeqNumber(0),
            rx: RecvBuffer::new(cfg.rx_buffer_limit, cfg.max_ooo_ranges),
            fin_pending: None,
            peer_fin: false,
            ws_ok: false,
            ts_ok: false,
            ts_recent: 0,
            ts_recent_age: now,
            ts_offset,
            last_ack_sent: SeqNumber(0),
            sack_ok: false,
            rtt: RttEstimator::new(cfg.rto_min, cfg.rto_max, cfg.clock_granularity),
            rtt_timing: None,
            rto_at: None,
            rexmit_tsval: None,
            retries: 0,
            rto_rexmit: false,
            unacked_since: None,
            delack_at: None,
            unacked_rx_bytes: 0,
            ack_now: false,
            persist_at: None,
            persist_backoff: 0,
            probes_unanswered: 0,
            send_probe: false,
            last_oow_ack: None,
            challenge_limit: RateLimit::default(),
            handshake_lost: false,
            force_send: false,
            keepalive_at: None,
            ka_probes: 0,
            rare: (cfg.keepalive.is_some() || cfg.user_timeout.is_some()).then(|| {
                Box::new(Rare {
                    keepalive: cfg.keepalive,
                    user_timeout: cfg.user_timeout,
                    ..Rare::default()
                })
            }),
            last_rcv: now,
            last_snd: now,
            close_at: None,
            buf_idle_at: None,
            nodelay: cfg.nodelay,
            cork: false,
            more: false,
            snd_sml: iss,
            cc: Controller::new(cfg.congestion_control, cfg.cc_options(), mss, iss),
            dupacks: 0,
            scoreboard: Scoreboard::new(),
            rexmit_at: None,
            rexmit_hi: iss,
            pto_at: None,
            tlp: None,
            tlp_new_data: false,
            rack: None,
            in_dirty: false,
            readable_armed: true,
            writable_armed: false,
            retransmits: 0,
        }
    }

    /// Move to `to`, queueing the event (every transition is observable,
    /// unless [`TcpConfig::state_events`] is off).
    pub fn set_state(&mut self, ctx: &mut Ctx<'_>, to: State) {
        if self.state == to {
            return;
        }
        let from = self.state;
        self.state = to;
        if ctx.cfg.state_events {
            ctx.events.push_back(TcpEvent::StateChanged {
                handle: self.handle,
                from,
                to,
            });
        }
        if to == State::Closed {
            self.clear_timers();
            ctx.events.push_back(TcpEvent::Closed(self.handle));
        }
    }

    fn clear_timers(&mut self) {
        self.rto_at = None;
        self.delack_at = None;
        self.persist_at = None;
        self.keepalive_at = None;
        self.close_at = None;
        self.ack_now = false;
        self.send_probe = false;
        self.rexmit_at = None;
    }

    /// Fail the connection with `error`, queueing the matching event.
    pub fn fail(&mut self, ctx: &mut Ctx<'_>, error: TcpError) -> Disposition {
        self.error = Some(error);
        let ev = match error {
            TcpError::Reset => TcpEvent::Reset(self.handle),
            TcpError::Refused => TcpEvent::Refused(self.handle),
            TcpError::TimedOut => TcpEvent::TimedOut(self.handle),
            e => TcpEvent::Unreachable {
                handle: self.handle,
                error: e,
            },
        };
        ctx.events.push_back(ev);
        self.set_state(ctx, State::Closed);
        Disposition::Closed
    }

    /// Receive MSS: the payload of a full-sized segment from the peer, as
    /// measured (see `rcv_mss`), independent of what we send.
    fn rmss(&self) -> usize {
        usize::from(self.rcv_mss).max(1)
    }

    /// A data segment of `len` bytes arrived: the largest one seen so far,
    /// up to the MSS we announced, is the peer's full-sized segment.
    fn measure_rcv_mss(&mut self, len: usize, announced: u16) {
        if len > usize::from(self.rcv_mss) {
            self.rcv_mss = (len.min(usize::from(announced))) as u16;
        }
    }

    /// Payload bytes per segment: the send MSS less the timestamps option
    /// (RFC 6691 §2: the MSS counts neither IP nor TCP options).
    pub fn eff_mss(&self) -> usize {
        let opt = if self.ts_ok { TS_OPTION_LEN } else { 0 };
        self.snd_mss.saturating_sub(opt).max(1)
    }

    /// Payload room in the next data segment: the effective MSS less the
    /// SACK blocks it will carry. RFC 6691 §2: the MSS excludes options, and
    /// the sender MUST reduce the data length by the options it includes
    /// (timestamps are already taken off in [`Conn::eff_mss`]) — otherwise a
    /// segment piggybacking SACK blocks exceeds the path MTU and is
    /// fragmented.
    pub(crate) fn data_mss(&self, options: &TcpOptions) -> usize {
        let opts = options.encoded_len();
        let ts = if self.ts_ok { TS_OPTION_LEN } else { 0 };
        self.eff_mss()
            .saturating_sub(opts.saturating_sub(ts))
            .max(1)
    }

    /// Sequence number of the first byte in the send buffer.
    fn data_start(&self) -> SeqNumber {
        if !self.syn_acked {
            self.iss + 1
        } else {
            self.snd_una
        }
    }

    /// Sequence number just past the last byte in the send buffer.
    pub(crate) fn data_end(&self) -> SeqNumber {
        self.data_start() + self.tx.len()
    }

    /// True when our FIN has been acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_seq.is_some_and(|f| self.snd_una > f)
    }

    /// Bytes sent and not acknowledged (SYN and FIN count one each).
    pub fn flight(&self) -> usize {
        self.snd_nxt.since(self.snd_una)
    }

    /// Time until which nothing needs this connection: the earliest timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        // Called after every segment: branch-free minimum of the timers as
        // nanosecond counts, "none" as u64::MAX (later than Instant::MAX).
        #[inline(always)]
        fn ns(t: Option<Instant>) -> u64 {
            t.map_or(u64::MAX, Instant::as_nanos)
        }
        let a = ns(self.rto_at).min(ns(self.pto_at)).min(ns(self.delack_at));
        let b = ns(self.persist_at).min(ns(self.keepalive_at));
        let c = ns(self.close_at).min(ns(self.buf_idle_at));
        let mut m = a.min(b).min(c);
        if self.rare.is_some() {
            m = m.min(ns(self.user_timeout_at()));
        }
        (m != u64::MAX).then(|| Instant::from_nanos(m))
    }

    /// When the user timeout ends a stall: queued data that has not had a
    /// full segment delivered for that long (RFC 9293 §3.8.3, §3.10.8).
    fn user_timeout_at(&self) -> Option<Instant> {
        match self.user_timeout() {
            Some(ut) if self.stall_since != Instant::MAX => Some(self.stall_since + ut),
            _ => None,
        }
    }

    /// The connection's (receive, send) buffer limits before any memory
    /// pressure clamp.
    pub fn unclamped_limits(&self) -> (usize, usize) {
        self.rare
            .as_deref()
            .and_then(|r| r.unclamped)
            .unwrap_or_else(|| {
                let rx = self.rare.as_deref().and_then(|r| r.rx_target);
                (rx.unwrap_or(self.rx.limit()), self.tx.limit())
            })
    }

    /// Memory pressure ([`super::TcpMem`]): clamp both buffer limits to
    /// `clamp` (the receive window shrinks only as the peer uses what was
    /// advertised, RFC 9293 §3.8.6 SHLD-14) and give back allocation
    /// beyond what is held.
    pub fn mem_clamp(&mut self, clamp: usize) {
        if self.rare.as_deref().is_none_or(|r| r.unclamped.is_none()) {
            let saved = self.unclamped_limits();
            if saved.0 <= clamp && saved.1 <= clamp {
                self.mem_compact();
                return;
            }
            self.rare.get_or_insert_with(Default::default).unclamped = Some(saved);
            self.set_rx_limit(saved.0.min(clamp));
            self.set_tx_limit(saved.1.min(clamp));
        }
        self.mem_compact();
    }

    /// The pressure ended: restore the limits [`Conn::mem_clamp`] lowered.
    pub fn mem_unclamp(&mut self) {
        if let Some((rx, tx)) = self.rare.as_deref_mut().and_then(|r| r.unclamped.take()) {
            self.set_tx_limit(tx);
            self.set_rx_limit(rx);
        }
    }

    /// Reallocate the buffers down to what they hold (under pressure).
    pub fn mem_compact(&mut self) {
        self.tx.compact();
        self.rx.compact();
    }

    /// True when [`Conn::next_segment`] may have something to send.
    pub fn wants_send(&self) -> bool {
        if self.ack_now
            || self.send_probe
            || self.rexmit_at.is_some()
            || self.force_send
            || self.in_episode()
        {
            return true;
        }
        match self.state {
            State::SynSent | State::SynReceived => self.snd_nxt == self.iss,
            State::Established
            | State::CloseWait
            | State::FinWait1
            | State::Closing
            | State::LastAck => {
                self.snd_nxt < self.data_end()
                    || (self.fin_queued && !self.fin_acked() && self.snd_nxt == self.data_end())
            }
            _ => false,
        }
    }

    // ------------------------------------------------------------------
    // Opening
    // ------------------------------------------------------------------

    /// Active OPEN (RFC 9293 §3.10.1): CLOSED → SYN-SENT; the SYN goes out
    /// on the next poll.
    pub fn open_active(&mut self, ctx: &mut Ctx<'_>) {
        self.owned = true;
        self.rcv_wscale = if ctx.cfg.window_scale {
            super::wscale_for(self.rx.limit())
        } else {
            0
        };
        self.set_state(ctx, State::SynSent);
    }

    /// Passive open: a SYN arrived at a listener (RFC 9293 §3.10.7.2,
    /// third check): LISTEN → SYN-RECEIVED.
    pub fn open_passive(&mut self, ctx: &mut Ctx<'_>, listener: ListenerHandle, seg: &TcpRepr<'_>) {
        self.listener = Some(listener);
        self.half_open = true;
        self.state = State::Listen;
        self.irs = SeqNumber(seg.seq);
        self.rcv_nxt = self.irs + 1;
        self.rcv_adv = self.rcv_nxt;
        self.negotiate(ctx, &seg.options);
        // The SYN's window is never scaled (RFC 7323 §2.2).
        self.snd_wnd = u32::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = self.irs;
        self.snd_wl2 = self.iss;
        self.set_state(ctx, State::SynReceived);
    }

    /// Record what the peer's SYN offered (RFC 7323 §2.2, §3.2; RFC 2018 §2;
    /// RFC 6691).
    fn negotiate(&mut self, ctx: &mut Ctx<'_>, opts: &TcpOptions) {
        let cfg = ctx.cfg;
        // RFC 9293 §3.7.1: MSS option received (MUST-14); default 536
        // without it (MUST-15); the effective send MSS is the smaller of it
        // and what our path allows (MUST-16, RFC 6691).
        let peer = opts.mss.map_or(DEFAULT_PEER_MSS, usize::from).max(64);
        self.snd_mss = peer.min(usize::from(cfg.mtu.saturating_sub(40)).max(64));
        match opts.window_scale {
            // RFC 7323 §2.2: scaling only if both sides sent the option.
            Some(s) if cfg.window_scale => {
                self.ws_ok = true;
                // RFC 7323 §2.3: a shift above 14 is used as 14.
                self.snd_wscale = s.min(14);
                if self.state != State::SynSent {
                    // Passive: our shift goes out in the SYN-ACK. Active:
                    // it stays the one our SYN announced.
                    self.rcv_wscale = super::wscale_for(self.rx.limit());
                }
            }
            _ => {
                self.ws_ok = false;
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        if let (Some(ts), true) = (opts.timestamps, cfg.timestamps) {
            // RFC 7323 §3.2: timestamps only if both SYNs carried TSopt.
            self.ts_ok = true;
            self.ts_recent = ts.tsval;
            self.ts_recent_age = ctx.now;
        } else {
            self.ts_ok = false;
        }
        // RFC 2018 §2: SACK only if both SYNs carried SACK-permitted.
        self.sack_ok = opts.sack_permitted && cfg.sack;
        // The initial window counts in segments of the negotiated size
        // (RFC 6928).
        self.cc = Controller::new(
            self.cc.algorithm(),
            self.cc.options(),
            self.eff_mss(),
            self.iss,
        );
    }

    // ------------------------------------------------------------------
    // User calls
    // ------------------------------------------------------------------

    /// SEND (RFC 9293 §3.10.2). Returns bytes queued.
    /// `grow`: bytes the send buffer's allocation may grow by (the room
    /// left in the engine's memory budget).
    /// A first allocation of the send buffer comes from `pool`.
    pub fn send(
        &mut self,
        data: &[u8],
        grow: usize,
        pool: &mut BufPool,
    ) -> Result<usize, TcpError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.state {
            // Queued until ESTABLISHED (RFC 9293 §3.10.2 SYN-SENT/SYN-RECEIVED).
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            State::Closed | State::Listen => return Err(TcpError::NotConnected),
            // "error: connection closing" (RFC 9293 §3.10.2).
            _ => return Err(TcpError::InvalidState),
        }
        if self.fin_queued || self.close_after_established {
            return Err(TcpError::InvalidState);
        }
        if data.is_empty() {
            return Ok(0);
        }
        self.tx.prime(pool, data.len(), grow);
        let n = self.tx.write_within(data, grow);
        if n < data.len() {
            self.writable_armed = true;
        }
        if n == 0 {
            return Err(TcpError::WouldBlock);
        }
        Ok(n)
    }

    /// RECEIVE (RFC 9293 §3.10.3). `Ok(0)` means end of stream; the
    /// emptied buffer's allocation then goes to `pool`.
    pub fn recv(&mut self, buf: &mut [u8], pool: &mut BufPool) -> Result<usize, TcpError> {
        let n = self.rx.read(buf);
        if n > 0 {
            self.after_read();
            return Ok(n);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        self.recv_nothing(pool)
    }

    /// RECEIVE in place: `f` gets the next contiguous readable bytes and
    /// returns how many it consumed plus a result. At end of stream `f`
    /// gets an empty slice; with nothing to read yet: `WouldBlock`.
    pub fn recv_with<R>(
        &mut self,
        f: impl FnOnce(&[u8]) -> (usize, R),
        pool: &mut BufPool,
    ) -> Result<R, TcpError> {
        if !self.rx.is_empty() {
            let (n, r) = f(self.rx.readable());
            if self.rx.consume(n) > 0 {
                self.after_read();
            }
            return Ok(r);
        }
        self.recv_nothing(pool).map(|_| f(&[]).1)
    }

    /// Sets the receive buffer limit (SO_RCVBUF). It never moves the right
    /// edge of a window already advertised to the left (RFC 9293 §3.8.6
    /// SHLD-14): the limit goes no lower than the bytes held plus the
    /// window promised. Before our SYN is sent it also picks the window
    /// scale (RFC 7323 §2.3); afterwards the shift is fixed and a larger
    /// limit is advertised only up to 65 535 << shift.
    pub fn set_rx_limit(&mut self, limit: usize) {
        let grew = limit > self.rx.limit();
        let below = limit < self.rx_promised();
        match (&mut self.rare, below) {
            (Some(r), below) => r.rx_target = below.then_some(limit),
            (None, true) => {
                self.rare = Some(Box::new(Rare {
                    rx_target: Some(limit),
                    ..Default::default()
                }))
            }
            (None, false) => {}
        }
        self.rx.set_limit(limit);
        self.settle_rx_limit();
        if self.state == State::SynSent && self.snd_max == self.iss {
            self.rcv_wscale = super::wscale_for(self.rx.limit());
        }
        if grew {
            // A larger window is news for a sender waiting on ours.
            self.after_read();
        }
    }

    /// What the receive buffer must be able to hold: the bytes held plus
    /// the window advertised beyond them.
    fn rx_promised(&self) -> usize {
        if self.state.is_synchronized() {
            self.rx.len() + self.rcv_adv.max(self.rcv_nxt).since(self.rcv_nxt)
        } else {
            self.rx.len()
        }
    }

    /// Brings the receive limit down toward a pending lower target
    /// ([`Rare::rx_target`]) as far as the window already advertised
    /// allows: the right edge never moves left (RFC 9293 §3.8.6 SHLD-14).
    fn settle_rx_limit(&mut self) {
        let Some(target) = self.rare.as_deref().and_then(|r| r.rx_target) else {
            return;
        };
        let limit = target.max(self.rx_promised());
        self.rx.set_limit(limit);
        if limit == target {
            if let Some(r) = self.rare.as_deref_mut() {
                r.rx_target = None;
            }
        }
    }

    /// Sets the send buffer limit (SO_SNDBUF). Bytes already queued stay;
    /// the application writes again once fewer than `limit` are held.
    pub fn set_tx_limit(&mut self, limit: usize) {
        self.tx.set_limit(limit);
    }

    /// Bytes were read: is the larger window worth an ACK of its own?
    ///
    /// Receiver SWS avoidance (RFC 9293 §3.8.6.2.2 MUST-39, RFC 1122
    /// §4.2.3.3) says when the right edge may move: once it can move by
    /// min(buffer/2, RMSS). It does not ask for a segment each time it
    /// may; the window rides on the next ACK, whose timing is the delayed
    /// ACK's (RFC 9293 §3.8.6.3 SHLD-18/19). An ACK of its own goes out
    /// only when the window offered now holds the sender back: less than
    /// one segment is left of it (zero included, RFC 9293 §3.8.6.1), or
    /// the new window is at least twice what is left (as Linux's
    /// `tcp_cleanup_rbuf`: "lots" of space freed). An application that
    /// reads each segment as it arrives then no longer turns every segment
    /// into an ACK, and the delayed ACK does what it says.
    fn after_read(&mut self) {
        self.settle_rx_limit();
        if !self.state.is_synchronized() || self.peer_fin {
            return;
        }
        let window = self.rx.window();
        let edge = self.rcv_nxt + window;
        let grow = edge.since(self.rcv_adv);
        let thresh = self.window_step();
        let left = self.rcv_adv.since(self.rcv_nxt);
        if grow >= thresh && (left < self.rmss() || window >= 2 * left) {
            self.ack_now = true;
        }
    }

    /// RECEIVE with nothing readable: end of stream (`Ok(0)`), the error,
    /// or `WouldBlock`.
    fn recv_nothing(&mut self, pool: &mut BufPool) -> Result<usize, TcpError> {
        // RFC 9293 §3.10.7.4: after a RST, RECEIVEs get "reset".
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.peer_fin {
            // Nothing more will arrive: give the buffer back.
            self.rx.shrink_into(pool);
            return Ok(0);
        }
        match self.state {
            State::Closed | State::Listen => Err(TcpError::NotConnected),
            _ => {
                self.readable_armed = true;
                Err(TcpError::WouldBlock)
            }
        }
    }

    /// CLOSE of the sending direction (RFC 9293 §3.10.4): queue a FIN. The
    /// receiving direction stays open (half-duplex close, §3.6.1 MAY-1).
    pub fn shutdown_write(&mut self, ctx: &mut Ctx<'_>) -> Result<Disposition, TcpError> {
        match self.state {
            State::SynSent => {
                // RFC 9293 §3.10.4 SYN-SENT: delete the TCB.
                self.set_state(ctx, State::Closed);
                Ok(Disposition::Closed)
            }
            State::SynReceived => {
                // RFC 9293 §3.10.4 SYN-RECEIVED: FIN after ESTABLISHED.
                self.close_after_established = true;
                Ok(Disposition::Keep)
            }
            State::Established => {
                self.fin_queued = true;
                self.set_state(ctx, State::FinWait1);
                Ok(Disposition::Keep)
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.set_state(ctx, State::LastAck);
                Ok(Disposition::Keep)
            }
            // Already closing: nothing more to do.
            State::FinWait1
            | State::FinWait2
            | State::Closing
            | State::LastAck
            | State::TimeWait => Ok(Disposition::Keep),
            State::Closed | State::Listen => Err(self.error.unwrap_or(TcpError::NotConnected)),
        }
    }

    /// CLOSE by the user (RFC 9293 §3.10.4): FIN after queued data, and
    /// the handle is gone. An orphan in FIN-WAIT-2 gets a timeout so a
    /// vanished peer cannot pin it forever (Linux tcp_fin_timeout).
    pub fn release(&mut self, ctx: &mut Ctx<'_>) {
        self.released = true;
        let _ = self.shutdown_write(ctx);
        if self.state == State::FinWait2 {
            self.close_at = Some(ctx.now + ctx.cfg.fin_wait2_timeout);
        }
    }

    /// ABORT (RFC 9293 §3.10.5): RST to the peer in synchronized states.
    pub fn abort(&mut self, ctx: &mut Ctx<'_>) {
        if matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        ) {
            // RFC 9293 §3.10.5 says <SEQ=SND.NXT>; SND.NXT rewinds on a
            // timeout, and a peer that holds everything sent would find an
            // older sequence number out of window and drop the RST: the
            // highest sequence number sent is the one it expects.
            // Not bounded by `rst_queue_limit`: that bound guards against
            // RSTs provoked by arriving segments; an abort is the user's
            // own call, at most one per connection, and a peer left
            // without it keeps a dead connection open ("a RST segment
            // should be formed and sent").
            let ts = self.rst_timestamps(ctx.now);
            ctx.rst_always(self.local, self.remote, self.snd_max.0, None, ts);
            ctx.stats.rst_sent += 1;
        }
        self.set_state(ctx, State::Closed);
    }

    // ------------------------------------------------------------------
    // Segment arrival (RFC 9293 §3.10.7)
    // ------------------------------------------------------------------

    /// Process one inbound segment for this connection.
    pub fn on_segment(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr<'_>) -> Disposition {
        self.last_rcv = ctx.now;
        if self.state == State::SynSent {
            return self.on_segment_syn_sent(ctx, seg);
        }
        self.on_segment_synchronized(ctx, seg)
    }

    /// RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT.
    fn on_segment_syn_sent(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr<'_>) -> Disposition {
        let f = seg.flags;
        let ack = SeqNumber(seg.ack);
        let mut ack_ok = false;
        // First: check the ACK bit.
        if f.ack() {
            if ack <= self.iss || ack > self.snd_max {
                // RFC 9293 §3.10.7.3: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset
                // (unless the RST bit is set, if so drop the segment)".
                if !f.rst() {
                    ctx.rst(self.local, self.remote, seg.ack, None, None);
                    ctx.stats.rst_sent += 1;
                }
                ctx.stats.bad_ack += 1;
                return Disposition::Keep;
            }
            ack_ok = self.snd_una < ack && ack <= self.snd_max;
        }
        // Second: check the RST bit (RFC 5961 §3.2 for SYN-SENT: accept only
        // with an acceptable ACK).
        if f.rst() {
            ctx.stats.rst_received += 1;
            if ack_ok {
                return self.fail(ctx, TcpError::Refused);
            }
            return Disposition::Keep;
        }
        // Fourth: check the SYN bit.
        if !f.syn() {
            return Disposition::Keep;
        }
        self.irs = SeqNumber(seg.seq);
        self.rcv_nxt = self.irs + 1;
        self.rcv_adv = self.rcv_nxt;
        self.negotiate(ctx, &seg.options);
        if ack_ok {
            // Our SYN is acknowledged: ESTABLISHED.
            self.snd_una = ack;
            self.syn_acked = true;
            self.take_rtt_sample(ctx, seg, ack);
            self.rto_at = None;
            self.retries = 0;
            self.rtt.reset_backoff();
            if self.handshake_lost {
                self.after_handshake_loss();
            }
            // The SYN-ACK's window is not scaled (RFC 7323 §2.2).
            self.snd_wnd = u32::from(seg.window);
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = SeqNumber(seg.seq);
            self.snd_wl2 = ack;
            self.set_state(ctx, State::Established);
            ctx.events.push_back(TcpEvent::Connected(self.handle));
            self.ack_now = true;
            if self.tx.free() > 0 && self.writable_armed {
                self.writable_armed = false;
                ctx.events.push_back(TcpEvent::Writable(self.handle));
            }
            // Data or FIN in the SYN-ACK: continue at the sixth step.
            if !seg.payload.is_empty() || f.fin() {
                return self.process_text_and_fin(
                    ctx,
                    SeqNumber(seg.seq) + 1,
                    seg.payload,
                    f.fin(),
                );
            }
        } else {
            // Simultaneous open (RFC 9293 §3.10.7.3, figure 8; MUST-10):
            // SYN-RECEIVED, resend our SYN as SYN,ACK. `listener` stays None,
            // which records that this SYN-RECEIVED came from an active OPEN
            // (MUST-11).
            self.snd_wnd = u32::from(seg.window);
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = SeqNumber(seg.seq);
            self.snd_wl2 = self.snd_una;
            self.snd_nxt = self.iss;
            self.set_state(ctx, State::SynReceived);
        }
        Disposition::Keep
    }

    /// A pure duplicate ACK overtaken on the way back (the ACK path
    /// reordered it), which therefore carries a TSval below TS.Recent.
    ///
    /// RFC 7323 §5.3 R1 rejects every segment with SEG.TSval < TS.Recent,
    /// pure ACKs included (§5.2: "PAWS submits all incoming segments to
    /// the same test, and therefore protects against duplicate ACK
    /// segments as well as data segments"). Linux exempts this one case
    /// (`tcp_disordered_ack`), and so does strata: an empty segment at
    /// RCV.NXT whose ACK field is SND.UNA and whose window is the one in
    /// force changes nothing PAWS guards (no data, no acknowledgement, no
    /// window: the SND.WL1/WL2 update is a no-op); what it carries is its
    /// count as a duplicate ACK (RFC 5681 §2) and its SACK blocks, which
    /// loss recovery needs (RFC 6675 §5, RFC 8985 §6.2). Its TSval must be
    /// within one RTO of TS.Recent: a segment from before a sequence wrap
    /// is far older (the timestamp clock ticks at least once per window,
    /// RFC 7323 §5.4).
    fn disordered_dup_ack(&self, seg: &TcpRepr<'_>, tsval: u32) -> bool {
        let f = seg.flags;
        let window = u32::from(seg.window) << self.snd_wscale;
        let behind_ms = u64::from(self.ts_recent.wrapping_sub(tsval));
        f.ack()
            && !f.syn()
            && !f.fin()
            && seg.payload.is_empty()
            && SeqNumber(seg.seq) == self.rcv_nxt
            && SeqNumber(seg.ack) == self.snd_una
            && self.snd_max > self.snd_una
            && window == self.snd_wnd
            && u128::from(behind_ms) <= self.rtt.rto().as_millis()
    }

    fn oow_ack_allowed(&mut self, now: Instant) -> bool {
        super::timewait::oow_ack_allowed(&mut self.last_oow_ack, now)
    }

    /// RFC 9293 §3.10.7.4 MAY-12: the RFC 5961 injection protections
    /// answer suspicious RST, SYN and ACK segments with this.
    fn challenge_ack(&mut self, ctx: &mut Ctx<'_>) {
        // RFC 5961 §7: rate-limit challenge ACKs — per connection first
        // (the budget of one connection tells nothing about another,
        // CVE-2016-5696), then under the randomised engine-wide cap.
        if self
            .challenge_limit
            .allow(ctx.now, ctx.cfg.challenge_ack_limit)
            && ctx
                .challenge
                .allow(ctx.now, ctx.cfg.challenge_ack_global_limit)
        {
            ctx.stats.challenge_acks += 1;
            self.ack_now = true;
        } else {
            ctx.stats.challenge_acks_suppressed += 1;
        }
    }

    /// RFC 9293 §3.10.7.4: SEGMENT ARRIVES in the synchronized states.
    fn on_segment_synchronized(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr<'_>) -> Disposition {
        if ctx.predict && self.predicted(seg) {
            return self.on_predicted(ctx, seg);
        }
        let f = seg.flags;
        let seq = SeqNumber(seg.seq);

        // A retransmitted SYN while we are in SYN-RECEIVED: our SYN-ACK was
        // lost, send it again now rather than wait for the timer.
        if self.state == State::SynReceived && f.syn() && !f.ack() && !f.rst() && seq == self.irs {
            self.snd_nxt = self.iss;
            ctx.stats.retransmits += 1;
            ctx.stats.retransmits_syn_ack += 1;
            self.retransmits += 1;
            // RFC 9293 §3.8.1 MUST-18 (Karn's rule, RFC 6298 §3): the ACK
            // that follows may answer either copy, so neither is timed.
            self.rtt_timing = None;
            // The peer lost our SYN-ACK (RFC 5681 §3.1, RFC 6298 §5.7).
            self.handshake_lost = true;
            return Disposition::Keep;
        }

        // RFC 7323 §5.3: PAWS, before the sequence check.
        if self.ts_ok && !f.rst() {
            match seg.options.timestamps {
                Some(ts) => {
                    // RFC 7323 §5.3 R1 rejects SEG.TSval < TS.Recent; one
                    // tick below is let through, as Linux does
                    // (TCP_PAWS_WINDOW): a retransmission that overtakes an
                    // original sent a tick before it (reordering) moves
                    // TS.Recent past it (§4.3), and dropping the in-window
                    // original would cost a retransmission of its own. An
                    // old duplicate PAWS guards against is far older.
                    let older = paws_older(self.ts_recent, ts.tsval);
                    // RFC 7323 §5.5: after 24 days idle TS.Recent is invalid.
                    let stale = ctx.now.saturating_duration_since(self.ts_recent_age) > PAWS_IDLE;
                    if older && !stale && !self.disordered_dup_ack(seg, ts.tsval) {
                        // RFC 7323 §5.3: "send an acknowledgment in reply
                        // ... and drop" — rate-limited like every ACK to an
                        // unacceptable segment, so two confused ends cannot
                        // ping-pong ACKs.
                        ctx.stats.paws_rejected += 1;
                        if !f.rst() && self.oow_ack_allowed(ctx.now) {
                            self.ack_now = true;
                        }
                        return Disposition::Keep;
                    }
                    if older && stale {
                        self.ts_recent = ts.tsval;
                        self.ts_recent_age = ctx.now;
                    }
                }
                None => {
                    // RFC 7323 §3.2: non-RST segments without TSopt once
                    // negotiated SHOULD be dropped.
                    ctx.stats.missing_timestamps += 1;
                    return Disposition::Keep;
                }
            }
        }

        // First: check sequence number (RFC 9293 §3.10.7.4, table of four
        // cases of the acceptability test).
        let mut payload = seg.payload;
        let mut syn = f.syn();
        let mut fin = f.fin();
        let seg_len = payload.len() + usize::from(syn) + usize::from(fin);
        let wnd = self
            .rcv_adv
            .since(self.rcv_nxt)
            .max(if self.state == State::SynReceived {
                self.rx.window()
            } else {
                0
            });
        let end = self.rcv_nxt + wnd;
        let acceptable = match (seg_len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => seq.in_range(self.rcv_nxt, end),
            (_, 0) => false,
            (_, _) => {
                seq.in_range(self.rcv_nxt, end) || (seq + (seg_len - 1)).in_range(self.rcv_nxt, end)
            }
        };
        // "If the RCV.WND is zero, no segments will be acceptable, but
        // special allowance should be made to accept valid ACKs, URGs, and
        // RSTs" (RFC 9293 §3.10.7.4, MUST-66).
        let zero_window_allowance = !acceptable && wnd == 0 && seq == self.rcv_nxt;
        if !acceptable
            && !zero_window_allowance
            && self.sack_ok
            && !f.rst()
            && !syn
            && self.state != State::TimeWait
        {
            // RFC 2883 §4: data wholly below RCV.NXT is a duplicate: report
            // it in the first SACK block of an immediate ACK. A data
            // segment cannot start an ACK loop, so no rate limit (as
            // Linux); only a plausible retransmission, within a receive
            // buffer of RCV.NXT, is answered so.
            let end = seq + payload.len();
            let reach = self.rx.limit().max(65_535);
            if !payload.is_empty() && end <= self.rcv_nxt && self.rcv_nxt.since(seq) <= reach {
                self.set_dsack(ctx, seq, end);
                self.ack_now = true;
                ctx.stats.out_of_window += 1;
                return Disposition::Keep;
            }
        }
        if !acceptable && !zero_window_allowance {
            // "If an incoming segment is not acceptable, an acknowledgment
            // should be sent in reply (unless the RST bit is set)" — at
            // most one per 100 ms, so two confused ends (or an attacker)
            // cannot start an ACK storm (as Linux tcp_invalid_ratelimit).
            if !f.rst() && self.oow_ack_allowed(ctx.now) {
                self.ack_now = true;
                if self.state == State::TimeWait && fin {
                    // A retransmitted FIN: restart the 2 MSL timer.
                    self.close_at = Some(ctx.now + 2 * ctx.cfg.msl);
                }
            }
            ctx.stats.out_of_window += 1;
            return Disposition::Keep;
        }
        let mut seq_eff = seq;
        if zero_window_allowance {
            if !payload.is_empty() {
                ctx.stats.zero_window_drops += 1;
                self.ack_now = true;
            }
            // A bare FIN at RCV.NXT takes no buffer space: accepted with a
            // zero window (as Linux does); a FIN behind dropped data is not.
            fin = fin && payload.is_empty();
            payload = &[];
        } else {
            // Trim the part before RCV.NXT ("only the new parts are processed").
            let mut skip = self.rcv_nxt.since(seq);
            if skip > 0 && syn {
                if self.state != State::SynReceived {
                    // A SYN below RCV.NXT is still a SYN, not old data to
                    // trim: RFC 5961 §4.2, challenge ACK and drop (RFC 9293
                    // §3.10.7.4 fourth step).
                    self.challenge_ack(ctx);
                    return Disposition::Keep;
                }
                // SYN-RECEIVED: the peer's SYN (now a SYN,ACK) again.
                syn = false;
                skip -= 1;
                seq_eff += 1usize;
            }
            if skip > 0 {
                let k = skip.min(payload.len());
                if k > 0 && self.sack_ok {
                    // RFC 2883 §4.1.1: the duplicate part of a partly old
                    // segment is reported as a D-SACK.
                    self.set_dsack(ctx, seq_eff, seq_eff + k);
                    self.ack_now = true;
                }
                payload = &payload[k..];
                seq_eff += k;
                if skip > k {
                    fin = false;
                }
            }
            // Trim what lies beyond the window (the FIN with it).
            let room = end.since(seq_eff);
            if payload.len() > room {
                payload = &payload[..room];
                fin = false;
            }
        }

        self.update_ts_recent(ctx.now, seq, seg);

        // Second: check the RST bit (RFC 5961 §3.2; RFC 9293 §3.10.7.4).
        if f.rst() {
            ctx.stats.rst_received += 1;
            if self.state == State::TimeWait {
                // RFC 1337: TIME-WAIT assassination guard — ignore RST.
                ctx.stats.rst_ignored_time_wait += 1;
                return Disposition::Keep;
            }
            if seq != self.rcv_nxt {
                // RFC 5961 §3.2: in window but not exact → challenge ACK.
                self.challenge_ack(ctx);
                return Disposition::Keep;
            }
            return match self.state {
                // Passive open: back to LISTEN (the engine forgets the TCB).
                State::SynReceived if self.listener.is_some() => {
                    self.set_state(ctx, State::Closed);
                    Disposition::Closed
                }
                // Active open (simultaneous): connection refused.
                State::SynReceived => self.fail(ctx, TcpError::Refused),
                // ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT: reset, and the user
                // learns it was aborted, not closed (MUST-12).
                State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                    self.fail(ctx, TcpError::Reset)
                }
                // CLOSING, LAST-ACK: enter CLOSED.
                _ => {
                    self.set_state(ctx, State::Closed);
                    Disposition::Closed
                }
            };
        }

        // Fourth: check the SYN bit (RFC 9293 §3.10.7.4 fourth, RFC 5961 §4).
        if syn {
            if self.state == State::SynReceived && self.listener.is_some() {
                // "If the connection was initiated with a passive OPEN, then
                // return this connection to the LISTEN state".
                self.set_state(ctx, State::Closed);
                return Disposition::Closed;
            }
            // RFC 5961 §4.2: challenge ACK, drop the segment.
            self.challenge_ack(ctx);
            return Disposition::Keep;
        }

        // Fifth: check the ACK field.
        if !f.ack() {
            // "If the ACK bit is off, drop the segment and return."
            ctx.stats.no_ack += 1;
            return Disposition::Keep;
        }
        let ack = SeqNumber(seg.ack);
        if self.state == State::SynReceived {
            if self.snd_una < ack && ack <= self.snd_max {
                // SYN-RECEIVED → ESTABLISHED.
                self.snd_wnd = u32::from(seg.window) << self.snd_wscale;
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = seq;
                self.snd_wl2 = ack;
                self.set_state(ctx, State::Established);
                if self.listener.is_none() {
                    ctx.events.push_back(TcpEvent::Connected(self.handle));
                }
                if self.close_after_established {
                    self.close_after_established = false;
                    self.fin_queued = true;
                    self.set_state(ctx, State::FinWait1);
                }
            } else {
                // "<SEQ=SEG.ACK><CTL=RST>".
                let ts = self.rst_timestamps(ctx.now);
                ctx.rst(self.local, self.remote, seg.ack, None, ts);
                ctx.stats.rst_sent += 1;
                ctx.stats.bad_ack += 1;
                return Disposition::Keep;
            }
        }

        // ESTABLISHED processing of the ACK (RFC 9293 §3.10.7.4 fifth;
        // RFC 5961 §5.2 acceptance window).
        if ack > self.snd_max {
            // "If the ACK acks something not yet sent ... send an ACK, drop"
            // (RFC 9293 §3.10.7.4), rate-limited (RFC 5961 §5.2, §7 spirit).
            if self.oow_ack_allowed(ctx.now) {
                self.ack_now = true;
            }
            ctx.stats.bad_ack += 1;
            return Disposition::Keep;
        }
        if ack < self.snd_una - self.max_snd_wnd as usize {
            // RFC 5961 §5.2: too old → challenge ACK, drop.
            ctx.stats.bad_ack += 1;
            self.challenge_ack(ctx);
            return Disposition::Keep;
        }
        self.process_ack(ctx, seg, seq, ack);

        if self.ack_state_step(ctx) == Disposition::Closed {
            return Disposition::Closed;
        }

        // Sixth: the URG bit (RFC 9293 §3.8.5, urgent.rs): RCV.UP moves on
        // and the application is told; the data itself stays inline.
        if f.urg() {
            self.on_urgent(ctx, seq, seg.urgent);
        }
        // Seventh and eighth: text and FIN.
        self.process_text_and_fin(ctx, seq_eff, payload, fin)
    }

    /// RFC 7323 §4.3: update TS.Recent when the segment covers
    /// Last.ACK.sent.
    #[inline]
    fn update_ts_recent(&mut self, now: Instant, seq: SeqNumber, seg: &TcpRepr<'_>) {
        if self.ts_ok {
            if let Some(ts) = seg.options.timestamps {
                if seq <= self.last_ack_sent && (ts.tsval.wrapping_sub(self.ts_recent) as i32) >= 0
                {
                    self.ts_recent = ts.tsval;
                    self.ts_recent_age = now;
                }
            }
        }
    }

    /// The fifth step of RFC 9293 §3.10.7.4 for an acceptable ACK
    /// (`SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.MAX`, RFC 5961 §5.2):
    /// new data acknowledged or a duplicate ACK, SACK and loss recovery,
    /// then the send window update. The state-specific parts follow in the
    /// caller.
    fn process_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr<'_>,
        seq: SeqNumber,
        ack: SeqNumber,
    ) {
        let f = seg.flags;
        self.probes_unanswered = 0;
        self.ka_probes = 0;
        // The scaled window is a 32-bit number (RFC 9293 §3.8.6 REC-1).
        let window = u32::from(seg.window) << self.snd_wscale;
        if window == 0 && ack == self.snd_una && self.snd_max > self.snd_una {
            // The peer is alive and says its window is shut: retransmissions
            // act as window probes, which never give up while answered.
            self.retries = 0;
        }
        let mut fast_rexmit = false;
        let mut dup_ack = false;
        let (una0, sacked0) = (self.snd_una, self.scoreboard.sacked_bytes());
        // The loss probe's TSval, before an ACK of everything forgets it.
        let probe_ts = self.rexmit_tsval;
        let recovering0 = self.cc.in_recovery();
        if self.snd_una < ack {
            self.on_new_ack(ctx, seg, ack);
        } else if ack == self.snd_una
            // RFC 5681 §2 (b): the segment carries no data — as it arrived,
            // not after trimming (a 1-byte zero-window probe is no dup ACK).
            && seg.payload.is_empty()
            && !f.fin()
            && window == self.snd_wnd
            && self.snd_max > self.snd_una
        {
            // RFC 5681 §2: a duplicate ACK.
            dup_ack = true;
            self.dupacks += 1;
            let flight = self.snd_max.since(self.snd_una);
            if !self.sack_ok {
                // The window before a reduction, in case it proves
                // spurious (RFC 3522).
                let prior = (self.dupacks == 3).then(|| self.cc.clone());
                fast_rexmit =
                    self.cc
                        .on_dup_ack(self.dupacks, ack, self.snd_max, flight, self.eff_mss());
                if let (true, Some(prior)) = (fast_rexmit, prior) {
                    self.start_undo(prior, flight, false);
                }
            }
        }
        let mut blocks = [(SeqNumber(0), SeqNumber(0)); 4];
        let mut n = 0;
        let mut dsack = None;
        if self.sack_ok && seg.options.sack_len > 0 {
            n = seg.options.sack().len();
            for (i, b) in seg.options.sack().iter().enumerate() {
                blocks[i] = (SeqNumber(b.left), SeqNumber(b.right));
            }
            // RFC 2883 §4 (and §4.1): the first block is a D-SACK when it
            // lies below the cumulative ACK or inside the second block; it
            // reports a duplicate, not newly SACKed data.
            let (l0, r0) = blocks[0];
            if l0 < r0 && (r0 <= ack || (n >= 2 && blocks[1].0 <= l0 && r0 <= blocks[1].1)) {
                dsack = Some((l0, r0));
                ctx.stats.dsacks_received += 1;
            }
            let first = usize::from(dsack.is_some());
            self.scoreboard
                .update(&blocks[first..n], self.snd_una, self.snd_max);
        }
        if self.sack_ok {
            let first = usize::from(dsack.is_some()).min(n);
            let exited = recovering0 && !self.cc.in_recovery();
            self.rack_on_ack(ctx, seg, una0, &mut blocks[first..n], dsack, exited);
            self.sack_recovery_on_ack(ctx, una0, sacked0);
        } else if fast_rexmit {
            // RFC 5681 §3.2 step 2: retransmit the lost segment now.
            ctx.stats.fast_retransmits += 1;
            self.rexmit_at = Some(self.snd_una);
            self.rexmit_hi = self.snd_una;
        }
        if self.tlp.is_some() {
            let advanced = self.snd_una != una0;
            let flight = self.snd_max.since(una0);
            self.tlp_on_ack(ctx, seg, ack, flight, dsack, n > 0, advanced, probe_ts);
        }
        self.frto_on_ack(ctx, una0, dup_ack);
        // Send window update (RFC 9293 §3.10.7.4, the SND.WL1/WL2 rule;
        // the window is unsigned, MUST-1).
        if self.snd_una <= ack
            && (self.snd_wl1 < seq || (self.snd_wl1 == seq && self.snd_wl2 <= ack))
        {
            let was_zero = self.snd_wnd == 0;
            self.snd_wnd = window;
            self.max_snd_wnd = self.max_snd_wnd.max(window);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            if was_zero && window > 0 {
                self.persist_at = None;
                self.persist_backoff = 0;
            }
        }
    }

    /// The state-specific part of the fifth step (RFC 9293 §3.10.7.4):
    /// our FIN acknowledged moves FIN-WAIT-1, CLOSING and LAST-ACK on.
    fn ack_state_step(&mut self, ctx: &mut Ctx<'_>) -> Disposition {
        match self.state {
            State::FinWait1 if self.fin_acked() => {
                self.set_state(ctx, State::FinWait2);
                if self.released {
                    self.close_at = Some(ctx.now + ctx.cfg.fin_wait2_timeout);
                }
            }
            State::Closing if self.fin_acked() => {
                self.enter_time_wait(ctx);
            }
            State::LastAck if self.fin_acked() => {
                self.set_state(ctx, State::Closed);
                return Disposition::Closed;
            }
            _ => {}
        }
        Disposition::Keep
    }

    /// Header prediction (V. Jacobson's, as in Linux `tcp_rcv_established`):
    /// true when `seg` is the next segment of a connection in ESTABLISHED,
    /// FIN-WAIT-1, FIN-WAIT-2 or CLOSE-WAIT, in the common shape, for which
    /// the first four checks of RFC 9293 §3.10.7.4 cannot fail and change
    /// nothing:
    ///
    /// - only ACK (and PSH) set: no RST, SYN, FIN or URG to process;
    /// - SEG.SEQ = RCV.NXT and the text fits the window: acceptable
    ///   (the first check's table of four cases), nothing to trim;
    /// - with timestamps, a TSval not older than TS.Recent: PAWS (RFC 7323
    ///   §5.3) passes;
    /// - SND.UNA <= SEG.ACK <= SND.MAX: an acceptable ACK (fifth check,
    ///   RFC 5961 §5.2): nothing to answer, nothing to challenge.
    ///
    /// Such a segment goes straight to the ACK step ([`Conn::process_ack`],
    /// the same code as the full path's: new data acknowledged, duplicate
    /// ACKs, SACK blocks, window updates) and the text step, which then do
    /// exactly what the full path does with it (the `tcp_sweep` test runs
    /// both and compares every segment sent).
    #[inline]
    fn predicted(&self, seg: &TcpRepr<'_>) -> bool {
        const OTHER: u16 = TcpFlags::SYN.0 | TcpFlags::FIN.0 | TcpFlags::RST.0 | TcpFlags::URG.0;
        let f = seg.flags;
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait
        ) || !f.ack()
            || f.0 & OTHER != 0
            || seg.seq != self.rcv_nxt.0
        {
            return false;
        }
        if self.ts_ok {
            match seg.options.timestamps {
                Some(ts) if (ts.tsval.wrapping_sub(self.ts_recent) as i32) >= 0 => {}
                _ => return false,
            }
        }
        let ack = SeqNumber(seg.ack);
        self.snd_una <= ack
            && ack <= self.snd_max
            && seg.payload.len() <= self.rcv_adv.since(self.rcv_nxt)
    }

    /// A segment [`Conn::predicted`] accepted: RFC 9293 §3.10.7.4 from the
    /// TS.Recent update (RFC 7323 §4.3) on — the ACK (fifth, with its
    /// state-specific part), no URG (sixth), the text (seventh), no FIN
    /// (eighth).
    fn on_predicted(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr<'_>) -> Disposition {
        let seq = SeqNumber(seg.seq);
        ctx.stats.predicted += 1;
        self.update_ts_recent(ctx.now, seq, seg);
        self.process_ack(ctx, seg, seq, SeqNumber(seg.ack));
        // FIN-WAIT-1 may move to FIN-WAIT-2; nothing here reaches CLOSED
        // (that is LAST-ACK's, which takes the full path).
        self.ack_state_step(ctx);
        self.process_text_and_fin(ctx, seq, seg.payload, false)
    }

    /// Report `[left, right)` as a duplicate in the first SACK block of
    /// the next ACK (RFC 2883 §4); a later duplicate replaces it.
    fn set_dsack(&mut self, ctx: &mut Ctx<'_>, left: SeqNumber, right: SeqNumber) {
        ctx.stats.dsacks_sent += 1;
        self.rare.get_or_insert_with(Default::default).dsack = Some((left, right));
    }

    fn enter_time_wait(&mut self, ctx: &mut Ctx<'_>) {
        // MUST-13: an active closer lingers in TIME-WAIT for 2×MSL.
        self.set_state(ctx, State::TimeWait);
        // Thousands of connections may wait here: hold no buffers.
        self.tx.shrink_into(ctx.pool);
        self.rx.shrink_into(ctx.pool);
        // RFC 9293 §3.10.7.4: "Start the time-wait timer, turn off the
        // other timers" — 2×MSL.
        let ack_now = self.ack_now;
        self.clear_timers();
        self.ack_now = ack_now;
        self.close_at = Some(ctx.now + 2 * ctx.cfg.msl);
    }

    /// Our SYN was acknowledged after the SYN or SYN-ACK had to be sent
    /// again.
    fn after_handshake_loss(&mut self) {
        // RFC 5681 §3.1: initial window of one segment.
        let mss = self.eff_mss();
        self.cc.on_handshake_loss(mss);
        // RFC 6298 §5.7: RTO of 3 s once data flows, unless a (timestamp)
        // sample measured the path.
        self.rtt.on_handshake_loss();
    }

    /// RFC 6675 §5 loss recovery driven by the SACK scoreboard, with the
    /// window of RFC 6937 PRR; `una0` and `sacked0` are SND.UNA and the
    /// SACKed bytes before this ACK.
    fn sack_recovery_on_ack(&mut self, ctx: &mut Ctx<'_>, una0: SeqNumber, sacked0: usize) {
        let mss = self.eff_mss();
        let (una, max) = (self.snd_una, self.snd_max);
        let lost_edge = self.rack.as_deref().and_then(|r| r.lost_edge(una));
        if !self.cc.in_recovery() {
            // RFC 6675 §5 (A): the ACK covered RecoveryPoint (or an RTO
            // ended the episode, §5.1).
            if let Some(r) = self.rack.as_deref_mut() {
                r.episode = None;
            }
            // RFC 6675 §5 (2.b) IsLost(HighACK + 1): enter loss recovery
            // (step 4). RFC 8985 §6 decides IsLost() by time: the first
            // unacknowledged segment is lost when RACK marked it, which
            // without reordering seen is the DupThresh rule (§6.2 step 4),
            // and with reordering waits out the reordering window instead
            // of counting duplicate ACKs (§2.a is not used: reordered
            // segments make them).
            if lost_edge.is_none() || max <= una || !self.cc.may_enter_recovery(una) {
                return;
            }
            ctx.stats.fast_retransmits += 1;
            let flight = max.since(una);
            self.start_undo(self.cc.clone(), flight, false);
            self.cc.enter_sack_recovery(max, flight, mss);
            // (4.3) the first segment from HighACK goes out first; HighRxt
            // starts at HighACK, RescueRxt at the end of that segment.
            self.rexmit_hi = una;
            let first_end = self.scoreboard.next_sacked_after(una).unwrap_or(max);
            let first_end = first_end.min(una + mss);
            self.rack
                .get_or_insert_with(|| Box::new(Rack::new(una)))
                .episode = Some(Episode::new(una, max, first_end));
        }
        let relost = self.rack.as_deref().map_or(0, |r| r.relost_bytes());
        let Some(ep) = self.rack.as_deref_mut().and_then(|r| r.episode.as_mut()) else {
            return;
        };
        // RFC 6937 §3: DeliveredData = change in SND.UNA + change in SACKd.
        let delivered = (una.since(una0) + self.scoreboard.sacked_bytes()).saturating_sub(sacked0);
        let pipe = self
            .scoreboard
            .pipe(una, max, self.rexmit_hi, lost_edge)
            .saturating_sub(relost);
        let cwnd = ep.prr_on_ack(delivered, pipe, self.cc.ssthresh(), mss);
        self.cc.set_recovery_cwnd(cwnd);
    }

    /// A SACK loss-recovery episode runs (RFC 6675 §5, RFC 6937).
    fn in_episode(&self) -> bool {
        self.rack.as_deref().is_some_and(|r| r.episode.is_some())
    }

    /// RFC 8985 §6.2 on an ACK (steps 2–5): the delivered segments update
    /// RACK's clock, reordering is detected, the reordering window adapts
    /// to D-SACKs, and segments overdue by RACK.rtt + reo_wnd are marked
    /// lost (the loss edge RFC 6675's IsLost() reads); the reorder timer
    /// waits for the rest (§6.3). A D-SACK also counts towards undoing the
    /// episode (RFC 3708).
    fn rack_on_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr<'_>,
        una0: SeqNumber,
        blocks: &mut [(SeqNumber, SeqNumber)],
        dsack: Option<(SeqNumber, SeqNumber)>,
        exited: bool,
    ) {
        let now = ctx.now;
        let (una, nxt) = (self.snd_una, self.snd_max);
        let tsecr = if self.ts_ok {
            seg.options.timestamps.map(|t| t.tsecr)
        } else {
            None
        };
        let off = self.ts_offset;
        let recovering = self.in_episode() || self.cc.in_recovery();
        let srtt = self.rtt.srtt();
        let mss = self.eff_mss();
        let Some(rack) = self.rack.as_deref_mut() else {
            return;
        };
        // RFC 8985 §6.2 step 3 wants the delivered segments in ascending
        // order: the blocks come most recent first (RFC 2018 §4).
        blocks.sort_unstable_by_key(|b| b.0 .0.wrapping_sub(una.0));
        rack.on_ack(now, una, blocks, tsecr, |t| ts_now(t, off));
        let reo_wnd = rack.update_reo_wnd(dsack.is_some(), exited, recovering, una, nxt, srtt);
        let timeout = rack.detect_loss(now, reo_wnd);
        // RFC 3708 §3: every retransmission of the episode reported as a
        // duplicate means none was needed.
        let mut spurious = false;
        if let Some(u) = rack.undo.as_mut() {
            if una >= u.point + u.point.since(u.marker) {
                // A flight past the episode: no late D-SACK undoes it now.
                rack.undo = None;
            } else if let Some((l, r)) = dsack {
                if r > u.marker && u.retrans > 0 {
                    let segs = r.since(l).div_ceil(mss).max(1) as u32;
                    u.retrans = u.retrans.saturating_sub(segs);
                    spurious = u.retrans == 0;
                }
            }
        }
        self.arm_reo(now, timeout);
        if spurious {
            self.undo_spurious(ctx, una.since(una0));
        }
    }

    /// `pto_at` holds the RACK reorder timer (RFC 8985 §6.3), not the
    /// probe timeout (the flag lives in the boxed RACK state).
    fn reo_armed(&self) -> bool {
        self.rack.as_deref().is_some_and(|r| r.reo_armed)
    }

    fn set_reo_armed(&mut self, armed: bool) {
        if let Some(r) = self.rack.as_deref_mut() {
            r.reo_armed = armed;
        }
    }

    /// The RACK reorder timer (RFC 8985 §6.3): in `pto_at` when `timeout`
    /// is some, otherwise the probe timeout goes back there.
    fn arm_reo(&mut self, now: Instant, timeout: Option<Duration>) {
        match timeout {
            Some(t) => {
                self.pto_at = Some(now + t.max(Duration::from_micros(1)));
                self.set_reo_armed(true);
            }
            None if self.reo_armed() => {
                self.set_reo_armed(false);
                self.arm_pto(now);
            }
            None => {}
        }
    }

    /// RFC 8985 §6.3: the reorder timer fired: RACK_detect_loss_and_arm_
    /// timer(), and loss recovery starts if a segment is now lost.
    fn on_reo_timeout(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now;
        let (una, nxt) = (self.snd_una, self.snd_max);
        let recovering = self.in_episode() || self.cc.in_recovery();
        let srtt = self.rtt.srtt();
        let Some(rack) = self.rack.as_deref_mut() else {
            return;
        };
        let reo_wnd = rack.update_reo_wnd(false, false, recovering, una, nxt, srtt);
        let timeout = rack.detect_loss(now, reo_wnd);
        self.arm_reo(now, timeout);
        if self.sack_ok {
            let sacked = self.scoreboard.sacked_bytes();
            self.sack_recovery_on_ack(ctx, una, sacked);
        }
    }

    /// A window reduction begins (loss recovery or a timeout) with `flight`
    /// bytes outstanding and `prior` the controller before it: remember
    /// what to restore should it prove spurious (RFC 4015 §3.2 pipe_prev).
    /// Within the window of an earlier reduction the earlier state is kept.
    fn start_undo(&mut self, prior: Controller, flight: usize, rto: bool) {
        let (una, max) = (self.snd_una, self.snd_max);
        let rack = self.rack.get_or_insert_with(|| Box::new(Rack::new(una)));
        match rack.undo.as_mut() {
            Some(u) if una <= u.point => {
                // The same window: the earlier state is what to restore.
                u.rto |= rto;
            }
            _ => {
                rack.undo = Some(Undo {
                    pipe_prev: flight.max(prior.ssthresh()),
                    prior,
                    marker: una,
                    point: max,
                    retrans: 0,
                    sent: 0,
                    retransmit_ts: None,
                    eifel_armed: false,
                    rto,
                    frto: Frto::Off,
                });
            }
        }
    }

    /// A retransmission of `[seq, end)` went out: RACK's transmit time
    /// (RFC 8985 §6.1) and the episode's undo bookkeeping (RFC 3708
    /// count, RFC 3522 RetransmitTS).
    fn on_retransmitted(&mut self, now: Instant, seq: SeqNumber, end: SeqNumber) {
        // RFC 7661 §4.4.1 R.
        self.cc.on_retransmit(end.since(seq));
        let (max, tsval) = (self.snd_max, ts_now(now, self.ts_offset));
        let ts_ok = self.ts_ok;
        let una = self.snd_una;
        let Some(rack) = self.rack.as_deref_mut() else {
            return;
        };
        if self.sack_ok {
            rack.on_transmit(seq, end, max, now);
        }
        if let Some(u) = rack.undo.as_mut() {
            u.retrans = u.retrans.saturating_add(1);
            u.sent = u.sent.saturating_add(1);
            if ts_ok && u.retransmit_ts.is_none() {
                u.retransmit_ts = Some(tsval);
                // RFC 3522 §3.1 decides on the retransmission of the oldest
                // outstanding segment: the first ACK that advances SND.UNA
                // then covers it, and its echo tells which copy arrived.
                // When RACK first resends a later segment, an ACK of the
                // originals below it echoes an older TSval and says nothing
                // about the hole; the D-SACK count (RFC 3708) decides.
                u.eifel_armed = seq == una;
            }
        }
    }

    /// Give the boxed RACK and HyStart++ states to `pool` (the connection
    /// is being freed).
    pub(crate) fn recycle_boxes(&mut self, pool: &mut BufPool) {
        if let Some(r) = self.rack.take() {
            pool.put_rack(r);
        }
        if let Some(h) = self.cc.take_hystart() {
            pool.put_hystart(h);
        }
    }

    /// New data `[seq, end)` went out (RFC 8985 §6.1 Segment.xmit_ts).
    fn on_new_data_sent(
        &mut self,
        pool: &mut BufPool,
        now: Instant,
        seq: SeqNumber,
        end: SeqNumber,
    ) {
        if !self.sack_ok {
            return;
        }
        let (una, max) = (self.snd_una, self.snd_max);
        self.rack
            .get_or_insert_with(|| pool.rack(una))
            .on_transmit(seq, end, max, now);
    }

    /// F-RTO (RFC 5682 §2.1) steps 2 and 3 on an acceptable ACK after a
    /// retransmission timeout: `una0` is SND.UNA before the ACK, `dup`
    /// whether it was a duplicate ACK (RFC 5681 §2). Instead of resending
    /// the whole flight, the sender first sends new data; if the ACK after
    /// that acknowledges data that was never retransmitted, the original
    /// flight had arrived and the timeout was spurious: the RFC 4015
    /// response undoes it.
    fn frto_on_ack(&mut self, ctx: &mut Ctx<'_>, una0: SeqNumber, dup: bool) {
        let (una, max) = (self.snd_una, self.snd_max);
        let advanced = una > una0;
        let room = (una + self.snd_wnd as usize).since(max);
        let new_data = max < self.data_end() && room > 0;
        let sack = self.sack_ok;
        let Some(rack) = self.rack.as_deref_mut() else {
            return;
        };
        let Some(u) = rack.undo.as_mut() else {
            return;
        };
        match u.frto {
            Frto::Off => {}
            Frto::Step2 if !advanced => {
                // (2.a) of the basic algorithm: a duplicate ACK first means
                // conventional recovery. With SACK (RFC 5682 §3.1 step 2)
                // the duplicate ACKs only fill the scoreboard and F-RTO
                // waits for the acknowledgement of the retransmission.
                if dup && !sack {
                    u.frto = Frto::Off;
                }
            }
            Frto::Step2 => {
                if una >= u.point || !new_data {
                    // (2.a): the ACK covers SND.high, nothing is left to
                    // tell; or (2.b) no new segment can be sent ("the
                    // recommended action is to not enter step 3"):
                    // conventional recovery.
                    u.frto = Frto::Off;
                    return;
                }
                // (2.b) "transmit up to two new (previously unsent)
                // segments and enter step 3".
                u.frto = Frto::Step3;
                rack.frto_new = 2;
                self.snd_nxt = max;
                self.rto_rexmit = false;
            }
            Frto::Step3 if advanced => {
                // (3.b) "if the acknowledgment acknowledges data that was
                // not retransmitted after the timeout, declare the timeout
                // spurious"; RFC 4015 §3.2 response (SND.NXT stays at
                // SND.MAX, the window is restored).
                u.frto = Frto::Off;
                rack.frto_new = 0;
                self.undo_spurious(ctx, una.since(una0));
            }
            Frto::Step3 => {
                if dup {
                    // (3.a) "If the acknowledgment is a duplicate ACK, set
                    // the congestion window to no more than 3 * MSS, and
                    // continue with the slow start algorithm retransmitting
                    // unacknowledged segments."
                    u.frto = Frto::Off;
                    rack.frto_new = 0;
                    let mss = self.eff_mss();
                    self.cc.cap_cwnd(3 * mss);
                    self.snd_nxt = una;
                }
            }
        }
    }

    /// RFC 3522 §3.2 (Eifel detection): on the first ACK that advances
    /// SND.UNA after the first retransmission, an echoed timestamp older
    /// than that retransmission's TSval means the original arrived: the
    /// retransmission (fast or after a timeout) was spurious.
    fn eifel_check(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr<'_>, acked: usize) {
        let Some(u) = self.rack.as_deref_mut().and_then(|r| r.undo.as_mut()) else {
            return;
        };
        if !u.eifel_armed {
            return;
        }
        u.eifel_armed = false;
        if u.sent > 1 {
            // Several retransmissions before the deciding ACK: its echo
            // speaks for the first hole only, and a later one may have been
            // lost for real (RFC 3522 §3.2 compares one retransmission);
            // every retransmission must show itself a duplicate in a D-SACK
            // (RFC 3708 §3) for the episode to be undone.
            return;
        }
        let (Some(rts), Some(ts)) = (u.retransmit_ts, seg.options.timestamps) else {
            return;
        };
        if ts.tsecr != 0 && (ts.tsecr.wrapping_sub(rts) as i32) < 0 {
            self.undo_spurious(ctx, acked);
        }
    }

    /// The episode's reduction was spurious: the RFC 4015 §3.2 response.
    fn undo_spurious(&mut self, ctx: &mut Ctx<'_>, acked: usize) {
        let una = self.snd_una;
        let mss = self.eff_mss();
        let Some(rack) = self.rack.as_deref_mut() else {
            return;
        };
        let Some(u) = rack.undo.take() else {
            return;
        };
        rack.on_spurious(una);
        let flight = self.snd_max.since(una);
        // RFC 4015 §3.2: cwnd = FlightSize + min(bytes_acked, IW),
        // ssthresh = pipe_prev.
        let cwnd = flight + acked.min(initial_window(mss));
        self.cc.undo(&u.prior, u.pipe_prev, cwnd, una);
        rack.episode = None;
        self.rexmit_at = None;
        self.rexmit_hi = una;
        ctx.stats.spurious_undone += 1;
        ctx.stats.spurious_retransmits += u64::from(u.sent);
        if u.rto {
            ctx.stats.spurious_rto_undone += 1;
            // RFC 4015 §3.2: after a spurious timeout, SND.NXT = SND.MAX:
            // no go-back-N of what the peer already has.
            self.rto_rexmit = false;
            if self.snd_nxt < self.snd_max {
                self.snd_nxt = self.snd_max;
            }
        }
    }

    /// During a SACK recovery episode, RFC 6675 §5 (C): what NextSeg()
    /// sends if cwnd − pipe leaves room for it. `Err(())` when nothing may
    /// be sent; `Ok((Some(room), _))` when new data may go out, up to
    /// `room` bytes; `Ok((None, rescue))` outside an episode or when a
    /// retransmission was queued in `rexmit_at` (`rescue` for rule (4)).
    fn recovery_next(
        &mut self,
        mss: usize,
        data_end: SeqNumber,
    ) -> Result<(Option<usize>, bool), ()> {
        let (una, max) = (self.snd_una, self.snd_max);
        let Some(rack) = self.rack.as_deref_mut() else {
            return Ok((None, false));
        };
        let lost_edge = rack.lost_edge(una);
        let relost = rack.first_relost();
        let relost_bytes = rack.relost_bytes();
        let Some(ep) = rack.episode.as_mut() else {
            return Ok((None, false));
        };
        let pipe = self
            .scoreboard
            .pipe(una, max, self.rexmit_hi, lost_edge)
            .saturating_sub(relost_bytes);
        let room = self.cc.cwnd().saturating_sub(pipe);
        // The receiver's window, counted from SND.UNA.
        let rwnd_room = (una + self.snd_wnd as usize).since(max);
        let new_data = max < data_end && rwnd_room > 0 && self.snd_nxt == max;
        let hi = self.rexmit_hi;
        // RFC 8985 §6.2: a retransmission RACK found lost goes out again
        // first (RFC 6675 alone leaves it to the retransmission timer).
        let next = match relost {
            Some(seq) if seq >= una => NextSeg::Retransmit { seq, rescue: false },
            _ => recovery::next_seg(&self.scoreboard, ep, una, max, hi, new_data, lost_edge),
        };
        match next {
            NextSeg::Retransmit { seq, rescue } => {
                let seq = if rescue {
                    recovery::rescue_start(&self.scoreboard, una, max, mss).unwrap_or(seq)
                } else {
                    seq
                };
                let end = self
                    .scoreboard
                    .next_sacked_after(seq)
                    .unwrap_or(max)
                    .min(max);
                // RFC 6675 §5 (C): only while cwnd − pipe ≥ 1 SMSS (or the
                // whole, shorter, hole).
                if room < mss.min(end.since(seq)) || seq >= max {
                    return Err(());
                }
                if rescue {
                    // Rule (4): RescueRxt = RecoveryPoint; HighRxt stays.
                    ep.rescue_rxt = ep.point;
                }
                self.rexmit_at = Some(seq);
                Ok((None, rescue))
            }
            NextSeg::NewData if room >= mss.min(data_end.since(max)) => {
                Ok((Some(room.min(rwnd_room)), false))
            }
            NextSeg::NewData | NextSeg::Nothing => Err(()),
        }
    }

    /// A new cumulative ACK: SND.UNA < SEG.ACK ≤ SND.MAX.
    fn on_new_ack(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr<'_>, ack: SeqNumber) {
        let flight_before = self.snd_max.since(self.snd_una);
        let mut acked = ack.since(self.snd_una);
        let mut data_acked = acked;
        let first_ack = !self.syn_acked;
        if first_ack {
            // Our SYN is covered (the first ACK of SYN-RECEIVED).
            self.syn_acked = true;
            data_acked -= 1;
        }
        if self.fin_seq.is_some_and(|f| ack > f) && !self.fin_acked() {
            data_acked -= 1;
        }
        data_acked = data_acked.min(self.tx.len());
        let rtt_sample = self.take_rtt_sample(ctx, seg, ack);
        let snd_una0 = self.snd_una;
        self.tx.ack(data_acked);
        self.snd_una = ack;
        self.rto_rexmit = false;
        if data_acked > 0 {
            self.orphan_probes = 0;
            self.stall_acked = self
                .stall_acked
                .saturating_add(data_acked.min(usize::from(u16::MAX)) as u16);
        }
        // Every ACK prunes the scoreboard below SND.UNA (not only ACKs with
        // SACK blocks): a range left behind would alias live sequence
        // numbers once the space wraps (RFC 6675 §5 "SND.UNA advances").
        self.scoreboard.prune(ack);
        if self.snd_nxt < self.snd_una {
            self.snd_nxt = self.snd_una;
        }
        self.dupacks = 0;
        self.retries = 0;
        self.rtt.reset_backoff();
        let at = AckTime {
            now: ctx.now,
            rtt: self.rtt.srtt().unwrap_or(super::rtt::INITIAL_RTO),
            rtt_sample,
            snd_nxt: self.snd_nxt,
        };
        if self.cc.wants_hystart() {
            self.cc.give_hystart(ctx.pool.hystart());
        }
        let css_before = self.cc.in_css();
        let outcome = self.cc.on_ack(
            at,
            ack,
            acked.min(flight_before),
            flight_before,
            self.eff_mss(),
        );
        if self.cc.in_css() != css_before {
            // RFC 9406 §4.2: CSS entered on an RTT increase, or left: for
            // congestion avoidance (ssthresh set) or, spurious, back to
            // slow start.
            if !css_before {
                ctx.stats.hystart_css += 1;
            } else if self.cc.ssthresh() < usize::MAX / 2 {
                ctx.stats.hystart_exits += 1;
            }
        }
        if first_ack && self.handshake_lost {
            self.after_handshake_loss();
        }
        if outcome == AckOutcome::PartialAck {
            // RFC 6582 §3.2 step 5: retransmit the first unacknowledged
            // segment (without SACK; SACK recovery follows RFC 6675
            // NextSeg()).
            self.rexmit_at = Some(self.snd_una);
        }
        self.eifel_check(ctx, seg, ack.since(snd_una0));
        // RFC 6298 §5.2/§5.3: stop the timer when all is acked, else restart.
        if self.snd_una == self.snd_max {
            self.rto_at = None;
            self.unacked_since = None;
            self.rexmit_tsval = None;
        } else {
            self.rto_at = Some(ctx.now + self.rtt.rto());
            self.unacked_since = Some(ctx.now);
        }
        self.arm_pto(ctx.now);
        acked = data_acked;
        if acked > 0 && self.writable_armed && self.tx.free() > 0 {
            self.writable_armed = false;
            ctx.events.push_back(TcpEvent::Writable(self.handle));
        }
    }

    /// RTT sample from the timestamp echo (RFC 7323 §4) or from the one
    /// timed segment (RFC 6298 §3, Karn's rule).
    /// Returns the sample taken, if any.
    fn take_rtt_sample(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr<'_>,
        ack: SeqNumber,
    ) -> Option<Duration> {
        if self.ts_ok {
            if let Some(ts) = seg.options.timestamps {
                // An echo older than our last retransmission answers the
                // original transmission (RFC 3522 reasoning): the delay
                // includes lost ACKs, not the path — no sample.
                let stale = self
                    .rexmit_tsval
                    .is_some_and(|r| (ts.tsecr.wrapping_sub(r) as i32) < 0);
                if ts.tsecr != 0 && !stale {
                    let ms = ts_now(ctx.now, self.ts_offset).wrapping_sub(ts.tsecr);
                    let mut taken = None;
                    if ms < 60_000 * 10 {
                        let flight = self.snd_max.since(self.snd_una);
                        let per_rtt = (flight / (2 * self.eff_mss())).max(1) as u32;
                        let r = Duration::from_millis(u64::from(ms));
                        self.rtt.sample(r, per_rtt);
                        taken = Some(r);
                    }
                    self.rtt_timing = None;
                    return taken;
                }
            }
        }
        if let Some((s, t)) = self.rtt_timing {
            if ack > s {
                let r = ctx.now.saturating_duration_since(t);
                self.rtt.sample(r, 1);
                self.rtt_timing = None;
                return Some(r);
            }
        }
        None
    }

    /// Copies the data of an arriving segment straight into the receive
    /// buffer, before the segment is processed, and returns the checksum sum
    /// of that data (see [`RecvBuffer::stage`]). Only for the common case:
    /// SEG.SEQ = RCV.NXT in a state that takes data; the copy becomes
    /// readable only when the segment, once verified, is processed
    /// (`Ctx::staged`).
    pub(crate) fn stage(&mut self, seq: u32, payload: &[u8]) -> Option<u16> {
        let takes_data = matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        );
        if !takes_data || self.released || seq != self.rcv_nxt.0 {
            return None;
        }
        self.rx.stage(payload)
    }

    /// Seventh (segment text) and eighth (FIN) steps of RFC 9293 §3.10.7.4.
    fn process_text_and_fin(
        &mut self,
        ctx: &mut Ctx<'_>,
        seq: SeqNumber,
        payload: &[u8],
        fin: bool,
    ) -> Disposition {
        if !payload.is_empty() {
            match self.state {
                State::Established | State::FinWait1 | State::FinWait2 => {
                    if self.released {
                        // The application is gone: new data cannot be
                        // delivered, reset (RFC 9293 §3.6 SHLD-3, RFC 2525
                        // §2.17).
                        ctx.stats.data_after_close += 1;
                        // SND.MAX, not a rewound SND.NXT (see `abort`).
                        let ts = self.rst_timestamps(ctx.now);
                        ctx.rst(
                            self.local,
                            self.remote,
                            self.snd_max.0,
                            Some(self.rcv_nxt.0.wrapping_add(payload.len() as u32)),
                            ts,
                        );
                        ctx.stats.rst_sent += 1;
                        self.set_state(ctx, State::Closed);
                        return Disposition::Closed;
                    }
                    let off = seq.since(self.rcv_nxt);
                    if ctx.staged == 0 && self.rx.growth_for(off, payload.len()) > ctx.mem_room {
                        // TcpMem::high reached: no memory for this data. It
                        // is dropped as if lost (the peer retransmits it);
                        // the window already advertised stays (RFC 9293
                        // §3.8.6 SHLD-14), and our ACK restates it.
                        ctx.stats.mem_rx_drops += 1;
                        self.ack_now = true;
                        return Disposition::Keep;
                    }
                    let had_ooo = !self.rx.assembler().is_empty();
                    if had_ooo && off > 0 && self.sack_ok {
                        // RFC 2883 §4.2: out-of-order data received twice;
                        // the block holding it is updated by this segment,
                        // so it follows the D-SACK as the first SACK block.
                        let end = (off + payload.len()).min(u32::MAX as usize) as u32;
                        if let Some((a, b)) = self.rx.assembler().overlap(off as u32, end) {
                            let base = self.rcv_nxt;
                            self.set_dsack(ctx, base + a as usize, base + b as usize);
                        }
                    }
                    // Staged bytes are this segment's, placed at RCV.NXT
                    // (`Conn::stage` checked SEG.SEQ = RCV.NXT, so no bytes
                    // were trimmed off the front).
                    if ctx.staged == 0 {
                        self.rx.prime(ctx.pool, off, payload.len());
                    }
                    let w = self.rx.write_staged(off, payload, ctx.staged);
                    if ctx.staged > 0 && w.stored > 0 {
                        ctx.stats.copied_while_verified += 1;
                    }
                    if w.stored == 0 {
                        ctx.stats.ooo_dropped += 1;
                    }
                    if w.advanced > 0 {
                        self.rcv_nxt += w.advanced;
                        if self.readable_armed {
                            self.readable_armed = false;
                            ctx.events.push_back(TcpEvent::Readable(self.handle));
                        }
                    }
                    if off > 0 || had_ooo {
                        // RFC 5681 §4.2: out-of-order data or data filling a
                        // gap is acknowledged at once (quick ACK; RFC 9293
                        // §3.10.7.4 MAY-13). The out-of-order data itself
                        // stays queued in the assembler (SHLD-31).
                        self.ack_now = true;
                    } else {
                        // RFC 9293 §3.8.6.3: delay the ACK (SHLD-18, < 0.5 s,
                        // MUST-40) but ACK at least every second full-sized
                        // segment (SHLD-19).
                        self.measure_rcv_mss(payload.len(), ctx.cfg.announced_mss());
                        self.unacked_rx_bytes = self
                            .unacked_rx_bytes
                            .saturating_add(payload.len().min(u32::MAX as usize) as u32);
                        if ctx.cfg.delayed_ack.is_zero()
                            // RMSS: "the MSS specified by the TCP endpoint
                            // receiving the segments" (RFC 9293 §3.8.6.3).
                            || self.unacked_rx_bytes as usize >= 2 * self.rmss()
                        {
                            self.ack_now = true;
                        } else if self.delack_at.is_none() {
                            // MUST-40: never 0.5 s or more.
                            let d = ctx.cfg.delayed_ack.min(Duration::from_millis(499));
                            self.delack_at = Some(ctx.now + d);
                        }
                    }
                }
                // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not
                // occur since a FIN has been received" — ignore the text.
                _ => ctx.stats.data_ignored += 1,
            }
        }
        if fin {
            let fin_seq = seq + payload.len();
            if fin_seq > self.rcv_nxt {
                // Out of order: remember it until the gap fills.
                self.fin_pending = Some(fin_seq);
            } else if fin_seq == self.rcv_nxt {
                self.fin_pending = Some(fin_seq);
            }
        }
        if self.fin_pending == Some(self.rcv_nxt)
            && !self.peer_fin
            && self.rx.assembler().is_empty()
        {
            return self.process_fin(ctx);
        }
        Disposition::Keep
    }

    /// Eighth step: the FIN bit (RFC 9293 §3.10.7.4).
    fn process_fin(&mut self, ctx: &mut Ctx<'_>) -> Disposition {
        self.fin_pending = None;
        self.peer_fin = true;
        // "Advance RCV.NXT over the FIN, and send an acknowledgment".
        self.rcv_nxt += 1;
        self.ack_now = true;
        ctx.events.push_back(TcpEvent::PeerClosed(self.handle));
        if self.readable_armed {
            self.readable_armed = false;
            ctx.events.push_back(TcpEvent::Readable(self.handle));
        }
        match self.state {
            State::SynReceived | State::Established => self.set_state(ctx, State::CloseWait),
            State::FinWait1 => {
                if self.fin_acked() {
                    self.enter_time_wait(ctx);
                } else {
                    self.set_state(ctx, State::Closing);
                }
            }
            State::FinWait2 => self.enter_time_wait(ctx),
            State::TimeWait => self.close_at = Some(ctx.now + 2 * ctx.cfg.msl),
            _ => {}
        }
        Disposition::Keep
    }

    // ------------------------------------------------------------------
    // Timers
    // ------------------------------------------------------------------

    /// Handle every expired timer.
    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>) -> Disposition {
        let now = ctx.now;
        if self.close_at.is_some_and(|t| t <= now) {
            // 2×MSL elapsed in TIME-WAIT (RFC 9293 §3.10.8), or an orphan
            // gave up waiting in FIN-WAIT-2: CLOSED.
            self.set_state(ctx, State::Closed);
            return Disposition::Closed;
        }
        if self.user_timeout_at().is_some_and(|t| t <= now) {
            // RFC 9293 §3.10.8 USER TIMEOUT: "flush all queues, signal the
            // user ... connection aborted due to user timeout", CLOSED.
            // Here: queued data went undelivered for the user timeout.
            return self.fail(ctx, TcpError::TimedOut);
        }
        if self.pto_at.is_some_and(|t| t <= now) {
            self.pto_at = None;
            if self.reo_armed() {
                self.set_reo_armed(false);
                // RFC 8985 §6.3: the RACK reorder timer.
                self.on_reo_timeout(ctx);
            } else {
                // Before the RTO: a PTO scheduled at the RTO's expiry (RFC
                // 8985 §7.2) sends the probe in its place and restarts it.
                self.on_pto(ctx);
            }
        }
        if self.rto_at.is_some_and(|t| t <= now) {
            self.rto_at = None;
            if self.on_rto(ctx) == Disposition::Closed {
                return Disposition::Closed;
            }
        }
        if self.persist_at.is_some_and(|t| t <= now) {
            self.persist_at = None;
            // RFC 9293 §3.8.6.1: probe the zero window (MUST-35, MUST-36),
            // first after one RTO (SHLD-29) then backing off exponentially
            // (SHLD-30); the connection stays open as long as the peer
            // answers (MUST-37), only unanswered probes count.
            self.probes_unanswered += 1;
            if self.probes_unanswered > ctx.cfg.max_retries || self.orphan_gives_up(ctx) {
                return self.fail(ctx, TcpError::TimedOut);
            }
            if self.snd_wnd == 0 {
                ctx.stats.window_probes += 1;
                self.send_probe = true;
                self.persist_backoff = (self.persist_backoff + 1).min(16);
            } else {
                // Override timeout: send what the small window allows.
                self.probes_unanswered = 0;
                self.force_send = true;
            }
        }
        if self.keepalive_at.is_some_and(|t| t <= now) {
            self.keepalive_at = None;
            if let Some(ka) = self.keepalive() {
                if self.ka_probes >= ka.count {
                    // Several unanswered probes, not one, mean the peer is
                    // dead (MUST-29).
                    return self.fail(ctx, TcpError::TimedOut);
                }
                self.ka_probes += 1;
                ctx.stats.keepalive_probes += 1;
                self.send_probe = true;
                self.keepalive_at = Some(now + ka.interval);
            }
        }
        if self.delack_at.is_some_and(|t| t <= now) {
            self.delack_at = None;
            self.ack_now = true;
        }
        if self.buf_idle_at.is_some_and(|t| t <= now) {
            // Idle long enough: give the buffers back (re-armed by
            // `update_timers` if something is still held).
            self.buf_idle_at = None;
            self.tx.shrink_into(ctx.pool);
            self.rx.shrink_into(ctx.pool);
        }
        Disposition::Keep
    }

    /// The retransmission timer expired (RFC 6298 §5.4–5.7; RFC 9293
    /// §3.8.1 MUST-18, backoff MUST-19).
    fn on_rto(&mut self, ctx: &mut Ctx<'_>) -> Disposition {
        let now = ctx.now;
        match self.state {
            // RFC 9293 §3.8.3 MUST-22: SYNs are retransmitted, backed off
            // and given up on by the same mechanism as data.
            State::SynSent | State::SynReceived => {
                let limit = if self.state == State::SynSent {
                    ctx.cfg.syn_retries
                } else {
                    ctx.cfg.synack_retries
                };
                if self.retries >= limit || self.user_timeout_expired(now) {
                    if self.listener.is_some() {
                        // A half-open passive connection just disappears.
                        self.set_state(ctx, State::Closed);
                        return Disposition::Closed;
                    }
                    let e = self.soft_error.unwrap_or(TcpError::TimedOut);
                    return self.fail(ctx, e);
                }
                self.retries += 1;
                self.handshake_lost = true;
                self.rtt.on_timeout();
                ctx.stats.retransmits += 1;
                ctx.stats.retransmits_timeout += 1;
                self.retransmits += 1;
                // Resend the SYN (or SYN-ACK), RFC 6298 §5.6: with the timer
                // restarted at the backed-off RTO.
                self.snd_nxt = self.iss;
                self.rtt_timing = None;
                self.rto_at = Some(now + self.rtt.rto());
                Disposition::Keep
            }
            _ => {
                if self.snd_max == self.snd_una {
                    return Disposition::Keep;
                }
                // RFC 9293 §3.8.3 MUST-20: after R2 retransmissions close the
                // connection (R2 ≥ 100 s by default, SHLD-11); RFC 5482 user
                // timeout likewise.
                // Against a zero window the answered retransmissions keep
                // `retries` at 0 (MUST-37); an orphan's are counted apart.
                if self.retries >= ctx.cfg.max_retries
                    || self.user_timeout_expired(now)
                    || (self.snd_wnd == 0 && self.orphan_gives_up(ctx))
                {
                    let e = self.soft_error.unwrap_or(TcpError::TimedOut);
                    return self.fail(ctx, e);
                }
                self.retries += 1;
                ctx.stats.rto_expired += 1;
                // RFC 6298 §5.5: back off; §5.6: restart the timer on send.
                self.rtt.on_timeout();
                let flight = self.snd_max.since(self.snd_una);
                // RFC 5682 §2.1 step 1 (F-RTO) when timestamps are off
                // (with them RFC 3522 tells a spurious timeout by the first
                // ACK's echo). Not for a timeout during a loss recovery,
                // whose reduction stands (as in Linux); again for one during
                // F-RTO ("If the retransmission timer expires again ... go
                // to step 1").
                let frto = !self.ts_ok
                    && !self.cc.in_recovery()
                    && !self.in_episode()
                    && self
                        .rack
                        .as_deref()
                        .and_then(|r| r.undo.as_ref())
                        .is_none_or(|u| self.snd_una > u.point || u.frto != Frto::Off);
                self.start_undo(self.cc.clone(), flight, true);
                self.cc.on_rto(self.snd_max, flight, self.eff_mss());
                if let Some(rack) = self.rack.as_deref_mut() {
                    rack.on_rto(self.snd_una);
                    rack.frto_new = 0;
                    if let Some(u) = rack.undo.as_mut() {
                        u.frto = if frto { Frto::Step2 } else { Frto::Off };
                    }
                }
                // RFC 6298 §5.4: retransmit the earliest unacked segment; we
                // go back to SND.UNA and resend. RFC 2018 §8: after a
                // timeout the sender MUST retransmit the segment at the left
                // window edge whether or not it was SACKed, since the
                // receiver may have reneged: the scoreboard is forgotten
                // (RFC 6675 §5.1 allows it) and rebuilt by later ACKs.
                self.scoreboard.clear();
                self.snd_nxt = self.snd_una;
                self.rto_rexmit = true;
                self.rtt_timing = None; // Karn's rule.
                self.dupacks = 0;
                self.rexmit_at = None;
                self.rexmit_hi = self.snd_una;
                // RFC 6675 §5.1: the timeout ends the recovery episode;
                // RFC 8985 §7: and any loss probe.
                if let Some(r) = self.rack.as_deref_mut() {
                    r.episode = None;
                }
                self.pto_at = None;
                self.set_reo_armed(false);
                self.tlp = None;
                self.tlp_new_data = false;
                // RFC 6298 §5.6: restart the timer with the backed-off RTO
                // now, so it runs even if nothing can be sent.
                self.rto_at = Some(now + self.rtt.rto());
                Disposition::Keep
            }
        }
    }

    /// RFC 8985 §7.2: (re)start the probe timeout after new data went out
    /// or new data was acknowledged — with SACK, outside loss recovery,
    /// with an RTT sample and no probe outstanding.
    fn arm_pto(&mut self, now: Instant) {
        if self.reo_armed() {
            // The RACK reorder timer holds the slot; the probe timeout is
            // armed when it is done (RFC 8985 §6.3, §7.2).
            return;
        }
        self.pto_at = None;
        let open = matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        );
        if !self.sack_ok
            || !open
            || self.in_episode()
            || self.cc.in_recovery()
            || self.tlp.is_some()
            || self.snd_max <= self.snd_una
        {
            return;
        }
        let Some(srtt) = self.rtt.srtt() else {
            return;
        };
        let flight = self.snd_max.since(self.snd_una);
        self.pto_at = Some(tlp::pto(now, srtt, flight, self.eff_mss(), self.rto_at));
    }

    /// The probe timeout fired (RFC 8985 §7.3): send one probe segment.
    fn on_pto(&mut self, ctx: &mut Ctx<'_>) {
        if self.snd_max <= self.snd_una
            || self.in_episode()
            || self.cc.in_recovery()
            || self.snd_wnd == 0
        {
            return;
        }
        let mss = self.eff_mss();
        let data_end = self.data_end();
        let room = (self.snd_una + self.snd_wnd as usize).since(self.snd_max);
        ctx.stats.tlp_probes += 1;
        if self.snd_nxt == self.snd_max && self.snd_max < data_end && room > 0 {
            // "If previously unsent data is available and the receive
            // window allows, send one new segment."
            let len = data_end.since(self.snd_max).min(mss).min(room);
            self.tlp = Some(Probe {
                end_seq: self.snd_max + len,
                is_retrans: false,
            });
            self.tlp_new_data = true;
            self.force_send = true;
        } else {
            // "Otherwise, retransmit the most recently sent segment."
            let end = data_end.min(self.snd_max);
            let start = SeqNumber(end.0.wrapping_sub(mss as u32)).max(self.snd_una);
            self.rexmit_at = Some(start);
            self.tlp = Some(Probe {
                end_seq: self.snd_max,
                is_retrans: true,
            });
        }
        // RFC 8985 §7.3: after the probe, the RTO timer runs again.
        self.rto_at = Some(ctx.now + self.rtt.rto());
    }

    /// RFC 8985 §7.4.2 (TLP_process_ack): did the loss probe repair a
    /// loss? `dsack` is the ACK's D-SACK block, `sack` whether it carried
    /// SACK blocks, `advanced` whether it moved SND.UNA, `probe_ts` the
    /// TSval of the latest retransmission before it (the probe's, when it
    /// resent the last segment) and `flight` the bytes outstanding before
    /// it. The window is reduced once for a loss the probe repaired, never
    /// for a probe that only duplicated what had arrived.
    #[allow(clippy::too_many_arguments)]
    fn tlp_on_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr<'_>,
        ack: SeqNumber,
        flight: usize,
        dsack: Option<(SeqNumber, SeqNumber)>,
        sack: bool,
        advanced: bool,
        probe_ts: Option<u32>,
    ) {
        let Some(p) = self.tlp else {
            return;
        };
        if ack < p.end_seq {
            return;
        }
        let repaired = if !p.is_retrans {
            // "TLP of new data delivered".
            false
        } else if dsack.is_some_and(|(l, r)| l < p.end_seq && p.end_seq <= r) {
            // "Else if ACK has a DSACK option matching TLP.end_seq":
            // the original had arrived, the probe was redundant.
            false
        } else if ack > p.end_seq {
            // "Else If ACK's ack. number > TLP.end_seq": "Repaired the
            // single loss".
            true
        } else if self.ts_ok
            && probe_ts.is_some()
            && seg
                .options
                .timestamps
                .is_some_and(|t| probe_ts.is_some_and(|r| (t.tsecr.wrapping_sub(r) as i32) >= 0))
        {
            // The ACK reaching TLP.end_seq echoes the probe's TSval: the
            // probe, not the original, filled the hole at RCV.NXT (RFC
            // 7323 §4.3; the RFC 3522 reasoning applied to the probe). A
            // receiver that had the original would have reported the
            // probe in a D-SACK (RFC 2883 §4.1.1), checked above.
            true
        } else if !advanced && !sack {
            // "Else If ACK is a DUPACK without any SACK option": "Assume
            // original and TLP both arrived".
            false
        } else {
            // Not yet known: wait for a later ACK.
            return;
        };
        self.tlp = None;
        if repaired {
            ctx.stats.tlp_recoveries += 1;
            let mss = self.eff_mss();
            // "(Invoke congestion control to lower cwnd for the loss)":
            // RFC 8985 §7.4.2, as a fast recovery would (RFC 5681
            // equation 4, RFC 9438 §4.6).
            self.cc.on_loss_repaired(self.snd_max, flight, mss);
        }
        self.arm_pto(ctx.now);
    }

    /// One more zero-window probe (or retransmission into a zero window) by
    /// an orphan (closed by the application): true once it made more than
    /// `orphan_retries` without progress. A peer answering every probe
    /// keeps a normal connection open (MUST-37), but nobody waits on an
    /// orphan's data (Linux `tcp_orphan_retries`). Ordinary retransmissions
    /// stay bounded by `max_retries`.
    fn orphan_gives_up(&mut self, ctx: &Ctx<'_>) -> bool {
        if !self.released {
            return false;
        }
        self.orphan_probes = self.orphan_probes.saturating_add(1);
        u32::from(self.orphan_probes) > ctx.cfg.orphan_retries
    }

    fn user_timeout_expired(&self, now: Instant) -> bool {
        match (self.user_timeout(), self.unacked_since) {
            (Some(ut), Some(since)) => now.saturating_duration_since(since) >= ut,
            _ => false,
        }
    }

    /// Re-derive the persist and keepalive timers after any activity.
    pub fn update_timers(&mut self, now: Instant) {
        // The user timeout's clock (RFC 9293 §3.8.3: the time data may stay
        // undelivered): it runs while data is queued and restarts each
        // time a full segment's worth was acknowledged. So a peer that
        // keeps its window shut and answers every probe, or opens it a
        // byte at a time (a slow reader), is timed out like a dead one,
        // while an honest receiver, whose window reopens by at least a
        // segment (receiver SWS avoidance, RFC 9293 §3.8.6.2.2), is not.
        // RFC 6429 §2: the persist condition may be ended this way; MUST-37
        // forbids it only without the user's (or configuration's) timeout.
        if self.tx.is_empty() || !self.state.is_synchronized() {
            self.stall_since = Instant::MAX;
            self.stall_acked = 0;
        } else if self.stall_since == Instant::MAX
            || usize::from(self.stall_acked) >= self.eff_mss().clamp(1, usize::from(u16::MAX))
        {
            self.stall_since = now;
            self.stall_acked = 0;
        }
        // Buffers stay allocated while data moves (no free/grow per burst)
        // and are released once both have been empty for a while. Up to
        // `BUFFER_KEEP` bytes (small request/reply rings) are simply kept:
        // no timer, no free and re-allocation per message.
        if self.tx.is_empty()
            && self.rx.is_empty()
            && self.rx.assembler().is_empty()
            && self.tx.capacity() + self.rx.capacity() > BUFFER_KEEP
        {
            if self.buf_idle_at.is_none() {
                self.buf_idle_at = Some(now + BUFFER_IDLE);
            }
        } else {
            self.buf_idle_at = None;
        }
        if !self.state.is_synchronized() || self.state == State::TimeWait {
            self.persist_at = None;
            self.keepalive_at = None;
            return;
        }
        // RFC 6298 §5.1: while data is outstanding the retransmission timer
        // runs; whatever path left it unarmed, a connection with data in
        // flight never waits for nothing (no user timeout or keepalive
        // could fire otherwise).
        if self.snd_max > self.snd_una && self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.rto());
        }
        // Zero-window probing: data waits, the window is shut and nothing is
        // in flight to carry the retransmission timer.
        // Also when a small window blocks sending (sender SWS avoidance):
        // the persist timer doubles as the override timeout of RFC 9293
        // §3.8.6.2.1.
        let unsent = self.snd_nxt < self.data_end();
        if unsent && self.snd_max == self.snd_una && self.rto_at.is_none() {
            if self.persist_at.is_none() {
                let base = self.rtt.rto();
                let d = base
                    .checked_mul(1u32 << self.persist_backoff.min(16))
                    .unwrap_or(Duration::MAX);
                self.persist_at = Some(now + d.min(super::rtt::MAX_RTO));
            }
        } else {
            self.persist_at = None;
            if self.snd_wnd > 0 {
                self.persist_backoff = 0;
            }
        }
        // Keepalive (RFC 9293 §3.8.4, MAY-5): only when no sent data is
        // outstanding and nothing waits to be sent (MUST-26), after an idle
        // interval the user configures (MUST-27). FIN-WAIT-2 too: our FIN is
        // acknowledged but the peer may still owe data, and without probes
        // an application reading to end of stream waits forever for a peer
        // that gave up (as Linux, which probes every synchronized state).
        let idle = self.snd_max == self.snd_una && !unsent;
        match self.keepalive() {
            Some(ka)
                if idle
                    && matches!(
                        self.state,
                        State::Established | State::CloseWait | State::FinWait2
                    ) =>
            {
                if self.ka_probes == 0 {
                    // Idle since the last segment received (MUST-26).
                    let idle_since = self.last_rcv;
                    self.keepalive_at = Some(idle_since + ka.idle);
                }
            }
            _ => self.keepalive_at = None,
        }
    }

    // ------------------------------------------------------------------
    // Output
    // ------------------------------------------------------------------

    /// The window to advertise, updating RCV.ADV (receiver SWS avoidance,
    /// RFC 9293 §3.8.6.2.2, MUST-39; never shrink the window, SHLD-14).
    /// Receiver SWS avoidance (RFC 9293 §3.8.6.2.2 MUST-39): the right
    /// edge moves in steps of min(buffer/2, RMSS). The peer's segments are
    /// at most our receive MSS: window updates in those units (as Linux's
    /// rcv_mss), whatever we send.
    fn window_step(&self) -> usize {
        (self.rx.limit() / 2).min(self.rmss())
    }

    fn advertise(&mut self, syn: bool) -> u16 {
        self.settle_rx_limit();
        let avail = self.rx.window();
        let edge_now = self.rcv_nxt + avail;
        let mut edge = self.rcv_adv.max(self.rcv_nxt);
        let thresh = self.window_step();
        if edge_now > edge && edge_now.since(edge) >= thresh {
            edge = edge_now;
        }
        let wnd = edge.since(self.rcv_nxt);
        if syn {
            // RFC 7323 §2.2: the window in a SYN is never scaled.
            let w = wnd.min(65_535) as u16;
            self.rcv_adv = self.rcv_nxt + usize::from(w);
            return w;
        }
        let scaled = (wnd >> self.rcv_wscale).min(65_535);
        let adv = self.rcv_nxt + (scaled << self.rcv_wscale);
        self.rcv_adv = self.rcv_adv.max(adv);
        scaled as u16
    }

    fn base_options(&self, now: Instant) -> TcpOptions {
        let mut o = TcpOptions::default();
        if self.ts_ok {
            o.timestamps = Some(Timestamps {
                tsval: ts_now(now, self.ts_offset),
                tsecr: self.ts_recent,
            });
        }
        let dsack = self.rare.as_deref().and_then(|r| r.dsack);
        if self.sack_ok && (dsack.is_some() || !self.rx.assembler().is_empty()) {
            // RFC 2018 §3: up to 3 blocks next to timestamps, else 4.
            let max = if self.ts_ok { 3 } else { 4 };
            let mut k = 0;
            if let Some((l, r)) = dsack {
                // RFC 2883 §4: the D-SACK block goes first.
                o.sack_blocks[0] = SackBlock {
                    left: l.0,
                    right: r.0,
                };
                k = 1;
            }
            let mut r = [(0u32, 0u32); 4];
            let n = self.rx.assembler().sack_ranges(&mut r[..max - k]);
            for (i, &(s, e)) in r[..n].iter().enumerate() {
                o.sack_blocks[k + i] = SackBlock {
                    left: (self.rcv_nxt + s as usize).0,
                    right: (self.rcv_nxt + e as usize).0,
                };
            }
            o.sack_len = (k + n) as u8;
        }
        o
    }

    /// The options of our SYN or SYN-ACK: the only segments that carry MSS
    /// (RFC 9293 §3.7.1 MUST-65; [`Conn::segment_options`] never sets it).
    fn syn_options(&self, cfg: &TcpConfig, now: Instant, passive: bool) -> TcpOptions {
        let mut o = TcpOptions {
            mss: Some(cfg.announced_mss()),
            ..TcpOptions::default()
        };
        // A SYN-ACK only carries an option the peer's SYN offered
        // (RFC 7323 §2.2, §3.2; RFC 2018 §2).
        let ws = if passive {
            self.ws_ok
        } else {
            cfg.window_scale
        };
        if ws {
            // The shift chosen at open (or on the peer's SYN): from this
            // connection's receive limit, the same on every retransmission.
            o.window_scale = Some(self.rcv_wscale);
        }
        let ts = if passive { self.ts_ok } else { cfg.timestamps };
        if ts {
            o.timestamps = Some(Timestamps {
                tsval: ts_now(now, self.ts_offset),
                tsecr: if passive || self.state == State::SynReceived {
                    self.ts_recent
                } else {
                    0
                },
            });
        }
        let sack = if passive { self.sack_ok } else { cfg.sack };
        o.sack_permitted = sack;
        o
    }

    /// The timestamps option for a RST of this connection: RFC 7323 §3.2,
    /// once negotiated TSopt "SHOULD be sent in an <RST> segment".
    fn rst_timestamps(&self, now: Instant) -> Option<Timestamps> {
        self.ts_ok.then(|| Timestamps {
            tsval: ts_now(now, self.ts_offset),
            tsecr: self.ts_recent,
        })
    }

    fn note_retransmit(&mut self, now: Instant) {
        self.rexmit_tsval = Some(ts_now(now, self.ts_offset));
    }

    fn finish(&mut self, now: Instant, seg: &mut Segment) {
        if seg.options.sack_len > 0 {
            // RFC 2883 §4: a D-SACK block is reported once.
            if let Some(r) = self.rare.as_deref_mut() {
                r.dsack = None;
            }
        }
        if seg.flags.ack() {
            self.last_ack_sent = SeqNumber(seg.ack);
            self.ack_now = false;
            self.delack_at = None;
            self.unacked_rx_bytes = 0;
        }
        // RFC 5681 §4.1 restart after idle asks when *data* was last sent:
        // pure ACKs (and window probes) do not count.
        if seg.data_len > 0 || seg.flags.syn() || seg.flags.fin() {
            self.last_snd = now;
        }
    }

    /// Decide the next segment to send, updating the send state as if it
    /// were sent (the engine always transmits what this returns).
    ///
    /// `burst`: the largest payload the device takes in one segment and
    /// cuts itself (TSO/GSO, [`crate::phy::Offloads::tso_max`]); 0 when
    /// every segment must fit the MSS.
    pub fn next_segment(
        &mut self,
        cfg: &TcpConfig,
        now: Instant,
        stats: &mut TcpStats,
        burst: usize,
        pool: &mut BufPool,
    ) -> Option<Segment> {
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent | State::SynReceived => {
                if self.snd_nxt == self.iss {
                    // Never sent before (a resent SYN or SYN-ACK is not
                    // timed: Karn's rule, RFC 9293 §3.8.1 MUST-18).
                    let first = self.snd_max == self.iss;
                    let passive = self.state == State::SynReceived;
                    let mut flags = TcpFlags::SYN;
                    if passive {
                        flags |= TcpFlags::ACK;
                    }
                    let window = self.advertise(true);
                    let mut seg = Segment {
                        seq: self.iss,
                        ack: if passive { self.rcv_nxt.0 } else { 0 },
                        flags,
                        window,
                        // SYN-ACK: mirror what the peer's SYN offered.
                        options: self.syn_options(cfg, now, passive),
                        data_off: 0,
                        data_len: 0,
                    };
                    self.snd_nxt = self.iss + 1;
                    self.snd_max = self.snd_max.max(self.snd_nxt);
                    if self.rto_at.is_none() {
                        self.rto_at = Some(now + self.rtt.rto());
                    }
                    if first && self.rtt_timing.is_none() {
                        self.rtt_timing = Some((self.iss, now));
                    }
                    if !first {
                        self.note_retransmit(now);
                    }
                    stats.segments_out += 1;
                    self.finish(now, &mut seg);
                    return Some(seg);
                }
                if self.state == State::SynReceived && self.ack_now {
                    return Some(self.pure_ack(now, stats));
                }
                self.ack_now = false;
                return None;
            }
            _ => {}
        }

        if self.send_probe {
            self.send_probe = false;
            // Window probe / keepalive: an old sequence number with no data
            // forces the peer to answer with an ACK carrying its window
            // (RFC 1122 §4.2.3.6; RFC 9293 §3.8.6.1).
            let window = self.advertise(false);
            let mut seg = Segment {
                seq: self.snd_una - 1usize,
                ack: self.rcv_nxt.0,
                flags: TcpFlags::ACK,
                window,
                options: self.base_options(now),
                data_off: 0,
                data_len: 0,
            };
            stats.segments_out += 1;
            self.finish(now, &mut seg);
            return Some(seg);
        }

        let can_send_data = matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        );
        if can_send_data {
            if let Some(seg) = self.data_segment(pool, now, stats, burst) {
                return Some(seg);
            }
        }
        // RFC 9293 §3.10.7.4: ACKs are aggregated (MUST-58). Segments only
        // set `ack_now`; the ACK is built here, when the caller polls after
        // handling everything that arrived, so a batch gets one ACK (MUST-59).
        if self.ack_now {
            return Some(self.pure_ack(now, stats));
        }
        None
    }

    fn pure_ack(&mut self, now: Instant, stats: &mut TcpStats) -> Segment {
        let window = self.advertise(false);
        let mut seg = Segment {
            // RFC 9293 says <SEQ=SND.NXT>; SND.NXT rewinds here while
            // retransmitting after a timeout, and an old sequence number
            // would make the peer find the ACK unacceptable (and answer
            // with an ACK of its own: an ACK war). The highest sequence
            // sent is what the peer expects.
            seq: self.snd_max,
            ack: self.rcv_nxt.0,
            flags: TcpFlags::ACK,
            window,
            options: self.base_options(now),
            data_off: 0,
            data_len: 0,
        };
        stats.segments_out += 1;
        stats.acks_out += 1;
        self.finish(now, &mut seg);
        seg
    }

    fn data_segment(
        &mut self,
        pool: &mut BufPool,
        now: Instant,
        stats: &mut TcpStats,
        burst: usize,
    ) -> Option<Segment> {
        if self.pmtu_raise_at_s != 0 && now.as_millis() / 1000 >= u64::from(self.pmtu_raise_at_s) {
            // RFC 1191 §6.3: the path MTU may have grown back; if not, the
            // router says so again and `on_pmtu` lowers it again.
            self.pmtu_raise_at_s = 0;
            self.snd_mss = self.snd_mss.max(usize::from(self.mss_ceiling));
        }
        // The options every data segment of this call carries (nothing
        // below changes timestamps, RCV.NXT or the out-of-order ranges);
        // built once, they also size the payload room.
        let options = self.base_options(now);
        let mss = self.data_mss(&options);
        let data_start = self.data_start();
        let data_end = self.data_end();
        // SACK loss recovery (RFC 6675 §5 (C)): NextSeg() under cwnd − pipe.
        let Ok((recovery_room, rescue)) = self.recovery_next(mss, data_end) else {
            return None;
        };
        // Fast retransmit / partial ACK / NextSeg(): a retransmission.
        if let Some(at) = self.rexmit_at.take() {
            let seq = at.max(self.snd_una);
            // A retransmission resends only what was sent (up to SND.MAX):
            // its options may be shorter than the original's (no SACK
            // blocks now), and a larger segment would carry new data
            // without advancing SND.MAX, so the peer's ACK of it would be
            // "an ACK for something not yet sent" (RFC 9293 §3.10.7.4) and
            // dropped for good.
            let mut len = data_end.min(self.snd_max).since(seq).min(mss);
            if let Some(next) = self.scoreboard.next_sacked_after(seq) {
                len = len.min(next.since(seq));
            }
            if !rescue {
                self.rexmit_hi = self.rexmit_hi.max(seq + len);
            }
            // Why this retransmission goes out (before the episode's
            // counters move): SACK recovery, whose losses RACK marks;
            // duplicate ACKs without SACK; else a tail loss probe.
            let in_episode = self.in_episode();
            if let Some(ep) = self.rack.as_deref_mut().and_then(|r| r.episode.as_mut()) {
                ep.on_sent(len);
            }
            let fin = self.fin_queued && seq + len == data_end && self.snd_max > data_end;
            if len > 0 || fin {
                let off = seq.since(data_start);
                let mut flags = TcpFlags::ACK;
                if fin {
                    flags |= TcpFlags::FIN;
                }
                let window = self.advertise(false);
                let mut seg = Segment {
                    seq,
                    ack: self.rcv_nxt.0,
                    flags,
                    window,
                    options,
                    data_off: off,
                    data_len: len,
                };
                if self
                    .rtt_timing
                    .is_some_and(|(s, _)| s >= seq && s < seq + len.max(1))
                {
                    self.rtt_timing = None; // Karn's rule.
                }
                if self.rto_at.is_none() {
                    self.rto_at = Some(now + self.rtt.rto());
                }
                stats.segments_out += 1;
                stats.retransmits += 1;
                stats.retransmits_recovery += 1;
                if in_episode {
                    stats.retransmits_rack += 1;
                } else if !self.sack_ok {
                    stats.retransmits_dupthresh += 1;
                } else {
                    stats.retransmits_tlp += 1;
                }
                self.retransmits += 1;
                self.note_retransmit(now);
                self.on_retransmitted(now, seq, seq + (len + usize::from(fin)));
                self.finish(now, &mut seg);
                return Some(seg);
            }
        }
        // Skip data the peer already holds (SACK scoreboard, RFC 6675).
        if self.snd_nxt < self.snd_max {
            while let Some(end) = self.scoreboard.sacked_until(self.snd_nxt) {
                self.snd_nxt = end.min(self.snd_max);
                if end >= self.snd_max {
                    break;
                }
            }
        }
        let retransmitting = self.snd_nxt < self.snd_max;
        if !retransmitting
            && self.snd_una == self.snd_max
            && now.saturating_duration_since(self.last_snd) > self.rtt.rto()
            && self.snd_nxt < data_end
        {
            // RFC 5681 §4.1: after an idle period longer than the RTO,
            // restart from the restart window (or keep the window, RFC
            // 7661 §4.3, under window validation).
            let srtt = self.rtt.srtt().unwrap_or(super::rtt::INITIAL_RTO);
            self.cc.on_idle_restart(now, srtt, mss);
        }
        let unsent = data_end.since(self.snd_nxt);
        let flight = self.flight();
        // RFC 3042 limited transmit: the first two duplicate ACKs each let
        // one new segment out, so small windows still reach three dupacks.
        let limited = if !self.cc.in_recovery() && (1..3).contains(&self.dupacks) {
            self.dupacks as usize * mss
        } else {
            0
        };
        let win = (self.snd_wnd as usize).min(self.cc.cwnd() + limited);
        // RFC 9293 §3.8.6 MUST-34: a window the peer shrank below what is
        // in flight makes the usable window "negative": nothing new is sent
        // (SHLD-15) and nothing outstanding is dropped.
        let mut usable = recovery_room.unwrap_or_else(|| win.saturating_sub(flight));
        if self.rto_rexmit && self.snd_max > self.snd_una && self.snd_nxt == self.snd_una {
            // The retransmission timer fired: the first unacknowledged
            // segment goes out whatever the (possibly stale) window says;
            // a receiver with a closed window answers it with an ACK, so
            // it doubles as a window probe (RFC 9293 §3.8.6.1).
            usable = usable.max(mss);
        }
        if core::mem::take(&mut self.tlp_new_data) {
            // RFC 8985 §7.3: the probe goes out whatever cwnd says (within
            // the receive window, checked when it was scheduled).
            usable = usable.max(mss);
        }
        let frto_new = !retransmitting && self.rack.as_deref().is_some_and(|r| r.frto_new > 0);
        if frto_new {
            // RFC 5682 §2.1 (2.b): F-RTO's two new segments go out whatever
            // cwnd says, within the receive window (checked in step 2).
            let rwnd = (self.snd_una + self.snd_wnd as usize).since(self.snd_max);
            usable = usable.max(mss.min(rwnd));
        }
        // A device that segments (TSO/GSO) takes several full segments as
        // one: whole MSS multiples, cut later at `mss` with these headers
        // (so every piece on the wire is a segment this code would send).
        let room = if burst > mss { burst / mss * mss } else { mss };
        let mut len = unsent.min(room).min(usable);
        if len > mss && len < unsent {
            // No short piece in the middle of the stream: what does not
            // fill a segment waits, as it would without offload.
            len -= len % mss;
        }
        if retransmitting {
            if let Some(next) = self.scoreboard.next_sacked_after(self.snd_nxt) {
                len = len.min(next.since(self.snd_nxt));
            }
        }
        if len > 0 && !retransmitting {
            // Sender SWS avoidance and Nagle (RFC 9293 §3.8.6.2.1, §3.7.4,
            // MUST-38, Nagle SHLD-7 with `nodelay` for MUST-17; un-pushed
            // data is queued, MAY-16, and full segments go first, SHLD-28): send a
            // full segment, or everything queued when
            // nothing is unacknowledged (or Nagle is off), or at least half
            // the largest window the peer offered.
            //
            // Nagle as Minshall modified it (draft-minshall-nagle-01, as
            // Linux does): RFC 896 and RFC 1122 §4.2.3.4 hold a small
            // segment while *any* data is unacknowledged; here it is held
            // only while a *small* segment is. A reply of several full
            // segments and a short tail then leaves whole, instead of the
            // tail waiting for the peer's delayed ACK (40 ms and more).
            // The hold still keeps one small segment per RTT in flight.
            if self.snd_sml <= self.snd_una || self.snd_sml > self.snd_max {
                // Acknowledged (or stale across a wrap): forget it.
                self.snd_sml = self.snd_una;
            }
            let small_unacked = self.snd_sml > self.snd_una;
            // Cork (TCP_CORK) and "more data follows" (MSG_MORE): the
            // application promised more, so a partial segment waits for it;
            // a FIN uncorks, and the persist timer (one RTO, as Linux's
            // 200 ms ceiling) sends it if the promise is not kept, so
            // nothing is held indefinitely (MUST-60).
            let corked = self.cork || self.more;
            let all = len == unsent;
            let ok = self.force_send
                || len >= mss
                || (all
                    && (self.fin_queued
                        || (!corked && (self.nodelay || flight == 0 || !small_unacked))))
                || (len as u64) * 2 >= u64::from(self.max_snd_wnd);
            if !ok {
                len = 0;
            }
        }
        self.force_send = false;
        self.rto_rexmit = false;
        let fin_here = self.fin_queued && self.snd_nxt + len == data_end && !self.fin_acked();
        // The FIN goes with the last data or alone once everything is sent.
        let fin = fin_here && (len > 0 || unsent == 0);
        if len == 0 && !fin {
            return None;
        }
        let seq = self.snd_nxt;
        let off = seq.since(data_start);
        let mut flags = TcpFlags::ACK;
        if len > 0 && len == unsent {
            // PSH on the last buffered segment (MUST-61), so successive
            // writes share one PSH (SHLD-27); nothing is held indefinitely
            // (MUST-60).
            flags |= TcpFlags::PSH;
        }
        if fin {
            flags |= TcpFlags::FIN;
        }
        let window = self.advertise(false);
        let mut seg = Segment {
            seq,
            ack: self.rcv_nxt.0,
            flags,
            window,
            options,
            data_off: off,
            data_len: len,
        };
        let adv = len + usize::from(fin);
        if fin {
            self.fin_seq = Some(seq + len);
        }
        if retransmitting {
            // SND.NXT went back to SND.UNA: after an RTO (or a path MTU drop).
            stats.retransmits += 1;
            stats.retransmits_timeout += 1;
            self.retransmits += 1;
            self.note_retransmit(now);
            self.on_retransmitted(now, seq, seq + adv);
            if self
                .rtt_timing
                .is_some_and(|(s, _)| s >= seq && s < seq + adv)
            {
                self.rtt_timing = None; // Karn's rule.
            }
        } else if self.rtt_timing.is_none() && !self.ts_ok && self.retries == 0 {
            self.rtt_timing = Some((seq, now));
        }
        if self.snd_una == self.snd_max {
            self.unacked_since = Some(now);
            if !retransmitting && len > 0 {
                // RFC 9438 §5.8: CUBIC's clock skips the idle time.
                self.cc
                    .on_tx_start(now.saturating_duration_since(self.last_snd));
            }
        }
        if let Some(ep) = self.rack.as_deref_mut().and_then(|r| r.episode.as_mut()) {
            ep.on_sent(adv);
        }
        if !retransmitting && len > 0 && len < mss {
            // Minshall: remember the end of the last small segment.
            self.snd_sml = seq + len;
        }
        if !retransmitting {
            self.on_new_data_sent(pool, now, seq, seq + adv);
            if frto_new && len > 0 {
                if let Some(r) = self.rack.as_deref_mut() {
                    r.frto_new -= 1;
                }
            }
        }
        self.snd_nxt = seq + adv;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        // RFC 6298 §5.1: start the timer if it is not running. Before the
        // probe timeout: RFC 8985 §7.2 schedules the probe no later than
        // the RTO's expiry, which must be known here (a lone segment's PTO,
        // 2·SRTT + WCDelAckT, is often later than the RTO).
        if self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.rto());
        }
        if !retransmitting {
            // RFC 8985 §7.2: new data (re)starts the probe timeout.
            self.arm_pto(now);
        }
        self.persist_at = None;
        stats.segments_out += 1;
        self.finish(now, &mut seg);
        Some(seg)
    }

    /// RFC 5927 §4.1: an ICMP error quoting sequence number `seq` is about
    /// this connection only if `seq` lies in SND.UNA..SND.MAX (what may be
    /// in flight; SND.NXT may have been rewound by a timeout). A blind
    /// attacker has to guess it.
    pub fn icmp_seq_ok(&self, seq: u32) -> bool {
        let seq = SeqNumber(seq);
        match self.state {
            // Only our SYN is out.
            State::SynSent => seq == self.iss,
            _ => self.snd_una <= seq && seq < self.snd_max,
        }
    }

    /// Path MTU dropped (ICMP fragmentation needed, RFC 1191).
    pub fn on_pmtu(&mut self, now: Instant, mtu: u16) {
        // RFC 1191 §3 / RFC 5927 §7.2: never below a floor (as Linux's
        // min_pmtu of 552 bytes), so a forged message cannot force tiny
        // segments.
        let mtu = mtu.max(PMTU_FLOOR);
        let mss = usize::from(mtu.saturating_sub(40)).max(64);
        if mss < self.snd_mss {
            if self.pmtu_raise_at_s == 0 {
                self.mss_ceiling = self.snd_mss.min(usize::from(u16::MAX)) as u16;
            }
            // RFC 1191 §6.3: try the larger size again after 10 minutes
            // (kept in whole seconds of the stack's clock; 0 = not pending).
            self.pmtu_raise_at_s = ((now + PMTU_RAISE_AFTER).as_millis() / 1000).max(1) as u32;
            self.snd_mss = mss;
            // Resend what is in flight at the new size, without backoff.
            if self.state.is_synchronized() && self.syn_acked {
                self.snd_nxt = self.snd_una;
            }
        }
    }

    /// See [`super::Tcp::skip_acked_bytes`]: what the ACKs of `n` more
    /// bytes, sent and acknowledged 1 GiB at a time, do to the send state.
    pub fn skip_acked(&mut self, mut n: u64) -> Result<(), TcpError> {
        if self.state != State::Established
            || self.snd_una != self.snd_max
            || !self.tx.is_empty()
            || self.fin_queued
        {
            return Err(TcpError::InvalidState);
        }
        while n > 0 {
            let step = n.min(1 << 30);
            n -= step;
            let ack = self.snd_una + step as usize;
            self.snd_una = ack;
            self.snd_nxt = ack;
            self.snd_max = ack;
            self.snd_wl2 = ack;
            self.rexmit_hi = ack;
            let mss = self.eff_mss();
            // Nothing acknowledged counts: no growth, `recover` follows.
            let at = AckTime {
                now: Instant::ZERO,
                rtt: Duration::ZERO,
                rtt_sample: None,
                snd_nxt: ack,
            };
            self.cc.on_ack(at, ack, 0, 0, mss);
        }
        Ok(())
    }

    /// TIME-WAIT may be reused by a new SYN whose sequence number is beyond
    /// everything seen (RFC 9293 §3.6 MAY-2; with timestamps the RFC 6191
    /// rule, SHLD-4).
    pub fn time_wait_reusable(&self, seg: &TcpRepr<'_>) -> bool {
        self.state == State::TimeWait
            && super::timewait::reusable(self.ts_ok, self.ts_recent, self.rcv_nxt, seg)
    }

    /// The compact record of this connection in TIME-WAIT (see
    /// [`super::timewait`]): everything its processing there reads, with
    /// the ACK it owes (of the peer's FIN) still owed.
    pub fn time_wait_record(&mut self) -> TimeWait {
        // The window of that ACK, as `pure_ack` would advertise it (this
        // also settles RCV.ADV, the acceptability window from now on).
        let window = self.advertise(false);
        TimeWait {
            handle: self.handle,
            local: self.local,
            remote: self.remote,
            close_at: self.close_at.unwrap_or(Instant::ZERO),
            ts_recent_age: self.ts_recent_age,
            snd_una: self.snd_una,
            snd_max: self.snd_max,
            rcv_nxt: self.rcv_nxt,
            rcv_wnd: self.rcv_adv.since(self.rcv_nxt).min(u32::MAX as usize) as u32,
            max_snd_wnd: self.max_snd_wnd,
            ts_recent: self.ts_recent,
            ts_offset: self.ts_offset,
            last_oow_ack: self.last_oow_ack,
            challenge_limit: self.challenge_limit,
            dsack: self.rare.as_deref().and_then(|r| r.dsack),
            window,
            dscp: self.dscp,
            ts_ok: self.ts_ok,
            sack_ok: self.sack_ok,
            ack_now: self.ack_now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_challenge_budget_is_random_per_second() {
        // RFC 5961 §7 / CVE-2016-5696: the engine-wide budget is drawn
        // anew each second in [limit/2, 3*limit/2).
        let mut g = GlobalRateLimit::new(99);
        let limit = 100;
        let mut budgets = Vec::new();
        for sec in 0..20u64 {
            let now = Instant::from_secs(10 + sec);
            let mut n = 0;
            while g.allow(now, limit) {
                n += 1;
                assert!(n < 1000);
            }
            assert!((50..150).contains(&n), "budget {n}");
            budgets.push(n);
        }
        budgets.sort_unstable();
        budgets.dedup();
        assert!(budgets.len() > 5, "the budget varies: {budgets:?}");
    }

    #[test]
    fn tcb_stays_small() {
        let size = core::mem::size_of::<Conn>();
        eprintln!(
            "size_of::<Conn>() = {size}, RttEstimator {}, SendBuffer {}, RecvBuffer {}, Controller {}",
            core::mem::size_of::<RttEstimator>(),
            core::mem::size_of::<SendBuffer>(),
            core::mem::size_of::<RecvBuffer>(),
            core::mem::size_of::<Controller>(),
        );
        // Ten cache lines with the slot's generation (see `Slot`): each
        // visit to a cold connection (100 000 of them in the `many`
        // benchmark) costs a miss per line it touches.
        assert!(size + 4 <= 10 * 64, "{size}");

        // The hot half: the fields every in-order data segment, pure ACK
        // and header-predicted segment reads or writes (besides the buffer
        // headers, the congestion controller and the RTT estimator) lie in
        // the first two cache lines. `Conn` is `repr(C)`, so this is the
        // order of declaration.
        let cfg = TcpConfig::default();
        let a = SocketAddrV4::new(core::net::Ipv4Addr::LOCALHOST, 1);
        let h = TcpHandle { idx: 0, gen: 0 };
        let c = Conn::new(h, Instant::ZERO, &cfg, a, a, 0, 0);
        let base = &c as *const Conn as usize;
        let mut hot_end = 0;
        macro_rules! hot {
            ($($f:ident),* $(,)?) => {$(
                let off = core::mem::offset_of!(Conn, $f);
                assert_eq!(off, &c.$f as *const _ as usize - base);
                let end = off + core::mem::size_of_val(&c.$f);
                assert!(end <= 128, "{} ends at byte {end}", stringify!($f));
                hot_end = hot_end.max(end);
            )*};
        }
        hot!(
            // The 4-tuple the demultiplexer compares, the state.
            local,
            remote,
            state,
            // RFC 9293 §3.3.1 send and receive sequence variables.
            snd_una,
            snd_nxt,
            snd_max,
            snd_wnd,
            snd_wl1,
            snd_wl2,
            snd_wscale,
            rcv_nxt,
            rcv_adv,
            rcv_wscale,
            rcv_mss,
            // RFC 7323 timestamps.
            ts_ok,
            ts_recent,
            ts_recent_age,
            ts_offset,
            last_ack_sent,
            // ACK and retransmission state, the per-segment timers.
            sack_ok,
            dupacks,
            retries,
            rto_rexmit,
            rto_at,
            pto_at,
            delack_at,
            unacked_rx_bytes,
            ack_now,
            last_rcv,
            // What decides whether to send.
            syn_acked,
            fin_queued,
            peer_fin,
            released,
            send_probe,
            force_send,
            nodelay,
            cork,
            // Engine bookkeeping after each segment.
            in_dirty,
            readable_armed,
            writable_armed,
        );
        eprintln!("hot part: {hot_end} bytes");
        assert!(hot_end <= 128);
    }
}
