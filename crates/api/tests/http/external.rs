//! Linked services (spec §11): the three flows against local mocks of the
//! providers (wiremock), the state checks, the encrypted grants and the
//! background imports.

use std::time::Duration;

use recofinement_api::integrations::{ExternalConfig, OAuthProvider, TmdbProvider};
use recofinement_api::{ApiConfig, Secret};
use recofinement_store::Db;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{
    basic_auth, bearer_token, body_string_contains, method, path, query_param,
    query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::db_test;
use crate::support::{TestApp, assert_error, test_config};

const REDIRECT: &str = "http://front.test/recofinement/app/user/profile";
const PASSWORD: &str = "goodPassword!123";

fn config(server: &MockServer) -> ApiConfig {
    let base = server.uri();
    let oauth = |prefix: &str| OAuthProvider {
        client_id: format!("{prefix}-client"),
        client_secret: Secret::new(format!("{prefix}-client-secret")),
        auth_url: format!("{base}/{prefix}/authorize"),
        token_url: format!("{base}/{prefix}/token"),
        api_url: base.clone(),
    };
    ApiConfig {
        external: ExternalConfig {
            spotify: Some(oauth("spotify")),
            gbooks: Some(oauth("google")),
            tmdb: Some(TmdbProvider {
                api_key: Secret::new("tmdb-key"),
                api_url: base.clone(),
                auth_url: format!("{base}/tmdb-site"),
            }),
            provider_timeout: Duration::from_secs(5),
            ..ExternalConfig::default()
        },
        ..test_config()
    }
}

async fn configured(app: TestApp) -> (TestApp, MockServer) {
    let server = MockServer::start().await;
    let app = app.respawn(config(&server), None).await;
    (app, server)
}

async fn user_id(app: &TestApp, uuid: &str) -> i64 {
    app.scalar_i64(&format!(
        "SELECT user_id FROM \"user\" WHERE uuid = '{uuid}'"
    ))
    .await
}

async fn text(db: &Db, sql: &str) -> Option<String> {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match db {
        Db::Sqlite(pool) => sqlx::query_as::<_, (Option<String>,)>(sql)
            .fetch_optional(pool)
            .await
            .unwrap()
            .and_then(|r| r.0),
        Db::Postgres(pool) => sqlx::query_as::<_, (Option<String>,)>(sql)
            .fetch_optional(pool)
            .await
            .unwrap()
            .and_then(|r| r.0),
    }
}

async fn finished_imports(app: &TestApp, user: i64, service: &str) -> i64 {
    app.scalar_i64(&format!(
        "SELECT COUNT(*) FROM external_import WHERE user_id = {user} AND service_name = '{service}' AND finished_at IS NOT NULL"
    ))
    .await
}

/// Waits until `n` imports of the service have finished; returns the last outcome.
async fn wait_imports(app: &TestApp, user: i64, service: &str, n: i64) -> String {
    for _ in 0..200 {
        if finished_imports(app, user, service).await >= n {
            return text(
                &app.db,
                &format!(
                    "SELECT outcome FROM external_import WHERE user_id = {user} AND service_name = '{service}' \
                     ORDER BY import_id DESC LIMIT 1"
                ),
            )
            .await
            .unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{service} import {n} of user {user} did not finish");
}

/// Logs in (which queues the imports) until import number `n` has finished.
async fn reimport(app: &TestApp, email: &str, user: i64, service: &str, n: i64) -> String {
    for _ in 0..20 {
        app.login(email, PASSWORD).await;
        for _ in 0..20 {
            if finished_imports(app, user, service).await >= n {
                return wait_imports(app, user, service, n).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("no re-import");
}

/// (content rows, interactions of the user, events)
async fn counts(app: &TestApp, user: i64) -> (i64, i64, i64) {
    (
        app.scalar_i64("SELECT COUNT(*) FROM content").await,
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM meta_user_content WHERE user_id = {user}"
        ))
        .await,
        app.scalar_i64("SELECT COUNT(*) FROM event").await,
    )
}

fn query_of(url: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    query_of(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Posts `body` to the OAuth callback of `service` as the holder of `token`.
async fn callback(app: &TestApp, service: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let path = format!("/api/external/{service}/callback");
    app.post(&path, Some(token), body).await
}

/// Asserts the answer to a state (or request token) the caller does not own.
fn assert_csrf_invalid(status: StatusCode, body: &Value, case: &str) {
    assert_eq!(
        (status, body["message"].clone()),
        (StatusCode::NOT_FOUND, json!("CSRF invalid!")),
        "{case}: {body}"
    );
}

/// Asks for a Spotify authorization URL as the holder of `token`; its state.
async fn spotify_state(app: &TestApp, token: &str) -> String {
    let (_, body) = app.get("/api/external/spotify", token).await;
    param(body["spotify_url"].as_str().unwrap(), "state").unwrap()
}

fn track(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "artists": [{"name": "A"}, {"name": "B"}],
        "album": {"name": "Album", "release_date": "1999-05-01", "images": [{"url": "https://img.test/c.png"}]}})
}

/// Mounts Spotify's token endpoint and two pages of saved tracks plus one
/// of recently played.
async fn mount_spotify(server: &MockServer) {
    let tokens = json!({"access_token": "spotify-access-SECRET", "refresh_token": "spotify-refresh-SECRET",
        "token_type": "Bearer", "expires_in": 3600});
    Mock::given(method("POST"))
        .and(path("/spotify/token"))
        .and(basic_auth("spotify-client", "spotify-client-secret"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=good-code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&tokens))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/spotify/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=spotify-refresh-SECRET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "spotify-access-2", "token_type": "Bearer", "expires_in": 3600}),
        ))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/spotify/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .with_priority(10)
        .mount(server)
        .await;
    let next = format!("{}/v1/me/tracks?limit=50&offset=2", server.uri());
    Mock::given(method("GET"))
        .and(path("/v1/me/tracks"))
        .and(bearer_token("spotify-access-2"))
        .and(query_param_is_missing("offset"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [{"added_at": "2024-01-01T00:00:00Z", "track": track("sp-new", "Brand New")},
                      {"added_at": "2024-01-01T00:00:00Z", "track": track("sp-known", "Whatever")}],
            "next": next})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/me/tracks"))
        .and(query_param("offset", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [{"added_at": "2024-01-01T00:00:00Z", "track": track("sp-other", "  known   TITLE ")}],
            "next": null})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/me/player/recently-played"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [{"played_at": "2024-03-04T05:06:07.000Z", "track": track("sp-new", "Brand New")}],
            "next": null})))
        .mount(server)
        .await;
}

