//! `strata serve`, `strata fetch` and `strata ping` as a user runs them:
//! the binary inside a network namespace this test creates (and removes),
//! the kernel's curl, ping and Python on the other side of the TAP.
//! Skipped with a printed reason without root, /dev/net/tun or the tools.

use std::process::Command;

use strata_io::testing::{have_program, skip_unless_root_and_tun, Netns};

const STRATA: &str = env!("CARGO_BIN_EXE_strata");

fn can_run(tools: &[&str]) -> bool {
    if !skip_unless_root_and_tun() {
        return false;
    }
    for t in tools {
        if !have_program(t) {
            println!("skipping: {t} is not installed");
            return false;
        }
    }
    true
}

#[test]
fn bad_address_is_one_clear_error() {
    // No TAP is touched: argument checking comes first.
    let out = Command::new(STRATA)
        .args([
            "ping",
            "--tap",
            "nosuchtap0",
            "--addr",
            "10.20.0.300/24",
            "10.20.0.1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("10.20.0.300/24"), "{err}");
    let out = Command::new(STRATA)
        .args([
            "ping",
            "--tap",
            "nosuchtap0",
            "--addr",
            "10.20.0.255/24",
            "10.20.0.1",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("strata ping: bad address 10.20.0.255/24"),
        "{err}"
    );
}

#[test]
fn missing_permission_is_one_clear_error() {
    if !can_run(&["setpriv"]) {
        return;
    }
    // As an unprivileged user, /dev/net/tun cannot be used.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", STRATA])
        .args([
            "ping",
            "--tap",
            "stpriv0",
            "--addr",
            "10.20.0.2/24",
            "10.20.0.1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("permission denied") && err.contains("CAP_NET_ADMIN"),
        "{err}"
    );
}

#[test]
fn ping_both_ways_from_the_cli() {
    if !can_run(&["ping"]) {
        return;
    }
    let ns = Netns::new("cliping").unwrap();
    ns.add_tap("stclip", "10.20.60.1/24").unwrap();
    let out = ns
        .command(&[
            STRATA,
            "ping",
            "--tap",
            "stclip",
            "--addr",
            "10.20.60.3/24",
            "-c",
            "2",
            "-i",
            "0.1",
            "10.20.60.1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("2 packets transmitted, 2 received"), "{text}");
    assert!(
        text.contains("64 bytes from 10.20.60.1: icmp_seq=1 ttl=64"),
        "{text}"
    );
    // Nobody at .9: no reply, exit 1 with one error line.
    let out = ns
        .command(&[
            STRATA,
            "ping",
            "--tap",
            "stclip",
            "--addr",
            "10.20.60.3/24",
            "-c",
            "1",
            "-W",
            "0.3",
            "10.20.60.9",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "strata ping: no reply from 10.20.60.9"
    );
}
