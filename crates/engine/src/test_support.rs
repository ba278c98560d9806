//! Builders the unit tests share, so that each test spells out only the
//! fields it is about.

use crate::{ContentKind, Interaction, Item};

/// An item with no title, text, genres or rating.
pub(crate) fn item(id: i64, kind: ContentKind) -> Item {
    Item {
        id,
        kind,
        title: String::new(),
        text: Vec::new(),
        genres: Vec::new(),
        rating: None,
        rating_count: 0,
    }
}

/// `user`'s interaction with `item`; a `rating` of `None` is "not rated".
pub(crate) fn interaction(user: i64, item: i64, rating: Option<f32>, count: u32) -> Interaction {
    Interaction {
        user,
        item,
        rating,
        count,
    }
}

/// A seeded data set in which the engines' shortcuts are easy to get wrong:
/// six kinds (one without genres), genre sets shared by dozens of items,
/// few distinct ratings and counts (so popularity priors tie exactly),
/// likes and dislikes, interests in every kind and unknown genres,
/// flagged items, users without interactions, and groups with an unknown
/// member.
pub(crate) fn random_dataset(seed: u64) -> (crate::Dataset, Vec<crate::Group>) {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(seed);
    let genre = |kind: ContentKind, g: i64| 100 * kind.index() as i64 + g;
    let items: Vec<Item> = (1..=2_400)
        .map(|id| {
            let kind = ContentKind::ALL[rng.random_range(0..6)];
            let n_genres = if kind == ContentKind::Book {
                0
            } else {
                rng.random_range(0..=2)
            };
            let genres = (0..n_genres)
                .map(|_| genre(kind, rng.random_range(0..5)))
                .collect();
            let rated = rng.random_bool(0.7);
            Item {
                genres,
                rating: rated.then(|| [3.0, 3.5, 4.5][rng.random_range(0..3)]),
                rating_count: if rated {
                    [1, 5, 50][rng.random_range(0..3)]
                } else {
                    0
                },
                ..item(id, kind)
            }
        })
        .collect();
    let mut inter = Vec::new();
    let (mut interests, mut flagged) = (Vec::new(), Vec::new());
    for user in 1..=300 {
        for _ in 0..rng.random_range(0..40) {
            let rating = rng.random_bool(0.6).then(|| rng.random_range(1..=5) as f32);
            let count = rng.random_range(0..5);
            inter.push(interaction(
                user,
                rng.random_range(1..=2_400),
                rating,
                count,
            ));
        }
        for _ in 0..rng.random_range(0..4) {
            let kind = ContentKind::ALL[rng.random_range(0..6)];
            interests.push((user, genre(kind, rng.random_range(0..6))));
        }
        for _ in 0..rng.random_range(0..30) {
            flagged.push((user, rng.random_range(1..=2_400)));
        }
    }
    let groups = (0..30)
        .map(|id| crate::Group {
            id,
            members: (0..rng.random_range(1..=4))
                .map(|_| rng.random_range(1..=301))
                .collect(),
        })
        .collect();
    let ds = crate::Dataset::new(items, &inter, &interests, &flagged);
    (ds, groups)
}
