//! A report owns its output directory: a run refuses a directory holding anything but a
//! previous report (or files this very run would write), and leaves behind exactly the
//! files its summary lists, so a summary never sits beside graphs it does not describe.
//!
//! What counts as a report file of ours, and is the only thing ever removed:
//! - a `<stem>.png` or `<stem>.csv` that the previous `summary.json` (ours: it parses as
//!   one) lists, or that this run's config would write;
//! - temporaries a killed run left ([`crate::output::remove_stale_temporaries`]).
//!
//! Anything else in a previous report's directory (someone's `notes.txt`) is left alone.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::summary::Summary;
use super::ReportError;

/// What is known of the output directory before a run writes anything.
#[derive(Debug, Default)]
pub struct OutDir {
    /// Graph and CSV file names that are ours: listed by the previous summary or
    /// written by this run's config.
    owned: BTreeSet<String>,
    /// Every name in the directory when the run began: a file of this run's that is not
    /// among them is new, and there is nothing on disk to compare it with.
    pub present: HashSet<String>,
    /// This run's claim on the directory ([`claim`]), held until the run ends.
    pub claim: Option<std::fs::File>,
}

/// The parts of a previous `summary.json` needed to know which files it listed; every
/// field must be there for the file to count as ours.
#[derive(Deserialize)]
struct PreviousSummary {
    #[allow(dead_code)]
    range: serde_json::Value,
    #[allow(dead_code)]
    unit: String,
    #[allow(dead_code)]
    percentile_p: f64,
    rows: Vec<PreviousRow>,
}

#[derive(Deserialize)]
struct PreviousRow {
    #[allow(dead_code)]
    name: String,
    #[allow(dead_code)]
    status: String,
    png: Option<String>,
    csv: Option<String>,
}

