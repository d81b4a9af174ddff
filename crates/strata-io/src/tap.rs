//! A Linux TAP device: whole Ethernet frames to and from the kernel.
//!
//! [`TapDevice::open`] attaches to (or creates) the TAP interface `name` in
//! the network namespace of the calling thread, with `IFF_TAP | IFF_NO_PI`:
//! every `read` returns exactly one Ethernet frame (no FCS, no packet-info
//! prefix) and every `write` sends exactly one. The descriptor is
//! non-blocking, so the runtime waits for it with `poll(2)` beside its own
//! wake-up descriptor.
//!
//! [`TapDevice::open_with`] can also ask for the kernel's offloads through
//! the virtio-net header (`IFF_VNET_HDR` + `TUNSETOFFLOAD`): every frame
//! then travels behind a 10-byte `virtio_net_hdr`, and the kernel may hand
//! over GRO/TSO super-frames (one IPv4 TCP datagram of up to 64 KiB, which
//! the kernel would otherwise cut into MSS-sized frames: one `read` instead
//! of forty) whose TCP checksum it left to be completed (`NEEDS_CSUM`).
//! The stack is told (`RxMeta`) that such a checksum needs no check: the
//! data never crossed a wire. Outbound, the stack sends TCP super-segments
//! of up to 64 KiB (`gso_type` TCPV4, `gso_size` = the MSS, `hdr_len`)
//! that the kernel takes whole (its TCP receives them as one GRO packet,
//! or it cuts them if they leave through a real NIC), with checksums left
//! partial (`NEEDS_CSUM`, `csum_start`/`csum_offset`). Where the kernel
//! refuses an offload flag the device falls back to fewer flags, then to
//! the plain path; where it refuses an offloaded frame the device finishes
//! that frame in software and sends the rest plain.
//! [`TapDevice::offloads`] says what was granted.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::device::Device;
use strata::phy::{Offloads, PartialChecksum, RxChecksum, RxMeta, TxMeta};

/// Why a TAP device could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// `/dev/net/tun` is missing (no TUN/TAP driver, or a container without it).
    #[error("cannot open /dev/net/tun: {0} (is the tun module loaded?)")]
    NoTunDevice(io::Error),
    /// The caller may not create or attach to the interface.
    #[error("permission denied opening TAP device {name:?}: run as root or grant CAP_NET_ADMIN (e.g. `sudo ip tuntap add dev {name} mode tap user $USER`)")]
    PermissionDenied {
        /// The interface name asked for.
        name: String,
    },
    /// The name is empty, too long (15 bytes at most) or holds a NUL.
    #[error("invalid TAP interface name {0:?}: 1 to 15 bytes, no NUL")]
    BadName(String),
    /// The interface exists but is busy or not a TAP (e.g. already attached).
    #[error(
        "TAP device {name:?} is busy (another program has it open) or not a TAP interface: {error}"
    )]
    Busy {
        /// The interface name asked for.
        name: String,
        /// The kernel's error (shown in the message, so not a `source`).
        error: io::Error,
    },
    /// Any other failure of the `TUNSETIFF` ioctl.
    #[error("TUNSETIFF on {name:?} failed: {error}")]
    Ioctl {
        /// The interface name asked for.
        name: String,
        /// The kernel's error (shown in the message, so not a `source`).
        error: io::Error,
    },
}

