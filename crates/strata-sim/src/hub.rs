//! A hub: the layer-1 repeater. Every frame that comes in on one port goes
//! out on every other port, unchanged. All ports share one collision domain;
//! the simulator does not model collisions (links are full duplex).

use std::collections::VecDeque;

use strata::time::Instant;

use crate::node::Node;

/// A repeater with a fixed number of ports.
#[derive(Debug, Clone)]
pub struct Hub {
    name: String,
    ports: usize,
    out: VecDeque<(usize, Vec<u8>)>,
    received: u64,
    repeated: u64,
}

impl Hub {
    /// A hub with `ports` ports (numbered from 0), named "hub".
    pub fn new(ports: usize) -> Self {
        Hub::named("hub", ports)
    }

    /// A hub with a name for statistics tables.
    pub fn named(name: impl Into<String>, ports: usize) -> Self {
        Hub {
            name: name.into(),
            ports,
            out: VecDeque::new(),
            received: 0,
            repeated: 0,
        }
    }

    /// Number of ports.
    pub fn ports(&self) -> usize {
        self.ports
    }

    /// Frames received.
    pub fn frames_received(&self) -> u64 {
        self.received
    }

    /// Copies sent out (each frame × (ports − 1)).
    pub fn frames_repeated(&self) -> u64 {
        self.repeated
    }
}

impl Node for Hub {
    fn receive(&mut self, _now: Instant, port: usize, frame: &[u8]) {
        self.received += 1;
        for p in (0..self.ports).filter(|&p| p != port) {
            self.out.push_back((p, frame.to_vec()));
            self.repeated += 1;
        }
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<(usize, Vec<u8>)> {
        self.out.pop_front()
    }
    fn name(&self) -> &str {
        &self.name
    }
}
