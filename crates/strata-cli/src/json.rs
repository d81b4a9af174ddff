//! The machine-readable summary `strata sim --json` prints on stdout.
//!
//! One object per run. Every scenario fills `scenario`, `seed`, `link`,
//! `virtual_time_s` and `links`; each fills its own section (`tcp` for
//! bulk, http and echo, `http`, `echo`, `ping`, `udp`, `traceroute`).
//! Times are seconds or milliseconds as the field name says; rates are
//! bits per second; sizes are bytes.

use serde::Serialize;
use strata::time::Duration;
use strata_sim::demo::StormDemo;
use strata_sim::host::{PingReport, TracerouteReport, UdpEchoReport};
use strata_sim::LinkStats;

/// The whole summary.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Scenario name (`bulk`, `http`, `echo`, `ping`, ...).
    pub scenario: String,
    /// Seed of the run: the same seed replays it exactly.
    pub seed: u64,
    /// The link settings used.
    pub link: LinkJson,
    /// Virtual time the simulation ran, in seconds.
    pub virtual_time_s: f64,
    /// Frame counters summed over every link.
    pub links: LinkStatsJson,
    /// TCP results (bulk, http, echo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpJson>,
    /// HTTP results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpJson>,
    /// Echo results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub echo: Option<EchoJson>,
    /// Ping results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping: Option<PingJson>,
    /// UDP echo results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp: Option<UdpJson>,
    /// Traceroute results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traceroute: Option<TracerouteJson>,
    /// Broadcast storm results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storm: Option<StormJson>,
    /// Per-flow results of `--flows` (bulk, http, echo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<FlowsJson>,
    /// Files written (pcap, SVG).
    pub files: Vec<String>,
}

/// One flow of `--flows`.
#[derive(Debug, Clone, Serialize)]
pub struct FlowJson {
    /// 1-based flow number.
    pub flow: u32,
    /// Congestion control of its sender.
    pub cc: String,
    /// Bytes the receiver read.
    pub bytes: u64,
    /// Every byte arrived as sent.
    pub verified: bool,
    /// From the start to its last byte, seconds.
    pub duration_s: f64,
    /// bytes · 8 / duration.
    pub goodput_bps: f64,
    /// Bytes it delivered while every flow was still running.
    pub shared_bytes: u64,
    /// Its sender's retransmissions.
    pub retransmissions: u64,
}

/// The flows of `--flows` together.
#[derive(Debug, Clone, Serialize)]
pub struct FlowsJson {
    /// Per flow.
    pub flows: Vec<FlowJson>,
    /// Seconds during which every flow was running (until the first ended).
    pub shared_s: f64,
    /// Jain's fairness index, (Σx)² / (n·Σx²), of the bytes each flow
    /// delivered during `shared_s`: 1 is a fair share, 1/n one flow alone.
    pub jain: f64,
    /// Length of the windows of `fairness`, seconds.
    pub window_s: f64,
    /// Jain's index of the bytes delivered in each window ending at `t_s`,
    /// one per second while every flow ran: `[t_s, index]`.
    pub fairness: Vec<[f64; 2]>,
    /// The end of the first window whose index reached 0.95.
    pub fair_at_s: Option<f64>,
}

/// Link settings.
#[derive(Debug, Clone, Serialize)]
pub struct LinkJson {
    /// Bottleneck rate, bit/s.
    pub rate_bps: u64,
    /// Configured round-trip propagation delay, ms.
    pub rtt_ms: f64,
    /// Random loss probability per frame.
    pub loss: f64,
    /// Mean length of loss bursts when bursty loss is on.
    pub burst_loss_len: Option<f64>,
    /// Reordering probability.
    pub reorder: f64,
    /// Duplication probability.
    pub dup: f64,
    /// Corruption probability.
    pub corrupt: f64,
    /// IP MTU.
    pub mtu: u16,
}

/// Link counters (both directions, every link).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LinkStatsJson {
    /// Frames offered.
    pub frames_sent: u64,
    /// Frames delivered (duplicates included).
    pub frames_delivered: u64,
    /// Frames dropped, any cause.
    pub dropped: u64,
    /// ... by random loss.
    pub dropped_loss: u64,
    /// ... by the burst channel.
    pub dropped_burst: u64,
    /// ... by a full queue.
    pub dropped_queue: u64,
    /// Frames duplicated.
    pub duplicated: u64,
    /// Frames reordered.
    pub reordered: u64,
    /// Frames corrupted.
    pub corrupted: u64,
}

impl From<LinkStats> for LinkStatsJson {
    fn from(s: LinkStats) -> Self {
        LinkStatsJson {
            frames_sent: s.frames_sent,
            frames_delivered: s.frames_delivered,
            dropped: s.dropped(),
            dropped_loss: s.dropped_loss,
            dropped_burst: s.dropped_burst,
            dropped_queue: s.dropped_queue,
            duplicated: s.duplicated,
            reordered: s.reordered,
            corrupted: s.corrupted,
        }
    }
}

