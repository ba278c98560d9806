//! Deterministic top-k selection: best score first, ties by lower index, so
//! results never depend on thread scheduling or hash order.

use std::cmp::Ordering;

#[inline]
pub(crate) fn order(a: &(u32, f32), b: &(u32, f32)) -> Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

/// Keeps the `k` best candidates of `cands`, sorted best first.
pub(crate) fn top_k(cands: &mut Vec<(u32, f32)>, k: usize) {
    if k == 0 {
        cands.clear();
        return;
    }
    if cands.len() > k {
        cands.select_nth_unstable_by(k - 1, order);
        cands.truncate(k);
    }
    cands.sort_unstable_by(order);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_best_with_index_tie_break() {
        let mut v = vec![(5, 0.5), (1, 0.9), (3, 0.5), (2, 0.1), (4, 0.9)];
        top_k(&mut v, 3);
        assert_eq!(v, vec![(1, 0.9), (4, 0.9), (3, 0.5)]);
        let mut w = v.clone();
        top_k(&mut w, 0);
        assert!(w.is_empty());
    }
}
