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
//! port of the loop ends the storm: that is what spanning tree does
//! ([`crate::stp`]). [`switch_ring_with`] and [`switch_mesh_with`] build the
//! same topologies with STP or RSTP running on every switch (switch `i`
//! has bridge address `02:00:00:00:i:00`, so switch 0 becomes the root;
//! the host port is an edge port), and [`converged_at`] tells when the last
//! port settled.

use strata::time::Instant;
use strata::wire::{Ipv4Addr, MacAddr};

use crate::link::LinkConfig;
use crate::node::NodeId;
use crate::sim::{Sim, SimError};
use crate::stp::BridgeConfig;
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

/// The bridge address of switch `i` in a storm topology.
pub fn bridge_mac(i: usize) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, i as u8, 0])
}

fn build(
    sim: &mut Sim,
    n: usize,
    cfg: &LinkConfig,
    mesh: bool,
    stp: Option<BridgeConfig>,
) -> Result<StormTopology, SimError> {
    // Port 0 of every switch is for hosts; ports 1.. for the loop.
    let ports = if mesh { n } else { 3 };
    let switches: Vec<NodeId> = (0..n)
        .map(|i| {
            let mut sw = Switch::named(format!("sw{i}"), ports);
            if let Some(b) = stp {
                sw = sw.with_spanning_tree(b, bridge_mac(i));
                if let Some(t) = sw.spanning_tree_mut() {
                    t.set_edge(0, true);
                }
            }
            sim.add_node(Box::new(sw))
        })
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
    build(sim, n.max(3), cfg, false, None)
}

/// `n ≥ 3` switches, each wired to every other, and one host on the first.
pub fn switch_mesh(sim: &mut Sim, n: usize, cfg: &LinkConfig) -> Result<StormTopology, SimError> {
    build(sim, n.max(3), cfg, true, None)
}

/// [`switch_ring`], every switch running spanning tree if `stp` is given.
pub fn switch_ring_with(
    sim: &mut Sim,
    n: usize,
    cfg: &LinkConfig,
    stp: Option<BridgeConfig>,
) -> Result<StormTopology, SimError> {
    build(sim, n.max(3), cfg, false, stp)
}

/// [`switch_mesh`], every switch running spanning tree if `stp` is given.
pub fn switch_mesh_with(
    sim: &mut Sim,
    n: usize,
    cfg: &LinkConfig,
    stp: Option<BridgeConfig>,
) -> Result<StormTopology, SimError> {
    build(sim, n.max(3), cfg, true, stp)
}

/// When the last port of any switch changed role or state (`None` without
/// spanning tree): the time the tree took to converge, once the run has
/// gone on long enough after it.
pub fn converged_at(sim: &Sim, topo: &StormTopology) -> Option<Instant> {
    topo.switches
        .iter()
        .filter_map(|&id| sim.node::<Switch>(id)?.spanning_tree()?.last_change())
        .max()
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
