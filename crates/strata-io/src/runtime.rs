//! The runtime: one I/O thread that drives a [`Stack`] over a [`Device`].
//!
//! The stack and the device live together behind one mutex. The I/O thread
//! sleeps in `poll(2)` on the device and a wake-up eventfd, with the
//! stack's `poll_timeout` as its deadline; when it wakes it feeds every
//! waiting frame to `receive`, runs `handle_timeout` when due, sends what
//! `poll_transmit` yields and dispatches events. Socket calls from other
//! threads lock the same mutex, call the stack and, if they moved the
//! stack's next deadline earlier, re-arm the I/O thread's timer.
//!
//! Frames the stack sends are produced into a batch under the lock (one
//! [`Stack::poll_transmit_burst_meta`] call) and written to the device
//! only once the lock is released (see [`TxShared`]): a thread writing to
//! the TAP does not keep the stack from the others. The device is split
//! in two halves ([`Device::split_writer`], a duplicated descriptor): the
//! I/O thread reads through one, with no lock, and writers write through
//! the other, so reading and writing never wait for each other. The batch goes to one queue per device in the order
//! the stack produced it, and one thread at a time drains that queue to
//! the device, so frames (and the segments of one TCP connection) reach
//! the wire in the stack's order whichever thread writes them.
//!
//! Blocking sockets wait on a condition variable that the I/O thread
//! signals whenever the stack reported events; async sockets register
//! wakers keyed by socket, woken by the events that name that socket.
//!
//! Dropping the [`Runtime`] stops the thread, aborts live TCP connections
//! (peers get a RST) and closes the device; sockets still alive then fail
//! with `NotConnected`.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::thread::JoinHandle;
use std::time::Duration;

use strata::link::IfaceId;
use strata::phy::{DeviceCaps, FrameSink, Offloads, RxMeta, TxMeta};
use strata::stack::{Event, Stack, StackConfig, Transmit};
use strata::time::Instant;
use strata::wire::ip::Ipv4Cidr;
use strata::wire::MacAddr;

use crate::device::{Device, SharedDevice};
use crate::multiqueue::{ShardSet, Steer};
use crate::sys::{poll_events, EventFd, TimerFd};

/// How a runtime's stack is set up: one interface with one address.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The interface address and prefix, e.g. `10.20.0.2/24`.
    pub addr: Ipv4Cidr,
    /// Default gateway (off-link destinations), if any.
    pub gateway: Option<Ipv4Addr>,
    /// The interface MAC; by default a locally administered address
    /// derived from `addr` (`02:53:54:` + the address's last three bytes).
    pub mac: Option<MacAddr>,
    /// Link MTU (largest IP datagram).
    pub mtu: usize,
    /// Also give the stack its loopback interface (127.0.0.0/8, see
    /// [`Stack::add_loopback`]); on by default.
    pub loopback: bool,
    /// Probe the address before using it (RFC 5227 §2.1, a MUST), on by
    /// default: [`Runtime::new`] returns once three ARP probes went
    /// unanswered (about 4 to 7 seconds) and the address is in use; the
    /// two announcements of §2.3 follow. Another station holding the
    /// address fails it with `AddrInUse`.
    ///
    /// Turn it off ([`RuntimeConfig::address_known_unique`]) only where no
    /// other station can hold the address: a link whose every end the
    /// caller configured itself (a test's own network namespace, an
    /// in-process pipe, a simulated network). The address is then used at
    /// once, with one announcement.
    pub probe_address: bool,
    /// Key the stack's secrets (ISNs, SYN cookies, ephemeral ports, IPv4
    /// Identification, hash tables) with 128 bits from the operating
    /// system's CSPRNG (`getrandom`) when the runtime starts, unless
    /// `stack.secret` is already set. On by default: a device on a real
    /// network must not be predictable from its address. Off, the stack's
    /// `seed` keys everything (reproducible; see [`StackConfig`]).
    pub os_secret: bool,
    /// Busy polling (like Linux's `SO_BUSY_POLL`): after a pass that
    /// read frames, the I/O thread keeps looking at the device for up to
    /// this long before it blocks in `poll(2)`, so a frame that follows
    /// soon is taken without a sleep and a wake-up (two context switches)
    /// — at the price of a core spinning while traffic flows. Readers are
    /// then woken once per burst (see [`RX_WAKE_BYTES`]). `None` (the
    /// default): block at once.
    pub busy_poll: Option<Duration>,
    /// Everything else about the stack.
    pub stack: StackConfig,
}

/// 128 bits from the operating system's CSPRNG, as a stack secret.
pub fn os_secret() -> io::Result<strata::secret::StackSecret> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| io::Error::other(format!("getrandom: {e}")))?;
    Ok(strata::secret::StackSecret::from_bytes(b))
}

impl RuntimeConfig {
    /// Defaults around one address: MTU 1500, derived MAC, no gateway.
    pub fn new(addr: Ipv4Cidr) -> RuntimeConfig {
        let o = addr.address().octets();
        RuntimeConfig {
            addr,
            gateway: None,
            mac: None,
            mtu: 1500,
            loopback: true,
            probe_address: true,
            os_secret: true,
            busy_poll: None,
            stack: StackConfig {
                seed: u64::from(u32::from(addr.address())) ^ 0x5354_5241_5441,
                ..StackConfig::default()
            },
        }
        .with_mac_default(o)
    }

    /// The opt-out of [`RuntimeConfig::probe_address`]: the caller knows
    /// that no other station on the link holds the address (it configured
    /// every end of the link), so the address is used at once.
    pub fn address_known_unique(mut self) -> Self {
        self.probe_address = false;
        self
    }

    fn with_mac_default(mut self, o: [u8; 4]) -> Self {
        self.mac = Some(MacAddr([0x02, 0x53, 0x54, o[1], o[2], o[3]]));
        self
    }
}

/// A key for waker registration: which socket, and which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum WakeKey {
    /// A UDP socket becoming readable.
    Udp(strata::transport::udp::UdpHandle),
    /// Anything about one TCP connection (readable, writable, connected,
    /// closed, reset ...).
    Tcp(strata::transport::tcp::TcpHandle),
    /// A connection waiting in a listener's accept queue.
    Listener(strata::transport::tcp::ListenerHandle),
}

/// Why a runtime's device stopped carrying frames. Once it has, socket
/// calls that would wait for the network fail at once with an
/// [`io::ErrorKind::NetworkDown`] error carrying this text, instead of
/// waiting forever; what the stack already holds (received bytes, queued
/// connections) can still be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceFailure {
    /// The device reached end of file or hung up: the other end of an
    /// in-process link was dropped.
    #[error("device {device} is gone: {reason}")]
    Ended {
        /// The device, as [`Device::describe`] gives it.
        device: String,
        /// What the device reported.
        reason: String,
    },
    /// Reading failed (e.g. `File descriptor in bad state` once a TAP
    /// interface has been deleted or its namespace removed).
    #[error("device {device} failed: {reason}")]
    Failed {
        /// The device, as [`Device::describe`] gives it.
        device: String,
        /// The error's kind.
        kind: io::ErrorKind,
        /// The error's text.
        reason: String,
    },
}

impl DeviceFailure {
    fn from_io(device: String, e: &io::Error) -> DeviceFailure {
        // End of file, or the other end of a socket pair closed with
        // frames still unread (ECONNRESET) or went away (EPIPE).
        if matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
        ) {
            DeviceFailure::Ended {
                device,
                reason: e.to_string(),
            }
        } else {
            DeviceFailure::Failed {
                device,
                kind: e.kind(),
                reason: e.to_string(),
            }
        }
    }

    /// The error socket calls give once the device has failed.
    pub fn to_io_error(&self) -> io::Error {
        io::Error::new(io::ErrorKind::NetworkDown, self.clone())
    }
}

