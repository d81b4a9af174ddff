//! The strata contender: two strata `Stack`s joined by the pipe.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant as StdInstant;

use anyhow::{bail, Result};
use strata::link::IfaceId;
use strata::phy::FrameSink;
use strata::stack::{Stack, StackConfig, Transmit};
use strata::time::Instant;
use strata::transport::ports::PortRange;
use strata::transport::tcp::{ListenerHandle, State, TcpConfig, TcpError, TcpHandle};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::MacAddr;

use strata::transport::tcp::congestion::Algorithm;

use crate::pipe::{self, BulkReceiver, Pattern, Shared};
use crate::{After, Cc, Contender, Features, Many, BUF, DELAYED_ACK, PORT};

const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

struct Host {
    stack: Stack,
    /// Frames this host sends.
    tx: Shared,
    /// Frames this host receives.
    rx: Shared,
    max_frame: usize,
    /// A transmit buffer kept between polls that found nothing to send, as
    /// a driver holds its next descriptor (smoltcp's `TxToken` likewise takes
    /// a buffer only when a frame is written).
    spare: Option<Vec<u8>>,
}

impl Host {
    fn new(mac: u8, ip: Ipv4Addr, (tx, rx): (Shared, Shared), frame: usize, f: Features) -> Host {
        let mtu = frame - 14;
        let tcp = TcpConfig {
            rx_buffer_limit: BUF,
            tx_buffer_limit: BUF,
            mss: (mtu - 40).min(65_495) as u16,
            mtu: mtu.min(65_535) as u16,
            timestamps: f.timestamps,
            // strata always runs congestion control: the `SmoltcpNone` row
            // sets smoltcp without any against strata's NewReno.
            congestion_control: match f.cc {
                Cc::Reno | Cc::SmoltcpNone => Algorithm::NewReno,
                Cc::Cubic => Algorithm::Cubic,
            },
            delayed_ack: DELAYED_ACK,
            nodelay: crate::NODELAY,
            // The harness reads state directly and polls no state changes
            // (smoltcp makes no events at all): none are queued.
            state_events: false,
            ..TcpConfig::default()
        };
        let config = StackConfig {
            seed: u64::from(mac),
            tcp,
            // `conns` leaves one TIME-WAIT per connection (2×MSL, as a real
            // stack must): give the client the whole unprivileged port range.
            ephemeral_ports: PortRange::new(1024, 65535).expect("valid range"),
            ..StackConfig::default()
        };
        let mut stack = Stack::new(config);
        let i = stack.add_interface(MacAddr([0x02, 0, 0, 0, 0, mac]), mtu);
        stack
            .add_address(i, Ipv4Cidr::new(ip, 24).expect("/24"))
            .expect("fresh interface");
        Host {
            stack,
            tx,
            rx,
            max_frame: frame,
            spare: None,
        }
    }

    /// Sends everything the stack has, straight into pipe buffers: one
    /// burst ([`Stack::poll_transmit_burst`]).
    fn flush(&mut self, now: Instant) -> bool {
        let mut sink = PipeSink {
            tx: &mut self.tx.borrow_mut(),
            spare: &mut self.spare,
            max_frame: self.max_frame,
        };
        self.stack.poll_transmit_burst(now, &mut sink) > 0
    }

    /// Feeds every waiting frame to the stack.
    fn ingest(&mut self, now: Instant) -> bool {
        let mut any = false;
        loop {
            let f = self.rx.borrow_mut().pop();
            let Some((f, n)) = f else { return any };
            self.stack.receive(now, IfaceId(0), &f[..n]);
            self.rx.borrow_mut().recycle(f);
            any = true;
        }
    }

    /// Timers, input, output: one `Interface::poll` in smoltcp's terms.
    fn poll(&mut self, now: Instant) {
        self.timers(now);
        self.ingest(now);
        self.flush(now);
    }

    fn timers(&mut self, now: Instant) {
        if self.stack.poll_timeout().is_some_and(|t| t <= now) {
            self.stack.handle_timeout(now);
        }
        // The harness reads state directly; events are drained so they do
        // not pile up.
        while self.stack.poll_event().is_some() {}
    }
}

/// The pipe as a [`FrameSink`]: frames go into recycled pipe buffers.
struct PipeSink<'a> {
    tx: &'a mut pipe::Queue,
    /// The buffer handed out for the next frame, kept between bursts.
    spare: &'a mut Option<Vec<u8>>,
    max_frame: usize,
}

