//! `strata-bench tap`: strata and smoltcp over the same Linux TAP, with the
//! kernel as the peer.
//!
//! One private network namespace holds a TAP interface (kernel side
//! `10.77.0.1/24`). Each contender in turn opens the TAP as `10.77.0.2`
//! with the same MAC (so the kernel's neighbour entry stays valid), and:
//!
//! - **serve**: answers one HTTP GET from the kernel's `curl` with N bytes;
//! - **fetch**: downloads N bytes over HTTP from a server on the kernel's
//!   TCP (a `std::net` thread inside the namespace).
//!
//! Rounds are interleaved (strata first in even rounds, smoltcp first in
//! odd ones); each round gives one paired ratio strata/smoltcp per
//! direction, and the table shows the medians. The first round checks
//! every byte of every body (curl's output is piped back and compared);
//! later rounds only count bytes. Beside them, the ceiling: kernel to
//! kernel over a veth pair between two namespaces, with the veth offloads
//! on and (with `ethtool`) off.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant as StdInstant};

use anyhow::{anyhow, bail, Context, Result};

use strata::transport::tcp::TcpConfig;
use strata_io::multiqueue::MultiQueueRuntime;
use strata_io::tap::{OffloadStatsHandle, TapAblation, TapDevice, TapOptions};
use strata_io::testing::Netns;
use strata_io::{Runtime, RuntimeConfig};

/// Socket buffer bytes of both stacks on the TAP: the harness's `BUF`
/// (256 KiB), or `STRATA_BENCH_TAP_BUF` (e.g. `4M`), to see whether a
/// transfer is bound by its window (buffer / round trip).
fn tap_buf() -> usize {
    static B: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *B.get_or_init(|| {
        std::env::var("STRATA_BENCH_TAP_BUF")
            .ok()
            .and_then(|v| parse_size(&v).ok())
            .map_or(crate::BUF, |b| b as usize)
    })
}

const TAP: &str = "sbtap0";
const KERNEL_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const STACK_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const STACK_MAC: [u8; 6] = [0x02, 0x53, 0x54, 0x77, 0x00, 0x02];
const HTTP_PORT: u16 = 80;
const KERNEL_PORT: u16 = 8080;
/// Longest a single transfer may take before the round fails.
const TRANSFER_LIMIT: Duration = Duration::from_secs(300);

/// What the TAP comparison measures: bytes per transfer and rounds.
#[derive(Debug, Clone, Copy)]
pub struct TapPlan {
    /// Bytes in each body.
    pub bytes: u64,
    /// Interleaved rounds (each runs both contenders both ways).
    pub rounds: usize,
    /// strata's runtimes busy-poll for this long (`RuntimeConfig::busy_poll`).
    pub busy_poll: Option<Duration>,
}

/// The plan's busy polling, for strata's runtimes.
static BUSY_POLL: std::sync::OnceLock<Option<Duration>> = std::sync::OnceLock::new();

/// The body byte at every offset: a 251-byte cycle (prime, so it never
/// lines up with segment or buffer sizes). `PATTERN[k..]` for `k < 251`
/// is the body from any offset `≡ k (mod 251)`.
struct Body {
    pattern: Vec<u8>,
}

/// Longest slice handed out or checked at once.
const CHUNK: usize = 64 * 1024;

impl Body {
    fn new() -> Body {
        Body {
            pattern: (0..CHUNK + 251).map(|i| (i % 251) as u8).collect(),
        }
    }
    /// The body from offset `pos`, at most `max` (≤ CHUNK) bytes of it.
    fn at(&self, pos: u64, max: usize) -> &[u8] {
        let k = (pos % 251) as usize;
        &self.pattern[k..k + max.min(CHUNK)]
    }
    /// Whether `got` is the body at offset `pos`.
    fn check(&self, pos: u64, got: &[u8]) -> bool {
        got.chunks(CHUNK)
            .enumerate()
            .all(|(i, c)| self.at(pos + (i * CHUNK) as u64, c.len()) == c)
    }
}

fn http_header(n: u64) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
}

fn get_request() -> String {
    format!("GET /bytes HTTP/1.1\r\nHost: {KERNEL_IP}\r\nConnection: close\r\n\r\n")
}

/// Finds the end of an HTTP header in `buf`: the offset of the body.
fn header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Receives an HTTP response: header, then the body checked (if `verify`)
/// and counted. Returns the body length.
struct BodyReader<'a> {
    body: &'a Body,
    verify: bool,
    head: Vec<u8>,
    in_body: bool,
    got: u64,
    bad: bool,
}

impl<'a> BodyReader<'a> {
    fn new(body: &'a Body, verify: bool) -> Self {
        BodyReader {
            body,
            verify,
            head: Vec::new(),
            in_body: false,
            got: 0,
            bad: false,
        }
    }
    fn feed(&mut self, mut data: &[u8]) {
        if !self.in_body {
            let old = self.head.len();
            self.head.extend_from_slice(data);
            match header_end(&self.head) {
                Some(e) => {
                    self.in_body = true;
                    data = &data[e - old..];
                    self.head.truncate(e);
                }
                None => return,
            }
        }
        if self.verify && !self.body.check(self.got, data) {
            self.bad = true;
        }
        self.got += data.len() as u64;
    }
    fn finish(&self, want: u64) -> Result<()> {
        if !self.head.starts_with(b"HTTP/1.1 200") {
            bail!(
                "bad response header: {:?}",
                String::from_utf8_lossy(&self.head)
            );
        }
        if self.got != want {
            bail!("body of {} bytes, expected {want}", self.got);
        }
        if self.bad {
            bail!("body bytes differ from what the server sent");
        }
        Ok(())
    }
}

/// Runs `f` on a new thread inside namespace `ns` (network namespace only).
fn in_ns<T: Send + 'static>(
    ns: &Netns,
    name: &str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<std::thread::JoinHandle<Result<T>>> {
    let fd = ns.fd()?;
    Ok(std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // SAFETY: `fd` is an open namespace descriptor; setns changes
            // only this thread's network namespace.
            if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
                return Err(std::io::Error::last_os_error()).context("setns");
            }
            f()
        })?)
}

