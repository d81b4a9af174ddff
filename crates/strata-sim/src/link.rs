//! One-way links: latency, bandwidth, a bounded queue, and faults.
//!
//! A cable between two ports is two independent one-way links (see
//! [`Sim::connect`](crate::Sim::connect)). A frame offered to a link goes
//! through these stages, in this order; each stage that drops it counts it
//! under its own cause in [`LinkStats`]:
//!
//! 1. **oversize**: longer than [`LinkConfig::max_frame`] → dropped;
//! 2. **partition**: the send instant lies in a partition window
//!    `[start, end)` → dropped;
//! 3. **queue**: the transmitter serialises one frame at a time at
//!    [`LinkConfig::bandwidth_bps`]; frames waiting behind the one being
//!    serialised form the queue, bounded by [`LinkConfig::queue_limit`];
//!    a frame that does not fit is tail-dropped;
//! 4. **loss on the wire** (the frame did use its transmission time):
//!    random loss with [`LinkConfig::loss`], then bursty loss from the
//!    Gilbert–Elliott channel [`LinkConfig::burst_loss`];
//! 5. **corruption**: with [`LinkConfig::corrupt`], one uniformly chosen bit
//!    of the frame is flipped (there is no FCS: the receiver must catch it
//!    with its own checksums); with [`LinkConfig::corrupt_ip_only`] only
//!    bits of IPv4 packets (past the Ethernet header), which the IP, TCP,
//!    UDP and ICMP checksums guard;
//! 6. **propagation**: arrival is the end of serialisation plus
//!    [`LinkConfig::latency`] plus a uniform draw in `[0, jitter]`. Jitter never reorders: a frame is
//!    never delivered before the one sent before it;
//! 7. **reordering**: with [`LinkConfig::reorder`], the frame is held back an
//!    extra [`LinkConfig::reorder_delay`] so later frames overtake it;
//! 8. **duplication**: with [`LinkConfig::duplicate`], an identical copy is
//!    delivered right after it.

use core::fmt;
use std::collections::VecDeque;

use strata::time::{Duration, Instant};

use crate::rng::Rng;

/// Identifies a one-way link within one [`Sim`](crate::Sim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub(crate) usize);

impl LinkId {
    /// The index of the link, in creation order.
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "link{}", self.0)
    }
}

/// How much a link's transmit queue may hold (frames waiting behind the one
/// being serialised).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueLimit {
    /// At most this many waiting frames.
    Frames(usize),
    /// At most this many waiting bytes.
    Bytes(usize),
    /// No limit.
    Unlimited,
}

/// The Gilbert–Elliott two-state channel for bursty loss.
///
/// The channel is either *good* or *bad*. Before each frame it moves
/// good→bad with probability `p_good_to_bad` or bad→good with
/// `p_bad_to_good`, then loses the frame with the loss probability of the
/// state it is in. Mean burst length in the bad state is `1 / p_bad_to_good`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// Probability of entering the bad state, per frame.
    pub p_good_to_bad: f64,
    /// Probability of leaving the bad state, per frame.
    pub p_bad_to_good: f64,
    /// Loss probability while good (often 0).
    pub loss_good: f64,
    /// Loss probability while bad (often 1).
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// The classic Gilbert model: no loss while good, every frame lost while bad.
    pub fn gilbert(p_good_to_bad: f64, p_bad_to_good: f64) -> Self {
        GilbertElliott {
            p_good_to_bad,
            p_bad_to_good,
            loss_good: 0.0,
            loss_bad: 1.0,
        }
    }

    /// Long-run fraction of frames lost.
    pub fn mean_loss(&self) -> f64 {
        let denom = self.p_good_to_bad + self.p_bad_to_good;
        if denom <= 0.0 {
            return self.loss_good;
        }
        let pi_bad = self.p_good_to_bad / denom;
        pi_bad * self.loss_bad + (1.0 - pi_bad) * self.loss_good
    }
}

