//! strata TCP on a TAP device against the Linux kernel's TCP: curl and
//! Python are the other side. Each test makes its own network namespace
//! (TAP inside, kernel side 10.20.N.1/24, strata 10.20.N.2/24) and removes
//! it even on failure; skipped with a printed reason without root,
//! /dev/net/tun or the tools.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_io::runtime::{Runtime, RuntimeConfig};
use strata_io::tap::TapOptions;
use strata_io::tcp::{TcpListener, TcpStream};
use strata_io::testing::{can_run, ArrivalProbe, Netns, TempDir};

mod common;
use common::content;

fn setup(tag: &str, net: u8) -> (Netns, Runtime) {
    Netns::with_runtime(tag, net).unwrap()
}

fn temp_dir(tag: &str) -> TempDir {
    TempDir::new(&format!("io-{tag}")).unwrap()
}

/// Serves `root` over HTTP on strata port 80 with a thread per connection.
fn serve_http(rt: &Runtime, root: &Path) {
    let listener = TcpListener::bind(&rt.handle(), SocketAddr::from(([0, 0, 0, 0], 80))).unwrap();
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(s) = s else { return };
            let root = root.clone();
            std::thread::spawn(move || {
                let _ = strata_io::http::serve_connection(s, &root);
            });
        }
    });
}

/// strata fetches `http://ip:port/path` with `http::get`: the status and
/// the body.
fn strata_get(rt: &Runtime, ip: Ipv4Addr, port: u16, path: &str) -> (u16, Vec<u8>) {
    let s = TcpStream::connect_timeout(
        &rt.handle(),
        SocketAddr::from(SocketAddrV4::new(ip, port)),
        Duration::from_secs(10),
    )
    .unwrap();
    let url = format!("http://{ip}:{port}{path}").parse().unwrap();
    let mut body = Vec::new();
    let r = strata_io::http::get(s, &url, &mut body).unwrap();
    (r.status, body)
}

#[test]
fn curl_downloads_from_strata_serve() {
    curl_downloads(setup("cu", 51), 51);
}

/// The same with the TAP's offloads on, whatever `STRATA_TAP_OFFLOAD`
/// says (TSO super-segments and partial checksums out, GRO in).
#[test]
fn curl_downloads_from_strata_serve_with_offloads() {
    if !can_run(&["curl"]) {
        return;
    }
    curl_downloads(
        Netns::with_runtime_opts("cuo", 61, TapOptions::offload()).unwrap(),
        61,
    );
}

fn curl_downloads((ns, rt): (Netns, Runtime), net: u8) {
    if !can_run(&["curl"]) {
        return;
    }
    let www = temp_dir(&format!("www{net}"));
    let files = [
        ("empty.bin", 0usize),
        ("one-k.bin", 1024),
        ("ten-m.bin", 10 << 20),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        std::fs::write(www.path().join(name), content(*len, i as u32)).unwrap();
    }
    serve_http(&rt, www.path());
    let dl = temp_dir(&format!("dl{net}"));
    for (i, (name, len)) in files.iter().enumerate() {
        let out = dl.path().join(name);
        let t = Instant::now();
        ns.curl_to_file(&format!("http://10.20.{net}.2/{name}"), &out)
            .unwrap();
        let got = std::fs::read(&out).unwrap();
        assert_eq!(got.len(), *len, "{name}");
        assert!(got == content(*len, i as u32), "{name}: bytes differ");
        println!("{name}: {len} bytes in {:?}", t.elapsed());
    }
    // 404 for a missing file: curl --fail exits 22.
    let st = ns
        .command(&[
            "curl",
            "-s",
            "--fail",
            "-o",
            "/dev/null",
            &format!("http://10.20.{net}.2/nope"),
        ])
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(22));
}

#[test]
fn fifty_concurrent_curls() {
    if !can_run(&["curl"]) {
        return;
    }
    let (ns, rt) = setup("cc", 52);
    let www = temp_dir("www52");
    let body = content(64 * 1024, 52);
    std::fs::write(www.path().join("f.bin"), &body).unwrap();
    serve_http(&rt, www.path());
    let dl = temp_dir("dl52");
    let script = format!(
        "fail=0; for i in $(seq 1 50); do curl -sS --fail --max-time 60 -o {d}/$i http://10.20.52.2/f.bin & done; \
         for j in $(jobs -p); do wait $j || fail=1; done; exit $fail",
        d = dl.path().display()
    );
    ns.sh(&script).unwrap();
    for i in 1..=50 {
        let got = std::fs::read(dl.path().join(i.to_string())).unwrap();
        assert!(got == body, "download {i} differs");
    }
}

