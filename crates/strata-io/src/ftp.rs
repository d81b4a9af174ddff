//! FTP (RFC 959) on a runtime's blocking TCP sockets: [`serve_ftp`] runs
//! the sans-IO server [`Session`] of [`strata::app::ftp`], one thread per
//! control connection; [`run_client`] drives the sans-IO [`Client`] to the
//! end of its requests.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata::app::ftp::client::{Client, ClientAction, ClientEvent};
use strata::app::ftp::fs::Fs;
use strata::app::ftp::server::{Action, ServerConfig, Session};
use strata::app::ftp::{DataEndpoint, Transfer};

use crate::runtime::RuntimeHandle;
use crate::services::ServiceThread;
use crate::tcp::{TcpListener, TcpStream};
use crate::udp::v4;

/// How often threads look at their stop flag and control connection.
const POLL: Duration = Duration::from_millis(20);
/// How long a data connection may take to open, and stay silent.
const DATA_TIMEOUT: Duration = Duration::from_secs(15);
/// Most control connections served at once.
const MAX_SESSIONS: usize = 32;
/// Ports for passive (server) and active (client) data listeners.
const DATA_PORTS: core::ops::RangeInclusive<u16> = 50000..=50999;

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// A listener on the first free port of [`DATA_PORTS`] at `ip`.
fn data_listener(
    rt: &RuntimeHandle,
    ip: std::net::Ipv4Addr,
    next: &mut u16,
) -> Option<(TcpListener, u16)> {
    for _ in 0..DATA_PORTS.clone().count() {
        let p = *next;
        *next = if p >= *DATA_PORTS.end() {
            *DATA_PORTS.start()
        } else {
            p + 1
        };
        if let Ok(l) = TcpListener::bind(rt, SocketAddrV4::new(ip, p)) {
            let _ = l.set_nonblocking(true);
            return Some((l, p));
        }
    }
    None
}

/// Serves FTP on `port` of `rt` with the files of `fs`.
pub fn serve_ftp(
    rt: &RuntimeHandle,
    port: u16,
    fs: Arc<Mutex<Fs>>,
    config: ServerConfig,
) -> io::Result<ServiceThread> {
    let listener = TcpListener::bind(rt, crate::udp::any(port))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let rt = rt.clone();
    let join = std::thread::Builder::new()
        .name("strata-ftp".into())
        .spawn(move || {
            let live = Arc::new(AtomicUsize::new(0));
            let next_port = Arc::new(Mutex::new(*DATA_PORTS.start()));
            let mut threads = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((ctrl, _)) => {
                        if live.load(Ordering::Relaxed) >= MAX_SESSIONS {
                            // RFC 959 §4.2: 421 service not available.
                            let _ = (&ctrl).write_all(b"421 Too many connections\r\n");
                            continue;
                        }
                        live.fetch_add(1, Ordering::Relaxed);
                        let (rt, fs, cfg, stop, live, np) = (
                            rt.clone(),
                            fs.clone(),
                            config.clone(),
                            flag.clone(),
                            live.clone(),
                            next_port.clone(),
                        );
                        if let Ok(t) = std::thread::Builder::new()
                            .name("strata-ftp-session".into())
                            .spawn(move || {
                                let _ = session(&rt, ctrl, &fs, cfg, &stop, &np);
                                live.fetch_sub(1, Ordering::Relaxed);
                            })
                        {
                            threads.push(t);
                        }
                    }
                    Err(e) if would_block(&e) => std::thread::sleep(POLL),
                    Err(_) => break,
                }
                threads.retain(|t| !t.is_finished());
            }
            for t in threads {
                let _ = t.join();
            }
        })?;
    Ok(ServiceThread::new(stop, join, local))
}