/// Counters of the runtime's device (the stack keeps its own, per layer,
/// behind [`Runtime::with_stack`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeStats {
    /// Frames read from the device and handed to the stack.
    pub rx_frames: u64,
    /// Frames the device took.
    pub tx_frames: u64,
    /// Frames the stack sent that the device did not take (its queue was
    /// full, it failed, or it was gone): lost before reaching the wire,
    /// invisible to the stack's own counters.
    pub tx_dropped: u64,
    /// Passes of the I/O thread's loop (each one a wake-up from `poll`, or
    /// the next batch of a busy device): it grows with traffic and timers,
    /// and stays still on an idle or failed device — a runtime that spins
    /// shows here.
    pub io_passes: u64,
    /// Times the I/O thread blocked in `poll(2)` (each a sleep and, when
    /// it ends, a wake-up).
    pub io_sleeps: u64,
    /// Wakers the runtime woke (a blocked socket call or a task, each
    /// once per wake-up).
    pub wakeups: u64,
    /// Frames found by busy polling ([`RuntimeConfig::busy_poll`]): each
    /// such pass began without a sleep.
    pub busy_poll_hits: u64,
    /// Looks at the device while busy polling (zero-timeout `poll(2)`
    /// calls); it stops growing once traffic stops.
    pub busy_poll_spins: u64,
    /// Frames of another shard's flows that came in on this shard's queue
    /// and were handed to that shard (a multi-queue device, see
    /// [`crate::multiqueue`]).
    pub rx_steered_away: u64,
    /// Frames this shard's stack took from another shard's queue.
    pub rx_steered_in: u64,
    /// Times a socket call moved the stack's next deadline earlier than
    /// the one the I/O thread sleeps until (a write arming the
    /// retransmission timer of an idle connection): the call re-arms the
    /// thread's timer descriptor, which wakes it then, instead of waking
    /// it at once to look.
    pub timer_moves: u64,
    /// Sleeps of the I/O thread that a socket call ended (its wake-up
    /// descriptor: a deadline already due, a shutdown), each a context
    /// switch the call caused.
    pub woken_by_calls: u64,
    /// Sleeps of the I/O thread that ended at a deadline (a timer of the
    /// stack), with no frame waiting.
    pub woken_by_timers: u64,
}

/// Readable bytes at which a reader is woken at once, even while the I/O
/// thread goes on reading frames (its batch was full, or it busy-polls):
/// below it, the wake-up waits until the thread stops reading, so that a
/// reader wakes once per burst and finds it whole, not once per frame.
pub const RX_WAKE_BYTES: usize = 64 * 1024;

/// Whether a writer waiting for room should be woken: once a third of its
/// send buffer is free, as Linux's `sk_stream_write_space` does (free
/// space at least half of what is queued), so that it wakes to write a
/// large piece rather than once per acknowledgement. A connection that is
/// gone (its error wakes the writer anyway) counts as ready.
fn writable_ready(stack: &Stack, h: strata::transport::tcp::TcpHandle) -> bool {
    let tcp = stack.tcp();
    match (tcp.send_capacity(h), tcp.buffer_limits(h)) {
        (Ok(free), Ok((_, limit))) => free.saturating_mul(3) >= limit,
        _ => true,
    }
}

/// Everything the mutex guards.
pub(crate) struct State {
    pub(crate) stack: Stack,
    pub(crate) iface: IfaceId,
    /// What the device does for the stack (as last told to the stack).
    offloads: Offloads,
    /// Room for one frame in `pending` (the largest the stack emits).
    frame_room: usize,
    /// Frames the stack sent under this lock, handed to the device's
    /// queue when the lock is released (see [`Locked`]).
    pending: TxBatch,
    /// The condition variable is to be signalled once the lock is
    /// released (a woken blocking caller then finds the lock free).
    notify: bool,
    /// The deadline the I/O thread sleeps until (None: no timer).
    sleeping_until: Option<Instant>,
    /// Echo replies and errors, kept for `ping` callers (bounded).
    pub(crate) ping_events: VecDeque<Event>,
    wakers: BTreeMap<WakeKey, Vec<Waker>>,
    /// Wakers to wake once the lock is released (see [`Locked`]).
    woken: Vec<Waker>,
    /// Wakers to drop once the lock is released.
    released: Vec<Waker>,
    pub(crate) stats: RuntimeStats,
    /// Set once the device cannot carry frames any more.
    failure: Option<DeviceFailure>,
    pub(crate) closed: bool,
    /// Set by the I/O thread while it goes on reading at once (a full
    /// batch, busy polling): Readable wake-ups below [`RX_WAKE_BYTES`]
    /// are held in `held_readable` until it stops.
    hold_readable: bool,
    /// Connections whose reader's wake-up is held (see `hold_readable`).
    held_readable: Vec<strata::transport::tcp::TcpHandle>,
    /// Connections whose writer waits for a third of its buffer to be
    /// free (see [`writable_ready`]).
    held_writable: Vec<strata::transport::tcp::TcpHandle>,
    /// Since when readers' wake-ups are held (at most [`RX_HOLD_MAX`]).
    held_since: Option<std::time::Instant>,
    /// A socket call armed the I/O thread's timer ([`Inner::after_call`]);
    /// the thread disarms it when it next computes its own deadline.
    timer_armed: bool,
}

impl State {
    /// Takes everything the stack wants to send into `pending`; it is
    /// written to the device once the lock is released.
    pub(crate) fn flush(&mut self, now: Instant) {
        // Closed or failed: the frames are discarded so the stack's queue
        // does not grow; what the stack meant to send is lost, and
        // counted (on a failed device).
        let keep = !self.closed && self.failure.is_none();
        let mut sink = BatchSink {
            batch: &mut self.pending,
            room: self.frame_room,
            keep,
        };
        // One call fills the batch: queues, route and timers are looked
        // at once per run of a connection's segments.
        let n = self.stack.poll_transmit_burst_meta(now, &mut sink);
        if !keep && !self.closed {
            self.stats.tx_dropped += n as u64;
        }
    }

    /// Hands `pending` to the device's queue (under this lock, so the
    /// queue holds frames in the order the stack produced them), and
    /// takes note of an offload the device turned off.
    fn publish(&mut self, tx: &TxShared) {
        if self.pending.is_empty() {
            return;
        }
        let device_offloads = {
            let mut q = tx.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.batch.append(&mut self.pending);
            q.offloads
        };
        if let Some(o) = device_offloads.filter(|&o| o != self.offloads) {
            // The device turned an offload off (its kernel refused a
            // frame): the stack sends plain from its next frame on (the
            // device finishes in software what is queued meanwhile).
            self.offloads = o;
            let caps = DeviceCaps {
                mtu: self.stack.mtu(self.iface).unwrap_or(1500),
                offloads: o,
            };
            self.stack.set_device_caps(self.iface, caps);
        }
    }

    /// Routes the stack's events: ping results are kept, wakers are woken.
    /// Returns whether any event arrived.
    fn dispatch_events(&mut self) -> bool {
        let mut any = false;
        while let Some(ev) = self.stack.poll_event() {
            any = true;
            match ev {
                Event::EchoReply { .. } | Event::EchoError { .. } => {
                    if self.ping_events.len() >= 1024 {
                        self.ping_events.pop_front();
                    }
                    self.ping_events.push_back(ev);
                }
                Event::UdpReadable(h) | Event::UdpError { handle: h, .. } => {
                    self.wake(WakeKey::Udp(h));
                }
                Event::AddressConflict { addr, mac, .. } => {
                    tracing::warn!(%addr, %mac, "another station claims our address");
                }
                Event::Tcp(ev) => {
                    use strata::transport::tcp::TcpEvent as T;
                    match ev {
                        T::Acceptable { listener } => self.wake(WakeKey::Listener(listener)),
                        T::Readable(handle) => {
                            let queued = self.stack.tcp().recv_queue(handle).unwrap_or(usize::MAX);
                            if self.hold_readable && queued < RX_WAKE_BYTES {
                                if !self.held_readable.contains(&handle) {
                                    self.held_readable.push(handle);
                                }
                            } else {
                                self.wake(WakeKey::Tcp(handle));
                            }
                        }
                        T::Writable(handle) => {
                            if writable_ready(&self.stack, handle) {
                                self.wake(WakeKey::Tcp(handle));
                            } else if !self.held_writable.contains(&handle) {
                                self.held_writable.push(handle);
                            }
                        }
                        T::StateChanged { handle, .. }
                        | T::Connected(handle)
                        | T::PeerClosed(handle)
                        | T::Urgent(handle)
                        | T::Reset(handle)
                        | T::Refused(handle)
                        | T::TimedOut(handle)
                        | T::Unreachable { handle, .. }
                        | T::Closed(handle) => self.wake(WakeKey::Tcp(handle)),
                    }
                }
            }
        }
        any
    }

