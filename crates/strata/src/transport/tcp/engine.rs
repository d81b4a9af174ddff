//! The TCP engine: every connection and listener of one host.
//!
//! Connections live inline in the slots of a chunked slab addressed by [`TcpHandle`] (index +
//! generation) and are found from a segment's 4-tuple through a hash map
//! with a seeded hasher, so demultiplexing costs O(1) whatever the number
//! of connections. Nothing iterates that map, so its order never leaks
//! into behaviour. Listeners are keyed by local address and port, with the
//! wildcard address `0.0.0.0` as a fallback.
//!
//! One timing wheel of `(deadline, slot)` entries serves every timer
//! ([`super::timer`]: O(1) to arm, exact deadlines, fired in deadline
//! order). Each connection remembers the deadline it has in the wheel; a
//! deadline that moves later keeps its entry, which is recognised as early
//! when it fires and re-armed (lazy invalidation: moving a timer never
//! searches). An entry that can only fire stale — the connection has no
//! deadline left, or is freed — is cancelled, so that it wakes nobody.

use super::buffer::BufPool;
use super::congestion::CongestionControl;
use super::connection::{Conn, Ctx, GlobalRateLimit, PendingRst};
use super::isn::IsnGenerator;
use super::syncookie::{SynCookies, TsOptions};
use super::table::{Demux, Slab};
use super::timer::{Entry, TimerWheel};
use super::timewait::TimeWaits;
use super::{IcmpError, ListenerHandle, State, TcpConfig, TcpError, TcpEvent, TcpHandle};
use crate::secret::Keys;
use crate::time::{Duration, Instant};
use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr, Timestamps};
use core::hash::{BuildHasher, Hash, Hasher};
use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::{HashMap, VecDeque};

/// Counters of what the engine saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpStats {
    /// Segments handed to [`Tcp::handle_segment`].
    pub segments_in: u64,
    /// Of those, segments taken by header prediction: the next in-order
    /// segment of an ESTABLISHED connection in the common shape, which
    /// skips checks that cannot fail on it (RFC 9293 §3.10.7.4).
    pub predicted: u64,
    /// Segments produced by [`Tcp::poll_transmit`] (RSTs included).
    pub segments_out: u64,
    /// Pure ACKs sent.
    pub acks_out: u64,
    /// Segments retransmitted, all causes: the sum of
    /// [`TcpStats::retransmits_timeout`], [`TcpStats::retransmits_recovery`]
    /// and [`TcpStats::retransmits_syn_ack`].
    pub retransmits: u64,
    /// Retransmissions after a retransmission timer expired: SYN and
    /// SYN-ACK retries, and the data resent from SND.UNA after an RTO
    /// (RFC 6298 §5.4; also after a path MTU drop, RFC 1191 §6.3).
    pub retransmits_timeout: u64,
    /// Retransmissions in loss recovery, before any timer: the sum of
    /// [`TcpStats::retransmits_rack`], [`TcpStats::retransmits_dupthresh`]
    /// and [`TcpStats::retransmits_tlp`].
    pub retransmits_recovery: u64,
    /// Retransmissions in SACK loss recovery (RFC 6675 NextSeg) of
    /// segments RACK marked lost (RFC 8985 §6), with the rule (3) and (4)
    /// retransmissions of the same episodes.
    pub retransmits_rack: u64,
    /// Retransmissions by duplicate-ACK counting without SACK: fast
    /// retransmit (RFC 5681 §3.2) and NewReno partial ACKs (RFC 6582 §3.2).
    pub retransmits_dupthresh: u64,
    /// Tail loss probes that resent the last segment (RFC 8985 §7.3).
    pub retransmits_tlp: u64,
    /// Loss recoveries and timeouts found spurious and undone (RFC 3522
    /// Eifel or RFC 3708 D-SACK detection, RFC 4015 response).
    pub spurious_undone: u64,
    /// Of those, retransmission timeouts (RFC 3522 with timestamps).
    pub spurious_rto_undone: u64,
    /// Retransmissions sent in the recoveries and timeouts undone.
    pub spurious_retransmits: u64,
    /// ACKs received carrying a D-SACK block (RFC 2883).
    pub dsacks_received: u64,
    /// ACKs sent with a D-SACK block reporting a duplicate (RFC 2883).
    pub dsacks_sent: u64,
    /// SYN-ACKs sent again at once because the peer retransmitted its SYN
    /// (our SYN-ACK was lost).
    pub retransmits_syn_ack: u64,
    /// Fast retransmits (RFC 5681 §3.2).
    pub fast_retransmits: u64,
    /// Retransmission timeouts on data.
    pub rto_expired: u64,
    /// RSTs sent.
    pub rst_sent: u64,
    /// RSTs received.
    pub rst_received: u64,
    /// RSTs not sent because the queue was full.
    pub rst_dropped: u64,
    /// RSTs ignored in TIME-WAIT (RFC 1337).
    pub rst_ignored_time_wait: u64,
    /// Segments for no connection and no listener.
    pub no_socket: u64,
    /// Segments with impossible flag combinations (SYN+FIN, SYN+RST, none).
    pub bad_flags: u64,
    /// Segments with an unacceptable ACK.
    pub bad_ack: u64,
    /// Segments without ACK in a synchronized state.
    pub no_ack: u64,
    /// Segments outside the receive window.
    pub out_of_window: u64,
    /// Segments dropped by PAWS (RFC 7323 §5).
    pub paws_rejected: u64,
    /// Segments dropped for a missing timestamp (RFC 7323 §3.2).
    pub missing_timestamps: u64,
    /// Data dropped because the window was zero.
    pub zero_window_drops: u64,
    /// Out-of-order segments refused (assembler full).
    pub ooo_dropped: u64,
    /// In-order data segments whose data was copied into the receive buffer
    /// while their checksum was computed ([`Tcp::stage`]), and delivered.
    pub copied_while_verified: u64,
    /// Data arriving after the application closed (answered with RST).
    pub data_after_close: u64,
    /// Data arriving after the peer's FIN (ignored).
    pub data_ignored: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// Challenge ACKs suppressed by the rate limit (RFC 5961 §7).
    pub challenge_acks_suppressed: u64,
    /// SYNs dropped because the accept queue was full.
    pub listen_overflows: u64,
    /// SYNs dropped because the half-open set (SYN queue) was full and
    /// neither an old entry could make room nor a cookie answer it.
    pub syn_queue_drops: u64,
    /// Half-open connections dropped from a full SYN queue to make room
    /// for a new SYN (the oldest whose SYN-ACK went unanswered first).
    pub syn_queue_evictions: u64,
    /// SYN-ACKs sent with a SYN cookie (RFC 4987 §3.6) instead of state.
    pub syncookies_sent: u64,
    /// ACKs that returned a valid cookie and became a connection.
    pub syncookies_validated: u64,
    /// ACKs to a listener that recently sent cookies whose cookie did not
    /// check (forged, expired, or for an entry dropped meanwhile).
    pub syncookies_rejected: u64,
    /// Final ACKs of the handshake dropped because the accept queue was full.
    pub accept_queue_ack_drops: u64,
    /// Zero-window probes sent.
    pub window_probes: u64,
    /// Keepalive probes sent.
    pub keepalive_probes: u64,
    /// Connections that ended with TimedOut.
    pub timeouts: u64,
    /// ICMP errors ignored because the quoted sequence number was not in
    /// flight (RFC 5927 §4.1).
    pub icmp_out_of_window: u64,
    /// Closes answered with a reset because too many orphans existed
    /// ([`super::TcpConfig::max_orphans`]).
    pub orphans_reset: u64,
    /// Tail loss probes sent (RFC 8985 §7.3).
    pub tlp_probes: u64,
    /// Tail loss probes that resent the last segment and were
    /// acknowledged: a tail loss repaired without a timeout (RFC 8985 §7.4).
    pub tlp_recoveries: u64,
    /// Times HyStart++ saw the RTT rise in an initial slow start and
    /// entered Conservative Slow Start (RFC 9406 §4.2; a spurious entry,
    /// undone when the RTT fell back, counts too).
    pub hystart_css: u64,
    /// Initial slow starts HyStart++ ended before any loss: CSS_ROUNDS
    /// rounds of CSS, then ssthresh = cwnd (RFC 9406 §4.2).
    pub hystart_exits: u64,
    /// Negative advice given to IP after R1 retransmissions (RFC 9293
    /// §3.8.3 MUST-20).
    pub negative_advice: u64,
    /// Times the engine entered memory pressure ([`super::TcpMem`]).
    pub mem_pressure_entries: u64,
    /// Application writes refused or cut short because the memory budget
    /// had no room ([`super::TcpMem::high`]).
    pub mem_send_refusals: u64,
    /// Arriving data segments dropped because the memory budget had no
    /// room for them.
    pub mem_rx_drops: u64,
    /// New connections refused for memory: SYNs dropped and
    /// [`Tcp::connect`] calls answered [`super::TcpError::NoBufferSpace`].
    pub mem_conn_refusals: u64,
    /// Orphans holding unsent or unacknowledged data that were reset when
    /// one of their timers fired above [`super::TcpMem::high`] (Linux
    /// "out of memory -- consider tuning tcp_mem").
    pub mem_orphan_resets: u64,
}

impl TcpStats {
    /// All memory refusals: writes, received segments and connections
    /// refused, and orphans reset, for lack of TCP memory.
    pub fn mem_refusals(&self) -> u64 {
        self.mem_send_refusals + self.mem_rx_drops + self.mem_conn_refusals + self.mem_orphan_resets
    }
}

/// The engine's TCP memory: send and receive buffer bytes allocated over
/// all connections, the figure the budget [`super::TcpMem`] limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpMemory {
    /// Bytes allocated now.
    pub buffers: usize,
    /// The most allocated at once since the engine was made.
    pub peak: usize,
    /// The engine is under memory pressure.
    pub pressure: bool,
}

/// A snapshot of one connection's internals (for tests, CLI and debugging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// Current state.
    pub state: State,
    /// Local address.
    pub local: SocketAddrV4,
    /// Remote address.
    pub remote: SocketAddrV4,
    /// Initial send sequence number.
    pub iss: u32,
    /// Initial receive sequence number.
    pub irs: u32,
    /// SND.UNA.
    pub snd_una: u32,
    /// SND.NXT.
    pub snd_nxt: u32,
    /// RCV.NXT.
    pub rcv_nxt: u32,
    /// Peer's window in bytes (scaled).
    pub snd_wnd: u32,
    /// Bytes in the send buffer.
    pub send_queue: usize,
    /// Readable bytes in the receive buffer.
    pub recv_queue: usize,
    /// Current retransmission timeout.
    pub rto: Duration,
    /// Smoothed RTT if measured.
    pub srtt: Option<Duration>,
    /// The smallest RTT of a delivered data segment (RACK.min_RTT, RFC
    /// 8985 §6.2), once RACK runs (with SACK): the path's round trip.
    pub min_rtt: Option<Duration>,
    /// Congestion window.
    pub cwnd: usize,
    /// Slow-start threshold.
    pub ssthresh: usize,
    /// Payload bytes per full segment.
    pub mss: usize,
    /// Our window scale shift and the peer's (when negotiated).
    pub wscale: Option<(u8, u8)>,
    /// Timestamps negotiated.
    pub timestamps: bool,
    /// SACK negotiated.
    pub sack: bool,
    /// Segments retransmitted.
    pub retransmits: u64,
    /// Bytes allocated for the send and receive buffers.
    pub buffer_bytes: usize,
    /// Bytes the SACK scoreboard records as held by the peer above SND.UNA.
    pub sacked_bytes: usize,
}

/// A fast seeded hasher for 4-tuples (folded multiply, keyed by the seed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeededState {
    k0: u64,
    k1: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SeededHasher {
    h: u64,
    k1: u64,
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

impl Hasher for SeededHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.h = fold_mul(self.h ^ x, 0x5851_f42d_4c95_7f2d ^ self.k1);
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }
    fn write_u16(&mut self, x: u16) {
        self.write_u64(u64::from(x));
    }
    fn finish(&self) -> u64 {
        fold_mul(self.h, 0x9e37_79b9_7f4a_7c15 ^ self.k1.rotate_left(17))
    }
}

impl BuildHasher for SeededState {
    type Hasher = SeededHasher;
    fn build_hasher(&self) -> SeededHasher {
        SeededHasher {
            h: self.k0,
            k1: self.k1,
        }
    }
}

