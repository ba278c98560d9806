//! Google Books: authorization-code flow and the import of the user's
//! bookshelves (spec §11.4, §11.5).

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use recofinement_domain::ContentKind;
use recofinement_store::external::ImportItem;

use super::http::{ClientAuth, Grant, api, fresh_access, get_json};
use super::{External, ImportError, Items, year_of};

pub const SCOPES: &[&str] = &["https://www.googleapis.com/auth/books"];
pub const EXTRA: &[(&str, &str)] = &[
    ("access_type", "offline"),
    ("include_granted_scopes", "true"),
];
pub const AUTH: ClientAuth = ClientAuth::Body;

/// Shelves that say nothing about what the user read.
const IGNORED_SHELVES: &[&str] = &[
    "To read",
    "Books for you",
    "Browsing history",
    "Recently viewed",
];

/// Volumes per page.
const PAGE: usize = 40;

#[derive(Deserialize)]
struct Shelves {
    #[serde(default)]
    items: Vec<Shelf>,
}

#[derive(Deserialize)]
struct Shelf {
    id: i64,
    #[serde(default)]
    title: String,
    #[serde(default, rename = "volumeCount")]
    volume_count: Option<i64>,
}

#[derive(Deserialize)]
struct Volumes {
    #[serde(default, rename = "totalItems")]
    total_items: i64,
    #[serde(default)]
    items: Vec<Volume>,
}

#[derive(Deserialize)]
struct Volume {
    #[serde(rename = "volumeInfo")]
    info: VolumeInfo,
    #[serde(default, rename = "userInfo")]
    user: Option<Value>,
}

#[derive(Deserialize)]
struct VolumeInfo {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    authors: Vec<String>,
    #[serde(default)]
    publisher: Option<String>,
    #[serde(default, rename = "publishedDate")]
    published_date: Option<String>,
    #[serde(default, rename = "industryIdentifiers")]
    identifiers: Vec<Identifier>,
    #[serde(default, rename = "imageLinks")]
    images: Option<Map<String, Value>>,
    #[serde(default, rename = "averageRating")]
    average_rating: Option<f64>,
    #[serde(default, rename = "ratingsCount")]
    ratings_count: Option<i64>,
}

#[derive(Deserialize)]
struct Identifier {
    #[serde(rename = "type")]
    kind: String,
    identifier: String,
}

/// The user's rating of a volume: `ONE`…`FIVE` (or 1…5); absent or
/// `NOT_RATED` is none.
fn rating(user: Option<&Value>) -> Option<i64> {
    let value = user?.get("review")?.get("rating")?;
    match value {
        Value::String(s) => match s.as_str() {
            "ONE" => Some(1),
            "TWO" => Some(2),
            "THREE" => Some(3),
            "FOUR" => Some(4),
            "FIVE" => Some(5),
            _ => None,
        },
        other => other.as_i64().filter(|r| (1..=5).contains(r)),
    }
}

/// Refreshes the grant (storing the new token) and collects the volumes of
/// the kept shelves (`Reviewed` first).
pub async fn collect(external: &External, grant: Grant) -> Result<Items, ImportError> {
    let (provider, access) = fresh_access(external, AUTH, grant).await?;
    let shelves: Shelves = get_json(
        external,
        api(&provider.api_url, "/books/v1/mylibrary/bookshelves")?,
        Some(&access),
    )
    .await?;
    let mut kept: Vec<Shelf> = shelves
        .items
        .into_iter()
        .filter(|s| !IGNORED_SHELVES.contains(&s.title.as_str()) && s.volume_count != Some(0))
        .collect();
    kept.sort_by_key(|s| s.title != "Reviewed");
    let mut seen = HashSet::new();
    let mut items: Items = Vec::new();
    for shelf in kept {
        let mut start = 0usize;
        for _ in 0..external.config.max_pages {
            let mut url = api(
                &provider.api_url,
                &format!("/books/v1/mylibrary/bookshelves/{}/volumes", shelf.id),
            )?;
            url.query_pairs_mut()
                .append_pair("startIndex", &start.to_string())
                .append_pair("maxResults", &PAGE.to_string());
            let page: Volumes = get_json(external, url, Some(&access)).await?;
            let count = page.items.len();
            for volume in page.items {
                if let Some(item) = item(volume)
                    && seen.insert(item.keys[0].1.clone())
                {
                    items.push(item);
                }
            }
            start += count;
            if count == 0 || start as i64 >= page.total_items {
                break;
            }
        }
    }
    Ok(items)
}

fn item(volume: Volume) -> Option<ImportItem> {
    let info = volume.info;
    let isbn = info
        .identifiers
        .iter()
        .find(|i| i.kind == "ISBN_13")
        .map(|i| i.identifier.trim().to_string())
        .filter(|i| !i.is_empty() && i.len() <= 13)?;
    let title = info.title.clone().unwrap_or_default();
    let mut fields = Map::new();
    fields.insert("isbn".into(), json!(isbn));
    if !title.is_empty() {
        fields.insert("title".into(), json!(title));
    }
    if let Some(author) = info.authors.first() {
        fields.insert("author".into(), json!(author));
    }
    if let Some(year) = year_of(info.published_date.as_deref()) {
        fields.insert("year_of_publication".into(), json!(year));
    }
    if let Some(publisher) = &info.publisher {
        fields.insert("publisher".into(), json!(publisher));
    }
    if let Some(images) = &info.images {
        let pick = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| images.get(*n).and_then(Value::as_str))
                .or_else(|| images.values().find_map(Value::as_str))
                .map(str::to_string)
        };
        for (column, names) in [
            ("image_url_s", &["smallThumbnail", "thumbnail"][..]),
            ("image_url_m", &["thumbnail", "small", "medium"][..]),
            ("image_url_l", &["large", "medium", "extraLarge"][..]),
        ] {
            if let Some(url) = pick(names) {
                fields.insert(column.into(), json!(url));
            }
        }
    }
    Some(ImportItem {
        kind: ContentKind::Book,
        keys: vec![("isbn", isbn)],
        title,
        title_with: None,
        fields,
        rating: info.average_rating,
        rating_count: info.ratings_count,
        user_rating: rating(volume.user.as_ref()),
        consumed_at: None,
        seen: false,
    })
}
