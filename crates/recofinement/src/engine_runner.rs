//! Runs the recommendation engines against the database: loads a snapshot
//! of the catalogue and interactions, decides from the event log which
//! engines have work, runs them off the async reactor, and writes their
//! results (each engine's rows and its event cursor in one transaction).
//!
//! A run first reads the event bound (`Db::event_bound`: every event below
//! it is final, even on PostgreSQL where ids can commit out of order), then
//! picks its subjects from the events between each engine's cursor and that
//! bound, loads the data, and leaves the cursor at the bound. An event that
//! lands meanwhile is above the bound and seen by the next run: nothing is
//! lost, at worst something is recomputed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use recofinement_domain::media::{self, SoupColumn};
use recofinement_engine::als::{AlsParams, FoldInteraction, ItemModel};
use recofinement_engine::from_profile::{self, ProfileParams};
use recofinement_engine::from_similar_content::{self, SimilarContentParams};
use recofinement_engine::links::{self, LinkParams};
use recofinement_engine::sandbox::{self, ProfileMeta, SandboxProfile};
use recofinement_engine::similarity::{self, Neighbours, SimilarPair, SimilarityParams};
use recofinement_engine::{
    Cancel, Cancelled, ContentKind, Dataset, EngineName, Group, Interaction, Item, Recommendation,
    popularity, text,
};
use recofinement_store::Db;
use recofinement_store::changes::{Heard, ListChange};
use recofinement_store::engine_io::{
    Cursor, EventRange, InteractionRow, ItemText, RecoOwner, RecoRow, SimilarRow, UserScope,
    Written,
};
use recofinement_store::engine_lock::Fence;
use recofinement_store::engine_params::StoredAlsParams;
use recofinement_store::engine_runs::{RunOf, RunScope};
use recofinement_store::profiles::RunResult;

use crate::peak_memory;

/// Every engine, in the order a full pass runs them: the shared inputs
/// first (popularity, similarities), then the recommenders by priority so
/// that the higher-priority engine claims an item first.
pub const ALL_ENGINES: [EngineName; 6] = [
    EngineName::Popularity,
    EngineName::ContentSimilarities,
    EngineName::LinkBetweenItems,
    EngineName::CollaborativeFiltering,
    EngineName::FromProfile,
    EngineName::FromSimilarContent,
];

/// When an engine is due: its original cadence, or sooner once this many
/// relevant events piled up.
pub fn cadence(engine: EngineName) -> (Duration, i64) {
    let hours = |h: u64| Duration::from_secs(h * 3600);
    match engine {
        EngineName::Popularity => (hours(24), 1),
        EngineName::ContentSimilarities | EngineName::LinkBetweenItems => (hours(24), 1),
        EngineName::CollaborativeFiltering => (hours(6), 200),
        EngineName::FromProfile | EngineName::FromSimilarContent => (hours(2), 1),
    }
}

/// The words of an item's "soup": its text columns (names kept whole, lists
/// cut to five) and its genres' names.
fn soup(
    columns: &[SoupColumn],
    texts: &[Option<String>],
    genres: &[i64],
    genre_names: &HashMap<i64, String>,
) -> Vec<String> {
    let mut soup: Vec<String> = Vec::new();
    for (column, value) in columns.iter().zip(texts) {
        let Some(value) = value else { continue };
        match column.names {
            Some(separator) => soup.extend(value.split(separator).take(5).map(text::name_token)),
            None => soup.push(value.clone()),
        }
    }
    soup.extend(
        genres
            .iter()
            .filter_map(|g| genre_names.get(g))
            .map(|n| text::name_token(n)),
    );
    soup
}

/// Whose interactions a snapshot loads.
#[derive(Debug)]
enum Interactions {
    All,
    Users(std::collections::BTreeSet<i64>),
}

/// What the engines of a run read (the catalogue's ids, kinds, ratings,
/// titles and genres are always loaded).
#[derive(Debug)]
struct Needs {
    /// The items' text (the content engines compare it).
    text: bool,
    interactions: Interactions,
}

impl Default for Needs {
    fn default() -> Self {
        Needs {
            text: false,
            interactions: Interactions::Users(Default::default()),
        }
    }
}

impl Needs {
    fn add(&mut self, engine: EngineName, scope: &Scope, real_users: &[i64], groups: &[Group]) {
        match engine {
            EngineName::Popularity => {}
            EngineName::ContentSimilarities | EngineName::LinkBetweenItems => self.text = true,
            // A training reads everyone, dataset accounts included.
            EngineName::CollaborativeFiltering => self.interactions = Interactions::All,
            EngineName::FromProfile | EngineName::FromSimilarContent => {
                let Interactions::Users(users) = &mut self.interactions else {
                    return;
                };
                users.extend(subjects(scope, real_users));
                users.extend(groups.iter().flat_map(|g| g.members.iter().copied()));
            }
        }
    }
}

/// The users a user engine computes for: the accounts that can log in, all
/// of them or those of the scope.
fn subjects(scope: &Scope, real_users: &[i64]) -> Vec<i64> {
    match scope {
        Scope::All => real_users.to_vec(),
        Scope::Users(users) => {
            let real: HashSet<i64> = real_users.iter().copied().collect();
            users.iter().copied().filter(|u| real.contains(u)).collect()
        }
    }
}

/// What one engine run did.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub engine: &'static str,
    /// Users, groups or items it computed for.
    pub subjects: usize,
    pub rows: usize,
    pub seconds: f64,
    /// Whether it ran for every subject or only for those with new events.
    pub scope: &'static str,
    /// Peak resident memory of the process while it ran, snapshot
    /// included (`peak_memory`).
    pub peak_mib: Option<f64>,
}

/// How much a snapshot held.
#[derive(Clone, Copy, Debug)]
pub struct SnapshotSize {
    pub items: usize,
    /// Users with at least one interaction.
    pub users: usize,
    pub interactions: usize,
    /// Peak resident memory of the process up to the end of the load.
    pub peak_mib: Option<f64>,
}

/// The database snapshot the engines read.
pub struct Snapshot {
    pub dataset: Dataset,
    pub real_users: Vec<i64>,
    pub groups: Vec<Group>,
    pub genre_names: HashMap<i64, String>,
    pub load_seconds: f64,
}

