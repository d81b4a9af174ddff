//! Networks described in TOML files (`strata sim --topology FILE`): hosts,
//! routers and switches, the links between them with every fault option
//! of [`LinkConfig`], addresses fixed or from DHCP, NAT on routers, the
//! servers each host runs (DNS, DHCP, FTP, web) and what it does (`run`:
//! pings, name lookups, fetches over HTTP or FTP, pauses).
//!
//! ```toml
//! seed = 1
//!
//! [[switch]]
//! name = "sw1"
//! stp = "rstp"                  # optional: "stp" or "rstp"
//!
//! [[host]]
//! name = "server"
//! address = "10.0.1.2/24"       # or "dhcp"
//! gateway = "10.0.1.1"
//! dhcp = { pool = "10.0.1.100-10.0.1.150", router = "10.0.1.1", dns = ["10.0.1.2"] }
//! dns = { zone = "lab", records = { web = "10.0.1.2" } }
//!
//! [[host]]
//! name = "pc"
//! address = "dhcp"
//! run = ["ping 10.0.2.10", "resolve web.lab", "sleep 2s", "ping 10.0.1.2",
//!        "fetch http://web.lab/", "fetch ftp://10.0.2.10/pub/readme.txt active"]
//!
//! [[router]]
//! name = "r1"
//! interfaces = ["10.0.1.1/24", "10.0.2.1/24"]
//! nat = { outside = 1 }         # optional; filtering = "endpoint-independent"
//!
//! [[host]]
//! name = "files"
//! address = "10.0.2.10/24"
//! ftp = { files = { "/pub/readme.txt" = "hello" }, writable = false }
//! web = { files = { "/index.html" = "<h1>hi</h1>" } }
//!
//! [[link]]
//! a = "server"                  # a node, or "node:port"
//! b = "sw1"
//! latency = "1ms"
//! loss = "1%"
//! ```
//!
//! A node's ports are its interfaces in order (a switch's are numbered as
//! links reach it); `"node"` in a link takes the node's next free port.
//! [`Topology::parse`] reports the first problem as one line that names
//! the line of the file ([`TopologyError`]).

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;

use serde::Deserialize;
use strata::app::dhcp::client::Client as DhcpClient;
use strata::app::dhcp::server::{Server as DhcpServer, ServerConfig};
use strata::app::dns::resolver::{ResolveError, Resolver};
use strata::app::dns::server::{Server as DnsServer, Zone};
use strata::stack::{Event, StackConfig};
use strata::time::{Duration, Instant};
use strata::wire::dns::{Name, Type};
use strata::wire::ip::Ipv4Cidr;
use strata::wire::MacAddr;
use toml::Spanned;

use strata::app::ftp::client::{
    Client as FtpClient, ClientEvent, Mode as FtpMode, Request, Response,
};
use strata::app::ftp::fs::Fs;
use strata::app::ftp::server::ServerConfig as FtpConfig;
use strata::net::nat::{Filtering, NatConfig};

use crate::ftp::{ftp_session, FtpServer};
use crate::host::Host;
use crate::link::{GilbertElliott, LinkConfig, QueueLimit};
use crate::node::NodeId;
use crate::services::{dns_server, resolve, shared, DhcpClients, Services, Shared};
use crate::sim::Sim;
use crate::stp::{BridgeConfig, Protocol};
use crate::switch::Switch;
use crate::web::{http_get, WebServer};

/// A problem in a topology file, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TopologyError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

type Result<T> = std::result::Result<T, TopologyError>;

