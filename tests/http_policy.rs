//! The HTTP policy ([`trafficgraph::http`]) against real servers on loopback: redirects stay
//! on the origin named (another origin, a loop: refused at once, never retried, nothing
//! written), and `Retry-After` is honoured in both forms, or, when it asks for more than the
//! tool waits, ends the fetch at once naming the time the server gave. The provider clients
//! share the redirect policy.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use trafficgraph::fetch::{fetch, FetchError, FetchOptions};
use trafficgraph::http::{RedirectRefused, MAX_RETRY_AFTER};
use trafficgraph::model::Scope;
use trafficgraph::source::file::parse_hostway_json;
use trafficgraph::source::hostway::RequestError;

use crate::util::{http_reply, names_in, one_day_fetch, one_ip, run_in, scratch, stderr, Loopback};

/// A valid answer for 2015-05-05: inside the range, on whole hours, not empty.
const DATA: &str = r#"[{"count": 6, "date": "2015-05-05 00:00:00", "values": 1.5},
{"count": 6, "date": "2015-05-05 01:00:00", "values": 2.5},
{"count": 6, "date": "2015-05-05 02:00:00", "values": 4}]"#;

const CHUNK: &str = "chunk ip 10.0.0.1 receive 2015-05-05..2015-05-05";

/// A response with `status` and `headers` (each ending in CRLF).
fn reply(status: &str, headers: &str, body: &str) -> String {
    let head = format!("HTTP/1.1 {status}\r\n{headers}");
    http_reply(head.trim_end_matches("\r\n"), body)
}

fn data() -> String {
    reply("200 OK", "Content-Type: application/json\r\n", DATA)
}

fn redirect(location: &str) -> String {
    reply("302 Found", &format!("Location: {location}\r\n"), "")
}

/// A 503 asking to come back after `retry_after`.
fn unavailable(retry_after: &str) -> String {
    reply(
        "503 Service Unavailable",
        &format!("Retry-After: {retry_after}\r\n"),
        "",
    )
}

/// An IMF-fixdate, as a server sends it.
fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn options(base: &str, cache: &Path) -> FetchOptions {
    let day = chrono::NaiveDate::from_ymd_opt(2015, 5, 5).unwrap();
    let mut o = one_day_fetch(base, day, Duration::from_secs(5));
    o.settings.cache_dir = Some(cache.to_path_buf());
    o
}

/// Every cache entry (`*.tgc`, or `*.json` as earlier versions wrote them) under `dir`
/// (the cache nests them by endpoint and target).
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(json_files(&path));
        } else if path.extension().is_some_and(|e| e == "json" || e == "tgc") {
            found.push(path);
        }
    }
    found
}

/// The request error of a failed fetch, with the attempts it took.
fn request_error(e: FetchError) -> (RequestError, usize, String) {
    let text = e.to_string();
    match e {
        FetchError::Request {
            source, attempts, ..
        } => (*source, attempts, text),
        other => panic!("expected a request error, got {other}"),
    }
}

#[test]
fn a_redirect_to_another_origin_is_refused_at_once() {
    let b = Loopback::start(|_, _| data());
    let to = format!("{}/v1/elsewhere?token=hunter2", b.base);
    let a = Loopback::start(move |_, _| redirect(&to));
    let cache = scratch();
    let err = fetch(&options(&format!("{}/v1", a.base), cache.path())).unwrap_err();
    let (e, attempts, text) = request_error(err);
    match &e {
        RequestError::Redirect {
            refused: RedirectRefused::OtherOrigin { from, to },
            ..
        } => {
            assert!(
                from.starts_with(&format!("{}/v1/accounts/a1/", a.base)),
                "{from}"
            );
            assert_eq!(to, &format!("{}/v1/elsewhere", b.base));
        }
        other => panic!("expected another-origin refusal, got {other:?}"),
    }
    assert!(!e.is_retryable());
    assert!(
        text.starts_with(&format!("{CHUNK}: {}/v1/accounts/a1/", a.base)),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            " redirected to {}/v1/elsewhere: another origin, not followed (data is only \
             taken from the host you named; if the new one is right, name it instead)",
            b.base
        )),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(attempts, 1);
    assert_eq!(a.requests(), 1, "not retried");
    assert_eq!(b.requests(), 0, "the other origin is never asked");
    assert!(json_files(cache.path()).is_empty());
}

