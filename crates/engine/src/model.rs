//! Data model shared by every engine: catalogue items, interactions, the
//! compact user × item matrix and the rows the engines return.

use serde::Serialize;
use std::collections::HashMap;

/// Media kind of a catalogue item: the one type every layer shares.
pub use recofinement_domain::ContentKind;

/// Name of an engine: the one type the engine, the store and the runner share.
pub use recofinement_domain::EngineName;

/// One catalogue item as the engine needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// `content_id`.
    pub id: i64,
    pub kind: ContentKind,
    /// Title (`name` for games and applications); used for cross-kind links.
    pub title: String,
    /// Text fields of the per-kind "soup" (spec §5.2 table, plus the fields
    /// the original dropped). Person and company names are kept whole so the
    /// tokenizer can join their words; see [`crate::text`].
    pub text: Vec<String>,
    /// Genre ids (genres are per kind in the database, so ids never collide
    /// across kinds).
    pub genres: Vec<i64>,
    /// Mean user rating (`content.rating`), 0 or `None` meaning "not rated".
    pub rating: Option<f64>,
    pub rating_count: i64,
}

/// One `meta_user_content` row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interaction {
    pub user: i64,
    pub item: i64,
    /// Explicit rating 1..5; `None` or 0 means "not rated".
    pub rating: Option<f32>,
    /// Implicit signal: views + plays/hours counter.
    pub count: u32,
}

/// A group of users (owner plus members).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: i64,
    pub members: Vec<i64>,
}

/// One recommendation row. `subject` is a user id, a group id or (sandbox)
/// the launch event id, depending on which function produced it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Recommendation {
    pub subject: i64,
    pub item: i64,
    pub kind: ContentKind,
    /// In 0..=1; higher is better. Comparable within one engine only.
    pub score: f64,
    pub engine: EngineName,
}

/// Preference carried by one interaction, in -1..=1.
///
/// Ratings are centred on 2.5 so that 1 and 2 stars are negative evidence
/// (defect 3); unrated interactions are positive and grow slowly with the
/// counter so that page views cannot dominate (defect 6).
pub fn interaction_preference(rating: f32, count: u32) -> f32 {
    if rating > 0.0 {
        ((rating - 2.5) / 2.5).clamp(-1.0, 1.0)
    } else {
        let l = (1.0 + count as f32).ln();
        1.0 - 0.5 / (1.0 + l)
    }
}

/// Bidirectional map between catalogue ids and dense item indices.
#[derive(Debug, Clone, Default)]
pub struct ItemIndex {
    ids: Vec<i64>,
    pos: HashMap<i64, u32>,
}

impl ItemIndex {
    pub fn new(ids: impl IntoIterator<Item = i64>) -> Self {
        let ids: Vec<i64> = ids.into_iter().collect();
        let pos = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        ItemIndex { ids, pos }
    }
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    pub fn id(&self, index: usize) -> i64 {
        self.ids[index]
    }
    pub fn position(&self, id: i64) -> Option<usize> {
        self.pos.get(&id).map(|&p| p as usize)
    }
}

/// Compressed sparse rows of users × items. Each row is sorted by item index
/// and holds one entry per (user, item): duplicates are merged (counts added,
/// last non-zero rating kept). A rating of 0 stands for "not rated".
#[derive(Debug, Clone, Default)]
pub struct UserItemMatrix {
    pub users: ItemIndex,
    pub n_items: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub ratings: Vec<f32>,
    pub counts: Vec<u32>,
}

