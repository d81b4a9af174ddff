//! Ready-made scenarios for the `strata demo` command and for readers: a
//! switched LAN carrying ARP, and a broadcast storm in a loop.
//!
//! They use [`ScriptedHost`]s (raw frames, an ARP responder) rather than the
//! full stack, so they show layer 2 on its own: flooding, learning,
//! unicast forwarding, and what a loop does.

use std::fmt::Write as _;

use strata::time::{Duration, Instant};
use strata::wire::arp::{ArpPacket, ArpRepr};
use strata::wire::{Ipv4Addr, MacAddr};

use crate::link::LinkConfig;
use crate::node::NodeId;
use crate::pcap;
use crate::sim::{RunOutcome, Sim, TapId};
use crate::storm;
use crate::switch::{PortState, Switch};
use crate::traffic::{frames, ScriptedHost};

/// A switched LAN after its run: the simulation, its nodes and a capture.
#[derive(Debug)]
pub struct LanDemo {
    /// The finished simulation (stats, nodes).
    pub sim: Sim,
    /// The switch.
    pub switch: NodeId,
    /// The hosts h1…hn, on switch ports 0…n−1.
    pub hosts: Vec<NodeId>,
    /// A tap on h1's port (both directions).
    pub tap: TapId,
    /// How the run ended.
    pub outcome: RunOutcome,
}

/// The MAC address of demo host `i` (1-based): `02:00:00:00:00:0i`.
pub fn host_mac(i: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, i])
}

/// The IPv4 address of demo host `i`: `10.0.0.i`.
pub fn host_ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, i)
}

/// `hosts` hosts (2–250) on one switch over 100 Mbit/s, 50 µs links (with a
/// little loss when `lossy`). h1 ARPs for every other host, once at 1 ms and
/// again at 10 ms; each host answers for its own address.
pub fn arp_lan(seed: u64, hosts: u8, lossy: bool) -> LanDemo {
    let n = hosts.clamp(2, 250);
    let mut sim = Sim::new(seed);
    let switch = sim.add_node(Box::new(Switch::named("switch", usize::from(n))));
    let mut cfg = LinkConfig::default()
        .with_bandwidth(100_000_000)
        .with_latency(Duration::from_micros(50));
    if lossy {
        cfg = cfg.with_loss(0.1);
    }
    let mut ids = Vec::new();
    for i in 1..=n {
        let mut h = ScriptedHost::new(format!("h{i}"), host_mac(i)).with_arp_responder(host_ip(i));
        if i == 1 {
            for round in [Instant::from_millis(1), Instant::from_millis(10)] {
                for t in 2..=n {
                    h.schedule(
                        round,
                        0,
                        frames::arp_request(host_mac(1), host_ip(1), host_ip(t)),
                    );
                }
            }
        }
        let id = sim.add_node(Box::new(h));
        sim.connect((id, 0), (switch, usize::from(i - 1)), cfg.clone())
            .expect("fresh ports");
        ids.push(id);
    }
    let tap = sim.tap_port_memory(ids[0], 0).expect("h1 is connected");
    let outcome = sim.run_until_idle(Instant::from_secs(1));
    LanDemo {
        sim,
        switch,
        hosts: ids,
        tap,
        outcome,
    }
}

/// One line describing a frame, Wireshark-style:
/// `02:00:00:00:00:01 → ff:ff:ff:ff:ff:ff  ARP Who has 10.0.0.2? Tell 10.0.0.1`.
pub fn describe_frame(frame: &[u8]) -> String {
    if frame.len() < 14 {
        return format!("runt frame ({} bytes)", frame.len());
    }
    let mac = |s: &[u8]| MacAddr([s[0], s[1], s[2], s[3], s[4], s[5]]);
    let (dst, src) = (mac(&frame[0..6]), mac(&frame[6..12]));
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let what = match ethertype {
        frames::ETHERTYPE_ARP => {
            match ArpPacket::new_checked(&frame[14..]).and_then(|p| ArpRepr::parse(&p)) {
                Ok(a) => a.to_string(),
                Err(e) => format!("ARP ({e})"),
            }
        }
        frames::ETHERTYPE_IPV4 => format!("IPv4, {} bytes", frame.len() - 14),
        t => format!("EtherType 0x{t:04x}, {} bytes", frame.len() - 14),
    };
    format!("{src} → {dst}  {what}")
}

