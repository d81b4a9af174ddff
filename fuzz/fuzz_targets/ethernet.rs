//! Ethernet II / 802.1Q: parse never panics; what parses re-emits to the
//! same header bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::wire::ethernet::{EthernetFrame, EthernetRepr};

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = EthernetFrame::new_checked(data) else {
        return;
    };
    let Ok(repr) = EthernetRepr::parse(&frame) else {
        return;
    };
    let _ = repr.to_string();
    let mut out = [0u8; 18];
    let n = repr.emit(&mut out).expect("header fits");
    assert_eq!(n, frame.header_len());
    assert_eq!(&out[..n], &data[..n]);
});
