//! The content API of the six media kinds, written once: every handler
//! reads the kind from the `{media}` path segment and its `MediaSpec`
//! (columns, search field, popular order, reasons, messages). `/api/movie`,
//! `/api/track`… are all served by these handlers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Query, RawPathParams, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use recofinement_domain::media::{self, MediaSpec, Shape};
use recofinement_domain::{ContentKind, EngineName, Listing, Page, Permission, validate};
use recofinement_store::StoreError;
use recofinement_store::audit::AuditAction;
use recofinement_store::catalogue::{Item, RecoTarget};
use recofinement_store::changes::ListChange;
use recofinement_store::interactions::MetaPatch;
use recofinement_store::submissions::AcceptError;

use crate::auth::AuthUser;
use crate::auth::throttle::Throttle;
use crate::cache::{Tag, Tagged};
use crate::error::{AppError, AppResult, OnConflict};
use crate::extract::{JsonObject, ListPage, PageQuery, PathParam, schema_of};
use crate::openapi::demo;
use crate::routes::items::{episode_json, played_json, shaped};
use crate::routes::proposal;
use crate::routes::schema::{ContentAnswer, Genre, JsonEntry, Message, Meta, PageAnswer, wire};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(popular, submit))
        .routes(routes!(search))
        .routes(routes!(for_user))
        .routes(routes!(for_groups))
        .routes(routes!(genres))
        .routes(routes!(episodes))
        .routes(routes!(history))
        .routes(routes!(view_meta, patch_meta))
        .routes(routes!(bad_recommendation))
        .routes(routes!(list_additional))
        .routes(routes!(accept_additional, decline_additional))
}

/// The media kind named by the `{media}` path segment; anything else is 404.
pub struct Media(pub &'static MediaSpec);

impl<S: Send + Sync> FromRequestParts<S> for Media {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::not_found("Not found"))?;
        params
            .iter()
            .find(|(name, _)| *name == "media")
            .and_then(|(_, value)| ContentKind::parse(value).filter(|k| k.as_str() == value))
            .map(|kind| Media(media::spec(kind)))
            .ok_or_else(|| AppError::not_found("Not found"))
    }
}

/// The media kind and the rest of the path, `P`.
pub struct MediaPath<P>(pub &'static MediaSpec, pub P);

impl<S: Send + Sync, P: DeserializeOwned + Send> FromRequestParts<S> for MediaPath<P> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Media(spec) = Media::from_request_parts(parts, state).await?;
        let PathParam(rest) = PathParam::<P>::from_request_parts(parts, state).await?;
        Ok(MediaPath(spec, rest))
    }
}

/// The media kind and the page asked for, as every list of a kind reads them.
pub struct MediaPage(pub &'static MediaSpec, pub Page);

impl<S: Send + Sync> FromRequestParts<S> for MediaPage {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Media(spec) = Media::from_request_parts(parts, state).await?;
        let ListPage(page) = ListPage::from_request_parts(parts, state).await?;
        Ok(MediaPage(spec, page))
    }
}

/// `{content_id}`: one item.
#[derive(Deserialize)]
pub struct ItemPath {
    content_id: i64,
}

/// `{id}`: one pending item.
#[derive(Deserialize)]
pub struct PendingPath {
    id: i64,
}

/// `{term}`: what a search looks for.
#[derive(Deserialize)]
pub struct SearchPath {
    term: String,
}

impl PageAnswer {
    /// A page of items in the list's shape.
    async fn items(
        state: &AppState,
        spec: &MediaSpec,
        shape: Shape,
        message: impl Into<String>,
        items: Listing<Item>,
        page: Page,
    ) -> AppResult<Json<PageAnswer>> {
        let content = shaped(&state.db, spec, shape, items.rows).await?;
        Ok(Self::new(message, content, page, items.total))
    }
}

/// Which media kind: `application`, `book`, `game`, `movie`, `serie` or `track`.
#[derive(Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MediaParam {
    /// The media kind.
    #[param(inline, example = json!(demo::KIND))]
    pub media: ContentKind,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecoQuery {
    /// Keep only the recommendations of this engine (`FromProfile`, `FromSimilarContent`, `CollaborativeFiltering`…).
    pub reco_engine: Option<String>,
}

impl RecoQuery {
    /// The engine to keep: `Some(None)` keeps every engine; `None` for a
    /// name that is no engine, which, as in the original, matches nothing.
    fn engine(&self) -> Option<Option<EngineName>> {
        match &self.reco_engine {
            None => Some(None),
            Some(name) => EngineName::from_name(name).map(Some),
        }
    }
}

