//! The six media kinds.

use serde::{Deserialize, Serialize};

/// A media kind. The database stores the upper-case label, JSON and paths the
/// lower-case name.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    Application,
    Book,
    Game,
    Movie,
    Serie,
    Track,
}

impl ContentKind {
    pub const ALL: [ContentKind; 6] = [
        ContentKind::Application,
        ContentKind::Book,
        ContentKind::Game,
        ContentKind::Movie,
        ContentKind::Serie,
        ContentKind::Track,
    ];

    /// Lower-case name: the path segment, the JSON key and the media table.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::Application => "application",
            ContentKind::Book => "book",
            ContentKind::Game => "game",
            ContentKind::Movie => "movie",
            ContentKind::Serie => "serie",
            ContentKind::Track => "track",
        }
    }

    /// Upper-case label stored in `content_type` columns.
    pub fn label(self) -> &'static str {
        match self {
            ContentKind::Application => "APPLICATION",
            ContentKind::Book => "BOOK",
            ContentKind::Game => "GAME",
            ContentKind::Movie => "MOVIE",
            ContentKind::Serie => "SERIE",
            ContentKind::Track => "TRACK",
        }
    }

    /// Dense index 0..6, for per-kind arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(name) || k.label() == name)
    }
}

impl std::fmt::Display for ContentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ContentKind;

    #[test]
    fn names_round_trip() {
        for kind in ContentKind::ALL {
            assert_eq!(ContentKind::parse(kind.as_str()), Some(kind));
            assert_eq!(ContentKind::parse(kind.label()), Some(kind));
        }
        assert_eq!(ContentKind::parse("episode"), None);
    }
}
