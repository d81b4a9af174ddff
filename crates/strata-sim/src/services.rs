//! The services of a small network run by simulated hosts: the sans-IO
//! state machines of [`strata::app`] wired to a host's UDP sockets.
//!
//! A server is installed as the host's application ([`Host::set_app`]): it
//! answers each datagram the moment it arrives, in virtual time. Clients
//! are driven from outside: [`resolve`] runs the simulation until a
//! resolver's lookups finish, [`DhcpClients`] until hosts hold leases, and
//! applies each lease to its host's stack (address, default route). FTP
//! is in [`crate::ftp`].
//!
//! Servers keep their state behind an `Rc<RefCell<_>>` ([`Shared`]) so a
//! test or the CLI can read their counters after the run; the simulator is
//! single-threaded.

use std::cell::RefCell;
use std::net::SocketAddrV4;
use std::rc::Rc;

use strata::app::dhcp::client::{Client as DhcpClient, ClientEvent, State as DhcpState};
use strata::app::dhcp::server::Server as DhcpServer;
use strata::app::dhcp::{CLIENT_PORT as DHCP_CLIENT_PORT, SERVER_PORT as DHCP_SERVER_PORT};
use strata::app::dns::resolver::{Answer, QueryId, ResolveError, Resolver};
use strata::app::dns::server::Server as DnsServer;
use strata::app::dns::PORT as DNS_PORT;
use strata::link::IfaceId;
use strata::stack::{Event, Stack};
use strata::time::{Duration, Instant};
use strata::transport::udp::{UdpError, UdpHandle};
use strata::wire::dns::{Name, Type};

use crate::ftp::FtpServer;
use crate::host::Host;
use crate::node::NodeId;
use crate::sim::Sim;
use crate::web::WebServer;

/// A service's state, shared between the host running it and the caller.
pub type Shared<T> = Rc<RefCell<T>>;

/// Why a service could not be started on a node.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The node is not a [`Host`].
    #[error("node {0:?} is not a host")]
    NotAHost(NodeId),
    /// The service's socket could not be opened.
    #[error("socket: {0}")]
    Socket(#[from] UdpError),
    /// A TCP socket could not be opened.
    #[error("tcp: {0}")]
    Tcp(strata::transport::tcp::TcpError),
}

/// The servers one host runs (any combination).
#[derive(Default)]
pub struct Services {
    /// An authoritative DNS server on UDP port 53.
    pub dns: Option<Shared<DnsServer>>,
    /// A DHCP server on UDP port 67, answering on the interface given
    /// (the index of the host's interface on the server's subnet).
    pub dhcp: Option<(usize, Shared<DhcpServer>)>,
    /// An FTP server on TCP port 21.
    pub ftp: Option<Shared<FtpServer>>,
    /// A web server on TCP port 80.
    pub web: Option<Shared<WebServer>>,
}

/// Answers every DHCP datagram queued on `sock`.
fn serve_dhcp(
    now: Instant,
    stack: &mut Stack,
    sock: UdpHandle,
    iface: usize,
    server: &Shared<DhcpServer>,
) {
    while let Ok(Some(d)) = stack.udp_recv_from(sock) {
        let reply = server.borrow_mut().handle(now, &d.payload);
        let Some(r) = reply else { continue };
        let src = server.borrow().config().server.address();
        let _ = if r.to.ip().is_broadcast() {
            // Out of the subnet's interface, from the server's address.
            stack.udp_send_on(now, sock, IfaceId(iface), src, r.to, &r.payload)
        } else {
            stack.udp_send_to(now, sock, r.to, &r.payload)
        };
    }
}

