//! Sandbox runs are bounded across instances (issue 11, item 7): runs
//! still computing anywhere on the database count against
//! `SANDBOX_MAX_RUNS_TOTAL`.

mod common;

use serde_json::json;

use common::SocketClient;
use recofinement_store::backend_test;

backend_test!(launches_past_the_global_limit_are_refused, |t| {
    let server = common::server(&t).await;
    let admin = server.account("admin", true).await;
    let profile = server.profile(&admin, "busy").await;
    let profile_id = t
        .scalar(&format!(
            "SELECT profile_id FROM profile WHERE uuid = '{profile}'"
        ))
        .await;
    // Other instances are computing as many runs as all may (4 by default).
    for _ in 0..4 {
        t.db.snapshot_profile(profile_id).await.unwrap();
    }
    let mut tab = SocketClient::connect(server.address, Some(&admin))
        .await
        .expect("connected");
    tab.response().await;
    tab.emit("recommend", Some(json!({"profile_uuid": profile})))
        .await;
    assert_eq!(tab.response().await["message"], "Room joined");
    assert_eq!(
        tab.response().await["message"],
        "Error 429, Too many recommendations are running, try again later!"
    );
});
