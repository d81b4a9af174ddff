//! The SYN-flood scenario behind `strata sim synflood` (issue 15): a server
//! on 10.0.0.1 listens on port 80 while an attacker sends it SYNs from
//! spoofed sources far faster than its SYN queue can hold them, and a real
//! client on the same LAN keeps opening connections.
//!
//! - The flood runs at `flood_factor` × the SYN queue's length per RTT
//!   (100× by default) from random addresses of 198.18.0.0/15 (off-link:
//!   the server's answers go to the gateway and are lost, as on the
//!   Internet), random ports and sequence numbers.
//! - The client opens connections, evenly spread, from the start of the
//!   flood until `deadline` before its end (so each one's whole chance
//!   falls inside the flood), and more in the period after it; a handshake
//!   succeeds when the client reaches ESTABLISHED within `deadline` (SYN
//!   retransmissions included).
//! - The server accepts every connection and closes it, as a server whose
//!   application keeps up would.
//!
//! Everything runs in virtual time, deterministic by seed: the server and
//! the client are two strata stacks joined by a wire of `rtt / 2` each
//! way; the attacker and the gateway are frames this module writes.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use strata::link::IfaceId;
use strata::stack::{Event, Stack, StackConfig};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{TcpEvent, TcpHandle, TcpStats};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::tcp::TcpRepr;
use strata::wire::{Ipv4Addr, MacAddr};

use crate::rng::Rng;
use crate::traffic::frames;

/// The server's address.
pub const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The real client's address.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The gateway behind which the spoofed sources live.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);
const SERVER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const CLIENT_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
const GATEWAY_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xfe]);
const PORT: u16 = 80;

/// The settings of a run.
#[derive(Debug, Clone)]
pub struct SynFloodOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// SYN cookies on the server ([`strata::transport::tcp::TcpConfig::syn_cookies`]).
    pub cookies: bool,
    /// The listener's SYN queue (half-open connections).
    pub syn_backlog: usize,
    /// The listener's accept queue.
    pub backlog: usize,
    /// Round-trip time between every pair of hosts.
    pub rtt: Duration,
    /// Spoofed SYNs per RTT, as a multiple of `syn_backlog`.
    pub flood_factor: u32,
    /// How long the flood lasts.
    pub flood: Duration,
    /// Handshakes the client starts during the flood (evenly spread over
    /// its first `flood − deadline`).
    pub clients: u32,
    /// Handshakes the client starts after the flood, evenly over `after`.
    pub clients_after: u32,
    /// The period after the flood.
    pub after: Duration,
    /// A handshake that has not completed this long after it started has
    /// failed (the client gives up).
    pub deadline: Duration,
}

