//! Provider calls: the adapter that lets the `oauth2` crate use our reqwest
//! 0.13 client, the OAuth2 helpers (authorize URL, code exchange, refresh),
//! and JSON reads that honour `Retry-After` and map 401 to a revoked grant.
//! Nothing here logs a URL with its query (TMDB puts its key there) or a
//! token.

use std::time::Duration;

use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use super::{External, ImportError, OAuthProvider, Service};

/// Tries of one read when the provider answers 429.
const MAX_TRIES: usize = 4;

/// Runs an `oauth2` request on a reqwest client.
pub async fn send_oauth(
    client: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(reqwest::Error::without_url)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(reqwest::Error::without_url)?;
    let mut out = oauth2::HttpResponse::new(body.to_vec());
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

/// The `oauth2` crate's view of our client (its futures are `Send`, so
/// handlers that exchange codes stay `Send`).
pub struct OAuthHttp<'a>(pub &'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = reqwest::Error;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, reqwest::Error>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send_oauth(self.0, request))
    }
}

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// How the provider wants the client authenticated at its token endpoint.
#[derive(Clone, Copy)]
pub enum ClientAuth {
    /// HTTP Basic (Spotify).
    Basic,
    /// `client_id` and `client_secret` in the form body (Google).
    Body,
}

fn oauth_client(
    provider: &OAuthProvider,
    redirect_uri: &str,
    auth: ClientAuth,
) -> Result<Client, String> {
    Ok(BasicClient::new(ClientId::new(provider.client_id.clone()))
        .set_client_secret(ClientSecret::new(
            provider.client_secret.expose().to_string(),
        ))
        .set_auth_uri(AuthUrl::new(provider.auth_url.clone()).map_err(|e| e.to_string())?)
        .set_token_uri(TokenUrl::new(provider.token_url.clone()).map_err(|e| e.to_string())?)
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_string()).map_err(|e| e.to_string())?)
        .set_auth_type(match auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::Body => AuthType::RequestBody,
        }))
}

/// The provider's authorization URL carrying our single-use `state`.
pub fn authorize_url(
    provider: &OAuthProvider,
    redirect_uri: &str,
    scopes: &[&str],
    extra: &[(&str, &str)],
    state: String,
) -> Result<String, String> {
    let client = oauth_client(provider, redirect_uri, ClientAuth::Basic)?;
    let mut request = client.authorize_url(|| CsrfToken::new(state));
    for scope in scopes {
        request = request.add_scope(Scope::new(scope.to_string()));
    }
    for (name, value) in extra {
        request = request.add_extra_param(*name, *value);
    }
    Ok(request.url().0.to_string())
}

/// Tokens a token endpoint answered.
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

impl From<BasicTokenResponse> for Tokens {
    fn from(answer: BasicTokenResponse) -> Self {
        Tokens {
            access_token: answer.access_token().secret().clone(),
            refresh_token: answer.refresh_token().map(|t| t.secret().clone()),
        }
    }
}

/// Why a token request failed.
#[derive(Debug)]
pub enum TokenError {
    /// The provider refused the code or refresh token (`invalid_grant`…).
    Refused(String),
    /// Unreachable, or an answer that is not a token response.
    Failed(String),
}

fn token_error<RE: std::error::Error + 'static>(
    error: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
) -> TokenError {
    match error {
        RequestTokenError::ServerResponse(answer) => {
            TokenError::Refused(answer.error().as_ref().to_string())
        }
        RequestTokenError::Request(e) => TokenError::Failed(e.to_string()),
        RequestTokenError::Parse(e, _) => TokenError::Failed(format!("unreadable answer: {e}")),
        RequestTokenError::Other(m) => TokenError::Failed(m),
    }
}

/// Exchanges an authorization code.
pub async fn exchange_code(
    external: &External,
    provider: &OAuthProvider,
    auth: ClientAuth,
    code: &str,
) -> Result<Tokens, TokenError> {
    let client =
        oauth_client(provider, &external.redirect_uri, auth).map_err(TokenError::Failed)?;
    let http = OAuthHttp(&external.http);
    client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .request_async(&http)
        .await
        .map(Tokens::from)
        .map_err(token_error)
}

