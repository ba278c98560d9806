//! Popularity (spec §5.1, defect 3): the IMDB weighted rating
//! `WR = v/(v+m)·R + m/(v+m)·C` for every item of every kind, with `m` the
//! 0.90 quantile of rating counts and `C` the mean rating of the rated items
//! of the kind. Unlike the original there is one formula for all kinds, no
//! top-1000 cut and no qualification filter: an unrated item gets `C`, which
//! is exactly what the Bayesian average means. Scores are `WR / 5`.

use crate::{ContentKind, Item};
use serde::Serialize;

/// Upper end of the rating scale; scores are `WR / RATING_SCALE`.
pub const RATING_SCALE: f64 = 5.0;

/// Prior used by a kind with no rated item at all (middle of the scale).
const DEFAULT_MEAN: f64 = 2.5;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KindParams {
    pub kind: ContentKind,
    /// Minimum votes (0.90 quantile of `rating_count`, at least 1).
    pub m: f64,
    /// Mean rating of the rated items of the kind.
    pub c: f64,
    pub rated_items: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ItemPopularity {
    pub item: i64,
    pub kind: ContentKind,
    /// `weighted_rating / 5`, in 0..=1: the value for `content.popularity_score`.
    pub score: f64,
    /// Bayesian average on the rating scale.
    pub weighted_rating: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Popularity {
    /// Parameters of each kind present in the input.
    pub params: Vec<KindParams>,
    /// One entry per input item, in input order.
    pub scores: Vec<ItemPopularity>,
}

/// Linear-interpolation quantile (pandas' default) of unsorted values.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

fn is_rated(it: &Item) -> bool {
    matches!(it.rating, Some(r) if r > 0.0 && r.is_finite()) && it.rating_count > 0
}

/// Computes the popularity of every item.
pub fn compute(items: &[Item]) -> Popularity {
    let mut params = Vec::new();
    let mut by_kind = [None; 6];
    for kind in ContentKind::ALL {
        if !items.iter().any(|i| i.kind == kind) {
            continue;
        }
        let rated: Vec<&Item> = items
            .iter()
            .filter(|i| i.kind == kind && is_rated(i))
            .collect();
        let counts: Vec<f64> = rated.iter().map(|i| i.rating_count as f64).collect();
        let c = if rated.is_empty() {
            DEFAULT_MEAN
        } else {
            rated.iter().map(|i| i.rating.unwrap_or(0.0)).sum::<f64>() / rated.len() as f64
        };
        let p = KindParams {
            kind,
            m: quantile(&counts, 0.9).max(1.0),
            c,
            rated_items: rated.len(),
        };
        by_kind[kind.index()] = Some(p);
        params.push(p);
    }
    let scores = items
        .iter()
        .map(|it| {
            let p = by_kind[it.kind.index()].expect("kind seen above");
            let wr = if is_rated(it) {
                let v = it.rating_count as f64;
                let r = it.rating.unwrap_or(0.0).min(RATING_SCALE);
                v / (v + p.m) * r + p.m / (v + p.m) * p.c
            } else {
                p.c
            };
            ItemPopularity {
                item: it.id,
                kind: it.kind,
                score: (wr / RATING_SCALE).clamp(0.0, 1.0),
                weighted_rating: wr,
            }
        })
        .collect();
    Popularity { params, scores }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn it(id: i64, kind: ContentKind, rating: Option<f64>, count: i64) -> Item {
        Item {
            rating,
            rating_count: count,
            ..crate::test_support::item(id, kind)
        }
    }

    #[test]
    fn quantile_interpolates_like_pandas() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.9), 3.7);
        assert_eq!(quantile(&[5.0], 0.9), 5.0);
    }

    #[test]
    fn shrinks_few_votes_towards_the_mean() {
        let mut items: Vec<Item> = (0..10)
            .map(|i| it(i, ContentKind::Movie, Some(3.0), 10))
            .collect();
        items.push(it(100, ContentKind::Movie, Some(5.0), 1));
        items.push(it(101, ContentKind::Movie, Some(4.5), 1000));
        items.push(it(102, ContentKind::Movie, None, 0));
        items.push(it(200, ContentKind::Game, None, 0));
        let p = compute(&items);
        let s = |id: i64| p.scores.iter().find(|s| s.item == id).unwrap();
        // Many votes at 4.5 beat a single 5-star vote.
        assert!(s(101).score > s(100).score);
        assert!(s(100).score > s(0).score);
        let movie = p
            .params
            .iter()
            .find(|k| k.kind == ContentKind::Movie)
            .unwrap();
        assert!((s(102).weighted_rating - movie.c).abs() < 1e-12);
        assert_eq!(s(200).weighted_rating, DEFAULT_MEAN);
        assert!(p.scores.iter().all(|s| (0.0..=1.0).contains(&s.score)));
        assert_eq!(p.scores.len(), items.len());
    }
}
