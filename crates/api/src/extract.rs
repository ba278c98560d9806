//! Request extractors whose rejections use the API's envelope: JSON bodies
//! checked field by field (every failed rule is reported, as the client
//! expects an `errors` array), path parameters (a malformed one is a 404 like
//! the original's typed routes) and the lenient `page` query parameter.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use recofinement_domain::{Page, validate};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::error::AppError;

/// A JSON request body. Its fields and their rules (types, required,
/// nullable, lengths, patterns, ranges, unknown fields) are read from its
/// OpenAPI schema, the same one `/api/swagger.json` publishes, so renaming a
/// field renames its rules; `check` holds only what a schema cannot say.
pub trait Body: ToSchema + DeserializeOwned {
    /// Rules across fields or on normalised values; one message per failure.
    fn check(&self, _errors: &mut Vec<String>) {}
}

/// The inline schema of a body type.
pub fn schema_of<T: ToSchema>() -> Schema {
    match T::schema() {
        RefOr::T(schema) => schema,
        RefOr::Ref(_) => Schema::default(),
    }
}

/// `T`'s derived schema with an `anyOf` beside its fields: the rule that
/// ties them ("a refusal, or the fields of a success"), which the derive
/// cannot state. The handler enforces the same rule; this puts it in the
/// document, so a client or a fuzzer does not send what it refuses.
pub fn schema_with_any_of<T: ToSchema>(cases: Value) -> RefOr<Schema> {
    let mut schema = schema_of::<T>();
    if let Schema::Object(object) = &mut schema {
        object
            .extensions
            .get_or_insert_with(Default::default)
            .insert("anyOf".into(), cases);
    }
    RefOr::T(schema)
}

/// A body that passed its schema and rules.
pub struct Valid<T>(pub T);

impl<S: Send + Sync, T: Body> FromRequest<S> for Valid<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = json_value(req, state).await?;
        let object = match value {
            Value::Object(map) => map,
            _ => {
                return Err(AppError::validation(
                    "The request body must be a JSON object.",
                ));
            }
        };
        let mut object = object;
        let (mut errors, unknown) = validate::check_object(&schema_of::<T>(), &mut object);
        if errors.len() > unknown.len() {
            return Err(AppError::Validation(errors));
        }
        // Only unknown fields so far: still report the rules of the known ones.
        for key in &unknown {
            object.remove(key);
        }
        let body: T = serde_json::from_value(Value::Object(object))
            .map_err(|e| AppError::validation(format!("Invalid body: {e}")))?;
        body.check(&mut errors);
        if errors.is_empty() {
            Ok(Valid(body))
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

/// Reads the body as JSON, mapping every failure to a 4xx envelope.
async fn json_value<S: Send + Sync>(req: Request, state: &S) -> Result<Value, AppError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if let Some(ct) = &content_type
        && !(ct.starts_with("application/json") || ct.contains("+json"))
    {
        return Err(AppError::Status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected a request with Content-Type: application/json".into(),
        ));
    }
    let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "The request body is too large.".to_string()
        } else {
            "The request body could not be read.".to_string()
        };
        AppError::Status(status, message)
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::validation(
            "The request body must be a JSON object.",
        ));
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| {
        AppError::Status(
            StatusCode::BAD_REQUEST,
            "The browser (or proxy) sent a request that this server could not understand.".into(),
        )
    })?;
    if contains_nul(&value) {
        return Err(AppError::validation(NUL_MESSAGE));
    }
    Ok(value)
}

/// Why a request with a NUL character is refused: PostgreSQL cannot store
/// one in text, and no name, title or term needs one.
pub const NUL_MESSAGE: &str = "Text may not contain NUL characters.";

/// Whether a NUL character hides in any key or string of `value`.
fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

/// A JSON object body checked by the handler against fields known only at
/// run time (the media kinds).
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match json_value(req, state).await? {
            Value::Object(map) => Ok(JsonObject(map)),
            _ => Err(AppError::validation(
                "The request body must be a JSON object.",
            )),
        }
    }
}

/// A path parameter; a value of the wrong shape is a 404, as the original's
/// typed routes answered, but in the JSON envelope.
pub struct PathParam<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| PathParam(v))
            .map_err(|_| AppError::not_found("Not found"))
    }
}

/// A path parameter that must be a UUID; returns it in canonical lower case.
pub fn parse_uuid(value: &str) -> Option<String> {
    uuid::Uuid::parse_str(value)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// The `page` query parameter: missing, malformed or below 1 means 1 (D26);
/// a number past the last page (even one too large for 64 bits) is an
/// empty page, clamped so that offsets never overflow.
#[derive(Clone, Copy, Debug)]
pub struct ListPage(pub Page);

impl<S: Send + Sync> FromRequestParts<S> for ListPage {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let page = parts
            .uri
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "page")
            .and_then(|(_, v)| parse_page(v.trim()))
            .unwrap_or(1)
            .clamp(1, MAX_PAGE);
        Ok(ListPage(Page(page)))
    }
}

/// How the document describes what [`ListPage`] reads: `params(PageQuery)`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number (24 items a page); missing, malformed or below 1 means 1.
    #[param(example = "1")]
    pub page: Option<String>,
}

/// Largest page number served: any larger one is past the last page of
/// every list (2.4 billion items), and its offset fits comfortably in i64.
const MAX_PAGE: i64 = 100_000_000;

/// A page number: digits (with an optional sign) of any length; `None` for
/// anything else.
fn parse_page(text: &str) -> Option<i64> {
    match text.parse::<i64>() {
        Ok(page) => Some(page),
        Err(_) => {
            let digits = text.strip_prefix('+').unwrap_or(text);
            let negative = digits.strip_prefix('-');
            let digits = negative.unwrap_or(digits);
            let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            numeric.then_some(if negative.is_some() { 1 } else { MAX_PAGE })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn huge_pages_are_past_the_end_and_garbage_is_page_one() {
        assert_eq!(parse_page("99999999999999999999999"), Some(MAX_PAGE));
        assert_eq!(parse_page("-99999999999999999999999"), Some(1));
        assert_eq!(parse_page("7"), Some(7));
        assert_eq!(parse_page("seven"), None);
        assert_eq!(parse_page(""), None);
    }

    #[test]
    fn nul_characters_are_found_anywhere() {
        assert!(contains_nul(&json!({"a": ["x", {"b": "c\u{0}"}]})));
        assert!(contains_nul(&json!({"k\u{0}": 1})));
        assert!(!contains_nul(&json!({"a": ["x", 1, null]})));
    }
}
