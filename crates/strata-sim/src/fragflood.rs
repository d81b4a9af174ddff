//! The fragment-flood scenario behind `strata sim frag-flood` (issue 23):
//! a victim host on 10.0.0.1 receives IPv4 fragments from many spoofed
//! sources in virtual time, in the shapes that hurt reassembly —
//!
//! - **empty last fragments** (offset 8, MF = 0, no data): each starts a
//!   buffer that can never complete;
//! - **overlapping** pairs (a fragment, then one that overlaps it with other
//!   bytes): the datagram is discarded and its RFC 5722 marker stays;
//! - **never completed**: one middle fragment of 8–64 bytes, anywhere in
//!   the 64 KiB window;
//! - **oversized**: a first fragment, then one ending past 65 535 bytes
//!   (ping of death);
//!
//! while a real peer keeps sending a fragmented datagram now and then. The
//! flood and, for comparison, as many ordinary datagrams (one-frame UDP to
//! a bound socket) are fed by two separate functions, [`FragFlood::feed_flood`]
//! and [`FragFlood::feed_baseline`], so a profiler that counts instructions
//! per function (callgrind `--toggle-collect`) gives the cost per frame of
//! each. Everything is deterministic by seed.

use strata::link::IfaceId;
use strata::net::frag::FragConfig;
use strata::stack::{Stack, StackConfig};
use strata::time::{Duration, Instant};
use strata::transport::udp::UdpHandle;
use strata::wire::ip::Ipv4Cidr;
use strata::wire::ipv4::{IpProtocol, Ipv4Repr};
use strata::wire::udp::UdpRepr;
use strata::wire::{Ipv4Addr, MacAddr};

use crate::rng::Rng;

/// The victim's address and MAC.
pub const VICTIM: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const VICTIM_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const ATTACKER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x66]);
/// The real peer that keeps sending fragmented datagrams during the flood.
pub const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 5000;

/// The settings of a run.
#[derive(Debug, Clone)]
pub struct FragFloodOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Flood frames (and as many baseline datagrams).
    pub frames: usize,
    /// Spoofed source addresses (10.128.0.0 + i).
    pub sources: u32,
    /// The victim's reassembly limits.
    pub frag: FragConfig,
    /// Virtual time between two flood frames.
    pub interval: Duration,
    /// A real fragmented datagram (3 fragments) every this many frames.
    pub legit_every: usize,
}

impl Default for FragFloodOptions {
    fn default() -> Self {
        FragFloodOptions {
            seed: 1,
            frames: 100_000,
            sources: 4096,
            frag: FragConfig::default(),
            interval: Duration::from_micros(10),
            legit_every: 1000,
        }
    }
}

/// Frames sent of each shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShapeCounts {
    /// Empty last fragments.
    pub empty_last: u64,
    /// Overlapping pairs (two frames each).
    pub overlapping: u64,
    /// Lone middle fragments.
    pub never_completed: u64,
    /// First fragment + fragment past 65 535 (two frames each).
    pub oversized: u64,
    /// Fragments of the real peer's datagrams.
    pub legit: u64,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct FragFloodReport {
    /// Flood frames fed.
    pub frames: u64,
    /// By shape.
    pub shapes: ShapeCounts,
    /// Peak of the reassembler's charged memory (sampled after each frame).
    pub peak_memory: usize,
    /// Its configured cap.
    pub memory_cap: usize,
    /// Peak number of reassembly buffers.
    pub peak_buffers: usize,
    /// Its configured cap.
    pub buffer_cap: usize,
    /// Real datagrams sent and delivered during the flood.
    pub legit_sent: u64,
    /// Of those, delivered to the socket.
    pub legit_delivered: u64,
    /// Baseline datagrams fed and delivered.
    pub baseline_frames: u64,
    /// Of those, delivered.
    pub baseline_delivered: u64,
    /// Frames the victim sent during the flood (ICMP errors, ARP).
    pub victim_frames_out: u64,
    /// The victim's reassembly counters at the end.
    pub reassembly: strata::net::frag::ReassemblyStats,
}

/// A prepared run: the victim and every frame, built before feeding so the
/// feeding functions measure the stack alone.
pub struct FragFlood {
    victim: Stack,
    socket: UdpHandle,
    flood: Vec<Vec<u8>>,
    baseline: Vec<Vec<u8>>,
    interval: Duration,
    now: Instant,
    buf: Vec<u8>,
    report: FragFloodReport,
}

