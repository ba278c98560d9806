//! Kernel benchmarks (spec §11.3). Default sizes are a fifth of the
//! reference shape so `cargo bench` stays short on a shared 2-core machine;
//! `ENGINE_BENCH_FULL=1` runs the reference shape (100k users × 20k items ×
//! 1.84 M interactions, 20k documents).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use recofinement_engine::als::{AlsModel, AlsParams};
use recofinement_engine::evaluate::{GenParams, Scale, generate};
use recofinement_engine::from_profile::{self, ProfileParams};
use recofinement_engine::from_similar_content::{self, SimilarContentParams};
use recofinement_engine::links::{self, LinkParams};
use recofinement_engine::similarity::{InvertedIndex, SimilarityParams, top_k_cosine};
use recofinement_engine::{Dataset, Interaction, benchdata, text};
use std::hint::black_box;

fn divisor() -> usize {
    if std::env::var_os("ENGINE_BENCH_FULL").is_some() {
        1
    } else {
        5
    }
}

fn als_sweep(c: &mut Criterion) {
    let d = divisor();
    let m = benchdata::interactions(
        1,
        benchdata::FULL_USERS / d,
        benchdata::FULL_ITEMS / d,
        benchdata::FULL_NNZ / d,
    );
    let ct = m.transpose();
    let params = AlsParams {
        factors: 64,
        ..AlsParams::default()
    };
    let mut model = AlsModel::init(m.n_rows, m.n_cols, 64, 1);
    model.iterate(&m, &ct, &params);
    let mut g = c.benchmark_group("als");
    g.sample_size(10);
    g.throughput(Throughput::Elements(m.nnz() as u64));
    g.bench_function(
        format!("iteration_64f_{}x{}_{}nnz", m.n_rows, m.n_cols, m.nnz()),
        |b| b.iter(|| model.iterate(black_box(&m), &ct, &params)),
    );
    g.finish();
}

fn tfidf(c: &mut Criterion) {
    let docs = benchdata::corpus(2, benchdata::FULL_DOCS / divisor());
    let refs: Vec<&String> = docs.iter().collect();
    let bytes: usize = docs.iter().map(String::len).sum();
    let mut g = c.benchmark_group("tfidf");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function(format!("fit_transform_{}docs", docs.len()), |b| {
        b.iter(|| text::fit_transform(black_box(&refs)))
    });
    g.finish();

    let (_, m) = text::fit_transform(&refs);
    let index = InvertedIndex::new(&m);
    let top10 = SimilarityParams {
        k: 10,
        min_similarity: 0.0,
    };
    let mut g = c.benchmark_group("neighbours");
    g.sample_size(10);
    g.throughput(Throughput::Elements(m.n_rows() as u64));
    g.bench_function(format!("top10_cosine_{}items", m.n_rows()), |b| {
        b.iter(|| top_k_cosine(black_box(&m), &index, None, &top10))
    });
    g.finish();
}

fn profile(c: &mut Criterion) {
    let p = GenParams {
        users: 2_000,
        items_per_kind: 2_000,
        ..GenParams::for_scale(Scale::S)
    };
    let planted = generate(3, &p);
    let inter: Vec<Interaction> = planted.events.iter().map(|e| e.interaction).collect();
    let ds = Dataset::new(planted.items, &inter, &planted.interests, &[]);
    let mut g = c.benchmark_group("from_profile");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ds.matrix.n_users() as u64));
    g.bench_function(
        format!("users_{}x{}items", ds.matrix.n_users(), ds.items.len()),
        |b| b.iter(|| from_profile::for_users(black_box(&ds), None, &ProfileParams::default())),
    );
    g.finish();
}

/// The two content engines that dominated a full run, on 2,000 subjects
/// and 40,002 items (6 kinds, 1-3 genres from 20 per kind, about 120
/// interactions per user, 10 neighbours per item): big enough that per-item
/// work per subject shows.
fn user_engines(c: &mut Criterion) {
    let p = GenParams {
        users: 2_000,
        items_per_kind: 6_667,
        mean_activity: 120,
        ..GenParams::for_scale(Scale::S)
    };
    let planted = generate(4, &p);
    let inter: Vec<Interaction> = planted.events.iter().map(|e| e.interaction).collect();
    let ds = Dataset::new(planted.items, &inter, &planted.interests, &[]);
    let nb = benchdata::neighbours(5, &ds, 10);
    let shape = format!("{}x{}items", ds.matrix.n_users(), ds.items.len());
    let mut g = c.benchmark_group("user_engines");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ds.matrix.n_users() as u64));
    g.bench_function(format!("from_profile_{shape}"), |b| {
        b.iter(|| from_profile::for_users(black_box(&ds), None, &ProfileParams::default()))
    });
    let params = SimilarContentParams::default();
    g.bench_function(format!("from_similar_content_{shape}"), |b| {
        b.iter(|| from_similar_content::for_users(black_box(&ds), &nb, None, &params))
    });
    // Collaborative filtering's ranking step alone (every item of every
    // kind scored per subject), on factors of the default size.
    let model = AlsModel::init(
        ds.matrix.n_users(),
        ds.items.len(),
        AlsParams::default().factors,
        6,
    );
    g.bench_function(format!("collaborative_filtering_ranking_{shape}"), |b| {
        b.iter(|| model.recommend(black_box(&ds), None, AlsParams::default().n))
    });
    g.finish();
    // Links scan the whole catalogue's trigram sums per source item.
    let mut g = c.benchmark_group("links");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ds.items.len() as u64));
    g.bench_function(format!("link_items_{}items", ds.items.len()), |b| {
        b.iter(|| links::link_items(black_box(&ds.items), &LinkParams::default()))
    });
    g.finish();
}

criterion_group!(benches, als_sweep, tfidf, profile, user_engines);
criterion_main!(benches);
