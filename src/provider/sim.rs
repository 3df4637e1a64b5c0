//! A loopback stand-in for SoftLayer's REST API and CloudWatch's Query API.
//!
//! The real services need accounts and the network; the provider clients still deserve
//! tests over real HTTP. This router answers the calls the clients make, checks their
//! credentials the way the services do (Basic auth for SoftLayer; for CloudWatch a SigV4
//! signature it recomputes with the configured secret), draws a PNG of the requested size
//! itself, and can misbehave on demand ([`SimMode`]) so every error path is exercised.
//! [`SimCounters`] let tests see what reached the server.
//!
//! It also serves the raw counters, with the traps of the real services, so a client that
//! falls into one gets visibly wrong rows and a test catches it:
//! - SoftLayer `getBandwidthData` reads a plain date (`2026-10-01`) at midnight in the
//!   caller's zone, -05:00, as the service does; epoch seconds are exact. Buckets are
//!   aligned to the rollup in UTC and written in -06:00; counters alternate between JSON
//!   numbers and strings. Values are [`sl_octets`].
//! - CloudWatch `GetMetricStatistics` refuses more than 1,440 points with AWS's 400
//!   `InvalidParameterCombination`, answers no points for a period finer than the start's
//!   age keeps (relative to the real clock), and returns points shuffled. Values are
//!   [`cw_sum`].
//!
//! The simulated SoftLayer account holds hardware 1 to [`SL_MAX_HARDWARE_ID`]; the tracking
//! object of hardware `n` is `1_000_000 + n`. Other ids answer `ObjectNotFound` (404).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use chrono::{
    DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Utc,
};
use serde_json::{json, Value};

use super::cloudwatch::{self, AwsCredentials};
use super::Secret;

/// How the simulator answers a graph call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimMode {
    /// A real PNG, base64 in JSON/XML.
    #[default]
    Normal,
    /// SoftLayer only: the graph methods answer "... is not a valid method".
    Deprecated,
    /// The image field holds text that is not base64.
    CorruptBase64,
    /// The image field holds a base64 HTML page instead of a PNG.
    HtmlPayload,
    /// The whole answer is an HTML page with status 200 (a proxy or outage page).
    HtmlPage,
    /// Status 200 with an empty body.
    EmptyBody,
    /// SoftLayer only: status 200 with `{"error": "Internal Error", ...}`.
    ErrorInOk,
}

/// What reached the simulator, for tests.
#[derive(Debug, Default)]
pub struct SimCounters {
    /// SoftLayer requests of any kind.
    pub softlayer_calls: AtomicU64,
    /// CloudWatch requests of any kind.
    pub cloudwatch_calls: AtomicU64,
    /// Requests refused for their credentials or signature.
    pub auth_rejected: AtomicU64,
    /// Graph images answered (whatever the mode).
    pub images: AtomicU64,
    /// `parameters` of the last SoftLayer POST.
    pub last_softlayer_params: Mutex<Option<Value>>,
    /// `MetricWidget` of the last CloudWatch call.
    pub last_metric_widget: Mutex<Option<String>>,
}

impl SimCounters {
    /// Reads one of the counters above.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }
}

/// The simulator's accounts and behaviour.
#[derive(Debug, Clone)]
pub struct ProviderSimConfig {
    /// The SoftLayer user name the simulator accepts.
    pub sl_username: String,
    /// The SoftLayer API key the simulator accepts.
    pub sl_api_key: Secret,
    /// How the SoftLayer side answers.
    pub softlayer: SimMode,
    /// The AWS access key id the simulator accepts.
    pub aws_access_key_id: String,
    /// The AWS secret access key it checks SigV4 signatures with.
    pub aws_secret_access_key: Secret,
    /// How the CloudWatch side answers.
    pub cloudwatch: SimMode,
    /// Draw this size whatever was asked (to exercise resizing).
    pub image_size: Option<(u32, u32)>,
    /// What reached the simulator; shared with the caller, who keeps a clone.
    pub counters: Arc<SimCounters>,
}

