//! Fetching a date range from the Hostway API: the range is cut into chunks the server
//! accepts ([`crate::range::split`]), the chunks are fetched by a few workers at once and
//! merged back in order.
//!
//! Why it is shaped this way:
//! - The server's count of data sets is authoritative, so a chunk it refuses as over the
//!   limit is halved and retried (a single day still refused is an error).
//! - A start before the server's creation date is answered with the minimum date; the
//!   fetch continues from there and reports the part of the range that does not exist.
//!   The minimum is shared between workers, so later chunks are clamped without asking.
//! - Timeouts, connection errors, 429 and 5xx are retried with exponential backoff and
//!   jitter (`backon`), waiting at least what `Retry-After` says; a server asking for more
//!   than [`crate::http::MAX_RETRY_AFTER`] is not retried early but named with the time it
//!   gave, and a wait over [`LONG_WAIT`] is said on stderr (unless quiet). Other failures,
//!   refused redirects among them, stop at once with a message that says what to check.
//! - Every answer is cached as it arrives ([`crate::source::cache`]). On a failure the
//!   workers finish what they are doing but start nothing new, so everything fetched is
//!   on disk and a re-run only asks for what is missing.
//! - The cache is read first, on the caller's thread and without the async runtime
//!   ([`prepare`]): a fetch the cache answers wholly never waits on another thread, and a
//!   chunk partly answered (halved, or clamped to a minimum date) goes on from there.
//! - `offline` answers from the cache alone (a miss is an error naming the chunk), and an
//!   optional shared semaphore lets many fetches (a report's targets) share one limit of
//!   requests in flight.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{NaiveDate, Utc};
use serde::Serialize;

use crate::http::MAX_RETRY_AFTER;
use crate::model::{Method, Origin, Period, Point, Scope, Series, Target, Traffic};
use crate::provider::cloudwatch::{self, CloudWatchConfig, NetworkMetric};
use crate::provider::softlayer::{self, NetworkType, SoftLayerConfig};
use crate::provider::ProviderError;
use crate::range::{self, DateRange};
use crate::source::cache::{url_base, Cache, CacheKey, EntryError, Lookup, RawKey};
use crate::source::hostway::{
    parse_base_url, Accept, Answer, BaseUrlError, Endpoint, HostwayClient, InvalidAuthHeader,
    Reply, RequestError, ScopedPoints, Secret,
};
use crate::validate::{self, Expect, Row, Violation};

/// The longest range one fetch takes: a century is more than any server has kept, and a
/// typo'd year (3026) should fail at once, not after thousands of requests.
pub const MAX_RANGE_DAYS: u64 = 36_525;

/// A wait before a retry longer than this is said on stderr even without `--verbose`: a
/// silent pause that long looks like a hang.
pub const LONG_WAIT: Duration = Duration::from_secs(5);

/// A validated fetch request: what to fetch, and [how](FetchSettings).
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Base URL of the API (http or https, no credentials, no query).
    pub base_url: String,
    /// The Hostway account the server belongs to (a path segment of every request).
    pub account: String,
    /// The Hostway server id (a path segment of every request).
    pub server: String,
    /// One or more IP addresses, fetched side by side.
    pub ips: Vec<String>,
    /// Scopes to fetch (e.g. receive and transmit).
    pub scopes: Vec<Scope>,
    /// Hourly or daily data sets.
    pub period: Period,
    /// How the server consolidates the samples of a data set (avg, sum, min, max).
    pub method: Method,
    /// Inclusive range of UTC days.
    pub range: DateRange,
    /// The body format asked for (JSON or CSV).
    pub accept: Accept,
    /// The whole `Authorization` header value.
    pub auth: Option<Secret>,
    /// Keep one series per IP (label = IP) instead of summing them per timestamp.
    pub per_ip: bool,
    /// Data sets the client asks for at most in one request.
    pub limit: u32,
    /// Whose raw data: Hostway reads the fields above; the others carry their own.
    pub provider: RawProvider,
    /// How to fetch: requests, retries, cache, checks; shared by every fetch of a run.
    pub settings: FetchSettings,
}

/// How to fetch, whatever is fetched: one value serves every fetch of a run (`fetch`,
/// `render` and `export` take it from the same flags as `report`, whose targets share one).
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Retries after the first attempt of a request.
    pub retries: usize,
    /// First backoff delay between retries (jitter is added).
    pub backoff_min: Duration,
    /// Largest backoff delay between retries.
    pub backoff_max: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Cache directory; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Use only the cache: a chunk it lacks is an error naming the chunk, no request made.
    pub offline: bool,
    /// Which of the answer checks the user relaxed, and whether to bypass the cache.
    pub policy: AnswerPolicy,
    /// No progress bar, no notes.
    pub quiet: bool,
    /// Log every request (method, URL, status, ms) to stderr.
    pub verbose: bool,
    /// Where the progress bar and notes go (silent by default; the binary's go to stderr).
    pub notes: crate::notes::Sink,
    /// A limit shared with other fetches (e.g. a report's targets): one permit is held
    /// around each HTTP request.
    pub semaphore: Option<Arc<tokio::sync::Semaphore>>,
    /// HTTP clients, built on the first request that needs one and shared by every fetch
    /// given the same `Clients` (a report's targets; they must run on one tokio runtime).
    /// A fetch answered wholly from the cache builds none.
    pub clients: crate::http::Clients,
}

impl Default for FetchSettings {
    /// Concurrency 4, 4 retries backing off from 0.5 s to 30 s, 30 s timeout, no cache,
    /// strict checks, quiet.
    fn default() -> FetchSettings {
        FetchSettings {
            concurrency: 4,
            retries: 4,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            cache_dir: None,
            offline: false,
            policy: AnswerPolicy::default(),
            quiet: true,
            verbose: false,
            notes: crate::notes::Sink::default(),
            semaphore: None,
            clients: crate::http::Clients::default(),
        }
    }
}

/// Which provider's raw data a fetch reads.
#[derive(Debug, Clone, Default)]
pub enum RawProvider {
    /// The Hostway-style API at `base_url` (account, server, IPs).
    #[default]
    Hostway,
    /// SoftLayer `getBandwidthData` of one server's network.
    SoftLayer(SoftLayerRaw),
    /// CloudWatch `GetMetricStatistics` of one instance.
    CloudWatch(CloudWatchRaw),
}

/// SoftLayer `getBandwidthData` of one server's network: octets per bucket.
#[derive(Debug, Clone)]
pub struct SoftLayerRaw {
    /// Account, API key and endpoint.
    pub config: SoftLayerConfig,
    /// The hardware (server) id whose bandwidth is read.
    pub hardware_id: u64,
    /// Public or private network.
    pub network: NetworkType,
    /// Bucket seconds asked for as they are; `None`: hourly, and for `Period::Daily` the
    /// hours summed into UTC days (SoftLayer's own daily buckets start at -06:00).
    pub rollup: Option<u32>,
}

