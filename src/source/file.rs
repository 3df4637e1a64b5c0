//! Readers for saved data: the Hostway JSON and `text/csv` bodies, and the tool's own CSV
//! and JSON exports read back. Pure functions from text to values; the one I/O edge,
//! [`read_input`], adds the file name to every error.
//!
//! The format is told from the content, not the file name: `[` opens a Hostway JSON body,
//! `{` one of our JSON exports (or a Hostway error body, reported as such), anything else is
//! CSV whose header says which kind it is.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

use crate::model::{column_name, Named, Origin, Point, Scope, Series, Traffic};
use crate::validate::{self, Row};

/// A parse failure with its place in the text (1-based line; column or field when known).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", place(*.line, *.column, .field.as_deref()))]
pub struct ParseError {
    /// 1-based line; 0 when the place is the whole text (e.g. two rows that disagree).
    pub line: usize,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The field (JSON key or CSV column) at fault, when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    fn at(line: usize, field: Option<&str>, message: impl Into<String>) -> ParseError {
        ParseError {
            line,
            column: None,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

/// Where a [`ParseError`] is, followed by `: `; empty for the whole file (line 0, e.g.
/// two rows that disagree).
fn place(line: usize, column: Option<usize>, field: Option<&str>) -> String {
    let mut place = Vec::new();
    if line > 0 {
        place.push(format!("line {line}"));
    }
    if let Some(c) = column {
        place.push(format!("column {c}"));
    }
    if let Some(field) = field {
        place.push(format!("field '{field}'"));
    }
    if place.is_empty() {
        String::new()
    } else {
        format!("{}: ", place.join(", "))
    }
}

/// Why a file given with `--input` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file's content could not be parsed.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        #[source]
        source: ParseError,
    },
    /// A raw Hostway body without a scope given or in the file name.
    #[error(
        "{path}: a raw Hostway body does not say its scope; name it: --input receive={path} \
         (or transmit=, total=), or put receive/transmit/total in the file name"
    )]
    UnknownScope {
        /// The file.
        path: PathBuf,
    },
    /// A row breaks a [`crate::validate`] rule.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The rule broken and the row.
        #[source]
        source: validate::Violation,
    },
    /// A series disagrees with one read from an earlier `--input`.
    #[error("{path}: {series}: {conflict} with an earlier --input; give files that agree")]
    Conflict {
        /// The later file.
        path: PathBuf,
        /// The series' name (`receive`, `receive@10.0.0.1`).
        series: String,
        /// The time and the two values.
        conflict: crate::model::Conflict,
    },
    /// The file holds no data sets.
    #[error("{path}: holds no data sets")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// One `--input` argument: `FILE` or `SCOPE=FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    /// The file.
    pub path: PathBuf,
    /// The scope given with `SCOPE=`; `None` lets the content or file name say.
    pub scope: Option<Scope>,
}

impl std::str::FromStr for InputSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((scope, path)) = s.split_once('=') {
            if let Ok(scope) = scope.parse::<Scope>() {
                if path.is_empty() {
                    return Err(format!("'{s}': no file after '='"));
                }
                return Ok(InputSpec {
                    path: PathBuf::from(path),
                    scope: Some(scope),
                });
            }
        }
        Ok(InputSpec {
            path: PathBuf::from(s),
            scope: None,
        })
    }
}

/// Reads every input and merges them into one [`Traffic`] (same scope merges by timestamp).
pub fn read_inputs(specs: &[InputSpec]) -> Result<Traffic, InputError> {
    let mut traffic = Traffic::default();
    for spec in specs {
        for s in read_input(spec)?.series {
            let earlier = traffic
                .series
                .iter()
                .find(|e| e.scope == s.scope && e.label == s.label);
            if let Some(conflict) = earlier.and_then(|e| e.conflict_with(&s)) {
                return Err(InputError::Conflict {
                    path: spec.path.clone(),
                    series: s.name(),
                    conflict,
                });
            }
            traffic.merge_series(s);
        }
    }
    traffic.resolve_periods();
    Ok(traffic)
}

