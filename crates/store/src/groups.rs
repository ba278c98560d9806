//! Groups of friends: what a user owns, belongs to and is invited to.

use sqlx::FromRow;

use crate::changes::ListChange;
use crate::dialect::BeginWrite;
use crate::users::User;
use crate::{Db, StoreResult, on_db};

#[derive(Clone, Debug, FromRow)]
pub struct GroupBase {
    pub group_id: i64,
    pub name: String,
}

/// The three group lists of a user's own account object.
#[derive(Clone, Debug, Default)]
pub struct UserGroups {
    pub groups: Vec<GroupBase>,
    pub invitations: Vec<GroupBase>,
    pub owned_groups: Vec<GroupBase>,
}

impl Db {
    /// The three group lists of a user, read in one query.
    pub async fn user_groups(&self, user_id: i64) -> StoreResult<UserGroups> {
        let rows: Vec<(i64, i64, String)> = on_db!(self, pool => sqlx::query_as(
            "SELECT CAST(0 AS BIGINT), g.group_id, g.name FROM \"group\" g JOIN group_members m ON m.group_id = g.group_id WHERE m.user_id = $1 \
             UNION ALL SELECT CAST(1 AS BIGINT), g.group_id, g.name FROM \"group\" g JOIN invitations i ON i.group_id = g.group_id WHERE i.user_id = $1 \
             UNION ALL SELECT CAST(2 AS BIGINT), group_id, name FROM \"group\" WHERE owner_id = $1 \
             ORDER BY 1, 2",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?);
        let mut lists = UserGroups::default();
        for (list, group_id, name) in rows {
            let group = GroupBase { group_id, name };
            match list {
                0 => lists.groups.push(group),
                1 => lists.invitations.push(group),
                _ => lists.owned_groups.push(group),
            }
        }
        Ok(lists)
    }
}

/// A group row.
#[derive(Clone, Debug, FromRow)]
pub struct Group {
    pub group_id: i64,
    pub name: String,
    pub owner_id: Option<i64>,
}

/// A group with its people (owner not repeated among members).
#[derive(Clone, Debug)]
pub struct GroupPeople {
    pub group: Group,
    pub owner: Option<User>,
    pub members: Vec<User>,
    pub invitations: Vec<User>,
}

const USER_COLUMNS: &str = "u.user_id, u.uuid, u.email, u.username, u.password_hash, u.preferences_defined, u.token_version";

impl Db {
    pub async fn create_group(&self, owner_id: i64, name: &str) -> StoreResult<Group> {
        let written = on_db!(self, pool => Ok(sqlx::query_as(
            "INSERT INTO \"group\" (name, owner_id) VALUES ($1, $2) RETURNING group_id, name, owner_id",
        )
        .bind(name)
        .bind(owner_id)
        .fetch_one(pool)
        .await?));
        self.announced(ListChange::Memberships, written).await
    }

    pub async fn group(&self, group_id: i64) -> StoreResult<Option<Group>> {
        on_db!(self, pool => Ok(sqlx::query_as("SELECT group_id, name, owner_id FROM \"group\" WHERE group_id = $1")
            .bind(group_id)
            .fetch_optional(pool)
            .await?))
    }

    /// The group with its owner, members and invitees (by account id).
    pub async fn group_people(&self, group: Group) -> StoreResult<GroupPeople> {
        let members_sql = format!(
            "SELECT {USER_COLUMNS} FROM \"user\" u JOIN group_members m ON m.user_id = u.user_id \
             WHERE m.group_id = $1 AND u.user_id <> $2 ORDER BY u.user_id"
        );
        let invited_sql = format!(
            "SELECT {USER_COLUMNS} FROM \"user\" u JOIN invitations i ON i.user_id = u.user_id \
             WHERE i.group_id = $1 ORDER BY u.user_id"
        );
        let owner_id = group.owner_id.unwrap_or(-1);
        let (members, invitations): (Vec<User>, Vec<User>) = on_db!(self, pool => (
            sqlx::query_as(sqlx::AssertSqlSafe(members_sql)).bind(group.group_id).bind(owner_id).fetch_all(pool).await?,
            sqlx::query_as(sqlx::AssertSqlSafe(invited_sql)).bind(group.group_id).fetch_all(pool).await?,
        ));
        let owner = match group.owner_id {
            Some(id) => self.user_by_id(id).await?,
            None => None,
        };
        Ok(GroupPeople {
            group,
            owner,
            members,
            invitations,
        })
    }

    pub async fn is_member(&self, group_id: i64, user_id: i64) -> StoreResult<bool> {
        self.exists_in("group_members", group_id, user_id).await
    }

    pub async fn is_invited(&self, group_id: i64, user_id: i64) -> StoreResult<bool> {
        self.exists_in("invitations", group_id, user_id).await
    }

    async fn exists_in(
        &self,
        table: &'static str,
        group_id: i64,
        user_id: i64,
    ) -> StoreResult<bool> {
        let sql =
            format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE group_id = $1 AND user_id = $2)");
        on_db!(self, pool => {
            let (found,): (bool,) = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(group_id).bind(user_id).fetch_one(pool).await?;
            Ok(found)
        })
    }

    /// Deletes a group; the cascades remove its members, invitations and
    /// recommendations.
    pub async fn delete_group(&self, group_id: i64) -> StoreResult<()> {
        let written = on_db!(self, pool => {
            sqlx::query("DELETE FROM \"group\" WHERE group_id = $1").bind(group_id).execute(pool).await?;
            Ok(())
        });
        self.announced(ListChange::Memberships, written).await
    }

    /// Removes a member; false when they were not one.
    pub async fn remove_member(&self, group_id: i64, user_id: i64) -> StoreResult<bool> {
        self.delete_from("group_members", group_id, user_id).await
    }

    /// Withdraws or declines an invitation; false when there was none.
    pub async fn delete_invitation(&self, group_id: i64, user_id: i64) -> StoreResult<bool> {
        self.delete_from("invitations", group_id, user_id).await
    }

    /// Deletes the row of `user_id` in `group_id` from `table`; false when
    /// there was none.
    async fn delete_from(
        &self,
        table: &'static str,
        group_id: i64,
        user_id: i64,
    ) -> StoreResult<bool> {
        let sql = format!("DELETE FROM {table} WHERE group_id = $1 AND user_id = $2");
        let written = on_db!(self, pool => {
            let result = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(group_id).bind(user_id).execute(pool).await?;
            Ok(result.rows_affected() == 1)
        });
        self.announced(ListChange::Memberships, written).await
    }

    pub async fn invite(&self, group_id: i64, user_id: i64) -> StoreResult<()> {
        let written = on_db!(self, pool => {
            sqlx::query("INSERT INTO invitations (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(user_id)
                .bind(group_id)
                .execute(pool)
                .await?;
            Ok(())
        });
        self.announced(ListChange::Memberships, written).await
    }

    /// Turns a pending invitation into a membership, in one transaction;
    /// false when there was no invitation.
    pub async fn accept_invitation(&self, group_id: i64, user_id: i64) -> StoreResult<bool> {
        let written = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let removed = sqlx::query("DELETE FROM invitations WHERE group_id = $1 AND user_id = $2")
                .bind(group_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if removed == 0 {
                return Ok(false);
            }
            sqlx::query("INSERT INTO group_members (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(user_id)
                .bind(group_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        });
        self.announced(ListChange::Memberships, written).await
    }
}