impl Default for ProviderSimConfig {
    fn default() -> Self {
        ProviderSimConfig {
            sl_username: "sim-user".into(),
            sl_api_key: Secret::new("sim-api-key"),
            softlayer: SimMode::Normal,
            aws_access_key_id: "AKIDSIMULATOR".into(),
            aws_secret_access_key: Secret::new("sim/secret+access+key"),
            cloudwatch: SimMode::Normal,
            image_size: None,
            counters: Arc::default(),
        }
    }
}

/// Routes: SoftLayer under `/rest/v3.1/`, CloudWatch at `/`.
pub fn router(config: ProviderSimConfig) -> Router {
    Router::new()
        .route(
            "/rest/v3.1/{service}/{id}/{method}",
            get(softlayer).post(softlayer),
        )
        .route("/", post(cloudwatch_call))
        .with_state(Arc::new(config))
}

/// A running simulator on 127.0.0.1; stops when dropped.
#[derive(Debug)]
pub struct SimServer {
    /// The loopback address it listens on.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SimServer {
    /// Base URL for [`super::softlayer::SoftLayerConfig::with_endpoint`].
    pub fn softlayer_endpoint(&self) -> String {
        format!("http://{}/rest/v3.1/", self.addr)
    }

    /// URL for [`super::cloudwatch::CloudWatchConfig::with_endpoint`].
    pub fn cloudwatch_endpoint(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds 127.0.0.1:0 and serves [`router`] on the current tokio runtime.
pub async fn spawn(config: ProviderSimConfig) -> std::io::Result<SimServer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = router(config);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(SimServer { addr, task })
}

/// A simple bar chart of `width`x`height`, so decoders have real pixels to chew on.
pub fn draw_png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(width, height, |x, y| {
        let level = ((x as f64 / 9.0).sin() * 0.35 + 0.5) * height as f64;
        if (height - y) as f64 <= level {
            image::Rgba([40, 110, 200, 255])
        } else if y % 25 == 0 {
            image::Rgba([220, 220, 220, 255])
        } else {
            image::Rgba([255, 255, 255, 255])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encoding an in-memory PNG cannot fail");
    out.into_inner()
}

const HTML_PAGE: &str =
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn sl_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, json!({ "error": message, "code": code }))
}

fn not_valid_method(method: &str) -> Response {
    sl_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "SoftLayer_Exception_Public",
        &format!("Function (\"{method}\") is not a valid method for this service."),
    )
}

fn basic_auth_ok(headers: &HeaderMap, cfg: &ProviderSimConfig) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("{}:{}", cfg.sl_username, cfg.sl_api_key.expose());
    decoded == expected.as_bytes()
}

