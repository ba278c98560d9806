//! Sandbox profiles, their genres, metas and run history (spec §9, D4, D17).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::db_test;

db_test!(profiles_belong_to_their_administrator, |app| {
    let (admin, _) = app.register_admin("admin").await;
    let (other_admin, _) = app.register_admin("other").await;
    let (user, _) = app.register("alice").await;
    // The same name twice: created, then refused.
    let create = || {
        app.post(
            "/api/profile",
            Some(&admin),
            json!({"profilename": "test profile"}),
        )
    };
    let (status, body) = create().await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["message"], "Profile created");
    let uuid = body["profile"]["uuid"].as_str().unwrap().to_string();
    let (status, body) = create().await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "You have already created a profile with this name!"
    );
    for bad in [
        json!({}),
        json!({"profilename": ""}),
        json!({"profilename": "x".repeat(46)}),
    ] {
        assert_eq!(
            app.post("/api/profile", Some(&admin), bad).await.0,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        app.post("/api/profile", Some(&user), json!({"profilename": "mine"}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/profile", &user).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = app.get("/api/profile", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["content"],
        json!([{"uuid": uuid, "profilename": "test profile"}])
    );
    let envelope = ["message", "number_of_elements", "page", "total_pages"].map(|k| &body[k]);
    assert_eq!(
        envelope,
        [&json!("Profile data sent"), &json!(1), &json!(1), &json!(1)]
    );
    let path = format!("/api/profile/{uuid}");
    let (status, body) = app.get(&path, &other_admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Profile not found!");
    assert_eq!(app.get(&path, &user).await.0, StatusCode::NOT_FOUND);
    let (status, body) = app
        .patch(&path, &admin, json!({"profilename": "renamed"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, body) = app.get(&path, &admin).await;
    assert_eq!(body["profile"]["profilename"], "renamed");
    assert_eq!(body["profile"]["liked_genres"], json!([]));
    assert_eq!(
        app.delete(&path, &other_admin).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.delete(&path, &admin).await.0, StatusCode::CREATED);
    assert_eq!(app.get(&path, &admin).await.0, StatusCode::NOT_FOUND);
});

db_test!(profile_genres_metas_and_history, |app| {
    let (admin, _) = app.register_admin("admin").await;
    app.genre(1, "Action", "MOVIE", 5).await;
    let movie = app
        .add_item(
            &admin,
            "movie",
            json!({"title": "Explosions", "genres": [1]}),
        )
        .await;
    let (_, body) = app
        .post("/api/profile", Some(&admin), json!({"profilename": "p"}))
        .await;
    let uuid = body["profile"]["uuid"].as_str().unwrap().to_string();
    let base = format!("/api/profile/{uuid}");
    for _ in 0..2 {
        assert_eq!(
            app.put(&format!("{base}/genre/1"), &admin).await.0,
            StatusCode::CREATED
        );
    }
    assert_eq!(
        app.put(&format!("{base}/genre/9"), &admin).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, body) = app.get(&format!("{base}/genre"), &admin).await;
    assert_eq!(body["message"], "Profile liked genre sent");
    assert_eq!(body["content"][0]["name"], "Action");
    let meta = json!({"rating": 4, "last_rating_date": "2021-02-19T11:26:29.000Z", "review_see_count": 2,
        "last_review_see_date": "2021-02-19T11:26:29.000Z", "count": 1, "last_count_increment": "2021-02-19T11:26:29"});
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("{base}/content/{movie}/meta"),
            Some(&admin),
            Some(meta.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Not a date, or one the two databases would not store alike.
    for date in ["yesterday", "-5000-01-01T00:00:00", "2021-02-19T12:26:60"] {
        let mut bad = meta.clone();
        bad["last_rating_date"] = json!(date);
        let path = format!("{base}/content/{movie}/meta");
        let (status, body) = app.call(Method::PUT, &path, Some(&admin), Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{date}: {body}");
    }
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("{base}/content/424242/meta"),
            Some(&admin),
            Some(meta),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Content not found!");
    let (status, body) = app.get(&format!("{base}/movie/meta"), &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Profile's meta movie data sent");
    assert_eq!(body["content"][0]["movie"]["title"], "Explosions");
    assert_eq!(body["content"][0]["rating"], 4);
    assert_eq!(
        body["content"][0]["last_rating_date"],
        "2021-02-19T11:26:29"
    );
    let (_, body) = app.get(&format!("{base}/book/meta"), &admin).await;
    assert_eq!(body["content"], json!([]));
    assert_eq!(
        app.get(&format!("{base}/podcast/meta"), &admin).await.0,
        StatusCode::NOT_FOUND
    );
    // A recorded run with its snapshots and results.
    let profile_id = app.scalar_i64("SELECT profile_id FROM profile").await;
    let run = app.db.snapshot_profile(profile_id).await.unwrap();
    let results = [recofinement_store::profiles::RunResult {
        content_id: movie,
        score: 0.8,
        engine: "FromProfile".into(),
    }];
    app.db.finish_run(run, &results, "done").await.unwrap();
    let (status, body) = app.get(&format!("{base}/history"), &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["content"][0]["id"], run);
    assert_eq!(body["content"][0]["profile"]["uuid"], uuid.as_str());
    let (_, body) = app
        .get(&format!("{base}/history/{run}/genres"), &admin)
        .await;
    assert_eq!(
        body["content"],
        json!([{"name": "Action", "content_type": "movie"}])
    );
    let (_, body) = app
        .get(&format!("{base}/history/{run}/movie/result"), &admin)
        .await;
    assert_eq!(body["content"][0]["engine"], "FromProfile");
    assert_eq!(body["content"][0]["score"], 0.8);
    assert_eq!(body["content"][0]["movie"]["content_id"], movie);
    let (_, body) = app
        .get(&format!("{base}/history/{run}/movie/meta"), &admin)
        .await;
    assert_eq!(body["content"][0]["count"], 1);
    let (status, body) = app.get(&format!("{base}/history/999/genres"), &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Event not found!");
    let (_, body) = app
        .post("/api/profile", Some(&admin), json!({"profilename": "q"}))
        .await;
    let other = body["profile"]["uuid"].as_str().unwrap().to_string();
    let (status, body) = app
        .get(
            &format!("/api/profile/{other}/history/{run}/genres"),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["message"], "Can not access to an not owned event!");
});
