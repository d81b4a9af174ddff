//! Parsers and formatters for the values the command line takes: rates,
//! durations, probabilities and byte sizes.
//!
//! Every parser returns `Result<T, String>` with a one-line message, so it
//! plugs straight into clap (`#[arg(value_parser = units::parse_rate)]`); clap
//! then prints `error: invalid value '…' for '--rate <RATE>': <message>` and
//! exits with code 2.
//!
//! Conventions (documented in `--help` too):
//!
//! - **Rates** are bits per second with decimal SI prefixes (k = 1000):
//!   `500kbit`, `100mbit`, `1gbit`, `10Mbps`, `2.5Gbit/s`, plain `64000`.
//!   `bps` always means *bits* per second (as networking uses it, unlike
//!   `tc`, where `mbps` means megabytes).
//! - **Durations** need a unit: `250us` (or `250µs`), `20ms`, `1.5s`, `100ns`,
//!   `2min`.
//! - **Probabilities** are a fraction or a percentage: `0.2` = `20%`,
//!   `0.01` = `1%`; they must lie in [0, 1].
//! - **Byte sizes** follow `dd`: a bare suffix or an `i` suffix is binary
//!   (`64k` = `64K` = `64KiB` = 65 536, `50M` = 50 × 2²⁰, `1G` = 2³⁰), a `B`
//!   after a decimal prefix is decimal (`50MB` = 50 000 000, `1kB` = 1000);
//!   plain numbers and `B` are bytes (`1500`, `1500B`).

use std::time::Duration;

/// Splits `s` into its numeric prefix and the (trimmed) unit after it.
fn split_number(s: &str) -> Result<(f64, &str), String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty value".into());
    }
    if let Some(rest) = s.strip_prefix('-') {
        if rest.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return Err(format!("'{s}' is negative"));
        }
        return Err(format!("'{s}' is not a number (is the value missing?)"));
    }
    let end = s
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .map_or(s.len(), |(i, _)| i);
    // Allow an exponent (`1e-3`) only when the number is followed by digits.
    let mut end = end;
    if let Some(rest) = s.get(end..) {
        let b = rest.as_bytes();
        if b.len() >= 2 && (b[0] == b'e' || b[0] == b'E') {
            let mut k = 1;
            if b[k] == b'-' || b[k] == b'+' {
                k += 1;
            }
            let digits = b[k..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0 {
                end += k + digits;
            }
        }
    }
    let (num, unit) = s.split_at(end);
    if num.is_empty() {
        return Err(format!("'{s}' does not start with a number"));
    }
    let cleaned: String = num.chars().filter(|&c| c != '_').collect();
    let value: f64 = cleaned
        .parse()
        .map_err(|_| format!("'{num}' is not a number"))?;
    if !value.is_finite() {
        return Err(format!("'{num}' is not a finite number"));
    }
    Ok((value, unit.trim()))
}

/// Parses a rate in bits per second: `100mbit`, `1gbit`, `10Mbps`,
/// `500kbit`, `2.5Gbit/s`, or a plain number of bit/s. Prefixes are decimal.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let (value, unit) = split_number(s)?;
    let lower = unit.to_ascii_lowercase();
    let base = lower
        .strip_suffix("bit/s")
        .or_else(|| lower.strip_suffix("bits/s"))
        .or_else(|| lower.strip_suffix("bps"))
        .or_else(|| lower.strip_suffix("bits"))
        .or_else(|| lower.strip_suffix("bit"))
        .or_else(|| lower.strip_suffix("b/s"))
        .unwrap_or(&lower);
    let mult: f64 = match base {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        _ => {
            return Err(format!(
                "unknown rate unit '{unit}' (use bit/s with k, m, g: e.g. 500kbit, 100mbit, 1gbit, 10Mbps)"
            ))
        }
    };
    let bps = value * mult;
    if bps < 1.0 {
        return Err(format!("rate '{}' is below 1 bit/s", s.trim()));
    }
    if bps > u64::MAX as f64 {
        return Err(format!("rate '{}' is too large", s.trim()));
    }
    Ok(bps.round() as u64)
}

