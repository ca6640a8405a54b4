//! [`Redacting`]: a serializer adapter that redacts while the value is written, in one pass.
//!
//! It wraps any serializer (the capture uses serde_json's, writing into the call's buffer)
//! and, at every depth: replaces the value of a struct field or map entry whose name is
//! secret by [`REDACTED`], scrubs URL passwords from strings, and writes [`DEPTH_LIMIT`]
//! in place of a value nested deeper than the cap, so every stored document can be parsed
//! back (serde_json refuses documents nested deeper than 128).

use std::cell::{Cell, RefCell};

use serde::ser::{self, Serialize, Serializer};

use super::{scrub_url_credentials, RedactionPolicy, REDACTED};

/// Written in place of a value nested deeper than [`MAX_DEPTH`].
pub(crate) const DEPTH_LIMIT: &str = "[depth limit]";

/// The deepest nesting a captured value keeps (arrays and objects, counted from the value
/// itself); deeper values become [`DEPTH_LIMIT`].
pub(crate) const MAX_DEPTH: usize = 64;

/// Shared by every level of one capture.
pub(crate) struct State<'p> {
    pub(crate) policy: &'p RedactionPolicy,
    /// Whether to keep the text of the values redacted (to scrub them from the rest of the
    /// event); `None`: not asked.
    pub(crate) secrets: Option<RefCell<Vec<String>>>,
}

impl State<'_> {
    /// Called with the value of a secret field instead of writing it: keeps its texts when
    /// asked. Always reads the value, so a value that can be read once (a value streamed by
    /// `serde_transcode`) is consumed and what follows it stays in step.
    #[cold]
    fn remember<T: Serialize + ?Sized>(&self, value: &T) {
        let Ok(v) = serde_json::to_value(value) else {
            return;
        };
        if let Some(secrets) = &self.secrets {
            if let Ok(mut s) = secrets.try_borrow_mut() {
                collect_texts(&v, &mut s);
            }
        }
    }
}

/// Secrets shorter than this are not scrubbed from other text (a one-letter secret would
/// blank every occurrence of that letter).
pub(crate) const MIN_SECRET_LEN: usize = 3;

/// The texts inside `value` worth scrubbing elsewhere: strings and numbers.
pub(crate) fn collect_texts(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) if s.len() >= MIN_SECRET_LEN => out.push(s.clone()),
        serde_json::Value::Number(n) => {
            let t = n.to_string();
            if t.len() >= MIN_SECRET_LEN {
                out.push(t);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_texts(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_texts(v, out)),
        _ => {}
    }
}

/// Serializes `value` into `serializer`, redacted; see the module docs.
pub(crate) fn serialize<S: Serializer, T: Serialize + ?Sized>(
    value: &T,
    serializer: S,
    state: &State<'_>,
) -> Result<S::Ok, S::Error> {
    value.serialize(Redacting {
        inner: serializer,
        state,
        depth: 0,
        key: None,
    })
}

/// A value to serialize through [`Redacting`] at `depth`.
struct Wrap<'a, 's, 'p, T: ?Sized> {
    value: &'a T,
    state: &'s State<'p>,
    depth: usize,
}

impl<T: Serialize + ?Sized> Serialize for Wrap<'_, '_, '_, T> {
    #[inline]
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(Redacting {
            inner: serializer,
            state: self.state,
            depth: self.depth,
            key: None,
        })
    }
}

/// The adapter.
struct Redacting<'s, 'p, S> {
    inner: S,
    state: &'s State<'p>,
    depth: usize,
    /// When this serializes a map key: set to whether the key names a secret.
    key: Option<&'s Cell<bool>>,
}

/// A map key, serialized once through [`Redacting`], which notes in `secret` whether it names
/// a secret (a key may be single-use: `serde_transcode` streams them).
struct Key<'a, 's, 'p, T: ?Sized> {
    key: &'a T,
    state: &'s State<'p>,
    depth: usize,
    secret: &'s Cell<bool>,
}

impl<T: Serialize + ?Sized> Serialize for Key<'_, '_, '_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.key.serialize(Redacting {
            inner: serializer,
            state: self.state,
            depth: self.depth,
            key: Some(self.secret),
        })
    }
}

impl<'s, 'p, S: Serializer> Redacting<'s, 'p, S> {
    #[inline]
    fn wrap<'a, T: ?Sized>(&self, value: &'a T, depth: usize) -> Wrap<'a, 's, 'p, T> {
        Wrap {
            value,
            state: self.state,
            depth,
        }
    }

    #[inline]
    fn open<C>(
        self,
        open: impl FnOnce(S) -> Result<C, S::Error>,
    ) -> Result<Compound<'s, 'p, C, S::Ok>, S::Error> {
        if self.depth >= MAX_DEPTH {
            return self.inner.serialize_str(DEPTH_LIMIT).map(Compound::Skip);
        }
        Ok(Compound::Real {
            inner: open(self.inner)?,
            state: self.state,
            depth: self.depth + 1,
            secret_next: false,
        })
    }
}

/// A sequence, map or struct being written; `Skip`: replaced by the depth marker, already
/// written.
enum Compound<'s, 'p, C, Ok> {
    Real {
        inner: C,
        state: &'s State<'p>,
        depth: usize,
        /// For maps: whether the key just written names a secret.
        secret_next: bool,
    },
    Skip(Ok),
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        #[inline]
        fn $method(self, $($arg: $ty),*) -> Result<S::Ok, S::Error> {
            self.inner.$method($($arg),*)
        }
    )*};
}

