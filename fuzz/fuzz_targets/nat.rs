//! NAT: frames go into a NAT router (`strata::net::nat` on a two-interface
//! stack: inside 10.0.0.1/24, outside 10.0.1.1/24) from either side, with
//! their IPv4 and transport checksums fixed first so the fuzzer reaches the
//! translation. Each frame has a 2-byte prefix: bit 15 picks the outside
//! interface, bit 14 lets ten minutes pass after it (mappings expire),
//! bits 0–10 give its length. The first byte of the input picks the
//! filtering (RFC 4787 §5).
//!
//! Invariants, after every frame:
//! - nothing panics, and every frame the router emits parses;
//! - checksums stay right through translation: the IPv4 header's, and the
//!   TCP, UDP or ICMP checksum of every whole datagram that parses (RFC
//!   3022 §4.2; RFC 5508 §4.1 for ICMP errors, whose quoted datagram is
//!   rewritten too) — the harness fixes every datagram's checksums, but
//!   not those of a datagram reassembled from fragments, so this check
//!   ends at the first fragment fed;
//! - no inside address leaks: nothing leaves the outside interface from
//!   10.0.0.0/24 (RFC 3022 §2.2), unless the input itself brought such a
//!   source in from outside;
//! - the table stays within its cap (`max_mappings`).
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use strata::net::nat::{Filtering, NatConfig};
use strata::stack::StackConfig;
use strata::time::Instant;
use strata::wire::ethernet::{EtherType, EthernetFrame};
use strata::wire::icmpv4::Icmpv4Packet;
use strata::wire::ip::Ipv4Cidr;
use strata::wire::ipv4::{IpProtocol, Ipv4Packet};
use strata::wire::tcp::TcpPacket;
use strata::wire::udp::UdpPacket;

#[path = "shared/mod.rs"]
mod shared;

const MAX_MAPPINGS: usize = 64;

fn inside() -> Ipv4Cidr {
    Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 0), 24).unwrap()
}

/// The IPv4 source of `frame` and whether it is a fragment, if it is
/// Ethernet + IPv4.
fn ipv4_of(frame: &[u8]) -> Option<(Ipv4Addr, bool)> {
    let f = EthernetFrame::new_checked(frame).ok()?;
    if f.ethertype() != EtherType::IPV4 {
        return None;
    }
    let p = Ipv4Packet::new_checked(f.payload()).ok()?;
    Some((p.src(), p.more_frags() || p.frag_offset() != 0))
}

/// Checks an IPv4 datagram the router emitted: its header checksum, and
/// when `transport` is set and the datagram is whole, the checksum of the
/// TCP, UDP or ICMP message in it (a message that does not parse was
/// forwarded as it came, unread).
fn check_datagram(ip: &[u8], transport: bool) {
    let p = Ipv4Packet::new_checked(ip).expect("the router emits valid IPv4");
    assert!(p.verify_checksum(), "IPv4 header checksum");
    if !transport || p.more_frags() || p.frag_offset() != 0 {
        return;
    }
    let (src, dst) = (p.src(), p.dst());
    let payload = p.payload();
    match p.protocol() {
        IpProtocol::TCP => {
            if let Ok(t) = TcpPacket::new_checked(payload) {
                assert!(t.verify_checksum(src, dst), "TCP checksum {src} → {dst}");
            }
        }
        IpProtocol::UDP => {
            if let Ok(u) = UdpPacket::new_checked(payload) {
                assert!(u.verify_checksum(src, dst), "UDP checksum {src} → {dst}");
            }
        }
        IpProtocol::ICMP => {
            if let Ok(i) = Icmpv4Packet::new_checked(payload) {
                assert!(i.verify_checksum(), "ICMP checksum {src} → {dst}");
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (mut s, i, j) = shared::two_armed(StackConfig {
        seed: 7,
        ..StackConfig::default()
    });
    let filtering = if first & 1 == 0 {
        Filtering::AddressDependent
    } else {
        Filtering::EndpointIndependent
    };
    s.enable_nat(
        j,
        NatConfig {
            filtering,
            max_mappings: MAX_MAPPINGS,
            max_sessions_per_mapping: 4,
            ..NatConfig::default()
        },
    )
    .unwrap();
    // A service on the router itself, so inbound traffic without a
    // mapping has somewhere else to go.
    let _ = s.udp_bind(None, 53);
    let mut now = Instant::from_millis(1);
    let mut out = [0u8; 2048];
    // An inside source brought in from outside may leave again by the
    // outside: that is forwarding, not a leak.
    let mut spoofed = false;
    let mut fragmented = false;
    for (flags, frame) in shared::frames(rest) {
        let outside = flags & 0x80 != 0;
        let pause = flags & 0x40 != 0;
        let iface = if outside { j } else { i };
        if let Some((src, fragment)) = ipv4_of(&frame) {
            spoofed |= outside && inside().contains(src);
            fragmented |= fragment;
        }
        s.receive(now, iface, &frame);
        let step = if pause { 600_000 } else { 100 };
        now = Instant::from_millis(now.as_millis() + step);
        if s.poll_timeout().is_some_and(|t| t <= now) {
            s.handle_timeout(now);
        }
        let mut sent = 0;
        while let Some((via, n)) = s.poll_transmit(now, &mut out) {
            let f = EthernetFrame::new_checked(&out[..n]).expect("the router emits valid Ethernet");
            if f.ethertype() == EtherType::IPV4 {
                check_datagram(f.payload(), !fragmented);
                let src = Ipv4Packet::new_checked(f.payload()).unwrap().src();
                // RFC 3022 §2.2: inside addresses stay inside.
                assert!(
                    via != j || spoofed || !inside().contains(src),
                    "{src} leaked outside"
                );
            }
            sent += 1;
            assert!(sent < 10_000);
        }
        while s.poll_event().is_some() {}
        let nat = s.nat().expect("NAT on");
        assert!(
            nat.mapping_count() <= MAX_MAPPINGS,
            "NAT table over its cap"
        );
    }
});
