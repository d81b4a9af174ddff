//! IPv4 header (RFC 791 §3.1), options carried verbatim, DSCP/ECN
//! (RFC 2474, RFC 3168).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |   DSCP    |ECN|          Total Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Identification        |Flags|      Fragment Offset    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Source Address                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Destination Address                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options                    |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;
use core::net::Ipv4Addr;

use super::checksum;
use super::{Error, Result};

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// Longest header (IHL = 15).
pub const MAX_HEADER_LEN: usize = 60;
/// Longest options field.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;

/// Byte offsets of the header fields.
pub mod field {
    use core::ops::Range;
    /// Version (high nibble) and IHL (low nibble, in 32-bit words).
    pub const VER_IHL: usize = 0;
    /// DSCP (high 6 bits) and ECN (low 2 bits).
    pub const DSCP_ECN: usize = 1;
    /// Total length of the datagram, header included.
    pub const LENGTH: Range<usize> = 2..4;
    /// Identification.
    pub const IDENT: Range<usize> = 4..6;
    /// Flags (reserved, DF, MF) and fragment offset (in 8-byte units).
    pub const FLG_OFF: Range<usize> = 6..8;
    /// Time to live.
    pub const TTL: usize = 8;
    /// Protocol of the payload.
    pub const PROTOCOL: usize = 9;
    /// Header checksum.
    pub const CHECKSUM: Range<usize> = 10..12;
    /// Source address.
    pub const SRC: Range<usize> = 12..16;
    /// Destination address.
    pub const DST: Range<usize> = 16..20;
    /// Options, up to the header length.
    pub const OPTIONS: usize = 20;
}

/// "Don't fragment" bit in the flags/offset word (RFC 791 §3.1).
const FLAG_DF: u16 = 0x4000;
/// "More fragments" bit.
const FLAG_MF: u16 = 0x2000;
/// Fragment offset mask (13 bits, 8-byte units).
const OFFSET_MASK: u16 = 0x1fff;

/// The protocol number of the payload (IANA "Assigned Internet Protocol Numbers").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    /// Internet Control Message Protocol.
    pub const ICMP: IpProtocol = IpProtocol(1);
    /// Transmission Control Protocol.
    pub const TCP: IpProtocol = IpProtocol(6);
    /// User Datagram Protocol.
    pub const UDP: IpProtocol = IpProtocol(17);

    /// The protocol's name, if well known.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::ICMP => Some("ICMP"),
            Self::TCP => Some("TCP"),
            Self::UDP => Some("UDP"),
            _ => None,
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "proto {}", self.0),
        }
    }
}

impl fmt::Debug for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IpProtocol({})", self.0)
    }
}

/// IPv4 options, carried verbatim (at most 40 bytes, a multiple of 4).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Options {
    bytes: [u8; MAX_OPTIONS_LEN],
    len: u8,
}

impl Default for Ipv4Options {
    fn default() -> Self {
        Ipv4Options::EMPTY
    }
}

impl Ipv4Options {
    /// No options.
    pub const EMPTY: Ipv4Options = Ipv4Options {
        bytes: [0; MAX_OPTIONS_LEN],
        len: 0,
    };

    /// Options from raw bytes; [`Error::BadOption`] unless the length is a
    /// multiple of 4 and at most 40 (the header length counts 32-bit words).
    pub fn new(raw: &[u8]) -> Result<Ipv4Options> {
        if raw.len() > MAX_OPTIONS_LEN || raw.len() & 3 != 0 {
            return Err(Error::BadOption);
        }
        let mut bytes = [0; MAX_OPTIONS_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        Ok(Ipv4Options {
            bytes,
            len: raw.len() as u8,
        })
    }
    /// The raw option bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }
    /// True when there are no options.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Ipv4Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipv4Options({:02x?})", self.as_bytes())
    }
}

