//! ARP on the packet path: requests and replies in (RFC 826), requests,
//! replies and announcements out, the cache's timers, and RFC 5227 address
//! probing and defence. The cache itself is [`super::arp`].

use super::arp::ArpAction;
use super::ethernet::TxFrame;
use super::probe::ProbeAction;
use super::IfaceId;
use crate::stack::{Event, Stack};
use crate::time::{Duration, Instant};
use crate::wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use crate::wire::ethernet::EtherType;
use crate::wire::MacAddr;
use core::net::Ipv4Addr;

/// Minimum spacing of address defences (RFC 5227 DEFEND_INTERVAL).
const DEFEND_INTERVAL: Duration = Duration::from_secs(10);

impl Stack {
    /// ARP ingress (RFC 826 "Packet Reception", RFC 5227 conflicts): one
    /// ARP packet received on `iface`.
    pub(crate) fn ingress_arp(&mut self, now: Instant, iface: IfaceId, payload: &[u8]) {
        let Some(r) = ArpPacket::new_checked(payload)
            .ok()
            .and_then(|p| ArpRepr::parse(&p).ok())
        else {
            self.stats.arp.malformed += 1;
            return;
        };
        match r.operation {
            ArpOperation::Request => self.stats.arp.requests_in += 1,
            ArpOperation::Reply => self.stats.arp.replies_in += 1,
        }
        let my_mac = self.ifaces[iface.0].mac;
        // RFC 5227 §2.1.1: while an address is tentative, any ARP packet
        // with it as sender, or another host's probe for it, is a conflict.
        if r.sender_mac != my_mac {
            let mut lost = Vec::new();
            for (i, p) in &mut self.probes {
                if *i == iface
                    && p.conflicts(
                        r.sender_ip,
                        r.target_ip,
                        r.operation == ArpOperation::Request,
                    )
                {
                    lost.push(p.address());
                }
            }
            for addr in lost {
                self.stats.arp.conflicts += 1;
                self.events.push_back(Event::AddressConflict {
                    iface,
                    addr,
                    mac: r.sender_mac,
                });
            }
            self.probes.retain(|(_, p)| !p.is_done());
        }
        let ifc = &self.ifaces[iface.0];
        let owns = |ip: Ipv4Addr| ifc.addrs.iter().any(|c| c.address() == ip);
        // RFC 5227 §2.4: a packet whose sender address is ours, from
        // another MAC, is a conflict.
        if owns(r.sender_ip) && r.sender_mac != my_mac {
            self.stats.arp.conflicts += 1;
            tracing::warn!(target: "strata::link", addr = %r.sender_ip, mac = %r.sender_mac, "address conflict");
            self.events.push_back(Event::AddressConflict {
                iface,
                addr: r.sender_ip,
                mac: r.sender_mac,
            });
            // §2.4 (b): defend once per DEFEND_INTERVAL.
            let last = self.ifaces[iface.0].defended.get(&r.sender_ip).copied();
            if last.is_none_or(|t| now.saturating_duration_since(t) >= DEFEND_INTERVAL) {
                self.ifaces[iface.0].defended.insert(r.sender_ip, now);
                self.announce(iface, my_mac, r.sender_ip);
            }
            return;
        }
        let target_ours = owns(r.target_ip);
        // A new entry is made only for a neighbour on this link (one of the
        // interface's prefixes, or a route straight out of it): a flood of
        // requests from off-link senders would otherwise fill the cache and
        // evict the gateway. Entries we made by asking are updated as usual.
        let on_link = ifc.addrs.iter().any(|c| c.contains(r.sender_ip))
            || self
                .routes
                .lookup(r.sender_ip)
                .is_some_and(|rt| rt.gateway.is_none() && rt.iface == iface);
        if !r.sender_ip.is_unspecified() {
            // RFC 826 "Packet Reception": merge the sender into the cache
            // (update if present; add if we are the target).
            let flushed = self.ifaces[iface.0].arp.learn(
                now,
                r.sender_ip,
                r.sender_mac,
                target_ours && on_link,
            );
            for dgram in flushed {
                self.emit_fragments(iface, r.sender_mac, dgram);
            }
        }
        // RFC 826: if the opcode is request and we are the target, reply.
        // A gratuitous announcement (sender = target) needs no answer.
        if r.operation == ArpOperation::Request && target_ours && r.sender_ip != r.target_ip {
            let reply = ArpRepr {
                operation: ArpOperation::Reply,
                sender_mac: my_mac,
                sender_ip: r.target_ip,
                target_mac: r.sender_mac,
                target_ip: r.sender_ip,
            };
            self.stats.arp.replies_out += 1;
            self.push_arp(iface, r.sender_mac, &reply);
        }
    }