impl Default for SynFloodOptions {
    fn default() -> Self {
        SynFloodOptions {
            seed: 1,
            cookies: true,
            syn_backlog: 64,
            backlog: 128,
            rtt: Duration::from_millis(20),
            flood_factor: 100,
            flood: Duration::from_secs(3),
            clients: 200,
            clients_after: 100,
            after: Duration::from_secs(1),
            deadline: Duration::from_secs(2),
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct SynFloodReport {
    /// Spoofed SYNs sent.
    pub spoofed_syns: u64,
    /// Handshakes started during the flood.
    pub during: u32,
    /// Of those, completed within the deadline.
    pub during_ok: u32,
    /// Of those, completed without the client retransmitting its SYN.
    pub during_first_try: u32,
    /// Handshakes started after the flood.
    pub after: u32,
    /// Of those, completed within the deadline.
    pub after_ok: u32,
    /// Handshake times (SYN sent to ESTABLISHED) of completed handshakes
    /// during the flood, sorted.
    pub handshake_times: Vec<Duration>,
    /// Most connections the server held at once (all states).
    pub peak_connections: usize,
    /// Most bytes of send and receive buffers the server held at once.
    pub peak_buffer_bytes: usize,
    /// Most TCP buffer memory the server's engine accounted at once
    /// ([`strata::transport::tcp::Tcp::memory`]).
    pub peak_tcp_memory: usize,
    /// Connections the server accepted.
    pub accepted: u64,
    /// Frames the server sent towards the spoofed sources (lost).
    pub to_spoofed: u64,
    /// The server's TCP counters at the end.
    pub stats: TcpStats,
}

impl SynFloodReport {
    /// Fraction of the handshakes during the flood that completed.
    pub fn success_during(&self) -> f64 {
        f64::from(self.during_ok) / f64::from(self.during.max(1))
    }

    /// Fraction of the handshakes after the flood that completed.
    pub fn success_after(&self) -> f64 {
        f64::from(self.after_ok) / f64::from(self.after.max(1))
    }

    /// The `p`-quantile (0..=1) of the handshake times during the flood.
    pub fn handshake_quantile(&self, p: f64) -> Option<Duration> {
        if self.handshake_times.is_empty() {
            return None;
        }
        let i = ((self.handshake_times.len() - 1) as f64 * p).round() as usize;
        self.handshake_times.get(i).copied()
    }
}

/// Where a frame in flight goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum To {
    Server,
    Client,
}

/// A frame in flight: (arrival, sequence number, destination, bytes).
type InFlight = Reverse<(Instant, u64, To, Vec<u8>)>;

/// One client handshake in progress.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    started: Instant,
    during: bool,
}

/// A prepared run.
pub struct SynFlood {
    opts: SynFloodOptions,
    server: Stack,
    client: Stack,
    listener: strata::transport::tcp::ListenerHandle,
    rng: Rng,
    now: Instant,
    /// Frames in flight: (arrival, sequence) → destination and bytes.
    wire: BinaryHeap<InFlight>,
    wire_seq: u64,
    attempts: BTreeMap<TcpHandle, Attempt>,
    buf: Vec<u8>,
    report: SynFloodReport,
}

impl core::fmt::Debug for SynFlood {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SynFlood")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

fn host(seed: u64, mac: MacAddr, ip: Ipv4Addr, cookies: bool, syn_backlog: usize) -> Stack {
    let mut cfg = StackConfig {
        seed,
        ..StackConfig::default()
    };
    cfg.tcp.syn_cookies = cookies;
    cfg.tcp.syn_backlog = syn_backlog;
    let mut s = Stack::new(cfg);
    let i = s.add_interface(mac, 1500);
    s.add_address(i, Ipv4Cidr::new(ip, 24).expect("valid"))
        .expect("fresh");
    s.set_default_gateway(GATEWAY).expect("on link");
    s
}

impl SynFlood {
    /// Builds the hosts.
    pub fn new(opts: &SynFloodOptions) -> Self {
        let mut server = host(
            opts.seed,
            SERVER_MAC,
            SERVER,
            opts.cookies,
            opts.syn_backlog,
        );
        let client = host(opts.seed ^ 0x5a5a, CLIENT_MAC, CLIENT, true, 256);
        let listener = server
            .tcp_listen(None, PORT, opts.backlog)
            .expect("free port");
        SynFlood {
            opts: opts.clone(),
            server,
            client,
            listener,
            rng: Rng::new(opts.seed),
            now: Instant::ZERO,
            wire: BinaryHeap::new(),
            wire_seq: 0,
            attempts: BTreeMap::new(),
            buf: vec![0; 2048],
            report: SynFloodReport::default(),
        }
    }

    /// The server.
    pub fn server(&self) -> &Stack {
        &self.server
    }

    fn send(&mut self, to: To, frame: Vec<u8>) {
        let at = self.now + self.opts.rtt / 2;
        self.wire_seq += 1;
        self.wire.push(Reverse((at, self.wire_seq, to, frame)));
    }

    /// A spoofed SYN from a random source behind the gateway.
    fn spoofed_syn(&mut self) -> Vec<u8> {
        let r = self.rng.next_u64();
        let src = Ipv4Addr::from_bits(0xc612_0000 | (r as u32 & 0x1_ffff));
        let port = 1024 + ((r >> 20) as u16 % 64_000);
        TcpRepr::syn(port, PORT, (r >> 32) as u32)
            .to_frame(GATEWAY_MAC, SERVER_MAC, src, SERVER)
            .expect("a SYN fits a frame")
    }

