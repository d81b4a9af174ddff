//! # strata-io — the strata stack on real devices
//!
//! The [`strata`] crate is sans-IO: frames and time go in, frames and events
//! come out. This crate gives it a body:
//!
//! - [`runtime`]: the [`runtime::Runtime`], one I/O thread that
//!   owns a stack and a device and drives it (frames in, frames out,
//!   timers), with `ping`;
//! - [`udp`]: blocking sockets shaped like `std::net`; [`tokio`]: the same
//!   for async code;
//! - [`device`]: what the runtime drives — a Linux [`tap::TapDevice`] or an
//!   in-process [`device::PipeDevice`] link (no privileges needed);
//! - [`http`] and [`echo`]: a static-file HTTP/1.1 server and client and an
//!   echo service, written over any `Read + Write` stream so they run over
//!   strata sockets and std sockets alike;
//! - [`services`]: the application-layer servers of [`strata::app`] (DNS, DHCP)
//!   on threads of their own;
//! - [`ftp`]: the FTP server and client of [`strata::app::ftp`] on blocking
//!   sockets;
//! - [`multiqueue`]: one stack shard per queue of a multi-queue TAP, so
//!   that several connections use several cores;
//! - [`router`]: a stack forwarding between several devices (with NAT when
//!   asked), on a thread of its own;
//! - [`testing`]: network-namespace guards for interop tests with the kernel.
#![warn(missing_docs)]

pub mod device;
pub mod echo;
pub mod ftp;
pub mod http;
pub mod multiqueue;
pub mod router;
pub mod runtime;
pub mod services;
pub mod sys;
pub mod tap;
pub mod tcp;
pub mod testing;
pub mod tokio;
pub mod udp;

pub use device::{Device, NullDevice, PipeDevice};
pub use runtime::{DeviceFailure, Runtime, RuntimeConfig, RuntimeHandle, RuntimeStats};

/// The README's Rust snippets, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
pub use tap::{TapDevice, TapError, TapOptions};
