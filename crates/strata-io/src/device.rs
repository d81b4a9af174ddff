//! Devices the runtime can drive: anything that moves whole Ethernet frames
//! through a pollable file descriptor.
//!
//! Two kinds exist: a Linux [`TapDevice`](crate::tap::TapDevice) (the real
//! kernel on the other side) and a [`PipeDevice`], one end of an in-process
//! point-to-point link built on a `SOCK_SEQPACKET` socket pair, so the same
//! program runs without privileges (two runtimes wired back to back, or a
//! test that plays the peer by hand).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

use crate::tap::{read_frame, write_frame};
use strata::phy::{Offloads, RxMeta, TxMeta};

/// A frame device with a pollable descriptor. All calls are non-blocking.
pub trait Device: AsFd + Send + 'static {
    /// Reads one frame into `buf`; `Ok(None)` when none is waiting. An
    /// error means the device cannot deliver frames any more (end of file
    /// is [`io::ErrorKind::UnexpectedEof`]): the runtime stops reading it
    /// and reports the failure (see
    /// [`Runtime::device_failure`](crate::Runtime::device_failure)).
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    /// Sends one frame; `Ok(false)` when the device cannot take it now
    /// (the frame is dropped, as a full NIC queue would drop it).
    fn send(&mut self, frame: &[u8]) -> io::Result<bool>;
    /// A short human description, e.g. `tap:tap0`.
    fn describe(&self) -> String;

    /// What the device does for the stack beyond carrying frames (TSO,
    /// checksum offload; see [`strata::phy::DeviceCaps`]). None by default.
    /// The runtime reads it after every send, so a device may turn an
    /// offload off when its kernel refuses it.
    fn offloads(&self) -> Offloads {
        Offloads::default()
    }

    /// Like [`Device::recv`], with what the device knows of the frame's
    /// checksum (nothing, by default).
    fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<Option<(usize, RxMeta)>> {
        Ok(self.recv(buf)?.map(|n| (n, RxMeta::default())))
    }

    /// Sends one frame that may leave work to the device ([`TxMeta`]: a
    /// super-segment to cut, a checksum to complete). By default the work
    /// is done here in software and the finished frames go to
    /// [`Device::send`]; `Ok(false)` when one of them was not taken.
    fn send_meta(&mut self, frame: &mut [u8], meta: &TxMeta) -> io::Result<bool> {
        if meta.is_plain() {
            return self.send(frame);
        }
        let mut scratch = Vec::new();
        let mut result = Ok(true);
        strata::phy::finish_in_software(frame, meta, &mut scratch, |f| {
            if matches!(result, Ok(true)) {
                result = self.send(f);
            }
        })
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        result
    }

    /// A second handle on the same link, for writing (a duplicate of the
    /// device's descriptor, with the device's send-side state), so that
    /// the runtime's I/O thread reads through `self` while other threads
    /// write through the handle: no lock is shared between reading and
    /// writing. `Ok(None)` (the default): the device does not split, and
    /// the runtime shares it between reader and writers behind one lock.
    fn split_writer(&mut self) -> io::Result<Option<Box<dyn Device>>> {
        Ok(None)
    }
}

/// One end of an in-process Ethernet link (a `SOCK_SEQPACKET` socket pair:
/// message boundaries are kept, so one `recv` is one frame).
#[derive(Debug)]
pub struct PipeDevice {
    fd: OwnedFd,
}

