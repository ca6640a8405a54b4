//! Keeping secrets out of the history: which names hold a secret, and how values are scrubbed.
//!
//! Every value a tracked call captures (its arguments, its result, its labels, its error) is
//! redacted while it is captured, at any depth:
//!
//! - the value of a struct field, map entry or argument whose **name** is secret
//!   ([`is_secret_name`]) is replaced by [`REDACTED`], in the `Serialize` capture and in the
//!   `Debug` text alike (`password: "…"`, `{:#?}` forms, `"password": …` map entries);
//! - names are compared after normalising case and separators: `apiKey`, `API-KEY` and
//!   `api_key` are one name;
//! - the password of a URL (`postgres://app:pw@db/main`) is scrubbed from every stored string
//!   ([`scrub_url_credentials`]);
//! - the value of an argument that was redacted is also scrubbed from the rest of the event
//!   (the error message and its sources, `Debug` texts, the backtrace, labels, the result).
//!
//! The default names can be extended and narrowed per recorder with a [`RedactionPolicy`]
//! ([`RecorderBuilder::redaction`](crate::RecorderBuilder::redaction)), and per call with the
//! attribute's `redact(...)` and `skip(...)`.
//!
//! What cannot be caught: a secret inside free text under an innocent name (`note: "the
//! password is hunter2"`), or a secret type whose name gives nothing away (`Auth("…")`).
//! Skip or redact such arguments explicitly.
//!
//! ```
//! use history::redact::{is_secret_name, RedactionPolicy, Redactor};
//!
//! assert!(is_secret_name("apiKey") && is_secret_name("DB-PASSWORD"));
//! assert!(!is_secret_name("credential_id") && !is_secret_name("token_count"));
//!
//! let policy = RedactionPolicy::default().also("pin").allow("session");
//! assert!(policy.is_secret("card_pin") && !policy.is_secret("session"));
//!
//! let r = Redactor::new(["hunter2"]);
//! assert_eq!(r.scrub("login failed for hunter2"), "login failed for [redacted]");
//! ```

mod debug_text;
pub(crate) mod json_writer;
mod limits;
mod names;
mod redactor;
pub(crate) mod serializer;
mod stored;
mod url;

use std::cell::Cell;

pub(crate) use debug_text::redact_debug;
pub(crate) use limits::{cut, too_large, Capturing, DEFAULT as DEFAULT_CAPTURING};
pub use limits::{DEFAULT_MAX_ERROR_BYTES, DEFAULT_MAX_VALUE_BYTES};
pub use redactor::Redactor;
pub(crate) use url::scrub_string;
pub use url::scrub_url_credentials;

/// What a redacted value is recorded as.
pub const REDACTED: &str = "[redacted]";

/// Whether `name` (an argument, struct field or map key) holds a secret under the default
/// rule.
///
/// The name is normalised first (ASCII lowercase, `_`, `-`, `.` and spaces removed), then it
/// is secret when it contains one of: password, passwd, passphrase, pwd, secret (client_secret,
/// secret_key), token (access/refresh/id/bearer tokens), authorization, bearer, cookie,
/// session, apikey, accesskey, privatekey, sshkey, credential. A name whose last word is
/// `id`, `ids`, `count`, `len`, `length`, `size`, `type`, `kind`, `expiry` or `expires`
/// describes a secret without holding one: `credential_id`, `session_ids`, `token_count`,
/// `token_type` are kept.
///
/// ```
/// use history::redact::is_secret_name;
/// for name in ["password", "refreshToken", "X-Api-Key", "client_secret", "aws_credentials"] {
///     assert!(is_secret_name(name), "{name}");
/// }
/// for name in ["credential_id", "accessKeyId", "token_count", "user", "monkey"] {
///     assert!(!is_secret_name(name), "{name}");
/// }
/// ```
pub fn is_secret_name(name: &str) -> bool {
    names::is_secret_default(name)
}

/// Which names hold a secret, for one recorder: the default rule ([`is_secret_name`]),
/// extended with [`RedactionPolicy::also`] and narrowed with [`RedactionPolicy::allow`].
///
/// ```
/// use history::redact::RedactionPolicy;
/// let policy = RedactionPolicy::default().also("iban").allow("session");
/// assert!(policy.is_secret("customer_IBAN"));
/// assert!(!policy.is_secret("session") && policy.is_secret("session_cookie"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedactionPolicy {
    /// Extra words, normalised: a name containing one is secret.
    also: Vec<String>,
    /// Names, normalised, that are never secret.
    allow: Vec<String>,
}

impl RedactionPolicy {
    /// The default rule ([`is_secret_name`]).
    pub fn new() -> RedactionPolicy {
        RedactionPolicy::default()
    }