/// Runs engines; one run at a time per process (and, on PostgreSQL, the
/// scheduler holds an advisory lock so one process runs them at a time).
pub struct EngineRunner {
    db: Db,
    /// The fold-ins' own connections to the same database (see
    /// [`Db::own_pool`]): under load (bench/QUALITY.md, "Freshness") a
    /// fold-in's two reads and its write each queued for a connection behind
    /// every list read of the API; with connections of its own it waits only
    /// for the writer turn (SQLite, shared by every pool on the file) or row
    /// locks (PostgreSQL).
    fold_db: Db,
    /// A run's batch reads (see [`Db::batch_pool`]): the snapshot and the
    /// similar pairs. At scale one of them takes seconds, which is not a
    /// slow request.
    batch_db: Db,
    /// Abuse limits: retrain spacing and wake-up coalescing.
    limits: RunLimits,
    running: tokio::sync::Mutex<()>,
    /// Rayon pool the computations use (bounded in `serve`).
    pool: Arc<rayon::ThreadPool>,
    /// The scheduler's part, for readiness: 0 none, 1 standby, 2 holds the lock.
    scheduler_role: std::sync::atomic::AtomicU8,
    /// Item side of the last collaborative-filtering training, for fold-ins.
    collaborative: CollaborativeSlot,
    /// Users waiting for a fold-in (see [`EngineRunner::request_fold_in`]).
    fold_ins: Arc<FoldInQueue>,
    /// Cancelled at shutdown: every computation's token is its child.
    shutdown: Cancel,
    /// Tells the Socket.IO sessions that the process is stopping.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The scheduler generation this process holds (see `engine_lock`):
    /// scheduled and forced runs write under the one they started with.
    fence: std::sync::Mutex<Option<Fence>>,
    /// Test seam: called on the engine's threads before each computation.
    probe: Option<Probe>,
}

/// Called with a computation's token before it starts (tests observe or
/// stall computations through it).
pub type Probe = Arc<dyn Fn(&Cancel) + Send + Sync>;

