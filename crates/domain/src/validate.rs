//! Field rules of the original (spec §1.6), with the sound single password
//! rule of defect D14. Each check returns the original's message text.

use std::sync::LazyLock;

use regex::Regex;

/// Usernames and group names: letters, digits, `_` and single inner dots.
static NAME_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_](?:[A-Za-z0-9_]|\.[A-Za-z0-9_])*$").expect("valid regex")
});

pub const PASSWORD_MESSAGE: &str = "Password must contain at least minimum eight characters, at least one uppercase letter, one lowercase letter, one number and one special character !";
const PASSWORD_SPECIALS: &str = "@$!%*?&.+-#_";

/// Lower-cases and trims an e-mail so that one address is one account (D13).
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn length_between(value: &str, min: usize, max: usize) -> Option<String> {
    let n = value.chars().count();
    (n < min || n > max).then(|| format!("Length must be between {min} and {max}."))
}

pub fn email(value: &str, errors: &mut Vec<String>) {
    if let Some(e) = length_between(value, 5, 64) {
        errors.push(e);
    }
    if !is_email(value) {
        errors.push("Not a valid email address.".into());
    }
}

fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let domain_ok = domain == "localhost"
        || (domain.starts_with('[')
            && domain.ends_with(']')
            && domain[1..domain.len() - 1]
                .parse::<std::net::IpAddr>()
                .is_ok())
        || (domain.contains('.') && domain.split('.').all(label_ok));
    local_ok && domain_ok
}

pub fn username(value: &str, errors: &mut Vec<String>) {
    if let Some(e) = length_between(value, 4, 15) {
        errors.push(e);
    }
    if !NAME_PATTERN.is_match(value) {
        errors.push("Invalid username!".into());
    }
}

pub fn group_name(value: &str, errors: &mut Vec<String>) {
    if let Some(e) = length_between(value, 3, 45) {
        errors.push(e);
    }
    if !NAME_PATTERN.is_match(value) {
        errors.push("Invalid name!".into());
    }
}

/// One password rule everywhere (D14): 8–72 bytes (bcrypt's limit), only
/// letters, digits and `@$!%*?&.+-#_`, with at least one of each class.
pub fn password(value: &str, errors: &mut Vec<String>) {
    if value.chars().count() < 8 || value.len() > 72 {
        errors.push("Length must be between 8 and 72.".into());
    }
    let allowed = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || PASSWORD_SPECIALS.contains(c));
    let has = |f: fn(char) -> bool| value.chars().any(f);
    if !(allowed
        && has(|c| c.is_ascii_lowercase())
        && has(|c| c.is_ascii_uppercase())
        && has(|c| c.is_ascii_digit())
        && value.chars().any(|c| PASSWORD_SPECIALS.contains(c)))
    {
        errors.push(PASSWORD_MESSAGE.into());
    }
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

/// Login only checks the length, so that any stored password can be tried.
pub fn login_password(value: &str, errors: &mut Vec<String>) {
    if let Some(e) = length_between(value, 8, 128) {
        errors.push(e);
    }
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
        assert!(check(email, "bob@localhost").is_empty());
        assert!(check(email, "x@[127.0.0.1]").is_empty());
        assert_eq!(
            check(email, "nope"),
            vec![
                "Length must be between 5 and 64.",
                "Not a valid email address."
            ]
        );
        assert_eq!(
            check(email, "a@b@c.com"),
            vec!["Not a valid email address."]
        );
        assert_eq!(
            check(email, "alice@example"),
            vec!["Not a valid email address."]
        );
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
}
