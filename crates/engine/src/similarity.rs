//! Content similarity within a kind (spec §5.2, defects 5 and 7): TF-IDF over
//! each item's text soup, then the exact top-k cosine neighbours of every
//! item through an inverted index. Only pairs sharing a term are ever
//! touched, the dense item × item matrix is never built, nothing is
//! truncated, and each source row is independent, so computing the rows of
//! a few (new or edited) items gives exactly the rows a full run gives.

use crate::cancel::{Cancel, Cancelled};
use crate::text::{self, SparseRows};
use crate::topk::TopK;
#[cfg(test)]
use crate::topk::top_k;
use crate::{ContentKind, Dataset, Item};
use rayon::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimilarityParams {
    /// Neighbours kept per item (the original kept 10).
    pub k: usize,
    /// Minimum cosine. The original used 0.5 on collapsed fields; with real
    /// words shared vocabulary gives lower cosines, so the default is lower
    /// and the top-k cut does the rest.
    pub min_similarity: f32,
}

impl Default for SimilarityParams {
    fn default() -> Self {
        SimilarityParams {
            k: 10,
            min_similarity: 0.1,
        }
    }
}

/// One directed row of `similars_content`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SimilarPair {
    pub source: i64,
    pub target: i64,
    pub similarity: f64,
    pub source_kind: ContentKind,
    pub target_kind: ContentKind,
}

/// Term → (row, value) postings of a [`SparseRows`] matrix (its transpose).
pub struct InvertedIndex {
    postings: SparseRows,
}

impl InvertedIndex {
    pub fn new(m: &SparseRows) -> Self {
        InvertedIndex {
            postings: SparseRows::transpose_of(m.n_cols, &m.indptr, &m.indices, &m.values),
        }
    }
}

/// Scratch accumulator of one worker thread.
struct Acc {
    sums: Vec<f32>,
    touched: Vec<u32>,
    best: TopK,
}

impl Acc {
    fn new(n_rows: usize, k: usize) -> Self {
        Acc {
            sums: vec![0.0; n_rows],
            touched: Vec::new(),
            best: TopK::new(k),
        }
    }

