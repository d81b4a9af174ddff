//! `strata serve`, `strata fetch` and `strata ping` as a user runs them:
//! the binary inside a network namespace this test creates (and removes),
//! the kernel's curl, ping and Python on the other side of the TAP.
//! Skipped with a printed reason without root, /dev/net/tun or the tools.

mod common;

use std::net::Ipv4Addr;
use std::process::{Command, Output};

use strata_io::testing::{can_run, Netns, TempDir};

const STRATA: &str = env!("CARGO_BIN_EXE_strata");

/// The arguments of `strata SUB` on TAP `tap` at `addr`, then `rest`,
/// with `--no-probe`: the test made the link and both its ends, so the
/// address is known to be free (RFC 5227 probing takes seconds).
fn tap_args<'a>(sub: &'a str, tap: &'a str, addr: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![sub, "--no-probe", "--tap", tap, "--addr", addr];
    a.extend_from_slice(rest);
    a
}

/// [`tap_args`] with the `strata` binary first (a command line).
fn strata_on_tap<'a>(sub: &'a str, tap: &'a str, addr: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![STRATA];
    a.extend(tap_args(sub, tap, addr, rest));
    a
}

/// Runs [`strata_on_tap`] inside `ns` to its end: what it did.
fn run_on_tap(ns: &Netns, sub: &str, tap: &str, addr: &str, rest: &[&str]) -> Output {
    ns.command(&strata_on_tap(sub, tap, addr, rest))
        .output()
        .unwrap()
}

fn temp_dir(tag: &str) -> TempDir {
    TempDir::new(&format!("cli-{tag}")).unwrap()
}

#[test]
fn bad_address_is_one_clear_error() {
    // No TAP is touched: argument checking comes first.
    let out = Command::new(STRATA)
        .args(tap_args(
            "ping",
            "nosuchtap0",
            "10.20.0.300/24",
            &["10.20.0.1"],
        ))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("10.20.0.300/24"), "{err}");
    let out = Command::new(STRATA)
        .args(tap_args(
            "ping",
            "nosuchtap0",
            "10.20.0.255/24",
            &["10.20.0.1"],
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("bad address 10.20.0.255/24"), "{err}");
}

