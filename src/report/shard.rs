//! Sharded reports: `report --shard I/N` draws a fixed share of the targets into its own
//! directory with a machine-readable `shard.json`; `report merge DIR... --out-dir OUT`
//! puts the shards together into the report one unsharded run would have written.
//!
//! - A target belongs to shard `fnv1a64(name) % N` (`crate::hash::fnv1a64`): the same
//!   on every machine and version, whatever the order of the config, so N processes (or
//!   Kubernetes pods) given the same config split it without talking to each other, and a
//!   shard re-run draws the same targets.
//! - A shard draws no pool (a pool's members may live in other shards) and writes no
//!   summary files; `shard.json` holds its rows, the config's text and the "today" its
//!   range was resolved against, so the merge needs nothing else and can check that the
//!   shards belong together (same config, same day, same N, every index once).
//! - The merge copies each shard's target files, reads the pools' members back from their
//!   CSVs (written in shortest round-trip form, so exactly the values in memory) and draws
//!   the pools and the summary as [`super::run`] does: merged shards give the same files.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::config::{Config, SourceName};
use super::summary::{RowKind, RowStatus, Summary, SummaryRow};
use super::{Ctx, Plan, ReportError, ReportJob, ReportOutcome};
use crate::model::{Method, Origin, Period, Traffic};
use crate::output::write_if_changed;

/// The name of a shard's summary in its directory.
pub const SUMMARY: &str = "shard.json";

/// The version of `shard.json`.
const FORMAT: u32 = 1;

/// One share of a report's targets: `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard's number, `0..count`.
    pub index: u32,
    /// How many shards the targets are split into (at least 1).
    pub count: u32,
}

