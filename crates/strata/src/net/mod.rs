//! Layer 3: IPv4 in and out, the routing table (longest-prefix match),
//! fragmentation and reassembly, ICMP, and address translation (NAT).
//!
//! | file           | what                                                        |
//! |----------------|-------------------------------------------------------------|
//! | `ingress.rs`   | IPv4 in: checks, martians, reassembly, local delivery       |
//! | `forward.rs`   | router mode (RFC 1812) and the NAT on the forwarding path   |
//! | `icmp_path.rs` | ICMP in (echo, errors to their sockets) and errors out      |
//! | `egress.rs`    | IPv4 out: routing, loopback, ARP hand-off, fragments, TCP   |
//! | `route.rs`     | the routing table (longest-prefix match)                    |
//! | `frag.rs`      | fragment plans and the reassembler (RFC 791, RFC 815)       |
//! | `icmp.rs`      | ICMP error kinds, quoted datagrams, the error rate limit    |
//! | `ident.rs`     | IPv4 Identification (RFC 6864, RFC 7739)                    |
//! | `martian.rs`   | addresses that may not appear on a link (RFC 1122, 1812)    |
//! | `nat.rs`       | the NAPT mapping table (RFC 3022, RFC 4787, RFC 5382)       |
//!
//! The first four are the [`Stack`](crate::stack::Stack)'s processing of
//! this layer; the others are data structures with their own tests.

pub(crate) mod egress;
mod forward;
pub mod frag;
pub mod icmp;
mod icmp_path;
pub mod ident;
mod ingress;
pub mod martian;
pub mod nat;
pub mod route;
