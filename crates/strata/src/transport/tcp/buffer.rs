//! Send and receive buffers that grow on demand up to a per-socket limit.
//!
//! Both are built on [`Ring`], a ring of bytes in a `Vec<u8>` that starts
//! empty (no allocation), so an idle connection that never moved data holds
//! no buffer memory at all. Growth doubles up to the limit; trimming on ACK
//! and reading by the application only move an index.
//!
//! The receive side keeps out-of-order data in place in the ring and tracks
//! it with an [`Assembler`]: a bounded list of received ranges beyond the
//! in-order point, merged as they touch, which also yields the SACK blocks
//! (RFC 2018 §4: the block holding the most recently received segment first).

use crate::wire::checksum;

/// Smallest allocation made when a buffer first grows.
const MIN_ALLOC: usize = 256;

/// A growable ring of bytes. Logical index 0 is the oldest byte.
#[derive(Debug, Default)]
pub struct Ring {
    buf: Vec<u8>,
    head: usize,
}

impl Ring {
    /// An empty ring; allocates nothing.
    pub const fn new() -> Self {
        Ring {
            buf: Vec::new(),
            head: 0,
        }
    }

    /// Bytes allocated.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Make room for logical indices `0..need`, keeping the first `keep`
    /// logical bytes (and everything up to the old capacity) in place.
    fn reserve(&mut self, need: usize, limit: usize) {
        let cap = self.buf.len();
        if need <= cap {
            return;
        }
        let new_cap = need.max(cap * 2).max(MIN_ALLOC).min(limit.max(need));
        let mut nb = vec![0u8; new_cap];
        if cap > 0 {
            let (a, b) = self.buf.split_at(self.head);
            nb[..b.len()].copy_from_slice(b);
            nb[b.len()..cap].copy_from_slice(a);
        }
        self.buf = nb;
        self.head = 0;
    }

    /// Bytes the allocation grows by to make room for logical indices
    /// `0..need` under `limit` (0 when it already fits): what
    /// [`Ring::reserve`] would add.
    fn growth(&self, need: usize, limit: usize) -> usize {
        let cap = self.buf.len();
        if need <= cap {
            return 0;
        }
        need.max(cap * 2).max(MIN_ALLOC).min(limit.max(need)) - cap
    }

    /// Reallocate to hold just the first `keep` logical bytes (rounded up
    /// to [`MIN_ALLOC`]), when that gives back at least half the
    /// allocation.
    fn compact(&mut self, keep: usize) {
        let cap = self.buf.len();
        let want = if keep == 0 { 0 } else { keep.max(MIN_ALLOC) };
        if cap == 0 || want > cap / 2 {
            return;
        }
        let mut nb = vec![0u8; want];
        if keep > 0 {
            let (a, b) = self.slices(0, keep);
            nb[..a.len()].copy_from_slice(a);
            nb[a.len()..keep].copy_from_slice(b);
        }
        self.buf = nb;
        self.head = 0;
    }

    /// Release the allocation (only when the ring holds nothing of value).
    fn release(&mut self) {
        self.buf = Vec::new();
        self.head = 0;
    }

    /// Give up the allocation for reuse (only when the ring holds nothing
    /// of value).
    fn take_alloc(&mut self) -> Vec<u8> {
        self.head = 0;
        core::mem::take(&mut self.buf)
    }

    /// Start an unallocated ring on `v`: what its first growth to `v.len()`
    /// bytes would have allocated.
    fn adopt(&mut self, v: Vec<u8>) {
        debug_assert!(self.buf.is_empty());
        self.buf = v;
        self.head = 0;
    }

    /// True when the first growth of this (unallocated) ring to hold
    /// logical indices `0..need` under `limit` allocates exactly
    /// [`MIN_ALLOC`] bytes (see [`Ring::reserve`]): a pooled allocation can
    /// stand in for it.
    fn first_growth_is_min(&self, need: usize, limit: usize) -> bool {
        self.buf.is_empty() && need > 0 && need <= MIN_ALLOC && limit >= MIN_ALLOC
    }

    /// Write `data` at logical index `at` (must be within capacity).
    fn write_at(&mut self, at: usize, data: &[u8]) {
        let (a, b) = self.slices_mut(at, data.len());
        let (da, db) = data.split_at(a.len());
        a.copy_from_slice(da);
        b.copy_from_slice(db);
    }

