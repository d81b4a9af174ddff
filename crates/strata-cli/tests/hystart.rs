//! Issue #14, HyStart++ (RFC 9406) shown working in the lab.
//!
//! With the lab's default queue of one bandwidth-delay product, slow
//! start's bursts build a queue within each round trip and the queue has
//! drained before the next round's first segments arrive, until the round
//! that overflows it: HyStart++ sees the RTT rise too late to leave slow
//! start before the loss. Behind a deeper queue (`--queue`), the
//! window passes the BDP rounds before it overflows the queue: a standing
//! queue raises each round's minimum RTT, HyStart++ enters Conservative
//! Slow Start and leaves slow start with no loss, where plain slow start
//! (`--no-hystart`) overflows the queue. Figures printed beside their
//! references.

mod common;

use common::json_of;

/// `strata sim bulk` over 100 Mbit/s, 20 ms (BDP 250 kB) behind a queue of
/// `queue`, sockets large enough for the window never to be held by the
/// receiver: the JSON summary's `tcp` object.
fn bulk(queue: &str, hystart: bool) -> serde_json::Value {
    let mut args = vec![
        "sim", "bulk", "--bytes", "6M", "--rate", "100mbit", "--rtt", "20ms", "--queue", queue,
        "--buffer", "8M", "--seed", "1", "--json",
    ];
    if !hystart {
        args.push("--no-hystart");
    }
    let v = json_of(&args);
    assert_eq!(v["tcp"]["verified"], true);
    v["tcp"].clone()
}

fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn behind_a_deep_queue_hystart_leaves_slow_start_before_the_first_loss() {
    // Eight BDPs of queue: slow start overflows it, HyStart++ does not.
    let with = bulk("2M", true);
    let without = bulk("2M", false);
    let (drops_with, drops_without) = (n(&with, "link_drops"), n(&without, "link_drops"));
    println!(
        "--queue 2M (8 BDP): HyStart++ entered CSS {} time(s) (reference: at least 1), left slow \
         start before a loss {} time(s) (reference: 1); queue drops {drops_with} (reference: fewer \
         than without), retransmissions {}, {:.1} Mbit/s; --no-hystart: {drops_without} drops, \
         {} retransmissions, {:.1} Mbit/s",
        n(&with, "hystart_css"),
        n(&with, "hystart_exits"),
        n(&with, "retransmissions"),
        with["goodput_bps"].as_f64().unwrap() / 1e6,
        n(&without, "retransmissions"),
        without["goodput_bps"].as_f64().unwrap() / 1e6,
    );
    assert!(n(&with, "hystart_css") >= 1);
    // A loss ends slow start (and HyStart++) for good: an exit counted
    // here came before any.
    assert_eq!(n(&with, "hystart_exits"), 1);
    assert!(
        drops_with < drops_without,
        "{drops_with} vs {drops_without}"
    );
    assert_eq!(n(&without, "hystart_css"), 0);
    assert_eq!(n(&without, "hystart_exits"), 0);
    assert!(drops_without > 0, "plain slow start overflows the queue");
}
