//! `recofinement engine …` and the background scheduler of `serve` and
//! `engine worker`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Subcommand, ValueEnum};

use anyhow::Context;
use recofinement::engine_runner::{
    ALL_ENGINES, EngineRunner, RunReport, SnapshotSize, stored_params,
};
use recofinement::{peak_memory, scheduler};
use recofinement_engine::EngineName;
use recofinement_engine::als::AlsParams;
use recofinement_engine::evaluate::{self, GenParams, Scale, Trial, TuneGrid};
use recofinement_store::Db;

#[derive(Subcommand, Debug)]
pub enum EngineCommand {
    /// Run engines now and print a summary. Without --force only the engines
    /// with new events run, and the user engines only for the users concerned.
    Run {
        /// Engines to run (Popularity, ContentSimilarities, LinkBetweenItems,
        /// CollaborativeFiltering, FromProfile, FromSimilarContent); default all.
        #[arg(long = "engine", value_parser = parse_engine_arg)]
        engines: Vec<EngineName>,
        /// Recompute for every subject even without new events.
        #[arg(long)]
        force: bool,
    },
    /// Run only the engine scheduler (no HTTP), e.g. beside `serve --no-engine`.
    Worker,
    /// Offline evaluation on planted synthetic data.
    Evaluate {
        #[arg(long, default_value_t = 11)]
        seed: u64,
        /// Size of the planted data: s, m or l.
        #[arg(long, default_value = "s")]
        scale: String,
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
        /// Also write the scored train/test split as CSV to this directory
        /// (`items.csv`, `train.csv`, `test.csv`; see bench/QUALITY.md).
        #[arg(long, value_name = "DIR")]
        export: Option<std::path::PathBuf>,
        /// Also store the report and its parameters in the database (the
        /// dashboard's quality panel shows the stored ones).
        #[arg(long)]
        save: bool,
    },
    /// Grid search of the collaborative-filtering parameters on a validation
    /// split of the planted data's training part (never its test part).
    Tune {
        #[arg(long, default_value_t = 11)]
        seed: u64,
        /// Size of the planted data: s, m or l.
        #[arg(long, default_value = "s")]
        scale: String,
        /// Store the best parameters in the database; the scheduler's next
        /// collaborative-filtering training uses them.
        #[arg(long)]
        save: bool,
    },
    /// Print the engine history, newest first.
    Runs {
        /// Only runs with an id greater than this.
        #[arg(long)]
        after: Option<i64>,
        /// At most this many runs.
        #[arg(long, default_value_t = 30)]
        limit: i64,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Text,
    Json,
}

fn parse_scale(scale: &str) -> anyhow::Result<Scale> {
    Scale::parse(scale).ok_or_else(|| anyhow::anyhow!("scale must be s, m or l"))
}

fn print_trial_header() {
    println!(
        "{:>7} {:>6} {:>6} {:>5} {:>12} {:>12} {:>10}",
        "factors", "reg", "alpha", "iter", "CF NDCG@10", "merged NDCG", "CF novelty"
    );
}

fn print_trial(t: &Trial) {
    println!(
        "{:>7} {:>6} {:>6} {:>5} {:>12.4} {:>12.4} {:>10.3}",
        t.factors,
        t.regularization,
        t.alpha,
        t.iterations,
        t.collaborative.ndcg,
        t.merged.ndcg,
        t.collaborative.novelty
    );
}

fn parse_engine_arg(name: &str) -> Result<EngineName, String> {
    EngineName::parse(name).ok_or_else(|| format!("unknown engine {name:?}"))
}

/// Runs the `engine` subcommands that need no scheduler.
pub async fn command(
    db: Db,
    threads: usize,
    tick: Duration,
    cf_min_interval: Duration,
    command: EngineCommand,
) -> anyhow::Result<()> {
    let runner = || {
        anyhow::Ok(EngineRunner::new(db.clone(), threads)?.with_cf_min_interval(cf_min_interval))
    };
    match command {
        EngineCommand::Run { engines, force } => run_engines(runner()?, engines, force).await?,
        EngineCommand::Worker => work(&db, Arc::new(runner()?), tick).await,
        EngineCommand::Evaluate {
            seed,
            scale,
            format,
            save,
            export,
        } => {
            if let Some(dir) = export {
                export_evaluation_set(&dir, seed, &scale)?;
            }
            evaluate_and_report(&db, seed, &scale, format, save).await?
        }
        EngineCommand::Tune { seed, scale, save } => tune(&db, seed, &scale, save).await?,
        EngineCommand::Runs { after, limit } => {
            let window = recofinement_store::engine_runs::RunWindow {
                after,
                before: None,
                limit: limit.clamp(1, 10_000),
            };
            let runs = db.engine_runs(window).await?;
            print!("{}", recofinement::run_history::runs_table(&runs));
        }
    }
    db.close().await;
    Ok(())
}

/// `engine run`: the engines named (all when none), once, with a summary.
async fn run_engines(
    runner: EngineRunner,
    engines: Vec<EngineName>,
    force: bool,
) -> anyhow::Result<()> {
    let engines = if engines.is_empty() {
        ALL_ENGINES.to_vec()
    } else {
        engines
    };
    let started = Instant::now();
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(format!("running {} engine(s)…", engines.len()));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let (reports, size) = runner.run_measured(&engines, force).await?;
    spinner.finish_and_clear();
    print_summary(&reports, size, started.elapsed());
    Ok(())
}

/// `engine worker`: the scheduler until Ctrl-C, which cancels the run in
/// progress (it records itself as interrupted).
async fn work(db: &Db, runner: Arc<EngineRunner>, tick: Duration) {
    let notify = Arc::new(tokio::sync::Notify::new());
    tracing::info!("engine worker started");
    let mut scheduling = tokio::spawn(scheduler::run(db.clone(), runner.clone(), notify, tick));
    tokio::select! {
        _ = &mut scheduling => {}
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("engine worker stopping");
            runner.shutdown();
            if tokio::time::timeout(Duration::from_secs(2), &mut scheduling).await.is_err() {
                scheduling.abort();
            }
        }
    }
}