/// The 4-tuple key of a connection (local first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tuple {
    local_ip: u32,
    remote_ip: u32,
    local_port: u16,
    remote_port: u16,
}

impl Tuple {
    fn new(local: SocketAddrV4, remote: SocketAddrV4) -> Self {
        Tuple {
            local_ip: u32::from(*local.ip()),
            remote_ip: u32::from(*remote.ip()),
            local_port: local.port(),
            remote_port: remote.port(),
        }
    }
}

impl Hash for Tuple {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64((u64::from(self.local_ip) << 32) | u64::from(self.remote_ip));
        state.write_u32((u32::from(self.local_port) << 16) | u32::from(self.remote_port));
    }
}

/// A connection slot, aligned to a cache line so a connection's fields
/// fall on the fewest lines: the TCB comes first, so its hot half (see
/// `Conn`) is the slot's first two lines.
#[derive(Debug)]
#[repr(C, align(64))]
struct Slot {
    conn: Option<Conn>,
    gen: u32,
}

// Ten cache lines a slot, the TCB at its start.
const _: () =
    assert!(core::mem::size_of::<Slot>() <= 10 * 64 && core::mem::offset_of!(Slot, conn) == 0);

impl Slab<Slot> {
    /// The connection in slot `idx`, if the slot holds one.
    #[inline]
    fn conn_at(&self, idx: u32) -> Option<&Conn> {
        self.get(idx as usize).and_then(|s| s.conn.as_ref())
    }

    /// The connection in slot `idx`, if the slot holds one.
    #[inline]
    fn conn_at_mut(&mut self, idx: u32) -> Option<&mut Conn> {
        self.get_mut(idx as usize).and_then(|s| s.conn.as_mut())
    }
}

/// The listener `l` names, unless it was closed (and its index reused).
fn live_listener(listeners: &mut [Option<Listener>], l: ListenerHandle) -> Option<&mut Listener> {
    match listeners.get_mut(l.idx as usize) {
        Some(Some(li)) if li.gen == l.gen => Some(li),
        _ => None,
    }
}

/// `conn` leaves its listener's half-open (SYN-RECEIVED) count, if in it.
fn leave_half_open(listeners: &mut [Option<Listener>], conn: &mut Conn) {
    if conn.half_open {
        conn.half_open = false;
        if let Some(li) = conn.listener.and_then(|l| live_listener(listeners, l)) {
            li.half_open = li.half_open.saturating_sub(1);
        }
    }
}

#[derive(Debug)]
struct Listener {
    gen: u32,
    local: SocketAddrV4,
    backlog: usize,
    /// Most half-open (SYN-RECEIVED) children ([`TcpConfig::syn_backlog`]
    /// unless set with [`Tcp::set_listen_queues`]).
    syn_backlog: usize,
    accept_queue: VecDeque<TcpHandle>,
    half_open: usize,
    /// The half-open children in arrival order (oldest first); entries of
    /// connections that since completed or died are skipped lazily.
    syn_queue: VecDeque<TcpHandle>,
    /// When the SYN queue last overflowed: ACKs to the listener are checked
    /// as cookies only while cookies sent since may still come back.
    last_overflow: Option<Instant>,
}

/// A SYN-ACK answered from a cookie: everything the segment needs, no
/// connection behind it.
#[derive(Debug, Clone, Copy)]
struct CookieSynAck {
    local: SocketAddrV4,
    remote: SocketAddrV4,
    cookie: u32,
    ack: u32,
    mss: u16,
    window_scale: Option<u8>,
    sack: bool,
    ts: Option<Timestamps>,
}

/// A slot's timer state (see [`Tcp::schedule_gen`]).
#[derive(Debug, Clone, Copy)]
struct Wake {
    /// Deadline of the slot's live wheel entry (`Instant::MAX`: none).
    entry: Instant,
    /// The connection's next deadline (`Instant::MAX`: none); never
    /// earlier than `entry`.
    want: Instant,
    /// Buffer bytes the slot's connection is charged for in the memory
    /// budget ([`super::TcpMem`]); u32: at most two buffers of
    /// [`super::MAX_BUFFER_LIMIT`]. Kept here, not in the TCB, which
    /// stays within ten cache lines.
    charged: u32,
}

impl Wake {
    const NONE: Wake = Wake {
        entry: Instant::MAX,
        want: Instant::MAX,
        charged: 0,
    };
}

/// The TCP engine of one host. See the [module docs](super).
#[derive(Debug)]
pub struct Tcp {
    cfg: TcpConfig,
    isn: IsnGenerator,
    forced_isn: Option<u32>,
    slots: Slab<Slot>,
    free: Vec<u32>,
    /// 4-tuple → slot (keys are confirmed against the slot's connection).
    table: Demux,
    /// Keys the demux hash.
    tuple_hasher: SeededState,
    listeners: Vec<Option<Listener>>,
    listener_gen: u32,
    listener_map: HashMap<(Ipv4Addr, u16), u32, SeededState>,
    timers: TimerWheel,
    /// Per slot: its live wheel entry and the deadline it really wants,
    /// dense beside the slab so that neither a stale entry nor an early one
    /// (the deadline moved later) fetches the connection.
    wakes: Vec<Wake>,
    dirty: VecDeque<u32>,
    rsts: VecDeque<PendingRst>,
    /// (local, remote) addresses whose path IP should re-check
    /// ([`Tcp::poll_negative_advice`]).
    advice: VecDeque<(Ipv4Addr, Ipv4Addr)>,
    events: VecDeque<TcpEvent>,
    stats: TcpStats,
    challenge: GlobalRateLimit,
    scratch: Vec<u8>,
    /// Largest payload of one data segment when the device segments
    /// (TSO/GSO); 0: the MSS ([`Tcp::set_segment_offload`]).
    burst: usize,
    ephemeral_next: u16,
    /// SYN cookies (RFC 4987) under a key from the stack's secret.
    cookies: SynCookies,
    /// SYN-ACKs of cookies waiting for `poll_transmit`.
    cookie_synacks: VecDeque<CookieSynAck>,
    /// The latest `now` seen, for mutators that take no time argument.
    now: Instant,
    /// Connections closed by the application and still finishing on their
    /// own (TIME-WAIT not counted, as in Linux).
    orphans: usize,
    /// Connection index and byte count of data [`Tcp::stage`] copied for
    /// the segment about to be handled; taken by the next `handle_segment`.
    staged: Option<(u32, usize)>,
    /// Buffer bytes charged over all connections ([`super::TcpMem`]).
    mem: usize,
    /// The most `mem` has been.
    mem_peak: usize,
    /// Under memory pressure: every buffer limit clamped.
    mem_pressure: bool,
    /// Connections whose write the budget refused: told
    /// [`TcpEvent::Writable`] once memory is below the hard limit again.
    mem_blocked: VecDeque<TcpHandle>,
    /// First buffer allocations given back by connections, for the next
    /// ones (see [`BufPool`]; emptied under memory pressure).
    pool: BufPool,
    /// Header prediction on (see [`Tcp::set_header_prediction`]).
    predict: bool,
    /// Compact records of released connections in TIME-WAIT (see
    /// [`super::timewait`]); in the demux and the timer wheel under their
    /// index tagged with [`TW`].
    tw: TimeWaits,
}

/// Tags a TIME-WAIT record's index in the demux table and the timer
/// wheel, where untagged indexes name connection slots.
const TW: u32 = 1 << 31;

/// Release the allocation of a queue that is empty after a burst.
fn shrink_idle<T>(q: &mut VecDeque<T>) {
    if q.is_empty() && q.capacity() > 1024 {
        *q = VecDeque::new();
    }
}

/// Most cookie SYN-ACKs waiting for `poll_transmit` (about 40 bytes each):
/// a burst of SYNs handled before the caller drains the output does not
/// lose its answers; beyond, SYNs are dropped and counted.
const COOKIE_QUEUE_LIMIT: usize = 4096;

/// First port of the ephemeral range (IANA, RFC 6335).
const EPHEMERAL_LO: u16 = 49_152;

impl Tcp {
    /// A new engine. `seed` keys the ISN generator (RFC 6528), the
    /// timestamp offsets, the demux hasher and ephemeral port choice, so a
    /// simulation with the same seed behaves identically.
    pub fn new(config: TcpConfig, seed: u64) -> Self {
        Self::with_keys(config, &Keys::Seed(seed))
    }

    /// A new engine whose secrets (ISN key, SYN-cookie key, demux hasher,
    /// challenge-ACK budget) come from `keys`: [`Keys::Seed`] gives exactly
    /// the engine of [`Tcp::new`], [`Keys::Secret`] keys from an
    /// operating-system secret (RFC 6528 §3, real devices).
    pub fn with_keys(config: TcpConfig, keys: &Keys) -> Self {
        let (k0, k1) = keys.key_or(0x7463_705f_7461_626c, |seed| {
            super::isn::key_from_seed(seed ^ 0x7463_705f_7461_626c)
        });
        let hs = SeededState { k0, k1 };
        let isn = match keys {
            Keys::Seed(seed) => IsnGenerator::new(*seed),
            Keys::Secret(_) => {
                let (a, b) = keys.key_or(0x6973_6e5f_6b65_7921, |_| (0, 0));
                IsnGenerator::from_key(a, b)
            }
        };
        let (c0, c1) = keys.key_or(0x7379_6e63_6f6f_6b69, |seed| {
            super::isn::key_from_seed(seed ^ 0x7379_6e63_6f6f_6b69)
        });
        let challenge_seed = match keys {
            Keys::Seed(seed) => k0 ^ seed,
            Keys::Secret(_) => k0 ^ c1,
        };
        Tcp {
            cfg: config,
            isn,
            forced_isn: None,
            slots: Slab::default(),
            free: Vec::new(),
            table: Demux::default(),
            tuple_hasher: hs,
            listeners: Vec::new(),
            listener_gen: 0,
            listener_map: HashMap::with_hasher(hs),
            timers: TimerWheel::default(),
            wakes: Vec::new(),
            dirty: VecDeque::new(),
            rsts: VecDeque::new(),
            advice: VecDeque::new(),
            events: VecDeque::new(),
            stats: TcpStats::default(),
            challenge: GlobalRateLimit::new(challenge_seed),
            scratch: Vec::new(),
            burst: 0,
            ephemeral_next: EPHEMERAL_LO + (k1 % u64::from(u16::MAX - EPHEMERAL_LO)) as u16,
            cookies: SynCookies::new(c0, c1),
            cookie_synacks: VecDeque::new(),
            now: Instant::ZERO,
            orphans: 0,
            staged: None,
            mem: 0,
            mem_peak: 0,
            mem_pressure: false,
            mem_blocked: VecDeque::new(),
            pool: BufPool::default(),
            predict: true,
            tw: TimeWaits::default(),
        }
    }

    /// The TCP memory in use and its peak (see [`super::TcpMem`]).
    pub fn memory(&self) -> TcpMemory {
        TcpMemory {
            buffers: self.mem,
            peak: self.mem_peak,
            pressure: self.mem_pressure,
        }
    }

    /// Bytes the buffers may still grow by before [`super::TcpMem::high`].
    fn mem_room(&self) -> usize {
        self.cfg.mem.high.saturating_sub(self.mem)
    }

    /// Re-charge connection `idx` for the buffers it holds now, then enter
    /// or leave memory pressure as the total crosses the thresholds.
    fn charge(&mut self, idx: u32) {
        let Some(c) = self.slots.conn_at(idx) else {
            return;
        };
        let held = Self::held(c);
        if held != self.wakes[idx as usize].charged {
            self.recharge(idx, held);
        }
    }

    /// Buffer bytes connection `c` holds, as charged.
    #[inline]
    fn held(c: &Conn) -> u32 {
        (c.tx.capacity() + c.rx.capacity()).min(u32::MAX as usize) as u32
    }

    /// Charge connection `idx` for `now` bytes instead of what it was
    /// charged for.
    fn recharge(&mut self, idx: u32, now: u32) {
        let w = &mut self.wakes[idx as usize];
        let was = w.charged;
        w.charged = now;
        self.mem = (self.mem + now as usize).saturating_sub(was as usize);
        self.mem_peak = self.mem_peak.max(self.mem);
        if self.mem_may_act() {
            self.mem_thresholds();
        }
    }