/// Why a topology could not be run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The simulator refused something (a pcap that cannot be written).
    #[error(transparent)]
    Sim(#[from] crate::sim::SimError),
    /// A service could not start.
    #[error(transparent)]
    Service(#[from] crate::services::ServiceError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    seed: Option<u64>,
    /// Virtual time the actions may take.
    #[serde(default)]
    duration: Option<Spanned<String>>,
    #[serde(default)]
    switch: Vec<SwitchDef>,
    #[serde(default)]
    host: Vec<HostDef>,
    #[serde(default)]
    router: Vec<HostDef>,
    #[serde(default)]
    link: Vec<LinkDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchDef {
    name: Spanned<String>,
    #[serde(default)]
    stp: Option<Spanned<String>>,
    #[serde(default)]
    ports: Option<Spanned<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostDef {
    name: Spanned<String>,
    /// One interface: "a.b.c.d/len" or "dhcp".
    #[serde(default)]
    address: Option<Spanned<String>>,
    /// Several interfaces, in port order.
    #[serde(default)]
    interfaces: Vec<Spanned<String>>,
    #[serde(default)]
    gateway: Option<Spanned<String>>,
    #[serde(default)]
    routes: Vec<RouteDef>,
    #[serde(default)]
    mtu: Option<usize>,
    #[serde(default)]
    dns: Option<DnsDef>,
    #[serde(default)]
    dhcp: Option<DhcpDef>,
    /// Name servers the host's resolver asks (default: from DHCP).
    #[serde(default)]
    nameservers: Vec<Spanned<String>>,
    #[serde(default)]
    nat: Option<NatDef>,
    #[serde(default)]
    ftp: Option<FtpDef>,
    #[serde(default)]
    web: Option<WebDef>,
    /// What it does, in order: "ping ADDR", "resolve NAME", "sleep DURATION".
    #[serde(default)]
    run: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NatDef {
    /// The outside interface (port); default the last.
    #[serde(default)]
    outside: Option<Spanned<usize>>,
    /// "address-dependent" (default) or "endpoint-independent".
    #[serde(default)]
    filtering: Option<Spanned<String>>,
    #[serde(default)]
    udp_timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FtpDef {
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    writable: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebDef {
    #[serde(default)]
    files: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteDef {
    to: Spanned<String>,
    via: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DnsDef {
    zone: Spanned<String>,
    #[serde(default)]
    records: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    ttl: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DhcpDef {
    pool: Spanned<String>,
    #[serde(default)]
    router: Option<Spanned<String>>,
    #[serde(default)]
    dns: Vec<Spanned<String>>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    lease: Option<Spanned<String>>,
    /// Which interface (port) serves; default 0.
    #[serde(default)]
    interface: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkDef {
    a: Spanned<String>,
    b: Spanned<String>,
    #[serde(default)]
    latency: Option<Spanned<String>>,
    #[serde(default)]
    jitter: Option<Spanned<String>>,
    #[serde(default)]
    bandwidth: Option<Spanned<String>>,
    /// Frames that may wait in the transmit queue.
    #[serde(default)]
    queue: Option<usize>,
    #[serde(default)]
    loss: Option<Spanned<Prob>>,
    #[serde(default)]
    burst_loss: Option<BurstDef>,
    #[serde(default)]
    duplicate: Option<Spanned<Prob>>,
    #[serde(default)]
    reorder: Option<Spanned<Prob>>,
    #[serde(default)]
    reorder_delay: Option<Spanned<String>>,
    #[serde(default)]
    corrupt: Option<Spanned<Prob>>,
    /// Windows of virtual time when the link carries nothing: ["2s", "3s"].
    #[serde(default)]
    partition: Vec<Spanned<Vec<String>>>,
    /// The link fails for good at this time.
    #[serde(default)]
    down_at: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BurstDef {
    enter: f64,
    leave: f64,
}

/// A probability written as 0.01 or "1%".
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Prob {
    Number(f64),
    Text(String),
}

/// What a host is set to do once the network is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Three echo requests to an address.
    Ping(Ipv4Addr),
    /// An A lookup of a name.
    Resolve(Name),
    /// Nothing for a while (the network runs on).
    Sleep(Duration),
    /// Fetches an `http://` or `ftp://` URL (the host part an address or
    /// a name to look up); FTP in passive mode (EPSV) unless `active`.
    Fetch {
        /// The URL as written.
        url: String,
        /// FTP (else HTTP).
        ftp: bool,
        /// The host part.
        host: String,
        /// The path (`/` when none).
        path: String,
        /// FTP active mode (PORT).
        active: bool,
    },
}

/// Splits `SCHEME://HOST[/PATH] [active]` for [`Action::Fetch`].
fn parse_fetch(arg: &str) -> Option<Action> {
    let (url, rest) = arg.split_once(' ').unwrap_or((arg, ""));
    let active = match rest.trim() {
        "" => false,
        "active" => true,
        _ => return None,
    };
    let (ftp, tail) = if let Some(t) = url.strip_prefix("http://") {
        (false, t)
    } else if let Some(t) = url.strip_prefix("ftp://") {
        (true, t)
    } else {
        return None;
    };
    if active && !ftp {
        return None;
    }
    let (host, path) = match tail.find('/') {
        Some(i) => (&tail[..i], &tail[i..]),
        None => (tail, "/"),
    };
    if host.is_empty() {
        return None;
    }
    Some(Action::Fetch {
        url: url.to_string(),
        ftp,
        host: host.to_string(),
        path: path.to_string(),
        active,
    })
}

/// How a node's interface gets its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// Fixed.
    Static(Ipv4Cidr),
    /// From a DHCP server.
    Dhcp,
}

/// A host or router of a [`Topology`].
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// Its name.
    pub name: String,
    /// A router forwards.
    pub router: bool,
    /// Its interfaces (ports), in order.
    pub interfaces: Vec<Addressing>,
    /// Default gateway.
    pub gateway: Option<Ipv4Addr>,
    /// Static routes: (prefix, gateway).
    pub routes: Vec<(Ipv4Cidr, Ipv4Addr)>,
    /// Interface MTU.
    pub mtu: usize,
    /// The DNS zone it serves, if any.
    pub dns: Option<Zone>,
    /// The DHCP server it runs, if any: (interface, configuration).
    pub dhcp: Option<(usize, ServerConfig)>,
    /// Name servers for its lookups (none: those DHCP gave it).
    pub nameservers: Vec<Ipv4Addr>,
    /// NAT on its forwarding path: (outside interface, settings).
    pub nat: Option<(usize, NatConfig)>,
    /// The files of its FTP server, and whether STOR is allowed.
    pub ftp: Option<(Fs, bool)>,
    /// The files of its web server.
    pub web: Option<BTreeMap<String, Vec<u8>>>,
    /// What it does.
    pub actions: Vec<Action>,
}

/// A switch of a [`Topology`].
#[derive(Debug, Clone)]
pub struct SwitchSpec {
    /// Its name.
    pub name: String,
    /// Spanning tree protocol it runs.
    pub stp: Option<Protocol>,
    /// Its number of ports.
    pub ports: usize,
}

/// A link of a [`Topology`]: ((node index, port), (node index, port)).
#[derive(Debug, Clone)]
pub struct LinkSpec {
    /// One end: node name and port.
    pub a: (String, usize),
    /// The other end.
    pub b: (String, usize),
    /// Both directions' shape and faults.
    pub config: LinkConfig,
}

/// A network read from a topology file.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Seed of the run.
    pub seed: u64,
    /// Virtual time the actions may take.
    pub duration: Duration,
    /// Hosts and routers, in file order (hosts first).
    pub hosts: Vec<HostSpec>,
    /// Switches.
    pub switches: Vec<SwitchSpec>,
    /// Links.
    pub links: Vec<LinkSpec>,
}

/// Line numbers of byte offsets in a text.
struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        let at = span.start.min(self.0.len());
        self.0[..at].bytes().filter(|&b| b == b'\n').count() + 1
    }
    fn err<T>(&self, span: Range<usize>, message: impl Into<String>) -> Result<T> {
        Err(TopologyError {
            line: self.line(span),
            message: message.into(),
        })
    }
}

/// "10ms", "1.5s", "250us", "2m", "1h" (a bare number is seconds).
fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, ""), |i| (&s[..i], &s[i..]));
    let v: f64 = num.trim().parse().ok()?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "ns" => 1e-9,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    let secs = v * scale;
    (0.0..1e9)
        .contains(&secs)
        .then(|| Duration::from_secs_f64(secs))
}

/// "100Mbit", "1Gbit", "56kbit", "10M" (bits per second).
fn parse_rate(s: &str) -> Option<u64> {
    let t = s
        .trim()
        .trim_end_matches("bit/s")
        .trim_end_matches("bit")
        .trim_end_matches("bps");
    let (num, mult) = match t.chars().last()? {
        'k' | 'K' => (&t[..t.len() - 1], 1e3),
        'M' => (&t[..t.len() - 1], 1e6),
        'G' => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    let v: f64 = num.trim().parse().ok()?;
    let bps = v * mult;
    (bps.is_finite() && bps > 0.0 && bps < 1e13).then_some(bps as u64)
}

fn parse_prob(p: &Prob) -> Option<f64> {
    let v = match p {
        Prob::Number(n) => *n,
        Prob::Text(t) => t.trim().strip_suffix('%')?.trim().parse::<f64>().ok()? / 100.0,
    };
    (0.0..=1.0).contains(&v).then_some(v)
}

impl Topology {
    /// Reads a topology from TOML text.
    pub fn parse(text: &str) -> Result<Topology> {
        let lines = Lines(text);
        let file: File = match toml::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                let line = e.span().map_or(1, |s| lines.line(s));
                return Err(TopologyError {
                    line,
                    message: e.message().trim().replace('\n', " "),
                });
            }
        };
        let mut names: BTreeMap<String, Range<usize>> = BTreeMap::new();
        let mut add_name = |n: &Spanned<String>| -> Result<()> {
            let v = n.get_ref();
            if v.is_empty() || v.contains(':') {
                return lines.err(n.span(), format!("bad node name {v:?} (non-empty, no ':')"));
            }
            if names.insert(v.clone(), n.span()).is_some() {
                return lines.err(n.span(), format!("node {v:?} is defined twice"));
            }
            Ok(())
        };
        for s in &file.switch {
            add_name(&s.name)?;
        }
        for h in file.host.iter().chain(&file.router) {
            add_name(&h.name)?;
        }
        let addr = |s: &Spanned<String>, what: &str| -> Result<Ipv4Addr> {
            s.get_ref().trim().parse().or_else(|_| {
                lines.err(
                    s.span(),
                    format!("{what}: {:?} is not an IPv4 address", s.get_ref()),
                )
            })
        };
        let cidr = |s: &Spanned<String>| -> Result<Ipv4Cidr> {
            let v = s.get_ref().trim();
            let bad = || {
                lines.err(
                    s.span(),
                    format!("{v:?} is not an address with a prefix length (10.0.0.1/24)"),
                )
            };
            let Some((a, l)) = v.split_once('/') else {
                return bad();
            };
            match (a.parse::<Ipv4Addr>(), l.parse::<u8>()) {
                (Ok(a), Ok(l)) => Ipv4Cidr::new(a, l).map_or_else(bad, Ok),
                _ => bad(),
            }
        };
        let duration = |s: &Spanned<String>| -> Result<Duration> {
            parse_duration(s.get_ref()).map_or_else(
                || {
                    lines.err(
                        s.span(),
                        format!("{:?} is not a duration (10ms, 1.5s, 2m)", s.get_ref()),
                    )
                },
                Ok,
            )
        };
        let mut hosts = Vec::new();
        for (h, router) in file
            .host
            .iter()
            .map(|h| (h, false))
            .chain(file.router.iter().map(|h| (h, true)))
        {
            let name = h.name.get_ref().clone();
            let mut ifs = Vec::new();
            if let Some(a) = &h.address {
                if !h.interfaces.is_empty() {
                    return lines.err(
                        a.span(),
                        format!("{name}: give `address` or `interfaces`, not both"),
                    );
                }
                ifs.push(a);
            }
            ifs.extend(h.interfaces.iter());
            if ifs.is_empty() {
                return lines.err(
                    h.name.span(),
                    format!("{name} has no `address` or `interfaces`"),
                );
            }
            let mut interfaces = Vec::new();
            for a in ifs {
                interfaces.push(if a.get_ref().trim() == "dhcp" {
                    Addressing::Dhcp
                } else {
                    Addressing::Static(cidr(a)?)
                });
            }
            let gateway = h.gateway.as_ref().map(|g| addr(g, "gateway")).transpose()?;
            let mut routes = Vec::new();
            for r in &h.routes {
                routes.push((cidr(&r.to)?, addr(&r.via, "via")?));
            }
            let dns = match &h.dns {
                None => None,
                Some(d) => {
                    let origin = Name::parse(d.zone.get_ref())
                        .or_else(|e| lines.err(d.zone.span(), format!("zone: {e}")))?;
                    let ns = Name::parse(&format!("ns.{origin}"))
                        .or_else(|e| lines.err(d.zone.span(), format!("zone: {e}")))?;
                    let mut z = Zone::new(origin.clone(), ns, 300);
                    for (label, a) in &d.records {
                        let owner = if label == "@" {
                            origin.clone()
                        } else {
                            Name::parse(&format!("{label}.{origin}")).or_else(|e| {
                                lines.err(a.span(), format!("record {label:?}: {e}"))
                            })?
                        };
                        let ip = addr(a, &format!("record {label:?}"))?;
                        z.add_a(owner, ip, d.ttl.unwrap_or(60))
                            .or_else(|e| lines.err(a.span(), e.to_string()))?;
                    }
                    Some(z)
                }
            };
            let dhcp = match &h.dhcp {
                None => None,
                Some(d) => {
                    let iface = d.interface.unwrap_or(0);
                    let Some(Addressing::Static(own)) = interfaces.get(iface).copied() else {
                        return lines.err(
                            d.pool.span(),
                            format!(
                                "{name}: a DHCP server needs a fixed address on interface {iface}"
                            ),
                        );
                    };
                    let bad_pool = || {
                        lines.err(
                            d.pool.span(),
                            format!(
                                "pool {:?}: want FIRST-LAST (10.0.0.100-10.0.0.199)",
                                d.pool.get_ref()
                            ),
                        )
                    };
                    let Some((s, e)) = d.pool.get_ref().split_once('-') else {
                        return bad_pool();
                    };
                    let (Ok(s), Ok(e)) = (s.trim().parse(), e.trim().parse()) else {
                        return bad_pool();
                    };
                    let mut cfg = ServerConfig::new(own, s, e);
                    cfg.router = d.router.as_ref().map(|r| addr(r, "router")).transpose()?;
                    cfg.dns_servers = d
                        .dns
                        .iter()
                        .map(|a| addr(a, "dns"))
                        .collect::<Result<_>>()?;
                    cfg.domain_name = d.domain.clone();
                    if let Some(l) = &d.lease {
                        cfg.lease_time = duration(l)?;
                    }
                    if let Err(e) = DhcpServer::new(cfg.clone()) {
                        return lines.err(d.pool.span(), e.to_string());
                    }
                    Some((iface, cfg))
                }
            };
            let nameservers = h
                .nameservers
                .iter()
                .map(|a| addr(a, "nameserver"))
                .collect::<Result<_>>()?;
            let nat = match &h.nat {
                None => None,
                Some(n) => {
                    let outside = n
                        .outside
                        .as_ref()
                        .map_or(interfaces.len() - 1, |o| *o.get_ref());
                    if outside >= interfaces.len() {
                        let span = n.outside.as_ref().map_or(h.name.span(), |o| o.span());
                        return lines.err(
                            span,
                            format!(
                                "{name}: nat outside = {outside}, but it has {} interface(s)",
                                interfaces.len()
                            ),
                        );
                    }
                    let mut cfg = NatConfig::default();
                    if let Some(f) = &n.filtering {
                        cfg.filtering = match f.get_ref().as_str() {
                            "address-dependent" => Filtering::AddressDependent,
                            "endpoint-independent" => Filtering::EndpointIndependent,
                            other => {
                                return lines.err(
                                    f.span(),
                                    format!("filtering = {other:?}: \"address-dependent\" or \"endpoint-independent\""),
                                )
                            }
                        };
                    }
                    if let Some(t) = &n.udp_timeout {
                        cfg.udp_timeout = duration(t)?;
                        // RFC 4787 REQ-5: not less than two minutes.
                        if cfg.udp_timeout < Duration::from_secs(120) {
                            return lines
                                .err(t.span(), "udp_timeout: at least 2m (RFC 4787 REQ-5)");
                        }
                    }
                    Some((outside, cfg))
                }
            };
            let ftp = h.ftp.as_ref().map(|f| {
                let mut fs = Fs::new();
                for (path, text) in &f.files {
                    fs.add_file(path, text.as_bytes());
                }
                (fs, f.writable)
            });
            let web = h.web.as_ref().map(|w| {
                w.files
                    .iter()
                    .map(|(p, t)| {
                        let p = if p.starts_with('/') {
                            p.clone()
                        } else {
                            format!("/{p}")
                        };
                        (p, t.as_bytes().to_vec())
                    })
                    .collect()
            });
            let mut actions = Vec::new();
            for cmd in &h.run {
                let text = cmd.get_ref().trim();
                let (verb, arg) = text
                    .split_once(' ')
                    .map_or((text, ""), |(v, a)| (v, a.trim()));
                let a = match verb {
                    "ping" => arg.parse().ok().map(Action::Ping),
                    "resolve" => Name::parse(arg)
                        .ok()
                        .filter(|_| !arg.is_empty())
                        .map(Action::Resolve),
                    "sleep" => parse_duration(arg).map(Action::Sleep),
                    "fetch" => parse_fetch(arg),
                    _ => None,
                };
                match a {
                    Some(a) => actions.push(a),
                    None => {
                        return lines.err(
                            cmd.span(),
                            format!("{name}: cannot run {text:?} (ping ADDRESS, resolve NAME, sleep DURATION, fetch http://HOST/PATH, fetch ftp://HOST/PATH [active])"),
                        )
                    }
                }
            }
            hosts.push(HostSpec {
                name,
                router,
                interfaces,
                gateway,
                routes,
                mtu: h.mtu.unwrap_or(1500),
                dns,
                dhcp,
                nameservers,
                nat,
                ftp,
                web,
                actions,
            });
        }
        // Ports: links take explicit ports or the next free one.
        let mut used: BTreeMap<String, Vec<bool>> = BTreeMap::new();
        let port_count = |n: &str| -> Option<usize> {
            hosts
                .iter()
                .find(|h| h.name == n)
                .map(|h| h.interfaces.len())
                .or_else(|| {
                    file.switch
                        .iter()
                        .find(|s| s.name.get_ref() == n)
                        .map(|s| s.ports.as_ref().map_or(usize::MAX, |p| *p.get_ref()))
                })
        };
        let mut links = Vec::new();
        for l in &file.link {
            let mut ends = Vec::new();
            for end in [&l.a, &l.b] {
                let v = end.get_ref();
                let (node, port) = match v.split_once(':') {
                    Some((n, p)) => match p.parse::<usize>() {
                        Ok(p) => (n, Some(p)),
                        Err(_) => {
                            return lines
                                .err(end.span(), format!("{v:?}: the port after ':' is a number"))
                        }
                    },
                    None => (v.as_str(), None),
                };
                let Some(max) = port_count(node) else {
                    return lines.err(end.span(), format!("no node named {node:?}"));
                };
                let u = used.entry(node.to_string()).or_default();
                let port = match port {
                    Some(p) => p,
                    None => u.iter().position(|&x| !x).unwrap_or(u.len()),
                };
                if port >= max {
                    return lines.err(
                        end.span(),
                        format!("{node} has {max} port(s); port {port} does not exist (a host has one per interface)"),
                    );
                }
                if u.len() <= port {
                    u.resize(port + 1, false);
                }
                if u[port] {
                    return lines.err(
                        end.span(),
                        format!("port {port} of {node} is already linked"),
                    );
                }
                u[port] = true;
                ends.push((node.to_string(), port));
            }
            if ends[0].0 == ends[1].0 {
                return lines.err(l.a.span(), format!("a link from {} to itself", ends[0].0));
            }
            let mut c = LinkConfig::default()
                .with_latency(Duration::from_micros(100))
                .with_bandwidth(100_000_000);
            if let Some(v) = &l.latency {
                c.latency = duration(v)?;
            }
            if let Some(v) = &l.jitter {
                c.jitter = duration(v)?;
            }
            if let Some(v) = &l.bandwidth {
                c.bandwidth_bps = parse_rate(v.get_ref()).map_or_else(
                    || {
                        lines.err(
                            v.span(),
                            format!("{:?} is not a rate (100Mbit, 1Gbit)", v.get_ref()),
                        )
                    },
                    Ok,
                )?;
            }
            if let Some(q) = l.queue {
                c.queue_limit = QueueLimit::Frames(q);
            }
            let prob = |p: &Spanned<Prob>, what: &str| -> Result<f64> {
                parse_prob(p.get_ref()).map_or_else(
                    || {
                        lines.err(
                            p.span(),
                            format!("{what}: a probability from 0 to 1, or a percentage (\"1%\")"),
                        )
                    },
                    Ok,
                )
            };
            if let Some(p) = &l.loss {
                c.loss = prob(p, "loss")?;
            }
            if let Some(b) = &l.burst_loss {
                if !(0.0..=1.0).contains(&b.enter) || !(0.0..=1.0).contains(&b.leave) {
                    return lines.err(l.a.span(), "burst_loss: enter and leave are probabilities");
                }
                c.burst_loss = Some(GilbertElliott::gilbert(b.enter, b.leave));
            }
            if let Some(p) = &l.duplicate {
                c.duplicate = prob(p, "duplicate")?;
            }
            if let Some(p) = &l.reorder {
                c.reorder = prob(p, "reorder")?;
            }
            if let Some(d) = &l.reorder_delay {
                c.reorder_delay = duration(d)?;
            }
            if let Some(p) = &l.corrupt {
                c.corrupt = prob(p, "corrupt")?;
            }
            for w in &l.partition {
                let [s, e] = w.get_ref().as_slice() else {
                    return lines.err(w.span(), "partition: [\"START\", \"END\"]");
                };
                let (Some(s), Some(e)) = (parse_duration(s), parse_duration(e)) else {
                    return lines.err(w.span(), "partition: two durations (\"2s\", \"3.5s\")");
                };
                if e <= s {
                    return lines.err(w.span(), "partition: the end comes before the start");
                }
                c.partitions.push((Instant::ZERO + s, Instant::ZERO + e));
            }
            if let Some(d) = &l.down_at {
                c.partitions
                    .push((Instant::ZERO + duration(d)?, Instant::MAX));
            }
            links.push(LinkSpec {
                a: ends[0].clone(),
                b: ends[1].clone(),
                config: c,
            });
        }
        let mut switches = Vec::new();
        for s in &file.switch {
            let stp = match &s.stp {
                None => None,
                Some(p) => Some(match p.get_ref().as_str() {
                    "stp" => Protocol::Stp,
                    "rstp" => Protocol::Rstp,
                    other => {
                        return lines.err(p.span(), format!("stp = {other:?}: \"stp\" or \"rstp\""))
                    }
                }),
            };
            let linked = used.get(s.name.get_ref()).map_or(0, Vec::len);
            let ports = s.ports.as_ref().map_or(linked.max(1), |p| *p.get_ref());
            if ports == 0 || ports > 64 {
                return lines.err(
                    s.name.span(),
                    format!("{}: 1 to 64 ports", s.name.get_ref()),
                );
            }
            switches.push(SwitchSpec {
                name: s.name.get_ref().clone(),
                stp,
                ports,
            });
        }
        // Every interface of a host is linked.
        for h in &hosts {
            let n = used
                .get(&h.name)
                .map_or(0, |u| u.iter().filter(|&&x| x).count());
            if n < h.interfaces.len() {
                let span = names.get(&h.name).cloned().unwrap_or(0..0);
                return lines.err(
                    span,
                    format!(
                        "{} has {} interface(s) but {n} link(s)",
                        h.name,
                        h.interfaces.len()
                    ),
                );
            }
        }
        let duration = file
            .duration
            .as_ref()
            .map(duration)
            .transpose()?
            .unwrap_or(Duration::from_secs(10));
        Ok(Topology {
            seed: file.seed.unwrap_or(1),
            duration,
            hosts,
            switches,
            links,
        })
    }

    /// Builds the network and runs it: spanning tree settles, DHCP clients
    /// get their leases, then every host's actions run. `pcap` records
    /// every link.
    pub fn run(
        &self,
        pcap: Option<Box<dyn std::io::Write>>,
    ) -> std::result::Result<LabRun, RunError> {
        let mut sim = Sim::new(self.seed);
        let mut ids: BTreeMap<String, NodeId> = BTreeMap::new();
        let mut servers: Vec<HostServers> = Vec::new();
        for (i, h) in self.hosts.iter().enumerate() {
            let cfg = StackConfig {
                seed: self.seed.wrapping_mul(1000).wrapping_add(i as u64 + 1),
                ..StackConfig::default()
            };
            let mut host = if h.router {
                Host::router(&h.name, cfg)
            } else {
                Host::new(&h.name, cfg)
            };
            for (p, a) in h.interfaces.iter().enumerate() {
                let mac = host_mac(i, p);
                match a {
                    Addressing::Static(c) => {
                        host.add_interface(mac, h.mtu, *c);
                    }
                    Addressing::Dhcp => {
                        host.stack_mut().add_interface(mac, h.mtu);
                    }
                }
            }
            for (prefix, via) in &h.routes {
                if let Some(r) = host
                    .stack()
                    .routes()
                    .lookup(*via)
                    .filter(|r| r.gateway.is_none())
                {
                    let iface = r.iface;
                    let _ = host.stack_mut().add_route(*prefix, Some(*via), iface);
                }
            }
            if let Some(g) = h.gateway {
                let _ = host.stack_mut().set_default_gateway(g);
            }
            if let Some((outside, cfg)) = h.nat {
                let _ = host
                    .stack_mut()
                    .enable_nat(strata::link::IfaceId(outside), cfg);
            }
            let id = sim.add_node(Box::new(host));
            ids.insert(h.name.clone(), id);
            let dns = h.dns.clone().map(|z| {
                let mut s = DnsServer::new();
                s.add_zone(z);
                shared(s)
            });
            let dhcp = h
                .dhcp
                .clone()
                .map(|(i, c)| (i, shared(DhcpServer::new(c).expect("checked when parsed"))));
            let ftp = h.ftp.clone().map(|(fs, writable)| {
                shared(FtpServer::new(
                    fs,
                    FtpConfig {
                        writable,
                        ..FtpConfig::default()
                    },
                ))
            });
            let web = h.web.clone().map(|f| shared(WebServer::new(f)));
            servers.push(HostServers {
                name: h.name.clone(),
                dns: dns.clone(),
                dhcp: dhcp.as_ref().map(|(_, s)| s.clone()),
                ftp: ftp.clone(),
                web: web.clone(),
                nat: h.nat.is_some().then_some(id),
            });
            if dns.is_some() || dhcp.is_some() || ftp.is_some() || web.is_some() {
                Services {
                    dns,
                    dhcp,
                    ftp,
                    web,
                }
                .install(&mut sim, id)?;
            }
        }
        for (i, s) in self.switches.iter().enumerate() {
            let mut sw = Switch::named(&s.name, s.ports);
            if let Some(p) = s.stp {
                sw = sw.with_spanning_tree(
                    BridgeConfig::new(p),
                    MacAddr([0x02, 0x5a, 0, 0, i as u8, 0]),
                );
                // Ports to hosts and routers are edge ports (802.1D-2004
                // §17.13.1, "PortFast"): no bridge behind them, so they
                // forward at once instead of after two forward delays.
                if let Some(t) = sw.spanning_tree_mut() {
                    for l in &self.links {
                        for (me, other) in [(&l.a, &l.b), (&l.b, &l.a)] {
                            if me.0 == s.name && self.hosts.iter().any(|h| h.name == other.0) {
                                t.set_edge(me.1, true);
                            }
                        }
                    }
                }
            }
            ids.insert(s.name.clone(), sim.add_node(Box::new(sw)));
        }
        for l in &self.links {
            sim.connect((ids[&l.a.0], l.a.1), (ids[&l.b.0], l.b.1), l.config.clone())?;
        }
        if let Some(out) = pcap {
            sim.tap_all_links(out)?;
        }
        // Spanning tree settles first (802.1D needs twice the forward delay).
        let stp = self.switches.iter().any(|s| s.stp.is_some());
        let settle = if self.switches.iter().any(|s| s.stp == Some(Protocol::Stp)) {
            Duration::from_secs(31)
        } else if stp {
            Duration::from_secs(3)
        } else {
            Duration::from_millis(1)
        };
        sim.run_until(Instant::ZERO + settle);
        let stp_converged = stp.then(|| {
            self.switches
                .iter()
                .filter_map(|s| sim.node::<Switch>(ids[&s.name]))
                .filter_map(|sw| sw.spanning_tree().and_then(|t| t.last_change()))
                .max()
        });
        // DHCP clients.
        let mut dc = DhcpClients::new();
        let mut client_of = Vec::new();
        for (i, h) in self.hosts.iter().enumerate() {
            for (p, a) in h.interfaces.iter().enumerate() {
                if *a == Addressing::Dhcp {
                    let c = DhcpClient::new(host_mac(i, p), self.seed ^ (i as u64) << 8 ^ p as u64);
                    let k = dc.add(&mut sim, ids[&h.name], p, c)?;
                    client_of.push((h.name.clone(), p, k));
                }
            }
        }
        let dhcp_done = if dc.is_empty() {
            None
        } else {
            let start = sim.now();
            dc.run_until_bound(&mut sim, start + Duration::from_secs(120))
                .map(|t| t.saturating_duration_since(start))
        };
        let leases = client_of
            .iter()
            .map(|(n, p, k)| (n.clone(), *p, dc.client(*k).lease().map(|l| l.addr)))
            .collect();
        // Actions.
        let mut results = Vec::new();
        let act_start = sim.now();
        for (i, h) in self.hosts.iter().enumerate() {
            let id = ids[&h.name];
            let mut nameservers = h.nameservers.clone();
            if nameservers.is_empty() {
                nameservers = client_of
                    .iter()
                    .filter(|(n, _, _)| *n == h.name)
                    .filter_map(|(_, _, k)| dc.client(*k).lease())
                    .flat_map(|l| l.dns_servers.clone())
                    .collect();
            }
            for a in &h.actions {
                match a {
                    Action::Ping(dst) => {
                        let mut got = 0;
                        let mut rtt = None;
                        for seq in 1..=3u16 {
                            let ident = 0x5100 + i as u16;
                            sim.with_node(id, |host: &mut Host, now| {
                                host.take_events();
                                let _ = host.stack_mut().ping(now, *dst, ident, seq, &[0; 56]);
                            });
                            sim.run_for(Duration::from_secs(1));
                            let host = sim.node::<Host>(id).expect("a host");
                            for (_, e) in host.events() {
                                if let Event::EchoReply {
                                    ident: id2,
                                    seq: s2,
                                    rtt: r,
                                    ..
                                } = e
                                {
                                    if *id2 == ident && *s2 == seq {
                                        got += 1;
                                        rtt.get_or_insert(*r);
                                    }
                                }
                            }
                        }
                        results.push((
                            h.name.clone(),
                            a.clone(),
                            if got > 0 {
                                format!(
                                    "{got}/3 replies, first rtt {:.3} ms",
                                    rtt.unwrap_or_default().as_secs_f64() * 1e3
                                )
                            } else {
                                "no reply".to_string()
                            },
                        ));
                    }
                    Action::Sleep(d) => {
                        sim.run_for(*d);
                        results.push((
                            h.name.clone(),
                            a.clone(),
                            format!("until {:.3} s", sim.now().as_nanos() as f64 / 1e9),
                        ));
                    }
                    Action::Resolve(name) => {
                        let text = match lookup(&mut sim, id, &nameservers, self.seed, name) {
                            Ok((addrs, elapsed)) if !addrs.is_empty() => format!(
                                "{} ({} ms)",
                                addrs
                                    .iter()
                                    .map(|a| a.to_string())
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                elapsed.as_millis()
                            ),
                            Ok(_) => "no address".to_string(),
                            Err(e) => e,
                        };
                        results.push((h.name.clone(), a.clone(), text));
                    }
                    Action::Fetch {
                        ftp,
                        host,
                        path,
                        active,
                        ..
                    } => {
                        let server = match host.parse::<Ipv4Addr>() {
                            Ok(ip) => Ok(ip),
                            Err(_) => match Name::parse(host) {
                                Ok(n) => lookup(&mut sim, id, &nameservers, self.seed, &n)
                                    .and_then(|(a, _)| {
                                        a.first().copied().ok_or("no address".to_string())
                                    }),
                                Err(e) => Err(e.to_string()),
                            },
                        };
                        let text = match server {
                            Err(e) => format!("{host}: {e}"),
                            Ok(ip) if *ftp => fetch_ftp(&mut sim, id, ip, path, *active)?,
                            Ok(ip) => match http_get(
                                &mut sim,
                                id,
                                ip,
                                host,
                                path,
                                Duration::from_secs(30),
                            )? {
                                Ok(r) => format!(
                                    "{} from {ip}, {} bytes in {:.3} ms",
                                    r.status,
                                    r.body.len(),
                                    r.elapsed.as_secs_f64() * 1e3
                                ),
                                Err(e) => format!("{ip}: {e}"),
                            },
                        };
                        results.push((h.name.clone(), a.clone(), text));
                    }
                }
                if sim.now().saturating_duration_since(act_start) > self.duration {
                    break;
                }
            }
        }
        sim.flush_taps()?;
        let mut service_lines = Vec::new();
        for HostServers {
            name,
            dns,
            dhcp,
            ftp,
            web,
            nat,
        } in &servers
        {
            if let Some(n) = nat
                .and_then(|id| sim.node::<Host>(id))
                .and_then(|h| h.stack().nat())
            {
                let st = n.stats();
                service_lines.push(format!(
                    "{name}: nat: {} mappings made ({} live), {} out, {} in, {} ICMP errors translated, {} unsolicited dropped",
                    st.mappings_created,
                    n.mapping_count(),
                    st.translated_out,
                    st.translated_in,
                    st.icmp_errors_translated,
                    st.dropped_unsolicited
                ));
            }
            if let Some(w) = web {
                let w = w.borrow();
                let st = w.stats();
                let mut from: Vec<String> = st.clients.iter().map(|c| c.ip().to_string()).collect();
                from.dedup();
                service_lines.push(format!(
                    "{name}: web server: {} ok, {} not found; clients seen: {}",
                    st.ok,
                    st.not_found,
                    if from.is_empty() {
                        "none".to_string()
                    } else {
                        from.join(", ")
                    }
                ));
            }
            if let Some(f) = ftp {
                let st = f.borrow().stats();
                service_lines.push(format!(
                    "{name}: ftp server: {} sessions, {} files sent, {} listings, {} stored, {} error replies",
                    st.sessions, st.files_sent, st.listings, st.files_stored, st.errors
                ));
            }
            if let Some(d) = dns {
                let st = d.borrow().stats();
                service_lines.push(format!(
                    "{name}: dns server: {} answered, {} NXDOMAIN, {} refused",
                    st.answered, st.nxdomain, st.refused
                ));
            }
            if let Some(d) = dhcp {
                let st = d.borrow().stats();
                service_lines.push(format!(
                    "{name}: dhcp server: {} offers, {} acks, {} naks",
                    st.offers, st.acks, st.naks
                ));
            }
        }
        let switches = self
            .switches
            .iter()
            .map(|s| {
                let sw = sim.node::<Switch>(ids[&s.name]).expect("a switch");
                let ports = (0..s.ports)
                    .map(|p| {
                        let role = sw.spanning_tree().and_then(|t| t.role(p)).map(|r| r.name());
                        let state = sw.port_state(p).map(|st| st.name());
                        (role, state)
                    })
                    .collect();
                (s.name.clone(), ports)
            })
            .collect();
        Ok(LabRun {
            sim,
            stp_converged: stp_converged.flatten(),
            dhcp_done,
            leases,
            results,
            switches,
            services: service_lines,
        })
    }
}

/// Looks `name` up from `host` through `nameservers`: its addresses and
/// the time it took, or why not.
fn lookup(
    sim: &mut Sim,
    host: NodeId,
    nameservers: &[Ipv4Addr],
    seed: u64,
    name: &Name,
) -> std::result::Result<(Vec<Ipv4Addr>, Duration), String> {
    if nameservers.is_empty() {
        return Err("no name server (set `nameservers` or get one from DHCP)".to_string());
    }
    let r = Resolver::new(nameservers.iter().map(|&a| dns_server(a)).collect(), seed);
    match resolve(
        sim,
        host,
        r,
        &[(name.clone(), Type::A)],
        Duration::from_secs(20),
    ) {
        Ok(out) => match &out.results[0].2 {
            Ok(ans) => Ok((ans.addresses.clone(), ans.elapsed)),
            Err(ResolveError::NxDomain(_)) => Err("NXDOMAIN".to_string()),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
    }
}

/// Fetches `path` (a listing when it ends in `/`) from the FTP server at
/// `server` as anonymous; one line saying what came back.
fn fetch_ftp(
    sim: &mut Sim,
    host: NodeId,
    server: Ipv4Addr,
    path: &str,
    active: bool,
) -> std::result::Result<String, RunError> {
    let mode = if active {
        FtpMode::Active
    } else {
        FtpMode::ExtendedPassive
    };
    let mut c = FtpClient::anonymous(server, mode);
    let req = if path.ends_with('/') {
        Request::Nlst(Some(path.to_string()))
    } else {
        Request::Retr(path.to_string())
    };
    c.request(req);
    c.quit();
    let out = ftp_session(sim, host, server, c, Duration::from_secs(30))?;
    let how = if active { "active" } else { "passive" };
    for e in &out.events {
        match e {
            ClientEvent::LoginFailed(e) => return Ok(format!("{server}: login failed: {e}")),
            ClientEvent::Done(Request::Nlst(_), Ok(Response::Data(d))) => {
                let names: Vec<String> = String::from_utf8_lossy(d)
                    .lines()
                    .map(str::to_string)
                    .collect();
                return Ok(format!(
                    "{} names from {server} ({how}): {}",
                    names.len(),
                    names.join(" ")
                ));
            }
            ClientEvent::Done(_, Ok(Response::Data(d))) => {
                return Ok(format!(
                    "{} bytes from {server} in {:.3} ms ({how})",
                    d.len(),
                    out.elapsed.as_secs_f64() * 1e3
                ))
            }
            ClientEvent::Done(_, Err(e)) => return Ok(format!("{server}: {e} ({how})")),
            _ => {}
        }
    }
    Ok(format!("{server}: no answer ({how})"))
}

/// The MAC address of port `p` of the `i`-th host of a topology.
fn host_mac(i: usize, p: usize) -> MacAddr {
    MacAddr([0x02, 0x10, 0, (i >> 8) as u8, i as u8, p as u8])
}

/// A switch port as the run left it: spanning tree role and state.
pub type PortView = (Option<&'static str>, Option<&'static str>);

/// The servers of one host.
struct HostServers {
    name: String,
    dns: Option<Shared<DnsServer>>,
    dhcp: Option<Shared<DhcpServer>>,
    ftp: Option<Shared<FtpServer>>,
    web: Option<Shared<WebServer>>,
    /// The node, when it does NAT.
    nat: Option<NodeId>,
}

/// What [`Topology::run`] did.
pub struct LabRun {
    /// The simulation after the run (links, counters, nodes).
    pub sim: Sim,
    /// When the last spanning tree port changed (if any switch ran it).
    pub stp_converged: Option<Instant>,
    /// How long DHCP took until every client was bound (`None`: no
    /// client, or not every client got a lease).
    pub dhcp_done: Option<Duration>,
    /// Each DHCP client's lease: (host, interface, address).
    pub leases: Vec<(String, usize, Option<Ipv4Cidr>)>,
    /// Each action's result: (host, action, outcome).
    pub results: Vec<(String, Action, String)>,
    /// Each switch's ports: (role, state) when known.
    pub switches: Vec<(String, Vec<PortView>)>,
    /// One line per server: what it answered.
    pub services: Vec<String>,
}

impl fmt::Display for LabRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = self.stp_converged {
            writeln!(
                f,
                "spanning tree converged {:.6} s after power-on",
                t.as_nanos() as f64 / 1e9
            )?;
        }
        for (name, ports) in &self.switches {
            if ports.iter().any(|(r, _)| r.is_some()) {
                let list: Vec<String> = ports
                    .iter()
                    .enumerate()
                    .map(|(i, (r, s))| format!("{i}:{}/{}", r.unwrap_or("-"), s.unwrap_or("-")))
                    .collect();
                writeln!(f, "  {name}: {}", list.join(" "))?;
            }
        }
        for (host, port, lease) in &self.leases {
            match lease {
                Some(a) => writeln!(
                    f,
                    "dhcp: {host} port {port} leased {}/{}",
                    a.address(),
                    a.prefix_len()
                )?,
                None => writeln!(f, "dhcp: {host} port {port} got no lease")?,
            }
        }
        if let Some(d) = self.dhcp_done {
            writeln!(f, "dhcp: every client bound after {:.3} s", d.as_secs_f64())?;
        }
        for (host, action, out) in &self.results {
            match action {
                Action::Ping(a) => writeln!(f, "{host}: ping {a}: {out}")?,
                Action::Resolve(n) => writeln!(f, "{host}: resolve {n}: {out}")?,
                Action::Sleep(d) => writeln!(f, "{host}: sleep {:.3} s: {out}", d.as_secs_f64())?,
                Action::Fetch { url, active, .. } => {
                    let mode = if *active { " active" } else { "" };
                    writeln!(f, "{host}: fetch {url}{mode}: {out}")?
                }
            }
        }
        for l in &self.services {
            writeln!(f, "{l}")?;
        }
        write!(f, "{}", self.sim.stats_table())
    }
}

impl fmt::Debug for LabRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabRun")
            .field("stp_converged", &self.stp_converged)
            .field("dhcp_done", &self.dhcp_done)
            .field("leases", &self.leases)
            .field("results", &self.results)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_rates_and_probabilities() {
        assert_eq!(parse_duration("10ms"), Some(Duration::from_millis(10)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_rate("100Mbit"), Some(100_000_000));
        assert_eq!(parse_rate("1.5Gbit"), Some(1_500_000_000));
        assert_eq!(parse_rate("fast"), None);
        assert_eq!(parse_prob(&Prob::Text("1%".into())), Some(0.01));
        assert_eq!(parse_prob(&Prob::Number(0.2)), Some(0.2));
        assert_eq!(parse_prob(&Prob::Number(2.0)), None);
    }
}
