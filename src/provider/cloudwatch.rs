//! AWS CloudWatch `GetMetricWidgetImage`: a graph of EC2 network metrics drawn by AWS.
//!
//! We speak the Query protocol (a form POST answered with XML) rather than pull in the AWS
//! SDK: one call does not justify its size. The request is signed with SigV4 by the
//! maintained `aws-sigv4` crate, never by hand-rolled crypto.
//!
//! AWS documents hard limits for this call (20 requests per second, 100 metrics, 100 KB of
//! widget, sides of 1 to 2000 pixels); we enforce them before sending, so a bad widget fails
//! fast with a clear message instead of a throttled or rejected request.
//!
//! The raw numbers behind the graph come from `GetMetricStatistics`
//! ([`Client::metric_statistics`]): the `Sum` of `NetworkIn` or `NetworkOut` per period, in
//! bytes, as rows for the shared validator. AWS answers at most [`MAX_DATAPOINTS`] points
//! per call, so a larger request is refused before it is sent; it keeps fine periods only
//! for recent data and answers an empty list (not an error) for a period finer than the
//! range's age allows, so [`finest_period`] picks one that has data. Points come back in no
//! particular order and are returned as parsed; the validator sorts them.
//!
//! Both calls share one signed form POST and one process-wide rate limiter; all XML
//! (images, data points, errors) is read with quick-xml through `xml`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::xml::{self, Element};
use super::{image, one_line, transport, ProviderError, ProviderImage, ProviderKind, Secret};
use crate::validate::Row;

const PROVIDER: ProviderKind = ProviderKind::CloudWatch;
/// The SigV4 signing name of CloudWatch.
pub const SERVICE: &str = "monitoring";
/// Most metrics one widget may hold.
pub const MAX_METRICS: usize = 100;
/// Largest MetricWidget JSON, in bytes (AWS: "up to 100 KB uncompressed payload").
pub const MAX_WIDGET_BYTES: usize = 100 * 1024;
/// Allowed widget sides, in pixels.
pub const SIDE_RANGE: std::ops::RangeInclusive<u32> = 1..=2000;
/// Most calls per second AWS allows for this API.
pub const MAX_PER_SECOND: usize = 20;
/// AWS's default widget size.
pub const DEFAULT_SIZE: (u32, u32) = (600, 400);
/// Most data points one `GetMetricStatistics` call answers.
pub const MAX_DATAPOINTS: u64 = 1440;
const CHECK_CREDENTIALS: &str = "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN \
     (and that the key may call cloudwatch:GetMetricWidgetImage or \
     cloudwatch:GetMetricStatistics and the clock is right)";

/// An access key pair, with a session token for temporary credentials.
#[derive(Clone)]
pub struct AwsCredentials {
    /// The access key id (`AKIA...`/`ASIA...`); kept out of `Debug` output too.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials.
    pub session_token: Option<Secret>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key id is not secret (it shows in AWS logs), but we keep it out anyway.
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &"<redacted>")
            .field("secret_access_key", &self.secret_access_key)
            .field("session_token", &self.session_token)
            .finish()
    }
}

impl AwsCredentials {
    /// Explicit credentials.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<Secret>,
        session_token: Option<Secret>,
    ) -> Self {
        AwsCredentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token,
        }
    }

    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN`.
    pub fn from_env() -> Result<Self, ProviderError> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Ok(Self::new(
                id,
                secret,
                get("AWS_SESSION_TOKEN").map(Secret::new),
            )),
            _ => Err(ProviderError::MissingCredentials {
                provider: PROVIDER,
                hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)",
            }),
        }
    }
}

/// Region, credentials and (for tests) another endpoint.
#[derive(Debug, Clone)]
pub struct CloudWatchConfig {
    /// AWS region, e.g. `us-east-1`; part of the endpoint and of the signature.
    pub region: String,
    /// The key the requests are signed with.
    pub credentials: AwsCredentials,
    /// `None`: `https://monitoring.{region}.amazonaws.com/`.
    pub endpoint: Option<String>,
}

impl CloudWatchConfig {
    /// `region` and `credentials`, the region's public endpoint.
    pub fn new(region: impl Into<String>, credentials: AwsCredentials) -> Self {
        CloudWatchConfig {
            region: region.into(),
            credentials,
            endpoint: None,
        }
    }

    /// Credentials from the environment; region `region` or else `AWS_REGION`.
    pub fn from_env(region: Option<String>) -> Result<Self, ProviderError> {
        let region = region
            .or_else(|| std::env::var("AWS_REGION").ok())
            .filter(|r| !r.is_empty())
            .ok_or(ProviderError::MissingCredentials {
                provider: PROVIDER,
                hint: "no region: pass one or set AWS_REGION",
            })?;
        Ok(Self::new(region, AwsCredentials::from_env()?))
    }

