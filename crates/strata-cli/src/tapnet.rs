//! What `serve`, `fetch` and `ping` share: a TAP device, one address, a
//! runtime driving the stack on it, and one clear error line on failure.

use std::net::Ipv4Addr;

use anyhow::Context;
use clap::Args;
use strata::wire::ip::Ipv4Cidr;
use strata_io::runtime::{Runtime, RuntimeConfig};
use strata_io::TapDevice;

/// Where the stack lives on the real network.
#[derive(Args, Debug, Clone)]
pub struct TapArgs {
    /// The TAP interface to attach to (created if missing and permitted),
    /// e.g. made with `ip tuntap add dev tap0 mode tap`.
    #[arg(long, value_name = "NAME")]
    pub tap: String,
    /// The stack's own address and prefix on that link, e.g. 10.20.0.2/24.
    #[arg(long, value_name = "CIDR")]
    pub addr: Ipv4Cidr,
    /// Default gateway for destinations off the link.
    #[arg(long, value_name = "IP")]
    pub gateway: Option<Ipv4Addr>,
    /// Link MTU (largest IP datagram).
    #[arg(long, default_value_t = 1500)]
    pub mtu: usize,
}

impl TapArgs {
    /// Opens the TAP and starts the runtime on it.
    pub fn start(&self) -> anyhow::Result<Runtime> {
        let addr = self.addr.address();
        if addr.is_unspecified()
            || addr.is_multicast()
            || addr.is_broadcast()
            || (addr == self.addr.broadcast() && self.addr.prefix_len() < 31)
        {
            anyhow::bail!("bad address {}: not usable as a host address", self.addr);
        }
        if let Some(gw) = self.gateway {
            if !self.addr.contains(gw) {
                anyhow::bail!("bad gateway {gw}: not on the link {}", self.addr);
            }
        }
        let dev = TapDevice::open(&self.tap)?;
        let mut cfg = RuntimeConfig::new(self.addr);
        cfg.gateway = self.gateway;
        cfg.mtu = self.mtu;
        cfg.stack.tcp.tx_buffer_limit = 1 << 20;
        cfg.stack.tcp.rx_buffer_limit = 1 << 20;
        Runtime::new(dev, cfg).with_context(|| format!("starting the stack on {}", self.tap))
    }
}

/// Runs a command; on error prints `strata <cmd>: <error chain>` as one
/// line and exits with status 1.
pub fn exit_on_error(cmd: &str, r: anyhow::Result<()>) {
    if let Err(e) = r {
        eprintln!("strata {cmd}: {e:#}");
        std::process::exit(1);
    }
}
