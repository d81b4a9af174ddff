//! hyper, unmodified, serving and fetching HTTP over strata TCP.
//!
//! Two strata stacks are joined by an in-process Ethernet link (no
//! privileges needed); a hyper server listens on one, a hyper client on the
//! other fetches three pages.
//!
//! ```sh
//! cargo run -p strata-io --example hyper_over_strata
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use strata_io::tokio::{TcpListener, TcpStream};
use strata_io::{PipeDevice, Runtime, RuntimeConfig};

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!(
        "hello from hyper on strata: you asked for {}\n",
        req.uri().path()
    );
    Ok(Response::new(Full::new(Bytes::from(body))))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (a, b) = PipeDevice::pair()?;
    // An in-process cable with one stack at each end: nobody else can hold
    // these addresses, so they are used at once (no RFC 5227 probing).
    let client_stack = Runtime::new(
        a,
        RuntimeConfig::new("10.0.0.1/24".parse()?).address_known_unique(),
    )?;
    let server_stack = Runtime::new(
        b,
        RuntimeConfig::new("10.0.0.2/24".parse()?).address_known_unique(),
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener =
            TcpListener::bind(&server_stack.handle(), SocketAddr::from(([0, 0, 0, 0], 80))).await?;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello))
                        .await;
                });
            }
        });
        let stream = TcpStream::connect(
            &client_stack.handle(),
            SocketAddr::from(([10, 0, 0, 2], 80)),
        )
        .await?;
        println!(
            "connected {} -> {}",
            stream.local_addr()?,
            stream.peer_addr()?
        );
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        for path in ["/", "/layers", "/tcp"] {
            let req = Request::get(path)
                .header("host", "10.0.0.2")
                .body(Full::new(Bytes::new()))?;
            let resp = sender.send_request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            print!("GET {path} -> {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
