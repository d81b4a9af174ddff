//! `strata iperf3` against the real iperf3 (Debian's `iperf3` package), in
//! both roles, TCP and UDP, both directions: inside a network namespace
//! this test creates, the kernel's iperf3 on one side of a TAP and the
//! strata binary on the other. Each run is short (1 s or a few MiB) and has
//! a wall-clock guard; every process is killed and the namespace removed
//! even when an assertion fails. Skipped with a printed reason without
//! root, /dev/net/tun or iperf3 (a failure under CI; see `can_run`).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use strata_io::testing::{can_run, Netns};

const STRATA: &str = env!("CARGO_BIN_EXE_strata");

/// A child process that is killed (and reaped) when dropped.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Proc {
    fn start(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start process");
        let out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Proc {
            child,
            lines,
            stderr: Some(stderr),
        }
    }

    /// Waits (bounded) for a stdout line containing `what`; returns the
    /// lines seen so far.
    fn wait_for_line(&self, what: &str, limit: Duration) -> String {
        let end = Instant::now() + limit;
        let mut seen = String::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    seen += &l;
                    seen.push('\n');
                    if l.contains(what) {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {what:?} within {limit:?}; got:\n{seen}");
    }

    /// Waits (bounded) for the process to exit: (status, stdout, stderr).
    fn finish(mut self, limit: Duration) -> (Option<i32>, String, String) {
        let end = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s.code();
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("process still running after {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            out += &l;
            out.push('\n');
        }
        let err = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        (status, out, err)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A namespace with TAP `st<tag>`: the kernel at 10.20.<net>.1/24.
fn setup(tag: &str, net: u8) -> Option<(Netns, String)> {
    if !can_run(&["iperf3", "ss"]) {
        return None;
    }
    let ns = Netns::new(tag).unwrap();
    let tap = format!("st{tag}");
    ns.add_tap(&tap, &format!("10.20.{net}.1/24")).unwrap();
    Some((ns, tap))
}

/// Waits until the kernel listens on TCP `port` (without connecting: a
/// probe would count as a client to `iperf3 -s -1`).
fn wait_listening(ns: &Netns, port: u16) {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        let out = ns
            .command(&["ss", "-Hltn", &format!("sport = :{port}")])
            .output()
            .unwrap();
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on port {port}");
}

fn num(v: &Value, path: &[&str]) -> f64 {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_f64()
        .unwrap_or_else(|| panic!("no number at {path:?} in {v}"))
}

/// strata's client (`-J`) against `iperf3 -s -1 -J`; returns the
/// kernel's JSON and strata's.
fn strata_client(tag: &str, net: u8, args: &[&str]) -> Option<(Value, Value)> {
    let (ns, tap) = setup(tag, net)?;
    let kernel_ip = format!("10.20.{net}.1");
    let server = Proc::start(ns.command(&["iperf3", "-s", "-1", "-J", "-B", &kernel_ip]));
    wait_listening(&ns, 5201);
    let addr = format!("10.20.{net}.2/24");
    let mut cmd = vec![
        STRATA,
        "iperf3",
        "--no-probe",
        "--tap",
        &tap,
        "--addr",
        &addr,
        "-c",
        &kernel_ip,
        "-J",
    ];
    cmd.extend_from_slice(args);
    let client = Proc::start(ns.command(&cmd));
    let (code, out, err) = client.finish(Duration::from_secs(30));
    assert_eq!(
        code,
        Some(0),
        "strata iperf3 {args:?} failed:\n{out}\n{err}"
    );
    let (code, json, err) = server.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0), "iperf3 -s failed:\n{json}\n{err}");
    let kernel: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let ours: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    Some((kernel, ours))
}

/// What the kernel server counted itself equals what strata learned from
/// it in the results exchange (the kernel's JSON is written before that
/// exchange, so its view of strata's side is empty).
fn check_kernel_server_tcp(kernel: &Value, ours: &Value, reverse: bool) {
    let sent = num(ours, &["end", "sum_sent", "bytes"]);
    let received = num(ours, &["end", "sum_received", "bytes"]);
    assert!(received > 0.0, "nothing received: {ours}");
    assert!(
        received <= sent,
        "received {received} > sent {sent}: {ours}"
    );
    let (kernel_side, our_copy) = if reverse {
        ("sum_sent", sent)
    } else {
        ("sum_received", received)
    };
    assert_eq!(
        num(kernel, &["end", kernel_side, "bytes"]),
        our_copy,
        "the kernel's own count and the count it sent strata differ:\n{kernel}\n{ours}"
    );
}

/// A UDP test's JSON: more than ten datagrams, fewer than half of them
/// lost.
fn check_udp_counts(v: &Value) {
    let s = &v["end"]["sum"];
    let packets = num(s, &["packets"]);
    let lost = num(s, &["lost_packets"]);
    assert!(packets > 10.0, "too few datagrams: {v}");
    assert!(
        lost >= 0.0 && lost < packets / 2.0,
        "lost {lost} of {packets}: {v}"
    );
}

/// [`check_udp_counts`], and the receiver got bytes.
fn check_udp_json(v: &Value) {
    check_udp_counts(v);
    assert!(num(v, &["end", "sum_received", "bytes"]) > 0.0, "{v}");
}

