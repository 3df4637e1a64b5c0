//! The on-disk cache of fetched chunks, so a second run of the same fetch needs no network
//! and a run that failed half-way resumes where it stopped.
//!
//! One file per request, at a path that reads like the request:
//! `ROOT/hostway/HOST[:PORT][/PATH]/ACCOUNT/SERVER/IP/SCOPE-PERIOD-METHOD-ACCEPT/START_END.tgc`
//! for Hostway, `ROOT/PROVIDER/HOST[:PORT][/PATH]/PART.../step-SECONDS/START_END.tgc` for
//! the other raw providers (each part percent-encoded to be a safe file name). The file repeats the request and
//! holds the server's answer, including the refusals (over limit, minimum date) so that a
//! re-run splits and clamps without asking again. Files are written to a temporary file and
//! renamed, so an interrupted run never leaves half an entry, and several processes may
//! share one directory (a reader sees a whole old entry or a whole new one). Credentials
//! are not part of the key and are never written. Only chunks wholly in the past are read
//! back (the caller decides); a missing or mismatched entry is a miss.
//!
//! # The compact format (`.tgc`, version 2)
//!
//! About 10 bytes a sample (123 as the pretty-printed JSON before), read without parsing
//! text. All integers are unsigned LEB128 varints; signed ones are zigzag-encoded first.
//!
//! ```text
//! "TGCE"  u8 version (1)  varint header length  header (compact JSON):
//!     {"rules": N, "request": {...the key...}, "fetched_at": "...",
//!      "answer": {"data": {"dropped": 0}} | {"scoped": {"scopes": [...], "dropped": 0}}
//!                | "over_limit" | {"min_date": {"min": "YYYY-MM-DD"}}}
//! then per series (one for "data", one per scope for "scoped", none for refusals):
//!     varint n                         points
//!     if n > 0:
//!       zigzag varint  first time      Unix seconds
//!       varint         unit            seconds; every later time step is a multiple
//!       n-1 x zigzag varint            (time[i] - time[i-1]) / unit
//!       n x f64 little-endian          values, bit for bit
//!       n x varint                     count + 1, 0 for no count
//! u32 little-endian                    CRC-32 (ISO-HDLC, as zlib and PNG) of every byte
//!                                      before it
//! ```
//!
//! Version 1 was the same but for the checksum, a u64 FNV-1a 64: its entries are read as
//! they are. CRC-32 is read at memory speed (crc32fast folds 64 bytes at a time with
//! carry-less multiplies); FNV-1a's one multiply per byte was a tenth of reading an entry.
//!
//! An hourly sample is 8 bytes of value, 1 of time step and 1 of count. A reader refuses a
//! file with another magic, a newer version, a bad checksum, or bytes left over. Answers
//! whose times are not whole seconds (none of today's providers) are kept as JSON.
//!
//! Entries written by earlier versions as pretty-printed JSON (`START_END.json`, the same
//! fields with the points inline) are still read, when no `.tgc` entry exists for the
//! request, and checked the same way; the next time the request is fetched (e.g.
//! `--refresh`) the compact entry replaces the JSON one. `trafficgraph cache list` shows what
//! is held, `cache prune` removes entries by age of their data or by server, and `cache
//! verify` checks every entry of both kinds.
//!
//! Only answers that passed [`crate::validate`] are stored, and each entry records the
//! version of the rules that passed it (`rules`; absent in entries written before the
//! rules existed). Every entry is checked again against its own request when read, so an
//! entry a newer, stricter rule refuses, or one changed on disk, is never used: it is
//! reported with how to refresh it (`Lookup::Invalid`). Empty answers are never stored,
//! and an entry from which `--lenient` dropped rows is used only by lenient runs.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Method, Period, Point, Scope};
use crate::range::DateRange;
use crate::source::hostway::{Accept, Answer, Endpoint, ScopedPoints};
use crate::validate::{self, Expect, RULES_VERSION};

/// Everything that identifies one request (the credential is deliberately not part of it).
/// Written without a tag, so Hostway entries keep the shape they always had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum CacheKey {
    Hostway(HostwayKey),
    Raw(RawKey),
}