impl UserItemMatrix {
    /// Builds the matrix. `users` fixes the row order; interactions whose
    /// user or item is unknown are ignored.
    pub fn build(users: ItemIndex, items: &ItemIndex, interactions: &[Interaction]) -> Self {
        let n_users = users.len();
        let mut per_user: Vec<Vec<(u32, f32, u32)>> = vec![Vec::new(); n_users];
        for it in interactions {
            let (Some(u), Some(i)) = (users.position(it.user), items.position(it.item)) else {
                continue;
            };
            let r = it.rating.unwrap_or(0.0);
            let r = if r.is_finite() && r > 0.0 { r } else { 0.0 };
            per_user[u].push((i as u32, r, it.count));
        }
        let mut indptr = Vec::with_capacity(n_users + 1);
        indptr.push(0);
        let nnz: usize = per_user.iter().map(Vec::len).sum();
        let mut indices = Vec::with_capacity(nnz);
        let mut ratings = Vec::with_capacity(nnz);
        let mut counts = Vec::with_capacity(nnz);
        for mut row in per_user {
            // Stable sort keeps input order among duplicates: "last rating wins".
            row.sort_by_key(|e| e.0);
            let mut k = 0;
            while k < row.len() {
                let (item, mut r, mut c) = row[k];
                let mut j = k + 1;
                while j < row.len() && row[j].0 == item {
                    if row[j].1 > 0.0 {
                        r = row[j].1;
                    }
                    c = c.saturating_add(row[j].2);
                    j += 1;
                }
                indices.push(item);
                ratings.push(r);
                counts.push(c);
                k = j;
            }
            indptr.push(indices.len());
        }
        UserItemMatrix {
            users,
            n_items: items.len(),
            indptr,
            indices,
            ratings,
            counts,
        }
    }

    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Range of a user's entries in `indices`/`ratings`/`counts`.
    pub fn row(&self, user: usize) -> std::ops::Range<usize> {
        self.indptr[user]..self.indptr[user + 1]
    }

    /// Number of users who interacted with each item.
    pub fn item_degrees(&self) -> Vec<u32> {
        let mut deg = vec![0u32; self.n_items];
        for &i in &self.indices {
            deg[i as usize] += 1;
        }
        deg
    }
}

/// Everything the recommending engines read: the catalogue, the interactions
/// of every user (dataset users included, they are training data), declared
/// interests and bad-recommendation flags.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub items: Vec<Item>,
    pub item_index: ItemIndex,
    pub matrix: UserItemMatrix,
    /// Declared genre ids per user row, sorted.
    pub interests: Vec<Vec<i64>>,
    /// Flagged item indices per user row, sorted.
    pub flagged: Vec<Vec<u32>>,
    /// Item indices of each kind, by [`ContentKind::index`].
    pub kind_items: [Vec<u32>; 6],
    /// Kind of each item, by item index: the user engines read it at random
    /// for every candidate, and reading it from the (large) items missed
    /// the cache.
    pub item_kinds: Vec<ContentKind>,
    /// Users who interacted with each item, by item index: the matrix's
    /// degrees, or the whole table's when the matrix holds only some users
    /// (see [`Dataset::with_audience`]).
    pub audience: Vec<u32>,
}

impl Dataset {
    /// `interests` are `(user, genre)` rows of `liked_genres`; `flagged` are
    /// `(user, content)` rows of `bad_recommendation_content`. Users are
    /// ordered by id so results do not depend on input order.
    pub fn new(
        items: Vec<Item>,
        interactions: &[Interaction],
        interests: &[(i64, i64)],
        flagged: &[(i64, i64)],
    ) -> Self {
        let item_index = ItemIndex::new(items.iter().map(|i| i.id));
        let mut user_ids: Vec<i64> = interactions
            .iter()
            .map(|i| i.user)
            .chain(interests.iter().map(|p| p.0))
            .chain(flagged.iter().map(|p| p.0))
            .collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        let users = ItemIndex::new(user_ids);
        let matrix = UserItemMatrix::build(users, &item_index, interactions);
        let n = matrix.n_users();
        let mut liked = vec![Vec::new(); n];
        for &(u, g) in interests {
            if let Some(p) = matrix.users.position(u) {
                liked[p].push(g);
            }
        }
        let mut flags = vec![Vec::new(); n];
        for &(u, c) in flagged {
            if let (Some(p), Some(i)) = (matrix.users.position(u), item_index.position(c)) {
                flags[p].push(i as u32);
            }
        }
        for v in &mut liked {
            v.sort_unstable();
            v.dedup();
        }
        for v in &mut flags {
            v.sort_unstable();
            v.dedup();
        }
        let mut kind_items: [Vec<u32>; 6] = Default::default();
        for (i, it) in items.iter().enumerate() {
            kind_items[it.kind.index()].push(i as u32);
        }
        let item_kinds = items.iter().map(|it| it.kind).collect();
        let audience = matrix.item_degrees();
        Dataset {
            items,
            item_index,
            matrix,
            interests: liked,
            flagged: flags,
            kind_items,
            item_kinds,
            audience,
        }
    }

