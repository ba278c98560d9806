//! What operators use: the engine history, forced runs, health probes, the
//! dashboard's JSON and page, and the Prometheus scrape.

use recofinement_domain::EngineName;
use recofinement_store::engine_runs::{NewEngineRun, RunCause, RunOf, RunOutcome, RunScope};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::db_test;
use crate::support::{Backend, TestApp, assert_error};

/// Records a finished run of `engine` directly in the history.
async fn record(app: &TestApp, engine: EngineName, outcome: RunOutcome, rows: i64) -> i64 {
    let run = NewEngineRun {
        engine: RunOf::Engine(engine),
        cause: RunCause::Scheduled,
        scope: RunScope::All,
        subjects: 3,
        rows,
        seconds: 0.25,
        peak_memory_mib: Some(64.0),
        started_at: recofinement_store::now(),
        outcome,
        error: (outcome == RunOutcome::Failed).then(|| "boom".to_string()),
        requested_by: None,
    };
    app.db.record_engine_run(&run).await.unwrap()
}

/// Rates a movie as the user behind `token`.
async fn rate(app: &TestApp, token: &str, movie: i64, rating: i64) {
    let path = format!("/api/movie/{movie}/meta");
    let body = json!({"rating": rating});
    let (status, answer) = app.patch(&path, token, body).await;
    assert!(status.is_success(), "{answer}");
}

