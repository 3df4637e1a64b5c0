//! `trafficgraph report` end to end: 50 targets and 2 pools against the Hostway simulator on
//! 127.0.0.1:0 (in-process), one target missing (404), one flaky (its first requests fail
//! and are retried). The figures in the summary are checked against figures computed
//! independently from the CSVs written, the CSVs against the simulator's own function, the
//! pools against the sum of their members' CSVs; an `--offline` re-run through the binary
//! must make no request and give byte-identical files; `index.html` is loaded in headless
//! Chromium.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use trafficgraph::model::{Method, Period, Scope, Target, Traffic};
use trafficgraph::range::{parse_date, DateRange};
use trafficgraph::report::summary::RowStatus;
use trafficgraph::report::{self, ReportJob};
use trafficgraph::sim::{self, SimConfig};
use trafficgraph::source::file::parse_export_csv;
use trafficgraph::stats::{self, StatsOptions};

use crate::util::{
    chromium, chromium_dump_dom, chromium_dump_dom_with, names_in, run_in, scratch, stderr,
};

const TARGETS: usize = 50;
const MISSING: usize = 7;
const FLAKY: usize = 13;
const TWO_IPS: usize = 21;
const ODD_NAME: usize = 30;
const START: &str = "2026-01-05";
const END: &str = "2026-01-08";

fn target_name(i: usize) -> String {
    if i == ODD_NAME {
        "../db <primary>".to_string()
    } else {
        format!("web-{i:02}")
    }
}

fn server(i: usize) -> String {
    match i {
        MISSING => "srv-missing".into(),
        FLAKY => "srv-flaky".into(),
        _ => format!("srv-{i}"),
    }
}

fn ips(i: usize) -> Vec<String> {
    let mut v = vec![format!("10.0.{i}.1")];
    if i == TWO_IPS {
        v.push(format!("10.0.{i}.2"));
    }
    v
}

/// Pool members: pool-a the targets before the missing one, pool-b ten including the flaky one.
fn pools() -> Vec<(&'static str, Vec<usize>)> {
    vec![
        ("pool-a", (0..MISSING).collect()),
        ("pool-b", (10..20).collect()),
    ]
}

