//! Dataset import (spec data-model §13): the RecoFinement-Datasets CSV files,
//! loaded in the spec's order, each unit of files in one transaction.
//!
//! A file is read and checked on a blocking thread (PostgreSQL CSV rules,
//! column count, types, the schema's NOT NULL / length / CHECK rules) so a
//! malformed row is reported with its file and line; checked rows travel in
//! batches to the database: `COPY … FROM STDIN` on PostgreSQL (straight into
//! a table empty at the unit's start, else into a temporary table then
//! `INSERT … SELECT … ON CONFLICT DO NOTHING`), multi-row `INSERT … ON
//! CONFLICT DO NOTHING` on SQLite. A re-run adds nothing twice.
//! The import writes no event rows: it clears the engines' state, so their
//! next run is a full one that sees everything.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::dialect::{BeginWrite, WriteTx};
use crate::{Db, StoreError, on_db};

// The format (files, columns, checking, CSV reading) is the dataset crate's;
// its names stay reachable here for the callers of the loader.
pub use recofinement_dataset::{
    CsvError, CsvReader, DatasetFile, FieldType, FileColumn, FileSpec, INTERACTIONS_PREFIX, Value,
    convert, dataset_files, file_specs,
};

/// Appends `value` in PostgreSQL's COPY text format.
fn encode_copy(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"\\N"),
        Value::Int(v) => {
            use std::io::Write;
            let _ = write!(out, "{v}");
        }
        Value::Float(v) => {
            use std::io::Write;
            let _ = write!(out, "{v:?}");
        }
        Value::Text(s) => {
            for &b in s.as_bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    _ => out.push(b),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------

/// Why an import stopped. Every variant names the file.
#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("{file}, line {line}: {reason}")]
    Malformed {
        file: String,
        line: u64,
        reason: String,
    },
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("{file}, lines {first_line}-{last_line}: {source}")]
    Database {
        file: String,
        first_line: u64,
        last_line: u64,
        #[source]
        source: StoreError,
    },
    #[error("{file}: {source}")]
    Store {
        file: String,
        #[source]
        source: StoreError,
    },
}

/// What loading one file did.
#[derive(Clone, Debug)]
pub struct FileReport {
    pub file: String,
    pub table: &'static str,
    /// Data rows read (the header excluded).
    pub rows_read: u64,
    /// Rows actually added (a re-run adds none).
    pub rows_inserted: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

impl FileReport {
    pub fn rows_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.rows_read as f64 / secs
        } else {
            0.0
        }
    }
}

/// Follows an import (progress bars, logs). Every method has a no-op default.
pub trait ImportObserver: Send {
    fn file_started(&mut self, _file: &str, _size: u64) {}
    fn progress(&mut self, _bytes_read: u64) {}
    fn file_finished(&mut self, _report: &FileReport) {}
    fn file_failed(&mut self, _error: &DatasetError) {}
}

/// An observer that does nothing.
pub struct Quiet;
impl ImportObserver for Quiet {}

/// Rows per batch sent to the database.
const BATCH_ROWS: usize = 50_000;
/// SQLite's bound-parameter limit.
const SQLITE_MAX_PARAMS: usize = 32_766;
/// Rows per SQLite statement (at most).
const SQLITE_ROWS_PER_STATEMENT: usize = 2_000;

/// PostgreSQL files from this size on may load in bulk (see `load_postgres`).
const BULK_BYTES: u64 = 1 << 20;

/// (re-create, drop) statements of a table's foreign keys and of its
/// secondary indexes that no constraint owns (unique ones are kept: the
/// `ON CONFLICT` needs them).
const BULK_OBJECTS_SQL: &str = "\
    SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid)), \
           format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) \
    FROM pg_constraint WHERE conrelid = $1::text::regclass AND contype = 'f' \
    UNION ALL \
    SELECT pg_get_indexdef(i.indexrelid), format('DROP INDEX %s', i.indexrelid::regclass) \
    FROM pg_index i WHERE i.indrelid = $1::text::regclass AND NOT i.indisprimary AND NOT i.indisunique \
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)";

