//! A tiny zero-latency LAN harness for stack tests: segments join
//! (stack, interface) pairs; frames go to the member whose MAC matches, or
//! to every other member for broadcasts. Time moves only when asked.
#![allow(dead_code)]

use core::net::Ipv4Addr;
use strata::link::IfaceId;
use strata::stack::{Event, Stack, StackConfig};
use strata::time::{Duration, Instant};
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

    /// Advances time to `until`, running timers on the way.
    pub fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        self.run();
        loop {
            let next = self
                .stacks
                .iter()
                .filter_map(|s| s.poll_timeout())
                .min()
                .filter(|t| *t <= until);
            match next {
                Some(t) => {
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
