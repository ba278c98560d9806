//! Top-10 metrics of one list source (an engine, the merged list, a
//! baseline): accuracy against the held-out part, and the beyond-accuracy
//! figures that make a blockbusters-only win visible.

use super::{N, Truth};
use crate::{ContentKind, Dataset};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// Lists per (user row, kind): item indices with their scores, best first.
pub type Lists = BTreeMap<(usize, ContentKind), Vec<(u32, f32)>>;

/// Top-10 metrics averaged over evaluated (user, kind) lists. Every figure
/// is computed on the same lists (those of the evaluated pairs), so engines
/// and baselines compare on equal terms.
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
    /// Intra-list diversity: distinct genres of a list divided by the genre
    /// labels its items carry (1 = no two items share a genre), averaged
    /// over lists whose items carry genres.
    pub diversity: f64,
    /// Mean self-information `−log2((d + 1) / (users + 1))` of recommended
    /// items, `d` their training interactions: higher = less known items.
    pub novelty: f64,
}

/// What the beyond-accuracy metrics read: item degrees and genres.
pub(crate) struct Catalogue<'a> {
    pub ds: &'a Dataset,
    pub degree: &'a [u32],
}

impl Catalogue<'_> {
    fn self_information(&self, item: u32) -> f64 {
        let users = self.ds.matrix.n_users() as f64;
        -((self.degree[item as usize] as f64 + 1.0) / (users + 1.0)).log2()
    }

    /// Distinct genres over genre labels of one list, `None` without genres.
    fn diversity(&self, list: &[u32]) -> Option<f64> {
        let mut distinct = HashSet::new();
        let mut labels = 0usize;
        for &i in list {
            let genres = &self.ds.items[i as usize].genres;
            labels += genres.len();
            distinct.extend(genres.iter().copied());
        }
        (labels > 0).then(|| distinct.len() as f64 / labels as f64)
    }
}

/// Normalised discounted cumulative gain of one list.
fn ndcg(list: &[u32], relevant: &HashSet<u32>) -> f64 {
    let gain = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
    let dcg: f64 = list
        .iter()
        .enumerate()
        .filter(|(_, i)| relevant.contains(i))
        .map(|(r, _)| gain(r))
        .sum();
    let ideal: f64 = (0..relevant.len().min(N)).map(gain).sum();
    dcg / ideal
}

/// Scores the lists of the evaluated (user, kind) pairs; a missing list
/// counts as empty.
pub(crate) fn score_lists(catalogue: &Catalogue<'_>, truth: &Truth, lists: &Lists) -> Metrics {
    let mut m = Metrics::default();
    let mut recommended: HashSet<u32> = HashSet::new();
    let (mut pop_sum, mut novelty_sum, mut shown) = (0f64, 0f64, 0usize);
    let (mut diversity_sum, mut diverse_lists) = (0f64, 0usize);
    for (key, relevant) in &truth.relevant {
        let list: Vec<u32> = lists
            .get(key)
            .map(|l| l.iter().take(N).map(|e| e.0).collect())
            .unwrap_or_default();
        let hits = list.iter().filter(|i| relevant.contains(i)).count();
        m.precision += hits as f64 / N as f64;
        m.recall += hits as f64 / relevant.len() as f64;
        m.ndcg += ndcg(&list, relevant);
        m.hit_rate += (hits > 0) as u8 as f64;
        for &i in &list {
            recommended.insert(i);
            pop_sum += (1.0 + catalogue.degree[i as usize] as f64).ln();
            novelty_sum += catalogue.self_information(i);
            shown += 1;
        }
        if let Some(d) = catalogue.diversity(&list) {
            diversity_sum += d;
            diverse_lists += 1;
        }
    }
    let mean = |sum: f64, n: usize| if n > 0 { sum / n as f64 } else { 0.0 };
    let n = truth.relevant.len();
    m.precision = mean(m.precision, n);
    m.recall = mean(m.recall, n);
    m.ndcg = mean(m.ndcg, n);
    m.hit_rate = mean(m.hit_rate, n);
    m.coverage = mean(recommended.len() as f64, catalogue.ds.items.len());
    m.popularity_bias = mean(pop_sum, shown);
    m.novelty = mean(novelty_sum, shown);
    m.diversity = mean(diversity_sum, diverse_lists);
    m
}
