//! Cross-cutting behaviour: envelopes for every rejection, CORS, health,
//! OpenAPI and Swagger UI.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::db_test;
use crate::support::{TestApp, assert_error};

db_test!(every_rejection_is_a_json_envelope, |app| {
    let (status, body) = app.get("/api/nothing/here", "x").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"status": false, "message": "Not found"}));
    let (status, body) = app.call(Method::GET, "/api/auth/login", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&body);
    let send = |content_type: &'static str, body: Vec<u8>| {
        app.client
            .post(app.url("/api/auth/login"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let response = send("application/json", b"{not json".to_vec())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_error(&response.json::<Value>().await.unwrap());
    let response = send("text/plain", b"hello".to_vec()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&response.json::<Value>().await.unwrap());
    let response = send("application/json", b"[1, 2]".to_vec()).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // A body over 1 MiB is refused from its Content-Length, before it is read.
    let raw = raw_request(
        app.address,
        "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("\"status\":false"), "{raw}");
    // SQL metacharacters are data, nothing more.
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "x'; DROP TABLE \"user\"; --@example.com", "password": "abcdefgh"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "a'--@example.com", "password": "abcdefgh1"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
});

db_test!(authentication_comes_before_body_validation, |app| {
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/user/{}", uuid::Uuid::new_v4()),
            None,
            Some(json!(5)),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
});

/// A preflight of a login from `origin`; answers its allowed origin, if any.
async fn preflight(app: &TestApp, origin: &str) -> Option<String> {
    let response = app
        .client
        .request(Method::OPTIONS, app.url("/api/auth/login"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    assert!(
        response
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string())
}

db_test!(cors_allows_the_front_origin_by_default, |app| {
    assert_eq!(
        preflight(&app, "http://front.test").await.as_deref(),
        Some("http://front.test")
    );
    assert_eq!(preflight(&app, "http://client.test").await, None);
    let config = recofinement_api::ApiConfig {
        cors_origins: vec!["*".into()],
        ..crate::support::test_config()
    };
    let app = app.respawn(config, None).await;
    assert_eq!(
        preflight(&app, "http://client.test").await.as_deref(),
        Some("http://client.test")
    );
});

db_test!(answers_carry_the_security_headers, |app| {
    for path in ["/api/movie", "/swaggerui/", "/api/nothing-here"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        if path.starts_with("/swaggerui") {
            assert!(csp.contains("script-src 'self'"), "{csp}");
        }
    }
});

db_test!(health_and_documentation_are_served, |app| {
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["database"], "ok");
    let document = app.document().await;
    assert_eq!(document["info"]["title"], "RecoFinement API");
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/logout",
        "/api/auth/forget",
        "/api/auth/reset",
        "/api/user/{uuid}",
    ] {
        assert!(
            document["paths"].get(path).is_some(),
            "{path} missing from the document"
        );
    }
    assert!(
        document["components"]["securitySchemes"]
            .get("Bearer Auth")
            .is_some()
    );
    let response = app.client.get(app.url("/swaggerui/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("swagger"));
    let response = app.client.get(app.url("/api/")).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the UI is reached from /api/"
    );
});

db_test!(responses_carry_a_request_id, |app| {
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert!(response.headers().contains_key("x-request-id"));
});

/// Sends raw request bytes and returns what the server answered first.
async fn raw_request(address: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = vec![0u8; 4096];
    let mut answer = String::new();
    while !answer.contains("\"status\"") {
        let n = stream.read(&mut buffer).await.unwrap();
        if n == 0 {
            break;
        }
        answer.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    answer
}

// The document carries the rules the server enforces: lengths, patterns (with
// the message a failure reads), ranges, closed bodies, examples for path
// parameters, and the statuses every secured operation may answer.
db_test!(the_document_carries_the_validation_rules, |app| {
    let document = app.document().await;
    let schemas = &document["components"]["schemas"];
    let register = &schemas["RegisterBody"];
    assert_eq!(
        register["required"],
        json!(["email", "username", "password"])
    );
    assert_eq!(register["additionalProperties"], false);
    let username = &register["properties"]["username"];
    assert_eq!(
        (&username["minLength"], &username["maxLength"]),
        (&json!(4), &json!(15))
    );
    assert!(username["pattern"].is_string(), "{username}");
    assert_eq!(username["x-pattern-message"], "Invalid username!");
    assert_eq!(register["properties"]["email"]["maxLength"], 64);
    let rating = &schemas["MetaBody"]["properties"]["rating"];
    assert_eq!(
        (&rating["minimum"], &rating["maximum"]),
        (&json!(0), &json!(5))
    );
    assert_eq!(schemas["ForceBody"]["properties"]["engines"]["maxItems"], 6);
    // A proposal's body differs per kind: one path and one schema each.
    assert!(document["paths"].get("/api/{media}").is_none());
    assert_eq!(
        document["paths"]["/api/book"]["get"]["parameters"][0]["name"],
        "page"
    );
    let movie = &document["paths"]["/api/movie"]["post"]["requestBody"]["content"];
    assert_eq!(
        movie["application/json"]["schema"]["$ref"],
        "#/components/schemas/MovieProposal"
    );
    let proposal = &schemas["MovieProposal"];
    assert_eq!(proposal["required"], json!(["title", "genres"]));
    assert_eq!(proposal["properties"]["title"]["maxLength"], 255);
    assert_eq!(
        schemas["BookProposal"]["required"],
        json!(["isbn", "title"])
    );
    assert!(schemas["SerieProposal"]["properties"]["episodes"]["items"].is_object());
    let meta = &document["paths"]["/api/{media}/{content_id}/meta"]["patch"];
    let examples: Vec<&Value> = meta["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["example"])
        .collect();
    assert_eq!(examples, vec![&json!("movie"), &json!(881)]);
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
            {
                assert!(
                    operation["responses"].get("401").is_some(),
                    "{method} {path} does not document 401"
                );
            }
            let names_something = operation["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path"));
            if names_something {
                assert!(
                    operation["responses"].get("404").is_some(),
                    "{method} {path} does not document 404"
                );
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(
                    !description.is_empty(),
                    "{method} {path}: {status} has no description"
                );
            }
        }
    }
});

