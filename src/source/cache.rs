//! The on-disk cache of fetched chunks, so a second run of the same fetch needs no network
//! and a run that failed half-way resumes where it stopped.
//!
//! One JSON file per request, at a path that reads like the request:
//! `ROOT/hostway/HOST[:PORT][/PATH]/ACCOUNT/SERVER/IP/SCOPE-PERIOD-METHOD-ACCEPT/START_END.json`
//! (each part percent-encoded to be a safe file name). The file repeats the request and
//! holds the server's answer, including the refusals (over limit, minimum date) so that a
//! re-run splits and clamps without asking again. Files are written to a temporary file and
//! renamed, so an interrupted run never leaves half an entry. Credentials are not part of
//! the key and are never written. Only chunks wholly in the past are read back (the caller
//! decides); an unreadable or mismatched entry is a miss.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Method, Period, Scope};
use crate::range::DateRange;
use crate::source::hostway::{Accept, Answer, Endpoint};

/// Everything that identifies one request (the credential is deliberately not part of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheKey {
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

impl CacheKey {
    pub fn new(endpoint: &Endpoint, ip: &str, scope: Scope, range: DateRange) -> CacheKey {
        let base = &endpoint.base;
        let mut host = base.host_str().unwrap_or("").to_string();
        if let Some(port) = base.port() {
            host.push_str(&format!(":{port}"));
        }
        let path = base.path().trim_end_matches('/');
        CacheKey {
            base: format!("{host}{path}"),
            account: endpoint.account.clone(),
            server: endpoint.server.clone(),
            ip: ip.to_string(),
            scope,
            period: endpoint.period,
            method: endpoint.method,
            start: range.start,
            end: range.end,
            accept: endpoint.accept.mime().to_string(),
        }
    }

    /// The entry's path under `root`.
    pub fn path(&self, root: &Path) -> PathBuf {
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
    request: CacheKey,
    fetched_at: DateTime<Utc>,
    answer: Answer,
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

    /// The stored answer to exactly this request, if any.
    pub fn get(&self, key: &CacheKey) -> Option<Answer> {
        let text = std::fs::read_to_string(key.path(&self.root)).ok()?;
        let entry: Entry = serde_json::from_str(&text).ok()?;
        (entry.request == *key).then_some(entry.answer)
    }

    /// Stores an answer atomically (temporary file + rename).
    pub fn put(&self, key: &CacheKey, answer: &Answer) -> Result<(), CacheError> {
        let path = key.path(&self.root);
        let entry = Entry {
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
        assert_eq!(cache.get(&k), None);
        let answer = Answer::Data {
            points: vec![Point {
                time: crate::source::file::parse_time("2015-01-01 01:00:00").unwrap(),
                value: 0.1 + 0.2,
                count: Some(6),
            }],
        };
        cache.put(&k, &answer).unwrap();
        assert_eq!(cache.get(&k), Some(answer));
        assert_eq!(cache.get(&key("10.0.0.2")), None);
        let leaf = k.path(dir.path());
        let siblings: Vec<_> = std::fs::read_dir(leaf.parent().unwrap()).unwrap().collect();
        assert_eq!(siblings.len(), 1, "no temporary file left behind");
    }
}
