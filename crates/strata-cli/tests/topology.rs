//! `strata sim --topology FILE`: the examples run from the command line
//! (leases, lookups, pings, the pcap of every link), and a bad file is one
//! `error:` line naming the file and the line, with status 2. The loader
//! itself is tested in strata-sim's tests.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_has_all, run_in, stdout_in};

/// The repository's root, where the example files' paths start.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn strata(args: &[&str]) -> Output {
    run_in(args, Some(&root()))
}

#[test]
fn two_lans_run_from_the_file_with_a_pcap_of_every_link() {
    let dir = std::env::temp_dir().join(format!("strata-topo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("two-lans.pcap");
    let text = stdout_in(
        &[
            "sim",
            "--topology",
            "examples/topologies/two-lans.toml",
            "--pcap",
            pcap.to_str().unwrap(),
        ],
        Some(&root()),
    );
    assert_has_all(
        &text,
        &[
            "6 hosts and routers, 2 switches, 7 links, seed 1",
            "dhcp: pc1 port 0 leased 10.0.1.",
            "pc1: resolve web.lab: 10.0.2.10 ",
            "pc2: resolve nosuch.lab: NXDOMAIN",
            "pc1: ping 10.0.2.20: 3/3 replies",
            "dhcpd: dhcp server: 2 offers, 2 acks, 0 naks",
        ],
    );
    // The capture holds every link: DHCP, DNS and ICMP all in one file.
    let bytes = std::fs::read(&pcap).unwrap();
    // Little-endian pcap, microsecond or nanosecond timestamps.
    assert!(
        [[0xd4, 0xc3, 0xb2, 0xa1], [0x4d, 0x3c, 0xb2, 0xa1]]
            .contains(&[bytes[0], bytes[1], bytes[2], bytes[3]]),
        "pcap magic {:02x?}",
        &bytes[..4]
    );
    assert!(bytes.len() > 5_000, "{} bytes", bytes.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_home_network_with_nat_runs_from_its_file() {
    let text = stdout_in(
        &["sim", "--topology", "examples/topologies/home-nat.toml"],
        Some(&root()),
    );
    assert_has_all(
        &text,
        &[
        "6 hosts and routers, 2 switches, 7 links, seed 1",
        "dhcp: laptop port 0 leased 192.168.1.",
        "laptop: resolve www.example: 203.0.113.80 ",
        "laptop: fetch http://www.example/: 200 from 203.0.113.80, 28 bytes",
        "laptop: fetch ftp://files.example/pub/: 2 names from 203.0.113.21 (passive): notes.txt readme.txt",
        "laptop: fetch ftp://files.example/pub/readme.txt: 40 bytes from 203.0.113.21",
        "phone: fetch http://203.0.113.80/missing: 404 ",
        "www: web server: 2 ok, 1 not found; clients seen: 203.0.113.2\n",
        "files: ftp server: 2 sessions, 1 files sent, 1 listings",
        "gw: nat: ",
        "gw: dhcp server: 2 offers, 2 acks, 0 naks",
        ],
    );
}

#[test]
fn a_bad_topology_file_is_one_error_line_with_its_line_number() {
    let dir = std::env::temp_dir().join(format!("strata-topo-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[[switch]]\nname = \"sw\"\n\n[[host]]\nname = \"a\"\naddress = \"10.0.0.1/24\"\n\n[[link]]\na = \"a\"\nb = \"sw2\"\n",
    )
    .unwrap();
    let out = strata(&["sim", "--topology", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err.trim_end(),
        format!("error: {}:10: no node named \"sw2\"", file.display())
    );
    assert!(out.stdout.is_empty());
    // A scenario and a file at once is a usage error too.
    let out = strata(&["sim", "ping", "--topology", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
