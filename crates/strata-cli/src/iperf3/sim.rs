//! `strata sim iperf3`: the iperf3 test on the lab's simulated cable, in
//! virtual time, printed as `strata iperf3` prints a real run (the same
//! interval lines and sender/receiver summary), so a lab run and a run on
//! a TAP read alike.
//!
//! Host A (10.0.0.1) is the client: it opens `parallel` TCP connections to
//! B:5201. A sends (B with `reverse`) until `time` of virtual time has
//! passed or `bytes` were written, then closes; the receiver counts what it
//! reads. Every `interval` a line per stream gives what the receiver got
//! in that interval and, from the sender's connection, its retransmissions
//! and congestion window.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use anyhow::{bail, Context as _};
use strata::stack::{Event, Stack};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{TcpError, TcpEvent, TcpHandle};
use strata_sim::host::Host;
use strata_sim::NodeId;

use super::proto::{self, StreamResult};
use super::report;
use crate::lab::{self, LinkParams, Net, Record, B_IP};

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Test {
    /// Virtual seconds to send (ignored when `bytes` is set).
    pub time: Duration,
    /// Bytes to send in all, instead of a time.
    pub bytes: Option<u64>,
    /// Parallel connections.
    pub parallel: u32,
    /// B sends, A receives.
    pub reverse: bool,
    /// Interval of the reports (zero: none).
    pub interval: Duration,
}

/// The run, for the summary and the pictures.
pub struct Outcome {
    /// The network after the run.
    pub net: Net,
    /// Per stream, the sender's side.
    pub sender: Vec<StreamResult>,
    /// Per stream, the receiver's side.
    pub receiver: Vec<StreamResult>,
}

const PORT: u16 = 5201;

#[derive(Default)]
struct Shared {
    /// Stream index by A's local port (the client numbers the streams).
    by_port: HashMap<u16, usize>,
    /// Stream index by handle, per host (0 = A, 1 = B).
    by_handle: [HashMap<TcpHandle, usize>; 2],
    sent: Vec<u64>,
    received: Vec<u64>,
    last_write: Vec<Option<Instant>>,
    last_byte: Vec<Option<Instant>>,
    eof: Vec<bool>,
    stop: bool,
    limit: Option<u64>,
    error: Option<String>,
}

impl Shared {
    fn total_sent(&self) -> u64 {
        self.sent.iter().sum()
    }
}

/// The stream a connection belongs to; B learns it from A's port.
fn stream_of(sh: &mut Shared, side: usize, stack: &Stack, h: TcpHandle) -> Option<usize> {
    if let Some(&i) = sh.by_handle[side].get(&h) {
        return Some(i);
    }
    let info = stack.tcp().info(h).ok()?;
    let i = *sh.by_port.get(&info.remote.port())?;
    sh.by_handle[side].insert(h, i);
    Some(i)
}

fn app(side: usize, sends: bool, sh: Rc<RefCell<Shared>>) -> strata_sim::host::App {
    Box::new(move |now, stack, ev| {
        let Event::Tcp(ev) = ev else { return };
        let mut s = sh.borrow_mut();
        let h = match *ev {
            TcpEvent::Acceptable { listener } => {
                while let Ok(h) = stack.tcp_accept(listener) {
                    if sends {
                        send_more(&mut s, side, now, stack, h);
                    }
                }
                return;
            }
            TcpEvent::Connected(h) | TcpEvent::Writable(h) if sends => h,
            TcpEvent::Readable(h) | TcpEvent::PeerClosed(h) if !sends => h,
            TcpEvent::Reset(_) | TcpEvent::TimedOut(_) | TcpEvent::Refused(_) if !s.stop => {
                s.error = Some(format!("{ev:?}"));
                return;
            }
            _ => return,
        };
        if sends {
            send_more(&mut s, side, now, stack, h);
        } else {
            let Some(i) = stream_of(&mut s, side, stack, h) else {
                return;
            };
            if s.eof[i] {
                return;
            }
            let mut buf = [0u8; 64 * 1024];
            loop {
                match stack.tcp_recv(h, &mut buf) {
                    Ok(0) => {
                        s.eof[i] = true;
                        let _ = stack.tcp_close(now, h);
                        break;
                    }
                    Ok(n) => {
                        s.received[i] += n as u64;
                        s.last_byte[i] = Some(now);
                    }
                    Err(TcpError::WouldBlock) => break,
                    Err(e) => {
                        s.error = Some(e.to_string());
                        break;
                    }
                }
            }
        }
    })
}