enum Payload {
    /// COPY text rows (PostgreSQL).
    Copy(Vec<u8>),
    /// Values, `columns` per row (SQLite).
    Values(Vec<Value>),
}

struct Batch {
    first_line: u64,
    last_line: u64,
    rows: usize,
    bytes_read: u64,
    payload: Payload,
}

/// Reads `path` on the calling (blocking) thread and sends checked batches.
fn read_batches(
    path: &Path,
    spec: &FileSpec,
    copy: bool,
    name: &str,
    sender: tokio::sync::mpsc::Sender<Result<Batch, DatasetError>>,
) {
    let malformed = |line, reason| DatasetError::Malformed {
        file: name.to_string(),
        line,
        reason,
    };
    let run = || -> Result<(), DatasetError> {
        let io_error = |source| DatasetError::Io {
            file: name.to_string(),
            source,
        };
        let file = File::open(path).map_err(io_error)?;
        let mut reader = CsvReader::new(BufReader::with_capacity(1 << 20, file));
        let csv_error = |e| match e {
            CsvError::Io(source) => io_error(source),
            CsvError::Malformed { line, reason } => malformed(line, reason),
        };
        // The header names the columns; they are taken in the spec's order.
        if reader.next_record().map_err(csv_error)?.is_none() {
            return Ok(());
        }
        let width = spec.columns.len();
        let new_payload = || {
            if copy {
                Payload::Copy(Vec::with_capacity(1 << 20))
            } else {
                Payload::Values(Vec::with_capacity(BATCH_ROWS * width))
            }
        };
        let mut batch = Batch {
            first_line: 0,
            last_line: 0,
            rows: 0,
            bytes_read: 0,
            payload: new_payload(),
        };
        while let Some(line) = reader.next_record().map_err(csv_error)? {
            if reader.len() != width {
                return Err(malformed(
                    line,
                    format!("expected {width} fields, found {}", reader.len()),
                ));
            }
            if batch.rows == 0 {
                batch.first_line = line;
            }
            for (i, column) in spec.columns.iter().enumerate() {
                let value = convert(reader.field(i), column).map_err(|r| malformed(line, r))?;
                match &mut batch.payload {
                    Payload::Copy(out) => {
                        if i > 0 {
                            out.push(b'\t');
                        }
                        encode_copy(out, &value);
                    }
                    Payload::Values(values) => values.push(value),
                }
            }
            if let Payload::Copy(out) = &mut batch.payload {
                out.push(b'\n');
            }
            batch.rows += 1;
            batch.last_line = line;
            if batch.rows >= BATCH_ROWS {
                batch.bytes_read = reader.bytes_read();
                let full = std::mem::replace(
                    &mut batch,
                    Batch {
                        first_line: 0,
                        last_line: 0,
                        rows: 0,
                        bytes_read: 0,
                        payload: new_payload(),
                    },
                );
                if sender.blocking_send(Ok(full)).is_err() {
                    return Ok(()); // the loader stopped
                }
            }
        }
        batch.bytes_read = reader.bytes_read();
        if batch.rows > 0 {
            let _ = sender.blocking_send(Ok(batch));
        }
        Ok(())
    };
    if let Err(error) = run() {
        let _ = sender.blocking_send(Err(error));
    }
}