/// `_IOW('T', 202, int)` from `<linux/if_tun.h>`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `<linux/if_tun.h>`: Ethernet frames (not IP packets).
const IFF_TAP: libc::c_short = 0x0002;
/// `<linux/if_tun.h>`: no 4-byte packet-information prefix.
const IFF_NO_PI: libc::c_short = 0x1000;
/// `<linux/if_tun.h>`: frames are preceded by a `struct virtio_net_hdr`.
const IFF_VNET_HDR: libc::c_short = 0x4000;
/// `<linux/if_tun.h>`: one descriptor per queue of a multi-queue interface.
const IFF_MULTI_QUEUE: libc::c_short = 0x0100;
/// `_IOW('T', 208, unsigned int)`: which offloads the reader can handle.
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
/// `_IOW('T', 216, int)`: the size of the virtio-net header.
const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54d8;
/// `TUN_F_CSUM`: we accept frames whose checksum is left to complete.
const TUN_F_CSUM: libc::c_uint = 0x01;
/// `TUN_F_TSO4`: we accept IPv4 TCP super-frames (TSO/GSO/GRO).
const TUN_F_TSO4: libc::c_uint = 0x02;
/// The legacy `struct virtio_net_hdr` (virtio 1.x §5.1.6): flags,
/// gso_type, hdr_len, gso_size, csum_start, csum_offset.
pub const VNET_HDR_LEN: usize = 10;
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at csum_start + csum_offset
/// holds only the pseudo-header sum; the rest is ours to add.
const VNET_F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum was verified.
const VNET_F_DATA_VALID: u8 = 2;
/// `VIRTIO_NET_HDR_GSO_NONE`.
const VNET_GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
const VNET_GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_ECN`, a bit beside the GSO type.
const VNET_GSO_ECN: u8 = 0x80;
/// Largest frame a device with offloads can hand over: a 65 535-byte IP
/// datagram plus the Ethernet header.
pub const MAX_OFFLOAD_FRAME: usize = 65_535 + 14;

/// `IFNAMSIZ` from `<net/if.h>`, including the terminating NUL.
const IFNAMSIZ: usize = 16;

/// The part of `struct ifreq` that `TUNSETIFF` reads and writes: the name,
/// then the flags in the union; padded to the kernel's 40-byte size.
#[repr(C)]
struct IfReqFlags {
    name: [libc::c_char; IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// `SIOCGIFFLAGS` / `SIOCSIFFLAGS` from `<linux/sockios.h>`.
const SIOCGIFFLAGS: libc::c_ulong = 0x8913;
const SIOCSIFFLAGS: libc::c_ulong = 0x8914;
/// `IFF_UP` from `<net/if.h>`: the interface is administratively up.
const IFF_UP: libc::c_short = 0x1;

/// What the kernel knows about a network interface of the calling thread's
/// namespace, as far as attaching a TAP to it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// The interface is a TUN/TAP device in TAP mode (Ethernet frames);
    /// `None` when that cannot be told (sysfs shows another namespace).
    pub is_tap: Option<bool>,
    /// The interface is administratively up (`ip link set NAME up`).
    pub up: bool,
}

fn ifreq_for(name: &str) -> io::Result<IfReqFlags> {
    if name.is_empty() || name.len() >= IFNAMSIZ || name.bytes().any(|b| b == 0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {name:?}: 1 to 15 bytes, no NUL"),
        ));
    }
    let mut req = IfReqFlags {
        name: [0; IFNAMSIZ],
        flags: 0,
        _pad: [0; 22],
    };
    for (dst, src) in req.name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// A throw-away datagram socket: the handle the interface ioctls go through.
fn ioctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket has no pointer arguments; the result is checked.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a freshly opened descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Looks up interface `name` in the calling thread's network namespace:
/// `Ok(None)` when there is no such interface.
pub fn interface_info(name: &str) -> io::Result<Option<InterfaceInfo>> {
    let mut req = ifreq_for(name)?;
    let sock = ioctl_socket()?;
    if let Err(err) = flags_ioctl(&sock, SIOCGIFFLAGS, &mut req) {
        return match err.raw_os_error() {
            Some(libc::ENODEV) | Some(libc::ENXIO) => Ok(None),
            _ => Err(err),
        };
    }
    // A TUN/TAP interface has `tun_flags` in sysfs; bit IFF_TAP says TAP.
    // sysfs shows the namespace it was mounted in, so without the interface
    // there the answer is unknown rather than "no".
    let sys = std::path::Path::new("/sys/class/net").join(name);
    let is_tap = if sys.exists() {
        Some(
            std::fs::read_to_string(sys.join("tun_flags"))
                .ok()
                .and_then(|t| i64::from_str_radix(t.trim().trim_start_matches("0x"), 16).ok())
                .is_some_and(|f| f & i64::from(IFF_TAP) != 0),
        )
    } else {
        None
    };
    Ok(Some(InterfaceInfo {
        is_tap,
        up: req.flags & IFF_UP != 0,
    }))
}

/// Brings interface `name` up (`ip link set NAME up`); needs CAP_NET_ADMIN.
pub fn set_interface_up(name: &str) -> io::Result<()> {
    let mut req = ifreq_for(name)?;
    let sock = ioctl_socket()?;
    flags_ioctl(&sock, SIOCGIFFLAGS, &mut req)?;
    req.flags |= IFF_UP;
    flags_ioctl(&sock, SIOCSIFFLAGS, &mut req)
}

/// `SIOCGIFFLAGS` (writes `req.flags`) or `SIOCSIFFLAGS` (reads them) on
/// the interface `req` names, through `sock`.
fn flags_ioctl(sock: &OwnedFd, request: libc::c_ulong, req: &mut IfReqFlags) -> io::Result<()> {
    // SAFETY: both requests read the name and read or write the flags of
    // a live, 40-byte #[repr(C)] ifreq whose name is NUL-terminated
    // (`ifreq_for` checked its length).
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), request as _, req as *mut IfReqFlags) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// How to open a TAP interface (see [`TapDevice::open_with`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapOptions {
    /// Ask for the virtio-net header and the offloads both ways:
    /// super-frames of up to 64 KiB and checksums left partial.
    pub offload: bool,
    /// With `offload`: parts to leave off (to measure what each is worth).
    pub without: TapAblation,
}

impl TapOptions {
    /// Every offload on.
    pub fn offload() -> TapOptions {
        TapOptions {
            offload: true,
            without: TapAblation::default(),
        }
    }

    /// From the environment, for test suites and benchmarks:
    /// `STRATA_TAP_OFFLOAD=1` turns the offloads on, and
    /// `STRATA_TAP_WITHOUT` (a comma-separated list of `tso`, `tx-csum`,
    /// `gro`, `rx-csum`) leaves some of them off.
    pub fn from_env() -> TapOptions {
        let offload = std::env::var("STRATA_TAP_OFFLOAD").is_ok_and(|v| v == "1");
        let without = std::env::var("STRATA_TAP_WITHOUT")
            .map(|v| TapAblation::parse(&v))
            .unwrap_or_default();
        TapOptions { offload, without }
    }
}

/// Offloads to leave off although [`TapOptions::offload`] asks for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapAblation {
    /// Send no super-segments: every segment fits the MTU.
    pub tso: bool,
    /// Compute every outbound checksum (super-segments keep theirs
    /// partial while TSO is on: each piece needs its own).
    pub tx_csum: bool,
    /// Take no super-frames from the kernel (`TUN_F_TSO4` off).
    pub gro: bool,
    /// Complete and verify checksums the kernel left partial, instead of
    /// telling the stack that they need no check.
    pub rx_csum: bool,
}

impl TapAblation {
    /// Parses `tso,tx-csum,gro,rx-csum` (any subset; unknown words are
    /// ignored with a warning).
    pub fn parse(list: &str) -> TapAblation {
        let mut a = TapAblation::default();
        for w in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match w {
                "tso" => a.tso = true,
                "tx-csum" => a.tx_csum = true,
                "gro" => a.gro = true,
                "rx-csum" => a.rx_csum = true,
                other => tracing::warn!(word = other, "unknown offload in STRATA_TAP_WITHOUT"),
            }
        }
        a
    }
}

/// What the kernel granted a TAP opened with [`TapOptions::offload`], and
/// what the device does with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapOffloads {
    /// Frames travel behind a virtio-net header.
    pub vnet_hdr: bool,
    /// The kernel may leave TCP/UDP checksums for us to complete.
    pub csum: bool,
    /// The kernel may hand over IPv4 TCP super-frames.
    pub tso4: bool,
    /// We send TCP super-segments for the kernel to take whole (TSO).
    pub tx_tso: bool,
    /// We leave outbound TCP checksums partial.
    pub tx_csum: bool,
    /// Checksums the kernel left partial (or verified) are not checked
    /// again by the stack.
    pub rx_csum: bool,
}

/// Counters of the offload path (all zero on a plain TAP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OffloadStats {
    /// Frames that arrived as super-frames (a GSO type in the header).
    pub rx_super_frames: u64,
    /// Bytes of those super-frames.
    pub rx_super_bytes: u64,
    /// Checksums the device completed (`NEEDS_CSUM`).
    pub rx_csum_completed: u64,
    /// Frames dropped because their header asked for something that does
    /// not fit the frame (a checksum position beyond its end).
    pub rx_bad_header: u64,
    /// Partial (or verified) checksums handed to the stack unchecked.
    pub rx_csum_trusted: u64,
    /// Super-segments sent (each a TSO frame the kernel took whole).
    pub tx_super_frames: u64,
    /// Bytes of those super-segments.
    pub tx_super_bytes: u64,
    /// Frames sent with a partial checksum.
    pub tx_csum_partial: u64,
    /// Offloaded frames the kernel refused; each was finished in software,
    /// and the offload that failed is off from then on.
    pub tx_refused: u64,
}

/// The live counters behind [`OffloadStats`]: atomics, so that the
/// reading and the writing half of a device (see [`Device::split_writer`])
/// count without a lock between them.
#[derive(Debug, Default)]
struct OffloadCounters {
    rx_super_frames: AtomicU64,
    rx_super_bytes: AtomicU64,
    rx_csum_completed: AtomicU64,
    rx_bad_header: AtomicU64,
    rx_csum_trusted: AtomicU64,
    tx_super_frames: AtomicU64,
    tx_super_bytes: AtomicU64,
    tx_csum_partial: AtomicU64,
    tx_refused: AtomicU64,
}

impl OffloadCounters {
    fn snapshot(&self) -> OffloadStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        OffloadStats {
            rx_super_frames: get(&self.rx_super_frames),
            rx_super_bytes: get(&self.rx_super_bytes),
            rx_csum_completed: get(&self.rx_csum_completed),
            rx_bad_header: get(&self.rx_bad_header),
            rx_csum_trusted: get(&self.rx_csum_trusted),
            tx_super_frames: get(&self.tx_super_frames),
            tx_super_bytes: get(&self.tx_super_bytes),
            tx_csum_partial: get(&self.tx_csum_partial),
            tx_refused: get(&self.tx_refused),
        }
    }
}

/// Adds `n` to a counter.
fn count(c: &AtomicU64, n: u64) {
    if n != 0 {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// `SIOCGIFTXQLEN` / `SIOCSIFTXQLEN` from `<linux/sockios.h>`.
const SIOCGIFTXQLEN: libc::c_ulong = 0x8942;
const SIOCSIFTXQLEN: libc::c_ulong = 0x8943;

/// Frames the kernel may hold for strata on a TAP it opens (the
/// interface's `txqueuelen`; raised to this, never lowered).
///
/// A TAP's `txqueuelen` sizes the ring in which the kernel keeps the
/// frames it sends toward the reader; when the ring is full the kernel
/// drops (the interface's TX `dropped`). The kernel's default, 1 000, is
/// too short for a server: at 500 new connections at once the SYNs, the
/// handshakes' ACKs and the requests arrive faster than one I/O thread
/// takes them, and the dropped ones come back as SYN retransmissions a
/// second later (p99 over a second in `strata-bench http` at c=500).
/// Every frame in the ring is one the kernel already sent, so the ring
/// only needs to hold a burst: with 10 000, bursts of 1 000 connections
/// lose nothing.
pub const TAP_TX_QUEUE_LEN: u32 = 10_000;

/// `struct ifreq` with its union holding an int (`ifr_qlen`).
#[repr(C)]
struct IfReqInt {
    name: [libc::c_char; IFNAMSIZ],
    value: libc::c_int,
    _pad: [u8; 20],
}

/// The `txqueuelen` of interface `name`.
pub fn tx_queue_len(name: &str) -> io::Result<u32> {
    Ok(tx_queue_len_ioctl(name, SIOCGIFTXQLEN, 0)?.max(0) as u32)
}

/// Sets the `txqueuelen` of interface `name` (`ip link set NAME
/// txqueuelen LEN`); needs CAP_NET_ADMIN.
pub fn set_tx_queue_len(name: &str, len: u32) -> io::Result<()> {
    let len = libc::c_int::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "txqueuelen too large"))?;
    tx_queue_len_ioctl(name, SIOCSIFTXQLEN, len).map(|_| ())
}

