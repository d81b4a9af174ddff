//! UDP datagrams (RFC 768) with the IPv4 pseudo-header checksum.
//!
//! ```text
//!  0      7 8     15 16    23 24    31
//! +--------+--------+--------+--------+
//! |     Source      |   Destination   |
//! |      Port       |      Port       |
//! +--------+--------+--------+--------+
//! |                 |                 |
//! |     Length      |    Checksum     |
//! +--------+--------+--------+--------+
//! |          data octets ...
//! +---------------- ...
//! ```

use core::fmt;
use core::net::Ipv4Addr;

use super::checksum;
use super::ipv4::IpProtocol;
use super::{Error, Result};

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// Byte offsets of the header fields.
pub mod field {
    use core::ops::Range;
    /// Source port.
    pub const SRC_PORT: Range<usize> = 0..2;
    /// Destination port.
    pub const DST_PORT: Range<usize> = 2..4;
    /// Length of header plus data.
    pub const LENGTH: Range<usize> = 4..6;
    /// Checksum (0 = none, IPv4 only).
    pub const CHECKSUM: Range<usize> = 6..8;
    /// Start of the data.
    pub const PAYLOAD: usize = 8;
}

/// A zero-copy view of a UDP datagram, lengths checked on creation.
#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }
    /// Wraps a buffer (the IPv4 payload), checking 8 ≤ length field ≤
    /// buffer length. Bytes beyond the length field are ignored.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = UdpPacket { buffer };
        // RFC 768: the length counts the header and the data.
        super::check_length(p.buffer.as_ref().len(), HEADER_LEN, || usize::from(p.len()))?;
        Ok(p)
    }
    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[r.start], b[r.start + 1]])
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT)
    }
    /// Length field (header plus data).
    pub fn len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }
    /// True when the datagram carries no data.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) == HEADER_LEN
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    /// The data, as delimited by the length field.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }
    /// True when the checksum verifies against the pseudo-header, or is 0
    /// (RFC 768: "all zero transmitted checksum value means that the
    /// transmitter generated no checksum").
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let l = self.len();
        let ph = checksum::pseudo_header(src, dst, IpProtocol::UDP, u32::from(l));
        let s = checksum::sum(&self.buffer.as_ref()[..usize::from(l)]);
        checksum::combine(&[ph, s]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Mutable data, as delimited by the length field.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let l = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..l]
    }
}

/// A UDP header as a value (the payload is [`UdpPacket::payload`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

impl UdpRepr {
    /// Reads a checked datagram, verifying the checksum against the
    /// pseudo-header (skipped when the field is 0).
    pub fn parse<T: AsRef<[u8]>>(
        p: &UdpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<UdpRepr> {
        // RFC 1122 §4.1.3.4: a received UDP checksum, if non-zero, MUST be
        // verified and the datagram silently discarded on failure.
        if !p.verify_checksum(src, dst) {
            return Err(Error::BadChecksum);
        }
        Ok(UdpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
        })
    }

    /// Header plus `payload_len` bytes of data.
    pub const fn buffer_len(&self, payload_len: usize) -> usize {
        HEADER_LEN + payload_len
    }

