//! Command-line definitions (clap), turned into the library's validated jobs by
//! [`Cli::into_command`]. Nothing here does work: [`trafficgraph::run`] takes the
//! validated [`Command`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use trafficgraph::export::ExportFormat;
use trafficgraph::fetch::{
    AnswerPolicy, CloudWatchRaw, FetchOptions, FetchSettings, RawProvider, SoftLayerRaw,
};
use trafficgraph::job::{
    check_request_limits, default_title, BenchJob, CachePruneJob, CacheVerifyJob, Command, DemoJob,
    ExportJob, Fallback, FallbackMode, FetchJob, RenderJob, Source, StatsFormat,
};
use trafficgraph::model::{Method, Named, Period, Scope};
use trafficgraph::provider::cloudwatch::{CloudWatchConfig, MetricWidget};
use trafficgraph::provider::request::ProviderRequest;
use trafficgraph::provider::softlayer::{
    NetworkType, PoolGraphRequest, SnapshotRange, SoftLayerConfig,
};
use trafficgraph::provider::ProviderKind;
use trafficgraph::range::{parse_date, DateRange};
use trafficgraph::render::{PngCompression, RenderOptions, Theme};
use trafficgraph::report::shard::MergeJob;
use trafficgraph::report::ReportJob;
use trafficgraph::sim::SimConfig;
use trafficgraph::source::cache::Cache;
use trafficgraph::source::file::InputSpec;
use trafficgraph::source::hostway::{Accept, Secret};
use trafficgraph::stats::{PercentileOf, StatsOptions};
use trafficgraph::units::{DisplayUnit, ValueUnit};
use trafficgraph::zone::{Zone, ZoneError};

#[derive(Debug, Parser)]
#[command(
    name = "trafficgraph",
    version,
    about = "Bandwidth graphs, 95th percentiles and CSV from raw provider traffic statistics"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Draw the bandwidth graph (PNG) from saved data or a provider's raw data.
    #[command(after_help = "Examples:
  trafficgraph render -i receive=rx.json -i transmit=tx.json -o graph.png
  trafficgraph render --base-url https://api.example.net/v1 --account 1234 --server 5678 \\
      --ip 203.0.113.10 --start 2026-10-01 --end 2026-10-31 -o october.png --stats json
  trafficgraph render --source softlayer --sl-hardware-id 309098 \\
      --start 2026-10-01 --end 2026-10-31 --timezone Europe/Berlin -o october.png")]
    Render(Box<RenderArgs>),
    /// Write the data as CSV or JSON, one row per timestamp.
    #[command(after_help = "Examples:
  trafficgraph export -i october.csv -o october.json
  trafficgraph export --source cloudwatch --cw-instance-id i-0123456789abcdef0 \\
      --start 2026-11-01 --end 2026-11-28 -o - | head")]
    Export(ExportArgs),
    /// Fetch traffic statistics (Hostway, SoftLayer or CloudWatch) and write them as CSV or
    /// JSON.
    #[command(after_help = "Examples:
  trafficgraph fetch --base-url https://api.example.net/v1 --account 1234 --server 5678 \\
      --ip 203.0.113.10 --ip 203.0.113.11 --start 2026-10-01 --end 2026-10-31 -o october.csv
  trafficgraph fetch --source softlayer --sl-hardware-id 309098 --period daily \\
      --start 2026-10-01 --end 2026-10-31 -o october-daily.csv")]
    Fetch(FetchCmdArgs),
    /// Graphs, CSVs, a summary and index.html for every target and pool of a config file.
    #[command(after_help = "Examples:
  trafficgraph report --config report.toml --out-dir report/
  trafficgraph report --config report.toml --out-dir shard-0 --shard 0/4
  trafficgraph report merge shard-0 shard-1 shard-2 shard-3 --out-dir report/")]
    Report(ReportArgs),
    /// Serve a Hostway-compatible API with synthetic traffic on loopback (for testing).
    #[command(after_help = "Example:
  trafficgraph sim --listen 127.0.0.1:8080 --latency-ms 20 --fail-rate 0.05")]
    Sim(SimArgs),
    /// Start the simulator, fetch 90 days from it, write traffic.csv and graph.png.
    #[command(after_help = "Example:
  trafficgraph demo --out-dir trafficgraph-demo")]
    Demo(DemoArgs),
    /// Time in-process rendering of one input, repeatedly (graphs/s, ms per graph, memory).
    #[command(after_help = "Example:
  trafficgraph bench --input traffic.csv --threads 2 --json")]
    Bench(BenchArgs),
    /// The cache: list, prune, and verify every entry against today's rules.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Print shell completions to stdout (e.g. `trafficgraph completions bash >
    /// /etc/bash_completion.d/trafficgraph`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout (e.g. `trafficgraph man | man -l -`).
    Man,
}

/// `trafficgraph cache ...`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Check every cached answer against its own request and today's rules; list those
    /// that fail (exit 1 when any does, unless --remove).
    Verify {
        /// Cache directory (default: the platform cache directory + trafficgraph).
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        /// Delete the entries that fail, so the next run fetches them anew.
        #[arg(long)]
        remove: bool,
    },
    /// List what the cache holds: per server, IP and scope (or provider metric), the days,
    /// entries, data sets and bytes.
    List {
        /// Cache directory (default: the platform cache directory + trafficgraph).
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
    /// Delete entries whose data ends more than DAYS days before today, and/or those of
    /// one server; prints what it removes.
    Prune {
        /// Cache directory (default: the platform cache directory + trafficgraph).
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        /// Entries whose last requested day is more than DAYS days before today (UTC).
        #[arg(long, value_name = "DAYS", required_unless_present = "server")]
        older_than: Option<u32>,
        /// Entries of this server: a Hostway server (or account) id, a SoftLayer hardware id
        /// or a CloudWatch instance id.
        #[arg(long, value_name = "ID")]
        server: Option<String>,
    },
}

/// Where the data comes from.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Data file: a Hostway JSON or CSV body, or our own CSV/JSON export. Repeat for more;
    /// prefix with the scope for a raw Hostway body: `receive=rx.json`.
    /// Or fetch from an API instead: see --base-url.
    #[arg(long = "input", short = 'i', value_name = "[SCOPE=]FILE")]
    pub inputs: Vec<InputSpec>,
}