/// `SIOCGIFTXQLEN` or `SIOCSIFTXQLEN` (`request`) on interface `name`
/// with `value` in the request; the value the kernel left there.
fn tx_queue_len_ioctl(
    name: &str,
    request: libc::c_ulong,
    value: libc::c_int,
) -> io::Result<libc::c_int> {
    let flags = ifreq_for(name)?;
    let mut req = IfReqInt {
        name: flags.name,
        value,
        _pad: [0; 20],
    };
    let sock = ioctl_socket()?;
    // SAFETY: both requests read the NUL-terminated name of a live 40-byte
    // #[repr(C)] ifreq, and read or write the int that follows it.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), request as _, &mut req as *mut IfReqInt) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(req.value)
}

/// `SIOCETHTOOL` from `<linux/sockios.h>` and `ETHTOOL_GLINK` from
/// `<linux/ethtool.h>` ("is the link up?").
const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GLINK: u32 = 0x0000_000a;

/// `struct ethtool_value`.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// `struct ifreq` with its union holding a pointer (`ifr_data`).
#[repr(C)]
struct IfReqData {
    name: [libc::c_char; IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 24 - std::mem::size_of::<*mut libc::c_void>()],
}

/// Brings the kernel's view of interface `name`'s link up to date and
/// returns whether it has a carrier (`ethtool NAME`'s "Link detected").
///
/// Attaching a reader to a TAP turns its carrier on, but the kernel
/// activates the interface's transmit queue only in its link-watch work,
/// a global work item that needs the RTNL lock and so runs late while
/// other interfaces and namespaces come and go (up to a second and more
/// on a busy machine). Until then the queue is the `noop` qdisc, which
/// drops every frame the kernel sends toward us: the first ARP reply to
/// a fresh `strata fetch` was lost that way, so its SYN waited a second
/// for the ARP retry and went out twice. The tun driver answers
/// `ETHTOOL_GLINK` with `ethtool_op_get_link`, which first runs the
/// interface's pending link-watch event itself (`linkwatch_sync_dev`),
/// under the RTNL lock: once this returns, the queue is active.
pub(crate) fn sync_link_state(name: &str) -> io::Result<bool> {
    let flags = ifreq_for(name)?;
    let mut value = EthtoolValue {
        cmd: ETHTOOL_GLINK,
        data: 0,
    };
    let mut req = IfReqData {
        name: flags.name,
        data: (&mut value as *mut EthtoolValue).cast(),
        _pad: [0; 24 - std::mem::size_of::<*mut libc::c_void>()],
    };
    let sock = ioctl_socket()?;
    // SAFETY: SIOCETHTOOL reads the NUL-terminated name and the `ifr_data`
    // pointer of a live 40-byte #[repr(C)] ifreq; the kernel reads the
    // command and writes the result through that pointer, to `value`,
    // which lives until the call returns.
    let rc = unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            SIOCETHTOOL as _,
            &mut req as *mut IfReqData,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value.data != 0)
}

