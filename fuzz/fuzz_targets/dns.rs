//! DNS: parse never panics or loops; what parses re-emits (compressed) to a
//! message that parses to the same value; the authoritative server answers
//! any datagram without panicking, with a message that parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::app::dns::server::{Server, Zone};
use strata::wire::dns::{Message, Name};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        let again = Message::parse(&m.emit()).expect("our own emit parses");
        assert_eq!(again, m);
    }
    let lab = Name::parse("lab").unwrap();
    let mut z = Zone::new(lab.clone(), Name::parse("ns.lab").unwrap(), 60);
    z.add_a(Name::parse("web.lab").unwrap(), [10, 0, 0, 1].into(), 60)
        .unwrap();
    let mut s = Server::new();
    s.add_zone(z);
    if let Some(reply) = s.answer(data) {
        assert!(reply.len() <= 512);
        Message::parse(&reply).expect("the server's reply parses");
    }
});
