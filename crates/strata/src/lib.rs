//! # strata — a userspace TCP/IP stack, layer by layer
//!
//! strata is a *sans-IO* stack: it owns no thread, socket or clock. Frames
//! and time go in, frames and events come out. The modules follow the OSI
//! layers:
//!
//! | layer            | module                 |
//! |------------------|------------------------|
//! | byte formats     | [`wire`]               |
//! | physical/device  | [`phy`]                |
//! | link (L2)        | [`link`] (Ethernet, ARP) |
//! | network (L3)     | [`net`] (IPv4, ICMP, routing, fragments) |
//! | transport (L4)   | [`transport`] (UDP, TCP) |
//! | application (L7) | [`app`] (DHCP, DNS) |
//! | the whole stack  | [`stack`]              |
//!
//! Time is a plain value ([`time::Instant`]) passed into every call that may
//! act; nothing in this crate reads a clock.
// One audited exception: the AVX2 checksum (`wire::checksum`), called only
// after run-time CPU detection.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod link;
pub mod net;
pub mod phy;
pub mod secret;
pub mod stack;
pub mod time;
pub mod transport;
pub mod wire;
