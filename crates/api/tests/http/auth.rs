//! Register, login, logout, forgotten password and reset (spec §6, D1, D9, D13, D23, D24).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::db_test;
use crate::support::{TestApp, assert_error, test_config};
use recofinement_api::mail::{FailingTransport, Mailer, Template};

const PASSWORD: &str = "goodPassword!123";

/// One login attempt that may fail (unlike `TestApp::login`); the answer.
async fn try_login(app: &TestApp, email: &str, password: &str) -> (StatusCode, Value) {
    let body = json!({"email": email, "password": password});
    app.post("/api/auth/login", None, body).await
}

/// Asks to register with `body`; the answer.
async fn register_with(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.post("/api/auth/register", None, body).await
}

/// Asks for a password reset mail for `email`; the answer.
async fn forget(app: &TestApp, email: &str) -> (StatusCode, Value) {
    let body = json!({ "email": email });
    app.post("/api/auth/forget", None, body).await
}

/// Sets a new `password` with the reset `secret`; the answer.
async fn reset(app: &TestApp, secret: &str, password: &str) -> (StatusCode, Value) {
    let body = json!({"reset_password_token": secret, "password": password});
    app.post("/api/auth/reset", None, body).await
}

db_test!(
    register_returns_a_session_and_sends_the_welcome_mail,
    |app| {
        let (status, body) = register_with(
            &app,
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
        let mails = app.mails.wait_for(1).await;
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
    let (status, body) = register_with(
        &app,
        json!({"email": "ALICE@example.com", "username": "alice2", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"], json!(["Email is already being used."]));
});

db_test!(register_reports_every_rule_that_fails, |app| {
    let (status, body) = register_with(
        &app,
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
    let (status, body) = register_with(&app, json!({"email": 5, "extra": true})).await;
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
    let (status, _) = register_with(
        &app,
        json!({"email": "bob@example.com", "username": "bobby", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    app.login("bob@example.com", PASSWORD).await;
});

db_test!(login_succeeds_only_with_the_right_password, |app| {
    app.register("alice").await;
    let (status, body) = try_login(&app, "Alice@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Successfully logged in.");
    assert!(body["access_token"].is_string());
    for (email, password) in [
        ("alice@example.com", "wrongPassword!1"),
        ("nobody@example.com", PASSWORD),
    ] {
        let (status, body) = try_login(&app, email, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["message"], "Failed to log in.");
    }
});

db_test!(dataset_accounts_without_a_hash_cannot_log_in, |app| {
    app.db
        .create_user("anon@example.com", "anonymous", "no_pwd", "user")
        .await
        .unwrap();
    let (status, body) = try_login(&app, "anon@example.com", "no_pwd12").await;
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
        let (status, _) = try_login(&app, "alice@example.com", "wrongPassword!1").await;
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
    let (status, _) = app.logout(&token).await;
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
    let (status, body) = app.logout("abc.def").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["msg"], "Not enough segments");
    let (token, _) = app.register("alice").await;
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let (status, body) = app.logout(&forged).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
});

/// Waits for a mail of `template` (the worker sends after the answer).
async fn mail_of(app: &TestApp, template: Template) -> recofinement_api::mail::Mail {
    for _ in 0..1000 {
        if let Some(mail) = app
            .mails
            .sent()
            .into_iter()
            .rev()
            .find(|m| m.template == template)
        {
            return mail;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no {template:?} mail was sent");
}

/// Pulls the reset secret out of the last mail's link.
async fn reset_secret(app: &TestApp) -> String {
    let mail = mail_of(app, Template::ForgottenPassword).await;
    let prefix = "http://front.test/app/reset/";
    assert!(mail.link.starts_with(prefix), "{}", mail.link);
    mail.link[prefix.len()..].to_string()
}

db_test!(
    password_reset_is_single_use_and_ends_other_sessions,
    |app| {
        let (old_token, uuid) = app.register("alice").await;
        let (status, body) = forget(&app, "alice@example.com").await;
        assert_eq!(status, StatusCode::OK);
        let known_message = body["message"].clone();
        let secret = reset_secret(&app).await;
        assert!(secret.len() >= 50);
        // The reset secret is not an API credential.
        let (status, _) = app.get(&format!("/api/user/{uuid}"), &secret).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        // An access token cannot reset a password.
        let (status, body) = reset(&app, &old_token, "NewPassword!42").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["message"], "Invalid token.");
        let (status, body) = reset(&app, &secret, "NewPassword!42").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["message"], "Password reset successfully");
        mail_of(&app, Template::ResetConfirmation).await;
        // Single use.
        let (status, _) = reset(&app, &secret, "Another!Pass9").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // The old session is over; the new password works, the old one does not.
        assert_eq!(
            app.get(&format!("/api/user/{uuid}"), &old_token).await.0,
            StatusCode::UNAUTHORIZED
        );
        app.login("alice@example.com", "NewPassword!42").await;
        let (status, _) = try_login(&app, "alice@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // Unknown accounts get the same answer and no mail: the mail queued
        // after this request arrives alone.
        let before = app.mails.sent().len();
        let (status, body) = forget(&app, "nobody@example.com").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["message"], known_message);
        app.register("bobby").await;
        let sent = app.mails.wait_for(before + 1).await;
        assert_eq!(sent.len(), before + 1);
        assert_eq!(sent[before].to_email, "bobby@example.com");
    }
);

db_test!(expired_reset_secrets_are_refused, |app| {
    let config = recofinement_api::ApiConfig {
        reset_token_ttl: std::time::Duration::ZERO,
        ..test_config()
    };
    let app = app.respawn(config, None).await;
    app.register("alice").await;
    forget(&app, "alice@example.com").await;
    let secret = reset_secret(&app).await;
    let (status, body) = reset(&app, &secret, "NewPassword!42").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "Invalid token.");
});

/// Asks for a reset of `email` and waits for its mail: the secret it carries.
async fn fresh_reset_secret(app: &TestApp, email: &str) -> String {
    let mailed = |app: &TestApp| {
        let sent = app.mails.sent();
        sent.iter()
            .filter(|m| m.template == Template::ForgottenPassword)
            .count()
    };
    let before = mailed(app);
    assert_eq!(forget(app, email).await.0, StatusCode::OK);
    for _ in 0..1000 {
        if mailed(app) > before {
            return reset_secret(app).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no reset mail for {email}");
}

db_test!(
    a_new_email_or_password_voids_the_reset_links_already_sent,
    |app| {
        let (token, uuid) = app.register("alice").await;
        let path = format!("/api/user/{uuid}");
        // A name change leaves the link alone.
        let kept = fresh_reset_secret(&app, "alice@example.com").await;
        let renamed = json!({"username": "alicia"});
        assert_eq!(
            app.patch(&path, &token, renamed).await.0,
            StatusCode::CREATED
        );
        assert_eq!(reset(&app, &kept, "Second!Pass2").await.0, StatusCode::OK);
        // Moving to a new address voids the link mailed to the old one.
        let to_old_address = fresh_reset_secret(&app, "alice@example.com").await;
        let token = app.login("alice@example.com", "Second!Pass2").await;
        let moved = json!({"email": "alice@new.example.com", "current_password": "Second!Pass2"});
        let (status, body) = app.patch(&path, &token, moved).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = reset(&app, &to_old_address, "Attacker!Pass1").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["message"], "Invalid token.");
        // So does a new password.
        let before_password = fresh_reset_secret(&app, "alice@new.example.com").await;
        let renewed = json!({"password": "Third!Pass3", "current_password": "Second!Pass2"});
        assert_eq!(
            app.patch(&path, &token, renewed).await.0,
            StatusCode::CREATED
        );
        let (status, _) = reset(&app, &before_password, "Attacker!Pass1").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        app.login("alice@new.example.com", "Third!Pass3").await;
    }
);

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
    forget(&app, "alice@example.com").await;
    let mut requests = Vec::new();
    for _ in 0..1000 {
        requests = mailjet.received_requests().await.unwrap();
        if requests.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
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

/// One login attempt for `email`, sent through a proxy that forwarded `chain`.
async fn login_via(app: &TestApp, chain: &str, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/auth/login"))
        .header("X-Forwarded-For", chain)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

fn behind_local_proxy(config: recofinement_api::ApiConfig) -> recofinement_api::ApiConfig {
    recofinement_api::ApiConfig {
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..config
    }
}

db_test!(
    behind_a_trusted_proxy_clients_are_told_apart_by_forwarded_for,
    |app| {
        let config = behind_local_proxy(recofinement_api::ApiConfig {
            login_max_failures_per_client: 2,
            ..test_config()
        });
        let app = app.respawn(config, None).await;
        let wrong = "wrongPassword!1";
        for _ in 0..2 {
            let answer = login_via(&app, "203.0.113.7", "nobody@example.com", wrong).await;
            assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        }
        // A value the client writes itself, left of what the proxy appended,
        // does not make it someone else.
        let spoofed = login_via(&app, "10.0.0.1, 203.0.113.7", "nobody@example.com", wrong).await;
        assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);
        let other = login_via(&app, "198.51.100.9", "nobody@example.com", wrong).await;
        assert_eq!(other.status(), StatusCode::UNAUTHORIZED, "another client");
    }
);

db_test!(forwarded_for_from_an_untrusted_peer_is_ignored, |app| {
    let config = recofinement_api::ApiConfig {
        login_max_failures_per_client: 2,
        ..test_config()
    };
    let app = app.respawn(config, None).await;
    // A new random address per request gains the client nothing.
    for (i, expected) in [
        StatusCode::UNAUTHORIZED,
        StatusCode::UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS,
    ]
    .into_iter()
    .enumerate()
    {
        let chain = format!("198.51.100.{i}");
        let answer = login_via(&app, &chain, "nobody@example.com", "wrongPassword!1").await;
        assert_eq!(answer.status(), expected, "attempt {i}");
    }
});

db_test!(parallel_guesses_are_all_counted_before_bcrypt, |app| {
    let config = recofinement_api::ApiConfig {
        login_max_failures_per_account: 5,
        bcrypt_concurrency: 4,
        ..test_config()
    };
    let app = app.respawn(config, None).await;
    app.register("alice").await;
    let attempts = (0..50).map(|_| {
        app.client
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": "alice@example.com", "password": "wrongPassword!1"}))
            .send()
    });
    let answers = futures::future::join_all(attempts).await;
    let statuses: Vec<StatusCode> = answers
        .iter()
        .map(|a| a.as_ref().unwrap().status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (5, 45), "{statuses:?}");
    for answer in answers {
        let answer = answer.unwrap();
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(answer.headers().contains_key("retry-after"));
        }
    }
    // Every attempt counted in the narrowest bucket; only those it let
    // through count toward the account's ceiling over every client.
    for (bucket, counted) in [("login:%", 50), ("account:%", 5)] {
        let sql = format!("SELECT failures FROM login_attempt WHERE bucket LIKE '{bucket}'");
        assert_eq!(app.scalar_i64(&sql).await, counted, "{bucket}");
    }
});

db_test!(
    a_guesser_does_not_lock_the_owner_out_from_elsewhere,
    |app| {
        let config = behind_local_proxy(recofinement_api::ApiConfig {
            login_max_failures_per_account: 3,
            login_account_ceiling: 8,
            ..test_config()
        });
        let app = app.respawn(config, None).await;
        app.register("alice").await;
        let email = "alice@example.com";
        // Refused attempts go on past the account's ceiling (8)…
        for expected in [401, 401, 401].into_iter().chain([429; 9]) {
            let answer = login_via(&app, "203.0.113.66", email, "wrongPassword!1").await;
            assert_eq!(answer.status().as_u16(), expected);
        }
        // …but only the three checked ones count toward it: the owner, from
        // their own address, still gets in.
        let owner = login_via(&app, "198.51.100.20", email, PASSWORD).await;
        assert_eq!(owner.status(), StatusCode::OK);
        // Past the account's ceiling (many addresses), everyone waits.
        for i in 0..6 {
            let chain = format!("192.0.2.{i}");
            login_via(&app, &chain, email, "wrongPassword!1").await;
        }
        let owner = login_via(&app, "198.51.100.20", email, PASSWORD).await;
        assert_eq!(owner.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = owner.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry > 0 && retry <= 900, "{retry}");
    }
);

db_test!(
    register_and_forget_are_throttled_per_client_and_address,
    |app| {
        let config = recofinement_api::ApiConfig {
            requests_per_client: 3,
            requests_per_email: 2,
            ..test_config()
        };
        let app = app.respawn(config, None).await;
        app.register("alice").await;
        // Per address: the third reset request for alice waits.
        for expected in [200, 200, 429] {
            let (status, _) = forget(&app, "alice@example.com").await;
            assert_eq!(status.as_u16(), expected);
        }
        // Per client: the fourth registration from one address waits.
        app.register("bobby").await;
        app.register("carol").await;
        let response = app
            .client
            .post(app.url("/api/auth/register"))
            .json(&json!({"email": "dave@example.com", "username": "dave", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().contains_key("retry-after"));
        // Logins are counted apart: the client can still sign in.
        app.login("alice@example.com", PASSWORD).await;
    }
);

db_test!(mails_are_retried_by_the_worker, |app| {
    use recofinement_api::mail::{FlakyTransport, MailQueueConfig, MemoryTransport};
    let delivered = MemoryTransport::default();
    let transport = FlakyTransport {
        failures_left: std::sync::Mutex::new(2),
        inner: delivered.clone(),
    };
    let queue = MailQueueConfig {
        backoff: std::time::Duration::from_millis(10),
        ..MailQueueConfig::default()
    };
    let app = app
        .respawn(test_config(), Some(Mailer::with_queue(transport, queue)))
        .await;
    app.register("alice").await;
    let sent = delivered.wait_for(1).await;
    assert_eq!(sent.len(), 1, "delivered at the third attempt");
    assert_eq!(sent[0].template, Template::Welcome);
});

db_test!(finished_throttling_windows_are_purged, |app| {
    let (status, _) = try_login(&app, "nobody@example.com", "wrongPassword!1").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let rows = "SELECT COUNT(*) FROM login_attempt";
    assert_eq!(app.scalar_i64(rows).await, 3);
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(app.db.purge_attempts(hour).await.unwrap(), 0);
    app.db
        .purge_attempts(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(app.scalar_i64(rows).await, 0);
});
