//! An FTP server session (RFC 959): one per control connection.
//!
//! The driver feeds the control connection's bytes to
//! [`Session::handle_input`], writes out [`Session::poll_output`], and
//! carries out [`Session::poll_action`]: open a passive listener
//! ([`Action::Listen`], answered with [`Session::passive_listening`]), run a
//! data transfer ([`Action::Transfer`], answered with
//! [`Session::transfer_done`]), or close the control connection
//! ([`Action::Close`]). Commands that arrive during a transfer wait their
//! turn (RFC 959 §5.4 allows only ABOR, STAT and the like to interrupt,
//! which this server does not offer).
//!
//! Replies follow RFC 959 §4.2 and §5.4 (the code sequences per command).
//! Anonymous login (`anonymous` or `ftp`, any password, RFC 1635) and
//! named users are supported; STOR needs a writable server. Data
//! connections go only to the client's own address and never to a
//! privileged port (RFC 2577 §3, the "bounce attack").

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::VecDeque;

use super::fs::{resolve, Fs, Node, MAX_FILE};
use super::{DataEndpoint, Transfer};
use crate::wire::ftp::{format_host_port, Command, FtpError, LineBuffer, Reply, TypeCode};

/// Who may log in and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Anonymous login (`anonymous` or `ftp` with any password).
    pub anonymous: bool,
    /// Named users and their passwords.
    pub users: Vec<(String, String)>,
    /// STOR allowed.
    pub writable: bool,
    /// The 220 greeting's text.
    pub greeting: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            anonymous: true,
            users: Vec::new(),
            writable: false,
            greeting: "strata FTP server ready".into(),
        }
    }
}

/// What the driver must do for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a listener for one passive data connection on the control
    /// connection's local address (any free port), then call
    /// [`Session::passive_listening`] (or [`Session::passive_failed`]).
    Listen,
    /// Open the data connection — accept it on the passive listener, or
    /// connect to the client's address — then send `send` and close
    /// (`Some`), or read until the client closes (`None`); then call
    /// [`Session::transfer_done`].
    Transfer {
        /// Where the connection comes from.
        endpoint: DataEndpoint,
        /// The bytes to send, or `None` to receive.
        send: Option<Vec<u8>>,
    },
    /// Close the control connection (after writing the output).
    Close,
}

/// Counters of one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Commands handled.
    pub commands: u64,
    /// Files sent (RETR).
    pub files_sent: u64,
    /// Files stored (STOR).
    pub files_stored: u64,
    /// Listings sent (LIST, NLST).
    pub listings: u64,
    /// Replies with a 4xx or 5xx code.
    pub errors: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Busy {
    /// A transfer out (RETR, LIST, NLST).
    Sending,
    /// STOR to this path.
    Storing(String),
    /// Waiting for the passive listener (true: EPSV).
    Listening(bool),
}

/// One control connection's state. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Session {
    config: ServerConfig,
    local: SocketAddrV4,
    peer: Ipv4Addr,
    lines: LineBuffer,
    user: Option<String>,
    logged_in: bool,
    cwd: String,
    kind: TypeCode,
    data: Option<DataEndpoint>,
    busy: Option<Busy>,
    out: Vec<u8>,
    actions: VecDeque<Action>,
    closed: bool,
    stats: SessionStats,
}

/// Bare LF → CRLF (the ASCII type's line ends on the wire, RFC 959 §3.1.1.1).
fn to_crlf(d: &[u8]) -> Vec<u8> {
    let mut o = Vec::with_capacity(d.len() + d.len() / 32);
    let mut prev = 0u8;
    for &b in d {
        if b == b'\n' && prev != b'\r' {
            o.push(b'\r');
        }
        o.push(b);
        prev = b;
    }
    o
}

/// CRLF → LF.
fn from_crlf(d: &[u8]) -> Vec<u8> {
    let mut o = Vec::with_capacity(d.len());
    for (i, &b) in d.iter().enumerate() {
        if b == b'\r' && d.get(i + 1) == Some(&b'\n') {
            continue;
        }
        o.push(b);
    }
    o
}

