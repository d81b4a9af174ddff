//! Spanning tree on the simulated switches: the storm of a looped LAN is
//! cured by STP and RSTP, the tree is the one 802.1D's election gives, RSTP
//! converges in link delays where STP needs two forward delays, and both
//! heal a failed link through the alternate port.

use strata::time::{Duration, Instant};
use strata::wire::stp::BpduRepr;
use strata_sim::storm::{self, converged_at, inject_broadcast, StormTopology};
use strata_sim::stp::{BridgeConfig, PortRole, Protocol};
use strata_sim::switch::{PortState, Switch};
use strata_sim::traffic::ScriptedHost;
use strata_sim::{LinkConfig, RunOutcome, Sim};

fn ring(protocol: Option<Protocol>, n: usize) -> (Sim, StormTopology) {
    let mut sim = Sim::new(1);
    let cfg = LinkConfig::default().with_latency(Duration::from_millis(1));
    let topo = storm::switch_ring_with(&mut sim, n, &cfg, protocol.map(BridgeConfig::new)).unwrap();
    (sim, topo)
}

fn switch(sim: &Sim, topo: &StormTopology, i: usize) -> Switch {
    sim.node::<Switch>(topo.switches[i]).unwrap().clone()
}

/// (role, state) of every loop port (ports 1 and 2) of every switch.
fn loop_ports(sim: &Sim, topo: &StormTopology) -> Vec<Vec<(PortRole, PortState)>> {
    (0..topo.switches.len())
        .map(|i| {
            let sw = switch(sim, topo, i);
            let t = sw.spanning_tree().unwrap();
            (1..3)
                .map(|p| (t.role(p).unwrap(), t.state(p).unwrap()))
                .collect()
        })
        .collect()
}

/// Frames the host received that are not BPDUs.
fn data_frames_at_host(sim: &Sim, topo: &StormTopology) -> usize {
    let h = sim.node::<ScriptedHost>(topo.host).unwrap();
    h.received()
        .iter()
        .filter(|r| BpduRepr::parse_frame(&r.frame).is_err())
        .count()
}

#[test]
fn without_spanning_tree_the_ring_storms() {
    let (mut sim, topo) = ring(None, 3);
    inject_broadcast(&mut sim, &topo, Instant::from_millis(1));
    sim.set_frame_budget(Some(20_000));
    let out = sim.run_until(Instant::from_secs(10));
    assert!(
        matches!(out, RunOutcome::FrameBudgetExhausted { .. }),
        "{out:?}"
    );
}

fn converges_and_cures_the_storm(protocol: Protocol) -> Instant {
    let (mut sim, topo) = ring(Some(protocol), 4);
    sim.set_frame_budget(Some(200_000));
    assert_eq!(sim.run_until(Instant::from_secs(60)), RunOutcome::TimeLimit);
    let at = converged_at(&sim, &topo).expect("ports changed state");
    // The lowest bridge address (switch 0) is the root, on every switch.
    let root = switch(&sim, &topo, 0).spanning_tree().unwrap().bridge_id();
    for i in 0..4 {
        let sw = switch(&sim, &topo, i);
        let t = sw.spanning_tree().unwrap();
        assert_eq!(t.root_id(), root, "switch {i}");
        assert_eq!(t.is_root(), i == 0);
    }
    // The ring 0-1-2-3-0 (switch i's port 2 wired to switch i+1's port 1):
    // switches 1 and 3 reach the root in one hop, switch 2 in two either
    // way and takes the way through the lower bridge, switch 1. On the
    // segment 2–3, switch 3 offers the cheaper path to the root, so it is
    // designated there, and switch 2's port 2 is the one alternate port:
    // the only port of the ring that discards.
    let ports = loop_ports(&sim, &topo);
    let discarding: Vec<(usize, usize)> = ports
        .iter()
        .enumerate()
        .flat_map(|(i, ps)| {
            ps.iter()
                .enumerate()
                .filter(|(_, (_, s))| *s != PortState::Forwarding)
                .map(move |(p, _)| (i, p + 1))
        })
        .collect();
    assert_eq!(discarding, vec![(2, 2)], "{ports:?}");
    let (sw, port) = discarding[0];
    let t = switch(&sim, &topo, sw);
    let t = t.spanning_tree().unwrap();
    assert_eq!(t.role(port), Some(PortRole::Alternate), "{ports:?}");
    assert_eq!(t.state(port), Some(PortState::Blocking));
    // A broadcast after convergence reaches every switch once and never
    // comes back to its sender: no storm.
    inject_broadcast(&mut sim, &topo, Instant::from_secs(61));
    assert_eq!(sim.run_until(Instant::from_secs(70)), RunOutcome::TimeLimit);
    assert_eq!(data_frames_at_host(&sim, &topo), 0);
    for i in 0..4 {
        let st = switch(&sim, &topo, i).stats();
        assert_eq!(
            st.flooded, 1,
            "switch {i} flooded the broadcast once: {st:?}"
        );
    }
    at
}