impl LanDemo {
    /// The pcap bytes of h1's port.
    pub fn pcap(&self) -> &[u8] {
        self.sim.tap_bytes(self.tap).unwrap_or_default()
    }

    /// Every frame seen on h1's port: `time  description`.
    pub fn timeline(&self) -> Vec<String> {
        pcap::parse(self.pcap())
            .unwrap_or_default()
            .iter()
            .map(|r| format!("{}  {}", r.ts, describe_frame(&r.data)))
            .collect()
    }

    /// A readable account: timeline, switch table and counters, link stats.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "frames on h1's port:");
        for l in self.timeline() {
            let _ = writeln!(out, "  {l}");
        }
        if let Some(sw) = self.sim.node::<Switch>(self.switch) {
            let _ = writeln!(out, "switch MAC table at {}:", self.sim.now());
            for (m, e) in sw.mac_table(self.sim.now()) {
                let _ = writeln!(out, "  {m}  port {}  last seen {}", e.port, e.last_seen);
            }
            let s = sw.stats();
            let _ = writeln!(
                out,
                "switch: {} received, {} flooded, {} forwarded to one port, {} learned",
                s.received, s.flooded, s.forwarded, s.learned
            );
        }
        for (i, &h) in self.hosts.iter().enumerate() {
            if let Some(host) = self.sim.node::<ScriptedHost>(h) {
                let _ = writeln!(
                    out,
                    "h{}: received {} frames ({} for it), sent {} ARP replies",
                    i + 1,
                    host.received().len(),
                    host.received_for_me().count(),
                    host.arp_replies()
                );
            }
        }
        let _ = writeln!(out, "links:");
        out.push_str(&self.sim.stats_table());
        out
    }
}

/// The result of a storm run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StormDemo {
    /// How the run ended (a storm ends only by the frame budget).
    pub outcome: RunOutcome,
    /// Virtual time when it ended.
    pub ended_at: Instant,
    /// Frames offered to links.
    pub frames: u64,
    /// Copies of its own broadcast the host received back.
    pub host_copies: usize,
    /// Times the first switch saw the host's address move between ports.
    pub mac_moves: u64,
    /// Every link's counters summed.
    pub links: crate::LinkStats,
}

/// Three switches in a triangle, one host, one broadcast; the frame budget
/// stops it. With `blocked`, one port of the loop is blocking, as spanning
/// tree would set it, and the broadcast dies out.
pub fn storm(seed: u64, budget: u64, blocked: bool) -> StormDemo {
    let mut sim = Sim::new(seed);
    let topo = storm::switch_ring(&mut sim, 3, &LinkConfig::default()).expect("fresh topology");
    if blocked {
        if let Some(sw) = sim.node_mut::<Switch>(topo.switches[2]) {
            sw.set_port_state(1, PortState::Blocking);
        }
    }
    storm::inject_broadcast(&mut sim, &topo, Instant::from_millis(1));
    sim.set_frame_budget(Some(budget));
    let outcome = sim.run_until_idle(Instant::from_secs(60));
    StormDemo {
        outcome,
        links: sim.total_stats(),
        ended_at: sim.now(),
        frames: sim.frames_offered(),
        host_copies: sim
            .node::<ScriptedHost>(topo.host)
            .map_or(0, |h| h.received().len()),
        mac_moves: sim
            .node::<Switch>(topo.switches[0])
            .map_or(0, |s| s.stats().moved),
    }
}

/// One port's place in the spanning tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StpPortRow {
    /// The switch's name.
    pub switch: String,
    /// The port number.
    pub port: usize,
    /// Its role.
    pub role: crate::stp::PortRole,
    /// Its state.
    pub state: PortState,
}

