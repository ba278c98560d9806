//! Read your own writes: a list or search answer asked for after a change
//! committed shows it, with the shared-list cache on (the default), on the
//! instance that made the change and on another one on the same database.

use serde_json::{Value, json};

use crate::db_test;
use crate::support::{ServerOptions, TestServer};

/// The first item of a page whose title is `title`.
fn item<'a>(page: &'a Value, title: &str) -> &'a Value {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == title)
        .unwrap_or_else(|| panic!("{title} not in {page}"))
}

async fn rate(server: &TestServer, token: &str, item: i64, rating: i64) {
    let (status, body) = server
        .patch(
            &format!("/api/movie/{item}/meta"),
            token,
            json!({"rating": rating}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// A new movie `title` (found by searching `term`) and an account that
/// has read it, unrated, in the search and the first popular page, so both
/// are cached: (the movie's id, the account's token and uuid).
async fn cached_unrated_movie(
    server: &TestServer,
    title: &str,
    term: &str,
) -> (i64, String, String) {
    let (admin, _) = server.register_admin("admin").await;
    let body = json!({"title": title, "genres": []});
    let movie = server.add_item(&admin, "movie", body).await;
    let (user, uuid) = server.register("viewer").await;
    for path in [
        format!("/api/movie/search/{term}"),
        "/api/movie?page=1".into(),
    ] {
        let (_, before) = server.get(&path, &user).await;
        assert_eq!(item(&before, title)["rating_count"], 0, "{path}: {before}");
    }
    (movie, user, uuid)
}

/// Both lists of [`cached_unrated_movie`] show `title` with one rating of `rating`.
async fn shows_one_rating(server: &TestServer, user: &str, title: &str, term: &str, rating: f64) {
    for path in [
        format!("/api/movie/search/{term}"),
        "/api/movie?page=1".into(),
    ] {
        let (_, after) = server.get(&path, user).await;
        let shown = item(&after, title);
        assert_eq!(shown["rating_count"], 1, "{path}: {after}");
        assert_eq!(shown["rating"], rating, "{path}: {after}");
    }
}

db_test!(a_rating_shows_at_once_in_search_and_popular_lists, |app| {
    let (movie, user, _) = cached_unrated_movie(&app, "Fresh Figures", "fresh").await;
    rate(&app, &user, movie, 4).await;
    shows_one_rating(&app, &user, "Fresh Figures", "fresh", 4.0).await;
    // Another instance on the same database, which cached the page too.
    let other = TestServer::start(app.db.clone(), ServerOptions::default()).await;
    let (_, cached) = other.get("/api/movie/search/fresh", &user).await;
    assert_eq!(item(&cached, "Fresh Figures")["rating"], 4.0);
    let (second, _) = app.register("second").await;
    rate(&app, &second, movie, 2).await;
    // The notice travels through the database (PostgreSQL) or the process.
    let mut shown = Value::Null;
    for _ in 0..50 {
        let (_, page) = other.get("/api/movie/search/fresh", &user).await;
        shown = item(&page, "Fresh Figures").clone();
        if shown["rating_count"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(shown["rating_count"], 2, "{shown}");
    assert_eq!(shown["rating"], 3.0, "{shown}");
});

db_test!(accepted_content_shows_at_once_in_cached_lists, |app| {
    let (admin, _) = app.register_admin("admin").await;
    let (_, empty) = app.get("/api/movie/search/newcomer", &admin).await;
    assert_eq!(empty["content"], json!([]), "{empty}");
    app.add_item(&admin, "movie", json!({"title": "Newcomer", "genres": []}))
        .await;
    let (_, found) = app.get("/api/movie/search/newcomer", &admin).await;
    assert_eq!(item(&found, "Newcomer")["title"], "Newcomer");
});

// The instance that made a change drops what it shows itself, before it
// answers, not when the database's notice comes back to it: with notices
// never applied, the rater still reads its rating, and other changes of
// cached answers (an account renamed) likewise.
db_test!(a_writer_drops_its_own_cached_answers_unaided, |app| {
    let options = ServerOptions {
        deaf_to_notices: true,
        ..ServerOptions::default()
    };
    let deaf = TestServer::start(app.db.clone(), options).await;
    let (movie, user, uuid) = cached_unrated_movie(&deaf, "Own Figures", "own").await;
    rate(&deaf, &user, movie, 5).await;
    shows_one_rating(&deaf, &user, "Own Figures", "own", 5.0).await;
    let account = format!("/api/user/{uuid}");
    let (_, before) = deaf.get(&account, &user).await;
    assert_eq!(before["user"]["username"], "viewer", "{before}");
    let (status, body) = deaf
        .patch(&account, &user, json!({"username": "renamed"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, after) = deaf.get(&account, &user).await;
    assert_eq!(after["user"]["username"], "renamed", "{after}");
});