#[test]
fn a_down_tap_is_brought_up_and_a_missing_one_is_not_made() {
    if !can_run(&[]) {
        return;
    }
    let ns = Netns::new("clidown").unwrap();
    // A TAP the user made but forgot to bring up.
    ns.exec(&["ip", "tuntap", "add", "dev", "stclid", "mode", "tap"])
        .unwrap();
    let is_up = |dev: &str| {
        let o = ns.exec(&["ip", "-o", "link", "show", dev]).unwrap();
        let s = String::from_utf8_lossy(&o.stdout).into_owned();
        s.contains("<") && s.split('>').next().unwrap_or("").contains(",UP")
    };
    assert!(!is_up("stclid"));
    let ping = |tap: &str, extra: &[&str]| {
        let mut args = strata_on_tap("ping", tap, "10.20.70.2/24", &[]);
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-c", "1", "-W", "0.2", "10.20.70.1"]);
        ns.command(&args).output().unwrap()
    };
    let out = ping("stclid", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("strata ping: stclid was down; brought it up"),
        "{err}"
    );
    assert!(is_up("stclid"), "the interface stays up after strata exits");
    // A typo: refused up front, status 2, and no interface appears.
    let out = ping("stclidx", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("there is no interface 'stclidx'"), "{err}");
    let show = ns
        .command(&["ip", "link", "show", "stclidx"])
        .output()
        .unwrap();
    assert!(!show.status.success(), "no interface was created");
    // With --create it is made (and up) for the run.
    let out = ping("stclidy", &["--create"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "no reply, but it ran: {err}");
    assert!(err.contains("created TAP stclidy"), "{err}");
}

#[test]
fn missing_permission_is_one_clear_error() {
    if !can_run(&["setpriv"]) {
        return;
    }
    // As an unprivileged user, /dev/net/tun cannot be used. The binary is
    // copied where that user may run it (the build tree may be private).
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("priv");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("strata");
    std::fs::copy(STRATA, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A child forked by a concurrent test may briefly hold the copy open for
    // writing (exec then fails with ETXTBSY): retry a few times.
    let mut out = None;
    for _ in 0..20 {
        let o = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(tap_args(
                "ping",
                "stpriv0",
                "10.20.0.2/24",
                &["--create", "10.20.0.1"],
            ))
            .output()
            .unwrap();
        if !String::from_utf8_lossy(&o.stderr).contains("Text file busy") {
            out = Some(o);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = out.expect("binary copy stayed busy");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("permission denied") && err.contains("CAP_NET_ADMIN"),
        "{err}"
    );
}

#[test]
fn ping_both_ways_from_the_cli() {
    if !can_run(&["ping"]) {
        return;
    }
    let ns = Netns::new("cliping").unwrap();
    ns.add_tap("stclip", "10.20.60.1/24").unwrap();
    let out = run_on_tap(
        &ns,
        "ping",
        "stclip",
        "10.20.60.3/24",
        &["-c", "2", "-i", "0.1", "10.20.60.1"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("2 packets transmitted, 2 received"), "{text}");
    assert!(
        text.contains("64 bytes from 10.20.60.1: icmp_seq=1 ttl=64"),
        "{text}"
    );
    // Nobody at .9: no reply, exit 1 with one error line.
    let out = run_on_tap(
        &ns,
        "ping",
        "stclip",
        "10.20.60.3/24",
        &["-c", "1", "-W", "0.3", "10.20.60.9"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "strata ping: no reply from 10.20.60.9"
    );
}

#[test]
fn serve_and_fetch_against_the_kernel() {
    if !can_run(&["curl", "python3", "ping"]) {
        return;
    }
    let ns = Netns::new("cli").unwrap();
    ns.add_tap("stcli", "10.20.61.1/24").unwrap();
    // A TAP takes one program at a time: fetch gets its own link.
    ns.add_tap("stcli2", "10.20.63.1/24").unwrap();

    // strata serve --http; curl and kernel ping against it.
    let www = temp_dir("www");
    let body: Vec<u8> = (0..200_000u32).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(www.path().join("data.bin"), &body).unwrap();
    std::fs::write(www.path().join("index.html"), b"<h1>strata</h1>").unwrap();
    ns.spawn(&strata_on_tap(
        "serve",
        "stcli",
        "10.20.61.2/24",
        &["--http", www.path().to_str().unwrap(), "--port", "8080"],
    ))
    .unwrap();
    ns.wait_for_port("10.20.61.2:8080".parse().unwrap())
        .unwrap();
    let dl = temp_dir("dl");
    let out_file = dl.path().join("data.bin");
    ns.curl_to_file("http://10.20.61.2:8080/data.bin", &out_file)
        .unwrap();
    assert!(std::fs::read(&out_file).unwrap() == body);
    let out = ns
        .exec(&["curl", "-sS", "-i", "http://10.20.61.2:8080/"])
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("HTTP/1.1 200 OK")
            && text.contains("text/html")
            && text.ends_with("<h1>strata</h1>"),
        "{text}"
    );
    ns.exec(&["ping", "-c", "1", "-W", "2", "10.20.61.2"])
        .unwrap();

    // strata fetch ← python http.server on the kernel side.
    ns.serve_directory(Ipv4Addr::new(10, 20, 63, 1), 8000, www.path())
        .unwrap();
    let fetched = dl.path().join("fetched.bin");
    let out = run_on_tap(
        &ns,
        "fetch",
        "stcli2",
        "10.20.63.4/24",
        &[
            "-o",
            fetched.to_str().unwrap(),
            "http://10.20.63.1:8000/data.bin",
        ],
    );
    common::assert_ok(&out);
    assert!(std::fs::read(&fetched).unwrap() == body);
}

#[test]
fn refused_connection_is_one_clear_error() {
    if !can_run(&[]) {
        return;
    }
    let ns = Netns::new("clirf").unwrap();
    ns.add_tap("stclirf", "10.20.62.1/24").unwrap();
    let out = run_on_tap(
        &ns,
        "fetch",
        "stclirf",
        "10.20.62.2/24",
        &["http://10.20.62.1:81/"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("connection refused"), "{err}");
}

const PY_ECHO_TCP_UDP: &str = r#"
import socket
data = bytes(range(256)) * 400
s = socket.create_connection(("10.20.64.2", 7), 5)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
back = bytearray()
while True:
    d = s.recv(65536)
    if not d: break
    back += d
assert bytes(back) == data, len(back)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(3)
u.sendto(b"udp hello", ("10.20.64.2", 7))
assert u.recvfrom(100)[0] == b"udp hello"
print("ok")
"#;

#[test]
fn serve_echo_answers_tcp_and_udp() {
    if !can_run(&["python3"]) {
        return;
    }
    let ns = Netns::new("cliecho").unwrap();
    ns.add_tap("stclie", "10.20.64.1/24").unwrap();
    ns.spawn(&strata_on_tap(
        "serve",
        "stclie",
        "10.20.64.2/24",
        &["--echo"],
    ))
    .unwrap();
    ns.wait_for_port("10.20.64.2:7".parse().unwrap()).unwrap();
    let out = ns.exec(&["python3", "-c", PY_ECHO_TCP_UDP]).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn fetch_behaves_like_curl() {
    if !can_run(&["python3"]) {
        return;
    }
    let ns = Netns::new("clicurl").unwrap();
    ns.add_tap("stclic", "10.20.66.1/24").unwrap();
    let www = temp_dir("curlwww");
    std::fs::create_dir_all(www.path().join("sub")).unwrap();
    std::fs::write(www.path().join("sub/page.html"), b"<p>inside</p>").unwrap();
    std::fs::write(www.path().join("file.txt"), b"hello curl\n").unwrap();
    ns.serve_directory(Ipv4Addr::new(10, 20, 66, 1), 8000, www.path())
        .unwrap();
    let dl = temp_dir("curldl");
    let fetch = |extra: &[&str], url: &str| {
        let mut args = strata_on_tap("fetch", "stclic", "10.20.66.2/24", &[]);
        args.extend_from_slice(extra);
        args.push(url);
        let mut c = ns.command(&args);
        c.current_dir(dl.path());
        c.output().unwrap()
    };
    // python redirects /sub to /sub/; -L follows it to the listing.
    let out = fetch(&["-L"], "http://10.20.66.1:8000/sub");
    let body = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("301") && err.contains("200 OK"), "{err}");
    assert!(body.contains("page.html"), "{body}");
    // Without -L the redirect itself is the answer (curl: status 0).
    let out = fetch(&[], "http://10.20.66.1:8000/sub");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("strata fetch: 301"));
    // -f on a 404: status 1, one line, and no file is left behind.
    let missing = dl.path().join("missing.html");
    let out = fetch(
        &["-f", "-o", missing.to_str().unwrap()],
        "http://10.20.66.1:8000/nothing-here",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("404"), "{err}");
    assert!(!missing.exists(), "-f must not write the error page");
    assert!(!dl.path().join("missing.html.part").exists());
    // -O names the file after the URL.
    let out = fetch(&["-O", "-s"], "http://10.20.66.1:8000/file.txt");
    common::assert_ok(&out);
    assert!(out.stderr.is_empty(), "-s is silent");
    assert_eq!(
        std::fs::read(dl.path().join("file.txt")).unwrap(),
        b"hello curl\n"
    );
}

#[test]
fn ping_prints_statistics_on_ctrl_c() {
    if !can_run(&["ping"]) {
        return;
    }
    let ns = Netns::new("cliint").unwrap();
    ns.add_tap("stclii", "10.20.67.1/24").unwrap();
    let mut child = ns
        .command(&strata_on_tap(
            "ping",
            "stclii",
            "10.20.67.2/24",
            &["-c", "1000", "-i", "0.1", "10.20.67.1"],
        ))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: kill(2) on the child we started and still own.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > std::time::Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ping did not stop on SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(status.success(), "{text}");
    assert!(
        text.contains("--- 10.20.67.1 ping statistics ---"),
        "{text}"
    );
    assert!(text.contains("rtt min/avg/max/mdev = "), "{text}");
    let sent: u32 = text
        .split(" packets transmitted")
        .next()
        .and_then(|s| s.rsplit('\n').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    assert!((3..1000).contains(&sent), "stopped early: {text}");
}

/// Packets counted by the namespace's iptables rule with this comment.
fn iptables_count(ns: &Netns, comment: &str) -> u64 {
    let out = ns
        .exec(&["iptables", "-L", "INPUT", "-v", "-x", "-n"])
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.contains(comment))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no rule {comment} in:\n{text}"))
}

#[test]
fn repeated_fetches_against_the_kernel_send_one_syn_each() {
    // Issue 15: with every secret keyed from the address, each run of
    // `strata fetch` picked the same source port, ISN and TSval; the
    // kernel's TIME-WAIT of the previous run (python closes first) then
    // answered the new SYN, strata reset, and the SYN went again a second
    // later. With secrets from getrandom each run is a new 4-tuple.
    if !can_run(&["python3", "iptables"]) {
        return;
    }
    let ns = Netns::new("clirep").unwrap();
    ns.add_tap("stclir", "10.20.67.1/24").unwrap();
    let www = temp_dir("repwww");
    std::fs::write(www.path().join("f.txt"), b"again\n").unwrap();
    ns.serve_directory(Ipv4Addr::new(10, 20, 67, 1), 8000, www.path())
        .unwrap();
    ns.exec(&[
        "iptables",
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--syn",
        "--dport",
        "8000",
        "-s",
        "10.20.67.2",
        "-m",
        "comment",
        "--comment",
        "strata-syns",
    ])
    .unwrap();
    let runs = 4;
    for i in 0..runs {
        let out = run_on_tap(
            &ns,
            "fetch",
            "stclir",
            "10.20.67.2/24",
            &["http://10.20.67.1:8000/f.txt"],
        );
        assert!(
            out.status.success(),
            "run {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"again\n");
        println!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let syns = iptables_count(&ns, "strata-syns");
    println!("{runs} fetches, {syns} SYNs seen by the kernel");
    assert_eq!(syns, runs, "a SYN was retransmitted");
}

/// A `strata serve --http` process with its standard output read line by
/// line on a thread; killed (and reaped) when dropped.
struct HttpServer {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl HttpServer {
    fn start(ns: &Netns, tap: &str, addr: &str, root: &std::path::Path, extra: &[&str]) -> Self {
        use std::io::BufRead as _;
        let mut args = strata_on_tap(
            "serve",
            tap,
            addr,
            &["--http", root.to_str().unwrap(), "--port", "8080"],
        );
        args.extend_from_slice(extra);
        let mut child = ns
            .command(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        HttpServer { child, lines }
    }

    /// The next `n` lines of its output (fewer if it stays silent for 5 s).
    fn lines(&self, n: usize) -> Vec<String> {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut got = Vec::new();
        while got.len() < n {
            let left = end.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => got.push(l),
                Err(_) => break,
            }
        }
        got
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_logs_redirects_ranges_and_keeps_connections() {
    if !can_run(&["curl"]) {
        return;
    }
    let ns = Netns::new("clihttp").unwrap();
    ns.add_tap("stclih", "10.20.68.1/24").unwrap();
    let www = temp_dir("httpwww");
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(www.path().join("data.bin"), &data).unwrap();
    std::fs::create_dir_all(www.path().join("sub")).unwrap();
    std::fs::write(www.path().join("sub/page.html"), b"<p>inside</p>").unwrap();
    let server = HttpServer::start(&ns, "stclih", "10.20.68.2/24", www.path(), &[]);
    let banner = server.lines(1);
    assert!(
        banner.len() == 1 && banner[0].starts_with("strata serve: http://10.20.68.2:8080/"),
        "{banner:?}"
    );
    ns.wait_for_port("10.20.68.2:8080".parse().unwrap())
        .unwrap();
    let curl = |args: &[&str]| {
        let mut a = vec!["curl", "-sS", "--max-time", "20"];
        a.extend_from_slice(args);
        let out = ns.exec(&a).unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let base = "http://10.20.68.2:8080";

    // A directory without its slash is redirected, so relative links work.
    let out = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        &format!("{base}/sub"),
    ]);
    assert_eq!(out, format!("301 {base}/sub/"));
    let out = curl(&["-L", &format!("{base}/sub")]);
    assert!(out.contains("<a href=\"page.html\">page.html</a>"), "{out}");

    // One byte range: 206 and exactly those bytes.
    let dl = temp_dir("httpdl");
    let part = dl.path().join("part.bin");
    let out = curl(&[
        "-r",
        "100-199",
        "-o",
        part.to_str().unwrap(),
        "-w",
        "%{http_code}",
        &format!("{base}/data.bin"),
    ]);
    assert_eq!(out, "206");
    assert!(std::fs::read(&part).unwrap() == data[100..200]);

    // HEAD: the length GET would send, no body.
    let out = curl(&["-I", &format!("{base}/data.bin")]).to_ascii_lowercase();
    assert!(
        out.starts_with("http/1.1 200 ok") && out.contains("content-length: 5000\r\n"),
        "{out}"
    );

    // Keep-alive: two URLs in one curl run share one connection.
    let out = curl(&[
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        "%{num_connects} ",
        &format!("{base}/data.bin"),
        &format!("{base}/sub/page.html"),
    ]);
    assert_eq!(out, "1 0 ", "the second request opened a new connection");

    let out = curl(&[
        "-X",
        "POST",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{base}/data.bin"),
    ]);
    assert_eq!(out, "405");

    // One access log line per request: client, time, request, status, bytes, duration.
    let log = server.lines(8);
    let expect = [
        "\"GET /sub HTTP/1.1\" 301 ",
        "\"GET /sub HTTP/1.1\" 301 ",
        "\"GET /sub/ HTTP/1.1\" 200 ",
        "\"GET /data.bin HTTP/1.1\" 206 100 ",
        "\"HEAD /data.bin HTTP/1.1\" 200 0 ",
        "\"GET /data.bin HTTP/1.1\" 200 5000 ",
        "\"GET /sub/page.html HTTP/1.1\" 200 13 ",
        "\"POST /data.bin HTTP/1.1\" 405 ",
    ];
    assert_eq!(log.len(), expect.len(), "{log:#?}");
    for (line, want) in log.iter().zip(expect) {
        assert!(
            line.starts_with("10.20.68.1 - - [") && line.contains(want) && line.ends_with("ms"),
            "{line:?} should hold {want:?}"
        );
    }
    drop(server);

    // --quiet: the banner, and no line per request.
    let server = HttpServer::start(&ns, "stclih", "10.20.68.2/24", www.path(), &["--quiet"]);
    assert_eq!(server.lines(1).len(), 1);
    ns.wait_for_port("10.20.68.2:8080".parse().unwrap())
        .unwrap();
    assert_eq!(
        curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{base}/data.bin")
        ]),
        "200"
    );
    let more = server.lines(1);
    assert!(more.is_empty(), "--quiet still logged {more:?}");
}

/// A kernel-side HTTP/1.1 server that sends its body in chunks (RFC 9112
/// §7.1), as python's http.server does not.
const PY_CHUNKED: &str = r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200, "Fine Thanks")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        for i in range(50):
            piece = bytes([i]) * (1000 + i)
            self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("10.20.69.1", 8000), H).serve_forever()
"#;

#[test]
fn fetch_reads_chunked_bodies_and_the_servers_reason_phrase() {
    if !can_run(&["python3"]) {
        return;
    }
    let ns = Netns::new("clichunk").unwrap();
    ns.add_tap("stclik", "10.20.69.1/24").unwrap();
    ns.spawn(&["python3", "-c", PY_CHUNKED]).unwrap();
    ns.wait_for_port("10.20.69.1:8000".parse().unwrap())
        .unwrap();
    let dl = temp_dir("chunkdl");
    let file = dl.path().join("chunked.bin");
    let out = run_on_tap(
        &ns,
        "fetch",
        "stclik",
        "10.20.69.2/24",
        &[
            "-o",
            file.to_str().unwrap(),
            "http://10.20.69.1:8000/anything",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let want: Vec<u8> = (0..50u8)
        .flat_map(|i| std::iter::repeat_n(i, 1000 + usize::from(i)))
        .collect();
    assert!(std::fs::read(&file).unwrap() == want);
    assert!(
        err.contains(&format!("200 Fine Thanks — {} bytes", want.len())),
        "{err}"
    );
}

/// The kernel-side client of `serve_http_defences_cut_off_slow_idle_oversized_and_excess_clients`:
/// one line per check, `name value`.
const PY_HTTP_DEFENCES: &str = r#"
import socket, sys, time
A = ("10.20.69.2", 8080)
def conn(rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(15)
    s.connect(A)
    return s
def closed_after(s, limit):
    # Seconds until the server closes (EOF or reset), or -1.
    t0 = time.time()
    s.settimeout(limit)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return time.time() - t0
    except (ConnectionResetError, BrokenPipeError):
        return time.time() - t0
    except socket.timeout:
        return -1
# 1. The connection cap (2): a third connection is closed at once.
a, b = conn(), conn()
time.sleep(0.3)
c = conn()
print("cap_third_closed", closed_after(c, 0.9))
a.close(); b.close(); c.close()
time.sleep(0.5)
# 2. A request head sent a line at a time is cut off by the header timeout (1 s).
s = conn()
s.sendall(b"GET / HTTP/1.1\r\n")
t0 = time.time()
try:
    for i in range(20):
        time.sleep(0.25)
        s.sendall(b"X-a: b\r\n")
except (BrokenPipeError, ConnectionResetError):
    pass
print("slow_head_closed", closed_after(s, 8) + (time.time() - t0))
s.close()
# 3. An oversized head (cap 8k): 431.
s = conn()
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-big: " + b"a" * 12000 + b"\r\n\r\n")
print("big_head", s.recv(100).split(b" ")[1].decode())
s.close()
# 4. A body above the cap: 413.
s = conn()
s.sendall(b"POST /big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
print("big_body", s.recv(100).split(b" ")[1].decode())
s.close()
# 5. A client that asks for a large file and never reads (its window
#    shuts): the idle timeout (2 s) ends the connection.
s = conn(rcvbuf=4096)
s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(7)
got = 0
s.settimeout(10)
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += len(d)
except (ConnectionResetError, socket.timeout):
    pass
print("stalled_reader_got", got)
sys.stdout.flush()
"#;

/// `serve --http`'s defences, as the kernel's clients meet them: the
/// connection cap, the header-read timeout, the request-size cap (head and
/// body) and the idle timeout against a client that stops reading.
#[test]
fn serve_http_defences_cut_off_slow_idle_oversized_and_excess_clients() {
    if !can_run(&["python3"]) {
        return;
    }
    let ns = Netns::new("clidef").unwrap();
    ns.add_tap("stclid", "10.20.69.1/24").unwrap();
    let www = temp_dir("httpdef");
    std::fs::write(www.path().join("big.bin"), vec![b'z'; 8 << 20]).unwrap();
    std::fs::write(www.path().join("index.html"), b"hi").unwrap();
    let server = HttpServer::start(
        &ns,
        "stclid",
        "10.20.69.2/24",
        www.path(),
        &[
            "--quiet",
            "--header-timeout",
            "1s",
            "--idle-timeout",
            "2s",
            "--max-conns",
            "2",
            "--max-request",
            "8k",
        ],
    );
    assert_eq!(server.lines(1).len(), 1, "no banner");
    ns.wait_for_port("10.20.69.2:8080".parse().unwrap())
        .unwrap();
    // wait_for_port's probe connection may hold a slot for a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = ns.exec(&["python3", "-c", PY_HTTP_DEFENCES]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    let value = |name: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    };
    let third: f64 = value("cap_third_closed").parse().unwrap();
    assert!((0.0..0.9).contains(&third), "third connection kept: {text}");
    let slow: f64 = value("slow_head_closed").parse().unwrap();
    assert!((0.5..6.0).contains(&slow), "slow head not cut off: {text}");
    assert_eq!(value("big_head"), "431", "{text}");
    assert_eq!(value("big_body"), "413", "{text}");
    let got: usize = value("stalled_reader_got").parse().unwrap();
    assert!(
        got < 8 << 20,
        "the stalled reader got the whole file: {text}"
    );
}
