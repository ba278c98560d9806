//! Proposed items awaiting validation. A proposal is one row holding its
//! media fields, genres and episodes as JSON, with who proposed it and when;
//! accepting it creates the catalogue rows and their events in one
//! transaction, episodes included.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use recofinement_domain::media::{Column, EPISODE_COLUMNS, MediaSpec};

use recofinement_domain::{ContentKind, Listing, Page};

use crate::dialect::BeginWrite;
use crate::listing::{ListQuery, page_of};
use crate::new_item::{NewItem, SERIE_ID, insert_item};
use crate::{Db, StoreError, StoreResult, now, on_db};

/// One proposed episode of a proposed serie.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProposedEpisode {
    pub fields: Map<String, Value>,
    pub genres: Vec<i64>,
}

/// A proposal as stored.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Proposal {
    /// Media columns, already validated and typed (strings or integers).
    pub fields: Map<String, Value>,
    pub genres: Vec<i64>,
    #[serde(default)]
    pub episodes: Vec<ProposedEpisode>,
}

/// What went wrong accepting a proposal.
#[derive(Debug)]
pub enum AcceptError {
    NotFound,
    /// The unique value is already in the catalogue.
    Duplicate,
    Store(StoreError),
}

impl From<StoreError> for AcceptError {
    fn from(e: StoreError) -> Self {
        AcceptError::Store(e)
    }
}
impl From<sqlx::Error> for AcceptError {
    fn from(e: sqlx::Error) -> Self {
        match StoreError::from(e) {
            StoreError::Conflict { .. } => AcceptError::Duplicate,
            other => AcceptError::Store(other),
        }
    }
}

fn unique_key(spec: &MediaSpec, proposal: &Proposal) -> Option<String> {
    spec.unique
        .and_then(|c| proposal.fields.get(c))
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl Db {
    /// Genre ids among `ids` that are not genres of `kind`, in the order
    /// given; read a thousand at a time (a proposal may name many). A genre
    /// of another kind would make the engines take it for one of this kind.
    pub async fn missing_genres(&self, ids: &[i64], kind: ContentKind) -> StoreResult<Vec<i64>> {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<i64> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        let mut found = std::collections::HashSet::new();
        for chunk in unique.chunks(1000) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT genre_id FROM genre WHERE content_type = ${} AND genre_id IN ({})",
                chunk.len() + 1,
                placeholders.join(", ")
            );
            let rows: Vec<(i64,)> = on_db!(self, pool => {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    query = query.bind(*id);
                }
                query = query.bind(kind.label());
                query.fetch_all(pool).await?
            });
            found.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(unique
            .into_iter()
            .filter(|id| !found.contains(id))
            .collect())
    }

    /// E11: stores a proposal. A unique value already proposed or in the
    /// catalogue is a `Conflict`.
    pub async fn submit(
        &self,
        spec: &MediaSpec,
        proposal: &Proposal,
        user_id: i64,
    ) -> StoreResult<i64> {
        let key = unique_key(spec, proposal);
        if let (Some(column), Some(value)) = (spec.unique, &key) {
            let sql = format!("SELECT content_id FROM {} WHERE {column} = $1", spec.table);
            let taken: Option<(i64,)> = on_db!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(pool).await?);
            if taken.is_some() {
                return Err(StoreError::conflict(column));
            }
        }
        let payload = serde_json::to_string(proposal)
            .map_err(|e| StoreError::invalid("proposal payload", e))?;
        on_db!(self, pool => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO submission (content_type, payload, submitted_by, submitted_at, unique_key) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING submission_id",
            )
            .bind(spec.kind.label())
            .bind(payload)
            .bind(user_id)
            .bind(now())
            .bind(key)
            .fetch_one(pool)
            .await?;
            Ok(id)
        })
    }

    /// E12: a page of proposals of a kind, oldest first.
    pub async fn list_submissions(
        &self,
        spec: &MediaSpec,
        page: Page,
    ) -> StoreResult<Listing<(i64, Proposal)>> {
        let label = spec.kind.label();
        let list = ListQuery {
            columns: "submission_id, payload",
            from: "submission",
            filter: "content_type = $1",
            order: "submission_id",
        };
        let Listing { rows, total }: Listing<(i64, String)> =
            on_db!(self, pool => page_of(pool, list, label, page).await?);
        let proposals = rows
            .into_iter()
            .map(|(id, payload)| (id, serde_json::from_str(&payload).unwrap_or_default()))
            .collect();
        Ok(Listing {
            rows: proposals,
            total,
        })
    }

    /// E14: removes a proposal; false when there was none of this kind.
    pub async fn decline_submission(&self, spec: &MediaSpec, id: i64) -> StoreResult<bool> {
        on_db!(self, pool => {
            let result = sqlx::query("DELETE FROM submission WHERE submission_id = $1 AND content_type = $2")
                .bind(id)
                .bind(spec.kind.label())
                .execute(pool)
                .await?;
            Ok(result.rows_affected() == 1)
        })
    }

    /// E13: turns a proposal into catalogue rows (content, media row, genre
    /// links, episodes) with their `added` events, and removes it. Returns
    /// the new content id.
    pub async fn accept_submission(
        &self,
        spec: &MediaSpec,
        id: i64,
        validator: i64,
    ) -> Result<i64, AcceptError> {
        let media_columns: Vec<&Column> = spec.submitted_columns().collect();
        let episode_columns: Vec<&Column> = EPISODE_COLUMNS.iter().chain([&SERIE_ID]).collect();
        let label = spec.kind.label();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<(String,)> = sqlx::query_as(
                "DELETE FROM submission WHERE submission_id = $1 AND content_type = $2 RETURNING payload",
            )
            .bind(id)
            .bind(label)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((payload,)) = row else { return Err(AcceptError::NotFound) };
            let proposal: Proposal =
                serde_json::from_str(&payload).map_err(|e| AcceptError::Store(StoreError::invalid("stored proposal payload", e)))?;
            let item = NewItem {
                table: spec.table,
                label,
                rating: None,
                rating_count: 0,
                columns: &media_columns,
                fields: &proposal.fields,
                genres: &proposal.genres,
                added_by: validator,
            };
            let content_id = insert_item(&mut *tx, &item).await?;
            for episode in &proposal.episodes {
                let mut fields = episode.fields.clone();
                fields.insert(SERIE_ID.name.into(), content_id.into());
                let episode = NewItem {
                    table: "episode",
                    label: "EPISODE",
                    columns: &episode_columns,
                    fields: &fields,
                    genres: &episode.genres,
                    ..item
                };
                insert_item(&mut *tx, &episode).await?;
            }
            tx.commit().await?;
            Ok(content_id)
        })
    }
}
