//! TCP peers that are not strata: a small TCP written for tests, with the
//! habits of other stacks and of hostile ones, and middleboxes that rewrite
//! segments in flight.
//!
//! [`PeerTcp`] is one connection of an independent, deliberately simple TCP
//! (its own sequence arithmetic, reassembly, ACK and window policy; none of
//! the strata engine). It speaks at the segment level ([`TcpRepr`] in,
//! [`PeerSegment`] out), so a test can drive it against the strata engine
//! in a tight loop, and [`PeerHost`] runs it in the simulator behind ARP
//! and IPv4. What it does that a strata peer never does is chosen in
//! [`PeerConfig`]:
//!
//! * ACK policy ([`PeerConfig::ack_every`]): every segment, or stretch
//!   ACKs (one per N segments, or when a delay runs out);
//! * SACK with reneging ([`PeerConfig::renege_every`]): out-of-order data
//!   is SACKed, then thrown away when the hole before it fills (RFC 2018
//!   §8 allows it; the sender must recover by retransmitting);
//! * window policy ([`WindowPolicy`]): steady, shrinking (the right edge
//!   moves left, RFC 9293 §3.8.6.2.2 says a sender must cope), or a zero
//!   window held for a long time (or forever) while every probe is answered;
//! * ACKs that land exactly on chosen sequence numbers
//!   ([`PeerConfig::ack_points`]: the 2^32 wrap, the peer's ISS), and
//!   segments that end exactly on chosen sequence numbers
//!   ([`PeerConfig::split_points`]);
//! * data on the SYN, FIN on the last data segment, and an RST that
//!   carries data ([`PeerConfig::syn_data`], [`PeerConfig::fin_with_data`],
//!   [`Close::RstWithData`]).
//!
//! Its own stream is a pattern ([`pattern_fill`]) and every byte it receives
//! is checked against the pattern its peer was told to send
//! ([`PeerTcp::mismatch`]). [`Middlebox`] sits on a cable and strips TCP
//! options or offsets sequence numbers (consistently both ways, as some
//! firewalls do), optionally without fixing SACK blocks.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddrV4;

use strata::time::{Duration, Instant};
use strata::wire::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use strata::wire::tcp::{SackBlock, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps};
use strata::wire::{Ipv4Addr, MacAddr};

use crate::node::Node;
use crate::traffic::frames;

/// Fills `buf` with the pattern stream `salt` from stream offset `off`.
/// Each aligned 8-byte word is a hash of its index and the salt, so a byte
/// in the wrong place (shifted by one, from another lap of the sequence
/// space, from another stream) does not match.
pub fn pattern_fill(salt: u64, off: u64, buf: &mut [u8]) {
    // The unaligned head, then whole words, then the tail.
    let k = (off & 7) as usize;
    let head = if k == 0 { 0 } else { (8 - k).min(buf.len()) };
    if head > 0 {
        let word = pattern_word(salt, off >> 3).to_le_bytes();
        buf[..head].copy_from_slice(&word[k..k + head]);
    }
    let mut index = (off + head as u64) >> 3;
    let mut words = buf[head..].chunks_exact_mut(8);
    for w in &mut words {
        if let Ok(w) = <&mut [u8; 8]>::try_from(w) {
            *w = pattern_word(salt, index).to_le_bytes();
        }
        index += 1;
    }
    let tail = words.into_remainder();
    if !tail.is_empty() {
        let n = tail.len();
        tail.copy_from_slice(&pattern_word(salt, index).to_le_bytes()[..n]);
    }
}

fn pattern_word(salt: u64, index: u64) -> u64 {
    let x = (index ^ salt.rotate_left(17)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 29) ^ salt
}

/// The pattern stream `salt` as a vector of `len` bytes from offset 0.
pub fn pattern(salt: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    pattern_fill(salt, 0, &mut v);
    v
}

/// How the peer ends its side of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Close {
    /// A FIN once its data is sent (on the last data segment when
    /// [`PeerConfig::fin_with_data`]).
    Fin,
    /// Once its data is acknowledged and the other side's FIN has arrived,
    /// an RST carrying these bytes (RFC 9293 §3.5.3 / RFC 1122 §4.2.2.12:
    /// data on an RST is diagnostic, never stream data). After it the
    /// peer answers everything as a closed port.
    RstWithData(Vec<u8>),
    /// Never close (the test ends first).
    Never,
}

/// What the peer advertises as its receive window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPolicy {
    /// Always [`PeerConfig::rcv_buf`].
    Steady,
    /// Every `period` ACKs the window alternates between
    /// [`PeerConfig::rcv_buf`] and `small` bytes; the step down moves the
    /// right edge to the left (a shrinking window) and data beyond it is
    /// dropped.
    Shrink {
        /// ACKs between changes.
        period: u32,
        /// The small window, in bytes (0 closes it).
        small: u32,
    },
    /// Once `after` bytes have arrived, the window is zero for `hold`
    /// (`Duration::MAX`: forever); every probe is answered with an ACK of
    /// window zero. Then it opens again with a window update.
    ZeroAt {
        /// Stream bytes received before the window closes.
        after: u64,
        /// How long it stays closed.
        hold: Duration,
    },
}

