//! A DHCP server (RFC 2131 §4.3) for one subnet: a pool of addresses,
//! leases remembered per client, offers held for a short while.
//!
//! [`Server::handle`] takes one datagram that arrived on port 67 and
//! returns the reply with where it must go ([`Reply::to`], per RFC 2131
//! §4.1); [`Server::expire`] forgets leases and offers whose time is up.

use std::collections::BTreeMap;

use core::net::{Ipv4Addr, SocketAddrV4};

use crate::time::{Duration, Instant};
use crate::wire::dhcp::{DhcpPacket, DhcpRepr, MessageType, CLIENT_PORT, SERVER_PORT};
use crate::wire::ip::Ipv4Cidr;
use crate::wire::MacAddr;

/// What the server hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The server's own address on the subnet (option 54, the source of
    /// its replies); its prefix is the subnet served.
    pub server: Ipv4Cidr,
    /// First address of the pool.
    pub pool_start: Ipv4Addr,
    /// Last address of the pool (inclusive).
    pub pool_end: Ipv4Addr,
    /// Default router (option 3).
    pub router: Option<Ipv4Addr>,
    /// DNS servers (option 6).
    pub dns_servers: Vec<Ipv4Addr>,
    /// Domain name (option 15).
    pub domain_name: Option<String>,
    /// Lease length.
    pub lease_time: Duration,
    /// How long an offered address is kept for the client that was
    /// offered it (RFC 2131 §4.3.1: "the server must reserve the address").
    pub offer_hold: Duration,
}

impl ServerConfig {
    /// Serves the hosts of `server`'s prefix from `pool_start` to
    /// `pool_end`, one-hour leases, the server as router and DNS server.
    pub fn new(server: Ipv4Cidr, pool_start: Ipv4Addr, pool_end: Ipv4Addr) -> ServerConfig {
        ServerConfig {
            server,
            pool_start,
            pool_end,
            router: Some(server.address()),
            dns_servers: vec![server.address()],
            domain_name: None,
            lease_time: Duration::from_secs(3600),
            offer_hold: Duration::from_secs(60),
        }
    }
}

/// Why a configuration cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The pool is empty or reaches outside the server's subnet.
    #[error("pool {start}-{end} is not a range of hosts inside {subnet}")]
    BadPool {
        /// First address.
        start: Ipv4Addr,
        /// Last address.
        end: Ipv4Addr,
        /// The subnet.
        subnet: Ipv4Cidr,
    },
}

/// Where a reply goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Destination address and port.
    pub to: SocketAddrV4,
    /// The message.
    pub payload: Vec<u8>,
    /// The message as a value (for logs and tests).
    pub message: DhcpRepr,
}

/// A client's key: its client identifier, or its hardware address (RFC
/// 2131 §4.2: "the combination of 'client identifier' or 'chaddr' and
/// assigned network address").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientKey {
    /// Option 61.
    Id(Vec<u8>),
    /// `chaddr`.
    Mac([u8; 6]),
}

/// One binding of an address to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The address.
    pub addr: Ipv4Addr,
    /// The client's hardware address.
    pub mac: MacAddr,
    /// When it ends.
    pub expires: Instant,
    /// Offered only (no REQUEST yet).
    pub offered: bool,
}

/// Counters of a [`Server`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Offers sent.
    pub offers: u64,
    /// ACKs sent.
    pub acks: u64,
    /// NAKs sent.
    pub naks: u64,
    /// DECLINEs received (addresses set aside).
    pub declines: u64,
    /// RELEASEs received.
    pub releases: u64,
    /// DISCOVERs not answered: the pool is exhausted.
    pub exhausted: u64,
    /// Datagrams dropped: unparsable, a reply, or not for this server.
    pub ignored: u64,
}

/// The server.
#[derive(Debug, Clone)]
pub struct Server {
    cfg: ServerConfig,
    bindings: BTreeMap<ClientKey, Binding>,
    /// Addresses a client declined (in use by someone else), until when.
    declined: BTreeMap<Ipv4Addr, Instant>,
    stats: ServerStats,
}

