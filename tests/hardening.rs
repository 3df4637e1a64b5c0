//! Safety under faults: credentials never leak, and a fetch killed at any point and run
//! again ends with the same bytes as one that was never interrupted.
//!
//! Everything runs the real binary against the simulator on loopback, bounded in requests
//! and time (no timing assertions).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use trafficgraph::provider::sim::ProviderSimConfig;
use trafficgraph::secret::Secret;
use trafficgraph::sim::{self, SimConfig, SimHandle};

use crate::util::{scratch, stderr};

const HOSTWAY_TOKEN: &str = "Bearer TGLEAK-hostway-7f3a9c1e";
const BASIC_PASSWORD: &str = "TGLEAK-password-51d2";
const SL_KEY: &str = "TGLEAK-softlayer-key-0b8e";
const AWS_SECRET: &str = "TGLEAK/aws+secret-9c4d";
const AWS_TOKEN: &str = "TGLEAK-session-token-33aa";

/// Every form a credential could leak in: as given, and HTTP Basic's base64 of user:password.
fn secrets() -> Vec<String> {
    let basic = Secret::basic("ops", &Secret::new(BASIC_PASSWORD));
    vec![
        HOSTWAY_TOKEN.to_string(),
        "TGLEAK-hostway-7f3a9c1e".into(),
        BASIC_PASSWORD.into(),
        basic.expose().trim_start_matches("Basic ").to_string(),
        SL_KEY.into(),
        AWS_SECRET.into(),
        AWS_TOKEN.into(),
    ]
}

fn start(auth: &str) -> SimHandle {
    sim::spawn(SimConfig {
        auth: Some(Secret::new(auth)),
        providers: Some(ProviderSimConfig {
            sl_api_key: Secret::new(SL_KEY),
            aws_secret_access_key: Secret::new(AWS_SECRET),
            ..ProviderSimConfig::default()
        }),
        ..SimConfig::default()
    })
    .expect("simulator")
}

fn command(dir: &Path, args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trafficgraph"));
    c.args(args)
        .current_dir(dir)
        .env("SL_USERNAME", "sim-user")
        .env("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_SESSION_TOKEN", AWS_TOKEN)
        .env_remove("TRAFFICGRAPH_AUTH")
        .env_remove("TRAFFICGRAPH_PASSWORD");
    c
}

fn args(list: &[&str], base: &str) -> Vec<String> {
    list.iter().map(|a| a.replace("{base}", base)).collect()
}

/// Every file below `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Fails if any secret appears in the output streams or any file under `dir`.
fn assert_no_leak(what: &str, o: &Output, dir: &Path) -> usize {
    let mut scanned = 0;
    for s in secrets() {
        assert!(
            !contains(&o.stdout, &s),
            "{what}: stdout holds a credential"
        );
        assert!(
            !contains(&o.stderr, &s),
            "{what}: stderr holds a credential"
        );
    }
    for f in files_under(dir) {
        let bytes = std::fs::read(&f).unwrap();
        for s in secrets() {
            assert!(
                !contains(&bytes, &s),
                "{what}: {} holds a credential",
                f.display()
            );
        }
        scanned += 1;
    }
    scanned
}

