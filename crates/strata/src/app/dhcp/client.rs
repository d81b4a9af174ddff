//! A DHCP client (RFC 2131 §4.4): the state machine of RFC 2131 figure 5,
//! INIT → SELECTING → REQUESTING → BOUND → RENEWING → REBINDING, with the
//! retransmission rules of §4.1 and the timers T1 and T2 of §4.4.5.
//!
//! Sans-IO like the rest of the stack: [`Client::start`] begins,
//! [`Client::poll_transmit`] gives datagrams to send from port 68 (with
//! the source address to use: 0.0.0.0 until the client has a lease),
//! [`Client::handle_datagram`] takes what arrived on port 68,
//! [`Client::handle_timeout`] runs the timers ([`Client::poll_timeout`]
//! says when), and [`Client::poll_event`] tells the caller to configure or
//! remove the address ([`ClientEvent`]).

use std::collections::VecDeque;

use core::net::{Ipv4Addr, SocketAddrV4};

use crate::time::{Duration, Instant};
use crate::wire::dhcp::{opt, DhcpPacket, DhcpRepr, MessageType, SERVER_PORT};
use crate::wire::ip::Ipv4Cidr;
use crate::wire::MacAddr;

/// The client's state (RFC 2131 figure 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not started, or released.
    Stopped,
    /// Looking for servers: DISCOVER sent, waiting for an OFFER.
    Selecting,
    /// An offer taken: REQUEST sent, waiting for the ACK.
    Requesting,
    /// The address is ours until T1.
    Bound,
    /// Past T1: asking the server that leased it to extend (unicast).
    Renewing,
    /// Past T2: asking any server to extend (broadcast).
    Rebinding,
}

/// A lease the client holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The address with the subnet's prefix (option 1).
    pub addr: Ipv4Cidr,
    /// The server that granted it (option 54).
    pub server: Ipv4Addr,
    /// Routers (option 3).
    pub routers: Vec<Ipv4Addr>,
    /// DNS servers (option 6).
    pub dns_servers: Vec<Ipv4Addr>,
    /// Domain name (option 15).
    pub domain_name: Option<String>,
    /// Lease length (`None`: infinite).
    pub lease_time: Option<Duration>,
    /// When it was granted (the REQUEST's send time, RFC 2131 §4.4.1:
    /// the lease is computed from the time the request was sent).
    pub granted: Instant,
    /// T1: start renewing.
    pub t1: Option<Instant>,
    /// T2: start rebinding.
    pub t2: Option<Instant>,
    /// The lease ends.
    pub expires: Option<Instant>,
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A new lease: configure the address, routes and resolver.
    Bound(Lease),
    /// The lease was extended (same address).
    Renewed(Lease),
    /// The lease is gone (expired, or a server said NAK): remove the
    /// address. The client starts over by itself.
    Lost(Lease),
}

/// A datagram for the caller to send from port 68.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Source address: 0.0.0.0 before a lease (RFC 2131 §4.1), the leased
    /// address when renewing or rebinding.
    pub src: Ipv4Addr,
    /// Destination: 255.255.255.255:67, or the server when renewing.
    pub to: SocketAddrV4,
    /// The message.
    pub payload: Vec<u8>,
    /// The message as a value.
    pub message: DhcpRepr,
}

/// Counters of a [`Client`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Messages sent.
    pub sent: u64,
    /// Retransmissions among them.
    pub retransmits: u64,
    /// Offers received.
    pub offers: u64,
    /// NAKs received.
    pub naks: u64,
    /// Datagrams ignored (unparsable, wrong xid or chaddr, unexpected).
    pub ignored: u64,
}

/// The client of one interface.
#[derive(Debug)]
pub struct Client {
    mac: MacAddr,
    hostname: Option<String>,
    state: State,
    rng: u64,
    xid: u32,
    /// When this exchange began (the `secs` field counts from it).
    began: Instant,
    /// When the current REQUEST was first sent (the lease counts from it).
    requested_at: Instant,
    /// The offer being requested: (server, address).
    offer: Option<DhcpRepr>,
    lease: Option<Lease>,
    attempt: u32,
    deadline: Option<Instant>,
    out: VecDeque<Transmit>,
    events: VecDeque<ClientEvent>,
    stats: ClientStats,
}

