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
    /// When the provider's graph is used.
    pub mode: FallbackMode,
    /// Which provider graph to ask for, and how.
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
    /// `render`: a PNG from raw data or the provider's graph.
    Render(RenderJob),
    /// `export`: CSV or JSON from raw data.
    Export(ExportJob),
    /// `fetch`: the raw data of a range, written as CSV or JSON.
    Fetch(FetchJob),
    /// `sim`: the loopback simulator, served until Ctrl-C.
    Sim(SimConfig),
    /// `demo`: a fetch from the in-process simulator, written as `traffic.csv` and
    /// `graph.png`.
    Demo(DemoJob),
    /// `report`: every target of a config, with a summary and an index page.
    Report(crate::report::ReportJob),
    /// `report merge`: the shards of a sharded report, merged.
    ReportMerge(crate::report::shard::MergeJob),
    /// `bench`: the same graph rendered over and over, timed.
    Bench(BenchJob),
    /// `cache verify`: every cache entry checked.
    CacheVerify(CacheVerifyJob),
    /// `cache list`: what the cache in this directory holds.
    CacheList(PathBuf),
    /// `cache prune`: removes old or named entries.
    CachePrune(CachePruneJob),
}

/// `cache prune`: which cache, and which entries (both conditions when both are given).
#[derive(Debug, Clone)]
pub struct CachePruneJob {
    /// The cache directory.
    pub cache_dir: PathBuf,
    /// Remove entries whose data ends more than this many days ago.
    pub older_than: Option<u32>,
    /// Remove entries that name this server: a Hostway account or server id, or a part of a
    /// raw provider's key (e.g. the hardware or instance id).
    pub server: Option<String>,
}

/// `cache verify`: which cache, and whether to delete the entries that fail.
#[derive(Debug, Clone)]
pub struct CacheVerifyJob {
    /// The cache directory.
    pub cache_dir: PathBuf,
    /// Delete the entries that fail instead of only naming them.
    pub remove: bool,
}

/// `fetch`: what to fetch and where to write it.
#[derive(Debug, Clone)]
pub struct FetchJob {
    /// What to fetch.
    pub fetch: FetchOptions,
    /// The file written (atomically).
    pub output: PathBuf,
    /// CSV or JSON.
    pub format: ExportFormat,
}

/// `bench`: the input and graph to time, and for how long.
#[derive(Debug, Clone)]
pub struct BenchJob {
    /// `--input` files, parsed once before the timing.
    pub inputs: Vec<InputSpec>,
    /// The graph rendered each time.
    pub render: RenderOptions,
    /// How long to run.
    pub budget: crate::bench::Budget,
    /// Rayon workers rendering at once (0 counts as 1).
    pub threads: usize,
    /// Also print the report as one JSON line.
    pub json: bool,
    /// Where to write the last PNG, if anywhere.
    pub output: Option<PathBuf>,
}

/// `render`: where the traffic comes from and how it is drawn.
#[derive(Debug, Clone)]
pub struct RenderJob {
    /// `None` with `--fallback always`: nothing is fetched.
    pub source: Option<Source>,
    /// The PNG written (atomically).
    pub output: PathBuf,
    /// Size, theme, units, figures and the rest of the drawing.
    pub render: RenderOptions,
    /// Print the figures on stdout, in this format.
    pub stats: Option<StatsFormat>,
    /// Whether and how to use a provider-drawn graph instead.
    pub fallback: Option<Fallback>,
}

/// `export`: where the traffic comes from and the file it is written to.
#[derive(Debug, Clone)]
pub struct ExportJob {
    /// The traffic exported.
    pub source: Source,
    /// The file written (atomically).
    pub output: PathBuf,
    /// CSV or JSON.
    pub format: ExportFormat,
}

/// A validated source of traffic.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--input` files.
    Files(Vec<InputSpec>),
    /// Fetched over HTTP: the Hostway API (`--base-url`) or a raw provider, with the fetch
    /// flags.
    Http(Box<FetchOptions>),
}

/// Why traffic could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    #[error(transparent)]
    Input(#[from] crate::source::file::InputError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// Loads the traffic of a source, and what the fetch did when it was fetched.
pub(crate) fn load(source: &Source) -> Result<(Traffic, Option<crate::FetchReport>), SourceError> {
    match source {
        Source::Files(specs) => Ok((crate::source::file::read_inputs(specs)?, None)),
        Source::Http(opts) => {
            let fetched = crate::fetch::fetch(opts)?;
            let report = crate::FetchReport::from(&fetched);
            Ok((fetched.traffic, Some(report)))
        }
    }
}