impl Session {
    /// A session on a control connection from `peer` to our `local`
    /// address; the greeting (220, RFC 959 §5.4 "Connection
    /// Establishment") is queued.
    pub fn new(config: ServerConfig, local: SocketAddrV4, peer: Ipv4Addr) -> Session {
        let mut s = Session {
            local,
            peer,
            lines: LineBuffer::new(),
            user: None,
            logged_in: false,
            cwd: "/".into(),
            kind: TypeCode::Ascii,
            data: None,
            busy: None,
            out: Vec::new(),
            actions: VecDeque::new(),
            closed: false,
            stats: SessionStats::default(),
            config,
        };
        let g = s.config.greeting.clone();
        s.reply(220, g);
        s
    }

    /// Counters.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// True once QUIT was answered: nothing more will be read.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// True after a successful login.
    pub fn is_logged_in(&self) -> bool {
        self.logged_in
    }

    /// The bytes to write on the control connection.
    pub fn poll_output(&mut self) -> Option<Vec<u8>> {
        (!self.out.is_empty()).then(|| core::mem::take(&mut self.out))
    }

    /// The next thing the driver must do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn reply(&mut self, code: u16, text: impl Into<String>) {
        self.send(Reply::new(code, text));
    }

    fn send(&mut self, r: Reply) {
        if r.code >= 400 {
            self.stats.errors += 1;
        }
        self.out.extend_from_slice(r.emit().as_bytes());
    }

    /// Bytes from the control connection.
    pub fn handle_input(&mut self, fs: &mut Fs, bytes: &[u8]) {
        if self.closed {
            return;
        }
        self.lines.push(bytes);
        self.run(fs);
    }

    /// Handles queued commands until one must wait for the driver.
    fn run(&mut self, fs: &mut Fs) {
        while !self.closed && self.busy.is_none() {
            let Some(line) = self.lines.next_line() else {
                return;
            };
            self.stats.commands += 1;
            match line.and_then(|l| Command::parse(&l)) {
                Ok(c) => self.command(fs, c),
                // RFC 959 §4.2: 500 syntax error, command unrecognized;
                // 501 syntax error in parameters or arguments.
                Err(FtpError::BadArgument(v)) => {
                    self.reply(501, format!("Syntax error in arguments to {v}"))
                }
                Err(_) => self.reply(500, "Syntax error, command unrecognized"),
            }
        }
    }

    /// The passive listener is open at `addr` (port chosen by the driver).
    pub fn passive_listening(&mut self, fs: &mut Fs, addr: SocketAddrV4) {
        let Some(Busy::Listening(epsv)) = self.busy.clone() else {
            return;
        };
        self.busy = None;
        // The address clients connect to is the one they reached us on.
        let at = SocketAddrV4::new(*self.local.ip(), addr.port());
        self.data = Some(DataEndpoint::Passive(at));
        if epsv {
            // RFC 2428 §3: 229 with the port only.
            self.reply(
                229,
                format!("Entering Extended Passive Mode (|||{}|)", addr.port()),
            );
        } else {
            // RFC 959 §4.1.3 (PASV), reply 227.
            self.reply(
                227,
                format!("Entering Passive Mode ({}).", format_host_port(at)),
            );
        }
        self.run(fs);
    }

    /// No passive listener could be opened.
    pub fn passive_failed(&mut self, fs: &mut Fs) {
        if matches!(self.busy, Some(Busy::Listening(_))) {
            self.busy = None;
            self.reply(425, "Can't open passive connection");
            self.run(fs);
        }
    }

    /// The data connection of the last [`Action::Transfer`] is over.
    pub fn transfer_done(&mut self, fs: &mut Fs, t: Transfer) {
        let busy = match self.busy.take() {
            Some(b @ (Busy::Sending | Busy::Storing(_))) => b,
            other => {
                self.busy = other;
                return;
            }
        };
        match t {
            // RFC 959 §4.2: 226 closing data connection, transfer complete.
            Transfer::Done(bytes) => match busy {
                Busy::Storing(path) => {
                    if bytes.len() > MAX_FILE {
                        // 552: exceeded storage allocation.
                        self.reply(552, "File too large");
                    } else {
                        let d = match self.kind {
                            TypeCode::Ascii => from_crlf(&bytes),
                            TypeCode::Image => bytes,
                        };
                        if fs.store(&path, d) {
                            self.stats.files_stored += 1;
                            self.reply(226, "Transfer complete");
                        } else {
                            self.reply(553, "Cannot store there");
                        }
                    }
                }
                _ => self.reply(226, "Transfer complete"),
            },
            // 425: can't open data connection.
            Transfer::CannotOpen => self.reply(425, "Can't open data connection"),
            // 426: connection closed; transfer aborted.
            Transfer::Aborted => self.reply(426, "Connection closed; transfer aborted"),
        }
        self.run(fs);
    }

    fn start_transfer(&mut self, send: Option<Vec<u8>>, what: String, busy: Busy) {
        let Some(endpoint) = self.data.take() else {
            // RFC 959 §5.4: 425 when no data connection can be set up.
            self.reply(425, "Use PORT, EPRT, PASV or EPSV first");
            return;
        };
        // 150: file status okay; about to open data connection.
        let mode = match self.kind {
            TypeCode::Ascii => "ASCII",
            TypeCode::Image => "BINARY",
        };
        self.reply(
            150,
            format!("Opening {mode} mode data connection for {what}"),
        );
        self.busy = Some(busy);
        self.actions.push_back(Action::Transfer { endpoint, send });
    }

    fn listing(&self, fs: &Fs, path: &str, long: bool) -> Option<Vec<u8>> {
        let entries: Vec<(String, &Node)> = match fs.get(path)? {
            Node::Dir => fs
                .list(path)
                .into_iter()
                .map(|(n, e)| (n.to_string(), e))
                .collect(),
            f @ Node::File(_) => vec![(path.rsplit('/').next().unwrap_or("").to_string(), f)],
        };
        let mut out = String::new();
        for (name, e) in entries {
            if long {
                // The `ls -l` shape clients show (RFC 959 leaves LIST's
                // format to the server).
                let (mode, size) = match e {
                    Node::Dir => ("drwxr-xr-x", 0),
                    Node::File(d) => ("-rw-r--r--", d.len()),
                };
                out.push_str(&format!(
                    "{mode} 1 ftp ftp {size:>12} Jan 01  2026 {name}\r\n"
                ));
            } else {
                out.push_str(&name);
                out.push_str("\r\n");
            }
        }
        Some(out.into_bytes())
    }

    fn command(&mut self, fs: &mut Fs, c: Command) {
        let open = matches!(
            c,
            Command::User(_)
                | Command::Pass(_)
                | Command::Quit
                | Command::Syst
                | Command::Feat
                | Command::Noop
        );
        if !self.logged_in && !open {
            // RFC 959 §5.4: 530 not logged in.
            self.reply(530, "Please login with USER and PASS");
            return;
        }
        match c {
            Command::User(u) => {
                self.logged_in = false;
                let anon = u.eq_ignore_ascii_case("anonymous") || u.eq_ignore_ascii_case("ftp");
                self.user = Some(u);
                // 331: user name okay, need password (also for unknown
                // names, which then fail at PASS: names are not revealed).
                if anon && self.config.anonymous {
                    self.reply(331, "Anonymous login okay, send your email as password");
                } else {
                    self.reply(331, "Password required");
                }
            }
            Command::Pass(p) => {
                let Some(u) = self.user.take() else {
                    // 503: bad sequence of commands.
                    self.reply(503, "Login with USER first");
                    return;
                };
                let anon = u.eq_ignore_ascii_case("anonymous") || u.eq_ignore_ascii_case("ftp");
                let ok = (anon && self.config.anonymous)
                    || self.config.users.iter().any(|(n, pw)| *n == u && *pw == p);
                if ok {
                    self.logged_in = true;
                    self.user = Some(u);
                    self.reply(230, "Login successful");
                } else {
                    self.reply(530, "Login incorrect");
                }
            }
            Command::Syst => self.reply(215, "UNIX Type: L8"),
            Command::Feat => self.send(Reply {
                // RFC 2389 §3.2: 211, one feature per line, indented.
                code: 211,
                lines: vec![
                    "Features:".into(),
                    " EPRT".into(),
                    " EPSV".into(),
                    " SIZE".into(),
                    "End".into(),
                ],
            }),
            Command::Noop => self.reply(200, "NOOP ok"),
            Command::Quit => {
                // 221: service closing control connection.
                self.reply(221, "Goodbye");
                self.closed = true;
                self.actions.push_back(Action::Close);
            }
            Command::Pwd => {
                // RFC 959 Appendix II: 257 "PATHNAME", quotes doubled.
                let q = self.cwd.replace('"', "\"\"");
                self.reply(257, format!("\"{q}\" is the current directory"));
            }
            Command::Cwd(p) => {
                let to = resolve(&self.cwd, &p);
                if fs.is_dir(&to) {
                    self.cwd = to;
                    self.reply(250, "Directory successfully changed");
                } else {
                    self.reply(550, "Failed to change directory");
                }
            }
            Command::Cdup => {
                self.cwd = resolve(&self.cwd, "..");
                self.reply(250, "Directory successfully changed");
            }
            Command::Type(t) => {
                self.kind = t;
                let n = match t {
                    TypeCode::Ascii => "ASCII",
                    TypeCode::Image => "Binary",
                };
                self.reply(200, format!("Switching to {n} mode"));
            }
            // 504: command not implemented for that parameter.
            Command::TypeUnsupported(_) => self.reply(504, "Only types A and I"),
            Command::Mode('S') => self.reply(200, "Mode set to S"),
            Command::Mode(_) => self.reply(504, "Only stream mode"),
            Command::Stru('F') => self.reply(200, "Structure set to F"),
            Command::Stru(_) => self.reply(504, "Only file structure"),
            Command::Port(a) | Command::Eprt(a) => {
                // RFC 2577 §3: no data connection to a third host or to a
                // privileged port.
                if *a.ip() != self.peer || a.port() < 1024 {
                    self.reply(500, "Illegal PORT command");
                } else {
                    self.data = Some(DataEndpoint::Active(a));
                    self.reply(200, "PORT command successful");
                }
            }
            Command::Pasv => {
                self.busy = Some(Busy::Listening(false));
                self.actions.push_back(Action::Listen);
            }
            Command::Epsv { all: true } => self.reply(200, "EPSV ALL ok"),
            Command::Epsv { all: false } => {
                self.busy = Some(Busy::Listening(true));
                self.actions.push_back(Action::Listen);
            }
            Command::List(p) => self.list(fs, p, true),
            Command::Nlst(p) => self.list(fs, p, false),
            Command::Retr(p) => {
                let path = resolve(&self.cwd, &p);
                let Some(d) = fs.file(&path) else {
                    // 550: file unavailable.
                    self.reply(550, "Failed to open file");
                    return;
                };
                let data = match self.kind {
                    TypeCode::Ascii => to_crlf(d),
                    TypeCode::Image => d.to_vec(),
                };
                let what = format!("{p} ({} bytes)", d.len());
                self.stats.files_sent += 1;
                self.start_transfer(Some(data), what, Busy::Sending);
            }
            Command::Stor(p) => {
                let path = resolve(&self.cwd, &p);
                if !self.config.writable {
                    self.reply(550, "Permission denied");
                } else if fs.is_dir(&path) || !fs.is_dir(&resolve(&path, "..")) {
                    // 553: file name not allowed.
                    self.reply(553, "Could not create file");
                } else {
                    self.start_transfer(None, p, Busy::Storing(path));
                }
            }
            Command::Size(p) => {
                // RFC 3659 §4: 213 and the size, 550 when there is none.
                match fs.file(&resolve(&self.cwd, &p)) {
                    Some(d) => self.reply(213, d.len().to_string()),
                    None => self.reply(550, "Could not get file size"),
                }
            }
            // 502: command not implemented.
            Command::Other(v) => self.reply(502, format!("{v} not implemented")),
        }
    }

    fn list(&mut self, fs: &Fs, p: Option<String>, long: bool) {
        let path = resolve(&self.cwd, p.as_deref().unwrap_or("."));
        match self.listing(fs, &path, long) {
            Some(d) => {
                self.stats.listings += 1;
                self.start_transfer(Some(d), "directory list".into(), Busy::Sending);
            }
            None => self.reply(550, "No such file or directory"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ftp::ReplyParser;

    fn replies(s: &mut Session) -> Vec<Reply> {
        let mut p = ReplyParser::new();
        p.push(&s.poll_output().unwrap_or_default());
        let mut v = Vec::new();
        while let Some(r) = p.next_reply() {
            v.push(r.unwrap());
        }
        v
    }

    fn codes(s: &mut Session) -> Vec<u16> {
        replies(s).iter().map(|r| r.code).collect()
    }

    const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

    fn session(writable: bool) -> (Session, Fs) {
        let mut fs = Fs::new();
        fs.add_file("/pub/readme.txt", "line one\nline two\n");
        let cfg = ServerConfig {
            writable,
            users: vec![("alice".into(), "secret".into())],
            ..ServerConfig::default()
        };
        let s = Session::new(
            cfg,
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 21),
            CLIENT,
        );
        (s, fs)
    }

    #[test]
    fn login_browse_and_errors() {
        let (mut s, mut fs) = session(false);
        assert_eq!(codes(&mut s), vec![220]);
        s.handle_input(&mut fs, b"PWD\r\nPASS x\r\nUSER alice\r\nPASS wrong\r\n");
        assert_eq!(codes(&mut s), vec![530, 503, 331, 530]);
        s.handle_input(&mut fs, b"USER anonymous\r\nPASS me@\r\nSYST\r\nPWD\r\n");
        let r = replies(&mut s);
        assert_eq!(
            r.iter().map(|r| r.code).collect::<Vec<_>>(),
            vec![331, 230, 215, 257]
        );
        assert_eq!(r[3].text(), "\"/\" is the current directory");
        s.handle_input(
            &mut fs,
            b"CWD pub\r\nCWD nope\r\nSIZE readme.txt\r\nSIZE x\r\nTYPE E\r\nXMKD a\r\nBL4H\r\nRETR\r\nRETR readme.txt\r\nSTOR x\r\n",
        );
        let r = replies(&mut s);
        assert_eq!(
            r.iter().map(|r| r.code).collect::<Vec<_>>(),
            vec![250, 550, 213, 550, 504, 502, 500, 501, 425, 550]
        );
        assert_eq!(r[2].text(), "18");
        // A bounce attempt and a privileged port are refused.
        s.handle_input(&mut fs, b"PORT 10,0,0,66,200,1\r\nPORT 10,0,0,9,0,21\r\n");
        assert_eq!(codes(&mut s), vec![500, 500]);
        s.handle_input(&mut fs, b"QUIT\r\nNOOP\r\n");
        assert_eq!(codes(&mut s), vec![221]);
        assert_eq!(s.poll_action(), Some(Action::Close));
        assert!(s.is_closed());
    }

    #[test]
    fn passive_retr_and_active_stor() {
        let (mut s, mut fs) = session(true);
        s.handle_input(
            &mut fs,
            b"USER alice\r\nPASS secret\r\nPASV\r\nRETR /pub/readme.txt\r\n",
        );
        assert_eq!(codes(&mut s), vec![220, 331, 230]);
        assert_eq!(s.poll_action(), Some(Action::Listen));
        // RETR waits for the listener.
        s.passive_listening(&mut fs, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 50000));
        let r = replies(&mut s);
        assert_eq!(r[0].code, 227);
        assert_eq!(r[0].text(), "Entering Passive Mode (10,0,0,2,195,80).");
        assert_eq!(r[1].code, 150);
        // ASCII type: LF becomes CRLF.
        assert_eq!(
            s.poll_action(),
            Some(Action::Transfer {
                endpoint: DataEndpoint::Passive(SocketAddrV4::new(
                    Ipv4Addr::new(10, 0, 0, 2),
                    50000
                )),
                send: Some(b"line one\r\nline two\r\n".to_vec()),
            })
        );
        s.handle_input(
            &mut fs,
            b"TYPE I\r\nEPRT |1|10.0.0.9|6000|\r\nSTOR /pub/up.bin\r\n",
        );
        assert!(replies(&mut s).is_empty(), "commands wait for the transfer");
        s.transfer_done(&mut fs, Transfer::Done(Vec::new()));
        assert_eq!(codes(&mut s), vec![226, 200, 200, 150]);
        let Some(Action::Transfer { endpoint, send }) = s.poll_action() else {
            panic!("a transfer");
        };
        assert_eq!(
            endpoint,
            DataEndpoint::Active(SocketAddrV4::new(CLIENT, 6000))
        );
        assert_eq!(send, None);
        s.transfer_done(&mut fs, Transfer::Done(b"a\r\nb".to_vec()));
        assert_eq!(codes(&mut s), vec![226]);
        assert_eq!(fs.file("/pub/up.bin"), Some(&b"a\r\nb"[..]));
        // EPSV, then a broken transfer.
        s.handle_input(&mut fs, b"EPSV\r\nNLST pub\r\n");
        assert_eq!(s.poll_action(), Some(Action::Listen));
        s.passive_listening(&mut fs, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 6446));
        let r = replies(&mut s);
        assert_eq!(r[0].text(), "Entering Extended Passive Mode (|||6446|)");
        let Some(Action::Transfer { send: Some(d), .. }) = s.poll_action() else {
            panic!("a listing");
        };
        assert_eq!(d, b"readme.txt\r\nup.bin\r\n");
        s.transfer_done(&mut fs, Transfer::Aborted);
        assert_eq!(codes(&mut s), vec![426]);
    }
}
