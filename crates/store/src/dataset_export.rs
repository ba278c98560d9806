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
use recofinement_dataset::{CsvWriter, FieldType, FileSpec, file_specs, interaction_file_name};

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

/// Writes one row (read through `_pool`) to `out`.
fn write_row<C: Conn, W: io::Write>(
    _pool: C,
    out: &mut CsvWriter<W>,
    row: &<C::Backend as sqlx::Database>::Row,
    reads: &[Read],
) -> Result<(), sqlx::Error> {
    for (i, read) in reads.iter().enumerate() {
        out.field(field_text::<C::Backend>(row, i, read)?.as_deref());
    }
    out.end();
    Ok(())
}

impl Db {
    /// Writes every file of the layout into `dir` (created if missing);
    /// existing files of the same names are replaced.
    pub async fn export_dataset(&self, dir: &Path) -> Result<Vec<ExportedFile>, ExportError> {
        std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
            file: dir.display().to_string(),
            source,
        })?;
        let mut written = Vec::new();
        for spec in file_specs() {
            let name = file_name(&spec);
            let rows =
                self.export_file(&spec, &dir.join(&name))
                    .await
                    .map_err(|error| match error {
                        FileError::Io(source) => ExportError::Io {
                            file: name.clone(),
                            source,
                        },
                        FileError::Store(source) => ExportError::Store {
                            file: name.clone(),
                            source,
                        },
                    })?;
            written.push(ExportedFile { file: name, rows });
        }
        Ok(written)
    }

    /// Streams one table into `path` (through a temporary file, so a failed
    /// export never leaves half a file under the real name).
    async fn export_file(&self, spec: &FileSpec, path: &Path) -> Result<u64, FileError> {
        let partial = PathBuf::from(format!("{}.partial", path.display()));
        let file = io::BufWriter::new(std::fs::File::create(&partial)?);
        let mut out = CsvWriter::new(file, spec)?;
        let reads: Vec<Read> = spec.columns.iter().map(|c| read_as(c.ty)).collect();
        let sql = select_sql(spec);
        on_db!(self, pool => {
            let mut stream = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).fetch(pool);
            while let Some(row) = stream.try_next().await.map_err(StoreError::from)? {
                write_row(pool, &mut out, &row, &reads).map_err(StoreError::from)?;
            }
        });
        let rows = out.finish()?;
        std::fs::rename(&partial, path)?;
        Ok(rows)
    }
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
