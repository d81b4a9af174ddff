//! ICMP errors as the transport layer sees them (RFC 792, RFC 1122
//! §3.2.2, §4.1.3.3, RFC 1812 §4.3.2), and the reading of the datagram an
//! error quotes so it can be matched to the socket that sent it.

use crate::wire::icmpv4::{self, msg_type, time_exceeded, unreachable};
use crate::wire::ipv4::IpProtocol;
use core::fmt;
use core::net::Ipv4Addr;

/// What went wrong, from the type and code of an ICMP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpErrorKind {
    /// Destination unreachable, code 0.
    NetUnreachable,
    /// Destination unreachable, code 1 (also raised locally when ARP
    /// resolution of the next hop fails, RFC 1122 §2.3.2.2).
    HostUnreachable,
    /// Destination unreachable, code 2.
    ProtocolUnreachable,
    /// Destination unreachable, code 3: nobody listens on the port.
    PortUnreachable,
    /// Destination unreachable, code 4: too big and DF set (RFC 1191).
    FragmentationNeeded {
        /// Next-hop MTU reported by the router (0 if it did not say).
        mtu: u16,
    },
    /// Time exceeded, code 0: TTL reached zero in transit.
    TtlExceeded,
    /// Time exceeded, code 1: the receiver gave up reassembling.
    ReassemblyTimeExceeded,
    /// Any other destination-unreachable code.
    Unreachable {
        /// The code.
        code: u8,
    },
}

impl IcmpErrorKind {
    /// Classifies an ICMP error message; `None` for types that are not
    /// errors about a datagram we sent.
    pub fn from_type_code(ty: u8, code: u8, mtu: u16) -> Option<IcmpErrorKind> {
        Some(match (ty, code) {
            (msg_type::DST_UNREACHABLE, unreachable::NET) => IcmpErrorKind::NetUnreachable,
            (msg_type::DST_UNREACHABLE, unreachable::HOST) => IcmpErrorKind::HostUnreachable,
            (msg_type::DST_UNREACHABLE, unreachable::PROTOCOL) => {
                IcmpErrorKind::ProtocolUnreachable
            }
            (msg_type::DST_UNREACHABLE, unreachable::PORT) => IcmpErrorKind::PortUnreachable,
            (msg_type::DST_UNREACHABLE, unreachable::FRAG_NEEDED) => {
                IcmpErrorKind::FragmentationNeeded { mtu }
            }
            (msg_type::DST_UNREACHABLE, code) => IcmpErrorKind::Unreachable { code },
            (msg_type::TIME_EXCEEDED, time_exceeded::TTL) => IcmpErrorKind::TtlExceeded,
            (msg_type::TIME_EXCEEDED, time_exceeded::REASSEMBLY) => {
                IcmpErrorKind::ReassemblyTimeExceeded
            }
            _ => return None,
        })
    }

    /// The ICMP (type, code) of this error.
    pub fn type_code(&self) -> (u8, u8) {
        match *self {
            IcmpErrorKind::NetUnreachable => (msg_type::DST_UNREACHABLE, unreachable::NET),
            IcmpErrorKind::HostUnreachable => (msg_type::DST_UNREACHABLE, unreachable::HOST),
            IcmpErrorKind::ProtocolUnreachable => {
                (msg_type::DST_UNREACHABLE, unreachable::PROTOCOL)
            }
            IcmpErrorKind::PortUnreachable => (msg_type::DST_UNREACHABLE, unreachable::PORT),
            IcmpErrorKind::FragmentationNeeded { .. } => {
                (msg_type::DST_UNREACHABLE, unreachable::FRAG_NEEDED)
            }
            IcmpErrorKind::Unreachable { code } => (msg_type::DST_UNREACHABLE, code),
            IcmpErrorKind::TtlExceeded => (msg_type::TIME_EXCEEDED, time_exceeded::TTL),
            IcmpErrorKind::ReassemblyTimeExceeded => {
                (msg_type::TIME_EXCEEDED, time_exceeded::REASSEMBLY)
            }
        }
    }

    /// True for errors after which the destination will not be reached
    /// by retrying (RFC 1122 §4.2.3.9 calls codes 2–4 "hard" for TCP).
    pub fn is_hard(&self) -> bool {
        matches!(
            self,
            IcmpErrorKind::ProtocolUnreachable
                | IcmpErrorKind::PortUnreachable
                | IcmpErrorKind::FragmentationNeeded { .. }
        )
    }
}

