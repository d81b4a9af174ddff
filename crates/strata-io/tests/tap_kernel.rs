//! The TAP device against the Linux kernel, inside a namespace this test
//! creates and removes. Skipped (with a printed reason) without root or
//! /dev/net/tun.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use strata_io::sys::poll_readable;
use strata_io::testing::{skip_unless_root_and_tun, Netns};
use strata_io::Device;

/// After the kernel side gets an address, a datagram to a neighbour on the
/// TAP's subnet makes the kernel send an ARP request out of the TAP: we
/// read it as a whole Ethernet frame with no packet-info prefix.
#[test]
fn reads_kernel_arp_request_from_tap() {
    if !skip_unless_root_and_tun() {
        return;
    }
    let ns = Netns::new("tap").unwrap();
    ns.add_tap("stap0", "10.20.9.1/24").unwrap();
    let mut tap = ns.open_tap("stap0").unwrap().unwrap();
    assert_eq!(tap.name(), "stap0");
    // A UDP datagram to 10.20.9.2 makes the kernel resolve it by ARP on
    // the TAP link (bash's /dev/udp needs no extra tool).
    ns.spawn(&[
        "bash",
        "-c",
        "for i in 1 2 3 4 5; do echo x > /dev/udp/10.20.9.2/9; sleep 0.3; done",
    ])
    .unwrap();

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 2048];
    let mut found = false;
    while Instant::now() < deadline && !found {
        poll_readable(&[tap.as_fd()], Some(Duration::from_millis(200))).unwrap();
        while let Some(n) = tap.recv(&mut buf).unwrap() {
            let f = &buf[..n];
            // Ethernet: dst(6) src(6) type(2); ARP: ... op at 20..22,
            // sender IP at 28..32, target IP at 38..42.
            if n >= 42 && f[12..14] == [0x08, 0x06] && f[20..22] == [0, 1] {
                assert_eq!(&f[0..6], &[0xff; 6], "ARP request is broadcast");
                assert_eq!(&f[28..32], &[10, 20, 9, 1]);
                assert_eq!(&f[38..42], &[10, 20, 9, 2]);
                found = true;
            }
        }
    }
    assert!(found, "no ARP request for 10.20.9.2 seen on the TAP");
    // Writing a frame back is accepted whole.
    let mut reply = [0u8; 60];
    reply[0..6].copy_from_slice(&[0xff; 6]);
    reply[12..14].copy_from_slice(&[0x88, 0xb5]); // local experimental ethertype
    assert!(tap.send(&reply).unwrap());
}

#[test]
fn netns_guard_removes_namespace_even_on_panic() {
    if !skip_unless_root_and_tun() {
        return;
    }
    let name = std::panic::catch_unwind(|| {
        let ns = Netns::new("panic").unwrap();
        ns.add_tap("stap1", "10.20.8.1/24").unwrap();
        let name = ns.name().to_string();
        std::panic::panic_any(name);
    })
    .unwrap_err()
    .downcast::<String>()
    .unwrap();
    let list = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        !list.contains(name.as_str()),
        "{name} still listed:\n{list}"
    );
}

#[test]
fn opening_a_tap_twice_is_a_typed_busy_error() {
    if !skip_unless_root_and_tun() {
        return;
    }
    // A TAP that exists in a namespace is busy when opened twice at once.
    let ns = Netns::new("busy").unwrap();
    ns.add_tap("stap2", "10.20.7.1/24").unwrap();
    let _first = ns.open_tap("stap2").unwrap().unwrap();
    let second = ns.open_tap("stap2").unwrap();
    assert!(
        matches!(second, Err(strata_io::TapError::Busy { .. })),
        "{second:?}"
    );
}