fn write_config(dir: &Path, base_url: &str) -> PathBuf {
    let mut text = format!(
        "[defaults]\nbase_url = \"{base_url}\"\nrange = \"specified_range\"\n\
         date = {START}\nend_date = {END}\n"
    );
    for i in 0..TARGETS {
        let ips: Vec<String> = ips(i).iter().map(|ip| format!("\"{ip}\"")).collect();
        text.push_str(&format!(
            "\n[[target]]\nname = \"{}\"\naccount = \"acme\"\nserver = \"{}\"\nips = [{}]\n",
            target_name(i),
            server(i),
            ips.join(", ")
        ));
    }
    for (name, members) in pools() {
        let names: Vec<String> = members
            .iter()
            .map(|&i| format!("\"{}\"", target_name(i)))
            .collect();
        text.push_str(&format!(
            "\n[[pool]]\nname = \"{name}\"\ntargets = [{}]\n",
            names.join(", ")
        ));
    }
    let path = dir.join("report.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn range() -> DateRange {
    DateRange::new(parse_date(START).unwrap(), parse_date(END).unwrap()).unwrap()
}

/// What the simulator serves for target `i`, IPs summed per timestamp.
fn simulated(i: usize, scope: Scope) -> BTreeMap<i64, f64> {
    let mut sum = BTreeMap::new();
    for ip in ips(i) {
        let target = Target {
            account: "acme".into(),
            server: server(i),
            ip,
        };
        for p in sim::series(
            &target,
            scope,
            Period::Hourly,
            Method::Avg,
            range(),
            Utc::now(),
        ) {
            *sum.entry(p.time.timestamp()).or_insert(0.0) += p.value;
        }
    }
    sum
}

fn read_csv(path: &Path) -> Traffic {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_export_csv(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn values(t: &Traffic, scope: Scope) -> BTreeMap<i64, f64> {
    t.get(scope)
        .expect("scope present")
        .points()
        .map(|p| (p.time.timestamp(), p.value))
        .collect()
}

/// summary.csv as one map per row, keyed by header.
fn summary_rows(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &BTreeMap<String, String>, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{}: {key} = '{}'", row["name"], row[key]))
}

/// The summary's figures of a row equal those computed here from its CSV.
fn check_figures(dir: &Path, row: &BTreeMap<String, String>) {
    let traffic = read_csv(&dir.join(&row["csv"]));
    let s = stats::compute(&traffic, &StatsOptions::default());
    let rx = s.series(Scope::Receive).unwrap();
    let tx = s.series(Scope::Transmit).unwrap();
    let name = &row["name"];
    assert_eq!(num(row, "received_bytes"), rx.total_bytes, "{name}");
    assert_eq!(num(row, "transmitted_bytes"), tx.total_bytes, "{name}");
    assert_eq!(num(row, "receive_max_bits_per_s"), rx.max, "{name}");
    assert_eq!(num(row, "transmit_max_bits_per_s"), tx.max, "{name}");
    assert_eq!(num(row, "receive_avg_bits_per_s"), rx.avg, "{name}");
    assert_eq!(num(row, "transmit_avg_bits_per_s"), tx.avg, "{name}");
    // The percentile by hand: nearest rank of max(rx, tx) per hour, in bits/s.
    let (r, t) = (
        values(&traffic, Scope::Receive),
        values(&traffic, Scope::Transmit),
    );
    let mut joined: Vec<f64> = r
        .keys()
        .chain(t.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|k| {
            let a = r.get(k).copied().unwrap_or(f64::NEG_INFINITY);
            let b = t.get(k).copied().unwrap_or(f64::NEG_INFINITY);
            a.max(b) * 8.0
        })
        .collect();
    joined.sort_by(f64::total_cmp);
    let rank = (0.95 * joined.len() as f64).ceil() as usize;
    assert_eq!(num(row, "p95_max_bits_per_s"), joined[rank - 1], "{name}");
    let coverage = num(row, "coverage");
    assert!(
        coverage > 0.9 && coverage <= 1.0,
        "{name}: coverage {coverage}"
    );
}

fn png_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (img.width(), img.height())
}

#[test]
fn report_of_50_targets_and_2_pools_then_offline_rerun() {
    let sim = sim::spawn(SimConfig::default()).unwrap();
    let work = scratch();
    let config = write_config(work.path(), &sim.base_url());
    let out = work.path().join("out");
    let cache = work.path().join("cache");
    let mut job = ReportJob::new(&config, &out);
    job.fetch.cache_dir = Some(cache.clone());
    job.fetch.backoff_min = Duration::from_millis(1);
    job.fetch.backoff_max = Duration::from_millis(10);
    job.jobs = 6;
    job.fetch.concurrency = 4;
    let outcome = report::run(&job).unwrap();

    // The flaky server's first requests failed and were retried; nothing else failed.
    assert_eq!(
        sim.counters.status(503),
        sim::FLAKY_FAILURES,
        "{:?}",
        sim.counters.statuses()
    );
    let summary = &outcome.summary;
    assert_eq!(summary.rows.len(), TARGETS + 2);
    let failed: Vec<_> = summary
        .rows
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| (&r.name, &r.error))
        .collect();
    assert_eq!(summary.failed(), 1, "{failed:?}");
    let missing = &summary.rows[MISSING];
    assert_eq!(
        (missing.name.as_str(), missing.status),
        ("web-07", RowStatus::Failed)
    );
    let why = missing.error.as_deref().unwrap();
    assert!(why.contains("404") && !why.contains('\n'), "{why}");

    // Files: a PNG and a CSV per target (but the missing one) and pool, and the summary.
    let rows = summary_rows(&out);
    assert_eq!(rows.len(), TARGETS + 2);
    let mut expected: Vec<String> = vec![
        "index.html".into(),
        "summary.csv".into(),
        "summary.json".into(),
    ];
    for row in rows.iter().filter(|r| r["status"] == "ok") {
        expected.push(row["png"].clone());
        expected.push(row["csv"].clone());
    }
    expected.sort();
    assert_eq!(names_in(&out), expected);
    assert_eq!(rows[ODD_NAME]["png"], "db__primary.png", "sanitised stem");

    for (i, row) in rows.iter().enumerate() {
        if row["status"] != "ok" {
            assert_eq!(i, MISSING);
            continue;
        }
        check_figures(&out, row);
        assert_eq!(
            png_size(&out.join(&row["png"])),
            (827, 273),
            "{}",
            row["name"]
        );
        if i < TARGETS {
            let traffic = read_csv(&out.join(&row["csv"]));
            for scope in [Scope::Receive, Scope::Transmit] {
                assert_eq!(values(&traffic, scope), simulated(i, scope), "{i} {scope}");
            }
        }
    }
    // Pools: their CSV is the per-hour sum of their members' CSVs.
    for (p, (name, members)) in pools().into_iter().enumerate() {
        let row = &rows[TARGETS + p];
        assert_eq!((row["name"].as_str(), row["kind"].as_str()), (name, "pool"));
        let pool = read_csv(&out.join(&row["csv"]));
        for scope in [Scope::Receive, Scope::Transmit] {
            let mut sum: BTreeMap<i64, f64> = BTreeMap::new();
            for &m in &members {
                for (t, v) in values(&read_csv(&out.join(&rows[m]["csv"])), scope) {
                    *sum.entry(t).or_insert(0.0) += v;
                }
            }
            assert_eq!(values(&pool, scope), sum, "{name} {scope}");
        }
    }

    // Offline through the binary: no request, the same bytes, exit code 3 (one failed).
    sim.counters.reset();
    let out2 = work.path().join("out2");
    let o = run_in(
        work.path(),
        &[
            "report",
            "--config",
            config.to_str().unwrap(),
            "--out-dir",
            out2.to_str().unwrap(),
            "--offline",
            "--cache-dir",
            cache.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 of 52 targets and pools failed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(sim.counters.total(), 0, "offline made requests");
    assert_eq!(names_in(&out2), names_in(&out));
    for name in names_in(&out) {
        if name.ends_with(".csv") && name != "summary.csv" || name.ends_with(".png") {
            let a = std::fs::read(out.join(&name)).unwrap();
            let b = std::fs::read(out2.join(&name)).unwrap();
            assert!(a == b, "{name} differs offline");
        }
    }
    // summary.csv: the same but for the missing target's reason, which now names the chunk.
    let rows2 = summary_rows(&out2);
    for (a, b) in rows.iter().zip(&rows2) {
        if a["name"] == "web-07" {
            assert_eq!(b["status"], "failed");
            assert!(
                b["error"].contains("chunk ip 10.0.7.1") && b["error"].contains("--offline"),
                "{}",
                b["error"]
            );
        } else {
            assert_eq!(a, b);
        }
    }

    check_in_chromium(&out, TARGETS + 2);
}

/// Loads index.html in headless Chromium: every image decodes, one table row per target
/// and pool.
fn check_in_chromium(dir: &Path, rows: usize) {
    let Some(browser) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium is not installed (/usr/bin/chromium): .ci/run installs it; the index.html check cannot run");
        }
        eprintln!("report: skipping the index.html check: no chromium in /usr/bin");
        return;
    };
    // The graphs load lazily: ask for every one, then wait (in timer steps, which advance
    // Chromium's virtual time) until each has loaded or failed.
    let check = "window.addEventListener('load', async () => {\
        const imgs = Array.from(document.querySelectorAll('#summary img'));\
        const lazy = imgs.filter(i => i.loading === 'lazy').length;\
        imgs.forEach(i => { i.loading = 'eager'; });\
        for (let n = 0; n < 50 && imgs.some(i => !i.complete); n++)\
            await new Promise(r => setTimeout(r, 100));\
        const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length;\
        const rows = document.querySelectorAll('#summary tbody tr').length;\
        const p = document.createElement('p'); p.id = 'probe-result';\
        p.textContent = `images=${imgs.length} lazy=${lazy} broken=${bad} rows=${rows}`;\
        document.body.appendChild(p); });";
    let dom = chromium_dump_dom(&browser, &dir.join("index.html"), check);
    let result = dom
        .split("<p id=\"probe-result\">")
        .nth(1)
        .and_then(|s| s.split("</p>").next())
        .unwrap_or_else(|| panic!("the check did not run; DOM: {}", &dom[..dom.len().min(500)]));
    assert_eq!(
        result,
        format!("images={0} lazy={0} broken=0 rows={rows}", rows - 1),
        "one image per ok row"
    );
}

#[test]
fn report_usage_errors_name_the_problem() {
    let work = scratch();
    let config = work.path().join("r.toml");
    std::fs::write(
        &config,
        "[defaults]\nbase_url = \"http://127.0.0.1:9\"\nrange = \"specified_day\"\n\n\
         [[target]]\nname = \"a\"\naccount = \"x\"\nserver = \"y\"\nips = [\"10.0.0.1\"]\n",
    )
    .unwrap();
    let out = work.path().join("out");
    let args = |extra: &[&str]| {
        let mut v = vec![
            "report",
            "--config",
            config.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ];
        v.extend_from_slice(extra);
        run_in(work.path(), &v)
    };
    // A named range without its date: exit 1, one line naming the file, nothing written.
    let o = args(&["--no-cache"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("r.toml: specified_day needs a date") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!out.exists());
    // --offline without a cache is refused before anything runs.
    let o = args(&["--offline", "--no-cache"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = args(&["--jobs", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--jobs 0 out of range"),
        "{}",
        stderr(&o)
    );
}

/// A target whose raw data cannot be had, with a SoftLayer fallback: its PNG comes from
/// the provider (the loopback provider simulator), with no CSV and no figures. Both
/// credentials (the `auth_env` variable's Authorization value the simulator requires, and
/// SoftLayer's API key) come from the environment and appear in no output.
#[test]
fn fallback_target_gets_the_provider_graph() {
    use trafficgraph::provider::image::text_chunks;
    use trafficgraph::provider::sim::{spawn as provider_spawn, ProviderSimConfig};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let provider_config = ProviderSimConfig::default();
    let api_key = provider_config.sl_api_key.expose().to_string();
    let username = provider_config.sl_username.clone();
    let provider = runtime
        .block_on(provider_spawn(provider_config))
        .expect("provider simulator");
    let token = "Bearer report-token-5f3a";
    let sim = sim::spawn(SimConfig {
        auth: Some(trafficgraph::source::hostway::Secret::new(token)),
        ..SimConfig::default()
    })
    .unwrap();
    let work = scratch();
    let config = work.path().join("r.toml");
    std::fs::write(
        &config,
        format!(
            "[defaults]\nbase_url = \"{}\"\nrange = \"specified_day\"\ndate = {START}\n\
             auth_env = \"REPORT_TEST_AUTH\"\n\n\
             [[target]]\nname = \"web\"\naccount = \"acme\"\nserver = \"srv-1\"\nips = [\"10.0.0.1\"]\n\n\
             [[target]]\nname = \"old\"\naccount = \"acme\"\nserver = \"srv-missing\"\n\
             ips = [\"10.0.0.2\"]\nfallback = {{ provider = \"softlayer\", hardware_id = 42, \
             endpoint = \"{}\" }}\n",
            sim.base_url(),
            provider.softlayer_endpoint()
        ),
    )
    .unwrap();
    let out = work.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_trafficgraph"))
        .args(["report", "--config", config.to_str().unwrap()])
        .args(["--out-dir", out.to_str().unwrap(), "--no-cache"])
        .env("SL_USERNAME", &username)
        .env("SL_API_KEY", &api_key)
        .env("REPORT_TEST_AUTH", token)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("target 'old': using the provider's graph: chunk ip 10.0.0.2"),
        "{err}"
    );
    assert_eq!(
        names_in(&out),
        [
            "index.html",
            "old.png",
            "summary.csv",
            "summary.json",
            "web.csv",
            "web.png"
        ]
    );
    let rows = summary_rows(&out);
    let old = &rows[1];
    assert_eq!(old["status"], "ok");
    assert_eq!(old["source"], "provider:softlayer");
    // Why the provider's graph stands there: the raw data's failure, kept on the row.
    assert!(old["error"].as_str().contains("404"), "{old:?}");
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        index.contains("title=\"raw data failed: "),
        "the index says why"
    );
    assert_eq!(
        (old["csv"].as_str(), old["received_bytes"].as_str()),
        ("", "")
    );
    assert_eq!(rows[0]["source"], "local");
    let png = std::fs::read(out.join("old.png")).unwrap();
    assert_eq!(png_size(&out.join("old.png")), (827, 273));
    let chunks = text_chunks(&png).unwrap();
    assert!(
        chunks.contains(&("Source".to_string(), "provider:softlayer".to_string())),
        "{chunks:?}"
    );
    for name in names_in(&out) {
        let bytes = std::fs::read(out.join(&name)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&api_key), "{name} holds the API key");
        assert!(
            !text.contains("report-token-5f3a"),
            "{name} holds the token"
        );
    }
    assert!(!err.contains(&api_key) && !err.contains("report-token-5f3a"));
    assert_eq!(
        sim.counters.status(401),
        0,
        "the Authorization value was sent"
    );
    drop(provider);
}

/// A config of the named targets (server `srv-missing` answers 404), one day.
fn small_config(dir: &Path, base_url: &str, targets: &[(&str, &str)]) -> PathBuf {
    let mut text = format!(
        "[defaults]\nbase_url = \"{base_url}\"\nrange = \"specified_day\"\ndate = {START}\n"
    );
    for (i, (name, server)) in targets.iter().enumerate() {
        text.push_str(&format!(
            "\n[[target]]\nname = \"{name}\"\naccount = \"acme\"\nserver = \"{server}\"\n\
             ips = [\"10.1.{i}.1\"]\n"
        ));
    }
    let path = dir.join("report.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A re-run into the same directory leaves exactly the files its summary lists: a target
/// dropped from the config and one that failed this time lose their graph and CSV; a file
/// that is not the report's stays.
#[test]
fn rerun_removes_the_files_the_new_summary_does_not_list() {
    let sim = sim::spawn(SimConfig::default()).unwrap();
    let work = scratch();
    let out = work.path().join("out");
    let config = small_config(
        work.path(),
        &sim.base_url(),
        &[("a", "srv-1"), ("b", "srv-2"), ("c", "srv-3")],
    );
    report::run(&ReportJob::new(&config, &out)).unwrap();
    let summary_files = ["index.html", "summary.csv", "summary.json"];
    let mut first: Vec<&str> = vec!["a.csv", "a.png", "b.csv", "b.png", "c.csv", "c.png"];
    first.extend(summary_files);
    first.sort();
    assert_eq!(names_in(&out), first);
    // Someone's note in the report's folder is not the report's to remove.
    std::fs::write(out.join("notes.txt"), "kept").unwrap();

    // b is gone from the config, c's server now answers 404.
    let config = small_config(
        work.path(),
        &sim.base_url(),
        &[("a", "srv-1"), ("c", "srv-missing")],
    );
    let outcome = report::run(&ReportJob::new(&config, &out)).unwrap();
    assert_eq!(outcome.summary.failed(), 1);
    let mut second: Vec<&str> = vec!["a.csv", "a.png", "notes.txt"];
    second.extend(summary_files);
    second.sort();
    assert_eq!(names_in(&out), second);
    let rows = summary_rows(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0]["png"].as_str(), rows[0]["csv"].as_str()),
        ("a.png", "a.csv")
    );
    assert_eq!(
        (rows[1]["status"].as_str(), rows[1]["png"].as_str()),
        ("failed", "")
    );
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "kept"
    );
}

/// A second report into a directory that a report is writing to is refused, naming the
/// directory, before it removes or writes anything there (it would remove the first
/// one's temporaries); once the first is done, the second runs.
#[cfg(unix)]
#[test]
fn a_second_report_into_a_busy_directory_is_refused_untouched() {
    let sim = sim::spawn(SimConfig::default()).unwrap();
    let work = scratch();
    let out = work.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // What a running report holds: its batch's temporaries, and the claim on the directory.
    let theirs = out.join(".a.png.AbC123.tmp");
    std::fs::write(&theirs, b"being written").unwrap();
    let claim = std::fs::File::open(&out).unwrap();
    claim.try_lock().unwrap();
    let config = small_config(work.path(), &sim.base_url(), &[("a", "srv-1")]);
    let e = report::run(&ReportJob::new(&config, &out)).unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains("another trafficgraph report is writing to")
            && message.contains(&out.display().to_string())
            && message.contains("--out-dir"),
        "{message}"
    );
    assert_eq!(
        names_in(&out),
        [".a.png.AbC123.tmp"],
        "nothing removed or written"
    );
    drop(claim);
    report::run(&ReportJob::new(&config, &out)).unwrap();
    assert!(
        !theirs.exists(),
        "a stale temporary is removed once the directory is free"
    );
    assert!(out.join("a.png").exists() && out.join("summary.json").exists());
}

