//! Links between items of different kinds (spec §5.3, defect 7): titles are
//! normalised (case, punctuation, leading article) and compared by the
//! cosine of their character-trigram vectors, so identical normalised titles
//! score 1 and near-identical ones (a subtitle, a typo) score slightly less.
//! Every kind links to every other kind in both directions, with no row cap.

use crate::cancel::{Cancel, Cancelled};
use crate::similarity::{InvertedIndex, SimilarPair, SimilarityParams, top_k_cosine_with};
use crate::text::{FxMap, SparseRows};
use crate::{ContentKind, Item};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkParams {
    /// Minimum trigram cosine (the original used 0.8 on TF-IDF of titles).
    pub min_similarity: f32,
    /// Links kept per source item over all target kinds.
    pub k: usize,
}

impl Default for LinkParams {
    fn default() -> Self {
        LinkParams {
            min_similarity: 0.8,
            k: 25,
        }
    }
}

/// Lower-cases, replaces punctuation by spaces, drops a leading "the", "a" or
/// "an" and collapses spaces: `"The Matrix: Reloaded"` → `"matrix reloaded"`.
pub fn normalise_title(title: &str) -> String {
    let lowered: String = title
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = lowered.split_whitespace().collect();
    if words.len() > 1 && matches!(words[0], "the" | "a" | "an") {
        words.remove(0);
    }
    words.join(" ")
}

fn trigram_rows(titles: &[String]) -> SparseRows {
    let mut vocab: FxMap<[char; 3], u32> = FxMap::default();
    let mut m = SparseRows {
        indptr: vec![0],
        ..SparseRows::default()
    };
    for t in titles {
        let chars: Vec<char> = std::iter::once(' ')
            .chain(t.chars())
            .chain(std::iter::once(' '))
            .collect();
        let mut row: Vec<(u32, f32)> = Vec::new();
        if !t.is_empty() {
            for w in chars.windows(3) {
                let next = vocab.len() as u32;
                let id = *vocab.entry([w[0], w[1], w[2]]).or_insert(next);
                row.push((id, 1.0));
            }
        }
        row.sort_unstable_by_key(|e| e.0);
        row.dedup_by(|a, b| {
            if a.0 == b.0 {
                b.1 += a.1;
                true
            } else {
                false
            }
        });
        let norm = row.iter().map(|e| e.1 * e.1).sum::<f32>().sqrt();
        for (id, v) in row {
            m.indices.push(id);
            m.values.push(v / norm);
        }
        m.indptr.push(m.indices.len());
    }
    m.n_cols = vocab.len();
    m
}

/// Cross-kind links of every item, both directions. Items with an empty
/// normalised title get none.
pub fn link_items(items: &[Item], params: &LinkParams) -> Vec<SimilarPair> {
    link_items_with(items, params, &Cancel::never()).unwrap_or_default()
}

/// [`link_items`], given up once `cancel` is set.
pub fn link_items_with(
    items: &[Item],
    params: &LinkParams,
    cancel: &Cancel,
) -> Result<Vec<SimilarPair>, Cancelled> {
    let titles: Vec<String> = items.iter().map(|i| normalise_title(&i.title)).collect();
    cancel.check()?;
    let m = trigram_rows(&titles);
    let index = InvertedIndex::new(&m);
    let kinds: Vec<ContentKind> = items.iter().map(|i| i.kind).collect();
    let query = SimilarityParams {
        k: params.k,
        min_similarity: params.min_similarity,
    };
    let lists = top_k_cosine_with(
        &m,
        &index,
        None,
        &query,
        |s, t| kinds[s] != kinds[t],
        cancel,
    )?;
    let mut out = Vec::new();
    for (s, list) in lists.into_iter().enumerate() {
        for (t, sim) in list {
            let t = t as usize;
            out.push(SimilarPair {
                source: items[s].id,
                target: items[t].id,
                similarity: sim as f64,
                source_kind: kinds[s],
                target_kind: kinds[t],
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, kind: ContentKind, title: &str) -> Item {
        Item {
            title: title.to_owned(),
            ..crate::test_support::item(id, kind)
        }
    }

    #[test]
    fn normalises_case_punctuation_and_article() {
        assert_eq!(normalise_title("The Matrix: Reloaded!"), "matrix reloaded");
        assert_eq!(normalise_title("  A  "), "a");
        assert_eq!(normalise_title("DUNE"), "dune");
    }

    #[test]
    fn links_same_title_across_kinds_both_ways() {
        let items = vec![
            item(1, ContentKind::Movie, "The Shining"),
            item(2, ContentKind::Book, "shining, the"),
            item(3, ContentKind::Book, "Shining"),
            item(4, ContentKind::Movie, "Shining"),
            item(5, ContentKind::Serie, "Friends"),
            item(6, ContentKind::Track, "Totally different"),
        ];
        let links = link_items(&items, &LinkParams::default());
        let has = |a: i64, b: i64| links.iter().any(|l| l.source == a && l.target == b);
        assert!(has(1, 3) && has(3, 1) && has(3, 4));
        // Same kind is never linked here; "shining the" differs from "shining".
        assert!(!has(1, 4));
        assert!(links.iter().all(|l| l.source_kind != l.target_kind));
        assert!(!links.iter().any(|l| l.source == 5 || l.source == 6));
        let exact = links
            .iter()
            .find(|l| l.source == 1 && l.target == 3)
            .unwrap();
        assert!((exact.similarity - 1.0).abs() < 1e-6);
    }
}
