//! A small authoritative name server (RFC 1035 §4.3.2, "standard query
//! processing", the authoritative part; no recursion, no zone transfer).
//!
//! [`Server::answer`] turns one query datagram into the response datagram
//! (or `None` when no response may be sent). It is the whole server: the
//! caller reads UDP port 53 and sends back what it returns.

use core::fmt;

use crate::wire::dns::{
    Class, Header, Message, Name, Opcode, Question, RData, Rcode, Record, Soa, Type, HEADER_LEN,
    MAX_UDP_LEN,
};

/// How many CNAME links one answer follows inside our zones.
const MAX_CNAME_CHAIN: usize = 8;

/// One zone: an origin, its SOA and the records at and below it.
#[derive(Debug, Clone)]
pub struct Zone {
    origin: Name,
    soa: Record,
    records: Vec<Record>,
}

/// Why a record was not added to a zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// The owner is outside the zone.
    #[error("{name} is not in zone {zone}")]
    OutOfZone {
        /// The owner name.
        name: String,
        /// The zone.
        zone: String,
    },
    /// A CNAME beside other data at the same name (RFC 1034 §3.6.2: "If a
    /// CNAME RR is present at a node, no other data should be present").
    #[error("{0} has a CNAME and other data")]
    CnameAndOtherData(String),
}

impl Zone {
    /// A zone for `origin` whose primary server is `ns` (an NS record and
    /// the SOA name it); `minimum` is the negative-answer TTL (RFC 2308).
    pub fn new(origin: Name, ns: Name, minimum: u32) -> Zone {
        // RFC 1035 §8: the mailbox hostmaster@origin as a name.
        let rname = Name::parse(&format!("hostmaster.{origin}")).unwrap_or_else(|_| origin.clone());
        let soa = Record::new(
            origin.clone(),
            3600,
            RData::Soa(Soa {
                mname: ns.clone(),
                rname,
                serial: 1,
                refresh: 3600,
                retry: 600,
                expire: 86400,
                minimum,
            }),
        );
        let ns = Record::new(origin.clone(), 3600, RData::Ns(ns));
        Zone {
            origin,
            records: vec![soa.clone(), ns],
            soa,
        }
    }

    /// The zone's origin.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// Adds a record owned by a name in the zone.
    pub fn add(&mut self, record: Record) -> Result<(), ZoneError> {
        if !record.name.is_subdomain_of(&self.origin) {
            return Err(ZoneError::OutOfZone {
                name: record.name.to_string(),
                zone: self.origin.to_string(),
            });
        }
        let at_name = |r: &&Record| r.name == record.name;
        let clash = if record.rtype == Type::CNAME {
            self.records.iter().any(|r| at_name(&r))
        } else {
            self.records
                .iter()
                .filter(at_name)
                .any(|r| r.rtype == Type::CNAME)
        };
        if clash {
            return Err(ZoneError::CnameAndOtherData(record.name.to_string()));
        }
        self.records.push(record);
        Ok(())
    }

    /// Adds an A record (a convenience over [`Zone::add`]).
    pub fn add_a(
        &mut self,
        name: Name,
        addr: core::net::Ipv4Addr,
        ttl: u32,
    ) -> Result<(), ZoneError> {
        self.add(Record::new(name, ttl, RData::A(addr)))
    }

    /// Records in the zone.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// True when `name` owns a record or has one below it (an empty
    /// non-terminal exists too, RFC 8020 §2).
    fn name_exists(&self, name: &Name) -> bool {
        self.records.iter().any(|r| r.name.is_subdomain_of(name))
    }
}

/// Counters of a [`Server`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Queries answered with NOERROR.
    pub answered: u64,
    /// NXDOMAIN responses.
    pub nxdomain: u64,
    /// REFUSED responses (a name in none of our zones).
    pub refused: u64,
    /// FORMERR and NOTIMP responses.
    pub errors: u64,
    /// Datagrams dropped without a response (responses, runts).
    pub dropped: u64,
    /// Responses sent with TC.
    pub truncated: u64,
}

