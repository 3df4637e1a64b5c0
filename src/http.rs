//! The HTTP policy every outgoing request follows, in one place.
//!
//! Why one module: the Hostway client ([`crate::source::hostway`]) and the provider clients
//! ([`crate::provider`]) feed a billing figure or a graph, so what a provider answer may do
//! must not depend on which client asked. Before, each built its own `reqwest::Client`,
//! read bodies up to its own cap and flattened errors its own way; now both use:
//!
//! - ONE client set-up, [`client`]: our user agent, a total and a connect timeout, the
//!   rustls ring provider installed, and the redirect policy below;
//! - ONE bounded body reader, [`read_body`], with ONE cap, [`MAX_BODY_BYTES`];
//! - ONE [`error_chain`], turning an error and its causes into one line.
//!
//! Redirects: data is only taken from the origin (scheme, host and port) the user named. A
//! redirect to another origin is refused, not followed, because a figure we bill from must
//! come from the host we were told to ask, and the credential must not travel elsewhere.
//! Same-origin redirects are followed, at most [`MAX_REDIRECTS`] of them; a redirect back to
//! a URL already visited is a loop and refused at once. A refusal is a [`RedirectRefused`]
//! naming both URLs, shown without user info or query (a `Location` header may carry
//! either, with a token in it). Retrying would only get the same answer, so callers treat
//! it as final.
//!
//! `Retry-After`: [`parse_retry_after`] reads both forms (delta-seconds and HTTP-date). A
//! caller waits at most [`MAX_RETRY_AFTER`] for one retry; a server asking for longer is a
//! reason to stop and say when to come back, not to come back early.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use reqwest::redirect::{Attempt, Policy};
use reqwest::Url;

/// The most a response body may hold. 500 Hostway data sets are about 50 KB of JSON and a
/// provider graph is tens of kilobytes (a third more in base64); anything near this is not
/// an answer we asked for, and reading on would only exhaust memory.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// Same-origin redirects followed for one request, at most.
pub const MAX_REDIRECTS: usize = 5;

/// The longest wait a `Retry-After` may impose on one retry; a server asking for more is
/// told no and the user is told when to run again.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// HTTP clients built by this process so far ([`client`] calls that succeeded): a test or
/// bench reads it to show that a run answered from the cache built none.
pub fn clients_built() -> usize {
    CLIENTS_BUILT.load(Ordering::Relaxed)
}

static CLIENTS_BUILT: AtomicUsize = AtomicUsize::new(0);

/// What makes two clients interchangeable: the request timeout and the idle pool bound.
type ClientKey = (Duration, Option<usize>);

/// Clients shared by every fetch of one run (a report's targets): one per set-up, built on
/// first use. Building a client loads the system's root certificates, which cost more than
/// drawing a graph, and one client also keeps its connections alive from target to target.
///
/// Shared per run, not per process, on purpose: a `reqwest::Client`'s pooled connections
/// belong to the tokio runtime that opened them, and using them from another runtime (every
/// [`crate::fetch::fetch`] call has its own) can hang or panic (reqwest #1148, #2501). So a
/// run that owns one runtime (a report) shares one `Clients`; each lone fetch gets its own.
/// Cheap to clone (clones share the clients).
#[derive(Debug, Clone, Default)]
pub struct Clients {
    built: Arc<Mutex<HashMap<ClientKey, reqwest::Client>>>,
}

impl Clients {
    /// The client of this set-up, built now if this run has none yet.
    pub fn get(
        &self,
        timeout: Duration,
        max_idle_per_host: Option<usize>,
    ) -> Result<reqwest::Client, ClientError> {
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = built.get(&(timeout, max_idle_per_host)) {
            return Ok(c.clone());
        }
        let c = client(timeout, max_idle_per_host)?;
        built.insert((timeout, max_idle_per_host), c.clone());
        Ok(c)
    }

