//! The frame boundary: what a device gives the stack and takes from it.
//!
//! A device (a TAP interface, a simulated link, a benchmark pipe) moves whole
//! Ethernet frames. The stack receives them with `receive(now, frame)` and
//! writes outbound frames into caller buffers with `poll_transmit`.

/// Largest Ethernet frame the stack emits or accepts by default
/// (1500-byte MTU + 14-byte header; no FCS: devices strip it).
pub const DEFAULT_MAX_FRAME: usize = 1514;

/// What a device can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceCaps {
    /// Maximum transmission unit of the link: the largest IP datagram a frame
    /// carries (1500 for classic Ethernet, 9000 for jumbo frames).
    pub mtu: usize,
}

impl Default for DeviceCaps {
    fn default() -> Self {
        DeviceCaps { mtu: 1500 }
    }
}

impl DeviceCaps {
    /// The largest frame on this link: MTU plus the Ethernet header.
    pub fn max_frame(&self) -> usize {
        self.mtu + crate::wire::ethernet::HEADER_LEN
    }
}
