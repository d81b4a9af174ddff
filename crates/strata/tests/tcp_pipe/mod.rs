//! A two-host test pipe for the TCP engine: virtual time, latency and
//! seeded faults (loss, duplication, reordering), shared by the
//! `tcp_*` scenario tests.
#![allow(dead_code, missing_docs)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{
    ListenerHandle, State, Tcp, TcpConfig, TcpError, TcpEvent, TcpHandle,
};
use strata::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};

/// An owned copy of a segment in flight.
#[derive(Debug, Clone)]
pub struct Seg {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
}

impl Seg {
    pub fn from_repr(src: Ipv4Addr, dst: Ipv4Addr, r: &TcpRepr<'_>) -> Self {
        Seg {
            src,
            dst,
            src_port: r.src_port,
            dst_port: r.dst_port,
            seq: r.seq,
            ack: r.ack,
            flags: r.flags,
            window: r.window,
            options: r.options,
            payload: r.payload.to_vec(),
        }
    }
    pub fn repr(&self) -> TcpRepr<'_> {
        TcpRepr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            urgent: 0,
            options: self.options,
            payload: &self.payload,
        }
    }
}

/// One line of the capture: time, sending host, segment.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: Instant,
    pub from: usize,
    pub seg: Seg,
    pub dropped: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub loss: f64,
    pub dup: f64,
    pub reorder: f64,
}

/// Drop predicate: (sending host, segment) → drop?
pub type Filter = Box<dyn FnMut(usize, &Seg) -> bool>;

pub struct Net {
    pub now: Instant,
    pub hosts: Vec<Tcp>,
    pub ips: [Ipv4Addr; 2],
    pub latency: Duration,
    pub faults: Faults,
    rng: u64,
    queue: BTreeMap<(Instant, u64), (usize, Seg)>,
    counter: u64,
    pub log: Vec<Sent>,
    pub events: [Vec<(Instant, TcpEvent)>; 2],
    /// A host that is "down" drops everything it would receive or send.
    pub down: [bool; 2],
    /// Drop segments from host i for which this returns true.
    pub filter: Option<Filter>,
    /// Keep a capture of every segment in `log` (on by default).
    pub record: bool,
}

pub const A: usize = 0;
pub const B: usize = 1;