/// What a list of recommendations reads from the request: the kind, the
/// page and the engine filter.
pub struct RecoList {
    spec: &'static MediaSpec,
    page: Page,
    query: RecoQuery,
}

impl<S: Send + Sync> FromRequestParts<S> for RecoList {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let MediaPage(spec, page) = MediaPage::from_request_parts(parts, state).await?;
        let Query(query) = Query::<RecoQuery>::from_request_parts(parts, state)
            .await
            .map_err(|e| AppError::validation(e.body_text()))?;
        Ok(RecoList { spec, page, query })
    }
}

/// The empty page a filter that matches nothing answers.
const NO_ITEMS: Listing<Item> = Listing {
    rows: Vec::new(),
    total: 0,
};

/// E1: the most popular items of a kind.
#[utoipa::path(get, path = "/api/{media}", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam, PageQuery), responses((status = 200, body = PageAnswer)))]
async fn popular(
    State(state): State<AppState>,
    _caller: AuthUser,
    MediaPage(spec, page): MediaPage,
) -> AppResult<Response> {
    let key = format!("{}:popular:{}", spec.table, page.0);
    state
        .lists
        .get_or_insert(key, || async {
            let items = state.db.popular_items(spec, page).await?;
            let message = format!("Most popular {} data sent", spec.table);
            let answer =
                PageAnswer::items(&state, spec, spec.lists.popular_shape, message, items, page);
            tagged(spec, answer.await?.0)
        })
        .await
}

/// Serialises a page of the kind's popular order (or of a search, which
/// falls back to it) for the shared-lists cache, tagged with its items.
fn tagged(spec: &MediaSpec, answer: PageAnswer) -> AppResult<Tagged> {
    let mut tags: Vec<Tag> = answer
        .content
        .iter()
        .filter_map(|item| item.0.get("content_id").and_then(Value::as_i64))
        .map(Tag::Item)
        .collect();
    tags.push(Tag::Popular(spec.kind));
    let body = serde_json::to_vec(&answer).map_err(AppError::internal)?;
    Ok(Tagged {
        body: Bytes::from(body),
        tags,
    })
}

/// Longest search term accepted (AC-24).
const MAX_TERM_CHARS: usize = 255;

/// E2: items whose search field contains the term (case-insensitive, literal), prefix matches first.
#[utoipa::path(get, path = "/api/{media}/search/{term}", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam, ("term" = String, Path, description = "text to look for", example = json!(demo::TERM)), PageQuery),
    responses((status = 200, body = PageAnswer)))]
async fn search(
    State(state): State<AppState>,
    _caller: AuthUser,
    MediaPath(spec, path): MediaPath<SearchPath>,
    ListPage(page): ListPage,
) -> AppResult<Response> {
    if path.term.chars().count() > MAX_TERM_CHARS {
        return Err(AppError::validation(format!(
            "term: Longer than maximum length {MAX_TERM_CHARS}."
        )));
    }
    let key = format!("{}:search:{}:{}", spec.table, page.0, path.term);
    state
        .lists
        .get_or_insert(key, || async {
            let items = state.db.search_items(spec, &path.term, page).await?;
            let message = format!("{} data sent", spec.title);
            let answer =
                PageAnswer::items(&state, spec, spec.lists.search_shape, message, items, page);
            tagged(spec, answer.await?.0)
        })
        .await
}

/// E3: the caller's recommendations of a kind, best first (flagged and consumed items left out).
#[utoipa::path(get, path = "/api/{media}/user", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam, PageQuery, RecoQuery), responses((status = 200, body = PageAnswer)))]
async fn for_user(
    State(state): State<AppState>,
    caller: AuthUser,
    list: RecoList,
) -> AppResult<Json<PageAnswer>> {
    recommendations(&state, RecoTarget::User(caller.user_id), list).await
}

/// E4: recommendations for the groups the caller owns or belongs to, one entry per item.
#[utoipa::path(get, path = "/api/{media}/groups", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam, PageQuery, RecoQuery), responses((status = 200, body = PageAnswer)))]
async fn for_groups(
    State(state): State<AppState>,
    caller: AuthUser,
    list: RecoList,
) -> AppResult<Json<PageAnswer>> {
    recommendations(&state, RecoTarget::Groups(caller.user_id), list).await
}

