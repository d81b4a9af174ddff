//! IPv4 fragmentation on egress and reassembly on ingress (RFC 791 §2.3,
//! §3.2; RFC 815; RFC 1122 §3.3.2).
//!
//! Reassembly is where hostile input does the most harm, so the
//! [`Reassembler`] is defensive:
//!
//! - buffers are keyed by (source, destination, protocol, identification)
//!   (RFC 791 §3.2) and expire after a timeout;
//! - each buffer holds its fragments as they came (one piece per fragment,
//!   in an ordered map), so a lone fragment at offset 65000 costs its own
//!   bytes, not 65000;
//! - memory is counted honestly: every buffer is charged a fixed
//!   [`BUFFER_OVERHEAD`] (its entries in the maps here and its first piece
//!   node) and every piece [`PIECE_OVERHEAD`] plus its bytes, so a flood of
//!   empty fragments costs what it really holds (the `frag_hostile` test
//!   checks the figure against a counting allocator);
//! - a per-source cap (a fragment over it is dropped), a global cap and a
//!   cap on the number of buffers (the buffer closest to its deadline — the
//!   oldest — is evicted to make room);
//! - buffers are indexed by deadline, so eviction, [`Reassembler::poll_timeout`]
//!   and expiry are O(log n), whatever the number of buffers;
//! - a fragment that overlaps data already held is accepted only as an exact
//!   duplicate (same bytes — a retransmission or a duplicating link); any
//!   other overlap (teardrop) discards the whole datagram;
//! - fragments that contradict each other (two different ends, data past
//!   the end, a non-final fragment whose length is not a multiple of 8) and
//!   datagrams that would exceed 65535 bytes with the *first* fragment's
//!   header (ping of death) discard the datagram too;
//! - **after a discard, the datagram's fragments still to come are
//!   discarded as well** until its reassembly timer runs out, the policy of
//!   RFC 5722 §4 for IPv6 ("the entire datagram (and any constituent
//!   fragments, including those not yet received) MUST be silently
//!   discarded"), applied here to IPv4: the rest of a torn datagram cannot
//!   start a new buffer that is then filled by someone else. The marker
//!   costs [`BUFFER_OVERHEAD`] and is evictable like any buffer;
//! - nothing panics; every drop is counted.

use crate::time::{Duration, Instant};
use core::net::Ipv4Addr;
use std::collections::BTreeMap;

/// Largest IPv4 datagram, header included (RFC 791 §3.1 Total Length).
pub const MAX_DATAGRAM: usize = 65535;
/// Smallest IPv4 header.
pub const MIN_HEADER: usize = 20;
/// Smallest MTU every IPv4 link must carry (RFC 791 §3.2).
pub const MIN_MTU: usize = 68;
/// Bytes charged for every buffer besides its data: the buffer itself and
/// its entries in the key map, the deadline index and the per-source map
/// (B-tree nodes at their worst fill), and the first node of its piece map.
pub const BUFFER_OVERHEAD: usize = 768;
/// Bytes charged for every held fragment besides its data: its entry in the
/// buffer's piece map.
pub const PIECE_OVERHEAD: usize = 64;

/// Identifies the datagram a fragment belongs to (RFC 791 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FragKey {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol number.
    pub protocol: u8,
    /// Identification field.
    pub ident: u16,
}

impl FragKey {
    /// The key as one integer: the maps compare it in one instruction
    /// instead of field by field.
    fn pack(&self) -> u128 {
        (u128::from(self.src.to_bits()) << 96)
            | (u128::from(self.dst.to_bits()) << 64)
            | (u128::from(self.protocol) << 16)
            | u128::from(self.ident)
    }

    fn unpack(k: u128) -> FragKey {
        FragKey {
            src: Ipv4Addr::from_bits((k >> 96) as u32),
            dst: Ipv4Addr::from_bits((k >> 64) as u32),
            protocol: (k >> 16) as u8,
            ident: k as u16,
        }
    }
}

/// The source address of a packed key.
fn packed_src(k: u128) -> u32 {
    (k >> 96) as u32
}

