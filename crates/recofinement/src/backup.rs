//! `backup`, `restore` and `export`.
//!
//! On SQLite, `backup FILE` copies the live database with `VACUUM INTO`: one
//! read transaction, so the copy is consistent while the server keeps
//! writing (WAL readers do not block writers). `restore FILE` puts a copy
//! back, but only while no other process holds the database: every command
//! that opens it (`serve`, `engine worker`, `import`, `admin`…) holds a
//! shared lock on `<database>.serve-lock` for its whole life (released by
//! the system when the process dies), and restore needs it exclusively. On PostgreSQL both commands name the `pg_dump` /
//! `pg_restore` command to use instead.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use recofinement_store::{Backend, Db};

fn lock_path(database: &Path) -> PathBuf {
    PathBuf::from(format!("{}.serve-lock", database.display()))
}

/// The lock a serving process holds on its SQLite database (nothing on
/// PostgreSQL, where restore goes through `pg_restore`).
pub struct ServeLock {
    _file: Option<File>,
}

/// Takes the shared serve lock of the database at `url`.
pub fn hold_serve_lock(url: &str) -> anyhow::Result<ServeLock> {
    let Some(database) = recofinement_store::sqlite_file(url) else {
        return Ok(ServeLock { _file: None });
    };
    let path = lock_path(&database);
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    file.lock_shared()
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(ServeLock { _file: Some(file) })
}

/// The URL without its password, and the password's presence.
fn without_password(url: &str) -> (String, bool) {
    if let Ok(mut parsed) = url::Url::parse(url)
        && parsed.password().is_some()
    {
        let _ = parsed.set_password(None);
        return (parsed.to_string(), true);
    }
    (url.to_string(), false)
}

/// The `pg_dump` or `pg_restore` command for the configured database.
fn postgres_command(url: &str, tool: &str, file: &Path) -> String {
    let (url, had_password) = without_password(url);
    let command = match tool {
        "pg_dump" => format!(
            "pg_dump --format=custom --file='{}' --dbname='{url}'",
            file.display()
        ),
        _ => format!(
            "pg_restore --clean --if-exists --no-owner --dbname='{url}' '{}'",
            file.display()
        ),
    };
    if had_password {
        format!("PGPASSWORD=… {command}")
    } else {
        command
    }
}

/// `recofinement backup FILE`.
pub async fn backup(db: &Db, url: &str, file: &Path) -> anyhow::Result<()> {
    if db.backend() == Backend::Postgres {
        bail!(
            "on PostgreSQL use pg_dump, which makes a consistent copy of a live database:\n  {}",
            postgres_command(url, "pg_dump", file)
        );
    }
    if file.exists() {
        bail!("{} exists already: choose a new file", file.display());
    }
    let target = file
        .to_str()
        .context("the backup file name must be valid UTF-8")?;
    if let Db::Sqlite(pool) = db {
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(pool)
            .await
            .with_context(|| format!("copying the database into {}", file.display()))?;
    }
    Ok(())
}

/// `recofinement restore FILE`: replaces the SQLite database of `url` by the
/// backup `file`, refusing while a server holds the database.
pub async fn restore(url: &str, file: &Path) -> anyhow::Result<()> {
    if Backend::from_url(url)? == Backend::Postgres {
        bail!(
            "on PostgreSQL restore a pg_dump file with pg_restore:\n  {}",
            postgres_command(url, "pg_restore", file)
        );
    }
    let database =
        recofinement_store::sqlite_file(url).context("restore needs a SQLite database file")?;
    check_backup(file).await?;
    let lock_file = File::create(lock_path(&database))?;
    if lock_file.try_lock().is_err() {
        bail!(
            "another process holds {} (a server, a worker, an import…): stop it first",
            database.display()
        );
    }
    // Copy beside the database, then rename over it: the database is
    // either the old one or the whole backup, never half of it.
    let staging = PathBuf::from(format!("{}.restoring", database.display()));
    std::fs::copy(file, &staging)
        .with_context(|| format!("copying {} beside the database", file.display()))?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", database.display()));
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("removing {}", side.display()));
            }
        }
    }
    std::fs::rename(&staging, &database)
        .with_context(|| format!("replacing {}", database.display()))?;
    drop(lock_file);
    Ok(())
}

/// A backup must be a sound RecoFinement SQLite database.
async fn check_backup(file: &Path) -> anyhow::Result<()> {
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(file)
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .with_context(|| format!("opening {}", file.display()))?;
    let check: Result<(String, i64), sqlx::Error> = async {
        let (integrity,): (String,) = sqlx::query_as("PRAGMA quick_check")
            .fetch_one(&pool)
            .await?;
        let (migrations,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await?;
        Ok((integrity, migrations))
    }
    .await;
    pool.close().await;
    match check {
        Ok((integrity, migrations)) if integrity == "ok" && migrations > 0 => Ok(()),
        Ok((integrity, _)) if integrity != "ok" => {
            bail!("{} is damaged: {integrity}", file.display())
        }
        Ok(_) => bail!("{} holds no RecoFinement migrations", file.display()),
        Err(error) => Err(anyhow::Error::new(error).context(format!(
            "{} is not a RecoFinement SQLite backup",
            file.display()
        ))),
    }
}

/// `recofinement export DIR`.
pub async fn export(db: &Db, dir: &Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let files = db
        .export_dataset(dir)
        .await
        .with_context(|| format!("exporting into {}", dir.display()))?;
    for file in &files {
        println!("{:<28} {:>12}", file.file, file.rows);
    }
    println!(
        "exported to {} in {:.2}s (read it back with `recofinement import {}`)",
        dir.display(),
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}
