//! The strata stack running in the simulator: timing, routing, fragments.

use std::net::SocketAddrV4;
use strata::net::icmp::IcmpErrorKind;
use strata::stack::{Event, StackConfig};
use strata::time::{Duration, Instant};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::{Ipv4Addr, MacAddr};
use strata_sim::host::{self, Host, ScenarioOptions};
use strata_sim::{LinkConfig, Sim};

#[test]
fn ping_rtt_is_exactly_two_latencies_plus_serialisation_on_a_cable() {
    let latency = Duration::from_micros(250);
    let cfg = LinkConfig::default()
        .with_latency(latency)
        .with_bandwidth(10_000_000);
    let mut sim = Sim::new(1);
    let mut a = Host::new("a", StackConfig::default());
    a.add_interface(
        MacAddr([2, 0, 0, 0, 0, 1]),
        1500,
        Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap(),
    );
    let mut b = Host::new("b", StackConfig::default());
    b.add_interface(
        MacAddr([2, 0, 0, 0, 0, 2]),
        1500,
        Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 2), 24).unwrap(),
    );
    let a = sim.add_node(Box::new(a));
    let b = sim.add_node(Box::new(b));
    sim.connect((a, 0), (b, 0), cfg.clone()).unwrap();
    sim.run_until(Instant::from_millis(10));
    let data = [0u8; 56];
    for seq in 1..=3u16 {
        sim.with_node(a, |h: &mut Host, now| {
            h.stack_mut()
                .ping(now, Ipv4Addr::new(10, 0, 0, 2), 9, seq, &data)
                .unwrap()
        });
        sim.run_for(Duration::from_secs(1));
    }
    let rtts: Vec<Duration> = sim
        .node::<Host>(a)
        .unwrap()
        .events()
        .iter()
        .filter_map(|(_, e)| match e {
            Event::EchoReply { rtt, .. } => Some(*rtt),
            _ => None,
        })
        .collect();
    // Echo frames: 14 + 20 + 8 + 56 = 98 bytes; ARP frames padded to 60.
    let echo = latency + cfg.serialisation_delay(98);
    let arp = latency + cfg.serialisation_delay(60);
    assert_eq!(rtts, vec![2 * arp + 2 * echo, 2 * echo, 2 * echo]);
    assert_eq!(2 * echo, Duration::from_nanos(2 * (250_000 + 78_400)));
}

#[test]
fn ping_scenario_through_a_switch_and_its_report() {
    let (r, _sim) = host::ping(ScenarioOptions::default()).unwrap();
    let cfg = LinkConfig::default()
        .with_latency(Duration::from_micros(100))
        .with_bandwidth(100_000_000);
    let echo = cfg.latency + cfg.serialisation_delay(98);
    let arp = cfg.latency + cfg.serialisation_delay(60);
    // Store-and-forward switch: two links each way.
    let want: Vec<_> = (1..=4u16)
        .map(|s| {
            (
                s,
                Some((if s == 1 { 4 * arp + 4 * echo } else { 4 * echo }, 64)),
            )
        })
        .collect();
    assert_eq!(r.replies, want);
    let text = r.to_string();
    assert!(
        text.contains("64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=0.431 ms"),
        "{text}"
    );
    assert!(
        text.contains("4 packets transmitted, 4 received, 0% packet loss"),
        "{text}"
    );
}

#[test]
fn traceroute_hop_list_is_exact() {
    let (r, sim) = host::traceroute(ScenarioOptions {
        count: 3,
        ..ScenarioOptions::default()
    })
    .unwrap();
    assert!(r.reached);
    assert_eq!(
        r.hop_addresses(),
        vec![
            Some(Ipv4Addr::new(10, 0, 1, 1)),
            Some(Ipv4Addr::new(10, 0, 2, 2)),
            Some(Ipv4Addr::new(10, 0, 3, 10)),
        ]
    );
    let kinds: Vec<_> = r.hops.iter().map(|h| h.probes[0].unwrap().2).collect();
    assert_eq!(
        kinds,
        [
            IcmpErrorKind::TtlExceeded,
            IcmpErrorKind::TtlExceeded,
            IcmpErrorKind::PortUnreachable
        ]
    );
    assert!(r
        .hops
        .iter()
        .all(|h| h.probes.len() == 3 && h.probes.iter().all(Option::is_some)));
    let text = r.to_string();
    assert!(text.contains(" 1  10.0.1.1 "), "{text}");
    assert!(
        text.ends_with("reached 10.0.3.10 (port unreachable)"),
        "{text}"
    );
    let _ = sim;
}