/// Limits of the reassembler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragConfig {
    /// How long an incomplete datagram is kept (RFC 1122 §3.3.2: 60 s to
    /// 120 s recommended; RFC 791 suggests 15 s as a lower bound).
    pub timeout: Duration,
    /// Bytes of reassembly buffers one source may hold.
    pub per_source_limit: usize,
    /// Bytes of reassembly buffers all sources together may hold.
    pub global_limit: usize,
    /// Buffers (incomplete datagrams and discard markers) held at most.
    pub max_buffers: usize,
}

impl Default for FragConfig {
    fn default() -> Self {
        FragConfig {
            timeout: Duration::from_secs(30),
            per_source_limit: 256 * 1024,
            global_limit: 4 * 1024 * 1024,
            max_buffers: 2048,
        }
    }
}

/// Why a fragment was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FragError {
    /// It overlaps data already held with different bounds or bytes; the
    /// whole datagram was discarded.
    #[error("overlapping fragment")]
    Overlap,
    /// The datagram would exceed 65535 bytes; the whole datagram was
    /// discarded.
    #[error("reassembled datagram would exceed 65535 bytes")]
    Oversize,
    /// It contradicts the other fragments or RFC 791's rules; the whole
    /// datagram was discarded.
    #[error("inconsistent fragment")]
    Inconsistent,
    /// Holding it would exceed the memory limit; the fragment was dropped.
    #[error("reassembly memory limit reached")]
    MemoryLimit,
    /// Its datagram was discarded earlier (RFC 5722 §4); the fragment was
    /// dropped.
    #[error("fragment of a discarded datagram")]
    Discarded,
}

/// Counters of the reassembler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Fragments offered.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Exact duplicate fragments ignored.
    pub duplicates: u64,
    /// Datagrams discarded for an overlapping fragment.
    pub overlaps: u64,
    /// Datagrams discarded for exceeding 65535 bytes.
    pub oversize: u64,
    /// Datagrams discarded for inconsistent fragments.
    pub inconsistent: u64,
    /// Fragments dropped at the per-source or global memory cap.
    pub memory_drops: u64,
    /// Incomplete datagrams evicted to make room under the global cap or
    /// the buffer count cap.
    pub evictions: u64,
    /// Incomplete datagrams that timed out.
    pub timeouts: u64,
    /// Fragments dropped because their datagram had been discarded
    /// (RFC 5722 §4).
    pub discarded_fragments: u64,
}

/// A complete datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// Its identity.
    pub key: FragKey,
    /// The IP header of its first fragment (offset 0), as received.
    pub header: Vec<u8>,
    /// The whole payload.
    pub payload: Vec<u8>,
}

/// An incomplete datagram that timed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// Its identity.
    pub key: FragKey,
    /// When the first fragment had arrived: its header and the first 8
    /// payload bytes, to quote in an ICMP time exceeded (code 1,
    /// "fragment reassembly time exceeded"). RFC 1122 §3.3.2 sends it only
    /// when fragment zero was received.
    pub quote: Option<Vec<u8>>,
}

#[derive(Debug)]
struct Buffer {
    /// Fragment offset → its bytes; disjoint, never empty.
    pieces: Pieces,
    /// Sum of the pieces' lengths (below 65536, like every length here:
    /// u32 keeps the buffer small, so map nodes move fewer bytes).
    received: u32,
    /// Largest end of any fragment seen.
    max_end: u32,
    /// Payload length, known once the last fragment (MF = 0) arrived.
    total: Option<u32>,
    header: Option<Box<[u8]>>,
    deadline: Instant,
    /// Creation order: ties of the deadline index.
    seq: u64,
    /// Bytes charged (see [`BUFFER_OVERHEAD`]).
    cost: u32,
    /// The datagram was discarded; this is the RFC 5722 marker.
    discarded: bool,
}

/// Reassembles fragmented IPv4 datagrams.
#[derive(Debug)]
pub struct Reassembler {
    config: FragConfig,
    /// Packed key → buffer.
    buffers: BTreeMap<u128, Buffer>,
    /// (deadline, seq) → key: the earliest deadline is also the oldest
    /// buffer (the timeout is fixed), so one index serves timers and
    /// eviction.
    by_deadline: BTreeMap<(Instant, u64), u128>,
    per_source: BTreeMap<u32, usize>,
    total: usize,
    next_seq: u64,
    stats: ReassemblyStats,
}

