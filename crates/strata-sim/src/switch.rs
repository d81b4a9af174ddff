//! A learning switch (transparent bridge, IEEE 802.1D §7–8 in spirit).
//!
//! For every frame that arrives the switch:
//!
//! 1. **learns**: remembers that the frame's *source* MAC lives behind the
//!    ingress port (group source addresses are never learned);
//! 2. **forwards**: a unicast destination found in the table goes out of
//!    that one port only — or nowhere if that is the ingress port
//!    ("filtered": both stations are on the same segment);
//! 3. **floods**: broadcast, multicast and unknown unicast go out of every
//!    port but the ingress port.
//!
//! Table entries not refreshed for [`Switch::aging_time`] (default 300 s,
//! 802.1D's default) age out, and the destination is flooded again.
//! Frames for the IEEE reserved link-local group `01:80:c2:00:00:0x`
//! (spanning tree BPDUs, pause frames, LLDP…) are never forwarded.
//!
//! # Loops and spanning tree
//!
//! Flooding has no hop limit at layer 2: a topology with a loop repeats a
//! broadcast frame forever (a *broadcast storm*, see [`crate::storm`]),
//! and the MAC table "flaps" as the same source appears on several ports
//! ([`SwitchStats::moved`] counts it). The cure is the spanning tree
//! protocol ([`crate::stp`], STP or RSTP, enabled with
//! [`Switch::with_spanning_tree`]), which puts the redundant ports into
//! [`PortState::Blocking`]: a blocking port neither forwards nor learns, so
//! the active topology is a tree. Its BPDUs (to `01:80:c2:00:00:00`) are
//! consumed by the switch in [`Node::receive`] *before* the port-state
//! check, and it drives the port states. Without it, ports can be blocked
//! by hand with [`Switch::set_port_state`].

use std::collections::{BTreeMap, VecDeque};

use strata::time::{Duration, Instant};
use strata::wire::MacAddr;

use crate::node::Node;
use crate::stp::{BridgeConfig, SpanningTree};

/// The default aging time of a learned address: 300 s (IEEE 802.1D).
pub const DEFAULT_AGING: Duration = Duration::from_secs(300);

/// What a port does with frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortState {
    /// Learns and forwards (the only state without spanning tree).
    #[default]
    Forwarding,
    /// Discards every frame it receives and sends nothing: the state
    /// spanning tree gives a port that would close a loop (RSTP calls it
    /// *discarding*). BPDUs are still exchanged.
    Blocking,
    /// STP only: discards frames, takes part in the election, learns no
    /// addresses (the first forward delay).
    Listening,
    /// Discards frames but learns their source addresses (the last
    /// forward delay before forwarding).
    Learning,
}

impl PortState {
    /// Lower-case name, as a switch's `show spanning-tree` prints it.
    pub fn name(self) -> &'static str {
        match self {
            PortState::Forwarding => "forwarding",
            PortState::Blocking => "blocking",
            PortState::Listening => "listening",
            PortState::Learning => "learning",
        }
    }
}

/// One learned address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacEntry {
    /// The port the address was last seen on.
    pub port: usize,
    /// When it was last seen.
    pub last_seen: Instant,
}

/// Counters of a switch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwitchStats {
    /// Frames received on any port.
    pub received: u64,
    /// Frames sent out of exactly one port (known unicast).
    pub forwarded: u64,
    /// Frames flooded (counted once per frame, not per copy).
    pub flooded: u64,
    /// Frames whose destination sits behind the ingress port: not forwarded.
    pub filtered: u64,
    /// Frames to the reserved link-local group, not forwarded.
    pub reserved: u64,
    /// Frames received on a blocking port, discarded.
    pub dropped_blocking: u64,
    /// Frames too short for an Ethernet header, discarded.
    pub dropped_runt: u64,
    /// New addresses learned.
    pub learned: u64,
    /// Known addresses seen on a different port than before (a station
    /// moved — or a loop).
    pub moved: u64,
    /// Addresses that aged out.
    pub aged_out: u64,
    /// Addresses forgotten because spanning tree saw the topology change.
    pub flushed: u64,
    /// BPDUs handed to the spanning tree.
    pub bpdus: u64,
}

