//! Layer 3: IPv4 in and out, the routing table (longest-prefix match),
//! fragmentation and reassembly, ICMP.

pub mod frag;
pub mod route;
