//! IPv4 address conflict detection (RFC 5227 §2.1–2.3): probe before using
//! an address, then announce it twice.
//!
//! An [`AddressProbe`] is the timer-driven state of one candidate address.
//! It builds no frames: it tells its owner (the stack) when to send a probe
//! or an announcement, when the address may be used, and it is told about
//! ARP packets that reveal a conflict.

use crate::time::{Duration, Instant};
use crate::wire::ip::Ipv4Cidr;
use core::net::Ipv4Addr;

/// RFC 5227 §1.1 constants.
pub const PROBE_WAIT: Duration = Duration::from_secs(1);
/// Probes sent.
pub const PROBE_NUM: u32 = 3;
/// Least delay between probes.
pub const PROBE_MIN: Duration = Duration::from_secs(1);
/// Greatest delay between probes.
pub const PROBE_MAX: Duration = Duration::from_secs(2);
/// Delay after the last probe before the address is used.
pub const ANNOUNCE_WAIT: Duration = Duration::from_secs(2);
/// Announcements sent.
pub const ANNOUNCE_NUM: u32 = 2;
/// Delay between announcements.
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(2);

/// What the owner must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeAction {
    /// Broadcast an ARP probe for the address (sender IP 0.0.0.0, RFC 5227
    /// §2.1.1).
    Probe(Ipv4Addr),
    /// No conflict: assign the address, then announce it.
    Assign(Ipv4Cidr),
    /// Broadcast an ARP announcement (sender = target = the address).
    Announce(Ipv4Addr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `sent` probes are out.
    Probing { sent: u32 },
    /// `sent` announcements are out (the address is in use).
    Announcing { sent: u32 },
    /// Finished (announced ANNOUNCE_NUM times) or abandoned.
    Done,
}

/// The probe-and-announce state of one address.
#[derive(Debug, Clone)]
pub struct AddressProbe {
    cidr: Ipv4Cidr,
    phase: Phase,
    next: Instant,
}

impl AddressProbe {
    /// Starts probing `cidr` at `now`; `jitter` (any value; taken modulo
    /// the range) spreads the first probe over 0..PROBE_WAIT (§2.1.1:
    /// "wait for a random time interval selected uniformly in the range
    /// zero to PROBE_WAIT seconds").
    pub fn new(now: Instant, cidr: Ipv4Cidr, jitter: u64) -> Self {
        AddressProbe {
            cidr,
            phase: Phase::Probing { sent: 0 },
            next: now + spread(Duration::ZERO, PROBE_WAIT, jitter),
        }
    }

    /// A probe for an address already assigned: only the announcements
    /// (§2.3), the first one now.
    pub fn announce_only(now: Instant, cidr: Ipv4Cidr) -> Self {
        AddressProbe {
            cidr,
            phase: Phase::Announcing { sent: 0 },
            next: now,
        }
    }

    /// The address.
    pub fn address(&self) -> Ipv4Addr {
        self.cidr.address()
    }

    /// True while the address is tentative (not yet usable).
    pub fn is_tentative(&self) -> bool {
        matches!(self.phase, Phase::Probing { .. })
    }

