//! Property tests for the wire formats: emit → parse gives back the value,
//! and parsing arbitrary bytes never panics.

use std::net::Ipv4Addr;

use proptest::prelude::*;
use strata::wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use strata::wire::checksum;
use strata::wire::ethernet::{EtherType, EthernetFrame, EthernetRepr, VlanTag};
use strata::wire::icmpv4::{msg_type, unreachable, Icmpv4Packet, Icmpv4Repr, QuotedDatagram};
use strata::wire::ipv4::{IpProtocol, Ipv4Options, Ipv4Packet, Ipv4Repr};
use strata::wire::tcp::{SackBlock, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps};
use strata::wire::udp::{UdpPacket, UdpRepr};
use strata::wire::MacAddr;

fn mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

fn ip() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn vlan() -> impl Strategy<Value = Option<VlanTag>> {
    proptest::option::of(
        (0u8..8, any::<bool>(), 0u16..4096).prop_map(|(pcp, dei, vid)| VlanTag { pcp, dei, vid }),
    )
}

fn ethernet() -> impl Strategy<Value = EthernetRepr> {
    // Inner EtherType 0x8100 would be read as a second tag; exclude it.
    (
        mac(),
        mac(),
        any::<u16>().prop_filter("not a TPID", |t| *t != 0x8100),
        vlan(),
    )
        .prop_map(|(dst, src, t, vlan)| EthernetRepr {
            dst,
            src,
            ethertype: EtherType(t),
            vlan,
        })
}

fn arp() -> impl Strategy<Value = ArpRepr> {
    (any::<bool>(), mac(), ip(), mac(), ip()).prop_map(|(req, sm, si, tm, ti)| ArpRepr {
        operation: if req {
            ArpOperation::Request
        } else {
            ArpOperation::Reply
        },
        sender_mac: sm,
        sender_ip: si,
        target_mac: tm,
        target_ip: ti,
    })
}

fn ipv4() -> impl Strategy<Value = Ipv4Repr> {
    (
        (ip(), ip(), any::<u8>(), any::<u8>(), 0u8..64, 0u8..4),
        (
            any::<u16>(),
            any::<bool>(),
            any::<bool>(),
            0u16..8192,
            0usize..1500,
        ),
        (0usize..11).prop_flat_map(|w| proptest::collection::vec(any::<u8>(), w * 4)),
    )
        .prop_map(
            |((src, dst, proto, ttl, dscp, ecn), (ident, df, mf, off, plen), opts)| Ipv4Repr {
                src,
                dst,
                protocol: IpProtocol(proto),
                ttl,
                dscp,
                ecn,
                ident,
                dont_frag: df,
                more_frags: mf,
                frag_offset: off * 8,
                payload_len: plen,
                options: Ipv4Options::new(&opts).unwrap(),
            },
        )
}

fn tcp_options() -> impl Strategy<Value = TcpOptions> {
    (
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u8>()),
        any::<bool>(),
        proptest::option::of((any::<u32>(), any::<u32>())),
        proptest::collection::vec((any::<u32>(), any::<u32>()), 0..=4),
    )
        .prop_map(|(mss, ws, sp, ts, sack)| {
            let mut o = TcpOptions {
                mss,
                window_scale: ws,
                sack_permitted: sp,
                timestamps: ts.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
                ..TcpOptions::default()
            };
            for (i, (l, r)) in sack.iter().enumerate() {
                o.sack_blocks[i] = SackBlock {
                    left: *l,
                    right: *r,
                };
            }
            o.sack_len = sack.len() as u8;
            o
        })
}

/// The options as they come back: SACK blocks that do not fit the 40-byte
/// option space are dropped by emit.
fn expected_options(o: &TcpOptions) -> TcpOptions {
    let mut e = *o;
    let fixed = usize::from(o.mss.is_some()) * 4
        + if o.timestamps.is_some() {
            12
        } else {
            usize::from(o.sack_permitted) * 4
        }
        + usize::from(o.window_scale.is_some()) * 4;
    let fit = usize::from(o.sack_len).min((40 - fixed).saturating_sub(4) / 8);
    e.sack_len = fit as u8;
    for b in &mut e.sack_blocks[fit..] {
        *b = SackBlock::default();
    }
    e
}

