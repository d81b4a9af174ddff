//! `strata sim bulk|http|echo --cc`: the congestion control of the lab's
//! hosts, named as Linux names it; an unknown name is bad input (exit 2).

mod common;

use common::{json_of, run as strata};

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
    let out = strata(&["sim", "http", "--flows", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--flows is for bulk"));
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
    // --delack is accepted; in the lab's scenarios the receiving
    // application reads at once and each read's window update carries the
    // ACK, so the timer seldom fires: the run is the same.
    assert_eq!(time(&["--delack", "0"]), time(&["--delack", "200"]));
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
