//! The event loop: a virtual clock and a priority queue of events.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::io::{self, Write};

use strata::time::Instant;

use crate::link::{Fate, Link, LinkConfig, LinkId, LinkStats};
use crate::node::{Node, NodeId};
use crate::pcap::PcapWriter;
use crate::rng::Rng;

/// What the simulator could not do.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No node with this id in this simulation.
    #[error("no such node: {0}")]
    UnknownNode(NodeId),
    /// No link with this id in this simulation.
    #[error("no such link: {0}")]
    UnknownLink(LinkId),
    /// No tap with this id in this simulation.
    #[error("no such tap: {0:?}")]
    UnknownTap(TapId),
    /// The port already has a link attached.
    #[error("{node} port {port} is already connected")]
    PortInUse {
        /// The node.
        node: NodeId,
        /// Its port.
        port: usize,
    },
    /// The port has no link attached.
    #[error("{node} port {port} is not connected")]
    PortNotConnected {
        /// The node.
        node: NodeId,
        /// Its port.
        port: usize,
    },
    /// Writing a pcap file failed.
    #[error("pcap output: {0}")]
    Io(#[from] io::Error),
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// No event is pending: nothing will ever happen again unless an
    /// application acts on a node.
    Idle,
    /// The time limit was reached with events still pending.
    TimeLimit,
    /// The frame budget ([`Sim::set_frame_budget`]) is spent: `frames` frames
    /// were offered to links in total. The run stopped before the next
    /// event; the event that crossed the budget was finished, so `frames`
    /// may exceed the budget by the few frames that one event produced.
    FrameBudgetExhausted {
        /// Frames offered to links since the simulation began.
        frames: u64,
    },
    /// The condition given to [`Sim::run_until_condition`] became true.
    ConditionMet,
    /// Too many events happened at one instant without the clock moving
    /// (a node asking to be woken "now" forever): the run stopped there.
    Stalled {
        /// The instant the clock was stuck at.
        at: Instant,
    },
}

/// Identifies a pcap tap within one [`Sim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TapId(usize);

enum TapSink {
    Memory(PcapWriter<Vec<u8>>),
    Writer(PcapWriter<Box<dyn Write>>),
}

struct Tap {
    sink: TapSink,
    error: Option<io::Error>,
    failed: bool,
}

impl Tap {
    fn record(&mut self, ts: Instant, frame: &[u8]) {
        if self.failed {
            return;
        }
        let r = match &mut self.sink {
            TapSink::Memory(w) => w.write_frame(ts, frame),
            TapSink::Writer(w) => w.write_frame(ts, frame),
        };
        if let Err(e) = r {
            self.failed = true;
            self.error = Some(e);
        }
    }
}

struct NodeSlot {
    node: Box<dyn Node>,
    /// Outgoing link per port.
    ports: Vec<Option<LinkId>>,
    /// Generation of the one live wake-up; wake events of other generations are stale.
    wake_gen: u64,
    wake_at: Option<Instant>,
    dirty: bool,
}

enum EventKind {
    Arrive { link: usize, frame: Vec<u8> },
    Wake { node: usize, gen: u64 },
}

