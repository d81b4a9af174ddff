//! A scripted host for tests and demos, and hand-built frames.
//!
//! [`ScriptedHost`] runs no stack: it sends the raw frames it was given at
//! the virtual times it was given, records everything it receives, and can
//! optionally answer ARP requests for one IPv4 address so a LAN demo shows a
//! request/reply exchange.

use std::collections::VecDeque;

use strata::time::Instant;
use strata::wire::{Ipv4Addr, MacAddr};

use crate::node::Node;

/// Builds raw frames byte by byte (Ethernet II, ARP for Ethernet/IPv4).
pub mod frames {
    use super::{Ipv4Addr, MacAddr};

    /// EtherType of IPv4.
    pub const ETHERTYPE_IPV4: u16 = 0x0800;
    /// EtherType of ARP.
    pub const ETHERTYPE_ARP: u16 = 0x0806;
    /// ARP operation: request.
    pub const ARP_REQUEST: u16 = 1;
    /// ARP operation: reply.
    pub const ARP_REPLY: u16 = 2;

    /// An Ethernet II frame: destination, source, EtherType, payload.
    pub fn ethernet(dst: MacAddr, src: MacAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(14 + payload.len());
        f.extend_from_slice(&dst.0);
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// An ARP packet for Ethernet/IPv4 inside an Ethernet frame
    /// (RFC 826 packet format: htype 1, ptype 0x0800, hlen 6, plen 4).
    pub fn arp(
        eth_dst: MacAddr,
        op: u16,
        sender_mac: MacAddr,
        sender_ip: Ipv4Addr,
        target_mac: MacAddr,
        target_ip: Ipv4Addr,
    ) -> Vec<u8> {
        let mut p = Vec::with_capacity(28);
        p.extend_from_slice(&1u16.to_be_bytes()); // hardware type: Ethernet
        p.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes()); // protocol type: IPv4
        p.push(6); // hardware address length
        p.push(4); // protocol address length
        p.extend_from_slice(&op.to_be_bytes());
        p.extend_from_slice(&sender_mac.0);
        p.extend_from_slice(&sender_ip.octets());
        p.extend_from_slice(&target_mac.0);
        p.extend_from_slice(&target_ip.octets());
        ethernet(eth_dst, sender_mac, ETHERTYPE_ARP, &p)
    }

    /// "Who has `target_ip`? Tell `sender_ip`", broadcast.
    pub fn arp_request(sender_mac: MacAddr, sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
        arp(
            MacAddr::BROADCAST,
            ARP_REQUEST,
            sender_mac,
            sender_ip,
            MacAddr::UNSPECIFIED,
            target_ip,
        )
    }

    /// "`sender_ip` is at `sender_mac`", unicast to the asker.
    pub fn arp_reply(
        sender_mac: MacAddr,
        sender_ip: Ipv4Addr,
        target_mac: MacAddr,
        target_ip: Ipv4Addr,
    ) -> Vec<u8> {
        arp(
            target_mac, ARP_REPLY, sender_mac, sender_ip, target_mac, target_ip,
        )
    }

    /// The fields of an Ethernet/IPv4 ARP frame.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ArpFields {
        /// Operation (1 request, 2 reply).
        pub op: u16,
        /// Sender hardware address.
        pub sender_mac: MacAddr,
        /// Sender protocol address.
        pub sender_ip: Ipv4Addr,
        /// Target hardware address.
        pub target_mac: MacAddr,
        /// Target protocol address.
        pub target_ip: Ipv4Addr,
    }

    /// Reads an Ethernet/IPv4 ARP frame; `None` for anything else or short input.
    pub fn parse_arp(frame: &[u8]) -> Option<ArpFields> {
        let p = frame.get(14..42)?;
        if frame[12..14] != ETHERTYPE_ARP.to_be_bytes()
            || p[0..2] != [0, 1]
            || p[2..4] != ETHERTYPE_IPV4.to_be_bytes()
            || p[4] != 6
            || p[5] != 4
        {
            return None;
        }
        let mac = |s: &[u8]| MacAddr([s[0], s[1], s[2], s[3], s[4], s[5]]);
        let ip = |s: &[u8]| Ipv4Addr::new(s[0], s[1], s[2], s[3]);
        Some(ArpFields {
            op: u16::from_be_bytes([p[6], p[7]]),
            sender_mac: mac(&p[8..14]),
            sender_ip: ip(&p[14..18]),
            target_mac: mac(&p[18..24]),
            target_ip: ip(&p[24..28]),
        })
    }
}

