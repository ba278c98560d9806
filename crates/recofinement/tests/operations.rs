//! Operations against real databases: the engine history the runner and
//! the force-run button write, the export → import round trip (both
//! databases), and SQLite backups taken under load and restored.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use recofinement::backup;
use recofinement::engine_runner::{ALL_ENGINES, EngineRunner};
use recofinement::generate::{GenerateOptions, generate};
use recofinement_api::mail::{Mailer, MemoryTransport};
use recofinement_api::{ApiConfig, AppState, Secret};
use recofinement_engine::EngineName;
use recofinement_store::Db;
use recofinement_store::backend_test;
use recofinement_store::dataset::Quiet;
use recofinement_store::engine_runs::RunWindow;
use recofinement_store::testing::{Backend, TestDb};

use common::json_answer;

const SMALL: GenerateOptions = GenerateOptions {
    users: 30,
    items: 120,
    interactions: 600,
    seed: 5,
};

use recofinement_store::testing::TempDir;

/// Generates the small set and imports it into `db`.
async fn load_small_set(db: &Db) {
    let dir = TempDir::new("ops-set");
    generate(&dir.0, &SMALL).unwrap();
    db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
}

/// An API over `db`; answers its address.
async fn api_over(db: &Db) -> std::net::SocketAddr {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = ApiConfig {
        secret_key: Secret::new("operations-test-secret-key"),
        bcrypt_cost: 4,
        list_cache_ttl: std::time::Duration::ZERO,
        ..ApiConfig::default()
    };
    let state = AppState::new(db.clone(), config, Mailer::new(MemoryTransport::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(recofinement_api::serve(
        listener,
        recofinement_api::router(state),
        std::future::pending(),
    ));
    address
}

/// What the API answers about the catalogue, asked by a user who signs up
/// as `name` first.
async fn answers(db: &Db, name: &str) -> Vec<Value> {
    let address = api_over(db).await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://{address}{path}");
    let body = json!({"email": format!("{name}@example.com"), "username": name, "password": "goodPassword!123"});
    let registered = json_answer(http.post(url("/api/auth/register")).json(&body)).await;
    let token = registered["access_token"].as_str().unwrap().to_string();
    let mut out = Vec::new();
    for path in [
        "/api/movie?page=1",
        "/api/track?page=2",
        "/api/book/search/the",
        "/api/serie?page=1",
        "/api/movie/genres",
    ] {
        let answer = json_answer(http.get(url(path)).bearer_auth(&token)).await;
        out.push(json!({"path": path, "answer": answer}));
    }
    out
}

fn read_dir_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

backend_test!(an_export_imports_back_to_the_same_answers, |t| {
    load_small_set(&t.db).await;
    // Text the CSV rules must carry: commas, quotes, line breaks, empty text.
    t.sql(
        "UPDATE movie SET title = 'A, \"quoted\"\nmovie', plot_outline = '' \
         WHERE content_id = (SELECT MIN(content_id) FROM movie)",
    )
    .await;
    let first = TempDir::new("export-a");
    let files = t.db.export_dataset(&first.0).await.unwrap();
    assert_eq!(files.len(), 15);
    let interactions = files
        .iter()
        .find(|f| f.file == "meta_user_content_1.csv")
        .unwrap();
    assert_eq!(
        interactions.rows as i64,
        t.scalar("SELECT COUNT(*) FROM meta_user_content").await
    );

    let copy = TestDb::fresh(t.backend).await;
    copy.db.import_dataset(&first.0, &mut Quiet).await.unwrap();
    let second = TempDir::new("export-b");
    copy.db.export_dataset(&second.0).await.unwrap();
    assert_eq!(read_dir_files(&first.0), read_dir_files(&second.0));
    assert_eq!(
        answers(&t.db, "probe").await,
        answers(&copy.db, "probe").await
    );
});

backend_test!(every_engine_run_is_recorded, |t| {
    load_small_set(&t.db).await;
    let runner = EngineRunner::new(t.db.clone(), 2).unwrap();
    runner.run(&ALL_ENGINES, false).await.unwrap();
    runner.run(&[EngineName::Popularity], true).await.unwrap();
    let runs =
        t.db.engine_runs(RunWindow {
            limit: 100,
            ..RunWindow::default()
        })
        .await
        .unwrap();
    assert_eq!(runs.len(), ALL_ENGINES.len() + 1);
    let forced = &runs[0];
    assert_eq!(
        (
            forced.engine.as_str(),
            forced.cause.as_str(),
            forced.scope.as_str()
        ),
        ("Popularity", "forced", "all")
    );
    let items = t
        .scalar("SELECT COUNT(*) FROM content WHERE content_type <> 'EPISODE'")
        .await;
    assert_eq!(forced.rows, items);
    assert_eq!(forced.outcome, "done");
    assert!(forced.peak_memory_mib.unwrap() > 0.0);
    assert!(forced.finished_at.unwrap() >= forced.started_at);
    let scheduled: Vec<&str> = runs[1..].iter().rev().map(|r| r.engine.as_str()).collect();
    let expected: Vec<&str> = ALL_ENGINES.iter().map(|e| e.as_str()).collect();
    assert_eq!(scheduled, expected);
    assert!(runs[1..].iter().all(|r| r.cause == "scheduled"));
    let standings = t.db.engine_standings(&["Popularity"]).await.unwrap();
    assert_eq!(standings[0].backlog, 0);
    assert!(standings[0].last_success.is_some());
});

backend_test!(
    the_force_button_runs_the_engine_and_audits_who_pressed_it,
    |t| {
        load_small_set(&t.db).await;
        let server = common::server(&t).await;
        let admin = server.account("boss", true).await;
        let user = server.account("someone", false).await;
        let body = json!({"engines": ["popularity"]});
        let refused = server
            .post("/api/engine/runs", Some(&user), body.clone())
            .await
            .1;
        assert_eq!(refused["status"], false);
        let unknown = server
            .post(
                "/api/engine/runs",
                Some(&admin),
                json!({"engines": ["Nope"]}),
            )
            .await
            .1;
        assert_eq!(
            unknown["errors"],
            json!([
                "Unknown engine: name Popularity, ContentSimilarities, LinkBetweenItems, \
                 FromSimilarContent, FromProfile or CollaborativeFiltering."
            ])
        );

        let accepted = server.post("/api/engine/runs", Some(&admin), body).await.1;
        assert_eq!(accepted["engines"], json!(["Popularity"]), "{accepted}");
        let request = accepted["request_id"].as_i64().unwrap();
        // The run happens in the background: follow the history until it shows.
        let mut forced = Value::Null;
        for _ in 0..600 {
            let page = server
                .get(&format!("/api/engine/runs?after={request}"), &admin)
                .await
                .1;
            if let Some(run) = page["content"].as_array().and_then(|runs| runs.first()) {
                forced = run.clone();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(forced["engine"], "Popularity", "{forced}");
        assert_eq!(forced["cause"], "forced");
        assert_eq!(forced["outcome"], "done");
        let page = server
            .get(&format!("/api/engine/runs?after={}", request - 1), &admin)
            .await
            .1;
        let audit = page["content"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(audit["id"], request);
        assert_eq!(audit["cause"], "request");
        assert_eq!(audit["outcome"], "requested");
        let boss =
            t.db.user_by_email("boss@example.com")
                .await
                .unwrap()
                .unwrap();
        assert_eq!(audit["requested_by"], boss.uuid.as_str());
    }
);

/// A SQLite database of its own in a temporary directory.
async fn sqlite_at(dir: &Path, name: &str) -> (Db, String) {
    let url = format!("sqlite://{}/{name}", dir.display());
    let db = Db::connect(&url, 4).await.unwrap();
    db.migrate().await.unwrap();
    (db, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_to_the_same_answers() {
    let dir = TempDir::new("backup");
    let (live, live_url) = sqlite_at(&dir.0, "live.db").await;
    load_small_set(&live).await;
    let before = answers(&live, "before").await;

    // Writers keep rating items while the copy is taken; each rating and
    // its event commit together.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (live.clone(), stop.clone());
        tokio::spawn(async move {
            let mut written = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let user = 1 + (written % SMALL.users as u64) as i64;
                let patch = recofinement_store::interactions::MetaPatch {
                    rating: None,
                    additional_count: Some(1),
                };
                let content: (i64, String) = match &db {
                    Db::Sqlite(pool) => sqlx::query_as(
                        "SELECT content_id, content_type FROM content WHERE content_type = 'MOVIE' ORDER BY content_id LIMIT 1",
                    )
                    .fetch_one(pool)
                    .await
                    .unwrap(),
                    Db::Postgres(_) => unreachable!("a SQLite test"),
                };
                db.patch_item(
                    user,
                    content.0,
                    recofinement_domain::ContentKind::parse(&content.1).unwrap(),
                    patch,
                )
                .await
                .unwrap();
                written += 1;
            }
            written
        })
    };
    let file = dir.0.join("copy.db");
    backup::backup(&live, &live_url, &file).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 0);
    let error = backup::backup(&live, &live_url, &file).await.unwrap_err();
    assert!(error.to_string().contains("exists already"), "{error}");

    // A served database is never replaced.
    let target_url = format!("sqlite://{}/restored.db", dir.0.display());
    let lock = backup::hold_serve_lock(&target_url).unwrap();
    let error = backup::restore(&target_url, &file).await.unwrap_err();
    assert!(error.to_string().contains("stop it first"), "{error}");
    drop(lock);
    backup::restore(&target_url, &file).await.unwrap();

    let restored = Db::connect(&target_url, 4).await.unwrap();
    assert!(restored.migrations_current().await.unwrap());
    // A copy of one moment: some of the ratings made under load, never
    // more than the live database ended with.
    let events = |db: Db| async move {
        match db {
            Db::Sqlite(pool) => {
                sqlx::query_as::<_, (i64,)>(
                    "SELECT COUNT(*) FROM event WHERE model_name = 'meta_user_content'",
                )
                .fetch_one(&pool)
                .await
                .unwrap()
                .0
            }
            Db::Postgres(_) => unreachable!("a SQLite test"),
        }
    };
    let (copied, live_events) = (events(restored.clone()).await, events(live.clone()).await);
    assert!(copied <= live_events, "{copied} of {live_events}");
    assert!(live_events > 0);
    assert_eq!(answers(&restored, "after").await, before);

    let damaged = dir.0.join("damaged.db");
    std::fs::write(&damaged, b"not a database").unwrap();
    assert!(backup::restore(&target_url, &damaged).await.is_err());
}

#[tokio::test]
async fn postgres_backups_name_the_pg_dump_command() {
    let Some(base) = recofinement_store::testing::postgres_url() else {
        return;
    };
    let db = Db::connect(&base, 1).await.unwrap();
    let with_password = "postgres://app:s3cret@db.example:5432/reco";
    let error = backup::backup(&db, with_password, Path::new("/tmp/reco.dump"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("pg_dump --format=custom --file='/tmp/reco.dump' --dbname='postgres://app@db.example:5432/reco'"),
        "{error}"
    );
    assert!(!error.contains("s3cret"), "{error}");
    let error = backup::restore(with_password, Path::new("/tmp/reco.dump"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("pg_restore"), "{error}");
}

/// Foreign-key columns without an index whose first column they are, on
/// purpose: items, genres, roles and permissions are never deleted by the
/// service and nothing looks these rows up by that column, so an index
/// would only slow the engines' writes and the sandbox's launches.
const UNINDEXED_ON_PURPOSE: &[&str] = &[
    "bad_recommendation_content.content_id",
    "liked_genres.genre_id",
    "liked_genres_profile.genre_id",
    "linked_genre.genre_id1",
    "meta_profile_content.content_id",
    "recommendation_launched_meta.content_id",
    "recommendation_launched_result.content_id",
    "recommended_content.content_id",
    "recommended_content_for_group.content_id",
    "role_permission.permission",
    "similars_content.content_id1",
    "user_role.role_id",
];

// A lookup by a foreign key without an index scans the whole table: a
// user's read scanned every group for those they own, a group's members
// every membership, and an account's deletion every table it cascades to.
// A new foreign key gets an index, or a line above saying why not.
backend_test!(foreign_keys_have_an_index_unless_said_otherwise, |t| {
    let sql = match t.backend {
        Backend::Postgres => {
            "SELECT string_agg(r.relname || '.' || a.attname, ',' ORDER BY r.relname, a.attname) \
             FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             WHERE c.contype = 'f' AND cardinality(c.conkey) = 1 \
             AND r.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) \
             AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])"
        }
        Backend::Sqlite => {
            "SELECT group_concat(entry, ',') FROM (SELECT m.name || '.' || f.\"from\" AS entry \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table' \
             AND NOT EXISTS (SELECT 1 FROM pragma_index_list(m.name) il, pragma_index_info(il.name) ii \
                             WHERE ii.seqno = 0 AND ii.name = f.\"from\") \
             AND NOT EXISTS (SELECT 1 FROM pragma_table_info(m.name) ti WHERE ti.pk = 1 AND ti.name = f.\"from\") \
             ORDER BY 1)"
        }
    };
    let unindexed = t.text(sql).await.unwrap_or_default();
    assert_eq!(
        unindexed.split(',').collect::<Vec<_>>(),
        UNINDEXED_ON_PURPOSE
    );
});

// The import writes no events: engines that ran before it (a server started
// on the empty database, then `import`) must still see what it loaded.
backend_test!(engines_that_ran_before_an_import_see_it, |t| {
    let runner = EngineRunner::new(t.db.clone(), 2).unwrap();
    runner.run(&ALL_ENGINES, false).await.unwrap();
    assert!(
        runner.run(&ALL_ENGINES, false).await.unwrap().is_empty(),
        "nothing new"
    );
    load_small_set(&t.db).await;
    let ran: Vec<&str> = runner
        .run(&ALL_ENGINES, false)
        .await
        .unwrap()
        .iter()
        .map(|report| report.engine)
        .collect();
    let every: Vec<&str> = ALL_ENGINES.iter().map(|e| e.as_str()).collect();
    assert_eq!(ran, every);
    let popular =
        "SELECT COUNT(*) FROM content WHERE popularity_score IS NOT NULL AND popularity_score > 0";
    assert!(t.scalar(popular).await > 0, "popularity computed");
});

// An export taken while the server writes reads one snapshot: a user who
// signs up and rates after `user.csv` is written is in no file, and the
// export imports whole (read file by file, its interactions named a user
// that user.csv lacked, and the import stopped there).
backend_test!(an_export_taken_during_writes_imports_whole, |t| {
    load_small_set(&t.db).await;
    let movie = t.scalar("SELECT MIN(content_id) FROM movie").await;
    let db = t.db.clone();
    let dir = TempDir::new("export-live");
    t.db.export_dataset_between(&dir.0, move |file| {
        let db = db.clone();
        let after_users = file == "user.csv";
        Box::pin(async move {
            if after_users {
                let user = db
                    .create_user("late@example.com", "late", "$2b$04$x", "user")
                    .await
                    .unwrap();
                let rating = recofinement_store::interactions::MetaPatch {
                    rating: Some(4),
                    additional_count: None,
                };
                db.patch_item(
                    user.user_id,
                    movie,
                    recofinement_domain::ContentKind::Movie,
                    rating,
                )
                .await
                .unwrap();
            }
        })
    })
    .await
    .unwrap();
    let copy = TestDb::fresh(t.backend).await;
    copy.db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
    let users = "SELECT COUNT(*) FROM \"user\"";
    assert_eq!(
        copy.scalar(users).await + 1,
        t.scalar(users).await,
        "the late user is not in it"
    );
});

// Import loads every interaction file of a directory: an export must not
// land beside interaction files it does not replace.
backend_test!(
    an_export_refuses_a_directory_with_other_interaction_files,
    |t| {
        load_small_set(&t.db).await;
        let dir = TempDir::new("export-over");
        let stray = dir.0.join("meta_user_content_2.csv");
        std::fs::write(&stray, "content_id,user_id,rating,count\n").unwrap();
        let error = t.db.export_dataset(&dir.0).await.unwrap_err().to_string();
        assert!(error.contains("meta_user_content_2.csv"), "{error}");
        assert!(!dir.0.join("user.csv").exists(), "nothing written");
        // Its own file is replaced as before.
        std::fs::remove_file(&stray).unwrap();
        t.db.export_dataset(&dir.0).await.unwrap();
        t.db.export_dataset(&dir.0).await.unwrap();
    }
);

// An account made before the import holds user id 1, which the dataset
// gives to one of its users: skipped as a duplicate, that user's ratings
// would land on the account. The import refuses instead.
backend_test!(an_import_refuses_ids_held_by_other_rows, |t| {
    let admin =
        t.db.create_user("admin@example.com", "admin", "$2b$04$x", "admin")
            .await
            .unwrap();
    assert_eq!(admin.user_id, 1);
    let dir = TempDir::new("ids-taken");
    generate(&dir.0, &SMALL).unwrap();
    let error = t.db.import_dataset(&dir.0, &mut Quiet).await.unwrap_err();
    let error = error.to_string();
    assert!(
        error.contains("user.csv") && error.contains("id 1 of"),
        "{error}"
    );
    let on_admin = "SELECT COUNT(*) FROM meta_user_content WHERE user_id = 1";
    assert_eq!(
        t.scalar(on_admin).await,
        0,
        "no rating landed on the account"
    );
    // The dataset's own rows are its own: a re-run into its database passes.
    let own = TestDb::fresh(t.backend).await;
    own.db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
    own.db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
});

// Events and history name accounts by id: an id given to an account since
// deleted must not come again, not even after a re-run of the import.
backend_test!(a_rerun_import_never_hands_a_deleted_id_out_again, |t| {
    let dir = TempDir::new("ids-forward");
    generate(&dir.0, &SMALL).unwrap();
    t.db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
    let gone =
        t.db.create_user("gone@example.com", "gone", "$2b$04$x", "user")
            .await
            .unwrap();
    t.db.delete_user(gone.user_id).await.unwrap();
    t.db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
    let next =
        t.db.create_user("next@example.com", "next", "$2b$04$x", "user")
            .await
            .unwrap();
    assert!(next.user_id > gone.user_id, "{} came again", gone.user_id);
});

// Restore replaces the database file: it must wait for every process that
// has it open, not only servers. An import that holds the database (here
// waiting for a write lock the test keeps) keeps restore out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_while_an_import_holds_the_database() {
    use sqlx::Connection;
    let dir = TempDir::new("restore-import");
    let url = format!("sqlite://{}/live.db", dir.0.display());
    let live = Db::connect(&url, 2).await.unwrap();
    live.migrate().await.unwrap();
    let copy = dir.0.join("copy.db");
    backup::backup(&live, &url, &copy).await.unwrap();
    live.close().await;
    let data = dir.0.join("data");
    generate(&data, &SMALL).unwrap();
    // The test holds the write lock: the import will wait for it.
    let mut writer = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut writer)
        .await
        .unwrap();
    let data_arg = data.display().to_string();
    let mut import = common::binary::command(&url, &["import", &data_arg])
        .spawn()
        .unwrap();
    let lock = dir.0.join("live.db.serve-lock");
    let started = std::time::Instant::now();
    loop {
        let held = std::fs::File::open(&lock).is_ok_and(|f| f.try_lock().is_err());
        if held {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the import never held the database"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let error = backup::restore(&url, &copy).await.unwrap_err();
    assert!(error.to_string().contains("stop it first"), "{error}");
    sqlx::query("ROLLBACK").execute(&mut writer).await.unwrap();
    drop(writer);
    assert!(import.wait().await.unwrap().success());
}
