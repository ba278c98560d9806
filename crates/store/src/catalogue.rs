//! Reading the catalogue: popular lists, search, genres, episodes and the
//! recommendation lists, for any media kind described by a `MediaSpec`.
//! A page is one joined query plus one query for the genres of its items
//! (no N+1), and the count runs without ORDER BY.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use sqlx::FromRow;

use recofinement_domain::media::{self, ColumnType, EPISODE_COLUMNS, MediaSpec, PopularOrder};
use recofinement_domain::{EngineName, Listing, Page};

use crate::backend::{Backend, Bind, Conn, Statement, statement};
use crate::dialect::{SearchFilter, escape_like};
use crate::{Db, StoreResult, on_db};

#[derive(Clone, Debug, FromRow)]
pub struct Genre {
    pub genre_id: i64,
    pub name: String,
    pub count: Option<i64>,
}

/// A media column's stored value.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Integer(Option<i64>),
    Text(Option<String>),
}

/// A catalogue item as stored: its content row and its kind's media
/// columns, in `MediaSpec::columns` order.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub content_id: i64,
    pub rating: Option<f64>,
    pub rating_count: Option<i64>,
    pub popularity_score: Option<f64>,
    pub fields: Vec<FieldValue>,
    /// Why it is in a recommendation list (`None` in other lists).
    pub recommendation: Option<Recommendation>,
}

/// The engine line that put an item in a user's or group's list.
#[derive(Clone, Debug, PartialEq)]
pub struct Recommendation {
    pub engine: Option<String>,
    pub score: Option<f64>,
    pub reason: Option<String>,
}

/// An episode of a serie, its columns in `EPISODE_COLUMNS` order.
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    pub content_id: i64,
    pub rating: Option<f64>,
    pub rating_count: Option<i64>,
    pub serie_id: Option<i64>,
    pub fields: Vec<FieldValue>,
}

/// A track of a user's listening history.
#[derive(Clone, Debug, PartialEq)]
pub struct PlayedTrack {
    pub track: Item,
    pub last_played: NaiveDateTime,
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
    match spec.lists.popular {
        PopularOrder::Ratings => {
            "c.rating_count DESC NULLS LAST, c.rating DESC NULLS LAST, c.content_id"
        }
        PopularOrder::Popularity => "c.popularity_score DESC NULLS LAST, c.content_id",
        PopularOrder::GameRecommendations => "m.recommendations DESC NULLS LAST, c.content_id",
    }
}

/// Columns `first..` of a row as the values of `columns`.
fn decode_fields<DB: Backend>(
    row: &DB::Row,
    columns: &[media::Column],
    first: usize,
) -> Result<Vec<FieldValue>, sqlx::Error> {
    let mut fields = Vec::with_capacity(columns.len());
    for (i, column) in columns.iter().enumerate() {
        fields.push(match column.ty {
            ColumnType::Integer => FieldValue::Integer(DB::get(row, first + i)?),
            _ => FieldValue::Text(DB::get(row, first + i)?),
        });
    }
    Ok(fields)
}

/// Decodes a row of `select_list` (plus the three recommendation columns
/// when `reco`).
fn decode_item<DB: Backend>(
    row: &DB::Row,
    spec: &MediaSpec,
    reco: bool,
) -> Result<Item, sqlx::Error> {
    let after = 4 + spec.columns.len();
    let recommendation = if reco {
        Some(Recommendation {
            engine: DB::get(row, after)?,
            score: DB::get(row, after + 1)?,
            reason: DB::get(row, after + 2)?,
        })
    } else {
        None
    };
    Ok(Item {
        content_id: DB::get(row, 0)?,
        rating: DB::get(row, 1)?,
        rating_count: DB::get(row, 2)?,
        popularity_score: DB::get(row, 3)?,
        fields: decode_fields::<DB>(row, spec.columns, 4)?,
        recommendation,
    })
}

/// Runs a query of `select_list` rows and decodes them.
async fn fetch_items<C: Conn>(
    mut conn: C,
    query: Statement<'_, C::Backend>,
    spec: &MediaSpec,
    reco: bool,
) -> Result<Vec<Item>, sqlx::Error> {
    let rows = query.fetch_all(conn.executor()).await?;
    rows.iter()
        .map(|row| decode_item::<C::Backend>(row, spec, reco))
        .collect()
}

