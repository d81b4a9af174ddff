//! Issue 15 point 3: the stack-wide TCP memory budget and hostile readers.
//!
//! Thousands of peers, played by this test, connect to one engine whose
//! application answers each with a large reply and never gives up on them
//! itself. Half the peers advertise a zero window forever while answering
//! every window probe; the other half read a byte a minute (a one-byte
//! window each minute, no receiver SWS avoidance). The engine must keep
//! their buffers inside its memory budget ([`TcpMem`]) and time every one
//! of them out (the user timeout, RFC 9293 §3.8.3 / RFC 5482).
//!
//! `STRATA_HOSTILE_PEERS` sets the number of peers (default 2000).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use strata::time::{Duration, Instant};
use strata::transport::tcp::{
    ListenerHandle, State, Tcp, TcpConfig, TcpError, TcpEvent, TcpHandle, TcpMem,
    PRESSURE_BUFFER_LIMIT,
};
use strata::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const REPLY: usize = 64 * 1024;
const SYN_ACK: TcpFlags = TcpFlags(0x012);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Window 0 after the first 1000 bytes, every probe answered.
    ZeroWindow,
    /// Opens its window by one byte a minute.
    SlowReader,
}

#[derive(Debug)]
struct HostilePeer {
    kind: Kind,
    seq: u32,
    rcv_nxt: u32,
    /// The right edge of the window this peer offers.
    edge: u32,
    synced: bool,
    reset: bool,
    /// Data bytes taken.
    got: usize,
}

/// One server engine and the peers the test plays.
struct Arena {
    tcp: Tcp,
    now: Instant,
    listener: ListenerHandle,
    peers: HashMap<(Ipv4Addr, u16), HostilePeer>,
    /// Accepted server connections and what is left of each reply.
    server: HashMap<TcpHandle, usize>,
    timed_out: Vec<(TcpHandle, Instant)>,
    peak: usize,
}

fn peer_addr(i: usize) -> (Ipv4Addr, u16) {
    (
        Ipv4Addr::new(10, 1, (i / 250) as u8, (i % 250) as u8 + 1),
        40_000,
    )
}

impl Arena {
    fn new(cfg: TcpConfig, n: usize) -> Self {
        let mut tcp = Tcp::new(cfg, 15);
        let listener = tcp.listen(SocketAddrV4::new(SERVER, 80), n).unwrap();
        Arena {
            tcp,
            now: Instant::from_secs(1),
            listener,
            peers: HashMap::new(),
            server: HashMap::new(),
            timed_out: Vec::new(),
            peak: 0,
        }
    }

    fn input(&mut self, from: (Ipv4Addr, u16), flags: TcpFlags, seq: u32, ack: u32, window: u16) {
        let seg = TcpRepr {
            src_port: from.1,
            dst_port: 80,
            seq,
            ack,
            flags,
            window,
            urgent: 0,
            options: TcpOptions::default(),
            payload: &[],
        };
        self.tcp.handle_segment(self.now, from.0, SERVER, &seg);
    }

    fn connect(&mut self, i: usize, kind: Kind) {
        let a = peer_addr(i);
        let seq = 1000 + i as u32 * 7919;
        self.peers.insert(
            a,
            HostilePeer {
                kind,
                seq: seq.wrapping_add(1),
                rcv_nxt: 0,
                edge: 0,
                synced: false,
                reset: false,
                got: 0,
            },
        );
        self.input(a, TcpFlags::SYN, seq, 0, 1000);
    }