    /// True when [`Tcp::mem_thresholds`] may have something to do: under
    /// pressure, above its threshold, or with writers waiting.
    #[inline]
    fn mem_may_act(&self) -> bool {
        self.mem_pressure || self.mem > self.cfg.mem.pressure || !self.mem_blocked.is_empty()
    }

    /// Take connection `idx`'s charge off the total (it is being freed).
    fn uncharge(&mut self, idx: u32) {
        if let Some(w) = self.wakes.get_mut(idx as usize) {
            self.mem = self.mem.saturating_sub(w.charged as usize);
            w.charged = 0;
            if self.mem_may_act() {
                self.mem_thresholds();
            }
        }
    }

    /// Memory pressure as Linux `tcp_mem` does it: entered above
    /// `pressure`, left below `low`; writers refused at `high` are woken
    /// once below it.
    fn mem_thresholds(&mut self) {
        let m = self.cfg.mem;
        if !self.mem_pressure && self.mem > m.pressure {
            self.mem_pressure = true;
            self.stats.mem_pressure_entries += 1;
            // Pooled allocations are given back too.
            self.pool = BufPool::default();
            self.mem_clamp_all(true);
        } else if self.mem_pressure && self.mem < m.low {
            self.mem_pressure = false;
            self.mem_clamp_all(false);
        }
        if self.mem < m.high && !self.mem_blocked.is_empty() {
            while let Some(h) = self.mem_blocked.pop_front() {
                if let Ok(c) = self.conn_mut(h) {
                    if c.writable_armed && c.tx.free() > 0 {
                        c.writable_armed = false;
                        self.events.push_back(TcpEvent::Writable(h));
                    }
                }
            }
            shrink_idle(&mut self.mem_blocked);
        }
    }

    /// Clamp (or restore) every connection's buffer limits and recount the
    /// memory they hold.
    fn mem_clamp_all(&mut self, clamp: bool) {
        let mut total = 0usize;
        for (slot, w) in self.slots.iter_mut().zip(self.wakes.iter_mut()) {
            if let Some(c) = slot.conn.as_mut() {
                if clamp {
                    c.mem_clamp(super::PRESSURE_BUFFER_LIMIT);
                } else {
                    c.mem_unclamp();
                }
                w.charged = (c.tx.capacity() + c.rx.capacity()).min(u32::MAX as usize) as u32;
                total += w.charged as usize;
            }
        }
        self.mem = total;
    }

    /// The configuration.
    pub fn config(&self) -> &TcpConfig {
        &self.cfg
    }

    /// Counters.
    pub fn stats(&self) -> &TcpStats {
        &self.stats
    }

    /// Force the ISN of the next connection created (active or passive) —
    /// for tests of sequence-number wrap-around.
    pub fn force_next_isn(&mut self, isn: u32) {
        self.forced_isn = Some(isn);
    }

    /// Test hook: act as if `n` more bytes had been sent on the idle
    /// ESTABLISHED connection `h` and acknowledged by the peer (in ACKs of
    /// at most 1 GiB, carrying no SACK blocks), so a test reaches sequence
    /// numbers 2^31 or 2^32 past the ISS without moving gigabytes.
    /// Refused ([`TcpError::InvalidState`]) unless nothing is in flight and
    /// the send buffer is empty.
    #[doc(hidden)]
    pub fn skip_acked_bytes(&mut self, h: TcpHandle, n: u64) -> Result<(), TcpError> {
        self.conn_mut(h)?.skip_acked(n)
    }

    /// Test hook: turn header prediction (the fast path for the next
    /// in-order segment, [`TcpStats::predicted`]) off or on. It changes
    /// nothing a peer or the application can see, only the instructions
    /// spent; tests run both ways and compare every segment sent.
    #[doc(hidden)]
    pub fn set_header_prediction(&mut self, on: bool) {
        self.predict = on;
    }

    /// Orphans: connections the application closed that are still sending
    /// their data and FIN (TIME-WAIT not counted). At most
    /// [`TcpConfig::max_orphans`].
    pub fn orphan_count(&self) -> usize {
        self.orphans
    }

    /// Live connections (including TIME-WAIT and closed ones still held
    /// by the user).
    pub fn connection_count(&self) -> usize {
        self.slots.len() - self.free.len() + self.tw.len()
    }

    /// Connections in TIME-WAIT kept as compact records (see
    /// [`Tcp::connections`]): those the application had closed when they
    /// entered it. A connection whose handle is still held waits in its
    /// full slot until the handle is closed.
    pub fn time_wait_records(&self) -> usize {
        self.tw.len()
    }

    // ------------------------------------------------------------------
    // Internal helpers
    // ------------------------------------------------------------------

    fn conn(&self, h: TcpHandle) -> Result<&Conn, TcpError> {
        match self.slots.get(h.idx as usize) {
            Some(Slot { gen, conn: Some(c) }) if *gen == h.gen && !c.released => Ok(c),
            _ => Err(TcpError::InvalidHandle),
        }
    }

    fn conn_mut(&mut self, h: TcpHandle) -> Result<&mut Conn, TcpError> {
        match self.slots.get_mut(h.idx as usize) {
            Some(Slot { gen, conn: Some(c) }) if *gen == h.gen && !c.released => Ok(c),
            _ => Err(TcpError::InvalidHandle),
        }
    }

    /// [`Tcp::conn_mut`] beside the engine's buffer pool.
    fn conn_and_pool(&mut self, h: TcpHandle) -> Result<(&mut Conn, &mut BufPool), TcpError> {
        match self.slots.get_mut(h.idx as usize) {
            Some(Slot { gen, conn: Some(c) }) if *gen == h.gen && !c.released => {
                Ok((c, &mut self.pool))
            }
            _ => Err(TcpError::InvalidHandle),
        }
    }

    /// The slot of the connection with this 4-tuple.
    #[inline]
    fn lookup(&self, t: &Tuple) -> Option<u32> {
        let h = self.tuple_hasher.hash_one(t);
        self.table.get(h, |idx| self.slot_holds(idx, t))
    }

    /// True when slot `idx` holds the connection with this 4-tuple (one
    /// connection per 4-tuple, so this is what a lookup would answer).
    #[inline]
    fn slot_holds(&self, idx: u32, t: &Tuple) -> bool {
        if idx & TW != 0 {
            return self
                .tw
                .get(idx & !TW)
                .is_some_and(|r| Tuple::new(r.local, r.remote) == *t);
        }
        self.slots
            .conn_at(idx)
            .is_some_and(|c| Tuple::new(c.local, c.remote) == *t)
    }

    fn alloc_slot(&mut self) -> TcpHandle {
        if let Some(idx) = self.free.pop() {
            let gen = self.slots[idx as usize].gen;
            TcpHandle { idx, gen }
        } else {
            let idx = self.slots.push(Slot { gen: 0, conn: None });
            self.wakes.push(Wake::NONE);
            TcpHandle {
                idx: idx as u32,
                gen: 0,
            }
        }
    }