    /// Like [`Ring::write_at`], returning the [`checksum::sum`] of `data`
    /// computed in the same pass as the copy.
    fn write_at_summed(&mut self, at: usize, data: &[u8]) -> u16 {
        let (a, b) = self.slices_mut(at, data.len());
        let (da, db) = data.split_at(a.len());
        let s1 = checksum::copy_and_sum(a, da);
        if db.is_empty() {
            return s1;
        }
        let s2 = checksum::copy_and_sum(b, db);
        // RFC 1071 §2(B): a part that starts at an odd offset of the data
        // sums with its bytes swapped.
        let s2 = if da.len() % 2 == 1 {
            s2.swap_bytes()
        } else {
            s2
        };
        checksum::combine(&[s1, s2])
    }

    /// The storage for logical `at..at + len` (within capacity) as one or
    /// two slices: up to the end of the ring, then from its start.
    fn slices_mut(&mut self, at: usize, len: usize) -> (&mut [u8], &mut [u8]) {
        let cap = self.buf.len();
        debug_assert!(at + len <= cap);
        let start = (self.head + at) % cap.max(1);
        let first = len.min(cap - start);
        let (wrapped, tail) = self.buf.split_at_mut(start);
        (&mut tail[..first], &mut wrapped[..len - first])
    }

    /// The bytes at logical `at..at + len` as one or two slices.
    fn slices(&self, at: usize, len: usize) -> (&[u8], &[u8]) {
        let cap = self.buf.len();
        if len == 0 || cap == 0 {
            return (&[], &[]);
        }
        let start = (self.head + at) % cap;
        let first = len.min(cap - start);
        (&self.buf[start..start + first], &self.buf[..len - first])
    }

    /// Drop `n` bytes from the front.
    fn advance(&mut self, n: usize) {
        let cap = self.buf.len();
        if cap > 0 {
            self.head = (self.head + n) % cap;
        }
    }
}

/// The first, smallest ring allocations ([`MIN_ALLOC`] bytes) that
/// connections of one engine gave back (TIME-WAIT, close, end of stream),
/// kept for the next connections' first writes: a short connection's
/// buffers then cost no allocator call and no zeroing. Bounded
/// ([`BufPool::MAX`] entries); the bytes in a pooled allocation are never
/// read (a ring reads only what was written into it).
#[derive(Debug, Default)]
pub(crate) struct BufPool {
    free: Vec<Vec<u8>>,
    /// RACK states of freed connections (their transmit records' room
    /// kept). Boxed on purpose: the boxes themselves are what is reused.
    #[allow(clippy::vec_box)]
    racks: Vec<Box<super::rack::Rack>>,
    /// HyStart++ states of freed connections (the boxes, reused).
    #[allow(clippy::vec_box)]
    hystarts: Vec<Box<super::hystart::HyStart>>,
}

impl BufPool {
    /// Most allocations kept (16 KiB).
    pub const MAX: usize = 64;

    /// Keep `v` for reuse if it is a first allocation and there is room.
    pub fn put(&mut self, v: Vec<u8>) {
        if v.len() == MIN_ALLOC && self.free.len() < Self::MAX {
            self.free.push(v);
        }
    }

    /// A pooled allocation, if any.
    pub fn take(&mut self) -> Option<Vec<u8>> {
        self.free.pop()
    }

    /// A RACK state for a connection whose SND.UNA is `una`: a pooled one
    /// made new, else a fresh allocation.
    pub fn rack(&mut self, una: crate::transport::tcp::seq::SeqNumber) -> Box<super::rack::Rack> {
        match self.racks.pop() {
            Some(mut r) => {
                r.reset(una);
                r
            }
            None => Box::new(super::rack::Rack::new(una)),
        }
    }

    /// Keep a freed connection's RACK state for the next one.
    pub fn put_rack(&mut self, r: Box<super::rack::Rack>) {
        if self.racks.len() < Self::MAX {
            self.racks.push(r);
        }
    }

    /// A HyStart++ state at the start of slow start.
    pub fn hystart(&mut self) -> Box<super::hystart::HyStart> {
        match self.hystarts.pop() {
            Some(mut h) => {
                *h = super::hystart::HyStart::new();
                h
            }
            None => Box::default(),
        }
    }

