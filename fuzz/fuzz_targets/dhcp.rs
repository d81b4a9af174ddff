//! DHCP: parse never panics; what parses re-emits to the same value; the
//! server and the client take any datagram without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::app::dhcp::client::Client;
use strata::app::dhcp::server::{Server, ServerConfig};
use strata::time::Instant;
use strata::wire::dhcp::{DhcpPacket, DhcpRepr};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::MacAddr;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = DhcpPacket::new_checked(data).and_then(|p| DhcpRepr::parse(&p)) {
        let b = r.emit();
        let again = DhcpRepr::parse(&DhcpPacket::new_checked(&b[..]).unwrap()).unwrap();
        assert_eq!(again, r);
    }
    let cidr = Ipv4Cidr::new([10, 0, 0, 1].into(), 24).unwrap();
    let mut s = Server::new(ServerConfig::new(cidr, [10, 0, 0, 100].into(), [10, 0, 0, 110].into())).unwrap();
    let now = Instant::from_secs(1);
    if let Some(reply) = s.handle(now, data) {
        assert!(DhcpPacket::new_checked(&reply.payload[..]).is_ok());
    }
    let mut c = Client::new(MacAddr([2, 0, 0, 0, 0, 1]), 1);
    c.start(now);
    c.handle_datagram(now, data);
});