fn column_list(spec: &FileSpec) -> String {
    spec.columns
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT … VALUES (?, …), (?, …) ON CONFLICT DO NOTHING` for `rows` rows
/// (SQLite only). The placeholders are anonymous on purpose: SQLite looks a
/// numbered one up by a linear scan, which makes binding a statement of
/// thousands of `$N` quadratic.
fn insert_values_sql(spec: &FileSpec, rows: usize) -> String {
    let width = spec.columns.len();
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", spec.table, column_list(spec));
    let row_sql = format!("({})", vec!["?"; width].join(","));
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push_str(&row_sql);
    }
    sql.push_str(" ON CONFLICT DO NOTHING");
    sql
}

/// The files that load in one transaction: consecutive files of one table
/// (the interaction files `meta_user_content_*.csv`) together, any other
/// file alone. A unit is wholly loaded or not at all: a failure or a crash
/// in its middle leaves none of its rows, and a re-run loads it again.
pub fn load_units(files: &[DatasetFile]) -> Vec<&[DatasetFile]> {
    let mut units = Vec::new();
    let mut start = 0;
    for i in 1..=files.len() {
        if i == files.len() || files[i].spec.table != files[start].spec.table {
            units.push(&files[start..i]);
            start = i;
        }
    }
    units
}

fn file_size(file: &DatasetFile) -> u64 {
    std::fs::metadata(&file.path)
        .map(|m| m.len())
        .unwrap_or_default()
}

/// What loading one file of a unit returned: rows read and inserted.
type Loaded = Result<(u64, u64), DatasetError>;

/// Follows one file of a unit: its bar, its timing, its report.
struct FileRun<'a> {
    file: &'a DatasetFile,
    name: String,
    size: u64,
    started: Instant,
}

impl<'a> FileRun<'a> {
    fn start(file: &'a DatasetFile, observer: &mut dyn ImportObserver) -> Self {
        let name = file.name();
        let size = file_size(file);
        observer.file_started(&name, size);
        FileRun {
            file,
            name,
            size,
            started: Instant::now(),
        }
    }

    fn end(
        self,
        loaded: Loaded,
        observer: &mut dyn ImportObserver,
    ) -> Result<FileReport, DatasetError> {
        match loaded {
            Ok((rows_read, rows_inserted)) => {
                let report = FileReport {
                    file: self.name,
                    table: self.file.spec.table,
                    rows_read,
                    rows_inserted,
                    bytes: self.size,
                    elapsed: self.started.elapsed(),
                };
                observer.file_finished(&report);
                Ok(report)
            }
            Err(error) => {
                observer.file_failed(&error);
                Err(error)
            }
        }
    }
}

fn store_error(name: &str) -> impl Fn(sqlx::Error) -> DatasetError + '_ {
    move |e| DatasetError::Store {
        file: name.to_string(),
        source: e.into(),
    }
}

/// A failure of the statements that close a unit (re-created foreign keys
/// check every row of the unit): it names the unit's last file and lines.
fn closing_error(name: &str, read: u64) -> impl Fn(sqlx::Error) -> DatasetError + '_ {
    move |e| DatasetError::Database {
        file: name.to_string(),
        first_line: 2,
        last_line: read + 1,
        source: e.into(),
    }
}

impl Db {
    /// Imports every file of §13.2 found in `dir`, in the spec's order, and
    /// stops at the first failing unit (earlier units stay loaded; see
    /// [`load_units`]).
    pub async fn import_dataset(
        &self,
        dir: &Path,
        observer: &mut dyn ImportObserver,
    ) -> Result<Vec<FileReport>, DatasetError> {
        let files = dataset_files(dir).map_err(|source| DatasetError::Io {
            file: dir.display().to_string(),
            source,
        })?;
        let mut reports = Vec::with_capacity(files.len());
        for unit in load_units(&files) {
            reports.extend(self.import_files(unit, observer).await?);
        }
        self.analyze_imported().await?;
        Ok(reports)
    }

    /// After an import: the engines start afresh, the lists hear of it, and
    /// the planner gets fresh statistics (PostgreSQL otherwise guesses from
    /// an empty table). The import writes no events, so an engine that has
    /// run before would find nothing new in the log and never see the
    /// imported data: its state goes, and its next run is a full one.
    pub async fn analyze_imported(&self) -> Result<(), DatasetError> {
        crate::on_db!(self, pool => {
            sqlx::query("DELETE FROM engine").execute(pool).await.map_err(store_error("engine"))?;
        });
        self.announce(crate::changes::ListChange::Catalogue).await;
        // SQLite takes one name (or none); PostgreSQL a list, kept to the
        // imported tables of the current schema.
        let analyze = match self {
            Db::Sqlite(_) => "ANALYZE",
            Db::Postgres(_) => {
                "ANALYZE genre, content, application, book, game, movie, track, serie, episode, \"user\", \
                 content_genres, meta_user_content, role, permission, role_permission"
            }
        };
        crate::on_db!(self, pool => {
            sqlx::query(analyze).execute(pool).await.map_err(store_error("ANALYZE"))?;
        });
        Ok(())
    }

    /// Loads one file in one transaction: on any error the database is left
    /// as it was before the file.
    pub async fn import_file(
        &self,
        file: &DatasetFile,
        observer: &mut dyn ImportObserver,
    ) -> Result<FileReport, DatasetError> {
        let mut reports = self
            .import_files(std::slice::from_ref(file), observer)
            .await?;
        Ok(reports.remove(0))
    }

    /// Loads files of one table (a unit of [`load_units`]) in one
    /// transaction: on any error the database is left as it was before them.
    pub async fn import_files(
        &self,
        files: &[DatasetFile],
        observer: &mut dyn ImportObserver,
    ) -> Result<Vec<FileReport>, DatasetError> {
        assert!(
            files.windows(2).all(|w| w[0].spec.table == w[1].spec.table),
            "one table per unit"
        );
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let spec = &files[0].spec;
        let first = files[0].name();
        let size: u64 = files.iter().map(file_size).sum();
        let mut unit =
            UnitTx::begin(self, spec, size)
                .await
                .map_err(|source| DatasetError::Store {
                    file: first.clone(),
                    source,
                })?;
        let mut reports = Vec::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            let run = FileRun::start(file, observer);
            let mut loaded = unit.load_file(file, &run.name, observer).await;
            if i + 1 == files.len()
                && let Ok((read, _)) = loaded
                && let Err(error) = unit.close(spec, &run.name, read).await
            {
                loaded = Err(error);
            }
            reports.push(run.end(loaded, observer)?);
        }
        let last = reports.last().map(|r| r.file.clone()).unwrap_or(first);
        unit.commit().await.map_err(store_error(&last))?;
        Ok(reports)
    }

    /// Whether the catalogue holds no content at all (the demo imports only then).
    pub async fn catalogue_is_empty(&self) -> Result<bool, StoreError> {
        on_db!(self, pool => {
            let row: Option<(i64,)> = sqlx::query_as("SELECT content_id FROM content LIMIT 1")
                .fetch_optional(pool)
                .await?;
            Ok(row.is_none())
        })
    }
}

/// The write transaction of one unit on its backend. The loop over files
/// and batches is one; only the statements differ.
enum Conn {
    Postgres(WriteTx<sqlx::Postgres>),
    Sqlite(WriteTx<sqlx::Sqlite>),
}

/// How PostgreSQL batches reach the table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PgPath {
    /// `COPY` straight into the table (empty at the start of the unit), each
    /// batch under a savepoint: a duplicate key rolls the batch back and
    /// switches the unit to the staging path, which skips duplicates.
    Direct,
    /// `COPY` into a temporary table, then `INSERT … SELECT … ON CONFLICT
    /// DO NOTHING`.
    Staged,
}

