//! `strata explain` run as a user runs it: the built binary, its stdout,
//! stderr and exit status.

use std::process::{Command, Output};

fn strata(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run strata")
}

fn explain_ok(value: &str) -> String {
    let out = strata(&["explain", value]);
    assert!(
        out.status.success(),
        "strata explain {value}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "unexpected stderr for {value}");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Asserts that a line starting with `label` carries `value`.
fn has_row(text: &str, label: &str, value: &str) {
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with(label) && l.contains(value)),
        "no row {label:?} containing {value:?} in\n{text}"
    );
}

#[test]
fn explains_a_mac_address_in_every_form() {
    let colon = explain_ok("00:1b:21:3a:4f:5e");
    has_row(&colon, "OUI", "00:1b:21");
    has_row(&colon, "vendor", "Intel");
    has_row(&colon, "delivery", "unicast");
    has_row(&colon, "administered", "universally");
    assert!(!colon.contains('\x1b'), "NO_COLOR output has escape codes");
    for form in ["00-1B-21-3A-4F-5E", "001b.213a.4f5e", "001B213A4F5E"] {
        assert_eq!(explain_ok(form), colon, "{form}");
    }
    let pi = explain_ok("b8:27:eb:12:34:56");
    has_row(&pi, "vendor", "Raspberry Pi");
    let bcast = explain_ok("ff:ff:ff:ff:ff:ff");
    has_row(&bcast, "delivery", "broadcast");
    has_row(&bcast, "administered", "locally");
}

#[test]
fn explains_an_ipv4_address() {
    let t = explain_ok("172.16.5.4");
    has_row(&t, "binary", "10101100.00010000.00000101.00000100");
    has_row(&t, "class", "B");
    has_row(&t, "default mask", "255.255.0.0 (/16)");
    has_row(&t, "block", "RFC 1918: 172.16.0.0/12");
    let lo = explain_ok("127.0.0.1");
    has_row(&lo, "block", "loopback");
    let ll = explain_ok("169.254.10.20");
    has_row(&ll, "block", "link-local");
}

#[test]
fn explains_a_cidr_prefix() {
    let t = explain_ok("192.168.1.0/26");
    has_row(&t, "network", "192.168.1.0");
    has_row(&t, "broadcast", "192.168.1.63");
    has_row(&t, "netmask", "255.255.255.192");
    has_row(&t, "wildcard", "0.0.0.63");
    has_row(&t, "usable hosts", "62");
    has_row(&t, "first host", "192.168.1.1");
    has_row(&t, "last host", "192.168.1.62");
    let p2p = explain_ok("10.0.0.0/31");
    has_row(&p2p, "usable hosts", "2 (RFC 3021");
    let host = explain_ok("10.0.0.9/32");
    has_row(&host, "usable hosts", "1 ");
    has_row(&host, "first host", "10.0.0.9");
}

#[test]
fn explains_a_port() {
    let t = explain_ok("6379");
    has_row(&t, "range", "registered (1024–49151)");
    has_row(&t, "service", "Redis");
    has_row(&explain_ok("22"), "range", "well-known");
    has_row(&explain_ok("22"), "service", "SSH");
    has_row(&explain_ok("50000"), "range", "dynamic");
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    for (value, message) in [
        (
            "999.1.1.1",
            "error: '999.1.1.1' is not a MAC address, IPv4 address, CIDR prefix or port",
        ),
        ("70000", "error: '70000' is not a port: ports are 0 to 65535"),
        (
            "10.0.0.0/33",
            "error: '10.0.0.0/33' is not a CIDR prefix: prefix length must be a number from 0 to 32",
        ),
    ] {
        let out = strata(&["explain", value]);
        assert_eq!(out.status.code(), Some(2), "{value}");
        assert!(out.stdout.is_empty(), "{value}: stdout not empty");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err, format!("{message}\n"));
    }
}

#[test]
fn clap_argument_errors_exit_2() {
    assert_eq!(strata(&["explain"]).status.code(), Some(2));
    assert_eq!(
        strata(&["explain", "1.2.3.4", "extra"]).status.code(),
        Some(2)
    );
}

#[test]
fn help_lists_explain_with_examples() {
    let top = strata(&["--help"]);
    assert!(top.status.success());
    let top = String::from_utf8(top.stdout).unwrap();
    assert!(top.contains("explain"), "{top}");
    let help = strata(&["explain", "--help"]);
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    for example in [
        "strata explain 00:1b:21:3a:4f:5e",
        "strata explain 172.16.5.4",
        "strata explain 192.168.1.0/26",
        "strata explain 6379",
    ] {
        assert!(help.contains(example), "{example} missing in\n{help}");
    }
}