fn join<T>(h: std::thread::JoinHandle<Result<T>>) -> Result<T> {
    h.join().map_err(|_| anyhow!("thread panicked"))?
}

/// Reads one GET on `s` and answers it with `n` body bytes, then waits for
/// the client to close (so the next round starts clean): the server side
/// of every transfer, over the kernel's sockets and strata's alike.
fn answer_get<S>(mut s: S, body: &Body, n: u64) -> Result<()>
where
    S: Read + Write + Shutdown2,
{
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while header_end(&req).is_none() {
        let k = s.read(&mut buf)?;
        if k == 0 {
            bail!("the client closed before its request ended");
        }
        req.extend_from_slice(&buf[..k]);
    }
    s.write_all(http_header(n).as_bytes())?;
    let mut pos = 0u64;
    while pos < n {
        let chunk = body.at(pos, (n - pos).min(CHUNK as u64) as usize);
        s.write_all(chunk)?;
        pos += chunk.len() as u64;
    }
    s.shut_write()?;
    while s.read(&mut buf).unwrap_or(0) > 0 {}
    Ok(())
}

/// `shutdown(Write)` of the kernel's and strata's streams.
trait Shutdown2 {
    fn shut_write(&self) -> std::io::Result<()>;
}

impl Shutdown2 for std::net::TcpStream {
    fn shut_write(&self) -> std::io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl Shutdown2 for strata_io::tcp::TcpStream {
    fn shut_write(&self) -> std::io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// A kernel TCP server in the namespace: accepts `conns` connections and
/// answers each one's GET with `share` body bytes. Returns once it
/// listens.
fn kernel_server(
    ns: &Netns,
    body: Arc<Body>,
    share: u64,
    conns: usize,
) -> Result<std::thread::JoinHandle<Result<f64>>> {
    let (tx, rx) = mpsc::channel();
    let h = in_ns(ns, "kernel-server", move || {
        let l = std::net::TcpListener::bind(SocketAddrV4::new(KERNEL_IP, KERNEL_PORT))?;
        let _ = tx.send(());
        answer_each(&l, conns, &body, share)
    })?;
    rx.recv_timeout(Duration::from_secs(10))
        .map_err(|_| anyhow!("kernel server did not start"))?;
    Ok(h)
}

/// The client side of a fetch over a blocking stream: sends the GET, then
/// reads the answer to its end, checking (with `verify`) every byte of
/// the `n`-byte body.
fn get_body<S: Read + Write>(s: &mut S, body: &Body, n: u64, verify: bool) -> Result<()> {
    s.write_all(get_request().as_bytes())?;
    let mut r = BodyReader::new(body, verify);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let k = s.read(&mut buf)?;
        if k == 0 {
            break;
        }
        r.feed(&buf[..k]);
    }
    r.finish(n)
}

/// Runs the kernel's curl against the contender's server; returns curl's
/// total time in seconds. With `verify`, the body comes back through a
/// pipe and is checked byte for byte.
fn curl_download(ns: &Netns, body: &Body, n: u64, verify: bool) -> Result<f64> {
    let url = format!("http://{STACK_IP}:{HTTP_PORT}/bytes");
    let max = TRANSFER_LIMIT.as_secs().to_string();
    let out = if verify { "-" } else { "/dev/null" };
    let mut child = ns
        .command(&[
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            &max,
            "-o",
            out,
            "-w",
            "%{stderr}%{time_total} %{size_download}",
            &url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut got = 0u64;
    let mut bad = false;
    if let Some(mut out) = child.stdout.take() {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let k = out.read(&mut buf)?;
            if k == 0 {
                break;
            }
            bad |= !body.check(got, &buf[..k]);
            got += k as u64;
        }
    }
    let res = child.wait_with_output()?;
    let err = String::from_utf8_lossy(&res.stderr);
    if !res.status.success() {
        bail!("curl failed ({}): {}", res.status, err.trim());
    }
    let mut it = err.split_whitespace().rev();
    let size: u64 = it.next().unwrap_or("").parse().context("curl size")?;
    let secs: f64 = it.next().unwrap_or("").parse().context("curl time")?;
    if size != n {
        bail!("curl downloaded {size} bytes, expected {n}");
    }
    if verify && (got != n || bad) {
        bail!("curl's body differs from what the stack sent ({got} bytes piped)");
    }
    Ok(secs)
}

/// A contender on the TAP.
trait TapContender {
    const NAME: &'static str;
    /// Serves one GET of `n` bytes to the kernel's curl; seconds.
    fn serve(ns: &Netns, body: &Arc<Body>, n: u64, verify: bool) -> Result<f64>;
    /// Fetches `n` bytes from the kernel server; seconds.
    fn fetch(ns: &Netns, body: &Arc<Body>, n: u64, verify: bool) -> Result<f64>;
}

// ---------------------------------------------------------------- strata

/// strata's runtime on the TAP; `OFFLOAD`: with the virtio-net header
/// and the offloads both ways (TSO super-segments out, GRO super-frames
/// in, checksums left partial both ways), less those named in
/// `STRATA_TAP_WITHOUT` (`tso,tx-csum,gro,rx-csum`: the ablation).
struct StrataTap<const OFFLOAD: bool>;

impl<const OFFLOAD: bool> StrataTap<OFFLOAD> {
    fn options() -> TapOptions {
        if OFFLOAD {
            TapOptions {
                offload: true,
                without: ablation(),
            }
        } else {
            TapOptions::default()
        }
    }

    fn runtime_with_stats(ns: &Netns) -> Result<(Runtime, OffloadStatsHandle)> {
        let dev: TapDevice = ns
            .run_inside(|| TapDevice::open_with(TAP, Self::options()))?
            .map_err(|e| anyhow!("opening {TAP}: {e}"))?;
        if OFFLOAD && !dev.offloads().tso4 {
            println!(
                "  note: the kernel refused TSO4 on the TAP: {:?}",
                dev.offloads()
            );
        }
        let stats = dev.offload_stats();
        Ok((Runtime::new(dev, strata_runtime_config()?)?, stats))
    }
}

/// How every strata runtime of the TAP runs is set up (one queue or
/// several): the stack's address and MAC, [`tap_buf`]-sized socket buffers,
/// the plan's busy polling, no loopback. The namespace is ours and strata
/// its only other station: no address probe (it took 4 to 7 s before
/// every transfer).
fn strata_runtime_config() -> Result<RuntimeConfig> {
    let mut cfg = RuntimeConfig::new(
        format!("{STACK_IP}/24")
            .parse()
            .map_err(|e| anyhow!("{e:?}"))?,
    )
    .address_known_unique();
    cfg.mac = Some(strata::wire::MacAddr(STACK_MAC));
    cfg.loopback = false;
    cfg.busy_poll = BUSY_POLL.get().copied().flatten();
    cfg.stack.tcp = TcpConfig {
        rx_buffer_limit: tap_buf(),
        tx_buffer_limit: tap_buf(),
        ..TcpConfig::default()
    };
    Ok(cfg)
}

impl<const OFFLOAD: bool> TapContender for StrataTap<OFFLOAD> {
    const NAME: &'static str = if OFFLOAD { "strata" } else { "strata-plain" };

    fn serve(ns: &Netns, body: &Arc<Body>, n: u64, verify: bool) -> Result<f64> {
        use strata_io::tcp::TcpListener;
        let (rt, offload) = Self::runtime_with_stats(ns)?;
        let h = rt.handle();
        let l = TcpListener::bind(&h, SocketAddr::from((STACK_IP, HTTP_PORT)))?;
        let b = body.clone();
        let server = std::thread::spawn(move || -> Result<(u64, u64)> {
            let c0 = thread_switches();
            let (s, _) = l.accept()?;
            s.set_read_timeout(Some(TRANSFER_LIMIT))?;
            answer_get(s, &b, n)?;
            let c1 = thread_switches();
            Ok((c1.0 - c0.0, c1.1 - c0.1))
        });
        let secs = curl_download(ns, body, n, verify);
        let served = server.join().map_err(|_| anyhow!("server panicked"))?;
        let secs = secs?;
        let app = served?;
        let st = rt.stats();
        drop(rt);
        if verify {
            let o = offload.get();
            println!(
                "  {}: serve wrote {} frames in {} I/O passes ({} sleeps, {} timer moves, {} wake-ups; writer thread switched {}+{} times); {} super-segments ({} bytes each on average), {} partial checksums, {} refused",
                Self::NAME,
                st.tx_frames,
                st.io_passes,
                st.io_sleeps,
                st.timer_moves,
                st.wakeups,
                app.0,
                app.1,
                o.tx_super_frames,
                o.tx_super_bytes.checked_div(o.tx_super_frames).unwrap_or(0),
                o.tx_csum_partial,
                o.tx_refused
            );
        }
        Ok(secs)
    }

    fn fetch(ns: &Netns, body: &Arc<Body>, n: u64, verify: bool) -> Result<f64> {
        use strata_io::tcp::TcpStream;
        let (rt, offload) = Self::runtime_with_stats(ns)?;
        let server = kernel_server(ns, body.clone(), n, 1)?;
        let start = StdInstant::now();
        let mut s = TcpStream::connect_timeout(
            &rt.handle(),
            SocketAddr::from((KERNEL_IP, KERNEL_PORT)),
            Duration::from_secs(10),
        )?;
        s.set_read_timeout(Some(TRANSFER_LIMIT))?;
        let c0 = thread_switches();
        let got = get_body(&mut s, body, n, verify);
        let c1 = thread_switches();
        let secs = start.elapsed().as_secs_f64();
        drop(s);
        join(server)?;
        got?;
        let st = rt.stats();
        drop(rt);
        if verify {
            let o = offload.get();
            println!(
                "  {}: fetch read {} frames in {} I/O passes ({} sleeps, {} timer moves, {} wake-ups; reader thread switched {}+{} times); {} super-frames ({} bytes each on average), {} checksums completed, {} taken as partial",
                Self::NAME,
                st.rx_frames,
                st.io_passes,
                st.io_sleeps,
                st.timer_moves,
                st.wakeups,
                c1.0 - c0.0,
                c1.1 - c0.1,
                o.rx_super_frames,
                o.rx_super_bytes.checked_div(o.rx_super_frames).unwrap_or(0),
                o.rx_csum_completed,
                o.rx_csum_trusted
            );
        }
        Ok(secs)
    }
}

// ---------------------------------------------------------------- smoltcp

struct SmolTap;

mod smol_tap {
    use super::*;
    use smoltcp::iface::{Config, Interface, SocketSet};
    use smoltcp::phy::{wait as phy_wait, Medium, TunTapInterface};
    use smoltcp::socket::tcp;
    use smoltcp::time::Instant;
    use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint};

    pub struct Smol {
        pub dev: TunTapInterface,
        pub iface: Interface,
        pub sockets: SocketSet<'static>,
        pub handle: smoltcp::iface::SocketHandle,
        epoch: StdInstant,
    }

    impl Smol {
        /// Opens the TAP (the calling thread must be in the namespace).
        pub fn new() -> Result<Smol> {
            let mut dev = TunTapInterface::new(TAP, Medium::Ethernet)?;
            let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(STACK_MAC)));
            cfg.random_seed = 0x5354_5241_5441;
            let epoch = StdInstant::now();
            let mut iface = Interface::new(cfg, &mut dev, Instant::from_micros(0));
            iface.update_ip_addrs(|a| {
                let _ = a.push(IpCidr::new(IpAddress::Ipv4(STACK_IP), 24));
            });
            let sock = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; tap_buf()]),
                tcp::SocketBuffer::new(vec![0; tap_buf()]),
            );
            let mut sockets = SocketSet::new(Vec::new());
            let handle = sockets.add(sock);
            Ok(Smol {
                dev,
                iface,
                sockets,
                handle,
                epoch,
            })
        }
        pub fn now(&self) -> Instant {
            Instant::from_micros(self.epoch.elapsed().as_micros() as i64)
        }
        pub fn poll(&mut self) {
            let now = self.now();
            self.iface.poll(now, &mut self.dev, &mut self.sockets);
        }
        /// Sleeps until the TAP is readable or the interface's next timer.
        pub fn wait(&mut self) -> Result<()> {
            let now = self.now();
            let d = self
                .iface
                .poll_delay(now, &self.sockets)
                .unwrap_or(smoltcp::time::Duration::from_millis(100))
                .min(smoltcp::time::Duration::from_millis(100));
            phy_wait(self.dev.as_raw_fd(), Some(d))?;
            Ok(())
        }
        pub fn sock(&mut self) -> &mut tcp::Socket<'static> {
            self.sockets.get_mut::<tcp::Socket>(self.handle)
        }
        pub fn connect(&mut self, port: u16) -> Result<()> {
            let cx = self.iface.context();
            let s = self.sockets.get_mut::<tcp::Socket>(self.handle);
            s.connect(
                cx,
                IpEndpoint::new(IpAddress::Ipv4(KERNEL_IP), KERNEL_PORT),
                port,
            )
            .map_err(|e| anyhow!("smoltcp connect: {e}"))
        }
    }

    pub use tcp::State;
}

