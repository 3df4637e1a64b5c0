//! Raw provider counters over real HTTP on loopback: SoftLayer `getBandwidthData` and
//! CloudWatch `GetMetricStatistics` against the provider simulator, compared value for
//! value with the simulator's own formulas (`sim::sl_octets`, `sim::cw_sum`). The traps of
//! the real services are served too (plain dates read in the caller's zone, 1,440 points
//! at most, retention, shuffled points), so a client that falls into one fails here.

use std::time::SystemTime;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};
use trafficgraph::provider::cloudwatch::{self, finest_period, AwsCredentials, NetworkMetric};
use trafficgraph::provider::sim::{self, ProviderSimConfig, SimServer};
use trafficgraph::provider::softlayer::{self, NetworkType, SoftLayerConfig};
use trafficgraph::provider::ProviderError;
use trafficgraph::validate::Row;

use crate::util::{assert_no_secret, cloudwatch_sim, count, sim_credentials, softlayer_sim};

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

// ---------------------------------------------------------------- SoftLayer

/// `rows` are `rollup` apart from `start`, each equal to the simulator's octets.
fn assert_sl_rows(rows: &[Row], tracking: u64, net: &str, inbound: bool, start: i64, step: u32) {
    for (i, row) in rows.iter().enumerate() {
        let t = start + i as i64 * i64::from(step);
        assert_eq!(row.time.timestamp(), t, "row {i} time");
        assert_eq!(
            row.value,
            Some(sim::sl_octets(tracking, net, inbound, t, step)),
            "row {i} value"
        );
        assert_eq!(row.count, None);
    }
}

#[tokio::test]
async fn softlayer_30_days_hourly_equal_the_simulator_value_for_value() {
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let (_server, client) = softlayer_sim(cfg).await;
    let tracking = client
        .tracking_object_id(309098)
        .await
        .expect("tracking id");
    assert_eq!(tracking, 1_309_098);
    let (start, end) = (utc("2026-09-01T00:00:00Z"), utc("2026-10-01T00:00:00Z"));
    let rows = client
        .bandwidth_data(tracking, start, end, NetworkType::Public, 3600)
        .await
        .expect("bandwidth data");
    assert_eq!((rows.receive.len(), rows.transmit.len()), (720, 720));
    assert_eq!(rows.receive[0].time, start, "first bucket at 00:00Z");
    assert_sl_rows(
        &rows.receive,
        tracking,
        "public",
        true,
        start.timestamp(),
        3600,
    );
    assert_sl_rows(
        &rows.transmit,
        tracking,
        "public",
        false,
        start.timestamp(),
        3600,
    );
    // The range went out as epoch seconds, never as dates.
    let sent = counters.last_softlayer_params.lock().unwrap().clone();
    assert_eq!(
        sent,
        Some(json!([start.timestamp(), end.timestamp(), "public", 3600]))
    );
    // The private network, daily.
    let rows = client
        .bandwidth_data(tracking, start, end, NetworkType::Private, 86400)
        .await
        .expect("private daily");
    assert_eq!(rows.receive.len(), 30);
    assert_sl_rows(
        &rows.receive,
        tracking,
        "private",
        true,
        start.timestamp(),
        86400,
    );
    assert_sl_rows(
        &rows.transmit,
        tracking,
        "private",
        false,
        start.timestamp(),
        86400,
    );
}

/// One `getBandwidthData` POST with `params`, as raw JSON rows.
async fn raw_bandwidth_data(server: &SimServer, tracking: u64, params: Value) -> Vec<Value> {
    let cfg = ProviderSimConfig::default();
    let url = format!(
        "{}SoftLayer_Metric_Tracking_Object/{tracking}/getBandwidthData.json",
        server.softlayer_endpoint()
    );
    let resp = reqwest::Client::new()
        .post(url)
        .basic_auth(&cfg.sl_username, Some(cfg.sl_api_key.expose()))
        .header("content-type", "application/json")
        .body(json!({ "parameters": params }).to_string())
        .send()
        .await
        .expect("raw request");
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.bytes().await.expect("body");
    serde_json::from_slice(&body).expect("JSON rows")
}

#[tokio::test]
async fn plain_dates_shift_the_buckets_epoch_seconds_do_not() {
    let (server, client) = softlayer_sim(ProviderSimConfig::default()).await;
    let tracking = client.tracking_object_id(7).await.unwrap();
    // What a client sending plain dates gets: midnight in the caller's zone (-05:00).
    let rows = raw_bandwidth_data(
        &server,
        tracking,
        json!(["2026-10-01", "2026-10-02", "public", 3600]),
    )
    .await;
    let first = DateTime::parse_from_rfc3339(rows[0]["dateTime"].as_str().unwrap()).unwrap();
    assert_eq!(rows[0]["dateTime"], "2026-09-30T23:00:00-06:00");
    assert_ne!(first.with_timezone(&Utc), utc("2026-10-01T00:00:00Z"));
    assert_eq!(first.with_timezone(&Utc), utc("2026-10-01T05:00:00Z"));
    // The client sends epoch seconds and gets the UTC day it asked for.
    let (start, end) = (utc("2026-10-01T00:00:00Z"), utc("2026-10-02T00:00:00Z"));
    let parsed = client
        .bandwidth_data(tracking, start, end, NetworkType::Public, 3600)
        .await
        .unwrap();
    assert_eq!(parsed.receive.first().map(|r| r.time), Some(start));
    assert_eq!(
        parsed.receive.last().map(|r| r.time),
        Some(end - Duration::hours(1))
    );
    assert_eq!(parsed.receive.len(), 24);
}

