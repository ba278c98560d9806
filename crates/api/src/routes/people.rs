//! The rest of `/api/user`: onboarding, search, liked genres, export (spec §7 U4–U9).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use recofinement_domain::{Listing, Page, Permission};
use recofinement_store::changes::ListChange;
use recofinement_store::users as stored;

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::extract::{ListPage, PageQuery, PathParam};
use crate::openapi::demo;
use crate::routes::schema::{
    ContentAnswer, EmptyObject, Genre, GroupBase, Message, Meta, PageAnswer, UserBase, wire,
};
use crate::state::AppState;
use crate::wire_row;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(preferences_defined))
        .routes(routes!(search_users))
        .routes(routes!(liked_genres))
        .routes(routes!(like_genre, unlike_genre))
        .routes(routes!(export))
}

/// U4: the caller finished choosing their interests.
#[utoipa::path(put, path = "/preferences_defined", tag = "user", security(("Bearer Auth" = [])),
    responses((status = 201, body = Message), (status = 403, body = Message)))]
async fn preferences_defined(
    State(state): State<AppState>,
    caller: AuthUser,
) -> AppResult<(StatusCode, Json<Message>)> {
    caller.require(&state, Permission::ModifyUserProfil).await?;
    state.db.set_preferences_defined(caller.user_id).await?;
    state.announced(ListChange::Account {
        user_id: caller.user_id,
    });
    state.engine_hooks.user_changed(caller.user_id);
    Ok(Message::created("User updated successfully"))
}

/// U5: users whose name contains the term (e-mails of others are not shown).
#[utoipa::path(get, path = "/search/{search_term}", tag = "user", security(("Bearer Auth" = [])),
    params(("search_term" = String, Path, example = json!(demo::USER_TERM)), PageQuery),
    responses((status = 200, body = PageAnswer<UserBase>)))]
async fn search_users(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(term): PathParam<String>,
    ListPage(page): ListPage,
) -> AppResult<Json<PageAnswer<UserBase>>> {
    if term.chars().count() > 255 {
        return Err(AppError::validation(
            "search_term: Longer than maximum length 255.",
        ));
    }
    let users = state.db.search_users(&term, page).await?;
    let entry = |user: stored::User| UserBase::seen_by(&user, caller.user_id);
    Ok(PageAnswer::of("User data sent", users, page, entry))
}

/// U6: the genres the caller likes.
#[utoipa::path(get, path = "/genre", tag = "user", security(("Bearer Auth" = [])),
    responses((status = 200, body = ContentAnswer<Vec<Genre>>)))]
async fn liked_genres(
    State(state): State<AppState>,
    caller: AuthUser,
) -> AppResult<Json<ContentAnswer<Vec<Genre>>>> {
    let content = wire(state.db.liked_genres(caller.user_id).await?);
    Ok(ContentAnswer::sent("User liked genre sent", content))
}

/// A genre named in the path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GenrePath {
    #[param(example = json!(demo::GENRE_ID))]
    genre_id: i64,
}

/// The caller may change their interests, and the genre exists.
async fn may_change_interest(state: &AppState, caller: &AuthUser, genre_id: i64) -> AppResult<()> {
    caller.require(state, Permission::ModifyUserProfil).await?;
    known_genre(state, genre_id).await
}

/// 404 unless the genre exists.
pub async fn known_genre(state: &AppState, genre_id: i64) -> AppResult<()> {
    state
        .db
        .genre(genre_id)
        .await?
        .map(drop)
        .ok_or_else(|| AppError::not_found("Genre not found!"))
}

/// U7: like a genre (liking twice is harmless).
#[utoipa::path(put, path = "/genre/{genre_id}", tag = "user", security(("Bearer Auth" = [])),
    params(GenrePath),
    responses((status = 201, body = Message), (status = 403, body = Message)))]
async fn like_genre(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(GenrePath { genre_id }): PathParam<GenrePath>,
) -> AppResult<(StatusCode, Json<Message>)> {
    may_change_interest(&state, &caller, genre_id).await?;
    state.db.like_genre(caller.user_id, genre_id).await?;
    state.engine_hooks.user_changed(caller.user_id);
    Ok(Message::created("User liked this genre"))
}