db_test!(spotify_link_import_reimport_and_unlink, |app| {
    let (app, server) = configured(app).await;
    mount_spotify(&server).await;
    // Two catalogue tracks: one known by its Spotify id, one by its title.
    app.sql("INSERT INTO content (content_id, rating, rating_count, popularity_score, content_type) VALUES (900, NULL, 0, 0, 'TRACK')").await;
    app.sql(
        "INSERT INTO track (content_id, title, spotify_id) VALUES (900, 'Known by id', 'sp-known')",
    )
    .await;
    app.sql("INSERT INTO content (content_id, rating, rating_count, popularity_score, content_type) VALUES (901, NULL, 0, 0, 'TRACK')").await;
    app.sql("INSERT INTO track (content_id, title) VALUES (901, 'Known Title')")
        .await;
    let (token, uuid) = app.register("spot").await;
    let user = user_id(&app, &uuid).await;

    let (status, body) = app.get("/api/external/spotify", &token).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["message"], "Spotify oauth url sent");
    let url = body["spotify_url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/spotify/authorize?", server.uri())),
        "{url}"
    );
    assert_eq!(param(&url, "client_id").as_deref(), Some("spotify-client"));
    assert_eq!(param(&url, "redirect_uri").as_deref(), Some(REDIRECT));
    assert_eq!(param(&url, "response_type").as_deref(), Some("code"));
    assert!(
        param(&url, "scope")
            .unwrap()
            .contains("user-read-recently-played")
    );
    let state = param(&url, "state").unwrap();
    assert!(
        state.len() >= 32 && !state.contains('.'),
        "the state is a nonce, not a token"
    );

    let before = counts(&app, user).await;
    let redeem = || {
        let body = json!({"code": "good-code", "state": state});
        callback(&app, "spotify", &token, body)
    };
    let (status, body) = redeem().await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body,
        json!({"status": true, "message": "Spotify tokens stored"})
    );
    assert_eq!(wait_imports(&app, user, "Spotify", 1).await, "ok");

    // One new track; the two known ones matched by id and by title.
    let after = counts(&app, user).await;
    assert_eq!(after.0, before.0 + 1);
    assert_eq!(after.1, 3);
    let new_id = app
        .scalar_i64("SELECT content_id FROM track WHERE spotify_id = 'sp-new'")
        .await;
    assert_eq!(
        text(
            &app.db,
            &format!("SELECT artist_name FROM track WHERE content_id = {new_id}")
        )
        .await
        .as_deref(),
        Some("A & B")
    );
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT year FROM track WHERE content_id = {new_id}"
        ))
        .await,
        1999
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM track WHERE spotify_id = 'sp-other'")
            .await,
        0
    );
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM meta_user_content WHERE user_id = {user} AND content_id IN (900, 901, {new_id}) AND count = 1"
        ))
        .await,
        3
    );
    let played = text(&app.db, &format!(
        "SELECT CAST(last_count_increment AS TEXT) FROM meta_user_content WHERE user_id = {user} AND content_id = {new_id}"
    ))
    .await
    .unwrap();
    assert!(played.starts_with("2024-03-04"), "{played}");
    // Tracks only saved were never played here: no play date (§11.5).
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM meta_user_content WHERE user_id = {user} \
             AND content_id IN (900, 901) AND last_count_increment IS NULL"
        ))
        .await,
        2
    );
    assert_eq!(app.scalar_i64(&format!(
        "SELECT COUNT(*) FROM event WHERE kind = 'added' AND model_name = 'track' AND object_id = {new_id}"
    )).await, 1);
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM event WHERE kind = 'meta_added' AND occured_by = {user}"
        ))
        .await,
        3
    );

    // The grant is stored encrypted and never shown.
    let stored = text(&app.db, &format!(
        "SELECT access_token || ' ' || refresh_token FROM external_service WHERE user_id = {user}"
    ))
    .await
    .unwrap();
    assert!(
        stored.starts_with("v1.")
            && !stored.contains("SECRET")
            && !stored.contains("spotify-access"),
        "{stored}"
    );
    let (status, body) = app.get("/api/external/spotify", &token).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        body,
        json!({"status": true, "message": "Spotify is already linked", "spotify_url": "linked"})
    );
    let (status, export) = app.get("/api/user/export", &token).await;
    assert_eq!(status, StatusCode::OK, "{export}");
    let export = export.to_string();
    assert!(
        export.contains("Spotify") && !export.contains("SECRET") && !export.contains("v1."),
        "{export}"
    );

    // The state was single use.
    let (status, body) = redeem().await;
    assert_csrf_invalid(status, &body, "the state again");

    // A login imports again, and adds nothing.
    let settled = counts(&app, user).await;
    assert_eq!(
        reimport(&app, "spot@example.com", user, "Spotify", 2).await,
        "ok"
    );
    assert_eq!(counts(&app, user).await, settled);

    // Unlink; a second unlink finds nothing.
    let (status, _) = app.delete("/api/external/spotify", &token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.delete("/api/external/spotify", &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body);
    let (_, body) = app.get("/api/external/spotify", &token).await;
    assert_ne!(body["spotify_url"], "linked");
    assert_eq!(counts(&app, user).await, settled, "what was imported stays");
});

