//! CollaborativeFiltering (spec §5.6, defects 5 and 6), engine name
//! `CollaborativeFiltering`, priority 5: implicit-feedback ALS (Hu, Koren and
//! Volinsky 2008) solved with a few conjugate-gradient steps per row, as
//! benfred/implicit does, parallel over rows with rayon.
//!
//! Signals become a preference `p` and a confidence `c = 1 + α·f`:
//! * rated 3..5 stars: `p = 1`, `f = (rating − 2) + ln(1 + count)`;
//! * rated 1..2 stars: `p = 0`, `f = 3 − rating` (a confident "no");
//! * not rated: `p = 1`, `f = 1 + ln(1 + count)` (a view or play is a
//!   positive signal, growing slowly with the counter).
//!
//! One model is trained on all kinds and all users (dataset users included);
//! scores are the predicted preference (not clipped: clipping at 1 would tie
//! the best items and lose their order), top `n` positive ones per kind,
//! excluding consumed and flagged items. Training does not depend on which
//! users are asked for, so a partial run returns exactly the full run's rows.

#[cfg(target_arch = "x86_64")]
use crate::als_avx512::Avx512;
use crate::cancel::{Cancel, Cancelled, never_cancelled};
use crate::simd::{Kernels, Portable};
use crate::text::SparseRows;
use crate::topk::TopK;
use crate::{ContentKind, Dataset, EngineName, ItemIndex, Recommendation, UserItemMatrix};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlsParams {
    pub factors: usize,
    /// L2 penalty added to the diagonal of `YᵀY` (not scaled by counts).
    pub regularization: f32,
    /// Confidence scale α.
    pub alpha: f32,
    pub iterations: usize,
    /// Conjugate-gradient steps per row and sweep (implicit's default is 3).
    pub cg_steps: usize,
    pub seed: u64,
    /// Items kept per user and kind.
    pub n: usize,
}

/// Tuned on validation splits of planted data, never the test split:
/// `recofinement engine tune --scale s --seed S` (S = 7, 11, 13) narrowed
/// the grid to 8 factors and λ 32..48, then `cargo run --example als_grid`
/// compared the finalists at scales s and m (bench/QUALITY.md, "Tuning");
/// 8 factors, λ = 48, α = 4 and 20 iterations has the best mean validation
/// NDCG@10 relative to each scale's best (0.998; λ 32 was best at m but
/// 1.3 % behind at s).
impl Default for AlsParams {
    fn default() -> Self {
        AlsParams {
            factors: 8,
            regularization: 48.0,
            alpha: 4.0,
            iterations: 20,
            cg_steps: 3,
            seed: 42,
            n: 10,
        }
    }
}

/// Signed confidence of one interaction: `c` when `p = 1`, `−c` when `p = 0`
/// (`c ≥ 1`, so the sign is unambiguous).
pub fn confidence(rating: f32, count: u32, alpha: f32) -> f32 {
    let l = (1.0 + count as f32).ln();
    if rating > 0.0 && rating < 3.0 {
        -(1.0 + alpha * (3.0 - rating))
    } else if rating >= 3.0 {
        1.0 + alpha * ((rating - 2.0) + l)
    } else {
        1.0 + alpha * (1.0 + l)
    }
}