struct Event {
    at: Instant,
    seq: u64,
    kind: EventKind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    /// Reversed so that `BinaryHeap` (a max-heap) pops the earliest event;
    /// ties in time go to the event scheduled first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// Default for [`Sim::set_stall_limit`].
pub const DEFAULT_STALL_LIMIT: u64 = 1_000_000;

/// A deterministic discrete-event network simulation.
///
/// ```
/// use strata_sim::{Sim, LinkConfig, Hub, ScriptedHost, RunOutcome, frames};
/// use strata::time::Instant;
/// use strata::wire::{Ipv4Addr, MacAddr};
///
/// let mut sim = Sim::new(1);
/// let a = MacAddr([2, 0, 0, 0, 0, 1]);
/// let hub = sim.add_node(Box::new(Hub::new(2)));
/// let h1 = sim.add_node(Box::new(ScriptedHost::new("h1", a).send_at(
///     Instant::from_millis(1),
///     frames::arp_request(a, Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)),
/// )));
/// let h2 = sim.add_node(Box::new(ScriptedHost::new("h2", MacAddr([2, 0, 0, 0, 0, 2]))));
/// sim.connect((h1, 0), (hub, 0), LinkConfig::default()).unwrap();
/// sim.connect((h2, 0), (hub, 1), LinkConfig::default()).unwrap();
/// assert_eq!(sim.run_until_idle(Instant::from_secs(1)), RunOutcome::Idle);
/// assert_eq!(sim.node::<ScriptedHost>(h2).unwrap().received().len(), 1);
/// ```
pub struct Sim {
    now: Instant,
    seed: u64,
    rng: Rng,
    nodes: Vec<NodeSlot>,
    links: Vec<Link>,
    /// Taps recording each link.
    link_taps: Vec<Vec<usize>>,
    /// Per link, the taps that record its frames when they are sent (the
    /// sending port's capture: every frame the node put on the wire, at
    /// the moment it did, whatever the link then does with it).
    send_taps: Vec<Vec<usize>>,
    taps: Vec<Tap>,
    queue: BinaryHeap<Event>,
    next_seq: u64,
    dirty: Vec<usize>,
    frame_budget: Option<u64>,
    frames_offered: u64,
    frames_unattached: u64,
    events: u64,
    stall_limit: u64,
    stall_at: Instant,
    stall_count: u64,
    /// Links whose offered frames are logged (see [`Sim::log_offers`]).
    logged_links: Vec<usize>,
    offer_log: Vec<Offered>,
}

/// A frame as a node handed it to a link, and what the link did with it
/// (recorded for links named in [`Sim::log_offers`]).
#[derive(Debug, Clone)]
pub struct Offered {
    /// When the node sent it.
    pub at: Instant,
    /// The link it entered.
    pub link: LinkId,
    /// The bytes as sent (before any corruption).
    pub frame: Vec<u8>,
    /// Why the link dropped it, or `None` when it was delivered.
    pub dropped: Option<&'static str>,
}

impl core::fmt::Debug for Sim {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sim")
            .field("now", &self.now)
            .field("seed", &self.seed)
            .field("nodes", &self.nodes.len())
            .field("links", &self.links.len())
            .field("pending_events", &self.queue.len())
            .finish()
    }
}

impl Sim {
    /// An empty simulation at time zero whose randomness all follows `seed`.
    pub fn new(seed: u64) -> Self {
        Sim {
            now: Instant::ZERO,
            seed,
            rng: Rng::new(seed),
            nodes: Vec::new(),
            links: Vec::new(),
            link_taps: Vec::new(),
            send_taps: Vec::new(),
            taps: Vec::new(),
            queue: BinaryHeap::new(),
            next_seq: 0,
            dirty: Vec::new(),
            frame_budget: None,
            frames_offered: 0,
            frames_unattached: 0,
            events: 0,
            stall_limit: DEFAULT_STALL_LIMIT,
            stall_at: Instant::ZERO,
            stall_count: 0,
            logged_links: Vec::new(),
            offer_log: Vec::new(),
        }
    }

    /// Logs every frame offered to `link` from now on — with its send time
    /// and whether the link dropped it — for ladder diagrams that must show
    /// lost frames too. Read with [`Sim::offer_log`].
    pub fn log_offers(&mut self, link: LinkId) {
        if !self.logged_links.contains(&link.0) {
            self.logged_links.push(link.0);
        }
    }

    /// Frames offered to logged links, in send order.
    pub fn offer_log(&self) -> &[Offered] {
        &self.offer_log
    }

    // ----- topology -------------------------------------------------------

