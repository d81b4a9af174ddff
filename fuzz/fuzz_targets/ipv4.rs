//! IPv4: parse never panics, with the checksum as given and fixed up (so
//! the code past the checksum runs); what parses re-emits to an equal value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::wire::ipv4::{Ipv4Packet, Ipv4Repr};

fn check(data: &[u8]) {
    let Ok(p) = Ipv4Packet::new_checked(data) else {
        return;
    };
    let _ = p.payload();
    let Ok(repr) = Ipv4Repr::parse(&p) else {
        return;
    };
    let _ = repr.to_string();
    let mut out = vec![0u8; repr.buffer_len()];
    let n = repr.emit(&mut out).expect("emit what was parsed");
    out[n..].copy_from_slice(p.payload());
    let again = Ipv4Repr::parse(&Ipv4Packet::new_checked(&out[..]).unwrap()).unwrap();
    assert_eq!(again, repr);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if Ipv4Packet::new_checked(data).is_ok() {
        let mut v = data.to_vec();
        Ipv4Packet::new_unchecked(&mut v[..]).fill_checksum();
        check(&v);
    }
});