impl Net {
    pub fn new(cfg_a: TcpConfig, cfg_b: TcpConfig, seed: u64) -> Self {
        Net {
            now: Instant::from_secs(1),
            hosts: vec![Tcp::new(cfg_a, seed), Tcp::new(cfg_b, seed.wrapping_add(1))],
            ips: [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)],
            latency: Duration::from_millis(10),
            faults: Faults::default(),
            rng: seed | 1,
            queue: BTreeMap::new(),
            counter: 0,
            log: Vec::new(),
            events: [Vec::new(), Vec::new()],
            down: [false, false],
            filter: None,
            record: true,
        }
    }

    pub fn default_pair(seed: u64) -> Self {
        Self::new(TcpConfig::default(), TcpConfig::default(), seed)
    }

    pub fn addr(&self, host: usize, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(self.ips[host], port)
    }

    pub fn listen(&mut self, host: usize, port: u16, backlog: usize) -> ListenerHandle {
        let a = self.addr(host, port);
        self.hosts[host].listen(a, backlog).unwrap()
    }

    pub fn connect(&mut self, host: usize, lport: u16, rport: u16) -> Result<TcpHandle, TcpError> {
        let (l, r) = (self.addr(host, lport), self.addr(1 - host, rport));
        let now = self.now;
        self.hosts[host].connect(now, l, r)
    }

    /// A connects from port 40000 to B's listener on port 80; returns
    /// (A's connection, B's accepted one), both established.
    pub fn connect_pair(&mut self) -> (TcpHandle, TcpHandle) {
        let l = self.listen(B, 80, 8);
        let c = self.connect(A, 40000, 80).unwrap();
        self.run_while(Duration::from_secs(5), |n| {
            n.hosts[A].state(c) != State::Established
        });
        self.run_for(Duration::from_millis(50));
        let s = self.hosts[B].accept(l).expect("accepted");
        assert_eq!(self.hosts[B].state(s), State::Established);
        (c, s)
    }

    pub fn shutdown(&mut self, host: usize, h: TcpHandle) {
        let now = self.now;
        self.hosts[host].shutdown_write(now, h).unwrap();
    }

    pub fn close(&mut self, host: usize, h: TcpHandle) {
        let now = self.now;
        self.hosts[host].close(now, h).unwrap();
    }

    pub fn abort(&mut self, host: usize, h: TcpHandle) {
        let now = self.now;
        self.hosts[host].abort(now, h).unwrap();
    }

    fn rand(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    fn enqueue(&mut self, to: usize, at: Instant, seg: Seg) {
        self.counter += 1;
        self.queue.insert((at, self.counter), (to, seg));
    }

    /// Poll both hosts for segments and events.
    pub fn flush(&mut self) {
        for h in 0..2 {
            loop {
                let now = self.now;
                let Some(seg) = self.hosts[h].poll_transmit(now, Seg::from_repr) else {
                    break;
                };
                let mut dropped = self.down[h];
                if let Some(f) = self.filter.as_mut() {
                    if f(h, &seg) {
                        dropped = true;
                    }
                }
                if !dropped && self.faults.loss > 0.0 && self.rand() < self.faults.loss {
                    dropped = true;
                }
                if self.record {
                    self.log.push(Sent {
                        at: now,
                        from: h,
                        seg: seg.clone(),
                        dropped,
                    });
                }
                if dropped {
                    continue;
                }
                let mut at = now + self.latency;
                if self.faults.reorder > 0.0 && self.rand() < self.faults.reorder {
                    at += Duration::from_micros((self.rand() * 20_000.0) as u64);
                }
                if self.faults.dup > 0.0 && self.rand() < self.faults.dup {
                    self.enqueue(1 - h, at + Duration::from_micros(100), seg.clone());
                }
                self.enqueue(1 - h, at, seg);
            }
            while let Some(e) = self.hosts[h].poll_event() {
                self.events[h].push((self.now, e));
            }
        }
    }

    fn next_time(&self) -> Option<Instant> {
        let q = self.queue.keys().next().map(|&(t, _)| t);
        [
            q,
            self.hosts[0].poll_timeout(),
            self.hosts[1].poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Advance to the next thing that happens, if it is not after `limit`.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.flush();
        let Some(t) = self.next_time() else {
            return false;
        };
        if t > limit {
            return false;
        }
        self.now = self.now.max(t);
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let (to, seg) = entry.remove();
            if !self.down[to] {
                let r = seg.repr();
                self.hosts[to].handle_segment(self.now, seg.src, seg.dst, &r);
            }
            self.flush();
        }
        for h in 0..2 {
            if self.hosts[h].poll_timeout().is_some_and(|t| t <= self.now) {
                self.hosts[h].handle_timeout(self.now);
            }
        }
        self.flush();
        true
    }

    /// Run until `limit` (virtual time), or until nothing is left to do.
    pub fn run_until(&mut self, limit: Instant) {
        let mut n = 0u64;
        while self.step(limit) {
            n += 1;
            assert!(n < 50_000_000, "runaway simulation");
        }
        self.now = self.now.max(limit);
    }

    pub fn run_for(&mut self, d: Duration) {
        let limit = self.now + d;
        self.run_until(limit);
    }

    /// Run until `cond` holds (checked after each step), at most `max` time.
    pub fn run_while(&mut self, max: Duration, mut cond: impl FnMut(&mut Net) -> bool) -> bool {
        let limit = self.now + max;
        let mut n = 0u64;
        loop {
            if !cond(self) {
                return true;
            }
            if !self.step(limit) {
                return !cond(self);
            }
            n += 1;
            assert!(n < 50_000_000, "runaway simulation");
        }
    }

    pub fn has_event(&self, host: usize, f: impl Fn(&TcpEvent) -> bool) -> bool {
        self.events[host].iter().any(|(_, e)| f(e))
    }

    /// Print the capture (for debugging failing tests).
    pub fn dump(&self) {
        for s in &self.log {
            eprintln!(
                "{} {}->{} {:?} seq={} ack={} win={} len={}{}",
                s.at,
                if s.from == 0 { "A" } else { "B" },
                if s.from == 0 { "B" } else { "A" },
                s.seg.flags,
                s.seg.seq,
                s.seg.ack,
                s.seg.window,
                s.seg.payload.len(),
                if s.dropped { " DROPPED" } else { "" }
            );
        }
    }

    /// Segments sent by `host` (not counting those the pipe dropped).
    pub fn sent_by(&self, host: usize) -> impl Iterator<Item = &Sent> {
        self.log.iter().filter(move |s| s.from == host)
    }
}