/// Settings of one [`PeerTcp`] connection.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Initial send sequence number.
    pub iss: u32,
    /// MSS announced on the SYN; also the largest segment sent.
    pub mss: u16,
    /// Window scale offered (`None`: the option is not sent).
    pub window_scale: Option<u8>,
    /// Offer SACK-permitted and send SACK blocks when it is agreed.
    pub sack: bool,
    /// Offer timestamps (and echo them when agreed).
    pub timestamps: bool,
    /// Receive window in bytes.
    pub rcv_buf: u32,
    /// ACK once per this many data segments (1: every segment; more:
    /// stretch ACKs), or when [`PeerConfig::ack_delay`] runs out. Out-of-
    /// order data, duplicates and FIN are acknowledged at once.
    pub ack_every: u32,
    /// Longest an ACK is held back.
    pub ack_delay: Duration,
    /// Every n-th time a hole fills, the out-of-order data after it (already
    /// SACKed) is thrown away instead of kept (0: never renege).
    pub renege_every: u32,
    /// Window policy.
    pub window: WindowPolicy,
    /// Sequence numbers (of the other side's space) that an ACK must land
    /// on exactly when the in-order edge passes them.
    pub ack_points: Vec<u32>,
    /// Sequence numbers (of our space) where a data segment must end.
    pub split_points: Vec<u32>,
    /// Bytes this peer sends (pattern [`PeerConfig::send_salt`]).
    pub send_len: u64,
    /// Pattern of the stream this peer sends.
    pub send_salt: u64,
    /// Pattern of the stream this peer expects.
    pub recv_salt: u64,
    /// Put the first data on the SYN (active open only).
    pub syn_data: bool,
    /// Set FIN on the last data segment instead of sending it alone.
    pub fin_with_data: bool,
    /// How this side closes.
    pub close: Close,
    /// Send our FIN only after the other side's (a passive close): the
    /// other application then never closes before its data is delivered,
    /// so its connection is never an orphan.
    pub close_after_their_fin: bool,
    /// Initial retransmission timeout (doubles per try, up to 8 s).
    pub rto: Duration,
}

impl Default for PeerConfig {
    fn default() -> Self {
        PeerConfig {
            iss: 1_000,
            mss: 1460,
            window_scale: Some(7),
            sack: true,
            timestamps: true,
            rcv_buf: 256 * 1024,
            ack_every: 2,
            ack_delay: Duration::from_millis(40),
            renege_every: 0,
            window: WindowPolicy::Steady,
            ack_points: Vec::new(),
            split_points: Vec::new(),
            send_len: 0,
            send_salt: 1,
            recv_salt: 2,
            syn_data: false,
            fin_with_data: false,
            close: Close::Fin,
            close_after_their_fin: false,
            rto: Duration::from_millis(300),
        }
    }
}

/// A segment the peer sends (owned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSegment {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Window field (scaled).
    pub window: u16,
    /// Options.
    pub options: TcpOptions,
    /// Data.
    pub payload: Vec<u8>,
}

impl PeerSegment {
    /// As a wire representation borrowing the payload.
    pub fn repr(&self) -> TcpRepr<'_> {
        TcpRepr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            urgent: 0,
            options: self.options,
            payload: &self.payload,
        }
    }
}

/// Where the peer's connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// Waiting for a SYN.
    Listen,
    /// SYN sent.
    SynSent,
    /// SYN received, SYN-ACK sent.
    SynReceived,
    /// Synchronized (data, FINs).
    Established,
    /// RST sent or received: answers as a closed port.
    Closed,
}

/// What the peer counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Segments received.
    pub segments_in: u64,
    /// Segments sent.
    pub segments_out: u64,
    /// ACKs sent with a zero window.
    pub zero_window_acks: u64,
    /// Times out-of-order data was thrown away after being SACKed.
    pub reneges: u64,
    /// Bytes thrown away by reneging.
    pub reneged_bytes: u64,
    /// ACKs sent exactly on an ack point.
    pub point_acks: u64,
    /// Data segments (or parts) dropped beyond the advertised window.
    pub beyond_window: u64,
    /// Retransmissions of our own data.
    pub retransmits: u64,
    /// ACKs received that acknowledged nothing new while data was out.
    pub dup_acks: u64,
    /// ACKs received whose acknowledgment number is one of
    /// [`PeerConfig::split_points`] exactly (e.g. the wrap to 0).
    pub acks_on_split_points: u64,
}

/// One connection of the independent test TCP. See the [module docs](self).
#[derive(Debug)]
pub struct PeerTcp {
    cfg: PeerConfig,
    local: SocketAddrV4,
    remote: Option<SocketAddrV4>,
    state: PeerState,
    // --- receiving ---
    irs: u32,
    /// Stream offset of RCV.NXT (bytes of their data in order).
    rcv_off: u64,
    ooo: BTreeMap<u64, Vec<u8>>,
    /// Most recently received out-of-order offset (first SACK block).
    last_ooo: Option<u64>,
    fills: u32,
    fin_at: Option<u64>,
    fin_rcvd: bool,
    rcv_wscale: u8,
    snd_wscale: u8,
    sack_ok: bool,
    ts_ok: bool,
    ts_recent: u32,
    segs_unacked: u32,
    ack_at: Option<Instant>,
    ack_now: bool,
    point_acks: VecDeque<u32>,
    acks_sent: u32,
    small_window: bool,
    zero_since: Option<Instant>,
    zero_done: bool,
    mismatch: Option<u64>,
    // --- sending ---
    snd_una: u64,
    snd_nxt: u64,
    snd_max: u64,
    syn_acked: bool,
    snd_wnd: u64,
    peer_mss: usize,
    cwnd: u64,
    rto: Duration,
    rto_at: Option<Instant>,
    dupacks: u32,
    fin_sent: bool,
    /// A FIN went out at least once (its ACK is acceptable even while a
    /// timeout has us resending from SND.UNA).
    fin_ever: bool,
    fin_acked: bool,
    rst_sent: bool,
    rst_rcvd: bool,
    out: VecDeque<PeerSegment>,
    stats: PeerStats,
    scratch: Vec<u8>,
}

impl PeerTcp {
    /// A peer that waits on `local` for a SYN.
    pub fn listen(cfg: PeerConfig, local: SocketAddrV4) -> Self {
        Self::new(cfg, local, None, PeerState::Listen)
    }

    /// A peer that opens a connection from `local` to `remote` (its SYN is
    /// sent on the first poll).
    pub fn connect(cfg: PeerConfig, local: SocketAddrV4, remote: SocketAddrV4) -> Self {
        let mut p = Self::new(cfg, local, Some(remote), PeerState::SynSent);
        p.queue_syn(Instant::ZERO);
        p
    }