    /// Drains the engine: segments go to their peers, who answer at once;
    /// events drive the server application.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            let mut out = Vec::new();
            while let Some(s) = self.tcp.poll_transmit(self.now, |_, dst, seg| {
                (
                    dst,
                    seg.dst_port,
                    seg.seq,
                    seg.ack,
                    seg.flags,
                    seg.payload.len(),
                )
            }) {
                out.push(s);
            }
            for (ip, port, seq, _ack, flags, len) in out {
                moved = true;
                let Some(p) = self.peers.get_mut(&(ip, port)) else {
                    continue;
                };
                if flags.rst() {
                    p.reset = true;
                    continue;
                }
                if flags.syn() {
                    p.rcv_nxt = seq.wrapping_add(1);
                    p.edge = p.rcv_nxt.wrapping_add(1000);
                    p.synced = true;
                } else if seq == p.rcv_nxt && len > 0 {
                    let room = p.edge.wrapping_sub(p.rcv_nxt) as usize;
                    p.rcv_nxt = p.rcv_nxt.wrapping_add(len.min(room) as u32);
                    p.got += len.min(room);
                }
                if p.kind == Kind::ZeroWindow && p.rcv_nxt == p.edge {
                    // The first 1000 bytes arrived: shut the window for good.
                    p.edge = p.rcv_nxt;
                }
                let (s, a, w) = (p.seq, p.rcv_nxt, p.edge.wrapping_sub(p.rcv_nxt) as u16);
                self.input((ip, port), TcpFlags::ACK, s, a, w);
            }
            while let Some(e) = self.tcp.poll_event() {
                moved = true;
                match e {
                    TcpEvent::Acceptable { .. } => {
                        while let Ok(h) = self.tcp.accept(self.listener) {
                            self.server.insert(h, REPLY);
                            self.write(h);
                        }
                    }
                    TcpEvent::Writable(h) => self.write(h),
                    TcpEvent::TimedOut(h) => self.timed_out.push((h, self.now)),
                    _ => {}
                }
            }
            self.peak = self.peak.max(self.tcp.memory().buffers);
            if !moved {
                break;
            }
        }
    }

    /// The server application writes what is left of the reply.
    fn write(&mut self, h: TcpHandle) {
        let Some(left) = self.server.get_mut(&h) else {
            return;
        };
        while *left > 0 {
            match self.tcp.send(h, &[b'x'; 4096][..(*left).min(4096)]) {
                Ok(n) => *left -= n,
                Err(_) => break,
            }
        }
    }

    /// The slow readers open their window by one byte.
    fn trickle(&mut self) {
        let mut acks = Vec::new();
        for (a, p) in &mut self.peers {
            if p.kind == Kind::SlowReader && p.synced && !p.reset {
                p.edge = p.edge.wrapping_add(1);
                acks.push((*a, p.seq, p.rcv_nxt, p.edge.wrapping_sub(p.rcv_nxt) as u16));
            }
        }
        acks.sort();
        for (a, s, ack, w) in acks {
            self.input(a, TcpFlags::ACK, s, ack, w);
        }
    }

    /// Runs until `end` (virtual), the slow readers ticking every minute.
    fn run_until(&mut self, end: Instant) {
        let mut tick = self.now + Duration::from_secs(60);
        loop {
            self.settle();
            let t = self
                .tcp
                .poll_timeout()
                .unwrap_or(Instant::MAX)
                .min(tick)
                .max(self.now);
            if t > end {
                break;
            }
            self.now = t;
            if t >= tick {
                self.trickle();
                tick = t + Duration::from_secs(60);
            }
            self.tcp.handle_timeout(self.now);
        }
        self.now = end;
    }
}

