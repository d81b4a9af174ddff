//! One run for the web view: the lab's own scenario functions (the ones
//! `strata sim bulk|http|echo|ping|udp` calls), and what the CLI already
//! makes of them — the ladder, the capture, the congestion samples, the
//! `--json` summary, the link counters — turned into the page's data.

use serde::Serialize;
use strata::time::{Duration, Instant};
use strata_sim::host::{self, ScenarioOptions};
use strata_sim::Sim;

use super::query::{Query, Scenario};
use crate::demo::Closer;
use crate::json::{self, LinkStatsJson, Summary};
use crate::lab::{self, Capture, Record};
use crate::ladder::{Entry, Ladder, Side};
use crate::plot::Sample;

/// Most ladder rows sent to the page; a longer run says how many it left out.
pub const MAX_ROWS: usize = 6000;

/// A finished run: the page's JSON and what the other endpoints serve.
#[derive(Debug)]
pub struct Run {
    /// The page's data, serialised.
    pub json: String,
    /// The frames, numbered as on the ladder (frame 1 is `frames[0]`).
    pub frames: Vec<Vec<u8>>,
    /// The capture of host A's interface.
    pub pcap: Vec<u8>,
    /// The ladder as `strata sim --svg` draws it.
    pub ladder_svg: String,
    /// `strata sim bulk --svg`'s pictures (time-sequence and cwnd/RTT),
    /// for the TCP scenarios.
    pub plots_svg: Option<(String, String)>,
}

/// One row of the ladder.
#[derive(Debug, Serialize)]
struct RowJson {
    /// `frame`, `state`, `note` or `lesson`.
    kind: &'static str,
    /// Virtual time, nanoseconds.
    t_ns: u64,
    /// The time as the CLI prints it (`0.020150s`).
    t: String,
    /// `a` or `b` (the sender of a frame, the host of a state change).
    side: Option<&'static str>,
    /// Frame number (1-based, as `strata demo --layers N` counts).
    n: Option<usize>,
    /// The arrow's label (frames) or the text.
    label: String,
    /// The layers under the arrow, as the text ladder prints them.
    detail: Vec<String>,
    /// The wire dropped this frame.
    lost: bool,
    /// The frame repeats sequence space already sent.
    retransmission: bool,
    /// Frame length in bytes.
    len: Option<usize>,
}

impl RowJson {
    /// A row of text (a state change, note or lesson): no frame under it.
    fn text(kind: &'static str, t: Instant, side: Option<&'static str>, label: String) -> Self {
        RowJson {
            kind,
            t_ns: ns(t),
            t: t.to_string(),
            side,
            n: None,
            label,
            detail: Vec::new(),
            lost: false,
            retransmission: false,
            len: None,
        }
    }
}

/// One state change of a host's TCP connection.
#[derive(Debug, Serialize)]
struct StateJson {
    side: &'static str,
    t_ns: u64,
    from: String,
    to: String,
}

/// One congestion sample of A's connection.
#[derive(Debug, Serialize)]
struct SampleJson {
    t_ns: u64,
    cwnd: u64,
    ssthresh: Option<u64>,
    srtt_ms: Option<f64>,
    rto_ms: Option<f64>,
    flight: Option<u64>,
}

/// A node of the topology.
#[derive(Debug, Serialize)]
struct NodeJson {
    id: usize,
    name: String,
}

/// A one-way link and its counters.
#[derive(Debug, Serialize)]
struct LinkJsonView {
    id: usize,
    from: usize,
    from_port: usize,
    to: usize,
    to_port: usize,
    latency_ms: f64,
    rate_bps: u64,
    loss: f64,
    stats: LinkStatsJson,
    bytes_sent: u64,
    max_queue_frames: u64,
}

/// The topology with per-link counters.
#[derive(Debug, Serialize)]
struct TopologyJson {
    nodes: Vec<NodeJson>,
    links: Vec<LinkJsonView>,
}

/// A host drawn as a rail.
#[derive(Debug, Serialize)]
struct PartyJson {
    name: String,
    ip: String,
    mac: String,
}

