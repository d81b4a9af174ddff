//! The iperf3 control protocol, as the iperf3 tool speaks it (version 3.x):
//!
//! 1. The client opens a TCP control connection to the server (port 5201)
//!    and sends a 37-byte cookie: 36 characters that name the test, then a
//!    NUL. Every data connection later opens with the same cookie, which is
//!    how the server tells its streams from a stranger's.
//! 2. From then on the server drives: it sends one signed byte, the *state*
//!    ([`State`]), and the client answers as each state asks.
//!    `PARAM_EXCHANGE`: the client sends its settings as JSON (a 4-byte
//!    big-endian length, then the text). `CREATE_STREAMS`: the client opens
//!    the data streams (TCP: connect, send the cookie; UDP: send a 4-byte
//!    hello, wait for the 4-byte answer). `TEST_START`, `TEST_RUNNING`: the
//!    data flows (client to server, or back with `reverse`).
//! 3. The client ends the test with the state byte `TEST_END`. The server
//!    answers `EXCHANGE_RESULTS`; the client sends its per-stream results as
//!    JSON, the server its own; `DISPLAY_RESULTS`; the client says
//!    `IPERF_DONE` and both print their summaries.
//!
//! UDP datagrams start with the send time (seconds, microseconds, 32 bits
//! each) and a packet number (32 bits, or 64 with `udp_counters_64bit`),
//! big-endian; the receiver counts gaps as lost datagrams and computes the
//! interarrival jitter of RFC 3550 §6.4.1 (RFC 1889 in iperf's comments).

use std::io::{self, Read, Write};

use serde_json::{json, Value};

/// The server's default port.
pub const DEFAULT_PORT: u16 = 5201;
/// The cookie: 36 characters and a NUL.
pub const COOKIE_SIZE: usize = 37;
/// TCP's default write size (128 KiB).
pub const DEFAULT_TCP_LEN: usize = 128 * 1024;
/// UDP's default datagram payload (fits a 1500-byte MTU).
pub const DEFAULT_UDP_LEN: usize = 1460;
/// UDP's default rate: 1 Mbit/s (iperf3 counts it as 2^20 bit/s).
pub const DEFAULT_UDP_RATE: u64 = 1024 * 1024;
/// The client's UDP hello, as bytes on the wire ("9876").
pub const UDP_CONNECT_MSG: [u8; 4] = *b"9876";
/// The server's UDP answer ("6789").
pub const UDP_CONNECT_REPLY: [u8; 4] = *b"6789";
/// The answer of servers before iperf 3.12: 987654321 in little-endian.
pub const LEGACY_UDP_CONNECT_REPLY: [u8; 4] = 987_654_321u32.to_le_bytes();
/// iperf's error number for "not implemented" (sent after `SERVER_ERROR`).
pub const IE_UNIMP: i32 = 13;
/// Largest JSON message accepted (iperf3 limits its own to 8 KiB for the
/// parameters; results grow with the number of streams).
const MAX_JSON: u32 = 1 << 20;

/// The states the server announces on the control connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Data streams are about to run.
    TestStart,
    /// Data streams run.
    TestRunning,
    /// The client ends the test.
    TestEnd,
    /// The client is to send its parameters.
    ParamExchange,
    /// The client is to open its data streams.
    CreateStreams,
    /// The server stops.
    ServerTerminate,
    /// The client stops early (Ctrl-C).
    ClientTerminate,
    /// Both send their results.
    ExchangeResults,
    /// Both print their results.
    DisplayResults,
    /// Start (unused on the wire by iperf3 3.x).
    IperfStart,
    /// The client is done.
    IperfDone,
    /// The server is busy with another test.
    AccessDenied,
    /// The server failed; two 32-bit error numbers follow.
    ServerError,
}

impl State {
    /// The byte on the wire.
    pub fn byte(self) -> i8 {
        match self {
            State::TestStart => 1,
            State::TestRunning => 2,
            State::TestEnd => 4,
            State::ParamExchange => 9,
            State::CreateStreams => 10,
            State::ServerTerminate => 11,
            State::ClientTerminate => 12,
            State::ExchangeResults => 13,
            State::DisplayResults => 14,
            State::IperfStart => 15,
            State::IperfDone => 16,
            State::AccessDenied => -1,
            State::ServerError => -2,
        }
    }