/// A learning switch with a fixed number of ports.
#[derive(Debug, Clone)]
pub struct Switch {
    name: String,
    ports: Vec<PortState>,
    aging: Duration,
    table: BTreeMap<MacAddr, MacEntry>,
    next_purge: Instant,
    out: VecDeque<(usize, Vec<u8>)>,
    stats: SwitchStats,
    stp: Option<SpanningTree>,
}

impl Switch {
    /// A switch with `ports` ports (numbered from 0), named "switch".
    pub fn new(ports: usize) -> Self {
        Switch::named("switch", ports)
    }

    /// A switch with a name for statistics tables.
    pub fn named(name: impl Into<String>, ports: usize) -> Self {
        Switch {
            name: name.into(),
            ports: vec![PortState::Forwarding; ports],
            aging: DEFAULT_AGING,
            table: BTreeMap::new(),
            next_purge: Instant::ZERO,
            out: VecDeque::new(),
            stats: SwitchStats::default(),
            stp: None,
        }
    }

    /// Runs spanning tree (STP or RSTP, per `cfg`) with bridge address
    /// `mac` (builder style). Every port starts discarding, as after
    /// power-on; the protocol then drives the port states.
    pub fn with_spanning_tree(mut self, cfg: BridgeConfig, mac: MacAddr) -> Self {
        let stp = SpanningTree::new(cfg, mac, self.ports.len());
        self.stp = Some(stp);
        self.sync_stp();
        self
    }

    /// The spanning-tree entity, if the switch runs one.
    pub fn spanning_tree(&self) -> Option<&SpanningTree> {
        self.stp.as_ref()
    }

    /// The spanning-tree entity, to configure it (edge ports, costs).
    pub fn spanning_tree_mut(&mut self) -> Option<&mut SpanningTree> {
        self.stp.as_mut()
    }

    /// Copies the spanning tree's port states and carries out its
    /// address-table flushes.
    fn sync_stp(&mut self) {
        let Some(stp) = self.stp.as_mut() else {
            return;
        };
        for (n, state) in self.ports.iter_mut().enumerate() {
            if let Some(s) = stp.state(n) {
                *state = s;
            }
        }
        let flushes = stp.take_flushes();
        for keep in flushes {
            let before = self.table.len();
            self.table.retain(|_, e| Some(e.port) == keep);
            self.stats.flushed += (before - self.table.len()) as u64;
        }
        let ports = &self.ports;
        self.table
            .retain(|_, e| matches!(ports[e.port], PortState::Forwarding | PortState::Learning));
    }

    /// Sets the aging time (builder style).
    pub fn with_aging(mut self, aging: Duration) -> Self {
        self.aging = aging;
        self
    }

    /// The aging time of learned addresses.
    pub fn aging_time(&self) -> Duration {
        self.aging
    }

    /// Number of ports.
    pub fn ports(&self) -> usize {
        self.ports.len()
    }

    /// A port's state (`None` for a port the switch does not have).
    pub fn port_state(&self, port: usize) -> Option<PortState> {
        self.ports.get(port).copied()
    }

    /// Sets a port's state (what spanning tree will drive). Blocking a port
    /// forgets the addresses learned on it. Returns false for a port the
    /// switch does not have.
    pub fn set_port_state(&mut self, port: usize, state: PortState) -> bool {
        let Some(p) = self.ports.get_mut(port) else {
            return false;
        };
        *p = state;
        if state == PortState::Blocking {
            self.table.retain(|_, e| e.port != port);
        }
        true
    }

    /// Counters.
    pub fn stats(&self) -> SwitchStats {
        self.stats
    }

    /// The port a MAC address is known on at `now`, if its entry is fresh.
    pub fn lookup(&self, mac: MacAddr, now: Instant) -> Option<usize> {
        self.table
            .get(&mac)
            .filter(|e| self.fresh(e, now))
            .map(|e| e.port)
    }