/// `--scope`: one scope, or `both` (receive and transmit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    Receive,
    Transmit,
    Total,
    Both,
}

impl ScopeArg {
    pub fn scopes(self) -> Vec<Scope> {
        match self {
            ScopeArg::Receive => vec![Scope::Receive],
            ScopeArg::Transmit => vec![Scope::Transmit],
            ScopeArg::Total => vec![Scope::Total],
            ScopeArg::Both => vec![Scope::Receive, Scope::Transmit],
        }
    }
}

/// A flag whose values are a library [`Named`] set: the choices clap lists, completes and
/// checks are the library's own names, written once.
fn named<T: Named + Send + Sync>() -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(T::ALL.iter().map(|v| v.name()))
        .map(|name| T::from_name(&name).expect("clap allows only the possible values"))
}

/// Fetching from a Hostway-style traffic statistics API (the alternative to --input).
#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    /// API base URL, e.g. `https://api.example.net/v1` (no credentials in it).
    #[arg(long, value_name = "URL", help_heading = "Fetch")]
    pub base_url: Option<String>,
    /// Account id.
    #[arg(long, requires = "base_url", help_heading = "Fetch")]
    pub account: Option<String>,
    /// Dedicated server id.
    #[arg(long, requires = "base_url", help_heading = "Fetch")]
    pub server: Option<String>,
    /// IP address; repeat to fetch several side by side (summed unless --per-ip).
    #[arg(
        long = "ip",
        value_name = "IP",
        requires = "base_url",
        help_heading = "Fetch"
    )]
    pub ips: Vec<String>,
    /// receive, transmit, total, or both (receive and transmit).
    #[arg(long, value_enum, default_value = "both", help_heading = "Fetch")]
    pub scope: ScopeArg,
    /// Data sets of an hour or a day (SoftLayer: hours summed into UTC days).
    #[arg(long, value_parser = named::<Period>(), default_value = "hourly", help_heading = "Fetch")]
    pub period: Period,
    /// How the provider consolidated each data set: avg and min/max are bytes per second,
    /// sum is octets per period (Hostway only).
    #[arg(long, value_parser = named::<Method>(), default_value = "avg", help_heading = "Fetch")]
    pub method: Method,
    /// First day, YYYY-MM-DD (UTC, included).
    #[arg(long, value_parser = parse_date, help_heading = "Fetch")]
    pub start: Option<NaiveDate>,
    /// Last day, YYYY-MM-DD (UTC, included).
    #[arg(long, value_parser = parse_date, help_heading = "Fetch")]
    pub end: Option<NaiveDate>,
    /// The whole Authorization header value, e.g. "Bearer TOKEN".
    #[arg(
        long,
        env = "TRAFFICGRAPH_AUTH",
        hide_env_values = true,
        value_name = "VALUE",
        help_heading = "Fetch"
    )]
    pub auth: Option<Secret>,
    /// User for HTTP Basic authentication; the password comes from TRAFFICGRAPH_PASSWORD.
    #[arg(long, help_heading = "Fetch")]
    pub user: Option<String>,
    /// Body format to ask for.
    #[arg(long, value_parser = named::<Accept>(), default_value = "json", help_heading = "Fetch")]
    pub accept: Accept,
    /// Keep one series per IP instead of summing them per timestamp.
    #[arg(long, help_heading = "Fetch")]
    pub per_ip: bool,
    /// Most data sets asked for in one request (the server may refuse fewer).
    #[arg(long, default_value_t = trafficgraph::range::DEFAULT_LIMIT, help_heading = "Fetch")]
    pub limit: u32,
    #[command(flatten)]
    pub requests: RequestArgs,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

/// How to fetch, for `fetch`, `render`, `export` and `report` alike: one group, turned
/// into the library's [`FetchSettings`].
#[derive(Debug, Clone, Args)]
pub struct RequestArgs {
    /// Requests in flight at once [default: 4 for one fetch; 8 for a report, across all
    /// its targets].
    #[arg(long, value_name = "N", help_heading = "Requests")]
    pub concurrency: Option<usize>,
    /// Retries of a request after timeouts, connection errors, 429 and 5xx.
    #[arg(long, default_value_t = 4, help_heading = "Requests")]
    pub retries: usize,
    /// Seconds to wait for one answer.
    #[arg(
        long,
        default_value_t = 30.0,
        value_name = "SECONDS",
        help_heading = "Requests"
    )]
    pub timeout: f64,
    /// Cache directory (default: the platform cache directory + trafficgraph).
    #[arg(long, value_name = "DIR", help_heading = "Requests")]
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor write the cache.
    #[arg(long, conflicts_with = "cache_dir", help_heading = "Requests")]
    pub no_cache: bool,
    /// Use only the cache; name every chunk it lacks instead of asking the server.
    #[arg(long, conflicts_with = "no_cache", help_heading = "Requests")]
    pub offline: bool,
    /// No progress bar or notes on stderr.
    #[arg(long, short = 'q', help_heading = "Requests")]
    pub quiet: bool,
    /// Log every request (method, URL, status, ms) to stderr.
    #[arg(long, short = 'v', conflicts_with = "quiet", help_heading = "Requests")]
    pub verbose: bool,
    #[command(flatten)]
    pub checks: CheckArgs,
}

impl RequestArgs {
    /// Checks the flags and lays them over `defaults` (the library's, for the command).
    pub fn settings(self, defaults: FetchSettings) -> Result<FetchSettings, String> {
        let concurrency = self.concurrency.unwrap_or(defaults.concurrency);
        let timeout = check_request_limits(concurrency, self.timeout).map_err(|e| e.to_string())?;
        let policy = self.checks.policy();
        if self.offline && policy.refresh {
            return Err("--refresh asks the server again; it cannot be used with --offline".into());
        }
        Ok(FetchSettings {
            concurrency,
            retries: self.retries,
            timeout,
            cache_dir: if self.no_cache {
                None
            } else {
                self.cache_dir.or_else(Cache::default_dir)
            },
            offline: self.offline,
            policy,
            quiet: self.quiet,
            verbose: self.verbose,
            ..defaults
        })
    }
}