    fn new(
        cfg: PeerConfig,
        local: SocketAddrV4,
        remote: Option<SocketAddrV4>,
        state: PeerState,
    ) -> Self {
        let rto = cfg.rto;
        PeerTcp {
            local,
            remote,
            state,
            irs: 0,
            rcv_off: 0,
            ooo: BTreeMap::new(),
            last_ooo: None,
            fills: 0,
            fin_at: None,
            fin_rcvd: false,
            rcv_wscale: 0,
            snd_wscale: 0,
            sack_ok: false,
            ts_ok: false,
            ts_recent: 0,
            segs_unacked: 0,
            ack_at: None,
            ack_now: false,
            point_acks: VecDeque::new(),
            acks_sent: 0,
            small_window: false,
            zero_since: None,
            zero_done: false,
            mismatch: None,
            snd_una: 0,
            snd_nxt: 0,
            snd_max: 0,
            syn_acked: false,
            snd_wnd: 0,
            peer_mss: 536,
            cwnd: 4 * u64::from(cfg.mss),
            rto,
            rto_at: None,
            dupacks: 0,
            fin_sent: false,
            fin_ever: false,
            fin_acked: false,
            rst_sent: false,
            rst_rcvd: false,
            out: VecDeque::new(),
            stats: PeerStats::default(),
            scratch: Vec::new(),
            cfg,
        }
    }

    // ----- getters -----------------------------------------------------

