//! Differential tests against `etherparse`: what strata emits, etherparse
//! reads with the same field values and checksums; what etherparse builds,
//! strata parses to the same values.

use std::net::Ipv4Addr;

use etherparse as ep;
use proptest::prelude::*;
use strata::wire::ethernet::{EtherType, EthernetFrame, EthernetRepr, VlanTag};
use strata::wire::icmpv4::{Icmpv4Packet, Icmpv4Repr};
use strata::wire::ipv4::{IpProtocol, Ipv4Options, Ipv4Packet, Ipv4Repr};
use strata::wire::tcp::{SackBlock, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps};
use strata::wire::udp::{UdpPacket, UdpRepr};
use strata::wire::MacAddr;

fn ip() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn ep_flags(h: &ep::TcpHeader) -> u16 {
    [h.fin, h.syn, h.rst, h.psh, h.ack, h.urg, h.ece, h.cwr, h.ns]
        .iter()
        .enumerate()
        .map(|(i, b)| u16::from(*b) << i)
        .sum()
}

fn set_ep_flags(h: &mut ep::TcpHeader, f: u16) {
    let bit = |i: u16| f & (1 << i) != 0;
    h.fin = bit(0);
    h.syn = bit(1);
    h.rst = bit(2);
    h.psh = bit(3);
    h.ack = bit(4);
    h.urg = bit(5);
    h.ece = bit(6);
    h.cwr = bit(7);
    h.ns = bit(8);
}

