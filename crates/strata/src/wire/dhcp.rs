//! DHCP messages (RFC 2131 §2, options RFC 2132) over the BOOTP format
//! (RFC 951).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +---------------+---------------+---------------+---------------+
//! |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
//! +---------------+---------------+---------------+---------------+
//! |                            xid (4)                            |
//! +-------------------------------+-------------------------------+
//! |           secs (2)            |           flags (2)           |
//! +-------------------------------+-------------------------------+
//! |        ciaddr, yiaddr, siaddr, giaddr (4 each)                |
//! +---------------------------------------------------------------+
//! |        chaddr (16), sname (64), file (128)                    |
//! +---------------------------------------------------------------+
//! |        magic cookie 99.130.83.99, options (variable)          |
//! +---------------------------------------------------------------+
//! ```
//!
//! [`DhcpPacket`] is the checked view of the fixed part; [`DhcpRepr`] the
//! message as a value with its options decoded. Options split over several
//! instances are joined (RFC 3396 §5), and the `file` and `sname` fields
//! are read for options when the overload option says so (RFC 2132 §9.3).

use core::fmt;
use core::net::Ipv4Addr;

use super::mac::MacAddr;
use super::{Error, Result};

/// The fixed BOOTP part up to the options (RFC 2131 §2).
pub const FIXED_LEN: usize = 236;
/// The magic cookie that starts the options (RFC 2131 §3, RFC 2132 §2).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// The smallest message emitted: BOOTP's 300 octets (RFC 951; RFC 1542
/// §3.1.1 pads to it), which some relays and clients insist on.
pub const MIN_LEN: usize = 300;
/// The server port (RFC 2131 §4.1).
pub const SERVER_PORT: u16 = 67;
/// The client port (RFC 2131 §4.1).
pub const CLIENT_PORT: u16 = 68;

/// Byte offsets of the fixed fields.
pub mod field {
    use core::ops::Range;
    /// 1 = BOOTREQUEST, 2 = BOOTREPLY.
    pub const OP: usize = 0;
    /// Hardware type (1 = Ethernet).
    pub const HTYPE: usize = 1;
    /// Hardware address length (6 for Ethernet).
    pub const HLEN: usize = 2;
    /// Relay hops.
    pub const HOPS: usize = 3;
    /// Transaction ID.
    pub const XID: Range<usize> = 4..8;
    /// Seconds since the client began.
    pub const SECS: Range<usize> = 8..10;
    /// Flags (bit 15: broadcast).
    pub const FLAGS: Range<usize> = 10..12;
    /// The client's address (when it has one).
    pub const CIADDR: Range<usize> = 12..16;
    /// "Your" address, given by the server.
    pub const YIADDR: Range<usize> = 16..20;
    /// The next server (boot).
    pub const SIADDR: Range<usize> = 20..24;
    /// The relay agent.
    pub const GIADDR: Range<usize> = 24..28;
    /// Client hardware address.
    pub const CHADDR: Range<usize> = 28..44;
    /// Server host name (or options, when overloaded).
    pub const SNAME: Range<usize> = 44..108;
    /// Boot file name (or options, when overloaded).
    pub const FILE: Range<usize> = 108..236;
    /// The magic cookie.
    pub const COOKIE: Range<usize> = 236..240;
    /// Start of the options.
    pub const OPTIONS: usize = 240;
}

/// Option codes (RFC 2132).
pub mod opt {
    /// Pad (§3.1).
    pub const PAD: u8 = 0;
    /// Subnet mask (§3.3).
    pub const SUBNET_MASK: u8 = 1;
    /// Routers (§3.5).
    pub const ROUTER: u8 = 3;
    /// Domain name servers (§3.8).
    pub const DNS: u8 = 6;
    /// Host name (§3.14).
    pub const HOSTNAME: u8 = 12;
    /// Domain name (§3.17).
    pub const DOMAIN_NAME: u8 = 15;
    /// Broadcast address (§5.3).
    pub const BROADCAST: u8 = 28;
    /// Requested IP address (§9.1).
    pub const REQUESTED_IP: u8 = 50;
    /// IP address lease time (§9.2).
    pub const LEASE_TIME: u8 = 51;
    /// Option overload (§9.3).
    pub const OVERLOAD: u8 = 52;
    /// DHCP message type (§9.6).
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier (§9.7).
    pub const SERVER_ID: u8 = 54;
    /// Parameter request list (§9.8).
    pub const PARAMETER_LIST: u8 = 55;
    /// Message (§9.9).
    pub const MESSAGE: u8 = 56;
    /// Maximum DHCP message size (§9.10).
    pub const MAX_SIZE: u8 = 57;
    /// Renewal (T1) time (§9.11).
    pub const RENEWAL_TIME: u8 = 58;
    /// Rebinding (T2) time (§9.12).
    pub const REBINDING_TIME: u8 = 59;
    /// Client identifier (§9.14).
    pub const CLIENT_ID: u8 = 61;
    /// End (§3.2).
    pub const END: u8 = 255;
}

