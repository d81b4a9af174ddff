//! Test support shared by the workspace's test suites: what a test does
//! when a prerequisite (root, `/dev/net/tun`, tshark, iperf3, ...) is
//! missing.
//!
//! On a developer's machine such a test may skip with a printed reason. In
//! CI it must not: `.ci/run` exports `STRATA_REQUIRE_ALL=1`, and then a
//! missing prerequisite fails the test, so a green CI means every
//! interop, netem and tshark test really ran.
//!
//! Also the pieces the TCP sweeps share: [`ProfileRng`], which draws each
//! seed's profile, and [`StreamApp`], the application at each end.

use std::process::{Command, Stdio};

use strata::app::dns::server::Zone;
use strata::stack::{Event, Stack};
use strata::time::Instant;
use strata::transport::tcp::{TcpError, TcpEvent, TcpHandle};
use strata::wire::dns::{Name, RData, Record};
use strata::wire::Ipv4Addr;

/// The environment variable that turns a skip into a failure.
pub const REQUIRE_ALL: &str = "STRATA_REQUIRE_ALL";

/// `true` when [`REQUIRE_ALL`] is set to anything but `0` or the empty
/// string.
pub fn prerequisites_required() -> bool {
    std::env::var(REQUIRE_ALL).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Reports a missing prerequisite: panics (failing the test) when
/// [`prerequisites_required`], otherwise prints `skipping: <reason>`.
/// Returns `false`, so a test reads `if !prerequisite_ok(..) { return; }`.
pub fn skip(reason: &str) -> bool {
    if prerequisites_required() {
        panic!("{REQUIRE_ALL} is set, but a prerequisite is missing: {reason}");
    }
    println!("skipping: {reason}");
    false
}

/// `true` when `prog` is on the `PATH` (the shell's `command -v` finds it).
pub fn have_program(prog: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v '{prog}'"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `true` when every program in `progs` is installed; otherwise reports
/// the first missing one through [`skip`].
pub fn require_programs(progs: &[&str]) -> bool {
    match progs.iter().find(|p| !have_program(p)) {
        None => true,
        Some(p) => skip(&format!("{p} is not installed")),
    }
}

/// The seed sweeps' profile generator: xorshift64, independent of the
/// simulator's own [`Rng`](crate::Rng), so drawing a fault profile never
/// shifts the random decisions of the run it describes. Its sequence for a
/// given state never changes: a failing seed printed by a sweep replays.
#[derive(Debug, Clone)]
pub struct ProfileRng(pub u64);

impl ProfileRng {
    /// The next 64 random bits. The state must not be zero.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Uniform in `[0, max)`.
    pub fn f(&mut self, max: f64) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * max
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f(1.0) < p
    }

    /// Log-uniform in `[lo, hi]`.
    pub fn log(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + self.f(1.0) * (hi.ln() - lo.ln())).exp()
    }
}

/// How a [`StreamApp`] ends its side of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseMode {
    /// Half-close (`tcp_shutdown`) once everything is written, keep reading
    /// to end of stream, then `tcp_close`.
    ShutdownFirst,
    /// Read to end of stream first, then `tcp_close` once everything is
    /// written (the passive close: CLOSE-WAIT → LAST-ACK). Only one side
    /// may do this, or both would wait for each other.
    CloseAfterEof,
}

/// The application of the TCP sweeps: one connection that writes its
/// stream in chunks of `wchunk`, reads the peer's in chunks of `rchunk`,
/// and closes as [`CloseMode`] says. It records what it received and the
/// first error, so a sweep can check the stream and classify the ending.
#[derive(Debug)]
pub struct StreamApp {
    /// The connection, once connected or accepted.
    pub h: Option<TcpHandle>,
    /// The handshake completed (an accepted connection is connected).
    pub connected: bool,
    /// The stream to send.
    pub data: Vec<u8>,
    /// Bytes of `data` the stack took.
    pub sent: usize,
    /// Bytes received so far.
    pub got: Vec<u8>,
    /// End of stream was read.
    pub eof: bool,
    /// The application half-closed.
    pub shut: bool,
    /// The application closed.
    pub closed: bool,
    /// The first error the connection reported.
    pub err: Option<TcpError>,
    /// The stack said Closed for this connection.
    pub gone: bool,
    /// Largest write.
    pub wchunk: usize,
    /// Largest read.
    pub rchunk: usize,
    /// How this side closes.
    pub mode: CloseMode,
}

impl StreamApp {
    /// An application that will send `data`; it gets its handle from
    /// `tcp_accept` on an `Acceptable` event, or from the caller's
    /// `tcp_connect` (set [`StreamApp::h`]).
    pub fn new(data: Vec<u8>, wchunk: usize, rchunk: usize, mode: CloseMode) -> Self {
        StreamApp {
            h: None,
            connected: false,
            data,
            sent: 0,
            got: Vec::new(),
            eof: false,
            shut: false,
            closed: false,
            err: None,
            gone: false,
            wchunk: wchunk.max(1),
            rchunk: rchunk.max(1),
            mode,
        }
    }

