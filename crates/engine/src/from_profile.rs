//! FromProfile (spec §5.4, defects 3 and 4), engine name `FromProfile`,
//! priority 4.
//!
//! A subject's genre profile for a kind mixes two normalised parts:
//! * history: `Σ preference × genre flag` over the items of that kind it
//!   interacted with, where a preference is in -1..1 (1-2 stars count
//!   against a genre) and negative totals are cut to 0;
//! * interests: its declared genres of that kind, uniformly.
//!
//! Each present part sums to 1 and they are averaged, so a subject with
//! interests and no history (cold start) still gets recommendations.
//! An item's score is the weighted geometric mean
//! `cos(item genres, profile)^(1-β) · prior^β`, in 0..1: the cosine says how
//! well the item's genres fit, the prior (see [`popularity_prior`]) ranks
//! items of similar genres, and a product (rather than a sum) keeps an item
//! that misses the profile low however popular it is. Consumed and flagged items are
//! excluded, items sharing no genre with the profile are not recommended.

use crate::popularity;
use crate::text::FxMap;
use crate::topk::{TopK, order};
use crate::{ContentKind, Dataset, EngineName, Group, Recommendation, interaction_preference};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::cancel::{Cancel, Cancelled};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfileParams {
    /// Items kept per subject and kind (the original kept up to 200).
    pub n: usize,
    /// Exponent β of the popularity prior in the score (tuned on planted
    /// data, `examples/evaluate.rs`).
    pub popularity_weight: f32,
    /// Share of the declared interests when a subject also has history.
    pub interest_share: f32,
}

impl Default for ProfileParams {
    fn default() -> Self {
        ProfileParams {
            n: 50,
            popularity_weight: 0.7,
            interest_share: 0.5,
        }
    }
}

/// What a subject (user, group member, sandbox profile) brings.
#[derive(Debug, Clone, Default)]
pub(crate) struct Subject {
    /// (item index, preference in -1..1).
    pub interactions: Vec<(u32, f32)>,
    /// Declared genre ids.
    pub liked: Vec<i64>,
    /// Item indices never to recommend, sorted.
    pub excluded: Vec<u32>,
}

impl Subject {
    pub(crate) fn of_user(ds: &Dataset, row: usize) -> Subject {
        let m = &ds.matrix;
        let r = m.row(row);
        Subject {
            interactions: r
                .map(|e| {
                    (
                        m.indices[e],
                        interaction_preference(m.ratings[e], m.counts[e]),
                    )
                })
                .collect(),
            liked: ds.interests[row].clone(),
            excluded: ds.excluded(row),
        }
    }

    /// Members merged into one subject: all interactions, all interests, the
    /// union of exclusions (a group wants something new to everyone).
    pub(crate) fn of_group(ds: &Dataset, members: &[i64]) -> Vec<Subject> {
        ds.user_rows(Some(members))
            .into_iter()
            .map(|r| Subject::of_user(ds, r))
            .collect()
    }

    /// Item indices not to recommend to `members` as one subject: what any
    /// of them excludes, sorted.
    pub(crate) fn excluded_by_any(members: &[Subject]) -> Vec<u32> {
        let mut excluded: Vec<u32> = members
            .iter()
            .flat_map(|m| m.excluded.iter().copied())
            .collect();
        excluded.sort_unstable();
        excluded.dedup();
        excluded
    }
}

/// Dense genre ids and per-item genre lists of a dataset.
pub(crate) struct Genres {
    pos: FxMap<i64, u32>,
    kind: Vec<ContentKind>,
    item_genres: Vec<Vec<u32>>,
}

impl Genres {
    pub(crate) fn new(ds: &Dataset) -> Genres {
        let mut pos: FxMap<i64, u32> = FxMap::default();
        let mut kind = Vec::new();
        let item_genres = ds
            .items
            .iter()
            .map(|it| {
                let mut g: Vec<u32> = it
                    .genres
                    .iter()
                    .map(|&id| {
                        *pos.entry(id).or_insert_with(|| {
                            kind.push(it.kind);
                            (kind.len() - 1) as u32
                        })
                    })
                    .collect();
                g.sort_unstable();
                g.dedup();
                g
            })
            .collect();
        Genres {
            pos,
            kind,
            item_genres,
        }
    }

