//! Provider-drawn graphs over real HTTP on loopback: the SoftLayer and CloudWatch clients
//! against the provider simulator. Every image returned is decoded here; every failure
//! must be an error that says what to check and never carries a credential.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use trafficgraph::provider::cloudwatch::{
    self, AwsCredentials, CloudWatchConfig, MetricWidget, NetworkWidget,
};
use trafficgraph::provider::image::text_chunks;
use trafficgraph::provider::sim::{self, ProviderSimConfig, SimMode};
use trafficgraph::provider::softlayer::{
    self, NetworkType, PoolGraphRequest, ServerGraphRequest, SnapshotRange, SoftLayerConfig,
};
use trafficgraph::provider::{ProviderError, ProviderImage, Secret};

use crate::util::{assert_no_secret, cloudwatch_sim, count, sim_credentials, softlayer_sim};

/// Decodes the PNG, checks its size, and checks the `Source` chunk names the provider.
fn assert_provider_png(img: &ProviderImage, provider: &str, w: u32, h: u32) {
    assert_eq!(img.provider, provider);
    assert_eq!((img.width, img.height), (w, h));
    let decoded = image::load_from_memory_with_format(&img.png, image::ImageFormat::Png)
        .expect("a decodable PNG");
    assert_eq!((decoded.width(), decoded.height()), (w, h));
    let chunks = text_chunks(&img.png).expect("PNG chunks");
    let source = chunks.iter().find(|(k, _)| k == "Source").map(|(_, v)| v);
    assert_eq!(source, Some(&format!("provider:{provider}")));
}

// ---------------------------------------------------------------- SoftLayer

fn server_request(width: u32, height: u32) -> ServerGraphRequest {
    ServerGraphRequest {
        start: "2024-03-01T00:00:00Z".parse().unwrap(),
        end: "2024-03-08T00:00:00Z".parse().unwrap(),
        network: NetworkType::Public,
        font_size: 8,
        width,
        height,
        hide_time_zone: true,
    }
}

#[tokio::test]
async fn softlayer_server_graph_is_a_decoded_png_of_the_requested_size() {
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let (_server, client) = softlayer_sim(cfg).await;
    let img = client
        .server_graph(309098, &server_request(827, 273))
        .await
        .expect("graph");
    assert_provider_png(&img, "softlayer", 827, 273);
    assert_eq!(img.title.as_deref(), Some("Bandwidth graph (simulated)"));
    // Two calls: the tracking object id, then the graph with the documented parameters.
    assert_eq!(count(&counters.softlayer_calls), 2);
    let params = counters.last_softlayer_params.lock().unwrap().clone();
    assert_eq!(
        params,
        Some(json!([
            "2024-03-01T00:00:00+00:00",
            "2024-03-08T00:00:00+00:00",
            "public",
            8,
            827,
            273,
            true
        ]))
    );
}

#[tokio::test]
async fn softlayer_pool_graph_sends_range_and_mm_dd_yyyy_dates() {
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let (_server, client) = softlayer_sim(cfg).await;
    let d = |m, day| NaiveDate::from_ymd_opt(2024, m, day).unwrap();
    let range = SnapshotRange::parse("specified_range", Some(d(3, 1)), Some(d(3, 9))).unwrap();
    let req = PoolGraphRequest {
        network: NetworkType::Private,
        range,
        size: None,
    };
    let img = client.pool_graph(4242, &req).await.expect("pool graph");
    // No size asked: the provider's own size is kept.
    assert_provider_png(&img, "softlayer", 600, 300);
    let params = counters.last_softlayer_params.lock().unwrap().clone();
    assert_eq!(
        params,
        Some(json!([
            "private",
            "specified_range",
            true,
            "03/01/2024",
            "03/09/2024"
        ]))
    );
    // A named range sends no dates, and a size asked for is honoured.
    let req = PoolGraphRequest {
        network: NetworkType::Public,
        range: SnapshotRange::PreviousBillingCycle,
        size: Some((400, 200)),
    };
    let img = client.pool_graph(4242, &req).await.expect("pool graph");
    assert_provider_png(&img, "softlayer", 400, 200);
    let params = counters.last_softlayer_params.lock().unwrap().clone();
    assert_eq!(
        params,
        Some(json!(["public", "previous_billing_cycle", true]))
    );
}

