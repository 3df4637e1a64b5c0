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

pub mod cli;
pub mod export;
pub mod fetch;
pub mod model;
pub mod output;
pub mod provider;
pub mod range;
pub mod render;
pub mod report;
pub mod sim;
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
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    #[error(transparent)]
    Sim(#[from] sim::SimError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Report(#[from] report::ReportError),
    /// The report was written, but some targets or pools are `failed` rows.
    #[error("{failed} of {total} targets and pools failed; the report in {} lists why", .dir.display())]
    ReportIncomplete {
        dir: std::path::PathBuf,
        failed: usize,
        total: usize,
    },
}

impl Error {
    /// The process exit code: 3 when a report was written with failures, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::ReportIncomplete { .. } => 3,
            _ => 1,
        }
    }
}

/// What a command did, for the caller to report.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Files written.
    pub written: Vec<std::path::PathBuf>,
    /// Figures computed, when the command computes any.
    pub stats: Option<stats::Stats>,
    /// What a fetch did and which part of the range does not exist, when one ran.
    pub fetch: Option<FetchReport>,
}

/// The result of a fetch, apart from the traffic itself.
#[derive(Debug, Clone, Default)]
pub struct FetchReport {
    pub summary: fetch::FetchSummary,
    pub unavailable: Vec<fetch::Unavailable>,
}

impl From<source::SourceError> for Error {
    fn from(e: source::SourceError) -> Error {
        match e {
            source::SourceError::Input(e) => Error::Input(e),
            source::SourceError::Fetch(e) => Error::Fetch(e),
        }
    }
}

/// Runs one validated command.
pub fn run(command: Command) -> Result<Outcome, Error> {
    match command {
        Command::Render(job) => {
            let traffic = source::load(&job.source)?;
            let stats = stats::compute(&traffic, &job.render.stats);
            let png = render::render_png(&traffic, &stats, &job.render)?;
            output::write_output(&job.output, &png)?;
            if job.stats.is_some() {
                print_json(&stats)?;
            }
            Ok(Outcome {
                written: vec![job.output],
                stats: Some(stats),
                fetch: None,
            })
        }
        Command::Export(job) => {
            let traffic = source::load(&job.source)?;
            let bytes = job.format.exporter().export(&traffic);
            output::write_output(&job.output, &bytes)?;
            Ok(Outcome {
                written: vec![job.output],
                ..Outcome::default()
            })
        }
        Command::Fetch(job) => {
            let fetched = fetch::fetch(&job.fetch)?;
            let bytes = job.format.exporter().export(&fetched.traffic);
            output::write_output(&job.output, &bytes)?;
            Ok(Outcome {
                written: vec![job.output],
                stats: None,
                fetch: Some(FetchReport {
                    summary: fetched.summary,
                    unavailable: fetched.unavailable,
                }),
            })
        }
        Command::Sim(config) => {
            run_sim(config)?;
            Ok(Outcome::default())
        }
        Command::Demo(job) => sim::demo::run(&job),
        Command::Report(job) => {
            let report = report::run(&job)?;
            let failed = report.summary.failed();
            if failed > 0 {
                return Err(Error::ReportIncomplete {
                    dir: job.out_dir,
                    failed,
                    total: report.summary.rows.len(),
                });
            }
            Ok(Outcome {
                written: report.written,
                ..Outcome::default()
            })
        }
    }
}

/// Serves the simulator until Ctrl-C.
fn run_sim(config: sim::SimConfig) -> Result<(), Error> {
    let handle = sim::spawn(config)?;
    eprintln!(
        "trafficgraph: simulator listening on {} (Ctrl-C to stop)",
        handle.base_url()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(fetch::FetchError::Runtime)?;
    let _ = runtime.block_on(tokio::signal::ctrl_c());
    eprintln!(
        "trafficgraph: simulator answered {} requests {:?}",
        handle.counters.total(),
        handle.counters.statuses()
    );
    handle.shutdown();
    Ok(())
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