async fn softlayer(
    State(cfg): State<Arc<ProviderSimConfig>>,
    Path((service, id, method)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let counters = &cfg.counters;
    counters.softlayer_calls.fetch_add(1, Ordering::SeqCst);
    if !basic_auth_ok(&headers, &cfg) {
        counters.auth_rejected.fetch_add(1, Ordering::SeqCst);
        return sl_error(
            StatusCode::UNAUTHORIZED,
            "SoftLayer_Exception_Public",
            "Access Denied. ",
        );
    }
    let Some(method) = method.strip_suffix(".json") else {
        return sl_error(
            StatusCode::NOT_FOUND,
            "SoftLayer_Exception_Public",
            "only .json is served here",
        );
    };
    let Ok(id) = id.parse::<u64>() else {
        return sl_error(
            StatusCode::NOT_FOUND,
            SL_NOT_FOUND,
            "Unable to find object with id.",
        );
    };
    let params = || -> Option<Vec<Value>> {
        let v: Value = serde_json::from_slice(&body).ok()?;
        let p = v.get("parameters")?.as_array()?.clone();
        *counters.last_softlayer_params.lock().ok()? = Some(Value::Array(p.clone()));
        Some(p)
    };
    let invalid = |m: &str| {
        sl_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SoftLayer_Exception_InvalidValue",
            m,
        )
    };
    match (service.as_str(), method) {
        ("SoftLayer_Hardware_Server", "getMetricTrackingObjectId") => {
            if !(1..=SL_MAX_HARDWARE_ID).contains(&id) {
                return sl_not_found(id);
            }
            json_response(StatusCode::OK, json!(SL_TRACKING_BASE + id))
        }
        ("SoftLayer_Metric_Tracking_Object", "getBandwidthData") => {
            if !(SL_TRACKING_BASE + 1..=SL_TRACKING_BASE + SL_MAX_HARDWARE_ID).contains(&id) {
                return sl_not_found(id);
            }
            let Some(p) = params() else {
                return invalid("expected a JSON body {\"parameters\": [...]}");
            };
            sl_bandwidth_data(id, &p).unwrap_or_else(invalid)
        }
        ("SoftLayer_Metric_Tracking_Object", "getBandwidthGraph") => {
            if cfg.softlayer == SimMode::Deprecated {
                return not_valid_method(method);
            }
            let Some(p) = params() else {
                return invalid("expected a JSON body {\"parameters\": [...]}");
            };
            let side = |i: usize| {
                p.get(i)
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok())
                    .filter(|v| (1..=4000).contains(v))
            };
            let dates_ok = p.first().and_then(Value::as_str).is_some()
                && p.get(1).and_then(Value::as_str).is_some();
            let type_ok = matches!(p.get(2).and_then(Value::as_str), Some("public" | "private"));
            match (dates_ok, type_ok, side(4), side(5)) {
                (true, true, Some(w), Some(h)) => {
                    softlayer_graph(&cfg, w, h, "Bandwidth graph (simulated)")
                }
                _ => invalid("getBandwidthGraph takes startDateTime, endDateTime, graphType, fontSize, graphWidth, graphHeight, doNotShowTimeZone"),
            }
        }
        ("SoftLayer_Network_Bandwidth_Version1_Allotment", "getBandwidthImage") => {
            if cfg.softlayer == SimMode::Deprecated {
                return not_valid_method(method);
            }
            let Some(p) = params() else {
                return invalid("expected a JSON body {\"parameters\": [...]}");
            };
            let date = |i: usize| {
                p.get(i)
                    .and_then(Value::as_str)
                    .and_then(|s| NaiveDate::parse_from_str(s, "%m/%d/%Y").ok())
            };
            if !matches!(
                p.first().and_then(Value::as_str),
                Some("public" | "private")
            ) {
                return invalid("networkType must be public or private");
            }
            let ok = match p.get(1).and_then(Value::as_str) {
                Some("specified_day") => date(3).is_some(),
                Some("specified_range") => date(3).is_some() && date(4).is_some(),
                Some(r) => super::softlayer::SnapshotRange::NAMES.contains(&r),
                None => false,
            };
            if !ok {
                return invalid("bad snapshotRange or its dates (MM/DD/YYYY)");
            }
            softlayer_graph(&cfg, 600, 300, "Bandwidth pool (simulated)")
        }
        _ => not_valid_method(method),
    }
}

/// Largest hardware id on the simulated SoftLayer account (ids start at 1).
pub const SL_MAX_HARDWARE_ID: u64 = 999_999_999;
/// The tracking object of hardware `n` is `SL_TRACKING_BASE + n`.
const SL_TRACKING_BASE: u64 = 1_000_000;
const SL_NOT_FOUND: &str = "SoftLayer_Exception_ObjectNotFound";
/// Most buckets one simulated `getBandwidthData` answers (a year of 300 s buckets).
const SL_MAX_BUCKETS: i64 = 105_120;

fn sl_not_found(id: u64) -> Response {
    sl_error(
        StatusCode::NOT_FOUND,
        SL_NOT_FOUND,
        &format!("Unable to find object with id of '{id}'."),
    )
}

/// FNV-1a: a stable hash for deterministic simulated values.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Load by UTC hour, in percent of the day's peak: quiet nights, a working-day ramp and
/// an evening peak (the shape a web server's graph has).
const DAY_SHAPE: [u64; 24] = [
    35, 28, 22, 18, 16, 18, 25, 38, 52, 62, 68, 72, 74, 73, 72, 74, 78, 84, 92, 100, 96, 80, 60, 45,
];