#[tokio::test]
async fn softlayer_bad_key_names_what_to_check_and_hides_the_key() {
    let secret = "wrong-Key-7f3a9c0d";
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let server = sim::spawn(cfg.clone()).await.unwrap();
    let sl = SoftLayerConfig::new(cfg.sl_username.clone(), secret)
        .with_endpoint(server.softlayer_endpoint());
    assert!(!format!("{sl:?}").contains(secret));
    let client = softlayer::Client::new(sl).unwrap();
    let err = client
        .server_graph(1, &server_request(300, 100))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("SL_USERNAME") && msg.contains("SL_API_KEY"),
        "{msg}"
    );
    assert!(msg.contains("Access Denied"), "{msg}");
    assert_no_secret(&err, secret);
    assert_eq!(count(&counters.auth_rejected), 1);
    assert_eq!(count(&counters.images), 0);
}

#[tokio::test]
async fn softlayer_deprecated_method_says_use_raw_data() {
    let cfg = ProviderSimConfig {
        softlayer: SimMode::Deprecated,
        ..Default::default()
    };
    let (_server, client) = softlayer_sim(cfg).await;
    let err = client
        .server_graph(7, &server_request(300, 100))
        .await
        .unwrap_err();
    match &err {
        ProviderError::Deprecated { method, .. } => {
            assert_eq!(
                method,
                "SoftLayer_Metric_Tracking_Object::getBandwidthGraph"
            )
        }
        other => panic!("expected Deprecated, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("no longer offers") && msg.contains("raw"),
        "{msg}"
    );
    let req = PoolGraphRequest {
        network: NetworkType::Public,
        range: SnapshotRange::Day,
        size: None,
    };
    let err = client.pool_graph(7, &req).await.unwrap_err();
    assert!(matches!(err, ProviderError::Deprecated { .. }), "{err:?}");
}

#[tokio::test]
async fn softlayer_broken_answers_are_errors_never_images() {
    for (mode, expect) in [
        (SimMode::CorruptBase64, "not valid base64"),
        (SimMode::HtmlPayload, "HTML page"),
        (SimMode::HtmlPage, "HTML"),
        (SimMode::EmptyBody, "empty body"),
        (SimMode::ErrorInOk, "Internal Error"),
    ] {
        let cfg = ProviderSimConfig {
            softlayer: mode,
            ..Default::default()
        };
        let counters = cfg.counters.clone();
        let (_server, client) = softlayer_sim(cfg).await;
        let err = client
            .server_graph(7, &server_request(300, 100))
            .await
            .expect_err("a broken answer must not give an image");
        assert!(err.to_string().contains(expect), "{mode:?}: {err}");
        assert_eq!(
            count(&counters.images),
            1,
            "{mode:?} reached the graph call"
        );
    }
}

#[tokio::test]
async fn softlayer_other_size_is_resized_to_the_requested_one() {
    let cfg = ProviderSimConfig {
        image_size: Some((320, 90)),
        ..Default::default()
    };
    let (_server, client) = softlayer_sim(cfg).await;
    let img = client
        .server_graph(7, &server_request(827, 273))
        .await
        .expect("graph");
    assert_provider_png(&img, "softlayer", 827, 273);
}

// ---------------------------------------------------------------- CloudWatch

fn network_widget(width: u32, height: u32) -> MetricWidget {
    MetricWidget::network(&NetworkWidget {
        instance_id: "i-0123456789abcdef0".into(),
        start: "2024-03-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        end: "2024-03-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        width,
        height,
        title: Some("web-1 network".into()),
        timezone: Some("+0100".into()),
        period: 300,
    })
}

#[tokio::test]
async fn cloudwatch_widget_image_is_a_decoded_png_of_the_requested_size() {
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let creds = sim_credentials(&cfg);
    let (_server, client) = cloudwatch_sim(cfg, creds).await;
    let img = client
        .metric_widget_image(&network_widget(800, 250))
        .await
        .expect("image");
    assert_provider_png(&img, "cloudwatch", 800, 250);
    assert_eq!(img.title.as_deref(), Some("web-1 network"));
    assert_eq!(count(&counters.cloudwatch_calls), 1);
    assert_eq!(count(&counters.auth_rejected), 0);
    // The widget that reached the server asks for both metrics of the instance.
    let sent = counters.last_metric_widget.lock().unwrap().clone().unwrap();
    let sent: Value = serde_json::from_str(&sent).unwrap();
    let metrics = sent["metrics"].as_array().unwrap();
    for name in ["NetworkIn", "NetworkOut"] {
        assert!(
            metrics.iter().any(|m| m[0] == "AWS/EC2"
                && m[1] == name
                && m[2] == "InstanceId"
                && m[3] == "i-0123456789abcdef0"),
            "{name} missing from {sent}"
        );
    }
    assert_eq!(sent["timezone"], "+0100");
    assert_eq!(
        (sent["width"].as_u64(), sent["height"].as_u64()),
        (Some(800), Some(250))
    );
}

#[tokio::test]
async fn cloudwatch_session_token_is_sent_and_signed() {
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let creds = AwsCredentials::new(
        cfg.aws_access_key_id.clone(),
        cfg.aws_secret_access_key.clone(),
        Some(Secret::new("FwoGZXIvYXdzEXAMPLETOKEN")),
    );
    let (_server, client) = cloudwatch_sim(cfg, creds).await;
    let widget = MetricWidget::from_json(
        r#"{"metrics":[["AWS/EC2","NetworkIn","InstanceId","i-1"]],"width":300,"height":200}"#,
    )
    .unwrap();
    let img = client.metric_widget_image(&widget).await.expect("image");
    assert_provider_png(&img, "cloudwatch", 300, 200);
    assert_eq!(count(&counters.auth_rejected), 0);
}

#[tokio::test]
async fn cloudwatch_widget_from_a_user_file_with_size_override() {
    let dir = crate::util::scratch();
    let path = dir.path().join("widget.json");
    std::fs::write(
        &path,
        r#"{"metrics":[["AWS/EC2","NetworkOut","InstanceId","i-9"]],"width":500,"height":300,"title":"from file"}"#,
    )
    .unwrap();
    let missing = dir.path().join("nope.json");
    let err = MetricWidget::from_file(&missing).unwrap_err();
    assert!(err.to_string().contains("nope.json"), "{err}");

    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let creds = sim_credentials(&cfg);
    let (_server, client) = cloudwatch_sim(cfg, creds).await;
    let widget = MetricWidget::from_file(&path).unwrap().with_size(320, 160);
    let img = client.metric_widget_image(&widget).await.expect("image");
    assert_provider_png(&img, "cloudwatch", 320, 160);
    assert_eq!(img.title.as_deref(), Some("from file"));
    let sent = counters.last_metric_widget.lock().unwrap().clone().unwrap();
    let sent: Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(sent["metrics"][0][1], "NetworkOut");
    assert_eq!(
        (sent["width"].as_u64(), sent["height"].as_u64()),
        (Some(320), Some(160))
    );
}

#[tokio::test]
async fn cloudwatch_wrong_secret_names_what_to_check_and_hides_it() {
    let secret = "Wrong/Secret+Key9x";
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let creds = AwsCredentials::new(cfg.aws_access_key_id.clone(), secret, None);
    assert!(!format!("{creds:?}").contains(secret));
    let (_server, client) = cloudwatch_sim(cfg, creds).await;
    let err = client
        .metric_widget_image(&network_widget(600, 400))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("SignatureDoesNotMatch"), "{msg}");
    assert!(msg.contains("AWS_SECRET_ACCESS_KEY"), "{msg}");
    assert_no_secret(&err, secret);
    assert_eq!(count(&counters.auth_rejected), 1);
    assert_eq!(count(&counters.images), 0);
}

