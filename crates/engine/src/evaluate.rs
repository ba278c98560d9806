//! Offline evaluation on planted data (spec §11): generate, split each
//! user's events 80/20 in event order, train every engine on the first part
//! and score its top-10 lists against the held-out part.
//!
//! Lists are per (user, kind), as the API shows them; a (user, kind) pair is
//! evaluated when the user has at least one relevant held-out item of that
//! kind. Relevant = rated ≥ 4, or unrated with a positive counter.

mod generate;

pub use generate::{Event, GenParams, Planted, Scale, generate};

use crate::als::{self, AlsParams};
use crate::from_profile::{self, ProfileParams};
use crate::from_similar_content::{self, SimilarContentParams};
use crate::links::{self, LinkParams};
use crate::similarity::{self, Neighbours, SimilarityParams};
use crate::topk::top_k;
use crate::{ContentKind, Dataset, Interaction, Item, Recommendation, popularity};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Instant;

/// Length of evaluated lists.
pub const N: usize = 10;

/// Top-10 metrics of one engine, averaged over evaluated (user, kind) lists.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Metrics {
    #[serde(rename = "precision@10")]
    pub precision: f64,
    #[serde(rename = "recall@10")]
    pub recall: f64,
    #[serde(rename = "ndcg@10")]
    pub ndcg: f64,
    #[serde(rename = "hit_rate@10")]
    pub hit_rate: f64,
    /// Share of the catalogue recommended to at least one user.
    pub coverage: f64,
    /// Mean `ln(1 + training interactions)` of recommended items.
    pub popularity_bias: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct ContentSimilarityMetrics {
    /// Share of top-10 neighbours in the item's planted cluster.
    #[serde(rename = "cluster_precision@10")]
    pub cluster_precision: f64,
    /// Share of items with at least one neighbour.
    pub items_with_neighbours: f64,
    pub pairs: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct LinkMetrics {
    pub precision: f64,
    pub recall: f64,
    /// Planted unordered pairs.
    pub planted: usize,
    /// Unordered pairs found (either direction).
    pub found: usize,
}

/// Outcome of [`run`]. Serialises to
/// `{"engines": {...}, "content_similarity": {...}, "links": {...}, "timings": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Engine name (`FromProfile`, ..., `most_popular`, `random`) → metrics.
    pub engines: BTreeMap<String, Metrics>,
    pub content_similarity: ContentSimilarityMetrics,
    pub links: LinkMetrics,
    /// Wall-clock seconds per step.
    pub timings: BTreeMap<String, f64>,
    #[serde(skip)]
    pub summary: Summary,
}

/// Sizes of the evaluated data (shown by `Display`, not serialised).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub seed: u64,
    pub users: usize,
    pub items: usize,
    pub train: usize,
    pub test: usize,
    pub evaluated_lists: usize,
}

/// Per-user held-out truth.
struct Truth {
    /// (user row, kind) → relevant item indices.
    relevant: HashMap<(usize, ContentKind), HashSet<u32>>,
}

