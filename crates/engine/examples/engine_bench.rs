//! Times the kernels on the files written by `bench_data` and prints JSON:
//! `cargo run --release --example engine_bench -- DIR [iterations]`.
//! Median of several runs; wall-clock with the machine's default rayon pool.
//! A third argument `als` or `text` runs only that part (for profiling).

use recofinement_engine::als::{AlsModel, AlsParams, ConfidenceMatrix};
use recofinement_engine::similarity::{InvertedIndex, SimilarityParams, top_k_cosine};
use recofinement_engine::text;
use std::path::PathBuf;
use std::time::Instant;

fn read4(path: &PathBuf) -> Vec<[u8; 4]> {
    let b = std::fs::read(path).expect("read");
    b.chunks_exact(4)
        .map(|c| c.try_into().expect("4 bytes"))
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "bench-data".to_owned()),
    );
    let iters: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let only = args.get(2).map(String::as_str);
    let users: Vec<u32> = read4(&dir.join("users.u32"))
        .into_iter()
        .map(u32::from_le_bytes)
        .collect();
    let items: Vec<u32> = read4(&dir.join("items.u32"))
        .into_iter()
        .map(u32::from_le_bytes)
        .collect();
    let values: Vec<f32> = read4(&dir.join("values.f32"))
        .into_iter()
        .map(f32::from_le_bytes)
        .collect();
    let n_users = *users.iter().max().expect("data") as usize + 1;
    let n_items = *items.iter().max().expect("data") as usize + 1;
    let t: Vec<(u32, u32, f32)> = users
        .iter()
        .zip(&items)
        .zip(&values)
        .map(|((&u, &i), &v)| (u, i, v))
        .collect();
    let m = ConfidenceMatrix::from_triplets(n_users, n_items, &t);
    let ct = m.transpose();
    let params = AlsParams {
        factors: 64,
        ..AlsParams::default()
    };
    let mut model = AlsModel::init(n_users, n_items, 64, 1);
    let mut als = Vec::new();
    for _ in 0..if only == Some("text") { 1 } else { iters } {
        let s = Instant::now();
        model.iterate(&m, &ct, &params);
        als.push(s.elapsed().as_secs_f64());
    }
    let corpus = std::fs::read_to_string(dir.join("corpus.txt")).expect("corpus");
    let docs: Vec<&str> = corpus.lines().collect();
    let bytes: usize = docs.iter().map(|d| d.len()).sum();
    let mut tfidf = Vec::new();
    let mut knn = Vec::new();
    let text_runs = if only == Some("als") {
        0
    } else {
        iters.clamp(3, 5)
    };
    for _ in 0..text_runs {
        let s = Instant::now();
        let (_, rows) = text::fit_transform::<str>(&docs);
        tfidf.push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        let index = InvertedIndex::new(&rows);
        let top10 = SimilarityParams {
            k: 10,
            min_similarity: 0.0,
        };
        let lists = top_k_cosine(&rows, &index, None, &top10);
        knn.push(s.elapsed().as_secs_f64());
        assert_eq!(lists.len(), docs.len());
    }
    let (a, tf, kn) = (median(als), median(tfidf), median(knn));
    println!(
        "{{\"threads\": {}, \"users\": {n_users}, \"items\": {n_items}, \"nnz\": {}, \"als_s_per_iter\": {a:.4}, \"tfidf_s\": {tf:.4}, \"tfidf_mb_per_s\": {:.1}, \"docs\": {}, \"corpus_mb\": {:.2}, \"knn_s\": {kn:.4}, \"knn_items_per_s\": {:.0}}}",
        rayon::current_num_threads(),
        m.nnz(),
        bytes as f64 / 1e6 / tf,
        docs.len(),
        bytes as f64 / 1e6,
        docs.len() as f64 / kn
    );
}
