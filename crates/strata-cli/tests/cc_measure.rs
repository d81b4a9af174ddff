//! Issue #14 point 7, measured in the lab (`strata sim bulk`), fixed
//! seeds, every figure printed beside its reference:
//!
//! * random loss: 1 % loss at 20 ms RTT, goodput at least the Mathis et
//!   al. bound MSS/RTT · 1.22/√p for NewReno, CUBIC beside it;
//! * fairness: 2 and 4 flows on one bottleneck reach Jain's index ≥ 0.95
//!   (5 s windows) within 30 s, CUBIC with CUBIC and NewReno with CUBIC.
//!
//! Sizes are kept small for debug builds; the random-loss measure runs
//! seeds 1 to 5.

mod common;

use common::{json_of, run as strata};

fn seeds() -> [&'static str; 5] {
    ["1", "2", "3", "4", "5"]
}

#[test]
fn random_loss_goodput_is_at_least_the_mathis_bound() {
    // Mathis et al. (1997): goodput ≤ MSS/RTT · C/√p with C = √(3/2) ≈
    // 1.22, p the probability that a segment is lost and RTT the round
    // trip the connection sees. Nominally MSS 1448 (timestamps on), 20 ms
    // and p = 1 %: 7.07 Mbit/s. A run's own p (drops on the sender's link
    // over the segments it sent) strays from 1 % by a tenth either way
    // with 60 losses in 8 MiB, and the RTT it sees includes the receiver's
    // delayed ACK of every second segment, and a sender that fills the
    // queue loses more than 1 %; the bound is taken with both
    // as the run measured them, and printed beside the nominal one.
    let nominal = 1448.0 * 8.0 / 0.020 * 1.22 / 0.01f64.sqrt();
    for seed in seeds() {
        for cc in ["newreno", "cubic"] {
            let v = json_of(&[
                "sim", "bulk", "--rtt", "20ms", "--loss", "1%", "--bytes", "8M", "--cc", cc,
                "--seed", seed, "--json",
            ]);
            let t = &v["tcp"];
            assert_eq!(t["verified"], true);
            let g = t["goodput_bps"].as_f64().unwrap();
            let p = t["link_drops"].as_f64().unwrap() / t["segments_sent"].as_f64().unwrap();
            let rtt = t["srtt_ms"].as_f64().unwrap() / 1e3;
            // 1 % at random, and whatever the sender's own overshoot adds
            // at the queue (CUBIC fills this 100 Mbit/s path's queue).
            assert!((0.005..0.1).contains(&p), "loss rate {p}");
            assert!((0.020..0.030).contains(&rtt), "RTT {rtt}");
            let mathis = 1448.0 * 8.0 / rtt * 1.22 / p.sqrt();
            println!(
                "seed {seed} {cc:>7}: goodput {:.2} Mbit/s; Mathis bound {:.2} Mbit/s at the run's \
                 p = {:.2} % and RTT {:.1} ms ({:.2}x; nominal 1 %, 20 ms: {:.2} Mbit/s, {:.2}x), \
                 {} retransmissions, {} RTOs",
                g / 1e6,
                mathis / 1e6,
                p * 100.0,
                rtt * 1e3,
                g / mathis,
                nominal / 1e6,
                g / nominal,
                t["retransmissions"],
                t["rto_expired"]
            );
            // What the sender undid as spurious must have been: every
            // frame lost on its link needed a retransmission that was not.
            // (Eifel applied to a later hole once undid genuine repairs
            // here, and CUBIC's window ran away to 70 Mbit/s at 1 % loss.)
            // Two of the sender's frames need no repair when lost: the
            // handshake's last ACK (the first data segment carries the
            // same ACK) and its ACK of the receiver's FIN (the receiver's
            // FIN retransmission draws a new one). Every other frame it
            // sends carries data, a SYN or a FIN.
            let retx = t["retransmissions"].as_u64().unwrap();
            let spurious = t["spurious_retransmissions"].as_u64().unwrap();
            let drops = t["link_drops"].as_u64().unwrap();
            assert!(
                retx - spurious + 2 >= drops,
                "{cc} seed {seed}: {retx} retransmissions, {spurious} undone as spurious, {drops} drops"
            );
            // NewReno, and CUBIC beside it: on this short path its
            // Reno-friendly region (RFC 9438 §4.3) must reach the same
            // bound as Reno.
            assert!(g >= mathis, "{cc} seed {seed}: {g} < {mathis}");
        }
    }
}

fn fairness(flows: &str, cc: &str, bytes: &str) -> (Option<f64>, f64, Vec<String>) {
    let v = json_of(&[
        "sim", "bulk", "--flows", flows, "--cc", cc, "--rate", "20mbit", "--rtt", "40ms",
        "--bytes", bytes, "--seed", "1", "--json",
    ]);
    let f = &v["flows"];
    for fl in f["flows"].as_array().unwrap() {
        assert_eq!(fl["verified"], true);
    }
    let per: Vec<String> = f["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|fl| {
            format!(
                "{} {:.2} Mbit/s",
                fl["cc"].as_str().unwrap(),
                fl["shared_bytes"].as_f64().unwrap() * 8.0 / f["shared_s"].as_f64().unwrap() / 1e6
            )
        })
        .collect();
    (f["fair_at_s"].as_f64(), f["jain"].as_f64().unwrap(), per)
}

