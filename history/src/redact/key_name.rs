//! [`KeyName`]: reads a map key as a name, to ask the policy whether its value is secret.

use serde::ser::{self, Impossible, Serialize, Serializer};

use super::RedactionPolicy;

/// Tells whether a map key is a secret name: `Ok(true)` for a string key the policy calls
/// secret, `Ok(false)` for any other string, an error for anything that is not a string.
pub(super) struct KeyName<'p>(pub(super) &'p RedactionPolicy);

#[derive(Debug)]
pub(super) struct NotAName;

impl std::fmt::Display for NotAName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a name")
    }
}

impl std::error::Error for NotAName {}

impl ser::Error for NotAName {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        NotAName
    }
}

macro_rules! not_a_name {
    ($($method:ident($($ty:ty),*);)*) => {$(
        fn $method(self, $(_: $ty),*) -> Result<bool, NotAName> {
            Err(NotAName)
        }
    )*};
}

impl Serializer for KeyName<'_> {
    type Ok = bool;
    type Error = NotAName;
    type SerializeSeq = Impossible<bool, NotAName>;
    type SerializeTuple = Impossible<bool, NotAName>;
    type SerializeTupleStruct = Impossible<bool, NotAName>;
    type SerializeTupleVariant = Impossible<bool, NotAName>;
    type SerializeMap = Impossible<bool, NotAName>;
    type SerializeStruct = Impossible<bool, NotAName>;
    type SerializeStructVariant = Impossible<bool, NotAName>;

    fn serialize_str(self, v: &str) -> Result<bool, NotAName> {
        Ok(self.0.is_secret(v))
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<bool, NotAName> {
        Ok(self.0.is_secret(variant))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<bool, NotAName> {
        value.serialize(self)
    }

    not_a_name! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<bool, NotAName> {
        Err(NotAName)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<bool, NotAName> {
        Err(NotAName)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotAName> {
        Err(NotAName)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotAName> {
        Err(NotAName)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotAName> {
        Err(NotAName)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotAName> {
        Err(NotAName)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotAName> {
        Err(NotAName)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, NotAName> {
        Err(NotAName)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotAName> {
        Err(NotAName)
    }
}