/// Reads one input file.
///
/// Our CSV export (the bulky format: a year of hourly data per graph, or millions of
/// rows) is parsed as it is read, so the file's text is never held in memory beside the
/// parsed points; the other formats are read whole. The format is told from the file's
/// first line either way.
pub fn read_input(spec: &InputSpec) -> Result<Traffic, InputError> {
    use std::io::Read;
    let path = &spec.path;
    let io = |source| InputError::Io {
        path: path.clone(),
        source,
    };
    let parse = |source| InputError::Parse {
        path: path.clone(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let head = read_head(&mut file).map_err(io)?;
    let streamed = match std::str::from_utf8(&head) {
        Ok(h) if detect(h) == Format::ExportCsv => {
            let start = h.len() - h.trim_start_matches('\u{feff}').len();
            let reader = std::io::Cursor::new(&head[start..]).chain(&mut file);
            Some(match export_csv_from(reader) {
                Ok(t) => t,
                Err(CsvFail::Parse(e)) => return Err(parse(e)),
                Err(CsvFail::Io(e)) => return Err(io(e)),
            })
        }
        _ => None,
    };
    let traffic = match streamed {
        Some(t) => t,
        None => {
            let mut bytes = head;
            file.read_to_end(&mut bytes).map_err(io)?;
            let text = String::from_utf8(bytes).map_err(|_| io(invalid_utf8()))?;
            match detect(&text) {
                Format::HostwayJson | Format::HostwayCsv => {
                    let scope = spec
                        .scope
                        .or_else(|| scope_from_file_name(path))
                        .ok_or_else(|| InputError::UnknownScope { path: path.clone() })?;
                    let rows = if detect(&text) == Format::HostwayJson {
                        parse_hostway_json(&text).map_err(parse)?
                    } else {
                        parse_hostway_csv(&text).map_err(parse)?
                    };
                    let checked =
                        validate::check(&rows, None).map_err(|source| InputError::Invalid {
                            path: path.clone(),
                            source,
                        })?;
                    Traffic::new(vec![Series::new(scope, checked.points)])
                }
                Format::ExportJson => parse_export_json(&text).map_err(parse)?,
                Format::ExportCsv => parse_export_csv(&text).map_err(parse)?,
            }
        }
    };
    if traffic.is_empty() {
        return Err(InputError::Empty { path: path.clone() });
    }
    Ok(traffic)
}

/// The error `read_to_string` gives for text that is not UTF-8.
fn invalid_utf8() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "stream did not contain valid UTF-8",
    )
}

/// The start of a file, up to and including the first line break after any leading byte
/// order marks and white space (or the whole file): all [`detect`] looks at.
fn read_head(file: &mut impl std::io::Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(head);
        }
        head.extend_from_slice(&chunk[..n]);
        let text = match std::str::from_utf8(&head) {
            Ok(t) => t,
            // Not UTF-8: reading the whole file reports it.
            Err(e) if e.error_len().is_some() => return Ok(head),
            // A character split at the end of the chunk.
            Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
        };
        if text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .contains('\n')
        {
            return Ok(head);
        }
    }
}

fn scope_from_file_name(path: &Path) -> Option<Scope> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let found: Vec<Scope> = Scope::ALL
        .iter()
        .copied()
        .filter(|s| name.contains(s.as_str()))
        .collect();
    match found.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    HostwayJson,
    HostwayCsv,
    ExportJson,
    ExportCsv,
}

fn detect(text: &str) -> Format {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('[') {
        Format::HostwayJson
    } else if t.starts_with('{') {
        Format::ExportJson
    } else {
        let header = t.lines().next().unwrap_or("").to_ascii_lowercase();
        if header
            .split(',')
            .any(|c| c.trim().trim_matches('"') == "values")
        {
            Format::HostwayCsv
        } else {
            Format::ExportCsv
        }
    }
}

