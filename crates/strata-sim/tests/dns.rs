//! DNS in the simulator: host B runs strata's authoritative server, host A
//! strata's stub resolver, across a switch — on a clean wire and on a
//! lossy one, where the resolver's retransmissions carry the lookups.

use std::net::Ipv4Addr;

use strata::app::dns::resolver::{ResolveError, Resolver};
use strata::app::dns::server::{Server, Zone};
use strata::time::Duration;
use strata::wire::dns::{Name, Type};
use strata_sim::host::{lan, Host, ScenarioOptions};
use strata_sim::services::{dns_server, resolve, shared, Services, START};

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn zone() -> Zone {
    strata_sim::testing::lab_zone(Ipv4Addr::new(10, 0, 0, 2), "a", Ipv4Addr::new(10, 0, 0, 1))
}

fn questions() -> Vec<(Name, Type)> {
    vec![
        (name("a.lab"), Type::A),
        (name("www.lab"), Type::A),
        (name("ns.lab"), Type::A),
        (name("missing.lab"), Type::A),
        (name("example.com"), Type::A),
    ]
}

#[test]
fn resolver_on_a_asks_server_on_b() {
    let mut opts = ScenarioOptions::default();
    let mut l = lan(&mut opts).unwrap();
    let server = shared({
        let mut s = Server::new();
        s.add_zone(zone());
        s
    });
    Services {
        dns: Some(server.clone()),
        ..Services::default()
    }
    .install(&mut l.sim, l.b)
    .unwrap();
    l.sim.run_until(START);
    let r = Resolver::new(vec![dns_server(Ipv4Addr::new(10, 0, 0, 2))], 7);
    let out = resolve(&mut l.sim, l.a, r, &questions(), Duration::from_secs(30)).unwrap();
    let res: Vec<_> = out.results.iter().map(|(_, _, r)| r.clone()).collect();
    let a = res[0].as_ref().unwrap();
    assert_eq!(a.addresses, vec![Ipv4Addr::new(10, 0, 0, 1)]);
    assert!(a.authoritative);
    assert_eq!(a.attempts, 1);
    // The first answer waited for ARP; all within a few link latencies.
    assert!(a.elapsed < Duration::from_millis(5), "{:?}", a.elapsed);
    let www = res[1].as_ref().unwrap();
    assert_eq!(www.records[0].rtype, Type::CNAME);
    assert_eq!(www.addresses, vec![Ipv4Addr::new(10, 0, 0, 1)]);
    assert_eq!(
        res[2].as_ref().unwrap().addresses,
        vec![Ipv4Addr::new(10, 0, 0, 2)]
    );
    assert_eq!(res[3], Err(ResolveError::NxDomain(name("missing.lab"))));
    assert!(matches!(res[4], Err(ResolveError::Rcode { .. })));
    let st = server.borrow().stats();
    assert_eq!((st.answered, st.nxdomain, st.refused), (3, 1, 1));
    assert_eq!(out.resolver.stats().retransmits, 0);
    // The server answered from port 53 to the resolver's ephemeral port.
    let b = l.sim.node::<Host>(l.b).unwrap();
    assert_eq!(b.stack().stats().udp.datagrams_out, 5);
}

#[test]
fn lookups_survive_a_lossy_wire_by_retransmission() {
    // 20 % loss each way: some queries or answers are lost and the
    // resolver asks again; every lookup still ends with the right answer.
    let mut total_retransmits = 0;
    for seed in 1..=8 {
        let mut opts = ScenarioOptions {
            seed,
            loss: 0.2,
            ..ScenarioOptions::default()
        };
        let mut l = lan(&mut opts).unwrap();
        let server = shared({
            let mut s = Server::new();
            s.add_zone(zone());
            s
        });
        Services {
            dns: Some(server),
            ..Services::default()
        }
        .install(&mut l.sim, l.b)
        .unwrap();
        l.sim.run_until(START);
        let mut r = Resolver::new(vec![dns_server(Ipv4Addr::new(10, 0, 0, 2))], seed);
        r.set_retry(Duration::from_millis(500), 16);
        let qs: Vec<(Name, Type)> = (0..5).map(|_| (name("a.lab"), Type::A)).collect();
        let out = resolve(&mut l.sim, l.a, r, &qs, Duration::from_secs(120)).unwrap();
        for (n, _, res) in &out.results {
            let a = res
                .as_ref()
                .unwrap_or_else(|e| panic!("seed {seed}: {n}: {e}"));
            assert_eq!(a.addresses, vec![Ipv4Addr::new(10, 0, 0, 1)], "seed {seed}");
        }
        total_retransmits += out.resolver.stats().retransmits;
    }
    assert!(total_retransmits > 0, "20 % loss but nothing retransmitted");
}

#[test]
fn a_silent_server_ends_in_timeout() {
    let mut opts = ScenarioOptions::default();
    let mut l = lan(&mut opts).unwrap();
    l.sim.run_until(START);
    let mut r = Resolver::new(vec![dns_server(Ipv4Addr::new(10, 0, 0, 2))], 3);
    r.set_retry(Duration::from_millis(200), 3);
    let out = resolve(
        &mut l.sim,
        l.a,
        r,
        &[(name("a.lab"), Type::A)],
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(out.results[0].2, Err(ResolveError::Timeout(3)));
}