/// Sparse rows of signed confidences (see [`confidence`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfidenceMatrix {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl ConfidenceMatrix {
    pub fn from_interactions(m: &UserItemMatrix, alpha: f32) -> Self {
        ConfidenceMatrix {
            n_rows: m.n_users(),
            n_cols: m.n_items,
            indptr: m.indptr.clone(),
            indices: m.indices.clone(),
            values: m
                .ratings
                .iter()
                .zip(&m.counts)
                .map(|(&r, &c)| confidence(r, c, alpha))
                .collect(),
        }
    }

    /// From `(row, col, signed confidence)` triplets without duplicates.
    pub fn from_triplets(n_rows: usize, n_cols: usize, t: &[(u32, u32, f32)]) -> Self {
        let rows = SparseRows::from_entries(n_rows, n_cols, || t.iter().copied());
        let mut m = Self::from_rows(n_rows, rows);
        m.sort_rows();
        m
    }

    fn from_rows(n_rows: usize, rows: SparseRows) -> Self {
        ConfidenceMatrix {
            n_rows,
            n_cols: rows.n_cols,
            indptr: rows.indptr,
            indices: rows.indices,
            values: rows.values,
        }
    }

    fn sort_rows(&mut self) {
        for r in 0..self.n_rows {
            let s = self.indptr[r]..self.indptr[r + 1];
            let mut row: Vec<(u32, f32)> = self.indices[s.clone()]
                .iter()
                .copied()
                .zip(self.values[s.clone()].iter().copied())
                .collect();
            row.sort_unstable_by_key(|e| e.0);
            for (k, (i, v)) in s.zip(row) {
                self.indices[k] = i;
                self.values[k] = v;
            }
        }
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Column-major copy (items × users), rows sorted.
    pub fn transpose(&self) -> Self {
        let t = SparseRows::transpose_of(self.n_cols, &self.indptr, &self.indices, &self.values);
        Self::from_rows(self.n_cols, t)
    }

    /// Row `u`'s entries, as the portable and AVX2 solvers read them.
    fn row(&self, u: usize) -> Row<'_> {
        let range = self.indptr[u]..self.indptr[u + 1];
        Row {
            idx: &self.indices[range.clone()],
            val: &self.values[range],
        }
    }
}

/// Trained factors, row-major (`n × factors`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlsModel {
    pub factors: usize,
    pub user_factors: Vec<f32>,
    pub item_factors: Vec<f32>,
}

/// Rows per partial Gram matrix: fixed so the sum order, hence the result,
/// does not depend on the number of threads.
const GRAM_CHUNK: usize = 1024;

fn gram(y: &[f32], f: usize, reg: f32, chunk_gram: impl Fn(&[f32], &mut [f32]) + Sync) -> Vec<f32> {
    let partials: Vec<Vec<f32>> = y
        .par_chunks(GRAM_CHUNK * f)
        .map(|chunk| {
            let mut g = vec![0f32; f * f];
            chunk_gram(chunk, &mut g);
            g
        })
        .collect();
    let mut g = vec![0f32; f * f];
    for p in partials {
        g.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
    for a in 0..f {
        g[a * f + a] += reg;
    }
    g
}

struct Scratch {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
}

impl Scratch {
    fn new(f: usize) -> Self {
        Scratch {
            r: vec![0.0; f],
            p: vec![0.0; f],
            ap: vec![0.0; f],
        }
    }
}

/// Row `i` of the row-major `f`-column factors `y`.
#[inline(always)]
fn factor_row(y: &[f32], i: u32, f: usize) -> &[f32] {
    &y[i as usize * f..(i as usize + 1) * f]
}

/// One half-sweep's inputs besides the rows it updates: the fixed side's
/// factors `y` (`n × f`), the L2 penalty and the CG steps per row.
#[derive(Clone, Copy)]
struct HalfSweep<'a> {
    y: &'a [f32],
    f: usize,
    reg: f32,
    cg_steps: usize,
}

/// What every row solve of a half-sweep (or a fold-in) shares: the fixed
/// factors `y`, their `YᵀY + λI` and the CG steps per row.
struct Fixed<'a> {
    y: &'a [f32],
    yty: &'a [f32],
    cg_steps: usize,
}

/// How many rows of factors ahead the solver prefetches.
const PREFETCH: usize = 4;

/// One row's data for the solver.
struct Row<'a> {
    idx: &'a [u32],
    val: &'a [f32],
}