    /// The application is finished: closed, or failed.
    pub fn done(&self) -> bool {
        self.closed || self.err.is_some()
    }

    /// Reads and writes until the stack would block, then half-closes or
    /// closes as the mode says. `buf` is scratch space for reads.
    pub fn pump(&mut self, now: Instant, st: &mut Stack, buf: &mut [u8]) {
        let Some(h) = self.h else { return };
        if self.closed || !self.connected {
            return;
        }
        if self.err.is_some() {
            // The application closes a failed connection; the stack may
            // already have forgotten it.
            let _ = st.tcp_close(now, h);
            self.closed = true;
            return;
        }
        while self.sent < self.data.len() {
            let end = (self.sent + self.wchunk).min(self.data.len());
            match st.tcp_send(h, &self.data[self.sent..end]) {
                Ok(0) | Err(TcpError::WouldBlock) => break,
                Ok(n) => self.sent += n,
                Err(e) => {
                    self.err = Some(e);
                    return;
                }
            }
        }
        while !self.eof {
            let n = self.rchunk.min(buf.len());
            match st.tcp_recv(h, &mut buf[..n]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(TcpError::WouldBlock) => break,
                Err(e) => {
                    self.err = Some(e);
                    return;
                }
            }
        }
        let all_sent = self.sent == self.data.len();
        let close_now = match self.mode {
            CloseMode::ShutdownFirst => {
                if all_sent && !self.shut {
                    match st.tcp_shutdown(now, h) {
                        Ok(()) => self.shut = true,
                        Err(TcpError::WouldBlock) => {}
                        Err(e) => {
                            self.err = Some(e);
                            return;
                        }
                    }
                }
                self.shut && self.eof
            }
            CloseMode::CloseAfterEof => all_sent && self.eof,
        };
        if close_now {
            if let Err(e) = st.tcp_close(now, h) {
                self.err = Some(e);
            }
            self.closed = true;
        }
    }

    /// Handles one stack event (accepting the first connection offered),
    /// then pumps.
    pub fn on_event(&mut self, now: Instant, st: &mut Stack, ev: &Event, buf: &mut [u8]) {
        if let Event::Tcp(te) = ev {
            let mine = |x: &TcpHandle| self.h == Some(*x);
            match te {
                TcpEvent::Acceptable { listener } if self.h.is_none() => {
                    if let Ok(h) = st.tcp_accept(*listener) {
                        self.h = Some(h);
                        self.connected = true;
                    }
                }
                TcpEvent::Connected(x) if mine(x) => self.connected = true,
                TcpEvent::Reset(x) if mine(x) => self.fail(TcpError::Reset),
                TcpEvent::Refused(x) if mine(x) => self.fail(TcpError::Refused),
                TcpEvent::TimedOut(x) if mine(x) => self.fail(TcpError::TimedOut),
                TcpEvent::Unreachable { handle, error } if mine(handle) => self.fail(*error),
                TcpEvent::Closed(x) if mine(x) => self.gone = true,
                _ => {}
            }
        }
        self.pump(now, st, buf);
    }

    /// Records `e` unless an error is already recorded or the application
    /// already closed (an error after the close is the stack's business).
    pub fn fail(&mut self, e: TcpError) {
        if self.err.is_none() && !self.closed {
            self.err = Some(e);
            // A failed connect still counts as "connected" for the close.
            self.connected = true;
        }
    }
}

/// The DNS zone the DNS tests serve: `lab`, its name server `ns.lab` at
/// `ns`, a host `HOST.lab` at `addr`, and `www.lab` a CNAME for it.
pub fn lab_zone(ns: Ipv4Addr, host: &str, addr: Ipv4Addr) -> Zone {
    let name = |s: &str| Name::parse(s).expect("a valid test name");
    let host = name(&format!("{host}.lab"));
    let mut z = Zone::new(name("lab"), name("ns.lab"), 300);
    z.add_a(name("ns.lab"), ns, 3600).expect("in the zone");
    z.add_a(host.clone(), addr, 60).expect("in the zone");
    z.add(Record::new(name("www.lab"), 60, RData::Cname(host)))
        .expect("in the zone");
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_generator_keeps_its_sequence_and_bounds() {
        let mut r = ProfileRng(1);
        // xorshift64 (13, 7, 17) from state 1: a changed sequence would
        // break every printed replay command.
        assert_eq!(r.next_u64(), 0x0000_0000_4082_2041);
        for _ in 0..1000 {
            let x = r.range(3, 9);
            assert!((3..=9).contains(&x));
            let y = r.f(2.0);
            assert!((0.0..2.0).contains(&y));
            let z = r.log(1.0, 1000.0);
            assert!((1.0..=1000.0).contains(&z));
        }
    }

    #[test]
    fn a_present_program_is_found_and_an_absent_one_is_not() {
        assert!(have_program("cargo"));
        assert!(!have_program("strata-no-such-program-xyz"));
    }
}
