//! The lab, run as a user runs it: the `strata` binary with `sim` options.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{run_in as strata, stdout_of, text};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("strata-lab-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn bulk_with_loss_completes_and_checks_every_byte() {
    let stdout = stdout_of(&[
        "sim", "bulk", "--bytes", "1M", "--rate", "50mbit", "--rtt", "10ms", "--loss", "2%",
    ]);
    assert!(stdout.contains("1.00 MiB (1048576 bytes)"), "{stdout}");
    assert!(stdout.contains("byte check OK"), "{stdout}");
    let rtx: u64 = stdout
        .split("retransmissions ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a retransmission count");
    assert!(
        rtx > 0,
        "2% loss over ~750 segments must retransmit: {stdout}"
    );
}

#[test]
fn json_summary_has_the_expected_fields() {
    let out = strata(
        &[
            "sim", "bulk", "--bytes", "500k", "--rate", "20mbit", "--rtt", "5ms", "--loss", "0.02",
            "--seed", "9", "--json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is JSON and nothing else");
    assert_eq!(v["scenario"], "bulk");
    assert_eq!(v["seed"], 9);
    assert_eq!(v["link"]["rate_bps"], 20_000_000);
    assert_eq!(v["link"]["rtt_ms"], 5.0);
    assert_eq!(v["link"]["loss"], 0.02);
    assert_eq!(v["link"]["mtu"], 1500);
    let tcp = &v["tcp"];
    assert_eq!(tcp["bytes"], 512_000);
    assert_eq!(tcp["verified"], true);
    let goodput = tcp["goodput_bps"].as_f64().unwrap();
    assert!(goodput > 1e5 && goodput < 20e6, "{goodput}");
    assert!(tcp["retransmissions"].as_u64().unwrap() > 0);
    assert!(tcp["srtt_ms"].as_f64().unwrap() >= 5.0);
    assert!(tcp["samples"].as_u64().unwrap() > 10);
    assert!(v["links"]["dropped_loss"].as_u64().unwrap() > 0);
    assert!(v["virtual_time_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn same_seed_same_output_and_pcap_other_seed_differs() {
    let run = |seed: &str, name: &str| {
        let d = scratch(name);
        let out = strata(
            &[
                "sim",
                "bulk",
                "--bytes",
                "300k",
                "--loss",
                "3%",
                "--reorder",
                "2%",
                "--dup",
                "1%",
                "--seed",
                seed,
                "--pcap",
                "run.pcap",
            ],
            Some(&d),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let pcap = std::fs::read(d.join("run.pcap")).unwrap();
        let _ = std::fs::remove_dir_all(&d);
        (out.stdout, pcap)
    };
    let (out1, pcap1) = run("42", "seed-a");
    let (out2, pcap2) = run("42", "seed-b");
    assert_eq!(text(&out1), text(&out2));
    assert!(pcap1.len() > 300_000);
    assert!(pcap1 == pcap2, "same seed, different pcap");
    let (out3, pcap3) = run("43", "seed-c");
    assert_ne!(pcap1, pcap3, "another seed should lose other frames");
    assert_ne!(text(&out1), text(&out3));
    // The capture is a pcap a tool can read: nanosecond magic, Ethernet.
    assert_eq!(&pcap1[..4], &0xa1b2_3c4du32.to_le_bytes());
}

#[test]
fn http_and_echo_survive_loss() {
    let s = stdout_of(&[
        "sim", "http", "--loss", "10%", "--bytes", "20k", "--seed", "5",
    ]);
    assert!(
        s.contains("HTTP/1.1 200 OK — 20480 body bytes, page intact"),
        "{s}"
    );
    let out = strata(
        &[
            "sim", "echo", "-c", "6", "--loss", "10%", "--seed", "5", "--json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["echo"]["lines_echoed"], 6);
    assert_eq!(v["tcp"]["verified"], true);
    assert_eq!(v["echo"]["rtt_ms"].as_array().unwrap().len(), 6);
}

#[test]
fn bulk_svg_writes_two_valid_pictures() {
    let d = scratch("svg");
    let out = strata(
        &[
            "sim", "bulk", "--bytes", "400k", "--loss", "2%", "--svg", "b.svg",
        ],
        Some(&d),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (file, must) in [("b.svg", "class=\"ack\""), ("b-cwnd.svg", "class=\"cwnd\"")] {
        let svg = std::fs::read_to_string(d.join(file)).unwrap();
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(svg.contains(must), "{file} lacks {must}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn link_options_shape_the_link() {
    // Bursty loss and a small MTU: every frame fits, the data still arrives.
    let out = strata(
        &[
            "sim",
            "bulk",
            "--bytes",
            "200k",
            "--loss",
            "2%",
            "--burst-loss",
            "--mtu",
            "576",
            "--corrupt",
            "1%",
            "--json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tcp"]["verified"], true);
    assert_eq!(v["link"]["mtu"], 576);
    assert_eq!(v["link"]["burst_loss_len"], 4.0);
    assert!(v["links"]["dropped_burst"].as_u64().unwrap() > 0);
    assert_eq!(v["links"]["dropped_loss"], 0);
    assert!(v["links"]["corrupted"].as_u64().unwrap() > 0);
    // ~200 KiB in segments of at most 536 bytes.
    assert!(v["tcp"]["segments_sent"].as_u64().unwrap() >= 200 * 1024 / 536);
}

#[test]
fn ping_takes_rtt_rate_and_json() {
    let out = strata(&["sim", "ping", "-c", "2", "--rtt", "8ms", "--json"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ping"]["received"], 2);
    let rtt = v["ping"]["rtt_ms"][1].as_f64().unwrap();
    assert!((8.0..9.0).contains(&rtt), "{rtt}");
}

#[test]
fn bad_arguments_exit_2_with_one_clear_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["sim", "bulk", "--loss", "150%"], "between 0 and 1"),
        (
            &["sim", "bulk", "--rate", "fast"],
            "does not start with a number",
        ),
        (&["sim", "bulk", "--rtt", "20"], "no unit"),
        (&["sim", "bulk", "--bytes", "5X"], "unknown size unit"),
        (&["sim", "bulk", "--mtu", "100"], "576..=65535"),
        (&["sim", "bulk", "--reorder", "often"], "--reorder"),
        (&["sim", "bulk", "--burst-loss"], "give the mean loss too"),
        (
            &["sim", "ping", "--dup", "1%"],
            "--dup is for the bulk, http and echo scenarios",
        ),
        (&["sim", "warp"], "invalid value 'warp'"),
        (&["sim", "traceroute", "--ladder"], "draw two hosts"),
    ];
    for (args, want) in cases {
        let out = strata(args, None);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        let first = err.lines().next().unwrap_or("");
        assert!(first.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected {want:?} in {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn help_has_examples() {
    let out = strata(&["sim", "--help"], None);
    let s = text(&out.stdout);
    assert!(out.status.success());
    assert!(s.contains("Examples:"), "{s}");
    assert!(s.contains("strata sim bulk --bytes 50M"), "{s}");
    for flag in [
        "--rate",
        "--rtt",
        "--burst-loss",
        "--reorder",
        "--dup",
        "--corrupt",
        "--mtu",
        "--bytes",
        "--svg",
        "--json",
        "--ladder",
    ] {
        assert!(s.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn short_runs_print_the_ladder_and_draw_it() {
    // A lossy echo is short: the ladder shows the handshake, the loss, the
    // retransmission and the close, without --ladder.
    let s = stdout_of(&[
        "sim", "echo", "-c", "2", "--rtt", "10ms", "--loss", "20%", "--seed", "3",
    ]);
    for want in [
        "CLOSED → SYN-SENT",
        "[SYN]",
        "[SYN, ACK]",
        "lost ✕",
        "RETRANSMISSION",
        "[FIN, ACK]",
        "→ CLOSED",
    ] {
        assert!(s.contains(want), "ladder lacks {want}:\n{s}");
    }
    assert!(!s.contains('\x1b'), "no colour when piped");
    // A long bulk run prints no ladder unless asked.
    let out = strata(&["sim", "bulk", "--bytes", "300k"], None);
    assert!(!text(&out.stdout).contains("[SYN]"));
    let out = strata(&["sim", "bulk", "--bytes", "300k", "--ladder"], None);
    assert!(text(&out.stdout).contains("[SYN]"));
    // --svg on a short run draws the ladder.
    let d = scratch("ladder-svg");
    let out = strata(
        &[
            "sim", "http", "--loss", "10%", "--seed", "2", "--svg", "l.svg",
        ],
        Some(&d),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let svg = std::fs::read_to_string(d.join("l.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("valid XML");
    let texts: String = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.contains("SYN"), "{texts}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn ping_and_udp_draw_their_ladder() {
    let out = strata(&["sim", "ping", "-c", "1", "--ladder", "--no-color"], None);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for want in [
        "ARP who-has 10.0.0.2? tell 10.0.0.1",
        "ICMP Echo request",
        "ICMP Echo reply",
        "1 packets transmitted, 1 received",
    ] {
        assert!(s.contains(want), "lacks {want}:\n{s}");
    }
    // Without --ladder the ping report is as before.
    let out = strata(&["sim", "ping", "-c", "1"], None);
    assert!(!text(&out.stdout).contains("ICMP Echo request"));
    let d = scratch("udp-svg");
    let out = strata(&["sim", "udp", "-c", "2", "--svg", "u.svg"], Some(&d));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let svg = std::fs::read_to_string(d.join("u.svg")).unwrap();
    roxmltree::Document::parse(&svg).expect("valid XML");
    assert!(svg.contains("UDP"), "{svg}");
    let _ = std::fs::remove_dir_all(&d);
}

/// tshark (when installed) reads the lab's capture as a clean TCP transfer
/// with the retransmissions strata reports.
#[test]
fn tshark_reads_the_bulk_capture() {
    if Command::new("tshark")
        .arg("-v")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        eprintln!("skipped: tshark is not installed");
        return;
    }
    let d = scratch("tshark");
    let out = strata(
        &[
            "sim", "bulk", "--bytes", "300k", "--loss", "3%", "--pcap", "t.pcap", "--json",
        ],
        Some(&d),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = v["tcp"]["retransmissions"].as_u64().unwrap();
    let count = |filter: &str| {
        let o = Command::new("tshark")
            .args(["-r", "t.pcap", "-Y", filter])
            .current_dir(&d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout).lines().count() as u64
    };
    assert_eq!(count("_ws.malformed || _ws.expert.severity == error"), 0);
    // The capture is A's NIC: every segment A sent is in it, also those the
    // link then lost, so tshark sees each of A's retransmissions (one sent
    // soon after its original it calls out of order: A sends new data in
    // order, so that too is a repeat).
    let rtx = count(
        "ip.src == 10.0.0.1 && (tcp.analysis.retransmission || \
         tcp.analysis.fast_retransmission || tcp.analysis.out_of_order)",
    );
    assert!(ours > 0, "ours {ours}");
    assert_eq!(rtx, ours, "tshark's retransmissions vs the sender's");
    assert!(count("tcp.flags.syn == 1") >= 2 && count("tcp.flags.fin == 1") >= 2);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_largest_mtu_carries_data() {
    // 65535 is the largest IPv4 datagram: a frame of 65549 bytes must pass
    // every buffer on the way (the hosts' transmit buffer once held 65536).
    let s = stdout_of(&["sim", "bulk", "--mtu", "65535", "--bytes", "256k"]);
    assert!(s.contains("byte check OK"), "{s}");
}

/// The `[SUM]` (or only stream's) sender and receiver transfer columns.
fn iperf_totals(s: &str) -> (String, String) {
    let pick = |role: &str| {
        s.lines()
            .rev()
            .find(|l| l.trim_end().ends_with(role))
            .and_then(|l| l.split("sec").nth(1))
            .map(|rest| rest.split("Bytes").next().unwrap_or("").trim().to_string())
            .unwrap_or_default()
    };
    (pick("sender"), pick("receiver"))
}

#[test]
fn sim_iperf3_reads_like_a_real_run() {
    let s = stdout_of(&[
        "sim", "iperf3", "-t", "2", "--rate", "10mbit", "--rtt", "10ms",
    ]);
    assert!(
        s.contains("[ ID] Interval           Transfer     Bitrate         Retr  Cwnd"),
        "{s}"
    );
    assert!(s.contains("[  1]   0.00-1.00   sec"), "{s}");
    assert!(s.contains("[  1]   1.00-2.00   sec"), "{s}");
    // Everything the sender wrote arrived: the two totals agree.
    let (snd, rcv) = iperf_totals(&s);
    assert!(!snd.is_empty() && snd == rcv, "{s}");
    // About 2 s at 10 Mbit/s: 2.2–2.4 MiB.
    assert!(s.contains("0.00-2.00   sec  2."), "{s}");
    // Reverse, parallel, by bytes.
    let s = stdout_of(&[
        "sim", "iperf3", "--bytes", "1M", "-P", "2", "-R", "--rate", "50mbit",
    ]);
    assert!(s.contains("Reverse mode"), "{s}");
    assert_eq!(iperf_totals(&s), ("1.00 M".into(), "1.00 M".into()), "{s}");
    // iperf3 options belong to iperf3.
    let out = strata(&["sim", "bulk", "-P", "2"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn storm_json_counts_the_storm_without_debug_strings() {
    let out = strata(&["sim", "storm", "--json"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["virtual_time_s"].as_f64().unwrap() > 0.0, "{v}");
    let frames = v["storm"]["frames"].as_u64().unwrap();
    assert!(frames > 0);
    assert_eq!(v["links"]["frames_sent"].as_u64(), Some(frames), "{v}");
    assert_eq!(v["storm"]["outcome"], "frame_budget_exhausted");
    // No string in the document is a Rust debug rendering.
    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    strings(&v, &mut all);
    for s in all {
        assert!(
            !s.contains('{') && !s.contains("::"),
            "debug string {s:?} in {v}"
        );
    }
}

/// `strata ARGS`, stopped after 1.5 s with SIGINT as a terminal's Ctrl-C
/// stops it: what it did. Fails if it has not ended 60 s later.
fn interrupted(args: &[&str]) -> std::process::Output {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: a signal to the child this test started.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("strata {args:?} did not stop within 60 s of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn ctrl_c_stops_a_long_run_and_prints_the_partial_summary() {
    // #17: `--bytes 1T` is days of simulation. It says so up front, and
    // Ctrl-C (SIGINT) ends it with the summary of what happened so far and
    // exit status 130, as ping(8) and iperf3 do.
    let run = interrupted(&["sim", "bulk", "--bytes", "1T", "--rate", "1gbit"]);
    let (out, err) = (text(&run.stdout), text(&run.stderr));
    assert_eq!(run.status.code(), Some(130), "{err}\n{out}");
    assert!(
        err.contains("a long run: at least 8796.173s of virtual time"),
        "{err}"
    );
    assert!(err.contains("interrupted at "), "{err}");
    assert!(err.contains("the figures below are partial"), "{err}");
    // The partial summary: bytes so far (each checked), the sender's
    // counters, the links.
    assert!(
        out.contains("of 1099511627776 bytes so far, each checked"),
        "{out}"
    );
    assert!(out.contains("sender A: retransmissions"), "{out}");
    assert!(out.contains("link0   A[0] -> B[0]  sent"), "{out}");
}

#[test]
fn the_summary_reports_the_path_rtt_from_the_senders_samples() {
    // #17: `sim echo` reported a smoothed RTT of ~26 ms on a 20 ms path:
    // the handshake's first sample includes the wait for ARP before the SYN
    // left. The summary now leads with the smallest RTT of a delivered
    // data segment (RACK's min RTT), the sender's, beside the smoothed one.
    for (scenario, sender) in [("echo", "A"), ("http", "B"), ("bulk", "A")] {
        let out = strata(
            &[
                "sim", scenario, "--rtt", "20ms", "--bytes", "64k", "--seed", "1", "--json",
            ],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["tcp"]["sender"], sender);
        let rtt = v["tcp"]["rtt_min_ms"].as_f64().unwrap();
        let srtt = v["tcp"]["srtt_ms"].as_f64().unwrap();
        println!("{scenario}: RTT {rtt:.2} ms, smoothed {srtt:.2} ms on a 20 ms path");
        // 20 ms of propagation plus a few frames' serialisation at 100 Mbit/s.
        assert!((20.0..21.0).contains(&rtt), "{scenario}: {rtt}");
        let out = strata(
            &[
                "sim", scenario, "--rtt", "20ms", "--bytes", "64k", "--seed", "1",
            ],
            None,
        );
        let t = text(&out.stdout);
        assert!(
            t.contains(&format!(
                "RTT {rtt:.2}ms (the smallest sample of a data segment)"
            )),
            "{t}"
        );
    }
}

#[test]
fn ctrl_c_stops_a_run_of_several_flows_too() {
    // The SIGINT handler is installed for every TCP lab run: the --flows
    // loop must stop on it as well, or Ctrl-C would do nothing there.
    let out = interrupted(&[
        "sim", "bulk", "--flows", "2", "--bytes", "1T", "--rate", "1gbit",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("the figures below are partial"), "{err}");
    assert!(text(&out.stdout).contains("link0   A[0] -> B[0]  sent"));
}