impl TapContender for SmolTap {
    const NAME: &'static str = "smoltcp";

    fn serve(ns: &Netns, body: &Arc<Body>, n: u64, verify: bool) -> Result<f64> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let b = body.clone();
        let st = stop.clone();
        let server = in_ns(ns, "smoltcp-serve", move || -> Result<()> {
            let mut s = smol_tap::Smol::new()?;
            s.sock()
                .listen(HTTP_PORT)
                .map_err(|e| anyhow!("listen: {e}"))?;
            let _ = ready_tx.send(());
            let hdr = http_header(n);
            let mut req = Vec::new();
            let mut hdr_sent = 0usize;
            let mut pos = 0u64;
            let mut closed = false;
            let deadline = StdInstant::now() + TRANSFER_LIMIT;
            while !st.load(Ordering::Acquire) {
                if StdInstant::now() > deadline {
                    bail!("smoltcp serve timed out");
                }
                s.poll();
                let sock = s.sock();
                if header_end(&req).is_none() {
                    if sock.can_recv() {
                        let _ = sock.recv(|d| {
                            req.extend_from_slice(d);
                            (d.len(), ())
                        });
                    }
                } else {
                    while sock.can_send() && hdr_sent < hdr.len() {
                        hdr_sent += sock.send_slice(&hdr.as_bytes()[hdr_sent..]).unwrap_or(0);
                    }
                    while hdr_sent == hdr.len() && pos < n && sock.can_send() {
                        let chunk = b.at(pos, (n - pos).min(CHUNK as u64) as usize);
                        let k = sock.send_slice(chunk).unwrap_or(0);
                        if k == 0 {
                            break;
                        }
                        pos += k as u64;
                    }
                    if pos == n && !closed {
                        sock.close();
                        closed = true;
                    }
                    // Drain what curl may still send.
                    if sock.can_recv() {
                        let _ = sock.recv(|d| (d.len(), ()));
                    }
                }
                s.poll();
                s.wait()?;
            }
            Ok(())
        })?;
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| anyhow!("smoltcp server did not start"))?;
        let secs = curl_download(ns, body, n, verify);
        stop.store(true, Ordering::Release);
        join(server)?;
        secs
    }

    fn fetch(ns: &Netns, body: &Arc<Body>, n: u64, verify: bool) -> Result<f64> {
        let server = kernel_server(ns, body.clone(), n, 1)?;
        let b = body.clone();
        let client = in_ns(ns, "smoltcp-fetch", move || -> Result<(f64, u64, bool)> {
            let mut s = smol_tap::Smol::new()?;
            let start = StdInstant::now();
            s.connect(49152)?;
            let req = get_request();
            let mut sent = 0usize;
            let mut r = BodyReader::new(&b, verify);
            let deadline = StdInstant::now() + TRANSFER_LIMIT;
            loop {
                if StdInstant::now() > deadline {
                    bail!("smoltcp fetch timed out");
                }
                s.poll();
                let sock = s.sock();
                if sent < req.len() && sock.can_send() {
                    sent += sock.send_slice(&req.as_bytes()[sent..]).unwrap_or(0);
                }
                while sock.can_recv() {
                    let k = sock
                        .recv(|d| {
                            r.feed(d);
                            (d.len(), d.len())
                        })
                        .unwrap_or(0);
                    if k == 0 {
                        break;
                    }
                }
                let state = sock.state();
                if matches!(
                    state,
                    smol_tap::State::CloseWait
                        | smol_tap::State::Closed
                        | smol_tap::State::TimeWait
                ) && !sock.can_recv()
                {
                    break;
                }
                s.poll();
                s.wait()?;
            }
            let secs = start.elapsed().as_secs_f64();
            // Close our side so the kernel server ends.
            s.sock().close();
            let end = StdInstant::now() + Duration::from_secs(2);
            while StdInstant::now() < end
                && !matches!(
                    s.sock().state(),
                    smol_tap::State::Closed | smol_tap::State::TimeWait
                )
            {
                s.poll();
                s.wait()?;
            }
            r.finish(n)?;
            Ok((secs, r.got, r.bad))
        })?;
        let (secs, _, _) = join(client)?;
        join(server)?;
        Ok(secs)
    }
}