/// A frame a [`ScriptedHost`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    /// On which port.
    pub port: usize,
    /// The bytes.
    pub frame: Vec<u8>,
}

/// A host that sends given frames at given times and records what it receives.
#[derive(Debug, Clone)]
pub struct ScriptedHost {
    name: String,
    mac: MacAddr,
    /// Frames to send: (time, port, frame), sorted by time, stable.
    script: VecDeque<(Instant, usize, Vec<u8>)>,
    out: VecDeque<(usize, Vec<u8>)>,
    received: Vec<Received>,
    arp_ip: Option<Ipv4Addr>,
    arp_replies: u64,
    sent: u64,
}

impl ScriptedHost {
    /// A host with one MAC address and an empty script.
    pub fn new(name: impl Into<String>, mac: MacAddr) -> Self {
        ScriptedHost {
            name: name.into(),
            mac,
            script: VecDeque::new(),
            out: VecDeque::new(),
            received: Vec::new(),
            arp_ip: None,
            arp_replies: 0,
            sent: 0,
        }
    }

    /// Adds a frame to send on port 0 at `at` (builder style).
    pub fn send_at(mut self, at: Instant, frame: Vec<u8>) -> Self {
        self.schedule(at, 0, frame);
        self
    }

    /// Answers ARP requests for `ip` with this host's MAC (builder style).
    pub fn with_arp_responder(mut self, ip: Ipv4Addr) -> Self {
        self.arp_ip = Some(ip);
        self
    }

    /// Schedules `frame` on `port` at `at`; frames for the same instant go
    /// out in the order they were scheduled.
    pub fn schedule(&mut self, at: Instant, port: usize, frame: Vec<u8>) {
        let i = self.script.partition_point(|(t, _, _)| *t <= at);
        self.script.insert(i, (at, port, frame));
    }

    /// Queues `frame` on port 0 to go out at once (used with
    /// [`Sim::with_node`](crate::Sim::with_node), which then drains it).
    pub fn send_now(&mut self, frame: Vec<u8>) {
        self.out.push_back((0, frame));
    }

    /// This host's MAC address.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Everything received so far, in arrival order.
    pub fn received(&self) -> &[Received] {
        &self.received
    }

    /// Frames received whose destination is this host, broadcast or multicast.
    pub fn received_for_me(&self) -> impl Iterator<Item = &Received> {
        let mac = self.mac;
        self.received.iter().filter(move |r| {
            r.frame.len() >= 6 && {
                let d = MacAddr([
                    r.frame[0], r.frame[1], r.frame[2], r.frame[3], r.frame[4], r.frame[5],
                ]);
                d == mac || d.is_multicast()
            }
        })
    }

    /// Takes the received frames, leaving the record empty.
    pub fn take_received(&mut self) -> Vec<Received> {
        core::mem::take(&mut self.received)
    }

    /// Frames sent so far.
    pub fn frames_sent(&self) -> u64 {
        self.sent
    }

    /// ARP replies sent by the responder.
    pub fn arp_replies(&self) -> u64 {
        self.arp_replies
    }

    /// Frames still waiting in the script.
    pub fn pending(&self) -> usize {
        self.script.len()
    }
}

