//! A `--quick` run of the harness: both stacks must move every byte
//! correctly (the receivers check the stream byte for byte, the
//! request/reply workloads check every message). Speed is not asserted here.

mod common;

#[test]
fn quick_run_moves_the_bytes_on_both_stacks() {
    let stdout = common::bench(&["--quick"]);
    common::assert_ratios(
        &stdout,
        &[
            "bulk-1514",
            "bulk-1514-nots",
            "bulk-1514-cubic",
            "bulk-1514-nocc",
            "bulk-9014",
            "bulk-65535",
            "conns",
            "many-1",
            "many-1-frames",
            "many-100",
            "many-100-frames",
            "idle-mem-state",
            "idle-mem",
            "idle-mem-rr",
            "idle-mem-bulk",
            "idle-mem-small",
        ],
    );
}
