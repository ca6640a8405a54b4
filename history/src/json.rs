//! [`Json`]: a captured JSON document kept as text.
//!
//! Parameters and results are captured on the hot path of an annotated call. Building a
//! `serde_json::Value` tree costs several allocations per field; serializing straight to text is
//! far cheaper, and text is what every store writes anyway. `Json` holds that text (always a
//! valid JSON document, by construction) behind an `Arc`, so the in-progress and the final event
//! of one call share it without copying. A short document (a number, a boolean, a short
//! string: what most calls return) is kept inline instead, with no allocation at all.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod validate;

/// A valid JSON document stored as text.
///
/// Create one from any `Serialize` value ([`Json::from_serialize`]), from a
/// [`serde_json::Value`] (`From`), or by parsing text ([`Json::parse`], or
/// [`Json::parse_str`] for borrowed text such as a row a store reads back). Read it as text
/// ([`Json::as_str`]) or as a tree ([`Json::to_value`]).
///
/// ```
/// use history::Json;
/// let j = Json::from_serialize(&serde_json::json!({"name": "my-vm"})).unwrap();
/// assert_eq!(j.as_str(), r#"{"name":"my-vm"}"#);
/// assert_eq!(j.to_value()["name"], "my-vm");
/// ```
#[derive(Clone)]
pub struct Json(Text);

/// Documents up to this many bytes are kept inline (`Json` stays 24 bytes either way).
const INLINE: usize = 22;

#[derive(Clone)]
enum Text {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<str>),
}

impl Text {
    #[inline]
    fn new(text: &str) -> Text {
        if text.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Text::Inline {
                len: text.len() as u8,
                bytes,
            }
        } else {
            Text::Shared(text.into())
        }
    }

    #[inline]
    fn from_string(text: String) -> Text {
        if text.len() <= INLINE {
            Text::new(&text)
        } else {
            Text::Shared(text.into())
        }
    }

    #[inline]
    fn as_str(&self) -> &str {
        match self {
            // The bytes were copied whole from a `str`: always valid.
            Text::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or("null")
            }
            Text::Shared(text) => text,
        }
    }
}

impl Json {
    /// Serializes `value` to JSON text. Arrays and objects nested deeper than
    /// [`Json::MAX_DEPTH`] are replaced by the string `"[depth limit]"`.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Json, serde_json::Error> {
        serde_json::to_string(value).map(|s| Json(Text::from_string(cap_depth(s))))
    }

    /// Parses `text`, keeping it as given when it is a valid JSON document nested at most
    /// [`Json::MAX_DEPTH`] deep (deeper arrays and objects are replaced by the string
    /// `"[depth limit]"`).
    pub fn parse(text: impl Into<String>) -> Result<Json, serde_json::Error> {
        let text = text.into();
        if validate::is_document(&text) {
            return Ok(Json(Text::from_string(text)));
        }
        let text = cap_depth(text);
        serde_json::from_str::<serde::de::IgnoredAny>(&text)?;
        Ok(Json(Text::from_string(text)))
    }

    /// [`Json::parse`] for borrowed text: the text is checked in one pass, building nothing,
    /// and copied once into the `Json` (or kept inline when short).
    ///
    /// This is how a store reads back a document it kept as text: the check accepts exactly
    /// the documents `serde_json` accepts, so a row written by [`Json::as_str`] always reads
    /// back, and text that is not JSON (a damaged or hand-edited row) is an error, never a
    /// `Json` that breaks the type's promise.
    ///
    /// ```
    /// use history::Json;
    /// let stored = String::from(r#"{"name":"vm-1"}"#);
    /// let j = Json::parse_str(&stored).unwrap();
    /// assert_eq!(j.as_str(), stored);
    /// assert!(Json::parse_str(r#"{"name":"#).is_err());
    /// ```
    pub fn parse_str(text: &str) -> Result<Json, serde_json::Error> {
        if validate::is_document(text) {
            return Ok(Json(Text::new(text)));
        }
        Json::parse(text)
    }

    /// The deepest nesting of arrays and objects a `Json` keeps, well under the 128 levels
    /// serde_json parses, so that every document (and an event holding it) can be read back.
    pub const MAX_DEPTH: usize = 100;

    /// Wraps text the caller guarantees is one valid JSON document (the capture runtime writes
    /// it with `serde_json`). Not public: a wrong call would break the type's invariant.
    pub(crate) fn from_trusted_str(text: &str) -> Json {
        debug_assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
            "{text}"
        );
        Json(Text::new(text))
    }

    /// `{}`: the parameters of a call that has none.
    pub fn empty_object() -> Json {
        Json(Text::new("{}"))
    }

    /// `null`.
    pub fn null() -> Json {
        Json(Text::new("null"))
    }

    /// A JSON string holding `text`.
    pub fn string(text: &str) -> Json {
        // Serializing a &str cannot fail.
        Json::from_serialize(text).unwrap_or_else(|_| Json::null())
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Parses the text into a [`serde_json::Value`] tree.
    pub fn to_value(&self) -> serde_json::Value {
        // The invariant makes this infallible; fall back to Null rather than panic.
        serde_json::from_str(self.as_str()).unwrap_or(serde_json::Value::Null)
    }

    /// Deserializes the text into `T`.
    pub fn deserialize<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.as_str())
    }

    /// Length of the text in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            Text::Inline { len, .. } => usize::from(*len),
            Text::Shared(text) => text.len(),
        }
    }

    /// Whether the text is empty (never, for a valid document; provided for symmetry).
    pub fn is_empty(&self) -> bool {
        self.as_str().is_empty()
    }
}