/// Runs a query of `select_list` rows followed by the listing's total:
/// the items, and the total when a row carries it.
async fn fetch_items_and_total<C: Conn>(
    mut conn: C,
    query: Statement<'_, C::Backend>,
    spec: &MediaSpec,
) -> Result<(Vec<Item>, Option<i64>), sqlx::Error> {
    let rows = query.fetch_all(conn.executor()).await?;
    let total = match rows.first() {
        Some(row) => Some(<C::Backend as Backend>::get(row, 4 + spec.columns.len())?),
        None => None,
    };
    let items = rows
        .iter()
        .map(|row| decode_item::<C::Backend>(row, spec, false))
        .collect::<Result<_, _>>()?;
    Ok((items, total))
}

/// The upper-case kind label stored for an item (`""` when it has none),
/// or `None` when no item has this id; on a pool or inside a transaction.
pub(crate) async fn stored_kind<C: Conn>(
    mut conn: C,
    content_id: i64,
) -> Result<Option<String>, sqlx::Error> {
    let row = statement(
        &conn,
        "SELECT content_type FROM content WHERE content_id = $1",
    )
    .arg(content_id)
    .fetch_optional(conn.executor())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let label: Option<String> = <C::Backend as Backend>::get(&row, 0)?;
    Ok(Some(label.unwrap_or_default()))
}

/// Runs a `SELECT COUNT(*)`-like query.
async fn fetch_count<C: Conn>(
    mut conn: C,
    query: Statement<'_, C::Backend>,
) -> Result<i64, sqlx::Error> {
    let row = query.fetch_one(conn.executor()).await?;
    <C::Backend as Backend>::get(&row, 0)
}

impl Db {
    /// E1: every item of the kind in its popular order.
    pub async fn popular_items(&self, spec: &MediaSpec, page: Page) -> StoreResult<Listing<Item>> {
        // The kind's count is kept by the writes (migration 0040) and rides
        // along with the page's rows: one round trip, not two. Only a page
        // past the end, which has no row to carry it, asks for it apart.
        let count = "SELECT COALESCE((SELECT items FROM content_count WHERE content_type = $1), 0)";
        let sql = format!(
            "SELECT {}, ({count}) FROM content c JOIN {} m ON m.content_id = c.content_id \
             WHERE c.content_type = $1 ORDER BY {} LIMIT $2 OFFSET $3",
            select_list(spec),
            spec.table,
            popular_order(spec)
        );
        let label = spec.kind.label();
        Ok(on_db!(self, pool => {
            let query = statement(&pool, sqlx::AssertSqlSafe(sql)).arg(label).arg(Page::SIZE).arg(page.offset());
            let (rows, total) = fetch_items_and_total(pool, query, spec).await?;
            let total = match total {
                Some(total) => total,
                None => fetch_count(pool, statement(&pool, count).arg(label)).await?,
            };
            Listing { rows, total }
        }))
    }

