//! The Hostway traffic statistics HTTP client: one request per call, answered as data, as
//! one of the two refusals the caller works around (over the limit, before the server's
//! creation date), or as a [`RequestError`] that says what to check.
//!
//! Splitting, retries, caching and concurrency live in [`crate::fetch`]; this module only
//! speaks HTTP. The credential is a [`Secret`]: it is sent as a sensitive header and never
//! formatted, so it cannot reach logs, errors, output or cache files. URLs in messages are
//! the request URL, which holds no credential (base URLs with user info or a query are
//! refused when the options are validated), or a redirect target shown without user info
//! or query. The client, the body cap and the redirect policy are [`crate::http`]'s.

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::http::{self, BodyError, RedirectRefused, RetryAfter, MAX_BODY_BYTES, MAX_RETRY_AFTER};
use crate::model::{Method, Period, Point, Scope};
use crate::range::DateRange;
use crate::source::file::{parse_hostway_csv, parse_hostway_json, ParseError};
use crate::validate::Row;

pub use crate::secret::Secret;

/// The body format asked for with `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Accept {
    /// `application/json`, the default.
    #[default]
    Json,
    /// `text/csv`.
    Csv,
}

impl crate::model::Named for Accept {
    const ALL: &'static [Accept] = &[Accept::Json, Accept::Csv];
    const WHAT: &'static str = "body format";
    fn name(self) -> &'static str {
        match self {
            Accept::Json => "json",
            Accept::Csv => "csv",
        }
    }
}

impl Accept {
    pub(crate) fn mime(self) -> &'static str {
        match self {
            Accept::Json => "application/json",
            Accept::Csv => "text/csv",
        }
    }
}

impl std::str::FromStr for Accept {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" | "application/json" => Ok(Accept::Json),
            "csv" | "text/csv" => Ok(Accept::Csv),
            other => Err(format!(
                "unknown body format '{other}' (expected json or csv)"
            )),
        }
    }
}

/// What a successful exchange said, as the wire said it: rows not yet checked against the
/// request ([`crate::validate`] does that before anything else sees them).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// 200: the rows, in the order sent.
    Rows(Vec<Row>),
    /// 403 `overLimit`: the range asks for too many data sets.
    OverLimit,
    /// 400 `startDate ... is less than minimum value Y`: nothing exists before `min`.
    MinDate { min: NaiveDate },
}

/// A checked answer: what the fetch uses and the cache keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Answer {
    /// 200: the data sets that passed [`crate::validate`], in time order (gaps absent).
    Data {
        points: Vec<Point>,
        /// Rows outside the range that `--lenient` dropped (0 under the default rules).
        #[serde(default, skip_serializing_if = "is_zero")]
        dropped: usize,
    },
    /// 200 from a provider whose one answer holds several scopes (SoftLayer's receive and
    /// transmit), each checked like `Data`.
    Scoped {
        series: Vec<ScopedPoints>,
        #[serde(default, skip_serializing_if = "is_zero")]
        dropped: usize,
    },
    /// 403 `overLimit`: the range asks for too many data sets.
    OverLimit,
    /// 400 `startDate ... is less than minimum value Y`: nothing exists before `min`.
    MinDate { min: NaiveDate },
}

