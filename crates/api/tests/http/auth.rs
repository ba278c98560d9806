//! Register, login, logout, forgotten password and reset (spec §6, D1, D9, D13, D23, D24).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::db_test;
use crate::support::{TestApp, assert_error, test_config};
use recofinement_api::mail::{FailingTransport, Mailer, Template};

const PASSWORD: &str = "goodPassword!123";

db_test!(
    register_returns_a_session_and_sends_the_welcome_mail,
    |app| {
        let (status, body) = app
            .post(
                "/api/auth/register",
                None,
                json!({"email": " Alice@Example.com", "username": "alice", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["message"], "User has been registered.");
        assert_eq!(body["user"]["email"], "alice@example.com");
        assert_eq!(body["user"]["username"], "alice");
        assert_eq!(body["user"]["preferences_defined"], false);
        assert_eq!(body["user"]["role"], json!({}));
        let token = body["access_token"].as_str().unwrap();
        // The client decodes the token itself: identity and permissions.
        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&base64_url(payload)).unwrap();
        assert_eq!(claims["identity"], body["user"]["uuid"]);
        assert_eq!(claims["type"], "access");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            43_200
        );
        let permissions = claims["user_claims"]["permissions"].as_array().unwrap();
        assert!(permissions.contains(&json!("add_content")));
        assert!(!permissions.contains(&json!("access_sandbox")));
        let mails = app.mails.sent();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].template, Template::Welcome);
        assert_eq!(mails[0].to_email, "alice@example.com");
        assert_eq!(mails[0].link, "http://front.test");
    }
);