    /// Drains both stacks' output onto the wire and handles their events.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some((_, n)) = self.server.poll_transmit(self.now, &mut self.buf) {
                moved = true;
                let f = self.buf[..n].to_vec();
                let dst = MacAddr([f[0], f[1], f[2], f[3], f[4], f[5]]);
                if dst == CLIENT_MAC {
                    self.send(To::Client, f);
                } else if dst == MacAddr::BROADCAST {
                    // ARP: the gateway answers for itself, the client hears it.
                    if let Some(a) = frames::parse_arp(&f) {
                        if a.op == frames::ARP_REQUEST && a.target_ip == GATEWAY {
                            let reply = frames::arp_reply(GATEWAY_MAC, GATEWAY, SERVER_MAC, SERVER);
                            self.send(To::Server, reply);
                        }
                    }
                    self.send(To::Client, f);
                } else {
                    self.report.to_spoofed += 1;
                }
            }
            while let Some((_, n)) = self.client.poll_transmit(self.now, &mut self.buf) {
                moved = true;
                let f = self.buf[..n].to_vec();
                self.send(To::Server, f);
            }
            while let Some(e) = self.server.poll_event() {
                moved = true;
                if let Event::Tcp(TcpEvent::Acceptable { .. }) = e {
                    while let Ok(h) = self.server.tcp_accept(self.listener) {
                        self.report.accepted += 1;
                        let _ = self.server.tcp_close(self.now, h);
                    }
                }
            }
            while let Some(e) = self.client.poll_event() {
                moved = true;
                if let Event::Tcp(TcpEvent::Connected(h)) = e {
                    if let Some(a) = self.attempts.remove(&h) {
                        let first = self.client.tcp().info(h).is_ok_and(|i| i.retransmits == 0);
                        if a.during {
                            self.report.during_ok += 1;
                            self.report.during_first_try += u32::from(first);
                            self.report
                                .handshake_times
                                .push(self.now.saturating_duration_since(a.started));
                        } else {
                            self.report.after_ok += 1;
                        }
                    }
                    let _ = self.client.tcp_close(self.now, h);
                }
            }
            if !moved {
                break;
            }
        }
        let n = self.server.tcp().connection_count();
        self.report.peak_connections = self.report.peak_connections.max(n);
    }

    /// Runs the scenario: the flood with the client's handshakes during it,
    /// then the handshakes after it, until every handshake has completed or
    /// passed its deadline.
    pub fn run(&mut self) -> SynFloodReport {
        let o = self.opts.clone();
        let per_rtt = u64::from(o.flood_factor) * o.syn_backlog as u64;
        let syn_gap = Duration::from_nanos((o.rtt.as_nanos() as u64 / per_rtt.max(1)).max(1));
        let flood_end = Instant::ZERO + o.flood;
        let window = if o.flood > o.deadline {
            o.flood - o.deadline
        } else {
            o.flood
        };
        let client_gap = window / o.clients.max(1);
        let after_gap = o.after / o.clients_after.max(1);
        let end = flood_end + o.after + o.deadline + o.rtt;
        let mut next_syn = Instant::ZERO;
        let mut next_client = Instant::ZERO + client_gap / 2;
        let mut started_during = 0u32;
        let mut started_after = 0u32;
        let mut sample_at = Instant::ZERO;
        loop {
            // The next thing to happen.
            let mut t = end;
            if next_syn < flood_end {
                t = t.min(next_syn);
            }
            if started_during < o.clients || started_after < o.clients_after {
                t = t.min(next_client);
            }
            if let Some(Reverse((at, ..))) = self.wire.peek() {
                t = t.min(*at);
            }
            for s in [&self.server, &self.client] {
                if let Some(d) = s.poll_timeout() {
                    t = t.min(d.max(self.now));
                }
            }
            if t >= end {
                break;
            }
            self.now = t;
            if next_syn <= t && next_syn < flood_end {
                let f = self.spoofed_syn();
                self.server.receive(self.now, IfaceId(0), &f);
                self.report.spoofed_syns += 1;
                next_syn += syn_gap;
            }
            if next_client <= t {
                let during = started_during < o.clients;
                if during || started_after < o.clients_after {
                    if let Ok(h) = self
                        .client
                        .tcp_connect(self.now, std::net::SocketAddrV4::new(SERVER, PORT))
                    {
                        self.attempts.insert(
                            h,
                            Attempt {
                                started: self.now,
                                during,
                            },
                        );
                    }
                    if during {
                        started_during += 1;
                        next_client = if started_during == o.clients {
                            flood_end + after_gap / 2
                        } else {
                            next_client + client_gap
                        };
                    } else {
                        started_after += 1;
                        next_client += after_gap;
                    }
                }
            }
            while let Some(Reverse((at, ..))) = self.wire.peek() {
                if *at > t {
                    break;
                }
                let Some(Reverse((_, _, to, f))) = self.wire.pop() else {
                    break;
                };
                match to {
                    To::Server => self.server.receive(self.now, IfaceId(0), &f),
                    To::Client => self.client.receive(self.now, IfaceId(0), &f),
                }
            }
            if self.server.poll_timeout().is_some_and(|d| d <= t) {
                self.server.handle_timeout(self.now);
            }
            if self.client.poll_timeout().is_some_and(|d| d <= t) {
                self.client.handle_timeout(self.now);
            }
            // Handshakes past their deadline have failed.
            let deadline = o.deadline;
            let now = self.now;
            let late: Vec<TcpHandle> = self
                .attempts
                .iter()
                .filter(|(_, a)| now.saturating_duration_since(a.started) > deadline)
                .map(|(h, _)| *h)
                .collect();
            for h in late {
                self.attempts.remove(&h);
                let _ = self.client.tcp_abort(self.now, h);
            }
            self.settle();
            if self.now >= sample_at {
                let bytes: usize = self
                    .server
                    .tcp()
                    .connections()
                    .map(|(_, i)| i.buffer_bytes)
                    .sum();
                self.report.peak_buffer_bytes = self.report.peak_buffer_bytes.max(bytes);
                sample_at = self.now + Duration::from_millis(1);
            }
        }
        self.report.during = started_during;
        self.report.after = started_after;
        self.report.handshake_times.sort();
        self.report.stats = self.server.tcp_stats().clone();
        self.report.peak_tcp_memory = self.server.tcp().memory().peak;
        self.report.clone()
    }
}

