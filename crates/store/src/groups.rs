//! Groups of friends: what a user owns, belongs to and is invited to.

use sqlx::FromRow;

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
    pub async fn user_groups(&self, user_id: i64) -> StoreResult<UserGroups> {
        async fn list(db: &Db, sql: &'static str, user_id: i64) -> StoreResult<Vec<GroupBase>> {
            on_db!(db, pool => Ok(sqlx::query_as(sql).bind(user_id).fetch_all(pool).await?))
        }
        Ok(UserGroups {
            groups: list(
                self,
                "SELECT g.group_id, g.name FROM \"group\" g JOIN group_members m ON m.group_id = g.group_id \
                 WHERE m.user_id = $1 ORDER BY g.group_id",
                user_id,
            )
            .await?,
            invitations: list(
                self,
                "SELECT g.group_id, g.name FROM \"group\" g JOIN invitations i ON i.group_id = g.group_id \
                 WHERE i.user_id = $1 ORDER BY g.group_id",
                user_id,
            )
            .await?,
            owned_groups: list(
                self,
                "SELECT group_id, name FROM \"group\" WHERE owner_id = $1 ORDER BY group_id",
                user_id,
            )
            .await?,
        })
    }
}
