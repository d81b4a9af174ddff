//! TCP (RFC 9293): connection state machine, buffers, timers, options.

pub mod buffer;
pub mod congestion;
pub mod isn;
pub mod rtt;
pub mod seq;
