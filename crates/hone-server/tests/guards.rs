//! The request guards: Host allow-list, JSON Content-Type on bodies, body size limit, and the
//! security headers on every response (errors and refusals included).

mod common;

use common::TestServer;

const CREATE: &str = "/api/2.0/mlflow/experiments/create";

fn assert_secure(r: &common::Response) {
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{r:?}");
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"), "{r:?}");
}

#[test]
fn every_response_carries_the_security_headers() {
    let s = TestServer::start();
    assert_secure(&s.get("/health"));
    assert_secure(&s.get("/api/2.0/mlflow/experiments/get?experiment_id=9"));
    assert_secure(&s.get("/no/such/route"));
    assert_secure(&s.send("GET", "/health", &[("Host", "evil.example")], None));
}

#[test]
fn only_loopback_host_names_are_served() {
    let s = TestServer::start();
    let port = s.addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LOCALHOST".to_string(),
        "[::1]:5000".to_string(),
        "127.0.0.1".to_string(),
    ] {
        let r = s.send("GET", "/health", &[("Host", &host)], None);
        assert_eq!(r.status, 200, "{host}: {r:?}");
    }
    for host in [
        "evil.example",
        "evil.example:5000",
        "127.0.0.1.evil.example",
        "localhost:80:80",
        "[::2]:80",
    ] {
        let r = s.send("GET", "/health", &[("Host", host)], None);
        assert_eq!(r.status, 403, "{host}: {r:?}");
        assert_eq!(
            r.body,
            "Invalid Host header - possible DNS rebinding attack detected"
        );
    }
    // No Host header at all (HTTP/1.1 requires one).
    let mut stream = std::net::TcpStream::connect(s.addr).unwrap();
    use std::io::{Read, Write};
    stream.write_all(b"GET /health HTTP/1.0\r\n\r\n").unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    assert!(
        raw.starts_with("HTTP/1.0 403") || raw.starts_with("HTTP/1.1 403"),
        "{raw}"
    );
}

#[test]
fn a_body_must_be_declared_json() {
    let s = TestServer::start();
    let body = br#"{"name": "csrf"}"#;
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("Content-Type", c)).into_iter().collect();
        let r = s.send("POST", CREATE, &headers, Some(body));
        r.assert_error(400, "INVALID_PARAMETER_VALUE");
        assert_eq!(
            r.json()["message"],
            "Bad Request. Content-Type must be one of ['application/json']"
        );
        assert_secure(&r);
    }
    // Parameters such as a charset are fine, and so is any case.
    let r = s.send(
        "POST",
        CREATE,
        &[("Content-Type", "Application/JSON; charset=utf-8")],
        Some(body),
    );
    assert_eq!(r.status, 200, "{r:?}");
    // Nothing was created by the refused requests.
    let got = s
        .get("/api/2.0/mlflow/experiments/search?max_results=10")
        .json();
    assert_eq!(got["experiments"].as_array().unwrap().len(), 1);
}

#[test]
fn bodies_over_the_limit_are_refused() {
    let s = TestServer::start();
    let mut big = br#"{"name": ""#.to_vec();
    big.resize(hone_server::MAX_BODY_BYTES + 1024, b'a');
    big.extend_from_slice(br#""}"#);
    let r = s.send(
        "POST",
        CREATE,
        &[("Content-Type", "application/json")],
        Some(&big),
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert_secure(&r);
    // A chunked body (no Content-Length) is cut off at the limit while it is read.
    let mut chunked = format!("{:x}\r\n", big.len()).into_bytes();
    chunked.extend_from_slice(&big);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let r = s.send_raw_body(
        "POST",
        CREATE,
        &[
            ("Content-Type", "application/json"),
            ("Transfer-Encoding", "chunked"),
        ],
        &chunked,
    );
    assert_eq!(r.status, 413, "{}", r.body);
}