/// `engine evaluate --export DIR`: the evaluation's data set as files.
fn export_evaluation_set(dir: &std::path::Path, seed: u64, scale: &str) -> anyhow::Result<()> {
    let params = GenParams::for_scale(parse_scale(scale)?);
    let sizes = evaluate::export(dir, seed, &params)
        .with_context(|| format!("exporting to {}", dir.display()))?;
    eprintln!(
        "exported {} items, {} train and {} test interactions to {}",
        sizes.items,
        sizes.train,
        sizes.test,
        dir.display()
    );
    Ok(())
}

/// `engine evaluate`: the offline evaluation, printed and, with `save`,
/// stored for the dashboard.
async fn evaluate_and_report(
    db: &Db,
    seed: u64,
    scale_name: &str,
    format: ReportFormat,
    save: bool,
) -> anyhow::Result<()> {
    let scale = parse_scale(scale_name)?;
    let report = tokio::task::spawn_blocking(move || evaluate::run(seed, scale)).await?;
    match format {
        ReportFormat::Text => println!("{report}"),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    let memory = peak_memory::peak_mib().map_or("?".into(), |m| format!("{m:.0} MiB"));
    eprintln!("peak memory {memory}");
    if save {
        let id = recofinement::run_history::save_evaluation(db, seed, scale_name, &report).await?;
        println!("stored as evaluation #{id}");
    }
    Ok(())
}

/// `engine tune`: the grid search, best first; with `save`, the best
/// parameters become the next training's.
async fn tune(db: &Db, seed: u64, scale: &str, save: bool) -> anyhow::Result<()> {
    let scale = parse_scale(scale)?;
    let trials = tokio::task::spawn_blocking(move || {
        print_trial_header();
        evaluate::tune(seed, scale, &TuneGrid::default(), print_trial)
    })
    .await?;
    let best = trials
        .first()
        .ok_or_else(|| anyhow::anyhow!("the grid is empty"))?;
    println!("best (by merged NDCG@10 on validation):");
    print_trial(best);
    if save {
        let params = best.als(AlsParams::default());
        db.save_collaborative_params(&stored_params(&params))
            .await?;
        println!("saved: the next collaborative-filtering training uses them");
    }
    Ok(())
}

fn print_summary(reports: &[RunReport], size: Option<SnapshotSize>, elapsed: Duration) {
    let mib = |peak: Option<f64>| peak.map_or("?".into(), |m| format!("{m:.0}"));
    if let Some(s) = size {
        println!(
            "snapshot: {} items, {} users with interactions, {} interactions, peak {} MiB",
            s.items,
            s.users,
            s.interactions,
            mib(s.peak_mib)
        );
    }
    if reports.is_empty() {
        println!("nothing to do: no engine has new events (use --force to recompute)");
    } else {
        println!(
            "{:<24} {:<22} {:>9} {:>10} {:>9} {:>9}",
            "engine", "scope", "subjects", "rows", "seconds", "peak MiB"
        );
        for r in reports {
            println!(
                "{:<24} {:<22} {:>9} {:>10} {:>9.2} {:>9}",
                r.engine,
                r.scope,
                r.subjects,
                r.rows,
                r.seconds,
                mib(r.peak_mib)
            );
        }
    }
    // The measure restarts with each engine: the run's peak is the largest.
    let peaks = size.and_then(|s| s.peak_mib).into_iter();
    let peak = peaks
        .chain(reports.iter().filter_map(|r| r.peak_mib))
        .chain(peak_memory::peak_mib())
        .reduce(f64::max);
    println!(
        "total {:.2} s, peak memory {} MiB",
        elapsed.as_secs_f64(),
        mib(peak)
    );
}

/// Engine threads: the given number, or all cores but one for the API.
pub fn engine_threads(configured: Option<usize>, serving: bool) -> usize {
    configured.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        if serving {
            cores.saturating_sub(1).max(1)
        } else {
            cores
        }
    })
}