fn ids(body: &Value) -> Vec<i64> {
    body["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

db_test!(
    engine_runs_are_listed_newest_first_for_administrators,
    |app| {
        let (admin, _) = app.register_admin("boss").await;
        let (user, _) = app.register("someone").await;
        let first = record(&app, EngineName::Popularity, RunOutcome::Done, 10).await;
        let second = record(&app, EngineName::FromProfile, RunOutcome::Failed, 0).await;
        let third = record(&app, EngineName::FromProfile, RunOutcome::Done, 7).await;

        let (status, body) = app.get("/api/engine/runs", &user).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_error(&body);

        let (status, body) = app.get("/api/engine/runs", &admin).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["message"], "Engine runs sent");
        assert_eq!(ids(&body), vec![third, second, first]);
        let failed = &body["content"][1];
        assert_eq!(failed["outcome"], "failed");
        assert_eq!(failed["error"], "boom");
        assert_eq!(body["content"][0]["rows"], 7);
        assert_eq!(body["content"][0]["cause"], "scheduled");
        assert_eq!(body["content"][0]["peak_memory_mib"], 64.0);

        let (_, body) = app
            .get(&format!("/api/engine/runs?after={first}"), &admin)
            .await;
        assert_eq!(ids(&body), vec![third, second]);
        let (_, body) = app
            .get(&format!("/api/engine/runs?before={third}&limit=1"), &admin)
            .await;
        assert_eq!(ids(&body), vec![second]);

        let (status, body) = app.get("/api/engine/runs?limit=many", &admin).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_error(&body);
    }
);

db_test!(a_forced_run_needs_an_engine_and_an_administrator, |app| {
    let (admin, _) = app.register_admin("boss").await;
    let (user, _) = app.register("someone").await;
    let (status, body) = app
        .post("/api/engine/runs", Some(&user), json!({"engines": []}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .post("/api/engine/runs", Some(&admin), json!({"engines": "all"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body);
    // This test server runs no engine: refused, and nothing is recorded.
    let (status, body) = app.post("/api/engine/runs", Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM engine_run").await, 0);
});

db_test!(health_probes_answer_for_orchestrators, |app| {
    let (status, body) = app.call(Method::GET, "/health/live", None, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": true})));
    let (status, body) = app.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["migrations"], "ok");
    assert_eq!(body["engine"], Value::Null);
    // A migration this binary knows but the database lacks: not ready.
    app.sql("DELETE FROM _sqlx_migrations WHERE version = 20")
        .await;
    let (status, body) = app.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["migrations"], "pending");
    let (status, _) = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
});

db_test!(
    the_overview_counts_the_catalogue_people_and_activity,
    |app| {
        let (admin, _) = app.register_admin("boss").await;
        let (user, _) = app.register("someone").await;
        let movie = app
            .add_item(&admin, "movie", json!({"title": "Alien", "genres": []}))
            .await;
        app.add_item(&admin, "track", json!({"title": "One", "genres": []}))
            .await;
        rate(&app, &user, movie, 4).await;
        record(&app, EngineName::Popularity, RunOutcome::Done, 2).await;

        let (status, body) = app.get("/api/admin/overview", &user).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, body) = app.get("/api/admin/overview", &admin).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let counts = &body["counts"];
        assert_eq!(
            counts["items"],
            json!([{"kind": "MOVIE", "count": 1}, {"kind": "TRACK", "count": 1}])
        );
        assert_eq!(counts["users"], 2);
        assert_eq!(counts["interactions"], 1);
        let events = counts["events"].as_i64().unwrap();
        assert!(events >= 3, "{body}");
        let hours = body["events_per_hour"].as_array().unwrap();
        let in_hours: i64 = hours.iter().map(|h| h["count"].as_i64().unwrap()).sum();
        assert_eq!(in_hours, events, "{body}");
        // No engine in this server: the engines the database knows, no cadence.
        let engines = body["engines"].as_array().unwrap();
        assert_eq!(engines.len(), 1, "{body}");
        assert_eq!(engines[0]["engine"], "Popularity");
        assert_eq!(engines[0]["backlog"], events);
        assert!(engines[0]["last_success"].is_string());
        assert_eq!(engines[0]["next_run"], Value::Null);
        assert_eq!(body["evaluations"], json!([]));

        app.db
            .save_evaluation(
                11,
                "s",
                &json!({"seed": 11}),
                &json!({"engines": {"random": {"ndcg": 0.03}}}),
            )
            .await
            .unwrap();
        let (_, body) = app.get("/api/admin/overview", &admin).await;
        assert_eq!(body["evaluations"][0]["seed"], 11);
        assert_eq!(
            body["evaluations"][0]["report"]["engines"]["random"]["ndcg"],
            0.03
        );
    }
);

db_test!(a_lookup_shows_recommendations_beside_their_causes, |app| {
    let (admin, _) = app.register_admin("boss").await;
    let (user, uuid) = app.register("someone").await;
    let genre = app.genre(7, "Horror", "MOVIE", 1).await;
    let seen = app
        .add_item(
            &admin,
            "movie",
            json!({"title": "Alien", "genres": [genre]}),
        )
        .await;
    let other = app
        .add_item(
            &admin,
            "movie",
            json!({"title": "Aliens", "genres": [genre]}),
        )
        .await;
    rate(&app, &user, seen, 5).await;
    let user_id = app
        .scalar_i64(&format!(
            "SELECT user_id FROM \"user\" WHERE uuid = '{uuid}'"
        ))
        .await;
    app.sql(&format!(
        "INSERT INTO liked_genres (user_id, genre_id) VALUES ({user_id}, {genre}); \
         INSERT INTO recommended_content (user_id, content_id, score, engine, engine_priority, content_type, reason) \
         VALUES ({user_id}, {other}, 0.75, 'FromSimilarContent', 2, 'MOVIE', 'Similar to Alien')"
    ))
    .await;

    let path = format!("/api/admin/lookup?user={uuid}");
    let (status, body) = app.get(&path, &user).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    for who in [
        uuid.as_str(),
        "someone@example.com",
        "SomeOne",
        &user_id.to_string(),
    ] {
        let (status, body) = app
            .get(&format!("/api/admin/lookup?user={who}"), &admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{who}: {body}");
        assert_eq!(body["user"]["uuid"], uuid.as_str());
    }
    let (_, body) = app.get(&path, &admin).await;
    assert_eq!(
        body["recommendations"],
        json!([{"content_id": other, "kind": "MOVIE", "title": "Aliens", "score": 0.75,
                "engine": "FromSimilarContent", "engine_priority": 2, "reason": "Similar to Alien"}])
    );
    assert_eq!(body["interactions"][0]["content_id"], seen);
    assert_eq!(body["interactions"][0]["title"], "Alien");
    assert_eq!(body["interactions"][0]["rating"], 5);
    assert_eq!(body["genres"][0]["name"], "Horror");
    let (_, overview) = app.get("/api/admin/overview", &admin).await;
    assert_eq!(overview["sample_users"][0]["uuid"], uuid.as_str());

    let (status, body) = app.get("/api/admin/lookup?user=nobody", &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body);
    let (status, body) = app.get("/api/admin/lookup?user=%20", &admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body);
});

db_test!(the_dashboard_page_is_served_from_the_binary, |app| {
    for (path, kind) in [
        ("/admin", "text/html"),
        ("/admin/app.js", "text/javascript"),
        ("/admin/chart.js", "text/javascript"),
        ("/admin/app.css", "text/css"),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert!(headers["content-type"].to_str().unwrap().starts_with(kind));
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'self'")
        );
        let text = response.text().await.unwrap();
        assert!(!text.is_empty(), "{path}");
        // The SVG namespace is a name, not a download.
        let text = text.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{path} loads nothing from elsewhere"
        );
    }
});

/// Scrapes the metrics listener of a fresh metrics router over `app`.
async fn scrape(app: &TestApp) -> String {
    let handle = recofinement_api::metrics::install().unwrap();
    let state = recofinement_api::AppState::new(
        app.db.clone(),
        crate::support::test_config(),
        recofinement_api::mail::Mailer::new(recofinement_api::mail::MemoryTransport::default()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(recofinement_api::serve(
        listener,
        recofinement_api::metrics::router(state, handle),
        std::future::pending(),
    ));
    let response = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

/// The value of the sample whose line starts with `series` followed by a space.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

db_test!(prometheus_scrapes_requests_by_route_template, |app| {
    recofinement_api::metrics::install().unwrap();
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        // The first test of the process installs it; the others share it.
        let _ = tracing_subscriber::registry()
            .with(recofinement_api::metrics::pool_wait_layer())
            .try_init();
    }
    let (admin, _) = app.register_admin("boss").await;
    record(&app, EngineName::Popularity, RunOutcome::Done, 2).await;
    // A method only this backend's scenario uses, so that the two backends'
    // scenarios, which share the process's metrics, count apart.
    let method = match app.backend {
        Backend::Sqlite => Method::PUT,
        Backend::Postgres => Method::DELETE,
    };
    for _ in 0..3 {
        let (status, _) = app
            .call(method.clone(), "/api/engine/runs", Some(&admin), None)
            .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }
    app.get("/api/movie/search/some-term", &admin).await;
    // A method of the client's own invention is not a label of its own.
    let invented = Method::from_bytes(b"INVENTED-METHOD").unwrap();
    app.call(invented, "/api/engine/runs", Some(&admin), None)
        .await;

    let text = scrape(&app).await;
    let series = format!(
        "recofinement_http_requests_total{{method=\"{method}\",route=\"/api/engine/runs\",status=\"405\"}}"
    );
    assert_eq!(sample(&text, &series), Some(3.0), "{text}");
    assert!(
        text.contains("route=\"/api/{media}/search/{term}\""),
        "{text}"
    );
    assert!(!text.contains("some-term"), "raw paths never become labels");
    assert!(!text.contains("INVENTED"), "nor raw methods");
    assert!(
        text.contains(
            "recofinement_http_requests_total{method=\"other\",route=\"/api/engine/runs\""
        ),
        "{text}"
    );
    for family in [
        "# TYPE recofinement_http_request_duration_seconds histogram",
        "# TYPE recofinement_db_pool_connections gauge",
        "# TYPE recofinement_db_pool_max_connections gauge",
        "# TYPE recofinement_engine_backlog_events gauge",
        "# TYPE recofinement_engine_seconds_since_success gauge",
        "# TYPE recofinement_bcrypt_waiting gauge",
    ] {
        assert!(text.contains(family), "{family} in {text}");
    }
    assert!(text.contains("recofinement_db_pool_connections{state=\"idle\"}"));
    // Every request above acquired a pool connection, and each acquisition
    // is timed.
    let acquisitions = sample(&text, "recofinement_db_pool_acquire_wait_seconds_count");
    assert!(acquisitions.is_some_and(|n| n >= 4.0), "{text}");
    assert!(text.contains("recofinement_engine_backlog_events{engine=\"Popularity\"}"));
});