/// The DHCP message type (RFC 2132 §9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Client broadcast to locate servers.
    Discover,
    /// Server to client with an offer of parameters.
    Offer,
    /// Client to servers: take one offer, confirm, or extend a lease.
    Request,
    /// Client to server: the address is already in use.
    Decline,
    /// Server to client: the parameters, committed address included.
    Ack,
    /// Server to client: the client's notion of its address is wrong.
    Nak,
    /// Client to server: giving up the address.
    Release,
    /// Client to server: local parameters only (it has an address).
    Inform,
}

impl MessageType {
    /// The option value.
    pub fn code(self) -> u8 {
        match self {
            MessageType::Discover => 1,
            MessageType::Offer => 2,
            MessageType::Request => 3,
            MessageType::Decline => 4,
            MessageType::Ack => 5,
            MessageType::Nak => 6,
            MessageType::Release => 7,
            MessageType::Inform => 8,
        }
    }
    /// The type for an option value.
    pub fn from_code(c: u8) -> Option<MessageType> {
        Some(match c {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            _ => return None,
        })
    }
    /// True for the types a client sends (BOOTREQUEST).
    pub fn from_client(self) -> bool {
        matches!(
            self,
            MessageType::Discover
                | MessageType::Request
                | MessageType::Decline
                | MessageType::Release
                | MessageType::Inform
        )
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageType::Discover => "DHCPDISCOVER",
            MessageType::Offer => "DHCPOFFER",
            MessageType::Request => "DHCPREQUEST",
            MessageType::Decline => "DHCPDECLINE",
            MessageType::Ack => "DHCPACK",
            MessageType::Nak => "DHCPNAK",
            MessageType::Release => "DHCPRELEASE",
            MessageType::Inform => "DHCPINFORM",
        })
    }
}

/// A zero-copy view of a DHCP message: the fixed part and the cookie are
/// checked on creation.
#[derive(Debug, Clone)]
pub struct DhcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DhcpPacket<T> {
    /// Wraps a buffer (the UDP payload), checking it holds the 240 octets
    /// up to and including the magic cookie, and that the cookie is there
    /// (a plain BOOTP message is [`Error::Unsupported`]).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < field::OPTIONS {
            return Err(Error::Truncated);
        }
        if b[field::COOKIE] != MAGIC_COOKIE {
            return Err(Error::Unsupported);
        }
        Ok(DhcpPacket { buffer })
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    fn addr(&self, r: core::ops::Range<usize>) -> Ipv4Addr {
        let b = &self.b()[r];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
    /// 1 = BOOTREQUEST, 2 = BOOTREPLY.
    pub fn op(&self) -> u8 {
        self.b()[field::OP]
    }
    /// Transaction ID.
    pub fn xid(&self) -> u32 {
        let b = &self.b()[field::XID];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    /// The client's hardware address (Ethernet only).
    pub fn chaddr(&self) -> MacAddr {
        let b = &self.b()[field::CHADDR];
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }
    /// `ciaddr`.
    pub fn ciaddr(&self) -> Ipv4Addr {
        self.addr(field::CIADDR)
    }
    /// `yiaddr`.
    pub fn yiaddr(&self) -> Ipv4Addr {
        self.addr(field::YIADDR)
    }
    /// `giaddr`.
    pub fn giaddr(&self) -> Ipv4Addr {
        self.addr(field::GIADDR)
    }
}

/// A DHCP message as a value. Options this module does not decode are
/// kept in [`DhcpRepr::other`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpRepr {
    /// BOOTREQUEST (client to server) or BOOTREPLY.
    pub op_request: bool,
    /// The message type (option 53).
    pub message_type: MessageType,
    /// Transaction ID, chosen by the client.
    pub xid: u32,
    /// Seconds since the client began acquiring or renewing.
    pub secs: u16,
    /// The client asks for broadcast replies (RFC 2131 §4.1, flags bit 15).
    pub broadcast: bool,
    /// Relay hops.
    pub hops: u8,
    /// `ciaddr`: the client's address in BOUND, RENEWING, REBINDING.
    pub ciaddr: Ipv4Addr,
    /// `yiaddr`: the address offered or assigned.
    pub yiaddr: Ipv4Addr,
    /// `siaddr`: the next server in bootstrap.
    pub siaddr: Ipv4Addr,
    /// `giaddr`: the relay agent.
    pub giaddr: Ipv4Addr,
    /// The client's Ethernet address.
    pub chaddr: MacAddr,
    /// Subnet mask (1).
    pub subnet_mask: Option<Ipv4Addr>,
    /// Routers (3), preferred first.
    pub routers: Vec<Ipv4Addr>,
    /// Domain name servers (6).
    pub dns_servers: Vec<Ipv4Addr>,
    /// Host name (12).
    pub hostname: Option<Vec<u8>>,
    /// Domain name (15).
    pub domain_name: Option<Vec<u8>>,
    /// Broadcast address (28).
    pub broadcast_addr: Option<Ipv4Addr>,
    /// Requested IP address (50).
    pub requested_ip: Option<Ipv4Addr>,
    /// Lease time in seconds (51); `u32::MAX` is infinite.
    pub lease_time: Option<u32>,
    /// Server identifier (54).
    pub server_id: Option<Ipv4Addr>,
    /// Parameter request list (55).
    pub parameter_list: Vec<u8>,
    /// Message (56), a reason for a NAK or DECLINE.
    pub message: Option<Vec<u8>>,
    /// Maximum DHCP message size (57).
    pub max_size: Option<u16>,
    /// Renewal time T1 in seconds (58).
    pub renewal_time: Option<u32>,
    /// Rebinding time T2 in seconds (59).
    pub rebinding_time: Option<u32>,
    /// Client identifier (61).
    pub client_id: Option<Vec<u8>>,
    /// Other options, code and data, in order of first appearance.
    pub other: Vec<(u8, Vec<u8>)>,
}

