//! A loopback stand-in for SoftLayer's REST API and CloudWatch's `GetMetricWidgetImage`.
//!
//! The real services need accounts and the network; the provider clients still deserve
//! tests over real HTTP. This router answers the calls the clients make, checks their
//! credentials the way the services do (Basic auth for SoftLayer; for CloudWatch a SigV4
//! signature it recomputes with the configured secret), draws a PNG of the requested size
//! itself, and can misbehave on demand ([`SimMode`]) so every error path is exercised.
//! [`SimCounters`] let tests see what reached the server.

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
use chrono::{NaiveDate, NaiveDateTime};
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
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }
}

/// The simulator's accounts and behaviour.
#[derive(Debug, Clone)]
pub struct ProviderSimConfig {
    pub sl_username: String,
    pub sl_api_key: Secret,
    pub softlayer: SimMode,
    pub aws_access_key_id: String,
    pub aws_secret_access_key: Secret,
    pub cloudwatch: SimMode,
    /// Draw this size whatever was asked (to exercise resizing).
    pub image_size: Option<(u32, u32)>,
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
            "SoftLayer_Exception_ObjectNotFound",
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
            json_response(StatusCode::OK, json!(1_000_000 + id))
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
