//! UDP: parse never panics (checksum as given and fixed up); what parses
//! re-emits to a datagram that parses to the same value and payload.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use strata::wire::checksum;
use strata::wire::ipv4::IpProtocol;
use strata::wire::udp::{UdpPacket, UdpRepr};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn check(data: &[u8]) {
    let Ok(p) = UdpPacket::new_checked(data) else {
        return;
    };
    let Ok(repr) = UdpRepr::parse(&p, A, B) else {
        return;
    };
    let _ = repr.to_string();
    let mut out = vec![0u8; repr.buffer_len(p.payload().len())];
    repr.emit(&mut out, A, B, p.payload()).expect("emit what was parsed");
    let q = UdpPacket::new_checked(&out[..]).unwrap();
    assert_eq!(UdpRepr::parse(&q, A, B).unwrap(), repr);
    assert_eq!(q.payload(), p.payload());
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Ok(p) = UdpPacket::new_checked(data) {
        let l = usize::from(p.len());
        let mut v = data[..l].to_vec();
        v[6..8].copy_from_slice(&[0, 0]);
        let ph = checksum::pseudo_header(A, B, IpProtocol::UDP, l as u32);
        let c = checksum::finish(checksum::combine(&[ph, checksum::sum(&v)]));
        v[6..8].copy_from_slice(&c.to_be_bytes());
        check(&v);
    }
});
