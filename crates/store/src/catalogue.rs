//! Reading the catalogue: popular lists, search, genres, episodes and the
//! recommendation lists, for any media kind described by a `MediaSpec`.
//! A page is one joined query plus one query for the genres of its items
//! (no N+1), and the count runs without ORDER BY.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::{FromRow, Row};

use recofinement_domain::media::{ColumnType, EPISODE_COLUMNS, MediaSpec, PopularOrder, Shape};

use crate::dialect::escape_like;
use crate::{Db, StoreResult, on_db};

/// Items per page of every list.
pub const PAGE_SIZE: i64 = 24;

#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
pub struct Genre {
    pub genre_id: i64,
    pub name: String,
    pub count: Option<i64>,
}

/// One page of items as JSON objects, with the total of matching rows.
#[derive(Debug, Default)]
pub struct ItemPage {
    pub items: Vec<Map<String, Value>>,
    pub total: i64,
}

/// `SELECT` list of an item: content columns, then the media columns in
/// spec order (decoded by position in `decode_item`).
fn select_list(spec: &MediaSpec) -> String {
    let mut sql = String::from("c.content_id, c.rating, c.rating_count, c.popularity_score");
    for column in spec.columns {
        sql.push_str(", m.");
        sql.push_str(column.name);
    }
    sql
}

/// The kind's popular order, ending with the unique tie-breaker.
pub fn popular_order(spec: &MediaSpec) -> &'static str {
    match spec.popular {
        PopularOrder::Ratings => {
            "c.rating_count DESC NULLS LAST, c.rating DESC NULLS LAST, c.content_id"
        }
        PopularOrder::Popularity => "c.popularity_score DESC NULLS LAST, c.content_id",
        PopularOrder::GameRecommendations => "m.recommendations DESC NULLS LAST, c.content_id",
    }
}

/// Decodes a row of `select_list` (plus `extra` trailing reco columns).
fn decode_item<R>(row: &R, spec: &MediaSpec, reco: bool) -> Result<Map<String, Value>, sqlx::Error>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut item = Map::new();
    let content_id: i64 = row.try_get(0)?;
    item.insert("content_id".into(), content_id.into());
    if let Some(alias) = spec.alias {
        item.insert(alias.into(), content_id.into());
    }
    item.insert("rating".into(), row.try_get::<Option<f64>, _>(1)?.into());
    item.insert(
        "rating_count".into(),
        row.try_get::<Option<i64>, _>(2)?.into(),
    );
    item.insert(
        "popularity_score".into(),
        row.try_get::<Option<f64>, _>(3)?.into(),
    );
    let mut index = 4;
    for column in spec.columns {
        let value: Value = match column.ty {
            ColumnType::Integer => row.try_get::<Option<i64>, _>(index)?.into(),
            _ => row.try_get::<Option<String>, _>(index)?.into(),
        };
        item.insert(column.name.into(), value);
        index += 1;
    }
    if reco {
        item.insert(
            "reco_engine".into(),
            row.try_get::<Option<String>, _>(index)?.into(),
        );
        item.insert(
            "reco_score".into(),
            row.try_get::<Option<f64>, _>(index + 1)?.into(),
        );
        item.insert(
            "reason".into(),
            row.try_get::<Option<String>, _>(index + 2)?.into(),
        );
    }
    Ok(item)
}

/// Binds a list of parameters and fetches a page of items.
macro_rules! fetch_items {
    ($pool:expr, $sql:expr, $spec:expr, $reco:expr, [$($bind:expr),*]) => {{
        let rows = sqlx::query(sqlx::AssertSqlSafe($sql))
            $(.bind($bind))*
            .fetch_all($pool)
            .await?;
        rows.iter().map(|r| decode_item(r, $spec, $reco)).collect::<Result<Vec<_>, sqlx::Error>>()?
    }};
}

macro_rules! fetch_count {
    ($pool:expr, $sql:expr, [$($bind:expr),*]) => {{
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe($sql)) $(.bind($bind))* .fetch_one($pool).await?;
        n
    }};
}

