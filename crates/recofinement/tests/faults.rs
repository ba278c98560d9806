//! A crash loses nothing, and the database can go away and come back
//! (issue 10, items 5 and 6). The real binary runs as a child process:
//!
//! - `engine run --force` is killed with SIGKILL in the middle of an
//!   engine's write transaction (seen in its statement log); every engine's
//!   cursor moved only if its rows are complete, the others still hold
//!   exactly what they held before, and the same command run again
//!   completes.
//! - `serve` gets a burst of concurrent rating PATCHes and is killed with
//!   SIGKILL mid-burst; after a restart every content's average and count
//!   equal what the interactions say, and every acknowledged rating is
//!   there.
//! - `serve` on a PostgreSQL cluster of the test's own (never the shared
//!   one) that is stopped under load and started again: requests during the
//!   outage get a quick 503 in the envelope, `/health` says 503, and the
//!   API and the engine scheduler's advisory lock are back within 5 s.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

mod common;

use common::binary::{Server, command, free_port};
use recofinement_store::backend_test;
use recofinement_store::testing::{TempDir, TestDb, require_service};

/// Runs the binary to completion; panics with its output when it fails.
async fn run_ok(url: &str, args: &[&str]) {
    let output = command(url, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "recofinement {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A generated dataset imported into `t`, every account made a real one
/// (dataset accounts only feed the models; the user engines compute for
/// accounts that can log in).
async fn load_dataset(t: &TestDb, users: usize, items: usize, interactions: usize) -> TempDir {
    let dir = TempDir::new("faults-data");
    let out = dir.0.join("data");
    let out = out.to_str().unwrap();
    let (users, items, interactions) = (
        users.to_string(),
        items.to_string(),
        interactions.to_string(),
    );
    run_ok(
        &t.url(),
        &[
            "generate",
            "--out",
            out,
            "--users",
            &users,
            "--items",
            &items,
            "--interactions",
            &interactions,
        ],
    )
    .await;
    run_ok(&t.url(), &["import", out]).await;
    t.sql("UPDATE \"user\" SET password_hash = 'not-a-dataset-account'")
        .await;
    dir
}

// ---------------------------------------------------------------------------
// kill -9 in the middle of an engine write

/// What the killed run is in the middle of: the engine whose write is
/// going on (the one after the cursors of the engines before it were
/// written), then how many of its inserts to let through before SIGKILL
/// (engines write in short transactions, the cursor in the last one: some
/// lists are replaced, the cursor not yet moved). The statement texts are
/// the writers' in `store::engine_io`; a writer that changes them changes
/// these.
struct KillPoint {
    engine: &'static str,
    insert: &'static str,
    inserts_before_kill: usize,
}

const KILL_POINTS: [KillPoint; 3] = [
    KillPoint {
        engine: "ContentSimilarities",
        insert: "INSERT INTO similars_content",
        inserts_before_kill: 3,
    },
    KillPoint {
        engine: "CollaborativeFiltering",
        insert: "INSERT INTO recommended_content (",
        inserts_before_kill: 3,
    },
    KillPoint {
        engine: "FromSimilarContent",
        insert: "INSERT INTO recommended_content (",
        inserts_before_kill: 10,
    },
];

/// The user engines, in the order a full run writes them.
const USER_ENGINES: [&str; 3] = [
    "CollaborativeFiltering",
    "FromProfile",
    "FromSimilarContent",
];

/// What one engine has written: its last run (the cursor's time stamp,
/// written with the cursor) and a fingerprint of its rows.
#[derive(Clone, Debug, PartialEq)]
struct EngineState {
    /// `MAX(last_launch_date)` of its cursor rows, as text.
    launched: Option<String>,
    /// Its rows: count and distinct subjects (or, for the similarity
    /// engines, count and the rounded sum of similarities).
    rows: i64,
    subjects: i64,
}

async fn engine_state(t: &TestDb, engine: &str) -> EngineState {
    let launched = t
        .text(&format!(
            "SELECT CAST(MAX(last_launch_date) AS TEXT) FROM engine WHERE engine = '{engine}'"
        ))
        .await;
    let (rows, subjects) = match engine {
        "ContentSimilarities" | "LinkBetweenItems" => {
            let op = if engine == "ContentSimilarities" {
                "="
            } else {
                "<>"
            };
            let filter = format!("content_type0 {op} content_type1");
            (
                t.scalar(&format!(
                    "SELECT count(*) FROM similars_content WHERE {filter}"
                ))
                .await,
                t.scalar(&format!(
                    "SELECT CAST(COALESCE(ROUND(SUM(similarity) * 1000), 0) AS BIGINT) FROM similars_content WHERE {filter}"
                ))
                .await,
            )
        }
        "Popularity" => (
            t.scalar("SELECT count(*) FROM content WHERE popularity_score IS NOT NULL")
                .await,
            t.scalar(
                "SELECT CAST(COALESCE(ROUND(SUM(popularity_score) * 1000), 0) AS BIGINT) FROM content",
            )
            .await,
        ),
        _ => (
            t.scalar(&format!(
                "SELECT count(*) FROM recommended_content WHERE engine = '{engine}'"
            ))
            .await,
            t.scalar(&format!(
                "SELECT count(DISTINCT user_id) FROM recommended_content WHERE engine = '{engine}'"
            ))
            .await,
        ),
    };
    EngineState {
        launched,
        rows,
        subjects,
    }
}

/// Kinds of content: each engine's cursor is one row per kind.
const KINDS: usize = 6;

const ALL_ENGINES: [&str; 6] = [
    "Popularity",
    "ContentSimilarities",
    "LinkBetweenItems",
    "CollaborativeFiltering",
    "FromProfile",
    "FromSimilarContent",
];

async fn all_states(t: &TestDb) -> HashMap<&'static str, EngineState> {
    let mut states = HashMap::new();
    for engine in ALL_ENGINES {
        states.insert(engine, engine_state(t, engine).await);
    }
    states
}

/// Runs `engine run --force` with its statement log on stderr and kills it
/// with SIGKILL at `point`; panics if the run ends before.
async fn kill_engine_run_at(t: &TestDb, point: &KillPoint) {
    let mut child = command(&t.url(), &["engine", "run", "--force"])
        .env("LOGGING_LEVEL_ROOT", "warn,sqlx::query=debug")
        .env("LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // Engines write in a fixed order, each ending with its cursor (one
    // upsert per kind): ours writes once the cursors before it are written.
    let before_ours = ALL_ENGINES.iter().position(|e| *e == point.engine).unwrap();
    let (mut cursors, mut inserts) = (0, 0);
    let killed = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("INSERT INTO engine (") {
                cursors += 1;
            } else if cursors == KINDS * before_ours && line.contains(point.insert) {
                inserts += 1;
                if inserts == point.inserts_before_kill {
                    child.start_kill().unwrap();
                    return true;
                }
            }
        }
        false
    })
    .await
    .expect("the engine run reaches the kill point");
    assert!(
        killed,
        "the run ended before {} wrote {} batches (statement texts changed?)",
        point.engine, point.inserts_before_kill
    );
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "killed, not finished: {status:?}");
}

