//! JSON objects shared by several endpoints (spec §5), used both to answer
//! and to document the answers.

use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use recofinement_domain::{Listing, Page};
use recofinement_store::catalogue::Genre as StoredGenre;
use recofinement_store::groups::{GroupBase as GroupRow, UserGroups};
use recofinement_store::interactions::Meta as StoredMeta;
use recofinement_store::users::User;

use crate::wire_row;

/// `{"status": true|false, "message": …}`: the envelope of every answer.
#[derive(Serialize, ToSchema)]
pub struct Message {
    pub status: bool,
    pub message: String,
}

impl Message {
    pub fn ok(message: impl Into<String>) -> Self {
        Message {
            status: true,
            message: message.into(),
        }
    }

    /// A 201 with this message: how the original answers most changes.
    pub fn created(message: impl Into<String>) -> (StatusCode, Json<Message>) {
        (StatusCode::CREATED, Json(Message::ok(message)))
    }
}

/// A page in the original's envelope (`content`, `number_of_elements`,
/// `page`, `total_pages`); an entry is a [`JsonEntry`] unless said
/// otherwise.
#[derive(Serialize, ToSchema)]
pub struct PageAnswer<T = JsonEntry> {
    pub status: bool,
    pub message: String,
    pub content: Vec<T>,
    pub number_of_elements: usize,
    pub page: i64,
    pub total_pages: i64,
}

impl<T> PageAnswer<T> {
    /// The entries of `page`, one of `total` entries' pages.
    pub fn new(
        message: impl Into<String>,
        content: impl IntoIterator<Item = impl Into<T>>,
        page: Page,
        total: i64,
    ) -> Json<PageAnswer<T>> {
        let content: Vec<T> = content.into_iter().map(Into::into).collect();
        Json(PageAnswer {
            status: true,
            message: message.into(),
            number_of_elements: content.len(),
            content,
            page: page.0,
            total_pages: Page::count(total),
        })
    }

    /// A page of `listing`, each row shaped by `entry`.
    pub fn of<Row, Entry: Into<T>>(
        message: impl Into<String>,
        listing: Listing<Row>,
        page: Page,
        entry: impl FnMut(Row) -> Entry,
    ) -> Json<PageAnswer<T>> {
        Self::new(
            message,
            listing.rows.into_iter().map(entry),
            page,
            listing.total,
        )
    }
}

/// A page of a log read by cursor (events, audit).
#[derive(Serialize, ToSchema)]
pub struct LogPage<T> {
    pub status: bool,
    pub message: String,
    pub content: Vec<T>,
    /// Pass this as `after` to read on. A cursor, not an entry's id: on
    /// PostgreSQL a lower id can commit after a higher one.
    pub next_after: i64,
}

impl<T> LogPage<T> {
    /// The entries read, and the cursor their log gave to read on from.
    pub fn read_on_from(message: &str, content: Vec<T>, next_after: i64) -> Self {
        LogPage {
            status: true,
            message: message.into(),
            content,
            next_after,
        }
    }
}

/// An entry whose fields are chosen at run time (an item in its kind's
/// shape, a profile's meta…), documented as the JSON object it is.
#[derive(Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct JsonEntry(pub Value);

impl From<Value> for JsonEntry {
    fn from(value: Value) -> Self {
        JsonEntry(value)
    }
}

/// An error answer; `errors` lists every failed rule on a 400.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub status: bool,
    pub message: String,
    pub errors: Option<Vec<String>>,
}

/// Always `{}` in the original (D10); kept for strict compatibility.
#[derive(Serialize, ToSchema, Default)]
pub struct EmptyObject {}

/// The compact user object. `email` is only shown to its owner (D3).
#[derive(Serialize, ToSchema)]
pub struct UserBase {
    pub uuid: String,
    pub email: Option<String>,
    pub username: String,
    pub preferences_defined: bool,
    pub role: EmptyObject,
}

impl UserBase {
    /// The user as seen by `viewer_id`: strangers do not see the e-mail.
    pub fn seen_by(user: &User, viewer_id: i64) -> Self {
        UserBase {
            uuid: user.uuid.clone(),
            email: (user.user_id == viewer_id)
                .then(|| user.email.clone())
                .flatten(),
            username: user.username.clone(),
            preferences_defined: user.preferences_defined,
            role: EmptyObject {},
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GroupBase {
    pub group_id: i64,
    pub name: String,
}

impl From<GroupRow> for GroupBase {
    fn from(g: GroupRow) -> Self {
        GroupBase {
            group_id: g.group_id,
            name: g.name,
        }
    }
}

/// The caller's own account (U1).
#[derive(Serialize, ToSchema)]
pub struct UserObject {
    pub uuid: String,
    pub email: Option<String>,
    pub username: String,
    pub preferences_defined: bool,
    pub groups: Vec<GroupBase>,
    pub invitations: Vec<GroupBase>,
    pub owned_groups: Vec<GroupBase>,
}

impl UserObject {
    pub fn new(user: User, groups: UserGroups) -> Self {
        UserObject {
            uuid: user.uuid,
            email: user.email,
            username: user.username,
            preferences_defined: user.preferences_defined,
            groups: wire(groups.groups),
            invitations: wire(groups.invitations),
            owned_groups: wire(groups.owned_groups),
        }
    }
}

/// `{"status", "message", "content"}`: one thing, or one whole list, in
/// the envelope.
#[derive(Serialize, ToSchema)]
pub struct ContentAnswer<T> {
    pub status: bool,
    pub message: String,
    pub content: T,
}

impl<T> ContentAnswer<T> {
    pub fn sent(message: impl Into<String>, content: T) -> Json<ContentAnswer<T>> {
        Json(ContentAnswer {
            status: true,
            message: message.into(),
            content,
        })
    }
}

/// Rows of the store in their wire shape.
pub fn wire<Row, Wire: From<Row>>(rows: impl IntoIterator<Item = Row>) -> Vec<Wire> {
    rows.into_iter().map(Wire::from).collect()
}

wire_row! {
    /// A genre; `count` is how many items carry it where a list counts them.
    #[derive(Clone)]
    pub struct Genre from StoredGenre {
        pub genre_id: i64,
        pub name: String,
        pub count: Option<i64>,
    }
}

wire_row! {
    /// One user's interaction with one item (absent counters read as 0).
    pub struct Meta from StoredMeta {
        pub rating: Option<i64>,
        pub last_rating_date: Option<String>,
        pub review_see_count: i64,
        pub last_review_see_date: Option<String>,
        pub count: i64,
        pub last_count_increment: Option<String>,
    }
}
