//! An FTP client (RFC 959) as a sans-IO state machine over the control
//! connection.
//!
//! The driver connects to the server's port 21, feeds what arrives to
//! [`Client::handle_input`], writes out [`Client::poll_transmit`], and
//! carries out [`Client::poll_action`]: connect a passive data connection
//! ([`ClientAction::Connect`]), or listen for an active one
//! ([`ClientAction::Listen`], answered with [`Client::listening`]); then
//! send or receive on it ([`ClientAction::Transfer`], answered with
//! [`Client::transfer_done`]). Results come out of [`Client::poll_event`].
//!
//! The client logs in (USER, PASS), sets TYPE I, and then runs the
//! [`Request`]s it is given in order, each data transfer preceded by PASV,
//! EPSV (RFC 2428 §3) or PORT (RFC 959 §4.1.2) as its [`Mode`] says.

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::VecDeque;

use super::Transfer;
use crate::wire::ftp::{parse_epsv_reply, parse_pasv_reply, Command, Reply, ReplyParser, TypeCode};

/// How data connections are set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// PASV: the server listens, the client connects (RFC 959 §4.1.3).
    Passive,
    /// EPSV (RFC 2428 §3): like PASV, the address being the control
    /// connection's.
    ExtendedPassive,
    /// PORT: the client listens, the server connects (RFC 959 §4.1.2).
    Active,
}

/// What the client is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// LIST [path]: the long listing.
    List(Option<String>),
    /// NLST [path]: names only.
    Nlst(Option<String>),
    /// RETR path: download.
    Retr(String),
    /// STOR path with these bytes: upload.
    Stor(String, Vec<u8>),
    /// CWD path.
    Cwd(String),
    /// PWD.
    Pwd,
    /// SIZE path.
    Size(String),
}

/// A request's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The bytes of a listing or a file.
    Data(Vec<u8>),
    /// Done without data (CWD, STOR).
    Ok,
    /// PWD's directory.
    Directory(String),
    /// SIZE's size.
    Size(u64),
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error reply.
    #[error("server replied {}: {}", .0.code, .0.text())]
    Reply(Reply),
    /// The data connection could not be made or broke.
    #[error("data connection failed")]
    Data,
    /// The server's reply could not be understood.
    #[error("unexpected reply: {0}")]
    Protocol(String),
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAction {
    /// Connect a data connection to this address (passive modes).
    Connect(SocketAddrV4),
    /// Listen for the server's data connection on the control connection's
    /// local address, then call [`Client::listening`].
    Listen,
    /// On the data connection set up above (accepted, for active mode):
    /// send these bytes and close (`Some`), or read until the server
    /// closes (`None`); then call [`Client::transfer_done`].
    Transfer(Option<Vec<u8>>),
    /// Close the control connection.
    Close,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Login succeeded.
    LoggedIn,
    /// Login failed (the connection is being closed).
    LoginFailed(ClientError),
    /// A request finished.
    Done(Request, Result<Response, ClientError>),
    /// QUIT was answered, or the session ended.
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Greeting,
    User,
    Pass,
    Type,
    Ready,
    /// A simple command's reply is awaited.
    Simple(Request),
    /// PASV or EPSV's reply is awaited.
    Passive(Request),
    /// The driver is opening the active listener.
    Listening(Request),
    /// PORT's reply is awaited.
    Port(Request),
    /// The transfer command is out: its replies and the data are awaited.
    Transfer {
        req: Request,
        started: bool,
        data: Option<Transfer>,
        fin: Option<Reply>,
    },
    Quitting,
    Closed,
}

/// An FTP client session. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Client {
    user: String,
    pass: String,
    server: Ipv4Addr,
    mode: Mode,
    replies: ReplyParser,
    state: State,
    queue: VecDeque<Request>,
    quit: bool,
    out: Vec<u8>,
    actions: VecDeque<ClientAction>,
    events: VecDeque<ClientEvent>,
}