struct UnitTx {
    conn: Conn,
    /// PostgreSQL only.
    path: PgPath,
    /// Statements that re-create what the bulk start dropped.
    restore: Vec<String>,
}

impl UnitTx {
    /// Begins the unit's transaction and prepares the table: the staging
    /// table and session settings (PostgreSQL), the bulk start (both).
    async fn begin(db: &Db, spec: &FileSpec, size: u64) -> Result<UnitTx, StoreError> {
        let mut unit = match db {
            Db::Postgres(pool) => UnitTx {
                conn: Conn::Postgres(pool.begin_write().await?),
                path: PgPath::Staged,
                restore: Vec::new(),
            },
            Db::Sqlite(pool) => UnitTx {
                conn: Conn::Sqlite(pool.begin_write().await?),
                path: PgPath::Staged,
                restore: Vec::new(),
            },
        };
        if let Conn::Postgres(_) = unit.conn {
            // For this transaction only: index builds and foreign-key checks
            // sort and hash in memory, and the commit does not wait for the
            // WAL flush (a crash loses the commit, never half of it).
            for setting in [
                "SET LOCAL maintenance_work_mem = '512MB'",
                "SET LOCAL work_mem = '256MB'",
                "SET LOCAL synchronous_commit = off",
            ] {
                unit.execute(setting).await?;
            }
            let stage_sql = format!(
                "CREATE TEMP TABLE import_stage ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
                column_list(spec),
                spec.table
            );
            unit.execute(&stage_sql).await?;
            if unit.table_is_empty(spec.table).await? {
                unit.path = PgPath::Direct;
            }
        }
        unit.restore = unit.bulk_start(spec.table, size).await?;
        Ok(unit)
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql);
        Ok(match &mut self.conn {
            Conn::Postgres(tx) => sqlx::query(sql).execute(&mut **tx).await?.rows_affected(),
            Conn::Sqlite(tx) => sqlx::query(sql).execute(&mut **tx).await?.rows_affected(),
        })
    }

    async fn table_is_empty(&mut self, table: &str) -> Result<bool, sqlx::Error> {
        let sql = format!("SELECT CASE WHEN EXISTS (SELECT 1 FROM {table}) THEN 0 ELSE 1 END");
        let sql = sqlx::AssertSqlSafe(sql);
        let (empty,): (i32,) = match &mut self.conn {
            Conn::Postgres(tx) => sqlx::query_as(sql).fetch_one(&mut **tx).await?,
            Conn::Sqlite(tx) => sqlx::query_as(sql).fetch_one(&mut **tx).await?,
        };
        Ok(empty == 1)
    }

    /// A unit large for its table (≥ 1 MiB, the table not much larger) loads
    /// with the table's secondary indexes (and, on PostgreSQL, its foreign
    /// keys) dropped; they are re-created with their own names and
    /// definitions before commit (one transaction, so nobody sees the table
    /// without them), once for the whole unit. Checking and indexing in
    /// bulk is several times faster than row by row; a missing parent row
    /// fails the unit as before. SQLite also gets a page cache large enough
    /// for the table's unique index. Returns the re-creating statements.
    async fn bulk_start(&mut self, table: &str, size: u64) -> Result<Vec<String>, sqlx::Error> {
        if size < BULK_BYTES {
            return Ok(Vec::new());
        }
        let objects: Vec<(String, String)> = match &mut self.conn {
            Conn::Postgres(tx) => {
                let (rows,): (f64,) = sqlx::query_as(
                    "SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = $1::text::regclass",
                )
                .bind(table)
                .fetch_one(&mut **tx)
                .await?;
                if rows > (size / 2) as f64 {
                    return Ok(Vec::new());
                }
                sqlx::query_as(BULK_OBJECTS_SQL)
                    .bind(table)
                    .fetch_all(&mut **tx)
                    .await?
            }
            Conn::Sqlite(tx) => {
                let count = format!("SELECT count(*) FROM {table}");
                let (rows,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(count))
                    .fetch_one(&mut **tx)
                    .await?;
                if rows as u64 > size / 2 {
                    return Ok(Vec::new());
                }
                let indexes: Vec<(String, String)> = sqlx::query_as(
                    "SELECT sql, name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 \
                     AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY name",
                )
                .bind(table.trim_matches('"'))
                .fetch_all(&mut **tx)
                .await?;
                // 256 MiB at most, for this connection until the unit ends.
                sqlx::query("PRAGMA cache_size = -262144")
                    .execute(&mut **tx)
                    .await?;
                indexes
                    .into_iter()
                    .map(|(create, name)| (create, format!("DROP INDEX \"{name}\"")))
                    .collect()
            }
        };
        tracing::debug!(
            table,
            objects = objects.len(),
            "bulk load: indexes (and foreign keys) re-created after the unit"
        );
        let mut restore = Vec::with_capacity(objects.len() + 1);
        for (create, drop) in objects {
            self.execute(&drop).await?;
            restore.push(create);
        }
        if let Conn::Sqlite(_) = self.conn {
            // Sets the cache size back at the end.
            restore.push("PRAGMA cache_size = -2000".to_string());
        }
        Ok(restore)
    }

    /// One file, batch by batch, in the unit's transaction.
    async fn load_file(
        &mut self,
        file: &DatasetFile,
        name: &str,
        observer: &mut dyn ImportObserver,
    ) -> Loaded {
        let copy = matches!(self.conn, Conn::Postgres(_));
        let statements = Statements::new(&file.spec);
        let (mut receiver, reader) = spawn_reader(file, name, copy);
        let (mut read, mut inserted) = (0u64, 0u64);
        while let Some(batch) = receiver.recv().await {
            let batch = batch?;
            inserted += self
                .write_batch(&statements, &batch)
                .await
                .map_err(|source| DatasetError::Database {
                    file: name.to_string(),
                    first_line: batch.first_line,
                    last_line: batch.last_line,
                    source,
                })?;
            read += batch.rows as u64;
            tracing::debug!(
                file = name,
                rows = read,
                "import batch loaded (not committed)"
            );
            observer.progress(batch.bytes_read);
        }
        let _ = reader.await;
        Ok((read, inserted))
    }

    /// Writes one batch; returns the rows added. A batch row whose id the
    /// database holds for someone else (see [`FileSpec::identity`]) stops
    /// the unit: skipped as a duplicate, it would hand that row its
    /// dependent rows (a user's ratings to another account).
    async fn write_batch(
        &mut self,
        statements: &Statements<'_>,
        batch: &Batch,
    ) -> Result<u64, StoreError> {
        let spec = statements.spec;
        let inserted = self.insert_batch(statements, batch).await?;
        let taken = match (&mut self.conn, &batch.payload) {
            (Conn::Postgres(tx), Payload::Copy(_)) if self.path == PgPath::Staged => {
                let sql = taken_id_sql(spec, "s AS (SELECT * FROM import_stage)");
                let found: Option<(i64,)> = match &sql {
                    Some(sql) => {
                        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                            .fetch_optional(&mut **tx)
                            .await?
                    }
                    None => None,
                };
                sqlx::query("TRUNCATE import_stage")
                    .execute(&mut **tx)
                    .await?;
                found
            }
            (Conn::Sqlite(tx), Payload::Values(values)) => {
                sqlite_taken_id(tx, spec, values).await?
            }
            _ => None,
        };
        match taken {
            Some((id,)) => Err(StoreError::conflict(format!(
                "id {id} of {}: the database holds another row under it (its {} differ); \
                 this dataset does not fit a database holding other data under its ids",
                spec.table,
                spec.identity.join(", ")
            ))),
            None => Ok(inserted),
        }
    }

    /// Inserts one batch; the rows added (PostgreSQL's staged rows stay in
    /// the stage for [`UnitTx::write_batch`]'s check).
    async fn insert_batch(
        &mut self,
        statements: &Statements<'_>,
        batch: &Batch,
    ) -> Result<u64, sqlx::Error> {
        match (&mut self.conn, &batch.payload) {
            (Conn::Postgres(tx), Payload::Copy(data)) => {
                if self.path == PgPath::Direct {
                    sqlx::query("SAVEPOINT import_batch")
                        .execute(&mut **tx)
                        .await?;
                    match copy_in(tx, &statements.copy_direct, data).await {
                        Ok(rows) => {
                            sqlx::query("RELEASE SAVEPOINT import_batch")
                                .execute(&mut **tx)
                                .await?;
                            return Ok(rows);
                        }
                        Err(error) if is_unique_violation(&error) => {
                            sqlx::query("ROLLBACK TO SAVEPOINT import_batch")
                                .execute(&mut **tx)
                                .await?;
                            tracing::debug!("duplicate keys: the unit goes through staging");
                            self.path = PgPath::Staged;
                        }
                        Err(error) => return Err(error),
                    }
                }
                copy_in(tx, &statements.copy_stage, data).await?;
                let inserted = sqlx::query(sqlx::AssertSqlSafe(statements.insert_staged.as_str()))
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                Ok(inserted)
            }
            (Conn::Sqlite(tx), Payload::Values(values)) => {
                insert_values(tx, statements, values).await
            }
            _ => unreachable!("COPY text for PostgreSQL, values for SQLite"),
        }
    }

    /// The end of a unit: what the bulk start dropped comes back (re-created
    /// foreign keys check every row), then content types of a media table
    /// and (PostgreSQL) the id sequence past the largest id.
    async fn close(&mut self, spec: &FileSpec, name: &str, read: u64) -> Result<(), DatasetError> {
        let closing_error = closing_error(name, read);
        for create in std::mem::take(&mut self.restore) {
            self.execute(&create).await.map_err(&closing_error)?;
        }
        let store_error = store_error(name);
        if let Some(label) = spec.content_type {
            let sql = mark_content_type_sql(spec.table);
            let sql = sqlx::AssertSqlSafe(sql);
            match &mut self.conn {
                Conn::Postgres(tx) => sqlx::query(sql)
                    .bind(label)
                    .execute(&mut **tx)
                    .await
                    .map(drop),
                Conn::Sqlite(tx) => sqlx::query(sql)
                    .bind(label)
                    .execute(&mut **tx)
                    .await
                    .map(drop),
            }
            .map_err(&store_error)?;
        }
        if let (Some(serial), Conn::Postgres(_)) = (spec.serial, &self.conn) {
            // Past the largest id, and never back: an id the sequence gave
            // to a row since deleted must not come again (events and
            // history still name it).
            let sql = format!(
                "SELECT setval(seq, GREATEST((SELECT COALESCE(max({serial}), 0) FROM {table}), \
                 COALESCE(pg_sequence_last_value(seq), 0)) + 1, false) \
                 FROM (SELECT pg_get_serial_sequence('{table}', '{serial}')::regclass AS seq) s",
                table = spec.table
            );
            self.execute(&sql).await.map_err(&store_error)?;
        }
        Ok(())
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        match self.conn {
            Conn::Postgres(tx) => tx.commit().await,
            Conn::Sqlite(tx) => tx.commit().await,
        }
    }
}

