//! The frame boundary: what a device gives the stack and takes from it.
//!
//! A device (a TAP interface, a simulated link, a benchmark pipe) moves whole
//! Ethernet frames. The stack receives them with `receive(now, frame)` and
//! writes outbound frames into caller buffers with `poll_transmit`.
//!
//! A device may also do work for the stack ([`DeviceCaps::offloads`]): cut
//! TCP super-segments of up to 64 KiB into MTU-sized segments (TSO/GSO),
//! complete checksums the stack leaves partial, and say that a received
//! frame's checksum needs no check. The stack stays device-agnostic: it
//! reads these capabilities when it sizes segments and writes checksums,
//! and describes each frame with [`TxMeta`] / [`RxMeta`]. The functions at
//! the end ([`complete_checksum`], [`split_super_frame`]) do in software
//! what such a device does, for devices that cannot and for tests.

/// Largest Ethernet frame the stack emits or accepts by default
/// (1500-byte MTU + 14-byte header; no FCS: devices strip it).
pub const DEFAULT_MAX_FRAME: usize = 1514;

/// What a device can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceCaps {
    /// Maximum transmission unit of the link: the largest IP datagram a frame
    /// carries (1500 for classic Ethernet, 9000 for jumbo frames).
    pub mtu: usize,
    /// Work the device does for the stack (none by default: the plain
    /// path, which the simulator exercises).
    pub offloads: Offloads,
}

impl Default for DeviceCaps {
    fn default() -> Self {
        DeviceCaps {
            mtu: 1500,
            offloads: Offloads::default(),
        }
    }
}

impl DeviceCaps {
    /// The largest frame on this link: MTU plus the Ethernet header.
    pub fn max_frame(&self) -> usize {
        self.mtu + crate::wire::ethernet::HEADER_LEN
    }
}

// ----- offloads -----------------------------------------------------------

/// Default largest TCP super-segment a TSO/GSO device takes: one whole
/// IPv4 datagram (RFC 791 §3.1: Total Length is 16 bits).
pub const MAX_TSO_DATAGRAM: usize = 65_535;

/// What an offloading device does for the stack (see [`DeviceCaps`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offloads {
    /// The device takes IPv4 TCP super-segments of up to this many bytes
    /// of IP datagram and cuts them into MTU-sized segments itself (TSO,
    /// or GSO in a virtual device). `None`: every datagram fits the MTU.
    pub tso_max: Option<usize>,
    /// The device completes TCP checksums that the stack leaves partial
    /// ([`TxMeta::checksum`]; the field then holds only the pseudo-header
    /// sum).
    pub tx_checksum: bool,
    /// The stack may trust a frame's [`RxMeta::checksum`]: a frame the
    /// device marks as verified (or as never exposed to a wire: a partial
    /// checksum from a local sender) skips the TCP checksum check.
    pub rx_checksum: bool,
}

/// A checksum left for the device to complete: the one's-complement sum
/// from `start` (an offset into the frame) to its end goes, complemented,
/// into the 16-bit field at `start + offset`, which holds the pseudo-header
/// sum meanwhile (the virtio-net `NEEDS_CSUM` convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialChecksum {
    /// Where the summed part begins (the transport header).
    pub start: u16,
    /// Where, from `start`, the checksum field is (16 for TCP).
    pub offset: u16,
}

/// A TCP super-segment for the device to cut (TSO/GSO, IPv4 TCP only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gso {
    /// Payload bytes per segment (the connection's MSS less its options).
    pub size: u16,
    /// Bytes of headers repeated in every segment: Ethernet, IPv4, TCP.
    pub hdr_len: u16,
}

/// What comes with an outbound frame when the device offloads work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxMeta {
    /// The TCP checksum is partial (only with [`Offloads::tx_checksum`] or
    /// on a super-segment).
    pub checksum: Option<PartialChecksum>,
    /// The frame is a super-segment to cut (only with
    /// [`Offloads::tso_max`]).
    pub gso: Option<Gso>,
}

