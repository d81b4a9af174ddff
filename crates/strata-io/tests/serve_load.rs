//! Keep-alive request/response between the Linux kernel's TCP (the client,
//! which delays its ACKs by 40 ms as Linux does) and a strata server over a
//! TAP, inside a namespace this test creates and removes: no response may
//! wait for the client's delayed ACK (Minshall's Nagle, cork, vectored
//! writes). Skipped with a printed reason without root or /dev/net/tun.

use std::io::{IoSlice, Read, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use strata_io::tcp::{TcpListener, TcpStream};
use strata_io::testing::{skip_unless_root_and_tun, Netns};

/// How the server writes a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// Header and body in one `write_all`.
    Whole,
    /// `write_vectored` of header and body.
    Vectored,
    /// Corked: header, body, uncork.
    Cork,
}

fn head(n: usize) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: keep-alive\r\n\r\n")
}

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Answers `GET /N` with N bytes, written as `how` says, until EOF.
fn serve(mut s: TcpStream, how: How) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") else {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            req.extend_from_slice(&buf[..n]);
            continue;
        };
        let line = String::from_utf8_lossy(&req[..end]).into_owned();
        req.drain(..end + 4);
        let n: usize = line
            .strip_prefix("GET /")
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("GET /N");
        let (h, b) = (head(n), body(n));
        match how {
            How::Whole => {
                let mut all = h.into_bytes();
                all.extend_from_slice(&b);
                s.write_all(&all)?;
            }
            How::Vectored => {
                let mut bufs = [IoSlice::new(h.as_bytes()), IoSlice::new(&b)];
                let mut bufs = &mut bufs[..];
                IoSlice::advance_slices(&mut bufs, 0);
                while !bufs.is_empty() {
                    let k = s.write_vectored(bufs)?;
                    IoSlice::advance_slices(&mut bufs, k);
                }
            }
            How::Cork => {
                s.set_cork(true)?;
                s.write_all(h.as_bytes())?;
                s.write_all(&b)?;
                s.set_cork(false)?;
            }
        }
    }
}

/// Per size, the median time of `reps` exchanges on one kernel connection.
fn medians(
    ns: &Netns,
    to: SocketAddrV4,
    sizes: &'static [(usize, usize)],
) -> Vec<(usize, Duration)> {
    ns.run_inside(move || {
        let mut c =
            std::net::TcpStream::connect_timeout(&SocketAddr::V4(to), Duration::from_secs(5))
                .expect("kernel connects to strata");
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut out = Vec::new();
        for &(n, reps) in sizes {
            let want = head(n).len() + n;
            let mut times = Vec::new();
            let mut resp = vec![0u8; want];
            for _ in 0..reps {
                let t = Instant::now();
                c.write_all(format!("GET /{n} HTTP/1.1\r\nHost: s\r\n\r\n").as_bytes())
                    .unwrap();
                c.read_exact(&mut resp).expect("whole response");
                times.push(t.elapsed());
                assert_eq!(&resp[..want - n], head(n).as_bytes());
                assert!(resp[want - n..] == body(n)[..], "body of {n} bytes intact");
            }
            times.sort();
            out.push((n, times[times.len() / 2]));
        }
        out
    })
    .unwrap()
}

/// Body sizes and repetitions: around one and two segments, 10 KiB (the
/// size of the measurements), more than the send buffer.
const SIZES: &[(usize, usize)] = &[
    (1, 9),
    (1000, 9),
    (1461, 9),
    (2921, 9),
    (4000, 9),
    (10 * 1024, 15),
    (65536 + 7, 9),
    (300_001, 5),
    (1 << 20, 5),
];

