//! The on-disk cache of fetched chunks, so a second run of the same fetch needs no network
//! and a run that failed half-way resumes where it stopped.
//!
//! One JSON file per request, at a path that reads like the request:
//! `ROOT/hostway/HOST[:PORT][/PATH]/ACCOUNT/SERVER/IP/SCOPE-PERIOD-METHOD-ACCEPT/START_END.json`
//! for Hostway, `ROOT/PROVIDER/HOST[:PORT][/PATH]/PART.../step-SECONDS/START_END.json` for
//! the other raw providers (each part percent-encoded to be a safe file name). The file repeats the request and
//! holds the server's answer, including the refusals (over limit, minimum date) so that a
//! re-run splits and clamps without asking again. Files are written to a temporary file and
//! renamed, so an interrupted run never leaves half an entry. Credentials are not part of
//! the key and are never written. Only chunks wholly in the past are read back (the caller
//! decides); an unreadable or mismatched entry is a miss.
//!
//! Only answers that passed [`crate::validate`] are stored, and each entry records the
//! version of the rules that passed it (`rules`; absent in entries written before the
//! rules existed). Every entry is checked again against its own request when read, so an
//! entry a newer, stricter rule refuses, or one changed on disk, is never used: it is
//! reported with how to refresh it ([`Lookup::Invalid`]). Empty answers are never stored,
//! and an entry from which `--lenient` dropped rows is used only by lenient runs.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Method, Period, Scope};
use crate::range::DateRange;
use crate::source::hostway::{Accept, Answer, Endpoint};
use crate::validate::{self, Expect, Row, RULES_VERSION};

/// Everything that identifies one request (the credential is deliberately not part of it).
/// Written without a tag, so Hostway entries keep the shape they always had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CacheKey {
    Hostway(HostwayKey),
    Raw(RawKey),
}

/// A request to a raw provider other than Hostway (SoftLayer, CloudWatch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawKey {
    /// `softlayer` or `cloudwatch`.
    pub provider: String,
    /// Host, port and path of the endpoint.
    pub base: String,
    /// What the request reads, outermost first (e.g. hardware id and network).
    pub parts: Vec<String>,
    /// Seconds between data sets.
    pub step: i64,
    pub start: chrono::NaiveDate,
    pub end: chrono::NaiveDate,
}

/// A Hostway request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostwayKey {
    /// Host, port and path of the base URL.
    pub base: String,
    pub account: String,
    pub server: String,
    pub ip: String,
    pub scope: Scope,
    pub period: Period,
    pub method: Method,
    pub start: chrono::NaiveDate,
    pub end: chrono::NaiveDate,
    pub accept: String,
}

/// `HOST[:PORT][/PATH]` of a URL: where a key says the answer came from.
pub fn url_base(base: &reqwest::Url) -> String {
    let mut host = base.host_str().unwrap_or("").to_string();
    if let Some(port) = base.port() {
        host.push_str(&format!(":{port}"));
    }
    format!("{host}{}", base.path().trim_end_matches('/'))
}

impl CacheKey {
    /// The key of a Hostway request.
    pub fn new(endpoint: &Endpoint, ip: &str, scope: Scope, range: DateRange) -> CacheKey {
        CacheKey::Hostway(HostwayKey {
            base: url_base(&endpoint.base),
            account: endpoint.account.clone(),
            server: endpoint.server.clone(),
            ip: ip.to_string(),
            scope,
            period: endpoint.period,
            method: endpoint.method,
            start: range.start,
            end: range.end,
            accept: endpoint.accept.mime().to_string(),
        })
    }

    /// The entry's path under `root`.
    pub fn path(&self, root: &Path) -> PathBuf {
        match self {
            CacheKey::Hostway(k) => k.path(root),
            CacheKey::Raw(k) => {
                let mut path = root.join(encode(&k.provider)).join(encode(&k.base));
                for part in &k.parts {
                    path.push(encode(part));
                }
                path.join(format!("step-{}", k.step))
                    .join(format!("{}_{}.json", k.start, k.end))
            }
        }
    }

    /// The range of days the request asked for.
    pub fn range(&self) -> Option<DateRange> {
        match self {
            CacheKey::Hostway(k) => DateRange::new(k.start, k.end),
            CacheKey::Raw(k) => DateRange::new(k.start, k.end),
        }
    }

    /// Seconds between the data sets the request asked for.
    pub fn step(&self) -> i64 {
        match self {
            CacheKey::Hostway(k) => k.period.seconds(),
            CacheKey::Raw(k) => k.step,
        }
    }
}

impl HostwayKey {
    fn path(&self, root: &Path) -> PathBuf {
        let accept = if self.accept == Accept::Csv.mime() {
            "csv"
        } else {
            "json"
        };
        root.join("hostway")
            .join(encode(&self.base))
            .join(encode(&self.account))
            .join(encode(&self.server))
            .join(encode(&self.ip))
            .join(format!(
                "{}-{}-{}-{accept}",
                self.scope, self.period, self.method
            ))
            .join(format!("{}_{}.json", self.start, self.end))
    }
}

