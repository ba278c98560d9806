//! `/api/profile`: administrators' sandbox profiles, their genres and
//! interactions, and the history of engine runs for them (spec §9). Every
//! endpoint needs `access_sandbox` and ownership; another administrator's
//! profile is "Profile not found!" (D4).

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{Datelike, NaiveDateTime, Timelike};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use recofinement_domain::media::{self, MediaSpec};
use recofinement_domain::{ContentKind, Permission, validate};
use recofinement_store::catalogue::Item;
use recofinement_store::profiles::{MetaSource, Profile, ProfileMeta};

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, OnConflict};
use crate::extract::{Body, ListPage, PageQuery, PathParam, Valid, parse_uuid};
use crate::openapi::demo;
use crate::routes::items::beside;
use crate::routes::people::known_genre;
use crate::routes::schema::{ContentAnswer, Genre, Message, PageAnswer, wire};
use crate::state::AppState;
use crate::wire::format_option;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_profiles, create_profile))
        .routes(routes!(get_profile, rename_profile, delete_profile))
        .routes(routes!(profile_genres))
        .routes(routes!(like_profile_genre, unlike_profile_genre))
        .routes(routes!(set_meta))
        .routes(routes!(list_metas))
        .routes(routes!(profile_history))
        .routes(routes!(history_genres))
        .routes(routes!(history_results))
        .routes(routes!(history_metas))
}

/// A request about one of the caller's profiles: the caller and the path
/// `P` that names the profile. [`ProfileRequest::owned`] checks ownership
/// in the handler, after the body is read, so that a malformed body is a
/// 400 before any lookup, as the original validated first.
pub struct ProfileRequest<P = ProfilePath> {
    caller: AuthUser,
    path: P,
}

/// A path that names a profile by its uuid.
pub trait NamesProfile {
    fn profile_uuid(&self) -> &str;
}

impl<P: DeserializeOwned + Send> FromRequestParts<AppState> for ProfileRequest<P> {
    type Rejection = AppError;

    /// The caller first (401), then the path's shape (404).
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        let caller = AuthUser::from_request_parts(parts, state).await?;
        let PathParam(path) = PathParam::<P>::from_request_parts(parts, state).await?;
        Ok(ProfileRequest { caller, path })
    }
}

impl<P: NamesProfile> ProfileRequest<P> {
    /// The profile, after the permission check, and the rest of the path.
    /// Another administrator's profile is "Profile not found!", as is a
    /// malformed uuid (D4).
    async fn owned(self, state: &AppState) -> AppResult<(Profile, P)> {
        let not_found = || AppError::not_found("Profile not found!");
        let uuid = parse_uuid(self.path.profile_uuid()).ok_or_else(not_found)?;
        let profile = state
            .db
            .owned_profile(self.caller.user_id, &uuid)
            .await?
            .ok_or_else(not_found)?;
        self.caller
            .require(state, Permission::AccessSandbox)
            .await?;
        Ok((profile, self.path))
    }
}

fn kind_spec(name: &str) -> AppResult<&'static MediaSpec> {
    ContentKind::parse(name)
        .filter(|k| k.as_str() == name)
        .map(media::spec)
        .ok_or_else(|| AppError::not_found("Not found"))
}

#[derive(Serialize, ToSchema)]
pub struct ProfileBase {
    pub uuid: String,
    pub profilename: String,
}

impl From<&Profile> for ProfileBase {
    fn from(p: &Profile) -> Self {
        ProfileBase {
            uuid: p.uuid.clone(),
            profilename: p.profilename.clone(),
        }
    }
}

/// P1: the caller's profiles.
#[utoipa::path(get, path = "", tag = "profile", security(("Bearer Auth" = [])), params(PageQuery),
    responses((status = 200, body = PageAnswer<ProfileBase>), (status = 403, body = Message)))]
async fn list_profiles(
    State(state): State<AppState>,
    caller: AuthUser,
    ListPage(page): ListPage,
) -> AppResult<Json<PageAnswer<ProfileBase>>> {
    caller.require(&state, Permission::AccessSandbox).await?;
    let profiles = state.db.profiles_of(caller.user_id, page).await?;
    let entry = |profile: Profile| ProfileBase::from(&profile);
    Ok(PageAnswer::of("Profile data sent", profiles, page, entry))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    /// 1 to 45 characters, unique among the caller's profiles.
    #[schema(schema_with = validate::profile_name_schema)]
    pub profilename: String,
}

