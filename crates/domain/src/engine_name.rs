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
    /// The engine written exactly `name` in the result tables (every exact
    /// name is one [`EngineName::parse`] reads).
    pub fn from_name(name: &str) -> Option<EngineName> {
        EngineName::parse(name).filter(|e| e.as_str() == name)
    }

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

    /// Parses a name as people write it (any case, with or without
    /// separators, short names: `from-profile`, `FromProfile`, `als`).
    pub fn parse(name: &str) -> Option<EngineName> {
        let key: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        match key.as_str() {
            "popularity" => Some(EngineName::Popularity),
            "contentsimilarities" | "similarities" | "similarity" => {
                Some(EngineName::ContentSimilarities)
            }
            "linkbetweenitems" | "links" => Some(EngineName::LinkBetweenItems),
            "collaborativefiltering" | "als" | "cf" => Some(EngineName::CollaborativeFiltering),
            "fromprofile" | "profile" => Some(EngineName::FromProfile),
            "fromsimilarcontent" | "similarcontent" => Some(EngineName::FromSimilarContent),
            _ => None,
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
