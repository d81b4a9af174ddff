//! What `serve`, `fetch`, `ping` and `iperf3` share: a TAP device, one
//! address, a runtime driving the stack on it.
//!
//! Every value is checked before anything starts: the interface must exist
//! (unless `--create`) and be a TAP, the address must carry a prefix and be
//! usable by a host, the gateway must be on the link, the MTU must lie in
//! 576..=65535. A mistake there is bad input ([`Usage`], exit status 2); a
//! failure once running is a runtime error (exit status 1).

use std::net::Ipv4Addr;

use anyhow::Context;
use clap::Args;
use strata::wire::ip::Ipv4Cidr;
use strata_io::runtime::{Runtime, RuntimeConfig};
use strata_io::tap::{interface_info, set_interface_up};
use strata_io::TapDevice;

/// Bad input found after clap's parsing (a combination of values, or the
/// system does not hold what the user named): printed as one `error:` line,
/// exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Shorthand: `Err(Usage(msg).into())`.
pub fn usage<T>(msg: impl Into<String>) -> anyhow::Result<T> {
    Err(Usage(msg.into()).into())
}

/// Where the stack lives on the real network.
#[derive(Args, Debug, Clone)]
pub struct TapArgs {
    /// The TAP interface to attach to. It must exist (`ip tuntap add dev
    /// tap0 mode tap`) unless --create is given; a DOWN interface is
    /// brought up.
    #[arg(long, value_name = "NAME")]
    pub tap: String,
    /// Create the TAP interface if it does not exist yet.
    #[arg(long)]
    pub create: bool,
    /// The stack's own address with its prefix on that link, e.g. 10.20.0.2/24.
    #[arg(long, value_name = "CIDR", value_parser = parse_host_cidr)]
    pub addr: Ipv4Cidr,
    /// Default gateway for destinations off the link (must be on the link).
    #[arg(long, value_name = "IP")]
    pub gateway: Option<Ipv4Addr>,
    /// Link MTU (largest IP datagram), 576..=65535.
    #[arg(long, value_name = "N", default_value_t = 1500, allow_negative_numbers = true,
          value_parser = crate::units::parse_mtu)]
    pub mtu: u16,
    /// Use the address at once. By default strata first checks that no
    /// other station on the link holds it (RFC 5227: three ARP probes,
    /// about 5 s) and then announces it twice; skip that only when you know
    /// the address is free, e.g. on a TAP whose kernel side you configured.
    #[arg(long)]
    pub no_probe: bool,
}

/// Parses `A.B.C.D/LEN` for the stack's own address: the prefix is
/// required (without it nothing on the link would be reachable), and the
/// address must be usable by a host.
pub fn parse_host_cidr(s: &str) -> Result<Ipv4Cidr, String> {
    let s = s.trim();
    if !s.contains('/') {
        return Err(format!(
            "'{s}' has no prefix length: write the address with its network, e.g. {s}/24"
        ));
    }
    let cidr: Ipv4Cidr = s
        .parse()
        .map_err(|e| format!("'{s}' is not A.B.C.D/LEN: {e}"))?;
    let addr = cidr.address();
    if addr.is_unspecified()
        || addr.is_multicast()
        || addr.is_broadcast()
        || (addr == cidr.broadcast() && cidr.prefix_len() < 31)
        || (addr == cidr.network() && cidr.prefix_len() < 31)
    {
        return Err(format!(
            "bad address {cidr}: not usable as a host address (network, broadcast, multicast or 0.0.0.0)"
        ));
    }
    Ok(cidr)
}

