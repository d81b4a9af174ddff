//! pcap taps: determinism by seed, and decoding by Wireshark's tshark.

use std::path::PathBuf;
use std::process::Command;

use strata::time::{Duration, Instant};
use strata::wire::{Ipv4Addr, MacAddr};
use strata_sim::pcap::{self, LINKTYPE_ETHERNET};
use strata_sim::{
    frames, GilbertElliott, LinkConfig, RunOutcome, ScriptedHost, Sim, Switch, TapId,
};

fn mac(i: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, i])
}
fn ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 1, i)
}

/// Four hosts on a switch; h1 ARPs for every other host every 10 ms over
/// faulty links. Returns the pcap of h1's port (both directions).
fn arp_lan(seed: u64, faults: bool) -> (Sim, TapId) {
    let mut sim = Sim::new(seed);
    let sw = sim.add_node(Box::new(Switch::named("sw", 4)));
    let mut h1 = ScriptedHost::new("h1", mac(1));
    for round in 0..20u64 {
        for target in 2..=4 {
            h1.schedule(
                Instant::from_millis(10 * round),
                0,
                frames::arp_request(mac(1), ip(1), ip(target)),
            );
        }
    }
    let mut cfg = LinkConfig::default()
        .with_bandwidth(100_000_000)
        .with_latency(Duration::from_micros(50));
    if faults {
        cfg = cfg
            .with_jitter(Duration::from_micros(30))
            .with_loss(0.05)
            .with_burst_loss(GilbertElliott::gilbert(0.02, 0.5))
            .with_duplicate(0.05)
            .with_reorder(0.05, Duration::from_micros(200));
    }
    let h1 = sim.add_node(Box::new(h1));
    sim.connect((h1, 0), (sw, 0), cfg.clone()).unwrap();
    for i in 2..=4u8 {
        let h = sim.add_node(Box::new(
            ScriptedHost::new(format!("h{i}"), mac(i)).with_arp_responder(ip(i)),
        ));
        sim.connect((h, 0), (sw, usize::from(i) - 1), cfg.clone())
            .unwrap();
    }
    let tap = sim.tap_port_memory(h1, 0).unwrap();
    assert_eq!(sim.run_until_idle(Instant::from_secs(10)), RunOutcome::Idle);
    (sim, tap)
}

#[test]
fn tap_records_both_directions_with_virtual_timestamps() {
    let (sim, tap) = arp_lan(1, false);
    let bytes = sim.tap_bytes(tap).unwrap();
    let recs = pcap::parse(bytes).unwrap();
    // 60 requests out, 60 replies back.
    assert_eq!(recs.len(), 120);
    assert_eq!(sim.tap_records(tap), Some(120));
    assert!(recs.windows(2).all(|w| w[0].ts <= w[1].ts));
    let replies: Vec<_> = recs
        .iter()
        .filter_map(|r| frames::parse_arp(&r.data))
        .filter(|a| a.op == 2)
        .collect();
    assert_eq!(replies.len(), 60);
    // The port's capture records what h1 sends when it sends it (the first
    // request at 0, as the ladder shows it), and what it receives when it
    // arrives: the first reply crossed four hops of 42 bytes, each 3.36 µs
    // at 100 Mbit/s + 50 µs.
    assert_eq!(recs[0].ts, Instant::ZERO);
    let first_reply = recs
        .iter()
        .find(|r| frames::parse_arp(&r.data).is_some_and(|a| a.op == 2))
        .unwrap();
    assert_eq!(first_reply.ts, Instant::from_nanos(4 * (3_360 + 50_000)));
    assert_eq!(
        u32::from_le_bytes(bytes[20..24].try_into().unwrap()),
        LINKTYPE_ETHERNET
    );
}