impl PartialEq for Json {
    fn eq(&self, other: &Json) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Json {}

impl Hash for Json {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Default for Json {
    fn default() -> Self {
        Json::empty_object()
    }
}

impl From<serde_json::Value> for Json {
    /// The value's text; arrays and objects nested deeper than [`Json::MAX_DEPTH`] are
    /// replaced by the string `"[depth limit]"`.
    fn from(value: serde_json::Value) -> Self {
        Json(Text::from_string(cap_depth(value.to_string())))
    }
}

/// `text` with every array or object nested deeper than [`Json::MAX_DEPTH`] replaced by
/// `"[depth limit]"`; one scan, no allocation when nothing is that deep. Works on the text
/// alone (no recursion), so it handles any depth; text that is not JSON is left for the
/// parser to refuse.
fn cap_depth(text: String) -> String {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    // Quick pass: is anything too deep?
    let mut too_deep = false;
    while i < b.len() {
        match b[i] {
            b'"' => i = skip_string(b, i),
            b'[' | b'{' => {
                depth += 1;
                if depth > Json::MAX_DEPTH {
                    too_deep = true;
                    break;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    if !too_deep {
        return text;
    }
    let marker = format!("\"{}\"", crate::redact::serializer::DEPTH_LIMIT);
    let mut out = String::with_capacity(text.len());
    let (mut depth, mut copied, mut i) = (0usize, 0, 0);
    while i < b.len() {
        match b[i] {
            b'"' => i = skip_string(b, i),
            b'[' | b'{' if depth == Json::MAX_DEPTH => {
                // Skip the whole value.
                let start = i;
                let mut inner = 0usize;
                while i < b.len() {
                    match b[i] {
                        b'"' => i = skip_string(b, i),
                        b'[' | b'{' => inner += 1,
                        b']' | b'}' => {
                            inner -= 1;
                            if inner == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                out.push_str(&text[copied..start]);
                out.push_str(&marker);
                copied = (i + 1).min(b.len());
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    out.push_str(&text[copied.min(text.len())..]);
    out
}

/// The index of the closing quote of the string opening at `start` (or the end).
fn skip_string(b: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return j,
            _ => j += 1,
        }
    }
    b.len()
}

impl From<&Json> for serde_json::Value {
    fn from(json: &Json) -> Self {
        json.to_value()
    }
}

impl PartialEq<serde_json::Value> for Json {
    fn eq(&self, other: &serde_json::Value) -> bool {
        self.to_value() == *other
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Json {
    /// Emits the document itself (not a string holding it), for any serde format: the text is
    /// streamed through `serde_transcode`, so no tree is built.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut de = serde_json::Deserializer::from_str(self.as_str());
        serde_transcode::transcode(&mut de, serializer)
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(Json::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_as_embedded_document() {
        let j = Json::from(json!({"a": [1, 2, {"b": null}]}));
        let outer = serde_json::to_string(&json!({"x": 1})).unwrap();
        assert_eq!(outer, r#"{"x":1}"#);
        let wrapped = serde_json::to_value(vec![j.clone()]).unwrap();
        assert_eq!(wrapped, json!([{"a": [1, 2, {"b": null}]}]));
        let back: Json = serde_json::from_value(wrapped[0].clone()).unwrap();
        assert_eq!(back, j);
    }

    #[test]
    fn parse_rejects_invalid_text() {
        assert!(Json::parse("{\"a\":").is_err());
        assert!(Json::parse("1 2").is_err());
        assert_eq!(Json::parse(" [1] ").unwrap().to_value(), json!([1]));
    }

    #[test]
    fn short_and_long_documents_compare_by_text() {
        let short = Json::parse("[1,2]").unwrap();
        let long_text = format!("[{}]", vec!["1"; 40].join(","));
        let long = Json::parse(long_text.clone()).unwrap();
        assert_eq!(short.as_str(), "[1,2]");
        assert_eq!(long.as_str(), long_text);
        assert_eq!(std::mem::size_of::<Json>(), 24);
        // 22 bytes inline, 23 shared: the same text either way.
        let edge = "\"".to_owned() + &"é".repeat(10) + "\"";
        assert_eq!(edge.len(), 22);
        assert_eq!(Json::parse(edge.clone()).unwrap().as_str(), edge);
        let over = "\"".to_owned() + &"a".repeat(21) + "\"";
        assert_eq!(Json::parse(over.clone()).unwrap().as_str(), over);
        assert_eq!(Json::from_trusted_str("{}"), Json::empty_object());
        assert_ne!(short, long);
    }

    #[test]
    fn deep_documents_are_capped_not_lost() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let j = Json::parse(deep).unwrap();
        let v = j.to_value();
        assert!(!v.is_null());
        let mut cur = &v;
        let mut levels = 0;
        while let Some(inner) = cur.get(0) {
            cur = inner;
            levels += 1;
        }
        assert_eq!(levels, Json::MAX_DEPTH);
        assert_eq!(cur, "[depth limit]");
        let obj = format!("{}{}", r#"{"a":"}{","b":"#.repeat(150), "}".repeat(150));
        let obj = obj.replacen(r#""b":}"#, r#""b":0}"#, 1);
        let j = Json::parse(obj).unwrap();
        assert!(j.as_str().contains("[depth limit]") && !j.to_value().is_null());
        let shallow = Json::parse("[[1]]").unwrap();
        assert_eq!(shallow.as_str(), "[[1]]");
    }

    #[test]
    fn string_escapes() {
        assert_eq!(Json::string("a\"b").as_str(), r#""a\"b""#);
    }
}
