//! strata's NAT between two kernels: a LAN namespace whose only way out is
//! a strata router (two TAPs, one per namespace) doing NAT, and a WAN
//! namespace with Python servers that report the address they see. curl,
//! ping and Python's sockets in the LAN are the real clients. Skips with a
//! printed reason without root, /dev/net/tun, curl, ping or python3; fails
//! instead under STRATA_REQUIRE_ALL.

use std::net::SocketAddrV4;

use strata::link::IfaceId;
use strata::net::nat::{NatConfig, NatProtocol};
use strata::stack::{Stack, StackConfig};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::{Ipv4Addr, MacAddr};
use strata_io::router::RouterThread;
use strata_io::testing::{can_run, Netns};
use strata_io::Device;

const LAN_HOST: &str = "192.168.77.10";
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 20, 78, 1);
const EXT: Ipv4Addr = Ipv4Addr::new(10, 20, 78, 2);

/// An HTTP server whose body is the client's address, and a UDP service
/// on port 7 that answers with the sender's address and port.
const SERVERS: &str = r#"
import http.server, socket, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = self.client_address[0].encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(('10.20.78.1', 7))
def echo():
    while True:
        d, a = u.recvfrom(2048)
        u.sendto(('%s:%d' % a).encode(), a)
threading.Thread(target=echo, daemon=True).start()
http.server.HTTPServer(('10.20.78.1', 8080), H).serve_forever()
"#;

#[test]
fn kernel_clients_behind_strata_nat_reach_a_kernel_server() {
    if !can_run(&["curl", "ping", "python3"]) {
        return;
    }
    let lan = Netns::new("natl").unwrap();
    let wan = Netns::new("natw").unwrap();
    lan.add_tap("stlan", &format!("{LAN_HOST}/24")).unwrap();
    lan.exec(&["ip", "route", "add", "default", "via", "192.168.77.1"])
        .unwrap();
    wan.add_tap("stwan", "10.20.78.1/24").unwrap();
    let lan_dev = lan.open_tap("stlan").unwrap().unwrap();
    let wan_dev = wan.open_tap("stwan").unwrap().unwrap();
    let mut st = Stack::new(StackConfig {
        seed: 78,
        ..StackConfig::default()
    });
    let i0 = st.add_interface(MacAddr([2, 0x53, 0, 0, 77, 1]), 1500);
    let i1 = st.add_interface(MacAddr([2, 0x53, 0, 0, 78, 2]), 1500);
    // Both links are the test's own: no other station holds the addresses.
    st.add_address(
        i0,
        Ipv4Cidr::new(Ipv4Addr::new(192, 168, 77, 1), 24).unwrap(),
    )
    .unwrap();
    st.add_address(i1, Ipv4Cidr::new(EXT, 24).unwrap()).unwrap();
    st.enable_nat(IfaceId(1), NatConfig::default()).unwrap();
    let devices: Vec<Box<dyn Device>> = vec![Box::new(lan_dev), Box::new(wan_dev)];
    let router = RouterThread::spawn(st, devices).unwrap();

    wan.spawn(&["python3", "-c", SERVERS]).unwrap();
    wan.wait_for_port(SocketAddrV4::new(SERVER, 8080)).unwrap();

    // HTTP from the LAN's kernel: the server sees the NAT's address.
    let out = lan
        .exec(&[
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            "20",
            "http://10.20.78.1:8080/",
        ])
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), EXT.to_string());

    // UDP with a fixed source port: kept (port preservation), seen from
    // the NAT's address.
    let udp = lan
        .exec(&[
            "python3",
            "-c",
            "import socket\n\
             s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             s.bind(('192.168.77.10', 40123)); s.settimeout(5)\n\
             s.sendto(b'hi', ('10.20.78.1', 7))\n\
             print(s.recvfrom(100)[0].decode())",
        ])
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&udp.stdout).trim(),
        format!("{EXT}:40123")
    );

    // ping: the echo identifier is mapped (RFC 5508).
    lan.exec(&["ping", "-c", "2", "-W", "3", "10.20.78.1"])
        .unwrap();

    // A datagram to a closed port: the kernel's port unreachable comes
    // back to the NAT, which translates it for the LAN host, whose
    // connected socket reports ECONNREFUSED (RFC 5508 §4.2).
    let refused = lan
        .exec(&[
            "python3",
            "-c",
            "import socket\n\
             s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)\n\
             s.connect(('10.20.78.1', 9)); s.send(b'x')\n\
             try:\n    s.recv(10); print('answered')\n\
             except ConnectionRefusedError:\n    print('refused')\n\
             except socket.timeout:\n    print('timeout')",
        ])
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&refused.stdout).trim(), "refused");

    // Unsolicited datagrams from the WAN to the NAT's address: dropped.
    let before = router
        .with_stack(|st, _| st.nat().unwrap().stats())
        .unwrap();
    wan.exec(&[
        "python3",
        "-c",
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         [s.sendto(b'knock', ('10.20.78.2', p)) for p in (40124, 50000, 60000)]",
    ])
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (stats, mappings) = router
        .with_stack(|st, _| {
            let n = st.nat().unwrap();
            (n.stats(), n.mappings().collect::<Vec<_>>())
        })
        .unwrap();
    assert_eq!(
        stats.dropped_unsolicited - before.dropped_unsolicited,
        3,
        "{stats:?}"
    );
    assert!(stats.icmp_errors_translated >= 1, "{stats:?}");
    let lan_ip: Ipv4Addr = LAN_HOST.parse().unwrap();
    for p in [NatProtocol::Tcp, NatProtocol::Udp, NatProtocol::Icmp] {
        assert!(
            mappings
                .iter()
                .any(|m| m.protocol == p && *m.internal.ip() == lan_ip),
            "no {p:?} mapping in {mappings:?}"
        );
    }
    assert!(mappings
        .iter()
        .any(|m| m.protocol == NatProtocol::Udp && m.external_port == 40123));
    drop(router);
}
