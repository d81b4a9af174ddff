//! The web view's HTTP server: hyper's HTTP/1.1 on a loopback tokio
//! listener, the page's embedded files and the JSON API. Runs happen one
//! at a time on a blocking thread; the last few are kept, so the frames,
//! pcap and pictures of the run on screen come without running it again.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use super::query::{percent_decode, BadQuery, Query};
use super::run::{self, Run};

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Runs kept for the frame, pcap and picture requests that follow a run.
const CACHED_RUNS: usize = 4;
/// Largest request head hyper buffers (request line and headers).
const MAX_HEAD: usize = 16 * 1024;

type Body = Full<Bytes>;

/// What the connections share.
#[derive(Default)]
struct Shared {
    /// The last runs, newest last, by canonical query.
    cache: Mutex<VecDeque<(String, Arc<Run>)>>,
    /// One run at a time (the machine's cores are few).
    running: Mutex<()>,
}

/// Serves the web view on `listener` until accepting fails.
pub async fn serve(listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let shared = Arc::new(Shared::default());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .max_buf_size(MAX_HEAD);
    loop {
        let (stream, peer) = listener.accept().await?;
        let shared = shared.clone();
        let conn = http.serve_connection(
            TokioIo::new(stream),
            hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(respond(&shared, req).await) }
            }),
        );
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::info!(%peer, error = %e, "web view connection ended");
            }
        });
    }
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// `{"error": msg}` with `status`.
fn error(status: StatusCode, msg: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": msg }).to_string();
    response(status, "application/json", body)
}

/// Answers one request.
async fn respond(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    let mut r = route(shared, req).await;
    if head {
        *r.body_mut() = Full::new(Bytes::new());
    }
    r
}

async fn route(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "the web view answers GET and HEAD only",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    // Requests carry no body here: refuse one rather than read it.
    let has_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    if has_body {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "requests take no body");
    }
    let path = req.uri().path().to_string();
    let qs = req.uri().query().unwrap_or("").to_string();
    match path.as_str() {
        "/" | "/index.html" => response(StatusCode::OK, "text/html; charset=utf-8", INDEX),
        "/app.js" => response(StatusCode::OK, "text/javascript; charset=utf-8", APP_JS),
        "/app.css" => response(StatusCode::OK, "text/css; charset=utf-8", APP_CSS),
        "/api/run" => api(shared, &qs, Api::Run).await,
        "/api/frame" => api(shared, &qs, Api::Frame).await,
        "/api/pcap" => api(shared, &qs, Api::Pcap).await,
        "/api/svg" => api(shared, &qs, Api::Svg).await,
        _ => error(StatusCode::NOT_FOUND, "no such page"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Run,
    Frame,
    Pcap,
    Svg,
}

/// Takes `key` out of the query string (the endpoint's own parameter,
/// not an option of the run).
fn take(qs: &str, key: &str) -> Result<(Option<String>, String), BadQuery> {
    let mut found = None;
    let mut rest = Vec::new();
    for pair in qs.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == key {
            if found.is_some() {
                return Err(BadQuery(format!("{key} is given twice")));
            }
            let v = percent_decode(v)
                .ok_or_else(|| BadQuery(format!("{key}: not valid percent-encoded UTF-8")))?;
            found = Some(v);
        } else {
            rest.push(pair);
        }
    }
    Ok((found, rest.join("&")))
}

async fn api(shared: &Arc<Shared>, qs: &str, what: Api) -> Response<Body> {
    match api_inner(shared, qs, what).await {
        Ok(r) => r,
        Err((status, msg)) => error(status, &msg),
    }
}

