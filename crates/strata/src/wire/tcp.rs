//! TCP segment header and options (RFC 9293 §3.1, RFC 7323, RFC 2018).
//!
//! The value types below are the contract between the wire format and the
//! TCP state machine in `transport::tcp`.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Acknowledgment Number                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Data |     |N|C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrv|S|W|C|R|C|S|S|Y|I|            Window             |
//! |       |     | |R|E|G|K|H|T|N|N|                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |         Urgent Pointer        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           [Options]                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                             Data ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;
use core::net::Ipv4Addr;
use core::ops::{BitOr, BitOrAssign};

use super::checksum;
use super::ethernet::{EtherType, EthernetRepr};
use super::ipv4::{IpProtocol, Ipv4Repr};
use super::{Error, MacAddr, Result};

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// Longest header (data offset 15).
pub const MAX_HEADER_LEN: usize = 60;
/// Longest options field.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;

/// Byte offsets of the header fields.
pub mod field {
    use core::ops::Range;
    /// Source port.
    pub const SRC_PORT: Range<usize> = 0..2;
    /// Destination port.
    pub const DST_PORT: Range<usize> = 2..4;
    /// Sequence number.
    pub const SEQ: Range<usize> = 4..8;
    /// Acknowledgment number.
    pub const ACK: Range<usize> = 8..12;
    /// Data offset (4 bits), reserved (3 bits), control bits (9 bits).
    pub const FLAGS: Range<usize> = 12..14;
    /// Window.
    pub const WINDOW: Range<usize> = 14..16;
    /// Checksum.
    pub const CHECKSUM: Range<usize> = 16..18;
    /// Urgent pointer.
    pub const URGENT: Range<usize> = 18..20;
    /// Start of the options.
    pub const OPTIONS: usize = 20;
}

/// Option kinds (IANA "TCP Option Kind Numbers").
pub mod kind {
    /// End of option list (RFC 9293 §3.2).
    pub const EOL: u8 = 0;
    /// No-operation (RFC 9293 §3.2).
    pub const NOP: u8 = 1;
    /// Maximum segment size (RFC 9293 §3.2).
    pub const MSS: u8 = 2;
    /// Window scale (RFC 7323 §2).
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted (RFC 2018 §2).
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK (RFC 2018 §3).
    pub const SACK: u8 = 5;
    /// Timestamps (RFC 7323 §3).
    pub const TIMESTAMPS: u8 = 8;
}

/// TCP control bits (RFC 9293 §3.1; NS from RFC 3540, ECE/CWR from RFC 3168).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x001);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x002);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x004);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x008);
    /// Acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x010);
    /// Urgent pointer field is significant.
    pub const URG: TcpFlags = TcpFlags(0x020);
    /// ECN-Echo.
    pub const ECE: TcpFlags = TcpFlags(0x040);
    /// Congestion Window Reduced.
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// ECN nonce (historic).
    pub const NS: TcpFlags = TcpFlags(0x100);
    /// No flags.
    pub const NONE: TcpFlags = TcpFlags(0);

    /// True when every flag of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
    /// FIN set.
    pub const fn fin(self) -> bool {
        self.0 & Self::FIN.0 != 0
    }
    /// SYN set.
    pub const fn syn(self) -> bool {
        self.0 & Self::SYN.0 != 0
    }
    /// RST set.
    pub const fn rst(self) -> bool {
        self.0 & Self::RST.0 != 0
    }
    /// PSH set.
    pub const fn psh(self) -> bool {
        self.0 & Self::PSH.0 != 0
    }
    /// ACK set.
    pub const fn ack(self) -> bool {
        self.0 & Self::ACK.0 != 0
    }
    /// URG set.
    pub const fn urg(self) -> bool {
        self.0 & Self::URG.0 != 0
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Display for TcpFlags {
    /// Same as `Debug`: `[SYN, ACK]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl core::fmt::Debug for TcpFlags {
    /// Wireshark-like: `[SYN, ACK]`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const NAMES: [(TcpFlags, &str); 9] = [
            (TcpFlags::NS, "NS"),
            (TcpFlags::CWR, "CWR"),
            (TcpFlags::ECE, "ECE"),
            (TcpFlags::URG, "URG"),
            (TcpFlags::FIN, "FIN"),
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::ACK, "ACK"),
        ];
        f.write_str("[")?;
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(", ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        f.write_str("]")
    }
}