/// The checked points of one scope of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ScopedPoints {
    pub scope: Scope,
    pub points: Vec<Point>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Why one request failed. Messages are one line and name the URL (which holds no secret).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// A 401 to a request that carried a credential: the credential is wrong.
    #[error(
        "401 Unauthorized from {url}: check --auth / TRAFFICGRAPH_AUTH (or --user / TRAFFICGRAPH_PASSWORD)"
    )]
    Unauthorized {
        /// The request URL (it holds no credential).
        url: String,
    },
    /// A 401 to a request that carried no credential: the fix is to give one.
    #[error(
        "401 Unauthorized from {url}: no credential was given: set TRAFFICGRAPH_AUTH or pass --auth (or --user with TRAFFICGRAPH_PASSWORD)"
    )]
    NoCredential {
        /// The request URL (it holds no credential).
        url: String,
    },
    /// A 403: the credential may not read this account, server or IP.
    #[error(
        "403 Forbidden from {url}: the credentials may not read this server; check the account and server ids and the credentials' permissions"
    )]
    Forbidden {
        /// The request URL (it holds no credential).
        url: String,
    },
    /// A 404: no such account, server or IP.
    #[error("404 Not Found from {url}: no such account, server or IP; check their ids")]
    NotFound {
        /// The request URL (it holds no credential).
        url: String,
    },
    /// A 400 other than the minimum-date refusal.
    #[error("400 Bad Request from {url}: {details}")]
    BadRequest {
        /// The request URL (it holds no credential).
        url: String,
        /// The server's explanation, as it gave it.
        details: String,
    },
    /// Any other unsuccessful status (429 and 5xx are retried).
    #[error("{status} from {url}")]
    Status {
        /// The request URL (it holds no credential).
        url: String,
        /// The HTTP status.
        status: StatusCode,
        /// The wait the server's `Retry-After` asked for, when it sent one.
        retry_after: Option<Duration>,
    },
    /// No answer within the per-request timeout.
    #[error("no answer from {url} within {}s", timeout.as_secs_f64())]
    Timeout {
        /// The request URL (it holds no credential).
        url: String,
        /// The per-request timeout that elapsed.
        timeout: Duration,
    },
    /// The request could not be made or its answer not read (connection, TLS, a broken
    /// body, or the HTTP client could not be built).
    #[error("request to {url} failed: {message}")]
    Transport {
        /// The request URL (it holds no credential).
        url: String,
        /// What the HTTP client said.
        message: String,
    },
    /// A redirect to another origin, a loop or too long a chain: never retried.
    #[error("{refused}")]
    Redirect {
        /// The request URL (it holds no credential).
        url: String,
        /// Why the redirect was refused.
        refused: RedirectRefused,
    },
    /// A 429 or 5xx whose `Retry-After` asks for more than one retry may wait: never
    /// retried, and the user is told when the server wants to hear from us again.
    #[error(
        "{status} from {url}: the server asked to retry after {} s (at {}), more than the {} s \
         this tool waits; run again later",
        wait.as_secs(),
        at.format("%Y-%m-%d %H:%M:%S UTC"),
        MAX_RETRY_AFTER.as_secs()
    )]
    RetryLater {
        /// The request URL (it holds no credential).
        url: String,
        /// The HTTP status (429 or 5xx).
        status: StatusCode,
        /// The wait `Retry-After` asked for.
        wait: Duration,
        /// When that wait ends (UTC).
        at: DateTime<Utc>,
    },
    /// The body is over [`MAX_BODY_BYTES`].
    #[error("the answer from {url} is over {limit} bytes; a response holds at most a few hundred data sets")]
    TooLarge {
        /// The request URL (it holds no credential).
        url: String,
        /// The body cap in bytes.
        limit: usize,
    },
    /// The body's `Content-Type` is neither JSON nor CSV.
    #[error(
        "the answer from {url} is {content_type}, not {asked} or the other documented format; \
         is --base-url the traffic API?"
    )]
    ContentType {
        /// The request URL (it holds no credential).
        url: String,
        /// The `Content-Type` the server sent.
        content_type: String,
        /// The MIME type asked for with `Accept`.
        asked: &'static str,
    },
    /// The body could not be parsed as the format it claimed.
    #[error("unreadable body from {url}: {source}")]
    Body {
        /// The request URL (it holds no credential).
        url: String,
        /// What is wrong with it, and where.
        #[source]
        source: ParseError,
    },
}

impl RequestError {
    /// Worth another attempt: timeouts, connection errors, 429 and 5xx (unless the server
    /// asked for a longer wait than we give it: [`RequestError::RetryLater`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            RequestError::Status { status, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            }
            RequestError::Timeout { .. } | RequestError::Transport { .. } => true,
            _ => false,
        }
    }

    /// The wait the server's `Retry-After` asked for, when it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RequestError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What every request of one fetch shares.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// Base URL (http or https, no user info, no query).
    pub base: Url,
    pub account: String,
    pub server: String,
    pub period: Period,
    pub method: Method,
    pub accept: Accept,
}

