//! The generator of `fixtures/`: deterministic synthetic Hostway bodies (JSON and CSV,
//! hourly and daily, with gaps, a spike and the seed's trailing comma), malformed bodies,
//! and our own export of the same data.
//!
//! `fixtures_are_up_to_date` regenerates everything in memory and compares it with the
//! committed files, so fixtures never drift from their recipe; `TRAFFICGRAPH_BLESS=1 cargo
//! test fixtures_are_up_to_date` rewrites them.

use std::fmt::Write as _;

use crate::util::{blessing, fixtures_dir};

/// 2015-05-01T00:00:00Z, the start of every generated series.
const START: i64 = 1_430_438_400;

/// splitmix64: a fixed, well-mixed hash, so the noise never changes between runs.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Noise in [-1, 1) for hour `h` of stream `salt`.
fn noise(h: u64, salt: u64) -> f64 {
    (mix(h ^ (salt << 40)) >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// Bytes per second at hour `h` since START: diurnal and weekly cycles, noise, one spike.
fn rate(h: u64, transmit: bool) -> f64 {
    let hod = (h % 24) as f64;
    let dow = (h / 24 + 4) % 7; // 2015-05-01 was a Friday; 0 = Monday
    let diurnal = 0.45
        + 0.55 * (-((hod - 20.0) / 4.0).powi(2)).exp()
        + 0.30 * (-((hod - 13.0) / 3.0).powi(2)).exp();
    let weekly = if dow >= 5 { 0.7 } else { 1.0 };
    let base = if transmit { 9.5e6 } else { 3.1e6 };
    let salt = if transmit { 2 } else { 1 };
    let spike = if h == 331 { 6.5 } else { 1.0 };
    base * diurnal * weekly * (1.0 + 0.12 * noise(h, salt)) * spike
}

/// Hours with no data set: a six-hour outage in both directions, one lost hour in transmit.
fn missing(h: u64, transmit: bool) -> bool {
    (200..206).contains(&h) || (transmit && h == 517)
}

/// Samples behind one hourly data set: six 10-minute samples, now and then one lost.
fn count(h: u64) -> u64 {
    if mix(h ^ 77).is_multiple_of(29) {
        5
    } else {
        6
    }
}

fn date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .expect("valid")
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

struct Row {
    count: u64,
    date: String,
    value: f64,
}

fn hourly(days: u64, transmit: bool) -> Vec<Row> {
    (0..days * 24)
        .filter(|&h| !missing(h, transmit))
        .map(|h| Row {
            count: count(h),
            date: date(START + h as i64 * 3600),
            value: rate(h, transmit),
        })
        .collect()
}

/// Daily totals (octets per day, method sum) of receive + transmit, one day missing.
fn daily_total(days: u64) -> Vec<Row> {
    (0..days)
        .filter(|&d| d != 40)
        .map(|d| {
            let octets: f64 = (d * 24..d * 24 + 24)
                .map(|h| (rate(h, false) + rate(h, true)) * 3600.0)
                .sum();
            Row {
                count: 144,
                date: date(START + d as i64 * 86_400),
                value: octets,
            }
        })
        .collect()
}

/// A Hostway JSON body laid out like the seed's, optionally with its trailing comma.
fn json_body(rows: &[Row], trailing_comma: bool) -> String {
    let mut s = String::from(" [\n");
    for (i, r) in rows.iter().enumerate() {
        let sep = if i + 1 < rows.len() || trailing_comma {
            ","
        } else {
            ""
        };
        write!(
            s,
            "    {{\n       \"count\": {}, \n       \"date\": \"{}\", \n       \"values\": {}\n    }}{}\n",
            r.count, r.date, r.value, sep
        )
        .unwrap();
    }
    s.push_str(" ]\n");
    s
}

/// A Hostway `text/csv` body.
fn csv_body(rows: &[Row]) -> String {
    let mut s = String::from("count,date,values\n");
    for r in rows {
        writeln!(s, "{},{},{}", r.count, r.date, r.value).unwrap();
    }
    s
}

/// The seed document's own sample body, verbatim.
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
 ]
"#;

/// Every fixture: (file name under fixtures/, contents).
pub fn generate() -> Vec<(&'static str, String)> {
    let rx = hourly(30, false);
    let tx = hourly(30, true);
    let rx2 = hourly(2, false);
    vec![
        ("hostway-30d-hourly-receive.json", json_body(&rx, false)),
        ("hostway-30d-hourly-transmit.json", json_body(&tx, true)),
        ("hostway-30d-hourly-receive.csv", csv_body(&rx)),
        ("hostway-30d-hourly-transmit.csv", csv_body(&tx)),
        ("hostway-2d-hourly-receive.json", json_body(&rx2, true)),
        (
            "hostway-90d-daily-total.json",
            json_body(&daily_total(90), true),
        ),
        ("hostway-seed-daily-receive.json", SEED_BODY.to_string()),
        (
            "hostway-small-receive.json",
            "[{\"count\": 6, \"date\": \"2015-05-05 00:00:00\", \"values\": 1000},\n \
             {\"count\": 6, \"date\": \"2015-05-05 01:00:00\", \"values\": 3000},\n \
             {\"count\": 5, \"date\": \"2015-05-05 02:00:00\", \"values\": 2000},\n \
             {\"count\": 6, \"date\": \"2015-05-05 04:00:00\", \"values\": 4000}]\n"
                .to_string(),
        ),
        (
            "bad/bad-date.json",
            "[\n {\"count\": 6, \"date\": \"2015-05-05 00:00:00\", \"values\": 1.5},\n \
             {\"count\": 6, \"date\": \"05/05/2015 01:00\", \"values\": 2.5}\n]\n"
                .to_string(),
        ),
        (
            "bad/bad-value.csv",
            "count,date,values\n6,2015-05-05 00:00:00,1.5\n6,2015-05-05 01:00:00,fast\n"
                .to_string(),
        ),
        (
            "bad/bad-count.csv",
            "count,date,values\n6,2015-05-05 00:00:00,1.5\n-1,2015-05-05 01:00:00,2.5\n"
                .to_string(),
        ),
        (
            "bad/uneven-row.csv",
            "date,receive,transmit\n2015-05-05T00:00:00Z,1,2\n2015-05-05T01:00:00Z,3\n".to_string(),
        ),
        (
            "bad/truncated.json",
            "[\n {\"count\": 6, \"date\": \"2015-05-05 00:00:00\", \"values\": 1.5},\n \
             {\"count\": 6, \"date\": \"2015-05-05 01:"
                .to_string(),
        ),
        (
            "bad/wrong-shape.json",
            "[\n {\"count\": 6, \"when\": \"2015-05-05 00:00:00\", \"values\": 1.5}\n]\n"
                .to_string(),
        ),
        (
            "bad/overlimit-error.json",
            "{\n    \"overLimit\": {\n        \"message\": \"GET data error\",\n        \
             \"code\": 403,\n        \"details\": \"The (startDate, endDate) range is too \
             large. Maximum number of returned data sets exceeded.\"\n    }\n}\n"
                .to_string(),
        ),
        ("bad/empty.json", "[]\n".to_string()),
        ("bad/not-traffic.csv", "name,price\nwidget,3\n".to_string()),
    ]
}

#[test]
fn fixtures_are_up_to_date() {
    let dir = fixtures_dir();
    let mut stale = Vec::new();
    for (name, contents) in generate() {
        let path = dir.join(name);
        if blessing() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &contents).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(contents.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "fixtures differ from their generator: {stale:?}; rerun with TRAFFICGRAPH_BLESS=1"
    );
}