#[test]
fn no_command_leaks_a_credential_on_success_or_failure() {
    let sim = start(HOSTWAY_TOKEN);
    let base = sim.base_url();
    let dir = scratch();
    let fetch = [
        "--base-url",
        "{base}",
        "--account",
        "a1",
        "--server",
        "s1",
        "--ip",
        "10.0.0.1",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-05",
        "--cache-dir",
        "cache",
        "--verbose",
    ];
    // Failure paths must reach the server: the cache would answer without asking.
    let uncached: Vec<&str> = fetch
        .iter()
        .map(|a| if *a == "--cache-dir" { "--no-cache" } else { a })
        .filter(|a| *a != "cache")
        .collect();
    let softlayer = [
        "--fallback",
        "on-error",
        "--provider",
        "softlayer",
        "--sl-endpoint",
        "{base}/rest/v3.1/",
        "--sl-hardware-id",
        "7",
    ];
    let cloudwatch = [
        "--fallback",
        "always",
        "--provider",
        "cloudwatch",
        "--cw-endpoint",
        "{base}/",
        "--cw-instance-id",
        "i-0123456789abcdef0",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-05",
    ];
    type Case<'a> = (&'a str, Vec<String>, Vec<(&'a str, &'a str)>, bool);
    let with = |a: &[&str], b: &[&str]| -> Vec<String> {
        let mut v = args(a, &base);
        v.extend(args(b, &base));
        v
    };
    let good = ("TRAFFICGRAPH_AUTH", HOSTWAY_TOKEN);
    let bad = ("TRAFFICGRAPH_AUTH", "Bearer TGLEAK-hostway-7f3a9c1e-wrong");
    let mut cases: Vec<Case> = vec![
        (
            "fetch ok",
            with(&["fetch", "-o", "out/a.csv"], &fetch),
            vec![good],
            true,
        ),
        (
            "fetch json ok",
            with(&["fetch", "-o", "out/a.json"], &fetch),
            vec![good],
            true,
        ),
        (
            "fetch 401",
            with(&["fetch", "-o", "out/b.csv"], &uncached),
            vec![bad],
            false,
        ),
        (
            "fetch basic 401",
            with(&["fetch", "-o", "out/c.csv", "--user", "ops"], &uncached),
            vec![("TRAFFICGRAPH_PASSWORD", BASIC_PASSWORD)],
            false,
        ),
        (
            "render ok",
            with(&["render", "-o", "out/a.png", "--stats", "json"], &fetch),
            vec![good],
            true,
        ),
        (
            "export ok",
            with(&["export", "-o", "-"], &fetch),
            vec![good],
            true,
        ),
        (
            "fallback softlayer",
            with(
                &["render", "-o", "out/d.png", "--stats", "json"],
                &[&uncached[..], &softlayer[..]].concat(),
            ),
            vec![bad, ("SL_API_KEY", SL_KEY)],
            true,
        ),
        (
            "fallback softlayer bad key",
            with(
                &["render", "-o", "out/e.png"],
                &[&uncached[..], &softlayer[..]].concat(),
            ),
            vec![bad, ("SL_API_KEY", "TGLEAK-softlayer-key-0b8e-wrong")],
            false,
        ),
        (
            "cloudwatch",
            with(
                &["render", "-o", "out/f.png", "--stats", "json"],
                &cloudwatch,
            ),
            vec![("AWS_SECRET_ACCESS_KEY", AWS_SECRET)],
            true,
        ),
        (
            "cloudwatch bad secret",
            with(&["render", "-o", "out/g.png"], &cloudwatch),
            vec![("AWS_SECRET_ACCESS_KEY", "TGLEAK/aws+secret-9c4d-wrong")],
            false,
        ),
    ];
    // Raw data from the other providers: cached, logged with --verbose, and refused.
    let recent =
        |days: u64| (chrono::Utc::now().date_naive() - chrono::Days::new(days)).to_string();
    let (raw_start, raw_end) = (recent(6), recent(4));
    let raw = |source: &[&str]| -> Vec<String> {
        let mut v = args(source, &base);
        v.extend(args(
            &[
                "--start",
                &raw_start,
                "--end",
                &raw_end,
                "--cache-dir",
                "cache",
                "--verbose",
            ],
            &base,
        ));
        v
    };
    let sl_raw = [
        "--source",
        "softlayer",
        "--sl-endpoint",
        "{base}/rest/v3.1/",
        "--sl-hardware-id",
        "7",
    ];
    let cw_raw = [
        "--source",
        "cloudwatch",
        "--cw-endpoint",
        "{base}/",
        "--cw-instance-id",
        "i-0123456789abcdef0",
    ];
    cases.push((
        "softlayer raw",
        [args(&["fetch", "-o", "out/sl.csv"], &base), raw(&sl_raw)].concat(),
        vec![("SL_API_KEY", SL_KEY)],
        true,
    ));
    cases.push((
        "softlayer raw bad key",
        [
            args(&["render", "-o", "out/sl.png", "--refresh"], &base),
            raw(&sl_raw),
        ]
        .concat(),
        vec![("SL_API_KEY", "TGLEAK-softlayer-key-0b8e-wrong")],
        false,
    ));
    cases.push((
        "cloudwatch raw",
        [
            args(&["render", "-o", "out/cw.png", "--stats", "json"], &base),
            raw(&cw_raw),
        ]
        .concat(),
        vec![("AWS_SECRET_ACCESS_KEY", AWS_SECRET)],
        true,
    ));
    cases.push((
        "cloudwatch raw bad secret",
        [
            args(&["fetch", "-o", "out/cw.csv", "--refresh"], &base),
            raw(&cw_raw),
        ]
        .concat(),
        vec![("AWS_SECRET_ACCESS_KEY", "TGLEAK/aws+secret-9c4d-wrong")],
        false,
    ));
    // A report: one target served, one refused (404) and drawn by SoftLayer instead.
    std::fs::write(
        dir.path().join("report.toml"),
        format!(
            "[defaults]\nbase_url = \"{base}\"\nrange = \"specified_range\"\n\
             date = 2026-01-01\nend_date = 2026-01-03\n\
             [[target]]\nname = \"ok\"\naccount = \"a1\"\nserver = \"s1\"\nips = [\"10.0.0.1\"]\n\
             [[target]]\nname = \"gone\"\naccount = \"a1\"\nserver = \"missing-2\"\n\
             ips = [\"10.0.0.2\"]\nfallback = {{ provider = \"softlayer\", hardware_id = 7, \
             endpoint = \"{base}/rest/v3.1/\" }}\n"
        ),
    )
    .unwrap();
    let report = |extra: &[&str]| -> Vec<String> {
        let mut v = args(
            &[
                "report",
                "--config",
                "report.toml",
                "--out-dir",
                "out/report",
                "--verbose",
            ],
            &base,
        );
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    cases.push((
        "report",
        report(&["--cache-dir", "cache"]),
        vec![good, ("SL_API_KEY", SL_KEY)],
        true,
    ));
    cases.push((
        "report 401",
        report(&["--no-cache"]),
        vec![bad, ("SL_API_KEY", "TGLEAK-softlayer-key-0b8e-wrong")],
        false,
    ));
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    let mut scanned = 0;
    for (what, argv, env, ok) in &cases {
        let mut c = command(dir.path(), argv);
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.success(), *ok, "{what}: {}", stderr(&o));
        if *what == "fetch 401" {
            // The scan reads what --verbose logs: the requests themselves.
            assert!(
                stderr(&o).contains("GET http://127.0.0.1:"),
                "{}",
                stderr(&o)
            );
        }
        scanned += assert_no_leak(what, &o, dir.path());
    }
    eprintln!(
        "leak scan: {} runs, {scanned} files scanned, 0 leaks",
        cases.len()
    );
    assert!(
        scanned > 20,
        "scanned outputs, cache and PNGs: {scanned} files"
    );
    assert!(
        files_under(&dir.path().join("cache")).len() >= 2,
        "the cache was written"
    );
}

