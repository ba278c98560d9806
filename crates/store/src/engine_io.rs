//! What the recommendation engine reads from the database and writes back.
//! The engine itself knows nothing of SQL; the runner in the binary loads
//! these rows, calls it, and hands its results to the writers here. Every
//! writer replaces one engine's rows in short transactions of at most
//! [`ROWS_PER_TRANSACTION`] rows (API writers are not starved of SQLite's
//! write lock), each one replacing whole lists, so readers never see a
//! half-written list; the engine's event cursor moves in the last one.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use recofinement_domain::media::MediaSpec;
use recofinement_domain::{ContentKind, EngineName};

use crate::backend::{
    Bind, Conn, Statement, execute, get, share_lock, statement, take_transaction_turn, turn,
};
use crate::changes::ListChange;
use crate::dialect::{BeginWrite, WriteTx, values_insert};
use crate::engine_lock::Fence;
use crate::{Db, StoreError, StoreResult, now, on_db};

/// Rows per multi-row statement (well under both databases' parameter limits).
const BATCH: usize = 500;

/// An item as the engine reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemRow {
    pub content: i64,
    pub rating: Option<f64>,
    pub rating_count: Option<i64>,
    /// The requested text columns, in order (the first is the title).
    pub texts: Vec<Option<String>>,
}

/// One `meta_user_content` row as the engine reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InteractionRow {
    pub user: i64,
    pub content: i64,
    pub rating: Option<i64>,
    pub views: Option<i64>,
    /// Consumption counter.
    pub count: Option<i64>,
}

/// A (content, genre) link with the genre's name.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct GenreLink {
    pub content: i64,
    pub genre: i64,
    pub name: String,
}

/// One `similars_content` row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimilarRow {
    pub source: i64,
    pub target: i64,
    pub similarity: f64,
    pub source_kind: ContentKind,
    pub target_kind: ContentKind,
}

/// One recommendation of a user or a group.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoRow {
    /// User or group id.
    pub subject: i64,
    pub content: i64,
    pub score: f64,
    pub kind: ContentKind,
    pub reason: Option<String>,
}

/// Whose interactions, interests and flags a snapshot reads: everyone's
/// for a full training, else only the users a run computes for.
#[derive(Clone, Copy, Debug)]
pub enum UserScope<'a> {
    All,
    Users(&'a [i64]),
}

/// User ids per `IN (…)` list of a scoped read.
const USERS_PER_QUERY: usize = 1_000;

/// Whose recommendations a writer replaces.
#[derive(Clone, Copy, Debug)]
pub enum RecoOwner<'a> {
    /// These users (all real users when `None`).
    Users(Option<&'a [i64]>),
    /// Every group.
    Groups,
}

/// Which text of an item an engine run reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemText {
    Title,
    /// Every soup column, for the runs that compare texts.
    Soup,
}

