//! Tail loss probes (RFC 8985 §7, the TLP half of RACK-TLP).
//!
//! When the last segments of a flight are lost, no later segment makes
//! the receiver send duplicate ACKs or SACK blocks, and without a probe
//! only the retransmission timer (hundreds of milliseconds, then a
//! one-segment window) would repair them. The probe timeout (PTO) fires
//! after about two round trips of silence and sends one segment — new
//! data if there is some, else the last segment again — whose ACK either
//! repairs the tail or brings the SACK information that starts fast
//! recovery.

use super::seq::SeqNumber;
use crate::time::{Duration, Instant};

/// RFC 8985 §7.2 WCDelAckT: the worst-case delayed-ACK time a sender
/// assumes of the receiver when only one segment is in flight.
pub const WC_DEL_ACK: Duration = Duration::from_millis(200);

/// RFC 8985 §7.2: the probe timeout for `srtt`, `flight` bytes outstanding
/// and segments of `mss`, not later than the pending retransmission
/// timeout `rto_at`.
pub fn pto(
    now: Instant,
    srtt: Duration,
    flight: usize,
    mss: usize,
    rto_at: Option<Instant>,
) -> Instant {
    // PTO = 2·SRTT; with one segment in flight, plus WCDelAckT, since the
    // receiver may delay its ACK of a lone segment.
    let mut d = srtt * 2;
    if flight <= mss {
        d += WC_DEL_ACK;
    }
    let at = now + d;
    // RFC 8985 §7.2: if the RTO would fire sooner, the probe is scheduled
    // at the RTO's expiry instead (and goes out in the RTO's place).
    match rto_at {
        Some(r) if r < at => r,
        _ => at,
    }
}

/// A probe in flight (RFC 8985 §7.3 TLP.end_seq and TLP.is_retrans).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// SND.NXT after the probe went out.
    pub end_seq: SeqNumber,
    /// The probe resent the last segment (rather than new data).
    pub is_retrans: bool,
}
