//! JSON renderings shared by the API: timestamps as ISO 8601 without offset,
//! microseconds only when non-zero (spec §1.9).

use chrono::{NaiveDateTime, Timelike};
use serde::Serializer;

pub fn format(t: &NaiveDateTime) -> String {
    if t.nanosecond() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        format!(
            "{}.{:06}",
            t.format("%Y-%m-%dT%H:%M:%S"),
            t.nanosecond() / 1000
        )
    }
}

pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(t))
}

pub fn serialize_option<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format(t)),
        None => s.serialize_none(),
    }
}

/// A column holding JSON text, emitted as JSON.
pub fn serialize_json_text<S: Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    match text
        .as_deref()
        .map(serde_json::from_str::<serde_json::Value>)
    {
        Some(Ok(value)) => value.serialize(s),
        _ => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_only_when_present() {
        let t = NaiveDateTime::parse_from_str("2021-02-19 12:26:29", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(format(&t), "2021-02-19T12:26:29");
        let t = t + chrono::Duration::microseconds(945_099);
        assert_eq!(format(&t), "2021-02-19T12:26:29.945099");
    }
}
