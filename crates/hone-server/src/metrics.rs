//! Prometheus metrics, served at `GET /metrics` in the text exposition format 0.0.4.
//!
//! A small hand-written registry (a mutex-guarded map per family, an atomic gauge) rather
//! than a metrics crate: the server has four fixed families, and no dependency (nor its
//! build time) is needed for them (ARCHITECTURE.md, dependency table).
//!
//! - `hone_http_requests_total{route,method,status}` (counter);
//! - `hone_http_request_duration_seconds{route,method}` (histogram);
//! - `hone_store_call_duration_seconds{op}` (histogram of the blocking store calls);
//! - `hone_http_requests_in_flight` (gauge; the proxy for the writer queue's depth);
//! - the job queue's, read from the store at each scrape ([`render_queue`]): `hone_jobs{state}`,
//!   `hone_jobs_oldest_queued_seconds`, `hone_workers_live`, `hone_job_claim_latency_seconds`.
//!
//! Labels never carry client text: `route` is the matched route template (axum's
//! `MatchedPath`, `unmatched` for a request no route matched), `method` one of the standard
//! methods or `other`, `status` the numeric status, and `op` a fixed name chosen in the code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// The upper bounds (seconds) of the duration histograms' buckets (`+Inf` added).
pub const DURATION_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The `route` label of a request no route matched (a 404 from the fallback).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The `Content-Type` of `GET /metrics`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One histogram's buckets (non-cumulative counts; made cumulative when rendered), sum and
/// count.
#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: [u64; DURATION_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = DURATION_BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// The server's metrics (shared by every request through [`AppState`]).
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
    request_durations: Mutex<BTreeMap<(String, &'static str), Histogram>>,
    store_calls: Mutex<BTreeMap<&'static str, Histogram>>,
    in_flight: AtomicI64,
}

/// The `method` label: a standard method's name, `other` for anything else (client text).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// A label value escaped as the exposition format wants (`\\`, `\"`, `\n`).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Locks a family's map; a poisoned lock (a panic while it was held) still gives the data.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn render_histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0;
    for (bound, n) in DURATION_BUCKETS.iter().zip(h.buckets) {
        cumulative += n;
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
        );
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
}

impl Metrics {
    /// Counts one finished request and its duration.
    pub fn observe_request(&self, route: &str, method: &Method, status: u16, seconds: f64) {
        let method = method_label(method);
        *lock(&self.requests)
            .entry((route.to_string(), method, status))
            .or_default() += 1;
        lock(&self.request_durations)
            .entry((route.to_string(), method))
            .or_default()
            .observe(seconds);
    }

    /// Records one blocking store call's duration under `op`.
    pub fn observe_store_call(&self, op: &'static str, seconds: f64) {
        lock(&self.store_calls)
            .entry(op)
            .or_default()
            .observe(seconds);
    }

    /// The requests being served now.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The text exposition (format 0.0.4) of every family.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP hone_http_requests_total HTTP requests served, by matched route template, \
             method and status.\n# TYPE hone_http_requests_total counter\n",
        );
        for ((route, method, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "hone_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP hone_http_request_duration_seconds Time to serve an HTTP request (until its \
             response head), by matched route template and method.\n\
             # TYPE hone_http_request_duration_seconds histogram\n",
        );
        for ((route, method), h) in lock(&self.request_durations).iter() {
            let labels = format!("route=\"{}\",method=\"{method}\"", escape(route));
            render_histogram(&mut out, "hone_http_request_duration_seconds", &labels, h);
        }
        out.push_str(
            "# HELP hone_store_call_duration_seconds Time of one blocking store call (on \
             tokio's blocking pool, waiting for the store's lock included), by operation.\n\
             # TYPE hone_store_call_duration_seconds histogram\n",
        );
        for (op, h) in lock(&self.store_calls).iter() {
            let labels = format!("op=\"{}\"", escape(op));
            render_histogram(&mut out, "hone_store_call_duration_seconds", &labels, h);
        }
        let _ = write!(
            out,
            "# HELP hone_http_requests_in_flight HTTP requests being served now (the proxy for \
             the store writer's queue depth: every request waiting on the store is in flight).\n\
             # TYPE hone_http_requests_in_flight gauge\nhone_http_requests_in_flight {}\n",
            self.in_flight()
        );
        out
    }
}

/// Decrements the in-flight gauge when dropped (also when the request's future is dropped).
struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The middleware: counts every request (guard refusals and 404s included) under its
/// matched route template, times it, and logs one line for it (target `hone_server::request`:
/// method, route template, status, latency in ms; never the path, query, headers or body).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ROUTE.to_string(), |p| p.as_str().to_string());
    let method = req.method().clone();
    let metrics = &state.metrics;
    metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight(&metrics.in_flight);
    let start = Instant::now();
    let response = next.run(req).await;
    let seconds = start.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    metrics.observe_request(&route, &method, status, seconds);
    tracing::info!(
        target: "hone_server::request",
        method = method_label(&method),
        route = route.as_str(),
        status,
        latency_ms = (seconds * 1e6).round() / 1e3,
        "request"
    );
    response
}

