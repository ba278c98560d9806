//! Writes the reference benchmark data to a directory so other tools can run
//! on exactly the same input: `cargo run --release --example bench_data -- DIR`.
//!
//! Files: `users.u32`, `items.u32` (little-endian u32 coordinates, row-major
//! by user), `values.f32` (confidences), `shape.json`, `corpus.txt` (one
//! document per line).

use recofinement_engine::benchdata;
use std::io::Write;
use std::path::PathBuf;

fn write_le<T: Copy>(path: &PathBuf, v: impl Iterator<Item = T>, to: fn(T) -> [u8; 4]) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    for x in v {
        w.write_all(&to(x)).expect("write");
    }
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "bench-data".to_owned()),
    );
    std::fs::create_dir_all(&dir).expect("mkdir");
    let m = benchdata::interactions(
        1,
        benchdata::FULL_USERS,
        benchdata::FULL_ITEMS,
        benchdata::FULL_NNZ,
    );
    let users =
        (0..m.n_rows).flat_map(|r| std::iter::repeat_n(r as u32, m.indptr[r + 1] - m.indptr[r]));
    write_le(&dir.join("users.u32"), users, u32::to_le_bytes);
    write_le(
        &dir.join("items.u32"),
        m.indices.iter().copied(),
        u32::to_le_bytes,
    );
    write_le(
        &dir.join("values.f32"),
        m.values.iter().copied(),
        f32::to_le_bytes,
    );
    std::fs::write(
        dir.join("shape.json"),
        format!(
            "{{\"users\": {}, \"items\": {}, \"nnz\": {}}}\n",
            m.n_rows,
            m.n_cols,
            m.nnz()
        ),
    )
    .expect("write shape");
    let docs = benchdata::corpus(2, benchdata::FULL_DOCS);
    std::fs::write(dir.join("corpus.txt"), docs.join("\n") + "\n").expect("write corpus");
    println!(
        "{} users × {} items, {} interactions; {} documents -> {}",
        m.n_rows,
        m.n_cols,
        m.nnz(),
        docs.len(),
        dir.display()
    );
}
