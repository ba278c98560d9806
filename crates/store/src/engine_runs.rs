//! Engine history: every engine run (scheduled, forced, sandbox) with what
//! it did, the run requests made from the dashboard (who asked: the audit
//! trail of the force-run button), and the stored offline evaluations. The
//! dashboard, `GET /api/engine/runs`, `recofinement engine runs` and the
//! metrics read them.

use chrono::NaiveDateTime;
use sqlx::FromRow;

use recofinement_domain::EngineName;

use crate::backend::{Bind, Conn, get, statement};
use crate::{Db, StoreResult, on_db};

/// What a history row is about.
#[derive(Clone, Copy, Debug)]
pub enum RunOf<'a> {
    Engine(EngineName),
    /// A sandbox profile run (both sandbox engines, one subject).
    Sandbox,
    /// An administrator's request for these engines (every engine when
    /// empty): the audit row of the force-run button.
    Request(&'a [EngineName]),
}

impl RunOf<'_> {
    /// The name in the `engine` column and the metrics: the engine's name,
    /// `Sandbox`, or a request's engines joined by commas (`all` when empty).
    pub fn name(self) -> String {
        match self {
            RunOf::Engine(engine) => engine.as_str().to_string(),
            RunOf::Sandbox => "Sandbox".to_string(),
            RunOf::Request([]) => "all".to_string(),
            RunOf::Request(engines) => {
                let names: Vec<&str> = engines.iter().map(|e| e.as_str()).collect();
                names.join(",")
            }
        }
    }
}

/// Whose recommendations a run computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunScope {
    /// Every subject.
    All,
    /// The users (or groups) with new events.
    Users,
    /// One sandbox profile.
    Profile,
}

impl RunScope {
    pub fn as_str(self) -> &'static str {
        match self {
            RunScope::All => "all",
            RunScope::Users => "users",
            RunScope::Profile => "profile",
        }
    }
}

/// Why a run happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunCause {
    /// The engine had new events or its cadence came (scheduler, `engine run`).
    Scheduled,
    /// Recomputed for every subject on request (`--force`, the dashboard).
    Forced,
    /// A sandbox profile run launched over Socket.IO.
    Sandbox,
    /// An administrator asked for a forced run (the audit row; the runs it
    /// causes follow as `forced`).
    Request,
}

impl RunCause {
    pub fn as_str(self) -> &'static str {
        match self {
            RunCause::Scheduled => "scheduled",
            RunCause::Forced => "forced",
            RunCause::Sandbox => "sandbox",
            RunCause::Request => "request",
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    Done,
    Failed,
    /// A request row: nothing ran yet.
    Requested,
    /// Cancelled (shutdown, a sandbox timeout): nothing written, the
    /// cursor left where it was.
    Interrupted,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Done => "done",
            RunOutcome::Failed => "failed",
            RunOutcome::Requested => "requested",
            RunOutcome::Interrupted => "interrupted",
        }
    }
}

/// A run to record.
#[derive(Clone, Debug)]
pub struct NewEngineRun<'a> {
    pub engine: RunOf<'a>,
    pub cause: RunCause,
    pub scope: RunScope,
    pub subjects: i64,
    pub rows: i64,
    pub seconds: f64,
    pub peak_memory_mib: Option<f64>,
    pub started_at: NaiveDateTime,
    pub outcome: RunOutcome,
    pub error: Option<String>,
    pub requested_by: Option<i64>,
}

/// A recorded run.
#[derive(Clone, Debug, FromRow)]
pub struct EngineRun {
    pub id: i64,
    pub engine: String,
    pub cause: String,
    pub scope: String,
    pub subjects: i64,
    #[sqlx(rename = "rows_written")]
    pub rows: i64,
    pub seconds: f64,
    pub peak_memory_mib: Option<f64>,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub outcome: String,
    pub error: Option<String>,
    /// Uuid of the administrator who asked (request rows).
    pub requested_by: Option<String>,
}

/// Which runs to list: newest first, `limit` of them, optionally only those
/// after (newer than) or before (older than) a run id.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunWindow {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// Where an engine stands: events it has not consumed yet and its last
/// successful run.
#[derive(Clone, Debug)]
pub struct EngineStanding {
    pub engine: String,
    /// Events newer than the engine's cursor (all of them before its first run).
    pub backlog: i64,
    pub last_success: Option<NaiveDateTime>,
}

/// A stored offline evaluation.
#[derive(Clone, Debug, FromRow)]
pub struct StoredEvaluation {
    pub id: i64,
    pub created_at: NaiveDateTime,
    pub seed: i64,
    pub scale: String,
    /// The engine parameters of the evaluation (JSON).
    pub parameters: Option<String>,
    /// The evaluation report (JSON: metrics per engine and baseline).
    pub report: Option<String>,
}

/// The start time of a run that took `elapsed` and finishes now.
pub fn started_ago(elapsed: std::time::Duration) -> NaiveDateTime {
    crate::now() - chrono::TimeDelta::from_std(elapsed).unwrap_or_default()
}