#[tokio::test]
async fn counters_sent_as_strings_parse_like_numbers() {
    let (server, client) = softlayer_sim(ProviderSimConfig::default()).await;
    let tracking = client.tracking_object_id(42).await.unwrap();
    let (start, end) = (utc("2026-10-01T00:00:00Z"), utc("2026-10-01T06:00:00Z"));
    let raw = raw_bandwidth_data(
        &server,
        tracking,
        json!([start.timestamp(), end.timestamp(), "public", 1800]),
    )
    .await;
    let strings = raw.iter().filter(|r| r["counter"].is_string()).count();
    let numbers = raw.iter().filter(|r| r["counter"].is_number()).count();
    assert!(strings > 0 && numbers > 0, "both kinds served: {raw:?}");
    let rows = client
        .bandwidth_data(tracking, start, end, NetworkType::Public, 1800)
        .await
        .unwrap();
    assert_eq!(rows.receive.len() + rows.transmit.len(), raw.len());
    assert_sl_rows(
        &rows.receive,
        tracking,
        "public",
        true,
        start.timestamp(),
        1800,
    );
    assert_sl_rows(
        &rows.transmit,
        tracking,
        "public",
        false,
        start.timestamp(),
        1800,
    );
}

#[tokio::test]
async fn softlayer_bad_rollup_is_refused_without_a_request() {
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let (_server, client) = softlayer_sim(cfg).await;
    let err = client
        .bandwidth_data(
            1_000_007,
            utc("2026-10-01T00:00:00Z"),
            utc("2026-10-02T00:00:00Z"),
            NetworkType::Public,
            900,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("rollup 900"), "{err}");
    assert_eq!(count(&counters.softlayer_calls), 0);
}

#[tokio::test]
async fn softlayer_raw_bad_key_is_a_clear_error_without_the_key() {
    let secret = "wrong-Key-55aa0c1d";
    let cfg = ProviderSimConfig::default();
    let server = sim::spawn(cfg.clone()).await.unwrap();
    let sl = SoftLayerConfig::new(cfg.sl_username.clone(), secret)
        .with_endpoint(server.softlayer_endpoint());
    let client = softlayer::Client::new(sl).unwrap();
    for err in [
        client.tracking_object_id(7).await.unwrap_err(),
        client
            .bandwidth_data(
                1_000_007,
                utc("2026-10-01T00:00:00Z"),
                utc("2026-10-02T00:00:00Z"),
                NetworkType::Public,
                3600,
            )
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("Access Denied") && msg.contains("SL_API_KEY"),
            "{msg}"
        );
        assert_no_secret(&err, secret);
    }
}

