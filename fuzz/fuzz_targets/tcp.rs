//! TCP: parse never panics (checksum as given and fixed up, so option
//! parsing runs); what parses re-emits to a segment that parses to the same
//! value (SACK blocks that no longer fit our option layout may be dropped
//! from the end).
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use strata::wire::tcp::{TcpOptions, TcpPacket, TcpRepr};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn check(data: &[u8]) {
    let Ok(p) = TcpPacket::new_checked(data) else {
        return;
    };
    let _ = TcpOptions::parse(p.options());
    let Ok(repr) = TcpRepr::parse(&p, A, B) else {
        return;
    };
    let _ = repr.to_string();
    assert!(repr.header_len() <= 60);
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut out, A, B).expect("emit what was parsed");
    let q = TcpPacket::new_checked(&out[..]).unwrap();
    let again = TcpRepr::parse(&q, A, B).unwrap();
    let s = again.options.sack();
    assert_eq!(s, &repr.options.sack()[..s.len()]);
    let mut a = again;
    let mut b = repr;
    a.options.sack_len = 0;
    a.options.sack_blocks = Default::default();
    b.options.sack_len = 0;
    b.options.sack_blocks = Default::default();
    assert_eq!(a, b);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if TcpPacket::new_checked(data).is_ok() {
        let mut v = data.to_vec();
        TcpPacket::new_unchecked(&mut v[..]).fill_checksum(A, B);
        check(&v);
    }
});
