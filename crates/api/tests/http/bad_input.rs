//! Bad input is a 400 in the envelope on both databases, never a 500 nor a
//! silently stored value: NUL characters, nulls for typed fields, missing
//! fields the original requires; and pages past the end are empty.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::support::{TestApp, assert_error};

async fn assert_bad_request(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) {
    let (status, answer) = app.call(method, path, Some(token), body).await;
    assert_eq!(status, 400, "{path}: {answer}");
    assert_error(&answer);
}

db_test!(nul_characters_are_refused_everywhere, |app| {
    let (admin, _) = app.register_admin("admin").await;
    for path in [
        "/api/movie/search/a%00b",
        "/api/user/search/x%00",
        "/api/movie?page=1%00",
    ] {
        assert_bad_request(&app, Method::GET, path, &admin, None).await;
    }
    let title = json!({"title": "a\u{0}b", "genres": []});
    assert_bad_request(&app, Method::POST, "/api/movie", &admin, Some(title)).await;
    let group = json!({"name": "\u{0}"});
    assert_bad_request(&app, Method::POST, "/api/group", &admin, Some(group)).await;
    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "a\u{0}@b.c", "password": "x"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM submission").await,
        0,
        "nothing stored"
    );
});

db_test!(null_is_not_a_value_of_a_typed_field, |app| {
    let (admin, uuid) = app.register_admin("admin").await;
    let movie = app
        .add_item(&admin, "movie", json!({"title": "Typed", "genres": []}))
        .await;
    let meta = format!("/api/movie/{movie}/meta");
    for body in [json!({"rating": null}), json!({"additional_count": null})] {
        assert_bad_request(&app, Method::PATCH, &meta, &admin, Some(body)).await;
    }
    let user = format!("/api/user/{uuid}");
    for field in ["password", "username", "email"] {
        let body = json!({ field: null });
        assert_bad_request(&app, Method::PATCH, &user, &admin, Some(body)).await;
    }
    let profile = app.profile(&admin, "typed").await;
    let now = "2024-01-01T00:00:00";
    let without_rating = json!({"last_rating_date": now, "review_see_count": 0,
        "last_review_see_date": now, "count": 0, "last_count_increment": now});
    let path = format!("/api/profile/{profile}/content/{movie}/meta");
    assert_bad_request(&app, Method::PUT, &path, &admin, Some(without_rating)).await;
});

db_test!(pages_past_the_end_are_empty_with_the_true_total, |app| {
    let (admin, _) = app.register_admin("admin").await;
    app.add_item(&admin, "movie", json!({"title": "Only One", "genres": []}))
        .await;
    for list in [
        "/api/movie",
        "/api/movie/search/only",
        "/api/user/search/adm",
    ] {
        for page in ["2", "99999999999999999999999"] {
            let (status, body) = app.get(&format!("{list}?page={page}"), &admin).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["content"], json!([]), "{list}?page={page}: {body}");
            assert_eq!(body["total_pages"], 1, "{list}?page={page}: {body}");
        }
        for page in ["abc", "0", "-3", "-99999999999999999999999"] {
            let (_, body) = app.get(&format!("{list}?page={page}"), &admin).await;
            assert_eq!(
                body["content"].as_array().unwrap().len(),
                1,
                "{list}?page={page}: {body}"
            );
            assert_eq!(body["page"], 1, "{body}");
        }
    }
});
