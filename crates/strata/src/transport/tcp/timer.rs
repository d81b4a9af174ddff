//! One timer structure for every connection of an engine: a hashed timing
//! wheel with exact deadlines.
//!
//! A binary heap of all deadlines costs O(log n) per operation, and with
//! 100 000 connections each push and pop walks ~18 levels of a heap far
//! larger than the cache. Here a deadline lands in one of [`SLOTS`] buckets
//! of 2^20 ns (about a millisecond) (an O(1) append to a vector that is hot
//! because neighbouring deadlines share it); deadlines beyond the wheel's
//! horizon (rare: keepalive, TIME-WAIT, backed-off retransmissions) wait in a heap and move into the wheel as time advances.
//! When time reaches a bucket its entries move into `near`, a vector sorted
//! latest-first that only ever holds about one tick's worth of entries, and
//! fire from its end in exact `(deadline, slot, generation)` order — the
//! same order as one big heap, so behaviour does not depend on the data
//! structure.
//!
//! A connection whose deadline moved later keeps its old entry, which the
//! engine recognises as early or stale when it fires (lazy invalidation:
//! moving a deadline costs nothing). An entry nobody will want any more (a
//! connection with no deadline left, or freed) is cancelled with
//! [`TimerWheel::remove`] when it is still within the horizon, so that it
//! does not wake the stack for nothing.

use crate::time::Instant;
use core::cmp::Reverse;
use std::collections::BinaryHeap;

/// log2 of the bucket width in nanoseconds (2^20 ns ≈ 1.05 ms).
const TICK_SHIFT: u32 = 20;
/// Bucket width in nanoseconds.
#[cfg(test)]
const TICK_NS: u64 = 1 << TICK_SHIFT;
/// Buckets in the wheel: a horizon of SLOTS × TICK_NS ≈ 4.3 s.
pub(crate) const SLOTS: usize = 4096;
const WORDS: usize = SLOTS / 64;

/// One scheduled deadline: connection slot `idx` of generation `gen` wants
/// attention at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    /// When.
    pub at: Instant,
    /// Connection slot.
    pub idx: u32,
    /// The slot's generation when the entry was made.
    pub gen: u32,
}

fn tick(at: Instant) -> u64 {
    at.as_nanos() >> TICK_SHIFT
}

/// The timing wheel. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct TimerWheel {
    /// `SLOTS` buckets (allocated with the first entry); bucket `t % SLOTS`
    /// holds the entries of tick `t` for `cur <= t < cur + SLOTS`.
    slots: Vec<Vec<Entry>>,
    /// One bit per non-empty bucket.
    occupied: [u64; WORDS],
    /// Every tick before `cur` has been moved to `near`.
    cur: u64,
    /// Entries of ticks before `cur`, sorted latest first (the next to fire
    /// is the last).
    near: Vec<Entry>,
    /// Entries at or beyond `cur + SLOTS`.
    far: BinaryHeap<Reverse<Entry>>,
    /// No entry is earlier than this (exact after every `pop_due` round).
    next: Option<Instant>,
    /// Entries held in the buckets.
    in_slots: usize,
}

impl Default for TimerWheel {
    fn default() -> Self {
        TimerWheel {
            slots: Vec::new(),
            occupied: [0; WORDS],
            cur: 0,
            near: Vec::new(),
            far: BinaryHeap::new(),
            next: None,
            in_slots: 0,
        }
    }
}

impl TimerWheel {
    /// Entries held (stale ones included).
    pub fn len(&self) -> usize {
        self.near.len() + self.in_slots + self.far.len()
    }

    /// The earliest deadline held (stale entries included): a timer never
    /// fires later than this says. O(1).
    pub fn next(&self) -> Option<Instant> {
        self.next
    }

    /// Schedule `e`.
    pub fn insert(&mut self, e: Entry) {
        self.next = Some(self.next.map_or(e.at, |n| n.min(e.at)));
        let t = tick(e.at);
        if t < self.cur {
            // Rare: a deadline within the current tick. Keep `near` sorted.
            let at = self.near.partition_point(|x| x > &e);
            self.near.insert(at, e);
        } else if t - self.cur < SLOTS as u64 {
            if self.slots.is_empty() {
                self.slots.resize_with(SLOTS, Vec::new);
            }
            let s = (t % SLOTS as u64) as usize;
            self.slots[s].push(e);
            self.occupied[s / 64] |= 1 << (s % 64);
            self.in_slots += 1;
        } else {
            self.far.push(Reverse(e));
        }
    }

