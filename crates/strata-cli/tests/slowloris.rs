//! `strata sim slowloris` as a user runs it: the table with the server's
//! defences and without.

mod common;

use common::{percentages, stdout_of};

/// The two MiB figures of a row `name ... X MiB ... Y MiB`.
fn mebibytes(out: &str, name: &str) -> (f64, f64) {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(name))
        .unwrap_or_else(|| panic!("no row {name}:\n{out}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let v: Vec<f64> = words
        .windows(2)
        .filter(|w| w[1] == "MiB")
        .filter_map(|w| w[0].parse().ok())
        .collect();
    assert_eq!(v.len(), 2, "{line}");
    (v[0], v[1])
}

#[test]
fn slowloris_prints_the_defences_beside_the_collapse() {
    let text = stdout_of(&["sim", "slowloris"]);
    println!("{text}");
    let (on, off) = percentages(&text, "legitimate fetches");
    assert!(on >= 99.0, "{text}");
    assert!(off < 50.0, "{text}");
    let (mem_on, mem_off) = mebibytes(&text, "peak TCP memory (engine)");
    // Within the budget's hard limit (16 MiB), far below the undefended
    // server's.
    assert!(mem_on <= 16.0, "{text}");
    assert!(mem_off > 2.0 * mem_on, "{text}");
    assert!(text.contains("header timeouts / idle timeouts"), "{text}");
    assert!(text.contains("memory pressure entries"), "{text}");
}
