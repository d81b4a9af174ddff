//! `strata sim storm --stp`: the storm's triangle with spanning tree, as
//! text and JSON. The protocol itself is tested in strata-sim's tests.

mod common;

use common::stdout_of as strata;

#[test]
fn storm_with_stp_and_rstp_converges_cures_and_heals() {
    let text = strata(&["sim", "storm", "--stp"]);
    // The storm without spanning tree comes first, then both protocols.
    assert!(text.starts_with("broadcast storm:"), "{text}");
    assert!(
        text.contains(
            "STP (IEEE 802.1D): root bridge 32768/02:00:00:00:00:00, converged 30.000000s"
        ),
        "{text}"
    );
    assert!(
        text.contains("RSTP (IEEE 802.1w): root bridge 32768/02:00:00:00:00:00"),
        "{text}"
    );
    assert_eq!(
        text.matches("0 copies back to the host: no storm").count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("sw2  port 1  alternate   blocking    → designated forwarding"),
        "{text}"
    );
    assert!(
        text.contains("forwards 50.000 s later"),
        "STP: max age + 2 forward delays\n{text}"
    );
    assert!(
        text.contains("forwards 6.000 s later"),
        "RSTP: 3 missed hellos\n{text}"
    );
}

#[test]
fn storm_stp_json_lists_roles_states_and_times() {
    let json = strata(&["sim", "storm", "--stp", "rstp", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let runs = v["storm"]["spanning_tree"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(r["protocol"], "RSTP");
    assert!(r["converged_s"].as_f64().unwrap() < 0.01, "{r}");
    assert_eq!(r["host_copies"], 0);
    let healed = r["healed_s"].as_f64().unwrap();
    assert!((6.0..6.01).contains(&healed), "{healed}");
    let ports = r["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 9);
    let alternates: Vec<_> = ports.iter().filter(|p| p["role"] == "alternate").collect();
    assert_eq!(alternates.len(), 1, "{ports:?}");
    assert_eq!(alternates[0]["switch"], "sw2");
    assert_eq!(alternates[0]["state"], "blocking");
}
