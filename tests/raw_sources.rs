//! `--source softlayer` and `--source cloudwatch` through the CLI, against the provider
//! simulator on loopback: the CSV equals the simulator's series value for value in UTC,
//! `--stats json` figures equal an independent computation over those values, CloudWatch
//! splits under its 1,440 points and raises a period its retention no longer keeps, an
//! `--offline` re-run makes no request, and bad credentials or ids end in one line with
//! nothing written and no secret anywhere.

use std::path::Path;
use std::process::{Command, Output};

use chrono::{Days, NaiveDate, Utc};
use trafficgraph::model::Scope;
use trafficgraph::provider::sim::{self, ProviderSimConfig, SimCounters, SimServer};
use trafficgraph::source::file::parse_export_csv;
use trafficgraph::stats::{self, StatsOptions};
use trafficgraph::units::ValueUnit;

use crate::util::{names_in, scratch, stderr, stdout};

const SL_KEY: &str = "sim-api-key";
const AWS_SECRET: &str = "sim/secret+access+key";

/// Runs the binary in `dir` with the simulator's credentials in the environment.
fn run(dir: &Path, args: &[&str], sl_key: &str, aws_secret: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trafficgraph"))
        .args(args)
        .current_dir(dir)
        .env("SL_USERNAME", "sim-user")
        .env("SL_API_KEY", sl_key)
        .env("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
        .env("AWS_SECRET_ACCESS_KEY", aws_secret)
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("run trafficgraph")
}

/// The provider simulator on its own runtime, serving while the test blocks on the CLI.
fn start() -> (tokio::runtime::Runtime, SimServer, ProviderSimConfig) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cfg = ProviderSimConfig::default();
    let server = rt.block_on(sim::spawn(cfg.clone())).expect("bind loopback");
    (rt, server, cfg)
}