// ---------------------------------------------------------------- veth

/// Kernel to kernel over a veth pair between two namespaces: Gbit/s.
fn veth_ceiling(n: u64, offloads: bool) -> Result<f64> {
    let a = Netns::new("vetha")?;
    let b = Netns::new("vethb")?;
    a.exec(&[
        "ip",
        "link",
        "add",
        "sbva",
        "type",
        "veth",
        "peer",
        "name",
        "sbvb",
        "netns",
        b.name(),
    ])?;
    a.exec(&["ip", "addr", "add", "10.78.0.1/24", "dev", "sbva"])?;
    b.exec(&["ip", "addr", "add", "10.78.0.2/24", "dev", "sbvb"])?;
    a.exec(&["ip", "link", "set", "sbva", "up"])?;
    b.exec(&["ip", "link", "set", "sbvb", "up"])?;
    if !offloads {
        for (ns, dev) in [(&a, "sbva"), (&b, "sbvb")] {
            ns.exec(&[
                "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx",
                "off", "sg", "off",
            ])?;
        }
    }
    let (tx, rx) = mpsc::channel();
    let server = in_ns(&b, "veth-server", move || -> Result<()> {
        let l = std::net::TcpListener::bind("10.78.0.2:9000")?;
        let _ = tx.send(());
        let (mut s, _) = l.accept()?;
        let buf = vec![0x5au8; CHUNK];
        let mut left = n;
        while left > 0 {
            let k = left.min(CHUNK as u64) as usize;
            s.write_all(&buf[..k])?;
            left -= k as u64;
        }
        Ok(())
    })?;
    rx.recv_timeout(Duration::from_secs(10))
        .map_err(|_| anyhow!("veth server did not start"))?;
    let client = in_ns(&a, "veth-client", move || -> Result<f64> {
        let start = StdInstant::now();
        let mut s = std::net::TcpStream::connect("10.78.0.2:9000")?;
        s.set_read_timeout(Some(TRANSFER_LIMIT))?;
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0u64;
        loop {
            let k = s.read(&mut buf)?;
            if k == 0 {
                break;
            }
            got += k as u64;
        }
        if got != n {
            bail!("veth: {got} bytes, expected {n}");
        }
        Ok(start.elapsed().as_secs_f64())
    })?;
    let secs = join(client)?;
    join(server)?;
    Ok(gbps(n, secs))
}