#[tokio::test]
async fn cloudwatch_unknown_key_id_is_a_credentials_error() {
    let cfg = ProviderSimConfig::default();
    let creds = AwsCredentials::new("AKIDUNKNOWN", cfg.aws_secret_access_key.clone(), None);
    let (_server, client) = cloudwatch_sim(cfg, creds).await;
    let err = client
        .metric_widget_image(&network_widget(600, 400))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("InvalidClientTokenId") && msg.contains("AWS_ACCESS_KEY_ID"),
        "{msg}"
    );
}

#[tokio::test]
async fn cloudwatch_unsigned_request_gets_aws_style_403() {
    let server = sim::spawn(ProviderSimConfig::default()).await.unwrap();
    let url = server.cloudwatch_endpoint();
    let resp = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=GetMetricWidgetImage&Version=2010-08-01&MetricWidget=%7B%7D")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    let body = resp.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with("<ErrorResponse"), "{text}");
    // The client maps it to a credentials error.
    let err = cloudwatch::interpret(&url, 403, &ct, &body).unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    assert!(
        err.to_string().contains("MissingAuthenticationToken"),
        "{err}"
    );
}

#[tokio::test]
async fn cloudwatch_broken_answers_are_errors_never_images() {
    for (mode, expect) in [
        (SimMode::CorruptBase64, "not valid base64"),
        (SimMode::HtmlPayload, "HTML page"),
        (SimMode::HtmlPage, "HTML page"),
        (SimMode::EmptyBody, "empty body"),
    ] {
        let cfg = ProviderSimConfig {
            cloudwatch: mode,
            ..Default::default()
        };
        let creds = sim_credentials(&cfg);
        let (_server, client) = cloudwatch_sim(cfg, creds).await;
        let err = client
            .metric_widget_image(&network_widget(600, 400))
            .await
            .expect_err("a broken answer must not give an image");
        assert!(err.to_string().contains(expect), "{mode:?}: {err}");
    }
}

