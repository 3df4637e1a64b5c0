//! Shared checks for the fuzz targets.
#![allow(dead_code)]

use trafficgraph::export::{CsvExporter, Exporter, JsonExporter};
use trafficgraph::model::Traffic;
use trafficgraph::source::file::{parse_export_csv, parse_export_json};

/// What parsed must survive export then import, in both formats: same series in the same
/// order, same scope, label and points (time, value, count).
pub fn check_round_trip(t: &Traffic) {
    let csv = CsvExporter.export(t);
    let text = std::str::from_utf8(&csv).expect("CSV export is UTF-8");
    let back = parse_export_csv(text)
        .unwrap_or_else(|e| panic!("our CSV export does not parse back: {e}\n{text}"));
    same(t, &back, "csv", text);

    let json = JsonExporter.export(t);
    let text = std::str::from_utf8(&json).expect("JSON export is UTF-8");
    let back = parse_export_json(text)
        .unwrap_or_else(|e| panic!("our JSON export does not parse back: {e}\n{text}"));
    same(t, &back, "json", text);
}

fn same(a: &Traffic, b: &Traffic, format: &str, text: &str) {
    assert_eq!(
        a.series.len(),
        b.series.len(),
        "{format}: series count changed\n{text}"
    );
    for (x, y) in a.series.iter().zip(&b.series) {
        assert_eq!(
            (x.scope, &x.label),
            (y.scope, &y.label),
            "{format}: series name changed\n{text}"
        );
        assert_eq!(
            x.len(),
            y.len(),
            "{format}: point count of {} changed\n{text}",
            x.name()
        );
        for (p, q) in x.points().zip(y.points()) {
            assert_eq!(p.time, q.time, "{format}: time changed\n{text}");
            assert_eq!(
                p.value.to_bits() == q.value.to_bits() || p.value == q.value,
                true,
                "{format}: value {} became {}\n{text}",
                p.value,
                q.value
            );
            assert_eq!(p.count, q.count, "{format}: count changed\n{text}");
        }
    }
}