impl TapArgs {
    /// Checks what clap cannot: the gateway against the prefix, and that
    /// the interface exists and is a TAP. Touches nothing.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(gw) = self.gateway {
            if !self.addr.contains(gw) {
                return usage(format!("bad gateway {gw}: not on the link {}", self.addr));
            }
        }
        if self.tap.is_empty() || self.tap.len() > 15 || self.tap.contains(['/', ' ', '\0']) {
            return usage(format!(
                "invalid interface name '{}': 1 to 15 characters, no '/' or spaces",
                self.tap
            ));
        }
        match interface_info(&self.tap).context("looking up the interface")? {
            None if !self.create => usage(format!(
                "there is no interface '{0}': create it with `ip tuntap add dev {0} mode tap` \
                 (then give the kernel side an address), or pass --create",
                self.tap
            )),
            Some(info) if info.is_tap == Some(false) => usage(format!(
                "'{}' is not a TAP interface: strata needs one of its own \
                 (`ip tuntap add dev NAME mode tap`)",
                self.tap
            )),
            _ => Ok(()),
        }
    }

    /// Checks the arguments, opens the TAP (creating it with --create),
    /// brings it up if it is down, and starts the runtime on it.
    pub fn start(&self, cmd: &str) -> anyhow::Result<Runtime> {
        self.check()?;
        let existed = interface_info(&self.tap)?.is_some();
        let dev = TapDevice::open(&self.tap)?;
        if !existed {
            eprintln!(
                "strata {cmd}: created TAP {0}; give the kernel side an address \
                 (e.g. `ip addr add ... dev {0}`) to talk to it",
                self.tap
            );
        }
        let up = interface_info(&self.tap)?.is_some_and(|i| i.up);
        if !up {
            set_interface_up(&self.tap).with_context(|| {
                format!(
                    "{0} is down and could not be brought up (try `ip link set {0} up`)",
                    self.tap
                )
            })?;
            if existed {
                eprintln!("strata {cmd}: {} was down; brought it up", self.tap);
            }
        }
        let mut cfg = RuntimeConfig::new(self.addr);
        cfg.probe_address = !self.no_probe;
        cfg.gateway = self.gateway;
        cfg.mtu = usize::from(self.mtu);
        cfg.stack.tcp.tx_buffer_limit = 1 << 20;
        cfg.stack.tcp.rx_buffer_limit = 1 << 20;
        Runtime::new(dev, cfg).with_context(|| format!("starting the stack on {}", self.tap))
    }
}

/// `", N frames dropped at the device"` when the device refused frames
/// (its queue was full: lost before the wire, in no stack counter), else
/// nothing: for the end-of-run summaries.
pub fn device_drops(rt: &Runtime) -> String {
    match rt.tx_dropped() {
        0 => String::new(),
        1 => ", 1 frame dropped at the device".to_string(),
        n => format!(", {n} frames dropped at the device"),
    }
}

/// `"\nN frames dropped at the device"` when there were any, else nothing:
/// a line to append to a statistics block.
pub fn device_drops_line(rt: &Runtime) -> String {
    match rt.tx_dropped() {
        0 => String::new(),
        1 => "\n1 frame dropped at the device (its queue was full)".to_string(),
        n => format!("\n{n} frames dropped at the device (its queue was full)"),
    }
}

/// Waits, with a growing pause (0.1 s doubling to 5 s), until the
/// interface `name` exists again.
pub fn wait_for_interface(name: &str) {
    let mut pause = std::time::Duration::from_millis(100);
    while !interface_info(name).is_ok_and(|i| i.is_some()) {
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_required() {
        let e = parse_host_cidr("10.20.1.5").unwrap_err();
        assert!(e.contains("no prefix length"), "{e}");
        assert!(e.contains("10.20.1.5/24"), "{e}");
        assert!(parse_host_cidr("10.20.1.5/24").is_ok());
    }

    #[test]
    fn host_addresses_only() {
        for bad in ["10.20.0.255/24", "10.20.0.0/24", "0.0.0.0/8", "224.0.0.1/4"] {
            let e = parse_host_cidr(bad).unwrap_err();
            assert!(e.starts_with("bad address"), "{bad}: {e}");
        }
        assert!(parse_host_cidr("10.0.0.1/31").is_ok());
        assert!(parse_host_cidr("10.20.0.300/24")
            .unwrap_err()
            .contains("10.20.0.300/24"));
    }
}
