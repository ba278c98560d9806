//! FromSimilarContent (spec §5.5, defects 2, 3 and 6), engine name
//! `FromSimilarContent`, priority 2: the same-kind neighbours (§5.2) of the
//! items a subject liked.
//!
//! Each liked source `i` (preference `p_i > 0`, see
//! [`crate::interaction_preference`]) vouches for its neighbour `j` with
//! `e = sim_ij · p_i`; the score is the noisy-or `1 − Π(1 − e)` over
//! sources, so it stays in 0..1, grows with independent evidence and never
//! saturates at 1 the way the original's clipped sum did. Disliked sources
//! (1-2 stars) multiply the score by `1 − sim_ij · |p_i|`. Consumed and
//! flagged items are excluded and only the top `n` per kind are kept.

use crate::from_profile::Subject;
use crate::similarity::Neighbours;
use crate::topk::top_k;
use crate::{ContentKind, Dataset, EngineName, Group, Recommendation};

use crate::cancel::{Cancel, Cancelled};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimilarContentParams {
    /// Items kept per subject and kind.
    pub n: usize,
}

impl Default for SimilarContentParams {
    fn default() -> Self {
        SimilarContentParams { n: 50 }
    }
}

/// Evidence per neighbour item, accumulated in a dense per-worker buffer
/// the size of the catalogue: a subject touches a few thousand items at
/// most, so a map per subject cost more in tree upkeep and allocation than
/// the arithmetic. Only the touched slots are reset, so a subject costs
/// what it touches, not the catalogue.
#[derive(Default)]
struct Evidence {
    /// Per item: (product of `1 − e` over liked sources, product of `1 − e`
    /// over disliked ones); (1, 1) for untouched items.
    acc: Vec<(f32, f32)>,
    slot: Vec<Slot>,
    touched: Vec<u32>,
}

/// State of an item in [`Evidence`] while one subject accumulates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Untouched,
    Touched,
    /// Never recommended to this subject: its evidence is not gathered, which
    /// saves a search of the exclusions per candidate.
    Excluded,
}

impl Evidence {
    /// Multiplies in the evidence of every member's sources, in the order of
    /// members, interactions and neighbour lists (so products round the same
    /// way whatever the buffer), skipping the `excluded` items (sorted).
    fn accumulate(&mut self, nb: &FlatNeighbours, members: &[Subject], excluded: &[u32]) {
        if self.acc.len() < nb.n_items() {
            self.acc.resize(nb.n_items(), (1.0, 1.0));
            self.slot.resize(nb.n_items(), Slot::Untouched);
        }
        self.mark(excluded, Slot::Excluded);
        for m in members {
            for &(i, p) in &m.interactions {
                for &(j, sim) in nb.of(i) {
                    match self.slot[j as usize] {
                        Slot::Excluded => continue,
                        Slot::Untouched => {
                            self.slot[j as usize] = Slot::Touched;
                            self.touched.push(j);
                        }
                        Slot::Touched => {}
                    }
                    let e = (sim * p.abs()).clamp(0.0, 1.0);
                    let a = &mut self.acc[j as usize];
                    if p > 0.0 {
                        a.0 *= 1.0 - e;
                    } else {
                        a.1 *= 1.0 - e;
                    }
                }
            }
        }
        self.mark(excluded, Slot::Untouched);
    }

    /// Sets the slots of `items` that are in the catalogue.
    fn mark(&mut self, items: &[u32], slot: Slot) {
        for &i in items {
            if let Some(s) = self.slot.get_mut(i as usize) {
                *s = slot;
            }
        }
    }

    /// The touched items with their evidence, in first-touch order; leaves
    /// the buffer as new for the next subject.
    fn drain(&mut self) -> impl Iterator<Item = (u32, (f32, f32))> + '_ {
        let (acc, slot) = (&mut self.acc, &mut self.slot);
        self.touched.drain(..).map(move |j| {
            slot[j as usize] = Slot::Untouched;
            (j, std::mem::replace(&mut acc[j as usize], (1.0, 1.0)))
        })
    }
}

/// The neighbour lists in one array, indexed by offsets: a subject reads
/// the lists of its items at random, and a list of `Vec`s costs a cache
/// miss for the header before the one for the entries.
struct FlatNeighbours {
    /// List of item `i`: `entries[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    entries: Vec<(u32, f32)>,
}

impl FlatNeighbours {
    /// `n_items` lists (the catalogue's size), empty beyond `nb`'s.
    fn new(nb: &Neighbours, n_items: usize) -> Self {
        let mut offsets = Vec::with_capacity(n_items + 1);
        let mut entries = Vec::new();
        offsets.push(0);
        for i in 0..n_items {
            entries.extend_from_slice(nb.lists.get(i).map_or(&[][..], Vec::as_slice));
            offsets.push(entries.len());
        }
        FlatNeighbours { offsets, entries }
    }