#[test]
fn strata_fetches_from_python_http_server() {
    if !can_run(&["python3"]) {
        return;
    }
    fetches_from_python(setup("py", 53), 53);
}

/// The same with the TAP's offloads on, whatever `STRATA_TAP_OFFLOAD`
/// says.
#[test]
fn strata_fetches_from_python_http_server_with_offloads() {
    if !can_run(&["python3"]) {
        return;
    }
    fetches_from_python(
        Netns::with_runtime_opts("pyo", 62, TapOptions::offload()).unwrap(),
        62,
    );
}

fn fetches_from_python((ns, rt): (Netns, Runtime), net: u8) {
    let www = temp_dir(&format!("www{net}"));
    let files = [("a.bin", 0usize), ("b.bin", 1024), ("c.bin", 3 << 20)];
    for (i, (name, len)) in files.iter().enumerate() {
        std::fs::write(www.path().join(name), content(*len, 100 + i as u32)).unwrap();
    }
    let kernel = Ipv4Addr::new(10, 20, net, 1);
    ns.serve_directory(kernel, 8000, www.path()).unwrap();
    for (i, (name, len)) in files.iter().enumerate() {
        let (status, body) = strata_get(&rt, kernel, 8000, &format!("/{name}"));
        assert_eq!(status, 200);
        assert_eq!(body.len(), *len);
        assert!(body == content(*len, 100 + i as u32), "{name} differs");
    }
}

const PY_ECHO_CLIENT: &str = r#"
import socket, sys
data = bytes((i * 31 + 7) % 256 for i in range(300000))
s = socket.create_connection(("10.20.54.2", 7), 5)
s.settimeout(10)
back = bytearray()
for off in range(0, len(data), 20000):
    s.sendall(data[off:off + 20000])
    want = min(off + 20000, len(data))
    while len(back) < want:
        chunk = s.recv(65536)
        if not chunk: sys.exit("early EOF")
        back += chunk
s.shutdown(socket.SHUT_WR)
assert s.recv(10) == b"", "no EOF after shutdown"
assert bytes(back) == data, "echo differs"
print("ok")
"#;

const PY_ECHO_SERVER: &str = r#"
import socket, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("10.20.55.1", 7007))
srv.listen(8)
def serve(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

#[test]
fn echo_both_ways() {
    if !can_run(&["python3"]) {
        return;
    }
    // Python (kernel TCP) client → strata echo server.
    let (ns, rt) = setup("e1", 54);
    let listener = TcpListener::bind(&rt.handle(), SocketAddr::from(([0, 0, 0, 0], 7))).unwrap();
    let t = std::thread::spawn(move || {
        let (s, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip().to_string(), "10.20.54.1");
        strata_io::echo::echo_stream(s).unwrap()
    });
    let out = ns.exec(&["python3", "-c", PY_ECHO_CLIENT]).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    assert_eq!(t.join().unwrap(), 300_000);
    drop((rt, ns));

    // strata client → Python echo server.
    let (ns, rt) = setup("e2", 55);
    ns.spawn(&["python3", "-c", PY_ECHO_SERVER]).unwrap();
    ns.wait_for_port("10.20.55.1:7007".parse().unwrap())
        .unwrap();
    let s = TcpStream::connect_timeout(
        &rt.handle(),
        SocketAddr::from(([10, 20, 55, 1], 7007)),
        Duration::from_secs(5),
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(
        s.peer_addr().unwrap(),
        SocketAddr::from(([10, 20, 55, 1], 7007))
    );
    assert_eq!(s.local_addr().unwrap().ip().to_string(), "10.20.55.2");
    let data = content(500_000, 55);
    let back = strata_io::echo::echo_roundtrip(&s, &data, 30_000).unwrap();
    assert!(back == data, "echo differs");
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    (&s).read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn refused_both_ways() {
    if !can_run(&["python3"]) {
        return;
    }
    let (ns, rt) = setup("rf", 56);
    // Kernel → strata closed port: strata answers RST, Python sees refusal.
    let out = ns
        .exec(&[
            "python3",
            "-c",
            "import socket\ntry:\n    socket.create_connection(('10.20.56.2', 81), 5)\n    print('connected')\nexcept ConnectionRefusedError:\n    print('refused')\nexcept OSError as e:\n    print('other', e)\n",
        ])
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "refused");
    // strata → kernel closed port: the kernel's RST is "connection refused".
    let t = Instant::now();
    let e = TcpStream::connect_timeout(
        &rt.handle(),
        SocketAddr::from(([10, 20, 56, 1], 81)),
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "refusal took {:?}",
        t.elapsed()
    );
}

/// The kernel's counters of namespace `ns` from `/proc/net/snmp` and
/// `/proc/net/netstat` ("Tcp:" and "TcpExt:" header/value line pairs), as
/// `"Tcp.RetransSegs"` → value.
fn kernel_counters(ns: &Netns) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for file in ["/proc/net/snmp", "/proc/net/netstat"] {
        let out = ns.exec(&["cat", file]).unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.chunks(2) {
            let [names, values] = pair else { continue };
            let (Some((prefix, names)), Some((_, values))) =
                (names.split_once(':'), values.split_once(':'))
            else {
                continue;
            };
            for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
                if let Ok(v) = v.parse() {
                    m.insert(format!("{prefix}.{n}"), v);
                }
            }
        }
    }
    m
}

