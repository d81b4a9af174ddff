//! # strata-sim — a deterministic discrete-event network simulator
//!
//! Virtual time, one-way links with faults, hubs, learning switches and
//! pcap taps. All randomness comes from one seeded PRNG: the same seed and
//! topology give byte-identical output.
//!
//! * [`Sim`] owns the clock, the event queue, the nodes and the links;
//! * a [`Node`] is any sans-IO device with ports (hosts, [`Hub`],
//!   [`Switch`], later routers and hosts running the strata stack);
//! * [`Sim::connect`] wires two ports with a cable of two one-way links,
//!   each shaped by a [`LinkConfig`] (latency, jitter, bandwidth, queue,
//!   loss, bursty loss, duplication, reordering, corruption, partitions)
//!   and counted in [`LinkStats`];
//! * [`Sim::tap`] records a link into a pcap file with virtual timestamps;
//! * [`peer`] holds TCP peers that are not strata (stretch ACKs, reneging,
//!   shrinking and zero windows, SYN/FIN/RST with data) and middleboxes
//!   that strip options or offset sequence numbers;
//! * [`storm`] builds looped switch topologies that show a broadcast storm.
//! * [`services`] runs the application-layer servers and clients of
//!   [`strata::app`] (DNS, DHCP) on simulated hosts, [`ftp`] the FTP
//!   server and client.
//! * [`topology`] reads networks from TOML files (`strata sim --topology`).
//!
//! Events happen in order of (virtual time, order of scheduling), so ties
//! are broken deterministically; no `HashMap` iteration or wall clock is
//! involved anywhere.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod demo;
pub mod fragflood;
pub mod ftp;
pub mod host;
pub mod hub;
pub mod link;
pub mod node;
pub mod pcap;
pub mod peer;
pub mod rng;
pub mod services;
pub mod sim;
pub mod slowloris;
pub mod storm;
pub mod stp;
pub mod switch;
pub mod synflood;
pub mod testing;
pub mod topology;
pub mod traffic;
pub mod web;

pub use hub::Hub;
pub use link::{GilbertElliott, LinkConfig, LinkId, LinkStats, QueueLimit};
pub use node::{Node, NodeId};
pub use pcap::PcapWriter;
pub use rng::Rng;
pub use sim::{Offered, RunOutcome, Sim, SimError, TapId};
pub use switch::{PortState, Switch, SwitchStats};
pub use traffic::{frames, Received, ScriptedHost};
