//! SoftLayer (IBM Cloud classic) bandwidth graphs over the REST API.
//!
//! Two graphs exist: one server's (`SoftLayer_Metric_Tracking_Object::getBandwidthGraph`,
//! reached through the server's metric tracking object) and a bandwidth pool's
//! (`SoftLayer_Network_Bandwidth_Version1_Allotment::getBandwidthImage`). Both answer a
//! `SoftLayer_Container_Bandwidth_GraphOutputs` whose `graphImage` is a base64 PNG.
//!
//! Both calls are deprecated upstream and a live account may answer "... is not a valid
//! method"; that becomes [`ProviderError::Deprecated`], telling the user to use raw data.
//! Like softlayer-go, an empty 200 body or a 200 body with an `error` field is an error.
//!
//! Wire format (REST): a method with parameters is a POST of `{"parameters": [...]}` in the
//! documented order, one without is a GET; auth is HTTP Basic `username:apiKey`.
//!
//! The raw counters behind those graphs remain: [`Client::bandwidth_data`] calls
//! `SoftLayer_Metric_Tracking_Object::getBandwidthData` and returns rows for the shared
//! validator. It sends the range as epoch seconds because the service reads plain dates in
//! the caller's zone (the SLDN example asked for `2020-09-01` from -05:00 and got a first
//! bucket an hour early); answers carry offsets (-06:00) and are turned into UTC here.

use std::fmt;

use base64::Engine;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::{image, one_line, transport, ProviderError, ProviderImage, ProviderKind, Secret};
use crate::validate::Row;

const PROVIDER: ProviderKind = ProviderKind::SoftLayer;
/// The public REST endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://api.softlayer.com/rest/v3.1/";
const CHECK_CREDENTIALS: &str = "SL_USERNAME and SL_API_KEY (API user name and API key)";

/// Who we are and where we call.
#[derive(Debug, Clone)]
pub struct SoftLayerConfig {
    /// The API user name (`SL_USERNAME`).
    pub username: String,
    /// The API key (`SL_API_KEY`), sent as HTTP Basic password.
    pub api_key: Secret,
    /// Base URL ending in `/`, e.g. [`DEFAULT_ENDPOINT`] or a loopback simulator.
    pub endpoint: String,
}

impl SoftLayerConfig {
    /// Explicit credentials, default endpoint.
    pub fn new(username: impl Into<String>, api_key: impl Into<Secret>) -> Self {
        SoftLayerConfig {
            username: username.into(),
            api_key: api_key.into(),
            endpoint: DEFAULT_ENDPOINT.to_string(),
        }
    }

    /// Credentials from `SL_USERNAME` and `SL_API_KEY`, default endpoint.
    pub fn from_env() -> Result<Self, ProviderError> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (get("SL_USERNAME"), get("SL_API_KEY")) {
            (Some(user), Some(key)) => Ok(Self::new(user, key)),
            _ => Err(ProviderError::MissingCredentials {
                provider: PROVIDER,
                hint: "set SL_USERNAME and SL_API_KEY (or pass them explicitly)",
            }),
        }
    }

    /// Another base URL (e.g. the private `https://api.service.softlayer.com/rest/v3.1/`).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        let mut e = endpoint.into();
        if !e.ends_with('/') {
            e.push('/');
        }
        self.endpoint = e;
        self
    }
}

/// Public or private network traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkType {
    /// The public network (the default).
    #[default]
    Public,
    /// The private (back-end) network.
    Private,
}

impl NetworkType {
    /// The wire name: `public` or `private`.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkType::Public => "public",
            NetworkType::Private => "private",
        }
    }
}

impl std::fmt::Display for NetworkType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl crate::model::Named for NetworkType {
    const ALL: &'static [NetworkType] = &[NetworkType::Public, NetworkType::Private];
    const WHAT: &'static str = "network type";
    fn name(self) -> &'static str {
        match self {
            NetworkType::Public => "public",
            NetworkType::Private => "private",
        }
    }
}

crate::model::from_str_by_name!(NetworkType);

/// One server's graph: `getBandwidthGraph` parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerGraphRequest {
    /// First instant of the graph (UTC).
    pub start: DateTime<Utc>,
    /// Last instant of the graph (UTC).
    pub end: DateTime<Utc>,
    /// Public or private network.
    pub network: NetworkType,
    /// Text height in pixels.
    pub font_size: u32,
    /// Width in pixels asked for.
    pub width: u32,
    /// Height in pixels asked for.
    pub height: u32,
    /// `doNotShowTimeZone`.
    pub hide_time_zone: bool,
}

