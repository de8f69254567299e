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

/// A `PUT` to the `mlflow-artifacts` proxy or of a hone blob (raw bytes, exempt from the JSON
/// rule).
pub fn is_artifact_upload(req: &Request) -> bool {
    *req.method() == Method::PUT
        && (req.uri().path() == "/api/2.0/hone/blobs"
            || crate::artifacts::PREFIXES.iter().any(|p| {
                req.uri()
                    .path()
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('/'))
            }))
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
        .is_some_and(|h| {
            state.allowed_hosts.contains(&h)
                || (state.any_ip_host
                    && h.trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok())
        });
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
    if let Some(refused) = cross_origin(&state, &req) {
        return secure(refused);
    }
    let origin = allowed_origin(&state, &req);
    let writes = matches!(
        *req.method(),
        Method::POST | Method::PATCH | Method::DELETE | Method::PUT
    );
    // A declared length over the limit is refused before a byte of the body is read (axum's
    // limit, which also covers chunked bodies, only stops reading once it is reached).
    let limit = if is_artifact_upload(&req) {
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
    if writes
        && has_body(&req)
        && !json_content_type(&req)
        && !is_artifact_upload(&req)
        && !is_dashboard_form(&req)
    {
        return secure(
            ApiError::invalid("Bad Request. Content-Type must be one of ['application/json']")
                .into_response(),
        );
    }
    let mut response = next.run(req).await;
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    secure(response)
}

/// The methods and request headers a preflight from an allowed origin is told it may use.
const CORS_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const CORS_HEADERS: &str = "Authorization, Content-Type";

/// Whether a request posts one of the dashboard's forms (sign-in, sign-out, promote,
/// rollback) as a browser does, URL-encoded: those check a CSRF token and the origin
/// themselves (`crate::web`), and no other route takes a form.
fn is_dashboard_form(req: &Request) -> bool {
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let path = req.uri().path();
    let segments: Vec<&str> = path.split('/').collect();
    form && *req.method() == Method::POST
        && (path == "/login"
            || path == "/logout"
            || matches!(segments.as_slice(), ["", "models", _, "rollback"])
            || matches!(
                segments.as_slice(),
                ["", "models", _, "versions", _, "promote"]
            ))
}

/// Whether an `Origin` is the server's own (scheme `http` or `https`, and the same host and
/// port as the request's `Host`, which the allow-list has already vetted).
fn same_origin(origin: &str, req: &Request) -> bool {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((authority, host), (Some(a), Some(h)) if a == h)
}

/// The request's `Origin`, lower-cased, when it has one.
fn origin_of(req: &Request) -> Option<Result<String, ()>> {
    req.headers().get(header::ORIGIN).map(|v| {
        v.to_str()
            .map(|s| s.trim().trim_end_matches('/').to_ascii_lowercase())
            .map_err(|_| ())
    })
}

/// The `Access-Control-Allow-Origin` value for a request from an allow-listed origin (not
/// for same-origin requests, which need none).
fn allowed_origin(state: &AppState, req: &Request) -> Option<HeaderValue> {
    let origin = origin_of(req)?.ok()?;
    if state.allowed_origins.contains(&origin) && !same_origin(&origin, req) {
        HeaderValue::from_str(&origin).ok()
    } else {
        None
    }
}

/// Refuses (403) a request whose `Origin` is neither the server's own nor allow-listed,
/// before any handler runs; answers the CORS preflight (`OPTIONS` with
/// `Access-Control-Request-Method`) of an allow-listed origin. `None`: go on.
fn cross_origin(state: &AppState, req: &Request) -> Option<Response> {
    let origin = origin_of(req)?;
    let allowed = origin
        .as_ref()
        .is_ok_and(|o| same_origin(o, req) || state.allowed_origins.contains(o));
    if !allowed {
        return Some(
            (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "Cross-origin request blocked",
            )
                .into_response(),
        );
    }
    let preflight = *req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if !preflight {
        return None;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    if let Some(Ok(o)) = origin_of(req)
        && let Ok(v) = HeaderValue::from_str(&o)
    {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(CORS_METHODS),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(CORS_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    Some(r)
}

/// An origin as `--allow-origin` takes it: `scheme://host[:port]`, lower-cased, without a
/// trailing `/`; `None` when it is not one (a path, a wildcard, `null`).
pub fn normalize_origin(origin: &str) -> Option<String> {
    let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = o
        .strip_prefix("http://")
        .or_else(|| o.strip_prefix("https://"))?;
    if rest.is_empty() || rest.contains(['/', '*', '?', '#', '@', ' ']) || host_part(rest).is_none()
    {
        return None;
    }
    Some(o)
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