    fn new_conn(&mut self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> TcpHandle {
        self.new_conn_with_iss(now, local, remote, None)
    }

    /// A new connection; `iss` given (a SYN cookie) or from the ISN
    /// generator.
    fn new_conn_with_iss(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: Option<u32>,
    ) -> TcpHandle {
        let h = self.alloc_slot();
        // RFC 6528 §3: the secret key in use changes every
        // `isn_key_lifetime`.
        self.isn.rekey(now, self.cfg.isn_key_lifetime);
        let (isn, ts_offset) = self.isn.isn_and_ts_offset(now, local, remote);
        let iss = match iss {
            Some(i) => i,
            None => self.forced_isn.take().unwrap_or(isn),
        };
        // Built straight in its slot: a TCB is ten cache lines, not worth
        // moving twice.
        let conn = self.slots[h.idx as usize]
            .conn
            .insert(Conn::new(h, now, &self.cfg, local, remote, iss, ts_offset));
        if self.mem_pressure {
            // Under memory pressure new connections start clamped too.
            conn.mem_clamp(super::PRESSURE_BUFFER_LIMIT);
        }
        let hash = self.tuple_hasher.hash_one(Tuple::new(local, remote));
        self.table.insert(hash, h.idx);
        h
    }

    /// Run `f` on the connection in slot `idx` with an engine context.
    fn with_conn<R>(
        &mut self,
        idx: u32,
        now: Instant,
        f: impl FnOnce(&mut Conn, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let mem_room = self.mem_room();
        let conn = self.slots.conn_at_mut(idx)?;
        let mut ctx = Ctx {
            mem_room,
            now,
            cfg: &self.cfg,
            events: &mut self.events,
            stats: &mut self.stats,
            rsts: &mut self.rsts,
            challenge: &mut self.challenge,
            staged: 0,
            pool: &mut self.pool,
            predict: self.predict,
        };
        Some(f(conn, &mut ctx))
    }

    /// Bookkeeping after anything touched connection `idx`: accept queue,
    /// removal when CLOSED, transmit queue, timer wheel, memory charge —
    /// with one look-up of the slot.
    fn after(&mut self, idx: u32, now: Instant) {
        let Some(conn) = self.slots.conn_at_mut(idx) else {
            return;
        };
        // Half-open accounting and the accept queue: only a passive child
        // not yet accepted has a listener.
        if let Some(l) = conn.listener {
            if conn.state != State::SynReceived {
                leave_half_open(&mut self.listeners, conn);
                if !conn.in_accept_queue && conn.state.is_synchronized() {
                    if let Some(li) = live_listener(&mut self.listeners, l) {
                        conn.in_accept_queue = true;
                        li.accept_queue.push_back(conn.handle);
                        self.events.push_back(TcpEvent::Acceptable { listener: l });
                    }
                }
            }
        }
        if conn.state == State::Closed {
            self.finalize(idx);
            return;
        }
        if conn.state == State::TimeWait {
            if conn.orphan {
                conn.orphan = false;
                self.orphans -= 1;
            }
            if conn.released {
                // Nobody holds the handle: a compact record waits out
                // 2×MSL instead, and the slot is free at once.
                self.enter_time_wait_record(idx);
                return;
            }
        }
        conn.update_timers(now);
        if !conn.in_dirty && conn.wants_send() {
            conn.in_dirty = true;
            self.dirty.push_back(idx);
        }
        if self.mem_pressure {
            // Under pressure buffers give back what they do not hold.
            conn.mem_compact();
        }
        let d = conn.next_deadline();
        let gen = conn.handle.gen;
        let held = Self::held(conn);
        self.schedule_gen(idx, gen, d);
        if held != self.wakes[idx as usize].charged {
            self.recharge(idx, held);
        }
    }

    /// Connection `idx` (of generation `gen`) next needs attention at `d`
    /// (its next deadline, if any): a new wheel entry only when `d` is
    /// earlier than the one it has. Call after anything that may move the
    /// connection's deadlines.
    #[inline]
    fn schedule_gen(&mut self, idx: u32, gen: u32, d: Option<Instant>) {
        let w = &mut self.wakes[idx as usize];
        w.want = d.unwrap_or(Instant::MAX);
        if w.want < w.entry {
            let old = w.entry;
            w.entry = w.want;
            self.timers.insert(Entry {
                at: w.want,
                idx,
                gen,
            });
            if old != Instant::MAX {
                // The later entry would only fire stale.
                self.timers.remove(Entry { at: old, idx, gen });
            }
        } else if w.want == Instant::MAX && w.entry != Instant::MAX {
            // Nothing left to wait for: cancel the entry rather than wake
            // the stack for it. (A deadline that moved later keeps its
            // entry, which re-arms when it fires: moving costs nothing.)
            let at = core::mem::replace(&mut w.entry, Instant::MAX);
            self.timers.remove(Entry { at, idx, gen });
        }
    }

    /// A connection reached CLOSED: take it out of the table; free the slot
    /// unless the user still holds the handle.
    fn finalize(&mut self, idx: u32) {
        let Some(conn) = self.slots.conn_at_mut(idx) else {
            return;
        };
        let tuple = Tuple::new(conn.local, conn.remote);
        let hash = self.tuple_hasher.hash_one(tuple);
        let in_table = self.table.get(hash, |i| i == idx) == Some(idx);
        if conn.error == Some(TcpError::TimedOut) {
            self.stats.timeouts += 1;
        }
        if conn.orphan {
            conn.orphan = false;
            self.orphans -= 1;
        }
        if conn.in_accept_queue {
            if let Some(li) = conn
                .listener
                .and_then(|l| live_listener(&mut self.listeners, l))
            {
                let h = conn.handle;
                li.accept_queue.retain(|&x| x != h);
            }
            conn.in_accept_queue = false;
        }
        leave_half_open(&mut self.listeners, conn);
        let keep = conn.owned && !conn.released;
        // Free buffers now; a zombie only reports its error.
        conn.tx.ack(usize::MAX);
        conn.tx.shrink_into(&mut self.pool);
        if in_table {
            self.table.remove(hash, idx);
        }
        if !keep {
            self.free_slot(idx);
        } else {
            self.charge(idx);
        }
    }

    /// Connection `idx`, released and in TIME-WAIT, becomes a compact
    /// record (see [`super::timewait`]) under the same 4-tuple; its slot,
    /// buffers and loss-recovery state are freed.
    fn enter_time_wait_record(&mut self, idx: u32) {
        let Some(conn) = self.slots.conn_at_mut(idx) else {
            return;
        };
        let rec = conn.time_wait_record();
        let at = rec.close_at;
        let hash = self
            .tuple_hasher
            .hash_one(Tuple::new(rec.local, rec.remote));
        self.table.remove(hash, idx);
        let (i, gen) = self.tw.insert(rec);
        self.table.insert(hash, i | TW);
        self.arm_time_wait(at, i, gen);
        self.free_slot(idx);
    }

    /// A segment for TIME-WAIT record `i` (RFC 9293 §3.10.7.4). True when
    /// it is a SYN that ends the TIME-WAIT for a new incarnation (RFC 9293
    /// §3.6 MAY-2, RFC 6191): the caller hands it to the listener.
    fn time_wait_segment(
        &mut self,
        now: Instant,
        i: u32,
        dst: Ipv4Addr,
        seg: &TcpRepr<'_>,
    ) -> bool {
        let gen = self.tw.gen(i);
        let f = seg.flags;
        // As for a full connection: given up only for a SYN some listener
        // will take; otherwise the SYN is processed in TIME-WAIT.
        let reuse = f.syn()
            && !f.ack()
            && self.tw.get(i).is_some_and(|r| r.reusable(seg))
            && self.is_listening_port(dst, seg.dst_port);
        if reuse {
            self.end_time_wait_record(i);
            return true;
        }
        let Some(rec) = self.tw.get_gen_mut(i, gen) else {
            return false;
        };
        let (had_ack, close_at) = (rec.ack_now, rec.close_at);
        rec.on_segment(now, &self.cfg, &mut self.stats, &mut self.challenge, seg);
        let (ack, at) = (!had_ack && rec.ack_now, rec.close_at);
        if ack {
            self.tw.queue_ack(i);
        }
        if at != close_at {
            // The 2×MSL wait restarted: the old deadline goes stale.
            self.arm_time_wait(at, i, gen);
        }
        false
    }

    /// TIME-WAIT record `i` of generation `gen` ends at `at`: in the
    /// records' own deadline queue, or (out of order) in the wheel.
    fn arm_time_wait(&mut self, at: Instant, i: u32, gen: u32) {
        if !self.tw.arm(at, i, gen) {
            self.timers.insert(Entry {
                at,
                idx: i | TW,
                gen,
            });
        }
    }

    /// TIME-WAIT record `i` of generation `gen` reached deadline `at`: it
    /// ends, unless the wait restarted since (a later deadline serves it)
    /// or the record is gone.
    fn time_wait_due(&mut self, at: Instant, i: u32, gen: u32) {
        if self
            .tw
            .get_gen_mut(i, gen)
            .is_some_and(|r| r.close_at == at)
        {
            self.end_time_wait_record(i);
        }
    }

    /// TIME-WAIT record `i` ends (2×MSL passed, or a new incarnation takes
    /// its 4-tuple): CLOSED, reported under the connection's handle.
    fn end_time_wait_record(&mut self, i: u32) {
        if let Some(rec) = self.tw.remove(i) {
            let hash = self
                .tuple_hasher
                .hash_one(Tuple::new(rec.local, rec.remote));
            self.table.remove(hash, i | TW);
            let handle = rec.handle;
            if self.cfg.state_events {
                self.events.push_back(TcpEvent::StateChanged {
                    handle,
                    from: State::TimeWait,
                    to: State::Closed,
                });
            }
            self.events.push_back(TcpEvent::Closed(handle));
        }
    }

    fn free_slot(&mut self, idx: u32) {
        self.uncharge(idx);
        let slot = &mut self.slots[idx as usize];
        if let Some(mut c) = slot.conn.take() {
            // Its wheel entry would only fire stale.
            let at = self.wakes[idx as usize].entry;
            if at != Instant::MAX {
                self.timers.remove(Entry {
                    at,
                    idx,
                    gen: slot.gen,
                });
            }
            // Its first buffer allocations, RACK and HyStart++ states serve
            // the next connections.
            c.recycle_boxes(&mut self.pool);
            c.tx.ack(usize::MAX);
            c.tx.shrink_into(&mut self.pool);
            c.rx.consume(usize::MAX);
            c.rx.shrink_into(&mut self.pool);
            slot.gen = slot.gen.wrapping_add(1);
            self.wakes[idx as usize] = Wake::NONE;
            self.free.push(idx);
        }
    }

    // ------------------------------------------------------------------
    // Inbound
    // ------------------------------------------------------------------

    /// Before [`Tcp::handle_segment`] of a segment whose checksum is not yet
    /// verified: when its connection takes the data in order, copies the
    /// data into the receive buffer (not yet readable) and returns its
    /// checksum sum, so the caller verifies the checksum from the copy
    /// (one pass over the data). `None`: nothing copied, sum the data apart.
    /// Handle the same segment next (or call [`Tcp::unstage`] if it fails
    /// the checksum).
    pub fn stage(&mut self, src: Ipv4Addr, dst: Ipv4Addr, seg: &TcpRepr<'_>) -> Option<u16> {
        self.staged = None;
        if seg.payload.is_empty() || seg.flags.syn() || seg.flags.rst() {
            return None;
        }
        let tuple = Tuple::new(
            SocketAddrV4::new(dst, seg.dst_port),
            SocketAddrV4::new(src, seg.src_port),
        );
        // (A TIME-WAIT record's tagged index names no slot: nothing staged.)
        let idx = self.lookup(&tuple)?;
        let conn = self.slots.conn_at_mut(idx)?;
        let sum = conn.stage(seg.seq, seg.payload)?;
        self.staged = Some((idx, seg.payload.len()));
        Some(sum)
    }

    /// Forgets a [`Tcp::stage`] whose segment is not handled (bad checksum):
    /// the copied bytes stay outside the readable data and are overwritten.
    pub fn unstage(&mut self) {
        self.staged = None;
    }

    /// Process one inbound segment. The IP layer has verified the checksum
    /// and that `dst` is one of our addresses. Never panics.
    pub fn handle_segment(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        seg: &TcpRepr<'_>,
    ) {
        self.stats.segments_in += 1;
        self.now = self.now.max(now);
        let staged = self.staged.take();
        let f = seg.flags;
        // Hostile flag combinations: SYN+FIN, SYN+RST, or no control bit
        // at all (null scan) are dropped and counted.
        if (f.syn() && (f.fin() || f.rst())) || (f.0 & 0x17) == 0 {
            self.stats.bad_flags += 1;
            return;
        }
        if seg.src_port == 0 || seg.dst_port == 0 {
            self.stats.bad_flags += 1;
            return;
        }
        let local = SocketAddrV4::new(dst, seg.dst_port);
        let remote = SocketAddrV4::new(src, seg.src_port);
        let tuple = Tuple::new(local, remote);
        // A staged segment's connection was found a moment ago: its slot
        // answers without searching the table again.
        let found = match staged {
            Some((idx, _)) if self.slot_holds(idx, &tuple) => Some(idx),
            _ => self.lookup(&tuple),
        };
        if let Some(i) = found.filter(|i| i & TW != 0) {
            if !self.time_wait_segment(now, i & !TW, dst, seg) {
                return;
            }
        } else if let Some(idx) = found {
            // A TIME-WAIT is only given up for a new incarnation some
            // listener will take; with no listener on the port the SYN is
            // processed in TIME-WAIT (challenge ACK) and the TIME-WAIT kept.
            let reuse = self.slots[idx as usize]
                .conn
                .as_ref()
                .is_some_and(|c| f.syn() && !f.ack() && c.time_wait_reusable(seg))
                && self.is_listening_port(dst, seg.dst_port);
            if reuse {
                // A new incarnation replaces the TIME-WAIT connection
                // (RFC 9293 §3.10.7.4 / RFC 6191).
                self.with_conn(idx, now, |c, ctx| c.set_state(ctx, State::Closed));
                self.finalize(idx);
            } else {
                // Linux-like: the final ACK of a handshake is dropped when
                // the accept queue is full; the SYN-ACK will be resent.
                if let Some(c) = self.slots[idx as usize].conn.as_ref() {
                    if c.state == State::SynReceived && f.ack() && !f.rst() && !f.syn() {
                        if let Some(l) = c.listener {
                            if let Some(Some(li)) = self.listeners.get(l.idx as usize) {
                                if li.gen == l.gen && li.accept_queue.len() >= li.backlog {
                                    self.stats.accept_queue_ack_drops += 1;
                                    return;
                                }
                            }
                        }
                    }
                }
                let staged = match staged {
                    Some((i, n)) if i == idx => n,
                    _ => 0,
                };
                self.with_conn(idx, now, |c, ctx| {
                    ctx.staged = staged;
                    c.on_segment(ctx, seg)
                });
                self.after(idx, now);
                return;
            }
        }
        // No connection: a listener?
        let lidx = self
            .listener_map
            .get(&(dst, seg.dst_port))
            .or_else(|| {
                self.listener_map
                    .get(&(Ipv4Addr::UNSPECIFIED, seg.dst_port))
            })
            .copied();
        match lidx {
            Some(li) => self.listen_segment(now, li, local, remote, seg),
            None => self.closed_segment(local, remote, seg),
        }
    }

    /// RFC 9293 §3.10.7.1: segment for a CLOSED (nonexistent) connection.
    fn closed_segment(&mut self, local: SocketAddrV4, remote: SocketAddrV4, seg: &TcpRepr<'_>) {
        self.stats.no_socket += 1;
        // "An incoming segment containing a RST is discarded."
        if seg.flags.rst() {
            return;
        }
        let (seq, ack) = if seg.flags.ack() {
            // <SEQ=SEG.ACK><CTL=RST>
            (seg.ack, None)
        } else {
            // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
            let len =
                seg.payload.len() as u32 + u32::from(seg.flags.syn()) + u32::from(seg.flags.fin());
            (0, Some(seg.seq.wrapping_add(len)))
        };
        self.queue_rst(local, remote, seq, ack);
    }

    fn queue_rst(&mut self, local: SocketAddrV4, remote: SocketAddrV4, seq: u32, ack: Option<u32>) {
        if self.rsts.len() >= self.cfg.rst_queue_limit {
            self.stats.rst_dropped += 1;
            return;
        }
        self.stats.rst_sent += 1;
        self.rsts.push_back(PendingRst {
            local,
            remote,
            seq,
            ack,
            ts: None,
        });
    }

    /// RFC 9293 §3.10.7.2: segment arriving at a LISTEN socket.
    fn listen_segment(
        &mut self,
        now: Instant,
        li: u32,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &TcpRepr<'_>,
    ) {
        let f = seg.flags;
        // First: "An incoming RST segment could not be valid ... ignore".
        if f.rst() {
            return;
        }
        // Second: "Any acknowledgment is bad if it arrives on a connection
        // still in the LISTEN state": <SEQ=SEG.ACK><CTL=RST> — unless it
        // returns a SYN cookie we sent (RFC 4987 §3.6).
        if f.ack() {
            if !f.syn() && self.cookie_window_open(now, li) {
                if self.cookie_ack(now, li, local, remote, seg) {
                    return;
                }
                self.stats.syncookies_rejected += 1;
            }
            self.queue_rst(local, remote, seg.ack, None);
            return;
        }
        // Third: SYN.
        if !f.syn() {
            // "Any other control or text-bearing segment ... drop it".
            return;
        }
        if self.mem >= self.cfg.mem.high {
            // TcpMem::high: no new connection until memory is freed (the
            // SYN is dropped; the peer retries).
            self.stats.mem_conn_refusals += 1;
            return;
        }
        // RFC 9293 §3.9.2.3: a SYN from an invalid (broadcast, multicast)
        // source is ignored (MUST-63), one addressed to a broadcast or
        // multicast address silently discarded (MUST-57).
        if remote.ip().is_broadcast()
            || remote.ip().is_multicast()
            || remote.ip().is_unspecified()
            || local.ip().is_broadcast()
            || local.ip().is_multicast()
        {
            self.stats.bad_flags += 1;
            return;
        }
        let Some(Some(l)) = self.listeners.get(li as usize) else {
            return;
        };
        let lh = ListenerHandle {
            idx: li,
            gen: l.gen,
        };
        if l.accept_queue.len() >= l.backlog {
            // Linux: accept queue full → drop the SYN.
            self.stats.listen_overflows += 1;
            return;
        }
        if l.half_open >= l.syn_backlog {
            if let Some(Some(l)) = self.listeners.get_mut(li as usize) {
                l.last_overflow = Some(now);
            }
            // RFC 4987 §3.4 (recycling the oldest half-open TCB): under
            // pressure the oldest entry whose SYN-ACK already went
            // unanswered makes room; a peer that answers within one RTO
            // never loses its entry this way.
            if self.cfg.syn_queue_recycle && self.evict_oldest_half_open(now, li) {
                self.stats.syn_queue_evictions += 1;
            } else if self.cfg.syn_cookies {
                // RFC 4987 §3.6: answer without keeping state.
                self.send_cookie(now, local, remote, seg);
                return;
            } else {
                self.stats.syn_queue_drops += 1;
                return;
            }
        }
        if let Some(Some(l)) = self.listeners.get_mut(li as usize) {
            l.half_open += 1;
        }
        let h = self.new_conn(now, local, remote);
        if let Some(Some(l)) = self.listeners.get_mut(li as usize) {
            // Keep the arrival order; drop entries of connections that
            // left the queue once they outnumber the live ones.
            if l.syn_queue.len() >= 2 * l.syn_backlog + 16 {
                let (slots, lh) = (&self.slots, lh);
                l.syn_queue
                    .retain(|&x| Self::is_half_open_child(slots, x, lh));
            }
            l.syn_queue.push_back(h);
        }
        self.with_conn(h.idx, now, |c, ctx| c.open_passive(ctx, lh, seg));
        // Text or FIN in the SYN is processed once ESTABLISHED; we only keep
        // the SYN (the peer retransmits the rest).
        self.after(h.idx, now);
    }

    /// True when `h` is still a half-open child of listener `lh`.
    fn is_half_open_child(slots: &Slab<Slot>, h: TcpHandle, lh: ListenerHandle) -> bool {
        slots
            .get(h.idx as usize)
            .filter(|s| s.gen == h.gen)
            .and_then(|s| s.conn.as_ref())
            .is_some_and(|c| c.half_open && c.listener == Some(lh))
    }

    /// Drops the listener's oldest half-open connection if its SYN-ACK has
    /// been retransmitted at least once (its peer did not answer within an
    /// RTO: likely a forged source). No RST: a request that never
    /// completed is forgotten silently, as Linux does.
    fn evict_oldest_half_open(&mut self, now: Instant, li: u32) -> bool {
        loop {
            let Some(Some(l)) = self.listeners.get_mut(li as usize) else {
                return false;
            };
            let lh = ListenerHandle {
                idx: li,
                gen: l.gen,
            };
            let Some(&h) = l.syn_queue.front() else {
                return false;
            };
            if !Self::is_half_open_child(&self.slots, h, lh) {
                l.syn_queue.pop_front();
                continue;
            }
            let retried = self.slots[h.idx as usize]
                .conn
                .as_ref()
                .is_some_and(|c| c.retries >= 1);
            if !retried {
                return false;
            }
            l.syn_queue.pop_front();
            self.with_conn(h.idx, now, |c, ctx| c.set_state(ctx, State::Closed));
            self.finalize(h.idx);
            return true;
        }
    }

    /// Whether ACKs to listener `li` are checked as cookies: only while a
    /// cookie sent at its last overflow may still be valid (two periods),
    /// so ordinary stray ACKs cost no hash.
    fn cookie_window_open(&self, now: Instant, li: u32) -> bool {
        if !self.cfg.syn_cookies {
            return false;
        }
        match self.listeners.get(li as usize) {
            Some(Some(l)) => l.last_overflow.is_some_and(|t| {
                now.saturating_duration_since(t)
                    <= Duration::from_secs(2 * super::syncookie::PERIOD_SECS)
            }),
            _ => false,
        }
    }

    /// The window a cookie SYN-ACK offers (unscaled, RFC 7323 §2.2), and
    /// that the connection rebuilt from its ACK starts from.
    fn cookie_window(cfg: &TcpConfig) -> usize {
        cfg.rx_buffer_limit.min(65_535)
    }

    /// Queues a SYN-ACK whose ISN is a SYN cookie for `seg` (RFC 4987
    /// §3.6); no state is kept.
    fn send_cookie(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &TcpRepr<'_>,
    ) {
        if self.cookie_synacks.len() >= COOKIE_QUEUE_LIMIT {
            self.stats.syn_queue_drops += 1;
            return;
        }
        self.stats.syncookies_sent += 1;
        let cfg = &self.cfg;
        // RFC 9293 §3.7.1 MUST-15: 536 without the option.
        let peer_mss = seg.options.mss.unwrap_or(536);
        let (cookie, _) = self.cookies.make(now, local, remote, seg.seq, peer_mss);
        // Window scaling and SACK can only be agreed when the timestamps
        // carry them back (RFC 4987 §3.6 lists their loss as the cost).
        let ts = match seg.options.timestamps {
            Some(t) if cfg.timestamps => {
                self.isn.rekey(now, cfg.isn_key_lifetime);
                let off = self.isn.isn_and_ts_offset(now, local, remote).1;
                // RFC 7323 §5.4: the same 1 ms clock and per-connection
                // offset (§7.1) as the connection rebuilt later will use.
                let tsval = (now.as_millis() as u32).wrapping_add(off);
                let opts = TsOptions {
                    window_scale: seg.options.window_scale.filter(|_| cfg.window_scale),
                    sack: seg.options.sack_permitted && cfg.sack,
                };
                Some((
                    Timestamps {
                        tsval: SynCookies::ts_encode(tsval, opts),
                        tsecr: t.tsval,
                    },
                    opts,
                ))
            }
            _ => None,
        };
        let opts = ts.map(|t| t.1);
        self.cookie_synacks.push_back(CookieSynAck {
            local,
            remote,
            cookie,
            ack: seg.seq.wrapping_add(1),
            mss: cfg.announced_mss(),
            // A SYN-ACK only carries options the SYN offered (RFC 7323
            // §2.2, §3.2; RFC 2018 §2).
            window_scale: opts.and_then(|o| o.window_scale).map(|_| cfg.rcv_wscale()),
            sack: opts.is_some_and(|o| o.sack),
            ts: ts.map(|t| t.0),
        });
    }

    /// An ACK to listener `li` that may return a cookie: checks it (RFC
    /// 4987 §3.6) and, when valid, creates the connection as if its SYN
    /// had been queued and its SYN-ACK sent, then processes the ACK (and
    /// any data) on it. False: not a valid cookie.
    fn cookie_ack(
        &mut self,
        now: Instant,
        li: u32,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &TcpRepr<'_>,
    ) -> bool {
        let peer_isn = seg.seq.wrapping_sub(1);
        let cookie = seg.ack.wrapping_sub(1);
        let Some(mss) = self.cookies.check(now, local, remote, peer_isn, cookie) else {
            return false;
        };
        // The TSecr echoes our SYN-ACK's TSval and its option bits.
        let ts = match seg.options.timestamps {
            Some(t) if self.cfg.timestamps => match SynCookies::ts_decode(t.tsecr) {
                Some(o) => Some((t, o)),
                None => return false,
            },
            _ => None,
        };
        let Some(Some(l)) = self.listeners.get_mut(li as usize) else {
            return false;
        };
        let lh = ListenerHandle {
            idx: li,
            gen: l.gen,
        };
        if l.accept_queue.len() >= l.backlog {
            // Linux: the ACK is dropped; the peer's retransmission (or
            // data) brings the cookie again.
            self.stats.accept_queue_ack_drops += 1;
            return true;
        }
        l.half_open += 1;
        self.stats.syncookies_validated += 1;
        // The SYN as the cookie remembers it.
        let syn = TcpRepr {
            src_port: seg.src_port,
            dst_port: seg.dst_port,
            seq: peer_isn,
            ack: 0,
            flags: TcpFlags::SYN,
            window: seg.window,
            urgent: 0,
            options: TcpOptions {
                mss: Some(mss),
                window_scale: ts.and_then(|(_, o)| o.window_scale),
                sack_permitted: ts.is_some_and(|(_, o)| o.sack),
                timestamps: ts.map(|(t, _)| Timestamps {
                    tsval: t.tsval,
                    tsecr: 0,
                }),
                ..TcpOptions::default()
            },
            payload: &[],
        };
        let h = self.new_conn_with_iss(now, local, remote, Some(cookie));
        let window = Self::cookie_window(&self.cfg);
        self.with_conn(h.idx, now, |c, ctx| {
            c.open_passive(ctx, lh, &syn);
            // Our SYN-ACK (the cookie) is already out: SND.NXT is past our
            // SYN, and the peer may fill the window that SYN-ACK offered
            // (RCV.NXT + RCV.WND, RFC 9293 §3.3.1).
            c.snd_nxt = c.iss + 1;
            c.snd_max = c.snd_nxt;
            c.last_ack_sent = c.rcv_nxt;
            c.rcv_adv = c.rcv_nxt + window;
            c.on_segment(ctx, seg);
        });
        self.after(h.idx, now);
        true
    }

    /// An ICMP (or ARP) error for the connection `local` → `remote`.
    /// Net/host unreachable and administratively prohibited are soft
    /// errors (RFC 9293 §3.9.2.2 MUST-56: not a reason to abort); they are
    /// reported if the connection later times out. Port/protocol
    /// unreachable abort a connection still in SYN-SENT (refused);
    /// fragmentation-needed lowers the MSS (RFC 1191).
    ///
    /// Prefer [`Tcp::handle_icmp_error_quoting`] when the ICMP message
    /// quotes the segment's sequence number (it always does over IPv4):
    /// this form cannot check it.
    pub fn handle_icmp_error(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        err: IcmpError,
    ) {
        self.icmp_error(now, local, remote, None, err);
    }

    /// [`Tcp::handle_icmp_error`] for an ICMP message that quotes the
    /// sequence number `seq` of the segment it is about: it is acted on
    /// only when `seq` lies in SND.UNA..SND.MAX of the connection (RFC 5927
    /// §4.1), so an off-path attacker must guess a live sequence number to
    /// lower the path MTU or report an error.
    pub fn handle_icmp_error_quoting(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seq: u32,
        err: IcmpError,
    ) {
        self.icmp_error(now, local, remote, Some(seq), err);
    }

    fn icmp_error(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seq: Option<u32>,
        err: IcmpError,
    ) {
        // MUST-54: act on ICMP errors, directed at their connection.
        let Some(idx) = self.lookup(&Tuple::new(local, remote)) else {
            return;
        };
        if idx & TW != 0 {
            // TIME-WAIT: nothing in flight that an error could be about.
            if seq.is_some() {
                self.stats.icmp_out_of_window += 1;
            }
            return;
        }
        if let Some(seq) = seq {
            let ok = self.slots[idx as usize]
                .conn
                .as_ref()
                .is_some_and(|c| c.icmp_seq_ok(seq));
            if !ok {
                // RFC 5927 §4.1: not about anything in flight — ignore.
                self.stats.icmp_out_of_window += 1;
                return;
            }
        }
        self.with_conn(idx, now, |c, ctx| match err {
            // RFC 9293 §3.7.3 SHLD-6: the send MSS follows the path MTU.
            IcmpError::FragmentationNeeded { mtu } => c.on_pmtu(now, mtu),
            IcmpError::PortUnreachable | IcmpError::ProtocolUnreachable => {
                // Hard errors (SHLD-26) abort a connection still opening;
                // once synchronized they are ignored, as RFC 5927 §4.1
                // advises against blind connection-reset attacks.
                if c.state == State::SynSent {
                    c.fail(ctx, TcpError::Refused);
                }
            }
            IcmpError::NetUnreachable | IcmpError::HostUnreachable | IcmpError::AdminProhibited => {
                let e = if err == IcmpError::NetUnreachable {
                    TcpError::NetUnreachable
                } else {
                    TcpError::HostUnreachable
                };
                // MUST-56: a soft error never aborts; it is kept for the
                // application (MUST-47, SHLD-25: [`Tcp::soft_error`]) and
                // reported if the connection later times out.
                c.soft_error = Some(e);
            }
        });
        self.after(idx, now);
    }

    // ------------------------------------------------------------------
    // Timers
    // ------------------------------------------------------------------

    /// When [`Tcp::handle_timeout`] should next be called (may be early;
    /// never late). O(1).
    #[inline]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.timers.next(), self.tw.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        while let Some(Entry { at: t, idx, gen }) = self.timers.pop_due(now) {
            if idx & TW != 0 {
                self.time_wait_due(t, idx & !TW, gen);
                continue;
            }
            // Stale unless it is the slot's live entry (a freed slot has
            // none; an entry of an older connection in the slot that
            // happens to match is due for the current one too).
            let Some(w) = self.wakes.get_mut(idx as usize) else {
                continue;
            };
            if w.entry != t {
                continue;
            }
            w.entry = Instant::MAX;
            if w.want > now {
                // Early: the deadline moved later since this entry was made
                // (e.g. a delayed ACK went out with data). Nothing is due,
                // so the connection is not touched; wake it when it wants.
                if w.want != Instant::MAX {
                    w.entry = w.want;
                    self.timers.insert(Entry {
                        at: w.want,
                        idx,
                        gen,
                    });
                }
                continue;
            }
            // RFC 9293 §3.8.3 MUST-20: when a segment (a SYN too, MUST-22)
            // has been retransmitted R1 times, IP gets negative advice
            // (RFC 1122 §3.3.1.4): the neighbour or route may be dead. Not
            // for a half-open passive connection: a SYN flood would turn
            // every forged SYN into ARP traffic (Linux gives request
            // sockets no advice either).
            if self.mem >= self.cfg.mem.high {
                // Out of TCP memory: an orphan still holding data is reset
                // when its timer fires instead of retrying (Linux
                // tcp_out_of_resources); nobody waits for its data.
                let reset = self.with_conn(idx, now, |c, ctx| {
                    let hit = c.orphan && !c.tx.is_empty() && c.state != State::Closed;
                    if hit {
                        c.abort(ctx);
                    }
                    hit
                });
                if reset == Some(true) {
                    self.stats.mem_orphan_resets += 1;
                    self.after(idx, now);
                    continue;
                }
            }
            let r1 = self.cfg.r1_retries;
            let advice = self.with_conn(idx, now, |c, ctx| {
                let before = c.retries;
                c.on_timeout(ctx);
                let crossed = before < r1 && c.retries >= r1 && c.listener.is_none();
                crossed.then(|| (*c.local.ip(), *c.remote.ip()))
            });
            if let Some(Some(a)) = advice {
                self.stats.negative_advice += 1;
                self.advice.push_back(a);
            }
            self.after(idx, now);
        }
        while let Some((at, i, gen)) = self.tw.pop_due(now) {
            self.time_wait_due(at, i, gen);
        }
        // Give back memory after a burst (e.g. a SYN storm) so idle
        // connections stay cheap.
        self.timers.shrink();
        shrink_idle(&mut self.dirty);
    }

