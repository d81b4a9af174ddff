//! Prints the layer-2 demo: ARP over a switched LAN, then a broadcast storm.
//!
//! `cargo run -p strata-sim --example lan_demo [pcap-file]`

fn main() -> std::io::Result<()> {
    let d = strata_sim::demo::arp_lan(1, 4, false);
    print!("{}", d.report());
    if let Some(path) = std::env::args().nth(1) {
        std::fs::write(&path, d.pcap())?;
        println!("pcap of h1's port written to {path}");
    }
    println!("{}", strata_sim::demo::storm(1, 100_000, false));
    println!("{}", strata_sim::demo::storm(1, 100_000, true));
    Ok(())
}
