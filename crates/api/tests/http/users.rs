//! `GET/PATCH/DELETE /api/user/{uuid}` (spec §7, D3, D5, D6, D12).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::db_test;
use crate::support::{TestApp, assert_error};
use recofinement_api::mail::{Mail, Template};

const PASSWORD: &str = "goodPassword!123";
const NEW_PASSWORD: &str = "NewPassword!42";

/// PATCHes `body` to `path` as the holder of `token`.
async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.patch(path, token, body).await
}

/// Changes the password of the account at `path` from PASSWORD to NEW_PASSWORD.
async fn change_password(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let body = json!({"password": NEW_PASSWORD, "current_password": PASSWORD});
    patch(app, path, token, body).await
}

db_test!(a_user_reads_only_their_own_account, |app| {
    let (alice, alice_uuid) = app.register("alice").await;
    let (_, bob_uuid) = app.register("bobby").await;
    let (status, body) = app.get(&format!("/api/user/{alice_uuid}"), &alice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "User data sent");
    assert_eq!(body["user"]["uuid"], alice_uuid.as_str());
    assert_eq!(body["user"]["email"], "alice@example.com");
    assert_eq!(body["user"]["groups"], json!([]));
    assert_eq!(body["user"]["invitations"], json!([]));
    assert_eq!(body["user"]["owned_groups"], json!([]));
    let (status, body) = app.get(&format!("/api/user/{bob_uuid}"), &alice).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body);
    let (status, body) = app
        .get(&format!("/api/user/{}", uuid::Uuid::new_v4()), &alice)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "User not found!");
    let (status, _) = app.get("/api/user/not-a-uuid", &alice).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
});

