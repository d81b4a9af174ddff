//! Hubs, learning switches and broadcast storms.

use strata::time::{Duration, Instant};
use strata::wire::{Ipv4Addr, MacAddr};
use strata_sim::{
    frames, storm, Hub, LinkConfig, NodeId, PortState, RunOutcome, ScriptedHost, Sim, Switch,
};

fn mac(i: u8) -> MacAddr {
    MacAddr([2, 0, 0, 0, 0, i])
}
fn ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, i)
}
const ETH_TEST: u16 = 0x88b5;

/// Three hosts (h1, h2, h3 with MACs 1, 2, 3) on ports 0, 1, 2 of `center`.
fn star(center: Box<dyn strata_sim::Node>, h1: ScriptedHost) -> (Sim, NodeId, [NodeId; 3]) {
    let mut sim = Sim::new(5);
    let c = sim.add_node(center);
    let hs = [
        sim.add_node(Box::new(h1)),
        sim.add_node(Box::new(
            ScriptedHost::new("h2", mac(2)).with_arp_responder(ip(2)),
        )),
        sim.add_node(Box::new(
            ScriptedHost::new("h3", mac(3)).with_arp_responder(ip(3)),
        )),
    ];
    for (p, h) in hs.iter().enumerate() {
        sim.connect((*h, 0), (c, p), LinkConfig::default()).unwrap();
    }
    (sim, c, hs)
}

fn rx_count(sim: &Sim, h: NodeId) -> usize {
    sim.node::<ScriptedHost>(h).unwrap().received().len()
}

#[test]
fn hub_repeats_to_every_other_port() {
    let h1 = ScriptedHost::new("h1", mac(1)).send_at(
        Instant::ZERO,
        frames::ethernet(mac(2), mac(1), ETH_TEST, &[0; 50]),
    );
    let (mut sim, hub, [h1, h2, h3]) = star(Box::new(Hub::new(3)), h1);
    assert_eq!(sim.run_until_idle(Instant::from_secs(1)), RunOutcome::Idle);
    // Unicast to h2, but a hub repeats it everywhere except back to h1.
    assert_eq!(
        (rx_count(&sim, h1), rx_count(&sim, h2), rx_count(&sim, h3)),
        (0, 1, 1)
    );
    let hub = sim.node::<Hub>(hub).unwrap();
    assert_eq!((hub.frames_received(), hub.frames_repeated()), (1, 2));
}

#[test]
fn switch_learns_and_stops_flooding() {
    let t = Instant::from_millis;
    let h1 = ScriptedHost::new("h1", mac(1))
        // Broadcast ARP request for h2: flooded; h2 answers by unicast.
        .send_at(t(0), frames::arp_request(mac(1), ip(1), ip(2)))
        // Unicast to h2, now known: forwarded to h2 only.
        .send_at(t(10), frames::ethernet(mac(2), mac(1), ETH_TEST, &[1; 50]))
        // Unicast to a station never seen: flooded.
        .send_at(t(20), frames::ethernet(mac(9), mac(1), ETH_TEST, &[2; 50]));
    let (mut sim, sw, [h1, h2, h3]) = star(Box::new(Switch::named("sw", 3)), h1);
    assert_eq!(sim.run_until_idle(Instant::from_secs(1)), RunOutcome::Idle);

    let host = |h| sim.node::<ScriptedHost>(h).unwrap();
    // h1 got the ARP reply (only that), h2 the request + unicast + unknown flood, h3 request + flood.
    assert_eq!(host(h1).received().len(), 1);
    let reply = frames::parse_arp(&host(h1).received()[0].frame).unwrap();
    assert_eq!(
        (reply.op, reply.sender_mac, reply.sender_ip),
        (frames::ARP_REPLY, mac(2), ip(2))
    );
    assert_eq!(host(h2).received().len(), 3);
    assert_eq!(host(h3).received().len(), 2);
    assert_eq!(host(h3).arp_replies(), 0, "h3 is not asked for");

    let s = sim.node::<Switch>(sw).unwrap();
    let st = s.stats();
    assert_eq!(
        (st.received, st.flooded, st.forwarded, st.learned),
        (4, 2, 2, 2)
    );
    assert_eq!(s.lookup(mac(1), t(30)), Some(0));
    assert_eq!(s.lookup(mac(2), t(30)), Some(1));
    assert_eq!(s.lookup(mac(3), t(30)), None);
    assert_eq!(s.mac_table(t(30)).len(), 2);
}