/// The parameters every message asks for (option 55).
const PARAMETERS: [u8; 7] = [
    opt::SUBNET_MASK,
    opt::ROUTER,
    opt::DNS,
    opt::DOMAIN_NAME,
    opt::LEASE_TIME,
    opt::RENEWAL_TIME,
    opt::REBINDING_TIME,
];

/// REQUESTs sent in REQUESTING before starting over.
const REQUEST_ATTEMPTS: u32 = 4;

impl Client {
    /// A client for the interface with hardware address `mac`; `seed`
    /// drives the transaction IDs and the retransmission jitter.
    pub fn new(mac: MacAddr, seed: u64) -> Client {
        Client {
            mac,
            hostname: None,
            state: State::Stopped,
            rng: seed
                ^ u64::from_be_bytes([
                    0, 0, mac.0[0], mac.0[1], mac.0[2], mac.0[3], mac.0[4], mac.0[5],
                ]),
            xid: 0,
            began: Instant::ZERO,
            requested_at: Instant::ZERO,
            offer: None,
            lease: None,
            attempt: 0,
            deadline: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
            stats: ClientStats::default(),
        }
    }

    /// Sends option 12 (host name) with every message.
    pub fn set_hostname(&mut self, name: impl Into<String>) {
        self.hostname = Some(name.into());
    }

    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The lease held, if any.
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// Counters so far.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    fn random(&mut self) -> u64 {
        crate::secret::splitmix64(&mut self.rng)
    }

    /// Begins (INIT): a DISCOVER now. A lease held is kept until it is
    /// replaced or lost.
    pub fn start(&mut self, now: Instant) {
        // RFC 2131 §4.4.1: "The client SHOULD wait a random time between
        // one and ten seconds to desynchronize the use of DHCP at startup"
        // is left to the caller, who knows whether many hosts start at once.
        self.state = State::Selecting;
        self.xid = self.random() as u32;
        self.began = now;
        self.offer = None;
        self.attempt = 0;
        self.send_current(now);
    }

    /// Gives the lease back (RELEASE to its server) and stops.
    pub fn release(&mut self, now: Instant) {
        if let Some(l) = self.lease.take() {
            let mut m = self.message(MessageType::Release, now);
            m.ciaddr = l.addr.address();
            m.server_id = Some(l.server);
            m.broadcast = false;
            m.parameter_list.clear();
            self.push(
                l.addr.address(),
                SocketAddrV4::new(l.server, SERVER_PORT),
                m,
            );
        }
        self.state = State::Stopped;
        self.deadline = None;
    }

    /// The address of the lease is in use by another host (the caller's
    /// ARP probe found it, RFC 2131 §4.4.1): DECLINE it and start over
    /// after 10 s ("the client SHOULD wait a minimum of ten seconds").
    pub fn decline(&mut self, now: Instant) {
        let Some(l) = self.lease.take() else {
            return;
        };
        let mut m = self.message(MessageType::Decline, now);
        m.requested_ip = Some(l.addr.address());
        m.server_id = Some(l.server);
        m.parameter_list.clear();
        self.push(
            Ipv4Addr::UNSPECIFIED,
            SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT),
            m,
        );
        self.state = State::Stopped;
        self.deadline = Some(now + Duration::from_secs(10));
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When [`Client::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn message(&mut self, t: MessageType, now: Instant) -> DhcpRepr {
        let mut m = DhcpRepr::new(t, self.xid, self.mac);
        m.secs =
            u16::try_from(now.saturating_duration_since(self.began).as_secs()).unwrap_or(u16::MAX);
        // RFC 2131 §4.1: a client that cannot receive unicast datagrams
        // before its address is configured SHOULD set the BROADCAST bit
        // (the stack drops datagrams to an address it does not hold).
        m.broadcast = self.lease.is_none();
        m.parameter_list = PARAMETERS.to_vec();
        // RFC 2132 §9.14 / RFC 4361: identify by the hardware address.
        let mut id = vec![1];
        id.extend_from_slice(&self.mac.octets());
        m.client_id = Some(id);
        m.hostname = self.hostname.as_ref().map(|h| h.as_bytes().to_vec());
        m
    }

    fn push(&mut self, src: Ipv4Addr, to: SocketAddrV4, message: DhcpRepr) {
        self.stats.sent += 1;
        self.out.push_back(Transmit {
            src,
            to,
            payload: message.emit(),
            message,
        });
    }

    /// RFC 2131 §4.1: "the delay before the first retransmission SHOULD be
    /// 4 seconds randomized by the value of a uniform random number chosen
    /// from the range -1 to +1 ... The delay before the next
    /// retransmission SHOULD be 8 seconds ... up to a maximum of 64 seconds."
    fn backoff(&mut self) -> Duration {
        let base = 4u64 << self.attempt.min(4);
        let jitter_ms = (self.random() % 2001) as i64 - 1000;
        Duration::from_millis((base as i64 * 1000 + jitter_ms) as u64)
    }

    /// Sends (or resends) the message of the current state and sets the
    /// retransmission timer.
    fn send_current(&mut self, now: Instant) {
        let broadcast = SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT);
        match self.state {
            State::Selecting => {
                let m = self.message(MessageType::Discover, now);
                self.push(Ipv4Addr::UNSPECIFIED, broadcast, m);
                let d = self.backoff();
                self.deadline = Some(now + d);
            }
            State::Requesting => {
                let Some(offer) = self.offer.clone() else {
                    return self.start(now);
                };
                let mut m = self.message(MessageType::Request, now);
                // §4.3.2 SELECTING: server identifier and requested address
                // MUST be filled in, ciaddr MUST be zero.
                m.server_id = offer.server_id;
                m.requested_ip = Some(offer.yiaddr);
                self.push(Ipv4Addr::UNSPECIFIED, broadcast, m);
                let d = self.backoff();
                self.deadline = Some(now + d);
            }
            State::Renewing | State::Rebinding => {
                let Some(l) = self.lease.clone() else {
                    return self.start(now);
                };
                let mut m = self.message(MessageType::Request, now);
                // §4.3.2 RENEWING/REBINDING: ciaddr filled in, no server
                // identifier, no requested address.
                m.ciaddr = l.addr.address();
                let (to, until) = if self.state == State::Renewing {
                    (SocketAddrV4::new(l.server, SERVER_PORT), l.t2)
                } else {
                    (broadcast, l.expires)
                };
                self.push(l.addr.address(), to, m);
                // §4.4.5: wait half the time left until T2 (RENEWING) or
                // the end of the lease (REBINDING), at least 60 s.
                let until = until.unwrap_or(now + Duration::from_secs(60));
                let half = until.saturating_duration_since(now) / 2;
                self.deadline = Some((now + half.max(Duration::from_secs(60))).min(until));
            }
            State::Bound | State::Stopped => {}
        }
    }

    /// Runs the timers: retransmissions, T1, T2, the end of the lease.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.deadline else {
            return;
        };
        if now < deadline {
            return;
        }
        // The end of the lease comes first: the address must go.
        if let Some(l) = self.lease.clone() {
            if l.expires.is_some_and(|e| now >= e) {
                self.lease = None;
                self.events.push_back(ClientEvent::Lost(l));
                return self.start(now);
            }
        }
        match self.state {
            State::Stopped => self.start(now),
            State::Selecting => {
                self.attempt += 1;
                self.stats.retransmits += 1;
                self.send_current(now);
            }
            State::Requesting => {
                self.attempt += 1;
                if self.attempt >= REQUEST_ATTEMPTS {
                    // §3.1 step 5: no ACK — back to INIT.
                    return self.start(now);
                }
                self.stats.retransmits += 1;
                self.send_current(now);
            }
            State::Bound => {
                // T1: RENEWING (§4.4.5).
                self.state = State::Renewing;
                self.xid = self.random() as u32;
                self.began = now;
                self.requested_at = now;
                self.send_current(now);
            }
            State::Renewing | State::Rebinding => {
                let t2 = self.lease.as_ref().and_then(|l| l.t2);
                if self.state == State::Renewing && t2.is_some_and(|t| now >= t) {
                    // T2: REBINDING, to any server.
                    self.state = State::Rebinding;
                } else {
                    self.stats.retransmits += 1;
                }
                self.requested_at = now;
                self.send_current(now);
            }
        }
    }

    /// A datagram that arrived on port 68.
    pub fn handle_datagram(&mut self, now: Instant, payload: &[u8]) {
        let Some(m) = DhcpPacket::new_checked(payload)
            .and_then(|p| DhcpRepr::parse(&p))
            .ok()
            .filter(|m| !m.op_request && m.xid == self.xid && m.chaddr == self.mac)
        else {
            self.stats.ignored += 1;
            return;
        };
        match (self.state, m.message_type) {
            (State::Selecting, MessageType::Offer)
                if m.server_id.is_some() && !m.yiaddr.is_unspecified() =>
            {
                // §4.4.1: the client "MAY choose to collect several
                // DHCPOFFER messages"; this one takes the first.
                self.stats.offers += 1;
                self.offer = Some(m);
                self.state = State::Requesting;
                self.attempt = 0;
                self.requested_at = now;
                self.send_current(now);
            }
            (State::Requesting, MessageType::Ack)
                if self
                    .offer
                    .as_ref()
                    .is_some_and(|o| o.server_id == m.server_id) =>
            {
                let lease = self.lease_from(&m);
                self.lease = Some(lease.clone());
                self.enter_bound(&lease);
                self.events.push_back(ClientEvent::Bound(lease));
            }
            (State::Renewing | State::Rebinding, MessageType::Ack)
                if self
                    .lease
                    .as_ref()
                    .is_some_and(|l| l.addr.address() == m.yiaddr) =>
            {
                let lease = self.lease_from(&m);
                self.lease = Some(lease.clone());
                self.enter_bound(&lease);
                self.events.push_back(ClientEvent::Renewed(lease));
            }
            (State::Requesting | State::Renewing | State::Rebinding, MessageType::Nak) => {
                // §4.4.1/§4.4.5: a NAK sends the client back to INIT; a
                // lease held is lost at once.
                self.stats.naks += 1;
                if let Some(l) = self.lease.take() {
                    self.events.push_back(ClientEvent::Lost(l));
                }
                self.start(now);
            }
            _ => self.stats.ignored += 1,
        }
    }

    fn enter_bound(&mut self, lease: &Lease) {
        self.state = State::Bound;
        self.attempt = 0;
        self.deadline = lease.t1;
    }

    fn lease_from(&self, m: &DhcpRepr) -> Lease {
        let granted = self.requested_at;
        let prefix = m
            .subnet_mask
            .map(|mask| u32::from(mask).leading_ones() as u8)
            // No mask: the classful one (RFC 2131 §4.4.1 leaves it to the
            // client; RFC 1122 §3.3.1.6 to the address class).
            .unwrap_or(match m.yiaddr.octets()[0] {
                0..=127 => 8,
                128..=191 => 16,
                _ => 24,
            });
        let addr = Ipv4Cidr::new(m.yiaddr, prefix)
            .unwrap_or_else(|| Ipv4Cidr::new(m.yiaddr, 32).expect("a /32 is always valid"));
        // 0xffffffff is infinity (RFC 2132 §9.2).
        let lease_time = m
            .lease_time
            .filter(|&t| t != u32::MAX)
            .map(|t| Duration::from_secs(u64::from(t)));
        let at = |frac_num: u64, frac_den: u64, given: Option<u32>| {
            lease_time.map(|l| {
                let d = given.map_or(l * frac_num as u32 / frac_den as u32, |g| {
                    Duration::from_secs(u64::from(g)).min(l)
                });
                granted + d
            })
        };
        Lease {
            addr,
            server: m.server_id.unwrap_or(Ipv4Addr::UNSPECIFIED),
            routers: m.routers.clone(),
            dns_servers: m.dns_servers.clone(),
            domain_name: m
                .domain_name
                .as_ref()
                .map(|d| String::from_utf8_lossy(d).into_owned()),
            lease_time,
            granted,
            // §4.4.5: T1 defaults to 0.5 and T2 to 0.875 of the lease.
            t1: at(1, 2, m.renewal_time),
            t2: at(7, 8, m.rebinding_time),
            expires: lease_time.map(|l| granted + l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::dhcp::server::{Server, ServerConfig};

    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 9]);

    fn server(lease: u64) -> Server {
        let mut c = ServerConfig::new(
            Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap(),
            Ipv4Addr::new(10, 0, 0, 100),
            Ipv4Addr::new(10, 0, 0, 199),
        );
        c.lease_time = Duration::from_secs(lease);
        c.domain_name = Some("lab".into());
        Server::new(c).unwrap()
    }

    /// Delivers every pending client datagram to the server and back.
    fn exchange(c: &mut Client, s: &mut Server, now: Instant) -> usize {
        let mut n = 0;
        while let Some(tx) = c.poll_transmit() {
            n += 1;
            if let Some(r) = s.handle(now, &tx.payload) {
                c.handle_datagram(now, &r.payload);
            }
        }
        n
    }

    #[test]
    fn the_client_gets_a_lease_renews_at_t1_and_rebinds_at_t2() {
        let mut s = server(100);
        let mut c = Client::new(MAC, 1);
        let t0 = Instant::from_secs(1);
        c.start(t0);
        let d = c.poll_transmit().unwrap();
        assert_eq!(d.message.message_type, MessageType::Discover);
        assert_eq!(
            (d.src, d.to),
            (
                Ipv4Addr::UNSPECIFIED,
                SocketAddrV4::new(Ipv4Addr::BROADCAST, 67)
            )
        );
        assert!(d.message.broadcast);
        let offer = s.handle(t0, &d.payload).unwrap();
        c.handle_datagram(t0, &offer.payload);
        assert_eq!(c.state(), State::Requesting);
        exchange(&mut c, &mut s, t0);
        assert_eq!(c.state(), State::Bound);
        let Some(ClientEvent::Bound(l)) = c.poll_event() else {
            panic!("no Bound event");
        };
        assert_eq!(
            l.addr,
            Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 100), 24).unwrap()
        );
        assert_eq!(l.routers, vec![Ipv4Addr::new(10, 0, 0, 1)]);
        assert_eq!(l.domain_name.as_deref(), Some("lab"));
        assert_eq!(l.t1, Some(t0 + Duration::from_secs(50)));
        assert_eq!(l.t2, Some(t0 + Duration::from_secs(87)));
        assert_eq!(c.poll_timeout(), l.t1);
        // T1: a unicast REQUEST from the leased address to the server.
        let t1 = l.t1.unwrap();
        c.handle_timeout(t1);
        assert_eq!(c.state(), State::Renewing);
        let r = c.poll_transmit().unwrap();
        assert_eq!(r.src, Ipv4Addr::new(10, 0, 0, 100));
        assert_eq!(r.to, SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 67));
        assert_eq!(r.message.ciaddr, Ipv4Addr::new(10, 0, 0, 100));
        assert_eq!((r.message.server_id, r.message.requested_ip), (None, None));
        assert!(!r.message.broadcast);
        // The server is away: at T2 the client rebinds by broadcast.
        assert_eq!(
            c.poll_timeout(),
            l.t2,
            "half of 37 s is under 60 s: wait for T2"
        );
        c.handle_timeout(l.t2.unwrap());
        assert_eq!(c.state(), State::Rebinding);
        let rb = c.poll_transmit().unwrap();
        assert_eq!(rb.to.ip(), &Ipv4Addr::BROADCAST);
        let ack = s.handle(l.t2.unwrap(), &rb.payload).unwrap();
        c.handle_datagram(l.t2.unwrap(), &ack.payload);
        assert_eq!(c.state(), State::Bound);
        let Some(ClientEvent::Renewed(l2)) = c.poll_event() else {
            panic!("no Renewed event");
        };
        assert_eq!(l2.addr, l.addr);
        assert_eq!(l2.expires, Some(l.t2.unwrap() + Duration::from_secs(100)));
    }

    #[test]
    fn an_unanswered_lease_expires_and_the_client_starts_over() {
        let mut s = server(100);
        let mut c = Client::new(MAC, 2);
        let t0 = Instant::from_secs(1);
        c.start(t0);
        exchange(&mut c, &mut s, t0);
        exchange(&mut c, &mut s, t0);
        let Some(ClientEvent::Bound(l)) = c.poll_event() else {
            panic!("not bound");
        };
        // Nobody answers from now on.
        let mut now = t0;
        while c.poll_event().is_none() {
            now = c.poll_timeout().unwrap();
            c.handle_timeout(now);
            while c.poll_transmit().is_some() {}
            assert!(now <= l.expires.unwrap(), "still bound past the lease");
        }
        assert_eq!(now, l.expires.unwrap());
        assert_eq!(c.state(), State::Selecting);
        assert!(c.lease().is_none());
    }

    #[test]
    fn discover_retransmissions_back_off_with_jitter() {
        let mut c = Client::new(MAC, 3);
        let mut now = Instant::from_secs(1);
        c.start(now);
        let mut gaps = Vec::new();
        for _ in 0..6 {
            assert!(c.poll_transmit().is_some());
            let next = c.poll_timeout().unwrap();
            gaps.push(next.saturating_duration_since(now).as_millis() as u64);
            now = next;
            c.handle_timeout(now);
        }
        // 4, 8, 16, 32, 64, 64 s, each ±1 s.
        for (g, base) in gaps.iter().zip([4, 8, 16, 32, 64, 64]) {
            assert!(
                (base * 1000 - 1000..=base * 1000 + 1000).contains(g),
                "{gaps:?}"
            );
        }
        assert_eq!(c.stats().retransmits, 6);
    }

    #[test]
    fn replies_for_another_transaction_are_ignored_and_a_nak_restarts() {
        let mut s = server(100);
        let mut c = Client::new(MAC, 4);
        let t0 = Instant::from_secs(1);
        c.start(t0);
        let d = c.poll_transmit().unwrap();
        let offer = s.handle(t0, &d.payload).unwrap();
        let mut wrong = offer.message.clone();
        wrong.xid ^= 1;
        c.handle_datagram(t0, &wrong.emit());
        let mut other_mac = offer.message.clone();
        other_mac.chaddr = MacAddr([2, 0, 0, 0, 0, 0x42]);
        c.handle_datagram(t0, &other_mac.emit());
        assert_eq!(c.state(), State::Selecting);
        assert_eq!(c.stats().ignored, 2);
        c.handle_datagram(t0, &offer.payload);
        let req = c.poll_transmit().unwrap();
        // The server says no (e.g. the offer was given away meanwhile).
        let mut nak = DhcpRepr::new(MessageType::Nak, req.message.xid, MAC);
        nak.op_request = false;
        nak.server_id = offer.message.server_id;
        c.handle_datagram(t0, &nak.emit());
        assert_eq!(c.state(), State::Selecting);
        assert_eq!(c.stats().naks, 1);
        assert_eq!(
            c.poll_transmit().unwrap().message.message_type,
            MessageType::Discover
        );
    }
}