impl Reassembler {
    /// An empty reassembler.
    pub fn new(config: FragConfig) -> Self {
        Reassembler {
            config,
            buffers: BTreeMap::new(),
            by_deadline: BTreeMap::new(),
            per_source: BTreeMap::new(),
            total: 0,
            next_seq: 0,
            stats: ReassemblyStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Bytes currently charged (an upper bound of the heap held).
    pub fn memory(&self) -> usize {
        self.total
    }

    /// Buffers currently held (incomplete datagrams and discard markers).
    pub fn pending(&self) -> usize {
        self.buffers.len()
    }

    /// The configuration in force.
    pub fn config(&self) -> &FragConfig {
        &self.config
    }

    /// Offers one fragment: `header` is its IP header, `offset` its
    /// fragment offset in bytes, `more` its MF flag. Returns the datagram
    /// when this fragment completes it, `Ok(None)` while incomplete (or for
    /// an ignored duplicate).
    pub fn push(
        &mut self,
        now: Instant,
        key: FragKey,
        header: &[u8],
        offset: usize,
        more: bool,
        payload: &[u8],
    ) -> Result<Option<Reassembled>, FragError> {
        self.stats.fragments += 1;
        let end = offset.saturating_add(payload.len());
        let pk = key.pack();
        let src = packed_src(pk);
        let existing = self.buffers.get(&pk);
        if existing.is_some_and(|b| b.discarded) {
            // RFC 5722 §4: fragments of a discarded datagram, "including
            // those not yet received", are discarded.
            self.stats.discarded_fragments += 1;
            return Err(FragError::Discarded);
        }
        // RFC 791 §3.1: total length is 16 bits and counts the header of
        // the reassembled datagram, which is the first fragment's; until it
        // arrives the smallest header is assumed, and checked again then.
        let first_hl = if offset == 0 {
            header.len()
        } else {
            existing
                .and_then(|b| b.header.as_ref())
                .map_or(MIN_HEADER, |h| h.len())
        };
        let max_end = existing.map_or(end, |b| (b.max_end as usize).max(end));
        if max_end + first_hl.max(MIN_HEADER) > MAX_DATAGRAM {
            self.stats.oversize += 1;
            self.poison(pk);
            return Err(FragError::Oversize);
        }
        // RFC 791 §3.2: every fragment but the last carries a multiple of 8
        // bytes (and at least 8).
        if more && (payload.is_empty() || !payload.len().is_multiple_of(8)) {
            self.stats.inconsistent += 1;
            self.poison(pk);
            return Err(FragError::Inconsistent);
        }
        let mut duplicate_header = false;
        if let Some(buf) = existing {
            // Consistency with what is known of the end.
            let bad_end = match buf.total.map(|t| t as usize) {
                Some(total) => end > total || (!more && end != total),
                None => !more && buf.max_end as usize > end,
            };
            if bad_end {
                self.stats.inconsistent += 1;
                self.poison(pk);
                return Err(FragError::Inconsistent);
            }
            match overlap(&buf.pieces, offset, payload) {
                Overlap::None => {}
                Overlap::Duplicate => {
                    // RFC 791 allows retransmitted fragments; identical
                    // bytes at the same place are harmless.
                    self.stats.duplicates += 1;
                    return Ok(None);
                }
                Overlap::Conflict => {
                    self.stats.overlaps += 1;
                    self.poison(pk);
                    return Err(FragError::Overlap);
                }
            }
            if payload.is_empty() && buf.total == Some(end as u32) {
                // A repeated empty last fragment.
                self.stats.duplicates += 1;
                return Ok(None);
            }
            duplicate_header = offset == 0 && buf.header.is_some();
        }

        // Memory: the growth this fragment brings.
        let is_new = existing.is_none();
        let mut growth = 0;
        if is_new {
            growth += BUFFER_OVERHEAD;
        }
        if !payload.is_empty() {
            growth += PIECE_OVERHEAD + payload.len();
        }
        if offset == 0 && !duplicate_header {
            growth += header.len();
        }
        let src_used = self.per_source.get(&src).copied().unwrap_or(0);
        if src_used + growth > self.config.per_source_limit {
            self.stats.memory_drops += 1;
            return Err(FragError::MemoryLimit);
        }
        while self.total + growth > self.config.global_limit
            || (is_new && self.buffers.len() >= self.config.max_buffers)
        {
            // The oldest other buffer gives way: O(log n) through the
            // deadline index.
            let first = self.by_deadline.first_key_value().map(|(_, k)| *k);
            match first {
                Some(k) if k != pk => {
                    // The common case: the oldest is another buffer; its
                    // index entry is popped, not searched for.
                    self.stats.evictions += 1;
                    self.by_deadline.pop_first();
                    if let Some(buf) = self.buffers.remove(&k) {
                        self.uncharge(packed_src(k), buf.cost as usize);
                    }
                }
                Some(_) => {
                    let victim = self.by_deadline.values().find(|k| **k != pk).copied();
                    match victim {
                        Some(k) => {
                            self.stats.evictions += 1;
                            self.take(k);
                        }
                        None => {
                            self.stats.memory_drops += 1;
                            return Err(FragError::MemoryLimit);
                        }
                    }
                }
                None => {
                    self.stats.memory_drops += 1;
                    return Err(FragError::MemoryLimit);
                }
            }
        }

        let buf = match self.buffers.entry(pk) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                // RFC 791 §3.2: the timer starts with the first fragment.
                let deadline = now + self.config.timeout;
                let seq = self.next_seq;
                self.next_seq += 1;
                self.by_deadline.insert((deadline, seq), pk);
                e.insert(Buffer {
                    pieces: Pieces::Empty,
                    received: 0,
                    max_end: 0,
                    total: None,
                    header: None,
                    deadline,
                    seq,
                    cost: 0,
                    discarded: false,
                })
            }
        };
        if !payload.is_empty() {
            // Offsets are below 65536 (checked above).
            buf.pieces.insert(offset as u32, payload.into());
            buf.received += payload.len() as u32;
        }
        if offset == 0 && !duplicate_header {
            buf.header = Some(header.into());
        }
        if !more {
            buf.total = Some(end as u32);
        }
        buf.max_end = buf.max_end.max(end as u32);
        buf.cost += growth as u32;
        *self.per_source.entry(src).or_insert(0) += growth;
        self.total += growth;

        // Disjoint pieces inside 0..total whose lengths sum to total cover
        // it all.
        let complete = buf.header.is_some() && buf.total == Some(buf.received);
        if complete {
            let buf = self.take(pk).expect("present");
            self.stats.reassembled += 1;
            let mut data = Vec::with_capacity(buf.received as usize);
            buf.pieces.for_each(|piece| data.extend_from_slice(piece));
            return Ok(Some(Reassembled {
                key,
                header: buf.header.map(Vec::from).unwrap_or_default(),
                payload: data,
            }));
        }
        Ok(None)
    }

