//! The engines' names, as written in the `engine` columns of result tables.

use serde::Serialize;

/// Name of an engine as written in the `engine` columns of result tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum EngineName {
    Popularity,
    ContentSimilarities,
    LinkBetweenItems,
    FromSimilarContent,
    FromProfile,
    CollaborativeFiltering,
}

impl EngineName {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineName::Popularity => "Popularity",
            EngineName::ContentSimilarities => "ContentSimilarities",
            EngineName::LinkBetweenItems => "LinkBetweenItems",
            EngineName::FromSimilarContent => "FromSimilarContent",
            EngineName::FromProfile => "FromProfile",
            EngineName::CollaborativeFiltering => "CollaborativeFiltering",
        }
    }

    /// `engine_priority` written with recommendation rows (spec §4); `None`
    /// for the engines that do not recommend.
    pub fn priority(self) -> Option<i32> {
        match self {
            EngineName::FromSimilarContent => Some(2),
            EngineName::FromProfile => Some(4),
            EngineName::CollaborativeFiltering => Some(5),
            _ => None,
        }
    }
}
