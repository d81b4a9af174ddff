//! The services of a small network run by simulated hosts: the sans-IO
//! state machines of [`strata::app`] wired to a host's UDP sockets.
//!
//! A server is installed as the host's application ([`Host::set_app`]): it
//! answers each datagram the moment it arrives, in virtual time. A client
//! (the resolver) is driven from outside by [`resolve`], which runs the
//! simulation until its lookups finish.
//!
//! Servers keep their state behind an `Rc<RefCell<_>>` ([`Shared`]) so a
//! test or the CLI can read their counters after the run; the simulator is
//! single-threaded.

use std::cell::RefCell;
use std::net::SocketAddrV4;
use std::rc::Rc;

use strata::app::dns::resolver::{Answer, QueryId, ResolveError, Resolver};
use strata::app::dns::server::Server as DnsServer;
use strata::app::dns::PORT as DNS_PORT;
use strata::stack::Event;
use strata::time::{Duration, Instant};
use strata::transport::udp::UdpError;
use strata::wire::dns::{Name, Type};

use crate::host::Host;
use crate::node::NodeId;
use crate::sim::Sim;

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
}

/// The servers one host runs (any combination).
#[derive(Default)]
pub struct Services {
    /// An authoritative DNS server on UDP port 53.
    pub dns: Option<Shared<DnsServer>>,
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
            h.set_app(Box::new(move |now, stack, ev| {
                let Event::UdpReadable(sock) = *ev else {
                    return;
                };
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