    /// Marks the wakers of `key` for waking. They are woken once the lock
    /// is released: a waker may poll its task inline, or drop it (and its
    /// sockets), and either calls back into the runtime.
    pub(crate) fn wake(&mut self, key: WakeKey) {
        if let Some(ws) = self.wakers.remove(&key) {
            self.stats.wakeups += ws.len() as u64;
            self.woken.extend(ws);
        }
    }

    /// Wakes the held readers (all of them with `all`, else those with
    /// [`RX_WAKE_BYTES`] waiting) and the held writers whose buffer is a
    /// third free. Returns whether any was woken.
    fn release_held(&mut self, all: bool) -> bool {
        let mut any = false;
        let mut i = 0;
        while i < self.held_readable.len() {
            let h = self.held_readable[i];
            let queued = self.stack.tcp().recv_queue(h).unwrap_or(usize::MAX);
            if all || queued >= RX_WAKE_BYTES {
                self.held_readable.swap_remove(i);
                self.wake(WakeKey::Tcp(h));
                any = true;
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i < self.held_writable.len() {
            let h = self.held_writable[i];
            if writable_ready(&self.stack, h) {
                self.held_writable.swap_remove(i);
                self.wake(WakeKey::Tcp(h));
                any = true;
            } else {
                i += 1;
            }
        }
        any
    }

    /// Registers `waker` to be woken by the next event about `key`.
    pub(crate) fn register(&mut self, key: WakeKey, waker: &Waker) {
        let ws = self.wakers.entry(key).or_default();
        if !ws.iter().any(|w| w.will_wake(waker)) {
            ws.push(waker.clone());
        }
    }

    /// Forgets the wakers of a socket that is being closed (they are
    /// dropped once the lock is released).
    pub(crate) fn forget(&mut self, key: WakeKey) {
        if let Some(ws) = self.wakers.remove(&key) {
            self.released.extend(ws);
        }
    }

    fn wake_all(&mut self) {
        self.held_readable.clear();
        self.held_writable.clear();
        for (_, ws) in std::mem::take(&mut self.wakers) {
            self.stats.wakeups += ws.len() as u64;
            self.woken.extend(ws);
        }
    }

    /// The error for a call that would wait on a device that has failed.
    pub(crate) fn device_error(&self) -> Option<io::Error> {
        self.failure.as_ref().map(DeviceFailure::to_io_error)
    }

    /// Records that the device failed: everything waiting is woken, to
    /// find [`State::device_error`].
    fn fail(&mut self, f: DeviceFailure) {
        if self.failure.is_none() {
            tracing::error!(error = %f, "device stopped; the runtime no longer reads it");
            self.failure = Some(f);
            self.wake_all();
        }
    }
}

/// The state, locked. Dropping it releases the lock and only then wakes
/// (and drops) the wakers that events marked, so that no waker runs with
/// the lock held.
pub(crate) struct Locked<'a> {
    guard: Option<MutexGuard<'a, State>>,
    inner: &'a Inner,
}

impl Locked<'_> {
    /// Whether work waits for the lock's release: wakers to wake or
    /// drop, blocking callers to signal, frames to write.
    fn has_deferred(&self) -> bool {
        self.guard.as_ref().is_some_and(|g| {
            !g.woken.is_empty() || !g.released.is_empty() || g.notify || !g.pending.is_empty()
        })
    }
}

impl std::ops::Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        self.guard.as_ref().expect("guard held until drop")
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.guard.as_mut().expect("guard held until drop")
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let Some(mut g) = self.guard.take() else {
            return;
        };
        g.publish(&self.inner.tx);
        let woken = std::mem::take(&mut g.woken);
        let released = std::mem::take(&mut g.released);
        let notify = std::mem::take(&mut g.notify);
        drop(g);
        // Lock released: write what the stack sent, then wake.
        self.inner.tx.drain();
        if notify {
            self.inner.cond.notify_all();
        }
        for w in woken {
            w.wake();
        }
        drop(released);
    }
}

/// Wakes a thread parked in [`Inner::wait_on`].
struct ThreadWaker(std::thread::Thread);

impl std::task::Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    /// One waker per thread: registering it again for the same socket
    /// adds nothing (`Waker::will_wake`).
    static THREAD_WAKER: Waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
}

/// The calling thread's waker: it unparks the thread.
pub(crate) fn thread_waker() -> Waker {
    THREAD_WAKER.with(Waker::clone)
}

/// The shared core of a runtime; sockets hold an `Arc` of it.
pub(crate) struct Inner {
    state: Mutex<State>,
    /// The device and the queue of frames to write to it.
    tx: TxShared,
    /// Signalled whenever the stack produced events (blocking sockets wait on it).
    pub(crate) cond: Condvar,
    wake: EventFd,
    /// The I/O thread's timer when a socket call moved its deadline
    /// earlier (see [`Inner::after_call`]).
    timer: TimerFd,
    epoch: std::time::Instant,
    shutdown: AtomicBool,
    next_ident: AtomicU16,
    addr: Ipv4Cidr,
    /// See [`RuntimeConfig::busy_poll`].
    busy_poll: Option<Duration>,
    /// The other shards, when this runtime is one shard of a multi-queue
    /// device ([`crate::multiqueue`]).
    shards: std::sync::OnceLock<crate::multiqueue::ShardSet>,
}

impl Inner {
    /// The runtime's counters, the device's writes included.
    pub(crate) fn stats(&self) -> RuntimeStats {
        let mut s = self.lock().stats;
        s.tx_frames += self.tx.frames.load(Ordering::Relaxed);
        s.tx_dropped += self.tx.dropped.load(Ordering::Relaxed);
        s
    }

