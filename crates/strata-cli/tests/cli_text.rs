//! Every help text and every bad-input line, as snapshots: they say what the
//! tool does, so they must stay true. Bad input exits 2 with one line and
//! touches nothing (no TAP is opened, no simulation runs).
//!
//! Update after a deliberate change with `INSTA_UPDATE=always cargo test -p
//! strata-cli --test cli_text` and review the diff of `tests/snapshots/`.

use std::process::Command;

fn strata(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run strata")
}

fn help(args: &[&str]) -> String {
    let out = strata(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    assert!(out.stderr.is_empty(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_texts() {
    for (name, args) in [
        ("help_top", &["--help"][..]),
        ("help_demo", &["demo", "--help"]),
        ("help_explain", &["explain", "--help"]),
        ("help_sim", &["sim", "--help"]),
        ("help_serve", &["serve", "--help"]),
        ("help_fetch", &["fetch", "--help"]),
        ("help_ping", &["ping", "--help"]),
        ("help_iperf3", &["iperf3", "--help"]),
        ("help_lab", &["lab", "--help"]),
    ] {
        insta::assert_snapshot!(name, help(args));
    }
}

/// Bad input: status 2, nothing on stdout, exactly one line on stderr.
/// One command line per entry, split at spaces (no argument has one).
const BAD_INPUT: &[&str] = &[
    // Negative values are named as such, not taken for flags.
    "sim bulk --loss -0.1",
    "sim ping --seed -1",
    "demo --seed -1",
    "demo --scenario udp --closer client",
    "sim ping --closer client",
    "demo --layers 0",
    "sim flood --rtt 5ms",
    "sim udp --count -3",
    "sim bulk --rate -5mbit",
    "sim bulk --rtt -20ms",
    // Link settings under which nothing can arrive.
    "sim bulk --rate 100",
    "sim ping --rate 100",
    "sim http --corrupt 100%",
    "sim bulk --loss 100%",
    // The MTU rule is the same in the simulator and on a TAP.
    "sim bulk --mtu 100",
    "sim bulk --mtu 70000",
    "serve --tap t0 --addr 10.20.1.5/24 --echo --mtu 0",
    "fetch --tap t0 --addr 10.20.1.5/24 --mtu 100 http://10.20.1.1/",
    "ping --tap t0 --addr 10.20.1.5/24 --mtu 70000 10.20.1.1",
    // An address without its prefix reaches nobody.
    "serve --tap t0 --addr 10.20.1.5 --echo",
    "ping --tap t0 --addr 10.20.0.255/24 10.20.0.1",
    "ping --tap t0 --addr 10.20.0.2/24 --gateway 10.30.0.1 10.30.0.9",
    "ping --tap t0 --addr 10.20.0.2/24 -i -1 10.20.0.1",
    "ping --tap t0 --addr 10.20.0.2/24 -W 0 10.20.0.1",
    // A typo in --tap: no interface is created behind the user's back.
    "ping --tap nosuchtap0 --addr 10.20.0.2/24 10.20.0.1",
    "serve --tap nosuchtap0 --addr 10.20.0.2/24 --http .",
    // Not a TAP at all.
    "ping --tap lo --addr 10.20.0.2/24 10.20.0.1",
    "serve --tap t0 --addr 10.20.0.2/24 --http /no/such/dir",
    "fetch --tap t0 --addr 10.20.0.2/24 ftp://10.20.0.1/",
    // iperf3: the roles and their options.
    "iperf3 --tap t0 --addr 10.20.0.2/24",
    "iperf3 --tap t0 --addr 10.20.0.2/24 -s -R",
    "iperf3 --tap t0 --addr 10.20.0.2/24 -c 10.20.0.1 -1",
    "iperf3 --tap t0 --addr 10.20.0.2/24 -c 10.20.0.1 -P 0",
    "iperf3 --tap t0 --addr 10.20.0.2/24 -c 10.20.0.1 -t -1",
    "iperf3 --tap t0 --addr 10.20.0.2/24 -c 10.20.0.1 -u -l 8",
    "iperf3 --tap t0 --addr 10.20.0.2/24 -c 10.20.0.1 -b -5M",
    // The web view: loopback only, and --web says what to show.
    "lab --web --bind 0.0.0.0",
    "lab --web --bind 10.0.0.1 --port 0",
    "lab --web --port 70000",
    "lab",
    // Plain clap errors, one line each.
    "sim warp",
    "sim bulk --bogus",
    "ping --tap t0",
    "serve --tap t0 --addr 10.20.0.2/24",
];

#[test]
fn bad_input_is_one_line_and_status_2() {
    let mut all = String::new();
    for line in BAD_INPUT {
        let args: Vec<&str> = line.split(' ').collect();
        let out = strata(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        all += &format!("$ strata {}\n{err}\n", args.join(" "));
    }
    insta::assert_snapshot!("bad_input", all);
}
