//! A one-pass check that text is a single JSON document, without building anything: what
//! [`Json::parse_str`](super::Json::parse_str) and [`Json::parse`](super::Json::parse) run
//! first. It accepts exactly what `serde_json` accepts (RFC 8259; `\u` escapes are not
//! checked for surrogate pairs, as `serde_json` does not when it only skips a value) for
//! documents nested at most [`Json::MAX_DEPTH`](super::Json::MAX_DEPTH) deep; anything it
//! refuses, deeper documents included, goes to the full parser, which reports the error or
//! caps the depth.

use super::Json;

/// Whether `text` is one JSON document nested at most [`Json::MAX_DEPTH`] deep.
pub(super) fn is_document(text: &str) -> bool {
    let b = text.as_bytes();
    // One bit per open array (0) or object (1); `MAX_DEPTH` fits in 128 bits.
    const _: () = assert!(Json::MAX_DEPTH <= 128);
    let mut open: u128 = 0;
    let mut depth = 0usize;
    let mut i = skip_ws(b, 0);
    'value: loop {
        // A value starts at `i`.
        match b.get(i) {
            Some(b'{') | Some(b'[') => {
                let object = b[i] == b'{';
                if depth == Json::MAX_DEPTH {
                    return false;
                }
                if object {
                    open |= 1 << depth;
                } else {
                    open &= !(1 << depth);
                }
                depth += 1;
                i = skip_ws(b, i + 1);
                let close = if object { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    depth -= 1;
                    i += 1;
                } else if object {
                    match key(b, i) {
                        Some(next) => i = next,
                        None => return false,
                    }
                    continue 'value;
                } else {
                    continue 'value;
                }
            }
            Some(b'"') => match string(b, i) {
                Some(next) => i = next,
                None => return false,
            },
            Some(b't') => match literal(b, i, b"true") {
                Some(next) => i = next,
                None => return false,
            },
            Some(b'f') => match literal(b, i, b"false") {
                Some(next) => i = next,
                None => return false,
            },
            Some(b'n') => match literal(b, i, b"null") {
                Some(next) => i = next,
                None => return false,
            },
            Some(b'-' | b'0'..=b'9') => match number(b, i) {
                Some(next) => i = next,
                None => return false,
            },
            _ => return false,
        }
        // After a value: a separator, the end of the enclosing array or object, or the end.
        loop {
            i = skip_ws(b, i);
            if depth == 0 {
                return i == b.len();
            }
            let object = open & (1 << (depth - 1)) != 0;
            match b.get(i) {
                Some(b',') => {
                    i = skip_ws(b, i + 1);
                    if object {
                        match key(b, i) {
                            Some(next) => i = next,
                            None => return false,
                        }
                    }
                    continue 'value;
                }
                Some(b'}') if object => {
                    depth -= 1;
                    i += 1;
                }
                Some(b']') if !object => {
                    depth -= 1;
                    i += 1;
                }
                _ => return false,
            }
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// An object's key and its colon at `i`; the index of the value after them.
fn key(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let i = skip_ws(b, string(b, i)?);
    if b.get(i) != Some(&b':') {
        return None;
    }
    Some(skip_ws(b, i + 1))
}

/// The string opening at `i` (a `"`); the index after its closing quote.
fn string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j = plain(b, j);
        match *b.get(j)? {
            b'"' => return Some(j + 1),
            b'\\' => match *b.get(j + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j += 2,
                b'u' => {
                    let hex = b.get(j + 2..j + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    j += 6;
                }
                _ => return None,
            },
            // A control character.
            _ => return None,
        }
    }
}

/// The index of the first byte from `j` on that ends a run of plain string bytes: a quote,
/// a backslash or a control character (or the end). Eight bytes at a time.
fn plain(b: &[u8], mut j: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(j..j + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        // The lowest byte flagged by each test is exact (borrows only run upward).
        let quote = v ^ (ONES * u64::from(b'"'));
        let backslash = v ^ (ONES * u64::from(b'\\'));
        let special = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (v.wrapping_sub(ONES * 0x20) & !v);
        let special = special & HIGHS;
        if special != 0 {
            return j + (special.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while let Some(&c) = b.get(j) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        j += 1;
    }
    j
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    (b.get(i..i + word.len())? == word).then_some(i + word.len())
}

/// The number at `i`; the index after it.
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    if b[i] == b'-' {
        i += 1;
    }
    match *b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(b, i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits(b, i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits(b, i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: what `serde_json` accepts.
    fn serde_accepts(text: &str) -> bool {
        serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
    }

    #[rustfmt::skip]
    const CORPUS: &[&str] = &[
        "", " ", "{}", "[]", " {} ", "{", "}", "[", "]", "[1,]", "[,1]", "{,}", "{\"a\"}",
        "{\"a\":}", "{\"a\":1,}", "{\"a\":1 \"b\":2}", "{\"a\" : 1 , \"b\" : [ ] }",
        "{1:2}", "{\"a\":1]", "[1}", "[[[]]]", "[[[]]", "[]]", "{}{}", "1 2", "1", "-1",
        "-", "01", "0", "-0", "0.5", ".5", "5.", "1e5", "1E+5", "1e-5", "1e", "1e+",
        "1.5e3", "-0.0e0", "00", "1.2.3", "+1", "NaN", "Infinity", "true", "false", "null",
        "tru", "nul", "falsey", "True", "\"\"", "\"a\"", "\"a", "a\"", "\"\\\"\"",
        "\"\\\\\"", "\"\\/\"", "\"\\b\\f\\n\\r\\t\"", "\"\\x\"", "\"\\u0041\"",
        "\"\\u00e9\"", "\"\\uD83D\\uDE00\"", "\"\\uD800\"", "\"\\u12\"", "\"\\u12G4\"",
        "\"\\", "\"\u{1}\"", "\"\t\"", "\"é ✓ 😀\"", "[\"a\",{\"b\":[null,true,false,-1.5e-3]}]",
        "{\"name\":\"vm-1\",\"region\":\"eu-west-1\",\"size\":\"m5.large\"}",
        "\n\t\r {\"a\" :\n[1 , 2]\r}\t", "[1\u{a0}]", "{\"a\":1}x", "[true false]",
        "[\"a\":1]", "{\"a\",1}", "[-]", "[1e]", "[0x10]", "{\"\":\"\"}", "[[],[[]],{}]",
    ];

    #[test]
    fn agrees_with_serde_json_on_the_corpus() {
        for text in CORPUS {
            assert_eq!(is_document(text), serde_accepts(text), "{text:?}");
        }
    }

    #[test]
    fn agrees_with_serde_json_on_mutations() {
        // Every valid document of the corpus with one byte changed, removed or doubled, each
        // way: a deterministic sweep of near-misses.
        let alphabet = b"{}[]:,\" \\-+.0123456789eEtrufalsn\t\nx\x01";
        let mut checked = 0;
        for text in CORPUS.iter().filter(|t| serde_accepts(t)) {
            let bytes = text.as_bytes();
            for at in 0..=bytes.len() {
                let mut variants: Vec<Vec<u8>> = Vec::new();
                if at < bytes.len() {
                    let mut removed = bytes.to_vec();
                    removed.remove(at);
                    variants.push(removed);
                    let mut doubled = bytes.to_vec();
                    doubled.insert(at, bytes[at]);
                    variants.push(doubled);
                }
                for &c in alphabet {
                    let mut inserted = bytes.to_vec();
                    inserted.insert(at, c);
                    variants.push(inserted);
                    if at < bytes.len() {
                        let mut replaced = bytes.to_vec();
                        replaced[at] = c;
                        variants.push(replaced);
                    }
                }
                for v in variants {
                    let Ok(v) = String::from_utf8(v) else {
                        continue;
                    };
                    assert_eq!(is_document(&v), serde_accepts(&v), "{v:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    #[test]
    fn depth_up_to_the_limit_only() {
        let at = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(is_document(&at(Json::MAX_DEPTH)));
        assert!(!is_document(&at(Json::MAX_DEPTH + 1)));
        let objects = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        assert!(is_document(&objects(Json::MAX_DEPTH)));
        assert!(!is_document(&objects(Json::MAX_DEPTH + 1)));
        // Alternating kinds are tracked per level.
        let mixed = format!("{}1{}", "[{\"a\":".repeat(50), "}]".repeat(50));
        assert!(is_document(&mixed));
        let crossed = format!("{}1{}", "[{\"a\":".repeat(50), "]}".repeat(50));
        assert!(!is_document(&crossed));
    }

    #[test]
    fn agrees_with_serde_json_on_random_text() {
        // Short strings over JSON's own bytes, weighted towards quotes and brackets: about
        // one in seventy is a document.
        let alphabet = b"{}[]:,\" \\-+.0eE1tru\"\"\"fals\"n[]{}";
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut documents = 0;
        for _ in 0..200_000 {
            let len = (next() % 14) as usize;
            let text: String = (0..len)
                .map(|_| char::from(alphabet[(next() % alphabet.len() as u64) as usize]))
                .collect();
            let ok = is_document(&text);
            assert_eq!(ok, serde_accepts(&text), "{text:?}");
            documents += usize::from(ok);
        }
        assert!(documents > 1_000, "{documents}");
    }
}
