//! The runtime's sockets used as a heavy user of a socket library uses
//! them (issue 24): many tokio tasks and blocking threads echoing random
//! sizes, readers, writers and closers racing, backpressure with a memory
//! bound, accept storms, UDP fan-out, runtimes dropped mid-traffic, and a
//! peer that vanishes without a word.
//!
//! The default size runs in seconds on two busy cores (CI);
//! `STRATA_STRESS=large` runs the full size (1 000 tokio tasks, 2 048
//! blocking connections, 100 MiB to a slow reader ...). Every test runs
//! under a wall-clock guard, and the tests run one at a time (they share
//! the process's memory and thread counts, which some of them measure).
//! Each prints its seed; `STRATA_STRESS_SEED=n` replays one.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{
    addr, any, config, guarded, io_threads, large, open_fds, pair_with, pattern, ping_ok,
    rss_bytes, Cable, Rng,
};
use strata_io::runtime::{Runtime, RuntimeConfig};
use strata_io::tcp::{TcpListener, TcpStream};
use strata_io::udp::UdpSocket;

const NET: u8 = 45;

static SERIAL: Mutex<()> = Mutex::new(());

/// One stress test at a time.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn seed(test: &str) -> u64 {
    let s = std::env::var("STRATA_STRESS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("{test}: seed {s} (replay with STRATA_STRESS_SEED={s})");
    s
}

/// Runtimes with small per-connection buffers, so that thousands of
/// connections stay within a modest memory budget.
fn lean(sub: u8, host: u8, buf: usize) -> RuntimeConfig {
    let mut c = config(NET, sub, host);
    c.stack.tcp.rx_buffer_limit = buf;
    c.stack.tcp.tx_buffer_limit = buf;
    c
}

fn lean_pair(sub: u8, buf: usize) -> (Runtime, Runtime) {
    let (a, b) = pair_with(lean(sub, 1, buf), lean(sub, 2, buf));
    // Learn the neighbour first: a burst then meets no ARP queue.
    ping_ok(&a, &format!("10.{NET}.{sub}.2"));
    (a, b)
}

fn tokio_rt(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn tokio_tasks_echo_random_sizes() {
    let _s = serial();
    let (n, max_len) = if large() {
        (1000, 1 << 20)
    } else {
        (150, 48 << 10)
    };
    let seed = seed("tokio-echo");
    guarded(
        "tokio-echo",
        Duration::from_secs(if large() { 600 } else { 50 }),
        move || {
            let (a, b) = lean_pair(1, 64 << 10);
            let (ha, hb) = (a.handle(), b.handle());
            let rt = tokio_rt(2);
            let bytes = rt.block_on(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let l = strata_io::tokio::TcpListener::bind(&hb, any(7))
                    .await
                    .unwrap();
                tokio::spawn(async move {
                    loop {
                        let Ok((s, _)) = l.accept().await else { return };
                        tokio::spawn(async move {
                            let (mut r, mut w) = tokio::io::split(s);
                            tokio::io::copy(&mut r, &mut w).await.unwrap();
                            w.shutdown().await.unwrap();
                        });
                    }
                });
                let mut rng = Rng::new(seed);
                let mut tasks = Vec::new();
                for i in 0..n {
                    let len = rng.range(0, max_len);
                    let ha = ha.clone();
                    let s = seed ^ i as u64;
                    tasks.push(tokio::spawn(async move {
                        let data = pattern(s, len);
                        let c = strata_io::tokio::TcpStream::connect(&ha, addr(NET, 1, 2, 7))
                            .await
                            .unwrap();
                        let (mut r, mut w) = tokio::io::split(c);
                        let d2 = data.clone();
                        let writer = tokio::spawn(async move {
                            // Random write sizes, not one big write.
                            let mut rng = Rng::new(s);
                            let mut off = 0;
                            while off < d2.len() {
                                let k = rng.range(1, 20_000).min(d2.len() - off);
                                w.write_all(&d2[off..off + k]).await.unwrap();
                                off += k;
                            }
                            w.shutdown().await.unwrap();
                        });
                        let mut back = Vec::with_capacity(len);
                        r.read_to_end(&mut back).await.unwrap();
                        writer.await.unwrap();
                        assert!(
                            back == data,
                            "task {i}: {} of {len} bytes, differing",
                            back.len()
                        );
                        len
                    }));
                }
                let mut total = 0;
                for t in tasks {
                    total += t.await.unwrap();
                }
                total
            });
            println!("{n} tokio tasks echoed {bytes} bytes");
            rt.shutdown_timeout(Duration::from_secs(5));
        },
    );
}