/// The answer checks a user may relax (README "What the tool checks"); strict by default.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct CheckArgs {
    /// Drop rows dated outside the requested days (warning on stderr, counted in
    /// --stats json) instead of refusing the answer.
    #[arg(long, help_heading = "Checks")]
    pub lenient: bool,
    /// Accept an empty answer for days wholly in the past (a warning, coverage 0) instead
    /// of refusing it.
    #[arg(long, help_heading = "Checks")]
    pub allow_empty: bool,
    /// Ask the server again even for days the cache holds, and replace those entries.
    #[arg(long, help_heading = "Checks")]
    pub refresh: bool,
}

impl CheckArgs {
    pub fn policy(self) -> AnswerPolicy {
        AnswerPolicy {
            lenient: self.lenient,
            allow_empty: self.allow_empty,
            refresh: self.refresh,
        }
    }
}

impl FetchArgs {
    /// Checks the fetch flags and builds the options (reads TRAFFICGRAPH_PASSWORD for
    /// --user).
    pub fn into_options(self) -> Result<FetchOptions, String> {
        let start = self.start.ok_or("give --start YYYY-MM-DD")?;
        let end = self.end.ok_or("give --end YYYY-MM-DD")?;
        let range = DateRange::new(start, end)
            .ok_or_else(|| format!("--end {end} is before --start {start}"))?;
        let settings = self.requests.clone().settings(FetchSettings::default())?;
        if self.limit == 0 {
            return Err("--limit must be at least 1".into());
        }
        let period = self.period;
        let mut opts = match self.provider.source {
            SourceKind::Hostway => self.hostway_options(range)?,
            raw => {
                if self.base_url.is_some() || !self.ips.is_empty() {
                    return Err(format!(
                        "--base-url, --account, --server and --ip are Hostway's; --source {} \
                         takes {}",
                        raw.name(),
                        raw.needs()
                    ));
                }
                if self.scope == ScopeArg::Total {
                    return Err(format!(
                        "--scope total is Hostway's; {} gives receive and transmit",
                        raw.name()
                    ));
                }
                if self.method != Method::Avg {
                    return Err(format!(
                        "--method is Hostway's; {} gives octets per bucket (a sum)",
                        raw.name()
                    ));
                }
                let mut o = FetchOptions::raw(self.provider.raw()?, range);
                o.method = Method::Sum;
                o
            }
        };
        opts.period = period;
        opts.scopes = self.scope.scopes();
        opts.limit = self.limit;
        opts.settings = settings;
        Ok(opts)
    }

    /// The Hostway part of the options: where, whose, and how to ask.
    fn hostway_options(&self, range: DateRange) -> Result<FetchOptions, String> {
        let base_url = self
            .base_url
            .clone()
            .ok_or("give --base-url (or --input files, or --source softlayer|cloudwatch)")?;
        let account = self.account.clone().ok_or("give --account")?;
        let server = self.server.clone().ok_or("give --server")?;
        if self.ips.is_empty() {
            return Err("give at least one --ip".into());
        }
        trafficgraph::source::hostway::parse_base_url(&base_url).map_err(|e| e.to_string())?;
        let auth = match &self.user {
            Some(user) => {
                let password = std::env::var("TRAFFICGRAPH_PASSWORD")
                    .map_err(|_| "--user needs the password in TRAFFICGRAPH_PASSWORD")?;
                Some(Secret::basic(user, &Secret::new(password)))
            }
            None => self.auth.clone(),
        };
        let mut opts = FetchOptions::new(base_url, account, server, self.ips.clone(), range);
        opts.method = self.method;
        opts.accept = self.accept;
        opts.auth = auth;
        opts.per_ip = self.per_ip;
        Ok(opts)
    }

    /// Whether these flags ask for a fetch (rather than `--input` files).
    fn fetches(&self) -> bool {
        self.base_url.is_some() || self.provider.source != SourceKind::Hostway
    }
}

impl SourceKind {
    fn name(self) -> &'static str {
        match self {
            SourceKind::Hostway => "hostway",
            SourceKind::Softlayer => "softlayer",
            SourceKind::Cloudwatch => "cloudwatch",
        }
    }

    /// The flags that say what this source reads.
    fn needs(self) -> &'static str {
        match self {
            SourceKind::Hostway => "--base-url, --account, --server and --ip",
            SourceKind::Softlayer => "--sl-hardware-id (and --sl-network, --sl-user, SL_API_KEY)",
            SourceKind::Cloudwatch => "--cw-instance-id (and --aws-region, AWS credentials)",
        }
    }
}

impl ProviderArgs {
    /// The raw provider the flags name (not Hostway, whose flags are FetchArgs').
    fn raw(&self) -> Result<RawProvider, String> {
        match self.source {
            SourceKind::Hostway => Ok(RawProvider::Hostway),
            SourceKind::Softlayer => {
                let hardware_id = self
                    .sl_hardware_id
                    .ok_or("--source softlayer needs --sl-hardware-id")?;
                Ok(RawProvider::SoftLayer(SoftLayerRaw {
                    config: self.softlayer_config()?,
                    hardware_id,
                    network: self.sl_network,
                    rollup: self.sl_rollup,
                }))
            }
            SourceKind::Cloudwatch => {
                let instance_id = self
                    .cw_instance_id
                    .clone()
                    .ok_or("--source cloudwatch needs --cw-instance-id")?;
                Ok(RawProvider::CloudWatch(CloudWatchRaw {
                    config: self.cloudwatch_config()?,
                    instance_id,
                    period: self.cw_period,
                }))
            }
        }
    }
}

/// The source of `render` and `export`: `--input` files or the fetch flags.
fn source(input: InputArgs, fetch: FetchArgs) -> Result<Source, String> {
    if fetch.fetches() && !input.inputs.is_empty() {
        Err("give either --input files or a source to fetch from, not both".into())
    } else if fetch.fetches() {
        Ok(Source::Http(Box::new(fetch.into_options()?)))
    } else if input.inputs.is_empty() {
        Err("give --input files, or --base-url and the other fetch flags".into())
    } else if fetch.start.is_some() || fetch.end.is_some() {
        Err("--start/--end select what to fetch: give --base-url too (files are read whole)".into())
    } else {
        Ok(Source::Files(input.inputs))
    }
}
/// `--fallback`: when to use a provider-drawn graph instead of drawing from raw data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum FallbackArg {
    /// Always draw locally from raw data.
    #[default]
    Never,
    /// Use the provider's graph when fetching raw data fails (after retries).
    OnError,
    /// Use the provider's graph without fetching raw data.
    Always,
}

