//! `strata.Lab`: a simulated network inside Python.
//!
//! Each host is a strata-io runtime (its own stack, its own sockets) on one
//! end of an in-process link ([`PipeDevice`]). The other ends are nodes of
//! a strata-sim simulator, joined by a learning switch, that a thread runs
//! in real time: its virtual clock follows the wall clock, so blocking
//! socket calls in Python threads work as on a real network, while every
//! frame crosses strata-sim's links with their faults (rate, delay, loss,
//! reordering, duplication, corruption, MTU).
//!
//! Each host's uplink (host → switch) carries the faults, so a frame
//! between two hosts meets them once per direction; latency is split over
//! the up- and downlink so that a round trip takes `rtt`.

use std::fs::File;
use std::io::BufWriter;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, Instant as WallInstant};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use strata::stack::StackConfig;
use strata::time::{Duration, Instant};
use strata::wire::ip::Ipv4Cidr;
use strata_io::runtime::{Runtime, RuntimeConfig};
use strata_io::{Device, PipeDevice};
use strata_sim::{LinkConfig, LinkStats, Node, NodeId, PcapWriter, Sim, Switch};

use crate::{io_err, Net};

/// Hosts a lab holds at most (the switch's ports).
const MAX_HOSTS: usize = 32;

type Capture = Arc<Mutex<Option<PcapWriter<BufWriter<File>>>>>;

/// The simulator's side of a host's link: frames from the host's runtime
/// go into the simulated network, frames the network delivers go back.
struct PipeNode {
    dev: PipeDevice,
    buf: Vec<u8>,
    name: String,
    capture: Capture,
}

impl Node for PipeNode {
    fn receive(&mut self, now: Instant, _port: usize, frame: &[u8]) {
        if let Some(w) = self
            .capture
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            let _ = w.write_frame(now, frame);
        }
        let _ = self.dev.send(frame);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<(usize, Vec<u8>)> {
        match self.dev.recv(&mut self.buf) {
            Ok(Some(n)) => Some((0, self.buf[..n].to_vec())),
            _ => None,
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
}

enum Cmd {
    AddHost(PipeDevice, String, mpsc::Sender<Result<(), String>>),
    Stats(mpsc::Sender<LinkStats>),
}

/// The simulator thread: runs the network in step with the wall clock.
fn drive(rx: mpsc::Receiver<Cmd>, seed: u64, up: LinkConfig, down: LinkConfig, capture: Capture) {
    let mut sim = Sim::new(seed);
    let switch = sim.add_node(Box::new(Switch::new(MAX_HOSTS)));
    let mut hosts: Vec<(NodeId, RawFd)> = Vec::new();
    let epoch = WallInstant::now();
    let now = || Instant::from_nanos(epoch.elapsed().as_nanos() as u64);
    loop {
        loop {
            match rx.try_recv() {
                Ok(Cmd::AddHost(dev, name, reply)) => {
                    let fd = dev.as_fd().as_raw_fd();
                    let node = sim.add_node(Box::new(PipeNode {
                        dev,
                        buf: vec![0u8; 65536],
                        name,
                        capture: capture.clone(),
                    }));
                    let port = hosts.len();
                    let r = sim
                        .connect_asymmetric((node, 0), (switch, port), up.clone(), down.clone())
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    if r.is_ok() {
                        hosts.push((node, fd));
                    }
                    let _ = reply.send(r);
                }
                Ok(Cmd::Stats(reply)) => {
                    let _ = reply.send(sim.total_stats());
                }
                Err(mpsc::TryRecvError::Empty) => break,
                // The Lab is gone: stop.
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        }
        sim.run_until(now());
        for (id, _) in &hosts {
            sim.kick(*id);
        }
        let wait = match sim.next_event_time() {
            Some(t) => {
                StdDuration::from_nanos(t.saturating_duration_since(now()).as_nanos() as u64)
            }
            None => StdDuration::from_millis(5),
        }
        .min(StdDuration::from_millis(5));
        if wait.is_zero() {
            continue;
        }
        // SAFETY: each descriptor belongs to a PipeNode owned by `sim`,
        // which lives until this function returns.
        let fds: Vec<BorrowedFd<'_>> = hosts
            .iter()
            .map(|(_, fd)| unsafe { BorrowedFd::borrow_raw(*fd) })
            .collect();
        let _ = strata_io::sys::poll_readable(&fds, Some(wait));
    }
}

/// A simulated network: `Lab(rate=0, rtt=0.0, loss=0.0, reorder=0.0,
/// duplicate=0.0, corrupt=0.0, mtu=1500, seed=1)`. `rate` is in bits per
/// second (0: unlimited), `rtt` in seconds, the fault options are
/// probabilities per frame and direction.
#[pyclass(frozen, module = "strata._strata")]
pub struct Lab {
    inner: Mutex<LabInner>,
    capture: Capture,
    mtu: usize,
    prefix: u8,
    seed: u64,
}

struct LabInner {
    cmd: Option<mpsc::Sender<Cmd>>,
    thread: Option<JoinHandle<()>>,
    runtimes: Vec<Runtime>,
    addrs: Vec<String>,
}

impl Lab {
    fn inner(&self) -> std::sync::MutexGuard<'_, LabInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, cmd: Cmd) -> PyResult<()> {
        self.inner()
            .cmd
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("the lab is closed"))?
            .send(cmd)
            .map_err(|_| PyRuntimeError::new_err("the lab's simulator stopped"))
    }
}

fn prob(name: &str, p: f64) -> PyResult<f64> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(PyValueError::new_err(format!(
            "{name} must be a probability, got {p}"
        )))
    }
}