impl Endpoint {
    /// The request URL for one chunk of one ip and scope.
    pub fn url(&self, ip: &str, scope: Scope, range: DateRange) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend([
                "accounts",
                &self.account,
                "dedicatedServers",
                &self.server,
                "ipAddresses",
                ip,
                "statistics",
                "traffic",
            ]);
        }
        url.query_pairs_mut()
            .append_pair("scope", scope.as_str())
            .append_pair("startDate", &range.start.to_string())
            .append_pair("endDate", &range.end.to_string())
            .append_pair("period", self.period.as_str())
            .append_pair("method", self.method.as_str());
        url
    }
}

/// Checks a base URL: http or https, and no credentials or query in it (they would end up
/// in messages and cache paths; the credential goes in `--auth`).
pub fn parse_base_url(s: &str) -> Result<Url, BaseUrlError> {
    let t = s.trim();
    if !t.contains("://") && t.contains('@') {
        // Never echo what may be a credential.
        return Err(BaseUrlError::NoSchemeWithCredentials);
    }
    if !t.contains("://") {
        return Err(BaseUrlError::NoScheme { url: t.to_string() });
    }
    let url = Url::parse(s.trim()).map_err(|e| BaseUrlError::Parse {
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(BaseUrlError::NotHttp);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BaseUrlError::Credentials);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(BaseUrlError::QueryOrFragment);
    }
    Ok(url)
}

/// Why a `--base-url` was refused. No message echoes what may be a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    /// No scheme, and an `@` that may mark a credential (not echoed).
    #[error(
        "--base-url has no scheme (http:// or https://) and must not hold \
         credentials; give them with --auth or --user"
    )]
    NoSchemeWithCredentials,
    /// No scheme: `url` is what was given, trimmed.
    #[error("--base-url {url} has no scheme: did you mean http://{url}? (or https://{url})")]
    NoScheme {
        /// The URL given, trimmed.
        url: String,
    },
    /// Not a URL at all: `reason` is the URL parser's.
    #[error("bad --base-url: {reason}")]
    Parse {
        /// The URL parser's words.
        reason: String,
    },
    /// A scheme other than http or https, or a URL that cannot be a base.
    #[error("bad --base-url: expected http://HOST[:PORT][/PATH] or https://...")]
    NotHttp,
    /// User info in the URL.
    #[error("--base-url must not hold credentials; give them with --auth or --user")]
    Credentials,
    /// A query or fragment in the URL.
    #[error("--base-url must not have a query or fragment")]
    QueryOrFragment,
}

/// The `--auth` value cannot travel in an HTTP header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the --auth value is not a valid HTTP header value")]
pub struct InvalidAuthHeader;

/// An HTTP client bound to one endpoint and credential.
#[derive(Debug, Clone)]
pub(crate) struct HostwayClient {
    http: http::LazyClient,
    endpoint: Endpoint,
    auth: Option<HeaderValue>,
    timeout: Duration,
}