/// Everything the page shows about a run.
#[derive(Debug, Serialize)]
struct RunJson<'a> {
    /// The canonical query: `/?QUERY` reproduces this run.
    query: String,
    /// The same run on the command line.
    command: String,
    scenario: &'static str,
    seed: u64,
    parties: [PartyJson; 2],
    rows: Vec<RowJson>,
    /// Ladder rows left out after [`MAX_ROWS`].
    rows_omitted: usize,
    frames: usize,
    states: Vec<StateJson>,
    samples: Vec<SampleJson>,
    topology: TopologyJson,
    /// The text report, as `strata sim` prints it.
    report: Vec<String>,
    /// The summary `strata sim --json` prints.
    summary: &'a Summary,
    /// Virtual time at the end of the run, nanoseconds.
    end_ns: u64,
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Left => "a",
        Side::Right => "b",
    }
}

fn topology(sim: &Sim) -> TopologyJson {
    // The nodes that links join (every node of a lab run is on a link),
    // in the order they were added.
    let mut ids: Vec<strata_sim::NodeId> = sim
        .link_ids()
        .filter_map(|l| sim.link_ends(l))
        .flat_map(|((a, _), (b, _))| [a, b])
        .collect();
    ids.sort();
    ids.dedup();
    let nodes = ids
        .iter()
        .map(|&id| NodeJson {
            id: id.index(),
            name: sim.node_name(id).unwrap_or("?").to_string(),
        })
        .collect();
    let links = sim
        .link_ids()
        .filter_map(|l| {
            let ((from, fp), (to, tp)) = sim.link_ends(l)?;
            let cfg = sim.link_config(l)?;
            let stats = sim.link_stats(l)?;
            Some(LinkJsonView {
                id: l.index(),
                from: from.index(),
                from_port: fp,
                to: to.index(),
                to_port: tp,
                latency_ms: json::ms(cfg.latency),
                rate_bps: cfg.bandwidth_bps,
                loss: cfg.loss,
                bytes_sent: stats.bytes_sent,
                max_queue_frames: stats.max_queue_frames,
                stats: stats.into(),
            })
        })
        .collect();
    TopologyJson { nodes, links }
}

fn ns(t: Instant) -> u64 {
    t.as_nanos()
}

/// The ladder's rows as the page draws them, and its frames in order.
fn rows_of(ladder: &Ladder) -> (Vec<RowJson>, usize, Vec<Vec<u8>>, Vec<StateJson>) {
    let mut rows = Vec::new();
    let mut frames = Vec::new();
    let mut states = Vec::new();
    let mut omitted = 0;
    for row in ladder.rows() {
        let t = match row.entry {
            Entry::Frame { t, .. }
            | Entry::State { t, .. }
            | Entry::Note { t, .. }
            | Entry::Lesson { t, .. } => *t,
        };
        let r = match row.entry {
            Entry::Frame {
                from, frame, lost, ..
            } => {
                frames.push(frame.clone());
                let d = row.decoded.as_ref();
                RowJson {
                    kind: "frame",
                    t_ns: ns(t),
                    t: t.to_string(),
                    side: Some(side_name(*from)),
                    n: Some(frames.len()),
                    label: d.map(|d| d.headline()).unwrap_or_default(),
                    detail: d.map(|d| d.layer_lines(120)).unwrap_or_default(),
                    lost: *lost,
                    retransmission: row.retransmission,
                    len: Some(frame.len()),
                }
            }
            Entry::State { side, from, to, .. } => {
                states.push(StateJson {
                    side: side_name(*side),
                    t_ns: ns(t),
                    from: from.clone(),
                    to: to.clone(),
                });
                RowJson::text("state", t, Some(side_name(*side)), format!("{from} → {to}"))
            }
            Entry::Note { side, text, .. } => {
                RowJson::text("note", t, side.map(side_name), text.clone())
            }
            Entry::Lesson { text, .. } => RowJson::text("lesson", t, None, text.clone()),
        };
        if rows.len() < MAX_ROWS {
            rows.push(r);
        } else {
            omitted += 1;
        }
    }
    (rows, omitted, frames, states)
}

fn sample_json(s: &Sample) -> SampleJson {
    SampleJson {
        t_ns: ns(s.t),
        cwnd: s.cwnd,
        ssthresh: s.ssthresh,
        srtt_ms: s.srtt.map(json::ms),
        rto_ms: s.rto.map(json::ms),
        flight: s.flight,
    }
}

/// Runs `q` as `strata sim` would and gathers what the page shows.
pub fn execute(q: &Query) -> anyhow::Result<Run> {
    if q.scenario.is_tcp() {
        tcp(q)
    } else {
        lan(q)
    }
}