fn base64_url(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

db_test!(register_rejects_taken_emails_in_any_case, |app| {
    app.register("alice").await;
    let (status, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"email": "ALICE@example.com", "username": "alice2", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"], json!(["Email is already being used."]));
});

db_test!(register_reports_every_rule_that_fails, |app| {
    let (status, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"email": "nope", "username": "a b", "password": "weak"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "Validation errors");
    let errors: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(errors.contains(&"Not a valid email address."), "{errors:?}");
    assert!(errors.contains(&"Invalid username!"), "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("Password must contain")),
        "{errors:?}"
    );
    let (status, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"email": 5, "extra": true}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["errors"],
        json!([
            "extra: Unknown field.",
            "email: Not a valid string.",
            "username: Missing data for required field.",
            "password: Missing data for required field."
        ])
    );
    assert!(app.mails.sent().is_empty());
});

db_test!(a_failing_mail_transport_loses_no_registration, |app| {
    let app = app
        .respawn(test_config(), Some(Mailer::new(FailingTransport)))
        .await;
    let (status, _) = app
        .post(
            "/api/auth/register",
            None,
            json!({"email": "bob@example.com", "username": "bobby", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.login("bob@example.com", PASSWORD).await;
});

db_test!(login_succeeds_only_with_the_right_password, |app| {
    app.register("alice").await;
    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "Alice@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Successfully logged in.");
    assert!(body["access_token"].is_string());
    for (email, password) in [
        ("alice@example.com", "wrongPassword!1"),
        ("nobody@example.com", PASSWORD),
    ] {
        let (status, body) = app
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["message"], "Failed to log in.");
    }
});

db_test!(dataset_accounts_without_a_hash_cannot_log_in, |app| {
    app.db
        .create_user("anon@example.com", "anonymous", "no_pwd", "user")
        .await
        .unwrap();
    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "anon@example.com", "password": "no_pwd12"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "Failed to log in.");
});

db_test!(repeated_failures_are_throttled_with_retry_after, |app| {
    let config = recofinement_api::ApiConfig {
        login_max_failures_per_account: 3,
        ..test_config()
    };
    let app = app.respawn(config, None).await;
    app.register("alice").await;
    for _ in 0..3 {
        let (status, _) = app
            .post(
                "/api/auth/login",
                None,
                json!({"email": "alice@example.com", "password": "wrongPassword!1"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "alice@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    // Another account from the same client is not blocked by this one.
    app.register("bobby").await;
    app.login("bobby@example.com", PASSWORD).await;
});

db_test!(logout_revokes_the_token, |app| {
    let (token, uuid) = app.register("alice").await;
    let (status, _) = app
        .call(Method::POST, "/api/auth/logout", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get(&format!("/api/user/{uuid}"), &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["msg"], "Token has been revoked");
    assert_error(&body);
    // Another session of the same user is untouched.
    let other = app.login("alice@example.com", PASSWORD).await;
    assert_eq!(
        app.get(&format!("/api/user/{uuid}"), &other).await.0,
        StatusCode::OK
    );
});

db_test!(token_problems_answer_401_or_422, |app| {
    let (status, body) = app.call(Method::POST, "/api/auth/logout", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["msg"], "Missing Authorization Header");
    let response = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("Authorization", "Token abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .call(Method::POST, "/api/auth/logout", Some("abc.def"), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["msg"], "Not enough segments");
    let (token, _) = app.register("alice").await;
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let (status, body) = app
        .call(Method::POST, "/api/auth/logout", Some(&forged), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
});

/// Pulls the reset secret out of the last mail's link.
fn reset_secret(app: &TestApp) -> String {
    let mail = app
        .mails
        .sent()
        .into_iter()
        .rev()
        .find(|m| m.template == Template::ForgottenPassword)
        .unwrap();
    let prefix = "http://front.test/app/reset/";
    assert!(mail.link.starts_with(prefix), "{}", mail.link);
    mail.link[prefix.len()..].to_string()
}

db_test!(
    password_reset_is_single_use_and_ends_other_sessions,
    |app| {
        let (old_token, uuid) = app.register("alice").await;
        let (status, body) = app
            .post(
                "/api/auth/forget",
                None,
                json!({"email": "alice@example.com"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let known_message = body["message"].clone();
        let secret = reset_secret(&app);
        assert!(secret.len() >= 50);
        // The reset secret is not an API credential.
        let (status, _) = app.get(&format!("/api/user/{uuid}"), &secret).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        // An access token cannot reset a password.
        let (status, body) = app
            .post(
                "/api/auth/reset",
                None,
                json!({"reset_password_token": old_token, "password": "NewPassword!42"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["message"], "Invalid token.");
        let (status, body) = app
            .post(
                "/api/auth/reset",
                None,
                json!({"reset_password_token": secret, "password": "NewPassword!42"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["message"], "Password reset successfully");
        assert!(
            app.mails
                .sent()
                .iter()
                .any(|m| m.template == Template::ResetConfirmation)
        );
        // Single use.
        let (status, _) = app
            .post(
                "/api/auth/reset",
                None,
                json!({"reset_password_token": secret, "password": "Another!Pass9"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // The old session is over; the new password works, the old one does not.
        assert_eq!(
            app.get(&format!("/api/user/{uuid}"), &old_token).await.0,
            StatusCode::UNAUTHORIZED
        );
        app.login("alice@example.com", "NewPassword!42").await;
        let (status, _) = app
            .post(
                "/api/auth/login",
                None,
                json!({"email": "alice@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // Unknown accounts get the same answer and no mail.
        let before = app.mails.sent().len();
        let (status, body) = app
            .post(
                "/api/auth/forget",
                None,
                json!({"email": "nobody@example.com"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["message"], known_message);
        assert_eq!(app.mails.sent().len(), before);
    }
);

db_test!(expired_reset_secrets_are_refused, |app| {
    let config = recofinement_api::ApiConfig {
        reset_token_ttl: std::time::Duration::ZERO,
        ..test_config()
    };
    let app = app.respawn(config, None).await;
    app.register("alice").await;
    app.post(
        "/api/auth/forget",
        None,
        json!({"email": "alice@example.com"}),
    )
    .await;
    let secret = reset_secret(&app);
    let (status, body) = app
        .post(
            "/api/auth/reset",
            None,
            json!({"reset_password_token": secret, "password": "NewPassword!42"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "Invalid token.");
});

db_test!(mailjet_receives_the_original_templates, |app| {
    use wiremock::matchers::{basic_auth, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let mailjet = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3.1/send"))
        .and(basic_auth("public-key", "private-key"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"Messages": [{"Status": "success"}]})),
        )
        .expect(2)
        .mount(&mailjet)
        .await;
    let transport = recofinement_api::mail::MailjetTransport {
        client: reqwest::Client::new(),
        base_url: mailjet.uri(),
        public_key: "public-key".into(),
        private_key: recofinement_api::Secret::new("private-key"),
    };
    let app = app
        .respawn(test_config(), Some(Mailer::new(transport)))
        .await;
    app.register("alice").await;
    app.post(
        "/api/auth/forget",
        None,
        json!({"email": "alice@example.com"}),
    )
    .await;
    let requests = mailjet.received_requests().await.unwrap();
    let bodies: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let welcome = &bodies[0]["Messages"][0];
    assert_eq!(welcome["TemplateID"], 1_112_887);
    assert_eq!(
        welcome["From"],
        json!({"Email": "advise.ly1@gmail.com", "Name": "Advisely"})
    );
    assert_eq!(welcome["To"][0]["Email"], "alice@example.com");
    assert_eq!(welcome["Variables"]["firstname"], "alice");
    assert_eq!(welcome["Variables"]["subject"], "Welcome to RecoFinement ");
    let reset = &bodies[1]["Messages"][0];
    assert_eq!(reset["TemplateID"], 1_107_554);
    let link = reset["Variables"]["resetUrl"].as_str().unwrap();
    assert!(
        link.starts_with("http://front.test/app/reset/") && link.len() > 60,
        "{link}"
    );
});

db_test!(
    behind_a_trusted_proxy_clients_are_told_apart_by_forwarded_for,
    |app| {
        let config = recofinement_api::ApiConfig {
            login_max_failures_per_client: 2,
            trust_forwarded_for: true,
            ..test_config()
        };
        let app = app.respawn(config, None).await;
        let attempt = |client: &'static str| {
            app.client
                .post(app.url("/api/auth/login"))
                .header("X-Forwarded-For", client)
                .json(&json!({"email": "nobody@example.com", "password": "wrongPassword!1"}))
                .send()
        };
        for _ in 0..2 {
            assert_eq!(
                attempt("203.0.113.7").await.unwrap().status(),
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            attempt("203.0.113.7").await.unwrap().status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            attempt("198.51.100.9").await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "another client"
        );
    }
);
