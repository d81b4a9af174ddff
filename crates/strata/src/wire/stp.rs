//! Spanning-tree BPDUs (IEEE 802.1D-2004 clause 9): Configuration and
//! Topology Change Notification BPDUs of the 1998 Spanning Tree Protocol,
//! and the RST BPDU of the Rapid Spanning Tree Protocol (802.1w, now
//! 802.1D-2004 clause 17).
//!
//! BPDUs travel in IEEE 802.3 frames, not Ethernet II: the EtherType field
//! holds the *length* of what follows (below 0x0600), then an LLC header
//! (DSAP 0x42, SSAP 0x42, control 0x03 UI), then the BPDU, to the group
//! address `01:80:c2:00:00:00` that bridges consume and never relay.
//!
//! ```text
//!  offset  size  field (Configuration and RST BPDUs; a TCN BPDU stops at 4)
//!   0      2     Protocol Identifier (0x0000)
//!   2      1     Protocol Version Identifier (0 STP, 2 RSTP)
//!   3      1     BPDU Type (0x00 Config, 0x80 TCN, 0x02 RST)
//!   4      1     Flags: 0 TC, 1 Proposal, 2–3 Port Role, 4 Learning,
//!                5 Forwarding, 6 Agreement, 7 TC Acknowledgment
//!   5      8     Root Identifier (priority 4 bits + system id ext 12 bits, MAC)
//!  13      4     Root Path Cost
//!  17      8     Bridge Identifier
//!  25      2     Port Identifier (priority 4 bits, port number 12 bits)
//!  27      2     Message Age   (units of 1/256 s)
//!  29      2     Max Age       (units of 1/256 s)
//!  31      2     Hello Time    (units of 1/256 s)
//!  33      2     Forward Delay (units of 1/256 s)
//!  35      1     Version 1 Length (RST only, 0)
//! ```

use core::fmt;

use super::{Error, MacAddr, Result};

/// The group address of bridge protocol frames (802.1D Table 7-10).
pub const BRIDGE_GROUP: MacAddr = MacAddr([0x01, 0x80, 0xc2, 0x00, 0x00, 0x00]);
/// The LLC header that precedes a BPDU: DSAP 0x42, SSAP 0x42, UI.
pub const LLC_HEADER: [u8; 3] = [0x42, 0x42, 0x03];
/// Length of a Configuration BPDU (802.1D §9.3.1).
pub const CONFIG_LEN: usize = 35;
/// Length of a TCN BPDU (802.1D §9.3.2).
pub const TCN_LEN: usize = 4;
/// Length of an RST BPDU (802.1D §9.3.3).
pub const RST_LEN: usize = 36;

/// Byte offsets of the fields.
pub mod field {
    use core::ops::Range;
    /// Protocol Identifier.
    pub const PROTOCOL: Range<usize> = 0..2;
    /// Protocol Version Identifier.
    pub const VERSION: usize = 2;
    /// BPDU Type.
    pub const TYPE: usize = 3;
    /// Flags.
    pub const FLAGS: usize = 4;
    /// Root Identifier.
    pub const ROOT: Range<usize> = 5..13;
    /// Root Path Cost.
    pub const ROOT_COST: Range<usize> = 13..17;
    /// Bridge Identifier.
    pub const BRIDGE: Range<usize> = 17..25;
    /// Port Identifier.
    pub const PORT: Range<usize> = 25..27;
    /// Message Age.
    pub const MESSAGE_AGE: Range<usize> = 27..29;
    /// Max Age.
    pub const MAX_AGE: Range<usize> = 29..31;
    /// Hello Time.
    pub const HELLO: Range<usize> = 31..33;
    /// Forward Delay.
    pub const FORWARD_DELAY: Range<usize> = 33..35;
    /// Version 1 Length (RST BPDUs).
    pub const VERSION1_LEN: usize = 35;
}

/// Flag bits (802.1D §9.3.3, Figure 9-3).
pub mod flags {
    /// Topology Change.
    pub const TC: u8 = 0x01;
    /// Proposal (RST).
    pub const PROPOSAL: u8 = 0x02;
    /// Port Role mask (RST), two bits.
    pub const ROLE_MASK: u8 = 0x0c;
    /// Learning (RST).
    pub const LEARNING: u8 = 0x10;
    /// Forwarding (RST).
    pub const FORWARDING: u8 = 0x20;
    /// Agreement (RST).
    pub const AGREEMENT: u8 = 0x40;
    /// Topology Change Acknowledgment.
    pub const TC_ACK: u8 = 0x80;
}