impl From<FallbackArg> for FallbackMode {
    fn from(a: FallbackArg) -> FallbackMode {
        match a {
            FallbackArg::Never => FallbackMode::Never,
            FallbackArg::OnError => FallbackMode::OnError,
            FallbackArg::Always => FallbackMode::Always,
        }
    }
}

/// `--stats`: the format of the figures on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsArg {
    Json,
}

impl From<StatsArg> for StatsFormat {
    fn from(a: StatsArg) -> StatsFormat {
        match a {
            StatsArg::Json => StatsFormat::Json,
        }
    }
}

/// The provider graph to fall back on.
#[derive(Debug, Clone, Args)]
pub struct FallbackArgs {
    /// When to use the provider's own graph instead of drawing from raw data.
    #[arg(long, value_enum, default_value = "never", help_heading = "Fallback")]
    pub fallback: FallbackArg,
    /// softlayer or cloudwatch.
    #[arg(long, value_parser = parse_from_str::<ProviderKind>, help_heading = "Fallback")]
    pub provider: Option<ProviderKind>,
    /// SoftLayer bandwidth pool id: draws the pool's graph (getBandwidthImage).
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "sl_hardware_id",
        help_heading = "Fallback"
    )]
    pub sl_allotment_id: Option<u64>,
    /// Pool graph range: day, week, 30day, previous_calendar_month, current_calendar_month,
    /// current_billing_cycle, previous_billing_cycle, specified_day, specified_range
    /// (the specified ones take --start and --end).
    #[arg(
        long,
        default_value = "30day",
        value_name = "RANGE",
        help_heading = "Fallback"
    )]
    pub sl_range: String,
    /// A MetricWidget JSON file to draw instead (size is taken from --width/--height).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "cw_instance_id",
        help_heading = "Fallback"
    )]
    pub metric_widget: Option<PathBuf>,
}

/// Where raw data comes from: `--source` and the flags of the providers that are not
/// Hostway (they also name what the provider-drawn fallback graph shows).
#[derive(Debug, Clone, Args)]
pub struct ProviderArgs {
    /// Whose raw traffic data to fetch: hostway (--base-url ...), softlayer
    /// (--sl-hardware-id) or cloudwatch (--cw-instance-id).
    #[arg(long, value_enum, default_value = "hostway", help_heading = "Provider")]
    pub source: SourceKind,
    /// SoftLayer API user.
    #[arg(long, env = "SL_USERNAME", help_heading = "Provider")]
    pub sl_user: Option<String>,
    /// SoftLayer API key.
    #[arg(
        long,
        env = "SL_API_KEY",
        hide_env_values = true,
        help_heading = "Provider"
    )]
    pub sl_api_key: Option<Secret>,
    /// SoftLayer REST endpoint (default the public one; the private network has its own).
    #[arg(long, value_name = "URL", help_heading = "Provider")]
    pub sl_endpoint: Option<String>,
    /// SoftLayer hardware server id.
    #[arg(long, value_name = "ID", help_heading = "Provider")]
    pub sl_hardware_id: Option<u64>,
    /// public or private network.
    #[arg(long, default_value = "public", value_parser = parse_from_str::<NetworkType>, help_heading = "Provider")]
    pub sl_network: NetworkType,
    /// SoftLayer bucket seconds to ask for as they are (300, 600, 1800, 3600, 43200,
    /// 86400); default: 3600, and --period daily sums hours into UTC days.
    #[arg(long, value_name = "SECONDS", help_heading = "Provider")]
    pub sl_rollup: Option<u32>,
    /// AWS region of the CloudWatch endpoint.
    #[arg(long, env = "AWS_REGION", help_heading = "Provider")]
    pub aws_region: Option<String>,
    /// CloudWatch endpoint (default monitoring.REGION.amazonaws.com).
    #[arg(long, value_name = "URL", help_heading = "Provider")]
    pub cw_endpoint: Option<String>,
    /// EC2 instance id (NetworkIn and NetworkOut).
    #[arg(long, value_name = "ID", help_heading = "Provider")]
    pub cw_instance_id: Option<String>,
    /// Seconds per CloudWatch data point (60, 300, 3600...; raised to what CloudWatch
    /// still keeps for the range's age).
    #[arg(
        long,
        default_value_t = 300,
        value_name = "SECONDS",
        help_heading = "Provider"
    )]
    pub cw_period: u32,
}

/// `--source`: which provider's raw data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SourceKind {
    #[default]
    Hostway,
    Softlayer,
    Cloudwatch,
}

impl ProviderArgs {
    /// The SoftLayer connection from the flags and environment.
    fn softlayer_config(&self) -> Result<SoftLayerConfig, String> {
        let user = self
            .sl_user
            .clone()
            .ok_or("SoftLayer needs --sl-user or SL_USERNAME")?;
        let key = self
            .sl_api_key
            .clone()
            .ok_or("SoftLayer needs --sl-api-key or SL_API_KEY")?;
        let mut config = SoftLayerConfig::new(user, key);
        if let Some(e) = &self.sl_endpoint {
            config = config.with_endpoint(e.clone());
        }
        Ok(config)
    }

    /// The CloudWatch connection from the flags and environment.
    fn cloudwatch_config(&self) -> Result<CloudWatchConfig, String> {
        let mut config =
            CloudWatchConfig::from_env(self.aws_region.clone()).map_err(|e| e.to_string())?;
        if let Some(e) = &self.cw_endpoint {
            config = config.with_endpoint(e.clone());
        }
        Ok(config)
    }
}

impl FallbackArgs {
    /// Builds the provider request; `None` for `--fallback never`. Reads credentials from
    /// the flags or their environment variables, so a missing one is reported up front.
    pub fn into_fallback(
        self,
        fetch: &FetchArgs,
        graph: &RenderOptions,
    ) -> Result<Option<Fallback>, String> {
        if self.fallback == FallbackArg::Never {
            return Ok(None);
        }
        let provider = self.provider(fetch)?;
        let (start, end) = match (fetch.start, fetch.end) {
            (Some(s), Some(e)) if e >= s => (Some(s), Some(e)),
            (Some(s), Some(e)) => return Err(format!("--end {e} is before --start {s}")),
            (s, e) => (s, e),
        };
        let request = match provider {
            ProviderKind::SoftLayer => self.softlayer_request(fetch, graph, start, end)?,
            ProviderKind::CloudWatch => self.cloudwatch_request(fetch, graph, start, end)?,
        };
        Ok(Some(Fallback {
            mode: self.fallback.into(),
            request,
        }))
    }

