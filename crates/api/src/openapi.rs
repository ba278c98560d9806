//! The OpenAPI document (served at `/api/swagger.json`) and its security
//! scheme: `Bearer Auth`, the `Authorization` header, as in the original.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "RecoFinement API", version = "1.0", description = "Main routes."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Authenticate and receive tokens."),
        (name = "user", description = "User related operations."),
        (name = "group", description = "Group related operations."),
        (name = "profile", description = "Profile related operations."),
        (name = "external", description = "Linked external services: Spotify, TMDB, Google Books."),
        (name = "content", description = "The six media kinds: application, book, game, movie, serie, track."),
        (name = "events", description = "The event log the engine consumes."),
        (name = "health", description = "Service health."),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "Bearer Auth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "Type 'Bearer <token>'",
            ))),
        );
    }
}
