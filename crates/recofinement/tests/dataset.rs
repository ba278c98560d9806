//! Dataset import and generation, on SQLite and (when TEST_DATABASE_URL
//! names PostgreSQL) on PostgreSQL, each test in a fresh database/schema.

use std::path::Path;

use recofinement::generate::{GenerateOptions, GenerateSummary, generate};
use recofinement_store::Db;
use recofinement_store::backend_test as db_test;
use recofinement_store::dataset::{DatasetError, Quiet};
use recofinement_store::testing::TestDb;

use recofinement_store::testing::TempDir;

const SMALL: GenerateOptions = sized(40, 150, 800, 7);

/// A synthetic dataset's size: users, items, interactions, and its seed.
const fn sized(users: usize, items: usize, interactions: usize, seed: u64) -> GenerateOptions {
    GenerateOptions {
        users,
        items,
        interactions,
        seed,
    }
}

fn small_set() -> (TempDir, GenerateSummary) {
    generated("dataset", &SMALL)
}

/// A synthetic dataset written into a new temporary folder.
fn generated(name: &str, options: &GenerateOptions) -> (TempDir, GenerateSummary) {
    let dir = TempDir::new(name);
    let summary = generate(&dir.0, options).unwrap();
    (dir, summary)
}

fn rows_of(summary: &GenerateSummary, file: &str) -> i64 {
    summary
        .files
        .iter()
        .find(|(name, _)| name == file)
        .map(|(_, rows)| *rows as i64)
        .unwrap_or_else(|| panic!("{file} not generated"))
}

/// The second line of a CSV file, split naively (no quotes in these files).
fn first_row(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect()
}

db_test!(
    imports_a_generated_set_keeping_ids_and_advancing_sequences,
    |t| {
        let (dir, summary) = small_set();
        let reports = t.db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
        assert_eq!(reports.len(), 18, "every file of the layout");
        for report in &reports {
            assert_eq!(
                report.rows_read as i64,
                rows_of(&summary, &report.file),
                "{}",
                report.file
            );
        }

        let items = (summary.items + summary.episodes) as i64;
        assert_eq!(t.count("content").await, items);
        assert_eq!(t.count("episode").await, summary.episodes as i64);
        assert_eq!(t.count("\"user\"").await, summary.users as i64);
        assert_eq!(
            t.count("meta_user_content").await,
            summary.interactions as i64
        );
        assert_eq!(summary.interactions, SMALL.interactions);
        assert_eq!(t.count("genre").await, rows_of(&summary, "genres.csv"));
        assert_eq!(
            t.count("content_genres").await,
            rows_of(&summary, "content_genres.csv")
        );
        assert_eq!(t.count("role").await, 2);
        assert_eq!(t.count("role_permission").await, 14);
        assert_eq!(t.count("user_role").await, 0, "dataset users get no role");
        assert_eq!(t.count("event").await, 0, "the import writes no events");

        // Ids are kept.
        assert_eq!(t.scalar("SELECT max(content_id) FROM content").await, items);
        let user = first_row(&dir.0.join("user.csv"));
        let uuid = t.text("SELECT uuid FROM \"user\" WHERE user_id = 1").await;
        assert_eq!(uuid.as_deref(), Some(user[1].as_str()));
        let movie = first_row(&dir.0.join("movie.csv"));
        let title = t
            .text(&format!(
                "SELECT title FROM movie WHERE content_id = {}",
                movie[0]
            ))
            .await;
        assert_eq!(title.as_deref(), Some(movie[1].as_str()));

        // content_type follows the media table.
        assert_eq!(t.count("content WHERE content_type IS NULL").await, 0);
        assert_eq!(
            t.count("content WHERE content_type = 'EPISODE'").await,
            summary.episodes as i64
        );
        assert_eq!(
        t.count("content c JOIN movie m ON m.content_id = c.content_id WHERE c.content_type = 'MOVIE'")
            .await,
        rows_of(&summary, "movie.csv")
    );

        // Sequences are past the largest id.
        let next = t
            .scalar("INSERT INTO content (rating_count) VALUES (0) RETURNING content_id")
            .await;
        assert_eq!(next, items + 1);
        let genres = rows_of(&summary, "genres.csv");
        let next = t
            .scalar("INSERT INTO genre (name) VALUES ('New') RETURNING genre_id")
            .await;
        assert_eq!(next, genres + 1);

        // A second run adds nothing.
        let again = t.db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
        assert!(again.iter().all(|r| r.rows_inserted == 0), "{again:?}");
        assert_eq!(t.count("content").await, items + 1);
        assert_eq!(
            t.count("meta_user_content").await,
            summary.interactions as i64
        );
    }
);

