//! Byte formats, one module per protocol, plus the address types.
//!
//! Each protocol has a zero-copy checked view over bytes (`Packet<T>`, whose
//! `new_checked` validates lengths once so accessors are infallible) and a
//! plain value (`…Repr`) that is parsed from the view and emitted into a
//! caller buffer. Parsing never panics and never reads out of bounds: bad
//! input yields a typed [`Error`]. Emit writes checksums.

pub mod arp;
pub mod checksum;
pub mod dhcp;
pub mod dns;
pub mod ethernet;
pub mod ftp;
pub mod icmpv4;
pub mod ip;
pub mod ipv4;
pub mod mac;
pub mod port;
pub mod stp;
pub mod tcp;
pub mod udp;

pub use core::net::Ipv4Addr;
pub use mac::MacAddr;

/// Why bytes could not be parsed as a protocol unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the header or than a length field claims.
    #[error("truncated packet")]
    Truncated,
    /// The checksum does not verify.
    #[error("bad checksum")]
    BadChecksum,
    /// The version field is not the one this parser speaks.
    #[error("bad version")]
    BadVersion,
    /// A length field is inconsistent (too small for the header, too large for the buffer…).
    #[error("bad length field")]
    BadLength,
    /// An option is malformed (bad length, truncated, not allowed here).
    #[error("bad option")]
    BadOption,
    /// A well-formed unit of a kind this parser does not handle
    /// (e.g. ARP for a non-Ethernet hardware type).
    #[error("unsupported")]
    Unsupported,
    /// Fields that are individually valid but contradict each other.
    #[error("malformed packet")]
    Malformed,
}

/// Result of parsing.
pub type Result<T> = core::result::Result<T, Error>;

/// The length check of a view whose header holds a length: `available`
/// bytes must hold the `min` bytes that carry the field
/// ([`Error::Truncated`]), the length it gives must be at least `min`
/// ([`Error::BadLength`]) and fit in `available` ([`Error::Truncated`]).
/// `claimed` is read only once the `min` bytes are known to be there.
#[inline]
fn check_length(available: usize, min: usize, claimed: impl FnOnce() -> usize) -> Result<()> {
    if available < min {
        return Err(Error::Truncated);
    }
    let claimed = claimed();
    if claimed < min {
        return Err(Error::BadLength);
    }
    if claimed > available {
        return Err(Error::Truncated);
    }
    Ok(())
}
