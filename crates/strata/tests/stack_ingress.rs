//! Whole-stack ingress: arbitrary and hostile frames never panic, and
//! hostile fragments stay within the reassembly memory cap.

use core::net::Ipv4Addr;
use proptest::prelude::*;
use strata::link::IfaceId;
use strata::net::frag::FragConfig;
use strata::stack::{Stack, StackConfig};
use strata::time::{Duration, Instant};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::ipv4::{IpProtocol, Ipv4Repr};
use strata::wire::MacAddr;

const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const PEER: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

fn host(frag: FragConfig) -> Stack {
    let mut s = Stack::new(StackConfig {
        seed: 9,
        frag,
        ..StackConfig::default()
    });
    let i = s.add_interface(MAC, 1500);
    s.add_address(i, Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap())
        .unwrap();
    let j = s.add_interface(MacAddr([2, 0, 0, 0, 1, 1]), 576);
    s.add_address(j, Ipv4Cidr::new(Ipv4Addr::new(10, 0, 1, 1), 24).unwrap())
        .unwrap();
    s.set_forwarding(true);
    s.udp_bind(None, 53).unwrap();
    s
}

fn drain(s: &mut Stack, now: Instant) -> usize {
    let mut buf = [0u8; 1600];
    let mut n = 0;
    while s.poll_transmit(now, &mut buf).is_some() {
        n += 1;
        assert!(n < 10_000);
    }
    while s.poll_event().is_some() {}
    n
}

/// An Ethernet + IPv4 frame around `payload` with the given fragment fields.
fn ip_frame(proto: u8, ident: u16, off: u16, mf: bool, payload: &[u8], src: [u8; 4]) -> Vec<u8> {
    let mut r = Ipv4Repr::new(
        Ipv4Addr::from(src),
        Ipv4Addr::new(10, 0, 0, 1),
        IpProtocol(proto),
        64,
        payload.len(),
    );
    r.ident = ident;
    r.frag_offset = off;
    r.more_frags = mf;
    let mut f = vec![0u8; 14 + r.buffer_len()];
    f[0..6].copy_from_slice(&MAC.0);
    f[6..12].copy_from_slice(&PEER.0);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let hl = r.emit(&mut f[14..]).unwrap();
    f[14 + hl..].copy_from_slice(payload);
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_frames_never_panic(frames in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..200), 1..20)) {
        let mut s = host(FragConfig::default());
        let mut now = Instant::ZERO;
        for mut f in frames {
            // Half the time make it look addressed to us and IPv4/ARP so
            // the upper layers see the garbage too.
            if f.len() >= 14 && f[0] & 1 == 0 {
                f[0..6].copy_from_slice(&MAC.0);
                f[12] = 0x08;
                f[13] = if f[13] & 1 == 0 { 0x00 } else { 0x06 };
            }
            s.receive(now, IfaceId(f.len() % 2), &f);
            drain(&mut s, now);
            now += Duration::from_millis(700);
            if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
                drain(&mut s, now);
            }
        }
    }

    #[test]
    fn mutated_valid_datagrams_never_panic(
        proto in prop_oneof![Just(1u8), Just(17u8), Just(6u8), any::<u8>()],
        payload in proptest::collection::vec(any::<u8>(), 0..120),
        flips in proptest::collection::vec((0usize..160, any::<u8>()), 0..6),
        off in 0u16..8192, mf in any::<bool>(),
    ) {
        let mut s = host(FragConfig::default());
        let mut f = ip_frame(proto, 1, off * 8, mf, &payload, [10, 0, 0, 2]);
        for (i, b) in flips {
            let n = f.len();
            if i + 14 < n { f[14 + i] ^= b; }
        }
        s.receive(Instant::ZERO, IfaceId(0), &f);
        drain(&mut s, Instant::ZERO);
        s.handle_timeout(Instant::from_secs(100));
        drain(&mut s, Instant::from_secs(100));
    }
}

