//! `/api/user/{uuid}`: read, change and delete one's own account (spec §7).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use recofinement_domain::{Permission, validate};
use recofinement_store::audit::AuditAction;
use recofinement_store::changes::ListChange;
use recofinement_store::users::{User, UserChanges};

use crate::auth::AuthUser;
use crate::auth::client::ClientAddr;
use crate::auth::throttle::Throttle;
use crate::cache::{Tag, Tagged};
use crate::error::{AppError, AppResult, OnConflict};
use crate::extract::{Body, PathParam, Valid, parse_uuid};
use crate::mail::{Mail, Template};
use crate::openapi::demo;
use crate::routes::schema::{Message, UserObject};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_user, patch_user, delete_user))
}

#[derive(Serialize, ToSchema)]
pub struct UserAnswer {
    pub status: bool,
    pub message: String,
    pub user: UserObject,
}

/// Loads the user named in the path; a malformed or unknown uuid is 404.
async fn path_user(state: &AppState, uuid: &str) -> AppResult<User> {
    let uuid = parse_uuid(uuid).ok_or_else(AppError::user_not_found)?;
    state
        .db
        .user_by_uuid(&uuid)
        .await?
        .ok_or_else(AppError::user_not_found)
}

/// Read one's own account (another user's is 403, D3).
#[utoipa::path(get, path = "/{uuid}", tag = "user", security(("Bearer Auth" = [])),
    params(("uuid" = String, Path, description = "the caller's uuid", example = json!(demo::USER_UUID))),
    responses((status = 200, body = UserAnswer), (status = 403, body = Message)))]
async fn get_user(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(uuid): PathParam<String>,
) -> AppResult<Response> {
    if parse_uuid(&uuid).as_deref() != Some(caller.uuid.as_str()) {
        path_user(&state, &uuid).await?;
        return Err(AppError::forbidden(
            "Unable to read an account which is not your's",
        ));
    }
    // One's own account is read again and again (the client asks for it on
    // every page): cached, and dropped by any change to the account or to
    // who is in which group, on every instance.
    let key = format!("user:{}", caller.user_id);
    state
        .lists
        .get_or_insert(key, || async {
            let user = path_user(&state, &uuid).await?;
            let groups = state.db.user_groups(user.user_id).await?;
            let answer = UserAnswer {
                status: true,
                message: "User data sent".into(),
                user: UserObject::new(user, groups),
            };
            let body = serde_json::to_vec(&answer).map_err(AppError::internal)?;
            Ok::<_, AppError>(Tagged {
                body: Bytes::from(body),
                tags: vec![Tag::Account(caller.user_id), Tag::Memberships],
            })
        })
        .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(schema_with = validate::username_schema)]
    pub username: Option<String>,
    #[schema(schema_with = validate::email_schema)]
    pub email: Option<String>,
    #[schema(schema_with = validate::password_schema)]
    pub password: Option<String>,
    /// Required to change the e-mail or the password (ASVS 2.1.5): a stolen
    /// session alone cannot take the account over.
    #[schema(nullable = false)]
    pub current_password: Option<String>,
}

impl Body for UserPatch {}

/// Answer of a change; a password change ends every session, so it carries
/// a fresh token for the caller.
#[derive(Serialize, ToSchema)]
pub struct PatchAnswer {
    pub status: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

/// Change one's username, e-mail and/or password; a new e-mail or password
/// needs `current_password`, and the owner is told of it by mail.
#[utoipa::path(patch, path = "/{uuid}", tag = "user", security(("Bearer Auth" = [])), request_body = UserPatch,
    params(("uuid" = String, Path, description = "the caller's uuid", example = json!(demo::USER_UUID))),
    responses((status = 201, body = PatchAnswer), (status = 403, body = Message), (status = 429, body = Message)))]
