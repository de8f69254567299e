//! Keep-alive connections stay usable: a handler that answers without needing its request's
//! body still reads it, so that the server never closes a connection the client will reuse
//! (the MLflow client pools connections; a silent close is `RemoteDisconnected` on its next
//! request).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::TestServer;

/// Reads one response (head and a `Content-Length` body) from `r`: (status line, body).
fn read_response(r: &mut BufReader<TcpStream>) -> Option<(String, String)> {
    let mut status = String::new();
    if r.read_line(&mut status).ok()? == 0 {
        return None;
    }
    let mut length = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    Some((status.trim_end().to_string(), String::from_utf8(body).ok()?))
}

#[test]
fn a_connection_is_reused_after_logged_models_search_with_a_late_body() {
    let s = TestServer::start();
    let stream = TcpStream::connect(s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let body = r#"{"experiment_ids": ["1"], "filter": "name = 'm'"}"#;
    // The head first, the body a little later (as over a slow link).
    write!(
        w,
        "POST /api/2.0/mlflow/logged-models/search HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        s.addr,
        body.len()
    )
    .unwrap();
    w.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    w.write_all(body.as_bytes()).unwrap();
    let (status, answer) = read_response(&mut r).expect("a first response");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(answer, "{}");
    // The same connection serves the next request.
    write!(w, "GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).unwrap();
    let (status, answer) =
        read_response(&mut r).expect("the connection was closed after the first response");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(answer, "OK");
}
