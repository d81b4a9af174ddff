//! ICMP for IPv4 (RFC 792): echo, destination unreachable (with RFC 1191
//! next-hop MTU), time exceeded, and any other type carried opaquely.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Echo: Identifier / unused   | Echo: Seq / Next-hop MTU      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Echo data, or Internet Header + 64 bits of Original Data ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;
use core::net::Ipv4Addr;

use super::checksum;
use super::ipv4::IpProtocol;
use super::{Error, Result};

/// Length of the ICMP header (type, code, checksum, 4 type-specific bytes).
pub const HEADER_LEN: usize = 8;

/// Byte offsets of the header fields.
pub mod field {
    use core::ops::Range;
    /// Message type.
    pub const TYPE: usize = 0;
    /// Message code.
    pub const CODE: usize = 1;
    /// Checksum over the whole message.
    pub const CHECKSUM: Range<usize> = 2..4;
    /// Echo identifier (echo request/reply).
    pub const ECHO_IDENT: Range<usize> = 4..6;
    /// Echo sequence number (echo request/reply).
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    /// The four type-specific bytes ("rest of header").
    pub const REST: Range<usize> = 4..8;
    /// Next-hop MTU in a "fragmentation needed" message (RFC 1191 §4).
    pub const NEXT_HOP_MTU: Range<usize> = 6..8;
    /// Start of the data (echo data or quoted datagram).
    pub const DATA: usize = 8;
}

/// Message types (RFC 792).
pub mod msg_type {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const DST_UNREACHABLE: u8 = 3;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
}

/// Destination unreachable codes (RFC 792, RFC 1122 §3.2.2.1).
pub mod unreachable {
    /// Net unreachable.
    pub const NET: u8 = 0;
    /// Host unreachable.
    pub const HOST: u8 = 1;
    /// Protocol unreachable.
    pub const PROTOCOL: u8 = 2;
    /// Port unreachable.
    pub const PORT: u8 = 3;
    /// Fragmentation needed and DF set (carries the next-hop MTU, RFC 1191).
    pub const FRAG_NEEDED: u8 = 4;
    /// Source route failed.
    pub const SOURCE_ROUTE_FAILED: u8 = 5;
    /// Communication administratively prohibited (RFC 1812 §5.2.7.1).
    pub const ADMIN_PROHIBITED: u8 = 13;

    /// A human name for a code.
    pub fn name(code: u8) -> &'static str {
        match code {
            NET => "Network unreachable",
            HOST => "Host unreachable",
            PROTOCOL => "Protocol unreachable",
            PORT => "Port unreachable",
            FRAG_NEEDED => "Fragmentation needed",
            SOURCE_ROUTE_FAILED => "Source route failed",
            ADMIN_PROHIBITED => "Administratively prohibited",
            _ => "other",
        }
    }
}

/// Time exceeded codes (RFC 792).
pub mod time_exceeded {
    /// Time to live exceeded in transit.
    pub const TTL: u8 = 0;
    /// Fragment reassembly time exceeded.
    pub const REASSEMBLY: u8 = 1;

    /// A human name for a code.
    pub fn name(code: u8) -> &'static str {
        match code {
            TTL => "TTL exceeded in transit",
            REASSEMBLY => "Fragment reassembly time exceeded",
            _ => "other",
        }
    }
}

/// A zero-copy view of an ICMPv4 message, length checked on creation.
#[derive(Debug, Clone)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }
    /// Wraps a buffer, checking it holds the 8-byte header. The whole buffer
    /// is the message (pass the IPv4 payload).
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Icmpv4Packet { buffer })
    }
    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[r.start], b[r.start + 1]])
    }
    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    /// Message code.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    /// Echo identifier.
    pub fn echo_ident(&self) -> u16 {
        self.u16_at(field::ECHO_IDENT)
    }
    /// Echo sequence number.
    pub fn echo_seq_no(&self) -> u16 {
        self.u16_at(field::ECHO_SEQNO)
    }
    /// Next-hop MTU (meaningful for "fragmentation needed").
    pub fn next_hop_mtu(&self) -> u16 {
        self.u16_at(field::NEXT_HOP_MTU)
    }
    /// The four type-specific header bytes.
    pub fn rest_of_header(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [b[4], b[5], b[6], b[7]]
    }
    /// Everything after the 8-byte header.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }
    /// True when the checksum over the whole message verifies (RFC 792).
    pub fn verify_checksum(&self) -> bool {
        checksum::verifies(self.buffer.as_ref())
    }
}