/// Refreshes an access token; a refused refresh token means the grant was revoked.
pub async fn refresh(
    external: &External,
    provider: &OAuthProvider,
    auth: ClientAuth,
    refresh_token: &str,
) -> Result<Tokens, ImportError> {
    let client =
        oauth_client(provider, &external.redirect_uri, auth).map_err(ImportError::Provider)?;
    let http = OAuthHttp(&external.http);
    client
        .exchange_refresh_token(&RefreshToken::new(refresh_token.to_string()))
        .request_async(&http)
        .await
        .map(Tokens::from)
        .map_err(|error| match token_error(error) {
            TokenError::Refused(code) if code == "invalid_grant" => ImportError::Revoked,
            TokenError::Refused(code) => {
                ImportError::Provider(format!("token refresh refused: {code}"))
            }
            TokenError::Failed(m) => ImportError::Provider(format!("token refresh failed: {m}")),
        })
}

/// The grant's service as configured, and the access token an import
/// calls it with. With a refresh token, a fresh one is asked for and stored
/// sealed (with the new refresh token when the provider rotates it);
/// otherwise the stored one. `Revoked` when there is neither.
pub async fn fresh_access(
    external: &External,
    auth: ClientAuth,
    grant: Grant,
) -> Result<(&OAuthProvider, String), ImportError> {
    let provider = external
        .config
        .oauth(grant.service)
        .ok_or(ImportError::NotConfigured)?;
    let Some(refresh_token) = grant.refresh_token else {
        return Ok((provider, grant.access.ok_or(ImportError::Revoked)?));
    };
    let tokens = refresh(external, provider, auth, &refresh_token).await?;
    let seal = |token: &str| external.encrypt(grant.user_id, grant.service, token);
    let sealed_refresh = tokens.refresh_token.as_deref().map(seal);
    external
        .db
        .update_external_tokens(
            grant.user_id,
            grant.service,
            &seal(&tokens.access_token),
            sealed_refresh.as_deref(),
        )
        .await?;
    Ok((provider, tokens.access_token))
}

/// A user's grant to a service, as an import finds it stored (opened).
pub struct Grant {
    pub user_id: i64,
    pub service: Service,
    pub access: Option<String>,
    pub refresh_token: Option<String>,
}

/// `scheme://host/path` of a URL, without its query, for messages.
pub fn redacted(url: &reqwest::Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

/// Reads a JSON answer: 401 is a revoked grant, 429 waits its `Retry-After`
/// (at most the configured limit) and tries again, any other error status
/// or an answer of another shape stops the import.
pub async fn get_json<T: DeserializeOwned>(
    external: &External,
    url: reqwest::Url,
    bearer: Option<&str>,
) -> Result<T, ImportError> {
    let shown = redacted(&url);
    for attempt in 1..=MAX_TRIES {
        let mut request = external.http.get(url.clone());
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ImportError::Provider(format!("{shown}: {}", e.without_url())))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Err(ImportError::Revoked);
        }
        if status == StatusCode::TOO_MANY_REQUESTS && attempt < MAX_TRIES {
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(Duration::from_secs(1));
            if wait > external.config.max_retry_after {
                return Err(ImportError::Provider(format!(
                    "{shown}: rate limited for {}s",
                    wait.as_secs()
                )));
            }
            tracing::info!(url = %shown, wait_s = wait.as_secs(), attempt, "provider rate limit: waiting");
            tokio::time::sleep(wait).await;
            continue;
        }
        if !status.is_success() {
            return Err(ImportError::Provider(format!("{shown} answered {status}")));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| ImportError::Provider(format!("{shown}: {}", e.without_url())))?;
        return serde_json::from_slice(&body)
            .map_err(|e| ImportError::Malformed(format!("{shown}: {e}")));
    }
    Err(ImportError::Provider(format!(
        "{shown}: still rate limited"
    )))
}

/// Whether a `next` link stays on the provider's API (a token is never sent elsewhere).
pub fn same_api(next: &str, api_url: &str) -> Option<reqwest::Url> {
    let next = reqwest::Url::parse(next).ok()?;
    let api = reqwest::Url::parse(api_url).ok()?;
    (next.origin() == api.origin()).then_some(next)
}

/// `api_url` joined with `path` (which starts with `/`).
pub fn api(base: &str, path: &str) -> Result<reqwest::Url, ImportError> {
    reqwest::Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
        .map_err(|e| ImportError::Provider(format!("bad API URL: {e}")))
}
