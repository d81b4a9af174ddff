//! Hand-built known-good packets, written as hex, whose checksums were
//! computed independently of strata:
//!
//! - the IPv4 header from Wikipedia's "IPv4 header checksum" worked example
//!   (`4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7`);
//! - the others built byte by byte in Python with the textbook RFC 1071
//!   routine below (laid out as Linux sends them: iputils ping data, a
//!   Linux SYN's option order, a glibc-style DNS query), then checked here
//!   field by field, and re-emitted by strata byte for byte.
//!
//! ```python
//! def rfc1071(data: bytes) -> int:
//!     if len(data) % 2: data += b'\0'
//!     s = 0
//!     for i in range(0, len(data), 2):
//!         s += (data[i] << 8) | data[i+1]
//!     while s >> 16: s = (s & 0xffff) + (s >> 16)
//!     return (~s) & 0xffff
//! # TCP/UDP: rfc1071(src + dst + b'\0' + bytes([proto]) + len16 + segment)
//! ```

use std::net::Ipv4Addr;

use strata::wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use strata::wire::checksum;
use strata::wire::ethernet::{EtherType, EthernetFrame, EthernetRepr, VlanTag};
use strata::wire::icmpv4::{Icmpv4Packet, Icmpv4Repr};
use strata::wire::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use strata::wire::tcp::{TcpFlags, TcpPacket, TcpRepr, Timestamps};
use strata::wire::udp::{UdpPacket, UdpRepr};
use strata::wire::{Error, MacAddr};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const H1: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);
const H2: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 2);

#[test]
fn wikipedia_ipv4_header_checksum() {
    let h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
    let mut zeroed = h.clone();
    zeroed[10..12].copy_from_slice(&[0, 0]);
    assert_eq!(checksum::checksum(&zeroed), 0xb861);
    assert_eq!(checksum::naive(&h), 0xffff);
    // The header alone (total length 0x73 > 20) is a truncated datagram…
    assert_eq!(
        Ipv4Packet::new_checked(&h[..]).unwrap_err(),
        Error::Truncated
    );
    // …with its payload it parses and the checksum verifies.
    let mut d = h.clone();
    d.resize(0x73, 0);
    let p = Ipv4Packet::new_checked(&d[..]).unwrap();
    let r = Ipv4Repr::parse(&p).unwrap();
    assert_eq!(r.src, Ipv4Addr::new(192, 168, 0, 1));
    assert_eq!(r.dst, Ipv4Addr::new(192, 168, 0, 199));
    assert_eq!(r.protocol, IpProtocol::UDP);
    assert!(r.dont_frag);
    assert_eq!(r.payload_len, 0x73 - 20);
    let mut out = [0u8; 20];
    r.emit(&mut out).unwrap();
    assert_eq!(&out[..], &h[..]);
}

#[test]
fn linux_arp_request_padded_frame() {
    // Broadcast ARP "who has 192.168.0.2? tell 192.168.0.1", padded to 60 bytes.
    let f = hex("ffffffffffff 525400123456 0806
         0001 0800 06 04 0001 525400123456 c0a80001 000000000000 c0a80002
         000000000000000000000000000000000000");
    assert_eq!(f.len(), 60);
    let frame = EthernetFrame::new_checked(&f[..]).unwrap();
    let eth = EthernetRepr::parse(&frame).unwrap();
    assert_eq!(eth.dst, MacAddr::BROADCAST);
    assert_eq!(eth.src, MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]));
    assert_eq!(eth.ethertype, EtherType::ARP);
    assert_eq!(eth.vlan, None);
    let arp = ArpRepr::parse(&ArpPacket::new_checked(frame.payload()).unwrap()).unwrap();
    assert_eq!(
        arp,
        ArpRepr {
            operation: ArpOperation::Request,
            sender_mac: eth.src,
            sender_ip: H1,
            target_mac: MacAddr::UNSPECIFIED,
            target_ip: H2,
        }
    );
    assert_eq!(arp.to_string(), "ARP Who has 192.168.0.2? Tell 192.168.0.1");
    let mut out = [0u8; 60];
    let n = eth.emit(&mut out).unwrap();
    arp.emit(&mut out[n..]).unwrap();
    assert_eq!(&out[..], &f[..]);
}

