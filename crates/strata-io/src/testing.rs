//! Test support for interop tests against the Linux kernel.
//!
//! [`Netns`] is an RAII guard over a uniquely named network namespace: the
//! test gives the kernel side an address inside it, opens a TAP inside it
//! for strata, and every process it started there, every interface and the
//! namespace itself are removed in `Drop`, also when the test panics.
//! Traffic never leaves the namespace.
//!
//! [`skip_unless_root_and_tun`] lets such tests skip, with a printed reason,
//! where they cannot run (not root, no `/dev/net/tun`, no `ip`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use crate::tap::{TapDevice, TapError};

/// Returns `true` when kernel interop tests can run here; otherwise prints
/// `skipping: <reason>` and returns `false`.
pub fn skip_unless_root_and_tun() -> bool {
    match why_not_runnable() {
        None => true,
        Some(reason) => {
            println!("skipping: {reason}");
            false
        }
    }
}

fn why_not_runnable() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (kernel interop tests need root for network namespaces)".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing".into());
    }
    match Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => {}
        _ => return Some("the `ip` command (iproute2) is not installed".into()),
    }
    None
}

/// Whether a program can be started (`prog --version` or similar exits).
pub fn have_program(prog: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {prog}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace that lives as long as this value.
#[derive(Debug)]
pub struct Netns {
    name: String,
    children: Mutex<Vec<Child>>,
}

impl Netns {
    /// Creates a uniquely named namespace `strata-<tag>-<pid>-<n>` with its
    /// loopback up.
    pub fn new(tag: &str) -> io::Result<Netns> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("strata-{tag}-{}-{n}", std::process::id());
        run_checked(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Netns {
            name,
            children: Mutex::new(Vec::new()),
        };
        ns.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `Command` that runs `args` inside the namespace.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    /// Runs `args` inside the namespace; an error if it exits non-zero.
    pub fn exec(&self, args: &[&str]) -> io::Result<Output> {
        run_checked(&mut self.command(args))
    }

    /// Runs a shell command line inside the namespace; an error if it fails.
    pub fn sh(&self, script: &str) -> io::Result<Output> {
        self.exec(&["sh", "-c", script])
    }

    /// Starts `args` inside the namespace in the background; it is killed
    /// when the namespace guard drops. Returns its process id.
    pub fn spawn(&self, args: &[&str]) -> io::Result<u32> {
        let child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let pid = child.id();
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(child);
        Ok(pid)
    }

    /// Creates TAP interface `tap` in the namespace, gives the kernel side
    /// `kernel_cidr` (e.g. `10.20.0.1/24`) and brings it up.
    pub fn add_tap(&self, tap: &str, kernel_cidr: &str) -> io::Result<()> {
        self.exec(&["ip", "tuntap", "add", "dev", tap, "mode", "tap"])?;
        self.exec(&["ip", "addr", "add", kernel_cidr, "dev", tap])?;
        self.exec(&["ip", "link", "set", tap, "up"])?;
        Ok(())
    }

    /// Runs `f` on a fresh thread that has entered this namespace (setns),
    /// and returns its result. Sockets and devices opened there stay bound
    /// to the namespace after the thread ends.
    pub fn run_inside<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> io::Result<T> {
        let path = format!("/var/run/netns/{}", self.name);
        let file = std::fs::File::open(&path)?;
        let handle = std::thread::spawn(move || -> io::Result<T> {
            // SAFETY: `file` is an open namespace file; setns only changes
            // this (short-lived, dedicated) thread's network namespace.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(f())
        });
        handle
            .join()
            .map_err(|_| io::Error::other("thread inside namespace panicked"))?
    }

    /// Opens TAP `tap` (created by [`Netns::add_tap`]) from inside the namespace.
    pub fn open_tap(&self, tap: &str) -> io::Result<Result<TapDevice, TapError>> {
        let tap = tap.to_string();
        self.run_inside(move || TapDevice::open(&tap))
    }

    /// An open descriptor of the namespace (for `setns` by callers).
    pub fn fd(&self) -> io::Result<OwnedFd> {
        let file = std::fs::File::open(format!("/var/run/netns/{}", self.name))?;
        // SAFETY: converts the file's descriptor; `into_raw_fd` gives up ownership.
        Ok(unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(file)) })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        for child in children.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Kill anything else still running in the namespace (e.g. children
        // of processes we started), then remove its links and itself.
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        // SAFETY: plain kill(2) of a process inside our namespace.
                        unsafe {
                            libc::kill(pid, libc::SIGKILL);
                        }
                    }
                }
            });
        if let Ok(o) = Command::new("ip")
            .args(["netns", "exec", &self.name, "ip", "-o", "link", "show"])
            .output()
        {
            for line in String::from_utf8_lossy(&o.stdout).lines() {
                // "2: tap0: <...>" → "tap0"
                if let Some(name) = line.split(':').nth(1).map(str::trim) {
                    let name = name.split('@').next().unwrap_or(name);
                    if name != "lo" && !name.is_empty() {
                        let _ = Command::new("ip")
                            .args(["netns", "exec", &self.name, "ip", "link", "del", name])
                            .stderr(Stdio::null())
                            .status();
                    }
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

fn run_checked(cmd: &mut Command) -> io::Result<Output> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{:?} failed ({}): {}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out)
}

/// A device wrapper that injects faults at the frame boundary, for tests
/// where the kernel's `tc netem` is not available: it drops inbound and
/// outbound frames with probability `loss` and reorders inbound frames
/// (a frame is held back and delivered after the next one) with
/// probability `reorder`. Deterministic for a given seed.
#[derive(Debug)]
pub struct FaultyDevice<D> {
    inner: D,
    rng: u64,
    loss: f64,
    reorder: f64,
    held: Option<Vec<u8>>,
    release: Option<Vec<u8>>,
    counters: std::sync::Arc<FaultCounters>,
}

/// What a [`FaultyDevice`] did, readable while the runtime owns the device.
#[derive(Debug, Default)]
pub struct FaultCounters {
    /// Inbound frames dropped.
    pub dropped_in: std::sync::atomic::AtomicU64,
    /// Outbound frames dropped.
    pub dropped_out: std::sync::atomic::AtomicU64,
    /// Inbound frames overtaken by a later one.
    pub reordered: std::sync::atomic::AtomicU64,
}

impl<D: crate::Device> FaultyDevice<D> {
    /// Wraps `inner`.
    pub fn new(inner: D, seed: u64, loss: f64, reorder: f64) -> Self {
        FaultyDevice {
            inner,
            rng: seed | 1,
            loss,
            reorder,
            held: None,
            release: None,
            counters: Default::default(),
        }
    }

    /// The shared fault counters.
    pub fn counters(&self) -> std::sync::Arc<FaultCounters> {
        self.counters.clone()
    }

    /// A uniform number in [0, 1) (xorshift64*).
    fn chance(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl<D: crate::Device> std::os::fd::AsFd for FaultyDevice<D> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl<D: crate::Device> crate::Device for FaultyDevice<D> {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let put = |buf: &mut [u8], f: Vec<u8>| {
            buf[..f.len()].copy_from_slice(&f);
            f.len()
        };
        if let Some(f) = self.release.take() {
            return Ok(Some(put(buf, f)));
        }
        loop {
            let Some(n) = self.inner.recv(buf)? else {
                // Nothing newer came: the held frame goes now, in order.
                return Ok(self.held.take().map(|f| put(buf, f)));
            };
            if self.chance() < self.loss {
                self.counters.dropped_in.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if let Some(older) = self.held.take() {
                // The newer frame overtakes the held one, which follows
                // on the next call.
                self.counters.reordered.fetch_add(1, Ordering::Relaxed);
                self.release = Some(older);
                return Ok(Some(n));
            }
            if self.chance() < self.reorder {
                self.held = Some(buf[..n].to_vec());
                continue;
            }
            return Ok(Some(n));
        }
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<bool> {
        if self.chance() < self.loss {
            self.counters.dropped_out.fetch_add(1, Ordering::Relaxed);
            return Ok(true);
        }
        self.inner.send(frame)
    }

    fn describe(&self) -> String {
        format!("faulty({})", self.inner.describe())
    }
}