/// An open TAP interface.
#[derive(Debug)]
pub struct TapDevice {
    fd: OwnedFd,
    name: String,
    offloads: TapOffloads,
    stats: Arc<OffloadCounters>,
    /// This descriptor attached the interface (not a write half from
    /// [`Device::split_writer`]): dropping it turns the offloads off.
    attached: bool,
    /// Scratch for the virtio-net header of each read.
    rx_hdr: [u8; VNET_HDR_LEN],
    /// Scratch for frames finished in software.
    scratch: Vec<u8>,
}

impl TapDevice {
    /// Opens (creating it if it does not exist and the caller may) the TAP
    /// interface `name` in the calling thread's network namespace.
    ///
    /// The interface still has to be brought up (`ip link set NAME up`)
    /// for the kernel to send or accept frames on it. When it is up
    /// already, the kernel's side is ready to send by the time this
    /// returns: frames the kernel answers at once are not dropped. The
    /// interface's `txqueuelen` is raised to [`TAP_TX_QUEUE_LEN`] where
    /// it is shorter (and the caller may).
    pub fn open(name: &str) -> Result<TapDevice, TapError> {
        Self::open_with(name, TapOptions::default())
    }

    /// Like [`TapDevice::open`], with options: with
    /// [`TapOptions::offload`] the device asks for the virtio-net header
    /// and TSO4 + checksum offload, falling back to checksum offload only
    /// and then to the plain path where the kernel refuses
    /// ([`TapDevice::offloads`] says what was granted).
    pub fn open_with(name: &str, opts: TapOptions) -> Result<TapDevice, TapError> {
        Self::open_flags(name, opts, 0)
    }

    /// Opens `queues` queues of the multi-queue TAP interface `name`
    /// (`IFF_MULTI_QUEUE`; a persistent interface must have been made
    /// with `ip tuntap add dev NAME mode tap multi_queue`), each its own
    /// device with `opts`, for one runtime each (see
    /// [`crate::multiqueue::MultiQueueRuntime`]). The kernel sends each
    /// flow to the queue that last wrote frames of it.
    pub fn open_queues(
        name: &str,
        queues: usize,
        opts: TapOptions,
    ) -> Result<Vec<TapDevice>, TapError> {
        (0..queues)
            .map(|_| Self::open_flags(name, opts, IFF_MULTI_QUEUE))
            .collect()
    }

