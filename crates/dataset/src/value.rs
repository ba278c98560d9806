//! Checking and converting one field: the schema's NOT NULL, length and
//! CHECK rules, applied before any row reaches a database, so a bad value is
//! reported with its file and line.

use recofinement_domain::ContentKind;

use crate::schema::{FieldType, FileColumn};

/// A checked value ready for the database.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

fn as_text<'a>(bytes: &'a [u8], column: &FileColumn) -> Result<&'a str, String> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| format!("{}: not valid UTF-8", column.name))?;
    if text.contains('\0') {
        return Err(format!("{}: contains a NUL character", column.name));
    }
    Ok(text)
}

fn parse_number(text: &str, column: &FileColumn) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{}: {text:?} is not a number", column.name))
}

/// Checks and converts one field.
pub fn convert(field: Option<&[u8]>, column: &FileColumn) -> Result<Value, String> {
    let Some(bytes) = field else {
        return if column.required {
            Err(format!("{}: missing value", column.name))
        } else {
            Ok(Value::Null)
        };
    };
    let text = as_text(bytes, column)?;
    match column.ty {
        FieldType::Integer => text
            .trim()
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| format!("{}: {text:?} is not an integer", column.name)),
        FieldType::RoundedInteger => {
            let value = parse_number(text, column)?.round();
            if value.abs() > 9.0e15 {
                return Err(format!("{}: {text:?} is out of range", column.name));
            }
            Ok(Value::Int(value as i64))
        }
        FieldType::Rating => {
            let value = parse_number(text, column)?.round();
            if !(0.0..=5.0).contains(&value) {
                return Err(format!(
                    "{}: {text:?} is not a rating of 0 to 5",
                    column.name
                ));
            }
            Ok(Value::Int(value as i64))
        }
        FieldType::Float => parse_number(text, column).map(Value::Float),
        FieldType::Text(max) => {
            if let Some(max) = max
                && text.chars().count() > max
            {
                return Err(format!("{}: longer than {max} characters", column.name));
            }
            Ok(Value::Text(text.to_string()))
        }
        FieldType::Uuid => uuid::Uuid::try_parse(text.trim())
            .map(|u| Value::Text(u.hyphenated().to_string()))
            .map_err(|_| format!("{}: {text:?} is not a UUID", column.name)),
        FieldType::Email => {
            let email = recofinement_domain::validate::normalise_email(text);
            if email.chars().count() > 255 {
                return Err(format!("{}: longer than 255 characters", column.name));
            }
            Ok(Value::Text(email))
        }
        FieldType::ContentType => ContentKind::parse(text.trim())
            .map(|k| Value::Text(k.label().to_string()))
            .ok_or_else(|| format!("{}: {text:?} is not a content type", column.name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_and_normalised() {
        let c = |ty, required| FileColumn {
            name: "c",
            ty,
            required,
        };
        assert_eq!(
            convert(Some(b"4.0"), &c(FieldType::Rating, false)),
            Ok(Value::Int(4))
        );
        assert_eq!(
            convert(Some(b"4.5"), &c(FieldType::Rating, false)),
            Ok(Value::Int(5))
        );
        assert!(convert(Some(b"6"), &c(FieldType::Rating, false)).is_err());
        assert!(convert(Some(b"-1"), &c(FieldType::Rating, false)).is_err());
        assert_eq!(convert(None, &c(FieldType::Rating, false)), Ok(Value::Null));
        assert!(convert(None, &c(FieldType::Integer, true)).is_err());
        assert!(convert(Some(b"12a"), &c(FieldType::Integer, true)).is_err());
        assert_eq!(
            convert(
                Some(b"6F9619FF-8B86-D011-B42D-00C04FC964FF"),
                &c(FieldType::Uuid, true)
            ),
            Ok(Value::Text("6f9619ff-8b86-d011-b42d-00c04fc964ff".into()))
        );
        assert!(convert(Some(b"not-a-uuid"), &c(FieldType::Uuid, true)).is_err());
        assert_eq!(
            convert(Some(b" Some@Example.COM "), &c(FieldType::Email, false)),
            Ok(Value::Text("some@example.com".into()))
        );
        assert_eq!(convert(None, &c(FieldType::Email, false)), Ok(Value::Null));
        assert_eq!(
            convert(Some(b"movie"), &c(FieldType::ContentType, false)),
            Ok(Value::Text("MOVIE".into()))
        );
        assert!(convert(Some(b"xyz"), &c(FieldType::Text(Some(2)), false)).is_err());
        assert_eq!(
            convert(Some(b""), &c(FieldType::Text(Some(2)), false)),
            Ok(Value::Text(String::new()))
        );
    }
}