fn no_stall(how: How, tag: &str, net: u8) {
    if !skip_unless_root_and_tun() {
        return;
    }
    let (ns, rt) = Netns::with_runtime(tag, net).unwrap();
    let h = rt.handle();
    let listener = TcpListener::bind(&h, SocketAddr::from(([0, 0, 0, 0], 8080))).unwrap();
    let server = std::thread::spawn(move || {
        // First a baseline with Nagle off (nothing can wait for an ACK),
        // then the same exchanges with Nagle on.
        let (s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        serve(s, how)?;
        let (s, _) = listener.accept()?;
        serve(s, how)
    });
    let to = SocketAddrV4::new([10, 20, net, 2].into(), 8080);
    let base = medians(&ns, to, SIZES);
    let got = medians(&ns, to, SIZES);
    server.join().unwrap().unwrap();
    eprintln!("{how:?}: median per size, Nagle off {base:?}, on {got:?}");
    // A stall is the client's 40 ms delayed ACK: a median that far above
    // the baseline means most exchanges of that size waited for it (a
    // loaded machine delays single exchanges, not the median of many; a
    // large transfer's time varies with the load by itself, hence twice
    // the baseline).
    for ((n, b), (_, t)) in base.iter().zip(&got) {
        assert!(
            *t < *b * 2 + Duration::from_millis(25),
            "{how:?}: {n}-byte responses take {t:?} (median), {b:?} with Nagle off: \
             delayed-ACK stalls; {got:?}"
        );
    }
    drop(rt);
}

#[test]
fn kernel_client_keep_alive_one_write() {
    no_stall(How::Whole, "kaw", 61);
}

#[test]
fn kernel_client_keep_alive_vectored() {
    no_stall(How::Vectored, "kav", 62);
}

#[test]
fn kernel_client_keep_alive_corked() {
    no_stall(How::Cork, "kac", 63);
}

/// `n` kernel clients connect at the same moment (a barrier releases
/// them) to a strata listener with the default backlog (4096, as Linux's
/// `somaxconn`); returns the kernel's SYN retransmissions meanwhile.
fn burst(ns: &Netns, to: SocketAddrV4, n: usize) -> u64 {
    let before = syn_retrans(ns);
    ns.run_inside(move || {
        let go = std::sync::Arc::new(std::sync::Barrier::new(n));
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let go = go.clone();
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        go.wait();
                        std::net::TcpStream::connect_timeout(
                            &SocketAddr::V4(to),
                            Duration::from_secs(20),
                        )
                    })
                    .expect("thread")
            })
            .collect();
        // Held until every one has connected: n at once.
        let conns: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().unwrap().expect("kernel connects to strata"))
            .collect();
        assert_eq!(conns.len(), n);
    })
    .unwrap();
    syn_retrans(ns) - before
}

/// The namespace's count of SYN retransmissions (`nstat`, iproute2).
fn syn_retrans(ns: &Netns) -> u64 {
    let out = ns
        .exec(&["nstat", "-az", "TcpExtTCPSynRetrans"])
        .expect("nstat runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("TcpExtTCPSynRetrans"))
                .then(|| w.next().and_then(|v| v.parse().ok()))
                .flatten()
        })
        .unwrap_or(0)
}

#[test]
fn bursts_of_500_and_1000_kernel_clients_need_no_syn_retransmission() {
    if !skip_unless_root_and_tun() {
        return;
    }
    // The TAP keeps the kernel's default queue (1000 frames, shared by the
    // SYNs, the handshakes' ACKs and the requests); opening it raises that
    // to TAP_TX_QUEUE_LEN, room for a burst.
    let (ns, rt) = Netns::with_runtime("kab", 64).unwrap();
    let qlen = ns
        .exec(&["cat", "/sys/class/net/stkab/tx_queue_len"])
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&qlen.stdout).trim(),
        strata_io::tap::TAP_TX_QUEUE_LEN.to_string()
    );
    let h = rt.handle();
    let listener = TcpListener::bind(&h, SocketAddr::from(([0, 0, 0, 0], 8080))).unwrap();
    let total = 1 + 500 + 1000;
    let acceptor = std::thread::spawn(move || {
        let mut held = Vec::new();
        while held.len() < total {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(e) => return Err(e),
            }
        }
        Ok(held.len())
    });
    let to = SocketAddrV4::new([10, 20, 64, 2].into(), 8080);
    // The neighbour is known first (a first contact would queue SYN-ACKs
    // behind ARP, 16 packets per neighbour).
    assert_eq!(burst(&ns, to, 1), 0);
    let mut retrans = Vec::new();
    for n in [500, 1000] {
        retrans.push((n, burst(&ns, to, n)));
    }
    assert_eq!(acceptor.join().unwrap().unwrap(), total);
    let stats = rt.with_stack(|s| s.tcp_stats().clone()).unwrap();
    eprintln!(
        "SYN retransmissions per burst {retrans:?}; device drops {}",
        rt.tx_dropped()
    );
    let kernel_drops: u64 = String::from_utf8_lossy(
        &ns.exec(&["cat", "/sys/class/net/stkab/statistics/tx_dropped"])
            .unwrap()
            .stdout,
    )
    .trim()
    .parse()
    .unwrap();
    eprintln!("frames the kernel dropped at the TAP's queue: {kernel_drops}");
    // Nothing on strata's side dropped a SYN or a handshake's ACK ...
    assert_eq!(stats.listen_overflows, 0, "{stats:?}");
    assert_eq!(stats.syn_queue_drops, 0, "{stats:?}");
    assert_eq!(stats.accept_queue_ack_drops, 0, "{stats:?}");
    assert_eq!(rt.tx_dropped(), 0);
    // ... the kernel dropped none toward strata (with its default queue of
    // 1000 frames it dropped 846 and 1255 in two runs, the bursts' FINs) ...
    assert_eq!(kernel_drops, 0, "frames dropped at the TAP's queue");
    // ... so the kernel had nothing to retransmit.
    for (n, r) in retrans {
        assert_eq!(r, 0, "{n} clients: {r} SYN retransmissions");
    }
}
