//! Forced engine runs waiting for the scheduler. An administrator's request
//! may reach any instance, but only the instance holding the engine lock
//! runs engines (under its fence, so two runs of one engine never race);
//! the request waits here until that instance takes it.

use chrono::NaiveDateTime;
use recofinement_domain::EngineName;

use crate::dialect::BeginWrite;
use crate::engine_runs::{NewEngineRun, insert_run};
use crate::{Db, StoreError, StoreResult, now, on_db};

/// A forced run waiting: the engine, and when it was last asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForcedRun {
    pub engine: EngineName,
    pub requested_at: NaiveDateTime,
}

impl Db {
    /// Asks the scheduler for a forced run of `engines`, and records the
    /// request in the engine history, in one transaction; the history
    /// row's id.
    pub async fn request_forced_runs(
        &self,
        engines: &[EngineName],
        request: &NewEngineRun<'_>,
    ) -> StoreResult<i64> {
        let at = now();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for engine in engines {
                sqlx::query(
                    "INSERT INTO engine_forced_run (engine, requested_at) VALUES ($1, $2) \
                     ON CONFLICT (engine) DO UPDATE SET requested_at = $2",
                )
                .bind(engine.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            let id = insert_run(&mut *tx, request).await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// The forced runs waiting.
    pub async fn forced_runs_waiting(&self) -> StoreResult<Vec<ForcedRun>> {
        let sql = "SELECT engine, requested_at FROM engine_forced_run ORDER BY engine";
        let rows: Vec<(String, NaiveDateTime)> =
            on_db!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        rows.into_iter()
            .map(|(name, requested_at)| {
                let engine = StoreError::label("engine", &name, EngineName::parse)?;
                Ok(ForcedRun {
                    engine,
                    requested_at,
                })
            })
            .collect()
    }

    /// Forced runs done: each leaves the queue, unless it was asked for
    /// again after the run read it.
    pub async fn forced_runs_done(&self, runs: &[ForcedRun]) -> StoreResult<()> {
        for run in runs {
            on_db!(self, pool => {
                sqlx::query("DELETE FROM engine_forced_run WHERE engine = $1 AND requested_at <= $2")
                    .bind(run.engine.as_str())
                    .bind(run.requested_at)
                    .execute(pool)
                    .await?;
            });
        }
        Ok(())
    }
}