/// An authoritative server for a set of zones.
#[derive(Debug, Clone, Default)]
pub struct Server {
    zones: Vec<Zone>,
    stats: ServerStats,
}

impl Server {
    /// A server with no zones (it refuses everything).
    pub fn new() -> Server {
        Server::default()
    }

    /// Serves `zone` too.
    pub fn add_zone(&mut self, zone: Zone) {
        self.zones.push(zone);
    }

    /// The zones.
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// Counters so far.
    pub fn stats(&self) -> ServerStats {
        self.stats
    }

    /// The response to one query datagram, at most 512 octets (RFC 1035
    /// §4.2.1), or `None` when none may be sent.
    pub fn answer(&mut self, query: &[u8]) -> Option<Vec<u8>> {
        self.answer_within(query, MAX_UDP_LEN)
    }

    /// [`Server::answer`] with another size limit (e.g. a TCP transport).
    pub fn answer_within(&mut self, query: &[u8], limit: usize) -> Option<Vec<u8>> {
        // Never answer a response or a runt: two servers would loop.
        if query.len() < HEADER_LEN || query[2] & 0x80 != 0 {
            self.stats.dropped += 1;
            return None;
        }
        let id = u16::from_be_bytes([query[0], query[1]]);
        let header = Header {
            id,
            response: true,
            opcode: (query[2] >> 3) & 0xf,
            // RFC 1035 §4.1.1: RD "is copied into the response".
            recursion_desired: query[2] & 0x01 != 0,
            ..Header::default()
        };
        // An error answer: the header with `rcode`, the questions echoed.
        let mut error = |rcode: Rcode, questions| {
            self.stats.errors += 1;
            Message {
                header: Header {
                    rcode: rcode.0,
                    ..header
                },
                questions,
                ..Message::default()
            }
        };
        let reply = match Message::parse(query) {
            // RFC 1035 §4.1.1 RCODE 1: "unable to interpret the query".
            Err(_) => error(Rcode::FORMERR, Vec::new()),
            Ok(q) if Opcode(q.header.opcode) != Opcode::QUERY => error(Rcode::NOTIMP, q.questions),
            // One question per query, as every implementation does (RFC
            // 9619 makes it a rule).
            Ok(q) if q.questions.len() != 1 => error(Rcode::FORMERR, Vec::new()),
            Ok(q) => self.lookup(header, &q.questions[0]),
        };
        let bytes = reply.emit_within(limit);
        // TC is bit 0x0200 of the flags word (RFC 1035 §4.1.1).
        if bytes[2] & 0x02 != 0 {
            self.stats.truncated += 1;
        }
        Some(bytes)
    }

    /// RFC 1035 §4.3.2 steps 2–6 for a server with only authoritative data.
    fn lookup(&mut self, header: Header, q: &Question) -> Message {
        let mut reply = Message {
            header,
            questions: vec![q.clone()],
            ..Message::default()
        };
        // Step 2: the nearest zone that holds the name.
        let Some(zone) = self
            .zones
            .iter()
            .filter(|z| q.name.is_subdomain_of(&z.origin))
            .max_by_key(|z| z.origin.labels().len())
        else {
            self.stats.refused += 1;
            reply.header.rcode = Rcode::REFUSED.0;
            return reply;
        };
        if q.qclass != Class::IN && q.qclass != Class::ANY {
            self.stats.refused += 1;
            reply.header.rcode = Rcode::REFUSED.0;
            return reply;
        }
        reply.header.authoritative = true;
        let mut name = q.name.clone();
        for _ in 0..MAX_CNAME_CHAIN {
            let here: Vec<&Record> = zone.records.iter().filter(|r| r.name == name).collect();
            // Step 3a: an alias is answered with its CNAME, then the search
            // goes on at the canonical name (RFC 1034 §3.6.2).
            if q.qtype != Type::CNAME {
                if let Some(c) = here.iter().find(|r| r.rtype == Type::CNAME) {
                    reply.answers.push((*c).clone());
                    if let RData::Cname(target) = &c.data {
                        if target.is_subdomain_of(&zone.origin) {
                            name = target.clone();
                            continue;
                        }
                    }
                    break;
                }
            }
            let matching: Vec<Record> = here
                .iter()
                .filter(|r| q.qtype == Type::ANY || r.rtype == q.qtype)
                .map(|r| (*r).clone())
                .collect();
            if matching.is_empty() {
                // RFC 2308 §2.1/§2.2: NXDOMAIN or NODATA, with the SOA in
                // the authority section so the negative answer can be cached.
                if reply.answers.is_empty() && !zone.name_exists(&name) {
                    reply.header.rcode = Rcode::NXDOMAIN.0;
                    self.stats.nxdomain += 1;
                } else {
                    self.stats.answered += 1;
                }
                let mut soa = zone.soa.clone();
                if let RData::Soa(s) = &soa.data {
                    soa.ttl = soa.ttl.min(s.minimum);
                }
                reply.authorities.push(soa);
                return reply;
            }
            reply.answers.extend(matching);
            break;
        }
        self.stats.answered += 1;
        // Step 6: addresses of the names NS and MX records give, when we
        // hold them.
        let targets: Vec<Name> = reply
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::Ns(n) => Some(n.clone()),
                RData::Mx { exchange, .. } => Some(exchange.clone()),
                _ => None,
            })
            .collect();
        for t in targets {
            for z in &self.zones {
                reply.additionals.extend(
                    z.records
                        .iter()
                        .filter(|r| r.name == t && r.rtype == Type::A)
                        .cloned(),
                );
            }
        }
        reply
    }
}