    /// Another endpoint URL (a loopback simulator, a VPC endpoint), used as it is.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The URL we POST to.
    pub fn endpoint_url(&self) -> String {
        match &self.endpoint {
            Some(e) => e.clone(),
            None => format!("https://monitoring.{}.amazonaws.com/", self.region),
        }
    }
}

/// Signs one request with SigV4 at `time`; returns the headers to add (`x-amz-date`,
/// `authorization`, and `x-amz-security-token` with a session token). `headers` are the
/// ones to sign besides those (`host` is taken from `url` when absent).
#[allow(clippy::too_many_arguments)]
pub fn sign_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, ProviderError> {
    let signing = |reason: String| ProviderError::Signing {
        provider: PROVIDER,
        reason,
    };
    let identity = Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.expose().to_string(),
        credentials
            .session_token
            .as_ref()
            .map(|t| t.expose().to_string()),
        None,
        "trafficgraph",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| signing(e.to_string()))?
        .into();
    let request = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| signing(e.to_string()))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| signing(e.to_string()))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// A fixed offset as CloudWatch's widget `timezone` (`+HHMM`); `None` for UTC.
pub fn offset_hhmm(offset: chrono::FixedOffset) -> Option<String> {
    let seconds = offset.local_minus_utc();
    (seconds != 0).then(|| {
        let sign = if seconds < 0 { '-' } else { '+' };
        let minutes = seconds.abs() / 60;
        format!("{sign}{:02}{:02}", minutes / 60, minutes % 60)
    })
}

/// The MetricWidget JSON: what to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricWidget {
    json: Value,
}

/// Options for the usual graph: an EC2 instance's NetworkIn and NetworkOut in bit/s.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkWidget {
    /// The EC2 instance id.
    pub instance_id: String,
    /// First instant of the graph (UTC).
    pub start: DateTime<Utc>,
    /// Last instant of the graph (UTC).
    pub end: DateTime<Utc>,
    /// Width in pixels asked for.
    pub width: u32,
    /// Height in pixels asked for.
    pub height: u32,
    /// Title drawn by AWS; `None` draws none.
    pub title: Option<String>,
    /// `+HHMM` or `-HHMM`; AWS draws UTC when absent.
    pub timezone: Option<String>,
    /// Seconds per point: 1, 5, 10, 30 or a multiple of 60.
    pub period: u32,
}

impl MetricWidget {
    /// A widget from the user's JSON (e.g. a file exported from the CloudWatch console).
    pub fn from_json(text: &str) -> Result<Self, ProviderError> {
        let json: Value = serde_json::from_str(text)
            .map_err(|e| invalid(format!("the MetricWidget is not valid JSON: {e}")))?;
        if !json.is_object() {
            return Err(invalid("the MetricWidget must be a JSON object".into()));
        }
        Ok(MetricWidget { json })
    }