/// Every real account with interactions.
async fn users_with_interactions(t: &TestDb) -> i64 {
    t.scalar(
        "SELECT count(DISTINCT m.user_id) FROM meta_user_content m JOIN \"user\" u ON u.user_id = m.user_id \
         WHERE u.password_hash <> 'no_pwd'",
    )
    .await
}

/// The rows of an engine whose cursor moved are complete: every user has
/// recommendations, the item engines hold what a whole run writes.
fn assert_complete(
    engine: &str,
    state: &EngineState,
    complete: &HashMap<&'static str, EngineState>,
    users: i64,
) {
    if USER_ENGINES.contains(&engine) {
        assert_eq!(
            state.subjects, users,
            "{engine}: its cursor moved but not every user has recommendations"
        );
    } else {
        let whole = &complete[engine];
        assert_eq!(
            (state.rows, state.subjects),
            (whole.rows, whole.subjects),
            "{engine}: its cursor moved but its rows are not a whole run's"
        );
    }
}

backend_test!(
    kill_9_during_an_engine_write_leaves_cursors_matching_rows,
    |t| {
        let _data = load_dataset(&t, 120, 1500, 12_000).await;
        let users = users_with_interactions(&t).await;
        assert!(users > 100, "the dataset has users: {users}");
        run_ok(&t.url(), &["engine", "run", "--force"]).await;
        // A whole run's rows: the catalogue does not change in this test, so the
        // item engines write the same rows every time.
        let complete = all_states(&t).await;
        for engine in USER_ENGINES {
            assert_eq!(
                complete[engine].subjects, users,
                "{engine} covers every user"
            );
        }
        for point in &KILL_POINTS {
            let before = all_states(&t).await;
            kill_engine_run_at(&t, point).await;
            let after = all_states(&t).await;
            for engine in ALL_ENGINES {
                let (was, now) = (&before[engine], &after[engine]);
                if now.launched == was.launched {
                    assert_eq!(
                        now, was,
                        "{engine}: its cursor did not move, yet its rows changed (killed at {})",
                        point.engine
                    );
                } else {
                    assert_complete(engine, now, &complete, users);
                }
            }
            assert_eq!(
                after[point.engine].launched, before[point.engine].launched,
                "{} was killed in the middle of its write: its cursor must not move",
                point.engine
            );
            // Restarted, the same command completes and every engine moves on.
            run_ok(&t.url(), &["engine", "run", "--force"]).await;
            let restarted = all_states(&t).await;
            for engine in ALL_ENGINES {
                assert_ne!(
                    restarted[engine].launched, after[engine].launched,
                    "{engine} ran after the restart"
                );
                assert_complete(engine, &restarted[engine], &complete, users);
            }
        }
    }
);

