//! `/api/auth`: register, login, logout, forgotten password, reset (spec §6).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use recofinement_domain::validate;
use recofinement_store::changes::ListChange;

use crate::auth::AuthUser;
use crate::auth::client::ClientAddr;
use crate::auth::throttle::{AccountRequestBody, CountedRequest, Throttle};
use crate::error::{AppError, AppResult, OnConflict};
use crate::extract::{Body, Valid};
use crate::mail::{Mail, Template};
use crate::routes::schema::{Message, UserBase};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(forget))
        .routes(routes!(reset))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    #[schema(schema_with = validate::email_schema)]
    pub email: String,
    #[schema(schema_with = validate::username_schema)]
    pub username: String,
    #[schema(schema_with = validate::password_schema)]
    pub password: String,
}

impl Body for RegisterBody {}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    #[schema(schema_with = validate::email_schema)]
    pub email: String,
    #[schema(schema_with = validate::login_password_schema)]
    pub password: String,
}

impl Body for LoginBody {}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgetBody {
    #[schema(schema_with = validate::email_schema)]
    pub email: String,
}

impl Body for ForgetBody {}

// Registering and asking for a reset mail count per e-mail they name.
impl AccountRequestBody for RegisterBody {
    const ACTION: &'static str = "register";
    fn email(&self) -> &str {
        &self.email
    }
}

impl AccountRequestBody for ForgetBody {
    const ACTION: &'static str = "forget";
    fn email(&self) -> &str {
        &self.email
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// The secret of the reset link (64 hexadecimal characters).
    #[schema(min_length = 50)]
    pub reset_password_token: String,
    #[schema(schema_with = validate::password_schema)]
    pub password: String,
}

impl Body for ResetBody {}

/// Answer of register and login.
#[derive(Serialize, ToSchema)]
pub struct SessionAnswer {
    pub status: bool,
    pub message: String,
    pub user: UserBase,
    pub access_token: String,
}

async fn issue_session(
    state: &AppState,
    user: &recofinement_store::users::User,
) -> AppResult<String> {
    let permissions = state.db.permissions(user.user_id).await?;
    state.jwt.issue(&user.uuid, permissions, user.token_version)
}

/// Create an account.
#[utoipa::path(post, path = "/register", tag = "auth", request_body = RegisterBody,
    responses((status = 201, body = SessionAnswer), (status = 429, body = Message)))]
async fn register(
    State(state): State<AppState>,
    CountedRequest { email, body }: CountedRequest<RegisterBody>,
) -> AppResult<impl IntoResponse> {
    let taken = || AppError::validation("Email is already being used.");
    if state.db.user_by_email(&email).await?.is_some() {
        return Err(taken());
    }
    let hash = state.hasher.hash(&body.password).await?;
    let user = state
        .db
        .create_user(&email, &body.username, &hash, "user")
        .await
        .on_conflict(taken)?;
    let access_token = issue_session(&state, &user).await?;
    state.mailer.queue(Mail {
        template: Template::Welcome,
        to_email: email,
        to_name: user.username.clone(),
        link: state.config.url_front.clone(),
    });
    let answer = SessionAnswer {
        status: true,
        message: "User has been registered.".into(),
        user: UserBase::seen_by(&user, user.user_id),
        access_token,
    };
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Open a session. Attempts are counted before the password is checked, per
/// account and client, per client and per account (a higher ceiling).
#[utoipa::path(post, path = "/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = SessionAnswer), (status = 401, body = Message), (status = 429, body = Message)))]
async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Valid(body): Valid<LoginBody>,
) -> AppResult<Json<SessionAnswer>> {
    let email = validate::normalise_email(&body.email);
    // Counted before bcrypt: a burst cannot have more guesses checked than the limit.
    let throttle = Throttle::login(&state, &email, &client);
    throttle.count().await?;
    let user = state.db.user_by_email(&email).await?;
    let stored = user.as_ref().map(|u| u.password_hash.as_str());
    let verified = state.hasher.verify(&body.password, stored).await?;
    let Some(user) = user.filter(|_| verified) else {
        return Err(AppError::unauthorized("Failed to log in."));
    };
    throttle.succeeded().await?;
    let access_token = issue_session(&state, &user).await?;
    // Imports of the linked services, in the background (never awaited).
    state.external.import_all(user.user_id);
    Ok(Json(SessionAnswer {
        status: true,
        message: "Successfully logged in.".into(),
        user: UserBase::seen_by(&user, user.user_id),
        access_token,
    }))
}