/// CloudWatch `GetMetricStatistics` `Sum` of an instance's `NetworkIn`/`NetworkOut`.
#[derive(Debug, Clone)]
pub struct CloudWatchRaw {
    /// Credentials, region and endpoint.
    pub config: CloudWatchConfig,
    /// The EC2 instance whose `NetworkIn`/`NetworkOut` are read.
    pub instance_id: String,
    /// Seconds per data point asked for (raised to what CloudWatch keeps for the range).
    pub period: u32,
}

/// What the user allowed beyond the strict default (see [`crate::validate`] for the rules).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnswerPolicy {
    /// Drop rows outside a chunk's days with a warning instead of refusing the answer.
    pub lenient: bool,
    /// Accept an empty answer for days wholly in the past (with a warning) instead of
    /// refusing it.
    pub allow_empty: bool,
    /// Ask the server even for chunks the cache holds, and replace the entries.
    pub refresh: bool,
}

impl FetchOptions {
    /// Options with the defaults: receive and transmit, hourly averages, JSON, limit 500,
    /// and [`FetchSettings::default`].
    pub fn new(
        base_url: impl Into<String>,
        account: impl Into<String>,
        server: impl Into<String>,
        ips: Vec<String>,
        range: DateRange,
    ) -> FetchOptions {
        FetchOptions {
            base_url: base_url.into(),
            account: account.into(),
            server: server.into(),
            ips,
            scopes: vec![Scope::Receive, Scope::Transmit],
            period: Period::Hourly,
            method: Method::Avg,
            range,
            accept: Accept::Json,
            auth: None,
            per_ip: false,
            limit: range::DEFAULT_LIMIT,
            provider: RawProvider::Hostway,
            settings: FetchSettings::default(),
        }
    }

    /// Options for a provider's raw data over `range` (receive and transmit), with the
    /// defaults of [`FetchOptions::new`].
    pub fn raw(provider: RawProvider, range: DateRange) -> FetchOptions {
        let mut o = FetchOptions::new("", "", "", Vec::new(), range);
        o.provider = provider;
        o
    }
}

/// One sequence of requests over the range: for Hostway one IP and scope; for the raw
/// providers what one of their answers holds (SoftLayer's receive and transmit of one
/// network together, one CloudWatch metric).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// How messages name it: `ip 10.0.0.1 receive`.
    pub label: String,
    /// The Hostway IP (creation dates are per IP); empty for other providers.
    pub ip: String,
    /// The scopes one answer holds, in the order the answer gives them.
    pub scopes: Vec<Scope>,
}

/// One chunk of a fetch: which stream and days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkId {
    /// Index of the stream in the fetch's plan.
    pub stream: usize,
    /// The stream's label, for messages.
    pub label: String,
    /// The chunk's inclusive UTC days.
    pub range: DateRange,
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chunk {} {}", self.label, self.range)
    }
}

fn attempts_note(attempts: usize) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

/// Why a fetch failed. One line each, naming the chunk; never the credential.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The options were refused before any request (the message says which and why).
    #[error("{0}")]
    Options(String),
    /// A `--base-url` refused before any request.
    #[error(transparent)]
    BaseUrl(#[from] BaseUrlError),
    /// A `--auth` value that cannot be sent.
    #[error(transparent)]
    Auth(#[from] InvalidAuthHeader),
    /// The tokio runtime could not be built.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A request failed for good: not retryable, or still failing after every retry.
    #[error("{chunk}: {source}{}", attempts_note(*attempts))]
    Request {
        /// The chunk being fetched.
        chunk: ChunkId,
        /// Attempts made, the first included.
        attempts: usize,
        /// The last failure.
        #[source]
        source: Box<RequestError>,
    },
    /// Even a single day was refused as over the server's limit of data sets.
    #[error(
        "{chunk}: the server refuses even one day as over its limit of data sets; try --period daily"
    )]
    OverLimitDay {
        /// The one-day chunk refused.
        chunk: ChunkId,
    },
    /// The server's minimum start date did not move the chunk's start, so clamping to it
    /// would loop.
    #[error("{chunk}: the server gave minimum start date {min}, which does not move the start")]
    MinDateLoop {
        /// The chunk whose start did not move.
        chunk: ChunkId,
        /// The minimum date the server gave.
        min: NaiveDate,
    },
    /// `offline` is set and the cache does not hold this chunk.
    #[error("{chunk}: not in the cache, and --offline makes no requests")]
    Offline {
        /// The chunk missing from the cache.
        chunk: ChunkId,
    },
    /// A raw provider (SoftLayer, CloudWatch) request failed for good.
    #[error("{chunk}: {source}{}", attempts_note(*attempts))]
    Provider {
        /// The chunk being fetched.
        chunk: ChunkId,
        /// Attempts made, the first included.
        attempts: usize,
        /// The last failure.
        #[source]
        source: Box<ProviderError>,
    },
    /// An answer failed a [`crate::validate`] rule; nothing of it was written or cached.
    #[error(
        "{chunk}: the answer from {url} fails a check, so nothing was written or cached: {source}"
    )]
    Invalid {
        /// The chunk the answer was for.
        chunk: ChunkId,
        /// The request URL (no credential in it).
        url: String,
        /// The rule broken and the row that broke it.
        #[source]
        source: Violation,
    },
    /// No data for days wholly in the past, refused unless `allow_empty`.
    #[error(
        "{chunk}: the server answered no data for days wholly in the past ({url}); \
         nothing was written or cached. If the server really carried no traffic then, \
         run again with --allow-empty"
    )]
    Empty {
        /// The chunk answered empty.
        chunk: ChunkId,
        /// The request URL.
        url: String,
    },
    /// The server's creation date is after the whole range, so none of it exists.
    #[error(
        "ip {ip}: the server was created after the range: its first day is {min}, the range \
         {range} ends before it (the server's 400 minimum date); ask for days from {min} on"
    )]
    CreatedAfterRange {
        /// The IP whose server was created later.
        ip: String,
        /// The days asked for.
        range: DateRange,
        /// The server's first day.
        min: NaiveDate,
    },
    /// A cache entry for this chunk fails a check when read.
    #[error(
        "{chunk}: cache entry {} fails a check ({reason}); it was written by an earlier \
         trafficgraph or changed on disk: run again with --refresh to fetch it anew \
         (`trafficgraph cache verify --remove` removes every such entry)",
        path.display()
    )]
    CacheInvalid {
        /// The chunk the entry holds.
        chunk: ChunkId,
        /// The entry's file.
        path: PathBuf,
        /// The check it fails.
        reason: EntryError,
    },
}

/// Part of the requested range that does not exist on the server (before its creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unavailable {
    /// The Hostway IP whose data starts after the requested start (raw providers have none).
    pub ip: String,
    /// The requested days that do not exist.
    pub range: DateRange,
    /// The server's first day.
    pub min_date: NaiveDate,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ip {}: no data before {} (the server's minimum date); {} does not exist",
            self.ip, self.min_date, self.range
        )
    }
}