#[test]
fn blocking_threads_echo_random_sizes() {
    let _s = serial();
    let (n, max_len) = if large() {
        (2048, 256 << 10)
    } else {
        (48, 96 << 10)
    };
    let seed = seed("blocking-echo");
    guarded(
        "blocking-echo",
        Duration::from_secs(if large() { 600 } else { 50 }),
        move || {
            let (a, b) = lean_pair(2, 32 << 10);
            let hb = b.handle();
            let l = TcpListener::bind(&hb, any(7)).unwrap();
            let small = |name: &str| {
                std::thread::Builder::new()
                    .name(name.into())
                    .stack_size(128 << 10)
            };
            let server = small("echo-accept")
                .spawn(move || {
                    let mut workers = Vec::new();
                    for _ in 0..n {
                        let (s, _) = l.accept().unwrap();
                        workers.push(
                            std::thread::Builder::new()
                                .stack_size(128 << 10)
                                .spawn(move || strata_io::echo::echo_stream(s).unwrap())
                                .unwrap(),
                        );
                    }
                    workers.into_iter().map(|w| w.join().unwrap()).sum::<u64>()
                })
                .unwrap();
            let mut rng = Rng::new(seed);
            let clients: Vec<_> = (0..n)
                .map(|i| {
                    let len = rng.range(0, max_len);
                    let ha = a.handle();
                    let s = seed ^ (i as u64) << 20;
                    small("echo-client")
                        .spawn(move || {
                            let data = pattern(s, len);
                            let c = TcpStream::connect(&ha, addr(NET, 2, 2, 7)).unwrap();
                            let back = std::thread::scope(|sc| {
                                sc.spawn(|| {
                                    let mut rng = Rng::new(s);
                                    let mut off = 0;
                                    while off < data.len() {
                                        let k = rng.range(1, 30_000).min(data.len() - off);
                                        (&c).write_all(&data[off..off + k]).unwrap();
                                        off += k;
                                    }
                                    c.shutdown(Shutdown::Write).unwrap();
                                });
                                let mut back = Vec::with_capacity(len);
                                (&c).read_to_end(&mut back).unwrap();
                                back
                            });
                            assert!(
                                back == data,
                                "client {i}: {} of {len} bytes, differing",
                                back.len()
                            );
                            len as u64
                        })
                        .unwrap()
                })
                .collect();
            let sent: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
            let echoed = server.join().unwrap();
            assert_eq!(sent, echoed);
            println!("{n} blocking connections echoed {sent} bytes");
        },
    );
}

