//! Dataset import (spec data-model §13): the RecoFinement-Datasets CSV files,
//! loaded in the spec's order, each file in one transaction.
//!
//! A file is read and checked on a blocking thread (PostgreSQL CSV rules,
//! column count, types, the schema's NOT NULL / length / CHECK rules) so a
//! malformed row is reported with its file and line; checked rows travel in
//! batches to the database: `COPY … FROM STDIN` into a temporary table then
//! `INSERT … SELECT … ON CONFLICT DO NOTHING` on PostgreSQL, multi-row
//! `INSERT … ON CONFLICT DO NOTHING` on SQLite. A re-run adds nothing twice.
//! The import writes no event rows: the first engine run sees everything.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use recofinement_domain::ContentKind;
use recofinement_domain::media::{self, Column, ColumnType, EPISODE_COLUMNS, LONG_TEXT};
use thiserror::Error;

use crate::dialect::BeginWrite;
use crate::{Db, StoreError, on_db};

// ---------------------------------------------------------------------------
// CSV reading (PostgreSQL `CSV` format)
// ---------------------------------------------------------------------------

/// A streaming reader of PostgreSQL-style CSV: fields may be quoted, `""`
/// inside quotes is one quote, quoted fields may hold commas and newlines,
/// an empty unquoted field is NULL and an empty quoted field is `""`.
/// Memory use is one record.
pub struct CsvReader<R> {
    input: R,
    /// Physical lines consumed so far.
    line: u64,
    bytes: u64,
    raw: Vec<u8>,
    data: Vec<u8>,
    /// (start, end, is_null) of each field of the current record in `data`.
    fields: Vec<(usize, usize, bool)>,
}

/// A reading failure: the input failed, or the text is not valid CSV.
#[derive(Debug, Error)]
pub enum CsvError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("line {line}: {reason}")]
    Malformed { line: u64, reason: String },
}

impl<R: BufRead> CsvReader<R> {
    pub fn new(input: R) -> Self {
        CsvReader {
            input,
            line: 0,
            bytes: 0,
            raw: Vec::with_capacity(1024),
            data: Vec::with_capacity(1024),
            fields: Vec::with_capacity(16),
        }
    }

    /// Bytes consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    fn read_line(&mut self) -> io::Result<usize> {
        self.raw.clear();
        let n = self.input.read_until(b'\n', &mut self.raw)?;
        self.bytes += n as u64;
        if n > 0 {
            self.line += 1;
        }
        Ok(n)
    }

    /// Reads the next record and returns the line it starts on, or `None` at
    /// the end. Blank lines are skipped.
    pub fn next_record(&mut self) -> Result<Option<u64>, CsvError> {
        self.data.clear();
        self.fields.clear();
        loop {
            if self.read_line()? == 0 {
                return Ok(None);
            }
            if !matches!(self.raw.as_slice(), b"\n" | b"\r\n") {
                break;
            }
        }
        let start_line = self.line;
        let mut in_quotes = false;
        let mut quoted = false;
        let mut field_start = 0;
        loop {
            let raw = &self.raw;
            let len = raw.len();
            let mut i = 0;
            while i < len {
                let c = raw[i];
                if in_quotes {
                    if c == b'"' {
                        if i + 1 < len && raw[i + 1] == b'"' {
                            self.data.push(b'"');
                            i += 2;
                            continue;
                        }
                        in_quotes = false;
                    } else {
                        self.data.push(c);
                    }
                    i += 1;
                    continue;
                }
                match c {
                    b'"' => {
                        in_quotes = true;
                        quoted = true;
                    }
                    b',' => {
                        let end = self.data.len();
                        self.fields
                            .push((field_start, end, !quoted && end == field_start));
                        field_start = end;
                        quoted = false;
                    }
                    b'\n' if i + 1 == len => {}
                    b'\r' if i + 2 == len && raw[i + 1] == b'\n' => {}
                    _ => self.data.push(c),
                }
                i += 1;
            }
            if !in_quotes {
                break;
            }
            if self.read_line()? == 0 {
                return Err(CsvError::Malformed {
                    line: start_line,
                    reason: "unterminated quoted field".into(),
                });
            }
        }
        let end = self.data.len();
        self.fields
            .push((field_start, end, !quoted && end == field_start));
        Ok(Some(start_line))
    }

    /// Fields of the current record.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Field `i` of the current record; `None` is NULL.
    pub fn field(&self, i: usize) -> Option<&[u8]> {
        let (start, end, null) = *self.fields.get(i)?;
        (!null).then(|| &self.data[start..end])
    }
}