/// Context switches (voluntary and not) of this whole process so far:
/// the contender's threads and the in-process kernel server's.
fn context_switches() -> u64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    (ru.ru_nvcsw + ru.ru_nivcsw) as u64
}

/// Context switches of the calling thread so far: (voluntary, involuntary).
fn thread_switches() -> (u64, u64) {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    (ru.ru_nvcsw as u64, ru.ru_nivcsw as u64)
}

/// CPU time used so far, in seconds (user + system).
#[derive(Debug, Clone, Copy)]
struct Cpu {
    /// This process: the contender's threads (and the in-process kernel
    /// server's, whose kernel TCP work is its system time).
    own: f64,
    /// Children waited for: the kernel's `curl`s.
    curl: f64,
    /// The whole machine, summed over its cores (`/proc/stat`): also the
    /// other programs that ran meanwhile.
    machine: f64,
}

fn cpu_now() -> Cpu {
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    let usage = |who| {
        // SAFETY: getrusage fills the zeroed struct it is given.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a valid, writable rusage.
        unsafe { libc::getrusage(who, &mut ru) };
        tv(ru.ru_utime) + tv(ru.ru_stime)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let machine = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| {
            let v: Vec<f64> = t
                .lines()
                .next()?
                .split_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal: all but
            // idle and iowait are busy.
            Some(v.iter().sum::<f64>() - v.get(3).unwrap_or(&0.0) - v.get(4).unwrap_or(&0.0))
        })
        .unwrap_or(0.0)
        / hz;
    Cpu {
        own: usage(libc::RUSAGE_SELF),
        curl: usage(libc::RUSAGE_CHILDREN),
        machine,
    }
}

/// How busy the CPUs were over a transfer of `bytes` that took `secs`,
/// from two [`cpu_now`] readings, and the rate the transfer's own CPU
/// time (this process's and curl's) would allow on the machine's cores if
/// nothing else ran: what bounds it on a small machine.
fn cpu_use(before: Cpu, after: Cpu, secs: f64, bytes: u64) -> String {
    let cores = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1);
    let own = after.own - before.own;
    let curl = after.curl - before.curl;
    let gib = bytes as f64 / (1u64 << 30) as f64;
    format!(
        "machine {:.2} of {cores} cores busy, the transfer's processes {:.2} (this one {:.2}, curl {:.2}); {:.2} CPU-s per GiB, at most {:.1} Gbit/s on {cores} idle cores",
        (after.machine - before.machine) / secs,
        (own + curl) / secs,
        own / secs,
        curl / secs,
        (own + curl) / gib,
        gbps(bytes, (own + curl) / cores as f64),
    )
}

fn gbps(n: u64, secs: f64) -> f64 {
    n as f64 * 8.0 / secs / 1e9
}

use crate::median;

/// The offloads `STRATA_TAP_WITHOUT` leaves off strata's TAP (ablation).
fn ablation() -> TapAblation {
    std::env::var("STRATA_TAP_WITHOUT")
        .map(|v| TapAblation::parse(&v))
        .unwrap_or_default()
}

/// One round's (serve, fetch) Gbit/s of strata, strata-plain and smoltcp.
type Round = [(f64, f64); 3];

/// One transfer of a contender: namespace, body, bytes, verify; seconds.
type Transfer = fn(&Netns, &Arc<Body>, u64, bool) -> Result<f64>;

/// A contender's name and its two transfers, for the round loop.
struct Entry {
    name: &'static str,
    serve: Transfer,
    fetch: Transfer,
}

fn entry<C: TapContender>() -> Entry {
    Entry {
        name: C::NAME,
        serve: C::serve,
        fetch: C::fetch,
    }
}

