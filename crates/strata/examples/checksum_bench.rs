//! Internet checksum throughput: strata's fast sum beside the naive
//! byte-pair loop, measured in the same run.
//!
//! `cargo run --release -p strata --example checksum_bench`

use std::hint::black_box;
use std::time::{Duration, Instant};

use strata::wire::checksum;

/// Runs `f` over `buf` repeatedly for about `budget`; returns GB/s.
fn measure(buf: &[u8], budget: Duration, mut f: impl FnMut(&[u8]) -> u16) -> f64 {
    // Warm up and calibrate.
    let mut iters: u64 = 1;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(f(black_box(buf)));
        }
        let e = t.elapsed();
        if e >= budget / 10 {
            break;
        }
        iters *= 2;
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(f(black_box(buf)));
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    (buf.len() as f64 * iters as f64) / best / 1e9
}

fn main() {
    let budget = Duration::from_millis(300);
    println!("Internet checksum (RFC 1071), best of 5 runs, GB/s");
    println!(
        "{:>8}  {:>9}  {:>9}  {:>7}  {:>13}  {:>13}",
        "size", "fast", "naive", "speedup", "copy_and_sum", "copy+sum"
    );
    for size in [1500usize, 64 * 1024] {
        // Deterministic pseudo-random bytes.
        let mut x: u32 = 0x9e37_79b9;
        let buf: Vec<u8> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert_eq!(checksum::sum(&buf), checksum::naive(&buf));
        let fast = measure(&buf, budget, checksum::sum);
        let naive = measure(&buf, budget, checksum::naive);
        let mut dst = vec![0u8; size];
        let fused = measure(&buf, budget, |b| checksum::copy_and_sum(&mut dst, b));
        let mut dst2 = vec![0u8; size];
        let separate = measure(&buf, budget, |b| {
            dst2.copy_from_slice(b);
            checksum::sum(&dst2)
        });
        println!(
            "{:>8}  {:>9.2}  {:>9.2}  {:>6.1}x  {:>13.2}  {:>13.2}",
            size,
            fast,
            naive,
            fast / naive,
            fused,
            separate
        );
    }
}
