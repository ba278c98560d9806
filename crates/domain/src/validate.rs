//! Field rules of the original (spec §1.6), with the sound single password
//! rule of defect D14. Each rule is written once, as the JSON Schema of its
//! field: the OpenAPI document publishes that schema and [`check_object`]
//! enforces it, so the two cannot disagree. Messages are the original's; the
//! message of a failed `pattern` rides in the schema as `x-pattern-message`.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;
use serde_json::{Map, Value, json};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, Array, ArrayBuilder, ArrayItems, ObjectBuilder, Schema,
    SchemaType, Type,
};
use utoipa::openapi::{RefOr, schema::Object};

pub const PASSWORD_MESSAGE: &str = "Password must contain at least minimum eight characters, at least one uppercase letter, one lowercase letter, one number and one special character !";

/// Schema extension naming the message of a failed `pattern`.
pub const PATTERN_MESSAGE: &str = "x-pattern-message";

/// The white space `str::trim` removes, spelled so that Rust's regex,
/// ECMAScript and Python read the class alike (their `\s` differ).
const WS: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// Usernames and group names: letters, digits, `_` and single inner dots.
const NAME_PATTERN: &str = r"^[A-Za-z0-9_](?:[A-Za-z0-9_]|\.[A-Za-z0-9_])*$";

/// The password alphabet: letters, digits and `@$!%*?&.+-#_`.
const PASSWORD_ALPHABET: &str = r"^[A-Za-z0-9@$!%*?&.+#_-]*$";

/// One of each class the password must hold (written as `allOf`, since the
/// regex engine has no look-ahead).
const PASSWORD_CLASSES: [&str; 4] = ["[a-z]", "[A-Z]", "[0-9]", "[@$!%*?&.+#_-]"];

/// Lower-cases and trims an e-mail so that one address is one account (D13).
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// An e-mail: a dot-atom local part, `@`, and `localhost`, a bracketed IPv4
/// literal or a dotted host name; white space around it is trimmed later.
fn email_pattern() -> String {
    let atom = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
    let label = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    let octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    let localhost = "[Ll][Oo][Cc][Aa][Ll][Hh][Oo][Ss][Tt]";
    format!(
        r"^[{WS}]*{atom}(?:\.{atom})*@(?:{localhost}|\[(?:{octet}\.){{3}}{octet}\]|{label}(?:\.{label})+)[{WS}]*$"
    )
}

/// A string of `min..=max` characters, optionally matching `pattern`
/// (whose failure reads `message`).
fn text(min: Option<usize>, max: usize, pattern: Option<(String, &str)>) -> ObjectBuilder {
    let builder = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(min)
        .max_length(Some(max));
    match pattern {
        Some((pattern, message)) => builder
            .pattern(Some(pattern))
            .extensions(Some(message_extension(message))),
        None => builder,
    }
}

fn message_extension(message: &str) -> Extensions {
    Extensions::from_iter([(PATTERN_MESSAGE, json!(message))])
}

/// The engines of a forced run: at most six names that
/// [`EngineName::parse`](crate::EngineName::parse) reads.
pub fn engine_names_schema() -> Array {
    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(crate::EngineName::name_pattern()))
        .extensions(Some(message_extension(
            "Unknown engine: name Popularity, ContentSimilarities, LinkBetweenItems, \
             FromSimilarContent, FromProfile or CollaborativeFiltering.",
        )));
    ArrayBuilder::new().items(name).max_items(Some(6)).build()
}

/// What a lookup answers to a user reference [`user_reference_schema`]
/// refuses.
pub const USER_REFERENCE_MESSAGE: &str = "user: Name a user (1 to 255 characters).";

/// A user named for a lookup (a uuid, an e-mail, an id or a name): 1 to
/// 255 characters, not all white space.
pub fn user_reference_schema() -> Object {
    let pattern = format!(r"^[^\x00]*[^{WS}\x00][^\x00]*$");
    text(Some(1), 255, Some((pattern, USER_REFERENCE_MESSAGE))).build()
}

pub fn email_schema() -> Object {
    text(
        Some(5),
        64,
        Some((email_pattern(), "Not a valid email address.")),
    )
    .examples([json!("alice@example.com")])
    .build()
}

pub fn username_schema() -> Object {
    text(
        Some(4),
        15,
        Some((NAME_PATTERN.into(), "Invalid username!")),
    )
    .examples([json!("alice")])
    .build()
}