/// Runs the comparison and prints its table.
pub fn run(plan: TapPlan) -> Result<()> {
    if !strata_io::testing::can_run(&["curl"]) {
        return Ok(());
    }
    let _ = BUSY_POLL.set(plan.busy_poll);
    if let Some(b) = plan.busy_poll {
        println!("strata's runtimes busy-poll for {} µs", b.as_micros());
    }
    let ns = Netns::new("benchtap")?;
    ns.add_tap(TAP, &format!("{KERNEL_IP}/24"))?;
    let body = Arc::new(Body::new());
    let n = plan.bytes;
    println!(
        "strata-bench tap: {} per transfer, {} socket buffers, {} interleaved rounds, TAP {TAP} in namespace {}, {} online CPUs, load average {}",
        human(n),
        human(tap_buf() as u64),
        plan.rounds,
        ns.name(),
        std::thread::available_parallelism().map(|p| p.get()).unwrap_or(0),
        load_average(),
    );
    let without = ablation();
    if without != TapAblation::default() {
        println!("ablation: strata's TAP runs without {without:?} (STRATA_TAP_WITHOUT)");
    }
    // Per round, per contender (strata with offloads, strata plain,
    // smoltcp): (serve, fetch) in Gbit/s.
    let contenders = [
        entry::<StrataTap<true>>(),
        entry::<StrataTap<false>>(),
        entry::<SmolTap>(),
    ];
    let mut results: Vec<Round> = Vec::new();
    for round in 0..plan.rounds {
        let verify = round == 0;
        let one = |c: &Entry| -> Result<(f64, f64)> {
            let per_gib = |c: u64| c as f64 * (1u64 << 30) as f64 / n as f64;
            let mut rates = [0.0; 2];
            let mut switches = [0.0; 2];
            let mut cpu = [String::new(), String::new()];
            for (k, transfer) in [c.serve, c.fetch].into_iter().enumerate() {
                let c0 = context_switches();
                let t0 = cpu_now();
                let secs = transfer(&ns, &body, n, verify)?;
                cpu[k] = cpu_use(t0, cpu_now(), secs, n);
                rates[k] = gbps(n, secs);
                switches[k] = per_gib(context_switches() - c0);
            }
            println!(
                "  {:<12} serve {:6.2} fetch {:6.2} Gbit/s; context switches per GiB in this process: serve {:.0}, fetch {:.0}",
                c.name, rates[0], rates[1], switches[0], switches[1]
            );
            println!("      CPU serving:  {}", cpu[0]);
            println!("      CPU fetching: {}", cpu[1]);
            Ok((rates[0], rates[1]))
        };
        // Interleaved: each round starts with the next contender.
        let mut r = [(0.0, 0.0); 3];
        for k in 0..3 {
            let who = (round + k) % 3;
            let c = &contenders[who];
            r[who] = one(c).with_context(|| c.name)?;
        }
        println!(
            "round {}{}: strata/smoltcp serve {:.2}x fetch {:.2}x; strata-plain/smoltcp serve {:.2}x fetch {:.2}x",
            round + 1,
            if verify { " (bodies verified)" } else { "" },
            r[0].0 / r[2].0,
            r[0].1 / r[2].1,
            r[1].0 / r[2].0,
            r[1].1 / r[2].1,
        );
        results.push(r);
    }
    let veth_on = veth_ceiling(n, true)?;
    let veth_off = if strata_io::testing::have_program("ethtool") {
        Some(veth_ceiling(n, false)?)
    } else {
        println!("veth without offloads: skipped (ethtool is not installed)");
        None
    };
    let med = |f: &dyn Fn(&Round) -> f64| median(results.iter().map(f).collect());
    println!();
    println!(
        "| direction | strata Gbit/s | strata-plain Gbit/s | smoltcp Gbit/s | strata/smoltcp | strata-plain/smoltcp |"
    );
    println!("|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    for (what, d) in [
        ("kernel curl downloads from the stack (serve)", 0usize),
        ("the stack downloads from a kernel server (fetch)", 1),
    ] {
        let g = |r: &(f64, f64)| if d == 0 { r.0 } else { r.1 };
        let ratio = med(&|r| g(&r[0]) / g(&r[2]));
        let plain = med(&|r| g(&r[1]) / g(&r[2]));
        println!(
            "| {what} | {:.2} | {:.2} | {:.2} | {ratio:.2}x | {plain:.2}x |",
            med(&|r| g(&r[0])),
            med(&|r| g(&r[1])),
            med(&|r| g(&r[2])),
        );
        ratios.push((ratio, plain));
    }
    println!("| kernel to kernel over veth, offloads on | {veth_on:.2} | | | | |");
    if let Some(off) = veth_off {
        println!("| kernel to kernel over veth, offloads off | {off:.2} | | | | |");
    }
    let best_strata = med(&|r| r[0].0).max(med(&|r| r[0].1));
    println!();
    println!("(ratios: medians of the per-round paired ratios; strata = runtime with the TAP's virtio-net offloads, strata-plain = without)");
    println!("ratio tap-serve = {:.2}", ratios[0].0);
    println!("ratio tap-fetch = {:.2}", ratios[1].0);
    println!("ratio tap-serve-plain = {:.2}", ratios[0].1);
    println!("ratio tap-fetch-plain = {:.2}", ratios[1].1);
    println!(
        "strata (faster direction) / veth with offloads = {:.2}",
        best_strata / veth_on
    );
    Ok(())
}

// ---------------------------------------------------------------- multi-queue

/// The multi-queue TAP of `--queues`.
const MQ_TAP: &str = "sbmq0";

/// What `strata-bench tap --queues Q --conns C` measures.
#[derive(Debug, Clone, Copy)]
pub struct MqPlan {
    /// Bytes in all (each connection carries its share).
    pub bytes: u64,
    /// Paired rounds (one queue, then Q, alternating which goes first).
    pub rounds: usize,
    /// Queues (shards) of the multi-queue run.
    pub queues: usize,
    /// Connections at once.
    pub conns: usize,
    /// strata's runtimes busy-poll for this long.
    pub busy_poll: Option<Duration>,
}

