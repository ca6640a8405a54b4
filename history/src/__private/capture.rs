//! Capturing values as JSON text: `Serialize` when the type implements it, else `Debug`, else
//! the type name, chosen at the call site by autoref specialisation.
//!
//! The expansion calls `(&&&Capture(&value)).__history_capture(out)`. Method lookup tries the
//! receiver `&&&Capture` first (the `Serialize` impl), then derefs once (`Debug`), then again
//! (type name), so the most useful form whose bound holds is picked, and a value that is
//! neither serialisable nor printable still compiles.

use std::fmt::{Debug, Display};

use serde::Serialize;

use crate::redact::json_writer::JsonWriter;
use crate::redact::{self as redaction, serializer};
use crate::SubjectId;

pub(super) use super::sink::Sink;

/// Writes `text` as a JSON string.
#[inline]
pub fn write_str(out: &mut Sink<'_>, text: &str) {
    out.write_str(text);
}

/// A value to capture; see the module docs.
#[derive(Debug)]
pub struct Capture<'a, T: ?Sized>(pub &'a T);

/// Captures through `Serialize` (first choice).
pub trait ViaSerialize {
    /// Writes the value as one JSON value.
    fn __history_capture(&self, out: &mut Sink<'_>);
}

impl<T: Serialize + ?Sized> ViaSerialize for &&Capture<'_, T> {
    #[inline]
    fn __history_capture(&self, out: &mut Sink<'_>) {
        let value = self.0;
        out.value::<T>(|buf, state| serializer::serialize(value, JsonWriter::new(buf), state));
    }
}

/// Captures through `Debug` (second choice), as a JSON string with secret fields redacted.
pub trait ViaDebug {
    /// Writes the value as one JSON value.
    fn __history_capture(&self, out: &mut Sink<'_>);
}

impl<T: Debug + ?Sized> ViaDebug for &Capture<'_, T> {
    #[inline]
    fn __history_capture(&self, out: &mut Sink<'_>) {
        let value = self.0;
        out.value::<T>(|buf, state| {
            let text = format!("{value:?}");
            redaction::json_writer::write_escaped(
                buf,
                &redaction::redact_debug(&text, state.policy),
            );
            Ok(())
        });
    }
}

/// Captures the type name (last resort), as a JSON string `"<type name>"`.
pub trait ViaTypeName {
    /// Writes the value as one JSON value.
    fn __history_capture(&self, out: &mut Sink<'_>);
}

impl<T: ?Sized> ViaTypeName for Capture<'_, T> {
    #[inline]
    fn __history_capture(&self, out: &mut Sink<'_>) {
        out.marker(&format!("<{}>", std::any::type_name_of_val(self.0)));
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
    use crate::__private::sink::{capture_with, Params, REDACTED};
    use crate::redact::Capturing;

    struct Opaque;
    #[derive(Debug)]
    struct OnlyDebug(#[allow(dead_code)] &'static str);
    #[derive(Serialize, Debug)]
    struct Both {
        a: u8,
    }

    fn captured(write: impl FnOnce(&mut Sink<'_>)) -> String {
        capture_with(&Capturing::default(), write)
            .as_str()
            .to_owned()
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
        let settings = Capturing::default();
        let mut p = Params::with(&settings);
        (&&&Capture(&bad)).__history_capture(p.field("\"m\":"));
        p.redacted("\"password\":");
        let j = p.finish().json;
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