impl Body for ProfileBody {}

const DUPLICATE_NAME: &str = "You have already created a profile with this name!";

#[derive(Serialize, ToSchema)]
pub struct ProfileAnswer {
    pub status: bool,
    pub message: String,
    pub profile: ProfileBase,
}

/// P2: create a profile.
#[utoipa::path(post, path = "", tag = "profile", security(("Bearer Auth" = [])), request_body = ProfileBody,
    responses((status = 201, body = ProfileAnswer), (status = 403, body = Message)))]
async fn create_profile(
    State(state): State<AppState>,
    caller: AuthUser,
    Valid(body): Valid<ProfileBody>,
) -> AppResult<(StatusCode, Json<ProfileAnswer>)> {
    caller.require(&state, Permission::AccessSandbox).await?;
    let profile = state
        .db
        .create_profile(caller.user_id, body.profilename.trim())
        .await
        .on_conflict(|| AppError::bad_request(DUPLICATE_NAME))?;
    let answer = ProfileAnswer {
        status: true,
        message: "Profile created".into(),
        profile: (&profile).into(),
    };
    Ok((StatusCode::CREATED, Json(answer)))
}

#[derive(Serialize, ToSchema)]
pub struct ProfileObject {
    pub uuid: String,
    pub profilename: String,
    pub liked_genres: Vec<Genre>,
}

#[derive(Serialize, ToSchema)]
pub struct ProfileObjectAnswer {
    pub status: bool,
    pub message: String,
    pub profile: ProfileObject,
}

/// P3: read a profile with its genres.
#[utoipa::path(get, path = "/{profile_uuid}", tag = "profile", security(("Bearer Auth" = [])),
    params(ProfilePath),
    responses((status = 200, body = ProfileObjectAnswer), (status = 403, body = Message)))]
async fn get_profile(
    State(state): State<AppState>,
    request: ProfileRequest,
) -> AppResult<Json<ProfileObjectAnswer>> {
    let (profile, _) = request.owned(&state).await?;
    let liked_genres = wire(state.db.profile_genres(profile.profile_id).await?);
    Ok(Json(ProfileObjectAnswer {
        status: true,
        message: "Profile data sent".into(),
        profile: ProfileObject {
            uuid: profile.uuid,
            profilename: profile.profilename,
            liked_genres,
        },
    }))
}

/// P4: rename a profile.
#[utoipa::path(patch, path = "/{profile_uuid}", tag = "profile", security(("Bearer Auth" = [])),
    params(ProfilePath), request_body = ProfileBody,
    responses((status = 201, body = Message)))]
async fn rename_profile(
    State(state): State<AppState>,
    request: ProfileRequest,
    Valid(body): Valid<ProfileBody>,
) -> AppResult<(StatusCode, Json<Message>)> {
    let (profile, _) = request.owned(&state).await?;
    state
        .db
        .rename_profile(profile.profile_id, body.profilename.trim())
        .await
        .on_conflict(|| AppError::bad_request(DUPLICATE_NAME))?;
    Ok(Message::created("Profile updated successfully"))
}

/// P5: delete a profile and its whole history.
#[utoipa::path(delete, path = "/{profile_uuid}", tag = "profile", security(("Bearer Auth" = [])),
    params(ProfilePath),
    responses((status = 201, body = Message)))]
async fn delete_profile(
    State(state): State<AppState>,
    request: ProfileRequest,
) -> AppResult<(StatusCode, Json<Message>)> {
    let (profile, _) = request.owned(&state).await?;
    state.db.delete_profile(profile.profile_id).await?;
    Ok(Message::created("Profile deleted successfully"))
}

/// P6: the profile's liked genres.
#[utoipa::path(get, path = "/{profile_uuid}/genre", tag = "profile", security(("Bearer Auth" = [])),
    params(ProfilePath),
    responses((status = 200, body = ContentAnswer<Vec<Genre>>)))]
