//! `strata-bench tap --quick`: both stacks serve a body to the kernel's
//! curl and fetch one from a kernel server over a real TAP, every byte
//! checked (the first round verifies the bodies). Speed is not asserted.

mod common;

#[test]
fn tap_comparison_moves_the_bytes_both_ways() {
    if !strata_io::testing::can_run(&["curl"]) {
        return;
    }
    let stdout = common::bench(&["tap", "--quick"]);
    assert!(stdout.contains("(bodies verified)"), "{stdout}");
    common::assert_ratios(&stdout, &["tap-serve", "tap-fetch"]);
    assert!(stdout.contains("veth, offloads on"), "{stdout}");
}
