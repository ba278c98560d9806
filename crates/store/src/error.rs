//! Store errors: callers match on the kinds they can answer (not found,
//! conflicts, an unreachable database); everything else is a database
//! failure that keeps its driver error as its source, for the API to log.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique or primary key was violated; `constraint` names it when the
    /// driver tells it.
    #[error("conflict on {constraint}")]
    Conflict {
        constraint: String,
        #[source]
        source: Option<sqlx::Error>,
    },
    /// A foreign key or check constraint refused the change: the row it
    /// points at is gone, or the value is outside what the schema accepts.
    #[error("constraint {constraint} refused the change")]
    Constraint {
        constraint: String,
        #[source]
        source: sqlx::Error,
    },
    /// The database cannot be reached now (connection refused or lost, pool
    /// exhausted): the caller may try again shortly.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("configuration: {0}")]
    Config(String),
    /// Stored data that does not decode (a corrupt payload, an unknown label).
    #[error("invalid data: {message}")]
    Invalid {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("database error")]
    Db(#[source] sqlx::Error),
    #[error("migration error")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// A conflict raised by the store itself (not by the database).
    pub fn conflict(constraint: impl Into<String>) -> Self {
        StoreError::Conflict {
            constraint: constraint.into(),
            source: None,
        }
    }

    /// Stored or supplied data that does not make sense, with its cause.
    pub fn invalid(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError::Invalid {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A stored label (`what`: an engine, a linked service…) read back as
    /// its type, or the error naming it.
    pub fn label<T>(
        what: &str,
        name: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, Self> {
        parse(name).ok_or_else(|| StoreError::invalid_message(format!("unknown {what} {name:?}")))
    }

    /// Data that does not make sense, found by the store's own checks.
    pub fn invalid_message(message: impl Into<String>) -> Self {
        StoreError::Invalid {
            message: message.into(),
            source: None,
        }
    }

    /// Whether this is a unique-key conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &err {
            sqlx::Error::RowNotFound => return StoreError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                return StoreError::Unavailable(err);
            }
            _ => {}
        }
        let Some(db_err) = err.as_database_error() else {
            return StoreError::Db(err);
        };
        let constraint = db_err.constraint().unwrap_or_default().to_string();
        match db_err.kind() {
            ErrorKind::UniqueViolation => StoreError::Conflict {
                constraint: if constraint.is_empty() {
                    "unique".into()
                } else {
                    constraint
                },
                source: Some(err),
            },
            ErrorKind::ForeignKeyViolation | ErrorKind::CheckViolation => StoreError::Constraint {
                constraint,
                source: err,
            },
            _ if is_connection_loss(db_err.code().as_deref()) => StoreError::Unavailable(err),
            _ => StoreError::Db(err),
        }
    }
}

/// PostgreSQL SQLSTATEs that mean the server went away or is starting or
/// stopping (class 08 connection exceptions, 57P01–57P03 shutdown states).
fn is_connection_loss(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03"))
}