/// What one TCP transfer did, seen from the sender.
#[derive(Debug, Clone, Serialize)]
pub struct TcpJson {
    /// Application bytes delivered to the receiver.
    pub bytes: u64,
    /// Every byte arrived intact and in order.
    pub verified: bool,
    /// From the connect call to the last byte at the receiver, seconds.
    pub duration_s: f64,
    /// bytes × 8 / duration.
    pub goodput_bps: f64,
    /// The host whose counters follow: the data's sender ("A" for bulk
    /// and echo, "B", the server, for http).
    pub sender: String,
    /// Segments retransmitted (all causes).
    pub retransmissions: u64,
    /// Fast retransmits.
    pub fast_retransmits: u64,
    /// Retransmission timeouts.
    pub rto_expired: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tail_probes: u64,
    /// Tail loss probes that resent a lost segment (acknowledged).
    pub tail_probe_repairs: u64,
    /// Times HyStart++ (RFC 9406) entered Conservative Slow Start on an
    /// RTT increase.
    pub hystart_css: u64,
    /// Initial slow starts HyStart++ ended before any loss.
    pub hystart_exits: u64,
    /// Retransmissions by cause: SACK loss recovery of segments RACK
    /// marked lost (RFC 8985 §6, RFC 6675).
    pub retransmissions_rack: u64,
    /// Retransmissions by cause: duplicate-ACK counting without SACK
    /// (RFC 5681 fast retransmit, RFC 6582 partial ACKs).
    pub retransmissions_dupthresh: u64,
    /// Retransmissions by cause: tail loss probes (RFC 8985 §7).
    pub retransmissions_tlp: u64,
    /// Retransmissions by cause: after a retransmission timeout (and
    /// SYN/SYN-ACK retries).
    pub retransmissions_rto: u64,
    /// Retransmissions by cause: a SYN-ACK sent again at once for a
    /// repeated SYN. The five causes add up to `retransmissions`.
    pub retransmissions_syn_ack: u64,
    /// Loss recoveries and timeouts found spurious and undone (RFC 3522,
    /// RFC 3708 detection; RFC 4015 response).
    pub spurious_undone: u64,
    /// Of those, retransmission timeouts.
    pub spurious_rto_undone: u64,
    /// Retransmissions sent in the recoveries and timeouts undone.
    pub spurious_retransmissions: u64,
    /// ACKs the sender received with a D-SACK block (RFC 2883).
    pub dsacks_received: u64,
    /// Frames dropped on the sender's outgoing link (any cause).
    pub link_drops: u64,
    /// Retransmissions per frame the sender's link dropped (1.0 is ideal).
    pub efficiency: Option<f64>,
    /// Segments the sender emitted.
    pub segments_sent: u64,
    /// Of those, segments held behind ARP and never sent (the resolution
    /// failed or the neighbour's queue overflowed): no capture shows them,
    /// so the wire has this many fewer (`Stack::stats().tcp.neighbour_drops`).
    pub segments_held: u64,
    /// The smallest RTT sample of a delivered data segment (the path's
    /// round trip; RACK's min RTT), ms.
    pub rtt_min_ms: Option<f64>,
    /// Final smoothed RTT, ms.
    pub srtt_ms: Option<f64>,
    /// Smallest smoothed RTT sampled, ms.
    pub srtt_min_ms: Option<f64>,
    /// Largest smoothed RTT sampled, ms.
    pub srtt_max_ms: Option<f64>,
    /// Largest congestion window sampled, bytes.
    pub cwnd_max: u64,
    /// cwnd/RTT samples taken.
    pub samples: usize,
}

/// The HTTP exchange.
#[derive(Debug, Clone, Serialize)]
pub struct HttpJson {
    /// Status line received.
    pub status: String,
    /// Body bytes received.
    pub body_bytes: u64,
    /// Connect to first response byte, ms.
    pub time_to_first_byte_ms: Option<f64>,
}

/// The echo exchange.
#[derive(Debug, Clone, Serialize)]
pub struct EchoJson {
    /// Lines sent.
    pub lines_sent: u64,
    /// Lines echoed back intact.
    pub lines_echoed: u64,
    /// Round trip of each line, ms.
    pub rtt_ms: Vec<f64>,
}

/// Ping results.
#[derive(Debug, Clone, Serialize)]
pub struct PingJson {
    /// Destination.
    pub dst: String,
    /// Requests sent.
    pub transmitted: usize,
    /// Replies received.
    pub received: usize,
    /// RTT of each reply (null when lost), ms.
    pub rtt_ms: Vec<Option<f64>>,
}

