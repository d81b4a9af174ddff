//! `strata explain <value>`: everything the lesson says about one MAC
//! address, IPv4 address, CIDR prefix or port, laid out for a learner —
//! and the lesson's concepts ([`crate::concepts`]).

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::net::Ipv4Addr;

use strata::wire::ip::{BlockKind, Ipv4Cidr, Ipv4Class, Ipv4Ext, SpecialBlock};
use strata::wire::port::{self, PortRange};
use strata::wire::MacAddr;

/// Arguments of `strata explain`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ExplainArgs {
    /// A MAC address (00:1b:21:3a:4f:5e, 00-1B-21-3A-4F-5E, 001b.213a.4f5e,
    /// 001b213a4f5e), an IPv4 address (172.16.5.4), a CIDR prefix
    /// (192.168.1.0/26), a port number (0–65535), or a concept:
    /// tcp-states, handshake, arp, ports.
    pub value: String,
}

const EXAMPLES: &str = "\
Examples:
  strata explain 00:1b:21:3a:4f:5e   MAC: OUI, vendor (Intel), unicast/multicast, U/L bit
  strata explain 001b.213a.4f5e      the same MAC in Cisco dot notation
  strata explain 172.16.5.4          IPv4: binary octets, class B, private (RFC 1918)
  strata explain 192.168.1.0/26      CIDR: network, broadcast, netmask, wildcard, hosts
  strata explain 6379                port: registered range, service Redis
  strata explain tcp-states          the state diagram, the transitions a demo run took
  strata explain handshake           the three-way handshake on a tiny run
  strata explain arp                 who has this IP? on a tiny run
  strata explain ports               well-known, registered, dynamic; 3306 6379 8000 5000

Bad input prints one error line and exits with status 2.";