// What a client creates (a profile, a group) the document cannot give an
// example of, since it belongs to its creator; instead the creation's 201
// answer links to every operation that names it. Operation ids are unique
// (links name operations by them), each link sets a path parameter its
// operation takes, and following a link with a fresh id reaches the resource.
db_test!(creations_link_to_the_operations_that_name_them, |app| {
    let document = app.document().await;
    // operationId → (path, method, path parameters)
    let mut operations = std::collections::HashMap::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap().to_string();
            let parameters: Vec<String> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            let known = operations.insert(id.clone(), (path.clone(), method.clone(), parameters));
            assert!(known.is_none(), "operationId {id} twice");
        }
    }
    // Profiles are the sandbox's, which administrators reach.
    let (token, _) = app.register_admin("alice").await;
    let creations = [
        (
            "/api/profile",
            json!({"profilename": "Evenings"}),
            "profile_uuid",
            "/profile/uuid",
            12,
        ),
        (
            "/api/group",
            json!({"name": "Friends"}),
            "group_id",
            "/group/group_id",
            6,
        ),
    ];
    for (path, body, parameter, pointer, expected) in creations {
        let links = document["paths"][path]["post"]["responses"]["201"]["links"]
            .as_object()
            .unwrap_or_else(|| panic!("{path}: no links"));
        assert_eq!(links.len(), expected, "{path}: {links:?}");
        let (status, created) = app.post(path, Some(&token), body).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {created}");
        let id = created.pointer(pointer).unwrap().to_string();
        let id = id.trim_matches('"');
        let mut followed = 0;
        for link in links.values() {
            let target = link["operationId"].as_str().unwrap();
            let (target_path, method, parameters) = &operations[target];
            assert_eq!(
                link["parameters"],
                json!({parameter: format!("$response.body#{pointer}")}),
                "{target}"
            );
            assert!(parameters.contains(&parameter.to_string()), "{target}");
            if method == "get" && parameters.len() == 1 {
                let url = target_path.replace(&format!("{{{parameter}}}"), id);
                let (status, answer) = app.get(&url, &token).await;
                assert_eq!(status, StatusCode::OK, "{url}: {answer}");
                followed += 1;
            }
        }
        assert!(followed > 0, "{path}: no GET followed");
    }
});

// What an administrator's fuzzer found the document getting wrong: the
// lookup's `user` is required and not blank, a forced run takes engine
// names only, and an event's payload may be null.
db_test!(admin_inputs_and_answers_are_documented_as_they_are, |app| {
    let document = app.document().await;
    let user = &document["paths"]["/api/admin/lookup"]["get"]["parameters"][0];
    assert_eq!(user["name"], "user");
    assert_eq!(user["required"], true, "{user}");
    assert_eq!(user["schema"]["minLength"], 1, "{user}");
    let engines = &document["components"]["schemas"]["ForceBody"]["properties"]["engines"];
    assert!(engines["items"]["pattern"].is_string(), "{engines}");
    let payload = &document["components"]["schemas"]["Event"]["properties"]["payload"];
    assert_eq!(payload["type"], json!(["object", "null"]), "{payload}");
    let (admin, _) = app.register_admin("admin").await;
    for url in ["/api/admin/lookup", "/api/admin/lookup?user=%20%20"] {
        let (status, body) = app.get(url, &admin).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
    }
    let (status, body) = app
        .post("/api/engine/runs", Some(&admin), json!({"engines": [""]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
});

// A reference to a schema the document does not hold breaks every
// generated client and the fuzzer at that operation.
db_test!(every_reference_in_the_document_resolves, |app| {
    let document = app.document().await;
    let mut references = Vec::new();
    collect_references(&document, &mut references);
    assert!(references.len() > 100, "{} references", references.len());
    let schemas = &document["components"]["schemas"];
    let dangling: Vec<&str> = references
        .iter()
        .map(|r| r.trim_start_matches("#/components/schemas/"))
        .filter(|name| schemas.get(*name).is_none())
        .collect();
    assert_eq!(dangling, Vec::<&str>::new());
});

fn collect_references<'a>(value: &'a Value, into: &mut Vec<&'a str>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field.as_str()) {
                    ("$ref", Some(reference)) => into.push(reference),
                    _ => collect_references(field, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_references(item, into)),
        _ => {}
    }
}
