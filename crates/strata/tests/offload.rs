//! The offload path of the core (`DeviceCaps::offloads`): a stack whose
//! device cuts TCP super-segments (TSO/GSO) and completes checksums sends
//! super-segments with the right headers and partial checksums, which the
//! software device model (`phy::split_super_frame`,
//! `phy::complete_checksum`) turns into segments a plain stack accepts
//! byte for byte; on receive, a frame the device vouches for skips the
//! checksum check, and nothing else does.

use core::net::{Ipv4Addr, SocketAddrV4};
use strata::phy::{
    self, DeviceCaps, Offloads, PartialChecksum, RxChecksum, RxMeta, MAX_TSO_DATAGRAM,
};
use strata::stack::{Stack, StackConfig};
use strata::time::{Duration, Instant};
use strata::transport::tcp::TcpHandle;
use strata::wire::checksum;
use strata::wire::ip::Ipv4Cidr;
use strata::wire::ipv4::{IpProtocol, Ipv4Packet};
use strata::wire::tcp::TcpPacket;
use strata::wire::MacAddr;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn host(seed: u64, mac: u8, ip: Ipv4Addr) -> (Stack, strata::link::IfaceId) {
    let mut s = Stack::new(StackConfig {
        seed,
        ..StackConfig::default()
    });
    let i = s.add_interface(MacAddr([2, 0, 0, 0, 0, mac]), 1500);
    s.add_address(i, Ipv4Cidr::new(ip, 24).unwrap()).unwrap();
    (s, i)
}

fn tso_caps() -> DeviceCaps {
    DeviceCaps {
        mtu: 1500,
        offloads: Offloads {
            tso_max: Some(MAX_TSO_DATAGRAM),
            tx_checksum: true,
            rx_checksum: true,
        },
    }
}

fn data(n: usize) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

/// Checks one finished (plain) frame: IPv4 and TCP checksums verify, it
/// fits the MTU.
fn assert_finished(f: &[u8]) {
    assert!(f.len() <= 1514, "frame of {} bytes on a 1500 MTU", f.len());
    if f[12..14] != [0x08, 0x00] {
        return; // ARP
    }
    let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
    assert!(ip.verify_checksum(), "IPv4 header checksum");
    let t = TcpPacket::new_checked(ip.payload()).unwrap();
    assert!(t.verify_checksum(ip.src(), ip.dst()), "TCP checksum");
}

#[derive(Default)]
struct Seen {
    super_segments: usize,
    pieces: usize,
    partial_only: usize,
    largest: usize,
}

/// Moves A's frames (taken with their `TxMeta`) through the software device
/// to B, and B's (plain) frames to A marked as verified by the device.
fn pump(
    a: &mut Stack,
    ia: strata::link::IfaceId,
    b: &mut Stack,
    ib: strata::link::IfaceId,
    now: Instant,
    seen: &mut Seen,
) -> bool {
    let mut buf = vec![0u8; MAX_TSO_DATAGRAM + 14];
    let mut scratch = Vec::new();
    let mut moved = false;
    while let Some(t) = a.poll_transmit_meta(now, &mut buf) {
        moved = true;
        let frame = &mut buf[..t.len];
        seen.largest = seen.largest.max(t.len);
        if let Some(gso) = t.meta.gso {
            seen.super_segments += 1;
            check_super_segment(frame, &t.meta);
            let mut pieces: Vec<Vec<u8>> = Vec::new();
            phy::split_super_frame(frame, gso, &mut scratch, |f| pieces.push(f.to_vec())).unwrap();
            check_pieces(frame, usize::from(gso.size), &pieces);
            for p in &pieces {
                assert_finished(p);
                b.receive(now, ib, p);
            }
            seen.pieces += pieces.len();
        } else if let Some(c) = t.meta.checksum {
            seen.partial_only += 1;
            let mut expect = frame.to_vec();
            {
                // What a plain stack writes: the full checksum.
                let ip = Ipv4Packet::new_checked(&expect[14..]).unwrap();
                let (s, d, hl) = (ip.src(), ip.dst(), ip.header_len());
                let mut tcp = TcpPacket::new_unchecked(&mut expect[14 + hl..]);
                tcp.fill_checksum(s, d);
            }
            phy::complete_checksum(frame, c).unwrap();
            assert_eq!(
                &frame[..],
                &expect[..],
                "completed checksum differs from a full one"
            );
            assert_finished(frame);
            b.receive(now, ib, frame);
        } else {
            assert!(t.len <= 1514);
            b.receive(now, ib, frame);
        }
    }
    while let Some((_, n)) = b.poll_transmit(now, &mut buf) {
        moved = true;
        a.receive_meta(
            now,
            ia,
            &buf[..n],
            RxMeta {
                checksum: RxChecksum::Verified,
            },
        );
    }
    moved
}