impl Shard {
    /// Whether the target called `name` is this shard's.
    pub fn owns(&self, name: &str) -> bool {
        shard_of(name, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard of `count` a target name belongs to.
pub fn shard_of(name: &str, count: u32) -> u32 {
    (crate::hash::fnv1a64(name.as_bytes()) % u64::from(count.max(1))) as u32
}

/// `--shard I/N`: I from 0 to N-1, N from 1 to 10,000.
pub fn parse_shard(text: &str) -> Result<Shard, ShardError> {
    let bad = || ShardError::Syntax {
        text: text.to_string(),
    };
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let index: u32 = i.trim().parse().map_err(|_| bad())?;
    let count: u32 = n.trim().parse().map_err(|_| bad())?;
    if !(1..=10_000).contains(&count) {
        return Err(ShardError::Count {
            text: text.to_string(),
        });
    }
    if index >= count {
        return Err(ShardError::Index {
            text: text.to_string(),
            count,
        });
    }
    Ok(Shard { index, count })
}

/// Why a `--shard` was refused; `text` is what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not two numbers `I/N`.
    #[error("'{text}': expected I/N, e.g. 0/4 (I from 0 to N-1)")]
    Syntax {
        /// What was given.
        text: String,
    },
    /// N outside 1 to 10,000.
    #[error("'{text}': N must be 1 to 10000")]
    Count {
        /// What was given.
        text: String,
    },
    /// I not below N.
    #[error("'{text}': I must be 0 to {} (shards count from 0)", .count - 1)]
    Index {
        /// What was given.
        text: String,
        /// N, the number of shards.
        count: u32,
    },
}

/// True when `dir` holds a shard summary of ours: a shard's directory, which a re-run of
/// that shard may write into again.
pub(crate) fn is_shard_dir(dir: &std::path::Path) -> bool {
    std::fs::read(dir.join(SUMMARY))
        .ok()
        .and_then(|b| serde_json::from_slice::<ShardFile>(&b).ok())
        .is_some_and(|f| f.format == FORMAT)
}

/// `shard.json`.
#[derive(Debug, Serialize, Deserialize)]
struct ShardFile {
    format: u32,
    shard: u32,
    shards: u32,
    /// "Today" the range was resolved against.
    today: NaiveDate,
    /// The config's text, as read.
    config: String,
    rows: Vec<ShardRow>,
}

/// One target's row, with what a pool needs to read its CSV back.
#[derive(Debug, Serialize, Deserialize)]
struct ShardRow {
    /// The target's place in the config.
    index: usize,
    row: RowData,
}

/// A [`SummaryRow`] as written (its field names), with owned strings.
#[derive(Debug, Serialize, Deserialize)]
struct RowData {
    name: String,
    kind: String,
    status: String,
    source: String,
    received_bytes: Option<f64>,
    transmitted_bytes: Option<f64>,
    receive_max: Option<f64>,
    transmit_max: Option<f64>,
    receive_avg: Option<f64>,
    transmit_avg: Option<f64>,
    percentile: Option<f64>,
    coverage: Option<f64>,
    png: Option<String>,
    csv: Option<String>,
    error: Option<String>,
}

impl RowData {
    fn from_row(row: &SummaryRow) -> RowData {
        serde_json::from_value(serde_json::to_value(row).expect("row serialises"))
            .expect("a summary row reads back")
    }

    fn into_row(self) -> Result<SummaryRow, RowError> {
        use crate::model::Named;
        let kind = match RowKind::from_name(&self.kind) {
            Some(RowKind::Target) => RowKind::Target,
            _ => {
                return Err(RowError::NotTarget {
                    name: self.name,
                    kind: self.kind,
                })
            }
        };
        let status = match RowStatus::from_name(&self.status) {
            Some(status) => status,
            None => {
                return Err(RowError::Status {
                    name: self.name,
                    status: self.status,
                })
            }
        };
        Ok(SummaryRow {
            name: self.name,
            kind,
            status,
            source: self.source,
            received_bytes: self.received_bytes,
            transmitted_bytes: self.transmitted_bytes,
            receive_max: self.receive_max,
            transmit_max: self.transmit_max,
            receive_avg: self.receive_avg,
            transmit_avg: self.transmit_avg,
            percentile: self.percentile,
            coverage: self.coverage,
            png: self.png,
            csv: self.csv,
            error: self.error,
        })
    }
}

/// A row of `shard.json` that a merge cannot take.
#[derive(Debug, thiserror::Error)]
enum RowError {
    #[error("row '{name}' is a '{kind}', not a target")]
    NotTarget { name: String, kind: String },
    #[error("row '{name}' has status '{status}'")]
    Status { name: String, status: String },
}

/// Writes `shard.json` for a shard's rows (by target index); the shard's summary and the
/// file written.
pub(super) fn write_summary(
    ctx: &Ctx,
    shard: Shard,
    config_path: &Path,
    rows: Vec<(usize, SummaryRow)>,
) -> Result<(Summary, PathBuf), ReportError> {
    let config = std::fs::read_to_string(config_path).map_err(|e| {
        ReportError::Config(super::config::ConfigError {
            path: config_path.display().to_string(),
            message: e.to_string(),
        })
    })?;
    let file = ShardFile {
        format: FORMAT,
        shard: shard.index,
        shards: shard.count,
        today: ctx.plan.today,
        config,
        rows: rows
            .iter()
            .map(|(index, row)| ShardRow {
                index: *index,
                row: RowData::from_row(row),
            })
            .collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&file).expect("shard summary serialises");
    bytes.push(b'\n');
    let path = ctx.job.out_dir.join(SUMMARY);
    write_if_changed(&path, &bytes)?;
    // Every file's data was synced before its rename; this puts the names on disk.
    crate::output::sync_dir(&ctx.job.out_dir)?;
    let summary = ctx.summary(rows.into_iter().map(|(_, r)| r).collect());
    Ok((summary, path))
}

/// `report merge`: which shard directories, and where the whole report goes.
#[derive(Debug, Clone)]
pub struct MergeJob {
    /// The shard directories, each written by `report --shard`.
    pub dirs: Vec<PathBuf>,
    /// Where the merged report is written.
    pub out_dir: PathBuf,
    /// No notes (the closing one included).
    pub quiet: bool,
    /// Where the closing note goes (silent by default).
    pub notes: crate::notes::Sink,
}

/// Puts shards together: every target's files and row, the pools drawn from their members'
/// CSVs, and the summary files, as one unsharded run writes them.
pub fn merge(job: &MergeJob) -> Result<ReportOutcome, ReportError> {
    let shards = read_shards(&job.dirs)?;
    let (first_dir, first) = check_shards_agree(&shards)?;
    let origin = first_dir.join(SUMMARY);
    let config = Config::parse(&first.config)
        .map_err(|m| ReportError::Merge(format!("{}: its config: {m}", origin.display())))?;
    let plan = Plan::new(&config, Some(first.today), &origin)?;
    std::fs::create_dir_all(&job.out_dir).map_err(|source| ReportError::OutDir {
        path: job.out_dir.clone(),
        source,
    })?;
    let _claim = super::outdir::claim(&job.out_dir)?;
    let rows = target_rows(shards, &config)?;

    // Every target's files, and the members' traffic the pools need.
    let members: HashSet<usize> = config
        .pools
        .iter()
        .flat_map(|p| &p.targets)
        .filter_map(|name| config.targets.iter().position(|t| &t.name == name))
        .collect();
    let (written, kept) = copy_targets(&rows, &config, plan.method, &members, &job.out_dir)?;

    let stems = super::config_stems(&config);
    let mut report_job = ReportJob::new(origin, &job.out_dir);
    report_job.fetch.quiet = job.quiet;
    report_job.fetch.notes = job.notes.clone();
    let ctx = Ctx {
        stems,
        plan,
        job: report_job,
        semaphore: Arc::new(tokio::sync::Semaphore::new(1)),
        draw_pool: super::draw_pool(std::thread::available_parallelism().map_or(2, |n| n.get()))?,
        clients: crate::http::Clients::default(),
        pool_members: members,
        // Read after the copies: the pools' files of an earlier merge are compared.
        present: super::outdir::names(&job.out_dir),
        config,
    };
    let rows = rows.into_iter().map(|(r, _)| r).collect();
    let outcome = super::finish(&ctx, None, rows, kept, written, &|| {})?;
    if !job.quiet {
        job.notes.note(&format!(
            "trafficgraph: merged report of {} graphs ({} failed) in {}",
            outcome.summary.rows.len(),
            outcome.summary.failed(),
            job.out_dir.join("index.html").display()
        ));
    }
    Ok(outcome)
}

/// The shards' summaries by shard number, each with its directory: every `shard.json`
/// read, of this version, and no shard number given twice.
fn read_shards(dirs: &[PathBuf]) -> Result<BTreeMap<u32, (PathBuf, ShardFile)>, ReportError> {
    let fail = ReportError::Merge;
    let mut shards: BTreeMap<u32, (PathBuf, ShardFile)> = BTreeMap::new();
    for dir in dirs {
        let path = dir.join(SUMMARY);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            fail(format!(
                "cannot read {}: {e} (give the --out-dir of each `report --shard I/N` run)",
                path.display()
            ))
        })?;
        let file: ShardFile = serde_json::from_str(&text)
            .map_err(|e| fail(format!("{}: not a shard summary: {e}", path.display())))?;
        if file.format != FORMAT {
            return Err(fail(format!(
                "{}: shard summary version {}, this trafficgraph reads {FORMAT}",
                path.display(),
                file.format
            )));
        }
        if let Some((first, _)) = shards.get(&file.shard) {
            return Err(fail(format!(
                "{} and {} are both shard {}/{}",
                first.display(),
                dir.display(),
                file.shard,
                file.shards
            )));
        }
        shards.insert(file.shard, (dir.clone(), file));
    }
    Ok(shards)
}