/// A re-run over the same data rewrites no graph or CSV (same inode, same bytes: backups
/// and rsync see no change); a target whose data changed gets new files.
#[cfg(unix)]
#[test]
fn rerun_rewrites_only_the_files_that_changed() {
    use std::os::unix::fs::MetadataExt;
    let sim = sim::spawn(SimConfig::default()).unwrap();
    let work = scratch();
    let out = work.path().join("out");
    let inodes = |names: &[&str]| -> Vec<u64> {
        names
            .iter()
            .map(|n| std::fs::metadata(out.join(n)).unwrap().ino())
            .collect()
    };
    let files = ["a.csv", "a.png", "b.csv", "b.png"];
    // Target a reads srv-1; target b reads `b`.
    let config_with =
        |b: &str| small_config(work.path(), &sim.base_url(), &[("a", "srv-1"), ("b", b)]);
    let config = config_with("srv-2");
    report::run(&ReportJob::new(&config, &out)).unwrap();
    let first = inodes(&files);
    let bytes: Vec<Vec<u8>> = files
        .iter()
        .map(|n| std::fs::read(out.join(n)).unwrap())
        .collect();

    report::run(&ReportJob::new(&config, &out)).unwrap();
    assert_eq!(inodes(&files), first, "unchanged files are left in place");

    // b now reads another server: its graph and CSV change, a's do not.
    let config = config_with("srv-7");
    report::run(&ReportJob::new(&config, &out)).unwrap();
    let third = inodes(&files);
    assert_eq!(third[..2], first[..2], "a's files untouched");
    for i in 2..4 {
        assert_ne!(third[i], first[i], "{} replaced", files[i]);
        assert_ne!(
            std::fs::read(out.join(files[i])).unwrap(),
            bytes[i],
            "{}",
            files[i]
        );
    }
}