impl Db {
    /// Items of a kind with their title, or every soup column of the kind's
    /// [`MediaSpec::soup`] (the first is the title), in that order.
    pub async fn engine_items(
        &self,
        spec: &MediaSpec,
        text: ItemText,
    ) -> StoreResult<Vec<ItemRow>> {
        let columns = match text {
            ItemText::Title => &spec.soup[..1],
            ItemText::Soup => spec.soup,
        };
        let list: Vec<String> = columns
            .iter()
            .map(|c| format!("CAST(m.{} AS TEXT)", c.name))
            .collect();
        let sql = format!(
            "SELECT c.content_id, c.rating, c.rating_count, {} FROM content c JOIN {} m ON m.content_id = c.content_id \
             ORDER BY c.content_id",
            list.join(", "),
            spec.table
        );
        on_db!(self, pool => {
            use sqlx::Row;
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut texts = Vec::with_capacity(columns.len());
                for i in 0..columns.len() {
                    texts.push(row.try_get::<Option<String>, _>(3 + i)?);
                }
                out.push(ItemRow {
                    content: row.try_get(0)?,
                    rating: row.try_get(1)?,
                    rating_count: row.try_get(2)?,
                    texts,
                });
            }
            Ok(out)
        })
    }

    /// Every (content, genre) link with the genre's name.
    pub async fn engine_content_genres(&self) -> StoreResult<Vec<GenreLink>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT cg.content_id AS content, cg.genre_id AS genre, g.name FROM content_genres cg \
             JOIN genre g ON g.genre_id = cg.genre_id ORDER BY cg.content_id, cg.genre_id",
        )
        .fetch_all(pool)
        .await?))
    }

    /// The interactions of `scope`, handed to `each` as they stream in (a
    /// full set does not sit twice in memory, once as rows).
    pub async fn engine_interactions(
        &self,
        scope: UserScope<'_>,
        mut each: impl FnMut(InteractionRow) + Send,
    ) -> StoreResult<()> {
        type Row = (i64, i64, Option<i64>, Option<i64>, Option<i64>);
        let sql =
            "SELECT user_id, content_id, rating, review_see_count, count FROM meta_user_content";
        for (sql, users) in scoped_queries(sql, scope) {
            on_db!(self, pool => {
                let mut query = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql));
                for user in users {
                    query = query.bind(*user);
                }
                let mut rows = query.fetch(pool);
                while let Some((user, content, rating, views, count)) = rows.try_next().await? {
                    each(InteractionRow { user, content, rating, views, count });
                }
            });
        }
        Ok(())
    }

    /// About how many interactions there are (PostgreSQL: the planner's
    /// estimate, no scan), to size the snapshot's buffer once.
    pub async fn engine_interactions_estimate(&self) -> StoreResult<usize> {
        let (n,): (i64,) = match self {
            Db::Postgres(pool) => sqlx::query_as(
                "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'meta_user_content'::regclass",
            )
            .fetch_one(pool)
            .await?,
            Db::Sqlite(pool) => sqlx::query_as("SELECT COUNT(*) FROM meta_user_content")
                .fetch_one(pool)
                .await?,
        };
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// (content, users who interacted with it), over every user.
    pub async fn engine_audience(&self) -> StoreResult<Vec<(i64, i64)>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT content_id, COUNT(*) FROM meta_user_content GROUP BY content_id",
        )
        .fetch_all(pool)
        .await?))
    }

    /// (user, genre) of declared interests within `scope`.
    pub async fn engine_interests(&self, scope: UserScope<'_>) -> StoreResult<Vec<(i64, i64)>> {
        self.user_pairs("SELECT user_id, genre_id FROM liked_genres", scope)
            .await
    }

    /// (user, content) pairs flagged as bad recommendations within `scope`.
    pub async fn engine_flags(&self, scope: UserScope<'_>) -> StoreResult<Vec<(i64, i64)>> {
        self.user_pairs(
            "SELECT DISTINCT user_id, content_id FROM bad_recommendation_content",
            scope,
        )
        .await
    }

    async fn user_pairs(
        &self,
        sql: &'static str,
        scope: UserScope<'_>,
    ) -> StoreResult<Vec<(i64, i64)>> {
        let mut out = Vec::new();
        for (sql, users) in scoped_queries(sql, scope) {
            on_db!(self, pool => {
                let mut query = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql));
                for user in users {
                    query = query.bind(*user);
                }
                out.extend(query.fetch_all(pool).await?);
            });
        }
        Ok(out)
    }

    /// Accounts that can log in (dataset accounts only feed the models).
    pub async fn engine_real_users(&self) -> StoreResult<Vec<i64>> {
        on_db!(self, pool => {
            let rows: Vec<(i64,)> = sqlx::query_as("SELECT user_id FROM \"user\" WHERE password_hash <> 'no_pwd' ORDER BY user_id")
                .fetch_all(pool)
                .await?;
            Ok(rows.into_iter().map(|(id,)| id).collect())
        })
    }

    /// Every group with its owner and members.
    pub async fn engine_groups(&self) -> StoreResult<Vec<(i64, Vec<i64>)>> {
        let rows: Vec<(i64, i64)> = on_db!(self, pool => sqlx::query_as(
            "SELECT group_id, owner_id FROM \"group\" WHERE owner_id IS NOT NULL \
             UNION SELECT group_id, user_id FROM group_members ORDER BY 1, 2",
        )
        .fetch_all(pool)
        .await?);
        let mut groups: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (group, user) in rows {
            groups.entry(group).or_default().push(user);
        }
        Ok(groups.into_iter().collect())
    }

    /// Stored similarity rows between items of the same kind (rows of an
    /// unknown kind are left out).
    pub async fn engine_similar_pairs(&self) -> StoreResult<Vec<SimilarRow>> {
        let rows: Vec<(i64, i64, f64, String, String)> = on_db!(self, pool => sqlx::query_as(
            "SELECT content_id0, content_id1, similarity, content_type0, content_type1 FROM similars_content \
             WHERE content_type0 = content_type1",
        )
        .fetch_all(pool)
        .await?);
        Ok(rows
            .into_iter()
            .filter_map(|(source, target, similarity, a, b)| {
                Some(SimilarRow {
                    source,
                    target,
                    similarity,
                    source_kind: ContentKind::parse(&a)?,
                    target_kind: ContentKind::parse(&b)?,
                })
            })
            .collect())
    }

    /// Users whose interactions or interests changed within `range`.
    pub async fn users_with_events_in(&self, range: EventRange) -> StoreResult<Vec<i64>> {
        let sql = format!(
            "SELECT DISTINCT occured_by FROM event WHERE {} AND occured_by IS NOT NULL \
             AND model_name IN ('meta_user_content', 'liked_genres') ORDER BY 1",
            self.position_within()
        );
        on_db!(self, pool => {
            let rows: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(range.from)
                .bind(range.before)
                .fetch_all(pool)
                .await?;
            Ok(rows.into_iter().map(|(id,)| id).collect())
        })
    }

    /// Number of interaction events within `range`. Repeated views
    /// (`GET …/meta`) are left out: anyone can send them without bound, so
    /// they must not trigger retrains.
    pub async fn interaction_events_in(&self, range: EventRange) -> StoreResult<i64> {
        let condition = "model_name IN ('meta_user_content', 'liked_genres') \
             AND COALESCE(attribute_name, '') NOT IN ('review_see_count', 'last_review_see_date')";
        self.count_events_in(range, condition).await
    }

    /// Number of added-content events within `range`.
    pub async fn added_events_in(&self, range: EventRange) -> StoreResult<i64> {
        self.count_events_in(range, "kind = 'added'").await
    }

    async fn count_events_in(
        &self,
        range: EventRange,
        condition: &'static str,
    ) -> StoreResult<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM event WHERE {} AND {condition}",
            self.position_within()
        );
        on_db!(self, pool => {
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(range.from)
                .bind(range.before)
                .fetch_one(pool)
                .await?;
            Ok(n)
        })
    }

    /// Writes every item's popularity score and moves the cursor (in the
    /// last of its short transactions).
    pub async fn write_popularity(
        &self,
        scores: &[(i64, f64)],
        cursor: Cursor<'_>,
    ) -> StoreResult<Written> {
        let chunks: Vec<&[(i64, f64)]> = if scores.is_empty() {
            vec![&[]]
        } else {
            scores.chunks(ROWS_PER_TRANSACTION).collect()
        };
        let last = chunks.len() - 1;
        let mut committed = false;
        // An async block, so that a failure ends the block, not the
        // function: chunks committed before it must still be announced.
        let written = on_db!(self, pool => async {
            let mut written = Written::Done;
            for (n, scores) in chunks.iter().enumerate() {
                let Some(mut tx) = begin_step(pool, &cursor).await? else {
                    written = Written::Stopped;
                    break;
                };
                for chunk in scores.chunks(BATCH) {
                    let mut cases = String::new();
                    let mut ids = Vec::with_capacity(chunk.len());
                    for i in 0..chunk.len() {
                        cases.push_str(&format!(" WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2));
                        ids.push(format!("${}", 2 * i + 1));
                    }
                    let sql = format!(
                        "UPDATE content SET popularity_score = CASE content_id{cases} END WHERE content_id IN ({})",
                        ids.join(", ")
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (id, score) in chunk {
                        query = query.bind(*id).bind(*score);
                    }
                    query.execute(&mut *tx).await?;
                }
                commit_step(tx, n == last, &cursor).await?;
                committed = true;
            }
            Ok::<_, StoreError>(written)
        }
        .await);
        if committed {
            self.announce(ListChange::Catalogue).await;
        }
        written
    }

    /// Replaces the similarity rows between items of the same kind
    /// (`same_kind`) or of different kinds, and moves the cursor. Written
    /// in short transactions, each replacing every row of a range of source
    /// items (a source's list is never seen half-written); the cursor moves
    /// in the last one, so an interrupted write is just done again.
    pub async fn replace_similars(
        &self,
        same_kind: bool,
        rows: &[SimilarRow],
        cursor: Cursor<'_>,
    ) -> StoreResult<Written> {
        let condition = if same_kind {
            "content_type0 = content_type1"
        } else {
            "content_type0 <> content_type1"
        };
        let steps = range_steps(rows, |r| r.source);
        on_db!(self, pool => {
            for step in &steps {
                let Some(mut tx) = begin_step(pool, &cursor).await? else {
                    return Ok(Written::Stopped);
                };
                let sql = format!(
                    "DELETE FROM similars_content WHERE {condition} AND content_id0 > $1 AND content_id0 <= $2"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(step.after)
                    .bind(step.up_to)
                    .execute(&mut *tx)
                    .await?;
                let insert = "INSERT INTO similars_content \
                    (content_id0, content_id1, similarity, content_type0, content_type1) VALUES ";
                insert_rows(&mut *tx, insert, 5, &step.rows, |query, row| {
                    query
                        .arg(row.source)
                        .arg(row.target)
                        .arg(row.similarity)
                        .arg(row.source_kind.label())
                        .arg(row.target_kind.label())
                })
                .await?;
                commit_step(tx, step.last, &cursor).await?;
            }
            Ok(Written::Done)
        })
    }

    /// Replaces one engine's recommendations for the given owners with
    /// `rows`, and moves the cursor. Written in short transactions (no
    /// engine write holds SQLite's write lock for long), each replacing the
    /// whole list of its subjects, so a reader never sees half of one list;
    /// the cursor moves in the last one, so an interrupted write is just
    /// done again. An item another engine already recommends to the same
    /// subject stays with that engine.
    pub async fn replace_recommendations(
        &self,
        engine: EngineName,
        owner: RecoOwner<'_>,
        rows: &[RecoRow],
        cursor: Cursor<'_>,
    ) -> StoreResult<Written> {
        let (table, key, turn) = match owner {
            RecoOwner::Users(_) => ("recommended_content", "user_id", turn::USER_LISTS),
            RecoOwner::Groups => (
                "recommended_content_for_group",
                "group_id",
                turn::GROUP_LISTS,
            ),
        };
        let steps = match owner {
            RecoOwner::Users(Some(users)) => subject_steps(users, rows, |r| r.subject),
            _ => range_steps(rows, |r| r.subject),
        };
        let priority = i64::from(engine.priority().unwrap_or(0));
        let engine = engine.as_str();
        on_db!(self, pool => {
            for step in &steps {
                let Some(mut tx) = begin_step(pool, &cursor).await? else {
                    return Ok(Written::Stopped);
                };
                // One writer of a table at a time. Lists of one subject
                // share a key across engines, and two writers inserting
                // them in different orders deadlocked; two writers of the
                // same lists each deleted only what was committed before
                // it began, and the user kept the union of both lists.
                take_transaction_turn(&mut *tx, turn).await?;
                match &step.subjects {
                    Some(subjects) => {
                        for chunk in subjects.chunks(BATCH) {
                            let params: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
                            let sql = format!("DELETE FROM {table} WHERE engine = $1 AND {key} IN ({})", params.join(", "));
                            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(engine);
                            for subject in chunk {
                                query = query.bind(*subject);
                            }
                            query.execute(&mut *tx).await?;
                        }
                    }
                    None => {
                        let sql = format!("DELETE FROM {table} WHERE engine = $1 AND {key} > $2 AND {key} <= $3");
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(engine)
                            .bind(step.after)
                            .bind(step.up_to)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                let insert = format!(
                    "INSERT INTO {table} \
                     ({key}, content_id, score, engine, engine_priority, content_type, reason) VALUES "
                );
                insert_rows(&mut *tx, &insert, 7, &step.rows, |query, row| {
                    query
                        .arg(row.subject)
                        .arg(row.content)
                        .arg(row.score)
                        .arg(engine)
                        .arg(priority)
                        .arg(row.kind.label())
                        .arg(row.reason.as_deref())
                })
                .await?;
                commit_step(tx, step.last, &cursor).await?;
            }
            Ok(Written::Done)
        })
    }

    /// The scheduler generation now (the one the last holder bumped to).
    pub async fn engine_fence_generation(&self) -> StoreResult<i64> {
        on_db!(self, pool => {
            let (generation,): (i64,) = sqlx::query_as("SELECT generation FROM engine_fence WHERE id = 1")
                .fetch_one(pool)
                .await?;
            Ok(generation)
        })
    }
}

/// Rows an engine transaction writes at most: at SQLite's pace a few tens
/// of milliseconds, so API writes waiting for the lock are not starved.
pub const ROWS_PER_TRANSACTION: usize = 2_000;

/// How an engine write ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Written {
    /// Every row written and the cursor moved.
    Done,
    /// Stopped between two transactions (the run was cancelled): the
    /// subjects written so far have their new lists, the cursor is where
    /// it was, so the next run writes them all again.
    Stopped,
}

/// Why a write was refused: another scheduler took over since the run began.
pub const FENCED: &str = "engine_fence (another engine scheduler took over)";

/// One transaction of a chunked write: the rows it inserts and which old
/// rows it deletes first, either those of `subjects` or those whose
/// subject is in `after < subject <= up_to`.
struct Step<'r, T> {
    subjects: Option<Vec<i64>>,
    after: i64,
    up_to: i64,
    rows: Vec<&'r T>,
    last: bool,
}

/// Steps that replace every row of a table part: consecutive subject
/// ranges covering all ids, so subjects without new rows lose their old
/// ones, each step with at most [`ROWS_PER_TRANSACTION`] rows (or one
/// subject's).
fn range_steps<T>(rows: &[T], subject: impl Fn(&T) -> i64) -> Vec<Step<'_, T>> {
    let mut by_subject: BTreeMap<i64, Vec<&T>> = BTreeMap::new();
    for row in rows {
        by_subject.entry(subject(row)).or_default().push(row);
    }
    let mut steps: Vec<Step<'_, T>> = Vec::new();
    let mut after = i64::MIN;
    let mut current: Vec<&T> = Vec::new();
    for (id, mut list) in by_subject {
        if !current.is_empty() && current.len() + list.len() > ROWS_PER_TRANSACTION {
            let up_to = subject(current[current.len() - 1]);
            steps.push(Step {
                subjects: None,
                after,
                up_to,
                rows: std::mem::take(&mut current),
                last: false,
            });
            after = up_to;
        }
        debug_assert!(list.iter().all(|r| subject(r) == id));
        current.append(&mut list);
    }
    steps.push(Step {
        subjects: None,
        after,
        up_to: i64::MAX,
        rows: current,
        last: true,
    });
    steps
}

/// Steps that replace the rows of the given subjects only.
fn subject_steps<'r, T>(
    subjects: &[i64],
    rows: &'r [T],
    subject: impl Fn(&T) -> i64,
) -> Vec<Step<'r, T>> {
    let mut by_subject: BTreeMap<i64, Vec<&T>> =
        subjects.iter().map(|s| (*s, Vec::new())).collect();
    for row in rows {
        if let Some(list) = by_subject.get_mut(&subject(row)) {
            list.push(row);
        }
    }
    let mut steps: Vec<Step<'r, T>> = Vec::new();
    let mut current = Step {
        subjects: Some(Vec::new()),
        after: 0,
        up_to: 0,
        rows: Vec::new(),
        last: false,
    };
    for (id, mut list) in by_subject {
        let ids = current.subjects.as_mut().expect("subject steps");
        if !ids.is_empty() && current.rows.len() + list.len() > ROWS_PER_TRANSACTION {
            let next = Step {
                subjects: Some(Vec::new()),
                after: 0,
                up_to: 0,
                rows: Vec::new(),
                last: false,
            };
            steps.push(std::mem::replace(&mut current, next));
        }
        current.subjects.as_mut().expect("subject steps").push(id);
        current.rows.append(&mut list);
    }
    current.last = true;
    steps.push(current);
    steps
}

