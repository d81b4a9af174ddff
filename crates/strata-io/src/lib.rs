//! # strata-io — the strata stack on real devices
//!
//! The [`strata`] crate is sans-IO: frames and time go in, frames and events
//! come out. This crate gives it a body:
//!
//! - [`device`]: what the runtime drives — a Linux [`tap::TapDevice`] or an
//!   in-process [`device::PipeDevice`] link (no privileges needed);
//! - [`http`] and [`echo`]: a static-file HTTP/1.1 server and client and an
//!   echo service, written over any `Read + Write` stream so they run over
//!   strata sockets and std sockets alike;
//! - [`testing`]: network-namespace guards for interop tests with the kernel.
#![warn(missing_docs)]

pub mod device;
pub mod echo;
pub mod http;
pub mod sys;
pub mod tap;
pub mod testing;

pub use device::{Device, PipeDevice};
pub use tap::{TapDevice, TapError};