impl Server {
    /// A server for `cfg`.
    pub fn new(cfg: ServerConfig) -> Result<Server, ConfigError> {
        let net = cfg.server.trunc();
        let (s, e) = (u32::from(cfg.pool_start), u32::from(cfg.pool_end));
        let inside = |a: Ipv4Addr| {
            net.contains(a)
                && a != net.network()
                && a != net.broadcast()
                && a != cfg.server.address()
        };
        if s > e || !inside(cfg.pool_start) || !inside(cfg.pool_end) {
            return Err(ConfigError::BadPool {
                start: cfg.pool_start,
                end: cfg.pool_end,
                subnet: net,
            });
        }
        Ok(Server {
            cfg,
            bindings: BTreeMap::new(),
            declined: BTreeMap::new(),
            stats: ServerStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> ServerStats {
        self.stats
    }

    /// The bindings (offers and leases) by client.
    pub fn bindings(&self) -> impl Iterator<Item = (&ClientKey, &Binding)> {
        self.bindings.iter()
    }

    /// Forgets offers and leases that have run out, and declined marks.
    pub fn expire(&mut self, now: Instant) {
        self.bindings.retain(|_, b| b.expires > now);
        self.declined.retain(|_, t| *t > now);
    }

    fn key(m: &DhcpRepr) -> ClientKey {
        match &m.client_id {
            Some(id) if !id.is_empty() => ClientKey::Id(id.clone()),
            _ => ClientKey::Mac(m.chaddr.octets()),
        }
    }

    fn in_pool(&self, a: Ipv4Addr) -> bool {
        (u32::from(self.cfg.pool_start)..=u32::from(self.cfg.pool_end)).contains(&u32::from(a))
    }

    /// Is `a` free for `key` at `now` (not bound to another client, not
    /// declined)?
    fn free_for(&self, a: Ipv4Addr, key: &ClientKey, now: Instant) -> bool {
        self.in_pool(a)
            && self.declined.get(&a).is_none_or(|t| *t <= now)
            && !self
                .bindings
                .iter()
                .any(|(k, b)| k != key && b.addr == a && b.expires > now)
    }

    /// RFC 2131 §4.3.1: the address for a DISCOVER — the client's current
    /// or last binding, else the address it asks for if free, else the
    /// first free address of the pool.
    fn choose(
        &self,
        key: &ClientKey,
        requested: Option<Ipv4Addr>,
        now: Instant,
    ) -> Option<Ipv4Addr> {
        if let Some(b) = self.bindings.get(key) {
            if self.free_for(b.addr, key, now) {
                return Some(b.addr);
            }
        }
        if let Some(r) = requested.filter(|&r| self.free_for(r, key, now)) {
            return Some(r);
        }
        (u32::from(self.cfg.pool_start)..=u32::from(self.cfg.pool_end))
            .map(Ipv4Addr::from)
            .find(|&a| self.free_for(a, key, now))
    }

    fn secs(d: Duration) -> u32 {
        u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
    }

    /// A reply of `mtype` to `req`, with the configured parameters.
    fn reply(&self, mtype: MessageType, req: &DhcpRepr, yiaddr: Ipv4Addr) -> DhcpRepr {
        self.reply_with(mtype, req, yiaddr, true)
    }

    /// [`Server::reply`]; `lease` false leaves out the lease times (an ACK
    /// to an INFORM, RFC 2131 §4.3.5: "MUST NOT send a lease expiration time").
    fn reply_with(
        &self,
        mtype: MessageType,
        req: &DhcpRepr,
        yiaddr: Ipv4Addr,
        lease: bool,
    ) -> DhcpRepr {
        let mut r = DhcpRepr::new(mtype, req.xid, req.chaddr);
        r.op_request = false;
        r.broadcast = req.broadcast;
        r.giaddr = req.giaddr;
        r.yiaddr = yiaddr;
        // RFC 2131 Table 3: the server identifier in every OFFER, ACK, NAK.
        r.server_id = Some(self.cfg.server.address());
        if mtype == MessageType::Nak {
            return r;
        }
        if lease {
            // RFC 2131 §4.4.5: T1 defaults to 0.5 and T2 to 0.875 of the lease.
            let lease = Self::secs(self.cfg.lease_time);
            r.lease_time = Some(lease);
            r.renewal_time = Some(lease / 2);
            r.rebinding_time = Some((u64::from(lease) * 7 / 8) as u32);
        }
        r.subnet_mask = Some(self.cfg.server.netmask());
        r.routers = self.cfg.router.into_iter().collect();
        r.dns_servers = self.cfg.dns_servers.clone();
        r.domain_name = self.cfg.domain_name.as_ref().map(|d| d.as_bytes().to_vec());
        r
    }

    /// RFC 2131 §4.1 (the server's destination rules) and §4.3.2 (NAKs).
    fn send(&self, msg: DhcpRepr, req: &DhcpRepr) -> Reply {
        let to = if !req.giaddr.is_unspecified() {
            // Through a relay agent: to its server port.
            SocketAddrV4::new(req.giaddr, SERVER_PORT)
        } else if msg.message_type == MessageType::Nak {
            // §4.3.2: "the server MUST broadcast the DHCPNAK message".
            SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
        } else if !req.ciaddr.is_unspecified() {
            // The client has an address (RENEWING, INFORM): unicast to it.
            SocketAddrV4::new(req.ciaddr, CLIENT_PORT)
        } else {
            // The broadcast bit, or a client without an address: "If
            // unicasting is not possible, the message MAY be sent as an IP
            // broadcast using an IP broadcast address (preferably
            // 0xffffffff)" — a stack cannot unicast to an address the
            // client does not hold yet without writing its ARP cache.
            SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
        };
        Reply {
            to,
            payload: msg.emit(),
            message: msg,
        }
    }

    /// One datagram from port 68 (or a relay); the reply to send, if any.
    pub fn handle(&mut self, now: Instant, datagram: &[u8]) -> Option<Reply> {
        self.expire(now);
        let Some(req) = DhcpPacket::new_checked(datagram)
            .and_then(|p| DhcpRepr::parse(&p))
            .ok()
            .filter(|r| r.op_request && r.message_type.from_client())
        else {
            self.stats.ignored += 1;
            return None;
        };
        let key = Self::key(&req);
        let ours = self.cfg.server.address();
        match req.message_type {
            MessageType::Discover => {
                let Some(addr) = self.choose(&key, req.requested_ip, now) else {
                    self.stats.exhausted += 1;
                    return None;
                };
                let expires = match self.bindings.get(&key) {
                    // A live lease keeps its end; an offer is held briefly.
                    Some(b) if !b.offered && b.addr == addr => b.expires,
                    _ => now + self.cfg.offer_hold,
                };
                let offered = self
                    .bindings
                    .get(&key)
                    .is_none_or(|b| b.offered || b.addr != addr);
                self.bindings.insert(
                    key,
                    Binding {
                        addr,
                        mac: req.chaddr,
                        expires,
                        offered,
                    },
                );
                self.stats.offers += 1;
                Some(self.send(self.reply(MessageType::Offer, &req, addr), &req))
            }
            MessageType::Request => self.request(now, key, &req),
            MessageType::Decline => {
                // §4.3.3: the address is in use; mark it and forget the binding.
                if req.server_id != Some(ours) {
                    self.stats.ignored += 1;
                    return None;
                }
                if let Some(a) = req.requested_ip {
                    if self.bindings.get(&key).is_some_and(|b| b.addr == a) {
                        self.bindings.remove(&key);
                    }
                    self.declined.insert(a, now + self.cfg.lease_time);
                    self.stats.declines += 1;
                }
                None
            }
            MessageType::Release => {
                // §4.3.4: mark the address as not allocated (the binding is
                // kept as the client's last address, already expired).
                if req.server_id == Some(ours)
                    && self
                        .bindings
                        .get(&key)
                        .is_some_and(|b| b.addr == req.ciaddr)
                {
                    self.bindings.remove(&key);
                    self.stats.releases += 1;
                }
                None
            }
            MessageType::Inform => {
                // §4.3.5: parameters only; no lease, no yiaddr.
                self.stats.acks += 1;
                let ack = self.reply_with(MessageType::Ack, &req, Ipv4Addr::UNSPECIFIED, false);
                Some(self.send(ack, &req))
            }
            _ => None,
        }
    }

    /// RFC 2131 §4.3.2: a REQUEST in SELECTING, INIT-REBOOT, RENEWING or
    /// REBINDING state.
    fn request(&mut self, now: Instant, key: ClientKey, req: &DhcpRepr) -> Option<Reply> {
        let ours = self.cfg.server.address();
        let subnet = self.cfg.server.trunc();
        let (addr, selecting) = match (req.server_id, req.requested_ip) {
            // SELECTING: the server identifier names the chosen server.
            (Some(sid), Some(addr)) => {
                if sid != ours {
                    // Another server was chosen: our offer is withdrawn.
                    if self.bindings.get(&key).is_some_and(|b| b.offered) {
                        self.bindings.remove(&key);
                    }
                    self.stats.ignored += 1;
                    return None;
                }
                (addr, true)
            }
            // INIT-REBOOT: requested address, no server identifier.
            (None, Some(addr)) => {
                if !subnet.contains(addr) {
                    // "on the wrong network": NAK.
                    self.stats.naks += 1;
                    return Some(self.send(
                        self.reply(MessageType::Nak, req, Ipv4Addr::UNSPECIFIED),
                        req,
                    ));
                }
                (addr, false)
            }
            // RENEWING (unicast) or REBINDING (broadcast): ciaddr.
            (None, None) if !req.ciaddr.is_unspecified() => (req.ciaddr, false),
            _ => {
                self.stats.ignored += 1;
                return None;
            }
        };
        let known = self.bindings.get(&key).is_some_and(|b| b.addr == addr);
        if known || (selecting && self.free_for(addr, &key, now)) {
            let expires = now + self.cfg.lease_time;
            self.bindings.insert(
                key,
                Binding {
                    addr,
                    mac: req.chaddr,
                    expires,
                    offered: false,
                },
            );
            self.stats.acks += 1;
            return Some(self.send(self.reply(MessageType::Ack, req, addr), req));
        }
        // INIT-REBOOT or REBINDING for an address we know nothing of:
        // "If the DHCP server has no record of this client, then it MUST
        // remain silent" — unless the address is bound to someone else.
        let elsewhere = self
            .bindings
            .iter()
            .any(|(k, b)| *k != key && b.addr == addr);
        if selecting || elsewhere {
            self.stats.naks += 1;
            return Some(self.send(
                self.reply(MessageType::Nak, req, Ipv4Addr::UNSPECIFIED),
                req,
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC1: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const MAC2: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    fn server() -> Server {
        let cidr = Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap();
        Server::new(ServerConfig::new(
            cidr,
            Ipv4Addr::new(10, 0, 0, 100),
            Ipv4Addr::new(10, 0, 0, 101),
        ))
        .unwrap()
    }

    fn msg(t: MessageType, xid: u32, mac: MacAddr) -> DhcpRepr {
        DhcpRepr::new(t, xid, mac)
    }

    fn t(s: u64) -> Instant {
        Instant::from_secs(s)
    }

    fn dora(s: &mut Server, mac: MacAddr, now: Instant) -> Ipv4Addr {
        let offer = s
            .handle(now, &msg(MessageType::Discover, 1, mac).emit())
            .unwrap();
        assert_eq!(offer.message.message_type, MessageType::Offer);
        let mut req = msg(MessageType::Request, 1, mac);
        req.server_id = offer.message.server_id;
        req.requested_ip = Some(offer.message.yiaddr);
        let ack = s.handle(now, &req.emit()).unwrap();
        assert_eq!(ack.message.message_type, MessageType::Ack);
        ack.message.yiaddr
    }

    #[test]
    fn discover_offer_request_ack() {
        let mut s = server();
        let offer = s
            .handle(t(1), &msg(MessageType::Discover, 7, MAC1).emit())
            .unwrap();
        let o = &offer.message;
        assert_eq!(o.yiaddr, Ipv4Addr::new(10, 0, 0, 100));
        assert_eq!(o.xid, 7);
        assert!(!o.op_request);
        assert_eq!(o.server_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(o.subnet_mask, Some(Ipv4Addr::new(255, 255, 255, 0)));
        assert_eq!(
            (o.lease_time, o.renewal_time, o.rebinding_time),
            (Some(3600), Some(1800), Some(3150))
        );
        assert_eq!(offer.to, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
        let mut req = msg(MessageType::Request, 7, MAC1);
        req.server_id = o.server_id;
        req.requested_ip = Some(o.yiaddr);
        let ack = s.handle(t(2), &req.emit()).unwrap();
        assert_eq!(ack.message.message_type, MessageType::Ack);
        assert_eq!(ack.message.yiaddr, o.yiaddr);
        let b = s.bindings().next().unwrap().1;
        assert!(!b.offered);
        assert_eq!(b.expires, t(2) + Duration::from_secs(3600));
    }

    #[test]
    fn a_second_client_gets_another_address_and_a_third_none() {
        let mut s = server();
        let a = dora(&mut s, MAC1, t(1));
        let b = dora(&mut s, MAC2, t(1));
        assert_ne!(a, b);
        let none = s.handle(
            t(1),
            &msg(MessageType::Discover, 3, MacAddr([2, 0, 0, 0, 0, 3])).emit(),
        );
        assert!(none.is_none());
        assert_eq!(s.stats().exhausted, 1);
        // The same client asking again gets its address back.
        assert_eq!(dora(&mut s, MAC1, t(5)), a);
    }

    #[test]
    fn renewing_extends_and_unknown_or_foreign_requests_are_refused() {
        let mut s = server();
        let a = dora(&mut s, MAC1, t(1));
        // RENEWING: ciaddr, no server id, unicast reply.
        let mut renew = msg(MessageType::Request, 9, MAC1);
        renew.ciaddr = a;
        let ack = s.handle(t(1800), &renew.emit()).unwrap();
        assert_eq!(ack.message.message_type, MessageType::Ack);
        assert_eq!(ack.to, SocketAddrV4::new(a, 68));
        assert_eq!(s.bindings().next().unwrap().1.expires, t(1800 + 3600));
        // INIT-REBOOT for an address bound to someone else: NAK, broadcast.
        let mut reboot = msg(MessageType::Request, 10, MAC2);
        reboot.requested_ip = Some(a);
        let nak = s.handle(t(1801), &reboot.emit()).unwrap();
        assert_eq!(nak.message.message_type, MessageType::Nak);
        assert_eq!(nak.to.ip(), &Ipv4Addr::BROADCAST);
        // INIT-REBOOT on the wrong network: NAK.
        reboot.requested_ip = Some(Ipv4Addr::new(192, 168, 9, 9));
        assert_eq!(
            s.handle(t(1802), &reboot.emit())
                .unwrap()
                .message
                .message_type,
            MessageType::Nak
        );
        // INIT-REBOOT for a free address we have no record of: silence.
        reboot.requested_ip = Some(Ipv4Addr::new(10, 0, 0, 101));
        assert!(s.handle(t(1803), &reboot.emit()).is_none());
        // SELECTING another server: our offer is withdrawn, no reply.
        s.handle(t(1804), &msg(MessageType::Discover, 11, MAC2).emit())
            .unwrap();
        let mut other = msg(MessageType::Request, 11, MAC2);
        other.server_id = Some(Ipv4Addr::new(10, 0, 0, 254));
        other.requested_ip = Some(Ipv4Addr::new(10, 0, 0, 101));
        assert!(s.handle(t(1805), &other.emit()).is_none());
        assert_eq!(s.bindings().count(), 1);
    }

    #[test]
    fn leases_expire_and_release_and_decline_free_addresses() {
        let mut s = server();
        let a = dora(&mut s, MAC1, t(1));
        // After the lease the address is free for another client.
        s.expire(t(1 + 3601));
        assert_eq!(s.bindings().count(), 0);
        assert_eq!(dora(&mut s, MAC2, t(4000)), a);
        // RELEASE by MAC2 frees it.
        let mut rel = msg(MessageType::Release, 5, MAC2);
        rel.ciaddr = a;
        rel.server_id = Some(Ipv4Addr::new(10, 0, 0, 1));
        assert!(s.handle(t(4001), &rel.emit()).is_none());
        assert_eq!(s.stats().releases, 1);
        // DECLINE by MAC1: the address is set aside, the next offer differs.
        let offer = s
            .handle(t(4002), &msg(MessageType::Discover, 6, MAC1).emit())
            .unwrap();
        let mut dec = msg(MessageType::Decline, 6, MAC1);
        dec.requested_ip = Some(offer.message.yiaddr);
        dec.server_id = Some(Ipv4Addr::new(10, 0, 0, 1));
        s.handle(t(4003), &dec.emit());
        let again = s
            .handle(t(4004), &msg(MessageType::Discover, 7, MAC1).emit())
            .unwrap();
        assert_ne!(again.message.yiaddr, offer.message.yiaddr);
    }

    #[test]
    fn offers_are_held_only_briefly_and_replies_are_ignored() {
        let mut s = server();
        s.handle(t(1), &msg(MessageType::Discover, 1, MAC1).emit())
            .unwrap();
        s.handle(t(1), &msg(MessageType::Discover, 2, MAC2).emit())
            .unwrap();
        // Both pool addresses are held; after the hold they are free again.
        assert!(s
            .handle(
                t(2),
                &msg(MessageType::Discover, 3, MacAddr([2, 0, 0, 0, 0, 3])).emit()
            )
            .is_none());
        assert!(s
            .handle(
                t(62),
                &msg(MessageType::Discover, 3, MacAddr([2, 0, 0, 0, 0, 3])).emit()
            )
            .is_some());
        // A server's own reply type from a client port is ignored.
        let mut bogus = msg(MessageType::Offer, 1, MAC1);
        bogus.op_request = true;
        assert!(s.handle(t(63), &bogus.emit()).is_none());
        assert!(s.handle(t(63), &[0u8; 10]).is_none());
        assert_eq!(s.stats().ignored, 2);
    }

    #[test]
    fn a_pool_outside_the_subnet_is_refused() {
        let cidr = Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap();
        assert!(Server::new(ServerConfig::new(
            cidr,
            Ipv4Addr::new(10, 0, 0, 100),
            Ipv4Addr::new(10, 0, 1, 5)
        ))
        .is_err());
        assert!(Server::new(ServerConfig::new(
            cidr,
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 5)
        ))
        .is_err());
    }

    #[test]
    fn inform_gets_parameters_without_a_lease() {
        let mut s = server();
        let mut inf = msg(MessageType::Inform, 4, MAC1);
        inf.ciaddr = Ipv4Addr::new(10, 0, 0, 50);
        let r = s.handle(t(1), &inf.emit()).unwrap();
        assert_eq!(r.message.message_type, MessageType::Ack);
        assert_eq!(r.message.lease_time, None);
        assert_eq!(r.message.yiaddr, Ipv4Addr::UNSPECIFIED);
        assert_eq!(r.to, SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 50), 68));
        assert_eq!(s.bindings().count(), 0);
    }
}
