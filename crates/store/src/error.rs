//! Store errors: callers match on the kinds they can answer (not found,
//! conflicts); everything else is a database failure logged by the API.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique or primary key was violated; the payload names the constraint
    /// when the driver tells it.
    #[error("conflict on {0}")]
    Conflict(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("invalid data: {0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Db(#[source] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::RowNotFound = err {
            return StoreError::NotFound;
        }
        if let Some(db_err) = err.as_database_error()
            && db_err.is_unique_violation()
        {
            let name = db_err.constraint().unwrap_or("unique").to_string();
            return StoreError::Conflict(name);
        }
        StoreError::Db(err)
    }
}
