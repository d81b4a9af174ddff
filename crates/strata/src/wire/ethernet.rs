//! Ethernet II frames (IEEE 802.3 with EtherType), 802.1Q tag recognised.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  Destination MAC (6 bytes)                    |
//! +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                               |                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+      Source MAC (6 bytes)     +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      EtherType / TPID         | [802.1Q: PCP|DEI|   VID     ] |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | [802.1Q: inner EtherType]     |  payload ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The frame check sequence is not part of what devices hand the stack.

use core::fmt;

use super::{Error, MacAddr, Result};

/// Length of an untagged Ethernet II header: dst MAC, src MAC, EtherType.
pub const HEADER_LEN: usize = 14;
/// Length of the 802.1Q tag (TPID + TCI).
pub const VLAN_TAG_LEN: usize = 4;
/// Smallest frame on the wire without FCS (IEEE 802.3 §4.4.2: 64 bytes with
/// FCS); shorter frames are padded by the sender.
pub const MIN_FRAME_LEN: usize = 60;

/// Byte offsets of the header fields.
pub mod field {
    use core::ops::Range;
    /// Destination MAC address.
    pub const DST: Range<usize> = 0..6;
    /// Source MAC address.
    pub const SRC: Range<usize> = 6..12;
    /// EtherType, or TPID 0x8100 when an 802.1Q tag follows.
    pub const ETHERTYPE: Range<usize> = 12..14;
    /// 802.1Q tag control information (PCP 3 bits, DEI 1 bit, VID 12 bits).
    pub const VLAN_TCI: Range<usize> = 14..16;
    /// EtherType of the payload when tagged.
    pub const VLAN_ETHERTYPE: Range<usize> = 16..18;
}

/// The EtherType field: which protocol the payload carries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EtherType(pub u16);

impl EtherType {
    /// Internet Protocol version 4.
    pub const IPV4: EtherType = EtherType(0x0800);
    /// Address Resolution Protocol.
    pub const ARP: EtherType = EtherType(0x0806);
    /// IEEE 802.1Q VLAN tag (TPID).
    pub const VLAN: EtherType = EtherType(0x8100);
    /// Internet Protocol version 6.
    pub const IPV6: EtherType = EtherType(0x86dd);

    /// A short name, if this is a well-known type.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::IPV4 => Some("IPv4"),
            Self::ARP => Some("ARP"),
            Self::VLAN => Some("802.1Q"),
            Self::IPV6 => Some("IPv6"),
            _ => None,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

impl fmt::Debug for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EtherType({self})")
    }
}

/// An IEEE 802.1Q tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VlanTag {
    /// Priority code point (0..=7).
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier (0..=4095).
    pub vid: u16,
}

impl VlanTag {
    /// The 16-bit tag control information.
    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 0x7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0fff)
    }
    /// The tag described by a tag control information word.
    pub const fn from_tci(tci: u16) -> VlanTag {
        VlanTag {
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
        }
    }
}

/// A zero-copy view of an Ethernet II frame, length checked on creation.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps a buffer without checking it (accessors may then panic).
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps a buffer, checking it holds the whole header (tag included).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = EthernetFrame { buffer };
        let len = f.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if len < f.header_len() {
            return Err(Error::Truncated);
        }
        Ok(f)
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
    fn mac_at(&self, r: core::ops::Range<usize>) -> MacAddr {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.buffer.as_ref()[r]);
        MacAddr(m)
    }

    /// True when the frame carries an 802.1Q tag.
    #[inline]
    pub fn is_tagged(&self) -> bool {
        self.u16_at(field::ETHERTYPE) == EtherType::VLAN.0
    }

    /// Header length: 14, or 18 with an 802.1Q tag.
    #[inline]
    pub fn header_len(&self) -> usize {
        if self.is_tagged() {
            HEADER_LEN + VLAN_TAG_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Destination MAC address.
    #[inline]
    pub fn dst(&self) -> MacAddr {
        self.mac_at(field::DST)
    }
    /// Source MAC address.
    #[inline]
    pub fn src(&self) -> MacAddr {
        self.mac_at(field::SRC)
    }
    /// The EtherType of the payload (the inner one when tagged).
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        if self.is_tagged() {
            EtherType(self.u16_at(field::VLAN_ETHERTYPE))
        } else {
            EtherType(self.u16_at(field::ETHERTYPE))
        }
    }
    /// The 802.1Q tag, if present.
    #[inline]
    pub fn vlan(&self) -> Option<VlanTag> {
        self.is_tagged()
            .then(|| VlanTag::from_tci(self.u16_at(field::VLAN_TCI)))
    }
    /// The payload (everything after the header, padding included: the
    /// layer above trims by its own length field).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC address.
    pub fn set_dst(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&mac.0);
    }
    /// Sets the source MAC address.
    pub fn set_src(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&mac.0);
    }
    /// Mutable payload (after the header, tag included if present).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        &mut self.buffer.as_mut()[h..]
    }
}