/// Runs `strata explain`: prints the explanation, or one error line on
/// stderr and exits with status 2.
pub fn run(args: &ExplainArgs) {
    let style = Style::detect();
    match explain(&args.value, style) {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

/// Terminal styling: bold titles and dim notes on a terminal, plain text
/// when piped or when `NO_COLOR` is set.
#[derive(Clone, Copy)]
struct Style {
    color: bool,
}

impl Style {
    fn detect() -> Self {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Style { color }
    }
    fn bold(self, s: &str) -> String {
        if self.color {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn dim(self, s: &str) -> String {
        if self.color {
            format!("\x1b[2m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// Width of the label column.
const LABEL: usize = 16;

/// A text block of `label  value` rows.
struct Out {
    text: String,
    style: Style,
}

impl Out {
    fn new(title: &str, style: Style) -> Self {
        let mut text = style.bold(title);
        text.push_str("\n\n");
        Out { text, style }
    }
    fn row(&mut self, label: &str, value: impl AsRef<str>) {
        let _ = writeln!(self.text, "  {label:<LABEL$} {}", value.as_ref());
    }
    /// A continuation line under the value column, dimmed.
    fn note(&mut self, value: impl AsRef<str>) {
        let _ = writeln!(
            self.text,
            "  {:<LABEL$} {}",
            "",
            self.style.dim(value.as_ref())
        );
    }
    fn blank(&mut self) {
        self.text.push('\n');
    }
}

/// The explanation of `value`, or why it is none of the kinds we explain.
fn explain(value: &str, style: Style) -> Result<String, String> {
    let v = value.trim();
    let paint = crate::concepts::Paint { color: style.color };
    if let Some(r) = crate::concepts::explain(&v.to_ascii_lowercase(), paint) {
        return r;
    }
    if !v.is_empty() && v.len() <= 5 && v.bytes().all(|b| b.is_ascii_digit()) {
        return match v.parse::<u16>() {
            Ok(p) => Ok(explain_port(p, style)),
            Err(_) => Err(format!("'{value}' is not a port: ports are 0 to 65535")),
        };
    }
    if let Ok(ip) = v.parse::<Ipv4Addr>() {
        return Ok(explain_ip(ip, style));
    }
    if v.contains('/') {
        return match v.parse::<Ipv4Cidr>() {
            Ok(c) => Ok(explain_cidr(c, style)),
            Err(e) => Err(format!("'{value}' is not a CIDR prefix: {e}")),
        };
    }
    match v.parse::<MacAddr>() {
        Ok(m) => Ok(explain_mac(m, style)),
        Err(e) if v.contains([':', '-']) => Err(format!("'{value}' is not a MAC address: {e}")),
        Err(_) => Err(format!(
            "'{value}' is not a MAC address, IPv4 address, CIDR prefix or port"
        )),
    }
}

/// `10101100.00010000.00000101.00000100`, with `|` after the first
/// `split` bits when given (the network | host boundary).
fn binary(ip: Ipv4Addr, split: Option<u8>) -> String {
    let mut s = String::with_capacity(36);
    for (i, bit) in (0..32).rev().map(|i| (ip.to_bits() >> i) & 1).enumerate() {
        if i > 0 && i % 8 == 0 {
            s.push('.');
        }
        if split == Some(i as u8) && i > 0 {
            s.push('|');
        }
        s.push(if bit == 1 { '1' } else { '0' });
    }
    if split == Some(32) {
        s.push('|');
    } else if split == Some(0) {
        s.insert(0, '|');
    }
    s
}

fn class_line(class: Ipv4Class) -> String {
    let (lo, hi) = class.range();
    format!(
        "{class}  (first bits {}: {lo} – {hi})",
        class.leading_bits()
    )
}

fn block_meaning(kind: BlockKind) -> &'static str {
    match kind {
        BlockKind::Private => "not routed on the Internet; hosts go out through NAT",
        BlockKind::Shared => {
            "between a carrier's NAT and its customers; not routed on the Internet"
        }
        BlockKind::Loopback => "never leaves the host; 127.0.0.1 is \"localhost\"",
        BlockKind::LinkLocal => "self-assigned when no DHCP answers; valid on one link only",
        BlockKind::Unspecified => {
            "\"no address yet\": a DHCP client's source, or bind to all interfaces"
        }
        BlockKind::ThisNetwork => "\"this host on this network\"; only as a source while booting",
        BlockKind::ProtocolAssignments => "reserved for IETF protocol assignments",
        BlockKind::Documentation => "for examples in books and docs; never used on a real network",
        BlockKind::Benchmarking => "for testing network devices in the lab",
        BlockKind::Multicast => "one sender, a group of receivers (class D)",
        BlockKind::Reserved => "reserved for future use (class E); not usable",
        BlockKind::LimitedBroadcast => "every host on this link; routers never forward it",
    }
}

fn block_row(out: &mut Out, b: &SpecialBlock) {
    out.row("block", format!("{}, {}: {}", b.name, b.rfc, b.cidr));
    out.note(block_meaning(b.kind));
}

fn explain_ip(ip: Ipv4Addr, style: Style) -> String {
    let mut out = Out::new(&format!("{ip} — IPv4 address (32 bits)"), style);
    out.row("dotted decimal", ip.to_string());
    out.row("binary", binary(ip, None));
    out.row("hex", format!("0x{:08x}", ip.to_bits()));
    out.row("as one number", ip.to_bits().to_string());
    out.blank();
    let class = ip.class();
    out.row("class", class_line(class));
    match (class.default_prefix_len(), class.default_mask()) {
        (Some(len), Some(mask)) => {
            let net = Ipv4Cidr::new(ip, len).map(|c| c.trunc());
            out.row("default mask", format!("{mask} (/{len})"));
            if let Some(net) = net {
                out.row("classful net", net.to_string());
                out.note(format!(
                    "{len} network bits, {} host bits: {}",
                    32 - len,
                    binary(ip, Some(len))
                ));
            }
            out.note("classes are history: networks today use any prefix length (CIDR)");
        }
        _ => out.row(
            "default mask",
            "none (class D and E have no network/host split)",
        ),
    }
    out.blank();
    match ip.special_block() {
        Some(b) => block_row(&mut out, b),
        None => {
            out.row("block", "public unicast");
            out.note("globally routable: reachable from the whole Internet");
        }
    }
    let kind = if ip.is_broadcast() {
        "broadcast (every host on this link)"
    } else if ip.is_multicast() {
        "multicast (a group of receivers)"
    } else {
        "unicast (one host)"
    };
    out.row("delivery", kind);
    if ip.is_multicast() {
        // RFC 1112 §6.4: the low 23 bits go into 01:00:5e:00:00:00.
        let [_, b, c, d] = ip.octets();
        let mac = MacAddr::new(0x01, 0x00, 0x5e, b & 0x7f, c, d);
        out.row("on Ethernet", format!("{mac} (low 23 bits, RFC 1112 §6.4)"));
    }
    out.text
}

fn explain_cidr(c: Ipv4Cidr, style: Style) -> String {
    let len = c.prefix_len();
    let mut out = Out::new(&format!("{c} — IPv4 CIDR prefix"), style);
    let hdr = format!("{:<16} {}", "decimal", "binary (network | host)");
    out.row("", style.dim(&hdr));
    let both = |ip: Ipv4Addr| format!("{:<16} {}", ip.to_string(), binary(ip, Some(len)));
    if !c.is_network_address() {
        out.row("address", both(c.address()));
    }
    out.row("network", both(c.network()));
    out.row("netmask", both(c.netmask()));
    out.row("wildcard", both(c.wildcard()));
    out.row("broadcast", both(c.broadcast()));
    out.blank();
    out.row(
        "prefix length",
        format!(
            "/{len}: {len} network {}, {} host {}",
            bits(len),
            32 - len,
            bits(32 - len)
        ),
    );
    out.row(
        "addresses",
        format!("{} (2^{})", group_digits(c.address_count()), 32 - len),
    );
    let hosts = match len {
        32 => "1 (a single host route)".to_string(),
        31 => "2 (RFC 3021 point-to-point link: no network or broadcast address)".to_string(),
        _ => format!(
            "{} (all but the network and broadcast addresses)",
            group_digits(c.host_count())
        ),
    };
    out.row("usable hosts", hosts);
    out.row("first host", c.first_host().to_string());
    out.row("last host", c.last_host().to_string());
    if !c.is_network_address() {
        out.note(format!(
            "{} has host bits set: it is host {} on network {}",
            c,
            c.address(),
            c.trunc()
        ));
    }
    out.blank();
    let class = c.network().class();
    if class != c.broadcast().class() {
        out.row(
            "class",
            format!("spans classes {} to {}", class, c.broadcast().class()),
        );
    } else {
        out.row("class", class_line(class));
    }
    if let Some(def) = class
        .default_prefix_len()
        .filter(|_| class == c.broadcast().class())
    {
        let relation = match len.cmp(&def) {
            std::cmp::Ordering::Greater => match c.classful() {
                Some(net) => format!("a subnet of the classful network {net}"),
                None => String::new(),
            },
            std::cmp::Ordering::Equal => format!("exactly one classful class {class} network"),
            std::cmp::Ordering::Less => format!(
                "a supernet: {} class {class}-sized networks (/{def}) aggregated",
                group_digits(1u64 << (def - len))
            ),
        };
        out.row("default mask", format!("/{def}; this prefix is {relation}"));
    }
    match c.network().special_block() {
        Some(b) if b.cidr.contains_cidr(&c) => block_row(&mut out, b),
        Some(_) => {}
        None if len >= 8 => {
            out.row("block", "public unicast");
        }
        None => {}
    }
    if len < 32 {
        let half = len + 1;
        if let Some(subs) = c.subnets(half) {
            let parts: Vec<String> = subs.map(|s| s.to_string()).collect();
            out.row("split in two", parts.join("  "));
        }
    }
    out.text
}

fn bits(n: u8) -> &'static str {
    if n == 1 {
        "bit"
    } else {
        "bits"
    }
}

fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

fn explain_mac(m: MacAddr, style: Style) -> String {
    let o = m.octets();
    let mut out = Out::new(&format!("{m} — MAC address (48 bits)"), style);
    out.row(
        "written as",
        format!(
            "{m}   {}   {:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}",
            m.to_string().replace(':', "-").to_uppercase(),
            o[0],
            o[1],
            o[2],
            o[3],
            o[4],
            o[5]
        ),
    );
    let bin: Vec<String> = o.iter().map(|b| format!("{b:08b}")).collect();
    out.row("binary", bin.join(" "));
    out.blank();
    let oui = format!("{:02x}:{:02x}:{:02x}", o[0], o[1], o[2]);
    let nic = format!("{:02x}:{:02x}:{:02x}", o[3], o[4], o[5]);
    if m.is_universally_administered() {
        out.row(
            "OUI",
            format!("{oui}  (first 3 bytes: the vendor's IEEE-assigned prefix)"),
        );
        match m.vendor() {
            Some(v) => out.row("vendor", v),
            None => out.row("vendor", "unknown (not in the embedded IEEE MA-L registry)"),
        }
        let part = if m.is_multicast() {
            "(last 3 bytes: the group within the OUI)"
        } else {
            "(last 3 bytes: numbered by the vendor)"
        };
        out.row("device part", format!("{nic}  {part}"));
    } else {
        out.row(
            "prefix",
            format!("{oui}  (not an OUI: the address is locally administered)"),
        );
        let hint = match o {
            [0x52, 0x54, 0x00, ..] => "QEMU/KVM's default prefix for virtual NICs",
            [0x02, 0x42, ..] => "Docker's prefix for container interfaces",
            _ if m.is_broadcast() => "all 48 bits set",
            _ => "set by software: a VM, a container, or a randomised (private) Wi-Fi MAC",
        };
        out.row("vendor", format!("none ({hint})"));
    }
    out.blank();
    let first = o[0];
    out.row("first octet", format!("0x{first:02x} = {first:08b}"));
    let pad = " ".repeat(LABEL + 2 + 1 + "0x00 = ".len() + 6);
    let ig = first & 1;
    let ul = (first >> 1) & 1;
    let ig_text = if ig == 1 {
        "group (multicast)"
    } else {
        "individual (unicast)"
    };
    let ul_text = if ul == 1 {
        "locally administered"
    } else {
        "universally administered (by the IEEE)"
    };
    let _ = writeln!(out.text, "{pad}││");
    let _ = writeln!(out.text, "{pad}│└ I/G bit = {ig}: {ig_text}");
    let _ = writeln!(out.text, "{pad}└─ U/L bit = {ul}: {ul_text}");
    out.note("(the I/G bit is the first bit on the wire: Ethernet sends each byte LSB first)");
    out.blank();
    let cast = if m.is_broadcast() {
        "broadcast: every station on the LAN receives it"
    } else if m.is_multicast() {
        "multicast: stations that joined the group receive it"
    } else {
        "unicast: one station's network card"
    };
    out.row("delivery", cast);
    if m.is_multicast() && !m.is_broadcast() && o[..3] == [0x01, 0x00, 0x5e] && o[3] & 0x80 == 0 {
        // RFC 1112 §6.4: IPv4 group addresses map into 01:00:5e with their low 23 bits.
        let group = Ipv4Addr::new(224, o[3], o[4], o[5]);
        out.row(
            "IPv4 group",
            format!("{group} (and 31 others sharing the low 23 bits, RFC 1112 §6.4)"),
        );
    }
    out.row(
        "administered",
        if m.is_locally_administered() {
            "locally (U/L bit set)"
        } else if m.is_multicast() {
            "universally (the group lies in an IEEE-assigned OUI)"
        } else {
            "universally (globally unique, burned in by the vendor)"
        },
    );
    out.text
}

fn explain_port(p: u16, style: Style) -> String {
    let mut out = Out::new(&format!("{p} — TCP/UDP port (16 bits)"), style);
    let range = PortRange::of(p);
    let (lo, hi) = range.bounds();
    out.row("range", format!("{range} ({lo}–{hi})"));
    out.note(range.description());
    match port::service(p) {
        Some(s) => {
            out.row("service", format!("{} over {}", s.name, s.transport));
            out.note(s.description);
        }
        None => out.row("service", "none in strata's table of well-known services"),
    }
    if p == 0 {
        out.note("port 0 is reserved: binding to it asks the OS for any free port");
    } else if range == PortRange::Dynamic {
        out.note("a typical ephemeral port: the OS picks one like it for each outgoing connection");
    }
    out.blank();
    out.row("binary", format!("{:08b} {:08b}", p >> 8, p & 0xff));
    out.row(
        "hex",
        format!("0x{p:04x}  (2 bytes in the TCP/UDP header, big-endian)"),
    );
    out.text
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Style = Style { color: false };

    fn ok(v: &str) -> String {
        explain(v, PLAIN).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    #[test]
    fn binary_marks_the_prefix_boundary() {
        let ip = Ipv4Addr::new(192, 168, 1, 0);
        assert_eq!(binary(ip, None), "11000000.10101000.00000001.00000000");
        assert_eq!(binary(ip, Some(26)), "11000000.10101000.00000001.00|000000");
        assert_eq!(binary(ip, Some(24)), "11000000.10101000.00000001.|00000000");
        assert_eq!(binary(ip, Some(0)), "|11000000.10101000.00000001.00000000");
        assert_eq!(binary(ip, Some(32)), "11000000.10101000.00000001.00000000|");
    }

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(4_294_967_296), "4 294 967 296");
    }

    #[test]
    fn ip_explains_class_and_block() {
        let t = ok("172.16.5.4");
        assert!(t.contains("10101100.00010000.00000101.00000100"), "{t}");
        assert!(t.contains("B  (first bits 10"), "{t}");
        assert!(t.contains("255.255.0.0 (/16)"), "{t}");
        assert!(t.contains("RFC 1918: 172.16.0.0/12"), "{t}");
        let t = ok("224.0.0.251");
        assert!(t.contains("01:00:5e:00:00:fb"), "{t}");
        assert!(ok("8.8.8.8").contains("public unicast"));
    }

    #[test]
    fn cidr_explains_hosts() {
        let t = ok("192.168.1.0/26");
        for s in [
            "192.168.1.63",
            "255.255.255.192",
            "0.0.0.63",
            "62 (all but",
            "192.168.1.1\n",
            "192.168.1.62\n",
        ] {
            assert!(t.contains(s), "{s} missing in\n{t}");
        }
        assert!(ok("10.0.0.0/31").contains("RFC 3021"));
        assert!(ok("10.0.0.7/32").contains("1 (a single host route)"));
        let t = ok("0.0.0.0/0");
        assert!(
            t.contains("4 294 967 294") && t.contains("spans classes A to E"),
            "{t}"
        );
        assert!(ok("10.0.0.0/31").contains("31 network bits, 1 host bit\n"));
        assert!(ok("128.0.0.0/2").contains("supernet: 16 384 class B-sized networks"));
        assert!(
            ok("192.168.1.77/26").contains("it is host 192.168.1.77 on network 192.168.1.64/26")
        );
    }

    #[test]
    fn mac_explains_vendor_and_bits() {
        let t = ok("00:1b:21:3a:4f:5e");
        assert!(t.contains("vendor           Intel"), "{t}");
        assert!(t.contains("I/G bit = 0"), "{t}");
        assert!(t.contains("U/L bit = 0"), "{t}");
        assert!(t.contains("001b.213a.4f5e"), "{t}");
        let t = ok("52:54:00:12:34:56");
        assert!(t.contains("QEMU"), "{t}");
        assert!(t.contains("U/L bit = 1"), "{t}");
        assert!(ok("01:00:5e:00:00:fb").contains("224.0.0.251"));
        assert!(ok("ff:ff:ff:ff:ff:ff").contains("broadcast"));
    }

    #[test]
    fn port_explains_range_and_service() {
        let t = ok("6379");
        assert!(t.contains("registered (1024–49151)"), "{t}");
        assert!(t.contains("Redis over TCP"), "{t}");
        assert!(ok("443").contains("well-known"));
        assert!(ok("51820").contains("dynamic"));
        assert!(ok("0").contains("port 0 is reserved"));
        assert!(ok("65535").contains("11111111 11111111"));
    }

    #[test]
    fn bad_input_says_why() {
        let err = |v| explain(v, PLAIN).unwrap_err();
        assert_eq!(
            err("999.1.1.1"),
            "'999.1.1.1' is not a MAC address, IPv4 address, CIDR prefix or port"
        );
        assert_eq!(err("65536"), "'65536' is not a port: ports are 0 to 65535");
        assert!(err("10.0.0.0/33").starts_with("'10.0.0.0/33' is not a CIDR prefix: prefix length"));
        assert!(err("00:1b:21").starts_with("'00:1b:21' is not a MAC address: "));
        assert!(err("").contains("is not a MAC address, IPv4"));
        assert!(err("hello").contains("is not a MAC address, IPv4"));
        assert!(!err("999.1.1.1").contains('\n'));
    }

    #[test]
    fn plain_output_has_no_escape_codes() {
        assert!(!ok("10.0.0.1").contains('\x1b'));
        let color = explain("10.0.0.1", Style { color: true }).unwrap();
        assert!(color.contains("\x1b[1m"));
    }
}
