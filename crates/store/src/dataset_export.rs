//! Dataset export: the catalogue, the accounts and the interactions written
//! in the layout `import` reads (spec data-model §13.2), file by file, with
//! the same column lists ([`crate::dataset::file_specs`]), so that an export
//! imported into an empty database gives the same answers.
//!
//! Values are written by the dataset format's writer, in the CSV rules the
//! importer reads: NULL is an empty unquoted field, an empty text is `""`.

use std::io;
use std::path::{Path, PathBuf};

use crate::{Db, StoreError, on_db};
use futures::TryStreamExt;
use recofinement_dataset::{
    CsvWriter, FieldType, FileSpec, file_specs, interaction_file_name, other_interaction_files,
};

use crate::backend::{Backend, Conn};

/// What exporting one file wrote.
#[derive(Clone, Debug)]
pub struct ExportedFile {
    pub file: String,
    pub rows: u64,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("{file}: {source}")]
    Store {
        file: String,
        #[source]
        source: StoreError,
    },
}

/// The file an export writes for `spec` (interactions in one numbered file).
fn file_name(spec: &FileSpec) -> String {
    if spec.is_interactions() {
        interaction_file_name(1)
    } else {
        spec.file.to_string()
    }
}

/// How a column is read back: every value as the type its file holds.
enum Read {
    Integer,
    Float,
    Text,
}

fn read_as(ty: FieldType) -> Read {
    match ty {
        FieldType::Integer | FieldType::RoundedInteger | FieldType::Rating => Read::Integer,
        FieldType::Float => Read::Float,
        FieldType::Text(_) | FieldType::Uuid | FieldType::Email | FieldType::ContentType => {
            Read::Text
        }
    }
}

/// `SELECT` of a file's columns, cast so both databases answer one type per
/// column, in the order of its required integer (id) columns.
fn select_sql(spec: &FileSpec) -> String {
    let columns: Vec<String> = spec
        .columns
        .iter()
        .map(|c| match read_as(c.ty) {
            Read::Integer => format!("CAST({0} AS BIGINT) AS {0}", c.name),
            Read::Float => format!("CAST({0} AS DOUBLE PRECISION) AS {0}", c.name),
            Read::Text => format!("CAST({0} AS TEXT) AS {0}", c.name),
        })
        .collect();
    let keys: Vec<&str> = spec
        .columns
        .iter()
        .filter(|c| c.ty == FieldType::Integer && c.required)
        .map(|c| c.name)
        .collect();
    let order = if keys.is_empty() {
        spec.columns[0].name.to_string()
    } else {
        keys.join(", ")
    };
    format!(
        "SELECT {} FROM {} ORDER BY {order}",
        columns.join(", "),
        spec.table
    )
}

/// Renders column `i` of a row as its CSV text (`None`: NULL).
fn field_text<DB: Backend>(
    row: &DB::Row,
    i: usize,
    read: &Read,
) -> Result<Option<String>, sqlx::Error> {
    Ok(match read {
        Read::Integer => DB::get::<Option<i64>>(row, i)?.map(|v| v.to_string()),
        Read::Float => DB::get::<Option<f64>>(row, i)?.map(|v| v.to_string()),
        Read::Text => DB::get::<Option<String>>(row, i)?,
    })
}

/// Writes one row to `out`.
fn write_row<R, W: io::Write>(
    out: &mut CsvWriter<W>,
    row: &R,
    reads: &[Read],
) -> Result<(), sqlx::Error>
where
    R: sqlx::Row,
    R::Database: Backend<Row = R>,
{
    for (i, read) in reads.iter().enumerate() {
        out.field(field_text::<R::Database>(row, i, read)?.as_deref());
    }
    out.end();
    Ok(())
}

impl Db {
    /// Writes every file of the layout into `dir` (created if missing);
    /// existing files of the same names are replaced. Every file is read in
    /// one read-only transaction, one snapshot: an export taken while the
    /// server writes is consistent (no interaction of a user or an item
    /// that a file written earlier lacks), so it imports whole.
    pub async fn export_dataset(&self, dir: &Path) -> Result<Vec<ExportedFile>, ExportError> {
        self.export_dataset_between(dir, |_| Box::pin(async {}))
            .await
    }

    /// [`Db::export_dataset`], calling `between` with each file's name once
    /// it is written (tests write meanwhile).
    pub async fn export_dataset_between(
        &self,
        dir: &Path,
        mut between: impl FnMut(&str) -> futures::future::BoxFuture<'static, ()>,
    ) -> Result<Vec<ExportedFile>, ExportError> {
        let in_dir = |source| ExportError::Io {
            file: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(in_dir)?;
        // Import reads every interaction file of a directory.
        let others = other_interaction_files(dir).map_err(in_dir)?;
        if let Some(other) = others.first() {
            return Err(ExportError::Io {
                file: other.display().to_string(),
                source: io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "an interaction file this export would not replace, which import would load too: \
                     export into an empty directory",
                ),
            });
        }
        // SQLite's read transaction keeps the snapshot of its first read.
        let snapshot = match self {
            Db::Sqlite(_) => None,
            Db::Postgres(_) => Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
        };
        let begun = |source: sqlx::Error| ExportError::Store {
            file: dir.display().to_string(),
            source: source.into(),
        };
        on_db!(self, pool => {
            let mut tx = pool.begin().await.map_err(begun)?;
            if let Some(sql) = snapshot {
                sqlx::query(sql).execute(&mut *tx).await.map_err(begun)?;
            }
            let mut written = Vec::new();
            for spec in file_specs() {
                let name = file_name(&spec);
                let rows = export_file(&mut *tx, &spec, &dir.join(&name))
                    .await
                    .map_err(|error| error.of_file(&name))?;
                between(&name).await;
                written.push(ExportedFile { file: name, rows });
            }
            tx.rollback().await.map_err(begun)?;
            Ok(written)
        })
    }
}

/// Streams one table into `path` (through a temporary file, so a failed
/// export never leaves half a file under the real name).
async fn export_file<C: Conn>(mut conn: C, spec: &FileSpec, path: &Path) -> Result<u64, FileError> {
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    let file = io::BufWriter::new(std::fs::File::create(&partial)?);
    let mut out = CsvWriter::new(file, spec)?;
    let reads: Vec<Read> = spec.columns.iter().map(|c| read_as(c.ty)).collect();
    let sql = select_sql(spec);
    let mut stream = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).fetch(conn.executor());
    while let Some(row) = stream.try_next().await.map_err(StoreError::from)? {
        write_row(&mut out, &row, &reads).map_err(StoreError::from)?;
    }
    drop(stream);
    let rows = out.finish()?;
    std::fs::rename(&partial, path)?;
    Ok(rows)
}

enum FileError {
    Io(io::Error),
    Store(StoreError),
}

impl From<io::Error> for FileError {
    fn from(error: io::Error) -> Self {
        FileError::Io(error)
    }
}

impl From<StoreError> for FileError {
    fn from(error: StoreError) -> Self {
        FileError::Store(error)
    }
}

impl FileError {
    fn of_file(self, file: &str) -> ExportError {
        match self {
            FileError::Io(source) => ExportError::Io {
                file: file.to_string(),
                source,
            },
            FileError::Store(source) => ExportError::Store {
                file: file.to_string(),
                source,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_layout_is_written_once() {
        let names: Vec<String> = file_specs().iter().map(file_name).collect();
        assert_eq!(names.len(), 15);
        assert!(names.contains(&"meta_user_content_1.csv".to_string()));
        assert!(select_sql(&file_specs()[0]).ends_with("ORDER BY genre_id"));
    }
}