    /// The stack's clock: time since the runtime started.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    /// Locks the state (a poisoned lock is still usable: the stack never
    /// panics halfway through a call on network input).
    pub(crate) fn lock(&self) -> Locked<'_> {
        Locked {
            guard: Some(self.state.lock().unwrap_or_else(|e| e.into_inner())),
            inner: self,
        }
    }

    /// Runs a socket call on the stack, then sends its output and, if the
    /// call moved the next timer earlier, wakes the I/O thread.
    pub(crate) fn with_stack<R>(&self, f: impl FnOnce(&mut State, Instant) -> R) -> io::Result<R> {
        let mut st = self.lock();
        if st.closed {
            return Err(closed());
        }
        let now = self.now();
        let r = f(&mut st, now);
        self.after_call(&mut st, now);
        Ok(r)
    }

    /// Makes this runtime shard `set.index` of a multi-queue device.
    pub(crate) fn join_shards(&self, set: crate::multiqueue::ShardSet) {
        let _ = self.shards.set(set);
    }

    /// Feeds frames that came in on another shard's queue to this shard's
    /// stack, then sends what it produced and wakes what waits.
    fn receive_steered<'a>(&self, frames: impl Iterator<Item = (&'a [u8], RxMeta)>) {
        let mut st = self.lock();
        if st.closed {
            return;
        }
        let now = self.now();
        let iface = st.iface;
        for (frame, meta) in frames {
            st.stack.receive_meta(now, iface, frame, meta);
            st.stats.rx_steered_in += 1;
        }
        self.after_call(&mut st, now);
    }

    /// Whether this shard's stack holds the connection of a TCP frame.
    fn owns_tcp_frame(&self, frame: &[u8]) -> bool {
        let st = self.lock();
        !st.closed && tcp_tuple(frame).is_some_and(|(l, r)| !st.stack.tcp().is_tuple_free(l, r))
    }

    /// Whether this shard's stack listens where a TCP frame goes.
    fn listens_for(&self, frame: &[u8]) -> bool {
        let st = self.lock();
        !st.closed
            && tcp_tuple(frame)
                .is_some_and(|(l, _)| st.stack.tcp().is_listening_port(*l.ip(), l.port()))
    }

    /// Feeds one frame to this shard's own stack outside the batch (a
    /// frame no other shard took), then sends and wakes.
    fn receive_here(&self, frame: &[u8], meta: RxMeta) {
        let mut st = self.lock();
        if st.closed {
            return;
        }
        st.stats.rx_steered_away -= 1;
        let now = self.now();
        let iface = st.iface;
        st.stack.receive_meta(now, iface, frame, meta);
        self.after_call(&mut st, now);
    }

    /// Sends the stack's output and wakes the I/O thread if its deadline moved.
    pub(crate) fn after_call(&self, st: &mut State, now: Instant) {
        st.flush(now);
        let mut next = st.stack.poll_timeout();
        if next.is_some_and(|t| t <= now) {
            // Due already (the timer structure may answer early, with an
            // entry a later call made stale): run it here rather than
            // wake the I/O thread to find that out.
            st.stack.handle_timeout(now);
            st.flush(now);
            next = st.stack.poll_timeout();
        }
        let mut woke = st.dispatch_events();
        if !st.held_writable.is_empty() {
            woke |= st.release_held(false);
        }
        st.notify |= woke;
        let earlier = match (next, st.sleeping_until) {
            (Some(n), Some(s)) => n < s,
            (Some(_), None) => true,
            _ => false,
        };
        if earlier {
            // Re-arm the I/O thread's timer (no wake-up now; it fires at
            // the deadline unless frames wake the thread first). Waking
            // the thread instead cost two context switches per write to
            // an idle connection: serving 256 MiB to curl, 958 of the
            // I/O thread's 2 108 sleeps ended that way.
            st.stats.timer_moves += 1;
            let after = next.map(|t| t.saturating_duration_since(now));
            if after.is_some_and(|a| !a.is_zero()) && self.timer.set(after).is_ok() {
                st.sleeping_until = next;
                st.timer_armed = true;
            } else {
                self.wake.notify();
            }
        }
    }

    /// One look of a waiting call: fails once the runtime has ended, runs
    /// `f` and sends what it produced, then fails with the device's error if
    /// `f` found nothing and would wait on a device that has failed.
    fn look<R>(
        &self,
        st: &mut State,
        f: &mut impl FnMut(&mut State, Instant) -> Option<R>,
    ) -> io::Result<Option<R>> {
        if st.closed {
            return Err(closed());
        }
        let now = self.now();
        let r = f(st, now);
        self.after_call(st, now);
        if r.is_none() {
            if let Some(e) = st.device_error() {
                return Err(e);
            }
        }
        Ok(r)
    }

    /// Blocks until `f` returns `Some` (it is re-run after every batch of
    /// events) or `deadline` passes (`Ok(None)`). Fails with the device's
    /// error when `f` would wait on a device that has failed.
    pub(crate) fn wait_for<R>(
        &self,
        deadline: Option<std::time::Instant>,
        mut f: impl FnMut(&mut State, Instant) -> Option<R>,
    ) -> io::Result<Option<R>> {
        let mut st = self.lock();
        loop {
            if let Some(r) = self.look(&mut st, &mut f)? {
                return Ok(Some(r));
            }
            if st.has_deferred() {
                // Write and wake with the lock released, then look again.
                drop(st);
                st = self.lock();
                continue;
            }
            let left = match time_left(deadline) {
                Left::Passed => return Ok(None),
                Left::Forever => None,
                Left::For(l) => Some(l),
            };
            let g = st.guard.take().expect("guard held until drop");
            let g = match left {
                None => self.cond.wait(g).unwrap_or_else(|e| e.into_inner()),
                Some(l) => {
                    self.cond
                        .wait_timeout(g, l)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
            st.guard = Some(g);
        }
    }

    /// Like [`Inner::wait_for`], for a call about one socket: the calling
    /// thread sleeps until an event about `key` (or the deadline, a device
    /// failure, the runtime's end), not until any event of the stack. With
    /// a thread per connection, an event then wakes the one thread it
    /// concerns instead of all of them (1 000 idle keep-alive connections
    /// were 1 000 threads woken per frame).
    pub(crate) fn wait_on<R>(
        &self,
        key: WakeKey,
        deadline: Option<std::time::Instant>,
        mut f: impl FnMut(&mut State, Instant) -> Option<R>,
    ) -> io::Result<Option<R>> {
        let waker = THREAD_WAKER.with(Waker::clone);
        let mut st = self.lock();
        loop {
            if let Some(r) = self.look(&mut st, &mut f)? {
                return Ok(Some(r));
            }
            let left = time_left(deadline);
            if left == Left::Passed {
                return Ok(None);
            }
            // Registered under the lock, so the event that wakes it cannot
            // come between the look above and the sleep below (an unpark
            // before the park makes the park return at once).
            st.register(key, &waker);
            drop(st);
            match left {
                Left::For(l) => std::thread::park_timeout(l),
                _ => std::thread::park(),
            }
            st = self.lock();
        }
    }

    /// Wakes everything that waits on this runtime: blocking callers and
    /// the wakers registered for `key`.
    pub(crate) fn wake_waiters(&self, key: WakeKey) {
        let mut st = self.lock();
        st.wake(key);
        drop(st);
        self.cond.notify_all();
    }

    /// The I/O thread.
    ///
    /// Each pass has two phases. First, with the lock released, up to a
    /// batch of frames is read from the device's read half (`reader`,
    /// this thread's alone) into one arena, one system call per frame:
    /// socket calls meanwhile find the stack free (a reader copies data
    /// out while the next frames arrive) and write what they send through
    /// the write half. Then, with the lock held once, every frame of the
    /// batch is fed to the
    /// stack, timers run, output is sent and the events of the whole batch
    /// wake their sockets: blocking and async sockets wake once per batch,
    /// not once per frame. While the thread goes on reading at once (its
    /// batch was full, or it busy-polls), a reader is woken only once
    /// [`RX_WAKE_BYTES`] wait for it, or when the thread stops reading:
    /// once per burst. A writer is woken once a third of its send buffer
    /// is free.
    ///
    /// With [`RuntimeConfig::busy_poll`], after a pass that read frames
    /// the thread looks at the device (a `poll(2)` that does not wait)
    /// until the budget since the last frame is spent, and blocks only
    /// then.
    fn run(self: Arc<Self>, mut reader: Box<dyn Device>) {
        let mut batch = RxBatch::new(RX_BATCH_FRAMES, RX_BATCH_BYTES, RX_FRAME_MAX);
        // The device hung up or is in an error state (poll said so).
        let mut hangup = false;
        // Read the device this pass (poll said it is readable, or the last
        // batch was full); otherwise only timers and output are due.
        let mut readable = true;
        // When a frame last came in (busy polling spins for its budget
        // after it).
        let mut last_frame: Option<std::time::Instant> = None;
        // Counters kept outside the lock until the next pass takes it.
        let (mut spins, mut hits, mut sleeps) = (0u64, 0u64, 0u64);
        let (mut by_calls, mut by_timers) = (0u64, 0u64);
        // The shards of a multi-queue device (set once they all run), and
        // the frames of this batch that belong to another shard.
        let mut shards = self.shards.get();
        let mut steered: Vec<(usize, Steer)> = Vec::new();
        // The device has failed (only this thread finds that out).
        let mut failed = false;
        loop {
            if self.shutdown.load(Ordering::Acquire) {
                break;
            }
            if shards.is_none() {
                shards = self.shards.get();
            }
            // Phase 1: read a batch without the lock.
            batch.clear();
            let mut failure = None;
            if readable && !failed {
                // The read half is this thread's alone: socket calls go on
                // meanwhile, and write what they send through the write
                // half.
                failure = batch
                    .fill(&mut *reader, hangup)
                    .err()
                    .map(|e| (reader.describe(), e));
            }
            if !batch.frames.is_empty() {
                last_frame = Some(std::time::Instant::now());
            }
            // Will this thread look at the device again before it sleeps?
            let spin_until = match (self.busy_poll, last_frame) {
                (Some(budget), Some(t)) => Some(t + budget),
                _ => None,
            }
            .filter(|&u| u > std::time::Instant::now());
            // Phase 2: feed it, run timers, send, wake.
            let (timeout, holding) = {
                let mut st = self.lock();
                st.stats.io_passes += 1;
                st.stats.busy_poll_spins += std::mem::take(&mut spins);
                st.stats.busy_poll_hits += std::mem::take(&mut hits);
                st.stats.io_sleeps += std::mem::take(&mut sleeps);
                st.stats.woken_by_calls += std::mem::take(&mut by_calls);
                st.stats.woken_by_timers += std::mem::take(&mut by_timers);
                let now = self.now();
                let iface = st.iface;
                // Readers wait for the rest of a burst (bounded in bytes,
                // and in time by RX_HOLD_MAX).
                let hold = (batch.full() || spin_until.is_some())
                    && st.held_since.is_none_or(|t| t.elapsed() < RX_HOLD_MAX);
                st.hold_readable = hold;
                for (i, (frame, meta)) in batch.frames().enumerate() {
                    st.stats.rx_frames += 1;
                    if let Some(set) = shards {
                        let to = set.steer(frame, |l, r| !st.stack.tcp().is_tuple_free(l, r));
                        if to != Steer::Local {
                            steered.push((i, to));
                            st.stats.rx_steered_away += u64::from(to != Steer::All);
                            if to != Steer::All {
                                continue;
                            }
                        }
                    }
                    st.stack.receive_meta(now, iface, frame, meta);
                }
                let newly_failed = failure.is_some();
                if let Some((name, e)) = failure {
                    st.fail(DeviceFailure::from_io(name, &e));
                }
                if st.stack.poll_timeout().is_some_and(|t| t <= now) {
                    st.stack.handle_timeout(now);
                }
                st.flush(now);
                let mut woke = st.dispatch_events();
                st.hold_readable = false;
                woke |= st.release_held(!hold);
                if st.held_readable.is_empty() {
                    st.held_since = None;
                } else if st.held_since.is_none() {
                    st.held_since = Some(std::time::Instant::now());
                }
                st.notify |= woke || newly_failed;
                if st.timer_armed {
                    // The deadline a socket call set is the stack's; the
                    // timeout computed below covers it.
                    st.timer_armed = false;
                    let _ = self.timer.set(None);
                    self.timer.drain();
                }
                let timeout = if batch.full() {
                    Some(Duration::ZERO)
                } else {
                    let next = st.stack.poll_timeout();
                    st.sleeping_until = next;
                    next.map(|t| t.saturating_duration_since(self.now()))
                };
                failed = st.failure.is_some();
                (timeout, !st.held_readable.is_empty())
                // Dropping `st` releases the lock, then writes the output
                // and wakes the woken wakers.
            };
            if let Some(set) = shards.filter(|_| !steered.is_empty()) {
                // Frames of other shards' flows, with this shard's lock
                // released (one lock at a time: no shard waits for another
                // while holding its own).
                self.hand_over(set, &batch, &steered);
                steered.clear();
            }
            hangup = false;
            readable = true;
            if timeout == Some(Duration::ZERO) {
                continue;
            }
            if self.shutdown.load(Ordering::Acquire) {
                break;
            }
            // A failed device stays readable (or in error) for good:
            // then only the wake-up descriptor and the timers are left.
            let fds = [self.wake.as_fd(), self.timer.as_fd(), reader.as_fd()];
            let fds = if failed { &fds[..2] } else { &fds[..] };
            let spin_start = std::time::Instant::now();
            if let Some(until) = spin_until.filter(|_| !failed) {
                // Busy polling: look without waiting until the budget (or
                // the stack's next timer) is spent.
                let until = match timeout {
                    Some(t) => until.min(spin_start + t),
                    None => until,
                };
                let mut found = false;
                while !found && std::time::Instant::now() < until {
                    if self.shutdown.load(Ordering::Acquire) {
                        break;
                    }
                    spins += 1;
                    match poll_events(fds, Some(Duration::ZERO)) {
                        Ok(ready) => {
                            if ready[0].any() {
                                self.wake.drain();
                                found = true;
                            }
                            if ready[1].any() {
                                self.timer.drain();
                                found = true;
                            }
                            if ready.get(2).is_some_and(|r| r.any()) {
                                hangup = ready[2].hangup;
                                hits += 1;
                                found = true;
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "poll failed; runtime stops");
                            return;
                        }
                    }
                    if !found {
                        std::hint::spin_loop();
                    }
                }
                if found {
                    continue;
                }
            }
            if holding {
                // About to sleep: the readers held for the rest of a burst
                // get what came.
                let mut st = self.lock();
                st.notify |= st.release_held(true);
                st.held_since = None;
            }
            sleeps += 1;
            let timeout = timeout.map(|t| t.saturating_sub(spin_start.elapsed()));
            match poll_events(fds, timeout) {
                Ok(ready) => {
                    if ready[0].any() {
                        self.wake.drain();
                        by_calls += 1;
                    }
                    if ready[1].any() {
                        self.timer.drain();
                    }
                    hangup = ready.get(2).is_some_and(|r| r.hangup);
                    readable = ready.get(2).is_some_and(|r| r.any());
                    if !readable && !ready[0].any() {
                        by_timers += 1;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "poll failed; runtime stops");
                    break;
                }
            }
        }
    }
}

impl Inner {
    /// Hands the frames of `steered` (indices into `batch`) to the shards
    /// they belong to; a frame no shard claims is fed to this one (whose
    /// stack answers it as it would any stray segment).
    fn hand_over(&self, set: &ShardSet, batch: &RxBatch, steered: &[(usize, Steer)]) {
        let others = || {
            set.all
                .iter()
                .enumerate()
                .filter(move |(k, _)| *k != set.index)
                .filter_map(|(k, w)| w.upgrade().map(|i| (k, i)))
        };
        let for_shard = |k: usize| {
            steered
                .iter()
                .filter(move |(_, to)| *to == Steer::To(k) || *to == Steer::All)
                .map(|&(i, _)| batch.frame(i))
        };
        for (k, shard) in others() {
            if for_shard(k).next().is_some() {
                shard.receive_steered(for_shard(k));
            }
        }
        for &(i, to) in steered
            .iter()
            .filter(|(_, to)| matches!(to, Steer::Ask | Steer::Syn))
        {
            let (frame, meta) = batch.frame(i);
            let owner = others()
                .find(|(_, shard)| shard.owns_tcp_frame(frame))
                .map(|(_, s)| s);
            if let Some(shard) = owner {
                shard.receive_steered(std::iter::once((frame, meta)));
                continue;
            }
            if to == Steer::Syn {
                // A new connection: the next shard in turn that listens
                // on its port takes it, so that connections spread over
                // the queues evenly (the kernel's hash put three of four
                // on one queue as often as two); its SYN-ACK, written on
                // its own queue, brings the flow's next frames there.
                let n = set.all.len();
                let first = set.deal_syn();
                let taker = (0..n).map(|j| (first + j) % n).find_map(|k| {
                    if k == set.index {
                        return self.listens_for(frame).then_some(None);
                    }
                    let shard = set.all[k].upgrade()?;
                    shard.listens_for(frame).then_some(Some(shard))
                });
                if let Some(Some(shard)) = taker {
                    shard.receive_steered(std::iter::once((frame, meta)));
                    continue;
                }
            }
            // No other shard claims it: this one answers it as it would
            // any segment.
            self.receive_here(frame, meta);
        }
    }
}

/// The (local, remote) addresses of an IPv4 TCP frame, if it is one.
fn tcp_tuple(frame: &[u8]) -> Option<(std::net::SocketAddrV4, std::net::SocketAddrV4)> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(14..)?;
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    if ip.len() < 20 || ihl < 20 || ip[9] != 6 {
        return None;
    }
    let tcp = ip.get(ihl..ihl + 4)?;
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    Some((
        std::net::SocketAddrV4::new(dst, u16::from_be_bytes([tcp[2], tcp[3]])),
        std::net::SocketAddrV4::new(src, u16::from_be_bytes([tcp[0], tcp[1]])),
    ))
}

