//! Buffer memory across bursts: kept while data moves, released once the
//! connection is idle; in-place reads deliver the exact stream.

mod tcp_pipe;

use strata::time::Duration;
use strata::transport::tcp::{TcpConfig, TcpError};
use tcp_pipe::{Net, A, B};

#[test]
fn buffers_kept_during_transfer_and_released_when_idle() {
    let mut net = Net::new(TcpConfig::default(), TcpConfig::default(), 7);
    net.record = false;
    let (c, s) = net.connect_pair();

    let stream: Vec<u8> = (0..300_000u32).map(|i| (i * 31 + i / 977) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut tx_cap_seen = 0;
    for _ in 0..100_000 {
        if got.len() == stream.len() {
            break;
        }
        if sent < stream.len() {
            match net.hosts[A].send(c, &stream[sent..]) {
                Ok(n) => sent += n,
                Err(TcpError::WouldBlock) => {}
                Err(e) => panic!("{e}"),
            }
        }
        net.run_for(Duration::from_micros(200));
        tx_cap_seen = tx_cap_seen.max(net.hosts[A].info(c).unwrap().buffer_bytes);
        loop {
            let r = net.hosts[B].recv_with(s, |d| {
                got.extend_from_slice(d);
                (d.len(), d.len())
            });
            match r {
                Ok(0) | Err(TcpError::WouldBlock) => break,
                Ok(_) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert_eq!(got, stream, "in-place reads deliver the exact stream");
    assert!(tx_cap_seen > 0);
    // Right after the transfer the (now empty) buffers are still held...
    net.run_for(Duration::from_millis(20));
    assert!(net.hosts[A].info(c).unwrap().buffer_bytes > 0);
    // ...and given back once the connection has been idle for a while.
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.hosts[A].info(c).unwrap().buffer_bytes, 0);
    assert_eq!(net.hosts[B].info(s).unwrap().buffer_bytes, 0);
    // Nothing readable, not at end of stream: WouldBlock, `f` not called.
    let r = net.hosts[B].recv_with(s, |_| -> (usize, ()) { panic!("no data") });
    assert_eq!(r, Err(TcpError::WouldBlock));
    // End of stream: `f` sees an empty slice.
    let now = net.now;
    net.hosts[A].shutdown_write(now, c).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[B].recv_with(s, |d| (0, d.len())), Ok(0));
}

/// SO_RCVBUF / SO_SNDBUF per connection: the receive limit is the window
/// the peer is offered (and, set before the SYN, picks the window scale);
/// the send limit bounds what the application may queue.
#[test]
fn per_connection_buffer_limits_bound_window_and_queue() {
    let mut net = Net::default_pair(11);
    let l = net.listen(B, 80, 8);
    let c = net.connect(A, 40000, 80).unwrap();
    // Before the SYN leaves: 8 KiB of receive buffer needs no scaling.
    net.hosts[A]
        .set_buffer_limits(c, Some(8192), Some(4096))
        .unwrap();
    assert_eq!(net.hosts[A].buffer_limits(c).unwrap(), (8192, 4096));
    net.run_while(Duration::from_secs(5), |n| {
        n.hosts[A].state(c) != strata::transport::tcp::State::Established
    });
    net.run_for(Duration::from_millis(50));
    let s = net.hosts[B].accept(l).unwrap();
    let syn = &net.log.iter().find(|x| x.from == A).unwrap().seg;
    assert_eq!(syn.options.window_scale, Some(0), "SYN: {syn:?}");
    assert_eq!(syn.window, 8192);

    // The application may queue no more than its send limit.
    let big = vec![7u8; 100_000];
    let queued = net.hosts[A].send(c, &big).unwrap();
    assert_eq!(queued, 4096);
    assert_eq!(net.hosts[A].send(c, &big), Err(TcpError::WouldBlock));

    // B's receive limit, lowered after the handshake, bounds what A may
    // send while B does not read, once the window promised is used up.
    net.hosts[B]
        .set_buffer_limits(s, Some(4096), Some(1))
        .unwrap();
    // Clamped to the minimum.
    assert_eq!(net.hosts[B].buffer_limits(s).unwrap().1, 2048);
    let from_b = vec![9u8; 50_000];
    assert_eq!(net.hosts[B].send(s, &from_b).unwrap(), 2048);
    let mut sent_to_b = queued;
    for _ in 0..200 {
        net.run_for(Duration::from_millis(20));
        if let Ok(n) = net.hosts[A].send(c, &big) {
            sent_to_b += n;
        }
    }
    let held = net.hosts[B].recv_queue(s).unwrap();
    // Everything promised before the change may arrive (SHLD-14: the SYN-ACK
    // offered 65 535 bytes), nothing after: B's window then closes.
    assert!((4096..=65_535).contains(&held), "B holds {held} bytes");
    assert!(
        sent_to_b > held,
        "A keeps data queued: {sent_to_b} > {held}"
    );
    let last_b = net.log.iter().rev().find(|x| x.from == B).unwrap();
    assert_eq!(last_b.seg.window, 0, "B's window is closed");
    // Once B has read, its window is the new limit: never again more than
    // 4 KiB in B's buffer.
    let mut buf = vec![0u8; 100_000];
    let mut peak = 0;
    for _ in 0..100 {
        while net.hosts[B].recv(s, &mut buf).is_ok_and(|n| n > 0) {}
        let _ = net.hosts[A].send(c, &big);
        net.run_for(Duration::from_millis(50));
        peak = peak.max(net.hosts[B].recv_queue(s).unwrap());
    }
    assert!(peak > 0 && peak <= 4096, "B held up to {peak} bytes");
    assert_eq!(net.hosts[B].buffer_limits(s).unwrap().0, 4096);
    let (shift, _) = net.hosts[B].info(s).unwrap().wscale.unwrap();
    let last_b = net.log.iter().rev().find(|x| x.from == B).unwrap();
    assert!(usize::from(last_b.seg.window) << shift <= 4096);
}