/// One SACK block (RFC 2018 §3): the sequence space `[left, right)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SackBlock {
    /// First sequence number of the block.
    pub left: u32,
    /// Sequence number just past the block.
    pub right: u32,
}

/// The TCP timestamps option (RFC 7323 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamps {
    /// TSval: the sender's timestamp clock.
    pub tsval: u32,
    /// TSecr: the echoed TSval (meaningful when ACK is set).
    pub tsecr: u32,
}

/// Options strata understands; unknown options are skipped by length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2), only on SYN.
    pub mss: Option<u16>,
    /// Window scale shift count (kind 3), only on SYN.
    pub window_scale: Option<u8>,
    /// SACK permitted (kind 4), only on SYN.
    pub sack_permitted: bool,
    /// SACK blocks (kind 5), the first `sack_len` entries are valid.
    pub sack_blocks: [SackBlock; 4],
    /// Number of valid entries in `sack_blocks` (0..=4).
    pub sack_len: u8,
    /// Timestamps (kind 8).
    pub timestamps: Option<Timestamps>,
}

impl TcpOptions {
    /// The valid SACK blocks.
    pub fn sack(&self) -> &[SackBlock] {
        &self.sack_blocks[..usize::from(self.sack_len.min(4))]
    }
}

/// A parsed TCP segment: every header field, the options, and the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful when ACK is set).
    pub ack: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// Window field as sent (unscaled).
    pub window: u16,
    /// Urgent pointer (parsed and ignored, RFC 9293 §3.8.5).
    pub urgent: u16,
    /// Options.
    pub options: TcpOptions,
    /// Segment data.
    pub payload: &'a [u8],
}

impl TcpOptions {
    /// Options from the raw options field of a header.
    ///
    /// EOL ends the list, NOP is skipped, unknown kinds are skipped by their
    /// length. RFC 9293 §3.1: EOL, NOP and MSS are all understood (MUST-4);
    /// this runs on every segment, not only SYNs ("a TCP implementation MUST
    /// be able to receive a TCP Option in any segment", MUST-5); options it
    /// does not implement are ignored (MUST-6). A length below 2 or past the
    /// end of the field, or a wrong length for a known kind, is
    /// [`Error::BadOption`] (MUST-7: be prepared to handle an illegal option
    /// length). A repeated option overrides the earlier one.
    #[inline]
    pub fn parse(raw: &[u8]) -> Result<TcpOptions> {
        // Fast path (inlined into the receive path) for the layout nearly
        // every segment of a connection carries: NOP, NOP, Timestamps
        // (RFC 7323 Appendix A). Same result as the general loop.
        if let [kind::NOP, kind::NOP, kind::TIMESTAMPS, 10, a, b, c, d, e, f, g, h] = *raw {
            return Ok(TcpOptions {
                timestamps: Some(Timestamps {
                    tsval: u32::from_be_bytes([a, b, c, d]),
                    tsecr: u32::from_be_bytes([e, f, g, h]),
                }),
                ..TcpOptions::default()
            });
        }
        Self::parse_any(raw)
    }

