//! Records every engine run in the engine history (table `engine_run`) and
//! in the process metrics.
//! A failure to record is logged, never allowed to fail the run itself.

use std::time::Duration;

use recofinement_store::Db;
use recofinement_store::engine_runs::{NewEngineRun, RunCause, RunOf, RunOutcome, RunScope};

use recofinement_api::state::EngineCadence;

use crate::engine_runner::{ALL_ENGINES, RunReport, cadence};
use crate::peak_memory;

/// What a finished run did, or why it failed.
pub enum Finished<'a> {
    Done {
        subjects: usize,
        rows: usize,
    },
    Failed(&'a anyhow::Error),
    /// Cancelled (shutdown, a sandbox timeout) before it wrote anything
    /// that moves its cursor.
    Interrupted(&'a anyhow::Error),
}

impl<'a> Finished<'a> {
    pub fn of_report(result: &'a anyhow::Result<RunReport>) -> Self {
        match result {
            Ok(report) => Finished::Done {
                subjects: report.subjects,
                rows: report.rows,
            },
            Err(error) => Finished::of_error(error),
        }
    }

    fn of_error(error: &'a anyhow::Error) -> Self {
        if crate::engine_runner::is_cancelled(error) {
            Finished::Interrupted(error)
        } else {
            Finished::Failed(error)
        }
    }
}

/// Records one run of `engine` that took `elapsed`.
pub async fn record(
    db: &Db,
    engine: RunOf<'_>,
    cause: RunCause,
    scope: RunScope,
    elapsed: Duration,
    finished: Finished<'_>,
) {
    let (subjects, rows, outcome, error) = match finished {
        Finished::Done { subjects, rows } => (subjects, rows, RunOutcome::Done, None),
        Finished::Failed(error) => (0, 0, RunOutcome::Failed, Some(format!("{error:#}"))),
        Finished::Interrupted(error) => (0, 0, RunOutcome::Interrupted, Some(format!("{error:#}"))),
    };
    let name = engine.name();
    let peak = peak_memory::peak_mib();
    let seconds = elapsed.as_secs_f64();
    let labels = [
        ("engine", name.clone()),
        ("outcome", outcome.as_str().to_string()),
    ];
    metrics::counter!("recofinement_engine_runs_total", &labels).increment(1);
    metrics::histogram!("recofinement_engine_run_duration_seconds", "engine" => name.clone())
        .record(seconds);
    metrics::counter!("recofinement_engine_rows_written_total", "engine" => name.clone())
        .increment(rows as u64);
    if let Some(peak) = peak {
        metrics::gauge!("recofinement_engine_peak_memory_bytes").set(peak * 1024.0 * 1024.0);
    }
    let run = NewEngineRun {
        engine,
        cause,
        scope,
        subjects: i64::try_from(subjects).unwrap_or(i64::MAX),
        rows: i64::try_from(rows).unwrap_or(i64::MAX),
        seconds,
        peak_memory_mib: peak,
        started_at: recofinement_store::engine_runs::started_ago(elapsed),
        outcome,
        error,
        requested_by: None,
    };
    if let Err(error) = db.record_engine_run(&run).await {
        tracing::warn!(%error, engine = name, "recording the engine run failed");
    }
}

/// `forced` for a run over every subject, `scheduled` for the runs due.
pub fn cause(force: bool) -> RunCause {
    if force {
        RunCause::Forced
    } else {
        RunCause::Scheduled
    }
}

/// Records a sandbox profile run (both sandbox engines, one subject).
pub async fn record_sandbox(db: &Db, elapsed: Duration, result: &anyhow::Result<usize>) {
    let finished = match result {
        Ok(rows) => Finished::Done {
            subjects: 1,
            rows: *rows,
        },
        Err(error) => Finished::of_error(error),
    };
    record(
        db,
        RunOf::Sandbox,
        RunCause::Sandbox,
        RunScope::Profile,
        elapsed,
        finished,
    )
    .await;
}

/// When each engine runs by itself (what the dashboard calls the next
/// scheduled run).
pub fn cadences() -> Vec<EngineCadence> {
    ALL_ENGINES
        .into_iter()
        .map(|engine| {
            let (every, events) = cadence(engine);
            EngineCadence {
                engine: engine.as_str(),
                every,
                events,
            }
        })
        .collect()
}

/// Runs the offline evaluation and stores it; answers the report and its id.
pub async fn evaluate_and_save(
    db: &Db,
    seed: u64,
    scale_name: &str,
) -> anyhow::Result<(recofinement_engine::evaluate::Report, i64)> {
    let scale = recofinement_engine::evaluate::Scale::parse(scale_name)
        .ok_or_else(|| anyhow::anyhow!("scale must be s, m or l"))?;
    let report =
        tokio::task::spawn_blocking(move || recofinement_engine::evaluate::run(seed, scale))
            .await?;
    let id = save_evaluation(db, seed, scale_name, &report).await?;
    Ok((report, id))
}

/// Stores an evaluation report with the parameters it ran with; answers its id.
pub async fn save_evaluation(
    db: &Db,
    seed: u64,
    scale_name: &str,
    report: &recofinement_engine::evaluate::Report,
) -> anyhow::Result<i64> {
    let scale = recofinement_engine::evaluate::Scale::parse(scale_name)
        .ok_or_else(|| anyhow::anyhow!("scale must be s, m or l"))?;
    let parameters = serde_json::json!({
        "seed": seed,
        "scale": scale_name,
        "generator": format!("{:?}", recofinement_engine::evaluate::GenParams::for_scale(scale)),
        "engines": format!("{:?}", recofinement_engine::evaluate::EngineParams::for_seed(seed)),
    });
    let report = serde_json::to_value(report)?;
    Ok(db
        .save_evaluation(seed, scale_name, &parameters, &report)
        .await?)
}

/// The engine history as a text table.
pub fn runs_table(runs: &[recofinement_store::engine_runs::EngineRun]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6} {:<24} {:<9} {:<7} {:>8} {:>9} {:>8} {:>8} {:<19} {:<9} error",
        "id",
        "engine",
        "cause",
        "scope",
        "subjects",
        "rows",
        "seconds",
        "peak MiB",
        "started",
        "outcome"
    );
    for r in runs {
        let peak = r.peak_memory_mib.map_or("-".into(), |m| format!("{m:.0}"));
        let _ = writeln!(
            out,
            "{:>6} {:<24} {:<9} {:<7} {:>8} {:>9} {:>8.2} {:>8} {:<19} {:<9} {}",
            r.id,
            r.engine,
            r.cause,
            r.scope,
            r.subjects,
            r.rows,
            r.seconds,
            peak,
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.outcome,
            r.error.as_deref().unwrap_or(""),
        );
    }
    if runs.is_empty() {
        out.push_str("no engine run recorded yet\n");
    }
    out
}