#[test]
fn another_scheme_or_host_name_is_another_origin() {
    // (Location sent, URL the message shows), PORT being the server's own port: the same
    // port, another scheme or host name. The last one carries a credential in its user info
    // and query, which no message may show.
    let locations = [
        ("https://127.0.0.1:PORT/v1/x", "https://127.0.0.1:PORT/v1/x"),
        ("http://localhost:PORT/v1/x", "http://localhost:PORT/v1/x"),
        (
            "http://user:hunter2@localhost:PORT/v1/x?token=hunter2",
            "http://localhost:PORT/v1/x",
        ),
    ];
    for (sent, shown) in locations {
        let target = Arc::new(Mutex::new(String::new()));
        let to = target.clone();
        let a = Loopback::start(move |_, _| redirect(&to.lock().unwrap()));
        let want = shown.replace("PORT", a.port());
        *target.lock().unwrap() = sent.replace("PORT", a.port());
        let cache = scratch();
        let (e, attempts, text) =
            request_error(fetch(&options(&a.base, cache.path())).unwrap_err());
        assert!(
            matches!(
                &e,
                RequestError::Redirect {
                    refused: RedirectRefused::OtherOrigin { .. },
                    ..
                }
            ),
            "{want}: {e:?}"
        );
        assert!(
            text.contains(&format!("redirected to {want}: another origin")),
            "{text}"
        );
        assert!(
            !text.contains("hunter2") && !text.contains("user"),
            "{text}"
        );
        assert_eq!(a.requests(), 1, "{want}");
        assert_eq!(attempts, 1, "{want}");
        assert!(json_files(cache.path()).is_empty(), "{want}");
    }
}

#[test]
fn a_same_origin_redirect_is_followed() {
    let a = Loopback::start(|target, _| {
        if target.starts_with("/old/") {
            redirect(&target.replacen("/old/", "/new/", 1))
        } else if target.starts_with("/new/") {
            data()
        } else {
            reply("404 Not Found", "", "")
        }
    });
    let cache = scratch();
    let fetched = fetch(&options(&format!("{}/old", a.base), cache.path())).unwrap();
    let got = fetched.traffic.get(Scope::Receive).unwrap().to_points();
    assert_eq!(got, data_points());
    assert_eq!(got.len(), 3);
    let seen = a.targets();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].starts_with("/old/accounts/a1/"), "{seen:?}");
    assert_eq!(seen[1], seen[0].replacen("/old/", "/new/", 1));
    assert_eq!(fetched.summary.retries, 0);
    assert_eq!(json_files(cache.path()).len(), 1, "the answer is cached");
}

#[test]
fn a_redirect_loop_is_refused_at_once() {
    // A -> A/x -> A: the second redirect goes back to the URL first asked for.
    let a = Loopback::start(|target, seen| {
        if target == "/x" {
            redirect(&seen[0])
        } else {
            redirect("/x")
        }
    });
    let cache = scratch();
    let (e, attempts, text) = request_error(fetch(&options(&a.base, cache.path())).unwrap_err());
    match &e {
        RequestError::Redirect {
            refused: RedirectRefused::Loop { from, to },
            ..
        } => {
            assert_eq!(from, &format!("{}/x", a.base));
            assert!(to.starts_with(&format!("{}/accounts/a1/", a.base)), "{to}");
            assert!(
                !to.contains('?'),
                "a server's Location is shown without query: {to}"
            );
        }
        other => panic!("expected a loop, got {other:?}"),
    }
    assert!(text.starts_with(CHUNK), "{text}");
    assert!(text.contains("a redirect loop, not followed"), "{text}");
    assert_eq!(attempts, 1);
    assert_eq!(a.requests(), 2, "A then A/x, no retry");
    assert!(json_files(cache.path()).is_empty());
}

#[test]
fn a_retry_after_beyond_the_budget_ends_the_fetch_at_once() {
    let cases = [
        (
            "3600".to_string(),
            Utc::now() + chrono::Duration::seconds(3600),
        ),
        {
            // Whole seconds: what an HTTP-date can say.
            let at = DateTime::from_timestamp(Utc::now().timestamp() + 7200, 0).unwrap();
            (http_date(at), at)
        },
    ];
    for (header, at) in cases {
        let value = header.clone();
        let a = Loopback::start(move |_, _| unavailable(&value));
        let cache = scratch();
        let (e, attempts, text) =
            request_error(fetch(&options(&a.base, cache.path())).unwrap_err());
        let RequestError::RetryLater {
            wait, at: asked, ..
        } = &e
        else {
            panic!("{header}: expected RetryLater, got {e:?}");
        };
        assert!(!e.is_retryable());
        assert!(*wait > MAX_RETRY_AFTER);
        assert!(
            (*asked - at).num_seconds().abs() <= 2,
            "{header}: {asked} vs {at}"
        );
        assert!(
            text.starts_with(&format!(
                "{CHUNK}: 503 Service Unavailable from {}/accounts/a1/",
                a.base
            )),
            "{text}"
        );
        let expected_tail = format!(
            ": the server asked to retry after {} s (at {}), more than the 120 s this tool \
             waits; run again later",
            wait.as_secs(),
            asked.format("%Y-%m-%d %H:%M:%S UTC")
        );
        assert!(text.ends_with(&expected_tail), "{text}");
        if header == "3600" {
            assert!(text.contains("retry after 3600 s (at "), "{text}");
        } else {
            assert!(
                text.contains(&format!("(at {})", at.format("%Y-%m-%d %H:%M:%S UTC"))),
                "{text}"
            );
        }
        assert_eq!(attempts, 1);
        assert_eq!(a.requests(), 1, "{header}: not retried");
        assert!(json_files(cache.path()).is_empty());
    }
}

