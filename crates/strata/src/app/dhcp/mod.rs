//! DHCP (RFC 2131, options RFC 2132): a [`server`] for one subnet and a
//! [`client`]. The message format is [`crate::wire::dhcp`].
//!
//! Carrying the messages takes two things of the stack: a client without
//! an address sends from 0.0.0.0 to 255.255.255.255 out of a chosen
//! interface, and a server broadcasts its replies out of the interface of
//! its subnet — both are [`Stack::udp_send_on`](crate::stack::Stack::udp_send_on).

pub mod client;
pub mod server;

pub use crate::wire::dhcp::{CLIENT_PORT, SERVER_PORT};
