//! Renders the README picture: 30 days of hourly synthetic traffic with a 14-hour outage and
//! spikes. `cargo run --release --example readme_graph -- docs/graph.png [light|dark]`

use trafficgraph::render::sample_data::{hourly, Spec};
use trafficgraph::render::{render_png, RenderOptions};
use trafficgraph::stats;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "docs/graph.png".into());
    let theme = args.next().unwrap_or_else(|| "light".into());
    let traffic = hourly(&Spec {
        points: 30 * 24,
        gap: Some(400..414),
        ..Spec::default()
    });
    let opts = RenderOptions {
        title: Some("server-01 / 203.0.113.10 — May 2015".into()),
        theme: theme.parse()?,
        ..RenderOptions::default()
    };
    let stats = stats::compute(&traffic, &opts.stats);
    std::fs::write(&out, render_png(&traffic, &stats, &opts)?)?;
    println!("wrote {out}");
    Ok(())
}