    /// `--provider`, else the provider whose raw data is fetched: it draws its own graph
    /// unless told otherwise.
    fn provider(&self, fetch: &FetchArgs) -> Result<ProviderKind, String> {
        Ok(self
            .provider
            .or(match fetch.provider.source {
                SourceKind::Softlayer => Some(ProviderKind::SoftLayer),
                SourceKind::Cloudwatch => Some(ProviderKind::CloudWatch),
                SourceKind::Hostway => None,
            })
            .ok_or("--fallback needs --provider softlayer or cloudwatch")?)
    }

    /// SoftLayer's graph of a hardware server (over `--start` to `--end`) or of a
    /// bandwidth pool (over `--sl-range`).
    fn softlayer_request(
        &self,
        fetch: &FetchArgs,
        graph: &RenderOptions,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
    ) -> Result<ProviderRequest, String> {
        let p = &fetch.provider;
        let config = p.softlayer_config()?;
        Ok(match (p.sl_hardware_id, self.sl_allotment_id) {
            (Some(hardware_id), _) => {
                let look = graph.provider_look(graph_days(start, end)?);
                ProviderRequest::softlayer_server(config, hardware_id, p.sl_network, &look)
            }
            (None, Some(allotment_id)) => ProviderRequest::SoftLayerPool {
                config,
                allotment_id,
                graph: PoolGraphRequest {
                    network: p.sl_network,
                    range: SnapshotRange::parse(&self.sl_range, start, end)
                        .map_err(|e| e.to_string())?,
                    size: Some((graph.width, graph.height)),
                },
            },
            (None, None) => {
                return Err("SoftLayer needs --sl-hardware-id or --sl-allotment-id".into())
            }
        })
    }

    /// CloudWatch's metric widget: from `--metric-widget`, or the instance's network in
    /// and out over `--start` to `--end`; checked before it is sent.
    fn cloudwatch_request(
        &self,
        fetch: &FetchArgs,
        graph: &RenderOptions,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
    ) -> Result<ProviderRequest, String> {
        let p = &fetch.provider;
        let config = p.cloudwatch_config()?;
        let request = match (self.metric_widget.clone(), p.cw_instance_id.clone()) {
            (Some(file), _) => ProviderRequest::CloudWatch {
                config,
                widget: MetricWidget::from_file(&file)
                    .map_err(|e| e.to_string())?
                    .with_size(graph.width, graph.height),
            },
            (None, Some(instance_id)) => {
                let look = graph.provider_look(graph_days(start, end)?);
                ProviderRequest::cloudwatch_network(config, instance_id, p.cw_period, &look)
            }
            (None, None) => {
                return Err("CloudWatch needs --cw-instance-id or --metric-widget".into())
            }
        };
        if let ProviderRequest::CloudWatch { widget, .. } = &request {
            widget.validate().map_err(|e| e.to_string())?;
        }
        Ok(request)
    }
}

/// The days `--start` to `--end` of a provider's graph of a server (both are needed).
fn graph_days(start: Option<NaiveDate>, end: Option<NaiveDate>) -> Result<DateRange, String> {
    start
        .zip(end)
        .and_then(|(s, e)| DateRange::new(s, e))
        .ok_or_else(|| "the provider graph needs --start and --end".to_string())
}

#[derive(Debug, Args)]
pub struct FetchCmdArgs {
    #[command(flatten)]
    pub fetch: FetchArgs,
    #[command(flatten)]
    pub out: ExportOutputArgs,
}

/// Where `export` and `fetch` write their table, and in which format.
#[derive(Debug, Args)]
pub struct ExportOutputArgs {
    /// Output file (.csv or .json), or `-` for stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// csv or json (default: from the file name, else csv).
    #[arg(long, value_parser = parse_from_str::<ExportFormat>)]
    pub format: Option<ExportFormat>,
}

impl ExportOutputArgs {
    /// The file and its format; refuses an image name (`-o x.png`), which is `render`'s.
    fn checked(self, command: &str) -> Result<(PathBuf, ExportFormat), String> {
        not_an_image(command, &self.output)?;
        let format = self
            .format
            .unwrap_or_else(|| ExportFormat::from_path(&self.output.to_string_lossy()));
        Ok((self.output, format))
    }
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Loopback address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Delay before every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fraction of requests answered with --fail-status, 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Status of injected faults (503, or 429 for rate limiting).
    #[arg(long, default_value_t = 503)]
    pub fail_status: u16,
    /// Seed of the fault injection.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Most data sets per response.
    #[arg(long, default_value_t = trafficgraph::range::DEFAULT_LIMIT)]
    pub limit: u32,
    /// Require this exact Authorization value (401 otherwise).
    #[arg(long, env = "TRAFFICGRAPH_SIM_AUTH", hide_env_values = true)]
    pub auth: Option<Secret>,
    /// Creation date of servers without their own: requests starting earlier get 400.
    #[arg(long, value_parser = parse_date, default_value = "2010-01-01")]
    pub created: NaiveDate,
    /// Creation date of one server: SERVER=YYYY-MM-DD. Repeat for more.
    #[arg(long = "server-created", value_name = "SERVER=DATE", value_parser = parse_server_created)]
    pub server_created: Vec<(String, NaiveDate)>,
    /// Retry-After seconds sent with injected faults.
    #[arg(long)]
    pub retry_after: Option<u64>,
}

fn parse_server_created(s: &str) -> Result<(String, NaiveDate), String> {
    let (server, date) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected SERVER=YYYY-MM-DD"))?;
    Ok((
        server.to_string(),
        parse_date(date).map_err(|e| e.to_string())?,
    ))
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for traffic.csv and graph.png.
    #[arg(long, default_value = "trafficgraph-demo", value_name = "DIR")]
    pub out_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub fetch: FetchArgs,
    /// Output PNG file.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub graph: GraphArgs,
    #[command(flatten)]
    pub fallback: FallbackArgs,
    /// Also print the figures (max, avg, min, last, total, percentile) to stdout.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub stats: Option<StatsArg>,
}

