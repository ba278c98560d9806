//! One error type for every handler, rendered as the original's envelope:
//! `{"status": false, "message": …}` plus `errors` (always an array) on 400.
//! Server-side failures are logged with their cause and answered with the
//! generic message, never with driver text.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use recofinement_store::StoreError;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug)]
pub enum AppError {
    /// 400 "Validation errors" with the list of failed rules.
    Validation(Vec<String>),
    /// Any 4xx with the original's message text.
    Status(StatusCode, String),
    /// Token problems: the original answers `{"msg": …}`; we add the envelope.
    Token(StatusCode, String),
    /// 429 with the seconds after which the client may try again.
    TooMany { retry_after: u64 },
    /// 503: the database cannot be reached now; the client may retry.
    Unavailable(anyhow::Error),
    /// 500: the cause (with its chain) is logged once, when the response is
    /// built; the client sees the generic message.
    Internal(anyhow::Error),
}

pub const INTERNAL_MESSAGE: &str = "Something went wrong during the process!";

impl AppError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::Status(StatusCode::BAD_REQUEST, message.into())
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        AppError::Status(StatusCode::NOT_FOUND, message.into())
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Status(StatusCode::FORBIDDEN, message.into())
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        AppError::Status(StatusCode::UNAUTHORIZED, message.into())
    }
    pub fn user_not_found() -> Self {
        Self::not_found("User not found!")
    }
    pub fn permission_missing() -> Self {
        Self::forbidden("Permission missing")
    }
    pub fn validation(error: impl Into<String>) -> Self {
        AppError::Validation(vec![error.into()])
    }
    /// A server-side failure; `cause` keeps its source chain for the log.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(cause.into())
    }
    /// A server-side failure known only by a message of ours.
    pub fn internal_message(message: impl std::fmt::Display) -> Self {
        AppError::Internal(anyhow::anyhow!("{message}"))
    }
}

/// The one place where store failures become answers: conflicts are 409,
/// refused references or values 400, an unreachable database 503, the rest
/// 500 with the cause kept. Handlers with a better message for a conflict
/// say so with [`OnConflict::on_conflict`].
impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => AppError::not_found("Not found"),
            StoreError::Conflict { .. } => {
                AppError::Status(StatusCode::CONFLICT, "Already exists.".into())
            }
            StoreError::Constraint { .. } => AppError::bad_request(
                "The change refers to something that does not exist or breaks a rule.",
            ),
            StoreError::Unavailable(_) => AppError::Unavailable(err.into()),
            other => AppError::Internal(other.into()),
        }
    }
}

/// Turns a unique-key conflict into the answer a handler chooses, leaving
/// every other store error to the common mapping.
pub trait OnConflict<T> {
    fn on_conflict(self, answer: impl FnOnce() -> AppError) -> AppResult<T>;
}

impl<T> OnConflict<T> for Result<T, StoreError> {
    fn on_conflict(self, answer: impl FnOnce() -> AppError) -> AppResult<T> {
        match self {
            Err(err) if err.is_conflict() => Err(answer()),
            other => other.map_err(AppError::from),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Validation(errors) => (
                StatusCode::BAD_REQUEST,
                axum::Json(
                    json!({"status": false, "message": "Validation errors", "errors": errors}),
                ),
            )
                .into_response(),
            AppError::Status(status, message) => {
                let body = if status == StatusCode::BAD_REQUEST {
                    json!({"status": false, "message": message, "errors": [message]})
                } else {
                    json!({"status": false, "message": message})
                };
                (status, axum::Json(body)).into_response()
            }
            AppError::Token(status, message) => (
                status,
                axum::Json(json!({"status": false, "message": message, "msg": message})),
            )
                .into_response(),
            AppError::TooMany { retry_after } => retry_later(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts, try again later.",
                retry_after.max(1),
            ),
            AppError::Unavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "database unavailable");
                retry_later(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is temporarily unavailable, try again shortly.",
                    1,
                )
            }
            AppError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({"status": false, "message": INTERNAL_MESSAGE})),
                )
                    .into_response()
            }
        }
    }
}

/// An answer that tells the client when to try again (`Retry-After`, in
/// seconds).
fn retry_later(status: StatusCode, message: &str, seconds: u64) -> Response {
    let body = axum::Json(json!({"status": false, "message": message}));
    (
        status,
        [(header::RETRY_AFTER, HeaderValue::from(seconds))],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_that_can_be_retried_say_when() {
        let cases = [
            (AppError::TooMany { retry_after: 0 }, 429, "1"),
            (AppError::TooMany { retry_after: 90 }, 429, "90"),
            (
                AppError::Unavailable(anyhow::anyhow!("pool timed out")),
                503,
                "1",
            ),
        ];
        for (error, status, seconds) in cases {
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.headers()[header::RETRY_AFTER], seconds);
        }
    }
}
