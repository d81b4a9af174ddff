//! Layer 4: UDP datagram sockets and TCP connections.

pub mod tcp;
pub mod udp;