/// Whole bytes per second over the 5 minutes starting at `t` of a series seeded `seed`:
/// the day's shape (interpolated across each hour), lighter weekends, some noise. Integers,
/// so every sum a test makes of them is exact.
fn sim_rate(seed: u64, t: i64) -> u64 {
    let five = t.div_euclid(300);
    let hour = t.rem_euclid(86_400) as usize / 3600;
    let part = (t.rem_euclid(3600) / 300) as u64; // 0..12 through the hour
    let shape = DAY_SHAPE[hour] * (12 - part) + DAY_SHAPE[(hour + 1) % 24] * part;
    // 1970-01-01 was a Thursday: days 2 and 3 of each week are Saturday and Sunday.
    let weekend = matches!(t.div_euclid(86_400).rem_euclid(7), 2 | 3);
    let week = if weekend { 70 } else { 100 };
    let noise = 90 + fnv1a(&(seed ^ five as u64).to_le_bytes()) % 21; // 90..110 %
    let peak = 20_000 + seed % 997 * 100; // bytes per second at the day's peak
    peak * shape * week * noise / (12 * 100 * 100 * 100)
}

/// The whole octets of the `seconds` starting at `start` (5-minute parts; a part shorter
/// than 5 minutes at its own share).
fn sim_octets(seed: u64, start: i64, seconds: i64) -> f64 {
    let mut total = 0u64;
    let mut t = start;
    while t < start + seconds {
        let len = (300 - t.rem_euclid(300)).min(start + seconds - t);
        total += sim_rate(seed, t) * len as u64;
        t += len;
    }
    total as f64
}

/// Octets the simulator reports for the `rollup`-second bucket starting at
/// `bucket_start_utc` (epoch seconds) of tracking object `tracking_id`: whole numbers, with
/// a daily shape, more out than in, less on the private network; a bucket holds exactly the
/// octets of the finer buckets it spans.
pub fn sl_octets(
    tracking_id: u64,
    network: &str,
    inbound: bool,
    bucket_start_utc: i64,
    rollup: u32,
) -> f64 {
    let seed = fnv1a(format!("sl\0{tracking_id}\0{network}\0{inbound}").as_bytes());
    let octets = sim_octets(seed, bucket_start_utc, i64::from(rollup));
    let directed = if inbound { octets } else { octets * 3.0 };
    if network == "private" {
        (directed / 2.0).floor()
    } else {
        directed
    }
}

/// A `getBandwidthData` time: epoch seconds, an RFC 3339 time with its offset, or a plain
/// date (midnight) or date-time read in the caller's zone, -05:00, as the service does.
fn sl_time_param(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.timestamp());
            }
            let naive = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_time(NaiveTime::MIN))
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
                .ok()?;
            let caller = FixedOffset::west_opt(5 * 3600)?;
            caller
                .from_local_datetime(&naive)
                .single()
                .map(|t| t.timestamp())
        }
        _ => None,
    }
}