fn delta(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>, key: &str) -> u64 {
    after.get(key).copied().unwrap_or(0) - before.get(key).copied().unwrap_or(0)
}

/// Byte-exact transfers both ways with loss and reordering on the kernel's
/// egress toward the TAP: `tc netem` where the kernel has it, otherwise an
/// iptables `statistic` DROP rule plus HTB with a slow class that a random
/// 10% of the packets are steered into (see `Netns::impair_egress`). The
/// test asserts that packets were really dropped, that segments really
/// arrived overtaken by later ones (seen by an `ArrivalProbe` on strata's
/// side of the TAP) and that the kernel retransmitted, so it cannot pass
/// without the impairment.
#[test]
fn transfers_survive_netem_loss_and_reordering() {
    if !can_run(&["python3", "tc", "curl"]) {
        return;
    }
    let started = Instant::now();
    let ns = Netns::new("nm").unwrap();
    let tap = "stnm";
    ns.add_tap(tap, "10.20.57.1/24").unwrap();
    let imp = match ns.impair_egress(tap, 0.03, 0.1) {
        Ok(imp) => imp,
        Err(reason) => {
            strata_io::testing::skip(&reason);
            return;
        }
    };
    let dev = ArrivalProbe::new(ns.open_tap(tap).unwrap().unwrap());
    let arrivals = dev.counters();
    let rt = Runtime::new(
        dev,
        RuntimeConfig::new("10.20.57.2/24".parse().unwrap()).address_known_unique(),
    )
    .unwrap();
    println!("impairment: {}", imp.describe());
    let www = temp_dir("www57");
    let body = content(3 << 20, 57);
    std::fs::write(www.path().join("f.bin"), &body).unwrap();

    // 1. strata fetch from the kernel: the data crosses the impaired egress.
    let kernel = Ipv4Addr::new(10, 20, 57, 1);
    ns.serve_directory(kernel, 8000, www.path()).unwrap();
    let (imp0, arr0, k0) = (
        imp.counters(&ns).unwrap(),
        arrivals.snapshot(),
        kernel_counters(&ns),
    );
    let t = Instant::now();
    let (status, got) = strata_get(&rt, kernel, 8000, "/f.bin");
    assert_eq!(status, 200);
    assert!(got == body, "fetch through the impaired egress differs");
    let (imp1, arr1, k1) = (
        imp.counters(&ns).unwrap(),
        arrivals.snapshot(),
        kernel_counters(&ns),
    );
    let (dropped, slowed) = (imp1.dropped - imp0.dropped, imp1.slowed - imp0.slowed);
    let (data, late_data) = (arr1.1 - arr0.1, arr1.3 - arr0.3);
    let kernel_retrans = delta(&k1, &k0, "Tcp.RetransSegs");
    println!(
        "fetch {} bytes in {:?}: {dropped} dropped, {slowed} slowed, {} overflowed; \
         {data} data segments in, {late_data} overtaken; kernel: {kernel_retrans} retransmitted, \
         {} SACK reorder, {} fast retransmits, {} timeouts",
        body.len(),
        t.elapsed(),
        imp1.overflowed - imp0.overflowed,
        delta(&k1, &k0, "TcpExt.TCPSACKReorder"),
        delta(&k1, &k0, "TcpExt.TCPFastRetrans"),
        delta(&k1, &k0, "TcpExt.TCPTimeouts"),
    );
    assert!(dropped > 0, "no packet was dropped");
    assert!(late_data > 0, "no data segment arrived out of order");
    assert!(kernel_retrans > 0, "the kernel never retransmitted");

    // 2. curl from strata: the kernel's ACKs cross the impaired egress.
    serve_http(&rt, www.path());
    let dl = temp_dir("dl57");
    let tcp0 = rt.with_stack(|st| st.tcp_stats().clone()).unwrap();
    let t = Instant::now();
    ns.curl_to_file("http://10.20.57.2/f.bin", &dl.path().join("f"))
        .unwrap();
    assert!(
        std::fs::read(dl.path().join("f")).unwrap() == body,
        "curl through the impaired egress differs"
    );
    let (imp2, arr2) = (imp.counters(&ns).unwrap(), arrivals.snapshot());
    let tcp1 = rt.with_stack(|st| st.tcp_stats().clone()).unwrap();
    let (dropped, slowed) = (imp2.dropped - imp1.dropped, imp2.slowed - imp1.slowed);
    let (segs, late) = (arr2.0 - arr1.0, arr2.2 - arr1.2);
    println!(
        "curl {} bytes in {:?}: {dropped} dropped, {slowed} slowed, {} overflowed; \
         {segs} segments (ACKs) in, {late} overtaken; strata: {} retransmitted, \
         {} fast retransmits",
        body.len(),
        t.elapsed(),
        imp2.overflowed - imp1.overflowed,
        tcp1.retransmits - tcp0.retransmits,
        tcp1.fast_retransmits - tcp0.fast_retransmits,
    );
    assert!(dropped > 0, "no ACK was dropped");
    assert!(late > 0, "no ACK arrived out of order");
    println!("total {:?}", started.elapsed());
}