proptest! {
    #[test]
    fn ethernet_ours_to_etherparse(dst in any::<[u8; 6]>(), src in any::<[u8; 6]>(),
        t in any::<u16>().prop_filter("TPID", |t| *t != 0x8100),
        tag in proptest::option::of((0u8..8, any::<bool>(), 0u16..4096))) {
        let r = EthernetRepr {
            dst: MacAddr(dst), src: MacAddr(src), ethertype: EtherType(t),
            vlan: tag.map(|(pcp, dei, vid)| VlanTag { pcp, dei, vid }),
        };
        let mut buf = [0u8; 18];
        let n = r.emit(&mut buf).unwrap();
        let (eth, rest) = ep::Ethernet2Header::from_slice(&buf[..n]).unwrap();
        prop_assert_eq!(eth.destination, dst);
        prop_assert_eq!(eth.source, src);
        match tag {
            None => prop_assert_eq!(eth.ether_type.0, t),
            Some((pcp, dei, vid)) => {
                prop_assert_eq!(eth.ether_type, ep::EtherType::VLAN_TAGGED_FRAME);
                let (v, _) = ep::SingleVlanHeader::from_slice(rest).unwrap();
                prop_assert_eq!(v.pcp.value(), pcp);
                prop_assert_eq!(v.drop_eligible_indicator, dei);
                prop_assert_eq!(v.vlan_id.value(), vid);
                prop_assert_eq!(v.ether_type.0, t);
            }
        }
    }

    #[test]
    fn ethernet_etherparse_to_ours(dst in any::<[u8; 6]>(), src in any::<[u8; 6]>(),
        t in any::<u16>().prop_filter("TPID", |t| *t != 0x8100),
        tag in proptest::option::of((0u8..8, any::<bool>(), 0u16..4096))) {
        let mut bytes = Vec::new();
        let outer = if tag.is_some() { ep::EtherType::VLAN_TAGGED_FRAME } else { ep::EtherType(t) };
        ep::Ethernet2Header { source: src, destination: dst, ether_type: outer }.write(&mut bytes).unwrap();
        if let Some((pcp, dei, vid)) = tag {
            ep::SingleVlanHeader {
                pcp: ep::VlanPcp::try_new(pcp).unwrap(),
                drop_eligible_indicator: dei,
                vlan_id: ep::VlanId::try_new(vid).unwrap(),
                ether_type: ep::EtherType(t),
            }.write(&mut bytes).unwrap();
        }
        bytes.extend_from_slice(b"payload");
        let f = EthernetFrame::new_checked(&bytes[..]).unwrap();
        let r = EthernetRepr::parse(&f).unwrap();
        prop_assert_eq!(r.dst, MacAddr(dst));
        prop_assert_eq!(r.src, MacAddr(src));
        prop_assert_eq!(r.ethertype, EtherType(t));
        prop_assert_eq!(r.vlan, tag.map(|(pcp, dei, vid)| VlanTag { pcp, dei, vid }));
        prop_assert_eq!(f.payload(), b"payload");
    }

    #[test]
    fn ipv4_ours_to_etherparse(src in ip(), dst in ip(), proto in any::<u8>(), ttl in any::<u8>(),
        dscp in 0u8..64, ecn in 0u8..4, ident in any::<u16>(), df in any::<bool>(), mf in any::<bool>(),
        off in 0u16..8192, plen in 0usize..2000,
        opts in (0usize..11).prop_flat_map(|w| proptest::collection::vec(any::<u8>(), w * 4))) {
        let r = Ipv4Repr {
            src, dst, protocol: IpProtocol(proto), ttl, dscp, ecn, ident,
            dont_frag: df, more_frags: mf, frag_offset: off * 8, payload_len: plen,
            options: Ipv4Options::new(&opts).unwrap(),
        };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf).unwrap();
        let (h, _) = ep::Ipv4Header::from_slice(&buf).unwrap();
        prop_assert_eq!(h.source, src.octets());
        prop_assert_eq!(h.destination, dst.octets());
        prop_assert_eq!(h.protocol.0, proto);
        prop_assert_eq!(h.time_to_live, ttl);
        prop_assert_eq!(h.dscp.value(), dscp);
        prop_assert_eq!(h.ecn.value(), ecn);
        prop_assert_eq!(h.identification, ident);
        prop_assert_eq!(h.dont_fragment, df);
        prop_assert_eq!(h.more_fragments, mf);
        prop_assert_eq!(h.fragment_offset.byte_offset(), off * 8);
        prop_assert_eq!(usize::from(h.total_len), r.buffer_len());
        prop_assert_eq!(h.options.as_slice(), &opts[..]);
        prop_assert_eq!(h.header_checksum, h.calc_header_checksum());
    }

    #[test]
    fn ipv4_etherparse_to_ours(src in ip(), dst in ip(), proto in any::<u8>(), ttl in any::<u8>(),
        dscp in 0u8..64, ecn in 0u8..4, ident in any::<u16>(), df in any::<bool>(), mf in any::<bool>(),
        off in 0u16..8192, plen in 0u16..2000,
        opts in (0usize..11).prop_flat_map(|w| proptest::collection::vec(any::<u8>(), w * 4))) {
        let mut h = ep::Ipv4Header::new(plen, ttl, ep::IpNumber(proto), src.octets(), dst.octets()).unwrap();
        h.dscp = ep::Ipv4Dscp::try_new(dscp).unwrap();
        h.ecn = ep::Ipv4Ecn::try_new(ecn).unwrap();
        h.identification = ident;
        h.dont_fragment = df;
        h.more_fragments = mf;
        h.fragment_offset = ep::IpFragOffset::try_new(off).unwrap();
        h.options = ep::Ipv4Options::try_from(&opts[..]).unwrap();
        h.set_payload_len(usize::from(plen)).unwrap();
        h.header_checksum = h.calc_header_checksum();
        let mut bytes = Vec::new();
        h.write(&mut bytes).unwrap();
        bytes.resize(bytes.len() + usize::from(plen), 0xab);
        let p = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        let r = Ipv4Repr::parse(&p).unwrap();
        prop_assert_eq!(r, Ipv4Repr {
            src, dst, protocol: IpProtocol(proto), ttl, dscp, ecn, ident,
            dont_frag: df, more_frags: mf, frag_offset: off * 8, payload_len: usize::from(plen),
            options: Ipv4Options::new(&opts).unwrap(),
        });
    }

    #[test]
    fn udp_both_directions(sp in any::<u16>(), dp in any::<u16>(), src in ip(), dst in ip(),
        payload in proptest::collection::vec(any::<u8>(), 0..400)) {
        let r = UdpRepr { src_port: sp, dst_port: dp };
        let mut buf = vec![0u8; r.buffer_len(payload.len())];
        r.emit(&mut buf, src, dst, &payload).unwrap();
        let (h, rest) = ep::UdpHeader::from_slice(&buf).unwrap();
        prop_assert_eq!((h.source_port, h.destination_port), (sp, dp));
        prop_assert_eq!(usize::from(h.length), buf.len());
        prop_assert_eq!(rest, &payload[..]);
        let theirs = h.calc_checksum_ipv4_raw(src.octets(), dst.octets(), &payload).unwrap();
        prop_assert_eq!(h.checksum, theirs);

        let mut ip = ep::Ipv4Header::new(0, 64, ep::IpNumber::UDP, src.octets(), dst.octets()).unwrap();
        ip.set_payload_len(8 + payload.len()).unwrap();
        let h = ep::UdpHeader::with_ipv4_checksum(sp, dp, &ip, &payload).unwrap();
        let mut bytes = h.to_bytes().to_vec();
        bytes.extend_from_slice(&payload);
        prop_assert_eq!(&bytes, &buf);
        let p = UdpPacket::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(UdpRepr::parse(&p, src, dst).unwrap(), r);
    }

    #[test]
    fn tcp_ours_to_etherparse(ports in any::<(u16, u16)>(), seq in any::<u32>(), ack in any::<u32>(),
        flags in 0u16..0x200, window in any::<u16>(), urgent in any::<u16>(),
        mss in proptest::option::of(any::<u16>()), ws in proptest::option::of(any::<u8>()),
        sp in any::<bool>(), ts in proptest::option::of(any::<(u32, u32)>()),
        sack in proptest::collection::vec(any::<(u32, u32)>(), 0..=3),
        src in ip(), dst in ip(), payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut options = TcpOptions {
            mss, window_scale: ws, sack_permitted: sp,
            timestamps: ts.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
            ..TcpOptions::default()
        };
        // Keep within the option space so nothing is dropped.
        let fixed = 4 * usize::from(mss.is_some()) + 4 * usize::from(ws.is_some())
            + if ts.is_some() { 12 } else { 4 * usize::from(sp) };
        let sack = &sack[..sack.len().min((40 - fixed - 4) / 8)];
        for (i, (l, r)) in sack.iter().enumerate() {
            options.sack_blocks[i] = SackBlock { left: *l, right: *r };
        }
        options.sack_len = sack.len() as u8;
        let r = TcpRepr { src_port: ports.0, dst_port: ports.1, seq, ack, flags: TcpFlags(flags),
            window, urgent, options, payload: &payload };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf, src, dst).unwrap();
        let (h, rest) = ep::TcpHeader::from_slice(&buf).unwrap();
        prop_assert_eq!((h.source_port, h.destination_port), ports);
        prop_assert_eq!((h.sequence_number, h.acknowledgment_number), (seq, ack));
        prop_assert_eq!(ep_flags(&h), flags);
        prop_assert_eq!((h.window_size, h.urgent_pointer), (window, urgent));
        prop_assert_eq!(rest, &payload[..]);
        prop_assert_eq!(h.checksum, h.calc_checksum_ipv4_raw(src.octets(), dst.octets(), &payload).unwrap());
        let mut seen = TcpOptions::default();
        for e in h.options_iterator() {
            match e.unwrap() {
                ep::TcpOptionElement::Noop => {}
                ep::TcpOptionElement::MaximumSegmentSize(m) => seen.mss = Some(m),
                ep::TcpOptionElement::WindowScale(w) => seen.window_scale = Some(w),
                ep::TcpOptionElement::SelectiveAcknowledgementPermitted => seen.sack_permitted = true,
                ep::TcpOptionElement::Timestamp(a, b) => seen.timestamps = Some(Timestamps { tsval: a, tsecr: b }),
                ep::TcpOptionElement::SelectiveAcknowledgement(first, more) => {
                    let blocks = std::iter::once(Some(first)).chain(more).flatten();
                    for (i, (l, r)) in blocks.enumerate() {
                        seen.sack_blocks[i] = SackBlock { left: l, right: r };
                        seen.sack_len = i as u8 + 1;
                    }
                }
            }
        }
        prop_assert_eq!(seen, options);
    }

    #[test]
    fn tcp_etherparse_to_ours(ports in any::<(u16, u16)>(), seq in any::<u32>(), ack in any::<u32>(),
        flags in 0u16..0x200, window in any::<u16>(), urgent in any::<u16>(),
        mss in proptest::option::of(any::<u16>()), ws in proptest::option::of(any::<u8>()),
        sp in any::<bool>(), ts in proptest::option::of(any::<(u32, u32)>()),
        src in ip(), dst in ip(), payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        // etherparse packs options without alignment padding (its own layout).
        let mut el = Vec::new();
        if let Some(m) = mss { el.push(ep::TcpOptionElement::MaximumSegmentSize(m)); }
        if let Some(w) = ws { el.push(ep::TcpOptionElement::Noop); el.push(ep::TcpOptionElement::WindowScale(w)); }
        if sp { el.push(ep::TcpOptionElement::SelectiveAcknowledgementPermitted); }
        if let Some((a, b)) = ts { el.push(ep::TcpOptionElement::Timestamp(a, b)); }
        el.push(ep::TcpOptionElement::SelectiveAcknowledgement((1, 2), [Some((3, 4)), None, None]));
        let mut h = ep::TcpHeader::new(ports.0, ports.1, seq, window);
        h.acknowledgment_number = ack;
        h.urgent_pointer = urgent;
        set_ep_flags(&mut h, flags);
        h.options = ep::TcpOptions::try_from_elements(&el).unwrap();
        h.checksum = h.calc_checksum_ipv4_raw(src.octets(), dst.octets(), &payload).unwrap();
        let mut bytes = h.to_bytes().to_vec();
        bytes.extend_from_slice(&payload);
        let p = TcpPacket::new_checked(&bytes[..]).unwrap();
        let r = TcpRepr::parse(&p, src, dst).unwrap();
        prop_assert_eq!((r.src_port, r.dst_port, r.seq, r.ack), (ports.0, ports.1, seq, ack));
        prop_assert_eq!((r.flags, r.window, r.urgent), (TcpFlags(flags), window, urgent));
        prop_assert_eq!(r.payload, &payload[..]);
        prop_assert_eq!(r.options.mss, mss);
        prop_assert_eq!(r.options.window_scale, ws);
        prop_assert_eq!(r.options.sack_permitted, sp);
        prop_assert_eq!(r.options.timestamps, ts.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }));
        prop_assert_eq!(r.options.sack(), &[SackBlock { left: 1, right: 2 }, SackBlock { left: 3, right: 4 }][..]);
    }

    #[test]
    fn icmpv4_both_directions(kind in 0u8..4, a in any::<u16>(), b in any::<u16>(), code in 0u8..16,
        data in proptest::collection::vec(any::<u8>(), 0..100)) {
        let r = match kind {
            0 => Icmpv4Repr::EchoRequest { ident: a, seq_no: b, data: &data },
            1 => Icmpv4Repr::EchoReply { ident: a, seq_no: b, data: &data },
            2 => Icmpv4Repr::DstUnreachable { code, next_hop_mtu: if code == 4 { b } else { 0 }, quoted: &data },
            _ => Icmpv4Repr::TimeExceeded { code: code % 2, quoted: &data },
        };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf).unwrap();
        let s = ep::Icmpv4Slice::from_slice(&buf).unwrap();
        let t = s.icmp_type();
        let expected_type = match r {
            Icmpv4Repr::EchoRequest { .. } => ep::Icmpv4Type::EchoRequest(ep::IcmpEchoHeader { id: a, seq: b }),
            Icmpv4Repr::EchoReply { .. } => ep::Icmpv4Type::EchoReply(ep::IcmpEchoHeader { id: a, seq: b }),
            Icmpv4Repr::DstUnreachable { code, next_hop_mtu, .. } => ep::Icmpv4Type::DestinationUnreachable(
                ep::icmpv4::DestUnreachableHeader::from_values(code, next_hop_mtu).unwrap()),
            _ => ep::Icmpv4Type::TimeExceeded(ep::icmpv4::TimeExceededCode::from_u8(code % 2).unwrap()),
        };
        prop_assert_eq!(&t, &expected_type);
        prop_assert_eq!(s.payload(), &data[..]);
        prop_assert_eq!(s.checksum(), t.calc_checksum(&data));

        let h = ep::Icmpv4Header::with_checksum(expected_type, &data);
        let mut bytes = h.to_bytes().to_vec();
        bytes.extend_from_slice(&data);
        prop_assert_eq!(&bytes, &buf);
        let p = Icmpv4Packet::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(Icmpv4Repr::parse(&p).unwrap(), r);
    }
}