/// How the graph looks and which figures it shows.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Title drawn at the top.
    #[arg(long)]
    pub title: Option<String>,
    /// Width in pixels.
    #[arg(long, default_value_t = 827)]
    pub width: u32,
    /// Height in pixels.
    #[arg(long, default_value_t = 273)]
    pub height: u32,
    /// Text size in pixels.
    #[arg(long, default_value_t = 11.0)]
    pub font_size: f64,
    /// Zone for the time axis: UTC, +HHMM, -HHMM or an IANA name (Europe/Berlin), with
    /// daylight saving. Data stays UTC.
    #[arg(long, default_value = "UTC", value_parser = parse_timezone, allow_hyphen_values = true)]
    pub timezone: Zone,
    /// Do not print the time zone on the graph.
    #[arg(long)]
    pub hide_timezone: bool,
    /// Rate unit of the y axis and the figures.
    #[arg(long, default_value = "bits", value_parser = parse_from_str::<DisplayUnit>)]
    pub unit: DisplayUnit,
    /// What one source value means: auto (sum -> octets-per-period, else bytes-per-second),
    /// bits-per-second, bytes-per-second, octets-per-period, bits-per-period.
    #[arg(long, default_value = "auto", value_parser = parse_from_str::<ValueUnit>)]
    pub value_unit: ValueUnit,
    /// Percentile line, in (0, 100]; 0 hides it.
    #[arg(long, default_value_t = 95.0)]
    pub percentile: f64,
    /// Samples the percentile is taken of: receive, transmit, max (per timestamp) or sum.
    #[arg(long, default_value = "max", value_parser = parse_from_str::<PercentileOf>)]
    pub percentile_of: PercentileOf,
    /// light or dark (both opaque).
    #[arg(long, default_value = "light", value_parser = parse_from_str::<Theme>)]
    pub theme: Theme,
    /// PNG encoder effort: fast, default or best.
    #[arg(long, default_value = "default", value_parser = parse_from_str::<PngCompression>)]
    pub png_compression: PngCompression,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub fetch: FetchArgs,
    #[command(flatten)]
    pub out: ExportOutputArgs,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Run for this many seconds (default 2).
    #[arg(long, conflicts_with = "graphs")]
    pub seconds: Option<f64>,
    /// Render exactly this many graphs.
    #[arg(long)]
    pub graphs: Option<usize>,
    /// Render on this many threads at once.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Also print the figures as JSON on the last stdout line.
    #[arg(long)]
    pub json: bool,
    /// Write the last graph rendered to this PNG file.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub graph: GraphArgs,
}

fn parse_from_str<T>(s: &str) -> Result<T, String>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e: T::Err| e.to_string())
}

/// `UTC`, `Z`, `+HHMM`, `-HHMM`, `+HH:MM`, `+HH` or an IANA zone name.
fn parse_timezone(s: &str) -> Result<Zone, ZoneError> {
    Zone::parse(s)
}

impl GraphArgs {
    /// Checks ranges and builds the render options.
    pub fn into_options(self) -> Result<RenderOptions, String> {
        trafficgraph::render::check_size(self.width, self.height)
            .map_err(|e| format!("--width/--height: {e}"))?;
        if !(4.0..=72.0).contains(&self.font_size) {
            return Err(format!(
                "--font-size {} out of range (4 to 72)",
                self.font_size
            ));
        }
        if !(0.0..=100.0).contains(&self.percentile) || self.percentile.is_nan() {
            return Err(format!(
                "--percentile {} out of range (0 to 100)",
                self.percentile
            ));
        }
        Ok(RenderOptions {
            width: self.width,
            height: self.height,
            title: self.title,
            font_size: self.font_size,
            timezone: self.timezone,
            show_timezone: !self.hide_timezone,
            theme: self.theme,
            stats: StatsOptions {
                value_unit: self.value_unit,
                unit: self.unit,
                percentile: (self.percentile > 0.0).then_some(self.percentile),
                percentile_of: self.percentile_of,
            },
            png_compression: self.png_compression,
            source: "local".to_string(),
        })
    }
}

impl Cli {
    /// Validates the parsed arguments.
    pub fn into_command(self) -> Result<Command, String> {
        Ok(match self.command {
            CliCommand::Render(a) => Command::Render((*a).into_job()?),
            CliCommand::Bench(a) => Command::Bench(a.into_job()?),
            CliCommand::Export(a) => {
                let (output, format) = a.out.checked("export")?;
                Command::Export(ExportJob {
                    source: source(a.input, a.fetch)?,
                    output,
                    format,
                })
            }
            CliCommand::Fetch(a) => {
                let (output, format) = a.out.checked("fetch")?;
                Command::Fetch(FetchJob {
                    fetch: a.fetch.into_options()?,
                    output,
                    format,
                })
            }
            CliCommand::Sim(a) => Command::Sim(a.into_config()?),
            CliCommand::Demo(a) => Command::Demo(DemoJob { out_dir: a.out_dir }),
            CliCommand::Report(a) => a.into_command()?,
            CliCommand::Completions { .. } | CliCommand::Man => {
                return Err("completions and the man page are printed by the binary".into())
            }
            CliCommand::Cache(c) => c.into_command()?,
        })
    }
}

impl RenderArgs {
    /// Checks the output, the graph's options and the fallback, and builds the job.
    fn into_job(self) -> Result<RenderJob, String> {
        if let Some(ext @ ("csv" | "json")) = extension(&self.output).as_deref() {
            return Err(format!(
                "render writes a PNG, and -o {} names a .{ext} file: give a .png name, \
                 or use `trafficgraph export` (or fetch) for {}",
                self.output.display(),
                ext.to_uppercase()
            ));
        }
        if self.output.as_os_str() == "-" && self.stats.is_some() {
            return Err("--stats json prints to stdout; give -o a file name".into());
        }
        let mut render = self.graph.into_options()?;
        let fallback = self.fallback.into_fallback(&self.fetch, &render)?;
        let source = render_source(self.input, self.fetch, fallback.as_ref())?;
        if render.title.is_none() {
            render.title = source.as_ref().map(default_title);
        }
        Ok(RenderJob {
            source,
            output: self.output,
            render,
            stats: self.stats.map(StatsFormat::from),
            fallback,
        })
    }
}

