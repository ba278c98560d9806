//! Adding an item to the catalogue: its `content` row, its media row, its
//! genre links and its `added` event, inside the caller's transaction. An
//! accepted proposal (and each of its episodes) and an item imported from a
//! linked service are added the same way.

use serde_json::{Map, Value};

use recofinement_domain::media::{Column, ColumnType};

use crate::backend::{Bind, Conn, Statement, execute, get, statement};
use crate::events::{EventKind, NewEvent, write_event};

/// The column that ties an episode to its serie.
pub(crate) const SERIE_ID: Column = Column {
    name: "serie_id",
    ty: ColumnType::Integer,
    url: false,
    submitted: false,
};

/// An item to add.
pub(crate) struct NewItem<'a> {
    /// The media table (`movie`, `episode`, …), also the event's model name.
    pub table: &'static str,
    /// The `content_type` label of the content row and of the event.
    pub label: &'static str,
    pub rating: Option<f64>,
    pub rating_count: i64,
    /// The media columns written, their values read from `fields`
    /// (integers for integer columns, strings for the others; absent or
    /// of another type is NULL).
    pub columns: &'a [&'a Column],
    pub fields: &'a Map<String, Value>,
    pub genres: &'a [i64],
    /// Who added it, as the event says.
    pub added_by: i64,
}

/// Adds `item`; answers its content id.
pub(crate) async fn insert_item(
    mut conn: impl Conn,
    item: &NewItem<'_>,
) -> Result<i64, sqlx::Error> {
    let row = statement(
        &conn,
        "INSERT INTO content (rating, rating_count, popularity_score, content_type) VALUES ($1, $2, 0, $3) RETURNING content_id",
    )
    .arg(item.rating)
    .arg(item.rating_count)
    .arg(item.label)
    .fetch_one(conn.executor())
    .await?;
    let id: i64 = get(&conn, &row, 0)?;
    let media_row = statement(
        &conn,
        sqlx::AssertSqlSafe(insert_sql(item.table, item.columns)),
    )
    .arg(id);
    execute(
        &mut conn,
        bind_columns(media_row, item.columns, item.fields),
    )
    .await?;
    for genre in item.genres {
        statement(
            &conn,
            "INSERT INTO content_genres (content_id, genre_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .arg(id)
        .arg(*genre)
        .execute(conn.executor())
        .await?;
    }
    let written: Map<String, Value> = item
        .columns
        .iter()
        .filter_map(|c| Some((c.name.to_string(), item.fields.get(c.name)?.clone())))
        .collect();
    let added = NewEvent {
        kind: EventKind::Added,
        occured_by: Some(item.added_by),
        object_id: id,
        model_name: item.table,
        attribute_name: None,
        new_value: None,
        content_type: Some(item.label),
        payload: Some(Value::Object(written).to_string()),
    };
    write_event(conn, &added).await?;
    Ok(id)
}

/// `INSERT INTO table (content_id, cols…) VALUES ($1, $2…)` for these
/// columns (names from the media specs, never from a caller).
fn insert_sql(table: &str, columns: &[&Column]) -> String {
    let mut names = vec!["content_id"];
    names.extend(columns.iter().map(|c| c.name));
    let params: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        params.join(", ")
    )
}

/// Binds column values from a JSON object in column order.
fn bind_columns<'q, DB: crate::backend::Backend>(
    mut query: Statement<'q, DB>,
    columns: &[&Column],
    fields: &Map<String, Value>,
) -> Statement<'q, DB> {
    for column in columns {
        let value = fields.get(column.name);
        query = match column.ty {
            ColumnType::Integer => query.arg(value.and_then(Value::as_i64)),
            _ => query.arg(value.and_then(Value::as_str).map(str::to_string)),
        };
    }
    query
}