#[pymethods]
impl Lab {
    #[new]
    #[pyo3(signature = (rate=0, rtt=0.0, loss=0.0, reorder=0.0, duplicate=0.0, corrupt=0.0, mtu=1500, seed=1, prefix=24))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        rate: u64,
        rtt: f64,
        loss: f64,
        reorder: f64,
        duplicate: f64,
        corrupt: f64,
        mtu: usize,
        seed: u64,
        prefix: u8,
    ) -> PyResult<Lab> {
        if !(0.0..=60.0).contains(&rtt) {
            return Err(PyValueError::new_err(
                "rtt must be between 0 and 60 seconds",
            ));
        }
        if !(576..=9000).contains(&mtu) {
            return Err(PyValueError::new_err("mtu must be between 576 and 9000"));
        }
        let quarter = Duration::from_nanos((rtt * 1e9 / 4.0) as u64);
        let base = LinkConfig::ideal()
            .with_latency(quarter)
            .with_bandwidth(rate)
            .with_max_frame(mtu + 14);
        let up = base
            .clone()
            .with_loss(prob("loss", loss)?)
            .with_duplicate(prob("duplicate", duplicate)?)
            .with_reorder(
                prob("reorder", reorder)?,
                Duration::from_nanos(quarter.as_nanos() as u64 * 2).max(Duration::from_millis(2)),
            )
            .with_corrupt(prob("corrupt", corrupt)?);
        let capture: Capture = Arc::new(Mutex::new(None));
        let (tx, rx) = mpsc::channel();
        let cap = capture.clone();
        let thread = std::thread::Builder::new()
            .name("strata-lab".into())
            .spawn(move || drive(rx, seed, up, base, cap))
            .map_err(io_err)?;
        Ok(Lab {
            inner: Mutex::new(LabInner {
                cmd: Some(tx),
                thread: Some(thread),
                runtimes: Vec::new(),
                addrs: Vec::new(),
            }),
            capture,
            mtu,
            prefix,
            seed,
        })
    }

    /// Adds a host with this IPv4 address (on the lab's /24, or the prefix
    /// given to `Lab`); returns its network, on which sockets are made.
    fn host(&self, addr: &str) -> PyResult<Net> {
        let ip: std::net::Ipv4Addr = addr
            .parse()
            .map_err(|_| PyValueError::new_err(format!("not an IPv4 address: {addr:?}")))?;
        let cidr = Ipv4Cidr::new(ip, self.prefix)
            .ok_or_else(|| PyValueError::new_err("bad prefix length"))?;
        if self.inner().addrs.len() >= MAX_HOSTS {
            return Err(PyValueError::new_err(format!(
                "a lab holds at most {MAX_HOSTS} hosts"
            )));
        }
        if self.inner().addrs.iter().any(|a| a == addr) {
            return Err(PyValueError::new_err(format!(
                "{addr} is already a host of this lab"
            )));
        }
        let (host_end, sim_end) = PipeDevice::pair().map_err(io_err)?;
        let (reply, answer) = mpsc::channel();
        self.send(Cmd::AddHost(sim_end, addr.to_string(), reply))?;
        answer
            .recv()
            .map_err(|_| PyRuntimeError::new_err("the lab's simulator stopped"))?
            .map_err(PyRuntimeError::new_err)?;
        // The Lab hands out each address once, on its own simulated
        // network: known free, so no RFC 5227 probing.
        let mut config = RuntimeConfig::new(cidr).address_known_unique();
        config.mtu = self.mtu;
        config.stack = StackConfig {
            seed: self.seed ^ u64::from(u32::from(ip)).wrapping_mul(0x9e37_79b9),
            ..StackConfig::default()
        };
        config.stack.tcp.mtu = self.mtu.min(usize::from(u16::MAX)) as u16;
        let rt = Runtime::new(host_end, config).map_err(io_err)?;
        let net = Net {
            rt: rt.handle(),
            kind: "lab".to_string(),
            addr: cidr,
        };
        let mut g = self.inner();
        g.runtimes.push(rt);
        g.addrs.push(addr.to_string());
        Ok(net)
    }

    /// The hosts' addresses, in the order they were added.
    #[getter]
    fn hosts(&self) -> Vec<String> {
        self.inner().addrs.clone()
    }

    /// Captures every frame the network delivers into a pcap file (from
    /// now on; call it before the traffic to capture).
    fn pcap(&self, path: &str) -> PyResult<()> {
        let f = File::create(path).map_err(io_err)?;
        let w = PcapWriter::new(BufWriter::new(f)).map_err(io_err)?;
        let mut g = self.capture.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut old) = g.take() {
            let _ = old.flush();
        }
        *g = Some(w);
        Ok(())
    }

    /// Writes buffered capture records to the file.
    fn flush(&self) -> PyResult<()> {
        if let Some(w) = self
            .capture
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            w.flush().map_err(io_err)?;
        }
        Ok(())
    }

    /// The network's counters (all links together), as a dict.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (reply, answer) = mpsc::channel();
        self.send(Cmd::Stats(reply))?;
        let s = py
            .allow_threads(move || answer.recv_timeout(StdDuration::from_secs(5)))
            .map_err(|_| PyRuntimeError::new_err("the lab's simulator did not answer"))?;
        let d = PyDict::new(py);
        d.set_item("frames_sent", s.frames_sent)?;
        d.set_item("frames_delivered", s.frames_delivered)?;
        d.set_item("dropped_loss", s.dropped_loss + s.dropped_burst)?;
        d.set_item("dropped_queue", s.dropped_queue)?;
        d.set_item("dropped_oversize", s.dropped_oversize)?;
        d.set_item("duplicated", s.duplicated)?;
        d.set_item("reordered", s.reordered)?;
        d.set_item("corrupted", s.corrupted)?;
        Ok(d)
    }

    /// Stops the network: hosts' live connections are reset, their sockets
    /// fail from now on, the capture is flushed. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let (runtimes, thread) = {
            let mut g = self.inner();
            g.cmd = None;
            (std::mem::take(&mut g.runtimes), g.thread.take())
        };
        py.allow_threads(|| {
            drop(runtimes);
            if let Some(t) = thread {
                let _ = t.join();
            }
        });
        self.flush()?;
        *self.capture.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let mut g = self.inner();
        g.cmd = None;
        g.runtimes.clear();
        if let Some(t) = g.thread.take() {
            drop(g);
            let _ = t.join();
        }
    }
}