db_test!(
    a_malformed_row_stops_its_file_and_keeps_earlier_files,
    |t| {
        let (dir, summary) = small_set();
        // meta_user_content_2.csv gets a rating of 9 on its fourth line.
        let path = dir.0.join("meta_user_content_2.csv");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let row = first_row(&path);
        lines[3] = format!("{},{},9,1", row[0], 1);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();

        let error = t.db.import_dataset(&dir.0, &mut Quiet).await.unwrap_err();
        match &error {
            DatasetError::Malformed { file, line, reason } => {
                assert_eq!(file, "meta_user_content_2.csv");
                assert_eq!(*line, 4);
                assert!(reason.contains("rating"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            error
                .to_string()
                .contains("meta_user_content_2.csv, line 4")
        );
        // Earlier units stay; the interaction files are one unit (one
        // transaction), so the failing file and its unit left nothing.
        assert_eq!(t.count("\"user\"").await, summary.users as i64);
        assert_eq!(t.count("meta_user_content").await, 0);

        // A wrong column count and a bad UUID are reported the same way.
        let error = failed_import(
            &t,
            &dir.0,
            "user.csv",
            "user_id,uuid,email,username,password_hash\n9001,not-a-uuid,x@y.z,x,no_pwd\n",
        )
        .await;
        assert!(
            error.to_string().starts_with("user.csv, line 2: uuid"),
            "{error}"
        );
        let error = failed_import(
            &t,
            &dir.0,
            "user.csv",
            "user_id,uuid,email,username,password_hash\n9001,6F9619FF-8B86-D011-B42D-00C04FC964FF,X@Y.Z,x,no_pwd\n9002,x\n",
        )
        .await;
        assert!(
            error
                .to_string()
                .contains("user.csv, line 3: expected 5 fields"),
            "{error}"
        );
        assert_eq!(
            t.count("\"user\" WHERE user_id > 9000").await,
            0,
            "rolled back"
        );

        // A database-level failure (unknown genre) names the file and its lines.
        let before = t.count("content_genres").await;
        let error = failed_import(
            &t,
            &dir.0,
            "content_genres.csv",
            "content_id,genre_id\n1,1\n1,99999\n",
        )
        .await;
        assert!(matches!(error, DatasetError::Database { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .starts_with("content_genres.csv, lines 2-3"),
            "{error}"
        );
        assert_eq!(t.count("content_genres").await, before);
    }
);

/// Writes `contents` as the dataset file `name` in `dir` and imports that
/// file alone, which must fail; answers the error.
async fn failed_import(t: &TestDb, dir: &Path, name: &str, contents: &str) -> DatasetError {
    std::fs::write(dir.join(name), contents).unwrap();
    let file = recofinement_store::dataset::dataset_files(dir)
        .unwrap()
        .into_iter()
        .find(|f| f.name() == name)
        .unwrap();
    t.db.import_file(&file, &mut Quiet).await.unwrap_err()
}

db_test!(quoting_rules_reach_the_database, |t| {
    let dir = TempDir::new("quoting");
    std::fs::write(
        dir.0.join("genres.csv"),
        "genre_id,name,count,content_type\n1,\"Drama, \"\"dark\"\"\",,MOVIE\n2,\"\",5,movie\n3,\"Two\nlines\",\"7\",\n",
    )
    .unwrap();
    std::fs::write(
        dir.0.join("user.csv"),
        "user_id,uuid,email,username,password_hash\n7,6F9619FF-8B86-D011-B42D-00C04FC964FF,Mixed@Case.ORG,someone,no_pwd\n8,0f8fad5b-d9cb-469f-a165-70867728950e,,nomail,no_pwd\n",
    )
    .unwrap();
    t.db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
    let name = async |id: i64| {
        t.text(&format!("SELECT name FROM genre WHERE genre_id = {id}"))
            .await
    };
    assert_eq!(name(1).await.as_deref(), Some("Drama, \"dark\""));
    assert_eq!(name(2).await.as_deref(), Some(""));
    assert_eq!(name(3).await.as_deref(), Some("Two\nlines"));
    assert_eq!(t.count("genre WHERE count IS NULL").await, 1);
    assert_eq!(t.count("genre WHERE content_type = 'MOVIE'").await, 2);
    assert_eq!(t.count("genre WHERE content_type IS NULL").await, 1);
    assert_eq!(
        t.text("SELECT uuid FROM \"user\" WHERE user_id = 7")
            .await
            .as_deref(),
        Some("6f9619ff-8b86-d011-b42d-00c04fc964ff")
    );
    assert_eq!(
        t.text("SELECT email FROM \"user\" WHERE user_id = 7")
            .await
            .as_deref(),
        Some("mixed@case.org")
    );
    assert_eq!(
        t.text("SELECT email FROM \"user\" WHERE user_id = 8").await,
        None
    );
    let next = t
        .scalar("INSERT INTO \"user\" (uuid, username, password_hash) VALUES ('u', 'n', 'p') RETURNING user_id")
        .await;
    assert_eq!(next, 9);
});

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_generator_is_deterministic_per_seed() {
    let (a, b, c) = (
        TempDir::new("gen-a"),
        TempDir::new("gen-b"),
        TempDir::new("gen-c"),
    );
    generate(&a.0, &SMALL).unwrap();
    generate(&b.0, &SMALL).unwrap();
    generate(&c.0, &GenerateOptions { seed: 8, ..SMALL }).unwrap();
    let (a, b, c) = (read_all(&a.0), read_all(&b.0), read_all(&c.0));
    assert_eq!(a.len(), 18);
    assert_eq!(a, b, "same seed, same bytes");
    let differing = a.iter().zip(&c).filter(|(x, y)| x != y).count();
    assert!(
        differing >= 10,
        "another seed changes the data ({differing} files differ)"
    );
}

#[test]
fn generated_interactions_are_skewed_and_rated_high() {
    let dir = TempDir::new("gen-shape");
    let summary = generate(&dir.0, &sized(300, 1000, 20_000, 3)).unwrap();
    assert_eq!(summary.interactions, 20_000);
    let mut per_item = std::collections::HashMap::<String, usize>::new();
    let (mut high, mut rated, mut null) = (0, 0, 0);
    for n in 1..=4 {
        let text =
            std::fs::read_to_string(dir.0.join(format!("meta_user_content_{n}.csv"))).unwrap();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            *per_item.entry(fields[0].to_string()).or_default() += 1;
            match fields[2] {
                "" => null += 1,
                r => {
                    rated += 1;
                    if r.parse::<i64>().unwrap() >= 3 {
                        high += 1;
                    }
                }
            }
        }
    }
    let mut counts: Vec<usize> = per_item.into_values().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: usize = counts.iter().take(counts.len() / 10).sum();
    assert!(
        top * 100 / 20_000 >= 30,
        "the top 10% of items hold {top} interactions"
    );
    assert!(
        high * 100 / rated >= 75,
        "{high} of {rated} ratings are 3 or more"
    );
    assert!(null > 1000 && null < 6000, "{null} consumption-only rows");
}

/// Indexes and foreign keys of a table (PostgreSQL) or its indexes (SQLite).
async fn table_shape(t: &TestDb, table: &str) -> i64 {
    match &t.db {
        Db::Sqlite(_) => {
            t.scalar(&format!(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}'"
            ))
            .await
        }
        Db::Postgres(_) => {
            t.scalar(&format!(
                "SELECT (SELECT count(*) FROM pg_index WHERE indrelid = '{table}'::regclass) \
                 + (SELECT count(*) FROM pg_constraint WHERE conrelid = '{table}'::regclass AND contype = 'f')"
            ))
            .await
        }
    }
}

db_test!(a_large_file_loads_in_bulk_and_keeps_the_schema, |t| {
    let (dir, summary) = generated("bulk", &sized(1500, 3000, 150_000, 11));
    // One interaction file of more than 1 MiB (the bulk threshold).
    let mut all = String::from("content_id,user_id,rating,count\n");
    for n in 1..=4 {
        let path = dir.0.join(format!("meta_user_content_{n}.csv"));
        let text = std::fs::read_to_string(&path).unwrap();
        all.extend(text.lines().skip(1).map(|l| format!("{l}\n")));
        std::fs::remove_file(path).unwrap();
    }
    std::fs::write(dir.0.join("meta_user_content_1.csv"), &all).unwrap();
    assert!(all.len() > 1 << 20);
    let shape = table_shape(&t, "meta_user_content").await;

    t.db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
    assert_eq!(
        t.count("meta_user_content").await,
        summary.interactions as i64
    );
    assert_eq!(table_shape(&t, "meta_user_content").await, shape);

    // A big file with one unknown user fails as a whole, schema intact.
    let mut bad = all.replacen("content_id,user_id,rating,count\n", "", 1);
    bad = format!("content_id,user_id,rating,count\n{bad}1,999999,5,1\n");
    std::fs::write(
        dir.0.join("meta_user_content_9.csv"),
        bad.replace(",5,", ",4,"),
    )
    .unwrap();
    let error = t.db.import_dataset(&dir.0, &mut Quiet).await.unwrap_err();
    assert!(matches!(error, DatasetError::Database { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with("meta_user_content_9.csv"),
        "{error}"
    );
    assert_eq!(
        t.count("meta_user_content").await,
        summary.interactions as i64
    );
    assert_eq!(table_shape(&t, "meta_user_content").await, shape);
});

// Rows repeated inside a file and across the files of a unit load once,
// also into an empty table (which PostgreSQL fills by COPY straight into it).
db_test!(repeated_rows_load_once_into_an_empty_table, |t| {
    let (dir, summary) = small_set();
    // A row of the first file, twice at the end of the third.
    let first = dir.0.join("meta_user_content_1.csv");
    let row = std::fs::read_to_string(&first).unwrap();
    let row = row.lines().nth(1).unwrap();
    let third = dir.0.join("meta_user_content_3.csv");
    let text = std::fs::read_to_string(&third).unwrap();
    std::fs::write(&third, format!("{text}{row}\n{row}\n")).unwrap();

    let reports = t.db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
    let interactions: Vec<_> = reports
        .iter()
        .filter(|r| r.table == "meta_user_content")
        .collect();
    let read: u64 = interactions.iter().map(|r| r.rows_read).sum();
    let inserted: u64 = interactions.iter().map(|r| r.rows_inserted).sum();
    assert_eq!(read, summary.interactions as u64 + 2);
    assert_eq!(inserted, summary.interactions as u64, "{interactions:?}");
    assert_eq!(
        t.count("meta_user_content").await,
        summary.interactions as i64
    );
});

/// Runs `recofinement import DIR` against `url` to its end.
fn import_process(url: &str, dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_recofinement"));
    command
        .arg("import")
        .arg(dir)
        .env("DATABASE_URL", url)
        .env("LOGGING_LEVEL_ROOT", "recofinement_store::dataset=debug")
        .stdout(std::process::Stdio::null());
    command
}

db_test!(
    a_killed_import_leaves_whole_files_and_a_rerun_completes_it,
    |t| {
        use std::io::BufRead;
        let (dir, summary) = generated("killed", &sized(2_000, 4_000, 400_000, 13));
        let shape = table_shape(&t, "meta_user_content").await;
        let url = t.url();

        // kill -9 once the second interaction file has a batch in the database
        // (sent, not committed): the middle of a file of the interaction unit.
        let mut child = import_process(&url, &dir.0)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut killed = false;
        for line in stderr.lines() {
            let line = line.unwrap();
            if line.contains("import batch loaded") && line.contains("meta_user_content_2.csv") {
                child.kill().unwrap(); // SIGKILL
                killed = true;
                break;
            }
        }
        let status = child.wait().unwrap();
        assert!(killed && !status.success(), "killed mid-file: {status:?}");

        // Earlier units are whole, the interrupted one left nothing, the table
        // has its indexes and foreign keys.
        let items = (summary.items + summary.episodes) as i64;
        assert_eq!(t.count("content").await, items);
        assert_eq!(t.count("\"user\"").await, summary.users as i64);
        assert_eq!(
            t.count("content_genres").await,
            rows_of(&summary, "content_genres.csv")
        );
        assert_eq!(t.count("meta_user_content").await, 0, "no half-loaded file");
        assert_eq!(table_shape(&t, "meta_user_content").await, shape);

        // A re-run completes the set.
        let status = import_process(&url, &dir.0)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{status:?}");
        assert_eq!(
            t.count("meta_user_content").await,
            summary.interactions as i64
        );
        assert_eq!(t.count("content").await, items);
        assert_eq!(t.count("role_permission").await, 14);
        assert_eq!(table_shape(&t, "meta_user_content").await, shape);
    }
);

db_test!(generated_accounts_can_log_in_and_are_engine_subjects, |t| {
    use recofinement::generate::{Accounts, GENERATED_PASSWORD, generate_with};
    let dir = TempDir::new("accounts");
    let accounts: Accounts = "10%".parse().unwrap();
    let summary = generate_with(&dir.0, &SMALL, accounts).unwrap();
    assert_eq!(summary.accounts, SMALL.users / 10);
    t.db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
    let subjects = t.db.engine_real_users().await.unwrap();
    assert_eq!(subjects.len(), SMALL.users / 10, "{subjects:?}");
    let hash = t
        .text(&format!(
            "SELECT password_hash FROM \"user\" WHERE user_id = {}",
            subjects[0]
        ))
        .await
        .unwrap();
    assert!(bcrypt::verify(GENERATED_PASSWORD, &hash).unwrap());
    // The same options write the same bytes; without accounts, none.
    let again = TempDir::new("accounts-again");
    generate_with(&again.0, &SMALL, accounts).unwrap();
    assert_eq!(read_all(&dir.0), read_all(&again.0));
    assert!("101%".parse::<Accounts>().is_err());
    let none = TempDir::new("accounts-none");
    assert_eq!(generate(&none.0, &SMALL).unwrap().accounts, 0);
});

// The OpenAPI document's path examples (`openapi::demo`) name what the demo
// set holds, so a client or a fuzzer reading the document against
// `recofinement demo` reaches the handlers instead of 404s.
db_test!(the_document_examples_are_in_the_demo_set, |t| {
    use recofinement_api::openapi::demo;
    use recofinement_domain::{Page, media};
    let dir = TempDir::new("demo");
    generate(&dir.0, &recofinement::generate::DEMO).unwrap();
    t.db.import_dataset(&dir.0, &mut Quiet).await.unwrap();
    let user = t.db.user_by_uuid(demo::USER_UUID).await.unwrap();
    assert!(user.is_some(), "user {}", demo::USER_UUID);
    let kind = t.db.content_type_of(demo::MOVIE_ID).await.unwrap();
    assert_eq!(kind.as_deref(), Some("MOVIE"));
    let genre = t.db.genre(demo::GENRE_ID).await.unwrap().unwrap();
    assert_eq!(genre.name, "Drama");
    let episodes = t.db.episodes(demo::SERIE_ID).await.unwrap().unwrap();
    assert!(
        !episodes.is_empty(),
        "serie {} has no episode",
        demo::SERIE_ID
    );
    let movies =
        t.db.search_items(&media::MOVIE, demo::TERM, Page(1))
            .await
            .unwrap();
    assert!(movies.total > 0, "no movie matches {}", demo::TERM);
});