/// Everything that shapes one one-way link. Build with `Default` and the
/// chained setters:
///
/// ```
/// use strata_sim::LinkConfig;
/// use strata::time::Duration;
/// let cfg = LinkConfig::default()
///     .with_latency(Duration::from_millis(5))
///     .with_bandwidth(10_000_000)
///     .with_loss(0.01);
/// assert_eq!(cfg.bandwidth_bps, 10_000_000);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay. Default 10 µs.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per frame (order kept). Default 0.
    pub jitter: Duration,
    /// Rate in bits per second; serialisation takes `8 × len / rate`
    /// (rounded up to a nanosecond). `0` means infinitely fast. Default 1 Gbit/s.
    pub bandwidth_bps: u64,
    /// Bound on the transmit queue. Default 1000 frames (Linux `txqueuelen`).
    pub queue_limit: QueueLimit,
    /// Largest frame carried, in bytes (Ethernet header included, no FCS).
    /// Default 1514, i.e. MTU 1500.
    pub max_frame: usize,
    /// Independent random loss probability per frame. Default 0.
    pub loss: f64,
    /// Bursty loss channel, if any. Default none.
    pub burst_loss: Option<GilbertElliott>,
    /// Probability that a delivered frame is delivered twice. Default 0.
    pub duplicate: f64,
    /// Probability that a frame is held back by [`LinkConfig::reorder_delay`]. Default 0.
    pub reorder: f64,
    /// Extra delay of a reordered frame. Default 1 ms.
    pub reorder_delay: Duration,
    /// Probability that one bit of a frame is flipped. Default 0.
    pub corrupt: f64,
    /// Corrupt only IPv4 packets, past the Ethernet header. This models
    /// damage that got past the link's FCS (in a router's or a NIC's
    /// memory): it hits routed packets, which carry checksums, and spares
    /// the Ethernet header and ARP, which a real FCS protects and which
    /// have no checksum of their own (a flipped bit in an ARP reply would
    /// otherwise poison a neighbour cache). Default false.
    pub corrupt_ip_only: bool,
    /// Windows `[start, end)` during which every frame sent is dropped.
    pub partitions: Vec<(Instant, Instant)>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_micros(10),
            jitter: Duration::ZERO,
            bandwidth_bps: 1_000_000_000,
            queue_limit: QueueLimit::Frames(1000),
            max_frame: strata::phy::DEFAULT_MAX_FRAME,
            loss: 0.0,
            burst_loss: None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(1),
            corrupt: 0.0,
            corrupt_ip_only: false,
            partitions: Vec::new(),
        }
    }
}

