//! `strata sim frag-flood`: the fragment-flood scenario (issue 23), with the
//! heap the victim really holds, counted by this binary's allocator.

use std::sync::atomic::{AtomicIsize, Ordering};

use strata_sim::fragflood::{FragFlood, FragFloodOptions};

use crate::sim::SimArgs;

/// Heap bytes live, and the peak since [`reset_peak`].
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting the bytes requested and freed, so the
/// scenario can report the heap the victim holds next to what it charges.
pub struct Counting;

fn add(delta: isize) {
    let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
    if delta > 0 {
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        add(l.size() as isize);
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        add(-(l.size() as isize));
        unsafe { std::alloc::System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        add(n as isize - l.size() as isize);
        unsafe { std::alloc::System.realloc(p, l, n) }
    }
}

fn reset_peak() -> isize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// Restarts the heap peak at the bytes live now, and returns them.
pub fn reset_heap_peak() -> isize {
    reset_peak()
}

/// The heap peak since [`reset_heap_peak`].
pub fn heap_peak() -> isize {
    PEAK.load(Ordering::Relaxed)
}

/// Runs the scenario and prints what it measured.
pub fn run(args: &SimArgs) -> anyhow::Result<()> {
    let opts = FragFloodOptions {
        seed: args.seed,
        frames: usize::try_from(args.frames).unwrap_or(usize::MAX),
        sources: args.sources,
        ..FragFloodOptions::default()
    };
    let mut run = FragFlood::new(&opts);
    let start = reset_peak();
    run.feed_flood();
    let flood_peak = PEAK.load(Ordering::Relaxed) - start;
    let held = LIVE.load(Ordering::Relaxed) - start;
    run.feed_baseline();
    let r = run.report();
    let s = &r.shapes;
    println!(
        "frag-flood: {} frames from {} spoofed sources (seed {}), then {} ordinary datagrams",
        r.frames, opts.sources, opts.seed, r.baseline_frames
    );
    println!(
        "  shapes: {} empty last, {} overlapping pairs, {} never completed, {} oversized pairs, {} real fragments",
        s.empty_last, s.overlapping, s.never_completed, s.oversized, s.legit
    );
    let a = &r.reassembly;
    println!(
        "  reassembly: {} evictions, {} overlaps, {} oversize, {} inconsistent, {} memory drops, {} fragments of discarded datagrams",
        a.evictions, a.overlaps, a.oversize, a.inconsistent, a.memory_drops, a.discarded_fragments
    );
    println!(
        "  memory: peak charged {} B of the {} B cap, peak {} of {} buffers; heap held by the victim at peak {} B, at the end {} B",
        r.peak_memory, r.memory_cap, r.peak_buffers, r.buffer_cap, flood_peak, held
    );
    println!(
        "  real datagrams during the flood: {}/{} delivered; ordinary datagrams: {}/{}; victim frames out: {}",
        r.legit_delivered, r.legit_sent, r.baseline_delivered, r.baseline_frames, r.victim_frames_out
    );
    println!(
        "  instructions per frame: run under callgrind, e.g.\n    valgrind --tool=callgrind --toggle-collect='*FragFlood*feed_flood*' strata sim frag-flood  (flood)\n    valgrind --tool=callgrind --toggle-collect='*FragFlood*feed_baseline*' strata sim frag-flood  (ordinary)\n  and divide the Ir total by the frame count."
    );
    if r.peak_memory > r.memory_cap || r.peak_buffers > r.buffer_cap {
        anyhow::bail!("the reassembler exceeded its cap");
    }
    Ok(())
}