impl EngineRunner {
    pub fn new(db: Db, threads: usize) -> anyhow::Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("engine-{i}"))
            .build()?;
        Ok(EngineRunner {
            fold_db: db.own_pool(FOLD_IN_CONNECTIONS),
            batch_db: db.batch_pool(1),
            db,
            limits: RunLimits::default(),
            running: tokio::sync::Mutex::new(()),
            pool: Arc::new(pool),
            scheduler_role: Default::default(),
            collaborative: CollaborativeSlot::default(),
            fold_ins: Arc::default(),
            shutdown: Cancel::new(),
            stopping: tokio::sync::watch::channel(false).0,
            fence: std::sync::Mutex::new(None),
            probe: None,
        })
    }

    /// Calls `probe` on the engine's threads before every computation.
    pub fn with_probe(mut self, probe: Probe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// The process is stopping: every computation in progress gives up
    /// within a second (writing nothing more, its cursor left where it was,
    /// its history row `interrupted`), later ones do not start, and the
    /// Socket.IO sessions are told.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
        self.stopping.send_replace(true);
    }

    /// Whether [`EngineRunner::shutdown`] was called.
    pub fn is_shut_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Completes once [`EngineRunner::shutdown`] is called.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut stopping = self.stopping.subscribe();
        async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        }
    }

    /// The scheduler took the lock under `fence`: the runs it starts from
    /// now on write under it, and are refused once another holder bumps it.
    pub fn set_fence(&self, fence: Option<Fence>) {
        *self.fence.lock().unwrap_or_else(|e| e.into_inner()) = fence;
    }

    fn current_fence(&self) -> Option<Fence> {
        *self.fence.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The scheduler of this process says whether it holds the lock.
    pub fn set_scheduler_role(&self, holds_lock: bool) {
        let role = if holds_lock { 2 } else { 1 };
        self.scheduler_role
            .store(role, std::sync::atomic::Ordering::Relaxed);
    }

    /// `scheduler`, `standby`, or `None` when no scheduler runs here.
    pub fn scheduler_role(&self) -> Option<&'static str> {
        match self
            .scheduler_role
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            2 => Some("scheduler"),
            1 => Some("standby"),
            _ => None,
        }
    }

    /// Loads the snapshot the engines of `plan` read, and no more: item text
    /// only for the content engines, every interaction only for a
    /// collaborative-filtering training, else those of the users computed for
    /// (and of group members, whose lists are recomputed with every user run).
    async fn snapshot(&self, plan: &[(EngineName, Scope)]) -> anyhow::Result<Snapshot> {
        let started = Instant::now();
        let real_users = self.batch_db.engine_real_users().await?;
        let groups: Vec<Group> = self
            .batch_db
            .engine_groups()
            .await?
            .into_iter()
            .map(|(id, members)| Group { id, members })
            .collect();
        let mut needs = Needs::default();
        for (engine, scope) in plan {
            needs.add(*engine, scope, &real_users, &groups);
        }
        self.load(needs, real_users, groups, started).await
    }

    async fn load(
        &self,
        needs: Needs,
        real_users: Vec<i64>,
        groups: Vec<Group>,
        started: Instant,
    ) -> anyhow::Result<Snapshot> {
        let mut genres: HashMap<i64, Vec<i64>> = HashMap::new();
        let mut genre_names = HashMap::new();
        for link in self.batch_db.engine_content_genres().await? {
            genres.entry(link.content).or_default().push(link.genre);
            genre_names.insert(link.genre, link.name);
        }
        let mut items = Vec::new();
        for kind in ContentKind::ALL {
            let spec = media::spec(kind);
            // The title alone unless the text is compared.
            let text = if needs.text {
                ItemText::Soup
            } else {
                ItemText::Title
            };
            for row in self.batch_db.engine_items(spec, text).await? {
                let item_genres = genres.remove(&row.content).unwrap_or_default();
                let soup = if needs.text {
                    soup(spec.soup, &row.texts, &item_genres, &genre_names)
                } else {
                    Vec::new()
                };
                items.push(Item {
                    id: row.content,
                    kind,
                    title: row.texts.first().cloned().flatten().unwrap_or_default(),
                    text: soup,
                    genres: item_genres,
                    rating: row.rating,
                    rating_count: row.rating_count.unwrap_or(0),
                });
            }
        }
        let users: Vec<i64>;
        let scope = match &needs.interactions {
            Interactions::All => UserScope::All,
            Interactions::Users(set) => {
                users = set.iter().copied().collect();
                UserScope::Users(&users)
            }
        };
        let mut interactions: Vec<Interaction> = Vec::new();
        if let UserScope::All = scope {
            // Sized once: growing by doubling would hold 1.5 copies at the end.
            let estimate = self.batch_db.engine_interactions_estimate().await?;
            interactions.reserve(estimate + estimate / 64);
        }
        self.batch_db
            .engine_interactions(scope, |row| {
                interactions.push(Interaction {
                    user: row.user,
                    item: row.content,
                    rating: row.rating.map(|r| r as f32),
                    count: interaction_count(row.views, row.count),
                })
            })
            .await?;
        let interests = self.batch_db.engine_interests(scope).await?;
        let flags = self.batch_db.engine_flags(scope).await?;
        // The popularity prior counts every user, loaded or not.
        let audience = match scope {
            UserScope::All => None,
            UserScope::Users(_) => Some(self.batch_db.engine_audience().await?),
        };
        let dataset = tokio::task::spawn_blocking(move || {
            let dataset = Dataset::new(items, &interactions, &interests, &flags);
            match audience {
                Some(counts) => {
                    let counts: Vec<(i64, u32)> = counts
                        .into_iter()
                        .map(|(id, n)| (id, u32::try_from(n).unwrap_or(u32::MAX)))
                        .collect();
                    dataset.with_audience(&counts)
                }
                None => dataset,
            }
        })
        .await?;
        Ok(Snapshot {
            dataset,
            real_users,
            groups,
            genre_names,
            load_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Runs the given engines. With `force`, each runs for every subject;
    /// otherwise only the engines with relevant events since their cursor,
    /// and the user engines only for the users those events concern.
    pub async fn run(&self, engines: &[EngineName], force: bool) -> anyhow::Result<Vec<RunReport>> {
        Ok(self.run_measured(engines, force).await?.0)
    }

    /// Runs the forced runs waiting (asked for on any instance; see
    /// `recofinement_store::forced_runs`), then takes them off the queue,
    /// failed or not: a failure is in the engine history, and a request
    /// that kept failing must not run again at every tick. A run stopped by
    /// shutdown stays queued for the next scheduler. Only the scheduler
    /// calls it, under its fence.
    pub async fn serve_forced_runs(&self) -> anyhow::Result<()> {
        let waiting = self.db.forced_runs_waiting().await?;
        if waiting.is_empty() {
            return Ok(());
        }
        let engines: Vec<EngineName> = waiting.iter().map(|run| run.engine).collect();
        let ran = self.run(&engines, true).await;
        if !self.is_shut_down() {
            self.db.forced_runs_done(&waiting).await?;
        }
        ran.map(drop)
    }

    /// `run`, also telling the size of the snapshot the engines read (none
    /// when nothing had to run).
    pub async fn run_measured(
        &self,
        engines: &[EngineName],
        force: bool,
    ) -> anyhow::Result<(Vec<RunReport>, Option<SnapshotSize>)> {
        let _guard = self.running.lock().await;
        self.shutdown.check()?;
        let cancel = self.shutdown.child();
        let fence = self.current_fence();
        let bound = self.db.event_bound().await?;
        let mut plan = Vec::new();
        for engine in ALL_ENGINES.into_iter().filter(|e| engines.contains(e)) {
            if let Some(scope) = self.scope(engine, force, bound).await? {
                plan.push((engine, scope));
            }
        }
        if plan.is_empty() {
            return Ok((Vec::new(), None));
        }
        let snapshot = Arc::new(self.snapshot(&plan).await?);
        tracing::debug!(
            seconds = snapshot.load_seconds,
            engines = plan.len(),
            "engine snapshot loaded"
        );
        let size = SnapshotSize {
            items: snapshot.dataset.items.len(),
            users: snapshot.dataset.matrix.n_users(),
            interactions: snapshot.dataset.matrix.nnz(),
            peak_mib: peak_memory::peak_mib(),
        };
        let mut reports = Vec::new();
        for (engine, scope) in plan {
            // Each run's recorded peak is its own, not the process's since it started.
            peak_memory::reset();
            // Engine history: every run is recorded, failed ones included.
            let (started, history_scope) = (Instant::now(), scope.history_scope());
            let run = RunContext {
                bound,
                cancel: &cancel,
                fence,
            };
            let result = self.run_one(engine, scope, snapshot.clone(), run).await;
            let finished = crate::run_history::Finished::of_report(&result);
            let cause = crate::run_history::cause(force);
            crate::run_history::record(
                &self.db,
                RunOf::Engine(engine),
                cause,
                history_scope,
                started.elapsed(),
                finished,
            )
            .await;
            let report = result.with_context(|| engine.as_str())?;
            tracing::info!(
                engine = report.engine,
                subjects = report.subjects,
                rows = report.rows,
                seconds = report.seconds,
                scope = report.scope,
                "engine run"
            );
            reports.push(report);
        }
        Ok((reports, Some(size)))
    }

    /// Which subjects an engine must run for, judged from the events between
    /// its cursor and `bound`, or `None` when it has nothing to do.
    async fn scope(
        &self,
        engine: EngineName,
        force: bool,
        bound: i64,
    ) -> anyhow::Result<Option<Scope>> {
        if force {
            return Ok(Some(Scope::All));
        }
        let Some((cursor, last_run)) = self.db.engine_state(engine).await? else {
            return Ok(Some(Scope::All));
        };
        let range = EventRange {
            from: cursor,
            before: bound,
        };
        let (interval, pile) = cadence(engine);
        let elapsed = (recofinement_store::now() - last_run)
            .to_std()
            .unwrap_or_default();
        let added = self.db.added_events_in(range).await?;
        Ok(match engine {
            EngineName::Popularity
            | EngineName::ContentSimilarities
            | EngineName::LinkBetweenItems => {
                let interactions = if engine == EngineName::Popularity {
                    self.db.interaction_events_in(range).await?
                } else {
                    0
                };
                let due = added >= pile || (interactions > 0 && elapsed >= interval);
                due.then_some(Scope::All)
            }
            // A process without item factors (just started, or taking over
            // the scheduler) trains at once: otherwise no rating would fold
            // in until the next retrain, up to the cadence later.
            EngineName::CollaborativeFiltering if self.collaborative.get().is_none() => {
                Some(Scope::All)
            }
            EngineName::CollaborativeFiltering if elapsed < self.limits.cf_min_interval => None,
            EngineName::CollaborativeFiltering => {
                let events = self.db.interaction_events_in(range).await?;
                (added > 0 || events >= pile || (events > 0 && elapsed >= interval))
                    .then_some(Scope::All)
            }
            EngineName::FromProfile | EngineName::FromSimilarContent => {
                if added > 0 {
                    Some(Scope::All)
                } else {
                    let users = self.db.users_with_events_in(range).await?;
                    (!users.is_empty()).then_some(Scope::Users(users))
                }
            }
        })
    }

    async fn run_one(
        &self,
        engine: EngineName,
        scope: Scope,
        snapshot: Arc<Snapshot>,
        run: RunContext<'_>,
    ) -> anyhow::Result<RunReport> {
        let started = Instant::now();
        let RunContext {
            bound,
            cancel,
            fence,
        } = run;
        let stop_token = cancel.clone();
        let stop = move || stop_token.is_cancelled();
        let cursor = Cursor {
            engine,
            kinds: &ContentKind::ALL,
            consumed_before: bound,
            fence,
            stop: Some(&stop),
        };
        let pool = Computations {
            pool: self.pool.clone(),
            probe: self.probe.clone(),
            cancel: cancel.clone(),
        };
        let scope_name = match scope {
            Scope::All => "all",
            Scope::Users(_) => "users with new events",
        };
        let (subjects, rows) = match engine {
            EngineName::Popularity => self.run_popularity(&pool, snapshot, cursor).await?,
            EngineName::ContentSimilarities | EngineName::LinkBetweenItems => {
                self.run_item_pairs(&pool, snapshot, cursor).await?
            }
            EngineName::CollaborativeFiltering
            | EngineName::FromProfile
            | EngineName::FromSimilarContent => {
                self.run_user_lists(&pool, snapshot, cursor, &scope).await?
            }
        };
        Ok(RunReport {
            engine: engine.as_str(),
            subjects,
            rows,
            seconds: started.elapsed().as_secs_f64(),
            scope: scope_name,
            peak_mib: peak_memory::peak_mib(),
        })
    }

    /// Popularity: one score per item. Answers (subjects, rows written).
    async fn run_popularity(
        &self,
        pool: &Computations,
        snapshot: Arc<Snapshot>,
        cursor: Cursor<'_>,
    ) -> anyhow::Result<(usize, usize)> {
        let scores = pool
            .run(move |_| Ok(popularity::compute(&snapshot.dataset.items)))
            .await?;
        let rows: Vec<(i64, f64)> = scores.scores.iter().map(|s| (s.item, s.score)).collect();
        completed(self.db.write_popularity(&rows, cursor).await?)?;
        Ok((rows.len(), rows.len()))
    }

    /// Content similarities (within a kind) or links (across kinds): pairs
    /// of items, the whole table replaced.
    async fn run_item_pairs(
        &self,
        pool: &Computations,
        snapshot: Arc<Snapshot>,
        cursor: Cursor<'_>,
    ) -> anyhow::Result<(usize, usize)> {
        let same = cursor.engine == EngineName::ContentSimilarities;
        let subjects = snapshot.dataset.items.len();
        let pairs = pool
            .run(move |cancel| {
                let items = &snapshot.dataset.items;
                if same {
                    let params = SimilarityParams::default();
                    similarity::content_similarities_with(items, None, &params, cancel)
                } else {
                    links::link_items_with(items, &LinkParams::default(), cancel)
                }
            })
            .await?;
        let rows: Vec<SimilarRow> = pairs.iter().map(similar_row).collect();
        completed(self.db.replace_similars(same, &rows, cursor).await?)?;
        Ok((subjects, rows.len()))
    }

    /// The per-user engines: the lists of the scope's users, and every
    /// group's list (cheap, so recomputed with every run); after a
    /// collaborative training, the fold-ins it made stale are redone.
    async fn run_user_lists(
        &self,
        pool: &Computations,
        snapshot: Arc<Snapshot>,
        cursor: Cursor<'_>,
        scope: &Scope,
    ) -> anyhow::Result<(usize, usize)> {
        let engine = cursor.engine;
        let users = subjects(scope, &snapshot.real_users);
        let pairs = match engine {
            EngineName::FromSimilarContent => self.batch_db.engine_similar_pairs().await?,
            _ => Vec::new(),
        };
        let training = self.collaborative_training().await?;
        let subjects = users.clone();
        let (user_rows, group_rows) = pool
            .run(move |cancel| recommend(engine, &snapshot, &subjects, &pairs, &training, cancel))
            .await?;
        let owner = match scope {
            Scope::All => RecoOwner::Users(None),
            Scope::Users(_) => RecoOwner::Users(Some(&users)),
        };
        if let Some(group_rows) = &group_rows {
            let no_cursor = Cursor {
                kinds: &[],
                ..cursor
            };
            let written = self
                .db
                .replace_recommendations(engine, RecoOwner::Groups, group_rows, no_cursor)
                .await?;
            completed(written)?;
        }
        let written = self
            .db
            .replace_recommendations(engine, owner, &user_rows, cursor)
            .await?;
        completed(written)?;
        if engine == EngineName::CollaborativeFiltering {
            // The training's rows and cursor are written: a failure
            // here leaves those users to their next rating.
            if let Err(error) = self.refold_after_training(cursor.consumed_before).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "fold-ins after a training failed"
                );
            }
        }
        let rows = user_rows.len() + group_rows.map_or(0, |g| g.len());
        Ok((users.len(), rows))
    }

    /// Computes a sandbox run: from-profile and from-similar-content for the
    /// snapshot of a profile taken at launch, stored as the run's results.
    pub async fn run_profile(&self, run_id: i64) -> anyhow::Result<usize> {
        self.run_profile_with(run_id, &self.shutdown.child()).await
    }

    /// [`EngineRunner::run_profile`], given up once `cancel` (or shutdown)
    /// is set: then nothing is stored and the error is [`Cancelled`].
    pub async fn run_profile_with(&self, run_id: i64, cancel: &Cancel) -> anyhow::Result<usize> {
        cancel.check()?;
        let genres: Vec<i64> = self
            .db
            .run_genres_all(run_id)
            .await?
            .into_iter()
            .map(|(id, _, _)| id)
            .collect();
        let metas = self
            .db
            .run_metas_all(run_id)
            .await?
            .into_iter()
            .map(|(item, rating, views, count)| ProfileMeta {
                item,
                rating: rating.map(|r| r as f32),
                count: interaction_count(views, count),
            })
            .collect();
        let profile = SandboxProfile {
            liked_genres: genres,
            metas,
        };
        // A sandbox profile is its own subject: no user's interactions.
        let needs = Needs::default();
        let (real_users, groups) = (Vec::new(), Vec::new());
        let snapshot = Arc::new(self.load(needs, real_users, groups, Instant::now()).await?);
        let pairs = self.batch_db.engine_similar_pairs().await?;
        let computations = Computations {
            pool: self.pool.clone(),
            probe: self.probe.clone(),
            cancel: cancel.clone(),
        };
        let rows = computations
            .run(move |cancel| {
                let neighbours = Neighbours::from_pairs(&snapshot.dataset, &stored_pairs(&pairs));
                sandbox::recommend_profile_with(
                    &snapshot.dataset,
                    &neighbours,
                    &profile,
                    &ProfileParams::default(),
                    &SimilarContentParams::default(),
                    cancel,
                )
            })
            .await?;
        cancel.check()?;
        let results: Vec<RunResult> = rows
            .iter()
            .map(|r| RunResult {
                content_id: r.item,
                score: r.score,
                engine: r.engine.as_str().into(),
            })
            .collect();
        self.db.finish_run(run_id, &results, "done").await?;
        Ok(results.len())
    }
}

