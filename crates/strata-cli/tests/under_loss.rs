//! Issue #14, "clean path": `strata sim bulk` over 100 Mbit/s with a
//! one-BDP queue and no random loss. Slow start overshoots the queue once;
//! SACK loss recovery (RFC 6675 with PRR, RFC 6937) must repair the burst
//! of drops in a few round trips, not one hole per round trip.
//!
//! Each size must finish within 1.5× of the ideal time (handshake, slow
//! start from IW10 and serialisation at the link rate), and the sender's
//! retransmissions must be at most 1.2× the queue drops, with the default
//! congestion control (CUBIC, RFC 9438) and with NewReno. Every figure is
//! printed beside its reference. Every size from 64 KiB to 50 MiB runs
//! (virtual time: about 15 s for all of them in a debug build).

mod common;

const RATE: f64 = 100e6;
/// Payload of a full segment with timestamps (MTU 1500).
const MSS: f64 = 1448.0;

/// The ideal time: ARP and handshake (two round trips), then rounds of
/// slow start from IW10 doubling per round trip until the window covers
/// the bandwidth-delay product, then the rest at the link rate, plus the
/// last byte's one-way trip.
fn ideal(bytes: f64, rtt: f64) -> f64 {
    let bdp = RATE * rtt / 8.0;
    let mut t = 2.0 * rtt;
    let mut w = 10.0 * MSS;
    let mut left = bytes;
    loop {
        if w >= bdp || left <= w {
            return t + left * 8.0 / RATE + rtt / 2.0;
        }
        left -= w;
        t += rtt;
        w *= 2.0;
    }
}

/// `strata sim ARGS --json`, which must succeed: its summary.
fn json(args: &[&str]) -> serde_json::Value {
    common::json_of(&[args, &["--json"]].concat())
}

/// `strata sim bulk` over the clean 100 Mbit/s path at `rtt`, seed 1,
/// with `extra` options: the whole summary, its byte check passed.
fn bulk(bytes: &str, rtt: &str, extra: &[&str]) -> serde_json::Value {
    let mut a = vec![
        "sim", "bulk", "--rate", "100mbit", "--rtt", rtt, "--seed", "1", "--bytes", bytes,
    ];
    a.extend_from_slice(extra);
    let v = json(&a);
    assert_eq!(v["tcp"]["verified"], true, "{a:?}");
    v
}

fn u(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64().unwrap()
}

fn f(v: &serde_json::Value, k: &str) -> f64 {
    v[k].as_f64().unwrap()
}

