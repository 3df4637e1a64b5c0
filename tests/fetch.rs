//! The fetch milestone end to end: the HTTP client, range splitting, retries and cache
//! against the Hostway simulator on 127.0.0.1:0, in-process. Every expectation comes from
//! the simulator's own pure function ([`trafficgraph::sim::series`]), so equality is exact.

use std::path::Path;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use trafficgraph::fetch::{fetch, FetchOptions, Unavailable};
use trafficgraph::model::{Method, Period, Point, Scope, Target, Traffic};
use trafficgraph::range::DateRange;
use trafficgraph::sim::{self, SimConfig, SimHandle};
use trafficgraph::source::hostway::{Accept, Secret};

const ACCOUNT: &str = "acme";
const SERVER: &str = "srv-1";
const IP: &str = "10.0.0.1";

fn day(s: &str) -> NaiveDate {
    trafficgraph::range::parse_date(s).unwrap()
}

fn range(a: &str, b: &str) -> DateRange {
    DateRange::new(day(a), day(b)).unwrap()
}

fn start(config: SimConfig) -> SimHandle {
    sim::spawn(config).expect("simulator starts on loopback")
}

/// Options for tests: one IP, quiet, no cache, fast backoff.
fn options(sim: &SimHandle, scopes: &[Scope], range: DateRange) -> FetchOptions {
    let mut o = FetchOptions::new(sim.base_url(), ACCOUNT, SERVER, vec![IP.to_string()], range);
    o.scopes = scopes.to_vec();
    o.settings.backoff_min = Duration::from_millis(1);
    o.settings.backoff_max = Duration::from_millis(20);
    o.settings.timeout = Duration::from_secs(20);
    o
}

fn expected(ip: &str, scope: Scope, range: DateRange) -> Vec<Point> {
    let target = Target {
        account: ACCOUNT.into(),
        server: SERVER.into(),
        ip: ip.into(),
    };
    sim::series(
        &target,
        scope,
        Period::Hourly,
        Method::Avg,
        range,
        Utc::now(),
    )
}

fn points(traffic: &Traffic, scope: Scope) -> Vec<Point> {
    traffic.get(scope).expect("series present").to_points()
}

#[test]
fn two_years_hourly_equal_the_simulator_value_for_value() {
    let sim = start(SimConfig::default());
    let r = range("2023-01-01", "2024-12-31");
    let mut o = options(&sim, &[Scope::Receive, Scope::Transmit], r);
    o.settings.concurrency = 8;
    let fetched = fetch(&o).unwrap();
    for scope in [Scope::Receive, Scope::Transmit] {
        let want = expected(IP, scope, r);
        assert!(
            want.len() > 17_000 && want.len() < 731 * 24,
            "some hours missing"
        );
        assert_eq!(points(&fetched.traffic, scope), want.as_slice(), "{scope}");
    }
    let rx = fetched.traffic.get(Scope::Receive).unwrap();
    assert_eq!(rx.origin.period, Some(Period::Hourly));
    assert_eq!(rx.origin.target.as_ref().unwrap().ip, IP);
    // 731 days in 20-day chunks, two scopes; nothing over the limit asked.
    assert_eq!(fetched.summary.planned, 74);
    assert_eq!(sim.counters.total(), 74);
    assert_eq!(sim.counters.status(200), 74);
    assert!(sim.counters.max_sets_asked() <= 500);
    assert!(fetched.unavailable.is_empty());
}

#[test]
fn smaller_server_limit_is_met_by_halving_on_over_limit() {
    let sim = start(SimConfig {
        limit: 100,
        ..SimConfig::default()
    });
    let r = range("2024-01-01", "2024-03-31");
    let fetched = fetch(&options(&sim, &[Scope::Receive], r)).unwrap();
    assert_eq!(
        points(&fetched.traffic, Scope::Receive),
        expected(IP, Scope::Receive, r).as_slice()
    );
    let s = &fetched.summary;
    assert!(s.splits > 0);
    assert_eq!(sim.counters.status(403), s.splits as u64);
    assert_eq!(sim.counters.status(200), s.chunks as u64);
}

#[test]
fn one_day_still_over_limit_is_an_error_naming_the_chunk() {
    let sim = start(SimConfig {
        limit: 10,
        ..SimConfig::default()
    });
    let e = fetch(&options(
        &sim,
        &[Scope::Receive],
        range("2024-01-01", "2024-01-04"),
    ))
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "chunk ip 10.0.0.1 receive 2024-01-01..2024-01-01: the server refuses even one day \
         as over its limit of data sets; try --period daily"
    );
}

