//! Engine-level TCP scenarios: two `Tcp` engines joined by a test pipe.

mod tcp_pipe;

use strata::time::{Duration, Instant};
use strata::transport::tcp::{State, TcpConfig, TcpError, TcpEvent, TcpHandle};
use tcp_pipe::{Net, A, B};

fn connect_pair(net: &mut Net) -> (TcpHandle, TcpHandle) {
    let l = net.listen(B, 80, 8);
    let c = net.connect(A, 40000, 80).unwrap();
    net.run_while(Duration::from_secs(5), |n| {
        n.hosts[A].state(c) != State::Established
    });
    net.run_for(Duration::from_millis(50));
    let s = net.hosts[B].accept(l).expect("accepted");
    assert_eq!(net.hosts[B].state(s), State::Established);
    (c, s)
}

fn read_all(net: &mut Net, host: usize, h: TcpHandle) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = net.hosts[host].recv(h, &mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn handshake_data_and_close() {
    let mut net = Net::default_pair(1);
    let (c, s) = connect_pair(&mut net);
    assert!(net.has_event(A, |e| matches!(e, TcpEvent::Connected(h) if *h == c)));
    let info = net.hosts[A].info(c).unwrap();
    assert!(info.timestamps && info.sack && info.wscale.is_some());
    assert_eq!(info.mss, 1460 - 12);

    assert_eq!(net.hosts[A].send(c, b"hello, world").unwrap(), 12);
    net.run_for(Duration::from_millis(100));
    assert_eq!(read_all(&mut net, B, s), b"hello, world");
    net.hosts[B].send(s, b"pong").unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(read_all(&mut net, A, c), b"pong");

    // Client closes first: FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT; server
    // CLOSE-WAIT → LAST-ACK → CLOSED.
    let now = net.now;
    net.hosts[A].shutdown_write(now, c).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].state(c), State::FinWait2);
    assert_eq!(net.hosts[B].state(s), State::CloseWait);
    let mut buf = [0u8; 10];
    assert_eq!(net.hosts[B].recv(s, &mut buf), Ok(0));
    let now = net.now;
    net.hosts[B].close(now, s).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.hosts[A].state(c), State::TimeWait);
    assert!(net.has_event(B, |e| matches!(e, TcpEvent::Closed(_))));
    // TIME-WAIT lasts 2×MSL = 60 s.
    net.run_for(Duration::from_secs(59));
    assert_eq!(net.hosts[A].state(c), State::TimeWait);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.hosts[A].state(c), State::Closed);
    assert_eq!(net.hosts[B].connection_count(), 0);
    let states: Vec<_> = net.events[A]
        .iter()
        .filter_map(|(_, e)| match e {
            TcpEvent::StateChanged { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            State::SynSent,
            State::Established,
            State::FinWait1,
            State::FinWait2,
            State::TimeWait,
            State::Closed
        ]
    );
}

#[test]
fn refused_connect() {
    let mut net = Net::default_pair(2);
    let c = net.connect(A, 40000, 81).unwrap();
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.hosts[A].state(c), State::Closed);
    assert_eq!(net.hosts[A].error(c), Some(TcpError::Refused));
    assert!(net.has_event(A, |e| matches!(e, TcpEvent::Refused(_))));
    let mut buf = [0u8; 4];
    assert_eq!(net.hosts[A].recv(c, &mut buf), Err(TcpError::Refused));
    assert_eq!(
        TcpError::Refused.kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    let now = net.now;
    net.hosts[A].close(now, c).unwrap();
    assert_eq!(net.hosts[A].connection_count(), 0);
    let _ = TcpConfig::default();
    let _ = Instant::ZERO;
}
