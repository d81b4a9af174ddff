//! `strata sim synflood`: the SYN-flood scenario (issue 15), run with SYN
//! cookies and without, side by side, with the heap each run held.

use strata::time::Duration;
use strata_sim::synflood::{SynFlood, SynFloodOptions, SynFloodReport};

use crate::fragflood::{heap_peak, reset_heap_peak};
use crate::sim::SimArgs;

/// One run and the heap it held at its peak (bytes above the start).
fn measured(opts: &SynFloodOptions) -> (SynFloodReport, isize) {
    let start = reset_heap_peak();
    let mut run = SynFlood::new(opts);
    let r = run.run();
    let peak = heap_peak() - start;
    (r, peak)
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
}

fn pct(ok: u32, n: u32) -> String {
    format!(
        "{ok}/{n} ({:.1} %)",
        100.0 * f64::from(ok) / f64::from(n.max(1))
    )
}

/// Runs the scenario with and without cookies and prints both.
pub fn run(args: &SimArgs) -> anyhow::Result<()> {
    let base = SynFloodOptions {
        seed: args.seed,
        syn_backlog: args.syn_backlog,
        flood_factor: args.flood_factor,
        ..SynFloodOptions::default()
    };
    let rate = f64::from(base.flood_factor) * base.syn_backlog as f64 / base.rtt.as_secs_f64();
    println!(
        "synflood: {:.0} spoofed SYNs/s ({}× the SYN queue of {} per {} ms RTT) for {} ms against 10.0.0.1:80 (accept queue {}), seed {};",
        rate,
        base.flood_factor,
        base.syn_backlog,
        base.rtt.as_millis(),
        base.flood.as_millis(),
        base.backlog,
        base.seed
    );
    println!(
        "  a client on the LAN opens {} connections during the flood and {} in the {} ms after; each must complete within {} s",
        base.clients,
        base.clients_after,
        base.after.as_millis(),
        base.deadline.as_secs()
    );
    let (on, heap_on) = measured(&SynFloodOptions {
        cookies: true,
        ..base.clone()
    });
    let (off, heap_off) = measured(&SynFloodOptions {
        cookies: false,
        ..base.clone()
    });
    // A row: its name, and what it shows of one run (its report and the
    // heap it held).
    type Show = fn(&SynFloodReport, isize) -> String;
    let rows: [(&str, Show); 13] = [
        ("spoofed SYNs", |r, _| r.spoofed_syns.to_string()),
        ("handshakes during the flood", |r, _| {
            pct(r.during_ok, r.during)
        }),
        ("  of them at the first SYN", |r, _| {
            r.during_first_try.to_string()
        }),
        ("  handshake p50 / p95", |r, _| {
            format!(
                "{} / {}",
                ms(r.handshake_quantile(0.5)),
                ms(r.handshake_quantile(0.95))
            )
        }),
        ("handshakes after the flood", |r, _| {
            pct(r.after_ok, r.after)
        }),
        ("peak connections held", |r, _| {
            r.peak_connections.to_string()
        }),
        ("peak buffer bytes held", |r, _| {
            r.peak_buffer_bytes.to_string()
        }),
        ("peak TCP memory (engine)", |r, _| {
            format!("{} B", r.peak_tcp_memory)
        }),
        ("peak heap of the run", |_, heap| format!("{heap} B")),
        ("cookies sent / validated / rejected", |r, _| {
            format!(
                "{} / {} / {}",
                r.stats.syncookies_sent, r.stats.syncookies_validated, r.stats.syncookies_rejected
            )
        }),
        ("SYN-queue drops / evictions", |r, _| {
            format!(
                "{} / {}",
                r.stats.syn_queue_drops, r.stats.syn_queue_evictions
            )
        }),
        ("accept-queue overflows (SYN / ACK)", |r, _| {
            format!(
                "{} / {}",
                r.stats.listen_overflows, r.stats.accept_queue_ack_drops
            )
        }),
        ("connections accepted", |r, _| r.accepted.to_string()),
    ];
    println!("  {:<38} {:>22} {:>22}", "", "cookies on", "cookies off");
    for (name, show) in rows {
        let (a, b) = (show(&on, heap_on), show(&off, heap_off));
        println!("  {name:<38} {a:>22} {b:>22}");
    }
    if let Some(path) = &args.lab.svg {
        std::fs::write(path, picture(&base, &on, heap_on, &off, heap_off))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        println!("  picture: {}", path.display());
    }
    if on.success_during() < 0.99 || on.after_ok < on.after {
        anyhow::bail!("with cookies, fewer than 99 % of the handshakes completed");
    }
    Ok(())
}

/// A bar chart of the legitimate handshakes that completed, during and
/// after the flood, with cookies and without (SVG, no fonts assumed).
fn picture(
    o: &SynFloodOptions,
    on: &SynFloodReport,
    heap_on: isize,
    off: &SynFloodReport,
    heap_off: isize,
) -> String {
    let (w, h) = (640.0, 330.0);
    let (left, top, bottom) = (60.0, 50.0, 260.0);
    let y = |frac: f64| bottom - (bottom - top) * frac;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    svg += &format!(
        "<text x=\"{left}\" y=\"24\" font-size=\"15\" font-weight=\"bold\">Legitimate handshakes under a SYN flood ({}× the SYN queue per RTT)</text>\n",
        o.flood_factor
    );
    for k in 0..=4 {
        let f = f64::from(k) / 4.0;
        svg += &format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}%</text>\n",
            w - 20.0,
            y(f),
            y(f),
            left - 6.0,
            y(f) + 4.0,
            k * 25
        );
    }
    let groups = [
        (
            "during the flood",
            on.success_during(),
            off.success_during(),
        ),
        ("after the flood", on.success_after(), off.success_after()),
    ];
    for (g, (label, a, b)) in groups.iter().enumerate() {
        let x0 = left + 40.0 + g as f64 * 270.0;
        for (i, (frac, colour, name)) in [
            (*a, "#2e8b57", "cookies on"),
            (*b, "#c0392b", "cookies off"),
        ]
        .iter()
        .enumerate()
        {
            let x = x0 + i as f64 * 100.0;
            svg += &format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"80\" height=\"{:.1}\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.1} %</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{name}</text>\n",
                y(*frac),
                bottom - y(*frac),
                x + 40.0,
                y(*frac) - 6.0,
                frac * 100.0,
                x + 40.0,
                bottom + 18.0
            );
        }
        svg += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{label}</text>\n",
            x0 + 90.0,
            bottom + 40.0
        );
    }
    svg += &format!(
        "<text x=\"{left}\" y=\"{:.1}\" fill=\"#555\">peak heap: {} KiB with cookies, {} KiB without; spoofed SYNs: {}</text>\n</svg>\n",
        h - 12.0,
        heap_on / 1024,
        heap_off / 1024,
        on.spoofed_syns
    );
    svg
}