/// Subjects of a run.
enum Scope {
    All,
    Users(Vec<i64>),
}

impl Scope {
    /// The scope as the engine history writes it.
    fn history_scope(&self) -> RunScope {
        match self {
            Scope::All => RunScope::All,
            Scope::Users(_) => RunScope::Users,
        }
    }
}

/// Runs CPU work on the engine's rayon pool, off the async reactor.
async fn compute<T: Send + 'static>(
    pool: &Arc<rayon::ThreadPool>,
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let pool = pool.clone();
    Ok(tokio::task::spawn_blocking(move || pool.install(work)).await?)
}

/// What one run hands each engine: its event bound, its token, its fence.
#[derive(Clone, Copy)]
struct RunContext<'a> {
    bound: i64,
    cancel: &'a Cancel,
    fence: Option<Fence>,
}

/// The engine's pool with a run's token: computations get the token and
/// fail with [`Cancelled`] once it is set.
struct Computations {
    pool: Arc<rayon::ThreadPool>,
    probe: Option<Probe>,
    cancel: Cancel,
}

impl Computations {
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Cancel) -> Result<T, Cancelled> + Send + 'static,
    ) -> anyhow::Result<T> {
        self.cancel.check()?;
        let (cancel, probe) = (self.cancel.clone(), self.probe.clone());
        let result = compute(&self.pool, move || {
            if let Some(probe) = probe {
                probe(&cancel);
            }
            cancel.check()?;
            work(&cancel)
        })
        .await?;
        Ok(result?)
    }
}