#[test]
fn start_before_creation_continues_from_the_server_minimum() {
    let sim = start(SimConfig {
        created: vec![(SERVER.to_string(), day("2024-02-15"))],
        ..SimConfig::default()
    });
    let r = range("2024-01-01", "2024-03-31");
    let mut o = options(&sim, &[Scope::Receive, Scope::Transmit], r);
    o.settings.concurrency = 1;
    let fetched = fetch(&o).unwrap();
    assert_eq!(
        fetched.unavailable,
        vec![Unavailable {
            ip: IP.into(),
            range: range("2024-01-01", "2024-02-14"),
            min_date: day("2024-02-15"),
        }]
    );
    let exists = range("2024-02-15", "2024-03-31");
    for scope in [Scope::Receive, Scope::Transmit] {
        assert_eq!(
            points(&fetched.traffic, scope),
            expected(IP, scope, exists).as_slice()
        );
    }
    // Learned once, then later chunks are clamped without asking again.
    assert_eq!(sim.counters.status(400), 1);
}

#[test]
fn unauthorized_says_what_to_check_and_never_shows_the_token() {
    let sim = start(SimConfig {
        auth: Some(Secret::new("Bearer right-token")),
        ..SimConfig::default()
    });
    let r = range("2024-01-01", "2024-01-05");
    let mut o = options(&sim, &[Scope::Receive], r);
    o.auth = Some(Secret::new("Bearer wrong-token-7f3a"));
    let e = fetch(&o).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("chunk ip 10.0.0.1 receive 2024-01-01..2024-01-05: 401 Unauthorized from http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.ends_with(": check --auth / TRAFFICGRAPH_AUTH (or --user / TRAFFICGRAPH_PASSWORD)"),
        "{text}"
    );
    assert!(!text.contains("wrong-token-7f3a") && !format!("{e:?}").contains("wrong-token-7f3a"));
    assert!(!format!("{o:?}").contains("wrong-token-7f3a"));
    assert_eq!(sim.counters.status(401), 1, "401 is not retried");

    o.auth = Some(Secret::new("Bearer right-token"));
    let fetched = fetch(&o).unwrap();
    assert_eq!(
        points(&fetched.traffic, Scope::Receive),
        expected(IP, Scope::Receive, r).as_slice()
    );
}

