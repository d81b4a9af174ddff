//! `strata sim slowloris`: slow HTTP clients against the simulated server
//! (issue 15), with the server's defences and without, side by side, with
//! the TCP memory the server's engine held at its peak.

use strata_sim::slowloris::{Defences, Slowloris, SlowlorisOptions, SlowlorisReport};

use crate::sim::SimArgs;

fn pct(ok: u32, n: u32) -> String {
    format!(
        "{ok}/{n} ({:.1} %)",
        100.0 * f64::from(ok) / f64::from(n.max(1))
    )
}

fn mib(b: usize) -> String {
    format!("{:.2} MiB", b as f64 / (1024.0 * 1024.0))
}

fn opt_secs(d: Option<strata::time::Duration>) -> String {
    d.map_or("off".into(), |d| format!("{} s", d.as_secs()))
}

/// Runs the scenario with the defences and without and prints both.
pub fn run(args: &SimArgs) -> anyhow::Result<()> {
    let base = SlowlorisOptions {
        seed: args.seed,
        attackers: args.attackers,
        ..SlowlorisOptions::default()
    };
    let d = Defences::on();
    println!(
        "slowloris: {} attacking connections from {} addresses against an HTTP server on 10.0.0.1:80 \
         (at most {} connections at once), for {} s, seed {};",
        base.attackers,
        base.attacker_hosts,
        base.max_connections,
        base.duration.as_secs(),
        base.seed
    );
    println!(
        "  a third send a header line every 5 s and never finish, a third ask for 1 MiB and never read \
         (window 0), a third read a byte a minute; each comes back 1 s after it is dropped;"
    );
    println!(
        "  a client fetches a 16 KiB page every {} ms from {} s on; a fetch must complete within {} s",
        base.legit_gap.as_millis(),
        base.legit_start.as_secs(),
        base.deadline.as_secs()
    );
    println!(
        "  defences: header timeout {}, idle timeout {}, request cap {} B, {} connections per client, \
         TCP user timeout {}, TCP memory {} / {} / {} (low / pressure / high)",
        opt_secs(d.header_timeout),
        opt_secs(d.idle_timeout),
        d.max_request.unwrap_or(0),
        d.max_per_client.unwrap_or(0),
        opt_secs(d.user_timeout),
        mib(d.mem.low),
        mib(d.mem.pressure),
        mib(d.mem.high)
    );
    let on = Slowloris::new(&SlowlorisOptions {
        defences: Defences::on(),
        ..base.clone()
    })
    .run();
    let off = Slowloris::new(&SlowlorisOptions {
        defences: Defences::off(),
        ..base.clone()
    })
    .run();
    type Row = (&'static str, fn(&SlowlorisReport) -> String);
    let rows: Vec<Row> = vec![
        ("legitimate fetches", |r| pct(r.fetches_ok, r.fetches)),
        ("attacking connections opened", |r| {
            r.attack_connections.to_string()
        }),
        ("peak connections held", |r| r.peak_connections.to_string()),
        ("peak TCP memory (engine)", |r| mib(r.peak_tcp_memory)),
        ("header timeouts / idle timeouts", |r| {
            format!("{} / {}", r.header_timeouts, r.idle_timeouts)
        }),
        ("TCP timeouts (user timeout)", |r| {
            r.stats.timeouts.to_string()
        }),
        ("refused: global cap / per client", |r| {
            format!("{} / {}", r.refused_cap, r.refused_per_client)
        }),
        ("request heads too large", |r| r.too_large.to_string()),
        ("memory pressure entries", |r| {
            r.stats.mem_pressure_entries.to_string()
        }),
        ("memory refusals (send/rx/conn/orphan)", |r| {
            format!(
                "{}/{}/{}/{}",
                r.stats.mem_send_refusals,
                r.stats.mem_rx_drops,
                r.stats.mem_conn_refusals,
                r.stats.mem_orphan_resets
            )
        }),
        ("zero-window probes sent", |r| {
            r.stats.window_probes.to_string()
        }),
    ];
    println!("  {:<40} {:>20} {:>20}", "", "defences on", "defences off");
    for (name, f) in rows {
        println!("  {name:<40} {:>20} {:>20}", f(&on), f(&off));
    }
    if on.success() < 0.99 {
        anyhow::bail!("with the defences, fewer than 99 % of the legitimate fetches completed");
    }
    Ok(())
}