/// A bridge identifier: 16 bits of priority (the top 4 bits settable in
/// steps of 4096, the low 12 bits the system ID extension) and the
/// bridge's MAC address. Lower is better; the lowest is the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BridgeId {
    /// Priority and system ID extension (802.1D default 32768).
    pub priority: u16,
    /// The bridge address.
    pub mac: MacAddr,
}

impl BridgeId {
    fn from_bytes(b: &[u8]) -> Self {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&b[2..8]);
        BridgeId {
            priority: u16::from_be_bytes([b[0], b[1]]),
            mac: MacAddr(mac),
        }
    }
    fn write(&self, b: &mut [u8]) {
        b[0..2].copy_from_slice(&self.priority.to_be_bytes());
        b[2..8].copy_from_slice(&self.mac.0);
    }
}

impl fmt::Display for BridgeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.priority, self.mac)
    }
}

/// The port role carried in an RST BPDU's flags (802.1D §9.2.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BpduRole {
    /// 00: unknown (also what STP BPDUs carry).
    Unknown,
    /// 01: alternate or backup.
    AlternateOrBackup,
    /// 10: root.
    Root,
    /// 11: designated.
    Designated,
}

impl BpduRole {
    fn from_flags(f: u8) -> Self {
        match (f & flags::ROLE_MASK) >> 2 {
            0 => BpduRole::Unknown,
            1 => BpduRole::AlternateOrBackup,
            2 => BpduRole::Root,
            _ => BpduRole::Designated,
        }
    }
    const fn bits(self) -> u8 {
        (match self {
            BpduRole::Unknown => 0,
            BpduRole::AlternateOrBackup => 1,
            BpduRole::Root => 2,
            BpduRole::Designated => 3,
        }) << 2
    }
}

/// The priority information of a Configuration or RST BPDU, with the
/// timers it carries (all times in 1/256 s, as on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BpduInfo {
    /// The flag byte (see [`flags`]).
    pub flags: u8,
    /// The bridge the sender believes is the root.
    pub root: BridgeId,
    /// The sender's cost to reach the root.
    pub root_cost: u32,
    /// The sending bridge.
    pub bridge: BridgeId,
    /// The sending port (priority in the top 4 bits, number below).
    pub port: u16,
    /// Age of the root's information when sent.
    pub message_age: u16,
    /// When the information expires (age limit).
    pub max_age: u16,
    /// The root's hello interval.
    pub hello_time: u16,
    /// The root's forward delay.
    pub forward_delay: u16,
}

impl BpduInfo {
    /// The port role in the flags (RST BPDUs).
    pub fn role(&self) -> BpduRole {
        BpduRole::from_flags(self.flags)
    }
    /// Sets the port role bits.
    pub fn set_role(&mut self, role: BpduRole) {
        self.flags = (self.flags & !flags::ROLE_MASK) | role.bits();
    }
    /// Whether `flag` (one of [`flags`]) is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A parsed BPDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BpduRepr {
    /// An 802.1D (1998) Configuration BPDU, protocol version 0.
    Config(BpduInfo),
    /// A Topology Change Notification BPDU (sent toward the root).
    Tcn,
    /// A Rapid Spanning Tree BPDU, protocol version 2.
    Rst(BpduInfo),
}

impl BpduRepr {
    /// Parses a BPDU (the bytes after the LLC header). Extra bytes (frame
    /// padding) are ignored. Versions above 2 (MSTP) are read as RST, as
    /// 802.1D §9.3.4 asks of an RSTP bridge.
    pub fn parse(b: &[u8]) -> Result<Self> {
        if b.len() < TCN_LEN {
            return Err(Error::Truncated);
        }
        if b[field::PROTOCOL] != [0, 0] {
            return Err(Error::Unsupported);
        }
        let version = b[field::VERSION];
        match b[field::TYPE] {
            0x80 => Ok(BpduRepr::Tcn),
            0x00 | 0x02 => {
                if b.len() < CONFIG_LEN {
                    return Err(Error::Truncated);
                }
                let u16_at =
                    |r: core::ops::Range<usize>| u16::from_be_bytes([b[r.start], b[r.start + 1]]);
                let info = BpduInfo {
                    flags: b[field::FLAGS],
                    root: BridgeId::from_bytes(&b[field::ROOT]),
                    root_cost: u32::from_be_bytes(b[field::ROOT_COST].try_into().unwrap()),
                    bridge: BridgeId::from_bytes(&b[field::BRIDGE]),
                    port: u16_at(field::PORT),
                    message_age: u16_at(field::MESSAGE_AGE),
                    max_age: u16_at(field::MAX_AGE),
                    hello_time: u16_at(field::HELLO),
                    forward_delay: u16_at(field::FORWARD_DELAY),
                };
                if b[field::TYPE] == 0x02 {
                    if version < 2 {
                        return Err(Error::Malformed);
                    }
                    if b.len() < RST_LEN {
                        return Err(Error::Truncated);
                    }
                    Ok(BpduRepr::Rst(info))
                } else {
                    // 802.1D §9.3.4: a Config BPDU's RSTP-only flags are ignored.
                    let mut info = info;
                    info.flags &= flags::TC | flags::TC_ACK;
                    Ok(BpduRepr::Config(info))
                }
            }
            _ => Err(Error::Unsupported),
        }
    }

