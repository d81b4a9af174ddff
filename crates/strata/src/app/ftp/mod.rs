//! FTP (RFC 959): a [`server`] session and a [`client`], both sans-IO
//! state machines over the control connection's bytes. Data connections
//! (passive: PASV, EPSV per RFC 2428; active: PORT, EPRT) are opened by
//! the driver when the machine asks for one, and their outcome is handed
//! back; the files live in an in-memory [`fs::Fs`]. The text of commands
//! and replies is [`crate::wire::ftp`].

pub mod client;
pub mod fs;
pub mod server;

/// The FTP control port (RFC 959 §3.2, "L").
pub const PORT: u16 = 21;

/// Where a data connection comes from (RFC 959 §3.2, §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataEndpoint {
    /// Passive: the server listens (PASV/EPSV); the client connects.
    Passive(core::net::SocketAddrV4),
    /// Active: the client listens (PORT/EPRT); the server connects.
    Active(core::net::SocketAddrV4),
}

/// What crossed a data connection, as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transfer {
    /// The connection closed normally; for a download, the bytes received.
    Done(Vec<u8>),
    /// The connection could not be opened.
    CannotOpen,
    /// The connection broke before its end.
    Aborted,
}