/// Conjugate-gradient update of one row `xu` (benfred/implicit's
/// `least_squares_cg`): `A = YᵀY + λI + Σ (c−1)·y yᵀ`, `b = Σ c·p·y`.
#[inline(always)]
fn solve_row<K: Kernels>(k: K, fx: &Fixed<'_>, row: Row<'_>, xu: &mut [f32], s: &mut Scratch) {
    let (f, yty, y) = (xu.len(), fx.yty, fx.y);
    // r = b − A·x
    k.gemv(yty, xu, &mut s.r);
    s.r.iter_mut().for_each(|v| *v = -*v);
    // The factors of a row's items are scattered: fetch a few ahead so
    // the first pass is not bound by memory latency.
    for &i in row.idx.iter().take(PREFETCH) {
        k.prefetch(factor_row(y, i, f));
    }
    for (n, (&i, &cv)) in row.idx.iter().zip(row.val).enumerate() {
        if let Some(&next) = row.idx.get(n + PREFETCH) {
            k.prefetch(factor_row(y, next, f));
        }
        let yi = factor_row(y, i, f);
        let (conf, pref) = if cv > 0.0 { (cv, cv) } else { (-cv, 0.0) };
        let t = pref - (conf - 1.0) * k.dot(yi, xu);
        k.axpy(t, yi, &mut s.r);
    }
    s.p.copy_from_slice(&s.r);
    let mut rsold = k.dot(&s.r, &s.r);
    if rsold < 1e-20 {
        return;
    }
    for _ in 0..fx.cg_steps {
        k.gemv(yty, &s.p, &mut s.ap);
        for (n, (&i, &cv)) in row.idx.iter().zip(row.val).enumerate() {
            if let Some(&next) = row.idx.get(n + PREFETCH) {
                k.prefetch(factor_row(y, next, f));
            }
            let yi = factor_row(y, i, f);
            let t = (cv.abs() - 1.0) * k.dot(yi, &s.p);
            k.axpy(t, yi, &mut s.ap);
        }
        let pap = k.dot(&s.p, &s.ap);
        if pap <= 0.0 {
            break;
        }
        let a = rsold / pap;
        k.axpy(a, &s.p, xu);
        k.axpy(-a, &s.ap, &mut s.r);
        let rsnew = k.dot(&s.r, &s.r);
        if rsnew < 1e-20 {
            break;
        }
        let beta = rsnew / rsold;
        for (pv, rv) in s.p.iter_mut().zip(&s.r) {
            *pv = rv + beta * *pv;
        }
        rsold = rsnew;
    }
}

#[inline(always)]
fn gram_rows<K: Kernels>(k: K, chunk: &[f32], f: usize, g: &mut [f32]) {
    for row in chunk.chunks_exact(f) {
        for (a, &ra) in row.iter().enumerate() {
            k.axpy(ra, row, &mut g[a * f..(a + 1) * f]);
        }
    }
}

/// Kernels that can run a whole row solve. The AVX2 version enters a
/// `#[target_feature]` function once per row so that its dot/axpy calls
/// inline (closures do not inherit target features).
trait Solver: Kernels {
    /// `g += Σ row rowᵀ` over the rows of `chunk`.
    fn gram_chunk(self, chunk: &[f32], f: usize, g: &mut [f32]) {
        gram_rows(self, chunk, f, g)
    }
    fn solve(self, fx: &Fixed<'_>, row: Row<'_>, xu: &mut [f32], s: &mut Scratch) {
        solve_row(self, fx, row, xu, s)
    }
}