/// bulk, http, echo: the lab's cable A ⇄ B.
fn tcp(q: &Query) -> anyhow::Result<Run> {
    let params = q.link();
    // Every frame offered to the cable (lost ones too) for the ladder, and
    // the capture of A's interface for the pcap and the plots.
    let rec = Record {
        pcap: true,
        offers: true,
    };
    let run = match q.scenario {
        Scenario::Bulk => lab::bulk(&params, q.seed, q.bytes.unwrap_or(64 * 1024), rec)?,
        Scenario::Http => lab::http(
            &params,
            q.seed,
            q.bytes.unwrap_or(1024),
            rec,
            q.closer.unwrap_or(Closer::Server),
        )?,
        _ => lab::echo(
            &params,
            q.seed,
            q.count.unwrap_or(4),
            rec,
            q.closer.unwrap_or(Closer::Client),
        )?,
    };
    let (pcap, captured) = lab::captured(&run.net)?;
    let ladder = lab::ladder_of(&run.net);
    let summary = lab::summary(q.scenario.name(), q.seed, &params, &run, &[]);
    let plots = {
        let trace = crate::plot::SeqTrace::from_frames(&captured, None);
        let title = format!("Time-sequence graph — {}", params.describe());
        let tseq = crate::plot::time_sequence_svg(&trace, &title);
        let title = format!("Congestion window and RTT — {}", params.describe());
        let cwnd = crate::plot::cwnd_rtt_svg(&run.samples, &title);
        (tseq, cwnd)
    };
    let mut report = run.report.clone();
    if !run.tcp.verified {
        report.push(format!(
            "{}: the data did not arrive intact",
            q.scenario.name()
        ));
    }
    let samples: Vec<SampleJson> = run.samples.iter().map(sample_json).collect();
    finish(
        q,
        &ladder,
        &run.net.sim,
        samples,
        report,
        &summary,
        pcap,
        Some(plots),
    )
}

/// ping, udp: two hosts on a switch, as `strata sim ping|udp` builds them.
fn lan(q: &Query) -> anyhow::Result<Run> {
    let capture = Capture::default();
    let defaults = ScenarioOptions::default();
    let opts = ScenarioOptions {
        seed: q.seed,
        loss: q.loss,
        // The LAN path has two links each way: rtt is four link latencies
        // (as `strata sim` reads --rtt).
        latency: q.rtt.map_or(Duration::from_micros(100), |r| r / 4),
        bandwidth_bps: q.rate.unwrap_or(defaults.bandwidth_bps),
        count: q.count.unwrap_or(match q.scenario {
            Scenario::Udp => 20,
            _ => 4,
        }),
        pcap: Some(Box::new(capture.clone())),
    };
    let mut summary = lab::lan_summary(q.scenario.name(), q.seed, &opts);
    let (report, sim) = match q.scenario {
        Scenario::Ping => {
            let (r, sim) = host::ping(opts)?;
            summary.ping = Some((&r).into());
            (r.to_string(), sim)
        }
        _ => {
            let (r, sim) = host::udp_echo(opts)?;
            summary.udp = Some((&r).into());
            (r.to_string(), sim)
        }
    };
    summary.virtual_time_s = sim.now().as_nanos() as f64 / 1e9;
    summary.links = sim.total_stats().into();
    let pcap = capture.bytes();
    let ladder = lab::ladder_of_capture(&pcap)?;
    let report = report.lines().map(str::to_string).collect();
    finish(q, &ladder, &sim, Vec::new(), report, &summary, pcap, None)
}

#[allow(clippy::too_many_arguments)]
fn finish(
    q: &Query,
    ladder: &Ladder,
    sim: &Sim,
    samples: Vec<SampleJson>,
    report: Vec<String>,
    summary: &Summary,
    pcap: Vec<u8>,
    plots_svg: Option<(String, String)>,
) -> anyhow::Result<Run> {
    let (rows, rows_omitted, frames, states) = rows_of(ladder);
    let party = |i: usize| PartyJson {
        name: ladder.parties[i].name.clone(),
        ip: ladder.parties[i].ip.to_string(),
        mac: ladder.parties[i].mac.to_string(),
    };
    let data = RunJson {
        query: q.canonical(),
        command: q.command_line(),
        scenario: q.scenario.name(),
        seed: q.seed,
        parties: [party(0), party(1)],
        rows,
        rows_omitted,
        frames: frames.len(),
        states,
        samples,
        topology: topology(sim),
        report,
        summary,
        end_ns: ns(sim.now()),
    };
    Ok(Run {
        json: serde_json::to_string(&data)?,
        frames,
        pcap,
        ladder_svg: ladder.render_svg(),
        plots_svg,
    })
}

