//! `trafficgraph`: bandwidth graphs, 95th percentiles and CSV from raw provider traffic
//! statistics.
//!
//! Data flows one way, one module per stage:
//!
//! ```text
//! cli (validated Command) -> source (file | HTTP | cache) -> model::Traffic
//!     -> stats (from raw samples) -> render (PNG) | export (CSV, JSON) -> output (atomic)
//! ```
//!
//! The binary is a thin shell over [`run`], so integration tests drive the whole tool
//! in-process.

// Parser tests compare against the exact decimal a provider sent (e.g. 344130.30069930002)
// to prove correct rounding; clippy's excessive-precision lint would have them truncated.
#![cfg_attr(test, allow(clippy::excessive_precision))]

pub mod bench;
pub mod cli;
pub mod export;
pub mod model;
pub mod output;
pub mod render;
pub mod source;
pub mod stats;
pub mod units;

use std::io::Write;

pub use cli::Command;

/// Every way a command can fail; each message is one line naming what and where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Input(#[from] source::file::InputError),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error(transparent)]
    Output(#[from] output::OutputError),
    #[error("{0}")]
    Usage(String),
}

/// What a command did, for the caller to report.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Files written.
    pub written: Vec<std::path::PathBuf>,
    /// Figures computed, when the command computes any.
    pub stats: Option<stats::Stats>,
}

/// Runs one validated command.
pub fn run(command: Command) -> Result<Outcome, Error> {
    match command {
        Command::Render(job) => {
            let mut traffic = source::file::read_inputs(&job.inputs)?;
            render::resolve_periods(&mut traffic);
            let stats = stats::compute(&traffic, &job.render.stats);
            let png = render::render_png(&traffic, &stats, &job.render)?;
            output::write_output(&job.output, &png)?;
            if job.stats.is_some() {
                print_json(&stats)?;
            }
            Ok(Outcome {
                written: vec![job.output],
                stats: Some(stats),
            })
        }
        Command::Bench(job) => run_bench(job),
        Command::Export(job) => {
            let traffic = source::file::read_inputs(&job.inputs)?;
            let bytes = job.format.exporter().export(&traffic);
            output::write_output(&job.output, &bytes)?;
            Ok(Outcome {
                written: vec![job.output],
                stats: None,
            })
        }
    }
}

/// `trafficgraph bench`: parse once, then time whole graphs (see [`bench`]).
fn run_bench(job: cli::BenchJob) -> Result<Outcome, Error> {
    let mut traffic = source::file::read_inputs(&job.inputs)?;
    render::resolve_periods(&mut traffic);
    let (report, png) = bench::run(&traffic, &job.render, job.budget, job.threads)?;
    let mut written = Vec::new();
    if let Some(path) = job.output {
        output::write_output(&path, &png)?;
        written.push(path);
    }
    println!("{}", report.summary());
    if job.json {
        let line = serde_json::to_string(&report).map_err(|e| Error::Usage(e.to_string()))?;
        println!("{line}");
    }
    Ok(Outcome {
        written,
        stats: None,
    })
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|_| out.write_all(b"\n"))
        .map_err(|source| {
            Error::Output(output::OutputError {
                path: "-".into(),
                source,
            })
        })
}