const RUN_COLUMNS: &str = "r.id, r.engine, r.cause, r.scope, r.subjects, r.rows_written, r.seconds, \
     r.peak_memory_mib, r.started_at, r.finished_at, r.outcome, r.error, u.uuid AS requested_by";

/// Inserts one history row on `conn` (finished now, unless it is a
/// request); its id.
pub(crate) async fn insert_run(
    mut conn: impl Conn,
    run: &NewEngineRun<'_>,
) -> Result<i64, sqlx::Error> {
    let finished_at = (run.outcome != RunOutcome::Requested).then(crate::now);
    let row = statement(
        &conn,
        "INSERT INTO engine_run (engine, cause, scope, subjects, rows_written, seconds, peak_memory_mib, \
         started_at, finished_at, outcome, error, requested_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .arg(run.engine.name())
    .arg(run.cause.as_str())
    .arg(run.scope.as_str())
    .arg(run.subjects)
    .arg(run.rows)
    .arg(run.seconds)
    .arg(run.peak_memory_mib)
    .arg(run.started_at)
    .arg(finished_at)
    .arg(run.outcome.as_str())
    .arg(run.error.as_deref())
    .arg(run.requested_by)
    .fetch_one(conn.executor())
    .await?;
    get(&conn, &row, 0)
}

impl Db {
    /// Records one run (finished now, unless it is a request); returns its id.
    pub async fn record_engine_run(&self, run: &NewEngineRun<'_>) -> StoreResult<i64> {
        on_db!(self, pool => Ok(insert_run(pool, run).await?))
    }

    /// Recorded runs, newest first.
    pub async fn engine_runs(&self, window: RunWindow) -> StoreResult<Vec<EngineRun>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM engine_run r LEFT JOIN \"user\" u ON u.user_id = r.requested_by \
             WHERE r.id > $1 AND r.id < $2 ORDER BY r.id DESC LIMIT $3"
        );
        on_db!(self, pool => Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(window.after.unwrap_or(0))
            .bind(window.before.unwrap_or(i64::MAX))
            .bind(window.limit.max(0))
            .fetch_all(pool)
            .await?))
    }

    /// Backlog and last success of each engine named.
    pub async fn engine_standings(&self, engines: &[&str]) -> StoreResult<Vec<EngineStanding>> {
        let backlog_sql = format!(
            "SELECT COUNT(*) FROM event WHERE {}",
            self.position_within()
        );
        let mut standings = Vec::with_capacity(engines.len());
        for engine in engines {
            let (backlog, last_success): (i64, Option<NaiveDateTime>) = on_db!(self, pool => {
                let (cursor, last_success): (Option<i64>, Option<NaiveDateTime>) = sqlx::query_as(
                    "SELECT (SELECT MIN(consumed_before) FROM engine WHERE engine = $1), \
                     (SELECT MAX(finished_at) FROM engine_run WHERE engine = $1 AND outcome = 'done')",
                )
                .bind(*engine)
                .fetch_one(pool)
                .await?;
                let (backlog,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(backlog_sql.as_str()))
                    .bind(cursor.unwrap_or(0))
                    .bind(i64::MAX)
                    .fetch_one(pool)
                    .await?;
                (backlog, last_success)
            });
            standings.push(EngineStanding {
                engine: engine.to_string(),
                backlog,
                last_success,
            });
        }
        Ok(standings)
    }

    /// Stores an offline evaluation; returns its id.
    pub async fn save_evaluation(
        &self,
        seed: u64,
        scale: &str,
        parameters: &serde_json::Value,
        report: &serde_json::Value,
    ) -> StoreResult<i64> {
        let seed = i64::try_from(seed)
            .map_err(|e| crate::StoreError::invalid("the seed must be below 2^63", e))?;
        on_db!(self, pool => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO engine_evaluation (created_at, seed, scale, parameters, report) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(crate::now())
            .bind(seed)
            .bind(scale)
            .bind(parameters.to_string())
            .bind(report.to_string())
            .fetch_one(pool)
            .await?;
            Ok(id)
        })
    }

    /// The newest stored evaluations, newest first.
    pub async fn evaluations(&self, limit: i64) -> StoreResult<Vec<StoredEvaluation>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT id, created_at, seed, scale, parameters, report FROM engine_evaluation ORDER BY id DESC LIMIT $1",
        )
        .bind(limit.max(0))
        .fetch_all(pool)
        .await?))
    }

    /// Engines that ran or hold a cursor here, by name.
    pub async fn engine_names(&self) -> StoreResult<Vec<String>> {
        on_db!(self, pool => {
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT engine FROM engine UNION SELECT engine FROM engine_run WHERE cause IN ('scheduled', 'forced') ORDER BY 1",
            )
            .fetch_all(pool)
            .await?;
            Ok(rows.into_iter().map(|(name,)| name).collect())
        })
    }
}