    /// Where the connection is.
    pub fn state(&self) -> PeerState {
        self.state
    }
    /// Bytes of the other side's stream received in order and checked.
    pub fn received(&self) -> u64 {
        self.rcv_off
    }
    /// The other side's FIN arrived (and everything before it).
    pub fn fin_received(&self) -> bool {
        self.fin_rcvd
    }
    /// Our bytes the other side acknowledged.
    pub fn acked(&self) -> u64 {
        self.snd_una
    }
    /// Our FIN was acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_acked
    }
    /// An RST arrived.
    pub fn reset_received(&self) -> bool {
        self.rst_rcvd
    }
    /// Our RST went out.
    pub fn reset_sent(&self) -> bool {
        self.rst_sent
    }
    /// Stream offset of the first received byte that did not match the
    /// expected pattern, if any.
    pub fn mismatch(&self) -> Option<u64> {
        self.mismatch
    }
    /// Opens a window held closed by [`WindowPolicy::ZeroAt`] (for a hold
    /// of "forever") and announces it with a window update.
    pub fn reopen_window(&mut self) {
        self.zero_done = true;
        self.cfg.window = WindowPolicy::Steady;
        self.ack_now = true;
    }
    /// The sequence numbers ACKs must land on (see
    /// [`PeerConfig::ack_points`]), to add points once the other side's
    /// ISS is known.
    pub fn ack_points_mut(&mut self) -> &mut Vec<u32> {
        &mut self.cfg.ack_points
    }
    /// Counters.
    pub fn stats(&self) -> PeerStats {
        self.stats
    }
    /// The other side's initial sequence number (once a SYN arrived).
    pub fn irs(&self) -> u32 {
        self.irs
    }
    /// Everything both ways is done: our data and FIN acknowledged (or our
    /// RST sent) and the other side's FIN received.
    pub fn finished(&self) -> bool {
        (self.fin_acked && self.fin_rcvd) || self.rst_sent
    }

    // ----- sequence arithmetic ------------------------------------------

    fn our_seq(&self, off: u64) -> u32 {
        // Data offset 0 is ISS + 1 (the SYN takes ISS).
        self.cfg.iss.wrapping_add(1).wrapping_add(off as u32)
    }
    fn their_seq(&self, off: u64) -> u32 {
        self.irs.wrapping_add(1).wrapping_add(off as u32)
    }
    /// Their stream offset of sequence number `seq`, taken as the nearest
    /// to RCV.NXT.
    fn their_off(&self, seq: u32) -> i64 {
        let d = seq.wrapping_sub(self.their_seq(self.rcv_off)) as i32;
        self.rcv_off as i64 + i64::from(d)
    }
    /// Our stream offset of acknowledgment `ack`, nearest to SND.UNA.
    fn our_off(&self, ack: u32) -> i64 {
        let d = ack.wrapping_sub(self.our_seq(self.snd_una)) as i32;
        self.snd_una as i64 + i64::from(d)
    }

    // ----- receive window -------------------------------------------------

    fn window_bytes(&mut self, now: Instant) -> u64 {
        match self.cfg.window {
            WindowPolicy::Steady => u64::from(self.cfg.rcv_buf),
            WindowPolicy::Shrink { small, .. } => {
                if self.small_window {
                    u64::from(small)
                } else {
                    u64::from(self.cfg.rcv_buf)
                }
            }
            WindowPolicy::ZeroAt { after, hold } => {
                if self.zero_done || self.rcv_off < after {
                    return u64::from(self.cfg.rcv_buf);
                }
                let since = *self.zero_since.get_or_insert(now);
                if hold != Duration::MAX && now.saturating_duration_since(since) >= hold {
                    self.zero_done = true;
                    return u64::from(self.cfg.rcv_buf);
                }
                0
            }
        }
    }

    fn window_field(&mut self, now: Instant, syn: bool) -> u16 {
        let w = self.window_bytes(now);
        if syn {
            // RFC 7323 §2.2: the window of a SYN is never scaled.
            return w.min(65_535) as u16;
        }
        (w >> self.rcv_wscale).min(65_535) as u16
    }

    // ----- output -------------------------------------------------------

    fn options(&self, syn: bool, now: Instant) -> TcpOptions {
        let mut o = TcpOptions::default();
        if syn {
            o.mss = Some(self.cfg.mss);
            o.window_scale = self.cfg.window_scale;
            o.sack_permitted = self.cfg.sack;
        }
        if (syn && self.cfg.timestamps) || self.ts_ok {
            o.timestamps = Some(Timestamps {
                tsval: (now.as_nanos() / 1_000_000) as u32,
                tsecr: self.ts_recent,
            });
        }
        if !syn && self.sack_ok {
            let room = if o.timestamps.is_some() { 3 } else { 4 };
            let mut blocks: Vec<(u64, u64)> = Vec::new();
            for (&s, d) in &self.ooo {
                let e = s + d.len() as u64;
                match blocks.last_mut() {
                    Some(b) if b.1 >= s => b.1 = b.1.max(e),
                    _ => blocks.push((s, e)),
                }
            }
            // RFC 2018 §4: the block with the most recent segment first.
            if let Some(r) = self.last_ooo {
                if let Some(i) = blocks.iter().position(|b| b.0 <= r && r < b.1) {
                    let b = blocks.remove(i);
                    blocks.insert(0, b);
                }
            }
            for (i, (s, e)) in blocks.into_iter().take(room).enumerate() {
                o.sack_blocks[i] = SackBlock {
                    left: self.their_seq(s),
                    right: self.their_seq(e),
                };
                o.sack_len = i as u8 + 1;
            }
        }
        o
    }

    fn push(&mut self, seg: PeerSegment) {
        self.stats.segments_out += 1;
        self.out.push_back(seg);
    }

    fn remote_port(&self) -> u16 {
        self.remote.map_or(0, |r| r.port())
    }

    fn queue_syn(&mut self, now: Instant) {
        let passive = self.state == PeerState::SynReceived;
        let mut flags = TcpFlags::SYN;
        if passive {
            flags |= TcpFlags::ACK;
        }
        let mut payload = Vec::new();
        let options = self.options(true, now);
        if self.cfg.syn_data && !passive && self.cfg.send_len > 0 {
            // The other side's MSS is not known yet: what fits our own
            // (RFC 6691: less the options).
            let room = usize::from(self.cfg.mss).saturating_sub(options.encoded_len());
            let n = (self.cfg.send_len as usize).min(room);
            payload = vec![0; n];
            pattern_fill(self.cfg.send_salt, 0, &mut payload);
            self.snd_max = self.snd_max.max(n as u64);
        }
        let window = self.window_field(now, true);
        let seg = PeerSegment {
            src_port: self.local.port(),
            dst_port: self.remote_port(),
            seq: self.cfg.iss,
            ack: if passive { self.their_seq(0) } else { 0 },
            flags,
            window,
            options,
            payload,
        };
        self.push(seg);
        self.rto_at = Some(now + self.rto);
    }

    fn ack_segment(&mut self, now: Instant, ack: u32) -> PeerSegment {
        let window = self.window_field(now, false);
        if window == 0 {
            self.stats.zero_window_acks += 1;
        }
        PeerSegment {
            src_port: self.local.port(),
            dst_port: self.remote_port(),
            seq: self
                .our_seq(self.snd_max)
                .wrapping_add(u32::from(self.fin_ever)),
            ack,
            flags: TcpFlags::ACK,
            window,
            options: self.options(false, now),
            payload: Vec::new(),
        }
    }

    fn send_ack(&mut self, now: Instant) {
        while let Some(p) = self.point_acks.pop_front() {
            let seg = self.ack_segment(now, p);
            self.stats.point_acks += 1;
            self.push(seg);
        }
        let ack = self.rcv_ack();
        let seg = self.ack_segment(now, ack);
        self.push(seg);
        self.after_ack_sent();
    }

    fn after_ack_sent(&mut self) {
        self.segs_unacked = 0;
        self.ack_at = None;
        self.ack_now = false;
        self.acks_sent = self.acks_sent.wrapping_add(1);
        if let WindowPolicy::Shrink { period, .. } = self.cfg.window {
            if period > 0 && self.acks_sent.is_multiple_of(period) {
                self.small_window = !self.small_window;
            }
        }
    }

    fn rcv_ack(&self) -> u32 {
        self.their_seq(self.rcv_off)
            .wrapping_add(u32::from(self.fin_rcvd))
    }

    /// Data segments (and FIN) that the windows allow.
    fn send_data(&mut self, now: Instant) {
        if self.state != PeerState::Established || !self.syn_acked {
            return;
        }
        let total = self.cfg.send_len;
        loop {
            let in_flight = self.snd_nxt - self.snd_una;
            let wnd = self.snd_wnd.min(self.cwnd);
            let usable = wnd.saturating_sub(in_flight);
            let persist = self.snd_wnd == 0 && in_flight == 0 && self.snd_nxt < total;
            if persist {
                // Zero window: a one-byte probe when the timer fires.
                if self.rto_at.is_none() {
                    self.rto_at = Some(now + self.rto);
                }
                return;
            }
            let left = total - self.snd_nxt;
            // RFC 6691: options take their room out of the MSS.
            let options = self.options(false, now);
            let room = self.peer_mss.saturating_sub(options.encoded_len()).max(1) as u64;
            let mut len = left.min(usable).min(room);
            let start_seq = self.our_seq(self.snd_nxt);
            for &p in &self.cfg.split_points {
                let d = u64::from(p.wrapping_sub(start_seq));
                if d > 0 && d < len {
                    len = d;
                }
            }
            let fin_now = matches!(self.cfg.close, Close::Fin)
                && (self.fin_rcvd || !self.cfg.close_after_their_fin)
                && !self.fin_sent
                && self.snd_nxt + len == total
                && (self.cfg.fin_with_data || len == 0);
            if len == 0 && !fin_now {
                return;
            }
            let mut payload = vec![0; len as usize];
            pattern_fill(self.cfg.send_salt, self.snd_nxt, &mut payload);
            let mut flags = TcpFlags::ACK;
            if len > 0 && self.snd_nxt + len == total {
                flags |= TcpFlags::PSH;
            }
            if fin_now {
                flags |= TcpFlags::FIN;
            }
            let window = self.window_field(now, false);
            let seg = PeerSegment {
                src_port: self.local.port(),
                dst_port: self.remote_port(),
                seq: start_seq,
                ack: self.rcv_ack(),
                flags,
                window,
                options,
                payload,
            };
            if self.snd_nxt < self.snd_max {
                self.stats.retransmits += 1;
            }
            self.snd_nxt += len;
            self.snd_max = self.snd_max.max(self.snd_nxt);
            if fin_now {
                self.fin_sent = true;
                self.fin_ever = true;
            }
            self.push(seg);
            self.after_ack_sent();
            if self.rto_at.is_none() {
                self.rto_at = Some(now + self.rto);
            }
            if fin_now {
                return;
            }
        }
    }

    fn maybe_rst(&mut self, now: Instant) {
        if let Close::RstWithData(data) = &self.cfg.close {
            if !self.rst_sent
                && self.state == PeerState::Established
                && self.snd_una == self.cfg.send_len
                && self.fin_rcvd
            {
                let seg = PeerSegment {
                    src_port: self.local.port(),
                    dst_port: self.remote_port(),
                    seq: self.our_seq(self.snd_una),
                    ack: self.rcv_ack(),
                    flags: TcpFlags::RST | TcpFlags::ACK,
                    window: 0,
                    options: self.options(false, now),
                    payload: data.clone(),
                };
                self.push(seg);
                self.rst_sent = true;
                self.state = PeerState::Closed;
                self.rto_at = None;
                self.ack_at = None;
            }
        }
    }

    /// The next segment to send, if any.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<PeerSegment> {
        if self.out.is_empty() && self.state == PeerState::Established {
            if self.ack_now {
                self.send_ack(now);
            }
            self.send_data(now);
            self.maybe_rst(now);
        }
        self.out.pop_front()
    }

    /// When [`PeerTcp::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let zero_end = match (self.cfg.window, self.zero_since) {
            (WindowPolicy::ZeroAt { hold, .. }, Some(s))
                if !self.zero_done && hold != Duration::MAX =>
            {
                Some(s + hold)
            }
            _ => None,
        };
        [self.rto_at, self.ack_at, zero_end]
            .into_iter()
            .flatten()
            .min()
    }

    /// Timers: retransmission / persist, delayed ACK, window reopening.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ack_at.is_some_and(|t| t <= now) {
            self.ack_at = None;
            self.ack_now = true;
        }
        if let (WindowPolicy::ZeroAt { hold, .. }, Some(s)) = (self.cfg.window, self.zero_since) {
            if !self.zero_done && hold != Duration::MAX && now.saturating_duration_since(s) >= hold
            {
                // The window opens: tell the sender (RFC 9293 §3.8.6.2.2).
                self.zero_done = true;
                self.ack_now = true;
            }
        }
        if self.rto_at.is_some_and(|t| t <= now) {
            self.rto_at = None;
            match self.state {
                PeerState::SynSent | PeerState::SynReceived => {
                    self.rto = (self.rto * 2).min(Duration::from_secs(8));
                    self.stats.retransmits += 1;
                    self.queue_syn(now);
                }
                PeerState::Established => {
                    let outstanding =
                        self.snd_max > self.snd_una || (self.fin_ever && !self.fin_acked);
                    if self.snd_wnd == 0 && self.snd_una < self.cfg.send_len {
                        // Persist: probe with one byte of new data (or resend it).
                        self.snd_nxt = self.snd_una;
                        let mut payload = vec![0; 1];
                        pattern_fill(self.cfg.send_salt, self.snd_una, &mut payload);
                        let window = self.window_field(now, false);
                        let seg = PeerSegment {
                            src_port: self.local.port(),
                            dst_port: self.remote_port(),
                            seq: self.our_seq(self.snd_una),
                            ack: self.rcv_ack(),
                            flags: TcpFlags::ACK,
                            window,
                            options: self.options(false, now),
                            payload,
                        };
                        self.snd_nxt = self.snd_una + 1;
                        self.snd_max = self.snd_max.max(self.snd_nxt);
                        self.push(seg);
                        self.rto = (self.rto * 2).min(Duration::from_secs(8));
                        self.rto_at = Some(now + self.rto);
                    } else if outstanding {
                        // Go back to SND.UNA, one segment at a time.
                        self.stats.retransmits += 1;
                        self.snd_nxt = self.snd_una;
                        if self.fin_sent && !self.fin_acked {
                            self.fin_sent = false;
                        }
                        self.cwnd = self.peer_mss as u64;
                        self.rto = (self.rto * 2).min(Duration::from_secs(8));
                        self.rto_at = Some(now + self.rto);
                        self.send_data(now);
                    }
                }
                _ => {}
            }
        }
    }

    // ----- input --------------------------------------------------------

    /// One segment from the other side (already checked by IP and TCP
    /// checksums, addressed to this connection).
    pub fn handle_segment(&mut self, now: Instant, from: SocketAddrV4, seg: &TcpRepr<'_>) {
        self.stats.segments_in += 1;
        let f = seg.flags;
        match self.state {
            PeerState::Closed => {
                // RFC 9293 §3.10.7.1: a closed port answers with RST.
                if !f.rst() {
                    let (seq, ack, flags) = if f.ack() {
                        (seg.ack, 0, TcpFlags::RST)
                    } else {
                        let len = seg.segment_len() as u32;
                        (0, seg.seq.wrapping_add(len), TcpFlags::RST | TcpFlags::ACK)
                    };
                    self.push(PeerSegment {
                        src_port: self.local.port(),
                        dst_port: seg.src_port,
                        seq,
                        ack,
                        flags,
                        window: 0,
                        options: TcpOptions::default(),
                        payload: Vec::new(),
                    });
                }
            }
            PeerState::Listen => {
                if f.syn() && !f.ack() && !f.rst() {
                    self.remote = Some(from);
                    self.take_syn(seg);
                    self.state = PeerState::SynReceived;
                    self.queue_syn(now);
                }
            }
            PeerState::SynSent => {
                if f.rst() {
                    self.rst_rcvd = true;
                    self.state = PeerState::Closed;
                    return;
                }
                if f.syn()
                    && f.ack()
                    && seg.ack
                        == self
                            .cfg
                            .iss
                            .wrapping_add(1)
                            .wrapping_add(self.snd_max as u32)
                {
                    self.take_syn(seg);
                    self.state = PeerState::Established;
                    self.on_ack(now, seg);
                    self.ack_now = true;
                } else if f.syn() && f.ack() && seg.ack == self.cfg.iss.wrapping_add(1) {
                    // The SYN's data was not taken: send it again later.
                    self.snd_max = 0;
                    self.take_syn(seg);
                    self.state = PeerState::Established;
                    self.on_ack(now, seg);
                    self.ack_now = true;
                }
            }
            PeerState::SynReceived | PeerState::Established => {
                if f.rst() {
                    // RFC 5961 §3.2: only an RST at RCV.NXT exactly (past
                    // their FIN once it arrived) is taken.
                    let off = self.their_off(seg.seq);
                    if off == self.rcv_off as i64 + i64::from(self.fin_rcvd) {
                        self.rst_rcvd = true;
                        self.state = PeerState::Closed;
                        self.rto_at = None;
                        self.ack_at = None;
                    }
                    return;
                }
                if f.syn() {
                    if self.state == PeerState::SynReceived {
                        // Our SYN-ACK was lost: send it again.
                        self.queue_syn(now);
                    } else {
                        self.ack_now = true;
                    }
                    return;
                }
                if !f.ack() {
                    return;
                }
                if self.state == PeerState::SynReceived {
                    if seg.ack != self.cfg.iss.wrapping_add(1) {
                        return;
                    }
                    self.state = PeerState::Established;
                }
                if self.ts_ok {
                    if let Some(ts) = seg.options.timestamps {
                        if (ts.tsval.wrapping_sub(self.ts_recent) as i32) >= 0 {
                            self.ts_recent = ts.tsval;
                        }
                    }
                }
                self.on_ack(now, seg);
                self.on_data(now, seg);
            }
        }
    }

    fn take_syn(&mut self, seg: &TcpRepr<'_>) {
        self.irs = seg.seq;
        let o = &seg.options;
        self.peer_mss = usize::from(o.mss.unwrap_or(536)).min(usize::from(self.cfg.mss));
        if let (Some(theirs), Some(ours)) = (o.window_scale, self.cfg.window_scale) {
            self.snd_wscale = theirs.min(14);
            self.rcv_wscale = ours.min(14);
        }
        self.sack_ok = o.sack_permitted && self.cfg.sack;
        if let (Some(ts), true) = (o.timestamps, self.cfg.timestamps) {
            self.ts_ok = true;
            self.ts_recent = ts.tsval;
        }
        self.snd_wnd = u64::from(seg.window);
        // Data on their SYN is not taken (a conservative stack); they will
        // send it again.
    }

    fn on_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        if self.cfg.split_points.contains(&seg.ack) {
            self.stats.acks_on_split_points += 1;
        }
        let ack_off = self.our_off(seg.ack);
        let fin_seq_off = self.cfg.send_len as i64 + 1;
        let max = self.snd_max as i64 + i64::from(self.fin_ever);
        if seg.flags.syn() {
            // The SYN-ACK: the window is not scaled.
            self.snd_wnd = u64::from(seg.window);
        }
        if ack_off < self.snd_una as i64 || ack_off > max.max(self.snd_max as i64) {
            return;
        }
        if !seg.flags.syn() {
            self.snd_wnd = u64::from(seg.window) << self.snd_wscale;
        }
        self.syn_acked = true;
        let new_una = (ack_off as u64).min(self.cfg.send_len).max(self.snd_una);
        if self.fin_ever && ack_off == fin_seq_off {
            self.fin_acked = true;
            self.fin_sent = true;
        }
        if new_una > self.snd_una {
            self.snd_una = new_una;
            self.snd_nxt = self.snd_nxt.max(self.snd_una);
            self.dupacks = 0;
            self.cwnd = (self.cwnd + self.peer_mss as u64).min(4 << 20);
            self.rto = self.cfg.rto;
            self.rto_at = if self.snd_una < self.snd_max || (self.fin_ever && !self.fin_acked) {
                Some(now + self.rto)
            } else {
                None
            };
        } else if self.snd_una < self.snd_max && seg.payload.is_empty() {
            self.stats.dup_acks += 1;
            self.dupacks += 1;
            if self.dupacks == 3 {
                // Fast retransmit: go back to SND.UNA once.
                self.snd_nxt = self.snd_una;
                self.cwnd = (self.cwnd / 2).max(2 * self.peer_mss as u64);
                self.stats.retransmits += 1;
            }
        }
        if self.fin_acked && self.snd_una == self.cfg.send_len && self.fin_rcvd {
            self.rto_at = None;
        }
    }

    fn on_data(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let len = seg.payload.len() as i64;
        let fin = seg.flags.fin();
        let start = self.their_off(seg.seq);
        if len == 0 && !fin {
            // An old sequence number with no data is a keepalive or a
            // window probe: answer it (RFC 9293 §3.10.7.4, unacceptable
            // segment → ACK).
            if start < self.rcv_off as i64 {
                self.ack_now = true;
            }
            return;
        }
        let wnd = self.window_bytes(now) as i64;
        let right = self.rcv_off as i64 + wnd;
        let mut data = seg.payload;
        let mut off = start;
        let mut fin_ok = fin;
        // Drop what is already in order.
        if off < self.rcv_off as i64 {
            let skip = (self.rcv_off as i64 - off).min(len) as usize;
            data = &data[skip..];
            off += skip as i64;
        }
        // Drop what lies beyond the window.
        if off + data.len() as i64 > right {
            let keep = (right - off).max(0) as usize;
            if keep < data.len() {
                self.stats.beyond_window += 1;
                data = &data[..keep.min(data.len())];
                fin_ok = false;
            }
        }
        if fin_ok {
            let fin_off = (start + len) as u64;
            self.fin_at = Some(fin_off);
        }
        let mut in_order = false;
        if !data.is_empty() {
            let off = off as u64;
            if off == self.rcv_off {
                self.deliver(data);
                in_order = true;
                // Out-of-order data that now follows: merged, or thrown away.
                if !self.ooo.is_empty() {
                    self.fills += 1;
                    if self.cfg.renege_every > 0 && self.fills.is_multiple_of(self.cfg.renege_every)
                    {
                        self.stats.reneges += 1;
                        self.stats.reneged_bytes +=
                            self.ooo.values().map(|v| v.len() as u64).sum::<u64>();
                        self.ooo.clear();
                        self.last_ooo = None;
                    }
                }
                while let Some((&o, _)) = self.ooo.iter().next() {
                    if o > self.rcv_off {
                        break;
                    }
                    let d = self.ooo.remove(&o).unwrap_or_default();
                    let skip = (self.rcv_off - o) as usize;
                    if skip < d.len() {
                        self.deliver(&d[skip..]);
                    }
                }
            } else {
                // RFC 9293 §3.10.7.4: kept for later, acknowledged at once.
                self.ooo.entry(off).or_insert_with(|| data.to_vec());
                self.last_ooo = Some(off);
            }
        }
        if let Some(f) = self.fin_at {
            if f == self.rcv_off && !self.fin_rcvd {
                self.fin_rcvd = true;
                self.ack_now = true;
            }
        }
        if in_order && self.ooo.is_empty() && !self.ack_now {
            self.segs_unacked += 1;
            if self.segs_unacked >= self.cfg.ack_every.max(1) {
                self.ack_now = true;
            } else if self.ack_at.is_none() {
                self.ack_at = Some(now + self.cfg.ack_delay);
            }
        } else {
            // Out of order, a duplicate, a hole filled, beyond the window.
            self.ack_now = true;
        }
    }

    fn deliver(&mut self, data: &[u8]) {
        let from = self.their_seq(self.rcv_off);
        if self.mismatch.is_none() {
            self.scratch.resize(data.len(), 0);
            pattern_fill(self.cfg.recv_salt, self.rcv_off, &mut self.scratch);
            if self.scratch[..] != *data {
                let at = self
                    .scratch
                    .iter()
                    .zip(data)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                self.mismatch = Some(self.rcv_off + at as u64);
            }
        }
        self.rcv_off += data.len() as u64;
        let to = self.their_seq(self.rcv_off);
        // ACKs that must land on these sequence numbers exactly.
        for &p in &self.cfg.ack_points {
            let d = p.wrapping_sub(from);
            if d > 0 && d < to.wrapping_sub(from) {
                self.point_acks.push_back(p);
                self.ack_now = true;
            }
        }
    }
}