/// A page of the target's recommendations of a kind.
async fn recommendations(
    state: &AppState,
    target: RecoTarget,
    RecoList { spec, page, query }: RecoList,
) -> AppResult<Json<PageAnswer>> {
    let message = format!("Most popular {} data sent", spec.table);
    let Some(engine) = query.engine() else {
        return PageAnswer::items(
            state,
            spec,
            spec.lists.popular_shape,
            message,
            NO_ITEMS,
            page,
        )
        .await;
    };
    let mut items = state
        .db
        .recommended_items(spec, target, engine, page)
        .await?;
    // Cold start: nothing computed yet for this person, so the popular
    // items of their declared genres stand in for the profile-based list.
    if let RecoTarget::User(user_id) = target
        && items.total == 0
        && matches!(engine, None | Some(EngineName::FromProfile))
    {
        items = state.db.cold_start_items(spec, user_id, page).await?;
    }
    PageAnswer::items(state, spec, spec.lists.popular_shape, message, items, page).await
}

/// E5: the genres of a kind, most popular first (not for books).
#[utoipa::path(get, path = "/api/{media}/genres", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam), responses((status = 200, body = ContentAnswer<Vec<Genre>>), (status = 403, body = Message)))]
async fn genres(
    State(state): State<AppState>,
    caller: AuthUser,
    Media(spec): Media,
) -> AppResult<Json<ContentAnswer<Vec<Genre>>>> {
    let needs_permission = spec
        .genres_route
        .ok_or_else(|| AppError::not_found("Not found"))?;
    if needs_permission {
        caller.require(&state, Permission::IndicateInterest).await?;
    }
    let content = wire(state.db.kind_genres(spec).await?);
    Ok(ContentAnswer::sent(spec.genres_message, content))
}

/// E6: the episodes of a serie, in season order (series only).
#[utoipa::path(get, path = "/api/{media}/{content_id}/episodes", tag = "content", security(("Bearer Auth" = [])),
    params(("media" = inline(ContentKind), Path, description = "The media kind (`serie`: others have no episodes).", example = json!("serie")),
        ("content_id" = i64, Path, example = json!(demo::SERIE_ID))),
    responses((status = 200, body = ContentAnswer<Vec<JsonEntry>>)))]
async fn episodes(
    State(state): State<AppState>,
    _caller: AuthUser,
    MediaPath(spec, path): MediaPath<ItemPath>,
) -> AppResult<Json<ContentAnswer<Vec<JsonEntry>>>> {
    if spec.kind != ContentKind::Serie {
        return Err(AppError::not_found("Not found"));
    }
    let episodes = state
        .db
        .episodes(path.content_id)
        .await?
        .ok_or_else(|| AppError::not_found("Serie not found!"))?;
    let content = episodes
        .into_iter()
        .map(|e| episode_json(e).into())
        .collect();
    Ok(ContentAnswer::sent("Series episodes data sent", content))
}

/// E7: the caller's listening history, last played first (tracks only).
#[utoipa::path(get, path = "/api/{media}/history", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam, PageQuery), responses((status = 200, body = PageAnswer)))]
async fn history(
    State(state): State<AppState>,
    caller: AuthUser,
    MediaPage(spec, page): MediaPage,
) -> AppResult<Json<PageAnswer>> {
    if spec.kind != ContentKind::Track {
        return Err(AppError::not_found("Not found"));
    }
    let Listing {
        rows: played,
        total,
    } = state.db.track_history(spec, caller.user_id, page).await?;
    let entries = played_json(&state.db, spec, played).await?;
    Ok(PageAnswer::new(
        "History of listened track data successfully updated",
        entries,
        page,
        total,
    ))
}

/// No item of the path's kind has the path's id.
fn item_not_found() -> AppError {
    AppError::not_found("Item not found!")
}

/// Checks that the content exists and is of the path's kind.
async fn item_of_kind(state: &AppState, spec: &MediaSpec, content_id: i64) -> AppResult<()> {
    match state.db.content_type_of(content_id).await? {
        Some(label) if label == spec.kind.label() => Ok(()),
        _ => Err(item_not_found()),
    }
}

/// E8: the caller's interaction with an item; reading it counts a view.
#[utoipa::path(get, path = "/api/{media}/{content_id}/meta", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam, ("content_id" = i64, Path, example = json!(demo::MOVIE_ID))),
    responses((status = 200, body = ContentAnswer<Meta>)))]
async fn view_meta(
    State(state): State<AppState>,
    caller: AuthUser,
    MediaPath(spec, path): MediaPath<ItemPath>,
) -> AppResult<Json<ContentAnswer<Meta>>> {
    item_of_kind(&state, spec, path.content_id).await?;
    let meta = state
        .db
        .view_item(caller.user_id, path.content_id, spec.kind)
        .await?;
    Ok(ContentAnswer::sent("Meta successfully sent", meta.into()))
}