/// The events a run consumes: positioned from `from` (the engine's cursor)
/// up to, not including, `before` (the bound read when the run started).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRange {
    pub from: i64,
    pub before: i64,
}

/// Where an engine's run leaves its cursor: every event positioned before
/// `consumed_before` has been consumed (see [`Db::event_bound`]). Also what
/// the write must prove and watch: the scheduler `fence` it still holds
/// (none: unfenced, e.g. `engine run` or SQLite) and `stop`, asked before
/// each transaction (true: the run was cancelled, stop writing).
#[derive(Clone, Copy)]
pub struct Cursor<'a> {
    pub engine: EngineName,
    pub kinds: &'a [ContentKind],
    pub consumed_before: i64,
    pub fence: Option<Fence>,
    pub stop: Option<Stop<'a>>,
}

/// Asked between an engine write's transactions: whether to stop.
pub type Stop<'a> = &'a (dyn Fn() -> bool + Send + Sync);

impl Cursor<'_> {
    fn stopped(&self) -> bool {
        self.stop.is_some_and(|stop| stop())
    }
}

/// Refuses the write (a conflict) when another scheduler took over since
/// this one's `fence`; the fence row stays locked against a new bump until
/// the transaction ends.
async fn check_fence(mut conn: impl Conn, fence: Option<Fence>) -> StoreResult<()> {
    let Some(fence) = fence else {
        return Ok(());
    };
    let sql = format!(
        "SELECT generation FROM engine_fence WHERE id = 1{}",
        share_lock(&conn)
    );
    let row = statement(&conn, sqlx::AssertSqlSafe(sql))
        .fetch_one(conn.executor())
        .await?;
    let generation: i64 = get(&conn, &row, 0)?;
    if generation != fence.generation {
        tracing::error!(
            held = fence.generation,
            current = generation,
            "engine write refused: another scheduler took over"
        );
        return Err(StoreError::conflict(FENCED));
    }
    Ok(())
}

