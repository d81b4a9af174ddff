//! Heap bytes per idle established connection, measured with a counting
//! global allocator. `TCP_MEM_CONNS` sets N (default 10 000; the issue's
//! figure is for 100 000).

mod tcp_pipe;

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicIsize, Ordering};
use strata::time::Duration;
use strata::transport::tcp::{State, TcpConfig, TcpEvent};
use tcp_pipe::{Net, A, B};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The tests of this file measure the one global heap: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn idle_established_connection_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n: usize = std::env::var("TCP_MEM_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let server_cfg = TcpConfig {
        syn_backlog: n,
        ..TcpConfig::default()
    };
    let mut net = Net::new(TcpConfig::default(), server_cfg, 99);
    net.record = false;
    let l = net.hosts[B]
        .listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), n)
        .unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    let server = net.addr(B, 80);
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        // Many client addresses so the 4-tuples stay distinct past 64 K.
        let ip = Ipv4Addr::new(10, 1, (i / 50_000) as u8, 1);
        let port = 10_000 + (i % 50_000) as u16;
        let now = net.now;
        clients.push(
            net.hosts[A]
                .connect(now, SocketAddrV4::new(ip, port), server)
                .unwrap(),
        );
        if i % 1000 == 999 {
            net.run_for(Duration::from_millis(1));
        }
    }
    net.run_for(Duration::from_secs(2));
    let mut servers = Vec::with_capacity(n);
    while let Ok(h) = net.hosts[B].accept(l) {
        servers.push(h);
    }
    assert_eq!(servers.len(), n);
    assert!(clients
        .iter()
        .all(|&c| net.hosts[A].state(c) == State::Established));
    net.events = [Vec::new(), Vec::new()];
    for h in 0..2 {
        while net.hosts[h].poll_event().is_some() {}
    }
    let after = LIVE.load(Ordering::Relaxed);
    // Handles held by the test are part of what a user keeps anyway;
    // subtract them to report the stack's own cost.
    let handles = (clients.capacity() + servers.capacity())
        * std::mem::size_of::<strata::transport::tcp::TcpHandle>();
    let per_conn = (after - before - handles as isize) as f64 / (2 * n) as f64;
    eprintln!(
        "idle established connections: {n} per side, {per_conn:.0} heap bytes per connection"
    );
    assert!(
        per_conn <= 1024.0,
        "{per_conn} bytes per idle connection (budget 1 KiB)"
    );
    // They are really usable.
    net.hosts[A].send(clients[n / 2], b"ping").unwrap();
    net.run_for(Duration::from_millis(100));
    assert!(net.events[B]
        .iter()
        .any(|(_, e)| matches!(e, TcpEvent::Readable(h) if *h == servers[n / 2])));
}

#[test]
fn time_wait_memory() {
    // Connections closed by the application and waiting out 2×MSL in
    // TIME-WAIT on the active closer keep a compact record, not their
    // connection slot (RFC 9293 §3.10.7.4 needs only the 4-tuple,
    // sequence numbers, timestamps and the deadline).
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n: usize = std::env::var("TCP_MEM_TIME_WAITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096);
    // Warm-up past one revolution of the timer wheel (4.3 s), whose
    // buckets keep their allocations.
    let warm = 1600;
    let mut net = Net::new(TcpConfig::default(), TcpConfig::default(), 41);
    net.record = false;
    net.latency = Duration::from_micros(20);
    let l = net.listen(B, 80, 64);
    let mut before = 0;
    for i in 0..warm + n {
        if i == warm {
            before = LIVE.load(Ordering::Relaxed);
        }
        let c = net.connect(A, 20_000 + i as u16, 80).unwrap();
        net.run_for(Duration::from_millis(1));
        let s = net.hosts[B].accept(l).unwrap();
        net.close(A, c);
        net.run_for(Duration::from_millis(1));
        net.close(B, s);
        net.run_for(Duration::from_millis(1));
        for e in &mut net.events {
            e.clear();
        }
    }
    let after = LIVE.load(Ordering::Relaxed);
    // Every cycle left one TIME-WAIT on A, all within 2×MSL.
    assert_eq!(net.hosts[A].time_wait_records(), warm + n);
    assert_eq!(net.hosts[A].connection_count(), warm + n);
    assert_eq!(net.hosts[B].connection_count(), 0);
    let per = (after - before) as f64 / n as f64;
    eprintln!("TIME-WAIT: {n} connections, {per:.0} heap bytes each");
    // A connection slot alone is ten cache lines (640 bytes).
    assert!(per <= 256.0, "{per} bytes per TIME-WAIT (budget 256)");
}
