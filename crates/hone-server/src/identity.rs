//! Who is making a request: the seam between authentication (which finds out) and the
//! handlers (which record it: a model version's `user_id`, the registry's audit log).
//!
//! Authentication, when configured, inserts a [`Caller`] into the request's extensions; a
//! handler takes `caller: Caller` as an argument. Without authentication (a loopback server)
//! no one inserts it and the extractor answers [`Caller::anonymous`].

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The user name a request acts as when the server has no authentication.
pub const ANONYMOUS: &str = "anonymous";

/// The authenticated user of a request (or [`ANONYMOUS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user's name, as `hone users` knows it.
    pub user: String,
    /// Whether the user is an administrator (every permission on everything).
    pub admin: bool,
}

impl Caller {
    /// The caller of a server without authentication: anyone on the loopback interface,
    /// allowed everything (the binding is the protection).
    pub fn anonymous() -> Self {
        Self {
            user: ANONYMOUS.to_string(),
            admin: true,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_else(Caller::anonymous))
    }
}