// ---------------------------------------------------------------------------
// The files of §13.2
// ---------------------------------------------------------------------------

/// How a file column is checked and converted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Integer (`BIGINT`).
    Integer,
    /// Number with a fraction allowed, rounded half away from zero (DM-10).
    RoundedInteger,
    /// Rating: a number rounded to an integer in 0..=5.
    Rating,
    Float,
    /// Text of at most this many characters (`None`: unbounded).
    Text(Option<usize>),
    /// A UUID, stored as lower-case hyphenated text.
    Uuid,
    /// An e-mail address, stored trimmed and lower-cased.
    Email,
    /// A content-type label (`MOVIE`…).
    ContentType,
}

#[derive(Clone, Debug)]
pub struct FileColumn {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
}

/// One row of the table of §13.2.
#[derive(Clone, Debug)]
pub struct FileSpec {
    /// File name; for the interactions, the prefix of `meta_user_content*.csv`.
    pub file: &'static str,
    /// Table name as written in SQL (quoted when reserved).
    pub table: &'static str,
    pub columns: Vec<FileColumn>,
    /// The `content.content_type` label of the ids this file holds.
    pub content_type: Option<&'static str>,
    /// Serial id column whose PostgreSQL sequence must move past the max.
    pub serial: Option<&'static str>,
}

fn col(name: &'static str, ty: FieldType, required: bool) -> FileColumn {
    FileColumn { name, ty, required }
}

fn id(name: &'static str) -> FileColumn {
    col(name, FieldType::Integer, true)
}

fn text(name: &'static str, max: usize, required: bool) -> FileColumn {
    col(name, FieldType::Text(Some(max)), required)
}

/// A media column as the domain describes it (one description per kind).
fn media_column(column: &Column, required: bool) -> FileColumn {
    let ty = match column.ty {
        // LONG_TEXT is the API's bound of an unbounded TEXT column.
        ColumnType::Text(max) | ColumnType::TextOrNumber(max) if max >= LONG_TEXT => {
            FieldType::Text(None)
        }
        ColumnType::Text(max) | ColumnType::TextOrNumber(max) => FieldType::Text(Some(max)),
        ColumnType::Integer => FieldType::Integer,
        ColumnType::Uuid => FieldType::Uuid,
    };
    col(column.name, ty, required)
}

fn media_file(kind: ContentKind, file: &'static str) -> FileSpec {
    let spec = media::spec(kind);
    let mut columns = vec![id("content_id")];
    for column in spec.columns {
        // book.isbn is the one NOT NULL media column.
        let required = kind == ContentKind::Book && column.name == "isbn";
        columns.push(media_column(column, required));
    }
    FileSpec {
        file,
        table: spec.table,
        columns,
        content_type: Some(kind.label()),
        serial: None,
    }
}

fn episode_column(name: &'static str) -> FileColumn {
    let column = EPISODE_COLUMNS
        .iter()
        .find(|c| c.name == name)
        .expect("episode column");
    media_column(column, false)
}

/// Prefix of the interaction files (`meta_user_content_1.csv` …).
pub const INTERACTIONS_PREFIX: &str = "meta_user_content";

