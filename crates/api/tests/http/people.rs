//! Onboarding, user search, liked genres, export (spec §7 U4–U9) and the
//! cold-start recommendations.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::db_test;
use crate::support::TestApp;

db_test!(users_like_and_unlike_genres_idempotently, |app| {
    let (token, _) = app.register("alice").await;
    app.genre(3, "Rock", "TRACK", 120).await;
    for _ in 0..2 {
        let (status, body) = app.put("/api/user/genre/3", &token).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app.get("/api/user/genre", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "User liked genre sent");
    assert_eq!(
        body["content"],
        json!([{"genre_id": 3, "name": "Rock", "count": 120}])
    );
    let (status, body) = app.put("/api/user/genre/99", &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Genre not found!");
    let (status, _) = app.delete("/api/user/genre/3", &token).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app.delete("/api/user/genre/3", &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "You didn't like this genre");
    assert_eq!(
        app.put("/api/user/genre/abc", &token).await.0,
        StatusCode::NOT_FOUND
    );
});

db_test!(onboarding_sets_the_flag, |app| {
    let (token, uuid) = app.register("alice").await;
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/user/preferences_defined",
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, body) = app.get(&format!("/api/user/{uuid}"), &token).await;
    assert_eq!(body["user"]["preferences_defined"], true);
});

db_test!(user_search_is_literal_and_hides_emails_of_others, |app| {
    let (alice, _) = app.register("alice").await;
    app.register("alicia").await;
    app.register("bob_a").await;
    app.db
        .create_user("anon@example.com", "alice_anon", "no_pwd", "user")
        .await
        .unwrap();
    let (status, body) = app.get("/api/user/search/ALI", &alice).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "alicia"], "dataset accounts are left out");
    let envelope = ["message", "number_of_elements", "page", "total_pages"].map(|k| &body[k]);
    assert_eq!(
        envelope,
        [&json!("User data sent"), &json!(2), &json!(1), &json!(1)]
    );
    assert_eq!(body["content"][0]["email"], "alice@example.com");
    assert_eq!(body["content"][1]["email"], Value::Null);
    let (_, body) = app.get("/api/user/search/b_a", &alice).await;
    assert_eq!(body["content"].as_array().unwrap().len(), 1);
    let (_, body) = app.get("/api/user/search/%25", &alice).await;
    assert_eq!(body["content"], json!([]), "% is not a wildcard");
});

/// Rates `track` as the holder of `token` (the answer is not checked).
async fn rate(app: &TestApp, token: &str, track: i64, rating: i64) {
    app.patch(
        &format!("/api/track/{track}/meta"),
        token,
        json!({"rating": rating}),
    )
    .await;
}

db_test!(export_holds_everything_that_is_the_users, |app| {
    let (admin, _) = app.register_admin("admin").await;
    let (token, _) = app.register("alice").await;
    app.genre(3, "Rock", "TRACK", 120).await;
    app.put("/api/user/genre/3", &token).await;
    let track = app
        .add_item(&admin, "track", json!({"title": "Song", "genres": [3]}))
        .await;
    rate(&app, &token, track, 4).await;
    app.post(
        &format!("/api/track/{track}/bad_recommendation"),
        Some(&token),
        json!({"year": ["1999"]}),
    )
    .await;
    app.post("/api/group", Some(&token), json!({"name": "friends"}))
        .await;
    app.sql(
        "INSERT INTO external_service (user_id, service_name, access_token, refresh_token) \
         SELECT user_id, 'Spotify', 'secret-access', 'secret-refresh' FROM \"user\" WHERE username = 'alice'",
    )
    .await;
    let (status, body) = app.get("/api/user/export", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "User data exported");
    let user = &body["user"];
    assert_eq!(user["username"], "alice");
    assert_eq!(user["roles"], json!(["user"]));
    assert_eq!(user["liked_genres"][0]["name"], "Rock");
    assert_eq!(user["meta_user_content"][0]["content_id"], track);
    assert_eq!(user["meta_user_content"][0]["rating"], 4);
    let rated_at = user["meta_user_content"][0]["last_rating_date"]
        .as_str()
        .expect("the rating's time");
    assert!(
        chrono::NaiveDateTime::parse_from_str(rated_at, "%Y-%m-%dT%H:%M:%S%.f").is_ok(),
        "ISO 8601 without offset: {rated_at}"
    );
    assert_eq!(user["bad_recommendations"][0]["reason"], "1999");
    assert_eq!(user["owned_groups"][0]["name"], "friends");
    assert_eq!(
        user["linked_services"],
        json!([{"service_id": 1, "service_name": "Spotify"}])
    );
    assert!(
        !body.to_string().contains("secret-"),
        "no provider token leaks"
    );
});

db_test!(deleting_a_user_removes_everything_that_is_theirs, |app| {
    let (admin, _) = app.register_admin("admin").await;
    let (token, uuid) = app.register("alice").await;
    let track = app
        .add_item(&admin, "track", json!({"title": "Song", "genres": []}))
        .await;
    rate(&app, &token, track, 4).await;
    app.post("/api/group", Some(&token), json!({"name": "friends"}))
        .await;
    let (status, _) = app.delete(&format!("/api/user/{uuid}"), &token).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM meta_user_content")
            .await,
        0
    );
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM \"group\"").await, 0);
    // The item's average keeps its history; the catalogue is not the user's.
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM content WHERE content_type = 'TRACK'")
            .await,
        1
    );
});

db_test!(new_users_get_popular_items_of_their_genres, |app| {
    let (admin, _) = app.register_admin("admin").await;
    let (token, _) = app.register("alice").await;
    app.genre(1, "Action", "MOVIE", 5).await;
    app.genre(2, "Drama", "MOVIE", 5).await;
    let action = app
        .add_item(
            &admin,
            "movie",
            json!({"title": "Explosions", "genres": [1]}),
        )
        .await;
    app.add_item(&admin, "movie", json!({"title": "Tears", "genres": [2]}))
        .await;
    let (_, body) = app
        .get("/api/movie/user?reco_engine=FromProfile", &token)
        .await;
    assert_eq!(
        body["content"],
        json!([]),
        "no declared genre, nothing to go on"
    );
    app.put("/api/user/genre/1", &token).await;
    let (status, body) = app
        .get("/api/movie/user?reco_engine=FromProfile", &token)
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = body["content"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    assert_eq!(items[0]["content_id"], action);
    assert_eq!(items[0]["reason"], "Popular in Action");
    let (_, body) = app
        .get("/api/movie/user?reco_engine=CollaborativeFiltering", &token)
        .await;
    assert_eq!(
        body["content"],
        json!([]),
        "the fallback stands in for the profile list only"
    );
});