#[test]
fn udp_echo_loses_datagrams_under_loss_and_none_without() {
    let (clean, _) = host::udp_echo(ScenarioOptions {
        count: 50,
        ..ScenarioOptions::default()
    })
    .unwrap();
    assert_eq!(clean.echoed, (1..=50).collect::<Vec<_>>());
    assert!((49152..=65535).contains(&clean.client_port));
    let (lossy, _) = host::udp_echo(ScenarioOptions {
        count: 50,
        loss: 0.2,
        seed: 7,
        ..ScenarioOptions::default()
    })
    .unwrap();
    let lost = lossy.lost();
    // Some datagrams are lost (on the wire, or while ARP itself loses
    // its packets and gives up), not all, and nothing retransmits them.
    assert!(!lost.is_empty() && lost.len() < 50, "{lost:?}");
    assert!(lossy.server_received < 50);
    assert_eq!(lossy.echoed.len() + lost.len(), 50);
    assert!(lossy.to_string().contains("lost for good"), "{lossy}");
}

#[test]
fn fragments_reassemble_across_routers_with_reordering_and_duplication() {
    for (mtu, seed) in [(576usize, 1u64), (1006, 2), (1500, 3), (296, 4)] {
        let mut opts = ScenarioOptions {
            seed,
            ..ScenarioOptions::default()
        };
        let mut p = host::routed_path(&mut opts, mtu).unwrap();
        // Every link shuffles and duplicates.
        let ids: Vec<_> = p.sim.link_ids().collect();
        for l in ids {
            let c = p.sim.link_config_mut(l).unwrap();
            c.duplicate = 0.25;
            c.reorder = 0.4;
            c.reorder_delay = Duration::from_micros(300);
        }
        let srv = p
            .sim
            .with_node(p.b, |h: &mut Host, _| {
                h.stack_mut().udp_bind(None, 9).unwrap()
            })
            .unwrap();
        let cli = p
            .sim
            .with_node(p.a, |h: &mut Host, _| {
                h.stack_mut().udp_bind(None, 0).unwrap()
            })
            .unwrap();
        let payload: Vec<u8> = (0..9000u32).map(|i| (i % 253) as u8).collect();
        for _ in 0..3 {
            p.sim.with_node(p.a, |h: &mut Host, now| {
                h.stack_mut()
                    .udp_send_to(
                        now,
                        cli,
                        SocketAddrV4::new(Ipv4Addr::new(10, 0, 3, 10), 9),
                        &payload,
                    )
                    .unwrap()
            });
            p.sim.run_for(Duration::from_millis(50));
        }
        p.sim.run_for(Duration::from_secs(1));
        let b = p.sim.node_mut::<Host>(p.b).unwrap();
        let mut got = 0;
        while let Some(d) = b.stack_mut().udp_recv_from(srv).unwrap() {
            assert_eq!(d.payload, payload, "mtu {mtu}");
            got += 1;
        }
        let st = b.stack().stats();
        assert!(got >= 3, "mtu {mtu}: {got} datagrams, {st:?}");
        assert!(st.frag.reassembly.duplicates > 0, "mtu {mtu}: {st:?}");
        assert_eq!(st.ip.dropped.fragment, 0, "mtu {mtu}: {st:?}");
        let r2 = p.sim.node::<Host>(p.r2).unwrap().stack().stats();
        assert!(
            mtu == 1500 || r2.frag.fragments_out > 0,
            "R2 fragments for the small link"
        );
    }
}

#[test]
fn queued_during_arp_none_lost_with_latency() {
    let mut opts = ScenarioOptions::default();
    let mut lan = host::lan(&mut opts).unwrap();
    let srv = lan
        .sim
        .with_node(lan.b, |h: &mut Host, _| {
            h.stack_mut().udp_bind(None, 5353).unwrap()
        })
        .unwrap();
    lan.sim.with_node(lan.a, |h: &mut Host, now| {
        let s = h.stack_mut();
        let c = s.udp_bind(None, 0).unwrap();
        for i in 0..12u8 {
            s.udp_send_to(
                now,
                c,
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 5353),
                &[i],
            )
            .unwrap();
        }
    });
    lan.sim.run_for(Duration::from_millis(100));
    let b = lan.sim.node_mut::<Host>(lan.b).unwrap();
    let mut got = Vec::new();
    while let Some(d) = b.stack_mut().udp_recv_from(srv).unwrap() {
        got.push(d.payload[0]);
    }
    assert_eq!(got, (0..12).collect::<Vec<_>>());
}

#[test]
fn same_seed_same_pcap() {
    let run = |seed| {
        let path = std::env::temp_dir().join(format!(
            "strata-net-ping-{seed}-{}.pcap",
            std::process::id()
        ));
        let f = std::fs::File::create(&path).unwrap();
        host::udp_echo(ScenarioOptions {
            seed,
            loss: 0.1,
            count: 20,
            pcap: Some(Box::new(std::io::BufWriter::new(f))),
            ..ScenarioOptions::default()
        })
        .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        bytes
    };
    let a = run(5);
    assert!(a.len() > 24 + 20 * 60);
    assert_eq!(a, run(5));
    assert_ne!(a, run(6));
}