/// A zero-copy view of an IPv4 datagram, lengths checked on creation.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer, checking the header fits, IHL ≥ 5, and
    /// header length ≤ total length ≤ buffer length. Trailing bytes beyond
    /// the total length (Ethernet padding) are allowed and ignored.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Ipv4Packet { buffer };
        let len = p.buffer.as_ref().len();
        // RFC 791 §3.1: IHL minimum value for a correct header is 5.
        super::check_length(len, HEADER_LEN, || p.header_len())?;
        // The total length counts the header and the data.
        super::check_length(len, p.header_len(), || usize::from(p.total_len()))?;
        Ok(p)
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[r.start], b[r.start + 1]])
    }
    #[inline]
    fn ip_at(&self, r: core::ops::Range<usize>) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[r];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Version field (4 for IPv4).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }
    /// Header length in bytes (IHL × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }
    /// Differentiated services code point.
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }
    /// Explicit congestion notification bits.
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }
    /// Total length field.
    #[inline]
    pub fn total_len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }
    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        self.u16_at(field::IDENT)
    }
    /// Don't fragment.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.u16_at(field::FLG_OFF) & FLAG_DF != 0
    }
    /// More fragments.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.u16_at(field::FLG_OFF) & FLAG_MF != 0
    }
    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (self.u16_at(field::FLG_OFF) & OFFSET_MASK) * 8
    }
    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    /// Payload protocol.
    #[inline]
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[field::PROTOCOL])
    }
    /// Header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    /// Source address.
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        self.ip_at(field::SRC)
    }
    /// Destination address.
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        self.ip_at(field::DST)
    }
    /// The raw options bytes.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }
    /// True when the header checksum verifies (RFC 791 §3.1).
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::verifies(&self.buffer.as_ref()[..self.header_len()])
    }
    /// The payload: from the end of the header to the total length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the TTL and updates the checksum incrementally (RFC 1624), as a
    /// router does when it forwards (RFC 791 §3.2, RFC 1812 §5.3.1).
    pub fn set_ttl_incremental(&mut self, ttl: u8) {
        let old = self.u16_at(field::TTL..field::TTL + 2);
        self.buffer.as_mut()[field::TTL] = ttl;
        let new = self.u16_at(field::TTL..field::TTL + 2);
        let c = checksum::update(self.checksum(), old, new);
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
    /// Recomputes and writes the header checksum.
    pub fn fill_checksum(&mut self) {
        let hl = self.header_len();
        let b = self.buffer.as_mut();
        b[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&b[..hl]);
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
    /// Mutable payload (header end to total length).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (h, t) = (self.header_len(), usize::from(self.total_len()));
        &mut self.buffer.as_mut()[h..t]
    }
}

/// An IPv4 header as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Payload protocol.
    pub protocol: IpProtocol,
    /// Time to live.
    pub ttl: u8,
    /// Differentiated services code point (6 bits).
    pub dscp: u8,
    /// ECN bits (2 bits).
    pub ecn: u8,
    /// Identification.
    pub ident: u16,
    /// Don't fragment.
    pub dont_frag: bool,
    /// More fragments.
    pub more_frags: bool,
    /// Fragment offset in bytes (a multiple of 8).
    pub frag_offset: u16,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Options, carried verbatim.
    pub options: Ipv4Options,
}

impl Ipv4Repr {
    /// A plain header: no options, no fragmentation, DSCP/ECN 0.
    pub fn new(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: IpProtocol,
        ttl: u8,
        payload_len: usize,
    ) -> Ipv4Repr {
        Ipv4Repr {
            src,
            dst,
            protocol,
            ttl,
            dscp: 0,
            ecn: 0,
            ident: 0,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
            payload_len,
            options: Ipv4Options::EMPTY,
        }
    }

