//! Capturing values as JSON text: `Serialize` when the type implements it, else `Debug`, else
//! the type name, chosen at the call site by autoref specialisation.
//!
//! The expansion calls `(&&&Capture(&value)).__history_capture(out)`. Method lookup tries the
//! receiver `&&&Capture` first (the `Serialize` impl), then derefs once (`Debug`), then again
//! (type name), so the most useful form whose bound holds is picked, and a value that is
//! neither serialisable nor printable still compiles.

use std::cell::Cell;
use std::fmt::{Debug, Display};

use serde::Serialize;

use crate::{Json, SubjectId};

/// What a redacted value is recorded as.
pub const REDACTED: &str = "[redacted]";

/// A JSON object under construction: the parameters of one call.
#[derive(Debug)]
pub struct Params {
    buf: Vec<u8>,
    empty: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params::new()
    }
}

thread_local! {
    /// A buffer reused by the captures on this thread, so that capturing a value costs one
    /// allocation (the shared copy in [`Json`]) instead of two.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Buffers larger than this are not kept for reuse.
const SCRATCH_KEEP: usize = 64 * 1024;

fn scratch() -> Vec<u8> {
    // Taken, not borrowed: a capture that runs another tracked call (a `Serialize` impl,
    // say) just finds no buffer and allocates one.
    let mut buf = SCRATCH.try_with(Cell::take).unwrap_or_default();
    buf.clear();
    buf
}

fn json_from_scratch(buf: Vec<u8>) -> Json {
    // serde_json writes UTF-8, and so does everything else here.
    let json = match std::str::from_utf8(&buf) {
        Ok(text) => Json::from_trusted_str(text),
        Err(_) => Json::null(),
    };
    give_back(buf);
    json
}

fn give_back(buf: Vec<u8>) {
    if buf.capacity() <= SCRATCH_KEEP {
        let _ = SCRATCH.try_with(|s| s.set(buf));
    }
}

impl Params {
    /// An empty object.
    #[inline]
    pub fn new() -> Params {
        let mut buf = scratch();
        buf.push(b'{');
        Params { buf, empty: true }
    }

    /// The parameters of a call that captures none: `{}`.
    #[inline]
    pub fn none() -> Json {
        Json::empty_object()
    }

    /// Starts the field `key` (the expansion passes the quoted name and colon, `"name":`) and
    /// returns the buffer its value must be written to, as exactly one JSON value.
    #[inline]
    pub fn field(&mut self, key: &'static str) -> &mut Vec<u8> {
        if !self.empty {
            self.buf.push(b',');
        }
        self.empty = false;
        self.buf.extend_from_slice(key.as_bytes());
        &mut self.buf
    }

    /// Adds the field `key` with the value `"[redacted]"`.
    #[inline]
    pub fn redacted(&mut self, key: &'static str) {
        let out = self.field(key);
        out.push(b'"');
        out.extend_from_slice(REDACTED.as_bytes());
        out.push(b'"');
    }

    /// The finished object.
    #[inline]
    pub fn finish(mut self) -> Json {
        if self.empty {
            give_back(self.buf);
            return Json::empty_object();
        }
        self.buf.push(b'}');
        json_from_scratch(self.buf)
    }
}

/// Runs `write` (which writes one JSON value) and returns the value.
#[inline]
pub fn json_of(write: impl FnOnce(&mut Vec<u8>)) -> Json {
    let mut buf = scratch();
    write(&mut buf);
    json_from_scratch(buf)
}

/// Writes `text` as a JSON string.
#[inline]
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    // Serializing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(out, text);
}

/// A value to capture; see the module docs.
#[derive(Debug)]
pub struct Capture<'a, T: ?Sized>(pub &'a T);

/// Captures through `Serialize` (first choice).
pub trait ViaSerialize {
    /// Writes the value as one JSON value.
    fn __history_capture(&self, out: &mut Vec<u8>);
}

