//! Helpers shared by the integration-test modules: paths to fixtures, running the built
//! binary, scratch directories, and loopback HTTP servers that answer as a test says.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A file under `fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// Runs the `trafficgraph` binary with `args` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trafficgraph"))
        .args(args)
        .current_dir(dir)
        .env_remove("TRAFFICGRAPH_AUTH")
        .env_remove("TRAFFICGRAPH_PASSWORD")
        .output()
        .expect("run trafficgraph")
}

/// Runs the binary in the repository root.
/// The command line of `command` for the tests' one Hostway IP (account `a1`, server
/// `s1`, ip `10.0.0.1`, receive) at `base` over `start..=end`, then `extra`.
pub fn one_ip<'a>(
    command: &'a str,
    base: &'a str,
    start: &'a str,
    end: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        command,
        "--base-url",
        base,
        "--account",
        "a1",
        "--server",
        "s1",
        "--ip",
        "10.0.0.1",
        "--start",
        start,
        "--end",
        end,
        "--scope",
        "receive",
    ];
    args.extend_from_slice(extra);
    args
}

pub fn run(args: &[&str]) -> Output {
    run_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh scratch directory, removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// True when `TRAFFICGRAPH_BLESS=1`: tests rewrite their golden files instead of comparing.
pub fn blessing() -> bool {
    std::env::var("TRAFFICGRAPH_BLESS").is_ok_and(|v| v == "1")
}

/// Every file name in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The headless browser used to check HTML output: Debian's `chromium`, installed by
/// `.ci/run`. `None` when it is not on this machine.
pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| Path::new("/usr/bin").join(name))
        .find(|p| p.exists())
}

/// Flags that keep headless Chromium off the network and quiet on a closed machine.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// Loads `page` (a file in its own directory, so relative links resolve) in headless
/// Chromium with the script `check` appended, and returns the DOM after scripts ran.
pub fn chromium_dump_dom(browser: &Path, page: &Path, check: &str) -> String {
    chromium_dump_dom_with(browser, page, check, &[])
}

