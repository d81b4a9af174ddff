//! FTP over TAP against real clients and a real server, in a namespace the
//! test creates: curl (passive EPSV and PASV, active EPRT and PORT, upload)
//! and Python's ftplib list and fetch from strata's FTP server; strata's
//! client fetches from pyftpdlib (Debian's python3-pyftpdlib) in passive,
//! extended passive and active mode. Skips with a printed reason without
//! root, /dev/net/tun, curl, python3 or pyftpdlib; fails instead under
//! STRATA_REQUIRE_ALL.

use std::net::SocketAddrV4;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::app::ftp::client::{Client, ClientEvent, Mode, Request, Response};
use strata::app::ftp::fs::Fs;
use strata::app::ftp::server::ServerConfig;
use strata::wire::Ipv4Addr;
use strata_io::ftp::{run_client, serve_ftp};
use strata_io::testing::{can_run, skip, Netns, TempDir};

const README: &str = "Welcome to strata's FTP server.\nSecond line.\n";

fn big() -> Vec<u8> {
    (0..300_000u32).map(|i| (i * 13 % 251) as u8).collect()
}

fn tree() -> Arc<Mutex<Fs>> {
    let mut fs = Fs::new();
    fs.add_file("/pub/readme.txt", README);
    fs.add_file("/pub/big.bin", big());
    fs.add_dir("/incoming");
    Arc::new(Mutex::new(fs))
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn curl_and_ftplib_use_strata_ftp_server() {
    if !can_run(&["curl", "python3"]) {
        return;
    }
    let (ns, rt) = Netns::with_runtime("ftp", 79).unwrap();
    let fs = tree();
    let svc = serve_ftp(
        &rt.handle(),
        21,
        fs.clone(),
        ServerConfig {
            writable: true,
            ..ServerConfig::default()
        },
    )
    .unwrap();
    let dir = TempDir::new("ftp-curl").unwrap();
    let curl = |args: &[&str]| {
        let mut a = vec!["curl", "-sS", "--fail", "--max-time", "30"];
        a.extend_from_slice(args);
        ns.exec(&a).unwrap()
    };
    // Passive: EPSV (curl's first choice), then PASV.
    assert_eq!(text(&curl(&["ftp://10.20.79.2/pub/readme.txt"])), README);
    assert_eq!(
        text(&curl(&[
            "--disable-epsv",
            "ftp://10.20.79.2/pub/readme.txt"
        ])),
        README
    );
    // A listing (LIST) and names only (NLST).
    // (curl turns the ASCII type's CRLF into LF.)
    let list = text(&curl(&["ftp://10.20.79.2/pub/"]));
    let lines: Vec<&str> = list.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert_eq!(
        lines,
        vec![
            "-rw-r--r-- 1 ftp ftp       300000 Jan 01  2026 big.bin",
            "-rw-r--r-- 1 ftp ftp           45 Jan 01  2026 readme.txt"
        ]
    );
    let names = text(&curl(&["--list-only", "ftp://10.20.79.2/pub/"]));
    assert_eq!(
        names
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .collect::<Vec<_>>(),
        vec!["big.bin", "readme.txt"]
    );
    // Active: EPRT (curl's first choice), then PORT; binary, byte for byte.
    for extra in [&[][..], &["--disable-eprt"][..]] {
        let out = dir.path().join("big.bin");
        let _ = std::fs::remove_file(&out);
        let mut a = vec!["--ftp-port", "-"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["-o", out.to_str().unwrap(), "ftp://10.20.79.2/pub/big.bin"]);
        curl(&a);
        assert_eq!(std::fs::read(&out).unwrap(), big(), "active {extra:?}");
    }
    // Upload (STOR).
    let up = dir.path().join("up.txt");
    std::fs::write(&up, "from curl\n").unwrap();
    curl(&["-T", up.to_str().unwrap(), "ftp://10.20.79.2/incoming/"]);
    assert_eq!(
        fs.lock().unwrap().file("/incoming/up.txt"),
        Some(&b"from curl\n"[..])
    );
    // A missing file: the server's 550 is curl's exit code 78
    // (CURLE_REMOTE_FILE_NOT_FOUND).
    let miss = ns
        .command(&[
            "curl",
            "-sS",
            "--max-time",
            "10",
            "ftp://10.20.79.2/pub/nope",
        ])
        .output()
        .unwrap();
    assert_eq!(
        miss.status.code(),
        Some(78),
        "{}",
        String::from_utf8_lossy(&miss.stderr)
    );

    // Python's ftplib: passive and active, list and fetch.
    let py = r#"
import ftplib, hashlib, sys
for pasv in (True, False):
    f = ftplib.FTP('10.20.79.2', timeout=20)
    print(f.getwelcome())
    f.login()
    f.set_pasv(pasv)
    print(f.pwd())
    f.cwd('pub')
    print(sorted(f.nlst()))
    lines = []
    f.retrlines('LIST', lines.append)
    print(len(lines), lines[1].split()[-1])
    data = bytearray()
    f.retrbinary('RETR big.bin', data.extend)
    print(len(data), hashlib.sha256(data).hexdigest())
    print(f.size('readme.txt'))
    print(f.quit())
"#;
    let out = ns.exec(&["python3", "-c", py]).unwrap();
    let want_hash = {
        let o = Command::new("sha256sum")
            .arg(dir.path().join("big.bin"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let one = format!(
        "220 strata FTP server ready\n/\n['big.bin', 'readme.txt']\n2 readme.txt\n300000 {want_hash}\n{}\n221 Goodbye\n",
        README.len()
    );
    assert_eq!(text(&out), format!("{one}{one}"));
    drop(svc);
    drop(rt);
}

#[test]
fn strata_client_fetches_from_pyftpdlib() {
    if !can_run(&["python3"]) {
        return;
    }
    // Debian's python3-pyftpdlib is for the system's interpreter, which a
    // python3 earlier on the PATH (pyenv, a venv) may hide.
    let python = ["python3", "/usr/bin/python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import pyftpdlib"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let Some(python) = python else {
        skip("python3-pyftpdlib is not installed");
        return;
    };
    let (ns, rt) = Netns::with_runtime("ftpc", 80).unwrap();
    let dir = TempDir::new("ftp-pyftpd").unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from the kernel\n").unwrap();
    std::fs::write(dir.path().join("big.bin"), big()).unwrap();
    ns.spawn(&[
        python,
        "-m",
        "pyftpdlib",
        "-i",
        "10.20.80.1",
        "-p",
        "2121",
        "-d",
        dir.path().to_str().unwrap(),
    ])
    .unwrap();
    let server = SocketAddrV4::new(Ipv4Addr::new(10, 20, 80, 1), 2121);
    ns.wait_for_port(server).unwrap();
    for mode in [Mode::Passive, Mode::ExtendedPassive, Mode::Active] {
        let mut c = Client::anonymous(*server.ip(), mode);
        c.request(Request::Nlst(None));
        c.request(Request::Retr("hello.txt".into()));
        c.request(Request::Retr("big.bin".into()));
        c.request(Request::Size("big.bin".into()));
        c.quit();
        let ev = run_client(&rt.handle(), server, c, Duration::from_secs(60)).unwrap();
        let r: Vec<_> = ev
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Done(_, r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(ev.first(), Some(&ClientEvent::LoggedIn), "{mode:?}: {ev:?}");
        let Ok(Response::Data(names)) = &r[0] else {
            panic!("{mode:?}: {r:?}");
        };
        let mut names: Vec<&str> = std::str::from_utf8(names).unwrap().lines().collect();
        names.sort();
        assert_eq!(names, vec!["big.bin", "hello.txt"], "{mode:?}");
        assert_eq!(
            r[1],
            Ok(Response::Data(b"hello from the kernel\n".to_vec())),
            "{mode:?}"
        );
        assert_eq!(r[2], Ok(Response::Data(big())), "{mode:?}");
        assert_eq!(r[3], Ok(Response::Size(300_000)), "{mode:?}");
        assert_eq!(ev.last(), Some(&ClientEvent::Closed), "{mode:?}");
    }
    drop(rt);
}
