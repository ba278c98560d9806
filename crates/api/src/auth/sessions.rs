//! The auth state every protected request checks — the account exists, the
//! token's version is current, the token is not revoked, the permissions —
//! held in process, so that a token-checked read costs no database round
//! trip. Every store write that changes it announces
//! [`ListChange::Account`]; every instance hears it (PostgreSQL
//! `LISTEN/NOTIFY`, SQLite in-process) and drops the account's entry, and the
//! instance that wrote drops it before answering. An entry is trusted for
//! [`MAX_AGE`] at most, which bounds what no notice reaches (a lost
//! notice, a second process on one SQLite file).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use recofinement_store::Db;
use recofinement_store::users::Session;

use crate::error::AppResult;

/// Longest an entry is believed without a fresh read.
pub const MAX_AGE: Duration = Duration::from_secs(5);
/// Accounts kept at most; past that the cache starts afresh.
const CAPACITY: usize = 100_000;
/// Token ids remembered per account; an account logging in more often than
/// this within [`MAX_AGE`] just reads the database more.
const TOKENS_PER_ACCOUNT: usize = 64;

/// What is known of one account.
struct Account {
    fetched_at: Instant,
    user_id: i64,
    token_version: i64,
    /// Token id → revoked.
    tokens: HashMap<String, bool>,
    /// Permission names, once a request needed them.
    permissions: Option<Arc<[String]>>,
}

#[derive(Default)]
struct Accounts {
    by_uuid: HashMap<String, Account>,
    uuid_of: HashMap<i64, String>,
    /// Changes heard so far: a read that started before a change is not
    /// stored, since it may show the state before it.
    changes_seen: u64,
}

impl Accounts {
    fn fresh(&self, uuid: &str) -> Option<&Account> {
        self.by_uuid
            .get(uuid)
            .filter(|account| account.fetched_at.elapsed() < MAX_AGE)
    }

    fn forget(&mut self, user_id: i64) {
        if let Some(uuid) = self.uuid_of.remove(&user_id) {
            self.by_uuid.remove(&uuid);
        }
        self.changes_seen += 1;
    }

    fn clear(&mut self) {
        self.by_uuid.clear();
        self.uuid_of.clear();
        self.changes_seen += 1;
    }

    /// Keeps what a read that started after `since` changes found.
    fn store_session(&mut self, since: u64, uuid: &str, jti: &str, session: &Session) {
        if self.changes_seen != since {
            return;
        }
        if self.by_uuid.len() >= CAPACITY {
            self.by_uuid.clear();
            self.uuid_of.clear();
        }
        let account = match self.by_uuid.get_mut(uuid) {
            Some(account)
                if account.user_id == session.user_id
                    && account.token_version == session.token_version
                    && account.fetched_at.elapsed() < MAX_AGE =>
            {
                account
            }
            _ => {
                self.uuid_of.insert(session.user_id, uuid.to_string());
                self.by_uuid.insert(
                    uuid.to_string(),
                    Account {
                        fetched_at: Instant::now(),
                        user_id: session.user_id,
                        token_version: session.token_version,
                        tokens: HashMap::new(),
                        permissions: None,
                    },
                );
                self.by_uuid.get_mut(uuid).expect("just inserted")
            }
        };
        if account.tokens.len() >= TOKENS_PER_ACCOUNT {
            account.tokens.clear();
        }
        account.tokens.insert(jti.to_string(), session.revoked);
    }
}

/// The cache of auth state; shared by every request of an instance.
#[derive(Default)]
pub struct SessionCache {
    accounts: Mutex<Accounts>,
    /// Set when change notices can no longer be heard: every check then
    /// reads the database.
    stopped: AtomicBool,
}

impl SessionCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Accounts> {
        // A panic while holding the lock leaves consistent maps behind.
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session of token `jti` of the account `uuid` (`None`: no such
    /// account).
    pub async fn session(&self, db: &Db, uuid: &str, jti: &str) -> AppResult<Option<Session>> {
        if self.stopped.load(Ordering::Relaxed) {
            return Ok(db.session(uuid, jti).await?);
        }
        let since = {
            let accounts = self.lock();
            if let Some(account) = accounts.fresh(uuid)
                && let Some(revoked) = account.tokens.get(jti)
            {
                return Ok(Some(Session {
                    user_id: account.user_id,
                    token_version: account.token_version,
                    revoked: *revoked,
                }));
            }
            accounts.changes_seen
        };
        let session = db.session(uuid, jti).await?;
        if let Some(session) = &session {
            self.lock().store_session(since, uuid, jti, session);
        }
        Ok(session)
    }

    /// Whether the account holds `permission`.
    pub async fn has_permission(
        &self,
        db: &Db,
        uuid: &str,
        user_id: i64,
        permission: &str,
    ) -> AppResult<bool> {
        if self.stopped.load(Ordering::Relaxed) {
            return Ok(db.has_permission(user_id, permission).await?);
        }
        let since = {
            let accounts = self.lock();
            if let Some(account) = accounts.fresh(uuid).filter(|a| a.user_id == user_id)
                && let Some(permissions) = &account.permissions
            {
                return Ok(permissions.iter().any(|p| p == permission));
            }
            accounts.changes_seen
        };
        let permissions: Arc<[String]> = db.permissions(user_id).await?.into();
        let held = permissions.iter().any(|p| p == permission);
        let mut accounts = self.lock();
        if accounts.changes_seen == since
            && let Some(account) = accounts.by_uuid.get_mut(uuid)
            && account.user_id == user_id
        {
            account.permissions = Some(permissions);
        }
        Ok(held)
    }

    /// The account's auth state changed: forget it (call it before
    /// answering the request that changed it).
    pub fn forget(&self, user_id: i64) {
        self.lock().forget(user_id);
    }

    /// Forgets everything (a notice may have been missed).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Change notices can no longer be heard: stop trusting entries.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(user_id: i64, token_version: i64) -> Session {
        Session {
            user_id,
            token_version,
            revoked: false,
        }
    }

    #[test]
    fn a_change_drops_the_account_and_nothing_else() {
        let mut accounts = Accounts::default();
        accounts.store_session(0, "u1", "t1", &session(1, 0));
        accounts.store_session(0, "u2", "t2", &session(2, 0));
        assert!(
            accounts
                .fresh("u1")
                .is_some_and(|a| a.tokens.contains_key("t1"))
        );
        accounts.forget(1);
        assert!(accounts.fresh("u1").is_none());
        assert!(accounts.fresh("u2").is_some());
    }

    #[test]
    fn a_read_that_overlapped_a_change_is_not_kept() {
        let mut accounts = Accounts::default();
        let since = accounts.changes_seen;
        // The account's password changed while its old state was being read.
        accounts.forget(1);
        accounts.store_session(since, "u1", "t1", &session(1, 0));
        assert!(accounts.fresh("u1").is_none());
    }

    #[test]
    fn a_new_token_version_replaces_what_was_known() {
        let mut accounts = Accounts::default();
        accounts.store_session(0, "u1", "old", &session(1, 0));
        accounts.store_session(0, "u1", "new", &session(1, 1));
        let account = accounts.fresh("u1").unwrap();
        assert_eq!(account.token_version, 1);
        assert!(!account.tokens.contains_key("old"));
    }
}