/// The kernel's and strata's listeners: the next connection, with the
/// transfer's read timeout set.
trait AcceptTimed {
    type Stream: Read + Write + Shutdown2 + Send + 'static;
    fn accept_timed(&self) -> Result<Self::Stream>;
}

impl AcceptTimed for std::net::TcpListener {
    type Stream = std::net::TcpStream;
    fn accept_timed(&self) -> Result<Self::Stream> {
        let (s, _) = self.accept()?;
        s.set_read_timeout(Some(TRANSFER_LIMIT))?;
        Ok(s)
    }
}

impl AcceptTimed for strata_io::multiqueue::MultiQueueListener {
    type Stream = strata_io::tcp::TcpStream;
    fn accept_timed(&self) -> Result<Self::Stream> {
        let (s, _) = self.accept()?;
        s.set_read_timeout(Some(TRANSFER_LIMIT))?;
        Ok(s)
    }
}

/// Accepts `conns` connections on `l` and answers each one's GET with
/// `share` bytes of `body` on a thread of its own; returns once every
/// answer is sent, with the CPU seconds the answering threads used. The
/// kernel's server and strata's share it.
fn answer_each(l: &impl AcceptTimed, conns: usize, body: &Arc<Body>, share: u64) -> Result<f64> {
    let answers: Vec<_> = (0..conns)
        .map(|_| -> Result<_> {
            let s = l.accept_timed()?;
            let b = body.clone();
            Ok(std::thread::spawn(move || {
                answer_get(s, &b, share).map(|()| thread_cpu())
            }))
        })
        .collect::<Result<_>>()?;
    let mut cpu = 0.0;
    for a in answers {
        cpu += a.join().map_err(|_| anyhow!("server thread panicked"))??;
    }
    Ok(cpu)
}

/// CPU seconds (user + system) the calling thread has used so far; its
/// system time includes the kernel's work done in its system calls (the
/// TAP's receive path runs in the writer's `writev`).
fn thread_cpu() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// strata on `queues` queues of the multi-queue TAP (offloads on).
fn mq_runtime(ns: &Netns, queues: usize) -> Result<MultiQueueRuntime> {
    let devs = ns
        .run_inside(move || {
            TapDevice::open_queues(
                MQ_TAP,
                queues,
                TapOptions {
                    offload: true,
                    without: ablation(),
                },
            )
        })?
        .map_err(|e| anyhow!("opening {queues} queues of {MQ_TAP}: {e}"))?;
    Ok(MultiQueueRuntime::new(devs, strata_runtime_config()?)?)
}

/// Which way the bytes of a multi-queue transfer go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// `conns` kernel curls at once, each downloading its share from
    /// strata listening on every shard.
    Serve,
    /// `conns` connections from strata, dealt over the shards, each
    /// fetching its share from a kernel server.
    Fetch,
}

/// `conns` connections over `queues` queues, each carrying its share of
/// `n` bytes `way`; seconds until the last ends, and how busy the shards'
/// I/O threads were.
fn mq_transfer(
    ns: &Netns,
    body: &Arc<Body>,
    n: u64,
    (queues, conns): (usize, usize),
    way: Way,
    verify: bool,
) -> Result<(f64, String)> {
    let mq = mq_runtime(ns, queues)?;
    let share = n / conns as u64;
    let server = match way {
        Way::Serve => {
            let l = mq
                .handle()
                .listen(SocketAddr::from((STACK_IP, HTTP_PORT)))?;
            let b = body.clone();
            std::thread::spawn(move || answer_each(&l, conns, &b, share))
        }
        Way::Fetch => kernel_server(ns, body.clone(), share, conns)?,
    };
    let start = StdInstant::now();
    // CPU seconds of strata's reading threads (fetch; a curl's is its
    // process's).
    let client_cpu = std::thread::scope(|sc| -> Result<f64> {
        let clients: Vec<_> = (0..conns)
            .map(|_| {
                sc.spawn(|| -> Result<f64> {
                    if way == Way::Serve {
                        return curl_download(ns, body, share, verify).map(|_| 0.0);
                    }
                    let mut s = mq.handle().connect_timeout(
                        SocketAddr::from((KERNEL_IP, KERNEL_PORT)),
                        Duration::from_secs(10),
                    )?;
                    s.set_read_timeout(Some(TRANSFER_LIMIT))?;
                    get_body(&mut s, body, share, verify)?;
                    Ok(thread_cpu())
                })
            })
            .collect();
        let mut cpu = 0.0;
        for c in clients {
            cpu += c.join().map_err(|_| anyhow!("client thread panicked"))??;
        }
        Ok(cpu)
    })?;
    let secs = start.elapsed().as_secs_f64();
    let io = io_threads_busy(secs);
    let server_cpu = join(server)?;
    let busy = match way {
        Way::Serve => format!(
            "{io}; strata's {conns} writing threads {:.2}",
            server_cpu / secs
        ),
        Way::Fetch => format!(
            "{io}; strata's {conns} reading threads {:.2}, the kernel server's {:.2}",
            client_cpu / secs,
            server_cpu / secs
        ),
    };
    if verify {
        mq_report(if way == Way::Serve { "serve" } else { "fetch" }, &mq);
    }
    Ok((secs, busy))
}

/// How busy each of the shards' I/O threads (`strata-io`) alive now has
/// been, as a fraction of one core over `secs`: whether one shard's
/// thread is what limits a transfer (near 1.00) or not.
fn io_threads_busy(secs: f64) -> String {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut busy: Vec<f64> = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "strata-io")
        })
        .filter_map(|t| {
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            // Fields after the command's closing parenthesis: state is
            // field 3, utime and stime fields 14 and 15.
            let rest: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
            let ticks: f64 =
                rest.get(11)?.parse::<f64>().ok()? + rest.get(12)?.parse::<f64>().ok()?;
            Some(ticks / hz / secs)
        })
        .collect();
    busy.sort_by(|a, b| b.total_cmp(a));
    let list: Vec<String> = busy.iter().map(|b| format!("{b:.2}")).collect();
    format!("I/O threads busy {} of a core", list.join(", "))
}

