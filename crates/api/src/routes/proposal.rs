//! A proposal of a new item (`POST /api/{media}`): the checks of its body,
//! and the body's schema in the document, one per kind. Both are read off
//! the kind's [`MediaSpec`], so the document states the rules the server
//! enforces: the document carries one path per kind (`/api/movie`…), since
//! each kind's body differs.

use serde_json::{Map, Value, json};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};

use recofinement_domain::media::{self, ColumnType, EPISODE_COLUMNS, MediaSpec};
use recofinement_domain::{ContentKind, validate};
use recofinement_store::submissions::{Proposal, ProposedEpisode};

/// Most episodes in one proposal (AC-24).
const MAX_EPISODES: usize = 1000;

/// Most genres on one item or episode.
const MAX_GENRES: usize = 100;

/// Checks one column value; returns it normalised (text or integer).
fn column_value(
    column: &media::Column,
    value: &Value,
    errors: &mut Vec<String>,
    prefix: &str,
) -> Option<Value> {
    let name = column.name;
    let text = |max: usize, s: &str, errors: &mut Vec<String>| {
        if s.chars().count() > max {
            errors.push(format!("{prefix}{name}: Longer than maximum length {max}."));
            None
        } else if column.url && !validate::web_url(s) {
            errors.push(format!(
                "{prefix}{name}: Only http and https links are accepted."
            ));
            None
        } else {
            Some(Value::String(s.to_string()))
        }
    };
    match (column.ty, value) {
        (_, Value::Null) => None,
        (ColumnType::Integer, v) => match validate::integer(v) {
            Some(i) if i.abs() <= INTEGER_LIMIT => Some(i.into()),
            _ => {
                errors.push(format!("{prefix}{name}: Not a valid integer."));
                None
            }
        },
        (ColumnType::Text(max), Value::String(s)) => text(max, s, errors),
        (ColumnType::TextOrNumber(max), Value::String(s)) => text(max, s, errors),
        (ColumnType::TextOrNumber(max), Value::Number(n)) => text(max, &n.to_string(), errors),
        (ColumnType::Uuid, Value::String(s)) => match uuid::Uuid::parse_str(s) {
            Ok(u) => Some(Value::String(u.hyphenated().to_string())),
            Err(_) => {
                errors.push(format!("{prefix}{name}: Not a valid UUID."));
                None
            }
        },
        _ => {
            errors.push(format!("{prefix}{name}: Not a valid string."));
            None
        }
    }
}

fn genre_ids(value: Option<&Value>, errors: &mut Vec<String>, prefix: &str) -> Vec<i64> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) if items.len() <= MAX_GENRES => {
            let ids: Vec<i64> = items.iter().filter_map(validate::integer).collect();
            if ids.len() != items.len() {
                errors.push(format!("{prefix}genres: Not a valid list of integers."));
            }
            ids
        }
        Some(_) => {
            errors.push(format!("{prefix}genres: Not a valid list of integers."));
            Vec::new()
        }
    }
}

/// Reads and checks a proposal of this kind.
pub fn read(spec: &MediaSpec, body: &Map<String, Value>) -> Result<Proposal, Vec<String>> {
    let mut errors = Vec::new();
    let mut fields = Map::new();
    for column in spec.submitted_columns() {
        if let Some(v) = body
            .get(column.name)
            .and_then(|value| column_value(column, value, &mut errors, ""))
        {
            fields.insert(column.name.into(), v);
        }
    }
    for required in spec.required {
        if !fields.contains_key(*required)
            && !errors
                .iter()
                .any(|e| e.starts_with(&format!("{required}:")))
        {
            errors.push(format!("{required}: Missing data for required field."));
        }
    }
    let genres = if spec.has_genres {
        if !body.contains_key("genres") {
            errors.push("genres: Missing data for required field.".into());
        }
        genre_ids(body.get("genres"), &mut errors, "")
    } else {
        Vec::new()
    };
    let mut episodes = Vec::new();
    if spec.kind == ContentKind::Serie {
        match body.get("episodes") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if items.len() <= MAX_EPISODES => {
                for (i, item) in items.iter().enumerate() {
                    let prefix = format!("episodes[{i}].");
                    let Value::Object(object) = item else {
                        errors.push(format!("{prefix}: Not a valid object."));
                        continue;
                    };
                    let mut fields = Map::new();
                    for column in EPISODE_COLUMNS {
                        if let Some(v) = object
                            .get(column.name)
                            .and_then(|v| column_value(column, v, &mut errors, &prefix))
                        {
                            fields.insert(column.name.into(), v);
                        }
                    }
                    let genres = genre_ids(object.get("genres"), &mut errors, &prefix);
                    episodes.push(ProposedEpisode { fields, genres });
                }
            }
            Some(_) => errors.push(format!(
                "episodes: Not a valid list of at most {MAX_EPISODES} episodes."
            )),
        }
    }
    if errors.is_empty() {
        Ok(Proposal {
            fields,
            genres,
            episodes,
        })
    } else {
        Err(errors)
    }
}

/// Largest integer a column takes, in both directions (checked and
/// documented).
const INTEGER_LIMIT: i64 = i32::MAX as i64 - 1;

/// Web links the document promises to accept: `http`/`https`, a host name
/// whose last label starts with a letter, a short port and a plain path, or
/// nothing. A regular expression cannot say all that [`validate::web_url`]
/// accepts, so this is a part of it: every link it matches is accepted.
const WEB_LINK: &str = r"^(?:https?://(?:[A-Za-z0-9]+\.)*[A-Za-z][A-Za-z0-9]*(?::[0-9]{1,4})?(?:/[A-Za-z0-9._~/-]*)?)?$";