/// A whole frame built by etherparse's `PacketBuilder` climbs strata's
/// parsers; a whole frame built by strata is decoded by etherparse.
#[test]
fn full_frames_both_directions() {
    let (src_mac, dst_mac) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let (src, dst) = (Ipv4Addr::new(10, 1, 0, 1), Ipv4Addr::new(10, 1, 0, 2));
    let payload = b"GET / HTTP/1.1\r\n\r\n";
    let builder = ep::PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv4(src.octets(), dst.octets(), 64)
        .tcp(40000, 80, 1000, 512)
        .ack(77)
        .psh()
        .options(&[
            ep::TcpOptionElement::Noop,
            ep::TcpOptionElement::Noop,
            ep::TcpOptionElement::Timestamp(5, 6),
        ])
        .unwrap();
    let mut frame = Vec::new();
    builder.write(&mut frame, payload).unwrap();
    frame.resize(frame.len().max(60), 0); // Ethernet padding
    let f = EthernetFrame::new_checked(&frame[..]).unwrap();
    let eth = EthernetRepr::parse(&f).unwrap();
    assert_eq!(eth.ethertype, EtherType::IPV4);
    let p = Ipv4Packet::new_checked(f.payload()).unwrap();
    let ip = Ipv4Repr::parse(&p).unwrap();
    assert_eq!(
        (ip.src, ip.dst, ip.protocol, ip.ttl),
        (src, dst, IpProtocol::TCP, 64)
    );
    let t = TcpPacket::new_checked(p.payload()).unwrap();
    let tcp = TcpRepr::parse(&t, src, dst).unwrap();
    assert_eq!(tcp.flags, TcpFlags::ACK | TcpFlags::PSH);
    assert_eq!(
        tcp.options.timestamps,
        Some(Timestamps { tsval: 5, tsecr: 6 })
    );
    assert_eq!(tcp.payload, payload);

    // strata → etherparse, with the same values.
    let mut out = vec![0u8; 14 + 20 + tcp.buffer_len()];
    let n = eth.emit(&mut out).unwrap();
    let n2 = ip.emit(&mut out[n..]).unwrap();
    tcp.emit(&mut out[n + n2..], src, dst).unwrap();
    let h = ep::PacketHeaders::from_ethernet_slice(&out).unwrap();
    let Some(ep::NetHeaders::Ipv4(iph, _)) = h.net else {
        panic!("not IPv4")
    };
    assert_eq!(iph.header_checksum, iph.calc_header_checksum());
    let Some(ep::TransportHeader::Tcp(th)) = h.transport else {
        panic!("not TCP")
    };
    assert_eq!(
        th.checksum,
        th.calc_checksum_ipv4_raw(src.octets(), dst.octets(), payload)
            .unwrap()
    );
    assert_eq!(h.payload.slice(), payload);
}
