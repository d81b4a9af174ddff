//! The TAP's virtio-net offloads against the Linux kernel: with
//! `TapOptions::offload()` the kernel hands strata TSO/GRO
//! super-frames (one read per up to 64 KiB) whose checksums the device
//! completes; every byte must still arrive intact, both ways. The plain
//! path next to it must see no super-frame at all.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use strata_io::runtime::{Runtime, RuntimeConfig};
use strata_io::tap::{OffloadStats, TapAblation, TapDevice, TapOptions};
use strata_io::tcp::TcpStream;
use strata_io::testing::{skip_unless_root_and_tun, Netns};

mod common;
use common::{content, in_ns};

/// A kernel TCP echo server on `10.20.<net>.1:7` in `ns`, on a thread
/// that entered the namespace; it echoes one connection, then ends.
fn kernel_echo(ns: &Netns, net: u8) -> std::thread::JoinHandle<u64> {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = in_ns(ns, move || {
        let l = std::net::TcpListener::bind(("10.20.0.1".replace(".0.", &format!(".{net}.")), 7))
            .unwrap();
        tx.send(()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        loop {
            let k = s.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            s.write_all(&buf[..k]).unwrap();
            n += k as u64;
        }
        n
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    h
}

/// Echoes `len` bytes through the kernel over a TAP opened with `opts`;
/// returns the device's offload counters.
fn echo_through_kernel(tag: &str, net: u8, opts: TapOptions, len: usize) -> OffloadStats {
    let ns = Netns::new(tag).unwrap();
    let tap = format!("st{tag}");
    ns.add_tap(&tap, &format!("10.20.{net}.1/24")).unwrap();
    echo_on(&ns, &tap, net, opts, len)
}

/// [`echo_through_kernel`] on an existing namespace and TAP.
fn echo_on(ns: &Netns, tap: &str, net: u8, opts: TapOptions, len: usize) -> OffloadStats {
    let t = tap.to_string();
    let dev = ns
        .run_inside(move || TapDevice::open_with(&t, opts))
        .unwrap()
        .unwrap();
    assert_eq!(dev.offloads().vnet_hdr, opts.offload);
    let stats = dev.offload_stats();
    let rt = Runtime::new(
        dev,
        RuntimeConfig::new(format!("10.20.{net}.2/24").parse().unwrap()),
    )
    .unwrap();
    let server = kernel_echo(ns, net);
    let s = TcpStream::connect_timeout(
        &rt.handle(),
        SocketAddr::from(([10, 20, net, 1], 7)),
        Duration::from_secs(10),
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let data = content(len, u32::from(net));
    let back = strata_io::echo::echo_roundtrip(&s, &data, 64 * 1024).unwrap();
    assert!(back == data, "echo through the kernel differs");
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    (&s).read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert_eq!(server.join().unwrap(), len as u64);
    let st = rt.with_stack(|s| s.stats().tcp.bad_checksum).unwrap();
    assert_eq!(st, 0, "segments failed their checksum");
    drop(rt);
    stats.get()
}

#[test]
fn offloading_tap_takes_kernel_super_frames_and_every_byte_arrives() {
    if !skip_unless_root_and_tun() {
        return;
    }
    let st = echo_through_kernel("off1", 120, TapOptions::offload(), 4 << 20);
    // Receive: GRO super-frames, checksums left partial and taken as such.
    assert!(
        st.rx_super_frames > 0,
        "the kernel sent no super-frame through the offloading TAP: {st:?}"
    );
    assert!(st.rx_csum_trusted > 0, "{st:?}");
    assert_eq!(st.rx_csum_completed, 0, "{st:?}");
    assert_eq!(st.rx_bad_header, 0, "{st:?}");
    // Send: TSO super-segments the kernel took whole, partial checksums.
    assert!(st.tx_super_frames > 0, "no super-segment was sent: {st:?}");
    assert!(st.tx_super_bytes > 1514 * st.tx_super_frames, "{st:?}");
    assert!(st.tx_csum_partial > st.tx_super_frames, "{st:?}");
    assert_eq!(st.tx_refused, 0, "{st:?}");
}

/// Each offload off in turn (the ablation `strata-bench tap` measures):
/// every byte still arrives, and the part left off is really off.
#[test]
fn each_offload_can_be_left_off_alone() {
    if !skip_unless_root_and_tun() {
        return;
    }
    for (k, which) in ["tso", "tx-csum", "gro", "rx-csum"].into_iter().enumerate() {
        let opts = TapOptions {
            offload: true,
            without: TapAblation::parse(which),
        };
        let net = 123 + k as u8;
        let st = echo_through_kernel(&format!("offa{k}"), net, opts, 1 << 20);
        match which {
            "tso" => {
                assert_eq!(st.tx_super_frames, 0, "{which}: {st:?}");
                assert!(st.tx_csum_partial > 0, "{which}: {st:?}");
            }
            "tx-csum" => {
                // Only super-segments keep a partial checksum.
                assert!(st.tx_super_frames > 0, "{which}: {st:?}");
                assert_eq!(st.tx_csum_partial, st.tx_super_frames, "{which}: {st:?}");
            }
            "gro" => {
                assert_eq!(st.rx_super_frames, 0, "{which}: {st:?}");
                assert!(st.tx_super_frames > 0, "{which}: {st:?}");
            }
            _ => {
                assert!(st.rx_csum_completed > 0, "{which}: {st:?}");
                assert_eq!(st.rx_csum_trusted, 0, "{which}: {st:?}");
            }
        }
    }
}

#[test]
fn plain_tap_sees_no_super_frames() {
    if !skip_unless_root_and_tun() {
        return;
    }
    let st = echo_through_kernel("off0", 121, TapOptions::default(), 1 << 20);
    assert_eq!(st, OffloadStats::default());
}

#[test]
fn a_plain_reader_after_an_offloading_one_gets_plain_frames() {
    if !skip_unless_root_and_tun() {
        return;
    }
    // The offloads live on the (persistent) interface, not the descriptor:
    // the next, plain, reader of the same TAP must not inherit them.
    let ns = Netns::new("off2").unwrap();
    ns.add_tap("stoff2", "10.20.122.1/24").unwrap();
    let st = echo_on(&ns, "stoff2", 122, TapOptions::offload(), 1 << 20);
    assert!(st.rx_super_frames > 0, "{st:?}");
    let st = echo_on(&ns, "stoff2", 122, TapOptions::default(), 1 << 20);
    assert_eq!(st, OffloadStats::default());
}