#[test]
fn a_retry_after_date_in_the_near_future_is_honoured() {
    let a = Loopback::start(|_, seen| {
        if seen.len() == 1 {
            unavailable(&http_date(Utc::now() + chrono::Duration::seconds(2)))
        } else {
            data()
        }
    });
    let cache = scratch();
    let started = Instant::now();
    let fetched = fetch(&options(&a.base, cache.path())).unwrap();
    // The date has whole seconds, so "in 2 s" is between 1 and 2 s away.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        fetched.traffic.get(Scope::Receive).unwrap().to_points(),
        data_points()
    );
    assert_eq!(a.requests(), 2);
    assert_eq!(fetched.summary.requests, 2);
    assert_eq!(fetched.summary.retries, 1);
}

/// Runs `trafficgraph fetch` against `base` for the test day, not quiet, caching in `dir`.
fn cli_fetch(dir: &Path, base: &str) -> std::process::Output {
    let extra = ["--cache-dir", "cache", "-o", "out.csv"];
    run_in(
        dir,
        &one_ip("fetch", base, "2015-05-05", "2015-05-05", &extra),
    )
}

#[test]
fn the_cli_says_a_long_wait_and_not_a_short_one() {
    let short = Loopback::start(|_, seen| match seen.len() {
        1 => unavailable("1"),
        _ => data(),
    });
    let long = Loopback::start(|_, seen| match seen.len() {
        1 => reply("429 Too Many Requests", "Retry-After: 6\r\n", ""),
        _ => data(),
    });
    let short_dir = scratch();
    let long_dir = scratch();
    let (o_short, o_long) = std::thread::scope(|s| {
        let a = s.spawn(|| cli_fetch(short_dir.path(), &short.base));
        let b = s.spawn(|| cli_fetch(long_dir.path(), &long.base));
        (a.join().unwrap(), b.join().unwrap())
    });

    assert_eq!(o_short.status.code(), Some(0), "{}", stderr(&o_short));
    assert!(
        !stderr(&o_short).contains("waiting"),
        "{}",
        stderr(&o_short)
    );
    assert_eq!(short.requests(), 2);

    assert_eq!(o_long.status.code(), Some(0), "{}", stderr(&o_long));
    let err = stderr(&o_long);
    assert!(
        err.contains(&format!(
            "trafficgraph: {CHUNK}: 429 Too Many Requests from {}/accounts/a1/",
            long.base
        )),
        "{err}"
    );
    assert!(err.contains("; waiting 6 s as the server asked\n"), "{err}");
    assert_eq!(long.requests(), 2);
    let csv = std::fs::read_to_string(long_dir.path().join("out.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "header and three hours:\n{csv}");
}

#[test]
fn the_cli_writes_nothing_when_the_server_says_come_back_in_an_hour() {
    let a = Loopback::start(|_, _| unavailable("3600"));
    let dir = scratch();
    let o = cli_fetch(dir.path(), &a.base);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{CHUNK}: 503 Service Unavailable from {}", a.base))
            && err.contains("the server asked to retry after 3600 s (at ")
            && err.contains("; run again later"),
        "{err}"
    );
    assert_eq!(a.requests(), 1);
    assert!(!names_in(dir.path()).contains(&"out.csv".to_string()));
    assert!(json_files(&dir.path().join("cache")).is_empty());
}

#[tokio::test]
async fn a_provider_call_is_not_redirected_to_another_origin() {
    use trafficgraph::provider::softlayer::{
        Client, NetworkType, ServerGraphRequest, SoftLayerConfig,
    };
    use trafficgraph::provider::ProviderError;

    let b = Loopback::start(|_, _| reply("200 OK", "Content-Type: application/json\r\n", "42"));
    let to = format!("{}/rest/v3.1/elsewhere.json", b.base);
    let a = Loopback::start(move |_, _| redirect(&to));
    let secret = "provider-Key-31337";
    let config =
        SoftLayerConfig::new("someone", secret).with_endpoint(format!("{}/rest/v3.1/", a.base));
    let request = ServerGraphRequest {
        start: "2024-03-01T00:00:00Z".parse().unwrap(),
        end: "2024-03-08T00:00:00Z".parse().unwrap(),
        network: NetworkType::Public,
        font_size: 8,
        width: 100,
        height: 100,
        hide_time_zone: true,
    };
    let err = Client::new(config)
        .unwrap()
        .server_graph(5, &request)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ProviderError::Redirect {
                refused: RedirectRefused::OtherOrigin { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "softlayer: {0}/rest/v3.1/SoftLayer_Hardware_Server/5/getMetricTrackingObjectId.json \
             redirected to {1}/rest/v3.1/elsewhere.json: another origin, not followed (data is \
             only taken from the host you named; if the new one is right, name it instead)",
            a.base, b.base
        )
    );
    assert!(!format!("{err:?}").contains(secret));
    assert_eq!(a.requests(), 1);
    assert_eq!(b.requests(), 0);
}

/// The points `DATA` holds, as the checked fetch yields them.
fn data_points() -> Vec<trafficgraph::model::Point> {
    let rows = parse_hostway_json(DATA).unwrap();
    trafficgraph::validate::check(&rows, None).unwrap().points
}
