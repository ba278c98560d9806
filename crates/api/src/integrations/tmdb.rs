//! TMDB: the request-token flow (hand-written: it is not OAuth2) and the
//! import of the user's rated movies and series (spec §11.3, §11.5).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use recofinement_domain::ContentKind;
use recofinement_store::external::ImportItem;

use super::http::{api, get_json, redacted};
use super::{External, ImportError, Items, TmdbProvider, year_of};

#[derive(Deserialize)]
struct RequestToken {
    request_token: String,
}

#[derive(Deserialize)]
struct Session {
    session_id: String,
}

/// Asks TMDB for a request token the user will approve.
pub async fn request_token(external: &External, provider: &TmdbProvider) -> Result<String, String> {
    let mut url =
        api(&provider.api_url, "/3/authentication/token/new").map_err(|e| e.to_string())?;
    url.query_pairs_mut()
        .append_pair("api_key", provider.api_key.expose());
    let shown = redacted(&url);
    let response = external
        .http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{shown}: {}", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!("{shown} answered {}", response.status()));
    }
    let answer: RequestToken = response
        .json()
        .await
        .map_err(|e| format!("{shown}: {}", e.without_url()))?;
    Ok(answer.request_token)
}

/// Why a session could not be created.
pub enum SessionError {
    /// TMDB refused the token (not approved, expired).
    Refused,
    Failed(String),
}

