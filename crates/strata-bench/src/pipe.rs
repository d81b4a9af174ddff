//! The in-memory Ethernet pipe both stacks run over: a queue of frames in
//! each direction, with recycled buffers so the pipe itself allocates nothing
//! in steady state. Both stacks pay exactly the same pipe cost.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// One direction of the pipe. Frames keep their buffer at full size and
/// carry their length beside it, so recycled buffers are never zeroed again:
/// neither stack pays for a memset the pipe does not need.
#[derive(Default)]
pub struct Queue {
    frames: VecDeque<(Vec<u8>, usize)>,
    pool: Vec<Vec<u8>>,
    /// Frames that have crossed this direction.
    pub count: u64,
}

impl Queue {
    /// A recycled buffer of at least `len` bytes (contents unspecified).
    pub fn buffer(&mut self, len: usize) -> Vec<u8> {
        let mut b = self.pool.pop().unwrap_or_default();
        if b.len() < len {
            b.resize(len, 0);
        }
        b
    }
    /// Enqueue the first `len` bytes of `buf` as a frame.
    pub fn push(&mut self, buf: Vec<u8>, len: usize) {
        self.count += 1;
        self.frames.push_back((buf, len));
    }
    /// Dequeue the oldest frame: its buffer and length.
    pub fn pop(&mut self) -> Option<(Vec<u8>, usize)> {
        self.frames.pop_front()
    }
    /// Give a buffer back for reuse.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if self.pool.len() < 4096 {
            self.pool.push(buf);
        }
    }
    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.frames.len()
    }
}

/// Shared handle to one direction.
pub type Shared = Rc<RefCell<Queue>>;

/// Two directions: `(a→b, b→a)`.
pub fn pair() -> (Shared, Shared) {
    (Rc::default(), Rc::default())
}

/// Connections served per round of the `many` workload.
pub const BATCH: usize = 64;

/// The next [`BATCH`] indices (fewer if `n` is smaller) of a round robin
/// over `n` connections, starting at `*next`, which moves on past them.
pub fn round_robin(next: &mut usize, n: usize) -> Vec<usize> {
    let batch: Vec<usize> = (0..BATCH.min(n)).map(|k| (*next + k) % n).collect();
    *next = (*next + batch.len()) % n.max(1);
    batch
}

/// The byte stream the sender writes and the receiver checks: a pattern
/// with a prime period, so a dropped, duplicated or misplaced byte is caught.
pub struct Pattern {
    bytes: Vec<u8>,
}

/// Period of [`Pattern`].
pub const PERIOD: usize = 65_521;

impl Pattern {
    /// Build the pattern (period + 64 KiB so any window of ≤64 KiB is contiguous).
    pub fn new() -> Self {
        let bytes = (0..PERIOD + 65_536)
            .map(|i| {
                let i = i % PERIOD;
                (i ^ (i >> 7) ^ (i >> 13)) as u8
            })
            .collect();
        Pattern { bytes }
    }
    /// Up to `len` bytes (≤ 64 KiB) of the stream starting at stream offset `off`.
    pub fn slice(&self, off: u64, len: usize) -> &[u8] {
        let s = (off % PERIOD as u64) as usize;
        &self.bytes[s..s + len.min(65_536)]
    }
    /// True when `data` is the stream at offset `off`.
    pub fn check(&self, mut off: u64, mut data: &[u8]) -> bool {
        while !data.is_empty() {
            let n = data.len().min(65_536);
            if self.slice(off, n) != &data[..n] {
                return false;
            }
            off += n as u64;
            data = &data[n..];
        }
        true
    }
}

impl Default for Pattern {
    fn default() -> Self {
        Self::new()
    }
}
