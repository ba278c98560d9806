//! `GET /api/audit`: administrative actions leave a trail (issue 11, item 8).

use reqwest::StatusCode;
use serde_json::json;

use crate::db_test;

db_test!(admin_actions_are_recorded_and_read_by_admins, |app| {
    let (admin, admin_uuid) = app.register_admin("admin").await;
    let (user, user_uuid) = app.register("alice").await;
    app.genre(1, "Drama", "MOVIE", 0).await;
    let mut pending = Vec::new();
    for title in ["Kept", "Refused"] {
        let (status, body) = app
            .post(
                "/api/movie",
                Some(&user),
                json!({"title": title, "genres": [1]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        pending.push(
            body["content"]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .as_i64()
                .unwrap(),
        );
    }
    let accept = format!("/api/movie/additional/{}", pending[0]);
    assert_eq!(app.put(&accept, &admin).await.0, StatusCode::CREATED);
    let decline = format!("/api/movie/additional/{}", pending[1]);
    assert_eq!(app.delete(&decline, &admin).await.0, StatusCode::CREATED);
    // Someone who is not an administrator reads nothing.
    let (status, _) = app.get("/api/audit", &user).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let path = format!("/api/user/{user_uuid}");
    assert_eq!(app.delete(&path, &user).await.0, StatusCode::CREATED);

    app.test_db.settle_events().await;
    let (status, body) = app.get("/api/audit?after=0&limit=10", &admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entries = body["content"].as_array().unwrap();
    let actions: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor_uuid"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
            )
        })
        .collect();
    let accepted = format!("movie:{}", pending[0]);
    let declined = format!("movie:{}", pending[1]);
    let deleted = format!("user:{user_uuid}");
    assert_eq!(
        actions,
        vec![
            (
                "submission_accepted",
                admin_uuid.as_str(),
                accepted.as_str()
            ),
            (
                "submission_declined",
                admin_uuid.as_str(),
                declined.as_str()
            ),
            ("user_deleted", user_uuid.as_str(), deleted.as_str()),
        ]
    );
    assert!(entries[0]["occurred_at"].is_string());
    // Paging: from each page's cursor, one at a time.
    let (_, body) = app.get("/api/audit?after=0&limit=1", &admin).await;
    assert_eq!(body["content"][0]["action"], "submission_accepted");
    let next = &body["next_after"];
    let (_, body) = app
        .get(&format!("/api/audit?after={next}&limit=1"), &admin)
        .await;
    assert_eq!(body["content"].as_array().unwrap().len(), 1);
    assert_eq!(body["content"][0]["action"], "submission_declined");
    assert_eq!(body["message"], "Audit trail sent");
});
