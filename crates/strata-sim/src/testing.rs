//! Test support shared by the workspace's test suites: what a test does
//! when a prerequisite (root, `/dev/net/tun`, tshark, iperf3, ...) is
//! missing.
//!
//! On a developer's machine such a test may skip with a printed reason. In
//! CI it must not: `.ci/run` exports `STRATA_REQUIRE_ALL=1`, and then a
//! missing prerequisite fails the test, so a green CI means every
//! interop, netem and tshark test really ran.

use std::process::{Command, Stdio};

/// The environment variable that turns a skip into a failure.
pub const REQUIRE_ALL: &str = "STRATA_REQUIRE_ALL";

/// `true` when [`REQUIRE_ALL`] is set to anything but `0` or the empty
/// string.
pub fn prerequisites_required() -> bool {
    std::env::var(REQUIRE_ALL).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Reports a missing prerequisite: panics (failing the test) when
/// [`prerequisites_required`], otherwise prints `skipping: <reason>`.
/// Returns `false`, so a test reads `if !prerequisite_ok(..) { return; }`.
pub fn skip(reason: &str) -> bool {
    if prerequisites_required() {
        panic!("{REQUIRE_ALL} is set, but a prerequisite is missing: {reason}");
    }
    println!("skipping: {reason}");
    false
}

/// `true` when `prog` is on the `PATH` (the shell's `command -v` finds it).
pub fn have_program(prog: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v '{prog}'"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `true` when every program in `progs` is installed; otherwise reports
/// the first missing one through [`skip`].
pub fn require_programs(progs: &[&str]) -> bool {
    match progs.iter().find(|p| !have_program(p)) {
        None => true,
        Some(p) => skip(&format!("{p} is not installed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_present_program_is_found_and_an_absent_one_is_not() {
        assert!(have_program("cargo"));
        assert!(!have_program("strata-no-such-program-xyz"));
    }
}
