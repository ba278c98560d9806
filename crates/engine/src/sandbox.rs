//! Sandbox runs (spec §8.2, defect 9): FromProfile and FromSimilarContent for
//! one synthetic profile, computed only from the snapshot the caller passes
//! (declared genres and interactions), never from live user data.

use crate::cancel::{Cancel, Cancelled};
use crate::from_profile::{self, ProfileParams, Subject};
use crate::from_similar_content::{self, SimilarContentParams};
use crate::similarity::Neighbours;
use crate::{ContentKind, Dataset, EngineName, interaction_preference};
use serde::Serialize;

/// One `recommendation_launched_meta` row of the snapshot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfileMeta {
    pub item: i64,
    /// 1..5, `None`/0 for "not rated".
    pub rating: Option<f32>,
    /// Views plus play counter.
    pub count: u32,
}

/// The snapshot of a sandbox profile at launch time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SandboxProfile {
    pub liked_genres: Vec<i64>,
    pub metas: Vec<ProfileMeta>,
}

/// One `recommendation_launched_result` row (without the event id).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SandboxRow {
    pub kind: ContentKind,
    pub item: i64,
    pub score: f64,
    pub engine: EngineName,
}

/// FromProfile rows then FromSimilarContent rows for `profile`. Items in the
/// snapshot are excluded; items unknown to the catalogue are ignored.
pub fn recommend_profile(
    ds: &Dataset,
    neighbours: &Neighbours,
    profile: &SandboxProfile,
    profile_params: &ProfileParams,
    similar_params: &SimilarContentParams,
) -> Vec<SandboxRow> {
    recommend_profile_with(
        ds,
        neighbours,
        profile,
        profile_params,
        similar_params,
        &Cancel::never(),
    )
    .unwrap_or_default()
}

/// [`recommend_profile`], given up between its two engines once `cancel` is set.
pub fn recommend_profile_with(
    ds: &Dataset,
    neighbours: &Neighbours,
    profile: &SandboxProfile,
    profile_params: &ProfileParams,
    similar_params: &SimilarContentParams,
    cancel: &Cancel,
) -> Result<Vec<SandboxRow>, Cancelled> {
    cancel.check()?;
    let mut interactions = Vec::new();
    for m in &profile.metas {
        if let Some(i) = ds.item_index.position(m.item) {
            let r = m.rating.unwrap_or(0.0);
            interactions.push((i as u32, interaction_preference(r, m.count)));
        }
    }
    let mut excluded: Vec<u32> = interactions.iter().map(|e| e.0).collect();
    excluded.sort_unstable();
    excluded.dedup();
    let subject = Subject {
        interactions,
        liked: profile.liked_genres.clone(),
        excluded,
    };
    let by_profile = from_profile::for_subject(ds, &subject, profile_params);
    cancel.check()?;
    let by_similar = from_similar_content::for_subject(ds, neighbours, &subject, similar_params);
    cancel.check()?;
    Ok(by_profile
        .into_iter()
        .chain(by_similar)
        .map(|r| SandboxRow {
            kind: r.kind,
            item: r.item,
            score: r.score,
            engine: r.engine,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Item;
    use crate::similarity::{SimilarityParams, content_similarities};
    use crate::test_support::{interaction, item};

    #[test]
    fn profile_gets_both_engines_and_ignores_live_users() {
        let mk = |id: i64, g: i64, text: &str| Item {
            text: vec![text.to_owned()],
            genres: vec![g],
            rating: Some(4.0),
            rating_count: 5,
            ..item(id, ContentKind::Movie)
        };
        let items = vec![
            mk(1, 10, "space alien ship"),
            mk(2, 10, "alien ship crew"),
            mk(3, 20, "paris love story"),
            mk(4, 20, "love story in rome"),
        ];
        // A live user who loves genre 20 must not influence the sandbox.
        let live = [interaction(5, 3, Some(5.0), 0)];
        let ds = Dataset::new(items.clone(), &live, &[(5, 20)], &[]);
        let nb = Neighbours::from_pairs(
            &ds,
            &content_similarities(&items, None, &SimilarityParams::default()),
        );
        let profile = SandboxProfile {
            liked_genres: vec![10],
            metas: vec![ProfileMeta {
                item: 1,
                rating: Some(5.0),
                count: 0,
            }],
        };
        let rows = recommend_profile(
            &ds,
            &nb,
            &profile,
            &ProfileParams::default(),
            &SimilarContentParams::default(),
        );
        let fp: Vec<i64> = rows
            .iter()
            .filter(|r| r.engine == EngineName::FromProfile)
            .map(|r| r.item)
            .collect();
        let fs: Vec<i64> = rows
            .iter()
            .filter(|r| r.engine == EngineName::FromSimilarContent)
            .map(|r| r.item)
            .collect();
        assert_eq!(fp, vec![2]);
        assert_eq!(fs, vec![2]);
    }
}
