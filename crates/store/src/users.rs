//! Accounts, their roles and permissions.

use sqlx::FromRow;

use recofinement_domain::{Listing, Page};

use crate::changes::ListChange;
use crate::dialect::BeginWrite;
use crate::events::write_event;
use crate::interactions::META_COLUMNS;
use crate::listing::{ListQuery, page_of};
use crate::tokens::void_reset_links;
use crate::{Db, StoreError, StoreResult, now, on_db};

/// Marker of accounts imported from the public datasets: they never log in.
pub const NO_PASSWORD: &str = "no_pwd";

#[derive(Clone, Debug, FromRow)]
pub struct User {
    pub user_id: i64,
    pub uuid: String,
    pub email: Option<String>,
    pub username: String,
    pub password_hash: String,
    pub preferences_defined: bool,
    pub token_version: i64,
}

/// What the authentication extractor needs per request, read in one query.
#[derive(Clone, Debug, FromRow)]
pub struct Session {
    pub user_id: i64,
    pub token_version: i64,
    pub revoked: bool,
}

pub(crate) const USER_COLUMNS: &str =
    "user_id, uuid, email, username, password_hash, preferences_defined, token_version";

/// Fields of an account update; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password_hash: Option<String>,
}

impl Db {
    /// Creates an account and gives it the role named `role` (when it exists),
    /// in one transaction. A taken e-mail is a `Conflict`.
    pub async fn create_user(
        &self,
        email: &str,
        username: &str,
        password_hash: &str,
        role: &str,
    ) -> StoreResult<User> {
        let uuid = uuid::Uuid::new_v4().to_string();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let user: User = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "INSERT INTO \"user\" (uuid, email, username, password_hash, preferences_defined) \
                 VALUES ($1, $2, $3, $4, FALSE) RETURNING {USER_COLUMNS}"
            )))
            .bind(&uuid)
            .bind(email)
            .bind(username)
            .bind(password_hash)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO user_role (user_id, role_id) SELECT $1, role_id FROM role WHERE name = $2 \
                 ON CONFLICT DO NOTHING",
            )
            .bind(user.user_id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(user)
        })
    }

    pub async fn user_by_uuid(&self, uuid: &str) -> StoreResult<Option<User>> {
        self.user_where("uuid = $1", uuid).await
    }

    pub async fn user_by_id(&self, user_id: i64) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM \"user\" WHERE user_id = $1");
        on_db!(self, pool => Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_optional(pool).await?))
    }

    /// E-mails are stored lower-cased, so callers pass the normalised form.
    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.user_where("email = $1", email).await
    }

    async fn user_where(&self, condition: &'static str, value: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM \"user\" WHERE {condition}");
        on_db!(self, pool => Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(pool).await?))
    }

    /// The per-request check of an access token: does the user exist, which
    /// token version is current, and is this token id revoked.
    pub async fn session(&self, uuid: &str, jti: &str) -> StoreResult<Option<Session>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT u.user_id, u.token_version, \
                    EXISTS (SELECT 1 FROM revoked_token r WHERE r.jti = $2) AS revoked \
             FROM \"user\" u WHERE u.uuid = $1",
        )
        .bind(uuid)
        .bind(jti)
        .fetch_optional(pool)
        .await?))
    }

    /// Permission names of every role of the user, in database order (a
    /// permission held through two roles appears twice, as in the original).
    pub async fn permissions(&self, user_id: i64) -> StoreResult<Vec<String>> {
        on_db!(self, pool => {
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT rp.permission FROM user_role ur \
                 JOIN role_permission rp ON rp.role_id = ur.role_id \
                 WHERE ur.user_id = $1 ORDER BY ur.role_id, rp.permission",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?;
            Ok(rows.into_iter().map(|(p,)| p).collect())
        })
    }

    /// Whether the user currently holds `permission` (read from the database,
    /// not from the token, so a demotion takes effect at once).
    pub async fn has_permission(&self, user_id: i64, permission: &str) -> StoreResult<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM user_role ur \
                   JOIN role_permission rp ON rp.role_id = ur.role_id \
                   WHERE ur.user_id = $1 AND rp.permission = $2)";
        self.user_holds(sql, user_id, permission).await
    }

    /// Applies the given changes. A new password bumps the token version, which
    /// ends every session issued before it; a new password or e-mail also
    /// voids the reset links already mailed, in the same transaction (a link
    /// sent to an address the owner has left must not outlive the move). Any
    /// change is announced (cached auth state and account answers).
    pub async fn update_user(&self, user_id: i64, changes: &UserChanges) -> StoreResult<()> {
        let voids_resets = changes.email.is_some() || changes.password_hash.is_some();
        let now = now();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let result = sqlx::query(
                "UPDATE \"user\" SET username = COALESCE($2, username), email = COALESCE($3, email), \
                 password_hash = COALESCE($4, password_hash), \
                 token_version = token_version + CASE WHEN $4 IS NULL THEN 0 ELSE 1 END \
                 WHERE user_id = $1",
            )
            .bind(user_id)
            .bind(changes.username.as_deref())
            .bind(changes.email.as_deref())
            .bind(changes.password_hash.as_deref())
            .execute(&mut *tx)
            .await?;
            if result.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            if voids_resets {
                void_reset_links(&mut *tx, user_id, now).await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.announce(ListChange::Account { user_id }).await;
        Ok(())
    }

    pub async fn set_preferences_defined(&self, user_id: i64) -> StoreResult<()> {
        let written = on_db!(self, pool => {
            sqlx::query("UPDATE \"user\" SET preferences_defined = TRUE WHERE user_id = $1")
                .bind(user_id)
                .execute(pool)
                .await?;
            Ok(())
        });
        self.announced(ListChange::Account { user_id }, written)
            .await
    }

    /// Deletes an account; the schema's cascades remove everything that is
    /// the user's, in the same statement. Its ratings leave the items'
    /// averages first, in the same transaction: left in, an account made,
    /// rated with and deleted again and again would move an item's score
    /// for good.
    pub async fn delete_user(&self, user_id: i64) -> StoreResult<()> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "UPDATE content SET \
                   rating = CASE WHEN content.rating_count > 1 \
                     THEN (content.rating * content.rating_count - m.rating) / (content.rating_count - 1) \
                     ELSE NULL END, \
                   rating_count = CASE WHEN content.rating_count > 0 THEN content.rating_count - 1 ELSE 0 END \
                 FROM meta_user_content m \
                 WHERE m.user_id = $1 AND m.rating IS NOT NULL AND content.content_id = m.content_id",
            )
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM \"user\" WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        // Its groups went with it, it left the others, and averages moved.
        self.announce(ListChange::Account { user_id }).await;
        self.announce(ListChange::Memberships).await;
        self.announce(ListChange::Catalogue).await;
        Ok(())
    }

    /// Gives the role named `role` to the account with this e-mail.
    pub async fn grant_role(&self, email: &str, role: &str) -> StoreResult<()> {
        let user = self
            .user_by_email(email)
            .await?
            .ok_or(StoreError::NotFound)?;
        on_db!(self, pool => {
            let result = sqlx::query(
                "INSERT INTO user_role (user_id, role_id) SELECT $1, role_id FROM role WHERE name = $2 \
                 ON CONFLICT DO NOTHING",
            )
            .bind(user.user_id)
            .bind(role)
            .execute(pool)
            .await?;
            if result.rows_affected() == 0 && !self.has_role(user.user_id, role).await? {
                return Err(StoreError::invalid_message(format!("unknown role {role:?}")));
            }
            Ok::<_, StoreError>(())
        })?;
        self.announce(ListChange::Account {
            user_id: user.user_id,
        })
        .await;
        Ok(())
    }

    /// Takes the role named `role` from the account with this e-mail;
    /// false when it did not hold it.
    pub async fn revoke_role(&self, email: &str, role: &str) -> StoreResult<bool> {
        let user = self
            .user_by_email(email)
            .await?
            .ok_or(StoreError::NotFound)?;
        let revoked = on_db!(self, pool => {
            let result = sqlx::query(
                "DELETE FROM user_role WHERE user_id = $1 AND role_id IN (SELECT role_id FROM role WHERE name = $2)",
            )
            .bind(user.user_id)
            .bind(role)
            .execute(pool)
            .await?;
            Ok::<_, StoreError>(result.rows_affected() > 0)
        })?;
        self.announce(ListChange::Account {
            user_id: user.user_id,
        })
        .await;
        Ok(revoked)
    }

    async fn has_role(&self, user_id: i64, role: &str) -> StoreResult<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM user_role ur JOIN role r ON r.role_id = ur.role_id \
                   WHERE ur.user_id = $1 AND r.name = $2)";
        self.user_holds(sql, user_id, role).await
    }

    /// The answer of `sql`, an `EXISTS` over `$1` the user and `$2` a name
    /// (of a role or a permission).
    async fn user_holds(&self, sql: &'static str, user_id: i64, name: &str) -> StoreResult<bool> {
        on_db!(self, pool => {
            let row: (bool,) = sqlx::query_as(sql)
                .bind(user_id)
                .bind(name)
                .fetch_one(pool)
                .await?;
            Ok(row.0)
        })
    }
}