    /// Keep a freed connection's HyStart++ state for the next one.
    pub fn put_hystart(&mut self, h: Box<super::hystart::HyStart>) {
        if self.hystarts.len() < Self::MAX {
            self.hystarts.push(h);
        }
    }
}

/// Bytes written by the application and not yet acknowledged by the peer.
///
/// Logical index 0 is the byte at `SND.UNA` (or the first data byte while
/// the SYN is unacknowledged).
#[derive(Debug)]
pub struct SendBuffer {
    ring: Ring,
    len: usize,
    limit: usize,
}

impl SendBuffer {
    /// An empty buffer that may grow to `limit` bytes.
    pub const fn new(limit: usize) -> Self {
        SendBuffer {
            ring: Ring::new(),
            len: 0,
            limit,
        }
    }
    /// Bytes held (sent-unacked plus unsent).
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Room left before the limit (none while more than the limit is held,
    /// after the limit was lowered).
    pub fn free(&self) -> usize {
        self.limit.saturating_sub(self.len)
    }
    /// The buffer limit.
    pub fn limit(&self) -> usize {
        self.limit
    }
    /// Changes the limit. Bytes already held stay; below them the
    /// application cannot write until the peer acknowledges enough.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }
    /// Bytes allocated.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }
    /// Append as much of `data` as fits; returns the count taken.
    pub fn write(&mut self, data: &[u8]) -> usize {
        self.write_within(data, usize::MAX)
    }
    /// [`SendBuffer::write`] growing the allocation by at most `grow`
    /// bytes (a memory budget's room): the rest of `data` is not taken.
    pub fn write_within(&mut self, data: &[u8], grow: usize) -> usize {
        let room = self.ring.capacity().saturating_add(grow).min(self.limit);
        let n = data
            .len()
            .min(self.free())
            .min(room.saturating_sub(self.len));
        if n == 0 {
            return 0;
        }
        self.ring.reserve(self.len + n, room);
        self.ring.write_at(self.len, &data[..n]);
        self.len += n;
        n
    }
    /// The bytes at `offset..offset + len` (clamped to what is held).
    pub fn get(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let offset = offset.min(self.len);
        let len = len.min(self.len - offset);
        self.ring.slices(offset, len)
    }
    /// Forget the first `n` bytes (acknowledged by the peer).
    pub fn ack(&mut self, n: usize) {
        let n = n.min(self.len);
        self.ring.advance(n);
        self.len -= n;
    }
    /// Free the allocation if the buffer is empty (idle connections cost little).
    pub fn shrink_if_empty(&mut self) {
        if self.len == 0 && self.ring.capacity() > 0 {
            self.ring.release();
        }
    }
    /// [`SendBuffer::shrink_if_empty`], keeping a first allocation in `pool`.
    pub(crate) fn shrink_into(&mut self, pool: &mut BufPool) {
        if self.len == 0 && self.ring.capacity() > 0 {
            pool.put(self.ring.take_alloc());
        }
    }
    /// Before [`SendBuffer::write_within`]`(data, grow)` of `want` bytes:
    /// when that write would make the buffer's first allocation, of
    /// [`MIN_ALLOC`] bytes, take it from `pool` instead (the same capacity,
    /// so nothing else changes).
    pub(crate) fn prime(&mut self, pool: &mut BufPool, want: usize, grow: usize) {
        let room = self.ring.capacity().saturating_add(grow).min(self.limit);
        let n = want.min(self.free()).min(room.saturating_sub(self.len));
        if self.ring.first_growth_is_min(self.len + n, room) {
            if let Some(v) = pool.take() {
                self.ring.adopt(v);
            }
        }
    }
    /// Reallocate down to the bytes held, when that halves the allocation
    /// (memory pressure).
    pub fn compact(&mut self) {
        self.ring.compact(self.len);
    }
}

/// One range of out-of-order data, offsets relative to `RCV.NXT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u32,
    end: u32,
    /// Recency stamp: larger = updated more recently.
    stamp: u32,
}

/// Tracks which bytes beyond the in-order point have arrived.
///
/// At most `max_ranges` disjoint ranges are kept; a segment that would need
/// one more is refused (the sender will retransmit it).
#[derive(Debug)]
pub struct Assembler {
    ranges: Vec<Range>,
    max_ranges: usize,
    clock: u32,
}