impl DhcpRepr {
    /// A message with every field empty.
    pub fn new(message_type: MessageType, xid: u32, chaddr: MacAddr) -> DhcpRepr {
        DhcpRepr {
            op_request: message_type.from_client(),
            message_type,
            xid,
            secs: 0,
            broadcast: false,
            hops: 0,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            subnet_mask: None,
            routers: Vec::new(),
            dns_servers: Vec::new(),
            hostname: None,
            domain_name: None,
            broadcast_addr: None,
            requested_ip: None,
            lease_time: None,
            server_id: None,
            parameter_list: Vec::new(),
            message: None,
            max_size: None,
            renewal_time: None,
            rebinding_time: None,
            client_id: None,
            other: Vec::new(),
        }
    }

    /// Parses a message. Ethernet clients only (htype 1, hlen 6); a message
    /// without option 53 is plain BOOTP ([`Error::Unsupported`]).
    pub fn parse<T: AsRef<[u8]>>(p: &DhcpPacket<T>) -> Result<DhcpRepr> {
        let b = p.b();
        let op_request = match b[field::OP] {
            1 => true,
            2 => false,
            _ => return Err(Error::Malformed),
        };
        if b[field::HTYPE] != 1 || b[field::HLEN] != 6 {
            return Err(Error::Unsupported);
        }
        // Collect (code, data) from the options field, then from `file`
        // and `sname` when overloaded, joining repeated codes (RFC 3396).
        let mut opts: Vec<(u8, Vec<u8>)> = Vec::new();
        let overload = walk_options(&b[field::OPTIONS..], &mut opts)?;
        // RFC 2132 §9.3: 1 = file holds options, 2 = sname, 3 = both; file
        // is read before sname (RFC 3396 §5).
        if overload & 1 != 0 {
            walk_options(&b[field::FILE], &mut opts)?;
        }
        if overload & 2 != 0 {
            walk_options(&b[field::SNAME], &mut opts)?;
        }
        let mtype = opts
            .iter()
            .find(|(c, _)| *c == opt::MESSAGE_TYPE)
            .ok_or(Error::Unsupported)?;
        let message_type = match mtype.1.as_slice() {
            [c] => MessageType::from_code(*c).ok_or(Error::Unsupported)?,
            _ => return Err(Error::BadOption),
        };
        let flags = u16::from_be_bytes([b[10], b[11]]);
        let mut r = DhcpRepr::new(message_type, p.xid(), p.chaddr());
        r.op_request = op_request;
        r.secs = u16::from_be_bytes([b[8], b[9]]);
        r.broadcast = flags & 0x8000 != 0;
        r.hops = b[field::HOPS];
        r.ciaddr = p.ciaddr();
        r.yiaddr = p.yiaddr();
        r.siaddr = p.addr(field::SIADDR);
        r.giaddr = p.giaddr();
        for (code, data) in opts {
            match code {
                opt::MESSAGE_TYPE | opt::OVERLOAD => {}
                opt::SUBNET_MASK => r.subnet_mask = Some(one_addr(&data)?),
                opt::ROUTER => r.routers = addrs(&data)?,
                opt::DNS => r.dns_servers = addrs(&data)?,
                opt::HOSTNAME => r.hostname = Some(data),
                opt::DOMAIN_NAME => r.domain_name = Some(data),
                opt::BROADCAST => r.broadcast_addr = Some(one_addr(&data)?),
                opt::REQUESTED_IP => r.requested_ip = Some(one_addr(&data)?),
                opt::LEASE_TIME => r.lease_time = Some(u32_of(&data)?),
                opt::SERVER_ID => r.server_id = Some(one_addr(&data)?),
                opt::PARAMETER_LIST => r.parameter_list = data,
                opt::MESSAGE => r.message = Some(data),
                opt::MAX_SIZE => {
                    let [h, l] = data[..] else {
                        return Err(Error::BadOption);
                    };
                    r.max_size = Some(u16::from_be_bytes([h, l]));
                }
                opt::RENEWAL_TIME => r.renewal_time = Some(u32_of(&data)?),
                opt::REBINDING_TIME => r.rebinding_time = Some(u32_of(&data)?),
                opt::CLIENT_ID => r.client_id = Some(data),
                _ => r.other.push((code, data)),
            }
        }
        Ok(r)
    }