    /// The state a byte names, if any.
    pub fn from_byte(b: i8) -> Option<State> {
        Some(match b {
            1 => State::TestStart,
            2 => State::TestRunning,
            4 => State::TestEnd,
            9 => State::ParamExchange,
            10 => State::CreateStreams,
            11 => State::ServerTerminate,
            12 => State::ClientTerminate,
            13 => State::ExchangeResults,
            14 => State::DisplayResults,
            15 => State::IperfStart,
            16 => State::IperfDone,
            -1 => State::AccessDenied,
            -2 => State::ServerError,
            _ => return None,
        })
    }
}

/// Sends one state byte.
pub fn send_state(w: &mut impl Write, s: State) -> io::Result<()> {
    w.write_all(&[s.byte() as u8])?;
    w.flush()
}

/// Reads one state byte; an unknown byte is an `InvalidData` error.
pub fn read_state(r: &mut impl Read) -> io::Result<State> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    State::from_byte(b[0] as i8).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unknown iperf3 state {}", b[0] as i8),
        )
    })
}

/// A fresh cookie: 36 characters of iperf3's alphabet (base32, lower
/// case) from the system's random source, then a NUL.
pub fn new_cookie() -> io::Result<[u8; COOKIE_SIZE]> {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut raw = [0u8; COOKIE_SIZE - 1];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut raw)?;
    let mut c = [0u8; COOKIE_SIZE];
    for (d, r) in c.iter_mut().zip(raw) {
        *d = ALPHABET[usize::from(r) % 32];
    }
    Ok(c)
}

/// Writes a JSON message: 4-byte big-endian length, then the text.
pub fn write_json(w: &mut impl Write, v: &Value) -> io::Result<()> {
    let text = serde_json::to_vec(v)?;
    let len = u32::try_from(text.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "JSON too long"))?;
    let mut msg = len.to_be_bytes().to_vec();
    msg.extend_from_slice(&text);
    w.write_all(&msg)?;
    w.flush()
}

/// Reads a JSON message written by [`write_json`].
pub fn read_json(r: &mut impl Read) -> io::Result<Value> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len);
    if len > MAX_JSON {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("JSON message of {len} bytes is too long"),
        ));
    }
    let mut text = vec![0u8; len as usize];
    r.read_exact(&mut text)?;
    serde_json::from_slice(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Protocol of the data streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// TCP streams.
    Tcp,
    /// UDP streams.
    Udp,
}

/// The test's settings, as the client sends them.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// TCP or UDP.
    pub proto: Proto,
    /// Seconds to run (0 when bytes end the test).
    pub time: f64,
    /// Bytes to move in all (0: time ends the test).
    pub bytes: u64,
    /// Number of parallel streams.
    pub parallel: u32,
    /// The server sends, the client receives.
    pub reverse: bool,
    /// Write size (TCP) or datagram payload (UDP).
    pub len: usize,
    /// Target rate per stream in bit/s (UDP; 0 = unlimited for TCP).
    pub bandwidth: u64,
    /// UDP packet numbers are 64 bits wide.
    pub udp64: bool,
}

