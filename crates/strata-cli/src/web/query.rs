//! The options of a run as the web view names them in its URLs
//! (`?scenario=bulk&seed=7&loss=1%25`): parsed with the same parsers as
//! `strata sim`'s flags, checked against the web view's limits, and written
//! back in one canonical order so a URL reproduces its run.

use std::fmt::Write as _;

use strata::time::Duration;
use strata::transport::tcp::congestion::Algorithm;

use crate::demo::Closer;
use crate::lab::{LabArgs, LinkParams};
use crate::units;

/// The scenarios the web view runs: the ones whose run the CLI records as
/// a capture (and, for the TCP ones, as congestion samples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// One TCP connection moves `bytes` from A to B.
    Bulk,
    /// A fetches a page from an HTTP/1.1 server on B.
    Http,
    /// A sends `count` lines to a TCP echo server on B.
    Echo,
    /// Two hosts on a switch: ARP, then echo round trips.
    Ping,
    /// A UDP echo client and server on a switch.
    Udp,
}

impl Scenario {
    /// Every scenario, in the order the page lists them.
    pub const ALL: [Scenario; 5] = [
        Scenario::Echo,
        Scenario::Http,
        Scenario::Bulk,
        Scenario::Ping,
        Scenario::Udp,
    ];

    /// Its name in URLs and on the command line (`strata sim NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Bulk => "bulk",
            Scenario::Http => "http",
            Scenario::Echo => "echo",
            Scenario::Ping => "ping",
            Scenario::Udp => "udp",
        }
    }

    /// True for the scenarios on the lab's TCP cable.
    pub fn is_tcp(self) -> bool {
        matches!(self, Scenario::Bulk | Scenario::Http | Scenario::Echo)
    }
}

/// Largest `bytes` a web run moves: the ladder of every frame stays a
/// few thousand rows.
pub const MAX_BYTES: u64 = 2 << 20;
/// Largest `count` (lines, echo requests, datagrams).
pub const MAX_COUNT: u16 = 200;
/// Highest loss, reordering, duplication or corruption probability: a run
/// must finish in a moment, not after minutes of back-off.
pub const MAX_PROBABILITY: f64 = 0.5;
/// Longest query string taken.
pub const MAX_QUERY: usize = 2048;

/// A bad option: the message the page shows (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadQuery(pub String);

fn bad<T>(msg: impl Into<String>) -> Result<T, BadQuery> {
    Err(BadQuery(msg.into()))
}

/// A run's options, parsed and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The scenario.
    pub scenario: Scenario,
    /// Seed of every random choice.
    pub seed: u64,
    /// Mean loss per frame.
    pub loss: f64,
    /// Round-trip propagation delay.
    pub rtt: Option<Duration>,
    /// Link rate, bit/s.
    pub rate: Option<u64>,
    /// Loss in bursts of this mean length.
    pub burst: Option<f64>,
    /// Reordering probability.
    pub reorder: f64,
    /// Duplication probability.
    pub dup: f64,
    /// Corruption probability.
    pub corrupt: f64,
    /// IP MTU.
    pub mtu: Option<u16>,
    /// Congestion control.
    pub cc: Algorithm,
    /// Offer SACK.
    pub sack: bool,
    /// Offer timestamps.
    pub timestamps: bool,
    /// bulk: bytes to move; http: page size.
    pub bytes: Option<u64>,
    /// echo lines, ping requests, udp datagrams.
    pub count: Option<u16>,
    /// http, echo: who closes first.
    pub closer: Option<Closer>,
    /// The options as given, one `key=value` each in canonical order.
    canonical: Vec<(&'static str, String)>,
}

/// The keys a query may hold, in canonical order.
const KEYS: [&str; 16] = [
    "scenario",
    "seed",
    "loss",
    "burst",
    "rtt",
    "rate",
    "reorder",
    "dup",
    "corrupt",
    "mtu",
    "cc",
    "sack",
    "timestamps",
    "bytes",
    "count",
    "closer",
];

/// Keys that only the TCP scenarios take.
const TCP_ONLY: [&str; 10] = [
    "burst",
    "reorder",
    "dup",
    "corrupt",
    "mtu",
    "cc",
    "sack",
    "timestamps",
    "bytes",
    "closer",
];