/// True for a name a report gives a graph or CSV: a stem from
/// [`super::summary::file_stems`] (`[A-Za-z0-9_-]`, no dot) and `.png` or `.csv`. A name
/// from an edited summary.json that is anything else (`../x.png`, `notes.txt`) is not ours.
fn is_report_file_name(name: &str) -> bool {
    let Some(stem) = name
        .strip_suffix(".png")
        .or_else(|| name.strip_suffix(".csv"))
    else {
        return false;
    };
    !stem.is_empty()
        && stem.len() <= 80
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks `dir` before any request: missing, empty, a previous report's (its
/// `summary.json` is ours), or holding only files this run writes (a first run that was
/// killed). Anything else is refused, naming a file that is not ours.
pub fn check(dir: &Path, stems: &[String]) -> Result<OutDir, ReportError> {
    let mut owned: BTreeSet<String> = stems
        .iter()
        .flat_map(|s| [format!("{s}.png"), format!("{s}.csv")])
        .collect();
    let mut names = match list(dir) {
        Ok(names) => names,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(OutDir {
                owned,
                present: HashSet::new(),
                claim: None,
            })
        }
        Err(source) => {
            return Err(ReportError::OutDir {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    names.sort();
    let present: HashSet<String> = names.iter().cloned().collect();
    if super::shard::is_shard_dir(dir) {
        // A shard's own directory, run again: its graphs and CSVs are ours.
        owned.insert(super::shard::SUMMARY.to_string());
        owned.extend(names.iter().filter(|n| is_report_file_name(n)).cloned());
        return Ok(OutDir {
            owned,
            present,
            claim: None,
        });
    }
    if let Some(previous) = previous_summary(&dir.join("summary.json")) {
        owned.extend(
            previous
                .rows
                .into_iter()
                .flat_map(|r| [r.png, r.csv])
                .flatten()
                .filter(|n| is_report_file_name(n)),
        );
        return Ok(OutDir {
            owned,
            present,
            claim: None,
        });
    }
    let foreign: Vec<&String> = names
        .iter()
        .filter(|n| {
            // A summary file here without our summary.json is someone else's (a site's
            // index.html): it would be overwritten, so it is not ours to take.
            !owned.contains(*n) && !crate::output::is_our_temporary(n, None)
        })
        .collect();
    match foreign.first() {
        None => Ok(OutDir {
            owned,
            present,
            claim: None,
        }),
        Some(first) => Err(ReportError::NotOurs {
            path: dir.to_path_buf(),
            example: match foreign.len() {
                1 => (*first).clone(),
                n => format!("{first} and {} more", n - 1),
            },
        }),
    }
}

/// Claims `dir` for this run, so that a second report or merge into it at the same time
/// is refused: each run removes the temporaries it finds when it starts, and would
/// remove the first one's batch before its commit, and the two would overwrite each
/// other's files. The claim is an advisory lock (`flock`) on the directory itself: no file
/// is added, and it is let go when the process ends, however it ends. Where a directory
/// cannot be locked (some network file systems; not Unix) there is no claim.
pub fn claim(dir: &Path) -> Result<Option<std::fs::File>, ReportError> {
    if !cfg!(unix) {
        return Ok(None);
    }
    let Ok(file) = std::fs::File::open(dir) else {
        return Ok(None);
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(ReportError::Busy {
            path: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(_)) => Ok(None),
    }
}

/// The names in `dir` now (none when it cannot be read).
pub fn names(dir: &Path) -> HashSet<String> {
    list(dir).unwrap_or_default().into_iter().collect()
}

/// The names in `dir`, in the order the file system gives them.
fn list(dir: &Path) -> std::io::Result<Vec<String>> {
    std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect()
}

/// The previous `summary.json` when it is a report's, else `None`.
fn previous_summary(path: &Path) -> Option<PreviousSummary> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl OutDir {
    /// Removes the graphs and CSVs of ours that `summary` does not list (a target dropped
    /// from the config, one that failed this time, a provider graph that has no CSV).
    /// Call before the new summary files replace the old: until they do, the old
    /// `summary.json` still names whatever a killed run had not yet removed.
    pub fn remove_unlisted(
        &self,
        dir: &Path,
        summary: &Summary,
    ) -> Result<Vec<PathBuf>, ReportError> {
        let listed: BTreeSet<&str> = summary
            .rows
            .iter()
            .flat_map(|r| [r.png.as_deref(), r.csv.as_deref()])
            .flatten()
            .collect();
        let mut removed = Vec::new();
        for name in self.owned.iter().filter(|n| !listed.contains(n.as_str())) {
            let path = dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(ReportError::Unlisted { path, source }),
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stems_with_png_or_csv_are_report_files() {
        for ok in ["web-01.png", "db__primary.csv", "WEB_01-3.png"] {
            assert!(is_report_file_name(ok), "{ok}");
        }
        for not in [
            "../web.png",
            "notes.txt",
            ".png",
            "a/b.csv",
            ".hidden.png",
            "summary.json",
            "x.png.tmp",
            "a b.png",
        ] {
            assert!(!is_report_file_name(not), "{not}");
        }
    }

    #[test]
    fn a_foreign_directory_is_refused_naming_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("web.png"), b"x").unwrap();
        assert!(
            check(dir.path(), &["web".into()]).is_ok(),
            "a killed first run"
        );
        std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        std::fs::write(dir.path().join("z.txt"), b"mine").unwrap();
        let e = check(dir.path(), &["web".into()]).unwrap_err().to_string();
        assert!(e.contains("(e.g. notes.txt and 1 more)"), "{e}");
        // Not ours: a summary.json of something else, alone.
        std::fs::remove_file(dir.path().join("notes.txt")).unwrap();
        std::fs::remove_file(dir.path().join("z.txt")).unwrap();
        std::fs::write(dir.path().join("summary.json"), b"{\"rows\": []}").unwrap();
        let e = check(dir.path(), &["web".into()]).unwrap_err().to_string();
        assert!(e.contains("(e.g. summary.json)"), "{e}");
    }
}