    /// A widget from a JSON file; errors name the file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ProviderError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            invalid(format!(
                "cannot read the MetricWidget file {}: {e}",
                path.display()
            ))
        })?;
        Self::from_json(&text).map_err(|e| match e {
            ProviderError::InvalidRequest { reason, .. } => {
                invalid(format!("{}: {reason}", path.display()))
            }
            other => other,
        })
    }

    /// Sets `width` and `height` (e.g. from the command line over a file's values).
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.json["width"] = json!(width);
        self.json["height"] = json!(height);
        self
    }

    /// NetworkIn and NetworkOut of one instance, summed per period and drawn as bit/s.
    pub fn network(o: &NetworkWidget) -> Self {
        let metric = |name: &str, id: &str| json!(["AWS/EC2", name, "InstanceId", o.instance_id, {"id": id, "visible": false}]);
        let rate = |expr: &str, label: &str, id: &str| json!([{"expression": expr, "label": label, "id": id}]);
        let mut json = json!({
            "metrics": [
                metric("NetworkIn", "rx"),
                metric("NetworkOut", "tx"),
                rate("rx*8/PERIOD(rx)", "In (bit/s)", "inbits"),
                rate("tx*8/PERIOD(tx)", "Out (bit/s)", "outbits"),
            ],
            "view": "timeSeries",
            "stacked": false,
            "stat": "Sum",
            "period": o.period,
            "start": o.start.to_rfc3339_opts(SecondsFormat::Secs, true),
            "end": o.end.to_rfc3339_opts(SecondsFormat::Secs, true),
            "width": o.width,
            "height": o.height,
        });
        if let Some(t) = &o.title {
            json["title"] = json!(t);
        }
        if let Some(tz) = &o.timezone {
            json["timezone"] = json!(tz);
        }
        MetricWidget { json }
    }

    /// The size AWS will draw: `width`/`height`, or 600x400.
    pub fn size(&self) -> (u32, u32) {
        let side = |k: &str, d: u32| {
            self.json
                .get(k)
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(d)
        };
        (
            side("width", DEFAULT_SIZE.0),
            side("height", DEFAULT_SIZE.1),
        )
    }

    /// The widget's `title`, when it has one.
    pub fn title(&self) -> Option<String> {
        self.json
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// Checks AWS's limits; returns the compact JSON to send.
    pub fn validate(&self) -> Result<String, ProviderError> {
        let metrics = self
            .json
            .get("metrics")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("the MetricWidget has no \"metrics\" array".into()))?;
        if metrics.is_empty() {
            return Err(invalid(
                "the MetricWidget's \"metrics\" array is empty".into(),
            ));
        }
        if metrics.len() > MAX_METRICS {
            return Err(invalid(format!(
                "the MetricWidget has {} metrics; AWS allows at most {MAX_METRICS}",
                metrics.len()
            )));
        }
        for key in ["width", "height"] {
            if let Some(v) = self.json.get(key) {
                let ok = v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .is_some_and(|n| SIDE_RANGE.contains(&n));
                if !ok {
                    return Err(invalid(format!(
                        "{key} {v} is out of range (1 to 2000 pixels)"
                    )));
                }
            }
        }
        if let Some(tz) = self.json.get("timezone") {
            if !tz.as_str().is_some_and(valid_timezone) {
                return Err(invalid(format!(
                    "timezone {tz} is not of the form +HHMM or -HHMM"
                )));
            }
        }
        if let Some(p) = self.json.get("period") {
            let ok = p
                .as_u64()
                .is_some_and(|p| matches!(p, 1 | 5 | 10 | 30) || (p > 0 && p % 60 == 0));
            if !ok {
                return Err(invalid(format!(
                    "period {p} must be 1, 5, 10, 30 or a multiple of 60 seconds"
                )));
            }
        }
        let text = self.json.to_string();
        if text.len() > MAX_WIDGET_BYTES {
            return Err(invalid(format!(
                "the MetricWidget is {} bytes; AWS allows at most {MAX_WIDGET_BYTES}",
                text.len()
            )));
        }
        Ok(text)
    }
}

fn valid_timezone(tz: &str) -> bool {
    let b = tz.as_bytes();
    b.len() == 5
        && (b[0] == b'+' || b[0] == b'-')
        && b[1..].iter().all(u8::is_ascii_digit)
        && tz[1..3].parse::<u32>().is_ok_and(|h| h <= 23)
        && tz[3..5].parse::<u32>().is_ok_and(|m| m <= 59)
}

fn invalid(reason: String) -> ProviderError {
    ProviderError::InvalidRequest {
        provider: PROVIDER,
        reason,
    }
}

/// The EC2 network metric asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMetric {
    /// `NetworkIn`: bytes received by the instance.
    In,
    /// `NetworkOut`: bytes sent by the instance.
    Out,
}

impl NetworkMetric {
    /// The CloudWatch metric name.
    pub fn name(self) -> &'static str {
        match self {
            NetworkMetric::In => "NetworkIn",
            NetworkMetric::Out => "NetworkOut",
        }
    }
}

const DAY: i64 = 86_400;

/// The finest period CloudWatch still holds for data that is `age_seconds` old: 60 s for
/// 15 days, 300 s for 63 days, 3600 s for 455 days; `None` beyond.
fn finest_kept(age_seconds: i64) -> Option<u32> {
    match age_seconds {
        a if a <= 15 * DAY => Some(60),
        a if a <= 63 * DAY => Some(300),
        a if a <= 455 * DAY => Some(3600),
        _ => None,
    }
}

/// The period to ask for data starting at `start` when `now` is now: the smallest
/// multiple of the finest period still kept for data that old that is at least `wanted`
/// (60 s data is kept 15 days, 300 s data 63 days, 3600 s data 455 days). A finer period
/// would give an empty answer, not an error. Past 455 days CloudWatch keeps nothing; this
/// then answers as for 3600 s data and the caller should warn that no data will come.
pub fn finest_period(start: DateTime<Utc>, now: DateTime<Utc>, wanted: u32) -> u32 {
    let age = (now - start).num_seconds();
    let finest = finest_kept(age).unwrap_or(3600);
    wanted.max(1).div_ceil(finest).saturating_mul(finest)
}

/// How many data points `GetMetricStatistics` answers at most for `start..end` at `period`:
/// one per period begun in the range.
pub fn datapoint_count(start: DateTime<Utc>, end: DateTime<Utc>, period: u32) -> u64 {
    let span = (end - start).num_seconds().max(0) as u64;
    span.div_ceil(u64::from(period.max(1)))
}

