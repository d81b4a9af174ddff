//! `strata._strata`: the native half of the `strata` Python package.
//!
//! The Python modules (`strata.socket`, `strata.select`,
//! `strata.selectors`, `strata.Lab`) are thin: every socket call lands
//! here, on a [`Socket`] over a strata-io runtime. A call that has to wait
//! releases the GIL and sleeps on the runtime's condition variable, in
//! slices so that Ctrl-C (a pending Python signal) still interrupts it.
//!
//! Errors are raised as `OSError(errno, message)`, which Python turns into
//! the matching subclass (`ConnectionRefusedError`, `BrokenPipeError` ...);
//! a timeout raises `TimeoutError("timed out")` as `socket.timeout` does.
#![warn(missing_docs)]

mod lab;

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant as WallInstant};

use pyo3::exceptions::{PyOSError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use strata::stack::{Stack, StackConfig};
use strata::time::Instant;
use strata::transport::tcp::{Keepalive, ListenerHandle, State as TcpState, TcpError, TcpHandle};
use strata::transport::udp::{Datagram, UdpError, UdpHandle};
use strata::wire::ip::Ipv4Cidr;
use strata_io::runtime::{Runtime, RuntimeConfig, RuntimeHandle};

// ----- errors ---------------------------------------------------------------

/// `OSError(errno, strerror)`: Python picks the subclass from the errno.
fn os_err(errno: i32) -> PyErr {
    PyOSError::new_err((errno, strerror(errno)))
}

fn strerror(errno: i32) -> String {
    io::Error::from_raw_os_error(errno)
        .to_string()
        .split(" (os error")
        .next()
        .unwrap_or("")
        .to_string()
}

fn timeout_err() -> PyErr {
    PyTimeoutError::new_err("timed out")
}

/// The errno Linux gives for a TCP error.
fn tcp_errno(e: TcpError) -> i32 {
    match e {
        TcpError::Refused => libc::ECONNREFUSED,
        TcpError::Reset => libc::ECONNRESET,
        TcpError::TimedOut => libc::ETIMEDOUT,
        TcpError::AddrInUse => libc::EADDRINUSE,
        TcpError::NoRoute | TcpError::HostUnreachable => libc::EHOSTUNREACH,
        TcpError::NetUnreachable => libc::ENETUNREACH,
        TcpError::InvalidState => libc::EINVAL,
        TcpError::WouldBlock => libc::EAGAIN,
        TcpError::NotConnected => libc::ENOTCONN,
        TcpError::InvalidHandle => libc::EBADF,
        TcpError::Aborted => libc::ECONNABORTED,
        TcpError::InvalidAddress | TcpError::NoFreePort => libc::EADDRNOTAVAIL,
        TcpError::NoBufferSpace => libc::ENOBUFS,
        #[allow(unreachable_patterns)]
        _ => libc::EIO,
    }
}

/// The errno Linux gives for a UDP error.
fn udp_errno(e: &UdpError) -> i32 {
    use strata::net::icmp::IcmpErrorKind as I;
    match e {
        UdpError::InvalidHandle => libc::EBADF,
        UdpError::AddrInUse(_) => libc::EADDRINUSE,
        UdpError::PortsExhausted(_) | UdpError::AddrNotAvailable(_) => libc::EADDRNOTAVAIL,
        UdpError::NotConnected => libc::EDESTADDRREQ,
        UdpError::BroadcastNotAllowed => libc::EACCES,
        UdpError::TooLarge(_) | UdpError::MessageTooBig { .. } => libc::EMSGSIZE,
        UdpError::NoRoute(_) => libc::ENETUNREACH,
        UdpError::PortZero => libc::EINVAL,
        UdpError::Icmp(err) => match err.kind {
            I::PortUnreachable => libc::ECONNREFUSED,
            I::NetUnreachable => libc::ENETUNREACH,
            I::HostUnreachable => libc::EHOSTUNREACH,
            _ => libc::EIO,
        },
        #[allow(unreachable_patterns)]
        _ => libc::EIO,
    }
}

fn io_err(e: io::Error) -> PyErr {
    match e.raw_os_error() {
        Some(n) => os_err(n),
        None => match e.kind() {
            // The runtime has shut down (its Lab was closed).
            io::ErrorKind::NotConnected => os_err(libc::ENOTCONN),
            // The device went away (a TAP deleted under the stack).
            io::ErrorKind::NetworkDown => os_err(libc::ENETDOWN),
            _ => PyOSError::new_err(e.to_string()),
        },
    }
}

// ----- waiting --------------------------------------------------------------

/// How long one call may wait: Python's `settimeout` value.
#[derive(Clone, Copy)]
enum Wait {
    Forever,
    NonBlocking,
    For(Duration),
}

impl Wait {
    fn from_py(t: Option<f64>) -> PyResult<Wait> {
        Ok(match t {
            None => Wait::Forever,
            Some(t) if t < 0.0 || !t.is_finite() => {
                return Err(PyValueError::new_err("Timeout value out of range"))
            }
            Some(0.0) => Wait::NonBlocking,
            Some(t) => Wait::For(Duration::from_secs_f64(t)),
        })
    }
}

/// A wait slice: how often a blocked call looks at Python's signals.
const SLICE: Duration = Duration::from_millis(100);

/// Runs `f` against the stack until it returns `Some`, as `wait` allows;
/// the GIL is released while waiting. Runs out as `EAGAIN` (non-blocking)
/// or `TimeoutError`.
fn block<R: Send>(
    py: Python<'_>,
    rt: &RuntimeHandle,
    wait: Wait,
    mut f: impl FnMut(&mut Stack, Instant) -> Option<PyResult<R>> + Send,
) -> PyResult<R> {
    let deadline = match wait {
        Wait::Forever => None,
        Wait::NonBlocking => Some(WallInstant::now()),
        Wait::For(d) => Some(WallInstant::now() + d),
    };
    loop {
        let now = WallInstant::now();
        let slice = match deadline {
            Some(d) => d.min(now + SLICE),
            None => now + SLICE,
        };
        let got = py.allow_threads(|| rt.wait_until(Some(slice), &mut f));
        match got {
            Err(e) => return Err(io_err(e)),
            Ok(Some(r)) => return r,
            Ok(None) => {}
        }
        if deadline.is_some_and(|d| WallInstant::now() >= d) {
            return Err(match wait {
                Wait::NonBlocking => os_err(libc::EAGAIN),
                _ => timeout_err(),
            });
        }
        py.check_signals()?;
    }
}

// ----- networks -------------------------------------------------------------

/// One strata stack that sockets can be made on: the process's default
/// stack, or a host of a [`lab::Lab`].
#[pyclass(frozen, module = "strata._strata")]
pub struct Net {
    pub(crate) rt: RuntimeHandle,
    /// "loopback", "tap:NAME" or "lab".
    kind: String,
    addr: Ipv4Cidr,
}

#[pymethods]
impl Net {
    /// The stack's address (`127.0.0.1` for the loopback-only default).
    #[getter]
    fn address(&self) -> String {
        self.addr.address().to_string()
    }

    /// What the stack is attached to: `loopback`, `tap:NAME` or `lab`.
    #[getter]
    fn kind(&self) -> String {
        self.kind.clone()
    }

    /// A few counters of the stack, as a dict.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (s, retransmits) = self
            .rt
            .with_stack(|st, _| (st.stats(), st.tcp_stats().retransmits))
            .map_err(io_err)?;
        let d = PyDict::new(py);
        d.set_item("frames_in", s.link.frames_in)?;
        d.set_item("frames_out", s.link.frames_out)?;
        d.set_item("tcp_segments_in", s.tcp.segments_in)?;
        d.set_item("tcp_segments_out", s.tcp.segments_out)?;
        d.set_item("tcp_retransmits", retransmits)?;
        d.set_item("tcp_bad_checksum", s.tcp.bad_checksum)?;
        d.set_item("udp_datagrams_in", s.udp.datagrams_in)?;
        d.set_item("udp_datagrams_out", s.udp.datagrams_out)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!("<strata net {} {}>", self.kind, self.addr)
    }
}