pub fn group_name_schema() -> Object {
    text(Some(3), 45, Some((NAME_PATTERN.into(), "Invalid name!")))
        .examples([json!("friends")])
        .build()
}

/// One password rule everywhere (D14): 8–72 characters (bcrypt's limit),
/// only letters, digits and `@$!%*?&.+-#_`, with at least one of each class.
pub fn password_schema() -> Schema {
    let alphabet = text(
        Some(8),
        72,
        Some((PASSWORD_ALPHABET.into(), PASSWORD_MESSAGE)),
    );
    let mut all = AllOfBuilder::new()
        .schema_type(Type::String)
        .examples([json!("goodPassword!123")])
        .item(alphabet.build());
    for class in PASSWORD_CLASSES {
        let contains = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(class))
            .extensions(Some(message_extension(PASSWORD_MESSAGE)));
        all = all.item(contains.build());
    }
    Schema::AllOf(all.build())
}

/// Login only checks the length, so that any stored password can be tried.
pub fn login_password_schema() -> Object {
    text(Some(8), 128, None)
        .examples([json!("goodPassword!123")])
        .build()
}

/// A profile name: 1–45 characters, not only white space (it is trimmed).
pub fn profile_name_schema() -> Object {
    // Anchored and NUL-free like every documented string; NUL itself is
    // refused before any rule runs.
    let not_blank = format!(r"^[^\x00]*[^{WS}\x00][^\x00]*$");
    text(
        Some(1),
        45,
        Some((not_blank, "Length must be between 1 and 45.")),
    )
    .examples([json!("weekend")])
    .build()
}

/// A UUID in its hyphenated or simple form, any case.
pub fn uuid_schema() -> Object {
    let h = "[0-9A-Fa-f]";
    let pattern = format!("^(?:{h}{{8}}-{h}{{4}}-{h}{{4}}-{h}{{4}}-{h}{{12}}|{h}{{32}})$");
    text(None, 36, Some((pattern, "Not a valid UUID.")))
        .examples([json!("00000000-0000-4000-8000-000000000000")])
        .build()
}

/// Checks one value against a rule schema; used by tools outside the API.
fn check_rule(schema: impl Into<Schema>, value: &str, errors: &mut Vec<String>) {
    check_value("", &schema.into(), &Value::String(value.into()), errors);
}

pub fn email(value: &str, errors: &mut Vec<String>) {
    check_rule(email_schema(), value, errors);
}

pub fn username(value: &str, errors: &mut Vec<String>) {
    check_rule(username_schema(), value, errors);
}

pub fn group_name(value: &str, errors: &mut Vec<String>) {
    check_rule(group_name_schema(), value, errors);
}

pub fn password(value: &str, errors: &mut Vec<String>) {
    check_rule(password_schema(), value, errors);
}

pub fn login_password(value: &str, errors: &mut Vec<String>) {
    check_rule(login_password_schema(), value, errors);
}

/// Whether a submitted link is a web link: empty (no link), or an absolute
/// `http`/`https` URL by the WHATWG rules, with no control character or
/// whitespace anywhere (browsers strip those, which is how
/// `"\x01javascript:"` or `"java\tscript:"` become scripts).
pub fn web_url(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return false;
    }
    url::Url::parse(value)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// Checks a JSON object against an object schema. Returns every failed
/// rule, in the schema's field order, and separately the undeclared keys
/// (refused when the schema closes `additionalProperties`), which do not
/// prevent checking the rest. An integer field given an integral number
/// (`5.0`, an integer to JSON Schema) is rewritten as the integer.
pub fn check_object(
    schema: &Schema,
    object: &mut Map<String, Value>,
) -> (Vec<String>, Vec<String>) {
    let mut errors = Vec::new();
    let mut unknown = Vec::new();
    let Schema::Object(schema) = schema else {
        return (errors, unknown);
    };
    let closed = matches!(
        schema.additional_properties.as_deref(),
        Some(AdditionalProperties::FreeForm(false))
    );
    if closed {
        for key in object.keys() {
            if !schema.properties.contains_key(key) {
                let shown: String = key.chars().take(64).collect();
                errors.push(format!("{shown}: Unknown field."));
                unknown.push(key.clone());
            }
        }
    }
    for (name, property) in &schema.properties {
        if let RefOr::T(Schema::Object(field)) = property {
            integral(field, object.get_mut(name));
        }
        match (object.get(name), property) {
            (None, _) if schema.required.contains(name) => {
                errors.push(format!("{name}: Missing data for required field."))
            }
            (None, _) | (_, RefOr::Ref(_)) => {}
            (Some(value), RefOr::T(property)) => check_value(name, property, value, &mut errors),
        }
    }
    (errors, unknown)
}

