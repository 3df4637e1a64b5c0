//! Offline reports for many servers: a config file in, a folder of graphs, CSVs, a summary
//! and an `index.html` out.
//!
//! Why it is shaped this way:
//! - Targets are processed as a stream, at most `--jobs` at once: each is fetched, drawn
//!   and written, then only its [`SummaryRow`] is kept, so memory does not grow with the
//!   number of targets. The one exception is a pool member, whose traffic is kept until
//!   the pools are drawn from it (pools make no requests of their own).
//! - Every fetch shares one semaphore, so `--concurrency` bounds the requests in flight
//!   across all targets, whatever `--jobs` is. Drawing runs on a pool of `--jobs` threads
//!   of its own (default: one a core), while fetches wait on the network and writes on
//!   the disk elsewhere: a drawing thread never waits, and only `--jobs` threads ever
//!   hold a frame's buffers (each thread keeps its own, so memory follows `--jobs`, not
//!   the number of targets).
//! - A failing target does not stop the others: it becomes a `failed` row with a one-line
//!   reason (and the run ends with exit code 3). Everything fetched is in the cache, so a
//!   re-run asks only for what is missing, and `--offline` asks for nothing.
//! - A target with a `fallback` whose raw data cannot be had gets the provider's own graph
//!   (`fallback`); it has no CSV and no figures.
//!
//! - [`config`]: the TOML file; [`ranges`]: named ranges; [`summary`]: the summary files;
//!   `pipeline`: which thread does what for a target, and why.

pub mod config;
pub(crate) mod fallback;
pub(crate) mod outdir;
mod pipeline;
pub mod ranges;
pub mod shard;
pub mod summary;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use rayon::prelude::*;

use crate::export::{CsvExporter, Exporter};
use crate::fetch::{CloudWatchRaw, RawProvider, SoftLayerRaw};
use crate::fetch::{FetchOptions, FetchSettings};
use crate::model::{Method, Origin, Period, Scope, Series, Traffic};
use crate::output::{write_if_changed, Batch, OutputError, Staged};
use crate::provider::cloudwatch::CloudWatchConfig;
use crate::provider::softlayer::{NetworkType, SoftLayerConfig};
use crate::provider::ProviderError;
use crate::range::DateRange;
use crate::render::RenderOptions;
use crate::source::hostway::Secret;
use crate::stats::StatsOptions;
use config::{Config, ConfigError, SourceName, TargetConfig};
use summary::{file_stems, RowKind, RowStatus, Summary, SummaryRow};

/// A validated `report` command.
#[derive(Debug, Clone)]
pub struct ReportJob {
    /// The TOML configuration: targets, pools, defaults.
    pub config: PathBuf,
    /// Where the graphs, CSVs, summary and index go (owned by the report: see `outdir`).
    pub out_dir: PathBuf,
    /// Targets in progress at once.
    pub jobs: usize,
    /// "Today"; `None` is today in the configured time zone.
    pub now: Option<NaiveDate>,
    /// Only this share of the targets, and a shard summary instead of the summary files.
    pub shard: Option<shard::Shard>,
    /// How every target is fetched. `concurrency` bounds requests across all targets;
    /// `quiet` and `notes` are the report's own progress bar and notes.
    pub fetch: FetchSettings,
}

impl ReportJob {
    /// A job with the CLI's defaults (a target drawn at once per core, 8 requests in
    /// flight), no cache, quiet.
    pub fn new(config: impl Into<PathBuf>, out_dir: impl Into<PathBuf>) -> ReportJob {
        ReportJob {
            config: config.into(),
            out_dir: out_dir.into(),
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
            now: None,
            shard: None,
            fetch: FetchSettings {
                concurrency: 8,
                ..FetchSettings::default()
            },
        }
    }
}

