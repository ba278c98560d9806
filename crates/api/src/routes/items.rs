//! Catalogue items as the client reads them: the store's typed rows named
//! by the kind's description (`MediaSpec`: column names, the id alias) and
//! shaped per list (genres, an application's `categorie`, the
//! recommendation fields). The store knows no JSON names.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use recofinement_domain::ContentKind;
use recofinement_domain::media::{EPISODE_COLUMNS, MediaSpec, Shape};
use recofinement_store::Db;
use recofinement_store::catalogue::{Episode, FieldValue, Item, PlayedTrack};

use crate::error::AppResult;
use crate::routes::schema::{Genre, wire};

fn field_json(value: FieldValue) -> Value {
    match value {
        FieldValue::Integer(n) => n.into(),
        FieldValue::Text(text) => text.into(),
    }
}

/// An item in the base shape (plus `reco_engine`, `reco_score` and
/// `reason` when it comes from a recommendation list).
pub fn item_json(spec: &MediaSpec, item: Item) -> Map<String, Value> {
    let mut json = Map::new();
    json.insert("content_id".into(), item.content_id.into());
    if let Some(alias) = spec.alias {
        json.insert(alias.into(), item.content_id.into());
    }
    json.insert("rating".into(), item.rating.into());
    json.insert("rating_count".into(), item.rating_count.into());
    json.insert("popularity_score".into(), item.popularity_score.into());
    for (column, value) in spec.columns.iter().zip(item.fields) {
        json.insert(column.name.into(), field_json(value));
    }
    if let Some(reco) = item.recommendation {
        json.insert("reco_engine".into(), reco.engine.into());
        json.insert("reco_score".into(), reco.score.into());
        json.insert("reason".into(), reco.reason.into());
    }
    json
}

/// Items in a list's shape: with their genres for the "with genres" shape,
/// and applications with their first genre as `categorie` (one query for
/// the genres of the whole page).
pub async fn shaped(
    db: &Db,
    spec: &MediaSpec,
    shape: Shape,
    items: Vec<Item>,
) -> AppResult<Vec<Value>> {
    let with_genres = shape == Shape::WithGenres;
    let with_category = spec.kind == ContentKind::Application;
    let mut genres: HashMap<i64, Vec<_>> = if with_genres || with_category {
        let ids: Vec<i64> = items.iter().map(|item| item.content_id).collect();
        db.genres_of(&ids).await?
    } else {
        HashMap::new()
    };
    Ok(items
        .into_iter()
        .map(|item| {
            let item_genres = genres.remove(&item.content_id).unwrap_or_default();
            let mut json = item_json(spec, item);
            if with_category {
                let first = item_genres.first().cloned().map(Genre::from);
                json.insert("categorie".into(), to_json(first));
            }
            if with_genres {
                json.insert("genres".into(), to_json(wire::<_, Genre>(item_genres)));
            }
            Value::Object(json)
        })
        .collect())
}

/// An episode of a serie (`episode_id` is its content id).
pub fn episode_json(episode: Episode) -> Value {
    let mut json = Map::new();
    json.insert("content_id".into(), episode.content_id.into());
    json.insert("episode_id".into(), episode.content_id.into());
    json.insert("rating".into(), episode.rating.into());
    json.insert("rating_count".into(), episode.rating_count.into());
    json.insert("serie_id".into(), episode.serie_id.into());
    for (column, value) in EPISODE_COLUMNS.iter().zip(episode.fields) {
        json.insert(column.name.into(), field_json(value));
    }
    Value::Object(json)
}

/// Entries of a listening history: `{"last_played_date", "track"}`, the
/// track with its genres.
pub async fn played_json(
    db: &Db,
    spec: &MediaSpec,
    played: Vec<PlayedTrack>,
) -> AppResult<Vec<Value>> {
    let dates: Vec<String> = played
        .iter()
        .map(|p| crate::wire::format(&p.last_played))
        .collect();
    let tracks = played.into_iter().map(|p| p.track).collect();
    let tracks = shaped(db, spec, Shape::WithGenres, tracks).await?;
    Ok(tracks
        .into_iter()
        .zip(dates)
        .map(|(track, date)| serde_json::json!({"last_played_date": date, "track": track}))
        .collect())
}

/// `{"<kind>": item, …values}`: an item beside values about it (a profile's
/// interaction, a run's score).
pub fn beside<T: Serialize>(spec: &MediaSpec, (item, values): (Item, T)) -> Value {
    let mut entry = match serde_json::to_value(values) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    entry.insert(spec.table.into(), Value::Object(item_json(spec, item)));
    Value::Object(entry)
}

fn to_json<T: Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}