/// The kernel's `iperf3 -c … -J` against `strata iperf3 -s -1`; returns
/// the kernel's JSON and strata's output.
fn kernel_client(tag: &str, net: u8, args: &[&str]) -> Option<(Value, String)> {
    let (ns, tap) = setup(tag, net)?;
    let addr = format!("10.20.{net}.2/24");
    let server = Proc::start(ns.command(&[
        STRATA,
        "iperf3",
        "-s",
        "-1",
        "--no-probe",
        "--tap",
        &tap,
        "--addr",
        &addr,
    ]));
    server.wait_for_line("Server listening", Duration::from_secs(10));
    let strata_ip = format!("10.20.{net}.2");
    let mut cmd = vec![
        "iperf3",
        "-c",
        &strata_ip,
        "-J",
        "--connect-timeout",
        "5000",
    ];
    cmd.extend_from_slice(args);
    let client = Proc::start(ns.command(&cmd));
    let (code, json, err) = client.finish(Duration::from_secs(30));
    let (scode, sout, serr) = server.finish(Duration::from_secs(10));
    assert_eq!(
        code,
        Some(0),
        "iperf3 -c {args:?} failed:\n{json}\n{err}\nstrata:\n{sout}{serr}"
    );
    assert_eq!(scode, Some(0), "strata iperf3 -s failed:\n{sout}\n{serr}");
    let v: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    Some((v, sout))
}

/// Both sides' byte counts of a TCP test agree: the receiver got data, and
/// no more than was sent.
fn check_tcp(v: &Value, text: &str) {
    let sent = num(v, &["end", "sum_sent", "bytes"]);
    let received = num(v, &["end", "sum_received", "bytes"]);
    assert!(received > 0.0, "nothing received: {v}");
    assert!(received <= sent, "received {received} > sent {sent}");
    assert!(
        text.contains(" sender") && text.contains(" receiver"),
        "{text}"
    );
}

/// A UDP test: datagrams arrived, and the loss the receiver counted is
/// what the two packet counts say.
fn check_udp(v: &Value, text: &str) {
    check_udp_counts(v);
    assert!(text.contains("Lost/Total Datagrams"), "{text}");
    assert!(text.contains(" receiver"), "{text}");
}

#[test]
fn strata_client_tcp_to_kernel_server() {
    let Some((kernel, ours)) = strata_client("ip3ct", 80, &["-t", "1"]) else {
        return;
    };
    check_kernel_server_tcp(&kernel, &ours, false);
    assert!(ours["end"]["sum_sent"]["retransmits"].is_number(), "{ours}");
}

#[test]
fn strata_client_tcp_reverse_parallel() {
    let Some((kernel, ours)) = strata_client("ip3cr", 81, &["-n", "4M", "-R", "-P", "2"]) else {
        return;
    };
    check_kernel_server_tcp(&kernel, &ours, true);
    assert_eq!(
        ours["end"]["streams"].as_array().map(Vec::len),
        Some(2),
        "{ours}"
    );
    assert_eq!(
        kernel["end"]["streams"].as_array().map(Vec::len),
        Some(2),
        "{kernel}"
    );
}

#[test]
fn strata_client_udp_both_ways() {
    let Some((_, ours)) = strata_client("ip3cu", 82, &["-u", "-t", "1", "-b", "2M"]) else {
        return;
    };
    check_udp_json(&ours);
    let Some((kernel, ours)) = strata_client("ip3cv", 83, &["-u", "-t", "1", "-R"]) else {
        return;
    };
    check_udp_json(&ours);
    // The kernel sent: its own datagram count is the one strata reports.
    let k = num(&kernel, &["end", "sum", "packets"]);
    assert!(k > 0.0, "{kernel}");
}

#[test]
fn kernel_client_tcp_to_strata_server() {
    let Some((v, out)) = kernel_client("ip3st", 84, &["-t", "1"]) else {
        return;
    };
    check_tcp(&v, &out);
    // The kernel's receiver numbers are strata's: the two summaries agree.
    assert!(out.contains("Accepted connection from 10.20.84.1"), "{out}");
}

#[test]
fn kernel_client_tcp_reverse_parallel_to_strata_server() {
    let Some((v, out)) = kernel_client("ip3sr", 85, &["-n", "4M", "-R", "-P", "2"]) else {
        return;
    };
    check_tcp(&v, &out);
    assert_eq!(v["end"]["streams"].as_array().map(Vec::len), Some(2), "{v}");
    // strata sent: its retransmission count reached the kernel's summary.
    assert!(v["end"]["sum_sent"]["retransmits"].is_number(), "{v}");
}

#[test]
fn kernel_client_udp_both_ways_to_strata_server() {
    let Some((v, out)) = kernel_client("ip3su", 86, &["-u", "-t", "1", "-b", "2M"]) else {
        return;
    };
    check_udp(&v, &out);
    let Some((v, out)) = kernel_client("ip3sv", 87, &["-u", "-t", "1", "-R"]) else {
        return;
    };
    check_udp(&v, &out);
}