impl fmt::Display for IcmpErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IcmpErrorKind::NetUnreachable => f.write_str("network unreachable"),
            IcmpErrorKind::HostUnreachable => f.write_str("host unreachable"),
            IcmpErrorKind::ProtocolUnreachable => f.write_str("protocol unreachable"),
            IcmpErrorKind::PortUnreachable => f.write_str("port unreachable"),
            IcmpErrorKind::FragmentationNeeded { mtu } => {
                write!(f, "fragmentation needed (next-hop MTU {mtu})")
            }
            IcmpErrorKind::TtlExceeded => f.write_str("TTL exceeded in transit"),
            IcmpErrorKind::ReassemblyTimeExceeded => f.write_str("reassembly time exceeded"),
            IcmpErrorKind::Unreachable { code } => {
                write!(f, "destination unreachable (code {code})")
            }
        }
    }
}

/// An ICMP error delivered to a socket (or to a ping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IcmpError {
    /// What went wrong.
    pub kind: IcmpErrorKind,
    /// Who reported it: the router or host that sent the ICMP message
    /// (our own address when raised locally, e.g. ARP failure).
    pub from: Ipv4Addr,
    /// The datagram it is about, as quoted.
    pub original: QuotedDatagram,
}

impl fmt::Display for IcmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} from {} (for {})",
            self.kind, self.from, self.original.dst
        )
    }
}

/// The parts of a quoted datagram that identify its sender: an owned
/// summary of the [`icmpv4::QuotedDatagram`] view, kept in an [`IcmpError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuotedDatagram {
    /// Source address (ours).
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol.
    pub protocol: IpProtocol,
    /// Identification field.
    pub ident: u16,
    /// TTL as it arrived at the reporter.
    pub ttl: u8,
    /// UDP/TCP source port, or ICMP echo identifier.
    pub src_port: u16,
    /// UDP/TCP destination port, or ICMP echo sequence number.
    pub dst_port: u16,
    /// ICMP type of the quoted message (when `protocol` is ICMP).
    pub icmp_type: u8,
    /// TCP sequence number of the quoted segment (when `protocol` is TCP).
    pub tcp_seq: u32,
}

impl QuotedDatagram {
    /// Reads the IP header and the first 8 bytes of its payload from the
    /// data of an ICMP error (RFC 792: "Internet Header + 64 bits of
    /// Original Data Datagram"). `None` when too short or not IPv4, and for
    /// non-initial fragments (their first bytes are not a transport header).
    pub fn parse(quoted: &[u8]) -> Option<QuotedDatagram> {
        let q = icmpv4::QuotedDatagram::parse(quoted).ok()?;
        if q.frag_offset != 0 {
            return None;
        }
        let (src_port, dst_port, icmp_type, tcp_seq) = match q.protocol {
            IpProtocol::ICMP => (q.echo_ident(), q.echo_seq(), q.icmp_type(), 0),
            IpProtocol::TCP => (q.src_port(), q.dst_port(), 0, q.tcp_seq()),
            _ => (q.src_port(), q.dst_port(), 0, 0),
        };
        Some(QuotedDatagram {
            src: q.src,
            dst: q.dst,
            protocol: q.protocol,
            ident: q.ident,
            ttl: q.ttl,
            src_port,
            dst_port,
            icmp_type,
            tcp_seq,
        })
    }
}

/// Token buckets limiting the ICMP errors we send (RFC 1812 §4.3.2.8,
/// RFC 1122 §3.2.2): one bucket per destination, as Linux keeps one per
/// peer, so spoofed traffic that draws errors to many addresses cannot
/// starve the errors owed to a real peer — above all "fragmentation
/// needed", without which path MTU discovery breaks (RFC 1191). A global
/// ceiling bounds the total; "fragmentation needed" is exempt from it.
///
/// The per-destination buckets are a fixed table indexed by a keyed hash
/// of the destination: O(1), bounded memory, and an attacker who does not
/// know the key cannot aim at the bucket of someone else.
#[derive(Debug, Clone)]
pub struct ErrorRateLimiter {
    per_dest: u64,
    global: u64,
    key: crate::transport::ports::SeededState,
    buckets: Box<[Bucket]>,
    all: Bucket,
}

/// Tokens scaled by 1e9 and the time of the last refill.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u64,
    refill: crate::time::Instant,
}

/// Buckets in the per-destination table.
const BUCKETS: usize = 1024;
const ONE: u64 = 1_000_000_000;

impl Bucket {
    fn full(rate: u64) -> Bucket {
        Bucket {
            tokens: rate.saturating_mul(ONE),
            refill: crate::time::Instant::ZERO,
        }
    }

