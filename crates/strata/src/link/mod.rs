//! Layer 2: the Ethernet interface, ARP cache and the queue of packets
//! waiting for address resolution.

pub mod arp;
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