async fn profile_genres(
    State(state): State<AppState>,
    request: ProfileRequest,
) -> AppResult<Json<ContentAnswer<Vec<Genre>>>> {
    let (profile, _) = request.owned(&state).await?;
    let content = wire(state.db.profile_genres(profile.profile_id).await?);
    Ok(ContentAnswer::sent("Profile liked genre sent", content))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProfilePath {
    #[param(example = json!(demo::PROFILE_UUID))]
    profile_uuid: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GenrePath {
    #[param(example = json!(demo::PROFILE_UUID))]
    profile_uuid: String,
    #[param(example = json!(demo::GENRE_ID))]
    genre_id: i64,
}

/// P7: the profile likes a genre (idempotent).
#[utoipa::path(put, path = "/{profile_uuid}/genre/{genre_id}", tag = "profile", security(("Bearer Auth" = [])),
    params(GenrePath),
    responses((status = 201, body = Message)))]
async fn like_profile_genre(
    State(state): State<AppState>,
    request: ProfileRequest<GenrePath>,
) -> AppResult<(StatusCode, Json<Message>)> {
    let (profile, path) = request.owned(&state).await?;
    known_genre(&state, path.genre_id).await?;
    state
        .db
        .like_profile_genre(profile.profile_id, path.genre_id)
        .await?;
    Ok(Message::created("Profile liked this genre"))
}

/// P8: the profile unlikes a genre.
#[utoipa::path(delete, path = "/{profile_uuid}/genre/{genre_id}", tag = "profile", security(("Bearer Auth" = [])),
    params(GenrePath),
    responses((status = 201, body = Message), (status = 400, body = Message)))]
async fn unlike_profile_genre(
    State(state): State<AppState>,
    request: ProfileRequest<GenrePath>,
) -> AppResult<(StatusCode, Json<Message>)> {
    let (profile, path) = request.owned(&state).await?;
    known_genre(&state, path.genre_id).await?;
    if !state
        .db
        .unlike_profile_genre(profile.profile_id, path.genre_id)
        .await?
    {
        return Err(AppError::bad_request("You didn't like this genre"));
    }
    Ok(Message::created("Profile unliked this genre"))
}

/// The six values of a profile's interaction (P9). Dates are ISO 8601.
#[derive(Deserialize, ToSchema)]
pub struct ProfileMetaBody {
    /// 0 to 5.
    #[schema(required = true, nullable = false, minimum = 0, maximum = 5)]
    pub rating: Option<i64>,
    #[schema(format = DateTime)]
    pub last_rating_date: String,
    #[schema(minimum = 0, maximum = 2147483647)]
    pub review_see_count: i64,
    #[schema(format = DateTime)]
    pub last_review_see_date: String,
    #[schema(minimum = 0, maximum = 2147483647)]
    pub count: i64,
    #[schema(format = DateTime)]
    pub last_count_increment: String,
}

/// The dates are parsed here: a pattern cannot tell a 31 February.
impl Body for ProfileMetaBody {
    fn check(&self, errors: &mut Vec<String>) {
        for (name, value) in [
            ("last_rating_date", &self.last_rating_date),
            ("last_review_see_date", &self.last_review_see_date),
            ("last_count_increment", &self.last_count_increment),
        ] {
            if parse_time(value).is_none() {
                errors.push(format!("{name}: Not a valid datetime."));
            }
        }
    }
}

/// ISO 8601 with or without an offset, converted to naive UTC. Only
/// years 1 to 9999 and no leap second: what both databases store alike
/// (PostgreSQL refuses -5000 with an error and folds second 60 into the
/// next minute; SQLite keeps both as written).
pub fn parse_time(value: &str) -> Option<NaiveDateTime> {
    let time = chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.naive_utc())
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f").ok())
        .or_else(|| NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S%.f").ok())?;
    let storable = (1..=9999).contains(&time.year()) && time.nanosecond() < 1_000_000_000;
    storable.then_some(time)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ContentPath {
    #[param(example = json!(demo::PROFILE_UUID))]
    profile_uuid: String,
    #[param(example = json!(demo::MOVIE_ID))]
    content_id: i64,
}

/// P9: set the profile's interaction with an item.
#[utoipa::path(put, path = "/{profile_uuid}/content/{content_id}/meta", tag = "profile", security(("Bearer Auth" = [])),
    params(ContentPath), request_body = ProfileMetaBody,
    responses((status = 201, body = Message)))]
