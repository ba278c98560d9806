//! What the administrator's dashboard shows besides the engine history: the
//! size of the catalogue and of the audience, the activity per hour, and for
//! one user the recommendations beside what led to them.

use chrono::NaiveDateTime;
use sqlx::FromRow;

use recofinement_domain::ContentKind;
use recofinement_domain::media;

use crate::{Db, StoreResult, on_db};

/// Sizes of the catalogue and of the audience.
#[derive(Clone, Debug)]
pub struct Counts {
    /// Items per kind label (`MOVIE`…, `EPISODE` included).
    pub items: Vec<KindCount>,
    pub users: i64,
    pub groups: i64,
    pub interactions: i64,
    pub events: i64,
}

#[derive(Clone, Debug, FromRow)]
pub struct KindCount {
    pub kind: String,
    pub count: i64,
}

/// Events of one hour (`YYYY-MM-DD HH:00:00`, UTC).
#[derive(Clone, Debug, FromRow)]
pub struct HourCount {
    pub hour: String,
    pub count: i64,
}

/// The item a dashboard row is about, named as the catalogue names it
/// (`kind` and `title` are absent when the item is gone).
#[derive(Clone, Debug, FromRow)]
pub struct ItemRef {
    pub content_id: i64,
    pub kind: Option<String>,
    pub title: Option<String>,
}

/// One recommendation row as the engine wrote it.
#[derive(Clone, Debug, FromRow)]
pub struct RecommendationRow {
    #[sqlx(flatten)]
    pub item: ItemRef,
    pub score: Option<f64>,
    pub engine: Option<String>,
    pub engine_priority: Option<i64>,
    pub reason: Option<String>,
}

/// One interaction of a user with an item.
#[derive(Clone, Debug, FromRow)]
pub struct InteractionRow {
    #[sqlx(flatten)]
    pub item: ItemRef,
    pub rating: Option<i64>,
    pub views: Option<i64>,
    pub count: Option<i64>,
    pub last_at: Option<NaiveDateTime>,
}

/// A user worth looking up.
#[derive(Clone, Debug, FromRow)]
pub struct SampleUser {
    pub uuid: String,
    pub username: String,
}

/// `content_id, kind, title` of every item of the six media tables, to join on.
fn titles_sql() -> String {
    ContentKind::ALL
        .into_iter()
        .map(|kind| {
            let spec = media::spec(kind);
            format!(
                "SELECT content_id, '{}' AS kind, {} AS title FROM {}",
                kind.label(),
                spec.title_column(),
                spec.table
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

impl Db {
    pub async fn counts(&self) -> StoreResult<Counts> {
        on_db!(self, pool => {
            let items: Vec<KindCount> = sqlx::query_as(
                "SELECT COALESCE(content_type, '?') AS kind, COUNT(*) AS count FROM content GROUP BY content_type ORDER BY 1",
            )
            .fetch_all(pool)
            .await?;
            let (users, groups, interactions, events): (i64, i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM \"user\"), (SELECT COUNT(*) FROM \"group\"), \
                 (SELECT COUNT(*) FROM meta_user_content), (SELECT COUNT(*) FROM event)",
            )
            .fetch_one(pool)
            .await?;
            Ok(Counts { items, users, groups, interactions, events })
        })
    }

    /// Events per hour since `since`, oldest first; hours without events are absent.
    pub async fn events_per_hour(&self, since: NaiveDateTime) -> StoreResult<Vec<HourCount>> {
        let hour = match self {
            Db::Sqlite(_) => "strftime('%Y-%m-%d %H:00:00', occured_at)",
            Db::Postgres(_) => "to_char(date_trunc('hour', occured_at), 'YYYY-MM-DD HH24:00:00')",
        };
        let sql = format!(
            "SELECT {hour} AS hour, COUNT(*) AS count FROM event WHERE occured_at >= $1 GROUP BY 1 ORDER BY 1"
        );
        on_db!(self, pool => Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(since)
            .fetch_all(pool)
            .await?))
    }

    /// A user's recommendations, per kind then as the API ranks them.
    pub async fn recommendation_rows(&self, user_id: i64) -> StoreResult<Vec<RecommendationRow>> {
        let sql = format!(
            "SELECT r.content_id, r.content_type AS kind, t.title, r.score, r.engine, \
             CAST(r.engine_priority AS BIGINT) AS engine_priority, r.reason \
             FROM recommended_content r LEFT JOIN ({}) t ON t.content_id = r.content_id \
             WHERE r.user_id = $1 ORDER BY r.content_type, r.engine_priority DESC, r.score DESC, r.content_id",
            titles_sql()
        );
        on_db!(self, pool => Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(pool)
            .await?))
    }

    /// A user's most recent interactions (`limit` of them).
    pub async fn recent_interactions(
        &self,
        user_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<InteractionRow>> {
        let sql = format!(
            "SELECT m.content_id, t.kind, t.title, CAST(m.rating AS BIGINT) AS rating, \
             CAST(m.review_see_count AS BIGINT) AS views, CAST(m.count AS BIGINT) AS count, \
             COALESCE(m.last_count_increment, m.last_rating_date, m.last_review_see_date) AS last_at \
             FROM meta_user_content m LEFT JOIN ({}) t ON t.content_id = m.content_id \
             WHERE m.user_id = $1 ORDER BY last_at DESC NULLS LAST, m.content_id LIMIT $2",
            titles_sql()
        );
        on_db!(self, pool => Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(limit.max(0))
            .fetch_all(pool)
            .await?))
    }

    /// The account an administrator names: by uuid, e-mail, id or exact
    /// user name (case-insensitive; the oldest account when several match).
    pub async fn find_user(&self, who: &str) -> StoreResult<Option<crate::users::User>> {
        let sql = format!(
            "SELECT {} FROM \"user\" WHERE uuid = $1 OR lower(email) = $2 OR lower(username) = $2 \
             OR CAST(user_id AS TEXT) = $1 ORDER BY user_id LIMIT 1",
            crate::users::USER_COLUMNS
        );
        let who = who.trim();
        on_db!(self, pool => Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(who)
            .bind(who.to_lowercase())
            .fetch_optional(pool)
            .await?))
    }

    /// A few users worth looking up: those with the most recommendation
    /// rows, or, before any (dataset accounts get none), the most active.
    pub async fn users_to_look_up(&self, limit: i64) -> StoreResult<Vec<SampleUser>> {
        let sql = |table: &str| {
            format!(
                "SELECT u.uuid, u.username FROM \"user\" u JOIN \
                 (SELECT user_id, COUNT(*) AS n FROM {table} GROUP BY user_id) r ON r.user_id = u.user_id \
                 ORDER BY r.n DESC, u.user_id LIMIT $1"
            )
        };
        for table in ["recommended_content", "meta_user_content"] {
            let users: Vec<SampleUser> = on_db!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql(table)))
                .bind(limit.max(0))
                .fetch_all(pool)
                .await?);
            if !users.is_empty() {
                return Ok(users);
            }
        }
        Ok(Vec::new())
    }
}