fn peers() -> usize {
    std::env::var("STRATA_HOSTILE_PEERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// Room for every peer at the pressure clamp, far less than the replies.
fn budget() -> TcpMem {
    TcpMem {
        low: 4 << 20,
        pressure: 8 << 20,
        high: 24 << 20,
    }
}

/// Thousands of zero-window and slow-read peers: the server's buffers stay
/// within the budget's hard limit, the budget's pressure and refusals are
/// counted, and every hostile connection ends TimedOut within the user
/// timeout plus one probe interval.
#[test]
fn zero_window_and_slow_readers_are_bounded_and_timed_out() {
    let n = peers();
    let user_timeout = Duration::from_secs(120);
    let cfg = TcpConfig {
        user_timeout: Some(user_timeout),
        syn_backlog: n,
        mem: budget(),
        ..TcpConfig::default()
    };
    let mut a = Arena::new(cfg, n);
    let start = a.now;
    for i in 0..n {
        let kind = if i % 2 == 0 {
            Kind::ZeroWindow
        } else {
            Kind::SlowReader
        };
        a.connect(i, kind);
        a.settle();
    }
    assert_eq!(a.server.len(), n, "every peer connected");
    // Stated bound: the user timeout, plus the longest persist interval
    // (RTO backed off to 60 s) for the timer to notice, plus the minute
    // the slow readers may keep the clock going with a byte.
    let bound = user_timeout + Duration::from_secs(180);
    a.run_until(start + bound);
    let st = a.tcp.stats().clone();
    let mem = a.tcp.memory();
    eprintln!(
        "{n} hostile peers: peak TCP memory {} B (budget high {} B), {} timed out by {:?}, \
         pressure entries {}, send refusals {}, window probes {}",
        mem.peak,
        budget().high,
        a.timed_out.len(),
        a.timed_out.iter().map(|(_, t)| *t - start).max(),
        st.mem_pressure_entries,
        st.mem_send_refusals,
        st.window_probes,
    );
    // Bounded in memory: without the budget the replies alone would hold
    // n × 64 KiB.
    assert!(mem.peak <= budget().high, "peak {} B", mem.peak);
    assert_eq!(mem.peak, a.peak.max(mem.peak));
    assert!(
        n < 1000 || n * REPLY > 4 * budget().high,
        "the test must overrun the budget"
    );
    assert!(st.mem_pressure_entries >= 1);
    // Every one of them timed out, each within the bound.
    assert_eq!(a.timed_out.len(), n, "not all hostile peers timed out");
    assert!(a.timed_out.iter().all(|(_, t)| *t - start <= bound));
    assert!(a
        .timed_out
        .iter()
        .all(|(h, _)| a.tcp.error(*h) == Some(TcpError::TimedOut)));
    assert_eq!(
        a.tcp.connection_count(),
        n,
        "zombies kept for their handles"
    );
    for (h, _) in &a.timed_out {
        a.tcp.close(a.now, *h).unwrap();
    }
    assert_eq!(a.tcp.connection_count(), 0);
    assert_eq!(a.tcp.memory().buffers, 0, "every byte given back");
    // The memory is free again: the pressure ended and connections are
    // welcome once more.
    assert!(!a.tcp.memory().pressure);
}

/// Without a user timeout a peer answering every probe keeps its
/// connection (RFC 9293 §3.8.6.1 MUST-37): the timeout above is the
/// application's (or configuration's) choice, not a default.
#[test]
fn without_a_user_timeout_an_answering_zero_window_peer_is_kept() {
    let cfg = TcpConfig::default();
    let mut a = Arena::new(cfg, 8);
    for i in 0..4 {
        a.connect(i, Kind::ZeroWindow);
        a.settle();
    }
    let end = a.now + Duration::from_secs(3600);
    a.run_until(end);
    assert!(a.timed_out.is_empty());
    assert!(a
        .server
        .keys()
        .all(|h| a.tcp.state(*h) == State::Established));
    assert!(a.tcp.stats().window_probes > 4);
}

/// Slow readers that do make progress a byte at a time are not saved by
/// it: a byte a minute never delivers a full segment within the user
/// timeout, whereas an honest receiver's window reopens by a segment.
#[test]
fn a_byte_a_minute_does_not_reset_the_user_timeout() {
    let cfg = TcpConfig {
        user_timeout: Some(Duration::from_secs(300)),
        ..TcpConfig::default()
    };
    let mut a = Arena::new(cfg, 8);
    a.connect(0, Kind::SlowReader);
    a.settle();
    let start = a.now;
    a.run_until(start + Duration::from_secs(900));
    assert_eq!(a.timed_out.len(), 1);
    let at = a.timed_out[0].1 - start;
    // It did get bytes through, one a minute after the first 1000 ...
    let p = a.peers.values().next().unwrap();
    eprintln!(
        "slow reader: {} bytes delivered, timed out after {at:?}",
        p.got
    );
    assert!(p.got > 1000, "{} bytes", p.got);
    // ... and still timed out, after the user timeout and not long after.
    assert!(
        at >= Duration::from_secs(300) && at <= Duration::from_secs(480),
        "{at:?}"
    );
}

/// Memory pressure clamps the receive window without moving its right
/// edge left (RFC 9293 §3.8.6 SHLD-14): a sender filling many connections
/// that the application does not read sees windows shrink only as it
/// uses them, then stay at most the pressure clamp.
#[test]
fn pressure_shrinks_windows_without_moving_the_right_edge() {
    let cfg = TcpConfig {
        mem: TcpMem {
            low: 256 << 10,
            pressure: 512 << 10,
            high: 1 << 20,
        },
        window_scale: false,
        timestamps: false,
        sack: false,
        rx_buffer_limit: 64 * 1024,
        ..TcpConfig::default()
    };
    let mut server = Tcp::new(cfg, 7);
    let l = server.listen(SocketAddrV4::new(SERVER, 80), 64).unwrap();
    let mut now = Instant::from_secs(1);
    let n = 32usize;
    // Per peer: (addr, seq, server ISS + 1, highest right edge seen).
    let mut peers: Vec<((Ipv4Addr, u16), u32, u32, u32)> = Vec::new();
    let drain = |server: &mut Tcp, now: Instant| {
        let mut out = Vec::new();
        while let Some(s) = server.poll_transmit(now, |_, dst, seg| {
            (dst, seg.dst_port, seg.seq, seg.ack, seg.flags, seg.window)
        }) {
            out.push(s);
        }
        out
    };
    for i in 0..n {
        let a = peer_addr(i);
        let seq = 5000 + i as u32;
        let syn = TcpRepr {
            src_port: a.1,
            dst_port: 80,
            seq,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 65_535,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                ..TcpOptions::default()
            },
            payload: &[],
        };
        server.handle_segment(now, a.0, SERVER, &syn);
        let out = drain(&mut server, now);
        let sa = out.iter().find(|s| s.4 == SYN_ACK).expect("SYN-ACK");
        let iss1 = sa.2.wrapping_add(1);
        let ack = TcpRepr {
            seq: seq + 1,
            ack: iss1,
            flags: TcpFlags::ACK,
            options: TcpOptions::default(),
            ..syn
        };
        server.handle_segment(now, a.0, SERVER, &ack);
        peers.push((a, seq + 1, iss1, seq + 1 + u32::from(sa.5)));
    }
    while server.accept(l).is_ok() {}
    let payload = [7u8; 1460];
    let mut shrank_below_clamp = 0;
    for round in 0..200 {
        now += Duration::from_millis(10);
        for p in peers.iter_mut() {
            // Send up to the right edge offered, a segment at a time.
            if p.3.wrapping_sub(p.1) >= 1460 {
                let seg = TcpRepr {
                    src_port: p.0 .1,
                    dst_port: 80,
                    seq: p.1,
                    ack: p.2,
                    flags: TcpFlags::ACK,
                    window: 65_535,
                    urgent: 0,
                    options: TcpOptions::default(),
                    payload: &payload,
                };
                server.handle_segment(now, p.0 .0, SERVER, &seg);
            }
        }
        server.handle_timeout(now);
        for (ip, port, _seq, ack, flags, window) in drain(&mut server, now) {
            if !flags.contains(TcpFlags::ACK) || flags.rst() {
                continue;
            }
            let p = peers
                .iter_mut()
                .find(|p| p.0 == (ip, port))
                .expect("a peer");
            let edge = ack.wrapping_add(u32::from(window));
            // RFC 9293 §3.8.6 SHLD-14: the right edge never moves left.
            assert!(
                edge.wrapping_sub(p.3) as i32 >= 0,
                "round {round}: right edge moved left from {} to {edge}",
                p.3
            );
            p.3 = edge;
            if ack.wrapping_sub(p.1) as i32 > 0 {
                p.1 = ack;
            }
            if server.memory().pressure && (window as usize) <= PRESSURE_BUFFER_LIMIT {
                shrank_below_clamp += 1;
            }
        }
    }
    let st = server.stats();
    let mem = server.memory();
    eprintln!(
        "pressure entries {}, rx drops {}, peak {} B, windows at or below the clamp {shrank_below_clamp}",
        st.mem_pressure_entries, st.mem_rx_drops, mem.peak
    );
    assert!(st.mem_pressure_entries >= 1);
    assert!(
        mem.peak <= 1 << 20,
        "peak {} B above the hard limit",
        mem.peak
    );
    assert!(
        shrank_below_clamp > 0,
        "the windows came down under pressure"
    );
    // Unread data was not lost: each connection holds exactly what it
    // acknowledged.
    let held: usize = server.connections().map(|(_, i)| i.buffer_bytes).sum();
    assert!(held <= 1 << 20);
}

/// Above the hard limit new connections are refused before any buffer is
/// allocated: `connect` fails with `NoBufferSpace`, SYNs are dropped, and
/// both are counted.
#[test]
fn above_the_hard_limit_new_connections_are_refused() {
    let cfg = TcpConfig {
        // Pressure only at the hard limit: the replies' writes meet the
        // hard limit, not the pressure clamp.
        mem: TcpMem {
            low: 16 << 10,
            pressure: 32 << 10,
            high: 32 << 10,
        },
        syn_backlog: 64,
        ..TcpConfig::default()
    };
    let mut a = Arena::new(cfg, 64);
    // Zero-window peers take the replies until the budget is full.
    let mut i = 0;
    while a.tcp.memory().buffers < 32 << 10 && i < 60 {
        a.connect(i, Kind::ZeroWindow);
        a.settle();
        i += 1;
    }
    assert!(a.tcp.memory().buffers >= 32 << 10, "budget not filled");
    let before = a.tcp.connection_count();
    a.connect(61, Kind::ZeroWindow);
    a.settle();
    assert_eq!(a.tcp.connection_count(), before, "SYN refused");
    let r = a.tcp.connect(
        a.now,
        SocketAddrV4::new(SERVER, 5000),
        SocketAddrV4::new(Ipv4Addr::new(10, 9, 9, 9), 80),
    );
    assert_eq!(r, Err(TcpError::NoBufferSpace));
    assert_eq!(a.tcp.stats().mem_conn_refusals, 2);
    assert!(a.tcp.stats().mem_send_refusals >= 1, "replies cut short");
    assert!(a.tcp.memory().peak <= 32 << 10);
}

/// Out of TCP memory, an orphan still holding data is reset when its timer
/// fires (Linux `tcp_out_of_resources`), and counted; below the hard limit
/// the same orphan keeps probing.
#[test]
fn out_of_memory_orphans_holding_data_are_reset() {
    let run = |high: usize| {
        let cfg = TcpConfig {
            mem: TcpMem {
                low: high / 2,
                pressure: high,
                high,
            },
            syn_backlog: 64,
            ..TcpConfig::default()
        };
        let mut a = Arena::new(cfg, 64);
        for i in 0..8 {
            a.connect(i, Kind::ZeroWindow);
            a.settle();
        }
        let h = *a.server.keys().min().unwrap();
        let now = a.now;
        a.tcp.close(now, h).unwrap();
        assert_eq!(a.tcp.orphan_count(), 1);
        let end = a.now + Duration::from_secs(30);
        a.run_until(end);
        (a.tcp.orphan_count(), a.tcp.stats().mem_orphan_resets)
    };
    // 8 replies of 64 KiB fill a 64 KiB budget.
    assert_eq!(run(64 << 10), (0, 1));
    assert_eq!(run(64 << 20), (1, 0));
}
