//! Layer 3: IPv4 in and out, the routing table (longest-prefix match),
//! fragmentation and reassembly, ICMP, and address translation (NAT).
//!
//! The pieces here are pure data structures with their own tests; the
//! [`Stack`](crate::stack::Stack) strings them together on the packet path.

pub mod frag;
pub mod icmp;
pub mod ident;
pub mod martian;
pub mod nat;
pub mod route;
