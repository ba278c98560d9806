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