/// A non-empty directory that is not a previous report's is refused before any request,
/// in one line naming it, a file in it and what to do; nothing is written there.
#[test]
fn a_directory_that_is_not_a_report_is_refused_untouched() {
    let sim = sim::spawn(SimConfig::default()).unwrap();
    let work = scratch();
    let config = small_config(work.path(), &sim.base_url(), &[("a", "srv-1")]);
    let dir = work.path().join("reports");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let o = run_in(
        work.path(),
        &[
            "report",
            "--config",
            config.to_str().unwrap(),
            "--out-dir",
            "reports/",
            "--no-cache",
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "--out-dir reports/ holds files that are not a trafficgraph report \
             (e.g. notes.txt); give an empty or new directory"
        ),
        "{err}"
    );
    assert_eq!(sim.counters.total(), 0, "a request was made");
    assert_eq!(names_in(&dir), ["notes.txt"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );

    // A summary.json that is not a report's does not make the folder one (nor would its
    // index.html be ours to overwrite).
    std::fs::remove_file(dir.join("notes.txt")).unwrap();
    std::fs::write(dir.join("summary.json"), "{\"mine\": true}").unwrap();
    let e = report::run(&ReportJob::new(&config, &dir)).unwrap_err();
    assert!(e.to_string().contains("(e.g. summary.json)"), "{e}");
    assert_eq!(names_in(&dir), ["summary.json"]);
    assert_eq!(sim.counters.total(), 0, "a request was made");

    // An empty directory, and then the report's own, are fine.
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    report::run(&ReportJob::new(&config, &empty)).unwrap();
    report::run(&ReportJob::new(&config, &empty)).unwrap();
    assert_eq!(
        names_in(&empty),
        [
            "a.csv",
            "a.png",
            "index.html",
            "summary.csv",
            "summary.json"
        ]
    );
}

/// What the index check below reports from Chromium.
#[derive(serde::Deserialize, Debug)]
struct IndexProbe {
    /// Names of the rows in page order, before any click.
    initial: Vec<String>,
    /// Graph images in the table, those with `loading="lazy"`, those decoded after load in
    /// a 1200x800 window, and those on its first screen.
    images: usize,
    lazy: usize,
    loaded_first: usize,
    on_first_screen: usize,
    /// Row names after one click on the Percentile header.
    by_percentile: Vec<String>,
    aria_sort: String,
    /// Shown rows (in order) and the counter, after typing "25", then "<PRIM".
    filtered: Vec<String>,
    shown_text: String,
    filtered_odd: Vec<String>,
    /// The viewer opened by clicking the first shown row's graph.
    viewer_open: bool,
    viewer_name: String,
    viewer_natural: (u32, u32),
    viewer_shown: (f64, f64),
    /// Decoded images after clearing the filter and scrolling to the bottom, and whether
    /// the last row's graph is one of them.
    loaded_after_scroll: usize,
    last_row_loaded: bool,
}

const INDEX_PROBE: &str = r#"
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Waits in timer steps (they advance Chromium's virtual time; a promise like decode() does not).
const until = async (done) => { for (let n = 0; n < 50 && !done(); n++) await sleep(100); };
const loaded = () => Array.from(document.querySelectorAll('#summary img'))
  .filter((i) => i.complete && i.naturalWidth > 0).length;
const visible = () => Array.from(document.querySelectorAll('#summary tbody tr'))
  .filter((r) => !r.hidden).map((r) => r.dataset.name);
const type = (input, text) => {
  input.focus();
  input.value = '';
  input.dispatchEvent(new InputEvent('input', { bubbles: true }));
  for (const ch of text) {
    input.value += ch;
    input.dispatchEvent(new InputEvent('input', { bubbles: true, data: ch, inputType: 'insertText' }));
  }
};
window.addEventListener('load', async () => {
  await sleep(1500);
  const imgs = Array.from(document.querySelectorAll('#summary img'));
  const out = {
    initial: visible(),
    images: imgs.length,
    lazy: imgs.filter((i) => i.getAttribute('loading') === 'lazy').length,
    loaded_first: loaded(),
    on_first_screen: imgs.filter((i) => i.getBoundingClientRect().top < window.innerHeight).length,
  };
  const th = document.querySelector('#summary th[data-key="pct"]');
  th.querySelector('button').click();
  out.by_percentile = visible();
  out.aria_sort = th.getAttribute('aria-sort');
  const filter = document.getElementById('filter');
  type(filter, '25');
  out.filtered = visible();
  out.shown_text = document.getElementById('shown').textContent;
  const first = Array.from(document.querySelectorAll('#summary tbody tr')).find((r) => !r.hidden);
  first.querySelector('a.graph').click();
  const img = document.getElementById('viewer-img');
  await until(() => img.complete && img.naturalWidth > 0);
  const box = img.getBoundingClientRect();
  out.viewer_open = document.getElementById('viewer').open;
  out.viewer_name = document.getElementById('viewer-name').textContent;
  out.viewer_natural = [img.naturalWidth, img.naturalHeight];
  out.viewer_shown = [box.width, box.height];
  document.getElementById('viewer').close();
  type(filter, '<PRIM');
  out.filtered_odd = visible();
  type(filter, '');
  window.scrollTo(0, document.documentElement.scrollHeight);
  await sleep(1500);
  out.loaded_after_scroll = loaded();
  const graphs = document.querySelectorAll('#summary tbody tr img');
  const last = graphs[graphs.length - 1];
  out.last_row_loaded = !!last && last.complete && last.naturalWidth > 0;
  const pre = document.createElement('pre');
  pre.id = 'probe-result';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
"#;

/// The index of a 300-target report in headless Chromium, used as a person would: failed
/// rows come first; a click on the Percentile header orders the rows by it, largest first;
/// typing into the filter hides the rows whose name does not match; a click on a graph
/// shows it at its natural size; and only the graphs near the first screen load at first.
#[test]
fn index_of_300_targets_sorts_filters_and_loads_lazily() {
    const N: usize = 300;
    const ODD: usize = 150;
    let failing = [4, 123, 290];
    let name = |i: usize| {
        if i == ODD {
            "db <primary> & co".to_string()
        } else {
            format!("node-{i:03}")
        }
    };
    let sim = sim::spawn(SimConfig::default()).unwrap();
    let work = scratch();
    let mut text = format!(
        "[defaults]\nbase_url = \"{}\"\nrange = \"specified_range\"\ndate = 2026-01-05\n\
         end_date = 2026-01-06\n",
        sim.base_url()
    );
    for i in 0..N {
        let server = if failing.contains(&i) {
            "srv-missing".to_string()
        } else {
            format!("srv-{i}")
        };
        text.push_str(&format!(
            "\n[[target]]\nname = \"{}\"\naccount = \"acme\"\nserver = \"{server}\"\n\
             ips = [\"10.2.{}.{}\"]\n",
            name(i).replace('"', "\\\""),
            i / 200,
            i % 200 + 1
        ));
    }
    let config = work.path().join("report.toml");
    std::fs::write(&config, text).unwrap();
    let out = work.path().join("out");
    let mut job = ReportJob::new(&config, &out);
    job.jobs = 16;
    job.fetch.concurrency = 16;
    let summary = report::run(&job).unwrap().summary;
    assert_eq!(summary.failed(), failing.len());

    let Some(browser) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium is not installed (/usr/bin/chromium): .ci/run installs it");
        }
        eprintln!("report: skipping the index.html check: no chromium in /usr/bin");
        return;
    };
    let dom = chromium_dump_dom_with(
        &browser,
        &out.join("index.html"),
        INDEX_PROBE,
        // Headless Chromium loads lazy images at once (for screenshots) unless told to
        // behave as a browser does.
        &[
            "--window-size=1200,800",
            "--blink-settings=lazyLoadEnabled=true",
        ],
    );
    let json = dom
        .split("<pre id=\"probe-result\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("the check did not run; DOM: {}", &dom[..dom.len().min(800)]))
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let probe: IndexProbe = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));

    // Failed rows first, then the rest, each in the config's order.
    let mut initial: Vec<&report::summary::SummaryRow> = summary.rows.iter().collect();
    initial.sort_by_key(|r| r.status == RowStatus::Ok);
    let names = |rows: &[&report::summary::SummaryRow]| -> Vec<String> {
        rows.iter().map(|r| r.name.clone()).collect()
    };
    assert_eq!(probe.initial, names(&initial));
    assert_eq!(&probe.initial[..3], ["node-004", "node-123", "node-290"]);

    // The Percentile header: largest first, rows without one (failed) last.
    let mut by_pct = initial.clone();
    by_pct.sort_by(|a, b| match (a.percentile, b.percentile) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (a, b) => a.is_none().cmp(&b.is_none()),
    });
    assert_eq!(probe.by_percentile, names(&by_pct));
    assert_eq!(probe.aria_sort, "descending");
    assert_ne!(
        probe.by_percentile, probe.initial,
        "the click changed nothing"
    );

    // The filter keeps the percentile order and hides the rest.
    let matching = |q: &str| -> Vec<String> {
        names(&by_pct)
            .into_iter()
            .filter(|n| n.to_lowercase().contains(&q.to_lowercase()))
            .collect()
    };
    assert_eq!(probe.filtered, matching("25"));
    assert_eq!(probe.filtered.len(), 13, "{:?}", probe.filtered); // 025, 125, 225, 250-259
    assert_eq!(probe.shown_text, format!("13 of {N} shown"));
    assert_eq!(probe.filtered_odd, ["db <primary> & co"]);

    // A graph opens at its natural size.
    assert!(probe.viewer_open);
    assert_eq!(probe.viewer_name, probe.filtered[0]);
    assert_eq!(probe.viewer_natural, (827, 273));
    assert_eq!(probe.viewer_shown, (827.0, 273.0));

    // Lazy: every graph asks to be, only those near the first screen loaded, and
    // scrolling to the end loads the last.
    let graphs = N - failing.len();
    assert_eq!((probe.images, probe.lazy), (graphs, graphs));
    assert!(
        probe.on_first_screen >= 1 && probe.loaded_first >= probe.on_first_screen,
        "{probe:?}"
    );
    assert!(
        probe.loaded_first <= graphs / 4,
        "{} of {graphs} graphs loaded at first",
        probe.loaded_first
    );
    assert!(probe.last_row_loaded && probe.loaded_after_scroll > probe.loaded_first);
}