/// The [`FrameSink`] that fills a [`TxBatch`] from
/// [`Stack::poll_transmit_burst_meta`]: each buffer is the room after the
/// batch's last frame (grown to `room` bytes), and a frame sent is
/// committed there; with `keep` false the frames are counted and dropped.
struct BatchSink<'a> {
    batch: &'a mut TxBatch,
    room: usize,
    keep: bool,
}

impl FrameSink for BatchSink<'_> {
    fn buffer(&mut self) -> Option<&mut [u8]> {
        Some(self.batch.room(self.room))
    }

    fn send(&mut self, t: Transmit) {
        if self.keep {
            self.batch.commit(t.len, t.meta);
        }
    }
}

/// Frames produced by the stack, packed one after another in one arena.
#[derive(Default)]
struct TxBatch {
    arena: Vec<u8>,
    /// Bytes of `arena` in use (it keeps its length, so that room for the
    /// next frame is not zeroed again each time).
    used: usize,
    /// (start, length, what the device is to do) of each frame.
    frames: Vec<(usize, usize, TxMeta)>,
}

impl TxBatch {
    fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    fn clear(&mut self) {
        self.frames.clear();
        self.used = 0;
    }

    /// Room for the next frame, at least `n` bytes.
    fn room(&mut self, n: usize) -> &mut [u8] {
        if self.arena.len() < self.used + n {
            self.arena.resize(self.used + n, 0);
        }
        &mut self.arena[self.used..]
    }

