//! Provider tokens at rest: ChaCha20-Poly1305 (RustCrypto, pure Rust) with a
//! 256-bit key from `TOKEN_ENCRYPTION_KEY` (or, on SQLite, generated once
//! into the key file beside the database), a random nonce per value, and the owning user and service as
//! associated data so a ciphertext cannot be moved to another row.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// Prefix of an encrypted value (version of the format).
const PREFIX: &str = "v1.";

/// Associated data binding a sealed token to its row (user and service).
pub fn grant_aad(user_id: i64, service_name: &str) -> String {
    format!("{user_id}:{service_name}")
}

/// A 256-bit key whose `Debug` does not show it.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    pub fn random() -> Self {
        TokenKey(rand::random())
    }

    /// 64 hexadecimal characters.
    pub fn from_hex(value: &str) -> Result<Self, String> {
        let bytes = hex::decode(value.trim())
            .map_err(|_| "TOKEN_ENCRYPTION_KEY must be 64 hexadecimal characters".to_string())?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            "TOKEN_ENCRYPTION_KEY must be 64 hexadecimal characters (32 bytes)".to_string()
        })?;
        Ok(TokenKey(key))
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

/// Seals with the current key; opens with it or with the key before a
/// rotation (`TOKEN_ENCRYPTION_KEY_PREVIOUS`) while `secret rotate` runs.
pub struct TokenCipher {
    current: ChaCha20Poly1305,
    previous: Option<ChaCha20Poly1305>,
}

impl TokenCipher {
    pub fn new(key: &TokenKey) -> Self {
        Self::rotating(key, None)
    }

    pub fn rotating(key: &TokenKey, previous: Option<&TokenKey>) -> Self {
        TokenCipher {
            current: ChaCha20Poly1305::new(&Key::from(key.0)),
            previous: previous.map(|p| ChaCha20Poly1305::new(&Key::from(p.0))),
        }
    }

    /// `v1.` + base64url(nonce ‖ ciphertext ‖ tag).
    pub fn encrypt(&self, plain: &str, aad: &[u8]) -> String {
        let nonce: [u8; 12] = rand::random();
        let sealed = self
            .current
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad,
                },
            )
            .expect("ChaCha20-Poly1305 encryption of a short value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// The plain value; `None` when it was not sealed with this key for
    /// this row. A value without the prefix was stored in clear by the
    /// original application and is returned as it is.
    pub fn decrypt(&self, stored: &str, aad: &[u8]) -> Option<String> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else {
            return Some(stored.to_string());
        };
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        if bytes.len() < 12 + 16 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let nonce = Nonce::from(nonce);
        let open =
            |cipher: &ChaCha20Poly1305| cipher.decrypt(&nonce, Payload { msg: sealed, aad }).ok();
        let plain = open(&self.current).or_else(|| self.previous.as_ref().and_then(open))?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_are_bound_to_their_row() {
        let cipher = TokenCipher::new(&TokenKey::random());
        let sealed = cipher.encrypt("secret-token", b"1:Spotify");
        assert!(sealed.starts_with("v1.") && !sealed.contains("secret-token"));
        assert_eq!(
            cipher.decrypt(&sealed, b"1:Spotify").as_deref(),
            Some("secret-token")
        );
        assert_eq!(cipher.decrypt(&sealed, b"2:Spotify"), None);
        let other = TokenCipher::new(&TokenKey::random());
        assert_eq!(other.decrypt(&sealed, b"1:Spotify"), None);
        assert_ne!(cipher.encrypt("secret-token", b"1:Spotify"), sealed);
    }

    #[test]
    fn the_previous_key_opens_what_it_sealed() {
        let (old, new) = (TokenKey::random(), TokenKey::random());
        let sealed = TokenCipher::new(&old).encrypt("secret-token", b"1:Spotify");
        assert_eq!(TokenCipher::new(&new).decrypt(&sealed, b"1:Spotify"), None);
        let rotating = TokenCipher::rotating(&new, Some(&old));
        assert_eq!(
            rotating.decrypt(&sealed, b"1:Spotify").as_deref(),
            Some("secret-token")
        );
        let resealed = rotating.encrypt("secret-token", b"1:Spotify");
        assert_eq!(
            TokenCipher::new(&new)
                .decrypt(&resealed, b"1:Spotify")
                .as_deref(),
            Some("secret-token")
        );
    }

    #[test]
    fn keys_are_64_hex_characters() {
        assert!(TokenKey::from_hex(&"ab".repeat(32)).is_ok());
        assert!(TokenKey::from_hex("abcd").is_err());
        assert!(TokenKey::from_hex(&"zz".repeat(32)).is_err());
    }
}