#[test]
fn many_small_writes_and_half_close_with_kernel() {
    if !can_run(&["python3"]) {
        return;
    }
    let (ns, rt) = setup("hc", 58);
    let listener = TcpListener::bind(&rt.handle(), SocketAddr::from(([0, 0, 0, 0], 9000))).unwrap();
    let payload = Arc::new(content(100_000, 58));
    let p2 = payload.clone();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        for chunk in p2.chunks(1000) {
            s.write_all(chunk).unwrap();
        }
        s.shutdown(Shutdown::Write).unwrap();
        // The client sends its count back after our FIN.
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        reply
    });
    let out = ns
        .exec(&[
            "python3",
            "-c",
            "import socket\ns = socket.create_connection(('10.20.58.2', 9000), 5)\nb = bytearray()\nwhile True:\n    d = s.recv(65536)\n    if not d: break\n    b += d\ns.sendall(str(len(b)).encode())\ns.close()\nprint(len(b))\n",
        ])
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "100000");
    assert_eq!(t.join().unwrap(), "100000");
    let _ = payload;
}

/// The same byte-exact transfers with faults injected at strata's side of
/// the TAP (inbound loss + reordering, outbound loss): runs where the
/// kernel has no netem.
#[test]
fn transfers_survive_loss_and_reordering_at_the_tap() {
    if !can_run(&["python3", "curl"]) {
        return;
    }
    use std::sync::atomic::Ordering::Relaxed;
    let ns = Netns::new("fl").unwrap();
    ns.add_tap("stfl", "10.20.59.1/24").unwrap();
    let tap = ns.open_tap("stfl").unwrap().unwrap();
    let dev = strata_io::testing::FaultyDevice::new(tap, 59, 0.03, 0.1);
    let counters = dev.counters();
    let rt = Runtime::new(
        dev,
        RuntimeConfig::new("10.20.59.2/24".parse().unwrap()).address_known_unique(),
    )
    .unwrap();
    let www = temp_dir("www59");
    let body = content(2 << 20, 59);
    std::fs::write(www.path().join("f.bin"), &body).unwrap();
    // strata fetch from the kernel: data arrives lossy and out of order.
    let kernel = Ipv4Addr::new(10, 20, 59, 1);
    ns.serve_directory(kernel, 8000, www.path()).unwrap();
    let (status, got) = strata_get(&rt, kernel, 8000, "/f.bin");
    assert_eq!(status, 200);
    assert!(got == body, "lossy fetch differs");
    // curl from strata: strata's data segments are lost on the way out.
    serve_http(&rt, www.path());
    let dl = temp_dir("dl59");
    ns.curl_to_file("http://10.20.59.2/f.bin", &dl.path().join("f"))
        .unwrap();
    assert!(
        std::fs::read(dl.path().join("f")).unwrap() == body,
        "lossy curl differs"
    );
    let (din, dout, re) = (
        counters.dropped_in.load(Relaxed),
        counters.dropped_out.load(Relaxed),
        counters.reordered.load(Relaxed),
    );
    println!("faults: {din} in dropped, {dout} out dropped, {re} reordered");
    assert!(
        din > 10 && dout > 10 && re > 10,
        "faults too few to matter: {din} {dout} {re}"
    );
}