/// Where `render` reads its data: none under `--fallback always` (which then takes no
/// input or base URL), else the files or the fetch (which `--fallback on-error` needs).
fn render_source(
    input: InputArgs,
    fetch: FetchArgs,
    fallback: Option<&Fallback>,
) -> Result<Option<Source>, String> {
    let always = matches!(fallback, Some(f) if f.mode == FallbackMode::Always);
    if always && fetch.base_url.is_none() && input.inputs.is_empty() {
        Ok(None)
    } else if always {
        Err("--fallback always fetches no raw data: drop --input/--base-url".into())
    } else {
        if matches!(fallback, Some(f) if f.mode == FallbackMode::OnError) && !fetch.fetches() {
            return Err(
                "--fallback on-error applies to fetching: give --base-url or --source".into(),
            );
        }
        Ok(Some(source(input, fetch)?))
    }
}

impl SimArgs {
    /// Checks the fault rate and the loopback address, and builds the simulator's config.
    fn into_config(self) -> Result<SimConfig, String> {
        if !(0.0..=1.0).contains(&self.fail_rate) {
            return Err(format!(
                "--fail-rate {} out of range (0 to 1)",
                self.fail_rate
            ));
        }
        if !self.listen.ip().is_loopback() {
            return Err(format!(
                "--listen {}: the simulator only listens on loopback (127.0.0.1)",
                self.listen
            ));
        }
        Ok(SimConfig {
            listen: self.listen,
            limit: self.limit,
            latency: Duration::from_millis(self.latency_ms),
            fail_rate: self.fail_rate,
            fail_status: self.fail_status,
            fail_after: None,
            retry_after: self.retry_after,
            seed: self.seed,
            auth: self.auth,
            default_created: self.created,
            created: self.server_created,
            providers: Some(trafficgraph::provider::sim::ProviderSimConfig::default()),
        })
    }
}

impl CacheCommand {
    /// The cache job, on `--cache-dir` or the platform's cache directory.
    fn into_command(self) -> Result<Command, String> {
        Ok(match self {
            CacheCommand::Verify { cache_dir, remove } => Command::CacheVerify(CacheVerifyJob {
                cache_dir: cache_dir_or_default(cache_dir)?,
                remove,
            }),
            CacheCommand::List { cache_dir } => {
                Command::CacheList(cache_dir_or_default(cache_dir)?)
            }
            CacheCommand::Prune {
                cache_dir,
                older_than,
                server,
            } => Command::CachePrune(CachePruneJob {
                cache_dir: cache_dir_or_default(cache_dir)?,
                older_than,
                server,
            }),
        })
    }
}

/// `--cache-dir`, else the platform's cache directory, else an error.
fn cache_dir_or_default(cache_dir: Option<PathBuf>) -> Result<PathBuf, String> {
    cache_dir
        .or_else(Cache::default_dir)
        .ok_or_else(|| "no platform cache directory here; give --cache-dir".to_string())
}

impl BenchArgs {
    fn into_job(self) -> Result<BenchJob, String> {
        use trafficgraph::bench::Budget;
        let budget = match (self.seconds, self.graphs) {
            (_, Some(0)) => return Err("--graphs must be at least 1".into()),
            (_, Some(n)) => Budget::Graphs(n),
            (Some(s), None) if !(s > 0.0 && s.is_finite()) => {
                return Err(format!("--seconds {s} must be a positive number"))
            }
            (Some(s), None) => Budget::Seconds(s),
            (None, None) => Budget::Seconds(2.0),
        };
        if !(1..=256).contains(&self.threads) {
            return Err(format!(
                "--threads {} out of range (1 to 256)",
                self.threads
            ));
        }
        Ok(BenchJob {
            inputs: self.input.inputs,
            render: self.graph.into_options()?,
            budget,
            threads: self.threads,
            json: self.json,
            output: self.output,
        })
    }
}

/// `trafficgraph report` flags.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: Option<ReportCommand>,
    /// The report configuration (TOML; see fixtures/report.toml).
    #[arg(long, value_name = "FILE", required = true)]
    pub config: Option<PathBuf>,
    /// Directory for the graphs, CSVs, summary and index.html (created if missing).
    #[arg(long, value_name = "DIR", required = true)]
    pub out_dir: Option<PathBuf>,
    /// Draw only shard I of N (0 to N-1): the targets whose name hashes to I, into
    /// --out-dir with a shard.json instead of the summary and pools; `report merge`
    /// puts the shards together.
    #[arg(long, value_name = "I/N", value_parser = trafficgraph::report::shard::parse_shard)]
    pub shard: Option<trafficgraph::report::shard::Shard>,
    /// Targets drawn at once, on as many threads [default: the number of cores]; fetching
    /// and writing run beside them.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// "Today" for the named range, YYYY-MM-DD (default: today in the configured zone).
    #[arg(long, value_parser = parse_date, value_name = "YYYY-MM-DD")]
    pub now: Option<NaiveDate>,
    #[command(flatten)]
    pub requests: RequestArgs,
}

/// `trafficgraph report ...` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Put the output directories of `report --shard I/N` runs (every I of one N) together
    /// into one report: the same files one unsharded run writes.
    Merge {
        /// The shards' output directories.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Directory for the whole report (created if missing).
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// No note on stderr.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
}

impl ReportArgs {
    /// The job of `report` or of `report merge`.
    pub fn into_command(self) -> Result<Command, String> {
        match self.command {
            Some(ReportCommand::Merge {
                dirs,
                out_dir,
                quiet,
            }) => Ok(Command::ReportMerge(MergeJob {
                dirs,
                out_dir,
                quiet,
                notes: Default::default(),
            })),
            None => self.into_job().map(Command::Report),
        }
    }