    fn open_flags(
        name: &str,
        opts: TapOptions,
        extra: libc::c_short,
    ) -> Result<TapDevice, TapError> {
        if name.is_empty() || name.len() >= IFNAMSIZ || name.bytes().any(|b| b == 0) {
            return Err(TapError::BadName(name.to_string()));
        }
        // SAFETY: the path is a valid NUL-terminated C string; `open` has no
        // other preconditions. The result is checked before use.
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            let err = io::Error::last_os_error();
            return Err(match err.kind() {
                io::ErrorKind::PermissionDenied => TapError::PermissionDenied {
                    name: name.to_string(),
                },
                _ => TapError::NoTunDevice(err),
            });
        }
        // SAFETY: `raw` is a freshly opened descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let mut req = IfReqFlags {
            name: [0; IFNAMSIZ],
            flags: IFF_TAP | IFF_NO_PI | extra | if opts.offload { IFF_VNET_HDR } else { 0 },
            _pad: [0; 22],
        };
        for (dst, src) in req.name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        // SAFETY: TUNSETIFF reads and writes a `struct ifreq` (40 bytes on
        // Linux); `req` is a live, properly aligned, 40-byte #[repr(C)] value
        // whose name is NUL-terminated (the length check above leaves at
        // least one zero byte). The fd is open for the whole call.
        let rc =
            unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF as _, &mut req as *mut IfReqFlags) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            let name = name.to_string();
            return Err(match err.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => TapError::PermissionDenied { name },
                Some(libc::EBUSY) | Some(libc::EINVAL) => TapError::Busy { name, error: err },
                _ => TapError::Ioctl { name, error: err },
            });
        }
        let offloads = if opts.offload {
            let size: libc::c_int = VNET_HDR_LEN as libc::c_int;
            // SAFETY: TUNSETVNETHDRSZ reads an int through the pointer.
            let rc = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETVNETHDRSZ as _, &size) };
            if rc < 0 {
                tracing::debug!(error = %io::Error::last_os_error(), "TUNSETVNETHDRSZ refused; the kernel default (10) stays");
            }
            negotiate_offloads(|flags| set_offload(&fd, flags), opts.without)
        } else {
            // Offloads stay on a persistent interface after their reader
            // closed it: a plain reader would be handed super-frames with
            // checksums left to complete. Turn them off (a fresh TAP has
            // none, and a kernel that refuses loses nothing).
            set_offload(&fd, 0);
            TapOffloads::default()
        };
        // Room for the kernel's bursts toward us (see TAP_TX_QUEUE_LEN).
        match tx_queue_len(name) {
            Ok(len) if len < TAP_TX_QUEUE_LEN => {
                if let Err(e) = set_tx_queue_len(name, TAP_TX_QUEUE_LEN) {
                    tracing::info!(error = %e, len, "could not raise the TAP's txqueuelen; the kernel drops beyond it");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "SIOCGIFTXQLEN refused"),
        }
        // The carrier is on now that we read the TAP; make the kernel
        // activate its transmit queue before anyone sends, or its first
        // replies are dropped (see `sync_link_state`).
        if let Err(e) = sync_link_state(name) {
            tracing::debug!(error = %e, "ETHTOOL_GLINK refused; the kernel activates the link in its own time");
        }
        Ok(TapDevice {
            fd,
            name: name.to_string(),
            offloads,
            stats: Default::default(),
            attached: true,
            rx_hdr: [0; VNET_HDR_LEN],
            scratch: Vec::new(),
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offloads the kernel granted (none on a plain TAP).
    pub fn offloads(&self) -> TapOffloads {
        self.offloads
    }

    /// A live view of the offload counters (it stays valid after the
    /// device moved into a runtime).
    pub fn offload_stats(&self) -> OffloadStatsHandle {
        OffloadStatsHandle(self.stats.clone())
    }

    /// One frame behind its virtio-net header; with `trust`, partial or
    /// verified checksums are described in the [`RxMeta`] rather than
    /// completed (only for a caller that passes the meta on to the stack).
    fn recv_vnet(&mut self, buf: &mut [u8], trust: bool) -> io::Result<Option<(usize, RxMeta)>> {
        loop {
            let mut iov = [
                libc::iovec {
                    iov_base: self.rx_hdr.as_mut_ptr().cast(),
                    iov_len: VNET_HDR_LEN,
                },
                libc::iovec {
                    iov_base: buf.as_mut_ptr().cast(),
                    iov_len: buf.len(),
                },
            ];
            // SAFETY: both iovecs point into live, writable buffers of the
            // given lengths for the duration of the call.
            let n = unsafe { libc::readv(self.fd.as_raw_fd(), iov.as_mut_ptr(), 2) };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => return Ok(None),
                    _ => return Err(err),
                }
            }
            let n = n as usize;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "end of file (the other end is gone)",
                ));
            }
            if n < VNET_HDR_LEN {
                count(&self.stats.rx_bad_header, 1);
                continue;
            }
            let len = n - VNET_HDR_LEN;
            match read_vnet_header(&self.rx_hdr, &mut buf[..len], trust) {
                Some((info, meta)) => {
                    let st = &self.stats;
                    if info.super_frame {
                        count(&st.rx_super_frames, 1);
                        count(&st.rx_super_bytes, len as u64);
                    }
                    count(&st.rx_csum_completed, u64::from(info.csum_completed));
                    count(
                        &st.rx_csum_trusted,
                        u64::from(meta.checksum != RxChecksum::Unknown),
                    );
                    return Ok(Some((len, meta)));
                }
                None => {
                    count(&self.stats.rx_bad_header, 1);
                    continue;
                }
            }
        }
    }

    fn send_vnet(&mut self, frame: &[u8], meta: &TxMeta) -> io::Result<bool> {
        let hdr = vnet_header(meta);
        let iov = [
            libc::iovec {
                iov_base: hdr.as_ptr() as *mut libc::c_void,
                iov_len: VNET_HDR_LEN,
            },
            libc::iovec {
                iov_base: frame.as_ptr() as *mut libc::c_void,
                iov_len: frame.len(),
            },
        ];
        write_iov(self.fd.as_raw_fd(), &iov)
    }
}

/// A shared view of a [`TapDevice`]'s [`OffloadStats`].
#[derive(Debug, Clone)]
pub struct OffloadStatsHandle(Arc<OffloadCounters>);

impl OffloadStatsHandle {
    /// The counters now.
    pub fn get(&self) -> OffloadStats {
        self.0.snapshot()
    }
}

/// `TUNSETOFFLOAD` with `flags`; whether the kernel took it.
fn set_offload(fd: &OwnedFd, flags: libc::c_uint) -> bool {
    // SAFETY: TUNSETOFFLOAD takes the flags as the argument value.
    unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD as _, flags as libc::c_ulong) == 0 }
}

