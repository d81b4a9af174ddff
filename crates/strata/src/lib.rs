//! # strata — a userspace TCP/IP stack, layer by layer
//!
//! strata is a *sans-IO* stack: it owns no thread, socket or clock. Frames
//! and time go in, frames and events come out. The modules follow the OSI
//! layers:
//!
//! | layer            | module                 | processing on the packet path |
//! |------------------|------------------------|-------------------------------|
//! | byte formats     | [`wire`]               | parse and emit, no state |
//! | physical/device  | [`phy`]                | offloads finished in software |
//! | link (L2)        | [`link`] (Ethernet, ARP) | `link/ethernet.rs`, `link/neighbor.rs` |
//! | network (L3)     | [`net`] (IPv4, ICMP, routing, fragments, NAT) | `net/ingress.rs`, `net/forward.rs`, `net/icmp_path.rs`, `net/egress.rs` |
//! | transport (L4)   | [`transport`] (UDP, TCP) | `transport/udp/dispatch.rs`, `transport/tcp/ingress.rs` and the engine |
//! | application (L7) | [`app`] (DHCP, DNS, FTP) | over the stack's sockets |
//! | the whole stack  | [`stack`]              | composition and the public API; counters in `stats.rs` |
//!
//! A frame received by [`stack::Stack::receive`] climbs through these
//! files in that order (Ethernet → ARP or IPv4 → ICMP, UDP or TCP); what
//! the stack sends goes down through `net/egress.rs` (route, ARP,
//! fragments) and `link/ethernet.rs`. Each per-layer file holds an
//! `impl Stack` block for its layer.
//!
//! Time is a plain value ([`time::Instant`]) passed into every call that may
//! act; nothing in this crate reads a clock.
// One audited exception: the AVX2 checksum (`wire::checksum`), called only
// after run-time CPU detection.
#![deny(unsafe_code)]
#![warn(missing_docs)]

/// Enters a `debug` span for one layer of a frame's way up (`tracing`'s
/// `debug_span!` arguments), only while debug output is on somewhere
/// (`RUST_LOG=strata=debug`): a disabled span still costs some 45
/// instructions to build, enter and drop, once per layer per frame. With
/// debug output on, the span is the same as before.
macro_rules! layer_span {
    ($($arg:tt)+) => {
        if tracing::level_enabled!(tracing::Level::DEBUG) {
            Some(tracing::debug_span!($($arg)+).entered())
        } else {
            None
        }
    };
}

pub mod app;
pub mod link;
pub mod net;
pub mod phy;
pub mod secret;
pub mod stack;
mod stats;
pub mod time;
pub mod transport;
pub mod wire;