db_test!(
    callback_states_are_single_use_and_bound_to_their_user,
    |app| {
        let (app, server) = configured(app).await;
        mount_spotify(&server).await;
        let (alice, _) = app.register("alice").await;
        let (mallory, _) = app.register("mallory").await;
        let state = spotify_state(&app, &alice).await;

        // Missing data, cancellation, forged and foreign states.
        for (body, field) in [
            (json!({}), "state"),
            (json!({"state": state}), "code"),
            (json!({"code": "x"}), "state"),
        ] {
            let (status, answer) = callback(&app, "spotify", &alice, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            assert!(
                answer["errors"]
                    .to_string()
                    .contains(&format!("{field}: Missing data for required field.")),
                "{answer}"
            );
        }
        let (status, answer) = callback(&app, "spotify", &alice, json!("text")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        let (status, answer) = callback(
            &app,
            "spotify",
            &alice,
            json!({"error": "access_denied", "state": state}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            answer,
            json!({"status": false, "message": "Spotify oauth canceled"})
        );
        let cases = [
            ("forged", &alice, "forged"),
            ("foreign", &mallory, state.as_str()),
        ];
        for (case, token, given) in cases {
            let body = json!({"code": "good-code", "state": given});
            let (status, answer) = callback(&app, "spotify", token, body).await;
            assert_csrf_invalid(status, &answer, case);
        }
        // A Spotify state is not a Google Books state.
        let (status, _) = callback(
            &app,
            "gbooks",
            &alice,
            json!({"code": "good-code", "state": state}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The owner's state still works once; a refused code is a 400.
        let (status, answer) = callback(
            &app,
            "spotify",
            &alice,
            json!({"code": "bad-code", "state": state}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        let state = spotify_state(&app, &alice).await;
        let (status, answer) = callback(
            &app,
            "spotify",
            &alice,
            json!({"code": "good-code", "state": state}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(
            app.scalar_i64("SELECT COUNT(*) FROM external_service")
                .await,
            1
        );
    }
);

db_test!(unconfigured_providers_answer_404, |app| {
    let (token, _) = app.register("plain").await;
    for service in ["spotify", "tmdb", "gbooks"] {
        let (status, body) = app.get(&format!("/api/external/{service}"), &token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_error(&body);
    }
    let (status, body) = callback(
        &app,
        "tmdb",
        &token,
        json!({"request_token": "x", "approved": "true"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = callback(&app, "tmdb", &token, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = callback(&app, "tmdb", &token, json!({"denied": "true"})).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"status": false, "message": "Authorization denied"})
        )
    );
    let (status, _) = app.delete("/api/external/myspace", &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .call(Method::GET, "/api/external/spotify", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
});

fn movie(id: i64, title: &str, rating: f64) -> Value {
    json!({"id": id, "title": title, "original_language": "en", "release_date": "2001-02-03",
        "vote_average": 8.0, "vote_count": 9, "poster_path": "/p.jpg", "rating": rating})
}

/// Mounts TMDB's request-token and session endpoints.
async fn mount_tmdb_link(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/3/authentication/token/new"))
        .and(query_param("api_key", "tmdb-key"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "request_token": "req-token-1"})),
        )
        .up_to_n_times(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/3/authentication/session/new"))
        .and(body_string_contains("request_token=req-token-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "session_id": "tmdb-session-SECRET"})),
        )
        .mount(server)
        .await;
}

async fn mount_tmdb_account(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/3/account"))
        .and(query_param("session_id", "tmdb-session-SECRET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 42, "username": "u"})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/3/account/42/rated/tv"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"page": 1, "total_pages": 1, "results": [
            {"id": 7, "name": "A Serie", "original_name": "A Serie", "first_air_date": "2010-01-01",
             "vote_average": 6.0, "vote_count": 3, "poster_path": "/s.jpg", "rating": 10.0}]}),
        ))
        .mount(server)
        .await;
}

/// Answers page `page` of the TMDB user's rated movies with `answer`.
async fn mount_rated_page(server: &MockServer, page: u32, answer: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/3/account/42/rated/movies"))
        .and(query_param("page", page.to_string()))
        .respond_with(answer)
        .mount(server)
        .await;
}

/// Page `page` of `total` rated movies, holding one movie.
fn rated_page(page: u32, total: u32, movie: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"page": page, "total_pages": total, "results": [movie]}))
}

/// Posts the approval of request token `req-token-1` as the holder of `token`.
async fn approve_tmdb(app: &TestApp, token: &str) -> (StatusCode, Value) {
    let body = json!({"request_token": "req-token-1", "approved": "true"});
    callback(app, "tmdb", token, body).await
}

/// Links TMDB for the caller through the request-token flow.
async fn link_tmdb(app: &TestApp, token: &str) {
    let (status, body) = app.get("/api/external/tmdb", token).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = approve_tmdb(app, token).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body,
        json!({"status": true, "message": "TMDB token stored"})
    );
}

db_test!(tmdb_link_is_user_bound_and_imports_every_page, |app| {
    let (app, server) = configured(app).await;
    mount_tmdb_link(&server).await;
    mount_tmdb_account(&server).await;
    mount_rated_page(&server, 1, rated_page(1, 2, movie(11, "First", 8.0))).await;
    mount_rated_page(&server, 2, rated_page(2, 2, movie(12, "Second", 3.0))).await;
    let (token, uuid) = app.register("cinephile").await;
    let (other, _) = app.register("other").await;
    let user = user_id(&app, &uuid).await;

    let (status, body) = app.get("/api/external/tmdb", &token).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = body["tmdb_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/tmdb-site/authenticate/req-token-1?",
            server.uri()
        )),
        "{url}"
    );
    assert_eq!(param(url, "redirect_to").as_deref(), Some(REDIRECT));
    // Someone else cannot use that request token.
    let (status, body) = approve_tmdb(&app, &other).await;
    assert_csrf_invalid(status, &body, "another user's request token");
    let (status, _) = approve_tmdb(&app, &token).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(wait_imports(&app, user, "TMDB", 1).await, "ok");

    let first = app
        .scalar_i64("SELECT content_id FROM movie WHERE tmdbid = '11'")
        .await;
    let second = app
        .scalar_i64("SELECT content_id FROM movie WHERE tmdbid = '12'")
        .await;
    let serie = app
        .scalar_i64("SELECT content_id FROM serie WHERE title = 'A Serie' AND start_year = 2010")
        .await;
    let rating = |id: i64| {
        format!("SELECT rating FROM meta_user_content WHERE user_id = {user} AND content_id = {id}")
    };
    assert_eq!(app.scalar_i64(&rating(first)).await, 4);
    assert_eq!(app.scalar_i64(&rating(second)).await, 2);
    assert_eq!(app.scalar_i64(&rating(serie)).await, 5);
    // Each imported movie and serie counts as seen once (§11.5 step 7).
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM meta_user_content WHERE user_id = {user} \
             AND review_see_count = 1 AND last_review_see_date IS NOT NULL"
        ))
        .await,
        3
    );
    // The item's average: TMDB's 9 votes of 4.0, then the user's 4 (same SQL as E9).
    let average = app
        .scalar_f64(&format!(
            "SELECT rating FROM content WHERE content_id = {second}"
        ))
        .await
        .unwrap();
    assert!(
        (average - (4.0 * 9.0 + 2.0) / 10.0).abs() < 1e-9,
        "{average}"
    );
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT rating_count FROM content WHERE content_id = {second}"
        ))
        .await,
        10
    );
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM event WHERE kind = 'added' AND model_name IN ('movie', 'serie')"
        )
        .await,
        3
    );

    let settled = counts(&app, user).await;
    assert_eq!(
        reimport(&app, "cinephile@example.com", user, "TMDB", 2).await,
        "ok"
    );
    assert_eq!(counts(&app, user).await, settled);
    let stored = text(
        &app.db,
        "SELECT access_token FROM external_service WHERE service_name = 'TMDB'",
    )
    .await
    .unwrap();
    assert!(!stored.contains("SECRET"), "{stored}");
});