/// The statements of one file's batches.
struct Statements<'a> {
    spec: &'a FileSpec,
    copy_direct: String,
    copy_stage: String,
    insert_staged: String,
    /// SQLite: rows per multi-row insert and its statement.
    per_statement: usize,
    insert_full: String,
}

impl<'a> Statements<'a> {
    fn new(spec: &'a FileSpec) -> Self {
        let columns = column_list(spec);
        let per_statement = (SQLITE_MAX_PARAMS / spec.columns.len()).min(SQLITE_ROWS_PER_STATEMENT);
        Statements {
            spec,
            copy_direct: format!("COPY {} ({columns}) FROM STDIN", spec.table),
            copy_stage: format!("COPY import_stage ({columns}) FROM STDIN"),
            insert_staged: format!(
                "INSERT INTO {} ({columns}) SELECT {columns} FROM import_stage ON CONFLICT DO NOTHING",
                spec.table
            ),
            per_statement,
            insert_full: insert_values_sql(spec, per_statement),
        }
    }
}

/// The first id of the file's rows `s` (a common table expression naming
/// the key and identity columns) that the table holds for a row whose
/// identity columns differ; `None` for a file without identity columns.
fn taken_id_sql(spec: &FileSpec, s: &str) -> Option<String> {
    let key = spec.serial.filter(|_| !spec.identity.is_empty())?;
    let of = |alias: &str| -> String {
        let columns: Vec<String> = spec
            .identity
            .iter()
            .map(|c| format!("{alias}.{c}"))
            .collect();
        columns.join(", ")
    };
    Some(format!(
        "WITH {s} SELECT s.{key} FROM s JOIN {table} t ON t.{key} = s.{key} \
         WHERE ({s_identity}) IS DISTINCT FROM ({t}) LIMIT 1",
        table = spec.table,
        s_identity = of("s"),
        t = of("t"),
    ))
}