impl TxMeta {
    /// Nothing left to do: the frame goes out as it is.
    pub fn is_plain(&self) -> bool {
        self.checksum.is_none() && self.gso.is_none()
    }
}

/// Where a burst of outbound frames goes
/// ([`Stack::poll_transmit_burst`](crate::stack::Stack::poll_transmit_burst)):
/// a device's transmit ring, a simulated link, a benchmark pipe. The stack
/// asks for a buffer, writes one frame into it, and hands it over with
/// [`FrameSink::send`]; then it asks for the next.
pub trait FrameSink {
    /// The buffer for the next frame (it should hold the largest frame of
    /// any interface), or `None` when the sink takes no more frames now:
    /// the burst ends, and what was not sent waits for the next poll.
    ///
    /// The stack may ask before it knows whether it has a frame, and ask
    /// again: a buffer not followed by [`FrameSink::send`] is unused, and
    /// the sink hands it out again (or another) next time.
    fn buffer(&mut self) -> Option<&mut [u8]>;

    /// The frame just written into the buffer of the last
    /// [`FrameSink::buffer`] call is complete: `t` gives its interface, its
    /// length from the buffer's start, and what the device is to finish.
    fn send(&mut self, t: crate::stack::Transmit);
}

/// What the device knows about an inbound frame's transport checksum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RxChecksum {
    /// Nothing: the stack verifies (the plain path).
    #[default]
    Unknown,
    /// Verified already (virtio-net `DATA_VALID`, a NIC's check).
    Verified,
    /// Never computed: the sender is local and left it partial
    /// (virtio-net `NEEDS_CSUM`); the data did not cross a wire.
    Partial(PartialChecksum),
}

/// What comes with an inbound frame from an offloading device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxMeta {
    /// The state of the transport checksum.
    pub checksum: RxChecksum,
}

/// Why an offloaded frame could not be finished in software.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OffloadError {
    /// The checksum position lies outside the frame.
    #[error("partial checksum at {start}+{offset} lies outside a {len}-byte frame")]
    ChecksumOutside {
        /// `PartialChecksum::start`.
        start: u16,
        /// `PartialChecksum::offset`.
        offset: u16,
        /// The frame's length.
        len: usize,
    },
    /// A super-segment that is not Ethernet + IPv4 (no options need be
    /// absent) + TCP, or whose headers disagree with its length.
    #[error("not an IPv4 TCP super-segment")]
    NotTcpV4,
    /// A segment size of zero.
    #[error("GSO segment size of zero")]
    ZeroSize,
}

