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