#[test]
fn unknown_or_forbidden_ids_fail_at_once_with_what_to_check() {
    let sim = start(SimConfig::default());
    let r = range("2024-01-01", "2024-01-05");
    let mut o = options(&sim, &[Scope::Receive], r);
    o.server = "missing-server".into();
    let text = fetch(&o).unwrap_err().to_string();
    assert!(
        text.contains(": 404 Not Found from http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.ends_with("/accounts/acme/dedicatedServers/missing-server/ipAddresses/10.0.0.1/statistics/traffic?scope=receive&startDate=2024-01-01&endDate=2024-01-05&period=hourly&method=avg: no such account, server or IP; check their ids"),
        "{text}"
    );
    o.server = "forbidden-server".into();
    let text = fetch(&o).unwrap_err().to_string();
    assert!(text.contains(": 403 Forbidden from "), "{text}");
    assert_eq!(sim.counters.total(), 2, "neither is retried");
}

#[test]
fn twenty_percent_injected_503s_still_complete() {
    let sim = start(SimConfig {
        fail_rate: 0.2,
        seed: 7,
        retry_after: Some(0),
        ..SimConfig::default()
    });
    let r = range("2024-01-01", "2024-12-31");
    let mut o = options(&sim, &[Scope::Receive, Scope::Transmit], r);
    o.settings.retries = 10;
    let fetched = fetch(&o).unwrap();
    for scope in [Scope::Receive, Scope::Transmit] {
        assert_eq!(
            points(&fetched.traffic, scope),
            expected(IP, scope, r).as_slice()
        );
    }
    let failures = sim.counters.status(503);
    assert!(failures > 0, "faults were injected");
    assert_eq!(fetched.summary.retries, failures);
    assert_eq!(fetched.summary.requests, sim.counters.total());
}

#[test]
fn retries_are_bounded_and_the_failure_names_the_chunk() {
    let sim = start(SimConfig {
        fail_rate: 1.0,
        ..SimConfig::default()
    });
    let mut o = options(&sim, &[Scope::Transmit], range("2024-01-01", "2024-01-02"));
    o.settings.retries = 2;
    let text = fetch(&o).unwrap_err().to_string();
    assert!(
        text.starts_with("chunk ip 10.0.0.1 transmit 2024-01-01..2024-01-02: 503 Service Unavailable from http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.ends_with("(after 3 attempts)"), "{text}");
    assert_eq!(sim.counters.total(), 3);
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn interrupted_fetch_resumes_with_only_the_missing_requests() {
    let sim = start(SimConfig {
        fail_after: Some(10),
        auth: Some(Secret::new("Bearer cache-token-91c2")),
        ..SimConfig::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let r = range("2023-01-01", "2024-12-31"); // 37 chunks
    let mut o = options(&sim, &[Scope::Receive], r);
    o.settings.cache_dir = Some(cache.path().to_path_buf());
    o.auth = Some(Secret::new("Bearer cache-token-91c2"));
    o.settings.retries = 1;

    let e = fetch(&o).unwrap_err().to_string();
    assert!(e.starts_with("chunk ip 10.0.0.1 receive "), "{e}");
    assert_eq!(sim.counters.status(200), 10);
    assert_eq!(
        files_under(cache.path()).len(),
        10,
        "every answer was cached"
    );

    sim.set_fail_after(None);
    sim.counters.reset();
    let fetched = fetch(&o).unwrap();
    assert_eq!(fetched.summary.cached, 10);
    assert_eq!(
        sim.counters.total(),
        27,
        "only the missing chunks are asked for"
    );
    let want = expected(IP, Scope::Receive, r);
    assert_eq!(points(&fetched.traffic, Scope::Receive), want.as_slice());

    // A third run is served from the cache alone.
    sim.counters.reset();
    let again = fetch(&o).unwrap();
    assert_eq!(sim.counters.total(), 0);
    assert_eq!(points(&again.traffic, Scope::Receive), want.as_slice());

    // Compact entries: a JSON header naming the request, then binary points.
    for file in files_under(cache.path()) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("cache-token-91c2"), "{}", file.display());
        assert!(text.contains("\"ip\":\"10.0.0.1\""), "{}", file.display());
    }
}

/// A chunk the server halved, interrupted half-way: the re-run answers the halving and the
/// halves it has from the cache before any request (on the caller's thread, `prepare`),
/// and asks only for the rest; once all is cached, no server is needed at all.
#[test]
fn a_halved_chunk_cut_short_goes_on_from_its_cached_halves() {
    use trafficgraph::fetch::{prepare, Stage};
    let sim = start(SimConfig {
        limit: 100,
        fail_after: Some(6),
        ..SimConfig::default()
    });
    let cache = tempfile::tempdir().unwrap();
    // One 20-day chunk (480 sets): halved to 10, 5, then 2 and 3 days: 15 requests.
    let r = range("2024-01-01", "2024-01-20");
    let mut o = options(&sim, &[Scope::Receive], r);
    o.settings.cache_dir = Some(cache.path().to_path_buf());
    o.settings.concurrency = 1;
    o.settings.retries = 0;
    fetch(&o).unwrap_err();
    assert_eq!(sim.counters.total(), 7, "6 answered, the 7th refused");

    sim.set_fail_after(None);
    sim.counters.reset();
    let Stage::Requests(pending) = prepare(&o).unwrap() else {
        panic!("part of the chunk is not cached");
    };
    assert_eq!(sim.counters.total(), 0, "the cache pass asks nothing");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fetched = runtime.block_on(pending.finish()).unwrap();
    assert_eq!(
        sim.counters.total(),
        9,
        "only what the first run did not get"
    );
    let want = expected(IP, Scope::Receive, r);
    assert_eq!(points(&fetched.traffic, Scope::Receive), want.as_slice());
    assert_eq!(fetched.summary.cached, 6);

    // All cached: answered without the server (gone) and without a runtime.
    drop(sim);
    let Stage::Done(again) = prepare(&o).unwrap() else {
        panic!("everything is cached");
    };
    assert_eq!(points(&again.traffic, Scope::Receive), want.as_slice());
}

#[test]
fn csv_bodies_give_the_same_series_as_json() {
    let sim = start(SimConfig::default());
    let r = range("2024-06-01", "2024-07-31");
    let mut o = options(&sim, &[Scope::Total], r);
    o.method = Method::Avg;
    let json = fetch(&o).unwrap();
    o.accept = Accept::Csv;
    let csv = fetch(&o).unwrap();
    assert_eq!(csv.traffic, json.traffic);
    assert_eq!(
        points(&csv.traffic, Scope::Total),
        expected(IP, Scope::Total, r).as_slice()
    );
}

#[test]
fn several_ips_are_summed_per_timestamp_or_kept_apart() {
    let sim = start(SimConfig::default());
    let r = range("2024-02-01", "2024-03-15");
    let ips = vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()];
    let mut o = options(&sim, &[Scope::Receive], r);
    o.ips = ips.clone();
    o.per_ip = true;
    let apart = fetch(&o).unwrap().traffic;
    assert_eq!(apart.series.len(), 2);
    for (series, ip) in apart.series.iter().zip(&ips) {
        assert_eq!(series.label, *ip);
        assert_eq!(series.to_points(), expected(ip, Scope::Receive, r));
    }

    o.per_ip = false;
    let summed = fetch(&o).unwrap().traffic;
    assert_eq!(summed.series.len(), 1);
    let mut want: std::collections::BTreeMap<_, (f64, u64)> = Default::default();
    for ip in &ips {
        for p in expected(ip, Scope::Receive, r) {
            let e = want.entry(p.time).or_insert((0.0, 0));
            e.0 = if e.1 == 0 { p.value } else { e.0 + p.value };
            e.1 += p.count.unwrap();
        }
    }
    let got: Vec<_> = summed.series[0]
        .points()
        .map(|p| (p.time, (p.value, p.count.unwrap())))
        .collect();
    assert_eq!(got, want.into_iter().collect::<Vec<_>>());
    assert_eq!(summed.series[0].label, "");
}

#[test]
fn fetch_command_writes_the_export() {
    // How `render` takes the same flags, and the Debug of the job hiding the credential,
    // are the binary's own tests (src/bin/trafficgraph/flags.rs).
    let sim = start(SimConfig {
        auth: Some(Secret::new("Basic dXNlcjpjbGktdG9rZW4tNWQ=")),
        ..SimConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let base = sim.base_url();
    let args = [
        "fetch",
        "--base-url",
        &base,
        "--account",
        ACCOUNT,
        "--server",
        SERVER,
        "--ip",
        IP,
        "--scope",
        "both",
        "--start",
        "2024-01-01",
        "--end",
        "2024-02-29",
        "--auth",
        "Basic dXNlcjpjbGktdG9rZW4tNWQ=",
        "--no-cache",
        "--quiet",
        "-o",
        out.to_str().unwrap(),
    ];
    let run = crate::util::run(&args);
    assert!(run.status.success(), "{}", crate::util::stderr(&run));
    let said = format!("{}{}", crate::util::stdout(&run), crate::util::stderr(&run));
    assert!(!said.contains("dXNlcjpjbGktdG9rZW4tNWQ="), "{said}");
    // 60 days of 500-set chunks: 3 a scope.
    assert_eq!(sim.counters.total(), 6);
    let text = std::fs::read_to_string(&out).unwrap();
    let back = trafficgraph::source::file::parse_export_csv(&text).unwrap();
    let r = range("2024-01-01", "2024-02-29");
    for scope in [Scope::Receive, Scope::Transmit] {
        assert_eq!(points(&back, scope), expected(IP, scope, r).as_slice());
    }
}

#[test]
fn connection_errors_and_timeouts_are_retried_then_named() {
    // A port nobody listens on: bind, note it, close it.
    let base = crate::util::closed_port_base();
    let r = range("2024-01-01", "2024-01-02");
    let mut o = FetchOptions::new(base, ACCOUNT, SERVER, vec![IP.into()], r);
    o.scopes = vec![Scope::Receive];
    o.settings.backoff_min = Duration::from_millis(1);
    o.settings.backoff_max = Duration::from_millis(5);
    o.settings.retries = 2;
    let e = fetch(&o).unwrap_err();
    let text = e.to_string();
    assert!(text.contains(": request to http://127.0.0.1:"), "{text}");
    assert!(text.ends_with("(after 3 attempts)"), "{text}");

    let sim = start(SimConfig {
        latency: Duration::from_millis(400),
        ..SimConfig::default()
    });
    let mut o = options(&sim, &[Scope::Receive], r);
    o.settings.timeout = Duration::from_millis(50);
    o.settings.retries = 1;
    let text = fetch(&o).unwrap_err().to_string();
    assert!(
        text.contains(": no answer from http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.ends_with("within 0.05s (after 2 attempts)"), "{text}");
    assert_eq!(sim.counters.total(), 2);
}

#[test]
fn rate_limited_429s_with_retry_after_are_retried() {
    let sim = start(SimConfig {
        fail_rate: 0.5,
        fail_status: 429,
        retry_after: Some(0),
        seed: 3,
        ..SimConfig::default()
    });
    let r = range("2024-01-01", "2024-12-31");
    let mut o = options(&sim, &[Scope::Receive], r);
    o.settings.retries = 10;
    let fetched = fetch(&o).unwrap();
    assert_eq!(
        points(&fetched.traffic, Scope::Receive),
        expected(IP, Scope::Receive, r).as_slice()
    );
    assert!(sim.counters.status(429) > 0);
    assert_eq!(fetched.summary.retries, sim.counters.status(429));
}

#[test]
fn verbose_binary_logs_requests_but_never_the_credential() {
    let token = "Bearer verbose-token-c0ffee";
    let sim = start(SimConfig {
        auth: Some(Secret::new(token)),
        limit: 200,
        ..SimConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let cache = dir.path().join("cache");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_trafficgraph"))
        .args(["fetch", "--base-url", &sim.base_url()])
        .args(["--account", ACCOUNT, "--server", SERVER, "--ip", IP])
        .args(["--start", "2024-01-01", "--end", "2024-01-31", "--verbose"])
        .arg("--cache-dir")
        .arg(&cache)
        .arg("-o")
        .arg(&out)
        .env("TRAFFICGRAPH_AUTH", token)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let requests = stderr
        .lines()
        .filter(|l| l.starts_with("GET http://127.0.0.1:"))
        .count();
    assert_eq!(requests as u64, sim.counters.total(), "{stderr}");
    assert!(
        stderr.contains(" -> 403 ("),
        "the halving is visible: {stderr}"
    );
    assert!(stderr.contains(" -> 200 ("), "{stderr}");
    let mut files = files_under(&cache);
    files.push(out);
    for file in files {
        assert!(!String::from_utf8_lossy(&std::fs::read(&file).unwrap()).contains("verbose-token"));
    }
    assert!(
        !stderr.contains("verbose-token")
            && !String::from_utf8_lossy(&run.stdout).contains("verbose-token")
    );
}

/// `cache list` counts what two fetches stored; `cache prune` removes one server's entries,
/// then those older than a number of days, and nothing else.
#[test]
fn cache_list_and_prune_see_what_fetches_stored() {
    let sim = start(SimConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let bin = env!("CARGO_BIN_EXE_trafficgraph");
    for server in ["srv-a", "srv-b"] {
        let run = std::process::Command::new(bin)
            .args(["fetch", "--base-url", &sim.base_url()])
            .args(["--account", ACCOUNT, "--server", server, "--ip", IP])
            .args(["--start", "2024-01-01", "--end", "2024-01-30", "--quiet"])
            .arg("--cache-dir")
            .arg(&cache)
            .arg("-o")
            .arg(dir.path().join(format!("{server}.csv")))
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let cache_cmd = |args: &[&str]| {
        let o = std::process::Command::new(bin)
            .arg("cache")
            .args(args)
            .arg("--cache-dir")
            .arg(&cache)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let list = cache_cmd(&["list"]);
    // 2 servers x 2 scopes, each 30 days in requests of 20 and 10 days.
    let lines: Vec<&str> = list.lines().filter(|l| l.starts_with("hostway ")).collect();
    assert_eq!(lines.len(), 4, "{list}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("2024-01-01..2024-01-30  2 entries")),
        "{list}"
    );
    let r = range("2024-01-01", "2024-01-30");
    let sets: usize = ["srv-a", "srv-b"]
        .iter()
        .flat_map(|server| {
            [Scope::Receive, Scope::Transmit].map(|scope| {
                let target = Target {
                    account: ACCOUNT.into(),
                    server: server.to_string(),
                    ip: IP.into(),
                };
                sim::series(&target, scope, Period::Hourly, Method::Avg, r, Utc::now()).len()
            })
        })
        .sum();
    assert!(
        list.contains(&format!(
            "8 entries (0 unreadable) in {}: {sets} data sets",
            cache.display()
        )),
        "{list}"
    );

    let pruned = cache_cmd(&["prune", "--server", "srv-b"]);
    assert!(pruned.contains("removed 4 entries"), "{pruned}");
    assert!(cache_cmd(&["list"]).contains("4 entries (0 unreadable)"));
    assert!(cache_cmd(&["prune", "--older-than", "100000"]).contains("removed 0 entries"));
    assert!(cache_cmd(&["prune", "--older-than", "30"]).contains("removed 4 entries"));
    assert!(cache_cmd(&["list"]).contains("0 entries"));
}
