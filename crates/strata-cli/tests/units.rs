//! The CLI value parsers, seen from outside: every accepted form, and the
//! one-line errors for bad input.
#![allow(dead_code)]

#[path = "../src/units.rs"]
mod units;

use std::time::Duration;
use units::*;

#[test]
fn the_forms_the_help_text_promises() {
    // --rate
    for (s, v) in [
        ("100mbit", 100e6),
        ("1gbit", 1e9),
        ("10Mbps", 10e6),
        ("500kbit", 500e3),
        ("9600", 9600.0),
    ] {
        assert_eq!(parse_rate(s), Ok(v as u64), "{s}");
    }
    // --rtt
    for (s, v) in [
        ("20ms", 20_000_000u64),
        ("1.5s", 1_500_000_000),
        ("250us", 250_000),
    ] {
        assert_eq!(parse_duration(s), Ok(Duration::from_nanos(v)), "{s}");
    }
    // --loss 0.2 and 20% are the same
    assert_eq!(parse_probability("0.2"), parse_probability("20%"));
    assert_eq!(parse_probability("1%"), Ok(0.01));
    // --bytes: binary for bare suffixes, decimal with B
    assert_eq!(parse_bytes("50M"), Ok(52_428_800));
    assert_eq!(parse_bytes("1G"), Ok(1_073_741_824));
    assert_eq!(parse_bytes("64k"), Ok(65_536));
    assert_eq!(parse_bytes("1500"), Ok(1500));
    assert_eq!(parse_bytes("50MB"), Ok(50_000_000));
}

#[test]
fn errors_are_one_clear_line() {
    let errors = [
        parse_rate("fast").unwrap_err(),
        parse_rate("100 mph").unwrap_err(),
        parse_duration("20").unwrap_err(),
        parse_duration("3 fortnights").unwrap_err(),
        parse_probability("1.2").unwrap_err(),
        parse_probability("150%").unwrap_err(),
        parse_bytes("12 bananas").unwrap_err(),
        parse_bytes("").unwrap_err(),
    ];
    for e in &errors {
        assert!(!e.is_empty());
        assert!(!e.contains('\n'), "multi-line error: {e}");
        assert!(e.len() < 120, "error too long: {e}");
    }
    assert!(errors[2].contains("no unit"));
    assert!(errors[4].contains("[0, 1]"));
    assert!(errors[6].contains("bananas"));
}

#[test]
fn formatting_round_trips_through_parsing() {
    for bytes in [0u64, 1, 1023, 1024, 65_536, 50 << 20, 3 << 30] {
        let text = format_bytes(bytes)
            .replace(' ', "")
            .replace("KiB", "k")
            .replace("MiB", "M")
            .replace("GiB", "G");
        let back = parse_bytes(&text).unwrap();
        let err = (back as f64 - bytes as f64).abs();
        assert!(
            err <= bytes as f64 * 0.005 + 0.5,
            "{bytes} -> {text} -> {back}"
        );
    }
    for ns in [500u64, 250_000, 20_000_000, 1_500_000_000] {
        let d = Duration::from_nanos(ns);
        let back = parse_duration(&format_duration(d)).unwrap();
        assert!(
            (back.as_nanos() as f64 - ns as f64).abs() <= ns as f64 * 0.001,
            "{ns}"
        );
    }
}
