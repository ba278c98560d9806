//! The administrator's dashboard in a real browser: headless Chromium
//! driven through chromedriver (W3C WebDriver over HTTP). It signs in,
//! waits for every panel to fill with the test data, looks a user up,
//! forces a run and sees it appear, and keeps a screenshot under
//! `target/dashboard.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them); without them the test says so and passes, except in CI.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use recofinement::engine_runner::{ALL_ENGINES, EngineRunner};
use recofinement::generate::{GenerateOptions, generate};
use recofinement_store::dataset::Quiet;
use recofinement_store::interactions::MetaPatch;
use recofinement_store::testing::{Backend, TestDb, postgres_enabled};

use common::json_answer;
use recofinement_api::testing::TestServer;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start(binary: &PathBuf) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .is_ok()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer");
    }
}

/// One browser session.
struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    async fn open(driver: &Driver, chromium: &PathBuf) -> Browser {
        let http = reqwest::Client::new();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,2600"]
            }
        }}});
        let answer = json_answer(
            http.post(format!("{}/session", driver.url))
                .json(&capabilities),
        )
        .await;
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        Browser {
            http,
            base: format!("{}/session/{id}", driver.url),
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if !body.is_null() {
            request = request.json(&body);
        }
        let answer = json_answer(request).await;
        assert!(
            answer["value"]["error"].is_null(),
            "{path}: {}",
            answer["value"]
        );
        answer["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found[ELEMENT].as_str().unwrap().to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    async fn script(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// Waits (up to a minute) until `script` returns true.
    async fn wait_for(&self, what: &str, script: &str) {
        for _ in 0..300 {
            if self.script(script).await == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let page = self.script("return document.body.innerText").await;
        panic!("waited in vain for {what}; the page shows:\n{page}");
    }

    async fn screenshot(&self, path: &PathBuf) {
        let data = self
            .command(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }

    async fn close(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

/// A catalogue with activity: the generated set, a person who rated and
/// declared genres through the API, every engine run once, and a stored
/// evaluation.
async fn fill(t: &TestDb, server: &TestServer) {
    let dir = std::env::temp_dir().join(format!(
        "recofinement-dashboard-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let options = GenerateOptions {
        users: 40,
        items: 300,
        interactions: 2_000,
        seed: 3,
    };
    generate(&dir, &options).unwrap();
    t.db.import_dataset(&dir, &mut Quiet).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    server.account("reader", false).await;
    let reader =
        t.db.user_by_email("reader@example.com")
            .await
            .unwrap()
            .unwrap();
    let movies = t
        .scalar("SELECT COUNT(*) FROM content WHERE content_type = 'MOVIE'")
        .await;
    assert!(movies > 5);
    for offset in 0..5 {
        let id = t
            .scalar(&format!(
                "SELECT content_id FROM content WHERE content_type = 'MOVIE' ORDER BY content_id LIMIT 1 OFFSET {offset}"
            ))
            .await;
        let patch = MetaPatch {
            rating: Some(5),
            additional_count: Some(1),
        };
        t.db.patch_item(
            reader.user_id,
            id,
            recofinement_domain::ContentKind::Movie,
            patch,
        )
        .await
        .unwrap();
    }
    let genre = t
        .scalar("SELECT MIN(genre_id) FROM genre WHERE content_type = 'MOVIE'")
        .await;
    t.db.like_genre(reader.user_id, genre).await.unwrap();
    let runner = EngineRunner::new(t.db.clone(), 2).unwrap();
    runner.run(&ALL_ENGINES, false).await.unwrap();
    recofinement::run_history::evaluate_and_save(&t.db, 11, "s")
        .await
        .unwrap();
}

fn screenshot_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    std::fs::create_dir_all(&target).unwrap();
    target.join("dashboard.png")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sees_every_panel_and_forces_a_run() {
    let chromium = find_binary(&["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = find_binary(&["chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must install chromium and chromium-driver"
        );
        eprintln!("skipped: chromium and chromedriver are not installed");
        return;
    };
    drive(Backend::Sqlite, &chromium, &chromedriver).await;
    if postgres_enabled("an_administrator_sees_every_panel_and_forces_a_run::postgres") {
        drive(Backend::Postgres, &chromium, &chromedriver).await;
    }
}

/// Signs in, checks every panel, forces a run; keeps the SQLite run's
/// screenshot.
async fn drive(backend: Backend, chromium: &PathBuf, chromedriver: &PathBuf) {
    let t = TestDb::fresh(backend).await;
    if backend == Backend::Postgres {
        // The engine's event bound waits for transactions of other tests.
        t.settle_events().await;
    }
    let server = common::server(&t).await;
    // The dataset first: an account made before it would hold an id the
    // dataset gives to one of its users, and the import would refuse.
    fill(&t, &server).await;
    server.account("boss", true).await;

    let driver = Driver::start(chromedriver).await;
    let browser = Browser::open(&driver, chromium).await;
    browser
        .go(&format!("http://{}/admin", server.address))
        .await;
    browser.type_into("#email", "boss@example.com").await;
    browser.type_into("#password", "goodPassword!123").await;
    browser.click("#sign-in button[type=submit]").await;
    for panel in ["catalogue", "engines", "quality"] {
        browser
            .wait_for(
                panel,
                &format!("return document.getElementById('{panel}').dataset.filled === 'true'"),
            )
            .await;
    }
    let tiles = browser
        .script("return document.getElementById('counts').innerText")
        .await;
    assert!(tiles.as_str().unwrap().contains("movie"), "{tiles}");
    let engines = browser
        .script("return document.querySelectorAll('#engine-table tbody tr').length")
        .await;
    assert_eq!(engines, json!(ALL_ENGINES.len()));
    let bars = browser
        .script("return document.querySelectorAll('#quality-chart rect').length")
        .await;
    assert!(bars.as_u64().unwrap() >= 4, "{bars}");
    let ndcg_drawn = browser
        .script("return [...document.querySelectorAll('#quality-chart > div:first-child rect')].some(r => +r.getAttribute('height') > 0)")
        .await;
    assert_eq!(ndcg_drawn, json!(true), "NDCG@10 bars are drawn");

    // The why: the reader's recommendations beside what they did.
    browser.type_into("#lookup-user", "reader").await;
    browser.click("#lookup-form button").await;
    browser
        .wait_for(
            "the lookup",
            "return document.getElementById('lookup').dataset.filled === 'true'",
        )
        .await;
    let reasons = browser
        .script("return [...document.querySelectorAll('#recommendations-table td.reason')].map(td => td.textContent).join('|')")
        .await;
    assert!(
        reasons.as_str().unwrap().contains("Because you like"),
        "{reasons}"
    );
    let interactions = browser
        .script("return document.querySelectorAll('#interactions-table tbody tr').length")
        .await;
    assert_eq!(interactions, json!(5));

    // Force one engine and see its run arrive in the table.
    browser
        .script("document.getElementById('force-engine').value = 'Popularity'; return true")
        .await;
    browser.click("#force-run").await;
    browser
        .wait_for(
            "the forced run",
            "return document.getElementById('force-status').textContent.startsWith('done')",
        )
        .await;
    let first_row = browser
        .script("return document.querySelector('#runs-table tbody tr').innerText")
        .await;
    let first_row = first_row.as_str().unwrap();
    assert!(
        first_row.contains("Popularity") && first_row.contains("forced"),
        "{first_row}"
    );
    if backend == Backend::Sqlite {
        browser.screenshot(&screenshot_path()).await;
    }
    browser.close().await;
}
