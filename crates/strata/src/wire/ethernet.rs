//! Ethernet II frames (IEEE 802.3 with EtherType), 802.1Q tag recognised.

/// Length of an untagged Ethernet II header: dst MAC, src MAC, EtherType.
pub const HEADER_LEN: usize = 14;
