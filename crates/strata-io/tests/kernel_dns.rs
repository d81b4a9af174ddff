//! strata's DNS server on a TAP device, asked by `dig` (BIND's resolver
//! library, the kernel's UDP) from inside a namespace the test creates.
//! Skips with a printed reason without root, /dev/net/tun or dig; fails
//! instead under STRATA_REQUIRE_ALL.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use strata::app::dns::server::Server;
use strata::wire::dns::{Name, RData, Record};
use strata_io::services::serve_dns;
use strata_io::testing::{can_run, Netns};

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn server() -> Server {
    let mut z = strata_sim::testing::lab_zone(
        Ipv4Addr::new(10, 20, 61, 2),
        "web",
        Ipv4Addr::new(10, 20, 61, 80),
    );
    z.add(Record::new(
        name("lab"),
        60,
        RData::Txt(vec![b"served by strata".to_vec()]),
    ))
    .unwrap();
    let mut s = Server::new();
    s.add_zone(z);
    s
}

#[test]
fn dig_asks_strata() {
    if !can_run(&["dig"]) {
        return;
    }
    let (ns, rt) = Netns::with_runtime("dns", 61).unwrap();
    let server = Arc::new(Mutex::new(server()));
    let svc = serve_dns(&rt.handle(), server.clone()).unwrap();
    let dig = |args: &str| -> String {
        let out = ns
            .sh(&format!("dig @10.20.61.2 +time=2 +tries=3 {args}"))
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // An A record, short form.
    assert_eq!(dig("+short web.lab A").trim(), "10.20.61.80");
    // A CNAME followed inside the zone: dig shows both records.
    let www = dig("+short www.lab A");
    assert_eq!(
        www.lines().collect::<Vec<_>>(),
        vec!["web.lab.", "10.20.61.80"],
        "{www}"
    );
    // The full answer: authoritative, no recursion offered.
    let full = dig("web.lab A");
    assert!(full.contains("status: NOERROR"), "{full}");
    assert!(full.contains("flags: qr aa rd;"), "{full}");
    // A missing name: NXDOMAIN with the zone's SOA.
    let nx = dig("nope.lab A");
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    assert!(nx.contains("SOA\tns.lab. hostmaster.lab."), "{nx}");
    // TXT, and a name outside the zone.
    assert_eq!(dig("+short lab TXT").trim(), "\"served by strata\"");
    assert!(dig("example.com A").contains("status: REFUSED"));
    drop(svc);
    let st = server.lock().unwrap().stats();
    assert_eq!(st.nxdomain, 1);
    assert_eq!(st.refused, 1);
    assert!(st.answered >= 4, "{st:?}");
    drop(rt);
}
