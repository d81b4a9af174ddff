//! TCP (RFC 9293): connection state machine, buffers, timers, options.
//!
//! The engine [`Tcp`] holds every connection and listener of a host. It is
//! sans-IO and follows the quinn-proto rhythm:
//!
//! - handlers for what arrives: [`Tcp::handle_segment`] (a parsed segment
//!   whose checksum and destination the IP layer already checked),
//!   [`Tcp::handle_timeout`], [`Tcp::handle_icmp_error`];
//! - mutators for what the application asks: [`Tcp::listen`],
//!   [`Tcp::accept`], [`Tcp::connect`], [`Tcp::send`], [`Tcp::recv`],
//!   [`Tcp::shutdown_write`], [`Tcp::close`], [`Tcp::abort`], options;
//! - polls for what the caller must do next: [`Tcp::poll_transmit`] (call
//!   until `None` after every handler or mutator), [`Tcp::poll_timeout`],
//!   [`Tcp::poll_event`];
//! - getters: [`Tcp::state`], [`Tcp::info`], [`Tcp::stats`], addresses.
//!
//! Layout of this module:
//!
//! | file            | what                                                       |
//! |-----------------|------------------------------------------------------------|
//! | `seq.rs`        | modular sequence numbers (RFC 9293 §3.4)                   |
//! | `buffer.rs`     | send/receive buffers, out-of-order assembler, SACK blocks |
//! | `rtt.rs`        | RTT estimator and RTO (RFC 6298, RFC 7323 §4)             |
//! | `congestion.rs` | congestion-control trait, NewReno/CUBIC controller         |
//! | `cubic.rs`      | CUBIC window growth (RFC 9438)                             |
//! | `hystart.rs`    | HyStart++ slow-start exit (RFC 9406)                       |
//! | `recovery.rs`   | SACK scoreboard, RFC 6675 loss recovery, RFC 6937 PRR      |
//! | `rack.rs`       | RACK loss detection (RFC 8985 §6), spurious-recovery undo  |
//! | `tlp.rs`        | tail loss probes (RFC 8985 §7)                             |
//! | `isn.rs`        | initial sequence numbers (RFC 6528), SipHash-2-4          |
//! | `syncookie.rs`  | SYN cookies (RFC 4987 §3.6): stateless SYN-ACKs in a flood |
//! | `connection.rs` | one connection: the RFC 9293 §3.10 event processing       |
//! | `engine.rs`     | the [`Tcp`] engine: demux, listeners, timers, events      |
//! | `timewait.rs`   | compact TIME-WAIT records of closed connections           |
//! | `ingress.rs`    | the stack's hand-off from IPv4: checks, then the engine    |

pub mod buffer;
pub mod congestion;
mod connection;
pub mod cubic;
mod engine;
pub mod hystart;
mod ingress;
pub mod isn;
pub mod rack;
pub mod recovery;
pub mod rtt;
pub mod seq;
pub mod syncookie;
mod table;
mod timer;
mod timewait;
pub mod tlp;
mod urgent;

pub use engine::{ConnInfo, Tcp, TcpMemory, TcpStats};

use crate::time::Duration;
use core::fmt;

/// The connection states of RFC 9293 §3.3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a connection request (listeners only).
    Listen,
    /// SYN sent, waiting for a matching SYN.
    SynSent,
    /// SYN received and sent, waiting for the ACK of our SYN.
    SynReceived,
    /// Open: data flows both ways.
    Established,
    /// We closed; waiting for the ACK of our FIN or the peer's FIN.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer closed; waiting for the local user to close.
    CloseWait,
    /// Both closed at once; waiting for the ACK of our FIN.
    Closing,
    /// The peer closed first and so did we; waiting for the ACK of our FIN.
    LastAck,
    /// Waiting 2×MSL so old duplicates die out.
    TimeWait,
}