/// Frame `n` (1-based) laid open: its layers with their fields and bytes,
/// and the whole frame in hex with each byte's layer.
pub fn frame_json(run: &Run, n: usize) -> Option<String> {
    #[derive(Serialize)]
    struct FrameJson {
        n: usize,
        len: usize,
        layers: Vec<crate::layers::LayerView>,
        hex: String,
        owner: Vec<&'static str>,
        text: String,
    }
    let frame = run.frames.get(n.checked_sub(1)?)?;
    let (layers, owner) = crate::layers::views(frame);
    let hex = frame.iter().map(|b| format!("{b:02x}")).collect();
    let f = FrameJson {
        n,
        len: frame.len(),
        layers,
        hex,
        owner,
        text: crate::layers::render(n, frame, false),
    };
    serde_json::to_string(&f).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_run_has_ladder_states_samples_and_counters() {
        let q = Query::parse("scenario=echo&seed=7&count=2").unwrap();
        let run = execute(&q).unwrap();
        let v: serde_json::Value = serde_json::from_str(&run.json).unwrap();
        assert_eq!(v["query"], "scenario=echo&seed=7&count=2");
        let rows = v["rows"].as_array().unwrap();
        let frames = rows.iter().filter(|r| r["kind"] == "frame").count();
        assert_eq!(frames, run.frames.len());
        assert!(frames >= 10, "ARP, handshake, 2 lines, close: {frames}");
        let first = rows.iter().find(|r| r["kind"] == "frame").unwrap();
        assert!(first["label"].as_str().unwrap().contains("ARP"), "{first}");
        // Both hosts go through ESTABLISHED.
        let states = v["states"].as_array().unwrap();
        for side in ["a", "b"] {
            assert!(states
                .iter()
                .any(|s| s["side"] == side && s["to"] == "ESTABLISHED"));
        }
        let s = &v["samples"].as_array().unwrap()[1..];
        assert!(s.iter().any(|s| s["rto_ms"].as_f64().unwrap() > 0.0));
        assert!(s.iter().any(|s| s["cwnd"].as_u64().unwrap() > 0));
        let links = v["topology"]["links"].as_array().unwrap();
        assert_eq!(links.len(), 2);
        let sent: u64 = links
            .iter()
            .map(|l| l["stats"]["frames_sent"].as_u64().unwrap())
            .sum();
        assert_eq!(
            sent as usize, frames,
            "every offered frame is on the ladder"
        );
        assert_eq!(v["summary"]["echo"]["lines_echoed"], 2);
        // A frame laid open: the SYN.
        let syn = rows
            .iter()
            .find(|r| r["label"].as_str().unwrap().starts_with("[SYN]"))
            .unwrap()["n"]
            .as_u64()
            .unwrap() as usize;
        let f: serde_json::Value = serde_json::from_str(&frame_json(&run, syn).unwrap()).unwrap();
        let titles: Vec<&str> = f["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["title"].as_str().unwrap())
            .collect();
        assert!(titles[0].starts_with("Ethernet II header"), "{titles:?}");
        assert!(
            titles.iter().any(|t| t.starts_with("TCP header")),
            "{titles:?}"
        );
        assert_eq!(
            f["owner"].as_array().unwrap().len(),
            f["len"].as_u64().unwrap() as usize
        );
        assert!(frame_json(&run, 0).is_none());
        assert!(frame_json(&run, frames + 1).is_none());
    }

    #[test]
    fn same_query_same_run() {
        let q = Query::parse("scenario=http&seed=3&loss=10%25&bytes=4k").unwrap();
        let a = execute(&q).unwrap();
        let b = execute(&Query::parse(&q.canonical()).unwrap()).unwrap();
        assert_eq!(a.json, b.json);
        assert_eq!(a.pcap, b.pcap);
        let c =
            execute(&Query::parse("scenario=http&seed=4&loss=10%25&bytes=4k").unwrap()).unwrap();
        assert_ne!(a.pcap, c.pcap, "another seed, another run");
    }

    #[test]
    fn ping_run_crosses_the_switch() {
        let run = execute(&Query::parse("scenario=ping&count=2").unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&run.json).unwrap();
        assert!(v["topology"]["nodes"].as_array().unwrap().len() >= 3);
        assert!(v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["label"].as_str().unwrap().contains("Echo reply")));
        assert!(v["samples"].as_array().unwrap().is_empty());
        assert!(run.plots_svg.is_none());
    }
}