/// A simulated machine running one [`PeerTcp`] behind ARP and IPv4.
///
/// It answers ARP requests for its address, sends every frame to one
/// configured next-hop MAC, and hands TCP segments for its port to the
/// peer (a segment with a bad IP or TCP checksum is dropped and counted).
#[derive(Debug)]
pub struct PeerHost {
    name: String,
    mac: MacAddr,
    ip: Ipv4Addr,
    gateway_mac: MacAddr,
    tcp: PeerTcp,
    out: VecDeque<Vec<u8>>,
    ident: u16,
    bad_checksums: u64,
}

impl PeerHost {
    /// A host `ip`/`mac` whose frames go to `gateway_mac`, running `tcp`.
    pub fn new(
        name: impl Into<String>,
        mac: MacAddr,
        ip: Ipv4Addr,
        gateway_mac: MacAddr,
        tcp: PeerTcp,
    ) -> Self {
        PeerHost {
            name: name.into(),
            mac,
            ip,
            gateway_mac,
            tcp,
            out: VecDeque::new(),
            ident: 1,
            bad_checksums: 0,
        }
    }

    /// The peer connection.
    pub fn tcp(&self) -> &PeerTcp {
        &self.tcp
    }

    /// The peer connection, to act on it.
    pub fn tcp_mut(&mut self) -> &mut PeerTcp {
        &mut self.tcp
    }

