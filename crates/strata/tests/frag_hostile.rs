//! Reassembly under hostile fragments (issue 23, problems 1 and 8 and the
//! RFC 5722 overlap choice): buffers are capped in number, the memory the
//! reassembler reports is an upper bound of the heap it really holds
//! (measured with a counting allocator, per thread), and the size limit uses
//! the first fragment's header.

use core::cell::Cell;
use core::net::Ipv4Addr;
use std::alloc::{GlobalAlloc, Layout, System};
use strata::net::frag::{
    FragConfig, FragError, FragKey, Reassembled, Reassembler, BUFFER_OVERHEAD,
};
use strata::time::{Duration, Instant};

struct Counting;

thread_local! {
    /// Heap bytes requested (minus freed) by this thread.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE.try_with(|c| c.set(c.get() + delta));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count(l.size() as isize);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        count(-(l.size() as isize));
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count(n as isize - l.size() as isize);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

const HDR: [u8; 20] = [0x45; 20];

fn key(src: u32, ident: u16) -> FragKey {
    FragKey {
        src: Ipv4Addr::from_bits(0x0a00_0000 | src),
        dst: Ipv4Addr::new(10, 0, 0, 1),
        protocol: 17,
        ident,
    }
}

/// A flood of empty last fragments at offset 8 from 32 spoofed sources:
/// each would start a buffer. The number of buffers is capped, and the heap
/// the reassembler holds stays within what it reports and within its cap.
#[test]
fn empty_last_fragment_flood_is_capped_and_counted_honestly() {
    let cfg = FragConfig::default();
    let mut r = Reassembler::new(cfg);
    let before = live();
    let mut peak_heap = 0;
    for i in 0..60_000u32 {
        let k = key(i % 32, (i / 32) as u16);
        let _ = r.push(Instant::from_micros(u64::from(i)), k, &HDR, 8, false, &[]);
        if (i + 1).is_multiple_of(1000) {
            let heap = live() - before;
            peak_heap = peak_heap.max(heap);
            assert!(
                heap <= r.memory() as isize + 4096,
                "after {} fragments the reassembler holds {heap} heap bytes but reports {}",
                i + 1,
                r.memory()
            );
            assert!(r.memory() <= cfg.global_limit);
        }
    }
    assert!(
        r.pending() <= 4096,
        "{} buffers held for empty fragments",
        r.pending()
    );
    eprintln!(
        "{} buffers, reported {} bytes, heap {} bytes (peak {peak_heap})",
        r.pending(),
        r.memory(),
        live() - before
    );
    assert!(peak_heap as usize <= cfg.global_limit + 4096);
    assert!(r.stats().evictions + r.stats().memory_drops > 0);
}

/// Sparse fragments (one 8-byte fragment far into the datagram) are charged
/// what they hold, and the heap stays within the reported figure.
#[test]
fn sparse_and_overlapping_shapes_stay_within_the_reported_memory() {
    let cfg = FragConfig {
        per_source_limit: 128 * 1024,
        global_limit: 1024 * 1024,
        ..FragConfig::default()
    };
    let mut r = Reassembler::new(cfg);
    let before = live();
    let mut x: u64 = 77;
    for i in 0..40_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let k = key((x % 200) as u32, (x >> 8) as u16 % 64);
        let off = 8 * ((x >> 24) % 8190) as usize;
        let len = 8 * (1 + (x >> 40) % 180) as usize;
        let more = !(x >> 50).is_multiple_of(4);
        let now = Instant::from_micros(u64::from(i) * 50);
        let _ = r.push(now, k, &HDR, off, more, &vec![i as u8; len]);
        let heap = live() - before;
        assert!(
            heap <= r.memory() as isize + 4096,
            "heap {heap} > reported {}",
            r.memory()
        );
        assert!(r.memory() <= cfg.global_limit);
    }
}

