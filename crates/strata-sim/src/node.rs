//! The [`Node`] trait: anything with ports that the simulator can wire up.
//!
//! A node is a sans-IO state machine, exactly like the strata stack: the
//! simulator hands it frames and time, and polls it for what it wants to
//! send and when it next wants to be woken.
//!
//! ## The call rhythm
//!
//! The simulator drives every node in the same order:
//!
//! 1. one *input*: [`Node::receive`] (a frame arrived on a port) or
//!    [`Node::handle_timeout`] (the wake-up it asked for is due), or an
//!    application action through [`Sim::with_node`](crate::Sim::with_node) /
//!    [`Sim::node_mut`](crate::Sim::node_mut);
//! 2. then [`Node::poll_transmit`] repeatedly until it returns `None`; each
//!    frame goes onto the link attached to the port it names;
//! 3. then [`Node::poll_timeout`] once: the simulator keeps exactly one
//!    pending wake-up per node at that instant (an earlier one it had is
//!    forgotten).
//!
//! Every node is also drained and polled once when the simulation first
//! runs after it was added. A node never sees wall time or a random source
//! it was not given: determinism is up to the node as much as to the
//! simulator (seed a node's own generator from
//! [`Sim::rng_mut`](crate::Sim::rng_mut)).
//!
//! ## Writing a node
//!
//! A node that sends every frame back where it came from, after 1 ms:
//!
//! ```
//! use std::collections::VecDeque;
//! use strata::time::{Duration, Instant};
//! use strata_sim::Node;
//!
//! #[derive(Default)]
//! struct Echo {
//!     held: VecDeque<(Instant, usize, Vec<u8>)>, // due time, port, frame
//!     ready: VecDeque<(usize, Vec<u8>)>,
//! }
//!
//! impl Node for Echo {
//!     fn receive(&mut self, now: Instant, port: usize, frame: &[u8]) {
//!         self.held.push_back((now + Duration::from_millis(1), port, frame.to_vec()));
//!     }
//!     fn poll_transmit(&mut self, _now: Instant) -> Option<(usize, Vec<u8>)> {
//!         self.ready.pop_front()
//!     }
//!     fn poll_timeout(&self) -> Option<Instant> {
//!         self.held.front().map(|h| h.0)
//!     }
//!     fn handle_timeout(&mut self, now: Instant) {
//!         while self.held.front().is_some_and(|h| h.0 <= now) {
//!             let (_, port, frame) = self.held.pop_front().unwrap();
//!             self.ready.push_back((port, frame));
//!         }
//!     }
//!     fn name(&self) -> &str { "echo" }
//! }
//! ```
//!
//! A host running the strata stack is the same shape: `receive` feeds the
//! stack, `poll_transmit` asks the stack for its next frame (copying it
//! out of the stack's buffer), `poll_timeout`/`handle_timeout` forward to
//! the stack's own. A node without timers (a hub) keeps the default
//! `poll_timeout` (never) and `handle_timeout` (nothing to do), and every
//! node gets [`AsAny`] for free.

use core::any::Any;
use strata::time::Instant;

/// Identifies a node within one [`Sim`](crate::Sim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) usize);

impl NodeId {
    /// The index of the node, in the order nodes were added (0, 1, 2, …).
    pub fn index(self) -> usize {
        self.0
    }
}

impl core::fmt::Display for NodeId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "node{}", self.0)
    }
}

/// `self` as `dyn Any`, implemented for every type: what
/// [`Sim::node`](crate::Sim::node) and [`Sim::node_mut`](crate::Sim::node_mut)
/// downcast through to hand a node back as its own type.
pub trait AsAny: Any {
    /// `self` as `&dyn Any`.
    fn as_any(&self) -> &dyn Any;
    /// `self` as `&mut dyn Any`.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A simulated device with numbered ports (0, 1, 2, …): a host running a
/// stack, a hub, a switch, a router.
///
/// See the [module docs](self) for the order in which the simulator calls
/// these methods.
pub trait Node: AsAny {
    /// A whole Ethernet frame (no preamble, no FCS) arrived on `port` at `now`.
    fn receive(&mut self, now: Instant, port: usize, frame: &[u8]);

    /// The next frame this node wants to send, with the port to send it on.
    /// Called until it returns `None`. A frame for a port with no link
    /// attached is counted by the simulator and discarded.
    fn poll_transmit(&mut self, now: Instant) -> Option<(usize, Vec<u8>)>;

    /// When this node next needs [`Node::handle_timeout`], if ever (by
    /// default never). An instant in the past means "as soon as possible"
    /// (now).
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// The wake-up requested through [`Node::poll_timeout`] is due.
    fn handle_timeout(&mut self, _now: Instant) {}

    /// A short human name for statistics tables and logs.
    fn name(&self) -> &str {
        "node"
    }
}
