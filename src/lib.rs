//! `trafficgraph`: bandwidth graphs, 95th percentiles and CSV from raw provider traffic
//! statistics.
//!
//! Data flows one way, one module per stage:
//!
//! ```text
//! job (validated Command) -> source (file | HTTP | cache) -> validate -> model::Traffic
//!     -> stats (from raw samples) -> render (PNG) | export (CSV, JSON) -> output (atomic)
//! ```
//!
//! [`validate`] is the one gate every answer passes, checked against the request that
//! produced it, before it reaches a figure, a file or the cache.
//!
//! The statistics pass also leaves a [`rollup`] of each large series (per-bucket minimum,
//! maximum and sum) in its figures, so drawing a million points does not read them again.
//!
//! The binary is a thin shell over [`run`], so integration tests drive the whole tool
//! in-process.

#![warn(missing_docs)]

pub mod bench;
pub mod export;
pub mod fetch;
pub(crate) mod hash;
pub mod http;
pub mod job;
pub mod model;
pub mod notes;
pub mod output;
pub mod provider;
pub mod range;
pub mod render;
pub mod report;
pub mod rollup;
pub mod secret;
pub mod sim;
pub mod source;
pub mod stats;
pub mod units;
pub mod validate;
pub mod zone;

pub use job::Command;
pub use notes::Sink;