/// Inserts `rows` (skipping those already there) in statements of at most
/// [`BATCH`] rows: `head`, then `width` parameters per row, bound by `bind`.
async fn insert_rows<'r, C: Conn, R>(
    mut conn: C,
    head: &str,
    width: usize,
    rows: &'r [R],
    bind: impl Fn(Statement<'r, C::Backend>, &'r R) -> Statement<'r, C::Backend>,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(BATCH) {
        let sql = values_insert(head, width, chunk.len(), " ON CONFLICT DO NOTHING");
        let query = statement(&conn, sqlx::AssertSqlSafe(sql));
        execute(&mut conn, chunk.iter().fold(query, &bind)).await?;
    }
    Ok(())
}

/// Begins one transaction of an engine write, after checking that the run
/// goes on (`None`: it was cancelled) and still holds its fence.
async fn begin_step<P: BeginWrite>(
    pool: &P,
    cursor: &Cursor<'_>,
) -> StoreResult<Option<WriteTx<P::Database>>>
where
    for<'c> &'c mut <P::Database as sqlx::Database>::Connection: Conn,
{
    if cursor.stopped() {
        return Ok(None);
    }
    let mut tx = pool.begin_write().await?;
    check_fence(&mut *tx, cursor.fence).await?;
    Ok(Some(tx))
}

