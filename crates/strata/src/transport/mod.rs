//! Layer 4: UDP datagram sockets and TCP connections.

pub mod ports;
pub mod tcp;
pub mod udp;