/// An ICMPv4 message as a value, borrowing its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    /// Echo request (type 8).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data, echoed back by the peer.
        data: &'a [u8],
    },
    /// Echo reply (type 0).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data, echoed from the request.
        data: &'a [u8],
    },
    /// Destination unreachable (type 3).
    DstUnreachable {
        /// Code, see [`unreachable`](mod@unreachable).
        code: u8,
        /// Next-hop MTU for [`unreachable::FRAG_NEEDED`] (RFC 1191 §4), else 0.
        next_hop_mtu: u16,
        /// The original IP header and at least 8 bytes of its data.
        quoted: &'a [u8],
    },
    /// Time exceeded (type 11).
    TimeExceeded {
        /// Code, see [`time_exceeded`].
        code: u8,
        /// The original IP header and at least 8 bytes of its data.
        quoted: &'a [u8],
    },
    /// Any other message, carried opaquely.
    Other {
        /// Message type.
        msg_type: u8,
        /// Message code.
        code: u8,
        /// The four type-specific header bytes.
        rest_of_header: [u8; 4],
        /// Data after the header.
        data: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Reads a checked message; the checksum must verify
    /// ([`Error::BadChecksum`]). Unknown types parse as [`Icmpv4Repr::Other`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &Icmpv4Packet<&'a T>) -> Result<Icmpv4Repr<'a>> {
        // RFC 792: checksum of the ICMP message starting with the type.
        if !p.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        let whole: &'a T = p.buffer;
        let data: &'a [u8] = &whole.as_ref()[field::DATA..];
        Ok(match p.msg_type() {
            msg_type::ECHO_REQUEST if p.code() == 0 => Icmpv4Repr::EchoRequest {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            },
            msg_type::ECHO_REPLY if p.code() == 0 => Icmpv4Repr::EchoReply {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            },
            msg_type::DST_UNREACHABLE => Icmpv4Repr::DstUnreachable {
                code: p.code(),
                next_hop_mtu: if p.code() == unreachable::FRAG_NEEDED {
                    p.next_hop_mtu()
                } else {
                    0
                },
                quoted: data,
            },
            msg_type::TIME_EXCEEDED => Icmpv4Repr::TimeExceeded {
                code: p.code(),
                quoted: data,
            },
            t => Icmpv4Repr::Other {
                msg_type: t,
                code: p.code(),
                rest_of_header: p.rest_of_header(),
                data,
            },
        })
    }

    /// The data after the 8-byte header.
    pub fn data(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoRequest { data, .. }
            | Icmpv4Repr::EchoReply { data, .. }
            | Icmpv4Repr::Other { data, .. } => data,
            Icmpv4Repr::DstUnreachable { quoted, .. } | Icmpv4Repr::TimeExceeded { quoted, .. } => {
                quoted
            }
        }
    }

    /// Header plus data.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data().len()
    }

    /// Type, code and the four type-specific bytes.
    fn header_fields(&self) -> (u8, u8, [u8; 4]) {
        let pair = |a: u16, b: u16| {
            let (a, b) = (a.to_be_bytes(), b.to_be_bytes());
            [a[0], a[1], b[0], b[1]]
        };
        match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } => {
                (msg_type::ECHO_REQUEST, 0, pair(ident, seq_no))
            }
            Icmpv4Repr::EchoReply { ident, seq_no, .. } => {
                (msg_type::ECHO_REPLY, 0, pair(ident, seq_no))
            }
            Icmpv4Repr::DstUnreachable {
                code, next_hop_mtu, ..
            } => (msg_type::DST_UNREACHABLE, code, pair(0, next_hop_mtu)),
            Icmpv4Repr::TimeExceeded { code, .. } => (msg_type::TIME_EXCEEDED, code, [0; 4]),
            Icmpv4Repr::Other {
                msg_type,
                code,
                rest_of_header,
                ..
            } => (msg_type, code, rest_of_header),
        }
    }

    /// Writes the whole message (header, data, checksum) at the start of
    /// `buf`; returns its length. [`Error::Truncated`] if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let b = buf.get_mut(..n).ok_or(Error::Truncated)?;
        let (t, code, rest) = self.header_fields();
        b[field::TYPE] = t;
        b[field::CODE] = code;
        b[field::CHECKSUM].copy_from_slice(&[0, 0]);
        b[field::REST].copy_from_slice(&rest);
        let data_sum = checksum::copy_and_sum(&mut b[field::DATA..], self.data());
        let c = checksum::finish(checksum::combine(&[
            checksum::sum(&b[..HEADER_LEN]),
            data_sum,
        ]));
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
        Ok(n)
    }
}

