//! TCP with live state: host A connects to host B's listener and they
//! exchange data; then the fuzzer's bytes become TCP segments from A's
//! address and port to B — flags, sequence and acknowledgment numbers near
//! the connection's real ones (so they land in and around the window),
//! window, options and payload — interleaved with the real traffic, plus
//! segments from other ports to the listener. Nothing may panic, B must
//! never send without end, and every frame B sends must parse with a valid
//! IPv4 checksum. (Injected in-window data is accepted, as TCP must: RFC
//! 5961 narrows what blind attackers can do, it cannot tell them apart.)
#![no_main]

use std::net::{Ipv4Addr, SocketAddrV4};

use libfuzzer_sys::fuzz_target;
use strata::link::IfaceId;
use strata::stack::{Stack, StackConfig};
use strata::time::Instant;
use strata::transport::tcp::TcpHandle;
use strata::wire::ethernet::{EtherType, EthernetFrame, EthernetRepr};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use strata::wire::tcp::{SackBlock, TcpFlags, TcpOptions, TcpRepr, Timestamps};
use strata::wire::MacAddr;

const MAC_A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const MAC_B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn host(mac: MacAddr, ip: Ipv4Addr, seed: u64) -> Stack {
    let mut s = Stack::new(StackConfig { seed, ..StackConfig::default() });
    let i = s.add_interface(mac, 1500);
    s.add_address(i, Ipv4Cidr::new(ip, 24).unwrap()).unwrap();
    s
}

/// Moves every frame between the two hosts until both are quiet; checks
/// what B emits. Returns the frames B sent.
fn pump(a: &mut Stack, b: &mut Stack, now: Instant) -> usize {
    let mut buf = [0u8; 2048];
    let mut from_b = 0;
    for _ in 0..64 {
        let mut moved = false;
        for t in [a.poll_timeout(), b.poll_timeout()].into_iter().flatten() {
            if t <= now {
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
        }
        while let Some((_, n)) = a.poll_transmit(now, &mut buf) {
            b.receive(now, IfaceId(0), &buf[..n]);
            moved = true;
        }
        while let Some((_, n)) = b.poll_transmit(now, &mut buf) {
            let f = EthernetFrame::new_checked(&buf[..n]).expect("B emits valid Ethernet");
            if f.ethertype() == EtherType::IPV4 {
                let p = Ipv4Packet::new_checked(f.payload()).expect("B emits valid IPv4");
                assert!(p.verify_checksum());
            }
            a.receive(now, IfaceId(0), &buf[..n]);
            from_b += 1;
            moved = true;
            assert!(from_b < 100_000, "B never stops sending");
        }
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
    from_b
}

struct Bytes<'a>(&'a [u8]);
impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let (v, r) = self.0.split_first().map_or((0, &[][..]), |(v, r)| (*v, r));
        self.0 = r;
        v
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

/// A crafted segment from A's 4-tuple (or a fresh port) to B.
fn inject(b: &mut Stack, now: Instant, a_port: u16, snd_nxt: u32, rcv_nxt: u32, input: &mut Bytes) {
    let kind = input.u8();
    let flags = TcpFlags(u16::from(input.u8()) | (u16::from(kind & 1) << 8));
    // Sequence and ack numbers near the real ones, or anywhere.
    let seq = if kind & 2 == 0 { snd_nxt.wrapping_add(i32::from(input.u16() as i16) as u32) } else { input.u32() };
    let ack = if kind & 4 == 0 { rcv_nxt.wrapping_add(i32::from(input.u16() as i16) as u32) } else { input.u32() };
    let src_port = if kind & 8 == 0 { a_port } else { input.u16() };
    let mut options = TcpOptions::default();
    if kind & 16 != 0 {
        options.mss = Some(input.u16());
        options.window_scale = Some(input.u8());
        options.sack_permitted = true;
    }
    if kind & 32 != 0 {
        options.timestamps = Some(Timestamps { tsval: input.u32(), tsecr: input.u32() });
    }
    if kind & 64 != 0 {
        let n = (input.u8() % 4) + 1;
        for k in 0..usize::from(n) {
            options.sack_blocks[k] = SackBlock { left: rcv_nxt.wrapping_add(input.u16().into()), right: rcv_nxt.wrapping_add(input.u32() % 70_000) };
        }
        options.sack_len = n;
    }
    let plen = usize::from(input.u16() % 1400);
    let payload: Vec<u8> = (0..plen).map(|i| i as u8 ^ kind).collect();
    let seg = TcpRepr {
        src_port,
        dst_port: 80,
        seq,
        ack,
        flags,
        window: input.u16(),
        urgent: input.u16(),
        options,
        payload: &payload,
    };
    let ip = Ipv4Repr::new(IP_A, IP_B, IpProtocol::TCP, 64, seg.buffer_len());
    let eth = EthernetRepr { dst: MAC_B, src: MAC_A, ethertype: EtherType::IPV4, vlan: None };
    let mut frame = vec![0u8; 14 + ip.buffer_len()];
    eth.emit(&mut frame).unwrap();
    let hl = ip.emit(&mut frame[14..]).unwrap();
    if seg.emit(&mut frame[14 + hl..], IP_A, IP_B).is_ok() {
        b.receive(now, IfaceId(0), &frame);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut a = host(MAC_A, IP_A, 1);
    let mut b = host(MAC_B, IP_B, 2);
    let listener = b.tcp_listen(None, 80, 8).unwrap();
    let mut now = Instant::from_millis(1);
    let c: TcpHandle = a.tcp_connect(now, SocketAddrV4::new(IP_B, 80)).unwrap();
    pump(&mut a, &mut b, now);
    let Ok(s) = b.tcp_accept(listener) else { return };
    let a_port = a.tcp().local_addr(c).unwrap().port();
    let mut sent: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    let mut input = Bytes(data);
    while !input.0.is_empty() {
        now = Instant::from_millis(now.as_millis() + u64::from(input.u8()) * 10);
        // Real traffic: A writes a little, B reads.
        let chunk: Vec<u8> = (0..usize::from(input.u8()) * 8).map(|i| (sent.len() + i) as u8).collect();
        if let Ok(n) = a.tcp_send(c, &chunk) {
            sent.extend_from_slice(&chunk[..n]);
        }
        pump(&mut a, &mut b, now);
        // The hostile segment, relative to the connection's real numbers:
        // A's next sequence number is B's RCV.NXT and vice versa.
        let (a_nxt, b_nxt) = b
            .tcp()
            .info(s)
            .map(|i| (i.rcv_nxt, i.snd_nxt))
            .unwrap_or((0, 0));
        inject(&mut b, now, a_port, a_nxt, b_nxt, &mut input);
        pump(&mut a, &mut b, now);
        while let Ok(n) = b.tcp_recv(s, &mut buf) {
            if n == 0 {
                break;
            }
        }
        while let Ok(h) = b.tcp_accept(listener) {
            let _ = b.tcp_abort(now, h);
        }
    }
});