    /// The message on the wire, padded to [`MIN_LEN`]. Options longer than
    /// 255 octets are split into several instances (RFC 3396 §5).
    pub fn emit(&self) -> Vec<u8> {
        let mut b = vec![0u8; field::OPTIONS];
        b[field::OP] = if self.op_request { 1 } else { 2 };
        b[field::HTYPE] = 1;
        b[field::HLEN] = 6;
        b[field::HOPS] = self.hops;
        b[field::XID].copy_from_slice(&self.xid.to_be_bytes());
        b[field::SECS].copy_from_slice(&self.secs.to_be_bytes());
        // RFC 2131 §2: the other 15 flag bits MUST be zero.
        let flags: u16 = if self.broadcast { 0x8000 } else { 0 };
        b[field::FLAGS].copy_from_slice(&flags.to_be_bytes());
        b[field::CIADDR].copy_from_slice(&self.ciaddr.octets());
        b[field::YIADDR].copy_from_slice(&self.yiaddr.octets());
        b[field::SIADDR].copy_from_slice(&self.siaddr.octets());
        b[field::GIADDR].copy_from_slice(&self.giaddr.octets());
        b[field::CHADDR][..6].copy_from_slice(&self.chaddr.octets());
        b[field::COOKIE].copy_from_slice(&MAGIC_COOKIE);
        // RFC 2131 §4.1: the message type comes first among the options
        // by convention (and some clients look for it there).
        put(&mut b, opt::MESSAGE_TYPE, &[self.message_type.code()]);
        let addr = |a: &Ipv4Addr| a.octets();
        if let Some(a) = &self.server_id {
            put(&mut b, opt::SERVER_ID, &addr(a));
        }
        if let Some(t) = self.lease_time {
            put(&mut b, opt::LEASE_TIME, &t.to_be_bytes());
        }
        if let Some(t) = self.renewal_time {
            put(&mut b, opt::RENEWAL_TIME, &t.to_be_bytes());
        }
        if let Some(t) = self.rebinding_time {
            put(&mut b, opt::REBINDING_TIME, &t.to_be_bytes());
        }
        if let Some(a) = &self.subnet_mask {
            put(&mut b, opt::SUBNET_MASK, &addr(a));
        }
        if let Some(a) = &self.broadcast_addr {
            put(&mut b, opt::BROADCAST, &addr(a));
        }
        for (code, list) in [(opt::ROUTER, &self.routers), (opt::DNS, &self.dns_servers)] {
            if !list.is_empty() {
                let data: Vec<u8> = list.iter().flat_map(|a| a.octets()).collect();
                put(&mut b, code, &data);
            }
        }
        if let Some(d) = &self.domain_name {
            put(&mut b, opt::DOMAIN_NAME, d);
        }
        if let Some(d) = &self.hostname {
            put(&mut b, opt::HOSTNAME, d);
        }
        if let Some(a) = &self.requested_ip {
            put(&mut b, opt::REQUESTED_IP, &addr(a));
        }
        if !self.parameter_list.is_empty() {
            put(&mut b, opt::PARAMETER_LIST, &self.parameter_list);
        }
        if let Some(m) = &self.message {
            put(&mut b, opt::MESSAGE, m);
        }
        if let Some(s) = self.max_size {
            put(&mut b, opt::MAX_SIZE, &s.to_be_bytes());
        }
        if let Some(c) = &self.client_id {
            put(&mut b, opt::CLIENT_ID, c);
        }
        for (code, data) in &self.other {
            put(&mut b, *code, data);
        }
        b.push(opt::END);
        if b.len() < MIN_LEN {
            b.resize(MIN_LEN, 0);
        }
        b
    }
}