#[test]
fn stp_converges_after_two_forward_delays_and_cures_the_storm() {
    let at = converges_and_cures_the_storm(Protocol::Stp);
    // Listening 15 s + learning 15 s from power-on (802.1D-1998 defaults).
    assert!(
        at >= Instant::from_secs(30) && at < Instant::from_secs(31),
        "{at}"
    );
}

#[test]
fn rstp_converges_in_link_delays_and_cures_the_storm() {
    let at = converges_and_cures_the_storm(Protocol::Rstp);
    // Proposal/agreement: a few 1 ms link delays, not 30 s.
    assert!(at < Instant::from_millis(100), "{at}");
}

/// When `port` of switch `sw` last started forwarding after `after`.
fn forwarding_since(
    sim: &Sim,
    topo: &StormTopology,
    sw: usize,
    port: usize,
    after: Instant,
) -> Option<Instant> {
    let s = switch(sim, topo, sw);
    s.spanning_tree()
        .unwrap()
        .changes()
        .iter()
        .rfind(|c| c.port == port && c.at > after && c.state == PortState::Forwarding)
        .map(|c| c.at)
}

/// Cuts the link between switch 0 (the root) and switch 1 at 60 s; checks
/// switch 1 now reaches the root the long way round through its formerly
/// discarding neighbour, and returns how long after the cut that path
/// forwarded at both ends. (The simulator's cut gives no loss of carrier,
/// so the dead port itself is found only by its silence.)
fn heals_a_failed_link(protocol: Protocol) -> Duration {
    let (mut sim, topo) = ring(Some(protocol), 3);
    assert_eq!(sim.run_until(Instant::from_secs(60)), RunOutcome::TimeLimit);
    let cut = Instant::from_secs(60);
    let sw1 = switch(&sim, &topo, 1);
    let rp = sw1.spanning_tree().unwrap().root_port().unwrap();
    let (a, b) = (
        sim.link_from(topo.switches[1], rp).unwrap(),
        sim.link_to(topo.switches[1], rp).unwrap(),
    );
    for l in [a, b] {
        sim.link_config_mut(l)
            .unwrap()
            .partitions
            .push((cut, Instant::from_secs(1000)));
    }
    assert_eq!(
        sim.run_until(Instant::from_secs(200)),
        RunOutcome::TimeLimit
    );
    let sw1 = switch(&sim, &topo, 1);
    let t = sw1.spanning_tree().unwrap();
    let new_rp = t.root_port().expect("switch 1 still reaches the root");
    assert_ne!(new_rp, rp);
    assert_eq!(t.state(new_rp), Some(PortState::Forwarding));
    assert!(t.stats().topology_changes > 0);
    // Every switch agrees on the root and no loop port of switch 2 discards
    // any more (the ring is now a line).
    let sw2 = switch(&sim, &topo, 2);
    let t2 = sw2.spanning_tree().unwrap();
    assert!((1..3).all(|p| t2.state(p) == Some(PortState::Forwarding)));
    let restored = [
        forwarding_since(&sim, &topo, 1, new_rp, cut),
        forwarding_since(&sim, &topo, 2, 1, cut),
    ];
    restored
        .iter()
        .map(|t| t.expect("the path through switch 2 forwards"))
        .max()
        .unwrap()
        - cut
}

#[test]
fn stp_heals_a_failed_link_after_max_age_and_two_forward_delays() {
    let healed = heals_a_failed_link(Protocol::Stp);
    // Max age (20 s) for the old information to expire, then listening and
    // learning (30 s): about 50 s.
    assert!(
        healed >= Duration::from_secs(45) && healed <= Duration::from_secs(52),
        "{healed:?}"
    );
}