/// The period a pool graph covers (`snapshotRange`); the specified ones carry their dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotRange {
    /// `day`: the last 24 hours.
    Day,
    /// `week`: the last 7 days.
    Week,
    /// `30day`: the last 30 days.
    ThirtyDay,
    /// `previous_calendar_month`.
    PreviousCalendarMonth,
    /// `current_calendar_month`.
    CurrentCalendarMonth,
    /// `current_billing_cycle`.
    CurrentBillingCycle,
    /// `previous_billing_cycle`.
    PreviousBillingCycle,
    /// `specified_day`: that day.
    SpecifiedDay(NaiveDate),
    /// First and last day, inclusive.
    SpecifiedRange(NaiveDate, NaiveDate),
}

impl SnapshotRange {
    /// Every name SoftLayer accepts, in its documented order.
    pub const NAMES: [&'static str; 9] = [
        "day",
        "week",
        "30day",
        "previous_calendar_month",
        "current_calendar_month",
        "current_billing_cycle",
        "previous_billing_cycle",
        "specified_day",
        "specified_range",
    ];

    /// Builds a range from its wire name and the dates the specified ones need: `date` for
    /// `specified_day`, `date` and `end` for `specified_range`, none for the others.
    pub fn parse(
        name: &str,
        date: Option<NaiveDate>,
        end: Option<NaiveDate>,
    ) -> Result<Self, ProviderError> {
        let invalid = |reason: String| ProviderError::InvalidRequest {
            provider: PROVIDER,
            reason,
        };
        let plain = match name {
            "day" => Some(SnapshotRange::Day),
            "week" => Some(SnapshotRange::Week),
            "30day" => Some(SnapshotRange::ThirtyDay),
            "previous_calendar_month" => Some(SnapshotRange::PreviousCalendarMonth),
            "current_calendar_month" => Some(SnapshotRange::CurrentCalendarMonth),
            "current_billing_cycle" => Some(SnapshotRange::CurrentBillingCycle),
            "previous_billing_cycle" => Some(SnapshotRange::PreviousBillingCycle),
            "specified_day" | "specified_range" => None,
            other => {
                return Err(invalid(format!(
                    "unknown snapshot range '{other}' (expected one of {})",
                    Self::NAMES.join(", ")
                )))
            }
        };
        if let Some(range) = plain {
            if date.is_some() || end.is_some() {
                return Err(invalid(format!(
                    "snapshot range '{name}' takes no dates (only specified_day and specified_range do)"
                )));
            }
            return Ok(range);
        }
        let range = match (name, date, end) {
            ("specified_day", Some(d), None) => SnapshotRange::SpecifiedDay(d),
            ("specified_day", None, _) => {
                return Err(invalid("specified_day needs its date".into()))
            }
            ("specified_day", Some(_), Some(_)) => {
                return Err(invalid(
                    "specified_day takes one date; use specified_range for an end date".into(),
                ))
            }
            ("specified_range", Some(s), Some(e)) => SnapshotRange::SpecifiedRange(s, e),
            _ => {
                return Err(invalid(
                    "specified_range needs both its start and end dates".into(),
                ))
            }
        };
        range.validate()?;
        Ok(range)
    }