    /// Removes a buffer and its charge.
    fn take(&mut self, key: u128) -> Option<Buffer> {
        let buf = self.buffers.remove(&key)?;
        self.by_deadline.remove(&(buf.deadline, buf.seq));
        self.uncharge(packed_src(key), buf.cost as usize);
        Some(buf)
    }

    fn uncharge(&mut self, src: u32, cost: usize) {
        self.total -= cost;
        if let Some(used) = self.per_source.get_mut(&src) {
            *used -= cost;
            if *used == 0 {
                self.per_source.remove(&src);
            }
        }
    }

    /// Discards a datagram's data and keeps the RFC 5722 marker until its
    /// deadline. A fragment that fails before any buffer exists leaves
    /// nothing behind.
    fn poison(&mut self, key: u128) {
        let Some(buf) = self.buffers.get_mut(&key) else {
            return;
        };
        let freed = buf.cost as usize - BUFFER_OVERHEAD;
        buf.pieces = Pieces::Empty;
        buf.header = None;
        buf.received = 0;
        buf.total = None;
        buf.discarded = true;
        buf.cost = BUFFER_OVERHEAD as u32;
        self.uncharge(packed_src(key), freed);
    }

    /// When the next incomplete datagram expires (O(log n)).
    pub fn poll_timeout(&self) -> Option<Instant> {
        // `first_key_value`: no range iterator for what is usually an
        // empty map (asked after every poll).
        self.by_deadline.first_key_value().map(|(&(d, _), _)| d)
    }

