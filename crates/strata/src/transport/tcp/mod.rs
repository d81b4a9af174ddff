//! TCP (RFC 9293): connection state machine, buffers, timers, options.