    /// Keeps the `len` bytes just written into [`TxBatch::room`].
    fn commit(&mut self, len: usize, meta: TxMeta) {
        self.frames.push((self.used, len, meta));
        self.used += len;
    }

    /// Moves the frames of `other` after this batch's own (`other` is left
    /// empty, with its room kept).
    fn append(&mut self, other: &mut TxBatch) {
        if self.is_empty() {
            std::mem::swap(self, other);
            other.clear();
            return;
        }
        for &(s, n, meta) in &other.frames {
            let at = self.used;
            if self.arena.len() < at + n {
                self.arena.resize(at + n, 0);
            }
            self.arena[at..at + n].copy_from_slice(&other.arena[s..s + n]);
            self.frames.push((at, n, meta));
            self.used += n;
        }
        other.clear();
    }
}

/// The frames waiting for the device, in the order the stack produced them.
struct TxQueue {
    batch: TxBatch,
    /// What the device does, once it turned an offload off (the stack is
    /// told when it next sends).
    offloads: Option<Offloads>,
}

/// The device's side of a runtime, under its own lock.
struct DevSide {
    /// `None` once the runtime has closed it.
    device: Option<Box<dyn Device>>,
    /// The batch being written (kept for its room).
    out: TxBatch,
    /// What the device did, as last seen.
    offloads: Offloads,
}

/// The device and its queue of frames, apart from the stack's lock.
///
/// Under the stack's lock, the frames a call produced are appended to
/// `queue` (a short lock of its own), so the queue holds them in the
/// stack's order. With the stack's lock released, the thread drains the
/// queue into the device unless another thread holds the device
/// ([`TxShared::drain`]); then that thread writes them after its own. One
/// writer at a time, taking frames in queue order: two threads never
/// interleave or reorder the frames of one device, so the segments of a
/// TCP connection leave in sequence. The device here is the write half
/// ([`Device::split_writer`]): the I/O thread reads through the read half
/// with no lock, so a write never waits for a read batch nor a read for
/// a write.
///
/// Lock order: the stack's, then the queue's; the device's, then the
/// queue's. No thread waits for the stack's lock while it holds the
/// device's.
pub(crate) struct TxShared {
    queue: Mutex<TxQueue>,
    dev: Mutex<DevSide>,
    /// Frames the device took.
    frames: AtomicU64,
    /// Frames the device did not take.
    dropped: AtomicU64,
}

impl TxShared {
    /// Writes the queued frames to the device unless another thread holds
    /// it (that thread then writes them: it looks at the queue again after
    /// it let the device go).
    fn drain(&self) {
        loop {
            if self.queue_empty() {
                return;
            }
            let mut d = match self.dev.try_lock() {
                Ok(d) => d,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return,
            };
            while self.take_queued(&mut d) {
                self.write_out(&mut d, None);
            }
            drop(d);
            // A frame queued after the last look, by a thread that found
            // the device held, is this thread's to write: look again.
        }
    }

    /// Like [`TxShared::drain`], waiting for the device's lock, and a
    /// frame the device cannot take now is retried once it can (until
    /// `deadline`): for the last words of a runtime (the RSTs of
    /// `Runtime::drop`), which no retransmission will repeat.
    fn drain_patiently(&self, deadline: std::time::Instant) {
        let mut d = self.dev.lock().unwrap_or_else(|e| e.into_inner());
        while self.take_queued(&mut d) {
            self.write_out(&mut d, Some(deadline));
        }
    }

    fn queue_empty(&self) -> bool {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .batch
            .is_empty()
    }

    /// Moves the queued frames into `d.out`; false if there were none.
    fn take_queued(&self, d: &mut DevSide) -> bool {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.batch.is_empty() {
            return false;
        }
        d.out.clear();
        std::mem::swap(&mut q.batch, &mut d.out);
        true
    }

    /// Writes `d.out` to the device (a closed device takes nothing).
    fn write_out(&self, d: &mut DevSide, patient: Option<std::time::Instant>) {
        let DevSide {
            device,
            out,
            offloads,
        } = d;
        let Some(dev) = device.as_mut() else {
            out.clear();
            return;
        };
        let (mut sent, mut dropped) = (0u64, 0u64);
        for &(s, n, meta) in &out.frames {
            let frame = &mut out.arena[s..s + n];
            loop {
                match dev.send_meta(frame, &meta) {
                    Ok(true) => sent += 1,
                    Ok(false) => {
                        if let Some(deadline) = patient {
                            let left =
                                deadline.saturating_duration_since(std::time::Instant::now());
                            if !left.is_zero()
                                && crate::sys::poll_writable(dev.as_fd(), left).unwrap_or(false)
                            {
                                continue;
                            }
                        }
                        dropped += 1;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "device send failed");
                        dropped += 1;
                    }
                }
                break;
            }
        }
        out.clear();
        self.frames.fetch_add(sent, Ordering::Relaxed);
        self.dropped.fetch_add(dropped, Ordering::Relaxed);
        if dev.offloads() != *offloads {
            *offloads = dev.offloads();
            self.queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .offloads = Some(*offloads);
        }
    }
}

/// Longest a reader's wake-up is held while the I/O thread reads on.
const RX_HOLD_MAX: Duration = Duration::from_micros(500);

/// Frames the I/O thread reads per pass at most.
const RX_BATCH_FRAMES: usize = 64;
/// Bytes of frames the I/O thread reads per pass at most (about 170
/// full-size Ethernet frames; a batch also ends at [`RX_BATCH_FRAMES`]).
const RX_BATCH_BYTES: usize = 256 * 1024;
/// Room kept for each read: the largest frame a device gives (a TAP with
/// offloads hands over super-frames of a whole 64 KiB IP datagram).
const RX_FRAME_MAX: usize = crate::tap::MAX_OFFLOAD_FRAME;

/// A batch of received frames, packed one after another in one arena.
struct RxBatch {
    arena: Vec<u8>,
    /// (start, length, what the device said of it) of each frame in
    /// `arena`.
    frames: Vec<(usize, usize, RxMeta)>,
    used: usize,
    max_frames: usize,
    frame_max: usize,
    /// The last fill stopped because the batch was full, not because the
    /// device had nothing more.
    full: bool,
}

