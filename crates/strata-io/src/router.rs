//! A strata router on real devices: one thread that owns a [`Stack`] with
//! one interface per device (device `n` is interface `n`) and forwards
//! between them — with NAT when the caller turned it on
//! ([`Stack::enable_nat`]). It has no sockets of its own to serve; the
//! [`Runtime`](crate::Runtime) is the host-shaped counterpart.
//!
//! ```no_run
//! use strata::link::IfaceId;
//! use strata::net::nat::NatConfig;
//! use strata::stack::{Stack, StackConfig};
//! use strata::wire::{MacAddr, ip::Ipv4Cidr};
//! use strata_io::{router::RouterThread, TapDevice};
//!
//! let lan = TapDevice::open("lan0").unwrap();
//! let wan = TapDevice::open("wan0").unwrap();
//! let mut st = Stack::new(StackConfig::default());
//! let i0 = st.add_interface(MacAddr([2, 0, 0, 0, 0, 1]), 1500);
//! let i1 = st.add_interface(MacAddr([2, 0, 0, 0, 0, 2]), 1500);
//! st.add_address(i0, "192.168.1.1/24".parse::<Ipv4Cidr>().unwrap()).unwrap();
//! st.add_address(i1, "203.0.113.1/24".parse::<Ipv4Cidr>().unwrap()).unwrap();
//! st.enable_nat(IfaceId(1), NatConfig::default()).unwrap();
//! let router = RouterThread::spawn(st, vec![Box::new(lan), Box::new(wan)]).unwrap();
//! // ... later: what the NAT did.
//! let stats = router.with_stack(|st, _now| st.nat().map(|n| n.stats())).unwrap();
//! ```

use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use strata::link::IfaceId;
use strata::stack::Stack;
use strata::time::Instant;

use crate::device::Device;
use crate::sys::{poll_readable, EventFd};

struct Shared {
    stack: Mutex<Stack>,
    stop: AtomicBool,
    wake: EventFd,
}

/// A running router; stops (and closes its devices) when dropped.
pub struct RouterThread {
    shared: Arc<Shared>,
    start: std::time::Instant,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RouterThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterThread").finish_non_exhaustive()
    }
}

impl RouterThread {
    /// Starts forwarding: `devices[n]` carries `stack`'s interface `n`
    /// (at most 63 devices).
    pub fn spawn(stack: Stack, devices: Vec<Box<dyn Device>>) -> io::Result<RouterThread> {
        if devices.len() != stack.interface_count() || devices.len() > 63 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "one device per stack interface (at most 63)",
            ));
        }
        let shared = Arc::new(Shared {
            stack: Mutex::new(stack),
            stop: AtomicBool::new(false),
            wake: EventFd::new()?,
        });
        let start = std::time::Instant::now();
        let s2 = shared.clone();
        let thread = std::thread::Builder::new()
            .name("strata-router".into())
            .spawn(move || run(s2, devices, start))?;
        Ok(RouterThread {
            shared,
            start,
            thread: Some(thread),
        })
    }

    /// Runs `f` on the stack (e.g. to read the NAT table) with the
    /// router's current time.
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut Stack, Instant) -> R) -> io::Result<R> {
        let now = Instant::from_nanos(self.start.elapsed().as_nanos() as u64);
        let mut st = self
            .shared
            .stack
            .lock()
            .map_err(|_| io::Error::other("router thread panicked"))?;
        let r = f(&mut st, now);
        drop(st);
        self.shared.wake.notify();
        Ok(r)
    }
}

impl Drop for RouterThread {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(shared: Arc<Shared>, mut devices: Vec<Box<dyn Device>>, start: std::time::Instant) {
    let mut buf = vec![0u8; 65536 + 14];
    let mut dead = vec![false; devices.len()];
    let now = || Instant::from_nanos(start.elapsed().as_nanos() as u64);
    while !shared.stop.load(Ordering::SeqCst) {
        // Frames out, then sleep until a frame, a timer or a wake-up.
        let timeout = {
            let Ok(mut st) = shared.stack.lock() else {
                return;
            };
            let t = now();
            st.handle_timeout(t);
            while let Some((iface, n)) = st.poll_transmit(t, &mut buf) {
                if let Some(d) = devices.get_mut(iface.0) {
                    if !dead[iface.0] {
                        let _ = d.send(&buf[..n]);
                    }
                }
            }
            while st.poll_event().is_some() {}
            st.poll_timeout().map(|at| {
                Duration::from_nanos(at.as_nanos().saturating_sub(t.as_nanos()))
                    .min(Duration::from_millis(100))
            })
        };
        let ready = {
            let mut fds: Vec<_> = devices.iter().map(|d| d.as_fd()).collect();
            fds.push(shared.wake.as_fd());
            match poll_readable(&fds, Some(timeout.unwrap_or(Duration::from_millis(100)))) {
                Ok(m) => m,
                Err(_) => return,
            }
        };
        if ready & (1 << devices.len()) != 0 {
            shared.wake.drain();
        }
        let Ok(mut st) = shared.stack.lock() else {
            return;
        };
        for (i, d) in devices.iter_mut().enumerate() {
            if dead[i] || ready & (1 << i) == 0 {
                continue;
            }
            // A bounded batch per device per round.
            for _ in 0..64 {
                match d.recv(&mut buf) {
                    Ok(Some(n)) => st.receive(now(), IfaceId(i), &buf[..n]),
                    Ok(None) => break,
                    Err(_) => {
                        dead[i] = true;
                        break;
                    }
                }
            }
        }
    }
}
