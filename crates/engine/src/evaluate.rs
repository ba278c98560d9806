//! Offline evaluation on planted data (spec §11): generate, split each
//! user's events 80/20 in event order, train every engine on the first part
//! and score its top-10 lists against the held-out part.
//!
//! Lists are per (user, kind), as the API shows them; a (user, kind) pair is
//! evaluated when the user has at least one relevant held-out item of that
//! kind. Relevant = rated ≥ 4, or unrated with a positive counter. Besides
//! each engine, the `merged` row scores the list the API shows (engines by
//! priority, then score).

mod export;
mod generate;
mod merge;
mod metrics;
mod tune;

pub use export::export;
pub use generate::{Event, GenParams, Planted, Scale, generate};
pub use merge::api_merge;
pub use metrics::{Lists, Metrics};
pub use tune::{Trial, TuneGrid, tune};

use crate::als::{self, AlsParams};
use crate::from_profile::{self, ProfileParams};
use crate::from_similar_content::{self, SimilarContentParams};
use crate::links::{self, LinkParams};
use crate::similarity::{self, Neighbours, SimilarPair, SimilarityParams};
use crate::topk::top_k;
use crate::{ContentKind, Dataset, EngineName, Interaction, Item, Recommendation, popularity};
use metrics::{Catalogue, score_lists};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Instant;
/// Length of evaluated lists.
pub const N: usize = 10;

/// Name of the row scoring the list the API shows.
pub const MERGED: &str = "merged";

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
    /// Engine name (`FromProfile`, ..., `merged`, `most_popular`, `random`) → metrics.
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

/// Held-out truth: (user row, kind) → relevant item indices.
pub(crate) struct Truth {
    pub relevant: BTreeMap<(usize, ContentKind), HashSet<u32>>,
}

/// Splits events per user: the last 20 % (at least one when the user has
/// five or more) in event order form the held-out part. Applied to the
/// training part again, it gives the validation split of [`tune`].
pub fn split(events: &[Event]) -> (Vec<Event>, Vec<Event>) {
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
        train.extend(evs[..cut].iter().copied());
        test.extend(evs[cut..].iter().copied());
    }
    (train, test)
}