#[test]
fn readers_writers_and_closers_race() {
    let _s = serial();
    let rounds = if large() { 400 } else { 40 };
    let seed = seed("race");
    guarded(
        "race",
        Duration::from_secs(if large() { 300 } else { 50 }),
        move || {
            let (a, b) = lean_pair(3, 32 << 10);
            let l = Arc::new(TcpListener::bind(&b.handle(), any(9)).unwrap());
            let mut rng = Rng::new(seed);
            let outcomes = Arc::new(Mutex::new(
                std::collections::BTreeMap::<String, usize>::new(),
            ));
            let note = |o: &Mutex<std::collections::BTreeMap<String, usize>>, k: String| {
                *o.lock().unwrap().entry(k).or_default() += 1;
            };
            for round in 0..rounds {
                let c = Arc::new(TcpStream::connect(&a.handle(), addr(NET, 3, 2, 9)).unwrap());
                let (s, _) = l.accept().unwrap();
                let s = Arc::new(s);
                let close_after = Duration::from_micros(rng.range(0, 3000) as u64);
                let how = rng.range(0, 3);
                let mut hs = Vec::new();
                // Two writers and a reader on each side; the server side also
                // echoes nothing, it just reads and writes noise.
                for side in [c.clone(), s.clone()] {
                    for w in 0..2 {
                        let side = side.clone();
                        let o = outcomes.clone();
                        hs.push(std::thread::spawn(move || {
                            let buf = vec![w as u8; 7000];
                            let r = loop {
                                match (&*side).write_all(&buf) {
                                    Ok(_) => {}
                                    Err(e) => break e.kind(),
                                }
                            };
                            note(&o, format!("write {r:?}"));
                        }));
                    }
                    let side = side.clone();
                    let o = outcomes.clone();
                    hs.push(std::thread::spawn(move || {
                        let mut buf = vec![0u8; 5000];
                        let r = loop {
                            match (&*side).read(&mut buf) {
                                Ok(0) => break "eof".to_string(),
                                Ok(_) => {}
                                Err(e) => break format!("{:?}", e.kind()),
                            }
                        };
                        note(&o, format!("read {r}"));
                    }));
                }
                std::thread::sleep(close_after);
                // The closer: shutdown both ways on one side, then on the
                // other. A connection already closed on both sides answers
                // NotConnected, as Linux does (ENOTCONN).
                let shut = |x: &TcpStream| match x.shutdown(Shutdown::Both) {
                    Ok(()) => {}
                    Err(e) => assert_eq!(e.kind(), ErrorKind::NotConnected, "{e}"),
                };
                match how {
                    0 => shut(&c),
                    1 => shut(&s),
                    _ => {
                        shut(&c);
                        shut(&s);
                    }
                }
                // The other side's writers stop once the peer's RST or the
                // closed window tells them; shut it too so every thread ends.
                std::thread::sleep(Duration::from_millis(rng.range(0, 3) as u64));
                shut(&c);
                shut(&s);
                for h in hs {
                    h.join()
                        .unwrap_or_else(|_| panic!("round {round}: a thread panicked"));
                }
            }
            let o = outcomes.lock().unwrap();
            println!("{rounds} rounds: {o:?}");
            // Every ending is one a socket user can expect.
            for k in o.keys() {
                assert!(
                    [
                        "write BrokenPipe",
                        "write ConnectionReset",
                        "read eof",
                        "read ConnectionReset"
                    ]
                    .contains(&k.as_str()),
                    "unexpected outcome {k}"
                );
            }
        },
    );
}

