//! Export formats. Each [`Exporter`] turns a [`Traffic`] into bytes, so every format is tested
//! without I/O; writing them out is [`crate::output`]'s job.
//!
//! Both formats have one row per timestamp: `date` (ISO 8601 UTC, `2015-05-05T00:00:00Z`),
//! the value columns (`receive,transmit`, or `total`, or per-IP `receive@10.0.0.1`), then the
//! count columns. Values are written in the shortest form that parses back to the same
//! `f64`, so export then import is the identity. A timestamp missing from a series is an
//! empty cell (CSV) or `null` (JSON); on a regular grid, hours or days missing from every
//! series still get their row, so gaps show in a spreadsheet.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::model::{Period, Series, Traffic};

/// An export format.
pub trait Exporter {
    /// Serialises the traffic.
    fn export(&self, traffic: &Traffic) -> Vec<u8>;
}

/// `--format csv|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// CSV, one column per series (the default).
    #[default]
    Csv,
    /// JSON: the same rows as the CSV, plus what is known of their origin.
    Json,
}

impl ExportFormat {
    /// The exporter that writes this format.
    pub fn exporter(self) -> Box<dyn Exporter + Send + Sync> {
        match self {
            ExportFormat::Csv => Box::new(CsvExporter),
            ExportFormat::Json => Box::new(JsonExporter),
        }
    }

    /// The format a file name asks for (`.json`), CSV otherwise.
    pub fn from_path(path: &str) -> ExportFormat {
        if path.to_ascii_lowercase().ends_with(".json") {
            ExportFormat::Json
        } else {
            ExportFormat::Csv
        }
    }
}

impl crate::model::Named for ExportFormat {
    const ALL: &'static [ExportFormat] = &[ExportFormat::Csv, ExportFormat::Json];
    const WHAT: &'static str = "format";
    fn name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }
}

crate::model::from_str_by_name!(ExportFormat);

/// The table both formats write: column names and one row of optional cells per timestamp.
struct Table<'a> {
    series: Vec<&'a Series>,
    /// The rows' times, ascending: every series' times, and grid points none has.
    times: Vec<i64>,
    /// Row-major, one cell a series: the index of the row's sample in that series, or
    /// [`NO_SAMPLE`].
    cells: Vec<u32>,
}

/// A cell no series has a sample for.
const NO_SAMPLE: u32 = u32::MAX;

/// The sample a cell points at, if any.
fn sample(cell: &u32) -> Option<usize> {
    (*cell != NO_SAMPLE).then_some(*cell as usize)
}

impl<'a> Table<'a> {
    fn new(traffic: &'a Traffic) -> Table<'a> {
        let series: Vec<&Series> = traffic.series.iter().collect();
        let times = row_times(&series, traffic.step_seconds());
        let width = series.len();
        let mut cells = vec![NO_SAMPLE; times.len() * width];
        for (col, s) in series.iter().enumerate() {
            // Both sorted: one forward walk places every sample.
            let mut row = 0;
            for (i, &t) in s.times().iter().enumerate() {
                while times[row] < t {
                    row += 1;
                }
                cells[row * width + col] = u32::try_from(i).expect("fewer than 2^32 samples");
            }
        }
        Table {
            series,
            times,
            cells,
        }
    }

    /// The rows: each time with its cells, one a series (see [`sample`]).
    fn rows(&self) -> impl Iterator<Item = (i64, &[u32])> + '_ {
        let width = self.series.len().max(1);
        self.times.iter().copied().zip(self.cells.chunks(width))
    }

    /// Column names; `unit_in_names` (CSV, which has no other place for it) names a
    /// column of octets per data set `receive_octets`, so reading the file back never takes
    /// octets for a rate. JSON says `method` instead.
    fn headers(&self, unit_in_names: bool) -> Vec<String> {
        let mut h = vec!["date".to_string()];
        h.extend(self.series.iter().map(|s| {
            let octets = unit_in_names && s.origin.method == Some(crate::model::Method::Sum);
            if !octets {
                return s.name();
            }
            let name = crate::model::column_name(s.scope, "", false);
            let name = format!("{name}{}", crate::source::file::OCTETS_SUFFIX);
            if s.label.is_empty() {
                name
            } else {
                format!("{name}@{}", s.label)
            }
        }));
        h.extend(self.series.iter().map(|s| s.count_name()));
        h
    }
}