    /// True when nothing is left to do.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// When [`AddressProbe::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.is_done()).then_some(self.next)
    }

    /// Advances at `now`; `jitter` spreads the next probe over
    /// PROBE_MIN..PROBE_MAX.
    pub fn handle_timeout(&mut self, now: Instant, jitter: u64) -> Option<ProbeAction> {
        if self.is_done() || now < self.next {
            return None;
        }
        match self.phase {
            Phase::Probing { sent } if sent < PROBE_NUM => {
                self.phase = Phase::Probing { sent: sent + 1 };
                self.next = if sent + 1 < PROBE_NUM {
                    now + spread(PROBE_MIN, PROBE_MAX, jitter)
                } else {
                    // §2.1.1: ANNOUNCE_WAIT after the last probe.
                    now + ANNOUNCE_WAIT
                };
                Some(ProbeAction::Probe(self.address()))
            }
            Phase::Probing { .. } => {
                // §2.1.1: no conflicting packet during the probes and
                // ANNOUNCE_WAIT: the address may be used, and is announced.
                self.phase = Phase::Announcing { sent: 0 };
                self.next = now;
                Some(ProbeAction::Assign(self.cidr))
            }
            Phase::Announcing { sent } => {
                // §2.3: ANNOUNCE_NUM announcements, ANNOUNCE_INTERVAL apart.
                let sent = sent + 1;
                self.phase = if sent < ANNOUNCE_NUM {
                    Phase::Announcing { sent }
                } else {
                    Phase::Done
                };
                self.next = now + ANNOUNCE_INTERVAL;
                Some(ProbeAction::Announce(self.address()))
            }
            Phase::Done => None,
        }
    }

    /// Gives up: nothing more to do.
    pub fn abandon(&mut self) {
        self.phase = Phase::Done;
    }

    /// An ARP packet arrived while probing: RFC 5227 §2.1.1 — a conflict
    /// when its sender IP is our candidate, or when it is another host's
    /// probe for the same address (sender IP 0, target our candidate).
    /// Returns true (and abandons the address) on a conflict.
    pub fn conflicts(
        &mut self,
        sender_ip: Ipv4Addr,
        target_ip: Ipv4Addr,
        is_request: bool,
    ) -> bool {
        if !self.is_tentative() {
            return false;
        }
        let addr = self.address();
        let hit =
            sender_ip == addr || (is_request && sender_ip.is_unspecified() && target_ip == addr);
        if hit {
            self.phase = Phase::Done;
        }
        hit
    }
}

/// A delay in `lo..hi` chosen by `jitter`, in milliseconds.
fn spread(lo: Duration, hi: Duration, jitter: u64) -> Duration {
    let span = hi.as_millis().saturating_sub(lo.as_millis()).max(1) as u64;
    Duration::from_millis(lo.as_millis() as u64 + jitter % span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr() -> Ipv4Cidr {
        Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 7), 24).unwrap()
    }

    #[test]
    fn three_probes_then_assign_then_two_announcements() {
        let mut p = AddressProbe::new(Instant::ZERO, cidr(), 500);
        let mut actions = Vec::new();
        let mut now = Instant::ZERO;
        while let Some(t) = p.poll_timeout() {
            now = t;
            if let Some(a) = p.handle_timeout(now, 300) {
                actions.push((now, a));
            }
        }
        let a = Ipv4Addr::new(10, 0, 0, 7);
        let kinds: Vec<_> = actions.iter().map(|(_, a)| *a).collect();
        assert_eq!(
            kinds,
            [
                ProbeAction::Probe(a),
                ProbeAction::Probe(a),
                ProbeAction::Probe(a),
                ProbeAction::Assign(cidr()),
                ProbeAction::Announce(a),
                ProbeAction::Announce(a),
            ]
        );
        let t: Vec<u64> = actions.iter().map(|(t, _)| t.as_millis()).collect();
        assert_eq!(t, [500, 1800, 3100, 5100, 5100, 7100]);
        assert!(p.is_done());
        assert!(now >= Instant::from_secs(7));
    }

    #[test]
    fn a_conflict_while_probing_abandons_the_address() {
        let a = Ipv4Addr::new(10, 0, 0, 7);
        let mut p = AddressProbe::new(Instant::ZERO, cidr(), 0);
        assert_eq!(
            p.handle_timeout(Instant::ZERO, 0),
            Some(ProbeAction::Probe(a))
        );
        assert!(!p.conflicts(Ipv4Addr::new(10, 0, 0, 8), a, false));
        // Another host probing for the same address.
        assert!(p.conflicts(Ipv4Addr::UNSPECIFIED, a, true));
        assert!(p.is_done());
        assert_eq!(p.poll_timeout(), None);
        // After the address is in use, ARP for it is not a probe conflict.
        let mut q = AddressProbe::announce_only(Instant::ZERO, cidr());
        assert!(!q.conflicts(a, a, true));
    }
}