impl State {
    /// The RFC spelling, e.g. `SYN-SENT`.
    pub const fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// True for the synchronized states (RFC 9293 §3.5.2: all after the
    /// handshake has exchanged both SYNs).
    pub const fn is_synchronized(self) -> bool {
        !matches!(self, State::Closed | State::Listen | State::SynSent)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A connection of a [`Tcp`] engine. Stale handles (of freed connections)
/// are detected by a generation count and refused with
/// [`TcpError::InvalidHandle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TcpHandle {
    pub(crate) idx: u32,
    pub(crate) gen: u32,
}

impl TcpHandle {
    /// A stable small number for display (slot index).
    pub const fn index(self) -> u32 {
        self.idx
    }
}

/// A listening socket of a [`Tcp`] engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerHandle {
    pub(crate) idx: u32,
    pub(crate) gen: u32,
}

/// Errors returned to the user. [`TcpError::kind`] maps them onto
/// [`std::io::ErrorKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TcpError {
    /// The peer answered our SYN with a RST (or ICMP port unreachable).
    #[error("connection refused")]
    Refused,
    /// The peer reset the connection.
    #[error("connection reset by peer")]
    Reset,
    /// Retransmissions, keepalives, window probes or the user timeout ran
    /// out: the peer is presumed dead.
    #[error("connection timed out: peer presumed dead")]
    TimedOut,
    /// The local address/port (or the 4-tuple) is already in use.
    #[error("address in use")]
    AddrInUse,
    /// No route to the destination.
    #[error("no route to host")]
    NoRoute,
    /// The destination host is unreachable (ICMP or ARP failure).
    #[error("host unreachable")]
    HostUnreachable,
    /// The destination network is unreachable (ICMP).
    #[error("network unreachable")]
    NetUnreachable,
    /// The call is not valid in the connection's current state.
    #[error("invalid state for this operation")]
    InvalidState,
    /// Nothing to do right now; try again after an event.
    #[error("operation would block")]
    WouldBlock,
    /// The connection is not (or no longer) connected.
    #[error("not connected")]
    NotConnected,
    /// The handle does not name a live connection or listener.
    #[error("invalid handle")]
    InvalidHandle,
    /// The connection was aborted locally.
    #[error("connection aborted")]
    Aborted,
    /// An address argument is unusable (e.g. port 0 where one is required).
    #[error("invalid address")]
    InvalidAddress,
    /// No ephemeral port is free for this destination.
    #[error("no free ephemeral port")]
    NoFreePort,
    /// An argument is out of range (e.g. a DSCP above 63).
    #[error("invalid argument")]
    InvalidArgument,
    /// The stack-wide TCP memory budget ([`TcpMem`]) is exhausted: no new
    /// connection until buffers are freed.
    #[error("no buffer space: TCP memory budget exhausted")]
    NoBufferSpace,
}

impl TcpError {
    /// The matching [`std::io::ErrorKind`].
    pub fn kind(self) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match self {
            TcpError::Refused => K::ConnectionRefused,
            TcpError::Reset => K::ConnectionReset,
            TcpError::TimedOut => K::TimedOut,
            TcpError::AddrInUse => K::AddrInUse,
            TcpError::NoRoute | TcpError::HostUnreachable => K::HostUnreachable,
            TcpError::NetUnreachable => K::NetworkUnreachable,
            TcpError::InvalidState => K::InvalidInput,
            TcpError::WouldBlock => K::WouldBlock,
            TcpError::NotConnected => K::NotConnected,
            TcpError::InvalidHandle | TcpError::InvalidArgument => K::InvalidInput,
            TcpError::Aborted => K::ConnectionAborted,
            TcpError::InvalidAddress => K::AddrNotAvailable,
            TcpError::NoFreePort => K::AddrNotAvailable,
            TcpError::NoBufferSpace => K::OutOfMemory,
        }
    }
}

impl From<TcpError> for std::io::Error {
    fn from(e: TcpError) -> Self {
        std::io::Error::new(e.kind(), e)
    }
}