/// Appends option `code` with `data`, split into 255-octet instances.
fn put(b: &mut Vec<u8>, code: u8, data: &[u8]) {
    // A zero-length option is one instance with no data.
    if data.is_empty() {
        b.extend_from_slice(&[code, 0]);
    }
    for chunk in data.chunks(255) {
        b.push(code);
        b.push(chunk.len() as u8);
        b.extend_from_slice(chunk);
    }
}

/// Reads one options area into `opts` (joining repeated codes) and returns
/// the overload option's value (0 if absent). Stops at END; an area that
/// ends without END is accepted (many clients omit it in `file`/`sname`).
fn walk_options(area: &[u8], opts: &mut Vec<(u8, Vec<u8>)>) -> Result<u8> {
    let mut i = 0;
    let mut overload = 0;
    while i < area.len() {
        let code = area[i];
        match code {
            opt::PAD => {
                i += 1;
                continue;
            }
            opt::END => break,
            _ => {}
        }
        let len = usize::from(*area.get(i + 1).ok_or(Error::BadOption)?);
        let data = area.get(i + 2..i + 2 + len).ok_or(Error::BadOption)?;
        if code == opt::OVERLOAD {
            overload = match data {
                [v @ 1..=3] => *v,
                _ => return Err(Error::BadOption),
            };
        }
        // RFC 3396 §7: the instances of one option are concatenated.
        match opts.iter_mut().find(|(c, _)| *c == code) {
            Some((_, d)) => d.extend_from_slice(data),
            None => opts.push((code, data.to_vec())),
        }
        i += 2 + len;
    }
    Ok(overload)
}

fn one_addr(d: &[u8]) -> Result<Ipv4Addr> {
    match *d {
        [a, b, c, e] => Ok(Ipv4Addr::new(a, b, c, e)),
        _ => Err(Error::BadOption),
    }
}

fn addrs(d: &[u8]) -> Result<Vec<Ipv4Addr>> {
    // RFC 2132 §3.5, §3.8: a non-empty multiple of 4.
    if d.is_empty() || !d.len().is_multiple_of(4) {
        return Err(Error::BadOption);
    }
    Ok(d.chunks_exact(4)
        .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
        .collect())
}

fn u32_of(d: &[u8]) -> Result<u32> {
    match *d {
        [a, b, c, e] => Ok(u32::from_be_bytes([a, b, c, e])),
        _ => Err(Error::BadOption),
    }
}