impl Db {
    /// E1: every item of the kind in its popular order.
    pub async fn popular_items(&self, spec: &MediaSpec, offset: i64) -> StoreResult<ItemPage> {
        let sql = format!(
            "SELECT {} FROM content c JOIN {} m ON m.content_id = c.content_id \
             WHERE c.content_type = $1 ORDER BY {} LIMIT $2 OFFSET $3",
            select_list(spec),
            spec.table,
            popular_order(spec)
        );
        // Kept by the writes (migration 0040): no count over the kind.
        let count = "SELECT COALESCE((SELECT items FROM content_count WHERE content_type = $1), 0)"
            .to_string();
        let label = spec.kind.label();
        let mut page = on_db!(self, pool => ItemPage {
            items: fetch_items!(pool, sql, spec, false, [label, PAGE_SIZE, offset]),
            total: fetch_count!(pool, count, [label]),
        });
        self.shape_items(spec, spec.popular_shape, &mut page.items)
            .await?;
        Ok(page)
    }

    /// E2: items whose search field contains `term` (case-insensitive,
    /// literal), prefix matches first, then the popular order.
    pub async fn search_items(
        &self,
        spec: &MediaSpec,
        term: &str,
        offset: i64,
    ) -> StoreResult<ItemPage> {
        let lowered = term.to_lowercase();
        let contains = format!("%{}%", escape_like(&lowered));
        let prefix = format!("{}%", escape_like(&lowered));
        let field = format!("m.{}", spec.search_field);
        let index_filter = self.search_index_filter(spec, term);
        let filter = format!("lower({field}) LIKE $1 ESCAPE '\\'{index_filter}");
        let sql = format!(
            "SELECT {} FROM content c JOIN {} m ON m.content_id = c.content_id WHERE {filter} \
             ORDER BY CASE WHEN lower({field}) LIKE $2 ESCAPE '\\' THEN 0 ELSE 1 END, {} LIMIT $3 OFFSET $4",
            select_list(spec),
            spec.table,
            popular_order(spec)
        );
        let count = format!(
            "SELECT COUNT(*) FROM {} m WHERE {}",
            spec.table,
            filter.replace("$5", "$2")
        );
        let phrase = crate::dialect::fts_phrase(term);
        let mut page = on_db!(self, pool => {
            if index_filter.is_empty() {
                ItemPage {
                    items: fetch_items!(pool, sql, spec, false, [&contains, &prefix, PAGE_SIZE, offset]),
                    total: fetch_count!(pool, count, [&contains]),
                }
            } else {
                ItemPage {
                    items: fetch_items!(pool, sql, spec, false, [&contains, &prefix, PAGE_SIZE, offset, &phrase]),
                    total: fetch_count!(pool, count, [&contains, &phrase]),
                }
            }
        });
        self.shape_items(spec, spec.search_shape, &mut page.items)
            .await?;
        Ok(page)
    }