fn send_more(s: &mut Shared, side: usize, now: Instant, stack: &mut Stack, h: TcpHandle) {
    // After the stop the driver has closed the sender's ends.
    if s.stop {
        return;
    }
    let Some(i) = stream_of(s, side, stack, h) else {
        return;
    };
    let block: Vec<u8> = (0..64 * 1024).map(|k| lab::pattern(k as u64)).collect();
    while !s.stop {
        let room = s.limit.map_or(block.len() as u64, |n| {
            n.saturating_sub(s.total_sent()).min(block.len() as u64)
        });
        if room == 0 {
            // The last byte is written: every stream stops here.
            s.stop = true;
            let _ = stack.tcp_close(now, h);
            return;
        }
        match stack.tcp_send(h, &block[..room as usize]) {
            Ok(0) | Err(TcpError::WouldBlock) => return,
            Ok(n) => {
                s.sent[i] += n as u64;
                s.last_write[i] = Some(now);
            }
            Err(e) => {
                s.error = Some(e.to_string());
                return;
            }
        }
    }
}

/// Retransmissions and congestion window of the sender's connections.
fn sender_info(net: &Net, sender: NodeId, handles: &[TcpHandle]) -> Vec<Option<(u64, usize)>> {
    let Some(host) = net.sim.node::<Host>(sender) else {
        return vec![None; handles.len()];
    };
    handles
        .iter()
        .map(|&h| {
            host.stack()
                .tcp()
                .info(h)
                .ok()
                .map(|i| (i.retransmits, i.cwnd))
        })
        .collect()
}

