//! The simulator's HTTP edge: checks a request the way the API does, in the API's order
//! (credentials, ids, parameters, creation date, limit), then answers with [`super::series`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde_json::json;

use super::{data, Counters, Faults, SimConfig};
use crate::model::{Method, Named, Period, Point, Scope, Target};
use crate::range::{parse_date, DateRange};

#[derive(Clone)]
pub(super) struct State {
    pub config: Arc<SimConfig>,
    pub counters: Arc<Counters>,
    pub faults: Arc<Faults>,
}

pub(super) fn router(state: State) -> Router {
    Router::new()
        .route(
            "/accounts/{account}/dedicatedServers/{server}/ipAddresses/{ip}/statistics/traffic",
            get(traffic),
        )
        .with_state(state)
}

fn error_body(status: StatusCode, kind: &str, details: serde_json::Value) -> Response {
    let body = json!({
        kind: { "message": "GET data error", "code": status.as_u16(), "details": details }
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string_pretty(&body).expect("json"),
    )
        .into_response()
}

fn bad_param(name: &str, message: String) -> Response {
    error_body(
        StatusCode::BAD_REQUEST,
        "badRequest",
        json!({ name: message }),
    )
}

/// A refused parameter: its name and why.
type Rejection = (&'static str, String);

fn param<T, E: std::fmt::Display>(
    query: &HashMap<String, String>,
    name: &'static str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<T, Rejection> {
    let raw = query
        .get(name)
        .ok_or_else(|| (name, format!("{name} is required")))?;
    parse(raw).map_err(|e| (name, e.to_string()))
}

/// A query parameter outside its values (`allowed` lists them).
#[derive(Debug, thiserror::Error)]
#[error("{value} is not one of {allowed}")]
struct NotOneOf {
    value: String,
    allowed: String,
}

/// The value of a [`Named`] set called exactly `s`.
fn named<T: Named>(s: &str) -> Result<T, NotOneOf> {
    T::from_name(s).ok_or_else(|| NotOneOf {
        value: s.to_string(),
        allowed: T::names(),
    })
}

async fn traffic(
    AxumState(state): AxumState<State>,
    Path((account, server, ip)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let n = state.counters.begin();
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let response = answer(&state, n, account, server, ip, &query, &headers);
    state.counters.answered(response.status().as_u16());
    response
}

/// Checks a request in the API's order and answers it: a fault, a refusal or the data.
fn answer(
    state: &State,
    request_no: u64,
    account: String,
    server: String,
    ip: String,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    if let Some(refused) = injected_fault(state, request_no, &server)
        .or_else(|| auth_refusal(&state.config, headers))
        .or_else(|| ids_refusal(&account, &server, &ip))
    {
        return refused;
    }
    let (scope, period, method, range) = match parse_query(query) {
        Ok(q) => q,
        Err((name, message)) => return bad_param(name, message),
    };
    if let Some(refused) = range_refusal(state, &server, range, period) {
        return refused;
    }
    let target = Target {
        account,
        server,
        ip,
    };
    let points = data::series(&target, scope, period, method, range, Utc::now());
    points_response(&points, headers)
}

/// The injected fault this request gets, if any (after `fail_after`, a flaky server, or
/// drawn at `fail_rate`).
fn injected_fault(state: &State, request_no: u64, server: &str) -> Option<Response> {
    let config = &state.config;
    let fail_rate = state.faults.fail_rate();
    let injected = request_no > state.faults.fail_after()
        || state.faults.flaky(server)
        || (fail_rate > 0.0 && data::unit(data::mix(config.seed ^ request_no)) < fail_rate);
    if !injected {
        return None;
    }
    let status =
        StatusCode::from_u16(config.fail_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut r = error_body(
        status,
        "serviceUnavailable",
        json!("Injected fault: the service is temporarily unavailable."),
    );
    if let Some(secs) = config.retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Some(r)
}

/// The 401 for a request without the configured `Authorization` value.
fn auth_refusal(config: &SimConfig, headers: &HeaderMap) -> Option<Response> {
    let expected = config.auth.as_ref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    (given != Some(expected.expose().as_bytes())).then(|| {
        error_body(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            json!("The supplied credentials are invalid or do not provide permissions for this operation."),
        )
    })
}

/// The 404 or 403 for ids that name a missing or forbidden account, server or IP.
fn ids_refusal(account: &str, server: &str, ip: &str) -> Option<Response> {
    let ids = [account, server, ip];
    if ids
        .iter()
        .any(|s| s.contains("missing") || s.contains("404"))
    {
        return Some(error_body(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            json!("The dedicated server or account does not exist."),
        ));
    }
    if ids.iter().any(|s| s.contains("forbidden")) {
        return Some(error_body(
            StatusCode::FORBIDDEN,
            "forbidden",
            json!("The authorized user does not have permissions to access the resource."),
        ));
    }
    None
}

/// The query's scope, period, method and date range, or the first bad parameter.
fn parse_query(
    query: &HashMap<String, String>,
) -> Result<(Scope, Period, Method, DateRange), Rejection> {
    let scope = param(query, "scope", named::<Scope>)?;
    let period = param(query, "period", named::<Period>)?;
    let method = param(query, "method", named::<Method>)?;
    let start = param(query, "startDate", parse_date)?;
    let end = param(query, "endDate", parse_date)?;
    let range = DateRange::new(start, end)
        .ok_or_else(|| ("endDate", format!("{end} is less than startDate {start}")))?;
    Ok((scope, period, method, range))
}

/// Counts the data sets asked for, then refuses a range starting before the server's
/// creation date (400) or holding more data sets than the limit (403).
fn range_refusal(
    state: &State,
    server: &str,
    range: DateRange,
    period: Period,
) -> Option<Response> {
    let config = &state.config;
    let sets = range.sets(period);
    state.counters.asked(sets);
    let created = config.created(server);
    let start = range.start;
    if start < created {
        return Some(bad_param(
            "startDate",
            format!("{start} is less than minimum value {created}"),
        ));
    }
    if sets > u64::from(config.limit) {
        return Some(error_body(
            StatusCode::FORBIDDEN,
            "overLimit",
            json!("The (startDate, endDate) range is too large. Maximum number of returned data sets exceeded."),
        ));
    }
    None
}

/// The points as CSV when the `Accept` header asks for `text/csv`, else as JSON.
fn points_response(points: &[Point], headers: &HeaderMap) -> Response {
    let csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    // `NaiveDateTime`'s Display is `%Y-%m-%d %H:%M:%S` for whole seconds, without
    // parsing a format string per date (that was most of the simulator's time).
    let fmt_date = |t: chrono::DateTime<Utc>| {
        debug_assert_eq!(t.timestamp_subsec_nanos(), 0);
        t.naive_utc().to_string()
    };
    if csv {
        let mut body = String::from("count,date,values\n");
        for p in points {
            let _ = writeln!(
                body,
                "{},{},{}",
                p.count.unwrap_or(0),
                fmt_date(p.time),
                p.value
            );
        }
        return ([(header::CONTENT_TYPE, "text/csv")], body).into_response();
    }
    let rows: Vec<serde_json::Value> = points
        .iter()
        .map(|p| json!({ "count": p.count, "date": fmt_date(p.time), "values": p.value }))
        .collect();
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&rows).expect("json"),
    )
        .into_response()
}