/// Largest integral float read as an integer (below 2^53, where every
/// integer is exact).
pub const EXACT_INTEGER: i64 = 9_000_000_000_000_000;

/// The integer a JSON number stands for: an integer, or an integral number
/// (`5.0`, an integer to JSON Schema) small enough to be exact.
pub fn integer(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < EXACT_INTEGER as f64)
            .map(|f| f as i64)
    })
}

/// `5.0` becomes `5` where the schema wants an integer.
fn integral(schema: &Object, value: Option<&mut Value>) {
    let wants_integer = match &schema.schema_type {
        SchemaType::Type(t) => *t == Type::Integer,
        SchemaType::Array(types) => types.contains(&Type::Integer),
        SchemaType::AnyValue => false,
    };
    if let Some(value) = value
        && wants_integer
        && value.as_i64().is_none()
        && let Some(i) = integer(value)
    {
        *value = Value::from(i);
    }
}

/// Checks one field's value; a message is pushed once even when several
/// rules carry it (the password classes).
fn check_value(name: &str, schema: &Schema, value: &Value, errors: &mut Vec<String>) {
    let mut found = Vec::new();
    match schema {
        Schema::Object(object) => check_scalar(name, object, value, &mut found),
        Schema::Array(array) => {
            if kind_matches(name, &array.schema_type, value, &mut found)
                && let Value::Array(items) = value
            {
                if let Some(max) = array.max_items
                    && items.len() > max
                {
                    found.push(format!("{name}: At most {max} items."));
                }
                if let ArrayItems::RefOrSchema(item) = &array.items
                    && let RefOr::T(item) = item.as_ref()
                {
                    for (i, value) in items.iter().enumerate() {
                        check_value(&format!("{name}[{i}]"), item, value, &mut found);
                    }
                }
            }
        }
        Schema::AllOf(all) => {
            for item in &all.items {
                if let RefOr::T(item) = item {
                    check_value(name, item, value, &mut found);
                }
            }
        }
        _ => {}
    }
    for message in found {
        if !errors.contains(&message) {
            errors.push(message);
        }
    }
}

/// The JSON type check; `false` when the value is null (allowed or not) or
/// of the wrong type, so that no further rule applies.
fn kind_matches(name: &str, kind: &SchemaType, value: &Value, errors: &mut Vec<String>) -> bool {
    let types: &[Type] = match kind {
        SchemaType::AnyValue => return !value.is_null(),
        SchemaType::Type(t) => std::slice::from_ref(t),
        SchemaType::Array(types) => types,
    };
    let main = types.iter().find(|t| **t != Type::Null);
    if value.is_null() {
        if !types.contains(&Type::Null) {
            errors.push(format!("{name}: Field may not be null."));
        }
        return false;
    }
    let ok = match main {
        Some(Type::String) => value.is_string(),
        Some(Type::Integer) => value.as_i64().is_some(),
        Some(Type::Number) => value.is_number(),
        Some(Type::Boolean) => value.is_boolean(),
        Some(Type::Array) => value.is_array(),
        Some(Type::Object) => value.is_object(),
        Some(Type::Null) | None => true,
    };
    if !ok {
        let expected = match main {
            Some(Type::String) => "string",
            Some(Type::Integer) => "integer",
            Some(Type::Number) => "number",
            Some(Type::Boolean) => "boolean",
            Some(Type::Array) => "list",
            _ => "object",
        };
        errors.push(format!("{name}: Not a valid {expected}."));
    }
    ok
}