    /// E3/E4: the recommendations stored for a user (or for the groups of
    /// a user), best first, without what they flagged as bad or consumed.
    pub async fn recommended_items(
        &self,
        spec: &MediaSpec,
        target: RecoTarget,
        engine: Option<&str>,
        offset: i64,
    ) -> StoreResult<ItemPage> {
        // $1 is the user (the groups' member for group lists), $2 the engine.
        let (from, owner_filter) = match target {
            RecoTarget::User(_) => (
                "recommended_content r",
                "r.user_id = $1 AND ($2 IS NULL OR r.engine = $2)",
            ),
            // One row per content: the best score among the user's groups.
            RecoTarget::Groups(_) => (
                "(SELECT g.content_id, g.engine, g.score, g.engine_priority, g.reason, \
                    ROW_NUMBER() OVER (PARTITION BY g.content_id ORDER BY g.score DESC NULLS LAST, g.group_id) AS rank \
                  FROM recommended_content_for_group g \
                  WHERE g.group_id IN (SELECT group_id FROM \"group\" WHERE owner_id = $1 \
                                      UNION SELECT group_id FROM group_members WHERE user_id = $1) \
                    AND ($2 IS NULL OR g.engine = $2)) r",
                "r.rank = 1",
            ),
        };
        let where_clause = format!(
            "{owner_filter} \
             AND NOT EXISTS (SELECT 1 FROM bad_recommendation_content b WHERE b.user_id = $1 AND b.content_id = c.content_id) \
             AND NOT EXISTS (SELECT 1 FROM meta_user_content u WHERE u.user_id = $1 AND u.content_id = c.content_id \
                             AND (u.rating IS NOT NULL OR COALESCE(u.count, 0) > 0))"
        );
        let order = popular_order(spec);
        let sql = format!(
            "SELECT {}, r.engine, r.score, r.reason FROM {from} JOIN content c ON c.content_id = r.content_id \
             JOIN {} m ON m.content_id = c.content_id WHERE {where_clause} \
             ORDER BY r.engine_priority DESC NULLS LAST, r.score DESC NULLS LAST, {order} LIMIT $3 OFFSET $4",
            select_list(spec),
            spec.table,
        );
        let count = format!(
            "SELECT COUNT(*) FROM {from} JOIN content c ON c.content_id = r.content_id \
             JOIN {} m ON m.content_id = c.content_id WHERE {where_clause}",
            spec.table
        );
        let user_id = target.user_id();
        let mut page = on_db!(self, pool => ItemPage {
            items: fetch_items!(pool, sql, spec, true, [user_id, engine, PAGE_SIZE, offset]),
            total: fetch_count!(pool, count, [user_id, engine]),
        });
        self.shape_items(spec, spec.popular_shape, &mut page.items)
            .await?;
        Ok(page)
    }

    /// Cold start: popular items of the kind carrying one of the genres the
    /// user declared, not consumed nor flagged, with the genre as reason.
    pub async fn cold_start_items(
        &self,
        spec: &MediaSpec,
        user_id: i64,
        offset: i64,
    ) -> StoreResult<ItemPage> {
        let filter = "EXISTS (SELECT 1 FROM content_genres cg JOIN liked_genres l ON l.genre_id = cg.genre_id \
                WHERE cg.content_id = c.content_id AND l.user_id = $1) \
             AND NOT EXISTS (SELECT 1 FROM bad_recommendation_content b WHERE b.user_id = $1 AND b.content_id = c.content_id) \
             AND NOT EXISTS (SELECT 1 FROM meta_user_content u WHERE u.user_id = $1 AND u.content_id = c.content_id \
                             AND (u.rating IS NOT NULL OR COALESCE(u.count, 0) > 0))";
        let reason = "(SELECT 'Popular in ' || MIN(g.name) FROM content_genres cg JOIN liked_genres l ON l.genre_id = cg.genre_id \
                JOIN genre g ON g.genre_id = cg.genre_id WHERE cg.content_id = c.content_id AND l.user_id = $1)";
        let sql = format!(
            "SELECT {}, 'Popularity', NULL, {reason} FROM content c JOIN {} m ON m.content_id = c.content_id \
             WHERE c.content_type = $2 AND {filter} ORDER BY {} LIMIT $3 OFFSET $4",
            select_list(spec),
            spec.table,
            popular_order(spec)
        );
        let count =
            format!("SELECT COUNT(*) FROM content c WHERE c.content_type = $2 AND {filter}");
        let label = spec.kind.label();
        let mut page = on_db!(self, pool => ItemPage {
            items: fetch_items!(pool, sql, spec, true, [user_id, label, PAGE_SIZE, offset]),
            total: fetch_count!(pool, count, [user_id, label]),
        });
        self.shape_items(spec, spec.popular_shape, &mut page.items)
            .await?;
        Ok(page)
    }