/// The files of §13.2, in load order.
pub fn file_specs() -> Vec<FileSpec> {
    use FieldType::*;
    vec![
        FileSpec {
            file: "genres.csv",
            table: "genre",
            columns: vec![
                id("genre_id"),
                text("name", 45, true),
                col("count", Integer, false),
                col("content_type", ContentType, false),
            ],
            content_type: None,
            serial: Some("genre_id"),
        },
        FileSpec {
            file: "content.csv",
            table: "content",
            columns: vec![
                id("content_id"),
                col("rating", Float, false),
                col("rating_count", Integer, false),
            ],
            content_type: None,
            serial: Some("content_id"),
        },
        media_file(ContentKind::Application, "application.csv"),
        media_file(ContentKind::Book, "books.csv"),
        media_file(ContentKind::Game, "games.csv"),
        media_file(ContentKind::Movie, "movie.csv"),
        media_file(ContentKind::Track, "track.csv"),
        media_file(ContentKind::Serie, "serie.csv"),
        FileSpec {
            file: "episode.csv",
            table: "episode",
            columns: vec![
                id("content_id"),
                episode_column("imdbid"),
                episode_column("title"),
                episode_column("year"),
                col("serie_id", Integer, false),
                episode_column("season_number"),
                episode_column("episode_number"),
            ],
            content_type: Some("EPISODE"),
            serial: None,
        },
        FileSpec {
            file: "user.csv",
            table: "\"user\"",
            columns: vec![
                id("user_id"),
                col("uuid", Uuid, true),
                col("email", Email, false),
                text("username", 45, true),
                text("password_hash", 255, true),
            ],
            content_type: None,
            serial: Some("user_id"),
        },
        FileSpec {
            file: "content_genres.csv",
            table: "content_genres",
            columns: vec![id("content_id"), id("genre_id")],
            content_type: None,
            serial: None,
        },
        FileSpec {
            file: INTERACTIONS_PREFIX,
            table: "meta_user_content",
            columns: vec![
                id("content_id"),
                id("user_id"),
                col("rating", Rating, false),
                col("count", RoundedInteger, false),
            ],
            content_type: None,
            serial: None,
        },
        FileSpec {
            file: "role.csv",
            table: "role",
            columns: vec![id("role_id"), text("name", 45, false)],
            content_type: None,
            serial: Some("role_id"),
        },
        FileSpec {
            file: "permission.csv",
            table: "permission",
            columns: vec![text("permission", 45, true)],
            content_type: None,
            serial: None,
        },
        FileSpec {
            file: "role_permission.csv",
            table: "role_permission",
            columns: vec![id("role_id"), text("permission", 45, true)],
            content_type: None,
            serial: None,
        },
    ]
}

/// A file of the dataset found on disk.
#[derive(Clone, Debug)]
pub struct DatasetFile {
    pub path: PathBuf,
    pub spec: FileSpec,
}

impl DatasetFile {
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The interaction files in `dir`: `meta_user_content_1.csv` … `_4.csv`
/// first in numeric order, then any other `meta_user_content*.csv` by name.
fn interaction_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(INTERACTIONS_PREFIX)
            && name.ends_with(".csv")
            && entry.file_type()?.is_file()
        {
            let middle = &name[INTERACTIONS_PREFIX.len()..name.len() - 4];
            let number = middle
                .strip_prefix('_')
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(u64::MAX);
            found.push((number, name, entry.path()));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, _, path)| path).collect())
}

/// The files of §13.2 present in `dir`, in load order.
pub fn dataset_files(dir: &Path) -> io::Result<Vec<DatasetFile>> {
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} is not a directory", dir.display()),
        ));
    }
    let mut files = Vec::new();
    for spec in file_specs() {
        if spec.file == INTERACTIONS_PREFIX {
            for path in interaction_files(dir)? {
                files.push(DatasetFile {
                    path,
                    spec: spec.clone(),
                });
            }
        } else {
            let path = dir.join(spec.file);
            if path.is_file() {
                files.push(DatasetFile { path, spec });
            }
        }
    }
    Ok(files)
}