/// What a fetch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FetchSummary {
    /// Chunks planned from the range (before any split).
    pub planned: usize,
    /// Chunks answered with data, from the server or the cache.
    pub chunks: usize,
    /// HTTP requests made, retries included.
    pub requests: u64,
    /// Answers taken from the cache.
    pub cached: usize,
    /// Chunks halved because the server said over limit.
    pub splits: usize,
    /// Retries after retryable failures.
    pub retries: u64,
    /// Rows outside their chunk's days dropped under `--lenient`.
    pub dropped_rows: usize,
    /// Chunks of past days answered with no data, accepted under `--allow-empty`.
    pub empty_chunks: usize,
}

/// How much of the requested range the answers cover.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    /// The days asked for.
    pub requested: DateRange,
    /// The days that exist, when the server's creation date moved the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<DateRange>,
    /// Data sets present / data sets the requested days hold, over every series fetched
    /// (0 when the server answered nothing).
    pub coverage: f64,
}

/// The traffic fetched, and what is missing from it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The series fetched, merged in time order.
    pub traffic: Traffic,
    /// Parts of the range before the server's creation date, one per IP that has them.
    pub unavailable: Vec<Unavailable>,
    /// Counts of what the fetch did.
    pub summary: FetchSummary,
    /// How much of the requested range the answers cover.
    pub coverage: Coverage,
}

/// Progress bar and stderr lines; both silent when quiet.
struct Reporter {
    bar: Option<Box<dyn crate::notes::Bar>>,
    sink: crate::notes::Sink,
    verbose: bool,
    quiet: bool,
}

impl Reporter {
    fn new(opts: &FetchOptions, chunks: usize) -> Reporter {
        let bar = if opts.settings.quiet {
            None
        } else {
            opts.settings.notes.bar(
                "fetching {bar:30} {pos}/{len} chunks {elapsed_precise} {msg}",
                chunks as u64,
            )
        };
        Reporter {
            bar,
            sink: opts.settings.notes.clone(),
            verbose: opts.settings.verbose && !opts.settings.quiet,
            quiet: opts.settings.quiet,
        }
    }

    fn line(&self, line: &str) {
        self.sink.note_over(self.bar.as_deref(), line);
    }

    fn log(&self, line: &str) {
        if self.verbose {
            self.line(line);
        }
    }

    fn note(&self, line: &str) {
        if !self.quiet {
            self.line(&format!("trafficgraph: {line}"));
        }
    }

    /// Says a retry is coming: in the verbose log, or as a note when the wait is long.
    fn retrying(&self, id: &ChunkId, e: &WireError, delay: Duration) {
        if delay <= LONG_WAIT {
            self.log(&format!("{id}: {e}; retrying in {} ms", delay.as_millis()));
        } else if e.retry_after() == Some(delay) {
            self.note(&format!(
                "{id}: {e}; waiting {} s as the server asked",
                delay.as_secs()
            ));
        } else {
            self.note(&format!("{id}: {e}; retrying in {} s", delay.as_secs()));
        }
    }

