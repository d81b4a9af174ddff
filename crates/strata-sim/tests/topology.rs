//! Topology files: the examples in `examples/topologies/` load and run
//! (DHCP leases, DNS lookups across a router, pings, spanning tree healing
//! a failed link), and bad files are refused with the line named.

use std::path::Path;

use strata_sim::topology::{Action, Topology};

fn example(name: &str) -> Topology {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/topologies")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    Topology::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn outcome<'a>(run: &'a strata_sim::topology::LabRun, host: &str, what: &str) -> &'a str {
    run.results
        .iter()
        .find(|(h, a, _)| {
            h == host
                && match a {
                    Action::Ping(x) => format!("ping {x}") == what,
                    Action::Resolve(n) => format!("resolve {n}") == what,
                    Action::Sleep(_) => false,
                    Action::Fetch { url, active, .. } => {
                        format!("fetch {url}{}", if *active { " active" } else { "" }) == what
                    }
                }
        })
        .map(|(_, _, o)| o.as_str())
        .unwrap_or_else(|| panic!("{host}: no {what} in {:?}", run.results))
}

#[test]
fn two_lans_behind_a_router_get_leases_names_and_pings() {
    let run = example("two-lans.toml").run(None).unwrap();
    for (host, _, lease) in &run.leases {
        let a = lease.unwrap_or_else(|| panic!("{host} got no lease"));
        assert!(
            (100..=199).contains(&a.address().octets()[3]) && a.prefix_len() == 24,
            "{host}: {a:?}"
        );
    }
    assert_eq!(run.leases.len(), 2);
    assert!(run.dhcp_done.is_some());
    assert!(outcome(&run, "pc1", "ping 10.0.2.20").starts_with("3/3 replies"));
    assert!(outcome(&run, "pc1", "resolve web.lab").starts_with("10.0.2.10 "));
    assert!(outcome(&run, "pc1", "resolve db.lab").starts_with("10.0.2.20 "));
    assert_eq!(outcome(&run, "pc2", "resolve nosuch.lab"), "NXDOMAIN");
    assert!(outcome(&run, "db", "ping 10.0.1.2").starts_with("3/3 replies"));
    let text = run.to_string();
    assert!(text.contains("dhcp: pc1 port 0 leased 10.0.1."), "{text}");
}

#[test]
fn a_home_network_behind_nat_reaches_dns_web_and_ftp_outside() {
    let run = example("home-nat.toml").run(None).unwrap();
    for (host, _, lease) in &run.leases {
        let a = lease.unwrap_or_else(|| panic!("{host} got no lease"));
        assert_eq!(a.address().octets()[..3], [192, 168, 1], "{host}");
    }
    assert_eq!(run.leases.len(), 2);
    assert!(outcome(&run, "laptop", "resolve www.example").starts_with("203.0.113.80 "));
    assert!(
        outcome(&run, "laptop", "fetch http://www.example/")
            .starts_with("200 from 203.0.113.80, 28 bytes"),
        "{:?}",
        run.results
    );
    assert!(outcome(&run, "laptop", "ping 203.0.113.80").starts_with("3/3 replies"));
    assert_eq!(
        outcome(&run, "laptop", "fetch ftp://files.example/pub/"),
        "2 names from 203.0.113.21 (passive): notes.txt readme.txt"
    );
    assert!(
        outcome(&run, "laptop", "fetch ftp://files.example/pub/readme.txt")
            .starts_with("40 bytes from 203.0.113.21")
    );
    assert!(outcome(&run, "phone", "fetch http://www.example/news.html").starts_with("200 "));
    assert!(outcome(&run, "phone", "fetch http://203.0.113.80/missing").starts_with("404 "));
    let text = run.to_string();
    // The web server saw only the router's outside address.
    assert!(
        text.contains("www: web server: 2 ok, 1 not found; clients seen: 203.0.113.2\n"),
        "{text}"
    );
    assert!(text.contains("gw: nat: "), "{text}");
    assert!(text.contains("gw: dhcp server: 2 offers, 2 acks"), "{text}");
}

