//! The secret-name rule: which field, key and argument names hold a secret.
//!
//! The macro crate keeps a compile-time copy of this rule (`history-macros/src/secret_names.rs`);
//! a test there pins the two together name for name. Change both or neither.

/// The words that make a name secret, normalised (lowercase, no separators). A name is secret
/// when its normalised form contains one of them, unless its last word is one of
/// [`METADATA_WORDS`].
pub(crate) const SECRET_WORDS: [&str; 15] = [
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "authorization",
    "bearer",
    "cookie",
    "session",
    "apikey",
    "accesskey",
    "privatekey",
    "sshkey",
    "credential",
];

/// Last words that make a name describe a secret instead of holding one: `credential_id`,
/// `session_ids`, `token_count`, `password_length`, `token_type`.
pub(crate) const METADATA_WORDS: [&str; 10] = [
    "id", "ids", "count", "len", "length", "size", "type", "kind", "expiry", "expires",
];

/// Names longer than this are compared on their first `MAX_NAME` bytes only.
const MAX_NAME: usize = 64;

/// A name normalised: ASCII lowercase, separators (`_`, `-`, `.`, space) removed, and where
/// its last word starts.
pub(crate) struct Normalised {
    bytes: [u8; MAX_NAME],
    len: usize,
    last_word: usize,
}

impl Normalised {
    /// Normalises `name`: `apiKey`, `API-KEY` and `api_key` all become `apikey`. A word starts
    /// after a separator and at a lowercase-to-uppercase step (`credentialId`).
    pub(crate) fn new(name: &str) -> Normalised {
        let mut out = Normalised {
            bytes: [0; MAX_NAME],
            len: 0,
            last_word: 0,
        };
        let mut prev_lower = false;
        let mut boundary = false;
        for &b in name.as_bytes() {
            if out.len == MAX_NAME {
                break;
            }
            if matches!(b, b'_' | b'-' | b'.' | b' ') {
                boundary = true;
                prev_lower = false;
                continue;
            }
            if (boundary || (prev_lower && b.is_ascii_uppercase())) && out.len > 0 {
                out.last_word = out.len;
            }
            boundary = false;
            prev_lower = b.is_ascii_lowercase() || b.is_ascii_digit();
            out.bytes[out.len] = b.to_ascii_lowercase();
            out.len += 1;
        }
        out
    }

    /// The normalised name.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Its last word.
    pub(crate) fn last_word(&self) -> &[u8] {
        &self.bytes[self.last_word..self.len]
    }

    /// Whether the normalised name contains `word` (already normalised).
    pub(crate) fn contains(&self, word: &[u8]) -> bool {
        let hay = self.as_bytes();
        !word.is_empty() && hay.len() >= word.len() && hay.windows(word.len()).any(|w| w == word)
    }
}

/// Whether `name` names a secret under the default rule; see [`crate::redact::is_secret_name`].
pub(crate) fn is_secret_default(name: &str) -> bool {
    let n = Normalised::new(name);
    if n.len == 0 {
        return false;
    }
    let last = n.last_word();
    if n.last_word > 0 && METADATA_WORDS.iter().any(|w| w.as_bytes() == last) {
        return false;
    }
    SECRET_WORDS.iter().any(|w| n.contains(w.as_bytes()))
}

/// Normalises a word given to [`RedactionPolicy`](super::RedactionPolicy).
pub(crate) fn normalise(word: &str) -> String {
    String::from_utf8_lossy(Normalised::new(word).as_bytes()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_separators() {
        for name in [
            "apiKey",
            "API-KEY",
            "api_key",
            "Api.Key",
            "APIKEY",
            "x_api_key",
        ] {
            assert!(is_secret_default(name), "{name}");
        }
        assert_eq!(Normalised::new("credentialId").last_word(), b"id");
        assert_eq!(Normalised::new("user_credential_id").last_word(), b"id");
        assert_eq!(Normalised::new("API_KEY").last_word(), b"key");
    }
}
