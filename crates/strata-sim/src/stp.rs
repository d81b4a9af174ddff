//! Spanning tree for the simulated switches: IEEE 802.1D (1998) STP and
//! 802.1w RSTP (802.1D-2004 clause 17), with BPDUs on the wire
//! ([`strata::wire::stp`]).
//!
//! Both protocols compute the same tree. Every bridge compares *priority
//! vectors* `(root id, root path cost, designated bridge id, designated
//! port id)`, lower being better (802.1D-2004 §17.6):
//!
//! * the bridge with the lowest identifier is the **root**; all its ports
//!   are designated;
//! * every other bridge picks as **root port** the port through which the
//!   root is cheapest (ties: lower designated bridge, then port);
//! * on each segment, the bridge offering the best vector is
//!   **designated** for it; every other port on the segment that is not a
//!   root port is an **alternate** (or a **backup**, when the better
//!   vector is the bridge's own, from another of its ports) and discards
//!   frames, which breaks every loop.
//!
//! They differ in how fast a port may start forwarding:
//!
//! * **STP** (802.1D-1998 clause 8): only the root sends Configuration
//!   BPDUs every hello time; the others relay them, one second older, out
//!   of their designated ports. A port that becomes root or designated
//!   walks Blocking → Listening → Learning → Forwarding, one forward delay
//!   (15 s) per step, so a fresh network needs 30 s; received information
//!   lives until its message age reaches max age (20 s), so a failure
//!   far away takes up to 50 s to heal. Topology changes travel to the
//!   root as TCN BPDUs, are acknowledged (TC-ACK) hop by hop, and come back
//!   from the root as the TC flag, which makes every bridge flush its
//!   learned addresses.
//! * **RSTP** (802.1D-2004 §17): every bridge sends its own BPDUs every
//!   hello time; information not refreshed for three hellos (6 s) is
//!   aged out. A root port forwards at once (its old root port is
//!   discarding first); an edge port (a host) forwards at once; a
//!   designated port on a point-to-point link *proposes*, and the bridge
//!   downstream, after putting its own designated ports back to discarding
//!   (*sync*), *agrees*; the proposer then forwards at once. The handshake
//!   ripples to the edge of the network in a few link delays instead of
//!   30 s. A designated port that never hears an agreement falls back to
//!   the forward-delay timers. A non-edge port that starts forwarding is a
//!   topology change: TC-flagged BPDUs flood for two hellos, and each
//!   bridge that receives one flushes the addresses learned on its other
//!   ports.
//!
//! Simplifications (documented, not hidden): every link is treated as
//! point-to-point and full duplex (the simulator's cables are); the
//! protocol-migration machine (falling back to STP BPDUs on a port that
//! hears one) is not modelled, so all bridges of a network run the same
//! protocol; port path costs are set per port, not derived from a speed.

use std::collections::VecDeque;

use strata::time::{Duration, Instant};
use strata::wire::stp::{flags, BpduInfo, BpduRepr, BpduRole, BridgeId};
use strata::wire::MacAddr;

use crate::switch::PortState;

/// Which spanning tree protocol a bridge runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// IEEE 802.1D-1998 Spanning Tree Protocol.
    Stp,
    /// IEEE 802.1w / 802.1D-2004 Rapid Spanning Tree Protocol.
    Rstp,
}

impl Protocol {
    /// Short name: "STP" or "RSTP".
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Stp => "STP",
            Protocol::Rstp => "RSTP",
        }
    }
    /// The default path cost of a 100 Mbit/s port: 19 in 802.1D-1998's
    /// table, 200 000 in 802.1D-2004's (Table 17-3).
    pub fn default_path_cost(self) -> u32 {
        match self {
            Protocol::Stp => 19,
            Protocol::Rstp => 200_000,
        }
    }
}

/// A port's role in the tree (802.1D-2004 §17.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRole {
    /// The port toward the root.
    Root,
    /// The port that serves its segment.
    Designated,
    /// Discarding: another bridge serves the segment; a fallback path to
    /// the root.
    Alternate,
    /// Discarding: another port of this bridge serves the segment.
    Backup,
}

impl PortRole {
    /// Lower-case name, as `show spanning-tree` prints it.
    pub fn name(self) -> &'static str {
        match self {
            PortRole::Root => "root",
            PortRole::Designated => "designated",
            PortRole::Alternate => "alternate",
            PortRole::Backup => "backup",
        }
    }
}