/// A write stopped by a cancellation is the run's cancellation.
fn completed(written: Written) -> Result<(), Cancelled> {
    match written {
        Written::Done => Ok(()),
        Written::Stopped => Err(Cancelled),
    }
}

/// Whether a run ended because it was cancelled (shutdown, timeout).
pub fn is_cancelled(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<Cancelled>())
}

fn similar_row(pair: &SimilarPair) -> SimilarRow {
    SimilarRow {
        source: pair.source,
        target: pair.target,
        similarity: pair.similarity,
        source_kind: pair.source_kind,
        target_kind: pair.target_kind,
    }
}

fn stored_pairs(rows: &[SimilarRow]) -> Vec<SimilarPair> {
    rows.iter()
        .map(|row| SimilarPair {
            source: row.source,
            target: row.target,
            similarity: row.similarity,
            source_kind: row.source_kind,
            target_kind: row.target_kind,
        })
        .collect()
}

/// One recommending engine for users (and for groups, for the content
/// engines), with a short reason per row.
fn recommend(
    engine: EngineName,
    snapshot: &Snapshot,
    users: &[i64],
    pairs: &[SimilarRow],
    training: &CollaborativeTraining,
    cancel: &Cancel,
) -> Result<(Vec<RecoRow>, Option<Vec<RecoRow>>), Cancelled> {
    let ds = &snapshot.dataset;
    let reasons = Reasons::new(snapshot, pairs);
    Ok(match engine {
        // Trained even when no real user is served yet: the kept item
        // factors serve the fold-ins of the first users who rate.
        EngineName::CollaborativeFiltering => {
            let recs = training.train(ds, users, cancel)?;
            (reasons.rows(&recs, engine, true), None)
        }
        EngineName::FromProfile => {
            let params = ProfileParams::default();
            let recs = from_profile::for_users_with(ds, Some(users), &params, cancel)?;
            let groups = from_profile::for_groups_with(ds, &snapshot.groups, &params, cancel)?;
            (
                reasons.rows(&recs, engine, true),
                Some(reasons.rows(&groups, engine, false)),
            )
        }
        _ => {
            let neighbours = Neighbours::from_pairs(ds, &stored_pairs(pairs));
            let params = SimilarContentParams::default();
            let recs = from_similar_content::for_users_with(
                ds,
                &neighbours,
                Some(users),
                &params,
                cancel,
            )?;
            let groups = from_similar_content::for_groups_with(
                ds,
                &neighbours,
                &snapshot.groups,
                &params,
                cancel,
            )?;
            (
                reasons.rows(&recs, engine, true),
                Some(reasons.rows(&groups, engine, false)),
            )
        }
    })
}

/// Explains recommendations in a few words: the declared genre or the
/// liked item that led to them.
struct Reasons<'a> {
    snapshot: &'a Snapshot,
    /// target → (source, similarity) of same-kind neighbours.
    sources: HashMap<i64, Vec<(i64, f64)>>,
    titles: HashMap<i64, &'a str>,
}

impl<'a> Reasons<'a> {
    fn new(snapshot: &'a Snapshot, pairs: &[SimilarRow]) -> Self {
        let mut sources: HashMap<i64, Vec<(i64, f64)>> = HashMap::new();
        for pair in pairs {
            sources
                .entry(pair.target)
                .or_default()
                .push((pair.source, pair.similarity));
        }
        let titles = snapshot
            .dataset
            .items
            .iter()
            .map(|i| (i.id, i.title.as_str()))
            .collect();
        Reasons {
            snapshot,
            sources,
            titles,
        }
    }

    /// Items the user interacted with.
    fn consumed(&self, user: i64) -> HashSet<i64> {
        let ds = &self.snapshot.dataset;
        match ds.matrix.users.position(user) {
            Some(row) => ds.matrix.indices[ds.matrix.row(row)]
                .iter()
                .map(|&i| ds.items[i as usize].id)
                .collect(),
            None => HashSet::new(),
        }
    }

