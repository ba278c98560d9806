//! Text features (spec §5.2 step 3-4, defect 7): tokenisation and TF-IDF.
//!
//! Tokens follow scikit-learn's default `(?u)\b\w\w+\b`: runs of two or more
//! word characters (alphanumerics and `_`), lower-cased, minus the
//! scikit-learn English stop words. Unlike the original, fields keep their
//! spaces, so titles and descriptions split into words; a person or company
//! name should be passed through [`name_token`] by the caller so that it stays
//! one token (`Tom Hanks` → `tom_hanks`). IDF is smoothed
//! (`ln((1+n)/(1+df)) + 1`), term frequencies are raw counts, and rows are
//! L2-normalised, so cosine similarity is a dot product.

use crate::Item;
use rayon::prelude::*;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash (rustc's hasher): much faster than SipHash for short tokens, and
/// hash-flooding is not a concern for catalogue text we load ourselves.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// scikit-learn's `ENGLISH_STOP_WORDS` (318 words), sorted for binary search.
pub const ENGLISH_STOP_WORDS: &[&str] = &include!("stop_words.in");

pub fn is_stop_word(token: &str) -> bool {
    ENGLISH_STOP_WORDS.binary_search(&token).is_ok()
}

/// Joins the words of a name into one token (`"Tom Hanks"` → `"tom_hanks"`),
/// so that people and companies match as a whole.
pub fn name_token(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for w in name.split(|c: char| !(c.is_alphanumeric())) {
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('_');
        }
        out.extend(w.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Something made of text fields (an item's soup, or one plain string).
pub trait Document {
    fn for_each_field(&self, f: &mut dyn FnMut(&str));
}

impl Document for str {
    fn for_each_field(&self, f: &mut dyn FnMut(&str)) {
        f(self)
    }
}
impl Document for String {
    fn for_each_field(&self, f: &mut dyn FnMut(&str)) {
        f(self)
    }
}
impl Document for Vec<String> {
    fn for_each_field(&self, f: &mut dyn FnMut(&str)) {
        self.iter().for_each(|s| f(s))
    }
}
impl Document for Item {
    fn for_each_field(&self, f: &mut dyn FnMut(&str)) {
        self.text.iter().for_each(|s| f(s))
    }
}
impl<T: Document + ?Sized> Document for &T {
    fn for_each_field(&self, f: &mut dyn FnMut(&str)) {
        (**self).for_each_field(f)
    }
}

/// Calls `f` with every lower-cased, non-stop-word token of `text`.
/// `buf` is scratch space reused across calls.
pub fn tokenize(text: &str, buf: &mut String, f: &mut dyn FnMut(&str)) {
    tokenize_all(text, buf, &mut |t| {
        if !is_stop_word(t) {
            f(t)
        }
    })
}

/// [`tokenize`] without the stop-word filter (callers that cache per-term
/// decisions check stop words once per distinct term).
#[inline]
fn tokenize_all(text: &str, buf: &mut String, f: &mut dyn FnMut(&str)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let n = bytes.len();
    while i < n {
        let b = bytes[i];
        if b < 128 {
            if !(b.is_ascii_alphanumeric() || b == b'_') {
                i += 1;
                continue;
            }
        } else {
            let c = text[i..].chars().next().expect("char boundary");
            if !c.is_alphanumeric() {
                i += c.len_utf8();
                continue;
            }
        }
        // Start of a word: scan to its end, lower-casing into buf.
        buf.clear();
        let mut chars = 0usize;
        while i < n {
            let b = bytes[i];
            if b < 128 {
                if b.is_ascii_alphanumeric() || b == b'_' {
                    buf.push(b.to_ascii_lowercase() as char);
                    chars += 1;
                    i += 1;
                } else {
                    break;
                }
            } else {
                let c = text[i..].chars().next().expect("char boundary");
                if c.is_alphanumeric() {
                    buf.extend(c.to_lowercase());
                    chars += 1;
                    i += c.len_utf8();
                } else {
                    break;
                }
            }
        }
        if chars >= 2 {
            f(buf);
        }
    }
}

/// Compressed sparse rows of `f32` (TF-IDF vectors, one row per document).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseRows {
    pub n_cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseRows {
    pub fn n_rows(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let s = self.indptr[r]..self.indptr[r + 1];
        (&self.indices[s.clone()], &self.values[s])
    }

    /// Rows `0..n_rows` of `(col, value)` gathered from `(row, col, value)`
    /// entries, each row in the entries' order. `entries` runs twice: once
    /// to size the rows, once to fill them (no per-row vectors).
    pub(crate) fn from_entries<I>(n_rows: usize, n_cols: usize, entries: impl Fn() -> I) -> Self
    where
        I: Iterator<Item = (u32, u32, f32)>,
    {
        let mut indptr = vec![0usize; n_rows + 1];
        for (r, _, _) in entries() {
            indptr[r as usize + 1] += 1;
        }
        for i in 0..n_rows {
            indptr[i + 1] += indptr[i];
        }
        let mut next = indptr.clone();
        let mut indices = vec![0u32; indptr[n_rows]];
        let mut values = vec![0f32; indptr[n_rows]];
        for (r, c, v) in entries() {
            let p = &mut next[r as usize];
            indices[*p] = c;
            values[*p] = v;
            *p += 1;
        }
        SparseRows {
            n_cols,
            indptr,
            indices,
            values,
        }
    }

    /// Transpose of the compressed rows `indptr`/`indices`/`values` with
    /// `n_cols` columns: row `c` lists the `(row, value)` of column `c`,
    /// rows ascending. Shared by every CSR-shaped matrix of the crate.
    pub(crate) fn transpose_of(
        n_cols: usize,
        indptr: &[usize],
        indices: &[u32],
        values: &[f32],
    ) -> Self {
        let n_rows = indptr.len().saturating_sub(1);
        Self::from_entries(n_cols, n_rows, || {
            indptr.windows(2).enumerate().flat_map(move |(r, w)| {
                (w[0]..w[1]).map(move |k| (indices[k], r as u32, values[k]))
            })
        })
    }
}

/// A fitted vectoriser: sorted vocabulary and smoothed idf per term.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TfIdf {
    pub vocabulary: Vec<String>,
    pub idf: Vec<f32>,
}

/// Counts of one chunk of documents against the chunk's own vocabulary.
struct ChunkCounts {
    terms: Vec<String>,
    /// Per document: (local term id, count), sorted by local id.
    docs: Vec<Vec<(u32, u32)>>,
}

/// Local id reserved for stop words, so each token costs one hash lookup.
const STOP: u32 = u32::MAX;

fn count_chunk<D: Document + ?Sized>(docs: &[&D]) -> ChunkCounts {
    let mut local: FxMap<String, u32> = FxMap::default();
    let mut terms = Vec::new();
    let mut out = Vec::with_capacity(docs.len());
    let mut buf = String::new();
    // Dense term counts of the current document, indexed by local id.
    let mut tf: Vec<u32> = Vec::new();
    let mut seen: Vec<u32> = Vec::new();
    for d in docs {
        d.for_each_field(&mut |field| {
            tokenize_all(field, &mut buf, &mut |tok| {
                let id = match local.get(tok) {
                    Some(&id) => id,
                    None => {
                        let id = if is_stop_word(tok) {
                            STOP
                        } else {
                            terms.push(tok.to_owned());
                            tf.push(0);
                            (terms.len() - 1) as u32
                        };
                        local.insert(tok.to_owned(), id);
                        id
                    }
                };
                if id != STOP {
                    let c = &mut tf[id as usize];
                    if *c == 0 {
                        seen.push(id);
                    }
                    *c += 1;
                }
            });
        });
        seen.sort_unstable();
        out.push(
            seen.iter()
                .map(|&id| (id, std::mem::take(&mut tf[id as usize])))
                .collect(),
        );
        seen.clear();
    }
    ChunkCounts { terms, docs: out }
}

/// Documents per parallel task: large enough to amortise the chunk's local
/// vocabulary, small enough to balance two or more threads.
const CHUNK: usize = 512;

/// Fits the vectoriser on `docs` and returns it with the TF-IDF rows.
/// Deterministic: the vocabulary is sorted, whatever the thread count.
pub fn fit_transform<D: Document + Sync + ?Sized>(docs: &[&D]) -> (TfIdf, SparseRows) {
    let chunks: Vec<ChunkCounts> = docs.par_chunks(CHUNK).map(count_chunk).collect();
    // Global vocabulary: distinct terms first (hashing is cheaper than
    // sorting every chunk's copy), then sorted so ids are deterministic.
    let mut provisional: FxMap<&str, u32> = FxMap::default();
    let mut vocab: Vec<&str> = Vec::new();
    let prov_maps: Vec<Vec<u32>> = chunks
        .iter()
        .map(|c| {
            c.terms
                .iter()
                .map(|t| {
                    *provisional.entry(t.as_str()).or_insert_with(|| {
                        vocab.push(t.as_str());
                        (vocab.len() - 1) as u32
                    })
                })
                .collect()
        })
        .collect();
    let mut order: Vec<u32> = (0..vocab.len() as u32).collect();
    order.par_sort_unstable_by(|&a, &b| vocab[a as usize].cmp(vocab[b as usize]));
    let mut rank = vec![0u32; vocab.len()];
    for (r, &p) in order.iter().enumerate() {
        rank[p as usize] = r as u32;
    }
    let maps: Vec<Vec<u32>> = prov_maps
        .into_iter()
        .map(|m| m.into_iter().map(|p| rank[p as usize]).collect())
        .collect();
    let vocab: Vec<&str> = order.iter().map(|&p| vocab[p as usize]).collect();
    let n_docs = docs.len();
    let mut df = vec![0u32; vocab.len()];
    for (c, map) in chunks.iter().zip(&maps) {
        for d in &c.docs {
            for &(t, _) in d {
                df[map[t as usize] as usize] += 1;
            }
        }
    }
    let idf: Vec<f32> = df
        .iter()
        .map(|&d| (((1 + n_docs) as f64 / (1 + d) as f64).ln() + 1.0) as f32)
        .collect();
    let rows: Vec<Vec<(u32, f32)>> = chunks
        .par_iter()
        .zip(&maps)
        .flat_map_iter(|(c, map)| {
            let idf = &idf;
            c.docs.iter().map(move |d| {
                let mut row: Vec<(u32, f32)> = d
                    .iter()
                    .map(|&(t, n)| {
                        let g = map[t as usize];
                        (g, n as f32 * idf[g as usize])
                    })
                    .collect();
                row.sort_unstable_by_key(|e| e.0);
                let norm = row.iter().map(|e| e.1 * e.1).sum::<f32>().sqrt();
                if norm > 0.0 {
                    row.iter_mut().for_each(|e| e.1 /= norm);
                }
                row
            })
        })
        .collect();
    let mut m = SparseRows {
        n_cols: vocab.len(),
        indptr: Vec::with_capacity(n_docs + 1),
        indices: Vec::new(),
        values: Vec::new(),
    };
    m.indptr.push(0);
    for r in rows {
        for (t, v) in r {
            m.indices.push(t);
            m.values.push(v);
        }
        m.indptr.push(m.indices.len());
    }
    let model = TfIdf {
        vocabulary: vocab.into_iter().map(str::to_owned).collect(),
        idf,
    };
    (model, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        tokenize(s, &mut String::new(), &mut |t| out.push(t.to_owned()));
        out
    }

    #[test]
    fn tokenizer_matches_sklearn_rules() {
        assert_eq!(
            toks("The Lord of the Rings: Return, 2003! a x_y Éclair"),
            vec!["lord", "rings", "return", "2003", "x_y", "éclair"]
        );
        assert_eq!(name_token("Tom  Hanks-Jr."), "tom_hanks_jr");
        assert_eq!(toks(&name_token("Tom Hanks")), vec!["tom_hanks"]);
        assert!(ENGLISH_STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ENGLISH_STOP_WORDS.len(), 318);
    }

    #[test]
    fn tfidf_matches_hand_computation() {
        let docs = ["apple banana", "apple cherry cherry", "durian"];
        let refs: Vec<&str> = docs.to_vec();
        let (model, m) = fit_transform::<str>(&refs);
        assert_eq!(
            model.vocabulary,
            vec!["apple", "banana", "cherry", "durian"]
        );
        let idf = |df: f64| ((4.0f64 / (1.0 + df)).ln() + 1.0) as f32;
        assert!((model.idf[0] - idf(2.0)).abs() < 1e-6);
        // Row 1: apple×1, cherry×2, L2-normalised.
        let (ix, v) = m.row(1);
        assert_eq!(ix, &[0, 2]);
        let (a, c) = (idf(2.0), 2.0 * idf(1.0));
        let n = (a * a + c * c).sqrt();
        assert!((v[0] - a / n).abs() < 1e-6 && (v[1] - c / n).abs() < 1e-6);
        let (_, v2) = m.row(2);
        assert_eq!(v2, &[1.0]);
    }

    #[test]
    fn matches_a_naive_reference_across_chunks() {
        let docs: Vec<String> = (0..1500)
            .map(|i| format!("w{} w{} common{} w{}", i % 37, i % 11, i % 3, i % 37))
            .collect();
        let refs: Vec<&String> = docs.iter().collect();
        let (model, m) = fit_transform(&refs);
        let mut df: HashMap<&str, usize> = HashMap::new();
        let tokenized: Vec<Vec<String>> = docs.iter().map(|d| toks(d)).collect();
        for t in &tokenized {
            let mut u: Vec<&str> = t.iter().map(String::as_str).collect();
            u.sort();
            u.dedup();
            for w in u {
                *df.entry(w).or_default() += 1;
            }
        }
        for (d, t) in tokenized.iter().enumerate() {
            let mut tf: HashMap<&str, f64> = HashMap::new();
            for w in t {
                *tf.entry(w.as_str()).or_default() += 1.0;
            }
            let w: HashMap<&str, f64> = tf
                .iter()
                .map(|(k, n)| (*k, n * ((1501.0 / (1.0 + df[k] as f64)).ln() + 1.0)))
                .collect();
            let norm = w.values().map(|x| x * x).sum::<f64>().sqrt();
            let (ix, v) = m.row(d);
            assert_eq!(ix.len(), w.len());
            for (i, x) in ix.iter().zip(v) {
                let expect = w[model.vocabulary[*i as usize].as_str()] / norm;
                assert!((*x as f64 - expect).abs() < 1e-5);
            }
        }
    }
}
