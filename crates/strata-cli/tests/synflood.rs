//! `strata sim synflood` as a user runs it: the table with cookies and
//! without, and its picture.

mod common;

use std::process::Command;

use common::percentages;

use strata_io::testing::TempDir;

#[test]
fn synflood_prints_cookies_beside_the_collapse_and_draws_it() {
    let dir = TempDir::new("synflood-cli").unwrap();
    let svg = dir.path().join("synflood.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["sim", "synflood", "--syn-backlog", "8", "--svg"])
        .arg(&svg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    // 100 × 8 SYNs per 20 ms for 3 s.
    assert!(text.contains("40000 spoofed SYNs/s"), "{text}");
    let (on, off) = percentages(&text, "handshakes during the flood");
    assert!(on >= 99.0, "{text}");
    assert!(off < 50.0, "{text}");
    let (on_after, _) = percentages(&text, "handshakes after the flood");
    assert_eq!(on_after, 100.0, "{text}");
    assert!(text.contains("peak heap of the run"), "{text}");
    assert!(text.contains("peak TCP memory (engine)"), "{text}");
    assert!(
        text.contains("cookies sent / validated / rejected"),
        "{text}"
    );
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.starts_with("<svg") && picture.contains("cookies off"));
}