    /// The wire name.
    pub fn name(&self) -> &'static str {
        match self {
            SnapshotRange::Day => "day",
            SnapshotRange::Week => "week",
            SnapshotRange::ThirtyDay => "30day",
            SnapshotRange::PreviousCalendarMonth => "previous_calendar_month",
            SnapshotRange::CurrentCalendarMonth => "current_calendar_month",
            SnapshotRange::CurrentBillingCycle => "current_billing_cycle",
            SnapshotRange::PreviousBillingCycle => "previous_billing_cycle",
            SnapshotRange::SpecifiedDay(_) => "specified_day",
            SnapshotRange::SpecifiedRange(..) => "specified_range",
        }
    }

    fn validate(&self) -> Result<(), ProviderError> {
        if let SnapshotRange::SpecifiedRange(s, e) = self {
            if e < s {
                return Err(ProviderError::InvalidRequest {
                    provider: PROVIDER,
                    reason: format!("specified_range ends ({e}) before it starts ({s})"),
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for SnapshotRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A bandwidth pool's graph: `getBandwidthImage` parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolGraphRequest {
    /// Public or private network.
    pub network: NetworkType,
    /// The period the graph covers.
    pub range: SnapshotRange,
    /// SoftLayer picks the size of a pool graph; when set, the image is resized to it.
    pub size: Option<(u32, u32)>,
}

/// SoftLayer's date format for `dateSpecified`/`dateSpecifiedEnd`.
pub fn sl_date(d: NaiveDate) -> String {
    d.format("%m/%d/%Y").to_string()
}

/// Calls SoftLayer; cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: crate::http::LazyClient,
    config: SoftLayerConfig,
}

impl Client {
    /// A client with its own HTTP client, built on the first call.
    pub fn new(config: SoftLayerConfig) -> Result<Self, ProviderError> {
        Self::with_clients(config, &crate::http::Clients::default())
    }

    /// A client whose HTTP client is taken from `clients` (shared by a run) on the first
    /// call: none is built for a run that makes no request.
    pub fn with_clients(
        config: SoftLayerConfig,
        clients: &crate::http::Clients,
    ) -> Result<Self, ProviderError> {
        Ok(Client {
            http: super::http_client(clients),
            config,
        })
    }

    /// One server's bandwidth graph, `width`x`height` as requested.
    pub async fn server_graph(
        &self,
        server_id: u64,
        req: &ServerGraphRequest,
    ) -> Result<ProviderImage, ProviderError> {
        check_size(req.width, req.height)?;
        if req.end <= req.start {
            return Err(ProviderError::InvalidRequest {
                provider: PROVIDER,
                reason: format!("end {} is not after start {}", req.end, req.start),
            });
        }
        let tracking_id = self.tracking_object_id(server_id).await?;
        let params = json!([
            req.start.to_rfc3339_opts(SecondsFormat::Secs, false),
            req.end.to_rfc3339_opts(SecondsFormat::Secs, false),
            req.network.as_str(),
            req.font_size,
            req.width,
            req.height,
            req.hide_time_zone,
        ]);
        let method = "getBandwidthGraph";
        let service = "SoftLayer_Metric_Tracking_Object";
        let out = self
            .call(service, tracking_id, method, Some(params))
            .await?;
        self.graph_outputs(
            service,
            tracking_id,
            method,
            &out,
            Some((req.width, req.height)),
        )
    }

    /// The metric tracking object of a hardware server
    /// (`SoftLayer_Hardware_Server::getMetricTrackingObjectId`): the id the bandwidth graph
    /// and the raw counters are asked from. An unknown server is an error naming its id.
    pub async fn tracking_object_id(&self, hardware_id: u64) -> Result<u64, ProviderError> {
        let service = "SoftLayer_Hardware_Server";
        let method = "getMetricTrackingObjectId";
        let tracking = match self.call(service, hardware_id, method, None).await {
            Ok(v) => v,
            Err(ProviderError::Api {
                provider,
                url,
                status,
                code,
                message,
            }) if status == 404 || code.as_deref() == Some(OBJECT_NOT_FOUND) => {
                return Err(ProviderError::Api {
                    provider,
                    url,
                    status,
                    code,
                    message: format!(
                        "{message} (no hardware server {hardware_id} on this account: check the hardware id)"
                    ),
                })
            }
            Err(e) => return Err(e),
        };
        as_id(&tracking).ok_or_else(|| ProviderError::BadResponse {
            provider: PROVIDER,
            url: self.url(service, hardware_id, method),
            what: "expected the metric tracking object id (an integer)".into(),
        })
    }

    /// Raw traffic counters of a metric tracking object
    /// (`SoftLayer_Metric_Tracking_Object::getBandwidthData`): octets per `rollup`-second
    /// bucket, inbound and outbound, for `network`, from `start` to `end`.
    ///
    /// The range travels as epoch seconds (exact; plain dates would be read in the
    /// caller's zone). `rollup` must be one of [`ROLLUPS`]. The rows are parsed faithfully
    /// ([`bandwidth_rows`]); range, grid and value rules are the validator's job.
    pub async fn bandwidth_data(
        &self,
        tracking_id: u64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        network: NetworkType,
        rollup: u32,
    ) -> Result<BandwidthRows, ProviderError> {
        check_rollup(rollup)?;
        if end <= start {
            return Err(ProviderError::InvalidRequest {
                provider: PROVIDER,
                reason: format!("end {end} is not after start {start}"),
            });
        }
        let service = "SoftLayer_Metric_Tracking_Object";
        let method = "getBandwidthData";
        let params = json!([start.timestamp(), end.timestamp(), network.as_str(), rollup]);
        let out = self
            .call(service, tracking_id, method, Some(params))
            .await?;
        bandwidth_rows(&self.url(service, tracking_id, method), &out, network)
    }

    /// A bandwidth pool's (allotment's) graph for a snapshot range.
    pub async fn pool_graph(
        &self,
        allotment_id: u64,
        req: &PoolGraphRequest,
    ) -> Result<ProviderImage, ProviderError> {
        req.range.validate()?;
        if let Some((w, h)) = req.size {
            check_size(w, h)?;
        }
        let mut params = vec![
            json!(req.network.as_str()),
            json!(req.range.name()),
            json!(true),
        ];
        match req.range {
            SnapshotRange::SpecifiedDay(d) => params.push(json!(sl_date(d))),
            SnapshotRange::SpecifiedRange(s, e) => {
                params.push(json!(sl_date(s)));
                params.push(json!(sl_date(e)));
            }
            _ => {}
        }
        let service = "SoftLayer_Network_Bandwidth_Version1_Allotment";
        let method = "getBandwidthImage";
        let out = self
            .call(service, allotment_id, method, Some(Value::Array(params)))
            .await?;
        self.graph_outputs(service, allotment_id, method, &out, req.size)
    }

    fn url(&self, service: &str, id: u64, method: &str) -> String {
        format!("{}{service}/{id}/{method}.json", self.config.endpoint)
    }

    /// One REST call: GET without parameters, POST `{"parameters": [...]}` with them.
    async fn call(
        &self,
        service: &str,
        id: u64,
        method: &str,
        params: Option<Value>,
    ) -> Result<Value, ProviderError> {
        let url = self.url(service, id, method);
        let builder = match params {
            None => super::built(PROVIDER, &self.http)?.get(&url),
            Some(p) => super::built(PROVIDER, &self.http)?
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json!({ "parameters": p }).to_string()),
        };
        let resp = builder
            .basic_auth(&self.config.username, Some(self.config.api_key.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| transport(PROVIDER, &url, e))?;
        let status = resp.status().as_u16();
        let body = super::read_body(PROVIDER, &url, resp).await?;
        interpret(&url, service, method, status, &body)
    }

    fn graph_outputs(
        &self,
        service: &str,
        id: u64,
        method: &str,
        out: &Value,
        want: Option<(u32, u32)>,
    ) -> Result<ProviderImage, ProviderError> {
        let (bytes, title) = graph_image(&self.url(service, id, method), out)?;
        image::finish(PROVIDER, &bytes, want, title)
    }
}

/// The image bytes (base64 `graphImage`, decoded) and the title of a
/// `SoftLayer_Container_Bandwidth_GraphOutputs`. Pure; `pub` for the fuzz targets.
#[doc(hidden)]
pub fn graph_image(url: &str, out: &Value) -> Result<(Vec<u8>, Option<String>), ProviderError> {
    let bad = |what: &str| ProviderError::BadResponse {
        provider: PROVIDER,
        url: url.to_string(),
        what: what.to_string(),
    };
    let b64 = out
        .get("graphImage")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no graphImage in the answer"))?;
    let cleaned: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| bad(&format!("graphImage is not valid base64 ({e})")))?;
    let title = out
        .get("graphTitle")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    Ok((bytes, title))
}

/// The rollups (seconds per bucket) `getBandwidthData` accepts.
pub const ROLLUPS: [u32; 6] = [300, 600, 1800, 3600, 43200, 86400];

/// SoftLayer's error code for an id that names nothing on the account.
const OBJECT_NOT_FOUND: &str = "SoftLayer_Exception_ObjectNotFound";

fn check_rollup(rollup: u32) -> Result<(), ProviderError> {
    if ROLLUPS.contains(&rollup) {
        return Ok(());
    }
    let allowed: Vec<String> = ROLLUPS.iter().map(u32::to_string).collect();
    Err(ProviderError::InvalidRequest {
        provider: PROVIDER,
        reason: format!(
            "rollup {rollup} s is not one getBandwidthData accepts (use one of {})",
            allowed.join(", ")
        ),
    })
}

/// Counters of one tracking object split by direction, in the order the answer gave them.
/// `value` is octets in the bucket starting at `time` (UTC); `count` is always `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BandwidthRows {
    /// `publicIn_net_octet` / `privateIn_net_octet`.
    pub receive: Vec<Row>,
    /// `publicOut_net_octet` / `privateOut_net_octet`.
    pub transmit: Vec<Row>,
}

/// Parses a `getBandwidthData` answer (`[{"counter", "dateTime", "type"}, ...]`) asked for
/// `network`. A counter may be a number or a string holding one; `dateTime` must carry an
/// offset and becomes UTC. A row of the other network, of an unknown type, or whose
/// counter or time does not parse is an error naming the row (1-based), never dropped.
/// Pure; `pub` for tests and fuzzing.
pub fn bandwidth_rows(
    url: &str,
    out: &Value,
    network: NetworkType,
) -> Result<BandwidthRows, ProviderError> {
    let bad = |what: String| ProviderError::BadResponse {
        provider: PROVIDER,
        url: url.to_string(),
        what,
    };
    let items = out.as_array().ok_or_else(|| {
        bad(format!(
            "expected an array of bandwidth rows, got {}",
            json_kind(out)
        ))
    })?;
    let mut rows = BandwidthRows::default();
    for (i, item) in items.iter().enumerate() {
        let n = i + 1;
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("row {n} has no \"type\" text")))?;
        let inbound = match direction(kind) {
            Some((net, inbound)) if net == network => inbound,
            Some((net, _)) => {
                return Err(bad(format!(
                    "row {n} has type '{}' of the {} network, but the {} network was asked for",
                    one_line(kind),
                    net.as_str(),
                    network.as_str()
                )))
            }
            None => {
                let net = network.as_str();
                return Err(bad(format!(
                    "row {n} has unknown type '{}' (expected {net}In_net_octet or {net}Out_net_octet)",
                    one_line(kind)
                )));
            }
        };
        let row = Row {
            time: row_time(item).map_err(|e| bad(format!("row {n}: {e}")))?,
            value: Some(counter(item).map_err(|e| bad(format!("row {n}: {e}")))?),
            count: None,
        };
        if inbound {
            rows.receive.push(row);
        } else {
            rows.transmit.push(row);
        }
    }
    Ok(rows)
}

