//! Linked external services (spec api-accounts §11): the stored grants (the
//! API encrypts them before they get here), the single-use OAuth states, the
//! record of background imports, and the import of a provider's library into
//! the catalogue and one user's interactions, in one transaction.

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use recofinement_domain::media::{ColumnType, spec};
use recofinement_domain::{ContentKind, Service};

use crate::backend::{Bind, Conn, decode, execute, get, statement, take_transaction_turn, turn};
use crate::dialect::BeginWrite;
use crate::events::write_event;
use crate::interactions::{MetaPatch, patch_meta};
use crate::new_item::{NewItem, insert_item};
use crate::{Db, StoreError, StoreResult, now, on_db};

/// A stored grant, as stored (the API keeps these values encrypted).
#[derive(Clone)]
pub struct ExternalLink {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for ExternalLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExternalLink(***)")
    }
}

/// One item a provider knows about the user.
#[derive(Clone, Debug)]
pub struct ImportItem {
    pub kind: ContentKind,
    /// Provider id columns tried in order (`spotify_id`, `tmdbid`, `imdbid`, `isbn`).
    pub keys: Vec<(&'static str, String)>,
    /// Title, matched case- and space-insensitively when no key matched.
    pub title: String,
    /// A column that must also be equal for a title match (a serie's `start_year`).
    pub title_with: Option<(&'static str, i64)>,
    /// Media columns of a new item (unknown names are ignored).
    pub fields: Map<String, Value>,
    /// Average rating and count of a new item (from the provider).
    pub rating: Option<f64>,
    pub rating_count: Option<i64>,
    /// The user's own rating, 0–5.
    pub user_rating: Option<i64>,
    /// When the user last consumed it (Spotify's `played_at`); `None` for
    /// an item only saved, whose interaction then carries no play date.
    pub consumed_at: Option<NaiveDateTime>,
    /// Whether the user has seen the item's page (TMDB's rated, favourite
    /// and listed items: `review_see_count` 1, as §11.5 step 7 says).
    pub seen: bool,
}

/// What an import wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub items_created: i64,
    pub interactions_written: i64,
}

/// Lower-cased, trimmed, inner runs of white space collapsed.
pub fn normalise_title(title: &str) -> String {
    title
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// One grant exactly as stored (tokens sealed).
#[derive(Debug)]
pub struct StoredGrant {
    pub user_id: i64,
    pub service: Service,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
}

impl Db {
    /// The user's grant for `service` (`Spotify`, `TMDB`, `GBooks`).
    pub async fn external_link(
        &self,
        user_id: i64,
        service: Service,
    ) -> StoreResult<Option<ExternalLink>> {
        on_db!(self, pool => {
            let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT access_token, refresh_token FROM external_service WHERE user_id = $1 AND service_name = $2",
            )
            .bind(user_id)
            .bind(service.name())
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(access_token, refresh_token)| ExternalLink { access_token, refresh_token }))
        })
    }

    /// Stores a new grant; false when the service was already linked.
    pub async fn link_external(
        &self,
        user_id: i64,
        service: Service,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> StoreResult<bool> {
        let sql = "INSERT INTO external_service (user_id, service_name, access_token, refresh_token) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, service_name) DO NOTHING";
        let rows = self
            .write_tokens(sql, user_id, service, access_token, refresh_token)
            .await?;
        Ok(rows == 1)
    }

    /// Replaces the access token (and the refresh token when a new one is given).
    pub async fn update_external_tokens(
        &self,
        user_id: i64,
        service: Service,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> StoreResult<()> {
        let sql = "UPDATE external_service \
                   SET access_token = $3, refresh_token = COALESCE($4, refresh_token) \
                   WHERE user_id = $1 AND service_name = $2";
        self.write_tokens(sql, user_id, service, access_token, refresh_token)
            .await?;
        Ok(())
    }

    /// Replaces a grant's tokens with re-sealed ones, unless it changed
    /// since `grant` was read (a server refreshed it meanwhile); answers
    /// whether it replaced them.
    pub async fn reseal_external_tokens(
        &self,
        grant: &StoredGrant,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> StoreResult<bool> {
        let Some(read) = grant.access_token.as_deref() else {
            return Ok(false);
        };
        let written = on_db!(self, pool => {
            sqlx::query(
                "UPDATE external_service SET access_token = $3, refresh_token = $4 \
                 WHERE user_id = $1 AND service_name = $2 AND access_token = $5",
            )
            .bind(grant.user_id)
            .bind(grant.service.name())
            .bind(access_token)
            .bind(refresh_token)
            .bind(read)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(written == 1)
    }

    /// Runs `sql` over `$1` the user, `$2` the service, `$3` the access token
    /// and `$4` the refresh token; the number of rows it wrote.
    async fn write_tokens(
        &self,
        sql: &'static str,
        user_id: i64,
        service: Service,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> StoreResult<u64> {
        on_db!(self, pool => {
            let result = sqlx::query(sql)
                .bind(user_id)
                .bind(service.name())
                .bind(access_token)
                .bind(refresh_token)
                .execute(pool)
                .await?;
            Ok(result.rows_affected())
        })
    }

    /// Every stored grant (user, service, tokens as stored), for the
    /// re-encryption of a key rotation.
    pub async fn external_grants(&self) -> StoreResult<Vec<StoredGrant>> {
        type Row = (i64, String, Option<String>, Option<String>);
        let rows: Vec<Row> = on_db!(self, pool => sqlx::query_as(
            "SELECT user_id, service_name, access_token, refresh_token FROM external_service ORDER BY user_id, service_name",
        )
        .fetch_all(pool)
        .await?);
        rows.into_iter()
            .map(|(user_id, name, access_token, refresh_token)| {
                let service = StoreError::label("linked service", &name, Service::from_name)?;
                Ok(StoredGrant {
                    user_id,
                    service,
                    access_token,
                    refresh_token,
                })
            })
            .collect()
    }

    /// Removes a link; false when there was none.
    pub async fn unlink_external(&self, user_id: i64, service: Service) -> StoreResult<bool> {
        on_db!(self, pool => {
            let result = sqlx::query("DELETE FROM external_service WHERE user_id = $1 AND service_name = $2")
                .bind(user_id)
                .bind(service.name())
                .execute(pool)
                .await?;
            Ok(result.rows_affected() == 1)
        })
    }

    /// Records a single-use OAuth state (its hash) for the user and service,
    /// and forgets the expired ones.
    pub async fn create_oauth_state(
        &self,
        state_hash: &str,
        user_id: i64,
        service: Service,
        expires_at: NaiveDateTime,
    ) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("DELETE FROM external_oauth_state WHERE expires_at < $1")
                .bind(now())
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO external_oauth_state (state_hash, user_id, service_name, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (state_hash) DO NOTHING",
            )
            .bind(state_hash)
            .bind(user_id)
            .bind(service.name())
            .bind(expires_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Consumes a state: true only once, for its user and service, before it expires.
    pub async fn take_oauth_state(
        &self,
        state_hash: &str,
        user_id: i64,
        service: Service,
    ) -> StoreResult<bool> {
        on_db!(self, pool => {
            let row: Option<(i64,)> = sqlx::query_as(
                "DELETE FROM external_oauth_state \
                 WHERE state_hash = $1 AND user_id = $2 AND service_name = $3 AND expires_at > $4 RETURNING user_id",
            )
            .bind(state_hash)
            .bind(user_id)
            .bind(service.name())
            .bind(now())
            .fetch_optional(pool)
            .await?;
            Ok(row.is_some())
        })
    }

    /// Records the start of an import; returns its id.
    pub async fn start_import(&self, user_id: i64, service: Service) -> StoreResult<i64> {
        on_db!(self, pool => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO external_import (user_id, service_name, started_at) VALUES ($1, $2, $3) RETURNING import_id",
            )
            .bind(user_id)
            .bind(service.name())
            .bind(now())
            .fetch_one(pool)
            .await?;
            Ok(id)
        })
    }

    /// Records how an import ended (`ok`, `revoked`, `error: …`).
    pub async fn finish_import(
        &self,
        import_id: i64,
        outcome: &str,
        report: ImportReport,
    ) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query(
                "UPDATE external_import SET finished_at = $2, outcome = $3, items_created = $4, interactions_written = $5 \
                 WHERE import_id = $1",
            )
            .bind(import_id)
            .bind(now())
            .bind(outcome)
            .bind(report.items_created)
            .bind(report.interactions_written)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Brings a provider's items into the catalogue and the user's
    /// interactions, in one transaction, one import at a time (two at once
    /// would both miss a new item and both create it). Items are matched by
    /// provider id, then by normalised title, and created (with their
    /// `added` event) when unknown; interactions go through the same SQL as
    /// `patch_item`. Only the importing user's interactions are read or
    /// written. Re-importing the same items writes nothing.
    pub async fn import_library(
        &self,
        user_id: i64,
        items: &[ImportItem],
    ) -> StoreResult<ImportReport> {
        let mut report = ImportReport::default();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            take_transaction_turn(&mut *tx, turn::LIBRARY_IMPORTS).await?;
            let mut found = Vec::with_capacity(items.len());
            for item in items {
                let content_id = match find_imported(&mut *tx, item).await? {
                    Some(id) => id,
                    None => {
                        report.items_created += 1;
                        create_imported(&mut *tx, user_id, item).await?
                    }
                };
                found.push((content_id, item));
            }
            // Ratings lock their items' rows in id order rather than the
            // provider's: fewer ways to deadlock with other writers of
            // many items.
            found.sort_by_key(|(content_id, _)| *content_id);
            for (content_id, item) in found {
                report.interactions_written += import_interaction(&mut *tx, user_id, content_id, item).await?;
            }
            tx.commit().await?;
            Ok(report)
        })
    }
}

/// The catalogue item an imported one is: the first provider key that
/// matches, else the same normalised title (and `title_with` column).
async fn find_imported(mut conn: impl Conn, item: &ImportItem) -> Result<Option<i64>, sqlx::Error> {
    let media = spec(item.kind);
    for (column, value) in &item.keys {
        if media.column(column).is_none() || value.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT content_id FROM {} WHERE {column} = $1 ORDER BY content_id LIMIT 1",
            media.table
        );
        let query = statement(&conn, sqlx::AssertSqlSafe(sql)).arg(value.as_str());
        if let Some(row) = query.fetch_optional(conn.executor()).await? {
            return get(&conn, &row, 0).map(Some);
        }
    }
    let title = normalise_title(&item.title);
    if title.is_empty() {
        return Ok(None);
    }
    let title_column = media.title_column();
    let same_title = format!("LOWER(TRIM({title_column})) = $1");
    let query = match item.title_with {
        Some((column, value)) if media.column(column).is_some() => {
            let sql = format!(
                "SELECT content_id FROM {} WHERE {same_title} AND {column} = $2 ORDER BY content_id LIMIT 1",
                media.table
            );
            statement(&conn, sqlx::AssertSqlSafe(sql))
                .arg(title)
                .arg(value)
        }
        _ => {
            let sql = format!(
                "SELECT content_id FROM {} WHERE {same_title} ORDER BY content_id LIMIT 1",
                media.table
            );
            statement(&conn, sqlx::AssertSqlSafe(sql)).arg(title)
        }
    };
    match query.fetch_optional(conn.executor()).await? {
        Some(row) => get(&conn, &row, 0).map(Some),
        None => Ok(None),
    }
}

/// Creates an imported item (content row, media row, `added` event);
/// answers its content id. Text longer than its column is cut, and a
/// number where text is wanted is written as its digits.
async fn create_imported(
    conn: impl Conn,
    user_id: i64,
    item: &ImportItem,
) -> Result<i64, sqlx::Error> {
    let media = spec(item.kind);
    let mut fields = Map::new();
    let mut columns = Vec::new();
    for column in media.columns {
        let Some(value) = item.fields.get(column.name).filter(|v| !v.is_null()) else {
            continue;
        };
        let value = match column.ty {
            ColumnType::Text(max) | ColumnType::TextOrNumber(max) => {
                Value::String(match value.as_str() {
                    Some(text) => text.chars().take(max).collect(),
                    None => value.to_string(),
                })
            }
            ColumnType::Integer | ColumnType::Uuid => value.clone(),
        };
        fields.insert(column.name.to_string(), value);
        columns.push(column);
    }
    let new = NewItem {
        table: media.table,
        label: item.kind.label(),
        rating: item.rating,
        rating_count: item.rating_count.unwrap_or(0),
        columns: &columns,
        fields: &fields,
        genres: &[],
        added_by: user_id,
    };
    insert_item(conn, &new).await
}

/// Writes the user's interaction with an imported item: a first one
/// counts a consumption (and a page seen, when the provider says so), a
/// later one only a changed rating or a newer play. Answers how many
/// interactions it wrote.
async fn import_interaction(
    mut conn: impl Conn,
    user_id: i64,
    content_id: i64,
    item: &ImportItem,
) -> Result<i64, sqlx::Error> {
    let label = item.kind.label();
    let query = statement(
        &conn,
        "SELECT rating, last_count_increment FROM meta_user_content WHERE user_id = $1 AND content_id = $2",
    )
    .arg(user_id)
    .arg(content_id);
    let existing = match query.fetch_optional(conn.executor()).await? {
        Some(row) => Some(decode::<_, (Option<i64>, Option<NaiveDateTime>)>(
            &conn, &row,
        )?),
        None => None,
    };
    let at = now();
    let Some((old_rating, last_count)) = existing else {
        let patch = MetaPatch {
            rating: item.user_rating,
            additional_count: Some(1),
        };
        patch_meta(
            &mut conn,
            user_id,
            content_id,
            label,
            patch,
            item.consumed_at.unwrap_or(at),
        )
        .await?;
        // Only a play has a play date; a page seen counts once.
        let query = statement(
            &conn,
            "UPDATE meta_user_content SET last_count_increment = $3, \
               review_see_count = CASE WHEN $4 THEN 1 ELSE review_see_count END, \
               last_review_see_date = CASE WHEN $4 THEN $5 ELSE last_review_see_date END \
             WHERE user_id = $1 AND content_id = $2",
        )
        .arg(user_id)
        .arg(content_id)
        .arg(item.consumed_at)
        .arg(item.seen)
        .arg(at);
        execute(&mut conn, query).await?;
        return Ok(1);
    };
    let mut written = 0;
    if item.user_rating.is_some() && item.user_rating != old_rating {
        let patch = MetaPatch {
            rating: item.user_rating,
            additional_count: None,
        };
        patch_meta(&mut conn, user_id, content_id, label, patch, at).await?;
        written += 1;
    }
    if let Some(played) = item.consumed_at
        && last_count.is_none_or(|last| played > last)
    {
        let query = statement(
            &conn,
            "UPDATE meta_user_content SET last_count_increment = $3 WHERE user_id = $1 AND content_id = $2",
        )
        .arg(user_id)
        .arg(content_id)
        .arg(played);
        execute(&mut conn, query).await?;
        let event = crate::interactions::changed(
            user_id,
            content_id,
            label,
            "last_count_increment",
            Some(crate::events::render_time(played)),
        );
        write_event(conn, &event).await?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::normalise_title;

    #[test]
    fn titles_are_compared_loosely() {
        assert_eq!(normalise_title("  The  Matrix "), "the matrix");
    }
}