#[test]
fn hostile_fragments_stay_within_the_memory_cap() {
    let cap = FragConfig {
        per_source_limit: 64 * 1024,
        global_limit: 256 * 1024,
        ..FragConfig::default()
    };
    let mut s = host(cap);
    let mut x: u64 = 12345;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..20_000u32 {
        let r = rnd();
        let src = [10, 0, 0, 2 + (r % 16) as u8];
        let off = if r % 16 == 0 {
            8190 - ((r >> 8) % 4) as u16
        } else {
            ((r >> 8) % 64) as u16
        };
        let len = 8 * (1 + (r >> 24) % 20) as usize;
        // Teardrop-style: overlapping offsets of the same few idents,
        // fragments running past 65535, and never a final fragment.
        let f = ip_frame(
            17,
            (r >> 40) as u16 % 64,
            off * 8,
            true,
            &vec![i as u8; len],
            src,
        );
        s.receive(Instant::from_millis(u64::from(i)), IfaceId(0), &f);
        drain(&mut s, Instant::ZERO);
        assert!(s.reassembly_memory() <= 256 * 1024);
    }
    let st = s.stats();
    assert_eq!(st.frag.reassembly.reassembled, 0);
    assert!(st.frag.reassembly.overlaps > 0, "{st:?}");
    assert!(st.frag.reassembly.oversize > 0, "{st:?}");
    assert!(
        st.frag.reassembly.memory_drops + st.frag.reassembly.evictions > 0,
        "{st:?}"
    );
    assert_eq!(
        st.ip.dropped.fragment,
        st.frag.reassembly.overlaps
            + st.frag.reassembly.oversize
            + st.frag.reassembly.inconsistent
            + st.frag.reassembly.memory_drops
            + st.frag.reassembly.discarded_fragments
    );
    // Timers clear what is left.
    s.handle_timeout(Instant::from_secs(100));
    drain(&mut s, Instant::from_secs(100));
    assert!(s.stats().frag.reassembly.timeouts > 0);
}

#[test]
fn teardrop_discards_the_rest_of_its_datagram_until_the_timeout() {
    let mut s = host(FragConfig::default());
    let h = s.udp_bind(None, 4000).unwrap();
    // Classic teardrop: second fragment starts inside the first and ends
    // before its end.
    let mut udp = [0u8; 48];
    udp[0..2].copy_from_slice(&1234u16.to_be_bytes());
    udp[2..4].copy_from_slice(&4000u16.to_be_bytes());
    udp[4..6].copy_from_slice(&48u16.to_be_bytes());
    // A UDP fragment of datagram 7 from 10.0.0.2: offset, more fragments.
    let frag = |s: &mut Stack, now: Instant, ident: u16, off: u16, more: bool, data: &[u8]| {
        s.receive(
            now,
            IfaceId(0),
            &ip_frame(17, ident, off, more, data, [10, 0, 0, 2]),
        )
    };
    let t0 = Instant::ZERO;
    frag(&mut s, t0, 7, 0, true, &udp[..40]);
    frag(&mut s, t0, 7, 16, false, &udp[16..20]);
    assert_eq!(s.stats().ip.dropped.fragment, 1);
    // RFC 5722 §4: the rest of datagram 7 is discarded too, even when it
    // would now complete a well-formed datagram.
    frag(&mut s, t0, 7, 0, true, &udp[..40]);
    frag(&mut s, t0, 7, 40, false, &udp[40..]);
    assert_eq!(s.udp_recv_from(h).unwrap(), None);
    assert_eq!(s.stats().frag.reassembly.discarded_fragments, 2);
    // Another datagram from the same source is unaffected (checksum 0 = none).
    frag(&mut s, t0, 8, 0, true, &udp[..40]);
    frag(&mut s, t0, 8, 40, false, &udp[40..]);
    let d = s.udp_recv_from(h).unwrap().expect("reassembled");
    assert_eq!(d.payload.len(), 40);
    // Once the discarded datagram's timer has run out, ident 7 is free again.
    let later = Instant::from_secs(31);
    s.handle_timeout(later);
    drain(&mut s, later);
    frag(&mut s, later, 7, 0, true, &udp[..40]);
    frag(&mut s, later, 7, 40, false, &udp[40..]);
    assert!(s.udp_recv_from(h).unwrap().is_some());
    assert_eq!(s.stats().frag.reassembly.reassembled, 2);
}

/// An ICMP message's bytes.
fn icmp_bytes(msg: &strata::wire::icmpv4::Icmpv4Repr<'_>) -> Vec<u8> {
    let mut v = vec![0; msg.buffer_len()];
    msg.emit(&mut v).unwrap();
    v
}