#[test]
fn a_port_capture_holds_what_the_node_sent_even_when_the_link_lost_it() {
    // #17: a capture on a host's NIC sees every frame the host sent; the
    // link's loss happens after it. Every frame is lost here.
    let mut sim = Sim::new(3);
    let h1 = sim.add_node(Box::new(
        ScriptedHost::new("h1", mac(1))
            .send_at(Instant::ZERO, frames::arp_request(mac(1), ip(1), ip(2)))
            .send_at(
                Instant::from_millis(1),
                frames::arp_request(mac(1), ip(1), ip(2)),
            ),
    ));
    let h2 = sim.add_node(Box::new(
        ScriptedHost::new("h2", mac(2)).with_arp_responder(ip(2)),
    ));
    sim.connect((h1, 0), (h2, 0), LinkConfig::default().with_loss(1.0))
        .unwrap();
    let sent = sim.tap_port_memory(h1, 0).unwrap();
    let got = sim.tap_port_memory(h2, 0).unwrap();
    sim.run_until_idle(Instant::from_secs(1));
    let sent = pcap::parse(sim.tap_bytes(sent).unwrap()).unwrap();
    assert_eq!(sent.len(), 2, "both requests, at the moments h1 sent them");
    assert_eq!(sent[0].ts, Instant::ZERO);
    assert_eq!(sent[1].ts, Instant::from_millis(1));
    let got = pcap::parse(sim.tap_bytes(got).unwrap()).unwrap();
    assert!(got.is_empty(), "nothing reached h2, and h2 sent nothing");
    assert_eq!(sim.total_stats().dropped_loss, 2);
}

#[test]
fn same_seed_gives_identical_pcap_different_seed_does_not() {
    let a = arp_lan(42, true);
    let b = arp_lan(42, true);
    let c = arp_lan(43, true);
    let (pa, pb, pc) = (
        a.0.tap_bytes(a.1).unwrap(),
        b.0.tap_bytes(b.1).unwrap(),
        c.0.tap_bytes(c.1).unwrap(),
    );
    assert!(pa.len() > 24 + 50 * 58, "faulty run still carries traffic");
    assert_eq!(pa, pb, "same seed, same bytes");
    assert_ne!(pa, pc, "another seed, another run");
    assert_eq!(a.0.stats_table(), b.0.stats_table());
    let t = a.0.total_stats();
    assert!(
        t.dropped_loss > 0 && t.dropped_burst > 0 && t.duplicated > 0 && t.reordered > 0,
        "{t:?}"
    );
}

#[test]
fn file_tap_writes_the_same_bytes_as_memory_tap() {
    let path = temp_path("file_tap");
    let mut sim = Sim::new(9);
    let h1 = sim.add_node(Box::new(
        ScriptedHost::new("h1", mac(1))
            .send_at(Instant::ZERO, frames::arp_request(mac(1), ip(1), ip(2))),
    ));
    let h2 = sim.add_node(Box::new(
        ScriptedHost::new("h2", mac(2)).with_arp_responder(ip(2)),
    ));
    sim.connect((h1, 0), (h2, 0), LinkConfig::default())
        .unwrap();
    let mem = sim.tap_port_memory(h1, 0).unwrap();
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let ft = sim.tap_port(h1, 0, file).unwrap();
    sim.run_until_idle(Instant::from_secs(1));
    sim.flush_taps().unwrap();
    let mem = sim.tap_bytes(mem).unwrap().to_vec();
    assert_eq!(pcap::parse(&mem).unwrap().len(), 2, "request and reply");
    assert_eq!(std::fs::read(&path).unwrap(), mem);
    assert!(sim.tap_bytes(ft).is_none());
    let _ = std::fs::remove_file(&path);
}

fn temp_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("strata-sim-{tag}-{}.pcap", std::process::id()))
}

