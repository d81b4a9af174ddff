//! The smoltcp contender: two smoltcp `Interface`s joined by the pipe.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant as StdInstant};

use anyhow::{bail, Result};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp::{self, CongestionControl};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

use crate::pipe::{self, BulkReceiver, Pattern, Shared};
use crate::{After, Cc, Contender, Features, Many, BUF, DELAYED_ACK, PORT};

/// One end of the pipe as a smoltcp device.
pub struct End {
    tx: Shared,
    rx: Shared,
    mtu: usize,
}

pub struct Rx {
    frame: Vec<u8>,
    len: usize,
    queue: Shared,
}

pub struct Tx {
    queue: Shared,
}

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.frame[..self.len]);
        self.queue.borrow_mut().recycle(self.frame);
        r
    }
}

impl phy::TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut q = self.queue.borrow_mut();
        let mut b = q.buffer(len);
        let r = f(&mut b[..len]);
        q.push(b, len);
        r
    }
}

impl Device for End {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;
    fn receive(&mut self, _t: Instant) -> Option<(Rx, Tx)> {
        let (frame, len) = self.rx.borrow_mut().pop()?;
        Some((
            Rx {
                frame,
                len,
                queue: self.rx.clone(),
            },
            Tx {
                queue: self.tx.clone(),
            },
        ))
    }
    fn transmit(&mut self, _t: Instant) -> Option<Tx> {
        Some(Tx {
            queue: self.tx.clone(),
        })
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        // For Ethernet, smoltcp's MTU includes the 14-byte header.
        caps.max_transmission_unit = self.mtu;
        // Default checksum capabilities: compute and verify everything in software.
        caps
    }
}

/// The clock in milliseconds, as the latest `Pair::now` read it: smoltcp's
/// timestamp option takes its TSval from a plain `fn() -> u32`.
static CLOCK_MS: AtomicU32 = AtomicU32::new(0);

fn tsval() -> u32 {
    CLOCK_MS.load(Ordering::Relaxed)
}

struct Host {
    dev: End,
    iface: Interface,
    sockets: SocketSet<'static>,
    features: Features,
}

const IP_A: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
const IP_B: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);

impl Host {
    fn new(
        mac: u8,
        ip: Ipv4Address,
        (tx, rx): (Shared, Shared),
        frame: usize,
        features: Features,
        t: Instant,
    ) -> Host {
        let mut dev = End { tx, rx, mtu: frame };
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress([
            0x02, 0, 0, 0, 0, mac,
        ])));
        config.random_seed = u64::from(mac);
        let mut iface = Interface::new(config, &mut dev, t);
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::Ipv4(ip), 24)).unwrap();
        });
        Host {
            dev,
            iface,
            sockets: SocketSet::new(Vec::new()),
            features,
        }
    }
    fn poll(&mut self, t: Instant) {
        self.iface.poll(t, &mut self.dev, &mut self.sockets);
    }
    /// A socket with two preallocated `buf`-byte buffers, configured with
    /// the row's features and the common delayed-ACK time.
    fn socket(&mut self, buf: usize) -> SocketHandle {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; buf]),
            tcp::SocketBuffer::new(vec![0; buf]),
        );
        if self.features.timestamps {
            s.set_tsval_generator(Some(tsval));
        }
        s.set_congestion_control(match self.features.cc {
            Cc::Reno => CongestionControl::Reno,
            Cc::Cubic => CongestionControl::Cubic,
            Cc::SmoltcpNone => CongestionControl::None,
        });
        // Nagle off on both stacks (see `crate::NODELAY`).
        s.set_nagle_enabled(!crate::NODELAY);
        s.set_ack_delay(Some(smoltcp::time::Duration::from_micros(
            DELAYED_ACK.as_micros() as u64,
        )));
        self.sockets.add(s)
    }
    fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }
}

struct Pair {
    a: Host,
    b: Host,
    ab: Shared,
    start: StdInstant,
    /// A virtual clock (µs, advanced by `crate::VIRTUAL_TICK` per reading)
    /// for `--callgrind`, as on the strata side.
    virtual_us: Option<Cell<i64>>,
}