impl fmt::Display for Icmpv4Repr<'_> {
    /// `ICMP Echo request id=0x0001 seq=1 len=56`,
    /// `ICMP Destination unreachable (Port unreachable) for 10.0.0.2 UDP`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted_suffix = |f: &mut fmt::Formatter<'_>, q: &[u8]| match QuotedDatagram::parse(q) {
            Ok(d) => write!(f, " for {} → {} {}", d.src, d.dst, d.protocol),
            Err(_) => Ok(()),
        };
        match *self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMP Echo request id=0x{ident:04x} seq={seq_no} len={}",
                data.len()
            ),
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMP Echo reply id=0x{ident:04x} seq={seq_no} len={}",
                data.len()
            ),
            Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu,
                quoted,
            } => {
                write!(
                    f,
                    "ICMP Destination unreachable ({})",
                    unreachable::name(code)
                )?;
                if code == unreachable::FRAG_NEEDED {
                    write!(f, " mtu={next_hop_mtu}")?;
                }
                quoted_suffix(f, quoted)
            }
            Icmpv4Repr::TimeExceeded { code, quoted } => {
                write!(f, "ICMP Time exceeded ({})", time_exceeded::name(code))?;
                quoted_suffix(f, quoted)
            }
            Icmpv4Repr::Other {
                msg_type,
                code,
                data,
                ..
            } => write!(f, "ICMP type={msg_type} code={code} len={}", data.len()),
        }
    }
}

/// The datagram quoted in an ICMP error: its IPv4 header and the first
/// bytes of its payload (RFC 792: "Internet Header + 64 bits of Original
/// Data Datagram"). The quote is usually shorter than the datagram's total
/// length, so this does not use [`super::ipv4::Ipv4Packet::new_checked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedDatagram<'a> {
    /// Source of the original datagram (us, when we sent it).
    pub src: Ipv4Addr,
    /// Destination of the original datagram.
    pub dst: Ipv4Addr,
    /// Protocol of the original datagram.
    pub protocol: IpProtocol,
    /// Identification field of the original datagram.
    pub ident: u16,
    /// Its TTL as it arrived at the reporter.
    pub ttl: u8,
    /// Its fragment offset in bytes (not 0: the payload is not the start of
    /// a transport header).
    pub frag_offset: u16,
    /// The quoted payload bytes (at least 8).
    pub payload: &'a [u8],
}

