//! Messages that say what to fix: each mistake a new user makes gets one line naming it and
//! what to do, a non-zero exit, nothing written, and (where the mistake is known before)
//! no request.

use chrono::{Duration, Utc};
use trafficgraph::sim::{self, SimConfig, SimHandle};
use trafficgraph::source::hostway::Secret;

use crate::util::{fixture, names_in, run_in, scratch, stderr};

fn sim_with_auth() -> SimHandle {
    sim::spawn(SimConfig {
        auth: Some(Secret::new("Bearer right-token")),
        ..SimConfig::default()
    })
    .expect("simulator starts on loopback")
}

/// `fetch` flags against `sim` for `start..=end`, no cache.
fn fetch_args(sim: &SimHandle, start: &str, end: &str) -> Vec<String> {
    [
        "fetch",
        "--base-url",
        &sim.base_url(),
        "--account",
        "1",
        "--server",
        "2",
        "--ip",
        "10.0.0.1",
        "--start",
        start,
        "--end",
        end,
        "--no-cache",
        "-o",
        "out.csv",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The one line of a failed run, after its prefix.
fn one_line(o: &std::process::Output) -> String {
    let e = stderr(o);
    assert_eq!(e.lines().count(), 1, "one line: {e}");
    e.trim_end()
        .strip_prefix("trafficgraph: error: ")
        .unwrap_or_else(|| panic!("prefixed: {e}"))
        .to_string()
}

#[test]
fn a_401_without_any_credential_says_to_give_one() {
    let sim = sim_with_auth();
    let dir = scratch();
    let o = run_in(
        dir.path(),
        &refs(&fetch_args(&sim, "2024-01-01", "2024-01-02")),
    );
    assert_eq!(o.status.code(), Some(1));
    let line = one_line(&o);
    assert!(
        line.contains(": 401 Unauthorized from http://127.0.0.1:"),
        "{line}"
    );
    assert!(
        line.ends_with(
            ": no credential was given: set TRAFFICGRAPH_AUTH or pass --auth (or --user with \
             TRAFFICGRAPH_PASSWORD)"
        ),
        "{line}"
    );
    assert!(names_in(dir.path()).is_empty(), "nothing written");
    // A wrong credential is another mistake, with another message.
    let mut args = fetch_args(&sim, "2024-01-01", "2024-01-02");
    args.extend(["--auth".to_string(), "Bearer wrong".to_string()]);
    let o = run_in(dir.path(), &refs(&args));
    assert_eq!(o.status.code(), Some(1));
    let line = one_line(&o);
    assert!(!line.contains("no credential was given"), "{line}");
    assert!(line.contains("check --auth / TRAFFICGRAPH_AUTH"), "{line}");
    assert!(names_in(dir.path()).is_empty());
}

#[test]
fn a_base_url_without_scheme_gets_a_hint() {
    let dir = scratch();
    let o = run_in(
        dir.path(),
        &[
            "render",
            "--base-url",
            "127.0.0.1:8080",
            "--account",
            "1",
            "--server",
            "2",
            "--ip",
            "10.0.0.1",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
            "-o",
            "g.png",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        one_line(&o),
        "--base-url 127.0.0.1:8080 has no scheme: did you mean http://127.0.0.1:8080? \
         (or https://127.0.0.1:8080)"
    );
    assert!(names_in(dir.path()).is_empty());
}

#[test]
fn a_range_in_the_future_is_named() {
    let sim = sim::spawn(SimConfig::default()).expect("simulator");
    let dir = scratch();
    let today = Utc::now().date_naive();
    let later = |d: i64| (today + Duration::days(d)).to_string();
    // Wholly in the future: an error before any request.
    let o = run_in(dir.path(), &refs(&fetch_args(&sim, &later(30), &later(31))));
    assert_eq!(o.status.code(), Some(1));
    let line = one_line(&o);
    assert!(
        line.starts_with(&format!(
            "the range {}..{} is wholly in the future (today is {today}, UTC)",
            later(30),
            later(31)
        )),
        "{line}"
    );
    assert!(names_in(dir.path()).is_empty(), "no header-only CSV");
    assert_eq!(sim.counters.total(), 0, "no request");
    // Partly: fetched, with a note naming the range.
    let o = run_in(dir.path(), &refs(&fetch_args(&sim, &later(-2), &later(1))));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "the range {}..{} ends in the future (today is {today}, UTC)",
            later(-2),
            later(1)
        )),
        "{}",
        stderr(&o)
    );
    assert_eq!(names_in(dir.path()), vec!["out.csv"]);
}

#[test]
fn a_missing_output_directory_is_named_before_any_request() {
    let sim = sim::spawn(SimConfig::default()).expect("simulator");
    let dir = scratch();
    let mut args = fetch_args(&sim, "2024-01-01", "2024-01-02");
    *args.last_mut().unwrap() = "reports/out.csv".into();
    let o = run_in(dir.path(), &refs(&args));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        one_line(&o),
        "reports/out.csv: directory reports does not exist: create it or give -o another path"
    );
    assert_eq!(sim.counters.total(), 0, "no request");
    assert!(names_in(dir.path()).is_empty());
    let input = fixture("hostway-small-receive.json");
    let o = run_in(
        dir.path(),
        &[
            "render",
            "-i",
            input.to_str().unwrap(),
            "-o",
            "missing/g.png",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let line = one_line(&o);
    assert!(
        line.contains("directory missing does not exist") && !line.contains(".tmp"),
        "{line}"
    );
}

#[cfg(unix)]
#[test]
fn a_png_is_not_written_to_a_terminal() {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::{Command, Stdio};

    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors, which are owned below and closed on drop.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both descriptors were just opened and are owned by nothing else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let input = fixture("hostway-small-receive.json");
    let o = Command::new(env!("CARGO_BIN_EXE_trafficgraph"))
        .args(["render", "-i", input.to_str().unwrap(), "-o", "-"])
        .stdout(Stdio::from(slave))
        .stderr(Stdio::piped())
        .output()
        .expect("run trafficgraph");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        one_line(&o),
        "stdout: refusing to write a PNG to a terminal: redirect it (> graph.png) or give -o FILE"
    );
    // Nothing reached the terminal.
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&master), libc::F_GETFL);
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&master),
            libc::F_SETFL,
            flags | libc::O_NONBLOCK,
        );
    }
    let mut buf = [0u8; 64];
    let n = std::fs::File::from(master).read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "bytes on the terminal: {:?}", &buf[..n]);
    // A pipe is not a terminal: the PNG goes through.
    let o = Command::new(env!("CARGO_BIN_EXE_trafficgraph"))
        .args(["render", "-i", input.to_str().unwrap(), "-o", "-"])
        .output()
        .expect("run trafficgraph");
    assert!(o.status.success());
    assert!(o.stdout.starts_with(b"\x89PNG"));
}

#[test]
fn an_output_name_of_the_other_kind_is_refused_not_written() {
    let dir = scratch();
    let input = fixture("hostway-30d-hourly-receive.json");
    let input = format!("receive={}", input.display());
    let o = run_in(dir.path(), &["render", "-i", &input, "-o", "graph.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        one_line(&o).contains("render writes a PNG") && one_line(&o).contains("export"),
        "{}",
        stderr(&o)
    );
    let o = run_in(dir.path(), &["export", "-i", &input, "-o", "data.png"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        one_line(&o).contains("export writes CSV or JSON"),
        "{}",
        stderr(&o)
    );
    assert!(names_in(dir.path()).is_empty(), "nothing written");
}
