//! Whole-stack ingress: a sequence of frames (each prefixed by a 2-byte
//! length) goes into a router-host with two interfaces, a UDP socket and a
//! TCP echo listener on port 80; nothing may panic, and every outbound
//! frame must itself parse.
//!
//! Frames that look like Ethernet + IPv4 get their IPv4 and transport
//! checksums fixed up first, so the fuzzer reaches code behind them.
//!
//! Invariants checked after every frame (issue 23):
//! - no reply to a martian: no datagram leaves for 0/8, 127/8, multicast
//!   or class E, nor for 0.0.0.0;
//! - no broadcast reply: nothing IPv4 leaves as a link broadcast or to a
//!   broadcast address (the harness never asks for broadcast);
//! - memory within the cap: the reassembler's charged bytes and buffer
//!   count stay within the (small) configured limits.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use strata::net::frag::FragConfig;
use strata::net::martian::{check_destination, Arrival};
use strata::stack::StackConfig;
use strata::time::Instant;
use strata::wire::ethernet::{EtherType, EthernetFrame};
use strata::wire::ipv4::Ipv4Packet;

#[path = "shared/mod.rs"]
mod shared;

fuzz_target!(|data: &[u8]| {
    // Small reassembly limits, so the fuzzer can reach them.
    let frag = FragConfig {
        per_source_limit: 16 * 1024,
        global_limit: 64 * 1024,
        max_buffers: 64,
        ..FragConfig::default()
    };
    let (mut s, i, j) = shared::two_armed(StackConfig {
        seed: 7,
        frag,
        ..StackConfig::default()
    });
    s.set_forwarding(true);
    let _ = s.udp_bind(None, 53);
    let listener = s.tcp_listen(None, 80, 4).unwrap();
    let mut conns = Vec::new();
    let mut tcp_buf = [0u8; 4096];

    let mut now = Instant::from_millis(1);
    let mut out = [0u8; 2048];
    for (flags, frame) in shared::frames(data) {
        let iface = if flags & 0x80 != 0 { j } else { i };
        s.receive(now, iface, &frame);
        now = Instant::from_millis(now.as_millis() + 100);
        if let Some(t) = s.poll_timeout() {
            if t <= now {
                s.handle_timeout(now);
            }
        }
        let mut sent = 0;
        while let Some((_, n)) = s.poll_transmit(now, &mut out) {
            let f = EthernetFrame::new_checked(&out[..n]).expect("stack emits valid Ethernet");
            if f.ethertype() == EtherType::IPV4 {
                let p = Ipv4Packet::new_checked(f.payload()).expect("stack emits valid IPv4");
                assert!(p.verify_checksum());
                let dst = p.dst();
                assert!(
                    check_destination(dst, Arrival::Wire).is_ok() && !dst.is_unspecified(),
                    "a datagram left for the martian {dst}"
                );
                assert!(!f.dst().is_broadcast(), "an IPv4 broadcast frame left");
                let directed = [Ipv4Addr::new(10, 0, 0, 255), Ipv4Addr::new(10, 0, 1, 255)];
                assert!(
                    !dst.is_broadcast() && !directed.contains(&dst),
                    "a datagram left for the broadcast {dst}"
                );
            }
            sent += 1;
            assert!(sent < 10_000);
        }
        while s.poll_event().is_some() {}
        assert!(
            s.reassembly_memory() <= frag.global_limit,
            "reassembly over its cap"
        );
        assert!(
            s.reassembly_buffers() <= frag.max_buffers,
            "reassembly buffers over the cap"
        );
        while let Ok(h) = s.tcp_accept(listener) {
            conns.push(h);
        }
        for &h in &conns {
            if let Ok(n) = s.tcp_recv(h, &mut tcp_buf) {
                let _ = s.tcp_send(h, &tcp_buf[..n]);
            }
        }
    }
});
