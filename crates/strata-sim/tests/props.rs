//! Properties over random link configurations and random frames: nothing
//! panics, every frame is accounted for, and a seed replays exactly.

use proptest::prelude::*;
use strata::time::{Duration, Instant};
use strata::wire::MacAddr;
use strata_sim::{
    GilbertElliott, Hub, LinkConfig, LinkStats, QueueLimit, RunOutcome, ScriptedHost, Sim, Switch,
};

fn config() -> impl Strategy<Value = LinkConfig> {
    (
        (
            0u64..2_000,
            0u64..500,
            prop_oneof![Just(0u64), 1_000_000u64..1_000_000_000],
        ),
        (
            prop_oneof![
                Just(QueueLimit::Unlimited),
                (0usize..20).prop_map(QueueLimit::Frames),
                (0usize..5_000).prop_map(QueueLimit::Bytes)
            ],
            14usize..1600,
        ),
        (
            0.0..1.0f64,
            proptest::option::of((0.0..1.0f64, 0.0..1.0f64, 0.0..1.0f64, 0.0..1.0f64)),
        ),
        (0.0..1.0f64, 0.0..1.0f64, 0u64..3_000, 0.0..1.0f64),
        proptest::option::of((0u64..50_000, 0u64..50_000)),
    )
        .prop_map(
            |((lat, jit, bw), (q, maxf), (loss, ge), (dup, reo, reo_d, cor), part)| {
                let mut c = LinkConfig::default()
                    .with_latency(Duration::from_micros(lat))
                    .with_jitter(Duration::from_micros(jit))
                    .with_bandwidth(bw)
                    .with_queue_limit(q)
                    .with_max_frame(maxf)
                    .with_loss(loss)
                    .with_duplicate(dup)
                    .with_reorder(reo, Duration::from_micros(reo_d))
                    .with_corrupt(cor);
                if let Some((a, b, c2, d)) = ge {
                    c = c.with_burst_loss(GilbertElliott {
                        p_good_to_bad: a,
                        p_bad_to_good: b,
                        loss_good: c2,
                        loss_bad: d,
                    });
                }
                if let Some((s, e)) = part {
                    c = c.with_partition(
                        Instant::from_micros(s.min(e)),
                        Instant::from_micros(s.max(e)),
                    );
                }
                c
            },
        )
}

fn frames() -> impl Strategy<Value = Vec<(u64, Vec<u8>)>> {
    proptest::collection::vec(
        (
            0u64..60_000,
            proptest::collection::vec(any::<u8>(), 0..1600),
        ),
        0..40,
    )
}

/// Every frame offered is delivered (plus duplicates) or dropped once the network is idle.
fn conserved(s: &LinkStats) -> bool {
    s.frames_sent + s.duplicated == s.frames_delivered + s.dropped()
}

/// Three hosts sending random bytes through a switch and a hub over random links.
fn run(seed: u64, cfg: &LinkConfig, sends: &[(u64, Vec<u8>)]) -> (Sim, Vec<u8>) {
    let mut sim = Sim::new(seed);
    let sw = sim.add_node(Box::new(Switch::new(3)));
    let hub = sim.add_node(Box::new(Hub::new(3)));
    let mut hosts = Vec::new();
    for i in 0..3u8 {
        let mut h = ScriptedHost::new(format!("h{i}"), MacAddr([2, 0, 0, 0, 0, i]));
        for (k, (t, f)) in sends.iter().enumerate() {
            if k % 3 == usize::from(i) {
                h.schedule(Instant::from_micros(*t), 0, f.clone());
            }
        }
        hosts.push(sim.add_node(Box::new(h)));
    }
    sim.connect((hosts[0], 0), (sw, 0), cfg.clone()).unwrap();
    sim.connect((hosts[1], 0), (sw, 1), cfg.clone()).unwrap();
    sim.connect((sw, 2), (hub, 0), cfg.clone()).unwrap();
    sim.connect((hosts[2], 0), (hub, 1), cfg.clone()).unwrap();
    let tap = sim.tap_port_memory(sw, 2).unwrap();
    let out = sim.run_until_idle(Instant::from_secs(100));
    assert_eq!(out, RunOutcome::Idle);
    let pcap = sim.tap_bytes(tap).unwrap().to_vec();
    (sim, pcap)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_links_and_frames_conserve_and_replay(seed in any::<u64>(), cfg in config(), sends in frames()) {
        let (sim, pcap) = run(seed, &cfg, &sends);
        for id in sim.link_ids() {
            let s = sim.link_stats(id).unwrap();
            prop_assert!(conserved(&s), "{id}: {s:?}");
        }
        prop_assert!(conserved(&sim.total_stats()));
        let (_, again) = run(seed, &cfg, &sends);
        prop_assert_eq!(pcap, again);
    }
}