    // ------------------------------------------------------------------
    // Outbound
    // ------------------------------------------------------------------

    /// The next segment to send, if any: `f` receives (source IP,
    /// destination IP, segment) and typically emits it straight into the
    /// device buffer; its result is returned. Call until `None` after every
    /// handler and mutator. Includes RSTs for segments to no socket.
    pub fn poll_transmit<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(Ipv4Addr, Ipv4Addr, &TcpRepr<'_>) -> R,
    ) -> Option<R> {
        self.poll_transmit_with_dscp(now, |src, dst, _, seg| f(src, dst, seg))
    }

    /// [`Tcp::poll_transmit`] that also hands `f` the Diffserv codepoint
    /// the segment's IP header must carry (RFC 9293 §3.9.1.9 MUST-48:
    /// the connection's, [`Tcp::set_dscp`]; 0 for RSTs to no socket).
    pub fn poll_transmit_with_dscp<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(Ipv4Addr, Ipv4Addr, u8, &TcpRepr<'_>) -> R,
    ) -> Option<R> {
        self.poll_transmit_offload(now, |src, dst, dscp, _, seg| f(src, dst, dscp, seg))
    }

    /// Lets data segments carry up to `max_payload` bytes for a device that
    /// cuts them into MSS-sized segments itself (TSO/GSO; the stack sets
    /// it from [`crate::phy::DeviceCaps`]). 0 (the default) keeps every
    /// segment within the MSS.
    pub fn set_segment_offload(&mut self, max_payload: usize) {
        self.burst = max_payload;
    }

