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

/// Every spelling [`EngineName::parse`] reads: the lower-case ASCII letters
/// of a name, short names included.
const SPELLINGS: [(&str, EngineName); 13] = [
    ("popularity", EngineName::Popularity),
    ("contentsimilarities", EngineName::ContentSimilarities),
    ("similarities", EngineName::ContentSimilarities),
    ("similarity", EngineName::ContentSimilarities),
    ("linkbetweenitems", EngineName::LinkBetweenItems),
    ("links", EngineName::LinkBetweenItems),
    ("collaborativefiltering", EngineName::CollaborativeFiltering),
    ("als", EngineName::CollaborativeFiltering),
    ("cf", EngineName::CollaborativeFiltering),
    ("fromprofile", EngineName::FromProfile),
    ("profile", EngineName::FromProfile),
    ("fromsimilarcontent", EngineName::FromSimilarContent),
    ("similarcontent", EngineName::FromSimilarContent),
];

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
        SPELLINGS
            .iter()
            .find(|(spelling, _)| *spelling == key)
            .map(|(_, engine)| *engine)
    }

    /// A regular expression (ECMA-262, as JSON Schema reads it) matching
    /// exactly the names [`EngineName::parse`] reads: a spelling's letters
    /// in any case, with anything but ASCII letters and digits between and
    /// around them (NUL aside, which no input may hold).
    pub fn name_pattern() -> String {
        const OTHER: &str = r"[^A-Za-z0-9\x00]*";
        let spellings: Vec<String> = SPELLINGS
            .iter()
            .map(|(spelling, _)| {
                let letters: Vec<String> = spelling
                    .chars()
                    .map(|c| format!("[{}{}]", c, c.to_ascii_uppercase()))
                    .collect();
                letters.join(OTHER)
            })
            .collect();
        format!("^{OTHER}(?:{}){OTHER}$", spellings.join("|"))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The pattern the document gives is exactly what `parse` reads.
    #[test]
    fn the_name_pattern_matches_what_parse_reads() {
        let pattern = regex::Regex::new(&EngineName::name_pattern()).unwrap();
        let mut names: Vec<String> = SPELLINGS.iter().map(|(s, _)| s.to_string()).collect();
        names.extend(
            [
                "FromProfile",
                "from-profile",
                " ALS ",
                "Collaborative_Filtering",
                "p.o.p.u.l.a.r.i.t.y",
                "é als é",
                "",
                " ",
                "Nope",
                "als2",
                "alsx",
                "xals",
                "a1ls",
                "from profile!",
                "profiles",
                "popularity\u{0}",
            ]
            .map(str::to_string),
        );
        for name in names {
            assert_eq!(
                pattern.is_match(&name),
                EngineName::parse(&name).is_some() && !name.contains('\u{0}'),
                "{name:?}"
            );
        }
    }
}
