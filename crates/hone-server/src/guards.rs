//! Request guards applied to every route, as MLflow's security middleware does: a `Host`
//! allow-list (DNS rebinding), `Content-Type: application/json` on requests with a body (a
//! cross-site `text/plain` form POST is refused: CSRF; artifact `PUT` uploads are exempt, as
//! in MLflow: their body is the file, and a cross-site `PUT` is never a "simple" request, so a
//! browser sends it only after a CORS preflight this server does not answer), and `X-Content-Type-Options: nosniff`
//! and `X-Frame-Options: SAMEORIGIN` on every response. The body size limit is a layer of its
//! own ([`crate::MAX_BODY_BYTES`]).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

/// The host names every server accepts in `Host` (with any port), besides the bound one.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// The host part of a `Host` header (`name`, `1.2.3.4`, `[::1]`), lower-cased, without its
/// port; `None` when it is malformed.
fn host_part(value: &str) -> Option<String> {
    let (host, port) = if value.starts_with('[') {
        let end = value.find(']')?;
        let (host, rest) = value.split_at(end + 1);
        let port = if rest.is_empty() {
            rest
        } else {
            rest.strip_prefix(':')?
        };
        (host, port)
    } else {
        value.split_once(':').unwrap_or((value, ""))
    };
    if host.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

/// The name of a bound host as a `Host` header carries it (`::1` → `[::1]`).
pub fn host_name(bound: &str) -> String {
    if bound.contains(':') && !bound.starts_with('[') {
        format!("[{}]", bound.to_ascii_lowercase())
    } else {
        bound.to_ascii_lowercase()
    }
}

fn json_content_type(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// A `PUT` to the `mlflow-artifacts` proxy (raw bytes, exempt from the JSON rule).
fn artifact_upload(req: &Request) -> bool {
    *req.method() == Method::PUT
        && crate::artifacts::PREFIXES.iter().any(|p| {
            req.uri()
                .path()
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
        })
}

fn has_body(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

fn secure(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    response
}

/// The middleware: refuses a request whose `Host` is not allowed (403, plain text, as
/// MLflow), whose declared `Content-Length` is over the limit (413, before reading the body)
/// or whose body is not declared JSON (400 `INVALID_PARAMETER_VALUE`), and adds the security
/// headers to every response.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let allowed = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(host_part)
        .is_some_and(|h| state.allowed_hosts.contains(&h));
    if !allowed {
        return secure(
            (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "Invalid Host header - possible DNS rebinding attack detected",
            )
                .into_response(),
        );
    }
    let writes = matches!(
        *req.method(),
        Method::POST | Method::PATCH | Method::DELETE | Method::PUT
    );
    // A declared length over the limit is refused before a byte of the body is read (axum's
    // limit, which also covers chunked bodies, only stops reading once it is reached).
    let limit = if artifact_upload(&req) {
        crate::MAX_ARTIFACT_BYTES
    } else {
        crate::MAX_BODY_BYTES
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return secure(
            ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "INVALID_PARAMETER_VALUE",
                message: format!("the request body is larger than {limit} bytes"),
            }
            .into_response(),
        );
    }
    if writes && has_body(&req) && !json_content_type(&req) && !artifact_upload(&req) {
        return secure(
            ApiError::invalid("Bad Request. Content-Type must be one of ['application/json']")
                .into_response(),
        );
    }
    secure(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_headers_are_split_from_their_port() {
        assert_eq!(host_part("localhost:5000").as_deref(), Some("localhost"));
        assert_eq!(host_part("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_part("[::1]:80").as_deref(), Some("[::1]"));
        assert_eq!(host_part("LocalHost").as_deref(), Some("localhost"));
        assert_eq!(host_part("evil.com:80:80"), None);
        assert_eq!(host_part("[::1]x"), None);
        assert_eq!(host_part(":80"), None);
        assert_eq!(host_name("::1"), "[::1]");
    }
}