    /// Reads a checked datagram: version must be 4 ([`Error::BadVersion`]),
    /// the header checksum must verify ([`Error::BadChecksum`]).
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) -> Result<Ipv4Repr> {
        // RFC 791 §3.1: Version 4.
        if p.version() != 4 {
            return Err(Error::BadVersion);
        }
        // RFC 1122 §3.2.1.2: a host MUST verify the header checksum and
        // silently discard a datagram that fails.
        if !p.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        Ok(Ipv4Repr {
            src: p.src(),
            dst: p.dst(),
            protocol: p.protocol(),
            ttl: p.ttl(),
            dscp: p.dscp(),
            ecn: p.ecn(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
            more_frags: p.more_frags(),
            frag_offset: p.frag_offset(),
            payload_len: usize::from(p.total_len()) - p.header_len(),
            options: Ipv4Options::new(p.options())?,
        })
    }

    /// Header length in bytes (20 + options).
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// True when this datagram is a fragment (offset ≠ 0 or MF set).
    pub fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }

    /// Writes the header (checksum included) at the start of `buf` and
    /// returns its length; the payload goes right after and is the caller's.
    ///
    /// [`Error::Truncated`] if `buf` cannot hold the header;
    /// [`Error::BadLength`] if the total length exceeds 65535 or the
    /// fragment offset is not a multiple of 8 that fits 13 bits;
    /// [`Error::Malformed`] if DSCP/ECN exceed their bit widths.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let hl = self.header_len();
        let total = u16::try_from(self.buffer_len()).map_err(|_| Error::BadLength)?;
        if self.frag_offset & 7 != 0 {
            return Err(Error::BadLength);
        }
        if self.dscp > 0x3f || self.ecn > 0x3 {
            return Err(Error::Malformed);
        }
        let b = buf.get_mut(..hl).ok_or(Error::Truncated)?;
        b[field::VER_IHL] = 0x40 | (hl / 4) as u8;
        b[field::DSCP_ECN] = (self.dscp << 2) | self.ecn;
        b[field::LENGTH].copy_from_slice(&total.to_be_bytes());
        b[field::IDENT].copy_from_slice(&self.ident.to_be_bytes());
        let mut fo = self.frag_offset / 8;
        if self.dont_frag {
            fo |= FLAG_DF;
        }
        if self.more_frags {
            fo |= FLAG_MF;
        }
        b[field::FLG_OFF].copy_from_slice(&fo.to_be_bytes());
        b[field::TTL] = self.ttl;
        b[field::PROTOCOL] = self.protocol.0;
        b[field::CHECKSUM].copy_from_slice(&[0, 0]);
        b[field::SRC].copy_from_slice(&self.src.octets());
        b[field::DST].copy_from_slice(&self.dst.octets());
        b[field::OPTIONS..hl].copy_from_slice(self.options.as_bytes());
        // RFC 791 §3.1: "the 16 bit one's complement of the one's complement
        // sum of all 16 bit words in the header", computed with the field
        // zero: without options, from the values just written (ten words,
        // no pass over the bytes; every segment sent pays it).
        let c = if hl == field::OPTIONS {
            let (s, d) = (self.src.to_bits(), self.dst.to_bits());
            let acc = u64::from(u16::from_be_bytes([b[field::VER_IHL], b[field::DSCP_ECN]]))
                + u64::from(total)
                + u64::from(self.ident)
                + u64::from(fo)
                + u64::from(u16::from_be_bytes([self.ttl, self.protocol.0]))
                + u64::from(s >> 16)
                + u64::from(s & 0xffff)
                + u64::from(d >> 16)
                + u64::from(d & 0xffff);
            checksum::finish(checksum::fold(acc))
        } else {
            checksum::checksum(b)
        };
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
        Ok(hl)
    }
}