impl fmt::Display for Zone {
    /// The zone in master-file form (RFC 1035 §5).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ORIGIN {}.", self.origin)?;
        for r in &self.records {
            writeln!(f, "{}", crate::wire::dns::record_to_string(r))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn server() -> Server {
        let mut z = Zone::new(name("lab"), name("ns.lab"), 300);
        z.add_a(name("ns.lab"), Ipv4Addr::new(10, 0, 0, 53), 3600)
            .unwrap();
        z.add_a(name("web.lab"), Ipv4Addr::new(10, 0, 0, 80), 60)
            .unwrap();
        z.add(Record::new(
            name("www.lab"),
            60,
            RData::Cname(name("web.lab")),
        ))
        .unwrap();
        z.add(Record::new(
            name("lab"),
            60,
            RData::Mx {
                preference: 10,
                exchange: name("ns.lab"),
            },
        ))
        .unwrap();
        z.add_a(name("a.b.deep.lab"), Ipv4Addr::new(10, 0, 0, 9), 60)
            .unwrap();
        let mut s = Server::new();
        s.add_zone(z);
        s
    }

    fn query(id: u16, n: &str, t: Type) -> Vec<u8> {
        Message {
            header: Header {
                id,
                recursion_desired: true,
                ..Header::default()
            },
            questions: vec![Question {
                name: name(n),
                qtype: t,
                qclass: Class::IN,
            }],
            ..Message::default()
        }
        .emit()
    }

    fn ask(s: &mut Server, n: &str, t: Type) -> Message {
        Message::parse(&s.answer(&query(7, n, t)).unwrap()).unwrap()
    }

    #[test]
    fn an_a_query_is_answered_authoritatively() {
        let mut s = server();
        let r = ask(&mut s, "WEB.lab", Type::A);
        assert_eq!(r.header.id, 7);
        assert!(r.header.response && r.header.authoritative);
        assert!(r.header.recursion_desired, "RD copied");
        assert!(!r.header.recursion_available);
        assert_eq!(Rcode(r.header.rcode), Rcode::NOERROR);
        assert_eq!(
            r.addresses_for(&name("web.lab")),
            vec![Ipv4Addr::new(10, 0, 0, 80)]
        );
    }

    #[test]
    fn a_cname_is_followed_inside_the_zone() {
        let mut s = server();
        let r = ask(&mut s, "www.lab", Type::A);
        assert_eq!(r.answers.len(), 2);
        assert_eq!(r.answers[0].rtype, Type::CNAME);
        assert_eq!(
            r.addresses_for(&name("www.lab")),
            vec![Ipv4Addr::new(10, 0, 0, 80)]
        );
        // Asked for the CNAME itself: only it.
        let r = ask(&mut s, "www.lab", Type::CNAME);
        assert_eq!(r.answers.len(), 1);
    }

    #[test]
    fn missing_names_and_types_are_negative_answers_with_the_soa() {
        let mut s = server();
        let r = ask(&mut s, "nope.lab", Type::A);
        assert_eq!(Rcode(r.header.rcode), Rcode::NXDOMAIN);
        assert!(r.answers.is_empty());
        assert_eq!(r.authorities[0].rtype, Type::SOA);
        assert_eq!(r.authorities[0].ttl, 300, "RFC 2308: min(SOA TTL, MINIMUM)");
        // The name exists without an AAAA: NODATA.
        let r = ask(&mut s, "web.lab", Type::AAAA);
        assert_eq!(Rcode(r.header.rcode), Rcode::NOERROR);
        assert!(r.answers.is_empty());
        assert_eq!(r.authorities[0].rtype, Type::SOA);
        // An empty non-terminal exists too.
        let r = ask(&mut s, "b.deep.lab", Type::A);
        assert_eq!(Rcode(r.header.rcode), Rcode::NOERROR);
        assert_eq!(s.stats().nxdomain, 1);
    }

    #[test]
    fn names_outside_our_zones_are_refused() {
        let mut s = server();
        let r = ask(&mut s, "example.com", Type::A);
        assert_eq!(Rcode(r.header.rcode), Rcode::REFUSED);
        assert!(!r.header.authoritative);
        assert_eq!(s.stats().refused, 1);
    }

    #[test]
    fn mx_answers_carry_the_exchange_address() {
        let mut s = server();
        let r = ask(&mut s, "lab", Type::MX);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.additionals[0].data, RData::A(Ipv4Addr::new(10, 0, 0, 53)));
    }