/// The network and direction (`true`: inbound) of a counter type.
fn direction(kind: &str) -> Option<(NetworkType, bool)> {
    match kind {
        "publicIn_net_octet" => Some((NetworkType::Public, true)),
        "publicOut_net_octet" => Some((NetworkType::Public, false)),
        "privateIn_net_octet" => Some((NetworkType::Private, true)),
        "privateOut_net_octet" => Some((NetworkType::Private, false)),
        _ => None,
    }
}

/// `dateTime` with its offset, in UTC.
fn row_time(item: &Value) -> Result<DateTime<Utc>, RowError> {
    let text = item
        .get("dateTime")
        .and_then(Value::as_str)
        .ok_or(RowError::NoTime)?;
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|error| RowError::Time {
            text: one_line(text),
            error,
        })
}

/// `counter` as a finite number, whether sent as a JSON number or a string.
fn counter(item: &Value) -> Result<f64, RowError> {
    let parsed = match item.get("counter") {
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| n.to_string()),
        Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| s.clone()),
        Some(other) => Err(other.to_string()),
        None => return Err(RowError::NoCounter),
    };
    match parsed {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(RowError::NotFinite(v)),
        Err(text) => Err(RowError::NotANumber(one_line(&text))),
    }
}

/// Why the time or counter of one bandwidth row cannot be read (texts cut to one line).
#[derive(Debug, thiserror::Error)]
enum RowError {
    #[error("no \"dateTime\" text")]
    NoTime,
    #[error(
        "dateTime '{text}' is not a time with an offset like 2020-09-01T00:00:00-06:00 ({error})"
    )]
    Time {
        text: String,
        error: chrono::ParseError,
    },
    #[error("no \"counter\"")]
    NoCounter,
    #[error("counter '{0}' is not a finite number")]
    NotFinite(f64),
    #[error("counter '{0}' is not a number")]
    NotANumber(String),
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_size(w: u32, h: u32) -> Result<(), ProviderError> {
    if !(1..=4000).contains(&w) || !(1..=4000).contains(&h) {
        return Err(ProviderError::InvalidRequest {
            provider: PROVIDER,
            reason: format!("graph size {w}x{h} is out of range (each side 1 to 4000 pixels)"),
        });
    }
    Ok(())
}