/// Twelve targets share one HTTP client; a re-run the cache answers wholly (not only
/// `--offline`) builds none, so it loads no certificates.
#[test]
fn report_shares_one_http_client_and_builds_none_from_the_cache() {
    let sim = sim::spawn(SimConfig::default()).unwrap();
    let work = scratch();
    let mut text = format!(
        "[defaults]\nbase_url = \"{}\"\nrange = \"specified_range\"\n\
         date = {START}\nend_date = {END}\n",
        sim.base_url()
    );
    for i in 0..12 {
        text.push_str(&format!(
            "\n[[target]]\nname = \"t{i}\"\naccount = \"acme\"\nserver = \"srv-{i}\"\n\
             ips = [\"10.1.{i}.1\"]\n"
        ));
    }
    let config = work.path().join("report.toml");
    std::fs::write(&config, text).unwrap();
    let mut job = ReportJob::new(&config, work.path().join("out"));
    job.fetch.cache_dir = Some(work.path().join("cache"));
    let first = report::run(&job).unwrap();
    assert_eq!(first.summary.failed(), 0);
    assert!(sim.counters.total() >= 24, "{}", sim.counters.total());
    assert_eq!(first.http_clients, 1, "one client for every target");

    sim.counters.reset();
    let again = report::run(&job).unwrap();
    assert_eq!(sim.counters.total(), 0);
    assert_eq!(again.summary.failed(), 0);
    assert_eq!(
        again.http_clients, 0,
        "a run the cache answers builds no client"
    );

    job.fetch.offline = true;
    assert_eq!(report::run(&job).unwrap().http_clients, 0);
}