/// The default network: made on first use, lives as long as the process.
static DEFAULT: Mutex<Option<(RuntimeHandle, String, Ipv4Cidr)>> = Mutex::new(None);

fn env_config() -> PyResult<Option<(String, RuntimeConfig)>> {
    let Ok(tap) = std::env::var("STRATA_TAP") else {
        return Ok(None);
    };
    let addr = std::env::var("STRATA_ADDR").map_err(|_| {
        PyValueError::new_err("STRATA_TAP is set: STRATA_ADDR (e.g. 10.20.0.2/24) is needed too")
    })?;
    let cidr: Ipv4Cidr = addr
        .parse()
        .map_err(|e| PyValueError::new_err(format!("STRATA_ADDR={addr}: {e}")))?;
    let mut config = RuntimeConfig::new(cidr);
    // RFC 5227: the address is probed before use (a few seconds) unless
    // STRATA_PROBE=0 says it is known to be free on that link.
    config.probe_address = std::env::var("STRATA_PROBE").map_or(true, |v| v != "0");
    if let Ok(gw) = std::env::var("STRATA_GATEWAY") {
        config.gateway = Some(
            gw.parse()
                .map_err(|e| PyValueError::new_err(format!("STRATA_GATEWAY={gw}: {e}")))?,
        );
    }
    Ok(Some((tap, config)))
}

/// The process's default stack. With no environment: a stack with only its
/// loopback interface. With `STRATA_TAP=NAME STRATA_ADDR=A/N` (and
/// optionally `STRATA_GATEWAY`): that stack is also on the TAP interface.
#[pyfunction]
fn default_net() -> PyResult<Net> {
    let mut g = DEFAULT.lock().unwrap_or_else(|e| e.into_inner());
    if g.is_none() {
        let (rt, kind, addr) = match env_config()? {
            None => {
                let rt = Runtime::loopback(StackConfig {
                    seed: u64::from(std::process::id()) ^ 0x7079_7468_6f6e,
                    ..StackConfig::default()
                })
                .map_err(io_err)?;
                let addr = rt.addr();
                (rt, "loopback".to_string(), addr)
            }
            Some((tap, config)) => {
                let dev = strata_io::TapDevice::open(&tap)
                    .map_err(|e| PyOSError::new_err(format!("STRATA_TAP={tap}: {e}")))?;
                let addr = config.addr;
                let rt = Runtime::new(dev, config).map_err(io_err)?;
                (rt, format!("tap:{tap}"), addr)
            }
        };
        let handle = rt.handle();
        // The default stack serves the whole process: its I/O thread runs
        // until the process exits.
        std::mem::forget(rt);
        *g = Some((handle, kind, addr));
    }
    let (rt, kind, addr) = g.as_ref().expect("set above").clone();
    Ok(Net { rt, kind, addr })
}

// ----- sockets --------------------------------------------------------------

const SOCK_STREAM: i32 = 1;
const SOCK_DGRAM: i32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    Fresh,
    Listener(ListenerHandle),
    /// Connecting or connected.
    Stream(TcpHandle),
    Udp(UdpHandle),
    Closed,
}