#[test]
fn vlan_tagged_arp_reply() {
    // 802.1Q tag: PCP 3, DEI 0, VID 100 → TCI 0x6064.
    let f = hex("525400123456 5254000abcde 8100 6064 0806
         0001 0800 06 04 0002 5254000abcde c0a80002 525400123456 c0a80001");
    let frame = EthernetFrame::new_checked(&f[..]).unwrap();
    let eth = EthernetRepr::parse(&frame).unwrap();
    assert_eq!(
        eth.vlan,
        Some(VlanTag {
            pcp: 3,
            dei: false,
            vid: 100
        })
    );
    assert_eq!(eth.ethertype, EtherType::ARP);
    assert_eq!(frame.header_len(), 18);
    let arp = ArpRepr::parse(&ArpPacket::new_checked(frame.payload()).unwrap()).unwrap();
    assert_eq!(arp.operation, ArpOperation::Reply);
    assert_eq!(arp.to_string(), "ARP 192.168.0.2 is at 52:54:00:0a:bc:de");
    let mut out = vec![0u8; f.len()];
    let n = eth.emit(&mut out).unwrap();
    arp.emit(&mut out[n..]).unwrap();
    assert_eq!(out, f);
}

#[test]
fn linux_ping_echo_request() {
    // IPv4 checksum 0x9d0f, ICMP checksum 0x4132 (Python above). Data is
    // iputils' layout: a 16-byte timeval, then bytes 0x10..0x37.
    let d = hex("4500 0054 1c46 4000 4001 9d0f c0a8 0001 c0a8 0002
         0800 4132 0b1e 0001
         6a4b5c6500000000 1c2b0a0000000000
         101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637");
    let p = Ipv4Packet::new_checked(&d[..]).unwrap();
    let ip = Ipv4Repr::parse(&p).unwrap();
    assert_eq!(
        (ip.src, ip.dst, ip.protocol, ip.ttl),
        (H1, H2, IpProtocol::ICMP, 64)
    );
    assert_eq!((ip.ident, ip.dont_frag, ip.payload_len), (0x1c46, true, 64));
    assert_eq!(p.checksum(), 0x9d0f);
    let ic = Icmpv4Packet::new_checked(p.payload()).unwrap();
    assert_eq!(ic.checksum(), 0x4132);
    let icmp = Icmpv4Repr::parse(&ic).unwrap();
    let Icmpv4Repr::EchoRequest {
        ident,
        seq_no,
        data,
    } = icmp
    else {
        panic!("not an echo request: {icmp:?}")
    };
    assert_eq!((ident, seq_no, data.len()), (0x0b1e, 1, 56));
    assert_eq!(icmp.to_string(), "ICMP Echo request id=0x0b1e seq=1 len=56");
    let mut out = vec![0u8; d.len()];
    let n = ip.emit(&mut out).unwrap();
    icmp.emit(&mut out[n..]).unwrap();
    assert_eq!(out, d);
    // A corrupted byte in the echo data fails the ICMP checksum only.
    let mut bad = d.clone();
    bad[40] ^= 0x01;
    let p = Ipv4Packet::new_checked(&bad[..]).unwrap();
    assert!(Ipv4Repr::parse(&p).is_ok());
    let ic = Icmpv4Packet::new_checked(p.payload()).unwrap();
    assert_eq!(Icmpv4Repr::parse(&ic), Err(Error::BadChecksum));
}

#[test]
fn linux_syn_with_options() {
    // IPv4 checksum 0x7f49, TCP checksum 0x912a (Python above). Options in
    // Linux's order: MSS 1460, SACK_PERM, TS (val 0x9f3c2a11, ecr 0), NOP, WS 7.
    let d = hex("4500 003c 3a1f 4000 4006 7f49 c0a8 0001 c0a8 0002
         c000 0050 6b8b4567 00000000 a002 faf0 912a 0000
         020405b4 0402080a 9f3c2a11 00000000 01030307");
    let p = Ipv4Packet::new_checked(&d[..]).unwrap();
    let ip = Ipv4Repr::parse(&p).unwrap();
    assert_eq!(ip.protocol, IpProtocol::TCP);
    let t = TcpPacket::new_checked(p.payload()).unwrap();
    assert_eq!(t.checksum(), 0x912a);
    let tcp = TcpRepr::parse(&t, ip.src, ip.dst).unwrap();
    assert_eq!((tcp.src_port, tcp.dst_port), (49152, 80));
    assert_eq!(
        (tcp.seq, tcp.flags, tcp.window),
        (0x6b8b4567, TcpFlags::SYN, 64240)
    );
    assert_eq!(tcp.options.mss, Some(1460));
    assert_eq!(tcp.options.window_scale, Some(7));
    assert!(tcp.options.sack_permitted);
    assert_eq!(
        tcp.options.timestamps,
        Some(Timestamps {
            tsval: 0x9f3c2a11,
            tsecr: 0
        })
    );
    assert!(tcp.payload.is_empty());
    assert_eq!(
        tcp.to_string(),
        "TCP 49152 → 80 [SYN] seq=1804289383 win=64240 len=0 MSS=1460 WS=7 SACK_PERM TSval=2671520273 TSecr=0"
    );
    let mut out = vec![0u8; d.len()];
    let n = ip.emit(&mut out).unwrap();
    tcp.emit(&mut out[n..], ip.src, ip.dst).unwrap();
    assert_eq!(out, d);
    // The same bytes under another destination address fail the
    // pseudo-header checksum.
    assert_eq!(
        TcpRepr::parse(&t, ip.src, Ipv4Addr::new(192, 168, 0, 3)),
        Err(Error::BadChecksum)
    );
}

#[test]
fn dns_query_over_udp() {
    // IPv4 checksum 0x4ecf, UDP checksum 0x7e0b (Python above):
    // A query for example.com, id 0x1234, recursion desired.
    let d = hex("4500 0039 5b2c 0000 4011 4ecf c0a8 0001 0808 0808
         cf08 0035 0025 7e0b
         1234 0100 0001 0000 0000 0000 07 6578616d706c65 03 636f6d 00 0001 0001");
    let p = Ipv4Packet::new_checked(&d[..]).unwrap();
    let ip = Ipv4Repr::parse(&p).unwrap();
    assert_eq!(
        (ip.dst, ip.protocol, ip.dont_frag),
        (Ipv4Addr::new(8, 8, 8, 8), IpProtocol::UDP, false)
    );
    let u = UdpPacket::new_checked(p.payload()).unwrap();
    assert_eq!(u.checksum(), 0x7e0b);
    let udp = UdpRepr::parse(&u, ip.src, ip.dst).unwrap();
    assert_eq!((udp.src_port, udp.dst_port), (53000, 53));
    assert_eq!(&u.payload()[12..25], b"\x07example\x03com\x00");
    let mut out = vec![0u8; d.len()];
    let n = ip.emit(&mut out).unwrap();
    udp.emit(&mut out[n..], ip.src, ip.dst, u.payload())
        .unwrap();
    assert_eq!(out, d);
}