impl LinkConfig {
    /// A perfect link: no delay at all, infinite bandwidth, no queue bound, no faults.
    pub fn ideal() -> Self {
        LinkConfig {
            latency: Duration::ZERO,
            bandwidth_bps: 0,
            queue_limit: QueueLimit::Unlimited,
            max_frame: usize::MAX,
            ..LinkConfig::default()
        }
    }
    /// Sets [`LinkConfig::latency`].
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
    /// Sets [`LinkConfig::jitter`].
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }
    /// Sets [`LinkConfig::bandwidth_bps`] (bits per second, 0 = infinite).
    pub fn with_bandwidth(mut self, bps: u64) -> Self {
        self.bandwidth_bps = bps;
        self
    }
    /// Sets [`LinkConfig::queue_limit`].
    pub fn with_queue_limit(mut self, limit: QueueLimit) -> Self {
        self.queue_limit = limit;
        self
    }
    /// Sets [`LinkConfig::max_frame`].
    pub fn with_max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }
    /// Sets [`LinkConfig::loss`].
    pub fn with_loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }
    /// Sets [`LinkConfig::burst_loss`].
    pub fn with_burst_loss(mut self, ge: GilbertElliott) -> Self {
        self.burst_loss = Some(ge);
        self
    }
    /// Sets [`LinkConfig::duplicate`].
    pub fn with_duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }
    /// Sets [`LinkConfig::reorder`] and [`LinkConfig::reorder_delay`].
    pub fn with_reorder(mut self, p: f64, delay: Duration) -> Self {
        self.reorder = p;
        self.reorder_delay = delay;
        self
    }
    /// Sets [`LinkConfig::corrupt`].
    pub fn with_corrupt(mut self, p: f64) -> Self {
        self.corrupt = p;
        self
    }
    /// Adds a partition window `[start, end)`.
    pub fn with_partition(mut self, start: Instant, end: Instant) -> Self {
        self.partitions.push((start, end));
        self
    }

    /// Serialisation time of a `len`-byte frame at this link's rate.
    pub fn serialisation_delay(&self, len: usize) -> Duration {
        if self.bandwidth_bps == 0 {
            return Duration::ZERO;
        }
        let bits = (len as u128) * 8 * 1_000_000_000;
        let rate = u128::from(self.bandwidth_bps);
        let nanos = bits.div_ceil(rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn in_partition(&self, t: Instant) -> bool {
        self.partitions.iter().any(|&(s, e)| s <= t && t < e)
    }
}

/// Counters of one one-way link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames offered to the link by the sending node.
    pub frames_sent: u64,
    /// Bytes offered to the link.
    pub bytes_sent: u64,
    /// Frames handed to the receiving node (duplicates included).
    pub frames_delivered: u64,
    /// Bytes handed to the receiving node.
    pub bytes_delivered: u64,
    /// Dropped by independent random loss.
    pub dropped_loss: u64,
    /// Dropped by the Gilbert–Elliott burst channel.
    pub dropped_burst: u64,
    /// Tail-dropped because the queue was full.
    pub dropped_queue: u64,
    /// Dropped inside a partition window.
    pub dropped_partition: u64,
    /// Dropped for exceeding the link's largest frame.
    pub dropped_oversize: u64,
    /// Extra copies created.
    pub duplicated: u64,
    /// Frames held back to be overtaken.
    pub reordered: u64,
    /// Frames with one bit flipped.
    pub corrupted: u64,
    /// Longest the queue ever got, in frames.
    pub max_queue_frames: u64,
}

impl LinkStats {
    /// All drops, whatever the cause.
    pub fn dropped(&self) -> u64 {
        self.dropped_loss
            + self.dropped_burst
            + self.dropped_queue
            + self.dropped_partition
            + self.dropped_oversize
    }
}

/// Bytes as `512 B`, `1.5 kB`, `3.2 MB`.
pub(crate) fn human_bytes(b: u64) -> String {
    if b < 1_000 {
        format!("{b} B")
    } else if b < 1_000_000 {
        format!("{:.1} kB", b as f64 / 1e3)
    } else if b < 1_000_000_000 {
        format!("{:.1} MB", b as f64 / 1e6)
    } else {
        format!("{:.1} GB", b as f64 / 1e9)
    }
}

impl fmt::Display for LinkStats {
    /// One line, e.g.
    /// `sent 10 (640 B), delivered 9 (576 B), dropped 1 [loss 1], dup 0, reord 0, corrupt 0`.
    /// Drop causes that are zero are left out of the brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent {} ({}), delivered {} ({}), dropped {}",
            self.frames_sent,
            human_bytes(self.bytes_sent),
            self.frames_delivered,
            human_bytes(self.bytes_delivered),
            self.dropped()
        )?;
        let causes = [
            ("loss", self.dropped_loss),
            ("burst", self.dropped_burst),
            ("queue", self.dropped_queue),
            ("partition", self.dropped_partition),
            ("oversize", self.dropped_oversize),
        ];
        let nonzero: Vec<String> = causes
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        if !nonzero.is_empty() {
            write!(f, " [{}]", nonzero.join(", "))?;
        }
        write!(
            f,
            ", dup {}, reord {}, corrupt {}",
            self.duplicated, self.reordered, self.corrupted
        )
    }
}

