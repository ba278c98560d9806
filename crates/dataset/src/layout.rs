//! Where the files of a dataset sit in its directory.

use std::io;
use std::path::{Path, PathBuf};

use crate::schema::{FileSpec, INTERACTIONS_PREFIX, file_specs};

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

/// The name of interaction file `n` (1-based): `meta_user_content_n.csv`.
pub fn interaction_file_name(n: usize) -> String {
    format!("{INTERACTIONS_PREFIX}_{n}.csv")
}

/// Interaction files in `dir` other than `meta_user_content_1.csv`, the one
/// an export writes: `import` would load them beside it.
pub fn other_interaction_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let written = interaction_file_name(1);
    Ok(interaction_files(dir)?
        .into_iter()
        .filter(|path| path.file_name().is_none_or(|name| name != written.as_str()))
        .collect())
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
        if spec.is_interactions() {
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