#[test]
fn clean_path_finishes_near_the_ideal_time_with_few_retransmissions() {
    let sizes = [
        ("64K", 65_536.0),
        ("256K", 262_144.0),
        ("1M", 1_048_576.0),
        ("1200K", 1_228_800.0),
        ("1500K", 1_536_000.0),
        ("4M", 4_194_304.0),
        ("16M", 16_777_216.0),
        ("50M", 52_428_800.0),
    ];
    let mut failures = Vec::new();
    // The default congestion control (CUBIC, RFC 9438), and NewReno beside it.
    for cc in [None, Some("newreno")] {
        let name = cc.unwrap_or("default (cubic)");
        let extra: Vec<&str> = cc.map(|c| vec!["--cc", c]).unwrap_or_default();
        for (rtt_s, rtt) in [("20ms", 0.020), ("40ms", 0.040)] {
            for &(size, bytes) in &sizes {
                let v = bulk(size, rtt_s, &extra);
                let t = &v["tcp"];
                let (retx, drops) = (u(t, "retransmissions"), u(&v["links"], "dropped_queue"));
                let ideal = ideal(bytes, rtt);
                let ratio = f(t, "duration_s") / ideal;
                eprintln!(
                    "{name} rtt {rtt_s} {size:>6}: {:.3} s (ideal {ideal:.3} s, {ratio:.2}x ≤ 1.5x), \
                     retransmissions {retx} for {drops} queue drops (≤ 1.2x), RTOs {}",
                    f(t, "duration_s"),
                    u(t, "rto_expired")
                );
                if ratio > 1.5 {
                    failures.push(format!("{name} {rtt_s} {size}: {ratio:.2}x the ideal time"));
                }
                if retx as f64 > 1.2 * drops as f64 {
                    failures.push(format!(
                        "{name} {rtt_s} {size}: {retx} retransmissions for {drops} drops"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn http_summary_reports_the_senders_counters() {
    // The page flows from the server (B): its retransmissions are the
    // ones that repair the lost data, not the client's.
    let v = json(&[
        "sim", "http", "--loss", "5%", "--bytes", "300k", "--seed", "3",
    ]);
    let t = &v["tcp"];
    eprintln!(
        "http 300k, 5% loss: sender {}, {} retransmissions for {} link drops, efficiency {}",
        t["sender"], t["retransmissions"], t["link_drops"], t["efficiency"]
    );
    assert_eq!(t["verified"], true);
    assert_eq!(t["sender"], "B");
    assert!(t["retransmissions"].as_u64().unwrap() > 0, "{t}");
    assert!(t["link_drops"].as_u64().unwrap() > 0);
}

#[test]
fn without_sack_recovery_falls_back_to_one_hole_per_round_trip() {
    let run = |extra: &[&str]| f(&bulk("1500K", "20ms", extra)["tcp"], "duration_s");
    let (sack, no_sack) = (run(&[]), run(&["--no-sack"]));
    eprintln!("1500K over 100 Mbit/s, 20 ms: SACK {sack:.3} s, --no-sack {no_sack:.3} s");
    // 204 holes from the overshoot: NewReno repairs one per round trip.
    assert!(no_sack > 3.0 * sack, "{sack} vs {no_sack}");
}

#[test]
fn reordering_without_loss_keeps_goodput_and_spurious_retransmits_are_undone() {
    // Issue #14 "Reordering": 5 % of the frames held back 1 ms (about
    // eight later frames overtake each) on the clean 100 Mbit/s path.
    // RACK (RFC 8985) waits min_RTT/4 before calling an overtaken segment
    // lost once it has seen reordering; a retransmission made before
    // that is found spurious (RFC 3522 / RFC 3708) and undone.
    let run = |extra: &[&str]| bulk("5M", "20ms", extra)["tcp"].clone();
    let clean = run(&[]);
    let reordered = run(&["--reorder", "5%"]);
    let ratio = f(&reordered, "goodput_bps") / f(&clean, "goodput_bps");
    eprintln!(
        "5M over 100 Mbit/s, 20 ms: {:.1} Mbit/s without reordering, {:.1} Mbit/s with 5 % \
         reordering ({:.0} % of it, reference >= 80 %); with reordering {} retransmissions \
         (RACK {}, TLP {}, RTO {}) for {} frames dropped by the queue, {} duplicates reported \
         by D-SACK, {} spurious recoveries undone holding {} retransmissions",
        f(&clean, "goodput_bps") / 1e6,
        f(&reordered, "goodput_bps") / 1e6,
        100.0 * ratio,
        u(&reordered, "retransmissions"),
        u(&reordered, "retransmissions_rack"),
        u(&reordered, "retransmissions_tlp"),
        u(&reordered, "retransmissions_rto"),
        u(&reordered, "link_drops"),
        u(&reordered, "dsacks_received"),
        u(&reordered, "spurious_undone"),
        u(&reordered, "spurious_retransmissions"),
    );
    assert!(
        ratio >= 0.8,
        "goodput {:.0} % of the clean run",
        100.0 * ratio
    );
    // A retransmission the receiver already had comes back as a D-SACK
    // (RFC 2883): each such spurious retransmission belongs to a recovery
    // that was found spurious and undone.
    assert!(
        u(&reordered, "dsacks_received") <= u(&reordered, "spurious_retransmissions"),
        "{reordered}"
    );
    assert_eq!(u(&reordered, "rto_expired"), 0);
}
