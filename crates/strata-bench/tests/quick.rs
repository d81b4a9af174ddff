//! A `--quick` run of the harness: both stacks must move every byte
//! correctly (the receivers check the stream byte for byte, the
//! request/reply workloads check every message). Speed is not asserted here.

use std::process::Command;

#[test]
fn quick_run_moves_the_bytes_on_both_stacks() {
    let out = Command::new(env!("CARGO_BIN_EXE_strata-bench"))
        .args(["--quick"])
        .output()
        .expect("run strata-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "harness failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    for w in [
        "bulk-1514",
        "bulk-1514-nots",
        "bulk-1514-cubic",
        "bulk-1514-nocc",
        "bulk-9014",
        "bulk-65535",
        "conns",
        "many-1",
        "many-1-frames",
        "many-100",
        "many-100-frames",
        "idle-mem-state",
        "idle-mem",
        "idle-mem-rr",
        "idle-mem-bulk",
        "idle-mem-small",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("ratio {w} = ")))
            .unwrap_or_else(|| panic!("no ratio line for {w}:\n{stdout}"));
        let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(v.is_finite() && v > 0.0, "{line}");
    }
}
