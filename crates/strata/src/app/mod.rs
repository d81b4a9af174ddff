//! The application layer (L7): the services of a small network, written as
//! sans-IO state machines like the rest of the stack. Each takes datagrams
//! and time in and gives datagrams out; the caller carries them over a UDP
//! socket of the [`Stack`](crate::stack::Stack) (in the simulator or over
//! TAP). The byte formats are in [`wire`](crate::wire).
//!
//! | service | module | RFC |
//! |---------|--------|-----|
//! | DHCP: server, client | [`dhcp`] | 2131, 2132 |
//! | DNS: authoritative server, stub resolver | [`dns`] | 1035 |
//! | FTP: server session, client | [`ftp`] | 959, 2428 |

pub mod dhcp;
pub mod dns;
pub mod ftp;
