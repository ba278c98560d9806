//! A user's interactions with items ("meta"), and negative feedback. Each
//! change and its events commit in one transaction; counters and averages
//! are updated in SQL, never read-modify-written in memory.

use chrono::NaiveDateTime;
use sqlx::FromRow;

use recofinement_domain::ContentKind;
use recofinement_domain::media::MediaSpec;

use crate::backend::{Bind, Conn, decode, execute, get, row_lock, statement};
use crate::catalogue::stored_kind;
use crate::changes::ListChange;
use crate::dialect::BeginWrite;
use crate::events::{EventKind, NewEvent, render_time};
use crate::events::{write_event, write_events};
use crate::{Db, StoreError, StoreResult, now, on_db};

/// One user's interaction with one item (NULL counters read as 0).
#[derive(Clone, Debug, FromRow)]
pub struct Meta {
    pub rating: Option<i64>,
    pub last_rating_date: Option<NaiveDateTime>,
    pub review_see_count: i64,
    pub last_review_see_date: Option<NaiveDateTime>,
    pub count: i64,
    pub last_count_increment: Option<NaiveDateTime>,
}

pub(crate) const META_COLUMNS: &str = "rating, last_rating_date, COALESCE(review_see_count, 0) AS review_see_count, \
    last_review_see_date, COALESCE(count, 0) AS count, last_count_increment";

/// What a PATCH of an interaction asks for.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetaPatch {
    pub rating: Option<i64>,
    pub additional_count: Option<i64>,
}

pub(crate) fn meta_payload(meta: &Meta) -> String {
    serde_json::json!({"rating": meta.rating, "review_see_count": meta.review_see_count, "count": meta.count}).to_string()
}

/// The event of a new interaction, carrying its first values.
fn meta_added<'a>(user_id: i64, content_id: i64, label: &'a str, meta: &Meta) -> NewEvent<'a> {
    NewEvent {
        kind: EventKind::MetaAdded,
        occured_by: Some(user_id),
        object_id: content_id,
        model_name: "meta_user_content",
        attribute_name: None,
        new_value: None,
        content_type: Some(label),
        payload: Some(meta_payload(meta)),
    }
}

pub(crate) fn changed<'a>(
    user_id: i64,
    content_id: i64,
    label: &'a str,
    attribute: &'a str,
    value: Option<String>,
) -> NewEvent<'a> {
    NewEvent {
        kind: EventKind::Changed,
        occured_by: Some(user_id),
        object_id: content_id,
        model_name: "meta_user_content",
        attribute_name: Some(attribute),
        new_value: value,
        content_type: Some(label),
        payload: None,
    }
}

/// The events of one patch of an interaction: its creation, or each field
/// it set (a rating only when it changed, a count only when it grew) with
/// the date beside it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn meta_events<'a>(
    user_id: i64,
    content_id: i64,
    label: &'a str,
    inserted: bool,
    old_rating: Option<i64>,
    patch: MetaPatch,
    meta: &Meta,
    now: NaiveDateTime,
) -> Vec<NewEvent<'a>> {
    if inserted {
        return vec![meta_added(user_id, content_id, label, meta)];
    }
    let field = |attribute, value| changed(user_id, content_id, label, attribute, Some(value));
    let mut events = Vec::new();
    if let Some(rating) = patch.rating {
        if old_rating != Some(rating) {
            events.push(field("rating", rating.to_string()));
        }
        events.push(field("last_rating_date", render_time(now)));
    }
    if let Some(add) = patch.additional_count {
        if add != 0 {
            events.push(field("count", meta.count.to_string()));
        }
        events.push(field("last_count_increment", render_time(now)));
    }
    events
}

