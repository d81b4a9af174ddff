//! FTP in the simulator: strata's client against strata's server, on a
//! LAN and through a lossy link, in passive (PASV, EPSV) and active (PORT)
//! mode; listings, downloads, an upload and the error replies.

use strata::app::ftp::client::{Client, ClientError, ClientEvent, Mode, Request, Response};
use strata::app::ftp::fs::Fs;
use strata::app::ftp::server::ServerConfig;
use strata::time::Duration;
use strata::wire::Ipv4Addr;
use strata_sim::ftp::{ftp_session, FtpServer};
use strata_sim::host::{self, ScenarioOptions};
use strata_sim::services::{shared, Services, Shared};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn big() -> Vec<u8> {
    (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn setup(loss: f64) -> (host::Lan, Shared<FtpServer>) {
    let mut opts = ScenarioOptions {
        loss,
        seed: 5,
        ..ScenarioOptions::default()
    };
    let mut lan = host::lan(&mut opts).unwrap();
    let mut fs = Fs::new();
    fs.add_file("/pub/readme.txt", "Welcome to strata's FTP server.\n");
    fs.add_file("/pub/big.bin", big());
    fs.add_dir("/incoming");
    let server = shared(FtpServer::new(
        fs,
        ServerConfig {
            writable: true,
            users: vec![("alice".into(), "wonderland".into())],
            ..ServerConfig::default()
        },
    ));
    Services {
        ftp: Some(server.clone()),
        ..Services::default()
    }
    .install(&mut lan.sim, lan.b)
    .unwrap();
    lan.sim.run_for(Duration::from_millis(1));
    (lan, server)
}

fn results(ev: &[ClientEvent]) -> Vec<Result<Response, ClientError>> {
    ev.iter()
        .filter_map(|e| match e {
            ClientEvent::Done(_, r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn session(mode: Mode, loss: f64) {
    let (mut lan, server) = setup(loss);
    let mut c = Client::anonymous(SERVER, mode);
    c.request(Request::Pwd);
    c.request(Request::List(Some("/pub".into())));
    c.request(Request::Cwd("pub".into()));
    c.request(Request::Nlst(None));
    c.request(Request::Retr("readme.txt".into()));
    c.request(Request::Retr("big.bin".into()));
    c.request(Request::Size("big.bin".into()));
    c.request(Request::Stor(
        "/incoming/up.txt".into(),
        b"uploaded\n".to_vec(),
    ));
    c.request(Request::Retr("nothing-here".into()));
    c.quit();
    let out = ftp_session(&mut lan.sim, lan.a, SERVER, c, Duration::from_secs(120)).unwrap();
    assert!(out.finished, "{mode:?}: {:?}", out.events);
    assert_eq!(out.events[0], ClientEvent::LoggedIn);
    let r = results(&out.events);
    assert_eq!(r[0], Ok(Response::Directory("/".into())));
    let Ok(Response::Data(list)) = &r[1] else {
        panic!("{:?}", r[1]);
    };
    let list = String::from_utf8_lossy(list);
    assert!(list.contains(" 200000 Jan 01  2026 big.bin\r\n"), "{list}");
    assert!(list.starts_with("-rw-r--r-- 1 ftp ftp"), "{list}");
    assert_eq!(r[2], Ok(Response::Ok));
    assert_eq!(
        r[3],
        Ok(Response::Data(b"big.bin\r\nreadme.txt\r\n".to_vec()))
    );
    assert_eq!(
        r[4],
        Ok(Response::Data(
            b"Welcome to strata's FTP server.\n".to_vec()
        ))
    );
    assert_eq!(r[5], Ok(Response::Data(big())), "{mode:?}");
    assert_eq!(r[6], Ok(Response::Size(200_000)));
    assert_eq!(r[7], Ok(Response::Ok));
    assert!(
        matches!(&r[8], Err(ClientError::Reply(rep)) if rep.code == 550),
        "{:?}",
        r[8]
    );
    assert_eq!(out.events.last(), Some(&ClientEvent::Closed));
    let s = server.borrow();
    assert_eq!(s.fs.file("/incoming/up.txt"), Some(&b"uploaded\n"[..]));
    let st = s.stats();
    assert_eq!(st.sessions, 1);
    assert_eq!(st.files_sent, 2);
    assert_eq!(st.listings, 2);
    assert_eq!(st.files_stored, 1);
}

#[test]
fn passive_session() {
    session(Mode::Passive, 0.0);
}

#[test]
fn extended_passive_session() {
    session(Mode::ExtendedPassive, 0.0);
}

#[test]
fn active_session() {
    session(Mode::Active, 0.0);
}

#[test]
fn passive_and_active_sessions_survive_loss() {
    session(Mode::Passive, 0.02);
    session(Mode::Active, 0.02);
}

#[test]
fn wrong_password_and_read_only_server() {
    let (mut lan, _server) = setup(0.0);
    let c = Client::new("alice", "looking-glass", SERVER, Mode::Passive);
    let out = ftp_session(&mut lan.sim, lan.a, SERVER, c, Duration::from_secs(10)).unwrap();
    assert!(
        matches!(&out.events[0], ClientEvent::LoginFailed(ClientError::Reply(r)) if r.code == 530),
        "{:?}",
        out.events
    );
    let mut c = Client::new("alice", "wonderland", SERVER, Mode::Passive);
    c.request(Request::Stor("/nodir/x".into(), b"x".to_vec()));
    c.request(Request::Cwd("/nowhere".into()));
    c.quit();
    let out = ftp_session(&mut lan.sim, lan.a, SERVER, c, Duration::from_secs(10)).unwrap();
    let r = results(&out.events);
    assert!(
        matches!(&r[0], Err(ClientError::Reply(x)) if x.code == 553),
        "{r:?}"
    );
    assert!(
        matches!(&r[1], Err(ClientError::Reply(x)) if x.code == 550),
        "{r:?}"
    );
}
