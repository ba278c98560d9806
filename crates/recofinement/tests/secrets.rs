//! The installation's keys live outside the database they protect: a key
//! file beside SQLite, required settings on PostgreSQL, and keys that
//! earlier versions stored in `app_setting` moved out at start.

use recofinement::secrets::{self, GivenKeys, KeyFile};
use recofinement_api::integrations::{TokenCipher, TokenKey, grant_aad};
use recofinement_store::backend_test;
use recofinement_store::testing::{Backend, TestDb};

/// A key file in a directory of its own (removed by the caller).
fn key_file_in_temp(kind: fn(std::path::PathBuf) -> KeyFile) -> (std::path::PathBuf, KeyFile) {
    let dir = std::env::temp_dir().join(format!("recofinement-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = kind(dir.join("test.db.keys"));
    (dir, file)
}

/// A fresh SQLite database whose first start generated its key file.
async fn sqlite_with_generated_keys() -> (TestDb, std::path::PathBuf, KeyFile, secrets::Keys) {
    let t = TestDb::fresh(Backend::Sqlite).await;
    let (dir, file) = key_file_in_temp(KeyFile::Beside);
    let keys = secrets::resolve(&t.db, &file, GivenKeys::default())
        .await
        .unwrap();
    (t, dir, file, keys)
}

async fn settings_left(t: &TestDb) -> i64 {
    t.scalar("SELECT COUNT(*) FROM app_setting").await
}

#[tokio::test]
async fn sqlite_generates_a_private_key_file_once() {
    let (t, dir, file, first) = sqlite_with_generated_keys().await;
    let path = dir.join("test.db.keys");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = secrets::resolve(&t.db, &file, GivenKeys::default())
        .await
        .unwrap();
    assert_eq!(first.secret_key, again.secret_key);
    assert_eq!(first.secret_key.len(), 64);
    assert_eq!(settings_left(&t).await, 0, "no key in the database");
    // A given key wins over the file.
    let given = GivenKeys {
        secret_key: Some("a-configured-secret-key".into()),
        ..GivenKeys::default()
    };
    let keys = secrets::resolve(&t.db, &file, given).await.unwrap();
    assert_eq!(keys.secret_key, "a-configured-secret-key");
    std::fs::remove_dir_all(dir).unwrap();
}

/// PostgreSQL only (skipped without TEST_DATABASE_URL): SQLite has its key file.
#[tokio::test]
async fn postgres_refuses_to_start_without_keys() {
    if !recofinement_store::testing::postgres_enabled(module_path!()) {
        return;
    }
    let t = TestDb::fresh(Backend::Postgres).await;
    let (dir, file) = key_file_in_temp(KeyFile::MovedTo);
    let error = secrets::resolve(&t.db, &file, GivenKeys::default())
        .await
        .err()
        .expect("no keys given")
        .to_string();
    for needed in [
        "SECRET_KEY",
        "TOKEN_ENCRYPTION_KEY",
        "recofinement secret generate",
    ] {
        assert!(error.contains(needed), "{error}");
    }
    let given = GivenKeys {
        secret_key: Some(secrets::generate()),
        token_key: Some(secrets::generate()),
        ..GivenKeys::default()
    };
    secrets::resolve(&t.db, &file, given).await.unwrap();
    assert!(
        !dir.join("test.db.keys").exists(),
        "nothing written on PostgreSQL"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

backend_test!(keys_stored_in_the_database_are_moved_out, |t| {
    let legacy_token_key = secrets::generate();
    t.sql(&format!(
        "INSERT INTO app_setting (name, value) VALUES ('jwt_secret', 'legacy-secret-of-the-database'), \
         ('token_encryption_key', '{legacy_token_key}')"
    ))
    .await;
    let kind = match t.backend {
        Backend::Sqlite => KeyFile::Beside,
        Backend::Postgres => KeyFile::MovedTo,
    };
    let (dir, file) = key_file_in_temp(kind);
    let first = secrets::resolve(&t.db, &file, GivenKeys::default()).await;
    let text = std::fs::read_to_string(dir.join("test.db.keys")).unwrap();
    assert!(
        text.contains("SECRET_KEY=legacy-secret-of-the-database"),
        "{text}"
    );
    assert!(text.contains(&format!("TOKEN_ENCRYPTION_KEY={legacy_token_key}")));
    if t.backend == Backend::Sqlite {
        // The key file is the key source: the keys leave the table at once,
        // and the moved keys are the ones used (sessions and grants work).
        assert_eq!(settings_left(&t).await, 0, "no key left in any table");
        let keys = secrets::resolve(&t.db, &file, GivenKeys::default())
            .await
            .unwrap();
        assert_eq!(keys.secret_key, "legacy-secret-of-the-database");
    } else {
        // The file may not outlive this process: the start stops, names
        // it, and the database keeps its copies until a start has the keys.
        let error = first.err().expect("no keys given").to_string();
        assert!(error.contains("test.db.keys"), "{error}");
        assert_eq!(settings_left(&t).await, 2, "kept until the keys are given");
        let given = GivenKeys {
            secret_key: Some("legacy-secret-of-the-database".into()),
            token_key: Some(secrets::generate()),
            ..GivenKeys::default()
        };
        let keys = secrets::resolve(&t.db, &file, given).await.unwrap();
        assert_eq!(settings_left(&t).await, 0, "no key left in any table");
        // Another token key was given: grants the legacy one sealed still open.
        let legacy = TokenKey::from_hex(&legacy_token_key).unwrap();
        let aad = grant_aad(1, "Spotify");
        let sealed = TokenCipher::new(&legacy).encrypt("grant", aad.as_bytes());
        let both = TokenCipher::rotating(&keys.token_key, keys.token_key_previous.as_ref());
        assert_eq!(
            both.decrypt(&sealed, aad.as_bytes()).as_deref(),
            Some("grant")
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
});

backend_test!(rotation_reseals_every_provider_token, |t| {
    let (old, new) = (secrets::generate(), secrets::generate());
    let old_cipher = TokenCipher::new(&TokenKey::from_hex(&old).unwrap());
    let user =
        t.db.create_user("alice@example.com", "alice", "$2b$04$x", "user")
            .await
            .unwrap();
    let aad = grant_aad(user.user_id, "Spotify");
    let sealed = old_cipher.encrypt("provider-access", aad.as_bytes());
    let refresh = old_cipher.encrypt("provider-refresh", aad.as_bytes());
    t.db.link_external(
        user.user_id,
        recofinement_domain::Service::Spotify,
        &sealed,
        Some(&refresh),
    )
    .await
    .unwrap();
    let (dir, file) = key_file_in_temp(KeyFile::MovedTo);
    let given = GivenKeys {
        secret_key: Some(secrets::generate()),
        token_key: Some(new.clone()),
        token_key_previous: Some(old),
        ..GivenKeys::default()
    };
    let keys = secrets::resolve(&t.db, &file, given).await.unwrap();
    assert_eq!(secrets::reencrypt_tokens(&t.db, &keys).await.unwrap(), 1);
    let only_new = TokenCipher::new(&TokenKey::from_hex(&new).unwrap());
    let grant = t.db.external_grants().await.unwrap().pop().unwrap();
    let open = |v: &Option<String>| only_new.decrypt(v.as_deref().unwrap(), aad.as_bytes());
    assert_eq!(
        open(&grant.access_token).as_deref(),
        Some("provider-access")
    );
    assert_eq!(
        open(&grant.refresh_token).as_deref(),
        Some("provider-refresh")
    );
    std::fs::remove_dir_all(dir).unwrap();
});

// On SQLite the key file is the key source: a rotation given the new token
// key on the command line must leave it there, or the next plain start
// would read the old key and open none of the re-sealed grants.
#[tokio::test]
async fn a_rotation_on_sqlite_leaves_the_new_key_in_the_key_file() {
    let (t, dir, file, old) = sqlite_with_generated_keys().await;
    let user =
        t.db.create_user("alice@example.com", "alice", "$2b$04$x", "user")
            .await
            .unwrap();
    let aad = grant_aad(user.user_id, "Spotify");
    let sealed = TokenCipher::new(&old.token_key).encrypt("provider-access", aad.as_bytes());
    let service = recofinement_domain::Service::Spotify;
    t.db.link_external(user.user_id, service, &sealed, None)
        .await
        .unwrap();
    let new = secrets::generate();
    let rotation = GivenKeys {
        token_key: Some(new.clone()),
        ..GivenKeys::default()
    };
    assert_eq!(secrets::rotate(&t.db, &file, rotation).await.unwrap(), 1);
    // The next start is given nothing.
    let next = secrets::resolve(&t.db, &file, GivenKeys::default())
        .await
        .unwrap();
    let grant = t.db.external_grants().await.unwrap().pop().unwrap();
    let stored = grant.access_token.as_deref().unwrap();
    let started = TokenCipher::new(&next.token_key);
    assert_eq!(
        started.decrypt(stored, aad.as_bytes()).as_deref(),
        Some("provider-access"),
        "the start opens the re-sealed grant"
    );
    // A grant left sealed with the old key (a rotation cut short) opens too.
    let both = TokenCipher::rotating(&next.token_key, next.token_key_previous.as_ref());
    assert_eq!(
        both.decrypt(&sealed, aad.as_bytes()).as_deref(),
        Some("provider-access")
    );
    std::fs::remove_dir_all(dir).unwrap();
}