    /// Discards the datagrams whose timer ran out (RFC 791 §3.2), appending
    /// them to `expired` (discard markers simply go).
    pub fn handle_timeout(&mut self, now: Instant, expired: &mut Vec<Expired>) {
        while let Some((&(deadline, _), &key)) = self.by_deadline.iter().next() {
            if deadline > now {
                break;
            }
            let Some(buf) = self.take(key) else {
                continue;
            };
            if buf.discarded {
                continue;
            }
            self.stats.timeouts += 1;
            let quote = buf.header.map(|h| {
                let mut q = Vec::from(h);
                if let Some(first) = buf.pieces.at_zero() {
                    q.extend_from_slice(&first[..first.len().min(8)]);
                }
                q
            });
            expired.push(Expired {
                key: FragKey::unpack(key),
                quote,
            });
        }
    }
}

/// A buffer's fragments. Most buffers of a flood hold one, which needs no
/// map node (no allocation, nothing to walk when it goes).
#[derive(Debug, Default)]
enum Pieces {
    #[default]
    Empty,
    One(u32, Box<[u8]>),
    Many(BTreeMap<u32, Box<[u8]>>),
}

impl Pieces {
    /// Adds a piece (disjoint from the others: checked by the caller).
    fn insert(&mut self, offset: u32, data: Box<[u8]>) {
        *self = match core::mem::take(self) {
            Pieces::Empty => Pieces::One(offset, data),
            Pieces::One(o, d) => {
                let mut m = BTreeMap::new();
                m.insert(o, d);
                m.insert(offset, data);
                Pieces::Many(m)
            }
            Pieces::Many(mut m) => {
                m.insert(offset, data);
                Pieces::Many(m)
            }
        };
    }

    /// Every piece's bytes, in offset order.
    fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self {
            Pieces::Empty => {}
            Pieces::One(_, d) => f(d),
            Pieces::Many(m) => m.values().for_each(|d| f(d)),
        }
    }

    /// The piece at offset 0.
    fn at_zero(&self) -> Option<&[u8]> {
        match self {
            Pieces::One(0, d) => Some(d),
            Pieces::Many(m) => m.get(&0).map(|d| &**d),
            _ => None,
        }
    }
}

/// How a fragment meets the pieces already held.
enum Overlap {
    /// It touches none of them.
    None,
    /// Every byte of it is held already, with the same value.
    Duplicate,
    /// It overlaps held data with other bytes or other bounds.
    Conflict,
}

/// Compares `payload` at `offset` with the held pieces in O(log n + pieces
/// it touches).
fn overlap(pieces: &Pieces, offset: usize, payload: &[u8]) -> Overlap {
    let end = offset + payload.len();
    if payload.is_empty() {
        return Overlap::None;
    }
    let pieces = match pieces {
        Pieces::Empty => return Overlap::None,
        Pieces::One(s, p) => return meet(core::iter::once((s, p)), offset, payload),
        Pieces::Many(m) => m,
    };
    // The piece starting at or before `offset`, then those starting inside.
    let before = pieces
        .range(..=offset as u32)
        .next_back()
        .filter(|(s, p)| **s as usize + p.len() > offset);
    let inside = pieces.range(offset as u32 + 1..end as u32);
    meet(before.into_iter().chain(inside), offset, payload)
}

/// Compares `payload` at `offset` with `pieces` (those that may touch it).
fn meet<'a>(
    pieces: impl Iterator<Item = (&'a u32, &'a Box<[u8]>)>,
    offset: usize,
    payload: &[u8],
) -> Overlap {
    let end = offset + payload.len();
    let mut covered = 0;
    let mut same = true;
    let mut any = false;
    for (&s, p) in pieces {
        let s = s as usize;
        let (lo, hi) = (s.max(offset), (s + p.len()).min(end));
        if lo >= hi {
            continue;
        }
        any = true;
        covered += hi - lo;
        same &= p[lo - s..hi - s] == payload[lo - offset..hi - offset];
    }
    match (any, same && covered == payload.len()) {
        (false, _) => Overlap::None,
        (true, true) => Overlap::Duplicate,
        (true, false) => Overlap::Conflict,
    }
}