fn command_for(r: &Request) -> Command {
    match r {
        Request::List(p) => Command::List(p.clone()),
        Request::Nlst(p) => Command::Nlst(p.clone()),
        Request::Retr(p) => Command::Retr(p.clone()),
        Request::Stor(p, _) => Command::Stor(p.clone()),
        Request::Cwd(p) => Command::Cwd(p.clone()),
        Request::Pwd => Command::Pwd,
        Request::Size(p) => Command::Size(p.clone()),
    }
}

fn needs_data(r: &Request) -> bool {
    matches!(
        r,
        Request::List(_) | Request::Nlst(_) | Request::Retr(_) | Request::Stor(..)
    )
}

impl Client {
    /// A client that logs in as `user`/`pass` on a server at `server`
    /// (needed for EPSV) once connected.
    pub fn new(user: &str, pass: &str, server: Ipv4Addr, mode: Mode) -> Client {
        Client {
            user: user.into(),
            pass: pass.into(),
            server,
            mode,
            replies: ReplyParser::new(),
            state: State::Greeting,
            queue: VecDeque::new(),
            quit: false,
            out: Vec::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Anonymous login (RFC 1635).
    pub fn anonymous(server: Ipv4Addr, mode: Mode) -> Client {
        Client::new("anonymous", "strata@", server, mode)
    }

    /// Queues a request (run after login, in order).
    pub fn request(&mut self, r: Request) {
        self.queue.push_back(r);
        self.next();
    }

    /// Sends QUIT once every queued request is done.
    pub fn quit(&mut self) {
        self.quit = true;
        self.next();
    }

    /// True when nothing is queued or running.
    pub fn is_idle(&self) -> bool {
        self.state == State::Ready && self.queue.is_empty()
    }

    /// True while a transfer command has had its preliminary reply (150 or
    /// 125) and its data is due: the moment to move the bytes.
    pub fn transfer_started(&self) -> bool {
        matches!(
            self.state,
            State::Transfer {
                started: true,
                data: None,
                ..
            }
        )
    }

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Command bytes to write on the control connection.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.out.is_empty()).then(|| core::mem::take(&mut self.out))
    }

    /// The next thing the driver must do.
    pub fn poll_action(&mut self) -> Option<ClientAction> {
        self.actions.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    fn send(&mut self, c: Command) {
        self.out.extend_from_slice(c.emit().as_bytes());
    }

    /// Bytes from the control connection.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        self.replies.push(bytes);
        while let Some(r) = self.replies.next_reply() {
            match r {
                Ok(r) => self.reply(r),
                Err(e) => self.fail_session(ClientError::Protocol(e.to_string())),
            }
        }
    }

    /// The control connection closed (or failed).
    pub fn connection_closed(&mut self) {
        if self.state != State::Closed {
            self.fail_session(ClientError::Protocol("connection closed".into()));
        }
    }

    fn fail_session(&mut self, e: ClientError) {
        match core::mem::replace(&mut self.state, State::Closed) {
            State::Greeting | State::User | State::Pass | State::Type => {
                self.events.push_back(ClientEvent::LoginFailed(e.clone()))
            }
            State::Simple(r)
            | State::Passive(r)
            | State::Listening(r)
            | State::Port(r)
            | State::Transfer { req: r, .. } => {
                self.events.push_back(ClientEvent::Done(r, Err(e.clone())))
            }
            _ => {}
        }
        for r in self.queue.drain(..) {
            self.events.push_back(ClientEvent::Done(r, Err(e.clone())));
        }
        self.actions.push_back(ClientAction::Close);
        self.events.push_back(ClientEvent::Closed);
    }

    fn fail_login(&mut self, e: ClientError) {
        self.events.push_back(ClientEvent::LoginFailed(e.clone()));
        self.fail_session(e);
    }

    /// The active-mode listener is open at `addr` (the address the server
    /// can reach us on).
    pub fn listening(&mut self, addr: SocketAddrV4) {
        if let State::Listening(r) = core::mem::replace(&mut self.state, State::Ready) {
            self.send(Command::Port(addr));
            self.state = State::Port(r);
        }
    }