#[test]
fn switch_entries_age_out_and_flooding_resumes() {
    let h1 = ScriptedHost::new("h1", mac(1))
        .send_at(Instant::ZERO, frames::arp_request(mac(1), ip(1), ip(2)))
        .send_at(
            Instant::from_millis(500),
            frames::ethernet(mac(2), mac(1), ETH_TEST, &[1; 50]),
        )
        .send_at(
            Instant::from_millis(2500),
            frames::ethernet(mac(2), mac(1), ETH_TEST, &[2; 50]),
        );
    let sw = Switch::named("sw", 3).with_aging(Duration::from_secs(1));
    let (mut sim, sw, [_, h2, h3]) = star(Box::new(sw), h1);
    sim.run_until_idle(Instant::from_secs(10));
    // h3: the ARP broadcast, not the frame at 0.5 s (h2 known), but the
    // frame at 2.5 s (h2's entry from t≈0 aged out after 1 s).
    assert_eq!(rx_count(&sim, h3), 2);
    assert_eq!(rx_count(&sim, h2), 3);
    let s = sim.node::<Switch>(sw).unwrap();
    assert_eq!(s.lookup(mac(2), Instant::from_millis(2500)), None);
    assert!(s.stats().aged_out >= 1);
    assert_eq!(s.stats().flooded, 2);
}

#[test]
fn switch_filters_same_segment_and_ignores_reserved_groups() {
    // h1 and h2 share a hub on switch port 0; h3 is on port 1.
    let mut sim = Sim::new(1);
    let sw = sim.add_node(Box::new(Switch::new(2)));
    let hub = sim.add_node(Box::new(Hub::new(3)));
    let h1 = ScriptedHost::new("h1", mac(1))
        .send_at(
            Instant::from_millis(1),
            frames::ethernet(mac(2), mac(1), ETH_TEST, &[0; 50]),
        )
        .send_at(
            Instant::from_millis(2),
            frames::ethernet(MacAddr([1, 0x80, 0xc2, 0, 0, 0]), mac(1), 0x0026, &[0; 46]),
        );
    let h2 = ScriptedHost::new("h2", mac(2)).send_at(
        Instant::ZERO,
        frames::ethernet(mac(1), mac(2), ETH_TEST, &[0; 50]),
    );
    let h1 = sim.add_node(Box::new(h1));
    let h2 = sim.add_node(Box::new(h2));
    let h3 = sim.add_node(Box::new(ScriptedHost::new("h3", mac(3))));
    sim.connect((hub, 0), (sw, 0), LinkConfig::default())
        .unwrap();
    sim.connect((h1, 0), (hub, 1), LinkConfig::default())
        .unwrap();
    sim.connect((h2, 0), (hub, 2), LinkConfig::default())
        .unwrap();
    sim.connect((h3, 0), (sw, 1), LinkConfig::default())
        .unwrap();
    sim.run_until_idle(Instant::from_secs(1));
    // h2→h1 unknown: flooded to h3. h1→h2: known on the ingress port: filtered.
    // The BPDU-group frame is not relayed.
    assert_eq!(rx_count(&sim, h3), 1);
    let st = sim.node::<Switch>(sw).unwrap().stats();
    assert_eq!((st.flooded, st.filtered, st.reserved), (1, 1, 1));
}

#[test]
fn ring_storm_runs_until_the_frame_budget() {
    let mut sim = Sim::new(3);
    let topo = storm::switch_ring(&mut sim, 3, &LinkConfig::default()).unwrap();
    storm::inject_broadcast(&mut sim, &topo, Instant::from_millis(1));
    sim.set_frame_budget(Some(10_000));
    let out = sim.run_until_idle(Instant::from_secs(3600));
    // The event that crosses the budget finishes (a flood is up to 2 copies here).
    let RunOutcome::FrameBudgetExhausted { frames } = out else {
        panic!("{out:?}")
    };
    assert!((10_000..10_002).contains(&frames), "{frames}");
    assert_eq!(frames, sim.frames_offered());
    // Running again stops at once: the budget stays spent.
    assert_eq!(sim.run_until_idle(Instant::from_secs(3600)), out);
    // One broadcast became thousands of frames within milliseconds of virtual time.
    assert!(sim.now() < Instant::from_secs(1), "{}", sim.now());
    let host = sim.node::<ScriptedHost>(topo.host).unwrap();
    assert!(
        host.received().len() > 1000,
        "host got {} copies",
        host.received().len()
    );
    // The host's address flaps between ports of sw0 as copies come round.
    let sw0 = sim.node::<Switch>(topo.switches[0]).unwrap().stats();
    assert!(sw0.moved > 100, "{sw0:?}");
}