    fn n_items(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The neighbours of item `i`, none for an item out of range.
    fn of(&self, i: u32) -> &[(u32, f32)] {
        match self.offsets.get(i as usize..i as usize + 2) {
            Some(&[start, end]) => &self.entries[start..end],
            _ => &[],
        }
    }
}

/// What every subject of one run reads.
struct Run<'a> {
    ds: &'a Dataset,
    nb: FlatNeighbours,
    params: &'a SimilarContentParams,
}

impl<'a> Run<'a> {
    fn new(ds: &'a Dataset, nb: &Neighbours, params: &'a SimilarContentParams) -> Self {
        Run {
            ds,
            nb: FlatNeighbours::new(nb, ds.items.len()),
            params,
        }
    }

    /// Top-`n` per kind for `members` as one subject; `evidence` is the
    /// worker's buffer, left clean. The candidates' order does not matter:
    /// [`top_k`] ranks by score, then index.
    fn recommend(
        &self,
        evidence: &mut Evidence,
        subject_id: i64,
        members: &[Subject],
    ) -> Vec<Recommendation> {
        let excluded = Subject::excluded_by_any(members);
        evidence.accumulate(&self.nb, members, &excluded);
        let mut per_kind: [Vec<(u32, f32)>; 6] = Default::default();
        for (j, (miss, neg)) in evidence.drain() {
            let score = (1.0 - miss) * neg;
            if score > 0.0 {
                per_kind[self.ds.item_kinds[j as usize].index()].push((j, score));
            }
        }
        let mut out = Vec::new();
        for (k, mut cands) in per_kind.into_iter().enumerate() {
            top_k(&mut cands, self.params.n);
            out.extend(cands.into_iter().map(|(j, s)| Recommendation {
                subject: subject_id,
                item: self.ds.items[j as usize].id,
                kind: ContentKind::ALL[k],
                score: s as f64,
                engine: EngineName::FromSimilarContent,
            }));
        }
        out
    }
}

/// Recommendations for every user (`users = None`) or the given user ids.
pub fn for_users(
    ds: &Dataset,
    neighbours: &Neighbours,
    users: Option<&[i64]>,
    params: &SimilarContentParams,
) -> Vec<Recommendation> {
    for_users_with(ds, neighbours, users, params, &Cancel::never()).unwrap_or_default()
}

/// [`for_users`], given up (between users) once `cancel` is set.
pub fn for_users_with(
    ds: &Dataset,
    neighbours: &Neighbours,
    users: Option<&[i64]>,
    params: &SimilarContentParams,
    cancel: &Cancel,
) -> Result<Vec<Recommendation>, Cancelled> {
    let run = Run::new(ds, neighbours, params);
    cancel.par_flat_map_init(&ds.user_rows(users), Evidence::default, |ev, &r| {
        run.recommend(ev, ds.matrix.users.id(r), &[Subject::of_user(ds, r)])
    })
}

/// Recommendations for groups (evidence of every member); `subject` is the
/// group id.
pub fn for_groups(
    ds: &Dataset,
    neighbours: &Neighbours,
    groups: &[Group],
    params: &SimilarContentParams,
) -> Vec<Recommendation> {
    for_groups_with(ds, neighbours, groups, params, &Cancel::never()).unwrap_or_default()
}

/// [`for_groups`], given up (between groups) once `cancel` is set.
pub fn for_groups_with(
    ds: &Dataset,
    neighbours: &Neighbours,
    groups: &[Group],
    params: &SimilarContentParams,
    cancel: &Cancel,
) -> Result<Vec<Recommendation>, Cancelled> {
    let run = Run::new(ds, neighbours, params);
    cancel.par_flat_map_init(groups, Evidence::default, |ev, g| {
        run.recommend(ev, g.id, &Subject::of_group(ds, &g.members))
    })
}