    /// The data connection could not be set up (listener or connect).
    pub fn data_failed(&mut self) {
        self.transfer_done(Transfer::CannotOpen);
    }

    /// The data connection of the current transfer is over.
    pub fn transfer_done(&mut self, t: Transfer) {
        match &mut self.state {
            State::Transfer { data, .. } if data.is_none() => *data = Some(t),
            State::Listening(_) | State::Port(_) | State::Passive(_) => {
                let (State::Listening(r) | State::Port(r) | State::Passive(r)) =
                    core::mem::replace(&mut self.state, State::Ready)
                else {
                    return;
                };
                self.finish(r, Err(ClientError::Data));
                return;
            }
            _ => return,
        }
        self.maybe_finish_transfer();
    }

    fn maybe_finish_transfer(&mut self) {
        let State::Transfer {
            data: Some(_),
            fin: Some(_),
            ..
        } = &self.state
        else {
            return;
        };
        let State::Transfer { req, data, fin, .. } =
            core::mem::replace(&mut self.state, State::Ready)
        else {
            return;
        };
        let (data, fin) = (data.expect("checked"), fin.expect("checked"));
        let result = match (data, fin.is_completion()) {
            (Transfer::Done(bytes), true) => Ok(match req {
                Request::Stor(..) => Response::Ok,
                _ => Response::Data(bytes),
            }),
            (_, false) => Err(ClientError::Reply(fin)),
            (_, true) => Err(ClientError::Data),
        };
        self.finish(req, result);
    }

    fn finish(&mut self, r: Request, result: Result<Response, ClientError>) {
        self.state = State::Ready;
        self.events.push_back(ClientEvent::Done(r, result));
        self.next();
    }

    /// Starts the next request (or QUIT) when ready.
    fn next(&mut self) {
        if self.state != State::Ready {
            return;
        }
        let Some(r) = self.queue.pop_front() else {
            if self.quit {
                self.send(Command::Quit);
                self.state = State::Quitting;
            }
            return;
        };
        if !needs_data(&r) {
            self.send(command_for(&r));
            self.state = State::Simple(r);
            return;
        }
        match self.mode {
            Mode::Passive => {
                self.send(Command::Pasv);
                self.state = State::Passive(r);
            }
            Mode::ExtendedPassive => {
                self.send(Command::Epsv { all: false });
                self.state = State::Passive(r);
            }
            Mode::Active => {
                self.actions.push_back(ClientAction::Listen);
                self.state = State::Listening(r);
            }
        }
    }

    /// Sends the transfer command and asks the driver to move the data.
    fn start_transfer(&mut self, req: Request) {
        self.send(command_for(&req));
        let send = match &req {
            Request::Stor(_, d) => Some(d.clone()),
            _ => None,
        };
        self.actions.push_back(ClientAction::Transfer(send));
        self.state = State::Transfer {
            req,
            started: false,
            data: None,
            fin: None,
        };
    }

