//! The ARP neighbour cache and the per-neighbour queue of packets waiting
//! for resolution (RFC 826, RFC 1122 §2.3.2).
//!
//! The cache does not build frames: it tells its owner (the stack) what to
//! do — send this packet to that MAC, broadcast a request, report these
//! packets as undeliverable — and keeps the timers. Every entry is in one of
//! three states:
//!
//! - **incomplete**: a request is out, packets wait in a bounded queue;
//!   requests are repeated every `retry_interval` up to `max_requests` times,
//!   then the entry is removed and its packets are handed back as failed
//!   (host unreachable, RFC 1122 §2.3.2.2);
//! - **reachable**: the mapping was confirmed less than `reachable_time` ago;
//! - **stale**: older than that; still used, but the first use sends a
//!   refresh request (RFC 1122 §2.3.2.1 asks that stale entries be
//!   revalidated), and an entry unanswered or unused for `stale_time` goes.

use crate::time::{Duration, Instant};
use crate::wire::MacAddr;
use core::cell::Cell;
use core::net::Ipv4Addr;
use std::collections::{BTreeMap, VecDeque};

/// Tunables of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpConfig {
    /// How long a confirmed mapping is trusted before it becomes stale.
    pub reachable_time: Duration,
    /// How long a stale mapping is kept before it is removed.
    pub stale_time: Duration,
    /// Delay between repeated requests for one address (RFC 1122 §2.3.2.1:
    /// at most one request per second per destination).
    pub retry_interval: Duration,
    /// Requests sent before giving up (the first one included).
    pub max_requests: u32,
    /// Packets queued per unresolved neighbour; when full the oldest is
    /// dropped (RFC 1122 §2.3.2.2 SHOULD save at least one).
    pub queue_len: usize,
    /// Entries in the cache at most; beyond that new resolutions evict the
    /// oldest non-incomplete entry, or fail when all are incomplete.
    pub max_entries: usize,
    /// Bytes queued for one unresolved neighbour at most (the oldest
    /// packets give way; Linux's `unres_qlen_bytes`).
    pub queue_bytes: usize,
    /// Bytes queued for all unresolved neighbours together at most; a
    /// packet over it is dropped.
    pub total_queue_bytes: usize,
    /// A known mapping does not change to another MAC sooner than this
    /// after it was last set (Linux's `locktime`): a forged update racing a
    /// genuine one does not win by arriving last.
    pub lock_time: Duration,
}

impl Default for ArpConfig {
    fn default() -> Self {
        ArpConfig {
            reachable_time: Duration::from_secs(30),
            stale_time: Duration::from_secs(60),
            retry_interval: Duration::from_secs(1),
            max_requests: 3,
            queue_len: 16,
            max_entries: 1024,
            queue_bytes: 212_992,
            total_queue_bytes: 1024 * 1024,
            lock_time: Duration::from_secs(1),
        }
    }
}

/// The state of one neighbour entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighborState {
    /// Resolution in flight; packets are queued.
    Incomplete,
    /// Confirmed recently.
    Reachable,
    /// Not confirmed recently; used, and revalidated on use.
    Stale,
}

/// Counters of the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArpCacheStats {
    /// Packets sent straight away on a known mapping.
    pub hits: u64,
    /// Packets that had to wait for resolution.
    pub misses: u64,
    /// Requests the cache asked to send (first tries, retries, refreshes).
    pub requests: u64,
    /// Queued packets dropped because their neighbour's queue was full.
    pub queue_drops: u64,
    /// Packets dropped because the cache was full of incomplete entries.
    pub table_full_drops: u64,
    /// Resolutions that gave up after `max_requests` requests.
    pub failures: u64,
    /// Packets handed back as undeliverable after a failed resolution.
    pub failed_packets: u64,
    /// Updates to another MAC ignored within `lock_time` of the last.
    pub locked_updates: u64,
}

/// The bytes a queued packet holds, for the queue limits.
pub trait QueuedLen {
    /// Bytes held.
    fn queued_len(&self) -> usize;
}

impl QueuedLen for Vec<u8> {
    fn queued_len(&self) -> usize {
        self.capacity()
    }
}

impl QueuedLen for u32 {
    fn queued_len(&self) -> usize {
        // Tests queue numbers standing for 100-byte packets.
        100
    }
}