impl RxBatch {
    fn new(max_frames: usize, bytes: usize, frame_max: usize) -> RxBatch {
        RxBatch {
            arena: vec![0; bytes + frame_max],
            frames: Vec::with_capacity(max_frames),
            used: 0,
            max_frames,
            frame_max,
            full: false,
        }
    }

    fn clear(&mut self) {
        self.frames.clear();
        self.used = 0;
        self.full = false;
    }

    /// Reads frames from `dev` until it has none, the batch is full, or it
    /// fails. `hangup`: poll reported an error or hang-up, so a device with
    /// nothing to read is done.
    fn fill(&mut self, dev: &mut dyn Device, hangup: bool) -> io::Result<()> {
        loop {
            if self.frames.len() >= self.max_frames || self.used + self.frame_max > self.arena.len()
            {
                self.full = true;
                return Ok(());
            }
            let room = &mut self.arena[self.used..self.used + self.frame_max];
            match dev.recv_meta(room)? {
                Some((n, meta)) => {
                    self.frames.push((self.used, n, meta));
                    self.used += n;
                }
                None => {
                    if hangup && self.frames.is_empty() {
                        // Error or hang-up, yet nothing to read and no
                        // error to read: the device is done.
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the device hung up",
                        ));
                    }
                    return Ok(());
                }
            }
        }
    }

    fn frame(&self, i: usize) -> (&[u8], RxMeta) {
        let (s, n, meta) = self.frames[i];
        (&self.arena[s..s + n], meta)
    }

    fn frames(&self) -> impl Iterator<Item = (&[u8], RxMeta)> + '_ {
        self.frames
            .iter()
            .map(|&(s, n, meta)| (&self.arena[s..s + n], meta))
    }

    fn full(&self) -> bool {
        self.full
    }
}

pub(crate) fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "strata runtime has shut down")
}

/// A running stack: the I/O thread, the device and the shared state.
/// Cheap handles for sockets come from [`Runtime::handle`].
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

/// A cloneable reference to a running [`Runtime`], for creating sockets
/// from any thread.
#[derive(Clone)]
pub struct RuntimeHandle {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for RuntimeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RuntimeHandle({})", self.inner.addr)
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Runtime({})", self.inner.addr)
    }
}

/// Result of one echo request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingReply {
    /// The destination answered.
    Reply {
        /// Who answered.
        from: Ipv4Addr,
        /// Round-trip time.
        rtt: Duration,
        /// TTL of the reply.
        ttl: u8,
        /// Echo data bytes.
        len: usize,
    },
    /// An ICMP error (or ARP failure) came back instead, e.g. host unreachable.
    Error(String),
    /// Nothing came back in time.
    Timeout,
}

impl Runtime {
    /// Starts a runtime driving `device` with one interface configured by
    /// `config`. Unless `config.probe_address` is off, the address is
    /// probed first (RFC 5227 §2.1), so this takes a few seconds and fails
    /// with `AddrInUse` when another station holds the address.
    pub fn new(device: impl Device, config: RuntimeConfig) -> io::Result<Runtime> {
        let invalid =
            |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
        let mut sc = config.stack;
        if config.os_secret && sc.secret.is_none() {
            sc.secret = Some(os_secret()?);
        }
        let mut stack = Stack::new(sc);
        let mac = config.mac.unwrap_or(MacAddr([0x02, 0x53, 0x54, 0, 0, 1]));
        let iface = stack.add_interface(mac, config.mtu);
        // The device's offloads (TSO, checksums) reach the stack here.
        stack.set_device_caps(
            iface,
            DeviceCaps {
                mtu: config.mtu,
                offloads: device.offloads(),
            },
        );
        if config.probe_address {
            // RFC 5227 §2.1: probe before use (the runtime's clock starts
            // at zero in `start`).
            stack
                .probe_address(Instant::ZERO, iface, config.addr)
                .map_err(|e| invalid(&e))?;
        } else {
            stack
                .add_address(iface, config.addr)
                .map_err(|e| invalid(&e))?;
        }
        if config.loopback {
            stack.add_loopback();
        }
        let rt = Self::start(
            Box::new(device),
            stack,
            iface,
            config.addr,
            config.mtu,
            config.busy_poll,
        )?;
        if config.probe_address {
            rt.wait_for_address(config.addr.address())?;
        }
        if let Some(gw) = config.gateway {
            // The gateway's route is the address's connected route.
            rt.with_stack(|s| s.set_default_gateway(gw))?
                .map_err(|e| invalid(&e))?;
        }
        Ok(rt)
    }

    /// Waits while `addr` is probed: `Ok` once it is ours, `AddrInUse` when
    /// another station claimed it (RFC 5227 §2.1.1).
    fn wait_for_address(&self, addr: Ipv4Addr) -> io::Result<()> {
        // Three probes and ANNOUNCE_WAIT take at most 1 + 2 + 2 + 2 s.
        let give_up = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let slice = std::time::Instant::now() + Duration::from_millis(50);
            let got = self.inner.wait_for(Some(slice), |st, _| {
                if st.stack.is_local_addr(addr) {
                    Some(Ok(()))
                } else if !st.stack.is_tentative(addr) {
                    Some(Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("address conflict: another station on the link holds {addr} (RFC 5227 probe answered)"),
                    )))
                } else {
                    None
                }
            })?;
            match got {
                Some(r) => return r,
                None if std::time::Instant::now() >= give_up => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("probing {addr} did not finish"),
                    ))
                }
                None => {}
            }
        }
    }

    /// Starts a runtime whose stack has only its loopback interface
    /// (127.0.0.0/8) and no link: programs in this process talk to each
    /// other through strata's TCP and UDP, and nothing leaves it.
    pub fn loopback(stack: StackConfig) -> io::Result<Runtime> {
        let mut stack = Stack::new(stack);
        let lo = stack.add_loopback();
        let addr = stack.addresses(lo)[0];
        Self::start(
            Box::new(crate::device::NullDevice::new()?),
            stack,
            lo,
            addr,
            1500,
            None,
        )
    }

    fn start(
        device: Box<dyn Device>,
        stack: Stack,
        iface: IfaceId,
        addr: Ipv4Cidr,
        mtu: usize,
        busy_poll: Option<Duration>,
    ) -> io::Result<Runtime> {
        // Echo identifiers start at a secret place too when the stack has
        // a secret (RFC 7739 §5.3's concern: nothing guessable from outside).
        let seed = match stack.config().secret {
            Some(_) => u64::from(getrandom::u32().map_err(|e| io::Error::other(e.to_string()))?),
            None => stack.config().seed,
        };
        let mut device = device;
        let offloads = device.offloads();
        // The I/O thread reads through `device` and every thread writes
        // through its write half, each with no lock of the other's; a
        // device that does not split is shared behind one lock.
        let (reader, writer): (Box<dyn Device>, Box<dyn Device>) = match device.split_writer()? {
            Some(writer) => (device, writer),
            None => {
                let shared = SharedDevice::new(device);
                (Box::new(shared.clone()), Box::new(shared))
            }
        };
        // Room for the largest frame: a super-segment where the device
        // takes them.
        let frame_max = offloads.tso_max.map_or(mtu, |m| m.max(mtu));
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                stack,
                iface,
                offloads,
                frame_room: frame_max + 14 + 64,
                pending: TxBatch::default(),
                notify: false,
                sleeping_until: None,
                ping_events: VecDeque::new(),
                wakers: BTreeMap::new(),
                woken: Vec::new(),
                released: Vec::new(),
                stats: RuntimeStats::default(),
                failure: None,
                closed: false,
                hold_readable: false,
                held_readable: Vec::new(),
                held_writable: Vec::new(),
                held_since: None,
                timer_armed: false,
            }),
            tx: TxShared {
                queue: Mutex::new(TxQueue {
                    batch: TxBatch::default(),
                    offloads: None,
                }),
                dev: Mutex::new(DevSide {
                    device: Some(writer),
                    out: TxBatch::default(),
                    offloads,
                }),
                frames: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
            },
            cond: Condvar::new(),
            wake: EventFd::new()?,
            timer: TimerFd::new()?,
            epoch: std::time::Instant::now(),
            shutdown: AtomicBool::new(false),
            next_ident: AtomicU16::new((seed as u16) | 1),
            addr,
            busy_poll,
            shards: std::sync::OnceLock::new(),
        });
        // The gratuitous ARP from add_address goes out now.
        {
            let mut st = inner.lock();
            let now = inner.now();
            st.flush(now);
        }
        let run = inner.clone();
        let thread = std::thread::Builder::new()
            .name("strata-io".into())
            .spawn(move || run.run(reader))?;
        Ok(Runtime {
            inner,
            thread: Some(thread),
        })
    }

    /// A handle for creating sockets.
    pub fn handle(&self) -> RuntimeHandle {
        RuntimeHandle {
            inner: self.inner.clone(),
        }
    }

    /// The interface address.
    pub fn addr(&self) -> Ipv4Cidr {
        self.inner.addr
    }

    /// Sends one ICMP echo request (RFC 792) with `payload` and waits up to
    /// `timeout` for its reply.
    pub fn ping(
        &self,
        dst: Ipv4Addr,
        seq: u16,
        payload: &[u8],
        timeout: Duration,
    ) -> io::Result<PingReply> {
        self.handle().ping(dst, seq, payload, timeout)
    }

    /// Runs `f` with the stack locked (for statistics and inspection).
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut Stack) -> R) -> io::Result<R> {
        self.inner.with_stack(|st, _| f(&mut st.stack))
    }

    /// The device's counters (frames in, out and dropped).
    pub fn stats(&self) -> RuntimeStats {
        self.inner.stats()
    }

    /// Frames the stack sent that the device did not take (see
    /// [`RuntimeStats::tx_dropped`]).
    pub fn tx_dropped(&self) -> u64 {
        self.stats().tx_dropped
    }

    /// Why the device stopped carrying frames, once it has (end of file,
    /// hang-up, or a read error such as a deleted TAP interface).
    pub fn device_failure(&self) -> Option<DeviceFailure> {
        self.inner.lock().failure.clone()
    }

    /// Waits up to `timeout` (`None`: for ever) for the device to fail,
    /// and gives the failure; `None` if it still works at the deadline.
    /// A server can park a thread here to learn that its network is gone.
    pub fn wait_device_failure(&self, timeout: Option<Duration>) -> Option<DeviceFailure> {
        self.handle().wait_device_failure(timeout)
    }
}

