//! A stub resolver (RFC 1035 §7, RFC 1123 §6.1.3.1): it sends each
//! question to the configured servers in turn, retransmits on a timeout,
//! and accepts only a response that matches what it asked (RFC 5452 §9.1:
//! source address and port, query ID, and question).
//!
//! Sans-IO, in the stack's rhythm: [`Resolver::query`] starts a lookup,
//! [`Resolver::poll_transmit`] gives the datagrams to send (from one UDP
//! socket, whose random source port is the other half of RFC 5452's
//! entropy), [`Resolver::handle_datagram`] takes what came back on that
//! socket, [`Resolver::handle_timeout`] runs the retransmission timers
//! ([`Resolver::poll_timeout`] says when), and [`Resolver::poll_result`]
//! hands out finished lookups.

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::{BTreeMap, VecDeque};

use crate::time::{Duration, Instant};
use crate::wire::dns::{Class, Header, Message, Name, Question, Rcode, Record, Type};

/// Identifies one lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(pub u64);

/// How a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The authoritative answer: the name does not exist (RFC 1035 §4.1.1).
    #[error("{0}: no such name (NXDOMAIN)")]
    NxDomain(Name),
    /// A server answered with an error code (SERVFAIL, REFUSED, ...).
    #[error("server {server} answered {rcode}")]
    Rcode {
        /// The server.
        server: SocketAddrV4,
        /// Its code.
        rcode: Rcode,
    },
    /// The answer did not fit in a UDP datagram (TC) and this resolver
    /// does not retry over TCP.
    #[error("the answer was truncated")]
    Truncated,
    /// No server answered after every attempt.
    #[error("no answer after {0} attempts")]
    Timeout(u32),
    /// The resolver has no server to ask.
    #[error("no name server configured")]
    NoServer,
}

/// A successful lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The question asked.
    pub name: Name,
    /// Its type.
    pub qtype: Type,
    /// The server that answered.
    pub server: SocketAddrV4,
    /// The answer section (may be empty: the name has no such record).
    pub records: Vec<Record>,
    /// The IPv4 addresses for the name, CNAMEs followed.
    pub addresses: Vec<Ipv4Addr>,
    /// AA: the server is authoritative for the name.
    pub authoritative: bool,
    /// Attempts it took (1 when the first datagram was answered).
    pub attempts: u32,
    /// From the first transmission to the answer.
    pub elapsed: Duration,
}

/// A datagram for the caller to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to (a server, port 53).
    pub to: SocketAddrV4,
    /// The query.
    pub payload: Vec<u8>,
}

/// Counters of a [`Resolver`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResolverStats {
    /// Queries sent, retransmissions included.
    pub sent: u64,
    /// Retransmissions.
    pub retransmits: u64,
    /// Responses accepted.
    pub accepted: u64,
    /// Datagrams ignored: unparsable, unknown ID, wrong server, wrong
    /// question (RFC 5452 §9.1).
    pub ignored: u64,
}

#[derive(Debug)]
struct Pending {
    qid: QueryId,
    question: Question,
    /// The server the current attempt went to.
    server: usize,
    attempt: u32,
    deadline: Instant,
    started: Instant,
}

/// The stub resolver.
#[derive(Debug)]
pub struct Resolver {
    servers: Vec<SocketAddrV4>,
    timeout: Duration,
    attempts: u32,
    rng: u64,
    next_qid: u64,
    /// Outstanding queries by message ID.
    pending: BTreeMap<u16, Pending>,
    out: VecDeque<Transmit>,
    results: VecDeque<(QueryId, Result<Answer, ResolveError>)>,
    stats: ResolverStats,
}

impl Resolver {
    /// A resolver asking `servers` in order; `seed` drives the query IDs.
    /// Defaults: 2 s per attempt, 4 attempts across the servers
    /// (RFC 1536 §1 warns against shorter timers and endless retries).
    pub fn new(servers: Vec<SocketAddrV4>, seed: u64) -> Resolver {
        Resolver {
            servers,
            timeout: Duration::from_secs(2),
            attempts: 4,
            rng: seed ^ 0x9e37_79b9_7f4a_7c15,
            next_qid: 0,
            pending: BTreeMap::new(),
            out: VecDeque::new(),
            results: VecDeque::new(),
            stats: ResolverStats::default(),
        }
    }

    /// Sets the time one attempt waits and how many attempts a lookup makes.
    pub fn set_retry(&mut self, timeout: Duration, attempts: u32) {
        self.timeout = timeout;
        self.attempts = attempts.max(1);
    }

    /// Counters so far.
    pub fn stats(&self) -> ResolverStats {
        self.stats
    }