/// Runs a fetch of 60 days hourly: receive and transmit, 3 chunks each, one at a time.
fn fetch_cmd(dir: &Path, base: &str, out: &str) -> Command {
    let argv = args(
        &[
            "fetch",
            "--base-url",
            "{base}",
            "--account",
            "a1",
            "--server",
            "s9",
            "--ip",
            "10.0.0.9",
            "--start",
            "2025-01-01",
            "--end",
            "2025-03-01",
            "--cache-dir",
            "cache",
            "--concurrency",
            "1",
            "--quiet",
            "-o",
            out,
        ],
        base,
    );
    let mut c = command(dir, &argv);
    c.env("TRAFFICGRAPH_AUTH", HOSTWAY_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Waits until the simulator has received no request for 200 ms: what a killed client
/// sent has then been counted.
fn settle(counters: &trafficgraph::sim::Counters) {
    let mut last = (counters.total(), Instant::now());
    while last.1.elapsed() < Duration::from_millis(200) {
        std::thread::sleep(Duration::from_millis(20));
        let total = counters.total();
        if total != last.0 {
            last = (total, Instant::now());
        }
    }
}

#[test]
fn a_fetch_killed_anywhere_resumes_to_the_same_bytes() {
    let sim = sim::spawn(SimConfig {
        auth: Some(Secret::new(HOSTWAY_TOKEN)),
        latency: Duration::from_millis(60),
        ..SimConfig::default()
    })
    .unwrap();
    let base = sim.base_url();
    let reference = scratch();
    let status = fetch_cmd(reference.path(), &base, "out.csv")
        .status()
        .unwrap();
    assert!(status.success());
    let expected = std::fs::read(reference.path().join("out.csv")).unwrap();
    let chunks = sim.counters.total();
    assert_eq!(chunks, 6, "2 scopes x 3 chunks of 20 days");

    let mut kills = 0;
    for (i, delay_ms) in [5u64, 40, 90, 140, 200, 260, 330].into_iter().enumerate() {
        let dir = scratch();
        let mut child = fetch_cmd(dir.path(), &base, "out.csv").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let killed = child.try_wait().unwrap().is_none();
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        kills += usize::from(killed);
        // Nothing half-written: the output is absent or whole (a temporary may remain).
        if let Ok(partial) = std::fs::read(dir.path().join("out.csv")) {
            assert_eq!(partial, expected, "kill {i}: a partial output");
        }
        // A request the killed run sent may reach the simulator only now: counted
        // before the re-run starts, not as one of the re-run's.
        settle(&sim.counters);
        // Answers in the cache (a temporary the kill interrupted is not one).
        let cached = files_under(&dir.path().join("cache"))
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "tgc"))
            .count() as u64;
        let before = sim.counters.total();
        let status = fetch_cmd(dir.path(), &base, "out.csv").status().unwrap();
        assert!(status.success(), "kill {i}: re-run failed");
        assert_eq!(
            std::fs::read(dir.path().join("out.csv")).unwrap(),
            expected,
            "kill {i}"
        );
        // The re-run asks only for what the killed run had not cached.
        assert_eq!(sim.counters.total() - before, chunks - cached, "kill {i}");
    }
    eprintln!("fetch: {kills} of 7 runs killed mid-fetch; 7 outputs compared, 0 differences");
    assert!(kills >= 3, "most runs were killed mid-fetch ({kills})");
}