/// Bridge settings (802.1D-2004 Table 17-1 defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeConfig {
    /// STP or RSTP.
    pub protocol: Protocol,
    /// Bridge priority (default 32768; lower wins the root election).
    pub priority: u16,
    /// Hello time (2 s).
    pub hello: Duration,
    /// Max age (20 s).
    pub max_age: Duration,
    /// Forward delay (15 s).
    pub forward_delay: Duration,
}

impl BridgeConfig {
    /// The standard's defaults for `protocol`.
    pub fn new(protocol: Protocol) -> Self {
        BridgeConfig {
            protocol,
            priority: 32768,
            hello: Duration::from_secs(2),
            max_age: Duration::from_secs(20),
            forward_delay: Duration::from_secs(15),
        }
    }
}

/// A priority vector; the derived order (field by field) is 802.1D's
/// "better is lower".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Vector {
    root: BridgeId,
    cost: u32,
    bridge: BridgeId,
    port: u16,
}

/// What a port heard from the designated bridge of its segment.
#[derive(Debug, Clone, Copy)]
struct Heard {
    vector: Vector,
    message_age: u16,
    expires: Instant,
}

/// One port's spanning-tree state.
#[derive(Debug, Clone)]
struct Port {
    id: u16,
    cost: u32,
    edge: bool,
    role: PortRole,
    state: PortState,
    heard: Option<Heard>,
    /// STP: next Listening→Learning→Forwarding step; RSTP: the fallback
    /// forward-delay step of a designated port that has no agreement.
    step_at: Option<Instant>,
    /// RSTP: proposing to the bridge downstream.
    proposing: bool,
    /// RSTP: the bridge downstream agreed.
    agreed: bool,
    /// RSTP: send TC-flagged BPDUs until then.
    tc_until: Option<Instant>,
    /// STP: a TCN came in here; acknowledge it in the next Config BPDU.
    tc_ack: bool,
}

/// Counters of one bridge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StpStats {
    /// BPDUs sent.
    pub bpdus_sent: u64,
    /// BPDUs received and understood.
    pub bpdus_received: u64,
    /// Frames to the bridge group that did not parse as BPDUs.
    pub bpdus_malformed: u64,
    /// Topology changes this bridge detected itself (one of its ports
    /// started or, under STP, stopped forwarding).
    pub topology_changes: u64,
    /// Topology changes it learned from a neighbour (a TCN, or the start of
    /// a run of TC-flagged BPDUs); each flushes learned addresses.
    pub topology_changes_learned: u64,
}

/// A change of a port's role or state, for the ladder and the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortChange {
    /// When.
    pub at: Instant,
    /// Which port.
    pub port: usize,
    /// Its role after the change.
    pub role: PortRole,
    /// Its state after the change.
    pub state: PortState,
}

/// The spanning-tree entity of one bridge: BPDUs in, BPDUs, port states
/// and flush requests out. Driven by [`crate::Switch`].
#[derive(Debug, Clone)]
pub struct SpanningTree {
    cfg: BridgeConfig,
    id: BridgeId,
    mac: MacAddr,
    ports: Vec<Port>,
    root: Vector,
    root_port: Option<usize>,
    next_hello: Instant,
    /// STP: this bridge is the root and the TC flag is on until then.
    tc_until: Option<Instant>,
    /// STP: a TCN must go up the root port (until acknowledged).
    tcn_pending: bool,
    out: VecDeque<(usize, Vec<u8>)>,
    flush: Vec<Option<usize>>,
    changes: Vec<PortChange>,
    stats: StpStats,
    /// The latest time any call passed in.
    clock: Instant,
}

fn secs256(d: Duration) -> u16 {
    (d.as_nanos() * 256 / 1_000_000_000).min(u128::from(u16::MAX)) as u16
}

fn from256(v: u16) -> Duration {
    Duration::from_nanos(u64::from(v) * 1_000_000_000 / 256)
}