/// Turns an approved request token into a session id.
pub async fn create_session(
    external: &External,
    provider: &TmdbProvider,
    request_token: &str,
) -> Result<String, SessionError> {
    let mut url = api(&provider.api_url, "/3/authentication/session/new")
        .map_err(|e| SessionError::Failed(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("api_key", provider.api_key.expose());
    let shown = redacted(&url);
    let response = external
        .http
        .post(url)
        .form(&[("request_token", request_token)])
        .send()
        .await
        .map_err(|e| SessionError::Failed(format!("{shown}: {}", e.without_url())))?;
    let status = response.status();
    if status.is_client_error() {
        return Err(SessionError::Refused);
    }
    if !status.is_success() {
        return Err(SessionError::Failed(format!("{shown} answered {status}")));
    }
    let session: Session = response.json().await.map_err(|_| SessionError::Refused)?;
    Ok(session.session_id)
}

#[derive(Deserialize)]
struct Account {
    id: Option<i64>,
    #[serde(default)]
    success: Option<bool>,
}

#[derive(Deserialize)]
struct Page<T> {
    page: i64,
    total_pages: i64,
    results: Vec<T>,
}

/// What TMDB says of any rated title: its public votes, its poster and the
/// account's own rating (0–10). Absent fields read as `None`.
#[derive(Deserialize)]
struct Rated {
    vote_average: Option<f64>,
    vote_count: Option<i64>,
    poster_path: Option<String>,
    rating: Option<f64>,
}

#[derive(Deserialize)]
struct RatedMovie {
    id: i64,
    title: String,
    original_language: Option<String>,
    release_date: Option<String>,
    #[serde(flatten)]
    rated: Rated,
}

#[derive(Deserialize)]
struct RatedSerie {
    name: Option<String>,
    original_name: Option<String>,
    first_air_date: Option<String>,
    #[serde(flatten)]
    rated: Rated,
}

impl Rated {
    /// The item to import: `fields` with the cover, and the ratings on the
    /// catalogue's 0–5 scale.
    fn item(self, kind: ContentKind, title: String, mut fields: Map<String, Value>) -> ImportItem {
        if let Some(cover) = cover(self.poster_path.as_deref()) {
            fields.insert("cover".into(), json!(cover));
        }
        ImportItem {
            kind,
            keys: Vec::new(),
            title,
            title_with: None,
            fields,
            rating: self.vote_average.map(|v| v * 5.0 / 10.0),
            rating_count: self.vote_count,
            user_rating: self.rating.map(user_rating),
            consumed_at: None,
            seen: true,
        }
    }
}

/// TMDB's 0–10 rating as the 0–5 integer interactions hold: × 5 / 10,
/// rounded to the nearest 0.5 as the original, then to an integer.
pub fn user_rating(tmdb: f64) -> i64 {
    let half = (tmdb * 0.5 * 2.0).round() / 2.0;
    (half.round() as i64).clamp(0, 5)
}

fn cover(poster: Option<&str>) -> Option<String> {
    poster.map(|p| {
        format!(
            "https://image.tmdb.org/t/p/w500/{}",
            p.trim_start_matches('/')
        )
    })
}

async fn pages<T: serde::de::DeserializeOwned>(
    external: &External,
    provider: &TmdbProvider,
    session: &str,
    path: &str,
) -> Result<Vec<T>, ImportError> {
    let mut all = Vec::new();
    let mut page = 1;
    loop {
        let mut url = api(&provider.api_url, path)?;
        url.query_pairs_mut()
            .append_pair("api_key", provider.api_key.expose())
            .append_pair("session_id", session)
            .append_pair("sort_by", "created_at.asc")
            .append_pair("page", &page.to_string());
        let answer: Page<T> = get_json(external, url, None).await?;
        all.extend(answer.results);
        if answer.page >= answer.total_pages || page as usize >= external.config.max_pages {
            break;
        }
        page = answer.page + 1;
    }
    Ok(all)
}

/// Collects the rated movies and series of the session's account.
pub async fn collect(external: &External, session: Option<String>) -> Result<Items, ImportError> {
    let provider = external
        .config
        .tmdb
        .as_ref()
        .ok_or(ImportError::NotConfigured)?;
    let session = session.ok_or(ImportError::Revoked)?;
    let mut url = api(&provider.api_url, "/3/account")?;
    url.query_pairs_mut()
        .append_pair("api_key", provider.api_key.expose())
        .append_pair("session_id", &session);
    let account: Account = get_json(external, url, None).await?;
    if account.success.is_some() {
        return Err(ImportError::Revoked);
    }
    let id = account
        .id
        .ok_or_else(|| ImportError::Malformed("account without id".into()))?;
    let movies: Vec<RatedMovie> = pages(
        external,
        provider,
        &session,
        &format!("/3/account/{id}/rated/movies"),
    )
    .await?;
    let series: Vec<RatedSerie> = pages(
        external,
        provider,
        &session,
        &format!("/3/account/{id}/rated/tv"),
    )
    .await?;
    let mut items: Items = Vec::new();
    for movie in movies {
        let mut fields = Map::new();
        fields.insert("title".into(), json!(movie.title));
        fields.insert("tmdbid".into(), json!(movie.id.to_string()));
        if let Some(language) = &movie.original_language {
            fields.insert("language".into(), json!(language));
        }
        if let Some(date) = movie.release_date.as_ref().filter(|d| !d.is_empty()) {
            fields.insert("year".into(), json!(date));
        }
        let item = movie.rated.item(ContentKind::Movie, movie.title, fields);
        items.push(ImportItem {
            keys: vec![("tmdbid", movie.id.to_string())],
            ..item
        });
    }
    for serie in series {
        let Some(title) = serie.name.clone().or(serie.original_name.clone()) else {
            continue;
        };
        let start_year = year_of(serie.first_air_date.as_deref());
        let mut fields = Map::new();
        fields.insert("title".into(), json!(title));
        if let Some(year) = start_year {
            fields.insert("start_year".into(), json!(year));
        }
        let item = serie.rated.item(ContentKind::Serie, title, fields);
        items.push(ImportItem {
            title_with: start_year.map(|y| ("start_year", y)),
            ..item
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ratings_are_halved_and_rounded() {
        assert_eq!(super::user_rating(10.0), 5);
        assert_eq!(super::user_rating(7.0), 4);
        assert_eq!(super::user_rating(6.0), 3);
        assert_eq!(super::user_rating(0.0), 0);
    }
}