/// How a payload is cut into fragments for a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentPlan {
    payload_len: usize,
    chunk: usize,
}

/// The payload does not fit and may not be fragmented, or the MTU cannot
/// carry even one 8-byte fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    /// DF is set and the datagram exceeds the MTU: ICMP "fragmentation
    /// needed and DF set" (RFC 792, RFC 1191) goes back with this MTU.
    #[error("fragmentation needed (DF set), next-hop MTU {mtu}")]
    FragNeeded {
        /// The MTU of the link that refused.
        mtu: usize,
    },
    /// The MTU leaves no room for payload after the header.
    #[error("MTU {mtu} too small for a {header_len}-byte header")]
    MtuTooSmall {
        /// The MTU.
        mtu: usize,
        /// The header length.
        header_len: usize,
    },
}

impl FragmentPlan {
    /// Plans a datagram of `header_len + payload_len` bytes for a link of
    /// `mtu`. One fragment (the datagram itself) when it fits.
    pub fn new(
        header_len: usize,
        payload_len: usize,
        mtu: usize,
        dont_fragment: bool,
    ) -> Result<Self, FragmentError> {
        if header_len + payload_len <= mtu {
            return Ok(FragmentPlan {
                payload_len,
                chunk: payload_len.max(1),
            });
        }
        if dont_fragment {
            // RFC 791 §3.2 / RFC 1812 §5.2.6: DF set and too big.
            return Err(FragmentError::FragNeeded { mtu });
        }
        // RFC 791 §3.2: fragment offsets count 8-byte units, so every
        // fragment but the last carries a multiple of 8 bytes.
        let chunk = mtu.saturating_sub(header_len) & !7;
        if chunk == 0 {
            return Err(FragmentError::MtuTooSmall { mtu, header_len });
        }
        Ok(FragmentPlan { payload_len, chunk })
    }

    /// Number of fragments.
    pub fn count(&self) -> usize {
        if self.payload_len == 0 {
            1
        } else {
            self.payload_len.div_ceil(self.chunk)
        }
    }

