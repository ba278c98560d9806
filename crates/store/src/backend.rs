//! One bound for the SQL both databases share. sqlx states what a query
//! needs as separate bounds on concrete types (`i64: Encode<'_, DB>`,
//! `&mut DB::Connection: Executor`, …) that a generic function would have
//! to repeat; [`Backend`] and [`Conn`] gather them once, implemented for
//! SQLite and PostgreSQL, so shared SQL is a generic function written and
//! type-checked once (`async fn f(mut conn: impl Conn)`), not a macro that
//! compiles twice and type-checks only after expansion.

use sqlx::postgres::PgRow;
use sqlx::query::Query;
use sqlx::sqlite::SqliteRow;
use sqlx::{
    Database, Decode, Encode, Executor, FromRow, IntoArguments, PgConnection, PgPool, Postgres,
    Sqlite, SqliteConnection, SqlitePool, Type,
};

/// A statement of backend `DB` with its parameters.
pub type Statement<'q, DB> = Query<'q, DB, <DB as Database>::Arguments>;

/// A database the shared SQL runs on.
pub trait Backend: Database<Arguments: IntoArguments<Self> + Send> {
    /// What ends a `SELECT` that locks its rows for the transaction
    /// (SQLite's writer already holds the whole file).
    const ROW_LOCK: &'static str;
    /// The same for a shared lock: others may read the rows, not change
    /// them.
    const SHARE_LOCK: &'static str;
    /// A statement that makes the transactions passing it take turns until
    /// they end, keyed by its one `i32` parameter; empty where writers take
    /// turns anyway (SQLite's writer holds the whole file).
    const TRANSACTION_TURN: &'static str;
    /// `query` with `value` bound as its next parameter.
    fn bind<'q, T: Param>(query: Statement<'q, Self>, value: T) -> Statement<'q, Self>;
    /// A whole row as `T` (its `FromRow`).
    fn decode<T: Decodes>(row: &Self::Row) -> Result<T, sqlx::Error>;
    /// Column `index` of a row as `T`.
    fn get<T: Column>(row: &Self::Row, index: usize) -> Result<T, sqlx::Error>;
    /// Rows a statement inserted, changed or deleted.
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

/// Something statements run on: a connection inside a transaction, or a
/// pool for a lone statement.
pub trait Conn: Send {
    type Backend: Backend;
    /// The handle as sqlx's executor, for one statement.
    fn executor(&mut self) -> impl Executor<'_, Database = Self::Backend>;
}

/// A value that binds as a parameter on both databases.
pub trait Param {
    fn bind_sqlite<'q>(self, query: Statement<'q, Sqlite>) -> Statement<'q, Sqlite>;
    fn bind_postgres<'q>(self, query: Statement<'q, Postgres>) -> Statement<'q, Postgres>;
}

impl<'e, T> Param for T
where
    T: Encode<'e, Sqlite> + Type<Sqlite> + Encode<'e, Postgres> + Type<Postgres>,
{
    fn bind_sqlite<'q>(self, query: Statement<'q, Sqlite>) -> Statement<'q, Sqlite> {
        query.bind(self)
    }
    fn bind_postgres<'q>(self, query: Statement<'q, Postgres>) -> Statement<'q, Postgres> {
        query.bind(self)
    }
}

/// A row type that decodes from both databases' rows.
pub trait Decodes: Sized {
    fn from_sqlite(row: &SqliteRow) -> Result<Self, sqlx::Error>;
    fn from_postgres(row: &PgRow) -> Result<Self, sqlx::Error>;
}

impl<T> Decodes for T
where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow>,
{
    fn from_sqlite(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        T::from_row(row)
    }
    fn from_postgres(row: &PgRow) -> Result<Self, sqlx::Error> {
        T::from_row(row)
    }
}

/// A column value that decodes from both databases.
pub trait Column: Sized {
    fn from_sqlite(row: &SqliteRow, index: usize) -> Result<Self, sqlx::Error>;
    fn from_postgres(row: &PgRow, index: usize) -> Result<Self, sqlx::Error>;
}

impl<T> Column for T
where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>,
{
    fn from_sqlite(row: &SqliteRow, index: usize) -> Result<Self, sqlx::Error> {
        sqlx::Row::try_get(row, index)
    }
    fn from_postgres(row: &PgRow, index: usize) -> Result<Self, sqlx::Error> {
        sqlx::Row::try_get(row, index)
    }
}

/// The two implementations differ only in their names.
macro_rules! backend {
    ($db:ty, $row:ty, $result:ty, $bind:ident, $from:ident, $row_lock:expr, $share_lock:expr, $turn:expr) => {
        impl Backend for $db {
            const ROW_LOCK: &'static str = $row_lock;
            const SHARE_LOCK: &'static str = $share_lock;
            const TRANSACTION_TURN: &'static str = $turn;
            fn bind<'q, T: Param>(query: Statement<'q, Self>, value: T) -> Statement<'q, Self> {
                value.$bind(query)
            }
            fn decode<T: Decodes>(row: &$row) -> Result<T, sqlx::Error> {
                T::$from(row)
            }
            fn get<T: Column>(row: &$row, index: usize) -> Result<T, sqlx::Error> {
                T::$from(row, index)
            }
            fn rows_affected(result: &$result) -> u64 {
                result.rows_affected()
            }
        }
    };
}

