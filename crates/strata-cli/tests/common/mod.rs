//! Running the built `strata` binary as a user runs it, for the CLI's
//! integration tests: one place for the command and its checked forms.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `strata ARGS`: what it did (status, stdout, stderr).
pub fn run(args: &[&str]) -> Output {
    run_in(args, None)
}

/// `strata ARGS` in directory `dir` (the test's when `None`).
pub fn run_in(args: &[&str], dir: Option<&PathBuf>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
    c.args(args);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    c.output().expect("run strata")
}

/// Fails, showing its stderr, unless the run `out` succeeded.
pub fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// `strata ARGS`, which must succeed: its stdout.
pub fn stdout_of(args: &[&str]) -> String {
    stdout_in(args, None)
}

/// `strata ARGS` in directory `dir`, which must succeed: its stdout.
pub fn stdout_in(args: &[&str], dir: Option<&PathBuf>) -> String {
    let out = run_in(args, dir);
    assert!(
        out.status.success(),
        "strata {args:?} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Fails unless `text` holds every one of `wants`.
pub fn assert_has_all(text: &str, wants: &[&str]) {
    for want in wants {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
}

/// `strata SUB ARGS --pcap FILE`, which must succeed: its stdout.
pub fn with_pcap(sub: &str, args: &[&str], pcap: &Path) -> String {
    let pcap = pcap.to_str().expect("a UTF-8 path");
    let all: Vec<&str> = [sub]
        .iter()
        .chain(args)
        .chain(&["--pcap", pcap])
        .copied()
        .collect();
    stdout_of(&all)
}

/// Bytes as text (lossy).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `strata ARGS --json`-style runs: the stdout of a run that must succeed,
/// parsed as JSON.
pub fn json_of(args: &[&str]) -> serde_json::Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "strata {args:?}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The two percentages of a row `name ... a/b (P %) ... c/d (Q %)`.
pub fn percentages(out: &str, name: &str) -> (f64, f64) {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(name))
        .unwrap_or_else(|| panic!("no row {name}:\n{out}"));
    let p: Vec<f64> = line
        .split('(')
        .skip(1)
        .filter_map(|s| s.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(p.len(), 2, "{line}");
    (p[0], p[1])
}
