//! Several connections over a two-queue TAP (`IFF_MULTI_QUEUE`), one
//! strata shard per queue, with the Linux kernel as the peer: connections
//! strata opens (dealt to the shards in turn) and connections the kernel
//! opens to a listener on every shard all carry their bytes intact, with
//! the TAP's offloads off and on; both kinds are spread evenly over the
//! shards (the kernel's SYNs are dealt out in turn, not left to the
//! queue its hash picks).

use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

use strata_io::multiqueue::MultiQueueRuntime;
use strata_io::runtime::RuntimeConfig;
use strata_io::tap::{TapDevice, TapOptions};
use strata_io::testing::{skip_unless_root_and_tun, Netns};

mod common;
use common::in_ns;

/// Connections each way.
const CONNS: usize = 6;
/// Bytes echoed on each connection.
const LEN: usize = 1 << 20;

/// Deterministic content, different per connection.
fn content(len: usize, salt: u32) -> Vec<u8> {
    common::content(len, salt.wrapping_mul(0x85eb_ca6b))
}

fn echo_over_two_queues(tag: &str, net: u8, opts: TapOptions) {
    let ns = Netns::new(tag).unwrap();
    let tap = format!("st{tag}");
    ns.add_tap_multi_queue(&tap, &format!("10.20.{net}.1/24"))
        .unwrap();
    let t = tap.clone();
    let devs = ns
        .run_inside(move || TapDevice::open_queues(&t, 2, opts))
        .unwrap()
        .unwrap();
    assert_eq!(devs.len(), 2);
    assert!(devs.iter().all(|d| d.offloads().vnet_hdr == opts.offload));
    let mq = MultiQueueRuntime::new(
        devs,
        RuntimeConfig::new(format!("10.20.{net}.2/24").parse().unwrap()).address_known_unique(),
    )
    .unwrap();
    assert_eq!(mq.shard_count(), 2);
    let kernel = SocketAddrV4::new([10, 20, net, 1].into(), 7);
    let ours = SocketAddrV4::new([10, 20, net, 2].into(), 7);

    // strata → kernel: a kernel echo server, one thread per connection.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let server = in_ns(&ns, move || {
        let l = std::net::TcpListener::bind(kernel).unwrap();
        ready_tx.send(()).unwrap();
        let echoes: Vec<_> = (0..CONNS)
            .map(|_| {
                let (s, _) = l.accept().unwrap();
                s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                std::thread::spawn(move || strata_io::echo::echo_stream(s).unwrap())
            })
            .collect();
        echoes.into_iter().map(|e| e.join().unwrap()).sum::<u64>()
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let h = mq.handle();
    let clients: Vec<_> = (0..CONNS)
        .map(|k| {
            let h = h.clone();
            std::thread::spawn(move || {
                let s = h
                    .connect_timeout(SocketAddr::V4(kernel), Duration::from_secs(10))
                    .unwrap();
                let shard = h.shard_of(&s).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                let data = content(LEN, k as u32);
                let back = strata_io::echo::echo_roundtrip(&s, &data, 64 * 1024).unwrap();
                assert!(back == data, "connection {k}: the echo differs");
                s.shutdown(std::net::Shutdown::Write).unwrap();
                let mut rest = Vec::new();
                (&s).read_to_end(&mut rest).unwrap();
                assert!(rest.is_empty());
                shard
            })
        })
        .collect();
    let mut opened = [0usize; 2];
    for c in clients {
        opened[c.join().unwrap()] += 1;
    }
    assert_eq!(server.join().unwrap(), (CONNS * LEN) as u64);
    assert_eq!(opened, [CONNS / 2; 2], "outgoing connections per shard");
    let out = mq.stats();

    // kernel → strata: a listener on every shard, kernel clients.
    let l = mq.handle().listen(SocketAddr::V4(ours)).unwrap();
    let echo = std::thread::spawn(move || {
        let mut accepted = [0usize; 2];
        let servers: Vec<_> = (0..CONNS)
            .map(|_| {
                let (s, _) = l.accept().unwrap();
                accepted[h.shard_of(&s).unwrap()] += 1;
                s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                std::thread::spawn(move || strata_io::echo::echo_stream(&s).unwrap())
            })
            .collect();
        let bytes = servers.into_iter().map(|e| e.join().unwrap()).sum::<u64>();
        (bytes, accepted)
    });
    let clients: Vec<_> = (0..CONNS)
        .map(|k| {
            in_ns(&ns, move || {
                let mut s = std::net::TcpStream::connect_timeout(
                    &SocketAddr::V4(ours),
                    Duration::from_secs(10),
                )
                .unwrap();
                s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                let data = content(LEN, 100 + k as u32);
                let w = s.try_clone().unwrap();
                let d = data.clone();
                let writer = std::thread::spawn(move || {
                    let mut w = w;
                    w.write_all(&d).unwrap();
                    w.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let mut back = Vec::new();
                s.read_to_end(&mut back).unwrap();
                writer.join().unwrap();
                assert!(back == data, "kernel client {k}: the echo differs");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let (bytes, accepted) = echo.join().unwrap();
    assert_eq!(bytes, (CONNS * LEN) as u64);
    // The kernel's connections were dealt to the shards in turn, whatever
    // queue its hash chose for each SYN.
    assert_eq!(accepted, [CONNS / 2; 2], "incoming connections per shard");
    let all = mq.stats();
    for (k, s) in all.iter().enumerate() {
        println!("{tag}: shard {k}: {s:?}");
    }
    // The outgoing connections went to both shards in turn, so both
    // queues carried frames both ways.
    for (k, s) in out.iter().enumerate() {
        assert!(s.rx_frames > 0 && s.tx_frames > 0, "shard {k}: {s:?}");
    }
    for k in 0..mq.shard_count() {
        let bad = mq
            .shard(k)
            .with_stack(|st| st.stats().tcp.bad_checksum)
            .unwrap();
        assert_eq!(bad, 0, "shard {k}: segments failed their checksum");
    }
}

#[test]
fn several_connections_over_two_queues_carry_every_byte() {
    if !skip_unless_root_and_tun() {
        return;
    }
    echo_over_two_queues("mq1", 140, TapOptions::default());
    echo_over_two_queues("mq2", 141, TapOptions::offload());
}