    /// Top neighbours of row `r` of `m` with a cosine of at least `min`,
    /// best first; `keep(target)` says which other targets qualify.
    fn neighbours(
        &mut self,
        m: &SparseRows,
        index: &InvertedIndex,
        r: usize,
        min: f32,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(u32, f32)> {
        let (ix, v) = m.row(r);
        let work: usize = ix
            .iter()
            .map(|&t| index.postings.row(t as usize).0.len())
            .sum();
        if work * 4 >= self.sums.len() {
            // Dense mode: most rows get touched anyway, so skip the branchy
            // bookkeeping and scan the accumulator once.
            self.accumulate::<false>(index, ix, v);
            self.push_all(min, keep);
        } else {
            self.accumulate::<true>(index, ix, v);
            self.push_touched(min, keep);
        }
        self.best.take()
    }

    /// Adds the source row `(ix, v)`'s dot product to every row sharing a
    /// term; `TRACK` also lists the rows touched for the first time.
    fn accumulate<const TRACK: bool>(&mut self, index: &InvertedIndex, ix: &[u32], v: &[f32]) {
        for (&t, &x) in ix.iter().zip(v) {
            let (rows, ys) = index.postings.row(t as usize);
            for (&r2, &y) in rows.iter().zip(ys) {
                let cell = &mut self.sums[r2 as usize];
                if TRACK && *cell == 0.0 {
                    self.touched.push(r2);
                }
                *cell += x * y;
            }
        }
    }

    /// Offers every row with a positive sum to the top-k, clearing the sums.
    fn push_all(&mut self, min: f32, keep: impl Fn(usize) -> bool) {
        for (r2, cell) in self.sums.iter_mut().enumerate() {
            let s = std::mem::take(cell);
            if s > 0.0 {
                offer(&mut self.best, r2, s, min, &keep);
            }
        }
    }

    /// Offers the touched rows to the top-k, clearing their sums.
    fn push_touched(&mut self, min: f32, keep: impl Fn(usize) -> bool) {
        for &r2 in &self.touched {
            let s = std::mem::take(&mut self.sums[r2 as usize]);
            offer(&mut self.best, r2 as usize, s, min, &keep);
        }
        self.touched.clear();
    }
}

/// Offers `(r2, s)` to `best`. Most sums are under `min` or lose to the
/// current k-th: two comparisons turn them away before `keep`, which a
/// whole catalogue's scan per source would otherwise call for every row.
#[inline(always)]
fn offer(best: &mut TopK, r2: usize, s: f32, min: f32, keep: &impl Fn(usize) -> bool) {
    let candidate = (r2 as u32, s.min(1.0));
    if s >= min && best.admits(candidate) && keep(r2) {
        best.push(candidate);
    }
}

/// Exact top-`params.k` cosine neighbours (dot products of L2-normalised
/// rows) of each row in `sources` (all rows if `None`), excluding the row
/// itself and cosines below `params.min_similarity`. Returns one list per
/// requested source, best first.
pub fn top_k_cosine(
    m: &SparseRows,
    index: &InvertedIndex,
    sources: Option<&[usize]>,
    params: &SimilarityParams,
) -> Vec<Vec<(u32, f32)>> {
    top_k_cosine_with(m, index, sources, params, |_, _| true, &Cancel::never()).unwrap_or_default()
}

/// [`top_k_cosine`] without the targets for which `accept(source, target)`
/// is false, given up (between source rows) once `cancel` is set.
pub fn top_k_cosine_with<F>(
    m: &SparseRows,
    index: &InvertedIndex,
    sources: Option<&[usize]>,
    params: &SimilarityParams,
    accept: F,
    cancel: &Cancel,
) -> Result<Vec<Vec<(u32, f32)>>, Cancelled>
where
    F: Fn(usize, usize) -> bool + Sync,
{
    let n = m.n_rows();
    let all: Vec<usize>;
    let sources = match sources {
        Some(s) => s,
        None => {
            all = (0..n).collect();
            &all
        }
    };
    let lists = sources
        .par_iter()
        .map_init(
            || Acc::new(n, params.k),
            |acc, &r| {
                if cancel.is_cancelled() {
                    return Vec::new();
                }
                let min = params.min_similarity;
                acc.neighbours(m, index, r, min, |r2| r2 != r && accept(r, r2))
            },
        )
        .collect();
    cancel.check()?;
    Ok(lists)
}

/// Same-kind neighbours of every item (`sources = None`) or of the given
/// item ids only. Returns directed pairs, per source best first.
pub fn content_similarities(
    items: &[Item],
    sources: Option<&[i64]>,
    params: &SimilarityParams,
) -> Vec<SimilarPair> {
    content_similarities_with(items, sources, params, &Cancel::never()).unwrap_or_default()
}

/// [`content_similarities`], given up once `cancel` is set.
pub fn content_similarities_with(
    items: &[Item],
    sources: Option<&[i64]>,
    params: &SimilarityParams,
    cancel: &Cancel,
) -> Result<Vec<SimilarPair>, Cancelled> {
    let mut out = Vec::new();
    for kind in ContentKind::ALL {
        cancel.check()?;
        let of_kind: Vec<&Item> = items.iter().filter(|i| i.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let src: Option<Vec<usize>> = sources.map(|ids| {
            let mut wanted: Vec<i64> = ids.to_vec();
            wanted.sort_unstable();
            of_kind
                .iter()
                .enumerate()
                .filter(|(_, it)| wanted.binary_search(&it.id).is_ok())
                .map(|(p, _)| p)
                .collect()
        });
        if matches!(&src, Some(s) if s.is_empty()) {
            continue;
        }
        let (_, m) = text::fit_transform(&of_kind);
        let index = InvertedIndex::new(&m);
        let lists = top_k_cosine_with(&m, &index, src.as_deref(), params, |_, _| true, cancel)?;
        let rows: Vec<usize> = src.unwrap_or_else(|| (0..of_kind.len()).collect());
        for (r, list) in rows.into_iter().zip(lists) {
            for (t, s) in list {
                out.push(SimilarPair {
                    source: of_kind[r].id,
                    target: of_kind[t as usize].id,
                    similarity: s as f64,
                    source_kind: kind,
                    target_kind: kind,
                });
            }
        }
    }
    Ok(out)
}

/// Neighbour lists by dataset item index, as FromSimilarContent reads them.
#[derive(Debug, Clone, Default)]
pub struct Neighbours {
    pub lists: Vec<Vec<(u32, f32)>>,
}

impl Neighbours {
    /// Builds the lists from stored `similars_content` rows; pairs whose
    /// items are unknown or of different kinds are ignored.
    pub fn from_pairs(ds: &Dataset, pairs: &[SimilarPair]) -> Self {
        let mut lists = vec![Vec::new(); ds.items.len()];
        for p in pairs {
            if p.source_kind != p.target_kind {
                continue;
            }
            if let (Some(s), Some(t)) = (
                ds.item_index.position(p.source),
                ds.item_index.position(p.target),
            ) {
                lists[s].push((t as u32, p.similarity as f32));
            }
        }
        for l in &mut lists {
            l.sort_unstable_by(crate::topk::order);
            l.dedup_by_key(|e| e.0);
        }
        Neighbours { lists }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, kind: ContentKind, text: &str) -> Item {
        Item {
            text: vec![text.to_owned()],
            ..crate::test_support::item(id, kind)
        }
    }

    #[test]
    fn neighbours_share_terms_and_stay_in_kind() {
        let items = vec![
            item(1, ContentKind::Movie, "space alien invasion ship"),
            item(2, ContentKind::Movie, "alien space ship crew"),
            item(3, ContentKind::Movie, "romantic comedy paris"),
            item(4, ContentKind::Movie, "paris love comedy"),
            item(5, ContentKind::Book, "space alien invasion ship"),
        ];
        let p = content_similarities(&items, None, &SimilarityParams::default());
        let of = |s: i64| -> Vec<i64> {
            p.iter()
                .filter(|x| x.source == s)
                .map(|x| x.target)
                .collect()
        };
        assert_eq!(of(1), vec![2]);
        assert_eq!(of(3), vec![4]);
        assert!(of(5).is_empty());
        assert!(p.iter().all(|x| x.similarity > 0.0 && x.similarity <= 1.0));
    }

    #[test]
    fn matches_brute_force_and_subset_rows_equal_full_rows() {
        let docs: Vec<String> = (0..300)
            .map(|i| format!("t{} t{} t{} u{}", i % 17, i % 23, (i * 7) % 31, i % 5))
            .collect();
        let refs: Vec<&String> = docs.iter().collect();
        let (_, m) = text::fit_transform(&refs);
        let idx = InvertedIndex::new(&m);
        let params = SimilarityParams {
            k: 5,
            min_similarity: 0.05,
        };
        let full = top_k_cosine(&m, &idx, None, &params);
        let dot = |a: usize, b: usize| -> f32 {
            let (ia, va) = m.row(a);
            let (ib, vb) = m.row(b);
            let mut s = 0.0;
            for (i, x) in ia.iter().zip(va) {
                if let Ok(p) = ib.binary_search(i) {
                    s += x * vb[p];
                }
            }
            s
        };
        for r in [0usize, 17, 150, 299] {
            let mut brute: Vec<(u32, f32)> = (0..300)
                .filter(|&t| t != r)
                .map(|t| (t as u32, dot(r, t)))
                .filter(|e| e.1 >= 0.05)
                .collect();
            top_k(&mut brute, 5);
            let got = &full[r];
            assert_eq!(got.len(), brute.len());
            for (g, b) in got.iter().zip(&brute) {
                assert!((g.1 - b.1).abs() < 1e-5, "row {r}: {got:?} vs {brute:?}");
            }
        }
        let subset = top_k_cosine(&m, &idx, Some(&[150, 3]), &params);
        assert_eq!(subset[0], full[150]);
        assert_eq!(subset[1], full[3]);
    }
}
