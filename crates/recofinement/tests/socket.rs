//! The `/recommend` Socket.IO namespace driven by a real Socket.IO v5
//! client speaking Engine.IO v4 long-polling (what socket.io-client 3.x
//! starts with), against the whole server with its engine attached.

mod common;

use serde_json::{Value, json};

use common::{SocketClient, TestServer};
use recofinement_store::backend_test;
use recofinement_store::testing::require_service;

backend_test!(connections_are_refused_with_the_original_messages, |t| {
    let server = common::server(&t).await;
    let user = server.account("plain", false).await;
    let admin = server.account("admin", true).await;
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
    let (status, _) = server.logout(&admin).await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    assert_eq!(
        refusal(SocketClient::connect(server.address, Some(&admin)).await),
        "Unauthorized!"
    );
});

backend_test!(a_sandbox_run_reaches_every_tab_and_the_history, |t| {
    let server = common::server(&t).await;
    let admin = server.account("admin", true).await;
    let other = server.account("other", true).await;
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
        .get(&format!("/api/profile/{mine}/history"), &admin)
        .await
        .1;
    assert_eq!(history["content"].as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history["content"][0]["status"], "done");

    // Leaving: the room hears of it, and the leaver hears the room no more.
    second_tab.emit("leave", None).await;
    let left = tab.response().await;
    assert_eq!(left["on"], "leave", "{left}");
    assert_eq!(left["message"], "Room successfully leaved");
    assert_eq!(left["room"], joined["room"]);
    tab.emit("recommend", Some(json!({"profile_uuid": mine})))
        .await;
    assert_eq!(tab.response().await["message"], "Room joined");
    assert_eq!(
        tab.response().await["message"],
        "200, Recommendation complete for this profile!"
    );
    second_tab.emit("join", None).await;
    assert_eq!(
        second_tab.response().await["message"],
        "Room successfully joined",
        "the run's messages did not reach the tab that had left"
    );
});

/// The browser client's own library, socket.io-client 3.x, run by Node when
/// `SOCKET_IO_CLIENT_DIR` names a directory where it is installed (CI
/// installs it: bash .ci/run).
const ORIGINAL_CLIENT: &str = r#"
const { io } = require(process.env.SOCKET_IO_CLIENT_DIR + "/node_modules/socket.io-client");
const socket = io(process.env.SERVER + "/recommend", { extraHeaders: { token: process.env.TOKEN } });
const done = (code) => { socket.close(); process.exit(code); };
socket.on("connect_error", (error) => { console.log(JSON.stringify({ connect_error: error.message })); done(0); });
socket.on("server_response", (message) => {
    console.log(JSON.stringify(message));
    if (message.on === "connect") socket.emit("join");
    if (message.on === "join") socket.emit("recommend", { profile_uuid: process.env.PROFILE });
    if (message.on === "recommend" && message.action === "recommend") done(0);
});
setTimeout(() => done(1), 20000);
"#;

/// Runs the original client; returns the messages it printed.
async fn original_client(server: &TestServer, token: &str, profile: &str) -> Option<Vec<Value>> {
    let dir = require_service(module_path!(), "SOCKET_IO_CLIENT_DIR")?;
    let output = tokio::process::Command::new("node")
        .arg("-e")
        .arg(ORIGINAL_CLIENT)
        .env("SOCKET_IO_CLIENT_DIR", dir)
        .env("SERVER", format!("http://{}", server.address))
        .env("TOKEN", token)
        .env("PROFILE", profile)
        .output()
        .await
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).expect("JSON line"))
            .collect(),
    )
}

backend_test!(the_original_socket_io_client_runs_the_sandbox, |t| {
    let server = common::server(&t).await;
    let admin = server.account("admin", true).await;
    let profile = server.profile(&admin, "mine").await;
    let Some(messages) = original_client(&server, &admin, &profile).await else {
        return;
    };
    let texts: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["message"].as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "Connected",
            "Room successfully joined",
            "Room joined",
            "200, Recommendation complete for this profile!"
        ]
    );
    let user = server.account("plain", false).await;
    let refused = original_client(&server, &user, &profile).await.unwrap();
    assert_eq!(refused, [json!({"connect_error": "Permission missing!"})]);
});
