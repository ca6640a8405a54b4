//! [`JsonWriter`]: compact JSON written straight into a `String`, for captured values.
//!
//! The output is byte for byte what `serde_json::to_writer` writes (compact form, the same
//! escapes, floats formatted by serde_json itself), but strings are scanned for characters
//! needing an escape eight bytes at a time, and struct field names go out without the detour
//! through a map-key serializer. A captured value is mostly field names and short strings, so
//! this is most of the cost of capturing one.

use serde::ser::{self, Error as _, Serialize};

type Error = serde_json::Error;

/// The name serde_json gives the struct a `RawValue` serializes as: its one field is
/// written as it is, not as a string.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// What the writer is serializing: a value, a map key (written as a string, as serde_json
/// does), or the text of a raw value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Value,
    Key,
    Raw,
}

/// Writes one value as compact JSON into a buffer.
pub(crate) struct JsonWriter<'a> {
    out: &'a mut String,
    mode: Mode,
}

impl<'a> JsonWriter<'a> {
    /// A writer of one value into `out`.
    #[inline]
    pub(crate) fn new(out: &'a mut String) -> JsonWriter<'a> {
        JsonWriter {
            out,
            mode: Mode::Value,
        }
    }

    #[inline]
    fn plain(&mut self) -> Result<(), Error> {
        match self.mode {
            Mode::Value => Ok(()),
            Mode::Key => Err(Error::custom("key must be a string")),
            Mode::Raw => Err(Error::custom("expected RawValue")),
        }
    }

    /// An integer or a boolean: quoted as a map key.
    #[inline]
    fn scalar(self, text: &str) -> Result<(), Error> {
        match self.mode {
            Mode::Value => self.out.push_str(text),
            Mode::Key => {
                self.out.push('"');
                self.out.push_str(text);
                self.out.push('"');
            }
            Mode::Raw => return Err(Error::custom("expected RawValue")),
        }
        Ok(())
    }

    fn float<F: Serialize + Copy>(self, v: F, finite: bool) -> Result<(), Error> {
        match self.mode {
            Mode::Value => write_float(self.out, v),
            Mode::Key if finite => {
                self.out.push('"');
                write_float(self.out, v)?;
                self.out.push('"');
                Ok(())
            }
            Mode::Key => Err(Error::custom(
                "float key must be finite (got NaN or +/-inf)",
            )),
            Mode::Raw => Err(Error::custom("expected RawValue")),
        }
    }

    #[inline]
    fn compound(mut self, open: &str, close: &'static str) -> Result<Compound<'a>, Error> {
        self.plain()?;
        self.out.push_str(open);
        Ok(Compound {
            out: self.out,
            first: true,
            close,
            raw: false,
        })
    }
}

macro_rules! integers {
    ($($method:ident($t:ty);)*) => {$(
        #[inline]
        fn $method(self, v: $t) -> Result<(), Error> {
            let mut text = itoa::Buffer::new();
            self.scalar(text.format(v))
        }
    )*};
}

impl<'a> ser::Serializer for JsonWriter<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.scalar(if v { "true" } else { "false" })
    }

    integers! {
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.float(v, v.is_finite())
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.float(v, v.is_finite())
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        let mut text = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut text))
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        match self.mode {
            Mode::Raw => self.out.push_str(v),
            Mode::Value | Mode::Key => write_escaped(self.out, v),
        }
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for byte in v {
            seq.serialize_element(byte)?;
        }
        seq.end()
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(mut self, value: &T) -> Result<(), Error> {
        self.plain()?;
        value.serialize(self)
    }

    fn serialize_unit(mut self) -> Result<(), Error> {
        self.plain()?;
        self.out.push_str("null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.plain()?;
        self.out.push('{');
        write_escaped(self.out, variant);
        self.out.push(':');
        value.serialize(JsonWriter::new(&mut *self.out))?;
        self.out.push('}');
        Ok(())
    }

    #[inline]
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.compound("[", "]")
    }

    fn serialize_tuple(self, _len: usize) -> Result<Compound<'a>, Error> {
        self.compound("[", "]")
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.compound("[", "]")
    }

    fn serialize_tuple_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.plain()?;
        self.out.push('{');
        write_escaped(self.out, variant);
        self.compound(":[", "]}")
    }

    #[inline]
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.compound("{", "}")
    }

    #[inline]
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Compound<'a>, Error> {
        if name == RAW_VALUE_TOKEN && self.mode == Mode::Value {
            return Ok(Compound {
                out: self.out,
                first: true,
                close: "",
                raw: true,
            });
        }
        self.compound("{", "}")
    }

    fn serialize_struct_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.plain()?;
        self.out.push('{');
        write_escaped(self.out, variant);
        self.compound(":{", "}}")
    }
}

/// An array, object or variant being written.
pub(crate) struct Compound<'a> {
    out: &'a mut String,
    first: bool,
    /// What `end` writes.
    close: &'static str,
    /// A `RawValue`: its one field is written as it is.
    raw: bool,
}

