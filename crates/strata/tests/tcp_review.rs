//! Regression tests for the findings of the RFC review of `transport/tcp`
//! (issue 13): one `Tcp` engine against a scripted peer that crafts every
//! segment, as a hostile or simply non-strata stack would.
#![allow(clippy::field_reassign_with_default)]

mod tcp_pipe;

use std::net::{Ipv4Addr, SocketAddrV4};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{ListenerHandle, State, Tcp, TcpConfig, TcpEvent, TcpHandle};
use strata::wire::tcp::{SackBlock, TcpFlags, TcpOptions, Timestamps};
use tcp_pipe::Seg;

const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER_PORT: u16 = 5555;

/// Our engine listening on port 80; the test plays the peer.
struct Peer {
    tcp: Tcp,
    now: Instant,
    /// The peer's next sequence number.
    seq: u32,
    /// The peer's RCV.NXT (what it acknowledges).
    rcv_nxt: u32,
    handle: Option<TcpHandle>,
    /// Timestamps in use (peer offered them).
    ts: bool,
    tsval: u32,
    /// Last TSval the engine sent (echoed in TSecr).
    ts_recent: u32,
}

fn seg(flags: TcpFlags, seq: u32, ack: u32, payload: &[u8]) -> Seg {
    Seg {
        src: PEER,
        dst: US,
        src_port: PEER_PORT,
        dst_port: 80,
        seq,
        ack,
        flags,
        window: 65535,
        options: TcpOptions::default(),
        payload: payload.to_vec(),
    }
}

/// The byte at stream offset `i` of the test pattern.
fn pat(i: u64) -> u8 {
    (i % 251) as u8
}

fn pattern(from: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| pat(from + i)).collect()
}

impl Peer {
    fn new(cfg: TcpConfig) -> Self {
        let mut tcp = Tcp::new(cfg, 42);
        tcp.listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 16)
            .unwrap();
        Peer {
            tcp,
            now: Instant::from_secs(10),
            seq: 1000,
            rcv_nxt: 0,
            handle: None,
            ts: false,
            tsval: 500,
            ts_recent: 0,
        }
    }

    fn h(&self) -> TcpHandle {
        self.handle.unwrap()
    }

    fn input(&mut self, s: &Seg) {
        self.tcp.handle_segment(self.now, s.src, s.dst, &s.repr());
    }

    fn output(&mut self) -> Vec<Seg> {
        let mut v = Vec::new();
        while let Some(s) = self.tcp.poll_transmit(self.now, Seg::from_repr) {
            if let Some(ts) = s.options.timestamps {
                self.ts_recent = ts.tsval;
            }
            v.push(s);
        }
        v
    }

    /// Run timers up to `d` from now.
    fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        while let Some(t) = self.tcp.poll_timeout() {
            if t > until {
                break;
            }
            self.now = self.now.max(t);
            self.tcp.handle_timeout(self.now);
        }
        self.now = until;
    }

    /// A segment from the peer with its current SEQ/ACK (and timestamps).
    fn mk(&mut self, flags: TcpFlags, payload: &[u8]) -> Seg {
        let mut s = seg(flags, self.seq, self.rcv_nxt, payload);
        if self.ts {
            self.tsval += 1;
            s.options.timestamps = Some(Timestamps {
                tsval: self.tsval,
                tsecr: self.ts_recent,
            });
        }
        s
    }

    fn ack(&mut self, ack: u32) -> Seg {
        self.rcv_nxt = ack;
        self.mk(TcpFlags::ACK, &[])
    }

    /// Handshake as the client offering `opts`; returns the SYN-ACK.
    fn handshake(&mut self, opts: TcpOptions) -> Seg {
        let mut syn = seg(TcpFlags::SYN, self.seq, 0, &[]);
        syn.options = opts;
        self.ts = opts.timestamps.is_some();
        if let Some(t) = opts.timestamps {
            self.tsval = t.tsval;
        }
        self.input(&syn);
        let out = self.output();
        assert_eq!(out.len(), 1);
        let synack = out[0].clone();
        assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
        self.seq = self.seq.wrapping_add(1);
        let a = self.ack(synack.seq.wrapping_add(1));
        self.input(&a);
        let l = self.listener();
        self.handle = Some(self.tcp.accept(l).unwrap());
        synack
    }

    fn listener(&mut self) -> ListenerHandle {
        loop {
            match self.tcp.poll_event() {
                Some(TcpEvent::Acceptable { listener }) => return listener,
                Some(_) => continue,
                None => panic!("no acceptable event"),
            }
        }
    }
}

fn opts(mss: u16, sack: bool) -> TcpOptions {
    TcpOptions {
        mss: Some(mss),
        sack_permitted: sack,
        ..TcpOptions::default()
    }
}

/// A receiver that holds data in order only: accepts a segment starting
/// at its RCV.NXT, drops everything else, and ACKs every segment with no
/// SACK blocks. Returns the stream offset it has received up to.
fn in_order_receiver(p: &mut Peer, base: u32, out: &[Seg], upto: &mut u64) {
    for s in out.iter().filter(|s| !s.payload.is_empty()) {
        let off = u64::from(s.seq.wrapping_sub(base));
        let end = off + s.payload.len() as u64;
        if off <= *upto && *upto < end {
            assert_eq!(s.payload, pattern(off, s.payload.len()));
            *upto = end;
        }
        let a = p.ack(base.wrapping_add(*upto as u32));
        p.input(&a);
    }
}