    /// Refills at `rate` per second up to `rate` tokens; true when a token
    /// is left after (`take`) taking one.
    fn allow(&mut self, now: crate::time::Instant, rate: u64, take: bool) -> bool {
        let cap = rate.saturating_mul(ONE);
        let elapsed = now.saturating_duration_since(self.refill).as_nanos();
        let add = u64::try_from(elapsed.saturating_mul(u128::from(rate))).unwrap_or(u64::MAX);
        self.tokens = self.tokens.saturating_add(add).min(cap);
        self.refill = self.refill.max(now);
        if self.tokens < ONE {
            return false;
        }
        if take {
            self.tokens -= ONE;
        }
        true
    }
}

impl ErrorRateLimiter {
    /// `per_dest` errors per second (and burst) to any one destination,
    /// `global` in all; 0 disables a limit. `seed` keys the table.
    pub fn new(per_dest: u32, global: u32, seed: u64) -> Self {
        Self::with_key(
            per_dest,
            global,
            crate::transport::ports::SeededState::new(seed, 0x6963_6d70_7261_7465),
        )
    }

    /// As [`ErrorRateLimiter::new`], with the table keyed by `key`.
    pub fn with_key(per_dest: u32, global: u32, key: crate::transport::ports::SeededState) -> Self {
        let per_dest = u64::from(per_dest);
        let global = u64::from(global);
        ErrorRateLimiter {
            per_dest,
            global,
            key,
            buckets: vec![Bucket::full(per_dest); BUCKETS].into_boxed_slice(),
            all: Bucket::full(global),
        }
    }

    /// True when an error of `kind` may be sent to `dst` now (and counts
    /// it).
    pub fn allow(
        &mut self,
        now: crate::time::Instant,
        dst: core::net::Ipv4Addr,
        kind: IcmpErrorKind,
    ) -> bool {
        use core::hash::{BuildHasher, Hasher};
        let exempt = matches!(kind, IcmpErrorKind::FragmentationNeeded { .. });
        if self.global > 0 && !exempt && !self.all.allow(now, self.global, false) {
            return false;
        }
        if self.per_dest > 0 {
            let mut h = self.key.build_hasher();
            h.write(&dst.octets());
            let b = &mut self.buckets[h.finish() as usize % BUCKETS];
            if !b.allow(now, self.per_dest, true) {
                return false;
            }
        }
        if self.global > 0 && !exempt {
            self.all.allow(now, self.global, true);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_type_code() {
        for (t, c) in [
            (3, 0),
            (3, 1),
            (3, 2),
            (3, 3),
            (3, 4),
            (3, 13),
            (11, 0),
            (11, 1),
        ] {
            let k = IcmpErrorKind::from_type_code(t, c, 1400).unwrap();
            assert_eq!(k.type_code(), (t, c));
        }
        assert_eq!(IcmpErrorKind::from_type_code(0, 0, 0), None);
        assert_eq!(IcmpErrorKind::from_type_code(11, 5, 0), None);
    }

    #[test]
    fn quoted_udp_header_is_read() {
        let mut q = vec![0x45, 0, 0, 36, 0x12, 0x34, 0, 0, 1, 17, 0, 0];
        q.extend_from_slice(&[10, 0, 0, 1, 10, 0, 2, 1]);
        q.extend_from_slice(&[0xc0, 0x00, 0x82, 0x9b, 0, 16, 0, 0]);
        let d = QuotedDatagram::parse(&q).unwrap();
        assert_eq!(d.src, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(d.dst, Ipv4Addr::new(10, 0, 2, 1));
        assert_eq!(
            (d.src_port, d.dst_port, d.ttl, d.ident),
            (49152, 33435, 1, 0x1234)
        );
        assert!(QuotedDatagram::parse(&q[..27]).is_none());
        // Non-initial fragment.
        q[7] = 1;
        assert!(QuotedDatagram::parse(&q).is_none());
    }

    #[test]
    fn quoted_tcp_and_echo_headers_are_read() {
        let mut q = vec![0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0];
        q.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        q.extend_from_slice(&[0xc0, 0x01, 0x00, 0x50, 0xde, 0xad, 0xbe, 0xef]);
        let d = QuotedDatagram::parse(&q).unwrap();
        assert_eq!(d.protocol, IpProtocol::TCP);
        assert_eq!(
            (d.src_port, d.dst_port, d.tcp_seq),
            (49153, 80, 0xdead_beef)
        );
        // An echo request: type 8, code 0, checksum, identifier, sequence.
        q[9] = 1;
        q[20..28].copy_from_slice(&[8, 0, 0xff, 0xff, 0x12, 0x34, 0x00, 0x07]);
        let d = QuotedDatagram::parse(&q).unwrap();
        assert_eq!(
            (d.icmp_type, d.src_port, d.dst_port, d.tcp_seq),
            (8, 0x1234, 7, 0)
        );
    }
}