    /// [`TcpOptions::parse`] for any layout.
    fn parse_any(raw: &[u8]) -> Result<TcpOptions> {
        let mut o = TcpOptions::default();
        let mut i = 0;
        // Byte by byte: an option may start at any offset, not only on a
        // word boundary (RFC 9293 §3.2 MUST-64).
        while i < raw.len() {
            match raw[i] {
                // RFC 9293 §3.2: End of Option List.
                kind::EOL => break,
                // RFC 9293 §3.2: No-Operation.
                kind::NOP => i += 1,
                k => {
                    let len = usize::from(*raw.get(i + 1).ok_or(Error::BadOption)?);
                    if len < 2 || i + len > raw.len() {
                        return Err(Error::BadOption);
                    }
                    let body = &raw[i + 2..i + len];
                    match k {
                        // RFC 9293 §3.2: MSS, length 4.
                        kind::MSS => match body {
                            [a, b] => o.mss = Some(u16::from_be_bytes([*a, *b])),
                            _ => return Err(Error::BadOption),
                        },
                        // RFC 7323 §2.2: Window Scale, length 3.
                        kind::WINDOW_SCALE => match body {
                            [s] => o.window_scale = Some(*s),
                            _ => return Err(Error::BadOption),
                        },
                        // RFC 2018 §2: SACK-Permitted, length 2.
                        kind::SACK_PERMITTED => {
                            if !body.is_empty() {
                                return Err(Error::BadOption);
                            }
                            o.sack_permitted = true;
                        }
                        // RFC 2018 §3: SACK, length 8n + 2, and 40 bytes of
                        // option space hold at most 4 blocks.
                        kind::SACK => {
                            if body.is_empty() || body.len() & 7 != 0 || body.len() > 32 {
                                return Err(Error::BadOption);
                            }
                            let mut n = 0;
                            for (slot, blk) in o.sack_blocks.iter_mut().zip(body.chunks_exact(8)) {
                                *slot = SackBlock {
                                    left: u32::from_be_bytes([blk[0], blk[1], blk[2], blk[3]]),
                                    right: u32::from_be_bytes([blk[4], blk[5], blk[6], blk[7]]),
                                };
                                n += 1;
                            }
                            o.sack_len = n;
                        }
                        // RFC 7323 §3.2: Timestamps, length 10.
                        kind::TIMESTAMPS => match body {
                            [a, b, c, d, e, f, g, h] => {
                                o.timestamps = Some(Timestamps {
                                    tsval: u32::from_be_bytes([*a, *b, *c, *d]),
                                    tsecr: u32::from_be_bytes([*e, *f, *g, *h]),
                                })
                            }
                            _ => return Err(Error::BadOption),
                        },
                        // RFC 9293 §3.1 MUST-6: ignore unknown options.
                        _ => {}
                    }
                    i += len;
                }
            }
        }
        Ok(o)
    }

    /// Bytes the SACK option would take and how many blocks fit, given
    /// `used` bytes already taken by the other options.
    fn sack_fit(&self, used: usize) -> (usize, usize) {
        let n = self.sack().len();
        if n == 0 {
            return (0, 0);
        }
        // NOP NOP kind len + 8 bytes per block.
        let room = MAX_OPTIONS_LEN.saturating_sub(used);
        let fit = n.min(room.saturating_sub(4) / 8);
        if fit == 0 {
            (0, 0)
        } else {
            (4 + 8 * fit, fit)
        }
    }