/// An Ethernet II header as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// Destination MAC address.
    pub dst: MacAddr,
    /// Source MAC address.
    pub src: MacAddr,
    /// The payload's EtherType (inner type when tagged).
    pub ethertype: EtherType,
    /// The 802.1Q tag, if any.
    pub vlan: Option<VlanTag>,
}

impl EthernetRepr {
    /// Reads the header of a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Result<EthernetRepr> {
        Ok(EthernetRepr {
            dst: frame.dst(),
            src: frame.src(),
            ethertype: frame.ethertype(),
            vlan: frame.vlan(),
        })
    }

    /// Header length: 14, or 18 with a tag.
    pub const fn header_len(&self) -> usize {
        if self.vlan.is_some() {
            HEADER_LEN + VLAN_TAG_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Bytes needed for this header and a payload of `payload_len` bytes
    /// (before padding to [`MIN_FRAME_LEN`]).
    pub const fn buffer_len(&self, payload_len: usize) -> usize {
        self.header_len() + payload_len
    }

    /// Writes the header at the start of `buf`; returns its length (the
    /// payload goes right after). [`Error::Truncated`] if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.header_len();
        let b = buf.get_mut(..n).ok_or(Error::Truncated)?;
        b[field::DST].copy_from_slice(&self.dst.0);
        b[field::SRC].copy_from_slice(&self.src.0);
        match self.vlan {
            Some(tag) => {
                b[field::ETHERTYPE].copy_from_slice(&EtherType::VLAN.0.to_be_bytes());
                b[field::VLAN_TCI].copy_from_slice(&tag.tci().to_be_bytes());
                b[field::VLAN_ETHERTYPE].copy_from_slice(&self.ethertype.0.to_be_bytes());
            }
            None => b[field::ETHERTYPE].copy_from_slice(&self.ethertype.0.to_be_bytes()),
        }
        Ok(n)
    }
}

impl fmt::Display for EthernetRepr {
    /// `Ethernet 02:00:00:00:00:01 → ff:ff:ff:ff:ff:ff ARP [VLAN 10 pcp 0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ethernet {} → {} {}", self.src, self.dst, self.ethertype)?;
        if let Some(t) = self.vlan {
            write!(f, " VLAN {} pcp {}", t.vid, t.pcp)?;
            if t.dei {
                f.write_str(" DEI")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_roundtrip() {
        let r = EthernetRepr {
            dst: MacAddr::BROADCAST,
            src: MacAddr([2, 0, 0, 0, 0, 1]),
            ethertype: EtherType::ARP,
            vlan: None,
        };
        let mut buf = [0u8; 20];
        assert_eq!(r.emit(&mut buf), Ok(14));
        assert_eq!(&buf[12..14], &[0x08, 0x06]);
        let f = EthernetFrame::new_checked(&buf[..]).unwrap();
        assert_eq!(EthernetRepr::parse(&f), Ok(r));
        assert_eq!(f.payload().len(), 6);
    }

    #[test]
    fn tagged_roundtrip_and_offsets() {
        let r = EthernetRepr {
            dst: MacAddr([1, 2, 3, 4, 5, 6]),
            src: MacAddr([2, 0, 0, 0, 0, 1]),
            ethertype: EtherType::IPV4,
            vlan: Some(VlanTag {
                pcp: 5,
                dei: true,
                vid: 0xabc,
            }),
        };
        let mut buf = [0u8; 18];
        assert_eq!(r.emit(&mut buf), Ok(18));
        assert_eq!(&buf[12..18], &[0x81, 0x00, 0xba, 0xbc, 0x08, 0x00]);
        let f = EthernetFrame::new_checked(&buf[..]).unwrap();
        assert_eq!(f.header_len(), 18);
        assert_eq!(EthernetRepr::parse(&f), Ok(r));
        assert!(f.payload().is_empty());
        assert_eq!(
            EthernetFrame::new_checked(&buf[..17]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(r.emit(&mut [0u8; 17]), Err(Error::Truncated));
    }

    #[test]
    fn short_frame_is_truncated() {
        assert_eq!(
            EthernetFrame::new_checked(&[0u8; 13][..]).unwrap_err(),
            Error::Truncated
        );
    }
}
