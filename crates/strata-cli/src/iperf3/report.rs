//! iperf3's way of printing numbers, so a strata run and an iperf3 run read
//! alike: transfers in 1024-based units (`KBytes`, `MBytes`, `GBytes`),
//! rates in 1000-based bits (`Kbits/sec`, `Mbits/sec`), three significant
//! digits, and the interval and summary lines in iperf3's columns.

/// `1.09 GBytes`, ` 938 KBytes`, `  12 Bytes`.
pub fn bytes(n: f64) -> String {
    scaled(n, 1024.0, "Bytes")
}

/// `94.1 Mbits/sec`.
pub fn bits_per_sec(bps: f64) -> String {
    scaled(bps, 1000.0, "bits/sec")
}

fn scaled(v: f64, k: f64, unit: &str) -> String {
    let (v, prefix) = if v >= k * k * k {
        (v / (k * k * k), "G")
    } else if v >= k * k {
        (v / (k * k), "M")
    } else if v >= k {
        (v / k, "K")
    } else {
        (v, " ")
    };
    let num = if v < 9.995 {
        format!("{v:4.2}")
    } else if v < 99.95 {
        format!("{v:4.1}")
    } else {
        format!("{v:4.0}")
    };
    format!("{num} {prefix}{unit}")
}

/// `[  1]` or `[SUM]`.
pub fn tag(id: Option<u32>) -> String {
    match id {
        Some(id) => format!("[{id:>3}]"),
        None => "[SUM]".into(),
    }
}

/// `[  1]   0.00-1.00   sec  11.2 MBytes  94.1 Mbits/sec` — the common
/// start of every interval and summary line.
pub fn line(id: Option<u32>, t0: f64, t1: f64, nbytes: u64) -> String {
    let secs = (t1 - t0).max(1e-9);
    format!(
        "{} {:6.2}-{:<6.2} sec  {}  {}",
        tag(id),
        t0,
        t1,
        bytes(nbytes as f64),
        bits_per_sec(nbytes as f64 * 8.0 / secs)
    )
}

/// The rule iperf3 draws before the summary.
pub const RULE: &str = "- - - - - - - - - - - - - - - - - - - - - - - - -";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_iperf3() {
        assert_eq!(bytes(1_170_000_000.0), "1.09 GBytes");
        assert_eq!(bytes(11.75 * 1024.0 * 1024.0), "11.8 MBytes");
        assert_eq!(bytes(130.0 * 1024.0), " 130 KBytes");
        assert_eq!(bits_per_sec(94_100_000.0), "94.1 Mbits/sec");
        assert_eq!(bits_per_sec(938_000_000.0), " 938 Mbits/sec");
        assert_eq!(bits_per_sec(1_050_000.0), "1.05 Mbits/sec");
        assert_eq!(
            line(Some(5), 0.0, 1.0, 1_048_576),
            "[  5]   0.00-1.00   sec  1.00 MBytes  8.39 Mbits/sec"
        );
        assert_eq!(tag(None), "[SUM]");
    }
}