/// `getBandwidthData(start, end, type, rollup)`: one row per direction per bucket in
/// `[start, end)`, buckets aligned to `rollup` in UTC, times written in -06:00.
fn sl_bandwidth_data(tracking_id: u64, p: &[Value]) -> Result<Response, &'static str> {
    const USAGE: &str = "getBandwidthData takes startDateTime, endDateTime, type (public or private) and rollupSeconds (300, 600, 1800, 3600, 43200 or 86400)";
    let start = sl_time_param(p.first()).ok_or(USAGE)?;
    let end = sl_time_param(p.get(1)).ok_or(USAGE)?;
    let network = p
        .get(2)
        .and_then(Value::as_str)
        .filter(|n| matches!(*n, "public" | "private"))
        .ok_or(USAGE)?;
    let rollup = p
        .get(3)
        .and_then(Value::as_u64)
        .and_then(|r| u32::try_from(r).ok())
        .filter(|r| super::softlayer::ROLLUPS.contains(r))
        .ok_or(USAGE)?;
    if end <= start {
        return Err("The end date must be after the start date.");
    }
    let step = i64::from(rollup);
    if (end - start) / step > SL_MAX_BUCKETS {
        return Err("The requested range is too large for this rollup.");
    }
    let zone = FixedOffset::west_opt(6 * 3600).expect("a valid offset");
    let first = start + (step - start.rem_euclid(step)) % step;
    let mut rows = Vec::new();
    for (i, t) in (first..end).step_by(step as usize).enumerate() {
        let when = zone
            .timestamp_opt(t, 0)
            .single()
            .ok_or("time out of range")?
            .to_rfc3339_opts(SecondsFormat::Secs, false);
        for (dir, (inbound, name)) in [(true, "In"), (false, "Out")].into_iter().enumerate() {
            let octets = sl_octets(tracking_id, network, inbound, t, rollup) as u64;
            let counter = if (i + dir) % 2 == 0 {
                json!(octets)
            } else {
                json!(octets.to_string())
            };
            rows.push(json!({
                "counter": counter,
                "dateTime": when,
                "type": format!("{network}{name}_net_octet"),
            }));
        }
    }
    Ok(json_response(StatusCode::OK, Value::Array(rows)))
}

/// The base64 image a provider puts in its answer in `mode`, or the whole broken answer
/// that replaces it (an HTML page, an empty body).
fn image_payload(mode: SimMode, w: u32, h: u32) -> Result<String, Box<Response>> {
    match mode {
        SimMode::CorruptBase64 => Ok("@@ this is *not* base64 @@".to_string()),
        SimMode::HtmlPayload => Ok(b64(HTML_PAGE.as_bytes())),
        SimMode::HtmlPage => Err(Box::new(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                HTML_PAGE,
            )
                .into_response(),
        )),
        SimMode::EmptyBody => Err(Box::new(StatusCode::OK.into_response())),
        _ => Ok(b64(&draw_png(w, h))),
    }
}

fn softlayer_graph(cfg: &ProviderSimConfig, w: u32, h: u32, title: &str) -> Response {
    cfg.counters.images.fetch_add(1, Ordering::SeqCst);
    let (w, h) = cfg.image_size.unwrap_or((w, h));
    if cfg.softlayer == SimMode::ErrorInOk {
        return sl_error(StatusCode::OK, "SoftLayer_Exception", "Internal Error");
    }
    let image = match image_payload(cfg.softlayer, w, h) {
        Ok(image) => image,
        Err(response) => return *response,
    };
    json_response(
        StatusCode::OK,
        json!({
            "graphImage": image,
            "graphTitle": title,
            "maxEndDate": "2024-03-09T23:59:59-06:00",
            "minStartDate": "2024-03-01T00:00:00-06:00",
        }),
    )
}

fn aws_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\
         <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    );
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// Parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
struct SigV4Header<'a> {
    key_id: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
}

fn parse_sigv4(value: &str) -> Option<SigV4Header<'_>> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    signature?;
    let mut scope = credential?.split('/');
    let key_id = scope.next()?;
    let _date = scope.next()?;
    let region = scope.next()?;
    let service = scope.next()?;
    Some(SigV4Header {
        key_id,
        region,
        service,
        signed_headers: signed?.split(';').collect(),
    })
}