impl Params {
    /// The JSON object the client sends.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "omit": 0,
            "time": self.time,
            "num": self.bytes,
            "blockcount": 0,
            "parallel": self.parallel,
            "len": self.len,
            "pacing_timer": 1000,
            "client_version": concat!("strata-", env!("CARGO_PKG_VERSION")),
        });
        let o = v.as_object_mut().expect("an object");
        match self.proto {
            Proto::Tcp => o.insert("tcp".into(), Value::Bool(true)),
            Proto::Udp => o.insert("udp".into(), Value::Bool(true)),
        };
        if self.reverse {
            o.insert("reverse".into(), Value::Bool(true));
        }
        if self.bandwidth > 0 {
            o.insert("bandwidth".into(), self.bandwidth.into());
        }
        if self.udp64 {
            o.insert("udp_counters_64bit".into(), 1.into());
        }
        v
    }

    /// Reads the client's JSON; `Err` names what strata does not do.
    pub fn from_json(v: &Value) -> Result<Params, String> {
        let num = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let flag = |k: &str| match v.get(k) {
            Some(Value::Bool(b)) => *b,
            Some(n) => n.as_f64().is_some_and(|x| x != 0.0),
            None => false,
        };
        let proto = if flag("udp") {
            Proto::Udp
        } else if flag("tcp") {
            Proto::Tcp
        } else {
            return Err("only TCP and UDP tests are supported".into());
        };
        if flag("bidirectional") {
            return Err("--bidir is not supported".into());
        }
        if num("blockcount") > 0.0 {
            return Err("-k (block count) is not supported".into());
        }
        if num("omit") > 0.0 {
            return Err("-O (omit) is not supported".into());
        }
        let parallel = (num("parallel") as u32).max(1);
        if parallel > 128 {
            return Err(format!(
                "{parallel} parallel streams are too many (at most 128)"
            ));
        }
        let default_len = match proto {
            Proto::Tcp => DEFAULT_TCP_LEN,
            Proto::Udp => DEFAULT_UDP_LEN,
        };
        let len = match num("len") as usize {
            0 => default_len,
            n => n,
        };
        let min = if proto == Proto::Udp { 16 } else { 1 };
        if len < min || len > 1 << 24 || (proto == Proto::Udp && len > 65507) {
            return Err(format!("block size {len} is out of range"));
        }
        Ok(Params {
            proto,
            time: num("time").max(0.0),
            bytes: num("num").max(0.0) as u64,
            parallel,
            reverse: flag("reverse"),
            len,
            bandwidth: num("bandwidth").max(0.0) as u64,
            udp64: flag("udp_counters_64bit"),
        })
    }
}

/// One stream's result, as exchanged at the end.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StreamResult {
    /// Stream id (1, 3, 4, 5, … in iperf3's numbering).
    pub id: u32,
    /// Bytes sent (sender) or received (receiver).
    pub bytes: u64,
    /// TCP retransmissions (sender), else -1.
    pub retransmits: i64,
    /// UDP jitter in seconds (receiver).
    pub jitter: f64,
    /// UDP datagrams lost (receiver).
    pub errors: i64,
    /// UDP datagrams sent, or the highest number received.
    pub packets: i64,
    /// Seconds the stream ran.
    pub seconds: f64,
}

/// Results of one side.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Results {
    /// CPU use of this side, percent: total, user, system.
    pub cpu: [f64; 3],
    /// 1 when this side sent and counts retransmissions, -1 when it received.
    pub sender_has_retransmits: i64,
    /// Per stream.
    pub streams: Vec<StreamResult>,
}