#[test]
fn rstp_heals_a_failed_link_after_three_missed_hellos() {
    let healed = heals_a_failed_link(Protocol::Rstp);
    // Three missed hellos (6 s), then the alternate port becomes the root
    // port at once.
    assert!(
        healed >= Duration::from_secs(4) && healed <= Duration::from_secs(7),
        "{healed:?}"
    );
}

#[test]
fn a_mesh_of_five_switches_converges_to_a_tree() {
    for protocol in [Protocol::Stp, Protocol::Rstp] {
        let mut sim = Sim::new(2);
        let cfg = LinkConfig::default().with_latency(Duration::from_millis(1));
        let topo =
            storm::switch_mesh_with(&mut sim, 5, &cfg, Some(BridgeConfig::new(protocol))).unwrap();
        sim.set_frame_budget(Some(500_000));
        assert_eq!(sim.run_until(Instant::from_secs(60)), RunOutcome::TimeLimit);
        // A tree on 5 switches keeps 4 of the 10 links: the links where
        // both ends forward. Every other link has exactly one discarding
        // (alternate) end.
        let forwarding = |sw: usize, port: usize| {
            let s = sim.node::<Switch>(topo.switches[sw]).unwrap();
            s.spanning_tree().unwrap().state(port) == Some(PortState::Forwarding)
        };
        let mut tree_links = 0;
        for l in sim.link_ids().collect::<Vec<_>>() {
            let ((a, pa), (b, pb)) = sim.link_ends(l).unwrap();
            let (Some(ia), Some(ib)) = (
                topo.switches.iter().position(|&s| s == a),
                topo.switches.iter().position(|&s| s == b),
            ) else {
                continue; // the host's cable
            };
            if ia > ib {
                continue; // each cable once
            }
            match (forwarding(ia, pa), forwarding(ib, pb)) {
                (true, true) => tree_links += 1,
                (true, false) | (false, true) => {}
                (false, false) => panic!("{protocol:?}: link sw{ia}–sw{ib} discards at both ends"),
            }
        }
        assert_eq!(tree_links, 4, "{protocol:?}");
        inject_broadcast(&mut sim, &topo, Instant::from_secs(61));
        assert_eq!(sim.run_until(Instant::from_secs(70)), RunOutcome::TimeLimit);
        assert_eq!(data_frames_at_host(&sim, &topo), 0, "{protocol:?}");
    }
}

/// tshark reads the BPDUs of a capture as 802.1D/802.1w BPDUs, with the
/// fields this bridge wrote.
#[test]
fn tshark_decodes_the_bpdus() {
    if !strata_sim::testing::require_programs(&["tshark"]) {
        return;
    }
    for (protocol, version) in [(Protocol::Stp, "0"), (Protocol::Rstp, "2")] {
        let (mut sim, topo) = ring(Some(protocol), 3);
        let link = sim.link_from(topo.switches[0], 1).unwrap();
        let tap = sim.tap_memory(link).unwrap();
        assert_eq!(sim.run_until(Instant::from_secs(5)), RunOutcome::TimeLimit);
        let path =
            std::env::temp_dir().join(format!("strata-stp-{version}-{}.pcap", std::process::id()));
        std::fs::write(&path, sim.tap_bytes(tap).unwrap()).unwrap();
        let out = std::process::Command::new("tshark")
            .args(["-r", path.to_str().unwrap(), "-Y", "stp", "-T", "fields"])
            .args([
                "-e",
                "stp.version",
                "-e",
                "stp.root.hw",
                "-e",
                "stp.bridge.hw",
                "-e",
                "stp.flags.proposal",
                "-e",
                "_ws.expert",
            ])
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Switch 0 is the root: it sends every hello (0, 2, 4 s) and, under
        // RSTP, its first proposals.
        assert!(lines.len() >= 3, "{protocol:?}: {text}");
        for l in &lines {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f[0], version, "{l}");
            assert_eq!(f[1], "02:00:00:00:00:00", "{l}");
            assert_eq!(f[2], "02:00:00:00:00:00", "{l}");
            assert!(
                f.get(4).is_none_or(|e| e.is_empty()),
                "tshark flags a problem: {l}"
            );
        }
        if protocol == Protocol::Rstp {
            assert!(
                lines.iter().any(|l| l.split('\t').nth(3) == Some("1")),
                "a proposal: {text}"
            );
        }
    }
}
