//! DNS (RFC 1035): a small authoritative [`server`] and a stub
//! [`resolver`]. The message format is [`crate::wire::dns`].

pub mod resolver;
pub mod server;

/// The DNS server port (RFC 1035 §4.2.1).
pub const PORT: u16 = 53;
