//! `/api/group`: groups of friends and their invitations (spec §8). Only the
//! owner, members and invitees see a group; strangers' e-mails are hidden.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use recofinement_domain::validate;
use recofinement_store::changes::ListChange;
use recofinement_store::groups::{Group, GroupPeople};
use recofinement_store::users::User;

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::extract::{Body, PathParam, Valid, parse_uuid};
use crate::openapi::demo;
use crate::routes::schema::{Message, UserBase};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GroupPath {
    #[param(example = json!(demo::FIRST_ID))]
    group_id: i64,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_group))
        .routes(routes!(get_group, delete_group))
        .routes(routes!(invite))
        .routes(routes!(accept_invitation, delete_invitation))
        .routes(routes!(remove_member))
}

#[derive(Serialize, ToSchema)]
pub struct GroupObject {
    pub group_id: i64,
    pub name: String,
    pub owner: Option<UserBase>,
    pub members: Vec<UserBase>,
    pub invitations: Vec<UserBase>,
}

impl GroupObject {
    fn new(people: GroupPeople, viewer: i64) -> Self {
        let view = |users: Vec<User>| users.iter().map(|u| UserBase::seen_by(u, viewer)).collect();
        GroupObject {
            group_id: people.group.group_id,
            name: people.group.name,
            owner: people.owner.as_ref().map(|u| UserBase::seen_by(u, viewer)),
            members: view(people.members),
            invitations: view(people.invitations),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GroupAnswer {
    pub status: bool,
    pub message: String,
    pub group: GroupObject,
}

async fn answer(
    state: &AppState,
    group: Group,
    viewer: i64,
    message: &str,
) -> AppResult<Json<GroupAnswer>> {
    let people = state.db.group_people(group).await?;
    Ok(Json(GroupAnswer {
        status: true,
        message: message.into(),
        group: GroupObject::new(people, viewer),
    }))
}

async fn find_group(state: &AppState, group_id: i64) -> AppResult<Group> {
    state
        .db
        .group(group_id)
        .await?
        .ok_or_else(|| AppError::not_found("Group not found!"))
}

/// The user named in an invitation path; a malformed uuid is "Member not found!".
async fn member(state: &AppState, uuid: &str) -> AppResult<User> {
    let uuid = parse_uuid(uuid).ok_or_else(|| AppError::not_found("Member not found!"))?;
    state
        .db
        .user_by_uuid(&uuid)
        .await?
        .ok_or_else(|| AppError::not_found("Member not found!"))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    #[schema(schema_with = validate::group_name_schema)]
    pub name: String,
}

impl Body for GroupBody {}

/// G1: create a group owned by the caller.
#[utoipa::path(post, path = "", tag = "group", security(("Bearer Auth" = [])), request_body = GroupBody,
    responses((status = 201, body = GroupAnswer)))]
async fn create_group(
    State(state): State<AppState>,
    caller: AuthUser,
    Valid(body): Valid<GroupBody>,
) -> AppResult<(StatusCode, Json<GroupAnswer>)> {
    let group = state.db.create_group(caller.user_id, &body.name).await?;
    state.announced(ListChange::Memberships);
    Ok((
        StatusCode::CREATED,
        answer(&state, group, caller.user_id, "Group data created").await?,
    ))
}

/// G2: read a group (owner, members and invitees only).
#[utoipa::path(get, path = "/{group_id}", tag = "group", security(("Bearer Auth" = [])),
    params(GroupPath),
    responses((status = 200, body = GroupAnswer), (status = 403, body = Message)))]
async fn get_group(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(GroupPath { group_id }): PathParam<GroupPath>,
) -> AppResult<Json<GroupAnswer>> {
    let group = find_group(&state, group_id).await?;
    let related = group.owner_id == Some(caller.user_id)
        || state.db.is_member(group_id, caller.user_id).await?
        || state.db.is_invited(group_id, caller.user_id).await?;
    if !related {
        return Err(AppError::forbidden("You are not a member of this group"));
    }
    answer(&state, group, caller.user_id, "Group data sent").await
}

/// G3: the owner deletes the group; a member leaves it.
#[utoipa::path(delete, path = "/{group_id}", tag = "group", security(("Bearer Auth" = [])),
    params(GroupPath),
    responses((status = 204), (status = 403, body = Message)))]
async fn delete_group(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(GroupPath { group_id }): PathParam<GroupPath>,
) -> AppResult<StatusCode> {
    let group = find_group(&state, group_id).await?;
    if group.owner_id == Some(caller.user_id) {
        state.db.delete_group(group_id).await?;
    } else if !state.db.remove_member(group_id, caller.user_id).await? {
        return Err(AppError::forbidden("You are not a member of this group"));
    }
    state.announced(ListChange::Memberships);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    /// The invitee's uuid.
    #[schema(schema_with = validate::uuid_schema)]
    pub uuid: String,
}

