//! Command-line definitions (clap), turned into validated options by [`Cli::into_command`].
//! Nothing here does work: the library's [`crate::run`] takes the validated [`Command`].

use std::path::PathBuf;

use chrono::FixedOffset;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::export::ExportFormat;
use crate::render::{PngCompression, RenderOptions, Theme};
use crate::source::file::InputSpec;
use crate::stats::{PercentileOf, StatsOptions};
use crate::units::{DisplayUnit, ValueUnit};

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
    /// Draw the bandwidth graph (PNG) from saved data.
    Render(RenderArgs),
    /// Write the data as CSV or JSON, one row per timestamp.
    Export(ExportArgs),
    /// Time in-process rendering of one input, repeatedly (graphs/s, ms per graph, memory).
    Bench(BenchArgs),
}

/// Where the data comes from.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Data file: a Hostway JSON or CSV body, or our own CSV/JSON export. Repeat for more;
    /// prefix with the scope for a raw Hostway body: `receive=rx.json`.
    #[arg(
        long = "input",
        short = 'i',
        value_name = "[SCOPE=]FILE",
        required = true
    )]
    pub inputs: Vec<InputSpec>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output PNG file.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub graph: GraphArgs,
    /// Also print the figures (max, avg, min, last, total, percentile) to stdout.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub stats: Option<StatsFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    Json,
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
    /// Zone for the time axis: UTC, +HHMM or -HHMM. Data stays UTC.
    #[arg(long, default_value = "UTC", value_parser = parse_timezone)]
    pub timezone: FixedOffset,
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
    /// Output file, or `-` for stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// csv or json (default: from the file name, else csv).
    #[arg(long, value_parser = parse_from_str::<ExportFormat>)]
    pub format: Option<ExportFormat>,
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

fn parse_from_str<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, String> {
    s.parse()
}

/// `UTC`, `Z`, `+HHMM`, `-HHMM`, `+HH:MM` or `+HH`.
pub fn parse_timezone(s: &str) -> Result<FixedOffset, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" || t.eq_ignore_ascii_case("gmt") {
        return Ok(FixedOffset::east_opt(0).expect("UTC"));
    }
    let bad = || format!("bad time zone '{s}' (expected UTC, +HHMM or -HHMM)");
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !(digits.len() == 2 || digits.len() == 4) {
        return Err(bad());
    }
    let h: i32 = digits[..2].parse().map_err(|_| bad())?;
    let m: i32 = if digits.len() == 4 {
        digits[2..].parse().map_err(|_| bad())?
    } else {
        0
    };
    if h > 14 || m > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

/// A validated command for [`crate::run`].
#[derive(Debug, Clone)]
pub enum Command {
    Render(RenderJob),
    Export(ExportJob),
    Bench(BenchJob),
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
    pub inputs: Vec<InputSpec>,
    pub output: PathBuf,
    pub render: RenderOptions,
    pub stats: Option<StatsFormat>,
}

#[derive(Debug, Clone)]
pub struct ExportJob {
    pub inputs: Vec<InputSpec>,
    pub output: PathBuf,
    pub format: ExportFormat,
}

impl GraphArgs {
    /// Checks ranges and builds the render options.
    pub fn into_options(self) -> Result<RenderOptions, String> {
        if !(100..=8000).contains(&self.width) || !(100..=8000).contains(&self.height) {
            return Err(format!(
                "--width/--height {}x{} out of range (each 100 to 8000 pixels)",
                self.width, self.height
            ));
        }
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
            CliCommand::Render(a) => {
                if a.output.as_os_str() == "-" && a.stats.is_some() {
                    return Err("--stats json prints to stdout; give -o a file name".into());
                }
                Command::Render(RenderJob {
                    inputs: a.input.inputs,
                    output: a.output,
                    render: a.graph.into_options()?,
                    stats: a.stats,
                })
            }
            CliCommand::Bench(a) => Command::Bench(a.into_job()?),
            CliCommand::Export(a) => {
                let format = a
                    .format
                    .unwrap_or_else(|| ExportFormat::from_path(&a.output.to_string_lossy()));
                Command::Export(ExportJob {
                    inputs: a.input.inputs,
                    output: a.output,
                    format,
                })
            }
        })
    }
}

impl BenchArgs {
    fn into_job(self) -> Result<BenchJob, String> {
        use crate::bench::Budget;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timezones() {
        assert_eq!(parse_timezone("UTC").unwrap().local_minus_utc(), 0);
        assert_eq!(parse_timezone("+0530").unwrap().local_minus_utc(), 19_800);
        assert_eq!(parse_timezone("-08:00").unwrap().local_minus_utc(), -28_800);
        assert!(parse_timezone("Europe/Paris").is_err());
        assert!(parse_timezone("+2500").is_err());
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
        assert_eq!(job.budget, crate::bench::Budget::Graphs(3));
        assert_eq!((job.threads, job.json), (2, true));
        let Ok(Command::Bench(job)) = parse(&["--value-unit", "bits-per-second"]) else {
            panic!("bench job expected");
        };
        assert_eq!(job.budget, crate::bench::Budget::Seconds(2.0));
        assert!(parse(&["--seconds", "1", "--graphs", "2"]).is_err());
        assert!(parse(&["--seconds", "-1"]).is_err());
        assert!(parse(&["--threads", "0"]).is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