async fn set_meta(
    State(state): State<AppState>,
    request: ProfileRequest<ContentPath>,
    Valid(body): Valid<ProfileMetaBody>,
) -> AppResult<(StatusCode, Json<Message>)> {
    let (profile, path) = request.owned(&state).await?;
    state
        .db
        .content_type_of(path.content_id)
        .await?
        .ok_or_else(|| AppError::not_found("Content not found!"))?;
    let meta = ProfileMeta {
        rating: body.rating,
        last_rating_date: parse_time(&body.last_rating_date),
        review_see_count: Some(body.review_see_count),
        last_review_see_date: parse_time(&body.last_review_see_date),
        count: Some(body.count),
        last_count_increment: parse_time(&body.last_count_increment),
    };
    state
        .db
        .set_profile_meta(profile.profile_id, path.content_id, &meta)
        .await?;
    Ok(Message::created("Meta successfully updated"))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct KindPath {
    #[param(example = json!(demo::PROFILE_UUID))]
    profile_uuid: String,
    /// The media kind.
    #[param(inline, value_type = ContentKind, example = json!(demo::KIND))]
    ptype: String,
}

/// An item beside a profile's stored interaction with it, whose counters
/// may be null (unlike a user's).
fn meta_beside(spec: &MediaSpec, (item, meta): (Item, ProfileMeta)) -> Value {
    let values = json!({
        "rating": meta.rating,
        "last_rating_date": format_option(meta.last_rating_date),
        "review_see_count": meta.review_see_count,
        "last_review_see_date": format_option(meta.last_review_see_date),
        "count": meta.count,
        "last_count_increment": format_option(meta.last_count_increment),
    });
    beside(spec, (item, values))
}

/// P10: the profile's interactions with items of one kind.
#[utoipa::path(get, path = "/{profile_uuid}/{ptype}/meta", tag = "profile", security(("Bearer Auth" = [])),
    params(KindPath, PageQuery),
    responses((status = 200, body = PageAnswer)))]
async fn list_metas(
    State(state): State<AppState>,
    request: ProfileRequest<KindPath>,
    ListPage(page): ListPage,
) -> AppResult<Json<PageAnswer>> {
    let spec = kind_spec(&request.path.ptype)?;
    let (profile, _) = request.owned(&state).await?;
    let metas = state
        .db
        .profile_meta_page(spec, MetaSource::Profile(profile.profile_id), page)
        .await?;
    let message = format!("Profile's meta {} data sent", spec.table);
    Ok(PageAnswer::of(message, metas, page, |row| {
        meta_beside(spec, row)
    }))
}

/// P11: the profile's runs, newest first.
#[utoipa::path(get, path = "/{profile_uuid}/history", tag = "profile", security(("Bearer Auth" = [])),
    params(ProfilePath, PageQuery),
    responses((status = 200, body = PageAnswer)))]