// ---------------------------------------------------------------------------
// kill -9 in the middle of a burst of ratings

/// One rater's record: ratings acknowledged with a 200, and the one in
/// flight when the server died (it may or may not have committed).
#[derive(Default)]
struct Rater {
    acknowledged: HashMap<i64, i64>,
    in_flight: Option<(i64, i64)>,
}

/// Every content's average and count recomputed from the interactions
/// differ from the stored ones on these content ids.
async fn inconsistent_contents(t: &TestDb) -> Vec<(i64, Option<f64>, i64)> {
    let sql = "SELECT c.content_id, c.rating, COALESCE(c.rating_count, 0), a.average, COALESCE(a.n, 0) \
               FROM content c LEFT JOIN (SELECT content_id, AVG(CAST(rating AS DOUBLE PRECISION)) AS average, \
               COUNT(rating) AS n FROM meta_user_content GROUP BY content_id) a ON a.content_id = c.content_id";
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    type Row = (i64, Option<f64>, i64, Option<f64>, i64);
    let rows: Vec<Row> = recofinement_store::on_db!(&t.db, pool => sqlx::query_as(sql).fetch_all(pool).await.unwrap());
    rows.into_iter()
        .filter(|(_, rating, count, average, n)| {
            count != n
                || (*n > 0
                    && (rating.unwrap_or(f64::NAN) - average.unwrap_or(f64::NAN)).abs() > 1e-6)
        })
        .map(|(id, rating, count, _, _)| (id, rating, count))
        .collect()
}