/// An ICMP (or ARP) error about a connection, reported by the IP layer via
/// [`Tcp::handle_icmp_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpError {
    /// Destination network unreachable (type 3 code 0): soft error.
    NetUnreachable,
    /// Destination host unreachable (type 3 code 1) or ARP gave up: soft error.
    HostUnreachable,
    /// Protocol unreachable (type 3 code 2): hard error.
    ProtocolUnreachable,
    /// Port unreachable (type 3 code 3): hard error.
    PortUnreachable,
    /// Fragmentation needed and DF set (type 3 code 4): path MTU is `mtu`.
    FragmentationNeeded {
        /// Next-hop MTU from the ICMP message (RFC 1191).
        mtu: u16,
    },
    /// Communication administratively prohibited (type 3 codes 9, 10, 13): soft.
    AdminProhibited,
}

/// Something the application may want to react to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpEvent {
    /// A connection moved between RFC 9293 states (the CLI draws these).
    StateChanged {
        /// The connection.
        handle: TcpHandle,
        /// Previous state.
        from: State,
        /// New state.
        to: State,
    },
    /// An active open completed (SYN-SENT → ESTABLISHED).
    Connected(TcpHandle),
    /// A connection is waiting in the listener's accept queue.
    Acceptable {
        /// The listener to call [`Tcp::accept`] on.
        listener: ListenerHandle,
    },
    /// New bytes (or the end of stream) can be read. Edge-triggered: after
    /// this event, the next one comes once [`Tcp::recv`] has returned
    /// [`TcpError::WouldBlock`] (read until then).
    Readable(TcpHandle),
    /// Space opened in the send buffer after a send was refused or short
    /// (edge-triggered like [`TcpEvent::Readable`]).
    Writable(TcpHandle),
    /// The peer sent FIN: it will send no more bytes.
    PeerClosed(TcpHandle),
    /// The peer marked urgent data (RFC 9293 §3.8.5): a new urgent pointer,
    /// or one that moved further on. The data arrives inline;
    /// [`Tcp::urgent_pending`] says how much of the stream, from the read
    /// position, is urgent.
    Urgent(TcpHandle),
    /// The peer reset the connection.
    Reset(TcpHandle),
    /// The connection was refused (RST or ICMP in reply to our SYN).
    Refused(TcpHandle),
    /// The peer is presumed dead (retries, user timeout, keepalive, probes).
    TimedOut(TcpHandle),
    /// The connection failed with an ICMP-reported error.
    Unreachable {
        /// The connection.
        handle: TcpHandle,
        /// The error (host/network unreachable).
        error: TcpError,
    },
    /// The connection reached CLOSED and its resources are released (the
    /// handle stays valid until closed if the user still holds it).
    Closed(TcpHandle),
}

/// TCP keepalive settings (RFC 9293 §3.8.4); off unless configured.
/// `Default` gives the RFC/Linux values: 2 h idle (MUST-28), 75 s
/// interval, 9 probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time before the first probe (RFC 1122: default no less than 2 h).
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes before the peer is declared dead.
    pub count: u32,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(2 * 3600),
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

