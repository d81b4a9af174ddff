//! Link behaviour in virtual time: delay, queueing and every fault mode.

use strata::time::{Duration, Instant};
use strata::wire::MacAddr;
use strata_sim::{
    frames, GilbertElliott, LinkConfig, LinkId, Node, NodeId, QueueLimit, Received, RunOutcome,
    ScriptedHost, Sim,
};

const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xa]);
const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xb]);
/// IEEE "local experimental" EtherType for test payloads.
const ETH_TEST: u16 = 0x88b5;

/// A `len`-byte frame from A to B whose payload starts with `seq`.
fn seq_frame(seq: u32, len: usize) -> Vec<u8> {
    let mut payload = vec![0u8; len.saturating_sub(14)];
    payload[..4].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in payload.iter_mut().enumerate().skip(4) {
        *b = (i as u8).wrapping_mul(31) ^ (seq as u8);
    }
    frames::ethernet(B, A, ETH_TEST, &payload)
}

fn seq_of(frame: &[u8]) -> u32 {
    u32::from_be_bytes([frame[14], frame[15], frame[16], frame[17]])
}

/// Host A sends `n` frames of `len` bytes, one every `gap`, from time zero,
/// to host B over one cable. Returns (sim, a, b, link a→b).
fn pair(
    seed: u64,
    cfg: LinkConfig,
    n: u32,
    len: usize,
    gap: Duration,
) -> (Sim, NodeId, NodeId, LinkId) {
    let mut sim = Sim::new(seed);
    let mut ha = ScriptedHost::new("a", A);
    for i in 0..n {
        ha.schedule(Instant::ZERO + gap * i, 0, seq_frame(i, len));
    }
    let a = sim.add_node(Box::new(ha));
    let b = sim.add_node(Box::new(ScriptedHost::new("b", B)));
    let (ab, _) = sim.connect((a, 0), (b, 0), cfg).unwrap();
    (sim, a, b, ab)
}

fn received(sim: &Sim, b: NodeId) -> Vec<Received> {
    sim.node::<ScriptedHost>(b).unwrap().received().to_vec()
}

#[test]
fn latency_and_serialisation_are_exact() {
    // 125 bytes = 1000 bits = 1 ms at 1 Mbit/s; latency 10 ms.
    let cfg = LinkConfig::default()
        .with_bandwidth(1_000_000)
        .with_latency(Duration::from_millis(10));
    let (mut sim, _, b, ab) = pair(1, cfg, 3, 125, Duration::ZERO);
    assert_eq!(sim.run_until_idle(Instant::from_secs(1)), RunOutcome::Idle);
    let rx = received(&sim, b);
    let times: Vec<Instant> = rx.iter().map(|r| r.at).collect();
    // Frames queue behind each other: serialisation ends at 1, 2, 3 ms.
    assert_eq!(
        times,
        vec![
            Instant::from_millis(11),
            Instant::from_millis(12),
            Instant::from_millis(13)
        ]
    );
    assert_eq!(sim.now(), Instant::from_millis(13));
    let s = sim.link_stats(ab).unwrap();
    assert_eq!(
        (s.frames_sent, s.frames_delivered, s.bytes_delivered),
        (3, 3, 375)
    );
    assert_eq!(s.max_queue_frames, 2);
}

#[test]
fn run_until_advances_clock_and_reports_pending_work() {
    let cfg = LinkConfig::default().with_latency(Duration::from_millis(10));
    let (mut sim, _, b, _) = pair(1, cfg, 1, 60, Duration::ZERO);
    assert_eq!(
        sim.run_until(Instant::from_millis(5)),
        RunOutcome::TimeLimit
    );
    assert_eq!(sim.now(), Instant::from_millis(5));
    assert!(received(&sim, b).is_empty());
    assert_eq!(sim.run_until(Instant::from_millis(50)), RunOutcome::Idle);
    assert_eq!(sim.now(), Instant::from_millis(50));
    assert_eq!(received(&sim, b).len(), 1);
}

