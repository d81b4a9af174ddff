//! Classic pcap output with virtual timestamps.
//!
//! The file format (the "libpcap" format read by tcpdump and Wireshark):
//! a 24-byte global header, then for each packet a 16-byte record header
//! followed by the frame bytes. All fields little-endian. We write the
//! nanosecond-resolution variant (magic `0xa1b23c4d`), so a virtual
//! timestamp is stored exactly, and link type 1 (`LINKTYPE_ETHERNET`):
//! frames start with the Ethernet header and carry no FCS.

use std::io::{self, Write};

use strata::time::Instant;

/// Magic number of a nanosecond-resolution pcap file.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// `LINKTYPE_ETHERNET`: IEEE 802.3 Ethernet frames.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Largest frame length recorded whole; longer frames are truncated
/// (the record keeps the original length).
pub const SNAPLEN: u32 = 262_144;
/// Size of the global header.
pub const GLOBAL_HEADER_LEN: usize = 24;
/// Size of each record header.
pub const RECORD_HEADER_LEN: usize = 16;

/// Writes Ethernet frames as a pcap stream into any [`Write`].
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    records: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header and returns the writer.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = [0u8; GLOBAL_HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC_NANOS.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes()); // version major
        h[6..8].copy_from_slice(&4u16.to_le_bytes()); // version minor
                                                      // thiszone (4 bytes) and sigfigs (4 bytes) stay zero
        h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out, records: 0 })
    }

    /// Appends one frame stamped with virtual time `ts`.
    pub fn write_frame(&mut self, ts: Instant, frame: &[u8]) -> io::Result<()> {
        let nanos = ts.as_nanos();
        let secs = u32::try_from(nanos / 1_000_000_000).unwrap_or(u32::MAX);
        let frac = (nanos % 1_000_000_000) as u32;
        let orig = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let incl = orig.min(SNAPLEN);
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&incl.to_le_bytes());
        h[12..16].copy_from_slice(&orig.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&frame[..incl as usize])?;
        self.records += 1;
        Ok(())
    }

    /// Number of frames written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Gives back the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One pcap record read back by [`parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Timestamp in nanoseconds since the virtual zero.
    pub ts: Instant,
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// The captured bytes.
    pub data: Vec<u8>,
}

/// Why a pcap stream could not be read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PcapError {
    /// Shorter than a header or a record claims.
    #[error("truncated pcap")]
    Truncated,
    /// Not a little-endian nanosecond pcap of Ethernet frames.
    #[error("not a nanosecond Ethernet pcap")]
    BadHeader,
}

/// Reads back a stream written by [`PcapWriter`] (tests, tools).
pub fn parse(bytes: &[u8]) -> Result<Vec<Record>, PcapError> {
    let rd = |b: &[u8], at: usize| -> Result<u32, PcapError> {
        b.get(at..at + 4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
            .ok_or(PcapError::Truncated)
    };
    if rd(bytes, 0)? != MAGIC_NANOS || rd(bytes, 20)? != LINKTYPE_ETHERNET {
        return Err(PcapError::BadHeader);
    }
    let mut out = Vec::new();
    let mut at = GLOBAL_HEADER_LEN;
    while at < bytes.len() {
        let secs = u64::from(rd(bytes, at)?);
        let frac = u64::from(rd(bytes, at + 4)?);
        let incl = rd(bytes, at + 8)? as usize;
        let orig_len = rd(bytes, at + 12)?;
        let start = at + RECORD_HEADER_LEN;
        let data = bytes
            .get(start..start + incl)
            .ok_or(PcapError::Truncated)?
            .to_vec();
        out.push(Record {
            ts: Instant::from_nanos(secs * 1_000_000_000 + frac),
            orig_len,
            data,
        });
        at = start + incl;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_layout() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_frame(Instant::from_nanos(2_000_000_123), &[1, 2, 3])
            .unwrap();
        let b = w.into_inner();
        assert_eq!(b.len(), 24 + 16 + 3);
        assert_eq!(&b[0..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(&b[4..8], &[2, 0, 4, 0]);
        assert_eq!(&b[20..24], &[1, 0, 0, 0]);
        assert_eq!(&b[24..28], &[2, 0, 0, 0]); // seconds
        assert_eq!(&b[28..32], &123u32.to_le_bytes()); // nanoseconds
        assert_eq!(&b[32..36], &[3, 0, 0, 0]);
        assert_eq!(&b[36..40], &[3, 0, 0, 0]);
        assert_eq!(&b[40..], &[1, 2, 3]);
        let recs = parse(&b).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].ts, Instant::from_nanos(2_000_000_123));
        assert_eq!(recs[0].data, vec![1, 2, 3]);
        assert_eq!(parse(&b[..b.len() - 1]), Err(PcapError::Truncated));
        assert_eq!(parse(&[0u8; 24]), Err(PcapError::BadHeader));
    }
}
