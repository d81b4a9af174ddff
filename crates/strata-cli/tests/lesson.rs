//! The lesson's scenarios tell their story on the wire: each one's pcap,
//! read back by tshark (a dissector that is not ours), shows what the
//! narration says — retries with growing gaps and then silence (dead-peer),
//! the first FIN from the side that was asked to close (--closer), data
//! after the client's FIN (half-close), and the client's SYNs unanswered
//! while forged ones fill the queue (flood).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use strata_sim::testing::require_programs;

/// A directory of scratch files for one test, removed when the test ends
/// (passing or failing).
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("strata-lesson-test-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `strata demo ARGS --pcap FILE`; returns stdout (plain: piped).
fn demo(args: &[&str], pcap: &Path) -> String {
    common::with_pcap("demo", args, pcap)
}

/// Runs `strata sim ARGS --pcap FILE`; returns stdout (plain: piped).
fn sim(args: &[&str], pcap: &Path) -> String {
    common::with_pcap("sim", args, pcap)
}

/// tshark's fields of every frame matching `filter`, one `Vec` per frame.
fn fields(pcap: &Path, filter: &str, names: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(pcap).args(["-Y", filter, "-T", "fields"]);
    cmd.args(["-E", "separator=;"]);
    for n in names {
        cmd.args(["-e", n]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split(';').map(str::to_string).collect())
        .collect()
}

fn secs(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a time: {s:?}"))
}

#[test]
fn dead_peer_retries_with_doubling_gaps_then_falls_silent() {
    let scratch = Scratch::new("dead_peer_retries_with_doubling_gaps_then_falls_silent");
    if !require_programs(&["tshark"]) {
        return;
    }
    let pcap = scratch.file("dead-peer.pcap");
    let out = demo(&["--scenario", "dead-peer", "--narrate"], &pcap);
    assert!(
        out.contains("connection timed out after 6 retries"),
        "{out}"
    );
    assert!(out.contains("gives up after 6 retransmissions"), "{out}");
    // The client's data segments: the echoed line, then the line that
    // meets the cut cable, sent once, probed once at the RTO's time (a
    // tail loss probe, RFC 8985 §7.2) and retransmitted by timeout.
    let data = fields(
        &pcap,
        "ip.src==192.168.1.10 && tcp.len>0",
        &[
            "frame.time_relative",
            "tcp.seq",
            "tcp.analysis.retransmission",
        ],
    );
    let last_seq = data.last().expect("client data")[1].clone();
    let tries: Vec<f64> = data
        .iter()
        .filter(|f| f[1] == last_seq)
        .map(|f| secs(&f[0]))
        .collect();
    assert_eq!(
        tries.len(),
        7,
        "one send, a probe and 5 retransmissions: {data:?}"
    );
    let retrans = data.iter().filter(|f| !f[2].is_empty()).count();
    assert_eq!(
        retrans, 6,
        "tshark calls 6 of them retransmissions: {data:?}"
    );
    let gaps: Vec<f64> = tries.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        (gaps[0] - 0.2).abs() < 0.002,
        "the probe at 200 ms: {gaps:?}"
    );
    assert!((gaps[1] - 0.2).abs() < 0.002, "first RTO 200 ms: {gaps:?}");
    for w in gaps[1..].windows(2) {
        assert!(
            (w[1] / w[0] - 2.0).abs() < 0.01,
            "each gap doubles (RFC 6298 §5.5): {gaps:?}"
        );
    }
    // After the last try the client gives up: nothing more leaves it.
    let after = fields(
        &pcap,
        &format!(
            "ip.src==192.168.1.10 && frame.time_relative > {}",
            tries[6] + 1e-6
        ),
        &["frame.number"],
    );
    assert!(after.is_empty(), "the client fell silent: {after:?}");
    // And nothing came back from the server after the cut.
    let answers = fields(
        &pcap,
        &format!(
            "ip.src==192.168.1.20 && frame.time_relative >= {}",
            tries[0]
        ),
        &["frame.number"],
    );
    assert!(answers.is_empty(), "the server is cut off: {answers:?}");
}

#[test]
fn the_first_fin_comes_from_the_side_asked_to_close() {
    let scratch = Scratch::new("the_first_fin_comes_from_the_side_asked_to_close");
    if !require_programs(&["tshark"]) {
        return;
    }
    for scenario in ["http", "echo"] {
        for (closer, first) in [("client", "192.168.1.10"), ("server", "192.168.1.20")] {
            let pcap = scratch.file(&format!("{scenario}-{closer}.pcap"));
            demo(&["--scenario", scenario, "--closer", closer], &pcap);
            let fins = fields(&pcap, "tcp.flags.fin==1", &["ip.src"]);
            assert_eq!(fins.len(), 2, "{scenario} {closer}: {fins:?}");
            assert_eq!(fins[0][0], first, "{scenario} --closer {closer}: {fins:?}");
        }
        // Both: each FIN leaves before the other side's FIN arrives, so
        // neither acknowledges the other (simultaneous close).
        let pcap = scratch.file(&format!("{scenario}-both.pcap"));
        let out = demo(&["--scenario", scenario, "--closer", "both"], &pcap);
        assert!(out.contains("FIN-WAIT-1 → CLOSING"), "{out}");
        let fins = fields(&pcap, "tcp.flags.fin==1", &["ip.src", "tcp.seq", "tcp.ack"]);
        assert_eq!(fins.len(), 2, "{fins:?}");
        let (c, s) = if fins[0][0] == "192.168.1.10" {
            (&fins[0], &fins[1])
        } else {
            (&fins[1], &fins[0])
        };
        assert_eq!(
            s[2], c[1],
            "the server's FIN does not cover the client's: {fins:?}"
        );
        assert_eq!(
            c[2], s[1],
            "the client's FIN does not cover the server's: {fins:?}"
        );
    }
}

/// `strata sim http|echo --closer`: the lab's run (its own cable, A =
/// 10.0.0.1, B = 10.0.0.2) closes from the side asked, and that side is
/// the one that waits in TIME-WAIT.
#[test]
fn sim_closer_picks_the_first_fin_and_the_time_wait_side() {
    let scratch = Scratch::new("sim_closer_picks_the_first_fin_and_the_time_wait_side");
    if !require_programs(&["tshark"]) {
        return;
    }
    for scenario in ["http", "echo"] {
        for (closer, first, waits) in [
            ("client", "10.0.0.1", "A (client)"),
            ("server", "10.0.0.2", "B (server)"),
        ] {
            let pcap = scratch.file(&format!("sim-{scenario}-{closer}.pcap"));
            let out = sim(&[scenario, "--closer", closer, "--ladder"], &pcap);
            let fins = fields(&pcap, "tcp.flags.fin==1", &["ip.src"]);
            assert_eq!(fins.len(), 2, "{scenario} {closer}: {fins:?}");
            assert_eq!(fins[0][0], first, "{scenario} --closer {closer}: {fins:?}");
            assert!(
                out.contains(&format!("TIME-WAIT (2×MSL) on {waits}\n")),
                "{scenario} --closer {closer}:\n{out}"
            );
        }
        // Both: the FINs cross, each side goes through CLOSING and waits.
        let pcap = scratch.file(&format!("sim-{scenario}-both.pcap"));
        let out = sim(&[scenario, "--closer", "both", "--ladder"], &pcap);
        assert!(out.contains("CLOSING"), "{out}");
        assert!(
            out.contains("TIME-WAIT (2×MSL) on A (client) and B (server)"),
            "{out}"
        );
        let fins = fields(&pcap, "tcp.flags.fin==1", &["ip.src", "tcp.seq", "tcp.ack"]);
        assert_eq!(fins.len(), 2, "{fins:?}");
        assert_ne!(fins[0][0], fins[1][0], "{fins:?}");
        // Neither FIN acknowledges the other's: they crossed.
        assert_eq!(fins[0][2], fins[1][1], "{fins:?}");
        assert_eq!(fins[1][2], fins[0][1], "{fins:?}");
    }
}

#[test]
fn half_close_data_flows_after_the_clients_fin() {
    let scratch = Scratch::new("half_close_data_flows_after_the_clients_fin");
    if !require_programs(&["tshark"]) {
        return;
    }
    let pcap = scratch.file("half-close.pcap");
    demo(&["--scenario", "half-close"], &pcap);
    let fin = fields(
        &pcap,
        "ip.src==192.168.1.10 && tcp.flags.fin==1",
        &["frame.number", "tcp.seq", "tcp.len"],
    );
    assert_eq!(fin.len(), 1, "{fin:?}");
    let fin_frame: u32 = fin[0][0].parse().unwrap();
    // The FIN occupies one sequence number after the data it carries.
    let fin_end: u32 = fin[0][1].parse::<u32>().unwrap() + fin[0][2].parse::<u32>().unwrap() + 1;
    let reply = fields(
        &pcap,
        "ip.src==192.168.1.20 && tcp.len>0",
        &["frame.number", "tcp.ack", "tcp.payload"],
    );
    assert!(!reply.is_empty(), "the server answered");
    for r in &reply {
        assert!(r[0].parse::<u32>().unwrap() > fin_frame, "{reply:?}");
        assert_eq!(
            r[1].parse::<u32>().unwrap(),
            fin_end,
            "the answer acknowledges the client's FIN: {reply:?}"
        );
    }
    // The sorted lines, as the client sent them unsorted.
    let bytes: Vec<u8> = (0..reply[0][2].len() / 2)
        .map(|i| u8::from_str_radix(&reply[0][2][2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert_eq!(bytes, b"application\nlink\nnetwork\ntransport\n");
}

#[test]
fn flood_fills_the_queue_and_the_client_is_never_answered() {
    let scratch = Scratch::new("flood_fills_the_queue_and_the_client_is_never_answered");
    if !require_programs(&["tshark"]) {
        return;
    }
    let pcap = scratch.file("flood.pcap");
    let out = demo(&["--scenario", "flood", "--narrate"], &pcap);
    assert!(out.contains("██████ 6/6"), "{out}");
    assert!(
        out.contains("the SYN queue is full (6 of 6 half-open)"),
        "{out}"
    );
    // Seen from the server's NIC.
    let spoofed = fields(
        &pcap,
        "ip.src==203.0.113.0/24 && tcp.flags.syn==1 && tcp.flags.ack==0",
        &["ip.src"],
    );
    assert_eq!(spoofed.len(), 9, "{spoofed:?}");
    let client_syns = fields(
        &pcap,
        "ip.src==192.168.1.10 && tcp.flags.syn==1",
        &["frame.time_relative"],
    );
    assert_eq!(client_syns.len(), 3, "a SYN and 2 retries: {client_syns:?}");
    let to_client = fields(&pcap, "ip.dst==192.168.1.10 && tcp", &["frame.number"]);
    assert!(
        to_client.is_empty(),
        "the client was never answered: {to_client:?}"
    );
    // The server answered the first six forged SYNs (its queue's size),
    // into the void.
    let synacks = fields(
        &pcap,
        "ip.dst==203.0.113.0/24 && tcp.flags.syn==1 && tcp.flags.ack==1 && !tcp.analysis.retransmission",
        &["ip.dst"],
    );
    assert_eq!(synacks.len(), 6, "{synacks:?}");
}

#[test]
fn layers_lays_the_get_open_and_rejects_a_missing_frame() {
    let scratch = Scratch::new("layers_lays_the_get_open_and_rejects_a_missing_frame");
    let pcap = scratch.file("layers.pcap");
    let out = demo(&["--layers", "7"], &pcap);
    assert!(
        out.contains("frame 7 of 11 on the ladder: HTTP \"GET / HTTP/1.1\""),
        "{out}"
    );
    assert!(out.contains("data (HTTP) ─ 82 bytes"), "{out}");
    assert!(out.contains("= 70 of 152 bytes on the wire"), "{out}");
    let bad = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["demo", "--layers", "99", "--pcap"])
        .arg(scratch.file("layers-bad.pcap"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("this run has frames 1 to 11"), "{err}");
}

#[test]
fn explain_knows_the_lessons_concepts() {
    let run = |c: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["explain", c])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "explain {c}");
        String::from_utf8(out.stdout).unwrap()
    };
    let states = run("tcp-states");
    assert!(states.contains("│ TIME-WAIT │"), "{states}");
    assert!(
        states.contains("● CS      CLOSING → TIME-WAIT"),
        "the simultaneous close of the tiny run is marked:\n{states}"
    );
    assert!(run("handshake").contains("3/3"));
    assert!(run("arp").contains("(to ff:ff:ff:ff:ff:ff)"));
    let ports = run("ports");
    for p in ["3306", "6379", "8000", "5000", "49152–65535"] {
        assert!(ports.contains(p), "{p}:\n{ports}");
    }
}

#[test]
fn sim_runs_the_same_lesson_scenarios_as_the_demo() {
    let scratch = Scratch::new("sim_runs_the_same_lesson_scenarios_as_the_demo");
    for name in ["dead-peer", "flood", "half-close"] {
        let (a, b) = (
            scratch.file(&format!("sim-{name}.pcap")),
            scratch.file(&format!("demo-{name}.pcap")),
        );
        let out = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["sim", name, "--seed", "4", "--pcap"])
            .arg(&a)
            .output()
            .unwrap();
        assert!(out.status.success(), "sim {name}");
        let sim = String::from_utf8(out.stdout).unwrap();
        let demo_out = demo(&["--scenario", name, "--seed", "4"], &b);
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{name}"
        );
        // Every summary line of the demo (but its pcap line) in the sim's report.
        for line in demo_out
            .lines()
            .skip_while(|l| *l != "summary")
            .skip(1)
            .filter(|l| !l.trim_start().starts_with("pcap"))
        {
            assert!(sim.contains(line), "{name}: {line:?} missing from\n{sim}");
        }
    }
}