/// Percent-encodes everything but ASCII letters, digits, `-`, `_`, `.` and `:` (and a
/// leading dot), so any id becomes exactly one safe path component.
fn encode(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for (i, b) in part.bytes().enumerate() {
        let safe =
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':') || (b == b'.' && i > 0);
        if safe {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

#[derive(Serialize, Deserialize)]
struct Entry {
    /// The [`RULES_VERSION`] that validated the answer; 0 for entries written before.
    #[serde(default)]
    rules: u32,
    request: CacheKey,
    fetched_at: DateTime<Utc>,
    answer: Answer,
}

/// What the cache holds for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// A checked answer to exactly this request.
    Hit(Answer),
    /// Nothing usable: no entry, another request's entry, an empty answer, or one that
    /// leniency thinned for a strict run.
    Miss,
    /// An entry for this request that fails a check now: why.
    Invalid(String),
}

/// Checks an entry's answer against its own request, strictly; the reason when it fails.
fn verify(entry: &Entry) -> Result<(), String> {
    if entry.rules > RULES_VERSION {
        return Err(format!(
            "written under rules version {}, newer than this trafficgraph's {RULES_VERSION}",
            entry.rules
        ));
    }
    let range = entry
        .request
        .range()
        .ok_or_else(|| "its request ends before it starts".to_string())?;
    let expect = Expect {
        range,
        step: entry.request.step(),
        lenient: false,
    };
    for points in answer_points(&entry.answer) {
        let rows: Vec<Row> = points.iter().copied().map(Row::from).collect();
        validate::check(&rows, Some(&expect)).map_err(|v| v.to_string())?;
    }
    Ok(())
}

/// The points of each scope an answer holds (none for a refusal).
fn answer_points(answer: &Answer) -> Vec<&[crate::model::Point]> {
    match answer {
        Answer::Data { points, .. } => vec![points],
        Answer::Scoped { series, .. } => series.iter().map(|s| &s.points[..]).collect(),
        Answer::OverLimit | Answer::MinDate { .. } => Vec::new(),
    }
}

/// An answer with data sets for none of its scopes.
fn is_empty(answer: &Answer) -> bool {
    matches!(answer, Answer::Data { .. } | Answer::Scoped { .. })
        && answer_points(answer).iter().all(|p| p.is_empty())
}

/// Why an entry could not be stored.
#[derive(Debug, thiserror::Error)]
#[error("cannot write cache entry {path}: {source}")]
pub struct CacheError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// A cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn new(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// The default directory: the platform cache directory + `trafficgraph`.
    pub fn default_dir() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join("trafficgraph"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The stored answer to exactly this request, checked again against it. `lenient`
    /// runs may use entries from which `--lenient` dropped rows; strict runs ask again.
    pub fn get(&self, key: &CacheKey, lenient: bool) -> Lookup {
        let Ok(text) = std::fs::read_to_string(key.path(&self.root)) else {
            return Lookup::Miss;
        };
        let entry: Entry = match serde_json::from_str(&text) {
            Ok(e) => e,
            Err(e) => return Lookup::Invalid(format!("not a cache entry: {e}")),
        };
        if entry.request != *key {
            return Lookup::Miss;
        }
        if let Err(reason) = verify(&entry) {
            return Lookup::Invalid(reason);
        }
        match &entry.answer {
            a if is_empty(a) => Lookup::Miss,
            Answer::Data { dropped, .. } | Answer::Scoped { dropped, .. }
                if *dropped > 0 && !lenient =>
            {
                Lookup::Miss
            }
            _ => Lookup::Hit(entry.answer),
        }
    }

    /// Checks every entry under the root against its own request: each entry's path and
    /// why it fails, if it does. Files that are not entries (e.g. a stray temporary file)
    /// are skipped.
    pub fn verify_all(&self) -> std::io::Result<Vec<(PathBuf, Result<(), String>)>> {
        let mut out = Vec::new();
        let mut dirs: Vec<PathBuf> = ["hostway", "softlayer", "cloudwatch"]
            .iter()
            .map(|p| self.root.join(p))
            .collect();
        while let Some(dir) = dirs.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for item in entries {
                let item = item?;
                let path = item.path();
                if item.file_type()?.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let name = item.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') || !name.ends_with(".json") {
                    continue;
                }
                let verdict = std::fs::read_to_string(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|text| {
                        serde_json::from_str::<Entry>(&text)
                            .map_err(|e| format!("not a cache entry: {e}"))
                    })
                    .and_then(|entry| {
                        if entry.request.path(&self.root) != path {
                            return Err("its request does not match its place".to_string());
                        }
                        verify(&entry)
                    });
                out.push((path, verdict));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Stores a checked answer atomically (temporary file + rename). Empty answers are not
    /// stored: a later run asks again.
    pub fn put(&self, key: &CacheKey, answer: &Answer) -> Result<(), CacheError> {
        if is_empty(answer) {
            return Ok(());
        }
        let path = key.path(&self.root);
        let entry = Entry {
            rules: RULES_VERSION,
            request: key.clone(),
            fetched_at: Utc::now(),
            answer: answer.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&entry).expect("cache entry serialises");
        write_atomic(&path, &bytes).map_err(|source| CacheError { path, source })
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".entry.")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Point;
    use crate::source::hostway::parse_base_url;

    fn key(ip: &str) -> CacheKey {
        let endpoint = Endpoint {
            base: parse_base_url("http://127.0.0.1:8080/api/").unwrap(),
            account: "acme".into(),
            server: "../srv".into(),
            period: Period::Hourly,
            method: Method::Avg,
            accept: Accept::Json,
        };
        let range = DateRange::new(
            crate::range::parse_date("2015-01-01").unwrap(),
            crate::range::parse_date("2015-01-20").unwrap(),
        )
        .unwrap();
        CacheKey::new(&endpoint, ip, Scope::Receive, range)
    }

    #[test]
    fn paths_read_like_the_request_and_stay_inside_the_root() {
        let p = key("2001:db8::1").path(Path::new("/c"));
        assert_eq!(
            p,
            Path::new(
                "/c/hostway/127.0.0.1:8080%2Fapi/acme/%2E.%2Fsrv/2001:db8::1/\
                 receive-hourly-avg-json/2015-01-01_2015-01-20.json"
            )
        );
    }

    #[test]
    fn round_trip_exactly_and_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let k = key("10.0.0.1");
        assert_eq!(cache.get(&k, false), Lookup::Miss);
        let answer = Answer::Data {
            points: vec![Point {
                time: crate::source::file::parse_time("2015-01-01 01:00:00").unwrap(),
                value: 0.1 + 0.2,
                count: Some(6),
            }],
            dropped: 0,
        };
        cache.put(&k, &answer).unwrap();
        assert_eq!(cache.get(&k, false), Lookup::Hit(answer));
        assert_eq!(cache.get(&key("10.0.0.2"), false), Lookup::Miss);
        let leaf = k.path(dir.path());
        let siblings: Vec<_> = std::fs::read_dir(leaf.parent().unwrap()).unwrap().collect();
        assert_eq!(siblings.len(), 1, "no temporary file left behind");
    }
}

#[cfg(test)]
mod checks {
    use super::*;

    /// An entry as an earlier trafficgraph wrote it (no `rules`), with `points` spliced in.
    fn old_entry(points: &str) -> String {
        format!(
            r#"{{"request": {{"base": "h", "account": "a", "server": "s", "ip": "10.0.0.1",
            "scope": "receive", "period": "hourly", "method": "avg", "start": "2015-01-01",
            "end": "2015-01-01", "accept": "application/json"}},
            "fetched_at": "2015-01-02T00:00:00Z", "answer": {{"data": {{"points": [{points}]}}}}}}"#
        )
    }

    fn key_of(text: &str) -> CacheKey {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        serde_json::from_value(v["request"].clone()).unwrap()
    }

    #[test]
    fn old_entries_are_used_when_they_pass_and_refused_when_they_fail() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let good = old_entry(r#"{"time": "2015-01-01T03:00:00Z", "value": 5.0, "count": 6}"#);
        let k = key_of(&good);
        write_atomic(&k.path(dir.path()), good.as_bytes()).unwrap();
        assert!(matches!(cache.get(&k, false), Lookup::Hit(_)));
        let bad = old_entry(r#"{"time": "1999-01-01T03:00:00Z", "value": 5.0, "count": 6}"#);
        write_atomic(&k.path(dir.path()), bad.as_bytes()).unwrap();
        match cache.get(&k, false) {
            Lookup::Invalid(reason) => assert!(reason.contains("outside"), "{reason}"),
            other => panic!("{other:?}"),
        }
        let all = cache.verify_all().unwrap();
        assert_eq!(all.len(), 1);
        assert!(all[0].1.is_err());
        let empty = old_entry("");
        write_atomic(&k.path(dir.path()), empty.as_bytes()).unwrap();
        assert_eq!(
            cache.get(&k, false),
            Lookup::Miss,
            "an empty answer is asked again"
        );
    }

    #[test]
    fn thinned_entries_serve_lenient_runs_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let k = key_of(&old_entry(""));
        let answer = Answer::Data {
            points: vec![crate::model::Point {
                time: crate::source::file::parse_time("2015-01-01 01:00:00").unwrap(),
                value: 1.0,
                count: None,
            }],
            dropped: 2,
        };
        cache.put(&k, &answer).unwrap();
        assert_eq!(cache.get(&k, false), Lookup::Miss);
        assert_eq!(cache.get(&k, true), Lookup::Hit(answer));
    }
}
