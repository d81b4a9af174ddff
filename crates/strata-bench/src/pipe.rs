//! The in-memory Ethernet pipe both stacks run over: a queue of frames in
//! each direction, with recycled buffers so the pipe itself allocates nothing
//! in steady state. Both stacks pay exactly the same pipe cost.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant as StdInstant;

use anyhow::{bail, Result};

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

/// Rounds in a row that may move no data before a bulk transfer counts as
/// stalled.
const STALLED_ROUNDS: u64 = 10_000_000;

/// The receiving side of one bulk transfer, kept the same way for both
/// contenders: the bytes in (each checked against the [`Pattern`]), when
/// the warm-up ended, and the rounds that moved nothing.
pub struct BulkReceiver<'p> {
    /// The contender, for messages.
    name: &'static str,
    pattern: &'p Pattern,
    bytes: u64,
    warm: u64,
    /// Bytes received so far.
    pub got: u64,
    /// Bytes received before this round.
    before: u64,
    ok: bool,
    warm_at: Option<StdInstant>,
    /// Rounds in a row that moved no data.
    idle: u64,
    /// Rounds after the warm-up, and those that moved no data.
    rounds: u64,
    idle_rounds: u64,
}

impl<'p> BulkReceiver<'p> {
    /// The receiver of `bytes` bytes, the first `warm` of them a warm-up.
    pub fn new(name: &'static str, pattern: &'p Pattern, bytes: u64, warm: u64) -> Self {
        BulkReceiver {
            name,
            pattern,
            bytes,
            warm,
            got: 0,
            before: 0,
            ok: true,
            warm_at: None,
            idle: 0,
            rounds: 0,
            idle_rounds: 0,
        }
    }

    /// Every byte is in.
    pub fn done(&self) -> bool {
        self.got >= self.bytes
    }

    /// Takes `data`, the stream's next bytes, checking them; returns
    /// their length.
    pub fn take(&mut self, data: &[u8]) -> usize {
        self.ok &= self.pattern.check(self.got, data);
        self.got += data.len() as u64;
        data.len()
    }

    /// Ends a round (its frames moved, what arrived taken): counts it,
    /// notes when the warm-up ended; an error once the transfer stalled.
    pub fn end_round(&mut self) -> Result<()> {
        let (before, got) = (self.before, self.got);
        self.rounds += u64::from(before >= self.warm);
        self.idle = if got == before { self.idle + 1 } else { 0 };
        if got >= self.warm {
            self.warm_at.get_or_insert_with(StdInstant::now);
            self.idle_rounds += u64::from(got == before);
        }
        if self.idle > STALLED_ROUNDS {
            bail!(
                "{} bulk stalled at {got} of {} bytes",
                self.name,
                self.bytes
            );
        }
        self.before = got;
        Ok(())
    }

    /// The transfer is over: an error if a byte differed, else when the
    /// warm-up ended (now if there was none). Warns when most rounds after
    /// the warm-up moved nothing: such a transfer measures a timer, not
    /// the stack.
    pub fn finish(self) -> Result<StdInstant> {
        let (name, rounds, idle_rounds) = (self.name, self.rounds, self.idle_rounds);
        if idle_rounds > 1000 && idle_rounds * 10 > rounds {
            eprintln!(
                "warning: {name} bulk: {idle_rounds} of {rounds} rounds moved no data (a timer-bound stall)"
            );
        }
        if !self.ok {
            bail!("{name} bulk: received bytes differ from the sent stream");
        }
        Ok(self.warm_at.unwrap_or_else(StdInstant::now))
    }
}