impl fmt::Display for DhcpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} xid={:#010x} chaddr={}",
            self.message_type, self.xid, self.chaddr
        )?;
        if !self.ciaddr.is_unspecified() {
            write!(f, " ciaddr={}", self.ciaddr)?;
        }
        if !self.yiaddr.is_unspecified() {
            write!(f, " yiaddr={}", self.yiaddr)?;
        }
        if let Some(a) = self.requested_ip {
            write!(f, " requested={a}")?;
        }
        if let Some(a) = self.server_id {
            write!(f, " server={a}")?;
        }
        if let Some(t) = self.lease_time {
            write!(f, " lease={t}s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 7]);

    fn ack() -> DhcpRepr {
        let mut r = DhcpRepr::new(MessageType::Ack, 0xdead_beef, MAC);
        r.yiaddr = Ipv4Addr::new(10, 0, 0, 100);
        r.server_id = Some(Ipv4Addr::new(10, 0, 0, 1));
        r.lease_time = Some(3600);
        r.renewal_time = Some(1800);
        r.rebinding_time = Some(3150);
        r.subnet_mask = Some(Ipv4Addr::new(255, 255, 255, 0));
        r.routers = vec![Ipv4Addr::new(10, 0, 0, 1)];
        r.dns_servers = vec![Ipv4Addr::new(10, 0, 0, 53), Ipv4Addr::new(10, 0, 0, 54)];
        r.domain_name = Some(b"lab".to_vec());
        r.other = vec![(42, vec![10, 0, 0, 123])];
        r
    }

    fn parse(b: &[u8]) -> Result<DhcpRepr> {
        DhcpRepr::parse(&DhcpPacket::new_checked(b)?)
    }

    #[test]
    fn round_trip_and_layout() {
        let r = ack();
        let b = r.emit();
        assert!(b.len() >= MIN_LEN);
        assert_eq!(parse(&b).unwrap(), r);
        assert_eq!(b[0], 2, "BOOTREPLY");
        assert_eq!(&b[4..8], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(&b[16..20], &[10, 0, 0, 100]);
        assert_eq!(&b[236..240], &MAGIC_COOKIE);
        assert_eq!(&b[240..243], &[53, 1, 5], "message type first");
    }

    #[test]
    fn a_discover_is_a_bootrequest_with_the_broadcast_flag() {
        let mut r = DhcpRepr::new(MessageType::Discover, 1, MAC);
        r.broadcast = true;
        r.parameter_list = vec![1, 3, 6];
        let b = r.emit();
        assert_eq!(b.len(), MIN_LEN, "padded to BOOTP's 300 octets");
        assert_eq!(b[0], 1);
        assert_eq!(&b[10..12], &[0x80, 0]);
        assert_eq!(parse(&b).unwrap(), r);
    }

    #[test]
    fn long_options_are_split_and_joined() {
        let mut r = ack();
        r.dns_servers = (0..100).map(|i| Ipv4Addr::new(10, 1, 0, i)).collect();
        let b = r.emit();
        // 400 octets of servers: two instances of option 6.
        let p = parse(&b).unwrap();
        assert_eq!(p.dns_servers.len(), 100);
        assert_eq!(p, r);
    }

    #[test]
    fn overloaded_file_and_sname_carry_options() {
        let mut b = DhcpRepr::new(MessageType::Offer, 9, MAC).emit();
        // Replace END with overload=3, then END.
        let end = b.iter().rposition(|&x| x == opt::END).unwrap();
        b.truncate(end);
        b.extend_from_slice(&[opt::OVERLOAD, 1, 3, opt::END]);
        b[field::FILE.start..field::FILE.start + 6].copy_from_slice(&[
            opt::LEASE_TIME,
            4,
            0,
            0,
            0x0e,
            0x10,
        ]);
        b[field::FILE.start + 6] = opt::END;
        b[field::SNAME.start..field::SNAME.start + 6].copy_from_slice(&[
            opt::SERVER_ID,
            4,
            10,
            0,
            0,
            1,
        ]);
        let p = parse(&b).unwrap();
        assert_eq!(p.lease_time, Some(3600));
        assert_eq!(p.server_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
    }

    #[test]
    fn malformed_messages_are_typed_errors() {
        let b = ack().emit();
        assert_eq!(parse(&b[..239]), Err(Error::Truncated));
        let mut no_cookie = b.clone();
        no_cookie[236] = 0;
        assert_eq!(parse(&no_cookie), Err(Error::Unsupported));
        // An option running past the end.
        let mut bad = b[..243].to_vec();
        bad.extend_from_slice(&[opt::LEASE_TIME, 4, 0]);
        assert_eq!(parse(&bad), Err(Error::BadOption));
        // A lease time of 3 octets.
        let mut bad = b[..243].to_vec();
        bad.extend_from_slice(&[opt::LEASE_TIME, 3, 0, 0, 1, opt::END]);
        assert_eq!(parse(&bad), Err(Error::BadOption));
        // No message type: BOOTP.
        let mut bootp = b[..240].to_vec();
        bootp.push(opt::END);
        assert_eq!(parse(&bootp), Err(Error::Unsupported));
        // A routers option of 5 octets.
        let mut bad = b[..243].to_vec();
        bad.extend_from_slice(&[opt::ROUTER, 5, 1, 2, 3, 4, 5, opt::END]);
        assert_eq!(parse(&bad), Err(Error::BadOption));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut b = ack().emit()[..240].to_vec();
            b.extend_from_slice(&tail);
            if let Ok(r) = parse(&b) {
                // What parses re-emits to the same value.
                proptest::prop_assert_eq!(parse(&r.emit()).unwrap(), r);
            }
        }
    }
}
