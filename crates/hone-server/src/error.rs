//! Errors: [`ApiError`], what a request gets back (MLflow's error body and status), and
//! [`ServerError`], why the server could not start or stopped.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hone_track::TrackError;

/// A failed request, as MLflow reports it: an HTTP status and the body
/// `{"error_code": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// MLflow's error code (`INVALID_PARAMETER_VALUE`, `RESOURCE_DOES_NOT_EXIST`, ...).
    pub code: &'static str,
    /// One line for the user.
    pub message: String,
}

impl ApiError {
    /// 400 `INVALID_PARAMETER_VALUE`: the request is wrong.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_PARAMETER_VALUE",
            message: message.into(),
        }
    }

    /// 404 `RESOURCE_DOES_NOT_EXIST`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "RESOURCE_DOES_NOT_EXIST",
            message: message.into(),
        }
    }

    /// 500 `INTERNAL_ERROR`, with a message that names no SQL, path or stack.
    pub fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "INTERNAL_ERROR",
            message: "internal error in the tracking store; the server's log has the details"
                .into(),
        }
    }

    /// MLflow's message for a required field that is missing or empty.
    pub fn missing(field: &str) -> Self {
        Self::invalid(format!("Missing value for required parameter '{field}'."))
    }
}

impl From<TrackError> for ApiError {
    fn from(e: TrackError) -> Self {
        match &e {
            TrackError::NotFound(_) => Self::not_found(e.to_string()),
            TrackError::Invalid(_) => Self::invalid(e.to_string()),
            TrackError::AlreadyExists(_) => Self {
                status: StatusCode::BAD_REQUEST,
                code: "RESOURCE_ALREADY_EXISTS",
                message: e.to_string(),
            },
            // A lost compare-and-set or a forbidden change now: deterministic, so not a 5xx
            // (the MLflow client retries those, for minutes).
            TrackError::Conflict(_) => Self {
                status: StatusCode::CONFLICT,
                code: "RESOURCE_CONFLICT",
                message: e.to_string(),
            },
            TrackError::Db(_)
            | TrackError::NewerSchema { .. }
            | TrackError::Corrupted { .. }
            | TrackError::Io { .. } => {
                // The details (SQL text, paths) stay in the server's log, never in a response.
                eprintln!("hone server: internal error: {e}");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error_code": self.code, "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

/// Why the server could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The host is not a loopback address and authentication is off.
    #[error(
        "binding to {0} needs authentication: start the server with --auth (after creating an \
         administrator with `hone users add NAME --admin`), or bind to 127.0.0.1"
    )]
    NotLoopback(String),
    /// Authentication is on but the store has no administrator.
    #[error(
        "--auth needs an administrator in the store: create one with `hone users add NAME \
         --admin --store URI`"
    )]
    NoAdmin,
    /// An `--allow-origin` that is not `scheme://host[:port]`.
    #[error(
        "--allow-origin {0:?} is not an origin: give scheme://host[:port], such as \
         https://ui.example.com"
    )]
    BadOrigin(String),
    /// `HONE_LOG` is not a log level.
    #[error(
        "HONE_LOG={0:?} is not a log level: use off, error, warn, info (the default), debug or \
         trace"
    )]
    LogLevel(String),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] TrackError),
    /// The address could not be bound, or serving failed.
    #[error("{context}: {message}")]
    Io {
        /// What was being done (`binding 127.0.0.1:5000`).
        context: String,
        /// The system's message.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_mlflow_codes_and_statuses() {
        let cases = [
            (
                TrackError::NotFound("run x".into()),
                404,
                "RESOURCE_DOES_NOT_EXIST",
            ),
            (
                TrackError::Invalid("bad key".into()),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                TrackError::AlreadyExists("experiment e".into()),
                400,
                "RESOURCE_ALREADY_EXISTS",
            ),
            (
                TrackError::Conflict("lost the race".into()),
                409,
                "RESOURCE_CONFLICT",
            ),
        ];
        for (e, status, code) in cases {
            let a = ApiError::from(e);
            assert_eq!((a.status.as_u16(), a.code), (status, code));
        }
    }

    #[test]
    fn internal_errors_say_nothing_of_sql_or_paths() {
        for e in [
            TrackError::Db("near \"SELEC\": syntax error in SELEC * FROM runs".into()),
            TrackError::Io {
                path: "/srv/secret/hone.db".into(),
                message: "permission denied".into(),
            },
        ] {
            let a = ApiError::from(e);
            assert_eq!((a.status.as_u16(), a.code), (500, "INTERNAL_ERROR"));
            assert!(!a.message.contains("SELEC") && !a.message.contains("/srv"));
        }
    }
}