/// Revoke the current access token.
#[utoipa::path(post, path = "/logout", tag = "auth", security(("Bearer Auth" = [])),
    responses((status = 204)))]
async fn logout(State(state): State<AppState>, caller: AuthUser) -> AppResult<StatusCode> {
    let expires = chrono::DateTime::from_timestamp(caller.exp, 0)
        .map(|d| d.naive_utc())
        .unwrap_or_else(recofinement_store::now);
    state
        .db
        .revoke_token(caller.user_id, &caller.jti, expires)
        .await?;
    // This instance hears its own notice a moment later: not later than
    // this answer.
    state.announced(ListChange::Account {
        user_id: caller.user_id,
    });
    Ok(StatusCode::NO_CONTENT)
}

/// SHA-256 of a reset secret: only this is stored.
fn reset_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

const FORGET_MESSAGE: &str =
    "If your account exist, you will find an email to recover your password in your mailbox";

/// Request a password-reset mail. Answers the same whether the account exists or not.
#[utoipa::path(post, path = "/forget", tag = "auth", request_body = ForgetBody,
    responses((status = 200, body = Message), (status = 429, body = Message)))]
async fn forget(
    State(state): State<AppState>,
    CountedRequest { email, .. }: CountedRequest<ForgetBody>,
) -> AppResult<Json<Message>> {
    if let Some(user) = state.db.user_by_email(&email).await? {
        let token = hex::encode(rand::random::<[u8; 32]>());
        let ttl =
            chrono::Duration::from_std(state.config.reset_token_ttl).map_err(AppError::internal)?;
        state
            .db
            .create_password_reset(
                user.user_id,
                &reset_hash(&token),
                recofinement_store::now() + ttl,
            )
            .await?;
        let link = format!(
            "{}{}{}",
            state.config.url_front, state.config.reset_path, token
        );
        state.mailer.queue(Mail {
            template: Template::ForgottenPassword,
            to_email: email,
            to_name: user.username,
            link,
        });
    }
    Ok(Json(Message::ok(FORGET_MESSAGE)))
}

/// Set a new password with the secret of a reset mail (single use; ends every session).
#[utoipa::path(post, path = "/reset", tag = "auth", request_body = ResetBody,
    responses((status = 200, body = Message), (status = 401, body = Message)))]
async fn reset(
    State(state): State<AppState>,
    Valid(body): Valid<ResetBody>,
) -> AppResult<Json<Message>> {
    let invalid = || AppError::unauthorized("Invalid token.");
    let token_hash = reset_hash(&body.reset_password_token);
    // Look the secret up before spending a bcrypt computation on it.
    state
        .db
        .reset_target(&token_hash)
        .await?
        .ok_or_else(invalid)?;
    let new_hash = state.hasher.hash(&body.password).await?;
    let user_id = state
        .db
        .reset_password(&token_hash, &new_hash)
        .await?
        .ok_or_else(invalid)?;
    state.announced(ListChange::Account { user_id });
    if let Some(user) = state.db.user_by_id(user_id).await?
        && let Some(email) = user.email
    {
        state.mailer.queue(Mail {
            template: Template::ResetConfirmation,
            to_email: email,
            to_name: user.username,
            link: state.config.url_front.clone(),
        });
    }
    Ok(Json(Message::ok("Password reset successfully")))
}
