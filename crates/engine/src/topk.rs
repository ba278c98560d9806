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

/// Bounded best-first list for streaming candidates: a rejected candidate
/// costs one comparison, which matters when most candidates lose.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopK {
    k: usize,
    items: Vec<(u32, f32)>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            items: Vec::with_capacity(k + 1),
        }
    }

    /// Offers a candidate; a loser costs one comparison (the insertion is
    /// kept out of line so this check inlines into hot loops).
    #[inline(always)]
    pub(crate) fn push(&mut self, e: (u32, f32)) {
        if self.items.len() == self.k {
            match self.items.last() {
                Some(last) if order(&e, last) == Ordering::Less => {}
                _ => return,
            }
        }
        self.insert(e);
    }

    /// Whether `e` would be kept if pushed now (one comparison): lets a
    /// caller skip work for candidates that lose.
    #[inline(always)]
    pub(crate) fn admits(&self, e: (u32, f32)) -> bool {
        self.bar()
            .is_none_or(|bar| order(&e, &bar) == Ordering::Less)
    }

    /// The worst kept candidate once `k` are kept, which a newcomer must
    /// rank before to enter; `None` while there is room.
    #[inline]
    pub(crate) fn bar(&self) -> Option<(u32, f32)> {
        if self.items.len() == self.k {
            self.items.last().copied()
        } else {
            None
        }
    }

    #[inline(never)]
    fn insert(&mut self, e: (u32, f32)) {
        let at = self
            .items
            .partition_point(|x| order(x, &e) == Ordering::Less);
        self.items.insert(at, e);
        self.items.truncate(self.k);
    }

    /// The kept candidates, best first; leaves the list empty for reuse.
    pub(crate) fn take(&mut self) -> Vec<(u32, f32)> {
        let out = self.items.clone();
        self.items.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_best_with_index_tie_break() {
        let mut v = vec![(5, 0.5), (1, 0.9), (3, 0.5), (2, 0.1), (4, 0.9)];
        top_k(&mut v, 3);
        assert_eq!(v, vec![(1, 0.9), (4, 0.9), (3, 0.5)]);
        let mut t = TopK::new(3);
        for e in [(5, 0.5), (1, 0.9), (3, 0.5), (2, 0.1), (4, 0.9)] {
            t.push(e);
        }
        assert_eq!(t.bar(), Some((3, 0.5)));
        assert_eq!(t.take(), v);
        assert!(t.take().is_empty());
        assert_eq!(t.bar(), None);
        let mut w = v.clone();
        top_k(&mut w, 0);
        assert!(w.is_empty());
    }
}
