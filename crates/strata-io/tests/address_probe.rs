//! RFC 5227 by default: a runtime probes its address before using it and
//! announces it twice; another station holding the address makes
//! `Runtime::new` fail. The test plays the rest of the link by hand on an
//! in-process cable (no privileges).

use std::io::ErrorKind;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use strata::wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use strata::wire::ethernet::{EtherType, EthernetFrame, EthernetRepr};
use strata::wire::MacAddr;
use strata_io::runtime::{Runtime, RuntimeConfig};
use strata_io::{Device, PipeDevice};

const ADDR: Ipv4Addr = Ipv4Addr::new(10, 52, 0, 2);
const HOLDER: MacAddr = MacAddr([0x02, 0, 0, 0, 0x52, 0x99]);

/// The next ARP packet on the cable within `wait`.
fn next_arp(peer: &mut PipeDevice, wait: Duration) -> Option<ArpRepr> {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 2048];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let n = peer.recv_timeout(&mut buf, left).unwrap()?;
        let Ok(f) = EthernetFrame::new_checked(&buf[..n]) else {
            continue;
        };
        if f.ethertype() != EtherType::ARP {
            continue;
        }
        if let Ok(p) = ArpPacket::new_checked(f.payload()) {
            if let Ok(r) = ArpRepr::parse(&p) {
                return Some(r);
            }
        }
    }
    None
}

#[test]
fn the_address_is_probed_three_times_then_announced_twice() {
    let (dev, mut peer) = PipeDevice::pair().unwrap();
    let mut cfg = RuntimeConfig::new("10.52.0.2/24".parse().unwrap());
    // The gateway's route exists only once the address is ours.
    cfg.gateway = Some(Ipv4Addr::new(10, 52, 0, 1));
    assert!(cfg.probe_address, "probing is the default");
    let t0 = Instant::now();
    let starting = std::thread::spawn(move || Runtime::new(dev, cfg).map(|rt| (rt, t0.elapsed())));
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let r = next_arp(&mut peer, Duration::from_secs(15)).expect("ARP frames keep coming");
        seen.push(r);
    }
    let (rt, took) = starting.join().unwrap().expect("no conflict");
    // RFC 5227 §2.1.1: three probes, sender IP all zeroes, target ours.
    for p in &seen[..3] {
        assert_eq!(p.operation, ArpOperation::Request, "{seen:?}");
        assert_eq!(p.sender_ip, Ipv4Addr::UNSPECIFIED, "{seen:?}");
        assert_eq!(p.target_ip, ADDR, "{seen:?}");
    }
    // §2.3: then two announcements, sender = target = ours.
    for a in &seen[3..] {
        assert_eq!(a.operation, ArpOperation::Request, "{seen:?}");
        assert_eq!((a.sender_ip, a.target_ip), (ADDR, ADDR), "{seen:?}");
    }
    // PROBE_MIN between probes and ANNOUNCE_WAIT after the last: the
    // address was not used before that.
    assert!(took >= Duration::from_secs(4), "returned after {took:?}");
    assert!(rt.with_stack(|s| s.is_local_addr(ADDR)).unwrap());
}

#[test]
fn another_station_holding_the_address_fails_the_start() {
    let (dev, mut peer) = PipeDevice::pair().unwrap();
    let cfg = RuntimeConfig::new("10.52.0.2/24".parse().unwrap());
    let starting = std::thread::spawn(move || Runtime::new(dev, cfg).map(|_| ()));
    let probe = next_arp(&mut peer, Duration::from_secs(10)).expect("a probe");
    assert_eq!(
        (probe.sender_ip, probe.target_ip),
        (Ipv4Addr::UNSPECIFIED, ADDR)
    );
    // The holder answers the probe (RFC 5227 §2.1.1: a conflict).
    let reply = ArpRepr {
        operation: ArpOperation::Reply,
        sender_mac: HOLDER,
        sender_ip: ADDR,
        target_mac: probe.sender_mac,
        target_ip: Ipv4Addr::UNSPECIFIED,
    };
    let eth = EthernetRepr {
        dst: probe.sender_mac,
        src: HOLDER,
        ethertype: EtherType::ARP,
        vlan: None,
    };
    let mut frame = [0u8; 60];
    let h = eth.emit(&mut frame).unwrap();
    reply.emit(&mut frame[h..]).unwrap();
    assert!(peer.send(&frame).unwrap());
    let err = starting.join().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
}

#[test]
fn a_known_unique_address_is_used_at_once() {
    let (dev, mut peer) = PipeDevice::pair().unwrap();
    let cfg = RuntimeConfig::new("10.52.0.2/24".parse().unwrap()).address_known_unique();
    let rt = Runtime::new(dev, cfg).unwrap();
    assert!(rt.with_stack(|s| s.is_local_addr(ADDR)).unwrap());
    // One announcement, no probe.
    let a = next_arp(&mut peer, Duration::from_secs(5)).expect("an announcement");
    assert_eq!((a.sender_ip, a.target_ip), (ADDR, ADDR));
}