    /// Bytes of options without SACK (all 4-byte aligned).
    fn fixed_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.timestamps.is_some() {
            n += 12; // (SACK_PERM or NOP NOP) + TS
        } else if self.sack_permitted {
            n += 4; // NOP NOP SACK_PERM
        }
        if self.window_scale.is_some() {
            n += 4; // NOP WS
        }
        n
    }

    /// Encoded length in bytes (a multiple of 4, at most 40). SACK blocks
    /// that do not fit in the 40-byte option space are left out (the first
    /// blocks are kept: RFC 2018 §4 puts the most recent first).
    pub fn encoded_len(&self) -> usize {
        let f = self.fixed_len();
        f + self.sack_fit(f).0
    }

    /// Writes the options into `out` (at least [`TcpOptions::encoded_len`]
    /// bytes) in the layout Linux uses, each 4-byte aligned:
    /// `MSS`, `SACK_PERM TS` (or `NOP NOP TS`, or `NOP NOP SACK_PERM`),
    /// `NOP WS`, `NOP NOP SACK`. Returns the bytes written. Every option
    /// but NOP carries its length field (RFC 9293 §3.1 MUST-68); MSS only
    /// when the caller sets it, which the connection does on SYNs alone
    /// (RFC 9293 §3.7.1 MUST-65).
    fn emit_into(&self, out: &mut [u8]) -> usize {
        let mut i = 0;
        let mut put = |bytes: &[u8], i: &mut usize| {
            out[*i..*i + bytes.len()].copy_from_slice(bytes);
            *i += bytes.len();
        };
        if let Some(mss) = self.mss {
            let m = mss.to_be_bytes();
            put(&[kind::MSS, 4, m[0], m[1]], &mut i);
        }
        match (self.timestamps, self.sack_permitted) {
            (Some(ts), sp) => {
                if sp {
                    put(&[kind::SACK_PERMITTED, 2], &mut i);
                } else {
                    put(&[kind::NOP, kind::NOP], &mut i);
                }
                put(&[kind::TIMESTAMPS, 10], &mut i);
                put(&ts.tsval.to_be_bytes(), &mut i);
                put(&ts.tsecr.to_be_bytes(), &mut i);
            }
            (None, true) => put(&[kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2], &mut i),
            (None, false) => {}
        }
        if let Some(ws) = self.window_scale {
            put(&[kind::NOP, kind::WINDOW_SCALE, 3, ws], &mut i);
        }
        let (len, fit) = self.sack_fit(i);
        if fit > 0 {
            put(&[kind::NOP, kind::NOP, kind::SACK, (len - 2) as u8], &mut i);
            for b in &self.sack()[..fit] {
                put(&b.left.to_be_bytes(), &mut i);
                put(&b.right.to_be_bytes(), &mut i);
            }
        }
        i
    }
}

/// A zero-copy view of a TCP segment, lengths checked on creation.
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps a buffer (the whole IPv4 payload: the segment runs to its end),
    /// checking the fixed header fits ([`Error::Truncated`]), the data offset
    /// is at least 5 ([`Error::BadLength`]) and the header with options fits
    /// ([`Error::Truncated`]).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = TcpPacket { buffer };
        // RFC 9293 §3.1: data offset counts 32-bit words; the header is at
        // least 20 bytes.
        super::check_length(p.buffer.as_ref().len(), HEADER_LEN, || p.header_len())?;
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
    fn u32_at(&self, r: core::ops::Range<usize>) -> u32 {
        let b = self.buffer.as_ref();
        let s = r.start;
        u32::from_be_bytes([b[s], b[s + 1], b[s + 2], b[s + 3]])
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT)
    }
    /// Sequence number.
    pub fn seq(&self) -> u32 {
        self.u32_at(field::SEQ)
    }
    /// Acknowledgment number.
    pub fn ack(&self) -> u32 {
        self.u32_at(field::ACK)
    }
    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::FLAGS.start] >> 4) * 4
    }
    /// Control bits (the 9 flag bits; reserved bits are dropped).
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.u16_at(field::FLAGS) & 0x01ff)
    }
    /// Window field (unscaled).
    pub fn window(&self) -> u16 {
        self.u16_at(field::WINDOW)
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        self.u16_at(field::URGENT)
    }
    /// Raw options bytes.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }
    /// Segment data.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
    /// The one's-complement sum of the pseudo-header and the header with
    /// its options (checksum field included), not of the data: a segment
    /// verifies when this, combined with the sum of the data, is `0xffff`
    /// (RFC 9293 §3.1). The header length is a multiple of 4, so the data's
    /// sum combines without a byte shift.
    pub fn header_sum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
        let b = self.buffer.as_ref();
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        let ph = checksum::pseudo_header(src, dst, IpProtocol::TCP, len);
        checksum::combine(&[ph, checksum::sum(&b[..self.header_len()])])
    }

    /// True when the checksum verifies against the IPv4 pseudo-header
    /// (RFC 9293 §3.1).
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        // Longer than the pseudo-header's length field: not a segment.
        if u32::try_from(self.buffer.as_ref().len()).is_err() {
            return false;
        }
        let data = checksum::sum(self.payload());
        checksum::combine(&[self.header_sum(src, dst), data]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the sequence number (the checksum must then be refilled).
    pub fn set_seq(&mut self, seq: u32) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&seq.to_be_bytes());
    }
    /// Sets the acknowledgment number (the checksum must then be refilled).
    pub fn set_ack(&mut self, ack: u32) {
        self.buffer.as_mut()[field::ACK].copy_from_slice(&ack.to_be_bytes());
    }
    /// Sets the window field (the checksum must then be refilled).
    pub fn set_window(&mut self, window: u16) {
        self.buffer.as_mut()[field::WINDOW].copy_from_slice(&window.to_be_bytes());
    }
    /// Recomputes and writes the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let b = self.buffer.as_mut();
        b[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let ph = checksum::pseudo_header(src, dst, IpProtocol::TCP, b.len() as u32);
        let c = checksum::finish(checksum::combine(&[ph, checksum::sum(b)]));
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
    /// Mutable segment data.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        &mut self.buffer.as_mut()[h..]
    }
}

