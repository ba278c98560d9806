//! Administrators' sandbox profiles: fictitious users with genres and
//! interactions, and the recorded runs of the engine for them.

use chrono::NaiveDateTime;

use sqlx::FromRow;

use recofinement_domain::media::MediaSpec;

use recofinement_domain::{Listing, Page};

use crate::catalogue::{Genre, Item};
use crate::dialect::BeginWrite;
use crate::listing::{ListQuery, page_of};
use crate::{Db, StoreResult, now, on_db};

#[derive(Clone, Debug, FromRow)]
pub struct Profile {
    pub profile_id: i64,
    pub uuid: String,
    pub profilename: String,
    pub user_id: i64,
}

/// The six values of an interaction, as a profile stores them.
#[derive(Clone, Debug, Default, FromRow)]
pub struct ProfileMeta {
    pub rating: Option<i64>,
    pub last_rating_date: Option<NaiveDateTime>,
    pub review_see_count: Option<i64>,
    pub last_review_see_date: Option<NaiveDateTime>,
    pub count: Option<i64>,
    pub last_count_increment: Option<NaiveDateTime>,
}

/// One recorded run.
#[derive(Clone, Debug, FromRow)]
pub struct Run {
    pub id: i64,
    pub occured_at: NaiveDateTime,
    pub profile_id: Option<i64>,
    pub status: String,
}

/// One result line of a run, to store.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub content_id: i64,
    pub score: f64,
    pub engine: String,
}

const PROFILE_COLUMNS: &str = "profile_id, uuid, profilename, user_id";

/// A run's result line: its score and engine.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultLine {
    pub score: Option<f64>,
    pub engine: String,
}

/// Items of `spec` among `rows` (content id first), paired with their
/// values in row order; ids that are not items of the kind are left out.
async fn with_items<T>(
    db: &Db,
    spec: &MediaSpec,
    rows: Vec<(i64, T)>,
) -> StoreResult<Vec<(Item, T)>> {
    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    let mut items = db.items_by_ids(spec, &ids).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, values)| Some((items.remove(&id)?, values)))
        .collect())
}

