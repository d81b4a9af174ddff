//! `strata serve`: a static-file HTTP/1.1 server (B/S, hyper over strata's
//! tokio sockets, an access log line per request) or a TCP + UDP echo
//! server (C/S), on the strata stack attached to a TAP device.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use strata_io::tcp::{ListenOptions, TcpListener};
use strata_io::udp::UdpSocket;

use crate::tapnet::TapArgs;

/// Arguments of `strata serve`.
#[derive(Args, Debug)]
#[command(
    group(clap::ArgGroup::new("service").required(true).args(["http", "echo"])),
    after_help = "Examples:
  strata serve --tap tap0 --addr 10.20.0.2/24 --http ./site       # then: curl http://10.20.0.2/
  strata serve --tap tap0 --addr 10.20.0.2/24 --echo --port 7007  # TCP and UDP echo

With --http, every request is logged on standard output in the Common Log
Format followed by the time taken (client - - [time] \"request line\" status
bytes 1.234ms); --quiet turns the log off."
)]
pub struct ServeArgs {
    #[command(flatten)]
    net: TapArgs,
    /// Serve the files under this directory over HTTP/1.1 (GET, HEAD,
    /// ranges, keep-alive; a directory without its slash is redirected).
    #[arg(long, value_name = "DIR")]
    http: Option<PathBuf>,
    /// No access log line per HTTP request.
    #[arg(short, long)]
    quiet: bool,
    /// Echo every byte back (TCP) and every datagram back (UDP).
    #[arg(long)]
    echo: bool,
    /// Port to listen on (default 80 for --http, 7 for --echo).
    #[arg(long, allow_negative_numbers = true, value_parser = crate::units::parse_port)]
    port: Option<u16>,
    /// If the TAP device goes away (interface deleted, namespace removed),
    /// wait for it to come back and serve again, instead of exiting.
    #[arg(long)]
    wait_device: bool,
    /// Connections that may wait to be accepted (the `backlog` of
    /// `listen(2)`; Linux's default `somaxconn`). Clients beyond it have
    /// their SYNs dropped and retry a second later.
    #[arg(long, value_name = "N", default_value_t = strata_io::tcp::DEFAULT_BACKLOG,
          value_parser = parse_backlog)]
    backlog: usize,
    /// With --http: close a connection whose request head has not fully
    /// arrived this long after it began: from the accept for the first
    /// request, from its first byte for each later one on a keep-alive
    /// connection (a client sending its header byte by byte, "slowloris").
    /// A keep-alive connection waiting for its next request is left to
    /// --idle-timeout.
    #[arg(long, value_name = "DURATION", default_value = "10s",
          value_parser = crate::units::parse_duration)]
    header_timeout: std::time::Duration,
    /// With --http: close a connection on which nothing moved either way
    /// for this long (an idle keep-alive connection, or a client that
    /// stopped reading its response).
    #[arg(long, value_name = "DURATION", default_value = "60s",
          value_parser = crate::units::parse_duration)]
    idle_timeout: std::time::Duration,
    /// With --http: most connections served at once; one more is closed as
    /// soon as it is accepted.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_conns: u32,
    /// With --http: largest request head (431 beyond) and body (413
    /// beyond, the connection closed), at least 8k.
    #[arg(long, value_name = "SIZE", default_value = "64k", value_parser = parse_request_cap)]
    max_request: u64,
}

/// A request-size cap: a byte size of at least 8 KiB (hyper's smallest
/// read buffer).
fn parse_request_cap(s: &str) -> Result<u64, String> {
    let n = crate::units::parse_bytes(s)?;
    let min = crate::http::server::MIN_REQUEST_BYTES as u64;
    if n < min || n > u32::MAX as u64 {
        return Err(format!("'{s}' is not a request size of 8k to 4G"));
    }
    Ok(n)
}

/// A listen backlog: 1..=65535 connections.
fn parse_backlog(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n),
        _ => Err(format!("'{s}' is not a backlog of 1 to 65535 connections")),
    }
}

/// Runs `strata serve` until killed, or until its device goes away (one
/// error line; with `--wait-device`, until it comes back, then again).
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.http {
        if !dir.is_dir() {
            return crate::tapnet::usage(format!("{} is not a directory", dir.display()));
        }
    }
    loop {
        let rt = args.net.start("serve")?;
        let served = serve_on(args, &rt);
        // A failed device explains whatever error the serving loop gave.
        let Some(failure) = rt.device_failure() else {
            return served;
        };
        drop(rt);
        if !args.wait_device {
            anyhow::bail!(
                "{failure} (the interface was removed or its namespace deleted; --wait-device waits for it)"
            );
        }
        eprintln!(
            "strata serve: {failure}; waiting for {} to come back",
            args.net.tap
        );
        crate::tapnet::wait_for_interface(&args.net.tap);
        eprintln!("strata serve: {} is back", args.net.tap);
    }
}

/// Serves on a started runtime until an error (a failed device included).
fn serve_on(args: &ServeArgs, rt: &strata_io::Runtime) -> anyhow::Result<()> {
    let h = rt.handle();
    let ip = rt.addr().address();
    if let Some(dir) = &args.http {
        let root = dir
            .canonicalize()
            .with_context(|| format!("reading {}", dir.display()))?;
        let port = args.port.unwrap_or(80);
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("strata-http")
            .enable_all()
            .build()
            .context("starting the HTTP workers")?;
        let listener = tokio
            .block_on(strata_io::tokio::TcpListener::bind_with(
                &h,
                SocketAddr::from(([0, 0, 0, 0], port)),
                ListenOptions::backlog(args.backlog),
            ))
            .with_context(|| format!("listening on port {port}"))?;
        println!(
            "strata serve: http://{ip}:{port}/ serving {} on {}",
            root.display(),
            args.net.tap
        );
        let opts = crate::http::server::Options {
            access_log: !args.quiet,
            header_read_timeout: args.header_timeout,
            idle_timeout: args.idle_timeout,
            max_connections: args.max_conns as usize,
            max_request_bytes: args.max_request as usize,
            ..crate::http::server::Options::new(root)
        };
        tokio
            .block_on(crate::http::server::run(listener, opts))
            .context("accepting a connection")?;
    } else {
        let port = args.port.unwrap_or(7);
        let listener = TcpListener::bind_with(
            &h,
            SocketAddr::from(([0, 0, 0, 0], port)),
            ListenOptions::backlog(args.backlog),
        )
        .with_context(|| format!("listening on TCP port {port}"))?;
        let udp = UdpSocket::bind(&h, SocketAddr::from(([0, 0, 0, 0], port)))
            .with_context(|| format!("binding UDP port {port}"))?;
        println!(
            "strata serve: echo on {ip}:{port} (TCP and UDP) on {}",
            args.net.tap
        );
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65535];
            loop {
                match udp.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        let _ = udp.send_to(&buf[..n], from);
                    }
                    // The runtime or its device is gone: stop.
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::NotConnected | std::io::ErrorKind::NetworkDown
                        ) =>
                    {
                        break
                    }
                    // An ICMP error for an earlier reply: keep serving.
                    Err(e) => tracing::info!(error = %e, "udp echo"),
                }
            }
        });
        for stream in listener.incoming() {
            let stream = stream.context("accepting a connection")?;
            std::thread::spawn(move || {
                let peer = stream.peer_addr().ok();
                match strata_io::echo::echo_stream(stream) {
                    Ok(n) => tracing::info!(?peer, bytes = n, "echo done"),
                    Err(e) => tracing::info!(?peer, error = %e, "echo ended"),
                }
            });
        }
    }
    Ok(())
}