async fn patch_user(
    State(state): State<AppState>,
    caller: AuthUser,
    ClientAddr(client): ClientAddr,
    PathParam(uuid): PathParam<String>,
    Valid(body): Valid<UserPatch>,
) -> AppResult<(StatusCode, Json<PatchAnswer>)> {
    let user = path_user(&state, &uuid).await?;
    caller.require(&state, Permission::ModifyUserProfil).await?;
    if user.user_id != caller.user_id {
        return Err(AppError::forbidden(
            "Unable to update an account which is not your's",
        ));
    }
    let email = body
        .email
        .as_deref()
        .map(validate::normalise_email)
        .filter(|e| user.email.as_deref() != Some(e.as_str()));
    if email.is_some() || body.password.is_some() {
        check_current_password(&state, &user, &client, body.current_password.as_deref()).await?;
    }
    let taken = || AppError::validation("Email is already being used.");
    if let Some(email) = &email
        && let Some(other) = state.db.user_by_email(email).await?
        && other.user_id != user.user_id
    {
        return Err(taken());
    }
    let password_hash = match &body.password {
        Some(p) => Some(state.hasher.hash(p).await?),
        None => None,
    };
    let changes = UserChanges {
        username: body.username,
        email,
        password_hash,
    };
    state
        .db
        .update_user(user.user_id, &changes)
        .await
        .on_conflict(taken)?;
    state.announced(ListChange::Account {
        user_id: user.user_id,
    });
    send_change_notices(&state, &user, &changes);
    let access_token = match changes.password_hash {
        Some(_) => {
            let fresh = state
                .db
                .user_by_id(user.user_id)
                .await?
                .ok_or_else(AppError::user_not_found)?;
            let permissions = state.db.permissions(fresh.user_id).await?;
            Some(
                state
                    .jwt
                    .issue(&fresh.uuid, permissions, fresh.token_version)?,
            )
        }
        None => None,
    };
    let answer = PatchAnswer {
        status: true,
        message: "User updated successfully".into(),
        access_token,
    };
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Checks the current password of an e-mail or password change, counted
/// like a login attempt so a stolen session cannot guess it without bound.
async fn check_current_password(
    state: &AppState,
    user: &User,
    client: &str,
    given: Option<&str>,
) -> AppResult<()> {
    let Some(given) = given else {
        return Err(AppError::validation(
            "current_password: Missing data for required field.",
        ));
    };
    let throttle = Throttle::login(state, user.email.as_deref().unwrap_or(&user.uuid), client);
    throttle.count().await?;
    if state
        .hasher
        .verify(given, Some(&user.password_hash))
        .await?
    {
        throttle.succeeded().await
    } else {
        Err(AppError::validation("current_password: Wrong password."))
    }
}

/// Tells the owner about a change of e-mail (at the old address) or of
/// password (at the account's address now), after the commit (D6).
fn send_change_notices(state: &AppState, user: &User, changes: &UserChanges) {
    let notice = |template, to_email: &str| Mail {
        template,
        to_email: to_email.to_string(),
        to_name: changes
            .username
            .clone()
            .unwrap_or_else(|| user.username.clone()),
        link: state.config.url_front.clone(),
    };
    if let (Some(_), Some(old)) = (&changes.email, &user.email) {
        state.mailer.queue(notice(Template::EmailChanged, old));
    }
    if changes.password_hash.is_some()
        && let Some(address) = changes.email.as_ref().or(user.email.as_ref())
    {
        state
            .mailer
            .queue(notice(Template::PasswordChanged, address));
    }
}

/// Delete one's account and everything that is the user's.
#[utoipa::path(delete, path = "/{uuid}", tag = "user", security(("Bearer Auth" = [])),
    params(("uuid" = String, Path, description = "the caller's uuid", example = json!(demo::USER_UUID))),
    responses((status = 201, body = Message), (status = 403, body = Message)))]
async fn delete_user(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(uuid): PathParam<String>,
) -> AppResult<(StatusCode, Json<Message>)> {
    let user = path_user(&state, &uuid).await?;
    caller.require(&state, Permission::ModifyUserProfil).await?;
    if user.user_id != caller.user_id {
        return Err(AppError::forbidden(
            "Unable to delete an account which is not your's",
        ));
    }
    state.db.delete_user(user.user_id).await?;
    state.announced(ListChange::Account {
        user_id: user.user_id,
    });
    state.announced(ListChange::Memberships);
    let target = format!("user:{}", user.uuid);
    crate::routes::audit::record(&state, &caller, AuditAction::UserDeleted, &target, None).await;
    Ok(Message::created("User account deleted successfully"))
}
