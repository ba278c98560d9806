//! Link fields (`cover`, `website`, …) hold web links only (issue 11, item 6).

use reqwest::StatusCode;
use serde_json::json;

use crate::db_test;

db_test!(link_fields_accept_only_web_links, |app| {
    let (token, _) = app.register("alice").await;
    app.genre(1, "Drama", "MOVIE", 0).await;
    for bad in [
        "javascript:alert(1)",
        "\u{1}javascript:alert(1)",
        "java\tscript:alert(1)",
        "https://cdn.test/a b.png",
        "//cdn.test/a.png",
    ] {
        let (status, body) = app
            .post(
                "/api/movie",
                Some(&token),
                json!({"title": "A film", "genres": [1], "cover": bad}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
        assert_eq!(
            body["errors"],
            json!(["cover: Only http and https links are accepted."]),
            "{bad:?}"
        );
    }
    let (status, body) = app
        .post(
            "/api/movie",
            Some(&token),
            json!({"title": "A film", "genres": [1], "cover": "https://cdn.test/a.png"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
});