impl RuntimeHandle {
    /// Runs `f` on the stack (with the runtime's clock), then sends what it
    /// produced; for socket layers built outside this crate.
    /// `NotConnected` once the runtime has shut down.
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut Stack, Instant) -> R) -> io::Result<R> {
        self.inner.with_stack(|st, now| f(&mut st.stack, now))
    }

    /// Blocks until `f` returns `Some` or `deadline` passes (`Ok(None)`);
    /// `f` runs with the stack locked, again after every batch of stack
    /// events. The building block of blocking socket calls.
    pub fn wait_until<R>(
        &self,
        deadline: Option<std::time::Instant>,
        mut f: impl FnMut(&mut Stack, Instant) -> Option<R>,
    ) -> io::Result<Option<R>> {
        self.inner
            .wait_for(deadline, |st, now| f(&mut st.stack, now))
    }

    /// True when both handles drive the same runtime.
    pub fn same_runtime(&self, other: &RuntimeHandle) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// See [`Runtime::stats`].
    pub fn stats(&self) -> RuntimeStats {
        self.inner.stats()
    }

    /// See [`Runtime::device_failure`].
    pub fn device_failure(&self) -> Option<DeviceFailure> {
        self.inner.lock().failure.clone()
    }

    /// See [`Runtime::wait_device_failure`].
    pub fn wait_device_failure(&self, timeout: Option<Duration>) -> Option<DeviceFailure> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut st = self.inner.lock();
        loop {
            if let Some(f) = st.failure.clone() {
                return Some(f);
            }
            if st.closed {
                return None;
            }
            let g = st.guard.take().expect("guard held until drop");
            let g = match deadline {
                None => self.inner.cond.wait(g).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        st.guard = Some(g);
                        return None;
                    }
                    self.inner
                        .cond
                        .wait_timeout(g, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
            st.guard = Some(g);
        }
    }

    /// See [`Runtime::ping`].
    pub fn ping(
        &self,
        dst: Ipv4Addr,
        seq: u16,
        payload: &[u8],
        timeout: Duration,
    ) -> io::Result<PingReply> {
        let ident = self.inner.next_ident.fetch_add(1, Ordering::Relaxed);
        self.inner
            .with_stack(|st, now| st.stack.ping(now, dst, ident, seq, payload))?
            .map_err(|e| io::Error::new(io::ErrorKind::HostUnreachable, e))?;
        let deadline = std::time::Instant::now() + timeout;
        let got = self.inner.wait_for(Some(deadline), |st, _| {
            let pos = st.ping_events.iter().position(|e| match e {
                Event::EchoReply {
                    ident: i, seq: s, ..
                }
                | Event::EchoError {
                    ident: i, seq: s, ..
                } => *i == ident && *s == seq,
                _ => false,
            })?;
            st.ping_events.remove(pos)
        })?;
        Ok(match got {
            Some(Event::EchoReply {
                from,
                rtt,
                ttl,
                len,
                ..
            }) => PingReply::Reply {
                from,
                rtt: Duration::from_nanos(rtt.as_nanos() as u64),
                ttl,
                len,
            },
            Some(Event::EchoError { error, .. }) => PingReply::Error(error.to_string()),
            _ => PingReply::Timeout,
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.inner.shutdown.store(true, Ordering::Release);
        self.inner.wake.notify();
        if let Some(t) = self.thread.take() {
            // A waker run by the I/O thread may drop the runtime there: that
            // thread then ends by itself once this returns (it checks
            // `shutdown`), and cannot join itself.
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
        let mut st = self.inner.lock();
        let tx = &self.inner.tx;
        // The host is going away: every live connection is aborted, so
        // peers see a RST (RFC 9293 §3.10.5) instead of silence. Aborts
        // are not bounded by the stack's RST queue limit, and the RSTs are
        // sent patiently (a full device queue is waited for, up to a
        // second): no peer is left holding a connection that will never
        // hear from us again.
        let now = self.inner.now();
        let live: Vec<_> = st
            .stack
            .tcp()
            .connections()
            .filter(|(_, i)| {
                !matches!(
                    i.state,
                    strata::transport::tcp::State::TimeWait | strata::transport::tcp::State::Closed
                )
            })
            .map(|(h, _)| h)
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        for chunk in live.chunks(64) {
            for &h in chunk {
                let _ = st.stack.tcp_abort(now, h);
            }
            st.flush(now);
            st.publish(tx);
            tx.drain_patiently(deadline);
        }
        st.flush(now);
        st.publish(tx);
        tx.drain_patiently(deadline);
        st.closed = true;
        // Closes the write half of the TAP / pipe (no thread writes to it:
        // the device's lock is never held while the stack's is waited
        // for); the read half closes as the I/O thread ends.
        tx.dev.lock().unwrap_or_else(|e| e.into_inner()).device = None;
        st.wake_all();
        drop(st);
        self.inner.cond.notify_all();
    }
}

/// What is left of a waiting call's optional deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    /// No deadline.
    Forever,
    /// This long.
    For(Duration),
    /// The deadline has passed.
    Passed,
}

fn time_left(deadline: Option<std::time::Instant>) -> Left {
    match deadline {
        None => Left::Forever,
        Some(d) => match d.saturating_duration_since(std::time::Instant::now()) {
            l if l.is_zero() => Left::Passed,
            l => Left::For(l),
        },
    }
}
