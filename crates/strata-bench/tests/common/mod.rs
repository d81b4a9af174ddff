//! Running the built `strata-bench` as a user runs it, for the harness's
//! integration tests.
#![allow(dead_code)]

use std::process::Command;

/// `strata-bench ARGS`, which must succeed: its stdout.
pub fn bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_strata-bench"))
        .args(args)
        .output()
        .expect("run strata-bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "strata-bench {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Fails unless `stdout` has a line `ratio W = V` for each workload `W` of
/// `workloads`, with `V` a finite positive number (strata's figure over
/// smoltcp's or the kernel's: both sides ran).
pub fn assert_ratios(stdout: &str, workloads: &[&str]) {
    for w in workloads {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("ratio {w} = ")))
            .unwrap_or_else(|| panic!("no ratio line for {w}:\n{stdout}"));
        let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(v.is_finite() && v > 0.0, "{line}");
    }
}
