//! The list the user sees: the API shows every engine's rows of a (user,
//! kind) ordered by engine priority, then score (`recommended_items` in the
//! store), and an item belongs to the first engine that wrote it (a full
//! pass writes them by priority, `ON CONFLICT DO NOTHING`).

use super::N;
use super::metrics::Lists;
use crate::EngineName;
use std::collections::HashSet;

/// Merges engines' lists as the API does. `engines` may come in any order.
pub fn api_merge(engines: &[(EngineName, &Lists)]) -> Lists {
    let mut by_priority: Vec<&(EngineName, &Lists)> = engines.iter().collect();
    by_priority.sort_by_key(|(engine, _)| std::cmp::Reverse(engine.priority().unwrap_or(0)));
    let mut merged = Lists::new();
    for (_, lists) in by_priority {
        for (key, list) in lists.iter() {
            let out = merged.entry(*key).or_default();
            if out.len() >= N {
                continue;
            }
            let claimed: HashSet<u32> = out.iter().map(|e| e.0).collect();
            out.extend(
                list.iter()
                    .filter(|e| !claimed.contains(&e.0))
                    .take(N - out.len())
                    .copied(),
            );
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ContentKind;

    #[test]
    fn higher_priority_engine_comes_first_and_keeps_shared_items() {
        let key = (0usize, ContentKind::Movie);
        let cf: Lists = [(key, vec![(1, 0.2), (2, 0.1)])].into();
        let profile: Lists = [(key, vec![(2, 0.9), (3, 0.8)])].into();
        let similar: Lists = [(key, (10..30).map(|i| (i, 1.0)).collect())].into();
        let merged = api_merge(&[
            (EngineName::FromSimilarContent, &similar),
            (EngineName::FromProfile, &profile),
            (EngineName::CollaborativeFiltering, &cf),
        ]);
        let items: Vec<u32> = merged[&key].iter().map(|e| e.0).collect();
        assert_eq!(items, [1, 2, 3, 10, 11, 12, 13, 14, 15, 16]);
    }
}