/// A request to a raw provider other than Hostway (SoftLayer, CloudWatch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RawKey {
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
pub(crate) struct HostwayKey {
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
                    .join(format!("{}_{}.{EXT}", k.start, k.end))
            }
        }
    }

    /// Where earlier versions kept this request's entry, as JSON.
    pub fn legacy_path(&self, root: &Path) -> PathBuf {
        self.path(root).with_extension("json")
    }

    /// What the request reads, without its days: the `cache list` line it falls under.
    pub fn label(&self) -> String {
        match self {
            CacheKey::Hostway(k) => format!(
                "hostway {} account {} server {} ip {} {}-{}-{}",
                k.base, k.account, k.server, k.ip, k.scope, k.period, k.method
            ),
            CacheKey::Raw(k) => format!(
                "{} {} {} step {} s",
                k.provider,
                k.base,
                k.parts.join(" "),
                k.step
            ),
        }
    }

    /// Whether the request reads `server`: the Hostway server id or account, or one of a
    /// raw provider's parts (hardware or instance id).
    pub fn names(&self, server: &str) -> bool {
        match self {
            CacheKey::Hostway(k) => k.server == server || k.account == server,
            CacheKey::Raw(k) => k.parts.iter().any(|p| p == server),
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
            .join(format!("{}_{}.{EXT}", self.start, self.end))
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

/// The extension of compact entries.
const EXT: &str = "tgc";
/// The first bytes of a compact entry.
const MAGIC: &[u8; 4] = b"TGCE";
/// The compact format's version (written; [`FNV_FORMAT`] is read too).
const FORMAT: u8 = 2;
/// The first compact format, with an FNV-1a 64 checksum.
const FNV_FORMAT: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Entry {
    /// The [`RULES_VERSION`] that validated the answer; 0 for entries written before.
    #[serde(default)]
    rules: u32,
    request: CacheKey,
    fetched_at: DateTime<Utc>,
    answer: Answer,
}

/// A compact entry's header: the entry without its points.
#[derive(Serialize, Deserialize)]
struct Header {
    rules: u32,
    request: CacheKey,
    fetched_at: DateTime<Utc>,
    answer: Shape,
}

/// What kind of answer a compact entry holds, and how many series follow.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Shape {
    Data {
        #[serde(default)]
        dropped: usize,
    },
    Scoped {
        scopes: Vec<crate::model::Scope>,
        #[serde(default)]
        dropped: usize,
    },
    OverLimit,
    MinDate {
        min: chrono::NaiveDate,
    },
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The entry in the compact format; `None` when a time is not a whole second (such an
/// entry is kept as JSON).
fn encode_entry(entry: &Entry) -> Option<Vec<u8>> {
    let (shape, series): (Shape, Vec<&[Point]>) = match &entry.answer {
        Answer::Data { points, dropped } => (Shape::Data { dropped: *dropped }, vec![points]),
        Answer::Scoped { series, dropped } => (
            Shape::Scoped {
                scopes: series.iter().map(|s| s.scope).collect(),
                dropped: *dropped,
            },
            series.iter().map(|s| &s.points[..]).collect(),
        ),
        Answer::OverLimit => (Shape::OverLimit, Vec::new()),
        Answer::MinDate { min } => (Shape::MinDate { min: *min }, Vec::new()),
    };
    let header = serde_json::to_vec(&Header {
        rules: entry.rules,
        request: entry.request.clone(),
        fetched_at: entry.fetched_at,
        answer: shape,
    })
    .expect("cache header serialises");
    let n: usize = series.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(32 + header.len() + 11 * n);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    put_varint(&mut out, header.len() as u64);
    out.extend_from_slice(&header);
    for points in series {
        put_varint(&mut out, points.len() as u64);
        let Some(first) = points.first() else {
            continue;
        };
        if points.iter().any(|p| p.time.timestamp_subsec_nanos() != 0) {
            return None;
        }
        let mut unit = 0;
        for w in points.windows(2) {
            let step = w[1].time.timestamp().checked_sub(w[0].time.timestamp())?;
            unit = gcd(unit, step.unsigned_abs());
        }
        let unit = unit.max(1) as i64;
        put_varint(&mut out, zigzag(first.time.timestamp()));
        put_varint(&mut out, unit as u64);
        for w in points.windows(2) {
            put_varint(
                &mut out,
                zigzag((w[1].time.timestamp() - w[0].time.timestamp()) / unit),
            );
        }
        for p in points {
            out.extend_from_slice(&p.value.to_le_bytes());
        }
        for p in points {
            put_varint(&mut out, p.count.map_or(Some(0), |c| c.checked_add(1))?);
        }
    }
    let sum = crc32fast::hash(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    Some(out)
}

/// Reads a compact entry's bytes in order.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EntryError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(EntryError::Truncated)?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64, EntryError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(EntryError::BadNumber)
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }
}

/// A compact entry from its bytes; why not, in one line.
fn decode_entry(bytes: &[u8]) -> Result<Entry, EntryError> {
    if bytes.len() < MAGIC.len() + 1 + 8 || &bytes[..4] != MAGIC {
        return Err(EntryError::NoHeader);
    }
    let (body, good) = match bytes[4] {
        FORMAT => {
            let (body, sum) = bytes.split_at(bytes.len() - 4);
            (body, crc32fast::hash(body).to_le_bytes() == sum)
        }
        FNV_FORMAT => {
            let (body, sum) = bytes.split_at(bytes.len() - 8);
            (body, crate::hash::fnv1a64(body).to_le_bytes() == sum)
        }
        other => return Err(EntryError::Format(other)),
    };
    if !good {
        return Err(EntryError::Checksum);
    }
    let mut r = Reader {
        bytes: body,
        pos: 5,
    };
    let len = r.varint()? as usize;
    let header: Header = serde_json::from_slice(r.take(len)?).map_err(not_an_entry)?;
    let read_points = |r: &mut Reader| -> Result<Vec<Point>, EntryError> {
        let n = r.varint()? as usize;
        // Every point takes at least 9 bytes (its value and count).
        if n > r.left() / 9 {
            return Err(EntryError::Truncated);
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut times = Vec::with_capacity(n);
        let mut t = unzigzag(r.varint()?);
        let unit = r.varint()? as i64;
        times.push(t);
        for _ in 1..n {
            t = unzigzag(r.varint()?)
                .checked_mul(unit)
                .and_then(|d| t.checked_add(d))
                .ok_or(EntryError::BadTime)?;
            times.push(t);
        }
        let values = r.take(8 * n)?;
        let mut points = Vec::with_capacity(n);
        let mut days = Days::default();
        for (i, &secs) in times.iter().enumerate() {
            let value = f64::from_le_bytes(values[8 * i..8 * i + 8].try_into().expect("8"));
            let count = match r.varint()? {
                0 => None,
                c => Some(c - 1),
            };
            let time = days.time(secs).ok_or(EntryError::BadTime)?;
            points.push(Point { time, value, count });
        }
        Ok(points)
    };
    let answer = match header.answer {
        Shape::Data { dropped } => Answer::Data {
            points: read_points(&mut r)?,
            dropped,
        },
        Shape::Scoped { scopes, dropped } => {
            let mut series = Vec::with_capacity(scopes.len());
            for scope in scopes {
                let points = read_points(&mut r)?;
                series.push(ScopedPoints { scope, points });
            }
            Answer::Scoped { series, dropped }
        }
        Shape::OverLimit => Answer::OverLimit,
        Shape::MinDate { min } => Answer::MinDate { min },
    };
    if r.left() != 0 {
        return Err(EntryError::TrailingBytes);
    }
    Ok(Entry {
        rules: header.rules,
        request: header.request,
        fetched_at: header.fetched_at,
        answer,
    })
}

/// `DateTime::from_timestamp(secs, 0)`, with the date of the last day asked for kept:
/// an entry's points are days of hours, and the calendar date is the costly part.
#[derive(Default)]
struct Days {
    last: Option<(i64, chrono::NaiveDate)>,
}

impl Days {
    fn time(&mut self, secs: i64) -> Option<DateTime<Utc>> {
        let (day, second) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u32);
        let date = match self.last {
            Some((d, date)) if d == day => date,
            _ => {
                let date = DateTime::from_timestamp(day.checked_mul(86_400)?, 0)?.date_naive();
                self.last = Some((day, date));
                date
            }
        };
        let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(second, 0)?;
        Some(date.and_time(time).and_utc())
    }
}

/// An entry's file, compact or JSON by its extension.
fn read_entry(path: &Path) -> Result<Entry, EntryError> {
    if path.extension().is_some_and(|e| e == EXT) {
        decode_entry(&std::fs::read(path).map_err(io_error)?)
    } else {
        let text = std::fs::read_to_string(path).map_err(io_error)?;
        serde_json::from_str(&text).map_err(not_an_entry)
    }
}

/// Why a cache entry cannot be used; one line, for `cache verify` and
/// `Lookup::Invalid`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EntryError {
    /// The file cannot be read: the I/O error's message.
    #[error("{0}")]
    Io(String),
    /// No `TGCE` header.
    #[error("not a cache entry (no TGCE header)")]
    NoHeader,
    /// A compact format version other than this build's.
    #[error("cache format version {0} is not this trafficgraph's {FORMAT}")]
    Format(u8),
    /// The checksum does not match the bytes.
    #[error("checksum mismatch: the entry changed after it was written")]
    Checksum,
    /// The compact entry ends early.
    #[error("truncated compact entry")]
    Truncated,
    /// A varint longer than 64 bits.
    #[error("bad number in compact entry")]
    BadNumber,
    /// A time out of range.
    #[error("bad time in compact entry")]
    BadTime,
    /// Bytes after the last point.
    #[error("bytes after the end of the compact entry")]
    TrailingBytes,
    /// Its header or JSON does not read as an entry: the JSON error's message.
    #[error("not a cache entry: {0}")]
    NotAnEntry(String),
    /// Written under a newer rules version (the entry's).
    #[error("written under rules version {0}, newer than this trafficgraph's {RULES_VERSION}")]
    NewerRules(u32),
    /// The stored request's range ends before it starts.
    #[error("its request ends before it starts")]
    Backwards,
    /// The entry's file is not where its request would put it.
    #[error("its request does not match its place")]
    Misplaced,
    /// The answer fails a rule against its own request.
    #[error(transparent)]
    Invalid(#[from] validate::Violation),
}

fn io_error(e: std::io::Error) -> EntryError {
    EntryError::Io(e.to_string())
}

fn not_an_entry(e: serde_json::Error) -> EntryError {
    EntryError::NotAnEntry(e.to_string())
}

/// One entry as `cache list` and `cache prune` see it.
#[derive(Debug, Clone)]
pub(crate) struct EntryInfo {
    pub path: PathBuf,
    pub bytes: u64,
    /// The request and the data sets held, or why the entry cannot be read.
    pub content: Result<(CacheKey, usize), EntryError>,
}

/// What the cache holds for one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lookup {
    /// A checked answer to exactly this request.
    Hit(Answer),
    /// Nothing usable: no entry, another request's entry, an empty answer, or one that
    /// leniency thinned for a strict run.
    Miss,
    /// An entry for this request that fails a check now: why.
    Invalid(EntryError),
}

/// Checks an entry's answer against its own request, strictly; the reason when it fails.
fn verify(entry: &Entry) -> Result<(), EntryError> {
    if entry.rules > RULES_VERSION {
        return Err(EntryError::NewerRules(entry.rules));
    }
    let range = entry.request.range().ok_or(EntryError::Backwards)?;
    let expect = Expect {
        range,
        step: entry.request.step(),
        lenient: false,
    };
    for points in answer_points(&entry.answer) {
        validate::check_points(points, Some(&expect))?;
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
pub(crate) struct CacheError {
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
    /// The cache under `root` (created when the first entry is written).
    pub(crate) fn new(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// The default directory: the platform cache directory + `trafficgraph`.
    pub fn default_dir() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join("trafficgraph"))
    }

    /// The file holding this request's entry: the compact one, or the JSON one an earlier
    /// version wrote when only that exists.
    pub(crate) fn entry_path(&self, key: &CacheKey) -> PathBuf {
        let path = key.path(&self.root);
        let legacy = key.legacy_path(&self.root);
        if !path.exists() && legacy.exists() {
            legacy
        } else {
            path
        }
    }

    /// This request's entry, compact first, then JSON; `None` when neither exists.
    fn read(&self, key: &CacheKey) -> Option<Result<Entry, EntryError>> {
        let path = key.path(&self.root);
        match std::fs::read(&path) {
            Ok(bytes) => return Some(decode_entry(&bytes)),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Some(Err(io_error(e))),
            Err(_) => {}
        }
        match std::fs::read_to_string(key.legacy_path(&self.root)) {
            Ok(text) => Some(serde_json::from_str(&text).map_err(not_an_entry)),
            // Another process may have just replaced the JSON entry by a compact one.
            Err(_) => std::fs::read(&path).ok().map(|b| decode_entry(&b)),
        }
    }

    /// The stored answer to exactly this request, checked again against it. `lenient`
    /// runs may use entries from which `--lenient` dropped rows; strict runs ask again.
    pub(crate) fn get(&self, key: &CacheKey, lenient: bool) -> Lookup {
        let entry = match self.read(key) {
            None => return Lookup::Miss,
            Some(Err(reason)) => return Lookup::Invalid(reason),
            Some(Ok(entry)) => entry,
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

    /// Every entry file under the root (compact and JSON), sorted. Files that are not
    /// entries (e.g. a stray temporary file) are skipped.
    fn files(&self) -> std::io::Result<Vec<PathBuf>> {
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
                if !name.starts_with('.') && (name.ends_with(".json") || name.ends_with(".tgc")) {
                    out.push(path);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Checks every entry under the root against its own request: each entry's path and
    /// why it fails, if it does.
    pub fn verify_all(&self) -> std::io::Result<Vec<(PathBuf, Result<(), EntryError>)>> {
        let files = self.files()?;
        Ok(files
            .into_iter()
            .map(|path| {
                let verdict = read_entry(&path).and_then(|entry| {
                    let place = if path.extension().is_some_and(|e| e == EXT) {
                        entry.request.path(&self.root)
                    } else {
                        entry.request.legacy_path(&self.root)
                    };
                    if place != path {
                        return Err(EntryError::Misplaced);
                    }
                    verify(&entry)
                });
                (path, verdict)
            })
            .collect())
    }

    /// Every entry under the root with its size, request and number of data sets.
    pub(crate) fn entries(&self) -> std::io::Result<Vec<EntryInfo>> {
        let mut out = Vec::new();
        for path in self.files()? {
            let bytes = match std::fs::metadata(&path) {
                Ok(m) => m.len(),
                // Removed by another process since it was listed.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let content = read_entry(&path).map(|entry| {
                let n = answer_points(&entry.answer).iter().map(|p| p.len()).sum();
                (entry.request, n)
            });
            out.push(EntryInfo {
                path,
                bytes,
                content,
            });
        }
        Ok(out)
    }

    /// Stores a checked answer atomically (temporary file + rename), in the compact
    /// format, replacing a JSON entry of the same request. Empty answers are not stored: a
    /// later run asks again.
    pub(crate) fn put(&self, key: &CacheKey, answer: &Answer) -> Result<(), CacheError> {
        if is_empty(answer) {
            return Ok(());
        }
        let entry = Entry {
            rules: RULES_VERSION,
            request: key.clone(),
            fetched_at: Utc::now(),
            answer: answer.clone(),
        };
        let (path, bytes) = match encode_entry(&entry) {
            Some(bytes) => (key.path(&self.root), bytes),
            None => (
                key.legacy_path(&self.root),
                serde_json::to_vec_pretty(&entry).expect("cache entry serialises"),
            ),
        };
        write_atomic(&path, &bytes).map_err(|source| CacheError {
            path: path.clone(),
            source,
        })?;
        if path.extension().is_some_and(|e| e == EXT) {
            let legacy = key.legacy_path(&self.root);
            match std::fs::remove_file(&legacy) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(CacheError {
                        path: legacy,
                        source: e,
                    })
                }
                _ => {}
            }
        }
        Ok(())
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
                 receive-hourly-avg-json/2015-01-01_2015-01-20.tgc"
            )
        );
        assert_eq!(
            key("10.0.0.1").legacy_path(Path::new("/c")).extension(),
            Some("json".as_ref())
        );
    }

    /// 20 days of hourly points with a few gaps, counts and not, awkward values.
    fn hourly(days: i64) -> Vec<Point> {
        let start = crate::source::file::parse_time("2015-01-01 00:00:00").unwrap();
        (0..days * 24)
            .filter(|h| h % 97 != 5)
            .map(|h| Point {
                time: start + chrono::Duration::hours(h),
                value: (h as f64).sin().abs() * 1.0e9 / 7.0 + 0.1,
                count: (h % 11 != 3).then_some(6),
            })
            .collect()
    }

    #[test]
    fn compact_entries_are_exact_and_small() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let k = key("10.0.0.1");
        let points = hourly(20);
        let answer = Answer::Data {
            points: points.clone(),
            dropped: 0,
        };
        cache.put(&k, &answer).unwrap();
        assert_eq!(cache.get(&k, false), Lookup::Hit(answer));
        let bytes = std::fs::metadata(k.path(dir.path())).unwrap().len();
        let per = bytes as f64 / points.len() as f64;
        assert!(per <= 12.0, "{bytes} bytes for {} points", points.len());
        // Every kind of answer comes back as it went in.
        let scoped = Answer::Scoped {
            series: vec![
                ScopedPoints {
                    scope: Scope::Receive,
                    points: points[..30].to_vec(),
                },
                ScopedPoints {
                    scope: Scope::Transmit,
                    points: Vec::new(),
                },
                ScopedPoints {
                    scope: Scope::Total,
                    points: points[7..9].to_vec(),
                },
            ],
            dropped: 3,
        };
        let min = Answer::MinDate {
            min: crate::range::parse_date("2015-01-03").unwrap(),
        };
        for answer in [scoped, Answer::OverLimit, min] {
            let entry = Entry {
                rules: RULES_VERSION,
                request: k.clone(),
                fetched_at: Utc::now(),
                answer: answer.clone(),
            };
            let back = decode_entry(&encode_entry(&entry).unwrap()).unwrap();
            assert_eq!(back.answer, answer);
            assert_eq!(back.request, k);
        }
    }

    /// A cache in `dir` holding two days of hourly data: the cache, the entry's key,
    /// answer and file.
    fn two_days_cached(dir: &Path) -> (Cache, CacheKey, Answer, PathBuf) {
        let cache = Cache::new(dir);
        let k = key("10.0.0.1");
        let answer = Answer::Data {
            points: hourly(2),
            dropped: 0,
        };
        cache.put(&k, &answer).unwrap();
        let path = k.path(dir);
        (cache, k, answer, path)
    }

    /// Writes `bytes` as the entry of `k` and asserts that it is refused, saying `why`.
    fn assert_refused(cache: &Cache, k: &CacheKey, path: &Path, bytes: &[u8], why: &str) {
        std::fs::write(path, bytes).unwrap();
        match cache.get(k, false) {
            Lookup::Invalid(e) => assert!(e.to_string().contains(why), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    /// Entries of the first compact format, with an FNV-1a 64 checksum, are still read;
    /// a damaged one is refused as a damaged new one is.
    #[test]
    fn first_format_entries_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, k, answer, path) = two_days_cached(dir.path());
        let new = std::fs::read(&path).unwrap();
        assert_eq!(new[4], FORMAT);
        let mut old = new[..new.len() - 4].to_vec();
        old[4] = FNV_FORMAT;
        let sum = crate::hash::fnv1a64(&old);
        old.extend_from_slice(&sum.to_le_bytes());
        std::fs::write(&path, &old).unwrap();
        assert_eq!(cache.get(&k, false), Lookup::Hit(answer));
        let at = old.len() - 20;
        old[at] ^= 0x10;
        assert_refused(&cache, &k, &path, &old, "checksum");
    }

    #[test]
    fn damaged_compact_entries_are_refused_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, k, _, path) = two_days_cached(dir.path());
        let good = std::fs::read(&path).unwrap();
        let mut flipped = good.clone();
        let at = good.len() - 20;
        flipped[at] ^= 0x10;
        assert_refused(&cache, &k, &path, &flipped, "checksum");
        std::fs::write(&path, &good[..good.len() / 2]).unwrap();
        assert!(matches!(cache.get(&k, false), Lookup::Invalid(_)));
        let mut newer = good.clone();
        newer[4] = 9;
        assert_refused(&cache, &k, &path, &newer, "version 9");
        let all = cache.verify_all().unwrap();
        assert_eq!(all.len(), 1);
        assert!(all[0].1.is_err());
    }

    #[test]
    fn json_entries_are_read_and_replaced_by_compact_ones() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let k = key("10.0.0.1");
        let answer = Answer::Data {
            points: hourly(1),
            dropped: 0,
        };
        let entry = Entry {
            rules: RULES_VERSION,
            request: k.clone(),
            fetched_at: Utc::now(),
            answer: answer.clone(),
        };
        let legacy = k.legacy_path(dir.path());
        write_atomic(&legacy, &serde_json::to_vec_pretty(&entry).unwrap()).unwrap();
        assert_eq!(cache.get(&k, false), Lookup::Hit(answer.clone()));
        assert_eq!(cache.entry_path(&k), legacy);
        assert!(legacy.exists(), "reading leaves the entry as it is");
        assert!(cache.verify_all().unwrap()[0].1.is_ok());
        cache.put(&k, &answer).unwrap();
        assert!(!legacy.exists() && k.path(dir.path()).exists());
        assert_eq!(cache.get(&k, false), Lookup::Hit(answer));
        let listed = cache.entries().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].content.as_ref().unwrap().1, hourly(1).len());
    }

    #[test]
    fn writers_and_readers_sharing_a_directory_see_whole_entries() {
        let dir = tempfile::tempdir().unwrap();
        let k = key("10.0.0.1");
        let answer = Answer::Data {
            points: hourly(20),
            dropped: 0,
        };
        Cache::new(dir.path()).put(&k, &answer).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let cache = Cache::new(dir.path());
                    for _ in 0..100 {
                        cache.put(&k, &answer).unwrap();
                        assert_eq!(cache.get(&k, false), Lookup::Hit(answer.clone()));
                    }
                });
            }
        });
        let left: Vec<_> = std::fs::read_dir(k.path(dir.path()).parent().unwrap())
            .unwrap()
            .collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
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
        write_atomic(&k.legacy_path(dir.path()), good.as_bytes()).unwrap();
        assert!(matches!(cache.get(&k, false), Lookup::Hit(_)));
        let bad = old_entry(r#"{"time": "1999-01-01T03:00:00Z", "value": 5.0, "count": 6}"#);
        write_atomic(&k.legacy_path(dir.path()), bad.as_bytes()).unwrap();
        match cache.get(&k, false) {
            Lookup::Invalid(reason) => {
                assert!(reason.to_string().contains("outside"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let all = cache.verify_all().unwrap();
        assert_eq!(all.len(), 1);
        assert!(all[0].1.is_err());
        let empty = old_entry("");
        write_atomic(&k.legacy_path(dir.path()), empty.as_bytes()).unwrap();
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

    proptest::proptest! {
        /// The kept day gives the time `from_timestamp` gives, for times in any order
        /// and out of chrono's range alike.
        #[test]
        fn days_give_the_time_from_timestamp_gives(
            times in proptest::collection::vec(
                proptest::prop_oneof![
                    -9_000_000_000_000i64..9_000_000_000_000,
                    1_700_000_000i64..1_700_400_000,
                    proptest::num::i64::ANY,
                ],
                1..60,
            ),
        ) {
            let mut days = Days::default();
            for t in times {
                proptest::prop_assert_eq!(days.time(t), DateTime::from_timestamp(t, 0), "{}", t);
            }
        }
    }
}
