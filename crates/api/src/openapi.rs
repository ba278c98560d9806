//! The OpenAPI document (served at `/api/swagger.json`) and its security
//! scheme: `Bearer Auth`, the `Authorization` header, as in the original.

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "RecoFinement API", version = "1.0", description = "Main routes."),
    modifiers(&BearerAuth),
    // The default entry of `PageAnswer`: utoipa refers to a generic's
    // default by name without adding its schema. And the two answers
    // `conventions` refers to by name on every operation.
    components(schemas(
        crate::routes::schema::JsonEntry,
        crate::routes::schema::ErrorBody,
        crate::routes::schema::Message
    )),
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

/// What every operation may answer besides its own responses, written once
/// instead of on each handler (which declare only what is theirs): 401 and
/// 422 where a token is needed (no, expired or revoked token; a malformed
/// `Authorization` header, as the original), 404 where a path parameter
/// names something (or is malformed), 400 where input is read (a NUL
/// character anywhere, a bad body), 413 and 415 for bodies. And, since no text may hold NUL (see
/// [`crate::extract::NUL_MESSAGE`]), every string without a pattern gets one
/// that says so. Applied to the document the router assembles.
pub fn conventions(document: &mut utoipa::openapi::OpenApi) {
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation_conventions(operation);
        }
    }
    for creation in &CREATIONS {
        link_creation(document, creation);
    }
    let components = document.components.get_or_insert_with(Default::default);
    for schema in components.schemas.values_mut() {
        no_nul(schema);
    }
    components
        .schemas
        .insert(NUL_FREE.into(), nul_free_value().into());
}

/// What a client creates and then names in paths: the operation that
/// creates it (a POST), where its 201 answer carries the new id (a JSON
/// pointer), and the path parameter other operations take that id in.
struct Creation {
    path: &'static str,
    id_in_answer: &'static str,
    parameter: &'static str,
}

const CREATIONS: [Creation; 2] = [
    Creation {
        path: "/api/profile",
        id_in_answer: "/profile/uuid",
        parameter: "profile_uuid",
    },
    Creation {
        path: "/api/group",
        id_in_answer: "/group/group_id",
        parameter: "group_id",
    },
];

/// The operations of an item, by method.
fn operations(item: &PathItem) -> [Option<&Operation>; 5] {
    [
        item.get.as_ref(),
        item.put.as_ref(),
        item.post.as_ref(),
        item.delete.as_ref(),
        item.patch.as_ref(),
    ]
}

/// Links (OpenAPI `links`) from the creation's 201 answer to every
/// operation whose path names what it created, so that a client or a
/// fuzzer follows the new id instead of guessing one: the document's
/// examples cannot name a profile or a group, which belong to their creator.
fn link_creation(document: &mut utoipa::openapi::OpenApi, creation: &Creation) {
    let takes_the_id = |operation: &Operation| {
        operation.parameters.iter().flatten().any(|parameter| {
            matches!(parameter, RefOr::T(p) if p.parameter_in == ParameterIn::Path && p.name == creation.parameter)
        })
    };
    let targets: Vec<String> = document
        .paths
        .paths
        .values()
        .flat_map(operations)
        .flatten()
        .filter(|operation| takes_the_id(operation))
        .filter_map(|operation| operation.operation_id.clone())
        .collect();
    let created = document
        .paths
        .paths
        .get_mut(creation.path)
        .and_then(|item| item.post.as_mut())
        .and_then(|operation| operation.responses.responses.get_mut("201"));
    let Some(RefOr::T(created)) = created else {
        return;
    };
    let value = format!("$response.body#{}", creation.id_in_answer);
    for target in targets {
        let link = LinkBuilder::new()
            .operation_id(target.as_str())
            .parameter(creation.parameter, value.as_str())
            .build();
        created.links.insert(target, link.into());
    }
}

/// Name of the schema of any JSON value without NUL in a key or a string:
/// what an open body (one whose undeclared fields are ignored) accepts.
const NUL_FREE: &str = "NulFreeValue";

fn nul_free_value() -> Schema {
    let itself = || Ref::from_schema_name(NUL_FREE);
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(NO_NUL)),
        )
        .item(ArrayBuilder::new().items(itself()))
        .item(open_object())
        .item(ObjectBuilder::new().schema_type(SchemaType::from_iter([
            Type::Number,
            Type::Boolean,
            Type::Null,
        ])))
        .into()
}

/// An object whose keys and values are free of NUL.
fn open_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(NO_NUL)),
        ))
        .additional_properties(Some(Ref::from_schema_name(NUL_FREE)))
}

