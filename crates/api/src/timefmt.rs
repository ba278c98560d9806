//! Timestamps as the API writes them: ISO 8601 without offset, microseconds
//! only when non-zero (spec §1.9). The store hands out `NaiveDateTime`s;
//! this is the one place that decides how they read on the wire.

use chrono::{NaiveDateTime, Timelike};

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

/// [`format`] of a time that may be absent.
pub fn format_option(t: Option<NaiveDateTime>) -> Option<String> {
    t.as_ref().map(format)
}

/// A column holding JSON text, as JSON (`None` when absent or unreadable).
pub fn json_text(text: Option<String>) -> Option<serde_json::Value> {
    serde_json::from_str(text.as_deref()?).ok()
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

    #[test]
    fn unreadable_json_text_is_absent() {
        assert_eq!(
            json_text(Some("{\"a\":1}".into())),
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(json_text(Some("{".into())), None);
        assert_eq!(json_text(None), None);
    }
}