/// 20 Mbit/s, 40 ms, one-BDP queue; each flow moves enough to run about
/// 12 s beside the others.
///
/// The measure: a 5 s window's Jain index reaches 0.95 within
/// 30 s. Over the whole shared time, slow start's overshoot included, the
/// index must stay ≥ 0.9 (no flow held to two thirds of another's share
/// for long). With the receiver acknowledging every second segment (the
/// delayed ACK, RFC 9293 §3.8.6.3), flows of one algorithm on this
/// drop-tail queue without jitter converge in waves: two CUBIC flows
/// swing between 0.92 and 0.95 in 5 s windows for about 20 s before they
/// settle; the README's "under loss" section shows the long runs.
fn fair_within_30_s(flows: &str, cc: &str, bytes: &str) {
    let (at, jain, per) = fairness(flows, cc, bytes);
    println!(
        "{flows} flows {cc:>13}: Jain's index ≥ 0.95 (5 s windows) from {} s (reference ≤ 30 s); \
         {jain:.3} over the whole shared time (reference ≥ 0.9); {}",
        at.map_or("never".to_string(), |t| format!("{t:.0}")),
        per.join(", ")
    );
    assert!(at.is_some_and(|t| t <= 30.0), "{flows} {cc}: {at:?}");
    assert!(jain >= 0.9, "{flows} {cc}: {jain}");
}

#[test]
fn two_cubic_flows_reach_a_fair_share_within_30_s() {
    fair_within_30_s("2", "cubic", "15M");
}

#[test]
fn newreno_and_cubic_reach_a_fair_share_within_30_s() {
    fair_within_30_s("2", "newreno,cubic", "15M");
}

#[test]
fn four_cubic_flows_reach_a_fair_share_within_30_s() {
    fair_within_30_s("4", "cubic", "8M");
}

#[test]
fn two_newreno_and_two_cubic_flows_reach_a_fair_share_within_30_s() {
    fair_within_30_s("4", "newreno,cubic", "8M");
}

/// Per-second throughput of stream 1 from `strata sim iperf3 -i 1` text.
fn intervals(out: &str) -> Vec<f64> {
    out.lines()
        .filter(|l| l.starts_with("[  1]") && !l.contains("sender") && !l.contains("receiver"))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let i = w.iter().position(|x| x.ends_with("bits/sec"))?;
            let v: f64 = w.get(i - 1)?.parse().ok()?;
            Some(match w[i] {
                "Gbits/sec" => v * 1e9,
                "Mbits/sec" => v * 1e6,
                "Kbits/sec" => v * 1e3,
                _ => v,
            })
        })
        .collect()
}

#[test]
fn high_bdp_cubic_uses_more_of_the_path_than_newreno() {
    // 1 Gbit/s, 100 ms (BDP 12.5 MB), jumbo frames to keep the event
    // count modest in debug builds (BDP ≈ 1400 segments), and random loss
    // of 1 in 100 000 frames: NewReno regains one segment per RTT after
    // each loss, CUBIC its W_max within K = ∛(W_max·0.3/0.4) s.
    // 12 s of virtual time (about a minute of a debug build's wall time);
    // STRATA_CC_MEASURE_ALL=1 runs 30 s.
    let secs = if std::env::var_os("STRATA_CC_MEASURE_ALL").is_some() {
        "30"
    } else {
        "12"
    };
    let run = |cc: &str| {
        let out = strata(&[
            "sim", "iperf3", "-t", secs, "-i", "1", "--rate", "1gbit", "--rtt", "100ms", "--mtu",
            "9000", "--loss", "0.001%", "--cc", cc, "--seed", "1",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        intervals(&String::from_utf8_lossy(&out.stdout))
    };
    let (reno, cubic) = (run("newreno"), run("cubic"));
    assert!(reno.len() >= 10 && cubic.len() >= 10, "{reno:?} {cubic:?}");
    println!("second  NewReno  CUBIC   (utilisation of 1 Gbit/s)");
    for (i, (r, c)) in reno.iter().zip(&cubic).enumerate() {
        println!("{:>6}  {:>6.1}%  {:>6.1}%", i + 1, r / 1e7, c / 1e7);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64 / 1e9;
    // After slow start (the first 3 s).
    let (r, c) = (mean(&reno[3..]), mean(&cubic[3..]));
    println!(
        "mean utilisation after 3 s: NewReno {:.1}%, CUBIC {:.1}%",
        r * 100.0,
        c * 100.0
    );
    // Both share slow start and the first loss (at 6 s); NewReno then
    // climbs one segment per RTT, CUBIC back to W_max within seconds.
    assert!(c > r, "CUBIC {c} vs NewReno {r}");
    assert!(c <= 1.0 && r > 0.5, "{c} {r}");
}
