//! Where the engine keeps its connections, laid out for many of them.
//!
//! With 100 000 connections nothing per connection stays in cache, so a
//! segment's cost is the cache lines it must fetch. Two structures keep
//! that count low:
//!
//! - [`Slab`]: connections stored inline in fixed chunks (no box per
//!   connection, so no pointer to chase, and no reallocation that would
//!   move them); slot `i` is found with a shift and a mask.
//! - [`Demux`]: the 4-tuple → slot index table, open addressing with
//!   linear probing over 8-byte entries (32 bits of the key's hash, slot
//!   index), so a lookup reads one cache line of the table and then the
//!   connection itself, where the full key is compared. A general hash map
//!   would read a control group and then a separate bucket line.

/// Slots per chunk of a [`Slab`].
const CHUNK: usize = 64;

/// Values in chunks of [`CHUNK`], addressed by index. Chunks are allocated
/// as the slab grows and never move, so growth copies nothing.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Slots ever pushed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Slot `i`, if pushed.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
    }

    /// Slot `i`, if pushed.
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks
            .get_mut(i / CHUNK)
            .and_then(|c| c.get_mut(i % CHUNK))
    }

    /// Append a slot; returns its index.
    pub fn push(&mut self, v: T) -> usize {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        if let Some(c) = self.chunks.last_mut() {
            c.push(v);
        }
        self.len += 1;
        self.len - 1
    }

    /// Every slot in index order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }

    /// Every slot in index order, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.chunks.iter_mut().flatten()
    }
}

impl<T> core::ops::Index<usize> for Slab<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<T> core::ops::IndexMut<usize> for Slab<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

/// A hash → slot index table. The caller hashes the key (with a seeded
/// hasher) and confirms candidates against the key stored in the slot, so
/// the table itself holds no keys. Entry: `hash32 << 32 | (idx + 1)`, 0 is
/// empty. Capacity is a power of two, at most half full.
#[derive(Debug, Default)]
pub(crate) struct Demux {
    entries: Vec<u64>,
    len: usize,
}

impl Demux {
    fn mask(&self) -> usize {
        self.entries.len().wrapping_sub(1)
    }

    /// Entries held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The slot index whose key has hash `h` and satisfies `is_key`.
    /// Always inlined: each caller passes its own `is_key`, and the lookup
    /// of every inbound segment must not pay a call (after the TIME-WAIT
    /// records made `is_key` larger, the compiler stopped inlining it).
    #[inline(always)]
    pub fn get(&self, h: u64, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let h32 = h as u32;
        let mask = self.mask();
        let mut i = h32 as usize & mask;
        loop {
            let e = self.entries[i];
            if e == 0 {
                return None;
            }
            if (e >> 32) as u32 == h32 {
                let idx = (e as u32).wrapping_sub(1);
                if is_key(idx) {
                    return Some(idx);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Add slot `idx` under hash `h` (the key must not be present).
    pub fn insert(&mut self, h: u64, idx: u32) {
        if (self.len + 1) * 2 > self.entries.len() {
            self.grow();
        }
        self.place(h as u32, idx);
        self.len += 1;
    }

    fn place(&mut self, h32: u32, idx: u32) {
        let mask = self.mask();
        let mut i = h32 as usize & mask;
        while self.entries[i] != 0 {
            i = (i + 1) & mask;
        }
        self.entries[i] = (u64::from(h32) << 32) | u64::from(idx.wrapping_add(1));
    }

    fn grow(&mut self) {
        let cap = (self.entries.len() * 2).max(16);
        let old = core::mem::replace(&mut self.entries, vec![0; cap]);
        for e in old.into_iter().filter(|&e| e != 0) {
            self.place((e >> 32) as u32, (e as u32).wrapping_sub(1));
        }
    }

    /// Remove slot `idx` stored under hash `h`; true if it was there.
    pub fn remove(&mut self, h: u64, idx: u32) -> bool {
        if self.len == 0 {
            return false;
        }
        let want = (u64::from(h as u32) << 32) | u64::from(idx.wrapping_add(1));
        let mask = self.mask();
        let mut i = h as u32 as usize & mask;
        loop {
            match self.entries[i] {
                0 => return false,
                e if e == want => break,
                _ => i = (i + 1) & mask,
            }
        }
        // Backward-shift deletion: pull later entries of the probe run into
        // the hole when their home position allows, so no tombstones.
        let mut hole = i;
        let mut j = (i + 1) & mask;
        loop {
            let e = self.entries[j];
            if e == 0 {
                break;
            }
            let home = (e >> 32) as usize & mask;
            // Move `e` if its home is not in (hole, j] (cyclically).
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.entries[hole] = e;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.entries[hole] = 0;
        self.len -= 1;
        // Give memory back after a burst.
        if self.entries.len() > 64 && self.len * 8 < self.entries.len() {
            let smaller = vec![0; self.entries.len() / 4];
            let old = core::mem::replace(&mut self.entries, smaller);
            for e in old.into_iter().filter(|&e| e != 0) {
                self.place((e >> 32) as u32, (e as u32).wrapping_sub(1));
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn slab_indexes_across_chunks() {
        let mut s = Slab::default();
        for i in 0..200u32 {
            assert_eq!(s.push(i * 3), i as usize);
        }
        assert_eq!(s.len(), 200);
        assert_eq!(s[130], 390);
        s[130] = 7;
        assert_eq!(s.get(130), Some(&7));
        assert_eq!(s.get(200), None);
        assert_eq!(s.iter().count(), 200);
        assert_eq!(s.iter().nth(64), Some(&192));
    }

    #[test]
    fn demux_matches_a_hash_map() {
        // Keys with deliberately colliding hashes (few distinct values)
        // exercise probing and backward-shift deletion.
        let mut d = Demux::default();
        let mut m: HashMap<u32, u64> = HashMap::new();
        let hash = |k: u32| u64::from(k.wrapping_mul(0x9e37_79b9) % 37);
        let mut x: u32 = 0x1234_5678;
        for step in 0..50_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let k = x % 500;
            // The "slot" of key k is k itself: is_key compares directly.
            let found = d.get(hash(k), |idx| idx == k);
            assert_eq!(found.is_some(), m.contains_key(&k), "step {step}");
            if found.is_some() {
                assert!(d.remove(hash(k), k));
                m.remove(&k);
            } else {
                d.insert(hash(k), k);
                m.insert(k, hash(k));
            }
            assert_eq!(d.len(), m.len());
        }
        for (&k, &h) in &m {
            assert_eq!(d.get(h, |idx| idx == k), Some(k));
        }
        for k in 0..500 {
            if !m.contains_key(&k) {
                assert_eq!(d.get(hash(k), |idx| idx == k), None);
                assert!(!d.remove(hash(k), k));
            }
        }
    }
}