    /// Lookups still waiting for an answer.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// SplitMix64: IDs must be unpredictable to an off-path attacker
    /// (RFC 5452 §4.3), and reproducible from the seed in the simulator.
    fn random(&mut self) -> u64 {
        crate::secret::splitmix64(&mut self.rng)
    }

    /// Starts looking up `name`'s records of `qtype`.
    pub fn query(&mut self, now: Instant, name: Name, qtype: Type) -> QueryId {
        let qid = QueryId(self.next_qid);
        self.next_qid += 1;
        let question = Question {
            name,
            qtype,
            qclass: Class::IN,
        };
        if self.servers.is_empty() {
            self.results.push_back((qid, Err(ResolveError::NoServer)));
            return qid;
        }
        // A fresh random ID not in use by another outstanding query.
        let id = loop {
            let id = self.random() as u16;
            if !self.pending.contains_key(&id) {
                break id;
            }
        };
        let p = Pending {
            qid,
            question,
            server: 0,
            attempt: 1,
            deadline: now + self.timeout,
            started: now,
        };
        self.transmit(id, &p);
        self.pending.insert(id, p);
        qid
    }

    fn transmit(&mut self, id: u16, p: &Pending) {
        let msg = Message {
            header: Header {
                id,
                // A stub asks its server to recurse (RFC 1123 §6.1.3.1).
                recursion_desired: true,
                ..Header::default()
            },
            questions: vec![p.question.clone()],
            ..Message::default()
        };
        self.stats.sent += 1;
        self.out.push_back(Transmit {
            to: self.servers[p.server],
            payload: msg.emit(),
        });
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// The next finished lookup.
    pub fn poll_result(&mut self) -> Option<(QueryId, Result<Answer, ResolveError>)> {
        self.results.pop_front()
    }

    /// When [`Resolver::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Retransmits the queries whose attempt timed out, to the next server
    /// (RFC 1035 §7.2: "the resolver should cycle around all of the
    /// addresses"), and fails those out of attempts.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            let Some(mut p) = self.pending.remove(&id) else {
                continue;
            };
            if p.attempt >= self.attempts {
                self.results
                    .push_back((p.qid, Err(ResolveError::Timeout(p.attempt))));
                continue;
            }
            p.attempt += 1;
            p.server = (p.server + 1) % self.servers.len();
            // RFC 1536 §1: back off rather than retransmit at a fixed rate
            // (doubling per full round of the server list).
            let rounds = (p.attempt - 1) / self.servers.len() as u32;
            p.deadline = now + self.timeout * (1u32 << rounds.min(4));
            self.stats.retransmits += 1;
            self.transmit(id, &p);
            self.pending.insert(id, p);
        }
    }

    /// A datagram that arrived on the resolver's socket from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddrV4, payload: &[u8]) {
        let Ok(msg) = Message::parse(payload) else {
            self.stats.ignored += 1;
            return;
        };
        let id = msg.header.id;
        // RFC 5452 §9.1: accept only a response from the server asked (any
        // of them, for a late answer to an earlier attempt), to the ID in
        // flight, for the question asked.
        let ok = msg.header.response
            && self.pending.get(&id).is_some_and(|p| {
                self.servers.contains(&from)
                    && msg.questions.len() == 1
                    && msg.questions[0] == p.question
            });
        if !ok {
            self.stats.ignored += 1;
            return;
        }
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        self.stats.accepted += 1;
        let rcode = Rcode(msg.header.rcode);
        let result = if msg.header.truncated {
            Err(ResolveError::Truncated)
        } else if rcode == Rcode::NXDOMAIN {
            Err(ResolveError::NxDomain(p.question.name))
        } else if rcode != Rcode::NOERROR {
            Err(ResolveError::Rcode {
                server: from,
                rcode,
            })
        } else {
            Ok(Answer {
                addresses: msg.addresses_for(&p.question.name),
                name: p.question.name,
                qtype: p.question.qtype,
                server: from,
                authoritative: msg.header.authoritative,
                records: msg.answers,
                attempts: p.attempt,
                elapsed: now.saturating_duration_since(p.started),
            })
        };
        self.results.push_back((p.qid, result));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::dns::server::{Server, Zone};

    const S1: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 53), 53);
    const S2: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 54), 53);

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn server() -> Server {
        let mut z = Zone::new(name("lab"), name("ns.lab"), 60);
        z.add_a(name("web.lab"), Ipv4Addr::new(10, 0, 0, 80), 60)
            .unwrap();
        let mut s = Server::new();
        s.add_zone(z);
        s
    }

    #[test]
    fn a_lookup_is_answered_by_our_server() {
        let mut r = Resolver::new(vec![S1], 1);
        let mut s = server();
        let t0 = Instant::from_millis(5);
        let q = r.query(t0, name("web.lab"), Type::A);
        let tx = r.poll_transmit().unwrap();
        assert_eq!(tx.to, S1);
        let reply = s.answer(&tx.payload).unwrap();
        r.handle_datagram(t0 + Duration::from_millis(3), S1, &reply);
        let (id, res) = r.poll_result().unwrap();
        assert_eq!(id, q);
        let a = res.unwrap();
        assert_eq!(a.addresses, vec![Ipv4Addr::new(10, 0, 0, 80)]);
        assert!(a.authoritative);
        assert_eq!((a.attempts, a.elapsed), (1, Duration::from_millis(3)));
        assert_eq!(r.outstanding(), 0);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn forged_or_mismatched_responses_are_ignored() {
        let mut r = Resolver::new(vec![S1], 2);
        let mut s = server();
        let now = Instant::from_millis(1);
        r.query(now, name("web.lab"), Type::A);
        let tx = r.poll_transmit().unwrap();
        let reply = s.answer(&tx.payload).unwrap();
        // From another address.
        let other = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 66), 53);
        r.handle_datagram(now, other, &reply);
        // Another ID.
        let mut wrong_id = reply.clone();
        wrong_id[0] ^= 0x5a;
        r.handle_datagram(now, S1, &wrong_id);
        // Another question under the right ID.
        let mut q2 = Message::parse(&tx.payload).unwrap();
        q2.questions[0].name = name("evil.lab");
        let mut forged = Message::parse(&s.answer(&q2.emit()).unwrap()).unwrap();
        forged.header.rcode = 0;
        r.handle_datagram(now, S1, &forged.emit());
        // The query itself echoed back (QR clear).
        r.handle_datagram(now, S1, &tx.payload);
        assert_eq!(r.stats().ignored, 4);
        assert!(r.poll_result().is_none());
        r.handle_datagram(now, S1, &reply);
        assert!(r.poll_result().unwrap().1.is_ok());
    }

    #[test]
    fn retransmits_cycle_the_servers_then_time_out() {
        let mut r = Resolver::new(vec![S1, S2], 3);
        r.set_retry(Duration::from_secs(1), 3);
        let t0 = Instant::from_secs(1);
        let q = r.query(t0, name("web.lab"), Type::A);
        assert_eq!(r.poll_transmit().unwrap().to, S1);
        assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        r.handle_timeout(t0 + Duration::from_millis(999));
        assert!(r.poll_transmit().is_none(), "not before the deadline");
        let t1 = t0 + Duration::from_secs(1);
        r.handle_timeout(t1);
        assert_eq!(r.poll_transmit().unwrap().to, S2);
        // Third attempt: a new round of the list, twice the wait.
        r.handle_timeout(t1 + Duration::from_secs(1));
        assert_eq!(r.poll_transmit().unwrap().to, S1);
        assert_eq!(
            r.poll_timeout(),
            Some(t1 + Duration::from_secs(1) + Duration::from_secs(2))
        );
        r.handle_timeout(t1 + Duration::from_secs(3));
        assert_eq!(r.poll_result(), Some((q, Err(ResolveError::Timeout(3)))));
        assert_eq!(r.stats().retransmits, 2);
    }

    #[test]
    fn negative_and_error_answers_are_errors() {
        let mut r = Resolver::new(vec![S1], 4);
        let mut s = server();
        let now = Instant::from_millis(1);
        r.query(now, name("nope.lab"), Type::A);
        let tx = r.poll_transmit().unwrap();
        r.handle_datagram(now, S1, &s.answer(&tx.payload).unwrap());
        assert_eq!(
            r.poll_result().unwrap().1,
            Err(ResolveError::NxDomain(name("nope.lab")))
        );
        r.query(now, name("example.com"), Type::A);
        let tx = r.poll_transmit().unwrap();
        r.handle_datagram(now, S1, &s.answer(&tx.payload).unwrap());
        assert_eq!(
            r.poll_result().unwrap().1,
            Err(ResolveError::Rcode {
                server: S1,
                rcode: Rcode::REFUSED
            })
        );
    }

    #[test]
    fn ids_are_random_and_distinct_while_outstanding() {
        let mut r = Resolver::new(vec![S1], 5);
        let now = Instant::from_millis(1);
        let mut ids = Vec::new();
        for i in 0..50 {
            r.query(now, name(&format!("h{i}.lab")), Type::A);
            let tx = r.poll_transmit().unwrap();
            ids.push(u16::from_be_bytes([tx.payload[0], tx.payload[1]]));
        }
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 50);
        assert!(ids.windows(2).any(|w| w[1] != w[0].wrapping_add(1)));
    }
}
