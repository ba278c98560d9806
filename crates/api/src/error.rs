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
    /// 500: the cause is logged, the client sees the generic message.
    Internal(String),
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
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => AppError::not_found("Not found"),
            other => AppError::Internal(other.to_string()),
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
            AppError::TooMany { retry_after } => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({
                        "status": false,
                        "message": "Too many failed attempts, try again later."
                    })),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
                response
            }
            AppError::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({"status": false, "message": INTERNAL_MESSAGE})),
                )
                    .into_response()
            }
        }
    }
}