/// Builds and runs one scenario.
pub fn syn_flood(opts: &SynFloodOptions) -> SynFloodReport {
    SynFlood::new(opts).run()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 80 000 spoofed SYNs per second (100× the SYN queue of 8 per 10 ms
    /// RTT) for 2 s: a client's SYN and its retransmission 1 s later both
    /// meet the flood.
    fn small(cookies: bool) -> SynFloodOptions {
        SynFloodOptions {
            cookies,
            syn_backlog: 8,
            backlog: 64,
            rtt: Duration::from_millis(10),
            flood: Duration::from_secs(2),
            deadline: Duration::from_millis(1500),
            clients: 50,
            clients_after: 20,
            after: Duration::from_millis(500),
            ..SynFloodOptions::default()
        }
    }

    #[test]
    fn with_cookies_every_handshake_completes_during_and_after_the_flood() {
        let r = syn_flood(&small(true));
        assert_eq!(r.spoofed_syns, 2 * 8 * 100 * 100, "{r:?}");
        assert!(r.success_during() >= 0.99, "{r:?}");
        assert_eq!(r.during_first_try, r.during, "{r:?}");
        assert_eq!(r.after_ok, r.after, "{r:?}");
        assert!(r.stats.syncookies_sent > 100_000, "{:?}", r.stats);
        assert!(r.stats.syncookies_validated > 0, "{:?}", r.stats);
        // The server never held more than its queues allow.
        assert!(r.peak_connections <= 8 + 64 + 70, "{r:?}");
    }

    #[test]
    fn without_cookies_the_flood_starves_the_client_until_it_stops() {
        let r = syn_flood(&small(false));
        assert!(r.success_during() < 0.5, "{r:?}");
        assert_eq!(r.stats.syncookies_sent, 0);
        assert!(r.stats.syn_queue_drops > 100_000, "{:?}", r.stats);
        // Once the flood stops, the half-open entries it left are recycled
        // as they go unanswered: new handshakes succeed at their first
        // retransmission.
        assert_eq!(r.after_ok, r.after, "{r:?}");
        assert!(r.peak_connections <= 8 + 64 + 70, "{r:?}");
    }

    #[test]
    fn runs_replay_by_seed() {
        let a = syn_flood(&small(true));
        let b = syn_flood(&small(true));
        assert_eq!(a.stats, b.stats);
        assert_eq!(a.handshake_times, b.handshake_times);
    }
}