impl FrameSink for PipeSink<'_> {
    fn buffer(&mut self) -> Option<&mut [u8]> {
        if self.spare.is_none() {
            *self.spare = Some(self.tx.buffer(self.max_frame));
        }
        self.spare.as_deref_mut()
    }
    fn send(&mut self, t: Transmit) {
        if let Some(b) = self.spare.take() {
            self.tx.push(b, t.len);
        }
    }
}

struct Pair {
    a: Host,
    b: Host,
    start: StdInstant,
    /// A virtual clock (ns, advanced by `crate::VIRTUAL_TICK` per reading)
    /// instead of the wall clock, for `--callgrind`: under callgrind the
    /// program runs ~50× slower, and wall-clock timers (delayed ACK, RTO)
    /// would fire ~50× more often per segment than in a real run.
    virtual_ns: Option<std::cell::Cell<u64>>,
    /// The time of the latest poll round: the "current time" of the
    /// application's loop for calls made between rounds (connect, close),
    /// as an event loop caches its clock per iteration.
    last: Instant,
}

impl Pair {
    fn new(frame: usize, features: Features) -> Pair {
        let (ab, ba) = pipe::pair();
        let a = Host::new(1, IP_A, (ab.clone(), ba.clone()), frame, features);
        let b = Host::new(2, IP_B, (ba, ab), frame, features);
        Pair {
            a,
            b,
            start: StdInstant::now(),
            virtual_ns: crate::virtual_clock().then(|| std::cell::Cell::new(0)),
            last: Instant::ZERO,
        }
    }
    fn now(&self) -> Instant {
        if let Some(v) = &self.virtual_ns {
            v.set(v.get() + crate::VIRTUAL_TICK);
            return Instant::from_nanos(v.get());
        }
        Instant::from_nanos(self.start.elapsed().as_nanos() as u64)
    }
    /// One round, the same as the smoltcp side's: one clock reading, then
    /// each host polls once, `a` then `b` (timers, everything that arrived,
    /// everything it has to send, as smoltcp's `Interface::poll` does).
    fn round(&mut self) {
        let t = self.now();
        self.last = t;
        self.a.poll(t);
        self.b.poll(t);
    }
    /// Polls both hosts until no frame is in flight, as the smoltcp side's
    /// `settle` does.
    fn settle(&mut self) {
        for _ in 0..64 {
            self.round();
            if self.a.tx.borrow().len() == 0 && self.b.tx.borrow().len() == 0 {
                break;
            }
        }
    }
    fn listen(&mut self, port: u16) -> Result<ListenerHandle> {
        Ok(self.b.stack.tcp_listen(None, port, 1 << 20)?)
    }
    fn connect(&mut self, local_port: u16, port: u16) -> Result<TcpHandle> {
        let t = self.last;
        let local = (local_port != 0).then(|| SocketAddrV4::new(IP_A, local_port));
        Ok(self
            .a
            .stack
            .tcp_connect_from(t, local, SocketAddrV4::new(IP_B, port))?)
    }
    /// Moves `bytes` from `c` (on `a`) to `s` (on `b`); the receiver checks
    /// every byte against the pattern. Returns when the first `warm` bytes
    /// had arrived.
    fn transfer(
        &mut self,
        c: TcpHandle,
        s: TcpHandle,
        bytes: u64,
        pattern: &Pattern,
        warm: u64,
    ) -> Result<StdInstant> {
        let mut sent = 0u64;
        let mut rx = BulkReceiver::new("strata", pattern, bytes, warm);
        while !rx.done() {
            while sent < bytes {
                let want = (bytes - sent).min(65_536) as usize;
                let n = would_block(self.a.stack.tcp_send(c, pattern.slice(sent, want)))?;
                if n == 0 {
                    break;
                }
                sent += n as u64;
            }
            self.round();
            // In place, like the smoltcp side (`recv(|buf| ..)`).
            loop {
                let r = self.b.stack.tcp_recv_with(s, |data| {
                    let n = rx.take(data);
                    (n, n)
                });
                if would_block(r)? == 0 {
                    break;
                }
            }
            rx.end_round()?;
        }
        rx.finish()
    }
    /// Accepts, polling both hosts while the queue is empty (bounded like
    /// the smoltcp side's handshake loop).
    fn accept(&mut self, l: ListenerHandle) -> Result<TcpHandle> {
        for _ in 0..1000 {
            match self.b.stack.tcp_accept(l) {
                Ok(h) => return Ok(h),
                Err(TcpError::WouldBlock) => self.settle(),
                Err(e) => return Err(e.into()),
            }
        }
        bail!("strata: no connection to accept")
    }
}

