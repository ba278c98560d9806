//! Cooperative cancellation of a computation. The engines check a [`Cancel`]
//! between units of work (an ALS iteration, a row of similarities, a user's
//! list) and give up with [`Cancelled`] once it is set, so a stop (shutdown,
//! a sandbox timeout) frees the cores within a fraction of a second. The
//! crate stays free of any async runtime: a token is a set of shared flags.

use rayon::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cancellation token: cancelled when its own flag or any of its
/// parents' is set. Cloning shares the flags.
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    /// Its own flag last; the parents' before it.
    flags: Vec<Arc<AtomicBool>>,
}

impl Cancel {
    /// A token nobody has cancelled yet.
    pub fn new() -> Self {
        Cancel {
            flags: vec![Arc::new(AtomicBool::new(false))],
        }
    }

    /// A token that is never cancelled (the computations' plain entry points).
    pub fn never() -> Self {
        Cancel { flags: Vec::new() }
    }

    /// A token cancelled with this one, or by itself alone.
    pub fn child(&self) -> Self {
        let mut flags = self.flags.clone();
        flags.push(Arc::new(AtomicBool::new(false)));
        Cancel { flags }
    }

    /// Cancels this token and its children (not its parents).
    pub fn cancel(&self) {
        if let Some(own) = self.flags.last() {
            own.store(true, Ordering::Relaxed);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.flags.iter().any(|f| f.load(Ordering::Relaxed))
    }

    /// `Err(Cancelled)` once cancelled: `cancel.check()?` between units of work.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// `f` of every unit (a user, a group) in parallel, concatenated in
    /// order; once cancelled, the units not started yet are skipped and the
    /// whole is `Err(Cancelled)`, so no partial result escapes.
    pub(crate) fn par_flat_map<T, R, F>(&self, units: &[T], f: F) -> Result<Vec<R>, Cancelled>
    where
        T: Sync,
        R: Send,
        F: Fn(&T) -> Vec<R> + Sync,
    {
        self.par_flat_map_init(units, || (), |_, u| f(u))
    }

    /// [`Cancel::par_flat_map`] with a scratch value made by `init` once per
    /// rayon job and lent to every unit of that job, so a per-unit buffer
    /// (even one as large as the catalogue) is allocated a handful of times
    /// per run instead of once per unit.
    pub(crate) fn par_flat_map_init<T, S, R, I, F>(
        &self,
        units: &[T],
        init: I,
        f: F,
    ) -> Result<Vec<R>, Cancelled>
    where
        T: Sync,
        R: Send,
        I: Fn() -> S + Sync + Send,
        F: Fn(&mut S, &T) -> Vec<R> + Sync + Send,
    {
        let out = units
            .par_iter()
            .map_init(init, |scratch, u| {
                if self.is_cancelled() {
                    Vec::new()
                } else {
                    f(scratch, u)
                }
            })
            .flat_map_iter(Vec::into_iter)
            .collect();
        self.check()?;
        Ok(out)
    }
}

/// The value of a computation run with [`Cancel::never`], which cannot fail.
pub(crate) fn never_cancelled<T>(result: Result<T, Cancelled>) -> T {
    match result {
        Ok(value) => value,
        Err(Cancelled) => unreachable!("a token that is never cancelled"),
    }
}

/// A computation stopped because its token was cancelled; it produced nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the computation was cancelled")
    }
}

impl std::error::Error for Cancelled {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_cancels_its_children_not_the_reverse() {
        let parent = Cancel::new();
        let child = parent.child();
        let other = parent.child();
        child.cancel();
        assert!(child.is_cancelled());
        assert!(!parent.is_cancelled() && !other.is_cancelled());
        parent.cancel();
        assert!(other.is_cancelled());
        assert_eq!(other.check(), Err(Cancelled));
        assert!(!Cancel::never().is_cancelled());
    }

    #[test]
    fn a_training_stops_between_iterations_once_cancelled() {
        use crate::als::{AlsModel, AlsParams};
        let c = crate::benchdata::interactions(3, 5_000, 2_000, 60_000);
        // Far more iterations than a test could wait for: only the token ends it.
        let params = AlsParams {
            iterations: 1_000_000,
            ..AlsParams::default()
        };
        let cancel = Cancel::new();
        let stopper = cancel.clone();
        let timer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            stopper.cancel();
        });
        assert!(matches!(
            AlsModel::fit_with(&c, &params, &cancel),
            Err(Cancelled)
        ));
        timer.join().unwrap();
    }

    #[test]
    fn a_cancelled_similarity_pass_produces_nothing() {
        use crate::similarity::{InvertedIndex, SimilarityParams, top_k_cosine_with};
        let docs = crate::benchdata::corpus(5, 500);
        let refs: Vec<&String> = docs.iter().collect();
        let (_, m) = crate::text::fit_transform(&refs);
        let index = InvertedIndex::new(&m);
        let params = SimilarityParams {
            k: 10,
            min_similarity: 0.0,
        };
        let run =
            |cancel: &Cancel| top_k_cosine_with(&m, &index, None, &params, |_, _| true, cancel);
        let cancel = Cancel::new();
        assert!(run(&cancel).is_ok());
        cancel.cancel();
        assert_eq!(run(&cancel), Err(Cancelled));
    }
}