    fn reason(
        &self,
        rec: &Recommendation,
        engine: EngineName,
        consumed: &HashSet<i64>,
    ) -> Option<String> {
        let ds = &self.snapshot.dataset;
        match engine {
            EngineName::CollaborativeFiltering => Some(COLLABORATIVE_REASON.into()),
            EngineName::FromSimilarContent => self
                .sources
                .get(&rec.item)?
                .iter()
                .filter(|(source, _)| consumed.contains(source))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .and_then(|(source, _)| self.titles.get(source))
                .map(|title| format!("Similar to {title}")),
            EngineName::FromProfile => {
                let item = ds.item_index.position(rec.item).map(|p| &ds.items[p])?;
                let declared = ds
                    .matrix
                    .users
                    .position(rec.subject)
                    .map(|row| &ds.interests[row]);
                let genre = item
                    .genres
                    .iter()
                    .find(|g| declared.is_some_and(|d| d.contains(g)))
                    .or_else(|| item.genres.first())?;
                self.snapshot
                    .genre_names
                    .get(genre)
                    .map(|name| format!("Because you like {name}"))
            }
            _ => None,
        }
    }

    /// Database rows of recommendations; group rows (`personal` false) carry
    /// no per-user reason.
    fn rows(&self, recs: &[Recommendation], engine: EngineName, personal: bool) -> Vec<RecoRow> {
        let mut consumed_cache: HashMap<i64, HashSet<i64>> = HashMap::new();
        recs.iter()
            .map(|rec| {
                let reason = if !personal {
                    None
                } else {
                    let consumed = consumed_cache
                        .entry(rec.subject)
                        .or_insert_with(|| self.consumed(rec.subject));
                    self.reason(rec, engine, consumed)
                };
                RecoRow {
                    subject: rec.subject,
                    content: rec.item,
                    score: rec.score,
                    kind: rec.kind,
                    reason,
                }
            })
            .collect()
    }
}

/// What the API asks of the engine: wake the scheduler when a user's
/// interests change (cold start), and compute sandbox runs on the engine's
/// threads.
pub struct EngineBridge {
    pub wake: Arc<tokio::sync::Notify>,
    pub runner: Arc<EngineRunner>,
}

impl recofinement_api::state::EngineHooks for EngineBridge {
    fn user_changed(&self, user_id: i64) {
        if self.runner.limits.first_wake_in_interval(user_id) {
            self.wake.notify_one();
        }
    }

    fn interactions_changed(&self, user_id: i64) {
        self.runner.interactions_changed(user_id);
    }

    fn run_profile(
        &self,
        run_id: i64,
    ) -> futures::future::BoxFuture<'static, Result<usize, recofinement_api::state::SandboxError>>
    {
        use recofinement_api::state::SandboxError;
        let runner = self.runner.clone();
        // The computation runs in its own task under its own token; if the
        // caller stops waiting (its timeout), dropping the guard cancels it
        // so it frees the cores, and the task still records how it ended.
        let cancel = runner.shutdown.child();
        let guard = CancelOnDrop(cancel.clone());
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let result = runner.run_profile_with(run_id, &cancel).await;
            crate::run_history::record_sandbox(&runner.db, started.elapsed(), &result).await;
            result
        });
        Box::pin(async move {
            let _guard = guard;
            match task.await {
                Ok(Ok(rows)) => Ok(rows),
                Ok(Err(error)) if is_cancelled(&error) => Err(SandboxError::Interrupted),
                Ok(Err(error)) => Err(SandboxError::Failed(error.into())),
                Err(join) => Err(SandboxError::Failed(Box::new(join))),
            }
        })
    }

    fn stopping(&self) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(self.runner.stopped())
    }

    fn forced_run_plan(
        &self,
        engines: &[EngineName],
    ) -> Result<Vec<EngineName>, recofinement_api::state::NoEngineToRun> {
        Ok(ALL_ENGINES
            .into_iter()
            .filter(|engine| engines.is_empty() || engines.contains(engine))
            .collect())
    }

    fn forced_runs_requested(&self) {
        self.wake.notify_one();
    }

    fn scheduler_role(&self) -> Option<&'static str> {
        self.runner.scheduler_role()
    }

    fn cadences(&self) -> Vec<recofinement_api::state::EngineCadence> {
        crate::run_history::cadences()
    }
}

/// Cancels its token when dropped.
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// What a user can make the engines do: a collaborative-filtering retrain
/// at most every `cf_min_interval` (`CF_MIN_INTERVAL_SECS`), and at most one
/// immediate run per user per `wake_interval` for interest changes (later
/// ones wait for the scheduler's next tick, which sees them all at once).
pub struct RunLimits {
    pub cf_min_interval: Duration,
    pub wake_interval: Duration,
    recent_wakes: std::sync::Mutex<HashMap<i64, Instant>>,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            cf_min_interval: Duration::from_secs(600),
            wake_interval: Duration::from_secs(30),
            recent_wakes: Default::default(),
        }
    }
}

impl RunLimits {
    /// True for the first change of this user in the wake interval.
    pub fn first_wake_in_interval(&self, user_id: i64) -> bool {
        let Ok(mut recent) = self.recent_wakes.lock() else {
            return false;
        };
        let now = Instant::now();
        recent.retain(|_, at| now.duration_since(*at) < self.wake_interval);
        match recent.entry(user_id) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(now);
                true
            }
        }
    }
}

impl EngineRunner {
    /// Sets how often a collaborative-filtering retrain may run.
    pub fn with_cf_min_interval(mut self, interval: Duration) -> Self {
        self.limits.cf_min_interval = interval;
        self
    }
}

/// The counter of an interaction: views plus consumption, never negative.
fn interaction_count(views: Option<i64>, count: Option<i64>) -> u32 {
    (views.unwrap_or(0).max(0) + count.unwrap_or(0).max(0)).min(i64::from(u32::MAX)) as u32
}

const COLLABORATIVE_REASON: &str = "Liked by people with similar taste";

/// The item side of the last collaborative-filtering training (none before
/// the first one in this process).
#[derive(Clone, Default)]
struct CollaborativeSlot(Arc<std::sync::RwLock<Option<Arc<ItemModel>>>>);

impl CollaborativeSlot {
    fn get(&self) -> Option<Arc<ItemModel>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, model: ItemModel) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(model));
    }
}

