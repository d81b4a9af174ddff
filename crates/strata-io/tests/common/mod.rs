//! What the runtime's tests share: two runtimes on an in-process link, a
//! wall-clock guard so that a hang fails the test instead of blocking CI,
//! and for the kernel interop tests deterministic content and threads
//! inside a test's network namespace.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use strata_io::runtime::{Runtime, RuntimeConfig};
use strata_io::testing::Netns;
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
    // Test links are made by the test, both ends: no RFC 5227 probing.
    RuntimeConfig::new(format!("10.{net}.{sub}.{host}/24").parse().unwrap()).address_known_unique()
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

/// Pings `to` from `rt` and asserts that it answers (within 5 s): the
/// runtime's I/O thread is alive, and the neighbour's address is learnt.
pub fn ping_ok(rt: &Runtime, to: &str) {
    let r = rt
        .ping(
            to.parse().unwrap(),
            1,
            b"ok",
            std::time::Duration::from_secs(5),
        )
        .unwrap();
    assert!(
        matches!(r, strata_io::runtime::PingReply::Reply { .. }),
        "{r:?}"
    );
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

/// An in-process cable between two devices that the test can cut: each
/// side gets a [`PipeDevice`]; a thread carries frames between them. After
/// [`Cable::cut`] both sides see their device end (end of file) with no
/// frame sent by either stack: a peer that vanishes without a word.
pub struct Cable {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Cable {
    /// The two ends, and the cable.
    pub fn new() -> (PipeDevice, PipeDevice, Cable) {
        use std::os::fd::AsFd;
        use strata_io::Device;
        let (a, mut a_in) = PipeDevice::pair().unwrap();
        let (b, mut b_in) = PipeDevice::pair().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("cable".into())
            .spawn(move || {
                let mut buf = vec![0u8; 65536];
                while !s2.load(std::sync::atomic::Ordering::Acquire) {
                    let ready = strata_io::sys::poll_events(
                        &[a_in.as_fd(), b_in.as_fd()],
                        Some(Duration::from_millis(20)),
                    )
                    .unwrap();
                    if ready[0].any() {
                        while let Ok(Some(n)) = a_in.recv(&mut buf) {
                            let _ = b_in.send(&buf[..n]);
                        }
                    }
                    if ready[1].any() {
                        while let Ok(Some(n)) = b_in.recv(&mut buf) {
                            let _ = a_in.send(&buf[..n]);
                        }
                    }
                }
                // Dropping the inner ends here is the cut.
            })
            .unwrap();
        (
            a,
            b,
            Cable {
                stop,
                thread: Some(thread),
            },
        )
    }

    /// Cuts the cable: both devices reach end of file.
    pub fn cut(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        self.cut();
    }
}

/// How big the stress runs are: `STRATA_STRESS=large` for the full size,
/// otherwise a size that runs in seconds on two busy cores.
pub fn large() -> bool {
    std::env::var("STRATA_STRESS").is_ok_and(|v| v == "large")
}

/// Descriptors open in this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Runtime I/O threads (named `strata-io`) alive in this process.
pub fn io_threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| {
        d.flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.trim() == "strata-io")
            })
            .count()
    })
}

/// `len` bytes of xorshift32 output seeded by `salt`: content a test can
/// make again to check what arrived.
pub fn content(len: usize, salt: u32) -> Vec<u8> {
    let mut x = 0x9e37_79b9u32 ^ salt;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Runs `f` on a new thread that has entered `ns` (the kernel's side of
/// the test's TAP), and returns at once with the thread's handle.
pub fn in_ns<T: Send + 'static>(
    ns: &Netns,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    use std::os::fd::AsRawFd;
    let fd = ns.fd().unwrap();
    std::thread::spawn(move || {
        // SAFETY: `fd` is an open namespace descriptor; setns changes only
        // this thread's network namespace.
        assert_eq!(
            unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        f()
    })
}