/// Every way a command can fail; each message is one line naming what and where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An `--input` file could not be read, parsed or checked.
    #[error(transparent)]
    Input(#[from] source::file::InputError),
    /// The graph could not be drawn or encoded.
    #[error(transparent)]
    Render(#[from] render::RenderError),
    /// An output file could not be written.
    #[error(transparent)]
    Output(#[from] output::OutputError),
    /// Fetching raw data failed.
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    /// The simulator could not start.
    #[error(transparent)]
    Sim(#[from] sim::SimError),
    /// The provider-drawn graph (`--fallback always`) could not be had.
    #[error(transparent)]
    Provider(Box<provider::ProviderError>),
    /// Raw data failed and so did the provider-drawn graph that replaces it.
    #[error("raw data failed ({raw}); the {provider} fallback failed too: {source}")]
    Fallback {
        /// Why the raw data failed.
        raw: String,
        /// The provider asked.
        provider: provider::ProviderKind,
        /// Why the provider's graph failed.
        #[source]
        source: Box<provider::ProviderError>,
    },
    /// The command cannot do what was asked, or its output could not be formatted; the
    /// message says why.
    #[error("{0}")]
    Usage(String),
    /// A figure came out infinite or NaN: refused rather than printed as null.
    #[error("{0}; nothing was written")]
    Figures(#[source] stats::FigureError),
    /// No report could be written at all.
    #[error(transparent)]
    Report(#[from] report::ReportError),
    /// `cache verify` found entries that fail; `lines` name them (stdout).
    #[error(
        "{failed} cache entries fail a check; `trafficgraph cache verify --remove` deletes \
         them, or run again with --refresh"
    )]
    CacheFails {
        /// How many entries fail.
        failed: usize,
        /// One line per failing entry, then the count.
        lines: Vec<String>,
    },
    /// The report was written, but some targets or pools are `failed` rows.
    #[error("{failed} of {total} targets and pools failed; the report in {} lists why", .dir.display())]
    ReportIncomplete {
        /// The report directory, or for a shard its shard summary file.
        dir: std::path::PathBuf,
        /// Rows that failed.
        failed: usize,
        /// Rows (targets and pools) in the report.
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

    /// Lines of output (stdout) the command had for the user before it failed.
    pub fn stdout(&self) -> &[String] {
        match self {
            Error::CacheFails { lines, .. } => lines,
            _ => &[],
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
    /// The command's output for the user, one entry a line (stdout): `--stats json`, the
    /// bench summary, cache listings, what the demo did.
    pub stdout: Vec<String>,
}

/// The result of a fetch, apart from the traffic itself (`"fetch"` in `--stats json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FetchReport {
    /// What the fetch asked for and how much of it came back.
    #[serde(flatten)]
    pub coverage: fetch::Coverage,
    /// Parts of the range before the server's creation date.
    pub unavailable: Vec<fetch::Unavailable>,
    /// Counts of what the fetch did (requests, cache hits, splits, retries).
    pub summary: fetch::FetchSummary,
}

impl From<&fetch::Fetched> for FetchReport {
    fn from(f: &fetch::Fetched) -> FetchReport {
        FetchReport {
            coverage: f.coverage.clone(),
            unavailable: f.unavailable.clone(),
            summary: f.summary.clone(),
        }
    }
}

impl From<job::SourceError> for Error {
    fn from(e: job::SourceError) -> Error {
        match e {
            job::SourceError::Input(e) => Error::Input(e),
            job::SourceError::Fetch(e) => Error::Fetch(e),
        }
    }
}

/// Runs one validated command, silently: what it has to say is in the [`Outcome`].
pub fn run(command: Command) -> Result<Outcome, Error> {
    run_with(command, &Sink::default())
}

/// Runs one validated command; notes and progress bars go to `notes` while it runs (it
/// replaces the sink of any fetch or report options the command carries).
pub fn run_with(mut command: Command, notes: &Sink) -> Result<Outcome, Error> {
    match &mut command {
        Command::Render(job) => {
            if let Some(job::Source::Http(o)) = &mut job.source {
                o.settings.notes = notes.clone();
            }
        }
        Command::Export(job) => {
            if let job::Source::Http(o) = &mut job.source {
                o.settings.notes = notes.clone();
            }
        }
        Command::Fetch(job) => job.fetch.settings.notes = notes.clone(),
        Command::Report(job) => job.fetch.notes = notes.clone(),
        Command::ReportMerge(job) => job.notes = notes.clone(),
        _ => {}
    }
    match command {
        Command::Render(job) => {
            output::check_target(&job.output, true)?;
            render(job, notes)
        }
        Command::Bench(job) => {
            if let Some(out) = &job.output {
                output::check_target(out, true)?;
            }
            run_bench(job)
        }
        Command::Export(job) => {
            output::check_target(&job.output, false)?;
            let (traffic, _) = job::load(&job.source)?;
            let bytes = job.format.exporter().export(&traffic);
            output::write_file(&job.output, &bytes)?;
            Ok(Outcome {
                written: vec![job.output],
                ..Outcome::default()
            })
        }
        Command::Fetch(job) => {
            output::check_target(&job.output, false)?;
            let fetched = fetch::fetch(&job.fetch)?;
            let bytes = job.format.exporter().export(&fetched.traffic);
            output::write_file(&job.output, &bytes)?;
            Ok(Outcome {
                written: vec![job.output],
                stats: None,
                fetch: Some(FetchReport::from(&fetched)),
                stdout: Vec::new(),
            })
        }
        Command::Sim(config) => {
            run_sim(config, notes)?;
            Ok(Outcome::default())
        }
        Command::Demo(job) => sim::demo::run(&job, notes),
        Command::CacheVerify(job) => cache_verify(&job),
        Command::CacheList(dir) => cache_list(&dir),
        Command::CachePrune(job) => cache_prune(&job),
        Command::Report(job) => {
            let report = report::run(&job)?;
            let failed = report.summary.failed();
            if failed > 0 {
                return Err(Error::ReportIncomplete {
                    // A shard's rows are in its shard.json.
                    dir: match job.shard {
                        Some(_) => job.out_dir.join(report::shard::SUMMARY),
                        None => job.out_dir,
                    },
                    failed,
                    total: report.summary.rows.len(),
                });
            }
            Ok(Outcome {
                written: report.written,
                ..Outcome::default()
            })
        }
        Command::ReportMerge(job) => {
            let report = report::shard::merge(&job)?;
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

/// What `render --stats json` prints: where the graph came from and, when it was drawn from
/// raw data, every figure.
#[derive(serde::Serialize)]
struct StatsReport<'a> {
    /// `local`, or `provider:softlayer` / `provider:cloudwatch`.
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback_reason: Option<String>,
    #[serde(flatten)]
    stats: Option<&'a stats::Stats>,
    /// What the fetch asked for and how much of it came back, when data was fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    fetch: Option<&'a FetchReport>,
}

/// `render`: draws from raw data, or takes the provider's graph when the job says so.
fn render(job: job::RenderJob, notes: &Sink) -> Result<Outcome, Error> {
    use job::FallbackMode;
    let on_error = matches!(&job.fallback, Some(f) if f.mode == FallbackMode::OnError);
    let reason = match &job.source {
        None => "--fallback always".to_string(),
        Some(src) => match job::load(src) {
            Ok((traffic, fetched)) => {
                if let (true, Some(f)) = (traffic.is_empty(), &fetched) {
                    return Err(Error::Usage(format!(
                        "nothing to draw: the server answered no data for {} (coverage 0); \
                         `trafficgraph fetch` writes the empty table if that is what you need",
                        f.coverage.requested
                    )));
                }
                let stats = stats::compute(&traffic, &job.render.stats);
                stats.check_finite().map_err(Error::Figures)?;
                let png = render::render_png(&traffic, &stats, &job.render)?;
                output::write_file(&job.output, &png)?;
                let mut stdout = Vec::new();
                if job.stats.is_some() {
                    stdout.push(to_json(&StatsReport {
                        source: "local".into(),
                        fallback_reason: None,
                        stats: Some(&stats),
                        fetch: fetched.as_ref(),
                    })?);
                }
                return Ok(Outcome {
                    written: vec![job.output],
                    stats: Some(stats),
                    fetch: fetched,
                    stdout,
                });
            }
            Err(job::SourceError::Fetch(e)) if on_error => e.to_string(),
            Err(e) => return Err(e.into()),
        },
    };
    let fallback = job
        .fallback
        .ok_or_else(|| Error::Usage("nothing to draw: no source and no fallback".into()))?;
    let provider = fallback.request.provider();
    if job.source.is_some() {
        notes.note(&format!(
            "trafficgraph: raw data failed ({reason}); using the {provider} graph instead"
        ));
    }
    let image = fallback
        .request
        .fetch_blocking()
        .map_err(|source| match job.source {
            Some(_) => Error::Fallback {
                raw: reason.clone(),
                provider,
                source: Box::new(source),
            },
            None => Error::Provider(Box::new(source)),
        })?;
    output::write_file(&job.output, &image.png)?;
    let mut stdout = Vec::new();
    if job.stats.is_some() {
        stdout.push(to_json(&StatsReport {
            source: format!("provider:{provider}"),
            fallback_reason: Some(reason),
            stats: None,
            fetch: None,
        })?);
    }
    Ok(Outcome {
        written: vec![job.output],
        stdout,
        ..Outcome::default()
    })
}

/// `cache verify`: prints each entry that fails and why, then a count; removes them when
/// asked.
fn cache_io(dir: &std::path::Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| {
        Error::Output(output::OutputError {
            path: dir.to_path_buf(),
            source,
        })
    }
}

/// `cache list`: one line per server, IP and scope (or provider metric) with its days,
/// entries, data sets and bytes; entries that cannot be read are named.
fn cache_list(dir: &std::path::Path) -> Result<Outcome, Error> {
    use std::collections::BTreeMap;
    let cache = source::cache::Cache::new(dir);
    let entries = cache.entries().map_err(cache_io(dir))?;
    // label -> (first day, last day, entries, data sets, bytes)
    type Line = (chrono::NaiveDate, chrono::NaiveDate, usize, usize, u64);
    let mut lines: BTreeMap<String, Line> = BTreeMap::new();
    let (mut bytes, mut sets, mut bad) = (0u64, 0usize, 0usize);
    let mut stdout = Vec::new();
    for e in &entries {
        bytes += e.bytes;
        match &e.content {
            Ok((key, n)) => {
                sets += n;
                let Some(range) = key.range() else { continue };
                let line = lines
                    .entry(key.label())
                    .or_insert((range.start, range.end, 0, 0, 0));
                line.0 = line.0.min(range.start);
                line.1 = line.1.max(range.end);
                line.2 += 1;
                line.3 += n;
                line.4 += e.bytes;
            }
            Err(why) => {
                bad += 1;
                stdout.push(format!("{}: {why}", e.path.display()));
            }
        }
    }
    for (label, (start, end, n, points, size)) in &lines {
        stdout.push(format!(
            "{label}  {start}..{end}  {n} entries  {points} data sets  {size} bytes"
        ));
    }
    let per = if sets > 0 {
        format!(", {:.1} bytes a data set", bytes as f64 / sets as f64)
    } else {
        String::new()
    };
    stdout.push(format!(
        "{} entries ({bad} unreadable) in {}: {sets} data sets, {bytes} bytes{per}",
        entries.len(),
        dir.display()
    ));
    Ok(Outcome {
        stdout,
        ..Outcome::default()
    })
}

/// `cache prune`: removes the entries whose data ends more than `older_than` days ago
/// and/or that read `server`.
fn cache_prune(job: &job::CachePruneJob) -> Result<Outcome, Error> {
    let dir = &job.cache_dir;
    let cache = source::cache::Cache::new(dir);
    let today = chrono::Utc::now().date_naive();
    let (mut removed, mut freed) = (0usize, 0u64);
    let mut stdout = Vec::new();
    for e in cache.entries().map_err(cache_io(dir))? {
        let Ok((key, _)) = &e.content else { continue };
        let old = match (job.older_than, key.range()) {
            (Some(days), Some(range)) => (today - range.end).num_days() > i64::from(days),
            (Some(_), None) => true,
            (None, _) => true,
        };
        let named = job.server.as_deref().is_none_or(|s| key.names(s));
        if old && named {
            match std::fs::remove_file(&e.path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(cache_io(dir)(err))
                }
                _ => {}
            }
            stdout.push(format!("removed {}", e.path.display()));
            removed += 1;
            freed += e.bytes;
        }
    }
    stdout.push(format!(
        "removed {removed} entries ({freed} bytes) from {}",
        dir.display()
    ));
    Ok(Outcome {
        stdout,
        ..Outcome::default()
    })
}

fn cache_verify(job: &job::CacheVerifyJob) -> Result<Outcome, Error> {
    let cache = source::cache::Cache::new(&job.cache_dir);
    let io = |source| {
        Error::Output(output::OutputError {
            path: job.cache_dir.clone(),
            source,
        })
    };
    let verdicts = cache.verify_all().map_err(io)?;
    let mut failed = 0;
    let mut stdout = Vec::new();
    for (path, verdict) in &verdicts {
        if let Err(reason) = verdict {
            failed += 1;
            if job.remove {
                std::fs::remove_file(path).map_err(io)?;
                stdout.push(format!("removed {}: {reason}", path.display()));
            } else {
                stdout.push(format!("{}: {reason}", path.display()));
            }
        }
    }
    stdout.push(format!(
        "{} entries in {}: {} pass, {failed} fail{}",
        verdicts.len(),
        job.cache_dir.display(),
        verdicts.len() - failed,
        if job.remove && failed > 0 {
            " (removed; the next run fetches them anew)"
        } else {
            ""
        }
    ));
    if failed > 0 && !job.remove {
        return Err(Error::CacheFails {
            failed,
            lines: stdout,
        });
    }
    Ok(Outcome {
        stdout,
        ..Outcome::default()
    })
}

/// Serves the simulator until Ctrl-C.
fn run_sim(config: sim::SimConfig, notes: &Sink) -> Result<(), Error> {
    let providers = config.providers.clone();
    let handle = sim::spawn(config)?;
    notes.note(&format!(
        "trafficgraph: simulator listening on {} (Ctrl-C to stop)",
        handle.base_url()
    ));
    if let Some(p) = &providers {
        notes.note(&format!(
            "trafficgraph: SoftLayer REST at {0}/rest/v3.1/ (user {1}), CloudWatch at {0}/ \
             (key id {2}); keys as documented in the README",
            handle.base_url().trim_end_matches('/'),
            p.sl_username,
            p.aws_access_key_id
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(fetch::FetchError::Runtime)?;
    let _ = runtime.block_on(tokio::signal::ctrl_c());
    notes.note(&format!(
        "trafficgraph: simulator answered {} requests {:?}",
        handle.counters.total(),
        handle.counters.statuses()
    ));
    handle.shutdown();
    Ok(())
}

/// `trafficgraph bench`: parse once, then time whole graphs (see [`bench`]).
fn run_bench(job: job::BenchJob) -> Result<Outcome, Error> {
    let traffic = source::file::read_inputs(&job.inputs)?;
    let (report, png) = bench::run(&traffic, &job.render, job.budget, job.threads)?;
    let mut written = Vec::new();
    if let Some(path) = job.output {
        output::write_file(&path, &png)?;
        written.push(path);
    }
    let mut stdout = vec![report.summary()];
    if job.json {
        let line = serde_json::to_string(&report).map_err(|e| Error::Usage(e.to_string()))?;
        stdout.push(line);
    }
    Ok(Outcome {
        written,
        stdout,
        ..Outcome::default()
    })
}

/// `value` as pretty JSON, one entry of [`Outcome::stdout`].
fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string_pretty(value).map_err(|e| Error::Usage(e.to_string()))
}
