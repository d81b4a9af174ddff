//! Two runtimes wired back to back by an in-process link: no privileges.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use strata_io::runtime::{PingReply, Runtime, RuntimeConfig};
use strata_io::udp::UdpSocket;
use strata_io::PipeDevice;

fn pair() -> (Runtime, Runtime) {
    let (da, db) = PipeDevice::pair().unwrap();
    let a = Runtime::new(
        da,
        RuntimeConfig::new("10.30.0.1/24".parse().unwrap()).address_known_unique(),
    )
    .unwrap();
    let b = Runtime::new(
        db,
        RuntimeConfig::new("10.30.0.2/24".parse().unwrap()).address_known_unique(),
    )
    .unwrap();
    (a, b)
}

#[test]
fn ping_across_pipe_and_to_nobody() {
    let (a, _b) = pair();
    let r = a
        .ping(
            Ipv4Addr::new(10, 30, 0, 2),
            1,
            b"hello",
            Duration::from_secs(5),
        )
        .unwrap();
    match r {
        PingReply::Reply { from, len, ttl, .. } => {
            assert_eq!(from, Ipv4Addr::new(10, 30, 0, 2));
            assert_eq!(len, 5);
            assert_eq!(ttl, 64);
        }
        other => panic!("{other:?}"),
    }
    // A host that does not exist on the link: ARP fails or nothing answers.
    let r = a
        .ping(
            Ipv4Addr::new(10, 30, 0, 99),
            2,
            b"x",
            Duration::from_millis(300),
        )
        .unwrap();
    assert!(!matches!(r, PingReply::Reply { .. }), "{r:?}");
}

#[test]
fn udp_echo_across_pipe() {
    let (a, b) = pair();
    let server = UdpSocket::bind(&b.handle(), SocketAddr::from(([0, 0, 0, 0], 7))).unwrap();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        for _ in 0..3 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
    });
    let client = UdpSocket::bind(&a.handle(), SocketAddr::from(([0, 0, 0, 0], 0))).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client
        .connect(SocketAddr::from(([10, 30, 0, 2], 7)))
        .unwrap();
    for msg in [&b"one"[..], &[7u8; 1400][..], b"three"] {
        client.send(msg).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], msg);
        assert_eq!(from, SocketAddr::from(([10, 30, 0, 2], 7)));
    }
    t.join().unwrap();
    // Binding the same port twice is AddrInUse.
    let _s = UdpSocket::bind(&b.handle(), SocketAddr::from(([0, 0, 0, 0], 9))).unwrap();
    let e = UdpSocket::bind(&b.handle(), SocketAddr::from(([0, 0, 0, 0], 9))).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    // A read timeout expires as WouldBlock.
    client
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let e = client.recv(&mut [0u8; 10]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
}

#[test]
fn udp_to_closed_port_reports_refused() {
    let (a, _b) = pair();
    let s = UdpSocket::bind(&a.handle(), SocketAddr::from(([0, 0, 0, 0], 0))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(b"anyone?", SocketAddr::from(([10, 30, 0, 2], 4444)))
        .unwrap();
    let e = s.recv_from(&mut [0u8; 64]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
}

#[test]
fn dropping_the_runtime_fails_live_sockets_cleanly() {
    let (a, _b) = pair();
    let s = UdpSocket::bind(&a.handle(), SocketAddr::from(([0, 0, 0, 0], 0))).unwrap();
    let h = a.handle();
    let t = std::thread::spawn(move || s.recv(&mut [0u8; 8]));
    std::thread::sleep(Duration::from_millis(50));
    drop(a);
    let e = t.join().unwrap().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotConnected);
    assert!(UdpSocket::bind(&h, SocketAddr::from(([0, 0, 0, 0], 0))).is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn tokio_udp_wakes_on_arrival() {
    let (a, b) = pair();
    let server =
        strata_io::tokio::UdpSocket::bind(&b.handle(), SocketAddr::from(([0, 0, 0, 0], 5353)))
            .await
            .unwrap();
    let client =
        strata_io::tokio::UdpSocket::bind(&a.handle(), SocketAddr::from(([0, 0, 0, 0], 0)))
            .await
            .unwrap();
    let srv = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        for _ in 0..10 {
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            server.send_to(&buf[..n], from).await.unwrap();
        }
    });
    client
        .connect(SocketAddr::from(([10, 30, 0, 2], 5353)))
        .await
        .unwrap();
    for i in 0..10u8 {
        client.send(&[i; 100]).await.unwrap();
        let mut buf = [0u8; 1500];
        let n = tokio::time::timeout(Duration::from_secs(5), client.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], &[i; 100]);
    }
    srv.await.unwrap();
}
