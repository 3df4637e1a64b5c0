//! `render --fallback`: the provider-drawn graph replaces the local one only when the job
//! says so, against the simulator (Hostway + SoftLayer + CloudWatch) on loopback.

use std::process::{Command, Output};

use trafficgraph::provider::sim::ProviderSimConfig;
use trafficgraph::sim::{self, SimConfig, SimHandle};

use crate::util::{names_in, scratch, stderr, stdout};

fn start() -> SimHandle {
    sim::spawn(SimConfig {
        providers: Some(ProviderSimConfig::default()),
        ..SimConfig::default()
    })
    .expect("simulator")
}

/// Runs `render` in `dir` with the provider credentials the simulator expects.
fn render(dir: &std::path::Path, sim: &SimHandle, server: &str, extra: &[&str]) -> Output {
    let base = sim.base_url();
    let mut args = vec![
        "render".to_string(),
        "-o".into(),
        "g.png".into(),
        "--stats".into(),
        "json".into(),
        "--no-cache".into(),
        "--retries".into(),
        "0".into(),
        "--start".into(),
        "2026-01-01".into(),
        "--end".into(),
        "2026-01-03".into(),
    ];
    let hostway = !extra.contains(&"always");
    if hostway {
        for a in [
            "--base-url",
            &base,
            "--account",
            "a1",
            "--server",
            server,
            "--ip",
            "10.0.0.1",
        ] {
            args.push(a.to_string());
        }
    }
    args.extend(extra.iter().map(|s| s.replace("{base}", &base)));
    Command::new(env!("CARGO_BIN_EXE_trafficgraph"))
        .args(&args)
        .current_dir(dir)
        .env_remove("TRAFFICGRAPH_AUTH")
        .env("SL_USERNAME", "sim-user")
        .env("SL_API_KEY", "sim-api-key")
        .env("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
        .env("AWS_SECRET_ACCESS_KEY", "sim/secret+access+key")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("run trafficgraph")
}

/// The `Source` tEXt chunk of a PNG file.
fn png_source(path: &std::path::Path) -> String {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder.read_info().expect("a PNG");
    reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == "Source")
        .map(|t| t.text.clone())
        .expect("Source chunk")
}

const SOFTLAYER: &[&str] = &[
    "--fallback",
    "on-error",
    "--provider",
    "softlayer",
    "--sl-endpoint",
    "{base}/rest/v3.1/",
    "--sl-hardware-id",
    "4242",
];

#[test]
fn on_error_uses_the_provider_only_when_raw_data_fails() {
    let sim = start();
    let dir = scratch();

    // Raw data works: drawn locally, the provider is never asked.
    let o = render(dir.path(), &sim, "s1", SOFTLAYER);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(s["source"], "local");
    assert_eq!(s["series"].as_array().unwrap().len(), 2);
    assert_eq!(png_source(&dir.path().join("g.png")), "local");

    // The server is unknown (404): the SoftLayer graph is written instead, and said so.
    let o = render(dir.path(), &sim, "missing-1", SOFTLAYER);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("raw data failed") && err.contains("404"),
        "{err}"
    );
    assert!(err.contains("using the softlayer graph instead"), "{err}");
    let s: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(s["source"], "provider:softlayer");
    assert!(s["fallback_reason"].as_str().unwrap().contains("404"));
    let path = dir.path().join("g.png");
    assert_eq!(png_source(&path), "provider:softlayer");
    let img = image::open(&path).unwrap();
    assert_eq!((img.width(), img.height()), (827, 273));
    assert!(!err.contains("sim-api-key") && !stdout(&o).contains("sim-api-key"));
}

#[test]
fn never_reports_the_fetch_error() {
    let sim = start();
    let dir = scratch();
    let o = render(dir.path(), &sim, "missing-1", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("404"), "{}", stderr(&o));
    assert!(names_in(dir.path()).is_empty());
}

#[test]
fn always_asks_cloudwatch_without_fetching_raw_data() {
    let sim = start();
    let dir = scratch();
    let before = sim.counters.total();
    let o = render(
        dir.path(),
        &sim,
        "s1",
        &[
            "--fallback",
            "always",
            "--provider",
            "cloudwatch",
            "--cw-endpoint",
            "{base}/",
            "--cw-instance-id",
            "i-0123456789abcdef0",
            "--width",
            "600",
            "--height",
            "300",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(sim.counters.total(), before, "no Hostway request");
    let s: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(s["source"], "provider:cloudwatch");
    let img = image::open(dir.path().join("g.png")).unwrap();
    assert_eq!((img.width(), img.height()), (600, 300));
    assert!(!stderr(&o).contains("sim/secret+access+key"));
}

#[test]
fn a_failing_fallback_names_both_failures_and_writes_nothing() {
    let sim = start();
    let dir = scratch();
    let mut args = SOFTLAYER.to_vec();
    args.extend(["--sl-user", "someone-else"]);
    let o = render(dir.path(), &sim, "missing-1", &args);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("raw data failed") && err.contains("softlayer fallback failed too"),
        "{err}"
    );
    assert!(err.contains("SL_USERNAME"), "says what to check: {err}");
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("trafficgraph: error:"))
            .count(),
        1
    );
    assert!(names_in(dir.path()).is_empty());
}

#[test]
fn fallback_flags_are_checked_up_front() {
    let sim = start();
    let dir = scratch();
    let o = render(dir.path(), &sim, "s1", &["--fallback", "on-error"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--fallback needs --provider"),
        "{}",
        stderr(&o)
    );
    let o = render(
        dir.path(),
        &sim,
        "s1",
        &["--fallback", "on-error", "--provider", "softlayer"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--sl-hardware-id or --sl-allotment-id"),
        "{}",
        stderr(&o)
    );
}