    fn reply(&mut self, r: Reply) {
        match core::mem::replace(&mut self.state, State::Ready) {
            State::Greeting => {
                if r.code == 220 {
                    self.send(Command::User(self.user.clone()));
                    self.state = State::User;
                } else if r.is_preliminary() {
                    // 120: service ready in nnn minutes — wait for 220.
                    self.state = State::Greeting;
                } else {
                    self.fail_login(ClientError::Reply(r));
                }
            }
            State::User => match r.code {
                230 => self.logged_in(),
                331 | 332 => {
                    self.send(Command::Pass(self.pass.clone()));
                    self.state = State::Pass;
                }
                _ => self.fail_login(ClientError::Reply(r)),
            },
            State::Pass => match r.code {
                230 | 202 => self.logged_in(),
                _ => self.fail_login(ClientError::Reply(r)),
            },
            State::Type => {
                if r.is_completion() {
                    self.events.push_back(ClientEvent::LoggedIn);
                    self.next();
                } else {
                    self.fail_login(ClientError::Reply(r));
                }
            }
            State::Simple(req) => {
                let res = if r.is_completion() {
                    match &req {
                        // RFC 959 Appendix II: the path is quoted, with
                        // quotes inside doubled.
                        Request::Pwd => parse_quoted(r.text())
                            .map(Response::Directory)
                            .ok_or_else(|| ClientError::Protocol(r.text().into())),
                        Request::Size(_) => r
                            .text()
                            .trim()
                            .parse()
                            .map(Response::Size)
                            .map_err(|_| ClientError::Protocol(r.text().into())),
                        _ => Ok(Response::Ok),
                    }
                } else {
                    Err(ClientError::Reply(r))
                };
                self.finish(req, res);
            }
            State::Passive(req) => {
                let addr = match r.code {
                    227 => parse_pasv_reply(r.text()),
                    229 => parse_epsv_reply(r.text()).map(|p| SocketAddrV4::new(self.server, p)),
                    _ => {
                        self.finish(req, Err(ClientError::Reply(r)));
                        return;
                    }
                };
                match addr {
                    Some(a) => {
                        self.actions.push_back(ClientAction::Connect(a));
                        self.start_transfer(req);
                    }
                    None => self.finish(req, Err(ClientError::Protocol(r.text().into()))),
                }
            }
            State::Port(req) => {
                if r.is_completion() {
                    self.start_transfer(req);
                } else {
                    // The driver's listener is no longer needed.
                    self.finish(req, Err(ClientError::Reply(r)));
                }
            }
            State::Transfer {
                req,
                started,
                data,
                fin,
            } => {
                if r.is_preliminary() && !started {
                    self.state = State::Transfer {
                        req,
                        started: true,
                        data,
                        fin,
                    };
                } else if r.is_completion() && started {
                    self.state = State::Transfer {
                        req,
                        started,
                        data,
                        fin: Some(r),
                    };
                    self.maybe_finish_transfer();
                } else {
                    // An error before or after the data: the request fails
                    // (the driver's data connection ends by itself).
                    let data = data.or(Some(Transfer::Aborted));
                    self.state = State::Transfer {
                        req,
                        started,
                        data,
                        fin: Some(r),
                    };
                    self.maybe_finish_transfer();
                }
            }
            State::Quitting => {
                self.state = State::Closed;
                self.actions.push_back(ClientAction::Close);
                self.events.push_back(ClientEvent::Closed);
            }
            State::Ready => {
                // An unsolicited reply (e.g. 421 before closing).
                if r.code == 421 {
                    self.fail_session(ClientError::Reply(r));
                }
            }
            State::Listening(req) => {
                self.state = State::Listening(req);
                if r.code == 421 {
                    self.fail_session(ClientError::Reply(r));
                }
            }
            State::Closed => self.state = State::Closed,
        }
    }

    fn logged_in(&mut self) {
        // Binary transfers: files arrive byte for byte.
        self.send(Command::Type(TypeCode::Image));
        self.state = State::Type;
    }
}

