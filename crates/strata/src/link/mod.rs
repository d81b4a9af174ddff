//! Layer 2: the Ethernet interface, ARP cache and the queue of packets
//! waiting for address resolution.
//!
//! | file           | what                                                        |
//! |----------------|-------------------------------------------------------------|
//! | `interface.rs` | one interface: MAC, MTU, offloads, addresses, ARP cache     |
//! | `ethernet.rs`  | frames in (to ARP or IPv4 by EtherType) and frames out      |
//! | `neighbor.rs`  | ARP in and out (RFC 826), its timers, RFC 5227 probes       |
//! | `arp.rs`       | the neighbour cache and its queue of waiting datagrams      |
//! | `probe.rs`     | one RFC 5227 address probe and announcement                 |
//!
//! `ethernet.rs` and `neighbor.rs` are the [`Stack`](crate::stack::Stack)'s
//! processing of this layer; the others are data structures with their
//! own tests.

pub mod arp;
pub(crate) mod ethernet;
pub(crate) mod interface;
mod neighbor;
pub mod probe;

/// Identifies one interface of a [`Stack`](crate::stack::Stack): the index
/// returned by `add_interface`, in order of addition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfaceId(pub usize);

impl core::fmt::Display for IfaceId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "if{}", self.0)
    }
}