impl<'s, 'p, S: Serializer> Serializer for Redacting<'s, 'p, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Compound<'s, 'p, S::SerializeSeq, S::Ok>;
    type SerializeTuple = Compound<'s, 'p, S::SerializeTuple, S::Ok>;
    type SerializeTupleStruct = Compound<'s, 'p, S::SerializeTupleStruct, S::Ok>;
    type SerializeTupleVariant = Compound<'s, 'p, S::SerializeTupleVariant, S::Ok>;
    type SerializeMap = Compound<'s, 'p, S::SerializeMap, S::Ok>;
    type SerializeStruct = Compound<'s, 'p, S::SerializeStruct, S::Ok>;
    type SerializeStructVariant = Compound<'s, 'p, S::SerializeStructVariant, S::Ok>;

    forward! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_bytes(v: &[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        if let Some(secret) = self.key {
            secret.set(self.state.policy.is_secret(variant));
        }
        self.inner.serialize_unit_variant(name, index, variant)
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<S::Ok, S::Error> {
        if let Some(secret) = self.key {
            secret.set(self.state.policy.is_secret(v));
        }
        if super::url::may_hold_credentials(v) {
            self.inner.serialize_str(&scrub_url_credentials(v))
        } else {
            self.inner.serialize_str(v)
        }
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        let w = self.wrap(value, self.depth);
        self.inner.serialize_some(&w)
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let w = self.wrap(value, self.depth);
        self.inner.serialize_newtype_struct(name, &w)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        if self.depth >= MAX_DEPTH {
            return self.inner.serialize_str(DEPTH_LIMIT);
        }
        let w = self.wrap(value, self.depth + 1);
        self.inner
            .serialize_newtype_variant(name, index, variant, &w)
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.open(|s| s.serialize_seq(len))
    }

    #[inline]
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.open(|s| s.serialize_tuple(len))
    }

    #[inline]
    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.open(|s| s.serialize_tuple_struct(name, len))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.open(|s| s.serialize_tuple_variant(name, index, variant, len))
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.open(|s| s.serialize_map(len))
    }

    #[inline]
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        self.open(|s| s.serialize_struct(name, len))
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        self.open(|s| s.serialize_struct_variant(name, index, variant, len))
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! elements {
    ($trait:ident, $method:ident) => {
        impl<C: ser::$trait> ser::$trait for Compound<'_, '_, C, C::Ok> {
            type Ok = C::Ok;
            type Error = C::Error;

            #[inline]
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
                match self {
                    Compound::Real {
                        inner,
                        state,
                        depth,
                        ..
                    } => inner.$method(&Wrap {
                        value,
                        state: *state,
                        depth: *depth,
                    }),
                    Compound::Skip(_) => Ok(()),
                }
            }

            #[inline]
            fn end(self) -> Result<C::Ok, C::Error> {
                match self {
                    Compound::Real { inner, .. } => inner.end(),
                    Compound::Skip(ok) => Ok(ok),
                }
            }
        }
    };
}

elements!(SerializeSeq, serialize_element);
elements!(SerializeTuple, serialize_element);
elements!(SerializeTupleStruct, serialize_field);
elements!(SerializeTupleVariant, serialize_field);

macro_rules! fields {
    ($trait:ident) => {
        impl<C: ser::$trait> ser::$trait for Compound<'_, '_, C, C::Ok> {
            type Ok = C::Ok;
            type Error = C::Error;

            #[inline]
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), C::Error> {
                match self {
                    Compound::Real {
                        inner,
                        state,
                        depth,
                        ..
                    } => {
                        if state.policy.is_secret_field(key) {
                            state.remember(value);
                            inner.serialize_field(key, REDACTED)
                        } else {
                            inner.serialize_field(
                                key,
                                &Wrap {
                                    value,
                                    state: *state,
                                    depth: *depth,
                                },
                            )
                        }
                    }
                    Compound::Skip(_) => Ok(()),
                }
            }

            fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
                match self {
                    Compound::Real { inner, .. } => inner.skip_field(key),
                    Compound::Skip(_) => Ok(()),
                }
            }

            #[inline]
            fn end(self) -> Result<C::Ok, C::Error> {
                match self {
                    Compound::Real { inner, .. } => inner.end(),
                    Compound::Skip(ok) => Ok(ok),
                }
            }
        }
    };
}

fields!(SerializeStruct);
fields!(SerializeStructVariant);

impl<C: ser::SerializeMap> ser::SerializeMap for Compound<'_, '_, C, C::Ok> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        match self {
            Compound::Real {
                inner,
                state,
                depth,
                secret_next,
            } => {
                let secret = Cell::new(false);
                let result = inner.serialize_key(&Key {
                    key,
                    state,
                    depth: *depth,
                    secret: &secret,
                });
                *secret_next = secret.get();
                result
            }
            Compound::Skip(_) => Ok(()),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        match self {
            Compound::Real {
                inner,
                state,
                depth,
                secret_next,
            } => {
                if std::mem::take(secret_next) {
                    state.remember(value);
                    inner.serialize_value(REDACTED)
                } else {
                    inner.serialize_value(&Wrap {
                        value,
                        state,
                        depth: *depth,
                    })
                }
            }
            Compound::Skip(_) => Ok(()),
        }
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        match self {
            Compound::Real { inner, .. } => inner.end(),
            Compound::Skip(ok) => Ok(ok),
        }
    }
}
