//! Rough throughput of the packet path (ignored by default; run with
//! `cargo test -p strata --release --test stack_perf -- --ignored --nocapture`).

mod stack_util;

use core::net::SocketAddrV4;
use stack_util::{cidr, ip, World};
use strata::link::IfaceId;

#[test]
#[ignore = "measurement, not a check"]
fn udp_datagrams_per_second_through_a_router() {
    let mut w = World::new();
    let (a, r, b) = (w.add_stack(), w.add_stack(), w.add_stack());
    let (s0, s1) = (w.add_segment(), w.add_segment());
    w.attach(a, s0, "10.0.1.10/24", 1500);
    w.attach(r, s0, "10.0.1.1/24", 1500);
    w.attach(r, s1, "10.0.2.1/24", 1500);
    w.attach(b, s1, "10.0.2.10/24", 1500);
    w.stacks[a].set_default_gateway(ip("10.0.1.1")).unwrap();
    w.stacks[b].set_default_gateway(ip("10.0.2.1")).unwrap();
    w.stacks[r].set_forwarding(true);
    let _ = (cidr, IfaceId(0));
    let srv = w.stacks[b].udp_bind(None, 9).unwrap();
    let cli = w.stacks[a].udp_bind(None, 0).unwrap();
    let to = SocketAddrV4::new(ip("10.0.2.10"), 9);
    // Warm the ARP caches along the path.
    w.stacks[a].udp_send_to(w.now, cli, to, b"warm").unwrap();
    w.run();
    assert!(w.stacks[b].udp_recv_from(srv).unwrap().is_some());
    let n = 200_000u32;
    let payload = [7u8; 64];
    let t0 = std::time::Instant::now();
    let mut got = 0u32;
    for _ in 0..n / 32 {
        for _ in 0..32 {
            w.stacks[a].udp_send_to(w.now, cli, to, &payload).unwrap();
        }
        w.run();
        while let Ok(Some(_)) = w.stacks[b].udp_recv_from(srv) {
            got += 1;
        }
    }
    let dt = t0.elapsed();
    assert_eq!(got, n);
    println!(
        "{n} UDP datagrams A → router → B in {:.3} s: {:.0} datagrams/s ({:.0} ns per datagram for three stacks)",
        dt.as_secs_f64(),
        f64::from(n) / dt.as_secs_f64(),
        dt.as_nanos() as f64 / f64::from(n)
    );
}
