//! IPv4 fragmentation on egress and reassembly on ingress (RFC 791 §2.3,
//! §3.2; RFC 815; RFC 1122 §3.3.2).
//!
//! Reassembly is where hostile input does the most harm, so the
//! [`Reassembler`] is defensive:
//!
//! - buffers are keyed by (source, destination, protocol, identification)
//!   (RFC 791 §3.2) and expire after a timeout;
//! - memory is accounted per buffer (its allocated size, not the bytes
//!   received, so a lone fragment at offset 65000 costs what it costs), with
//!   a per-source cap (a fragment over it is dropped) and a global cap (the
//!   oldest buffers are evicted to make room);
//! - a fragment that overlaps data already held is accepted only as an exact
//!   duplicate (same place, same bytes — a retransmission or a duplicating
//!   link); any other overlap (teardrop) discards the whole datagram, as
//!   RFC 5722 does for IPv6;
//! - fragments that contradict each other (two different ends, data past
//!   the end, a non-final fragment whose length is not a multiple of 8) and
//!   datagrams that would exceed 65535 bytes (ping of death) are dropped;
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
}

impl Default for FragConfig {
    fn default() -> Self {
        FragConfig {
            timeout: Duration::from_secs(30),
            per_source_limit: 256 * 1024,
            global_limit: 4 * 1024 * 1024,
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
    /// Incomplete datagrams evicted to make room under the global cap.
    pub evictions: u64,
    /// Incomplete datagrams that timed out.
    pub timeouts: u64,
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
    data: Vec<u8>,
    /// Received byte ranges, sorted, disjoint, half-open.
    ranges: Vec<(usize, usize)>,
    /// Payload length, known once the last fragment (MF = 0) arrived.
    total: Option<usize>,
    header: Option<Vec<u8>>,
    deadline: Instant,
    /// Creation order, for eviction.
    seq: u64,
}

impl Buffer {
    fn cost(&self) -> usize {
        self.data.len() + self.header.as_ref().map_or(0, Vec::len)
    }
    fn max_end(&self) -> usize {
        self.ranges.last().map_or(0, |r| r.1)
    }
}

/// Reassembles fragmented IPv4 datagrams.
#[derive(Debug)]
pub struct Reassembler {
    config: FragConfig,
    buffers: BTreeMap<FragKey, Buffer>,
    per_source: BTreeMap<Ipv4Addr, usize>,
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

    /// Bytes currently held.
    pub fn memory(&self) -> usize {
        self.total
    }

    /// Incomplete datagrams currently held.
    pub fn pending(&self) -> usize {
        self.buffers.len()
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
        // RFC 791 §3.1: total length is 16 bits, header included.
        if end > MAX_DATAGRAM - MIN_HEADER.max(header.len()) {
            self.stats.oversize += 1;
            self.discard(&key);
            return Err(FragError::Oversize);
        }
        // RFC 791 §3.2: every fragment but the last carries a multiple of 8
        // bytes (and at least 8).
        if more && (payload.is_empty() || !payload.len().is_multiple_of(8)) {
            self.stats.inconsistent += 1;
            self.discard(&key);
            return Err(FragError::Inconsistent);
        }

        if let Some(buf) = self.buffers.get(&key) {
            // Consistency with what is known of the end.
            let bad_end = match buf.total {
                Some(total) => end > total || (!more && end != total),
                None => !more && buf.max_end() > end,
            };
            if bad_end {
                self.stats.inconsistent += 1;
                self.discard(&key);
                return Err(FragError::Inconsistent);
            }
            // Overlap check against every held range.
            for &(s, e) in &buf.ranges {
                if offset < e && s < end {
                    if s <= offset && end <= e && buf.data[offset..end] == *payload {
                        // RFC 791 allows retransmitted fragments; identical
                        // bytes at the same place are harmless.
                        self.stats.duplicates += 1;
                        return Ok(None);
                    }
                    self.stats.overlaps += 1;
                    self.discard(&key);
                    return Err(FragError::Overlap);
                }
            }
        }

        // Memory: growth of this buffer.
        let (old_cost, old_len) = self
            .buffers
            .get(&key)
            .map_or((0, 0), |b| (b.cost(), b.data.len()));
        let header_cost = if offset == 0 { header.len() } else { 0 };
        let new_cost = old_cost + end.saturating_sub(old_len) + header_cost;
        let growth = new_cost - old_cost;
        let src_used = self.per_source.get(&key.src).copied().unwrap_or(0);
        if src_used + growth > self.config.per_source_limit {
            self.stats.memory_drops += 1;
            return Err(FragError::MemoryLimit);
        }
        while self.total + growth > self.config.global_limit {
            let victim = self
                .buffers
                .iter()
                .filter(|(k, _)| **k != key)
                .min_by_key(|(_, b)| b.seq)
                .map(|(k, _)| *k);
            match victim {
                Some(k) => {
                    self.stats.evictions += 1;
                    self.discard(&k);
                }
                None => {
                    self.stats.memory_drops += 1;
                    return Err(FragError::MemoryLimit);
                }
            }
        }

        let seq = self.next_seq;
        let deadline = now + self.config.timeout;
        let buf = self.buffers.entry(key).or_insert_with(|| Buffer {
            data: Vec::new(),
            ranges: Vec::new(),
            total: None,
            header: None,
            // RFC 791 §3.2: the timer starts with the first fragment.
            deadline,
            seq,
        });
        if buf.seq == seq {
            self.next_seq += 1;
        }
        if buf.data.len() < end {
            buf.data.resize(end, 0);
        }
        buf.data[offset..end].copy_from_slice(payload);
        if offset == 0 {
            buf.header = Some(header.to_vec());
        }
        if !more {
            buf.total = Some(end);
        }
        let pos = buf.ranges.partition_point(|r| r.0 < offset);
        buf.ranges.insert(pos, (offset, end));
        // Merge adjacent ranges.
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(buf.ranges.len());
        for &(s, e) in &buf.ranges {
            match merged.last_mut() {
                Some(last) if last.1 == s => last.1 = e,
                _ => merged.push((s, e)),
            }
        }
        buf.ranges = merged;
        *self.per_source.entry(key.src).or_insert(0) += growth;
        self.total += growth;

        let complete =
            matches!(buf.total, Some(t) if buf.ranges == [(0, t)] && buf.header.is_some());
        if complete {
            let buf = self.take(&key).expect("present");
            self.stats.reassembled += 1;
            return Ok(Some(Reassembled {
                key,
                header: buf.header.unwrap_or_default(),
                payload: buf.data,
            }));
        }
        Ok(None)
    }

    fn take(&mut self, key: &FragKey) -> Option<Buffer> {
        let buf = self.buffers.remove(key)?;
        let cost = buf.cost();
        self.total -= cost;
        if let Some(used) = self.per_source.get_mut(&key.src) {
            *used -= cost;
            if *used == 0 {
                self.per_source.remove(&key.src);
            }
        }
        Some(buf)
    }

    fn discard(&mut self, key: &FragKey) {
        self.take(key);
    }

    /// When the next incomplete datagram expires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.buffers.values().map(|b| b.deadline).min()
    }

    /// Discards the datagrams whose timer ran out (RFC 791 §3.2), appending
    /// them to `expired`.
    pub fn handle_timeout(&mut self, now: Instant, expired: &mut Vec<Expired>) {
        let due: Vec<FragKey> = self
            .buffers
            .iter()
            .filter(|(_, b)| b.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            if let Some(buf) = self.take(&key) {
                self.stats.timeouts += 1;
                let quote = buf.header.map(|mut h| {
                    let have = buf.ranges.first().filter(|r| r.0 == 0).map_or(0, |r| r.1);
                    h.extend_from_slice(&buf.data[..have.min(8)]);
                    h
                });
                expired.push(Expired { key, quote });
            }
        }
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

    #[test]
    fn teardrop_overlap_discards_datagram() {
        let mut r = Reassembler::new(FragConfig::default());
        r.push(Instant::ZERO, KEY, &HDR, 0, true, &[1; 40]).unwrap();
        // Overlaps 32..40 with different bounds.
        assert_eq!(
            r.push(Instant::ZERO, KEY, &HDR, 32, false, &[2; 16]),
            Err(FragError::Overlap)
        );
        assert_eq!(r.pending(), 0);
        assert_eq!(r.memory(), 0);
        // Same place, different bytes: also an overlap.
        r.push(Instant::ZERO, KEY, &HDR, 0, true, &[1; 40]).unwrap();
        assert_eq!(
            r.push(Instant::ZERO, KEY, &HDR, 0, true, &[3; 40]),
            Err(FragError::Overlap)
        );
        assert_eq!(r.stats().overlaps, 2);
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
        assert_eq!(r.pending(), 0);
        assert_eq!(r.memory(), 0);
        assert_eq!(r.stats().oversize, 1);
    }

    #[test]
    fn inconsistent_ends_and_lengths() {
        let mut r = Reassembler::new(FragConfig::default());
        // Non-final fragment not a multiple of 8.
        assert_eq!(
            r.push(Instant::ZERO, KEY, &HDR, 0, true, &[0; 10]),
            Err(FragError::Inconsistent)
        );
        // Two different ends.
        r.push(Instant::ZERO, KEY, &HDR, 16, false, &[0; 8])
            .unwrap();
        assert_eq!(
            r.push(Instant::ZERO, KEY, &HDR, 32, false, &[0; 8]),
            Err(FragError::Inconsistent)
        );
        // Data past a known end.
        r.push(Instant::ZERO, KEY, &HDR, 16, false, &[0; 8])
            .unwrap();
        assert_eq!(
            r.push(Instant::ZERO, KEY, &HDR, 24, true, &[0; 8]),
            Err(FragError::Inconsistent)
        );
        assert_eq!(r.memory(), 0);
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