/// Checks a `GetMetricStatistics` request before anything is sent.
fn check_statistics(
    instance_id: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    period: u32,
) -> Result<(), ProviderError> {
    if instance_id.trim().is_empty() || instance_id.chars().any(char::is_control) {
        return Err(invalid(format!(
            "instance id '{}' is empty or holds control characters",
            instance_id.escape_debug()
        )));
    }
    if !(matches!(period, 1 | 5 | 10 | 30) || (period > 0 && period.is_multiple_of(60))) {
        return Err(invalid(format!(
            "period {period} s must be 1, 5, 10, 30 or a multiple of 60 seconds"
        )));
    }
    if end <= start {
        return Err(invalid(format!("end {end} is not after start {start}")));
    }
    let points = datapoint_count(start, end, period);
    if points > MAX_DATAPOINTS {
        return Err(invalid(format!(
            "{start} to {end} at {period} s is {points} data points; CloudWatch answers at most \
             {MAX_DATAPOINTS} per call: ask for a shorter range or a longer period"
        )));
    }
    Ok(())
}

/// At most `max` starts in any `window`: each call reserves the earliest allowed instant.
/// Pure (the caller passes `now` and sleeps), so it is tested without clocks.
///
/// Why not `governor`: even without default features it brings 13 crates this build does
/// not have (parking_lot, hashbrown, futures-timer, spinning_top, nonzero_ext, web-time…;
/// measured with `cargo tree`), and its GCRA lets a burst of `max` be followed at once by
/// more, up to nearly twice `max` in one second, where these 30 lines keep the exact
/// sliding window CloudWatch's per-second quota is stated in.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    max: usize,
    window: Duration,
    slots: VecDeque<Instant>,
}

impl RateLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        RateLimiter {
            max: max.max(1),
            window,
            slots: VecDeque::new(),
        }
    }

    /// Reserves a start at or after `now` and returns it.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        while self.slots.front().is_some_and(|&s| s + self.window <= now) {
            self.slots.pop_front();
        }
        let at = if self.slots.len() < self.max {
            now
        } else {
            (self.slots[self.slots.len() - self.max] + self.window).max(now)
        };
        self.slots.push_back(at);
        at
    }
}

/// One limiter for the whole process: AWS counts per account, not per client.
static LIMITER: LazyLock<Mutex<RateLimiter>> =
    LazyLock::new(|| Mutex::new(RateLimiter::new(MAX_PER_SECOND, Duration::from_secs(1))));

async fn throttle() {
    let at = LIMITER
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .reserve(Instant::now());
    tokio::time::sleep_until(at.into()).await;
}

/// Calls CloudWatch; cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: crate::http::LazyClient,
    config: CloudWatchConfig,
}

impl Client {
    /// A client with its own HTTP client, built on the first call.
    pub fn new(config: CloudWatchConfig) -> Result<Self, ProviderError> {
        Self::with_clients(config, &crate::http::Clients::default())
    }