impl HostwayClient {
    /// The client of `endpoint`. Its HTTP client ([`http::client`]: rustls with ring, our
    /// redirect policy) is taken from `clients` on the first request, so a fetch answered
    /// from the cache builds none.
    pub fn new(
        endpoint: Endpoint,
        auth: Option<&Secret>,
        timeout: Duration,
        pool: usize,
        clients: &http::Clients,
    ) -> Result<HostwayClient, InvalidAuthHeader> {
        let auth = match auth {
            Some(secret) => {
                let mut v =
                    HeaderValue::from_str(secret.expose()).map_err(|_| InvalidAuthHeader)?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let http = http::LazyClient::new(clients, timeout, Some(pool));
        Ok(HostwayClient {
            http,
            endpoint,
            auth,
            timeout,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Makes one request. `log` receives one line per request (method, URL, status, ms).
    pub async fn get(
        &self,
        ip: &str,
        scope: Scope,
        range: DateRange,
        log: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Reply, RequestError> {
        let url = self.endpoint.url(ip, scope, range);
        let shown = url.to_string();
        let started = Instant::now();
        let result = self.exchange(url, &shown).await;
        let ms = started.elapsed().as_millis();
        match &result {
            Ok((status, _)) => log(&format!("GET {shown} -> {} ({ms} ms)", status.as_u16())),
            Err(e) => log(&format!("GET {shown} -> {e} ({ms} ms)")),
        }
        result.map(|(_, answer)| answer)
    }

    async fn exchange(&self, url: Url, shown: &str) -> Result<(StatusCode, Reply), RequestError> {
        let client = self.http.get().map_err(|e| RequestError::Transport {
            url: shown.to_string(),
            message: e.to_string(),
        })?;
        let mut request = client.get(url).header(ACCEPT, self.endpoint.accept.mime());
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let transport = |e: reqwest::Error| {
            let url = shown.to_string();
            if e.is_timeout() {
                return RequestError::Timeout {
                    url,
                    timeout: self.timeout,
                };
            }
            if e.is_redirect() {
                if let Some(refused) = http::refused_redirect(&e) {
                    let refused = refused.clone();
                    return RequestError::Redirect { url, refused };
                }
            }
            RequestError::Transport {
                url,
                message: http::error_chain(&e.without_url()),
            }
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| http::parse_retry_after(v, Utc::now()));
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let body = http::read_body(response).await.map_err(|e| match e {
            BodyError::Transport(e) => transport(e),
            BodyError::TooLarge => RequestError::TooLarge {
                url: shown.to_string(),
                limit: MAX_BODY_BYTES,
            },
        })?;
        let body = String::from_utf8_lossy(&body);
        let url = shown.to_string();
        let reply = classify(
            status,
            &body,
            content_type.as_deref(),
            self.endpoint.accept,
            retry_after.map(|r| r.wait),
            url,
        )
        .map_err(|e| match e {
            RequestError::Unauthorized { url } if self.auth.is_none() => {
                RequestError::NoCredential { url }
            }
            e => beyond_budget(e, retry_after),
        })?;
        Ok((status, reply))
    }
}

/// A retryable failure whose `Retry-After` asks for more than one retry may wait becomes
/// [`RequestError::RetryLater`]: coming back sooner than asked would be refused again.
fn beyond_budget(e: RequestError, retry_after: Option<RetryAfter>) -> RequestError {
    match (e, retry_after) {
        (e, Some(r)) if !e.is_retryable() || !r.beyond_budget() => e,
        (RequestError::Status { url, status, .. }, Some(r)) => RequestError::RetryLater {
            url,
            status,
            wait: r.wait,
            at: r.at,
        },
        (e, _) => e,
    }
}

/// Turns a status, body and content type into a reply or an error: the pure core of the
/// client. A 200 must be JSON or CSV (as its `Content-Type` says; without one, the format
/// asked for); an empty body, an HTML page or any other type is an error, never "no data".
pub(crate) fn classify(
    status: StatusCode,
    body: &str,
    content_type: Option<&str>,
    asked: Accept,
    retry_after: Option<Duration>,
    url: String,
) -> Result<Reply, RequestError> {
    match status.as_u16() {
        200..=299 => {
            let mime = content_type.map(|t| {
                t.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
            let format = match mime.as_deref() {
                None => asked,
                Some("application/json" | "text/json") => Accept::Json,
                Some(m) if m.ends_with("+json") => Accept::Json,
                Some("text/csv" | "application/csv") => Accept::Csv,
                Some(_) => {
                    return Err(RequestError::ContentType {
                        url,
                        content_type: content_type.unwrap_or_default().to_string(),
                        asked: asked.mime(),
                    })
                }
            };
            let parsed = match format {
                Accept::Json => parse_hostway_json(body),
                Accept::Csv => parse_hostway_csv(body),
            };
            parsed
                .map(Reply::Rows)
                .map_err(|source| RequestError::Body { url, source })
        }
        400 => {
            let details = error_details(body, "badRequest");
            if let Some(min) = details
                .as_ref()
                .and_then(|d| d.get("startDate"))
                .and_then(|v| v.as_str())
                .and_then(min_date_of)
            {
                return Ok(Reply::MinDate { min });
            }
            let details = details.map_or_else(|| "incorrect parameters".into(), |d| one_line(&d));
            Err(RequestError::BadRequest { url, details })
        }
        401 => Err(RequestError::Unauthorized { url }),
        403 => {
            let over_limit = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .is_some_and(|v| v.get("overLimit").is_some());
            if over_limit {
                Ok(Reply::OverLimit)
            } else {
                Err(RequestError::Forbidden { url })
            }
        }
        404 => Err(RequestError::NotFound { url }),
        _ => Err(RequestError::Status {
            url,
            status,
            retry_after,
        }),
    }
}

fn error_details(body: &str, kind: &str) -> Option<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get(kind)?.get("details").cloned()
}

fn one_line(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.replace(['\n', '\r'], " "),
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", one_line(v)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// `2011-01-01 is less than minimum value 2015-01-01` → 2015-01-01.
pub fn min_date_of(details: &str) -> Option<NaiveDate> {
    let (_, rest) = details.split_once("minimum value")?;
    let word = rest.split_whitespace().next()?;
    NaiveDate::parse_from_str(word.trim_end_matches(['.', ',']), "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> String {
        "http://127.0.0.1/x".into()
    }

    #[test]
    fn seed_refusals_are_recognised() {
        let over = r#"{"overLimit": {"message": "GET data error", "code": 403,
            "details": "The (startDate, endDate) range is too large. Maximum number of returned data sets exceeded."}}"#;
        let a = classify(StatusCode::FORBIDDEN, over, None, Accept::Json, None, url()).unwrap();
        assert_eq!(a, Reply::OverLimit);
        let min = r#"{"badRequest": {"message": "GET data error", "code": 400,
            "details": {"startDate": "2011-01-01 is less than minimum value 2015-01-01"}}}"#;
        let a = classify(
            StatusCode::BAD_REQUEST,
            min,
            None,
            Accept::Json,
            None,
            url(),
        )
        .unwrap();
        assert_eq!(
            a,
            Reply::MinDate {
                min: NaiveDate::from_ymd_opt(2015, 1, 1).unwrap()
            }
        );
    }

    #[test]
    fn failures_say_what_to_check() {
        let e = classify(
            StatusCode::UNAUTHORIZED,
            "",
            None,
            Accept::Json,
            None,
            url(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("check --auth"), "{e}");
        assert!(!e.is_retryable());
        let e = classify(StatusCode::FORBIDDEN, "{}", None, Accept::Json, None, url()).unwrap_err();
        assert!(matches!(e, RequestError::Forbidden { .. }));
        let bad = r#"{"badRequest": {"details": {"scope": "x is not one of receive"}}}"#;
        let e = classify(
            StatusCode::BAD_REQUEST,
            bad,
            None,
            Accept::Json,
            None,
            url(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "400 Bad Request from http://127.0.0.1/x: scope: x is not one of receive"
        );
        let e = classify(
            StatusCode::SERVICE_UNAVAILABLE,
            "",
            None,
            Accept::Json,
            Some(Duration::from_secs(2)),
            url(),
        )
        .unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert!(classify(
            StatusCode::TOO_MANY_REQUESTS,
            "",
            None,
            Accept::Json,
            None,
            url()
        )
        .unwrap_err()
        .is_retryable());
    }

    #[test]
    fn a_retry_after_beyond_the_budget_is_final() {
        let now = DateTime::parse_from_rfc3339("2026-11-30T00:02:03Z")
            .unwrap()
            .with_timezone(&Utc);
        let hour = http::parse_retry_after("3600", now);
        let unavailable = StatusCode::SERVICE_UNAVAILABLE;
        let e = classify(
            unavailable,
            "",
            None,
            Accept::Json,
            Some(Duration::from_secs(3600)),
            url(),
        )
        .map_err(|e| beyond_budget(e, hour))
        .unwrap_err();
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "503 Service Unavailable from http://127.0.0.1/x: the server asked to retry after \
             3600 s (at 2026-11-30 01:02:03 UTC), more than the 120 s this tool waits; run \
             again later"
        );
        // Within the budget it stays a retry; a final answer stays what it was.
        let minute = http::parse_retry_after("60", now);
        let e = beyond_budget(
            classify(unavailable, "", None, Accept::Json, None, url()).unwrap_err(),
            minute,
        );
        assert!(e.is_retryable());
        let e = classify(
            StatusCode::UNAUTHORIZED,
            "",
            None,
            Accept::Json,
            None,
            url(),
        )
        .unwrap_err();
        assert!(matches!(
            beyond_budget(e, hour),
            RequestError::Unauthorized { .. }
        ));
    }

    #[test]
    fn both_body_formats_parse() {
        let json = r#"[{"count": 6, "date": "2015-05-05 00:00:00", "values": 1.5},]"#;
        let csv = "count,date,values\n6,2015-05-05 00:00:00,1.5\n";
        let ok = |body, ct, asked| classify(StatusCode::OK, body, ct, asked, None, url());
        let a = ok(json, Some("application/json; charset=utf-8"), Accept::Json).unwrap();
        let b = ok(csv, Some("text/csv"), Accept::Json).unwrap();
        assert_eq!(a, b, "the content type decides");
        assert_eq!(
            ok(csv, None, Accept::Csv).unwrap(),
            a,
            "else the format asked"
        );
        let e = ok("[{", None, Accept::Json).unwrap_err();
        assert!(matches!(e, RequestError::Body { .. }));
        for empty in ["", "  \n"] {
            for asked in [Accept::Json, Accept::Csv] {
                let e = ok(empty, None, asked).unwrap_err();
                assert!(e.to_string().contains("empty body"), "{e}");
            }
        }
        let e = ok("<html>maintenance</html>", Some("text/html"), Accept::Json).unwrap_err();
        assert!(
            e.to_string().contains("is text/html, not application/json"),
            "{e}"
        );
    }

    #[test]
    fn urls_are_built_from_segments() {
        let endpoint = Endpoint {
            base: parse_base_url("https://api.example.net/v1/").unwrap(),
            account: "acme".into(),
            server: "srv 1".into(),
            period: Period::Hourly,
            method: Method::Avg,
            accept: Accept::Json,
        };
        let range = DateRange::new(
            NaiveDate::from_ymd_opt(2015, 5, 5).unwrap(),
            NaiveDate::from_ymd_opt(2015, 5, 7).unwrap(),
        )
        .unwrap();
        assert_eq!(
            endpoint.url("10.0.0.1", Scope::Receive, range).as_str(),
            "https://api.example.net/v1/accounts/acme/dedicatedServers/srv%201/ipAddresses/\
             10.0.0.1/statistics/traffic?scope=receive&startDate=2015-05-05&endDate=2015-05-07\
             &period=hourly&method=avg"
        );
        assert!(parse_base_url("https://u:p@example.net").is_err());
        assert!(parse_base_url("https://example.net/?key=1").is_err());
        assert!(parse_base_url("ftp://example.net").is_err());
        assert_eq!(
            parse_base_url("127.0.0.1:8080").unwrap_err().to_string(),
            "--base-url 127.0.0.1:8080 has no scheme: did you mean http://127.0.0.1:8080? \
             (or https://127.0.0.1:8080)"
        );
        assert!(parse_base_url("localhost:8080/api")
            .unwrap_err()
            .to_string()
            .contains("http://localhost:8080/api?"));
        let e = parse_base_url("user:secret@example.net")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no scheme") && !e.contains("secret"), "{e}");
    }
}