impl Pair {
    fn new(frame: usize, features: Features) -> Pair {
        let (ab, ba) = pipe::pair();
        let start = StdInstant::now();
        let t = Instant::from_micros(0);
        let a = Host::new(1, IP_A, (ab.clone(), ba.clone()), frame, features, t);
        let b = Host::new(2, IP_B, (ba, ab.clone()), frame, features, t);
        Pair {
            a,
            b,
            ab,
            start,
            virtual_us: crate::virtual_clock().then(|| Cell::new(0)),
        }
    }
    fn now(&self) -> Instant {
        let us = match &self.virtual_us {
            Some(v) => {
                v.set(v.get() + (crate::VIRTUAL_TICK / 1000) as i64);
                v.get()
            }
            None => self.start.elapsed().as_micros() as i64,
        };
        CLOCK_MS.store((us / 1000) as u32, Ordering::Relaxed);
        Instant::from_micros(us)
    }
    /// One round: each host polls once (timers, everything that arrived,
    /// everything it has to send), `a` then `b` — the strata side's order.
    fn round(&mut self) {
        let t = self.now();
        self.a.poll(t);
        self.b.poll(t);
    }
    /// Poll both hosts until no frame is in flight.
    fn settle(&mut self) {
        for _ in 0..64 {
            self.round();
            if self.ab.borrow().len() == 0 && self.a.dev.rx.borrow().len() == 0 {
                break;
            }
        }
    }
    fn connect(&mut self, client: SocketHandle, server: SocketHandle, lport: u16) -> Result<()> {
        self.b.tcp(server).listen(PORT)?;
        let cx = self.a.iface.context();
        self.a.sockets.get_mut::<tcp::Socket>(client).connect(
            cx,
            (IpAddress::Ipv4(IP_B), PORT),
            lport,
        )?;
        for _ in 0..1000 {
            self.settle();
            if self.a.tcp(client).may_send() && self.b.tcp(server).may_recv() {
                return Ok(());
            }
        }
        bail!("smoltcp: handshake did not complete")
    }
    /// Moves `bytes` from `c` (on `a`) to `s` (on `b`); the receiver checks
    /// every byte against the pattern. Returns when the first `warm` bytes
    /// had arrived.
    fn transfer(
        &mut self,
        c: SocketHandle,
        s: SocketHandle,
        bytes: u64,
        pattern: &Pattern,
        warm: u64,
    ) -> Result<StdInstant> {
        let mut sent = 0u64;
        let mut rx = BulkReceiver::new("smoltcp", pattern, bytes, warm);
        while !rx.done() {
            if sent < bytes {
                let sock = self.a.tcp(c);
                while sent < bytes && sock.can_send() {
                    let want = (bytes - sent).min(65_536) as usize;
                    let n = sock.send_slice(pattern.slice(sent, want))?;
                    if n == 0 {
                        break;
                    }
                    sent += n as u64;
                }
            }
            self.round();
            let sock = self.b.tcp(s);
            while sock.can_recv() {
                sock.recv(|buf| {
                    let n = rx.take(buf);
                    (n, n)
                })?;
            }
            rx.end_round()?;
        }
        rx.finish()
    }
}

/// The smoltcp contender.
pub struct Smoltcp;

impl Contender for Smoltcp {
    const NAME: &'static str = "smoltcp";

    fn bulk(frame: usize, bytes: u64, pattern: &Pattern, features: Features) -> Result<f64> {
        let mut p = Pair::new(frame, features);
        let (c, s) = (p.a.socket(BUF), p.b.socket(BUF));
        p.connect(c, s, 49152)?;
        let t0 = p.transfer(c, s, bytes + crate::WARM, pattern, crate::WARM)?;
        Ok(t0.elapsed().as_secs_f64())
    }

