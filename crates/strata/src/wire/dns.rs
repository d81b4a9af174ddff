//! DNS messages (RFC 1035 §4): header, questions, resource records, and
//! name compression.
//!
//! ```text
//!                                 1  1  1  1  1  1
//!   0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                      ID                       |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |QR|   Opcode  |AA|TC|RD|RA|   Z    |   RCODE   |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                    QDCOUNT                    |
//! |                    ANCOUNT                    |
//! |                    NSCOUNT                    |
//! |                    ARCOUNT                    |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! | question | answer | authority | additional    |
//! ```
//!
//! [`DnsPacket`] is the checked view of the fixed header; [`Message`] is
//! the whole message as a value, parsed with every name decompressed and
//! emitted with names compressed (RFC 1035 §4.1.4). Parsing never panics
//! and never loops: a compression pointer must point strictly backwards.

use core::fmt;
use core::net::Ipv4Addr;

use super::{Error, Result};

/// Length of the fixed header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;

/// The largest message carried over UDP without EDNS (RFC 1035 §2.3.4).
pub const MAX_UDP_LEN: usize = 512;

/// The longest name on the wire, length octets included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;

/// The longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// Byte offsets of the header fields.
pub mod field {
    use core::ops::Range;
    /// Query identifier, copied into the response.
    pub const ID: Range<usize> = 0..2;
    /// QR, Opcode, AA, TC, RD, RA, Z, RCODE.
    pub const FLAGS: Range<usize> = 2..4;
    /// Number of questions.
    pub const QDCOUNT: Range<usize> = 4..6;
    /// Number of answer records.
    pub const ANCOUNT: Range<usize> = 6..8;
    /// Number of authority records.
    pub const NSCOUNT: Range<usize> = 8..10;
    /// Number of additional records.
    pub const ARCOUNT: Range<usize> = 10..12;
}

/// A zero-copy view of a DNS message's fixed header.
#[derive(Debug, Clone)]
pub struct DnsPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DnsPacket<T> {
    /// Wraps a buffer, checking that it holds the 12-byte header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(DnsPacket { buffer })
    }
    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[r.start], b[r.start + 1]])
    }
    /// Query identifier.
    pub fn id(&self) -> u16 {
        self.u16_at(field::ID)
    }
    /// The flags word.
    pub fn flags(&self) -> u16 {
        self.u16_at(field::FLAGS)
    }
    /// QR: a response (true) or a query.
    pub fn is_response(&self) -> bool {
        self.flags() & 0x8000 != 0
    }
    /// Opcode.
    pub fn opcode(&self) -> Opcode {
        Opcode(((self.flags() >> 11) & 0xf) as u8)
    }
    /// RD: recursion desired.
    pub fn recursion_desired(&self) -> bool {
        self.flags() & 0x0100 != 0
    }
    /// Question count.
    pub fn question_count(&self) -> u16 {
        self.u16_at(field::QDCOUNT)
    }
}

/// The kind of query (RFC 1035 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Opcode(pub u8);

impl Opcode {
    /// A standard query.
    pub const QUERY: Opcode = Opcode(0);
    /// An inverse query (obsolete, RFC 3425).
    pub const IQUERY: Opcode = Opcode(1);
    /// A server status request.
    pub const STATUS: Opcode = Opcode(2);
}

/// The response code (RFC 1035 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rcode(pub u8);

impl Rcode {
    /// No error.
    pub const NOERROR: Rcode = Rcode(0);
    /// The server could not interpret the query.
    pub const FORMERR: Rcode = Rcode(1);
    /// The server failed.
    pub const SERVFAIL: Rcode = Rcode(2);
    /// The name does not exist (meaningful from an authoritative server).
    pub const NXDOMAIN: Rcode = Rcode(3);
    /// The kind of query is not implemented.
    pub const NOTIMP: Rcode = Rcode(4);
    /// The server refuses (e.g. a name outside its zones).
    pub const REFUSED: Rcode = Rcode(5);
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rcode::NOERROR => f.write_str("NOERROR"),
            Rcode::FORMERR => f.write_str("FORMERR"),
            Rcode::SERVFAIL => f.write_str("SERVFAIL"),
            Rcode::NXDOMAIN => f.write_str("NXDOMAIN"),
            Rcode::NOTIMP => f.write_str("NOTIMP"),
            Rcode::REFUSED => f.write_str("REFUSED"),
            Rcode(n) => write!(f, "RCODE{n}"),
        }
    }
}