    /// The largest payload of one segment, as set by
    /// [`Tcp::set_segment_offload`] (0: the MSS).
    pub fn segment_offload(&self) -> usize {
        self.burst
    }

    /// [`Tcp::poll_transmit_with_dscp`] that also hands `f` the segment
    /// size to cut the segment at when its payload exceeds it (the MSS of
    /// its connection, with its options; 0 for segments that are never cut:
    /// RSTs and SYN-ACKs of cookies). Only a stack that called
    /// [`Tcp::set_segment_offload`] gets segments longer than that.
    pub fn poll_transmit_offload<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(Ipv4Addr, Ipv4Addr, u8, usize, &TcpRepr<'_>) -> R,
    ) -> Option<R> {
        // A burst of one: `f` runs at most once, and stopping after it
        // leaves the engine exactly where one segment more would start.
        let mut f = Some(f);
        let mut out = None;
        self.poll_transmit_burst(now, |src, dst, dscp, gso, seg| {
            if let Some(f) = f.take() {
                out = Some(f(src, dst, dscp, gso, seg));
            }
            false
        });
        out
    }

    /// [`Tcp::poll_transmit_offload`] for several segments in one call:
    /// `f` gets them one after another, in the order that many calls of
    /// `poll_transmit_offload` would give them, and returns whether it
    /// takes another (`false`: stop after this one). Returns how many
    /// segments `f` got.
    ///
    /// The work around a segment is done once per run of segments of the
    /// same connection, not once per segment: the transmit queue is
    /// consulted and the connection found once, and its timers go onto
    /// the wheel once, after its last segment of the run. A run ends when
    /// the connection has nothing more to send now, when another
    /// connection waits in the queue (round robin: it goes first, as it
    /// would with single polls), or when `f` says stop.
    pub fn poll_transmit_burst(
        &mut self,
        now: Instant,
        mut f: impl FnMut(Ipv4Addr, Ipv4Addr, u8, usize, &TcpRepr<'_>) -> bool,
    ) -> usize {
        self.now = self.now.max(now);
        let mut n = 0;
        while let Some(r) = self.rsts.pop_front() {
            self.stats.segments_out += 1;
            let mut flags = TcpFlags::RST;
            if r.ack.is_some() {
                flags |= TcpFlags::ACK;
            }
            let repr = TcpRepr {
                src_port: r.local.port(),
                dst_port: r.remote.port(),
                seq: r.seq,
                ack: r.ack.unwrap_or(0),
                flags,
                window: 0,
                urgent: 0,
                options: TcpOptions {
                    timestamps: r.ts,
                    ..TcpOptions::default()
                },
                payload: &[],
            };
            n += 1;
            if !f(*r.local.ip(), *r.remote.ip(), 0, 0, &repr) {
                return n;
            }
        }
        while let Some(c) = self.cookie_synacks.pop_front() {
            self.stats.segments_out += 1;
            let mut flags = TcpFlags::SYN;
            flags |= TcpFlags::ACK;
            let repr = TcpRepr {
                src_port: c.local.port(),
                dst_port: c.remote.port(),
                seq: c.cookie,
                ack: c.ack,
                flags,
                // The window of a SYN-ACK is never scaled (RFC 7323 §2.2).
                window: Self::cookie_window(&self.cfg) as u16,
                urgent: 0,
                options: TcpOptions {
                    mss: Some(c.mss),
                    window_scale: c.window_scale,
                    sack_permitted: c.sack,
                    timestamps: c.ts,
                    ..TcpOptions::default()
                },
                payload: &[],
            };
            n += 1;
            if !f(*c.local.ip(), *c.remote.ip(), 0, 0, &repr) {
                return n;
            }
        }
        while self.tw.has_acks() {
            let Some((r, seg)) = self.tw.poll_ack(now, &mut self.stats) else {
                break;
            };
            n += 1;
            if !f(*r.local.ip(), *r.remote.ip(), r.dscp, 0, &seg) {
                return n;
            }
        }
        if self.dirty.is_empty() {
            shrink_idle(&mut self.dirty);
            shrink_idle(&mut self.rsts);
            shrink_idle(&mut self.cookie_synacks);
        }
        while let Some(idx) = self.dirty.pop_front() {
            // The run, with the engine's fields borrowed apart; then the
            // wheel, with the engine whole again.
            let Tcp {
                cfg,
                slots,
                dirty,
                stats,
                scratch,
                burst,
                pool,
                ..
            } = &mut *self;
            let Some(Slot {
                gen,
                conn: Some(conn),
            }) = slots.get_mut(idx as usize)
            else {
                continue;
            };
            conn.in_dirty = false;
            let mut go_on = true;
            let mut sent = false;
            while go_on {
                let Some(seg) = conn.next_segment(cfg, now, stats, *burst, pool) else {
                    break;
                };
                sent = true;
                // RFC 9293 §3.8.5: URG and the urgent pointer while SND.UP
                // is ahead of this segment.
                let (flags, urgent) = conn.urgent_field(seg.seq, seg.flags);
                let (a, b) = conn.tx.get(seg.data_off, seg.data_len);
                let payload: &[u8] = if b.is_empty() {
                    a
                } else {
                    // The segment wraps the ring: copy once into scratch.
                    scratch.clear();
                    scratch.extend_from_slice(a);
                    scratch.extend_from_slice(b);
                    scratch
                };
                let repr = TcpRepr {
                    src_port: conn.local.port(),
                    dst_port: conn.remote.port(),
                    seq: seg.seq.0,
                    ack: seg.ack,
                    flags,
                    window: seg.window,
                    urgent,
                    options: seg.options,
                    payload,
                };
                let gso = conn.data_mss(&seg.options);
                n += 1;
                go_on = f(*conn.local.ip(), *conn.remote.ip(), conn.dscp, gso, &repr);
                if !conn.wants_send() {
                    break;
                }
                if !go_on || !dirty.is_empty() {
                    // More to send, but the caller stopped or another
                    // connection's turn comes first: to the back of the
                    // queue (round robin).
                    conn.in_dirty = true;
                    dirty.push_back(idx);
                    break;
                }
            }
            if sent {
                // The wheel in step with the run's last segment (it may
                // have armed RTO or the probe timeout).
                let (gen, d) = (*gen, conn.next_deadline());
                self.schedule_gen(idx, gen, d);
            }
            if !go_on {
                break;
            }
        }
        n
    }

    /// Negative advice for the IP layer (RFC 9293 §3.8.3 MUST-20, RFC 1122
    /// §3.3.1.4): `(local, remote)` of a connection whose segment has been
    /// retransmitted R1 ([`TcpConfig::r1_retries`]) times. The IP layer
    /// should re-confirm the next hop and drop any cached route; the
    /// [`Stack`](crate::stack::Stack) does. Call after `handle_timeout`.
    pub fn poll_negative_advice(&mut self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        self.advice.pop_front()
    }

    /// True when [`Tcp::poll_event`] has an event to give.
    #[inline]
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<TcpEvent> {
        let e = self.events.pop_front();
        if self.events.is_empty() {
            // The last one: memory a burst left goes back now (callers
            // may skip the empty poll, see `has_events`).
            shrink_idle(&mut self.events);
        }
        e
    }

    // ------------------------------------------------------------------
    // Application calls
    // ------------------------------------------------------------------

    /// Listen on `local` (address may be `0.0.0.0` for all) with an accept
    /// queue of `backlog` established connections. Half-open connections
    /// are bounded separately by [`TcpConfig::syn_backlog`].
    pub fn listen(
        &mut self,
        local: SocketAddrV4,
        backlog: usize,
    ) -> Result<ListenerHandle, TcpError> {
        if local.port() == 0 {
            return Err(TcpError::InvalidAddress);
        }
        // RFC 9293 §3.9.1.1: a passive OPEN creates a listener or fails;
        // it never touches an existing connection (MUST-41), and only other
        // listeners clash, so a port whose connection is in SYN-SENT or
        // SYN-RECEIVED can be listened on (MUST-42).
        let key = (*local.ip(), local.port());
        let clash = self.listener_map.contains_key(&key)
            || (local.ip().is_unspecified()
                && self
                    .listeners
                    .iter()
                    .flatten()
                    .any(|l| l.local.port() == local.port()))
            || self
                .listener_map
                .contains_key(&(Ipv4Addr::UNSPECIFIED, local.port()));
        if clash {
            return Err(TcpError::AddrInUse);
        }
        self.listener_gen = self.listener_gen.wrapping_add(1);
        let l = Listener {
            gen: self.listener_gen,
            local,
            backlog: backlog.max(1),
            syn_backlog: self.cfg.syn_backlog.max(1),
            accept_queue: VecDeque::new(),
            half_open: 0,
            syn_queue: VecDeque::new(),
            last_overflow: None,
        };
        let idx = match self.listeners.iter().position(Option::is_none) {
            Some(i) => {
                self.listeners[i] = Some(l);
                i
            }
            None => {
                self.listeners.push(Some(l));
                self.listeners.len() - 1
            }
        };
        self.listener_map.insert(key, idx as u32);
        Ok(ListenerHandle {
            idx: idx as u32,
            gen: self.listener_gen,
        })
    }

    /// Sets how many half-open (SYN-RECEIVED) connections the listener
    /// keeps at once (at least 1); beyond it a SYN replaces the oldest
    /// entry whose SYN-ACK went unanswered, or gets a SYN cookie
    /// ([`TcpConfig::syn_cookies`]), or is dropped and counted in
    /// [`TcpStats::syn_queue_drops`]. Also sets the accept queue's length
    /// with `backlog` when given.
    pub fn set_listen_queues(
        &mut self,
        l: ListenerHandle,
        backlog: Option<usize>,
        syn_backlog: usize,
    ) -> Result<(), TcpError> {
        match self.listeners.get_mut(l.idx as usize) {
            Some(Some(li)) if li.gen == l.gen => {
                li.syn_backlog = syn_backlog.max(1);
                if let Some(b) = backlog {
                    li.backlog = b.max(1);
                }
                Ok(())
            }
            _ => Err(TcpError::InvalidHandle),
        }
    }

    /// Take the oldest established connection from the accept queue.
    /// [`TcpError::WouldBlock`] when it is empty.
    pub fn accept(&mut self, l: ListenerHandle) -> Result<TcpHandle, TcpError> {
        let li = match self.listeners.get_mut(l.idx as usize) {
            Some(Some(li)) if li.gen == l.gen => li,
            _ => return Err(TcpError::InvalidHandle),
        };
        let h = li.accept_queue.pop_front().ok_or(TcpError::WouldBlock)?;
        let c = self.slots[h.idx as usize]
            .conn
            .as_mut()
            .ok_or(TcpError::InvalidHandle)?;
        c.in_accept_queue = false;
        c.listener = None;
        c.owned = true;
        Ok(h)
    }

    /// Stop listening. Connections still in the accept queue or half-open
    /// are aborted (RST), as when a Linux listening socket is closed.
    pub fn close_listener(&mut self, now: Instant, l: ListenerHandle) -> Result<(), TcpError> {
        let li = match self.listeners.get_mut(l.idx as usize) {
            Some(Some(li)) if li.gen == l.gen => li,
            _ => return Err(TcpError::InvalidHandle),
        };
        let local = li.local;
        self.listeners[l.idx as usize] = None;
        self.listener_map.remove(&(*local.ip(), local.port()));
        // Abort its children (found through their slots; slot order is
        // deterministic).
        let children: Vec<u32> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.conn
                    .as_ref()
                    .filter(|c| c.listener == Some(l))
                    .map(|_| i as u32)
            })
            .collect();
        for idx in children {
            self.with_conn(idx, now, |c, ctx| c.abort(ctx));
            self.after(idx, now);
        }
        Ok(())
    }

    /// Active open from `local` to `remote` (RFC 9293 §3.10.1). With port 0
    /// in `local`, an ephemeral port is chosen. The SYN leaves on the next
    /// [`Tcp::poll_transmit`]; [`TcpEvent::Connected`] reports success.
    pub fn connect(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Result<TcpHandle, TcpError> {
        Self::check_open(local, remote)?;
        let local = if local.port() == 0 {
            SocketAddrV4::new(*local.ip(), self.pick_ephemeral(*local.ip(), remote)?)
        } else {
            local
        };
        if !self.is_tuple_free(local, remote) {
            return Err(TcpError::AddrInUse);
        }
        self.connect_on_free_tuple(now, local, remote)
    }

    /// [`Tcp::connect`] on a 4-tuple the caller has just found free: the
    /// stack picks ephemeral ports with exactly that check (RFC 6056
    /// §3.3.1), so the table is not searched a second time.
    pub(crate) fn connect_on_free_tuple(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Result<TcpHandle, TcpError> {
        self.now = self.now.max(now);
        Self::check_open(local, remote)?;
        debug_assert!(local.port() != 0 && self.is_tuple_free(local, remote));
        if self.mem >= self.cfg.mem.high {
            self.stats.mem_conn_refusals += 1;
            return Err(TcpError::NoBufferSpace);
        }
        Ok(self.open_active(now, local, remote))
    }

    /// The addresses an active OPEN may use.
    fn check_open(local: SocketAddrV4, remote: SocketAddrV4) -> Result<(), TcpError> {
        // MUST-46: an OPEN to a broadcast or multicast address is an error.
        if remote.port() == 0
            || remote.ip().is_unspecified()
            || remote.ip().is_broadcast()
            || remote.ip().is_multicast()
            || local.ip().is_unspecified()
        {
            return Err(TcpError::InvalidAddress);
        }
        Ok(())
    }

    fn open_active(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> TcpHandle {
        let h = self.new_conn(now, local, remote);
        self.with_conn(h.idx, now, |c, ctx| c.open_active(ctx));
        self.after(h.idx, now);
        h
    }

    fn pick_ephemeral(&mut self, ip: Ipv4Addr, remote: SocketAddrV4) -> Result<u16, TcpError> {
        let span = u32::from(u16::MAX - EPHEMERAL_LO) + 1;
        for _ in 0..span {
            let p = self.ephemeral_next;
            self.ephemeral_next = if p == u16::MAX { EPHEMERAL_LO } else { p + 1 };
            if !self.is_listening_port(ip, p)
                && self.is_tuple_free(SocketAddrV4::new(ip, p), remote)
            {
                return Ok(p);
            }
        }
        Err(TcpError::NoFreePort)
    }

    /// True when no connection (in any state, TIME-WAIT included) uses
    /// this 4-tuple — for ephemeral port choice.
    pub fn is_tuple_free(&self, local: SocketAddrV4, remote: SocketAddrV4) -> bool {
        self.lookup(&Tuple::new(local, remote)).is_none()
    }

    /// True when a listener accepts on `port` at `ip` (or at every
    /// address). With [`Tcp::is_tuple_free`] this is RFC 6056 §3.3.1's
    /// `check_suitable_port()` for an active open: the 4-tuple must be
    /// unique and the port not taken by a LISTEN socket. Ports that other
    /// connections use towards other peers (TIME-WAIT included) stay
    /// available, as on Linux.
    pub fn is_listening_port(&self, ip: Ipv4Addr, port: u16) -> bool {
        self.listener_map.contains_key(&(ip, port))
            || self
                .listener_map
                .contains_key(&(Ipv4Addr::UNSPECIFIED, port))
    }

    /// Queue bytes for sending; returns how many were taken (up to the
    /// send buffer limit). [`TcpError::WouldBlock`] when the buffer is
    /// full ([`TcpEvent::Writable`] follows when space opens). When only
    /// part was taken, the rest is taken to follow, as with
    /// [`Tcp::send_more`].
    pub fn send(&mut self, h: TcpHandle, data: &[u8]) -> Result<usize, TcpError> {
        let n = self.send_budgeted(h, data)?;
        let conn = self.conn_mut(h)?;
        // A plain write ends a "more data follows" run (see `send_more`),
        // unless the buffer took only part of it: then the application
        // has more to give as soon as there is room, and the partial
        // segment at the end of what was taken waits for it instead of
        // leaving alone (it would hold the rest, by Minshall's rule,
        // until the peer's possibly delayed ACK).
        conn.more = n < data.len();
        self.after(h.idx, self.now);
        Ok(n)
    }

    /// Queue bytes like [`Tcp::send`], saying that more data follows
    /// (Linux `MSG_MORE`): a final partial segment waits for the next
    /// write instead of leaving alone, so a reply written as header then
    /// body still leaves in full-sized segments. The next plain
    /// [`Tcp::send`] (or a close, or [`Tcp::set_cork`]`(false)`) releases
    /// it; if none comes, it leaves after one retransmission timeout.
    pub fn send_more(&mut self, h: TcpHandle, data: &[u8]) -> Result<usize, TcpError> {
        let n = self.send_budgeted(h, data)?;
        let conn = self.conn_mut(h)?;
        conn.more = true;
        self.after(h.idx, self.now);
        Ok(n)
    }

    /// SEND with the urgent flag (RFC 9293 §3.8.5, RFC 6093): queue `data`
    /// like [`Tcp::send`] and mark its end as the urgent pointer. The bytes
    /// travel inline, in order; segments carry URG and the pointer until
    /// the peer has acknowledged them, and they go out without waiting for
    /// Nagle. (SHLD-13: new applications should not use urgent data; it
    /// exists for protocols such as Telnet and FTP that do.)
    pub fn send_urgent(&mut self, h: TcpHandle, data: &[u8]) -> Result<usize, TcpError> {
        let room = self.mem_room();
        let (conn, pool) = self.conn_and_pool(h)?;
        let n = conn.send_urgent(data, room, pool)?;
        self.after(h.idx, self.now);
        Ok(n)
    }

    /// The connection's SEND within the memory budget: a write the budget
    /// cuts short (the buffer limit would have taken more) is counted and
    /// the writer is woken once memory is below the hard limit again.
    fn send_budgeted(&mut self, h: TcpHandle, data: &[u8]) -> Result<usize, TcpError> {
        let room = self.mem_room();
        let (conn, pool) = self.conn_and_pool(h)?;
        let armed = conn.writable_armed;
        let r = conn.send(data, room, pool);
        let short = match r {
            Ok(n) => n < data.len(),
            Err(e) => e == TcpError::WouldBlock,
        };
        if short && conn.tx.free() > 0 && !data.is_empty() && !armed {
            self.stats.mem_send_refusals += 1;
            self.mem_blocked.push_back(h);
        }
        r
    }

    /// How many bytes of the stream, from the read position, are urgent
    /// (RFC 9293 §3.8.5 MUST-33): `Some(n)` when the peer's urgent mark
    /// lies `n` bytes ahead of what [`Tcp::recv`] returns next (it may lie
    /// beyond what has arrived), `None` when no urgent data is pending.
    /// [`TcpEvent::Urgent`] says when this changes.
    pub fn urgent_pending(&self, h: TcpHandle) -> Result<Option<usize>, TcpError> {
        Ok(self.conn(h)?.urgent_pending())
    }

    /// Read received bytes in order. `Ok(0)` means the peer closed (end of
    /// stream); [`TcpError::WouldBlock`] that nothing is there yet
    /// ([`TcpEvent::Readable`] follows).
    pub fn recv(&mut self, h: TcpHandle, buf: &mut [u8]) -> Result<usize, TcpError> {
        let (c, pool) = self.conn_and_pool(h)?;
        let n = c.recv(buf, pool)?;
        if n > 0 {
            c.urgent_read();
            self.after(h.idx, self.now);
        }
        Ok(n)
    }

    /// Read in place (no copy): `f` gets the next contiguous readable bytes
    /// and returns `(consumed, result)`; an empty slice means end of stream.
    /// `WouldBlock` when nothing is readable yet.
    pub fn recv_with<R>(
        &mut self,
        h: TcpHandle,
        f: impl FnOnce(&[u8]) -> (usize, R),
    ) -> Result<R, TcpError> {
        let (c, pool) = self.conn_and_pool(h)?;
        let before = c.rx.len();
        let r = c.recv_with(f, pool)?;
        if c.rx.len() != before {
            c.urgent_read();
            self.after(h.idx, self.now);
        }
        Ok(r)
    }

    /// Readable bytes waiting in the receive buffer.
    pub fn recv_queue(&self, h: TcpHandle) -> Result<usize, TcpError> {
        Ok(self.conn(h)?.rx.len())
    }

    /// Bytes in the send buffer (unsent or unacknowledged).
    pub fn send_queue(&self, h: TcpHandle) -> Result<usize, TcpError> {
        Ok(self.conn(h)?.tx.len())
    }

    /// Sets the receive and/or send buffer limit of one connection
    /// (SO_RCVBUF / SO_SNDBUF; `None` leaves one as it is), clamped to
    /// [`MIN_BUFFER_LIMIT`](super::MIN_BUFFER_LIMIT)..=
    /// [`MAX_BUFFER_LIMIT`](super::MAX_BUFFER_LIMIT). The receive limit is
    /// the window we offer: set before the SYN goes out, it also picks the
    /// window scale (RFC 7323 §2.3); later it never takes back window
    /// already advertised (RFC 9293 §3.8.6 SHLD-14). A smaller send limit
    /// keeps the bytes already queued.
    pub fn set_buffer_limits(
        &mut self,
        h: TcpHandle,
        rx: Option<usize>,
        tx: Option<usize>,
    ) -> Result<(), TcpError> {
        let clamp = |n: usize| n.clamp(super::MIN_BUFFER_LIMIT, super::MAX_BUFFER_LIMIT);
        let c = self.conn_mut(h)?;
        if let Some(n) = rx {
            c.set_rx_limit(clamp(n));
        }
        if let Some(n) = tx {
            c.set_tx_limit(clamp(n));
        }
        self.mark_dirty(h.idx);
        Ok(())
    }

    /// The (receive, send) buffer limits of one connection, as set: a
    /// lowered receive limit is reported at once, though it takes effect
    /// only as the window already advertised is used up.
    pub fn buffer_limits(&self, h: TcpHandle) -> Result<(usize, usize), TcpError> {
        let c = self.conn(h)?;
        let rx = c.rare.as_deref().and_then(|r| r.rx_target);
        Ok((rx.unwrap_or(c.rx.limit()), c.tx.limit()))
    }

    /// Room left in the send buffer.
    pub fn send_capacity(&self, h: TcpHandle) -> Result<usize, TcpError> {
        Ok(self.conn(h)?.tx.free())
    }

    fn mark_dirty(&mut self, idx: u32) {
        if let Some(c) = self.slots.conn_at_mut(idx) {
            if !c.in_dirty && c.wants_send() {
                c.in_dirty = true;
                self.dirty.push_back(idx);
            }
        }
    }

    /// Close the sending direction (half-close): a FIN follows the queued
    /// data; reading continues until the peer's FIN.
    pub fn shutdown_write(&mut self, now: Instant, h: TcpHandle) -> Result<(), TcpError> {
        self.conn(h)?;
        let r = self
            .with_conn(h.idx, now, |c, ctx| c.shutdown_write(ctx))
            .ok_or(TcpError::InvalidHandle)?;
        self.after(h.idx, now);
        r.map(|_| ())
    }

    /// Close the connection and release the handle (RFC 9293 §3.10.4).
    /// Queued data is still delivered, then FIN; the connection finishes
    /// (FIN-WAIT, TIME-WAIT) on its own. If received data was left unread,
    /// the connection is reset instead (RFC 2525 §2.17, as Linux does).
    pub fn close(&mut self, now: Instant, h: TcpHandle) -> Result<(), TcpError> {
        self.now = self.now.max(now);
        let c = self.conn(h)?;
        if c.state == State::Closed {
            self.free_slot(h.idx);
            return Ok(());
        }
        if !c.rx.is_empty() {
            return self.abort(now, h);
        }
        if self.orphans >= self.cfg.max_orphans {
            // Too many orphans (Linux "too many orphaned sockets"): reset
            // this one rather than let closed connections pile up.
            self.stats.orphans_reset += 1;
            return self.abort(now, h);
        }
        self.with_conn(h.idx, now, |c, ctx| c.release(ctx));
        if let Some(c) = self.slots.conn_at_mut(h.idx) {
            if !matches!(c.state, State::Closed | State::TimeWait) {
                c.orphan = true;
                self.orphans += 1;
            }
        }
        self.after(h.idx, now);
        Ok(())
    }

    /// Abort: send RST if synchronized, drop everything, release the
    /// handle (RFC 9293 §3.10.5).
    pub fn abort(&mut self, now: Instant, h: TcpHandle) -> Result<(), TcpError> {
        self.conn(h)?;
        self.with_conn(h.idx, now, |c, ctx| {
            c.released = true;
            if c.state != State::Closed {
                c.abort(ctx);
            }
        });
        self.finalize(h.idx);
        self.free_slot(h.idx);
        Ok(())
    }

    /// The RFC 9293 state ([`State::Closed`] for unknown handles).
    pub fn state(&self, h: TcpHandle) -> State {
        self.conn(h).map_or(State::Closed, |c| c.state)
    }

    /// The last soft error (ICMP unreachable) reported for the connection,
    /// if any (RFC 9293 §3.9.1.8 MUST-47).
    pub fn soft_error(&self, h: TcpHandle) -> Option<TcpError> {
        self.conn(h).ok().and_then(|c| c.soft_error)
    }

    /// Why the connection failed, if it did.
    pub fn error(&self, h: TcpHandle) -> Option<TcpError> {
        self.conn(h).ok().and_then(|c| c.error)
    }

    /// Local address of a connection.
    pub fn local_addr(&self, h: TcpHandle) -> Result<SocketAddrV4, TcpError> {
        Ok(self.conn(h)?.local)
    }

    /// Remote address of a connection.
    pub fn remote_addr(&self, h: TcpHandle) -> Result<SocketAddrV4, TcpError> {
        Ok(self.conn(h)?.remote)
    }

    /// Turn Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&mut self, h: TcpHandle, nodelay: bool) -> Result<(), TcpError> {
        self.conn_mut(h)?.nodelay = nodelay;
        self.mark_dirty(h.idx);
        Ok(())
    }

    /// Cork (`true`) or uncork one connection (Linux `TCP_CORK`): while
    /// corked, only full-sized segments leave, so that pieces written one
    /// after another (a header, then a body) are coalesced. Uncorking
    /// sends what waits at once (Nagle permitting, or regardless with
    /// nodelay). A corked partial segment leaves after one retransmission
    /// timeout at the latest (Linux: 200 ms), and a close sends it with
    /// the FIN.
    pub fn set_cork(&mut self, h: TcpHandle, cork: bool) -> Result<(), TcpError> {
        let conn = self.conn_mut(h)?;
        conn.cork = cork;
        if !cork {
            conn.more = false;
        }
        self.after(h.idx, self.now);
        Ok(())
    }

    /// Whether the connection is corked ([`Tcp::set_cork`]).
    pub fn cork(&self, h: TcpHandle) -> Result<bool, TcpError> {
        Ok(self.conn(h)?.cork)
    }

    /// Chooses the congestion-control algorithm of one connection (Linux's
    /// `TCP_CONGESTION`). Before the handshake completes it applies from
    /// the start; later the window and ssthresh carry over and CUBIC
    /// begins a new epoch.
    pub fn set_congestion_control(
        &mut self,
        h: TcpHandle,
        algorithm: super::congestion::Algorithm,
    ) -> Result<(), TcpError> {
        self.conn_mut(h)?.cc.set_algorithm(algorithm);
        Ok(())
    }

    /// Turns HyStart++ (RFC 9406) and congestion window validation (RFC
    /// 7661) on or off for one connection; new connections take
    /// [`TcpConfig::hystart`](super::TcpConfig::hystart) and
    /// [`TcpConfig::cwnd_validation`](super::TcpConfig::cwnd_validation).
    pub fn set_cc_options(
        &mut self,
        h: TcpHandle,
        options: super::congestion::CcOptions,
    ) -> Result<(), TcpError> {
        self.conn_mut(h)?.cc.set_options(options);
        Ok(())
    }

    /// HyStart++ and window validation of one connection.
    pub fn cc_options(&self, h: TcpHandle) -> Result<super::congestion::CcOptions, TcpError> {
        Ok(self.conn(h)?.cc.options())
    }

    /// The congestion-control algorithm of one connection.
    pub fn congestion_control(
        &self,
        h: TcpHandle,
    ) -> Result<super::congestion::Algorithm, TcpError> {
        Ok(self.conn(h)?.cc.algorithm())
    }

    /// Configure keepalive for one connection (`None` turns it off).
    pub fn set_keepalive(
        &mut self,
        now: Instant,
        h: TcpHandle,
        ka: Option<super::Keepalive>,
    ) -> Result<(), TcpError> {
        self.conn_mut(h)?.set_keepalive(ka);
        self.after(h.idx, now);
        Ok(())
    }

    /// Set the Diffserv codepoint (0–63) of the connection's segments (RFC
    /// 9293 §3.9.1.9 MUST-48); it may change during the connection
    /// (SHLD-21), though applications rarely should (SHLD-23). Above 63:
    /// [`TcpError::InvalidArgument`].
    pub fn set_dscp(&mut self, h: TcpHandle, dscp: u8) -> Result<(), TcpError> {
        if dscp > 63 {
            return Err(TcpError::InvalidArgument);
        }
        self.conn_mut(h)?.dscp = dscp;
        Ok(())
    }

    /// The connection's Diffserv codepoint.
    pub fn dscp(&self, h: TcpHandle) -> Result<u8, TcpError> {
        Ok(self.conn(h)?.dscp)
    }

    /// Set the RFC 5482 user timeout for one connection: the application's
    /// R2 (RFC 9293 §3.8.3 MUST-21).
    pub fn set_user_timeout(
        &mut self,
        h: TcpHandle,
        timeout: Option<Duration>,
    ) -> Result<(), TcpError> {
        self.conn_mut(h)?.set_user_timeout(timeout);
        let now = self.now;
        self.after(h.idx, now);
        Ok(())
    }

    /// A snapshot of the connection's internals.
    pub fn info(&self, h: TcpHandle) -> Result<ConnInfo, TcpError> {
        Ok(Self::info_of(self.conn(h)?))
    }

    /// Every connection the engine holds (including orphans finishing
    /// their close and TIME-WAIT), in slot order — a `netstat` view.
    /// Compact TIME-WAIT records follow, under the handle their
    /// connection had; they report only what they keep (see
    /// [`Tcp::time_wait_records`]).
    pub fn connections(&self) -> impl Iterator<Item = (TcpHandle, ConnInfo)> + '_ {
        self.slots
            .iter()
            .filter_map(|s| s.conn.as_ref())
            .map(|c| (c.handle, Self::info_of(c)))
            .chain(self.tw.iter().map(|r| (r.handle, r.info())))
    }

    fn info_of(c: &Conn) -> ConnInfo {
        ConnInfo {
            state: c.state,
            local: c.local,
            remote: c.remote,
            iss: c.iss.0,
            irs: c.irs.0,
            snd_una: c.snd_una.0,
            snd_nxt: c.snd_nxt.0,
            rcv_nxt: c.rcv_nxt.0,
            snd_wnd: c.snd_wnd,
            send_queue: c.tx.len(),
            recv_queue: c.rx.len(),
            rto: c.rtt.rto(),
            srtt: c.rtt.srtt(),
            min_rtt: c.min_rtt(),
            cwnd: c.cc.cwnd(),
            ssthresh: c.cc.ssthresh(),
            mss: c.eff_mss(),
            wscale: c.ws_ok.then_some((c.rcv_wscale, c.snd_wscale)),
            timestamps: c.ts_ok,
            sack: c.sack_ok,
            retransmits: c.retransmits,
            buffer_bytes: c.tx.capacity() + c.rx.capacity(),
            sacked_bytes: c.scoreboard.sacked_bytes(),
        }
    }
}
