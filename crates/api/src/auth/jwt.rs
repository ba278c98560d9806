//! Access tokens: HS256 JWTs with the claims the client decodes (`identity`,
//! `user_claims.permissions`), plus `ver`, the user's token version, so that
//! a password reset ends every earlier session.

use std::time::Duration;

use axum::http::StatusCode;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Serialize, Deserialize)]
pub struct UserClaims {
    pub permissions: Vec<String>,
}

/// The payload of an access token (spec §2.2).
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub exp: i64,
    pub identity: String,
    pub fresh: bool,
    #[serde(rename = "type")]
    pub kind: String,
    pub user_claims: UserClaims,
    /// Token version of the user at issue time; older versions are refused.
    #[serde(default)]
    pub ver: i64,
}

/// Claims read leniently so that each missing piece gets its own message.
#[derive(Deserialize)]
struct RawClaims {
    identity: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    jti: Option<String>,
    exp: i64,
    #[serde(default)]
    ver: i64,
}

/// The decoded facts the API needs from an access token.
#[derive(Debug)]
pub struct AccessClaims {
    pub identity: String,
    pub jti: String,
    pub exp: i64,
    pub ver: i64,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The key before a rotation (`SECRET_KEY_PREVIOUS`): tokens it signed
    /// stay valid until they expire; new tokens use the current key.
    previous: Option<DecodingKey>,
    validation: Validation,
    ttl: Duration,
}

impl JwtKeys {
    pub fn new(secret: &str, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            previous: None,
            validation,
            ttl,
        }
    }

    /// Also accepts tokens signed with the key used before a rotation.
    pub fn with_previous(mut self, previous: Option<&str>) -> Self {
        self.previous = previous.map(|p| DecodingKey::from_secret(p.as_bytes()));
        self
    }

    /// Checks the signature with the current key, then the previous one.
    fn verify(&self, token: &str) -> jsonwebtoken::errors::Result<RawClaims> {
        let current = jsonwebtoken::decode::<RawClaims>(token, &self.decoding, &self.validation);
        match (&current, &self.previous) {
            (Err(e), Some(previous)) if matches!(e.kind(), ErrorKind::InvalidSignature) => {
                jsonwebtoken::decode::<RawClaims>(token, previous, &self.validation)
                    .map(|d| d.claims)
            }
            _ => current.map(|d| d.claims),
        }
    }

    /// Issues an access token; returns it with its `jti` and expiry.
    pub fn issue(
        &self,
        uuid: &str,
        permissions: Vec<String>,
        version: i64,
    ) -> Result<String, AppError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iat: now,
            nbf: now,
            jti: uuid::Uuid::new_v4().to_string(),
            exp: now + self.ttl.as_secs() as i64,
            identity: uuid.to_string(),
            fresh: false,
            kind: "access".into(),
            user_claims: UserClaims { permissions },
            ver: version,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)
    }

    /// Decodes and checks an access token, with the original's messages.
    pub fn decode_access(&self, token: &str) -> Result<AccessClaims, AppError> {
        let unprocessable =
            |m: &str| AppError::Token(StatusCode::UNPROCESSABLE_ENTITY, m.to_string());
        if token.split('.').count() != 3 {
            return Err(unprocessable("Not enough segments"));
        }
        let claims = self.verify(token).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => {
                AppError::Status(StatusCode::UNAUTHORIZED, "The token has expired".into())
            }
            ErrorKind::InvalidSignature => unprocessable("Signature verification failed"),
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::UnsupportedAlgorithm => {
                unprocessable("The specified alg value is not allowed")
            }
            ErrorKind::ImmatureSignature => unprocessable("The token is not yet valid (nbf)"),
            ErrorKind::MissingRequiredClaim(c) => unprocessable(&format!("Missing claim: {c}")),
            _ => unprocessable("Invalid token"),
        })?;
        let identity = claims
            .identity
            .ok_or_else(|| unprocessable("Missing claim: identity"))?;
        if claims.kind.as_deref() != Some("access") {
            return Err(unprocessable("Only access tokens are allowed"));
        }
        let jti = claims
            .jti
            .ok_or_else(|| unprocessable("Missing claim: jti"))?;
        Ok(AccessClaims {
            identity,
            jti,
            exp: claims.exp,
            ver: claims.ver,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new("test-secret", Duration::from_secs(60))
    }

    fn message(err: AppError) -> (StatusCode, String) {
        match err {
            AppError::Token(s, m) | AppError::Status(s, m) => (s, m),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn issued_tokens_decode_with_their_identity() {
        let k = keys();
        let token = k.issue("u-1", vec!["add_content".into()], 3).unwrap();
        let claims = k.decode_access(&token).unwrap();
        assert_eq!(claims.identity, "u-1");
        assert_eq!(claims.ver, 3);
    }

    #[test]
    fn foreign_and_malformed_tokens_are_refused() {
        let token = JwtKeys::new("other", Duration::from_secs(60))
            .issue("u", vec![], 0)
            .unwrap();
        assert_eq!(
            message(keys().decode_access(&token).unwrap_err()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Signature verification failed".into()
            )
        );
        assert_eq!(
            message(keys().decode_access("abc").unwrap_err()).1,
            "Not enough segments"
        );
    }

    #[test]
    fn the_previous_key_verifies_until_it_is_dropped() {
        let old = JwtKeys::new("old-secret", Duration::from_secs(60));
        let token = old.issue("u-1", vec![], 0).unwrap();
        let rotated = JwtKeys::new("new-secret", Duration::from_secs(60));
        assert!(rotated.decode_access(&token).is_err());
        let rotated = rotated.with_previous(Some("old-secret"));
        assert_eq!(rotated.decode_access(&token).unwrap().identity, "u-1");
        let fresh = rotated.issue("u-2", vec![], 0).unwrap();
        assert!(
            old.decode_access(&fresh).is_err(),
            "new tokens use the new key"
        );
    }

    #[test]
    fn expired_tokens_are_401() {
        let k = keys();
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({"iat": now - 100, "nbf": now - 100, "exp": now - 10, "jti": "j",
            "identity": "u", "type": "access", "fresh": false, "user_claims": {"permissions": []}});
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding).unwrap();
        assert_eq!(
            message(k.decode_access(&token).unwrap_err()),
            (StatusCode::UNAUTHORIZED, "The token has expired".into())
        );
    }

    #[test]
    fn refresh_and_other_types_are_refused() {
        let k = keys();
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({"iat": now, "nbf": now, "exp": now + 10, "jti": "j",
            "identity": "u", "type": "refresh"});
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding).unwrap();
        assert_eq!(
            message(k.decode_access(&token).unwrap_err()).1,
            "Only access tokens are allowed"
        );
    }
}