/// Splits events per user: the last 20 % (at least one when the user has
/// five or more) in event order form the test part.
pub fn split(events: &[Event]) -> (Vec<Interaction>, Vec<Interaction>) {
    let mut per_user: BTreeMap<i64, Vec<&Event>> = BTreeMap::new();
    for e in events {
        per_user.entry(e.interaction.user).or_default().push(e);
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (_, mut evs) in per_user {
        evs.sort_by_key(|e| e.id);
        let n_test = if evs.len() >= 5 {
            (evs.len() / 5).max(1)
        } else {
            0
        };
        let cut = evs.len() - n_test;
        train.extend(evs[..cut].iter().map(|e| e.interaction));
        test.extend(evs[cut..].iter().map(|e| e.interaction));
    }
    (train, test)
}

/// Catalogue `rating`/`rating_count` as the API would hold them after the
/// training interactions only (no leakage from the test part).
fn with_training_ratings(items: &[Item], train: &[Interaction]) -> Vec<Item> {
    let mut sums: HashMap<i64, (f64, i64)> = HashMap::new();
    for t in train {
        if let Some(r) = t.rating.filter(|r| *r > 0.0) {
            let e = sums.entry(t.item).or_default();
            e.0 += r as f64;
            e.1 += 1;
        }
    }
    items
        .iter()
        .map(|it| {
            let mut it = it.clone();
            if let Some(&(s, n)) = sums.get(&it.id) {
                it.rating = Some(s / n as f64);
                it.rating_count = n;
            }
            it
        })
        .collect()
}

fn is_relevant(i: &Interaction) -> bool {
    match i.rating {
        Some(r) if r > 0.0 => r >= 4.0,
        _ => i.count > 0,
    }
}

fn truth(ds: &Dataset, test: &[Interaction]) -> Truth {
    let mut relevant: HashMap<(usize, ContentKind), HashSet<u32>> = HashMap::new();
    for t in test.iter().filter(|t| is_relevant(t)) {
        if let (Some(u), Some(i)) = (
            ds.matrix.users.position(t.user),
            ds.item_index.position(t.item),
        ) {
            relevant
                .entry((u, ds.items[i].kind))
                .or_default()
                .insert(i as u32);
        }
    }
    Truth { relevant }
}

/// Scores per-(user, kind) lists (item indices, best first).
fn score_lists(
    ds: &Dataset,
    truth: &Truth,
    lists: &BTreeMap<(usize, ContentKind), Vec<u32>>,
    degree: &[u32],
) -> Metrics {
    let mut m = Metrics::default();
    let mut n = 0usize;
    let mut recommended: HashSet<u32> = HashSet::new();
    let (mut pop_sum, mut pop_n) = (0f64, 0usize);
    for list in lists.values() {
        for &i in list.iter().take(N) {
            recommended.insert(i);
            pop_sum += (1.0 + degree[i as usize] as f64).ln();
            pop_n += 1;
        }
    }
    let idcg = |k: usize| -> f64 { (0..k.min(N)).map(|r| 1.0 / ((r + 2) as f64).log2()).sum() };
    let mut keys: Vec<&(usize, ContentKind)> = truth.relevant.keys().collect();
    keys.sort();
    for key in keys {
        let rel = &truth.relevant[key];
        let empty = Vec::new();
        let list = lists.get(key).unwrap_or(&empty);
        let mut hits = 0usize;
        let mut dcg = 0.0;
        for (r, i) in list.iter().take(N).enumerate() {
            if rel.contains(i) {
                hits += 1;
                dcg += 1.0 / ((r + 2) as f64).log2();
            }
        }
        m.precision += hits as f64 / N as f64;
        m.recall += hits as f64 / rel.len() as f64;
        m.ndcg += dcg / idcg(rel.len());
        m.hit_rate += (hits > 0) as u8 as f64;
        n += 1;
    }
    if n > 0 {
        m.precision /= n as f64;
        m.recall /= n as f64;
        m.ndcg /= n as f64;
        m.hit_rate /= n as f64;
    }
    m.coverage = recommended.len() as f64 / ds.items.len().max(1) as f64;
    m.popularity_bias = if pop_n > 0 {
        pop_sum / pop_n as f64
    } else {
        0.0
    };
    m
}

fn lists_of(ds: &Dataset, recs: &[Recommendation]) -> BTreeMap<(usize, ContentKind), Vec<u32>> {
    let mut by: BTreeMap<(usize, ContentKind), Vec<(u32, f32)>> = BTreeMap::new();
    for r in recs {
        let (Some(u), Some(i)) = (
            ds.matrix.users.position(r.subject),
            ds.item_index.position(r.item),
        ) else {
            continue;
        };
        by.entry((u, r.kind))
            .or_default()
            .push((i as u32, r.score as f32));
    }
    by.into_iter()
        .map(|(k, mut v)| {
            top_k(&mut v, N);
            (k, v.into_iter().map(|e| e.0).collect())
        })
        .collect()
}

fn baseline_lists(
    ds: &Dataset,
    truth: &Truth,
    degree: &[u32],
    seed: u64,
) -> [BTreeMap<(usize, ContentKind), Vec<u32>>; 2] {
    let mut popular = BTreeMap::new();
    let mut random = BTreeMap::new();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut keys: Vec<&(usize, ContentKind)> = truth.relevant.keys().collect();
    keys.sort();
    let by_degree: Vec<Vec<u32>> = ContentKind::ALL
        .iter()
        .map(|k| {
            let mut v: Vec<(u32, f32)> = ds.kind_items[k.index()]
                .iter()
                .map(|&i| (i, degree[i as usize] as f32))
                .collect();
            top_k(&mut v, usize::MAX);
            v.into_iter().map(|e| e.0).collect()
        })
        .collect();
    for &&(u, kind) in &keys {
        let excluded = ds.excluded(u);
        let ok = |i: &&u32| excluded.binary_search(i).is_err();
        popular.insert(
            (u, kind),
            by_degree[kind.index()]
                .iter()
                .filter(ok)
                .take(N)
                .copied()
                .collect(),
        );
        let mut pool: Vec<u32> = ds.kind_items[kind.index()]
            .iter()
            .filter(ok)
            .copied()
            .collect();
        let (head, _) = pool.partial_shuffle(&mut rng, N);
        random.insert((u, kind), head.to_vec());
    }
    [popular, random]
}

fn timed<T>(timings: &mut BTreeMap<String, f64>, name: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let v = f();
    timings.insert(name.to_owned(), t.elapsed().as_secs_f64());
    v
}

/// Engine parameters used by an evaluation run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineParams {
    pub als: AlsParams,
    pub profile: ProfileParams,
    pub similarity: SimilarityParams,
    pub links: LinkParams,
}

