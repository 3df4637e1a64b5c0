//! Helpers shared by the integration-test modules: paths to fixtures, running the built
//! binary, and scratch directories.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