impl core::fmt::Debug for FragFlood {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FragFlood")
            .field("flood", &self.flood.len())
            .field("baseline", &self.baseline.len())
            .finish_non_exhaustive()
    }
}

/// An Ethernet + IPv4 frame to the victim.
fn frame(src: Ipv4Addr, ident: u16, offset: usize, more: bool, payload: &[u8]) -> Vec<u8> {
    let mut r = Ipv4Repr::new(src, VICTIM, IpProtocol::UDP, 64, payload.len());
    r.ident = ident;
    r.frag_offset = offset as u16;
    r.more_frags = more;
    let mut f = vec![0u8; 14 + r.buffer_len()];
    f[0..6].copy_from_slice(&VICTIM_MAC.0);
    f[6..12].copy_from_slice(&ATTACKER_MAC.0);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let hl = r.emit(&mut f[14..]).expect("sized");
    f[14 + hl..].copy_from_slice(payload);
    f
}

/// A UDP datagram (header + data) from `src` to the victim's socket.
fn udp(src: Ipv4Addr, data: &[u8]) -> Vec<u8> {
    let r = UdpRepr {
        src_port: 40000,
        dst_port: PORT,
    };
    let mut v = vec![0; 8 + data.len()];
    r.emit(&mut v, src, VICTIM, data).expect("sized");
    v
}

impl FragFlood {
    /// Builds the victim and the frames.
    pub fn new(opts: &FragFloodOptions) -> Self {
        let mut victim = Stack::new(StackConfig {
            seed: opts.seed,
            frag: opts.frag,
            ..StackConfig::default()
        });
        let i = victim.add_interface(VICTIM_MAC, 1500);
        victim
            .add_address(i, Ipv4Cidr::new(VICTIM, 16).expect("valid"))
            .expect("fresh");
        let socket = victim.udp_bind(None, PORT).expect("free port");
        // The address announcement goes out before the flood starts.
        let mut buf = vec![0; 2048];
        while victim.poll_transmit(Instant::ZERO, &mut buf).is_some() {}
        let mut rng = Rng::new(opts.seed);
        let mut report = FragFloodReport {
            memory_cap: opts.frag.global_limit,
            buffer_cap: opts.frag.max_buffers,
            ..FragFloodReport::default()
        };
        let mut flood = Vec::with_capacity(opts.frames);
        let legit = udp(PEER, &[0x5a; 2000]);
        let mut legit_ident: u16 = 0;
        while flood.len() < opts.frames {
            let room_for_two = flood.len() + 2 <= opts.frames;
            if room_for_two
                && opts.legit_every > 0
                && flood.len() % opts.legit_every == opts.legit_every - 1
            {
                legit_ident = legit_ident.wrapping_add(1);
                for (off, more) in [(0usize, true), (1480, false)] {
                    let end = if more { 1480 } else { legit.len() };
                    flood.push(frame(PEER, legit_ident, off, more, &legit[off..end]));
                    report.shapes.legit += 1;
                }
                report.legit_sent += 1;
                continue;
            }
            let src =
                Ipv4Addr::from_bits(0x0a80_0000 | (rng.next_u64() as u32 % opts.sources.max(1)));
            let ident = rng.next_u64() as u16;
            // Two-frame shapes only when both frames fit.
            let shape = rng.next_u64() % 4;
            let shape = if room_for_two { shape } else { shape & 2 };
            match shape {
                0 => {
                    flood.push(frame(src, ident, 8, false, &[]));
                    report.shapes.empty_last += 1;
                }
                1 => {
                    flood.push(frame(src, ident, 0, true, &[1; 16]));
                    flood.push(frame(src, ident, 8, true, &[2; 16]));
                    report.shapes.overlapping += 1;
                }
                2 => {
                    let off = 8 * (1 + (rng.next_u64() % 8000) as usize);
                    let len = 8 * (1 + (rng.next_u64() % 8) as usize);
                    flood.push(frame(src, ident, off, true, &vec![3; len]));
                    report.shapes.never_completed += 1;
                }
                _ => {
                    flood.push(frame(src, ident, 0, true, &[4; 32]));
                    flood.push(frame(src, ident, 65_528, false, &[5; 16]));
                    report.shapes.oversized += 1;
                }
            }
        }
        // Ordinary datagrams of a comparable size, from as many sources.
        let baseline = (0..opts.frames)
            .map(|k| {
                let src = Ipv4Addr::from_bits(0x0a80_0000 | (k as u32 % opts.sources.max(1)));
                frame(src, k as u16, 0, false, &udp(src, &[6; 24]))
            })
            .collect();
        FragFlood {
            victim,
            socket,
            flood,
            baseline,
            interval: opts.interval,
            now: Instant::ZERO,
            buf,
            report,
        }
    }