/// Parses a duration with a unit: `250us`, `250µs`, `20ms`, `1.5s`, `100ns`,
/// `2min`. A number without unit is refused (is `20` seconds or ms?).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (value, unit) = split_number(s)?;
    let nanos_per: f64 = match unit {
        "ns" => 1.0,
        "us" | "µs" | "μs" => 1e3,
        "ms" => 1e6,
        "s" | "sec" => 1e9,
        "m" | "min" => 60e9,
        "" => {
            return Err(format!(
                "'{}' has no unit (write e.g. {}ms or {}s)",
                s.trim(),
                s.trim(),
                s.trim()
            ))
        }
        _ => {
            return Err(format!(
                "unknown duration unit '{unit}' (use ns, us, ms, s or min: e.g. 20ms, 1.5s)"
            ))
        }
    };
    let nanos = value * nanos_per;
    if nanos > u64::MAX as f64 {
        return Err(format!("duration '{}' is too long", s.trim()));
    }
    Ok(Duration::from_nanos(nanos.round() as u64))
}

/// Parses a probability: a fraction `0.2` or a percentage `20%`, in [0, 1].
pub fn parse_probability(s: &str) -> Result<f64, String> {
    let (value, unit) = split_number(s).map_err(|e| {
        if s.trim().starts_with('-') {
            format!("{e}: a probability lies between 0 and 1 (0% and 100%)")
        } else {
            e
        }
    })?;
    let p = match unit {
        "" => value,
        "%" => value / 100.0,
        _ => {
            return Err(format!(
                "'{}' is not a probability (write 0.2 or 20%)",
                s.trim()
            ))
        }
    };
    if !(0.0..=1.0).contains(&p) {
        return Err(format!(
            "probability '{}' is outside [0, 1]: it must be between 0 and 1 (0% and 100%)",
            s.trim()
        ));
    }
    Ok(p)
}

/// Parses a whole number from 0 to `max`, saying plainly when it is
/// negative, fractional or too large (clap's own parser reports `-1` as an
/// unknown argument and `1.5` as "invalid digit").
pub fn parse_whole(s: &str, max: u64) -> Result<u64, String> {
    let t = s.trim();
    let range = format!("a whole number from 0 to {max}");
    if t.starts_with('-') {
        return Err(format!("'{t}' is negative: give {range}"));
    }
    let cleaned: String = t.chars().filter(|&c| c != '_').collect();
    if cleaned.is_empty() || !cleaned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{t}' is not {range}"));
    }
    match cleaned.parse::<u64>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(format!("'{t}' is too large: give {range}")),
    }
}

/// A seed: any whole number from 0 to 2^64 − 1.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    parse_whole(s, u64::MAX)
}

/// A count that fits 16 bits (requests, datagrams, lines).
pub fn parse_count16(s: &str) -> Result<u16, String> {
    parse_whole(s, u64::from(u16::MAX)).map(|v| v as u16)
}

/// A port number, 0 to 65535.
pub fn parse_port(s: &str) -> Result<u16, String> {
    parse_whole(s, 65535).map(|v| v as u16)
}

/// Any whole number that fits 64 bits.
pub fn parse_u64(s: &str) -> Result<u64, String> {
    parse_whole(s, u64::MAX)
}

/// Smallest IP MTU every IPv4 host must accept (RFC 791: 576 octets).
pub const MIN_MTU: u16 = 576;

/// An IP MTU: 576 (RFC 791's minimum datagram every host accepts) to 65535
/// (the largest IPv4 datagram, RFC 791 Total Length). The same rule holds
/// in the simulator and on a TAP.
pub fn parse_mtu(s: &str) -> Result<u16, String> {
    let v = parse_whole(s, u64::MAX).map_err(|e| format!("{e} (an MTU lies in 576..=65535)"))?;
    if v < u64::from(MIN_MTU) || v > 65535 {
        return Err(format!(
            "MTU {v} is outside 576..=65535: IPv4 hosts must take 576-byte datagrams (RFC 791) and no datagram exceeds 65535 bytes"
        ));
    }
    Ok(v as u16)
}