/// `GET /metrics`: the exposition of [`Metrics`].
pub async fn serve_metrics(State(state): State<AppState>) -> Response {
    let mut text = state.metrics.render();
    if let Some(queue) = state.queue.clone() {
        // Two small reads on the blocking pool; a store that fails leaves the families out
        // rather than failing the scrape of everything else.
        let read = tokio::task::spawn_blocking(move || {
            Some((
                queue.queue_stats().ok()?,
                queue.claim_latencies(LATENCY_WINDOW).ok()?,
            ))
        })
        .await;
        if let Ok(Some((stats, waits))) = read {
            text.push_str(&render_queue(&stats, &waits));
        }
    }
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// Claim latency is summarised over this many most recently claimed jobs.
pub const LATENCY_WINDOW: usize = 1000;

/// The job queue's families: `hone_jobs{state}` (gauge: jobs per state, so
/// `hone_jobs{state="queued"}` is the queue depth), `hone_jobs_oldest_queued_seconds`,
/// `hone_workers_live`, and `hone_job_claim_latency_seconds` (a summary of how long the last
/// [`LATENCY_WINDOW`] claimed jobs waited from queued to claimed: quantiles 0.5, 0.9, 0.99,
/// sum and count).
pub fn render_queue(stats: &hone_track::queue::QueueStats, waits_ms: &[i64]) -> String {
    let mut out = String::new();
    out.push_str(
        "# HELP hone_jobs Jobs in the queue's store, by state (state=\"queued\": the queue's \
         depth).\n# TYPE hone_jobs gauge\n",
    );
    for (state, n) in &stats.by_state {
        let _ = writeln!(
            out,
            "hone_jobs{{state=\"{}\"}} {n}",
            state.as_str().to_lowercase()
        );
    }
    let _ = write!(
        out,
        "# HELP hone_jobs_oldest_queued_seconds Age of the oldest queued job (0 when none).\n\
         # TYPE hone_jobs_oldest_queued_seconds gauge\nhone_jobs_oldest_queued_seconds {}\n\
         # HELP hone_workers_live Workers heard from within a minute.\n\
         # TYPE hone_workers_live gauge\nhone_workers_live {}\n",
        stats.oldest_queued_ms.unwrap_or(0) as f64 / 1000.0,
        stats.live_workers
    );
    let _ = writeln!(
        out,
        "# HELP hone_job_claim_latency_seconds Time jobs waited from queued to claimed, over \
         the last {LATENCY_WINDOW} claimed.\n# TYPE hone_job_claim_latency_seconds summary"
    );
    let mut sorted: Vec<f64> = waits_ms.iter().map(|ms| *ms as f64 / 1000.0).collect();
    sorted.sort_by(f64::total_cmp);
    for q in [0.5, 0.9, 0.99] {
        // Nearest rank: the smallest wait at or above the quantile's share of jobs.
        let v = if sorted.is_empty() {
            f64::NAN
        } else {
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[rank - 1]
        };
        let _ = writeln!(
            out,
            "hone_job_claim_latency_seconds{{quantile=\"{q}\"}} {}",
            if v.is_nan() {
                "NaN".to_string()
            } else {
                v.to_string()
            }
        );
    }
    let _ = writeln!(
        out,
        "hone_job_claim_latency_seconds_sum {}\nhone_job_claim_latency_seconds_count {}",
        sorted.iter().sum::<f64>(),
        sorted.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_families_render_depth_and_latency() {
        let stats = hone_track::queue::QueueStats {
            by_state: vec![
                (hone_track::JobState::Queued, 3),
                (hone_track::JobState::Running, 1),
            ],
            oldest_queued_ms: Some(2500),
            live_workers: 2,
        };
        let text = render_queue(&stats, &[4000, 1000, 2000, 3000]);
        assert!(text.contains("hone_jobs{state=\"queued\"} 3\n"), "{text}");
        assert!(text.contains("hone_jobs{state=\"running\"} 1\n"));
        assert!(text.contains("hone_jobs_oldest_queued_seconds 2.5\n"));
        assert!(text.contains("hone_workers_live 2\n"));
        assert!(
            text.contains("hone_job_claim_latency_seconds{quantile=\"0.5\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("hone_job_claim_latency_seconds{quantile=\"0.99\"} 4\n"));
        assert!(text.contains("hone_job_claim_latency_seconds_sum 10\n"));
        assert!(text.contains("hone_job_claim_latency_seconds_count 4\n"));
        let empty = render_queue(&hone_track::queue::QueueStats::default(), &[]);
        assert!(empty.contains("quantile=\"0.5\"} NaN"), "{empty}");
    }

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.observe_request("/a\"b", &Method::GET, 200, 0.0001);
        m.observe_request("/a\"b", &Method::GET, 200, 0.3);
        m.observe_request(
            "/x",
            &Method::from_bytes(b"BREW").expect("method"),
            404,
            9.0,
        );
        m.observe_store_call("runs.get", 0.002);
        let text = m.render();
        assert!(text.contains(
            "hone_http_requests_total{route=\"/a\\\"b\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(text.contains("method=\"other\",status=\"404\"} 1"));
        assert!(text.contains(
            "hone_http_request_duration_seconds_bucket{route=\"/a\\\"b\",method=\"GET\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains(
            "hone_http_request_duration_seconds_bucket{route=\"/a\\\"b\",method=\"GET\",le=\"0.25\"} 1"
        ));
        assert!(text.contains(
            "hone_http_request_duration_seconds_bucket{route=\"/a\\\"b\",method=\"GET\",le=\"0.5\"} 2"
        ));
        assert!(text.contains(
            "hone_http_request_duration_seconds_bucket{route=\"/x\",method=\"other\",le=\"5\"} 0"
        ));
        assert!(text.contains(
            "hone_http_request_duration_seconds_bucket{route=\"/x\",method=\"other\",le=\"+Inf\"} 1"
        ));
        assert!(text.contains("hone_store_call_duration_seconds_count{op=\"runs.get\"} 1"));
        assert!(text.contains("hone_http_requests_in_flight 0"));
    }
}