/// Every role and state one port went through, for a timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StpPortHistory {
    /// The switch's name.
    pub switch: String,
    /// The port number.
    pub port: usize,
    /// Role and state at power-on (before any change).
    pub initial: (crate::stp::PortRole, PortState),
    /// Each change, in time order.
    pub changes: Vec<crate::stp::PortChange>,
}

/// The storm topology (three switches in a triangle, one host) with
/// spanning tree running: convergence, the broadcast that no longer
/// storms, and the repair after a link fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StpDemo {
    /// STP or RSTP.
    pub protocol: crate::stp::Protocol,
    /// The elected root bridge.
    pub root: strata::wire::stp::BridgeId,
    /// When the last port settled after power-on.
    pub converged_at: Instant,
    /// Every switch port after convergence.
    pub ports: Vec<StpPortRow>,
    /// When the host sent its broadcast (after convergence).
    pub broadcast_at: Instant,
    /// Copies of the broadcast that came back to the host (0: no storm).
    pub host_copies: usize,
    /// Times each switch flooded the broadcast.
    pub flooded: Vec<u64>,
    /// When the link between the root and its first neighbour was cut.
    pub cut_at: Instant,
    /// How long after the cut the path around the other side forwarded.
    pub healed_after: Option<Duration>,
    /// Every switch port after the repair.
    pub ports_after: Vec<StpPortRow>,
    /// Topology changes the switches saw, in all.
    pub topology_changes: u64,
    /// BPDUs sent by all switches.
    pub bpdus_sent: u64,
    /// Every port's changes from power-on to the end of the run.
    pub history: Vec<StpPortHistory>,
    /// When the run ended (90 s after the cut).
    pub ended_at: Instant,
}

/// Every port of the topology's spanning-tree switches, in order: the
/// switch's name, the port and its bridge's tree.
fn stp_ports<'a>(
    sim: &'a Sim,
    topo: &storm::StormTopology,
) -> Vec<(String, usize, &'a crate::stp::SpanningTree)> {
    let mut out = Vec::new();
    for &id in &topo.switches {
        let Some(sw) = sim.node::<Switch>(id) else {
            continue;
        };
        let Some(t) = sw.spanning_tree() else {
            continue;
        };
        let name = crate::node::Node::name(sw).to_string();
        out.extend((0..sw.ports()).map(|port| (name.clone(), port, t)));
    }
    out
}

fn stp_history(sim: &Sim, topo: &storm::StormTopology) -> Vec<StpPortHistory> {
    stp_ports(sim, topo)
        .into_iter()
        .map(|(switch, port, t)| StpPortHistory {
            switch,
            port,
            // SpanningTree::new: every port starts designated and
            // discarding, as after power-on.
            initial: (crate::stp::PortRole::Designated, PortState::Blocking),
            changes: t
                .changes()
                .iter()
                .filter(|c| c.port == port)
                .copied()
                .collect(),
        })
        .collect()
}

fn stp_rows(sim: &Sim, topo: &storm::StormTopology) -> Vec<StpPortRow> {
    stp_ports(sim, topo)
        .into_iter()
        .filter_map(|(switch, port, t)| {
            Some(StpPortRow {
                switch,
                port,
                role: t.role(port)?,
                state: t.state(port)?,
            })
        })
        .collect()
}

