//! Validated jobs: what [`crate::run`] takes. The binary turns its flags into these; tests
//! and other callers may build them directly. Rules every front end shares (request limits,
//! the default title) live here too, so no front end has to reach into another.

use std::path::PathBuf;
use std::time::Duration;

use crate::export::ExportFormat;
use crate::fetch::{FetchError, FetchOptions};
use crate::model::Traffic;
use crate::provider::request::ProviderRequest;
use crate::render::RenderOptions;
use crate::sim::SimConfig;
use crate::source::file::InputSpec;

pub use crate::sim::demo::DemoJob;

/// Checks `--concurrency` (1 to 64) and `--timeout` (seconds, up to an hour), shared by the
/// fetching commands; returns the timeout.
pub fn check_request_limits(concurrency: usize, timeout: f64) -> Result<Duration, LimitError> {
    if !(1..=64).contains(&concurrency) {
        return Err(LimitError::Concurrency(concurrency));
    }
    if !(timeout > 0.0 && timeout <= 3600.0) {
        return Err(LimitError::Timeout(timeout));
    }
    Ok(Duration::from_secs_f64(timeout))
}

/// A request limit out of range; the variant holds the value given.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum LimitError {
    /// `--concurrency` outside 1 to 64.
    #[error("--concurrency {0} out of range (1 to 64)")]
    Concurrency(usize),
    /// `--timeout` not above 0 or over an hour.
    #[error("--timeout {0} out of range (0 to 3600 seconds)")]
    Timeout(f64),
}

/// `--fallback`: when to use a provider-drawn graph instead of drawing from raw data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FallbackMode {
    /// Always draw locally from raw data.
    #[default]
    Never,
    /// Use the provider's graph when fetching raw data fails (after retries).
    OnError,
    /// Use the provider's graph without fetching raw data.
    Always,
}

/// A validated fallback: when, and what to ask for.
#[derive(Debug, Clone)]
pub struct Fallback {
    pub mode: FallbackMode,
    pub request: ProviderRequest,
}

/// `--stats`: the format the figures are printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsFormat {
    /// Pretty-printed JSON on stdout.
    Json,
}

/// The title of a graph drawn without `--title`: the target and range of fetched data, the
/// file names of `--input` data, so a mailed PNG says what it shows.
pub fn default_title(source: &Source) -> String {
    match source {
        Source::Files(specs) => specs
            .iter()
            .map(|s| {
                s.path.file_name().map_or_else(
                    || s.path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                )
            })
            .collect::<Vec<_>>()
            .join(" + "),
        Source::Http(f) => {
            let target = match &f.provider {
                crate::fetch::RawProvider::Hostway => {
                    format!("server {} ({})", f.server, f.ips.join(", "))
                }
                crate::fetch::RawProvider::SoftLayer(sl) => {
                    format!("SoftLayer hardware {}", sl.hardware_id)
                }
                crate::fetch::RawProvider::CloudWatch(cw) => cw.instance_id.clone(),
            };
            let r = &f.range;
            if r.start == r.end {
                format!("{target}, {}", r.start)
            } else {
                format!("{target}, {} to {}", r.start, r.end)
            }
        }
    }
}

/// A validated command for [`crate::run`].
#[derive(Debug, Clone)]
pub enum Command {
    Render(RenderJob),
    Export(ExportJob),
    Fetch(FetchJob),
    Sim(SimConfig),
    Demo(DemoJob),
    Report(crate::report::ReportJob),
    ReportMerge(crate::report::shard::MergeJob),
    Bench(BenchJob),
    CacheVerify(CacheVerifyJob),
    CacheList(PathBuf),
    CachePrune(CachePruneJob),
}

/// `cache prune`: which cache, and which entries (both conditions when both are given).
#[derive(Debug, Clone)]
pub struct CachePruneJob {
    pub cache_dir: PathBuf,
    pub older_than: Option<u32>,
    pub server: Option<String>,
}

/// `cache verify`: which cache, and whether to delete the entries that fail.
#[derive(Debug, Clone)]
pub struct CacheVerifyJob {
    pub cache_dir: PathBuf,
    pub remove: bool,
}

#[derive(Debug, Clone)]
pub struct FetchJob {
    pub fetch: FetchOptions,
    pub output: PathBuf,
    pub format: ExportFormat,
}

#[derive(Debug, Clone)]
pub struct BenchJob {
    pub inputs: Vec<InputSpec>,
    pub render: RenderOptions,
    pub budget: crate::bench::Budget,
    pub threads: usize,
    pub json: bool,
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct RenderJob {
    /// `None` with `--fallback always`: nothing is fetched.
    pub source: Option<Source>,
    pub output: PathBuf,
    pub render: RenderOptions,
    pub stats: Option<StatsFormat>,
    pub fallback: Option<Fallback>,
}

#[derive(Debug, Clone)]
pub struct ExportJob {
    pub source: Source,
    pub output: PathBuf,
    pub format: ExportFormat,
}

/// A validated source of traffic.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--input` files.
    Files(Vec<InputSpec>),
    /// The Hostway API (`--base-url` and the other fetch flags).
    Http(Box<FetchOptions>),
}

/// Why traffic could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Input(#[from] crate::source::file::InputError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// Loads the traffic of a source, and what the fetch did when it was fetched.
pub fn load(source: &Source) -> Result<(Traffic, Option<crate::FetchReport>), SourceError> {
    match source {
        Source::Files(specs) => Ok((crate::source::file::read_inputs(specs)?, None)),
        Source::Http(opts) => {
            let fetched = crate::fetch::fetch(opts)?;
            let report = crate::FetchReport::from(&fetched);
            Ok((fetched.traffic, Some(report)))
        }
    }
}
