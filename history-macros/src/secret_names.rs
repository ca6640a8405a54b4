//! Which argument names hold a secret, decided at compile time: a copy of
//! `history::redact::is_secret_name` (this crate cannot depend on `history`). A test pins the
//! two together name for name; change both or neither.

const SECRET_WORDS: [&str; 15] = [
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

const METADATA_WORDS: [&str; 10] = [
    "id", "ids", "count", "len", "length", "size", "type", "kind", "expiry", "expires",
];

/// Whether an argument name holds a secret (redacted unless skipped): normalised (ASCII
/// lowercase, `_ - .` and spaces removed), it contains one of [`SECRET_WORDS`], and its last
/// word (after a separator or a lowercase-to-uppercase step) is not one of [`METADATA_WORDS`]
/// (`credential_id`, `token_count` are kept).
pub(crate) fn is_secret_name(name: &str) -> bool {
    let mut norm = String::with_capacity(name.len());
    let mut last_word = 0;
    let mut prev_lower = false;
    let mut boundary = false;
    for c in name.chars() {
        if norm.len() >= 64 {
            break;
        }
        if matches!(c, '_' | '-' | '.' | ' ') {
            boundary = true;
            prev_lower = false;
            continue;
        }
        if (boundary || (prev_lower && c.is_ascii_uppercase())) && !norm.is_empty() {
            last_word = norm.len();
        }
        boundary = false;
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        norm.push(c.to_ascii_lowercase());
    }
    if norm.is_empty() {
        return false;
    }
    if last_word > 0 && METADATA_WORDS.contains(&&norm[last_word..]) {
        return false;
    }
    SECRET_WORDS.iter().any(|w| norm.contains(w))
}

#[cfg(test)]
mod tests {
    use super::is_secret_name;

    /// The macro decides at compile time which arguments are redacted by name; the runtime
    /// decides for fields, map keys, labels and Terraform variables. The two rules cannot
    /// share code, so they must agree name for name.
    #[test]
    fn secret_names_agree_with_the_runtime() {
        let names = [
            "password",
            "admin_password",
            "db_passwd",
            "passphrase",
            "pwd",
            "client_secret",
            "clientSecret",
            "api_token",
            "token",
            "access_token",
            "refreshToken",
            "id_token",
            "bearer_token",
            "authorization",
            "bearer",
            "cookie",
            "session",
            "api_key",
            "apiKey",
            "API-KEY",
            "apikey",
            "access_key",
            "secret_key",
            "private_key",
            "ssh_key",
            "ssh_private_key",
            "credential",
            "aws_credentials",
            "credential_id",
            "credentialId",
            "credential_ids",
            "user_credential_id",
            "session_id",
            "access_key_id",
            "token_count",
            "password_length",
            "token_type",
            "Password",
            "API_KEY",
            "name",
            "user_id",
            "spec",
            "key",
            "keys",
            "monkey",
            "region",
            "",
            "_",
            "é_password",
        ];
        for name in names {
            assert_eq!(
                is_secret_name(name),
                history::redact::is_secret_name(name),
                "the macro and the runtime disagree on {name:?}"
            );
        }
        assert!(is_secret_name("admin_password") && !is_secret_name("credential_id"));
    }
}