impl<T: Serialize + ?Sized> ViaSerialize for &&Capture<'_, T> {
    #[inline]
    fn __history_capture(&self, out: &mut Vec<u8>) {
        let start = out.len();
        if let Err(e) = serde_json::to_writer(&mut *out, self.0) {
            // A failing Serialize impl may have written part of a value: take it back.
            out.truncate(start);
            let _ = serde_json::to_writer(
                out,
                &format_args!(
                    "<unserializable {}: {e}>",
                    std::any::type_name_of_val(self.0)
                ),
            );
        }
    }
}

/// Captures through `Debug` (second choice), as a JSON string.
pub trait ViaDebug {
    /// Writes the value as one JSON value.
    fn __history_capture(&self, out: &mut Vec<u8>);
}

impl<T: Debug + ?Sized> ViaDebug for &Capture<'_, T> {
    #[inline]
    fn __history_capture(&self, out: &mut Vec<u8>) {
        // Escapes while formatting: no intermediate String.
        let _ = serde_json::to_writer(out, &format_args!("{:?}", self.0));
    }
}

/// Captures the type name (last resort), as a JSON string `"<type name>"`.
pub trait ViaTypeName {
    /// Writes the value as one JSON value.
    fn __history_capture(&self, out: &mut Vec<u8>);
}

impl<T: ?Sized> ViaTypeName for Capture<'_, T> {
    #[inline]
    fn __history_capture(&self, out: &mut Vec<u8>) {
        let _ = serde_json::to_writer(
            out,
            &format_args!("<{}>", std::any::type_name_of_val(self.0)),
        );
    }
}

/// A value given as an id (`user_id = ...`); see [`ToSubject`].
#[derive(Debug)]
pub struct Subject<'a, T: ?Sized>(pub &'a T);

/// Types that are ids: integers, strings, UUIDs, [`SubjectId`], and `Option`s of those.
pub trait ToSubject {
    /// The id, if there is one.
    fn to_subject(&self) -> Option<SubjectId>;
}

macro_rules! to_subject_via_from {
    ($($t:ty),*) => {$(
        impl ToSubject for $t {
            #[inline]
            fn to_subject(&self) -> Option<SubjectId> { Some(SubjectId::from(*self)) }
        }
    )*};
}
to_subject_via_from!(
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    usize,
    isize,
    u128,
    i128,
    uuid::Uuid
);

impl ToSubject for str {
    fn to_subject(&self) -> Option<SubjectId> {
        Some(SubjectId::from(self))
    }
}
impl ToSubject for String {
    fn to_subject(&self) -> Option<SubjectId> {
        Some(SubjectId::from(self.as_str()))
    }
}
impl ToSubject for SubjectId {
    fn to_subject(&self) -> Option<SubjectId> {
        Some(self.clone())
    }
}
impl<T: ToSubject + ?Sized> ToSubject for &T {
    fn to_subject(&self) -> Option<SubjectId> {
        (**self).to_subject()
    }
}
impl<T: ToSubject + ?Sized> ToSubject for &mut T {
    fn to_subject(&self) -> Option<SubjectId> {
        (**self).to_subject()
    }
}
impl<T: ToSubject + ?Sized> ToSubject for Box<T> {
    fn to_subject(&self) -> Option<SubjectId> {
        (**self).to_subject()
    }
}
impl<T: ToSubject> ToSubject for Option<T> {
    fn to_subject(&self) -> Option<SubjectId> {
        self.as_ref().and_then(ToSubject::to_subject)
    }
}

/// Ids through [`ToSubject`] (first choice).
pub trait SubjectViaKnown {
    /// The id.
    fn __history_subject(&self) -> Option<SubjectId>;
}
impl<T: ToSubject + ?Sized> SubjectViaKnown for &Subject<'_, T> {
    #[inline]
    fn __history_subject(&self) -> Option<SubjectId> {
        self.0.to_subject()
    }
}