impl Drop for TapDevice {
    fn drop(&mut self) {
        // Leave the interface as a plain reader expects it: the offloads
        // would outlive this descriptor on a persistent TAP. (A write half
        // leaves them to the descriptor that attached the interface.)
        if self.attached && (self.offloads.csum || self.offloads.tso4) {
            set_offload(&self.fd, 0);
        }
    }
}

/// Asks (through `set`, one `TUNSETOFFLOAD` each) for TSO4 + checksum
/// offload, then checksum offload alone; what the kernel refuses is left
/// off, and with it what depends on it: the device sends super-segments
/// and partial checksums only where the kernel took checksum offload (the
/// feature TSO rests on in Linux), so a kernel that refuses every flag
/// gets the plain path behind an empty header.
fn negotiate_offloads(
    mut set: impl FnMut(libc::c_uint) -> bool,
    without: TapAblation,
) -> TapOffloads {
    let mut tries: Vec<(libc::c_uint, bool, bool)> = Vec::new();
    if !without.gro {
        tries.push((TUN_F_CSUM | TUN_F_TSO4, true, true));
    }
    tries.push((TUN_F_CSUM, true, false));
    tries.push((0, false, false));
    for (flags, csum, tso4) in tries {
        if set(flags) {
            return TapOffloads {
                vnet_hdr: true,
                csum,
                tso4,
                tx_tso: csum && !without.tso,
                tx_csum: csum && !without.tx_csum,
                rx_csum: csum && !without.rx_csum,
            };
        }
        tracing::debug!(flags, error = %io::Error::last_os_error(), "TUNSETOFFLOAD refused; trying fewer");
    }
    // The header stays on even without offloads (IFF_VNET_HDR was granted).
    TapOffloads {
        vnet_hdr: true,
        ..TapOffloads::default()
    }
}

/// The virtio-net header for an outbound frame (virtio 1.x §5.1.6.2, in
/// the host's byte order as the legacy header is): `NEEDS_CSUM` with
/// `csum_start`/`csum_offset` for a partial checksum, `GSO_TCPV4` with
/// `gso_size` (payload per segment) and `hdr_len` (headers repeated in
/// each) for a super-segment; all zero for a finished frame.
pub fn vnet_header(meta: &TxMeta) -> [u8; VNET_HDR_LEN] {
    let mut h = [0u8; VNET_HDR_LEN];
    if let Some(c) = meta.checksum {
        h[0] = VNET_F_NEEDS_CSUM;
        h[6..8].copy_from_slice(&c.start.to_ne_bytes());
        h[8..10].copy_from_slice(&c.offset.to_ne_bytes());
    }
    if let Some(g) = meta.gso {
        h[1] = VNET_GSO_TCPV4;
        h[2..4].copy_from_slice(&g.hdr_len.to_ne_bytes());
        h[4..6].copy_from_slice(&g.size.to_ne_bytes());
    }
    h
}

/// Applies one received virtio-net header to its frame: with `trust`, a
/// checksum left partial (`NEEDS_CSUM`) or verified (`DATA_VALID`) is
/// described to the stack ([`RxMeta`]) instead of completed; without, a
/// partial checksum is completed here ([`complete_vnet_frame`]). `None`
/// when the header points outside the frame (the frame is dropped).
fn read_vnet_header(
    hdr: &[u8; VNET_HDR_LEN],
    frame: &mut [u8],
    trust: bool,
) -> Option<(VnetFrameInfo, RxMeta)> {
    let flags = hdr[0];
    if !trust {
        return complete_vnet_frame(hdr, frame).map(|i| (i, RxMeta::default()));
    }
    let gso_type = hdr[1] & !VNET_GSO_ECN;
    let info = VnetFrameInfo {
        super_frame: gso_type != VNET_GSO_NONE,
        csum_completed: false,
    };
    let checksum = if flags & VNET_F_NEEDS_CSUM != 0 {
        let c = PartialChecksum {
            start: u16::from_ne_bytes([hdr[6], hdr[7]]),
            offset: u16::from_ne_bytes([hdr[8], hdr[9]]),
        };
        let at = usize::from(c.start) + usize::from(c.offset);
        if usize::from(c.start) >= frame.len() || at + 2 > frame.len() {
            return None;
        }
        RxChecksum::Partial(c)
    } else if flags & VNET_F_DATA_VALID != 0 {
        RxChecksum::Verified
    } else {
        RxChecksum::Unknown
    };
    Some((info, RxMeta { checksum }))
}

/// What [`complete_vnet_frame`] found in one header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VnetFrameInfo {
    /// The frame is a super-frame (GSO type other than none).
    pub super_frame: bool,
    /// Its checksum was completed here.
    pub csum_completed: bool,
}

/// Applies one received virtio-net header to its frame: a checksum left
/// to complete (`NEEDS_CSUM`: the field at `csum_start + csum_offset`
/// holds the pseudo-header sum) is completed over `frame[csum_start..]`,
/// so the stack sees an ordinary frame whose checksums verify. `None` when
/// the header points outside the frame (the frame is dropped).
pub fn complete_vnet_frame(hdr: &[u8; VNET_HDR_LEN], frame: &mut [u8]) -> Option<VnetFrameInfo> {
    let flags = hdr[0];
    let gso_type = hdr[1] & !VNET_GSO_ECN;
    // Legacy virtio-net headers are in the host's byte order.
    let csum_start = usize::from(u16::from_ne_bytes([hdr[6], hdr[7]]));
    let csum_offset = usize::from(u16::from_ne_bytes([hdr[8], hdr[9]]));
    let mut info = VnetFrameInfo {
        super_frame: gso_type != VNET_GSO_NONE,
        csum_completed: false,
    };
    if flags & VNET_F_NEEDS_CSUM != 0 {
        let at = csum_start.checked_add(csum_offset)?;
        if csum_start >= frame.len() || at + 2 > frame.len() {
            return None;
        }
        // RFC 1071: the field holds the pseudo-header sum; summing the
        // whole transport segment over it and complementing gives the
        // checksum (RFC 9293 §3.1, RFC 768).
        let c = strata::wire::checksum::checksum(&frame[csum_start..]);
        frame[at..at + 2].copy_from_slice(&c.to_be_bytes());
        info.csum_completed = true;
    }
    Some(info)
}