/// Why no report was written at all (a failing target is a row, not an error).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The configuration file was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The output directory could not be created.
    #[error("cannot create the output directory {path}: {source}")]
    OutDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The output directory holds something a report did not write.
    #[error(
        "--out-dir {} holds files that are not a trafficgraph report (e.g. {example}); \
         give an empty or new directory",
        .path.display()
    )]
    NotOurs {
        /// The output directory.
        path: PathBuf,
        /// One of the files that are not a report's.
        example: String,
    },
    /// A previous run's file that the new summary does not list could not be removed.
    #[error(
        "cannot remove {}, a previous run's file the new summary does not list: {source}; \
         remove it by hand",
        .path.display()
    )]
    Unlisted {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The tokio runtime could not be built.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// `report merge` was given shards that do not make one report.
    #[error("report merge: {0}")]
    Merge(String),
    /// Another report or merge is writing to the output directory now.
    #[error(
        "another trafficgraph report is writing to {} now; wait for it to finish or give \
         another --out-dir",
        .path.display()
    )]
    Busy {
        /// The output directory.
        path: PathBuf,
    },
}

/// What a report wrote.
#[derive(Debug, Clone)]
pub struct ReportOutcome {
    /// One row per target and pool, with figures or why it failed.
    pub summary: Summary,
    /// Every file written, summary files last.
    pub written: Vec<PathBuf>,
    /// HTTP clients the run built: 0 when the cache answered everything, else one per
    /// set-up, whatever the number of targets.
    pub http_clients: usize,
}

/// The config's defaults, parsed once.
#[derive(Debug, Clone)]
struct Plan {
    /// "Today" the named range was resolved against.
    today: NaiveDate,
    /// The local days of the report, in its time zone.
    range: DateRange,
    /// Where those local days begin and end, in UTC seconds (`[start, end)`).
    window: (i64, i64),
    /// The UTC days asked for: those the window touches.
    fetch_range: DateRange,
    scopes: Vec<Scope>,
    period: Period,
    method: Method,
    auth: Option<Secret>,
    render: RenderOptions,
}

impl Plan {
    fn new(config: &Config, now: Option<NaiveDate>, path: &Path) -> Result<Plan, ConfigError> {
        let d = &config.defaults;
        let err = |message: String| ConfigError {
            path: path.display().to_string(),
            message,
        };
        let zone = d.timezone;
        // "Today" is the local date in the report's zone (with daylight saving).
        let today = now.unwrap_or_else(|| zone.today(Utc::now()));
        let params = ranges::RangeParams {
            billing_day: d.billing_day,
            date: d.date,
            end: d.end_date,
        };
        let range = ranges::resolve(d.range, today, &params).map_err(|e| err(e.to_string()))?;
        // Local days are fetched as the UTC days they touch and cut to their instants, so
        // a report in Europe/Berlin sums its own midnight to midnight (23 or 25 hours on a
        // daylight-saving day), never the UTC day.
        let window = (zone.day_bounds(range.start).0, zone.day_bounds(range.end).1);
        let utc_day = |t: i64| crate::model::time_of(t).date_naive();
        let fetch_range =
            DateRange::new(utc_day(window.0), utc_day(window.1 - 1)).ok_or_else(|| {
                err(format!(
                    "the range {range} has no instants in {}",
                    zone.name()
                ))
            })?;
        let step = d.period.seconds();
        if window.0.rem_euclid(step) != 0 || window.1.rem_euclid(step) != 0 {
            return Err(err(format!(
                "period \"{}\" data sets do not start at {}'s midnights, so the report's \
                 local days cannot be summed exactly: use period = \"hourly\" or a time zone \
                 whose midnight falls on a whole hour of UTC (or UTC for daily data)",
                d.period,
                zone.name()
            )));
        }
        let (scopes, unit, value_unit, theme, percentile_of) = (
            d.scope.clone(),
            d.unit,
            d.value_unit,
            d.theme,
            d.percentile_of,
        );
        if !(0.0..=100.0).contains(&d.percentile) || d.percentile.is_nan() {
            return Err(err(format!(
                "percentile {} out of range (0 to 100)",
                d.percentile
            )));
        }
        crate::render::check_size(d.width, d.height)
            .map_err(|e| err(format!("width/height: {e}")))?;
        // The variable's value is the credential; it is read here and only ever sent.
        let auth = std::env::var(&d.auth_env)
            .ok()
            .filter(|v| !v.is_empty())
            .map(Secret::new);
        Ok(Plan {
            today,
            range,
            window,
            fetch_range,
            scopes,
            period: d.period,
            method: d.method,
            auth,
            render: RenderOptions {
                width: d.width,
                height: d.height,
                timezone: zone,
                theme,
                stats: StatsOptions {
                    value_unit,
                    unit,
                    percentile: (d.percentile > 0.0).then_some(d.percentile),
                    percentile_of,
                },
                ..RenderOptions::default()
            },
        })
    }
}

