//! The content API of the six media kinds (api-content.md E1–E14).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::db_test;
use crate::support::{TestApp, assert_error};

/// An admin, a plain user, and a few movies: "The Matrix" (genre 1),
/// "Matrix Reloaded", "Before the Matrix 50% Off" and "Amelie".
async fn movies(app: &TestApp) -> (String, String, Vec<i64>) {
    let (admin, _) = app.register_admin("admin").await;
    let (user, _) = app.register("alice").await;
    app.genre(1, "Action", "MOVIE", 50).await;
    app.genre(2, "Drama", "MOVIE", 80).await;
    let mut ids = Vec::new();
    for (title, genres) in [
        ("The Matrix", json!([1])),
        ("Matrix Reloaded", json!([1, 2])),
        ("Before the Matrix 50% Off", json!([2])),
        ("Amelie", json!([])),
    ] {
        ids.push(
            app.add_item(
                &admin,
                "movie",
                json!({"title": title, "genres": genres, "year": "1999"}),
            )
            .await,
        );
    }
    (admin, user, ids)
}

fn titles(body: &Value) -> Vec<String> {
    body["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect()
}

db_test!(popular_lists_are_paginated_in_a_stable_order, |app| {
    let (_, user, ids) = movies(&app).await;
    app.sql(&format!(
        "UPDATE content SET popularity_score = 9 WHERE content_id = {}",
        ids[3]
    ))
    .await;
    let (status, body) = app.get("/api/movie", &user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Most popular movie data sent");
    assert_eq!(body["total_pages"], 1);
    assert_eq!(body["number_of_elements"], 4);
    assert_eq!(body["page"], 1);
    let first = &body["content"][0];
    assert_eq!(first["title"], "Amelie");
    assert_eq!(first["movie_id"], first["content_id"]);
    assert_eq!(first["year"], "1999");
    assert!(
        first["genres"].is_array(),
        "movies carry genres in the popular list"
    );
    // Ties are broken by content id.
    assert_eq!(
        titles(&body)[1..],
        ["The Matrix", "Matrix Reloaded", "Before the Matrix 50% Off"]
    );
    let reloaded = &body["content"][2];
    assert_eq!(
        reloaded["genres"],
        json!([{"genre_id": 1, "name": "Action", "count": 50}, {"genre_id": 2, "name": "Drama", "count": 80}])
    );
    for page in ["2", "0", "-3", "abc"] {
        let (status, body) = app.get(&format!("/api/movie?page={page}"), &user).await;
        assert_eq!(status, StatusCode::OK);
        let expected = if page == "2" { 0 } else { 4 };
        assert_eq!(body["number_of_elements"], expected, "page={page}");
        // Past the end too: the count does not come with the (absent) rows.
        assert_eq!(body["total_pages"], 1, "page={page}");
    }
    let (status, body) = app.get("/api/movie?page=99999999999999999999", &user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["number_of_elements"], 0,
        "a page too large for 64 bits is past the end, not page 1"
    );
    let (status, body) = app.get("/api/book", &user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total_pages"], 0);
    let (status, _) = app.get("/api/podcast", &user).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
});

db_test!(search_is_literal_case_insensitive_and_prefix_first, |app| {
    let (_, user, _) = movies(&app).await;
    let (status, body) = app.get("/api/movie/search/MATRIX", &user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Movie data sent");
    assert_eq!(
        titles(&body),
        ["Matrix Reloaded", "The Matrix", "Before the Matrix 50% Off"]
    );
    assert!(
        body["content"][0].get("genres").is_none(),
        "movie search items are Base items"
    );
    let (_, body) = app.get("/api/movie/search/50%25", &user).await;
    assert_eq!(titles(&body), ["Before the Matrix 50% Off"]);
    let (_, body) = app.get("/api/movie/search/M_trix", &user).await;
    assert_eq!(body["total_pages"], 0, "underscore is not a wildcard");
    let (_, body) = app.get("/api/movie/search/am", &user).await;
    assert_eq!(titles(&body), ["Amelie"]);
    let (_, body) = app.get("/api/movie/search/x'%20OR%201=1--", &user).await;
    assert_eq!(body["total_pages"], 0);
    let long = "a".repeat(300);
    let (status, body) = app.get(&format!("/api/movie/search/{long}"), &user).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body);
});

// SQLite's own lower() and LIKE fold only ASCII; the answer must not
// depend on the database.
db_test!(search_folds_case_beyond_ascii, |app| {
    let (admin, user, _) = movies(&app).await;
    let body = json!({"title": "École des fans", "genres": []});
    app.add_item(&admin, "movie", body).await;
    for term in ["école", "ÉCOLE", "éco", "des FANS"] {
        // The client percent-encodes the path.
        let (status, body) = app.get(&format!("/api/movie/search/{term}"), &user).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(titles(&body), ["École des fans"], "{term}");
    }
});

db_test!(genres_are_listed_per_kind, |app| {
    let (_, user, _) = movies(&app).await;
    let (status, body) = app.get("/api/movie/genres", &user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Movie genres data sent");
    assert_eq!(body["content"][0]["name"], "Drama", "most popular first");
    assert_eq!(
        app.get("/api/book/genres", &user).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = app.get("/api/application/genres", &user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["content"], json!([]));
});

db_test!(viewing_and_rating_keep_counters_and_events_right, |app| {
    let (admin, user, ids) = movies(&app).await;
    let item = ids[0];
    let (status, body) = app.get(&format!("/api/movie/{item}/meta"), &user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Meta successfully sent");
    assert_eq!(body["content"]["review_see_count"], 1);
    assert_eq!(body["content"]["rating"], Value::Null);
    let (_, body) = app.get(&format!("/api/movie/{item}/meta"), &user).await;
    assert_eq!(body["content"]["review_see_count"], 2);
    let meta = format!("/api/movie/{item}/meta");
    let (status, body) = app
        .patch(&meta, &user, json!({"rating": 4, "purchase": true}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["message"], "Meta successfully updated");
    let (status, _) = app.patch(&meta, &admin, json!({"rating": 2})).await;
    assert_eq!(status, StatusCode::CREATED);
    let average = format!("SELECT rating FROM content WHERE content_id = {item}");
    assert_eq!(app.scalar_f64(&average).await, Some(3.0));
    // Re-rating replaces the contribution; a 0 is a real rating.
    app.patch(&meta, &user, json!({"rating": 0})).await;
    assert_eq!(app.scalar_f64(&average).await, Some(1.0));
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT rating_count FROM content WHERE content_id = {item}"
        ))
        .await,
        2
    );
    app.patch(&meta, &user, json!({"additional_count": 24.0}))
        .await;
    let (_, body) = app.get(&meta, &user).await;
    assert_eq!(body["content"]["count"], 24);
    assert!(body["content"]["last_count_increment"].is_string());
    for bad in [
        json!({"rating": 6}),
        json!({"rating": -1}),
        json!({"rating": "five"}),
        json!({"rating": 4.5}),
        json!({"additional_count": -2}),
    ] {
        let (status, body) = app.patch(&meta, &user, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["errors"].is_array());
    }
    let (status, body) = app
        .patch("/api/movie/999999/meta", &user, json!({"rating": 1}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Item not found!");
    assert_eq!(
        app.get(&format!("/api/book/{item}/meta"), &user).await.0,
        StatusCode::NOT_FOUND,
        "wrong kind"
    );
    let (status, body) = app
        .patch(
            &format!("/api/book/{item}/meta"),
            &user,
            json!({"rating": 1}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a rating through the wrong kind"
    );
    assert_eq!(body["message"], "Item not found!");
    assert_eq!(
        app.get("/api/movie/abc/meta", &user).await.0,
        StatusCode::NOT_FOUND
    );
    // Events: first view of each user is meta_added; the rest are changes.
    app.test_db.settle_events().await;
    let (status, body) = app.get("/api/events?after=0&limit=1000", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let events: Vec<&Value> = body["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["object_id"] == item)
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "meta_added").count(),
        2,
        "{kinds:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["attribute_name"] == "rating" && e["new_value"] == "0")
    );
    assert!(
        events
            .iter()
            .any(|e| e["attribute_name"] == "count" && e["new_value"] == "24")
    );
    // Read again two at a time: the same events, in the same order, and
    // the cursor never back. (On PostgreSQL it is a transaction id: it
    // moves on with the cluster even when no event is new.)
    let all = body["content"].as_array().unwrap().clone();
    let end = body["next_after"].clone();
    let (mut paged, mut cursor) = (Vec::new(), json!(0));
    loop {
        let path = format!("/api/events?after={cursor}&limit=2");
        let (_, page) = app.get(&path, &admin).await;
        let content = page["content"].as_array().unwrap();
        let next = page["next_after"].clone();
        assert!(next.as_i64() >= cursor.as_i64(), "{next} after {cursor}");
        if content.is_empty() {
            break;
        }
        paged.extend(content.iter().cloned());
        cursor = next;
    }
    assert_eq!(paged, all);
    assert!(cursor.as_i64() >= end.as_i64());
    assert_eq!(app.get("/api/events", &user).await.0, StatusCode::FORBIDDEN);
});

db_test!(concurrent_raters_leave_the_average_exact, |app| {
    let (admin, _, ids) = movies(&app).await;
    let item = ids[1];
    let mut tokens = Vec::new();
    for i in 0..64 {
        let (token, _) = app.register(&format!("rater{i:02}")).await;
        tokens.push(token);
    }
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let rating = (i % 6) as i64;
            let (status, body) = app
                .patch(
                    &format!("/api/movie/{item}/meta"),
                    &token,
                    json!({"rating": rating}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            rating
        }));
    }
    let mut sum = 0;
    for task in tasks {
        sum += task.await.unwrap();
    }
    let count = app
        .scalar_i64(&format!(
            "SELECT rating_count FROM content WHERE content_id = {item}"
        ))
        .await;
    assert_eq!(count, 64);
    let average = app
        .scalar_f64(&format!(
            "SELECT rating FROM content WHERE content_id = {item}"
        ))
        .await
        .unwrap();
    assert!(
        (average - sum as f64 / 64.0).abs() < 1e-9,
        "{average} vs {}",
        sum as f64 / 64.0
    );
    let _ = admin;
});

/// An event as (kind, field, value), `now` standing for any date.
type Written<'a> = (&'a str, &'a str, &'a str);

// A rating runs as one server-side function on PostgreSQL and as statements
// from Rust on SQLite: both leave the same interaction, the same average and
// the same events (kind, field, value, payload text), step by step.
db_test!(
    ratings_write_the_same_events_and_averages_on_both_databases,
    |app| {
        let (admin, _) = app.register_admin("admin").await;
        let (user, _) = app.register("alice").await;
        let movie = app
            .add_item(&admin, "movie", json!({"title": "Steps", "genres": []}))
            .await;
        let meta = format!("/api/movie/{movie}/meta");
        // (body, events as (kind, field, value), average, rating count, count)
        let steps: [(Value, &[Written], f64, i64, i64); 5] = [
            (json!({"rating": 4}), &[("meta_added", "", "")], 4.0, 1, 0),
            (
                json!({"rating": 4}),
                &[("changed", "last_rating_date", "now")],
                4.0,
                1,
                0,
            ),
            (
                json!({"rating": 2, "additional_count": 3}),
                &[
                    ("changed", "rating", "2"),
                    ("changed", "last_rating_date", "now"),
                    ("changed", "count", "3"),
                    ("changed", "last_count_increment", "now"),
                ],
                2.0,
                1,
                3,
            ),
            (
                json!({"additional_count": 0}),
                &[("changed", "last_count_increment", "now")],
                2.0,
                1,
                3,
            ),
            (
                json!({"rating": 0}),
                &[
                    ("changed", "rating", "0"),
                    ("changed", "last_rating_date", "now"),
                ],
                0.0,
                1,
                3,
            ),
        ];
        for (body, expected, average, ratings, count) in steps {
            // The checks of the step before read the item, and count a view.
            app.test_db.settle_events().await;
            let cursor = app.db.event_page(0, 1000).await.unwrap().next_after;
            let (status, answer) = app.patch(&meta, &user, body.clone()).await;
            assert_eq!(status, StatusCode::CREATED, "{body}: {answer}");
            app.test_db.settle_events().await;
            let events = app.db.event_page(cursor, 100).await.unwrap().entries;
            let written: Vec<Written> = events
                .iter()
                .map(|e| {
                    let value = e.new_value.as_deref().unwrap_or("");
                    // A date is rendered `YYYY-MM-DD HH:MM:SS[.ffffff]`.
                    let value = if value.len() >= 19 && value.as_bytes()[10] == b' ' {
                        "now"
                    } else {
                        value
                    };
                    (
                        e.kind.as_str(),
                        e.attribute_name.as_deref().unwrap_or(""),
                        value,
                    )
                })
                .collect();
            assert_eq!(written, expected, "{body}");
            assert!(events.iter().all(|e| e.object_id == movie
                && e.content_type.as_deref() == Some("MOVIE")
                && e.model_name == "meta_user_content"));
            if expected[0].0 == "meta_added" {
                let payload: Value =
                    serde_json::from_str(events[0].payload.as_deref().unwrap()).unwrap();
                assert_eq!(
                    payload,
                    json!({"rating": 4, "review_see_count": 0, "count": 0})
                );
            }
            let row = format!("FROM content WHERE content_id = {movie}");
            assert_eq!(
                app.scalar_f64(&format!("SELECT rating {row}")).await,
                Some(average)
            );
            assert_eq!(
                app.scalar_i64(&format!("SELECT rating_count {row}")).await,
                ratings
            );
            let (_, answer) = app.get(&meta, &user).await;
            assert_eq!(answer["content"]["count"], count, "{body}");
        }
    }
);

db_test!(bad_recommendations_are_stored_once_per_value, |app| {
    let (_, user, ids) = movies(&app).await;
    let path = format!("/api/movie/{}/bad_recommendation", ids[0]);
    let body =
        json!({"actors": ["Keanu Reeves", "Carrie-Anne Moss"], "year": ["1999"], "unknown": 5});
    for _ in 0..2 {
        let (status, answer) = app.post(&path, Some(&user), body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(answer["message"], "Bad recommendation has been registered.");
    }
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM bad_recommendation_content")
            .await,
        3
    );
    let (status, _) = app
        .post(&path, Some(&user), json!({"actors": "Keanu"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.post(&path, Some(&user), json!({"actors": [1]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .post(
            "/api/movie/424242/bad_recommendation",
            Some(&user),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Movie not found!");
});

db_test!(submissions_are_checked_and_listed, |app| {
    let (admin, user, _) = movies(&app).await;
    let (status, body) = app
        .post("/api/movie", Some(&user), json!({"genres": [1]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["errors"],
        json!(["title: Missing data for required field."])
    );
    let (status, body) = app
        .post(
            "/api/movie",
            Some(&user),
            json!({"title": "t".repeat(300), "genres": [1], "cover": "javascript:alert(1)"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    let (status, body) = app
        .post(
            "/api/movie",
            Some(&user),
            json!({"title": "X", "genres": [77]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Genre 77 not found!");
    // A genre of another kind is not one of this kind's.
    app.genre(78, "Jazz", "TRACK", 0).await;
    let body = json!({"title": "X", "genres": [78]});
    let (status, body) = app.post("/api/movie", Some(&user), body).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Genre 78 not found!");
    let (status, body) = app
        .post("/api/track", Some(&user), json!({"title": "New song", "year": 2020, "spotify_id": -1, "genres": [78], "recording_mbid": "nope"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"], json!(["recording_mbid: Not a valid UUID."]));
    let (status, body) = app
        .post(
            "/api/track",
            Some(&user),
            json!({"title": "New song", "year": 2020, "spotify_id": -1, "genres": [78]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["message"], "Track have been added to validation.");
    let (status, body) = app.get("/api/track/additional", &user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Additional track data sent");
    assert_eq!(body["content"][0]["spotify_id"], "-1");
    assert_eq!(body["content"][0]["title"], "New song");
    assert!(body["content"][0]["track_id"].is_i64());
    let id = body["content"][0]["track_id"].as_i64().unwrap();
    // Plain users cannot validate or decline; the admin declines once, and a
    // second decline finds nothing.
    let additional = format!("/api/track/additional/{id}");
    for (method, who, token, expected, message) in [
        (Method::PUT, "user", &user, StatusCode::FORBIDDEN, None),
        (Method::DELETE, "user", &user, StatusCode::FORBIDDEN, None),
        (
            Method::DELETE,
            "admin",
            &admin,
            StatusCode::CREATED,
            Some("Additional track successfully deleted"),
        ),
        (
            Method::DELETE,
            "admin",
            &admin,
            StatusCode::NOT_FOUND,
            Some("Additional track not found!"),
        ),
    ] {
        let case = format!("{method} {additional} as {who}");
        let (status, body) = app.call(method, &additional, Some(token), None).await;
        assert_eq!(status, expected, "{case}: {body}");
        if let Some(message) = message {
            assert_eq!(body["message"], message, "{case}");
        }
    }
    // Unique values: one application per name.
    let chess = || {
        app.post(
            "/api/application",
            Some(&user),
            json!({"name": "Chess", "genres": []}),
        )
    };
    let (status, _) = chess().await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = chess().await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body);
});

db_test!(accepted_series_keep_their_episodes, |app| {
    let (admin, user) = (
        app.register_admin("admin").await.0,
        app.register("alice").await.0,
    );
    app.genre(5, "Crime", "SERIE", 10).await;
    let body = json!({
        "title": "Detectives", "start_year": 2010, "genres": [5], "plot_outline": "Two detectives.",
        "episodes": [
            {"title": "Pilot", "season_number": 1, "episode_number": 1, "genres": [5]},
            {"title": "Second", "season_number": 1, "episode_number": 2},
            {"title": "Finale", "season_number": 2, "episode_number": 1}
        ]
    });
    let serie = app.add_item(&admin, "serie", body).await;
    let (status, answer) = app
        .get(&format!("/api/serie/{serie}/episodes"), &user)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["message"], "Series episodes data sent");
    let episodes = answer["content"].as_array().unwrap();
    let names: Vec<&str> = episodes
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Pilot", "Second", "Finale"]);
    assert_eq!(episodes[0]["serie_id"], serie);
    assert_eq!(episodes[0]["episode_id"], episodes[0]["content_id"]);
    let (_, answer) = app.get("/api/serie", &user).await;
    assert_eq!(answer["content"][0]["plot_outline"], "Two detectives.");
    let (status, answer) = app.get("/api/serie/987654/episodes", &user).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["message"], "Serie not found!");
    assert_eq!(
        app.get(&format!("/api/movie/{serie}/episodes"), &user)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let added = app
        .scalar_i64("SELECT COUNT(*) FROM event WHERE kind = 'added' AND model_name = 'episode'")
        .await;
    assert_eq!(added, 3);
});

db_test!(listening_history_lists_played_tracks, |app| {
    let (admin, user) = (
        app.register_admin("admin").await.0,
        app.register("alice").await.0,
    );
    let first = app
        .add_item(&admin, "track", json!({"title": "One", "genres": []}))
        .await;
    let second = app
        .add_item(&admin, "track", json!({"title": "Two", "genres": []}))
        .await;
    for id in [first, second, first] {
        app.patch(
            &format!("/api/track/{id}/meta"),
            &user,
            json!({"additional_count": 1}),
        )
        .await;
    }
    let (status, body) = app.get("/api/track/history", &user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["message"],
        "History of listened track data successfully updated"
    );
    let played: Vec<&str> = body["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["track"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(played, ["One", "Two"]);
    assert!(body["content"][0]["last_played_date"].is_string());
    assert_eq!(
        app.get("/api/movie/history", &user).await.0,
        StatusCode::NOT_FOUND
    );
});

db_test!(
    recommendation_lists_filter_by_engine_and_hide_consumed_items,
    |app| {
        let (_, user, ids) = movies(&app).await;
        let user_id = app
            .scalar_i64("SELECT user_id FROM \"user\" WHERE username = 'alice'")
            .await;
        for (id, engine, priority, score) in [
            (ids[0], "FromProfile", 4, 0.9),
            (ids[1], "CollaborativeFiltering", 5, 0.5),
            (ids[2], "FromProfile", 4, 0.4),
        ] {
            app.sql(&format!(
            "INSERT INTO recommended_content (user_id, content_id, score, engine, engine_priority, content_type) \
             VALUES ({user_id}, {id}, {score}, '{engine}', {priority}, 'MOVIE')"
        ))
        .await;
        }
        let (status, body) = app
            .get("/api/movie/user?reco_engine=FromProfile", &user)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(titles(&body), ["The Matrix", "Before the Matrix 50% Off"]);
        assert_eq!(body["content"][0]["reco_engine"], "FromProfile");
        assert_eq!(body["content"][0]["reco_score"], 0.9);
        // A name that is no engine matches nothing, as in the original.
        let (status, body) = app
            .get("/api/movie/user?reco_engine=fromprofile", &user)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (&body["content"], &body["total_pages"]),
            (&json!([]), &json!(0))
        );
        let (_, body) = app.get("/api/movie/user", &user).await;
        assert_eq!(
            titles(&body)[0],
            "Matrix Reloaded",
            "higher engine priority first"
        );
        app.patch(
            &format!("/api/movie/{}/meta", ids[0]),
            &user,
            json!({"rating": 5}),
        )
        .await;
        app.post(
            &format!("/api/movie/{}/bad_recommendation", ids[2]),
            Some(&user),
            json!({"year": ["1999"]}),
        )
        .await;
        let (_, body) = app
            .get("/api/movie/user?reco_engine=FromProfile", &user)
            .await;
        assert_eq!(
            body["total_pages"], 0,
            "rated and flagged items are not recommended: {body}"
        );
        let (status, body) = app
            .get("/api/movie/groups?reco_engine=FromProfile", &user)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["content"], json!([]));
    }
);

db_test!(
    shared_lists_are_reused_briefly_and_refreshed_by_new_content,
    |app| {
        let config = recofinement_api::ApiConfig {
            list_cache_ttl: std::time::Duration::from_secs(60),
            ..crate::support::test_config()
        };
        let app = app.respawn(config, None).await;
        let (admin, user, ids) = movies(&app).await;
        let (_, first) = app.get("/api/movie", &user).await;
        // A change the API did not make is not seen while the answer is fresh…
        app.sql(&format!(
            "UPDATE content SET popularity_score = 9 WHERE content_id = {}",
            ids[3]
        ))
        .await;
        let (_, again) = app.get("/api/movie", &user).await;
        assert_eq!(first, again);
        // …but new content clears the cache at once.
        app.add_item(&admin, "movie", json!({"title": "Brand New", "genres": []}))
            .await;
        let (_, fresh) = app.get("/api/movie", &user).await;
        assert_eq!(fresh["number_of_elements"], 5);
        assert_eq!(fresh["content"][0]["title"], "Amelie");
        let (_, search) = app.get("/api/movie/search/brand", &user).await;
        assert_eq!(search["content"][0]["title"], "Brand New");
    }
);

// The per-kind counts behind `total_pages` follow every way items come and
// go: one at a time, many per statement, the import's kind set after the
// insert, a deletion.
db_test!(item_counts_follow_inserts_kind_changes_and_deletes, |app| {
    let (_, user, ids) = movies(&app).await;
    assert_eq!(counted(&app).await, 4);
    // As the import does: rows without a kind, then the kind for all of them.
    let values: Vec<String> = (0..30).map(|i| format!("({})", 900_000 + i)).collect();
    app.sql(&format!(
        "INSERT INTO content (content_id) VALUES {}",
        values.join(", ")
    ))
    .await;
    app.sql(
        "INSERT INTO movie (content_id, title) SELECT content_id, 'Bulk ' || content_id FROM content WHERE content_id >= 900000",
    )
    .await;
    assert_eq!(counted(&app).await, 4);
    app.sql("UPDATE content SET content_type = 'MOVIE' WHERE content_id >= 900000")
        .await;
    assert_eq!(counted(&app).await, 34);
    // Ratings and popularity updates leave it alone.
    app.sql("UPDATE content SET rating = 3, popularity_score = 1")
        .await;
    assert_eq!(counted(&app).await, 34);
    app.sql(&format!(
        "DELETE FROM content WHERE content_id IN ({}, 900000)",
        ids[0]
    ))
    .await;
    assert_eq!(counted(&app).await, 32);
    let (_, body) = app.get("/api/movie", &user).await;
    assert_eq!(body["total_pages"], 2, "32 movies are two pages of 24");
    // A search counts every match, not only the page it returns.
    for page in [1, 2] {
        let (_, body) = app
            .get(&format!("/api/movie/search/bulk?page={page}"), &user)
            .await;
        assert_eq!(body["total_pages"], 2, "29 matches, page {page}: {body}");
    }
    let (_, body) = app.get("/api/movie/search/bulk?page=2", &user).await;
    assert_eq!(body["content"].as_array().map(Vec::len), Some(5));
});

/// The kept count of movies, checked against a real count.
async fn counted(app: &TestApp) -> i64 {
    let kept = app
        .scalar_i64("SELECT items FROM content_count WHERE content_type = 'MOVIE'")
        .await;
    let real = app
        .scalar_i64("SELECT COUNT(*) FROM content WHERE content_type = 'MOVIE'")
        .await;
    assert_eq!(kept, real, "kept count against COUNT(*)");
    kept
}

// Every proposal is stored until a validator decides: counted per user,
// 429 past the limit, so one account cannot fill the validation queue.
db_test!(proposals_are_counted_per_user, |app| {
    let config = recofinement_api::ApiConfig {
        submissions_per_user: 2,
        ..crate::support::test_config()
    };
    let app = app.respawn(config, None).await;
    let (alice, _) = app.register("alice").await;
    let propose = |title: &str| json!({"title": title, "genres": []});
    for title in ["One", "Two"] {
        let (status, body) = app.post("/api/movie", Some(&alice), propose(title)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app.post("/api/book", Some(&alice), propose("Three")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_error(&body);
    let (bobby, _) = app.register("bobby").await;
    let (status, body) = app.post("/api/movie", Some(&bobby), propose("Four")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
});