    /// Normalised genre weights of one subject for one kind (sums to 1), or
    /// `None` when it has no usable signal for that kind.
    pub(crate) fn profile(
        &self,
        ds: &Dataset,
        s: &Subject,
        kind: ContentKind,
        interest_share: f32,
    ) -> Option<Vec<f32>> {
        let n = self.kind.len();
        let mut hist = vec![0f32; n];
        for &(i, p) in &s.interactions {
            if ds.item_kinds[i as usize] != kind {
                continue;
            }
            for &g in &self.item_genres[i as usize] {
                hist[g as usize] += p;
            }
        }
        let hsum: f32 = hist.iter().map(|x| x.max(0.0)).sum();
        let mut liked = vec![0f32; n];
        let mut lcount = 0;
        for g in &s.liked {
            if let Some(&p) = self.pos.get(g)
                && self.kind[p as usize] == kind
            {
                liked[p as usize] = 1.0;
                lcount += 1;
            }
        }
        let share = match (hsum > 0.0, lcount > 0) {
            (false, false) => return None,
            (true, false) => 0.0,
            (false, true) => 1.0,
            (true, true) => interest_share,
        };
        Some(
            (0..n)
                .map(|g| {
                    let h = if hsum > 0.0 {
                        hist[g].max(0.0) / hsum
                    } else {
                        0.0
                    };
                    let l = if lcount > 0 {
                        liked[g] / lcount as f32
                    } else {
                        0.0
                    };
                    (1.0 - share) * h + share * l
                })
                .collect(),
        )
    }
}

/// The items of one kind that share one genre set.
struct GenreSet {
    /// Dense genre ids, sorted: the list every item of the set has.
    genres: Vec<u32>,
    /// Item indices, highest `prior^β` first, then lowest index: the order
    /// of their scores under any profile, since they share the cosine.
    items: Vec<u32>,
    /// `prior^β` of the first item, kept here so that bounding a set's
    /// score reads no item.
    top_prior: f32,
}

/// A genre set that shares a genre with a profile: `cos^(1-β)`, and the
/// score of its first item, the best any of its items can get.
struct Fitting {
    best: f32,
    fit: f32,
    /// Position in its kind's sets.
    set: usize,
}

/// Ordered by `best` alone (`total_cmp`, like [`order`]), for the heap.
impl Ord for Fitting {
    fn cmp(&self, other: &Self) -> Ordering {
        self.best.total_cmp(&other.best)
    }
}

impl PartialOrd for Fitting {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Fitting {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Fitting {}

/// Items of each kind grouped by genre set, and `prior^β` of every item,
/// computed once per run. An item's score depends only on its set's cosine
/// and its own prior, so a subject costs one cosine per set (hundreds)
/// rather than two `powf` per item (hundreds of thousands), and only the
/// head of each set can reach a top n.
struct GenreSets {
    by_kind: [Vec<GenreSet>; 6],
    /// `prior^β` by item index.
    prior_pow: Vec<f32>,
    /// β, the popularity weight.
    beta: f32,
}

impl GenreSets {
    fn new(ds: &Dataset, genres: &Genres, prior: &[f32], beta: f32) -> Self {
        let prior_pow: Vec<f32> = prior.iter().map(|p| p.powf(beta)).collect();
        let by_kind = std::array::from_fn(|k| {
            let mut set_of: FxMap<&[u32], usize> = FxMap::default();
            let mut sets: Vec<GenreSet> = Vec::new();
            for &i in &ds.kind_items[k] {
                let g = &genres.item_genres[i as usize];
                if g.is_empty() {
                    continue;
                }
                let s = *set_of.entry(g).or_insert_with(|| {
                    sets.push(GenreSet {
                        genres: g.clone(),
                        items: Vec::new(),
                        top_prior: 0.0,
                    });
                    sets.len() - 1
                });
                sets[s].items.push(i);
            }
            for set in &mut sets {
                set.items.sort_unstable_by(|&a, &b| {
                    let (pa, pb) = (prior_pow[a as usize], prior_pow[b as usize]);
                    pb.total_cmp(&pa).then(a.cmp(&b))
                });
                set.top_prior = prior_pow[set.items[0] as usize];
            }
            sets
        });
        GenreSets {
            by_kind,
            prior_pow,
            beta,
        }
    }

