//! # strata-sim — a deterministic discrete-event network simulator
//!
//! Virtual time, one-way links with faults, hubs, learning switches and
//! routers, pcap taps. All randomness comes from one seeded PRNG: the same
//! seed and topology give byte-identical output.
#![warn(missing_docs)]