/// A record or query type (RFC 1035 §3.2.2, §3.2.3; AAAA: RFC 3596).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Type(pub u16);

impl Type {
    /// A host address.
    pub const A: Type = Type(1);
    /// An authoritative name server.
    pub const NS: Type = Type(2);
    /// The canonical name of an alias.
    pub const CNAME: Type = Type(5);
    /// The start of a zone of authority.
    pub const SOA: Type = Type(6);
    /// A domain name pointer.
    pub const PTR: Type = Type(12);
    /// Mail exchange.
    pub const MX: Type = Type(15);
    /// Text strings.
    pub const TXT: Type = Type(16);
    /// An IPv6 host address (RFC 3596).
    pub const AAAA: Type = Type(28);
    /// QTYPE `*`: all records (RFC 1035 §3.2.3).
    pub const ANY: Type = Type(255);
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match *self {
            Type::A => "A",
            Type::NS => "NS",
            Type::CNAME => "CNAME",
            Type::SOA => "SOA",
            Type::PTR => "PTR",
            Type::MX => "MX",
            Type::TXT => "TXT",
            Type::AAAA => "AAAA",
            Type::ANY => "ANY",
            Type(n) => return write!(f, "TYPE{n}"),
        };
        f.write_str(s)
    }
}

/// A class (RFC 1035 §3.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Class(pub u16);

impl Class {
    /// The Internet.
    pub const IN: Class = Class(1);
    /// QCLASS `*`.
    pub const ANY: Class = Class(255);
}

/// Why a text name is not a valid domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// A label is empty (`a..b`) or longer than 63 octets.
    #[error("label of {0} octets (1 to 63 allowed)")]
    BadLabel(usize),
    /// The name is longer than 255 octets on the wire.
    #[error("name of {0} octets on the wire (255 allowed)")]
    TooLong(usize),
}

/// A domain name: its labels, without the root's empty label. Compared
/// case-insensitively (RFC 1035 §2.3.3, RFC 4343).
#[derive(Clone, Default, Eq)]
pub struct Name {
    labels: Vec<Vec<u8>>,
}

impl Name {
    /// The root, `.`.
    pub fn root() -> Name {
        Name::default()
    }
    /// Parses dotted text (`www.lab`, a trailing dot allowed; `.` is the root).
    pub fn parse(text: &str) -> core::result::Result<Name, NameError> {
        let t = text.strip_suffix('.').unwrap_or(text);
        if t.is_empty() {
            return Ok(Name::root());
        }
        let mut labels = Vec::new();
        for l in t.split('.') {
            if l.is_empty() || l.len() > MAX_LABEL_LEN {
                return Err(NameError::BadLabel(l.len()));
            }
            labels.push(l.as_bytes().to_vec());
        }
        let n = Name { labels };
        if n.wire_len() > MAX_NAME_LEN {
            return Err(NameError::TooLong(n.wire_len()));
        }
        Ok(n)
    }
    /// The labels, most specific first.
    pub fn labels(&self) -> &[Vec<u8>] {
        &self.labels
    }
    /// Octets on the wire uncompressed (length octets and the root's zero).
    pub fn wire_len(&self) -> usize {
        self.labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1
    }
    /// True when `self` is `zone` or below it.
    pub fn is_subdomain_of(&self, zone: &Name) -> bool {
        let (n, z) = (self.labels.len(), zone.labels.len());
        n >= z && Name::labels_eq(&self.labels[n - z..], &zone.labels)
    }
    /// The name with its first label removed (`None` for the root).
    pub fn parent(&self) -> Option<Name> {
        (!self.labels.is_empty()).then(|| Name {
            labels: self.labels[1..].to_vec(),
        })
    }
    fn labels_eq(a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
    }
    /// Lower-cased labels (the key for compression and lookups).
    fn folded(&self) -> Vec<Vec<u8>> {
        self.labels.iter().map(|l| l.to_ascii_lowercase()).collect()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        Name::labels_eq(&self.labels, &other.labels)
    }
}