/// One interaction of the export (spec §5, `meta_user_content`).
#[derive(Clone, Debug, FromRow)]
pub struct ExportedMeta {
    pub content_id: i64,
    #[sqlx(flatten)]
    pub meta: crate::interactions::Meta,
}

#[derive(Clone, Debug, FromRow)]
pub struct ExportedFlag {
    pub content_id: i64,
    pub reason_categorie: String,
    pub reason: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct LinkedService {
    pub service_id: i64,
    pub service_name: String,
}

impl Db {
    /// Users whose name contains `term` (case-insensitive, literal), dataset
    /// accounts left out, ordered by name then uuid.
    pub async fn search_users(&self, term: &str, page: Page) -> StoreResult<Listing<User>> {
        let pattern = format!("%{}%", crate::dialect::escape_like(&term.to_lowercase()));
        let list = ListQuery {
            columns: USER_COLUMNS,
            from: "\"user\"",
            filter: "lower(username) LIKE $1 ESCAPE '\\' AND password_hash <> 'no_pwd'",
            order: "username, uuid",
        };
        Ok(on_db!(self, pool => page_of(pool, list, pattern.clone(), page).await?))
    }

    /// Genres the user declared liking, by id.
    pub async fn liked_genres(&self, user_id: i64) -> StoreResult<Vec<crate::catalogue::Genre>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT g.genre_id, g.name, g.count FROM liked_genres l JOIN genre g ON g.genre_id = l.genre_id \
             WHERE l.user_id = $1 ORDER BY g.genre_id",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?))
    }