/// The first shard, once every shard is checked to be of one report (same N, config and
/// day) and every shard number of N is there.
fn check_shards_agree(
    shards: &BTreeMap<u32, (PathBuf, ShardFile)>,
) -> Result<(&PathBuf, &ShardFile), ReportError> {
    let fail = ReportError::Merge;
    let Some((_, (first_dir, first))) = shards.iter().next() else {
        return Err(fail("no shard directories given".into()));
    };
    for (dir, f) in shards.values() {
        if f.shards != first.shards || f.config != first.config || f.today != first.today {
            return Err(fail(format!(
                "{} and {} are not shards of one report (their N, config or day differ: \
                 run every shard with the same config, --now and N)",
                first_dir.display(),
                dir.display()
            )));
        }
    }
    let missing: Vec<String> = (0..first.shards)
        .filter(|i| !shards.contains_key(i))
        .map(|i| format!("{i}/{}", first.shards))
        .collect();
    if !missing.is_empty() {
        return Err(fail(format!(
            "shard {} missing: give every shard's directory",
            missing.join(", ")
        )));
    }
    Ok((first_dir, first))
}

/// Every target's row in the config's order, with the shard directory holding its files:
/// each target in exactly one shard.
fn target_rows(
    shards: BTreeMap<u32, (PathBuf, ShardFile)>,
    config: &Config,
) -> Result<Vec<(SummaryRow, PathBuf)>, ReportError> {
    let fail = ReportError::Merge;
    let n = config.targets.len();
    let mut rows: Vec<Option<(SummaryRow, PathBuf)>> = (0..n).map(|_| None).collect();
    for (dir, file) in shards.into_values() {
        for r in file.rows {
            let slot = rows.get_mut(r.index).ok_or_else(|| {
                fail(format!(
                    "{}: row {} is not a target of its config",
                    dir.join(SUMMARY).display(),
                    r.index
                ))
            })?;
            if slot.is_some() {
                return Err(fail(format!(
                    "target '{}' is in two shards",
                    config.targets[r.index].name
                )));
            }
            let row = r
                .row
                .into_row()
                .map_err(|m| fail(format!("{}: {m}", dir.join(SUMMARY).display())))?;
            *slot = Some((row, dir.clone()));
        }
    }
    if let Some(i) = rows.iter().position(Option::is_none) {
        return Err(fail(format!(
            "target '{}' is in no shard's summary (did its shard finish?)",
            config.targets[i].name
        )));
    }
    Ok(rows.into_iter().flatten().collect())
}