/// Everything the target tasks share.
struct Ctx {
    config: Config,
    stems: Vec<String>,
    plan: Plan,
    job: ReportJob,
    semaphore: Arc<tokio::sync::Semaphore>,
    /// `--jobs` threads that draw (targets and pools), and nothing else.
    draw_pool: rayon::ThreadPool,
    /// The HTTP clients every target shares (one per set-up, built on the first request;
    /// none when the cache answers everything). They live and die with the run's runtime.
    clients: crate::http::Clients,
    /// Targets some pool sums: their traffic is kept.
    pool_members: HashSet<usize>,
    /// The names in the output directory when the run began ([`outdir::OutDir::present`]).
    present: HashSet<String>,
}

/// One finished target: its row, and its traffic when a pool needs it.
struct Done {
    index: usize,
    row: SummaryRow,
    traffic: Option<Traffic>,
    written: Vec<PathBuf>,
    /// Why the raw data could not be had, when a provider image stands in.
    note: Option<String>,
}

/// Runs a report: every target, then every pool, then the summary files.
pub fn run(job: &ReportJob) -> Result<ReportOutcome, ReportError> {
    let (ctx, out_dir, selected) = prepare(job)?;
    let total = match job.shard {
        Some(_) => selected.len(),
        None => ctx.config.targets.len() + ctx.config.pools.len(),
    };
    let progress = Progress::new(job, total);
    let gathered = pipeline::run_targets(&ctx, &selected, &progress)?;
    let http_clients = ctx.clients.len();
    let mut outcome = match job.shard {
        Some(shard) => finish_shard(&ctx, shard, gathered, &progress)?,
        None => finish_report(&ctx, &out_dir, gathered, &progress)?,
    };
    outcome.http_clients = http_clients;
    Ok(outcome)
}

/// The threads that draw: `jobs` of them.
fn draw_pool(jobs: usize) -> Result<rayon::ThreadPool, ReportError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .thread_name(|i| format!("draw-{i}"))
        .build()
        .map_err(|e| ReportError::Runtime(std::io::Error::other(e)))
}

/// The file stems of every target, then every pool, in config order.
fn config_stems(config: &Config) -> Vec<String> {
    file_stems(
        config
            .targets
            .iter()
            .map(|t| t.name.as_str())
            .chain(config.pools.iter().map(|p| p.name.as_str())),
    )
}

/// Reads and checks the config, plans the range, and claims the output directory, all
/// before any request; returns the run's context and the targets this run draws (a
/// shard's share, or all).
fn prepare(job: &ReportJob) -> Result<(Arc<Ctx>, outdir::OutDir, Vec<usize>), ReportError> {
    let config = Config::load(&job.config)?;
    let plan = Plan::new(&config, job.now, &job.config)?;
    let stems = config_stems(&config);
    // Before any request: a directory that is not a report's (or a shard's) is refused
    // untouched.
    let mut out_dir = outdir::check(&job.out_dir, &stems)?;
    std::fs::create_dir_all(&job.out_dir).map_err(|source| ReportError::OutDir {
        path: job.out_dir.clone(),
        source,
    })?;
    out_dir.claim = outdir::claim(&job.out_dir)?;
    crate::output::remove_stale_temporaries(&job.out_dir, None);
    // A shard draws its share of the targets and no pool: `report merge` draws the pools
    // from the members' CSVs, whichever shard wrote them.
    let selected: Vec<usize> = (0..config.targets.len())
        .filter(|&i| job.shard.is_none_or(|s| s.owns(&config.targets[i].name)))
        .collect();
    let pool_members: HashSet<usize> = config
        .pools
        .iter()
        .flat_map(|p| &p.targets)
        .filter_map(|name| config.targets.iter().position(|t| &t.name == name))
        .filter(|_| job.shard.is_none())
        .collect();
    let ctx = Arc::new(Ctx {
        stems,
        plan,
        job: job.clone(),
        semaphore: Arc::new(tokio::sync::Semaphore::new(job.fetch.concurrency.max(1))),
        draw_pool: draw_pool(job.jobs)?,
        clients: crate::http::Clients::default(),
        pool_members,
        present: std::mem::take(&mut out_dir.present),
        config,
    });
    Ok((ctx, out_dir, selected))
}