#[test]
fn queue_tail_drops_in_frames_and_bytes() {
    // Five frames at once on a slow link: one on the wire, two queued, two dropped.
    let cfg = LinkConfig::default()
        .with_bandwidth(1_000_000)
        .with_queue_limit(QueueLimit::Frames(2));
    let (mut sim, _, b, ab) = pair(1, cfg, 5, 125, Duration::ZERO);
    sim.run_until_idle(Instant::from_secs(1));
    let s = sim.link_stats(ab).unwrap();
    assert_eq!(
        (s.frames_sent, s.frames_delivered, s.dropped_queue),
        (5, 3, 2)
    );
    let seqs: Vec<u32> = received(&sim, b).iter().map(|r| seq_of(&r.frame)).collect();
    assert_eq!(seqs, vec![0, 1, 2], "tail drop keeps the head");

    // 300 bytes of queue hold two 125-byte frames, not three.
    let cfg = LinkConfig::default()
        .with_bandwidth(1_000_000)
        .with_queue_limit(QueueLimit::Bytes(300));
    let (mut sim, _, _, ab) = pair(1, cfg, 5, 125, Duration::ZERO);
    sim.run_until_idle(Instant::from_secs(1));
    let s = sim.link_stats(ab).unwrap();
    assert_eq!((s.frames_delivered, s.dropped_queue), (3, 2));

    // The queue drains: frames spaced by their serialisation time all pass.
    let cfg = LinkConfig::default()
        .with_bandwidth(1_000_000)
        .with_queue_limit(QueueLimit::Frames(0));
    let (mut sim, _, _, ab) = pair(1, cfg, 5, 125, Duration::from_millis(1));
    sim.run_until_idle(Instant::from_secs(1));
    assert_eq!(sim.link_stats(ab).unwrap().frames_delivered, 5);
}

const N: u32 = 10_000;

fn lossy_run(seed: u64, cfg: LinkConfig) -> (Sim, NodeId, LinkId) {
    let (mut sim, _, b, ab) = pair(seed, cfg, N, 64, Duration::from_micros(10));
    assert_eq!(sim.run_until_idle(Instant::from_secs(10)), RunOutcome::Idle);
    (sim, b, ab)
}

#[test]
fn random_loss_rate_matches() {
    let (sim, b, ab) = lossy_run(11, LinkConfig::default().with_loss(0.3));
    let s = sim.link_stats(ab).unwrap();
    let rate = s.dropped_loss as f64 / N as f64;
    assert!((rate - 0.3).abs() < 0.03, "loss rate {rate}");
    assert_eq!(s.dropped(), s.dropped_loss);
    assert_eq!(s.frames_delivered + s.dropped_loss, u64::from(N));
    assert_eq!(received(&sim, b).len() as u64, s.frames_delivered);
}

/// Lengths of runs of consecutive missing sequence numbers.
fn loss_bursts(rx: &[Received]) -> Vec<u32> {
    let mut got = vec![false; N as usize];
    for r in rx {
        got[seq_of(&r.frame) as usize] = true;
    }
    let mut bursts = Vec::new();
    let mut run = 0;
    for g in got {
        if g {
            if run > 0 {
                bursts.push(run);
            }
            run = 0;
        } else {
            run += 1;
        }
    }
    if run > 0 {
        bursts.push(run);
    }
    bursts
}