/// [`chromium_dump_dom`] with more Chromium flags (e.g. `--window-size=1200,800`).
pub fn chromium_dump_dom_with(browser: &Path, page: &Path, check: &str, flags: &[&str]) -> String {
    let html = std::fs::read_to_string(page).expect("read page");
    let probe = page.with_file_name("__probe.html");
    std::fs::write(&probe, format!("{html}\n<script>{check}</script>\n")).expect("write probe");
    let profile = scratch();
    let out = Command::new(browser)
        .args(CHROMIUM_FLAGS)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--virtual-time-budget=10000")
        .arg("--dump-dom")
        .arg(format!("file://{}", probe.display()))
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_file(&probe);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An HTTP/1.1 server on 127.0.0.1:0 for the tests that need a server to lie, stall or
/// redirect: each connection on its own thread, its request head read whole, its target
/// (path and query) recorded, then answered by the test's handler.
pub struct Loopback {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Loopback {
    /// Answers every request with the bytes `answer` makes of its target and of the
    /// targets seen so far (this one last); see [`http_reply`].
    pub fn start(answer: impl Fn(&str, &[String]) -> String + Send + Sync + 'static) -> Loopback {
        Loopback::serve(None, move |target, seen, stream| {
            let _ = stream.write_all(answer(target, seen).as_bytes());
        })
    }

    /// Lets `handle` write to each connection whatever it likes (a body cut short, an
    /// endless one, nothing at all), given the request's target and the targets seen so far
    /// (this one last); after `max` connections, if given, the port is closed.
    pub fn serve(
        max: Option<usize>,
        handle: impl Fn(&str, &[String], &mut TcpStream) + Send + Sync + 'static,
    ) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let handle = Arc::new(handle);
        std::thread::spawn(move || {
            for stream in listener.incoming().take(max.unwrap_or(usize::MAX)) {
                let Ok(mut stream) = stream else { continue };
                let log = log.clone();
                let handle = handle.clone();
                std::thread::spawn(move || {
                    let Some(target) = read_target(&mut stream) else {
                        return;
                    };
                    let seen = {
                        let mut seen = log.lock().unwrap();
                        seen.push(target.clone());
                        seen.clone()
                    };
                    handle(&target, &seen, &mut stream);
                });
            }
        });
        Loopback { base, seen }
    }

    /// How many requests have come.
    pub fn requests(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// The targets of the requests so far, in the order they came.
    pub fn targets(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// The port, as text.
    pub fn port(&self) -> &str {
        self.base.rsplit(':').next().unwrap()
    }
}

/// The request target of one HTTP/1.1 request (its head read whole).
fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    head.split_whitespace().nth(1).map(str::to_string)
}

/// A whole response: `head` (the status line and any headers, without the blank line
/// that ends them), the body's length, `Connection: close`, and `body`.
pub fn http_reply(head: &str, body: &str) -> String {
    format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// `http://127.0.0.1:PORT` of a port nobody listens on (bound, noted, closed).
pub fn closed_port_base() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    base
}

/// A fetch from `base` of one day's receive traffic of IP 10.0.0.1 (account a1, server
/// s1), retried twice with 1 to 5 ms of backoff: what the loopback-server tests ask.
pub fn one_day_fetch(
    base: &str,
    day: chrono::NaiveDate,
    timeout: std::time::Duration,
) -> trafficgraph::fetch::FetchOptions {
    let mut o = trafficgraph::fetch::FetchOptions::new(
        base,
        "a1",
        "s1",
        vec!["10.0.0.1".into()],
        trafficgraph::range::DateRange::new(day, day).unwrap(),
    );
    o.scopes = vec![trafficgraph::model::Scope::Receive];
    o.settings.retries = 2;
    o.settings.backoff_min = std::time::Duration::from_millis(1);
    o.settings.backoff_max = std::time::Duration::from_millis(5);
    o.settings.timeout = timeout;
    o
}

// ------------------------------------------------ the provider simulator, for both provider modules

/// A simulator counter's value.
pub fn count(c: &std::sync::atomic::AtomicU64) -> u64 {
    trafficgraph::provider::sim::SimCounters::get(c)
}

/// The error says nothing of `secret`, in its message or its debug form.
pub fn assert_no_secret(err: &trafficgraph::provider::ProviderError, secret: &str) {
    assert!(
        !err.to_string().contains(secret),
        "secret in message: {err}"
    );
    assert!(
        !format!("{err:?}").contains(secret),
        "secret in debug: {err:?}"
    );
}

/// The provider simulator on loopback, and a SoftLayer client holding its credentials.
pub async fn softlayer_sim(
    cfg: trafficgraph::provider::sim::ProviderSimConfig,
) -> (
    trafficgraph::provider::sim::SimServer,
    trafficgraph::provider::softlayer::Client,
) {
    use trafficgraph::provider::softlayer::{Client, SoftLayerConfig};
    let sl = SoftLayerConfig::new(cfg.sl_username.clone(), cfg.sl_api_key.clone());
    let server = trafficgraph::provider::sim::spawn(cfg)
        .await
        .expect("bind loopback");
    let client = Client::new(sl.with_endpoint(server.softlayer_endpoint())).expect("client");
    (server, client)
}

/// The simulator's own AWS credentials.
pub fn sim_credentials(
    cfg: &trafficgraph::provider::sim::ProviderSimConfig,
) -> trafficgraph::provider::cloudwatch::AwsCredentials {
    trafficgraph::provider::cloudwatch::AwsCredentials::new(
        cfg.aws_access_key_id.clone(),
        cfg.aws_secret_access_key.clone(),
        None,
    )
}

/// The provider simulator on loopback, and a CloudWatch client (eu-west-1) with `creds`.
pub async fn cloudwatch_sim(
    cfg: trafficgraph::provider::sim::ProviderSimConfig,
    creds: trafficgraph::provider::cloudwatch::AwsCredentials,
) -> (
    trafficgraph::provider::sim::SimServer,
    trafficgraph::provider::cloudwatch::Client,
) {
    use trafficgraph::provider::cloudwatch::{Client, CloudWatchConfig};
    let server = trafficgraph::provider::sim::spawn(cfg)
        .await
        .expect("bind loopback");
    let cw = CloudWatchConfig::new("eu-west-1", creds).with_endpoint(server.cloudwatch_endpoint());
    (server, Client::new(cw).expect("client"))
}