    fn conns(n: usize) -> Result<f64> {
        let mut p = Pair::new(1514, Features::DEFAULT);
        let (c, s) = (p.a.socket(BUF), p.b.socket(BUF));
        let req = [b'q'; 64];
        let mut buf = [0u8; 64];
        let t0 = StdInstant::now();
        for i in 0..n {
            let lport = 49152 + (i % 16000) as u16;
            // The client socket is in TIME-WAIT from the previous cycle:
            // smoltcp's `connect` accepts it and starts afresh (one socket
            // holds at most one connection; its TIME-WAIT ends on reuse).
            p.connect(c, s, lport)?;
            p.a.tcp(c).send_slice(&req)?;
            p.settle();
            let got = p.b.tcp(s).recv_slice(&mut buf)?;
            if got != 64 || buf != req {
                bail!("smoltcp conns: request not delivered");
            }
            p.b.tcp(s).send_slice(&buf)?;
            p.settle();
            if p.a.tcp(c).recv_slice(&mut buf)? != 64 {
                bail!("smoltcp conns: reply not delivered");
            }
            // Close both ways, as on the strata side: the client first, then
            // the server on end of stream.
            p.a.tcp(c).close();
            p.settle();
            if p.b.tcp(s).may_recv() {
                bail!("smoltcp conns: expected end of stream");
            }
            p.b.tcp(s).close();
            p.settle();
            // The sockets are live, so their states are the connections'.
            if p.b.tcp(s).state() != tcp::State::Closed
                || p.a.tcp(c).state() != tcp::State::TimeWait
            {
                bail!(
                    "smoltcp conns: close did not complete ({} / {})",
                    p.a.tcp(c).state(),
                    p.b.tcp(s).state()
                );
            }
        }
        Ok(t0.elapsed().as_secs_f64())
    }

    fn many(n: usize, budget: Duration, setup_limit: Duration) -> Result<Many> {
        let mut p = Pair::new(1514, Features::DEFAULT);
        let setup = StdInstant::now();
        let pairs = open_many(&mut p, n, SMALL_BUF, Some(setup_limit))?;
        let setup_secs = setup.elapsed().as_secs_f64();
        let (ns, frames, warmed) = if pairs.is_empty() {
            (f64::NAN, f64::NAN, false)
        } else {
            let warm_limit = setup_limit.saturating_sub(setup.elapsed());
            request_reply_rounds(&mut p, &pairs, budget, warm_limit)?
        };
        Ok(Many {
            opened: pairs.len(),
            warmed,
            setup_secs,
            ns_per_exchange: ns,
            frames_per_exchange: frames,
        })
    }

    fn idle_mem(n: usize, after: After, buf: usize, pattern: &Pattern) -> Result<f64> {
        let before = crate::alloc::live();
        let mut p = Pair::new(1514, Features::DEFAULT);
        let pairs = open_many(&mut p, n, buf, None)?;
        p.settle();
        let established = pairs
            .iter()
            .filter(|&&(c, s)| {
                p.a.tcp(c).state() == tcp::State::Established
                    && p.b.tcp(s).state() == tcp::State::Established
            })
            .count();
        if established != n {
            bail!("smoltcp idle-mem: only {established} of {n} connections established");
        }
        match after {
            After::Nothing => {}
            After::RequestReply => {
                let mut next = 0;
                for _ in 0..n.div_ceil(pipe::BATCH) {
                    let batch = pipe::round_robin(&mut next, n);
                    one_batch(&mut p, &pairs, &batch)?;
                }
            }
            After::Bulk(bytes) => {
                for &(c, s) in &pairs {
                    p.transfer(c, s, bytes, pattern, 0)?;
                }
            }
        }
        p.settle();
        let bytes = crate::alloc::live() - before;
        Ok(bytes as f64 / (2 * n) as f64)
    }
}

/// Buffer size of each of smoltcp's two buffers per socket in `many` and
/// in the small-buffer `idle-mem` row: smoltcp allocates its buffers up
/// front, and 100 000 connections with 256 KiB buffers would need 100 GiB.
pub const SMALL_BUF: usize = 4096;

/// `n` connections, one listening socket per connection (smoltcp's model),
/// on the same 4-tuples as the strata side (client ports 10000.., server
/// ports 5001.. with at most 50 000 per server port); stops early, with
/// fewer, when setting them up takes longer than `limit`.
fn open_many(
    p: &mut Pair,
    n: usize,
    buf: usize,
    limit: Option<Duration>,
) -> Result<Vec<(SocketHandle, SocketHandle)>> {
    let per_port = 50_000;
    let setup = StdInstant::now();
    let mut pairs = Vec::with_capacity(n);
    let mut pending = Vec::new();
    for i in 0..n {
        let (c, s) = (p.a.socket(buf), p.b.socket(buf));
        let port = PORT + (i / per_port) as u16;
        p.b.tcp(s).listen(port)?;
        let cx = p.a.iface.context();
        p.a.sockets.get_mut::<tcp::Socket>(c).connect(
            cx,
            (IpAddress::Ipv4(IP_B), port),
            10_000 + (i % per_port) as u16,
        )?;
        pending.push((c, s));
        if i % 64 == 63 || i + 1 == n {
            p.settle();
            pairs.append(&mut pending);
            if limit.is_some_and(|l| setup.elapsed() > l) {
                break;
            }
        }
    }
    p.settle();
    // Only connections both ends see established count as opened.
    pairs.retain(|&(c, s)| {
        p.a.tcp(c).state() == tcp::State::Established
            && p.b.tcp(s).state() == tcp::State::Established
    });
    Ok(pairs)
}