    /// Also treats names containing `word` as secret (compared normalised, like the default
    /// words): `.also("pin")` redacts `pin`, `card_pin`, `PIN`.
    pub fn also(mut self, word: impl AsRef<str>) -> Self {
        let word = names::normalise(word.as_ref());
        if !word.is_empty() && !self.also.contains(&word) {
            self.also.push(word);
        }
        self
    }

    /// Never treats the name `name` as secret (compared whole, normalised): `.allow("session")`
    /// keeps a field named `session`, while `session_token` stays redacted.
    pub fn allow(mut self, name: impl AsRef<str>) -> Self {
        let name = names::normalise(name.as_ref());
        if !name.is_empty() && !self.allow.contains(&name) {
            self.allow.push(name);
        }
        self
    }

    /// Whether `name` holds a secret under this policy.
    pub fn is_secret(&self, name: &str) -> bool {
        if self.is_default() {
            return names::is_secret_default(name);
        }
        self.is_secret_custom(name, names::is_secret_default(name))
    }

    /// Whether this is the default rule, unchanged.
    pub(crate) fn is_default(&self) -> bool {
        self.also.is_empty() && self.allow.is_empty()
    }

    /// [`RedactionPolicy::is_secret`] for a name known at compile time, given whether the
    /// default rule finds it secret.
    pub(crate) fn is_secret_given(&self, name: &str, by_default: bool) -> bool {
        if self.is_default() {
            by_default
        } else {
            self.is_secret_custom(name, by_default)
        }
    }

    fn is_secret_custom(&self, name: &str, by_default: bool) -> bool {
        let n = names::Normalised::new(name);
        if self.allow.iter().any(|a| a.as_bytes() == n.as_bytes()) {
            return false;
        }
        by_default || self.also.iter().any(|w| n.contains(w.as_bytes()))
    }

    /// [`RedactionPolicy::is_secret`] for a struct field name: the default rule's answer is
    /// remembered per name on each thread, so a struct serialized again costs a lookup.
    #[inline]
    pub(crate) fn is_secret_field(&self, name: &'static str) -> bool {
        let by_default = cached_default(name);
        self.is_secret_given(name, by_default)
    }
}

const CACHE_SLOTS: usize = 256;

thread_local! {
    /// The default rule's answer for recently seen `'static` names, by address and length.
    static CACHE: [Cell<(usize, usize, bool)>; CACHE_SLOTS] =
        const { [const { Cell::new((0, 0, false)) }; CACHE_SLOTS] };
}

#[inline]
fn cached_default(name: &'static str) -> bool {
    let (addr, len) = (name.as_ptr() as usize, name.len());
    let slot = ((addr >> 3) ^ (addr >> 11) ^ len) % CACHE_SLOTS;
    CACHE
        .try_with(|cache| {
            let cell = &cache[slot];
            let (a, l, secret) = cell.get();
            if a == addr && l == len {
                return secret;
            }
            let secret = names::is_secret_default(name);
            cell.set((addr, len, secret));
            secret
        })
        .unwrap_or_else(|_| names::is_secret_default(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names() {
        let secret = [
            "password",
            "passwd",
            "db_passphrase",
            "pwd",
            "secret",
            "client_secret",
            "clientSecret",
            "token",
            "access_token",
            "refreshToken",
            "id_token",
            "bearer_token",
            "Authorization",
            "bearer",
            "cookie",
            "Set-Cookie",
            "session",
            "session_key",
            "api_key",
            "apiKey",
            "API-KEY",
            "x-api-key",
            "access_key",
            "aws_secret_access_key",
            "secret_key",
            "private_key",
            "ssh_key",
            "ssh_private_key",
            "credential",
            "credentials",
            "aws_credentials",
        ];
        for name in secret {
            assert!(is_secret_name(name), "{name} should be secret");
        }
        let kept = [
            "credential_id",
            "credentialId",
            "credential_ids",
            "user_credential_id",
            "session_id",
            "access_key_id",
            "token_count",
            "tokenCount",
            "password_length",
            "token_type",
            "user",
            "name",
            "key",
            "monkey",
            "region",
            "spec",
            "",
        ];
        for name in kept {
            assert!(!is_secret_name(name), "{name} should be kept");
        }
    }

    #[test]
    fn policy_extends_and_narrows() {
        let p = RedactionPolicy::new().also("PIN").allow("Session");
        assert!(p.is_secret("pin") && p.is_secret("card_pin") && p.is_secret("password"));
        assert!(!p.is_secret("session") && p.is_secret("session_cookie"));
        assert!(!p.is_secret("name"));
        assert!(p.is_secret_field("card_pin") && !p.is_secret_field("session"));
        let d = RedactionPolicy::default();
        for _ in 0..2 {
            assert!(d.is_secret_field("password") && !d.is_secret_field("name"));
        }
    }
}