impl Db {
    /// Creates a profile; a name the owner already uses is a `Conflict`.
    pub async fn create_profile(&self, user_id: i64, name: &str) -> StoreResult<Profile> {
        let uuid = uuid::Uuid::new_v4().to_string();
        on_db!(self, pool => Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO profile (uuid, profilename, user_id) VALUES ($1, $2, $3) RETURNING {PROFILE_COLUMNS}"
        )))
        .bind(uuid)
        .bind(name)
        .bind(user_id)
        .fetch_one(pool)
        .await?))
    }

    pub async fn profiles_of(&self, user_id: i64, page: Page) -> StoreResult<Listing<Profile>> {
        let list = ListQuery {
            columns: PROFILE_COLUMNS,
            from: "profile",
            filter: "user_id = $1",
            order: "profile_id",
        };
        Ok(on_db!(self, pool => page_of(pool, list, user_id, page).await?))
    }

    /// The profile with this uuid if `user_id` owns it.
    pub async fn owned_profile(&self, user_id: i64, uuid: &str) -> StoreResult<Option<Profile>> {
        on_db!(self, pool => Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PROFILE_COLUMNS} FROM profile WHERE uuid = $1 AND user_id = $2"
        )))
        .bind(uuid)
        .bind(user_id)
        .fetch_optional(pool)
        .await?))
    }

    /// Renames a profile; a name the owner already uses is a `Conflict`.
    pub async fn rename_profile(&self, profile_id: i64, name: &str) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("UPDATE profile SET profilename = $2 WHERE profile_id = $1")
                .bind(profile_id)
                .bind(name)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn delete_profile(&self, profile_id: i64) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("DELETE FROM profile WHERE profile_id = $1").bind(profile_id).execute(pool).await?;
            Ok(())
        })
    }

    pub async fn profile_genres(&self, profile_id: i64) -> StoreResult<Vec<Genre>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT g.genre_id, g.name, g.count FROM liked_genres_profile l JOIN genre g ON g.genre_id = l.genre_id \
             WHERE l.profile_id = $1 ORDER BY g.genre_id",
        )
        .bind(profile_id)
        .fetch_all(pool)
        .await?))
    }

    pub async fn like_profile_genre(&self, profile_id: i64, genre_id: i64) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("INSERT INTO liked_genres_profile (profile_id, genre_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(profile_id)
                .bind(genre_id)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn unlike_profile_genre(&self, profile_id: i64, genre_id: i64) -> StoreResult<bool> {
        on_db!(self, pool => {
            let result = sqlx::query("DELETE FROM liked_genres_profile WHERE profile_id = $1 AND genre_id = $2")
                .bind(profile_id)
                .bind(genre_id)
                .execute(pool)
                .await?;
            Ok(result.rows_affected() == 1)
        })
    }

    /// P9: sets all six values of a profile's interaction with an item.
    pub async fn set_profile_meta(
        &self,
        profile_id: i64,
        content_id: i64,
        meta: &ProfileMeta,
    ) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query(
                "INSERT INTO meta_profile_content (profile_id, content_id, rating, last_rating_date, review_see_count, \
                   last_review_see_date, count, last_count_increment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (profile_id, content_id) DO UPDATE SET rating = $3, last_rating_date = $4, \
                   review_see_count = $5, last_review_see_date = $6, count = $7, last_count_increment = $8",
            )
            .bind(profile_id)
            .bind(content_id)
            .bind(meta.rating)
            .bind(meta.last_rating_date)
            .bind(meta.review_see_count)
            .bind(meta.last_review_see_date)
            .bind(meta.count)
            .bind(meta.last_count_increment)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// P10 / P14: a page of interactions of one kind, from a profile's
    /// current metas or from a run's snapshot.
    pub async fn profile_meta_page(
        &self,
        spec: &MediaSpec,
        source: MetaSource,
        page: Page,
    ) -> StoreResult<Listing<(Item, ProfileMeta)>> {
        let (table, key, id) = match source {
            MetaSource::Profile(id) => ("meta_profile_content", "profile_id", id),
            MetaSource::Run(id) => ("recommendation_launched_meta", "event_id", id),
        };
        let from = format!(
            "{table} x JOIN {} m ON m.content_id = x.content_id",
            spec.table
        );
        let list = ListQuery {
            columns: "x.content_id, x.rating, x.last_rating_date, x.review_see_count, x.last_review_see_date, \
                      x.count, x.last_count_increment",
            from: &from,
            filter: &format!("x.{key} = $1"),
            order: "x.content_id",
        };
        let Listing { rows, total }: Listing<ProfileMetaRow> =
            on_db!(self, pool => page_of(pool, list, id, page).await?);
        let rows = rows.into_iter().map(ProfileMetaRow::split).collect();
        Ok(Listing {
            rows: with_items(self, spec, rows).await?,
            total,
        })
    }

    /// Records a run: the event and snapshots of the profile's genres and
    /// metas, in one transaction. Returns the run id.
    pub async fn snapshot_profile(&self, profile_id: i64) -> StoreResult<i64> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO recommendation_launched_for_profile_event (occured_at, profile_id, status) \
                 VALUES ($1, $2, 'running') RETURNING id",
            )
            .bind(now())
            .bind(profile_id)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO recommendation_launched_liked_genre (event_id, genre_id, name, content_type) \
                 SELECT $1, g.genre_id, g.name, g.content_type FROM liked_genres_profile l \
                 JOIN genre g ON g.genre_id = l.genre_id WHERE l.profile_id = $2",
            )
            .bind(id)
            .bind(profile_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO recommendation_launched_meta (event_id, content_id, rating, last_rating_date, review_see_count, \
                   last_review_see_date, count, last_count_increment) \
                 SELECT $1, content_id, rating, last_rating_date, review_see_count, last_review_see_date, count, \
                   last_count_increment FROM meta_profile_content WHERE profile_id = $2",
            )
            .bind(id)
            .bind(profile_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Marks as `interrupted` the runs still `running` that started before
    /// `started_before`: runs a crash or a restart left behind (no live
    /// instance computes a run past its timeout). Returns how many.
    pub async fn interrupt_stale_runs(
        &self,
        started_before: chrono::NaiveDateTime,
    ) -> StoreResult<u64> {
        on_db!(self, pool => Ok(sqlx::query(
            "UPDATE recommendation_launched_for_profile_event SET status = 'interrupted' \
             WHERE status = 'running' AND occured_at < $1",
        )
        .bind(started_before)
        .execute(pool)
        .await?
        .rows_affected()))
    }

    /// Sandbox runs of every instance still computing: marked running and
    /// started after `since` (older ones have timed out).
    pub async fn running_sandbox_runs(&self, since: chrono::NaiveDateTime) -> StoreResult<i64> {
        on_db!(self, pool => {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM recommendation_launched_for_profile_event WHERE status = 'running' AND occured_at > $1",
            )
            .bind(since)
            .fetch_one(pool)
            .await?;
            Ok(n)
        })
    }

    /// Stores a run's results and marks it done (or failed), in one transaction.
    pub async fn finish_run(
        &self,
        run_id: i64,
        results: &[RunResult],
        status: &str,
    ) -> StoreResult<()> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for result in results {
                sqlx::query(
                    "INSERT INTO recommendation_launched_result (event_id, content_id, score, engine) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(run_id)
                .bind(result.content_id)
                .bind(result.score)
                .bind(&result.engine)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("UPDATE recommendation_launched_for_profile_event SET status = $2 WHERE id = $1")
                .bind(run_id)
                .bind(status)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// The genres snapshot of a run: (genre id, name, upper-case kind).
    pub async fn run_genres_all(
        &self,
        run_id: i64,
    ) -> StoreResult<Vec<(i64, Option<String>, Option<String>)>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT genre_id, name, content_type FROM recommendation_launched_liked_genre WHERE event_id = $1 ORDER BY genre_id",
        )
        .bind(run_id)
        .fetch_all(pool)
        .await?))
    }

    pub async fn run(&self, run_id: i64) -> StoreResult<Option<Run>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT id, occured_at, profile_id, status FROM recommendation_launched_for_profile_event WHERE id = $1",
        )
        .bind(run_id)
        .fetch_optional(pool)
        .await?))
    }

    /// P11: a profile's runs, newest first.
    pub async fn runs(&self, profile_id: i64, page: Page) -> StoreResult<Listing<Run>> {
        let list = ListQuery {
            columns: "id, occured_at, profile_id, status",
            from: "recommendation_launched_for_profile_event",
            filter: "profile_id = $1",
            order: "occured_at DESC, id DESC",
        };
        Ok(on_db!(self, pool => page_of(pool, list, profile_id, page).await?))
    }

    /// P12: a page of a run's genres snapshot.
    pub async fn run_genres(
        &self,
        run_id: i64,
        page: Page,
    ) -> StoreResult<Listing<(Option<String>, Option<String>)>> {
        let list = ListQuery {
            columns: "name, content_type",
            from: "recommendation_launched_liked_genre",
            filter: "event_id = $1",
            order: "genre_id",
        };
        Ok(on_db!(self, pool => page_of(pool, list, run_id, page).await?))
    }

    /// P13: a page of a run's results of one kind, best first.
    pub async fn run_results(
        &self,
        spec: &MediaSpec,
        run_id: i64,
        page: Page,
    ) -> StoreResult<Listing<(Item, ResultLine)>> {
        let from = format!(
            "recommendation_launched_result r JOIN {} m ON m.content_id = r.content_id \
             JOIN content c ON c.content_id = r.content_id",
            spec.table
        );
        let list = ListQuery {
            columns: "r.content_id, r.score, r.engine",
            from: &from,
            filter: "r.event_id = $1",
            order: "r.score DESC NULLS LAST, c.popularity_score DESC NULLS LAST, r.content_id, r.engine",
        };
        let Listing { rows, total }: Listing<ResultRow> =
            on_db!(self, pool => page_of(pool, list, run_id, page).await?);
        let rows = rows
            .into_iter()
            .map(|(id, score, engine)| (id, ResultLine { score, engine }))
            .collect();
        Ok(Listing {
            rows: with_items(self, spec, rows).await?,
            total,
        })
    }
}

/// A result line as read: content id, score, engine.
type ResultRow = (i64, Option<f64>, String);

/// Where interactions come from: a profile now, or a run's snapshot.
#[derive(Clone, Copy, Debug)]
pub enum MetaSource {
    Profile(i64),
    Run(i64),
}

#[derive(FromRow)]
struct ProfileMetaRow {
    content_id: i64,
    rating: Option<i64>,
    last_rating_date: Option<NaiveDateTime>,
    review_see_count: Option<i64>,
    last_review_see_date: Option<NaiveDateTime>,
    count: Option<i64>,
    last_count_increment: Option<NaiveDateTime>,
}

impl ProfileMetaRow {
    fn split(self) -> (i64, ProfileMeta) {
        (
            self.content_id,
            ProfileMeta {
                rating: self.rating,
                last_rating_date: self.last_rating_date,
                review_see_count: self.review_see_count,
                last_review_see_date: self.last_review_see_date,
                count: self.count,
                last_count_increment: self.last_count_increment,
            },
        )
    }
}