impl core::hash::Hash for Name {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.folded().hash(state)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.labels.is_empty() {
            return f.write_str(".");
        }
        for (i, l) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            for &c in l {
                // RFC 1035 §5.1: \DDD for octets that are not printable.
                if c.is_ascii_graphic() && c != b'.' && c != b'\\' {
                    write!(f, "{}", c as char)?;
                } else {
                    write!(f, "\\{c:03}")?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

impl core::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> core::result::Result<Name, NameError> {
        Name::parse(s)
    }
}

/// A question (RFC 1035 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// QNAME.
    pub name: Name,
    /// QTYPE.
    pub qtype: Type,
    /// QCLASS.
    pub qclass: Class,
}

/// The data of a resource record (RFC 1035 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    /// A: an IPv4 address (RFC 1035 §3.4.1).
    A(Ipv4Addr),
    /// NS: a name server (§3.3.11).
    Ns(Name),
    /// CNAME: the canonical name (§3.3.1).
    Cname(Name),
    /// PTR: a pointer to a name (§3.3.12).
    Ptr(Name),
    /// MX: preference and exchange (§3.3.9).
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The mail host.
        exchange: Name,
    },
    /// TXT: one or more character strings (§3.3.14).
    Txt(Vec<Vec<u8>>),
    /// SOA: the zone's authority data (§3.3.13).
    Soa(Soa),
    /// AAAA: an IPv6 address (RFC 3596 §2.2).
    Aaaa([u8; 16]),
    /// Any other type, kept as raw bytes.
    Other(Vec<u8>),
}

/// The fields of an SOA record (RFC 1035 §3.3.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    /// The primary name server.
    pub mname: Name,
    /// The responsible person's mailbox.
    pub rname: Name,
    /// Version of the zone.
    pub serial: u32,
    /// Seconds before a secondary refreshes.
    pub refresh: u32,
    /// Seconds before a failed refresh is retried.
    pub retry: u32,
    /// Seconds after which a secondary stops answering.
    pub expire: u32,
    /// TTL of negative answers (RFC 2308 §4).
    pub minimum: u32,
}

/// A resource record (RFC 1035 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Owner name.
    pub name: Name,
    /// TYPE.
    pub rtype: Type,
    /// CLASS.
    pub class: Class,
    /// Seconds it may be cached.
    pub ttl: u32,
    /// RDATA.
    pub data: RData,
}

impl Record {
    /// An `IN` record whose type follows from `data` (`Other` needs
    /// [`Record::raw`]).
    pub fn new(name: Name, ttl: u32, data: RData) -> Record {
        let rtype = match &data {
            RData::A(_) => Type::A,
            RData::Ns(_) => Type::NS,
            RData::Cname(_) => Type::CNAME,
            RData::Ptr(_) => Type::PTR,
            RData::Mx { .. } => Type::MX,
            RData::Txt(_) => Type::TXT,
            RData::Soa(_) => Type::SOA,
            RData::Aaaa(_) => Type::AAAA,
            RData::Other(_) => Type(0),
        };
        Record {
            name,
            rtype,
            class: Class::IN,
            ttl,
            data,
        }
    }
}

/// The header as a value (RFC 1035 §4.1.1); the counts follow from the
/// sections of the [`Message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Identifier, copied from query to response.
    pub id: u16,
    /// QR: this is a response.
    pub response: bool,
    /// Opcode.
    pub opcode: u8,
    /// AA: authoritative answer.
    pub authoritative: bool,
    /// TC: truncated.
    pub truncated: bool,
    /// RD: recursion desired.
    pub recursion_desired: bool,
    /// RA: recursion available.
    pub recursion_available: bool,
    /// RCODE.
    pub rcode: u8,
}

impl Header {
    fn from_flags(id: u16, f: u16) -> Header {
        Header {
            id,
            response: f & 0x8000 != 0,
            opcode: ((f >> 11) & 0xf) as u8,
            authoritative: f & 0x0400 != 0,
            truncated: f & 0x0200 != 0,
            recursion_desired: f & 0x0100 != 0,
            recursion_available: f & 0x0080 != 0,
            // The Z bits (0x0070) are ignored on receipt.
            rcode: (f & 0xf) as u8,
        }
    }
    fn flags(&self) -> u16 {
        // RFC 1035 §4.1.1: Z "must be zero in all queries and responses".
        (u16::from(self.response) << 15)
            | (u16::from(self.opcode & 0xf) << 11)
            | (u16::from(self.authoritative) << 10)
            | (u16::from(self.truncated) << 9)
            | (u16::from(self.recursion_desired) << 8)
            | (u16::from(self.recursion_available) << 7)
            | u16::from(self.rcode & 0xf)
    }
}

