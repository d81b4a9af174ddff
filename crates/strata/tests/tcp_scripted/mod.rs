//! One `Tcp` engine listening on port 80, and a peer that the test plays
//! by hand, crafting every segment: what the segment-level suites
//! (`tcp_behaviour`, `tcp_rfc9293`, `tcp_review`) share. Each suite keeps
//! its own view of the peer's sequence numbers in a struct that gives
//! [`Scripted`] its engine and clock.
#![allow(dead_code, missing_docs)]

use std::net::{Ipv4Addr, SocketAddrV4};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{ListenerHandle, Tcp, TcpConfig, TcpEvent, TcpHandle};
use strata::wire::tcp::{TcpFlags, TcpOptions};

use super::tcp_pipe::Seg;

/// The engine's address.
pub const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The scripted peer's address.
pub const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The scripted peer's port.
pub const PEER_PORT: u16 = 5555;
/// The virtual time a test starts at.
pub const START: Instant = Instant::from_secs(10);

/// A segment from the peer to port 80: window 65 535, no options.
pub fn seg(flags: TcpFlags, seq: u32, ack: u32, payload: &[u8]) -> Seg {
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

/// An engine (seed 42) listening on port 80 of any address, backlog 16.
pub fn listening(cfg: TcpConfig) -> (Tcp, ListenerHandle) {
    let mut tcp = Tcp::new(cfg, 42);
    let l = tcp
        .listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 16)
        .unwrap();
    (tcp, l)
}

/// One engine listening on port 80, and the peer's side of one connection
/// kept by hand. Each suite adds its own handshakes and segment makers
/// (`impl Raw` in the suite).
pub struct Raw {
    pub tcp: Tcp,
    pub now: Instant,
    /// The peer's next sequence number.
    pub peer_seq: u32,
    /// Our next sequence number, as the peer acknowledges it.
    pub our_seq: u32,
    /// The accepted connection.
    pub handle: Option<TcpHandle>,
    /// The peer's timestamp clock.
    pub tsval: u32,
}

impl Raw {
    /// A fresh engine listening on port 80; the peer starts at sequence
    /// number 1000 and TSval 500.
    pub fn new(cfg: TcpConfig) -> Self {
        Raw {
            tcp: listening(cfg).0,
            now: START,
            peer_seq: 1000,
            our_seq: 0,
            handle: None,
            tsval: 500,
        }
    }

    /// The accepted connection (after a handshake).
    pub fn h(&self) -> TcpHandle {
        self.handle.unwrap()
    }
}

impl Scripted for Raw {
    fn engine(&mut self) -> (&mut Tcp, &mut Instant) {
        (&mut self.tcp, &mut self.now)
    }
}

/// Driving the engine by hand: segments in, segments out, time forward.
pub trait Scripted {
    /// The engine and the test's clock.
    fn engine(&mut self) -> (&mut Tcp, &mut Instant);

    /// Hands the engine one segment from the peer.
    fn input(&mut self, s: &Seg) {
        let (tcp, now) = self.engine();
        tcp.handle_segment(*now, s.src, s.dst, &s.repr());
    }

    /// Every segment the engine sends now.
    fn output(&mut self) -> Vec<Seg> {
        let (tcp, now) = self.engine();
        let now = *now;
        let mut v = Vec::new();
        while let Some(s) = tcp.poll_transmit(now, Seg::from_repr) {
            v.push(s);
        }
        v
    }

    /// Runs the engine's timers up to `d` from now.
    fn advance(&mut self, d: Duration) {
        let (tcp, now) = self.engine();
        let until = *now + d;
        while let Some(t) = tcp.poll_timeout() {
            if t > until {
                break;
            }
            *now = (*now).max(t);
            tcp.handle_timeout(*now);
        }
        *now = until;
    }

    /// The listener with a connection to accept (its `Acceptable` event).
    fn listener(&mut self) -> ListenerHandle {
        let (tcp, _) = self.engine();
        loop {
            match tcp.poll_event() {
                Some(TcpEvent::Acceptable { listener }) => return listener,
                Some(_) => continue,
                None => panic!("no acceptable event"),
            }
        }
    }
}
