//! A TAP is ready for the kernel's replies as soon as `TapDevice::open`
//! returns.
//!
//! A TAP whose interface is up but has no reader has no carrier, and the
//! kernel keeps its transmit queue on the `noop` qdisc, which drops every
//! frame. Attaching a reader turns the carrier on, but the queue is only
//! activated later by the kernel's link-watch work (a global work item
//! that needs the RTNL lock, so it runs late while other namespaces and
//! interfaces come and go). Until then whatever the kernel answers is
//! lost: the first `strata fetch` on a busy machine lost the kernel's ARP
//! reply, re-sent its ARP request a second later, and sent its SYN twice
//! (the flaky `tap_cli::repeated_fetches_against_the_kernel_send_one_syn_each`).
//!
//! Here the very first frame after each open is an ARP request to the
//! kernel, written at once: its reply must come back every time.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use strata::wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use strata::wire::ethernet::{EtherType, EthernetFrame, EthernetRepr};
use strata::wire::MacAddr;
use strata_io::testing::{skip_unless_root_and_tun, Netns};
use strata_io::Device;

const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 20, 93, 1);
const OURS: Ipv4Addr = Ipv4Addr::new(10, 20, 93, 2);
const MAC: MacAddr = MacAddr([0x02, 0x53, 0x54, 0x14, 0x5d, 0x02]);

/// "Who has 10.20.93.1? Tell 10.20.93.2", broadcast.
fn arp_request() -> Vec<u8> {
    let eth = EthernetRepr {
        dst: MacAddr::BROADCAST,
        src: MAC,
        ethertype: EtherType::ARP,
        vlan: None,
    };
    let arp = ArpRepr {
        operation: ArpOperation::Request,
        sender_mac: MAC,
        sender_ip: OURS,
        target_mac: MacAddr::UNSPECIFIED,
        target_ip: KERNEL,
    };
    let mut f = vec![0u8; 60];
    let hl = eth.emit(&mut f).unwrap();
    arp.emit(&mut f[hl..]).unwrap();
    f
}

/// Whether `frame` is the kernel's ARP reply to [`arp_request`].
fn is_reply(frame: &[u8]) -> bool {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return false;
    };
    let Ok(e) = EthernetRepr::parse(&eth) else {
        return false;
    };
    if e.ethertype != EtherType::ARP {
        return false;
    }
    let Ok(p) = ArpPacket::new_checked(&frame[e.header_len()..]) else {
        return false;
    };
    ArpRepr::parse(&p).is_ok_and(|a| {
        a.operation == ArpOperation::Reply && a.sender_ip == KERNEL && a.target_ip == OURS
    })
}

/// Whether the interface is operationally up (`IFF_RUNNING`), as seen
/// from inside the namespace.
fn running(ns: &Netns, tap: &str) -> bool {
    let out = ns.exec(&["ip", "-o", "link", "show", tap]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.contains("state UP")
}

#[test]
fn the_kernels_first_reply_after_open_is_not_dropped() {
    if !skip_unless_root_and_tun() {
        return;
    }
    let ns = Netns::new("tlink").unwrap();
    let tap = "sttlink";
    ns.add_tap(tap, &format!("{KERNEL}/24")).unwrap();
    let rounds = 20;
    let mut lost = Vec::new();
    for round in 0..rounds {
        // The previous reader has gone: wait (bounded) until the kernel has
        // taken the link down and parked its queue again, so that every
        // round opens a TAP whose queue the kernel must first activate.
        let give_up = Instant::now() + Duration::from_secs(5);
        while running(&ns, tap) && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut dev = ns.open_tap(tap).unwrap().unwrap();
        assert!(dev.send(&arp_request()).unwrap(), "the TAP took no frame");
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut buf = vec![0u8; 65_536];
        let mut answered = false;
        while !answered && Instant::now() < deadline {
            match dev.recv(&mut buf).unwrap() {
                Some(n) => answered = is_reply(&buf[..n]),
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        if !answered {
            lost.push(round);
        }
        drop(dev);
    }
    let drops = ns
        .exec(&[
            "cat",
            &format!("/sys/class/net/{tap}/statistics/tx_dropped"),
        ])
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("{rounds} opens, replies lost in rounds {lost:?}; the TAP's tx_dropped: {drops}");
    assert!(
        lost.is_empty(),
        "the kernel's ARP reply was dropped right after opening the TAP in rounds {lost:?} of {rounds}"
    );
}