fn as_id(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .or_else(|| v.get("id").and_then(Value::as_u64))
}

/// Turns one SoftLayer answer into its JSON value or the error it means. Pure, so the
/// error mapping is tested without a server.
pub fn interpret(
    url: &str,
    service: &str,
    method: &str,
    status: u16,
    body: &[u8],
) -> Result<Value, ProviderError> {
    let ok = (200..300).contains(&status);
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        if status == 401 || status == 403 {
            return Err(auth(format!("HTTP {status}")));
        }
        return Err(if ok {
            ProviderError::BadResponse {
                provider: PROVIDER,
                url: url.to_string(),
                what: format!("empty body (HTTP {status})"),
            }
        } else {
            api(url, status, None, "empty error body".into())
        });
    }
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) if status == 401 || status == 403 => return Err(auth(format!("HTTP {status}"))),
        Err(_) => {
            let what = if text.trim_start().starts_with('<') {
                "an HTML/XML page instead of JSON (a proxy or outage page?)"
            } else {
                "a body that is not JSON"
            };
            return Err(if ok {
                ProviderError::BadResponse {
                    provider: PROVIDER,
                    url: url.to_string(),
                    what: what.into(),
                }
            } else {
                api(url, status, None, what.into())
            });
        }
    };
    if let Some(message) = value.get("error").filter(|e| !e.is_null()) {
        let message = message
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| message.to_string());
        let code = value
            .get("code")
            .and_then(Value::as_str)
            .map(str::to_string);
        let lower = message.to_ascii_lowercase();
        if lower.contains("is not a valid method") {
            return Err(ProviderError::Deprecated {
                provider: PROVIDER,
                method: format!("{service}::{method}"),
            });
        }
        if status == 401
            || lower.starts_with("access denied")
            || lower.contains("invalid api token")
        {
            return Err(auth(one_line(&message)));
        }
        return Err(api(url, status, code, one_line(&message)));
    }
    if status == 401 || status == 403 {
        return Err(auth(format!("HTTP {status}")));
    }
    if !ok {
        return Err(api(url, status, None, "error without a message".into()));
    }
    Ok(value)
}

