//! Secrets in `Debug` text: the value after `password: ` (a struct field, plain or `{:#?}`)
//! or `"password": ` (a map entry) is replaced, whatever its shape.

use std::borrow::Cow;

use super::{RedactionPolicy, REDACTED};

/// `text` (a `Debug` form) with the value of every field or map entry whose name is secret
/// replaced by [`REDACTED`], and URL passwords scrubbed.
pub(crate) fn redact_debug<'a>(text: &'a str, policy: &RedactionPolicy) -> Cow<'a, str> {
    let fields = redact_fields(text, policy);
    match super::scrub_url_credentials(&fields) {
        Cow::Borrowed(_) => fields,
        Cow::Owned(clean) => Cow::Owned(clean),
    }
}

fn redact_fields<'a>(text: &'a str, policy: &RedactionPolicy) -> Cow<'a, str> {
    let b = text.as_bytes();
    if !b.contains(&b':') {
        return Cow::Borrowed(text);
    }
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        let (name, after) = if b[i] == b'"' {
            let end = skip_quoted(b, i, b'"');
            (&text[i + 1..end.saturating_sub(1).max(i + 1)], end)
        } else if is_ident_start(b[i]) && (i == 0 || !is_ident(b[i - 1])) {
            let mut end = i;
            while end < b.len() && is_ident(b[end]) {
                end += 1;
            }
            (&text[i..end], end)
        } else {
            i += 1;
            continue;
        };
        // `name: value`, not `path::name`.
        let is_field = after + 1 < b.len()
            && b[after] == b':'
            && (b[after + 1] == b' ' || b[after + 1] == b'\n');
        if is_field && policy.is_secret(name) {
            let start = after + 2;
            let end = value_end(b, start);
            if start < end && &text[start..end] != REDACTED {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[copied..start]);
                o.push_str(REDACTED);
                copied = end;
            }
            i = end.max(after + 1);
        } else {
            i = after.max(i + 1);
        }
    }
    match out {
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
        None => Cow::Borrowed(text),
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The index just past the quoted text opening at `start` (to the end of `b` if unclosed).
fn skip_quoted(b: &[u8], start: usize, quote: u8) -> usize {
    let mut j = start + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            c if c == quote => return j + 1,
            _ => j += 1,
        }
    }
    b.len()
}

/// Where the value starting at `start` ends: at a `,`, a line end or an unmatched closing
/// bracket outside any nesting and quotes; trailing spaces are left out.
fn value_end(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut j = start;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j = skip_quoted(b, j, b'"');
                continue;
            }
            // A char literal (`'x'`, `'\''`); a lone apostrophe is just a character.
            b'\'' => {
                let end = skip_quoted(b, j, b'\'');
                if end - j <= 12 && end <= b.len() && b[end - 1] == b'\'' {
                    j = end;
                    continue;
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            b',' | b'\n' if depth == 0 => break,
            _ => {}
        }
        j += 1;
    }
    let mut end = j.min(b.len());
    while end > start && b[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Inner {
        api_key: String,
        note: &'static str,
    }

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Login {
        user: &'static str,
        password: &'static str,
        inner: Inner,
        token: Option<(u32, char)>,
        map: std::collections::BTreeMap<&'static str, &'static str>,
        creds: Inner,
    }

    fn login() -> Login {
        Login {
            user: "alice",
            password: "pw, \"quoted\" })",
            inner: Inner {
                api_key: "k-123".into(),
                note: "see password: below",
            },
            token: Some((7, '\'')),
            map: [("secret", "m-1"), ("region", "eu")].into_iter().collect(),
            creds: Inner {
                api_key: "k-2".into(),
                note: "n",
            },
        }
    }

    #[test]
    fn plain_and_pretty_forms() {
        let policy = RedactionPolicy::default();
        for text in [format!("{:?}", login()), format!("{:#?}", login())] {
            let clean = redact_debug(&text, &policy);
            for secret in ["pw,", "quoted", "k-123", "m-1", "k-2", "'\\''"] {
                assert!(!clean.contains(secret), "{secret} in {clean}");
            }
            for kept in ["alice", "see password: below", "eu", "region", "note"] {
                assert!(clean.contains(kept), "{kept} lost: {clean}");
            }
        }
        assert_eq!(
            redact_debug("Conn { url: \"pg://u:p@h\" }", &policy),
            "Conn { url: \"pg://u:[redacted]@h\" }"
        );
        assert!(matches!(
            redact_debug("std::io::Error { kind: NotFound }", &policy),
            Cow::Borrowed(_)
        ));
    }
}