/// The strata contender.
pub struct Strata;

impl Contender for Strata {
    const NAME: &'static str = "strata";

    fn bulk(frame: usize, bytes: u64, pattern: &Pattern, features: Features) -> Result<f64> {
        let mut p = Pair::new(frame, features);
        let l = p.listen(PORT)?;
        let c = p.connect(0, PORT)?;
        let s = p.accept(l)?;
        let t0 = p.transfer(c, s, bytes + crate::WARM, pattern, crate::WARM)?;
        Ok(t0.elapsed().as_secs_f64())
    }

    fn conns(n: usize) -> Result<f64> {
        let mut p = Pair::new(1514, Features::DEFAULT);
        let l = p.listen(PORT)?;
        let req = [b'q'; 64];
        let mut buf = [0u8; 64];
        let t0 = StdInstant::now();
        for i in 0..n {
            let c = p.connect(0, PORT)?;
            let s = p.accept(l)?;
            p.a.stack.tcp_send(c, &req)?;
            p.settle();
            if p.b.stack.tcp_recv(s, &mut buf)? != 64 || buf != req {
                bail!("strata conns: request not delivered");
            }
            p.b.stack.tcp_send(s, &buf)?;
            p.settle();
            if p.a.stack.tcp_recv(c, &mut buf)? != 64 {
                bail!("strata conns: reply not delivered");
            }
            // Close both ways: the client first, then the server on EOF.
            p.a.stack.tcp_close(p.last, c)?;
            p.settle();
            if p.b.stack.tcp_recv(s, &mut buf)? != 0 {
                bail!("strata conns: expected end of stream");
            }
            p.b.stack.tcp_close(p.last, s)?;
            p.settle();
            // After close() the handles are released (they read as CLOSED
            // whatever happens), so ask the engines: the server holds no
            // connection any more, the client holds every cycle's
            // TIME-WAIT so far (2×MSL outlasts the run) and nothing else.
            let (client, server) = (
                p.a.stack.tcp().connection_count(),
                p.b.stack.tcp().connection_count(),
            );
            if server != 0 || client != i + 1 {
                bail!(
                    "strata conns: close did not complete (cycle {i}: client engine holds \
                     {client} connections, server {server})"
                );
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        // Outside the timing: every connection the client holds is in TIME-WAIT.
        let time_wait =
            p.a.stack
                .tcp()
                .connections()
                .filter(|(_, i)| i.state == State::TimeWait)
                .count();
        if time_wait != n {
            bail!("strata conns: {time_wait} of {n} connections in TIME-WAIT");
        }
        Ok(secs)
    }

    fn many(n: usize, budget: std::time::Duration, _setup: std::time::Duration) -> Result<Many> {
        let mut p = Pair::new(1514, Features::DEFAULT);
        // strata's setup is not time-bounded: it must reach 100 000.
        let setup = StdInstant::now();
        let pairs = open_many(&mut p, n)?;
        let setup_secs = setup.elapsed().as_secs_f64();
        // Warm-up: one request/reply on every connection first, so the
        // timed part measures the steady state (the same on both sides).
        request_reply(
            &mut p,
            &pairs,
            Until::Batches(n.div_ceil(pipe::BATCH) as u64),
        )?;
        let t0 = StdInstant::now();
        let (frames, exchanges) = request_reply(&mut p, &pairs, Until::Elapsed(t0, budget))?;
        let ns = t0.elapsed().as_nanos() as f64;
        Ok(Many {
            opened: n,
            warmed: true,
            setup_secs,
            ns_per_exchange: ns / exchanges as f64,
            frames_per_exchange: frames as f64 / exchanges as f64,
        })
    }

    fn idle_mem(n: usize, after: After, _buf: usize, pattern: &Pattern) -> Result<f64> {
        let before = crate::alloc::live();
        let mut p = Pair::new(1514, Features::DEFAULT);
        let pairs = open_many(&mut p, n)?;
        p.settle();
        let established = pairs
            .iter()
            .filter(|&&(c, s)| {
                p.a.stack.tcp_state(c) == State::Established
                    && p.b.stack.tcp_state(s) == State::Established
            })
            .count();
        if established != n {
            bail!("strata idle-mem: only {established} of {n} connections established");
        }
        match after {
            After::Nothing => {}
            After::RequestReply => {
                request_reply(
                    &mut p,
                    &pairs,
                    Until::Batches(n.div_ceil(pipe::BATCH) as u64),
                )?;
            }
            After::Bulk(bytes) => {
                for &(c, s) in &pairs {
                    p.transfer(c, s, bytes, pattern, 0)?;
                }
            }
        }
        p.settle();
        // What the connections keep: the engines' own queues (events, frames
        // waiting) are drained by `settle`.
        let bytes = crate::alloc::live() - before;
        drop(pairs);
        Ok(bytes as f64 / (2 * n) as f64)
    }
}

/// When [`request_reply`] stops.
#[derive(Clone, Copy)]
enum Until {
    /// Once this much time has passed since the instant.
    Elapsed(StdInstant, std::time::Duration),
    /// After this many batches.
    Batches(u64),
}

/// `n` open connections for `--callgrind strata many-N`: runs `batches`
/// batches of request/reply; returns the frames that crossed the pipe and
/// the exchanges made.
pub fn many_batches(n: usize, batches: u64) -> Result<(u64, u64)> {
    let mut p = Pair::new(1514, Features::DEFAULT);
    let pairs = open_many(&mut p, n)?;
    request_reply(&mut p, &pairs, Until::Batches(batches))
}

/// The `many` traffic: 64 connections at a time (round robin) each send a
/// 64-byte request, the server echoes it; returns the frames that crossed
/// the pipe and the exchanges made. Not inlined, so a profiler can isolate
/// it from the setup (`valgrind --toggle-collect='*request_reply*'`).
#[inline(never)]
fn request_reply(
    p: &mut Pair,
    pairs: &[(TcpHandle, TcpHandle)],
    until: Until,
) -> Result<(u64, u64)> {
    let req = [b'r'; 64];
    let mut buf = [0u8; 64];
    let frames0 = p.a.tx.borrow().count + p.b.tx.borrow().count;
    let mut next = 0usize;
    let mut done = 0u64;
    let mut exchanges = 0u64;
    loop {
        let batch = pipe::round_robin(&mut next, pairs.len());
        exchanges += batch.len() as u64;
        for &i in &batch {
            p.a.stack.tcp_send(pairs[i].0, &req)?;
        }
        p.settle();
        for &i in &batch {
            let s = pairs[i].1;
            if p.b.stack.tcp_recv(s, &mut buf)? != 64 {
                bail!("strata many: request lost");
            }
            p.b.stack.tcp_send(s, &buf)?;
        }
        p.settle();
        for &i in &batch {
            if p.a.stack.tcp_recv(pairs[i].0, &mut buf)? != 64 {
                bail!("strata many: reply lost");
            }
        }
        done += 1;
        let stop = match until {
            Until::Elapsed(t0, budget) => t0.elapsed() >= budget,
            Until::Batches(b) => done >= b,
        };
        if stop {
            break;
        }
    }
    let frames = p.a.tx.borrow().count + p.b.tx.borrow().count - frames0;
    Ok((frames, exchanges))
}

/// `WouldBlock` as "nothing now" (0 bytes).
fn would_block(r: Result<usize, TcpError>) -> Result<usize> {
    match r {
        Err(TcpError::WouldBlock) => Ok(0),
        r => Ok(r?),
    }
}

/// Opens `n` connections (client ports 10000.., server ports 5001.. with at
/// most 50 000 per server port).
fn open_many(p: &mut Pair, n: usize) -> Result<Vec<(TcpHandle, TcpHandle)>> {
    let per_port = 50_000;
    let listeners: Vec<ListenerHandle> = (0..n.div_ceil(per_port))
        .map(|k| p.listen(PORT + k as u16))
        .collect::<Result<_>>()?;
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let port = PORT + (i / per_port) as u16;
        clients.push(p.connect(10_000 + (i % per_port) as u16, port)?);
        if i == 0 || i % 64 == 63 || i + 1 == n {
            p.settle();
        }
    }
    p.settle();
    let mut pairs = Vec::with_capacity(n);
    for (i, c) in clients.into_iter().enumerate() {
        let s = p.accept(listeners[i / per_port]).map_err(|e| {
            anyhow::anyhow!(
                "{e} (client {i} is {:?}, {:?})",
                p.a.stack.tcp_state(c),
                p.a.stack.tcp().info(c)
            )
        })?;
        pairs.push((c, s));
    }
    // Accept order equals connect order per listener (FIFO accept queue).
    for &(c, s) in &pairs {
        let (cl, sr) = (
            p.a.stack.tcp().local_addr(c)?,
            p.b.stack.tcp().remote_addr(s)?,
        );
        if cl != sr {
            bail!("strata: accept order differs from connect order ({cl} vs {sr})");
        }
    }
    Ok(pairs)
}