#[test]
fn the_looped_fabric_converges_and_heals_a_failed_link() {
    let run = example("looped-fabric.toml").run(None).unwrap();
    assert!(run.stp_converged.is_some());
    let pings: Vec<&str> = run
        .results
        .iter()
        .filter(|(_, a, _)| matches!(a, Action::Ping(_)))
        .map(|(_, _, o)| o.as_str())
        .collect();
    assert_eq!(pings.len(), 4);
    // Before the failure, and once the tree is repaired around it.
    assert!(pings[0].starts_with("3/3 replies"), "{pings:?}");
    assert!(pings[3].starts_with("3/3 replies"), "{pings:?}");
    // s3 reached the root over s0-s3 (its port 1); after the cut its root
    // port is another one.
    let s3 = &run.switches.iter().find(|(n, _)| n == "s3").unwrap().1;
    assert_ne!(s3[1].0, Some("root"), "{s3:?}");
    assert!(s3.iter().any(|(r, _)| *r == Some("root")), "{s3:?}");
    // Some port of the loop is blocked (alternate or backup, discarding).
    let blocked = run
        .switches
        .iter()
        .flat_map(|(_, ports)| ports)
        .filter(|(role, _)| matches!(role, Some("alternate") | Some("backup")))
        .count();
    assert!(blocked >= 2, "{:?}", run.switches);
    // No storm: the fabric carried a bounded number of frames.
    assert!(
        run.sim.frames_offered() < 20_000,
        "{}",
        run.sim.frames_offered()
    );
}

fn error(text: &str) -> (usize, String) {
    let e = Topology::parse(text).expect_err("a bad file");
    (e.line, e.message)
}

#[test]
fn a_bad_file_names_the_line_and_the_problem() {
    let base = "[[switch]]\nname = \"sw\"\n\n[[host]]\nname = \"a\"\naddress = \"10.0.0.1/24\"\n";
    // TOML syntax.
    let (line, msg) = error(&format!("{base}[[link]\na = \"a\"\n"));
    assert_eq!(line, 7, "{msg}");
    // An unknown key (a typo).
    let (line, msg) = error(&format!("{base}adress = \"x\"\n"));
    assert_eq!(line, 7, "{msg}");
    assert!(msg.contains("adress"), "{msg}");
    // A link to a node that does not exist.
    let (line, msg) = error(&format!("{base}\n[[link]]\na = \"a\"\nb = \"sw9\"\n"));
    assert_eq!((line, msg.as_str()), (10, "no node named \"sw9\""));
    // A bad address.
    let (line, msg) = error(&base.replace("10.0.0.1/24", "10.0.0.300/24"));
    assert_eq!(line, 6, "{msg}");
    assert!(msg.contains("10.0.0.300/24"), "{msg}");
    // A port a host does not have.
    let (line, msg) = error(&format!("{base}\n[[link]]\na = \"a:1\"\nb = \"sw\"\n"));
    assert_eq!(line, 9, "{msg}");
    assert!(msg.contains("port 1 does not exist"), "{msg}");
    // A bad loss value.
    let (line, msg) = error(&format!(
        "{base}\n[[link]]\na = \"a\"\nb = \"sw\"\nloss = \"lots\"\n"
    ));
    assert_eq!(line, 11, "{msg}");
    assert!(msg.contains("loss"), "{msg}");
    // A command a host cannot run.
    let (line, msg) = error(&format!(
        "{base}run = [\"dance\"]\n\n[[link]]\na = \"a\"\nb = \"sw\"\n"
    ));
    assert_eq!(line, 7, "{msg}");
    // A duplicate name.
    let (line, msg) = error(&format!(
        "{base}\n[[host]]\nname = \"sw\"\naddress = \"dhcp\"\n"
    ));
    assert_eq!(line, 9, "{msg}");
    assert!(msg.contains("defined twice"), "{msg}");
    // A host left unlinked.
    let (line, msg) = error(base);
    assert_eq!(line, 5, "{msg}");
    assert!(msg.contains("1 interface(s) but 0 link(s)"), "{msg}");
    // The error is one line.
    let e = Topology::parse(&format!("{base}[[link]\n")).unwrap_err();
    assert_eq!(e.to_string().lines().count(), 1, "{e}");
}