/// Engine configuration. `Default` gives Linux-like values.
#[derive(Debug, Clone)]
pub struct TcpConfig {
    /// Largest segment payload we accept; announced in the MSS option
    /// (capped by `mtu - 40`, RFC 6691).
    pub mss: u16,
    /// MTU of the outgoing interface (bounds segment size: MSS ≤ MTU − 40).
    pub mtu: u16,
    /// Most bytes buffered for receiving per connection (sets the window).
    pub rx_buffer_limit: usize,
    /// Most bytes buffered for sending per connection.
    pub tx_buffer_limit: usize,
    /// Maximum segment lifetime; TIME-WAIT lasts 2×MSL (RFC 9293 §3.4.2).
    pub msl: Duration,
    /// Lower bound on the RTO (RFC 6298 §2.4 says 1 s; Linux uses 200 ms).
    pub rto_min: Duration,
    /// Upper bound on the RTO (RFC 6298 §2.5: at least 60 s).
    pub rto_max: Duration,
    /// Clock granularity G of RFC 6298 §2.
    pub clock_granularity: Duration,
    /// Retransmissions of a data segment before giving up (R2 of RFC 1122
    /// §4.2.3.5; Linux tcp_retries2 = 15). The application sets R2 here or
    /// per connection with [`Tcp::set_user_timeout`] (RFC 9293 §3.8.3
    /// MUST-21).
    pub max_retries: u32,
    /// Retransmissions of a SYN before giving up. The default 7 retries
    /// span 255 s with the 1 s initial RTO, more than the 3 minutes RFC 9293
    /// §3.8.3 requires (MUST-23).
    pub syn_retries: u32,
    /// Retransmissions of a SYN-ACK before dropping a half-open connection
    /// (Linux tcp_synack_retries = 5).
    pub synack_retries: u32,
    /// RFC 5482 user timeout: longest time sent data may stay unacknowledged.
    pub user_timeout: Option<Duration>,
    /// Keepalive settings for new connections: off by default (RFC 9293
    /// §3.8.4 MUST-25), per connection with [`Tcp::set_keepalive`] (MUST-24).
    pub keepalive: Option<Keepalive>,
    /// Congestion control of new connections (per connection:
    /// [`Tcp::set_congestion_control`]); CUBIC (RFC 9438) by default.
    pub congestion_control: congestion::Algorithm,
    /// HyStart++ (RFC 9406) in the initial slow start of new connections
    /// (per connection: [`Tcp::set_cc_options`]). On by default.
    pub hystart: bool,
    /// Congestion window validation (RFC 7661) for new connections (per
    /// connection: [`Tcp::set_cc_options`]): an unused window does not
    /// grow, survives idle periods instead of falling to RFC 5681's
    /// restart window, and decays after five minutes unused. On by default.
    pub cwnd_validation: bool,
    /// Initial congestion window of new connections in segments (1..=255;
    /// 0, the default, is RFC 6928's IW10 rule); per connection:
    /// [`Tcp::set_cc_options`].
    pub initial_window: u8,
    /// Disable Nagle's algorithm (RFC 9293 §3.7.4) for new connections.
    pub nodelay: bool,
    /// Queue a [`TcpEvent::StateChanged`] at every state transition (on by
    /// default: the CLI draws them, strata-io's runtime wakes on them). An
    /// application that never polls for them turns this off, and the ten
    /// or so transitions of each short connection then cost no event;
    /// every other event comes as before.
    pub state_events: bool,
    /// Delayed-ACK timer; zero disables delay. Values of 500 ms or more
    /// are clamped below 0.5 s (RFC 9293 §3.8.6.3, MUST-40).
    pub delayed_ack: Duration,
    /// Offer window scaling (RFC 7323 §2).
    pub window_scale: bool,
    /// Offer timestamps (RFC 7323 §3).
    pub timestamps: bool,
    /// Offer SACK (RFC 2018).
    pub sack: bool,
    /// Most out-of-order ranges kept per connection. A slow-start overshoot
    /// into a tail-drop queue drops every other segment: the receiver must
    /// keep a hole per drop (up to half a window), or it refuses data that
    /// arrived and turns one loss into several.
    pub max_ooo_ranges: usize,
    /// Most half-open (SYN-RECEIVED) connections per listener: the SYN
    /// queue, separate from the accept queue (the `backlog` of
    /// [`Tcp::listen`]). When it is full, the oldest half-open connection
    /// whose SYN-ACK already went unanswered is dropped for the new SYN;
    /// if there is none, the SYN gets a SYN cookie ([`TcpConfig::syn_cookies`])
    /// or is dropped.
    pub syn_backlog: usize,
    /// Answer SYNs with SYN cookies (RFC 4987 §3.6) when a listener's SYN
    /// queue is full, as Linux does with `tcp_syncookies = 1`: no state is
    /// kept until the handshake's ACK proves the peer's address. On by
    /// default.
    pub syn_cookies: bool,
    /// When a SYN finds the SYN queue full, drop the oldest half-open
    /// connection whose SYN-ACK already went unanswered to make room (RFC
    /// 4987 §3.4, recycling the oldest half-open TCB). On by default; off,
    /// the queue behaves as the textbook's (the lesson's flood demo).
    pub syn_queue_recycle: bool,
    /// How long one ISN secret key is used before the next is derived
    /// (RFC 6528 §3; [`isn::IsnGenerator::rekey`]); zero keeps one key.
    pub isn_key_lifetime: Duration,
    /// Challenge ACKs allowed per second on one connection (RFC 5961 §7).
    /// Per connection, so that the count seen on one connection says
    /// nothing about segments that hit another (CVE-2016-5696).
    pub challenge_ack_limit: u32,
    /// Engine-wide cap on challenge ACKs per second. Each second's budget
    /// is drawn at random between half and one and a half times this value
    /// (as Linux does), so it cannot serve as a side channel either.
    pub challenge_ack_global_limit: u32,
    /// Most RSTs queued for transmission at once; more are dropped (counted).
    pub rst_queue_limit: usize,
    /// How long an orphaned connection (closed by the user) may sit in
    /// FIN-WAIT-2 (Linux tcp_fin_timeout = 60 s).
    pub fin_wait2_timeout: Duration,
    /// Zero-window probes (or retransmissions into a zero window) an
    /// orphan (a connection the application closed) makes without progress
    /// before it is dropped, even when the peer answers every probe (Linux
    /// `tcp_orphan_retries`, whose 0 means 8).
    pub orphan_retries: u32,
    /// Most orphans at once; a close beyond resets the connection instead
    /// (Linux `tcp_max_orphans`).
    pub max_orphans: usize,
    /// R1 of RFC 9293 §3.8.3: after this many retransmissions of one
    /// segment (SYN included) the engine gives the IP layer negative
    /// advice ([`Tcp::poll_negative_advice`]); at least 3 (SHLD-10).
    pub r1_retries: u32,
    /// Diffserv codepoint (6 bits) of new connections' segments; per
    /// connection with [`Tcp::set_dscp`] (RFC 9293 §3.9.1.9 MUST-48).
    pub dscp: u8,
    /// The stack-wide budget for the send and receive buffers of all
    /// connections (Linux `tcp_mem`). See [`TcpMem`].
    pub mem: TcpMem,
}