    /// Cancels entry `e` if it waits in the wheel's near part or its
    /// buckets (a short scan of one bucket, about a millisecond's worth of
    /// entries); true if it was found there. Entries beyond the horizon
    /// stay in their heap and fire stale. The earliest deadline is
    /// recomputed when `e` was it, so a cancelled timer wakes nobody.
    pub fn remove(&mut self, e: Entry) -> bool {
        let t = tick(e.at);
        let found = if t < self.cur {
            // `near` is sorted latest first.
            match self.near.binary_search_by(|x| e.cmp(x)) {
                Ok(i) => {
                    self.near.remove(i);
                    true
                }
                Err(_) => false,
            }
        } else if t - self.cur < SLOTS as u64 && self.in_slots > 0 {
            let s = (t % SLOTS as u64) as usize;
            let bucket = &mut self.slots[s];
            match bucket.iter().position(|x| *x == e) {
                Some(i) => {
                    bucket.swap_remove(i);
                    if bucket.is_empty() {
                        self.occupied[s / 64] &= !(1 << (s % 64));
                    }
                    self.in_slots -= 1;
                    true
                }
                None => false,
            }
        } else {
            false
        };
        if found && self.next == Some(e.at) {
            self.next = self.earliest();
        }
        found
    }

    /// Move every bucket of a tick up to and including `now`'s into `near`,
    /// and far entries that came within the horizon into the buckets.
    fn advance(&mut self, now: Instant) {
        let target = tick(now).saturating_add(1);
        if target <= self.cur {
            return;
        }
        if self.in_slots > 0 {
            // Visit only non-empty buckets, at most one revolution.
            let span = (target - self.cur).min(SLOTS as u64);
            let mut t = self.cur;
            let end = self.cur + span;
            let before = self.near.len();
            while t < end {
                let Some(n) = self.next_occupied(t, end) else {
                    break;
                };
                let s = (n % SLOTS as u64) as usize;
                let mut v = core::mem::take(&mut self.slots[s]);
                self.occupied[s / 64] &= !(1 << (s % 64));
                self.in_slots -= v.len();
                let used = v.len();
                self.near.append(&mut v);
                // Keep the allocation for the next revolution when it fits
                // what this tick used; give back what a burst (a SYN storm)
                // made large.
                if v.capacity() <= 64 || v.capacity() <= 2 * used {
                    self.slots[s] = v;
                }
                t = n + 1;
            }
            if self.near.len() != before {
                self.near.sort_unstable_by(|a, b| b.cmp(a));
            }
        }
        self.cur = target;
        while let Some(&Reverse(e)) = self.far.peek() {
            if tick(e.at) >= self.cur + SLOTS as u64 {
                break;
            }
            self.far.pop();
            self.insert(e);
        }
    }

    /// The first tick in `from..end` (`end - from <= SLOTS`) whose bucket
    /// is non-empty.
    fn next_occupied(&self, from: u64, end: u64) -> Option<u64> {
        let mut t = from;
        while t < end {
            let s = (t % SLOTS as u64) as usize;
            let bits = self.occupied[s / 64] >> (s % 64);
            if bits != 0 {
                let n = t + u64::from(bits.trailing_zeros());
                return (n < end).then_some(n);
            }
            t += 64 - (s % 64) as u64;
        }
        None
    }

    /// The next entry due at `now`, in `(deadline, idx, gen)` order. Entries
    /// inserted while draining are considered too.
    pub fn pop_due(&mut self, now: Instant) -> Option<Entry> {
        if self.next.is_none_or(|n| n > now) {
            return None;
        }
        self.advance(now);
        if let Some(&e) = self.near.last() {
            if e.at <= now {
                self.near.pop();
                return Some(e);
            }
        }
        self.next = self.earliest();
        None
    }

    /// The exact earliest deadline held.
    fn earliest(&self) -> Option<Instant> {
        if let Some(&e) = self.near.last() {
            // Every bucket and far entry is of a later tick.
            return Some(e.at);
        }
        if self.in_slots > 0 {
            if let Some(n) = self.next_occupied(self.cur, self.cur + SLOTS as u64) {
                let s = (n % SLOTS as u64) as usize;
                return self.slots[s].iter().map(|e| e.at).min();
            }
        }
        self.far.peek().map(|&Reverse(e)| e.at)
    }