    /// Segments dropped for a bad checksum.
    pub fn bad_checksums(&self) -> u64 {
        self.bad_checksums
    }

    fn drain(&mut self, now: Instant) {
        while let Some(seg) = self.tcp.poll_transmit(now) {
            let Some(remote) = self.tcp.remote else {
                continue;
            };
            let repr = seg.repr();
            let tcp_len = repr.buffer_len();
            let ip = Ipv4Repr::new(self.ip, *remote.ip(), IpProtocol::TCP, 64, tcp_len);
            let mut buf = vec![0u8; 20 + tcp_len];
            let mut ip = ip;
            ip.ident = self.ident;
            ip.dont_frag = true;
            self.ident = self.ident.wrapping_add(1);
            if ip.emit(&mut buf).is_err()
                || repr.emit(&mut buf[20..], self.ip, *remote.ip()).is_err()
            {
                continue;
            }
            self.out.push_back(frames::ethernet(
                self.gateway_mac,
                self.mac,
                frames::ETHERTYPE_IPV4,
                &buf,
            ));
        }
    }
}

impl Node for PeerHost {
    fn receive(&mut self, now: Instant, _port: usize, frame: &[u8]) {
        if frame.len() < 14 || (frame[..6] != self.mac.0 && frame[..6] != MacAddr::BROADCAST.0) {
            return;
        }
        if let Some(a) = frames::parse_arp(frame) {
            // RFC 826: answer a request for our address.
            if a.op == frames::ARP_REQUEST && a.target_ip == self.ip {
                self.out.push_back(frames::arp_reply(
                    self.mac,
                    self.ip,
                    a.sender_mac,
                    a.sender_ip,
                ));
            }
            return;
        }
        if frame[12..14] != frames::ETHERTYPE_IPV4.to_be_bytes() {
            return;
        }
        let Ok(pkt) = Ipv4Packet::new_checked(&frame[14..]) else {
            self.bad_checksums += 1;
            return;
        };
        let Ok(ip) = Ipv4Repr::parse(&pkt) else {
            self.bad_checksums += 1;
            return;
        };
        if ip.dst != self.ip
            || ip.protocol != IpProtocol::TCP
            || ip.more_frags
            || ip.frag_offset != 0
        {
            return;
        }
        let Ok(tp) = TcpPacket::new_checked(pkt.payload()) else {
            self.bad_checksums += 1;
            return;
        };
        let Ok(seg) = TcpRepr::parse(&tp, ip.src, ip.dst) else {
            self.bad_checksums += 1;
            return;
        };
        if seg.dst_port != self.tcp.local.port() {
            return;
        }
        let from = SocketAddrV4::new(ip.src, seg.src_port);
        if let Some(r) = self.tcp.remote {
            if r != from && self.tcp.state != PeerState::Listen {
                return;
            }
        }
        self.tcp.handle_segment(now, from, &seg);
        self.drain(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<(usize, Vec<u8>)> {
        self.drain(now);
        self.out.pop_front().map(|f| (0, f))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.tcp.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.tcp.handle_timeout(now);
        self.drain(now);
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// What a [`Middlebox`] does to TCP segments it forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rewrite {
    /// Overwrite these options with NOPs (both ways, every segment).
    pub strip_mss: bool,
    /// Strip window scale.
    pub strip_window_scale: bool,
    /// Strip SACK-permitted and SACK blocks.
    pub strip_sack: bool,
    /// Strip timestamps.
    pub strip_timestamps: bool,
    /// Added to the sequence numbers of segments from port 0 to port 1
    /// (and taken off the acknowledgment numbers going back).
    pub seq_offset_0: u32,
    /// The same for segments from port 1 to port 0.
    pub seq_offset_1: u32,
    /// Also shift SACK blocks (a firewall that forgets them breaks SACK;
    /// the sender must then ignore blocks outside its window).
    pub rewrite_sack: bool,
}

/// A two-port bump in the wire that forwards every frame from one port to
/// the other and rewrites the TCP segments in them as [`Rewrite`] says,
/// fixing the TCP checksum.
#[derive(Debug)]
pub struct Middlebox {
    name: String,
    rewrite: Rewrite,
    out: VecDeque<(usize, Vec<u8>)>,
    rewritten: u64,
}

impl Middlebox {
    /// A middlebox that applies `rewrite`.
    pub fn new(name: impl Into<String>, rewrite: Rewrite) -> Self {
        Middlebox {
            name: name.into(),
            rewrite,
            out: VecDeque::new(),
            rewritten: 0,
        }
    }

    /// Segments changed so far.
    pub fn rewritten(&self) -> u64 {
        self.rewritten
    }

    /// Rewrites one IPv4/TCP frame in place; false when it is not one (or
    /// is damaged: it is forwarded untouched and the receiver drops it).
    fn rewrite_frame(&self, from_port: usize, frame: &mut [u8]) -> bool {
        if frame.len() < 14 + 20 || frame[12..14] != frames::ETHERTYPE_IPV4.to_be_bytes() {
            return false;
        }
        let ip = &mut frame[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if ip[0] >> 4 != 4 || ip[9] != 6 || ihl < 20 || total > ip.len() || total < ihl + 20 {
            return false;
        }
        if strata::wire::checksum::checksum(&ip[..ihl]) != 0 {
            return false;
        }
        let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        let tcp = &mut ip[ihl..total];
        {
            let Ok(p) = TcpPacket::new_checked(&*tcp) else {
                return false;
            };
            if !p.verify_checksum(src, dst) {
                return false;
            }
        }
        let r = self.rewrite;
        let (mine, theirs) = if from_port == 0 {
            (r.seq_offset_0, r.seq_offset_1)
        } else {
            (r.seq_offset_1, r.seq_offset_0)
        };
        let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]).wrapping_add(mine);
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        let ack_flag = tcp[13] & 0x10 != 0;
        if ack_flag {
            // Their sequence space reaches them shifted: shift it back.
            let ack = u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]).wrapping_sub(theirs);
            tcp[8..12].copy_from_slice(&ack.to_be_bytes());
        }
        let hl = usize::from(tcp[12] >> 4) * 4;
        let mut i = 20;
        while i < hl.min(tcp.len()) {
            let kind = tcp[i];
            if kind == 0 {
                break;
            }
            if kind == 1 {
                i += 1;
                continue;
            }
            let Some(&l) = tcp.get(i + 1) else { break };
            let l = usize::from(l);
            if l < 2 || i + l > hl {
                break;
            }
            let strip = match kind {
                2 => r.strip_mss,
                3 => r.strip_window_scale,
                4 | 5 => r.strip_sack,
                8 => r.strip_timestamps,
                _ => false,
            };
            if strip {
                tcp[i..i + l].fill(1);
            } else if kind == 5 && r.rewrite_sack {
                // SACK blocks name the other side's sequence space.
                let mut j = i + 2;
                while j + 8 <= i + l {
                    for k in [j, j + 4] {
                        let v = u32::from_be_bytes([tcp[k], tcp[k + 1], tcp[k + 2], tcp[k + 3]])
                            .wrapping_sub(theirs);
                        tcp[k..k + 4].copy_from_slice(&v.to_be_bytes());
                    }
                    j += 8;
                }
            }
            i += l;
        }
        match TcpPacket::new_checked(tcp) {
            Ok(mut p) => {
                p.fill_checksum(src, dst);
                true
            }
            Err(_) => false,
        }
    }
}

impl Node for Middlebox {
    fn receive(&mut self, _now: Instant, port: usize, frame: &[u8]) {
        let mut f = frame.to_vec();
        if self.rewrite_frame(port, &mut f) {
            self.rewritten += 1;
        }
        self.out.push_back((1 - port.min(1), f));
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<(usize, Vec<u8>)> {
        self.out.pop_front()
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_the_same_whatever_the_split() {
        let whole = pattern(9, 1000);
        for (off, len) in [
            (0usize, 1000usize),
            (3, 5),
            (7, 1),
            (8, 16),
            (13, 987),
            (999, 1),
        ] {
            let mut part = vec![0; len];
            pattern_fill(9, off as u64, &mut part);
            assert_eq!(part, whole[off..off + len], "off {off} len {len}");
        }
        assert_ne!(pattern(9, 64), pattern(10, 64));
        // A one-byte shift never matches.
        assert_ne!(whole[1..65], whole[..64]);
    }
}
