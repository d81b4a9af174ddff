//! Two engines joined back to back (each segment handed straight from one
//! engine's `poll_transmit` closure into the other's `handle_segment`):
//! a bulk transfer checked byte for byte, with the engine-only throughput
//! printed (`cargo test --release -p strata --test tcp_bulk -- --nocapture`).

use std::net::{Ipv4Addr, SocketAddrV4};
use strata::time::{Duration, Instant};
use strata::transport::tcp::{State, Tcp, TcpConfig};

#[test]
fn back_to_back_bulk_transfer() {
    let total: usize = std::env::var("TCP_BULK_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16 << 20);
    let cfg = TcpConfig {
        nodelay: true,
        ..TcpConfig::default()
    };
    let mut a = Tcp::new(cfg.clone(), 1);
    let mut b = Tcp::new(cfg, 2);
    let (ia, ib) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    let l = b.listen(SocketAddrV4::new(ib, 80), 1).unwrap();
    let mut now = Instant::from_secs(1);
    let c = a
        .connect(now, SocketAddrV4::new(ia, 5000), SocketAddrV4::new(ib, 80))
        .unwrap();
    let pump = |a: &mut Tcp, b: &mut Tcp, now: Instant| {
        let mut moved = 0;
        while a
            .poll_transmit(now, |s, d, r| b.handle_segment(now, s, d, r))
            .is_some()
        {
            moved += 1;
        }
        while b
            .poll_transmit(now, |s, d, r| a.handle_segment(now, s, d, r))
            .is_some()
        {
            moved += 1;
        }
        moved
    };
    for _ in 0..4 {
        pump(&mut a, &mut b, now);
    }
    let s = b.accept(l).unwrap();
    assert_eq!(a.state(c), State::Established);
    let data: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut sent = 0usize;
    let mut got = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    let start = std::time::Instant::now();
    let mut segments = 0u64;
    while got < total {
        while sent < total {
            let off = sent % data.len();
            let end = (off + (total - sent)).min(data.len());
            match a.send(c, &data[off..end]) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        segments += pump(&mut a, &mut b, now);
        loop {
            match b.recv(s, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    for (k, &x) in buf[..n].iter().enumerate() {
                        assert_eq!(x, data[(got + k) % data.len()], "byte {}", got + k);
                    }
                    got += n;
                }
            }
        }
        // Let delayed ACKs and timers run in virtual time.
        now += Duration::from_micros(50);
        if a.poll_timeout().is_some_and(|t| t <= now) {
            a.handle_timeout(now);
        }
        if b.poll_timeout().is_some_and(|t| t <= now) {
            b.handle_timeout(now);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{} MiB in {:.3} s wall: {:.2} Gbit/s engine-only, {} segments, {:.0} ns/segment (incl. verification)",
        total >> 20,
        secs,
        total as f64 * 8.0 / secs / 1e9,
        segments,
        secs * 1e9 / segments as f64
    );
    assert_eq!(got, total);
    assert_eq!(a.stats().retransmits, 0);
}