pub(crate) fn for_subject(
    ds: &Dataset,
    neighbours: &Neighbours,
    subject: &Subject,
    params: &SimilarContentParams,
) -> Vec<Recommendation> {
    let members = std::slice::from_ref(subject);
    Run::new(ds, neighbours, params).recommend(&mut Evidence::default(), 0, members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::similarity::SimilarPair;
    use crate::test_support::{interaction, item};
    use std::collections::BTreeMap;

    fn pair(s: i64, t: i64, sim: f64) -> SimilarPair {
        SimilarPair {
            source: s,
            target: t,
            similarity: sim,
            source_kind: ContentKind::Book,
            target_kind: ContentKind::Book,
        }
    }

    /// What `Run::recommend` did before the dense buffer, kept as its
    /// reference: evidence in an ordered map per subject.
    fn recommend_subject_brute_force(
        ds: &Dataset,
        nb: &Neighbours,
        subject_id: i64,
        members: &[Subject],
        params: &SimilarContentParams,
    ) -> Vec<Recommendation> {
        let mut acc: BTreeMap<u32, (f32, f32)> = BTreeMap::new();
        for m in members {
            for &(i, p) in &m.interactions {
                let Some(list) = nb.lists.get(i as usize) else {
                    continue;
                };
                for &(j, sim) in list {
                    let e = (sim * p.abs()).clamp(0.0, 1.0);
                    let a = acc.entry(j).or_insert((1.0, 1.0));
                    if p > 0.0 {
                        a.0 *= 1.0 - e;
                    } else {
                        a.1 *= 1.0 - e;
                    }
                }
            }
        }
        let excluded = Subject::excluded_by_any(members);
        let mut per_kind: [Vec<(u32, f32)>; 6] = Default::default();
        for (j, (miss, neg)) in acc {
            let score = (1.0 - miss) * neg;
            if score > 0.0 && excluded.binary_search(&j).is_err() {
                per_kind[ds.items[j as usize].kind.index()].push((j, score));
            }
        }
        let mut out = Vec::new();
        for (k, mut cands) in per_kind.into_iter().enumerate() {
            top_k(&mut cands, params.n);
            out.extend(cands.into_iter().map(|(j, s)| Recommendation {
                subject: subject_id,
                item: ds.items[j as usize].id,
                kind: ContentKind::ALL[k],
                score: s as f64,
                engine: EngineName::FromSimilarContent,
            }));
        }
        out
    }

    /// Users and groups through the reused per-worker buffers give exactly
    /// what a fresh map per subject gave, for short and long lists.
    #[test]
    fn dense_evidence_recommends_exactly_like_a_map_per_subject() {
        let mut compared = 0;
        for seed in 1..=3 {
            let (ds, groups) = crate::test_support::random_dataset(seed);
            let nb = crate::benchdata::neighbours(seed, &ds, 12);
            for n in [1, 5, 50] {
                let params = SimilarContentParams { n };
                let want: Vec<Recommendation> = (0..ds.matrix.n_users())
                    .flat_map(|r| {
                        let s = [Subject::of_user(&ds, r)];
                        recommend_subject_brute_force(&ds, &nb, ds.matrix.users.id(r), &s, &params)
                    })
                    .collect();
                assert_eq!(
                    for_users(&ds, &nb, None, &params),
                    want,
                    "seed {seed}, n {n}"
                );
                let want_groups: Vec<Recommendation> = groups
                    .iter()
                    .flat_map(|g| {
                        let members = Subject::of_group(&ds, &g.members);
                        recommend_subject_brute_force(&ds, &nb, g.id, &members, &params)
                    })
                    .collect();
                assert_eq!(for_groups(&ds, &nb, &groups, &params), want_groups);
                compared += want.len() + want_groups.len();
            }
        }
        assert!(compared > 50_000, "{compared}");
    }

    #[test]
    fn evidence_accumulates_and_dislikes_subtract() {
        let items = (1..=6).map(|id| item(id, ContentKind::Book)).collect();
        let inter = [
            interaction(1, 1, Some(5.0), 0),
            interaction(1, 2, None, 3),
            interaction(1, 3, Some(1.0), 0),
        ];
        let ds = Dataset::new(items, &inter, &[], &[]);
        let pairs = [
            pair(1, 4, 0.5),
            pair(2, 4, 0.5),
            pair(1, 5, 0.6),
            pair(1, 6, 0.9),
            pair(3, 6, 0.9),
            pair(1, 2, 0.9),
        ];
        let nb = Neighbours::from_pairs(&ds, &pairs);
        let r = for_users(&ds, &nb, None, &SimilarContentParams::default());
        let score = |id: i64| r.iter().find(|x| x.item == id).map(|x| x.score);
        // Two sources at 0.5 beat one at 0.6; 6 is pulled down by the dislike;
        // 2 is consumed.
        assert!(score(4).unwrap() > score(5).unwrap());
        assert!(score(6).unwrap() < score(5).unwrap());
        assert_eq!(score(2), None);
        assert!(r.iter().all(|x| x.score > 0.0 && x.score <= 1.0));
        assert_eq!(r[0].item, 4);
    }
}