    fn chunk_done(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn chunk_split(&self) {
        if let Some(bar) = &self.bar {
            bar.inc_length(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// Points of each scope one answer held.
type Scoped = Vec<(Scope, Vec<Point>)>;

/// State the workers share.
struct Shared {
    client: Client,
    streams: Vec<Stream>,
    cache: Option<Cache>,
    opts: FetchOptions,
    today: NaiveDate,
    /// The chunks still to answer, in plan order.
    jobs: Mutex<VecDeque<ChunkWalk>>,
    results: Mutex<Vec<Option<Scoped>>>,
    /// Failures with the index of their planned chunk; the earliest is reported.
    errors: Mutex<Vec<(usize, FetchError)>>,
    min_dates: Mutex<HashMap<String, NaiveDate>>,
    stop: AtomicBool,
    requests: AtomicU64,
    retries: AtomicU64,
    chunks: AtomicUsize,
    cached: AtomicUsize,
    splits: AtomicUsize,
    dropped: AtomicUsize,
    empty: AtomicUsize,
    reporter: Reporter,
}

/// The client of the provider a fetch reads, and what each of its streams and requests
/// is: the one place that knows which provider it is.
enum Client {
    Hostway(HostwayClient),
    SoftLayer {
        client: softlayer::Client,
        spec: SoftLayerRaw,
        /// The server's metric tracking object, asked for once, on the first request.
        tracking: tokio::sync::OnceCell<u64>,
    },
    CloudWatch {
        client: cloudwatch::Client,
        spec: CloudWatchRaw,
        /// The period asked for: the one wanted, raised to what CloudWatch keeps for the
        /// range's age.
        period: u32,
    },
}

/// Buckets one SoftLayer request asks for at most: a month of hours (no limit is
/// documented; a month of hours in one answer is what its own tools ask for).
pub const SOFTLAYER_MAX_BUCKETS: u64 = 744;

/// What a provider's wire said, before [`validate`] checked it.
enum Wire {
    /// Rows per scope, as sent.
    Rows(Vec<(Scope, Vec<Row>)>),
    OverLimit,
    MinDate {
        min: NaiveDate,
    },
}

impl Client {
    /// The client, and a note to say when the request had to change (CloudWatch's period).
    fn new(opts: &FetchOptions) -> Result<(Client, Option<String>), FetchError> {
        let provider = |e: ProviderError| FetchError::Options(e.to_string());
        match &opts.provider {
            RawProvider::Hostway => Ok((Client::hostway(opts)?, None)),
            RawProvider::SoftLayer(spec) => {
                let rollup = spec.rollup.unwrap_or(3600);
                if !softlayer::ROLLUPS.contains(&rollup) {
                    return Err(FetchError::Options(format!(
                        "--sl-rollup {rollup}: SoftLayer keeps buckets of 300, 600, 1800, 3600, \
                         43200 or 86400 seconds"
                    )));
                }
                if spec.rollup.is_some() && opts.period == Period::Daily {
                    return Err(FetchError::Options(
                        "--sl-rollup asks for SoftLayer's buckets as they are; --period daily \
                         sums hours into UTC days: give one of them"
                            .into(),
                    ));
                }
                let client =
                    softlayer::Client::with_clients(spec.config.clone(), &opts.settings.clients)
                        .map_err(provider)?;
                let spec = spec.clone();
                let tracking = tokio::sync::OnceCell::new();
                Ok((
                    Client::SoftLayer {
                        client,
                        spec,
                        tracking,
                    },
                    None,
                ))
            }
            RawProvider::CloudWatch(spec) => {
                if spec.period == 0 || 86_400 % spec.period != 0 || spec.period % 60 != 0 {
                    return Err(FetchError::Options(format!(
                        "--cw-period {}: give a multiple of 60 seconds that divides a day \
                         (60, 300, 3600...)",
                        spec.period
                    )));
                }
                let client =
                    cloudwatch::Client::with_clients(spec.config.clone(), &opts.settings.clients)
                        .map_err(provider)?;
                let start = day_start(opts.range.start);
                let period = cloudwatch::finest_period(start, Utc::now(), spec.period);
                let age = Utc::now() - start;
                let note = if age > chrono::Duration::days(455) {
                    Some(format!(
                        "CloudWatch keeps no data older than 455 days, and {} is {} days old: \
                         expect an empty answer",
                        opts.range.start,
                        age.num_days()
                    ))
                } else {
                    None
                };
                let note = note.or_else(|| {
                    (period != spec.period).then(|| {
                        format!(
                            "CloudWatch keeps {}-second data for less time than {} is old: asking \
                         for {period}-second data (retention: 60 s for 15 days, 300 s for 63, \
                         3600 s for 455)",
                            spec.period, opts.range.start
                        )
                    })
                });
                let spec = spec.clone();
                Ok((
                    Client::CloudWatch {
                        client,
                        spec,
                        period,
                    },
                    note,
                ))
            }
        }
    }

    fn hostway(opts: &FetchOptions) -> Result<Client, FetchError> {
        let base = parse_base_url(&opts.base_url)?;
        let endpoint = Endpoint {
            base,
            account: opts.account.clone(),
            server: opts.server.clone(),
            period: opts.period,
            method: opts.method,
            accept: opts.accept,
        };
        let client = HostwayClient::new(
            endpoint,
            opts.auth.as_ref(),
            opts.settings.timeout,
            opts.settings.concurrency,
            &opts.settings.clients,
        )?;
        Ok(Client::Hostway(client))
    }

    /// The streams of the fetch, in the order their series are assembled.
    fn streams(&self, opts: &FetchOptions) -> Vec<Stream> {
        match self {
            Client::Hostway(_) => opts
                .ips
                .iter()
                .flat_map(|ip| {
                    opts.scopes.iter().map(move |&scope| Stream {
                        label: format!("ip {ip} {scope}"),
                        ip: ip.clone(),
                        scopes: vec![scope],
                    })
                })
                .collect(),
            Client::SoftLayer { spec, .. } => vec![Stream {
                label: format!("softlayer server {} {}", spec.hardware_id, spec.network),
                ip: String::new(),
                scopes: opts.scopes.clone(),
            }],
            Client::CloudWatch { spec, .. } => opts
                .scopes
                .iter()
                .map(|&scope| Stream {
                    label: format!(
                        "cloudwatch {} {}",
                        spec.instance_id,
                        NetworkMetric::of(scope).name()
                    ),
                    ip: String::new(),
                    scopes: vec![scope],
                })
                .collect(),
        }
    }

    /// The chunks of each stream: whole days, each asking for at most the provider's limit.
    fn plan(&self, opts: &FetchOptions) -> Vec<DateRange> {
        match self {
            Client::Hostway(_) => range::split(opts.range, opts.period, opts.limit),
            Client::SoftLayer { .. } | Client::CloudWatch { .. } => {
                let per_day = 86_400 / self.step(opts) as u64;
                let limit = match self {
                    Client::CloudWatch { .. } => cloudwatch::MAX_DATAPOINTS,
                    _ => SOFTLAYER_MAX_BUCKETS,
                };
                range::split_days(opts.range, (limit / per_day).max(1))
            }
        }
    }

    /// Seconds between the data sets of the series the fetch yields (SoftLayer's hours
    /// summed into days for `--period daily`).
    fn series_step(&self, opts: &FetchOptions) -> i64 {
        match self {
            Client::SoftLayer { spec, .. } if spec.rollup.is_none() => opts.period.seconds(),
            _ => self.step(opts),
        }
    }

    /// Seconds between the data sets of an answer: the grid they must sit on.
    fn step(&self, opts: &FetchOptions) -> i64 {
        match self {
            Client::Hostway(_) => opts.period.seconds(),
            Client::SoftLayer { spec, .. } => i64::from(spec.rollup.unwrap_or(3600)),
            Client::CloudWatch { period, .. } => i64::from(*period),
        }
    }

    fn cache_key(&self, stream: &Stream, range: DateRange) -> CacheKey {
        match self {
            Client::Hostway(c) => CacheKey::new(c.endpoint(), &stream.ip, stream.scopes[0], range),
            Client::SoftLayer { spec, .. } => CacheKey::Raw(RawKey {
                provider: "softlayer".into(),
                base: endpoint_base(&spec.config.endpoint),
                parts: vec![spec.hardware_id.to_string(), spec.network.to_string()],
                step: i64::from(spec.rollup.unwrap_or(3600)),
                start: range.start,
                end: range.end,
            }),
            Client::CloudWatch { spec, period, .. } => CacheKey::Raw(RawKey {
                provider: "cloudwatch".into(),
                base: endpoint_base(&spec.config.endpoint_url()),
                parts: vec![
                    spec.config.region.clone(),
                    spec.instance_id.clone(),
                    NetworkMetric::of(stream.scopes[0]).name().into(),
                ],
                step: i64::from(*period),
                start: range.start,
                end: range.end,
            }),
        }
    }

    /// The request's URL (holds no credential), for messages.
    fn url(&self, stream: &Stream, range: DateRange) -> String {
        match self {
            Client::Hostway(c) => c
                .endpoint()
                .url(&stream.ip, stream.scopes[0], range)
                .to_string(),
            Client::SoftLayer { spec, .. } => format!(
                "{}SoftLayer_Metric_Tracking_Object/(server {})/getBandwidthData.json",
                spec.config.endpoint, spec.hardware_id
            ),
            Client::CloudWatch { spec, .. } => format!(
                "{} (GetMetricStatistics {})",
                spec.config.endpoint_url(),
                NetworkMetric::of(stream.scopes[0]).name()
            ),
        }
    }

    /// One request, without retries.
    async fn request(
        &self,
        stream: &Stream,
        range: DateRange,
        log: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Wire, WireError> {
        match self {
            Client::Hostway(c) => Ok(
                match c.get(&stream.ip, stream.scopes[0], range, log).await? {
                    Reply::Rows(rows) => Wire::Rows(vec![(stream.scopes[0], rows)]),
                    Reply::OverLimit => Wire::OverLimit,
                    Reply::MinDate { min } => Wire::MinDate { min },
                },
            ),
            Client::SoftLayer {
                client,
                spec,
                tracking,
            } => {
                let id = *tracking
                    .get_or_try_init(|| client.tracking_object_id(spec.hardware_id))
                    .await?;
                // The last second of the range: whether the service's end is inclusive or
                // not, no bucket of the next day is asked for.
                let end =
                    day_start(range.end) + chrono::Duration::days(1) - chrono::Duration::seconds(1);
                let rollup = spec.rollup.unwrap_or(3600);
                let start = day_start(range.start);
                log(&format!(
                    "POST getBandwidthData server {} {} {start}..{end} rollup {rollup}",
                    spec.hardware_id, spec.network
                ));
                let rows = client
                    .bandwidth_data(id, start, end, spec.network, rollup)
                    .await?;
                Ok(Wire::Rows(vec![
                    (Scope::Receive, rows.receive),
                    (Scope::Transmit, rows.transmit),
                ]))
            }
            Client::CloudWatch {
                client,
                spec,
                period,
            } => {
                let metric = NetworkMetric::of(stream.scopes[0]);
                let (start, end) = (
                    day_start(range.start),
                    day_start(range.end) + chrono::Duration::days(1),
                );
                log(&format!(
                    "POST GetMetricStatistics {} {} {start}..{end} period {period}",
                    spec.instance_id,
                    metric.name()
                ));
                let rows = client
                    .metric_statistics(&spec.instance_id, metric, start, end, *period)
                    .await?;
                Ok(Wire::Rows(vec![(stream.scopes[0], rows)]))
            }
        }
    }
}

/// Midnight UTC at the start of `day`.
fn day_start(day: NaiveDate) -> chrono::DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// `HOST[:PORT][/PATH]` of an endpoint URL, for cache paths.
fn endpoint_base(endpoint: &str) -> String {
    reqwest::Url::parse(endpoint)
        .map(|u| url_base(&u))
        .unwrap_or_else(|_| endpoint.to_string())
}

impl NetworkMetric {
    /// The CloudWatch metric of a scope (receive is `NetworkIn`).
    fn of(scope: Scope) -> NetworkMetric {
        match scope {
            Scope::Transmit => NetworkMetric::Out,
            _ => NetworkMetric::In,
        }
    }
}

/// Why one request failed, whichever provider it went to.
#[derive(Debug, thiserror::Error)]
enum WireError {
    #[error(transparent)]
    Hostway(#[from] RequestError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl WireError {
    fn is_retryable(&self) -> bool {
        match self {
            WireError::Hostway(e) => e.is_retryable(),
            WireError::Provider(e) => e.is_retryable(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            WireError::Hostway(e) => e.retry_after(),
            WireError::Provider(_) => None,
        }
    }

    fn into_fetch_error(self, chunk: ChunkId, attempts: usize) -> FetchError {
        match self {
            WireError::Hostway(e) => FetchError::Request {
                chunk,
                attempts,
                source: Box::new(e),
            },
            WireError::Provider(e) => FetchError::Provider {
                chunk,
                attempts,
                source: Box::new(e),
            },
        }
    }
}

fn validate(opts: &FetchOptions) -> Result<(), FetchError> {
    let bad = |m: &str| Err(FetchError::Options(m.to_string()));
    if opts.scopes.is_empty() {
        return bad("give a --scope");
    }
    if let RawProvider::Hostway = opts.provider {
        if opts.ips.is_empty() {
            return bad("give at least one --ip");
        }
        if opts.account.is_empty() || opts.server.is_empty() {
            return bad("give --account and --server");
        }
    } else if opts.scopes.contains(&Scope::Total) {
        return bad("--scope total is Hostway's; other providers give receive and transmit");
    }
    if opts.settings.concurrency == 0 {
        return bad("--concurrency must be at least 1");
    }
    if opts.limit == 0 {
        return bad("--limit must be at least 1");
    }
    if opts.range.days() > MAX_RANGE_DAYS {
        return Err(FetchError::Options(format!(
            "the range {} is {} days; at most {MAX_RANGE_DAYS} (100 years) in one fetch",
            opts.range,
            opts.range.days()
        )));
    }
    let today = Utc::now().date_naive();
    if opts.range.start > today {
        return Err(FetchError::Options(format!(
            "the range {} is wholly in the future (today is {today}, UTC): nothing has been \
             measured yet; give dates up to {today}",
            opts.range
        )));
    }
    if opts.settings.offline && opts.settings.cache_dir.is_none() {
        return bad("--offline reads only the cache; it cannot be used with --no-cache");
    }
    if opts.settings.offline && opts.settings.policy.refresh {
        return bad("--refresh asks the server again; it cannot be used with --offline");
    }
    Ok(())
}

/// Fetches on a runtime of its own; for synchronous callers.
pub fn fetch(opts: &FetchOptions) -> Result<Fetched, FetchError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(FetchError::Runtime)?
        .block_on(fetch_async(opts))
}

/// Fetches every IP and scope of the range, chunk by chunk, and merges the result.
pub async fn fetch_async(opts: &FetchOptions) -> Result<Fetched, FetchError> {
    match prepare(opts)? {
        Stage::Done(fetched) => Ok(fetched),
        Stage::Requests(pending) => pending.finish().await,
    }
}

/// Where a fetch stands after [`prepare`]: answered, or with requests still to make.
pub enum Stage {
    /// The cache answered every chunk (or `--offline` made none): no request is needed.
    Done(Fetched),
    /// Some chunks need the server; [`Pending::finish`] asks for them.
    Requests(Pending),
}

/// A fetch whose cached chunks are answered and whose other chunks wait for requests.
pub struct Pending {
    shared: Arc<Shared>,
    plan: Vec<ChunkId>,
}

/// Plans the fetch and answers from the cache every chunk it holds, without a request or
/// an async runtime, so a caller (a report's draw thread) can do a cached target's whole
/// work on one thread and hand only the rest to the network.
pub fn prepare(opts: &FetchOptions) -> Result<Stage, FetchError> {
    validate(opts)?;
    note_future_end(opts);
    let (client, note) = Client::new(opts)?;
    let streams = client.streams(opts);
    let chunks = client.plan(opts);
    let plan: Vec<ChunkId> = plan_chunks(&streams, &chunks);
    let shared = Arc::new(Shared::new(client, streams, opts, &plan));
    if let Some(note) = note {
        shared.reporter.note(&note);
    }
    answer_from_cache(&shared);
    let pending = Pending { shared, plan };
    if pending.needs_requests() {
        Ok(Stage::Requests(pending))
    } else {
        pending.assemble().map(Stage::Done)
    }
}

impl Pending {
    /// Whether a chunk still waits for the server (false once a chunk has failed).
    fn needs_requests(&self) -> bool {
        !self.shared.stop.load(Ordering::SeqCst)
            && !self.shared.jobs.lock().expect("lock").is_empty()
    }

    /// Asks the server for the chunks the cache did not answer, then merges everything.
    pub async fn finish(self) -> Result<Fetched, FetchError> {
        let waiting = self.shared.jobs.lock().expect("lock").len();
        let workers = self.shared.opts.settings.concurrency.min(waiting);
        run_workers(&self.shared, workers).await;
        self.assemble()
    }

    /// The fetched traffic of every chunk, merged, with what is missing from it.
    fn assemble(self) -> Result<Fetched, FetchError> {
        let Pending { shared, plan } = self;
        let opts = &shared.opts;
        shared.reporter.finish();
        shared.first_error()?;
        let summary = shared.summary(plan.len());
        let results: Vec<Scoped> = std::mem::take(&mut *shared.results.lock().expect("lock"))
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        let traffic = match shared.client {
            Client::Hostway(_) => assemble(opts, &shared.streams, &plan, results),
            _ => assemble_raw(opts, shared.client.step(opts), &plan, results),
        };
        let min_dates = shared.min_dates.lock().expect("lock").clone();
        let unavailable = unavailable(opts, &min_dates);
        for u in &unavailable {
            shared.reporter.note(&u.to_string());
        }
        let step = shared.client.series_step(opts);
        let coverage = coverage(opts, step, &traffic, min_dates.values().max().copied());
        if coverage.coverage == 0.0 {
            shared.reporter.note(&format!(
                "warning: no data at all for {} (coverage 0)",
                opts.range
            ));
        }
        Ok(Fetched {
            traffic,
            unavailable,
            summary,
            coverage,
        })
    }
}

/// Says (unless quiet) that the range ends after today, so its last days have no data.
fn note_future_end(opts: &FetchOptions) {
    let today = Utc::now().date_naive();
    if opts.range.end > today && !opts.settings.quiet {
        opts.settings.notes.note(&format!(
            "trafficgraph: the range {} ends in the future (today is {today}, UTC): the days \
             after {today} have no data yet",
            opts.range
        ));
    }
}

/// Every stream's chunks, in plan order (a chunk's place is its index in the results).
fn plan_chunks(streams: &[Stream], chunks: &[DateRange]) -> Vec<ChunkId> {
    let mut plan = Vec::with_capacity(streams.len() * chunks.len());
    for (index, stream) in streams.iter().enumerate() {
        for &range in chunks {
            plan.push(ChunkId {
                stream: index,
                label: stream.label.clone(),
                range,
            });
        }
    }
    plan
}

/// Answers every queued chunk the cache holds wholly, in plan order, on this thread; the
/// chunks that need a request stay queued, each where its cached part left it.
fn answer_from_cache(shared: &Shared) {
    let walks = std::mem::take(&mut *shared.jobs.lock().expect("lock"));
    let mut waiting = VecDeque::with_capacity(walks.len());
    for mut walk in walks {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        match walk.answer_cached(shared) {
            Ok(true) => shared.results.lock().expect("lock")[walk.index] = Some(walk.scoped),
            Ok(false) => waiting.push_back(walk),
            Err(e) => {
                shared.stop.store(true, Ordering::SeqCst);
                shared.errors.lock().expect("lock").push((walk.index, e));
            }
        }
    }
    *shared.jobs.lock().expect("lock") = waiting;
}

/// Runs `count` workers on the queue until it is empty or one fails; a worker's panic
/// goes on in the caller.
async fn run_workers(shared: &Arc<Shared>, count: usize) {
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..count {
        workers.spawn(worker(shared.clone()));
    }
    while let Some(joined) = workers.join_next().await {
        if let Err(e) = joined {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}

/// The parts of the range before each IP's minimum date (in the order the IPs were given).
fn unavailable(opts: &FetchOptions, min_dates: &HashMap<String, NaiveDate>) -> Vec<Unavailable> {
    opts.ips
        .iter()
        .filter_map(|ip| {
            let min = *min_dates.get(ip)?;
            Some(Unavailable {
                ip: ip.clone(),
                range: opts.range.before_day(min)?,
                min_date: min,
            })
        })
        .collect()
}

impl Shared {
    /// The workers' state for `jobs`, every count at zero.
    fn new(client: Client, streams: Vec<Stream>, opts: &FetchOptions, plan: &[ChunkId]) -> Shared {
        let planned = plan.len();
        let jobs = plan
            .iter()
            .enumerate()
            .map(|(index, chunk)| {
                ChunkWalk::new(index, chunk.clone(), &streams[chunk.stream].scopes)
            })
            .collect();
        Shared {
            client,
            streams,
            cache: opts.settings.cache_dir.as_ref().map(Cache::new),
            opts: opts.clone(),
            today: Utc::now().date_naive(),
            jobs: Mutex::new(jobs),
            results: Mutex::new(vec![None; planned]),
            errors: Mutex::new(Vec::new()),
            min_dates: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            chunks: AtomicUsize::new(0),
            cached: AtomicUsize::new(0),
            splits: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            empty: AtomicUsize::new(0),
            reporter: Reporter::new(opts, planned),
        }
    }

    /// The failure of the earliest planned chunk that failed, if any did.
    fn first_error(&self) -> Result<(), FetchError> {
        let mut errors = std::mem::take(&mut *self.errors.lock().expect("lock"));
        errors.sort_by_key(|(index, _)| *index);
        match errors.into_iter().next() {
            Some((_, first)) => Err(first),
            None => Ok(()),
        }
    }

    /// The counts of what the fetch did.
    fn summary(&self, planned: usize) -> FetchSummary {
        FetchSummary {
            planned,
            chunks: self.chunks.load(Ordering::SeqCst),
            requests: self.requests.load(Ordering::SeqCst),
            cached: self.cached.load(Ordering::SeqCst),
            splits: self.splits.load(Ordering::SeqCst),
            retries: self.retries.load(Ordering::SeqCst),
            dropped_rows: self.dropped.load(Ordering::SeqCst),
            empty_chunks: self.empty.load(Ordering::SeqCst),
        }
    }
}

async fn worker(shared: Arc<Shared>) {
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(mut walk) = shared.jobs.lock().expect("lock").pop_front() else {
            return;
        };
        match walk.finish(&shared).await {
            Ok(()) => shared.results.lock().expect("lock")[walk.index] = Some(walk.scoped),
            Err(e) => {
                shared.stop.store(true, Ordering::SeqCst);
                shared.errors.lock().expect("lock").push((walk.index, e));
                return;
            }
        }
    }
}

/// One planned chunk on its way to an answer: the points of its scopes so far and the
/// ranges still to ask for. A chunk the server refuses as over its limit is halved, and
/// one that starts before the server's minimum date starts at it.
struct ChunkWalk {
    /// The chunk's place in the plan.
    index: usize,
    chunk: ChunkId,
    scoped: Scoped,
    pending: VecDeque<DateRange>,
}

impl ChunkWalk {
    /// A walk of `chunk` (the `index`th planned), with no points yet for its `scopes`.
    fn new(index: usize, chunk: ChunkId, scopes: &[Scope]) -> ChunkWalk {
        let pending = VecDeque::from([chunk.range]);
        ChunkWalk {
            index,
            chunk,
            scoped: scopes.iter().map(|&s| (s, Vec::new())).collect(),
            pending,
        }
    }

    /// The next range to answer, started at its IP's known minimum date; ranges wholly
    /// before it are done without asking. `None` when the chunk is complete.
    fn next(&mut self, shared: &Shared) -> Option<ChunkId> {
        let ip = &shared.streams[self.chunk.stream].ip;
        while let Some(range) = self.pending.pop_front() {
            let known_min = shared.min_dates.lock().expect("lock").get(ip).copied();
            let range = match known_min {
                Some(min) => match range.from_day(min) {
                    Some(r) => r,
                    None => {
                        shared.reporter.chunk_done();
                        continue;
                    }
                },
                None => range,
            };
            return Some(ChunkId {
                range,
                ..self.chunk.clone()
            });
        }
        None
    }

    /// Answers what the cache holds; true when the chunk is complete, false when the
    /// rest needs a request (nothing is lost: the walk goes on from there).
    fn answer_cached(&mut self, shared: &Shared) -> Result<bool, FetchError> {
        while let Some(id) = self.next(shared) {
            match cached(shared, &id)? {
                Some(answer) => self.take(shared, &id, answer)?,
                None => {
                    self.pending.push_front(id.range);
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Answers the rest, from the cache or the server.
    async fn finish(&mut self, shared: &Shared) -> Result<(), FetchError> {
        while let Some(id) = self.next(shared) {
            let answer = answer(shared, &id).await?;
            self.take(shared, &id, answer)?;
        }
        Ok(())
    }

    /// Takes `answer` to the request for `id`: its points, or the halves or the later
    /// start to ask for next.
    fn take(&mut self, shared: &Shared, id: &ChunkId, answer: Answer) -> Result<(), FetchError> {
        let stream = &shared.streams[id.stream];
        let range = id.range;
        match answer {
            Answer::Data { points: p, .. } => {
                append(&mut self.scoped[0].1, p);
                shared.chunks.fetch_add(1, Ordering::SeqCst);
                shared.reporter.chunk_done();
            }
            Answer::Scoped { series, .. } => {
                for part in series {
                    if let Some((_, points)) =
                        self.scoped.iter_mut().find(|(s, _)| *s == part.scope)
                    {
                        append(points, part.points);
                    }
                }
                shared.chunks.fetch_add(1, Ordering::SeqCst);
                shared.reporter.chunk_done();
            }
            Answer::OverLimit => {
                let Some((a, b)) = range.halve() else {
                    return Err(FetchError::OverLimitDay { chunk: id.clone() });
                };
                shared.splits.fetch_add(1, Ordering::SeqCst);
                shared.reporter.chunk_split();
                shared
                    .reporter
                    .log(&format!("{id}: over the server's limit, halving"));
                self.pending.push_front(b);
                self.pending.push_front(a);
            }
            Answer::MinDate { min } => {
                if min <= range.start {
                    return Err(FetchError::MinDateLoop {
                        chunk: id.clone(),
                        min,
                    });
                }
                if min > shared.opts.range.end {
                    return Err(FetchError::CreatedAfterRange {
                        ip: stream.ip.clone(),
                        range: shared.opts.range,
                        min,
                    });
                }
                let mut mins = shared.min_dates.lock().expect("lock");
                let known = mins.entry(stream.ip.clone()).or_insert(min);
                *known = (*known).max(min);
                drop(mins);
                self.pending.push_front(range);
            }
        }
        Ok(())
    }
}

/// The cache's answer to the request for `id` when the cache may give it (the chunk is
/// wholly in the past and not being refreshed) and holds it; `None` when it needs the
/// server. Under `--offline` that is an error naming the chunk.
fn cached(shared: &Shared, id: &ChunkId) -> Result<Option<Answer>, FetchError> {
    let opts = &shared.opts;
    let past = id.range.end < shared.today;
    if past && !opts.settings.policy.refresh {
        let key = shared
            .client
            .cache_key(&shared.streams[id.stream], id.range);
        if let Some(answer) = cached_answer(shared, id, &key)? {
            return Ok(Some(answer));
        }
    }
    if opts.settings.offline {
        return Err(FetchError::Offline { chunk: id.clone() });
    }
    Ok(None)
}

/// The answer to one request: from the cache when the chunk is wholly in the past, else
/// from the server with retries, checked ([`validate`]) and then stored.
async fn answer(shared: &Shared, id: &ChunkId) -> Result<Answer, FetchError> {
    let stream = &shared.streams[id.stream];
    if let Some(answer) = cached(shared, id)? {
        return Ok(answer);
    }
    let key = shared.client.cache_key(stream, id.range);
    let past = id.range.end < shared.today;
    let answer = match request(shared, id).await? {
        Wire::OverLimit => Answer::OverLimit,
        // A minimum date on or before the start contradicts the refusal itself: refused,
        // not cached (a re-run would only meet it again).
        Wire::MinDate { min } if min <= id.range.start => {
            return Err(FetchError::MinDateLoop {
                chunk: id.clone(),
                min,
            })
        }
        Wire::MinDate { min } => Answer::MinDate { min },
        Wire::Rows(parts) => checked_rows(shared, id, parts, past)?,
    };
    if let Some(cache) = &shared.cache {
        if let Err(e) = cache.put(&key, &answer) {
            shared.reporter.note(&format!("warning: {e}"));
        }
    }
    Ok(answer)
}

/// The cache's answer for `key` (counted, and its dropped rows noted), `None` on a miss
/// or without a cache; a corrupt entry is an error.
fn cached_answer(
    shared: &Shared,
    id: &ChunkId,
    key: &CacheKey,
) -> Result<Option<Answer>, FetchError> {
    let Some(cache) = &shared.cache else {
        return Ok(None);
    };
    let opts = &shared.opts;
    match cache.get(key, opts.settings.policy.lenient) {
        Lookup::Hit(answer) => {
            shared.cached.fetch_add(1, Ordering::SeqCst);
            if opts.settings.verbose {
                let path = cache.entry_path(key);
                shared
                    .reporter
                    .log(&format!("{id}: from cache {}", path.display()));
            }
            if let Answer::Data { dropped, .. } | Answer::Scoped { dropped, .. } = &answer {
                note_dropped(shared, id, *dropped, None);
            }
            Ok(Some(answer))
        }
        Lookup::Invalid(reason) => Err(FetchError::CacheInvalid {
            chunk: id.clone(),
            path: cache.entry_path(key),
            reason,
        }),
        Lookup::Miss => Ok(None),
    }
}

/// The server's rows checked against the chunk's days and step, per scope; a past chunk
/// with no data at all is refused unless `--allow-empty`.
fn checked_rows(
    shared: &Shared,
    id: &ChunkId,
    parts: Vec<(Scope, Vec<Row>)>,
    past: bool,
) -> Result<Answer, FetchError> {
    let opts = &shared.opts;
    let stream = &shared.streams[id.stream];
    let url = || shared.client.url(stream, id.range);
    let expect = Expect {
        range: id.range,
        step: shared.client.step(opts),
        lenient: opts.settings.policy.lenient,
    };
    let mut series = Vec::with_capacity(parts.len());
    let mut dropped = 0;
    for (scope, rows) in parts {
        let checked =
            validate::check(&rows, Some(&expect)).map_err(|source| FetchError::Invalid {
                chunk: id.clone(),
                url: url(),
                source,
            })?;
        note_dropped(shared, id, checked.dropped, checked.first_dropped.as_ref());
        dropped += checked.dropped;
        series.push(ScopedPoints {
            scope,
            points: checked.points,
        });
    }
    if series.iter().all(|s| s.points.is_empty()) && past {
        if !opts.settings.policy.allow_empty {
            return Err(FetchError::Empty {
                chunk: id.clone(),
                url: url(),
            });
        }
        shared.empty.fetch_add(1, Ordering::SeqCst);
        shared.reporter.note(&format!(
            "warning: {id}: the server answered no data for days in the past \
             (accepted by --allow-empty; not cached)"
        ));
    }
    Ok(match &*stream.scopes {
        // One scope a request (Hostway): the shape earlier caches hold.
        [_] if matches!(shared.client, Client::Hostway(_)) => Answer::Data {
            points: series.pop().map(|s| s.points).unwrap_or_default(),
            dropped,
        },
        _ => Answer::Scoped { series, dropped },
    })
}

/// Counts and says what `--lenient` dropped from one chunk.
fn note_dropped(shared: &Shared, id: &ChunkId, dropped: usize, first: Option<&Violation>) {
    if dropped == 0 {
        return;
    }
    shared.dropped.fetch_add(dropped, Ordering::SeqCst);
    let first = first.map_or_else(String::new, |v| format!(", first {v}"));
    shared.reporter.note(&format!(
        "warning: {id}: dropped {dropped} rows outside the requested days (--lenient){first}"
    ));
}

/// One request of a chunk with retries and backoff, as the wire answered it.
async fn request(shared: &Shared, id: &ChunkId) -> Result<Wire, FetchError> {
    let stream = &shared.streams[id.stream];
    let opts = &shared.opts;
    let backoff = ExponentialBuilder::default()
        .with_min_delay(opts.settings.backoff_min)
        .with_max_delay(opts.settings.backoff_max.max(opts.settings.backoff_min))
        .with_max_times(opts.settings.retries)
        .with_jitter();
    let attempts = AtomicUsize::new(0);
    let log = |line: &str| shared.reporter.log(line);
    let result = (|| async {
        attempts.fetch_add(1, Ordering::SeqCst);
        let _permit = match &opts.settings.semaphore {
            Some(limit) => limit.acquire().await.ok(),
            None => None,
        };
        shared.requests.fetch_add(1, Ordering::SeqCst);
        shared.client.request(stream, id.range, &log).await
    })
    .retry(backoff)
    .when(WireError::is_retryable)
    // A retryable error's `Retry-After` is within `MAX_RETRY_AFTER` (the client turns a
    // longer one into the final `RequestError::RetryLater`); the `min` only guards that.
    .adjust(|e: &WireError, delay| match (delay, e.retry_after()) {
        (Some(d), Some(after)) => Some(d.max(after.min(MAX_RETRY_AFTER))),
        (d, _) => d,
    })
    .notify(|e: &WireError, delay| {
        shared.retries.fetch_add(1, Ordering::SeqCst);
        shared.reporter.retrying(id, e, delay);
    })
    .await;
    result.map_err(|e| e.into_fetch_error(id.clone(), attempts.load(Ordering::SeqCst)))
}

/// The share of the requested data sets present.
fn coverage(opts: &FetchOptions, step: i64, traffic: &Traffic, min: Option<NaiveDate>) -> Coverage {
    let per_series = (opts.range.days() as i64 * 86_400 / step.max(1)) as f64;
    let series = opts.scopes.len() * if opts.per_ip { opts.ips.len() } else { 1 };
    let present: usize = traffic.series.iter().map(|s| s.len()).sum();
    let expected = per_series * series as f64;
    Coverage {
        requested: opts.range,
        available: min.and_then(|m| (m > opts.range.start).then(|| opts.range.from_day(m))?),
        coverage: if expected > 0.0 {
            (present as f64 / expected).min(1.0)
        } else {
            0.0
        },
    }
}

/// Joins the chunks of a raw provider's streams, one series per scope; SoftLayer's hours
/// summed into UTC days when daily data was asked for.
fn assemble_raw(opts: &FetchOptions, step: i64, plan: &[ChunkId], results: Vec<Scoped>) -> Traffic {
    let mut by_scope: BTreeMap<Scope, Vec<Point>> = BTreeMap::new();
    for (_, scoped) in plan.iter().zip(results) {
        for (scope, points) in scoped {
            append(by_scope.entry(scope).or_default(), points);
        }
    }
    let daily = opts.period == Period::Daily && step != Period::Daily.seconds();
    let mut traffic = Traffic::default();
    for (scope, points) in by_scope {
        if points.is_empty() {
            continue;
        }
        let mut series = Series::new(scope, points);
        if daily {
            // Octets per hour summed into UTC days.
            let days = crate::model::sum_series([(&series, 1.0)], Period::Daily.seconds());
            series = days.into_iter().next().unwrap_or(series);
        }
        series.origin = Origin {
            period: if daily {
                Some(Period::Daily)
            } else {
                Period::from_seconds(step)
            },
            method: Some(Method::Sum),
            target: None,
        };
        traffic.merge_series(series);
    }
    traffic
}

/// Appends `more` to `points`, by moving it when `points` is empty (a series' first
/// chunk): a month of a target's points is copied once less.
fn append(points: &mut Vec<Point>, more: Vec<Point>) {
    if points.is_empty() {
        *points = more;
    } else {
        points.extend(more);
    }
}

/// Joins the chunks of each IP and scope in order, then keeps IPs apart or sums them.
fn assemble(
    opts: &FetchOptions,
    streams: &[Stream],
    plan: &[ChunkId],
    results: Vec<Scoped>,
) -> Traffic {
    let mut per_ip: BTreeMap<(usize, Scope), Vec<Point>> = BTreeMap::new();
    for (chunk, scoped) in plan.iter().zip(results) {
        let ip = &streams[chunk.stream].ip;
        let ip_index = opts.ips.iter().position(|i| i == ip).unwrap_or(0);
        for (scope, points) in scoped {
            append(per_ip.entry((ip_index, scope)).or_default(), points);
        }
    }
    let origin = |ip: String| Origin {
        period: Some(opts.period),
        method: Some(opts.method),
        target: Some(Target {
            account: opts.account.clone(),
            server: opts.server.clone(),
            ip,
        }),
    };
    let mut traffic = Traffic::default();
    if opts.per_ip || opts.ips.len() == 1 {
        for ((ip_index, scope), points) in per_ip {
            if points.is_empty() {
                continue; // nothing answered (--allow-empty): no series, not a series of nothing
            }
            let ip = opts.ips[ip_index].clone();
            let mut series = Series::new(scope, points);
            if opts.per_ip {
                series.label = ip.clone();
            }
            series.origin = origin(ip);
            traffic.merge_series(series);
        }
        return traffic;
    }
    // Summed per timestamp, IPs in the order given; an IP missing an hour adds nothing.
    let parts: Vec<Series> = per_ip
        .into_iter()
        .map(|((_, scope), points)| Series::new(scope, points))
        .collect();
    for mut series in crate::model::sum_series(parts.iter().map(|s| (s, 1.0)), 1) {
        series.origin = origin(opts.ips.join("+"));
        traffic.merge_series(series);
    }
    traffic
}
