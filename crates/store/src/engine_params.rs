//! What the engine keeps between runs: the collaborative-filtering
//! parameters `engine tune --save` chose.

use crate::{Db, StoreResult, now, on_db};

/// Engine name the collaborative-filtering parameters are stored under.
const COLLABORATIVE: &str = "CollaborativeFiltering";

/// Tuned ALS parameters as stored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StoredAlsParams {
    pub factors: i64,
    pub regularization: f64,
    pub alpha: f64,
    pub iterations: i64,
}

impl Db {
    /// Stores (replaces) the collaborative-filtering parameters.
    pub async fn save_collaborative_params(&self, p: &StoredAlsParams) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query(
                "INSERT INTO engine_als_params (engine, factors, regularization, alpha, iterations, saved_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (engine) DO UPDATE SET factors = $2, \
                 regularization = $3, alpha = $4, iterations = $5, saved_at = $6",
            )
            .bind(COLLABORATIVE)
            .bind(p.factors)
            .bind(p.regularization)
            .bind(p.alpha)
            .bind(p.iterations)
            .bind(now())
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The stored collaborative-filtering parameters, if any were saved.
    pub async fn collaborative_params(&self) -> StoreResult<Option<StoredAlsParams>> {
        on_db!(self, pool => {
            let row: Option<(i64, f64, f64, i64)> = sqlx::query_as(
                "SELECT factors, regularization, alpha, iterations FROM engine_als_params WHERE engine = $1",
            )
            .bind(COLLABORATIVE)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(factors, regularization, alpha, iterations)| StoredAlsParams {
                factors,
                regularization,
                alpha,
                iterations,
            }))
        })
    }
}