/// The headers a TSO device needs: one IPv4 TCP datagram longer than the
/// MTU, DF set, the GSO header length covering Ethernet + IPv4 + TCP, and
/// the TCP checksum left as the pseudo-header sum.
fn check_super_segment(frame: &[u8], meta: &phy::TxMeta) {
    let gso = meta.gso.unwrap();
    let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    assert_eq!(usize::from(ip.total_len()), frame.len() - 14);
    assert!(frame.len() - 14 > 1500, "a super-segment exceeds the MTU");
    assert!(ip.dont_frag(), "DF on a super-segment");
    assert!(ip.verify_checksum());
    assert_eq!(ip.protocol(), IpProtocol::TCP);
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    let hdr = 14 + ip.header_len() + tcp.header_len();
    assert_eq!(usize::from(gso.hdr_len), hdr);
    // Payload per piece: the MSS less the options every piece repeats.
    assert_eq!(usize::from(gso.size), 1460 - (tcp.header_len() - 20));
    assert!(frame.len() - hdr > usize::from(gso.size));
    // Only the last piece may be short: whole MSS multiples, or the tail.
    let c = meta
        .checksum
        .expect("a super-segment's checksum is partial");
    assert_eq!(
        c,
        PartialChecksum {
            start: (14 + ip.header_len()) as u16,
            offset: 16
        }
    );
    let ph = checksum::pseudo_header(
        ip.src(),
        ip.dst(),
        IpProtocol::TCP,
        ip.payload().len() as u32,
    );
    assert_eq!(tcp.checksum(), ph, "the field holds the pseudo-header sum");
}

/// The pieces continue each other: sequence numbers, payload bytes, PSH
/// and FIN on the last one only.
fn check_pieces(frame: &[u8], size: usize, pieces: &[Vec<u8>]) {
    let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    let whole = tcp.payload();
    assert_eq!(pieces.len(), whole.len().div_ceil(size));
    let mut off = 0;
    for (i, p) in pieces.iter().enumerate() {
        let pip = Ipv4Packet::new_checked(&p[14..]).unwrap();
        let pt = TcpPacket::new_checked(pip.payload()).unwrap();
        assert_eq!(pt.seq(), tcp.seq().wrapping_add(off as u32));
        assert_eq!(pt.ack(), tcp.ack());
        assert_eq!(pt.options(), tcp.options(), "options repeat in each piece");
        assert_eq!(pt.payload(), &whole[off..off + pt.payload().len()]);
        let last = i + 1 == pieces.len();
        if !last {
            assert_eq!(pt.payload().len(), size);
            assert!(!pt.flags().psh() && !pt.flags().fin());
        } else {
            assert_eq!(pt.flags().psh(), tcp.flags().psh());
            assert_eq!(pt.flags().fin(), tcp.flags().fin());
        }
        off += pt.payload().len();
    }
    assert_eq!(off, whole.len());
}

