//! Authentication: access tokens, the per-request caller, password hashing,
//! reset secrets and login throttling.

pub mod client;
pub mod jwt;
pub mod password;
pub mod sessions;
pub mod throttle;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

use recofinement_domain::Permission;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The caller of a protected endpoint: a valid, unrevoked access token of a
/// user that still exists and whose token version is current.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub user_id: i64,
    pub uuid: String,
    pub jti: String,
    pub exp: i64,
}

impl AuthUser {
    /// Checks a permission against the database (through the auth state
    /// cache, which a role change invalidates), not the token, so that a
    /// role change takes effect at once (D5).
    pub async fn require(&self, state: &AppState, permission: Permission) -> AppResult<()> {
        if state
            .sessions
            .has_permission(&state.db, &self.uuid, self.user_id, permission.as_str())
            .await?
        {
            Ok(())
        } else {
            Err(AppError::permission_missing())
        }
    }
}

/// Extracts the bearer token of the `Authorization` header.
pub fn bearer_token(parts: &Parts) -> AppResult<&str> {
    let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        AppError::Token(
            StatusCode::UNAUTHORIZED,
            "Missing Authorization Header".into(),
        )
    })?;
    let bad = || {
        AppError::Token(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Bad Authorization header. Expected value 'Bearer <JWT>'".into(),
        )
    };
    let value = header.to_str().map_err(|_| bad())?;
    match value.split_once(' ') {
        Some(("Bearer", token)) if !token.is_empty() && !token.contains(' ') => Ok(token),
        _ => Err(bad()),
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?;
        let claims = state.jwt.decode_access(token)?;
        let session = state
            .sessions
            .session(&state.db, &claims.identity, &claims.jti)
            .await?;
        let revoked = || AppError::Token(StatusCode::UNAUTHORIZED, "Token has been revoked".into());
        match session {
            None => Err(AppError::unauthorized("User not found!")),
            Some(s) if s.revoked || s.token_version != claims.ver => Err(revoked()),
            Some(s) => Ok(AuthUser {
                user_id: s.user_id,
                uuid: claims.identity,
                jti: claims.jti,
                exp: claims.exp,
            }),
        }
    }
}