/// ns and frames per request/reply exchange, after one untimed warm-up
/// exchange on every connection (cut short after `warm_limit`: then the
/// third value is false).
fn request_reply_rounds(
    p: &mut Pair,
    pairs: &[(SocketHandle, SocketHandle)],
    budget: Duration,
    warm_limit: Duration,
) -> Result<(f64, f64, bool)> {
    let mut next = 0usize;
    let warm = StdInstant::now();
    let mut warmed = true;
    for _ in 0..pairs.len().div_ceil(pipe::BATCH) {
        let batch = pipe::round_robin(&mut next, pairs.len());
        one_batch(p, pairs, &batch)?;
        if warm.elapsed() > warm_limit {
            warmed = false;
            break;
        }
    }
    let frames0 = p.ab.borrow().count + p.a.dev.rx.borrow().count;
    let mut exchanges = 0u64;
    let t0 = StdInstant::now();
    loop {
        let batch = pipe::round_robin(&mut next, pairs.len());
        one_batch(p, pairs, &batch)?;
        exchanges += batch.len() as u64;
        if t0.elapsed() >= budget {
            break;
        }
    }
    let ns = t0.elapsed().as_nanos() as f64;
    let frames = p.ab.borrow().count + p.a.dev.rx.borrow().count - frames0;
    Ok((
        ns / exchanges as f64,
        frames as f64 / exchanges as f64,
        warmed,
    ))
}

/// `n` open connections for `--callgrind smoltcp many-N` (4 KiB buffers, as
/// in `many`): runs `batches` batches of request/reply; returns the frames
/// that crossed the pipe and the exchanges made.
pub fn many_batches(n: usize, batches: u64) -> Result<(u64, u64)> {
    let mut p = Pair::new(1514, Features::DEFAULT);
    let pairs = open_many(&mut p, n, SMALL_BUF, None)?;
    if pairs.len() != n {
        bail!(
            "smoltcp: only {} of {n} connections established",
            pairs.len()
        );
    }
    request_reply(&mut p, &pairs, batches)
}

/// `batches` batches of the `many` traffic; frames and exchanges. Not
/// inlined, so a profiler can isolate it from the setup
/// (`valgrind --toggle-collect='*request_reply*'`).
#[inline(never)]
fn request_reply(
    p: &mut Pair,
    pairs: &[(SocketHandle, SocketHandle)],
    batches: u64,
) -> Result<(u64, u64)> {
    let frames0 = p.ab.borrow().count + p.a.dev.rx.borrow().count;
    let mut next = 0usize;
    let mut exchanges = 0u64;
    for _ in 0..batches {
        let batch = pipe::round_robin(&mut next, pairs.len());
        one_batch(p, pairs, &batch)?;
        exchanges += batch.len() as u64;
    }
    let frames = p.ab.borrow().count + p.a.dev.rx.borrow().count - frames0;
    Ok((frames, exchanges))
}

/// One batch of the `many` traffic: each connection sends a 64-byte
/// request, the server echoes it, the client reads the reply.
fn one_batch(p: &mut Pair, pairs: &[(SocketHandle, SocketHandle)], batch: &[usize]) -> Result<()> {
    let req = [b'r'; 64];
    let mut buf = [0u8; 64];
    for &i in batch {
        p.a.tcp(pairs[i].0).send_slice(&req)?;
    }
    p.settle();
    for &i in batch {
        let s = pairs[i].1;
        if p.b.tcp(s).recv_slice(&mut buf)? != 64 {
            bail!("smoltcp many: request lost");
        }
        p.b.tcp(s).send_slice(&buf)?;
    }
    p.settle();
    for &i in batch {
        if p.a.tcp(pairs[i].0).recv_slice(&mut buf)? != 64 {
            bail!("smoltcp many: reply lost");
        }
    }
    Ok(())
}