/// Completes a partial checksum in `frame` (what a device with checksum
/// offload does): RFC 1071 sum from `c.start` to the end, complemented,
/// written at `c.start + c.offset` (RFC 9293 §3.1, RFC 768: the field
/// held the pseudo-header sum, so the result covers pseudo-header, header
/// and data).
pub fn complete_checksum(frame: &mut [u8], c: PartialChecksum) -> Result<(), OffloadError> {
    let start = usize::from(c.start);
    let at = start + usize::from(c.offset);
    if start >= frame.len() || at + 2 > frame.len() {
        return Err(OffloadError::ChecksumOutside {
            start: c.start,
            offset: c.offset,
            len: frame.len(),
        });
    }
    let sum = crate::wire::checksum::checksum(&frame[start..]);
    frame[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    Ok(())
}

/// Cuts an Ethernet + IPv4 + TCP super-segment into frames of at most
/// `gso.size` payload bytes each, as a TSO device does, calling `out` with
/// each finished frame (complete IPv4 and TCP checksums) in order:
/// every segment repeats the headers; the sequence number advances by the
/// payload before it; the IPv4 total length and header checksum are
/// rewritten; the identification advances per segment unless the datagram
/// is atomic (DF set: RFC 6864 §4.1 leaves it meaningless); FIN and PSH
/// stay on the last segment only and CWR on the first (RFC 3168 §6.1.2:
/// one reduction per window), as Linux's GSO does.
pub fn split_super_frame(
    frame: &[u8],
    gso: Gso,
    scratch: &mut Vec<u8>,
    mut out: impl FnMut(&[u8]),
) -> Result<(), OffloadError> {
    use crate::wire::{ethernet, ipv4, tcp};
    let eth = ethernet::HEADER_LEN;
    if frame.len() < eth + ipv4::HEADER_LEN || frame[12..14] != [0x08, 0x00] {
        return Err(OffloadError::NotTcpV4);
    }
    let ip = &frame[eth..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ip[0] >> 4 != 4
        || ihl < ipv4::HEADER_LEN
        || ip[ipv4::field::PROTOCOL] != 6
        || total != ip.len()
        || ip.len() < ihl + tcp::HEADER_LEN
    {
        return Err(OffloadError::NotTcpV4);
    }
    let t = eth + ihl;
    let thl = usize::from(frame[t + 12] >> 4) * 4;
    let hdr = t + thl;
    if thl < tcp::HEADER_LEN || hdr > frame.len() {
        return Err(OffloadError::NotTcpV4);
    }
    let size = usize::from(gso.size);
    if size == 0 {
        return Err(OffloadError::ZeroSize);
    }
    let payload = &frame[hdr..];
    let seq0 = u32::from_be_bytes([frame[t + 4], frame[t + 5], frame[t + 6], frame[t + 7]]);
    let ident0 = u16::from_be_bytes([ip[4], ip[5]]);
    let atomic = ip[6] & 0x40 != 0;
    let (src, dst) = (
        core::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        core::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
    );
    let flags0 = frame[t + 13];
    // An empty payload is one segment of headers only.
    let n = payload.len().div_ceil(size).max(1);
    for i in 0..n {
        let chunk = &payload[(i * size).min(payload.len())..((i + 1) * size).min(payload.len())];
        scratch.clear();
        scratch.extend_from_slice(&frame[..hdr]);
        scratch.extend_from_slice(chunk);
        let (iph, rest) = scratch[eth..].split_at_mut(ihl);
        let len = (ihl + rest.len()) as u16;
        iph[2..4].copy_from_slice(&len.to_be_bytes());
        if !atomic {
            iph[4..6].copy_from_slice(&ident0.wrapping_add(i as u16).to_be_bytes());
        }
        let mut p = ipv4::Ipv4Packet::new_unchecked(&mut *iph);
        p.fill_checksum();
        let seq = seq0.wrapping_add((i * size) as u32);
        rest[4..8].copy_from_slice(&seq.to_be_bytes());
        let mut flags = flags0;
        if i + 1 < n {
            flags &= !(0x01 | 0x08); // FIN, PSH: last segment only
        }
        if i > 0 {
            flags &= !0x80; // CWR: first segment only
        }
        rest[13] = flags;
        rest[16..18].copy_from_slice(&[0, 0]);
        let seg_len = rest.len() as u32;
        let ph = crate::wire::checksum::pseudo_header(
            src,
            dst,
            crate::wire::ipv4::IpProtocol::TCP,
            seg_len,
        );
        let c = crate::wire::checksum::finish(crate::wire::checksum::combine(&[
            ph,
            crate::wire::checksum::sum(rest),
        ]));
        rest[16..18].copy_from_slice(&c.to_be_bytes());
        out(scratch);
    }
    Ok(())
}

/// Finishes in software what `meta` left to a device (for a device that
/// cannot, or refused): completes a partial checksum and cuts a
/// super-segment, calling `out` with each finished frame. A plain frame
/// is passed through as it is.
pub fn finish_in_software(
    frame: &mut [u8],
    meta: &TxMeta,
    scratch: &mut Vec<u8>,
    mut out: impl FnMut(&[u8]),
) -> Result<(), OffloadError> {
    if let Some(gso) = meta.gso {
        // Each segment's checksum is recomputed from scratch.
        return split_super_frame(frame, gso, scratch, out);
    }
    if let Some(c) = meta.checksum {
        complete_checksum(frame, c)?;
    }
    out(frame);
    Ok(())
}