/// CSV rows (date, receive, transmit) of our export.
fn csv_rows(path: &Path) -> Vec<(i64, f64, f64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    // Octets per data set say so in the header, so reading the file back is exact.
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("date,receive_octets,transmit_octets"),
        "{header}"
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let t = chrono::DateTime::parse_from_rfc3339(f[0])
                .unwrap()
                .timestamp();
            (t, f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect()
}

/// Max, average, total bytes and nearest-rank 95th percentile (of max(rx, tx)), in bits/s
/// and bytes, for octets-per-`step` values.
fn figures(rows: &[(i64, f64, f64)], step: f64) -> (f64, f64, f64, f64) {
    let rx: Vec<f64> = rows.iter().map(|r| r.1).collect();
    let max = rx.iter().copied().fold(0.0, f64::max) * 8.0 / step;
    let total: f64 = rx.iter().sum();
    let avg = total / rx.len() as f64 * 8.0 / step;
    let mut joined: Vec<f64> = rows.iter().map(|r| r.1.max(r.2)).collect();
    joined.sort_by(f64::total_cmp);
    let rank = (0.95 * joined.len() as f64).ceil() as usize;
    (max, avg, total, joined[rank - 1] * 8.0 / step)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn assert_figures(o: &Output, rows: &[(i64, f64, f64)], step: f64) {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    let j: serde_json::Value = serde_json::from_str(&stdout(o)).unwrap();
    let (max, avg, total, p95) = figures(rows, step);
    let rx = &j["series"][0];
    assert_eq!(rx["name"], "receive");
    assert!(close(rx["max"].as_f64().unwrap(), max), "{j}");
    assert!(close(rx["avg"].as_f64().unwrap(), avg), "{j}");
    assert_eq!(rx["total_bytes"].as_f64(), Some(total), "{j}");
    assert!(
        close(j["percentile"]["value"].as_f64().unwrap(), p95),
        "{j}"
    );
    if !j["fetch"].is_null() {
        assert_eq!(j["fetch"]["coverage"].as_f64(), Some(1.0), "{j}");
    }
}

#[test]
fn softlayer_30_days_hourly_equal_the_simulator_in_utc_with_exact_figures() {
    let (_rt, server, cfg) = start();
    let dir = scratch();
    let endpoint = server.softlayer_endpoint();
    let go = |cmd: &str, out: &str, extra: &[&str]| {
        let mut args = vec![cmd, "--source", "softlayer", "--sl-hardware-id", "309098"];
        args.extend_from_slice(&[
            "--sl-endpoint",
            &endpoint,
            "--cache-dir",
            "cache",
            "-o",
            out,
        ]);
        args.extend_from_slice(&["--start", "2026-09-01", "--end", "2026-09-30"]);
        args.extend_from_slice(extra);
        run(dir.path(), &args, SL_KEY, AWS_SECRET)
    };
    let o = go("fetch", "sl.csv", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&dir.path().join("sl.csv"));
    assert_eq!(rows.len(), 720);
    let t0 = NaiveDate::from_ymd_opt(2026, 9, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();
    assert_eq!(rows[0].0, t0, "a UTC day starts at 00:00Z");
    for (i, &(t, rx, tx)) in rows.iter().enumerate() {
        assert_eq!(t, t0 + i as i64 * 3600);
        assert_eq!(
            rx,
            sim::sl_octets(1_309_098, "public", true, t, 3600),
            "row {i}"
        );
        assert_eq!(
            tx,
            sim::sl_octets(1_309_098, "public", false, t, 3600),
            "row {i}"
        );
    }
    let calls = SimCounters::get(&cfg.counters.softlayer_calls);
    assert_eq!(calls, 2, "the tracking id, then one month in one call");
    // The same figures from the cache, with no request at all.
    let o = go("render", "sl.png", &["--stats", "json", "--offline"]);
    assert_figures(&o, &rows, 3600.0);
    // The CSV read back gives the same figures: it says its values are octets.
    let back = run(
        dir.path(),
        &[
            "render", "-i", "sl.csv", "-o", "back.png", "--stats", "json",
        ],
        SL_KEY,
        AWS_SECRET,
    );
    assert_figures(&back, &rows, 3600.0);
    assert_eq!(SimCounters::get(&cfg.counters.softlayer_calls), calls);
    // Daily: the hours summed into UTC days.
    let o = go("fetch", "daily.csv", &["--period", "daily"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let days = csv_rows(&dir.path().join("daily.csv"));
    assert_eq!(days.len(), 30);
    let first: f64 = rows[..24].iter().map(|r| r.1).sum();
    assert_eq!((days[0].0, days[0].1), (t0, first));
}

#[test]
fn cloudwatch_30_days_at_5_minutes_in_signed_chunks_under_1440_points() {
    let (_rt, server, cfg) = start();
    let dir = scratch();
    let endpoint = server.cloudwatch_endpoint();
    let today = Utc::now().date_naive();
    let start = (today - Days::new(31)).to_string();
    let end = (today - Days::new(2)).to_string();
    let go = |cmd: &str, out: &str, extra: &[&str]| {
        let mut args = vec![cmd, "--source", "cloudwatch", "--cw-instance-id", "i-0abc"];
        args.extend_from_slice(&[
            "--cw-endpoint",
            &endpoint,
            "--cache-dir",
            "cache",
            "-o",
            out,
        ]);
        args.extend_from_slice(&["--start", &start, "--end", &end]);
        args.extend_from_slice(extra);
        run(dir.path(), &args, SL_KEY, AWS_SECRET)
    };
    let o = go("fetch", "cw.csv", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&dir.path().join("cw.csv"));
    assert_eq!(rows.len(), 8640, "30 days of 5-minute points");
    for (i, &(t, rx, tx)) in rows.iter().enumerate() {
        assert_eq!(rx, sim::cw_sum("i-0abc", true, t, 300), "row {i}");
        assert_eq!(tx, sim::cw_sum("i-0abc", false, t, 300), "row {i}");
    }
    let calls = SimCounters::get(&cfg.counters.cloudwatch_calls);
    assert_eq!(
        calls, 12,
        "6 chunks of at most 1,440 points, for in and out"
    );
    let o = go("render", "cw.png", &["--stats", "json", "--offline"]);
    assert_figures(&o, &rows, 300.0);
    assert_eq!(SimCounters::get(&cfg.counters.cloudwatch_calls), calls);
}

#[test]
fn cloudwatch_past_its_5_minute_retention_gets_hourly_data_and_a_note() {
    let (_rt, server, _cfg) = start();
    let dir = scratch();
    let endpoint = server.cloudwatch_endpoint();
    let today = Utc::now().date_naive();
    let start = (today - Days::new(100)).to_string();
    let end = (today - Days::new(71)).to_string();
    let o = run(
        dir.path(),
        &[
            "fetch",
            "--source",
            "cloudwatch",
            "--cw-instance-id",
            "i-0abc",
            "--cw-endpoint",
            &endpoint,
            "--start",
            &start,
            "--end",
            &end,
            "--no-cache",
            "-o",
            "old.csv",
        ],
        SL_KEY,
        AWS_SECRET,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("asking for 3600-second data"),
        "{}",
        stderr(&o)
    );
    let rows = csv_rows(&dir.path().join("old.csv"));
    assert_eq!(rows.len(), 30 * 24);
    assert_eq!(rows[5].1, sim::cw_sum("i-0abc", true, rows[5].0, 3600));
}

#[test]
fn bad_credentials_and_unknown_ids_end_in_one_line_with_nothing_written() {
    let (_rt, server, _cfg) = start();
    let sl = server.softlayer_endpoint();
    let cw = server.cloudwatch_endpoint();
    let cases: [(&[&str], &str, &str, &str); 3] = [
        (
            &[
                "--source",
                "softlayer",
                "--sl-hardware-id",
                "309098",
                "--sl-endpoint",
                &sl,
            ],
            "wrong-sl-key-4711",
            AWS_SECRET,
            "rejected the credentials",
        ),
        (
            &[
                "--source",
                "softlayer",
                "--sl-hardware-id",
                "9999999999",
                "--sl-endpoint",
                &sl,
            ],
            SL_KEY,
            AWS_SECRET,
            "no hardware server 9999999999",
        ),
        (
            &[
                "--source",
                "cloudwatch",
                "--cw-instance-id",
                "i-0abc",
                "--cw-endpoint",
                &cw,
            ],
            SL_KEY,
            "wrong/aws+secret+4711",
            "rejected the credentials",
        ),
    ];
    for (flags, sl_key, aws_secret, needle) in cases {
        let dir = scratch();
        let today = Utc::now().date_naive();
        let (start, end) = (
            (today - Days::new(10)).to_string(),
            (today - Days::new(8)).to_string(),
        );
        let mut args = vec!["render", "-o", "g.png", "--cache-dir", "cache"];
        args.extend_from_slice(&["--start", &start, "--end", &end]);
        args.extend_from_slice(flags);
        let o = run(dir.path(), &args, sl_key, aws_secret);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{needle}: {err}");
        for secret in [sl_key, aws_secret] {
            assert!(
                !err.contains(secret) && !stdout(&o).contains(secret),
                "{err}"
            );
        }
        assert_eq!(
            names_in(dir.path()),
            Vec::<String>::new(),
            "nothing written"
        );
    }
}

/// The figures of a report row equal those computed here from its CSV, read with the
/// unit its source gives (`value_unit`).
fn check_row(dir: &Path, row: &serde_json::Value, value_unit: ValueUnit) {
    let text = std::fs::read_to_string(dir.join(row["csv"].as_str().unwrap())).unwrap();
    let mut traffic = parse_export_csv(&text).unwrap();
    traffic.resolve_periods();
    let opts = StatsOptions {
        value_unit,
        ..StatsOptions::default()
    };
    let s = stats::compute(&traffic, &opts);
    let name = &row["name"];
    let rx = s.series(Scope::Receive).unwrap();
    let tx = s.series(Scope::Transmit).unwrap();
    assert_eq!(
        row["received_bytes"].as_f64(),
        Some(rx.total_bytes),
        "{name}"
    );
    assert_eq!(
        row["transmitted_bytes"].as_f64(),
        Some(tx.total_bytes),
        "{name}"
    );
    assert_eq!(row["receive_max"].as_f64(), Some(rx.max), "{name}");
    assert_eq!(row["transmit_avg"].as_f64(), Some(tx.avg), "{name}");
    assert_eq!(
        row["percentile"].as_f64(),
        s.percentile.map(|p| p.value),
        "{name}"
    );
}

#[test]
fn a_report_mixing_three_sources_and_a_pool_across_them_then_offline() {
    let providers = ProviderSimConfig::default();
    let sim = trafficgraph::sim::spawn(trafficgraph::sim::SimConfig {
        providers: Some(providers.clone()),
        ..trafficgraph::sim::SimConfig::default()
    })
    .unwrap();
    let base = sim.base_url();
    let base = base.trim_end_matches('/');
    let today = Utc::now().date_naive();
    let (start, end) = (today - Days::new(9), today - Days::new(3));
    let dir = scratch();
    std::fs::write(
        dir.path().join("mixed.toml"),
        format!(
            "[defaults]\nbase_url = \"{base}\"\nrange = \"specified_range\"\n\
             date = {start}\nend_date = {end}\n\
             [[target]]\nname = \"hw\"\naccount = \"a1\"\nserver = \"s1\"\nips = [\"10.0.0.1\"]\n\
             [[target]]\nname = \"sl\"\nsource = \"softlayer\"\nhardware_id = 309098\n\
             endpoint = \"{base}/rest/v3.1/\"\n\
             [[target]]\nname = \"cw\"\nsource = \"cloudwatch\"\ninstance_id = \"i-0abc\"\n\
             region = \"us-east-1\"\nendpoint = \"{base}/\"\n\
             [[pool]]\nname = \"all\"\ntargets = [\"hw\", \"sl\", \"cw\"]\n"
        ),
    )
    .unwrap();
    let report = |extra: &[&str]| {
        let mut args = vec!["report", "--config", "mixed.toml", "--out-dir", "out"];
        args.extend_from_slice(&["--cache-dir", "cache", "--now", "2026-11-29"]);
        args.extend_from_slice(extra);
        run(dir.path(), &args, SL_KEY, AWS_SECRET)
    };
    let o = report(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = dir.path().join("out");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let rows = summary["rows"].as_array().expect("rows");
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap();
    for r in rows {
        assert_eq!(r["status"], "ok", "{r}");
    }
    // Each CSV read back as it is (`--value-unit auto`): its header carries the unit.
    for name in ["hw", "sl", "cw", "all"] {
        check_row(&out, row(name), ValueUnit::Auto);
    }
    // The pool's totals are its members' totals.
    for key in ["received_bytes", "transmitted_bytes"] {
        let members: f64 = ["hw", "sl", "cw"]
            .iter()
            .map(|n| row(n)[key].as_f64().unwrap())
            .sum();
        let pool = row("all")[key].as_f64().unwrap();
        assert!(
            close(pool, members),
            "{key}: pool {pool} vs members {members}"
        );
    }
    // The CloudWatch row is 5-minute data, drawn as it is; the pool at the hour.
    let cw = std::fs::read_to_string(out.join("cw.csv")).unwrap();
    assert_eq!(cw.lines().count(), 1 + 7 * 288);
    let pool = std::fs::read_to_string(out.join("all.csv")).unwrap();
    assert_eq!(pool.lines().count(), 1 + 7 * 24);
    let before = std::fs::read(out.join("summary.json")).unwrap();
    sim.counters.reset();
    let calls = || {
        let c = &providers.counters;
        SimCounters::get(&c.softlayer_calls) + SimCounters::get(&c.cloudwatch_calls)
    };
    let provider_calls = calls();
    assert!(provider_calls >= 3, "SoftLayer and CloudWatch were asked");
    let o = report(&["--offline"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(sim.counters.total(), 0, "offline made Hostway requests");
    assert_eq!(calls(), provider_calls, "offline made provider requests");
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before);
}

#[test]
fn fallback_on_error_takes_the_providers_own_graph_when_its_raw_data_fails() {
    let (_rt, server, _cfg) = start();
    let dir = scratch();
    let endpoint = server.cloudwatch_endpoint();
    // Older than CloudWatch keeps anything: the raw answer is empty, the picture is not.
    let o = run(
        dir.path(),
        &[
            "render",
            "--source",
            "cloudwatch",
            "--cw-instance-id",
            "i-0abc",
            "--cw-endpoint",
            &endpoint,
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-03",
            "--no-cache",
            "--fallback",
            "on-error",
            "-o",
            "g.png",
            "--stats",
            "json",
        ],
        SL_KEY,
        AWS_SECRET,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("keeps no data older than 455 days"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("using the cloudwatch graph instead"),
        "{}",
        stderr(&o)
    );
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["source"], "provider:cloudwatch");
    assert!(
        j["fallback_reason"].as_str().unwrap().contains("no data"),
        "{j}"
    );
    let png = image::open(dir.path().join("g.png")).unwrap();
    assert_eq!((png.width(), png.height()), (827, 273));
}
