//! TCP segment header and options (RFC 9293 §3.1, RFC 7323, RFC 2018).
//!
//! The value types below are the contract between the wire format and the
//! TCP state machine in `transport::tcp`.

use core::ops::{BitOr, BitOrAssign};

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