    pub(crate) fn arp_request(
        &mut self,
        iface: IfaceId,
        target: Ipv4Addr,
        unicast: Option<MacAddr>,
    ) {
        let Some(sender_ip) = self.source_for(iface, target) else {
            return;
        };
        let req = ArpRepr {
            operation: ArpOperation::Request,
            sender_mac: self.ifaces[iface.0].mac,
            sender_ip,
            target_mac: MacAddr::UNSPECIFIED,
            target_ip: target,
        };
        self.stats.arp.requests_out += 1;
        self.push_arp(iface, unicast.unwrap_or(MacAddr::BROADCAST), &req);
    }

    /// RFC 5227 §3: an ARP announcement (request with sender = target).
    pub(crate) fn announce(&mut self, iface: IfaceId, mac: MacAddr, addr: Ipv4Addr) {
        let ann = ArpRepr {
            operation: ArpOperation::Request,
            sender_mac: mac,
            sender_ip: addr,
            target_mac: MacAddr::UNSPECIFIED,
            target_ip: addr,
        };
        self.stats.arp.requests_out += 1;
        self.push_arp(iface, MacAddr::BROADCAST, &ann);
    }

    pub(crate) fn push_arp(&mut self, iface: IfaceId, dst: MacAddr, repr: &ArpRepr) {
        let mut payload = vec![0; repr.buffer_len()];
        if repr.emit(&mut payload).is_ok() {
            self.push_tx(TxFrame {
                iface,
                dst,
                ethertype: EtherType::ARP,
                payload,
            });
        }
    }

    /// The ARP caches' timers due at `now`: requests repeated or
    /// refreshed, and the packets of resolutions that gave up reported as
    /// undeliverable (RFC 1122 §2.3.2.2).
    pub(crate) fn arp_timeouts(&mut self, now: Instant) {
        let mut actions = Vec::new();
        for i in 0..self.ifaces.len() {
            if self.ifaces[i].arp.poll_timeout().is_none_or(|t| t > now) {
                continue;
            }
            actions.clear();
            self.ifaces[i].arp.handle_timeout(now, &mut actions);
            for a in actions.drain(..) {
                match a {
                    ArpAction::Request { ip, unicast } => self.arp_request(IfaceId(i), ip, unicast),
                    ArpAction::Failed { packets, .. } => {
                        for p in packets {
                            self.undeliverable(now, &p);
                        }
                    }
                }
            }
        }
    }

    /// RFC 5227 probes and announcements due at `now`.
    pub(crate) fn run_probes(&mut self, now: Instant) {
        for k in 0..self.probes.len() {
            loop {
                let jitter = self.jitter();
                let (iface, probe) = &mut self.probes[k];
                let iface = *iface;
                let Some(action) = probe.handle_timeout(now, jitter) else {
                    break;
                };
                let mac = self.ifaces[iface.0].mac;
                match action {
                    ProbeAction::Probe(addr) => {
                        // RFC 5227 §2.1.1: sender IP all zeroes, target the
                        // candidate, target MAC zero.
                        let probe = ArpRepr {
                            operation: ArpOperation::Request,
                            sender_mac: mac,
                            sender_ip: Ipv4Addr::UNSPECIFIED,
                            target_mac: MacAddr::UNSPECIFIED,
                            target_ip: addr,
                        };
                        self.stats.arp.requests_out += 1;
                        self.push_arp(iface, MacAddr::BROADCAST, &probe);
                    }
                    ProbeAction::Assign(cidr) => {
                        if self.assign_address(iface, cidr).is_err() {
                            // Taken meanwhile by add_address: nothing to
                            // announce.
                            self.probes[k].1.abandon();
                            break;
                        }
                    }
                    ProbeAction::Announce(addr) => self.announce(iface, mac, addr),
                }
            }
        }
        self.probes.retain(|(_, p)| !p.is_done());
    }
}
