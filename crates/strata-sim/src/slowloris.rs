//! The slow-client scenario behind `strata sim slowloris` (issue 15): a
//! small HTTP server on 10.0.0.1:80 while attackers on the same LAN hold
//! connections open as slowly as they can, and a real client keeps
//! fetching a page.
//!
//! - Attackers (`attackers` connections spread over `attacker_hosts`
//!   addresses) come in three kinds, in turn: *slowloris* clients send a
//!   request head a header line every few seconds and never finish it;
//!   *zero-window* clients ask for a large file and never read (their
//!   receive buffer is the smallest, so their window shuts at once and
//!   they answer every probe); *slow readers* ask for it and read a byte a
//!   minute. Whenever the server drops one, it comes back a second later.
//! - The legitimate client fetches a small page every `legit_gap`, from
//!   `legit_start` on; a fetch succeeds when the whole page has arrived
//!   within `deadline`.
//! - The server's defences ([`Defences`]): a header-read timeout, an idle
//!   timeout, a request-size cap, a global and a per-client connection cap,
//!   the TCP user timeout (RFC 9293 §3.8.3) and the stack-wide TCP memory
//!   budget ([`TcpMem`]). Without them only the global cap (the server's
//!   descriptor limit) remains.
//!
//! Virtual time, deterministic by seed: every host is a strata stack on
//! one shared segment with `rtt / 2` each way.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::SocketAddrV4;

use strata::link::IfaceId;
use strata::stack::{Event, Stack, StackConfig};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{ListenerHandle, TcpEvent, TcpHandle, TcpMem, TcpStats};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::{Ipv4Addr, MacAddr};

use crate::rng::Rng;

/// The server's address.
pub const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The legitimate client's address.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 80;
/// The page the legitimate client fetches.
const PAGE: usize = 16 * 1024;
/// The file the reading attackers ask for.
const BIG: usize = 1024 * 1024;

/// The server's defences.
#[derive(Debug, Clone)]
pub struct Defences {
    /// Close a connection whose request head is not complete this long
    /// after it was accepted.
    pub header_timeout: Option<Duration>,
    /// Close a connection on which no byte moved for this long.
    pub idle_timeout: Option<Duration>,
    /// Largest request head; a larger one is answered 431 and closed.
    pub max_request: Option<usize>,
    /// Most connections one client address may hold.
    pub max_per_client: Option<usize>,
    /// The TCP user timeout of every connection.
    pub user_timeout: Option<Duration>,
    /// The stack's TCP memory budget.
    pub mem: TcpMem,
}

impl Defences {
    /// The defences on, with `strata serve --http`'s defaults where it has
    /// the same option.
    pub fn on() -> Defences {
        Defences {
            header_timeout: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(60)),
            max_request: Some(64 * 1024),
            max_per_client: Some(32),
            user_timeout: Some(Duration::from_secs(30)),
            mem: TcpMem {
                low: 8 << 20,
                pressure: 12 << 20,
                high: 16 << 20,
            },
        }
    }

    /// None of them.
    pub fn off() -> Defences {
        Defences {
            header_timeout: None,
            idle_timeout: None,
            max_request: None,
            max_per_client: None,
            user_timeout: None,
            mem: TcpMem::UNLIMITED,
        }
    }
}

/// The settings of a run.
#[derive(Debug, Clone)]
pub struct SlowlorisOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// The server's defences.
    pub defences: Defences,
    /// Connections the server serves at once (its descriptor limit).
    pub max_connections: usize,
    /// Attacking connections, kept open all the time.
    pub attackers: usize,
    /// Addresses they come from.
    pub attacker_hosts: usize,
    /// Round-trip time between hosts.
    pub rtt: Duration,
    /// How long the attack lasts.
    pub duration: Duration,
    /// When the legitimate client starts fetching.
    pub legit_start: Duration,
    /// Time between two legitimate fetches.
    pub legit_gap: Duration,
    /// A fetch not complete this long after it started has failed.
    pub deadline: Duration,
}