/// Strings: length (counted in characters) and pattern; numbers: range;
/// both: `enum`. Length and pattern messages carry no field name, as the
/// original's.
fn check_scalar(name: &str, schema: &Object, value: &Value, errors: &mut Vec<String>) {
    if !kind_matches(name, &schema.schema_type, value, errors) {
        return;
    }
    if let Some(allowed) = &schema.enum_values
        && !allowed.contains(value)
    {
        let names: Vec<String> = allowed.iter().map(|v| v.to_string()).collect();
        errors.push(format!("{name}: Must be one of: {}.", names.join(", ")));
    }
    if let Value::String(text) = value {
        let n = text.chars().count();
        match (schema.min_length, schema.max_length) {
            (Some(min), Some(max)) if n < min || n > max => {
                errors.push(format!("Length must be between {min} and {max}."))
            }
            (Some(min), None) if n < min => {
                errors.push(format!("Shorter than minimum length {min}."))
            }
            (None, Some(max)) if n > max => {
                errors.push(format!("Longer than maximum length {max}."))
            }
            _ => {}
        }
        if let Some(pattern) = &schema.pattern
            && !matches(pattern, text)
        {
            let message = schema
                .extensions
                .as_ref()
                .and_then(|e| e.get(PATTERN_MESSAGE))
                .and_then(Value::as_str)
                .map_or_else(|| format!("{name}: Invalid value."), str::to_string);
            errors.push(message);
        }
    }
    if let Some(number) = value.as_f64() {
        let bound = |b: &Option<utoipa::Number>| {
            b.as_ref().map(|b| match b {
                utoipa::Number::Int(i) => (*i as f64, i.to_string()),
                utoipa::Number::UInt(u) => (*u as f64, u.to_string()),
                utoipa::Number::Float(f) => (*f, f.to_string()),
            })
        };
        let shown = value.as_i64().map_or(number.to_string(), |i| i.to_string());
        match (bound(&schema.minimum), bound(&schema.maximum)) {
            (Some((min, a)), Some((max, b))) if number < min || number > max => {
                errors.push(format!("{name}: {shown} is not between {a} and {b}."))
            }
            (Some((min, a)), None) if number < min => {
                errors.push(format!("{name}: Must be at least {a}."))
            }
            (None, Some((max, b))) if number > max => {
                errors.push(format!("{name}: Must be at most {b}."))
            }
            _ => {}
        }
    }
}