#[test]
fn gilbert_elliott_loss_comes_in_bursts() {
    let ge = GilbertElliott::gilbert(0.05, 0.3);
    let (sim, b, ab) = lossy_run(12, LinkConfig::default().with_burst_loss(ge));
    let s = sim.link_stats(ab).unwrap();
    let rate = s.dropped_burst as f64 / N as f64;
    assert!(
        (rate - ge.mean_loss()).abs() < 0.03,
        "burst loss rate {rate} vs {}",
        ge.mean_loss()
    );
    let bursts = loss_bursts(&received(&sim, b));
    let mean = bursts.iter().sum::<u32>() as f64 / bursts.len() as f64;
    // Expected mean burst 1/0.3 ≈ 3.3 frames.
    assert!(mean > 2.5, "mean burst {mean}");

    // Independent loss at the same rate gives bursts of about one frame.
    let (sim, b, _) = lossy_run(12, LinkConfig::default().with_loss(ge.mean_loss()));
    let bursts = loss_bursts(&received(&sim, b));
    let mean_indep = bursts.iter().sum::<u32>() as f64 / bursts.len() as f64;
    assert!(mean_indep < 1.3, "independent mean burst {mean_indep}");
}

#[test]
fn duplication_delivers_identical_copies() {
    let (sim, b, ab) = lossy_run(13, LinkConfig::default().with_duplicate(0.2));
    let s = sim.link_stats(ab).unwrap();
    let rate = s.duplicated as f64 / N as f64;
    assert!((rate - 0.2).abs() < 0.03, "dup rate {rate}");
    assert_eq!(s.frames_delivered, u64::from(N) + s.duplicated);
    let rx = received(&sim, b);
    let adjacent_copies = rx
        .windows(2)
        .filter(|w| w[0].frame == w[1].frame && w[0].at == w[1].at)
        .count();
    assert_eq!(adjacent_copies as u64, s.duplicated);
}