proptest! {
    #[test]
    fn ethernet_roundtrip(r in ethernet(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut buf = vec![0u8; r.buffer_len(payload.len())];
        let h = r.emit(&mut buf).unwrap();
        prop_assert_eq!(h, r.header_len());
        buf[h..].copy_from_slice(&payload);
        let f = EthernetFrame::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(EthernetRepr::parse(&f).unwrap(), r);
        prop_assert_eq!(f.payload(), &payload[..]);
    }

    #[test]
    fn arp_roundtrip(r in arp()) {
        let mut buf = [0u8; 28];
        r.emit(&mut buf).unwrap();
        let p = ArpPacket::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(ArpRepr::parse(&p).unwrap(), r);
    }

    #[test]
    fn ipv4_roundtrip(r in ipv4(), pad in 0usize..20) {
        let mut buf = vec![0x5au8; r.buffer_len() + pad];
        let h = r.emit(&mut buf).unwrap();
        prop_assert_eq!(h, r.header_len());
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Ipv4Repr::parse(&p).unwrap(), r);
        prop_assert_eq!(p.payload().len(), r.payload_len);
        // Any single-bit flip in the header is caught (by checksum, version
        // or length checks).
        let bit = (r.src.to_bits() as usize) % (h * 8);
        buf[bit / 8] ^= 1 << (bit % 8);
        let bad = Ipv4Packet::new_checked(&buf[..]).and_then(|p| Ipv4Repr::parse(&p));
        prop_assert!(bad.is_err());
    }

    #[test]
    fn icmpv4_roundtrip(
        kind in 0u8..5,
        a in any::<u16>(),
        b in any::<u16>(),
        code in any::<u8>(),
        t in any::<u8>().prop_filter("not a typed message", |t| ![0, 3, 8, 11].contains(t)),
        data in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let r = match kind {
            0 => Icmpv4Repr::EchoRequest { ident: a, seq_no: b, data: &data },
            1 => Icmpv4Repr::EchoReply { ident: a, seq_no: b, data: &data },
            2 => Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: if code == unreachable::FRAG_NEEDED { b } else { 0 },
                quoted: &data,
            },
            3 => Icmpv4Repr::TimeExceeded { code, quoted: &data },
            _ => Icmpv4Repr::Other {
                msg_type: t,
                code,
                rest_of_header: [a as u8, (a >> 8) as u8, b as u8, 7],
                data: &data,
            },
        };
        let mut buf = vec![0u8; r.buffer_len()];
        prop_assert_eq!(r.emit(&mut buf).unwrap(), buf.len());
        prop_assert!(checksum::verifies(&buf));
        let p = Icmpv4Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Icmpv4Repr::parse(&p).unwrap(), r);
    }

    #[test]
    fn udp_roundtrip(
        sp in any::<u16>(), dp in any::<u16>(), src in ip(), dst in ip(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let r = UdpRepr { src_port: sp, dst_port: dp };
        let mut buf = vec![0u8; r.buffer_len(payload.len())];
        r.emit(&mut buf, src, dst, &payload).unwrap();
        prop_assert_ne!(&buf[6..8], &[0, 0]);
        let p = UdpPacket::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(UdpRepr::parse(&p, src, dst).unwrap(), r);
        prop_assert_eq!(p.payload(), &payload[..]);
        // The in-place variant writes the same bytes.
        let mut buf2 = vec![0u8; buf.len()];
        buf2[8..].copy_from_slice(&payload);
        r.emit_in_place(&mut buf2, src, dst, payload.len()).unwrap();
        prop_assert_eq!(buf, buf2);
    }

    #[test]
    fn tcp_roundtrip(
        ports in any::<(u16, u16)>(), seq in any::<u32>(), ack in any::<u32>(),
        flags in 0u16..0x200, window in any::<u16>(), urgent in any::<u16>(),
        options in tcp_options(), src in ip(), dst in ip(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let r = TcpRepr {
            src_port: ports.0, dst_port: ports.1, seq, ack,
            flags: TcpFlags(flags), window, urgent, options, payload: &payload,
        };
        prop_assert!(r.header_len() <= 60 && r.header_len() & 3 == 0);
        let mut buf = vec![0u8; r.buffer_len()];
        prop_assert_eq!(r.emit(&mut buf, src, dst).unwrap(), buf.len());
        let p = TcpPacket::new_checked(&buf[..]).unwrap();
        let parsed = TcpRepr::parse(&p, src, dst).unwrap();
        let mut expected = r;
        expected.options = expected_options(&options);
        prop_assert_eq!(parsed, expected);
        prop_assert_eq!(parsed.options.sack(), &options.sack()[..parsed.options.sack().len()]);
    }

    #[test]
    fn checksum_fast_equals_naive(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        prop_assert_eq!(checksum::sum(&data), checksum::naive(&data));
        let mut dst = vec![0u8; data.len()];
        prop_assert_eq!(checksum::copy_and_sum(&mut dst, &data), checksum::naive(&data));
        prop_assert_eq!(dst, data);
    }

    #[test]
    fn incremental_update_equals_recompute(
        mut data in proptest::collection::vec(any::<u8>(), 2..200).prop_map(|mut v| { v.truncate(v.len() & !1); v }),
        idx in any::<prop::sample::Index>(),
        new in any::<u16>(),
    ) {
        let c = checksum::checksum(&data);
        let i = idx.index(data.len() / 2) * 2;
        let old = u16::from_be_bytes([data[i], data[i + 1]]);
        data[i..i + 2].copy_from_slice(&new.to_be_bytes());
        let updated = checksum::update(c, old, new);
        // RFC 1624 §3: equal up to the two representations of zero.
        let recomputed = checksum::checksum(&data);
        prop_assert!(updated == recomputed || (updated | recomputed) == 0xffff && (updated & recomputed) == 0,
            "updated {:04x} recomputed {:04x}", updated, recomputed);
    }

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        parse_everything(&bytes);
    }

    #[test]
    fn tcp_options_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = TcpOptions::parse(&bytes);
    }
}