/// Parses a timestamp as providers and our exports write it: `2015-05-05 00:00:00`,
/// `2015-05-05T00:00:00Z` (or with an offset), or a bare date `2015-05-05`. Always UTC.
///
/// Only what the exporter can write back is accepted, so export then import is the
/// identity: years 0000 to 9999 (in UTC), whole seconds (a fraction is cut off, a leap
/// second `:60` reads as `:59`, as its Unix timestamp says).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    parse_time_exact(s.trim())
        .and_then(|t| DateTime::from_timestamp(t.timestamp(), 0))
        .filter(|t| (0..=9999).contains(&t.year()))
}

fn parse_time_exact(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
}

/// Removes commas that stand right before a closing `]` or `}` (outside strings), as in the
/// Hostway documentation's own sample body. Borrows when there is none.
pub fn strip_trailing_commas(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut remove = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' => {
                let next = bytes[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
                if matches!(next, Some(b']') | Some(b'}')) {
                    remove.push(i);
                }
            }
            _ => {}
        }
    }
    if remove.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for i in remove {
        out.push_str(&text[last..i]);
        out.push(' '); // keep columns of later errors where they were
        last = i + 1;
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

fn de_time<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    parse_time(&s).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "bad date '{s}' (expected YYYY-MM-DD HH:MM:SS, UTC)"
        ))
    })
}