    /// Top-`n` items of `kind` for a genre profile `w`, best first: the
    /// items of positive cosine, scored `cos^(1-β) · prior^β`. Sets are
    /// visited best possible score first and the walk stops once no
    /// remaining item can enter the top n, which a full scan ranked with
    /// `top_k` would give exactly (same scores, same tie-break).
    fn top_n(&self, kind: ContentKind, w: &[f32], excluded: &[u32], n: usize) -> Vec<(u32, f32)> {
        let norm = w.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm == 0.0 || n == 0 {
            return Vec::new();
        }
        let sets = &self.by_kind[kind.index()];
        let mut fitting = self.fitting_sets(sets, w, norm);
        let mut top = TopK::new(n);
        while let Some(Fitting { best, fit, set }) = fitting.pop() {
            if top
                .bar()
                .is_some_and(|bar| best.total_cmp(&bar.1) == Ordering::Less)
            {
                break;
            }
            self.offer(&sets[set], fit, excluded, &mut top);
        }
        top.take()
    }

    /// The sets sharing a genre with the profile, as a max-heap on their
    /// best score: heapifying is linear and only the few sets that reach
    /// the top n are popped, where sorting them all cost a fifth of a run.
    fn fitting_sets(&self, sets: &[GenreSet], w: &[f32], norm: f32) -> BinaryHeap<Fitting> {
        let exponent = 1.0 - self.beta;
        let mut fitting = Vec::with_capacity(sets.len());
        fitting.extend(sets.iter().enumerate().filter_map(|(s, set)| {
            let dot: f32 = set.genres.iter().map(|&g| w[g as usize]).sum();
            if dot <= 0.0 {
                return None;
            }
            let cos = (dot / (norm * (set.genres.len() as f32).sqrt())).min(1.0);
            let fit = cos.powf(exponent);
            let best = fit * set.top_prior;
            Some(Fitting { best, fit, set: s })
        }));
        BinaryHeap::from(fitting)
    }

    /// Offers the items of `set` (cosine term `fit`) to `top`, best prior
    /// first, until the rest of the set cannot enter: a score lower than the
    /// bar ends the set, as every later score is at most as high; a score
    /// equal to the bar that lost on index skips the run of equal priors
    /// after it (same score, higher indices).
    fn offer(&self, set: &GenreSet, fit: f32, excluded: &[u32], top: &mut TopK) {
        let items = &set.items;
        let mut k = 0;
        while let Some(&i) = items.get(k) {
            let prior = self.prior_pow[i as usize];
            let cand = (i, fit * prior);
            k += 1;
            match top.bar() {
                Some(bar) if order(&cand, &bar) != Ordering::Less => {
                    if cand.1.total_cmp(&bar.1) == Ordering::Less {
                        return;
                    }
                    let same_prior =
                        |&j: &u32| self.prior_pow[j as usize].to_bits() == prior.to_bits();
                    k += items[k..].partition_point(same_prior);
                }
                _ if excluded.binary_search(&i).is_err() => top.push(cand),
                _ => {}
            }
        }
    }
}

/// Popularity prior of every dataset item, by item index, in 0..1: the mean
/// of the Bayesian rating (quality, [`popularity`]) and of the log number of
/// users who interacted with the item relative to the most consumed item of
/// its kind (audience). Either alone misranks: quality ignores what people
/// actually consume, audience ignores how they liked it.
pub(crate) fn popularity_prior(ds: &Dataset) -> Vec<f32> {
    let quality = popularity::compute(&ds.items).scores;
    let degree = &ds.audience;
    let mut max_log = [0f32; 6];
    for (i, it) in ds.items.iter().enumerate() {
        let l = (1.0 + degree[i] as f32).ln();
        max_log[it.kind.index()] = max_log[it.kind.index()].max(l);
    }
    ds.items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let m = max_log[it.kind.index()];
            let audience = if m > 0.0 {
                (1.0 + degree[i] as f32).ln() / m
            } else {
                0.0
            };
            0.5 * quality[i].score as f32 + 0.5 * audience
        })
        .collect()
}