/// A well-formed frame (checksums right) of a chosen kind, so the fuzzing
/// reaches ICMP error matching, UDP demux, TCP and reassembly.
fn structured_frame(kind: u8, a: u16, b: u16, c: u32, body: &[u8], frag: (bool, u16)) -> Vec<u8> {
    use strata::wire::icmpv4::Icmpv4Repr;
    use strata::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
    use strata::wire::udp::UdpRepr;
    let src = Ipv4Addr::new(10, 0, 0, 2 + (a % 3) as u8);
    let dst = match b % 4 {
        0 => Ipv4Addr::new(10, 0, 0, 255),
        1 => Ipv4Addr::new(10, 0, 1, 9),
        _ => Ipv4Addr::new(10, 0, 0, 1),
    };
    let (proto, l4): (u8, Vec<u8>) = match kind % 4 {
        0 => {
            let r = UdpRepr {
                src_port: a,
                dst_port: if b.is_multiple_of(2) { 53 } else { b },
            };
            let mut v = vec![0; 8 + body.len()];
            r.emit(&mut v, src, dst, body).unwrap();
            (17, v)
        }
        1 => {
            // An ICMP error quoting a datagram "from us" (10.0.0.1).
            let mut quoted = ip_frame(
                if a.is_multiple_of(2) { 17 } else { 6 },
                a,
                0,
                false,
                body,
                [10, 0, 0, 1],
            )[14..]
                .to_vec();
            quoted[12..16].copy_from_slice(&[10, 0, 0, 1]);
            quoted[16..20].copy_from_slice(&src.octets());
            let msg = match b % 3 {
                0 => Icmpv4Repr::DstUnreachable {
                    code: (c % 16) as u8,
                    next_hop_mtu: (c >> 8) as u16,
                    quoted: &quoted,
                },
                1 => Icmpv4Repr::TimeExceeded {
                    code: (c % 2) as u8,
                    quoted: &quoted,
                },
                _ => Icmpv4Repr::EchoReply {
                    ident: a,
                    seq_no: b,
                    data: body,
                },
            };
            (1, icmp_bytes(&msg))
        }
        2 => {
            let msg = Icmpv4Repr::EchoRequest {
                ident: a,
                seq_no: b,
                data: body,
            };
            (1, icmp_bytes(&msg))
        }
        _ => {
            let r = TcpRepr {
                src_port: a.max(1),
                dst_port: if b.is_multiple_of(2) { 80 } else { b.max(1) },
                seq: c,
                ack: c.rotate_left(7),
                flags: TcpFlags((c >> 3) as u16 & 0x1ff),
                window: b,
                urgent: 0,
                options: TcpOptions::default(),
                payload: body,
            };
            let mut v = vec![0; r.buffer_len()];
            r.emit(&mut v, src, dst).unwrap();
            (6, v)
        }
    };
    let mut f = ip_frame(proto, a, frag.1 * 8, frag.0, &l4, src.octets());
    f[14 + 16..14 + 20].copy_from_slice(&dst.octets());
    // Recompute the IP checksum after changing the destination.
    f[14 + 10..14 + 12].copy_from_slice(&[0, 0]);
    let cs = strata::wire::checksum::checksum(&f[14..34]);
    f[14 + 10..14 + 12].copy_from_slice(&cs.to_be_bytes());
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn well_formed_hostile_traffic_never_panics_and_output_parses(
        frames in proptest::collection::vec(
            (any::<u8>(), any::<u16>(), any::<u16>(), any::<u32>(),
             proptest::collection::vec(any::<u8>(), 0..64),
             (any::<bool>(), prop_oneof![Just(0u16), 0u16..16])), 1..16)) {
        let mut s = host(FragConfig::default());
        s.tcp_listen(None, 80, 4).unwrap();
        let mut now = Instant::ZERO;
        let mut buf = [0u8; 1600];
        for (kind, a, b, c, body, frag) in frames {
            let f = structured_frame(kind, a, b, c, &body, frag);
            s.receive(now, IfaceId(0), &f);
            while let Some((_, n)) = s.poll_transmit(now, &mut buf) {
                let out = &buf[..n];
                prop_assert!(n >= 60);
                if out[12..14] == [0x08, 0x00] {
                    let p = strata::wire::ipv4::Ipv4Packet::new_checked(&out[14..]);
                    prop_assert!(p.is_ok());
                    prop_assert!(p.unwrap().verify_checksum());
                }
            }
            while s.poll_event().is_some() {}
            now += Duration::from_millis(300);
            if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
                drain(&mut s, now);
            }
        }
    }
}
