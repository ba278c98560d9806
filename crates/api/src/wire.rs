//! How the store's values read on the wire. Timestamps: ISO 8601 without
//! offset, microseconds only when non-zero (spec §1.9); JSON columns: parsed.
//! The store hands out `NaiveDateTime`s and JSON text; this is the one place
//! that decides how they read, and [`wire_row!`] writes the answer type of a
//! store row from one list of its fields.

use chrono::NaiveDateTime;

/// A stored value as it reads on the wire, `W`: itself for most values.
pub trait ToWire<W> {
    fn to_wire(self) -> W;
}

impl<T> ToWire<T> for T {
    fn to_wire(self) -> T {
        self
    }
}

impl ToWire<String> for NaiveDateTime {
    fn to_wire(self) -> String {
        format(&self)
    }
}

impl ToWire<Option<String>> for Option<NaiveDateTime> {
    fn to_wire(self) -> Option<String> {
        format_option(self)
    }
}

/// A JSON text column, parsed ([`json_text`]).
impl ToWire<Option<serde_json::Value>> for Option<String> {
    fn to_wire(self) -> Option<serde_json::Value> {
        json_text(self)
    }
}

/// The answer type of a store row `$row` that has the same field names:
/// the struct (serialised, documented) and its `From<$row>`, each field
/// converted by [`ToWire`], so that one list of fields says both. A list of
/// such rows converts too, so a row may nest another's list.
#[macro_export]
macro_rules! wire_row {
    ($(#[$meta:meta])* pub struct $name:ident from $row:path {
        $($(#[$field_meta:meta])* pub $field:ident: $ty:ty,)*
    }) => {
        $(#[$meta])*
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl From<$row> for $name {
            fn from(row: $row) -> Self {
                $name { $($field: $crate::wire::ToWire::to_wire(row.$field),)* }
            }
        }

        impl $crate::wire::ToWire<$name> for $row {
            fn to_wire(self) -> $name {
                self.into()
            }
        }

        impl $crate::wire::ToWire<Vec<$name>> for Vec<$row> {
            fn to_wire(self) -> Vec<$name> {
                self.into_iter().map($name::from).collect()
            }
        }
    };
}

/// A time as the API's JSON carries it (`YYYY-MM-DDTHH:MM:SS[.ffffff]`).
pub fn format(t: &NaiveDateTime) -> String {
    recofinement_domain::time::isoformat(t, 'T')
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