/// Runs a schema pattern (compiled once per pattern).
fn matches(pattern: &str, text: &str) -> bool {
    static CACHE: LazyLock<Mutex<HashMap<String, Regex>>> = LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if !cache.contains_key(pattern) {
        match Regex::new(pattern) {
            Ok(regex) => cache.insert(pattern.to_string(), regex),
            // A pattern this engine cannot read is a bug in a rule; the
            // unit tests compile every rule.
            Err(_) => return false,
        };
    }
    cache.get(pattern).is_some_and(|r| r.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: fn(&str, &mut Vec<String>), v: &str) -> Vec<String> {
        let mut errors = Vec::new();
        f(v, &mut errors);
        errors
    }

    #[test]
    fn emails() {
        assert!(check(email, "alice@example.com").is_empty());
        assert!(check(email, " Alice@Example.COM ").is_empty());
        assert!(check(email, "bob@localhost").is_empty());
        assert!(check(email, "x@[127.0.0.1]").is_empty());
        assert_eq!(
            check(email, "nope"),
            vec![
                "Length must be between 5 and 64.",
                "Not a valid email address."
            ]
        );
        for bad in [
            "a@b@c.com",
            "alice@example",
            ".a@b.co",
            "a..b@b.co",
            "a@-b.co",
            "a@[256.0.0.1]",
        ] {
            assert_eq!(
                check(email, bad),
                vec!["Not a valid email address."],
                "{bad}"
            );
        }
    }

    #[test]
    fn usernames() {
        assert!(check(username, "alice_1.b").is_empty());
        assert_eq!(
            check(username, "al"),
            vec!["Length must be between 4 and 15."]
        );
        assert_eq!(check(username, "al..ice"), vec!["Invalid username!"]);
        assert_eq!(check(username, ".alice"), vec!["Invalid username!"]);
        assert_eq!(check(username, "ali ce"), vec!["Invalid username!"]);
        assert_eq!(check(username, "alice\n"), vec!["Invalid username!"]);
    }

    #[test]
    fn passwords_follow_one_rule() {
        assert!(check(password, "goodPassword!123").is_empty());
        assert!(check(password, "Azerty#123").is_empty());
        assert_eq!(
            check(password, "short"),
            vec!["Length must be between 8 and 72.", PASSWORD_MESSAGE]
        );
        assert_eq!(check(password, "nouppercase1!"), vec![PASSWORD_MESSAGE]);
        assert_eq!(
            check(password, "Good!123 with space"),
            vec![PASSWORD_MESSAGE]
        );
        assert_eq!(
            check(password, &format!("Aa1!{}", "x".repeat(80))),
            vec!["Length must be between 8 and 72."]
        );
    }

    #[test]
    fn only_web_links_are_links() {
        assert!(web_url("https://x.test/a.png"));
        assert!(web_url("http://x.test:8080/a?b=c#d"));
        assert!(web_url(""));
        for bad in [
            "javascript:alert(1)",
            "\x01javascript:alert(1)",
            "\u{1}javascript:alert(1)",
            "java\tscript:alert(1)",
            " https://x.test/",
            "https://x.test/a b",
            "data:text/html,x",
            "//cdn.test/a.png",
            "cover",
            "https://",
            "ftp://x.test/",
        ] {
            assert!(!web_url(bad), "{bad:?}");
        }
    }

    #[test]
    fn emails_normalise() {
        assert_eq!(normalise_email("  Alice@Example.COM "), "alice@example.com");
    }

    #[test]
    fn every_rule_pattern_compiles() {
        let mut patterns = vec![
            email_pattern(),
            NAME_PATTERN.into(),
            PASSWORD_ALPHABET.into(),
        ];
        patterns.extend(PASSWORD_CLASSES.map(String::from));
        patterns.push(profile_name_schema().pattern.unwrap());
        patterns.push(uuid_schema().pattern.unwrap());
        patterns.push(user_reference_schema().pattern.unwrap());
        patterns.push(crate::EngineName::name_pattern());
        for pattern in patterns {
            assert!(Regex::new(&pattern).is_ok(), "{pattern}");
        }
    }

    /// A lookup's user reference: blank (by Rust's `trim`) or over 255
    /// characters is refused, as the handler does.
    #[test]
    fn user_references_are_not_blank() {
        let schema = user_reference_schema();
        for (value, ok) in [
            ("alice", true),
            (" a ", true),
            ("", false),
            (" \t\u{85}\u{3000}", false),
            ("a\u{0}", false),
        ] {
            let mut errors = Vec::new();
            check_rule(schema.clone(), value, &mut errors);
            assert_eq!(errors.is_empty(), ok, "{value:?}: {errors:?}");
            assert_eq!(ok, !value.trim().is_empty() && !value.contains('\u{0}'));
        }
        let mut errors = Vec::new();
        check_rule(schema, &"a".repeat(256), &mut errors);
        assert!(!errors.is_empty());
    }

    #[test]
    fn blank_profile_names_and_uuids() {
        let mut errors = Vec::new();
        check_rule(profile_name_schema(), " \u{3000}\t", &mut errors);
        assert_eq!(errors, vec!["Length must be between 1 and 45."]);
        let mut errors = Vec::new();
        check_rule(uuid_schema(), "0000", &mut errors);
        assert_eq!(errors, vec!["Not a valid UUID."]);
        let mut errors = Vec::new();
        check_rule(
            uuid_schema(),
            "00000000-0000-4000-8000-00000000000A",
            &mut errors,
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn objects_report_every_field_in_order() {
        let schema: Schema = ObjectBuilder::new()
            .property("email", email_schema())
            .required("email")
            .property(
                "rating",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(5)),
            )
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
            .into();
        let errors = |mut v: Value| check_object(&schema, v.as_object_mut().unwrap()).0;
        assert!(errors(json!({"email": "a@b.co"})).is_empty());
        assert!(errors(json!({"email": "a@b.co", "rating": 5.0})).is_empty());
        assert_eq!(
            errors(json!({"email": "a@b.co", "rating": 4.5})),
            vec!["rating: Not a valid integer."]
        );
        assert_eq!(
            errors(json!({"rating": "five", "x": 1})),
            vec![
                "x: Unknown field.",
                "email: Missing data for required field.",
                "rating: Not a valid integer."
            ]
        );
        assert_eq!(
            errors(json!({"email": null, "rating": 7})),
            vec![
                "email: Field may not be null.",
                "rating: 7 is not between 0 and 5."
            ]
        );
        assert_eq!(
            errors(json!({"email": 5})),
            vec!["email: Not a valid string."]
        );
    }
}