/// What a link decided for one offered frame.
pub(crate) enum Fate {
    /// Dropped (already counted), with the cause's name.
    Dropped(&'static str),
    /// Deliver `frame` at `at`; if `duplicate`, deliver a copy right after.
    Deliver {
        at: Instant,
        frame: Vec<u8>,
        duplicate: bool,
    },
}

/// A one-way link's live state inside the simulator.
pub(crate) struct Link {
    pub(crate) config: LinkConfig,
    pub(crate) from: (usize, usize),
    pub(crate) to: (usize, usize),
    pub(crate) stats: LinkStats,
    /// When the transmitter finishes the last accepted frame.
    busy_until: Instant,
    /// Frames accepted but not yet started: (start of transmission, length).
    waiting: VecDeque<(Instant, usize)>,
    waiting_bytes: usize,
    /// Latest in-order arrival scheduled so far (jitter keeps order).
    last_arrival: Instant,
    /// Gilbert–Elliott state: true while bad.
    ge_bad: bool,
}

impl Link {
    pub(crate) fn new(config: LinkConfig, from: (usize, usize), to: (usize, usize)) -> Self {
        Link {
            config,
            from,
            to,
            stats: LinkStats::default(),
            busy_until: Instant::ZERO,
            waiting: VecDeque::new(),
            waiting_bytes: 0,
            last_arrival: Instant::ZERO,
            ge_bad: false,
        }
    }