impl TcpRepr<'static> {
    /// A connection request as a typical client opens one: SYN with
    /// sequence number `seq`, window 64 240 and MSS 1460 (RFC 9293 §3.7.1),
    /// no other option.
    pub fn syn(src_port: u16, dst_port: u16, seq: u32) -> Self {
        TcpRepr {
            src_port,
            dst_port,
            seq,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 64_240,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                ..TcpOptions::default()
            },
            payload: &[],
        }
    }
}

impl<'a> TcpRepr<'a> {
    /// Reads a checked segment, verifying the checksum over the IPv4
    /// pseudo-header, header and data ([`Error::BadChecksum`]; RFC 9293
    /// §3.1, MUST-2/MUST-3), and the options ([`Error::BadOption`]).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        p: &TcpPacket<&'a T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<TcpRepr<'a>> {
        if !p.verify_checksum(src, dst) {
            return Err(Error::BadChecksum);
        }
        Self::parse_unverified(p)
    }

    /// Reads a checked segment *without* verifying its checksum, for a
    /// receive path that verifies it itself before acting on the segment
    /// (see [`TcpPacket::header_sum`]): options are checked
    /// ([`Error::BadOption`]).
    #[inline]
    pub fn parse_unverified<T: AsRef<[u8]> + ?Sized>(p: &TcpPacket<&'a T>) -> Result<TcpRepr<'a>> {
        let whole: &'a T = p.buffer;
        let bytes: &'a [u8] = whole.as_ref();
        Ok(TcpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq: p.seq(),
            ack: p.ack(),
            flags: p.flags(),
            window: p.window(),
            urgent: p.urgent(),
            options: TcpOptions::parse(p.options())?,
            payload: &bytes[p.header_len()..],
        })
    }

    /// Header length: 20 plus the encoded options (padded to 4, ≤ 60).
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.encoded_len()
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Sequence space the segment occupies: data plus one for SYN and one
    /// for FIN (RFC 9293 §3.4).
    pub fn segment_len(&self) -> usize {
        self.payload.len() + usize::from(self.flags.syn()) + usize::from(self.flags.fin())
    }

    /// The whole Ethernet II frame that carries this segment from `src` to
    /// `dst` in an IPv4 packet (TTL 64, no options), padded to the 60-byte
    /// minimum: what a host would put on the wire. For tests, attackers of
    /// the lab and the demo, which write frames by hand.
    pub fn to_frame(
        &self,
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<Vec<u8>> {
        let ip = Ipv4Repr::new(src, dst, IpProtocol::TCP, 64, self.buffer_len());
        let eth = EthernetRepr {
            dst: dst_mac,
            src: src_mac,
            ethertype: EtherType::IPV4,
            vlan: None,
        };
        let mut f = vec![0u8; 60.max(14 + ip.buffer_len())];
        let e = eth.emit(&mut f)?;
        let i = ip.emit(&mut f[e..])?;
        self.emit(&mut f[e + i..], src, dst)?;
        Ok(f)
    }

    /// Writes header, options, payload and checksum at the start of `buf`;
    /// returns the segment length. [`Error::Truncated`] if `buf` is too
    /// short, [`Error::BadLength`] if the segment would exceed 65535 bytes.
    pub fn emit(&self, buf: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<usize> {
        let hl = self.header_len();
        let n = hl + self.payload.len();
        u16::try_from(n).map_err(|_| Error::BadLength)?;
        let b = buf.get_mut(..n).ok_or(Error::Truncated)?;
        // The data is copied and summed in one pass.
        let data_sum = checksum::copy_and_sum(&mut b[hl..], self.payload);
        self.finish(b, hl, src, dst, Some(data_sum))?;
        Ok(n)
    }

    /// Like [`TcpRepr::emit`], but leaves the checksum partial for a device
    /// with checksum offload to complete: the field holds the sum of the
    /// pseudo-header only (not complemented), and the data is copied
    /// without being summed. The device then sums from the TCP header to
    /// the end and writes the complement into the field (see
    /// [`crate::phy::complete_checksum`]).
    pub fn emit_partial_checksum(
        &self,
        buf: &mut [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<usize> {
        let hl = self.header_len();
        let n = hl + self.payload.len();
        u16::try_from(n).map_err(|_| Error::BadLength)?;
        let b = buf.get_mut(..n).ok_or(Error::Truncated)?;
        b[hl..].copy_from_slice(self.payload);
        self.finish(b, hl, src, dst, None)?;
        Ok(n)
    }

    /// Like [`TcpRepr::emit`] when `payload_len` data bytes are already in
    /// place right after the header (at `buf[self.header_len()..]`);
    /// `self.payload` is ignored.
    pub fn emit_in_place(
        &self,
        buf: &mut [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload_len: usize,
    ) -> Result<usize> {
        let hl = self.header_len();
        let n = hl + payload_len;
        let b = buf.get_mut(..n).ok_or(Error::Truncated)?;
        let data_sum = checksum::sum(&b[hl..]);
        self.finish(b, hl, src, dst, Some(data_sum))?;
        Ok(n)
    }

    /// Writes the header into `b[..hl]` and the checksum over `b`, given the
    /// sum of the data after the header (`b[hl..]`); with `None`, only the
    /// pseudo-header sum (a partial checksum, for the device to complete).
    fn finish(
        &self,
        b: &mut [u8],
        hl: usize,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        data_sum: Option<u16>,
    ) -> Result<()> {
        let len = u16::try_from(b.len()).map_err(|_| Error::BadLength)?;
        b[field::SRC_PORT].copy_from_slice(&self.src_port.to_be_bytes());
        b[field::DST_PORT].copy_from_slice(&self.dst_port.to_be_bytes());
        b[field::SEQ].copy_from_slice(&self.seq.to_be_bytes());
        b[field::ACK].copy_from_slice(&self.ack.to_be_bytes());
        let off_flags = ((hl as u16 / 4) << 12) | (self.flags.0 & 0x01ff);
        b[field::FLAGS].copy_from_slice(&off_flags.to_be_bytes());
        b[field::WINDOW].copy_from_slice(&self.window.to_be_bytes());
        b[field::CHECKSUM].copy_from_slice(&[0, 0]);
        b[field::URGENT].copy_from_slice(&self.urgent.to_be_bytes());
        let opts = &mut b[field::OPTIONS..hl];
        let written = self.options.emit_into(opts);
        // RFC 9293 §3.1 MUST-69: the header is padded with zeros to a 32-bit
        // boundary, whatever the buffer held.
        opts[written..].fill(0);
        // RFC 9293 §3.1: checksum over pseudo-header, header and data.
        let ph = checksum::pseudo_header(src, dst, IpProtocol::TCP, u32::from(len));
        let Some(data_sum) = data_sum else {
            // Partial: the device adds header and data (and complements).
            b[field::CHECKSUM].copy_from_slice(&ph.to_be_bytes());
            return Ok(());
        };
        // The header length is a multiple of 4, so the data sum combines
        // without a byte shift.
        let hs = checksum::sum(&b[..hl]);
        let c = checksum::finish(checksum::combine(&[ph, hs, data_sum]));
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }
}

impl fmt::Display for TcpRepr<'_> {
    /// `TCP 49152 → 80 [SYN] seq=0 win=65535 len=0 MSS=1460 WS=7 SACK_PERM TSval=1 TSecr=0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TCP {} → {} {} seq={}",
            self.src_port, self.dst_port, self.flags, self.seq
        )?;
        if self.flags.ack() {
            write!(f, " ack={}", self.ack)?;
        }
        write!(f, " win={} len={}", self.window, self.payload.len())?;
        let o = &self.options;
        if let Some(m) = o.mss {
            write!(f, " MSS={m}")?;
        }
        if let Some(ws) = o.window_scale {
            write!(f, " WS={ws}")?;
        }
        if o.sack_permitted {
            f.write_str(" SACK_PERM")?;
        }
        if let Some(ts) = o.timestamps {
            write!(f, " TSval={} TSecr={}", ts.tsval, ts.tsecr)?;
        }
        for b in o.sack() {
            write!(f, " SLE={} SRE={}", b.left, b.right)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 2);

    #[test]
    fn a_syn_frame_parses_back_layer_by_layer() {
        use crate::wire::ipv4::Ipv4Packet;
        let (ma, mb) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
        let syn = TcpRepr::syn(40_000, 80, 7);
        let f = syn.to_frame(ma, mb, A, B).unwrap();
        // 14 + 20 + 24 (MSS option) = 58, padded to the 60-byte minimum.
        assert_eq!(f.len(), 60);
        assert_eq!(&f[0..6], &mb.0);
        assert_eq!(&f[6..12], &ma.0);
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
        let ipr = Ipv4Repr::parse(&ip).unwrap();
        assert_eq!((ipr.src, ipr.dst, ipr.protocol), (A, B, IpProtocol::TCP));
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        let back = TcpRepr::parse(&tcp, A, B).unwrap();
        assert_eq!(back, syn);
        assert_eq!(back.options.mss, Some(1460));
    }

    fn syn() -> TcpRepr<'static> {
        TcpRepr {
            src_port: 49152,
            dst_port: 80,
            seq: 0,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 65535,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                timestamps: Some(Timestamps { tsval: 1, tsecr: 0 }),
                ..TcpOptions::default()
            },
            payload: &[],
        }
    }

    #[test]
    // covers: MUST-2, MUST-68
    fn syn_roundtrip_and_display() {
        let r = syn();
        assert_eq!(r.header_len(), 40);
        let mut buf = [0u8; 40];
        assert_eq!(r.emit(&mut buf, A, B), Ok(40));
        // MSS, SACK_PERM+TS, NOP WS — Linux's layout.
        assert_eq!(&buf[20..24], &[2, 4, 0x05, 0xb4]);
        assert_eq!(&buf[24..28], &[4, 2, 8, 10]);
        assert_eq!(&buf[36..40], &[1, 3, 3, 7]);
        let p = TcpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(TcpRepr::parse(&p, A, B), Ok(r));
        assert_eq!(
            r.to_string(),
            "TCP 49152 → 80 [SYN] seq=0 win=65535 len=0 MSS=1460 WS=7 SACK_PERM TSval=1 TSecr=0"
        );
        assert_eq!(TcpRepr::parse(&p, A, A), Err(Error::BadChecksum));
    }

    #[test]
    fn data_with_sack_and_in_place() {
        let mut r = syn();
        r.flags = TcpFlags::ACK | TcpFlags::PSH;
        r.options = TcpOptions {
            timestamps: Some(Timestamps {
                tsval: 0xdead_beef,
                tsecr: 7,
            }),
            sack_blocks: [
                SackBlock {
                    left: 10,
                    right: 20,
                },
                SackBlock {
                    left: 30,
                    right: 40,
                },
                SackBlock {
                    left: 50,
                    right: 60,
                },
                SackBlock {
                    left: 70,
                    right: 80,
                },
            ],
            sack_len: 4,
            ..TcpOptions::default()
        };
        r.payload = b"hello, world";
        // TS (12) + SACK header (4) + 3 blocks (24) = 40: the fourth is dropped.
        assert_eq!(r.header_len(), 60);
        let mut buf = [0u8; 72];
        assert_eq!(r.emit(&mut buf, A, B), Ok(72));
        let p = TcpPacket::new_checked(&buf[..]).unwrap();
        let parsed = TcpRepr::parse(&p, A, B).unwrap();
        assert_eq!(parsed.options.sack(), &r.options.sack_blocks[..3]);
        assert_eq!(parsed.payload, b"hello, world");
        assert_eq!(r.segment_len(), 12);

        let mut buf2 = [0u8; 72];
        buf2[60..].copy_from_slice(b"hello, world");
        assert_eq!(r.emit_in_place(&mut buf2, A, B, 12), Ok(72));
        assert_eq!(buf, buf2);
    }

    #[test]
    // covers: MUST-69
    fn header_bytes_are_all_written_and_padding_is_zero() {
        // A buffer full of old bytes: nothing of it may survive in the
        // header (options, padding), whatever the options.
        let mut opts = [syn().options; 4];
        opts[1].mss = None;
        opts[2] = TcpOptions {
            window_scale: Some(2),
            ..TcpOptions::default()
        };
        opts[3] = TcpOptions::default();
        for o in opts {
            let mut r = syn();
            r.options = o;
            let hl = r.header_len();
            assert_eq!(hl % 4, 0);
            let mut dirty = [0xaau8; 60];
            let mut clean = [0u8; 60];
            r.emit(&mut dirty[..hl], A, B).unwrap();
            r.emit(&mut clean[..hl], A, B).unwrap();
            assert_eq!(dirty[..hl], clean[..hl], "{o:?}");
        }
    }

    #[test]
    fn view_length_errors() {
        let mut b = [0u8; 24];
        b[12] = 6 << 4; // data offset 6: 24 bytes of header
        assert!(TcpPacket::new_checked(&b[..]).is_ok());
        assert_eq!(
            TcpPacket::new_checked(&b[..19]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            TcpPacket::new_checked(&b[..23]).unwrap_err(),
            Error::Truncated
        );
        b[12] = 4 << 4; // RFC 9293 §3.1: at least 5 words
        assert_eq!(
            TcpPacket::new_checked(&b[..]).unwrap_err(),
            Error::BadLength
        );
    }

    #[test]
    // covers: MUST-4, MUST-6, MUST-7, MUST-64
    fn option_errors_and_unknown_skipped() {
        assert_eq!(TcpOptions::parse(&[2, 4, 1]), Err(Error::BadOption));
        assert_eq!(TcpOptions::parse(&[2, 3, 1, 0]), Err(Error::BadOption));
        assert_eq!(TcpOptions::parse(&[99, 0]), Err(Error::BadOption));
        assert_eq!(TcpOptions::parse(&[99]), Err(Error::BadOption));
        assert_eq!(
            TcpOptions::parse(&[5, 9, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::BadOption)
        );
        assert_eq!(TcpOptions::parse(&[3, 4, 7, 0]), Err(Error::BadOption));
        assert_eq!(
            TcpOptions::parse(&[8, 9, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::BadOption)
        );
        assert_eq!(TcpOptions::parse(&[4, 3, 0]), Err(Error::BadOption));
        // Unknown kind 30 (MPTCP) of length 4 is skipped; EOL stops parsing
        // (garbage after it is ignored).
        let o = TcpOptions::parse(&[30, 4, 9, 9, 1, 3, 3, 5, 0, 2, 9]).unwrap();
        assert_eq!(o.window_scale, Some(5));
        assert_eq!(o.mss, None);
    }

    #[test]
    fn bad_offsets() {
        let mut buf = [0u8; 24];
        buf[12] = 4 << 4;
        assert_eq!(
            TcpPacket::new_checked(&buf[..]).unwrap_err(),
            Error::BadLength
        );
        buf[12] = 7 << 4;
        assert_eq!(
            TcpPacket::new_checked(&buf[..]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            TcpPacket::new_checked(&buf[..19]).unwrap_err(),
            Error::Truncated
        );
        buf[12] = 6 << 4;
        assert!(TcpPacket::new_checked(&buf[..]).is_ok());
    }
}