/// Reads one datagram-like unit from a non-blocking fd: `Ok(None)` when
/// nothing is waiting. A read of zero bytes is end of file (the peer of a
/// socket pair is gone; no device delivers empty frames) and comes back as
/// an [`io::ErrorKind::UnexpectedEof`] error, so that no caller mistakes it
/// for a frame and reads again forever.
pub(crate) fn read_frame(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        // SAFETY: `buf` is a valid writable region of `buf.len()` bytes for
        // the duration of the call; the fd is owned by the caller.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "end of file (the other end is gone)",
            ));
        }
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(None),
            _ => return Err(err),
        }
    }
}

/// Writes one frame to a non-blocking fd: `Ok(false)` when the device
/// queue is full and the frame was not taken.
pub(crate) fn write_frame(fd: RawFd, frame: &[u8]) -> io::Result<bool> {
    let iov = [libc::iovec {
        iov_base: frame.as_ptr() as *mut libc::c_void,
        iov_len: frame.len(),
    }];
    write_iov(fd, &iov)
}

/// Writes one frame gathered from `iov` (a virtio-net header and the
/// frame, or the frame alone) to a non-blocking fd: `Ok(false)` when the
/// device queue is full and the frame was not taken.
fn write_iov(fd: RawFd, iov: &[libc::iovec]) -> io::Result<bool> {
    loop {
        // SAFETY: every iovec points into a live buffer of its length
        // (the callers build them from slices they hold); writev only
        // reads them.
        let n = unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int) };
        if n >= 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(false),
            _ => return Err(err),
        }
    }
}

