//! strata's DHCP server on a TAP device and the kernel side's `udhcpc`
//! (busybox) as the client, inside a namespace the test creates: udhcpc
//! broadcasts DISCOVER from 0.0.0.0 through a packet socket, strata offers
//! and acknowledges, and udhcpc's script records the lease. Skips with a
//! printed reason without root, /dev/net/tun or udhcpc; fails instead
//! under STRATA_REQUIRE_ALL.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use strata::app::dhcp::server::{Server, ServerConfig};
use strata::time::Duration;
use strata_io::services::serve_dhcp;
use strata_io::testing::{can_run, Netns, TempDir};

#[test]
fn udhcpc_gets_a_lease_from_strata() {
    if !can_run(&["udhcpc"]) {
        return;
    }
    let (ns, rt) = Netns::with_runtime("dhc", 62).unwrap();
    let mut cfg = ServerConfig::new(
        rt.addr(),
        Ipv4Addr::new(10, 20, 62, 100),
        Ipv4Addr::new(10, 20, 62, 150),
    );
    cfg.dns_servers = vec![Ipv4Addr::new(10, 20, 62, 53)];
    cfg.domain_name = Some("lab".into());
    cfg.lease_time = Duration::from_secs(600);
    let server = Arc::new(Mutex::new(Server::new(cfg).unwrap()));
    let svc = serve_dhcp(&rt.handle(), server.clone()).unwrap();
    let dir = TempDir::new("dhcp").unwrap();
    let out = dir.path().join("lease");
    let script = dir.path().join("script");
    // udhcpc calls the script with the event name and the lease in the
    // environment; "bound" is the one that matters.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip $subnet $router $dns $domain $lease $serverid\" > {}\nexit 0\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // -q: quit once bound; -n: fail if no lease; 5 tries, 1 s apart.
    let run = ns
        .command(&[
            "timeout",
            "30",
            "udhcpc",
            "-i",
            "stdhc",
            "-f",
            "-q",
            "-n",
            "-t",
            "5",
            "-T",
            "1",
            "-s",
            script.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let lease = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        run.status.success(),
        "udhcpc failed: {}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        lease.split_whitespace().collect::<Vec<_>>(),
        vec![
            "10.20.62.100",
            "255.255.255.0",
            "10.20.62.2",
            "10.20.62.53",
            "lab",
            "600",
            "10.20.62.2"
        ],
        "{lease}"
    );
    drop(svc);
    let st = server.lock().unwrap().stats();
    assert_eq!((st.offers, st.acks), (1, 1), "{st:?}");
    let (_, b) = {
        let s = server.lock().unwrap();
        let (k, b) = s
            .bindings()
            .next()
            .map(|(k, b)| (k.clone(), b.clone()))
            .unwrap();
        (k, b)
    };
    assert_eq!(b.addr, Ipv4Addr::new(10, 20, 62, 100));
    assert!(!b.offered);
    drop(rt);
}