/// Recomputes the signature with the configured secret; true when it matches.
fn signature_matches(
    cfg: &ProviderSimConfig,
    auth: &str,
    sig: &SigV4Header<'_>,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> bool {
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(time) = header_str("x-amz-date")
        .and_then(|d| NaiveDateTime::parse_from_str(d, "%Y%m%dT%H%M%SZ").ok())
        .map(|t| SystemTime::from(t.and_utc()))
    else {
        return false;
    };
    let Some(host) = header_str("host") else {
        return false;
    };
    // The signer adds these three itself; the rest must be given to it as received.
    let mut to_sign = Vec::new();
    for name in &sig.signed_headers {
        if matches!(
            *name,
            "x-amz-date" | "x-amz-security-token" | "authorization"
        ) {
            continue;
        }
        match header_str(name) {
            Some(v) => to_sign.push((*name, v)),
            None => return false,
        }
    }
    let creds = AwsCredentials::new(
        cfg.aws_access_key_id.clone(),
        cfg.aws_secret_access_key.clone(),
        header_str("x-amz-security-token").map(Secret::new),
    );
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("http://{host}{path}");
    let Ok(expected) = cloudwatch::sign_headers(
        "POST",
        &url,
        &to_sign,
        body,
        &creds,
        sig.region,
        sig.service,
        time,
    ) else {
        return false;
    };
    expected
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == auth)
}