#[test]
fn reordering_lets_later_frames_overtake() {
    let cfg = LinkConfig::default().with_reorder(0.1, Duration::from_millis(1));
    let (sim, b, ab) = lossy_run(14, cfg);
    let s = sim.link_stats(ab).unwrap();
    let rate = s.reordered as f64 / N as f64;
    assert!((rate - 0.1).abs() < 0.03, "reorder rate {rate}");
    let rx = received(&sim, b);
    assert_eq!(rx.len() as u32, N, "reordering loses nothing");
    let mut max = None;
    let mut late = 0;
    for r in &rx {
        let q = seq_of(&r.frame);
        if max.is_some_and(|m| q < m) {
            late += 1;
        }
        max = max.max(Some(q));
    }
    // Every held-back frame but possibly the last few is overtaken.
    assert!(
        late <= s.reordered && late + 10 >= s.reordered,
        "late {late}, reordered {}",
        s.reordered
    );
    // Without the fault, order is kept.
    let (sim, b, _) = lossy_run(14, LinkConfig::default());
    let seqs: Vec<u32> = received(&sim, b).iter().map(|r| seq_of(&r.frame)).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn jitter_spreads_arrivals_but_keeps_order() {
    let cfg = LinkConfig::default()
        .with_bandwidth(0)
        .with_latency(Duration::from_millis(1))
        .with_jitter(Duration::from_millis(5));
    let (mut sim, _, b, _) = pair(15, cfg, 1000, 64, Duration::from_millis(1));
    sim.run_until_idle(Instant::from_secs(10));
    let rx = received(&sim, b);
    assert_eq!(rx.len(), 1000);
    assert!(rx
        .windows(2)
        .all(|w| seq_of(&w[0].frame) < seq_of(&w[1].frame) && w[0].at <= w[1].at));
    let delays: Vec<Duration> = rx
        .iter()
        .map(|r| r.at - Instant::from_millis(u64::from(seq_of(&r.frame))))
        .collect();
    assert!(delays.iter().all(|d| *d >= Duration::from_millis(1)));
    assert!(delays.iter().any(|d| *d > Duration::from_millis(3)));
    assert!(
        delays
            .iter()
            .filter(|d| **d == Duration::from_millis(1))
            .count()
            < 100
    );
}

#[test]
fn corruption_flips_exactly_one_bit() {
    let (sim, b, ab) = lossy_run(16, LinkConfig::default().with_corrupt(1.0));
    assert_eq!(sim.link_stats(ab).unwrap().corrupted, u64::from(N));
    let rx = received(&sim, b);
    assert_eq!(rx.len() as u32, N);
    let mut positions = std::collections::BTreeSet::new();
    for (i, r) in rx.iter().enumerate() {
        let orig = seq_frame(i as u32, 64);
        let diff: u32 = orig
            .iter()
            .zip(&r.frame)
            .map(|(x, y)| (x ^ y).count_ones())
            .sum();
        assert_eq!(diff, 1, "frame {i}");
        positions.insert(orig.iter().zip(&r.frame).position(|(x, y)| x != y).unwrap());
    }
    assert_eq!(positions.len(), 64, "every byte position gets hit");

    let (sim, _, ab) = lossy_run(16, LinkConfig::default().with_corrupt(0.05));
    let rate = sim.link_stats(ab).unwrap().corrupted as f64 / N as f64;
    assert!((rate - 0.05).abs() < 0.03, "corrupt rate {rate}");
}

#[test]
fn partition_drops_exactly_inside_the_window() {
    let cfg =
        LinkConfig::default().with_partition(Instant::from_millis(10), Instant::from_millis(20));
    let (mut sim, _, b, ab) = pair(17, cfg, 30, 64, Duration::from_millis(1));
    sim.run_until_idle(Instant::from_secs(1));
    let seqs: Vec<u32> = received(&sim, b).iter().map(|r| seq_of(&r.frame)).collect();
    let expect: Vec<u32> = (0..10).chain(20..30).collect();
    assert_eq!(seqs, expect);
    assert_eq!(sim.link_stats(ab).unwrap().dropped_partition, 10);
}

#[test]
fn partition_can_be_added_mid_run() {
    let (mut sim, _, b, ab) = pair(17, LinkConfig::default(), 30, 64, Duration::from_millis(1));
    sim.run_until(Instant::from_micros(4_500));
    sim.link_config_mut(ab)
        .unwrap()
        .partitions
        .push((Instant::from_millis(5), Instant::from_millis(7)));
    sim.run_until_idle(Instant::from_secs(1));
    assert_eq!(received(&sim, b).len(), 28);
}

#[test]
fn oversize_frames_are_dropped_and_counted() {
    let mut sim = Sim::new(1);
    let ha = ScriptedHost::new("a", A)
        .send_at(Instant::ZERO, seq_frame(0, 1514))
        .send_at(Instant::ZERO, seq_frame(1, 1515));
    let a = sim.add_node(Box::new(ha));
    let b = sim.add_node(Box::new(ScriptedHost::new("b", B)));
    let (ab, _) = sim.connect((a, 0), (b, 0), LinkConfig::default()).unwrap();
    sim.run_until_idle(Instant::from_secs(1));
    let s = sim.link_stats(ab).unwrap();
    assert_eq!((s.frames_delivered, s.dropped_oversize), (1, 1));
    assert_eq!(received(&sim, b)[0].frame.len(), 1514);
}

#[test]
fn frames_to_unattached_ports_are_counted() {
    let mut sim = Sim::new(1);
    let mut h = ScriptedHost::new("a", A);
    h.schedule(Instant::ZERO, 3, seq_frame(0, 64));
    sim.add_node(Box::new(h));
    assert_eq!(sim.run_until_idle(Instant::from_secs(1)), RunOutcome::Idle);
    assert_eq!(sim.frames_unattached(), 1);
}

#[test]
fn stats_table_names_both_ends() {
    let (mut sim, _, _, _) = pair(
        1,
        LinkConfig::default().with_loss(0.5),
        10,
        64,
        Duration::from_millis(1),
    );
    sim.run_until_idle(Instant::from_secs(1));
    let t = sim.stats_table();
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with("link0   a[0] -> b[0]  sent 10 (640 B)"),
        "{t}"
    );
    assert!(lines[0].contains("[loss "), "{t}");
    assert!(lines[1].contains("b[0] -> a[0]  sent 0 (0 B)"), "{t}");
}