    /// The fragments: `(offset in bytes, length, more fragments)`.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize, bool)> {
        let (len, chunk, n) = (self.payload_len, self.chunk, self.count());
        (0..n).map(move |i| {
            let off = i * chunk;
            let l = chunk.min(len - off);
            (off, l, i + 1 < n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: FragKey = FragKey {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: 17,
        ident: 99,
    };
    const HDR: [u8; 20] = [0x45; 20];

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn split(payload: &[u8], mtu: usize) -> Vec<(usize, bool, Vec<u8>)> {
        let plan = FragmentPlan::new(20, payload.len(), mtu, false).unwrap();
        plan.iter()
            .map(|(o, l, m)| (o, m, payload[o..o + l].to_vec()))
            .collect()
    }

    #[test]
    fn plan_offsets_are_multiples_of_eight_and_fit() {
        for mtu in [68, 100, 576, 1006, 1500] {
            let plan = FragmentPlan::new(20, 4000, mtu, false).unwrap();
            let frags: Vec<_> = plan.iter().collect();
            assert_eq!(frags.len(), plan.count());
            let mut expect = 0;
            for (i, &(o, l, m)) in frags.iter().enumerate() {
                assert_eq!(o, expect);
                assert_eq!(o % 8, 0);
                assert!(20 + l <= mtu);
                assert_eq!(m, i + 1 < frags.len());
                expect += l;
            }
            assert_eq!(expect, 4000);
        }
        assert_eq!(
            FragmentPlan::new(20, 1481, 1500, true),
            Err(FragmentError::FragNeeded { mtu: 1500 })
        );
        assert_eq!(FragmentPlan::new(20, 1480, 1500, true).unwrap().count(), 1);
        assert!(FragmentPlan::new(20, 100, 27, false).is_err());
    }

    #[test]
    fn reverse_order_with_duplicates_reassembles() {
        let payload = data(3000);
        let mut r = Reassembler::new(FragConfig::default());
        let frags = split(&payload, 576);
        let mut out = None;
        // Every fragment but the first, last to first, each twice; then the first.
        let order = frags[1..]
            .iter()
            .rev()
            .flat_map(|f| [f, f])
            .chain(frags.iter().take(1));
        for (o, m, p) in order {
            if let Some(d) = r.push(Instant::ZERO, KEY, &HDR, *o, *m, p).unwrap() {
                out = Some(d);
            }
        }
        let d = out.expect("complete");
        assert_eq!(d.payload, payload);
        assert_eq!(d.header, HDR);
        assert_eq!(r.memory(), 0);
        assert_eq!(r.stats().reassembled, 1);
        assert_eq!(r.stats().duplicates, frags.len() as u64 - 1);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn exact_duplicates_are_ignored() {
        let payload = data(100);
        let frags = split(&payload, 68);
        let mut r = Reassembler::new(FragConfig::default());
        let (o, m, p) = &frags[0];
        assert_eq!(r.push(Instant::ZERO, KEY, &HDR, *o, *m, p), Ok(None));
        assert_eq!(r.push(Instant::ZERO, KEY, &HDR, *o, *m, p), Ok(None));
        assert_eq!(r.stats().duplicates, 1);
        let mut last = None;
        for (o, m, p) in &frags[1..] {
            last = r.push(Instant::ZERO, KEY, &HDR, *o, *m, p).unwrap();
        }
        assert_eq!(last.unwrap().payload, payload);
    }

    /// Only the RFC 5722 marker of a discarded datagram is left.
    fn only_marker(r: &Reassembler) {
        assert_eq!(r.pending(), 1);
        assert_eq!(r.memory(), BUFFER_OVERHEAD);
    }

    #[test]
    fn teardrop_overlap_discards_datagram() {
        let mut r = Reassembler::new(FragConfig::default());
        r.push(Instant::ZERO, KEY, &HDR, 0, true, &[1; 40]).unwrap();
        // Overlaps 32..40 with different bounds.
        assert_eq!(
            r.push(Instant::ZERO, KEY, &HDR, 32, false, &[2; 16]),
            Err(FragError::Overlap)
        );
        only_marker(&r);
        // Same place, different bytes: also an overlap.
        let k2 = FragKey { ident: 2, ..KEY };
        r.push(Instant::ZERO, k2, &HDR, 0, true, &[1; 40]).unwrap();
        assert_eq!(
            r.push(Instant::ZERO, k2, &HDR, 0, true, &[3; 40]),
            Err(FragError::Overlap)
        );
        // A fragment spanning two held pieces with their bytes is a
        // duplicate; with one byte changed it is an overlap.
        let k3 = FragKey { ident: 3, ..KEY };
        r.push(Instant::ZERO, k3, &HDR, 0, true, &[1; 16]).unwrap();
        r.push(Instant::ZERO, k3, &HDR, 16, true, &[2; 16]).unwrap();
        let mut span = [1u8; 32];
        span[16..].fill(2);
        assert_eq!(
            r.push(Instant::ZERO, k3, &HDR, 8, true, &span[8..24]),
            Ok(None)
        );
        span[20] = 9;
        assert_eq!(
            r.push(Instant::ZERO, k3, &HDR, 8, true, &span[8..24]),
            Err(FragError::Overlap)
        );
        assert_eq!(r.stats().overlaps, 3);
        assert_eq!(r.stats().duplicates, 1);
    }

    #[test]
    fn ping_of_death_is_oversize() {
        let mut r = Reassembler::new(FragConfig::default());
        r.push(Instant::ZERO, KEY, &HDR, 0, true, &[0; 1480])
            .unwrap();
        assert_eq!(
            r.push(Instant::ZERO, KEY, &HDR, 65528, false, &[0; 100]),
            Err(FragError::Oversize)
        );
        only_marker(&r);
        assert_eq!(r.stats().oversize, 1);
    }

    #[test]
    fn inconsistent_ends_and_lengths() {
        let mut r = Reassembler::new(FragConfig::default());
        // Non-final fragment not a multiple of 8: nothing held, nothing left.
        assert_eq!(
            r.push(Instant::ZERO, KEY, &HDR, 0, true, &[0; 10]),
            Err(FragError::Inconsistent)
        );
        assert_eq!(r.pending(), 0);
        // Two different ends.
        r.push(Instant::ZERO, KEY, &HDR, 16, false, &[0; 8])
            .unwrap();
        assert_eq!(
            r.push(Instant::ZERO, KEY, &HDR, 32, false, &[0; 8]),
            Err(FragError::Inconsistent)
        );
        only_marker(&r);
        // Data past a known end.
        let k2 = FragKey { ident: 2, ..KEY };
        r.push(Instant::ZERO, k2, &HDR, 16, false, &[0; 8]).unwrap();
        assert_eq!(
            r.push(Instant::ZERO, k2, &HDR, 24, true, &[0; 8]),
            Err(FragError::Inconsistent)
        );
        assert_eq!(r.memory(), 2 * BUFFER_OVERHEAD);
        assert_eq!(r.stats().inconsistent, 3);
    }

    #[test]
    fn buffer_count_cap_evicts_the_oldest() {
        let cfg = FragConfig {
            max_buffers: 3,
            ..FragConfig::default()
        };
        let mut r = Reassembler::new(cfg);
        for ident in 0..5u16 {
            let k = FragKey { ident, ..KEY };
            r.push(Instant::from_secs(u64::from(ident)), k, &HDR, 8, false, &[])
                .unwrap();
            assert!(r.pending() <= 3);
        }
        assert_eq!(r.stats().evictions, 2);
        // The survivors are the three newest: their deadlines remain.
        assert_eq!(r.poll_timeout(), Some(Instant::from_secs(32)));
    }

    #[test]
    fn memory_caps_hold() {
        let cfg = FragConfig {
            per_source_limit: 10_000,
            global_limit: 25_000,
            ..FragConfig::default()
        };
        let mut r = Reassembler::new(cfg);
        // One source spraying fragments of distinct datagrams.
        let mut dropped = 0;
        for ident in 0..100u16 {
            let k = FragKey { ident, ..KEY };
            if r.push(Instant::ZERO, k, &HDR, 800, true, &[0; 800])
                .is_err()
            {
                dropped += 1;
            }
            assert!(r.memory() <= 10_000);
        }
        assert!(dropped >= 94, "dropped {dropped}");
        // Other sources still get in, evicting the oldest under the global cap.
        for s in 2..10u8 {
            for ident in 0..10u16 {
                let k = FragKey {
                    src: Ipv4Addr::new(10, 0, 1, s),
                    ident,
                    ..KEY
                };
                let _ = r.push(Instant::ZERO, k, &HDR, 1600, true, &[0; 800]);
                assert!(r.memory() <= 25_000);
            }
        }
        assert!(r.stats().evictions > 0);
        assert!(r.stats().memory_drops > 0);
        // A legit datagram still reassembles.
        let payload = data(2000);
        let k = FragKey {
            src: Ipv4Addr::new(192, 168, 0, 1),
            ..KEY
        };
        let mut got = None;
        for (o, m, p) in split(&payload, 1500) {
            got = r.push(Instant::ZERO, k, &HDR, o, m, &p).unwrap();
        }
        assert_eq!(got.unwrap().payload, payload);
    }

    #[test]
    fn timeout_expires_with_quote_only_when_first_fragment_seen() {
        let mut r = Reassembler::new(FragConfig::default());
        let k2 = FragKey { ident: 2, ..KEY };
        r.push(Instant::from_secs(1), KEY, &HDR, 0, true, &data(16))
            .unwrap();
        r.push(Instant::from_secs(2), k2, &HDR, 16, true, &data(16))
            .unwrap();
        assert_eq!(r.poll_timeout(), Some(Instant::from_secs(31)));
        let mut exp = Vec::new();
        r.handle_timeout(Instant::from_secs(31), &mut exp);
        assert_eq!(exp.len(), 1);
        let mut want = HDR.to_vec();
        want.extend_from_slice(&data(8));
        assert_eq!(exp[0].quote.as_deref(), Some(&want[..]));
        r.handle_timeout(Instant::from_secs(32), &mut exp);
        assert_eq!(exp[1].quote, None);
        assert_eq!(r.stats().timeouts, 2);
        assert_eq!(r.memory(), 0);
    }
}