#[derive(Debug)]
struct SockState {
    conn: Conn,
    bound: Option<SocketAddrV4>,
    /// Connections taken from the accept queue by a readiness check.
    accepted: VecDeque<TcpHandle>,
    /// A datagram (or error) taken by a readiness check.
    dgram: Option<Result<Datagram, i32>>,
    udp_peer: Option<SocketAddrV4>,
    shut_rd: bool,
    shut_wr: bool,
    /// Options as set: (level, name) → value.
    opts: BTreeMap<(i32, i32), i64>,
}

/// The shared part of a socket (select waits on it without the GIL).
struct SockInner {
    rt: RuntimeHandle,
    proto: Proto,
    id: u64,
    st: Mutex<SockState>,
}

impl SockInner {
    /// Releases the socket's stack resources (idempotent). A runtime that
    /// is already gone (its Lab closed) has nothing to release.
    fn close(&self) {
        let (conn, accepted) = {
            let mut st = self.st();
            let c = st.conn;
            st.conn = Conn::Closed;
            (c, std::mem::take(&mut st.accepted))
        };
        let _ = self.rt.with_stack(|s, now| match conn {
            Conn::Stream(h) => {
                let _ = s.tcp_close(now, h);
            }
            Conn::Listener(l) => {
                for h in accepted {
                    let _ = s.tcp_abort(now, h);
                }
                let _ = s.tcp_close_listener(now, l);
            }
            Conn::Udp(h) => {
                let _ = s.udp_close(h);
            }
            Conn::Fresh | Conn::Closed => {}
        });
    }

    fn st(&self) -> MutexGuard<'_, SockState> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// (readable, writable) now, as poll(2) would say. Runs with the
    /// runtime locked (lock order: runtime, then socket).
    fn readiness(&self, stack: &mut Stack) -> (bool, bool) {
        let mut st = self.st();
        match st.conn {
            Conn::Fresh => (false, self.proto == Proto::Udp),
            Conn::Closed => (true, true),
            Conn::Listener(l) => {
                if st.accepted.is_empty() {
                    if let Ok(h) = stack.tcp_accept(l) {
                        st.accepted.push_back(h);
                    }
                }
                (!st.accepted.is_empty(), false)
            }
            Conn::Udp(h) => {
                if st.dgram.is_none() {
                    st.dgram = match stack.udp_recv_from(h) {
                        Ok(Some(d)) => Some(Ok(d)),
                        Ok(None) => None,
                        Err(e) => Some(Err(udp_errno(&e))),
                    };
                }
                (st.dgram.is_some(), true)
            }
            Conn::Stream(h) => {
                let state = stack.tcp_state(h);
                let tcp = stack.tcp();
                let failed = tcp.error(h).is_some();
                let readable = st.shut_rd
                    || failed
                    || tcp.recv_queue(h).unwrap_or(0) > 0
                    || !matches!(
                        state,
                        TcpState::SynSent
                            | TcpState::SynReceived
                            | TcpState::Established
                            | TcpState::FinWait1
                            | TcpState::FinWait2
                    );
                let writable = failed
                    || state == TcpState::Closed
                    || (matches!(state, TcpState::Established | TcpState::CloseWait)
                        && tcp.send_capacity(h).unwrap_or(0) > 0);
                (readable, writable)
            }
        }
    }
}

/// Applies the socket options that act on a TCP connection.
fn apply_tcp_opts(stack: &mut Stack, now: Instant, h: TcpHandle, opts: &BTreeMap<(i32, i32), i64>) {
    if opts
        .get(&(libc::IPPROTO_TCP, libc::TCP_NODELAY))
        .is_some_and(|v| *v != 0)
    {
        let _ = stack.tcp_set_nodelay(h, true);
    }
    if opts
        .get(&(libc::SOL_SOCKET, libc::SO_KEEPALIVE))
        .is_some_and(|v| *v != 0)
    {
        let _ = stack.tcp_set_keepalive(now, h, Some(Keepalive::default()));
    }
    let size = |name| {
        opts.get(&(libc::SOL_SOCKET, name))
            .map(|v| usize::try_from(*v).unwrap_or(usize::MAX))
    };
    let (rx, tx) = (size(libc::SO_RCVBUF), size(libc::SO_SNDBUF));
    if rx.is_some() || tx.is_some() {
        // Before the SYN leaves (connect), the receive size also picks
        // the window scale.
        let _ = stack.tcp_set_buffer_limits(h, rx, tx);
    }
}

/// Applies the socket options that act on a UDP socket.
fn apply_udp_opts(stack: &mut Stack, h: UdpHandle, opts: &BTreeMap<(i32, i32), i64>) {
    if let Some(v) = opts.get(&(libc::SOL_SOCKET, libc::SO_RCVBUF)) {
        let _ = stack.udp_set_recv_buffer(h, Some(usize::try_from(*v).unwrap_or(usize::MAX)));
    }
}

