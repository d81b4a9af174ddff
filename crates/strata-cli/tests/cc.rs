//! `strata sim bulk|http|echo --cc`: the congestion control of the lab's
//! hosts, named as Linux names it; an unknown name is bad input (exit 2).

mod common;

use common::{assert_has_all, json_of, run as strata};

#[test]
fn bulk_runs_with_either_algorithm_and_the_choice_changes_the_run() {
    let run = |cc: &str| {
        let out = strata(&[
            "sim", "bulk", "--bytes", "4M", "--rtt", "50ms", "--loss", "0.001", "--cc", cc,
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["virtual_time_s"].as_f64().unwrap()
    };
    let (reno, cubic) = (run("newreno"), run("cubic"));
    assert!(reno > 0.0 && cubic > 0.0);
    assert_ne!(reno, cubic, "the algorithm must reach the hosts");
}

#[test]
fn an_unknown_algorithm_is_refused_with_exit_2() {
    let out = strata(&["sim", "bulk", "--cc", "bbr"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown congestion control (newreno, cubic)"),
        "{err}"
    );
}

#[test]
fn bad_knobs_are_refused_with_exit_2_and_say_why() {
    for (args, says) in [
        (&["--iw", "0"][..], "at least 1 segment"),
        (&["--iw", "300"], "1..=255"),
        (&["--buffer", "1k"], "outside 2.00 KiB"),
        (&["--buffer", "2G"], "outside 2.00 KiB"),
        (&["--delack", "500"], "MUST-40"),
        (&["--delack", "-1"], "negative"),
        (&["--flows", "0"], "at least one flow"),
        (&["--flows", "65"], "1..=64"),
        (&["--cc", "cubic,bbr"], "unknown congestion control"),
        (&["--cc", "newreno,cubic"], "give --flows 2 or more"),
    ] {
        let mut a = vec!["sim", "bulk", "--bytes", "64k"];
        a.extend_from_slice(args);
        let out = strata(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let out = strata(&["sim", "iperf3", "--flows", "2"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("are for bulk, http and echo"), "{err}");
    let out = strata(&["sim", "echo", "--cc", "newreno,cubic"]);
    assert_eq!(out.status.code(), Some(2));
    let out = strata(&["sim", "ping", "--iw", "4"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_initial_window_and_buffer_reach_the_hosts() {
    // 64 KiB over 40 ms: the number of round trips slow start needs
    // depends on the initial window.
    let time = |extra: &[&str]| {
        let mut a = vec![
            "sim", "bulk", "--bytes", "64k", "--rtt", "40ms", "--seed", "1", "--json",
        ];
        a.extend_from_slice(extra);
        let v = json_of(&a);
        assert_eq!(v["tcp"]["verified"], true);
        v["tcp"]["duration_s"].as_f64().unwrap()
    };
    let (iw10, iw2, iw45) = (time(&[]), time(&["--iw", "2"]), time(&["--iw", "45"]));
    println!(
        "64 KiB at 40 ms: IW10 {iw10:.3} s, IW2 {iw2:.3} s, IW45 {iw45:.3} s (one RTT = 0.040 s)"
    );
    // IW45 sends it all in the first round trip; IW2 needs about three more.
    assert!(iw45 + 0.035 < iw10, "{iw45} vs {iw10}");
    assert!(iw2 > iw10 + 0.035, "{iw2} vs {iw10}");
    // A 16 KiB buffer caps the window at 16 KiB per round trip: 64 KiB
    // takes at least four round trips.
    let small = time(&["--buffer", "16k"]);
    println!("--buffer 16k: {small:.3} s (reference ≥ 4 RTT = 0.160 s)");
    assert!(small >= 0.160, "{small}");
}

#[test]
fn delack_changes_how_often_the_receiver_acknowledges() {
    // The receiving application reads each segment at once; the window
    // update a read makes rides on the next ACK (RFC 9293 §3.8.6.2.2,
    // RFC 1122 §4.2.3.3) instead of being one. So --delack 0 acknowledges
    // every segment at once, and the default 40 ms delays the ACK of a
    // lone segment and acknowledges every second full one (RFC 9293
    // §3.8.6.3 SHLD-18/19).
    let acks = |delack: &str| {
        let v = json_of(&[
            "sim", "bulk", "--bytes", "1M", "--rtt", "40ms", "--seed", "1", "--delack", delack,
            "--json",
        ]);
        assert_eq!(v["tcp"]["verified"], true);
        let frames = v["links"]["frames_sent"].as_u64().unwrap();
        let data = v["tcp"]["segments_sent"].as_u64().unwrap();
        (frames - data, data)
    };
    let ((a0, d0), (a40, d40)) = (acks("0"), acks("40"));
    println!(
        "1 MiB at 40 ms: --delack 0: {a0} frames from B for {d0} from A; \
         --delack 40: {a40} for {d40} (reference: about one per segment, and one per two)"
    );
    assert!(a0 as f64 >= 0.9 * d0 as f64, "{a0} for {d0}");
    assert!(a40 as f64 <= 0.6 * d40 as f64, "{a40} for {d40}");
}

#[test]
fn two_flows_share_the_link_with_a_summary_per_flow() {
    let v = json_of(&[
        "sim",
        "bulk",
        "--flows",
        "2",
        "--cc",
        "newreno,cubic",
        "--rate",
        "20mbit",
        "--rtt",
        "20ms",
        "--bytes",
        "3M",
        "--seed",
        "1",
        "--json",
    ]);
    let f = &v["flows"];
    let flows = f["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0]["cc"], "newreno");
    assert_eq!(flows[1]["cc"], "cubic");
    let mut total = 0;
    for fl in flows {
        assert_eq!(fl["verified"], true, "{fl}");
        assert_eq!(fl["bytes"], 3 << 20);
        total += fl["bytes"].as_u64().unwrap();
    }
    assert_eq!(v["tcp"]["bytes"].as_u64().unwrap(), total);
    let jain = f["jain"].as_f64().unwrap();
    println!("2 flows, 3 MiB each over 20 Mbit/s: Jain's index {jain:.3} while both ran");
    assert!((0.5..=1.0).contains(&jain));
}

/// The per-flow rows of a `--flows` run's JSON, (cc, retransmissions),
/// after checking that each flow moved `each` bytes intact.
fn flow_rows(v: &serde_json::Value, n: usize, each: u64) -> Vec<(String, u64)> {
    let flows = v["flows"]["flows"].as_array().unwrap();
    assert_eq!(flows.len(), n, "{v}");
    let mut total = 0;
    let rows = flows
        .iter()
        .map(|fl| {
            assert_eq!(fl["verified"], true, "{fl}");
            assert_eq!(fl["bytes"].as_u64().unwrap(), each, "{fl}");
            assert!(fl["goodput_bps"].as_f64().unwrap() > 0.0, "{fl}");
            total += each;
            (
                fl["cc"].as_str().unwrap().to_string(),
                fl["retransmissions"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(v["tcp"]["bytes"].as_u64().unwrap(), total);
    assert_eq!(v["tcp"]["verified"], true);
    rows
}

#[test]
fn http_flows_fetch_every_page_and_the_pages_senders_are_b() {
    // #14 point 6: `--flows N` for http: N fetches of one page share the
    // link; the pages flow from B, so B's connections run the dealt
    // algorithms and B's counters are the summary's.
    let args = |cc: &'static str| {
        vec![
            "sim", "http", "--flows", "2", "--bytes", "2M", "--rate", "20mbit", "--rtt", "20ms",
            "--seed", "1", "--cc", cc,
        ]
    };
    let json = |cc| {
        let mut a = args(cc);
        a.push("--json");
        json_of(&a)
    };
    let v = json("cubic");
    let cubic = flow_rows(&v, 2, 2 << 20);
    assert_eq!(v["scenario"], "http");
    assert_eq!(v["tcp"]["sender"], "B");
    // The queue of one BDP overflows when both windows grow: the sender
    // repairs it, and each flow's share of that is counted at B.
    let per_flow: u64 = cubic.iter().map(|r| r.1).sum();
    let total = v["tcp"]["retransmissions"].as_u64().unwrap();
    assert!(per_flow > 0 && per_flow <= total, "{per_flow} of {total}");
    let jain = v["flows"]["jain"].as_f64().unwrap();
    println!("http, 2 flows of 2 MiB over 20 Mbit/s: Jain's index {jain:.3} while both ran");
    // Measured 0.964 (seed 1); two flows that did not share would be near 0.5.
    assert!((0.9..=1.0).contains(&jain), "{jain}");
    // The algorithms are dealt to B's connections: the mix changes the run.
    let v = json("newreno,cubic");
    let mixed = flow_rows(&v, 2, 2 << 20);
    assert_eq!(mixed[0].0, "newreno");
    assert_eq!(mixed[1].0, "cubic");
    assert_ne!(
        mixed, cubic,
        "the flows' algorithms must reach the sender B"
    );
    // The text summary: a line per flow, the total, fairness, B's counters.
    let out = strata(&args("cubic"));
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{t}");
    assert_has_all(
        &t,
        &[
            "http: 2 flows 10.0.0.1 → 10.0.0.2:80 at once over 20.00 Mbit/s",
            "GET / of a 2.00 MiB page each",
            "  flow 1 (cubic): 2.00 MiB in ",
            "  flow 2 (cubic): 2.00 MiB in ",
            "total: 4.00 MiB in ",
            "fairness: Jain's index 0.9",
            "sender B: retransmissions ",
            "retransmissions by cause: RACK ",
        ],
    );
    assert_eq!(t.matches("byte check OK").count(), 2, "{t}");
}

#[test]
fn echo_flows_get_every_line_back() {
    // #14 point 6: `--flows N` for echo: N clients each send their lines,
    // one at a time, to the echo server at once.
    let line_bytes: u64 = (1..=20)
        .map(|k| format!("hello strata, line {k}\n").len() as u64)
        .sum();
    let v = json_of(&[
        "sim", "echo", "--flows", "3", "-c", "20", "--seed", "1", "--json",
    ]);
    flow_rows(&v, 3, line_bytes);
    assert_eq!(v["scenario"], "echo");
    assert_eq!(v["tcp"]["sender"], "A");
    // A clean link: the three conversations run in lock step.
    assert_eq!(v["flows"]["jain"].as_f64().unwrap(), 1.0, "{v}");
    // With loss each conversation waits for its own repairs.
    let v = json_of(&[
        "sim", "echo", "--flows", "2", "-c", "20", "--loss", "2%", "--seed", "1", "--json",
    ]);
    let rows = flow_rows(&v, 2, line_bytes);
    let jain = v["flows"]["jain"].as_f64().unwrap();
    println!(
        "echo, 2 flows of 20 lines, 2% loss: Jain's index {jain:.3}, retransmissions {rows:?}"
    );
    // Measured 0.997 (seed 1); 0.851 with seed 3, where one flow lost more.
    assert!((0.8..=1.0).contains(&jain), "{jain}");
    assert!(v["tcp"]["retransmissions"].as_u64().unwrap() > 0);
    let out = strata(&["sim", "echo", "--flows", "2", "-c", "3"]);
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{t}");
    assert_has_all(
        &t,
        &[
            "echo: 2 flows 10.0.0.1 → 10.0.0.2:7 at once over 100.00 Mbit/s",
            "3 lines (63 B) each",
            "  flow 1 (cubic): 63 B in ",
            "  flow 2 (cubic): 63 B in ",
            "fairness: Jain's index 1.000",
            "sender A: retransmissions 0",
        ],
    );
}