    /// Length of the BPDU (without LLC header).
    pub const fn buffer_len(&self) -> usize {
        match self {
            BpduRepr::Config(_) => CONFIG_LEN,
            BpduRepr::Tcn => TCN_LEN,
            BpduRepr::Rst(_) => RST_LEN,
        }
    }

    /// Writes the BPDU at the start of `buf` (at least
    /// [`buffer_len`](Self::buffer_len) bytes); returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        if buf.len() < n {
            return Err(Error::Truncated);
        }
        let b = &mut buf[..n];
        b[field::PROTOCOL].copy_from_slice(&[0, 0]);
        let (version, kind, info) = match self {
            BpduRepr::Config(i) => (0, 0x00, Some(i)),
            BpduRepr::Tcn => (0, 0x80, None),
            BpduRepr::Rst(i) => (2, 0x02, Some(i)),
        };
        b[field::VERSION] = version;
        b[field::TYPE] = kind;
        if let Some(i) = info {
            b[field::FLAGS] = i.flags;
            i.root.write(&mut b[field::ROOT]);
            b[field::ROOT_COST].copy_from_slice(&i.root_cost.to_be_bytes());
            i.bridge.write(&mut b[field::BRIDGE]);
            b[field::PORT].copy_from_slice(&i.port.to_be_bytes());
            b[field::MESSAGE_AGE].copy_from_slice(&i.message_age.to_be_bytes());
            b[field::MAX_AGE].copy_from_slice(&i.max_age.to_be_bytes());
            b[field::HELLO].copy_from_slice(&i.hello_time.to_be_bytes());
            b[field::FORWARD_DELAY].copy_from_slice(&i.forward_delay.to_be_bytes());
        }
        if matches!(self, BpduRepr::Rst(_)) {
            b[field::VERSION1_LEN] = 0;
        }
        Ok(n)
    }

    /// The whole 802.3 frame: header (destination [`BRIDGE_GROUP`],
    /// source `src`, length), LLC header, BPDU, padded to the 60-byte
    /// minimum.
    pub fn to_frame(&self, src: MacAddr) -> Vec<u8> {
        let llc_len = LLC_HEADER.len() + self.buffer_len();
        let mut f = Vec::with_capacity(60);
        f.extend_from_slice(&BRIDGE_GROUP.0);
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&(llc_len as u16).to_be_bytes());
        f.extend_from_slice(&LLC_HEADER);
        let at = f.len();
        f.resize(at + self.buffer_len(), 0);
        self.emit(&mut f[at..]).expect("sized above");
        f.resize(f.len().max(60), 0);
        f
    }

    /// Parses a whole frame as a BPDU: an 802.3 length field, the LLC
    /// header 42 42 03 and a BPDU. `Err(Unsupported)` for any other frame.
    pub fn parse_frame(frame: &[u8]) -> Result<Self> {
        if frame.len() < 14 + LLC_HEADER.len() {
            return Err(Error::Truncated);
        }
        let len = usize::from(u16::from_be_bytes([frame[12], frame[13]]));
        if len >= 0x0600 || frame[14..17] != LLC_HEADER {
            return Err(Error::Unsupported);
        }
        let end = 14 + len;
        if frame.len() < end || len < LLC_HEADER.len() {
            return Err(Error::BadLength);
        }
        BpduRepr::parse(&frame[17..end])
    }
}

