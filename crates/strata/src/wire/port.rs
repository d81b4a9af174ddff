//! Transport-layer ports as the lesson teaches them: a 16-bit number
//! (0–65535) that picks the application on a host, the three IANA ranges
//! (RFC 6335 §6), and a table of well-known services.

use core::fmt;

/// The IANA port ranges (RFC 6335 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortRange {
    /// 0–1023: system ("well-known") ports, assigned by IETF review; binding
    /// them usually needs privileges.
    WellKnown,
    /// 1024–49151: user ("registered") ports, assigned by IANA on request.
    Registered,
    /// 49152–65535: dynamic/private ports, never assigned; clients take
    /// their ephemeral ports from here (RFC 6056 §3.2).
    Dynamic,
}

impl PortRange {
    /// The range a port falls in.
    pub const fn of(port: u16) -> Self {
        // RFC 6335 §6: 0-1023 system, 1024-49151 user, 49152-65535 dynamic.
        match port {
            0..=1023 => PortRange::WellKnown,
            1024..=49151 => PortRange::Registered,
            _ => PortRange::Dynamic,
        }
    }
    /// First and last port of the range.
    pub const fn bounds(self) -> (u16, u16) {
        match self {
            PortRange::WellKnown => (0, 1023),
            PortRange::Registered => (1024, 49151),
            PortRange::Dynamic => (49152, 65535),
        }
    }
    /// The range's name: `"well-known"`, `"registered"` or `"dynamic"`.
    pub const fn name(self) -> &'static str {
        match self {
            PortRange::WellKnown => "well-known",
            PortRange::Registered => "registered",
            PortRange::Dynamic => "dynamic",
        }
    }
    /// One sentence on what the range is for.
    pub const fn description(self) -> &'static str {
        match self {
            PortRange::WellKnown => {
                "system ports, assigned by the IETF; servers bind them (needs privileges on most OSes)"
            }
            PortRange::Registered => "user ports, registered with IANA by applications",
            PortRange::Dynamic => {
                "dynamic/private ports, never assigned; clients pick ephemeral ports here"
            }
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The transport protocol(s) a service is used over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP only.
    Tcp,
    /// UDP only.
    Udp,
    /// Both TCP and UDP.
    TcpUdp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
            Transport::TcpUdp => "TCP/UDP",
        })
    }
}

/// A service commonly found on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The port number.
    pub port: u16,
    /// TCP, UDP or both.
    pub transport: Transport,
    /// Short name, e.g. `"SSH"`.
    pub name: &'static str,
    /// What it is, e.g. `"Secure Shell remote login"`.
    pub description: &'static str,
}

const fn svc(
    port: u16,
    transport: Transport,
    name: &'static str,
    description: &'static str,
) -> Service {
    Service {
        port,
        transport,
        name,
        description,
    }
}

use Transport::{Tcp, TcpUdp, Udp};

