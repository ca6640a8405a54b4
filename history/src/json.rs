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

/// A valid JSON document stored as text.
///
/// Create one from any `Serialize` value ([`Json::from_serialize`]), from a
/// [`serde_json::Value`] (`From`), or by parsing text ([`Json::parse`]). Read it as text
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
    /// Serializes `value` to JSON text.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Json, serde_json::Error> {
        serde_json::to_string(value).map(|s| Json(Text::from_string(s)))
    }

    /// Parses `text`, keeping it as given when it is a valid JSON document.
    pub fn parse(text: impl Into<String>) -> Result<Json, serde_json::Error> {
        let text = text.into();
        serde_json::from_str::<serde::de::IgnoredAny>(&text)?;
        Ok(Json(Text::from_string(text)))
    }

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
    pub fn len(&self) -> usize {
        self.as_str().len()
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
    fn from(value: serde_json::Value) -> Self {
        Json(Text::from_string(value.to_string()))
    }
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
    fn string_escapes() {
        assert_eq!(Json::string("a\"b").as_str(), r#""a\"b""#);
    }
}