/// What scoring any subject of one run needs, computed once.
struct Scorer<'a> {
    ds: &'a Dataset,
    genres: Genres,
    sets: GenreSets,
    params: &'a ProfileParams,
}

impl<'a> Scorer<'a> {
    fn new(ds: &'a Dataset, params: &'a ProfileParams) -> Self {
        let genres = Genres::new(ds);
        let prior = popularity_prior(ds);
        let sets = GenreSets::new(ds, &genres, &prior, params.popularity_weight);
        Scorer {
            ds,
            genres,
            sets,
            params,
        }
    }

    /// Sum of the members' profiles for `kind`: every member with a signal
    /// counts equally. `None` when none has one.
    fn profile(&self, members: &[Subject], kind: ContentKind) -> Option<Vec<f32>> {
        let share = self.params.interest_share;
        let profiles: Vec<Vec<f32>> = members
            .iter()
            .filter_map(|m| self.genres.profile(self.ds, m, kind, share))
            .collect();
        let mut w = vec![0f32; profiles.first()?.len()];
        for p in &profiles {
            w.iter_mut().zip(p).for_each(|(a, b)| *a += b);
        }
        Some(w)
    }

    /// Top-`n` per kind for `members` as one subject, rows of `subject_id`.
    fn recommend(&self, subject_id: i64, members: &[Subject]) -> Vec<Recommendation> {
        let (ds, params) = (self.ds, self.params);
        let excluded = Subject::excluded_by_any(members);
        let mut out = Vec::new();
        for kind in ContentKind::ALL {
            let Some(w) = self.profile(members, kind) else {
                continue;
            };
            let ranked = self.sets.top_n(kind, &w, &excluded, params.n);
            for (i, s) in ranked {
                out.push(Recommendation {
                    subject: subject_id,
                    item: ds.items[i as usize].id,
                    kind,
                    score: s as f64,
                    engine: EngineName::FromProfile,
                });
            }
        }
        out
    }
}

/// Recommendations for every user (`users = None`) or for the given user ids,
/// per kind best first. Results for a user depend only on the dataset, not
/// on which other users are computed.
pub fn for_users(
    ds: &Dataset,
    users: Option<&[i64]>,
    params: &ProfileParams,
) -> Vec<Recommendation> {
    for_users_with(ds, users, params, &Cancel::never()).unwrap_or_default()
}

/// [`for_users`], given up (between users) once `cancel` is set.
pub fn for_users_with(
    ds: &Dataset,
    users: Option<&[i64]>,
    params: &ProfileParams,
    cancel: &Cancel,
) -> Result<Vec<Recommendation>, Cancelled> {
    let scorer = Scorer::new(ds, params);
    cancel.par_flat_map(&ds.user_rows(users), |&r| {
        scorer.recommend(ds.matrix.users.id(r), &[Subject::of_user(ds, r)])
    })
}

/// Recommendations for groups; `subject` is the group id. Every member
/// counts, with or without declared interests (defect 4).
pub fn for_groups(ds: &Dataset, groups: &[Group], params: &ProfileParams) -> Vec<Recommendation> {
    for_groups_with(ds, groups, params, &Cancel::never()).unwrap_or_default()
}

/// [`for_groups`], given up (between groups) once `cancel` is set.
pub fn for_groups_with(
    ds: &Dataset,
    groups: &[Group],
    params: &ProfileParams,
    cancel: &Cancel,
) -> Result<Vec<Recommendation>, Cancelled> {
    let scorer = Scorer::new(ds, params);
    cancel.par_flat_map(groups, |g| {
        scorer.recommend(g.id, &Subject::of_group(ds, &g.members))
    })
}