impl AsFd for TapDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Device for TapDevice {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // A caller without the meta gets finished frames.
        if self.offloads.vnet_hdr {
            return Ok(self.recv_vnet(buf, false)?.map(|(n, _)| n));
        }
        read_frame(self.fd.as_raw_fd(), buf)
    }

    fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<Option<(usize, RxMeta)>> {
        if self.offloads.vnet_hdr {
            let trust = self.offloads.rx_csum;
            return self.recv_vnet(buf, trust);
        }
        Ok(read_frame(self.fd.as_raw_fd(), buf)?.map(|n| (n, RxMeta::default())))
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<bool> {
        if self.offloads.vnet_hdr {
            return self.send_vnet(frame, &TxMeta::default());
        }
        write_frame(self.fd.as_raw_fd(), frame)
    }

    fn offloads(&self) -> Offloads {
        Offloads {
            tso_max: self
                .offloads
                .tx_tso
                .then_some(strata::phy::MAX_TSO_DATAGRAM),
            tx_checksum: self.offloads.tx_csum,
            rx_checksum: self.offloads.rx_csum,
        }
    }

    fn send_meta(&mut self, frame: &mut [u8], meta: &TxMeta) -> io::Result<bool> {
        if meta.is_plain() || !self.offloads.vnet_hdr {
            return self.send(frame);
        }
        match self.send_vnet(frame, meta) {
            Ok(sent) => {
                if sent {
                    let st = &self.stats;
                    if meta.gso.is_some() {
                        count(&st.tx_super_frames, 1);
                        count(&st.tx_super_bytes, frame.len() as u64);
                    }
                    count(&st.tx_csum_partial, u64::from(meta.checksum.is_some()));
                }
                Ok(sent)
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                // The kernel refused the offloaded frame: from now on the
                // stack gets plain caps (the runtime re-reads `offloads`),
                // and this frame is finished here and sent plain.
                tracing::warn!(error = %e, gso = meta.gso.is_some(), "TAP refused an offloaded frame; offloads off");
                count(&self.stats.tx_refused, 1);
                self.offloads.tx_tso = false;
                self.offloads.tx_csum = false;
                let mut scratch = std::mem::take(&mut self.scratch);
                let mut result = Ok(true);
                let done = strata::phy::finish_in_software(frame, meta, &mut scratch, |f| {
                    if matches!(result, Ok(true)) {
                        result = self.send_vnet(f, &TxMeta::default());
                    }
                });
                self.scratch = scratch;
                done.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                result
            }
            Err(e) => Err(e),
        }
    }

    fn describe(&self) -> String {
        format!("tap:{}", self.name)
    }

    /// A duplicate of the descriptor (the same queue of the interface):
    /// the runtime reads through this device and writes through the
    /// duplicate, which keeps the send side's state (an offload the
    /// kernel refused is off there) and shares the counters.
    fn split_writer(&mut self) -> io::Result<Option<Box<dyn Device>>> {
        Ok(Some(Box::new(TapDevice {
            fd: self.fd.try_clone()?,
            name: self.name.clone(),
            offloads: self.offloads,
            stats: self.stats.clone(),
            attached: false,
            rx_hdr: [0; VNET_HDR_LEN],
            scratch: Vec::new(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_are_rejected_before_any_syscall() {
        assert!(matches!(TapDevice::open(""), Err(TapError::BadName(_))));
        assert!(matches!(
            TapDevice::open("a-very-long-name-x"),
            Err(TapError::BadName(_))
        ));
        assert!(matches!(TapDevice::open("a\0b"), Err(TapError::BadName(_))));
    }

    fn hdr(flags: u8, gso: u8, start: u16, off: u16) -> [u8; VNET_HDR_LEN] {
        let mut h = [0u8; VNET_HDR_LEN];
        h[0] = flags;
        h[1] = gso;
        h[6..8].copy_from_slice(&start.to_ne_bytes());
        h[8..10].copy_from_slice(&off.to_ne_bytes());
        h
    }

    #[test]
    fn a_checksum_left_to_complete_is_completed_to_what_the_stack_verifies() {
        use strata::wire::checksum;
        // Ethernet (14) + IPv4 (20) + TCP (20) + 1000 bytes of data.
        let mut f = vec![0u8; 14 + 20 + 20 + 1000];
        for (i, b) in f.iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        let (src, dst) = (
            std::net::Ipv4Addr::new(10, 0, 0, 1),
            std::net::Ipv4Addr::new(10, 0, 0, 2),
        );
        let tcp_len = (f.len() - 34) as u32;
        // What the kernel leaves: the pseudo-header sum, not complemented.
        let pseudo =
            checksum::pseudo_header(src, dst, strata::wire::ipv4::IpProtocol::TCP, tcp_len);
        f[34 + 16..34 + 18].copy_from_slice(&pseudo.to_be_bytes());
        let info = complete_vnet_frame(&hdr(VNET_F_NEEDS_CSUM, 1, 34, 16), &mut f).unwrap();
        assert!(info.super_frame && info.csum_completed);
        // The segment now verifies against the pseudo-header.
        assert_eq!(
            checksum::combine(&[pseudo, checksum::sum(&f[34..])]),
            0xffff,
            "completed checksum does not verify"
        );
        // A plain header leaves the frame alone.
        let before = f.clone();
        let info = complete_vnet_frame(&hdr(0, 0, 0, 0), &mut f).unwrap();
        assert!(!info.super_frame && !info.csum_completed);
        assert_eq!(f, before);
        // A checksum position beyond the frame is refused, not a panic.
        assert!(complete_vnet_frame(&hdr(VNET_F_NEEDS_CSUM, 0, 60, 16), &mut f[..70]).is_none());
        assert!(complete_vnet_frame(&hdr(VNET_F_NEEDS_CSUM, 0, 65535, 65535), &mut f).is_none());
    }

    #[test]
    fn refused_flags_fall_back_to_fewer_and_then_to_the_plain_path() {
        let none = TapAblation::default();
        // Everything granted: offloads both ways.
        let all = negotiate_offloads(|_| true, none);
        assert!(all.csum && all.tso4 && all.tx_tso && all.tx_csum && all.rx_csum);
        // TSO4 refused: checksum offload only; still TSO out (the kernel
        // takes super-segments from a reader whatever it sends it).
        let mut asked = Vec::new();
        let csum = negotiate_offloads(
            |f| {
                asked.push(f);
                f & TUN_F_TSO4 == 0
            },
            none,
        );
        assert_eq!(asked, [TUN_F_CSUM | TUN_F_TSO4, TUN_F_CSUM]);
        assert!(csum.csum && !csum.tso4 && csum.tx_tso && csum.rx_csum);
        // Everything refused (TUNSETOFFLOAD fails): the plain path behind
        // the header, no super-segment and no partial checksum out.
        let plain = negotiate_offloads(|_| false, none);
        assert_eq!(
            plain,
            TapOffloads {
                vnet_hdr: true,
                ..TapOffloads::default()
            }
        );
        // The ablation leaves parts off without asking the kernel.
        let mut asked = Vec::new();
        let no_gro = negotiate_offloads(
            |f| {
                asked.push(f);
                true
            },
            TapAblation::parse("gro, tso"),
        );
        assert_eq!(asked, [TUN_F_CSUM]);
        assert!(!no_gro.tso4 && !no_gro.tx_tso && no_gro.tx_csum);
    }

    #[test]
    fn the_outbound_header_describes_super_segments_and_partial_checksums() {
        use strata::phy::Gso;
        assert_eq!(vnet_header(&TxMeta::default()), [0; VNET_HDR_LEN]);
        let meta = TxMeta {
            checksum: Some(PartialChecksum {
                start: 34,
                offset: 16,
            }),
            gso: Some(Gso {
                size: 1448,
                hdr_len: 66,
            }),
        };
        let h = vnet_header(&meta);
        assert_eq!(h[0], VNET_F_NEEDS_CSUM);
        assert_eq!(h[1], VNET_GSO_TCPV4);
        assert_eq!(u16::from_ne_bytes([h[2], h[3]]), 66);
        assert_eq!(u16::from_ne_bytes([h[4], h[5]]), 1448);
        assert_eq!(u16::from_ne_bytes([h[6], h[7]]), 34);
        assert_eq!(u16::from_ne_bytes([h[8], h[9]]), 16);
        // Read back with trust, a received header of that kind is described
        // to the stack, not completed.
        let mut f = vec![0u8; 200];
        let (info, rx) = read_vnet_header(&h, &mut f, true).unwrap();
        assert!(info.super_frame && !info.csum_completed);
        assert_eq!(
            rx.checksum,
            RxChecksum::Partial(PartialChecksum {
                start: 34,
                offset: 16
            })
        );
        // Without trust it is completed; out of bounds it is refused.
        assert!(
            read_vnet_header(&h, &mut f, false)
                .unwrap()
                .0
                .csum_completed
        );
        assert!(read_vnet_header(&h, &mut f[..40], true).is_none());
        let mut valid = [0u8; VNET_HDR_LEN];
        valid[0] = VNET_F_DATA_VALID;
        assert_eq!(
            read_vnet_header(&valid, &mut f, true).unwrap().1.checksum,
            RxChecksum::Verified
        );
    }

    #[test]
    fn permission_message_names_the_fix() {
        let e = TapError::PermissionDenied {
            name: "tap0".into(),
        };
        let s = e.to_string();
        assert!(s.contains("CAP_NET_ADMIN") && s.contains("root"), "{s}");
    }
}