impl Node for ScriptedHost {
    fn receive(&mut self, now: Instant, port: usize, frame: &[u8]) {
        self.received.push(Received {
            at: now,
            port,
            frame: frame.to_vec(),
        });
        if let (Some(ip), Some(a)) = (self.arp_ip, frames::parse_arp(frame)) {
            // RFC 826: answer a request whose target protocol address is ours.
            if a.op == frames::ARP_REQUEST && a.target_ip == ip {
                let reply = frames::arp_reply(self.mac, ip, a.sender_mac, a.sender_ip);
                self.out.push_back((port, reply));
                self.arp_replies += 1;
            }
        }
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<(usize, Vec<u8>)> {
        let f = self.out.pop_front()?;
        self.sent += 1;
        Some(f)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.script.front().map(|(t, _, _)| *t)
    }

    fn handle_timeout(&mut self, now: Instant) {
        while self.script.front().is_some_and(|(t, _, _)| *t <= now) {
            if let Some((_, port, frame)) = self.script.pop_front() {
                self.out.push_back((port, frame));
            }
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata::wire::arp::{ArpOperation, ArpPacket, ArpRepr};

    // Differential check against the stack's own ARP codec (strata::wire::arp).
    #[test]
    fn hand_built_arp_matches_the_wire_codec() {
        let (m1, m2) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
        let (i1, i2) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        for (frame, repr) in [
            (
                frames::arp_request(m1, i1, i2),
                ArpRepr {
                    operation: ArpOperation::Request,
                    sender_mac: m1,
                    sender_ip: i1,
                    target_mac: MacAddr::UNSPECIFIED,
                    target_ip: i2,
                },
            ),
            (
                frames::arp_reply(m2, i2, m1, i1),
                ArpRepr {
                    operation: ArpOperation::Reply,
                    sender_mac: m2,
                    sender_ip: i2,
                    target_mac: m1,
                    target_ip: i1,
                },
            ),
        ] {
            let mut body = [0u8; 28];
            repr.emit(&mut body).unwrap();
            assert_eq!(&frame[14..], &body);
            let parsed = ArpRepr::parse(&ArpPacket::new_checked(&frame[14..]).unwrap()).unwrap();
            assert_eq!(parsed, repr);
            let mine = frames::parse_arp(&frame).unwrap();
            assert_eq!(
                (
                    mine.op,
                    mine.sender_mac,
                    mine.sender_ip,
                    mine.target_mac,
                    mine.target_ip
                ),
                (
                    repr.operation.code(),
                    repr.sender_mac,
                    repr.sender_ip,
                    repr.target_mac,
                    repr.target_ip
                )
            );
        }
        assert!(frames::parse_arp(&frames::arp_request(m1, i1, i2)[..41]).is_none());
    }

    #[test]
    fn script_is_stable_for_equal_times_and_responder_answers_only_its_ip() {
        let mut h = ScriptedHost::new("h", MacAddr([2, 0, 0, 0, 0, 9]))
            .with_arp_responder(Ipv4Addr::new(10, 0, 0, 9));
        h.schedule(Instant::from_millis(5), 0, vec![2]);
        h.schedule(Instant::from_millis(1), 0, vec![1]);
        h.schedule(Instant::from_millis(5), 0, vec![3]);
        assert_eq!(h.poll_timeout(), Some(Instant::from_millis(1)));
        h.handle_timeout(Instant::from_millis(5));
        let sent: Vec<Vec<u8>> = core::iter::from_fn(|| h.poll_transmit(Instant::ZERO))
            .map(|(_, f)| f)
            .collect();
        assert_eq!(sent, vec![vec![1], vec![2], vec![3]]);
        assert_eq!(h.poll_timeout(), None);

        let asker = MacAddr([2, 0, 0, 0, 0, 1]);
        h.receive(
            Instant::ZERO,
            0,
            &frames::arp_request(
                asker,
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(10, 0, 0, 8),
            ),
        );
        assert!(h.poll_transmit(Instant::ZERO).is_none());
        h.receive(
            Instant::ZERO,
            0,
            &frames::arp_request(
                asker,
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(10, 0, 0, 9),
            ),
        );
        let (_, reply) = h.poll_transmit(Instant::ZERO).unwrap();
        assert_eq!(&reply[..6], &asker.0);
        assert_eq!(h.arp_replies(), 1);
        assert_eq!(h.received().len(), 2);
    }
}