/// The storm triangle with `protocol` on every switch: it converges from
/// power-on, a broadcast at 60 s reaches every switch once, and at 70 s
/// the link from switch 1 to the root is cut; the tree repairs itself
/// through the formerly discarding port.
pub fn storm_stp(seed: u64, protocol: crate::stp::Protocol) -> StpDemo {
    use crate::stp::BridgeConfig;
    let mut sim = Sim::new(seed);
    let cfg = LinkConfig::default();
    let topo = storm::switch_ring_with(&mut sim, 3, &cfg, Some(BridgeConfig::new(protocol)))
        .expect("fresh topology");
    let broadcast_at = Instant::from_millis(60_001);
    storm::inject_broadcast(&mut sim, &topo, broadcast_at);
    sim.set_frame_budget(Some(1_000_000));
    let _ = sim.run_until(Instant::from_secs(70));
    let converged_at = storm::converged_at(&sim, &topo).unwrap_or(Instant::ZERO);
    let ports = stp_rows(&sim, &topo);
    let is_bpdu = |f: &[u8]| strata::wire::stp::BpduRepr::parse_frame(f).is_ok();
    let host_copies = sim.node::<ScriptedHost>(topo.host).map_or(0, |h| {
        h.received().iter().filter(|r| !is_bpdu(&r.frame)).count()
    });
    let flooded = topo
        .switches
        .iter()
        .map(|&id| sim.node::<Switch>(id).map_or(0, |s| s.stats().flooded))
        .collect();
    let sw1 = topo.switches[1];
    let root_port = sim
        .node::<Switch>(sw1)
        .and_then(|s| s.spanning_tree()?.root_port());
    let cut_at = sim.now();
    if let Some(rp) = root_port {
        for link in [sim.link_from(sw1, rp), sim.link_to(sw1, rp)]
            .into_iter()
            .flatten()
        {
            if let Some(c) = sim.link_config_mut(link) {
                c.partitions.push((cut_at, Instant::MAX));
            }
        }
    }
    let _ = sim.run_until(cut_at + Duration::from_secs(90));
    // The repair is done when switch 1's new root port and switch 2's
    // formerly discarding port both forward.
    let forwarding_since = |sw: NodeId, port: Option<usize>| -> Option<Instant> {
        let t = sim.node::<Switch>(sw)?.spanning_tree()?;
        let port = port?;
        (t.state(port) == Some(PortState::Forwarding)).then_some(())?;
        t.changes()
            .iter()
            .rfind(|c| c.port == port && c.at > cut_at)
            .map(|c| c.at)
            .or(Some(cut_at))
    };
    let new_rp = sim
        .node::<Switch>(sw1)
        .and_then(|s| s.spanning_tree()?.root_port())
        .filter(|p| Some(*p) != root_port);
    let healed_after = match (
        forwarding_since(sw1, new_rp),
        forwarding_since(topo.switches[2], Some(1)),
    ) {
        (Some(a), Some(b)) => Some(a.max(b) - cut_at),
        _ => None,
    };
    let (mut topology_changes, mut bpdus_sent) = (0, 0);
    for &id in &topo.switches {
        if let Some(t) = sim.node::<Switch>(id).and_then(Switch::spanning_tree) {
            topology_changes += t.stats().topology_changes;
            bpdus_sent += t.stats().bpdus_sent;
        }
    }
    StpDemo {
        protocol,
        root: sim
            .node::<Switch>(topo.switches[0])
            .and_then(Switch::spanning_tree)
            .map(|t| t.root_id())
            .expect("switch 0 runs spanning tree"),
        converged_at,
        ports,
        broadcast_at,
        host_copies,
        flooded,
        cut_at,
        healed_after,
        ports_after: stp_rows(&sim, &topo),
        topology_changes,
        bpdus_sent,
        history: stp_history(&sim, &topo),
        ended_at: sim.now(),
    }
}