/// Copies every target's files into `out_dir` (synced a batch at a time,
/// [`crate::output::Batch`]) and reads back the traffic of the pools' members (by target
/// index; `method` is a Hostway target's); the files written and the members' traffic.
fn copy_targets(
    rows: &[(SummaryRow, PathBuf)],
    config: &Config,
    method: Method,
    members: &HashSet<usize>,
    out_dir: &Path,
) -> Result<(Vec<PathBuf>, HashMap<usize, Traffic>), ReportError> {
    let mut written = Vec::new();
    let mut kept: HashMap<usize, Traffic> = HashMap::new();
    let batch = crate::output::Batch::new(out_dir);
    for (i, (row, dir)) in rows.iter().enumerate() {
        written.extend(copy_row_files(row, dir, out_dir, &batch)?);
        if let (true, Some(csv), None) = (members.contains(&i), &row.csv, &row.error) {
            let method = match config.targets[i].source {
                SourceName::Hostway => method,
                _ => Method::Sum,
            };
            kept.insert(i, read_member_csv(&dir.join(csv), method)?);
        }
    }
    batch.commit(batch.rest())?;
    Ok((written, kept))
}

/// Copies a row's PNG and CSV from its shard's directory into `out_dir` (unless that is
/// where they are); the paths in `out_dir`.
fn copy_row_files(
    row: &SummaryRow,
    dir: &Path,
    out_dir: &Path,
    batch: &crate::output::Batch,
) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    for name in [&row.png, &row.csv].into_iter().flatten() {
        let (from, to) = (dir.join(name), out_dir.join(name));
        if from != to {
            let bytes = std::fs::read(&from)
                .map_err(|e| ReportError::Merge(format!("cannot read {}: {e}", from.display())))?;
            batch.write_if_changed(&to, &bytes)?;
        }
        written.push(to);
    }
    Ok(written)
}

/// A pool member's traffic read back from its CSV, each series' origin set to its step
/// and the target's `method`.
fn read_member_csv(path: &Path, method: Method) -> Result<Traffic, ReportError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ReportError::Merge(format!("cannot read {}: {e}", path.display())))?;
    let mut traffic = crate::source::file::parse_export_csv(&text)
        .map_err(|e| ReportError::Merge(format!("{}: {e}", path.display())))?;
    for s in &mut traffic.series {
        let step = s.step_seconds();
        s.origin = Origin {
            period: Period::from_seconds(step),
            method: Some(method),
            target: None,
        };
    }
    Ok(traffic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_flags_are_checked() {
        assert_eq!(parse_shard("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "-1/4", "1", "a/b", "1/4/5"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
        assert!(parse_shard("4/4")
            .unwrap_err()
            .to_string()
            .contains("0 to 3"));
    }

    #[test]
    fn every_target_falls_in_exactly_one_shard_and_stays_there() {
        // Pinned (computed independently): a target's shard must not change between
        // versions or machines, or a re-run of one shard would draw other targets.
        let pinned = [("web-00", 0, 2), ("web-01", 3, 5), ("server-0000", 1, 0)];
        for (name, of4, of7) in pinned {
            assert_eq!((shard_of(name, 4), shard_of(name, 7)), (of4, of7), "{name}");
        }
        let names: Vec<String> = (0..1000).map(|i| format!("server-{i:04}")).collect();
        let mut per = [0usize; 8];
        for name in &names {
            let owners: Vec<u32> = (0..8)
                .filter(|&i| Shard { index: i, count: 8 }.owns(name))
                .collect();
            assert_eq!(owners.len(), 1, "{name}");
            per[owners[0] as usize] += 1;
        }
        // FNV-1a spreads names with common prefixes: each eighth within 30% of 125.
        assert!(per.iter().all(|&n| (88..=162).contains(&n)), "{per:?}");
    }
}