impl PipeDevice {
    /// A connected pair of link ends: what one sends, the other receives.
    pub fn pair() -> io::Result<(PipeDevice, PipeDevice)> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` is a valid array of two ints for socketpair to fill;
        // the return value is checked before the descriptors are used.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned by no one else.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [&a, &b] {
            // Room for a burst of full frames in each direction.
            let size: libc::c_int = 4 << 20;
            // SAFETY: SO_SNDBUF/SO_RCVBUF take an int; pointer and length match.
            unsafe {
                for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
                    libc::setsockopt(
                        fd.as_raw_fd(),
                        libc::SOL_SOCKET,
                        opt,
                        (&size as *const libc::c_int).cast(),
                        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                    );
                }
            }
        }
        Ok((PipeDevice { fd: a }, PipeDevice { fd: b }))
    }

    /// Waits up to `timeout` for a frame and reads it (for tests that play
    /// the peer by hand). `Ok(None)` on timeout.
    pub fn recv_timeout(
        &mut self,
        buf: &mut [u8],
        timeout: std::time::Duration,
    ) -> io::Result<Option<usize>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(n) = self.recv(buf)? {
                return Ok(Some(n));
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            crate::sys::poll_readable(&[self.fd.as_fd()], Some(deadline - now))?;
        }
    }
}

impl AsFd for PipeDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Device for PipeDevice {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        read_frame(self.fd.as_raw_fd(), buf)
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<bool> {
        match write_frame(self.fd.as_raw_fd(), frame) {
            // The peer end is gone: the wire is cut, the frame is lost.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => Ok(false),
            other => other,
        }
    }

    fn describe(&self) -> String {
        "pipe".to_string()
    }

    fn split_writer(&mut self) -> io::Result<Option<Box<dyn Device>>> {
        Ok(Some(Box::new(PipeDevice {
            // The same socket: one end of the link, written through a
            // second descriptor.
            fd: self.fd.try_clone()?,
        })))
    }
}

/// A device with no link behind it: it never receives, and what is sent
/// to it is discarded. The device of a loopback-only runtime
/// ([`Runtime::loopback`](crate::Runtime::loopback)).
#[derive(Debug)]
pub struct NullDevice {
    /// A descriptor that never becomes readable (an eventfd nobody
    /// writes), for the runtime's `poll(2)`.
    fd: OwnedFd,
}

impl NullDevice {
    /// A new null device.
    pub fn new() -> io::Result<NullDevice> {
        // SAFETY: eventfd takes no pointers; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by no one else.
        Ok(NullDevice {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }
}

impl AsFd for NullDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Device for NullDevice {
    fn recv(&mut self, _buf: &mut [u8]) -> io::Result<Option<usize>> {
        Ok(None)
    }
    fn send(&mut self, _frame: &[u8]) -> io::Result<bool> {
        Ok(true)
    }
    fn describe(&self) -> String {
        "null".to_string()
    }
}

impl Device for Box<dyn Device> {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        (**self).recv(buf)
    }
    fn send(&mut self, frame: &[u8]) -> io::Result<bool> {
        (**self).send(frame)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn offloads(&self) -> Offloads {
        (**self).offloads()
    }
    fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<Option<(usize, RxMeta)>> {
        (**self).recv_meta(buf)
    }
    fn send_meta(&mut self, frame: &mut [u8], meta: &TxMeta) -> io::Result<bool> {
        (**self).send_meta(frame, meta)
    }
    fn split_writer(&mut self) -> io::Result<Option<Box<dyn Device>>> {
        (**self).split_writer()
    }
}

/// A device that does not split ([`Device::split_writer`] gave `None`),
/// shared by the runtime's reading thread and its writers: each call
/// takes the device's lock for the one frame it moves.
#[derive(Clone)]
pub(crate) struct SharedDevice {
    dev: Arc<Mutex<Box<dyn Device>>>,
    /// The device's descriptor (it lives as long as `dev`).
    fd: RawFd,
}

impl SharedDevice {
    pub(crate) fn new(dev: Box<dyn Device>) -> SharedDevice {
        SharedDevice {
            fd: dev.as_fd().as_raw_fd(),
            dev: Arc::new(Mutex::new(dev)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn Device>> {
        self.dev.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl AsFd for SharedDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor belongs to the device in `dev`, which
        // this value keeps alive (an `Arc`) for at least the borrow.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }
}

impl Device for SharedDevice {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.lock().recv(buf)
    }
    fn send(&mut self, frame: &[u8]) -> io::Result<bool> {
        self.lock().send(frame)
    }
    fn describe(&self) -> String {
        self.lock().describe()
    }
    fn offloads(&self) -> Offloads {
        self.lock().offloads()
    }
    fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<Option<(usize, RxMeta)>> {
        self.lock().recv_meta(buf)
    }
    fn send_meta(&mut self, frame: &mut [u8], meta: &TxMeta) -> io::Result<bool> {
        self.lock().send_meta(frame, meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pipe_pair_keeps_frame_boundaries() {
        let (mut a, mut b) = PipeDevice::pair().unwrap();
        assert!(a.send(&[1, 2, 3]).unwrap());
        assert!(a.send(&[4; 1514]).unwrap());
        let mut buf = [0u8; 2048];
        assert_eq!(b.recv(&mut buf).unwrap(), Some(3));
        assert_eq!(&buf[..3], &[1, 2, 3]);
        assert_eq!(
            b.recv_timeout(&mut buf, Duration::from_secs(1)).unwrap(),
            Some(1514)
        );
        assert_eq!(b.recv(&mut buf).unwrap(), None);
        assert_eq!(
            b.recv_timeout(&mut buf, Duration::from_millis(20)).unwrap(),
            None
        );
    }

    #[test]
    fn send_to_a_dropped_peer_loses_the_frame_quietly() {
        let (mut a, b) = PipeDevice::pair().unwrap();
        drop(b);
        assert!(!a.send(&[0; 60]).unwrap());
    }

    #[test]
    fn recv_from_a_dropped_peer_is_end_of_file_not_an_empty_frame() {
        let (mut a, b) = PipeDevice::pair().unwrap();
        drop(b);
        let mut buf = [0u8; 64];
        let e = a.recv(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}