/// Seconds as a decimal number (`0.2`, `1`, `2.5`), not negative.
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!(
            "'{t}' is negative: give a number of seconds, e.g. 0.5"
        ));
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{t}' is not a number of seconds (e.g. 0.5, 2)")),
    }
}

/// Parses a byte size: `1500`, `64k`, `50M`, `1G`, `50MB`, `64KiB`.
/// Bare and `i` suffixes are binary (k = 1024), `kB`/`MB`/`GB` decimal.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let (value, unit) = split_number(s)?;
    let mult: f64 = match unit {
        "" | "B" | "b" => 1.0,
        "k" | "K" | "KiB" | "kiB" => 1024.0,
        "M" | "m" | "MiB" => 1024.0 * 1024.0,
        "G" | "g" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "t" | "TiB" => 1024f64.powi(4),
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => {
            return Err(format!(
                "unknown size unit '{unit}' (use k, M, G for 1024-based or kB, MB, GB for 1000-based: e.g. 64k, 50M, 1500)"
            ))
        }
    };
    let bytes = value * mult;
    if bytes > u64::MAX as f64 {
        return Err(format!("size '{}' is too large", s.trim()));
    }
    if bytes.fract() != 0.0 && bytes < 1.0 {
        return Err(format!("size '{}' is less than one byte", s.trim()));
    }
    Ok(bytes.round() as u64)
}

/// Formats a rate in bit/s with a decimal prefix: `94.21 Mbit/s`.
pub fn format_rate(bps: f64) -> String {
    let (v, p) = if bps >= 1e9 {
        (bps / 1e9, "G")
    } else if bps >= 1e6 {
        (bps / 1e6, "M")
    } else if bps >= 1e3 {
        (bps / 1e3, "k")
    } else {
        (bps, "")
    };
    format!("{v:.2} {p}bit/s")
}

/// Formats a byte count with a binary prefix: `50.00 MiB`, `1500 B`.
pub fn format_bytes(bytes: u64) -> String {
    const K: f64 = 1024.0;
    let b = bytes as f64;
    if b >= K * K * K {
        format!("{:.2} GiB", b / (K * K * K))
    } else if b >= K * K {
        format!("{:.2} MiB", b / (K * K))
    } else if b >= K {
        format!("{:.2} KiB", b / K)
    } else {
        format!("{bytes} B")
    }
}