/// Decodes `%XX` escapes and `+` (a space in a query); `None` when an escape
/// is malformed or the result is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Escapes everything but unreserved characters (RFC 3986 §2.3).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
            out.push(c as char);
        } else {
            let _ = write!(out, "%{c:02X}");
        }
    }
    out
}

fn on_off(key: &str, v: &str) -> Result<bool, BadQuery> {
    match v {
        "on" | "1" | "true" | "yes" => Ok(true),
        "off" | "0" | "false" | "no" => Ok(false),
        _ => bad(format!("{key}: '{v}' is not on or off")),
    }
}

fn probability(key: &str, v: &str) -> Result<f64, BadQuery> {
    let p = units::parse_probability(v).map_err(|e| BadQuery(format!("{key}: {e}")))?;
    if p > MAX_PROBABILITY {
        return bad(format!(
            "{key}: {v} is more than the web view runs (at most 50%)"
        ));
    }
    Ok(p)
}

impl Query {
    /// Parses a query string (without the `?`). Unknown, repeated or
    /// malformed options are refused with a message naming them.
    pub fn parse(qs: &str) -> Result<Query, BadQuery> {
        if qs.len() > MAX_QUERY {
            return bad(format!(
                "the query is {} bytes long; at most {MAX_QUERY} are taken",
                qs.len()
            ));
        }
        let mut given: Vec<(&'static str, String)> = Vec::new();
        for pair in qs.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(k) = percent_decode(k) else {
                return bad("a key is not valid percent-encoded UTF-8");
            };
            let Some(key) = KEYS.iter().copied().find(|&x| x == k) else {
                return bad(format!(
                    "unknown option '{}' (options: {})",
                    k.chars().take(40).collect::<String>(),
                    KEYS.join(", ")
                ));
            };
            let Some(v) = percent_decode(v) else {
                return bad(format!("{key}: not valid percent-encoded UTF-8"));
            };
            let v = v.trim().to_string();
            if v.is_empty() {
                continue;
            }
            if given.iter().any(|(g, _)| *g == key) {
                return bad(format!("{key} is given twice"));
            }
            given.push((key, v));
        }
        given.sort_by_key(|(k, _)| KEYS.iter().position(|x| x == k));
        let get = |k: &str| given.iter().find(|(g, _)| *g == k).map(|(_, v)| v.as_str());
        let name = get("scenario").unwrap_or("echo");
        if let Some(what) = match name {
            "storm" => Some("three switches in a loop"),
            "traceroute" => Some("two routers and their switches between A and B"),
            _ => None,
        } {
            // The page draws two hosts on a two-rail ladder; these runs
            // have more nodes, which the CLI shows.
            return bad(format!(
                "{name} has more than two hosts ({what}), and the web view draws two: \
                 run `strata sim {name}`{}",
                if name == "storm" {
                    " (`--stp --svg FILE` draws the spanning tree's ports over time)"
                } else {
                    ""
                }
            ));
        }
        let Some(&scenario) = Scenario::ALL.iter().find(|x| x.name() == name) else {
            return bad(format!(
                "unknown scenario '{}' (the web view runs: {})",
                name.chars().take(40).collect::<String>(),
                Scenario::ALL.map(Scenario::name).join(", ")
            ));
        };
        if !scenario.is_tcp() {
            if let Some((k, _)) = given.iter().find(|(k, _)| TCP_ONLY.contains(k)) {
                return bad(format!(
                    "{k} is for the bulk, http and echo scenarios; {} takes seed, loss, rtt, rate and count",
                    scenario.name()
                ));
            }
        }
        if scenario == Scenario::Bulk && get("closer").is_some() {
            return bad("closer is for the http and echo scenarios");
        }
        if scenario == Scenario::Bulk && get("count").is_some() {
            return bad("count is for echo, ping and udp (bulk moves bytes)");
        }
        if scenario == Scenario::Echo && get("bytes").is_some() {
            return bad("bytes is for bulk and http (echo sends count lines)");
        }
        let field = |k: &str, e: String| BadQuery(format!("{k}: {e}"));
        let seed = match get("seed") {
            Some(v) => units::parse_seed(v).map_err(|e| field("seed", e))?,
            None => 1,
        };
        let loss = match get("loss") {
            Some(v) => probability("loss", v)?,
            None => 0.0,
        };
        let rtt = get("rtt")
            .map(|v| units::parse_duration(v).map_err(|e| field("rtt", e)))
            .transpose()?;
        if let Some(r) = rtt {
            if r > Duration::from_secs(10) {
                return bad("rtt: at most 10s in the web view");
            }
            if r.is_zero() {
                return bad("rtt: must be above zero");
            }
        }
        let rate = get("rate")
            .map(|v| units::parse_rate(v).map_err(|e| field("rate", e)))
            .transpose()?;
        if let Some(r) = rate {
            crate::lab::check_rate(r).map_err(|e| field("rate", e))?;
        }
        let burst = get("burst")
            .map(|v| match v.parse::<f64>() {
                Ok(x) if (1.0..=1000.0).contains(&x) => Ok(x),
                _ => bad(format!(
                    "burst: '{v}' is not a mean burst length of 1 to 1000 frames"
                )),
            })
            .transpose()?;
        if burst.is_some() && loss == 0.0 {
            return bad("burst shapes loss into bursts: give the mean loss too (loss=1%)");
        }
        let reorder = get("reorder").map_or(Ok(0.0), |v| probability("reorder", v))?;
        let dup = get("dup").map_or(Ok(0.0), |v| probability("dup", v))?;
        let corrupt = get("corrupt").map_or(Ok(0.0), |v| probability("corrupt", v))?;
        let mtu = get("mtu")
            .map(|v| units::parse_mtu(v).map_err(|e| field("mtu", e)))
            .transpose()?;
        if mtu.is_some_and(|m| m > 9000) {
            return bad("mtu: at most 9000 in the web view");
        }
        let cc = match get("cc") {
            Some(v) => v.parse().map_err(|e: &str| BadQuery(format!("cc: {e}")))?,
            None => Algorithm::default(),
        };
        let sack = get("sack").map_or(Ok(true), |v| on_off("sack", v))?;
        let timestamps = get("timestamps").map_or(Ok(true), |v| on_off("timestamps", v))?;
        let bytes = get("bytes")
            .map(|v| units::parse_bytes(v).map_err(|e| field("bytes", e)))
            .transpose()?;
        if let Some(b) = bytes {
            if b > MAX_BYTES {
                return bad(format!(
                    "bytes: {v} is more than the web view moves (at most 2M)",
                    v = get("bytes").unwrap_or_default()
                ));
            }
            if b == 0 && scenario == Scenario::Bulk {
                return bad("bytes: bulk moves at least one byte");
            }
        }
        let count = get("count")
            .map(|v| units::parse_count16(v).map_err(|e| field("count", e)))
            .transpose()?;
        if let Some(c) = count {
            if c == 0 || c > MAX_COUNT {
                return bad(format!("count: {c} is outside 1..={MAX_COUNT}"));
            }
        }
        let closer = match get("closer") {
            None => None,
            Some("client") => Some(Closer::Client),
            Some("server") => Some(Closer::Server),
            Some("both") => Some(Closer::Both),
            Some(v) => return bad(format!("closer: '{v}' is not client, server or both")),
        };
        let mut canonical = given;
        // The scenario and the seed are always written: the URL says
        // what ran, and which seed replays it.
        if !canonical.iter().any(|(k, _)| *k == "scenario") {
            canonical.insert(0, ("scenario", scenario.name().to_string()));
        }
        if !canonical.iter().any(|(k, _)| *k == "seed") {
            canonical.insert(1, ("seed", seed.to_string()));
        }
        let q = Query {
            scenario,
            seed,
            loss,
            rtt,
            rate,
            burst,
            reorder,
            dup,
            corrupt,
            mtu,
            cc,
            sack,
            timestamps,
            bytes,
            count,
            closer,
            canonical,
        };
        if q.scenario.is_tcp() {
            q.link().check().map_err(BadQuery)?;
        }
        Ok(q)
    }