#[test]
fn blocking_one_ring_port_cures_the_storm() {
    let mut sim = Sim::new(3);
    let topo = storm::switch_ring(&mut sim, 3, &LinkConfig::default()).unwrap();
    // What spanning tree would do: block one port that closes the loop.
    assert!(sim
        .node_mut::<Switch>(topo.switches[2])
        .unwrap()
        .set_port_state(1, PortState::Blocking));
    storm::inject_broadcast(&mut sim, &topo, Instant::from_millis(1));
    sim.set_frame_budget(Some(10_000));
    assert_eq!(
        sim.run_until_idle(Instant::from_secs(3600)),
        RunOutcome::Idle
    );
    assert!(sim.frames_offered() < 10, "{}", sim.frames_offered());
    assert!(sim
        .node::<ScriptedHost>(topo.host)
        .unwrap()
        .received()
        .is_empty());
}

#[test]
fn mesh_storm_multiplies_faster_than_a_ring() {
    let cfg = LinkConfig::default().with_latency(Duration::from_micros(100));
    let budget = 20_000;
    let mut time_to_budget = Vec::new();
    for mesh in [false, true] {
        let mut sim = Sim::new(3);
        let topo = if mesh {
            storm::switch_mesh(&mut sim, 4, &cfg).unwrap()
        } else {
            storm::switch_ring(&mut sim, 4, &cfg).unwrap()
        };
        storm::inject_broadcast(&mut sim, &topo, Instant::ZERO);
        sim.set_frame_budget(Some(budget));
        let out = sim.run_until_idle(Instant::from_secs(3600));
        assert!(
            matches!(out, RunOutcome::FrameBudgetExhausted { frames } if frames >= budget),
            "{out:?}"
        );
        time_to_budget.push(sim.now());
    }
    assert!(
        time_to_budget[1].as_nanos() * 10 < time_to_budget[0].as_nanos(),
        "ring {} mesh {}",
        time_to_budget[0],
        time_to_budget[1]
    );
}

#[test]
fn switch_port_states_and_group_sources() {
    let mut sw = Switch::new(2);
    assert!(!sw.set_port_state(7, PortState::Blocking));
    assert_eq!(sw.port_state(7), None);
    let t = Instant::ZERO;
    use strata_sim::Node;
    // A group address as source is never learned; the frame is still flooded.
    sw.receive(
        t,
        0,
        &frames::ethernet(mac(2), MacAddr([1, 0, 0x5e, 0, 0, 1]), ETH_TEST, &[0; 46]),
    );
    assert!(sw.mac_table(t).is_empty());
    assert_eq!(sw.poll_transmit(t).map(|(p, _)| p), Some(1));
    // Learn h1 on port 0, then block port 0: the entry goes, frames on it are dropped.
    sw.receive(t, 0, &frames::ethernet(mac(2), mac(1), ETH_TEST, &[0; 46]));
    assert_eq!(sw.lookup(mac(1), t), Some(0));
    while sw.poll_transmit(t).is_some() {}
    assert!(sw.set_port_state(0, PortState::Blocking));
    assert_eq!(sw.lookup(mac(1), t), None);
    sw.receive(t, 0, &frames::ethernet(mac(2), mac(1), ETH_TEST, &[0; 46]));
    assert_eq!(sw.stats().dropped_blocking, 1);
    // Nothing is flooded out of the blocking port either.
    sw.receive(
        t,
        1,
        &frames::ethernet(MacAddr::BROADCAST, mac(2), ETH_TEST, &[0; 46]),
    );
    assert!(sw.poll_transmit(t).is_none());
    // A runt is counted, not parsed.
    sw.receive(t, 1, &[0; 13]);
    assert_eq!(sw.stats().dropped_runt, 1);
}

#[test]
fn station_move_is_relearned() {
    use strata_sim::Node;
    let mut sw = Switch::new(3);
    let t = Instant::from_millis;
    sw.receive(
        t(0),
        0,
        &frames::ethernet(mac(9), mac(1), ETH_TEST, &[0; 46]),
    );
    sw.receive(
        t(1),
        2,
        &frames::ethernet(mac(9), mac(1), ETH_TEST, &[0; 46]),
    );
    assert_eq!(sw.lookup(mac(1), t(2)), Some(2));
    assert_eq!((sw.stats().learned, sw.stats().moved), (1, 1));
}