    /// The fresh entries of the MAC table at `now`, in address order.
    pub fn mac_table(&self, now: Instant) -> Vec<(MacAddr, MacEntry)> {
        self.table
            .iter()
            .filter(|(_, e)| self.fresh(e, now))
            .map(|(m, e)| (*m, *e))
            .collect()
    }

    fn fresh(&self, e: &MacEntry, now: Instant) -> bool {
        now.saturating_duration_since(e.last_seen) < self.aging
    }

    fn purge(&mut self, now: Instant) {
        if now < self.next_purge {
            return;
        }
        let aging = self.aging;
        let before = self.table.len();
        self.table
            .retain(|_, e| now.saturating_duration_since(e.last_seen) < aging);
        self.stats.aged_out += (before - self.table.len()) as u64;
        self.next_purge = now + aging;
    }

    fn flood(&mut self, ingress: usize, frame: &[u8]) {
        self.stats.flooded += 1;
        for (p, state) in self.ports.iter().enumerate() {
            if p != ingress && *state == PortState::Forwarding {
                self.out.push_back((p, frame.to_vec()));
            }
        }
    }
}

fn mac_at(frame: &[u8], at: usize) -> MacAddr {
    let mut m = [0u8; 6];
    m.copy_from_slice(&frame[at..at + 6]);
    MacAddr(m)
}

impl Node for Switch {
    fn receive(&mut self, now: Instant, port: usize, frame: &[u8]) {
        self.stats.received += 1;
        if frame.len() < strata::wire::ethernet::HEADER_LEN {
            self.stats.dropped_runt += 1;
            return;
        }
        // Spanning tree: BPDUs go to the bridge itself, whatever the port state.
        if frame[..6] == strata::wire::stp::BRIDGE_GROUP.0 {
            if let Some(stp) = self.stp.as_mut() {
                self.stats.bpdus += 1;
                stp.receive(now, port, frame);
                self.sync_stp();
                return;
            }
        }
        let state = self.ports.get(port).copied();
        if !matches!(state, Some(PortState::Forwarding | PortState::Learning)) {
            self.stats.dropped_blocking += 1;
            return;
        }
        let dst = mac_at(frame, 0);
        let src = mac_at(frame, 6);
        self.purge(now);

        // Learn the source (group addresses are not valid sources).
        if src.is_unicast() {
            let aging = self.aging;
            match self.table.get_mut(&src) {
                Some(e) => {
                    if now.saturating_duration_since(e.last_seen) >= aging {
                        self.stats.aged_out += 1;
                        self.stats.learned += 1;
                    } else if e.port != port {
                        self.stats.moved += 1;
                    }
                    *e = MacEntry {
                        port,
                        last_seen: now,
                    };
                }
                None => {
                    self.table.insert(
                        src,
                        MacEntry {
                            port,
                            last_seen: now,
                        },
                    );
                    self.stats.learned += 1;
                }
            }
        }

        if state == Some(PortState::Learning) {
            // Learned, not forwarded (802.1D-2004 §7.4 Learning state).
            self.stats.dropped_blocking += 1;
            return;
        }
        // IEEE 802.1D reserved link-local group 01:80:c2:00:00:00–0f: never relayed.
        if dst.0[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && dst.0[5] <= 0x0f {
            self.stats.reserved += 1;
            return;
        }
        if dst.is_multicast() {
            self.flood(port, frame);
            return;
        }
        match self.lookup(dst, now) {
            Some(p) if p == port => self.stats.filtered += 1,
            Some(p) => {
                self.stats.forwarded += 1;
                self.out.push_back((p, frame.to_vec()));
            }
            None => self.flood(port, frame),
        }
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<(usize, Vec<u8>)> {
        if let Some(bpdu) = self.stp.as_mut().and_then(SpanningTree::poll_transmit) {
            return Some(bpdu);
        }
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.stp.as_ref().and_then(SpanningTree::poll_timeout)
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(stp) = self.stp.as_mut() {
            stp.handle_timeout(now);
            self.sync_stp();
        }
    }
    fn name(&self) -> &str {
        &self.name
    }
}