/// The report's progress bar and notes (nothing when quiet; no bar when verbose).
struct Progress<'a> {
    job: &'a ReportJob,
    bar: Option<Box<dyn crate::notes::Bar>>,
}

impl<'a> Progress<'a> {
    fn new(job: &'a ReportJob, total: usize) -> Progress<'a> {
        let bar = if job.fetch.quiet || job.fetch.verbose {
            None
        } else {
            job.fetch.notes.bar(
                "report {bar:30} {pos}/{len} graphs {elapsed_precise}",
                total as u64,
            )
        };
        Progress { job, bar }
    }

    /// A line on stderr above the bar: `trafficgraph: {line}`.
    fn note(&self, line: String) {
        if self.job.fetch.quiet {
            return;
        }
        self.job
            .fetch
            .notes
            .note_over(self.bar.as_deref(), &format!("trafficgraph: {line}"));
    }

    /// One more graph done.
    fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// What the targets left: a row each (by target index; `None` for another shard's),
/// the traffic pools need, and the files written.
struct Gathered {
    rows: Vec<Option<SummaryRow>>,
    kept: HashMap<usize, Traffic>,
    written: Vec<PathBuf>,
}

/// A shard's end: its `shard.json` instead of the summary files, and no pools.
fn finish_shard(
    ctx: &Ctx,
    shard: shard::Shard,
    gathered: Gathered,
    progress: &Progress,
) -> Result<ReportOutcome, ReportError> {
    let job = &ctx.job;
    let rows: Vec<(usize, SummaryRow)> = gathered
        .rows
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| r.map(|r| (i, r)))
        .collect();
    let (summary, file) = shard::write_summary(ctx, shard, &job.config, rows)?;
    progress.finish();
    let mut written = gathered.written;
    written.push(file);
    progress.note(format!(
        "shard {shard}: {} of {} targets ({} failed) in {}",
        summary.rows.len(),
        ctx.config.targets.len(),
        summary.failed(),
        job.out_dir.display()
    ));
    Ok(ReportOutcome {
        summary,
        written,
        http_clients: 0,
    })
}

/// A whole report's end: the pools, then the summary files.
fn finish_report(
    ctx: &Ctx,
    out_dir: &outdir::OutDir,
    gathered: Gathered,
    progress: &Progress,
) -> Result<ReportOutcome, ReportError> {
    let n = ctx.config.targets.len();
    let rows: Vec<SummaryRow> = gathered
        .rows
        .into_iter()
        .map(|r| r.expect("every target finished"))
        .collect();
    let outcome = finish(
        ctx,
        Some(out_dir),
        rows,
        gathered.kept,
        gathered.written,
        &|| progress.inc(),
    )?;
    progress.finish();
    for row in &outcome.summary.rows[n..] {
        if let Some(e) = &row.error {
            progress.note(format!("pool '{}' failed: {e}", row.name));
        }
    }
    progress.note(format!(
        "report of {} graphs ({} failed) in {}",
        outcome.summary.rows.len(),
        outcome.summary.failed(),
        ctx.job.out_dir.join("index.html").display()
    ));
    Ok(outcome)
}

/// Draws the pools from their members' traffic (`kept`, by target index), then writes
/// `summary.csv`, `summary.json` and `index.html` for the target rows and the pools'.
fn finish(
    ctx: &Ctx,
    out_dir: Option<&outdir::OutDir>,
    mut rows: Vec<SummaryRow>,
    kept: HashMap<usize, Traffic>,
    mut written: Vec<PathBuf>,
    tick: &(dyn Fn() + Sync),
) -> Result<ReportOutcome, ReportError> {
    let n = ctx.config.targets.len();
    // The pools' files go through a batch as the targets' do.
    let batch = Batch::new(&ctx.job.out_dir);
    type PoolRow = (SummaryRow, Vec<PathBuf>, Option<Vec<Staged>>);
    let pool_rows: Vec<PoolRow> = ctx.draw_pool.install(|| {
        ctx.config
            .pools
            .par_iter()
            .enumerate()
            .map(|(i, pool)| {
                let stem = &ctx.stems[n + i];
                let mut members = Vec::new();
                for name in &pool.targets {
                    let index = ctx.config.targets.iter().position(|t| &t.name == name);
                    match index.and_then(|i| kept.get(&i)) {
                        Some(t) => members.push(t),
                        None => {
                            let why = format!("member '{name}' has no raw data (see its row)");
                            return (
                                SummaryRow::failed(&pool.name, RowKind::Pool, why),
                                Vec::new(),
                                None,
                            );
                        }
                    }
                }
                match sum_traffic(&members, ctx.plan.period, ctx.plan.method) {
                    Ok(traffic) => {
                        let mut drawn = draw(ctx, &pool.name, RowKind::Pool, stem, &traffic);
                        drawn.keep_unchanged(&ctx.present);
                        drawn.stage(&batch)
                    }
                    Err(why) => (
                        SummaryRow::failed(&pool.name, RowKind::Pool, why.to_string()),
                        Vec::new(),
                        None,
                    ),
                }
            })
            .collect()
    });
    drop(kept);
    for (row, files, full) in pool_rows {
        batch.commit(full.unwrap_or_default())?;
        rows.push(row);
        written.extend(files);
        tick();
    }
    batch.commit(batch.rest())?;

    let summary = ctx.summary(rows);
    let out = &ctx.job.out_dir;
    if let Some(out_dir) = out_dir {
        let removed = out_dir.remove_unlisted(out, &summary)?;
        if !removed.is_empty() && !ctx.job.fetch.quiet {
            ctx.job.fetch.notes.note(&format!(
                "trafficgraph: removed {} graph and CSV files of a previous run that this \
                 report does not list",
                removed.len()
            ));
        }
    }
    // One at a time: for 10,000 targets each file is megabytes.
    let files: [(&str, &dyn Fn() -> Vec<u8>); 3] = [
        ("summary.csv", &|| summary.to_csv()),
        ("summary.json", &|| summary.to_json()),
        ("index.html", &|| summary.to_html("Traffic report")),
    ];
    for (name, bytes) in files {
        let path = out.join(name);
        write_if_changed(&path, &bytes())?;
        written.push(path);
    }
    // Every file's data was synced before its rename; this puts the names on disk.
    crate::output::sync_dir(out)?;
    Ok(ReportOutcome {
        summary,
        written,
        http_clients: 0,
    })
}

/// What a target reads: a Hostway base URL, or another provider's raw data.
fn target_provider(ctx: &Ctx, t: &TargetConfig) -> Result<Option<RawProvider>, ProviderError> {
    Ok(Some(match t.source {
        SourceName::Hostway => {
            let base = t
                .base_url
                .clone()
                .or_else(|| ctx.config.defaults.base_url.clone());
            return Ok(base.map(|_| RawProvider::Hostway));
        }
        SourceName::Softlayer => {
            let mut config = SoftLayerConfig::from_env()?;
            if let Some(e) = &t.endpoint {
                config = config.with_endpoint(e.clone());
            }
            let network = match t.network.as_deref() {
                Some("private") => NetworkType::Private,
                _ => NetworkType::Public,
            };
            RawProvider::SoftLayer(SoftLayerRaw {
                config,
                hardware_id: t.hardware_id.unwrap_or_default(),
                network,
                rollup: None,
            })
        }
        SourceName::Cloudwatch => {
            let mut config = CloudWatchConfig::from_env(t.region.clone())?;
            if let Some(e) = &t.endpoint {
                config = config.with_endpoint(e.clone());
            }
            RawProvider::CloudWatch(CloudWatchRaw {
                config,
                instance_id: t.instance_id.clone().unwrap_or_default(),
                period: t.cw_period.unwrap_or(300),
            })
        }
    }))
}

/// The samples of `traffic` inside the report's local days (`window`, UTC seconds).
fn within(traffic: Traffic, (lo, hi): (i64, i64)) -> Traffic {
    let series = traffic
        .series
        .into_iter()
        .map(|s| {
            let keep: Vec<usize> = (0..s.len())
                .filter(|&i| (lo..hi).contains(&s.times()[i]))
                .collect();
            if keep.len() == s.len() {
                return s;
            }
            let pick = |i: &usize| *i;
            let counts = if s.counts().is_empty() {
                Vec::new()
            } else {
                keep.iter().map(pick).map(|i| s.counts()[i]).collect()
            };
            let mut cut = Series::from_columns(
                s.scope,
                keep.iter().map(pick).map(|i| s.times()[i]).collect(),
                keep.iter().map(pick).map(|i| s.values()[i]).collect(),
                counts,
            );
            cut.label = s.label;
            cut.origin = s.origin;
            cut
        })
        .filter(|s| !s.is_empty())
        .collect();
    Traffic::new(series)
}

/// Fetch options of one target.
fn fetch_options(ctx: &Ctx, t: &TargetConfig, provider: RawProvider) -> FetchOptions {
    let job = &ctx.job;
    let plan = &ctx.plan;
    let mut o = match provider {
        RawProvider::Hostway => {
            let base_url = t
                .base_url
                .clone()
                .or_else(|| ctx.config.defaults.base_url.clone())
                .unwrap_or_default();
            let mut o = FetchOptions::new(
                base_url,
                &t.account,
                &t.server,
                t.ips.clone(),
                plan.fetch_range,
            );
            o.method = plan.method;
            o.auth = plan.auth.clone();
            o
        }
        raw => {
            let mut o = FetchOptions::raw(raw, plan.fetch_range);
            o.method = Method::Sum;
            o
        }
    };
    o.scopes = plan.scopes.clone();
    o.period = plan.period;
    o.settings = FetchSettings {
        // A target's own fetch says nothing unless asked to: the report's bar speaks.
        quiet: !job.fetch.verbose,
        semaphore: Some(ctx.semaphore.clone()),
        clients: ctx.clients.clone(),
        ..job.fetch.clone()
    };
    o
}

impl Ctx {
    /// The summary of `rows` under this report's range, unit and percentile.
    fn summary(&self, rows: Vec<SummaryRow>) -> Summary {
        let stats = &self.plan.render.stats;
        Summary {
            range: self.plan.range,
            unit: stats.unit.as_str(),
            percentile_p: stats.percentile.unwrap_or(0.0),
            percentile_of: self.config.defaults.percentile_of.to_string(),
            rows,
        }
    }

