//! Internet checksum throughput: strata's fast sum beside a plain loop,
//! smoltcp's own checksum function and the byte-pair reference, measured in
//! the same run.
//!
//! `cargo run --release -p strata-bench --example checksum_bench`
//! (add `RUSTFLAGS="-C target-cpu=native"` to let the compiler use the
//! whole instruction set for the plain loop and smoltcp's; strata picks its
//! AVX2 build at run time either way).

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

/// The simple loop a programmer would write first: add big-endian 16-bit
/// words into a wide accumulator, fold the carries once at the end. Nothing
/// serialises the additions, so the compiler may vectorise it.
fn plain(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// smoltcp's checksum function, as its TCP and UDP code call it.
fn smoltcp_sum(data: &[u8]) -> u16 {
    smoltcp::wire::checksum::data(data)
}

fn main() {
    let budget = Duration::from_millis(300);
    println!(
        "Internet checksum (RFC 1071), best of 5 runs, GB/s; built for {}",
        if cfg!(target_feature = "avx2") {
            "a CPU with AVX2"
        } else {
            "baseline x86-64"
        }
    );
    println!(
        "{:>8}  {:>8}  {:>8}  {:>8}  {:>9}  {:>13}  {:>9}",
        "size", "strata", "plain", "smoltcp", "byte-pair", "copy_and_sum", "copy+sum"
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
        let want = checksum::naive(&buf);
        assert_eq!(checksum::sum(&buf), want);
        assert_eq!(plain(&buf), want);
        // smoltcp adds native-endian words and swaps once at the end.
        assert_eq!(smoltcp_sum(&buf), want);
        let fast = measure(&buf, budget, checksum::sum);
        let simple = measure(&buf, budget, plain);
        let smol = measure(&buf, budget, smoltcp_sum);
        let naive = measure(&buf, budget, checksum::naive);
        let mut dst = vec![0u8; size];
        let fused = measure(&buf, budget, |b| checksum::copy_and_sum(&mut dst, b));
        let mut dst2 = vec![0u8; size];
        let separate = measure(&buf, budget, |b| {
            dst2.copy_from_slice(b);
            checksum::sum(&dst2)
        });
        println!(
            "{size:>8}  {fast:>8.2}  {simple:>8.2}  {smol:>8.2}  {naive:>9.2}  {fused:>13.2}  {separate:>9.2}"
        );
    }
}
