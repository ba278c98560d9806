//! Throttling of the unauthenticated endpoints (login, register, forget),
//! counted in the database so that every instance sharing it enforces the
//! same limits.
//!
//! An attempt is counted *before* any expensive work (bcrypt), in one atomic
//! statement per bucket: fifty requests sent at once are fifty counts, and
//! only those within the limit go on to the password check.

use axum::extract::{FromRequest, FromRequestParts, Request};
use chrono::NaiveDateTime;
use recofinement_domain::validate;

use crate::auth::client::ClientAddr;
use crate::error::{AppError, AppResult};
use crate::extract::{Body, Valid};
use crate::state::AppState;

/// The body of a request about an account named by e-mail (register,
/// forget), whose requests count in their own buckets.
pub trait AccountRequestBody: Body + Send {
    /// Names the buckets: `register`, `forget`.
    const ACTION: &'static str;
    fn email(&self) -> &str;
}

/// A register or forget request, counted before anything is done with it
/// (see [`Throttle::count_request`]): its validated body and the
/// normalised e-mail it names. Refused with 429 over either limit.
pub struct CountedRequest<B> {
    pub email: String,
    pub body: B,
}

impl<B: AccountRequestBody> FromRequest<AppState> for CountedRequest<B> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, AppError> {
        let (mut parts, body) = request.into_parts();
        let Ok(ClientAddr(client)) = ClientAddr::from_request_parts(&mut parts, state).await;
        let request = Request::from_parts(parts, body);
        let Valid(body) = Valid::<B>::from_request(request, state).await?;
        let email = Throttle::count_request(state, B::ACTION, body.email(), &client).await?;
        Ok(CountedRequest { email, body })
    }
}

/// One counter and the most attempts it allows per window.
struct Bucket {
    key: String,
    limit: i64,
}

impl Bucket {
    fn new(key: String, limit: i64) -> Self {
        Bucket { key, limit }
    }
}

pub struct Throttle<'a> {
    state: &'a AppState,
    buckets: Vec<Bucket>,
    window: chrono::Duration,
}

impl<'a> Throttle<'a> {
    fn new(state: &'a AppState, buckets: Vec<Bucket>) -> Self {
        let window = chrono::Duration::from_std(state.config.login_window)
            .unwrap_or(chrono::Duration::minutes(15));
        Throttle {
            state,
            buckets,
            window,
        }
    }

    /// Login: failures of this account from this client (the owner elsewhere
    /// is not locked out), of this client over every account, and a higher
    /// ceiling of this account over every client (a distributed guesser).
    pub fn login(state: &'a AppState, email: &str, client: &str) -> Self {
        let c = &state.config;
        Self::new(
            state,
            vec![
                Bucket::new(
                    format!("login:{email}|{client}"),
                    c.login_max_failures_per_account,
                ),
                Bucket::new(format!("client:{client}"), c.login_max_failures_per_client),
                Bucket::new(format!("account:{email}"), c.login_account_ceiling),
            ],
        )
    }

    /// Register and forget: every request counts, per client and per
    /// (normalised) e-mail, which is returned once the request is allowed.
    async fn count_request(
        state: &AppState,
        action: &str,
        email: &str,
        client: &str,
    ) -> AppResult<String> {
        let email = validate::normalise_email(email);
        let c = &state.config;
        let buckets = vec![
            Bucket::new(format!("{action}-client:{client}"), c.requests_per_client),
            Bucket::new(format!("{action}-email:{email}"), c.requests_per_email),
        ];
        Throttle::new(state, buckets).count().await?;
        Ok(email)
    }

    /// Requests of a signed-in user that cost the installation something
    /// (a stored proposal, an OAuth state, a provider call): `action`
    /// names the bucket, `limit` per window.
    pub async fn per_user(
        state: &AppState,
        action: &str,
        user_id: i64,
        limit: i64,
    ) -> AppResult<()> {
        let bucket = Bucket::new(format!("{action}-user:{user_id}"), limit);
        Throttle::new(state, vec![bucket]).count().await
    }

    /// Counts this attempt bucket by bucket, narrowest first, and refuses
    /// with 429 and `Retry-After` at the first bucket over its limit. A
    /// refused attempt is not counted in the wider buckets after it: a
    /// guesser hammering one account from one address fills its own bucket,
    /// not the account's ceiling, which would lock the owner out everywhere.
    pub async fn count(&self) -> AppResult<()> {
        let now = recofinement_store::now();
        let floor = now - self.window;
        for bucket in &self.buckets {
            let (count, start) = self.state.db.count_attempt(&bucket.key, floor).await?;
            if count > bucket.limit {
                let retry_after = self.seconds_left(start, now);
                return Err(AppError::TooMany { retry_after });
            }
        }
        Ok(())
    }

    fn seconds_left(&self, window_start: NaiveDateTime, now: NaiveDateTime) -> u64 {
        (window_start + self.window - now).num_seconds().max(1) as u64
    }

    /// A successful login: this account and client start afresh, and the
    /// attempt is taken back from the shared counters.
    pub async fn succeeded(&self) -> AppResult<()> {
        let db = &self.state.db;
        if let Some((first, shared)) = self.buckets.split_first() {
            db.clear_attempts(&first.key).await?;
            for bucket in shared {
                db.uncount_attempt(&bucket.key).await?;
            }
        }
        Ok(())
    }
}
