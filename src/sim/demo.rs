//! `trafficgraph demo`: the whole pipeline with nothing to configure. It starts the
//! simulator in-process on a free loopback port, fetches the last 90 full days of hourly
//! receive and transmit from it (in chunks, as from a real API), writes `traffic.csv` and
//! then `graph.png`, and says what it did (in [`Outcome::stdout`]).

use std::path::PathBuf;

use chrono::{Days, Utc};

use super::{spawn, SimConfig};
use crate::fetch::{self, FetchOptions};
use crate::range::DateRange;
use crate::{output, render, stats, Error, FetchReport, Outcome};

/// `demo`: where its files go.
#[derive(Debug, Clone)]
pub struct DemoJob {
    /// The directory `traffic.csv` and `graph.png` are written to.
    pub out_dir: PathBuf,
}

/// Days the demo fetches.
pub const DAYS: u64 = 90;

/// Runs the demo; the CSV is written before the graph, so it exists even if drawing fails.
pub fn run(job: &DemoJob, notes: &crate::notes::Sink) -> Result<Outcome, Error> {
    let sim = spawn(SimConfig::default())?;
    let yesterday = Utc::now().date_naive() - Days::new(1);
    let range = DateRange::new(yesterday - Days::new(DAYS - 1), yesterday).expect("ordered");
    let mut opts = FetchOptions::new(
        sim.base_url(),
        "demo",
        "server-1",
        vec!["192.0.2.10".to_string()],
        range,
    );
    opts.settings.quiet = false;
    opts.settings.notes = notes.clone();
    let fetched = fetch::fetch(&opts)?;
    let requests = sim.counters.total();
    sim.shutdown();

    let out = |e: std::io::Error| {
        Error::Output(output::OutputError {
            path: job.out_dir.clone(),
            source: e,
        })
    };
    std::fs::create_dir_all(&job.out_dir).map_err(out)?;
    let csv_path = job.out_dir.join("traffic.csv");
    let png_path = job.out_dir.join("graph.png");
    let csv = crate::export::ExportFormat::Csv
        .exporter()
        .export(&fetched.traffic);
    output::write_file(&csv_path, &csv)?;
    let s = &fetched.summary;
    let mut stdout = vec![format!(
        "demo: simulator at 127.0.0.1 answered {requests} requests; fetched {range} hourly \
         receive+transmit in {} chunks ({} planned, {} split)",
        s.chunks, s.planned, s.splits
    )];
    stdout.push(format!("demo: wrote {}", csv_path.display()));

    let render_opts = render::RenderOptions {
        title: Some(format!("demo server-1 192.0.2.10, {range}")),
        source: "sim:hostway".to_string(),
        ..render::RenderOptions::default()
    };
    let figures = stats::compute(&fetched.traffic, &render_opts.stats);
    let png = render::render_png(&fetched.traffic, &figures, &render_opts)?;
    output::write_file(&png_path, &png)?;
    stdout.push(format!("demo: wrote {}", png_path.display()));
    Ok(Outcome {
        written: vec![csv_path, png_path],
        stats: Some(figures),
        fetch: Some(FetchReport::from(&fetched)),
        stdout,
    })
}
