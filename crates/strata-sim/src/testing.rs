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

/// The seed sweeps' profile generator: xorshift64, independent of the
/// simulator's own [`Rng`](crate::Rng), so drawing a fault profile never
/// shifts the random decisions of the run it describes. Its sequence for a
/// given state never changes: a failing seed printed by a sweep replays.
#[derive(Debug, Clone)]
pub struct ProfileRng(pub u64);

impl ProfileRng {
    /// The next 64 random bits. The state must not be zero.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Uniform in `[0, max)`.
    pub fn f(&mut self, max: f64) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * max
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f(1.0) < p
    }

    /// Log-uniform in `[lo, hi]`.
    pub fn log(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + self.f(1.0) * (hi.ln() - lo.ln())).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_generator_keeps_its_sequence_and_bounds() {
        let mut r = ProfileRng(1);
        // xorshift64 (13, 7, 17) from state 1: a changed sequence would
        // break every printed replay command.
        assert_eq!(r.next_u64(), 0x0000_0000_4082_2041);
        for _ in 0..1000 {
            let x = r.range(3, 9);
            assert!((3..=9).contains(&x));
            let y = r.f(2.0);
            assert!((0.0..2.0).contains(&y));
            let z = r.log(1.0, 1000.0);
            assert!((1.0..=1000.0).contains(&z));
        }
    }

    #[test]
    fn a_present_program_is_found_and_an_absent_one_is_not() {
        assert!(have_program("cargo"));
        assert!(!have_program("strata-no-such-program-xyz"));
    }
}