impl SpanningTree {
    /// A bridge with address `mac` and `ports` ports, all enabled, none
    /// edge, each of the protocol's default path cost. Every port starts
    /// designated and discarding (Blocking), as after power-on.
    pub fn new(cfg: BridgeConfig, mac: MacAddr, ports: usize) -> Self {
        let id = BridgeId {
            priority: cfg.priority,
            mac,
        };
        let own = Vector {
            root: id,
            cost: 0,
            bridge: id,
            port: 0,
        };
        let ports = (0..ports)
            .map(|n| Port {
                // Port priority 128 in the top 4 bits, number from 1.
                id: 0x8000 | ((n as u16 + 1) & 0x0fff),
                cost: cfg.protocol.default_path_cost(),
                edge: false,
                role: PortRole::Designated,
                state: PortState::Blocking,
                heard: None,
                step_at: None,
                proposing: false,
                agreed: false,
                tc_until: None,
                tc_ack: false,
            })
            .collect();
        let mut t = SpanningTree {
            cfg,
            id,
            mac,
            ports,
            root: own,
            root_port: None,
            next_hello: Instant::ZERO,
            tc_until: None,
            tcn_pending: false,
            out: VecDeque::new(),
            flush: Vec::new(),
            changes: Vec::new(),
            stats: StpStats::default(),
            clock: Instant::ZERO,
        };
        t.recompute(Instant::ZERO);
        for n in 0..t.ports.len() {
            t.enter_role(Instant::ZERO, n);
        }
        // The first hello, at time zero, announces the bridge.
        t.out.clear();
        t.stats = StpStats::default();
        t
    }

    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        self.cfg.protocol
    }
    /// This bridge's identifier.
    pub fn bridge_id(&self) -> BridgeId {
        self.id
    }
    /// The root bridge as this bridge sees it.
    pub fn root_id(&self) -> BridgeId {
        self.root.root
    }
    /// This bridge's cost to the root.
    pub fn root_cost(&self) -> u32 {
        self.root.cost
    }
    /// Whether this bridge believes it is the root.
    pub fn is_root(&self) -> bool {
        self.root.root == self.id
    }
    /// The root port (none on the root bridge).
    pub fn root_port(&self) -> Option<usize> {
        self.root_port
    }
    /// A port's role.
    pub fn role(&self, port: usize) -> Option<PortRole> {
        self.ports.get(port).map(|p| p.role)
    }
    /// A port's state.
    pub fn state(&self, port: usize) -> Option<PortState> {
        self.ports.get(port).map(|p| p.state)
    }
    /// Counters.
    pub fn stats(&self) -> StpStats {
        self.stats
    }
    /// Every role or state change so far, in order.
    pub fn changes(&self) -> &[PortChange] {
        &self.changes
    }
    /// When a port last changed role or state.
    pub fn last_change(&self) -> Option<Instant> {
        self.changes.last().map(|c| c.at)
    }

    /// Marks a port as an edge port (a host, never a bridge, behind it),
    /// as configuration before the run: under RSTP it forwards at once and
    /// its transitions are no topology change. STP has no edge ports and
    /// ignores the flag.
    pub fn set_edge(&mut self, port: usize, edge: bool) {
        if let Some(p) = self.ports.get_mut(port) {
            p.edge = edge;
            if edge && p.role == PortRole::Designated {
                self.enter_role(self.clock, port);
            }
        }
    }

    /// Sets a port's path cost.
    pub fn set_path_cost(&mut self, port: usize, cost: u32) {
        if let Some(p) = self.ports.get_mut(port) {
            p.cost = cost.max(1);
        }
    }

    /// The next frame to send, as `(port, frame)`.
    pub fn poll_transmit(&mut self) -> Option<(usize, Vec<u8>)> {
        self.out.pop_front()
    }

    /// Address-table flushes requested since the last call: `Some(p)`
    /// flushes every port but `p`, `None` every port.
    pub fn take_flushes(&mut self) -> Vec<Option<usize>> {
        std::mem::take(&mut self.flush)
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.next_hello;
        for p in &self.ports {
            for d in [p.step_at, p.heard.map(|h| h.expires)]
                .into_iter()
                .flatten()
            {
                t = t.min(d);
            }
        }
        Some(t)
    }

    /// Runs the timers due at `now`: ages out information, steps port
    /// states, sends hellos.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock = now;
        let mut aged = false;
        for p in &mut self.ports {
            if p.heard.is_some_and(|h| h.expires <= now) {
                // 802.1D-2004 §17.17.6 rcvdInfoWhile; 802.1D-1998 "message age timer expiry".
                p.heard = None;
                aged = true;
            }
        }
        if aged {
            self.recompute(now);
        }
        for n in 0..self.ports.len() {
            if self.ports[n].step_at.is_some_and(|t| t <= now) {
                self.step(now, n);
            }
        }
        if self.tc_until.is_some_and(|t| t <= now) {
            self.tc_until = None;
        }
        if now >= self.next_hello {
            self.next_hello = now + self.cfg.hello;
            self.hello(now);
        }
    }

    /// Takes in a frame addressed to the bridge group on `port`.
    pub fn receive(&mut self, now: Instant, port: usize, frame: &[u8]) {
        self.clock = now;
        if port >= self.ports.len() {
            return;
        }
        let bpdu = match BpduRepr::parse_frame(frame) {
            Ok(b) => b,
            Err(_) => {
                self.stats.bpdus_malformed += 1;
                return;
            }
        };
        self.stats.bpdus_received += 1;
        // A BPDU on an edge port: a bridge is there after all (802.1D-2004 §17.19.17 operEdge).
        self.ports[port].edge = false;
        match bpdu {
            BpduRepr::Tcn => self.receive_tcn(now, port),
            BpduRepr::Config(info) => self.receive_info(now, port, &info, false),
            BpduRepr::Rst(info) => self.receive_info(now, port, &info, true),
        }
    }

    fn receive_tcn(&mut self, now: Instant, port: usize) {
        // 802.1D-1998 "received topology change notification BPDU": a TCN
        // on a designated port is acknowledged
        // and passed on toward the root.
        if self.ports[port].role != PortRole::Designated {
            return;
        }
        self.ports[port].tc_ack = true;
        self.send_bpdu(now, port);
        let running = if self.is_root() {
            self.tc_until.is_some_and(|t| t > now)
        } else {
            self.tcn_pending
        };
        if !running {
            self.stats.topology_changes_learned += 1;
            self.topology_change(now, Some(port));
        }
    }

    fn receive_info(&mut self, now: Instant, port: usize, info: &BpduInfo, rst: bool) {
        let msg = Vector {
            root: info.root,
            cost: info.root_cost,
            bridge: info.bridge,
            port: info.port,
        };
        let rstp = self.cfg.protocol == Protocol::Rstp;
        let tc_running = self.tc_until.is_some_and(|t| t > now);
        if info.message_age >= info.max_age {
            return; // 802.1D-2004 §9.3.4 / §17.21.8: stale information is discarded.
        }
        // An RST BPDU from a root, alternate or backup port carries no
        // designated information (802.1D-2004 §17.21.8 rcvInfo: OtherInfo); it matters
        // only for its agreement and TC flags.
        let designated = !rst || info.role() == BpduRole::Designated;
        let p = &self.ports[port];
        let same_sender = p
            .heard
            .is_some_and(|h| (h.vector.bridge, h.vector.port) == (msg.bridge, msg.port));
        let mine = self.designated_vector(port);
        if designated && (msg < mine || same_sender) {
            let life = if rstp {
                // §17.21.23: three hello times.
                self.cfg.hello * 3
            } else {
                from256(info.max_age.saturating_sub(info.message_age))
            };
            let was_root_port = self.root_port == Some(port);
            self.ports[port].heard = Some(Heard {
                vector: msg,
                message_age: info.message_age,
                expires: now + life,
            });
            self.recompute(now);
            if rstp && info.has(flags::PROPOSAL) {
                self.answer_proposal(now, port);
            }
            if !rstp && self.root_port == Some(port) {
                // 802.1D-1998 "received configuration BPDU": relay the root's
                // hello out of the designated ports, one second older.
                if info.has(flags::TC_ACK) {
                    self.tcn_pending = false;
                }
                self.tc_until = info.has(flags::TC).then_some(now + self.cfg.hello);
                for n in 0..self.ports.len() {
                    if self.ports[n].role == PortRole::Designated {
                        self.send_bpdu(now, n);
                    }
                }
            }
            if info.has(flags::TC) && (rstp || was_root_port) {
                self.learn_topology_change(now, port, tc_running);
            }
        } else if designated && self.ports[port].role == PortRole::Designated {
            // An inferior claim on a segment we serve: answer it at once
            // (802.1D-1998 "reply to configuration BPDU").
            self.send_bpdu(now, port);
        } else if rst {
            // Agreement from the bridge downstream (802.1D-2004 §17.21.9 recordAgreement).
            if info.has(flags::AGREEMENT) && self.ports[port].role == PortRole::Designated {
                let p = &mut self.ports[port];
                p.agreed = true;
                p.proposing = false;
                if p.state != PortState::Forwarding {
                    self.set_state(now, port, PortState::Forwarding);
                }
            }
            if info.has(flags::TC) {
                self.learn_topology_change(now, port, tc_running);
            }
        }
    }

    /// 802.1D-2004 §17.29.2 (ROOT_AGREED, sync), §17.29.4 (ALTERNATE_AGREED): a proposal on the root port is answered,
    /// after sync, with an agreement; an alternate or backup port, which
    /// already discards, agrees at once.
    fn answer_proposal(&mut self, now: Instant, port: usize) {
        match self.ports[port].role {
            PortRole::Root => {
                // sync: every designated, non-edge port that has not agreed
                // goes back to discarding and proposes downstream.
                for n in 0..self.ports.len() {
                    let p = &self.ports[n];
                    if n != port && p.role == PortRole::Designated && !p.edge && !p.agreed {
                        if p.state != PortState::Blocking {
                            self.set_state(now, n, PortState::Blocking);
                        }
                        self.ports[n].proposing = true;
                        self.ports[n].step_at = Some(now + self.cfg.forward_delay);
                        self.send_bpdu(now, n);
                    }
                }
                if self.ports[port].state != PortState::Forwarding {
                    self.set_state(now, port, PortState::Forwarding);
                }
                self.send_agreement(now, port);
            }
            PortRole::Alternate | PortRole::Backup => self.send_agreement(now, port),
            PortRole::Designated => {}
        }
    }

    /// The vector this bridge would send on `port` as its designated bridge.
    fn designated_vector(&self, port: usize) -> Vector {
        Vector {
            root: self.root.root,
            cost: self.root.cost,
            bridge: self.id,
            port: self.ports[port].id,
        }
    }

    /// Root, roles and (for changed roles) states from what the ports
    /// heard (802.1D-2004 §17.21.25 updtRolesTree).
    fn recompute(&mut self, now: Instant) {
        let own = Vector {
            root: self.id,
            cost: 0,
            bridge: self.id,
            port: 0,
        };
        let mut best = own;
        let mut best_key = (own, 0u16);
        let mut root_port = None;
        for (n, p) in self.ports.iter().enumerate() {
            let Some(h) = p.heard else { continue };
            if h.vector.bridge == self.id {
                continue; // our own information, looped back
            }
            let cand = Vector {
                root: h.vector.root,
                cost: h.vector.cost.saturating_add(p.cost),
                bridge: h.vector.bridge,
                port: h.vector.port,
            };
            let key = (cand, p.id);
            if cand.root < self.id && (root_port.is_none() || key < best_key) {
                best_key = key;
                best = cand;
                root_port = Some(n);
            }
        }
        let announce = best != self.root;
        self.root = best;
        self.root_port = root_port;
        let mut new_designated = Vec::new();
        for n in 0..self.ports.len() {
            let mine = self.designated_vector(n);
            let p = &self.ports[n];
            let role = if Some(n) == root_port {
                PortRole::Root
            } else {
                match p.heard {
                    Some(h) if h.vector < mine => {
                        if h.vector.bridge == self.id {
                            PortRole::Backup
                        } else {
                            PortRole::Alternate
                        }
                    }
                    _ => PortRole::Designated,
                }
            };
            if role != p.role {
                self.ports[n].role = role;
                self.ports[n].agreed = false;
                let state = self.ports[n].state;
                self.changes.push(PortChange {
                    at: now,
                    port: n,
                    role,
                    state,
                });
                self.enter_role(now, n);
                if role == PortRole::Designated {
                    new_designated.push(n);
                }
            }
        }
        // New information goes out at once, not at the next hello
        // (802.1D-2004 §17.19.26 newInfo, §17.26 Port Transmit; 802.1D-1998 "configuration
        // BPDU generation" when a bridge becomes root).
        for n in 0..self.ports.len() {
            if self.ports[n].role == PortRole::Designated
                && (announce || new_designated.contains(&n))
            {
                self.send_bpdu(now, n);
            }
        }
    }

    /// The state a port takes on when its role changes.
    fn enter_role(&mut self, now: Instant, n: usize) {
        let rstp = self.cfg.protocol == Protocol::Rstp;
        let (role, state, edge) = {
            let p = &self.ports[n];
            (p.role, p.state, p.edge)
        };
        match role {
            PortRole::Alternate | PortRole::Backup => {
                self.ports[n].step_at = None;
                self.ports[n].proposing = false;
                self.set_state(now, n, PortState::Blocking);
            }
            PortRole::Root if rstp => {
                self.ports[n].step_at = None;
                self.set_state(now, n, PortState::Forwarding);
            }
            PortRole::Designated if rstp && edge => {
                self.ports[n].step_at = None;
                self.set_state(now, n, PortState::Forwarding);
            }
            PortRole::Designated if rstp => {
                if state != PortState::Forwarding {
                    self.ports[n].proposing = true;
                    self.ports[n].step_at = Some(now + self.cfg.forward_delay);
                    self.set_state(now, n, PortState::Blocking);
                }
            }
            PortRole::Root | PortRole::Designated => {
                // STP (802.1D-1998 "make forwarding"): Blocking → Listening.
                if state == PortState::Blocking {
                    self.ports[n].step_at = Some(now + self.cfg.forward_delay);
                    self.set_state(now, n, PortState::Listening);
                }
            }
        }
    }

    /// One forward-delay step: Listening → Learning → Forwarding (STP),
    /// or Discarding → Learning → Forwarding for an RSTP designated port
    /// that heard no agreement.
    fn step(&mut self, now: Instant, n: usize) {
        let next = match self.ports[n].state {
            PortState::Blocking if self.cfg.protocol == Protocol::Rstp => PortState::Learning,
            PortState::Listening => PortState::Learning,
            PortState::Learning => PortState::Forwarding,
            _ => {
                self.ports[n].step_at = None;
                return;
            }
        };
        self.ports[n].step_at =
            (next != PortState::Forwarding).then(|| now + self.cfg.forward_delay);
        self.set_state(now, n, next);
    }

    fn set_state(&mut self, now: Instant, n: usize, state: PortState) {
        let p = &mut self.ports[n];
        if p.state == state {
            return;
        }
        let was = p.state;
        p.state = state;
        if state == PortState::Forwarding {
            p.step_at = None;
            p.proposing = false;
        }
        let (role, edge) = (p.role, p.edge);
        self.changes.push(PortChange {
            at: now,
            port: n,
            role,
            state,
        });
        // A non-edge port that starts forwarding (802.1D-2004 §17.31 TCM
        // DETECTED), or any port leaving forwarding in STP (802.1D-1998 "topology change detection"),
        // is a topology change.
        let detected = match self.cfg.protocol {
            Protocol::Rstp => state == PortState::Forwarding && !edge,
            Protocol::Stp => state == PortState::Forwarding || was == PortState::Forwarding,
        };
        if detected && was != state && now > Instant::ZERO {
            self.stats.topology_changes += 1;
            self.topology_change(now, Some(n));
        }
        if role != PortRole::Root && role != PortRole::Designated && was == PortState::Forwarding {
            self.flush.push(None);
        }
    }

    /// This bridge detected, or was told of, a topology change on `port`:
    /// flush, and tell the others.
    fn topology_change(&mut self, now: Instant, port: Option<usize>) {
        match self.cfg.protocol {
            Protocol::Rstp => {
                // 802.1D-2004 §17.21.7 newTcWhile, §17.21.18 setTcPropTree: every other
                // non-edge root or designated port floods the TC flag.
                let until = now + self.cfg.hello * 2;
                for (n, p) in self.ports.iter_mut().enumerate() {
                    if Some(n) != port
                        && !p.edge
                        && matches!(p.role, PortRole::Root | PortRole::Designated)
                    {
                        p.tc_until = Some(until);
                    }
                }
                self.flush.push(port);
                for n in 0..self.ports.len() {
                    if self.ports[n].tc_until.is_some_and(|t| t > now) {
                        self.send_bpdu(now, n);
                    }
                }
            }
            Protocol::Stp => {
                self.flush.push(None);
                if self.is_root() {
                    // 802.1D-1998 "topology change detection": the root flags TC for max age + forward delay.
                    self.tc_until = Some(now + self.cfg.max_age + self.cfg.forward_delay);
                } else if let Some(rp) = self.root_port {
                    self.tcn_pending = true;
                    self.send_tcn(rp);
                }
            }
        }
    }

    /// A TC flag came in on `port` (RSTP: from anywhere; STP: from the root).
    /// `tc_running`: (STP) the bridge already saw the flag in its last hello.
    fn learn_topology_change(&mut self, now: Instant, port: usize, tc_running: bool) {
        match self.cfg.protocol {
            Protocol::Rstp => {
                let fresh = self
                    .ports
                    .iter()
                    .all(|p| p.tc_until.is_none_or(|t| t <= now));
                if fresh {
                    self.stats.topology_changes_learned += 1;
                    self.topology_change(now, Some(port));
                } else {
                    self.flush.push(Some(port));
                }
            }
            Protocol::Stp => {
                // 802.1D-1998 "topology change": while the root flags TC, addresses age out
                // after a forward delay; we flush at the start and on every
                // flagged hello, which is as short an aging as the model needs.
                if !tc_running {
                    self.stats.topology_changes_learned += 1;
                }
                self.flush.push(None);
            }
        }
    }

    /// The periodic hello: RSTP bridges send on every designated port;
    /// under STP only the root originates (the rest relay), and a pending
    /// TCN is repeated.
    fn hello(&mut self, now: Instant) {
        let originate = self.cfg.protocol == Protocol::Rstp || self.is_root();
        if originate {
            for n in 0..self.ports.len() {
                if self.ports[n].role == PortRole::Designated {
                    self.send_bpdu(now, n);
                }
            }
        }
        if self.tcn_pending {
            if let Some(rp) = self.root_port {
                self.send_tcn(rp);
            }
        }
    }

    fn info(&self, now: Instant, n: usize) -> BpduInfo {
        let p = &self.ports[n];
        let message_age = match self.root_port.and_then(|r| self.ports[r].heard) {
            // 802.1D-1998 "transmit configuration BPDU": one second (the
            // overestimate of a hop) older than heard.
            Some(h) if !self.is_root() => h.message_age.saturating_add(256),
            _ => 0,
        };
        let mut f = 0;
        let tc = match self.cfg.protocol {
            Protocol::Rstp => p.tc_until.is_some_and(|t| t > now),
            Protocol::Stp => self.tc_until.is_some_and(|t| t > now),
        };
        if tc {
            f |= flags::TC;
        }
        if p.tc_ack {
            f |= flags::TC_ACK;
        }
        let mut info = BpduInfo {
            flags: f,
            root: self.root.root,
            root_cost: self.root.cost,
            bridge: self.id,
            port: p.id,
            message_age,
            max_age: secs256(self.cfg.max_age),
            hello_time: secs256(self.cfg.hello),
            forward_delay: secs256(self.cfg.forward_delay),
        };
        if self.cfg.protocol == Protocol::Rstp {
            if p.proposing && p.state != PortState::Forwarding {
                info.flags |= flags::PROPOSAL;
            }
            if matches!(p.state, PortState::Learning | PortState::Forwarding) {
                info.flags |= flags::LEARNING;
            }
            if p.state == PortState::Forwarding {
                info.flags |= flags::FORWARDING;
            }
            info.set_role(match p.role {
                PortRole::Root => BpduRole::Root,
                PortRole::Designated => BpduRole::Designated,
                PortRole::Alternate | PortRole::Backup => BpduRole::AlternateOrBackup,
            });
        }
        info
    }

    fn port_mac(&self, n: usize) -> MacAddr {
        // Each port sends from its own address: the bridge address with
        // the port number added to the last octet.
        let mut m = self.mac;
        m.0[5] = m.0[5].wrapping_add(n as u8 + 1);
        m
    }

    fn send_bpdu(&mut self, now: Instant, n: usize) {
        let info = self.info(now, n);
        let bpdu = match self.cfg.protocol {
            Protocol::Stp => BpduRepr::Config(info),
            Protocol::Rstp => BpduRepr::Rst(info),
        };
        self.ports[n].tc_ack = false;
        self.emit(n, bpdu);
    }

    fn send_agreement(&mut self, now: Instant, n: usize) {
        let mut info = self.info(now, n);
        info.flags |= flags::AGREEMENT;
        info.flags &= !flags::PROPOSAL;
        self.emit(n, BpduRepr::Rst(info));
    }

    fn send_tcn(&mut self, n: usize) {
        self.emit(n, BpduRepr::Tcn);
    }

    fn emit(&mut self, n: usize, bpdu: BpduRepr) {
        self.stats.bpdus_sent += 1;
        let frame = bpdu.to_frame(self.port_mac(n));
        self.out.push_back((n, frame));
    }
}
