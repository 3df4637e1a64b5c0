//! Billing-grade trust: a server on loopback that answers each request with a twisted
//! version of the right answer (rows outside the range, another chunk's hour, duplicates
//! that disagree, negative or absurd values, off-grid times, empty or HTML bodies, a
//! creation date after the range), driven through the CLI. Every case must end in exit 1,
//! a one-line message naming the chunk, row and rule, no output file and no cache entry;
//! the same run against the honest server afterwards must give exact figures. Then the
//! cache: an entry written before the rules that fails them is refused with how to refresh
//! it, `cache verify` lists it, `--refresh` replaces it.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone, Utc};

use crate::util::{http_reply, one_ip, run_in, scratch, stderr, stdout, Loopback};

/// A twist applied to the honest answer of one request.
#[derive(Clone, Copy, Debug)]
enum Twist {
    Honest,
    /// A row dated in 1999 added.
    Ancient,
    /// The first chunk also sends the second chunk's first hour, with another value.
    NeighbourHour,
    /// The first hour sent twice with different values.
    Contradiction,
    /// One value negative.
    Negative,
    /// One value near the largest double.
    Huge,
    /// One row at half past.
    OffGrid,
    /// `[]`.
    Empty,
    /// A 200 with no body.
    NoBody,
    /// A 200 HTML page.
    Html,
    /// 400: minimum start date after the range.
    CreatedLater,
    /// 400: a minimum start date that is the requested start itself.
    MinDateIsStart,
}

/// The honest value of an hour: 1 000 to 24 000 bytes/s by hour of day, plus the day.
fn honest(t: i64) -> f64 {
    ((t / 3600) % 24 + 1) as f64 * 1000.0 + ((t / 86_400) % 7) as f64
}

fn day_start(d: &str) -> i64 {
    let d = NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
    d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
}

fn stamp(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn row(t: i64, v: f64) -> String {
    format!(r#"{{"count": 6, "date": "{}", "values": {v:?}}}"#, stamp(t))
}

/// The response to a request for `start..=end` (days) under `twist`.
fn respond(twist: Twist, start: &str, end: &str, first_start: &str) -> (String, String) {
    let (a, b) = (day_start(start), day_start(end) + 86_400);
    let mut rows: Vec<String> = (a..b).step_by(3600).map(|t| row(t, honest(t))).collect();
    let json = "HTTP/1.1 200 OK\r\nContent-Type: application/json".to_string();
    let first_chunk = start == first_start;
    match twist {
        Twist::Honest => {}
        Twist::Ancient => rows.push(row(day_start("1999-01-01"), 5e9)),
        Twist::NeighbourHour if first_chunk => rows.push(row(b, 7.0)),
        Twist::NeighbourHour => {}
        Twist::Contradiction => rows.push(row(a, 123.0)),
        Twist::Negative => rows[5] = row(a + 5 * 3600, -2500.0),
        Twist::Huge => rows[5] = row(a + 5 * 3600, 1.7e308),
        Twist::OffGrid => rows[5] = row(a + 5 * 3600 + 1800, 10.0),
        Twist::Empty => rows.clear(),
        Twist::NoBody => return (json, String::new()),
        Twist::Html => {
            return (
                "HTTP/1.1 200 OK\r\nContent-Type: text/html".into(),
                "<html><body>Maintenance</body></html>".into(),
            )
        }
        Twist::MinDateIsStart => {}
        Twist::CreatedLater => {
            return (
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json".into(),
                r#"{"badRequest": {"message": "GET data error", "code": 400, "details":
                    {"startDate": "2025-01-01 is less than minimum value 2025-06-01"}}}"#
                    .into(),
            )
        }
    }
    if let Twist::MinDateIsStart = twist {
        return (
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json".into(),
            format!(
                r#"{{"badRequest": {{"details": {{"startDate": "{start} is less than minimum value {start}"}}}}}}"#
            ),
        );
    }
    (json, format!("[{}]", rows.join(",\n")))
}

