//! What the runtime's fault and stress tests share: two runtimes on an
//! in-process link, and a wall-clock guard so that a hang fails the test
//! instead of blocking CI.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use strata_io::runtime::{Runtime, RuntimeConfig};
use strata_io::PipeDevice;

/// Runs `f` on its own thread and fails (panics) if it has not finished
/// within `limit`. The hung thread is left behind (the test process ends
/// it); its name says which test it belongs to.
pub fn guarded<T: Send + 'static>(
    name: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::Builder::new()
        .name(format!("guarded-{name}"))
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .expect("spawn the guarded thread");
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => {
            let _ = t.join();
            v
        }
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("{name}: still running after {limit:?} (hang)"),
    }
}

/// A runtime configuration for `10.<net>.<sub>.<host>/24`.
pub fn config(net: u8, sub: u8, host: u8) -> RuntimeConfig {
    RuntimeConfig::new(format!("10.{net}.{sub}.{host}/24").parse().unwrap())
}

/// Two runtimes, `.1` and `.2` of `10.<net>.<sub>.0/24`, on one link.
pub fn pair(net: u8, sub: u8) -> (Runtime, Runtime) {
    pair_with(config(net, sub, 1), config(net, sub, 2))
}

/// Two runtimes with chosen configurations on one in-process link.
pub fn pair_with(a: RuntimeConfig, b: RuntimeConfig) -> (Runtime, Runtime) {
    let (da, db) = PipeDevice::pair().unwrap();
    (Runtime::new(da, a).unwrap(), Runtime::new(db, b).unwrap())
}

/// `10.<net>.<sub>.<host>:<port>`.
pub fn addr(net: u8, sub: u8, host: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([10, net, sub, host], port))
}

/// `0.0.0.0:<port>`.
pub fn any(port: u16) -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], port))
}

/// Resident set size of this process, in bytes (Linux `/proc`).
pub fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// A small deterministic PRNG (xorshift64*), so a failing run can be
/// replayed from its printed seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

/// `len` bytes of a pattern that depends on `seed` and the position, so a
/// stream that loses, repeats or reorders bytes does not match.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| ((i.wrapping_mul(31) ^ seed ^ (i >> 8)) & 0xff) as u8)
        .collect()
}