/// The stack-wide TCP memory budget, in bytes of send and receive buffer
/// allocated over all connections (Linux `tcp_mem`, there in pages).
///
/// - Below `low` nothing is limited, and a pressure period ends.
/// - Above `pressure` the engine enters *memory pressure* (counted in
///   [`TcpStats::mem_pressure_entries`]): every connection's buffer limits
///   are clamped to [`PRESSURE_BUFFER_LIMIT`] (the receive window comes
///   down as the peer uses what was already advertised; its right edge is
///   never moved left, RFC 9293 §3.8.6 SHLD-14), buffers are compacted to
///   what they hold, and no buffer grows past that clamp until usage falls
///   below `low`, when the limits are restored.
/// - At `high` no buffer grows at all: data that would need more memory is
///   refused (the application's send is short or
///   [`TcpError::WouldBlock`]; an arriving segment is dropped, the peer
///   retransmits it), new connections are refused
///   ([`TcpError::NoBufferSpace`] for [`Tcp::connect`], SYNs dropped), and
///   orphans whose timers fire while they hold data are reset. Each is
///   counted ([`TcpStats::mem_refusals`] and others).
///
/// `Default` (96 / 128 / 192 MiB) lets about 250 connections fill their
/// default 256 KiB windows both ways before pressure, and bounds the
/// buffers of any number of connections to 192 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpMem {
    /// Below this, a pressure period ends.
    pub low: usize,
    /// Above this, the engine enters memory pressure.
    pub pressure: usize,
    /// The hard limit: no buffer grows beyond it.
    pub high: usize,
}

impl TcpMem {
    /// No budget at all (every limit at `usize::MAX`): buffers are bounded
    /// only by the per-connection limits.
    pub const UNLIMITED: TcpMem = TcpMem {
        low: usize::MAX,
        pressure: usize::MAX,
        high: usize::MAX,
    };
}

