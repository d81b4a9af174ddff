//! The smoltcp contender: two smoltcp `Interface`s joined by the pipe.

use std::time::Instant as StdInstant;

use anyhow::{bail, Result};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

use crate::pipe::{self, Pattern, Shared};
use crate::{Contender, BUF, PORT};

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

struct Host {
    dev: End,
    iface: Interface,
    sockets: SocketSet<'static>,
}

const IP_A: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
const IP_B: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);

impl Host {
    fn new(mac: u8, ip: Ipv4Address, tx: Shared, rx: Shared, frame: usize, t: Instant) -> Host {
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
        }
    }
    fn poll(&mut self, t: Instant) {
        self.iface.poll(t, &mut self.dev, &mut self.sockets);
    }
    fn socket(&mut self) -> SocketHandle {
        let s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; BUF]),
            tcp::SocketBuffer::new(vec![0; BUF]),
        );
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
}

impl Pair {
    fn new(frame: usize) -> Pair {
        let (ab, ba) = pipe::pair();
        let start = StdInstant::now();
        let t = Instant::from_micros(0);
        let a = Host::new(1, IP_A, ab.clone(), ba.clone(), frame, t);
        let b = Host::new(2, IP_B, ba, ab.clone(), frame, t);
        Pair { a, b, ab, start }
    }
    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as i64)
    }
    /// Poll both hosts until no frame is in flight.
    fn settle(&mut self) {
        for _ in 0..64 {
            let t = self.now();
            self.a.poll(t);
            self.b.poll(t);
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
}

/// The smoltcp contender.
pub struct Smoltcp;

impl Contender for Smoltcp {
    const NAME: &'static str = "smoltcp";

    fn bulk(frame: usize, bytes: u64, pattern: &Pattern) -> Result<f64> {
        let mut p = Pair::new(frame);
        let (c, s) = (p.a.socket(), p.b.socket());
        let t0 = StdInstant::now();
        p.connect(c, s, 49152)?;
        let (mut sent, mut got) = (0u64, 0u64);
        let mut ok = true;
        let mut idle = 0;
        while got < bytes {
            if sent < bytes {
                let sock = p.a.tcp(c);
                while sent < bytes && sock.can_send() {
                    let want = (bytes - sent).min(65_536) as usize;
                    let n = sock.send_slice(pattern.slice(sent, want))?;
                    if n == 0 {
                        break;
                    }
                    sent += n as u64;
                }
            }
            let t = p.now();
            p.a.poll(t);
            p.b.poll(t);
            let sock = p.b.tcp(s);
            let before = got;
            while sock.can_recv() {
                let r = sock.recv(|buf| {
                    ok &= pattern.check(got, buf);
                    (buf.len(), buf.len())
                })?;
                got += r as u64;
            }
            idle = if got == before { idle + 1 } else { 0 };
            if idle > 10_000_000 {
                bail!("smoltcp bulk stalled at {got} of {bytes} bytes");
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        if !ok {
            bail!("smoltcp bulk: received bytes differ from the sent stream");
        }
        Ok(secs)
    }

    fn conns(n: usize) -> Result<f64> {
        let mut p = Pair::new(1514);
        let (c, s) = (p.a.socket(), p.b.socket());
        let req = [b'q'; 64];
        let mut buf = [0u8; 64];
        let t0 = StdInstant::now();
        for i in 0..n {
            let lport = 49152 + (i % 16000) as u16;
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
            // Close both ways: the client first, then the server on EOF.
            p.a.tcp(c).close();
            p.settle();
            p.b.tcp(s).close();
            let mut closed = false;
            for _ in 0..1000 {
                p.settle();
                if p.b.tcp(s).state() == tcp::State::Closed
                    && p.a.tcp(c).state() == tcp::State::TimeWait
                {
                    closed = true;
                    break;
                }
            }
            if !closed {
                bail!("smoltcp conns: close did not complete");
            }
            // smoltcp needs a CLOSED socket to reuse: leave TIME_WAIT by aborting.
            p.a.tcp(c).abort();
            p.settle();
        }
        Ok(t0.elapsed().as_secs_f64())
    }

    fn many(n: usize, budget: std::time::Duration) -> Result<Option<f64>> {
        let mut p = Pair::new(1514);
        let limit = (budget * 4).max(std::time::Duration::from_secs(20));
        let Some(pairs) = open_many(&mut p, n, Some(limit))? else {
            return Ok(None);
        };
        request_reply_rounds(&mut p, &pairs, budget)
    }

    fn idle_mem(n: usize) -> Result<f64> {
        let before = crate::alloc::live();
        let mut p = Pair::new(1514);
        let pairs = open_many(&mut p, n, None)?.expect("no time limit");
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
        let bytes = crate::alloc::live() - before;
        Ok(bytes as f64 / (2 * n) as f64)
    }
}

/// `n` connections, one listening socket per connection (smoltcp's model);
/// `None` when setting them up takes longer than `limit`.
fn open_many(
    p: &mut Pair,
    n: usize,
    limit: Option<std::time::Duration>,
) -> Result<Option<Vec<(SocketHandle, SocketHandle)>>> {
    let setup = StdInstant::now();
    let mut pairs = Vec::with_capacity(n);
    for i in 0..n {
        let (c, s) = (p.a.socket(), p.b.socket());
        p.b.tcp(s).listen(PORT)?;
        let cx = p.a.iface.context();
        p.a.sockets.get_mut::<tcp::Socket>(c).connect(
            cx,
            (IpAddress::Ipv4(IP_B), PORT),
            1024 + i as u16,
        )?;
        if i % 64 == 63 || i + 1 == n {
            p.settle();
        }
        pairs.push((c, s));
        if limit.is_some_and(|l| setup.elapsed() > l) {
            return Ok(None);
        }
    }
    p.settle();
    Ok(Some(pairs))
}

fn request_reply_rounds(
    p: &mut Pair,
    pairs: &[(SocketHandle, SocketHandle)],
    budget: std::time::Duration,
) -> Result<Option<f64>> {
    // Warm-up: one request/reply on every connection first, so the timed
    // part measures the steady state (the same on both sides).
    let mut next = 0usize;
    for _ in 0..pairs.len().div_ceil(pipe::BATCH) {
        let batch = pipe::round_robin(&mut next, pairs.len());
        one_batch(p, pairs, &batch)?;
    }
    let frames0 = p.ab.borrow().count + p.a.dev.rx.borrow().count;
    let t0 = StdInstant::now();
    loop {
        let batch = pipe::round_robin(&mut next, pairs.len());
        one_batch(p, pairs, &batch)?;
        if t0.elapsed() >= budget {
            break;
        }
    }
    let frames = p.ab.borrow().count + p.a.dev.rx.borrow().count - frames0;
    Ok(Some(t0.elapsed().as_nanos() as f64 / frames as f64))
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
