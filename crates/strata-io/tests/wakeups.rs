//! How often the runtime wakes: writers once a third of their send buffer
//! is free (not once per acknowledgement), and the optional busy polling
//! of the device (frames taken without a sleep, and no spinning once the
//! traffic stops). Two runtimes on an in-process link; no privileges.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use common::{addr, any, config, guarded, pair_with};
use strata_io::tcp::{TcpListener, TcpStream};
use strata_io::RuntimeStats;

/// Deterministic content.
fn content(len: usize) -> Vec<u8> {
    (0..len as u32).map(|i| (i ^ (i >> 11)) as u8).collect()
}

/// Sends `data` from a writer on runtime A (send buffer `sndbuf`) to a
/// reader on runtime B that reads 16 KiB at a time with a pause between
/// reads (so the window, and with it the acknowledgements, open in small
/// steps); returns both runtimes' counters once every byte arrived intact.
fn transfer_to_slow_reader(
    net: u8,
    a: strata_io::RuntimeConfig,
    b: strata_io::RuntimeConfig,
    sndbuf: usize,
    data: Vec<u8>,
) -> (RuntimeStats, RuntimeStats) {
    let (ra, rb) = pair_with(a, b);
    let l = TcpListener::bind(&rb.handle(), any(5001)).unwrap();
    let want = data.len();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut got = Vec::with_capacity(want);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let k = s.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            got.extend_from_slice(&buf[..k]);
            std::thread::sleep(Duration::from_micros(200));
        }
        got
    });
    let mut c = TcpStream::connect(&ra.handle(), addr(net, 0, 2, 5001)).unwrap();
    c.set_send_buffer_size(sndbuf).unwrap();
    assert_eq!(c.send_buffer_size().unwrap(), sndbuf);
    let before = ra.stats();
    // Large writes: each takes what fits, then waits for room.
    for piece in data.chunks(1 << 20) {
        c.write_all(piece).unwrap();
    }
    let after = ra.stats();
    c.shutdown(Shutdown::Write).unwrap();
    let got = reader.join().unwrap();
    assert!(got == data, "the stream differs ({} bytes)", got.len());
    let mut sa = after;
    sa.wakeups -= before.wakeups;
    (sa, rb.stats())
}

#[test]
fn a_writer_wakes_once_a_third_of_its_buffer_is_free() {
    guarded("writer-wakes", Duration::from_secs(120), || {
        let len = 4 << 20;
        let sndbuf = 192 * 1024;
        let (a, _) =
            transfer_to_slow_reader(93, config(93, 0, 1), config(93, 0, 2), sndbuf, content(len));
        // Each wake-up of the writer found at least a third of its buffer
        // free: at most len / (sndbuf / 3) of them (and a few for the
        // last piece). Woken on every acknowledgement, as before, it woke
        // once per window update the slow reader's reads opened.
        let most = (len / (sndbuf / 3)) as u64 + 4;
        println!(
            "writer: {} wake-ups for {len} bytes through a {sndbuf}-byte buffer (at most {most})",
            a.wakeups
        );
        assert!(a.wakeups > 0, "{a:?}");
        assert!(
            a.wakeups <= most,
            "the writer was woken {} times (at most {most}): {a:?}",
            a.wakeups
        );
    });
}

#[test]
fn busy_polling_takes_frames_without_sleeping_and_stops_spinning_when_idle() {
    guarded("busy-poll", Duration::from_secs(120), || {
        let mut b = config(93, 1, 2);
        b.busy_poll = Some(Duration::from_millis(2));
        let (ra, rb) = pair_with(config(93, 1, 1), b);
        let l = TcpListener::bind(&rb.handle(), any(5002)).unwrap();
        let data = content(8 << 20);
        let want = data.clone();
        let reader = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            got
        });
        let mut c = TcpStream::connect(&ra.handle(), addr(93, 1, 2, 5002)).unwrap();
        c.write_all(&data).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let got = reader.join().unwrap();
        assert!(got == want, "the stream differs ({} bytes)", got.len());
        drop(c);
        let busy = rb.stats();
        let plain = ra.stats();
        println!("busy-polling receiver: {busy:?}\nplain sender: {plain:?}");
        // Frames were found by looking, not by sleeping in poll(2).
        assert!(busy.busy_poll_hits > 0, "{busy:?}");
        assert!(busy.busy_poll_spins >= busy.busy_poll_hits, "{busy:?}");
        // The runtime without busy polling never spins.
        assert_eq!(plain.busy_poll_spins, 0, "{plain:?}");
        assert_eq!(plain.busy_poll_hits, 0, "{plain:?}");
        // Once the traffic has stopped (the close's last segments, the
        // delayed ACK), the busy poller sleeps again: no more looks.
        std::thread::sleep(Duration::from_millis(400));
        let s1 = rb.stats().busy_poll_spins;
        std::thread::sleep(Duration::from_millis(300));
        let s2 = rb.stats().busy_poll_spins;
        assert_eq!(s1, s2, "the idle runtime kept spinning");
    });
}

#[test]
fn a_write_to_an_idle_connection_rearms_the_io_threads_timer_without_waking_it() {
    guarded("idle-write", Duration::from_secs(120), || {
        let (ra, rb) = pair_with(config(93, 2, 1), config(93, 2, 2));
        let l = TcpListener::bind(&rb.handle(), any(5003)).unwrap();
        const WRITES: u64 = 60;
        let reader = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut got = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let k = s.read(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                got += k as u64;
            }
            got
        });
        let mut c = TcpStream::connect(&ra.handle(), addr(93, 2, 2, 5003)).unwrap();
        c.set_nodelay(true).unwrap();
        let h = c.handle();
        // Until every byte written is acknowledged: the connection is idle
        // again, with no retransmission timer.
        let settle = || {
            let give_up = std::time::Instant::now() + Duration::from_secs(10);
            while ra.with_stack(|s| s.tcp().send_queue(h).unwrap()).unwrap() > 0 {
                assert!(std::time::Instant::now() < give_up, "never acknowledged");
                std::thread::sleep(Duration::from_millis(1));
            }
            // The last acknowledgement's pass is over.
            std::thread::sleep(Duration::from_millis(5));
        };
        c.write_all(&[1; 64]).unwrap();
        settle();
        let before = ra.stats();
        for _ in 0..WRITES {
            // Several segments: the tail-loss probe's timer (two round
            // trips) is armed, earlier than any timer already running.
            c.write_all(&[7; 2 * 1448]).unwrap();
            settle();
        }
        let after = ra.stats();
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(reader.join().unwrap(), 64 + 2 * 1448 * WRITES);
        let moves = after.timer_moves - before.timer_moves;
        let by_calls = after.woken_by_calls - before.woken_by_calls;
        let sleeps = after.io_sleeps - before.io_sleeps;
        println!("{WRITES} writes to an idle connection: {moves} timer moves, {by_calls} of {sleeps} sleeps of the I/O thread ended by a call");
        // The writes moved the I/O thread's deadline earlier (they armed
        // timers of an idle connection) ...
        assert!(
            moves >= WRITES / 2,
            "{moves} timer moves for {WRITES} writes"
        );
        // ... without waking it to look: it woke for the acknowledgements
        // (and at its timer), as it would have anyway.
        assert!(
            by_calls <= 2,
            "{by_calls} of {sleeps} sleeps of the I/O thread ended by a socket call"
        );
    });
}