/// The shards' counters after a verified transfer.
fn mq_report(what: &str, mq: &MultiQueueRuntime) {
    for (k, s) in mq.stats().iter().enumerate() {
        println!(
            "  {what}, {} queue(s), shard {k}: {} frames in, {} out, {} I/O passes ({} sleeps, {} wake-ups), {} handed to another shard, {} taken from another's queue",
            mq.shard_count(),
            s.rx_frames,
            s.tx_frames,
            s.io_passes,
            s.io_sleeps,
            s.wakeups,
            s.rx_steered_away,
            s.rx_steered_in
        );
    }
}

/// One round's (serve, fetch) Gbit/s over one queue and over Q queues.
type MqRound = [(f64, f64); 2];

/// `strata-bench tap --queues Q --conns C`: C connections over one queue
/// against C connections over Q queues (one strata shard each), both
/// directions, paired rounds alternating which goes first.
pub fn run_multi_queue(plan: MqPlan) -> Result<()> {
    if !strata_io::testing::can_run(&["curl"]) {
        return Ok(());
    }
    if plan.queues < 2 || plan.conns == 0 {
        bail!("--queues wants at least 2 queues and --conns at least 1 connection");
    }
    let _ = BUSY_POLL.set(plan.busy_poll);
    let ns = Netns::new("benchmq")?;
    ns.add_tap_multi_queue(MQ_TAP, &format!("{KERNEL_IP}/24"))?;
    let body = Arc::new(Body::new());
    let n = plan.bytes;
    let (q, c) = (plan.queues, plan.conns);
    println!(
        "strata-bench tap --queues {q} --conns {c}: {} in all per transfer ({} per connection), {} socket buffers, {} paired rounds, multi-queue TAP {MQ_TAP} in namespace {}, {} online CPUs, load average {}",
        human(n),
        human(n / c as u64),
        human(tap_buf() as u64),
        plan.rounds,
        ns.name(),
        std::thread::available_parallelism().map(|p| p.get()).unwrap_or(0),
        load_average(),
    );
    // Per round: [1 queue, q queues] × (serve, fetch) in Gbit/s.
    let mut results: Vec<MqRound> = Vec::new();
    for round in 0..plan.rounds {
        let verify = round == 0;
        let mut r = [(0.0, 0.0); 2];
        for k in 0..2 {
            let which = (round + k) % 2;
            let queues = if which == 0 { 1 } else { q };
            let t0 = cpu_now();
            let (s, s_io) = mq_transfer(&ns, &body, n, (queues, c), Way::Serve, verify)
                .with_context(|| format!("serve over {queues} queue(s)"))?;
            let t1 = cpu_now();
            let (f, f_io) = mq_transfer(&ns, &body, n, (queues, c), Way::Fetch, verify)
                .with_context(|| format!("fetch over {queues} queue(s)"))?;
            let t2 = cpu_now();
            r[which] = (gbps(n, s), gbps(n, f));
            println!(
                "  {queues} queue(s), {c} connections: serve {:6.2} fetch {:6.2} Gbit/s",
                r[which].0, r[which].1,
            );
            println!("      CPU serving:  {}; {s_io}", cpu_use(t0, t1, s, n));
            println!("      CPU fetching: {}; {f_io}", cpu_use(t1, t2, f, n));
        }
        println!(
            "round {}{}: {q} queues / 1 queue: serve {:.2}x fetch {:.2}x",
            round + 1,
            if verify { " (bodies verified)" } else { "" },
            r[1].0 / r[0].0,
            r[1].1 / r[0].1
        );
        results.push(r);
    }
    let med = |f: &dyn Fn(&MqRound) -> f64| median(results.iter().map(f).collect());
    println!();
    println!("| direction, {c} connections | 1 queue Gbit/s | {q} queues Gbit/s | {q} queues / 1 queue |");
    println!("|---|---|---|---|");
    let serve = med(&|r| r[1].0 / r[0].0);
    let fetch = med(&|r| r[1].1 / r[0].1);
    println!(
        "| kernel curls download from strata (serve) | {:.2} | {:.2} | {serve:.2}x |",
        med(&|r| r[0].0),
        med(&|r| r[1].0)
    );
    println!(
        "| strata downloads from a kernel server (fetch) | {:.2} | {:.2} | {fetch:.2}x |",
        med(&|r| r[0].1),
        med(&|r| r[1].1)
    );
    println!();
    println!("(ratios: medians of the per-round paired ratios)");
    println!("ratio mq-serve = {serve:.2}");
    println!("ratio mq-fetch = {fetch:.2}");
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn human(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Parses a size such as `64M`, `1G`, `1GiB` or `1048576`.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, mul) = match t.chars().last() {
        Some('K' | 'k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&t[..t.len() - 1], 1 << 20),
        Some('G' | 'g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let v: u64 = num
        .trim()
        .parse()
        .map_err(|_| anyhow!("bad size {s:?} (e.g. 64M, 1G, 1048576)"))?;
    v.checked_mul(mul)
        .filter(|&v| v > 0)
        .ok_or_else(|| anyhow!("bad size {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn body_checks_detect_a_changed_byte_at_any_offset() {
        let b = Body::new();
        let mut v: Vec<u8> = (1000u64..1000 + 200_000).map(|i| (i % 251) as u8).collect();
        assert!(b.check(1000, &v));
        v[150_000] ^= 1;
        assert!(!b.check(1000, &v));
        let mut r = BodyReader::new(&b, true);
        r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n\x00\x01");
        r.feed(b"\x02");
        r.finish(3).unwrap();
        let mut r = BodyReader::new(&b, true);
        r.feed(b"HTTP/1.1 200 OK\r\n\r\n\x00\x05\x02");
        assert!(r.finish(3).is_err());
    }
}
