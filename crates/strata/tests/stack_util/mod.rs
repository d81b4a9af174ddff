//! A tiny zero-latency LAN harness for stack tests: segments join
//! (stack, interface) pairs; frames go to the member whose MAC matches, or
//! to every other member for broadcasts. Time moves only when asked.
#![allow(dead_code)]

use core::net::Ipv4Addr;
use std::cell::RefCell;
use std::net::SocketAddrV4;
use std::rc::Rc;
use strata::link::arp::NeighborState;
use strata::link::IfaceId;
use strata::stack::{Event, Stack, StackConfig};
use strata::time::{Duration, Instant};
use strata::transport::tcp::TcpHandle;
use strata::wire::ip::Ipv4Cidr;
use strata::wire::MacAddr;

/// Decides per delivery whether a frame gets through (stack, iface, frame).
pub type Filter = Box<dyn FnMut(usize, IfaceId, &[u8]) -> bool>;

pub struct World {
    pub stacks: Vec<Stack>,
    /// segment → members (stack index, iface).
    pub segments: Vec<Vec<(usize, IfaceId)>>,
    pub now: Instant,
    /// Optional filter: return false to drop a frame (stack, iface, frame).
    pub filter: Option<Filter>,
    pub events: Vec<Vec<Event>>,
    pub frames: u64,
}

/// Timer rounds in a row at one instant before [`World::advance`] calls it
/// a livelock (a stack's timer still due after `handle_timeout`).
const MAX_ROUNDS_AT_ONE_INSTANT: u32 = 1_000;

/// Timer rounds in one [`World::advance`] before it calls it a livelock.
const MAX_TIMER_ROUNDS: u64 = 100_000;

pub fn cidr(s: &str) -> Ipv4Cidr {
    let (a, l) = s.split_once('/').unwrap();
    Ipv4Cidr::new(a.parse().unwrap(), l.parse().unwrap()).unwrap()
}

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

impl World {
    pub fn new() -> Self {
        World {
            stacks: Vec::new(),
            segments: Vec::new(),
            now: Instant::ZERO,
            filter: None,
            events: Vec::new(),
            frames: 0,
        }
    }

    /// Two stacks on one segment: 0 at 10.0.0.1/24, 1 at 10.0.0.2/24.
    pub fn lan() -> Self {
        let mut w = World::new();
        let (a, b) = (w.add_stack(), w.add_stack());
        let seg = w.add_segment();
        w.attach(a, seg, "10.0.0.1/24", 1500);
        w.attach(b, seg, "10.0.0.2/24", 1500);
        w.run();
        w
    }

    /// On a [`World::lan`] (or any world where stack 1 is 10.0.0.2): stack
    /// 1 listens on `port`, stack 0 connects to it and the handshake
    /// completes; (0's connection, 1's accepted one).
    pub fn tcp_pair(&mut self, port: u16) -> (TcpHandle, TcpHandle) {
        let l = self.stacks[1].tcp_listen(None, port, 8).unwrap();
        let c = self.stacks[0]
            .tcp_connect(self.now, SocketAddrV4::new(ip("10.0.0.2"), port))
            .unwrap();
        self.run();
        let s = self.stacks[1].tcp_accept(l).unwrap();
        (c, s)
    }

    /// From now on counts the unicast ARP frames delivered to stack 1 (a
    /// neighbour re-confirmed, RFC 1122 §2.3.2.1); `pass` decides which
    /// frames get through (to stack, frame).
    pub fn count_unicast_arp_to_b(
        &mut self,
        pass: impl Fn(usize, &[u8]) -> bool + 'static,
    ) -> Rc<RefCell<u32>> {
        let b_mac = self.stacks[1].mac(IfaceId(0)).unwrap();
        let count = Rc::new(RefCell::new(0));
        let seen = count.clone();
        self.filter = Some(Box::new(move |to, _, f| {
            if to == 1 && f[12..14] == [8, 6] && f[0..6] == b_mac.0 {
                *seen.borrow_mut() += 1;
            }
            pass(to, f)
        }));
        count
    }

