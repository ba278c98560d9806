//! Linked external services (spec api-accounts §11): the stored grants (the
//! API encrypts them before they get here), the single-use OAuth states, the
//! record of background imports, and the import of a provider's library into
//! the catalogue and one user's interactions, in one transaction.

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use recofinement_domain::ContentKind;
use recofinement_domain::media::{ColumnType, spec};

use crate::dialect::BeginWrite;
use crate::events::write_event;
use crate::events::{EventKind, NewEvent};
use crate::interactions::{MetaPatch, patch_meta};
use crate::{Db, StoreResult, now, on_db};

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
#[derive(Debug, sqlx::FromRow)]
pub struct StoredGrant {
    pub user_id: i64,
    pub service_name: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
}

impl Db {
    /// The user's grant for `service` (`Spotify`, `TMDB`, `GBooks`).
    pub async fn external_link(
        &self,
        user_id: i64,
        service: &str,
    ) -> StoreResult<Option<ExternalLink>> {
        on_db!(self, pool => {
            let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT access_token, refresh_token FROM external_service WHERE user_id = $1 AND service_name = $2",
            )
            .bind(user_id)
            .bind(service)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(access_token, refresh_token)| ExternalLink { access_token, refresh_token }))
        })
    }

    /// Stores a new grant; false when the service was already linked.
    pub async fn link_external(
        &self,
        user_id: i64,
        service: &str,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> StoreResult<bool> {
        on_db!(self, pool => {
            let result = sqlx::query(
                "INSERT INTO external_service (user_id, service_name, access_token, refresh_token) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id, service_name) DO NOTHING",
            )
            .bind(user_id)
            .bind(service)
            .bind(access_token)
            .bind(refresh_token)
            .execute(pool)
            .await?;
            Ok(result.rows_affected() == 1)
        })
    }

    /// Replaces the access token (and the refresh token when a new one is given).
    pub async fn update_external_tokens(
        &self,
        user_id: i64,
        service: &str,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query(
                "UPDATE external_service SET access_token = $3, refresh_token = COALESCE($4, refresh_token) \
                 WHERE user_id = $1 AND service_name = $2",
            )
            .bind(user_id)
            .bind(service)
            .bind(access_token)
            .bind(refresh_token)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Every stored grant (user, service, tokens as stored), for the
    /// re-encryption of a key rotation.
    pub async fn external_grants(&self) -> StoreResult<Vec<StoredGrant>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT user_id, service_name, access_token, refresh_token FROM external_service ORDER BY user_id, service_name",
        )
        .fetch_all(pool)
        .await?))
    }

    /// Removes a link; false when there was none.
    pub async fn unlink_external(&self, user_id: i64, service: &str) -> StoreResult<bool> {
        on_db!(self, pool => {
            let result = sqlx::query("DELETE FROM external_service WHERE user_id = $1 AND service_name = $2")
                .bind(user_id)
                .bind(service)
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
        service: &str,
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
            .bind(service)
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
        service: &str,
    ) -> StoreResult<bool> {
        on_db!(self, pool => {
            let row: Option<(i64,)> = sqlx::query_as(
                "DELETE FROM external_oauth_state \
                 WHERE state_hash = $1 AND user_id = $2 AND service_name = $3 AND expires_at > $4 RETURNING user_id",
            )
            .bind(state_hash)
            .bind(user_id)
            .bind(service)
            .bind(now())
            .fetch_optional(pool)
            .await?;
            Ok(row.is_some())
        })
    }

    /// Records the start of an import; returns its id.
    pub async fn start_import(&self, user_id: i64, service: &str) -> StoreResult<i64> {
        on_db!(self, pool => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO external_import (user_id, service_name, started_at) VALUES ($1, $2, $3) RETURNING import_id",
            )
            .bind(user_id)
            .bind(service)
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
    /// interactions, in one transaction: items are matched by provider id,
    /// then by normalised title, and created (with their `added` event) when
    /// unknown; interactions go through the same SQL as `patch_item`. Only
    /// the importing user's interactions are read or written. Re-importing
    /// the same items writes nothing.
    pub async fn import_library(
        &self,
        user_id: i64,
        items: &[ImportItem],
    ) -> StoreResult<ImportReport> {
        let mut report = ImportReport::default();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for item in items {
                let media = spec(item.kind);
                let label = item.kind.label();
                let title_column = media.search_field;
                // 1. Find the item.
                let mut found: Option<i64> = None;
                for (column, value) in &item.keys {
                    if media.column(column).is_none() || value.is_empty() {
                        continue;
                    }
                    let sql = format!("SELECT content_id FROM {} WHERE {column} = $1 ORDER BY content_id LIMIT 1", media.table);
                    let row: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(value)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some((id,)) = row {
                        found = Some(id);
                        break;
                    }
                }
                let title = normalise_title(&item.title);
                if found.is_none() && !title.is_empty() {
                    let row: Option<(i64,)> = match item.title_with {
                        Some((column, value)) if media.column(column).is_some() => {
                            let sql = format!(
                                "SELECT content_id FROM {} WHERE LOWER(TRIM({title_column})) = $1 AND {column} = $2 ORDER BY content_id LIMIT 1",
                                media.table
                            );
                            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&title).bind(value).fetch_optional(&mut *tx).await?
                        }
                        _ => {
                            let sql = format!(
                                "SELECT content_id FROM {} WHERE LOWER(TRIM({title_column})) = $1 ORDER BY content_id LIMIT 1",
                                media.table
                            );
                            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&title).fetch_optional(&mut *tx).await?
                        }
                    };
                    found = row.map(|(id,)| id);
                }
                // 2. Create it when unknown.
                let content_id = match found {
                    Some(id) => id,
                    None => {
                        let (id,): (i64,) = sqlx::query_as(
                            "INSERT INTO content (rating, rating_count, popularity_score, content_type) VALUES ($1, $2, 0, $3) RETURNING content_id",
                        )
                        .bind(item.rating)
                        .bind(item.rating_count.unwrap_or(0))
                        .bind(label)
                        .fetch_one(&mut *tx)
                        .await?;
                        let columns: Vec<_> = media
                            .columns
                            .iter()
                            .filter(|c| item.fields.get(c.name).is_some_and(|v| !v.is_null()))
                            .collect();
                        let mut names = vec!["content_id"];
                        names.extend(columns.iter().map(|c| c.name));
                        let params: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
                        let sql = format!("INSERT INTO {} ({}) VALUES ({})", media.table, names.join(", "), params.join(", "));
                        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
                        for column in &columns {
                            let value = &item.fields[column.name];
                            query = match column.ty {
                                ColumnType::Integer => query.bind(value.as_i64()),
                                ColumnType::Text(max) | ColumnType::TextOrNumber(max) => query.bind(
                                    value.as_str().map(|s| s.chars().take(max).collect::<String>()).or_else(|| Some(value.to_string())),
                                ),
                                ColumnType::Uuid => query.bind(value.as_str().map(str::to_string)),
                            };
                        }
                        query.execute(&mut *tx).await?;
                        let mut payload = Map::new();
                        for column in &columns {
                            payload.insert(column.name.to_string(), item.fields[column.name].clone());
                        }
                        let added = NewEvent {
                            kind: EventKind::Added,
                            occured_by: Some(user_id),
                            object_id: id,
                            model_name: media.table,
                            attribute_name: None,
                            new_value: None,
                            content_type: Some(label),
                            payload: Some(Value::Object(payload).to_string()),
                        };
                        write_event(&mut *tx, &added).await?;
                        report.items_created += 1;
                        id
                    }
                };
                // 3. The user's interaction.
                let existing: Option<(Option<i64>, Option<NaiveDateTime>)> = sqlx::query_as(
                    "SELECT rating, last_count_increment FROM meta_user_content WHERE user_id = $1 AND content_id = $2",
                )
                .bind(user_id)
                .bind(content_id)
                .fetch_optional(&mut *tx)
                .await?;
                let at = now();
                match existing {
                    None => {
                        let patch = MetaPatch { rating: item.user_rating, additional_count: Some(1) };
                        patch_meta(&mut *tx, user_id, content_id, label, patch, item.consumed_at.unwrap_or(at)).await?;
                        // Only a play has a play date; a page seen counts once.
                        sqlx::query(
                            "UPDATE meta_user_content SET last_count_increment = $3, \
                               review_see_count = CASE WHEN $4 THEN 1 ELSE review_see_count END, \
                               last_review_see_date = CASE WHEN $4 THEN $5 ELSE last_review_see_date END \
                             WHERE user_id = $1 AND content_id = $2",
                        )
                        .bind(user_id)
                        .bind(content_id)
                        .bind(item.consumed_at)
                        .bind(item.seen)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                        report.interactions_written += 1;
                    }
                    Some((old_rating, last_count)) => {
                        if item.user_rating.is_some() && item.user_rating != old_rating {
                            let patch = MetaPatch { rating: item.user_rating, additional_count: None };
                            patch_meta(&mut *tx, user_id, content_id, label, patch, at).await?;
                            report.interactions_written += 1;
                        }
                        if let Some(played) = item.consumed_at
                            && last_count.is_none_or(|last| played > last)
                        {
                            sqlx::query("UPDATE meta_user_content SET last_count_increment = $3 WHERE user_id = $1 AND content_id = $2")
                                .bind(user_id)
                                .bind(content_id)
                                .bind(played)
                                .execute(&mut *tx)
                                .await?;
                            let event = crate::interactions::changed(
                                user_id,
                                content_id,
                                label,
                                "last_count_increment",
                                Some(crate::events::render_time(played)),
                            );
                            write_event(&mut *tx, &event).await?;
                            report.interactions_written += 1;
                        }
                    }
                }
            }
            tx.commit().await?;
            Ok(report)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::normalise_title;

    #[test]
    fn titles_are_compared_loosely() {
        assert_eq!(normalise_title("  The  Matrix "), "the matrix");
    }
}