backend_test!(
    kill_9_during_a_burst_of_ratings_loses_no_acknowledged_rating,
    |t| {
        let _data = load_dataset(&t, 30, 300, 1500).await;
        // The dataset's averages are rounded to two decimals: start from the
        // exact ones, so that any difference after the crash is the crash's.
        t.sql(
        "UPDATE content SET \
           rating = (SELECT AVG(CAST(m.rating AS DOUBLE PRECISION)) FROM meta_user_content m WHERE m.content_id = content.content_id), \
           rating_count = (SELECT COUNT(m.rating) FROM meta_user_content m WHERE m.content_id = content.content_id)",
    )
    .await;
        assert!(inconsistent_contents(&t).await.is_empty());
        let movies: Vec<i64> = {
            let sql = "SELECT content_id FROM movie ORDER BY content_id LIMIT 12";
            let rows: Vec<(i64,)> = recofinement_store::on_db!(&t.db, pool => sqlx::query_as(sql).fetch_all(pool).await.unwrap());
            rows.into_iter().map(|(id,)| id).collect()
        };
        assert!(movies.len() >= 10, "movies to rate");
        let mut server = Server::start(&t.url(), &[], &[("NO_ENGINE", "true")]).await;
        let mut tokens = Vec::new();
        for i in 0..16 {
            tokens.push(server.token(&format!("rater{i}")).await);
        }

        // 16 raters, each one request at a time, rating the same dozen movies
        // again and again (new ratings and changed ones, all on the same rows).
        let acks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let raters: Vec<Arc<Mutex<Rater>>> =
            (0..tokens.len()).map(|_| Default::default()).collect();
        let mut tasks = Vec::new();
        for (i, token) in tokens.iter().enumerate() {
            let (rater, acks, movies, token) = (
                raters[i].clone(),
                acks.clone(),
                movies.clone(),
                token.clone(),
            );
            let base = server.base.clone();
            tasks.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                for n in 0usize.. {
                    let movie = movies[(n * 7 + i) % movies.len()];
                    let rating = ((n + i) % 5 + 1) as i64;
                    rater.lock().unwrap().in_flight = Some((movie, rating));
                    let sent = client
                        .patch(format!("{base}/api/movie/{movie}/meta"))
                        .bearer_auth(&token)
                        .json(&json!({"rating": rating}))
                        .send()
                        .await;
                    match sent {
                        Ok(answer) if answer.status().is_success() => {
                            let mut r = rater.lock().unwrap();
                            r.acknowledged.insert(movie, rating);
                            r.in_flight = None;
                            acks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Ok(answer) => panic!("rating answered {}", answer.status()),
                        // The server died: this request may or may not have committed.
                        Err(_) => return,
                    }
                }
            }));
        }
        // Mid-burst: well after it started, long before it would end.
        let started = Instant::now();
        while acks.load(std::sync::atomic::Ordering::SeqCst) < 400 {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the burst runs"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill().await;
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("raters stop when the server dies")
                .unwrap();
        }

        // Restarted on the same database: it serves, and the data is whole.
        let server = Server::start(&t.url(), &[], &[("NO_ENGINE", "true")]).await;
        let inconsistent = inconsistent_contents(&t).await;
        assert!(
            inconsistent.is_empty(),
            "averages or counts differ from the interactions after the crash: {inconsistent:?}"
        );
        for (i, rater) in raters.iter().enumerate() {
            let (acknowledged, in_flight) = {
                let rater = rater.lock().unwrap();
                (rater.acknowledged.clone(), rater.in_flight)
            };
            let user = t
                .scalar(&format!(
                    "SELECT user_id FROM \"user\" WHERE username = 'rater{i}'"
                ))
                .await;
            for &movie in &movies {
                let stored = t
                .scalar(&format!(
                    "SELECT COALESCE(MAX(rating), 0) FROM meta_user_content WHERE user_id = {user} AND content_id = {movie}"
                ))
                .await;
                let acked = acknowledged.get(&movie).copied();
                let pending = in_flight.filter(|(m, _)| *m == movie).map(|(_, r)| r);
                assert!(
                    Some(stored) == acked.or(Some(0)) || Some(stored) == pending,
                    "rater{i}, movie {movie}: stored {stored}, acknowledged {acked:?}, in flight {pending:?}"
                );
            }
        }
        // And it takes ratings again.
        let answer = reqwest::Client::new()
            .patch(server.url(&format!("/api/movie/{}/meta", movies[0])))
            .bearer_auth(&tokens[0])
            .json(&json!({"rating": 5}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
        assert!(acks.load(std::sync::atomic::Ordering::SeqCst) >= 400);
    }
);

// ---------------------------------------------------------------------------
// PostgreSQL goes away and comes back