// ---------------------------------------------------------------------------
// Checking rows
// ---------------------------------------------------------------------------

/// A checked value ready for the database.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

fn as_text<'a>(bytes: &'a [u8], column: &FileColumn) -> Result<&'a str, String> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| format!("{}: not valid UTF-8", column.name))?;
    if text.contains('\0') {
        return Err(format!("{}: contains a NUL character", column.name));
    }
    Ok(text)
}

fn parse_number(text: &str, column: &FileColumn) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{}: {text:?} is not a number", column.name))
}

/// Checks and converts one field.
pub fn convert(field: Option<&[u8]>, column: &FileColumn) -> Result<Value, String> {
    let Some(bytes) = field else {
        return if column.required {
            Err(format!("{}: missing value", column.name))
        } else {
            Ok(Value::Null)
        };
    };
    let text = as_text(bytes, column)?;
    match column.ty {
        FieldType::Integer => text
            .trim()
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| format!("{}: {text:?} is not an integer", column.name)),
        FieldType::RoundedInteger => {
            let value = parse_number(text, column)?.round();
            if value.abs() > 9.0e15 {
                return Err(format!("{}: {text:?} is out of range", column.name));
            }
            Ok(Value::Int(value as i64))
        }
        FieldType::Rating => {
            let value = parse_number(text, column)?.round();
            if !(0.0..=5.0).contains(&value) {
                return Err(format!(
                    "{}: {text:?} is not a rating of 0 to 5",
                    column.name
                ));
            }
            Ok(Value::Int(value as i64))
        }
        FieldType::Float => parse_number(text, column).map(Value::Float),
        FieldType::Text(max) => {
            if let Some(max) = max
                && text.chars().count() > max
            {
                return Err(format!("{}: longer than {max} characters", column.name));
            }
            Ok(Value::Text(text.to_string()))
        }
        FieldType::Uuid => uuid::Uuid::try_parse(text.trim())
            .map(|u| Value::Text(u.hyphenated().to_string()))
            .map_err(|_| format!("{}: {text:?} is not a UUID", column.name)),
        FieldType::Email => {
            let email = recofinement_domain::validate::normalise_email(text);
            if email.chars().count() > 255 {
                return Err(format!("{}: longer than 255 characters", column.name));
            }
            Ok(Value::Text(email))
        }
        FieldType::ContentType => ContentKind::parse(text.trim())
            .map(|k| Value::Text(k.label().to_string()))
            .ok_or_else(|| format!("{}: {text:?} is not a content type", column.name)),
    }
}

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