fn operation_conventions(operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let mut has_path = false;
    if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
        for content in body.content.values_mut() {
            if let RefOr::T(content) = content
                && let Some(schema) = content.schema.as_mut()
            {
                no_nul(schema);
            }
        }
    }
    for parameter in operation.parameters.iter_mut().flatten() {
        if let RefOr::T(parameter) = parameter {
            has_path |= parameter.parameter_in == ParameterIn::Path;
            if let Some(schema) = parameter.schema.as_mut() {
                no_nul(schema);
            }
        }
    }
    let has_input =
        operation.parameters.as_ref().is_some_and(|p| !p.is_empty()) || has_body(operation);
    let mut answers = Vec::new();
    if secured {
        answers.push(("401", "No token, or an expired or revoked one"));
        answers.push(("422", "A malformed Authorization header"));
    }
    if has_path {
        answers.push(("404", "Nothing by that name, or a malformed path parameter"));
    }
    if has_input {
        answers.push(("400", "Invalid input: the messages list every failed rule"));
    }
    if has_body(operation) {
        answers.push(("413", "The request body is over 1 MiB"));
        answers.push(("415", "The request body is not JSON"));
    }
    for (status, description) in answers {
        let schema = if status == "400" {
            "ErrorBody"
        } else {
            "Message"
        };
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| {
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name(schema))),
                    )
                    .into()
            });
    }
    describe_by_status(operation);
}

/// OpenAPI requires a description on every response; one declared on a
/// handler with only a status and a body gets the status's reason phrase.
fn describe_by_status(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            let reason = status
                .parse()
                .ok()
                .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
                .and_then(|code| code.canonical_reason());
            response.description = reason.unwrap_or("Answer").to_string();
        }
    }
}

fn has_body(operation: &Operation) -> bool {
    matches!(&operation.request_body, Some(RefOr::T(RequestBody { content, .. })) if !content.is_empty())
}

/// Any text without NUL (ECMAScript, Python and Rust read it alike).
const NO_NUL: &str = r"^[^\x00]*$";

/// Gives every string schema under `schema` that has no pattern the no-NUL one.
fn no_nul(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            let is_string = match &object.schema_type {
                SchemaType::Type(t) => *t == Type::String,
                SchemaType::Array(types) => types.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            if is_string && object.pattern.is_none() {
                object.pattern = Some(NO_NUL.into());
            }
            let is_object = object.schema_type == SchemaType::Type(Type::Object);
            if is_object && object.additional_properties.is_none() {
                let open = open_object().build();
                object.property_names = open.property_names;
                object.additional_properties = open.additional_properties;
            }
            for property in object.properties.values_mut() {
                no_nul(property);
            }
        }
        Schema::Array(array) => {
            if let utoipa::openapi::schema::ArrayItems::RefOrSchema(item) = &mut array.items {
                no_nul(item);
            }
        }
        Schema::AllOf(all) => all.items.iter_mut().for_each(no_nul),
        Schema::OneOf(one) => one.items.iter_mut().for_each(no_nul),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(no_nul),
        _ => {}
    }
}

/// Path examples that exist in the data `recofinement demo` loads (seed 42,
/// 2,000 items), so that a client or a fuzzer reading the document reaches
/// the handlers, not only 404s. Profiles, groups and proposals belong to
/// their creator and are not in that data: their examples are placeholders,
/// and the document links their creation to the operations that name them
/// (see [`CREATIONS`]).
pub mod demo {
    /// The first demo user.
    pub const USER_UUID: &str = "2cb11804-0280-4183-9069-ee8dd853f411";
    /// A movie ("Dark Champion"); kind examples say `movie` to match.
    pub const MOVIE_ID: i64 = 881;
    /// A serie with episodes ("Farm of the Zombie").
    pub const SERIE_ID: i64 = 1361;
    /// The kind of [`MOVIE_ID`].
    pub const KIND: &str = "movie";
    /// A movie genre (Drama).
    pub const GENRE_ID: i64 = 23;
    /// A word of demo titles.
    pub const TERM: &str = "Dark";
    /// A demo username prefix. The search lists only accounts that can log
    /// in, which the demo set's users are not: its page stays empty there.
    pub const USER_TERM: &str = "emma";
    /// The first group, profile run or proposal a client creates.
    pub const FIRST_ID: i64 = 1;
    /// A profile uuid (profiles are the caller's own; none is in the demo).
    pub const PROFILE_UUID: &str = "00000000-0000-4000-8000-000000000000";
}