async fn profile_history(
    State(state): State<AppState>,
    request: ProfileRequest,
    ListPage(page): ListPage,
) -> AppResult<Json<PageAnswer>> {
    let (profile, _) = request.owned(&state).await?;
    let runs = state.db.runs(profile.profile_id, page).await?;
    let base = json!({"uuid": profile.uuid, "profilename": profile.profilename});
    Ok(PageAnswer::of(HISTORY_SENT, runs, page, |run| {
        json!({
            "id": run.id,
            "occured_at": crate::wire::format(&run.occured_at),
            "status": run.status,
            "profile": base,
        })
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RunPath {
    #[param(example = json!(demo::PROFILE_UUID))]
    profile_uuid: String,
    /// A run of the profile (its recommendation history).
    #[param(example = json!(demo::FIRST_ID))]
    id: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RunKindPath {
    #[param(example = json!(demo::PROFILE_UUID))]
    profile_uuid: String,
    /// A run of the profile (its recommendation history).
    #[param(example = json!(demo::FIRST_ID))]
    id: i64,
    /// The media kind.
    #[param(inline, value_type = ContentKind, example = json!(demo::KIND))]
    ptype: String,
}

/// Each path of a profile's endpoints names the profile the same way.
macro_rules! names_profile {
    ($($path:ty),*) => {$(
        impl NamesProfile for $path {
            fn profile_uuid(&self) -> &str {
                &self.profile_uuid
            }
        }
    )*};
}
names_profile!(
    ProfilePath,
    GenrePath,
    ContentPath,
    KindPath,
    RunPath,
    RunKindPath
);

/// What a run's pages answer (the original's wording).
const HISTORY_SENT: &str = "Recommendation history data sent";

/// The path's kind and its run of the caller's profile.
async fn run_of_kind(
    state: &AppState,
    request: ProfileRequest<RunKindPath>,
) -> AppResult<(&'static MediaSpec, i64)> {
    let spec = kind_spec(&request.path.ptype)?;
    let (profile, path) = request.owned(state).await?;
    let run = run_of(state, &profile, path.id).await?;
    Ok((spec, run))
}

/// The run `id`, if it is one of `profile`'s.
async fn run_of(state: &AppState, profile: &Profile, id: i64) -> AppResult<i64> {
    let run = state
        .db
        .run(id)
        .await?
        .ok_or_else(|| AppError::not_found("Event not found!"))?;
    if run.profile_id != Some(profile.profile_id) {
        return Err(AppError::forbidden("Can not access to an not owned event!"));
    }
    Ok(run.id)
}

/// P12: the genres the profile liked when the run was launched.
#[utoipa::path(get, path = "/{profile_uuid}/history/{id}/genres", tag = "profile", security(("Bearer Auth" = [])),
    params(RunPath, PageQuery),
    responses((status = 200, body = PageAnswer), (status = 403, body = Message)))]
async fn history_genres(
    State(state): State<AppState>,
    request: ProfileRequest<RunPath>,
    ListPage(page): ListPage,
) -> AppResult<Json<PageAnswer>> {
    let (profile, path) = request.owned(&state).await?;
    let run = run_of(&state, &profile, path.id).await?;
    let genres = state.db.run_genres(run, page).await?;
    let message = "Recommendation history liked genres data sent";
    Ok(PageAnswer::of(
        message,
        genres,
        page,
        |(name, kind)| json!({"name": name, "content_type": kind.map(|k| k.to_lowercase())}),
    ))
}

/// P13: what the run recommended, of one kind, best first.
#[utoipa::path(get, path = "/{profile_uuid}/history/{id}/{ptype}/result", tag = "profile", security(("Bearer Auth" = [])),
    params(RunKindPath, PageQuery),
    responses((status = 200, body = PageAnswer), (status = 403, body = Message)))]
async fn history_results(
    State(state): State<AppState>,
    request: ProfileRequest<RunKindPath>,
    ListPage(page): ListPage,
) -> AppResult<Json<PageAnswer>> {
    let (spec, run) = run_of_kind(&state, request).await?;
    let results = state.db.run_results(spec, run, page).await?;
    Ok(PageAnswer::of(
        HISTORY_SENT,
        results,
        page,
        |(item, line)| {
            let values = json!({"score": line.score, "engine": line.engine});
            beside(spec, (item, values))
        },
    ))
}

/// P14: the profile's interactions of one kind when the run was launched.
#[utoipa::path(get, path = "/{profile_uuid}/history/{id}/{ptype}/meta", tag = "profile", security(("Bearer Auth" = [])),
    params(RunKindPath, PageQuery),
    responses((status = 200, body = PageAnswer), (status = 403, body = Message)))]
async fn history_metas(
    State(state): State<AppState>,
    request: ProfileRequest<RunKindPath>,
    ListPage(page): ListPage,
) -> AppResult<Json<PageAnswer>> {
    let (spec, run) = run_of_kind(&state, request).await?;
    let metas = state
        .db
        .profile_meta_page(spec, MetaSource::Run(run), page)
        .await?;
    Ok(PageAnswer::of(HISTORY_SENT, metas, page, |row| {
        meta_beside(spec, row)
    }))
}
