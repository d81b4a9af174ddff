//! `strata lab --web`: the server's JSON API spoken to over a plain socket,
//! and the page driven in headless Chromium through the DevTools protocol
//! (over `--remote-debugging-pipe`: no websocket, no extra crate). The
//! browser test loads a run, checks the ladder's rows, clicks a frame with
//! real mouse events and checks its decode, takes a screenshot and checks
//! its size, reloads the URL and checks it replays the run and the frame,
//! and fails on any script error. Without Chromium it skips (and fails
//! under STRATA_REQUIRE_ALL=1).

mod common;

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::os::fd::{FromRawFd as _, RawFd};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A process killed (with its process group, when it leads one) and
/// reaped when the test ends, passed or failed.
struct Proc {
    child: Child,
    group: bool,
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.group {
            // SAFETY: kill has no memory preconditions; the group is the
            // one this test started (process_group(0) made the child lead it).
            unsafe {
                libc::kill(-(self.child.id() as i32), libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("strata-web-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `strata lab --web --port 0`, and the port it printed.
fn start_server() -> (Proc, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["lab", "--web", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start strata lab --web");
    let out = child.stdout.take().expect("stdout");
    let server = Proc {
        child,
        group: false,
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("strata lab printed its address within 30 s");
    let port = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (server, port)
}

/// One HTTP/1.1 request on a fresh connection: status and body.
fn request(port: u16, method: &str, target: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the answer");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    (status, raw[split + 4..].to_vec())
}

fn get_json(port: u16, target: &str) -> (u16, Value) {
    let (status, body) = request(port, "GET", target);
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{target}: not JSON ({e}): {}", common::text(&body)));
    (status, v)
}

#[test]
fn web_refuses_to_listen_beyond_loopback() {
    let out = common::run(&["lab", "--web", "--bind", "0.0.0.0", "--port", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = common::text(&out.stderr);
    assert!(err.contains("loopback only"), "{err}");
    let out = common::run(&["lab"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::text(&out.stderr).contains("add --web"));
}

#[test]
fn web_api_runs_scenarios_and_refuses_bad_queries() {
    let (_server, port) = start_server();
    let q = "scenario=echo&seed=7&count=2";
    let (status, run) = get_json(port, &format!("/api/run?{q}"));
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["query"], q);
    let frames = run["frames"].as_u64().unwrap();
    assert!(frames >= 10, "{frames}");
    // The same query is the same run, byte for byte.
    let (_, again) = request(port, "GET", "/api/run?seed=7&count=2&scenario=echo");
    assert_eq!(serde_json::from_slice::<Value>(&again).unwrap(), run);
    let (status, f) = get_json(port, &format!("/api/frame?{q}&n=4"));
    assert_eq!(status, 200);
    assert_eq!(f["n"], 4);
    let (status, pcap) = request(port, "GET", &format!("/api/pcap?{q}"));
    assert_eq!(status, 200);
    // pcap with nanosecond timestamps (virtual time), little-endian.
    assert_eq!(&pcap[..4], &[0x4d, 0x3c, 0xb2, 0xa1], "pcap magic");
    let (status, svg) = request(port, "GET", &format!("/api/svg?{q}&kind=cwnd"));
    assert_eq!(status, 200);
    assert!(common::text(&svg).contains("<svg"));
    for (target, code, want) in [
        ("/api/run?scenario=nope", 400, "unknown scenario"),
        ("/api/run?loss=lots", 400, "loss: "),
        ("/api/run?seed=1&seed=2", 400, "given twice"),
        (
            "/api/run?scenario=ping&mtu=1400",
            400,
            "mtu is for the bulk",
        ),
        (
            "/api/frame?scenario=echo&seed=7&count=2&n=9999",
            400,
            "frames 1 to",
        ),
        (
            "/api/frame?scenario=echo&seed=7&count=2&n=x",
            400,
            "not a frame number",
        ),
        ("/api/frame?scenario=echo", 400, "which frame"),
        (
            "/api/svg?scenario=ping&kind=tseq",
            400,
            "bulk, http and echo",
        ),
        (
            "/api/svg?scenario=echo&kind=pie",
            400,
            "not ladder, tseq or cwnd",
        ),
        ("/nowhere", 404, "no such page"),
    ] {
        let (status, v) = get_json(port, target);
        assert_eq!(status, code, "{target}: {v}");
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.contains(want), "{target}: {msg}");
    }
    let long = format!("/api/run?{}", "seed=1&".repeat(500));
    assert_eq!(get_json(port, &long).0, 400);
    assert_eq!(request(port, "POST", "/api/run").0, 405);
    let (status, page) = request(port, "GET", "/");
    assert_eq!(status, 200);
    assert!(common::text(&page).contains("<script src=\"app.js\""));
}

// ---------------------------------------------------------------------------
// Headless Chromium over the DevTools protocol

/// The DevTools protocol over Chromium's pipe: NUL-terminated JSON
/// messages, commands on fd 3, answers and events on fd 4.
struct Cdp {
    to: File,
    from: Receiver<Value>,
    next: u64,
    session: Option<String>,
    /// Events received so far.
    events: Vec<Value>,
}

impl Cdp {
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// A command and its result, or the error Chromium answered.
    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to Chromium");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("{method}: no answer from Chromium ({e})"));
            if m["id"] == json!(id) {
                if let Some(e) = m.get("error") {
                    return Err(e.clone());
                }
                return Ok(m["result"].clone());
            }
            self.events.push(m);
        }
    }

    /// Evaluates `expr` in the page; its value (promises awaited), or
    /// what went wrong.
    fn try_eval(&mut self, expr: &str) -> Result<Value, Value> {
        let r = self.try_call(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(e.clone());
        }
        Ok(r["result"]["value"].clone())
    }

    /// Evaluates `expr` in the page, which must not throw.
    fn eval(&mut self, expr: &str) -> Value {
        self.try_eval(expr)
            .unwrap_or_else(|e| panic!("evaluating {expr}: {e}"))
    }

    /// Polls `expr` until it is `true` (at most `secs` seconds); while the
    /// page is loading, an evaluation that fails counts as not yet.
    fn wait_for(&mut self, expr: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self.try_eval(expr) == Ok(json!(true)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let state = self.try_eval(
            "document.body.dataset.state + ': ' + document.getElementById('status').textContent",
        );
        panic!("waited {secs} s for {expr}; page: {state:?}");
    }

    /// A real click: the mouse pressed and released at the centre of the
    /// element `selector` (scrolled into view first).
    fn click(&mut self, selector: &str) {
        let at = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); e.scrollIntoView({{block: 'center'}}); \
             const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": x, "y": y }),
        );
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// Script errors the browser reported: uncaught exceptions, console
    /// errors and error log entries.
    fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| {
                let m = e["method"].as_str().unwrap_or("");
                m == "Runtime.exceptionThrown"
                    || (m == "Runtime.consoleAPICalled" && e["params"]["type"] == "error")
                    || (m == "Log.entryAdded" && e["params"]["entry"]["level"] == "error")
            })
            .map(|e| e.to_string())
            .collect()
    }
}

/// The first installed Chromium.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|p| strata_sim::testing::have_program(p))
}

/// Two pipes for `--remote-debugging-pipe`, their ends above fd 10 and
/// close-on-exec (the child gets its two ends as fds 3 and 4 in pre_exec).
fn pipe_pair() -> [[RawFd; 2]; 2] {
    let mut out = [[0; 2]; 2];
    for p in &mut out {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into the array it is given.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        for (i, fd) in fds.into_iter().enumerate() {
            // SAFETY: fd is a pipe end this test owns; F_DUPFD_CLOEXEC
            // returns a new fd (≥ 10) or -1.
            let high = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
            assert!(high >= 10);
            // SAFETY: fd is ours and no longer used.
            unsafe { libc::close(fd) };
            p[i] = high;
        }
    }
    out
}

/// Chromium headless, driven over its DevTools pipe; its stderr (console
/// messages with --enable-logging=stderr) goes to `log`.
fn start_chromium(program: &str, profile: &std::path::Path, log: &std::path::Path) -> (Proc, Cdp) {
    let [cmd, events] = pipe_pair();
    let (cmd_read, cmd_write) = (cmd[0], cmd[1]);
    let (ev_read, ev_write) = (events[0], events[1]);
    let mut c = Command::new(program);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--hide-scrollbars",
        "--mute-audio",
        "--remote-debugging-pipe",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1400,1000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg("about:blank")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(File::create(log).expect("chromium log"))
    .process_group(0);
    // SAFETY: only async-signal-safe calls (dup2) between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(cmd_read, 3) < 0 || libc::dup2(ev_write, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = c.spawn().expect("start chromium");
    let proc = Proc { child, group: true };
    // SAFETY: the child has its copies; these ends are ours alone now.
    unsafe {
        libc::close(cmd_read);
        libc::close(ev_write);
    }
    // SAFETY: each fd is an open pipe end owned by this test from here on.
    let to = unsafe { File::from_raw_fd(cmd_write) };
    let mut from = unsafe { File::from_raw_fd(ev_read) };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            while let Some(p) = buf.iter().position(|&b| b == 0) {
                let msg: Vec<u8> = buf.drain(..=p).collect();
                if let Ok(v) = serde_json::from_slice::<Value>(&msg[..p]) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let cdp = Cdp {
        to,
        from: rx,
        next: 0,
        session: None,
        events: Vec::new(),
    };
    (proc, cdp)
}

/// Standard base64 (the screenshot's encoding).
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|&c| c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24, "a PNG is more than 24 bytes");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    (w, h)
}

#[test]
fn web_page_in_headless_chromium() {
    let Some(program) = chromium() else {
        strata_sim::testing::skip("chromium is not installed (apt-get install chromium)");
        return;
    };
    let (_server, port) = start_server();
    let dir = TempDir::new("chromium");
    let log = dir.0.join("chromium.log");
    let (_browser, mut cdp) = start_chromium(program, &dir.0.join("profile"), &log);

    // A tab of our own, its session attached (flat mode: commands carry the
    // session id), and the domains whose events report script errors.
    let target = cdp.call("Target.createTarget", json!({ "url": "about:blank" }));
    let attached = cdp.call(
        "Target.attachToTarget",
        json!({ "targetId": target["targetId"], "flatten": true }),
    );
    cdp.session = Some(
        attached["sessionId"]
            .as_str()
            .expect("a session")
            .to_string(),
    );
    for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
        cdp.call(domain, json!({}));
    }
    cdp.call(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false }),
    );

    let q = "scenario=echo&seed=7&count=2";
    let base = format!("http://127.0.0.1:{port}/?{q}");
    let (_, run) = get_json(port, &format!("/api/run?{q}"));
    let frames = run["frames"].as_u64().unwrap();
    cdp.call("Page.navigate", json!({ "url": base }));
    cdp.wait_for("document.body.dataset.state === 'ready'", 60);

    // The ladder: one row per frame, and the state changes beside them.
    let rows = cdp.eval("document.querySelectorAll('#ladder .row.frame').length");
    assert_eq!(rows, json!(frames), "a ladder row per frame");
    let states = cdp.eval("document.querySelectorAll('#ladder .row.state').length");
    assert!(states.as_u64().unwrap() >= 4, "{states}");
    assert_eq!(cdp.eval("location.search"), json!(format!("?{q}")));
    // Nothing selected yet: the decode shows the hint.
    assert_eq!(
        cdp.eval("document.getElementById('decode').dataset.frame === undefined"),
        json!(true)
    );

    // A real click on the SYN's row shows its decode.
    let syn = cdp.eval(
        "[...document.querySelectorAll('#ladder .row.frame')].find(r => r.textContent.includes('[SYN]')).dataset.n",
    );
    let syn: u64 = syn.as_str().unwrap().parse().unwrap();
    cdp.click(&format!("#ladder .row.frame[data-n=\"{syn}\"] .label"));
    cdp.wait_for(
        &format!("document.getElementById('decode').dataset.frame === '{syn}' && document.getElementById('decode').dataset.state === 'ready'"),
        30,
    );
    let decode = cdp.eval("document.getElementById('decode').textContent");
    let decode = decode.as_str().unwrap();
    for want in [
        "Ethernet II header",
        "IPv4 header",
        "TCP header",
        "flags [SYN]",
        "MSS 1460",
    ] {
        assert!(
            decode.contains(want),
            "{want} missing from the decode: {decode}"
        );
    }
    let hex_bytes = cdp.eval("document.querySelectorAll('#decode pre.hex span:not(.off)').length");
    assert_eq!(hex_bytes, json!(74), "a SYN with options is 74 bytes");
    assert_eq!(cdp.eval("location.hash"), json!(format!("#frame={syn}")));
    assert_eq!(
        cdp.eval("document.querySelector('#ladder .row.selected').dataset.n"),
        json!(syn.to_string())
    );
    // The other panels are drawn.
    for sel in [
        "#states svg rect",
        "#cwnd-plot polyline.cwnd",
        "#rtt-plot polyline.rto",
        "#topology svg .node",
        "#topology table.links tbody tr",
    ] {
        let n = cdp.eval(&format!("document.querySelectorAll('{sel}').length"));
        assert!(n.as_u64().unwrap() > 0, "{sel}: none");
    }

    // A screenshot of the page as it is now.
    let shot = cdp.call("Page.captureScreenshot", json!({ "format": "png" }));
    let png = base64_decode(shot["data"].as_str().expect("screenshot data"));
    let (w, h) = png_size(&png);
    assert!(w >= 1000 && h >= 700, "screenshot {w}×{h}");
    // A blank page of that size is a few kilobytes; this one has text,
    // arrows and plots.
    assert!(
        png.len() > 20_000,
        "a screenshot of {} bytes: a drawn page has more than 20 000",
        png.len()
    );
    if let Some(p) = std::env::var_os("STRATA_WEB_SCREENSHOT") {
        std::fs::write(&p, &png).expect("write the screenshot");
    }

    // The URL replays the run and the frame: a fresh load of it shows the
    // same ladder with the same frame laid open.
    let ladder = cdp.eval("document.getElementById('ladder').textContent");
    let last = frames;
    // Leave the page first, so the load below is a new document, not a
    // fragment change within this one.
    cdp.call("Page.navigate", json!({ "url": "about:blank" }));
    cdp.wait_for(
        "location.href === 'about:blank' && document.readyState === 'complete'",
        30,
    );
    cdp.call(
        "Page.navigate",
        json!({ "url": format!("{base}#frame={last}") }),
    );
    cdp.wait_for(
        &format!("document.body.dataset.state === 'ready' && document.getElementById('decode').dataset.frame === '{last}'"),
        60,
    );
    assert_eq!(
        cdp.eval("document.getElementById('ladder').textContent"),
        ladder
    );

    // No script error: none recorded by the page, none reported by the
    // browser, none in Chromium's console log.
    assert_eq!(
        cdp.eval("document.documentElement.dataset.scriptErrors === undefined"),
        json!(true)
    );
    assert_eq!(
        cdp.eval("document.getElementById('script-errors').textContent"),
        json!("")
    );
    assert_eq!(cdp.errors(), Vec::<String>::new());
    let console = std::fs::read_to_string(&log).unwrap_or_default();
    let uncaught: Vec<&str> = console.lines().filter(|l| l.contains("Uncaught")).collect();
    assert!(uncaught.is_empty(), "{uncaught:?}");

    // The detectors are live: an error thrown now is seen by all of them.
    cdp.eval("setTimeout(() => { throw new Error('probe of the error detectors'); }, 0); true");
    cdp.wait_for("document.documentElement.dataset.scriptErrors === '1'", 10);
    let _ = cdp.eval("1");
    assert!(
        cdp.errors()
            .iter()
            .any(|e| e.contains("probe of the error detectors")),
        "{:?}",
        cdp.errors()
    );
}