impl Body for InviteBody {}

/// G4: the owner invites a user.
#[utoipa::path(post, path = "/{group_id}/invitations", tag = "group", security(("Bearer Auth" = [])),
    params(GroupPath), request_body = InviteBody,
    responses((status = 200, body = GroupAnswer), (status = 403, body = Message)))]
async fn invite(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(GroupPath { group_id }): PathParam<GroupPath>,
    Valid(body): Valid<InviteBody>,
) -> AppResult<Json<GroupAnswer>> {
    let group = find_group(&state, group_id).await?;
    if group.owner_id != Some(caller.user_id) {
        return Err(AppError::forbidden(
            "Unable to invite member to a not owned group",
        ));
    }
    let invitee = member(&state, &body.uuid).await?;
    if state.db.is_invited(group_id, invitee.user_id).await? {
        return Err(AppError::bad_request("Invitation already sended !"));
    }
    if state.db.is_member(group_id, invitee.user_id).await? {
        return Err(AppError::bad_request(
            "User is already a member of this group !",
        ));
    }
    if invitee.user_id == caller.user_id {
        return Err(AppError::bad_request(
            "You can not invite yourself to your group !",
        ));
    }
    state.db.invite(group_id, invitee.user_id).await?;
    state.announced(ListChange::Memberships);
    answer(&state, group, caller.user_id, "User invited to group").await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InvitationPath {
    #[param(example = json!(demo::FIRST_ID))]
    group_id: i64,
    #[param(example = json!(demo::USER_UUID))]
    user_uuid: String,
}

/// The group and the invitee's user id an invitation path names.
async fn invitation(state: &AppState, path: &InvitationPath) -> AppResult<(Group, i64)> {
    let group = find_group(state, path.group_id).await?;
    let invitee = member(state, &path.user_uuid).await?;
    Ok((group, invitee.user_id))
}

/// 404 when there was no invitation to accept or withdraw.
fn invitation_found(found: bool) -> AppResult<()> {
    if found {
        Ok(())
    } else {
        Err(AppError::not_found("Invitation not found !"))
    }
}

/// G5: the invitee accepts and becomes a member.
#[utoipa::path(put, path = "/{group_id}/invitations/{user_uuid}", tag = "group", security(("Bearer Auth" = [])),
    params(InvitationPath),
    responses((status = 200, body = GroupAnswer), (status = 403, body = Message)))]
async fn accept_invitation(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(path): PathParam<InvitationPath>,
) -> AppResult<Json<GroupAnswer>> {
    let (group, invitee) = invitation(&state, &path).await?;
    if invitee != caller.user_id {
        return Err(AppError::forbidden(
            "Unable to accept an invitation that is not intended to you",
        ));
    }
    invitation_found(state.db.accept_invitation(path.group_id, invitee).await?)?;
    state.announced(ListChange::Memberships);
    answer(&state, group, caller.user_id, "Member add to group").await
}

/// G6: the invitee declines, or the owner withdraws, an invitation.
#[utoipa::path(delete, path = "/{group_id}/invitations/{user_uuid}", tag = "group", security(("Bearer Auth" = [])),
    params(InvitationPath),
    responses((status = 204), (status = 403, body = Message)))]
async fn delete_invitation(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(path): PathParam<InvitationPath>,
) -> AppResult<StatusCode> {
    let (group, invitee) = invitation(&state, &path).await?;
    if invitee != caller.user_id && group.owner_id != Some(caller.user_id) {
        return Err(AppError::forbidden(
            "Unable to delete an invitation that is not intended to you if you are not the group owner",
        ));
    }
    invitation_found(state.db.delete_invitation(path.group_id, invitee).await?)?;
    state.announced(ListChange::Memberships);
    Ok(StatusCode::NO_CONTENT)
}

/// The owner removes a member (an addition to the original, D34).
#[utoipa::path(delete, path = "/{group_id}/members/{user_uuid}", tag = "group", security(("Bearer Auth" = [])),
    params(InvitationPath),
    responses((status = 204), (status = 403, body = Message)))]
async fn remove_member(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(path): PathParam<InvitationPath>,
) -> AppResult<StatusCode> {
    let group = find_group(&state, path.group_id).await?;
    if group.owner_id != Some(caller.user_id) {
        return Err(AppError::forbidden("Only the owner can remove a member"));
    }
    let target = member(&state, &path.user_uuid).await?;
    if !state
        .db
        .remove_member(path.group_id, target.user_id)
        .await?
    {
        return Err(AppError::not_found("Member not found!"));
    }
    state.announced(ListChange::Memberships);
    Ok(StatusCode::NO_CONTENT)
}
