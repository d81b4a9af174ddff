//! strata on a TAP device against the Linux kernel: ICMP echo and UDP, both
//! ways. Each test makes its own namespace (removed even on failure); the
//! tests skip with a printed reason without root or /dev/net/tun.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use strata_io::runtime::{PingReply, Runtime};
use strata_io::testing::{can_run, Netns};
use strata_io::udp::UdpSocket;

/// A namespace with TAP `st<tag>` whose kernel side is `10.20.<net>.1/24`,
/// and a strata runtime at `10.20.<net>.2/24` on it.
fn setup(tag: &str, net: u8) -> (Netns, Runtime) {
    Netns::with_runtime(tag, net).unwrap()
}

#[test]
fn ping_both_ways() {
    if !can_run(&["ping"]) {
        return;
    }
    let (ns, rt) = setup("png", 41);
    // strata → kernel.
    for seq in 1..=3 {
        match rt
            .ping(
                Ipv4Addr::new(10, 20, 41, 1),
                seq,
                &[0xab; 56],
                Duration::from_secs(3),
            )
            .unwrap()
        {
            PingReply::Reply { from, len, .. } => {
                assert_eq!(from, Ipv4Addr::new(10, 20, 41, 1));
                assert_eq!(len, 56);
            }
            other => panic!("seq {seq}: {other:?}"),
        }
    }
    // kernel → strata: ping exits 0 only if replies came back.
    let out = ns
        .exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.20.41.2"])
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("3 received"), "{text}");
    // A large ping that the kernel must fragment to fit the 1500 MTU.
    let out = ns
        .exec(&["ping", "-c", "1", "-s", "4000", "-W", "2", "10.20.41.2"])
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 received"));
    drop(rt);
}

const PY_UDP_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for i in range(5):
    msg = (b"datagram %d " % i) * (i * 100 + 1)
    s.sendto(msg, ("10.20.42.2", 7))
    back, addr = s.recvfrom(65535)
    assert back == msg, (len(back), len(msg))
    assert addr == ("10.20.42.2", 7), addr
print("ok")
"#;

const PY_UDP_SERVER: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.20.43.1", 9007))
while True:
    data, addr = s.recvfrom(65535)
    s.sendto(data, addr)
"#;

#[test]
fn udp_echo_both_ways() {
    if !can_run(&["python3"]) {
        return;
    }
    // Kernel client → strata echo server.
    let (ns, rt) = setup("ud1", 42);
    let server = UdpSocket::bind(&rt.handle(), SocketAddr::from(([0, 0, 0, 0], 7))).unwrap();
    let t = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65535];
        for _ in 0..5 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
    });
    let out = ns.exec(&["python3", "-c", PY_UDP_CLIENT]).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    t.join().unwrap();
    drop((rt, ns));

    // strata client → kernel echo server.
    let (ns, rt) = setup("ud2", 43);
    ns.spawn(&["python3", "-c", PY_UDP_SERVER]).unwrap();
    let c = UdpSocket::bind(&rt.handle(), SocketAddr::from(([0, 0, 0, 0], 0))).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let server = SocketAddr::from(([10, 20, 43, 1], 9007));
    // The server may need a moment to bind: retry the first datagram.
    let mut buf = vec![0u8; 65535];
    let mut first_ok = false;
    for _ in 0..20 {
        c.send_to(b"hello kernel", server).unwrap();
        match c.recv_from(&mut buf) {
            Ok((n, from)) => {
                assert_eq!(&buf[..n], b"hello kernel");
                assert_eq!(from, server);
                first_ok = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            // Port unreachable until python binds.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(first_ok, "python UDP echo server never answered");
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    // 8000 bytes: strata fragments it; the kernel reassembles and answers
    // in fragments that strata reassembles.
    let big: Vec<u8> = (0..8000u32).map(|i| (i * 7) as u8).collect();
    c.send_to(&big, server).unwrap();
    // Skip late echoes of the retried greeting.
    let n = loop {
        let (n, _) = c.recv_from(&mut buf).unwrap();
        if &buf[..n] != b"hello kernel" {
            break n;
        }
    };
    assert_eq!(n, big.len());
    assert!(buf[..n] == big[..], "8000-byte echo differs");
}