    /// How many clients this run built.
    pub fn len(&self) -> usize {
        self.built.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether this run built no client yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A client built on the first request that needs one (from a run's [`Clients`]), so a
/// fetch answered wholly from the cache, or `--offline`, builds none and loads no
/// certificates. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct LazyClient {
    clients: Clients,
    timeout: Duration,
    max_idle_per_host: Option<usize>,
    cell: OnceLock<reqwest::Client>,
}

impl LazyClient {
    pub fn new(clients: &Clients, timeout: Duration, max_idle_per_host: Option<usize>) -> Self {
        LazyClient {
            clients: clients.clone(),
            timeout,
            max_idle_per_host,
            cell: OnceLock::new(),
        }
    }

    /// The client, built (or taken from the run's) on the first call. The error is one
    /// line.
    pub fn get(&self) -> Result<&reqwest::Client, ClientError> {
        if let Some(c) = self.cell.get() {
            return Ok(c);
        }
        let c = self.clients.get(self.timeout, self.max_idle_per_host)?;
        Ok(self.cell.get_or_init(|| c))
    }
}

/// The one HTTP client set-up: user agent, `timeout` for a whole request (connecting takes
/// at most 10 s of it), rustls with the ring provider, and the redirect policy of this
/// module. `max_idle_per_host` bounds the kept-alive connections (`None`: reqwest's
/// default). The error is one line. Fetches take theirs through `LazyClient`.
pub fn client(
    timeout: Duration,
    max_idle_per_host: Option<usize>,
) -> Result<reqwest::Client, ClientError> {
    // Installing twice is harmless; the first provider installed wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("trafficgraph/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(redirect_policy());
    if let Some(n) = max_idle_per_host {
        builder = builder.pool_max_idle_per_host(n);
    }
    let built = builder.build().map_err(ClientError)?;
    CLIENTS_BUILT.fetch_add(1, Ordering::Relaxed);
    Ok(built)
}

/// Why the HTTP client could not be built (its TLS or system set-up failed); one line.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {}", error_chain(.0))]
pub struct ClientError(reqwest::Error);

/// A redirect the client refused to follow. Both URLs are shown without user info, and the
/// ones a server chose (every one but the URL we asked for) without their query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectRefused {
    /// The target is on another origin (scheme, host or port).
    #[error(
        "{from} redirected to {to}: another origin, not followed (data is only taken from \
         the host you named; if the new one is right, name it instead)"
    )]
    OtherOrigin {
        /// The URL that redirected.
        from: String,
        /// Where it pointed.
        to: String,
    },
    /// The target was already visited in this chain.
    #[error(
        "{from} redirected to {to}, which it already visited: a redirect loop, not followed; \
         the server is misconfigured, check the URL"
    )]
    Loop {
        /// The URL that redirected.
        from: String,
        /// Where it pointed.
        to: String,
    },
    /// The chain is longer than [`MAX_REDIRECTS`].
    #[error(
        "{from} redirected to {to}: more than {MAX_REDIRECTS} redirects, not followed; \
         check the URL"
    )]
    TooMany {
        /// The URL that redirected.
        from: String,
        /// Where it pointed.
        to: String,
    },
}

fn redirect_policy() -> Policy {
    Policy::custom(
        |attempt: Attempt| match check_redirect(attempt.url(), attempt.previous()) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        },
    )
}

/// Whether a redirect to `next` may be followed, given the URLs requested so far in this
/// chain (`previous[0]` is the URL we asked for, the last one is the URL that redirected).
/// Pure: the whole redirect policy.
pub fn check_redirect(next: &Url, previous: &[Url]) -> Result<(), RedirectRefused> {
    let Some((first, last)) = previous.first().zip(previous.last()) else {
        // reqwest always passes the URL that redirected; without it nothing can be checked.
        return Err(RedirectRefused::OtherOrigin {
            from: "(unknown)".into(),
            to: shown(next, false),
        });
    };
    let from = shown(last, std::ptr::eq(first, last));
    let to = shown(next, false);
    if next.origin() != first.origin() {
        Err(RedirectRefused::OtherOrigin { from, to })
    } else if previous.contains(next) {
        Err(RedirectRefused::Loop { from, to })
    } else if previous.len() > MAX_REDIRECTS {
        // `previous` holds the first URL and every redirect followed so far.
        Err(RedirectRefused::TooMany { from, to })
    } else {
        Ok(())
    }
}

