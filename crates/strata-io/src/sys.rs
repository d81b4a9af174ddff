//! Thin, documented wrappers over the few Linux calls the runtime needs:
//! `poll(2)`, `eventfd(2)` and `timerfd_create(2)`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// What `poll(2)` reported for one descriptor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Data is waiting (`POLLIN`).
    pub readable: bool,
    /// The descriptor is in an error state or its peer hung up (`POLLERR`,
    /// `POLLHUP`, `POLLNVAL`): a read will report it, and waiting again
    /// would return at once, forever.
    pub hangup: bool,
}

impl Readiness {
    /// Readable or hung up: either way a read will not block.
    pub fn any(self) -> bool {
        self.readable || self.hangup
    }
}

fn poll_ms(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        // Round up so a 10 µs timeout does not become a 0 ms busy spin.
        Some(d) => d
            .as_nanos()
            .div_ceil(1_000_000)
            .min(libc::c_int::MAX as u128) as libc::c_int,
    }
}

/// Waits until one of `fds` has `events` (or an error or hang-up) or
/// `timeout` passes (`None`: wait forever), and gives each descriptor's
/// readiness in order. An interrupted wait reports nothing ready.
pub fn poll_events(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> io::Result<Vec<Readiness>> {
    poll_raw(fds, libc::POLLIN, timeout).map(|revents| {
        revents
            .into_iter()
            .map(|r| Readiness {
                readable: r & libc::POLLIN != 0,
                hangup: r & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0,
            })
            .collect()
    })
}

fn poll_raw(
    fds: &[BorrowedFd<'_>],
    events: libc::c_short,
    timeout: Option<Duration>,
) -> io::Result<Vec<libc::c_short>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structures that
    // lives across the call; the descriptors are borrowed, hence open.
    let rc = unsafe {
        libc::poll(
            pfds.as_mut_ptr(),
            pfds.len() as libc::nfds_t,
            poll_ms(timeout),
        )
    };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![0; pfds.len()]);
        }
        return Err(err);
    }
    Ok(pfds.iter().map(|p| p.revents).collect())
}

/// Waits until one of `fds` is readable or `timeout` passes (`None`: wait
/// forever). Returns a bit mask of the readable descriptors (bit `i` for
/// `fds[i]`; at most 64 descriptors); a descriptor in an error or hang-up
/// state counts as readable (a read reports it). Interrupted waits return
/// an empty mask.
pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<u64> {
    debug_assert!(fds.len() <= 64);
    let ready = poll_events(fds, timeout)?;
    Ok(ready
        .iter()
        .enumerate()
        .filter(|(_, r)| r.any())
        .fold(0u64, |m, (i, _)| m | 1 << i))
}

/// Waits up to `timeout` until `fd` can take a write (`POLLOUT`), or is in
/// an error state. Returns whether it became writable.
pub fn poll_writable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let r = poll_raw(&[fd], libc::POLLOUT, Some(timeout))?;
    Ok(r[0] & libc::POLLOUT != 0)
}

/// A counter descriptor used to wake a thread sleeping in [`poll_readable`].
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// A new non-blocking eventfd.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd has no pointer arguments; the result is checked.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a freshly created descriptor owned by no one else.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        })
    }

    /// Makes the descriptor readable (wakes the waiter). Never blocks.
    pub fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64. A full counter (EAGAIN)
        // already means "readable", so the result can be ignored.
        unsafe {
            libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8);
        }
    }

    /// Resets the counter (after waking).
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64; EAGAIN (not notified) is fine.
        unsafe {
            libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8);
        }
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A one-shot timer descriptor (`CLOCK_MONOTONIC`): readable once the
/// time it was set to has come, so a thread sleeping in [`poll_events`]
/// wakes then. Another thread can move that time without waking the
/// sleeper.
#[derive(Debug)]
pub struct TimerFd {
    fd: OwnedFd,
}

impl TimerFd {
    /// A new, disarmed, non-blocking timer.
    pub fn new() -> io::Result<TimerFd> {
        // SAFETY: timerfd_create has no pointer arguments; the result is
        // checked.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a freshly created descriptor owned by no one else.
        Ok(TimerFd {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        })
    }

    /// Fires once `after` from now (rounded up to whole milliseconds, the
    /// granularity of [`poll_events`]' own timeout); `None` disarms it.
    pub fn set(&self, after: Option<Duration>) -> io::Result<()> {
        let value = match after {
            None => libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            Some(d) => {
                let ms = d.as_nanos().div_ceil(1_000_000).max(1);
                libc::timespec {
                    tv_sec: (ms / 1000).min(libc::time_t::MAX as u128) as libc::time_t,
                    tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
                }
            }
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        // SAFETY: `spec` is a valid itimerspec; the old value is not asked
        // for (null).
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Clears the expiry (after waking), so the descriptor is not readable
    /// until the timer is set and fires again.
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64; EAGAIN (not fired) is fine.
        unsafe {
            libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8);
        }
    }
}

impl AsFd for TimerFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventfd_wakes_poll_and_drains() {
        let e = EventFd::new().unwrap();
        assert_eq!(
            poll_readable(&[e.as_fd()], Some(Duration::ZERO)).unwrap(),
            0
        );
        e.notify();
        e.notify();
        assert_eq!(
            poll_readable(&[e.as_fd()], Some(Duration::from_secs(1))).unwrap(),
            1
        );
        e.drain();
        assert_eq!(
            poll_readable(&[e.as_fd()], Some(Duration::from_millis(1))).unwrap(),
            0
        );
    }

    #[test]
    fn timerfd_fires_once_when_set_and_not_when_disarmed() {
        let t = TimerFd::new().unwrap();
        assert_eq!(
            poll_readable(&[t.as_fd()], Some(Duration::ZERO)).unwrap(),
            0
        );
        let start = std::time::Instant::now();
        t.set(Some(Duration::from_millis(20))).unwrap();
        assert_eq!(
            poll_readable(&[t.as_fd()], Some(Duration::from_secs(5))).unwrap(),
            1
        );
        assert!(start.elapsed() >= Duration::from_millis(20));
        t.drain();
        assert_eq!(
            poll_readable(&[t.as_fd()], Some(Duration::ZERO)).unwrap(),
            0
        );
        // Moved earlier by another call, it fires at the earlier time;
        // disarmed, it does not fire at all.
        t.set(Some(Duration::from_secs(30))).unwrap();
        t.set(Some(Duration::from_millis(1))).unwrap();
        assert_eq!(
            poll_readable(&[t.as_fd()], Some(Duration::from_secs(5))).unwrap(),
            1
        );
        t.drain();
        t.set(Some(Duration::from_millis(5))).unwrap();
        t.set(None).unwrap();
        assert_eq!(
            poll_readable(&[t.as_fd()], Some(Duration::from_millis(30))).unwrap(),
            0
        );
    }
}