    /// Stack 0's ARP state for 10.0.0.2 on its first interface.
    pub fn neighbour_of_a(&self) -> Option<NeighborState> {
        self.stacks[0]
            .arp_entries(IfaceId(0))
            .into_iter()
            .find(|e| e.0 == ip("10.0.0.2"))
            .map(|e| e.2)
    }

    pub fn add_stack(&mut self) -> usize {
        let n = self.stacks.len();
        self.stacks.push(Stack::new(StackConfig {
            seed: n as u64 + 1,
            ..StackConfig::default()
        }));
        self.events.push(Vec::new());
        n
    }

    pub fn add_segment(&mut self) -> usize {
        self.segments.push(Vec::new());
        self.segments.len() - 1
    }

    /// Adds an interface on `stack` attached to `segment` with `addr`.
    pub fn attach(&mut self, stack: usize, segment: usize, addr: &str, mtu: usize) -> IfaceId {
        let k = self.stacks[stack].interface_count() as u8;
        let mac = MacAddr([2, 0, 0, stack as u8, k, 1]);
        let i = self.stacks[stack].add_interface(mac, mtu);
        self.stacks[stack].add_address(i, cidr(addr)).unwrap();
        self.segments[segment].push((stack, i));
        i
    }

    /// Moves frames until every stack is quiet.
    pub fn run(&mut self) {
        let mut buf = vec![0u8; 65536];
        for _ in 0..100_000 {
            let mut moved = false;
            for s in 0..self.stacks.len() {
                while let Some((iface, n)) = self.stacks[s].poll_transmit(self.now, &mut buf) {
                    moved = true;
                    self.frames += 1;
                    let frame = buf[..n].to_vec();
                    let dst = MacAddr(frame[0..6].try_into().unwrap());
                    let seg = self
                        .segments
                        .iter()
                        .find(|m| m.contains(&(s, iface)))
                        .cloned()
                        .unwrap_or_default();
                    for (t, ti) in seg {
                        if (t, ti) == (s, iface) {
                            continue;
                        }
                        if !dst.is_broadcast() && self.stacks[t].mac(ti) != Some(dst) {
                            continue;
                        }
                        if let Some(f) = self.filter.as_mut() {
                            if !f(t, ti, &frame) {
                                continue;
                            }
                        }
                        self.stacks[t].receive(self.now, ti, &frame);
                    }
                }
                while let Some(e) = self.stacks[s].poll_event() {
                    self.events[s].push(e);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("network never went quiet");
    }

    /// Advances time by `d`, running timers on the way. Fails the test
    /// (instead of hanging it) when the timers livelock: a stack whose
    /// `poll_timeout` is still due after `handle_timeout`, round after
    /// round at one instant, or more timer rounds than any real run needs.
    pub fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        self.run();
        let (mut rounds, mut stuck) = (0u64, 0u32);
        loop {
            let next = self
                .stacks
                .iter()
                .filter_map(|s| s.poll_timeout())
                .min()
                .filter(|t| *t <= until);
            match next {
                Some(t) => {
                    rounds += 1;
                    stuck = if t <= self.now { stuck + 1 } else { 0 };
                    if stuck > MAX_ROUNDS_AT_ONE_INSTANT || rounds > MAX_TIMER_ROUNDS {
                        let due: Vec<usize> = (0..self.stacks.len())
                            .filter(|&k| self.stacks[k].poll_timeout() == Some(t))
                            .collect();
                        panic!(
                            "timer livelock in advance({d:?}) at {:?}: {rounds} timer rounds, \
                             the last {stuck} at one instant; stacks {due:?} still want \
                             handle_timeout at {t:?}",
                            self.now
                        );
                    }
                    self.now = t.max(self.now);
                    for s in &mut self.stacks {
                        if s.poll_timeout().is_some_and(|x| x <= self.now) {
                            s.handle_timeout(self.now);
                        }
                    }
                    self.run();
                }
                None => break,
            }
        }
        self.now = until;
        self.run();
    }

    pub fn take_events(&mut self, s: usize) -> Vec<Event> {
        std::mem::take(&mut self.events[s])
    }
}
