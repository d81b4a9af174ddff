//! The fuzz targets (`fuzz/`, a cargo-fuzz crate outside the workspace)
//! are compiled here on every test run, and each target runs over its kept
//! corpus (`fuzz/corpus/<target>`, minimised with `-merge=1`) and its
//! hand-written seeds (`fuzz/seeds/<target>`), so a change that breaks a
//! target, or makes it panic on an input it once handled, fails the tests.
//!
//! Without sanitizer flags libFuzzer builds on stable Rust; given files or
//! directories and `-runs=0` it executes each input once and exits with a
//! non-zero status on a crash.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The `[[bin]]` names of `fuzz/Cargo.toml`.
fn targets() -> Vec<String> {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin {
            if let Some(v) = line.strip_prefix("name = ") {
                names.push(v.trim_matches('"').to_string());
            }
        }
    }
    names
}

#[test]
fn every_fuzz_target_builds_and_passes_its_corpus() {
    let dir = fuzz_dir();
    let target_dir = dir.join("target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--locked", "--bins", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // A nested build must not inherit the outer test build's flags.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "the fuzz targets do not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = targets();
    assert!(names.len() >= 8, "fuzz/Cargo.toml lists {names:?}");
    for name in &names {
        let inputs: Vec<PathBuf> = ["corpus", "seeds"]
            .iter()
            .map(|kind| dir.join(kind).join(name))
            .filter(|d| d.is_dir())
            .collect();
        let count: usize = inputs
            .iter()
            .map(|d| std::fs::read_dir(d).unwrap().count())
            .sum();
        assert!(count > 0, "fuzz target {name} has no kept corpus");
        let run = Command::new(target_dir.join("debug").join(name))
            .arg("-runs=0")
            .args(&inputs)
            .output()
            .expect("run fuzz target");
        assert!(
            run.status.success(),
            "fuzz target {name} failed on its corpus:\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        println!("fuzz target {name}: {count} inputs ok");
    }
}