/// Serves `twist` on 127.0.0.1:0; the first chunk is the one starting `first_start`.
fn serve(twist: Twist, first_start: &'static str) -> Loopback {
    Loopback::start(move |target, _| {
        let param = |k: &str| {
            target
                .split(['?', '&'])
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .unwrap_or("2025-03-01")
                .to_string()
        };
        let (head, body) = respond(twist, &param("startDate"), &param("endDate"), first_start);
        http_reply(&head, &body)
    })
}

/// Cache entries (JSON files) under `dir`.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn render_args<'a>(base: &'a str, start: &'a str, end: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = one_ip(
        "render",
        base,
        start,
        end,
        &["--cache-dir", "cache", "-o", "out.png", "--stats", "json"],
    );
    args.extend_from_slice(extra);
    args
}

/// Runs `render --stats json` for `start..=end`; returns the process output.
fn render(dir: &Path, base: &str, start: &str, end: &str, extra: &[&str]) -> std::process::Output {
    run_in(dir, &render_args(base, start, end, extra))
}

/// The figures the honest server's rows give for `start..=end`, recomputed here: max,
/// total bytes and the nearest-rank 95th percentile, in bits/s and bytes.
fn honest_figures(start: &str, end: &str) -> (f64, f64, f64) {
    let (a, b) = (day_start(start), day_start(end) + 86_400);
    let mut v: Vec<f64> = (a..b).step_by(3600).map(honest).collect();
    let max = v.iter().copied().fold(0.0, f64::max) * 8.0;
    let total = v.iter().sum::<f64>() * 3600.0;
    v.sort_by(f64::total_cmp);
    let rank = (0.95 * v.len() as f64).ceil() as usize;
    (max, total, v[rank - 1] * 8.0)
}

fn assert_exact(o: &std::process::Output, start: &str, end: &str) {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    let j: serde_json::Value = serde_json::from_str(&stdout(o)).unwrap();
    let (max, total, p95) = honest_figures(start, end);
    let s = &j["series"][0];
    assert_eq!(s["max"].as_f64(), Some(max), "{j}");
    let got = s["total_bytes"].as_f64().unwrap();
    assert!((got - total).abs() <= 1e-9 * total, "{got} vs {total}");
    assert_eq!(j["percentile"]["value"].as_f64(), Some(p95), "{j}");
    assert_eq!(j["fetch"]["coverage"].as_f64(), Some(1.0), "{j}");
}

