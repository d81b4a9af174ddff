//! Broadcast storms: what a loop does to a switched LAN without spanning tree.
//!
//! A switch floods a broadcast out of every port but the one it came in
//! on, and Ethernet has no hop limit. In a loop, copies come back to
//! switches that flood them again, forever:
//!
//! * in a **ring** ([`switch_ring`]), two copies circle the loop in opposite
//!   directions, and every lap hands the attached host another copy: the
//!   frame count grows linearly without bound;
//! * in a **full mesh** ([`switch_mesh`]) of four or more switches every copy
//!   is flooded to at least two other switches, so copies multiply each hop
//!   and the links saturate.
//!
//! Either way the run never goes idle: the simulation's frame budget
//! ([`Sim::set_frame_budget`]) stops it and reports
//! [`RunOutcome::FrameBudgetExhausted`](crate::RunOutcome). Blocking one
//! port of the loop (what spanning tree does, see [`crate::switch`]) ends
//! the storm.

use strata::time::Instant;
use strata::wire::{Ipv4Addr, MacAddr};

use crate::link::LinkConfig;
use crate::node::NodeId;
use crate::sim::{Sim, SimError};
use crate::switch::Switch;
use crate::traffic::{frames, ScriptedHost};

/// The nodes of a storm topology.
#[derive(Debug, Clone)]
pub struct StormTopology {
    /// The switches, in order.
    pub switches: Vec<NodeId>,
    /// The one host, on port 0 of the first switch.
    pub host: NodeId,
    /// The host's MAC address.
    pub host_mac: MacAddr,
}

/// The MAC address of the storm host.
pub const STORM_HOST_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);

fn build(sim: &mut Sim, n: usize, cfg: &LinkConfig, mesh: bool) -> Result<StormTopology, SimError> {
    // Port 0 of every switch is for hosts; ports 1.. for the loop.
    let ports = if mesh { n } else { 3 };
    let switches: Vec<NodeId> = (0..n)
        .map(|i| sim.add_node(Box::new(Switch::named(format!("sw{i}"), ports))))
        .collect();
    let mut next_port = vec![1usize; n];
    let mut wire = |sim: &mut Sim, a: usize, b: usize| -> Result<(), SimError> {
        let (pa, pb) = (next_port[a], next_port[b]);
        next_port[a] += 1;
        next_port[b] += 1;
        sim.connect((switches[a], pa), (switches[b], pb), cfg.clone())
            .map(|_| ())
    };
    if mesh {
        for a in 0..n {
            for b in a + 1..n {
                wire(sim, a, b)?;
            }
        }
    } else {
        for a in 0..n {
            wire(sim, a, (a + 1) % n)?;
        }
    }
    let host = sim.add_node(Box::new(ScriptedHost::new("host", STORM_HOST_MAC)));
    sim.connect((host, 0), (switches[0], 0), cfg.clone())?;
    Ok(StormTopology {
        switches,
        host,
        host_mac: STORM_HOST_MAC,
    })
}

/// `n ≥ 3` switches in a ring (3 = a triangle) and one host on the first.
pub fn switch_ring(sim: &mut Sim, n: usize, cfg: &LinkConfig) -> Result<StormTopology, SimError> {
    build(sim, n.max(3), cfg, false)
}

/// `n ≥ 3` switches, each wired to every other, and one host on the first.
pub fn switch_mesh(sim: &mut Sim, n: usize, cfg: &LinkConfig) -> Result<StormTopology, SimError> {
    build(sim, n.max(3), cfg, true)
}

/// Makes the host send one broadcast frame (an ARP request) at `at`.
pub fn inject_broadcast(sim: &mut Sim, topo: &StormTopology, at: Instant) {
    let frame = frames::arp_request(
        topo.host_mac,
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
    );
    let _ = sim.with_node::<ScriptedHost, _>(topo.host, |h, _| h.schedule(at, 0, frame));
}