    #[test]
    fn bad_queries_get_formerr_or_notimp_and_responses_get_nothing() {
        let mut s = server();
        // Truncated question: FORMERR with the same ID.
        let mut q = query(9, "web.lab", Type::A);
        q.truncate(q.len() - 3);
        let r = Message::parse(&s.answer(&q).unwrap()).unwrap();
        assert_eq!((r.header.id, Rcode(r.header.rcode)), (9, Rcode::FORMERR));
        // Opcode STATUS: NOTIMP.
        let mut q = query(10, "web.lab", Type::A);
        q[2] |= 2 << 3;
        let r = Message::parse(&s.answer(&q).unwrap()).unwrap();
        assert_eq!(Rcode(r.header.rcode), Rcode::NOTIMP);
        // A response is never answered; nor is a runt.
        let mut q = query(11, "web.lab", Type::A);
        q[2] |= 0x80;
        assert_eq!(s.answer(&q), None);
        assert_eq!(s.answer(&[1, 2, 3]), None);
        assert_eq!(s.stats().dropped, 2);
    }

    #[test]
    fn a_cname_cannot_sit_beside_other_data() {
        let mut z = Zone::new(name("lab"), name("ns.lab"), 60);
        z.add_a(name("x.lab"), Ipv4Addr::LOCALHOST, 1).unwrap();
        assert!(matches!(
            z.add(Record::new(name("x.lab"), 1, RData::Cname(name("y.lab")))),
            Err(ZoneError::CnameAndOtherData(_))
        ));
        assert!(matches!(
            z.add_a(name("x.other"), Ipv4Addr::LOCALHOST, 1),
            Err(ZoneError::OutOfZone { .. })
        ));
    }

    #[test]
    fn large_answers_are_truncated_to_512_octets() {
        let mut s = server();
        let mut z = Zone::new(name("big"), name("ns.big"), 60);
        for i in 0..100u8 {
            z.add_a(name("many.big"), Ipv4Addr::new(10, 1, 0, i), 60)
                .unwrap();
        }
        s.add_zone(z);
        let b = s.answer(&query(1, "many.big", Type::A)).unwrap();
        assert!(b.len() <= 512);
        assert!(Message::parse(&b).unwrap().header.truncated);
        assert_eq!(s.stats().truncated, 1);
    }
}
