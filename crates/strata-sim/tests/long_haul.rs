//! Long haul: one connection carries more than 8 GiB from a strata engine
//! to an independent peer ([`PeerTcp`], not strata), window scale 14 both
//! ways, so SND.UNA crosses the 2^32 sequence wrap and returns to the ISS
//! at least twice each. The peer makes ACKs land exactly on sequence 0, on
//! strata's ISS and on ISS + 1 every lap, ACKs every other segment, and
//! checks every byte against the pattern stream.
//!
//! The two sans-IO ends are driven directly in a tight loop (no frames,
//! no checksums: segments are handed over as `TcpRepr`), in virtual time.
//! `LONG_HAUL_GIB` sets the size (default 9; at least 8 per the issue).
//! Run it alone with
//! `cargo test -p strata-sim --test long_haul -- --nocapture`.

use std::net::{Ipv4Addr, SocketAddrV4};

use strata::time::{Duration, Instant};
use strata::transport::tcp::{State, Tcp, TcpConfig, TcpError};
use strata_sim::peer::{pattern_fill, Close, PeerConfig, PeerTcp};

const SALT: u64 = 0x5eed_1e55;

#[test]
fn eight_gib_across_the_wrap_and_the_iss() {
    let gib: u64 = std::env::var("LONG_HAUL_GIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9);
    let total = gib << 30;
    let (ia, ib) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    let (la, lb) = (SocketAddrV4::new(ia, 40_000), SocketAddrV4::new(ib, 80));

    // strata: the largest segments a 64 KiB MTU allows, window scale 14
    // (a receive limit of 1 GiB needs shift 14; buffers grow on demand and
    // this side receives nothing).
    let cfg = TcpConfig {
        mtu: 65_535,
        mss: 65_495,
        rx_buffer_limit: 1 << 30,
        tx_buffer_limit: 16 << 20,
        nodelay: true,
        ..TcpConfig::default()
    };
    assert_eq!(cfg.rcv_wscale(), 14);
    let mut tcp = Tcp::new(cfg, 7);
    let peer_cfg = PeerConfig {
        mss: 65_495,
        window_scale: Some(14),
        rcv_buf: 32 << 20,
        ack_every: 2,
        ack_delay: Duration::from_millis(1),
        recv_salt: SALT,
        send_len: 0,
        close: Close::Never,
        ..PeerConfig::default()
    };
    let mut peer = PeerTcp::listen(peer_cfg, lb);

    let mut now = Instant::from_secs(1);
    let c = tcp.connect(now, la, lb).expect("connect");
    let mut pumped = 0u64;
    let mut pump = |tcp: &mut Tcp, peer: &mut PeerTcp, now: Instant| loop {
        let mut moved = false;
        while tcp
            .poll_transmit(now, |_, _, seg| peer.handle_segment(now, la, seg))
            .is_some()
        {
            moved = true;
            pumped += 1;
        }
        while let Some(seg) = peer.poll_transmit(now) {
            tcp.handle_segment(now, ib, ia, &seg.repr());
            moved = true;
        }
        if !moved {
            break;
        }
    };
    pump(&mut tcp, &mut peer, now);
    assert_eq!(tcp.state(c), State::Established);
    let iss = peer.irs();
    // ACKs that land exactly on the wrap, on the ISS and just after it.
    peer.ack_points_mut()
        .extend([0u32, iss, iss.wrapping_add(1)]);

    let started = std::time::Instant::now();
    let mut chunk = vec![0u8; 1 << 20];
    let mut chunk_off = 0u64; // stream offset of chunk[0]
    let mut chunk_len = 0usize;
    let mut sent = 0u64;
    let mut shut = false;
    let deadline = now + Duration::from_secs(3600);
    while !(peer.fin_received() && peer.received() == total) {
        assert!(
            now < deadline,
            "no progress: {} of {total} bytes",
            peer.received()
        );
        // The application writes until the send buffer is full.
        while sent < total {
            if sent >= chunk_off + chunk_len as u64 {
                chunk_off = sent;
                chunk_len = chunk.len().min((total - sent) as usize);
                pattern_fill(SALT, chunk_off, &mut chunk[..chunk_len]);
            }
            let from = (sent - chunk_off) as usize;
            match tcp.send(c, &chunk[from..chunk_len]) {
                Ok(0) | Err(TcpError::WouldBlock) => break,
                Ok(n) => sent += n as u64,
                Err(e) => panic!("send: {e}"),
            }
        }
        if sent == total && !shut {
            tcp.shutdown_write(now, c).expect("shutdown");
            shut = true;
        }
        pump(&mut tcp, &mut peer, now);
        if let Some(at) = peer.mismatch() {
            panic!("byte {at} (lap {}) differs from what was sent", at >> 32);
        }
        now += Duration::from_micros(100);
        if tcp.poll_timeout().is_some_and(|t| t <= now) {
            tcp.handle_timeout(now);
        }
        if peer.poll_timeout().is_some_and(|t| t <= now) {
            peer.handle_timeout(now);
        }
    }
    let wall = started.elapsed();
    let st = peer.stats();
    eprintln!(
        "long_haul: {} GiB checked in {:.1?} wall ({:.2} Gbit/s), {} segments from strata, \
         {} point ACKs (wrap, ISS, ISS+1), ISS {iss:#010x}, virtual {:?}",
        gib,
        wall,
        total as f64 * 8.0 / wall.as_secs_f64() / 1e9,
        pumped,
        st.point_acks,
        now - Instant::from_secs(1),
    );
    assert_eq!(peer.mismatch(), None);
    assert_eq!(peer.received(), total);
    // Each lap of 2^32 passes 0, ISS and ISS + 1 once.
    let laps = total >> 32;
    assert!(
        st.point_acks >= 3 * laps,
        "only {} point ACKs in {laps} laps",
        st.point_acks
    );
    assert!(laps >= 2, "the run must cross the wrap and the ISS twice");
}
