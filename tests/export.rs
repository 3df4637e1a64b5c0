//! Export through the CLI: formats, round trips, stdout.

use crate::util::{fixture, run, scratch, stdout};

fn fixture_arg(name: &str) -> String {
    fixture(name).to_string_lossy().into_owned()
}

#[test]
fn csv_export_of_hostway_json_matches_csv_body_and_round_trips_byte_exact() {
    let dir = scratch();
    let a = dir.path().join("from-json.csv");
    let b = dir.path().join("from-csv.csv");
    let c = dir.path().join("again.csv");
    let o = run(&[
        "export",
        "--input",
        &fixture_arg("hostway-30d-hourly-receive.json"),
        "--input",
        &fixture_arg("hostway-30d-hourly-transmit.json"),
        "-o",
        a.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    let o = run(&[
        "export",
        "-i",
        &fixture_arg("hostway-30d-hourly-receive.csv"),
        "-i",
        &fixture_arg("hostway-30d-hourly-transmit.csv"),
        "-o",
        b.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    let first = std::fs::read_to_string(&a).unwrap();
    assert_eq!(
        first,
        std::fs::read_to_string(&b).unwrap(),
        "JSON and CSV bodies differ"
    );

    // Our own export read back and written again is the identity.
    let o = run(&[
        "export",
        "-i",
        a.to_str().unwrap(),
        "-o",
        c.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(first, std::fs::read_to_string(&c).unwrap());

    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(
        lines[0],
        "date,receive,transmit,receive_count,transmit_count"
    );
    assert!(
        lines[1].starts_with("2015-05-01T00:00:00Z,"),
        "{}",
        lines[1]
    );
    // 30 days of hours, including the six-hour outage as empty rows.
    assert_eq!(lines.len(), 1 + 30 * 24);
    assert_eq!(lines[1 + 200], "2015-05-09T08:00:00Z,,,,");
    // Transmit alone lost hour 517: receive present, transmit empty.
    let row: Vec<&str> = lines[1 + 517].split(',').collect();
    assert!(!row[1].is_empty() && row[2].is_empty(), "{row:?}");
}

#[test]
#[allow(clippy::excessive_precision)] // the seed's own digits, on purpose
fn raw_values_survive_exactly() {
    let o = run(&[
        "export",
        "-i",
        &fixture_arg("hostway-seed-daily-receive.json"),
        "-o",
        "-",
    ]);
    assert!(o.status.success(), "{o:?}");
    let text = stdout(&o);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("date,receive,receive_count"));
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(row[0], "2015-05-05T00:00:00Z");
    assert_eq!(row[1].parse::<f64>().unwrap(), 344130.30069930002);
    assert_eq!(row[2], "143");
    // 2015-05-06 is missing in the seed: an empty row, then the 7th.
    assert_eq!(lines.next(), Some("2015-05-06T00:00:00Z,,"));
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(row[1].parse::<f64>().unwrap(), 658.34027777777999);
}

#[test]
fn json_export_from_file_name_and_back() {
    let dir = scratch();
    let json = dir.path().join("t.json");
    let csv = dir.path().join("t.csv");
    let o = run(&[
        "export",
        "-i",
        &fixture_arg("hostway-2d-hourly-receive.json"),
        "-o",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(
        doc["columns"],
        serde_json::json!(["date", "receive", "receive_count"])
    );
    assert_eq!(doc["rows"].as_array().unwrap().len(), 48);
    assert_eq!(doc["rows"][0]["date"], "2015-05-01T00:00:00Z");
    let o = run(&[
        "export",
        "-i",
        json.to_str().unwrap(),
        "-o",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    let o2 = run(&[
        "export",
        "-i",
        &fixture_arg("hostway-2d-hourly-receive.json"),
        "-o",
        "-",
    ]);
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), stdout(&o2));
}
