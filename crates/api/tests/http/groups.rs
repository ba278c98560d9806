//! Groups and invitations (spec §8, D3, D19, D34).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::db_test;
use crate::support::TestApp;

/// Invites the user `uuid` to the group at `group` as the holder of `token`.
async fn invite(app: &TestApp, group: &str, token: &str, uuid: &str) -> (StatusCode, Value) {
    let body = json!({ "uuid": uuid });
    app.post(&format!("{group}/invitations"), Some(token), body)
        .await
}

/// Sends DELETE `path` as each (who, token) in turn; checks each status.
async fn expect_deletes(app: &TestApp, path: &str, cases: &[(&str, &str, StatusCode)]) {
    for &(who, token, expected) in cases {
        let (status, body) = app.delete(path, token).await;
        assert_eq!(status, expected, "DELETE {path} as {who}: {body}");
    }
}

db_test!(a_group_lives_from_creation_to_deletion, |app| {
    let (owner, owner_uuid) = app.register("owner").await;
    let (friend, friend_uuid) = app.register("friend").await;
    let (stranger, _) = app.register("stranger").await;
    let (status, body) = app
        .post("/api/group", Some(&owner), json!({"name": "friends"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["message"], "Group data created");
    assert_eq!(body["group"]["owner"]["uuid"], owner_uuid.as_str());
    assert_eq!(body["group"]["members"], json!([]));
    let id = body["group"]["group_id"].as_i64().unwrap();
    let group = format!("/api/group/{id}");
    // Only the owner invites.
    let (status, body) = invite(&app, &group, &friend, &friend_uuid).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        "Unable to invite member to a not owned group"
    );
    let (status, body) = invite(&app, &group, &owner, &friend_uuid).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "User invited to group");
    assert_eq!(
        body["group"]["invitations"][0]["uuid"],
        friend_uuid.as_str()
    );
    assert_eq!(
        body["group"]["invitations"][0]["email"],
        Value::Null,
        "strangers' e-mails are hidden"
    );
    let (status, body) = invite(&app, &group, &owner, &friend_uuid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "Invitation already sended !");
    let (status, body) = invite(&app, &group, &owner, &owner_uuid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "You can not invite yourself to your group !"
    );
    let (status, body) = invite(&app, &group, &owner, "nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"], json!(["Not a valid UUID."]));
    let (status, body) = invite(&app, &group, &owner, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Member not found!");
    // The invitee sees the group; a stranger does not.
    assert_eq!(app.get(&group, &friend).await.0, StatusCode::OK);
    assert_eq!(app.get(&group, &stranger).await.0, StatusCode::FORBIDDEN);
    // Only the invitee accepts.
    let accept = format!("{group}/invitations/{friend_uuid}");
    let (status, body) = app.put(&accept, &owner).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        "Unable to accept an invitation that is not intended to you"
    );
    let (status, body) = app.put(&accept, &friend).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Member add to group");
    assert_eq!(body["group"]["members"][0]["uuid"], friend_uuid.as_str());
    let (status, body) = app.put(&accept, &friend).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Invitation not found !");
    let (_, body) = app.get(&format!("/api/user/{friend_uuid}"), &friend).await;
    assert_eq!(body["user"]["groups"][0]["group_id"], id);
    let (status, body) = invite(&app, &group, &owner, &friend_uuid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "User is already a member of this group !");
    // A stranger cannot leave what they are not in (no 500, D19).
    let (status, body) = app.delete(&group, &stranger).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["message"], "You are not a member of this group");
    // The member leaves; the owner deletes.
    let leave = [
        ("friend", friend.as_str(), StatusCode::NO_CONTENT),
        ("owner", owner.as_str(), StatusCode::NO_CONTENT),
    ];
    expect_deletes(&app, &group, &leave).await;
    let (status, body) = app.get(&group, &owner).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Group not found!");
});

