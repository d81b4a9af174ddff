//! FTP: the command and reply parsers never panic, and what they emit
//! parses again; a server session fed any control bytes (logged out and
//! logged in, with transfers carried out) and a client fed any reply bytes
//! never panic and stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::app::ftp::client::{Client, ClientAction, Mode, Request};
use strata::app::ftp::fs::Fs;
use strata::app::ftp::server::{Action, ServerConfig, Session};
use strata::app::ftp::Transfer;
use strata::wire::ftp::{Command, ReplyParser};

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        if let Ok(c) = Command::parse(line) {
            let again = c.emit();
            assert!(again.ends_with("\r\n"));
            let _ = Command::parse(again.as_bytes());
        }
    }
    let mut p = ReplyParser::new();
    p.push(data);
    while let Some(r) = p.next_reply() {
        if let Ok(r) = r {
            assert!((100..600).contains(&r.code));
            let mut q = ReplyParser::new();
            q.push(r.emit().as_bytes());
            let back = q.next_reply().expect("a whole reply").expect("it parses");
            assert_eq!(back.code, r.code);
        }
    }
    // The server, logged out and after an anonymous login.
    for prefix in [&b""[..], &b"USER anonymous\r\nPASS x\r\n"[..]] {
        let mut fs = Fs::new();
        fs.add_file("/pub/a.txt", "a\n");
        let cfg = ServerConfig {
            writable: true,
            ..ServerConfig::default()
        };
        let mut s = Session::new(cfg, "10.0.0.2:21".parse().unwrap(), [10, 0, 0, 9].into());
        s.handle_input(&mut fs, prefix);
        s.handle_input(&mut fs, data);
        for _ in 0..64 {
            let Some(a) = s.poll_action() else { break };
            match a {
                Action::Listen => s.passive_listening(&mut fs, "0.0.0.0:50000".parse().unwrap()),
                Action::Transfer { .. } => s.transfer_done(&mut fs, Transfer::Done(data.to_vec())),
                Action::Close => break,
            }
        }
        let _ = s.poll_output();
    }
    // The client, with requests queued, fed the bytes as replies.
    let mut c = Client::anonymous([10, 0, 0, 2].into(), Mode::Passive);
    c.request(Request::Retr("a".into()));
    c.request(Request::Pwd);
    c.quit();
    c.handle_input(data);
    for _ in 0..64 {
        match c.poll_action() {
            Some(ClientAction::Transfer(_)) => c.transfer_done(Transfer::Done(data.to_vec())),
            Some(ClientAction::Listen) => c.listening("10.0.0.9:50000".parse().unwrap()),
            Some(_) => {}
            None => break,
        }
    }
    while c.poll_event().is_some() {}
    let _ = c.poll_transmit();
});