/// A URL fit for a message: no user info or fragment, and the query only when `keep_query`
/// (our own request URLs hold none of the user's secrets; a server's `Location` might).
fn shown(url: &Url, keep_query: bool) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    if !keep_query {
        url.set_query(None);
    }
    url.to_string()
}

/// The refused redirect behind a failed request, if that is why it failed.
pub fn refused_redirect(e: &reqwest::Error) -> Option<&RedirectRefused> {
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<RedirectRefused>() {
            return Some(refused);
        }
        cause = c.source();
    }
    None
}

/// Why reading a body stopped.
#[derive(Debug)]
pub enum BodyError {
    /// The connection failed mid-body.
    Transport(reqwest::Error),
    /// The body passed [`MAX_BODY_BYTES`] (or declared a `Content-Length` over it).
    TooLarge,
}

/// Reads a body chunk by chunk, refusing it as soon as it passes [`MAX_BODY_BYTES`] (a
/// declared `Content-Length` over the cap is refused before reading anything).
pub async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// An error and its causes on one line (`a: b: c`), a cause left out when the text so far
/// already says it, whitespace runs collapsed. Give reqwest errors `without_url()`: callers
/// name the URL themselves.
pub fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a `Retry-After` header asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter {
    /// How long to wait from now, in whole seconds (rounded up; zero for a past date).
    pub wait: Duration,
    /// When the server asked to be retried.
    pub at: DateTime<Utc>,
}

impl RetryAfter {
    /// More than one retry may wait ([`MAX_RETRY_AFTER`]).
    pub fn beyond_budget(&self) -> bool {
        self.wait > MAX_RETRY_AFTER
    }
}

/// Parses a `Retry-After` value received at `now`: delta-seconds (`120`) or an HTTP-date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`, and the obsolete RFC 850 and asctime forms). A date
/// in the past means "now". `None` for anything else, including a delay no calendar holds.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<RetryAfter> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = value.parse().ok()?;
        let at = now.checked_add_signed(TimeDelta::try_seconds(secs)?)?;
        return Some(RetryAfter {
            wait: Duration::from_secs(secs.unsigned_abs()),
            at,
        });
    }
    let at = http_date(value)?;
    let millis = (at - now).num_milliseconds().max(0);
    let secs = (millis as u64).div_ceil(1000);
    Some(RetryAfter {
        wait: Duration::from_secs(secs),
        at,
    })
}