db_test!(revoked_grant_removes_the_link, |app| {
    let (app, server) = configured(app).await;
    mount_tmdb_link(&server).await;
    Mock::given(method("GET"))
        .and(path("/3/account"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"success": false, "status_code": 3, "status_message": "Authentication failed"}),
        ))
        .mount(&server)
        .await;
    let (token, uuid) = app.register("revoked").await;
    let user = user_id(&app, &uuid).await;
    link_tmdb(&app, &token).await;
    assert_eq!(wait_imports(&app, user, "TMDB", 1).await, "revoked");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM external_service")
            .await,
        0
    );
    let (_, body) = app.get("/api/external/tmdb", &token).await;
    assert_ne!(body["tmdb_url"], "linked");
});

// An OAuth provider that refuses the stored refresh token (`invalid_grant`)
// has revoked the grant: the import ends `revoked` and the link goes.
db_test!(a_refused_refresh_token_removes_the_link, |app| {
    let (app, server) = configured(app).await;
    let tokens = json!({"access_token": "spotify-access-SECRET", "refresh_token": "spotify-refresh-STALE",
        "token_type": "Bearer", "expires_in": 3600});
    Mock::given(method("POST"))
        .and(path("/spotify/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tokens))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/spotify/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=spotify-refresh-STALE"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(&server)
        .await;
    let (token, uuid) = app.register("stale").await;
    let user = user_id(&app, &uuid).await;
    let state = spotify_state(&app, &token).await;
    let body = json!({"code": "good-code", "state": state});
    let (status, answer) = callback(&app, "spotify", &token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(wait_imports(&app, user, "Spotify", 1).await, "revoked");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM external_service")
            .await,
        0
    );
});

db_test!(rate_limited_reads_wait_and_retry, |app| {
    let (app, server) = configured(app).await;
    mount_tmdb_link(&server).await;
    Mock::given(method("GET"))
        .and(path("/3/account"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_tmdb_account(&server).await;
    mount_rated_page(&server, 1, rated_page(1, 1, movie(11, "First", 8.0))).await;
    let (token, uuid) = app.register("patient").await;
    let user = user_id(&app, &uuid).await;
    link_tmdb(&app, &token).await;
    assert_eq!(wait_imports(&app, user, "TMDB", 1).await, "ok");
    assert_eq!(counts(&app, user).await.1, 2);
    let account_calls = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/3/account")
        .count();
    assert_eq!(account_calls, 2);
});

db_test!(malformed_answer_leaves_the_database_unchanged, |app| {
    let (app, server) = configured(app).await;
    mount_tmdb_link(&server).await;
    mount_tmdb_account(&server).await;
    mount_rated_page(&server, 1, rated_page(1, 2, movie(11, "First", 8.0))).await;
    let torn = ResponseTemplate::new(200).set_body_string("{\"page\": 2, \"results\": [tru");
    mount_rated_page(&server, 2, torn).await;
    let (token, uuid) = app.register("broken").await;
    let user = user_id(&app, &uuid).await;
    let before = counts(&app, user).await;
    link_tmdb(&app, &token).await;
    let outcome = wait_imports(&app, user, "TMDB", 1).await;
    assert!(outcome.starts_with("error: malformed"), "{outcome}");
    assert!(
        !outcome.contains("tmdb-key") && !outcome.contains("SECRET"),
        "{outcome}"
    );
    assert_eq!(counts(&app, user).await, before);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM external_service")
            .await,
        1,
        "the link stays"
    );
});

db_test!(gbooks_link_and_bookshelf_import, |app| {
    let (app, server) = configured(app).await;
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("client_secret=google-client-secret"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"access_token": "g-access-SECRET",
            "refresh_token": "g-refresh-SECRET", "token_type": "Bearer", "expires_in": 3600})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "g-access-2", "token_type": "Bearer"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/books/v1/mylibrary/bookshelves"))
        .and(bearer_token("g-access-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [
            {"id": 2, "title": "To read", "volumeCount": 5},
            {"id": 3, "title": "Empty", "volumeCount": 0},
            {"id": 4, "title": "Reviewed", "volumeCount": 2}]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/books/v1/mylibrary/bookshelves/2/volumes"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let volume = |isbn: &str, title: &str, rating: &str| {
        json!({"volumeInfo": {"title": title, "authors": ["Writer", "Other"], "publisher": "Pub",
            "publishedDate": "1987-06", "industryIdentifiers": [{"type": "ISBN_10", "identifier": "1"}, {"type": "ISBN_13", "identifier": isbn}],
            "imageLinks": {"thumbnail": "https://img.test/t.png"}, "averageRating": 4.0, "ratingsCount": 3},
            "userInfo": {"review": {"rating": rating}}})
    };
    Mock::given(method("GET"))
        .and(path("/books/v1/mylibrary/bookshelves/4/volumes"))
        .and(query_param("startIndex", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"totalItems": 2, "items": [volume("9780000000001", "One", "FOUR")]}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/books/v1/mylibrary/bookshelves/4/volumes"))
        .and(query_param("startIndex", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"totalItems": 2, "items": [volume("9780000000002", "Two", "NOT_RATED")]}),
        ))
        .mount(&server)
        .await;
    let (token, uuid) = app.register("reader").await;
    let user = user_id(&app, &uuid).await;
    let (status, body) = app.get("/api/external/gbooks", &token).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = body["gbooks_url"].as_str().unwrap();
    assert_eq!(param(url, "access_type").as_deref(), Some("offline"));
    assert_eq!(param(url, "redirect_uri").as_deref(), Some(REDIRECT));
    assert_eq!(param(url, "client_id").as_deref(), Some("google-client"));
    let state = param(url, "state").unwrap();
    let (status, body) = callback(&app, "gbooks", &token, json!({"code": "c"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = callback(
        &app,
        "gbooks",
        &token,
        json!({"state": state, "code": "c", "scope": "https://www.googleapis.com/auth/books"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["message"], "GBooks token stored");
    assert_eq!(wait_imports(&app, user, "GBooks", 1).await, "ok");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM book").await, 2);
    assert_eq!(
        app.scalar_i64("SELECT year_of_publication FROM book WHERE isbn = '9780000000001'")
            .await,
        1987
    );
    let one = app
        .scalar_i64("SELECT content_id FROM book WHERE isbn = '9780000000001'")
        .await;
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT rating FROM meta_user_content WHERE user_id = {user} AND content_id = {one}"
        ))
        .await,
        4
    );
    assert_eq!(counts(&app, user).await.1, 2);
    let (status, body) = app.get("/api/external/gbooks", &token).await;
    assert_eq!(
        (status, body["gbooks_url"].clone()),
        (StatusCode::CREATED, json!("linked"))
    );
});

// The callbacks' documents state their rule (a refusal, or the fields of a
// grant) as `anyOf`, and it is the enforced one: a body that matches a case
// is never refused as invalid (an unknown state is a 404, a refusal a 200),
// and a body that matches none is a 400.
db_test!(
    callback_bodies_are_refused_only_outside_their_documented_cases,
    |app| {
        let (app, _server) = configured(app).await;
        let (token, _) = app.register("alice").await;
        let document = app.document().await;
        let cases = [
            (
                "spotify",
                "SpotifyCallbackBody",
                vec![
                    json!({"error": "access_denied"}),
                    json!({"state": "s", "code": "c"}),
                ],
                vec![
                    json!({}),
                    json!({"state": "s"}),
                    json!({"state": "", "code": "c"}),
                    json!({"scope": "x"}),
                ],
            ),
            (
                "gbooks",
                "GoogleCallbackBody",
                vec![
                    json!({"error": "access_denied", "state": "s"}),
                    json!({"state": "s", "code": "c"}),
                ],
                vec![
                    json!({"error": "access_denied"}),
                    json!({"code": "c"}),
                    json!({"state": "s", "code": ""}),
                ],
            ),
            (
                "tmdb",
                "TmdbCallbackBody",
                vec![
                    json!({"denied": "true"}),
                    json!({"request_token": "t", "approved": "true"}),
                ],
                vec![
                    json!({}),
                    json!({"denied": null}),
                    json!({"request_token": ""}),
                    json!({"approved": "true"}),
                ],
            ),
        ];
        for (service, schema, matching, matching_none) in cases {
            let any_of = &document["components"]["schemas"][schema]["anyOf"];
            assert_eq!(
                any_of.as_array().map(Vec::len),
                Some(2),
                "{schema}: {any_of}"
            );
            let path = format!("/api/external/{service}/callback");
            for body in matching {
                let (status, answer) = app.post(&path, Some(&token), body.clone()).await;
                assert!(
                    [StatusCode::OK, StatusCode::NOT_FOUND].contains(&status),
                    "{path} {body}: {status} {answer}"
                );
            }
            for body in matching_none {
                let (status, answer) = app.post(&path, Some(&token), body.clone()).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
            }
        }
    }
);

/// A track as Spotify's import brings it, rated by the user.
fn imported_track(n: usize) -> recofinement_store::external::ImportItem {
    let id = format!("race-track-{n}");
    let mut fields = serde_json::Map::new();
    fields.insert("title".into(), json!(format!("Race track {n}")));
    fields.insert("spotify_id".into(), json!(id));
    recofinement_store::external::ImportItem {
        kind: recofinement_domain::ContentKind::Track,
        keys: vec![("spotify_id", id)],
        title: format!("Race track {n}"),
        title_with: None,
        fields,
        rating: None,
        rating_count: None,
        user_rating: Some(4),
        consumed_at: None,
        seen: false,
    }
}

// Users import the same new tracks at the same time (each instance runs
// two import workers): each track is created once, and every import lands.
db_test!(
    simultaneous_imports_of_the_same_new_items_create_each_once,
    |app| {
        let tracks: Vec<_> = (0..20).map(imported_track).collect();
        let mut users = Vec::new();
        for i in 0..6 {
            let (_, uuid) = app.register(&format!("importer{i}")).await;
            users.push(user_id(&app, &uuid).await);
        }
        let imports = users
            .iter()
            .map(|&user| app.db.import_library(user, &tracks));
        for report in futures::future::join_all(imports).await {
            report.expect("every import lands");
        }
        let created = app
            .scalar_i64("SELECT COUNT(*) FROM track WHERE spotify_id LIKE 'race-track-%'")
            .await;
        assert_eq!(created, 20, "one row per track");
        let rated = app
            .scalar_i64("SELECT COUNT(*) FROM meta_user_content WHERE rating = 4")
            .await;
        assert_eq!(rated, 6 * 20);
    }
);

// Each link request stores an OAuth state (TMDB's also calls the provider
// with the installation's key): counted per user, 429 past the limit.
db_test!(link_requests_are_counted_per_user, |app| {
    let server = MockServer::start().await;
    let config = ApiConfig {
        link_requests_per_user: 3,
        ..config(&server)
    };
    let app = app.respawn(config, None).await;
    let (alice, _) = app.register("alice").await;
    for service in ["spotify", "gbooks", "spotify"] {
        let (status, body) = app.get(&format!("/api/external/{service}"), &alice).await;
        assert_eq!(status, StatusCode::CREATED, "{service}: {body}");
    }
    let (status, body) = app.get("/api/external/tmdb", &alice).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["status"], false);
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "TMDB was not asked"
    );
    let (bobby, _) = app.register("bobby").await;
    let (status, _) = app.get("/api/external/gbooks", &bobby).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "another user has a count of their own"
    );
});