#[tokio::test]
async fn cloudwatch_other_size_is_resized_to_the_requested_one() {
    let cfg = ProviderSimConfig {
        image_size: Some((150, 400)),
        ..Default::default()
    };
    let creds = sim_credentials(&cfg);
    let (_server, client) = cloudwatch_sim(cfg, creds).await;
    let img = client
        .metric_widget_image(&network_widget(640, 320))
        .await
        .expect("image");
    assert_provider_png(&img, "cloudwatch", 640, 320);
}

#[tokio::test]
async fn cloudwatch_limits_are_enforced_before_sending() {
    let cfg = ProviderSimConfig::default();
    let counters = cfg.counters.clone();
    let creds = sim_credentials(&cfg);
    let (_server, client) = cloudwatch_sim(cfg, creds).await;
    let many: Vec<Value> = (0..101)
        .map(|i| json!(["AWS/EC2", "NetworkIn", "InstanceId", format!("i-{i}")]))
        .collect();
    let too_many = MetricWidget::from_json(&json!({ "metrics": many }).to_string()).unwrap();
    let too_wide = network_widget(2001, 400);
    let too_big = MetricWidget::from_json(
        &json!({"metrics": [["AWS/EC2", "NetworkIn"]], "title": "x".repeat(110_000)}).to_string(),
    )
    .unwrap();
    for (widget, expect) in [
        (too_many, "at most 100"),
        (too_wide, "out of range"),
        (too_big, "bytes"),
    ] {
        let err = client.metric_widget_image(&widget).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::InvalidRequest { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(expect), "{err}");
    }
    assert_eq!(count(&counters.cloudwatch_calls), 0);
}

// ---------------------------------------------------------------- SigV4

fn at_20150830t123600z() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160)
}