/// U8: unlike a genre.
#[utoipa::path(delete, path = "/genre/{genre_id}", tag = "user", security(("Bearer Auth" = [])),
    params(GenrePath),
    responses((status = 201, body = Message), (status = 400, body = Message), (status = 403, body = Message)))]
async fn unlike_genre(
    State(state): State<AppState>,
    caller: AuthUser,
    PathParam(GenrePath { genre_id }): PathParam<GenrePath>,
) -> AppResult<(StatusCode, Json<Message>)> {
    may_change_interest(&state, &caller, genre_id).await?;
    if !state.db.unlike_genre(caller.user_id, genre_id).await? {
        return Err(AppError::bad_request("You didn't like this genre"));
    }
    state.engine_hooks.user_changed(caller.user_id);
    Ok(Message::created("User unliked this genre"))
}

/// Everything the service holds about a user (U9).
#[derive(Serialize, ToSchema)]
pub struct UserExport {
    pub uuid: String,
    pub email: Option<String>,
    pub username: String,
    pub preferences_defined: bool,
    pub role: EmptyObject,
    /// Names of the roles the account holds.
    pub roles: Vec<String>,
    pub groups: Vec<GroupBase>,
    pub invitations: Vec<GroupBase>,
    pub owned_groups: Vec<GroupBase>,
    pub liked_genres: Vec<Genre>,
    pub linked_services: Vec<LinkedService>,
    pub meta_user_content: Vec<ExportedMeta>,
    pub bad_recommendations: Vec<ExportedFlag>,
    /// Sandbox profiles the user owns (name and uuid).
    #[schema(value_type = Vec<Object>)]
    pub profiles: Vec<serde_json::Value>,
}

wire_row! {
    /// One interaction of the export: the item and the caller's values.
    pub struct ExportedMeta from stored::ExportedMeta {
        pub content_id: i64,
        #[serde(flatten)]
        pub meta: Meta,
    }
}

wire_row! {
    /// An item the caller flagged as a bad recommendation, and why.
    pub struct ExportedFlag from stored::ExportedFlag {
        pub content_id: i64,
        pub reason_categorie: String,
        pub reason: String,
    }
}

wire_row! {
    /// A linked service (Spotify, Google Books…), without its tokens.
    pub struct LinkedService from stored::LinkedService {
        pub service_id: i64,
        pub service_name: String,
    }
}

#[derive(Serialize, ToSchema)]
pub struct ExportAnswer {
    pub status: bool,
    pub message: String,
    pub user: UserExport,
}

/// U9: export one's data (account, roles, interests, interactions, groups, flags, linked services without secrets).
#[utoipa::path(get, path = "/export", tag = "user", security(("Bearer Auth" = [])),
    responses((status = 200, body = ExportAnswer)))]
async fn export(State(state): State<AppState>, caller: AuthUser) -> AppResult<Json<ExportAnswer>> {
    let db = &state.db;
    let user = db
        .user_by_id(caller.user_id)
        .await?
        .ok_or_else(AppError::user_not_found)?;
    let groups = db.user_groups(user.user_id).await?;
    let mut profiles = Vec::new();
    let mut page = Page(1);
    loop {
        let Listing { rows, total } = db.profiles_of(user.user_id, page).await?;
        profiles.extend(
            rows.into_iter()
                .map(|p| serde_json::json!({"uuid": p.uuid, "profilename": p.profilename})),
        );
        if page.0 * Page::SIZE >= total {
            break;
        }
        page = Page(page.0 + 1);
    }
    let export = UserExport {
        roles: db.role_names(user.user_id).await?,
        groups: wire(groups.groups),
        invitations: wire(groups.invitations),
        owned_groups: wire(groups.owned_groups),
        liked_genres: wire(db.liked_genres(user.user_id).await?),
        linked_services: wire(db.linked_services(user.user_id).await?),
        meta_user_content: wire(db.user_metas(user.user_id).await?),
        bad_recommendations: wire(db.user_flags(user.user_id).await?),
        profiles,
        uuid: user.uuid,
        email: user.email,
        username: user.username,
        preferences_defined: user.preferences_defined,
        role: EmptyObject {},
    };
    Ok(Json(ExportAnswer {
        status: true,
        message: "User data exported".into(),
        user: export,
    }))
}