fn de_finite_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Option::<f64>::deserialize(d)?;
    match v {
        Some(x) => validate::check_value(x)
            .map(|()| Some(x))
            .map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

#[derive(Deserialize)]
struct HostwayRow {
    #[serde(default)]
    count: Option<u64>,
    #[serde(deserialize_with = "de_time")]
    date: DateTime<Utc>,
    #[serde(deserialize_with = "de_finite_opt")]
    values: Option<f64>,
}

fn json_error(e: serde_json::Error) -> ParseError {
    ParseError {
        line: e.line(),
        column: Some(e.column()),
        field: None,
        message: strip_serde_position(&e.to_string()),
    }
}

fn strip_serde_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Parses a Hostway JSON body (`[{"count", "date", "values"}, ...]`, trailing comma
/// tolerated) into its rows, in the order sent. A `null` value is a gap. An error body
/// (`{"overLimit": ...}`) or an empty body is an error. The rules a row must follow are
/// checked by [`crate::validate`].
pub fn parse_hostway_json(text: &str) -> Result<Vec<Row>, ParseError> {
    if text.trim().is_empty() {
        return Err(ParseError::at(
            1,
            None,
            "empty body (expected a JSON array)",
        ));
    }
    let text = strip_trailing_commas(text);
    let rows: Vec<HostwayRow> = serde_json::from_str(&text).map_err(json_error)?;
    Ok(rows
        .into_iter()
        .map(|r| Row {
            time: r.date,
            value: r.values,
            count: r.count,
        })
        .collect())
}

/// Parses a Hostway `text/csv` body into its rows: a header naming `date` and `values` (and
/// `count`), in any order; an empty value is a gap. An empty body is an error.
pub fn parse_hostway_csv(text: &str) -> Result<Vec<Row>, ParseError> {
    if text.trim().is_empty() {
        return Err(ParseError::at(
            1,
            None,
            "empty body (expected a count,date,values header)",
        ));
    }
    let mut rdr = csv_reader(text);
    let headers = read_headers(&mut rdr)?;
    let find = |name: &str| headers.iter().position(|h| h == name);
    let date_i = find("date").ok_or_else(|| ParseError::at(1, None, "no 'date' column"))?;
    let value_i = find("values").ok_or_else(|| ParseError::at(1, None, "no 'values' column"))?;
    let count_i = find("count");
    let mut points = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(csv_error)?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let cell = |i: usize| rec.get(i).unwrap_or("").trim();
        let time = parse_time(cell(date_i))
            .ok_or_else(|| ParseError::at(line, Some("date"), bad_date(cell(date_i))))?;
        let value = parse_value(cell(value_i), line, "values")?;
        let count = match count_i.map(cell) {
            Some(c) if !c.is_empty() => Some(parse_count(c, line, "count")?),
            _ => None,
        };
        points.push(Row { time, value, count });
    }
    Ok(points)
}

/// One value column of our export: scope, label, where its count column is, and whether
/// it holds octets per data set (`receive_octets`) rather than rates.
struct Column {
    scope: Scope,
    label: String,
    value: usize,
    count: Option<usize>,
    octets: bool,
}

/// The suffix of a CSV value column holding octets per data set (a `sum`), written by
/// [`crate::export::CsvExporter`] for such series.
pub const OCTETS_SUFFIX: &str = "_octets";

fn split_column_name(name: &str) -> (&str, &str) {
    name.split_once('@').unwrap_or((name, ""))
}

/// A count column (`receive_count`, `receive_count@label`): judged by the part before `@`
/// only, so a label may itself contain `_count`.
fn is_count_column(name: &str) -> bool {
    split_column_name(name).0.ends_with("_count")
}

/// Parses our CSV export (`date,receive,transmit,receive_count,transmit_count`, or
/// `date,total,...`, or per-IP columns `receive@10.0.0.1`). Count columns are optional, so
/// `date,receive,transmit` files from other tools read too.
pub fn parse_export_csv(text: &str) -> Result<Traffic, ParseError> {
    export_csv_from(text.trim_start_matches('\u{feff}').as_bytes()).map_err(|e| match e {
        CsvFail::Parse(e) => e,
        CsvFail::Io(e) => ParseError::at(0, None, e.to_string()),
    })
}

/// Why reading CSV failed: the content, or the reading itself (including text that is not
/// UTF-8, reported as reading the whole file would).
enum CsvFail {
    Parse(ParseError),
    Io(std::io::Error),
}

impl From<ParseError> for CsvFail {
    fn from(e: ParseError) -> CsvFail {
        CsvFail::Parse(e)
    }
}

impl From<csv::Error> for CsvFail {
    fn from(e: csv::Error) -> CsvFail {
        match e.kind() {
            csv::ErrorKind::Utf8 { .. } => CsvFail::Io(invalid_utf8()),
            csv::ErrorKind::Io(_) => match e.into_kind() {
                csv::ErrorKind::Io(e) => CsvFail::Io(e),
                _ => unreachable!("checked above"),
            },
            _ => CsvFail::Parse(csv_error(e)),
        }
    }
}

/// [`parse_export_csv`] over any reader (byte order marks already skipped).
fn export_csv_from<R: std::io::Read>(reader: R) -> Result<Traffic, CsvFail> {
    let mut rdr = csv_builder().from_reader(reader);
    let headers = read_headers(&mut rdr)?;
    if headers.first().map(String::as_str) != Some("date") {
        return Err(CsvFail::Parse(ParseError::at(
            1,
            None,
            "not a traffic CSV: the header must start with 'date' (our export) or name \
             'date' and 'values' (a Hostway body)",
        )));
    }
    let mut columns: Vec<Column> = Vec::new();
    for (i, h) in headers.iter().enumerate().skip(1) {
        if is_count_column(h) {
            continue;
        }
        let (base, label) = split_column_name(h);
        // `receive_octets`: octets per data set (a sum), not a rate; the unit travels with
        // the file so that reading it back never takes octets for bytes per second.
        let (base, octets) = match base.strip_suffix(OCTETS_SUFFIX) {
            Some(b) => (b, true),
            None => (base, false),
        };
        let scope = base
            .parse::<Scope>()
            .map_err(|e| CsvFail::Parse(ParseError::at(1, Some(h), e)))?;
        if columns.iter().any(|c| c.scope == scope && c.label == label) {
            return Err(CsvFail::Parse(twice(1, h, scope, label)));
        }
        let count_name = column_name(scope, label, true);
        columns.push(Column {
            scope,
            label: label.to_string(),
            value: i,
            count: headers.iter().position(|x| *x == count_name),
            octets,
        });
    }
    if columns.is_empty() {
        return Err(CsvFail::Parse(ParseError::at(
            1,
            None,
            "no receive, transmit or total column",
        )));
    }
    // Straight into each series' columns: no per-point structs, no second copy.
    let mut series: Vec<Series> = columns
        .iter()
        .map(|c| {
            let mut s = Series::empty(c.scope);
            s.label = c.label.clone();
            if c.octets {
                s.origin.method = Some(crate::model::Method::Sum);
            }
            s
        })
        .collect();
    for rec in rdr.records() {
        let rec = rec?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let date = rec.get(0).unwrap_or("").trim();
        let time = parse_time(date)
            .ok_or_else(|| ParseError::at(line, Some("date"), bad_date(date)))?
            .timestamp();
        for (c, out) in columns.iter().zip(series.iter_mut()) {
            let name = &headers[c.value];
            let Some(value) = parse_value(rec.get(c.value).unwrap_or(""), line, name)? else {
                continue;
            };
            let count = match c.count.and_then(|i| rec.get(i)).map(str::trim) {
                Some(s) if !s.is_empty() => Some(parse_count(s, line, &headers[c.count.unwrap()])?),
                _ => None,
            };
            out.push_parts(time, value, count);
        }
    }
    for s in &mut series {
        if let Some(c) = s.conflict() {
            return Err(CsvFail::Parse(ParseError::at(
                0,
                Some(&s.name()),
                c.to_string(),
            )));
        }
        s.normalize();
        s.shrink_to_fit(); // growth slack would stay allocated for the whole run
    }
    Ok(Traffic::new(series))
}

/// Our JSON export: `{"period", "method", "columns": [...], "rows": [{"date", ...}]}`.
#[derive(Deserialize)]
struct ExportJson {
    #[serde(default)]
    period: Option<crate::model::Period>,
    #[serde(default)]
    method: Option<crate::model::Method>,
    columns: Vec<String>,
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Parses our JSON export back into series (the inverse of [`crate::export::JsonExporter`]).
pub fn parse_export_json(text: &str) -> Result<Traffic, ParseError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(json_error)?;
    if let Some(obj) = value.as_object() {
        for key in [
            "overLimit",
            "badRequest",
            "unauthorized",
            "forbidden",
            "itemNotFound",
        ] {
            if let Some(body) = obj.get(key) {
                return Err(ParseError::at(
                    1,
                    None,
                    format!("this is a Hostway error response ({key}), not data: {body}"),
                ));
            }
        }
    }
    let doc: ExportJson =
        serde_json::from_value(value).map_err(|e| ParseError::at(1, None, e.to_string()))?;
    let mut series: Vec<Series> = Vec::new();
    for name in &doc.columns {
        // Read as the CSV reader reads its header (trimmed, ASCII lower case), so a label
        // means the same in both formats and survives a conversion from one to the other.
        let normalized = name.trim().to_ascii_lowercase();
        if normalized == "date" || is_count_column(&normalized) {
            continue;
        }
        let (base, label) = split_column_name(&normalized);
        let scope = base
            .parse::<Scope>()
            .map_err(|e| ParseError::at(1, Some(name), e))?;
        if series.iter().any(|s| s.scope == scope && s.label == label) {
            return Err(twice(1, name, scope, label));
        }
        let count_name = column_name(scope, label, true);
        let mut pts = Vec::with_capacity(doc.rows.len());
        for (i, row) in doc.rows.iter().enumerate() {
            let at = |field: &str, msg: String| {
                ParseError::at(i + 1, Some(field), format!("row {}: {msg}", i + 1))
            };
            let date = row
                .get("date")
                .and_then(|d| d.as_str())
                .ok_or_else(|| at("date", "missing date".into()))?;
            let time = parse_time(date).ok_or_else(|| at("date", bad_date(date)))?;
            let value = match row.get(name.as_str()) {
                None | Some(serde_json::Value::Null) => continue,
                Some(v) => v
                    .as_f64()
                    .ok_or_else(|| at(name, format!("'{v}' is not a number")))?,
            };
            validate::check_value(value).map_err(|e| at(name, e.to_string()))?;
            let count = row.get(&count_name).and_then(|c| c.as_u64());
            if let Some(c) = count {
                validate::check_count(c).map_err(|e| at(&count_name, e.to_string()))?;
            }
            pts.push(Point { time, value, count });
        }
        let mut s = Series::empty(scope);
        s.extend(pts);
        if let Some(c) = s.conflict() {
            return Err(ParseError::at(0, Some(name), c.to_string()));
        }
        s.normalize();
        s.label = label.to_string();
        s.origin = Origin {
            period: doc.period,
            method: doc.method,
            target: None,
        };
        series.push(s);
    }
    if series.is_empty() {
        return Err(ParseError::at(
            1,
            Some("columns"),
            "no receive, transmit or total column",
        ));
    }
    Ok(Traffic::new(series))
}

/// Two columns for one series (`receive,receive` or `rx,receive`): refused, as the JSON
/// export (one key per name) would keep only one of them.
fn twice(line: usize, field: &str, scope: Scope, label: &str) -> ParseError {
    ParseError::at(
        line,
        Some(field),
        format!(
            "column '{}' appears twice",
            column_name(scope, label, false)
        ),
    )
}

fn csv_builder() -> csv::ReaderBuilder {
    let mut b = csv::ReaderBuilder::new();
    b.trim(csv::Trim::All).flexible(false).comment(Some(b'#'));
    b
}

fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv_builder().from_reader(text.trim_start_matches('\u{feff}').as_bytes())
}

