//! `engine tune`: grid search of the collaborative-filtering parameters on a
//! validation split. The test part of [`super::run`] is never read: the
//! training part is split again the same way (last 20 % of each user's
//! training events), models are fitted on the first part and scored on the
//! second.

use super::{
    EngineName, EngineParams, GenParams, Holdout, Lists, Metrics, N, Scale, api_merge,
    engine_lists, generate, interactions, split,
};
use crate::als::{self, AlsParams};
use crate::similarity;
use serde::Serialize;
use std::collections::BTreeMap;

/// Values tried for each ALS parameter (every combination is one trial).
#[derive(Debug, Clone, PartialEq)]
pub struct TuneGrid {
    pub factors: Vec<usize>,
    pub regularization: Vec<f32>,
    pub alpha: Vec<f32>,
    pub iterations: Vec<usize>,
}

impl Default for TuneGrid {
    fn default() -> Self {
        TuneGrid {
            factors: vec![4, 8, 16, 32],
            regularization: vec![2.0, 8.0, 32.0, 48.0, 128.0],
            alpha: vec![0.25, 1.0, 4.0],
            iterations: vec![10, 20],
        }
    }
}

impl TuneGrid {
    fn params(&self, base: AlsParams) -> Vec<AlsParams> {
        let mut out = Vec::new();
        for &factors in &self.factors {
            for &regularization in &self.regularization {
                for &alpha in &self.alpha {
                    for &iterations in &self.iterations {
                        out.push(AlsParams {
                            factors,
                            regularization,
                            alpha,
                            iterations,
                            ..base
                        });
                    }
                }
            }
        }
        out
    }
}

/// One trial: parameters and validation metrics of the collaborative
/// filtering list and of the merged list the user sees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Trial {
    pub factors: usize,
    pub regularization: f32,
    pub alpha: f32,
    pub iterations: usize,
    #[serde(rename = "CollaborativeFiltering")]
    pub collaborative: Metrics,
    #[serde(rename = "merged")]
    pub merged: Metrics,
}

impl Trial {
    pub fn als(&self, base: AlsParams) -> AlsParams {
        AlsParams {
            factors: self.factors,
            regularization: self.regularization,
            alpha: self.alpha,
            iterations: self.iterations,
            ..base
        }
    }
}

/// Runs every trial of `grid` on the validation split of `seed` at `scale`,
/// calling `progress` after each; returns the trials best first (by merged
/// NDCG@10, then collaborative NDCG@10).
pub fn tune(
    seed: u64,
    scale: Scale,
    grid: &TuneGrid,
    mut progress: impl FnMut(&Trial),
) -> Vec<Trial> {
    let planted = generate(seed, &GenParams::for_scale(scale));
    let (train, _test) = split(&planted.events);
    let (fit, validation) = split(&train);
    let holdout = Holdout::new(&planted, &interactions(&fit), &interactions(&validation));
    let base = EngineParams::for_seed(seed);
    let sims = similarity::content_similarities(&holdout.ds.items, None, &base.similarity);
    let mut timings = BTreeMap::new();
    // The content engines do not depend on the ALS parameters.
    let content: Vec<(EngineName, Lists)> = engine_lists(&holdout, &sims, &base, &mut timings)
        .into_iter()
        .filter(|(e, _)| *e != EngineName::CollaborativeFiltering)
        .collect();
    let mut trials: Vec<Trial> = grid
        .params(base.als)
        .into_iter()
        .map(|params| {
            let cf = holdout.lists(&als::recommend(
                &holdout.ds,
                None,
                &AlsParams { n: N, ..params },
            ));
            let mut all: Vec<(EngineName, &Lists)> = content.iter().map(|(e, l)| (*e, l)).collect();
            all.push((EngineName::CollaborativeFiltering, &cf));
            let trial = Trial {
                factors: params.factors,
                regularization: params.regularization,
                alpha: params.alpha,
                iterations: params.iterations,
                collaborative: holdout.score(&cf),
                merged: holdout.score(&api_merge(&all)),
            };
            progress(&trial);
            trial
        })
        .collect();
    trials.sort_by(|a, b| {
        b.merged
            .ndcg
            .total_cmp(&a.merged.ndcg)
            .then(b.collaborative.ndcg.total_cmp(&a.collaborative.ndcg))
    });
    trials
}
