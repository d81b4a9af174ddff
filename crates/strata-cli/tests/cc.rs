//! `strata sim bulk|http|echo --cc`: the congestion control of the lab's
//! hosts, named as Linux names it; an unknown name is bad input (exit 2).

mod common;

use common::run as strata;

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