/// The assembler has no room for another disjoint range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyHoles;

impl Assembler {
    /// An empty assembler keeping at most `max_ranges` ranges.
    pub const fn new(max_ranges: usize) -> Self {
        Assembler {
            ranges: Vec::new(),
            max_ranges,
            clock: 0,
        }
    }

    /// True when no out-of-order data is held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of disjoint ranges held.
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    /// Record that `[start, end)` (offsets from `RCV.NXT`) has arrived.
    /// Overlapping and touching ranges are merged.
    pub fn add(&mut self, start: u32, end: u32) -> Result<(), TooManyHoles> {
        if start >= end {
            return Ok(());
        }
        // First range that ends at or after `start` (could touch).
        let i = self.ranges.partition_point(|r| r.end < start);
        // Ranges i..j overlap or touch [start, end].
        let mut j = i;
        while j < self.ranges.len() && self.ranges[j].start <= end {
            j += 1;
        }
        self.clock = self.clock.wrapping_add(1);
        if i == j {
            if self.ranges.len() >= self.max_ranges {
                return Err(TooManyHoles);
            }
            self.ranges.insert(
                i,
                Range {
                    start,
                    end,
                    stamp: self.clock,
                },
            );
        } else {
            let s = start.min(self.ranges[i].start);
            let e = end.max(self.ranges[j - 1].end);
            self.ranges[i] = Range {
                start: s,
                end: e,
                stamp: self.clock,
            };
            self.ranges.drain(i + 1..j);
        }
        Ok(())
    }

    /// The first part of `[start, end)` already held, if any (a
    /// duplicate to report as a D-SACK, RFC 2883 §4.2).
    pub fn overlap(&self, start: u32, end: u32) -> Option<(u32, u32)> {
        let i = self.ranges.partition_point(|r| r.end <= start);
        let r = self.ranges.get(i)?;
        let (a, b) = (start.max(r.start), end.min(r.end));
        (a < b).then_some((a, b))
    }

    /// If data now starts at offset 0, remove that range, shift the rest
    /// down and return its length (the bytes that became in-order).
    pub fn pop_front(&mut self) -> usize {
        match self.ranges.first() {
            Some(r) if r.start == 0 => {
                let n = r.end;
                self.ranges.remove(0);
                for r in &mut self.ranges {
                    r.start -= n;
                    r.end -= n;
                }
                if self.ranges.is_empty() {
                    self.ranges = Vec::new();
                }
                n as usize
            }
            _ => 0,
        }
    }

    /// Fill `out` with up to `out.len()` ranges as `(start, end)` offsets,
    /// most recently updated first (RFC 2018 §4). Returns the count.
    pub fn sack_ranges(&self, out: &mut [(u32, u32)]) -> usize {
        let mut n = 0;
        let mut below = u64::MAX;
        // Repeated selection of the next most recent: ranges are few and
        // stamps are distinct.
        while n < out.len() {
            let best = self
                .ranges
                .iter()
                .filter(|r| u64::from(r.stamp) < below)
                .max_by_key(|r| r.stamp);
            match best {
                Some(r) => {
                    out[n] = (r.start, r.end);
                    n += 1;
                    below = u64::from(r.stamp);
                }
                None => break,
            }
        }
        n
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.ranges = Vec::new();
    }

    /// The end of the furthest range held (offset from `RCV.NXT`; 0 when
    /// none).
    pub fn end(&self) -> u32 {
        self.ranges.last().map_or(0, |r| r.end)
    }
}

/// Received bytes not yet read by the application, plus out-of-order data.
#[derive(Debug)]
pub struct RecvBuffer {
    ring: Ring,
    /// In-order bytes readable by the application.
    len: usize,
    limit: usize,
    asm: Assembler,
}

/// The outcome of [`RecvBuffer::write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Bytes of the segment stored (after clipping to the window).
    pub stored: usize,
    /// Bytes that became in-order (RCV.NXT advances by this).
    pub advanced: usize,
}