    /// Offers `frame` to the link at `now`; decides its fate, drawing every
    /// random choice from `rng`.
    pub(crate) fn offer(&mut self, now: Instant, mut frame: Vec<u8>, rng: &mut Rng) -> Fate {
        let len = frame.len();
        self.stats.frames_sent += 1;
        self.stats.bytes_sent += len as u64;

        if len > self.config.max_frame {
            self.stats.dropped_oversize += 1;
            return Fate::Dropped("oversize");
        }
        if self.config.in_partition(now) {
            self.stats.dropped_partition += 1;
            return Fate::Dropped("partition");
        }

        // Queue: forget frames whose transmission has started by now.
        while let Some(&(start, l)) = self.waiting.front() {
            if start <= now {
                self.waiting.pop_front();
                self.waiting_bytes -= l;
            } else {
                break;
            }
        }
        let start = self.busy_until.max(now);
        if start > now {
            let fits = match self.config.queue_limit {
                QueueLimit::Frames(n) => self.waiting.len() < n,
                QueueLimit::Bytes(n) => self.waiting_bytes + len <= n,
                QueueLimit::Unlimited => true,
            };
            if !fits {
                self.stats.dropped_queue += 1;
                return Fate::Dropped("queue");
            }
            self.waiting.push_back((start, len));
            self.waiting_bytes += len;
            self.stats.max_queue_frames =
                self.stats.max_queue_frames.max(self.waiting.len() as u64);
        }
        let end = start + self.config.serialisation_delay(len);
        self.busy_until = end;

        // Loss on the wire: the frame has used its transmission time.
        if rng.chance(self.config.loss) {
            self.stats.dropped_loss += 1;
            return Fate::Dropped("loss");
        }
        if let Some(ge) = self.config.burst_loss {
            self.ge_bad = if self.ge_bad {
                !rng.chance(ge.p_bad_to_good)
            } else {
                rng.chance(ge.p_good_to_bad)
            };
            let p = if self.ge_bad {
                ge.loss_bad
            } else {
                ge.loss_good
            };
            if rng.chance(p) {
                self.stats.dropped_burst += 1;
                return Fate::Dropped("burst");
            }
        }

        if len > 0 && rng.chance(self.config.corrupt) {
            // The corruptible span: the whole frame, or an IPv4 packet's bytes.
            let from = if self.config.corrupt_ip_only {
                let ipv4 = frame.len() > 14 && frame[12..14] == [0x08, 0x00];
                if ipv4 {
                    14
                } else {
                    len
                }
            } else {
                0
            };
            if from < len {
                let bit = rng.below((len - from) as u64 * 8);
                frame[from + (bit / 8) as usize] ^= 1 << (bit % 8);
                self.stats.corrupted += 1;
            }
        }

        let mut at = end + self.config.latency;
        if !self.config.jitter.is_zero() {
            let j = u64::try_from(self.config.jitter.as_nanos()).unwrap_or(u64::MAX);
            at += Duration::from_nanos(rng.below(j.saturating_add(1)));
        }
        if rng.chance(self.config.reorder) {
            // Held back out of the FIFO: later frames may overtake it.
            self.stats.reordered += 1;
            at += self.config.reorder_delay;
        } else {
            at = at.max(self.last_arrival);
            self.last_arrival = at;
        }
        let duplicate = rng.chance(self.config.duplicate);
        if duplicate {
            self.stats.duplicated += 1;
        }
        Fate::Deliver {
            at,
            frame,
            duplicate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialisation_is_exact_and_rounds_up() {
        let c = LinkConfig::default().with_bandwidth(1_000_000);
        assert_eq!(c.serialisation_delay(125), Duration::from_millis(1));
        let c = LinkConfig::default().with_bandwidth(3);
        // 1 byte = 8 bits at 3 bit/s = 2.666… s → rounded up to the nanosecond
        assert_eq!(
            c.serialisation_delay(1),
            Duration::from_nanos(2_666_666_667)
        );
        assert_eq!(
            LinkConfig::ideal().serialisation_delay(1500),
            Duration::ZERO
        );
    }

    #[test]
    fn corrupt_ip_only_spares_the_ethernet_header_and_arp() {
        let cfg = LinkConfig {
            corrupt: 1.0,
            corrupt_ip_only: true,
            ..LinkConfig::ideal()
        };
        let mut link = Link::new(cfg, (0, 0), (1, 0));
        let mut rng = Rng::new(7);
        let mut arp = vec![0xffu8; 60];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let mut ip = vec![0x11u8; 60];
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        let mut hit = std::collections::BTreeSet::new();
        for _ in 0..400 {
            match link.offer(Instant::ZERO, arp.clone(), &mut rng) {
                Fate::Deliver { frame, .. } => assert_eq!(frame, arp),
                Fate::Dropped(c) => panic!("dropped: {c}"),
            }
            match link.offer(Instant::ZERO, ip.clone(), &mut rng) {
                Fate::Deliver { frame, .. } => {
                    let diff: Vec<usize> = (0..60).filter(|&i| frame[i] != ip[i]).collect();
                    assert_eq!(diff.len(), 1);
                    assert!(diff[0] >= 14, "bit flipped in the Ethernet header");
                    hit.insert(diff[0]);
                }
                Fate::Dropped(c) => panic!("dropped: {c}"),
            }
        }
        assert_eq!(link.stats.corrupted, 400);
        assert_eq!(hit.len(), 46, "every IPv4 byte position gets hit");
    }

    #[test]
    fn gilbert_mean_loss() {
        let ge = GilbertElliott::gilbert(0.01, 0.25);
        assert!((ge.mean_loss() - 0.01 / 0.26).abs() < 1e-12);
    }

    #[test]
    fn stats_display_lists_nonzero_causes() {
        let s = LinkStats {
            frames_sent: 10,
            bytes_sent: 640,
            frames_delivered: 8,
            bytes_delivered: 512,
            dropped_loss: 1,
            dropped_queue: 1,
            ..LinkStats::default()
        };
        assert_eq!(
            s.to_string(),
            "sent 10 (640 B), delivered 8 (512 B), dropped 2 [loss 1, queue 1], dup 0, reord 0, corrupt 0"
        );
    }
}