/// A node with a programmable timer, to check wake-up bookkeeping.
struct Timer {
    wants: Option<Instant>,
    fired: Vec<Instant>,
    /// After firing, ask again this much later (`None`: stop).
    period: Option<Duration>,
}

impl Node for Timer {
    fn receive(&mut self, _: Instant, _: usize, _: &[u8]) {}
    fn poll_transmit(&mut self, _: Instant) -> Option<(usize, Vec<u8>)> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.wants
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.fired.push(now);
        self.wants = self.period.map(|p| now + p);
    }
}

#[test]
fn one_pending_wakeup_per_node_stale_ones_ignored() {
    let mut sim = Sim::new(1);
    let t = sim.add_node(Box::new(Timer {
        wants: Some(Instant::from_millis(10)),
        fired: vec![],
        period: None,
    }));
    sim.run_until(Instant::from_millis(1));
    // The application moves the timer later, then earlier: only the last counts.
    sim.with_node::<Timer, _>(t, |n, _| n.wants = Some(Instant::from_millis(30)))
        .unwrap();
    sim.with_node::<Timer, _>(t, |n, _| n.wants = Some(Instant::from_millis(20)))
        .unwrap();
    assert_eq!(sim.run_until_idle(Instant::from_secs(1)), RunOutcome::Idle);
    assert_eq!(
        sim.node::<Timer>(t).unwrap().fired,
        vec![Instant::from_millis(20)]
    );

    // Cancelling through node_mut is seen before the next event.
    sim.node_mut::<Timer>(t).unwrap().wants = Some(Instant::from_millis(100));
    sim.run_until(Instant::from_millis(50));
    sim.node_mut::<Timer>(t).unwrap().wants = None;
    assert_eq!(sim.run_until_idle(Instant::from_secs(1)), RunOutcome::Idle);
    assert_eq!(sim.node::<Timer>(t).unwrap().fired.len(), 1);
}

#[test]
fn periodic_timer_runs_to_the_time_limit_and_stalls_are_caught() {
    let mut sim = Sim::new(1);
    let t = sim.add_node(Box::new(Timer {
        wants: Some(Instant::ZERO),
        fired: vec![],
        period: Some(Duration::from_millis(100)),
    }));
    assert_eq!(
        sim.run_until_idle(Instant::from_millis(1000)),
        RunOutcome::TimeLimit
    );
    assert_eq!(sim.node::<Timer>(t).unwrap().fired.len(), 11);
    assert_eq!(sim.now(), Instant::from_millis(1000));

    // A node that always wants "now" would freeze the clock: reported, not a hang.
    let mut sim = Sim::new(1);
    sim.set_stall_limit(1000);
    sim.add_node(Box::new(Timer {
        wants: Some(Instant::ZERO),
        fired: vec![],
        period: Some(Duration::ZERO),
    }));
    assert_eq!(
        sim.run_until_idle(Instant::from_secs(1)),
        RunOutcome::Stalled { at: Instant::ZERO }
    );
}

#[test]
fn run_until_condition_stops_at_the_event_that_satisfies_it() {
    let cfg = LinkConfig::default()
        .with_bandwidth(1_000_000)
        .with_latency(Duration::from_millis(10));
    let (mut sim, _, b, _) = pair(1, cfg, 5, 125, Duration::ZERO);
    let out = sim.run_until_condition(Instant::from_secs(1), |s| {
        s.node::<ScriptedHost>(b).unwrap().received().len() >= 2
    });
    assert_eq!(out, RunOutcome::ConditionMet);
    assert_eq!(sim.now(), Instant::from_millis(12));
    assert_eq!(received(&sim, b).len(), 2);
    // A condition that never holds ends like run_until_idle.
    assert_eq!(
        sim.run_until_condition(Instant::from_secs(1), |_| false),
        RunOutcome::Idle
    );
    assert_eq!(received(&sim, b).len(), 5);
}