/// A refused run: exit 1, one line naming the chunk and `needles`, nothing written, no
/// cache entry. Then the honest server gives exact figures for the same run.
fn refused(twist: Twist, needles: &[&str]) {
    let (start, end) = ("2025-03-01", "2025-03-02");
    let dir = scratch();
    let base = serve(twist, start).base;
    let o = render(dir.path(), &base, start, end, &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{twist:?}: {err}");
    assert!(stdout(&o).is_empty(), "{twist:?}: no figures printed");
    let line = err.trim_end();
    assert_eq!(line.lines().count(), 1, "{twist:?}: one line: {err}");
    assert!(
        line.starts_with("trafficgraph: error: "),
        "{twist:?}: {err}"
    );
    for n in needles {
        assert!(line.contains(n), "{twist:?}: '{n}' missing from: {err}");
    }
    assert!(!dir.path().join("out.png").exists(), "{twist:?}: no output");
    for entry in entries(&dir.path().join("cache")) {
        // Only a refusal may be kept (the server's minimum date, so a re-run need not
        // ask again); never data.
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(
            text.contains("\"min_date\"") && !text.contains("\"data\""),
            "{twist:?}: {text}"
        );
    }
    let good = serve(Twist::Honest, start).base;
    assert_exact(&render(dir.path(), &good, start, end, &[]), start, end);
}

const CHUNK: &str = "chunk ip 10.0.0.1 receive 2025-03-01..2025-03-02";

#[test]
fn a_row_outside_the_requested_days_is_refused() {
    refused(
        Twist::Ancient,
        &[
            CHUNK,
            "row 49 (1999-01-01 00:00:00 UTC)",
            "outside the requested days",
            "[rule: range]",
            "--lenient",
        ],
    );
}

#[test]
fn a_row_for_another_chunks_hour_never_overwrites_it() {
    // 25 days hourly are two chunks (20 + 5 days); the first also sends the second's
    // first hour with a wrong value.
    let (start, end) = ("2025-03-01", "2025-03-25");
    let dir = scratch();
    let base = serve(Twist::NeighbourHour, start).base;
    let o = render(dir.path(), &base, start, end, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("chunk ip 10.0.0.1 receive 2025-03-01..2025-03-20")
            && stderr(&o).contains("2025-03-21 00:00:00 UTC")
            && stderr(&o).contains("[rule: range]"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("out.png").exists());
    // Leniency drops the stray row: the second chunk's real value stands, exactly.
    let o = render(dir.path(), &base, start, end, &["--lenient"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("dropped 1 rows outside the requested days"),
        "{}",
        stderr(&o)
    );
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["fetch"]["summary"]["dropped_rows"], 1, "{j}");
    let (max, total, p95) = honest_figures(start, end);
    let min = (day_start(start)..day_start(end) + 86_400)
        .step_by(3600)
        .map(honest)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(j["series"][0]["max"].as_f64(), Some(max));
    assert_eq!(
        j["series"][0]["min"].as_f64(),
        Some(min * 8.0),
        "not the stray 7.0"
    );
    let got = j["series"][0]["total_bytes"].as_f64().unwrap();
    assert!((got - total).abs() <= 1e-9 * total, "{got} vs {total}");
    assert_eq!(j["percentile"]["value"].as_f64(), Some(p95));
    // A strict run does not take the lenient run's thinned entry from the cache.
    let o = render(dir.path(), &base, start, end, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn two_different_values_for_one_hour_are_refused() {
    refused(
        Twist::Contradiction,
        &[
            CHUNK,
            "row 49 (2025-03-01 00:00:00 UTC)",
            "second row for this time",
            "[rule: duplicate]",
        ],
    );
}

#[test]
fn a_negative_value_is_refused() {
    refused(
        Twist::Negative,
        &[CHUNK, "line 6", "value -2500 is negative"],
    );
}

#[test]
fn an_absurd_value_is_refused_before_it_overflows() {
    refused(Twist::Huge, &[CHUNK, "line 6", "1.7e308 is over 1e18"]);
}

#[test]
fn a_row_off_the_hour_is_refused() {
    refused(
        Twist::OffGrid,
        &[
            CHUNK,
            "row 6 (2025-03-01 05:30:00 UTC)",
            "not on a whole hour",
            "[rule: grid]",
        ],
    );
}

#[test]
fn an_empty_body_or_an_html_page_is_an_error_not_no_data() {
    refused(Twist::NoBody, &[CHUNK, "empty body"]);
    refused(Twist::Html, &[CHUNK, "is text/html, not application/json"]);
}

#[test]
fn an_empty_answer_for_past_days_is_refused_unless_allowed() {
    refused(
        Twist::Empty,
        &[
            CHUNK,
            "no data for days wholly in the past",
            "--allow-empty",
        ],
    );
    let dir = scratch();
    let base = serve(Twist::Empty, "2025-03-01").base;
    let o = run_in(
        dir.path(),
        &one_ip(
            "fetch",
            &base,
            "2025-03-01",
            "2025-03-02",
            &["--cache-dir", "cache", "-o", "out.csv", "--allow-empty"],
        ),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("accepted by --allow-empty"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("coverage 0"), "{}", stderr(&o));
    assert!(
        entries(&dir.path().join("cache")).is_empty(),
        "an empty answer is not cached"
    );
}

#[test]
fn a_minimum_date_that_does_not_move_the_start_is_refused_and_not_cached() {
    refused(
        Twist::MinDateIsStart,
        &[
            CHUNK,
            "minimum start date 2025-03-01, which does not move the start",
        ],
    );
}

#[test]
fn a_server_created_after_the_range_is_an_error_not_an_empty_success() {
    refused(
        Twist::CreatedLater,
        &[
            "ip 10.0.0.1: the server was created after the range",
            "2025-06-01",
        ],
    );
}

/// Writes a cache entry as trafficgraph wrote them before the rules (no `rules` field),
/// for the request `render` makes, holding `points`.
fn plant_old_entry(dir: &Path, base: &str, points: &str) -> PathBuf {
    let hostport = base.trim_start_matches("http://");
    let path = dir.join(format!(
        "cache/hostway/{hostport}/a1/s1/10.0.0.1/receive-hourly-avg-json/2025-03-01_2025-03-02.json"
    ));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let entry = format!(
        r#"{{"request": {{"base": "{hostport}", "account": "a1", "server": "s1",
        "ip": "10.0.0.1", "scope": "receive", "period": "hourly", "method": "avg",
        "start": "2025-03-01", "end": "2025-03-02", "accept": "application/json"}},
        "fetched_at": "2025-03-03T00:00:00Z", "answer": {{"data": {{"points": [{points}]}}}}}}"#
    );
    std::fs::write(&path, entry).unwrap();
    path
}

#[test]
fn an_old_cache_entry_is_used_when_it_passes_and_refused_with_how_to_refresh_when_not() {
    let (start, end) = ("2025-03-01", "2025-03-02");
    let dir = scratch();
    let server = serve(Twist::Honest, start);
    let base = server.base.clone();
    // A valid old entry is used without asking the server.
    let points: Vec<String> = (day_start(start)..day_start(end) + 86_400)
        .step_by(3600)
        .map(|t| {
            format!(
                r#"{{"time": "{}", "value": {:?}, "count": 6}}"#,
                Utc.timestamp_opt(t, 0).unwrap().to_rfc3339(),
                honest(t)
            )
        })
        .collect();
    plant_old_entry(dir.path(), &base, &points.join(","));
    assert_exact(&render(dir.path(), &base, start, end, &[]), start, end);
    assert_eq!(server.requests(), 0, "answered from the cache");
    // An entry holding a row from 1999 is refused, with how to refresh it.
    let mut bad = points.clone();
    bad.push(r#"{"time": "1999-01-01T00:00:00Z", "value": 5e9, "count": 6}"#.into());
    let path = plant_old_entry(dir.path(), &base, &bad.join(","));
    let before = std::fs::read(dir.path().join("out.png")).unwrap();
    let o = render(dir.path(), &base, start, end, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("cache/hostway/127.0.0.1:")
            && err.contains("2025-03-01_2025-03-02.json fails a check")
            && err.contains("--refresh")
            && err.contains("outside"),
        "{err}"
    );
    let after = std::fs::read(dir.path().join("out.png")).unwrap();
    assert!(before == after, "the earlier graph is left as it was");
    // `cache verify` names it; --refresh fetches anew and replaces it; then it passes.
    let verify = |extra: &[&str]| {
        let mut args = vec!["cache", "verify", "--cache-dir", "cache"];
        args.extend_from_slice(extra);
        run_in(dir.path(), &args)
    };
    let v = verify(&[]);
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    assert!(
        stdout(&v).contains("1 entries") && stdout(&v).contains("1 fail"),
        "{}",
        stdout(&v)
    );
    assert_exact(
        &render(dir.path(), &base, start, end, &["--refresh"]),
        start,
        end,
    );
    assert_eq!(server.requests(), 1, "asked the server once");
    let v = verify(&[]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    assert!(stdout(&v).contains("1 pass, 0 fail"), "{}", stdout(&v));
    // The fresh answer replaced the old JSON entry by a compact one.
    assert!(!path.exists(), "the refused JSON entry is replaced");
    let compact = std::fs::read(path.with_extension("tgc")).unwrap();
    assert!(compact.starts_with(b"TGCE"));
    let text = String::from_utf8_lossy(&compact);
    assert!(
        text.contains("\"rules\":1") && !text.contains("1999"),
        "{text}"
    );
    // --remove deletes a failing entry.
    plant_old_entry(dir.path(), &base, &bad.join(","));
    let v = verify(&["--remove"]);
    assert_eq!(v.status.code(), Some(0));
    assert!(stdout(&v).contains("removed"), "{}", stdout(&v));
    assert!(!path.exists());
}