/// Formats a duration compactly: `850ns`, `250.0µs`, `20.00ms`, `1.500s`.
pub fn format_duration(d: Duration) -> String {
    let n = d.as_nanos();
    if n < 1_000 {
        format!("{n}ns")
    } else if n < 1_000_000 {
        format!("{:.1}µs", n as f64 / 1e3)
    } else if n < 1_000_000_000 {
        format!("{:.2}ms", n as f64 / 1e6)
    } else {
        format!("{:.3}s", n as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("100mbit"), Ok(100_000_000));
        assert_eq!(parse_rate("1gbit"), Ok(1_000_000_000));
        assert_eq!(parse_rate("10Mbps"), Ok(10_000_000));
        assert_eq!(parse_rate("500kbit"), Ok(500_000));
        assert_eq!(parse_rate("64000"), Ok(64_000));
        assert_eq!(parse_rate("2.5Gbit/s"), Ok(2_500_000_000));
        assert_eq!(parse_rate(" 1_000 bit "), Ok(1000));
        assert_eq!(parse_rate("1e6"), Ok(1_000_000));
        assert_eq!(parse_rate("100M"), Ok(100_000_000));
    }

    #[test]
    fn rate_errors() {
        assert!(parse_rate("fast")
            .unwrap_err()
            .contains("does not start with a number"));
        assert!(parse_rate("10 furlongs")
            .unwrap_err()
            .contains("unknown rate unit 'furlongs'"));
        assert!(parse_rate("0").unwrap_err().contains("below 1 bit/s"));
        assert!(parse_rate("").unwrap_err().contains("empty"));
        assert!(parse_rate("1.2.3mbit")
            .unwrap_err()
            .contains("not a number"));
        assert!(parse_rate("-5mbit").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("100ns"), Ok(Duration::from_nanos(100)));
        assert_eq!(parse_duration("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0ms"), Ok(Duration::ZERO));
    }

    #[test]
    fn duration_errors() {
        let e = parse_duration("20").unwrap_err();
        assert!(e.contains("no unit"), "{e}");
        assert!(e.contains("20ms"), "{e}");
        assert!(parse_duration("20 parsecs")
            .unwrap_err()
            .contains("unknown duration unit"));
        assert!(parse_duration("ms")
            .unwrap_err()
            .contains("does not start with a number"));
        assert!(!parse_duration("3h").unwrap_err().contains('\n'));
    }

    #[test]
    fn probabilities() {
        assert_eq!(parse_probability("0.2"), Ok(0.2));
        assert_eq!(parse_probability("20%"), Ok(0.2));
        assert_eq!(parse_probability("1%"), Ok(0.01));
        assert_eq!(parse_probability("0"), Ok(0.0));
        assert_eq!(parse_probability("1"), Ok(1.0));
        assert_eq!(parse_probability("100%"), Ok(1.0));
        assert_eq!(parse_probability("1e-3"), Ok(0.001));
        assert_eq!(parse_probability("0.5 %"), Ok(0.005));
    }

    #[test]
    fn probability_errors() {
        assert!(parse_probability("1.5")
            .unwrap_err()
            .contains("outside [0, 1]"));
        assert!(parse_probability("120%")
            .unwrap_err()
            .contains("outside [0, 1]"));
        assert!(parse_probability("-0.1").is_err());
        assert!(parse_probability("half").is_err());
        assert!(parse_probability("20 percent")
            .unwrap_err()
            .contains("not a probability"));
        assert!(parse_probability("NaN").is_err());
        assert!(parse_probability("inf").is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("1500"), Ok(1500));
        assert_eq!(parse_bytes("1500B"), Ok(1500));
        assert_eq!(parse_bytes("64k"), Ok(65_536));
        assert_eq!(parse_bytes("64K"), Ok(65_536));
        assert_eq!(parse_bytes("64KiB"), Ok(65_536));
        assert_eq!(parse_bytes("50M"), Ok(50 * 1024 * 1024));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("50MB"), Ok(50_000_000));
        assert_eq!(parse_bytes("1kB"), Ok(1000));
        assert_eq!(parse_bytes("1.5M"), Ok(1_572_864));
        assert_eq!(parse_bytes("0"), Ok(0));
    }

    #[test]
    fn byte_size_errors() {
        assert!(parse_bytes("50X")
            .unwrap_err()
            .contains("unknown size unit 'X'"));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("0.5")
            .unwrap_err()
            .contains("less than one byte"));
        assert!(parse_bytes("99999999999T")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_rate(94_210_000.0), "94.21 Mbit/s");
        assert_eq!(format_rate(1.5e9), "1.50 Gbit/s");
        assert_eq!(format_rate(800.0), "800.00 bit/s");
        assert_eq!(format_bytes(1000), "1000 B");
        assert_eq!(format_bytes(1536), "1.50 KiB");
        assert_eq!(format_bytes(50 * 1024 * 1024), "50.00 MiB");
        assert_eq!(format_duration(Duration::from_micros(250)), "250.0µs");
        assert_eq!(format_duration(Duration::from_millis(20)), "20.00ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.500s");
        assert_eq!(format_duration(Duration::from_nanos(12)), "12ns");
    }
}
