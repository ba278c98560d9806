//! Spotify: authorization-code flow and the import of the user's saved and
//! recently played tracks (spec §11.2, §11.5).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use recofinement_domain::ContentKind;
use recofinement_store::external::ImportItem;

use super::http::{ClientAuth, Grant, api, fresh_access, get_json, same_api};
use super::{External, ImportError, Items, year_of};

pub const SCOPES: &[&str] = &[
    "user-library-read",
    "user-top-read",
    "playlist-read-private",
    "user-read-recently-played",
];

pub const AUTH: ClientAuth = ClientAuth::Basic;

#[derive(Deserialize)]
struct Page {
    items: Vec<Entry>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Entry {
    track: Option<Track>,
    #[serde(default)]
    played_at: Option<String>,
}

#[derive(Deserialize)]
struct Track {
    id: Option<String>,
    name: String,
    #[serde(default)]
    artists: Vec<Named>,
    #[serde(default)]
    album: Option<Album>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct Album {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    release_date: Option<String>,
    #[serde(default)]
    images: Vec<Image>,
}

#[derive(Deserialize)]
struct Image {
    url: String,
}

fn parse_time(value: &str) -> Option<NaiveDateTime> {
    chrono::DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.naive_utc())
}

/// Refreshes the grant (storing the new tokens) and collects the tracks.
pub async fn collect(external: &External, grant: Grant) -> Result<Items, ImportError> {
    let (provider, access) = fresh_access(external, AUTH, grant).await?;
    let mut tracks: Vec<(Track, Option<NaiveDateTime>)> = Vec::new();
    for path in [
        "/v1/me/tracks?limit=50",
        "/v1/me/player/recently-played?limit=50",
    ] {
        let mut url = Some(api(&provider.api_url, path)?);
        let mut pages = 0;
        while let Some(current) = url.take() {
            let page: Page = get_json(external, current, Some(&access)).await?;
            for entry in page.items {
                if let Some(track) = entry.track {
                    let played = entry.played_at.as_deref().and_then(parse_time);
                    tracks.push((track, played));
                }
            }
            pages += 1;
            if pages >= external.config.max_pages {
                break;
            }
            url = page
                .next
                .as_deref()
                .and_then(|n| same_api(n, &provider.api_url));
        }
    }
    Ok(items(tracks))
}

/// One item per Spotify id, with its latest play.
fn items(tracks: Vec<(Track, Option<NaiveDateTime>)>) -> Items {
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut out: Items = Vec::new();
    for (track, played) in tracks {
        let Some(id) = track.id.clone().filter(|id| !id.is_empty()) else {
            continue;
        };
        if let Some(&index) = by_id.get(&id) {
            let item: &mut ImportItem = &mut out[index];
            item.consumed_at = item.consumed_at.max(played);
            continue;
        }
        let artists: Vec<&str> = track.artists.iter().map(|a| a.name.as_str()).collect();
        let album = track.album.as_ref();
        let mut fields = Map::new();
        fields.insert("title".into(), json!(track.name));
        fields.insert("spotify_id".into(), json!(id));
        if !artists.is_empty() {
            fields.insert("artist_name".into(), json!(artists.join(" & ")));
        }
        if let Some(name) = album.and_then(|a| a.name.clone()) {
            fields.insert("release".into(), json!(name));
        }
        if let Some(year) = year_of(album.and_then(|a| a.release_date.as_deref())) {
            fields.insert("year".into(), json!(year));
        }
        if let Some(image) = album.and_then(|a| a.images.first()) {
            fields.insert("covert_art_url".into(), Value::String(image.url.clone()));
        }
        by_id.insert(id.clone(), out.len());
        out.push(ImportItem {
            kind: ContentKind::Track,
            keys: vec![("spotify_id", id)],
            title: track.name,
            title_with: None,
            fields,
            rating: None,
            rating_count: None,
            user_rating: None,
            consumed_at: played,
            seen: false,
        });
    }
    out
}