/// What to do with a packet offered to [`ArpCache::resolve`].
#[derive(Debug, PartialEq, Eq)]
pub enum Resolve<P> {
    /// The mapping is known: send `packet` to `mac`. When `refresh` is set
    /// the entry was stale and a request should be sent (unicast to `mac`)
    /// to revalidate it.
    Send {
        /// Destination hardware address.
        mac: MacAddr,
        /// The packet handed in.
        packet: P,
        /// Also send a refresh request.
        refresh: bool,
    },
    /// The packet waits for resolution. When `request` is set this is a
    /// new resolution and a broadcast request must be sent now.
    Queued {
        /// Send a broadcast request now.
        request: bool,
        /// Packets the bounded queue gave up to stay within its limits
        /// (older ones that made room, or this one when it could not be
        /// held), oldest first: they will never be sent, and their owner
        /// may want to count them.
        dropped: Vec<P>,
    },
    /// The cache is full of unresolved entries; the packet is handed back.
    Dropped(P),
}

/// What a timer asks the owner to do.
#[derive(Debug, PartialEq, Eq)]
pub enum ArpAction<P> {
    /// Send a request for `ip`: broadcast, or unicast to `unicast` when
    /// revalidating a known mapping.
    Request {
        /// The address to resolve.
        ip: Ipv4Addr,
        /// Unicast destination for a refresh, `None` for broadcast.
        unicast: Option<MacAddr>,
    },
    /// Resolution of `ip` gave up; each of `packets` is undeliverable and
    /// its sender should learn "host unreachable".
    Failed {
        /// The address that did not answer.
        ip: Ipv4Addr,
        /// The packets that were waiting, oldest first.
        packets: Vec<P>,
    },
}

#[derive(Debug)]
struct Entry<P> {
    state: NeighborState,
    mac: MacAddr,
    /// Incomplete: next retry. Reachable: when it turns stale.
    /// Stale: next refresh retry if refreshing, else removal.
    timer: Instant,
    /// Stale only: when the entry is removed regardless.
    expires: Instant,
    requests: u32,
    refreshing: bool,
    pending: VecDeque<P>,
    /// Bytes in `pending`.
    pending_bytes: usize,
    /// When `mac` was last set (for `lock_time`).
    updated: Instant,
}

/// The neighbour cache of one interface, holding queued packets of type `P`.
#[derive(Debug)]
pub struct ArpCache<P> {
    config: ArpConfig,
    entries: BTreeMap<Ipv4Addr, Entry<P>>,
    /// Bytes queued over all entries.
    queued_bytes: usize,
    stats: ArpCacheStats,
    /// Bumped by every call that may change an entry: a mapping
    /// [`ArpCache::lookup_for_send`] gave while it stays the same would be
    /// given again, with no side effect but the hit count (see
    /// [`ArpCache::count_hit`]).
    generation: u64,
    /// [`ArpCache::poll_timeout`]'s last answer and the generation it was
    /// computed at: the timers change only with the generation, so the
    /// answer stands until then (it is asked after every poll).
    next_timeout: Cell<Option<(u64, Option<Instant>)>>,
}

impl<P: QueuedLen> ArpCache<P> {
    /// An empty cache.
    pub fn new(config: ArpConfig) -> Self {
        ArpCache {
            config,
            entries: BTreeMap::new(),
            queued_bytes: 0,
            stats: ArpCacheStats::default(),
            generation: 0,
            next_timeout: Cell::new(None),
        }
    }

    /// The cache's generation: unchanged since a [`ArpCache::lookup_for_send`]
    /// returned `Some((mac, _))`, the same call would now return
    /// `Some((mac, false))`, so a sender may keep the mapping (one per flow
    /// or burst) and only count the hit.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Counts a packet sent on a mapping kept from
    /// [`ArpCache::lookup_for_send`] (see [`ArpCache::generation`]).
    pub(crate) fn count_hit(&mut self) {
        self.stats.hits += 1;
    }

    /// The configuration in force.
    pub fn config(&self) -> &ArpConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> ArpCacheStats {
        self.stats
    }