    /// Sets each item's audience from `(item id, users)` counted over every
    /// user, for a dataset that holds only some users' interactions: the
    /// popularity prior stays what the whole dataset would give.
    pub fn with_audience(mut self, counts: &[(i64, u32)]) -> Self {
        self.audience = vec![0; self.items.len()];
        for &(id, users) in counts {
            if let Some(i) = self.item_index.position(id) {
                self.audience[i] = users;
            }
        }
        self
    }

    /// Row positions of the requested users (unknown ids skipped, output
    /// sorted and deduplicated), or every user when `users` is `None`.
    pub fn user_rows(&self, users: Option<&[i64]>) -> Vec<usize> {
        match users {
            None => (0..self.matrix.n_users()).collect(),
            Some(ids) => {
                let mut rows: Vec<usize> = ids
                    .iter()
                    .filter_map(|&u| self.matrix.users.position(u))
                    .collect();
                rows.sort_unstable();
                rows.dedup();
                rows
            }
        }
    }

    /// Items a user must not be recommended: consumed (any interaction) or
    /// flagged (defect 2). Sorted.
    pub fn excluded(&self, row: usize) -> Vec<u32> {
        let mut v: Vec<u32> = self.matrix.indices[self.matrix.row(row)].to_vec();
        v.extend_from_slice(&self.flagged[row]);
        v.sort_unstable();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{self, interaction};

    fn item(id: i64, kind: ContentKind) -> Item {
        Item {
            title: format!("t{id}"),
            ..test_support::item(id, kind)
        }
    }

    #[test]
    fn kind_names_round_trip() {
        for k in ContentKind::ALL {
            assert_eq!(ContentKind::parse(&k.as_str().to_uppercase()), Some(k));
        }
        assert_eq!(ContentKind::parse("episode"), None);
    }

    #[test]
    fn matrix_merges_duplicates_and_drops_unknown() {
        let items = vec![item(10, ContentKind::Movie), item(20, ContentKind::Book)];
        let inter = [
            interaction(7, 20, Some(4.0), 1),
            interaction(7, 10, None, 2),
            interaction(7, 20, Some(5.0), 3),
            interaction(7, 99, Some(5.0), 3),
            interaction(3, 10, Some(0.0), 0),
        ];
        let ds = Dataset::new(items, &inter, &[(9, 1)], &[(3, 20)]);
        let m = &ds.matrix;
        assert_eq!(m.users.len(), 3);
        let u7 = m.users.position(7).unwrap();
        let r = m.row(u7);
        assert_eq!(&m.indices[r.clone()], &[0, 1]);
        assert_eq!(&m.ratings[r.clone()], &[0.0, 5.0]);
        assert_eq!(&m.counts[r], &[2, 4]);
        let u3 = m.users.position(3).unwrap();
        assert_eq!(ds.excluded(u3), vec![0, 1]);
        assert_eq!(
            ds.user_rows(Some(&[9, 42, 9])),
            vec![m.users.position(9).unwrap()]
        );
    }

    #[test]
    fn preference_sign_follows_rating() {
        assert!(interaction_preference(1.0, 0) < 0.0);
        assert!(interaction_preference(5.0, 0) == 1.0);
        assert!(interaction_preference(0.0, 0) > 0.0);
        assert!(interaction_preference(0.0, 10) > interaction_preference(0.0, 1));
        assert!(interaction_preference(0.0, u32::MAX) <= 1.0);
    }
}