    /// The query string that reproduces this run, keys in a fixed order:
    /// parsing it gives the same query, and the same string again.
    pub fn canonical(&self) -> String {
        self.canonical
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The link of the TCP scenarios, as `strata sim` builds it from its flags.
    pub fn link(&self) -> LinkParams {
        let lab = LabArgs {
            rate: self.rate,
            rtt: self.rtt,
            burst_loss: self.burst,
            reorder: self.reorder,
            dup: self.dup,
            corrupt: self.corrupt,
            mtu: self.mtu,
            cc: self.cc.into(),
            iw: None,
            buffer: None,
            delack: None,
            queue: None,
            no_hystart: false,
            flows: None,
            no_sack: !self.sack,
            no_timestamps: !self.timestamps,
            bytes: self.bytes,
            svg: None,
            json: false,
            ladder: true,
            no_color: true,
            width: None,
        };
        LinkParams::new(&lab, self.loss)
    }

    /// The same run on the command line.
    pub fn command_line(&self) -> String {
        let mut s = format!("strata sim {} --ladder", self.scenario.name());
        for (k, v) in &self.canonical {
            let flag = match *k {
                "scenario" => continue,
                "burst" => "burst-loss",
                "sack" if v == "off" || v == "0" || v == "false" || v == "no" => {
                    s += " --no-sack";
                    continue;
                }
                "timestamps" if v == "off" || v == "0" || v == "false" || v == "no" => {
                    s += " --no-timestamps";
                    continue;
                }
                "sack" | "timestamps" => continue,
                other => other,
            };
            let _ = write!(s, " --{flag} {v}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_round_trips() {
        let q = Query::parse("loss=1%25&seed=7&scenario=bulk&bytes=64k&rtt=20ms").unwrap();
        assert_eq!(q.scenario, Scenario::Bulk);
        assert_eq!(q.seed, 7);
        assert_eq!(q.loss, 0.01);
        assert_eq!(q.bytes, Some(64 * 1024));
        let c = q.canonical();
        assert_eq!(c, "scenario=bulk&seed=7&loss=1%25&rtt=20ms&bytes=64k");
        let again = Query::parse(&c).unwrap();
        assert_eq!(again, q);
        assert_eq!(again.canonical(), c);
        assert_eq!(
            q.command_line(),
            "strata sim bulk --ladder --seed 7 --loss 1% --rtt 20ms --bytes 64k"
        );
    }

    #[test]
    fn defaults_name_the_scenario_and_the_seed() {
        let q = Query::parse("").unwrap();
        assert_eq!(q.canonical(), "scenario=echo&seed=1");
        let q = Query::parse("seed=9&count=3").unwrap();
        assert_eq!(q.canonical(), "scenario=echo&seed=9&count=3");
    }

    #[test]
    fn bad_queries_are_refused_with_a_reason() {
        for (qs, want) in [
            ("scenario=nope", "unknown scenario 'nope'"),
            (
                "scenario=storm",
                "run `strata sim storm` (`--stp --svg FILE`",
            ),
            ("scenario=traceroute", "more than two hosts (two routers"),
            ("frobnicate=1", "unknown option 'frobnicate'"),
            ("seed=1&seed=2", "seed is given twice"),
            ("seed=-1", "seed: "),
            ("loss=abc", "loss: "),
            ("loss=90%25", "at most 50%"),
            (
                "scenario=ping&bytes=1k",
                "bytes is for the bulk, http and echo",
            ),
            ("scenario=bulk&bytes=1G", "at most 2M"),
            ("count=0", "count: 0 is outside"),
            ("rate=1", "rate: "),
            ("mtu=100", "mtu: "),
            ("burst=4", "give the mean loss too"),
            ("closer=nobody", "closer: 'nobody'"),
            ("loss=%ZZ", "not valid percent-encoded"),
            ("sack=maybe", "sack: 'maybe' is not on or off"),
        ] {
            let e = Query::parse(qs).expect_err(qs);
            assert!(e.0.contains(want), "{qs}: {e}");
        }
        let long = "seed=1&".repeat(400);
        assert!(Query::parse(&long).unwrap_err().0.contains("at most 2048"));
    }

    #[test]
    fn percent_coding_is_symmetric() {
        for s in ["1%", "20 ms", "a&b=c", "µs", ""] {
            assert_eq!(percent_decode(&percent_encode(s)).as_deref(), Some(s));
        }
        assert_eq!(percent_decode("1%2"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