/// Ends one transaction of an engine write: the cursor moves in the last
/// one, so an interrupted write is just done again.
async fn commit_step<DB: sqlx::Database>(
    mut tx: WriteTx<DB>,
    last: bool,
    cursor: &Cursor<'_>,
) -> StoreResult<()>
where
    for<'c> &'c mut DB::Connection: Conn,
{
    if last {
        set_cursor(&mut *tx, cursor).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Upserts the `engine` rows of a cursor inside the caller's transaction.
async fn set_cursor(mut conn: impl Conn, cursor: &Cursor<'_>) -> Result<(), sqlx::Error> {
    for kind in cursor.kinds {
        let query = statement(
            &conn,
            "INSERT INTO engine (engine, last_launch_date, content_type, consumed_before) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (engine, content_type) DO UPDATE SET last_launch_date = $2, consumed_before = $4",
        )
        .arg(cursor.engine.as_str())
        .arg(now())
        .arg(kind.label())
        .arg(cursor.consumed_before);
        execute(&mut conn, query).await?;
    }
    Ok(())
}

/// `sql` once for every user (`scope` all), or once per chunk of the
/// scope's users with `WHERE user_id IN ($1, …)`, with the ids to bind.
fn scoped_queries<'a>(sql: &str, scope: UserScope<'a>) -> Vec<(String, &'a [i64])> {
    match scope {
        UserScope::All => vec![(sql.to_string(), &[][..])],
        UserScope::Users(users) => users
            .chunks(USERS_PER_QUERY)
            .map(|chunk| {
                let params: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
                (
                    format!("{sql} WHERE user_id IN ({})", params.join(", ")),
                    chunk,
                )
            })
            .collect(),
    }
}

impl Db {
    /// An engine's oldest cursor over its kinds and its last run.
    pub async fn engine_state(
        &self,
        engine: EngineName,
    ) -> StoreResult<Option<(i64, chrono::NaiveDateTime)>> {
        on_db!(self, pool => {
            let row: (Option<i64>, Option<chrono::NaiveDateTime>) =
                sqlx::query_as("SELECT MIN(consumed_before), MIN(last_launch_date) FROM engine WHERE engine = $1")
                    .bind(engine.as_str())
                    .fetch_one(pool)
                    .await?;
            Ok(match row {
                (Some(id), Some(at)) => Some((id, at)),
                _ => None,
            })
        })
    }

    /// The interactions snapshot of a run: (content, rating, views, count).
    pub async fn run_metas_all(
        &self,
        run_id: i64,
    ) -> StoreResult<Vec<(i64, Option<i64>, Option<i64>, Option<i64>)>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT content_id, rating, review_see_count, count FROM recommendation_launched_meta WHERE event_id = $1",
        )
        .bind(run_id)
        .fetch_all(pool)
        .await?))
    }
}
