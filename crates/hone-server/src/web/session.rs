//! Signing in to the dashboard and protecting its forms.
//!
//! With `--auth`, a browser without credentials is sent to `/login`; a good user name and
//! password there start a session (`crate::auth::Auth::start_session`) held in a cookie that
//! is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends it) and
//! `Path=/`, for [`crate::auth::SESSION_TTL`]. The session counts only for the dashboard's
//! pages and forms, never for the API. Every form that changes something (promote, rollback,
//! sign out) carries a CSRF token bound to the user and to this server process's random
//! secret, and its POST must come from this server's own origin when the browser says where it
//! comes from.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

use super::{error_page, render};
use crate::AppState;
use crate::auth::{SESSION_COOKIE, SESSION_TTL, check_password, cookie};
use crate::error::ApiError;
use crate::identity::Caller;

/// The CSRF token of `caller`'s forms: SHA-256 of the process secret and the user name.
pub(crate) fn csrf_token(s: &AppState, caller: &Caller) -> String {
    let mut h = Sha256::new();
    h.update(b"hone-csrf\0");
    h.update(s.web_secret.as_slice());
    h.update((caller.user.len() as u64).to_le_bytes());
    h.update(caller.user.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a POST's `Origin` (or, without one, `Referer`) is this server: the same host and
/// port as its `Host` header. A request that names neither passes (not a browser's form post).
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|h| h.to_str().ok());
    match from {
        None => true,
        Some(o) => {
            let rest = o.split_once("://").map_or("", |(_, r)| r);
            let authority = rest.split('/').next().unwrap_or("");
            !host.is_empty() && authority.eq_ignore_ascii_case(host)
        }
    }
}

/// Checks a form's CSRF token and origin.
pub(crate) fn check_csrf(
    s: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    token: &str,
) -> Result<(), ApiError> {
    let good =
        hone_track::accounts::constant_time_eq(csrf_token(s, caller).as_bytes(), token.as_bytes());
    if !good || !same_origin(headers) {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            code: "PERMISSION_DENIED",
            message: "this form is stale or came from another site (CSRF check): reload the \
                      page and send it again"
                .into(),
        });
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    user: &'a str,
    next: String,
    error: Option<String>,
}

/// `?next=` of the sign-in page: a path on this server only (no scheme, no `//host`).
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct LoginQuery {
    #[serde(default)]
    next: String,
}

fn local_path(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/".into()
    }
}

/// `GET /login`.
pub(super) async fn login_page(State(s): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    if s.auth.is_none() {
        return redirect(&local_path(&q.next), None);
    }
    render(
        StatusCode::OK,
        &LoginPage {
            user: "",
            next: local_path(&q.next),
            error: None,
        },
    )
}

/// The sign-in form.
#[derive(Debug, serde::Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

fn redirect(to: &str, cookie: Option<String>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `POST /login`: a good name and password start a session and go on to `next`.
pub(super) async fn login(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let Some(auth) = s.auth.clone() else {
        return redirect("/", None);
    };
    let next = local_path(&form.next);
    let again = |status: StatusCode, message: &str| {
        render(
            status,
            &LoginPage {
                user: "",
                next: next.clone(),
                error: Some(message.to_string()),
            },
        )
    };
    if !same_origin(&headers) {
        return again(StatusCode::FORBIDDEN, "sign in from this server's own page");
    }
    if form.user.is_empty() {
        return again(
            StatusCode::UNAUTHORIZED,
            "enter your user name and password",
        );
    }
    match check_password(&s, &auth, form.user, form.password).await {
        Ok(user) => {
            let secret = auth.start_session(&user.name);
            let cookie = format!(
                "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                SESSION_TTL.as_secs()
            );
            redirect(&next, Some(cookie))
        }
        Err(_) => again(StatusCode::UNAUTHORIZED, "invalid user name or password"),
    }
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    user: &'a str,
    csrf: String,
}

/// `GET /logout`: the sign-out button (a form, so that a link elsewhere cannot sign anyone out).
pub(super) async fn logout_page(State(s): State<AppState>, caller: Caller) -> Response {
    render(
        StatusCode::OK,
        &LogoutPage {
            user: &caller.user,
            csrf: csrf_token(&s, &caller),
        },
    )
}

/// The sign-out form.
#[derive(Debug, serde::Deserialize)]
pub(super) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session and clears its cookie.
pub(super) async fn logout(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Err(e) = check_csrf(&s, &caller, &headers, &form.csrf) {
        return error_page(&caller.user, e);
    }
    if let (Some(auth), Some(c)) = (s.auth.as_ref(), cookie(&headers, SESSION_COOKIE)) {
        auth.end_session(c);
    }
    redirect(
        "/login",
        Some(format!(
            "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn posts_must_come_from_this_server() {
        assert!(same_origin(&headers(&[("host", "127.0.0.1:5000")])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:5000"),
            ("origin", "http://127.0.0.1:5000")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:5000"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:5000"),
            ("referer", "http://127.0.0.1:5001/models/x")
        ])));
    }

    #[test]
    fn sign_in_goes_on_to_local_paths_only() {
        assert_eq!(local_path("/models/x?y=1"), "/models/x?y=1");
        assert_eq!(local_path("//evil.example/"), "/");
        assert_eq!(local_path("https://evil.example/"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
    }
}