async fn api_inner(
    shared: &Arc<Shared>,
    qs: &str,
    what: Api,
) -> Result<Response<Body>, (StatusCode, String)> {
    let bad = |e: BadQuery| (StatusCode::BAD_REQUEST, e.0);
    let (n, qs) = match what {
        Api::Frame => {
            let (n, rest) = take(qs, "n").map_err(bad)?;
            let n = n.ok_or_else(|| {
                (
                    StatusCode::BAD_REQUEST,
                    "n: which frame (1, 2, …)?".to_string(),
                )
            })?;
            let n: usize = n.trim().parse().map_err(|_| {
                (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "n: '{}' is not a frame number",
                        n.chars().take(20).collect::<String>()
                    ),
                )
            })?;
            (Some(n), rest)
        }
        _ => (None, qs.to_string()),
    };
    let (kind, qs) = match what {
        Api::Svg => {
            let (k, rest) = take(&qs, "kind").map_err(bad)?;
            (k.or(Some("ladder".into())), rest)
        }
        _ => (None, qs),
    };
    let query = Query::parse(&qs).map_err(bad)?;
    let run = get_run(shared, query).await?;
    Ok(match what {
        Api::Run => response(StatusCode::OK, "application/json", run.json.clone()),
        Api::Frame => {
            let n = n.unwrap_or(0);
            match run::frame_json(&run, n) {
                Some(j) => response(StatusCode::OK, "application/json", j),
                None => {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        format!("n: the run has frames 1 to {}, not {n}", run.frames.len()),
                    ))
                }
            }
        }
        Api::Pcap => {
            let mut r = response(
                StatusCode::OK,
                "application/vnd.tcpdump.pcap",
                run.pcap.clone(),
            );
            r.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"strata-lab.pcap\""),
            );
            r
        }
        Api::Svg => {
            let svg = match kind.as_deref() {
                Some("ladder") => Some(run.ladder_svg.clone()),
                Some("tseq") => run.plots_svg.as_ref().map(|p| p.0.clone()),
                Some("cwnd") => run.plots_svg.as_ref().map(|p| p.1.clone()),
                Some(other) => {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        format!(
                            "kind: '{}' is not ladder, tseq or cwnd",
                            other.chars().take(20).collect::<String>()
                        ),
                    ))
                }
                None => None,
            };
            match svg {
                Some(s) => response(StatusCode::OK, "image/svg+xml", s),
                None => return Err((
                    StatusCode::BAD_REQUEST,
                    "kind: the time-sequence and cwnd pictures are drawn for bulk, http and echo"
                        .into(),
                )),
            }
        }
    })
}

/// The run of `query`, from the cache or run now (on a blocking thread,
/// one at a time). A run that fails (e.g. the connection timed out) is
/// answered 422 with the reason; a panic is caught and answered 500.
async fn get_run(shared: &Arc<Shared>, query: Query) -> Result<Arc<Run>, (StatusCode, String)> {
    let key = query.canonical();
    if let Some(r) = cached(shared, &key) {
        return Ok(r);
    }
    let sh = shared.clone();
    let job = tokio::task::spawn_blocking(move || {
        let _one = sh.running.lock().unwrap_or_else(|p| p.into_inner());
        // Another request may have run it while this one waited.
        if let Some(r) = cached(&sh, &key) {
            return Ok(r);
        }
        let out = std::panic::catch_unwind(|| run::execute(&query));
        match out {
            Ok(Ok(run)) => {
                let run = Arc::new(run);
                let mut c = sh.cache.lock().unwrap_or_else(|p| p.into_inner());
                if c.len() >= CACHED_RUNS {
                    c.pop_front();
                }
                c.push_back((key, run.clone()));
                Ok(run)
            }
            Ok(Err(e)) => Err((StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}"))),
            Err(_) => Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                "the run panicked (a bug in strata: please report the URL)".to_string(),
            )),
        }
    });
    job.await.unwrap_or_else(|_| {
        Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            "the run did not complete".to_string(),
        ))
    })
}

fn cached(shared: &Shared, key: &str) -> Option<Arc<Run>> {
    let c = shared.cache.lock().unwrap_or_else(|p| p.into_inner());
    c.iter().find(|(k, _)| k == key).map(|(_, r)| r.clone())
}