/// AWS's published `get-vanilla` test vector (aws-sig-v4-test-suite).
#[test]
fn sigv4_matches_the_published_get_vanilla_vector() {
    let creds = AwsCredentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
    );
    let headers = cloudwatch::sign_headers(
        "GET",
        "https://example.amazonaws.com/",
        &[("host", "example.amazonaws.com")],
        b"",
        &creds,
        "us-east-1",
        "service",
        at_20150830t123600z(),
    )
    .unwrap();
    let get = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("x-amz-date"), Some("20150830T123600Z"));
    assert_eq!(
        get("authorization"),
        Some(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
    );
}

/// Our POST, signed by the crate, against SigV4 computed step by step with hmac/sha2.
#[test]
fn sigv4_post_matches_an_independent_computation() {
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::{Digest, Sha256};

    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    }
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let body =
        "Action=GetMetricWidgetImage&Version=2010-08-01&MetricWidget=%7B%7D&OutputFormat=png";
    let ct = "application/x-www-form-urlencoded; charset=utf-8";
    let host = "monitoring.us-east-1.amazonaws.com";

    let canonical = format!(
        "POST\n/\n\ncontent-type:{ct}\nhost:{host}\nx-amz-date:20150830T123600Z\n\n\
         content-type;host;x-amz-date\n{}",
        hex::encode(Sha256::digest(body.as_bytes()))
    );
    let scope = "20150830/us-east-1/monitoring/aws4_request";
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n20150830T123600Z\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), "20150830");
    let k_region = hmac(&k_date, "us-east-1");
    let k_service = hmac(&k_region, "monitoring");
    let k_signing = hmac(&k_service, "aws4_request");
    let signature = hex::encode(hmac(&k_signing, &to_sign));

    let creds = AwsCredentials::new("AKIDEXAMPLE", secret, None);
    let headers = cloudwatch::sign_headers(
        "POST",
        &format!("https://{host}/"),
        &[("content-type", ct), ("host", host)],
        body.as_bytes(),
        &creds,
        "us-east-1",
        cloudwatch::SERVICE,
        at_20150830t123600z(),
    )
    .unwrap();
    let auth = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(
        auth,
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{scope}, \
             SignedHeaders=content-type;host;x-amz-date, Signature={signature}"
        )
    );
}

// ---------------------------------------------------------------- Simulator mounting

/// The lead mounts this router inside the main simulator: nested under a prefix, both
/// providers must still work (CloudWatch's signature covers the full path).
#[tokio::test]
async fn sim_router_works_nested_under_a_prefix() {
    let cfg = ProviderSimConfig::default();
    let app = axum::Router::new().nest("/providers", sim::router(cfg.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let sl = SoftLayerConfig::new(cfg.sl_username.clone(), cfg.sl_api_key.clone())
        .with_endpoint(format!("http://{addr}/providers/rest/v3.1/"));
    let img = softlayer::Client::new(sl)
        .unwrap()
        .server_graph(5, &server_request(200, 100))
        .await
        .expect("softlayer through the prefix");
    assert_provider_png(&img, "softlayer", 200, 100);

    let cw = CloudWatchConfig::new("us-east-1", sim_credentials(&cfg))
        .with_endpoint(format!("http://{addr}/providers"));
    let img = cloudwatch::Client::new(cw)
        .unwrap()
        .metric_widget_image(&network_widget(200, 100))
        .await
        .expect("cloudwatch through the prefix");
    assert_provider_png(&img, "cloudwatch", 200, 100);
    assert_eq!(count(&cfg.counters.auth_rejected), 0);
    task.abort();
}

#[tokio::test]
async fn unreachable_endpoint_is_a_transport_error_naming_the_url() {
    // A port that was just free: nothing listens there any more.
    let base = crate::util::closed_port_base();
    let secret = "unreachable-Key-31337";
    let sl = SoftLayerConfig::new("someone", secret).with_endpoint(format!("{base}/rest/v3.1"));
    let err = softlayer::Client::new(sl)
        .unwrap()
        .server_graph(1, &server_request(100, 100))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Transport { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{base}/rest/v3.1/SoftLayer_Hardware_Server/1/")),
        "{msg}"
    );
    assert!(msg.contains("check the endpoint"), "{msg}");
    assert_no_secret(&err, secret);
}