async fn cloudwatch_call(
    State(cfg): State<Arc<ProviderSimConfig>>,
    // The full path as sent (and signed), even when this router is nested under a prefix.
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let counters = &cfg.counters;
    counters.cloudwatch_calls.fetch_add(1, Ordering::SeqCst);
    let reject = |status, code, message| {
        counters.auth_rejected.fetch_add(1, Ordering::SeqCst);
        aws_error(status, code, message)
    };
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|a| a.starts_with("AWS4-HMAC-SHA256 Credential="))
    else {
        return reject(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        );
    };
    let Some(sig) = parse_sigv4(auth) else {
        return reject(
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            "The request signature does not conform to AWS standards.",
        );
    };
    if sig.key_id != cfg.aws_access_key_id {
        return reject(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        );
    }
    if sig.service != cloudwatch::SERVICE
        || !signature_matches(&cfg, auth, &sig, &uri, &headers, &body)
    {
        return reject(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method.",
        );
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if field("Version") == Some("2010-08-01") && field("Action") == Some("GetMetricStatistics") {
        return cw_statistics(&field);
    }
    if field("Action") != Some("GetMetricWidgetImage") || field("Version") != Some("2010-08-01") {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            "The action or operation requested is invalid.",
        );
    }
    let Some(widget) = field("MetricWidget") else {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            "The request must contain the parameter MetricWidget.",
        );
    };
    if let Ok(mut last) = counters.last_metric_widget.lock() {
        *last = Some(widget.to_string());
    }
    let Ok(w) = cloudwatch::MetricWidget::from_json(widget) else {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "The field MetricWidget must be a valid JSON object.",
        );
    };
    if let Err(e) = w.validate() {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            &e.to_string(),
        );
    }
    counters.images.fetch_add(1, Ordering::SeqCst);
    let (width, height) = cfg.image_size.unwrap_or(w.size());
    let image = match image_payload(cfg.cloudwatch, width, height) {
        Ok(image) => image,
        Err(response) => return *response,
    };
    let body = format!(
        "<GetMetricWidgetImageResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\n\
         <GetMetricWidgetImageResult>\n<MetricWidgetImage>{image}</MetricWidgetImage>\n\
         </GetMetricWidgetImageResult>\n<ResponseMetadata>\n\
         <RequestId>6f0d4192-4d42-11e8-82c1-f539a07e0e3b</RequestId>\n</ResponseMetadata>\n\
         </GetMetricWidgetImageResponse>\n"
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// Bytes the simulator reports as the `Sum` of `NetworkIn` (`metric_in`) or `NetworkOut`
/// of `instance_id` for the `period` seconds starting at `t`: whole numbers.
pub fn cw_sum(instance_id: &str, metric_in: bool, t: i64, period: u32) -> f64 {
    let seed = fnv1a(format!("cw\0{instance_id}\0{metric_in}").as_bytes());
    sim_octets(seed, t, i64::from(period))
}

/// The finest period CloudWatch keeps for data `age` seconds old (60 s for 15 days, 300 s
/// for 63 days, 3600 s for 455 days), written apart from the client's rule on purpose.
fn cw_kept_period(age: i64) -> Option<u32> {
    const DAY: i64 = 86_400;
    [(15 * DAY, 60), (63 * DAY, 300), (455 * DAY, 3600)]
        .into_iter()
        .find(|&(limit, _)| age <= limit)
        .map(|(_, period)| period)
}

/// 1728 as `1,728`, the way AWS writes counts in messages.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `GetMetricStatistics` of `AWS/EC2` `NetworkIn`/`NetworkOut` by `InstanceId`, `Sum` only.
fn cw_statistics<'a>(field: &dyn Fn(&str) -> Option<&'a str>) -> Response {
    let missing = |name: &str| {
        aws_error(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            &format!("The parameter {name} is required."),
        )
    };
    let bad_value =
        |message: &str| aws_error(StatusCode::BAD_REQUEST, "InvalidParameterValue", message);
    let required = [
        "Namespace",
        "MetricName",
        "StartTime",
        "EndTime",
        "Period",
        "Statistics.member.1",
        "Dimensions.member.1.Name",
        "Dimensions.member.1.Value",
    ]
    .map(|name| (name, field(name)));
    if let Some((name, _)) = required.iter().find(|(_, v)| v.is_none()) {
        return missing(name);
    }
    let [namespace, metric, start, end, period, statistic, dim_name, instance] =
        required.map(|(_, v)| v.unwrap_or_default());
    let metric_in = match (namespace, metric) {
        ("AWS/EC2", "NetworkIn") => true,
        ("AWS/EC2", "NetworkOut") => false,
        _ => return bad_value("The simulator serves AWS/EC2 NetworkIn and NetworkOut only."),
    };
    if statistic != "Sum" || dim_name != "InstanceId" {
        return bad_value("The simulator serves the Sum statistic by InstanceId only.");
    }
    let time = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp());
    let (Some(start), Some(end)) = (time(start), time(end)) else {
        return bad_value("StartTime and EndTime must be ISO 8601 times.");
    };
    let Some(period) = period.parse::<u32>().ok().filter(|p| *p > 0) else {
        return bad_value("The parameter Period must be a positive integer.");
    };
    if end <= start {
        return bad_value("The parameter StartTime must be less than the parameter EndTime.");
    }
    let step = i64::from(period);
    let requested = (end - start + step - 1) / step;
    if requested > 1440 {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterCombination",
            &format!(
                "You have requested up to {} datapoints, which exceeds the limit of 1,440. \
                 You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
                thousands(requested as u64)
            ),
        );
    }
    let now = Utc::now().timestamp();
    let kept = cw_kept_period(now - start).is_some_and(|finest| period >= finest);
    let mut points: Vec<i64> = Vec::new();
    if kept {
        let first = start + (step - start.rem_euclid(step)) % step;
        points.extend((first..end.min(now)).step_by(step as usize));
    }
    // AWS does not answer in time order; neither do we (but always in the same order).
    points.sort_by_key(|t| fnv1a(&t.to_le_bytes()));
    let mut members = String::new();
    for (i, t) in points.iter().enumerate() {
        let stamp = DateTime::from_timestamp(*t, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let sum = cw_sum(instance, metric_in, *t, period);
        // Both ways AWS writes numbers: plain and scientific.
        let sum = if i % 2 == 0 {
            format!("{sum:.1}")
        } else {
            format!("{sum:E}")
        };
        members.push_str(&format!(
            "<member><Timestamp>{stamp}</Timestamp><Sum>{sum}</Sum><Unit>Bytes</Unit></member>"
        ));
    }
    let datapoints = if members.is_empty() {
        "<Datapoints/>".to_string()
    } else {
        format!("<Datapoints>{members}</Datapoints>")
    };
    let body = format!(
        "<GetMetricStatisticsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\n\
         <GetMetricStatisticsResult>\n<Label>{metric}</Label>\n{datapoints}\n\
         </GetMetricStatisticsResult>\n<ResponseMetadata>\n\
         <RequestId>2f1a9a8e-5b3c-11e8-9c2d-fa7ae01bbebc</RequestId>\n</ResponseMetadata>\n\
         </GetMetricStatisticsResponse>\n"
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}
