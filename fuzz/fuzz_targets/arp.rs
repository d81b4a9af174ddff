//! ARP: parse never panics; what parses re-emits to the same 28 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::wire::arp::{ArpPacket, ArpRepr};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = ArpPacket::new_checked(data) else {
        return;
    };
    let Ok(repr) = ArpRepr::parse(&p) else {
        return;
    };
    let _ = repr.to_string();
    let mut out = [0u8; 28];
    repr.emit(&mut out).expect("28 bytes fit");
    assert_eq!(&out[..], &data[..28]);
});