/// A report of six servers and a pool over a past month, against `base`.
fn report_config(base: &str) -> String {
    let mut c = format!(
        "[defaults]\nbase_url = \"{base}\"\nrange = \"specified_range\"\n\
         date = 2025-02-01\nend_date = 2025-02-28\n"
    );
    for i in 0..6 {
        c.push_str(&format!(
            "[[target]]\nname = \"srv-{i}\"\naccount = \"a1\"\nserver = \"s{i}\"\nips = [\"10.0.1.{i}\"]\n"
        ));
    }
    c.push_str("[[pool]]\nname = \"pool\"\ntargets = [\"srv-0\", \"srv-1\", \"srv-2\"]\n");
    c
}

fn report_cmd(dir: &Path) -> Command {
    let argv: Vec<String> = [
        "report",
        "--config",
        "report.toml",
        "--out-dir",
        "out",
        "--cache-dir",
        "cache",
        "--now",
        "2025-06-01",
        "--jobs",
        "2",
        "--concurrency",
        "2",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut c = command(dir, &argv);
    c.env("TRAFFICGRAPH_AUTH", HOSTWAY_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Every file under `dir/out`, by name, with its bytes.
fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = files_under(&dir.join("out"))
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_report_killed_anywhere_resumes_to_the_same_files() {
    let sim = sim::spawn(SimConfig {
        auth: Some(Secret::new(HOSTWAY_TOKEN)),
        latency: Duration::from_millis(40),
        ..SimConfig::default()
    })
    .unwrap();
    let config = report_config(&sim.base_url());
    let reference = scratch();
    std::fs::write(reference.path().join("report.toml"), &config).unwrap();
    assert!(report_cmd(reference.path()).status().unwrap().success());
    let expected = outputs(reference.path());
    assert_eq!(
        expected.len(),
        2 * 7 + 3,
        "7 PNG + 7 CSV + summary.csv/json + index.html"
    );

    let (mut kills, mut compared) = (0, 0);
    for (i, delay_ms) in [20u64, 120, 250, 400, 600].into_iter().enumerate() {
        let dir = scratch();
        std::fs::write(dir.path().join("report.toml"), &config).unwrap();
        let mut child = report_cmd(dir.path()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        kills += usize::from(child.try_wait().unwrap().is_none());
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        // Whatever the killed run left is whole: no temporary or half-written files.
        for (name, bytes) in outputs(dir.path()) {
            if name.starts_with('.') && name.ends_with(".tmp") {
                continue; // a temporary the kill interrupted: never renamed, removed next run
            }
            let want = expected.iter().find(|(n, _)| *n == name);
            assert_eq!(
                want.map(|w| &w.1),
                Some(&bytes),
                "kill {i}: {name} is partial or stray"
            );
        }
        assert!(
            report_cmd(dir.path()).status().unwrap().success(),
            "kill {i}: re-run"
        );
        let got = outputs(dir.path());
        assert_eq!(got.len(), expected.len(), "kill {i}");
        for ((n1, b1), (n2, b2)) in got.iter().zip(&expected) {
            assert_eq!(n1, n2, "kill {i}");
            assert!(
                b1 == b2,
                "kill {i}: {n1} differs from the uninterrupted run"
            );
            compared += 1;
        }
    }
    eprintln!(
        "report: {kills} of 5 runs killed mid-report; {compared} files compared, 0 differences"
    );
    assert!(kills >= 3, "most runs were killed mid-report ({kills})");
    assert_eq!(compared, 5 * expected.len());
}