impl Solver for Portable {}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn solve_row_avx2(
    k: crate::simd::x86::Avx2Fma,
    fx: &Fixed<'_>,
    row: Row<'_>,
    xu: &mut [f32],
    s: &mut Scratch,
) {
    solve_row(k, fx, row, xu, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gram_rows_avx2(k: crate::simd::x86::Avx2Fma, chunk: &[f32], f: usize, g: &mut [f32]) {
    gram_rows(k, chunk, f, g)
}

#[cfg(target_arch = "x86_64")]
impl Solver for crate::simd::x86::Avx2Fma {
    fn gram_chunk(self, chunk: &[f32], f: usize, g: &mut [f32]) {
        // SAFETY: a value of this type exists only when the CPU has the features.
        unsafe { gram_rows_avx2(self, chunk, f, g) }
    }
    fn solve(self, fx: &Fixed<'_>, row: Row<'_>, xu: &mut [f32], s: &mut Scratch) {
        // SAFETY: a value of this type exists only when the CPU has the features.
        unsafe { solve_row_avx2(self, fx, row, xu, s) }
    }
}

/// Updates every row of `x` given the fixed factors (one half-sweep).
fn sweep_with<K: Solver>(k: K, c: &ConfidenceMatrix, x: &mut [f32], h: HalfSweep<'_>) {
    let yty = gram(h.y, h.f, h.reg, |chunk, g| k.gram_chunk(chunk, h.f, g));
    let fx = Fixed {
        y: h.y,
        yty: &yty,
        cg_steps: h.cg_steps,
    };
    x.par_chunks_mut(h.f).enumerate().for_each_init(
        || Scratch::new(h.f),
        |s, (u, xu)| k.solve(&fx, c.row(u), xu, s),
    );
}

/// One half-sweep with the AVX-512 register-resident solver
/// (`Avx512::supports(h.f)` must hold).
#[cfg(target_arch = "x86_64")]
fn sweep_avx512(k: Avx512, c: &ConfidenceMatrix, x: &mut [f32], h: HalfSweep<'_>) {
    let yty = gram(h.y, h.f, h.reg, |chunk, g| k.gram_chunk(chunk, h.f, g));
    x.par_chunks_mut(h.f).enumerate().for_each(|(u, xu)| {
        let (start, end) = (c.indptr[u], c.indptr[u + 1]);
        let row = crate::als_avx512::Row {
            idx: &c.indices[start..end],
            val: &c.values[start..end],
            next: &c.indices[end..c.indptr[(u + 2).min(c.n_rows)].max(end)],
        };
        k.solve(&yty, h.y, row, xu, h.cg_steps);
    });
}

/// One half-sweep with the best kernels this CPU has.
pub fn sweep(c: &ConfidenceMatrix, x: &mut [f32], y: &[f32], f: usize, reg: f32, cg_steps: usize) {
    let h = HalfSweep {
        y,
        f,
        reg,
        cg_steps,
    };
    #[cfg(target_arch = "x86_64")]
    if Avx512::supports(f)
        && let Some(k) = Avx512::detect()
    {
        return sweep_avx512(k, c, x, h);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = crate::simd::x86::Avx2Fma::detect() {
        return sweep_with(k, c, x, h);
    }
    sweep_with(Portable, c, x, h)
}

impl AlsModel {
    /// Seeded initial factors, uniform in [0, 0.01) like implicit's.
    pub fn init(n_users: usize, n_items: usize, factors: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut draw = |n: usize| -> Vec<f32> {
            (0..n * factors)
                .map(|_| rng.random::<f32>() * 0.01)
                .collect()
        };
        let user_factors = draw(n_users);
        let item_factors = draw(n_items);
        AlsModel {
            factors,
            user_factors,
            item_factors,
        }
    }

    /// One full iteration: users given items, then items given users.
    /// `ct` is `c.transpose()`.
    pub fn iterate(&mut self, c: &ConfidenceMatrix, ct: &ConfidenceMatrix, params: &AlsParams) {
        let (f, reg, cg) = (self.factors, params.regularization, params.cg_steps);
        sweep(c, &mut self.user_factors, &self.item_factors, f, reg, cg);
        sweep(ct, &mut self.item_factors, &self.user_factors, f, reg, cg);
    }

    /// Trains a model on a confidence matrix (users × items).
    pub fn fit(c: &ConfidenceMatrix, params: &AlsParams) -> Self {
        never_cancelled(Self::fit_with(c, params, &Cancel::never()))
    }

    /// [`AlsModel::fit`], given up between iterations once `cancel` is set.
    pub fn fit_with(
        c: &ConfidenceMatrix,
        params: &AlsParams,
        cancel: &Cancel,
    ) -> Result<Self, Cancelled> {
        let ct = c.transpose();
        let mut m = AlsModel::init(c.n_rows, c.n_cols, params.factors, params.seed);
        for _ in 0..params.iterations {
            cancel.check()?;
            m.iterate(c, &ct, params);
        }
        cancel.check()?;
        Ok(m)
    }

    pub fn user(&self, u: usize) -> &[f32] {
        &self.user_factors[u * self.factors..(u + 1) * self.factors]
    }

    pub fn item(&self, i: usize) -> &[f32] {
        &self.item_factors[i * self.factors..(i + 1) * self.factors]
    }

    /// Top-`n` per kind for the given dataset users (all if `None`).
    pub fn recommend(&self, ds: &Dataset, users: Option<&[i64]>, n: usize) -> Vec<Recommendation> {
        self.recommend_with(ds, users, n, &Cancel::never())
            .unwrap_or_default()
    }

    /// [`AlsModel::recommend`], given up between users once `cancel` is set.
    pub fn recommend_with(
        &self,
        ds: &Dataset,
        users: Option<&[i64]>,
        n: usize,
        cancel: &Cancel,
    ) -> Result<Vec<Recommendation>, Cancelled> {
        cancel.par_flat_map(&ds.user_rows(users), |&u| {
            let excluded = ds.excluded(u);
            let ranked = rank_items(
                self.user(u),
                &self.item_factors,
                &ds.kind_items,
                &excluded,
                n,
            );
            rows_of(ds.matrix.users.id(u), ranked, |i| ds.items[i as usize].id)
        })
    }
}

/// Top-`n` items per kind by predicted preference for the user factors
/// `xu`, without the (sorted) `excluded` indices. Items are ranked by the
/// raw prediction; only positive predictions are kept. Streamed through a
/// bounded list: nearly every item loses to the current `n`-th at one
/// comparison, and only those that would enter are looked up in
/// `excluded` (the same lists as sorting every candidate, without
/// collecting them).
fn rank_items(
    xu: &[f32],
    item_factors: &[f32],
    kind_items: &[Vec<u32>; 6],
    excluded: &[u32],
    n: usize,
) -> Vec<(ContentKind, Vec<(u32, f32)>)> {
    let f = xu.len();
    let mut best = TopK::new(n);
    ContentKind::ALL
        .iter()
        .map(|&kind| {
            for &i in &kind_items[kind.index()] {
                let score = Portable.dot(xu, factor_row(item_factors, i, f));
                if score > 0.0 && best.admits((i, score)) && excluded.binary_search(&i).is_err() {
                    best.push((i, score));
                }
            }
            (kind, best.take())
        })
        .collect()
}

fn rows_of(
    subject: i64,
    ranked: Vec<(ContentKind, Vec<(u32, f32)>)>,
    id_of: impl Fn(u32) -> i64,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for (kind, list) in ranked {
        out.extend(list.into_iter().map(|(i, s)| Recommendation {
            subject,
            item: id_of(i),
            kind,
            score: s as f64,
            engine: EngineName::CollaborativeFiltering,
        }));
    }
    out
}

/// The item side of a trained model, kept by the service between full
/// trainings so that a user's list follows their new interactions at once:
/// [`ItemModel::fold_in`] solves that user's factors against the fixed item
/// factors, which is what a full training gives the user with the items
/// fixed.
#[derive(Debug, Clone)]
pub struct ItemModel {
    params: AlsParams,
    /// Catalogue ids of the trained items.
    pub items: ItemIndex,
    kind_items: [Vec<u32>; 6],
    item_factors: Vec<f32>,
    /// `YᵀY + λI`, shared by every fold-in.
    yty: Vec<f32>,
}

/// One interaction of a folded-in user: item index in the model, rating
/// (0 = not rated) and counter.
pub type FoldInteraction = (u32, f32, u32);

impl ItemModel {
    pub fn new(model: AlsModel, ds: &Dataset, params: &AlsParams) -> Self {
        let f = model.factors;
        let yty = gram(&model.item_factors, f, params.regularization, |chunk, g| {
            gram_rows(Portable, chunk, f, g)
        });
        ItemModel {
            params: *params,
            items: ds.item_index.clone(),
            kind_items: ds.kind_items.clone(),
            item_factors: model.item_factors,
            yty,
        }
    }

    /// The user's factors: the least-squares solution of their row given
    /// the item factors (conjugate gradient run to convergence from zero).
    pub fn fold_in(&self, interactions: &[FoldInteraction]) -> Vec<f32> {
        let f = self.params.factors;
        let mut row: Vec<(u32, f32)> = interactions
            .iter()
            .filter(|(i, _, _)| (*i as usize) < self.items.len())
            .map(|&(i, rating, count)| (i, confidence(rating, count, self.params.alpha)))
            .collect();
        row.sort_unstable_by_key(|e| e.0);
        row.dedup_by_key(|e| e.0);
        let (idx, val): (Vec<u32>, Vec<f32>) = row.into_iter().unzip();
        let fixed = Fixed {
            y: &self.item_factors,
            yty: &self.yty,
            // CG converges in f steps in exact arithmetic; twice that absorbs rounding.
            cg_steps: 2 * f,
        };
        let row = Row {
            idx: &idx,
            val: &val,
        };
        let mut xu = vec![0f32; f];
        solve_row(Portable, &fixed, row, &mut xu, &mut Scratch::new(f));
        xu
    }

    /// Top-`n` per kind for `user` with factors `xu`, without the sorted
    /// `excluded` item indices (consumed and flagged).
    pub fn recommend(&self, user: i64, xu: &[f32], excluded: &[u32]) -> Vec<Recommendation> {
        let ranked = rank_items(
            xu,
            &self.item_factors,
            &self.kind_items,
            excluded,
            self.params.n,
        );
        rows_of(user, ranked, |i| self.items.id(i as usize))
    }
}

/// Trains on the whole dataset and keeps the item side for fold-ins.
pub fn train(ds: &Dataset, params: &AlsParams) -> (AlsModel, ItemModel) {
    never_cancelled(train_with(ds, params, &Cancel::never()))
}

/// [`train`], given up between iterations once `cancel` is set.
pub fn train_with(
    ds: &Dataset,
    params: &AlsParams,
    cancel: &Cancel,
) -> Result<(AlsModel, ItemModel), Cancelled> {
    let c = ConfidenceMatrix::from_interactions(&ds.matrix, params.alpha);
    let model = AlsModel::fit_with(&c, params, cancel)?;
    let items = ItemModel::new(model.clone(), ds, params);
    Ok((model, items))
}

/// Trains on the whole dataset and recommends to every user (`None`) or to
/// the given user ids.
pub fn recommend(ds: &Dataset, users: Option<&[i64]>, params: &AlsParams) -> Vec<Recommendation> {
    let c = ConfidenceMatrix::from_interactions(&ds.matrix, params.alpha);
    AlsModel::fit(&c, params).recommend(ds, users, params.n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topk::top_k;

    /// The ranking before it was streamed, for one kind: every positive,
    /// non-excluded candidate collected, then sorted.
    fn sorted_candidates(
        items: &[u32],
        score: impl Fn(u32) -> f32,
        excluded: &[u32],
        n: usize,
    ) -> Vec<(u32, f32)> {
        let mut candidates: Vec<(u32, f32)> = items
            .iter()
            .filter(|i| excluded.binary_search(i).is_err())
            .map(|&i| (i, score(i)))
            .filter(|e| e.1 > 0.0)
            .collect();
        top_k(&mut candidates, n);
        candidates
    }

    #[test]
    fn streamed_ranking_equals_sorting_every_candidate() {
        let mut rng = StdRng::seed_from_u64(5);
        let (n_items, f) = (3_000u32, 8);
        // Factors on a coarse grid, so that many scores tie exactly and
        // the index tie-break decides; some items score zero or less.
        let grid = |rng: &mut StdRng| f32::from(rng.random_range(-2i8..=4)) * 0.5;
        let item_factors: Vec<f32> = (0..n_items as usize * f).map(|_| grid(&mut rng)).collect();
        let mut kind_items: [Vec<u32>; 6] = Default::default();
        for i in 0..n_items {
            kind_items[rng.random_range(0..6)].push(i);
        }
        for round in 0..200 {
            let xu: Vec<f32> = (0..f).map(|_| grid(&mut rng)).collect();
            let mut excluded: Vec<u32> = (0..rng.random_range(0..400))
                .map(|_| rng.random_range(0..n_items))
                .collect();
            excluded.sort_unstable();
            excluded.dedup();
            // 1,000 is more than a kind holds: every positive score is kept.
            let n = [0, 1, 3, 10, 50, 1_000][round % 6];
            let score = |i| Portable.dot(&xu, factor_row(&item_factors, i, f));
            let sorted: Vec<_> = ContentKind::ALL
                .iter()
                .map(|&kind| {
                    let items = &kind_items[kind.index()];
                    (kind, sorted_candidates(items, score, &excluded, n))
                })
                .collect();
            assert_eq!(
                rank_items(&xu, &item_factors, &kind_items, &excluded, n),
                sorted,
                "round {round}, n {n}"
            );
        }
    }

    /// Dense reference of the implicit objective's exact row solution.
    fn exact_row(c: &ConfidenceMatrix, u: usize, y: &[f32], f: usize, reg: f32) -> Vec<f64> {
        let n_items = y.len() / f;
        let mut a = vec![0f64; f * f];
        let mut b = vec![0f64; f];
        for i in 0..n_items {
            for p in 0..f {
                for q in 0..f {
                    a[p * f + q] += (y[i * f + p] * y[i * f + q]) as f64;
                }
            }
        }
        for p in 0..f {
            a[p * f + p] += reg as f64;
        }
        for k in c.indptr[u]..c.indptr[u + 1] {
            let i = c.indices[k] as usize;
            let cv = c.values[k];
            let (conf, pref) = if cv > 0.0 { (cv, 1.0) } else { (-cv, 0.0) };
            for p in 0..f {
                b[p] += (conf * pref * y[i * f + p]) as f64;
                for q in 0..f {
                    a[p * f + q] += ((conf - 1.0) * y[i * f + p] * y[i * f + q]) as f64;
                }
            }
        }
        // Gaussian elimination (A is SPD).
        for col in 0..f {
            for row in col + 1..f {
                let m = a[row * f + col] / a[col * f + col];
                for k in col..f {
                    a[row * f + k] -= m * a[col * f + k];
                }
                b[row] -= m * b[col];
            }
        }
        let mut x = vec![0f64; f];
        for row in (0..f).rev() {
            let s: f64 = (row + 1..f).map(|k| a[row * f + k] * x[k]).sum();
            x[row] = (b[row] - s) / a[row * f + row];
        }
        x
    }

    #[test]
    fn cg_converges_to_the_exact_least_squares_row() {
        let f = 4;
        let t = [(0u32, 0u32, 3.0f32), (0, 2, -2.0), (0, 3, 5.0), (1, 1, 2.0)];
        let c = ConfidenceMatrix::from_triplets(2, 4, &t);
        let mut rng = StdRng::seed_from_u64(1);
        let y: Vec<f32> = (0..4 * f).map(|_| rng.random::<f32>()).collect();
        let mut x = vec![0f32; 2 * f];
        // CG converges in f steps in exact arithmetic; a few more absorb f32 rounding.
        sweep(&c, &mut x, &y, f, 0.1, 4 * f);
        let exact = exact_row(&c, 0, &y, f, 0.1);
        for p in 0..f {
            assert!(
                (x[p] as f64 - exact[p]).abs() < 1e-3,
                "{:?} vs {exact:?}",
                &x[..f]
            );
        }
    }

    /// The exact-solve check at a factor count the AVX-512 solver handles.
    #[test]
    fn cg_converges_to_the_exact_least_squares_row_at_16_factors() {
        let f = 16;
        let mut rng = StdRng::seed_from_u64(2);
        let t: Vec<(u32, u32, f32)> = (0..30u32)
            .filter(|_| rng.random::<f32>() < 0.5)
            .map(|i| {
                (
                    0,
                    i,
                    if i % 7 == 0 {
                        -2.0
                    } else {
                        1.0 + i as f32 * 0.2
                    },
                )
            })
            .collect();
        let c = ConfidenceMatrix::from_triplets(1, 30, &t);
        let y: Vec<f32> = (0..30 * f).map(|_| rng.random::<f32>() - 0.3).collect();
        let mut x = vec![0f32; f];
        sweep(&c, &mut x, &y, f, 0.1, 4 * f);
        let exact = exact_row(&c, 0, &y, f, 0.1);
        for p in 0..f {
            assert!((x[p] as f64 - exact[p]).abs() < 1e-3, "{x:?} vs {exact:?}");
        }
    }

    /// The AVX-512 path and the portable path compute the same half-sweep
    /// up to rounding.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_sweep_matches_portable() {
        let Some(k) = Avx512::detect() else {
            return;
        };
        let c = crate::benchdata::interactions(5, 300, 120, 3_000);
        for f in [16, 32, 48, 64] {
            let init = AlsModel::init(c.n_rows, c.n_cols, f, 9);
            let (mut a, mut b) = (init.user_factors.clone(), init.user_factors);
            let h = HalfSweep {
                y: &init.item_factors,
                f,
                reg: 0.05,
                cg_steps: 3,
            };
            sweep_avx512(k, &c, &mut a, h);
            sweep_with(Portable, &c, &mut b, h);
            let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (p, q) in a.iter().zip(&b) {
                assert!((p - q).abs() <= 1e-4 * scale, "f = {f}: {p} vs {q}");
            }
        }
    }

    /// Fold-in gives a user the exact least-squares solution of their row
    /// against the trained item factors, and ranks items as a full run does.
    #[test]
    fn fold_in_equals_the_full_solve_with_items_fixed() {
        let items: Vec<crate::Item> = (0..40)
            .map(|i| crate::test_support::item(100 + i, ContentKind::ALL[i as usize % 6]))
            .collect();
        let mut rng = StdRng::seed_from_u64(4);
        let interactions: Vec<crate::Interaction> = (0..300)
            .map(|_| {
                crate::test_support::interaction(
                    rng.random_range(1..30),
                    100 + rng.random_range(0..40),
                    [None, Some(1.0), Some(4.0), Some(5.0)][rng.random_range(0..4)],
                    rng.random_range(0..4),
                )
            })
            .collect();
        let ds = Dataset::new(items, &interactions, &[], &[]);
        let params = AlsParams {
            factors: 8,
            iterations: 5,
            ..AlsParams::default()
        };
        let (model, items) = train(&ds, &params);
        let c = ConfidenceMatrix::from_interactions(&ds.matrix, params.alpha);
        let u = 3;
        let row = ds.matrix.row(u);
        let mine: Vec<FoldInteraction> = row
            .map(|k| {
                (
                    ds.matrix.indices[k],
                    ds.matrix.ratings[k],
                    ds.matrix.counts[k],
                )
            })
            .collect();
        let folded = items.fold_in(&mine);
        let exact = exact_row(&c, u, &model.item_factors, 8, params.regularization);
        for p in 0..8 {
            assert!(
                (folded[p] as f64 - exact[p]).abs() < 1e-3,
                "{folded:?} vs {exact:?}"
            );
        }
        // With the trained user factors, the item model ranks as a full run.
        let user = ds.matrix.users.id(u);
        assert_eq!(
            items.recommend(user, model.user(u), &ds.excluded(u)),
            model.recommend(&ds, Some(&[user]), params.n)
        );
    }

    #[test]
    fn confidence_encodes_preference_sign() {
        assert!(confidence(1.0, 0, 5.0) < -1.0);
        assert!(confidence(5.0, 0, 5.0) > confidence(3.0, 0, 5.0));
        assert!(confidence(0.0, 10, 5.0) > confidence(0.0, 0, 5.0));
        assert!(confidence(0.0, 0, 5.0) >= 1.0);
    }

    #[test]
    fn transpose_round_trips() {
        let t = [(0u32, 2u32, 1.5f32), (1, 0, 2.0), (2, 2, -3.0), (0, 0, 4.0)];
        let c = ConfidenceMatrix::from_triplets(3, 3, &t);
        assert_eq!(c.transpose().transpose(), c);
        assert_eq!(c.transpose().indices, vec![0, 1, 0, 2]);
    }
}