/// Four `report --shard I/4` processes at once against one simulator and one cache, then
/// `report merge`: every file (each target's and pool's CSV and PNG, summary.csv,
/// summary.json, index.html) byte for byte as one unsharded run writes it.
#[test]
fn four_shards_merged_equal_one_unsharded_run() {
    let sim = sim::spawn(SimConfig::default()).unwrap();
    let work = scratch();
    let config = write_config(work.path(), &sim.base_url());
    let config = config.to_str().unwrap();
    let common = |out: &str, cache: &str| -> Vec<String> {
        [
            "report",
            "--config",
            config,
            "--out-dir",
            out,
            "--cache-dir",
            cache,
            "--quiet",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let shards: Vec<_> = (0..4)
        .map(|i| {
            let mut args = common(&format!("shard-{i}"), "cache");
            args.extend(["--shard".to_string(), format!("{i}/4")]);
            std::process::Command::new(env!("CARGO_BIN_EXE_trafficgraph"))
                .args(&args)
                .current_dir(work.path())
                .env_remove("TRAFFICGRAPH_AUTH")
                .spawn()
                .expect("start a shard")
        })
        .collect();
    let mut drawn = 0;
    for (i, mut child) in shards.into_iter().enumerate() {
        let code = child.wait().unwrap().code();
        // The shard holding the missing server exits 3, the others 0.
        assert!(matches!(code, Some(0) | Some(3)), "shard {i}: {code:?}");
        let dir = work.path().join(format!("shard-{i}"));
        let names = names_in(&dir);
        assert!(names.contains(&"shard.json".to_string()), "{names:?}");
        assert!(!names
            .iter()
            .any(|n| n.starts_with("summary") || n.starts_with("pool")));
        drawn += names.iter().filter(|n| n.ends_with(".csv")).count();
    }
    assert_eq!(drawn, TARGETS - 1, "every target but the missing one, once");

    let one = run_in(
        work.path(),
        &common("one", "cache-one")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(one.status.code(), Some(3), "{}", stderr(&one));
    let merge = run_in(
        work.path(),
        &[
            "report",
            "merge",
            "shard-0",
            "shard-1",
            "shard-2",
            "shard-3",
            "--out-dir",
            "merged",
        ],
    );
    assert_eq!(merge.status.code(), Some(3), "{}", stderr(&merge));
    let (one, merged) = (work.path().join("one"), work.path().join("merged"));
    assert_eq!(names_in(&merged), names_in(&one));
    for name in names_in(&one) {
        let a = std::fs::read(one.join(&name)).unwrap();
        let b = std::fs::read(merged.join(&name)).unwrap();
        assert!(
            a == b,
            "{name} differs between the merged shards and one run"
        );
    }
    // Shards that do not make a whole report are refused, saying which is missing.
    let partial = run_in(
        work.path(),
        &[
            "report",
            "merge",
            "shard-0",
            "shard-2",
            "--out-dir",
            "partial",
        ],
    );
    assert_eq!(partial.status.code(), Some(1));
    let err = stderr(&partial);
    assert!(
        err.contains("1/4") && err.contains("3/4") && err.lines().count() == 1,
        "{err}"
    );
}

/// A report in Europe/Berlin sums its own local day: 2026-10-25 has 25 hours (clocks go
/// back), from 22:00 UTC the day before; daily data, which is UTC days, is refused there.
#[test]
fn a_report_in_a_time_zone_sums_its_local_days_with_daylight_saving() {
    let sim = sim::spawn(SimConfig::default()).unwrap();
    let work = scratch();
    let config = |period: &str| {
        format!(
            "[defaults]\nbase_url = \"{}\"\nrange = \"specified_day\"\ndate = 2026-10-25\n\
             timezone = \"Europe/Berlin\"\nperiod = \"{period}\"\n\
             [[target]]\nname = \"berlin\"\naccount = \"acme\"\nserver = \"srv-1\"\n\
             ips = [\"10.1.0.1\"]\n",
            sim.base_url()
        )
    };
    std::fs::write(work.path().join("berlin.toml"), config("hourly")).unwrap();
    let o = run_in(
        work.path(),
        &[
            "report",
            "--config",
            "berlin.toml",
            "--out-dir",
            "out",
            "--no-cache",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let traffic = read_csv(&work.path().join("out/berlin.csv"));
    let rx = traffic.get(Scope::Receive).unwrap();
    let times: Vec<i64> = rx.points().map(|p| p.time.timestamp()).collect();
    let first = parse_date("2026-10-24")
        .unwrap()
        .and_hms_opt(22, 0, 0)
        .unwrap()
        .and_utc();
    assert_eq!(
        times.first(),
        Some(&first.timestamp()),
        "local midnight, CEST"
    );
    assert_eq!(rx.len(), 25, "a 25-hour day");
    let summary = summary_rows(&work.path().join("out"));
    let total: f64 = rx.values().iter().map(|v| v * 3600.0).sum();
    assert!((num(&summary[0], "received_bytes") - total).abs() <= 1e-9 * total);
    std::fs::write(work.path().join("daily.toml"), config("daily")).unwrap();
    let o = run_in(
        work.path(),
        &[
            "report",
            "--config",
            "daily.toml",
            "--out-dir",
            "out2",
            "--no-cache",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("do not start at Europe/Berlin's midnights"),
        "{}",
        stderr(&o)
    );
}