impl Services {
    /// Starts every server in `self` on `host` and makes them its
    /// application.
    pub fn install(self, sim: &mut Sim, host: NodeId) -> Result<(), ServiceError> {
        sim.with_node(host, |h: &mut Host, _| -> Result<(), ServiceError> {
            let dns = match self.dns {
                Some(s) => Some((h.stack_mut().udp_bind(None, DNS_PORT)?, s)),
                None => None,
            };
            let dhcp = match self.dhcp {
                Some((iface, s)) => {
                    let sock = h.stack_mut().udp_bind(None, DHCP_SERVER_PORT)?;
                    h.stack_mut().udp_set_broadcast(sock, true)?;
                    Some((sock, iface, s))
                }
                None => None,
            };
            let ftp = self.ftp;
            if let Some(f) = &ftp {
                f.borrow_mut()
                    .start(h.stack_mut())
                    .map_err(ServiceError::Tcp)?;
            }
            let web = self.web;
            if let Some(w) = &web {
                w.borrow_mut()
                    .start(h.stack_mut())
                    .map_err(ServiceError::Tcp)?;
            }
            h.set_app(Box::new(move |now, stack, ev| {
                if matches!(ev, Event::Tcp(_)) {
                    if let Some(f) = &ftp {
                        f.borrow_mut().pump(now, stack);
                    }
                    if let Some(w) = &web {
                        w.borrow_mut().pump(now, stack);
                    }
                }
                let Event::UdpReadable(sock) = *ev else {
                    return;
                };
                if let Some((dsock, iface, server)) = &dhcp {
                    if sock == *dsock {
                        serve_dhcp(now, stack, sock, *iface, server);
                    }
                }
                if let Some((dsock, server)) = &dns {
                    if sock == *dsock {
                        while let Ok(Some(d)) = stack.udp_recv_from(sock) {
                            let reply = server.borrow_mut().answer(&d.payload);
                            if let Some(reply) = reply {
                                let _ = stack.udp_send_to(now, sock, d.from, &reply);
                            }
                        }
                    }
                }
            }));
            Ok(())
        })
        .ok_or(ServiceError::NotAHost(host))?
    }
}

/// Wraps a server for [`Services`].
pub fn shared<T>(t: T) -> Shared<T> {
    Rc::new(RefCell::new(t))
}

/// The outcome of [`resolve`].
#[derive(Debug)]
pub struct Lookups {
    /// Each lookup's result, in the order asked.
    pub results: Vec<(Name, Type, Result<Answer, ResolveError>)>,
    /// The resolver afterwards (its counters).
    pub resolver: Resolver,
}

/// Runs `resolver` on `host` for `questions` (all asked at once, from one
/// ephemeral UDP socket) until every lookup has finished or `max` of
/// virtual time has passed; unfinished ones end as
/// [`ResolveError::Timeout`] with 0 attempts.
pub fn resolve(
    sim: &mut Sim,
    host: NodeId,
    mut resolver: Resolver,
    questions: &[(Name, Type)],
    max: Duration,
) -> Result<Lookups, ServiceError> {
    let sock = sim
        .with_node(host, |h: &mut Host, _| h.stack_mut().udp_bind(None, 0))
        .ok_or(ServiceError::NotAHost(host))??;
    let start = sim.now();
    let ids: Vec<QueryId> = questions
        .iter()
        .map(|(n, t)| resolver.query(start, n.clone(), *t))
        .collect();
    let mut done: Vec<Option<Result<Answer, ResolveError>>> = vec![None; ids.len()];
    let end = start + max;
    loop {
        sim.with_node(host, |h: &mut Host, now| {
            let stack = h.stack_mut();
            while let Ok(Some(d)) = stack.udp_recv_from(sock) {
                resolver.handle_datagram(now, d.from, &d.payload);
            }
            resolver.handle_timeout(now);
            while let Some(t) = resolver.poll_transmit() {
                let _ = stack.udp_send_to(now, sock, t.to, &t.payload);
            }
        });
        while let Some((id, r)) = resolver.poll_result() {
            if let Some(i) = ids.iter().position(|&q| q == id) {
                done[i] = Some(r);
            }
        }
        let now = sim.now();
        if done.iter().all(Option::is_some) || now >= end {
            break;
        }
        // Wake at the resolver's timer or a millisecond on, whichever is
        // first, so answers are read as they arrive.
        let next = resolver
            .poll_timeout()
            .unwrap_or(end)
            .min(now + Duration::from_millis(1))
            .min(end)
            .max(now + Duration::from_micros(1));
        sim.run_until(next);
    }
    sim.with_node(host, |h: &mut Host, _| h.stack_mut().udp_close(sock));
    let results = questions
        .iter()
        .zip(done)
        .map(|((n, t), r)| (n.clone(), *t, r.unwrap_or(Err(ResolveError::Timeout(0)))))
        .collect();
    Ok(Lookups { results, resolver })
}

/// The address of a DNS server on port 53.
pub fn dns_server(addr: std::net::Ipv4Addr) -> SocketAddrV4 {
    SocketAddrV4::new(addr, DNS_PORT)
}

/// A starting instant for service scenarios: after the first millisecond,
/// when every interface is up.
pub const START: Instant = Instant::from_millis(1);

