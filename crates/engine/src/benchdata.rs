//! Seeded data in the shapes the benchmarks use, shared by the criterion
//! benches and by `examples/bench_data.rs`, which writes it to files so that
//! `bench/engine_compare.py` feeds the very same data to Python `implicit`
//! and scikit-learn.

use crate::Dataset;
use crate::als::ConfidenceMatrix;
use crate::similarity::Neighbours;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The reference shape: 100,000 users × 20,000 items, 1.84 M interactions.
pub const FULL_USERS: usize = 100_000;
pub const FULL_ITEMS: usize = 20_000;
pub const FULL_NNZ: usize = 1_840_000;
/// Documents of the reference text corpus (one per item).
pub const FULL_DOCS: usize = 20_000;

/// Draws an index in `0..n` with a Zipf-like law (exponent about 1) by
/// inverting the continuous CDF of `1/x`: cheap and heavy-tailed.
fn zipf(rng: &mut StdRng, n: usize) -> usize {
    let u: f64 = rng.random();
    (((n as f64 + 1.0).powf(u) - 1.0) as usize).min(n - 1)
}

/// A users × items confidence matrix with about `nnz` distinct entries
/// (item popularity Zipf-like, every user at least one item), values
/// `1 + 5·(1 + ln(1 + count))` like [`crate::als::confidence`] for unrated
/// views.
pub fn interactions(seed: u64, n_users: usize, n_items: usize, nnz: usize) -> ConfidenceMatrix {
    let mut rng = StdRng::seed_from_u64(seed);
    // Shuffle item ranks so popular items are spread over the id range.
    let mut perm: Vec<u32> = (0..n_items as u32).collect();
    for i in (1..n_items).rev() {
        perm.swap(i, rng.random_range(0..=i));
    }
    let per_user = nnz as f64 / n_users as f64;
    let mut t = Vec::with_capacity(nnz + n_users);
    let mut row: Vec<u32> = Vec::new();
    for u in 0..n_users {
        // Geometric-ish activity around the mean, at least 1.
        let e: f64 = rng.random::<f64>().max(1e-12);
        let k = ((-e.ln() * per_user).round() as usize).clamp(1, n_items / 2);
        row.clear();
        while row.len() < k {
            let i = perm[zipf(&mut rng, n_items)];
            if !row.contains(&i) {
                row.push(i);
            }
        }
        for &i in &row {
            let count = rng.random_range(0..20u32);
            t.push((u as u32, i, 1.0 + 5.0 * (1.0 + (1.0 + count as f32).ln())));
        }
    }
    ConfidenceMatrix::from_triplets(n_users, n_items, &t)
}

/// `n_docs` item soups of about 60 tokens: a title, people and companies
/// from a topic, and words from a Zipf-distributed vocabulary of 30,000
/// pseudo-words mixed with topic words. Roughly 450 bytes per document.
pub fn corpus(seed: u64, n_docs: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    const SYL: [&str; 20] = [
        "ka", "lo", "mi", "ra", "tu", "ve", "zo", "ni", "sa", "po", "de", "fu", "gi", "ha", "jo",
        "ke", "lu", "ma", "no", "pe",
    ];
    let word = |rng: &mut StdRng, s: usize| -> String {
        (0..s)
            .map(|_| SYL[rng.random_range(0..SYL.len())])
            .collect()
    };
    let vocab: Vec<String> = (0..30_000)
        .map(|_| {
            let s = 3 + rng.random_range(0..2);
            word(&mut rng, s)
        })
        .collect();
    let topics = 200;
    let topic_words: Vec<Vec<String>> = (0..topics)
        .map(|_| (0..50).map(|_| word(&mut rng, 4)).collect())
        .collect();
    let people: Vec<String> = (0..5_000)
        .map(|_| format!("{}_{}", word(&mut rng, 2), word(&mut rng, 3)))
        .collect();
    (0..n_docs)
        .map(|_| {
            let t = rng.random_range(0..topics);
            let mut d = String::with_capacity(512);
            for _ in 0..3 {
                d.push_str(&word(&mut rng, 3));
                d.push(' ');
            }
            for _ in 0..4 {
                d.push_str(&people[(t * 25 + rng.random_range(0..25)) % people.len()]);
                d.push(' ');
            }
            for _ in 0..50 {
                let w = if rng.random::<f64>() < 0.4 {
                    &topic_words[t][rng.random_range(0..50)]
                } else {
                    &vocab[zipf(&mut rng, vocab.len())]
                };
                d.push_str(w);
                d.push(' ');
            }
            d.push_str("the and of");
            d
        })
        .collect()
}

/// `k` same-kind neighbours per item, drawn uniformly with similarities in
/// 0.05..0.95 and sorted like [`Neighbours::from_pairs`]: the shape of the
/// stored top-k lists at a fraction of the cost of computing real ones.
pub fn neighbours(seed: u64, ds: &Dataset, k: usize) -> Neighbours {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut lists = vec![Vec::new(); ds.items.len()];
    for same_kind in &ds.kind_items {
        for &i in same_kind {
            let list: &mut Vec<(u32, f32)> = &mut lists[i as usize];
            for _ in 0..k.min(same_kind.len() - 1) {
                let j = same_kind[rng.random_range(0..same_kind.len())];
                if j != i && !list.iter().any(|e| e.0 == j) {
                    list.push((j, rng.random_range(0.05..0.95)));
                }
            }
            list.sort_unstable_by(crate::topk::order);
        }
    }
    Neighbours { lists }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_close_to_the_request_and_seeded() {
        let m = interactions(1, 1_000, 500, 18_400);
        assert_eq!((m.n_rows, m.n_cols), (1_000, 500));
        let nnz = m.nnz() as f64;
        assert!((nnz - 18_400.0).abs() / 18_400.0 < 0.1, "{nnz}");
        assert!((0..m.n_rows).all(|r| m.indptr[r + 1] > m.indptr[r]));
        assert_eq!(m, interactions(1, 1_000, 500, 18_400));
        let c = corpus(2, 50);
        assert_eq!(c.len(), 50);
        assert_eq!(c, corpus(2, 50));
    }
}
