//! The workspace's `rust-version` must be at least what every dependency
//! declares (smoltcp 0.14, a dev-dependency of the benchmarks, needs 1.91):
//! a promise of an older toolchain that cannot build the tests is a lie.

use std::process::Command;

fn version(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

#[test]
fn rust_version_covers_every_dependency() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--locked",
            "--format-version",
            "1",
            "--manifest-path",
            root,
        ])
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // Each package object starts `{"name":N,"version":V,"id":...` and ends
    // with `"rust_version":R` (after its dependency and target objects, which
    // carry names of their own): the text before each `"rust_version":` holds
    // its package's start as the last `{"name":..,"version":` in it. A plain
    // scan keeps this test free of a JSON dependency.
    let mut ours = None;
    let mut needed: Vec<(Vec<u32>, String)> = Vec::new();
    let parts: Vec<&str> = text.split("\"rust_version\":").collect();
    for (before, after) in parts.iter().zip(parts.iter().skip(1)) {
        let Some(name) = before
            .rsplit("{\"name\":\"")
            .find(|p| {
                p.split_once('"')
                    .is_some_and(|(_, rest)| rest.starts_with(",\"version\":"))
            })
            .and_then(|p| p.split('"').next())
        else {
            continue;
        };
        let Some(rv) = after.strip_prefix('"').and_then(|r| r.split('"').next()) else {
            continue; // null: no requirement declared
        };
        if name == "strata" {
            ours = Some(version(rv));
        }
        needed.push((version(rv), name.to_string()));
    }
    let ours = ours.expect("the strata package declares rust-version");
    let (max, who) = needed.iter().max().unwrap();
    assert!(
        &ours >= max,
        "rust-version {ours:?} is older than {who}'s {max:?}: raise it in Cargo.toml"
    );
}