/// The end of a round of a transfer from A to B's connection `s`: B's
/// application reads all it can into `got`, then 100 µs pass and the
/// timers due on either stack fire.
fn read_and_tick(
    a: &mut Stack,
    b: &mut Stack,
    s: TcpHandle,
    buf: &mut [u8],
    got: &mut Vec<u8>,
    now: &mut Instant,
) {
    while let Ok(n) = b.tcp_recv(s, buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    *now += Duration::from_micros(100);
    for st in [a, b] {
        if st.poll_timeout().is_some_and(|t| t <= *now) {
            st.handle_timeout(*now);
        }
    }
}

#[test]
fn super_segments_carry_the_right_headers_and_split_into_what_a_plain_peer_takes() {
    let (mut a, ia) = host(1, 1, A);
    let (mut b, ib) = host(2, 2, B);
    a.set_device_caps(ia, tso_caps());
    assert_eq!(a.device_caps(ia), Some(tso_caps()));
    let l = b.tcp_listen(Some(B), 80, 4).unwrap();
    let mut now = Instant::from_secs(1);
    let c = a.tcp_connect(now, SocketAddrV4::new(B, 80)).unwrap();
    let mut seen = Seen::default();
    for _ in 0..6 {
        pump(&mut a, ia, &mut b, ib, now, &mut seen);
    }
    let s = b.tcp_accept(l).unwrap();
    let total = 3 << 20;
    let body = data(total);
    let (mut sent, mut got) = (0, Vec::with_capacity(total));
    let mut buf = vec![0u8; 1 << 16];
    for _ in 0..200_000 {
        if got.len() >= total {
            break;
        }
        if sent < total {
            sent += a.tcp_send(c, &body[sent..]).unwrap_or(0);
            if sent == total {
                a.tcp_close(now, c).unwrap();
            }
        }
        pump(&mut a, ia, &mut b, ib, now, &mut seen);
        read_and_tick(&mut a, &mut b, s, &mut buf, &mut got, &mut now);
    }
    assert_eq!(got.len(), total, "the whole stream arrived");
    assert!(got == body, "the stream arrived byte for byte");
    assert!(
        seen.super_segments > 20,
        "super-segments were sent: {}",
        seen.super_segments
    );
    assert!(seen.largest > 30_000, "largest frame {}", seen.largest);
    assert!(seen.pieces > 2 * seen.super_segments);
    // Short segments (the handshake's ACK, the tail) carry a partial
    // checksum too, completed to the value a plain stack writes.
    assert!(seen.partial_only > 0);
    // B saw no bad checksum: every piece was finished right.
    assert_eq!(b.stats().tcp.bad_checksum, 0);
}

#[test]
fn the_plain_poll_finishes_offloaded_frames_in_software() {
    // A driver that takes no TxMeta still gets finished frames.
    let (mut a, ia) = host(3, 1, A);
    let (mut b, ib) = host(4, 2, B);
    a.set_device_caps(ia, tso_caps());
    let l = b.tcp_listen(Some(B), 80, 4).unwrap();
    let mut now = Instant::from_secs(1);
    let c = a.tcp_connect(now, SocketAddrV4::new(B, 80)).unwrap();
    let mut buf = vec![0u8; MAX_TSO_DATAGRAM + 14];
    let mut move_all = |a: &mut Stack, b: &mut Stack, now: Instant| {
        while let Some((_, n)) = a.poll_transmit(now, &mut buf) {
            assert_finished(&buf[..n]);
            b.receive(now, ib, &buf[..n]);
        }
        while let Some((_, n)) = b.poll_transmit(now, &mut buf) {
            a.receive(now, ia, &buf[..n]);
        }
    };
    for _ in 0..6 {
        move_all(&mut a, &mut b, now);
    }
    let s = b.tcp_accept(l).unwrap();
    let body = data(1 << 20);
    let (mut sent, mut got) = (0, Vec::new());
    let mut rbuf = vec![0u8; 1 << 16];
    for _ in 0..100_000 {
        if got.len() >= body.len() {
            break;
        }
        sent += a.tcp_send(c, &body[sent..]).unwrap_or(0);
        move_all(&mut a, &mut b, now);
        read_and_tick(&mut a, &mut b, s, &mut rbuf, &mut got, &mut now);
    }
    assert!(got == body, "the stream arrived byte for byte");
    assert_eq!(b.stats().tcp.bad_checksum, 0);
}

/// One data segment from A to B on an established connection, as a frame
/// whose TCP checksum field holds `field`.
fn established_pair() -> (
    Stack,
    Stack,
    strata::link::IfaceId,
    strata::transport::tcp::TcpHandle,
    strata::transport::tcp::TcpHandle,
    Instant,
) {
    let (mut a, ia) = host(5, 1, A);
    let (mut b, ib) = host(6, 2, B);
    let l = b.tcp_listen(Some(B), 80, 4).unwrap();
    let now = Instant::from_secs(1);
    let c = a.tcp_connect(now, SocketAddrV4::new(B, 80)).unwrap();
    let mut buf = vec![0u8; 2048];
    for _ in 0..6 {
        while let Some((_, n)) = a.poll_transmit(now, &mut buf) {
            b.receive(now, ib, &buf[..n]);
        }
        while let Some((_, n)) = b.poll_transmit(now, &mut buf) {
            a.receive(now, ia, &buf[..n]);
        }
    }
    let s = b.tcp_accept(l).unwrap();
    (a, b, ib, c, s, now)
}

fn one_segment(
    a: &mut Stack,
    c: strata::transport::tcp::TcpHandle,
    now: Instant,
    payload: &[u8],
) -> Vec<u8> {
    a.tcp_set_nodelay(c, true).unwrap();
    a.tcp_send(c, payload).unwrap();
    let mut buf = vec![0u8; 2048];
    let (_, n) = a.poll_transmit(now, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn set_tcp_checksum(frame: &mut [u8], v: u16) {
    let at = 14 + 20 + 16;
    frame[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

fn readable(b: &mut Stack, s: strata::transport::tcp::TcpHandle) -> usize {
    let mut buf = [0u8; 4096];
    b.tcp_recv(s, &mut buf).unwrap_or(0)
}

#[test]
fn a_frame_the_device_vouches_for_skips_the_check_and_nothing_else_does() {
    // Plain receive: a wrong checksum is dropped and counted.
    let (mut a, mut b, ib, c, s, now) = established_pair();
    let mut f = one_segment(&mut a, c, now, b"hello");
    set_tcp_checksum(&mut f, 0x1234);
    b.receive(now, ib, &f);
    assert_eq!(b.stats().tcp.bad_checksum, 1);
    assert_eq!(readable(&mut b, s), 0);
    // The same frame marked verified, but the interface does not offload:
    // the mark is ignored.
    let meta = RxMeta {
        checksum: RxChecksum::Verified,
    };
    b.receive_meta(now, ib, &f, meta);
    assert_eq!(b.stats().tcp.bad_checksum, 2);
    assert_eq!(readable(&mut b, s), 0);
    // With receive checksum offload the device's word is taken.
    b.set_device_caps(ib, tso_caps());
    b.receive_meta(now, ib, &f, meta);
    assert_eq!(b.stats().tcp.bad_checksum, 2);
    assert_eq!(readable(&mut b, s), 5, "the vouched-for segment is taken");
}

#[test]
fn a_partial_checksum_from_a_local_sender_is_taken_or_completed() {
    for offload in [false, true] {
        let (mut a, mut b, ib, c, s, now) = established_pair();
        if offload {
            b.set_device_caps(ib, tso_caps());
        }
        let mut f = one_segment(&mut a, c, now, b"partial!");
        // What a local sender leaves: the pseudo-header sum.
        let tcp_len = (f.len() - 34) as u32;
        let ph = checksum::pseudo_header(A, B, IpProtocol::TCP, tcp_len);
        set_tcp_checksum(&mut f, ph);
        // Unmarked, it fails the check.
        b.receive(now, ib, &f);
        assert_eq!(b.stats().tcp.bad_checksum, 1, "offload {offload}");
        let meta = RxMeta {
            checksum: RxChecksum::Partial(PartialChecksum {
                start: 34,
                offset: 16,
            }),
        };
        // Marked partial it is taken: trusted with receive offload,
        // completed (and then verified) without.
        b.receive_meta(now, ib, &f, meta);
        assert_eq!(b.stats().tcp.bad_checksum, 1, "offload {offload}");
        assert_eq!(readable(&mut b, s), 8, "offload {offload}");
    }
}

#[test]
fn a_device_without_tso_keeps_segments_within_the_mss() {
    // Checksum offload alone: frames carry a partial checksum but never
    // exceed the MTU.
    let (mut a, ia) = host(7, 1, A);
    let mut caps = tso_caps();
    caps.offloads.tso_max = None;
    a.set_device_caps(ia, caps);
    assert_eq!(a.tcp().segment_offload(), 0);
    a.set_device_caps(ia, tso_caps());
    assert!(a.tcp().segment_offload() > 60_000);
    // A second interface without TSO turns super-segments off.
    let i2 = a.add_interface(MacAddr([2, 0, 0, 0, 0, 9]), 1500);
    assert_eq!(a.tcp().segment_offload(), 0);
    a.set_device_caps(i2, tso_caps());
    assert!(a.tcp().segment_offload() > 60_000);
}

#[test]
fn the_splitter_refuses_what_is_not_a_tcp_super_segment() {
    let mut scratch = Vec::new();
    let gso = phy::Gso {
        size: 1000,
        hdr_len: 54,
    };
    let mut n = 0;
    for bad in [vec![], vec![0u8; 30], vec![0u8; 100]] {
        assert!(phy::split_super_frame(&bad, gso, &mut scratch, |_| n += 1).is_err());
    }
    assert_eq!(n, 0);
    let mut short = vec![0u8; 40];
    assert!(phy::complete_checksum(
        &mut short,
        PartialChecksum {
            start: 34,
            offset: 16
        }
    )
    .is_err());
}