backend!(
    Sqlite,
    SqliteRow,
    sqlx::sqlite::SqliteQueryResult,
    bind_sqlite,
    from_sqlite,
    "",
    "",
    ""
);
backend!(
    Postgres,
    PgRow,
    sqlx::postgres::PgQueryResult,
    bind_postgres,
    from_postgres,
    " FOR UPDATE",
    " FOR SHARE",
    // The two-key form: its key space is not the scheduler lock's.
    "SELECT pg_advisory_xact_lock(1380270927, $1)"
);

impl Conn for &mut SqliteConnection {
    type Backend = Sqlite;
    fn executor(&mut self) -> impl Executor<'_, Database = Sqlite> {
        &mut **self
    }
}

impl Conn for &mut PgConnection {
    type Backend = Postgres;
    fn executor(&mut self) -> impl Executor<'_, Database = Postgres> {
        &mut **self
    }
}

/// A handle lent to a helper, which gives it back after its statements.
impl<C: Conn> Conn for &mut C {
    type Backend = C::Backend;
    fn executor(&mut self) -> impl Executor<'_, Database = C::Backend> {
        (**self).executor()
    }
}

impl Conn for &SqlitePool {
    type Backend = Sqlite;
    fn executor(&mut self) -> impl Executor<'_, Database = Sqlite> {
        *self
    }
}

impl Conn for &PgPool {
    type Backend = Postgres;
    fn executor(&mut self) -> impl Executor<'_, Database = Postgres> {
        *self
    }
}

/// `.arg(value)`: binds through [`Backend`], so generic code binds any
/// [`Param`] without naming the database.
pub trait Bind {
    fn arg<T: Param>(self, value: T) -> Self;
}

impl<'q, DB: Backend> Bind for Statement<'q, DB> {
    fn arg<T: Param>(self, value: T) -> Self {
        DB::bind(self, value)
    }
}

/// A statement of `C`'s backend (`sqlx::query` with the backend named by
/// the handle, so callers need not spell it).
pub fn statement<'q, C: Conn>(_: &C, sql: impl sqlx::SqlSafeStr) -> Statement<'q, C::Backend> {
    sqlx::query(sql)
}

/// [`Backend::ROW_LOCK`] of `C`'s backend.
pub fn row_lock<C: Conn>(_: &C) -> &'static str {
    <C::Backend as Backend>::ROW_LOCK
}

/// [`Backend::SHARE_LOCK`] of `C`'s backend.
pub fn share_lock<C: Conn>(_: &C) -> &'static str {
    <C::Backend as Backend>::SHARE_LOCK
}

/// The keys of [`take_transaction_turn`], one per kind of writer that must
/// not run beside another of its kind.
pub mod turn {
    /// Engines replacing users' recommendation lists.
    pub const USER_LISTS: i32 = 1;
    /// Engines replacing groups' recommendation lists.
    pub const GROUP_LISTS: i32 = 2;
    /// Library imports: each looks an item up, then creates it when
    /// unknown, and two at once would both create it.
    pub const LIBRARY_IMPORTS: i32 = 3;
}

/// Waits for the turn `key` (see [`Backend::TRANSACTION_TURN`]), held until
/// the transaction on `conn` ends.
pub async fn take_transaction_turn(mut conn: impl Conn, key: i32) -> Result<(), sqlx::Error> {
    let sql = transaction_turn(&conn);
    if !sql.is_empty() {
        statement(&conn, sql)
            .arg(key)
            .execute(conn.executor())
            .await?;
    }
    Ok(())
}

fn transaction_turn<C: Conn>(_: &C) -> &'static str {
    <C::Backend as Backend>::TRANSACTION_TURN
}

/// A row of `C`'s backend as `T`.
pub fn decode<C: Conn, T: Decodes>(
    _: &C,
    row: &<C::Backend as Database>::Row,
) -> Result<T, sqlx::Error> {
    <C::Backend as Backend>::decode(row)
}

/// Column `index` of a row of `C`'s backend.
pub fn get<C: Conn, T: Column>(
    _: &C,
    row: &<C::Backend as Database>::Row,
    index: usize,
) -> Result<T, sqlx::Error> {
    <C::Backend as Backend>::get(row, index)
}

/// Runs `query` on `conn`; answers how many rows it changed.
pub async fn execute<C: Conn>(
    conn: &mut C,
    query: Statement<'_, C::Backend>,
) -> Result<u64, sqlx::Error> {
    let result = query.execute(conn.executor()).await?;
    Ok(<C::Backend as Backend>::rows_affected(&result))
}