/// Checks every data segment against the pattern stream that starts at
/// sequence number `base` (stream offset 0), then returns them.
fn check_stream(base: u32, out: &[Seg]) {
    for s in out.iter().filter(|s| !s.payload.is_empty()) {
        let off = u64::from(s.seq.wrapping_sub(base));
        let want = pattern(off, s.payload.len());
        assert!(
            s.payload == want,
            "segment seq={} (stream offset {off}) carries the wrong bytes: {:?}... instead of {:?}...",
            s.seq,
            &s.payload[..8.min(s.payload.len())],
            &want[..8.min(want.len())]
        );
    }
}

/// Finding (a): SND.UNA coming back round to ISS after 2^32 - 1 bytes must
/// not be taken for "our SYN is not yet acknowledged".
#[test]
fn ack_landing_on_iss_after_wrap_keeps_the_stream_aligned() {
    let mut p = Peer::new(TcpConfig::default());
    p.tcp.force_next_isn(0x1234_5678);
    let synack = p.handshake(opts(1000, false));
    let iss = synack.seq;
    let h = p.h();
    // Pretend 2^32 - 101 bytes went by: SND.UNA = ISS - 100.
    p.tcp.skip_acked_bytes(h, (1u64 << 32) - 101).unwrap();
    let base = iss.wrapping_sub(100);
    assert_eq!(p.tcp.info(h).unwrap().snd_una, base);
    let total = 30_000usize;
    let data = pattern(0, total);
    assert_eq!(p.tcp.send(h, &data).unwrap(), total);
    let out = p.output();
    assert!(!out.is_empty());
    check_stream(base, &out);
    let mut sent_hi = sent_end(base, &out, 0);
    // The first ACK lands exactly on ISS, the next ones one MSS further
    // each (within what was sent).
    let mut off = 100u64;
    let mut rounds = 0;
    loop {
        let a = p.ack(base.wrapping_add(off as u32));
        p.input(&a);
        let out = p.output();
        check_stream(base, &out);
        sent_hi = sent_end(base, &out, sent_hi);
        if off == total as u64 {
            break;
        }
        off = (off + 1000).min(sent_hi);
        rounds += 1;
        assert!(rounds < 200, "transfer does not finish");
    }
    assert_eq!(p.tcp.send_queue(h).unwrap(), 0);
    assert_eq!(
        p.tcp.info(h).unwrap().snd_una,
        base.wrapping_add(total as u32)
    );
}

/// Highest stream offset sent so far, given this batch of segments.
fn sent_end(base: u32, out: &[Seg], hi: u64) -> u64 {
    out.iter()
        .map(|s| u64::from(s.seq.wrapping_sub(base)) + s.payload.len() as u64)
        .fold(hi, u64::max)
}

/// Finding (b): a receiver that SACKs data and then discards it (RFC 2018
/// §8 reneging). After the retransmission timeout the segment at the left
/// window edge must be resent whether SACKed or not, and while data is
/// outstanding a timer must stay armed: the transfer completes.
#[test]
fn reneged_sack_data_is_resent_after_rto() {
    let mut p = Peer::new(TcpConfig::default());
    p.handshake(opts(1000, true));
    let h = p.h();
    let base = p.tcp.info(h).unwrap().snd_una;
    let total = 5000usize;
    p.tcp.send(h, &pattern(0, total)).unwrap();
    let out = p.output();
    assert_eq!(out.len(), 5);
    // The first segment is lost; the peer SACKs the other four ...
    let mut a = p.ack(base);
    a.options.sack_blocks[0] = SackBlock {
        left: base.wrapping_add(1000),
        right: base.wrapping_add(5000),
    };
    a.options.sack_len = 1;
    p.input(&a);
    let _ = p.output();
    assert_eq!(p.tcp.info(h).unwrap().sacked_bytes, 4000);
    // ... then reneges: it keeps in-order data only from now on.
    let mut upto = 0u64;
    for _ in 0..600 {
        if p.tcp.info(h).unwrap().snd_una == base.wrapping_add(total as u32) {
            break;
        }
        assert!(
            p.tcp.poll_timeout().is_some(),
            "data outstanding but no timer armed"
        );
        p.advance(Duration::from_millis(500));
        let out = p.output();
        in_order_receiver(&mut p, base, &out, &mut upto);
        let out = p.output();
        in_order_receiver(&mut p, base, &out, &mut upto);
    }
    assert_eq!(upto, total as u64, "the reneged data was never resent");
    assert_eq!(p.tcp.send_queue(h).unwrap(), 0);
    assert_eq!(p.tcp.state(h), State::Established);
}

/// Finding (b), second half: the scoreboard is pruned below SND.UNA by
/// every ACK, not only by ACKs that carry SACK blocks, so old ranges cannot
/// survive into the next trip round the sequence space.
#[test]
fn scoreboard_is_pruned_by_acks_without_sack_blocks() {
    let mut p = Peer::new(TcpConfig::default());
    p.handshake(opts(1000, true));
    let h = p.h();
    let base = p.tcp.info(h).unwrap().snd_una;
    p.tcp.send(h, &pattern(0, 3000)).unwrap();
    assert_eq!(p.output().len(), 3);
    let mut a = p.ack(base);
    a.options.sack_blocks[0] = SackBlock {
        left: base.wrapping_add(1000),
        right: base.wrapping_add(3000),
    };
    a.options.sack_len = 1;
    p.input(&a);
    assert_eq!(p.tcp.info(h).unwrap().sacked_bytes, 2000);
    // The hole is filled; the cumulative ACK covers everything and, the
    // receiver holding nothing out of order, carries no SACK block.
    let a = p.ack(base.wrapping_add(3000));
    p.input(&a);
    assert_eq!(p.tcp.info(h).unwrap().snd_una, base.wrapping_add(3000));
    assert_eq!(p.tcp.info(h).unwrap().sacked_bytes, 0);
}