    /// Likes a genre (idempotent). A change of interests is an event too, so
    /// that the engine refreshes this user's profile-based lists.
    pub async fn like_genre(&self, user_id: i64, genre_id: i64) -> StoreResult<()> {
        self.change_interest(user_id, genre_id, true)
            .await
            .map(|_| ())
    }

    /// Unlikes a genre; false when it was not liked.
    pub async fn unlike_genre(&self, user_id: i64, genre_id: i64) -> StoreResult<bool> {
        self.change_interest(user_id, genre_id, false).await
    }

    async fn change_interest(&self, user_id: i64, genre_id: i64, like: bool) -> StoreResult<bool> {
        let sql = if like {
            "INSERT INTO liked_genres (user_id, genre_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM liked_genres WHERE user_id = $1 AND genre_id = $2"
        };
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let changed = sqlx::query(sql).bind(user_id).bind(genre_id).execute(&mut *tx).await?.rows_affected() == 1;
            if changed {
                let event = crate::events::NewEvent {
                    kind: crate::events::EventKind::Changed,
                    occured_by: Some(user_id),
                    object_id: genre_id,
                    model_name: "liked_genres",
                    attribute_name: Some("liked"),
                    new_value: Some(if like { "True" } else { "False" }.into()),
                    content_type: None,
                    payload: None,
                };
                write_event(&mut *tx, &event).await?;
            }
            tx.commit().await?;
            Ok(changed)
        })
    }

    /// Every interaction of the user, for the export.
    pub async fn user_metas(&self, user_id: i64) -> StoreResult<Vec<ExportedMeta>> {
        let sql = format!(
            "SELECT content_id, {META_COLUMNS} FROM meta_user_content WHERE user_id = $1 ORDER BY content_id"
        );
        on_db!(self, pool => Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(user_id)
        .fetch_all(pool)
        .await?))
    }

    pub async fn user_flags(&self, user_id: i64) -> StoreResult<Vec<ExportedFlag>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT content_id, reason_categorie, reason FROM bad_recommendation_content WHERE user_id = $1 \
             ORDER BY content_id, reason_categorie, reason",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?))
    }

    /// Linked services, without their tokens.
    pub async fn linked_services(&self, user_id: i64) -> StoreResult<Vec<LinkedService>> {
        on_db!(self, pool => Ok(sqlx::query_as(
            "SELECT service_id, service_name FROM external_service WHERE user_id = $1 ORDER BY service_id",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?))
    }
}

impl Db {
    /// Names of the roles the user holds.
    pub async fn role_names(&self, user_id: i64) -> StoreResult<Vec<String>> {
        on_db!(self, pool => {
            let rows: Vec<(Option<String>,)> = sqlx::query_as(
                "SELECT r.name FROM user_role ur JOIN role r ON r.role_id = ur.role_id WHERE ur.user_id = $1 ORDER BY r.role_id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?;
            Ok(rows.into_iter().filter_map(|(n,)| n).collect())
        })
    }
}