impl core::fmt::Display for StpDemo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = match self.protocol {
            crate::stp::Protocol::Stp => "STP (IEEE 802.1D)",
            crate::stp::Protocol::Rstp => "RSTP (IEEE 802.1w)",
        };
        writeln!(
            f,
            "{name}: root bridge {}, converged {} after power-on",
            self.root, self.converged_at
        )?;
        let table = |f: &mut core::fmt::Formatter<'_>,
                     before: &[StpPortRow],
                     after: Option<&[StpPortRow]>| {
            for (i, r) in before.iter().enumerate() {
                write!(
                    f,
                    "  {:<4} port {}  {:<10}  {:<10}",
                    r.switch,
                    r.port,
                    r.role.name(),
                    r.state.name()
                )?;
                if let Some(a) = after.and_then(|a| a.get(i)) {
                    if (a.role, a.state) != (r.role, r.state) {
                        write!(f, "  → {} {}", a.role.name(), a.state.name())?;
                    }
                }
                writeln!(f)?;
            }
            Ok(())
        };
        table(f, &self.ports, Some(&self.ports_after))?;
        writeln!(
            f,
            "  broadcast at {}: flooded {:?} times by the switches, {} copies back to the host: {}",
            self.broadcast_at,
            self.flooded,
            self.host_copies,
            if self.host_copies == 0 {
                "no storm"
            } else {
                "a loop remains"
            }
        )?;
        match self.healed_after {
            Some(d) => writeln!(
                f,
                "  link sw0–sw1 cut at {}: the path round through sw2 forwards {:.3} s later (→ marks the changes)",
                self.cut_at,
                d.as_secs_f64()
            )?,
            None => writeln!(f, "  link sw0–sw1 cut at {}: not repaired within 90 s", self.cut_at)?,
        }
        write!(
            f,
            "  {} topology changes, {} BPDUs sent",
            self.topology_changes, self.bpdus_sent
        )
    }
}

impl core::fmt::Display for StormDemo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.outcome {
            RunOutcome::FrameBudgetExhausted { frames } => write!(
                f,
                "broadcast storm: one frame became {frames} frames in {} of virtual time \
                 (stopped by the frame budget); the host got {} copies back, \
                 its MAC moved between switch ports {} times",
                self.ended_at, self.host_copies, self.mac_moves
            ),
            other => write!(
                f,
                "no storm: {other:?} at {} after {} frames; the host got {} copies back",
                self.ended_at, self.frames, self.host_copies
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lan_demo_shows_flood_then_unicast() {
        let d = arp_lan(1, 4, false);
        assert_eq!(d.outcome, RunOutcome::Idle);
        let tl = d.timeline();
        // 6 requests from h1 and 6 replies to it.
        assert_eq!(tl.len(), 12, "{tl:#?}");
        assert!(
            tl[0].ends_with(
                "02:00:00:00:00:01 → ff:ff:ff:ff:ff:ff  ARP Who has 10.0.0.2? Tell 10.0.0.1"
            ),
            "{}",
            tl[0]
        );
        assert!(tl.iter().any(|l| l.ends_with(
            "02:00:00:00:00:03 → 02:00:00:00:00:01  ARP 10.0.0.3 is at 02:00:00:00:00:03"
        )));
        // Round 1: h4 sees all 3 broadcasts; round 2 the same: 6 frames, none unicast for others.
        let h4 = d.sim.node::<ScriptedHost>(d.hosts[3]).unwrap();
        assert_eq!(h4.received().len(), 6);
        let r = d.report();
        assert!(r.contains("switch MAC table"), "{r}");
        assert!(r.contains("02:00:00:00:00:04  port 3"), "{r}");
        assert_eq!(arp_lan(1, 4, true).pcap(), arp_lan(1, 4, true).pcap());
    }

    #[test]
    fn storm_demo_reports_budget_and_blocked_port_cures() {
        let s = storm(1, 5_000, false);
        assert!(matches!(s.outcome, RunOutcome::FrameBudgetExhausted { .. }));
        assert!(
            s.to_string()
                .starts_with("broadcast storm: one frame became"),
            "{s}"
        );
        let s = storm(1, 5_000, true);
        assert_eq!(s.outcome, RunOutcome::Idle);
        assert!(s.to_string().starts_with("no storm"), "{s}");
    }

    #[test]
    fn describe_handles_short_and_unknown_frames() {
        assert_eq!(describe_frame(&[0; 5]), "runt frame (5 bytes)");
        let f = frames::ethernet(host_mac(2), host_mac(1), 0x88b5, &[0; 10]);
        assert_eq!(
            describe_frame(&f),
            "02:00:00:00:00:01 → 02:00:00:00:00:02  EtherType 0x88b5, 10 bytes"
        );
        let mut a = frames::arp_request(host_mac(1), host_ip(1), host_ip(2));
        a.truncate(20);
        assert!(describe_frame(&a).contains("ARP (truncated packet)"));
    }
}