/// The text between the first pair of quotes, `""` standing for `"`.
fn parse_quoted(s: &str) -> Option<String> {
    let start = s.find('"')? + 1;
    let mut out = String::new();
    let mut chars = s[start..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::fs::Fs;
    use super::super::server::{Action, ServerConfig, Session};
    use super::super::DataEndpoint;
    use super::*;

    /// Runs a client against a server session, moving bytes and data
    /// transfers between them by hand.
    fn run(mode: Mode, reqs: Vec<Request>) -> (Vec<ClientEvent>, Fs) {
        let server_ip = Ipv4Addr::new(10, 0, 0, 2);
        let client_ip = Ipv4Addr::new(10, 0, 0, 9);
        let mut fs = Fs::new();
        fs.add_file("/pub/a.txt", "alpha\n");
        let cfg = ServerConfig {
            writable: true,
            ..ServerConfig::default()
        };
        let mut s = Session::new(cfg, SocketAddrV4::new(server_ip, 21), client_ip);
        let mut c = Client::anonymous(server_ip, mode);
        for r in reqs {
            c.request(r);
        }
        c.quit();
        let mut events = Vec::new();
        let mut client_data: Option<Option<Vec<u8>>> = None;
        let mut server_data: Option<Option<Vec<u8>>> = None;
        for _ in 0..200 {
            if let Some(b) = s.poll_output() {
                c.handle_input(&b);
            }
            if let Some(b) = c.poll_transmit() {
                s.handle_input(&mut fs, &b);
            }
            while let Some(a) = s.poll_action() {
                match a {
                    Action::Listen => s.passive_listening(
                        &mut fs,
                        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 50000),
                    ),
                    Action::Transfer { endpoint, send } => {
                        match (mode, endpoint) {
                            (Mode::Active, DataEndpoint::Active(a)) => {
                                assert_eq!(a, SocketAddrV4::new(client_ip, 40000))
                            }
                            (Mode::Active, e) => panic!("{e:?}"),
                            (_, DataEndpoint::Passive(a)) => {
                                assert_eq!(a, SocketAddrV4::new(server_ip, 50000))
                            }
                            (_, e) => panic!("{e:?}"),
                        }
                        server_data = Some(send);
                    }
                    Action::Close => {}
                }
            }
            while let Some(a) = c.poll_action() {
                match a {
                    ClientAction::Listen => c.listening(SocketAddrV4::new(client_ip, 40000)),
                    ClientAction::Connect(a) => {
                        assert_eq!(a, SocketAddrV4::new(server_ip, 50000))
                    }
                    ClientAction::Transfer(send) => client_data = Some(send),
                    ClientAction::Close => {}
                }
            }
            // Both ends of a data connection are ready: move the bytes.
            if let (Some(cd), Some(sd)) = (&client_data, &server_data) {
                let to_client = sd.clone().unwrap_or_default();
                let to_server = cd.clone().unwrap_or_default();
                client_data = None;
                server_data = None;
                s.transfer_done(&mut fs, Transfer::Done(to_server));
                c.transfer_done(Transfer::Done(to_client));
            }
            while let Some(e) = c.poll_event() {
                events.push(e);
            }
            if c.is_closed() {
                break;
            }
        }
        (events, fs)
    }

    #[test]
    fn passive_active_and_extended_sessions() {
        for mode in [Mode::Passive, Mode::ExtendedPassive, Mode::Active] {
            let (ev, fs) = run(
                mode,
                vec![
                    Request::Pwd,
                    Request::Cwd("pub".into()),
                    Request::Size("a.txt".into()),
                    Request::Retr("a.txt".into()),
                    Request::Nlst(None),
                    Request::Stor("b.bin".into(), vec![0, 1, 2]),
                    Request::Retr("missing".into()),
                ],
            );
            assert_eq!(ev[0], ClientEvent::LoggedIn, "{mode:?}");
            let results: Vec<_> = ev
                .iter()
                .filter_map(|e| match e {
                    ClientEvent::Done(_, r) => Some(r.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(results[0], Ok(Response::Directory("/".into())));
            assert_eq!(results[1], Ok(Response::Ok));
            assert_eq!(results[2], Ok(Response::Size(6)));
            assert_eq!(results[3], Ok(Response::Data(b"alpha\n".to_vec())));
            assert_eq!(results[4], Ok(Response::Data(b"a.txt\r\n".to_vec())));
            assert_eq!(results[5], Ok(Response::Ok));
            assert!(
                matches!(&results[6], Err(ClientError::Reply(r)) if r.code == 550),
                "{mode:?}: {:?}",
                results[6]
            );
            assert_eq!(ev.last(), Some(&ClientEvent::Closed));
            assert_eq!(fs.file("/pub/b.bin"), Some(&[0u8, 1, 2][..]));
        }
    }

    #[test]
    fn quoted_paths() {
        assert_eq!(
            parse_quoted("\"/a \"\"b\"\"\" is cwd"),
            Some("/a \"b\"".into())
        );
        assert_eq!(parse_quoted("no quotes"), None);
    }
}