impl Results {
    /// The JSON object sent at `EXCHANGE_RESULTS`.
    pub fn to_json(&self) -> Value {
        let streams: Vec<Value> = self
            .streams
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "bytes": s.bytes,
                    "retransmits": s.retransmits,
                    "jitter": s.jitter,
                    "errors": s.errors,
                    "omitted_errors": 0,
                    "packets": s.packets,
                    "omitted_packets": 0,
                    "start_time": 0.0,
                    "end_time": s.seconds,
                })
            })
            .collect();
        json!({
            "cpu_util_total": self.cpu[0],
            "cpu_util_user": self.cpu[1],
            "cpu_util_system": self.cpu[2],
            "sender_has_retransmits": self.sender_has_retransmits,
            "congestion_used": "newreno",
            "streams": streams,
        })
    }

    /// Reads the peer's results. iperf3 writes -1 through an unsigned
    /// conversion (18446744073709551615); such values read back as -1.
    pub fn from_json(v: &Value) -> Result<Results, String> {
        let f = |v: &Value, k: &str| {
            v.get(k).and_then(|x| match x.as_u64() {
                Some(u) if u > i64::MAX as u64 => Some(u as i64 as f64),
                _ => x.as_f64(),
            })
        };
        let need = |v: &Value, k: &str| f(v, k).ok_or(format!("results without \"{k}\""));
        let streams = v
            .get("streams")
            .and_then(Value::as_array)
            .ok_or("results without \"streams\"")?
            .iter()
            .map(|s| {
                Ok(StreamResult {
                    id: need(s, "id")? as u32,
                    bytes: need(s, "bytes")?.max(0.0) as u64,
                    retransmits: f(s, "retransmits").unwrap_or(-1.0) as i64,
                    jitter: f(s, "jitter").unwrap_or(0.0),
                    errors: f(s, "errors").unwrap_or(0.0) as i64,
                    packets: f(s, "packets").unwrap_or(0.0) as i64,
                    seconds: f(s, "end_time").unwrap_or(0.0) - f(s, "start_time").unwrap_or(0.0),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Results {
            cpu: [
                f(v, "cpu_util_total").unwrap_or(0.0),
                f(v, "cpu_util_user").unwrap_or(0.0),
                f(v, "cpu_util_system").unwrap_or(0.0),
            ],
            sender_has_retransmits: f(v, "sender_has_retransmits").unwrap_or(-1.0) as i64,
            streams,
        })
    }
}

/// iperf3's stream numbering: 1, then 3, 4, 5, … (it skips 2, and keeps
/// doing so for compatibility between versions).
pub fn stream_id(index: usize) -> u32 {
    if index == 0 {
        1
    } else {
        index as u32 + 2
    }
}

/// Length of a UDP datagram's header: time and packet number.
pub fn udp_header_len(udp64: bool) -> usize {
    if udp64 {
        16
    } else {
        12
    }
}

/// Writes the UDP header: send time (s, µs since the Unix epoch) and the
/// packet number, big-endian.
pub fn put_udp_header(buf: &mut [u8], udp64: bool, secs: u32, usecs: u32, count: u64) {
    buf[0..4].copy_from_slice(&secs.to_be_bytes());
    buf[4..8].copy_from_slice(&usecs.to_be_bytes());
    if udp64 {
        buf[8..16].copy_from_slice(&count.to_be_bytes());
    } else {
        buf[8..12].copy_from_slice(&(count as u32).to_be_bytes());
    }
}

/// Reads the UDP header back: (seconds, microseconds, packet number).
pub fn get_udp_header(buf: &[u8], udp64: bool) -> Option<(u32, u32, u64)> {
    if buf.len() < udp_header_len(udp64) {
        return None;
    }
    let u32_at = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let count = if udp64 {
        u64::from_be_bytes(buf[8..16].try_into().ok()?)
    } else {
        u64::from(u32_at(8))
    };
    Some((u32_at(0), u32_at(4), count))
}

/// What a UDP receiver learns from the numbers and times it sees.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UdpRx {
    /// Highest packet number seen (iperf3 numbers from 1).
    pub highest: u64,
    /// Datagrams missing so far (gaps; an out-of-order arrival fills one).
    pub lost: i64,
    /// Datagrams that came after a higher-numbered one.
    pub out_of_order: u64,
    /// Interarrival jitter in seconds.
    pub jitter: f64,
    prev_transit: Option<f64>,
}

impl UdpRx {
    /// Accounts one datagram numbered `count`, sent at `sent` and received
    /// at `arrived` (seconds on the two hosts' clocks: only differences of
    /// their difference matter).
    pub fn datagram(&mut self, count: u64, sent: f64, arrived: f64) {
        if count > self.highest {
            // Everything between the last highest and this one is missing
            // until it turns up.
            self.lost += (count - self.highest - 1) as i64;
            self.highest = count;
        } else {
            self.lost -= 1;
            self.out_of_order += 1;
        }
        // RFC 3550 §6.4.1: J += (|D(i-1,i)| - J) / 16.
        let transit = arrived - sent;
        if let Some(prev) = self.prev_transit {
            let d = (transit - prev).abs();
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.prev_transit = Some(transit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for b in i8::MIN..=i8::MAX {
            if let Some(s) = State::from_byte(b) {
                assert_eq!(s.byte(), b);
            }
        }
        assert_eq!(State::from_byte(9), Some(State::ParamExchange));
        assert_eq!(State::from_byte(3), None);
    }

    #[test]
    fn json_framing_round_trips() {
        let v = json!({"tcp": true, "time": 10});
        let mut buf = Vec::new();
        write_json(&mut buf, &v).unwrap();
        assert_eq!(&buf[..4], &(buf.len() as u32 - 4).to_be_bytes());
        assert_eq!(read_json(&mut &buf[..]).unwrap(), v);
        let huge = (MAX_JSON + 1).to_be_bytes();
        assert!(read_json(&mut &huge[..]).is_err());
    }

    #[test]
    fn params_of_the_real_client() {
        // What iperf3 3.12 sends for `-c HOST -u -R -P 2 -t 3`.
        let v: Value = serde_json::from_str(
            r#"{"udp":true,"omit":0,"time":3,"num":0,"blockcount":0,"parallel":2,
                "reverse":true,"len":1460,"bandwidth":1048576,"pacing_timer":1000,
                "client_version":"3.12"}"#,
        )
        .unwrap();
        let p = Params::from_json(&v).unwrap();
        assert_eq!(p.proto, Proto::Udp);
        assert_eq!((p.time, p.parallel, p.reverse, p.len), (3.0, 2, true, 1460));
        assert_eq!(p.bandwidth, 1_048_576);
        assert_eq!(Params::from_json(&p.to_json()).unwrap(), p);
        let bidir = json!({"tcp": true, "bidirectional": true});
        assert!(Params::from_json(&bidir).unwrap_err().contains("--bidir"));
    }

    #[test]
    fn results_round_trip() {
        let r = Results {
            cpu: [1.5, 1.0, 0.5],
            sender_has_retransmits: 1,
            streams: vec![StreamResult {
                id: 1,
                bytes: 12345,
                retransmits: 3,
                jitter: 0.001,
                errors: 2,
                packets: 10,
                seconds: 1.5,
            }],
        };
        assert_eq!(Results::from_json(&r.to_json()).unwrap(), r);
        // iperf3 3.12 as the receiver: -1 printed as an unsigned number.
        let v: Value = serde_json::from_str(
            r#"{"cpu_util_total":1,"cpu_util_user":0,"cpu_util_system":1,
                "sender_has_retransmits":18446744073709551615,"streams":[{"id":1,
                "bytes":2218336,"retransmits":18446744073709551615,"jitter":0,
                "errors":0,"packets":0,"start_time":0,"end_time":0.02626}]}"#,
        )
        .unwrap();
        let r = Results::from_json(&v).unwrap();
        assert_eq!(r.sender_has_retransmits, -1);
        assert_eq!(r.streams[0].retransmits, -1);
        assert_eq!(r.streams[0].bytes, 2_218_336);
    }

    #[test]
    fn stream_ids_skip_two() {
        let ids: Vec<u32> = (0..4).map(stream_id).collect();
        assert_eq!(ids, [1, 3, 4, 5]);
    }

    #[test]
    fn udp_header_round_trips() {
        for wide in [false, true] {
            let mut b = [0u8; 16];
            put_udp_header(&mut b, wide, 7, 999_999, 42);
            assert_eq!(get_udp_header(&b, wide), Some((7, 999_999, 42)));
        }
        assert_eq!(get_udp_header(&[0; 11], false), None);
    }

    #[test]
    fn loss_and_reordering_are_counted() {
        let mut rx = UdpRx::default();
        for n in [1, 2, 4, 5, 3, 8] {
            rx.datagram(n, 0.0, 0.0);
        }
        assert_eq!(rx.highest, 8);
        // 6 and 7 never came; 3 came late.
        assert_eq!(rx.lost, 2);
        assert_eq!(rx.out_of_order, 1);
    }

    #[test]
    fn jitter_follows_rfc_3550() {
        let mut rx = UdpRx::default();
        rx.datagram(1, 0.0, 0.010);
        rx.datagram(2, 1.0, 1.026);
        // One transit difference of 16 ms: J = 16/16 ms.
        assert!((rx.jitter - 0.001).abs() < 1e-12, "{}", rx.jitter);
    }
}
