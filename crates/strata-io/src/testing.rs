//! Test support for interop tests against the Linux kernel.
//!
//! [`Netns`] is an RAII guard over a uniquely named network namespace: the
//! test gives the kernel side an address inside it, opens a TAP inside it
//! for strata, and every process it started there, every interface and the
//! namespace itself are removed in `Drop`, also when the test panics.
//! Traffic never leaves the namespace.
//!
//! [`skip_unless_root_and_tun`] and [`can_run`] let such tests skip, with a
//! printed reason, where they cannot run (not root, no `/dev/net/tun`, no
//! `ip`, a tool missing). [`Netns::with_runtime`], [`Netns::serve_directory`],
//! [`Netns::curl_to_file`] and [`TempDir`] are the scaffolding the kernel
//! interop tests of several crates share.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::runtime::{Runtime, RuntimeConfig};
use crate::tap::{TapDevice, TapError, TapOptions};

/// Returns `true` when kernel interop tests can run here; otherwise prints
/// `skipping: <reason>` and returns `false`.
pub fn skip_unless_root_and_tun() -> bool {
    match why_not_runnable() {
        None => true,
        Some(reason) => skip(&reason),
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

/// [`skip_unless_root_and_tun`], and also `false` with a printed
/// `skipping: <tool> is not installed` unless every program in `tools` is.
pub fn can_run(tools: &[&str]) -> bool {
    if !skip_unless_root_and_tun() {
        return false;
    }
    strata_sim::testing::require_programs(tools)
}

/// A scratch directory, `strata-<tag>-<pid>` in the system's temporary
/// directory, emptied when made and removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Makes the directory (removing an old one of the same name first).
    pub fn new(tag: &str) -> io::Result<TempDir> {
        let d = std::env::temp_dir().join(format!("strata-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d)?;
        Ok(TempDir(d))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub use strata_sim::testing::{have_program, prerequisites_required, skip};

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

    /// Like [`Netns::add_tap`], for a multi-queue TAP (`multi_queue`:
    /// open its queues with [`TapDevice::open_queues`]).
    pub fn add_tap_multi_queue(&self, tap: &str, kernel_cidr: &str) -> io::Result<()> {
        self.exec(&[
            "ip",
            "tuntap",
            "add",
            "dev",
            tap,
            "mode",
            "tap",
            "multi_queue",
        ])?;
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

    /// A namespace `tag` with TAP `st<tag>` whose kernel side is
    /// `10.20.<net>.1/24`, and a strata runtime at `10.20.<net>.2/24` on it.
    ///
    /// With `STRATA_TAP_OFFLOAD=1` in the environment the TAP is opened
    /// with the virtio-net offloads ([`TapOptions::from_env`]), so the
    /// kernel interop suites can run once each way.
    pub fn with_runtime(tag: &str, net: u8) -> io::Result<(Netns, Runtime)> {
        Self::with_runtime_opts(tag, net, TapOptions::from_env())
    }

    /// [`Netns::with_runtime`] with the TAP opened with `opts` whatever
    /// the environment says.
    pub fn with_runtime_opts(tag: &str, net: u8, opts: TapOptions) -> io::Result<(Netns, Runtime)> {
        let ns = Netns::new(tag)?;
        let tap = format!("st{tag}");
        ns.add_tap(&tap, &format!("10.20.{net}.1/24"))?;
        let dev = ns
            .run_inside(move || TapDevice::open_with(&tap, opts))?
            .map_err(io::Error::other)?;
        let addr = format!("10.20.{net}.2/24")
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // The test made this link and both its ends: the address is known
        // to be free, so no RFC 5227 probing (seconds per runtime).
        let rt = Runtime::new(dev, RuntimeConfig::new(addr).address_known_unique())?;
        Ok((ns, rt))
    }

    /// Waits (up to 10 s) until something accepts TCP connections on
    /// `addr`, connecting from inside the namespace.
    pub fn wait_for_port(&self, addr: SocketAddrV4) -> io::Result<()> {
        self.run_inside(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                match std::net::TcpStream::connect_timeout(
                    &SocketAddr::V4(addr),
                    Duration::from_secs(1),
                ) {
                    Ok(_) => return Ok(()),
                    Err(e) if std::time::Instant::now() >= deadline => return Err(e),
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })?
    }

    /// Serves `dir` with Python's `http.server` on `ip:port` in the
    /// namespace (stopped when the guard drops); returns once it accepts
    /// connections.
    pub fn serve_directory(&self, ip: Ipv4Addr, port: u16, dir: &Path) -> io::Result<()> {
        let dir = dir
            .to_str()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path is not UTF-8"))?;
        self.spawn(&[
            "python3",
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            &ip.to_string(),
            "--directory",
            dir,
        ])?;
        self.wait_for_port(SocketAddrV4::new(ip, port))
    }

    /// Downloads `url` into `out` with curl in the namespace (`--fail`: an
    /// HTTP error status is an error; at most 120 s).
    pub fn curl_to_file(&self, url: &str, out: &Path) -> io::Result<Output> {
        let out = out
            .to_str()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path is not UTF-8"))?;
        self.exec(&["curl", "-sS", "--fail", "--max-time", "120", "-o", out, url])
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

/// A device wrapper that changes nothing and watches the order in which
/// inbound TCP segments arrive, to prove that reordering happened on the
/// wire rather than just being configured.
///
/// The kernel numbers the IPv4 datagrams of a connected TCP socket from a
/// per-socket counter (the Identification field, RFC 791 §3.1; RFC 6864 §4
/// lets it be anything for atomic datagrams, and Linux increments it per
/// segment), so a segment whose Identification is behind the highest one
/// already seen on its connection was sent before a segment that overtook
/// it. Retransmissions get fresh, higher numbers and are not counted.
#[derive(Debug)]
pub struct ArrivalProbe<D> {
    inner: D,
    /// Per connection (source, source port, destination port): the newest
    /// Identification seen. A BTreeMap keeps the probe deterministic.
    newest: std::collections::BTreeMap<(std::net::Ipv4Addr, u16, u16), u16>,
    counters: std::sync::Arc<ArrivalCounters>,
}

/// How far behind the newest Identification a segment may be and still
/// count as overtaken rather than as the start of a new series.
const MAX_OVERTAKEN: u16 = 4096;

/// What an [`ArrivalProbe`] saw, readable while the runtime owns the device.
#[derive(Debug, Default)]
pub struct ArrivalCounters {
    /// Inbound TCP segments.
    pub segments: std::sync::atomic::AtomicU64,
    /// Inbound TCP segments carrying data.
    pub data_segments: std::sync::atomic::AtomicU64,
    /// Segments overtaken by a segment their sender sent later.
    pub late: std::sync::atomic::AtomicU64,
    /// Of those, segments carrying data (the rest are pure ACKs and
    /// other control segments).
    pub late_data: std::sync::atomic::AtomicU64,
}

impl ArrivalCounters {
    /// A plain snapshot: (segments, data segments, late, late data).
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.segments.load(Ordering::Relaxed),
            self.data_segments.load(Ordering::Relaxed),
            self.late.load(Ordering::Relaxed),
            self.late_data.load(Ordering::Relaxed),
        )
    }
}

impl<D: crate::Device> ArrivalProbe<D> {
    /// Wraps `inner`.
    pub fn new(inner: D) -> Self {
        ArrivalProbe {
            inner,
            newest: Default::default(),
            counters: Default::default(),
        }
    }

    /// The shared counters.
    pub fn counters(&self) -> std::sync::Arc<ArrivalCounters> {
        self.counters.clone()
    }

    fn observe(&mut self, frame: &[u8]) {
        use strata::wire::ethernet::{EtherType, EthernetFrame};
        use strata::wire::ipv4::{IpProtocol, Ipv4Packet};
        use strata::wire::tcp::TcpPacket;
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return;
        };
        if eth.ethertype() != EtherType::IPV4 {
            return;
        }
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
            return;
        };
        if ip.protocol() != IpProtocol::TCP || ip.more_frags() || ip.frag_offset() != 0 {
            return;
        }
        let Ok(tcp) = TcpPacket::new_checked(ip.payload()) else {
            return;
        };
        let flags = tcp.flags();
        if flags.syn() || flags.rst() {
            // Handshakes and resets are numbered from other counters (the
            // listener's, or the kernel's control socket).
            return;
        }
        let c = &self.counters;
        c.segments.fetch_add(1, Ordering::Relaxed);
        let data = !tcp.payload().is_empty();
        if data {
            c.data_segments.fetch_add(1, Ordering::Relaxed);
        }
        let id = ip.ident();
        let key = (ip.src(), tcp.src_port(), tcp.dst_port());
        match self.newest.get_mut(&key) {
            None => {
                self.newest.insert(key, id);
            }
            Some(newest) => {
                // Serial-number comparison of 16-bit counters (RFC 1982 §3.2).
                // A segment is overtaken by at most a window's worth of
                // later ones; a number further behind starts a new series
                // (e.g. an ACK from TIME-WAIT, sent by another socket).
                let behind = newest.wrapping_sub(id);
                if behind != 0 && behind <= MAX_OVERTAKEN {
                    c.late.fetch_add(1, Ordering::Relaxed);
                    if data {
                        c.late_data.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    *newest = id;
                }
            }
        }
    }
}

impl<D: crate::Device> std::os::fd::AsFd for ArrivalProbe<D> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl<D: crate::Device> crate::Device for ArrivalProbe<D> {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let got = self.inner.recv(buf)?;
        if let Some(n) = got {
            self.observe(&buf[..n]);
        }
        Ok(got)
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<bool> {
        self.inner.send(frame)
    }

    fn describe(&self) -> String {
        format!("probe({})", self.inner.describe())
    }
}

/// Loss and reordering on the kernel's egress toward a device inside a
/// [`Netns`], made by [`Netns::impair_egress`].
///
/// The first choice is the `netem` qdisc. Kernels built without it get the
/// same effect from parts that are more often present: an `iptables`
/// `statistic` match dropping a random share of the packets, and an HTB
/// qdisc with a fast default class and a slow, rate-limited one into which
/// another `statistic` rule steers (`CLASSIFY`) a random share of the
/// packets, so they leave after packets sent later. Both live in the
/// namespace (its qdiscs and its netfilter tables) and vanish with it.
#[derive(Debug)]
pub struct EgressImpairment {
    dev: String,
    /// `Some(program)` for the iptables + HTB emulation, `None` for netem.
    iptables: Option<String>,
}

/// Counters of an [`EgressImpairment`], read from the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImpairmentCounters {
    /// Packets dropped on purpose (netem's loss, or the iptables DROP rule).
    pub dropped: u64,
    /// Packets sent through the slow HTB class (0 with netem, which does
    /// not count the packets it reorders).
    pub slowed: u64,
    /// Packets dropped because the slow class's queue was full.
    pub overflowed: u64,
}

/// HTB handle of the slow class the emulation steers packets into.
const SLOW_CLASS: &str = "1:20";
/// Its rate; with packets accounted as at least 1500 bytes, 16 Mbit/s
/// releases one every 0.75 ms.
const SLOW_RATE: &str = "16mbit";
const SLOW_LIMIT: &str = "32";

impl Netns {
    /// Impairs the kernel's egress toward `dev`: each packet is lost with
    /// probability `loss`, and a share `reorder` of them is reordered —
    /// with netem, `delay 2ms loss L reorder R 50%` (a share R skips the
    /// 2 ms delay and overtakes earlier packets); without netem, a share R
    /// goes through a 16 Mbit/s HTB class (each packet accounted as at
    /// least 1500 bytes, so 0.75 ms apiece, up to 24 ms queued) while the
    /// rest go straight on. GSO is turned off on `dev` so each packet is
    /// impaired on its own.
    ///
    /// `Err` says why neither way is available here (for a skip message).
    pub fn impair_egress(
        &self,
        dev: &str,
        loss: f64,
        reorder: f64,
    ) -> Result<EgressImpairment, String> {
        // One packet per skb (no GSO bundles), so that loss and reordering
        // act on packets as they would on a wire. Best effort: without it
        // a bundle of segments is dropped or delayed as one.
        let _ = self.exec(&["ip", "link", "set", "dev", dev, "gso_max_segs", "1"]);
        let netem = self.exec(&[
            "tc",
            "qdisc",
            "add",
            "dev",
            dev,
            "root",
            "netem",
            "delay",
            "2ms",
            "loss",
            &format!("{:.2}%", loss * 100.0),
            "reorder",
            &format!("{:.2}%", reorder * 100.0),
            "50%",
        ]);
        let netem_err = match netem {
            Ok(_) => {
                return Ok(EgressImpairment {
                    dev: dev.to_string(),
                    iptables: None,
                })
            }
            Err(e) => e,
        };
        self.emulate_impairment(dev, loss, reorder).map_err(|e| {
            format!("no tc netem ({netem_err}) and no iptables statistic + HTB emulation ({e})")
        })
    }

    fn emulate_impairment(
        &self,
        dev: &str,
        loss: f64,
        reorder: f64,
    ) -> Result<EgressImpairment, String> {
        let sh = |args: &[&str]| self.exec(args).map(|_| ()).map_err(|e| e.to_string());
        // HTB: unclassified traffic (and ARP) takes the fast default class
        // 1:10; the slow class 1:20 has a one-packet burst and a 1500-byte
        // minimum per packet, so a packet steered into it waits behind the
        // ones before it (SLOW_RATE) while later packets pass through 1:10.
        // Its queue is short so the delay stays bounded.
        sh(&[
            "tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10",
        ])?;
        sh(&[
            "tc", "class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb", "rate",
            "10gbit", "quantum", "60000",
        ])?;
        sh(&[
            "tc", "class", "add", "dev", dev, "parent", "1:", "classid", SLOW_CLASS, "htb", "rate",
            SLOW_RATE, "burst", "1514", "cburst", "1514", "mpu", "1500", "quantum", "1514",
        ])?;
        sh(&[
            "tc", "qdisc", "add", "dev", dev, "parent", SLOW_CLASS, "handle", "20:", "pfifo",
            "limit", SLOW_LIMIT,
        ])?;
        // The netfilter rules: iptables-legacy first (x_tables without
        // nf_tables), then whatever `iptables` is.
        let mut last = String::from("iptables is not installed");
        for prog in ["iptables-legacy", "iptables"] {
            if !have_program(prog) {
                continue;
            }
            let rule = |p: f64, target: &[&str]| {
                let p = format!("{p}");
                let mut args = vec![
                    prog,
                    "-w",
                    "-t",
                    "mangle",
                    "-A",
                    "POSTROUTING",
                    "-o",
                    dev,
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    &p,
                    "-j",
                ];
                args.extend_from_slice(target);
                sh(&args)
            };
            match rule(loss, &["DROP"])
                .and_then(|()| rule(reorder, &["CLASSIFY", "--set-class", SLOW_CLASS]))
            {
                Ok(()) => {
                    return Ok(EgressImpairment {
                        dev: dev.to_string(),
                        iptables: Some(prog.to_string()),
                    })
                }
                Err(e) => {
                    // Leave no half-made rule set behind for the next try.
                    let _ = sh(&[prog, "-w", "-t", "mangle", "-F", "POSTROUTING"]);
                    last = e;
                }
            }
        }
        Err(last)
    }
}

impl EgressImpairment {
    /// Which way it was made: `tc netem`, or the iptables program used
    /// with the statistic + HTB emulation.
    pub fn describe(&self) -> String {
        match &self.iptables {
            None => "tc netem".into(),
            Some(p) => format!("{p} statistic DROP/CLASSIFY + HTB"),
        }
    }

    /// Reads the counters from the kernel of namespace `ns`.
    pub fn counters(&self, ns: &Netns) -> io::Result<ImpairmentCounters> {
        let qdiscs = ns.exec(&["tc", "-s", "qdisc", "show", "dev", &self.dev])?;
        let qdiscs = String::from_utf8_lossy(&qdiscs.stdout).into_owned();
        let Some(prog) = &self.iptables else {
            return Ok(ImpairmentCounters {
                dropped: qdisc_stat(&qdiscs, "netem", "dropped"),
                ..Default::default()
            });
        };
        let rules = ns.exec(&[
            prog,
            "-w",
            "-t",
            "mangle",
            "-L",
            "POSTROUTING",
            "-v",
            "-x",
            "-n",
        ])?;
        let rules = String::from_utf8_lossy(&rules.stdout).into_owned();
        // "   pkts   bytes target ..." lines: the first column of a rule.
        let pkts = |target: &str| {
            rules
                .lines()
                .filter(|l| l.split_whitespace().nth(2) == Some(target))
                .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
                .sum::<u64>()
        };
        Ok(ImpairmentCounters {
            dropped: pkts("DROP"),
            slowed: qdisc_stat(&qdiscs, "pfifo 20:", "Sent"),
            overflowed: qdisc_stat(&qdiscs, "pfifo 20:", "dropped"),
        })
    }
}

/// From `tc -s qdisc show` output, the number after `key` ("Sent N bytes M
/// pkt" → M for "Sent", "dropped N" → N) in the block of the qdisc whose
/// line starts with `qdisc <kind>`.
fn qdisc_stat(out: &str, kind: &str, key: &str) -> u64 {
    let mut lines = out.lines();
    while let Some(l) = lines.next() {
        if !l.starts_with(&format!("qdisc {kind}")) {
            continue;
        }
        let Some(stats) = lines.next() else { break };
        let words: Vec<&str> = stats
            .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
            .filter(|w| !w.is_empty())
            .collect();
        let at = words.iter().position(|w| *w == key);
        let n = match (key, at) {
            // "Sent 123 bytes 4 pkt"
            ("Sent", Some(i)) => words.get(i + 3),
            (_, Some(i)) => words.get(i + 1),
            (_, None) => None,
        };
        return n.and_then(|n| n.parse().ok()).unwrap_or(0);
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet + IPv4 + TCP frame from 10.0.0.1:8000 to 10.0.0.2:40000
    /// with IPv4 Identification `id`, TCP `flags` and `payload` bytes.
    fn frame(id: u16, flags: u8, payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20 + payload];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((40 + payload) as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&id.to_be_bytes());
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let tcp = &mut ip[20..];
        tcp[0..2].copy_from_slice(&8000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&40000u16.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        f
    }

    const ACK: u8 = 0x10;
    const SYN_ACK: u8 = 0x12;

    #[test]
    fn probe_counts_segments_overtaken_by_later_ones() {
        let (a, _b) = crate::PipeDevice::pair().unwrap();
        let mut probe = ArrivalProbe::new(a);
        // The SYN-ACK comes from another counter and is not tracked.
        probe.observe(&frame(60000, SYN_ACK, 0));
        for (id, len) in [(10, 1000), (11, 1000), (13, 1000), (12, 1000), (14, 0)] {
            probe.observe(&frame(id, ACK, len));
        }
        // 12 was sent before 13 and arrived after it.
        assert_eq!(probe.counters().snapshot(), (5, 4, 1, 1));
        // A pure ACK sent before 14 arriving late; then a number far
        // behind starts a new series instead of counting.
        probe.observe(&frame(13, ACK, 0));
        probe.observe(&frame(14u16.wrapping_sub(MAX_OVERTAKEN + 1), ACK, 0));
        probe.observe(&frame(14u16.wrapping_sub(MAX_OVERTAKEN), ACK, 0));
        assert_eq!(probe.counters().snapshot(), (8, 4, 2, 1));
        // Serial arithmetic across the 16-bit wrap.
        probe.observe(&frame(65535, ACK, 10));
        probe.observe(&frame(1, ACK, 10));
        probe.observe(&frame(0, ACK, 10));
        assert_eq!(probe.counters().snapshot(), (11, 7, 3, 2));
        // Not TCP, or not even IPv4: ignored.
        let mut udp = frame(2, 0, 8);
        udp[14 + 9] = 17;
        probe.observe(&udp);
        probe.observe(&[0u8; 10]);
        assert_eq!(probe.counters().snapshot(), (11, 7, 3, 2));
    }

    #[test]
    fn qdisc_stats_are_read_from_tc_output() {
        let out =
            "qdisc htb 1: root refcnt 2 r2q 10 default 0x10 direct_packets_stat 0 direct_qlen 1000
 Sent 3476830 bytes 3015 pkt (dropped 193, overlimits 2270 requeues 0) 
 backlog 198b 3p requeues 0
qdisc pfifo 20: parent 1:20 limit 32p
 Sent 135340 bytes 98 pkt (dropped 7, overlimits 0 requeues 0) 
 backlog 198b 3p requeues 0
";
        assert_eq!(qdisc_stat(out, "pfifo 20:", "Sent"), 98);
        assert_eq!(qdisc_stat(out, "pfifo 20:", "dropped"), 7);
        assert_eq!(qdisc_stat(out, "htb", "dropped"), 193);
        assert_eq!(qdisc_stat(out, "netem", "dropped"), 0);
        let netem = "qdisc netem 8001: root refcnt 2 limit 1000 delay 2ms loss 3% reorder 10%
 Sent 4242 bytes 42 pkt (dropped 5, overlimits 0 requeues 0)
";
        assert_eq!(qdisc_stat(netem, "netem", "dropped"), 5);
    }
}
