//! How fast the simulator runs: whole small simulations per second (what a
//! seed sweep needs) and events per second in a broadcast storm.
//!
//! `cargo run --release -p strata-sim --example sim_speed`

use std::time::Instant as Wall;

use strata::time::{Duration, Instant};
use strata::wire::{Ipv4Addr, MacAddr};
use strata_sim::{frames, storm, LinkConfig, RunOutcome, ScriptedHost, Sim, Switch};

/// Two hosts on a switch over lossy links; h1 ARPs for h2 100 times, h2 answers.
fn small_run(seed: u64) -> u64 {
    let mut sim = Sim::new(seed);
    let (m1, m2) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
    let (i1, i2) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    let mut h1 = ScriptedHost::new("h1", m1);
    for k in 0..100 {
        h1.schedule(
            Instant::from_micros(100 * k),
            0,
            frames::arp_request(m1, i1, i2),
        );
    }
    let sw = sim.add_node(Box::new(Switch::new(2)));
    let h1 = sim.add_node(Box::new(h1));
    let h2 = sim.add_node(Box::new(ScriptedHost::new("h2", m2).with_arp_responder(i2)));
    let cfg = LinkConfig::default()
        .with_loss(0.02)
        .with_jitter(Duration::from_micros(5));
    sim.connect((h1, 0), (sw, 0), cfg.clone()).unwrap();
    sim.connect((h2, 0), (sw, 1), cfg).unwrap();
    assert_eq!(sim.run_until_idle(Instant::from_secs(10)), RunOutcome::Idle);
    sim.events_processed()
}

fn main() {
    let runs = 5_000;
    let t = Wall::now();
    let mut events = 0;
    for seed in 0..runs {
        events += small_run(seed);
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "small runs: {runs} runs in {s:.2} s = {:.0} runs/s ({:.1} M events/s, {} events/run)",
        runs as f64 / s,
        events as f64 / s / 1e6,
        events / runs
    );

    let mut sim = Sim::new(1);
    let topo = storm::switch_mesh(&mut sim, 4, &LinkConfig::default()).unwrap();
    storm::inject_broadcast(&mut sim, &topo, Instant::ZERO);
    sim.set_frame_budget(Some(2_000_000));
    let t = Wall::now();
    let out = sim.run_until_idle(Instant::from_secs(3600));
    let s = t.elapsed().as_secs_f64();
    println!(
        "storm (4-switch mesh): {out:?} after {} of virtual time; {} events in {s:.2} s = {:.1} M events/s",
        sim.now(),
        sim.events_processed(),
        sim.events_processed() as f64 / s / 1e6
    );
}