impl Default for SlowlorisOptions {
    fn default() -> Self {
        SlowlorisOptions {
            seed: 1,
            defences: Defences::on(),
            max_connections: 512,
            attackers: 600,
            attacker_hosts: 8,
            rtt: Duration::from_millis(10),
            duration: Duration::from_secs(90),
            legit_start: Duration::from_secs(10),
            legit_gap: Duration::from_millis(400),
            deadline: Duration::from_secs(5),
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct SlowlorisReport {
    /// Legitimate fetches started.
    pub fetches: u32,
    /// Of them, complete within the deadline.
    pub fetches_ok: u32,
    /// Attacking connections opened (reconnections included).
    pub attack_connections: u64,
    /// Most connections the server held at once.
    pub peak_connections: usize,
    /// Most TCP buffer memory the server's engine held at once.
    pub peak_tcp_memory: usize,
    /// Connections closed by the header-read timeout.
    pub header_timeouts: u64,
    /// Connections closed by the idle timeout.
    pub idle_timeouts: u64,
    /// Request heads refused by the size cap.
    pub too_large: u64,
    /// Connections refused at the global cap.
    pub refused_cap: u64,
    /// Connections refused at the per-client cap.
    pub refused_per_client: u64,
    /// The server's TCP counters.
    pub stats: TcpStats,
}

impl SlowlorisReport {
    /// Fraction of legitimate fetches that completed.
    pub fn success(&self) -> f64 {
        f64::from(self.fetches_ok) / f64::from(self.fetches.max(1))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Slowloris,
    ZeroWindow,
    SlowReader,
}

/// A server-side connection.
#[derive(Debug)]
struct Served {
    client: Ipv4Addr,
    accepted: Instant,
    last_moved: Instant,
    head: Vec<u8>,
    /// Response bytes left to write (`None` while reading the head).
    left: Option<usize>,
}

/// An attacking connection (on host `host`).
#[derive(Debug, Clone, Copy)]
struct Attack {
    kind: Kind,
    slot: usize,
    next: Instant,
}

type InFlight = Reverse<(Instant, u64, usize, Vec<u8>)>;

/// A prepared run.
pub struct Slowloris {
    opts: SlowlorisOptions,
    /// 0: server, 1: legitimate client, 2..: attackers.
    hosts: Vec<Stack>,
    macs: Vec<MacAddr>,
    listener: ListenerHandle,
    rng: Rng,
    now: Instant,
    wire: BinaryHeap<InFlight>,
    wire_seq: u64,
    served: BTreeMap<TcpHandle, Served>,
    per_client: HashMap<Ipv4Addr, usize>,
    /// Attacking connections by (host, handle).
    attacks: BTreeMap<(usize, TcpHandle), Attack>,
    /// Attack slots waiting to reconnect: (when, slot).
    reconnect: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Legitimate fetches: handle → (start, bytes received).
    fetches: BTreeMap<TcpHandle, (Instant, usize)>,
    buf: Vec<u8>,
    report: SlowlorisReport,
}

impl core::fmt::Debug for Slowloris {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Slowloris")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

fn host(seed: u64, i: usize, ip: Ipv4Addr, d: Option<&Defences>) -> (Stack, MacAddr) {
    let mut cfg = StackConfig {
        seed: seed ^ (i as u64).wrapping_mul(0x9e37_79b9),
        ..StackConfig::default()
    };
    if let Some(d) = d {
        cfg.tcp.user_timeout = d.user_timeout;
        cfg.tcp.mem = d.mem;
        cfg.tcp.syn_backlog = 1024;
    }
    let mac = MacAddr([2, 0, 0, 0, (i >> 8) as u8, (i as u8).wrapping_add(1)]);
    let mut s = Stack::new(cfg);
    let iface = s.add_interface(mac, 1500);
    s.add_address(iface, Ipv4Cidr::new(ip, 16).expect("valid"))
        .expect("fresh");
    (s, mac)
}

impl Slowloris {
    /// Builds the hosts.
    pub fn new(opts: &SlowlorisOptions) -> Self {
        let mut hosts = Vec::new();
        let mut macs = Vec::new();
        let (s, m) = host(opts.seed, 0, SERVER, Some(&opts.defences));
        hosts.push(s);
        macs.push(m);
        let (c, m) = host(opts.seed, 1, CLIENT, None);
        hosts.push(c);
        macs.push(m);
        for a in 0..opts.attacker_hosts.max(1) {
            let ip = Ipv4Addr::new(10, 0, 1, a as u8 + 1);
            let (s, m) = host(opts.seed, 2 + a, ip, None);
            hosts.push(s);
            macs.push(m);
        }
        let listener = hosts[0].tcp_listen(None, PORT, 1024).expect("free port");
        let mut reconnect = BinaryHeap::new();
        // The attack ramps up over its first two seconds.
        for slot in 0..opts.attackers {
            let at = Instant::ZERO
                + Duration::from_nanos(2_000_000_000 * slot as u64 / opts.attackers.max(1) as u64);
            reconnect.push(Reverse((at, slot)));
        }
        Slowloris {
            opts: opts.clone(),
            hosts,
            macs,
            listener,
            rng: Rng::new(opts.seed),
            now: Instant::ZERO,
            wire: BinaryHeap::new(),
            wire_seq: 0,
            served: BTreeMap::new(),
            per_client: HashMap::new(),
            attacks: BTreeMap::new(),
            reconnect,
            fetches: BTreeMap::new(),
            buf: vec![0; 2048],
            report: SlowlorisReport::default(),
        }
    }

    fn kind_of(slot: usize) -> Kind {
        match slot % 3 {
            0 => Kind::Slowloris,
            1 => Kind::ZeroWindow,
            _ => Kind::SlowReader,
        }
    }

    fn attacker_host(&self, slot: usize) -> usize {
        2 + slot % self.opts.attacker_hosts.max(1)
    }

    fn server_addr() -> SocketAddrV4 {
        SocketAddrV4::new(SERVER, PORT)
    }

    /// Opens attack slot `slot`'s connection.
    fn attack(&mut self, slot: usize) {
        let hi = self.attacker_host(slot);
        let kind = Self::kind_of(slot);
        let now = self.now;
        let Ok(h) = self.hosts[hi].tcp_connect(now, Self::server_addr()) else {
            self.reconnect
                .push(Reverse((now + Duration::from_secs(1), slot)));
            return;
        };
        if kind != Kind::Slowloris {
            // The smallest receive buffer: the window shuts at once.
            let _ = self.hosts[hi].tcp_set_buffer_limits(h, Some(2048), None);
        }
        self.report.attack_connections += 1;
        self.attacks.insert(
            (hi, h),
            Attack {
                kind,
                slot,
                next: Instant::MAX,
            },
        );
    }

    /// An attacking connection ended: its slot comes back a second later.
    fn attack_ended(&mut self, hi: usize, h: TcpHandle) {
        if let Some(a) = self.attacks.remove(&(hi, h)) {
            let now = self.now;
            let _ = self.hosts[hi].tcp_abort(now, h);
            self.reconnect
                .push(Reverse((now + Duration::from_secs(1), a.slot)));
        }
    }

    fn send(&mut self, to: usize, frame: Vec<u8>) {
        // A little jitter keeps the hosts from moving in lockstep.
        let jitter = Duration::from_micros(self.rng.next_u64() % 50);
        let at = self.now + self.opts.rtt / 2 + jitter;
        self.wire_seq += 1;
        self.wire.push(Reverse((at, self.wire_seq, to, frame)));
    }

    /// The server application answers what arrived on `h`.
    fn serve_read(&mut self, h: TcpHandle) {
        let now = self.now;
        let d = self.opts.defences.clone();
        let Some(s) = self.served.get_mut(&h) else {
            return;
        };
        let mut buf = [0u8; 2048];
        while let Ok(n) = self.hosts[0].tcp_recv(h, &mut buf) {
            if n == 0 {
                break;
            }
            s.last_moved = now;
            if s.left.is_none() {
                s.head.extend_from_slice(&buf[..n]);
            }
        }
        if s.left.is_some() {
            return;
        }
        if let Some(end) = s.head.windows(4).position(|w| w == b"\r\n\r\n") {
            let big = s.head[..end].starts_with(b"GET /big");
            let len = if big { BIG } else { PAGE };
            let header =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
            s.left = Some(len);
            s.head = Vec::new();
            let _ = self.hosts[0].tcp_send(h, header.as_bytes());
            self.serve_write(h);
        } else if d.max_request.is_some_and(|m| s.head.len() > m) {
            self.report.too_large += 1;
            let _ =
                self.hosts[0].tcp_send(h, b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n");
            self.drop_served(h, false);
        }
    }

    /// The server application writes what it can of the response.
    fn serve_write(&mut self, h: TcpHandle) {
        let now = self.now;
        let Some(s) = self.served.get_mut(&h) else {
            return;
        };
        let Some(left) = s.left.as_mut() else {
            return;
        };
        let chunk = [b'x'; 8192];
        while *left > 0 {
            match self.hosts[0].tcp_send(h, &chunk[..(*left).min(chunk.len())]) {
                Ok(n) => {
                    *left -= n;
                    s.last_moved = now;
                }
                Err(_) => break,
            }
        }
        if *left == 0 {
            self.drop_served(h, false);
        }
    }

    /// The server is done with `h`: closed (its data still goes out) or
    /// aborted.
    fn drop_served(&mut self, h: TcpHandle, abort: bool) {
        if let Some(s) = self.served.remove(&h) {
            if let Some(c) = self.per_client.get_mut(&s.client) {
                *c = c.saturating_sub(1);
            }
        }
        let now = self.now;
        if abort {
            let _ = self.hosts[0].tcp_abort(now, h);
        } else {
            let _ = self.hosts[0].tcp_close(now, h);
        }
    }

    fn accept_all(&mut self) {
        let now = self.now;
        while let Ok(h) = self.hosts[0].tcp_accept(self.listener) {
            let client = self.hosts[0]
                .tcp()
                .remote_addr(h)
                .map_or(Ipv4Addr::UNSPECIFIED, |a| *a.ip());
            let per = self.per_client.get(&client).copied().unwrap_or(0);
            if self.served.len() >= self.opts.max_connections {
                self.report.refused_cap += 1;
                let _ = self.hosts[0].tcp_abort(now, h);
                continue;
            }
            if self.opts.defences.max_per_client.is_some_and(|m| per >= m) {
                self.report.refused_per_client += 1;
                let _ = self.hosts[0].tcp_abort(now, h);
                continue;
            }
            *self.per_client.entry(client).or_default() += 1;
            self.served.insert(
                h,
                Served {
                    client,
                    accepted: now,
                    last_moved: now,
                    head: Vec::new(),
                    left: None,
                },
            );
            self.serve_read(h);
        }
    }

    /// Drains every host's output onto the wire and handles events.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.hosts.len() {
                while let Some((_, n)) = self.hosts[i].poll_transmit(self.now, &mut self.buf) {
                    moved = true;
                    let f = self.buf[..n].to_vec();
                    let dst = MacAddr([f[0], f[1], f[2], f[3], f[4], f[5]]);
                    if dst == MacAddr::BROADCAST {
                        for j in 0..self.hosts.len() {
                            if j != i {
                                self.send(j, f.clone());
                            }
                        }
                    } else if let Some(j) = self.macs.iter().position(|m| *m == dst) {
                        self.send(j, f);
                    }
                }
            }
            while let Some(e) = self.hosts[0].poll_event() {
                moved = true;
                let Event::Tcp(e) = e else { continue };
                match e {
                    TcpEvent::Acceptable { .. } => self.accept_all(),
                    TcpEvent::Readable(h) => self.serve_read(h),
                    TcpEvent::Writable(h) => self.serve_write(h),
                    TcpEvent::PeerClosed(h)
                        if self.served.get(&h).is_some_and(|s| s.left.is_none()) =>
                    {
                        self.drop_served(h, false);
                    }
                    TcpEvent::Reset(h) | TcpEvent::TimedOut(h) => {
                        self.drop_served(h, true);
                    }
                    _ => {}
                }
            }
            while let Some(e) = self.hosts[1].poll_event() {
                moved = true;
                let Event::Tcp(e) = e else { continue };
                self.client_event(e);
            }
            for hi in 2..self.hosts.len() {
                while let Some(e) = self.hosts[hi].poll_event() {
                    moved = true;
                    let Event::Tcp(e) = e else { continue };
                    self.attacker_event(hi, e);
                }
            }
            if !moved {
                break;
            }
        }
        let t = self.hosts[0].tcp();
        self.report.peak_connections = self.report.peak_connections.max(t.connection_count());
        self.report.peak_tcp_memory = self.report.peak_tcp_memory.max(t.memory().peak);
    }

    fn client_event(&mut self, e: TcpEvent) {
        let now = self.now;
        match e {
            TcpEvent::Connected(h) => {
                let _ = self.hosts[1].tcp_send(h, b"GET /page HTTP/1.1\r\nHost: s\r\n\r\n");
            }
            TcpEvent::Readable(h) => {
                let mut buf = [0u8; 4096];
                let mut total = 0;
                while let Ok(n) = self.hosts[1].tcp_recv(h, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    total += n;
                }
                if let Some(f) = self.fetches.get_mut(&h) {
                    f.1 += total;
                    if f.1 >= PAGE {
                        // The head plus the whole page: done.
                        self.report.fetches_ok += 1;
                        self.fetches.remove(&h);
                        let _ = self.hosts[1].tcp_close(now, h);
                    }
                }
            }
            TcpEvent::Reset(h)
            | TcpEvent::TimedOut(h)
            | TcpEvent::Refused(h)
            | TcpEvent::PeerClosed(h)
                if self.fetches.remove(&h).is_some() =>
            {
                let _ = self.hosts[1].tcp_abort(now, h);
            }
            _ => {}
        }
    }

    fn attacker_event(&mut self, hi: usize, e: TcpEvent) {
        let now = self.now;
        match e {
            TcpEvent::Connected(h) => {
                let Some(a) = self.attacks.get_mut(&(hi, h)) else {
                    return;
                };
                match a.kind {
                    Kind::Slowloris => {
                        let _ = self.hosts[hi].tcp_send(h, b"GET / HTTP/1.1\r\nHost: s\r\n");
                        a.next = now + Duration::from_secs(5);
                    }
                    Kind::ZeroWindow => {
                        let _ = self.hosts[hi].tcp_send(h, b"GET /big HTTP/1.1\r\nHost: s\r\n\r\n");
                    }
                    Kind::SlowReader => {
                        let _ = self.hosts[hi].tcp_send(h, b"GET /big HTTP/1.1\r\nHost: s\r\n\r\n");
                        a.next = now + Duration::from_secs(60);
                    }
                }
            }
            TcpEvent::Reset(h)
            | TcpEvent::TimedOut(h)
            | TcpEvent::Refused(h)
            | TcpEvent::PeerClosed(h)
            | TcpEvent::Unreachable { handle: h, .. } => self.attack_ended(hi, h),
            _ => {}
        }
    }

    /// Attackers' scheduled moves: a header line, a byte read.
    fn attackers_tick(&mut self) {
        let now = self.now;
        let due: Vec<((usize, TcpHandle), Attack)> = self
            .attacks
            .iter()
            .filter(|(_, a)| a.next <= now)
            .map(|(k, a)| (*k, *a))
            .collect();
        for ((hi, h), a) in due {
            let next = match a.kind {
                Kind::Slowloris => {
                    let _ = self.hosts[hi].tcp_send(h, b"X-a: b\r\n");
                    now + Duration::from_secs(5)
                }
                Kind::SlowReader => {
                    let mut one = [0u8; 1];
                    let _ = self.hosts[hi].tcp_recv(h, &mut one);
                    now + Duration::from_secs(60)
                }
                Kind::ZeroWindow => Instant::MAX,
            };
            if let Some(x) = self.attacks.get_mut(&(hi, h)) {
                x.next = next;
            }
        }
    }

    /// The server's timeouts.
    fn server_tick(&mut self) {
        let now = self.now;
        let d = &self.opts.defences;
        let mut header = Vec::new();
        let mut idle = Vec::new();
        for (h, s) in &self.served {
            if s.left.is_none()
                && d.header_timeout
                    .is_some_and(|t| now.saturating_duration_since(s.accepted) >= t)
            {
                header.push(*h);
            } else if d
                .idle_timeout
                .is_some_and(|t| now.saturating_duration_since(s.last_moved) >= t)
            {
                idle.push(*h);
            }
        }
        self.report.header_timeouts += header.len() as u64;
        self.report.idle_timeouts += idle.len() as u64;
        for h in header.into_iter().chain(idle) {
            self.drop_served(h, true);
        }
    }

    /// Runs the scenario.
    pub fn run(&mut self) -> SlowlorisReport {
        let o = self.opts.clone();
        let end = Instant::ZERO + o.duration;
        let legit_end = end - o.deadline;
        let mut next_fetch = Instant::ZERO + o.legit_start;
        let tick = Duration::from_millis(100);
        let mut next_tick = Instant::ZERO;
        loop {
            let mut t = end.min(next_tick);
            if next_fetch < legit_end {
                t = t.min(next_fetch);
            }
            if let Some(Reverse((at, _))) = self.reconnect.peek() {
                t = t.min(*at);
            }
            if let Some(Reverse((at, ..))) = self.wire.peek() {
                t = t.min(*at);
            }
            for s in &self.hosts {
                if let Some(d) = s.poll_timeout() {
                    t = t.min(d.max(self.now));
                }
            }
            if t >= end {
                break;
            }
            self.now = t;
            while let Some(Reverse((at, slot))) = self.reconnect.peek().copied() {
                if at > t {
                    break;
                }
                self.reconnect.pop();
                self.attack(slot);
            }
            if next_fetch <= t && next_fetch < legit_end {
                self.report.fetches += 1;
                if let Ok(h) = self.hosts[1].tcp_connect(t, Self::server_addr()) {
                    self.fetches.insert(h, (t, 0));
                }
                next_fetch += o.legit_gap;
            }
            while let Some(Reverse((at, ..))) = self.wire.peek() {
                if *at > t {
                    break;
                }
                let Some(Reverse((_, _, to, f))) = self.wire.pop() else {
                    break;
                };
                self.hosts[to].receive(t, IfaceId(0), &f);
            }
            for s in &mut self.hosts {
                if s.poll_timeout().is_some_and(|d| d <= t) {
                    s.handle_timeout(t);
                }
            }
            if next_tick <= t {
                next_tick = t + tick;
                self.attackers_tick();
                self.server_tick();
                let late: Vec<TcpHandle> = self
                    .fetches
                    .iter()
                    .filter(|(_, f)| t.saturating_duration_since(f.0) > o.deadline)
                    .map(|(h, _)| *h)
                    .collect();
                for h in late {
                    self.fetches.remove(&h);
                    let _ = self.hosts[1].tcp_abort(t, h);
                }
            }
            self.settle();
        }
        self.report.stats = self.hosts[0].tcp_stats().clone();
        self.report.clone()
    }
}

/// Builds and runs one scenario.
pub fn slowloris(opts: &SlowlorisOptions) -> SlowlorisReport {
    Slowloris::new(opts).run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(defences: Defences) -> SlowlorisOptions {
        SlowlorisOptions {
            defences,
            max_connections: 96,
            attackers: 120,
            attacker_hosts: 4,
            duration: Duration::from_secs(40),
            legit_start: Duration::from_secs(5),
            legit_gap: Duration::from_millis(500),
            ..SlowlorisOptions::default()
        }
    }

    #[test]
    fn with_defences_legitimate_fetches_succeed_and_memory_stays_bounded() {
        let mut d = Defences::on();
        d.max_per_client = Some(8);
        let r = slowloris(&small(d));
        assert!(r.fetches > 50);
        assert!(r.success() >= 0.99, "{r:?}");
        assert!(r.refused_per_client > 0);
    }

    #[test]
    fn without_defences_the_attackers_take_every_slot() {
        let r = slowloris(&small(Defences::off()));
        assert!(r.success() < 0.5, "{r:?}");
        assert!(r.refused_cap > 0);
    }

    #[test]
    fn runs_replay_by_seed() {
        let a = slowloris(&small(Defences::on()));
        let b = slowloris(&small(Defences::on()));
        assert_eq!(
            (a.fetches_ok, a.peak_tcp_memory, a.attack_connections),
            (b.fetches_ok, b.peak_tcp_memory, b.attack_connections)
        );
    }
}