fn auth(detail: String) -> ProviderError {
    ProviderError::Auth {
        provider: PROVIDER,
        detail,
        check: CHECK_CREDENTIALS,
    }
}

fn api(url: &str, status: u16, code: Option<String>, message: String) -> ProviderError {
    ProviderError::Api {
        provider: PROVIDER,
        url: url.to_string(),
        status,
        code,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn all_nine_ranges_parse_and_round_trip() {
        for name in SnapshotRange::NAMES {
            let (date, end) = match name {
                "specified_day" => (Some(d(2024, 3, 1)), None),
                "specified_range" => (Some(d(2024, 3, 1)), Some(d(2024, 3, 9))),
                _ => (None, None),
            };
            let r = SnapshotRange::parse(name, date, end).unwrap();
            assert_eq!(r.name(), name);
        }
    }

    #[test]
    fn specified_ranges_need_their_dates() {
        assert!(SnapshotRange::parse("specified_day", None, None).is_err());
        assert!(SnapshotRange::parse("specified_range", Some(d(2024, 1, 1)), None).is_err());
        assert!(SnapshotRange::parse("specified_range", None, Some(d(2024, 1, 1))).is_err());
        assert!(
            SnapshotRange::parse("specified_range", Some(d(2024, 2, 1)), Some(d(2024, 1, 1)))
                .is_err()
        );
        assert!(SnapshotRange::parse("week", Some(d(2024, 1, 1)), None).is_err());
        assert!(SnapshotRange::parse("fortnight", None, None).is_err());
        assert_eq!(sl_date(d(2024, 3, 7)), "03/07/2024");
    }

    #[test]
    fn bandwidth_rows_parse_numbers_strings_and_offsets() {
        let out = json!([
            {"counter": 1200, "dateTime": "2020-09-01T00:00:00-06:00", "type": "publicIn_net_octet"},
            {"counter": "3400.5", "dateTime": "2020-09-01T00:00:00-06:00", "type": "publicOut_net_octet"},
            {"counter": " 7 ", "dateTime": "2020-09-01T01:00:00-06:00", "type": "publicIn_net_octet"},
        ]);
        let rows = bandwidth_rows("u", &out, NetworkType::Public).unwrap();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            rows.receive,
            vec![
                Row {
                    time: t("2020-09-01T06:00:00Z"),
                    value: Some(1200.0),
                    count: None
                },
                Row {
                    time: t("2020-09-01T07:00:00Z"),
                    value: Some(7.0),
                    count: None
                },
            ]
        );
        assert_eq!(
            rows.transmit,
            vec![Row {
                time: t("2020-09-01T06:00:00Z"),
                value: Some(3400.5),
                count: None
            }]
        );
        assert_eq!(
            bandwidth_rows("u", &json!([]), NetworkType::Private).unwrap(),
            BandwidthRows::default()
        );
    }

    #[test]
    fn bandwidth_rows_refuse_what_they_cannot_read() {
        let row = |counter: Value, time: &str, kind: &str| {
            json!([
                {"counter": 1, "dateTime": "2020-09-01T00:00:00-06:00", "type": "publicIn_net_octet"},
                {"counter": counter, "dateTime": time, "type": kind},
            ])
        };
        let ok_time = "2020-09-01T00:00:00-06:00";
        for (out, expect) in [
            (
                row(json!("12a"), ok_time, "publicIn_net_octet"),
                "row 2: counter '12a' is not a number",
            ),
            (
                row(json!(null), ok_time, "publicIn_net_octet"),
                "row 2: counter 'null' is not a number",
            ),
            (
                row(json!("NaN"), ok_time, "publicIn_net_octet"),
                "row 2: counter 'NaN' is not a finite",
            ),
            (
                row(json!(1), "2020-09-01 00:00:00", "publicIn_net_octet"),
                "row 2: dateTime '2020-09-01 00:00:00'",
            ),
            (
                row(json!(1), ok_time, "privateOut_net_octet"),
                "row 2 has type 'privateOut_net_octet' of the private network",
            ),
            (
                row(json!(1), ok_time, "publicIn_pkt"),
                "row 2 has unknown type 'publicIn_pkt'",
            ),
            (
                json!({"a": 1}),
                "expected an array of bandwidth rows, got an object",
            ),
        ] {
            let e = bandwidth_rows("http://x/", &out, NetworkType::Public).unwrap_err();
            assert!(e.to_string().contains(expect), "{e}");
            assert!(e.to_string().contains("http://x/"), "{e}");
        }
    }

    #[test]
    fn rollups_are_checked() {
        for r in ROLLUPS {
            check_rollup(r).unwrap();
        }
        for r in [0, 60, 301, 7200] {
            let e = check_rollup(r).unwrap_err().to_string();
            assert!(
                e.contains(&format!("rollup {r} s")) && e.contains("43200"),
                "{e}"
            );
        }
    }

    #[test]
    fn interpret_maps_errors() {
        let u = "http://x/";
        let e = interpret(
            u,
            "S",
            "m",
            500,
            br#"{"error":"Function (\"m\") is not a valid method for this service.","code":"SoftLayer_Exception_Public"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, ProviderError::Deprecated { .. }), "{e}");
        let e = interpret(
            u,
            "S",
            "m",
            401,
            br#"{"error":"Access Denied. ","code":"SoftLayer_Exception_Public"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("SL_API_KEY"), "{e}");
        let e = interpret(u, "S", "m", 200, b"").unwrap_err();
        assert!(e.to_string().contains("empty body"), "{e}");
        let e = interpret(
            u,
            "S",
            "m",
            200,
            br#"{"error":"Internal Error","code":"SoftLayer_Exception"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("Internal Error"), "{e}");
        let e = interpret(u, "S", "m", 502, b"<html>bad gateway</html>").unwrap_err();
        assert!(e.to_string().contains("HTTP 502"), "{e}");
        assert_eq!(interpret(u, "S", "m", 200, b"1234").unwrap(), json!(1234));
    }
}
