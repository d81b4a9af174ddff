//! `strata sim synflood` as a user runs it: the table with cookies and
//! without, and its picture.

mod common;

use common::{percentages, stdout_of};

use strata_io::testing::TempDir;

#[test]
fn synflood_prints_cookies_beside_the_collapse_and_draws_it() {
    let dir = TempDir::new("synflood-cli").unwrap();
    let svg = dir.path().join("synflood.svg");
    let text = stdout_of(&[
        "sim",
        "synflood",
        "--syn-backlog",
        "8",
        "--svg",
        svg.to_str().unwrap(),
    ]);
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
