//! Export formats. Each [`Exporter`] turns a [`Traffic`] into bytes, so every format is tested
//! without I/O; writing them out is [`crate::output`]'s job.
//!
//! Both formats have one row per timestamp: `date` (ISO 8601 UTC, `2015-05-05T00:00:00Z`),
//! the value columns (`receive,transmit`, or `total`, or per-IP `receive@10.0.0.1`), then the
//! count columns. Values are written in the shortest form that parses back to the same
//! `f64`, so export then import is the identity. A timestamp missing from a series is an
//! empty cell (CSV) or `null` (JSON); on a regular grid, hours or days missing from every
//! series still get their row, so gaps show in a spreadsheet.

use std::collections::BTreeMap;
use std::str::FromStr;

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

impl FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            other => Err(format!("unknown format '{other}' (expected csv or json)")),
        }
    }
}

/// The table both formats write: column names and one row of optional cells per timestamp.
struct Table<'a> {
    series: Vec<&'a Series>,
    rows: Vec<(DateTime<Utc>, Vec<Option<usize>>)>,
}

impl<'a> Table<'a> {
    fn new(traffic: &'a Traffic) -> Table<'a> {
        let series: Vec<&Series> = traffic.series.iter().collect();
        let mut by_time: BTreeMap<i64, Vec<Option<usize>>> = BTreeMap::new();
        for (col, s) in series.iter().enumerate() {
            for (i, &t) in s.times().iter().enumerate() {
                by_time.entry(t).or_insert_with(|| vec![None; series.len()])[col] = Some(i);
            }
        }
        fill_grid(&mut by_time, traffic.step_seconds(), series.len());
        let rows = by_time
            .into_iter()
            .map(|(t, cells)| (DateTime::from_timestamp(t, 0).expect("valid time"), cells))
            .collect();
        Table { series, rows }
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

/// Adds empty rows for timestamps missing from every series, when the data sits on a
/// regular grid of `step` seconds and the grid is not much larger than the data.
fn fill_grid(rows: &mut BTreeMap<i64, Vec<Option<usize>>>, step: i64, width: usize) {
    let (Some(&first), Some(&last)) = (rows.keys().next(), rows.keys().next_back()) else {
        return;
    };
    if step <= 0 || rows.keys().any(|t| (t - first) % step != 0) {
        return;
    }
    let grid = (last - first) / step + 1;
    if grid > 4 * rows.len() as i64 + 1_000 {
        return;
    }
    for k in 0..grid {
        rows.entry(first + k * step)
            .or_insert_with(|| vec![None; width]);
    }
}

/// ISO 8601 UTC with a `Z`: `2015-05-05T00:00:00Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// CSV for spreadsheets.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvExporter;

impl Exporter for CsvExporter {
    fn export(&self, traffic: &Traffic) -> Vec<u8> {
        let table = Table::new(traffic);
        let mut w = csv::Writer::from_writer(Vec::with_capacity(table.rows.len() * 48));
        w.write_record(table.headers(true))
            .expect("write to memory");
        let mut record: Vec<String> = Vec::new();
        for (time, cells) in &table.rows {
            record.clear();
            record.push(iso(*time));
            for (s, cell) in table.series.iter().zip(cells) {
                record.push(cell.map_or(String::new(), |i| s.values()[i].to_string()));
            }
            for (s, cell) in table.series.iter().zip(cells) {
                let count = cell.and_then(|i| s.count(i));
                record.push(count.map_or(String::new(), |c| c.to_string()));
            }
            w.write_record(&record).expect("write to memory");
        }
        w.into_inner().expect("flush to memory")
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
            .rows
            .iter()
            .map(|(time, cells)| {
                let mut row = serde_json::Map::new();
                row.insert("date".into(), iso(*time).into());
                for (s, cell) in table.series.iter().zip(cells) {
                    let v = cell.map_or(serde_json::Value::Null, |i| s.values()[i].into());
                    row.insert(s.name(), v);
                }
                for (s, cell) in table.series.iter().zip(cells) {
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
}