    /// A client whose HTTP client is taken from `clients` (shared by a run) on the first
    /// call: none is built for a run that makes no request.
    pub fn with_clients(
        config: CloudWatchConfig,
        clients: &crate::http::Clients,
    ) -> Result<Self, ProviderError> {
        let r = &config.region;
        if r.is_empty()
            || !r
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(format!(
                "region '{r}' is not a region name (like us-east-1)"
            )));
        }
        Ok(Client {
            http: super::http_client(clients),
            config,
        })
    }

    /// Draws `widget`; the image is checked and brought to the widget's size.
    pub async fn metric_widget_image(
        &self,
        widget: &MetricWidget,
    ) -> Result<ProviderImage, ProviderError> {
        let json = widget.validate()?;
        let answer = self
            .post_form(&[
                ("Action", "GetMetricWidgetImage"),
                ("Version", "2010-08-01"),
                ("MetricWidget", &json),
                ("OutputFormat", "png"),
            ])
            .await?;
        let png = interpret(
            &answer.url,
            answer.status,
            &answer.content_type,
            &answer.body,
        )?;
        image::finish(PROVIDER, &png, Some(widget.size()), widget.title())
    }

    /// The `Sum` of `metric` for EC2 instance `instance_id` per `period` seconds from
    /// `start` to `end`, in bytes (`GetMetricStatistics`), as rows in the order AWS sent
    /// them (not chronological). Refused without a request when the range holds more than
    /// [`MAX_DATAPOINTS`] periods. An empty answer is not an error: see [`finest_period`].
    pub async fn metric_statistics(
        &self,
        instance_id: &str,
        metric: NetworkMetric,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        period: u32,
    ) -> Result<Vec<Row>, ProviderError> {
        check_statistics(instance_id, start, end, period)?;
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let period = period.to_string();
        let answer = self
            .post_form(&[
                ("Action", "GetMetricStatistics"),
                ("Version", "2010-08-01"),
                ("Namespace", "AWS/EC2"),
                ("MetricName", metric.name()),
                ("Dimensions.member.1.Name", "InstanceId"),
                ("Dimensions.member.1.Value", instance_id),
                ("StartTime", &time(start)),
                ("EndTime", &time(end)),
                ("Period", &period),
                ("Statistics.member.1", "Sum"),
            ])
            .await?;
        statistics_rows(&answer.url, answer.status, &answer.body)
    }

    /// One Query-protocol call: `pairs` form-encoded, POSTed to the endpoint, SigV4-signed,
    /// after waiting for the rate limiter. Any HTTP status comes back as an [`Answer`].
    async fn post_form(&self, pairs: &[(&str, &str)]) -> Result<Answer, ProviderError> {
        let url = self.config.endpoint_url();
        let parsed = reqwest::Url::parse(&url)
            .map_err(|e| invalid(format!("endpoint '{url}' is not a URL: {e}")))?;
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => return Err(invalid(format!("endpoint '{url}' has no host"))),
        };
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        throttle().await;
        let signed = sign_headers(
            "POST",
            &url,
            &[("content-type", content_type), ("host", &host)],
            body.as_bytes(),
            &self.config.credentials,
            &self.config.region,
            SERVICE,
            SystemTime::now(),
        )?;
        let mut req = super::built(PROVIDER, &self.http)?
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::HOST, &host);
        for (k, v) in &signed {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| transport(PROVIDER, &url, e))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = super::read_body(PROVIDER, &url, resp).await?;
        Ok(Answer {
            url,
            status,
            content_type,
            body,
        })
    }
}

/// What one call got back, whatever its status.
struct Answer {
    url: String,
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Turns one answer into the image bytes it carries or the error it means. Pure.
pub fn interpret(
    url: &str,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> Result<Vec<u8>, ProviderError> {
    let ok = (200..300).contains(&status);
    if ok && content_type.starts_with("image/png") {
        return Ok(body.to_vec());
    }
    let text = String::from_utf8_lossy(body);
    let doc = xml::parse(&text).ok();
    if ok {
        if let Some(image) = doc.as_ref().and_then(|d| d.find("MetricWidgetImage")) {
            let cleaned: String = image
                .text
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            return base64::engine::general_purpose::STANDARD
                .decode(cleaned.as_bytes())
                .map_err(|e| {
                    bad_response(url, format!("MetricWidgetImage is not valid base64 ({e})"))
                });
        }
    }
    Err(error_answer(
        url,
        status,
        &text,
        doc.as_ref(),
        "MetricWidgetImage",
    ))
}

/// Turns a `GetMetricStatistics` answer into rows (`Timestamp` in UTC, `Sum` as the value,
/// no count) in the order given, or the error it means. Every point must be in `Bytes`;
/// a point that cannot be read is an error naming it (1-based). Pure.
pub fn statistics_rows(url: &str, status: u16, body: &[u8]) -> Result<Vec<Row>, ProviderError> {
    let text = String::from_utf8_lossy(body);
    let parsed = xml::parse(&text);
    let doc = parsed.as_ref().ok();
    if !(200..300).contains(&status) {
        return Err(error_answer(url, status, &text, doc, "Datapoints"));
    }
    let doc = match parsed {
        Ok(doc) => doc,
        Err(_) if text.trim().is_empty() || text.to_ascii_lowercase().contains("<html") => {
            return Err(error_answer(url, status, &text, None, "Datapoints"));
        }
        Err(e) => return Err(bad_response(url, e.to_string())),
    };
    let Some(points) = doc.path(&[
        "GetMetricStatisticsResponse",
        "GetMetricStatisticsResult",
        "Datapoints",
    ]) else {
        return Err(error_answer(url, status, &text, Some(&doc), "Datapoints"));
    };
    points
        .children_named("member")
        .enumerate()
        .map(|(i, member)| {
            datapoint(member).map_err(|e| bad_response(url, format!("data point {}: {e}", i + 1)))
        })
        .collect()
}

/// One `Datapoints/member`: `Timestamp`, `Sum` and `Unit` (which must be `Bytes`).
fn datapoint(member: &Element) -> Result<Row, PointError> {
    let field = |name: &'static str| {
        member
            .child(name)
            .map(|e| e.text.trim())
            .ok_or(PointError::Missing(name))
    };
    let unit = field("Unit")?;
    if unit != "Bytes" {
        return Err(PointError::Unit(one_line(unit)));
    }
    let stamp = field("Timestamp")?;
    let time = DateTime::parse_from_rfc3339(stamp)
        .map_err(|error| PointError::Timestamp {
            text: one_line(stamp),
            error,
        })?
        .with_timezone(&Utc);
    let sum = field("Sum")?;
    let value = sum
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| PointError::Sum(one_line(sum)))?;
    Ok(Row {
        time,
        value: Some(value),
        count: None,
    })
}