#[tokio::test]
async fn softlayer_unknown_hardware_id_is_a_clear_error() {
    let (_server, client) = softlayer_sim(ProviderSimConfig::default()).await;
    let missing = sim::SL_MAX_HARDWARE_ID + 1;
    let err = client.tracking_object_id(missing).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("HTTP 404")
            && msg.contains("SoftLayer_Exception_ObjectNotFound")
            && msg.contains(&format!("no hardware server {missing}"))
            && msg.contains("check the hardware id"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    // A tracking object that does not exist either.
    let err = client
        .bandwidth_data(
            5,
            utc("2026-10-01T00:00:00Z"),
            utc("2026-10-02T00:00:00Z"),
            NetworkType::Public,
            3600,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ObjectNotFound"), "{err}");
}

// ---------------------------------------------------------------- CloudWatch

const INSTANCE: &str = "i-0123456789abcdef0";

/// Sorted rows are `period` apart from `start` and equal the simulator's sums.
fn assert_cw_rows(rows: &[Row], metric_in: bool, start: DateTime<Utc>, period: u32) {
    let mut sorted = rows.to_vec();
    sorted.sort_by_key(|r| r.time);
    for (i, row) in sorted.iter().enumerate() {
        let t = start.timestamp() + i as i64 * i64::from(period);
        assert_eq!(row.time.timestamp(), t, "point {i} time");
        assert_eq!(
            row.value,
            Some(sim::cw_sum(INSTANCE, metric_in, t, period)),
            "point {i} value"
        );
        assert_eq!(row.count, None);
    }
}

fn midnight_days_ago(days: i64) -> DateTime<Utc> {
    (Utc::now() - Duration::days(days))
        .duration_trunc(Duration::days(1))
        .unwrap()
}

#[tokio::test]
async fn cloudwatch_5_days_at_300s_equal_the_simulator_for_every_point() {
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let creds = sim_credentials(&cfg);
    let (_server, client) = cloudwatch_sim(cfg, creds).await;
    let start = midnight_days_ago(10);
    let end = start + Duration::days(5);
    for (metric, metric_in) in [(NetworkMetric::In, true), (NetworkMetric::Out, false)] {
        let rows = client
            .metric_statistics(INSTANCE, metric, start, end, 300)
            .await
            .expect("statistics");
        assert_eq!(rows.len(), 1440);
        assert!(
            rows.windows(2).any(|w| w[0].time > w[1].time),
            "the simulator shuffles; the client returns them as parsed"
        );
        assert_cw_rows(&rows, metric_in, start, 300);
    }
    assert_eq!(count(&counters.cloudwatch_calls), 2);
    assert_eq!(count(&counters.auth_rejected), 0);
}

#[tokio::test]
async fn cloudwatch_6_days_at_300s_is_refused_before_any_request() {
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let creds = sim_credentials(&cfg);
    let (_server, client) = cloudwatch_sim(cfg, creds).await;
    let start = midnight_days_ago(10);
    let err = client
        .metric_statistics(
            INSTANCE,
            NetworkMetric::In,
            start,
            start + Duration::days(6),
            300,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::InvalidRequest { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("1728 data points") && msg.contains("at most 1440"),
        "{msg}"
    );
    assert_eq!(count(&counters.cloudwatch_calls), 0);
}

#[tokio::test]
async fn cloudwatch_simulator_refuses_more_than_1440_points_like_aws() {
    // A signed request the client would never send: the server's own limit.
    let cfg = ProviderSimConfig::default();
    let creds = AwsCredentials::new(
        cfg.aws_access_key_id.clone(),
        cfg.aws_secret_access_key.clone(),
        None,
    );
    let server = sim::spawn(cfg).await.unwrap();
    let url = server.cloudwatch_endpoint();
    let host = server.addr.to_string();
    let start = midnight_days_ago(10);
    let time = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("Action", "GetMetricStatistics"),
            ("Version", "2010-08-01"),
            ("Namespace", "AWS/EC2"),
            ("MetricName", "NetworkIn"),
            ("Dimensions.member.1.Name", "InstanceId"),
            ("Dimensions.member.1.Value", INSTANCE),
            ("StartTime", &time(start)),
            ("EndTime", &time(start + Duration::days(6))),
            ("Period", "300"),
            ("Statistics.member.1", "Sum"),
        ])
        .finish();
    let ct = "application/x-www-form-urlencoded; charset=utf-8";
    let signed = cloudwatch::sign_headers(
        "POST",
        &url,
        &[("content-type", ct), ("host", &host)],
        body.as_bytes(),
        &creds,
        "eu-west-1",
        cloudwatch::SERVICE,
        SystemTime::now(),
    )
    .unwrap();
    let mut req = reqwest::Client::new().post(&url).header("content-type", ct);
    for (k, v) in &signed {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&bytes));
    let err = cloudwatch::statistics_rows(&url, status, &bytes).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("InvalidParameterCombination")
            && msg.contains(
                "You have requested up to 1,728 datapoints, which exceeds the limit of 1,440"
            )
            && msg.contains("shorter range"),
        "{msg}"
    );
}

#[tokio::test]
async fn cloudwatch_old_data_needs_the_coarser_period_finest_period_picks() {
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let creds = sim_credentials(&cfg);
    let (_server, client) = cloudwatch_sim(cfg, creds).await;
    let now = Utc::now();
    let start = (now - Duration::days(70))
        .duration_trunc(Duration::hours(1))
        .unwrap();
    let end = start + Duration::days(1);
    let rows = client
        .metric_statistics(INSTANCE, NetworkMetric::In, start, end, 300)
        .await
        .expect("an empty answer is not an error");
    assert!(rows.is_empty(), "300 s data is not kept 70 days: {rows:?}");
    assert_eq!(count(&counters.cloudwatch_calls), 1);
    let period = finest_period(start, now, 300);
    assert_eq!(period, 3600);
    let rows = client
        .metric_statistics(INSTANCE, NetworkMetric::In, start, end, period)
        .await
        .expect("hourly data");
    assert_eq!(rows.len(), 24);
    assert_cw_rows(&rows, true, start, 3600);
}

#[tokio::test]
async fn cloudwatch_raw_wrong_secret_is_a_clear_auth_error_without_it() {
    let secret = "Wrong/Raw+Secret42";
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let creds = AwsCredentials::new(cfg.aws_access_key_id.clone(), secret, None);
    let (_server, client) = cloudwatch_sim(cfg, creds).await;
    let start = midnight_days_ago(3);
    let err = client
        .metric_statistics(
            INSTANCE,
            NetworkMetric::Out,
            start,
            start + Duration::days(1),
            300,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("SignatureDoesNotMatch") && msg.contains("AWS_SECRET_ACCESS_KEY"),
        "{msg}"
    );
    assert_no_secret(&err, secret);
    assert_eq!(count(&counters.auth_rejected), 1);
}