    /// E2: items whose search field contains `term` (case-insensitive,
    /// literal), prefix matches first, then the popular order.
    pub async fn search_items(
        &self,
        spec: &MediaSpec,
        term: &str,
        page: Page,
    ) -> StoreResult<Listing<Item>> {
        let lowered = term.to_lowercase();
        let contains = format!("%{}%", escape_like(&lowered));
        let prefix = format!("{}%", escape_like(&lowered));
        let field = format!("m.{}", spec.title_column());
        let SearchFilter {
            sql: filter,
            phrase,
        } = self.search_filter(spec, &field, term);
        // The matches are all read and sorted for the page anyway: counting
        // them there spares a second search of the index.
        let sql = format!(
            "SELECT {}, COUNT(*) OVER () FROM content c JOIN {} m ON m.content_id = c.content_id WHERE {filter} \
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
        Ok(on_db!(self, pool => {
            let mut items = statement(&pool, sqlx::AssertSqlSafe(sql)).arg(&contains).arg(&prefix).arg(Page::SIZE).arg(page.offset());
            if let Some(phrase) = &phrase {
                items = items.arg(phrase);
            }
            let (rows, total) = fetch_items_and_total(pool, items, spec).await?;
            let total = match total {
                Some(total) => total,
                // A page past the end has no row to carry the count.
                None => {
                    let mut total = statement(&pool, sqlx::AssertSqlSafe(count)).arg(&contains);
                    if let Some(phrase) = &phrase {
                        total = total.arg(phrase);
                    }
                    fetch_count(pool, total).await?
                }
            };
            Listing { rows, total }
        }))
    }

    /// E3/E4: the recommendations stored for a user (or for the groups of
    /// a user), best first, without what they flagged as bad or consumed.
    pub async fn recommended_items(
        &self,
        spec: &MediaSpec,
        target: RecoTarget,
        engine: Option<EngineName>,
        page: Page,
    ) -> StoreResult<Listing<Item>> {
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
        Ok(on_db!(self, pool => Listing {
            rows: fetch_items(pool, statement(&pool, sqlx::AssertSqlSafe(sql)).arg(user_id).arg(engine.map(EngineName::as_str)).arg(Page::SIZE).arg(page.offset()), spec, true).await?,
            total: fetch_count(pool, statement(&pool, sqlx::AssertSqlSafe(count)).arg(user_id).arg(engine.map(EngineName::as_str))).await?,
        }))
    }

    /// Cold start: popular items of the kind carrying one of the genres the
    /// user declared, not consumed nor flagged, with the genre as reason.
    pub async fn cold_start_items(
        &self,
        spec: &MediaSpec,
        user_id: i64,
        page: Page,
    ) -> StoreResult<Listing<Item>> {
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
        Ok(on_db!(self, pool => Listing {
            rows: fetch_items(pool, statement(&pool, sqlx::AssertSqlSafe(sql)).arg(user_id).arg(label).arg(Page::SIZE).arg(page.offset()), spec, true).await?,
            total: fetch_count(pool, statement(&pool, sqlx::AssertSqlSafe(count)).arg(user_id).arg(label)).await?,
        }))
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
        Ok(on_db!(self, pool => stored_kind(pool, content_id).await?))
    }

    /// E6: the episodes of a serie in season order; `None` when no serie has
    /// this id.
    pub async fn episodes(&self, serie_id: i64) -> StoreResult<Option<Vec<Episode>>> {
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
            rows.iter().map(|row| decode_episode(pool, row)).collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(Some(episodes))
    }

    /// E7: the tracks a user played, last played first.
    pub async fn track_history(
        &self,
        spec: &MediaSpec,
        user_id: i64,
        page: Page,
    ) -> StoreResult<Listing<PlayedTrack>> {
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
        Ok(on_db!(self, pool => {
            let mut conn = pool;
            let query = statement(&conn, sqlx::AssertSqlSafe(sql)).arg(user_id).arg(Page::SIZE).arg(page.offset());
            let rows = query.fetch_all(conn.executor()).await?;
            let played = rows.iter().map(|row| decode_played(pool, row, spec)).collect::<Result<Vec<_>, sqlx::Error>>()?;
            Listing {
                rows: played,
                total: fetch_count(pool, statement(&pool, sqlx::AssertSqlSafe(count)).arg(user_id)).await?,
            }
        }))
    }
}

/// A row of [`Db::episodes`].
fn decode_episode<C: Conn>(
    _: C,
    row: &<C::Backend as sqlx::Database>::Row,
) -> Result<Episode, sqlx::Error> {
    type DB<C> = <C as Conn>::Backend;
    Ok(Episode {
        content_id: DB::<C>::get(row, 0)?,
        rating: DB::<C>::get(row, 1)?,
        rating_count: DB::<C>::get(row, 2)?,
        serie_id: DB::<C>::get(row, 3)?,
        fields: decode_fields::<DB<C>>(row, EPISODE_COLUMNS, 4)?,
    })
}

/// A row of [`Db::track_history`]: the item, then the date it was played.
fn decode_played<C: Conn>(
    _: C,
    row: &<C::Backend as sqlx::Database>::Row,
    spec: &MediaSpec,
) -> Result<PlayedTrack, sqlx::Error> {
    Ok(PlayedTrack {
        track: decode_item::<C::Backend>(row, spec, false)?,
        last_played: <C::Backend as Backend>::get(row, 4 + spec.columns.len())?,
    })
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
    /// Items of a kind by id, for lists that hold ids of several kinds:
    /// ids of other kinds are simply absent from the map.
    pub async fn items_by_ids(
        &self,
        spec: &MediaSpec,
        ids: &[i64],
    ) -> StoreResult<HashMap<i64, Item>> {
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
            let mut query = statement(&pool, sqlx::AssertSqlSafe(sql));
            for id in ids {
                query = query.arg(*id);
            }
            fetch_items(pool, query, spec, false).await?
        });
        Ok(items
            .into_iter()
            .map(|item| (item.content_id, item))
            .collect())
    }
}