/// Pushes fragments of `chunk` bytes with 20-byte headers from payload
/// offset `from` up to 65 512 payload bytes (the last one without MF);
/// stops at the first error. Returns what the last push returned.
fn fill_to_max(
    r: &mut Reassembler,
    k: FragKey,
    from: usize,
    chunk: usize,
) -> Result<Option<Reassembled>, FragError> {
    let mut off = from;
    let mut last = Ok(None);
    while off < 65_512 {
        let len = chunk.min(65_512 - off);
        let more = off + len < 65_512;
        last = r.push(Instant::ZERO, k, &HDR, off, more, &vec![2; len]);
        if last.is_err() {
            break;
        }
        off += len;
    }
    last
}

/// RFC 791 §3.1: total length counts the header of the reassembled
/// datagram, which is the first fragment's. A 60-byte first header and
/// 20-byte later headers must not let the datagram reach 65 572 bytes.
#[test]
fn reassembled_size_uses_the_first_fragments_header() {
    let mut r = Reassembler::new(FragConfig::default());
    let k = key(5, 1);
    let mut first = vec![0x4f; 60];
    first[0] = 0x4f;
    let chunk = 8000;
    assert_eq!(
        r.push(Instant::ZERO, k, &first, 0, true, &vec![1; chunk]),
        Ok(None)
    );
    match fill_to_max(&mut r, k, chunk, chunk) {
        Err(FragError::Oversize) => {}
        Ok(Some(d)) => panic!(
            "reassembled a {}-byte datagram",
            d.header.len() + d.payload.len()
        ),
        other => panic!("{other:?}"),
    }
    // The same shape with a 20-byte first header fits exactly (65 532).
    let k2 = key(6, 1);
    r.push(Instant::ZERO, k2, &HDR, 0, true, &vec![1; chunk])
        .unwrap();
    let done = fill_to_max(&mut r, k2, chunk, chunk).unwrap();
    let d = done.expect("complete");
    assert_eq!(d.header.len() + d.payload.len(), 65_532);
}

/// The same check when the 60-byte first fragment arrives last.
#[test]
fn late_long_first_header_is_oversize() {
    let mut r = Reassembler::new(FragConfig::default());
    let k = key(7, 1);
    fill_to_max(&mut r, k, 8000, 8000).unwrap();
    let first = vec![0x4f; 60];
    assert_eq!(
        r.push(Instant::ZERO, k, &first, 0, true, &vec![1; 8000]),
        Err(FragError::Oversize)
    );
    // Only the discard marker is left.
    assert!(r.memory() <= BUFFER_OVERHEAD);
}

/// RFC 5722 §4 (adopted here for IPv4): once a datagram is discarded for an
/// overlap, its fragments still to come are discarded too, until the
/// datagram's reassembly timer would have run out; then the identity is
/// free again.
#[test]
fn fragments_after_an_overlap_are_discarded_until_the_timeout() {
    let cfg = FragConfig::default();
    let mut r = Reassembler::new(cfg);
    let k = key(8, 1);
    let t0 = Instant::from_secs(1);
    r.push(t0, k, &HDR, 0, true, &[1; 40]).unwrap();
    assert_eq!(
        r.push(t0, k, &HDR, 32, true, &[2; 16]),
        Err(FragError::Overlap)
    );
    // The rest of the datagram: dropped, nothing assembled, nothing held
    // beyond the marker.
    assert!(r.push(t0, k, &HDR, 40, false, &[3; 8]).is_err());
    assert!(r.push(t0, k, &HDR, 0, true, &[1; 40]).is_err());
    let mut expired = Vec::new();
    r.handle_timeout(t0 + cfg.timeout + Duration::from_secs(1), &mut expired);
    assert!(expired.iter().all(|e| e.quote.is_none()));
    assert_eq!(r.pending(), 0);
    assert_eq!(r.memory(), 0);
    // After the timeout the identity may be reused.
    let t1 = t0 + cfg.timeout + Duration::from_secs(2);
    r.push(t1, k, &HDR, 0, true, &[1; 40]).unwrap();
    assert!(r.push(t1, k, &HDR, 40, false, &[3; 8]).unwrap().is_some());
}
