//! A hostile or broken server on loopback: every bad answer ends in an error that names the
//! chunk, never in a wrong value or a written file; and inputs that would take unbounded
//! time or memory are refused up front.

use std::io::Write;
use std::time::Duration;

use trafficgraph::fetch::{fetch, FetchOptions};

use crate::util::{http_reply, names_in, one_day_fetch, one_ip, run_in, scratch, stderr, Loopback};

/// What the server does with every request.
#[derive(Clone, Copy)]
enum Script {
    /// A status line, headers and body, sent whole.
    Answer(&'static str, &'static str),
    /// 200 declaring `declared` bytes, sending `sent` of a JSON array, then closing.
    Truncated { declared: usize, sent: usize },
    /// 200 with a body larger than any traffic answer, in 1 MiB writes.
    Huge { mib: usize },
    /// Waits this long before answering anything.
    Silent(Duration),
}

/// Serves `script` on 127.0.0.1:0 for up to `max` connections; counts requests.
fn serve(script: Script, max: usize) -> Loopback {
    Loopback::serve(Some(max), move |_, _, stream| {
        let _ = match script {
            Script::Answer(head, body) => stream.write_all(http_reply(head, body).as_bytes()),
            Script::Truncated { declared, sent } => {
                let body: String = "["
                    .chars()
                    .chain(std::iter::repeat_n(' ', sent - 1))
                    .collect();
                stream.write_all(
                    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{body}")
                        .as_bytes(),
                )
            }
            Script::Huge { mib } => {
                let mut r = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[");
                let block = vec![b' '; 1 << 20];
                for _ in 0..mib {
                    if r.is_err() {
                        break;
                    }
                    r = stream.write_all(&block);
                }
                r
            }
            Script::Silent(d) => {
                std::thread::sleep(d);
                Ok(())
            }
        };
    })
}

fn options(base: &str) -> FetchOptions {
    let day = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
    one_day_fetch(base, day, Duration::from_millis(500))
}

const CHUNK: &str = "chunk ip 10.0.0.1 receive 2025-03-01..2025-03-01";

/// Fetches against `script`; returns the error text and the requests the server saw.
fn fails(script: Script) -> (String, usize) {
    let server = serve(script, 16);
    let e = fetch(&options(&server.base)).expect_err("a bad answer must not yield data");
    (e.to_string(), server.requests())
}

#[test]
fn a_200_with_an_error_body_is_an_error_naming_the_chunk() {
    let (e, n) = fails(Script::Answer(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json",
        r#"{"overLimit": {"message": "GET data error", "code": 403}}"#,
    ));
    assert!(e.starts_with(CHUNK) && e.contains("unreadable body"), "{e}");
    assert_eq!(n, 1, "a body that parses wrong is not retried");
}

#[test]
fn valid_json_of_the_wrong_shape_is_an_error() {
    let (e, _) = fails(Script::Answer(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json",
        r#"[{"count": 6, "date": "2025-03-01 00:00:00", "value": 1.5}]"#,
    ));
    assert!(
        e.starts_with(CHUNK) && e.contains("missing field `values`"),
        "{e}"
    );
}

#[test]
fn a_value_that_is_not_a_number_is_an_error_not_a_zero() {
    let (e, _) = fails(Script::Answer(
        "HTTP/1.1 200 OK\r\nContent-Type: text/csv",
        "count,date,values\n6,2025-03-01 00:00:00,12\n6,2025-03-01 01:00:00,NaN\n",
    ));
    assert!(
        e.starts_with(CHUNK) && e.contains("'NaN' is not a finite number"),
        "{e}"
    );
}

#[test]
fn a_truncated_body_is_retried_then_named() {
    let (e, n) = fails(Script::Truncated {
        declared: 5000,
        sent: 100,
    });
    assert!(
        e.starts_with(CHUNK) && e.contains("(after 3 attempts)"),
        "{e}"
    );
    assert_eq!(n, 3);
}

#[test]
fn a_silent_server_times_out() {
    let (e, n) = fails(Script::Silent(Duration::from_secs(3)));
    assert!(
        e.starts_with(CHUNK) && e.contains("no answer") && e.contains("within 0.5s"),
        "{e}"
    );
    assert_eq!(n, 3);
}

#[test]
fn a_gigantic_body_is_refused_without_reading_it_all() {
    // 64 MiB on offer; the client stops at its 16 MiB cap.
    let (e, n) = fails(Script::Huge { mib: 64 });
    assert!(
        e.starts_with(CHUNK) && e.contains("is over 16777216 bytes"),
        "{e}"
    );
    assert_eq!(n, 1, "not retried");
}

#[test]
fn the_cli_writes_nothing_when_the_server_lies() {
    let server = serve(
        Script::Answer(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json",
            "[{\"date\": 5}]",
        ),
        16,
    );
    let dir = scratch();
    let o = run_in(
        dir.path(),
        &one_ip(
            "fetch",
            &server.base,
            "2025-03-01",
            "2025-03-02",
            &["--no-cache", "-o", "out.csv"],
        ),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(CHUNK.trim_end_matches("2025-03-01")),
        "{}",
        stderr(&o)
    );
    assert!(names_in(dir.path()).is_empty());
}

#[test]
fn unbounded_requests_are_refused_up_front() {
    let dir = scratch();
    let o = run_in(
        dir.path(),
        &[
            "fetch",
            "--base-url",
            "http://127.0.0.1:9",
            "--account",
            "a",
            "--server",
            "s",
            "--ip",
            "10.0.0.1",
            "--start",
            "2000-01-01",
            "--end",
            "3000-01-01",
            "-o",
            "x.csv",
        ],
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("at most 36525 (100 years)"),
        "{}",
        stderr(&o)
    );
    let o = run_in(
        dir.path(),
        &["render", "-i", "x.csv", "-o", "g.png", "--width", "100000"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("out of range"), "{}", stderr(&o));
    // A config with more targets than a report takes is refused before any request.
    let mut toml = String::from("[defaults]\nbase_url = \"http://127.0.0.1:9\"\n");
    for i in 0..10_001 {
        toml.push_str(&format!(
            "[[target]]\nname = \"t{i}\"\naccount = \"a\"\nserver = \"s\"\nips = [\"10.0.0.1\"]\n"
        ));
    }
    std::fs::write(dir.path().join("big.toml"), toml).unwrap();
    let o = run_in(
        dir.path(),
        &["report", "--config", "big.toml", "--out-dir", "out"],
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("at most 10000 in one report"),
        "{}",
        stderr(&o)
    );
    assert_eq!(names_in(dir.path()), vec!["big.toml"]);
}