/// A whole DNS message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// The question section.
    pub questions: Vec<Question>,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authorities: Vec<Record>,
    /// The additional section.
    pub additionals: Vec<Record>,
}

/// Reads names, questions and records from a whole message.
struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Error::Truncated)?;
        let b = self.msg.get(self.pos..end).ok_or(Error::Truncated)?;
        self.pos = end;
        Ok(b)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A name at the current position, following compression pointers
    /// (RFC 1035 §4.1.4). Each pointer must point before the pointer itself
    /// ("a prior occurrence"), so the walk ends on any input.
    fn name(&mut self) -> Result<Name> {
        let mut labels = Vec::new();
        let mut wire_len = 1;
        let mut at = self.pos;
        let mut resume = None;
        loop {
            let len = *self.msg.get(at).ok_or(Error::Truncated)?;
            match len & 0xc0 {
                0x00 => {
                    if len == 0 {
                        self.pos = resume.unwrap_or(at + 1);
                        return Ok(Name { labels });
                    }
                    let l = usize::from(len);
                    let label = self.msg.get(at + 1..at + 1 + l).ok_or(Error::Truncated)?;
                    wire_len += l + 1;
                    if wire_len > MAX_NAME_LEN {
                        return Err(Error::Malformed);
                    }
                    labels.push(label.to_vec());
                    at += 1 + l;
                }
                0xc0 => {
                    let lo = *self.msg.get(at + 1).ok_or(Error::Truncated)?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
                    if target >= at {
                        return Err(Error::Malformed);
                    }
                    if resume.is_none() {
                        resume = Some(at + 2);
                    }
                    at = target;
                }
                // 0x40 and 0x80: reserved label types (RFC 6891 §5 retired
                // the extended label type).
                _ => return Err(Error::Unsupported),
            }
        }
    }

    fn question(&mut self) -> Result<Question> {
        let name = self.name()?;
        Ok(Question {
            name,
            qtype: Type(self.u16()?),
            qclass: Class(self.u16()?),
        })
    }

    fn record(&mut self) -> Result<Record> {
        let name = self.name()?;
        let rtype = Type(self.u16()?);
        let class = Class(self.u16()?);
        let ttl = self.u32()?;
        let rdlen = usize::from(self.u16()?);
        let start = self.pos;
        let end = start.checked_add(rdlen).ok_or(Error::Truncated)?;
        if end > self.msg.len() {
            return Err(Error::Truncated);
        }
        let data = match rtype {
            Type::A if rdlen == 4 => {
                let b = self.bytes(4)?;
                RData::A(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            Type::AAAA if rdlen == 16 => {
                let mut a = [0; 16];
                a.copy_from_slice(self.bytes(16)?);
                RData::Aaaa(a)
            }
            Type::A | Type::AAAA => return Err(Error::BadLength),
            Type::NS => RData::Ns(self.name()?),
            Type::CNAME => RData::Cname(self.name()?),
            Type::PTR => RData::Ptr(self.name()?),
            Type::MX => RData::Mx {
                preference: self.u16()?,
                exchange: self.name()?,
            },
            Type::SOA => RData::Soa(Soa {
                mname: self.name()?,
                rname: self.name()?,
                serial: self.u32()?,
                refresh: self.u32()?,
                retry: self.u32()?,
                expire: self.u32()?,
                minimum: self.u32()?,
            }),
            Type::TXT => {
                let mut strings = Vec::new();
                while self.pos < end {
                    let l = usize::from(self.u8()?);
                    strings.push(self.bytes(l)?.to_vec());
                }
                RData::Txt(strings)
            }
            _ => RData::Other(self.bytes(rdlen)?.to_vec()),
        };
        // The RDATA must be exactly RDLENGTH octets.
        if self.pos != end {
            return Err(Error::BadLength);
        }
        Ok(Record {
            name,
            rtype,
            class,
            ttl,
            data,
        })
    }
}

/// Writes a message, compressing names against earlier ones.
struct Writer {
    out: Vec<u8>,
    /// Folded name suffixes already written and their offsets.
    seen: Vec<(Vec<Vec<u8>>, u16)>,
}

impl Writer {
    fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    /// RFC 1035 §4.1.4: a name is a sequence of labels ending in a zero
    /// octet or a pointer to a prior occurrence of its suffix.
    fn name(&mut self, n: &Name) {
        let folded = n.folded();
        for i in 0..folded.len() {
            let suffix = &folded[i..];
            if let Some(&(_, off)) = self.seen.iter().find(|(s, _)| s.as_slice() == suffix) {
                self.u16(0xc000 | off);
                return;
            }
            // Offsets past 14 bits cannot be pointed at.
            if let Ok(off) = u16::try_from(self.out.len()) {
                if off < 0x4000 {
                    self.seen.push((suffix.to_vec(), off));
                }
            }
            let l = &n.labels[i];
            self.out.push(l.len() as u8);
            self.out.extend_from_slice(l);
        }
        self.out.push(0);
    }
    fn question(&mut self, q: &Question) {
        self.name(&q.name);
        self.u16(q.qtype.0);
        self.u16(q.qclass.0);
    }
    fn record(&mut self, r: &Record) {
        self.name(&r.name);
        self.u16(r.rtype.0);
        self.u16(r.class.0);
        self.u32(r.ttl);
        let len_at = self.out.len();
        self.u16(0);
        match &r.data {
            RData::A(a) => self.out.extend_from_slice(&a.octets()),
            RData::Aaaa(a) => self.out.extend_from_slice(a),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => self.name(n),
            RData::Mx {
                preference,
                exchange,
            } => {
                self.u16(*preference);
                self.name(exchange);
            }
            RData::Soa(s) => {
                self.name(&s.mname);
                self.name(&s.rname);
                for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
                    self.u32(v);
                }
            }
            RData::Txt(strings) => {
                for s in strings {
                    let s = &s[..s.len().min(255)];
                    self.out.push(s.len() as u8);
                    self.out.extend_from_slice(s);
                }
            }
            RData::Other(b) => self.out.extend_from_slice(b),
        }
        let rdlen = (self.out.len() - len_at - 2) as u16;
        self.out[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
    }
}

impl Message {
    /// Parses a whole message. Every count is honoured: a message that ends
    /// before its sections do is [`Error::Truncated`]; octets after the last
    /// record are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Message> {
        let p = DnsPacket::new_checked(bytes)?;
        let header = Header::from_flags(p.id(), p.flags());
        let counts = [
            p.u16_at(field::QDCOUNT),
            p.u16_at(field::ANCOUNT),
            p.u16_at(field::NSCOUNT),
            p.u16_at(field::ARCOUNT),
        ];
        let mut r = Reader {
            msg: bytes,
            pos: HEADER_LEN,
        };
        // Each entry takes at least 5 octets: a count larger than the bytes
        // left is refused before anything is allocated for it.
        let room = (bytes.len() - HEADER_LEN) / 5;
        if counts.iter().map(|&c| usize::from(c)).sum::<usize>() > room {
            return Err(Error::Truncated);
        }
        let mut m = Message {
            header,
            ..Message::default()
        };
        for _ in 0..counts[0] {
            m.questions.push(r.question()?);
        }
        for _ in 0..counts[1] {
            m.answers.push(r.record()?);
        }
        for _ in 0..counts[2] {
            m.authorities.push(r.record()?);
        }
        for _ in 0..counts[3] {
            m.additionals.push(r.record()?);
        }
        Ok(m)
    }

    /// The message on the wire, names compressed.
    pub fn emit(&self) -> Vec<u8> {
        self.emit_within(usize::MAX)
    }

    /// The message in at most `limit` octets (at least the header and the
    /// questions): records that do not fit are left out from the end and
    /// TC is set (RFC 1035 §4.2.1: "messages carried by UDP are restricted
    /// to 512 bytes"; §4.1.1 TC). A limit below the header and questions
    /// yields them anyway, as the smallest well-formed reply.
    pub fn emit_within(&self, limit: usize) -> Vec<u8> {
        let mut w = Writer {
            out: Vec::with_capacity(MAX_UDP_LEN),
            seen: Vec::new(),
        };
        w.out.extend_from_slice(&[0; HEADER_LEN]);
        for q in &self.questions {
            w.question(q);
        }
        let mut counts = [self.questions.len() as u16, 0, 0, 0];
        let mut truncated = self.header.truncated;
        'sections: for (i, sect) in [&self.answers, &self.authorities, &self.additionals]
            .into_iter()
            .enumerate()
        {
            for rec in sect {
                let (len, seen) = (w.out.len(), w.seen.len());
                w.record(rec);
                if w.out.len() > limit {
                    w.out.truncate(len);
                    w.seen.truncate(seen);
                    // Leaving out additional records alone is not
                    // truncation (RFC 2181 §9).
                    truncated |= i < 2;
                    break 'sections;
                }
                counts[i + 1] += 1;
            }
        }
        let h = Header {
            truncated,
            ..self.header
        };
        w.out[field::ID].copy_from_slice(&h.id.to_be_bytes());
        w.out[field::FLAGS].copy_from_slice(&h.flags().to_be_bytes());
        for (i, c) in counts.into_iter().enumerate() {
            let at = 4 + 2 * i;
            w.out[at..at + 2].copy_from_slice(&c.to_be_bytes());
        }
        w.out
    }

    /// The IPv4 addresses the answer section gives for `name`, following
    /// CNAME records in it (at most 8 links).
    pub fn addresses_for(&self, name: &Name) -> Vec<Ipv4Addr> {
        let mut target = name.clone();
        for _ in 0..8 {
            let addrs: Vec<Ipv4Addr> = self
                .answers
                .iter()
                .filter(|r| r.name == target)
                .filter_map(|r| match r.data {
                    RData::A(a) => Some(a),
                    _ => None,
                })
                .collect();
            if !addrs.is_empty() {
                return addrs;
            }
            match self.answers.iter().find_map(|r| match &r.data {
                RData::Cname(c) if r.name == target => Some(c.clone()),
                _ => None,
            }) {
                Some(c) => target = c,
                None => break,
            }
        }
        Vec::new()
    }
}