/// [`taken_id_sql`] over a SQLite batch, its rows given as values.
async fn sqlite_taken_id(
    tx: &mut WriteTx<sqlx::Sqlite>,
    spec: &FileSpec,
    values: &[Value],
) -> Result<Option<(i64,)>, sqlx::Error> {
    let Some(key) = spec.serial.filter(|_| !spec.identity.is_empty()) else {
        return Ok(None);
    };
    let names: Vec<&str> = std::iter::once(key)
        .chain(spec.identity.iter().copied())
        .collect();
    let picked: Vec<usize> = names
        .iter()
        .map(|name| {
            let at = spec.columns.iter().position(|c| c.name == *name);
            at.expect("key and identity columns are file columns")
        })
        .collect();
    let width = spec.columns.len();
    let rows_per_check = (SQLITE_MAX_PARAMS / picked.len()).min(SQLITE_ROWS_PER_STATEMENT);
    let row = format!("({})", vec!["?"; picked.len()].join(","));
    for chunk in values.chunks(width * rows_per_check) {
        let rows = vec![row.as_str(); chunk.len() / width].join(",");
        let s = format!("s({}) AS (VALUES {rows})", names.join(", "));
        let sql = taken_id_sql(spec, &s).expect("a file with identity columns");
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for file_row in chunk.chunks(width) {
            for &i in &picked {
                query = match &file_row[i] {
                    Value::Null => query.bind(None::<i64>),
                    Value::Int(v) => query.bind(*v),
                    Value::Float(v) => query.bind(*v),
                    Value::Text(v) => query.bind(v.as_str()),
                };
            }
        }
        if let Some(found) = query.fetch_optional(&mut **tx).await? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Sends COPY text rows; returns the rows copied.
async fn copy_in(
    tx: &mut WriteTx<sqlx::Postgres>,
    sql: &str,
    data: &[u8],
) -> Result<u64, sqlx::Error> {
    let mut copy = tx.copy_in_raw(sql).await?;
    copy.send(data).await?;
    copy.finish().await
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// SQLite: a batch as multi-row `INSERT … ON CONFLICT DO NOTHING`.
async fn insert_values(
    tx: &mut WriteTx<sqlx::Sqlite>,
    statements: &Statements<'_>,
    values: &[Value],
) -> Result<u64, sqlx::Error> {
    let width = statements.spec.columns.len();
    let per_statement = statements.per_statement;
    let mut inserted = 0;
    for chunk in values.chunks(per_statement * width) {
        let partial_sql;
        let sql = if chunk.len() == per_statement * width {
            statements.insert_full.as_str()
        } else {
            partial_sql = insert_values_sql(statements.spec, chunk.len() / width);
            partial_sql.as_str()
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in chunk {
            query = match value {
                Value::Null => query.bind(None::<i64>),
                Value::Int(v) => query.bind(*v),
                Value::Float(v) => query.bind(*v),
                Value::Text(v) => query.bind(v.as_str()),
            };
        }
        inserted += query.execute(&mut **tx).await?.rows_affected();
    }
    Ok(inserted)
}

fn spawn_reader(
    file: &DatasetFile,
    name: &str,
    copy: bool,
) -> (
    tokio::sync::mpsc::Receiver<Result<Batch, DatasetError>>,
    tokio::task::JoinHandle<()>,
) {
    let (sender, receiver) = tokio::sync::mpsc::channel(2);
    let path = file.path.clone();
    let spec = file.spec.clone();
    let name = name.to_string();
    let handle = tokio::task::spawn_blocking(move || {
        read_batches(&path, &spec, copy, &name, sender);
    });
    (receiver, handle)
}

/// Sets `content.content_type` of the ids of a media table (the same SQL
/// on both databases; rows already typed are left alone).
fn mark_content_type_sql(table: &str) -> String {
    format!(
        "UPDATE content SET content_type = $1 WHERE content_type IS NULL AND content_id IN (SELECT content_id FROM {table})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_specials() {
        let mut out = Vec::new();
        encode_copy(&mut out, &Value::Text("a\tb\\c\nd".into()));
        out.push(b'\t');
        encode_copy(&mut out, &Value::Null);
        assert_eq!(out, b"a\\tb\\\\c\\nd\t\\N");
    }
}