/// The body of [`Db::patch_item`] inside the caller's write transaction
/// (imports share its rating arithmetic and its events): creates the
/// interaction if needed, applies the patch at `now`, keeps the item's
/// average and rating count right and writes the meta events.
pub(crate) async fn patch_meta(
    mut conn: impl Conn,
    user_id: i64,
    content_id: i64,
    label: &str,
    patch: MetaPatch,
    now: NaiveDateTime,
) -> Result<Meta, sqlx::Error> {
    let inserted = create_meta(&mut conn, user_id, content_id).await?;
    let lock = row_lock(&conn);
    let sql = format!(
        "SELECT rating FROM meta_user_content WHERE user_id = $1 AND content_id = $2{lock}"
    );
    let row = statement(&conn, sqlx::AssertSqlSafe(sql))
        .arg(user_id)
        .arg(content_id)
        .fetch_one(conn.executor())
        .await?;
    let old_rating: Option<i64> = get(&conn, &row, 0)?;
    if let Some(rating) = patch.rating {
        rate_content(&mut conn, content_id, rating, old_rating).await?;
    }
    // Both fields and the answer in one statement.
    let sql = format!(
        "UPDATE meta_user_content SET \
           rating = COALESCE($3, rating), \
           last_rating_date = CASE WHEN $3 IS NULL THEN last_rating_date ELSE $5 END, \
           count = CASE WHEN $4 IS NULL THEN count ELSE COALESCE(count, 0) + $4 END, \
           last_count_increment = CASE WHEN $4 IS NULL THEN last_count_increment ELSE $5 END \
         WHERE user_id = $1 AND content_id = $2 RETURNING {META_COLUMNS}"
    );
    let row = statement(&conn, sqlx::AssertSqlSafe(sql))
        .arg(user_id)
        .arg(content_id)
        .arg(patch.rating)
        .arg(patch.additional_count)
        .arg(now)
        .fetch_one(conn.executor())
        .await?;
    let meta: Meta = decode(&conn, &row)?;
    let events = meta_events(
        user_id, content_id, label, inserted, old_rating, patch, &meta, now,
    );
    write_events(conn, &events).await?;
    Ok(meta)
}

/// Creates the user's interaction with the item unless it exists; answers
/// whether it did.
async fn create_meta(
    mut conn: impl Conn,
    user_id: i64,
    content_id: i64,
) -> Result<bool, sqlx::Error> {
    let insert = statement(
        &conn,
        "INSERT INTO meta_user_content (user_id, content_id, review_see_count, count) VALUES ($1, $2, 0, 0) \
         ON CONFLICT (user_id, content_id) DO NOTHING",
    );
    Ok(execute(&mut conn, insert.arg(user_id).arg(content_id)).await? == 1)
}

/// Moves the item's average and rating count from `old` to `new` (a first
/// rating adds one to the count).
async fn rate_content(
    conn: &mut impl Conn,
    content_id: i64,
    new: i64,
    old: Option<i64>,
) -> Result<(), sqlx::Error> {
    let query = match old {
        None => statement(
            &*conn,
            "UPDATE content SET \
               rating = (COALESCE(rating, 0) * COALESCE(rating_count, 0) + $2) / (COALESCE(rating_count, 0) + 1), \
               rating_count = COALESCE(rating_count, 0) + 1 \
             WHERE content_id = $1",
        )
        .arg(content_id)
        .arg(new as f64),
        Some(old) => statement(
            &*conn,
            "UPDATE content SET \
               rating = CASE WHEN COALESCE(rating_count, 0) = 0 THEN $2 \
                             ELSE (COALESCE(rating, 0) * rating_count - $3 + $2) / rating_count END, \
               rating_count = CASE WHEN COALESCE(rating_count, 0) = 0 THEN 1 ELSE rating_count END \
             WHERE content_id = $1",
        )
        .arg(content_id)
        .arg(new as f64)
        .arg(old as f64),
    };
    execute(conn, query).await?;
    Ok(())
}