    fn plan_view(&self) -> fallback::PlanView<'_> {
        fallback::PlanView {
            range: self.plan.range,
            period: self.plan.period,
            render: &self.plan.render,
        }
    }
}

/// A row with the files that back it, drawn but not yet written.
struct Drawn {
    row: SummaryRow,
    /// Each file's path and bytes (none for a failed row); no bytes for a file found to
    /// hold them already ([`Drawn::keep_unchanged`]).
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Drawn {
    /// Leaves out the files that already hold their bytes (a re-run over unchanged data):
    /// they are neither written nor synced again. A file whose name was not `present` in
    /// the directory when the run began is new: it is not looked for.
    fn keep_unchanged(&mut self, present: &HashSet<String>) {
        for (path, bytes) in &mut self.files {
            let known = path
                .file_name()
                .is_some_and(|n| present.contains(&*n.to_string_lossy()));
            if known
                && bytes
                    .as_ref()
                    .is_some_and(|b| crate::output::holds(path, b))
            {
                *bytes = None;
            }
        }
    }

    /// Writes the files to temporaries that join `batch` ([`crate::output::Batch`]: synced
    /// and renamed with it); the row fails if one cannot be written, and then none of its
    /// files joins. Returns the row, the paths of all its files, and a full batch to
    /// commit.
    fn stage(self, batch: &Batch) -> (SummaryRow, Vec<PathBuf>, Option<Vec<Staged>>) {
        let mut staged = Vec::with_capacity(self.files.len());
        let mut written = Vec::with_capacity(self.files.len());
        for (path, bytes) in self.files {
            if let Some(bytes) = bytes {
                match crate::output::stage(&path, &bytes) {
                    Ok(Some(s)) => staged.push((s, bytes.len())),
                    Ok(None) => {}
                    Err(e) => {
                        let row = SummaryRow::failed(&self.row.name, self.row.kind, e.to_string());
                        return (row, Vec::new(), None);
                    }
                }
            }
            written.push(path);
        }
        let mut full = None;
        for (s, len) in staged {
            if let Some(files) = batch.add(s, len) {
                full.get_or_insert_with(Vec::new).extend(files);
            }
        }
        (self.row, written, full)
    }
}

/// Computes the figures and draws the graph and CSV of `traffic`, in memory: the CPU part
/// of a target, apart from writing its files ([`Drawn::stage`]).
fn draw(ctx: &Ctx, name: &str, kind: RowKind, stem: &str, traffic: &Traffic) -> Drawn {
    let plan = &ctx.plan;
    let failed = |why: String| Drawn {
        row: SummaryRow::failed(name, kind, why),
        files: Vec::new(),
    };
    if traffic.is_empty() {
        return failed(format!("no data sets in {}", plan.range));
    }
    let stats = crate::stats::compute(traffic, &plan.render.stats);
    let opts = RenderOptions {
        title: Some(name.to_string()),
        ..plan.render.clone()
    };
    let png = match crate::render::render_png(traffic, &stats, &opts) {
        Ok(png) => png,
        Err(e) => return failed(crate::Error::from(e).to_string()),
    };
    let (png_name, csv_name) = (format!("{stem}.png"), format!("{stem}.csv"));
    let out = &ctx.job.out_dir;
    let files = vec![
        (out.join(&csv_name), Some(CsvExporter.export(traffic))),
        (out.join(&png_name), Some(png)),
    ];
    let mut row = SummaryRow::from_stats(name, kind, &stats, plan.range, traffic.step_seconds());
    row.png = Some(png_name);
    row.csv = Some(csv_name);
    Drawn { row, files }
}

/// Sums several targets' traffic per scope and timestamp (a pool's graph). A member
/// without a sample at a timestamp adds nothing there.
///
/// Members of one kind (same step and consolidation) are summed as they are. Members that
/// differ (a CloudWatch instance's 5-minute octets beside a Hostway server's hourly
/// averages) are each turned into octets per bucket of the coarsest step first, so the
/// pool's values are octets per that step and its totals are exactly the members' totals;
/// the pool is drawn at the coarsest step. Minimum or maximum values cannot be summed
/// into octets: such a mix is refused.
pub fn sum_traffic(
    members: &[&Traffic],
    period: Period,
    method: Method,
) -> Result<Traffic, PoolError> {
    let kinds: HashSet<(i64, Option<Method>)> = members
        .iter()
        .flat_map(|t| &t.series)
        .map(|s| (s.step_seconds(), s.origin.method))
        .collect();
    if kinds.len() > 1 {
        return sum_as_octets(members);
    }
    Ok(sum_alike(members, period, method))
}

/// Why a pool's members cannot be summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Two members' steps (seconds) of which neither divides the other.
    #[error(
        "members' steps of {own} s and {step} s do not nest; a pool sums members \
         whose steps divide each other"
    )]
    Steps {
        /// One member's step, seconds.
        own: i64,
        /// Another member's step, seconds.
        step: i64,
    },
    /// Members of several kinds, one of them of minimum or maximum values.
    #[error(
        "a pool of several providers or steps sums octets; {0} values cannot \
         be summed (use method = \"avg\" or \"sum\")"
    )]
    Method(Method),
}

