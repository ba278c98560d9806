//! Reading an append-only log (the event log, the audit trail) page by page
//! without stepping over a late commit. On PostgreSQL ids come from a
//! sequence, so a transaction that took id 41 can commit after one that
//! took 42: a reader who paged by id and read 42 would never see 41. Each
//! row has a position instead (SQLite: its id, since the single writer
//! commits ids in order; PostgreSQL: the id of the transaction that wrote
//! it), and a page holds only positions below the bound under which every
//! position is final ([`Db::event_bound`]).

use crate::backend::{Bind, Conn, Decodes, decode, get, statement};
use crate::{Db, StoreResult, on_db};

/// A log table: its name, its id column, and the columns of an entry.
pub(crate) struct Log {
    pub table: &'static str,
    pub id: &'static str,
    pub columns: &'static str,
}

/// A page of a log, and the cursor to read on from.
#[derive(Debug)]
pub struct LogPage<T> {
    pub entries: Vec<T>,
    /// Pass this as `after` to read on: the first position not read.
    pub next_after: i64,
}

/// What a page of at most `limit` entries holds, cut at whole positions.
enum Cut<T> {
    /// Every row read: nothing final is left after them.
    All(Vec<T>),
    /// The rows up to the position that would not fit, which comes next.
    Before { entries: Vec<T>, last: i64 },
    /// The first position alone holds more than `limit` entries.
    Oversized(i64),
}

/// Cuts `rows` (at most `limit + 1` (position, entry), in position order)
/// at whole positions.
fn whole_positions<T>(rows: Vec<(i64, T)>, limit: i64) -> Cut<T> {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() <= limit {
        return Cut::All(rows.into_iter().map(|(_, entry)| entry).collect());
    }
    let cut = rows[limit].0;
    let kept: Vec<(i64, T)> = rows.into_iter().take_while(|(p, _)| *p < cut).collect();
    match kept.last() {
        Some(&(last, _)) => Cut::Before {
            last,
            entries: kept.into_iter().map(|(_, entry)| entry).collect(),
        },
        None => Cut::Oversized(cut),
    }
}

/// Rows of `sql` as (position, entry): the position is the first column.
async fn positioned<C: Conn, T: Decodes>(
    mut conn: C,
    sql: String,
    args: &[i64],
) -> Result<Vec<(i64, T)>, sqlx::Error> {
    let mut query = statement(&conn, sqlx::AssertSqlSafe(sql));
    for arg in args {
        query = query.arg(*arg);
    }
    let rows = query.fetch_all(conn.executor()).await?;
    rows.iter()
        .map(|row| Ok((get(&conn, row, 0)?, decode(&conn, row)?)))
        .collect()
}

impl Db {
    /// The final entries of `log` positioned at or after `from`, in
    /// position order, and where to read on: the position after the last
    /// one read, or, when nothing final is left, the bound. A page holds
    /// whole positions (the entries one transaction wrote), so it may
    /// exceed `limit` when one change wrote more. Position 0 (entries from
    /// before positions existed, or repaired after a restore) is read from
    /// 0, the start.
    pub(crate) async fn log_page<T: Decodes>(
        &self,
        log: &Log,
        from: i64,
        limit: i64,
    ) -> StoreResult<LogPage<T>> {
        let Log { table, id, columns } = log;
        let position = self.position_column(id);
        let bound = self.log_bound(table, id).await?;
        let select = format!("SELECT {position} AS position, {columns} FROM {table}");
        let page = format!(
            "{select} WHERE {position} >= $1 AND {position} < $2 ORDER BY {position}, {id} LIMIT $3"
        );
        let args = [from, bound, limit + 1];
        let rows = on_db!(self, pool => positioned(pool, page, &args).await?);
        Ok(match whole_positions(rows, limit) {
            Cut::All(entries) => LogPage {
                entries,
                next_after: from.max(bound),
            },
            Cut::Before { entries, last } => LogPage {
                entries,
                next_after: last + 1,
            },
            Cut::Oversized(whole) => {
                let group = format!("{select} WHERE {position} = $1 ORDER BY {id}");
                let rows = on_db!(self, pool => positioned(pool, group, &[whole]).await?);
                LogPage {
                    entries: rows.into_iter().map(|(_, entry)| entry).collect(),
                    next_after: whole + 1,
                }
            }
        })
    }
}