/// One synthetic subject (sandbox).
pub(crate) fn for_subject(
    ds: &Dataset,
    subject: &Subject,
    params: &ProfileParams,
) -> Vec<Recommendation> {
    Scorer::new(ds, params).recommend(0, std::slice::from_ref(subject))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Item;
    use crate::test_support::{interaction, item};
    use crate::topk::top_k;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn movie(id: i64, genres: &[i64], rating: f64, count: i64) -> Item {
        Item {
            genres: genres.to_vec(),
            rating: Some(rating),
            rating_count: count,
            ..item(id, ContentKind::Movie)
        }
    }

    fn catalogue() -> Vec<Item> {
        vec![
            movie(1, &[10], 4.0, 10),
            movie(2, &[10], 4.5, 100),
            movie(3, &[20], 5.0, 1000),
            movie(4, &[10, 20], 3.0, 10),
            movie(5, &[30], 3.0, 10),
        ]
    }

    #[test]
    fn history_drives_genres_and_low_ratings_count_against() {
        let inter = [
            interaction(1, 1, Some(5.0), 0),
            interaction(1, 3, Some(1.0), 0),
        ];
        let ds = Dataset::new(catalogue(), &inter, &[], &[(1, 4)]);
        let r = for_users(&ds, None, &ProfileParams::default());
        let items: Vec<i64> = r.iter().map(|x| x.item).collect();
        // Genre 10 liked, genre 20 disliked: consumed 1 and flagged 4 excluded.
        assert_eq!(items, vec![2]);
        assert!(r.iter().all(|x| (0.0..=1.0).contains(&x.score)));
        assert_eq!(r[0].engine.priority(), Some(4));
    }

    #[test]
    fn cold_start_uses_declared_interests() {
        let ds = Dataset::new(catalogue(), &[], &[(7, 30)], &[]);
        let r = for_users(&ds, Some(&[7]), &ProfileParams::default());
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].subject, r[0].item), (7, 5));
    }

    #[test]
    fn popularity_breaks_ties_between_equal_genres() {
        let ds = Dataset::new(catalogue(), &[], &[(7, 10)], &[]);
        let r = for_users(&ds, None, &ProfileParams::default());
        let items: Vec<i64> = r.iter().map(|x| x.item).collect();
        assert_eq!(items, vec![2, 1, 4]);
    }

    /// The scan `GenreSets::top_n` replaces, kept as its reference: every
    /// item of the kind, two `powf` each, then [`top_k`].
    fn score_brute_force(
        genres: &Genres,
        ds: &Dataset,
        kind: ContentKind,
        w: &[f32],
        excluded: &[u32],
        pop: &[f32],
        params: &ProfileParams,
    ) -> Vec<(u32, f32)> {
        let norm = w.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm == 0.0 {
            return Vec::new();
        }
        let beta = params.popularity_weight;
        let mut cands = Vec::new();
        for &i in &ds.kind_items[kind.index()] {
            let g = &genres.item_genres[i as usize];
            if g.is_empty() || excluded.binary_search(&i).is_ok() {
                continue;
            }
            let dot: f32 = g.iter().map(|&g| w[g as usize]).sum();
            if dot <= 0.0 {
                continue;
            }
            let cos = (dot / (norm * (g.len() as f32).sqrt())).min(1.0);
            cands.push((i, cos.powf(1.0 - beta) * pop[i as usize].powf(beta)));
        }
        top_k(&mut cands, params.n);
        cands
    }

    /// Random profiles with zero and negative weights, and random sorted
    /// exclusions, to reach what real profiles (never negative) do not.
    fn random_profiles(
        rng: &mut StdRng,
        ds: &Dataset,
        n_genres: usize,
    ) -> Vec<(Vec<f32>, Vec<u32>)> {
        (0..40)
            .map(|_| {
                let w = (0..n_genres)
                    .map(|_| match rng.random_range(0..4) {
                        0 => 0.0,
                        1 => -rng.random::<f32>(),
                        _ => rng.random::<f32>(),
                    })
                    .collect();
                let mut excluded: Vec<u32> = (0..rng.random_range(0..400))
                    .map(|_| rng.random_range(0..ds.items.len() as u32))
                    .collect();
                excluded.sort_unstable();
                excluded.dedup();
                (w, excluded)
            })
            .collect()
    }

    /// Checks `GenreSets::top_n` against the full scan, bit for bit (same
    /// products, same tie-break), for every kind and `(profile, excluded)`
    /// case; answers the ranked lists, to count what was covered.
    fn assert_full_scan_ranking(
        ds: &Dataset,
        pop: &[f32],
        params: &ProfileParams,
        cases: &[(Vec<f32>, Vec<u32>)],
    ) -> Vec<Vec<(u32, f32)>> {
        let genres = Genres::new(ds);
        let sets = GenreSets::new(ds, &genres, pop, params.popularity_weight);
        let mut ranked = Vec::new();
        for (w, excluded) in cases {
            for kind in ContentKind::ALL {
                let got = sets.top_n(kind, w, excluded, params.n);
                let want = score_brute_force(&genres, ds, kind, w, excluded, pop, params);
                assert_eq!(got, want, "{params:?}, {kind:?}, {w:?}");
                ranked.push(want);
            }
        }
        ranked
    }

    /// Every user, every group and random profiles, for several popularity
    /// weights and list lengths; exact ties (equal priors within a genre
    /// set) are frequent in this data.
    #[test]
    fn genre_sets_rank_exactly_like_a_full_scan() {
        let (mut compared, mut tied) = (0, 0);
        for seed in 1..=3 {
            let (ds, groups) = crate::test_support::random_dataset(seed);
            let mut rng = StdRng::seed_from_u64(seed);
            let pop = popularity_prior(&ds);
            let mut subjects: Vec<Vec<Subject>> = (0..ds.matrix.n_users())
                .map(|r| vec![Subject::of_user(&ds, r)])
                .collect();
            subjects.extend(groups.iter().map(|g| Subject::of_group(&ds, &g.members)));
            for beta in [0.0, 0.3, 0.7, 1.0] {
                for n in [1, 7, 50, 10_000] {
                    let params = ProfileParams {
                        n,
                        popularity_weight: beta,
                        ..ProfileParams::default()
                    };
                    let scorer = Scorer::new(&ds, &params);
                    let mut cases = random_profiles(&mut rng, &ds, scorer.genres.kind.len());
                    for members in &subjects {
                        let excluded = Subject::excluded_by_any(members);
                        for kind in ContentKind::ALL {
                            let w = scorer.profile(members, kind);
                            cases.extend(w.map(|w| (w, excluded.clone())));
                        }
                    }
                    for list in assert_full_scan_ranking(&ds, &pop, &params, &cases) {
                        compared += list.len();
                        tied += list.windows(2).filter(|p| p[0].1 == p[1].1).count();
                    }
                }
            }
        }
        assert!(
            compared > 100_000 && tied > 10_000,
            "{compared} items, {tied} ties"
        );
    }

    /// Priors a few ulps apart, so that `cos^(1-β) · prior^β` often rounds
    /// two different priors to one score: the walk must then still look
    /// past a tie it lost on index, since a lower prior with a lower index
    /// may follow in the set.
    #[test]
    fn scores_rounded_equal_from_different_priors_rank_like_a_full_scan() {
        let mut rounded_ties = 0;
        for seed in 1..=3 {
            let (ds, _) = crate::test_support::random_dataset(seed);
            let mut rng = StdRng::seed_from_u64(seed);
            let pop: Vec<f32> = (0..ds.items.len())
                .map(|_| f32::from_bits(0.9f32.to_bits() - rng.random_range(0..200)))
                .collect();
            for beta in [0.3, 0.7] {
                for n in [1, 7, 50] {
                    let params = ProfileParams {
                        n,
                        popularity_weight: beta,
                        ..ProfileParams::default()
                    };
                    let cases = random_profiles(&mut rng, &ds, Genres::new(&ds).kind.len());
                    for list in assert_full_scan_ranking(&ds, &pop, &params, &cases) {
                        let prior = |i: u32| pop[i as usize].powf(beta);
                        rounded_ties += list
                            .windows(2)
                            .filter(|p| p[0].1 == p[1].1 && prior(p[0].0) != prior(p[1].0))
                            .count();
                    }
                }
            }
        }
        assert!(rounded_ties > 100, "{rounded_ties}");
    }

    #[test]
    fn group_includes_members_without_interests() {
        let inter = [interaction(2, 3, Some(5.0), 0)];
        let ds = Dataset::new(catalogue(), &inter, &[(1, 30)], &[]);
        let g = Group {
            id: 99,
            members: vec![1, 2, 404],
        };
        let r = for_groups(&ds, &[g], &ProfileParams::default());
        let items: Vec<i64> = r.iter().map(|x| x.item).collect();
        assert!(items.contains(&5) && items.contains(&4));
        assert!(!items.contains(&3), "consumed by a member");
        assert!(r.iter().all(|x| x.subject == 99));
    }
}