    /// The victim.
    pub fn victim(&self) -> &Stack {
        &self.victim
    }

    /// One frame in, then what the driver does after every handler: drain
    /// transmissions, run due timers, read the socket.
    #[inline(always)]
    fn step(&mut self, frame: usize, flood: bool) -> usize {
        let f = if flood {
            &self.flood[frame]
        } else {
            &self.baseline[frame]
        };
        self.victim.receive(self.now, IfaceId(0), f);
        let mut out = 0;
        while self.victim.poll_transmit(self.now, &mut self.buf).is_some() {
            out += 1;
        }
        if self.victim.poll_timeout().is_some_and(|t| t <= self.now) {
            self.victim.handle_timeout(self.now);
            while self.victim.poll_transmit(self.now, &mut self.buf).is_some() {
                out += 1;
            }
        }
        while self.victim.poll_event().is_some() {}
        let mut delivered = 0;
        while let Ok(Some(_)) = self.victim.udp_recv_from(self.socket) {
            delivered += 1;
        }
        self.now += self.interval;
        out << 16 | delivered
    }

    /// Feeds the flood (and the real peer's datagrams mixed in), sampling
    /// the reassembler's memory after every frame.
    #[inline(never)]
    pub fn feed_flood(&mut self) {
        for k in 0..self.flood.len() {
            let r = self.step(k, true);
            self.report.victim_frames_out += (r >> 16) as u64;
            self.report.legit_delivered += (r & 0xffff) as u64;
            let m = self.victim.reassembly_memory();
            if m > self.report.peak_memory {
                self.report.peak_memory = m;
            }
            let b = self.victim.reassembly_buffers();
            if b > self.report.peak_buffers {
                self.report.peak_buffers = b;
            }
        }
        self.report.frames = self.flood.len() as u64;
    }

    /// Feeds the ordinary datagrams.
    #[inline(never)]
    pub fn feed_baseline(&mut self) {
        for k in 0..self.baseline.len() {
            let r = self.step(k, false);
            self.report.baseline_delivered += (r & 0xffff) as u64;
        }
        self.report.baseline_frames = self.baseline.len() as u64;
    }

    /// The measurements so far.
    pub fn report(&self) -> FragFloodReport {
        let mut r = self.report.clone();
        r.reassembly = self.victim.stats().frag.reassembly;
        r
    }
}

/// Runs the flood, then the baseline, and reports.
pub fn frag_flood(opts: &FragFloodOptions) -> FragFloodReport {
    let mut run = FragFlood::new(opts);
    run.feed_flood();
    run.feed_baseline();
    run.report()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_stays_within_the_caps_and_real_datagrams_get_through() {
        let opts = FragFloodOptions {
            frames: 20_000,
            ..FragFloodOptions::default()
        };
        let r = frag_flood(&opts);
        assert_eq!(r.frames, 20_000);
        assert!(r.peak_memory <= r.memory_cap, "{r:?}");
        assert!(r.peak_buffers <= r.buffer_cap, "{r:?}");
        assert!(r.reassembly.evictions > 0, "{r:?}");
        assert!(
            r.reassembly.overlaps > 0 && r.reassembly.oversize > 0,
            "{r:?}"
        );
        // Every real datagram's two fragments arrive back to back, so
        // eviction of the oldest buffers does not hit them.
        assert_eq!(r.legit_delivered, r.legit_sent, "{r:?}");
        assert_eq!(r.baseline_delivered, r.baseline_frames);
        // The victim answers none of the flood (fragments draw no errors).
        assert_eq!(r.victim_frames_out, 0, "{r:?}");
        // Deterministic by seed.
        assert_eq!(frag_flood(&opts).reassembly, r.reassembly);
    }
}
