//! A Linux TAP device: whole Ethernet frames to and from the kernel.
//!
//! [`TapDevice::open`] attaches to (or creates) the TAP interface `name` in
//! the network namespace of the calling thread, with `IFF_TAP | IFF_NO_PI`:
//! every `read` returns exactly one Ethernet frame (no FCS, no packet-info
//! prefix) and every `write` sends exactly one. The descriptor is
//! non-blocking, so the runtime waits for it with `poll(2)` beside its own
//! wake-up descriptor.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::device::Device;

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
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of a live,
    // 40-byte #[repr(C)] ifreq whose name is NUL-terminated.
    let rc = unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            SIOCGIFFLAGS as _,
            &mut req as *mut IfReqFlags,
        )
    };
    if rc < 0 {
        let err = io::Error::last_os_error();
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
    // SAFETY: as in `interface_info`: a live, NUL-terminated 40-byte ifreq.
    let rc = unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            SIOCGIFFLAGS as _,
            &mut req as *mut IfReqFlags,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    req.flags |= IFF_UP;
    // SAFETY: SIOCSIFFLAGS reads the same ifreq, now with IFF_UP set.
    let rc = unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            SIOCSIFFLAGS as _,
            &mut req as *mut IfReqFlags,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An open TAP interface.
#[derive(Debug)]
pub struct TapDevice {
    fd: OwnedFd,
    name: String,
}

impl TapDevice {
    /// Opens (creating it if it does not exist and the caller may) the TAP
    /// interface `name` in the calling thread's network namespace.
    ///
    /// The interface still has to be brought up (`ip link set NAME up`)
    /// for the kernel to send or accept frames on it.
    pub fn open(name: &str) -> Result<TapDevice, TapError> {
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
            flags: IFF_TAP | IFF_NO_PI,
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
        Ok(TapDevice {
            fd,
            name: name.to_string(),
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }
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
    loop {
        // SAFETY: `frame` is a valid readable region of `frame.len()` bytes.
        let n = unsafe { libc::write(fd, frame.as_ptr().cast(), frame.len()) };
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
        read_frame(self.fd.as_raw_fd(), buf)
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<bool> {
        write_frame(self.fd.as_raw_fd(), frame)
    }

    fn describe(&self) -> String {
        format!("tap:{}", self.name)
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

    #[test]
    fn permission_message_names_the_fix() {
        let e = TapError::PermissionDenied {
            name: "tap0".into(),
        };
        let s = e.to_string();
        assert!(s.contains("CAP_NET_ADMIN") && s.contains("root"), "{s}");
    }
}
