//! Shared by the whole-stack fuzz targets (`stack`, `nat`): the router
//! they feed, the input's framing, and checksums fixed on the way in so
//! the fuzzer reaches the code behind the checks.

use std::net::Ipv4Addr;

use strata::link::IfaceId;
use strata::stack::{Stack, StackConfig};
use strata::wire::checksum;
use strata::wire::ethernet::{EtherType, EthernetFrame};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::ipv4::{IpProtocol, Ipv4Packet};
use strata::wire::tcp::TcpPacket;
use strata::wire::MacAddr;

/// A stack with two interfaces: 10.0.0.1/24 (MAC 02:00:00:00:00:01,
/// MTU 1500) and 10.0.1.1/24 (02:00:00:00:01:01, MTU 576).
pub fn two_armed(config: StackConfig) -> (Stack, IfaceId, IfaceId) {
    let mut s = Stack::new(config);
    let i = s.add_interface(MacAddr([2, 0, 0, 0, 0, 1]), 1500);
    s.add_address(i, Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap())
        .unwrap();
    let j = s.add_interface(MacAddr([2, 0, 0, 0, 1, 1]), 576);
    s.add_address(j, Ipv4Cidr::new(Ipv4Addr::new(10, 0, 1, 1), 24).unwrap())
        .unwrap();
    (s, i, j)
}

/// The frames of an input: each has a 2-byte big-endian prefix whose low
/// 11 bits are its length (cut to what is left); the prefix's high byte
/// comes with the frame (its top bits are the target's flags: bit 7 picks
/// the second interface), and the frame's checksums are fixed.
pub fn frames(mut rest: &[u8]) -> impl Iterator<Item = (u8, Vec<u8>)> + '_ {
    std::iter::from_fn(move || {
        if rest.len() < 3 {
            return None;
        }
        let flags = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[0] & 0x07, rest[1]])).min(rest.len() - 2);
        let mut frame = rest[2..2 + len].to_vec();
        rest = &rest[2 + len..];
        fix_checksums(&mut frame);
        Some((flags, frame))
    })
}

/// Fixes the IPv4 header checksum of `frame`, and the TCP, UDP or ICMP
/// checksum of a first fragment.
pub fn fix_checksums(frame: &mut [u8]) {
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