/// A name in the form a resolver query for `addr` uses
/// (`4.3.2.1.in-addr.arpa`, RFC 1035 §3.5).
pub fn reverse_name(addr: Ipv4Addr) -> Name {
    let o = addr.octets();
    let mut labels: Vec<Vec<u8>> = o
        .iter()
        .rev()
        .map(|b| format!("{b}").into_bytes())
        .collect();
    labels.push(b"in-addr".to_vec());
    labels.push(b"arpa".to_vec());
    Name { labels }
}

/// Renders a record the way zone files and `dig` show it.
pub fn record_to_string(r: &Record) -> String {
    let data = match &r.data {
        RData::A(a) => format!("{a}"),
        RData::Aaaa(a) => format!("{}", core::net::Ipv6Addr::from(*a)),
        RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => format!("{n}."),
        RData::Mx {
            preference,
            exchange,
        } => format!("{preference} {exchange}."),
        RData::Txt(s) => s
            .iter()
            .map(|t| format!("\"{}\"", String::from_utf8_lossy(t)))
            .collect::<Vec<_>>()
            .join(" "),
        RData::Soa(s) => format!(
            "{}. {}. {} {} {} {} {}",
            s.mname, s.rname, s.serial, s.refresh, s.retry, s.expire, s.minimum
        ),
        RData::Other(b) => format!("\\# {}", b.len()),
    };
    format!("{}. {} IN {} {}", r.name, r.ttl, r.rtype, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn sample() -> Message {
        Message {
            header: Header {
                id: 0xbeef,
                response: true,
                authoritative: true,
                recursion_desired: true,
                ..Header::default()
            },
            questions: vec![Question {
                name: name("www.lab"),
                qtype: Type::A,
                qclass: Class::IN,
            }],
            answers: vec![
                Record::new(name("www.lab"), 60, RData::Cname(name("web.lab"))),
                Record::new(name("web.lab"), 60, RData::A(Ipv4Addr::new(10, 0, 0, 5))),
            ],
            authorities: vec![Record::new(name("lab"), 3600, RData::Ns(name("ns.lab")))],
            additionals: vec![
                Record::new(name("ns.lab"), 3600, RData::A(Ipv4Addr::new(10, 0, 0, 53))),
                Record::new(name("lab"), 60, RData::Txt(vec![b"hello".to_vec()])),
                Record::new(
                    name("lab"),
                    60,
                    RData::Mx {
                        preference: 10,
                        exchange: name("mail.lab"),
                    },
                ),
            ],
        }
    }

    #[test]
    fn round_trip_with_compression() {
        let m = sample();
        let b = m.emit();
        assert_eq!(Message::parse(&b).unwrap(), m);
        // "lab" is written once in full; later names point at it.
        assert_eq!(b.windows(4).filter(|w| w == b"\x03lab").count(), 1);
        assert!(b.len() < 140, "{} octets", b.len());
    }

    #[test]
    fn header_bits_are_where_rfc_1035_puts_them() {
        let m = Message {
            header: Header {
                id: 0x1234,
                response: true,
                opcode: 2,
                authoritative: true,
                truncated: true,
                recursion_desired: true,
                recursion_available: true,
                rcode: 3,
            },
            ..Message::default()
        };
        let b = m.emit();
        assert_eq!(&b[..4], &[0x12, 0x34, 0x97, 0x83]);
    }

    #[test]
    fn names_compare_without_case_and_print_dotted() {
        assert_eq!(name("WWW.Lab."), name("www.lab"));
        assert_eq!(name("www.lab").to_string(), "www.lab");
        assert_eq!(Name::root().to_string(), ".");
        assert!(name("a.b.lab").is_subdomain_of(&name("LAB")));
        assert!(!name("lab").is_subdomain_of(&name("a.lab")));
        assert_eq!(
            Name::parse("a..b"),
            Err(NameError::BadLabel(0)),
            "empty label"
        );
        assert!(Name::parse(&"x".repeat(64)).is_err());
        let long = vec!["a".repeat(63); 4].join(".");
        assert_eq!(Name::parse(&long), Err(NameError::TooLong(257)));
        assert_eq!(
            reverse_name(Ipv4Addr::new(10, 0, 0, 5)).to_string(),
            "5.0.0.10.in-addr.arpa"
        );
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_refused() {
        let mut b = vec![0u8; 12];
        b[5] = 1; // one question
                  // A name that is a pointer to itself.
        b.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(Message::parse(&b), Err(Error::Malformed));
        // A pointer to a later position.
        b[12..14].copy_from_slice(&[0xc0, 14]);
        assert_eq!(Message::parse(&b), Err(Error::Malformed));
    }

    #[test]
    fn truncation_sets_tc_and_keeps_the_question() {
        let mut m = sample();
        for i in 0..60 {
            m.answers.push(Record::new(
                name("web.lab"),
                60,
                RData::A(Ipv4Addr::new(10, 0, 1, i)),
            ));
        }
        let b = m.emit_within(MAX_UDP_LEN);
        assert!(b.len() <= MAX_UDP_LEN);
        let p = Message::parse(&b).unwrap();
        assert!(p.header.truncated);
        assert_eq!(p.questions, m.questions);
        assert!(p.answers.len() < m.answers.len());
        assert!(p.additionals.is_empty());
        // Leaving out only additional records is not truncation.
        let small = sample();
        let full = small.emit().len();
        let b = small.emit_within(full - 5);
        let p = Message::parse(&b).unwrap();
        assert!(!p.header.truncated);
        assert_eq!(p.answers, small.answers);
        assert!(p.additionals.len() < small.additionals.len());
    }

    #[test]
    fn counts_larger_than_the_message_are_refused_without_allocating() {
        let mut b = vec![0u8; 12];
        b[4..12].copy_from_slice(&[0xff; 8]);
        assert_eq!(Message::parse(&b), Err(Error::Truncated));
    }

    #[test]
    fn rdata_must_fill_rdlength_exactly() {
        let m = Message {
            answers: vec![Record::new(name("a"), 1, RData::Ns(name("b")))],
            ..Message::default()
        };
        let mut b = m.emit();
        // Claim one more RDATA octet than the name takes.
        let n = b.len();
        b[n - 4] += 1;
        b.push(0);
        assert_eq!(Message::parse(&b), Err(Error::BadLength));
        // An A record of 5 octets.
        let m = Message {
            answers: vec![Record::new(name("a"), 1, RData::A(Ipv4Addr::LOCALHOST))],
            ..Message::default()
        };
        let mut b = m.emit();
        let n = b.len();
        b[n - 5] = 5;
        b.push(0);
        assert_eq!(Message::parse(&b), Err(Error::BadLength));
    }

    #[test]
    fn addresses_follow_cnames() {
        let m = sample();
        assert_eq!(
            m.addresses_for(&name("WWW.lab")),
            vec![Ipv4Addr::new(10, 0, 0, 5)]
        );
        assert!(m.addresses_for(&name("other.lab")).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            if let Ok(m) = Message::parse(&bytes) {
                // Whatever parses re-emits to something that parses the same.
                let again = Message::parse(&m.emit()).unwrap();
                proptest::prop_assert_eq!(again.questions, m.questions);
            }
        }
    }
}