    /// Adds a node. It is drained and polled when the simulation next runs.
    pub fn add_node(&mut self, node: Box<dyn Node>) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(NodeSlot {
            node,
            ports: Vec::new(),
            wake_gen: 0,
            wake_at: None,
            dirty: false,
        });
        self.mark_dirty(id);
        NodeId(id)
    }

    /// Connects port `a.1` of node `a.0` with port `b.1` of node `b.0` by a
    /// cable: two one-way links with the same configuration. Returns
    /// `(a→b, b→a)`.
    pub fn connect(
        &mut self,
        a: (NodeId, usize),
        b: (NodeId, usize),
        config: LinkConfig,
    ) -> Result<(LinkId, LinkId), SimError> {
        self.connect_asymmetric(a, b, config.clone(), config)
    }

    /// Like [`Sim::connect`] with a different configuration per direction.
    pub fn connect_asymmetric(
        &mut self,
        a: (NodeId, usize),
        b: (NodeId, usize),
        a_to_b: LinkConfig,
        b_to_a: LinkConfig,
    ) -> Result<(LinkId, LinkId), SimError> {
        for (n, p) in [a, b] {
            let slot = self.nodes.get(n.0).ok_or(SimError::UnknownNode(n))?;
            if slot.ports.get(p).copied().flatten().is_some() {
                return Err(SimError::PortInUse { node: n, port: p });
            }
        }
        if a == b {
            return Err(SimError::PortInUse {
                node: a.0,
                port: a.1,
            });
        }
        let ab = self.add_link(a, b, a_to_b);
        let ba = self.add_link(b, a, b_to_a);
        Ok((ab, ba))
    }

    fn add_link(&mut self, from: (NodeId, usize), to: (NodeId, usize), cfg: LinkConfig) -> LinkId {
        let id = LinkId(self.links.len());
        self.links
            .push(Link::new(cfg, (from.0 .0, from.1), (to.0 .0, to.1)));
        self.link_taps.push(Vec::new());
        self.send_taps.push(Vec::new());
        let ports = &mut self.nodes[from.0 .0].ports;
        if ports.len() <= from.1 {
            ports.resize(from.1 + 1, None);
        }
        ports[from.1] = Some(id);
        id
    }

    /// The link leaving `node` through `port`, if connected.
    pub fn link_from(&self, node: NodeId, port: usize) -> Option<LinkId> {
        self.nodes.get(node.0)?.ports.get(port).copied().flatten()
    }

    /// The link arriving at `node` on `port`, if connected.
    pub fn link_to(&self, node: NodeId, port: usize) -> Option<LinkId> {
        self.links
            .iter()
            .position(|l| l.to == (node.0, port))
            .map(LinkId)
    }

    /// The two ends of a link: `((sender, port), (receiver, port))`.
    pub fn link_ends(&self, link: LinkId) -> Option<((NodeId, usize), (NodeId, usize))> {
        let l = self.links.get(link.0)?;
        Some(((NodeId(l.from.0), l.from.1), (NodeId(l.to.0), l.to.1)))
    }

    /// A link's configuration.
    pub fn link_config(&self, link: LinkId) -> Option<&LinkConfig> {
        self.links.get(link.0).map(|l| &l.config)
    }

    /// Changes a link's configuration from now on (e.g. add a partition
    /// or raise loss mid-run). Frames already in flight keep their fate.
    pub fn link_config_mut(&mut self, link: LinkId) -> Option<&mut LinkConfig> {
        self.links.get_mut(link.0).map(|l| &mut l.config)
    }

    /// A link's counters.
    pub fn link_stats(&self, link: LinkId) -> Option<LinkStats> {
        self.links.get(link.0).map(|l| l.stats)
    }

    /// Counters of all links added together.
    pub fn total_stats(&self) -> LinkStats {
        let mut t = LinkStats::default();
        for l in &self.links {
            let s = &l.stats;
            t.frames_sent += s.frames_sent;
            t.bytes_sent += s.bytes_sent;
            t.frames_delivered += s.frames_delivered;
            t.bytes_delivered += s.bytes_delivered;
            t.dropped_loss += s.dropped_loss;
            t.dropped_burst += s.dropped_burst;
            t.dropped_queue += s.dropped_queue;
            t.dropped_partition += s.dropped_partition;
            t.dropped_oversize += s.dropped_oversize;
            t.duplicated += s.duplicated;
            t.reordered += s.reordered;
            t.corrupted += s.corrupted;
            t.max_queue_frames = t.max_queue_frames.max(s.max_queue_frames);
        }
        t
    }

    /// A table of every link and its counters, one line each, e.g.
    /// `link0  h1[0] -> sw[0]  sent 3 (180 B), delivered 3 (180 B), dropped 0, …`.
    pub fn stats_table(&self) -> String {
        let mut out = String::new();
        let ends: Vec<String> = self
            .links
            .iter()
            .map(|l| {
                format!(
                    "{}[{}] -> {}[{}]",
                    self.nodes[l.from.0].node.name(),
                    l.from.1,
                    self.nodes[l.to.0].node.name(),
                    l.to.1
                )
            })
            .collect();
        let w = ends.iter().map(String::len).max().unwrap_or(0);
        for (i, (l, e)) in self.links.iter().zip(&ends).enumerate() {
            let _ = writeln!(out, "link{i:<3} {e:<w$}  {}", l.stats);
        }
        out
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Every link, in creation order.
    pub fn link_ids(&self) -> impl Iterator<Item = LinkId> + '_ {
        (0..self.links.len()).map(LinkId)
    }

    /// Number of one-way links.
    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    /// A node's [`Node::name`].
    pub fn node_name(&self, id: NodeId) -> Option<&str> {
        self.nodes.get(id.0).map(|s| s.node.name())
    }

    // ----- nodes and applications ----------------------------------------

    /// The node `id` as a `T`, if it is one.
    pub fn node<T: Node>(&self, id: NodeId) -> Option<&T> {
        // Through the box to the node (a `Box<dyn Node>` is an `AsAny` too).
        (*self.nodes.get(id.0)?.node).as_any().downcast_ref::<T>()
    }

    /// The node `id` as a mutable `T`, if it is one. The node is marked so
    /// that the simulator drains its output and re-reads its timeout before
    /// the next event (call [`Sim::kick`] to do it at once).
    pub fn node_mut<T: Node>(&mut self, id: NodeId) -> Option<&mut T> {
        if id.0 >= self.nodes.len() {
            return None;
        }
        self.mark_dirty(id.0);
        (*self.nodes[id.0].node).as_any_mut().downcast_mut::<T>()
    }

    /// Runs `f` on node `id` as a `T` with the current time (an application
    /// acting on a host, e.g. sending a ping), then drains the node's output
    /// onto its links and re-reads its timeout. `None` if it is not a `T`.
    pub fn with_node<T: Node, R>(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut T, Instant) -> R,
    ) -> Option<R> {
        let now = self.now;
        let t = (*self.nodes.get_mut(id.0)?.node)
            .as_any_mut()
            .downcast_mut::<T>()?;
        let r = f(t, now);
        self.service(id.0);
        Some(r)
    }

    /// Like [`Sim::with_node`] on the node as a `dyn Node`.
    pub fn with_node_dyn<R>(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut dyn Node, Instant) -> R,
    ) -> Option<R> {
        let now = self.now;
        let slot = self.nodes.get_mut(id.0)?;
        let r = f(slot.node.as_mut(), now);
        self.service(id.0);
        Some(r)
    }

    /// Drains node `id`'s output onto its links and re-reads its timeout now.
    pub fn kick(&mut self, id: NodeId) {
        if id.0 < self.nodes.len() {
            self.service(id.0);
        }
    }

    fn mark_dirty(&mut self, n: usize) {
        if !self.nodes[n].dirty {
            self.nodes[n].dirty = true;
            self.dirty.push(n);
        }
    }

    fn service_dirty(&mut self) {
        // In the order nodes were marked: deterministic.
        let mut i = 0;
        while i < self.dirty.len() {
            let n = self.dirty[i];
            self.service(n);
            i += 1;
        }
        self.dirty.clear();
    }

    /// Drains the node's transmit queue onto its links, then keeps one
    /// wake-up at its `poll_timeout`.
    fn service(&mut self, n: usize) {
        self.nodes[n].dirty = false;
        let now = self.now;
        while let Some((port, frame)) = self.nodes[n].node.poll_transmit(now) {
            match self.nodes[n].ports.get(port).copied().flatten() {
                Some(link) => self.offer(link.0, frame),
                None => self.frames_unattached += 1,
            }
        }
        let want = self.nodes[n].node.poll_timeout().map(|t| t.max(now));
        let slot = &mut self.nodes[n];
        if want != slot.wake_at {
            slot.wake_gen += 1;
            slot.wake_at = want;
            if let Some(at) = want {
                let gen = slot.wake_gen;
                self.push(at, EventKind::Wake { node: n, gen });
            }
        }
    }

    fn offer(&mut self, link: usize, frame: Vec<u8>) {
        self.frames_offered += 1;
        for &t in &self.send_taps[link] {
            self.taps[t].record(self.now, &frame);
        }
        let logged = self.logged_links.contains(&link).then(|| frame.clone());
        let fate = self.links[link].offer(self.now, frame, &mut self.rng);
        if let Some(frame) = logged {
            self.offer_log.push(Offered {
                at: self.now,
                link: LinkId(link),
                frame,
                dropped: match &fate {
                    Fate::Dropped(cause) => Some(*cause),
                    Fate::Deliver { .. } => None,
                },
            });
        }
        match fate {
            Fate::Dropped(cause) => {
                tracing::trace!(link, cause, now = %self.now, "frame dropped");
            }
            Fate::Deliver {
                at,
                frame,
                duplicate,
            } => {
                if duplicate {
                    let copy = frame.clone();
                    self.push(at, EventKind::Arrive { link, frame });
                    self.push(at, EventKind::Arrive { link, frame: copy });
                } else {
                    self.push(at, EventKind::Arrive { link, frame });
                }
            }
        }
    }

    fn push(&mut self, at: Instant, kind: EventKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Event { at, seq, kind });
    }

    // ----- randomness, clock, budget --------------------------------------

    /// The seed this simulation was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The simulation's one random generator, e.g. to seed a host's stack so
    /// its choices follow the run's seed too.
    pub fn rng_mut(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Stops runs once `frames` frames in total have been offered to links
    /// (`None`: no budget). A looped topology needs one.
    pub fn set_frame_budget(&mut self, frames: Option<u64>) {
        self.frame_budget = frames;
    }

    /// Stops runs with [`RunOutcome::Stalled`] after this many consecutive
    /// events at one instant. Default [`DEFAULT_STALL_LIMIT`].
    pub fn set_stall_limit(&mut self, events: u64) {
        self.stall_limit = events.max(1);
    }

    /// Frames offered to links since the start.
    pub fn frames_offered(&self) -> u64 {
        self.frames_offered
    }

    /// Frames nodes sent on ports with no link attached (discarded).
    pub fn frames_unattached(&self) -> u64 {
        self.frames_unattached
    }

    /// Events processed since the start (stale wake-ups not included).
    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// Time of the next pending event, if any.
    pub fn next_event_time(&mut self) -> Option<Instant> {
        self.service_dirty();
        self.peek_live()
    }

    // ----- running ---------------------------------------------------------

    /// Drops stale wake-ups at the head of the queue; the time of the next live event.
    fn peek_live(&mut self) -> Option<Instant> {
        while let Some(ev) = self.queue.peek() {
            if let EventKind::Wake { node, gen } = ev.kind {
                let slot = &self.nodes[node];
                if slot.wake_gen != gen || slot.wake_at.is_none() {
                    self.queue.pop();
                    continue;
                }
            }
            return Some(ev.at);
        }
        None
    }

    /// Processes the next event (after servicing nodes an application
    /// touched). Returns its time, or `None` when idle.
    pub fn step(&mut self) -> Option<Instant> {
        self.service_dirty();
        self.peek_live()?;
        let ev = self.queue.pop()?;
        self.process(ev);
        Some(self.now)
    }

    fn process(&mut self, ev: Event) {
        self.now = self.now.max(ev.at);
        self.events += 1;
        match ev.kind {
            EventKind::Arrive { link, frame } => {
                let l = &mut self.links[link];
                l.stats.frames_delivered += 1;
                l.stats.bytes_delivered += frame.len() as u64;
                let (n, port) = l.to;
                tracing::trace!(link, node = n, port, len = frame.len(), now = %self.now, "frame delivered");
                for &t in &self.link_taps[link] {
                    self.taps[t].record(self.now, &frame);
                }
                self.nodes[n].node.receive(self.now, port, &frame);
                self.service(n);
            }
            EventKind::Wake { node, .. } => {
                let slot = &mut self.nodes[node];
                slot.wake_at = None;
                slot.wake_gen += 1;
                slot.node.handle_timeout(self.now);
                self.service(node);
            }
        }
    }

    fn run(&mut self, limit: Instant) -> RunOutcome {
        self.run_inner(limit, None)
    }

    fn run_inner(
        &mut self,
        limit: Instant,
        mut cond: Option<&mut dyn FnMut(&Sim) -> bool>,
    ) -> RunOutcome {
        loop {
            self.service_dirty();
            if let Some(c) = cond.as_mut() {
                if c(self) {
                    return RunOutcome::ConditionMet;
                }
            }
            let Some(at) = self.peek_live() else {
                return RunOutcome::Idle;
            };
            if at > limit {
                self.now = self.now.max(limit);
                return RunOutcome::TimeLimit;
            }
            if let Some(b) = self.frame_budget {
                if self.frames_offered >= b {
                    return RunOutcome::FrameBudgetExhausted {
                        frames: self.frames_offered,
                    };
                }
            }
            if at == self.stall_at {
                self.stall_count += 1;
                if self.stall_count > self.stall_limit {
                    self.stall_count = 0;
                    return RunOutcome::Stalled { at };
                }
            } else {
                self.stall_at = at;
                self.stall_count = 1;
            }
            if let Some(ev) = self.queue.pop() {
                self.process(ev);
            }
        }
    }

    /// Runs every event up to and including `t`, then sets the clock to `t`
    /// (unless stopped early by the frame budget or a stall).
    /// Returns [`RunOutcome::Idle`] if nothing is pending afterwards,
    /// [`RunOutcome::TimeLimit`] if events remain after `t`.
    pub fn run_until(&mut self, t: Instant) -> RunOutcome {
        let out = self.run(t);
        if out == RunOutcome::Idle {
            self.now = self.now.max(t);
        }
        out
    }

    /// Runs until `cond` holds (checked before the first event and after
    /// each one: [`RunOutcome::ConditionMet`], the clock at that event), or
    /// as [`Sim::run_until_idle`] would stop. Handy for "run until the
    /// connection is established".
    pub fn run_until_condition(
        &mut self,
        max_time: Instant,
        mut cond: impl FnMut(&Sim) -> bool,
    ) -> RunOutcome {
        self.run_inner(max_time, Some(&mut cond))
    }

    /// Runs for `d` of virtual time from now; see [`Sim::run_until`].
    pub fn run_for(&mut self, d: strata::time::Duration) -> RunOutcome {
        self.run_until(self.now + d)
    }

    /// Runs until no event is pending (the clock stays at the last event),
    /// or until `max_time` ([`RunOutcome::TimeLimit`], clock at `max_time`).
    pub fn run_until_idle(&mut self, max_time: Instant) -> RunOutcome {
        self.run(max_time)
    }

    // ----- pcap taps ---------------------------------------------------------

    fn new_tap(&mut self, sink: TapSink) -> TapId {
        self.taps.push(Tap {
            sink,
            error: None,
            failed: false,
        });
        TapId(self.taps.len() - 1)
    }

    /// Records every frame delivered by `link` (at its arrival time, as the
    /// receiver sees it: after corruption; a duplicate is recorded twice)
    /// into a pcap stream written to `out`. Wrap files in a `BufWriter`.
    pub fn tap(&mut self, link: LinkId, out: impl Write + 'static) -> Result<TapId, SimError> {
        if link.0 >= self.links.len() {
            return Err(SimError::UnknownLink(link));
        }
        let w = PcapWriter::new(Box::new(out) as Box<dyn Write>)?;
        let t = self.new_tap(TapSink::Writer(w));
        self.link_taps[link.0].push(t.0);
        Ok(t)
    }

    /// Like [`Sim::tap`] into memory; read it with [`Sim::tap_bytes`].
    pub fn tap_memory(&mut self, link: LinkId) -> Result<TapId, SimError> {
        if link.0 >= self.links.len() {
            return Err(SimError::UnknownLink(link));
        }
        let w = PcapWriter::new(Vec::new())?;
        let t = self.new_tap(TapSink::Memory(w));
        self.link_taps[link.0].push(t.0);
        Ok(t)
    }

    /// Adds `link` to an existing tap: one pcap file for several links
    /// (frames interleaved in delivery order).
    pub fn tap_add_link(&mut self, tap: TapId, link: LinkId) -> Result<(), SimError> {
        if tap.0 >= self.taps.len() {
            return Err(SimError::UnknownTap(tap));
        }
        let taps = self
            .link_taps
            .get_mut(link.0)
            .ok_or(SimError::UnknownLink(link))?;
        if !taps.contains(&tap.0) {
            taps.push(tap.0);
        }
        Ok(())
    }

    /// Captures on `node`'s `port`, as a capture on that interface would:
    /// every frame the node sends, at the moment it sends it (also those
    /// the link then loses or queues; a duplicate made by the link is not
    /// the node's), and every frame delivered to it, at arrival (after
    /// corruption), into one pcap stream. The send time is the time the
    /// ladder diagram shows for the frame.
    pub fn tap_port(
        &mut self,
        node: NodeId,
        port: usize,
        out: impl Write + 'static,
    ) -> Result<TapId, SimError> {
        let (o, i) = self.port_links(node, port)?;
        let w = PcapWriter::new(Box::new(out) as Box<dyn Write>)?;
        let t = self.new_tap(TapSink::Writer(w));
        self.send_taps[o.0].push(t.0);
        self.link_taps[i.0].push(t.0);
        Ok(t)
    }

    /// Taps every link that exists now into one pcap stream: a frame shows
    /// up once per hop it completes (like captures on every wire merged).
    pub fn tap_all_links(&mut self, out: impl Write + 'static) -> Result<TapId, SimError> {
        let w = PcapWriter::new(Box::new(out) as Box<dyn Write>)?;
        let t = self.new_tap(TapSink::Writer(w));
        for taps in &mut self.link_taps {
            taps.push(t.0);
        }
        Ok(t)
    }

    /// Like [`Sim::tap_port`] into memory.
    pub fn tap_port_memory(&mut self, node: NodeId, port: usize) -> Result<TapId, SimError> {
        let (o, i) = self.port_links(node, port)?;
        let w = PcapWriter::new(Vec::new())?;
        let t = self.new_tap(TapSink::Memory(w));
        self.send_taps[o.0].push(t.0);
        self.link_taps[i.0].push(t.0);
        Ok(t)
    }

    fn port_links(&self, node: NodeId, port: usize) -> Result<(LinkId, LinkId), SimError> {
        if node.0 >= self.nodes.len() {
            return Err(SimError::UnknownNode(node));
        }
        let o = self
            .link_from(node, port)
            .ok_or(SimError::PortNotConnected { node, port })?;
        let i = self
            .link_to(node, port)
            .ok_or(SimError::PortNotConnected { node, port })?;
        Ok((o, i))
    }

    /// The pcap bytes of a memory tap so far (`None` for a writer tap).
    pub fn tap_bytes(&self, tap: TapId) -> Option<&[u8]> {
        match &self.taps.get(tap.0)?.sink {
            TapSink::Memory(w) => Some(w.get_ref()),
            TapSink::Writer(_) => None,
        }
    }

    /// Frames recorded by a tap so far.
    pub fn tap_records(&self, tap: TapId) -> Option<u64> {
        Some(match &self.taps.get(tap.0)?.sink {
            TapSink::Memory(w) => w.records(),
            TapSink::Writer(w) => w.records(),
        })
    }

    /// Flushes every tap; reports the first write error any tap met
    /// (a tap stops recording at its first error).
    pub fn flush_taps(&mut self) -> Result<(), SimError> {
        for t in &mut self.taps {
            if let Some(e) = t.error.take() {
                return Err(SimError::Io(e));
            }
            match &mut t.sink {
                TapSink::Memory(_) => {}
                TapSink::Writer(w) => w.flush()?,
            }
        }
        Ok(())
    }
}
