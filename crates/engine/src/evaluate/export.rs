//! `engine evaluate --export DIR`: the exact split an evaluation scores, as
//! CSV, so that another library can be trained and scored on the same data
//! (`bench/quality_compare.py`).
//!
//! Files (header line first, comma-separated, UTF-8):
//! * `items.csv`: `item,kind,genres`, one row per catalogue item in the
//!   evaluation's item order (ties of the popularity baseline go to the
//!   earlier row); `kind` is `movie`, `serie`, …; `genres` is `;`-separated.
//! * `train.csv`, `test.csv`: `user,item,rating,count`; `rating` is empty
//!   when the interaction is not rated.

use super::{GenParams, interactions, split};
use crate::{Interaction, Item};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Sizes of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    pub items: usize,
    pub train: usize,
    pub test: usize,
}

/// Generates the data of `seed` and `params`, splits it as [`super::run`]
/// does and writes it to `dir` (created if missing).
pub fn export(dir: &Path, seed: u64, params: &GenParams) -> io::Result<Exported> {
    let planted = super::generate(seed, params);
    let (train, test) = split(&planted.events);
    let (train, test) = (interactions(&train), interactions(&test));
    std::fs::create_dir_all(dir)?;
    write_items(&dir.join("items.csv"), &planted.items)?;
    write_interactions(&dir.join("train.csv"), &train)?;
    write_interactions(&dir.join("test.csv"), &test)?;
    Ok(Exported {
        items: planted.items.len(),
        train: train.len(),
        test: test.len(),
    })
}

fn write_items(path: &Path, items: &[Item]) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(out, "item,kind,genres")?;
    for item in items {
        let genres: Vec<String> = item.genres.iter().map(i64::to_string).collect();
        writeln!(
            out,
            "{},{},{}",
            item.id,
            item.kind.as_str(),
            genres.join(";")
        )?;
    }
    out.flush()
}

fn write_interactions(path: &Path, rows: &[Interaction]) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(out, "user,item,rating,count")?;
    for i in rows {
        let rating = i.rating.map(|r| r.to_string()).unwrap_or_default();
        writeln!(out, "{},{},{},{}", i.user, i.item, rating, i.count)?;
    }
    out.flush()
}