fn read_headers<R: std::io::Read>(rdr: &mut csv::Reader<R>) -> Result<Vec<String>, ParseError> {
    let headers = rdr.headers().map_err(csv_error)?;
    if headers.is_empty() || headers.iter().all(str::is_empty) {
        return Err(ParseError::at(1, None, "empty file: no header line"));
    }
    Ok(headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect())
}

fn csv_error(e: csv::Error) -> ParseError {
    let line = e.position().map_or(0, |p| p.line() as usize);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    ParseError::at(line, None, message)
}

fn bad_date(s: &str) -> String {
    format!("bad date '{s}' (expected 2015-05-05T00:00:00Z or 2015-05-05 00:00:00, UTC)")
}

fn parse_value(s: &str, line: usize, field: &str) -> Result<Option<f64>, ParseError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => validate::check_value(v)
            .map(|()| Some(v))
            .map_err(|e| ParseError::at(line, Some(field), e.to_string())),
        _ => Err(ParseError::at(
            line,
            Some(field),
            format!("'{s}' is not a finite number"),
        )),
    }
}

fn parse_count(s: &str, line: usize, field: &str) -> Result<u64, ParseError> {
    let c = s
        .parse::<u64>()
        .map_err(|_| ParseError::at(line, Some(field), format!("'{s}' is not a whole count")))?;
    validate::check_count(c).map_err(|e| ParseError::at(line, Some(field), e.to_string()))?;
    Ok(c)
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // the seed's own digits, on purpose
mod tests {
    use super::*;

    const SEED_BODY: &str = r#" [
    {
       "count": 143,
       "date": "2015-05-05 00:00:00",
       "values": 344130.30069930002
    },
    {
       "count": 144,
       "date": "2015-05-07 00:00:00",
       "values": 658.34027777777999
    },
 ]"#;

    #[test]
    fn seed_body_with_trailing_comma_parses_exactly() {
        let pts = parse_hostway_json(SEED_BODY).unwrap();
        assert_eq!(pts.len(), 2);
        assert_eq!(pts[0].value, Some(344130.30069930002));
        assert_eq!(pts[0].count, Some(143));
        assert_eq!(pts[1].time, parse_time("2015-05-07T00:00:00Z").unwrap());
    }

    #[test]
    fn trailing_comma_inside_string_is_kept() {
        assert_eq!(strip_trailing_commas(r#"["a,]"]"#), r#"["a,]"]"#);
        assert_eq!(strip_trailing_commas("[1,2, ]"), "[1,2  ]");
    }

    #[test]
    fn bad_date_names_line_and_column() {
        let body = "[\n {\"count\": 1, \"date\": \"yesterday\", \"values\": 1.0}\n]";
        let e = parse_hostway_json(body).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("bad date 'yesterday'"), "{e}");
    }

    #[test]
    fn hostway_csv_any_column_order() {
        let pts = parse_hostway_csv(
            "date,values,count\n2015-05-05 00:00:00,1.5,144\n2015-05-05 01:00:00,,\n",
        )
        .unwrap();
        assert_eq!(pts.len(), 2, "the gap is a row");
        assert_eq!((pts[0].value, pts[0].count), (Some(1.5), Some(144)));
        assert_eq!(pts[1].value, None);
    }

    #[test]
    fn export_csv_without_counts_reads() {
        let t = parse_export_csv(
            "date,receive,transmit\n2000-01-01T00:00:00Z,1,2\n2000-01-01T01:00:00Z,,4\n",
        )
        .unwrap();
        assert_eq!(t.get(Scope::Receive).unwrap().len(), 1);
        assert_eq!(t.get(Scope::Transmit).unwrap().len(), 2);
    }

    #[test]
    fn files_read_as_they_stream_equal_the_text_parsed_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut body = String::from("\u{feff}\n  date,receive,transmit,receive_count\n");
        for i in 0..3000 {
            // Out of order (days wrap every 28), never one hour twice.
            let day = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()
                + chrono::Days::new((i / 24 % 28 * 5 + i / 24 / 28) as u64);
            body.push_str(&format!(
                "{day}T{:02}:00:00Z,{}.5,{},{}\n",
                i % 24,
                i * 7 % 1000,
                i,
                i % 5
            ));
        }
        let path = dir.path().join("t.csv");
        std::fs::write(&path, &body).unwrap();
        let spec = InputSpec {
            path: path.clone(),
            scope: None,
        };
        assert_eq!(read_input(&spec).unwrap(), parse_export_csv(&body).unwrap());
        let mut bad = body.clone().into_bytes();
        bad.extend_from_slice(b"2000-02-01T00:00:00Z,1,\xff,1\n");
        std::fs::write(&path, &bad).unwrap();
        match read_input(&spec) {
            Err(InputError::Io { source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::InvalidData)
            }
            other => panic!("{other:?}"),
        }
        let json = "[{\"date\": \"2015-05-05 00:00:00\", \"values\": 1.5}]";
        std::fs::write(dir.path().join("receive.json"), json).unwrap();
        let t = read_input(&InputSpec {
            path: dir.path().join("receive.json"),
            scope: None,
        })
        .unwrap();
        assert_eq!(t.get(Scope::Receive).unwrap().len(), 1);
    }

    #[test]
    fn export_csv_bad_value_names_field() {
        let e = parse_export_csv("date,receive\n2000-01-01T00:00:00Z,abc\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (2, Some("receive")));
    }

    #[test]
    fn parse_time_accepts_only_what_export_writes_back() {
        // Found by fuzz targets `parse_time` and `hostway_json`: a year outside 0000-9999
        // parsed, but `iso` writes it as `-0051-...`/`+10000-...`, which did not read back.
        assert_eq!(parse_time("-051-5-5"), None);
        assert_eq!(parse_time("10000-01-01 00:00:00"), None);
        assert_eq!(
            parse_time("0000-01-01T00:30:00+01:00"),
            None,
            "year -1 in UTC"
        );
        assert!(parse_time("0000-01-01T00:00:00Z").is_some());
        assert!(parse_time("9999-12-31 23:59:59").is_some());
        // Found by fuzz target `hostway_csv`: a leap second (or a fraction) was kept, but
        // the export writes whole seconds, so the time changed on the way back.
        let t = parse_time("2015-05-05 00:00:59").unwrap();
        assert_eq!(parse_time("2015-05-05 00:00:60"), Some(t));
        assert_eq!(parse_time("2015-05-05T00:00:59.75Z"), Some(t));
        assert_eq!(crate::export::iso(t), "2015-05-05T00:00:59Z");
    }

    #[test]
    fn json_export_label_may_contain_count() {
        // Found by fuzz target `export_csv`: a label holding `_count` was taken for a count
        // column by the JSON reader (but not the CSV one), so the series vanished.
        let t = parse_export_csv("date,receive@my_count\n2000-01-01T00:00:00Z,1\n").unwrap();
        assert_eq!(t.series[0].label, "my_count");
        let json = crate::export::Exporter::export(&crate::export::JsonExporter, &t);
        let back = parse_export_json(std::str::from_utf8(&json).unwrap()).unwrap();
        assert_eq!(back.series.len(), 1);
        assert_eq!(back.series[0].label, "my_count");
        assert_eq!(back.series[0].to_points(), t.series[0].to_points());
    }

    #[test]
    fn a_series_given_twice_is_refused() {
        // Seen with fuzz target `export_csv` (hand-made input): `date,receive,receive` read as
        // two receive series, and the JSON export, one key per name, gave both the second
        // column's values. Aliases name the same series too.
        for csv in [
            "date,receive,receive\n2000-01-01T00:00:00Z,1,2\n",
            "date,rx,receive\n2000-01-01T00:00:00Z,1,2\n",
            "date,receive@a,in@a\n2000-01-01T00:00:00Z,1,2\n",
        ] {
            let e = parse_export_csv(csv).unwrap_err();
            assert!(e.message.contains("appears twice"), "{csv}: {e}");
        }
        assert!(parse_export_csv("date,receive,receive@a\n2000-01-01T00:00:00Z,1,2\n").is_ok());
        let e = parse_export_json(
            r#"{"columns":["date","receive","rx"],"rows":[{"date":"2000-01-01","receive":1}]}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("appears twice"), "{e}");
    }

    #[test]
    fn json_labels_read_as_csv_labels() {
        // Found by fuzz target `export_json` (hand-made input): `receive@A` kept its case in
        // JSON but the CSV reader lower-cases (and trims) header names, so a JSON file
        // converted to CSV and read back had another series name.
        let t = parse_export_json(
            r#"{"columns":["date"," Receive@AB:CD "],"rows":[{"date":"2000-01-01"," Receive@AB:CD ":1}]}"#,
        )
        .unwrap();
        assert_eq!(
            (t.series[0].scope, t.series[0].label.as_str()),
            (Scope::Receive, "ab:cd")
        );
        assert_eq!(t.series[0].len(), 1);
        let csv = crate::export::Exporter::export(&crate::export::CsvExporter, &t);
        let back = parse_export_csv(std::str::from_utf8(&csv).unwrap()).unwrap();
        assert_eq!(back.series[0].label, "ab:cd");
        assert!(
            parse_export_json(r#"{"columns":["date","receive@a","receive@A"],"rows":[]}"#)
                .unwrap_err()
                .message
                .contains("appears twice")
        );
    }

    #[test]
    fn input_spec_takes_scope_prefix() {
        let s: InputSpec = "transmit=a=b.json".parse().unwrap();
        assert_eq!(s.scope, Some(Scope::Transmit));
        assert_eq!(s.path, PathBuf::from("a=b.json"));
        let s: InputSpec = "x=y.json".parse().unwrap();
        assert_eq!((s.scope, s.path), (None, PathBuf::from("x=y.json")));
    }
}