impl From<&PingReport> for PingJson {
    fn from(r: &PingReport) -> Self {
        PingJson {
            dst: r.dst.to_string(),
            transmitted: r.replies.len(),
            received: r.replies.iter().filter(|x| x.1.is_some()).count(),
            rtt_ms: r.replies.iter().map(|x| x.1.map(|(d, _)| ms(d))).collect(),
        }
    }
}

/// UDP echo results.
#[derive(Debug, Clone, Serialize)]
pub struct UdpJson {
    /// Datagrams sent.
    pub sent: u16,
    /// Echoes received.
    pub echoed: usize,
    /// Sequence numbers lost.
    pub lost: Vec<u16>,
}

impl From<&UdpEchoReport> for UdpJson {
    fn from(r: &UdpEchoReport) -> Self {
        UdpJson {
            sent: r.sent,
            echoed: r.echoed.len(),
            lost: r.lost(),
        }
    }
}

/// Traceroute results.
#[derive(Debug, Clone, Serialize)]
pub struct TracerouteJson {
    /// Destination.
    pub dst: String,
    /// The destination answered.
    pub reached: bool,
    /// First responder of each hop (null when silent).
    pub hops: Vec<Option<String>>,
}

impl From<&TracerouteReport> for TracerouteJson {
    fn from(r: &TracerouteReport) -> Self {
        TracerouteJson {
            dst: r.dst.to_string(),
            reached: r.reached,
            hops: r
                .hop_addresses()
                .iter()
                .map(|h| h.map(|a| a.to_string()))
                .collect(),
        }
    }
}

/// Broadcast storm results.
#[derive(Debug, Clone, Serialize)]
pub struct StormJson {
    /// How the run ended.
    pub outcome: String,
    /// Frames offered to links.
    pub frames: u64,
    /// Copies of its own broadcast the host received back.
    pub host_copies: usize,
    /// Times the first switch saw the host's address move.
    pub mac_moves: u64,
    /// The same triangle with spanning tree (`--stp`), one entry per protocol.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spanning_tree: Vec<StpJson>,
}

/// One spanning-tree run of `sim storm --stp`.
#[derive(Debug, Clone, Serialize)]
pub struct StpJson {
    /// "STP" or "RSTP".
    pub protocol: &'static str,
    /// The root bridge (priority/MAC).
    pub root: String,
    /// Seconds from power-on until the last port settled.
    pub converged_s: f64,
    /// Copies of the broadcast back at the host (0: no storm).
    pub host_copies: usize,
    /// Seconds from the link cut until the other path forwarded.
    pub healed_s: Option<f64>,
    /// Topology changes seen by all switches.
    pub topology_changes: u64,
    /// BPDUs sent by all switches.
    pub bpdus_sent: u64,
    /// Every port after convergence: switch, port, role, state.
    pub ports: Vec<StpPortJson>,
    /// Every port after the repair.
    pub ports_after_cut: Vec<StpPortJson>,
}

/// A switch port's role and state.
#[derive(Debug, Clone, Serialize)]
pub struct StpPortJson {
    /// The switch.
    pub switch: String,
    /// The port.
    pub port: usize,
    /// root, designated, alternate or backup.
    pub role: &'static str,
    /// blocking, listening, learning or forwarding.
    pub state: &'static str,
}

impl From<&strata_sim::demo::StpDemo> for StpJson {
    fn from(d: &strata_sim::demo::StpDemo) -> Self {
        let rows = |r: &[strata_sim::demo::StpPortRow]| {
            r.iter()
                .map(|p| StpPortJson {
                    switch: p.switch.clone(),
                    port: p.port,
                    role: p.role.name(),
                    state: p.state.name(),
                })
                .collect()
        };
        StpJson {
            protocol: d.protocol.name(),
            root: d.root.to_string(),
            converged_s: d.converged_at.as_nanos() as f64 / 1e9,
            host_copies: d.host_copies,
            healed_s: d.healed_after.map(|h| h.as_secs_f64()),
            topology_changes: d.topology_changes,
            bpdus_sent: d.bpdus_sent,
            ports: rows(&d.ports),
            ports_after_cut: rows(&d.ports_after),
        }
    }
}

impl From<&StormDemo> for StormJson {
    fn from(s: &StormDemo) -> Self {
        StormJson {
            outcome: outcome_name(&s.outcome).into(),
            frames: s.frames,
            host_copies: s.host_copies,
            mac_moves: s.mac_moves,
            spanning_tree: Vec::new(),
        }
    }
}

/// How a run ended, as a plain word for the JSON (not a debug string).
pub fn outcome_name(o: &strata_sim::RunOutcome) -> &'static str {
    use strata_sim::RunOutcome as R;
    match o {
        R::Idle => "idle",
        R::TimeLimit => "time_limit",
        R::FrameBudgetExhausted { .. } => "frame_budget_exhausted",
        R::ConditionMet => "condition_met",
        R::Stalled { .. } => "stalled",
    }
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

impl Summary {
    /// Pretty JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