fn connect_progress(stack: &Stack, h: TcpHandle) -> Option<Result<(), i32>> {
    match stack.tcp_state(h) {
        TcpState::SynSent | TcpState::SynReceived => None,
        TcpState::Closed => Some(Err(tcp_errno(
            stack.tcp().error(h).unwrap_or(TcpError::Refused),
        ))),
        _ => match stack.tcp().error(h) {
            Some(e) => Some(Err(tcp_errno(e))),
            None => Some(Ok(())),
        },
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1 << 20);

/// A socket of a strata stack: the native object behind
/// `strata.socket.socket`. Timeouts come with each call (the Python side
/// keeps `settimeout`'s value): `None` blocks, `0.0` does not, `t` waits up
/// to `t` seconds.
#[pyclass(frozen, module = "strata._strata")]
pub struct Socket {
    inner: Arc<SockInner>,
}

impl Socket {
    fn new_conn(rt: &RuntimeHandle, proto: Proto, conn: Conn) -> Socket {
        Socket {
            inner: Arc::new(SockInner {
                rt: rt.clone(),
                proto,
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                st: Mutex::new(SockState {
                    conn,
                    bound: None,
                    accepted: VecDeque::new(),
                    dgram: None,
                    udp_peer: None,
                    shut_rd: false,
                    shut_wr: false,
                    opts: BTreeMap::new(),
                }),
            }),
        }
    }

    fn rt(&self) -> &RuntimeHandle {
        &self.inner.rt
    }

    fn conn(&self) -> Conn {
        self.inner.st().conn
    }

    fn stack<R>(&self, f: impl FnOnce(&mut Stack, Instant) -> R) -> PyResult<R> {
        self.rt().with_stack(f).map_err(io_err)
    }

    /// The UDP handle, binding to `0.0.0.0:0` first if needed.
    fn udp_handle(&self) -> PyResult<UdpHandle> {
        match self.conn() {
            Conn::Udp(h) => Ok(h),
            Conn::Fresh => {
                let opts = self.inner.st().opts.clone();
                let h = self
                    .stack(|s, _| {
                        let h = s.udp_bind(None, 0)?;
                        apply_udp_opts(s, h, &opts);
                        Ok(h)
                    })?
                    .map_err(|e| os_err(udp_errno(&e)))?;
                self.inner.st().conn = Conn::Udp(h);
                Ok(h)
            }
            _ => Err(os_err(libc::EBADF)),
        }
    }

    fn ephemeral_port(stack: &Stack, ip: Ipv4Addr, seed: u64) -> u16 {
        // Linux's default ip_local_port_range is 32768–60999.
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for _ in 0..28232 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let p = 32768 + ((x >> 33) % 28232) as u16;
            if !stack.tcp().is_listening_port(ip, p) {
                return p;
            }
        }
        0
    }
}

/// What `recvfrom` returns: the bytes and, for UDP, the sender.
type Received<'py> = (Bound<'py, PyBytes>, Option<(String, u16)>);

fn addr_of(host: &str, port: u16) -> PyResult<SocketAddrV4> {
    let ip: Ipv4Addr = host
        .parse()
        .map_err(|_| PyValueError::new_err(format!("not an IPv4 address: {host:?}")))?;
    Ok(SocketAddrV4::new(ip, port))
}

fn py_addr(a: SocketAddrV4) -> (String, u16) {
    (a.ip().to_string(), a.port())
}

#[pymethods]
impl Socket {
    /// A new socket on `net`: `kind` is SOCK_STREAM (1) or SOCK_DGRAM (2).
    #[new]
    fn py_new(net: PyRef<'_, Net>, kind: i32) -> PyResult<Socket> {
        let proto = match kind {
            SOCK_STREAM => Proto::Tcp,
            SOCK_DGRAM => Proto::Udp,
            _ => return Err(os_err(libc::EPROTONOSUPPORT)),
        };
        Ok(Socket::new_conn(&net.rt, proto, Conn::Fresh))
    }

    /// A number that identifies the socket (for selectors' maps; not a
    /// kernel descriptor).
    fn fileno(&self) -> i64 {
        match self.conn() {
            Conn::Closed => -1,
            _ => self.inner.id as i64,
        }
    }

    /// SOCK_STREAM or SOCK_DGRAM.
    #[getter]
    fn kind(&self) -> i32 {
        match self.inner.proto {
            Proto::Tcp => SOCK_STREAM,
            Proto::Udp => SOCK_DGRAM,
        }
    }

    fn bind(&self, host: &str, port: u16) -> PyResult<()> {
        let want = addr_of(host, port)?;
        {
            let st = self.inner.st();
            if st.bound.is_some() || !matches!(st.conn, Conn::Fresh) {
                return Err(os_err(libc::EINVAL));
            }
        }
        let ip = *want.ip();
        let seed = self.inner.id;
        match self.inner.proto {
            Proto::Tcp => {
                let local = self.stack(|s, _| {
                    if !ip.is_unspecified() && !s.is_local_addr(ip) {
                        return Err(os_err(libc::EADDRNOTAVAIL));
                    }
                    let port = if port == 0 {
                        Socket::ephemeral_port(s, ip, seed)
                    } else if s.tcp().is_listening_port(ip, port) {
                        return Err(os_err(libc::EADDRINUSE));
                    } else {
                        port
                    };
                    Ok(SocketAddrV4::new(ip, port))
                })??;
                self.inner.st().bound = Some(local);
            }
            Proto::Udp => {
                let ipo = Some(ip).filter(|i| !i.is_unspecified());
                let opts = self.inner.st().opts.clone();
                let h = self
                    .stack(|s, _| {
                        let h = s.udp_bind(ipo, port)?;
                        apply_udp_opts(s, h, &opts);
                        Ok(h)
                    })?
                    .map_err(|e| os_err(udp_errno(&e)))?;
                let mut st = self.inner.st();
                st.conn = Conn::Udp(h);
                st.bound = Some(want);
            }
        }
        Ok(())
    }

