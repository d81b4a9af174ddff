//! Burst transmit gives the frames single polls give: the same bytes, in the
//! same order, whatever the sink's capacity. Two hosts run the same traffic
//! (ARP first, several connections both ways, lost frames and their
//! retransmissions, closes) once drained with `poll_transmit` /
//! `poll_transmit_meta` and once with `poll_transmit_burst` /
//! `poll_transmit_burst_meta` into sinks that take 1, 2, 3 or any number
//! of frames per call; every frame each host sends is recorded and the
//! records must be equal. The sending host's interface also runs with TSO
//! and checksum offload, so super-segments are cut in software
//! (`poll_transmit_burst`) or handed over whole (`..._meta`).

use core::net::{Ipv4Addr, SocketAddrV4};
use strata::link::IfaceId;
use strata::phy::{finish_in_software, DeviceCaps, FrameSink, Offloads, TxMeta};
use strata::stack::{Stack, StackConfig, Transmit};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{TcpConfig, TcpHandle};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::MacAddr;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const CONNS: usize = 3;
const UP: usize = 150_000;
const DOWN: usize = 40_000;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Drain {
    /// `poll_transmit` (or `poll_transmit_meta`) until `None`.
    Single,
    /// Bursts into a sink of this many frames per call (0: unbounded)
    /// until a burst gives nothing.
    Burst(usize),
}

/// A sink that takes at most `cap` frames (0: any number).
struct VecSink {
    cap: usize,
    buf: Vec<u8>,
    out: Vec<(Transmit, Vec<u8>)>,
}

impl FrameSink for VecSink {
    fn buffer(&mut self) -> Option<&mut [u8]> {
        if self.cap != 0 && self.out.len() >= self.cap {
            return None;
        }
        Some(&mut self.buf)
    }
    fn send(&mut self, t: Transmit) {
        self.out.push((t, self.buf[..t.len].to_vec()));
    }
}

fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 11) as u8
}

/// Every frame a host sent, with what the device is to finish.
type Record = Vec<(IfaceId, TxMeta, Vec<u8>)>;

struct Run {
    stacks: [Stack; 2],
    now: Instant,
    records: [Record; 2],
    /// Frames that crossed the wire, counting the lost ones.
    wire: u64,
    /// The largest burst seen.
    longest: usize,
}

impl Run {
    fn new(offload: bool) -> Run {
        let host = |n: u8, ip: Ipv4Addr| {
            let mut s = Stack::new(StackConfig {
                seed: u64::from(n),
                tcp: TcpConfig {
                    rx_buffer_limit: 64 * 1024,
                    tx_buffer_limit: 64 * 1024,
                    ..TcpConfig::default()
                },
                ..StackConfig::default()
            });
            let i = s.add_interface(MacAddr([2, 0, 0, 0, 0, n]), 1500);
            s.add_address(i, Ipv4Cidr::new(ip, 24).unwrap()).unwrap();
            s
        };
        let mut a = host(1, A);
        if offload {
            a.set_device_caps(
                IfaceId(0),
                DeviceCaps {
                    mtu: 1500,
                    offloads: Offloads {
                        tso_max: Some(16 * 1024),
                        tx_checksum: true,
                        rx_checksum: false,
                    },
                },
            );
        }
        Run {
            stacks: [a, host(2, B)],
            now: Instant::from_secs(1),
            records: [Vec::new(), Vec::new()],
            wire: 0,
            longest: 0,
        }
    }

    /// Everything host `h` has to send, by `drain`, with `meta` frames.
    fn drain(&mut self, h: usize, drain: Drain, meta: bool) -> Vec<(TxMeta, Vec<u8>)> {
        let mut got: Vec<(Transmit, Vec<u8>)> = Vec::new();
        let s = &mut self.stacks[h];
        match drain {
            Drain::Single => {
                let mut buf = vec![0u8; 70_000];
                loop {
                    let t = if meta {
                        s.poll_transmit_meta(self.now, &mut buf)
                    } else {
                        s.poll_transmit(self.now, &mut buf)
                            .map(|(iface, len)| Transmit {
                                iface,
                                len,
                                meta: TxMeta::default(),
                            })
                    };
                    let Some(t) = t else { break };
                    got.push((t, buf[..t.len].to_vec()));
                }
            }
            Drain::Burst(cap) => loop {
                let mut sink = VecSink {
                    cap,
                    buf: vec![0u8; 70_000],
                    out: Vec::new(),
                };
                let n = if meta {
                    s.poll_transmit_burst_meta(self.now, &mut sink)
                } else {
                    s.poll_transmit_burst(self.now, &mut sink)
                };
                assert_eq!(n, sink.out.len(), "the count is the frames sent");
                if cap != 0 {
                    assert!(n <= cap, "the sink's capacity is kept");
                }
                self.longest = self.longest.max(n);
                if n == 0 {
                    break;
                }
                got.extend(sink.out);
            },
        }
        let mut out = Vec::new();
        for (t, f) in got {
            self.records[h].push((t.iface, t.meta, f.clone()));
            out.push((t.meta, f));
        }
        out
    }