/// Ids through `Display` (a newtype id), as text.
pub trait SubjectViaDisplay {
    /// The id.
    fn __history_subject(&self) -> Option<SubjectId>;
}
impl<T: Display + ?Sized> SubjectViaDisplay for Subject<'_, T> {
    fn __history_subject(&self) -> Option<SubjectId> {
        Some(SubjectId::Text(self.0.to_string()))
    }
}

/// A label value or correlation id: an `Option` of a `Display` value (`None`: not set),
/// else `Display`, else `Debug`.
#[derive(Debug)]
pub struct Text<'a, T: ?Sized>(pub &'a T);

/// Text through `Option<impl Display>` (first choice).
pub trait TextViaOption {
    /// The text, if any.
    fn __history_text(&self) -> Option<String>;
}
impl<T: Display> TextViaOption for &&Text<'_, Option<T>> {
    fn __history_text(&self) -> Option<String> {
        self.0.as_ref().map(ToString::to_string)
    }
}

/// Text through `Display`.
pub trait TextViaDisplay {
    /// The text.
    fn __history_text(&self) -> Option<String>;
}
impl<T: Display + ?Sized> TextViaDisplay for &Text<'_, T> {
    fn __history_text(&self) -> Option<String> {
        Some(self.0.to_string())
    }
}

/// Text through `Debug`.
pub trait TextViaDebug {
    /// The text.
    fn __history_text(&self) -> Option<String>;
}
impl<T: Debug + ?Sized> TextViaDebug for Text<'_, T> {
    fn __history_text(&self) -> Option<String> {
        Some(format!("{:?}", self.0))
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // autoref dispatch needs the extra borrows
mod tests {
    use super::*;

    struct Opaque;
    #[derive(Debug)]
    struct OnlyDebug(#[allow(dead_code)] &'static str);
    #[derive(Serialize, Debug)]
    struct Both {
        a: u8,
    }

    fn captured(write: impl FnOnce(&mut Vec<u8>)) -> String {
        json_of(write).as_str().to_owned()
    }

    #[test]
    fn capture_prefers_serialize_then_debug_then_type_name() {
        assert_eq!(
            captured(|o| (&&&Capture(&Both { a: 1 })).__history_capture(o)),
            r#"{"a":1}"#
        );
        assert_eq!(
            captured(|o| (&&&Capture(&OnlyDebug("q\""))).__history_capture(o)),
            r#""OnlyDebug(\"q\\\"\")""#
        );
        let t = captured(|o| (&&&Capture(&Opaque)).__history_capture(o));
        assert!(t.starts_with("\"<") && t.ends_with("Opaque>\""), "{t}");
    }

    #[test]
    fn failing_serialize_is_taken_back() {
        use std::collections::HashMap;
        let mut bad = HashMap::new();
        bad.insert((1, 2), 3); // tuple keys are not valid JSON object keys
        let mut p = Params::new();
        (&&&Capture(&bad)).__history_capture(p.field("\"m\":"));
        p.redacted("\"password\":");
        let j = p.finish();
        let v = j.to_value();
        assert!(
            v["m"].as_str().unwrap().starts_with("<unserializable"),
            "{j}"
        );
        assert_eq!(v["password"], REDACTED);
    }

    #[test]
    fn subjects_and_text() {
        assert_eq!((&&Subject(&5u64)).__history_subject(), Some(5.into()));
        assert_eq!(
            (&&Subject(&Some("x"))).__history_subject(),
            Some("x".into())
        );
        assert_eq!((&&Subject(&None::<u32>)).__history_subject(), None);
        assert_eq!((&&&Text(&3)).__history_text().unwrap(), "3");
        assert_eq!((&&&Text(&Some("c"))).__history_text().unwrap(), "c");
        assert_eq!((&&&Text(&None::<u8>)).__history_text(), None);
        assert_eq!(
            (&&&Text(&OnlyDebug("d"))).__history_text().unwrap(),
            "OnlyDebug(\"d\")"
        );
    }
}