db_test!(
    invitations_are_declined_or_withdrawn_and_members_removed,
    |app| {
        let (owner, _) = app.register("owner").await;
        let (friend, friend_uuid) = app.register("friend").await;
        let (stranger, _) = app.register("stranger").await;
        let (_, body) = app
            .post("/api/group", Some(&owner), json!({"name": "club"}))
            .await;
        let group = format!("/api/group/{}", body["group"]["group_id"]);
        invite(&app, &group, &owner, &friend_uuid).await;
        let invitation = format!("{group}/invitations/{friend_uuid}");
        let withdraw = [
            ("stranger", stranger.as_str(), StatusCode::FORBIDDEN),
            ("owner", owner.as_str(), StatusCode::NO_CONTENT),
            ("friend", friend.as_str(), StatusCode::NOT_FOUND),
        ];
        expect_deletes(&app, &invitation, &withdraw).await;
        assert_eq!(
            app.delete(&format!("{group}/invitations/not-a-uuid"), &owner)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        invite(&app, &group, &owner, &friend_uuid).await;
        app.put(&invitation, &friend).await;
        let member = format!("{group}/members/{friend_uuid}");
        let remove = [
            ("friend", friend.as_str(), StatusCode::FORBIDDEN),
            ("owner", owner.as_str(), StatusCode::NO_CONTENT),
        ];
        expect_deletes(&app, &member, &remove).await;
        assert_eq!(app.get(&group, &friend).await.0, StatusCode::FORBIDDEN);
        let (status, body) = app
            .post("/api/group", Some(&owner), json!({"name": "a b"}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["errors"], json!(["Invalid name!"]));
    }
);

db_test!(group_recommendations_keep_the_best_row_per_item, |app| {
    let (admin, _) = app.register_admin("admin").await;
    let (owner, _) = app.register("owner").await;
    let (friend, friend_uuid) = app.register("friend").await;
    let a = app
        .add_item(&admin, "book", json!({"isbn": "111", "title": "Alpha"}))
        .await;
    let b = app
        .add_item(&admin, "book", json!({"isbn": "222", "title": "Beta"}))
        .await;
    let mut groups = Vec::new();
    for name in ["one", "two"] {
        let (_, body) = app
            .post("/api/group", Some(&owner), json!({"name": name}))
            .await;
        let id = body["group"]["group_id"].as_i64().unwrap();
        invite(&app, &format!("/api/group/{id}"), &owner, &friend_uuid).await;
        app.put(
            &format!("/api/group/{id}/invitations/{friend_uuid}"),
            &friend,
        )
        .await;
        groups.push(id);
    }
    for (group, item, score) in [
        (groups[0], a, 0.2),
        (groups[1], a, 0.7),
        (groups[1], b, 0.5),
    ] {
        app.sql(&format!(
            "INSERT INTO recommended_content_for_group (group_id, content_id, score, engine, engine_priority, content_type) \
             VALUES ({group}, {item}, {score}, 'FromProfile', 4, 'BOOK')"
        ))
        .await;
    }
    for token in [&owner, &friend] {
        let (status, body) = app
            .get("/api/book/groups?reco_engine=FromProfile", token)
            .await;
        assert_eq!(status, StatusCode::OK);
        let items = body["content"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{body}");
        assert_eq!(items[0]["content_id"], a);
        assert_eq!(items[0]["reco_score"], 0.7);
        assert_eq!(items[1]["content_id"], b);
    }
    let (_, body) = app.get("/api/book/groups", &admin).await;
    assert_eq!(body["content"], json!([]), "no group, no recommendation");
});

/// What `GET /api/user/{uuid}` says of the caller's groups: the ids of its
/// `groups`, `invitations` and `owned_groups`.
async fn group_lists(app: &TestApp, token: &str, uuid: &str) -> [Vec<i64>; 3] {
    let (status, body) = app.get(&format!("/api/user/{uuid}"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    ["groups", "invitations", "owned_groups"].map(|list| {
        body["user"][list]
            .as_array()
            .unwrap_or_else(|| panic!("{list} in {body}"))
            .iter()
            .map(|g| g["group_id"].as_i64().unwrap())
            .collect()
    })
}

// One's own account is cached (list cache on, as by default): each change
// of groups, made by the account or by somebody else, shows at once.
db_test!(
    an_account_answer_follows_every_group_change_at_once,
    |app| {
        let (owner, owner_uuid) = app.register("owner").await;
        let (friend, friend_uuid) = app.register("friend").await;
        let none: [Vec<i64>; 3] = Default::default();
        assert_eq!(group_lists(&app, &owner, &owner_uuid).await, none);
        assert_eq!(group_lists(&app, &friend, &friend_uuid).await, none);
        let (_, body) = app
            .post("/api/group", Some(&owner), json!({"name": "friends"}))
            .await;
        let id = body["group"]["group_id"].as_i64().unwrap();
        let group = format!("/api/group/{id}");
        assert_eq!(
            group_lists(&app, &owner, &owner_uuid).await,
            [vec![], vec![], vec![id]]
        );
        // Each step below finds the friend's answer cached by the step before.
        assert_eq!(group_lists(&app, &friend, &friend_uuid).await, none);
        invite(&app, &group, &owner, &friend_uuid).await;
        assert_eq!(
            group_lists(&app, &friend, &friend_uuid).await,
            [vec![], vec![id], vec![]],
            "the invitee's cached answer shows the invitation"
        );
        let accept = format!("{group}/invitations/{friend_uuid}");
        app.put(&accept, &friend).await;
        assert_eq!(
            group_lists(&app, &friend, &friend_uuid).await,
            [vec![id], vec![], vec![]]
        );
        app.delete(&group, &owner).await;
        assert_eq!(
            group_lists(&app, &friend, &friend_uuid).await,
            none,
            "a deleted group leaves its members' answers"
        );
        // The account's own fields too.
        let (status, _) = app
            .patch(
                &format!("/api/user/{friend_uuid}"),
                &friend,
                json!({"username": "renamed"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        app.put("/api/user/preferences_defined", &friend).await;
        let (_, body) = app.get(&format!("/api/user/{friend_uuid}"), &friend).await;
        assert_eq!(body["user"]["username"], "renamed");
        assert_eq!(body["user"]["preferences_defined"], true);
    }
);