/// Body of a rating or consumption (undeclared legacy fields are ignored).
#[derive(Deserialize, ToSchema)]
pub struct MetaBody {
    /// 0 to 5.
    #[schema(nullable = false, minimum = 0, maximum = 5)]
    pub rating: Option<i64>,
    /// How much was consumed (plays, episodes, hours).
    #[schema(nullable = false, minimum = 0, maximum = 1000000000)]
    pub additional_count: Option<f64>,
}

/// E9: rate the item and/or count a consumption.
#[utoipa::path(patch, path = "/api/{media}/{content_id}/meta", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam, ("content_id" = i64, Path, example = json!(demo::MOVIE_ID))), request_body = MetaBody,
    responses((status = 201, body = Message)))]
async fn patch_meta(
    State(state): State<AppState>,
    caller: AuthUser,
    MediaPath(spec, path): MediaPath<ItemPath>,
    JsonObject(mut body): JsonObject,
) -> AppResult<(StatusCode, Json<Message>)> {
    let (errors, _) = validate::check_object(&schema_of::<MetaBody>(), &mut body);
    let rating = body.get("rating").and_then(Value::as_i64);
    let additional = body.get("additional_count").and_then(Value::as_f64);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let patch = MetaPatch {
        rating,
        additional_count: additional.map(|a| a.round() as i64),
    };
    let (kind, content_id) = (spec.kind, path.content_id);
    match state
        .db
        .patch_item(caller.user_id, content_id, kind, patch)
        .await
    {
        Err(StoreError::NotFound) => return Err(item_not_found()),
        other => other?,
    };
    if rating.is_some() {
        state.announced(ListChange::Item { kind, content_id });
    }
    state.engine_hooks.interactions_changed(caller.user_id);
    Ok(Message::created("Meta successfully updated"))
}

/// Most values accepted in one bad-recommendation body (AC-24).
const MAX_FLAGS: usize = 100;

/// E10: flag values the caller does not want (`{"actors": ["…"], "year": ["1994"]}`).
#[utoipa::path(post, path = "/api/{media}/{content_id}/bad_recommendation", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam, ("content_id" = i64, Path, example = json!(demo::MOVIE_ID))), request_body = Object,
    responses((status = 201, body = Message)))]
async fn bad_recommendation(
    State(state): State<AppState>,
    caller: AuthUser,
    MediaPath(spec, path): MediaPath<ItemPath>,
    JsonObject(body): JsonObject,
) -> AppResult<(StatusCode, Json<Message>)> {
    let mut errors = Vec::new();
    let mut flags = Vec::new();
    for category in spec.reasons {
        match body.get(*category) {
            None => {}
            Some(Value::Array(values)) => {
                for value in values {
                    match value.as_str() {
                        Some(v) if v.chars().count() <= 255 => {
                            flags.push((category.to_string(), v.to_string()))
                        }
                        Some(_) => {
                            errors.push(format!("{category}: Longer than maximum length 255."))
                        }
                        None => errors.push(format!("{category}: Not a valid string.")),
                    }
                }
            }
            Some(_) => errors.push(format!("{category}: Not a valid list.")),
        }
    }
    if flags.len() > MAX_FLAGS {
        errors.push(format!(
            "At most {MAX_FLAGS} values may be flagged at once."
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    if !state.db.item_exists(spec, path.content_id).await? {
        return Err(AppError::not_found(format!("{} not found!", spec.title)));
    }
    state
        .db
        .flag_bad_recommendation(caller.user_id, path.content_id, &flags)
        .await?;
    Ok(Message::created("Bad recommendation has been registered."))
}

/// Answer of a proposal: the message, and the new pending id.
#[derive(Serialize, ToSchema)]
pub struct SubmitAnswer {
    pub status: bool,
    pub message: String,
    #[schema(value_type = Object)]
    pub content: Map<String, Value>,
}

/// E11: propose a new item (series may carry their episodes); validators accept or decline it.
#[utoipa::path(post, path = "/api/{media}", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam), request_body = Object,
    responses((status = 201, body = SubmitAnswer), (status = 403, body = Message), (status = 404, body = Message),
        (status = 409, body = Message), (status = 429, body = Message)))]
async fn submit(
    State(state): State<AppState>,
    caller: AuthUser,
    Media(spec): Media,
    JsonObject(body): JsonObject,
) -> AppResult<(StatusCode, Json<SubmitAnswer>)> {
    caller.require(&state, Permission::AddContent).await?;
    let limit = state.config.submissions_per_user;
    Throttle::per_user(&state, "submit", caller.user_id, limit).await?;
    let proposal = proposal::read(spec, &body).map_err(AppError::Validation)?;
    let mut all_genres = proposal.genres.clone();
    all_genres.extend(
        proposal
            .episodes
            .iter()
            .flat_map(|e| e.genres.iter().copied()),
    );
    let missing = state.db.missing_genres(&all_genres, spec.kind).await?;
    if let Some(missing) = missing.first() {
        return Err(AppError::not_found(format!("Genre {missing} not found!")));
    }
    let id = state
        .db
        .submit(spec, &proposal, caller.user_id)
        .await
        .on_conflict(|| {
            let field = spec.unique.unwrap_or("item");
            AppError::Status(StatusCode::CONFLICT, format!("{field} already submitted"))
        })?;
    let mut content = Map::new();
    content.insert(spec.pending_id.into(), id.into());
    let message = format!("{} have been added to validation.", spec.title);
    Ok((
        StatusCode::CREATED,
        Json(SubmitAnswer {
            status: true,
            message,
            content,
        }),
    ))
}

/// E12: pending proposals of a kind, oldest first.
#[utoipa::path(get, path = "/api/{media}/additional", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam, PageQuery), responses((status = 200, body = PageAnswer), (status = 403, body = Message)))]
async fn list_additional(
    State(state): State<AppState>,
    caller: AuthUser,
    MediaPage(spec, page): MediaPage,
) -> AppResult<Json<PageAnswer>> {
    caller.require(&state, Permission::AddContent).await?;
    let proposals = state.db.list_submissions(spec, page).await?;
    Ok(PageAnswer::of(
        spec.additional_list_message,
        proposals,
        page,
        |(id, proposal)| {
            let mut item = Map::new();
            item.insert(spec.pending_id.into(), id.into());
            for column in spec.submitted_columns() {
                let value = proposal.fields.get(column.name).cloned();
                item.insert(column.name.into(), value.unwrap_or(Value::Null));
            }
            Value::Object(item)
        },
    ))
}

/// E13: accept a proposal into the catalogue (with its genres and episodes).
#[utoipa::path(put, path = "/api/{media}/additional/{id}", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam, ("id" = i64, Path, description = "the pending item's id", example = json!(demo::FIRST_ID))),
    responses((status = 201, body = Message), (status = 403, body = Message), (status = 409, body = Message)))]
