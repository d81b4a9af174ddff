//! The loopback interface under the runtime: a loopback-only runtime
//! carries a client and a server of one process, and a runtime on a link
//! reaches its own 127.0.0.1 without sending a frame.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use strata::stack::StackConfig;
use strata_io::device::NullDevice;
use strata_io::runtime::{Runtime, RuntimeConfig};
use strata_io::tcp::{TcpListener, TcpStream};
use strata_io::udp::UdpSocket;
use strata_io::{Device, PipeDevice};

fn echo_once(rt: &Runtime, port: u16) {
    let local = SocketAddr::from(([127, 0, 0, 1], port));
    let l = TcpListener::bind(&rt.handle(), local).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = l.accept().unwrap();
        assert!(matches!(peer, SocketAddr::V4(a) if a.ip().is_loopback()));
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        s.write_all(&buf.to_ascii_uppercase()).unwrap();
    });
    let mut c = TcpStream::connect(&rt.handle(), local).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let msg = b"hello over loopback ".repeat(5000);
    c.write_all(&msg).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    assert_eq!(back, msg.to_ascii_uppercase());
    server.join().unwrap();
}

#[test]
fn loopback_only_runtime_carries_tcp_and_udp() {
    let rt = Runtime::loopback(StackConfig::default()).unwrap();
    echo_once(&rt, 8080);
    let a = UdpSocket::bind(&rt.handle(), SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let b = UdpSocket::bind(&rt.handle(), SocketAddr::from(([127, 0, 0, 1], 5353))).unwrap();
    b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    a.send_to(b"dgram", b.local_addr().unwrap()).unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = b.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"dgram"[..], a.local_addr().unwrap()));
    assert_eq!(rt.with_stack(|s| s.stats().link.frames_out).unwrap(), 0);
}

#[test]
fn a_runtime_on_a_link_talks_to_itself_without_frames() {
    let (da, mut db) = PipeDevice::pair().unwrap();
    let rt = Runtime::new(
        da,
        RuntimeConfig::new("10.41.0.1/24".parse().unwrap()).address_known_unique(),
    )
    .unwrap();
    // Drain the gratuitous ARP the interface announces at start.
    let mut buf = [0u8; 2048];
    while db
        .recv_timeout(&mut buf, Duration::from_millis(100))
        .unwrap()
        .is_some()
    {}
    echo_once(&rt, 7);
    assert_eq!(
        db.recv(&mut buf).unwrap(),
        None,
        "loopback reached the link"
    );
}

#[test]
fn null_device_never_receives() {
    let mut d = NullDevice::new().unwrap();
    assert!(d.send(&[0; 60]).unwrap());
    assert_eq!(d.recv(&mut [0u8; 64]).unwrap(), None);
}