impl Compound<'_> {
    #[inline]
    fn separate(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.out.push(',');
        }
    }

    #[inline]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.separate();
        value.serialize(JsonWriter::new(&mut *self.out))
    }

    #[inline]
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        if self.raw {
            return value.serialize(JsonWriter {
                out: &mut *self.out,
                mode: Mode::Raw,
            });
        }
        self.separate();
        write_escaped(self.out, key);
        self.out.push(':');
        value.serialize(JsonWriter::new(&mut *self.out))
    }

    #[inline]
    fn close(self) -> Result<(), Error> {
        self.out.push_str(self.close);
        Ok(())
    }
}

macro_rules! elements {
    ($($trait:ident::$method:ident;)*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;

            #[inline]
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }

            #[inline]
            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

elements! {
    SerializeSeq::serialize_element;
    SerializeTuple::serialize_element;
    SerializeTupleStruct::serialize_field;
    SerializeTupleVariant::serialize_field;
}

macro_rules! fields {
    ($($trait:ident;)*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;

            #[inline]
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Error> {
                self.field(key, value)
            }

            #[inline]
            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

fields! {
    SerializeStruct;
    SerializeStructVariant;
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.separate();
        key.serialize(JsonWriter {
            out: &mut *self.out,
            mode: Mode::Key,
        })
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.out.push(':');
        value.serialize(JsonWriter::new(&mut *self.out))
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes in `word` is below 0x20, a quote or a backslash. May say
/// yes when none is (never no when one is): the bytes are then looked at one by one.
#[inline]
fn may_need_escape(word: u64) -> bool {
    let below_space = word.wrapping_sub(LOW_BITS * 0x20) & !word;
    let quote = word ^ (LOW_BITS * u64::from(b'"'));
    let backslash = word ^ (LOW_BITS * u64::from(b'\\'));
    let zero_in = |v: u64| v.wrapping_sub(LOW_BITS) & !v;
    (below_space | zero_in(quote) | zero_in(backslash)) & HIGH_BITS != 0
}

/// Whether `byte` is written escaped.
#[inline]
fn escaped(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Whether `bytes` may hold a byte to escape: eight bytes at a time (the last word overlapping
/// the one before), four for a short string, one by one below that.
#[inline]
fn may_need_escapes(bytes: &[u8]) -> bool {
    let n = bytes.len();
    if n >= 8 {
        let mut found = false;
        for word in bytes.chunks_exact(8) {
            found |= may_need_escape(word_at(word));
        }
        found || may_need_escape(word_at(&bytes[n - 8..]))
    } else if n >= 4 {
        // Two overlapping four-byte words, each padded with spaces.
        let pad = |at: usize| {
            let four: [u8; 4] = bytes[at..at + 4].try_into().unwrap_or([b' '; 4]);
            u64::from(u32::from_le_bytes(four)) | (LOW_BITS * u64::from(b' ')) << 32
        };
        may_need_escape(pad(0)) || may_need_escape(pad(n - 4))
    } else {
        bytes.iter().any(|&b| escaped(b))
    }
}

/// The eight bytes starting `bytes` (which has at least eight) as a word.
#[inline]
fn word_at(bytes: &[u8]) -> u64 {
    let word: [u8; 8] = bytes.first_chunk::<8>().copied().unwrap_or([b' '; 8]);
    u64::from_le_bytes(word)
}

/// Writes `text` as a JSON string, escaped as serde_json escapes it.
#[inline]
pub(crate) fn write_escaped(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    if may_need_escapes(text.as_bytes()) {
        write_escaped_text(out, text);
    } else {
        out.push_str(text);
    }
    out.push('"');
}

/// The inside of a string holding (maybe) characters to escape.
#[cold]
fn write_escaped_text(out: &mut String, text: &str) {
    // Text before `run` is written. Every escaped character is one ASCII byte, so `run` and
    // `i` always fall between characters.
    let mut run = 0;
    for (i, byte) in text.bytes().enumerate() {
        if escaped(byte) {
            out.push_str(text.get(run..i).unwrap_or_default());
            write_escape(out, byte);
            run = i + 1;
        }
    }
    out.push_str(text.get(run..).unwrap_or_default());
}

fn write_escape(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match byte {
        b'"' => out.push_str("\\\""),
        b'\\' => out.push_str("\\\\"),
        0x08 => out.push_str("\\b"),
        0x0c => out.push_str("\\f"),
        b'\n' => out.push_str("\\n"),
        b'\r' => out.push_str("\\r"),
        b'\t' => out.push_str("\\t"),
        _ => {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
}

/// Writes a float as serde_json does (`null` when it is not finite), through a buffer on the
/// stack.
fn write_float<F: Serialize>(out: &mut String, v: F) -> Result<(), Error> {
    let mut buf = [0u8; 40];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    serde_json::to_writer(&mut cursor, &v)?;
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    match std::str::from_utf8(buf.get(..len).unwrap_or_default()) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str("null"),
    }
    Ok(())
}

#[cfg(test)]
#[path = "json_writer_tests.rs"]
mod tests;