impl EngineParams {
    /// The defaults with lists cut at [`N`], the ALS seed set to `seed` and
    /// 16 factors: twice the planted latent dimension; 64 factors overfit
    /// the small scales.
    pub fn for_seed(seed: u64) -> Self {
        EngineParams {
            als: AlsParams {
                seed,
                factors: 16,
                ..AlsParams::default()
            },
            profile: ProfileParams {
                n: N,
                ..ProfileParams::default()
            },
            similarity: SimilarityParams::default(),
            links: LinkParams::default(),
        }
    }
}

/// Generates data for `seed` and `scale`, runs every engine and returns the
/// quality metrics and timings.
pub fn run(seed: u64, scale: Scale) -> Report {
    run_with(
        seed,
        &GenParams::for_scale(scale),
        &EngineParams::for_seed(seed),
    )
}

/// [`run`] with explicit generator and engine parameters.
pub fn run_with(seed: u64, params: &GenParams, engine: &EngineParams) -> Report {
    let mut timings = BTreeMap::new();
    let planted = timed(&mut timings, "generate", || generate(seed, params));
    let (train, test) = split(&planted.events);
    let items = with_training_ratings(&planted.items, &train);
    let ds = Dataset::new(items, &train, &planted.interests, &[]);
    let truth = truth(&ds, &test);
    let degree = ds.matrix.item_degrees();

    let pop = timed(&mut timings, "Popularity", || {
        popularity::compute(&ds.items)
    });
    debug_assert_eq!(pop.scores.len(), ds.items.len());
    let sims = timed(&mut timings, "ContentSimilarities", || {
        similarity::content_similarities(&ds.items, None, &engine.similarity)
    });
    let found_links = timed(&mut timings, "LinkBetweenItems", || {
        links::link_items(&ds.items, &engine.links)
    });
    let nb = Neighbours::from_pairs(&ds, &sims);
    let fp = timed(&mut timings, "FromProfile", || {
        from_profile::for_users(&ds, None, &engine.profile)
    });
    let fs = timed(&mut timings, "FromSimilarContent", || {
        from_similar_content::for_users(&ds, &nb, None, &SimilarContentParams { n: N })
    });
    let cf = timed(&mut timings, "CollaborativeFiltering", || {
        als::recommend(&ds, None, &engine.als)
    });

    let mut engines = BTreeMap::new();
    for (name, recs) in [
        ("FromProfile", &fp),
        ("FromSimilarContent", &fs),
        ("CollaborativeFiltering", &cf),
    ] {
        engines.insert(
            name.to_owned(),
            score_lists(&ds, &truth, &lists_of(&ds, recs), &degree),
        );
    }
    let [popular, random] = baseline_lists(&ds, &truth, &degree, seed);
    engines.insert(
        "most_popular".to_owned(),
        score_lists(&ds, &truth, &popular, &degree),
    );
    engines.insert(
        "random".to_owned(),
        score_lists(&ds, &truth, &random, &degree),
    );

    // Content similarity against planted clusters.
    let cluster: HashMap<i64, usize> = planted
        .items
        .iter()
        .zip(&planted.item_cluster)
        .map(|(i, &c)| (i.id, c))
        .collect();
    let same = sims
        .iter()
        .filter(|p| cluster[&p.source] == cluster[&p.target])
        .count();
    let sources: HashSet<i64> = sims.iter().map(|p| p.source).collect();
    let content_similarity = ContentSimilarityMetrics {
        cluster_precision: if sims.is_empty() {
            0.0
        } else {
            same as f64 / sims.len() as f64
        },
        items_with_neighbours: sources.len() as f64 / ds.items.len().max(1) as f64,
        pairs: sims.len(),
    };
    // Links against planted pairs, unordered.
    let planted_links: HashSet<(i64, i64)> = planted.links.iter().copied().collect();
    let found: HashSet<(i64, i64)> = found_links
        .iter()
        .map(|l| (l.source.min(l.target), l.source.max(l.target)))
        .collect();
    let correct = found.intersection(&planted_links).count();
    let links = LinkMetrics {
        precision: if found.is_empty() {
            0.0
        } else {
            correct as f64 / found.len() as f64
        },
        recall: if planted_links.is_empty() {
            0.0
        } else {
            correct as f64 / planted_links.len() as f64
        },
        planted: planted_links.len(),
        found: found.len(),
    };
    Report {
        engines,
        content_similarity,
        links,
        timings,
        summary: Summary {
            seed,
            users: ds.matrix.n_users(),
            items: ds.items.len(),
            train: train.len(),
            test: test.len(),
            evaluated_lists: truth.relevant.len(),
        },
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.summary;
        writeln!(
            f,
            "seed {}: {} users, {} items, {} train / {} test interactions, {} evaluated (user, kind) lists",
            s.seed, s.users, s.items, s.train, s.test, s.evaluated_lists
        )?;
        writeln!(
            f,
            "{:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "engine", "P@10", "R@10", "NDCG@10", "HR@10", "coverage", "pop.bias"
        )?;
        for (name, m) in &self.engines {
            writeln!(
                f,
                "{:<24} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.3}",
                name, m.precision, m.recall, m.ndcg, m.hit_rate, m.coverage, m.popularity_bias
            )?;
        }
        let c = &self.content_similarity;
        writeln!(
            f,
            "content similarity: cluster precision@10 {:.4}, items with neighbours {:.4}, {} pairs",
            c.cluster_precision, c.items_with_neighbours, c.pairs
        )?;
        let l = &self.links;
        writeln!(
            f,
            "links: precision {:.4}, recall {:.4} ({} found, {} planted)",
            l.precision, l.recall, l.found, l.planted
        )?;
        write!(f, "timings (s):")?;
        for (k, v) in &self.timings {
            write!(f, " {k} {v:.3};")?;
        }
        writeln!(f)
    }
}

#[cfg(test)]
mod tests;