/// One host's DHCP client in [`DhcpClients`].
#[derive(Debug)]
struct Managed {
    node: NodeId,
    iface: IfaceId,
    sock: UdpHandle,
    client: DhcpClient,
    events: Vec<ClientEvent>,
}

/// DHCP clients on simulated hosts: each runs on one interface from UDP
/// port 68, and its leases are applied to the host's stack as they come
/// and go (address and prefix, default route through the first router).
#[derive(Debug, Default)]
pub struct DhcpClients {
    clients: Vec<Managed>,
}

impl DhcpClients {
    /// No clients yet.
    pub fn new() -> DhcpClients {
        DhcpClients::default()
    }

    /// Starts `client` on interface `iface` of `host` (which may have no
    /// address); returns its index.
    pub fn add(
        &mut self,
        sim: &mut Sim,
        host: NodeId,
        iface: usize,
        mut client: DhcpClient,
    ) -> Result<usize, ServiceError> {
        let sock = sim
            .with_node(host, |h: &mut Host, now| -> Result<UdpHandle, UdpError> {
                let s = h.stack_mut().udp_bind(None, DHCP_CLIENT_PORT)?;
                h.stack_mut().udp_set_broadcast(s, true)?;
                client.start(now);
                Ok(s)
            })
            .ok_or(ServiceError::NotAHost(host))??;
        self.clients.push(Managed {
            node: host,
            iface: IfaceId(iface),
            sock,
            client,
            events: Vec::new(),
        });
        self.step(sim);
        Ok(self.clients.len() - 1)
    }

    /// Client `i`.
    pub fn client(&self, i: usize) -> &DhcpClient {
        &self.clients[i].client
    }

    /// The events client `i` has had.
    pub fn events(&self, i: usize) -> &[ClientEvent] {
        &self.clients[i].events
    }

    /// The number of clients.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// True when there is no client.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Feeds every client what arrived, runs its timers, sends what it has
    /// and applies its lease changes to the host.
    fn step(&mut self, sim: &mut Sim) {
        for m in &mut self.clients {
            sim.with_node(m.node, |h: &mut Host, now| {
                let stack = h.stack_mut();
                while let Ok(Some(d)) = stack.udp_recv_from(m.sock) {
                    m.client.handle_datagram(now, &d.payload);
                }
                m.client.handle_timeout(now);
                while let Some(ev) = m.client.poll_event() {
                    apply(stack, m.iface, &ev);
                    m.events.push(ev);
                }
                while let Some(t) = m.client.poll_transmit() {
                    let _ = if t.to.ip().is_broadcast() {
                        stack.udp_send_on(now, m.sock, m.iface, t.src, t.to, &t.payload)
                    } else {
                        stack.udp_send_to(now, m.sock, t.to, &t.payload)
                    };
                }
            });
        }
    }

    /// Runs the simulation with the clients until `t`.
    pub fn run_until(&mut self, sim: &mut Sim, t: Instant) {
        loop {
            self.step(sim);
            let now = sim.now();
            if now >= t {
                break;
            }
            let next = self
                .clients
                .iter()
                .filter_map(|m| m.client.poll_timeout())
                .min()
                .unwrap_or(t)
                .min(now + Duration::from_millis(1))
                .min(t)
                .max(now + Duration::from_micros(1));
            sim.run_until(next);
        }
    }

    /// Runs until every client is bound (returns when) or `max` passes.
    pub fn run_until_bound(&mut self, sim: &mut Sim, max: Instant) -> Option<Instant> {
        loop {
            self.step(sim);
            let now = sim.now();
            if self
                .clients
                .iter()
                .all(|m| m.client.state() == DhcpState::Bound)
            {
                return Some(now);
            }
            if now >= max {
                return None;
            }
            self.run_until(sim, (now + Duration::from_millis(1)).min(max));
        }
    }
}

/// Applies a lease change to `stack`'s interface `iface`.
fn apply(stack: &mut Stack, iface: IfaceId, ev: &ClientEvent) {
    match ev {
        ClientEvent::Bound(l) => {
            if stack.add_address(iface, l.addr).is_ok() {
                if let Some(&gw) = l.routers.first() {
                    let _ = stack.set_default_gateway(gw);
                }
            }
        }
        ClientEvent::Renewed(_) => {}
        ClientEvent::Lost(l) => {
            let _ = stack.remove_address(iface, l.addr.address());
        }
    }
}