/// Runs every parser over `bytes` (as a frame, and as each layer's unit),
/// with checksums both as given and fixed up so the deeper code runs.
fn parse_everything(bytes: &[u8]) {
    let a = Ipv4Addr::new(10, 0, 0, 1);
    let b = Ipv4Addr::new(10, 0, 0, 2);
    if let Ok(f) = EthernetFrame::new_checked(bytes) {
        let _ = EthernetRepr::parse(&f).map(|r| r.to_string());
        let _ = f.payload();
    }
    if let Ok(p) = ArpPacket::new_checked(bytes) {
        let _ = ArpRepr::parse(&p).map(|r| r.to_string());
    }
    if let Ok(p) = Ipv4Packet::new_checked(bytes) {
        let _ = Ipv4Repr::parse(&p).map(|r| r.to_string());
        let _ = p.payload();
        let mut v = bytes.to_vec();
        let mut q = Ipv4Packet::new_unchecked(&mut v[..]);
        q.fill_checksum();
        let p = Ipv4Packet::new_checked(&v[..]).unwrap();
        let _ = Ipv4Repr::parse(&p);
    }
    if let Ok(p) = Icmpv4Packet::new_checked(bytes) {
        let _ = Icmpv4Repr::parse(&p).map(|r| r.to_string());
        let mut v = bytes.to_vec();
        v[2..4].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&v);
        v[2..4].copy_from_slice(&c.to_be_bytes());
        let p = Icmpv4Packet::new_checked(&v[..]).unwrap();
        let r = Icmpv4Repr::parse(&p).expect("checksum was fixed");
        let _ = r.to_string();
        if v[0] == msg_type::DST_UNREACHABLE || v[0] == msg_type::TIME_EXCEEDED {
            let _ =
                QuotedDatagram::parse(r.data()).map(|q| (q.src_port(), q.dst_port(), q.tcp_seq()));
        }
    }
    if let Ok(p) = UdpPacket::new_checked(bytes) {
        let _ = UdpRepr::parse(&p, a, b).map(|r| r.to_string());
    }
    if let Ok(p) = TcpPacket::new_checked(bytes) {
        let _ = TcpRepr::parse(&p, a, b).map(|r| r.to_string());
        let mut v = bytes.to_vec();
        TcpPacket::new_unchecked(&mut v[..]).fill_checksum(a, b);
        let p = TcpPacket::new_checked(&v[..]).unwrap();
        match TcpRepr::parse(&p, a, b) {
            Ok(r) => {
                let _ = r.to_string();
            }
            Err(e) => assert_eq!(e, strata::wire::Error::BadOption),
        }
    }
}

#[test]
fn parsers_never_panic_on_short_and_edge_buffers() {
    for len in 0..80 {
        for fill in [0x00u8, 0xff, 0x45, 0x81, 0x5f] {
            let mut v = vec![fill; len];
            if len > 13 {
                v[12] = 0x81;
                v[13] = 0x00;
            }
            parse_everything(&v);
        }
    }
}