/// An HTTP-date (RFC 9110 section 5.6.7): IMF-fixdate, or the obsolete RFC 850 and asctime
/// forms, all in UTC.
fn http_date(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(s, format).ok())
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T00:02:03.250Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn retry_after_in_seconds() {
        let r = parse_retry_after(" 3600 ", now()).unwrap();
        assert_eq!(r.wait, Duration::from_secs(3600));
        assert_eq!(r.at.to_rfc3339(), "2026-11-30T01:02:03.250+00:00");
        assert!(r.beyond_budget());
        let r = parse_retry_after("120", now()).unwrap();
        assert!(!r.beyond_budget(), "the budget itself is within it");
        assert_eq!(parse_retry_after("0", now()).unwrap().wait, Duration::ZERO);
    }

    #[test]
    fn retry_after_as_an_http_date() {
        let r = parse_retry_after("Mon, 30 Nov 2026 00:02:33 GMT", now()).unwrap();
        // 29.75 s away: rounded up, never back early.
        assert_eq!(r.wait, Duration::from_secs(30));
        assert_eq!(r.at.to_rfc3339(), "2026-11-30T00:02:33+00:00");
        let obsolete = ["Monday, 30-Nov-26 00:02:33 GMT", "Mon Nov 30 00:02:33 2026"];
        for s in obsolete {
            assert_eq!(parse_retry_after(s, now()), Some(r), "{s}");
        }
    }

    #[test]
    fn a_past_date_means_now() {
        let r = parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now()).unwrap();
        assert_eq!(r.wait, Duration::ZERO);
        assert!(!r.beyond_budget());
    }

    #[test]
    fn garbage_is_no_retry_after() {
        for s in [
            "",
            "soon",
            "-5",
            "1.5",
            "+5",
            "99999999999999999999",
            "9223372036854775807",
            "Mon, 30 Nov 2026",
            "30 Nov 2026 00:02:33",
        ] {
            assert_eq!(parse_retry_after(s, now()), None, "{s:?}");
        }
    }

    #[test]
    fn redirects_stay_on_the_origin_named() {
        let first = url("http://127.0.0.1:4000/v1/x?startDate=2015-05-05");
        let chain = [first.clone()];
        assert_eq!(
            check_redirect(&url("http://127.0.0.1:4000/v2/x"), &chain),
            Ok(())
        );
        for other in [
            "http://127.0.0.1:5000/v1/x",
            "https://127.0.0.1:4000/v1/x",
            "http://localhost:4000/v1/x",
            "ftp://127.0.0.1:4000/v1/x",
        ] {
            let e = check_redirect(&url(other), &chain).unwrap_err();
            assert!(
                matches!(e, RedirectRefused::OtherOrigin { .. }),
                "{other}: {e}"
            );
        }
        // The default port is the same origin written out.
        let chain = [url("http://example.net/a")];
        assert_eq!(
            check_redirect(&url("http://example.net:80/b"), &chain),
            Ok(())
        );
    }

    #[test]
    fn refusals_name_both_urls_without_secrets() {
        let chain = [url("http://127.0.0.1:4000/v1/x?startDate=2015-05-05")];
        let e = check_redirect(
            &url("http://user:hunter2@127.0.0.1:5000/y?token=hunter2#f"),
            &chain,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "http://127.0.0.1:4000/v1/x?startDate=2015-05-05 redirected to \
             http://127.0.0.1:5000/y: another origin, not followed (data is only taken from \
             the host you named; if the new one is right, name it instead)"
        );
        // A hop the server chose loses its query too.
        let chain = [
            url("http://127.0.0.1:4000/v1/x"),
            url("http://127.0.0.1:4000/v1/y?token=hunter2"),
        ];
        let e = check_redirect(&url("http://127.0.0.1:5000/z"), &chain).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("http://127.0.0.1:4000/v1/y redirected to http://127.0.0.1:5000/z:"),
            "{e}"
        );
    }

    #[test]
    fn loops_and_long_chains_are_refused() {
        let a = url("http://h/a");
        let b = url("http://h/b");
        let e = check_redirect(&a, &[a.clone(), b.clone()]).unwrap_err();
        assert_eq!(
            e,
            RedirectRefused::Loop {
                from: "http://h/b".into(),
                to: "http://h/a".into()
            }
        );
        assert!(e.to_string().contains("redirect loop"), "{e}");
        let chain: Vec<Url> = (0..=MAX_REDIRECTS)
            .map(|i| url(&format!("http://h/{i}")))
            .collect();
        assert_eq!(
            check_redirect(&url("http://h/next"), &chain[..MAX_REDIRECTS]),
            Ok(())
        );
        let e = check_redirect(&url("http://h/next"), &chain).unwrap_err();
        assert!(matches!(e, RedirectRefused::TooMany { .. }), "{e}");
    }

    #[test]
    fn error_chains_are_one_line_without_repeats() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer: inner\nfailed")]
        struct Outer(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("inner")]
        struct Inner;
        assert_eq!(error_chain(&Outer(Inner)), "outer: inner failed");
    }
}