/// Every series' times, ascending and once each (series are sorted with unique times),
/// plus, when they sit on a regular grid of `step` seconds that is not much larger than
/// the data, the grid points missing from every series, so gaps show as empty rows.
fn row_times(series: &[&Series], step: i64) -> Vec<i64> {
    let mut times: Vec<i64> = match series {
        [] => Vec::new(),
        [first, rest @ ..] if rest.iter().all(|s| s.times() == first.times()) => {
            first.times().to_vec()
        }
        _ => {
            let mut all: Vec<i64> = series.iter().flat_map(|s| s.times()).copied().collect();
            all.sort_unstable();
            all.dedup();
            all
        }
    };
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return times;
    };
    if step <= 0 || times.iter().any(|t| (t - first) % step != 0) {
        return times;
    }
    let grid = (last - first) / step + 1;
    if grid > 4 * times.len() as i64 + 1_000 || grid == times.len() as i64 {
        return times;
    }
    times = (0..grid).map(|k| first + k * step).collect();
    times
}

/// ISO 8601 UTC with a `Z`: `2015-05-05T00:00:00Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Appends [`iso`] of `t` (whole seconds since the epoch) to `out`. The date part is
/// formatted once per day (`day` keeps the last one), the time by hand: the CSV of a
/// report writes one a row.
fn push_iso(out: &mut Vec<u8>, t: i64, day: &mut Option<(i64, String)>) {
    let (d, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let date = match day {
        Some((cached, date)) if *cached == d => date,
        _ => {
            let Some(time) = DateTime::from_timestamp(t, 0) else {
                unreachable!("a validated time is a valid date")
            };
            let text = iso(time);
            // Only plain years (`2015-…`) take the by-hand path; others are written whole.
            if text.len() != 20 {
                out.extend_from_slice(text.as_bytes());
                return;
            }
            &day.insert((d, text[..10].to_string())).1
        }
    };
    out.extend_from_slice(date.as_bytes());
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    for (sep, n) in [(b'T', h), (b':', m), (b':', s)] {
        out.extend_from_slice(&[sep, b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
    }
    out.push(b'Z');
}

/// Appends `v` as Rust's `Display` writes it (the shortest digits that parse back to the
/// same `f64`, never an exponent), through zmij and itoa where their text is the same.
fn push_f64(out: &mut Vec<u8>, v: f64) {
    use std::io::Write;
    // Whole numbers: itoa. (-0.0 is "-0" in Display and goes the long way.)
    if v.fract() == 0.0 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
        out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
        return;
    }
    // Between 1e-5 and 1e15 zmij writes plain decimals with the same shortest digits (and
    // twice as fast as ryu), but
    // where two shortest candidates are equally near (217.25 between 217.2 and 217.3) it
    // may pick the other one. That tie needs the exact value to end one decimal digit
    // after the shortest form's last, and the exact value has one fractional decimal
    // digit per fractional bit: with more than 22 of them (the shortest form has at most
    // 21 fractional digits here) there is no tie, and zmij's text is Display's.
    if v.is_finite() && (1e-5..1e15).contains(&v.abs()) && fraction_bits(v) > 22 {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
        return;
    }
    write!(out, "{v}").expect("write to memory");
}

/// Binary digits after the point in `v`'s exact value (0 for a whole number): the
/// exact decimal expansion has as many digits after the point.
fn fraction_bits(v: f64) -> u32 {
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, e) = if exp == 0 {
        (fraction, -1074)
    } else {
        (fraction | 1 << 52, exp - 1075)
    };
    if mantissa == 0 {
        return 0;
    }
    let lowest = e + mantissa.trailing_zeros() as i32;
    lowest.min(0).unsigned_abs()
}

/// CSV for spreadsheets.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvExporter;

impl Exporter for CsvExporter {
    fn export(&self, traffic: &Traffic) -> Vec<u8> {
        let table = Table::new(traffic);
        // A row: the date (20 bytes), then a comma and up to ~20 characters a value and
        // a few a count per series: sized once, not grown (and copied) half-way.
        let row = 21 + 24 * table.series.len();
        let mut w = csv::Writer::from_writer(Vec::with_capacity(64 + table.times.len() * row));
        w.write_record(table.headers(true))
            .expect("write to memory");
        let mut out = w.into_inner().expect("flush to memory");
        // Every cell below is a date, a number or empty in a row of several fields: the
        // csv crate would write each as it is (nothing to quote), so the rows are written
        // straight into the buffer (a test holds them to the csv crate's bytes).
        let mut day = None;
        for (time, cells) in table.rows() {
            push_iso(&mut out, time, &mut day);
            for (s, cell) in table.series.iter().zip(cells) {
                out.push(b',');
                if let Some(i) = sample(cell) {
                    push_f64(&mut out, s.values()[i]);
                }
            }
            for (s, cell) in table.series.iter().zip(cells) {
                out.push(b',');
                if let Some(c) = sample(cell).and_then(|i| s.count(i)) {
                    out.extend_from_slice(itoa::Buffer::new().format(c).as_bytes());
                }
            }
            out.push(b'\n');
        }
        out
    }
}

/// JSON: the same rows as the CSV, plus what is known of their origin.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonExporter;

#[derive(Serialize)]
struct JsonDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<crate::model::Method>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    targets: Vec<&'a crate::model::Target>,
    columns: Vec<String>,
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

impl Exporter for JsonExporter {
    fn export(&self, traffic: &Traffic) -> Vec<u8> {
        let table = Table::new(traffic);
        let columns = table.headers(false);
        let first = table.series.first();
        let mut targets: Vec<&crate::model::Target> = table
            .series
            .iter()
            .filter_map(|s| s.origin.target.as_ref())
            .collect();
        targets.dedup();
        let rows = table
            .rows()
            .map(|(time, cells)| {
                let cells: Vec<Option<usize>> = cells.iter().map(sample).collect();
                let time = DateTime::from_timestamp(time, 0).expect("valid time");
                let mut row = serde_json::Map::new();
                row.insert("date".into(), iso(time).into());
                for (s, cell) in table.series.iter().zip(&cells) {
                    let v = cell.map_or(serde_json::Value::Null, |i| s.values()[i].into());
                    row.insert(s.name(), v);
                }
                for (s, cell) in table.series.iter().zip(&cells) {
                    let c = cell.and_then(|i| s.count(i));
                    row.insert(
                        s.count_name(),
                        c.map_or(serde_json::Value::Null, Into::into),
                    );
                }
                row
            })
            .collect();
        let doc = JsonDoc {
            period: first.and_then(|s| s.origin.period),
            method: first.and_then(|s| s.origin.method),
            targets,
            columns,
            rows,
        };
        let mut out = serde_json::to_vec_pretty(&doc).expect("serialise to memory");
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // the seed's own digits, on purpose
mod tests {
    use super::*;
    use crate::model::{Point, Scope};
    use crate::source::file::{parse_export_csv, parse_export_json};

    fn traffic() -> Traffic {
        let t = |h: i64| DateTime::from_timestamp(1_430_784_000 + h * 3600, 0).unwrap();
        let rx = Series::new(
            Scope::Receive,
            vec![
                Point {
                    time: t(0),
                    value: 344130.30069930002,
                    count: Some(143),
                },
                Point {
                    time: t(1),
                    value: 0.1,
                    count: Some(6),
                },
                Point {
                    time: t(3),
                    value: 1e-7,
                    count: None,
                },
            ],
        );
        let tx = Series::new(
            Scope::Transmit,
            vec![
                Point {
                    time: t(0),
                    value: 658.34027777777999,
                    count: Some(144),
                },
                Point {
                    time: t(3),
                    value: 2.0,
                    count: Some(6),
                },
            ],
        );
        Traffic::new(vec![rx, tx])
    }

    #[test]
    fn csv_layout_and_gaps() {
        let text = String::from_utf8(CsvExporter.export(&traffic())).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "date,receive,transmit,receive_count,transmit_count"
        );
        assert_eq!(
            lines[1],
            "2015-05-05T00:00:00Z,344130.3006993,658.34027777778,143,144"
        );
        assert_eq!(lines[2], "2015-05-05T01:00:00Z,0.1,,6,");
        assert_eq!(
            lines[3], "2015-05-05T02:00:00Z,,,,",
            "a missing hour keeps its row"
        );
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn csv_round_trip_is_byte_exact() {
        let first = CsvExporter.export(&traffic());
        let back = parse_export_csv(std::str::from_utf8(&first).unwrap()).unwrap();
        assert_eq!(back.series[0].to_points(), traffic().series[0].to_points());
        assert_eq!(CsvExporter.export(&back), first);
    }

    #[test]
    fn json_round_trip_is_exact() {
        let first = JsonExporter.export(&traffic());
        let back = parse_export_json(std::str::from_utf8(&first).unwrap()).unwrap();
        assert_eq!(back.series[0].to_points(), traffic().series[0].to_points());
        assert_eq!(back.series[1].to_points(), traffic().series[1].to_points());
        assert_eq!(JsonExporter.export(&back), first);
    }

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        let edge = [
            0.0,
            -0.0,
            1.0,
            123.0,
            0.1,
            1.0 / 3.0,
            1e-5,
            9.999_999_999_999_999e-6,
            1e15 - 0.5,
            1e15,
            1e15 + 2.0,
            1e16,
            1e18,
            4_503_599_627_370_496.5,
            5e-324,
            f64::MAX,
            344130.30069930002,
        ];
        for v in edge.into_iter().chain(edge.map(|v| -v)) {
            let mut out = Vec::new();
            push_f64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string(), "{v:e}");
        }
    }

    /// Values halfway between two shortest decimals: zmij and Display may round such a tie
    /// differently, so they take Display's way.
    #[test]
    fn ties_between_two_shortest_forms_are_written_as_display_writes_them() {
        // A real tie: zmij alone writes the other neighbour.
        let tie: f64 = -803_943_735_769_217.3;
        assert_ne!(zmij::Buffer::new().format_finite(tie), tie.to_string());
        for v in [
            -803_943_735_769_217.3,
            803_943_735_769_217.25,
            2.5e14 + 0.75,
            1.125e14,
        ] {
            let mut out = Vec::new();
            push_f64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string(), "{v:e}");
        }
        assert_eq!(fraction_bits(217.25), 2);
        assert_eq!(fraction_bits(4.0), 0);
        assert_eq!(fraction_bits(0.1), 55);
        assert_eq!(fraction_bits(f64::MIN_POSITIVE / 4.0), 1024);
    }

    proptest::proptest! {
        #[test]
        fn any_number_is_written_as_display_writes_it(bits in proptest::num::u64::ANY) {
            let v = f64::from_bits(bits);
            proptest::prop_assume!(v.is_finite());
            let mut out = Vec::new();
            push_f64(&mut out, v);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }

        /// Numbers with few bits after the point, where ties between two shortest
        /// decimal forms live.
        #[test]
        fn short_fractions_are_written_as_display_writes_them(
            n in -(1i64 << 53)..(1i64 << 53),
            k in 0u32..30,
        ) {
            let v = n as f64 / f64::from(1u32 << k.min(31));
            let mut out = Vec::new();
            push_f64(&mut out, v);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }

        /// Traffic-sized numbers with any bits after the point: the fast path's range.
        #[test]
        fn numbers_of_every_size_in_the_plain_range_are_written_as_display_writes_them(
            mantissa in 0u64..(1 << 52),
            exp in -17i32..50,
            negative in proptest::bool::ANY,
        ) {
            let v = ((mantissa | 1 << 52) as f64) * 2f64.powi(exp - 52);
            let v = if negative { -v } else { v };
            let mut out = Vec::new();
            push_f64(&mut out, v);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }

        #[test]
        fn dates_are_written_as_iso_writes_them(
            start in -62_000_000_000i64..250_000_000_000,
            steps in proptest::collection::vec(0i64..200_000, 1..40),
        ) {
            let mut day = None;
            let mut t = start;
            for step in steps {
                t += step;
                let mut out = Vec::new();
                push_iso(&mut out, t, &mut day);
                let want = iso(DateTime::from_timestamp(t, 0).unwrap());
                proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), want);
            }
        }

        /// The rows written straight into the buffer are the bytes the csv crate writes
        /// for the same fields: gaps, counts or none, any values.
        #[test]
        fn csv_rows_are_the_csv_crates_bytes(
            sets in proptest::collection::vec(
                proptest::collection::btree_map(
                    0i64..300,
                    (proptest::num::f64::ANY, proptest::option::of(0u64..100)),
                    0..40,
                ),
                1..4,
            ),
        ) {
            let series: Vec<Series> = sets
                .iter()
                .enumerate()
                .map(|(n, set)| {
                    let points = set.iter().map(|(&k, &(v, c))| Point {
                        time: DateTime::from_timestamp(1_430_784_000 + k * 3600, 0).unwrap(),
                        value: if v.is_finite() { v } else { k as f64 },
                        count: c,
                    });
                    let scope = [Scope::Receive, Scope::Transmit, Scope::Total][n % 3];
                    Series::new(scope, points.collect())
                })
                .collect();
            let traffic = Traffic::new(series);
            let table = Table::new(&traffic);
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(table.headers(true)).unwrap();
            for (time, cells) in table.rows() {
                let mut record = vec![iso(DateTime::from_timestamp(time, 0).unwrap())];
                for (s, cell) in table.series.iter().zip(cells) {
                    record.push(sample(cell).map_or(String::new(), |i| s.values()[i].to_string()));
                }
                for (s, cell) in table.series.iter().zip(cells) {
                    let count = sample(cell).and_then(|i| s.count(i));
                    record.push(count.map_or(String::new(), |c| c.to_string()));
                }
                w.write_record(&record).unwrap();
            }
            let want = String::from_utf8(w.into_inner().unwrap()).unwrap();
            let got = String::from_utf8(CsvExporter.export(&traffic)).unwrap();
            proptest::prop_assert_eq!(got, want);
        }

        /// The table's rows are the union of the series' times, each sample in its row,
        /// plus empty grid rows: as a map from time to cells would have it.
        #[test]
        fn table_rows_are_the_union_of_times(
            sets in proptest::collection::vec(
                proptest::collection::btree_set(0i64..400, 0..60), 1..4),
            step in 1i64..4,
        ) {
            let series: Vec<Series> = sets
                .iter()
                .map(|set| {
                    let points = set.iter().map(|&k| Point {
                        time: DateTime::from_timestamp(1_430_784_000 + k * step * 3600, 0).unwrap(),
                        value: k as f64,
                        count: None,
                    });
                    Series::new(Scope::Receive, points.collect())
                })
                .collect();
            let traffic = Traffic::new(series);
            let table = Table::new(&traffic);
            let mut want: std::collections::BTreeMap<i64, Vec<Option<usize>>> = Default::default();
            for (col, s) in traffic.series.iter().enumerate() {
                for (i, &t) in s.times().iter().enumerate() {
                    want.entry(t).or_insert_with(|| vec![None; traffic.series.len()])[col] = Some(i);
                }
            }
            let got: Vec<(i64, Vec<Option<usize>>)> = table
                .rows()
                .map(|(t, cells)| (t, cells.iter().map(sample).collect()))
                .collect();
            let filled: Vec<&(i64, Vec<Option<usize>>)> =
                got.iter().filter(|(_, c)| c.iter().any(Option::is_some)).collect();
            let want: Vec<(i64, Vec<Option<usize>>)> = want.into_iter().collect();
            proptest::prop_assert_eq!(filled.len(), want.len());
            for (g, w) in filled.iter().zip(&want) {
                proptest::prop_assert_eq!(*g, w);
            }
            // Empty rows only on the grid, between the first and last time.
            for w in got.windows(2) {
                proptest::prop_assert!(w[0].0 < w[1].0);
            }
        }
    }
}