/// What a full collaborative-filtering training needs: the parameters
/// (`engine tune --save`'s, or the code's defaults) and where to keep the
/// item factors for the fold-ins that follow.
struct CollaborativeTraining {
    params: AlsParams,
    slot: CollaborativeSlot,
}

impl CollaborativeTraining {
    /// Trains on the whole dataset, keeps the item side and recommends to `users`.
    fn train(
        &self,
        ds: &Dataset,
        users: &[i64],
        cancel: &Cancel,
    ) -> Result<Vec<Recommendation>, Cancelled> {
        let (model, items) = recofinement_engine::als::train_with(ds, &self.params, cancel)?;
        self.slot.set(items);
        model.recommend_with(ds, Some(users), self.params.n, cancel)
    }
}

/// The code's ALS defaults with the stored tuned values over them.
fn tuned_params(stored: Option<StoredAlsParams>) -> AlsParams {
    let defaults = AlsParams::default();
    match stored {
        Some(p) => AlsParams {
            factors: usize::try_from(p.factors)
                .unwrap_or(defaults.factors)
                .max(1),
            regularization: p.regularization as f32,
            alpha: p.alpha as f32,
            iterations: usize::try_from(p.iterations).unwrap_or(defaults.iterations),
            ..defaults
        },
        None => defaults,
    }
}

/// The tuned values of `params` as `engine tune --save` stores them.
pub fn stored_params(params: &AlsParams) -> StoredAlsParams {
    StoredAlsParams {
        factors: params.factors as i64,
        regularization: f64::from(params.regularization),
        alpha: f64::from(params.alpha),
        iterations: params.iterations as i64,
    }
}

impl EngineRunner {
    async fn collaborative_training(&self) -> anyhow::Result<CollaborativeTraining> {
        Ok(CollaborativeTraining {
            params: tuned_params(self.db.collaborative_params().await?),
            slot: self.collaborative.clone(),
        })
    }

    /// Real-time collaborative filtering: solves `user`'s factors against
    /// the item factors of the last full training and replaces their
    /// `CollaborativeFiltering` rows, without moving the engine's cursor (the
    /// full training keeps its cadence). Answers the rows written, or `None`
    /// when no training has run in this process yet (the next one serves them).
    pub async fn fold_in(&self, user: i64) -> anyhow::Result<Option<usize>> {
        self.fold_in_users(&[user]).await
    }

    /// [`EngineRunner::fold_in`] for several users, written in one
    /// transaction (one writer turn on SQLite however many users).
    async fn fold_in_users(&self, users: &[i64]) -> anyhow::Result<Option<usize>> {
        Ok(self.fold_in_timed(users).await?.map(|t| t.rows))
    }

    /// [`EngineRunner::fold_in_users`], also telling where the time went.
    async fn fold_in_timed(&self, users: &[i64]) -> anyhow::Result<Option<FoldInTimes>> {
        let Some(model) = self.collaborative.get() else {
            return Ok(None);
        };
        let started = Instant::now();
        // Two reads for the whole batch, not two per user: a queue of users
        // waits behind these reads.
        let scope = UserScope::Users(users);
        let mut interactions: HashMap<i64, Vec<InteractionRow>> = HashMap::new();
        self.fold_db
            .engine_interactions(scope, |row| {
                interactions.entry(row.user).or_default().push(row)
            })
            .await?;
        let mut flags: HashMap<i64, Vec<i64>> = HashMap::new();
        for (user, content) in self.fold_db.engine_flags(scope).await? {
            flags.entry(user).or_default().push(content);
        }
        let inputs: Vec<(i64, Vec<InteractionRow>, Vec<i64>)> = users
            .iter()
            .map(|&user| {
                let mine = interactions.remove(&user).unwrap_or_default();
                (user, mine, flags.remove(&user).unwrap_or_default())
            })
            .collect();
        let read = started.elapsed();
        // A fold-in costs a millisecond: it runs on a blocking thread rather
        // than queueing on the engine's pool behind a full run.
        let rows = tokio::task::spawn_blocking(move || {
            inputs
                .iter()
                .flat_map(|(user, interactions, flags)| {
                    fold_in_rows(&model, *user, interactions, flags)
                })
                .collect::<Vec<RecoRow>>()
        })
        .await?;
        let solved = started.elapsed();
        let engine = EngineName::CollaborativeFiltering;
        // Not fenced: any instance folds in the users it serves.
        let no_cursor = Cursor {
            engine,
            kinds: &[],
            consumed_before: 0,
            fence: None,
            stop: None,
        };
        let _ = self
            .fold_db
            .replace_recommendations(engine, RecoOwner::Users(Some(users)), &rows, no_cursor)
            .await?;
        let written = started.elapsed();
        Ok(Some(FoldInTimes {
            rows: rows.len(),
            read,
            solve: solved - read,
            write: written - solved,
        }))
    }

    /// After a training's rows are written: the users whose interactions
    /// changed since its snapshot (events at or above its `bound`) may have
    /// been folded in meanwhile, and the training just replaced those rows
    /// with older ones. They are folded in again, against the new factors.
    /// A rating still being committed now is folded in after its commit by
    /// its own request, so after this write. Every committed event counts,
    /// not only those below today's bound: on PostgreSQL the bound stays
    /// below any transaction still open in the cluster, and a user whose
    /// rating committed above it would keep the training's older rows.
    async fn refold_after_training(&self, bound: i64) -> anyhow::Result<()> {
        let range = EventRange {
            from: bound,
            before: i64::MAX,
        };
        let users = self.db.users_with_events_in(range).await?;
        if !users.is_empty() {
            let rows = self.fold_in_users(&users).await?;
            tracing::debug!(users = users.len(), rows = ?rows, "fold-ins redone after a training");
        }
        Ok(())
    }

    /// A user of this instance rated or consumed something. With item
    /// factors here, the user joins the fold-in queue; without (an instance
    /// that did not train, `serve --no-engine`), the change is announced so
    /// that the instance that trained folds them in
    /// ([`EngineRunner::follow_interactions`]).
    pub fn interactions_changed(self: &Arc<Self>, user_id: i64) {
        if self.collaborative.get().is_some() {
            self.request_fold_in(user_id);
        } else {
            let db = self.db.clone();
            tokio::spawn(async move {
                db.announce(ListChange::Interactions { user_id }).await;
            });
        }
    }

