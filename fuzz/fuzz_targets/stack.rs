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
use strata::stack::{Stack, StackConfig};
use strata::time::Instant;
use strata::wire::checksum;
use strata::wire::ethernet::{EtherType, EthernetFrame};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::ipv4::{IpProtocol, Ipv4Packet};
use strata::wire::tcp::TcpPacket;
use strata::wire::MacAddr;

fn fix_checksums(frame: &mut [u8]) {
    let Ok(f) = EthernetFrame::new_checked(&frame[..]) else {
        return;
    };
    if f.ethertype() != EtherType::IPV4 {
        return;
    }
    let h = f.header_len();
    let ip = &mut frame[h..];
    let Ok(p) = Ipv4Packet::new_checked(&ip[..]) else {
        return;
    };
    let (hl, total, proto) = (p.header_len(), usize::from(p.total_len()), p.protocol());
    let (src, dst) = (p.src(), p.dst());
    let first_fragment = p.frag_offset() == 0;
    Ipv4Packet::new_unchecked(&mut ip[..]).fill_checksum();
    let seg = &mut ip[hl..total];
    if !first_fragment {
        return;
    }
    match proto {
        IpProtocol::TCP if TcpPacket::new_checked(&seg[..]).is_ok() => {
            TcpPacket::new_unchecked(&mut seg[..]).fill_checksum(src, dst);
        }
        IpProtocol::UDP if seg.len() >= 8 => {
            let l = usize::from(u16::from_be_bytes([seg[4], seg[5]]));
            if (8..=seg.len()).contains(&l) && seg[6..8] != [0, 0] {
                seg[6..8].copy_from_slice(&[0, 0]);
                let ph = checksum::pseudo_header(src, dst, IpProtocol::UDP, l as u32);
                let c = checksum::finish(checksum::combine(&[ph, checksum::sum(&seg[..l])]));
                let c = if c == 0 { 0xffff } else { c };
                seg[6..8].copy_from_slice(&c.to_be_bytes());
            }
        }
        IpProtocol::ICMP if seg.len() >= 8 => {
            seg[2..4].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(seg);
            seg[2..4].copy_from_slice(&c.to_be_bytes());
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    // Small reassembly limits, so the fuzzer can reach them.
    let frag = FragConfig {
        per_source_limit: 16 * 1024,
        global_limit: 64 * 1024,
        max_buffers: 64,
        ..FragConfig::default()
    };
    let mut s = Stack::new(StackConfig {
        seed: 7,
        frag,
        ..StackConfig::default()
    });
    let i = s.add_interface(MacAddr([2, 0, 0, 0, 0, 1]), 1500);
    s.add_address(i, Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap())
        .unwrap();
    let j = s.add_interface(MacAddr([2, 0, 0, 0, 1, 1]), 576);
    s.add_address(j, Ipv4Cidr::new(Ipv4Addr::new(10, 0, 1, 1), 24).unwrap())
        .unwrap();
    s.set_forwarding(true);
    let _ = s.udp_bind(None, 53);
    let listener = s.tcp_listen(None, 80, 4).unwrap();
    let mut conns = Vec::new();
    let mut tcp_buf = [0u8; 4096];

    let mut now = Instant::from_millis(1);
    let mut rest = data;
    let mut out = [0u8; 2048];
    while rest.len() >= 3 {
        let iface = if rest[0] & 0x80 != 0 { j } else { i };
        let len = usize::from(u16::from_be_bytes([rest[0] & 0x07, rest[1]])).min(rest.len() - 2);
        let mut frame = rest[2..2 + len].to_vec();
        rest = &rest[2 + len..];
        fix_checksums(&mut frame);
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
        assert!(s.reassembly_memory() <= frag.global_limit, "reassembly over its cap");
        assert!(s.reassembly_buffers() <= frag.max_buffers, "reassembly buffers over the cap");
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