    /// The known mapping for `ip` (reachable or stale).
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.entries
            .get(&ip)
            .filter(|e| e.state != NeighborState::Incomplete)
            .map(|e| e.mac)
    }

    /// The state of the entry for `ip`.
    pub fn state(&self, ip: Ipv4Addr) -> Option<NeighborState> {
        self.entries.get(&ip).map(|e| e.state)
    }

    /// Bytes of packets waiting for resolution, over all neighbours.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// Number of packets waiting for `ip`.
    pub fn pending(&self, ip: Ipv4Addr) -> usize {
        self.entries.get(&ip).map_or(0, |e| e.pending.len())
    }

    /// All entries in address order: `(ip, mac, state)`; the MAC of an
    /// incomplete entry is unspecified.
    pub fn entries(&self) -> impl Iterator<Item = (Ipv4Addr, MacAddr, NeighborState)> + '_ {
        self.entries.iter().map(|(ip, e)| (*ip, e.mac, e.state))
    }

    /// The mapping to use for a packet to `ip` right now, without queueing
    /// anything: `Some((mac, refresh))` when known (counted as a hit; when
    /// `refresh` is set the entry was stale and a unicast request should
    /// revalidate it), `None` when unknown or still incomplete.
    pub fn lookup_for_send(&mut self, now: Instant, ip: Ipv4Addr) -> Option<(MacAddr, bool)> {
        let cfg = self.config;
        let e = self.entries.get_mut(&ip)?;
        match e.state {
            NeighborState::Reachable => {
                self.stats.hits += 1;
                Some((e.mac, false))
            }
            NeighborState::Stale => {
                self.stats.hits += 1;
                // RFC 1122 §2.3.2.1: revalidate a stale entry by a unicast
                // poll; keep using it meanwhile.
                let refresh = !e.refreshing;
                if refresh {
                    self.generation += 1;
                    e.refreshing = true;
                    e.requests = 1;
                    e.timer = now + cfg.retry_interval;
                    self.stats.requests += 1;
                }
                Some((e.mac, refresh))
            }
            NeighborState::Incomplete => None,
        }
    }

    /// Negative advice from an upper layer (RFC 1122 §3.3.1.4; TCP after
    /// R1 retransmissions, RFC 9293 §3.8.3 MUST-20): the neighbour may be
    /// gone. A reachable entry turns stale, so the next packet to `ip` is
    /// still sent but a unicast request re-confirms the mapping, and an
    /// entry that stays unanswered is dropped. Returns whether `ip` had a
    /// resolved entry.
    pub fn mark_stale(&mut self, now: Instant, ip: Ipv4Addr) -> bool {
        self.generation += 1;
        let cfg = self.config;
        match self.entries.get_mut(&ip) {
            Some(e) if e.state == NeighborState::Reachable => {
                e.state = NeighborState::Stale;
                e.timer = Instant::MAX;
                e.expires = now + cfg.stale_time;
                e.refreshing = false;
                true
            }
            Some(e) => e.state == NeighborState::Stale,
            None => false,
        }
    }

    /// Offers a packet for next hop `ip`.
    pub fn resolve(&mut self, now: Instant, ip: Ipv4Addr, packet: P) -> Resolve<P> {
        self.generation += 1;
        let cfg = self.config;
        if let Some((mac, refresh)) = self.lookup_for_send(now, ip) {
            return Resolve::Send {
                mac,
                packet,
                refresh,
            };
        }
        if let Some(e) = self.entries.get_mut(&ip) {
            // Known mappings were answered above: this entry is incomplete.
            self.stats.misses += 1;
            let dropped = Self::enqueue(cfg, &mut self.queued_bytes, &mut self.stats, e, packet);
            return Resolve::Queued {
                request: false,
                dropped,
            };
        }
        if self.entries.len() >= cfg.max_entries && !self.evict_one() {
            self.stats.table_full_drops += 1;
            return Resolve::Dropped(packet);
        }
        self.stats.misses += 1;
        self.stats.requests += 1;
        let mut e = Entry {
            state: NeighborState::Incomplete,
            mac: MacAddr::UNSPECIFIED,
            timer: now + cfg.retry_interval,
            expires: Instant::MAX,
            requests: 1,
            refreshing: false,
            pending: VecDeque::new(),
            pending_bytes: 0,
            updated: now,
        };
        let dropped = Self::enqueue(cfg, &mut self.queued_bytes, &mut self.stats, &mut e, packet);
        self.entries.insert(ip, e);
        Resolve::Queued {
            request: true,
            dropped,
        }
    }

    /// Queues `packet` on an incomplete entry within the count and byte
    /// limits (RFC 1122 §2.3.2.2: SHOULD keep at least one; the newest is
    /// kept, the oldest give way). Returns the packets given up, oldest
    /// first.
    fn enqueue(
        cfg: ArpConfig,
        queued: &mut usize,
        stats: &mut ArpCacheStats,
        e: &mut Entry<P>,
        packet: P,
    ) -> Vec<P> {
        let len = packet.queued_len();
        if cfg.queue_len == 0 || len > cfg.queue_bytes {
            stats.queue_drops += 1;
            return vec![packet];
        }
        let mut dropped = Vec::new();
        while e.pending.len() >= cfg.queue_len || e.pending_bytes + len > cfg.queue_bytes {
            let Some(old) = e.pending.pop_front() else {
                break;
            };
            let l = old.queued_len();
            e.pending_bytes -= l;
            *queued -= l;
            stats.queue_drops += 1;
            dropped.push(old);
        }
        if *queued + len > cfg.total_queue_bytes {
            stats.queue_drops += 1;
            dropped.push(packet);
            return dropped;
        }
        e.pending_bytes += len;
        *queued += len;
        e.pending.push_back(packet);
        dropped
    }

    /// Takes an entry's queue, releasing its bytes.
    fn take_pending(queued: &mut usize, e: &mut Entry<P>) -> VecDeque<P> {
        *queued -= e.pending_bytes;
        e.pending_bytes = 0;
        core::mem::take(&mut e.pending)
    }

    /// Removes the resolved entry closest to expiry; false if every entry is
    /// incomplete.
    fn evict_one(&mut self) -> bool {
        let victim = self
            .entries
            .iter()
            .filter(|(_, e)| e.state != NeighborState::Incomplete)
            .min_by_key(|(ip, e)| (e.state == NeighborState::Reachable, e.timer, **ip))
            .map(|(ip, _)| *ip);
        match victim {
            Some(ip) => {
                self.remove(ip);
                true
            }
            None => false,
        }
    }

    /// Records that `ip` is at `mac`, from an ARP request or reply naming
    /// `ip` as its sender. RFC 826 "merge": an existing entry is updated;
    /// a new one is created only when `create` is set (we were the target,
    /// or we asked). Returns the packets that were waiting for `ip`, to be
    /// sent to `mac` now, oldest first.
    pub fn learn(&mut self, now: Instant, ip: Ipv4Addr, mac: MacAddr, create: bool) -> VecDeque<P> {
        self.generation += 1;
        let cfg = self.config;
        if !mac.is_unicast() || mac == MacAddr::UNSPECIFIED {
            return VecDeque::new();
        }
        match self.entries.get_mut(&ip) {
            Some(e) => {
                if e.state != NeighborState::Incomplete
                    && e.mac != mac
                    && now < e.updated + cfg.lock_time
                {
                    // Locked: a second claim this soon after the last
                    // change is ignored.
                    self.stats.locked_updates += 1;
                    return VecDeque::new();
                }
                if e.mac != mac {
                    e.updated = now;
                }
                e.state = NeighborState::Reachable;
                e.mac = mac;
                e.timer = now + cfg.reachable_time;
                e.expires = Instant::MAX;
                e.requests = 0;
                e.refreshing = false;
                Self::take_pending(&mut self.queued_bytes, e)
            }
            None => {
                if create && (self.entries.len() < cfg.max_entries || self.evict_one()) {
                    self.entries.insert(
                        ip,
                        Entry {
                            state: NeighborState::Reachable,
                            mac,
                            timer: now + cfg.reachable_time,
                            expires: Instant::MAX,
                            requests: 0,
                            refreshing: false,
                            pending: VecDeque::new(),
                            pending_bytes: 0,
                            updated: now,
                        },
                    );
                }
                VecDeque::new()
            }
        }
    }

    /// Forgets `ip`, returning any packets that were waiting for it.
    pub fn remove(&mut self, ip: Ipv4Addr) -> VecDeque<P> {
        self.generation += 1;
        match self.entries.remove(&ip) {
            Some(mut e) => Self::take_pending(&mut self.queued_bytes, &mut e),
            None => VecDeque::new(),
        }
    }

    /// When [`ArpCache::handle_timeout`] next has work. The answer is kept
    /// until an entry changes, so asking again (after every poll) costs a
    /// comparison.
    #[inline]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.next_timeout.get() {
            Some((generation, t)) if generation == self.generation => t,
            _ => self.next_timeout_anew(),
        }
    }

    /// [`ArpCache::poll_timeout`] from the entries, kept for the current
    /// generation.
    #[cold]
    fn next_timeout_anew(&self) -> Option<Instant> {
        let t = self.entries.values().map(|e| e.timer.min(e.expires)).min();
        self.next_timeout.set(Some((self.generation, t)));
        t
    }

    /// Runs the timers due at `now`, appending what the owner must do to
    /// `actions`.
    pub fn handle_timeout(&mut self, now: Instant, actions: &mut Vec<ArpAction<P>>) {
        self.generation += 1;
        let cfg = self.config;
        let due: Vec<Ipv4Addr> = self
            .entries
            .iter()
            .filter(|(_, e)| e.timer.min(e.expires) <= now)
            .map(|(ip, _)| *ip)
            .collect();
        for ip in due {
            let Some(e) = self.entries.get_mut(&ip) else {
                continue;
            };
            match e.state {
                NeighborState::Incomplete => {
                    if e.requests < cfg.max_requests {
                        e.requests += 1;
                        e.timer = now + cfg.retry_interval;
                        self.stats.requests += 1;
                        actions.push(ArpAction::Request { ip, unicast: None });
                    } else {
                        // RFC 1122 §2.3.2.2 / §3.2.2.1: resolution failed,
                        // the packets' senders learn "host unreachable".
                        let packets = self.remove(ip);
                        self.stats.failures += 1;
                        self.stats.failed_packets += packets.len() as u64;
                        actions.push(ArpAction::Failed {
                            ip,
                            packets: packets.into(),
                        });
                    }
                }
                NeighborState::Reachable => {
                    e.state = NeighborState::Stale;
                    e.timer = Instant::MAX;
                    e.expires = now + cfg.stale_time;
                }
                NeighborState::Stale => {
                    if e.expires <= now {
                        self.entries.remove(&ip);
                    } else if e.refreshing {
                        if e.requests < cfg.max_requests {
                            e.requests += 1;
                            e.timer = now + cfg.retry_interval;
                            self.stats.requests += 1;
                            // First refresh was unicast; later ones broadcast
                            // in case the neighbour changed its address.
                            actions.push(ArpAction::Request { ip, unicast: None });
                        } else {
                            // The neighbour stopped answering: forget it so
                            // the next packet starts a fresh resolution.
                            self.entries.remove(&ip);
                        }
                    } else {
                        e.timer = Instant::MAX;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn queued_packets_flush_in_order_on_reply() {
        let mut c: ArpCache<u32> = ArpCache::new(ArpConfig::default());
        let queued = |request| Resolve::Queued {
            request,
            dropped: vec![],
        };
        assert_eq!(c.resolve(t(0), IP, 1), queued(true));
        assert_eq!(c.resolve(t(1), IP, 2), queued(false));
        assert_eq!(c.resolve(t(2), IP, 3), queued(false));
        assert_eq!(c.state(IP), Some(NeighborState::Incomplete));
        assert_eq!(c.lookup(IP), None);
        let flushed = c.learn(t(5), IP, MAC, false);
        assert_eq!(flushed, [1, 2, 3]);
        assert_eq!(c.lookup(IP), Some(MAC));
        assert_eq!(
            c.resolve(t(6), IP, 4),
            Resolve::Send {
                mac: MAC,
                packet: 4,
                refresh: false
            }
        );
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.requests, s.queue_drops), (1, 3, 1, 0));
    }

    #[test]
    fn full_queue_drops_oldest_with_counter() {
        let cfg = ArpConfig {
            queue_len: 3,
            ..ArpConfig::default()
        };
        let mut c: ArpCache<u32> = ArpCache::new(cfg);
        let mut given_up = Vec::new();
        for i in 0..5 {
            match c.resolve(t(0), IP, i) {
                Resolve::Queued { dropped, .. } => given_up.extend(dropped),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(c.pending(IP), 3);
        assert_eq!(c.stats().queue_drops, 2);
        // The owner gets back what gave way, to count it against its sender.
        assert_eq!(given_up, [0, 1]);
        assert_eq!(c.learn(t(1), IP, MAC, false), [2, 3, 4]);
    }

    #[test]
    fn retries_then_fails_with_every_queued_packet() {
        let mut c: ArpCache<u32> = ArpCache::new(ArpConfig::default());
        c.resolve(t(0), IP, 7);
        c.resolve(t(0), IP, 8);
        let mut acts = Vec::new();
        // Nothing due before the retry interval.
        c.handle_timeout(t(999), &mut acts);
        assert!(acts.is_empty());
        assert_eq!(c.poll_timeout(), Some(t(1000)));
        c.handle_timeout(t(1000), &mut acts);
        c.handle_timeout(t(2000), &mut acts);
        assert_eq!(
            acts,
            [
                ArpAction::Request {
                    ip: IP,
                    unicast: None
                },
                ArpAction::Request {
                    ip: IP,
                    unicast: None
                }
            ]
        );
        acts.clear();
        c.handle_timeout(t(3000), &mut acts);
        assert_eq!(
            acts,
            [ArpAction::Failed {
                ip: IP,
                packets: vec![7, 8]
            }]
        );
        assert_eq!(c.state(IP), None);
        assert_eq!(c.stats().requests, 3);
        assert_eq!(c.stats().failures, 1);
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn reachable_goes_stale_refreshes_then_expires() {
        let cfg = ArpConfig::default();
        let mut c: ArpCache<u32> = ArpCache::new(cfg);
        c.learn(t(0), IP, MAC, true);
        let mut acts = Vec::new();
        c.handle_timeout(t(30_000), &mut acts);
        assert_eq!(c.state(IP), Some(NeighborState::Stale));
        // Use while stale: still sent, and a refresh is requested once.
        match c.resolve(t(31_000), IP, 1) {
            Resolve::Send {
                refresh: true, mac, ..
            } => assert_eq!(mac, MAC),
            other => panic!("{other:?}"),
        }
        match c.resolve(t(31_001), IP, 2) {
            Resolve::Send { refresh: false, .. } => {}
            other => panic!("{other:?}"),
        }
        // An answer makes it reachable again.
        c.learn(t(31_500), IP, MAC, false);
        assert_eq!(c.state(IP), Some(NeighborState::Reachable));
        // Unused stale entries are removed after stale_time.
        c.handle_timeout(t(61_500), &mut acts);
        assert_eq!(c.state(IP), Some(NeighborState::Stale));
        c.handle_timeout(t(121_500), &mut acts);
        assert_eq!(c.state(IP), None);
        assert!(acts.is_empty());
    }

    #[test]
    fn unanswered_refresh_forgets_entry() {
        let mut c: ArpCache<u32> = ArpCache::new(ArpConfig::default());
        c.learn(t(0), IP, MAC, true);
        let mut acts = Vec::new();
        c.handle_timeout(t(30_000), &mut acts);
        c.resolve(t(30_000), IP, 1);
        c.handle_timeout(t(31_000), &mut acts);
        c.handle_timeout(t(32_000), &mut acts);
        assert_eq!(acts.len(), 2);
        c.handle_timeout(t(33_000), &mut acts);
        assert_eq!(c.state(IP), None);
    }

    #[test]
    fn merge_rule_only_creates_when_asked() {
        let mut c: ArpCache<u32> = ArpCache::new(ArpConfig::default());
        c.learn(t(0), IP, MAC, false);
        assert_eq!(c.state(IP), None);
        c.learn(t(0), IP, MacAddr::BROADCAST, true);
        assert_eq!(c.state(IP), None, "broadcast MAC never cached");
        c.learn(t(0), IP, MAC, true);
        assert_eq!(c.lookup(IP), Some(MAC));
    }

    #[test]
    fn table_full_of_incomplete_entries_drops() {
        let cfg = ArpConfig {
            max_entries: 2,
            ..ArpConfig::default()
        };
        let mut c: ArpCache<u32> = ArpCache::new(cfg);
        c.resolve(t(0), Ipv4Addr::new(10, 0, 0, 1), 1);
        c.resolve(t(0), Ipv4Addr::new(10, 0, 0, 2), 2);
        assert_eq!(
            c.resolve(t(0), Ipv4Addr::new(10, 0, 0, 3), 3),
            Resolve::Dropped(3)
        );
        assert_eq!(c.stats().table_full_drops, 1);
        // A resolved entry can be evicted for a new one.
        c.learn(t(1), Ipv4Addr::new(10, 0, 0, 1), MAC, false);
        assert_eq!(
            c.resolve(t(2), Ipv4Addr::new(10, 0, 0, 4), 4),
            Resolve::Queued {
                request: true,
                dropped: vec![]
            }
        );
        assert_eq!(c.state(Ipv4Addr::new(10, 0, 0, 1)), None);
    }
}