    /// Queues a fold-in of `user_id`. One task serves the queue: it takes
    /// every waiting user at once and folds them in together, so under a
    /// burst of ratings the writes batch up instead of queueing one by one
    /// for the database writer, and one user's fold-ins never race.
    pub fn request_fold_in(self: &Arc<Self>, user_id: i64) {
        if self.fold_ins.push(user_id) {
            let runner = Arc::downgrade(self);
            let queue = self.fold_ins.clone();
            tokio::spawn(async move {
                loop {
                    let (users, oldest) = queue.take().await;
                    let Some(runner) = runner.upgrade() else {
                        return;
                    };
                    if runner.is_shut_down() {
                        return;
                    }
                    runner.serve_fold_ins(&users, oldest).await;
                }
            });
        }
    }

    /// One batch of the fold-in queue. A failed batch (a lost connection, a
    /// database restarting) is tried again after [`FOLD_IN_RETRY_DELAYS`]:
    /// dropped, these users' lists would stay behind their ratings until
    /// the next full training, hours later.
    async fn serve_fold_ins(&self, users: &[i64], oldest: Instant) {
        let queued = oldest.elapsed();
        let mut delays = FOLD_IN_RETRY_DELAYS.iter();
        loop {
            let error = match self.fold_in_timed(users).await {
                Ok(Some(t)) => {
                    tracing::debug!(
                        users = users.len(),
                        rows = t.rows,
                        queued_ms = ms(queued),
                        read_ms = ms(t.read),
                        solve_ms = ms(t.solve),
                        write_ms = ms(t.write),
                        total_ms = ms(oldest.elapsed()),
                        "fold-in batch"
                    );
                    count_fold_ins(users, "done");
                    metrics::histogram!("recofinement_fold_in_delay_seconds")
                        .record(oldest.elapsed().as_secs_f64());
                    return;
                }
                Ok(None) => return,
                Err(error) => format!("{error:#}"),
            };
            match delays.next() {
                Some(&delay) if !self.is_shut_down() => {
                    tracing::warn!(?users, error, retry_in_ms = delay, "fold-in failed");
                    count_fold_ins(users, "retried");
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                _ => {
                    tracing::error!(
                        ?users,
                        error,
                        "fold-in given up: these users' lists wait for the next training"
                    );
                    count_fold_ins(users, "given_up");
                    return;
                }
            }
        }
    }

    /// Folds in the users whose interactions changed on other instances
    /// (their notices), as long as this instance keeps item factors; runs
    /// until the runner is dropped or shut down (spawn it). Started by the
    /// scheduler: the instance that trains is the one that can fold in.
    pub async fn follow_interactions(self: Arc<Self>) {
        let runner = Arc::downgrade(&self);
        let db = self.db.clone();
        drop(self);
        db.watch_changes(move |heard| {
            let Some(runner) = runner.upgrade() else {
                return false;
            };
            if let Heard::Change(ListChange::Interactions { user_id }) = heard
                && runner.collaborative.get().is_some()
            {
                runner.request_fold_in(user_id);
            }
            !runner.is_shut_down()
        })
        .await;
    }
}

/// Connections of the fold-ins' own pool: one for the queue's task, one
/// for the fold-ins redone after a training.
const FOLD_IN_CONNECTIONS: u32 = 2;

/// Waits before each new attempt of a failed fold-in batch, in
/// milliseconds: about 8 s in all, enough for a database restart.
const FOLD_IN_RETRY_DELAYS: [u64; 5] = [250, 500, 1_000, 2_000, 4_000];

/// Where a fold-in batch spent its time (the debug log's `fold-in batch`
/// line, with the time its oldest user waited in the queue).
struct FoldInTimes {
    rows: usize,
    /// The two reads (interactions and flags), pool waits included.
    read: Duration,
    /// The least-squares solves and top-k, on a blocking thread.
    solve: Duration,
    /// The transaction, waits for a connection and the writer included.
    write: Duration,
}

/// Counts the users of a fold-in batch by what became of it (operators
/// see failures and their retries without reading logs).
fn count_fold_ins(users: &[i64], outcome: &'static str) {
    metrics::counter!("recofinement_fold_ins_total", "outcome" => outcome)
        .increment(users.len() as u64);
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// Users waiting for a fold-in, in arrival order without repeats, when the
/// oldest of them arrived, and whether the task serving them has started.
#[derive(Default)]
struct FoldInQueue {
    waiting: std::sync::Mutex<Waiting>,
    ready: tokio::sync::Notify,
}

#[derive(Default)]
struct Waiting {
    users: Vec<i64>,
    since: Option<Instant>,
    serving: bool,
}

impl FoldInQueue {
    /// Adds a user; answers true when the serving task must be started.
    fn push(&self, user: i64) -> bool {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if !waiting.users.contains(&user) {
            waiting.users.push(user);
        }
        waiting.since.get_or_insert_with(Instant::now);
        self.ready.notify_one();
        !std::mem::replace(&mut waiting.serving, true)
    }

    /// Every waiting user, once there is at least one, and when the oldest
    /// of them arrived.
    async fn take(&self) -> (Vec<i64>, Instant) {
        loop {
            {
                let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
                if !waiting.users.is_empty() {
                    let since = waiting.since.take().unwrap_or_else(Instant::now);
                    return (std::mem::take(&mut waiting.users), since);
                }
            }
            self.ready.notified().await;
        }
    }
}

/// One user's `CollaborativeFiltering` rows from the kept item factors.
fn fold_in_rows(
    model: &ItemModel,
    user: i64,
    interactions: &[InteractionRow],
    flags: &[i64],
) -> Vec<RecoRow> {
    let position = |item: i64| model.items.position(item).map(|i| i as u32);
    let mine: Vec<FoldInteraction> = interactions
        .iter()
        .filter_map(|row| {
            let r = row.rating.unwrap_or(0) as f32;
            Some((
                position(row.content)?,
                r,
                interaction_count(row.views, row.count),
            ))
        })
        .collect();
    if mine.is_empty() {
        return Vec::new();
    }
    let mut excluded: Vec<u32> = mine
        .iter()
        .map(|e| e.0)
        .chain(flags.iter().filter_map(|&f| position(f)))
        .collect();
    excluded.sort_unstable();
    excluded.dedup();
    model
        .recommend(user, &model.fold_in(&mine), &excluded)
        .iter()
        .map(|r| RecoRow {
            subject: user,
            content: r.item,
            score: r.score,
            kind: r.kind,
            reason: Some(COLLABORATIVE_REASON.into()),
        })
        .collect()
}