impl Default for TcpMem {
    fn default() -> Self {
        TcpMem {
            low: 96 << 20,
            pressure: 128 << 20,
            high: 192 << 20,
        }
    }
}

/// The buffer limit (each way) every connection is clamped to while the
/// engine is under memory pressure ([`TcpMem`]); Linux clamps the window to
/// a few segments likewise (`tcp_clamp_window`).
pub const PRESSURE_BUFFER_LIMIT: usize = 8 * 1024;

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            mtu: 1500,
            rx_buffer_limit: 256 * 1024,
            tx_buffer_limit: 256 * 1024,
            msl: Duration::from_secs(30),
            congestion_control: congestion::Algorithm::Cubic,
            hystart: true,
            cwnd_validation: true,
            initial_window: 0,
            rto_min: Duration::from_millis(200),
            rto_max: rtt::MAX_RTO,
            clock_granularity: rtt::DEFAULT_GRANULARITY,
            max_retries: 15,
            syn_retries: 7,
            synack_retries: 5,
            user_timeout: None,
            keepalive: None,
            nodelay: false,
            state_events: true,
            delayed_ack: Duration::from_millis(40),
            window_scale: true,
            timestamps: true,
            sack: true,
            max_ooo_ranges: 2048,
            syn_backlog: 256,
            syn_cookies: true,
            syn_queue_recycle: true,
            isn_key_lifetime: Duration::from_secs(3600),
            challenge_ack_limit: 100,
            challenge_ack_global_limit: 1000,
            rst_queue_limit: 256,
            fin_wait2_timeout: Duration::from_secs(60),
            orphan_retries: 8,
            max_orphans: 16_384,
            r1_retries: 3,
            dscp: 0,
            mem: TcpMem::default(),
        }
    }
}

impl TcpConfig {
    /// HyStart++ and window validation as new connections get them.
    pub fn cc_options(&self) -> congestion::CcOptions {
        congestion::CcOptions {
            hystart: self.hystart,
            cwnd_validation: self.cwnd_validation,
            initial_window: self.initial_window,
        }
    }

    /// The MSS we announce: min(configured MSS, MTU − 40) (RFC 6691 §2,
    /// RFC 9293 §3.7.1 MUST-14): MMS_R − 20 for an MTU-sized datagram with
    /// a 20-byte IP header (MUST-67).
    pub fn announced_mss(&self) -> u16 {
        self.mss.min(self.mtu.saturating_sub(40)).max(64)
    }

    /// The window-scale shift we announce: the smallest shift that lets the
    /// receive buffer limit be advertised (RFC 7323 §2.3: at most 14).
    pub fn rcv_wscale(&self) -> u8 {
        wscale_for(self.rx_buffer_limit)
    }
}

/// The smallest window-scale shift that lets a receive buffer of `limit`
/// bytes be advertised (RFC 7323 §2.3: at most 14).
pub(crate) fn wscale_for(limit: usize) -> u8 {
    let mut s = 0u8;
    while s < 14 && (limit >> s) > 65_535 {
        s += 1;
    }
    s
}

/// The `strata::transport` debug event of one segment passing the TCP
/// layer, `way` being `in` (ingress) or `out` (egress).
#[inline]
pub(crate) fn trace_segment(way: &str, seg: &crate::wire::tcp::TcpRepr<'_>) {
    tracing::debug!(
        target: "strata::transport",
        src_port = seg.src_port,
        dst_port = seg.dst_port,
        flags = ?seg.flags,
        seq = seg.seq,
        ack = seg.ack,
        len = seg.payload.len(),
        "TCP segment {way}"
    );
}

/// Smallest per-connection buffer limit [`Tcp::set_buffer_limits`] sets
/// (Linux's `SOCK_MIN_RCVBUF` is 2304 bytes of accounting, about half of
/// them data).
pub const MIN_BUFFER_LIMIT: usize = 2048;
/// Largest per-connection buffer limit: the largest window a peer can be
/// told with the largest shift (65 535 × 2^14, RFC 7323 §2.3).
pub const MAX_BUFFER_LIMIT: usize = 65_535 << 14;
