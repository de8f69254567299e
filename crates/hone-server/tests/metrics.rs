//! `GET /metrics`: Prometheus' text exposition, counts by matched route template (never the
//! raw path), histograms of requests and store calls, the in-flight gauge.

mod common;

use std::collections::HashMap;

use common::TestServer;
use serde_json::json;

/// Parses the exposition: every line is a comment or `name{labels} value` (or `name value`);
/// returns the samples by their `name{labels}` text.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "unclosed labels in {line:?}");
            let labels = &series[name_end + 1..series.len() - 1];
            for pair in labels.split("\",") {
                let (k, v) = pair
                    .split_once("=\"")
                    .unwrap_or_else(|| panic!("bad label {pair:?} in {line:?}"));
                assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                assert!(!v.contains('\n'));
            }
        }
        let value: f64 = if value == "+Inf" {
            f64::INFINITY
        } else {
            value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}"))
        };
        samples.insert(series.to_string(), value);
    }
    samples
}

#[test]
fn metrics_count_requests_by_route_template_and_time_store_calls() {
    let s = TestServer::start();
    for _ in 0..3 {
        assert_eq!(s.get("/health").status, 200);
    }
    let (exp, run) = s.new_run("m");
    for i in 0..2 {
        let r = s.api(
            "runs/log-metric",
            json!({"run_id": run, "key": "loss", "value": 1.0, "timestamp": 1, "step": i}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let got = s.get(&format!("/api/2.0/mlflow/runs/get?run_id={run}"));
    assert_eq!(got.status, 200);
    // Two unknown paths, a client's text in each: counted under `unmatched`.
    assert_eq!(s.get("/secret-token-abc/xyz").status, 404);
    assert_eq!(s.get("/another/unknown?q=1").status, 404);
    // An artifact download: the route template, not the artifact's path.
    let art = s.get(&format!(
        "/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/private-name.txt"
    ));
    assert_ne!(art.status, 0);

    let m = s.get("/metrics");
    assert_eq!(m.status, 200);
    assert_eq!(
        m.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(!m.body.contains("secret-token-abc"), "{}", m.body);
    assert!(!m.body.contains("private-name"), "{}", m.body);
    assert!(!m.body.contains(&run), "{}", m.body);
    let samples = parse(&m.body);
    let count = |series: &str| {
        *samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in\n{}", m.body))
    };
    assert_eq!(
        count(r#"hone_http_requests_total{route="/health",method="GET",status="200"}"#),
        3.0
    );
    assert_eq!(
        count(
            r#"hone_http_requests_total{route="/api/2.0/mlflow/runs/log-metric",method="POST",status="200"}"#
        ),
        2.0
    );
    assert_eq!(
        count(
            r#"hone_http_requests_total{route="/api/2.0/mlflow/runs/get",method="GET",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        count(r#"hone_http_requests_total{route="unmatched",method="GET",status="404"}"#),
        2.0
    );
    assert!(
        samples.keys().any(|k| k.starts_with(
            r#"hone_http_requests_total{route="/api/2.0/mlflow-artifacts/artifacts/{*path}",method="GET""#
        )),
        "{}",
        m.body
    );
    // Histograms: +Inf bucket = count, buckets cumulative.
    assert_eq!(
        count(
            r#"hone_http_request_duration_seconds_bucket{route="/health",method="GET",le="+Inf"}"#
        ),
        3.0
    );
    assert_eq!(
        count(r#"hone_http_request_duration_seconds_count{route="/health",method="GET"}"#),
        3.0
    );
    assert!(
        count(
            r#"hone_http_request_duration_seconds_bucket{route="/health",method="GET",le="0.5"}"#
        ) >= count(
            r#"hone_http_request_duration_seconds_bucket{route="/health",method="GET",le="0.0005"}"#
        )
    );
    assert_eq!(
        count(r#"hone_store_call_duration_seconds_count{op="runs.log_metric"}"#),
        2.0
    );
    assert_eq!(
        count(r#"hone_store_call_duration_seconds_count{op="runs.get"}"#),
        1.0
    );
    // The scrape itself is in flight while it renders.
    assert_eq!(count("hone_http_requests_in_flight"), 1.0);
    assert!(m.body.contains("# TYPE hone_http_requests_in_flight gauge"));
    assert!(m.body.contains("writer queue depth") || m.body.contains("queue depth"));

    // The first scrape is counted by the second.
    let again = parse(&s.get("/metrics").body);
    assert_eq!(
        again[r#"hone_http_requests_total{route="/metrics",method="GET",status="200"}"#],
        1.0
    );
}