    /// Checks the flags' ranges and builds the job.
    pub fn into_job(self) -> Result<ReportJob, String> {
        if let Some(jobs) = self.jobs.filter(|j| !(1..=256).contains(j)) {
            return Err(format!("--jobs {jobs} out of range (1 to 256)"));
        }
        let (Some(config), Some(out_dir)) = (self.config, self.out_dir) else {
            return Err("report needs --config FILE and --out-dir DIR".into());
        };
        let mut job = ReportJob::new(config, out_dir);
        let fetch = self.requests.settings(job.fetch.clone())?;
        job.shard = self.shard;
        if let Some(jobs) = self.jobs {
            job.jobs = jobs;
        }
        job.now = self.now;
        job.fetch = fetch;
        Ok(job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timezones() {
        let off = |s: &str| parse_timezone(s).unwrap().offset_at(0).local_minus_utc();
        assert_eq!(off("UTC"), 0);
        assert_eq!(off("+0530"), 19_800);
        assert_eq!(off("-08:00"), -28_800);
        assert_eq!(
            parse_timezone("Europe/Paris").unwrap().name(),
            "Europe/Paris"
        );
        assert!(parse_timezone("+2500").is_err());
        // A negative offset is a value, not a flag, with or without `=`.
        for args in [
            &["--timezone", "-0500"][..],
            &["--timezone=-0500"],
            &["--timezone", "America/Chicago"],
        ] {
            let cli = Cli::try_parse_from(
                [
                    &["trafficgraph", "render", "-i", "t.csv", "-o", "g.png"],
                    args,
                ]
                .concat(),
            )
            .map_err(|e| e.to_string())
            .and_then(Cli::into_command);
            let Ok(Command::Render(job)) = cli else {
                panic!("{args:?}: {cli:?}");
            };
            assert!(["UTC-05:00", "America/Chicago"].contains(&job.render.timezone.name().as_str()));
        }
    }

    #[test]
    fn bench_arguments_become_a_job() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from([&["trafficgraph", "bench", "--input", "t.csv"], args].concat())
                .map_err(|e| e.to_string())
                .and_then(Cli::into_command)
        };
        let Ok(Command::Bench(job)) = parse(&["--graphs", "3", "--threads", "2", "--json"]) else {
            panic!("bench job expected");
        };
        assert_eq!(job.budget, trafficgraph::bench::Budget::Graphs(3));
        assert_eq!((job.threads, job.json), (2, true));
        let Ok(Command::Bench(job)) = parse(&["--value-unit", "bits-per-second"]) else {
            panic!("bench job expected");
        };
        assert_eq!(job.budget, trafficgraph::bench::Budget::Seconds(2.0));
        assert!(parse(&["--seconds", "1", "--graphs", "2"]).is_err());
        assert!(parse(&["--seconds", "-1"]).is_err());
        assert!(parse(&["--threads", "0"]).is_err());
    }

    #[test]
    fn fetch_and_render_take_the_same_flags() {
        let args = [
            "trafficgraph",
            "fetch",
            "--base-url",
            "http://127.0.0.1:9",
            "--account",
            "acme",
            "--server",
            "srv-1",
            "--ip",
            "10.0.0.1",
            "--scope",
            "both",
            "--start",
            "2024-01-01",
            "--end",
            "2024-02-29",
            "--auth",
            "Basic dXNlcjpjbGktdG9rZW4tNWQ=",
            "--no-cache",
            "--quiet",
            "-o",
            "out.csv",
        ];
        let command = Cli::try_parse_from(args).unwrap().into_command().unwrap();
        assert!(!format!("{command:?}").contains("dXNlcjpjbGktdG9rZW4tNWQ="));
        let mut render_args: Vec<&str> = args.to_vec();
        render_args[1] = "render";
        *render_args.last_mut().unwrap() = "graph.png";
        let range = DateRange::new(
            parse_date("2024-01-01").unwrap(),
            parse_date("2024-02-29").unwrap(),
        )
        .unwrap();
        match Cli::try_parse_from(&render_args)
            .unwrap()
            .into_command()
            .unwrap()
        {
            Command::Render(job) => match job.source {
                Some(Source::Http(o)) => {
                    assert_eq!(o.ips, vec!["10.0.0.1".to_string()]);
                    assert_eq!(o.range, range);
                }
                other => panic!("expected an HTTP source, got {other:?}"),
            },
            other => panic!("expected render, got {other:?}"),
        }
        let both = [
            "trafficgraph",
            "export",
            "--input",
            "x.csv",
            "--base-url",
            "http://127.0.0.1:9",
            "-o",
            "-",
        ];
        let err = Cli::try_parse_from(both)
            .unwrap()
            .into_command()
            .unwrap_err();
        assert_eq!(
            err,
            "give either --input files or a source to fetch from, not both"
        );
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

#[cfg(test)]
mod help_tests {
    use super::*;
    use clap::CommandFactory;

    /// Every flag of every subcommand says what it does (`--help` is the manual).
    #[test]
    fn every_flag_is_described() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} --{}", arg.get_long().unwrap_or(id)));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "trafficgraph", &mut missing);
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "flags without help: {missing:#?}");
    }

    #[test]
    fn completions_and_the_man_page_come_from_the_flags() {
        let bash = generated(&Cli::parse_from(["trafficgraph", "completions", "bash"])).unwrap();
        let bash = String::from_utf8(bash).unwrap();
        assert!(bash.contains("--sl-hardware-id") && bash.contains("--allow-empty"));
        let man = String::from_utf8(generated(&Cli::parse_from(["trafficgraph", "man"])).unwrap())
            .unwrap();
        assert!(
            man.contains(".TH trafficgraph") && man.contains("report"),
            "{man}"
        );
        assert!(generated(&Cli::parse_from(["trafficgraph", "demo"])).is_none());
    }
}

/// `completions` and `man`: printed from the flag definitions themselves, so they never
/// drift from `--help`. `None` for every other command.
pub fn generated(cli: &Cli) -> Option<Vec<u8>> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    match &cli.command {
        CliCommand::Completions { shell } => {
            clap_complete::generate(*shell, &mut cmd, "trafficgraph", &mut out);
        }
        CliCommand::Man => {
            clap_mangen::Man::new(cmd).render(&mut out).ok()?;
        }
        _ => return None,
    }
    Some(out)
}

/// The lower-case extension of `path`, if any.
fn extension(path: &std::path::Path) -> Option<String> {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
}

/// `export`/`fetch` write CSV or JSON: an image name is a mistake, not a CSV to write there.
fn not_an_image(command: &str, output: &std::path::Path) -> Result<(), String> {
    match extension(output).as_deref() {
        Some(ext @ ("png" | "jpg" | "jpeg" | "svg")) => Err(format!(
            "{command} writes CSV or JSON, and -o {} names a .{ext} image: give a .csv or \
             .json name, or use `trafficgraph render` for the graph",
            output.display()
        )),
        _ => Ok(()),
    }
}