async fn accept_additional(
    State(state): State<AppState>,
    caller: AuthUser,
    MediaPath(spec, path): MediaPath<PendingPath>,
) -> AppResult<(StatusCode, Json<Message>)> {
    caller
        .require(&state, Permission::ValidateAddedContent)
        .await?;
    match state
        .db
        .accept_submission(spec, path.id, caller.user_id)
        .await
    {
        Ok(_) => {
            // New content: shared lists must show it at once.
            state.list_changed(ListChange::Catalogue).await;
            let target = format!("{}:{}", spec.table, path.id);
            crate::routes::audit::record(
                &state,
                &caller,
                AuditAction::SubmissionAccepted,
                &target,
                None,
            )
            .await;
            let message = format!(
                "Additional {} data successfully validated",
                spec.pending_name
            );
            Ok(Message::created(message))
        }
        Err(AcceptError::NotFound) => Err(AppError::not_found(format!(
            "Additional {} not found!",
            spec.pending_name
        ))),
        Err(AcceptError::Duplicate) => Err(AppError::Status(
            StatusCode::CONFLICT,
            format!(
                "This {} is already in the catalogue",
                spec.unique.unwrap_or("item")
            ),
        )),
        Err(AcceptError::Store(e)) => Err(e.into()),
    }
}

/// E14: decline a proposal.
#[utoipa::path(delete, path = "/api/{media}/additional/{id}", tag = "content", security(("Bearer Auth" = [])),
    params(MediaParam, ("id" = i64, Path, description = "the pending item's id", example = json!(demo::FIRST_ID))),
    responses((status = 201, body = Message), (status = 403, body = Message)))]
async fn decline_additional(
    State(state): State<AppState>,
    caller: AuthUser,
    MediaPath(spec, path): MediaPath<PendingPath>,
) -> AppResult<(StatusCode, Json<Message>)> {
    caller.require(&state, Permission::DeleteContent).await?;
    if !state.db.decline_submission(spec, path.id).await? {
        return Err(AppError::not_found(format!(
            "Additional {} not found!",
            spec.pending_name
        )));
    }
    let target = format!("{}:{}", spec.table, path.id);
    crate::routes::audit::record(
        &state,
        &caller,
        AuditAction::SubmissionDeclined,
        &target,
        None,
    )
    .await;
    Ok(Message::created(format!(
        "Additional {} successfully deleted",
        spec.pending_name
    )))
}