/// The schema of one column's value (`null` leaves an optional one out).
fn column_schema(column: &media::Column, required: bool) -> Schema {
    let nullable = |ty: Type| {
        if required {
            SchemaType::Type(ty)
        } else {
            SchemaType::from_iter([ty, Type::Null])
        }
    };
    let builder = match column.ty {
        ColumnType::Integer => ObjectBuilder::new()
            .schema_type(nullable(Type::Integer))
            .minimum(Some(-INTEGER_LIMIT))
            .maximum(Some(INTEGER_LIMIT)),
        ColumnType::Text(max) => ObjectBuilder::new()
            .schema_type(nullable(Type::String))
            .max_length(Some(max))
            .pattern(column.url.then_some(WEB_LINK)),
        ColumnType::TextOrNumber(max) => {
            let mut types = vec![Type::String, Type::Number];
            if !required {
                types.push(Type::Null);
            }
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter(types))
                .max_length(Some(max))
        }
        ColumnType::Uuid => {
            let uuid = validate::uuid_schema();
            ObjectBuilder::new()
                .schema_type(nullable(Type::String))
                .max_length(uuid.max_length)
                .pattern(uuid.pattern)
        }
    };
    builder.into()
}

/// A list of genre ids (each must exist, or the answer is 404); integral
/// numbers count as integers, as JSON Schema says, up to where they are
/// exact.
fn genres_schema() -> Schema {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(-validate::EXACT_INTEGER))
                .maximum(Some(validate::EXACT_INTEGER)),
        )
        .max_items(Some(MAX_GENRES))
        .examples([json!([crate::openapi::demo::GENRE_ID])])
        .into()
}

/// An episode of a proposed series: its columns and genres, all optional.
fn episode_schema() -> Schema {
    let mut episode = ObjectBuilder::new().schema_type(Type::Object);
    for column in EPISODE_COLUMNS {
        episode = episode.property(column.name, column_schema(column, false));
    }
    episode.property("genres", genres_schema()).into()
}

/// The body of a proposal of this kind.
pub fn schema(spec: &MediaSpec) -> Schema {
    let mut body = ObjectBuilder::new().schema_type(Type::Object);
    for column in spec.submitted_columns() {
        let required = spec.required.contains(&column.name);
        body = body.property(column.name, column_schema(column, required));
        if required {
            body = body.required(column.name);
        }
    }
    if spec.has_genres {
        body = body.property("genres", genres_schema()).required("genres");
    }
    if spec.kind == ContentKind::Serie {
        let episodes = ArrayBuilder::new()
            .items(RefOr::T(episode_schema()))
            .max_items(Some(MAX_EPISODES));
        let nullable = SchemaType::from_iter([Type::Array, Type::Null]);
        body = body.property("episodes", episodes.schema_type(nullable));
    }
    body.into()
}

/// Name of a kind's proposal schema among the document's components.
fn schema_name(spec: &MediaSpec) -> String {
    format!("{}Proposal", spec.title)
}

/// Replaces the generic `/api/{media}` of the document with one path per
/// kind (`/api/movie`…): the proposal's body differs per kind, and a path
/// lists every method it answers (`Allow`), so the popular list moves too.
pub fn document_per_kind(document: &mut OpenApi) {
    let Some(generic) = document.paths.paths.remove("/api/{media}") else {
        return;
    };
    let components = document.components.get_or_insert_with(Default::default);
    for spec in media::ALL {
        let name = schema_name(spec);
        components.schemas.insert(name.clone(), schema(spec).into());
        let mut item = generic.clone();
        for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
            of_kind(operation, spec);
        }
        if let Some(RefOr::T(body)) = item.post.as_mut().and_then(|p| p.request_body.as_mut()) {
            body.content.insert(
                "application/json".into(),
                Content::new(Some(Ref::from_schema_name(name))).into(),
            );
        }
        document
            .paths
            .paths
            .insert(format!("/api/{}", spec.table), item);
    }
}

/// An operation of the generic path made the kind's own: without the
/// `media` parameter, under an id of its own.
fn of_kind(operation: &mut Operation, spec: &MediaSpec) {
    if let Some(id) = &operation.operation_id {
        operation.operation_id = Some(format!("{id}_{}", spec.table));
    }
    if let Some(parameters) = operation.parameters.as_mut() {
        parameters.retain(|p| !matches!(p, RefOr::T(p) if p.name == "media"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The document's link pattern promises only links the server takes.
    #[test]
    fn every_documented_link_is_accepted() {
        let pattern = regex::Regex::new(WEB_LINK).unwrap();
        let hosts = ["a", "example.com", "1.2.example", "x9", "A.B.C"];
        let tails = ["", ":1", ":8080", "/", "/a/b-c_d.e~f", ":99/x"];
        for scheme in ["http", "https"] {
            for host in hosts {
                for tail in tails {
                    let link = format!("{scheme}://{host}{tail}");
                    assert!(pattern.is_match(&link), "{link}");
                    assert!(validate::web_url(&link), "{link}");
                }
            }
        }
        assert!(pattern.is_match("") && validate::web_url(""));
        for refused in [
            "javascript:alert(1)",
            "http://1.2.3.999",
            "ftp://a",
            "http://",
        ] {
            assert!(!pattern.is_match(refused), "{refused}");
        }
    }
}