    fn listen(&self, backlog: i64) -> PyResult<()> {
        if self.inner.proto != Proto::Tcp {
            return Err(os_err(libc::EOPNOTSUPP));
        }
        let (conn, bound) = {
            let st = self.inner.st();
            (st.conn, st.bound)
        };
        match conn {
            Conn::Listener(_) => return Ok(()),
            Conn::Fresh => {}
            _ => return Err(os_err(libc::EINVAL)),
        }
        let seed = self.inner.id;
        let backlog = backlog.clamp(1, 4096) as usize;
        let (l, local) = self.stack(|s, _| {
            let local = bound.unwrap_or_else(|| {
                let ip = Ipv4Addr::UNSPECIFIED;
                SocketAddrV4::new(ip, Socket::ephemeral_port(s, ip, seed))
            });
            let ip = Some(*local.ip()).filter(|i| !i.is_unspecified());
            s.tcp_listen(ip, local.port(), backlog)
                .map(|l| (l, local))
                .map_err(|e| os_err(tcp_errno(e)))
        })??;
        let mut st = self.inner.st();
        st.conn = Conn::Listener(l);
        st.bound = Some(local);
        Ok(())
    }

    /// Waits for a connection: `(socket, (host, port))`.
    #[pyo3(signature = (timeout=None))]
    fn accept(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<(Socket, (String, u16))> {
        let Conn::Listener(l) = self.conn() else {
            return Err(os_err(libc::EINVAL));
        };
        let inner = &self.inner;
        let h = block(py, self.rt(), Wait::from_py(timeout)?, |s, _| {
            let mut st = inner.st();
            if st.conn != Conn::Listener(l) {
                return Some(Err(os_err(libc::EBADF)));
            }
            if let Some(h) = st.accepted.pop_front() {
                return Some(Ok(h));
            }
            match s.tcp_accept(l) {
                Ok(h) => Some(Ok(h)),
                Err(TcpError::WouldBlock) => None,
                Err(e) => Some(Err(os_err(tcp_errno(e)))),
            }
        })?;
        let opts = self.inner.st().opts.clone();
        let peer = self.stack(|s, now| {
            apply_tcp_opts(s, now, h, &opts);
            s.tcp().remote_addr(h)
        })?;
        let sock = Socket::new_conn(self.rt(), Proto::Tcp, Conn::Stream(h));
        sock.inner.st().opts = opts;
        let peer = peer.map_err(|e| os_err(tcp_errno(e)))?;
        Ok((sock, py_addr(peer)))
    }

    /// Connects (TCP: the handshake; UDP: sets the default peer). In
    /// non-blocking mode a TCP connect raises EINPROGRESS and completes in
    /// the background (the socket turns writable).
    #[pyo3(signature = (host, port, timeout=None))]
    fn connect(&self, py: Python<'_>, host: &str, port: u16, timeout: Option<f64>) -> PyResult<()> {
        let remote = addr_of(host, port)?;
        let wait = Wait::from_py(timeout)?;
        if self.inner.proto == Proto::Udp {
            let h = self.udp_handle()?;
            self.stack(|s, _| s.udp_connect(h, remote))?
                .map_err(|e| os_err(udp_errno(&e)))?;
            self.inner.st().udp_peer = Some(remote);
            return Ok(());
        }
        let (conn, bound, opts) = {
            let st = self.inner.st();
            (st.conn, st.bound, st.opts.clone())
        };
        let h = match conn {
            Conn::Fresh => {
                let h = self.stack(|s, now| {
                    let r = s.tcp_connect_from(now, bound, remote);
                    if let Ok(h) = r {
                        apply_tcp_opts(s, now, h, &opts);
                    }
                    r
                })?;
                let h = h.map_err(|e| os_err(tcp_errno(e)))?;
                self.inner.st().conn = Conn::Stream(h);
                if matches!(wait, Wait::NonBlocking) {
                    // Done at once (loopback) or in progress.
                    return match self.stack(|s, _| connect_progress(s, h))? {
                        Some(Ok(())) => Ok(()),
                        Some(Err(e)) => Err(os_err(e)),
                        None => Err(os_err(libc::EINPROGRESS)),
                    };
                }
                h
            }
            Conn::Stream(h) => {
                return match self.stack(|s, _| connect_progress(s, h))? {
                    None => Err(os_err(libc::EALREADY)),
                    Some(Ok(())) => Err(os_err(libc::EISCONN)),
                    Some(Err(e)) => Err(os_err(e)),
                };
            }
            _ => return Err(os_err(libc::EINVAL)),
        };
        let r = block(py, self.rt(), wait, |s, _| {
            connect_progress(s, h).map(|r| r.map_err(os_err))
        });
        if let Err(e) = &r {
            if e.is_instance_of::<PyTimeoutError>(py) {
                // Give up the half-open attempt (RST), as the kernel does
                // when a connect times out.
                let _ = self.stack(|s, now| s.tcp_abort(now, h));
            }
        }
        r
    }

    /// Sends what fits: the number of bytes taken.
    #[pyo3(signature = (data, timeout=None))]
    fn send(&self, py: Python<'_>, data: &[u8], timeout: Option<f64>) -> PyResult<usize> {
        let wait = Wait::from_py(timeout)?;
        match self.inner.proto {
            Proto::Udp => {
                let h = self.udp_handle()?;
                if self.inner.st().udp_peer.is_none() {
                    return Err(os_err(libc::EDESTADDRREQ));
                }
                self.stack(|s, now| s.udp_send(now, h, data))?
                    .map_err(|e| os_err(udp_errno(&e)))?;
                Ok(data.len())
            }
            Proto::Tcp => {
                let (conn, shut_wr) = {
                    let st = self.inner.st();
                    (st.conn, st.shut_wr)
                };
                let Conn::Stream(h) = conn else {
                    return Err(os_err(match conn {
                        Conn::Closed => libc::EBADF,
                        _ => libc::ENOTCONN,
                    }));
                };
                if shut_wr {
                    return Err(os_err(libc::EPIPE));
                }
                if data.is_empty() {
                    return Ok(0);
                }
                block(py, self.rt(), wait, |s, _| {
                    if matches!(s.tcp_state(h), TcpState::SynSent | TcpState::SynReceived) {
                        return None;
                    }
                    match s.tcp_send(h, data) {
                        Ok(0) | Err(TcpError::WouldBlock) => None,
                        Ok(n) => Some(Ok(n)),
                        Err(TcpError::Reset) => Some(Err(os_err(libc::ECONNRESET))),
                        Err(TcpError::TimedOut) => Some(Err(os_err(libc::ETIMEDOUT))),
                        Err(TcpError::Refused) => Some(Err(os_err(libc::ECONNREFUSED))),
                        // Closed for sending (our FIN, or the connection
                        // is gone): Linux's EPIPE.
                        Err(_) => Some(Err(os_err(libc::EPIPE))),
                    }
                })
            }
        }
    }

    /// Sends one datagram to (host, port).
    #[pyo3(signature = (data, host, port, timeout=None))]
    fn sendto(
        &self,
        py: Python<'_>,
        data: &[u8],
        host: &str,
        port: u16,
        timeout: Option<f64>,
    ) -> PyResult<usize> {
        if self.inner.proto == Proto::Tcp {
            return self.send(py, data, timeout);
        }
        let to = addr_of(host, port)?;
        let h = self.udp_handle()?;
        self.stack(|s, now| s.udp_send_to(now, h, to, data))?
            .map_err(|e| os_err(udp_errno(&e)))?;
        Ok(data.len())
    }

    /// Receives up to `n` bytes (b"" at the end of the stream) and, for
    /// UDP, who sent them.
    #[pyo3(signature = (n, timeout=None))]
    fn recvfrom<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        timeout: Option<f64>,
    ) -> PyResult<Received<'py>> {
        let wait = Wait::from_py(timeout)?;
        let inner = &self.inner;
        match self.inner.proto {
            Proto::Udp => {
                let h = self.udp_handle()?;
                let d = block(py, self.rt(), wait, |s, _| {
                    let mut st = inner.st();
                    if st.conn != Conn::Udp(h) {
                        return Some(Err(os_err(libc::EBADF)));
                    }
                    if let Some(d) = st.dgram.take() {
                        return Some(d.map_err(os_err));
                    }
                    match s.udp_recv_from(h) {
                        Ok(Some(d)) => Some(Ok(d)),
                        Ok(None) => None,
                        Err(e) => Some(Err(os_err(udp_errno(&e)))),
                    }
                })?;
                let k = d.payload.len().min(n);
                Ok((PyBytes::new(py, &d.payload[..k]), Some(py_addr(d.from))))
            }
            Proto::Tcp => {
                let Conn::Stream(h) = self.conn() else {
                    return Err(os_err(libc::ENOTCONN));
                };
                if n == 0 {
                    return Ok((PyBytes::new(py, b""), None));
                }
                let mut buf = vec![0u8; n.min(1 << 20)];
                let k = block(py, self.rt(), wait, |s, _| {
                    let st = inner.st();
                    if st.shut_rd {
                        return Some(Ok(0));
                    }
                    if st.conn != Conn::Stream(h) {
                        return Some(Err(os_err(libc::EBADF)));
                    }
                    drop(st);
                    match s.tcp_recv(h, &mut buf) {
                        Ok(k) => Some(Ok(k)),
                        Err(TcpError::WouldBlock) => None,
                        Err(
                            TcpError::NotConnected
                            | TcpError::InvalidState
                            | TcpError::InvalidHandle,
                        ) => Some(Ok(0)),
                        Err(e) => Some(Err(os_err(tcp_errno(e)))),
                    }
                })?;
                Ok((PyBytes::new(py, &buf[..k]), None))
            }
        }
    }

    /// SHUT_RD (0), SHUT_WR (1) or SHUT_RDWR (2).
    fn shutdown(&self, how: i32) -> PyResult<()> {
        if !(0..=2).contains(&how) {
            return Err(os_err(libc::EINVAL));
        }
        let conn = self.conn();
        match conn {
            Conn::Stream(h) => {
                if how != 1 {
                    self.inner.st().shut_rd = true;
                }
                if how != 0 {
                    self.inner.st().shut_wr = true;
                    match self.stack(|s, now| s.tcp_shutdown(now, h))? {
                        Ok(()) | Err(TcpError::InvalidState) => {}
                        Err(e) => return Err(os_err(tcp_errno(e))),
                    }
                }
                // A reader blocked in recv sees the flag within a slice.
                self.stack(|_, _| ())?;
                Ok(())
            }
            Conn::Udp(_) => {
                let mut st = self.inner.st();
                if st.udp_peer.is_none() {
                    return Err(os_err(libc::ENOTCONN));
                }
                st.shut_rd |= how != 1;
                st.shut_wr |= how != 0;
                Ok(())
            }
            Conn::Closed => Err(os_err(libc::EBADF)),
            _ => Err(os_err(libc::ENOTCONN)),
        }
    }

    /// Releases the socket (a TCP connection closes gracefully: FIN after
    /// the queued data). Idempotent.
    fn close(&self) -> PyResult<()> {
        self.inner.close();
        Ok(())
    }

    /// The local (host, port).
    fn getsockname(&self) -> PyResult<(String, u16)> {
        let (conn, bound) = {
            let st = self.inner.st();
            (st.conn, st.bound)
        };
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
        let a = match conn {
            Conn::Stream(h) => self
                .stack(|s, _| s.tcp().local_addr(h))?
                .map_err(|e| os_err(tcp_errno(e)))?,
            Conn::Udp(h) => self
                .stack(|s, _| s.udp_local_addr(h))?
                .map_err(|e| os_err(udp_errno(&e)))?,
            Conn::Closed => return Err(os_err(libc::EBADF)),
            Conn::Fresh | Conn::Listener(_) => bound.unwrap_or(any),
        };
        Ok(py_addr(a))
    }

    /// The peer's (host, port).
    fn getpeername(&self) -> PyResult<(String, u16)> {
        match self.conn() {
            Conn::Stream(h) => {
                let a = self.stack(|s, _| {
                    if matches!(
                        s.tcp_state(h),
                        TcpState::SynSent | TcpState::SynReceived | TcpState::Closed
                    ) {
                        Err(libc::ENOTCONN)
                    } else {
                        s.tcp().remote_addr(h).map_err(tcp_errno)
                    }
                })?;
                Ok(py_addr(a.map_err(os_err)?))
            }
            Conn::Udp(_) => match self.inner.st().udp_peer {
                Some(p) => Ok(py_addr(p)),
                None => Err(os_err(libc::ENOTCONN)),
            },
            Conn::Closed => Err(os_err(libc::EBADF)),
            _ => Err(os_err(libc::ENOTCONN)),
        }
    }

    /// Sets an integer option: SOL_SOCKET SO_REUSEADDR / SO_KEEPALIVE /
    /// SO_RCVBUF / SO_SNDBUF / SO_BROADCAST, IPPROTO_TCP TCP_NODELAY,
    /// IPPROTO_IP IP_TTL.
    fn setsockopt(&self, level: i32, name: i32, value: i64) -> PyResult<()> {
        let conn = self.conn();
        match (level, name) {
            (libc::SOL_SOCKET, libc::SO_REUSEADDR | libc::SO_REUSEPORT) => {}
            (libc::SOL_SOCKET, libc::SO_RCVBUF | libc::SO_SNDBUF) => {
                if value < 0 {
                    return Err(os_err(libc::EINVAL));
                }
                let bytes = usize::try_from(value).unwrap_or(usize::MAX);
                let rcv = name == libc::SO_RCVBUF;
                match conn {
                    // A connection's buffers change at once; a socket not
                    // yet connected (or a listener, for the connections it
                    // accepts) applies the size when the connection exists.
                    Conn::Stream(h) => {
                        let (rx, tx) = if rcv {
                            (Some(bytes), None)
                        } else {
                            (None, Some(bytes))
                        };
                        self.stack(|s, _| s.tcp_set_buffer_limits(h, rx, tx))?
                            .map_err(|e| os_err(tcp_errno(e)))?;
                    }
                    // UDP: the receive queue's size in payload bytes. A
                    // datagram is handed to the interface when sent, so
                    // there is no send queue for SO_SNDBUF to bound; the
                    // value is kept and reported.
                    Conn::Udp(h) if rcv => {
                        self.stack(|s, _| s.udp_set_recv_buffer(h, Some(bytes)))?
                            .map_err(|e| os_err(udp_errno(&e)))?;
                    }
                    _ => {}
                }
            }
            (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => {
                if let Conn::Stream(h) = conn {
                    let ka = (value != 0).then(Keepalive::default);
                    self.stack(|s, now| s.tcp_set_keepalive(now, h, ka))?
                        .map_err(|e| os_err(tcp_errno(e)))?;
                }
            }
            (libc::SOL_SOCKET, libc::SO_BROADCAST) if self.inner.proto == Proto::Udp => {
                let h = self.udp_handle()?;
                self.stack(|s, _| s.udp_set_broadcast(h, value != 0))?
                    .map_err(|e| os_err(udp_errno(&e)))?;
            }
            (libc::IPPROTO_TCP, libc::TCP_NODELAY) if self.inner.proto == Proto::Tcp => {
                if let Conn::Stream(h) = conn {
                    self.stack(|s, _| s.tcp_set_nodelay(h, value != 0))?
                        .map_err(|e| os_err(tcp_errno(e)))?;
                }
            }
            (libc::IPPROTO_IP, libc::IP_TTL) if self.inner.proto == Proto::Udp => {
                let ttl = u8::try_from(value).map_err(|_| os_err(libc::EINVAL))?;
                let h = self.udp_handle()?;
                self.stack(|s, _| s.udp_set_ttl(h, Some(ttl)))?
                    .map_err(|e| os_err(udp_errno(&e)))?;
            }
            _ => return Err(os_err(libc::ENOPROTOOPT)),
        }
        self.inner.st().opts.insert((level, name), value);
        Ok(())
    }

    /// Reads an integer option (the ones `setsockopt` takes, SO_TYPE and
    /// SO_ERROR). SO_RCVBUF/SO_SNDBUF of a connection report its buffer
    /// limit in the stack (the value set, clamped to 2 KiB..1 GiB; Linux
    /// would report twice the value, for its bookkeeping); otherwise the
    /// value set, or the stack's default.
    fn getsockopt(&self, level: i32, name: i32) -> PyResult<i64> {
        let set = self.inner.st().opts.get(&(level, name)).copied();
        Ok(match (level, name) {
            (libc::SOL_SOCKET, libc::SO_TYPE) => self.kind() as i64,
            (libc::SOL_SOCKET, libc::SO_ERROR) => match self.conn() {
                Conn::Stream(h) => self
                    .stack(|s, _| s.tcp().error(h))?
                    .map_or(0, |e| tcp_errno(e) as i64),
                _ => 0,
            },
            (libc::SOL_SOCKET, libc::SO_RCVBUF | libc::SO_SNDBUF) => {
                let rcv = name == libc::SO_RCVBUF;
                match (self.conn(), set) {
                    // What the connection's buffer really is (clamped).
                    (Conn::Stream(h), _) => {
                        let (rx, tx) = self
                            .stack(|s, _| s.tcp().buffer_limits(h))?
                            .map_err(|e| os_err(tcp_errno(e)))?;
                        (if rcv { rx } else { tx }) as i64
                    }
                    (_, Some(v)) => v,
                    (_, None) => self.stack(|s, _| {
                        let c = s.tcp().config();
                        (if rcv {
                            c.rx_buffer_limit
                        } else {
                            c.tx_buffer_limit
                        }) as i64
                    })?,
                }
            }
            (
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR | libc::SO_REUSEPORT | libc::SO_KEEPALIVE | libc::SO_BROADCAST,
            )
            | (libc::IPPROTO_TCP, libc::TCP_NODELAY) => set.unwrap_or(0),
            (libc::IPPROTO_IP, libc::IP_TTL) => set.unwrap_or(64),
            _ => return Err(os_err(libc::ENOPROTOOPT)),
        })
    }

    /// (readable, writable) now.
    fn readiness(&self) -> PyResult<(bool, bool)> {
        let inner = self.inner.clone();
        self.stack(move |s, _| inner.readiness(s))
    }

    fn __repr__(&self) -> String {
        format!(
            "<strata._strata.Socket id={} {:?}>",
            self.inner.id,
            self.conn()
        )
    }
}

