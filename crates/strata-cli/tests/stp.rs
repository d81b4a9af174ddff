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

/// The `<g class="stp-panel" …>` groups of an SVG, by protocol.
fn panels(svg: &str) -> Vec<(String, &str)> {
    svg.split("<g class=\"stp-panel\" data-protocol=\"")
        .skip(1)
        .map(|p| {
            let (name, rest) = p.split_once('"').unwrap();
            (name.to_string(), rest)
        })
        .collect()
}

#[test]
fn storm_stp_svg_draws_each_port_over_time_and_is_the_readmes_picture() {
    // #19 point 5: the README shows the convergence as a picture drawn
    // from a real run; `--svg` draws it, and the committed file is what
    // the command draws today.
    let dir = std::env::temp_dir().join(format!("strata-stp-svg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("stp.svg");
    let text = strata(&["sim", "storm", "--stp", "--svg", file.to_str().unwrap()]);
    assert!(text.contains("spanning tree timeline written to"), "{text}");
    let svg = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
    let p = panels(&svg);
    assert_eq!(
        p.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["STP", "RSTP"]
    );
    for (name, body) in &p {
        // Three switches of three ports each, every row a bar from 0 s.
        assert_eq!(body.matches("class=\"port-row\"").count(), 9, "{name}");
        assert!(body.contains("data-port=\"sw2 port 1\""), "{name}");
        assert_eq!(body.matches("data-from=\"0\"").count(), 9, "{name}");
        for event in ["converged", "cut", "repaired"] {
            assert_eq!(
                body.matches(&format!("class=\"event {event}\"")).count(),
                1,
                "{name}: {event}"
            );
        }
        // The alternate port of sw2 blocks until the cut, then forwards
        // as designated.
        let row = body
            .split("data-port=\"sw2 port 1\"")
            .nth(1)
            .and_then(|r| r.split("</g>").next())
            .unwrap();
        assert!(
            row.contains("class=\"state blocking\" data-role=\"alternate\""),
            "{name}: {row}"
        );
        let last = row.rsplit("<rect ").next().unwrap();
        assert!(
            last.starts_with("class=\"state forwarding\" data-role=\"designated\""),
            "{name}: {last}"
        );
    }
    // STP walks through listening and learning (2 × 15 s); RSTP's
    // proposal/agreement skips listening altogether.
    let (stp, rstp) = (p[0].1, p[1].1);
    assert!(stp.contains("class=\"state listening\""));
    assert!(stp.contains("class=\"state learning\""));
    assert!(!rstp.contains("class=\"state listening\""));
    assert!(stp.contains(">converged after 30 s<"), "{stp}");
    assert!(stp.contains(">repaired 50 s after the cut<"), "{stp}");
    assert!(rstp.contains(">repaired 6 s after the cut<"), "{rstp}");
    let committed =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/stp-convergence.svg");
    let committed = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        committed == svg,
        "docs/stp-convergence.svg is not what `strata sim storm --stp --svg` draws now: \
         regenerate it with `cargo run -- sim storm --stp --svg docs/stp-convergence.svg`"
    );
}

#[test]
fn storm_svg_without_stp_is_refused() {
    let out = common::run(&["sim", "storm", "--svg", "x.svg"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::text(&out.stderr).contains("storm --stp --svg"));
}
