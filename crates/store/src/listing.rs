//! A page of a list and the length of the whole list, read with one filter
//! written once, so the count and the rows cannot drift apart in the code.
//! They are two statements, not one snapshot: a write committed between
//! them shows in one and not the other, as it did before.

use recofinement_domain::{Listing, Page};

use crate::backend::{Bind, Conn, Decodes, Param, decode, get, statement};

/// `SELECT {columns} FROM {from} WHERE {filter} ORDER BY {order}`, where
/// `filter` reads its one parameter as `$1`. Every part is the store's own
/// SQL, never a caller's text.
pub(crate) struct ListQuery<'a> {
    pub columns: &'a str,
    pub from: &'a str,
    pub filter: &'a str,
    pub order: &'a str,
}

/// Page `page` of `list` with `key` as `$1`, and how many rows the filter
/// keeps in all.
pub(crate) async fn page_of<C: Conn, T: Decodes, K: Param + Clone>(
    mut conn: C,
    list: ListQuery<'_>,
    key: K,
    page: Page,
) -> Result<Listing<T>, sqlx::Error> {
    let ListQuery {
        columns,
        from,
        filter,
        order,
    } = list;
    let rows_sql =
        format!("SELECT {columns} FROM {from} WHERE {filter} ORDER BY {order} LIMIT $2 OFFSET $3");
    let rows = statement(&conn, sqlx::AssertSqlSafe(rows_sql))
        .arg(key.clone())
        .arg(Page::SIZE)
        .arg(page.offset())
        .fetch_all(conn.executor())
        .await?;
    let rows = rows
        .iter()
        .map(|row| decode(&conn, row))
        .collect::<Result<Vec<T>, _>>()?;
    let count_sql = format!("SELECT COUNT(*) FROM {from} WHERE {filter}");
    let count = statement(&conn, sqlx::AssertSqlSafe(count_sql))
        .arg(key)
        .fetch_one(conn.executor())
        .await?;
    Ok(Listing {
        rows,
        total: get(&conn, &count, 0)?,
    })
}