/// Well-known services, sorted by port (IANA service registry, plus the
/// development servers a learner meets on `localhost`).
pub static SERVICES: [Service; 49] = [
    svc(
        20,
        Tcp,
        "FTP-DATA",
        "File Transfer Protocol, data connection (RFC 959)",
    ),
    svc(
        21,
        Tcp,
        "FTP",
        "File Transfer Protocol, control connection (RFC 959)",
    ),
    svc(22, Tcp, "SSH", "Secure Shell remote login (RFC 4253)"),
    svc(23, Tcp, "Telnet", "unencrypted remote terminal (RFC 854)"),
    svc(25, Tcp, "SMTP", "mail transfer between servers (RFC 5321)"),
    svc(53, TcpUdp, "DNS", "Domain Name System (RFC 1035)"),
    svc(67, Udp, "DHCP", "DHCP/BOOTP server (RFC 2131)"),
    svc(68, Udp, "DHCP", "DHCP/BOOTP client (RFC 2131)"),
    svc(69, Udp, "TFTP", "Trivial File Transfer Protocol (RFC 1350)"),
    svc(80, Tcp, "HTTP", "the web, unencrypted (RFC 9112)"),
    svc(
        110,
        Tcp,
        "POP3",
        "Post Office Protocol, mail retrieval (RFC 1939)",
    ),
    svc(123, Udp, "NTP", "Network Time Protocol (RFC 5905)"),
    svc(137, Udp, "NetBIOS-NS", "NetBIOS name service (RFC 1002)"),
    svc(
        143,
        Tcp,
        "IMAP",
        "Internet Message Access Protocol, mail retrieval (RFC 9051)",
    ),
    svc(
        161,
        Udp,
        "SNMP",
        "Simple Network Management Protocol (RFC 3411)",
    ),
    svc(162, Udp, "SNMP-trap", "SNMP notifications (RFC 3411)"),
    svc(
        179,
        Tcp,
        "BGP",
        "Border Gateway Protocol, routing between networks (RFC 4271)",
    ),
    svc(
        389,
        Tcp,
        "LDAP",
        "Lightweight Directory Access Protocol (RFC 4511)",
    ),
    svc(
        443,
        TcpUdp,
        "HTTPS",
        "HTTP over TLS; UDP for HTTP/3 over QUIC (RFC 9110, RFC 9114)",
    ),
    svc(445, Tcp, "SMB", "Windows file sharing (Microsoft-DS)"),
    svc(
        465,
        Tcp,
        "SMTPS",
        "mail submission over implicit TLS (RFC 8314)",
    ),
    svc(514, Udp, "Syslog", "system logging (RFC 5426)"),
    svc(
        587,
        Tcp,
        "Submission",
        "mail submission from clients (RFC 6409)",
    ),
    svc(636, Tcp, "LDAPS", "LDAP over TLS (RFC 4513)"),
    svc(853, Tcp, "DoT", "DNS over TLS (RFC 7858)"),
    svc(993, Tcp, "IMAPS", "IMAP over TLS (RFC 8314)"),
    svc(995, Tcp, "POP3S", "POP3 over TLS (RFC 8314)"),
    svc(1194, Udp, "OpenVPN", "OpenVPN tunnels"),
    svc(1433, Tcp, "MSSQL", "Microsoft SQL Server"),
    svc(1883, Tcp, "MQTT", "MQTT publish/subscribe messaging (IoT)"),
    svc(
        3000,
        Tcp,
        "dev server",
        "Node.js/Express, Rails and Grafana default port",
    ),
    svc(3306, Tcp, "MySQL", "MySQL/MariaDB database"),
    svc(3389, Tcp, "RDP", "Windows Remote Desktop"),
    svc(5000, Tcp, "Flask", "Flask development server"),
    svc(5173, Tcp, "Vite", "Vite development server"),
    svc(
        5353,
        Udp,
        "mDNS",
        "multicast DNS, local name discovery (RFC 6762)",
    ),
    svc(5432, Tcp, "PostgreSQL", "PostgreSQL database"),
    svc(5672, Tcp, "AMQP", "AMQP message broker (RabbitMQ)"),
    svc(
        5900,
        Tcp,
        "VNC",
        "Remote Framebuffer, VNC remote desktop (RFC 6143)",
    ),
    svc(6379, Tcp, "Redis", "Redis key-value store"),
    svc(6443, Tcp, "Kubernetes", "Kubernetes API server"),
    svc(8000, Tcp, "Django", "Django development server"),
    svc(
        8080,
        Tcp,
        "HTTP-alt",
        "HTTP alternate (proxies, Tomcat, dev servers)",
    ),
    svc(8443, Tcp, "HTTPS-alt", "HTTPS alternate"),
    svc(9090, Tcp, "Prometheus", "Prometheus monitoring server"),
    svc(9200, Tcp, "Elasticsearch", "Elasticsearch REST API"),
    svc(11211, TcpUdp, "memcached", "memcached cache"),
    svc(27017, Tcp, "MongoDB", "MongoDB database"),
    svc(51820, Udp, "WireGuard", "WireGuard VPN (conventional port)"),
];

/// The well-known service on `port`, if the table has one.
pub fn service(port: u16) -> Option<&'static Service> {
    let i = SERVICES.binary_search_by_key(&port, |s| s.port).ok()?;
    SERVICES.get(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_their_edges() {
        for (port, range) in [
            (0, PortRange::WellKnown),
            (22, PortRange::WellKnown),
            (1023, PortRange::WellKnown),
            (1024, PortRange::Registered),
            (6379, PortRange::Registered),
            (49151, PortRange::Registered),
            (49152, PortRange::Dynamic),
            (65535, PortRange::Dynamic),
        ] {
            assert_eq!(PortRange::of(port), range, "{port}");
            let (lo, hi) = range.bounds();
            assert!(lo <= port && port <= hi);
        }
        assert_eq!(PortRange::Dynamic.to_string(), "dynamic");
    }

    #[test]
    fn bounds_tile_the_port_space() {
        let r = [
            PortRange::WellKnown,
            PortRange::Registered,
            PortRange::Dynamic,
        ];
        assert_eq!(r[0].bounds().0, 0);
        assert_eq!(r[2].bounds().1, u16::MAX);
        for w in r.windows(2) {
            assert_eq!(w[0].bounds().1 + 1, w[1].bounds().0);
        }
    }

    #[test]
    fn the_lesson_services_are_known() {
        let name = |p| service(p).map(|s| s.name);
        for (port, n) in [
            (20, "FTP-DATA"),
            (21, "FTP"),
            (22, "SSH"),
            (23, "Telnet"),
            (25, "SMTP"),
            (53, "DNS"),
            (67, "DHCP"),
            (68, "DHCP"),
            (80, "HTTP"),
            (110, "POP3"),
            (123, "NTP"),
            (143, "IMAP"),
            (443, "HTTPS"),
            (3306, "MySQL"),
            (5432, "PostgreSQL"),
            (6379, "Redis"),
            (27017, "MongoDB"),
            (5000, "Flask"),
            (8000, "Django"),
            (8080, "HTTP-alt"),
        ] {
            assert_eq!(name(port), Some(n), "{port}");
        }
        assert_eq!(service(53).unwrap().transport, Transport::TcpUdp);
        assert_eq!(service(123).unwrap().transport, Transport::Udp);
        assert_eq!(service(22).unwrap().transport.to_string(), "TCP");
        assert_eq!(service(0), None);
        assert_eq!(service(12345), None);
        assert_eq!(service(65535), None);
    }

    #[test]
    fn table_is_sorted_without_duplicates() {
        assert!(SERVICES.windows(2).all(|w| w[0].port < w[1].port));
        assert!(SERVICES
            .iter()
            .all(|s| !s.name.is_empty() && !s.description.is_empty()));
    }
}