impl Drop for SockInner {
    /// A socket nobody holds any more is closed, as the kernel closes a
    /// descriptor's socket on its last close.
    fn drop(&mut self) {
        self.close();
    }
}

/// Waits until one of `rlist` is readable or one of `wlist` writable, up
/// to `timeout` seconds (`None`: forever). Returns the indices that are
/// ready, as `select(2)` would.
#[pyfunction]
#[pyo3(signature = (rlist, wlist, timeout=None))]
fn select(
    py: Python<'_>,
    rlist: Vec<Bound<'_, Socket>>,
    wlist: Vec<Bound<'_, Socket>>,
    timeout: Option<f64>,
) -> PyResult<(Vec<usize>, Vec<usize>)> {
    let r: Vec<Arc<SockInner>> = rlist.iter().map(|s| s.get().inner.clone()).collect();
    let w: Vec<Arc<SockInner>> = wlist.iter().map(|s| s.get().inner.clone()).collect();
    let check = |stack: &mut Stack, rt: &RuntimeHandle| {
        let rr: Vec<usize> = (0..r.len())
            .filter(|&i| r[i].rt.same_runtime(rt) && r[i].readiness(stack).0)
            .collect();
        let ww: Vec<usize> = (0..w.len())
            .filter(|&i| w[i].rt.same_runtime(rt) && w[i].readiness(stack).1)
            .collect();
        (rr, ww)
    };
    let mut rts: Vec<RuntimeHandle> = Vec::new();
    for s in r.iter().chain(w.iter()) {
        if !rts.iter().any(|x| x.same_runtime(&s.rt)) {
            rts.push(s.rt.clone());
        }
    }
    let wait = Wait::from_py(timeout)?;
    if rts.is_empty() {
        if let Wait::For(d) = wait {
            py.allow_threads(|| std::thread::sleep(d));
        }
        return Ok((vec![], vec![]));
    }
    if rts.len() == 1 {
        let rt = rts[0].clone();
        let rt2 = rt.clone();
        return match block(py, &rt, wait, |s, _| {
            let (rr, ww) = check(s, &rt2);
            (!rr.is_empty() || !ww.is_empty()).then_some(Ok((rr, ww)))
        }) {
            Err(e) if e.is_instance_of::<PyTimeoutError>(py) => Ok((vec![], vec![])),
            Err(e)
                if e.value(py)
                    .getattr("errno")
                    .ok()
                    .and_then(|v| v.extract::<i32>().ok())
                    == Some(libc::EAGAIN) =>
            {
                Ok((vec![], vec![]))
            }
            other => other,
        };
    }
    // Sockets of several stacks (Lab hosts): look at each in turn.
    let deadline = match wait {
        Wait::Forever => None,
        Wait::NonBlocking => Some(WallInstant::now()),
        Wait::For(d) => Some(WallInstant::now() + d),
    };
    loop {
        let mut rr = Vec::new();
        let mut ww = Vec::new();
        for rt in &rts {
            let (a, b) = rt.with_stack(|s, _| check(s, rt)).map_err(io_err)?;
            rr.extend(a);
            ww.extend(b);
        }
        if !rr.is_empty() || !ww.is_empty() || deadline.is_some_and(|d| WallInstant::now() >= d) {
            rr.sort_unstable();
            ww.sort_unstable();
            return Ok((rr, ww));
        }
        py.allow_threads(|| std::thread::sleep(Duration::from_millis(2)));
        py.check_signals()?;
    }
}

/// The native module.
#[pymodule]
fn _strata(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Net>()?;
    m.add_class::<Socket>()?;
    m.add_class::<lab::Lab>()?;
    m.add_function(wrap_pyfunction!(default_net, m)?)?;
    m.add_function(wrap_pyfunction!(select, m)?)?;
    Ok(())
}