impl RecvBuffer {
    /// An empty buffer that may grow to `limit` bytes; at most `max_ranges`
    /// out-of-order ranges are kept.
    pub const fn new(limit: usize, max_ranges: usize) -> Self {
        RecvBuffer {
            ring: Ring::new(),
            len: 0,
            limit,
            asm: Assembler::new(max_ranges),
        }
    }
    /// In-order bytes ready for the application.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when nothing is readable.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The buffer limit.
    pub fn limit(&self) -> usize {
        self.limit
    }
    /// Room from `RCV.NXT` to the limit: the receive window.
    pub fn window(&self) -> usize {
        self.limit.saturating_sub(self.len)
    }
    /// Changes the limit. The caller keeps it at or above what it already
    /// promised the peer (the readable bytes plus the advertised window).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }
    /// Bytes allocated.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }
    /// The out-of-order tracker (for SACK blocks).
    pub fn assembler(&self) -> &Assembler {
        &self.asm
    }

    /// Copies in-order `data` (starting at `RCV.NXT`) into the free space
    /// right after the readable bytes *without* making it readable, and
    /// returns its [`checksum::sum`], computed in the same pass: the receive
    /// path verifies a segment's checksum while copying its data, instead of
    /// reading it once to verify and once more to store.
    ///
    /// `None` (nothing copied) unless the common case holds: no
    /// out-of-order data held, and `data` fits the window and the ring as
    /// already allocated (staging never allocates, so segments that fail the
    /// checksum cost no memory). The copy becomes readable only through a
    /// following [`RecvBuffer::write_staged`] of the same bytes.
    pub fn stage(&mut self, data: &[u8]) -> Option<u16> {
        let end = self.len + data.len();
        if data.is_empty()
            || !self.asm.is_empty()
            || data.len() > self.window()
            || end > self.ring.capacity()
        {
            return None;
        }
        Some(self.ring.write_at_summed(self.len, data))
    }

    /// Store `data` that starts `offset` bytes after `RCV.NXT`. Bytes beyond
    /// the window are dropped. Out-of-order data is kept if the assembler has
    /// room, else the whole segment is refused (`stored == 0`).
    pub fn write(&mut self, offset: usize, data: &[u8]) -> Written {
        self.write_staged(offset, data, 0)
    }

    /// [`RecvBuffer::write`] when the first `staged` bytes of `data` were
    /// already copied in place by [`RecvBuffer::stage`] (with nothing
    /// written to the buffer since): those are not copied again.
    pub fn write_staged(&mut self, offset: usize, data: &[u8], staged: usize) -> Written {
        let win = self.window();
        if offset >= win || data.is_empty() {
            return Written {
                stored: 0,
                advanced: 0,
            };
        }
        let n = data.len().min(win - offset);
        if offset == 0 && self.asm.is_empty() {
            // In-order data with no hole behind it (the common case): it
            // becomes readable at once; the assembler is not involved.
            if staged < n {
                self.ring.reserve(self.len + n, self.limit);
                self.ring.write_at(self.len, &data[..n]);
            }
            self.len += n;
            return Written {
                stored: n,
                advanced: n,
            };
        }
        // Offsets fit u32: the window never exceeds the limit (< 2^30).
        if self.asm.add(offset as u32, (offset + n) as u32).is_err() {
            return Written {
                stored: 0,
                advanced: 0,
            };
        }
        self.ring.reserve(self.len + offset + n, self.limit);
        self.ring.write_at(self.len + offset, &data[..n]);
        let advanced = self.asm.pop_front();
        self.len += advanced;
        Written {
            stored: n,
            advanced,
        }
    }