impl<'a> QuotedDatagram<'a> {
    /// Reads the quoted header; [`Error::Truncated`] if fewer than 8 payload
    /// bytes follow it, [`Error::BadVersion`] / [`Error::BadLength`] for a
    /// header that is not IPv4. The quoted header's checksum is not checked.
    pub fn parse(quoted: &'a [u8]) -> Result<QuotedDatagram<'a>> {
        if quoted.len() < super::ipv4::HEADER_LEN {
            return Err(Error::Truncated);
        }
        if quoted[0] >> 4 != 4 {
            return Err(Error::BadVersion);
        }
        let hl = usize::from(quoted[0] & 0x0f) * 4;
        if hl < super::ipv4::HEADER_LEN {
            return Err(Error::BadLength);
        }
        let payload = quoted.get(hl..).ok_or(Error::Truncated)?;
        if payload.len() < 8 {
            return Err(Error::Truncated);
        }
        let be16 = |i: usize| u16::from_be_bytes([quoted[i], quoted[i + 1]]);
        Ok(QuotedDatagram {
            src: Ipv4Addr::new(quoted[12], quoted[13], quoted[14], quoted[15]),
            dst: Ipv4Addr::new(quoted[16], quoted[17], quoted[18], quoted[19]),
            protocol: IpProtocol(quoted[9]),
            ident: be16(4),
            ttl: quoted[8],
            // RFC 791 §3.1: 13 bits in units of 8 bytes.
            frag_offset: (be16(6) & 0x1fff) * 8,
            payload,
        })
    }
    fn payload_u16(&self, i: usize) -> u16 {
        u16::from_be_bytes([self.payload[i], self.payload[i + 1]])
    }
    /// Source port of a quoted TCP or UDP header.
    pub fn src_port(&self) -> u16 {
        self.payload_u16(0)
    }
    /// Destination port of a quoted TCP or UDP header.
    pub fn dst_port(&self) -> u16 {
        self.payload_u16(2)
    }
    /// Message type of a quoted ICMP header.
    pub fn icmp_type(&self) -> u8 {
        self.payload[0]
    }
    /// Identifier of a quoted ICMP echo.
    pub fn echo_ident(&self) -> u16 {
        self.payload_u16(4)
    }
    /// Sequence number of a quoted ICMP echo.
    pub fn echo_seq(&self) -> u16 {
        self.payload_u16(6)
    }
    /// Sequence number of a quoted TCP header.
    pub fn tcp_seq(&self) -> u32 {
        let p = self.payload;
        u32::from_be_bytes([p[4], p[5], p[6], p[7]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_roundtrip_and_bad_checksum() {
        let r = Icmpv4Repr::EchoRequest {
            ident: 0x1234,
            seq_no: 7,
            data: b"abcdefg",
        };
        let mut buf = [0u8; 15];
        assert_eq!(r.emit(&mut buf), Ok(15));
        let p = Icmpv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p), Ok(r));
        buf[9] ^= 0x40;
        let p = Icmpv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p), Err(Error::BadChecksum));
    }

    #[test]
    fn unreachable_quote() {
        let mut q = [0u8; 28];
        q[0] = 0x45;
        q[9] = 17;
        q[12..16].copy_from_slice(&[10, 0, 0, 1]);
        q[16..20].copy_from_slice(&[10, 0, 0, 2]);
        q[20..24].copy_from_slice(&[0xc0, 0x00, 0x00, 0x35]);
        let r = Icmpv4Repr::DstUnreachable {
            code: unreachable::FRAG_NEEDED,
            next_hop_mtu: 1400,
            quoted: &q,
        };
        let mut buf = [0u8; 36];
        r.emit(&mut buf).unwrap();
        let p = Icmpv4Packet::new_checked(&buf[..]).unwrap();
        let parsed = Icmpv4Repr::parse(&p).unwrap();
        assert_eq!(parsed, r);
        let Icmpv4Repr::DstUnreachable { quoted, .. } = parsed else {
            unreachable!()
        };
        let d = QuotedDatagram::parse(quoted).unwrap();
        assert_eq!((d.src_port(), d.dst_port()), (49152, 53));
        assert_eq!(d.protocol, IpProtocol::UDP);
        assert_eq!(
            r.to_string(),
            "ICMP Destination unreachable (Fragmentation needed) mtu=1400 for 10.0.0.1 → 10.0.0.2 UDP"
        );
        assert_eq!((d.ident, d.ttl, d.frag_offset), (0, 0, 0));
        assert_eq!(QuotedDatagram::parse(&q[..27]), Err(Error::Truncated));
        // Identification, TTL and a fragment offset of 3 × 8 bytes, MF set.
        q[4..9].copy_from_slice(&[0xbe, 0xef, 0x20, 0x03, 7]);
        let d = QuotedDatagram::parse(&q).unwrap();
        assert_eq!((d.ident, d.ttl, d.frag_offset), (0xbeef, 7, 24));
    }
}