fn interactions(events: &[Event]) -> Vec<Interaction> {
    events.iter().map(|e| e.interaction).collect()
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

/// The relevance rule of every evaluation (and of `bench/quality_compare.py`).
pub fn is_relevant(i: &Interaction) -> bool {
    match i.rating {
        Some(r) if r > 0.0 => r >= 4.0,
        _ => i.count > 0,
    }
}

/// A training dataset and the held-out truth it is scored against.
pub struct Holdout {
    pub ds: Dataset,
    truth: Truth,
    /// Training interactions per item index.
    degree: Vec<u32>,
}

impl Holdout {
    pub fn new(planted: &Planted, train: &[Interaction], held_out: &[Interaction]) -> Self {
        let items = with_training_ratings(&planted.items, train);
        let ds = Dataset::new(items, train, &planted.interests, &[]);
        let mut relevant: BTreeMap<(usize, ContentKind), HashSet<u32>> = BTreeMap::new();
        for t in held_out.iter().filter(|t| is_relevant(t)) {
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
        let degree = ds.matrix.item_degrees();
        Holdout {
            ds,
            truth: Truth { relevant },
            degree,
        }
    }

    /// Number of evaluated (user, kind) lists.
    pub fn evaluated_lists(&self) -> usize {
        self.truth.relevant.len()
    }

    pub fn score(&self, lists: &Lists) -> Metrics {
        let catalogue = Catalogue {
            ds: &self.ds,
            degree: &self.degree,
        };
        score_lists(&catalogue, &self.truth, lists)
    }

    /// Per-(user, kind) top-[`N`] lists of engine rows.
    pub fn lists(&self, recs: &[Recommendation]) -> Lists {
        let ds = &self.ds;
        let mut by: Lists = BTreeMap::new();
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
        for v in by.values_mut() {
            top_k(v, N);
        }
        by
    }

    /// Most popular (by training interactions) and random lists of the
    /// evaluated pairs, without consumed items.
    fn baselines(&self, seed: u64) -> [Lists; 2] {
        let ds = &self.ds;
        let mut popular = BTreeMap::new();
        let mut random = BTreeMap::new();
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let by_degree: Vec<Vec<(u32, f32)>> = ContentKind::ALL
            .iter()
            .map(|k| {
                let mut v: Vec<(u32, f32)> = ds.kind_items[k.index()]
                    .iter()
                    .map(|&i| (i, self.degree[i as usize] as f32))
                    .collect();
                top_k(&mut v, usize::MAX);
                v
            })
            .collect();
        for &(u, kind) in self.truth.relevant.keys() {
            let excluded = ds.excluded(u);
            let ok = |i: &u32| excluded.binary_search(i).is_err();
            popular.insert(
                (u, kind),
                by_degree[kind.index()]
                    .iter()
                    .filter(|e| ok(&e.0))
                    .take(N)
                    .copied()
                    .collect(),
            );
            let mut pool: Vec<(u32, f32)> = ds.kind_items[kind.index()]
                .iter()
                .filter(|i| ok(i))
                .map(|&i| (i, 0.0))
                .collect();
            let (head, _) = pool.partial_shuffle(&mut rng, N);
            random.insert((u, kind), head.to_vec());
        }
        [popular, random]
    }
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
    /// The service's defaults with lists cut at [`N`] and the ALS seed set
    /// to `seed`.
    pub fn for_seed(seed: u64) -> Self {
        EngineParams {
            als: AlsParams {
                seed,
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

/// The recommending engines' lists on a holdout, each engine timed.
fn engine_lists(
    holdout: &Holdout,
    sims: &[SimilarPair],
    engine: &EngineParams,
    timings: &mut BTreeMap<String, f64>,
) -> Vec<(EngineName, Lists)> {
    let ds = &holdout.ds;
    let nb = Neighbours::from_pairs(ds, sims);
    let fp = timed(timings, "FromProfile", || {
        from_profile::for_users(ds, None, &engine.profile)
    });
    let fs = timed(timings, "FromSimilarContent", || {
        from_similar_content::for_users(ds, &nb, None, &SimilarContentParams { n: N })
    });
    let cf = timed(timings, "CollaborativeFiltering", || {
        als::recommend(ds, None, &engine.als)
    });
    vec![
        (EngineName::FromProfile, holdout.lists(&fp)),
        (EngineName::FromSimilarContent, holdout.lists(&fs)),
        (EngineName::CollaborativeFiltering, holdout.lists(&cf)),
    ]
}

/// [`run`] with explicit generator and engine parameters.
pub fn run_with(seed: u64, params: &GenParams, engine: &EngineParams) -> Report {
    let mut timings = BTreeMap::new();
    let planted = timed(&mut timings, "generate", || generate(seed, params));
    let (train, test) = split(&planted.events);
    let (train, test) = (interactions(&train), interactions(&test));
    let holdout = Holdout::new(&planted, &train, &test);
    let ds = &holdout.ds;

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
    let lists = engine_lists(&holdout, &sims, engine, &mut timings);
    let mut engines: BTreeMap<String, Metrics> = lists
        .iter()
        .map(|(name, l)| (name.as_str().to_owned(), holdout.score(l)))
        .collect();
    let merged: Vec<(EngineName, &Lists)> = lists.iter().map(|(e, l)| (*e, l)).collect();
    engines.insert(MERGED.to_owned(), holdout.score(&api_merge(&merged)));
    let [popular, random] = holdout.baselines(seed);
    engines.insert("most_popular".to_owned(), holdout.score(&popular));
    engines.insert("random".to_owned(), holdout.score(&random));

    Report {
        engines,
        content_similarity: content_similarity_metrics(&planted, ds, &sims),
        links: link_metrics(&planted, &found_links),
        timings,
        summary: Summary {
            seed,
            users: ds.matrix.n_users(),
            items: ds.items.len(),
            train: train.len(),
            test: test.len(),
            evaluated_lists: holdout.evaluated_lists(),
        },
    }
}

/// Content similarity against planted clusters.
fn content_similarity_metrics(
    planted: &Planted,
    ds: &Dataset,
    sims: &[SimilarPair],
) -> ContentSimilarityMetrics {
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
    ContentSimilarityMetrics {
        cluster_precision: if sims.is_empty() {
            0.0
        } else {
            same as f64 / sims.len() as f64
        },
        items_with_neighbours: sources.len() as f64 / ds.items.len().max(1) as f64,
        pairs: sims.len(),
    }
}

/// Links against planted pairs, unordered.
fn link_metrics(planted: &Planted, found_links: &[SimilarPair]) -> LinkMetrics {
    let planted_links: HashSet<(i64, i64)> = planted.links.iter().copied().collect();
    let found: HashSet<(i64, i64)> = found_links
        .iter()
        .map(|l| (l.source.min(l.target), l.source.max(l.target)))
        .collect();
    let correct = found.intersection(&planted_links).count();
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    LinkMetrics {
        precision: share(correct, found.len()),
        recall: share(correct, planted_links.len()),
        planted: planted_links.len(),
        found: found.len(),
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
            "{:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "engine",
            "P@10",
            "R@10",
            "NDCG@10",
            "HR@10",
            "coverage",
            "pop.bias",
            "divers.",
            "novelty"
        )?;
        for (name, m) in &self.engines {
            writeln!(
                f,
                "{:<24} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.3} {:>8.4} {:>8.3}",
                name,
                m.precision,
                m.recall,
                m.ndcg,
                m.hit_rate,
                m.coverage,
                m.popularity_bias,
                m.diversity,
                m.novelty
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
