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

// A query string the recommendation filter cannot read (the engine named
// twice) is a 400 in the envelope, not axum's plain-text rejection.
db_test!(an_unreadable_query_string_is_a_400_in_the_envelope, |app| {
    let (admin, _) = app.register_admin("admin").await;
    for path in [
        "/api/movie/user?reco_engine=FromProfile&reco_engine=Popularity",
        "/api/movie/groups?reco_engine=FromProfile&reco_engine=Popularity",
    ] {
        assert_bad_request(&app, Method::GET, path, &admin, None).await;
    }
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

/// The path of an operation with its parameters replaced by the document's
/// examples.
fn example_path(path: &str, operation: &Value) -> String {
    let mut path = path.to_string();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        if parameter["in"] != "path" {
            continue;
        }
        let name = parameter["name"].as_str().unwrap();
        let example = match &parameter["example"] {
            Value::String(s) => s.clone(),
            Value::Null => panic!("{path}: no example for {name}"),
            other => other.to_string(),
        };
        path = path.replace(&format!("{{{name}}}"), &example);
    }
    path
}

// Every body the document describes is checked under the names it gives:
// each documented field of a wrong type and each required field left out is
// reported by that name, so a renamed field cannot lose its rules.
db_test!(every_documented_field_is_validated_under_its_name, |app| {
    let (admin, _) = app.register_admin("admin").await;
    let document = app.document().await;
    let mut bodies = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let reference =
                &operation["requestBody"]["content"]["application/json"]["schema"]["$ref"];
            let Some(name) = reference.as_str().and_then(|r| r.rsplit('/').next()) else {
                continue;
            };
            let schema = &document["components"]["schemas"][name];
            let properties = schema["properties"].as_object().unwrap();
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let url = example_path(path, operation);
            let wrong: serde_json::Map<String, Value> = properties
                .keys()
                .map(|k| (k.clone(), json!({"not": "a value"})))
                .collect();
            let (status, answer) = app
                .call(
                    method.clone(),
                    &url,
                    Some(&admin),
                    Some(Value::Object(wrong)),
                )
                .await;
            assert_eq!(status, 400, "{method} {url}: {answer}");
            for field in properties.keys() {
                let prefix = format!("{field}: Not a valid ");
                assert!(
                    answer["errors"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|e| e.as_str().unwrap().starts_with(&prefix)),
                    "{method} {url} ({name}): {field} unchecked: {answer}"
                );
            }
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            if !required.is_empty() {
                let (status, answer) = app
                    .call(method.clone(), &url, Some(&admin), Some(json!({})))
                    .await;
                assert_eq!(status, 400, "{method} {url}: {answer}");
                for field in required {
                    let message = format!(
                        "{}: Missing data for required field.",
                        field.as_str().unwrap()
                    );
                    assert!(
                        answer["errors"]
                            .as_array()
                            .unwrap()
                            .contains(&json!(message)),
                        "{method} {url}: {answer}"
                    );
                }
            }
            bodies += 1;
        }
    }
    assert!(bodies >= 12, "only {bodies} documented bodies");
});

// The limits the document states are the ones enforced, to the character.
db_test!(the_documented_limits_are_the_enforced_limits, |app| {
    let document = app.document().await;
    let username = &document["components"]["schemas"]["RegisterBody"]["properties"]["username"];
    let max = username["maxLength"].as_u64().unwrap() as usize;
    let register = |name: String| json!({"email": format!("{}@example.com", name.len()), "username": name, "password": "goodPassword!123"});
    let (status, body) = app
        .post("/api/auth/register", None, register("a".repeat(max)))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .post("/api/auth/register", None, register("a".repeat(max + 1)))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"],
        json!([format!("Length must be between 4 and {max}.")])
    );
    // An integral number is an integer to JSON Schema, so to the server too.
    let (admin, _) = app.register_admin("admin").await;
    let movie = app
        .add_item(&admin, "movie", json!({"title": "Whole", "genres": []}))
        .await;
    let (status, body) = app
        .patch(
            &format!("/api/movie/{movie}/meta"),
            &admin,
            json!({"rating": 4.0}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .patch(
            &format!("/api/movie/{movie}/meta"),
            &admin,
            json!({"rating": 6}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"], json!(["rating: 6 is not between 0 and 5."]));
    // The same in the body a proposal's schema describes.
    let drama = app.genre(7, "Drama", "MOVIE", 0).await;
    let movie = json!({"title": "Float", "genres": [drama as f64]});
    let (status, body) = app.post("/api/movie", Some(&admin), movie).await;
    assert_eq!(status, 201, "{body}");
    let book = json!({"isbn": "0-0", "title": "Float", "year_of_publication": 1999.0});
    let (status, body) = app.post("/api/book", Some(&admin), book).await;
    assert_eq!(status, 201, "{body}");
});
