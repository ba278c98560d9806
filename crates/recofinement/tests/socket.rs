//! The `/recommend` Socket.IO namespace driven by a real Socket.IO v5
//! client speaking Engine.IO v4 long-polling (what socket.io-client 3.x
//! starts with), against the whole server with its engine attached.

mod common;

use serde_json::{Value, json};

use common::{Server, SocketClient};
use recofinement_store::backend_test;

backend_test!(connections_are_refused_with_the_original_messages, |t| {
    let server = Server::start(&t).await;
    let user = server.account(&t, "plain", false).await;
    let admin = server.account(&t, "admin", true).await;
    let refusal = |r: Result<SocketClient, Value>| r.err().expect("refused")["message"].clone();
    assert_eq!(
        refusal(SocketClient::connect(server.address, None).await),
        "Token not found !"
    );
    assert_eq!(
        refusal(SocketClient::connect(server.address, Some("not.a.token")).await),
        "Unauthorized!"
    );
    assert_eq!(
        refusal(SocketClient::connect(server.address, Some(&user)).await),
        "Permission missing!"
    );
    server
        .call(
            reqwest::Method::POST,
            "/api/auth/logout",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        refusal(SocketClient::connect(server.address, Some(&admin)).await),
        "Unauthorized!"
    );
});

backend_test!(a_sandbox_run_reaches_every_tab_and_the_history, |t| {
    let server = Server::start(&t).await;
    let admin = server.account(&t, "admin", true).await;
    let other = server.account(&t, "other", true).await;
    let mine = server.profile(&admin, "mine").await;
    let theirs = server.profile(&other, "theirs").await;
    let mut tab = SocketClient::connect(server.address, Some(&admin))
        .await
        .expect("connected");
    assert_eq!(
        tab.response().await,
        json!({"on": "connect", "action": "connect", "message": "Connected"})
    );
    tab.emit("join", None).await;
    let joined = tab.response().await;
    assert_eq!(joined["message"], "Room successfully joined");
    assert!(joined["room"].as_str().unwrap().starts_with("user"));
    let mut second_tab = SocketClient::connect(server.address, Some(&admin))
        .await
        .expect("connected");
    second_tab.response().await;
    second_tab.emit("join", None).await;
    second_tab.response().await;
    tab.response().await; // the first tab hears the second join too
    // Bad payloads are answered to the sender only.
    tab.emit("recommend", Some(json!({}))).await;
    assert_eq!(
        tab.response().await["message"],
        "Error 400, data must contain 'profile_uuid' attr!"
    );
    tab.emit("recommend", Some(json!({"profile_uuid": "nope"})))
        .await;
    assert_eq!(
        tab.response().await["message"],
        "Error 400, 'profile_uuid' not valid uuid4!"
    );
    // Someone else's profile: always a final answer.
    tab.emit("recommend", Some(json!({"profile_uuid": theirs})))
        .await;
    assert_eq!(tab.response().await["message"], "Room joined");
    let outcome = tab.response().await;
    assert_eq!(outcome["action"], "recommend");
    assert_eq!(outcome["message"], "Error 404, Profile not found!");
    second_tab.response().await;
    second_tab.response().await;
    // One's own profile: the outcome reaches both tabs, the run its history.
    tab.emit("recommend", Some(json!({"profile_uuid": mine})))
        .await;
    assert_eq!(tab.response().await["message"], "Room joined");
    let outcome = tab.response().await;
    assert_eq!(
        outcome["message"], "200, Recommendation complete for this profile!",
        "{outcome}"
    );
    assert_eq!(
        outcome["profile"],
        json!({"uuid": mine, "profilename": "mine"})
    );
    assert_eq!(second_tab.response().await["message"], "Room joined");
    assert_eq!(
        second_tab.response().await["message"],
        "200, Recommendation complete for this profile!"
    );
    let history = server
        .call(
            reqwest::Method::GET,
            &format!("/api/profile/{mine}/history"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(history["content"].as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history["content"][0]["status"], "done");
});