impl fmt::Display for BpduRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, i) = match self {
            BpduRepr::Tcn => return f.write_str("STP TCN"),
            BpduRepr::Config(i) => ("STP Conf", i),
            BpduRepr::Rst(i) => ("RST", i),
        };
        write!(
            f,
            "{name} root={} cost={} bridge={} port=0x{:04x}",
            i.root, i.root_cost, i.bridge, i.port
        )?;
        for (bit, label) in [
            (flags::TC, "TC"),
            (flags::PROPOSAL, "P"),
            (flags::LEARNING, "L"),
            (flags::FORWARDING, "F"),
            (flags::AGREEMENT, "A"),
            (flags::TC_ACK, "TCA"),
        ] {
            if i.has(bit) {
                write!(f, " {label}")?;
            }
        }
        if matches!(self, BpduRepr::Rst(_)) {
            let role = match i.role() {
                BpduRole::Unknown => "?",
                BpduRole::AlternateOrBackup => "alt",
                BpduRole::Root => "root",
                BpduRole::Designated => "desg",
            };
            write!(f, " role={role}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> BpduInfo {
        BpduInfo {
            flags: flags::TC,
            root: BridgeId {
                priority: 32768,
                mac: MacAddr([2, 0, 0, 0, 0, 1]),
            },
            root_cost: 19,
            bridge: BridgeId {
                priority: 32768,
                mac: MacAddr([2, 0, 0, 0, 0, 2]),
            },
            port: 0x8002,
            message_age: 256,
            max_age: 20 * 256,
            hello_time: 2 * 256,
            forward_delay: 15 * 256,
        }
    }

    #[test]
    fn config_bpdu_has_the_802_1d_layout() {
        let f = BpduRepr::Config(info()).to_frame(MacAddr([2, 0, 0, 0, 0, 2]));
        assert_eq!(f.len(), 60);
        assert_eq!(&f[0..6], &BRIDGE_GROUP.0);
        assert_eq!(u16::from_be_bytes([f[12], f[13]]), 38); // LLC 3 + BPDU 35
        assert_eq!(&f[14..17], &LLC_HEADER);
        let b = &f[17..];
        assert_eq!(&b[0..4], &[0, 0, 0, 0]);
        assert_eq!(b[4], 0x01);
        assert_eq!(&b[5..13], &[0x80, 0, 2, 0, 0, 0, 0, 1]);
        assert_eq!(&b[13..17], &19u32.to_be_bytes());
        assert_eq!(&b[25..27], &[0x80, 0x02]);
        assert_eq!(&b[27..29], &[1, 0]); // 1 s
        assert_eq!(&b[33..35], &[15, 0]); // 15 s
        assert_eq!(BpduRepr::parse_frame(&f), Ok(BpduRepr::Config(info())));
    }

    #[test]
    fn rst_and_tcn_round_trip() {
        let mut i = info();
        i.flags |= flags::PROPOSAL | flags::AGREEMENT;
        i.set_role(BpduRole::Designated);
        let rst = BpduRepr::Rst(i);
        let f = rst.to_frame(MacAddr([2, 0, 0, 0, 0, 9]));
        assert_eq!(u16::from_be_bytes([f[12], f[13]]), 39);
        assert_eq!(f[17 + 2], 2);
        assert_eq!(f[17 + 3], 0x02);
        let back = BpduRepr::parse_frame(&f).unwrap();
        assert_eq!(back, rst);
        let BpduRepr::Rst(b) = back else {
            unreachable!()
        };
        assert_eq!(b.role(), BpduRole::Designated);
        let tcn = BpduRepr::Tcn.to_frame(MacAddr([2, 0, 0, 0, 0, 9]));
        assert_eq!(u16::from_be_bytes([tcn[12], tcn[13]]), 7);
        assert_eq!(BpduRepr::parse_frame(&tcn), Ok(BpduRepr::Tcn));
    }

    #[test]
    fn config_bpdu_drops_rstp_flags_and_bad_input_is_an_error() {
        let mut i = info();
        i.flags = 0xff;
        let mut buf = [0u8; CONFIG_LEN];
        BpduRepr::Config(i).emit(&mut buf).unwrap();
        let BpduRepr::Config(back) = BpduRepr::parse(&buf).unwrap() else {
            panic!()
        };
        assert_eq!(back.flags, flags::TC | flags::TC_ACK);
        assert_eq!(BpduRepr::parse(&buf[..10]), Err(Error::Truncated));
        let mut bad = buf;
        bad[0] = 1;
        assert_eq!(BpduRepr::parse(&bad), Err(Error::Unsupported));
        let mut rst_v0 = [0u8; RST_LEN];
        BpduRepr::Rst(info()).emit(&mut rst_v0).unwrap();
        rst_v0[field::VERSION] = 0;
        assert_eq!(BpduRepr::parse(&rst_v0), Err(Error::Malformed));
        // An Ethernet II frame is not a BPDU.
        let mut eth2 = [0u8; 60];
        eth2[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        assert_eq!(BpduRepr::parse_frame(&eth2), Err(Error::Unsupported));
        // Every prefix of a valid frame parses or errors, never panics.
        let f = BpduRepr::Rst(info()).to_frame(MacAddr([2, 0, 0, 0, 0, 9]));
        for n in 0..f.len() {
            let _ = BpduRepr::parse_frame(&f[..n]);
        }
    }
}