    /// Completes items for their shape: `genres` for the "with genres"
    /// shape, `categorie` (the first genre) for applications.
    pub async fn shape_items(
        &self,
        spec: &MediaSpec,
        shape: Shape,
        items: &mut [Map<String, Value>],
    ) -> StoreResult<()> {
        if shape == Shape::WithGenres {
            self.attach_genres(items).await?;
        }
        if spec.kind == recofinement_domain::ContentKind::Application {
            let ids: Vec<i64> = items
                .iter()
                .filter_map(|i| i.get("content_id").and_then(Value::as_i64))
                .collect();
            let mut genres = self.genres_of(&ids).await?;
            for item in items.iter_mut() {
                let id = item
                    .get("content_id")
                    .and_then(Value::as_i64)
                    .unwrap_or_default();
                let first = genres.remove(&id).and_then(|g| g.into_iter().next());
                item.insert(
                    "categorie".into(),
                    serde_json::to_value(first).unwrap_or_default(),
                );
            }
        }
        Ok(())
    }

    /// Adds `genres` to items, in one query.
    pub async fn attach_genres(&self, items: &mut [Map<String, Value>]) -> StoreResult<()> {
        let ids: Vec<i64> = items
            .iter()
            .filter_map(|i| i.get("content_id").and_then(Value::as_i64))
            .collect();
        let mut by_item = self.genres_of(&ids).await?;
        for item in items.iter_mut() {
            let id = item
                .get("content_id")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            let genres = by_item.remove(&id).unwrap_or_default();
            item.insert(
                "genres".into(),
                serde_json::to_value(genres).unwrap_or_default(),
            );
        }
        Ok(())
    }