fn session(
    rt: &RuntimeHandle,
    ctrl: TcpStream,
    fs: &Mutex<Fs>,
    config: ServerConfig,
    stop: &AtomicBool,
    next_port: &Mutex<u16>,
) -> io::Result<()> {
    let lock = || fs.lock().unwrap_or_else(|e| e.into_inner());
    ctrl.set_read_timeout(Some(POLL))?;
    let _ = ctrl.set_nodelay(true);
    let local = v4(ctrl.local_addr()?)?;
    let peer = v4(ctrl.peer_addr()?)?;
    let mut s = Session::new(config, local, *peer.ip());
    let mut passive: Option<TcpListener> = None;
    let mut buf = [0u8; 4096];
    loop {
        loop {
            if let Some(o) = s.poll_output() {
                (&ctrl).write_all(&o)?;
            }
            match s.poll_action() {
                None => break,
                Some(Action::Listen) => {
                    passive = None;
                    let mut np = next_port.lock().unwrap_or_else(|e| e.into_inner());
                    match data_listener(rt, *local.ip(), &mut np) {
                        Some((l, p)) => {
                            passive = Some(l);
                            s.passive_listening(&mut lock(), SocketAddrV4::new(*local.ip(), p));
                        }
                        None => s.passive_failed(&mut lock()),
                    }
                }
                Some(Action::Transfer { endpoint, send }) => {
                    if let Some(o) = s.poll_output() {
                        (&ctrl).write_all(&o)?;
                    }
                    let t = server_transfer(rt, passive.take(), endpoint, send);
                    s.transfer_done(&mut lock(), t);
                }
                Some(Action::Close) => {
                    if let Some(o) = s.poll_output() {
                        (&ctrl).write_all(&o)?;
                    }
                    return Ok(());
                }
            }
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        match (&ctrl).read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => s.handle_input(&mut lock(), &buf[..n]),
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

fn accept_until(l: &TcpListener, deadline: Instant) -> Option<TcpStream> {
    loop {
        match l.accept() {
            Ok((s, _)) => return Some(s),
            Err(e) if would_block(&e) && Instant::now() < deadline => std::thread::sleep(POLL),
            Err(_) => return None,
        }
    }
}

/// Sends `data` and closes, or reads until the peer closes.
fn move_data(stream: TcpStream, send: Option<Vec<u8>>) -> Transfer {
    let _ = stream.set_read_timeout(Some(DATA_TIMEOUT));
    let _ = stream.set_write_timeout(Some(DATA_TIMEOUT));
    match send {
        Some(d) => match (&stream).write_all(&d) {
            // Dropping the stream closes it gracefully (FIN after the data).
            Ok(()) => Transfer::Done(Vec::new()),
            Err(_) => Transfer::Aborted,
        },
        None => {
            let mut got = Vec::new();
            match (&stream).read_to_end(&mut got) {
                Ok(_) => Transfer::Done(got),
                Err(_) => Transfer::Aborted,
            }
        }
    }
}

fn server_transfer(
    rt: &RuntimeHandle,
    passive: Option<TcpListener>,
    endpoint: DataEndpoint,
    send: Option<Vec<u8>>,
) -> Transfer {
    let stream = match endpoint {
        DataEndpoint::Passive(_) => passive
            .as_ref()
            .and_then(|l| accept_until(l, Instant::now() + DATA_TIMEOUT)),
        DataEndpoint::Active(a) => TcpStream::connect_timeout(rt, a, DATA_TIMEOUT).ok(),
    };
    drop(passive);
    match stream {
        Some(s) => move_data(s, send),
        None => Transfer::CannotOpen,
    }
}

/// Runs `client` against the FTP server at `server` until its session
/// ends or `timeout` passes; returns its events. Queue the requests and
/// `quit()` on the client first.
pub fn run_client(
    rt: &RuntimeHandle,
    server: SocketAddrV4,
    mut client: Client,
    timeout: Duration,
) -> io::Result<Vec<ClientEvent>> {
    let deadline = Instant::now() + timeout;
    let ctrl = TcpStream::connect_timeout(rt, server, timeout)?;
    ctrl.set_read_timeout(Some(POLL))?;
    let _ = ctrl.set_nodelay(true);
    let local = v4(ctrl.local_addr()?)?;
    let mut events = Vec::new();
    let mut next_port = *DATA_PORTS.start();
    let mut listener: Option<TcpListener> = None;
    let mut data: Option<TcpStream> = None;
    let mut closed = false;
    let read_ctrl = |client: &mut Client, events: &mut Vec<ClientEvent>| -> io::Result<bool> {
        let mut b = [0u8; 4096];
        match (&ctrl).read(&mut b) {
            Ok(0) => client.connection_closed(),
            Ok(n) => client.handle_input(&b[..n]),
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(e),
        }
        let mut done = false;
        while let Some(e) = client.poll_event() {
            done |= matches!(e, ClientEvent::Done(..) | ClientEvent::Closed);
            events.push(e);
        }
        Ok(done)
    };
    while !closed && Instant::now() < deadline {
        if let Some(o) = client.poll_transmit() {
            (&ctrl).write_all(&o)?;
        }
        while let Some(e) = client.poll_event() {
            closed |= e == ClientEvent::Closed;
            events.push(e);
        }
        match client.poll_action() {
            Some(ClientAction::Connect(a)) => {
                match TcpStream::connect_timeout(rt, SocketAddr::V4(a), DATA_TIMEOUT) {
                    Ok(s) => data = Some(s),
                    Err(_) => client.data_failed(),
                }
            }
            Some(ClientAction::Listen) => match data_listener(rt, *local.ip(), &mut next_port) {
                Some((l, p)) => {
                    listener = Some(l);
                    client.listening(SocketAddrV4::new(*local.ip(), p));
                }
                None => client.data_failed(),
            },
            Some(ClientAction::Transfer(send)) => {
                if let Some(o) = client.poll_transmit() {
                    (&ctrl).write_all(&o)?;
                }
                // Wait for the transfer's preliminary reply (150) while
                // watching the control connection: an error reply ends the
                // request without data.
                let until = Instant::now() + DATA_TIMEOUT;
                let mut abandoned = false;
                while !client.transfer_started() && !abandoned && Instant::now() < until {
                    abandoned = read_ctrl(&mut client, &mut events)?;
                }
                if data.is_none() && !abandoned {
                    if let Some(l) = &listener {
                        data = accept_until(l, until);
                    }
                }
                listener = None;
                match data.take() {
                    _ if abandoned => {}
                    Some(s) if client.transfer_started() => {
                        let t = move_data(s, send);
                        client.transfer_done(t);
                    }
                    _ => client.data_failed(),
                }
            }
            Some(ClientAction::Close) => closed = true,
            None => {
                let _ = read_ctrl(&mut client, &mut events)?;
                closed |= events.last() == Some(&ClientEvent::Closed);
            }
        }
    }
    while let Some(e) = client.poll_event() {
        events.push(e);
    }
    Ok(events)
}
