//! Credentials in URLs: `scheme://user:password@host` keeps its user and loses its password.

use std::borrow::Cow;

use super::REDACTED;

/// `text` with the password of every `scheme://user:password@host/…` URL in it replaced by
/// [`REDACTED`]; borrowed when there is none (the common case costs one scan for `@`).
///
/// ```
/// use history::redact::scrub_url_credentials;
/// assert_eq!(
///     scrub_url_credentials("connect postgres://app:s3cret@db:5432/main failed"),
///     "connect postgres://app:[redacted]@db:5432/main failed"
/// );
/// assert_eq!(scrub_url_credentials("https://example.com/a@b"), "https://example.com/a@b");
/// ```
pub fn scrub_url_credentials(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    if !may_hold_credentials(text) || !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out: Option<String> = None;
    // Up to where `text` has been copied to `out`.
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let start = from + found + 3;
        let end = bytes[start..]
            .iter()
            .position(|&b| {
                matches!(b, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'\\')
                    || b.is_ascii_whitespace()
            })
            .map_or(bytes.len(), |p| start + p);
        from = end.max(start);
        let authority = &text[start..end];
        let Some(at) = authority.rfind('@') else {
            continue;
        };
        let Some(colon) = authority[..at].find(':') else {
            continue;
        };
        let (pass_start, pass_end) = (start + colon + 1, start + at);
        if pass_start == pass_end || &text[pass_start..pass_end] == REDACTED {
            continue;
        }
        let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
        o.push_str(&text[copied..pass_start]);
        o.push_str(REDACTED);
        copied = pass_end;
    }
    match out {
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
        None => Cow::Borrowed(text),
    }
}

/// Whether `text` may hold a URL with a password: long enough for `a://b:c@` and holding an
/// `@`. A cheap test first, for the strings of every captured value.
#[inline]
pub(crate) fn may_hold_credentials(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() < 8 {
        return false;
    }
    if b.len() <= 64 {
        // Shorter than the setup of a vectorised search (`contains` calls memchr).
        #[allow(clippy::manual_contains)]
        b.iter().any(|&c| c == b'@')
    } else {
        b.contains(&b'@')
    }
}

/// Scrubs `text` in place; returns whether it changed.
pub(crate) fn scrub_string(text: &mut String) -> bool {
    if let Cow::Owned(clean) = scrub_url_credentials(text) {
        *text = clean;
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_scrubbed() {
        let cases = [
            ("redis://:pw1@cache:6379", "redis://:[redacted]@cache:6379"),
            (
                "a https://u:p%40ss@h/x and ftp://v:w@k",
                "a https://u:[redacted]@h/x and ftp://v:[redacted]@k",
            ),
            ("ssh://git@github.com/repo", "ssh://git@github.com/repo"),
            ("mailto:a@b.c", "mailto:a@b.c"),
            ("no url", "no url"),
            ("x://u:p@", "x://u:[redacted]@"),
            ("x://u:[redacted]@h", "x://u:[redacted]@h"),
            ("\"x://u:pé@h\"", "\"x://u:[redacted]@h\""),
        ];
        for (input, want) in cases {
            assert_eq!(scrub_url_credentials(input), want, "{input}");
        }
        assert!(matches!(
            scrub_url_credentials("https://h/x@y"),
            Cow::Borrowed(_)
        ));
    }
}