fn tshark_available() -> bool {
    strata_sim::testing::require_programs(&["tshark"])
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn tshark_decodes_arp_without_malformed_packets() {
    if !tshark_available() {
        return;
    }
    let (sim, tap) = arp_lan(7, false);
    let path = temp_path("tshark_arp");
    std::fs::write(&path, sim.tap_bytes(tap).unwrap()).unwrap();
    let file = path.to_str().unwrap();

    let protocols = tshark(&["-r", file, "-T", "fields", "-e", "frame.protocols"]);
    let lines: Vec<&str> = protocols.lines().collect();
    assert_eq!(lines.len(), 120, "{protocols}");
    assert!(
        lines.iter().all(|l| *l == "eth:ethertype:arp"),
        "{protocols}"
    );

    // Wireshark's own view of the fields matches what we wrote.
    let fields = tshark(&[
        "-r",
        file,
        "-T",
        "fields",
        "-e",
        "arp.opcode",
        "-e",
        "arp.src.proto_ipv4",
        "-e",
        "arp.dst.proto_ipv4",
    ]);
    let first = fields.lines().next().unwrap();
    assert_eq!(first, "1\t192.168.1.1\t192.168.1.2");
    assert_eq!(fields.lines().filter(|l| l.starts_with("2\t")).count(), 60);

    let malformed = tshark(&[
        "-r",
        file,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= warning",
    ]);
    assert!(malformed.trim().is_empty(), "malformed: {malformed}");
    let expert = tshark(&["-r", file, "-q", "-z", "expert,error"]);
    assert!(!expert.contains("Malformed"), "{expert}");
    assert!(!expert.to_lowercase().contains("error"), "{expert}");

    // Virtual timestamps survive at nanosecond resolution (the first reply
    // arrives after four hops of 53.36 µs).
    let t = tshark(&[
        "-r",
        file,
        "-Y",
        "arp.opcode == 2",
        "-T",
        "fields",
        "-e",
        "frame.time_epoch",
    ]);
    assert_eq!(t.lines().next(), Some("0.000213440"));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn tshark_flags_a_corrupted_capture() {
    // Guard against the test above passing vacuously: a truncated ARP body
    // must be reported as malformed by the same query.
    if !tshark_available() {
        return;
    }
    let mut w = pcap::PcapWriter::new(Vec::new()).unwrap();
    let mut f = frames::arp_request(mac(1), ip(1), ip(2));
    f.truncate(30);
    w.write_frame(Instant::ZERO, &f).unwrap();
    let path = temp_path("tshark_bad");
    std::fs::write(&path, w.into_inner()).unwrap();
    let out = tshark(&[
        "-r",
        path.to_str().unwrap(),
        "-Y",
        "_ws.malformed || _ws.expert.severity >= warning",
    ]);
    assert!(
        !out.trim().is_empty(),
        "tshark did not flag a truncated ARP"
    );
    let _ = std::fs::remove_file(&path);
}

/// A `Write` whose bytes the test can still read after handing it to the Sim.
#[derive(Clone, Default)]
struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn tap_all_links_sees_every_hop() {
    let mut sim = Sim::new(1);
    let sw = sim.add_node(Box::new(Switch::new(2)));
    let h1 = sim.add_node(Box::new(
        ScriptedHost::new("h1", mac(1))
            .send_at(Instant::ZERO, frames::arp_request(mac(1), ip(1), ip(2))),
    ));
    let h2 = sim.add_node(Box::new(
        ScriptedHost::new("h2", mac(2)).with_arp_responder(ip(2)),
    ));
    sim.connect((h1, 0), (sw, 0), LinkConfig::default())
        .unwrap();
    sim.connect((h2, 0), (sw, 1), LinkConfig::default())
        .unwrap();
    let buf = Shared::default();
    let t = sim.tap_all_links(buf.clone()).unwrap();
    sim.run_until_idle(Instant::from_secs(1));
    // Request: h1→sw, sw→h2; reply: h2→sw, sw→h1.
    assert_eq!(sim.tap_records(t), Some(4));
    let recs = pcap::parse(&buf.0.borrow()).unwrap();
    let ops: Vec<u16> = recs
        .iter()
        .map(|r| frames::parse_arp(&r.data).unwrap().op)
        .collect();
    assert_eq!(ops, vec![1, 1, 2, 2]);
}

#[test]
fn tap_write_errors_are_reported() {
    struct Failing(usize);
    impl std::io::Write for Failing {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.0 < b.len() {
                return Err(std::io::Error::other("disk full"));
            }
            self.0 -= b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut sim = Sim::new(1);
    let h1 = sim.add_node(Box::new(
        ScriptedHost::new("h1", mac(1))
            .send_at(Instant::ZERO, frames::arp_request(mac(1), ip(1), ip(2))),
    ));
    let h2 = sim.add_node(Box::new(ScriptedHost::new("h2", mac(2))));
    let (l, _) = sim
        .connect((h1, 0), (h2, 0), LinkConfig::default())
        .unwrap();
    // Room for the global header only.
    sim.tap(l, Failing(24)).unwrap();
    sim.run_until_idle(Instant::from_secs(1));
    let err = sim.flush_taps().unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert!(sim.tap(l, Failing(3)).is_err(), "header write fails");
}