impl fmt::Display for Ipv4Repr {
    /// `IPv4 10.0.0.1 → 10.0.0.2 TCP ttl=64 id=0x1c46 len=40 DF`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv4 {} → {} {} ttl={} id=0x{:04x} len={}",
            self.src,
            self.dst,
            self.protocol,
            self.ttl,
            self.ident,
            self.buffer_len()
        )?;
        if self.dont_frag {
            f.write_str(" DF")?;
        }
        if self.more_frags {
            f.write_str(" MF")?;
        }
        if self.frag_offset != 0 {
            write!(f, " off={}", self.frag_offset)?;
        }
        if self.dscp != 0 {
            write!(f, " dscp={}", self.dscp)?;
        }
        if self.ecn != 0 {
            write!(f, " ecn={}", self.ecn)?;
        }
        if !self.options.is_empty() {
            write!(f, " opts={}B", self.options.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Ipv4Repr {
        Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: IpProtocol::UDP,
            ttl: 64,
            dscp: 46,
            ecn: 1,
            ident: 0xbeef,
            dont_frag: false,
            more_frags: true,
            frag_offset: 1480,
            payload_len: 8,
            options: Ipv4Options::new(&[0x94, 0x04, 0x00, 0x00]).unwrap(),
        }
    }

    #[test]
    fn roundtrip_with_options_and_padding() {
        let r = sample();
        let mut buf = [0xaau8; 40];
        assert_eq!(r.emit(&mut buf), Ok(24));
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&p), Ok(r));
        assert_eq!(p.payload().len(), 8); // 8 trailing bytes ignored
    }

    #[test]
    fn header_checksum_without_options_is_the_sum_of_the_bytes() {
        // The option-less header's checksum comes from the field values;
        // it must equal the RFC 791 sum over the bytes, whatever the values
        // (carries folded more than once: all-ones addresses and fields).
        let mut r = sample();
        r.options = Ipv4Options::default();
        let mut buf = [0u8; 20];
        for (k, ident) in [0u16, 1, 0x7fff, 0xfffe, 0xffff].into_iter().enumerate() {
            r.ident = ident;
            r.ttl = [1, 64, 255, 128, 0xff][k];
            r.src = Ipv4Addr::from_bits(0xffff_ffff - k as u32);
            r.dst = Ipv4Addr::from_bits(0xfffe_ffff ^ (k as u32 * 0x0101_0101));
            r.dont_frag = k % 2 == 0;
            r.payload_len = [0, 1, 1480, 65_515, 9000][k];
            assert_eq!(r.emit(&mut buf), Ok(20));
            assert!(checksum::verifies(&buf), "{r:?}");
            let got = u16::from_be_bytes([buf[10], buf[11]]);
            buf[10..12].fill(0);
            assert_eq!(got, checksum::checksum(&buf), "{r:?}");
        }
    }

    #[test]
    fn errors() {
        let r = sample();
        let mut buf = [0u8; 32];
        r.emit(&mut buf).unwrap();
        let mut bad = buf;
        bad[0] = 0x64; // version 6, IHL 4
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            Error::BadLength
        );
        bad[0] = 0x66;
        let p = Ipv4Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&p), Err(Error::BadVersion));
        let mut bad = buf;
        bad[8] ^= 1;
        let p = Ipv4Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&p), Err(Error::BadChecksum));
        assert_eq!(
            Ipv4Packet::new_checked(&buf[..31]).unwrap_err(),
            Error::Truncated
        );
        let mut bad = buf;
        bad[2..4].copy_from_slice(&20u16.to_be_bytes()); // total < header (24)
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            Error::BadLength
        );
        // Shorter than the fixed header; an IHL of 15 (60 bytes) in 32.
        assert_eq!(
            Ipv4Packet::new_checked(&buf[..19]).unwrap_err(),
            Error::Truncated
        );
        let mut bad = buf;
        bad[0] = 0x4f;
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn ttl_incremental_update_verifies() {
        let r = sample();
        let mut buf = [0u8; 32];
        r.emit(&mut buf).unwrap();
        let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
        p.set_ttl_incremental(63);
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&p).unwrap().ttl, 63);
    }
}
