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
use std::collections::BTreeMap;

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

/// Evidence per neighbour item: (product of `1 − e` over liked sources,
/// product of `1 − e` over disliked ones).
fn evidence(nb: &Neighbours, members: &[Subject]) -> BTreeMap<u32, (f32, f32)> {
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
    acc
}

fn recommend_subject(
    ds: &Dataset,
    nb: &Neighbours,
    subject_id: i64,
    members: &[Subject],
    params: &SimilarContentParams,
) -> Vec<Recommendation> {
    let excluded = Subject::excluded_by_any(members);
    let mut per_kind: [Vec<(u32, f32)>; 6] = Default::default();
    for (j, (miss, neg)) in evidence(nb, members) {
        let score = (1.0 - miss) * neg;
        if score > 0.0 && excluded.binary_search(&j).is_err() {
            per_kind[ds.items[j as usize].kind.index()].push((j, score));
        }
    }
    let mut out = Vec::new();
    for (k, mut cands) in per_kind.into_iter().enumerate() {
        top_k(&mut cands, params.n);
        for (j, s) in cands {
            out.push(Recommendation {
                subject: subject_id,
                item: ds.items[j as usize].id,
                kind: ContentKind::ALL[k],
                score: s as f64,
                engine: EngineName::FromSimilarContent,
            });
        }
    }
    out
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
    cancel.par_flat_map(&ds.user_rows(users), |&r| {
        let s = [Subject::of_user(ds, r)];
        recommend_subject(ds, neighbours, ds.matrix.users.id(r), &s, params)
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
    cancel.par_flat_map(groups, |g| {
        let members = Subject::of_group(ds, &g.members);
        recommend_subject(ds, neighbours, g.id, &members, params)
    })
}

pub(crate) fn for_subject(
    ds: &Dataset,
    neighbours: &Neighbours,
    subject: &Subject,
    params: &SimilarContentParams,
) -> Vec<Recommendation> {
    recommend_subject(ds, neighbours, 0, std::slice::from_ref(subject), params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::similarity::SimilarPair;
    use crate::test_support::{interaction, item};

    fn pair(s: i64, t: i64, sim: f64) -> SimilarPair {
        SimilarPair {
            source: s,
            target: t,
            similarity: sim,
            source_kind: ContentKind::Book,
            target_kind: ContentKind::Book,
        }
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