/// Runs the test, printing the interval lines as it goes.
pub fn run(params: &LinkParams, seed: u64, t: &Test, rec: Record) -> anyhow::Result<Outcome> {
    let n = t.parallel as usize;
    let sh = Rc::new(RefCell::new(Shared {
        sent: vec![0; n],
        received: vec![0; n],
        last_byte: vec![None; n],
        last_write: vec![None; n],
        eof: vec![false; n],
        limit: t.bytes,
        ..Shared::default()
    }));
    let a_app = app(0, !t.reverse, sh.clone());
    let b_app = app(1, t.reverse, sh.clone());
    let mut net = lab::build(params, seed, rec, Some(a_app), Some(b_app))?;
    let (a, b) = (net.a, net.b);
    net.sim
        .with_node(b, |h: &mut Host, _| {
            h.stack_mut().tcp_listen(None, PORT, 128)
        })
        .context("host B")?
        .context("listen")?;
    // A opens the streams; each is known by its local port.
    let mut a_handles = Vec::new();
    for i in 0..n {
        let (h, port) = net
            .sim
            .with_node(a, |host: &mut Host, now| {
                let st = host.stack_mut();
                let h = st.tcp_connect(now, std::net::SocketAddrV4::new(B_IP, PORT))?;
                let port = st.tcp().info(h).map(|i| i.local.port())?;
                Ok::<_, TcpError>((h, port))
            })
            .context("host A")?
            .context("connect")?;
        let mut s = sh.borrow_mut();
        s.by_port.insert(port, i);
        s.by_handle[0].insert(h, i);
        a_handles.push(h);
        println!(
            "{} local {} port {port} connected to {B_IP} port {PORT}",
            report::tag(Some(proto::stream_id(i))),
            lab::A_IP
        );
    }
    let (sender, sender_handles): (NodeId, Vec<TcpHandle>) = if t.reverse {
        (b, Vec::new())
    } else {
        (a, a_handles.clone())
    };
    let start = net.sim.now();
    let secs = |at: Instant| at.saturating_duration_since(start).as_nanos() as f64 / 1e9;
    let step = if t.interval.is_zero() {
        Duration::from_millis(100)
    } else {
        t.interval
    };
    // Give up after the asked time plus a generous margin for the close.
    let expected = t.bytes.map_or(t.time, |b| {
        Duration::from_secs_f64(b as f64 * 8.0 / params.rate_bps as f64)
    });
    let limit = start + expected * 50 + Duration::from_secs(600);
    let mut last = (0.0, vec![0u64; n], vec![0u64; n]);
    let mut header = false;
    let mut stopped_at: Option<Instant> = None;
    let mut last_info = vec![(0u64, 0usize); n];
    loop {
        let next = net.sim.now() + step;
        net.sim.run_until(next);
        let now = net.sim.now();
        // B's handles for the reverse direction, once accepted.
        let handles: Vec<TcpHandle> = if t.reverse {
            let s = sh.borrow();
            let mut v: Vec<(usize, TcpHandle)> =
                s.by_handle[1].iter().map(|(h, i)| (*i, *h)).collect();
            v.sort_by_key(|x| x.0);
            v.into_iter().map(|x| x.1).collect()
        } else {
            sender_handles.clone()
        };
        for (k, info) in sender_info(&net, sender, &handles).into_iter().enumerate() {
            if let (Some(info), Some(slot)) = (info, last_info.get_mut(k)) {
                *slot = info;
            }
        }
        let (received, err, all_eof, total) = {
            let s = sh.borrow();
            (
                s.received.clone(),
                s.error.clone(),
                s.eof.iter().all(|e| *e),
                s.total_sent(),
            )
        };
        if let Some(e) = err {
            bail!("iperf3 in the simulator failed: {e}");
        }
        if !t.interval.is_zero() && stopped_at.is_none() {
            if !header {
                println!("[ ID] Interval           Transfer     Bitrate         Retr  Cwnd");
                header = true;
            }
            let t1 = secs(now);
            let mut sum = 0;
            for i in 0..n {
                let db = received[i] - last.1[i];
                sum += db;
                let (retr, cwnd) = last_info[i];
                println!(
                    "{}  {:>3}   {}",
                    report::line(Some(proto::stream_id(i)), last.0, t1, db),
                    retr - last.2[i],
                    report::bytes(cwnd as f64)
                );
                last.2[i] = retr;
            }
            if n > 1 {
                println!("{}", report::line(None, last.0, t1, sum));
            }
            last = (t1, received.clone(), last.2.clone());
        }
        let time_up = t.bytes.is_none() && now >= start + t.time;
        let bytes_done = t.bytes.is_some_and(|b| total >= b);
        if stopped_at.is_none() && (time_up || bytes_done) {
            stopped_at = Some(now);
            sh.borrow_mut().stop = true;
            // Close the sender's ends: no more writes, FIN after the data.
            let side_handles = handles.clone();
            net.sim
                .with_node(sender, |h: &mut Host, now| {
                    for c in &side_handles {
                        let _ = h.stack_mut().tcp_close(now, *c);
                    }
                })
                .context("closing the streams")?;
        }
        if stopped_at.is_some() && all_eof {
            break;
        }
        if now >= limit {
            bail!(
                "iperf3 did not finish within {} of virtual time",
                crate::units::format_duration(limit.saturating_duration_since(start))
            );
        }
    }
    let s = sh.borrow();
    // The sender ran until the stop (-t) or its last write (--bytes).
    let stop = secs(stopped_at.unwrap_or(start));
    let sender: Vec<StreamResult> = (0..n)
        .map(|i| StreamResult {
            id: proto::stream_id(i),
            bytes: s.sent[i],
            retransmits: last_info[i].0 as i64,
            seconds: match t.bytes {
                Some(_) => s.last_write[i].map_or(stop, secs),
                None => stop,
            },
            ..StreamResult::default()
        })
        .collect();
    let receiver: Vec<StreamResult> = (0..n)
        .map(|i| StreamResult {
            id: proto::stream_id(i),
            bytes: s.received[i],
            retransmits: -1,
            seconds: s.last_byte[i].map_or(0.0, secs),
            ..StreamResult::default()
        })
        .collect();
    drop(s);
    Ok(Outcome {
        net,
        sender,
        receiver,
    })
}