#[test]
fn backpressure_keeps_memory_bounded() {
    let _s = serial();
    let total: usize = if large() { 100 << 20 } else { 32 << 20 };
    guarded(
        "backpressure",
        Duration::from_secs(if large() { 300 } else { 50 }),
        move || {
            let (a, b) = lean_pair(4, 256 << 10);
            let l = TcpListener::bind(&b.handle(), any(9)).unwrap();
            let c = TcpStream::connect(&a.handle(), addr(NET, 4, 2, 9)).unwrap();
            let (mut s, _) = l.accept().unwrap();
            let before = rss_bytes();
            let peak = Arc::new(AtomicU64::new(before));
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (p2, d2) = (peak.clone(), done.clone());
            let monitor = std::thread::spawn(move || {
                while !d2.load(Ordering::Relaxed) {
                    p2.fetch_max(rss_bytes(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
            // A fast writer; a reader that takes 16 KiB and dawdles.
            let writer = std::thread::spawn(move || {
                let chunk = vec![0x5a; 256 << 10];
                let mut c = c;
                let mut sent = 0;
                while sent < total {
                    let k = chunk.len().min(total - sent);
                    c.write_all(&chunk[..k]).unwrap();
                    sent += k;
                }
                c.shutdown(Shutdown::Write).unwrap();
                sent
            });
            let mut buf = vec![0u8; 16 << 10];
            let mut got = 0usize;
            let mut reads = 0u64;
            loop {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                assert!(buf[..n].iter().all(|&x| x == 0x5a));
                got += n;
                reads += 1;
                if reads.is_multiple_of(64) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            assert_eq!(writer.join().unwrap(), total);
            assert_eq!(got, total);
            done.store(true, Ordering::Relaxed);
            monitor.join().unwrap();
            let grew = peak.load(Ordering::Relaxed).saturating_sub(before);
            println!(
                "{} MiB to a slow reader: RSS grew {:.2} MiB at most",
                total >> 20,
                grew as f64 / (1 << 20) as f64
            );
            // The stack buffers 256 KiB each way per side; the bound leaves
            // room for the allocator, not for the volume sent.
            assert!(
                grew < 8 << 20,
                "RSS grew {grew} bytes for {total} bytes sent"
            );
        },
    );
}

#[test]
fn accept_storms_leave_nothing_behind() {
    let _s = serial();
    let (rounds, per_round) = if large() { (10, 2000) } else { (3, 300) };
    guarded(
        "accept-storm",
        Duration::from_secs(if large() { 300 } else { 50 }),
        move || {
            let (a, b) = lean_pair(5, 8 << 10);
            let (ha, hb) = (a.handle(), b.handle());
            let rt = tokio_rt(2);
            for round in 0..rounds {
                let (ha, hb) = (ha.clone(), hb.clone());
                let served = rt.block_on(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let l = strata_io::tokio::TcpListener::bind(&hb, any(80))
                        .await
                        .unwrap();
                    let acceptor = tokio::spawn(async move {
                        let mut served = 0;
                        let mut conns = Vec::new();
                        while served < per_round {
                            let (mut s, _) = l.accept().await.unwrap();
                            conns.push(tokio::spawn(async move {
                                let mut b = [0u8; 4];
                                s.read_exact(&mut b).await.unwrap();
                                s.write_all(&b).await.unwrap();
                                s.shutdown().await.unwrap();
                            }));
                            served += 1;
                        }
                        for c in conns {
                            c.await.unwrap();
                        }
                        served
                    });
                    let mut clients = Vec::new();
                    for i in 0..per_round {
                        let ha = ha.clone();
                        clients.push(tokio::spawn(async move {
                            let mut c =
                                strata_io::tokio::TcpStream::connect(&ha, addr(NET, 5, 2, 80))
                                    .await
                                    .unwrap();
                            let msg = (i as u32).to_be_bytes();
                            c.write_all(&msg).await.unwrap();
                            let mut back = Vec::new();
                            c.read_to_end(&mut back).await.unwrap();
                            assert_eq!(back, msg);
                        }));
                    }
                    for c in clients {
                        c.await.unwrap();
                    }
                    acceptor.await.unwrap()
                });
                assert_eq!(served, per_round, "round {round}");
            }
            rt.shutdown_timeout(Duration::from_secs(5));
            // Every connection ended: only TIME-WAIT remains, on the side that
            // closed first (the server).
            let live = |r: &Runtime| {
                r.with_stack(|s| {
                    s.tcp()
                        .connections()
                        .filter(|(_, i)| {
                            !matches!(
                                i.state,
                                strata::transport::tcp::State::TimeWait
                                    | strata::transport::tcp::State::Closed
                            )
                        })
                        .count()
                })
                .unwrap()
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            while (live(&a) > 0 || live(&b) > 0) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert_eq!((live(&a), live(&b)), (0, 0), "connections left open");
            let (sa, sb) = (
                a.with_stack(|s| s.tcp_stats().clone()).unwrap(),
                b.with_stack(|s| s.tcp_stats().clone()).unwrap(),
            );
            println!(
            "{rounds} storms of {per_round}: client retransmits {}, server listen overflows {}, device drops {}+{}",
            sa.retransmits,
            sb.listen_overflows,
            a.tx_dropped(),
            b.tx_dropped()
        );
            assert_eq!(sb.listen_overflows + sb.syn_queue_drops, 0);
        },
    );
}

#[test]
fn udp_fan_out_loses_nothing_unaccounted() {
    let _s = serial();
    let (clients, per_client) = if large() { (256, 2000) } else { (32, 200) };
    guarded(
        "udp-fan-out",
        Duration::from_secs(if large() { 300 } else { 50 }),
        move || {
            let (a, b) = lean_pair(6, 8 << 10);
            let server = UdpSocket::bind(&a.handle(), any(53)).unwrap();
            let socks: Vec<UdpSocket> = (0..clients)
                .map(|i| UdpSocket::bind(&b.handle(), any(10_000 + i as u16)).unwrap())
                .collect();
            let received = Arc::new(AtomicUsize::new(0));
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let readers: Vec<_> = socks
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    let (received, stop) = (received.clone(), stop.clone());
                    std::thread::spawn(move || {
                        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                        let mut buf = [0u8; 2048];
                        let mut last = None;
                        let mut got = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            match s.recv_from(&mut buf) {
                                Ok((n, _)) => {
                                    let seq = u32::from_be_bytes(buf[..4].try_into().unwrap());
                                    // In order (one path, no reordering); gaps
                                    // are drops, counted below.
                                    assert!(
                                        last.is_none_or(|l| seq > l),
                                        "client {i}: {seq} after {last:?}"
                                    );
                                    assert_eq!(n, 4 + (seq as usize % 1000));
                                    last = Some(seq);
                                    got += 1;
                                    received.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                                Err(e) => panic!("client {i}: {e}"),
                            }
                        }
                        (s, got)
                    })
                })
                .collect();
            let mut payload = vec![0u8; 1004];
            for seq in 0..per_client as u32 {
                for c in 0..clients {
                    payload[..4].copy_from_slice(&seq.to_be_bytes());
                    let n = 4 + (seq as usize % 1000);
                    server
                        .send_to(&payload[..n], addr(NET, 6, 2, 10_000 + c as u16))
                        .unwrap();
                }
                if seq % 50 == 49 {
                    // Let the readers keep up a little (a sender that never
                    // pauses just measures the queues).
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            let sent = (clients * per_client) as u64;
            let deadline = Instant::now() + Duration::from_secs(30);
            let accounted = || {
                let q = b.with_stack(|s| s.stats().udp.queue_drops).unwrap();
                received.load(Ordering::Relaxed) as u64 + q + a.tx_dropped()
            };
            while accounted() < sent && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            stop.store(true, Ordering::Relaxed);
            let got: u64 = readers.into_iter().map(|r| r.join().unwrap().1).sum();
            let queue_drops = b.with_stack(|s| s.stats().udp.queue_drops).unwrap();
            let dev = a.tx_dropped();
            println!(
            "UDP fan-out: {sent} sent to {clients} sockets, {got} received, {queue_drops} dropped at full socket queues, {dev} at the device"
        );
            // Every datagram arrived or is counted where it was lost.
            assert_eq!(got + queue_drops + dev, sent);
        },
    );
}

#[test]
fn dropping_runtimes_mid_traffic_leaves_nothing_behind() {
    let _s = serial();
    let rounds = if large() { 50 } else { 6 };
    let seed = seed("drop-mid-traffic");
    guarded(
        "drop-mid-traffic",
        Duration::from_secs(if large() { 300 } else { 50 }),
        move || {
            let fds0 = open_fds();
            let threads0 = io_threads();
            let mut rng = Rng::new(seed);
            for round in 0..rounds {
                let (a, b) = lean_pair(7, 64 << 10);
                let l = TcpListener::bind(&b.handle(), any(7)).unwrap();
                let mut hs = Vec::new();
                for _ in 0..8 {
                    let c = TcpStream::connect(&a.handle(), addr(NET, 7, 2, 7)).unwrap();
                    let (s, _) = l.accept().unwrap();
                    hs.push(std::thread::spawn(move || {
                        let _ = strata_io::echo::echo_stream(s);
                    }));
                    hs.push(std::thread::spawn(move || {
                        let data = vec![7u8; 1 << 20];
                        // Ends with an error once a runtime is gone.
                        let r = std::thread::scope(|sc| {
                            sc.spawn(|| {
                                let _ = (&c).write_all(&data);
                                let _ = c.shutdown(Shutdown::Write);
                            });
                            let mut buf = vec![0u8; 1 << 16];
                            loop {
                                match (&c).read(&mut buf) {
                                    Ok(0) => break Ok(()),
                                    Ok(_) => {}
                                    Err(e) => break Err(e.kind()),
                                }
                            }
                        });
                        let _ = r;
                    }));
                }
                // A tokio task mid-transfer too.
                let tk = tokio_rt(1);
                let ha = a.handle();
                let l2 = strata_io::tcp::TcpListener::bind(&b.handle(), any(8)).unwrap();
                let acc = std::thread::spawn(move || {
                    if let Ok((s, _)) = l2.accept() {
                        let _ = strata_io::echo::echo_stream(s);
                    }
                });
                let task = tk.spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    // The runtime may already be gone.
                    let Ok(mut c) =
                        strata_io::tokio::TcpStream::connect(&ha, addr(NET, 7, 2, 8)).await
                    else {
                        return;
                    };
                    let data = vec![1u8; 1 << 16];
                    let mut buf = vec![0u8; 1 << 16];
                    loop {
                        if c.write_all(&data).await.is_err() {
                            break;
                        }
                        if c.read(&mut buf).await.map_or(true, |n| n == 0) {
                            break;
                        }
                    }
                });
                std::thread::sleep(Duration::from_millis(rng.range(1, 30) as u64));
                // Drop one runtime, or both, while the bytes fly.
                match round % 3 {
                    0 => drop(a),
                    1 => drop(b),
                    _ => {
                        drop(a);
                        drop(b);
                    }
                }
                for h in hs {
                    h.join().unwrap();
                }
                acc.join().unwrap();
                tk.block_on(task).unwrap();
                tk.shutdown_timeout(Duration::from_secs(5));
            }
            // Nothing left behind: descriptors and runtime threads back to
            // where they were.
            let deadline = Instant::now() + Duration::from_secs(5);
            while (open_fds() > fds0 || io_threads() > threads0) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(open_fds() <= fds0, "fds {fds0} -> {}", open_fds());
            assert!(
                io_threads() <= threads0,
                "runtime threads {threads0} -> {}",
                io_threads()
            );
        },
    );
}

#[test]
fn a_peer_that_vanishes_without_a_word_fails_every_waiter() {
    let _s = serial();
    guarded("vanished-peer", Duration::from_secs(30), || {
        let (da, db, mut cable) = Cable::new();
        let a = Runtime::new(da, lean(8, 1, 64 << 10)).unwrap();
        let b = Runtime::new(db, lean(8, 2, 64 << 10)).unwrap();
        let l = TcpListener::bind(&b.handle(), any(7)).unwrap();
        let mut waiters = Vec::new();
        let mut keep = Vec::new();
        let mut clients = Vec::new();
        for i in 0..16 {
            let c = Arc::new(TcpStream::connect(&a.handle(), addr(NET, 8, 2, 7)).unwrap());
            let (s, _) = l.accept().unwrap();
            keep.push(s);
            let c2 = c.clone();
            // Half the waiters read, half write until the window closes.
            waiters.push(std::thread::spawn(move || {
                if i % 2 == 0 {
                    let mut buf = [0u8; 64];
                    (&*c2).read(&mut buf).map(|_| ()).unwrap_err().kind()
                } else {
                    let data = vec![0u8; 1 << 20];
                    loop {
                        if let Err(e) = (&*c2).write(&data) {
                            break e.kind();
                        }
                    }
                }
            }));
            clients.push(c);
        }
        let udp = UdpSocket::bind(&b.handle(), any(9)).unwrap();
        let udp_waiter = std::thread::spawn(move || {
            let mut buf = [0u8; 16];
            udp.recv_from(&mut buf).unwrap_err().kind()
        });
        std::thread::sleep(Duration::from_millis(100));
        let t = Instant::now();
        cable.cut();
        for w in waiters {
            assert_eq!(w.join().unwrap(), ErrorKind::NetworkDown);
        }
        assert_eq!(udp_waiter.join().unwrap(), ErrorKind::NetworkDown);
        println!("every waiter failed {:?} after the cut", t.elapsed());
        assert!(a.device_failure().is_some() && b.device_failure().is_some());
        drop(clients);
        drop(keep);
        drop(l);
    });
}