/// PostgreSQL's server programs: `POSTGRES_BIN_DIR`, else the newest
/// `/usr/lib/postgresql/*/bin`.
fn postgres_bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("POSTGRES_BIN_DIR") {
        return Some(PathBuf::from(dir));
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("pg_ctl").exists() && bin.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

/// A throwaway PostgreSQL cluster of this test's own, on a free port,
/// stopped and removed when dropped. Run as user `postgres` when the test
/// runs as root (the server refuses root).
struct Cluster {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
}

impl Cluster {
    fn as_server_user(&self, program: &str, args: &[&str]) -> std::process::Output {
        let program = self.bin.join(program);
        let output = if is_root() {
            std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            std::process::Command::new(&program).args(args).output()
        };
        output.unwrap_or_else(|e| panic!("running {}: {e}", program.display()))
    }

    fn check(&self, program: &str, args: &[&str]) {
        let output = self.as_server_user(program, args);
        assert!(
            output.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn new(bin: PathBuf) -> Cluster {
        let dir = TempDir::new("faults-pg");
        if is_root() {
            let chown = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir.0)
                .status()
                .unwrap();
            assert!(chown.success());
        }
        let cluster = Cluster {
            bin,
            dir,
            port: free_port(),
        };
        let data = cluster.data();
        cluster.check(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        cluster.start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.0.join("data").display().to_string()
    }

    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=100",
            self.port,
            self.dir.0.display()
        );
        let log = self.dir.0.join("server.log").display().to_string();
        self.check(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    /// A fast shutdown: running sessions are terminated, as in a restart.
    fn stop(&self) {
        self.check("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.as_server_user("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// One request of the load: when it was sent (since the start), how long
/// it took, and its status (0: no answer).
type Sample = (Duration, Duration, u16);

/// Whether the engine scheduler's advisory lock is held on the cluster.
async fn scheduler_lock_held(url: &str) -> bool {
    let Ok(pool) = sqlx::PgPool::connect(url).await else {
        return false;
    };
    // Key 0x5245434f ("RECO"): a bigint key shows as classid 0, objid = key.
    let held: Result<(i64,), _> = sqlx::query_as(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND classid = 0 AND objid = 1380270927",
    )
    .fetch_one(&pool)
    .await;
    pool.close().await;
    held.is_ok_and(|(n,)| n > 0)
}

/// One of the clients that read an authenticated page in a loop through
/// the outage, recording when each request left, how long it took and its
/// status (0: no answer).
struct Reader {
    client: reqwest::Client,
    page: String,
    token: String,
    origin: Instant,
}

impl Reader {
    async fn run(self, samples: Arc<Mutex<Vec<Sample>>>, stop: Arc<std::sync::atomic::AtomicBool>) {
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let sent = self.origin.elapsed();
            let answer = self
                .client
                .get(&self.page)
                .bearer_auth(&self.token)
                .send()
                .await;
            let status = match answer {
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    let body: Value = answer.json().await.unwrap_or(Value::Null);
                    assert!(
                        status == 200 || (status == 503 && body["status"] == false),
                        "an answer during the outage: {status} {body}"
                    );
                    status
                }
                Err(_) => 0,
            };
            samples
                .lock()
                .unwrap()
                .push((sent, self.origin.elapsed() - sent, status));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `/health` and `/health/ready` answer 503 in the envelope, within 5 s.
async fn assert_health_unavailable(client: &reqwest::Client, server: &Server) {
    for path in ["/health", "/health/ready"] {
        let asked = Instant::now();
        let answer = client.get(server.url(path)).send().await.unwrap();
        let took = asked.elapsed();
        assert_eq!(
            answer.status(),
            reqwest::StatusCode::SERVICE_UNAVAILABLE,
            "{path}"
        );
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["status"], false, "{path}: {body}");
        assert!(took < Duration::from_secs(5), "{path} answered in {took:?}");
    }
}

/// Polls for 5 s at most until the API answers 200, `/health/ready` too
/// and the scheduler holds its lock; when each came back.
async fn wait_until_back(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    url: &str,
) -> (Option<Duration>, Option<Duration>, Option<Duration>) {
    let started = Instant::now();
    let (mut api_back, mut health_back, mut lock_back) = (None, None, None);
    let ok = |answer: Result<reqwest::Response, reqwest::Error>| {
        answer.is_ok_and(|a| a.status().is_success())
    };
    while started.elapsed() < Duration::from_secs(5)
        && (api_back.is_none() || health_back.is_none() || lock_back.is_none())
    {
        if health_back.is_none() && ok(client.get(server.url("/health/ready")).send().await) {
            health_back = Some(started.elapsed());
        }
        if api_back.is_none()
            && ok(client
                .get(server.url("/api/user/genre"))
                .bearer_auth(token)
                .send()
                .await)
        {
            api_back = Some(started.elapsed());
        }
        if lock_back.is_none() && scheduler_lock_held(url).await {
            lock_back = Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (api_back, health_back, lock_back)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_under_load_gives_quick_503s_and_recovers() {
    let test = "faults::postgres_restarted_under_load_gives_quick_503s_and_recovers";
    let bin = match postgres_bin_dir() {
        Some(bin) => bin,
        None => {
            require_service(test, "POSTGRES_BIN_DIR");
            return;
        }
    };
    let cluster = Cluster::new(bin);
    let admin = sqlx::PgPool::connect(&cluster.url("postgres"))
        .await
        .unwrap();
    sqlx::query("CREATE DATABASE reco")
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let url = cluster.url("reco");
    let mut server = Server::start(&url, &[], &[]).await;
    let token = server.token("outage").await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let me = common::json_answer(
        client
            .get(server.url("/api/user/genre"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(me["status"], true, "{me}");
    let locked = Instant::now();
    while !scheduler_lock_held(&url).await {
        assert!(
            locked.elapsed() < Duration::from_secs(10),
            "the scheduler takes its lock"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Load: 8 clients reading an authenticated page in a loop.
    let origin = Instant::now();
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..8)
        .map(|_| {
            let reader = Reader {
                client: client.clone(),
                page: server.url("/api/user/genre"),
                token: token.clone(),
                origin,
            };
            tokio::spawn(reader.run(samples.clone(), stop.clone()))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let down_at = origin.elapsed();
    cluster.stop();
    let stopped_at = origin.elapsed();
    // During the outage: the health checks say 503, quickly, in JSON.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_health_unavailable(&client, &server).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let up_at = origin.elapsed();
    cluster.start();
    // Back within 5 s of the database's return: the API, the health check
    // and the scheduler's lock (taken again on a new connection).
    let (api_back, health_back, lock_back) = wait_until_back(&client, &server, &token, &url).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    server.kill().await;

    let samples = samples.lock().unwrap().clone();
    let during: Vec<&Sample> = samples
        .iter()
        .filter(|(sent, _, _)| *sent >= stopped_at && *sent < up_at)
        .collect();
    let slowest = during.iter().map(|s| s.1).max().unwrap_or_default();
    let unavailable = during.iter().filter(|s| s.2 == 503).count();
    let served = during.iter().filter(|s| s.2 == 200).count();
    let unanswered = samples.iter().filter(|s| s.2 == 0).count();
    eprintln!(
        "outage: stop took {:.1} s; {} requests during it, {} answered 503, {} 200 (sent in its last 2 s, served once it was back), slowest {:.2} s; \
         back after the restart: API {api_back:?}, /health/ready {health_back:?}, scheduler lock {lock_back:?}",
        (stopped_at - down_at).as_secs_f64(),
        during.len(),
        unavailable,
        served,
        slowest.as_secs_f64(),
    );
    assert_eq!(unanswered, 0, "every request got an answer");
    assert!(
        unavailable > 0,
        "requests during the outage were answered 503"
    );
    assert!(
        slowest < Duration::from_secs(5),
        "a request during the outage took {slowest:?}"
    );
    assert!(api_back.is_some(), "the API is back within 5 s");
    assert!(health_back.is_some(), "/health/ready is back within 5 s");
    assert!(
        lock_back.is_some(),
        "the scheduler holds its lock again within 5 s"
    );
}