    /// Give back memory a burst left behind.
    pub fn shrink(&mut self) {
        if self.near.capacity() > 4096 && self.near.len() < self.near.capacity() / 4 {
            self.near.shrink_to(self.near.len() * 2);
        }
        if self.far.capacity() > 4096 && self.far.len() < self.far.capacity() / 4 {
            self.far.shrink_to(self.far.len() * 2);
        }
        if self.len() == 0 && !self.slots.is_empty() {
            self.slots = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(ns: u64, idx: u32) -> Entry {
        Entry {
            at: Instant::from_nanos(ns),
            idx,
            gen: 0,
        }
    }

    /// Drains everything due at `now`.
    fn due(w: &mut TimerWheel, now: u64) -> Vec<(u64, u32)> {
        let mut v = Vec::new();
        while let Some(x) = w.pop_due(Instant::from_nanos(now)) {
            v.push((x.at.as_nanos(), x.idx));
        }
        v
    }

    #[test]
    fn fires_in_deadline_order_never_late_never_early() {
        let mut w = TimerWheel::default();
        // Same tick, different ticks, beyond the horizon, at zero.
        let ats = [
            5 * TICK_NS + 3,
            5 * TICK_NS + 1,
            2,
            TICK_NS * SLOTS as u64 * 3 + 7,
            TICK_NS * 100,
            0,
        ];
        for (i, &a) in ats.iter().enumerate() {
            w.insert(e(a, i as u32));
        }
        assert_eq!(w.next(), Some(Instant::from_nanos(0)));
        assert_eq!(due(&mut w, 1), vec![(0, 5)]);
        assert_eq!(w.next(), Some(Instant::from_nanos(2)));
        assert_eq!(
            due(&mut w, 5 * TICK_NS + 2),
            vec![(2, 2), (5 * TICK_NS + 1, 1)]
        );
        assert_eq!(w.next(), Some(Instant::from_nanos(5 * TICK_NS + 3)));
        assert_eq!(due(&mut w, 5 * TICK_NS + 2), vec![]);
        assert_eq!(
            due(&mut w, 100 * TICK_NS),
            vec![(5 * TICK_NS + 3, 0), (100 * TICK_NS, 4)]
        );
        let far = TICK_NS * SLOTS as u64 * 3 + 7;
        assert_eq!(w.next(), Some(Instant::from_nanos(far)));
        assert_eq!(due(&mut w, far - 1), vec![]);
        assert_eq!(due(&mut w, far), vec![(far, 3)]);
        assert_eq!(w.next(), None);
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn removed_entries_never_fire_and_move_the_next_deadline() {
        let mut w = TimerWheel::default();
        let far = TICK_NS * SLOTS as u64 * 2;
        for (i, at) in [
            (0, 3 * TICK_NS),
            (1, 3 * TICK_NS + 5),
            (2, 9 * TICK_NS),
            (3, far),
        ] {
            w.insert(e(at, i));
        }
        assert_eq!(w.next(), Some(Instant::from_nanos(3 * TICK_NS)));
        // From a bucket: the next deadline moves on to the other entry.
        assert!(w.remove(e(3 * TICK_NS, 0)));
        assert!(!w.remove(e(3 * TICK_NS, 0)), "gone already");
        assert_eq!(w.next(), Some(Instant::from_nanos(3 * TICK_NS + 5)));
        // From `near` (its tick reached, not yet due).
        assert_eq!(due(&mut w, 3 * TICK_NS + 1), vec![]);
        assert!(w.remove(e(3 * TICK_NS + 5, 1)));
        assert_eq!(w.next(), Some(Instant::from_nanos(9 * TICK_NS)));
        // Beyond the horizon: left to fire (stale) from the heap.
        assert!(!w.remove(e(far, 3)));
        assert_eq!(due(&mut w, far), vec![(9 * TICK_NS, 2), (far, 3)]);
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn matches_a_binary_heap() {
        // Pseudo-random inserts and polls: the wheel fires exactly what a
        // heap of the same entries would, in the same order.
        let mut w = TimerWheel::default();
        let mut h = BinaryHeap::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut now = 0u64;
        for i in 0..20_000u32 {
            let r = rnd();
            let spread = match r % 4 {
                0 => TICK_NS,
                1 => 200 * TICK_NS,
                2 => 3 * SLOTS as u64 * TICK_NS,
                _ => 5_000_000,
            };
            let at = now + rnd() % spread;
            w.insert(e(at, i));
            h.push(Reverse(e(at, i)));
            if r % 7 == 1 {
                // Cancel an entry: where the wheel can, the heap loses it too.
                let victim = e(at, i);
                if w.remove(victim) {
                    h.retain(|Reverse(x)| *x != victim);
                }
            }
            if r % 3 == 0 {
                now += rnd() % (TICK_NS * 50);
                let got = due(&mut w, now);
                let mut want = Vec::new();
                while h.peek().is_some_and(|Reverse(x)| x.at.as_nanos() <= now) {
                    let Reverse(x) = h.pop().unwrap();
                    want.push((x.at.as_nanos(), x.idx));
                }
                assert_eq!(got, want);
                assert_eq!(w.next(), h.peek().map(|Reverse(x)| x.at));
                assert_eq!(w.len(), h.len());
            }
        }
    }
}