/// [`sum_traffic`] of members of one kind.
fn sum_alike(members: &[&Traffic], period: Period, method: Method) -> Traffic {
    let parts = members.iter().flat_map(|t| &t.series).map(|s| (s, 1.0));
    let mut series = crate::model::sum_series(parts, 1);
    for s in &mut series {
        s.origin = Origin {
            period: Some(period),
            method: Some(method),
            target: None,
        };
    }
    Traffic::new(series)
}

/// [`sum_traffic`] of members of several kinds: octets per bucket of the coarsest step.
fn sum_as_octets(members: &[&Traffic]) -> Result<Traffic, PoolError> {
    let all = || members.iter().flat_map(|t| &t.series);
    let step = all().map(Series::step_seconds).max().unwrap_or(3600);
    let mut parts = Vec::new();
    for s in all() {
        let own = s.step_seconds();
        if step % own != 0 {
            return Err(PoolError::Steps { own, step });
        }
        // Octets in one of the member's own buckets, from one raw value.
        let octets = match s.origin.method {
            Some(Method::Sum) => 1.0,
            Some(Method::Avg) | None => own as f64,
            Some(m) => return Err(PoolError::Method(m)),
        };
        parts.push((s, octets));
    }
    let mut series = crate::model::sum_series(parts, step);
    for s in &mut series {
        s.origin = Origin {
            period: Period::from_seconds(step),
            method: Some(Method::Sum),
            target: None,
        };
    }
    Ok(Traffic::new(series))
}