impl Db {
    /// E8: counts a view of the item and returns the interaction.
    pub async fn view_item(
        &self,
        user_id: i64,
        content_id: i64,
        kind: ContentKind,
    ) -> StoreResult<Meta> {
        let now = now();
        let label = kind.label();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted = create_meta(&mut *tx, user_id, content_id).await?;
            let meta: Meta = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "UPDATE meta_user_content SET review_see_count = COALESCE(review_see_count, 0) + 1, last_review_see_date = $3 \
                 WHERE user_id = $1 AND content_id = $2 RETURNING {META_COLUMNS}"
            )))
            .bind(user_id)
            .bind(content_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            if inserted {
                write_event(&mut *tx, &meta_added(user_id, content_id, label, &meta)).await?;
            } else {
                let count = changed(user_id, content_id, label, "review_see_count", Some(meta.review_see_count.to_string()));
                write_event(&mut *tx, &count).await?;
                let date = changed(user_id, content_id, label, "last_review_see_date", Some(render_time(now)));
                write_event(&mut *tx, &date).await?;
            }
            tx.commit().await?;
            Ok(meta)
        })
    }

    /// E9: rates and/or counts a consumption of the item `content_id`, which
    /// must be of `kind` ([`StoreError::NotFound`] otherwise). The item's
    /// average and rating count follow in the same transaction, computed
    /// from the stored row; a new rating is announced to every instance
    /// ([`ListChange::Item`]) once committed.
    pub async fn patch_item(
        &self,
        user_id: i64,
        content_id: i64,
        kind: ContentKind,
        patch: MetaPatch,
    ) -> StoreResult<Meta> {
        let now = now();
        let label = kind.label();
        let notice = patch.rating.map(|_| ListChange::Item { kind, content_id });
        let meta = match self {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin_write().await?;
                if stored_kind(&mut *tx, content_id).await?.as_deref() != Some(label) {
                    return Err(StoreError::NotFound);
                }
                let meta = patch_meta(&mut *tx, user_id, content_id, label, patch, now).await?;
                tx.commit().await?;
                meta
            }
            // The check and the same steps in one round trip instead of
            // eight: the server runs them
            // (migrations/postgres/0060_patch_meta.sql, 0080_…sql).
            // Imports keep `patch_meta`, inside their own transactions.
            Db::Postgres(pool) => {
                let added = Meta {
                    rating: patch.rating,
                    last_rating_date: None,
                    review_see_count: 0,
                    last_review_see_date: None,
                    count: patch.additional_count.unwrap_or(0),
                    last_count_increment: None,
                };
                sqlx::query_as("SELECT * FROM patch_item($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(user_id)
                    .bind(content_id)
                    .bind(label)
                    .bind(patch.rating)
                    .bind(patch.additional_count)
                    .bind(now)
                    .bind(render_time(now))
                    .bind(crate::now())
                    .bind(meta_payload(&added))
                    .fetch_optional(pool)
                    .await?
                    .ok_or(StoreError::NotFound)?
            }
        };
        // After the commit, not inside it: a notifying transaction holds
        // PostgreSQL's queue lock through its commit, which made ratings
        // commit one at a time (0080_patch_item_notice_after_commit.sql).
        if let Some(change) = notice {
            self.announce(change).await;
        }
        Ok(meta)
    }

    /// E10: stores (category, value) flags; repeating one is harmless.
    pub async fn flag_bad_recommendation(
        &self,
        user_id: i64,
        content_id: i64,
        flags: &[(String, String)],
    ) -> StoreResult<()> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for (category, reason) in flags {
                sqlx::query(
                    "INSERT INTO bad_recommendation_content (user_id, content_id, reason_categorie, reason) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(user_id)
                .bind(content_id)
                .bind(category)
                .bind(reason)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Whether an item of this kind has this id.
    pub async fn item_exists(&self, spec: &MediaSpec, content_id: i64) -> StoreResult<bool> {
        let sql = format!(
            "SELECT content_id FROM {} WHERE content_id = $1",
            spec.table
        );
        on_db!(self, pool => {
            let row: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(content_id).fetch_optional(pool).await?;
            Ok(row.is_some())
        })
    }
}