impl Db {
    /// Imports every file of §13.2 found in `dir`, in the spec's order, and
    /// stops at the first failing file (earlier files stay loaded).
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
        for file in &files {
            reports.push(self.import_file(file, observer).await?);
        }
        self.announce(crate::changes::ListChange::Catalogue).await;
        // Fresh statistics, so the planner uses the indexes on what it just
        // loaded (PostgreSQL otherwise guesses from an empty table).
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
            sqlx::query(analyze).execute(pool).await.map_err(|e| DatasetError::Store {
                file: "ANALYZE".into(),
                source: e.into(),
            })?;
        });
        Ok(reports)
    }

    /// Loads one file in one transaction: on any error the database is left
    /// as it was before the file.
    pub async fn import_file(
        &self,
        file: &DatasetFile,
        observer: &mut dyn ImportObserver,
    ) -> Result<FileReport, DatasetError> {
        let name = file.name();
        let size = std::fs::metadata(&file.path)
            .map(|m| m.len())
            .unwrap_or_default();
        observer.file_started(&name, size);
        let started = Instant::now();
        let result = match self {
            Db::Postgres(pool) => self.load_postgres(pool, file, &name, observer).await,
            Db::Sqlite(pool) => self.load_sqlite(pool, file, &name, observer).await,
        };
        match result {
            Ok((rows_read, rows_inserted)) => {
                let report = FileReport {
                    file: name,
                    table: file.spec.table,
                    rows_read,
                    rows_inserted,
                    bytes: size,
                    elapsed: started.elapsed(),
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

    async fn load_postgres(
        &self,
        pool: &sqlx::PgPool,
        file: &DatasetFile,
        name: &str,
        observer: &mut dyn ImportObserver,
    ) -> Result<(u64, u64), DatasetError> {
        let spec = &file.spec;
        let columns = column_list(spec);
        let store_error = |source: StoreError| DatasetError::Store {
            file: name.to_string(),
            source,
        };
        let mut tx = pool.begin_write().await.map_err(store_error)?;
        let stage_sql = format!(
            "CREATE TEMP TABLE import_stage ON COMMIT DROP AS SELECT {columns} FROM {} WITH NO DATA",
            spec.table
        );
        sqlx::query(sqlx::AssertSqlSafe(stage_sql))
            .execute(&mut *tx)
            .await
            .map_err(|e| store_error(e.into()))?;
        // A large file into a table that is not much larger: its foreign keys
        // and secondary indexes are dropped for the load and re-created with
        // their own names and definitions before commit (one transaction, so
        // nobody sees the table without them). Checking and indexing in bulk
        // is several times faster than row by row; a missing parent row fails
        // the file as before.
        let size = std::fs::metadata(&file.path)
            .map(|m| m.len())
            .unwrap_or_default();
        let mut restore = Vec::new();
        if size >= BULK_BYTES {
            let (rows,): (f64,) =
                sqlx::query_as("SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = $1::text::regclass")
                    .bind(spec.table)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| store_error(e.into()))?;
            if rows <= (size / 2) as f64 {
                let objects: Vec<(String, String)> = sqlx::query_as(BULK_OBJECTS_SQL)
                    .bind(spec.table)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| store_error(e.into()))?;
                tracing::debug!(
                    table = spec.table,
                    objects = objects.len(),
                    "bulk load: foreign keys and indexes re-created after the file"
                );
                for (create, drop) in objects {
                    sqlx::query(sqlx::AssertSqlSafe(drop))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| store_error(e.into()))?;
                    restore.push(create);
                }
            }
        }
        let copy_sql = format!("COPY import_stage ({columns}) FROM STDIN");
        let insert_sql = format!(
            "INSERT INTO {} ({columns}) SELECT {columns} FROM import_stage ON CONFLICT DO NOTHING",
            spec.table
        );
        let (mut receiver, reader) = Self::spawn_reader(file, name, true);
        let (mut read, mut inserted) = (0u64, 0u64);
        while let Some(batch) = receiver.recv().await {
            let batch = batch?;
            let db_error = |source: sqlx::Error| DatasetError::Database {
                file: name.to_string(),
                first_line: batch.first_line,
                last_line: batch.last_line,
                source: source.into(),
            };
            let Payload::Copy(data) = &batch.payload else {
                unreachable!("PostgreSQL batches are COPY text")
            };
            let mut copy = tx.copy_in_raw(&copy_sql).await.map_err(db_error)?;
            copy.send(data.as_slice()).await.map_err(db_error)?;
            copy.finish().await.map_err(db_error)?;
            inserted += sqlx::query(sqlx::AssertSqlSafe(insert_sql.as_str()))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
            sqlx::query("TRUNCATE import_stage")
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            read += batch.rows as u64;
            observer.progress(batch.bytes_read);
        }
        let _ = reader.await;
        for create in restore {
            sqlx::query(sqlx::AssertSqlSafe(create))
                .execute(&mut *tx)
                .await
                .map_err(|e| DatasetError::Database {
                    file: name.to_string(),
                    first_line: 2,
                    last_line: read + 1,
                    source: e.into(),
                })?;
        }
        if let Some(label) = spec.content_type {
            sqlx::query(sqlx::AssertSqlSafe(mark_content_type_sql(spec.table)))
                .bind(label)
                .execute(&mut *tx)
                .await
                .map_err(|e| store_error(e.into()))?;
        }
        if let Some(serial) = spec.serial {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{serial}'), COALESCE(max({serial}), 0) + 1, false) FROM {table}",
                table = spec.table
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .map_err(|e| store_error(e.into()))?;
        }
        tx.commit().await.map_err(|e| store_error(e.into()))?;
        Ok((read, inserted))
    }

    async fn load_sqlite(
        &self,
        pool: &sqlx::SqlitePool,
        file: &DatasetFile,
        name: &str,
        observer: &mut dyn ImportObserver,
    ) -> Result<(u64, u64), DatasetError> {
        let spec = &file.spec;
        let width = spec.columns.len();
        let per_statement = (SQLITE_MAX_PARAMS / width).min(SQLITE_ROWS_PER_STATEMENT);
        let full_sql = insert_values_sql(spec, per_statement);
        let store_error = |source: StoreError| DatasetError::Store {
            file: name.to_string(),
            source,
        };
        let mut tx = pool.begin_write().await.map_err(store_error)?;
        let (mut receiver, reader) = Self::spawn_reader(file, name, false);
        let (mut read, mut inserted) = (0u64, 0u64);
        while let Some(batch) = receiver.recv().await {
            let batch = batch?;
            let Payload::Values(values) = batch.payload else {
                unreachable!("SQLite batches are values")
            };
            let db_error = |source: sqlx::Error| DatasetError::Database {
                file: name.to_string(),
                first_line: batch.first_line,
                last_line: batch.last_line,
                source: source.into(),
            };
            let mut values = values.into_iter();
            let mut left = batch.rows;
            while left > 0 {
                let rows = left.min(per_statement);
                let partial_sql;
                let sql = if rows == per_statement {
                    full_sql.as_str()
                } else {
                    partial_sql = insert_values_sql(spec, rows);
                    partial_sql.as_str()
                };
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for value in values.by_ref().take(rows * width) {
                    query = match value {
                        Value::Null => query.bind(None::<i64>),
                        Value::Int(v) => query.bind(v),
                        Value::Float(v) => query.bind(v),
                        Value::Text(v) => query.bind(v),
                    };
                }
                inserted += query
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .rows_affected();
                left -= rows;
            }
            read += batch.rows as u64;
            observer.progress(batch.bytes_read);
        }
        let _ = reader.await;
        if let Some(label) = spec.content_type {
            sqlx::query(sqlx::AssertSqlSafe(mark_content_type_sql(spec.table)))
                .bind(label)
                .execute(&mut *tx)
                .await
                .map_err(|e| store_error(e.into()))?;
        }
        tx.commit().await.map_err(|e| store_error(e.into()))?;
        Ok((read, inserted))
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

    fn records(text: &str) -> Vec<Vec<Option<String>>> {
        let mut reader = CsvReader::new(text.as_bytes());
        let mut out = Vec::new();
        while reader.next_record().unwrap().is_some() {
            out.push(
                (0..reader.len())
                    .map(|i| {
                        reader
                            .field(i)
                            .map(|b| String::from_utf8(b.to_vec()).unwrap())
                    })
                    .collect(),
            );
        }
        out
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn quoted_fields_hold_commas_newlines_and_quotes() {
        let rows = records("a,b,c\n1,\"x, y\",\"line1\nline2\"\n2,\"say \"\"hi\"\"\",z\n");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1], vec![s("1"), s("x, y"), s("line1\nline2")]);
        assert_eq!(rows[2], vec![s("2"), s("say \"hi\""), s("z")]);
    }

    #[test]
    fn empty_unquoted_is_null_and_empty_quoted_is_empty_text() {
        let rows = records("1,,\"\",x\n,\"\",,\n");
        assert_eq!(rows[0], vec![s("1"), None, s(""), s("x")]);
        assert_eq!(rows[1], vec![None, s(""), None, None]);
    }

    #[test]
    fn crlf_lines_blank_lines_and_missing_final_newline() {
        let rows = records("a,b\r\n1,2\r\n\r\n3,\"4\r\n5\"\r\n6,7");
        assert_eq!(
            rows,
            vec![
                vec![s("a"), s("b")],
                vec![s("1"), s("2")],
                vec![s("3"), s("4\r\n5")],
                vec![s("6"), s("7")],
            ]
        );
    }

    #[test]
    fn line_numbers_count_physical_lines() {
        let mut reader = CsvReader::new("h\n\"a\nb\"\nc\n".as_bytes());
        assert_eq!(reader.next_record().unwrap(), Some(1));
        assert_eq!(reader.next_record().unwrap(), Some(2));
        assert_eq!(reader.next_record().unwrap(), Some(4));
        assert_eq!(reader.next_record().unwrap(), None);
    }

    #[test]
    fn an_unterminated_quote_is_malformed_at_its_line() {
        let mut reader = CsvReader::new("h\nok\n\"open,\nmore\n".as_bytes());
        reader.next_record().unwrap();
        reader.next_record().unwrap();
        match reader.next_record() {
            Err(CsvError::Malformed { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn values_are_checked_and_normalised() {
        let c = |ty, required| FileColumn {
            name: "c",
            ty,
            required,
        };
        assert_eq!(
            convert(Some(b"4.0"), &c(FieldType::Rating, false)),
            Ok(Value::Int(4))
        );
        assert_eq!(
            convert(Some(b"4.5"), &c(FieldType::Rating, false)),
            Ok(Value::Int(5))
        );
        assert!(convert(Some(b"6"), &c(FieldType::Rating, false)).is_err());
        assert!(convert(Some(b"-1"), &c(FieldType::Rating, false)).is_err());
        assert_eq!(convert(None, &c(FieldType::Rating, false)), Ok(Value::Null));
        assert!(convert(None, &c(FieldType::Integer, true)).is_err());
        assert!(convert(Some(b"12a"), &c(FieldType::Integer, true)).is_err());
        assert_eq!(
            convert(
                Some(b"6F9619FF-8B86-D011-B42D-00C04FC964FF"),
                &c(FieldType::Uuid, true)
            ),
            Ok(Value::Text("6f9619ff-8b86-d011-b42d-00c04fc964ff".into()))
        );
        assert!(convert(Some(b"not-a-uuid"), &c(FieldType::Uuid, true)).is_err());
        assert_eq!(
            convert(Some(b" Some@Example.COM "), &c(FieldType::Email, false)),
            Ok(Value::Text("some@example.com".into()))
        );
        assert_eq!(convert(None, &c(FieldType::Email, false)), Ok(Value::Null));
        assert_eq!(
            convert(Some(b"movie"), &c(FieldType::ContentType, false)),
            Ok(Value::Text("MOVIE".into()))
        );
        assert!(convert(Some(b"xyz"), &c(FieldType::Text(Some(2)), false)).is_err());
        assert_eq!(
            convert(Some(b""), &c(FieldType::Text(Some(2)), false)),
            Ok(Value::Text(String::new()))
        );
    }

    #[test]
    fn copy_text_escapes_specials() {
        let mut out = Vec::new();
        encode_copy(&mut out, &Value::Text("a\tb\\c\nd".into()));
        out.push(b'\t');
        encode_copy(&mut out, &Value::Null);
        assert_eq!(out, b"a\\tb\\\\c\\nd\t\\N");
    }

    #[test]
    fn files_follow_the_spec_order() {
        let files: Vec<_> = file_specs().iter().map(|f| f.file).collect();
        assert_eq!(files[0], "genres.csv");
        assert_eq!(files[2], "application.csv");
        assert_eq!(files[8], "episode.csv");
        assert_eq!(files[11], INTERACTIONS_PREFIX);
        assert_eq!(files.len(), 15);
        let movie = &file_specs()[5];
        assert_eq!(movie.columns.len(), 12);
        assert_eq!(movie.columns[11].name, "plot_outline");
    }
}