    /// Hands the frames to the other host; every 23rd frame on the wire
    /// is lost.
    fn deliver(&mut self, to: usize, frames: Vec<(TxMeta, Vec<u8>)>) {
        for (meta, mut f) in frames {
            let mut pieces = Vec::new();
            let mut scratch = Vec::new();
            finish_in_software(&mut f, &meta, &mut scratch, |p| pieces.push(p.to_vec())).unwrap();
            for p in pieces {
                self.wire += 1;
                if self.wire.is_multiple_of(23) {
                    continue;
                }
                self.stacks[to].receive(self.now, IfaceId(0), &p);
            }
        }
    }

    fn round(&mut self, drain: Drain, meta: bool) {
        for h in 0..2 {
            if self.stacks[h].poll_timeout().is_some_and(|t| t <= self.now) {
                self.stacks[h].handle_timeout(self.now);
            }
            while self.stacks[h].poll_event().is_some() {}
            let out = self.drain(h, drain, meta);
            self.deliver(1 - h, out);
        }
        self.now += Duration::from_millis(1);
    }
}

/// Runs the traffic; returns what each host sent and the longest burst.
fn traffic(drain: Drain, meta: bool, offload: bool) -> ([Record; 2], usize) {
    let mut r = Run::new(offload);
    let l = r.stacks[1].tcp_listen(None, 80, 16).unwrap();
    let clients: Vec<TcpHandle> = (0..CONNS)
        .map(|_| {
            r.stacks[0]
                .tcp_connect(r.now, SocketAddrV4::new(B, 80))
                .unwrap()
        })
        .collect();
    let mut servers: Vec<TcpHandle> = Vec::new();
    let mut sent = [[0usize; 2]; CONNS];
    let mut got = vec![[0usize; 2]; CONNS];
    let mut closed = [[false; 2]; CONNS];
    let mut buf = vec![0u8; 32 * 1024];
    for _ in 0..200_000 {
        r.round(drain, meta);
        while let Ok(s) = r.stacks[1].tcp_accept(l) {
            servers.push(s);
        }
        for k in 0..servers.len() {
            let ends = [(0, clients[k], UP), (1, servers[k], DOWN)];
            for (h, c, total) in ends {
                while sent[k][h] < total {
                    let chunk: Vec<u8> = (sent[k][h]..total.min(sent[k][h] + 5000))
                        .map(pattern)
                        .collect();
                    match r.stacks[h].tcp_send(c, &chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => sent[k][h] += n,
                    }
                }
                if sent[k][h] == total && !closed[k][h] {
                    closed[k][h] = true;
                    r.stacks[h].tcp_shutdown(r.now, c).unwrap();
                }
                // The other end reads.
                let (o, oc) = if h == 0 {
                    (1, servers[k])
                } else {
                    (0, clients[k])
                };
                while let Ok(n) = r.stacks[o].tcp_recv(oc, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    for (i, &x) in buf[..n].iter().enumerate() {
                        assert_eq!(x, pattern(got[k][h] + i), "byte {} of {k}", got[k][h] + i);
                    }
                    got[k][h] += n;
                }
            }
        }
        let done = servers.len() == CONNS && got.iter().all(|g| g[0] == UP && g[1] == DOWN);
        if done {
            // The FINs and their ACKs.
            for _ in 0..2000 {
                r.round(drain, meta);
            }
            let records = std::mem::take(&mut r.records);
            return (records, r.longest);
        }
    }
    panic!("{drain:?} (meta {meta}): the transfers did not finish: {got:?}");
}

fn same(drain: Drain, meta: bool, offload: bool, base: &[Record; 2]) {
    let (rec, longest) = traffic(drain, meta, offload);
    for h in 0..2 {
        assert_eq!(
            rec[h].len(),
            base[h].len(),
            "{drain:?} meta {meta} offload {offload}: host {h} frame count"
        );
        for (i, (x, y)) in rec[h].iter().zip(&base[h]).enumerate() {
            assert!(
                x == y,
                "{drain:?} meta {meta} offload {offload}: host {h} frame {i} differs"
            );
        }
    }
    if drain == Drain::Burst(0) {
        assert!(longest > 3, "bursts of several frames happened ({longest})");
    }
}

#[test]
fn bursts_send_what_single_polls_send() {
    for offload in [false, true] {
        for meta in [false, true] {
            let (base, _) = traffic(Drain::Single, meta, offload);
            assert!(
                base[0].len() > 50 && base[1].len() > 50,
                "{} {}",
                base[0].len(),
                base[1].len()
            );
            if offload && meta {
                assert!(
                    base[0].iter().any(|(_, m, _)| m.gso.is_some()),
                    "super-segments went out whole"
                );
            }
            for drain in [
                Drain::Burst(0),
                Drain::Burst(1),
                Drain::Burst(2),
                Drain::Burst(3),
            ] {
                same(drain, meta, offload, &base);
            }
        }
    }
}
