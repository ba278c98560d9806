//! `import`, `generate` and `demo`: the command-line side of the dataset
//! tooling (progress bars, summary table). The loading itself lives in
//! `recofinement_store::dataset`, the generator in `recofinement::generate`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use recofinement::generate::{GeneratePlan, generate_with};
use recofinement_store::Db;
use recofinement_store::dataset::{DatasetError, FileReport, ImportObserver};

/// One progress bar per file, in bytes read.
struct Bars {
    bar: Option<ProgressBar>,
}

impl ImportObserver for Bars {
    fn file_started(&mut self, file: &str, size: u64) {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:26} [{bar:32}] {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12} {eta}",
            )
            .expect("progress template")
            .progress_chars("=> "),
        );
        bar.set_message(file.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bar = Some(bar);
    }

    fn progress(&mut self, bytes_read: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes_read);
        }
    }

    fn file_finished(&mut self, report: &FileReport) {
        if let Some(bar) = self.bar.take() {
            bar.set_position(report.bytes);
            bar.finish();
        }
    }

    fn file_failed(&mut self, _error: &DatasetError) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}

/// The summary table of an import.
pub fn summary_table(reports: &[FileReport], elapsed: Duration) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:<18} {:>12} {:>12} {:>9} {:>12}",
        "file", "table", "rows", "inserted", "seconds", "rows/s"
    );
    let (mut rows, mut inserted) = (0, 0);
    for r in reports {
        rows += r.rows_read;
        inserted += r.rows_inserted;
        let _ = writeln!(
            out,
            "{:<28} {:<18} {:>12} {:>12} {:>9.2} {:>12.0}",
            r.file,
            r.table,
            r.rows_read,
            r.rows_inserted,
            r.elapsed.as_secs_f64(),
            r.rows_per_second()
        );
    }
    let secs = elapsed.as_secs_f64();
    let _ = writeln!(
        out,
        "{:<28} {:<18} {:>12} {:>12} {:>9.2} {:>12.0}",
        "total",
        "",
        rows,
        inserted,
        secs,
        if secs > 0.0 { rows as f64 / secs } else { 0.0 }
    );
    out
}

/// `recofinement import DIR`.
pub async fn import(db: &Db, dir: &Path) -> anyhow::Result<Vec<FileReport>> {
    let started = Instant::now();
    let files = recofinement_store::dataset::dataset_files(dir)
        .with_context(|| format!("reading {}", dir.display()))?;
    if files.is_empty() {
        anyhow::bail!(
            "no dataset file (genres.csv, content.csv, …) in {}",
            dir.display()
        );
    }
    let mut bars = Bars { bar: None };
    let mut reports = Vec::with_capacity(files.len());
    // The interaction files load as one unit (one transaction): all or none.
    for unit in recofinement_store::dataset::load_units(&files) {
        match db.import_files(unit, &mut bars).await {
            Ok(loaded) => reports.extend(loaded),
            Err(error) => {
                if !reports.is_empty() {
                    println!("{}", summary_table(&reports, started.elapsed()));
                }
                return Err(anyhow::Error::new(error).context(format!(
                    "import stopped; {} earlier file(s) stay loaded, the failing file{} left nothing",
                    reports.len(),
                    if unit.len() > 1 { " and its unit" } else { "" }
                )));
            }
        }
    }
    let elapsed = started.elapsed();
    // Fresh planner statistics (not counted in the table's time).
    db.analyze_imported().await?;
    println!("{}", summary_table(&reports, elapsed));
    Ok(reports)
}

/// `recofinement generate`.
pub fn generate_command(out: &Path, plan: &GeneratePlan) -> anyhow::Result<()> {
    let started = Instant::now();
    let summary = generate_with(out, &plan.options, plan.accounts)
        .with_context(|| format!("writing into {}", out.display()))?;
    for (file, rows) in &summary.files {
        println!("{file:<28} {rows:>12}");
    }
    if summary.accounts > 0 {
        println!(
            "{} of the users can log in with the password {}",
            summary.accounts,
            recofinement::generate::GENERATED_PASSWORD
        );
    }
    println!(
        "{} users, {} items (+{} episodes), {} interactions written to {} in {:.2}s",
        summary.users,
        summary.items,
        summary.episodes,
        summary.interactions,
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The data part of `recofinement demo`: generates a set into a temporary
/// directory and imports it, unless the catalogue has content already.
pub async fn demo_data(db: &Db, plan: &GeneratePlan) -> anyhow::Result<()> {
    if !db.catalogue_is_empty().await? {
        tracing::info!("the catalogue has content already: the demo data is not imported");
        return Ok(());
    }
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "recofinement-demo-{}-{}",
        std::process::id(),
        plan.options.seed
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let result = async {
        generate_command(&dir, plan)?;
        import(db, &dir).await?;
        anyhow::Ok(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