/// Why one `Datapoints/member` cannot be read (the texts quoted are cut to one line).
#[derive(Debug, thiserror::Error)]
enum PointError {
    #[error("no {0}")]
    Missing(&'static str),
    #[error("unit '{0}' where Bytes was expected (NetworkIn/NetworkOut sums are bytes)")]
    Unit(String),
    #[error("Timestamp '{text}' is not an RFC 3339 time ({error})")]
    Timestamp {
        text: String,
        error: chrono::ParseError,
    },
    #[error("Sum '{0}' is not a finite number")]
    Sum(String),
}

fn bad_response(url: &str, what: String) -> ProviderError {
    ProviderError::BadResponse {
        provider: PROVIDER,
        url: url.to_string(),
        what,
    }
}

/// The error an answer without the expected `wanted` element means: AWS's `Error/Code`
/// and `Message` (credentials codes become [`ProviderError::Auth`]), an HTML page, an
/// empty body, or an answer of the wrong shape.
fn error_answer(
    url: &str,
    status: u16,
    text: &str,
    doc: Option<&Element>,
    wanted: &str,
) -> ProviderError {
    let field = |name: &str| doc.and_then(|d| d.find(name)).map(|e| e.text.trim());
    let code = field("Code").filter(|c| !c.is_empty());
    let message = field("Message").unwrap_or_default();
    match code {
        Some(code) if is_auth_code(code) || status == 401 => ProviderError::Auth {
            provider: PROVIDER,
            detail: one_line(&format!("{code}: {message}")),
            check: CHECK_CREDENTIALS,
        },
        Some(code) => {
            let mut message = one_line(message);
            if code == "InvalidParameterCombination" && message.contains("datapoints") {
                message.push_str(&format!(
                    " (at most {MAX_DATAPOINTS} data points per call: ask for a shorter range or a longer period)"
                ));
            }
            ProviderError::Api {
                provider: PROVIDER,
                url: url.to_string(),
                status,
                code: Some(code.to_string()),
                message,
            }
        }
        None if text.trim().is_empty() => bad_response(url, format!("empty body (HTTP {status})")),
        None => {
            let kind = if text.to_ascii_lowercase().contains("<html") {
                "an HTML page".to_string()
            } else {
                format!("an answer without {wanted} or an error code")
            };
            bad_response(url, format!("{kind} (HTTP {status})"))
        }
    }
}

fn is_auth_code(code: &str) -> bool {
    matches!(
        code,
        "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "UnrecognizedClientException"
            | "MissingAuthenticationToken"
            | "MissingAuthenticationTokenException"
            | "IncompleteSignature"
            | "InvalidSignatureException"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "RequestExpired"
            | "AccessDenied"
            | "AccessDeniedException"
            | "AuthFailure"
    )
}

/// The text of the first element named `tag` in `xml` (entities and CDATA resolved), or
/// `None` when there is none or `xml` is not well-formed. Kept for the fuzz targets.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    xml::parse(xml).ok()?.find(tag).map(|e| e.text.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_allows_burst_then_spaces() {
        let mut l = RateLimiter::new(20, Duration::from_secs(1));
        let t0 = Instant::now();
        for _ in 0..20 {
            assert_eq!(l.reserve(t0), t0);
        }
        assert_eq!(l.reserve(t0), t0 + Duration::from_secs(1));
        // Later, once the window has passed, no wait.
        let t2 = t0 + Duration::from_secs(5);
        assert_eq!(l.reserve(t2), t2);
    }

    #[test]
    fn xml_extraction() {
        let x = r#"<GetMetricWidgetImageResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
  <GetMetricWidgetImageResult>
    <MetricWidgetImage>iVBO
    Rw0K</MetricWidgetImage>
  </GetMetricWidgetImageResult></GetMetricWidgetImageResponse>"#;
        assert_eq!(xml_text(x, "MetricWidgetImage").unwrap(), "iVBO\n    Rw0K");
        assert_eq!(
            xml_text("<Err><Code>A&amp;B</Code></Err>", "Code").unwrap(),
            "A&B"
        );
        assert_eq!(xml_text("<Codex>1</Codex>", "Code"), None);
        assert_eq!(
            xml_text(
                "<E><Message>&#65;&#x42; &amp; &lt;b&gt;</Message></E>",
                "Message"
            )
            .unwrap(),
            "AB & <b>"
        );
        assert_eq!(
            xml_text("<E><Message><![CDATA[a <b> & c]]></Message></E>", "Message").unwrap(),
            "a <b> & c"
        );
        assert_eq!(
            xml_text("<E><Code>x</Code>", "Code"),
            None,
            "not well-formed"
        );
    }

    #[test]
    fn error_messages_keep_entities_and_cdata() {
        let e = interpret(
            "u",
            400,
            "text/xml",
            b"<ErrorResponse><Error><Code>ValidationError</Code><Message>&#65; &amp; <![CDATA[<B>]]></Message></Error></ErrorResponse>",
        )
        .unwrap_err();
        assert!(e.to_string().ends_with("ValidationError: A & <B>"), "{e}");
        let e = statistics_rows(
            "u",
            400,
            b"<ErrorResponse><Error><Code>InvalidParameterCombination</Code><Message>You have requested up to 1,728 datapoints, which exceeds the limit of 1,440.</Message></Error></ErrorResponse>",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("InvalidParameterCombination") && e.contains("shorter range"),
            "{e}"
        );
        let e = statistics_rows("u", 403, b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>").unwrap_err();
        assert!(matches!(e, ProviderError::Auth { .. }), "{e}");
        let e = statistics_rows("u", 200, b"").unwrap_err();
        assert!(e.to_string().contains("empty body"), "{e}");
        let e = statistics_rows("u", 200, b"<html><body>oops</body></html>").unwrap_err();
        assert!(e.to_string().contains("HTML page"), "{e}");
        let e = statistics_rows("u", 200, b"<Other/>").unwrap_err();
        assert!(e.to_string().contains("without Datapoints"), "{e}");
    }

    fn stats_body(members: &str) -> Vec<u8> {
        format!(
            "<GetMetricStatisticsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\
             <GetMetricStatisticsResult><Label>NetworkIn</Label><Datapoints>{members}</Datapoints>\
             </GetMetricStatisticsResult></GetMetricStatisticsResponse>"
        )
        .into_bytes()
    }

    fn member(time: &str, sum: &str, unit: &str) -> String {
        format!("<member><Timestamp>{time}</Timestamp><Sum>{sum}</Sum><Unit>{unit}</Unit></member>")
    }

    #[test]
    fn statistics_rows_in_the_order_sent() {
        let body = stats_body(&format!(
            "{}{}",
            member("2026-10-01T00:05:00Z", "2.5E3", "Bytes"),
            member("2026-10-01T00:00:00Z", "1200.0", "Bytes")
        ));
        let rows = statistics_rows("u", 200, &body).unwrap();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            rows,
            vec![
                Row {
                    time: t("2026-10-01T00:05:00Z"),
                    value: Some(2500.0),
                    count: None
                },
                Row {
                    time: t("2026-10-01T00:00:00Z"),
                    value: Some(1200.0),
                    count: None
                },
            ]
        );
        assert!(statistics_rows("u", 200, &stats_body(""))
            .unwrap()
            .is_empty());
        let empty = b"<GetMetricStatisticsResponse><GetMetricStatisticsResult><Datapoints/></GetMetricStatisticsResult></GetMetricStatisticsResponse>";
        assert!(statistics_rows("u", 200, empty).unwrap().is_empty());
    }

    #[test]
    fn statistics_rows_refuse_bad_points() {
        let ok = member("2026-10-01T00:00:00Z", "1", "Bytes");
        for (bad, expect) in [
            (
                member("2026-10-01T00:05:00Z", "1", "Bits"),
                "data point 2: unit 'Bits'",
            ),
            (
                member("2026-10-01T00:05:00Z", "x1", "Bytes"),
                "data point 2: Sum 'x1' is not a finite number",
            ),
            (
                member("2026-10-01T00:05:00Z", "NaN", "Bytes"),
                "data point 2: Sum 'NaN'",
            ),
            (
                member("2026-10-01 00:05:00", "1", "Bytes"),
                "data point 2: Timestamp '2026-10-01 00:05:00'",
            ),
            (
                "<member><Timestamp>2026-10-01T00:05:00Z</Timestamp><Unit>Bytes</Unit></member>"
                    .into(),
                "data point 2: no Sum",
            ),
        ] {
            let e =
                statistics_rows("http://cw/", 200, &stats_body(&format!("{ok}{bad}"))).unwrap_err();
            assert!(
                e.to_string().contains(expect) && e.to_string().contains("http://cw/"),
                "{e}"
            );
        }
    }

    #[test]
    fn finest_period_follows_retention() {
        let now: DateTime<Utc> = "2026-10-20T12:00:00Z".parse().unwrap();
        let ago = |s: i64| now - chrono::Duration::seconds(s);
        assert_eq!(finest_period(ago(0), now, 60), 60);
        assert_eq!(finest_period(ago(15 * DAY), now, 60), 60);
        assert_eq!(finest_period(ago(15 * DAY + 1), now, 60), 300);
        assert_eq!(finest_period(ago(63 * DAY), now, 300), 300);
        assert_eq!(finest_period(ago(63 * DAY + 1), now, 300), 3600);
        assert_eq!(finest_period(ago(455 * DAY), now, 60), 3600);
        assert_eq!(finest_period(ago(455 * DAY + 1), now, 60), 3600);
        assert_eq!(finest_period(ago(2000 * DAY), now, 86400), 86400);
        // A coarser wish is kept when the kept data divides it, else rounded up.
        assert_eq!(finest_period(ago(20 * DAY), now, 600), 600);
        assert_eq!(finest_period(ago(20 * DAY), now, 400), 600);
        assert_eq!(finest_period(ago(70 * DAY), now, 300), 3600);
        assert_eq!(finest_period(ago(DAY), now, 0), 60);
        // A start in the future is recent data.
        assert_eq!(finest_period(now + chrono::Duration::days(1), now, 60), 60);
    }

    #[test]
    fn statistics_requests_are_checked_before_sending() {
        let t0: DateTime<Utc> = "2026-10-01T00:00:00Z".parse().unwrap();
        let days = |n| t0 + chrono::Duration::days(n);
        assert_eq!(datapoint_count(t0, days(5), 300), 1440);
        check_statistics("i-1", t0, days(5), 300).unwrap();
        let e = check_statistics("i-1", t0, days(6), 300)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("1728 data points") && e.contains("at most 1440"),
            "{e}"
        );
        assert_eq!(
            datapoint_count(t0, t0 + chrono::Duration::seconds(301), 300),
            2
        );
        assert!(check_statistics("i-1", t0, days(1), 90).is_err());
        assert!(check_statistics("i-1", t0, t0, 300).is_err());
        assert!(check_statistics(" ", t0, days(1), 300).is_err());
        assert_eq!(NetworkMetric::In.name(), "NetworkIn");
        assert_eq!(NetworkMetric::Out.name(), "NetworkOut");
    }

    #[test]
    fn interpret_errors() {
        let e = interpret(
            "u",
            403,
            "text/xml",
            b"<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>nope</Message></Error></ErrorResponse>",
        )
        .unwrap_err();
        assert!(e.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{e}");
        let e = interpret("u", 400, "text/xml", b"<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>").unwrap_err();
        assert!(e.to_string().contains("Rate exceeded"), "{e}");
        let e = interpret("u", 200, "text/html", b"<html><body>hi</body></html>").unwrap_err();
        assert!(e.to_string().contains("HTML page"), "{e}");
    }

    #[test]
    fn widget_limits() {
        let base = NetworkWidget {
            instance_id: "i-1".into(),
            start: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            end: DateTime::from_timestamp(1_700_086_400, 0).unwrap(),
            width: 800,
            height: 300,
            title: Some("t".into()),
            timezone: Some("+0130".into()),
            period: 300,
        };
        let w = MetricWidget::network(&base);
        assert!(w.validate().is_ok());
        assert_eq!(w.size(), (800, 300));
        for bad in [
            NetworkWidget {
                width: 2001,
                ..base.clone()
            },
            NetworkWidget {
                height: 0,
                ..base.clone()
            },
            NetworkWidget {
                timezone: Some("0130".into()),
                ..base.clone()
            },
            NetworkWidget {
                timezone: Some("+2460".into()),
                ..base.clone()
            },
            NetworkWidget {
                period: 90,
                ..base.clone()
            },
        ] {
            assert!(MetricWidget::network(&bad).validate().is_err(), "{bad:?}");
        }
        let many: Vec<Value> = (0..101)
            .map(|i| json!(["AWS/EC2", "NetworkIn", "InstanceId", format!("i-{i}")]))
            .collect();
        let w = MetricWidget::from_json(&json!({ "metrics": many }).to_string()).unwrap();
        assert!(w
            .validate()
            .unwrap_err()
            .to_string()
            .contains("at most 100"));
        let big =
            json!({ "metrics": [["AWS/EC2", "NetworkIn"]], "title": "x".repeat(MAX_WIDGET_BYTES) });
        let w = MetricWidget::from_json(&big.to_string()).unwrap();
        assert!(w.validate().unwrap_err().to_string().contains("bytes"));
    }
}