db_test!(a_user_changes_their_account, |app| {
    let (token, uuid) = app.register("alice").await;
    let path = format!("/api/user/{uuid}");
    let (status, body) = patch(&app, &path, &token, json!({"username": "alice.b"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["message"], "User updated successfully");
    let (_, body) = app.get(&path, &token).await;
    assert_eq!(body["user"]["username"], "alice.b");
    let (status, _) = patch(&app, &path, &token, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = patch(&app, &path, &token, json!({"email": "bad", "nick": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let errors = body["errors"].as_array().unwrap();
    assert!(errors.contains(&json!("nick: Unknown field.")), "{body}");
    assert!(
        errors.contains(&json!("Not a valid email address.")),
        "{body}"
    );
});

db_test!(changing_to_a_taken_email_is_a_400_not_a_500, |app| {
    let (token, uuid) = app.register("alice").await;
    app.register("bobby").await;
    let (status, body) = patch(
        &app,
        &format!("/api/user/{uuid}"),
        &token,
        json!({"email": "Bobby@example.com", "current_password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"], json!(["Email is already being used."]));
});

db_test!(
    a_password_change_ends_other_sessions_and_returns_a_new_token,
    |app| {
        let (token, uuid) = app.register("alice").await;
        let other = app.login("alice@example.com", PASSWORD).await;
        let path = format!("/api/user/{uuid}");
        let (status, body) = change_password(&app, &path, &token).await;
        assert_eq!(status, StatusCode::CREATED);
        let fresh = body["access_token"].as_str().unwrap().to_string();
        assert_eq!(app.get(&path, &other).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(app.get(&path, &token).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(app.get(&path, &fresh).await.0, StatusCode::OK);
        app.login("alice@example.com", NEW_PASSWORD).await;
    }
);

db_test!(nobody_changes_or_deletes_another_account, |app| {
    let (alice, _) = app.register("alice").await;
    let (bob, bob_uuid) = app.register("bobby").await;
    let path = format!("/api/user/{bob_uuid}");
    let (status, body) = patch(&app, &path, &alice, json!({"username": "hacked"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        "Unable to update an account which is not your's"
    );
    let (status, body) = app.delete(&path, &alice).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        "Unable to delete an account which is not your's"
    );
    let (_, body) = app.get(&path, &bob).await;
    assert_eq!(body["user"]["username"], "bobby");
});

db_test!(a_deleted_users_token_is_refused, |app| {
    let (token, uuid) = app.register("alice").await;
    let path = format!("/api/user/{uuid}");
    let (status, body) = app.delete(&path, &token).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["message"], "User account deleted successfully");
    let (status, body) = app.get(&path, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body);
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "alice@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
});

db_test!(a_demoted_user_loses_permissions_at_once, |app| {
    let (token, uuid) = app.register("alice").await;
    // Remove every role behind the token's back: permissions are read from
    // the database at each request, not frozen in the token.
    match &app.db {
        recofinement_store::Db::Sqlite(pool) => {
            sqlx::query("DELETE FROM user_role")
                .execute(pool)
                .await
                .unwrap();
        }
        recofinement_store::Db::Postgres(pool) => {
            sqlx::query("DELETE FROM user_role")
                .execute(pool)
                .await
                .unwrap();
        }
    }
    let (status, body) = patch(
        &app,
        &format!("/api/user/{uuid}"),
        &token,
        json!({"username": "other"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["message"], "Permission missing");
});

/// The sent mails once `count` have arrived (the worker sends after the answer).
async fn mails(app: &TestApp, count: usize) -> Vec<Mail> {
    let sent = app.mails.wait_for(count).await;
    assert_eq!(sent.len(), count, "{sent:?}");
    sent
}

db_test!(
    email_and_password_changes_need_the_current_password,
    |app| {
        let (token, uuid) = app.register("alice").await;
        let path = format!("/api/user/{uuid}");
        for (body, error) in [
            (
                json!({"email": "mallory@example.com"}),
                "current_password: Missing data for required field.",
            ),
            (
                json!({"password": "Mallory!Pass1", "current_password": "wrongPassword!1"}),
                "current_password: Wrong password.",
            ),
        ] {
            let (status, answer) = patch(&app, &path, &token, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            assert_eq!(answer["errors"], json!([error]));
        }
        app.login("alice@example.com", PASSWORD).await;
        // Renaming oneself, or "changing" to the same address, needs nothing.
        let (status, _) = patch(
            &app,
            &path,
            &token,
            json!({"username": "alice.b", "email": "Alice@example.com"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
);

db_test!(the_owner_is_told_of_account_changes, |app| {
    let (token, uuid) = app.register("alice").await;
    mails(&app, 1).await;
    let path = format!("/api/user/{uuid}");
    let (status, body) = patch(
        &app,
        &path,
        &token,
        json!({"email": "alice.new@example.com", "current_password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let notice = &mails(&app, 2).await[1];
    assert_eq!(notice.template, Template::EmailChanged);
    assert_eq!(notice.to_email, "alice@example.com", "the old address");
    let (status, _) = change_password(&app, &path, &token).await;
    assert_eq!(status, StatusCode::CREATED);
    let notice = &mails(&app, 3).await[2];
    assert_eq!(notice.template, Template::PasswordChanged);
    assert_eq!(notice.to_email, "alice.new@example.com");
    assert!(!notice.text_body().contains("NewPassword"));
});

// A deleted account's ratings leave the items' averages: otherwise an
// account made, rated with and deleted again and again moves a score for
// good.
db_test!(
    a_deleted_account_takes_its_ratings_out_of_the_averages,
    |app| {
        let (admin, _) = app.register_admin("admin").await;
        let movie = app
            .add_item(&admin, "movie", json!({"title": "Rated", "genres": []}))
            .await;
        let meta = format!("/api/movie/{movie}/meta");
        let (fan, fan_uuid) = app.register("fanny").await;
        let (critic, critic_uuid) = app.register("critic").await;
        for (token, rating) in [(&fan, 5), (&critic, 1)] {
            let (status, _) = app.patch(&meta, token, json!({"rating": rating})).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let average = format!("SELECT rating FROM content WHERE content_id = {movie}");
        let count = format!("SELECT rating_count FROM content WHERE content_id = {movie}");
        assert_eq!(app.scalar_f64(&average).await, Some(3.0));
        let path = format!("/api/user/{fan_uuid}");
        assert_eq!(app.delete(&path, &fan).await.0, StatusCode::CREATED);
        assert_eq!(app.scalar_f64(&average).await, Some(1.0));
        assert_eq!(app.scalar_i64(&count).await, 1);
        let path = format!("/api/user/{critic_uuid}");
        assert_eq!(app.delete(&path, &critic).await.0, StatusCode::CREATED);
        assert_eq!(app.scalar_f64(&average).await, None);
        assert_eq!(app.scalar_i64(&count).await, 0);
    }
);