    /// Copy readable bytes into `out`, consuming them; returns the count.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        let (a, b) = self.ring.slices(0, n);
        out[..a.len()].copy_from_slice(a);
        out[a.len()..n].copy_from_slice(b);
        self.consume(n);
        n
    }

    /// The first contiguous run of readable bytes (all of them unless they
    /// wrap the end of the ring), without consuming.
    pub fn readable(&self) -> &[u8] {
        self.ring.slices(0, self.len).0
    }

    /// Drop the first `n` readable bytes (clamped), as read by the
    /// application in place; returns the count.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        self.ring.advance(n);
        self.len -= n;
        if self.len == 0 && self.asm.is_empty() {
            // Nothing held: restart at the front of the ring so the next
            // segments land contiguously.
            self.ring.head = 0;
        }
        n
    }

    /// The readable bytes as one or two slices, without consuming.
    pub fn peek(&self) -> (&[u8], &[u8]) {
        self.ring.slices(0, self.len)
    }

    /// Free the allocation when nothing is held.
    pub fn shrink_if_empty(&mut self) {
        if self.len == 0 && self.asm.is_empty() && self.ring.capacity() > 0 {
            self.ring.release();
        }
    }

    /// [`RecvBuffer::shrink_if_empty`], keeping a first allocation in `pool`.
    pub(crate) fn shrink_into(&mut self, pool: &mut BufPool) {
        if self.len == 0 && self.asm.is_empty() && self.ring.capacity() > 0 {
            pool.put(self.ring.take_alloc());
        }
    }

    /// Before [`RecvBuffer::write_staged`]`(offset, data, 0)`: when that
    /// write would make the buffer's first allocation, of [`MIN_ALLOC`]
    /// bytes, take it from `pool` instead (the same capacity).
    pub(crate) fn prime(&mut self, pool: &mut BufPool, offset: usize, n: usize) {
        let n = n.min(self.window().saturating_sub(offset));
        if n > 0
            && self
                .ring
                .first_growth_is_min(self.len + offset + n, self.limit)
        {
            if let Some(v) = pool.take() {
                self.ring.adopt(v);
            }
        }
    }

    /// Reallocate down to the bytes held (readable and out of order),
    /// when that halves the allocation (memory pressure).
    pub fn compact(&mut self) {
        self.ring.compact(self.len + self.asm.end() as usize);
    }

    /// Bytes the allocation would grow by to store `n` bytes at `offset`
    /// past `RCV.NXT` (0 when they fit what is allocated).
    pub fn growth_for(&self, offset: usize, n: usize) -> usize {
        let n = n.min(self.window().saturating_sub(offset));
        if n == 0 {
            return 0;
        }
        self.ring.growth(self.len + offset + n, self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pool_keeps_first_allocations_only_and_is_bounded() {
        let mut pool = BufPool::default();
        pool.put(vec![0; 2 * MIN_ALLOC]);
        assert!(pool.take().is_none(), "a grown allocation is not pooled");
        for _ in 0..BufPool::MAX + 10 {
            pool.put(vec![0; MIN_ALLOC]);
        }
        let mut n = 0;
        while pool.take().is_some() {
            n += 1;
        }
        assert_eq!(n, BufPool::MAX);
    }

    #[test]
    fn pooled_allocation_stands_in_for_the_first_growth_only() {
        let mut pool = BufPool::default();
        // A connection gives back its send buffer's first allocation.
        let mut old = SendBuffer::new(1 << 20);
        old.write(b"old bytes");
        old.ack(9);
        old.shrink_into(&mut pool);
        assert_eq!(old.capacity(), 0);
        // A write that would allocate MIN_ALLOC takes it: same capacity as
        // without the pool, and the new bytes only.
        let mut s = SendBuffer::new(1 << 20);
        s.prime(&mut pool, 64, usize::MAX);
        assert_eq!(s.capacity(), MIN_ALLOC);
        assert!(pool.take().is_none());
        assert_eq!(s.write(&[7; 64]), 64);
        assert_eq!(s.get(0, 64), (&[7u8; 64][..], &[][..]));
        // One that would allocate more, or a buffer limited below
        // MIN_ALLOC, allocates as before.
        pool.put(vec![0; MIN_ALLOC]);
        let mut big = SendBuffer::new(1 << 20);
        big.prime(&mut pool, MIN_ALLOC + 1, usize::MAX);
        assert_eq!(big.capacity(), 0);
        let mut small = SendBuffer::new(100);
        small.prime(&mut pool, 10, usize::MAX);
        assert_eq!(small.capacity(), 0);
        // Nor when the memory budget would not let it grow that far.
        let mut tight = SendBuffer::new(1 << 20);
        tight.prime(&mut pool, 10, MIN_ALLOC - 1);
        assert_eq!(tight.capacity(), 0);
        // The receive side likewise, for in-order and out-of-order data.
        let mut r = RecvBuffer::new(1 << 20, 4);
        r.prime(&mut pool, 10, 20);
        assert_eq!(r.capacity(), MIN_ALLOC);
        let w = r.write(10, &[1; 20]);
        assert_eq!((w.stored, w.advanced), (20, 0));
        assert_eq!(r.capacity(), MIN_ALLOC);
        r.shrink_into(&mut pool);
        assert_eq!(r.capacity(), MIN_ALLOC, "out-of-order data is held");
    }

    #[test]
    fn send_buffer_grows_and_trims() {
        let mut s = SendBuffer::new(1000);
        assert_eq!(s.capacity(), 0);
        assert_eq!(s.write(&[1; 300]), 300);
        assert!(s.capacity() >= 300);
        assert_eq!(s.write(&[2; 900]), 700);
        assert_eq!(s.free(), 0);
        s.ack(250);
        assert_eq!(s.len(), 750);
        assert_eq!(s.write(&[3; 100]), 100);
        // Wrapped read across the end of the ring.
        let (a, b) = s.get(0, 850);
        let all: Vec<u8> = a.iter().chain(b).copied().collect();
        assert_eq!(all.len(), 850);
        assert!(all[..50].iter().all(|&x| x == 1));
        assert!(all[50..750].iter().all(|&x| x == 2));
        assert!(all[750..].iter().all(|&x| x == 3));
        s.ack(10_000);
        assert!(s.is_empty());
        s.shrink_if_empty();
        assert_eq!(s.capacity(), 0);
    }

    #[test]
    fn assembler_merges_and_reports_recent_first() {
        let mut a = Assembler::new(3);
        a.add(10, 20).unwrap();
        a.add(30, 40).unwrap();
        a.add(50, 60).unwrap();
        assert_eq!(a.add(70, 80), Err(TooManyHoles));
        let mut out = [(0, 0); 4];
        assert_eq!(a.sack_ranges(&mut out), 3);
        assert_eq!(&out[..3], &[(50, 60), (30, 40), (10, 20)]);
        // Touching ranges merge; the merged block becomes the most recent.
        a.add(20, 30).unwrap();
        assert_eq!(a.range_count(), 2);
        assert_eq!(a.sack_ranges(&mut out), 2);
        assert_eq!(&out[..2], &[(10, 40), (50, 60)]);
        assert_eq!(a.pop_front(), 0);
        a.add(0, 12).unwrap();
        assert_eq!(a.pop_front(), 40);
        assert_eq!(a.sack_ranges(&mut out), 1);
        assert_eq!(out[0], (10, 20));
    }

    #[test]
    fn recv_buffer_out_of_order_and_window() {
        let mut r = RecvBuffer::new(100, 4);
        assert_eq!(
            r.write(10, &[2; 10]),
            Written {
                stored: 10,
                advanced: 0
            }
        );
        assert_eq!(r.window(), 100);
        assert_eq!(
            r.write(0, &[1; 10]),
            Written {
                stored: 10,
                advanced: 20
            }
        );
        assert_eq!(r.window(), 80);
        // Beyond the window is clipped.
        assert_eq!(
            r.write(70, &[3; 50]),
            Written {
                stored: 10,
                advanced: 0
            }
        );
        assert_eq!(
            r.write(90, &[3; 5]),
            Written {
                stored: 0,
                advanced: 0
            }
        );
        let mut out = [0u8; 15];
        assert_eq!(r.read(&mut out), 15);
        assert_eq!(&out[..10], &[1; 10]);
        assert_eq!(&out[10..], &[2; 5]);
        assert_eq!(r.len(), 5);
    }

    #[test]
    fn staged_data_is_readable_only_once_written() {
        let mut r = RecvBuffer::new(1000, 4);
        // Nothing allocated yet: staging never allocates.
        assert_eq!(r.stage(b"abc"), None);
        r.write(0, b"0123456789");
        assert_eq!(r.read(&mut [0u8; 10]), 10);
        // Capacity is now 256 (MIN_ALLOC); stage in place.
        let s = r.stage(b"hello").expect("in-order data fits");
        assert_eq!(s, checksum::naive(b"hello"));
        assert_eq!(r.len(), 0, "staged bytes are not readable");
        // A staged segment that is never written (bad checksum) is
        // overwritten by the next write.
        r.write(0, b"world");
        let mut out = [0u8; 5];
        assert_eq!(r.read(&mut out), 5);
        assert_eq!(&out, b"world");
        // Staged then written: readable, not copied again.
        r.stage(b"again").expect("fits");
        let w = r.write_staged(0, b"again", 5);
        assert_eq!((w.stored, w.advanced), (5, 5));
        assert_eq!(r.read(&mut out), 5);
        assert_eq!(&out, b"again");
        // Out-of-order data held: no staging.
        r.write(3, b"x");
        assert_eq!(r.stage(b"abc"), None);
        // Larger than the window: no staging.
        let mut small = RecvBuffer::new(8, 4);
        small.write(0, b"12");
        small.read(&mut [0u8; 2]);
        assert_eq!(small.stage(b"123456789"), None);
    }

    #[test]
    fn staging_across_the_ring_end_sums_like_the_bytes() {
        // Every split of the copy around the end of the (256-byte) ring,
        // odd and even: the staged copy starts at physical index `w`.
        let data: Vec<u8> = (0..13).map(|i| (i * 37 + 0x81) as u8).collect();
        for w in 242..=255 {
            let mut r = RecvBuffer::new(256, 4);
            r.write(0, &vec![7u8; w]);
            // Keep two bytes unread so the ring's head stays put.
            r.read(&mut vec![0u8; w - 2]);
            let s = r.stage(&data).expect("fits");
            assert_eq!(s, checksum::naive(&data), "start {w}");
            r.write_staged(0, &data, data.len());
            let mut out = vec![0u8; 2 + data.len()];
            assert_eq!(r.read(&mut out), 2 + data.len());
            assert_eq!(&out[2..], &data[..], "start {w}");
        }
    }

    proptest! {
        /// Random segmentation, order and duplicates reassemble the exact stream.
        #[test]
        fn reassembles_exact_stream(
            len in 1usize..3000,
            cuts in proptest::collection::vec(1usize..400, 1..40),
            order_seed in any::<u64>(),
            dups in proptest::collection::vec((0usize..3000, 1usize..300), 0..20),
            read_chunk in 1usize..700,
        ) {
            let stream: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            // Segments covering the stream.
            let mut segs = Vec::new();
            let mut at = 0;
            let mut k = 0;
            while at < len {
                let n = cuts[k % cuts.len()].min(len - at);
                segs.push((at, n));
                at += n;
                k += 1;
            }
            for (s, n) in dups {
                if s < len {
                    segs.push((s, n.min(len - s)));
                }
            }
            // Shuffle deterministically.
            let mut x = order_seed | 1;
            for i in (1..segs.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                segs.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut r = RecvBuffer::new(4096, 64);
            let mut nxt = 0usize; // absolute offset of RCV.NXT
            let mut got = Vec::new();
            let mut pending = segs;
            let mut rounds = 0;
            while got.len() < len {
                rounds += 1;
                prop_assert!(rounds < 10_000);
                let mut refused = Vec::new();
                for (s, n) in pending.drain(..) {
                    let end = s + n;
                    if end <= nxt { continue; }
                    // Trim the part before RCV.NXT, like the connection does.
                    let s2 = s.max(nxt);
                    let w = r.write(s2 - nxt, &stream[s2..end]);
                    if w.stored < end - s2 { refused.push((s, n)); }
                    nxt += w.advanced;
                    let mut buf = vec![0u8; read_chunk];
                    let m = r.read(&mut buf);
                    got.extend_from_slice(&buf[..m]);
                }
                pending = refused;
                let mut buf = vec![0u8; 4096];
                let m = r.read(&mut buf);
                got.extend_from_slice(&buf[..m]);
            }
            prop_assert_eq!(&got[..], &stream[..]);
            prop_assert!(r.assembler().is_empty());
        }

        /// The send buffer returns exactly what was written, across wraps.
        #[test]
        fn send_buffer_stream(ops in proptest::collection::vec((1usize..500, 0usize..500), 1..60)) {
            let mut s = SendBuffer::new(1024);
            let mut written = Vec::new();
            let mut acked = 0usize;
            let mut ctr = 0u8;
            for (w, a) in ops {
                let data: Vec<u8> = (0..w).map(|_| { ctr = ctr.wrapping_add(1); ctr }).collect();
                let n = s.write(&data);
                written.extend_from_slice(&data[..n]);
                ctr = ctr.wrapping_sub((w - n) as u8);
                let (x, y) = s.get(0, s.len());
                let held: Vec<u8> = x.iter().chain(y).copied().collect();
                prop_assert_eq!(&held[..], &written[acked..]);
                let a = a.min(s.len());
                s.ack(a);
                acked += a;
            }
        }
    }
}