    /// Writes header, `payload` and checksum at the start of `buf` (the
    /// payload is copied and summed in one pass); returns the datagram
    /// length. [`Error::Truncated`] if `buf` is too short,
    /// [`Error::BadLength`] if the datagram would exceed 65535 bytes.
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload: &[u8],
    ) -> Result<usize> {
        let n = self.buffer_len(payload.len());
        let l = u16::try_from(n).map_err(|_| Error::BadLength)?;
        let b = buf.get_mut(..n).ok_or(Error::Truncated)?;
        let data_sum = checksum::copy_and_sum(&mut b[HEADER_LEN..], payload);
        self.finish(b, src, dst, l, data_sum);
        Ok(n)
    }

    /// Like [`UdpRepr::emit`] when the `payload_len` data bytes are already
    /// in place at `buf[8..]`: writes the header and checksum only.
    pub fn emit_in_place(
        &self,
        buf: &mut [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload_len: usize,
    ) -> Result<usize> {
        let n = self.buffer_len(payload_len);
        let l = u16::try_from(n).map_err(|_| Error::BadLength)?;
        let b = buf.get_mut(..n).ok_or(Error::Truncated)?;
        let data_sum = checksum::sum(&b[HEADER_LEN..]);
        self.finish(b, src, dst, l, data_sum);
        Ok(n)
    }

    fn finish(&self, b: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, len: u16, data_sum: u16) {
        b[field::SRC_PORT].copy_from_slice(&self.src_port.to_be_bytes());
        b[field::DST_PORT].copy_from_slice(&self.dst_port.to_be_bytes());
        b[field::LENGTH].copy_from_slice(&len.to_be_bytes());
        b[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let ph = checksum::pseudo_header(src, dst, IpProtocol::UDP, u32::from(len));
        let hs = checksum::sum(&b[..HEADER_LEN]);
        let mut c = checksum::finish(checksum::combine(&[ph, hs, data_sum]));
        // RFC 768: "If the computed checksum is zero, it is transmitted as
        // all ones" (zero means "no checksum").
        if c == 0 {
            c = 0xffff;
        }
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
}

impl fmt::Display for UdpRepr {
    /// `UDP 49152 → 53`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UDP {} → {}", self.src_port, self.dst_port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn roundtrip_both_emits() {
        let r = UdpRepr {
            src_port: 5353,
            dst_port: 53,
        };
        let mut buf = [0u8; 32];
        assert_eq!(r.emit(&mut buf, A, B, b"hello"), Ok(13));
        let p = UdpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(UdpRepr::parse(&p, A, B), Ok(r));
        assert_eq!(p.payload(), b"hello");
        // Wrong pseudo-header address → bad checksum.
        assert_eq!(UdpRepr::parse(&p, A, A), Err(Error::BadChecksum));

        let mut buf2 = [0u8; 13];
        buf2[8..].copy_from_slice(b"hello");
        assert_eq!(r.emit_in_place(&mut buf2, A, B, 5), Ok(13));
        assert_eq!(buf2[..], buf[..13]);
    }

    #[test]
    fn zero_checksum_means_none() {
        let r = UdpRepr {
            src_port: 1,
            dst_port: 2,
        };
        let mut buf = [0u8; 9];
        r.emit(&mut buf, A, B, b"x").unwrap();
        buf[6..8].copy_from_slice(&[0, 0]);
        buf[8] = b'y'; // would fail verification if a checksum were present
        let p = UdpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(UdpRepr::parse(&p, A, B), Ok(r));
    }

    #[test]
    fn computed_zero_is_sent_as_ffff() {
        // Choose the payload word so that the sum is 0xffff, i.e. the
        // computed checksum would be 0.
        let r = UdpRepr {
            src_port: 0,
            dst_port: 0,
        };
        let ph = checksum::pseudo_header(A, B, IpProtocol::UDP, 10);
        let hdr = checksum::sum(&[0, 0, 0, 0, 0, 10, 0, 0]);
        let partial = checksum::combine(&[ph, hdr]);
        let word = !partial; // partial + word = 0xffff
        let mut buf = [0u8; 10];
        r.emit(&mut buf, A, B, &word.to_be_bytes()).unwrap();
        assert_eq!(&buf[6..8], &[0xff, 0xff]);
        let p = UdpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(UdpRepr::parse(&p, A, B), Ok(r));
    }

    #[test]
    fn bad_lengths() {
        let mut buf = [0u8; 8];
        buf[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            UdpPacket::new_checked(&buf[..]).unwrap_err(),
            Error::BadLength
        );
        buf[4..6].copy_from_slice(&9u16.to_be_bytes());
        assert_eq!(
            UdpPacket::new_checked(&buf[..]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            UdpPacket::new_checked(&buf[..7]).unwrap_err(),
            Error::Truncated
        );
    }
}
