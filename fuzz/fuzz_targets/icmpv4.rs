//! ICMPv4: parse never panics (checksum as given and fixed up); what parses
//! re-emits to the same bytes; quoted datagrams parse without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::wire::checksum;
use strata::wire::icmpv4::{Icmpv4Packet, Icmpv4Repr, QuotedDatagram};

fn check(data: &[u8]) {
    let Ok(p) = Icmpv4Packet::new_checked(data) else {
        return;
    };
    let Ok(repr) = Icmpv4Repr::parse(&p) else {
        return;
    };
    let _ = repr.to_string();
    if let Ok(q) = QuotedDatagram::parse(repr.data()) {
        let _ = (q.src_port(), q.dst_port(), q.tcp_seq());
    }
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut out).expect("emit what was parsed");
    let again = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&out[..]).unwrap()).unwrap();
    assert_eq!(again, repr);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= 8 {
        let mut v = data.to_vec();
        v[2..4].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&v);
        v[2..4].copy_from_slice(&c.to_be_bytes());
        check(&v);
    }
});
