//! `strata-bench tap --quick`: both stacks serve a body to the kernel's
//! curl and fetch one from a kernel server over a real TAP, every byte
//! checked (the first round verifies the bodies). Speed is not asserted.

use std::process::Command;

#[test]
fn tap_comparison_moves_the_bytes_both_ways() {
    if !strata_io::testing::can_run(&["curl"]) {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_strata-bench"))
        .args(["tap", "--quick"])
        .output()
        .expect("run strata-bench tap");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "strata-bench tap failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(bodies verified)"), "{stdout}");
    for w in ["tap-serve", "tap-fetch"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("ratio {w} = ")))
            .unwrap_or_else(|| panic!("no ratio line for {w}:\n{stdout}"));
        let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(v.is_finite() && v > 0.0, "{line}");
    }
    assert!(stdout.contains("veth, offloads on"), "{stdout}");
}