    /// Genres of each of the given items, by item, lowest genre id first.
    pub async fn genres_of(&self, ids: &[i64]) -> StoreResult<HashMap<i64, Vec<Genre>>> {
        let mut by_item: HashMap<i64, Vec<Genre>> = HashMap::new();
        if ids.is_empty() {
            return Ok(by_item);
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT cg.content_id, g.genre_id, g.name, g.count FROM content_genres cg \
             JOIN genre g ON g.genre_id = cg.genre_id WHERE cg.content_id IN ({}) ORDER BY cg.content_id, g.genre_id",
            placeholders.join(", ")
        );
        let rows: Vec<(i64, i64, String, Option<i64>)> = on_db!(self, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in ids {
                query = query.bind(*id);
            }
            query.fetch_all(pool).await?
        });
        for (content_id, genre_id, name, count) in rows {
            by_item.entry(content_id).or_default().push(Genre {
                genre_id,
                name,
                count,
            });
        }
        Ok(by_item)
    }

    /// E5: genres of a kind, most popular first.
    pub async fn kind_genres(&self, spec: &MediaSpec) -> StoreResult<Vec<Genre>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT genre_id, name, count FROM genre WHERE content_type = $1 \
             ORDER BY count DESC NULLS LAST, name, genre_id",
        )
        .bind(spec.kind.label())
        .fetch_all(pool)
        .await?))
    }

    pub async fn genre(&self, genre_id: i64) -> StoreResult<Option<Genre>> {
        on_db!(self, pool => Ok(sqlx::query_as("SELECT genre_id, name, count FROM genre WHERE genre_id = $1")
            .bind(genre_id)
            .fetch_optional(pool)
            .await?))
    }

    /// The upper-case kind of a content row, if it exists.
    pub async fn content_type_of(&self, content_id: i64) -> StoreResult<Option<String>> {
        on_db!(self, pool => {
            let row: Option<(Option<String>,)> = sqlx::query_as("SELECT content_type FROM content WHERE content_id = $1")
                .bind(content_id)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|(t,)| t.unwrap_or_default()))
        })
    }

    /// E6: the episodes of a serie in season order; `None` when no serie has
    /// this id.
    pub async fn episodes(&self, serie_id: i64) -> StoreResult<Option<Vec<Map<String, Value>>>> {
        let exists: Option<(i64,)> = on_db!(self, pool => sqlx::query_as("SELECT content_id FROM serie WHERE content_id = $1")
            .bind(serie_id)
            .fetch_optional(pool)
            .await?);
        if exists.is_none() {
            return Ok(None);
        }
        let columns: Vec<&str> = EPISODE_COLUMNS.iter().map(|c| c.name).collect();
        let sql = format!(
            "SELECT e.content_id, c.rating, c.rating_count, e.serie_id, e.{} FROM episode e \
             JOIN content c ON c.content_id = e.content_id WHERE e.serie_id = $1 \
             ORDER BY e.season_number ASC NULLS LAST, e.episode_number ASC NULLS LAST, e.content_id",
            columns.join(", e.")
        );
        let episodes = on_db!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(serie_id).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut item = Map::new();
                let id: i64 = row.try_get(0)?;
                item.insert("content_id".into(), id.into());
                item.insert("episode_id".into(), id.into());
                item.insert("rating".into(), row.try_get::<Option<f64>, _>(1)?.into());
                item.insert("rating_count".into(), row.try_get::<Option<i64>, _>(2)?.into());
                item.insert("serie_id".into(), row.try_get::<Option<i64>, _>(3)?.into());
                for (i, column) in EPISODE_COLUMNS.iter().enumerate() {
                    let value: Value = match column.ty {
                        ColumnType::Integer => row.try_get::<Option<i64>, _>(4 + i)?.into(),
                        _ => row.try_get::<Option<String>, _>(4 + i)?.into(),
                    };
                    item.insert(column.name.into(), value);
                }
                out.push(item);
            }
            out
        });
        Ok(Some(episodes))
    }

    /// E7: the tracks a user played, last played first.
    pub async fn track_history(
        &self,
        spec: &MediaSpec,
        user_id: i64,
        offset: i64,
    ) -> StoreResult<(Vec<Value>, i64)> {
        let sql = format!(
            "SELECT {}, u.last_count_increment FROM meta_user_content u JOIN content c ON c.content_id = u.content_id \
             JOIN {} m ON m.content_id = c.content_id WHERE u.user_id = $1 AND u.last_count_increment IS NOT NULL \
             ORDER BY u.last_count_increment DESC, c.content_id LIMIT $2 OFFSET $3",
            select_list(spec),
            spec.table
        );
        let count = format!(
            "SELECT COUNT(*) FROM meta_user_content u JOIN {} m ON m.content_id = u.content_id \
             WHERE u.user_id = $1 AND u.last_count_increment IS NOT NULL",
            spec.table
        );
        let position = 4 + spec.columns.len();
        let (mut items, dates, total) = on_db!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id).bind(PAGE_SIZE).bind(offset).fetch_all(pool).await?;
            let mut items = Vec::new();
            let mut dates = Vec::new();
            for row in &rows {
                items.push(decode_item(row, spec, false)?);
                dates.push(row.try_get::<chrono::NaiveDateTime, _>(position)?);
            }
            (items, dates, fetch_count!(pool, count, [user_id]))
        });
        self.attach_genres(&mut items).await?;
        let entries = items
            .into_iter()
            .zip(dates)
            .map(|(track, date)| serde_json::json!({"last_played_date": crate::timefmt::format(&date), "track": track}))
            .collect();
        Ok((entries, total))
    }
}

/// Whose recommendations to read.
#[derive(Clone, Copy, Debug)]
pub enum RecoTarget {
    User(i64),
    /// The groups the user owns or belongs to.
    Groups(i64),
}

impl RecoTarget {
    fn user_id(self) -> i64 {
        match self {
            RecoTarget::User(id) | RecoTarget::Groups(id) => id,
        }
    }
}

impl Db {
    /// Items of a kind by id (Base shape), for lists that hold ids of
    /// several kinds: ids of other kinds are simply absent from the map.
    pub async fn items_by_ids(
        &self,
        spec: &MediaSpec,
        ids: &[i64],
    ) -> StoreResult<HashMap<i64, Map<String, Value>>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {} FROM content c JOIN {} m ON m.content_id = c.content_id WHERE c.content_id IN ({})",
            select_list(spec),
            spec.table,
            placeholders.join(", ")
        );
        let items = on_db!(self, pool => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in ids {
                query = query.bind(*id);
            }
            let rows = query.fetch_all(pool).await?;
            rows.iter().map(|r| decode_item(r, spec, false)).collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(items
            .into_iter()
            .filter_map(|item| Some((item.get("content_id")?.as_i64()?, item)))
            .collect())
    }
}
