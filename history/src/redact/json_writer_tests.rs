//! The writer against serde_json: the same bytes for every shape, the same refusals.

use std::collections::BTreeMap;

use serde::Serialize;

use super::JsonWriter;

fn ours<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    let mut out = String::new();
    value
        .serialize(JsonWriter::new(&mut out))
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn same<T: Serialize + ?Sized + std::fmt::Debug>(value: &T) {
    let theirs = serde_json::to_string(value).expect("serde_json serializes it");
    assert_eq!(ours(value).as_deref(), Ok(theirs.as_str()), "{value:?}");
}

#[test]
fn strings_escape_as_serde_json_does() {
    // Every ASCII byte, alone and at each position of a 17-byte string (both sides of the
    // eight-byte steps), and text beyond ASCII.
    for byte in 0u8..128 {
        let c = char::from(byte);
        same(&c.to_string());
        same(&c);
        for at in 0..17 {
            let mut text: String = "abcdefghijklmnopq".into();
            text.replace_range(at..=at, &c.to_string());
            same(&text);
        }
    }
    for text in [
        "",
        "é",
        "ünïcödé \u{1F600} and \u{7f}\u{80}\u{ffff}",
        "\"quoted\" \\ back\\slash \n\r\t\u{8}\u{c}\u{1}\u{1f}",
        "a long string without anything to escape, longer than a few words",
        "https://user:pass@example.com/x?y=1",
    ] {
        same(text);
    }
}

#[derive(Debug, Serialize)]
enum Shape {
    Unit,
    Newtype(u8),
    Tuple(i32, String),
    Struct { a: Option<u8>, b: Vec<u16> },
}

#[derive(Debug, Serialize)]
struct Unit;

#[derive(Debug, Serialize)]
struct Newtype(String);

#[derive(Debug, Serialize)]
struct TupleStruct(u8, bool);

#[derive(Debug, Serialize)]
struct Nested {
    id: u64,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<u8>,
    shapes: Vec<Shape>,
    by_id: BTreeMap<u32, Unit>,
    unit: (),
    tuple: (i8, f32, char),
    newtype: Newtype,
    tuple_struct: TupleStruct,
    bytes: serde_bytes_like::Bytes,
}

/// `serialize_bytes` without another dependency.
mod serde_bytes_like {
    #[derive(Debug)]
    pub(super) struct Bytes(pub(super) Vec<u8>);
    impl serde::Serialize for Bytes {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }
}

#[test]
fn every_shape_matches_serde_json() {
    same(&Nested {
        id: u64::MAX,
        name: "n\"ame".into(),
        skipped: None,
        shapes: vec![
            Shape::Unit,
            Shape::Newtype(7),
            Shape::Tuple(-3, "x".into()),
            Shape::Struct { a: None, b: vec![] },
            Shape::Struct {
                a: Some(1),
                b: vec![1, 2],
            },
        ],
        by_id: [(1, Unit), (20, Unit)].into_iter().collect(),
        unit: (),
        tuple: (-128, 1.5, 'ü'),
        newtype: Newtype("inner".into()),
        tuple_struct: TupleStruct(255, false),
        bytes: serde_bytes_like::Bytes(vec![0, 1, 255]),
    });
    same(&(i128::MIN, u128::MAX, i64::MIN, 0u8, -0i32));
    same(&[f64::NAN, f64::INFINITY, -0.0, 1e300, 0.1, 123456789.0]);
    same(&[f32::NAN, f32::NEG_INFINITY, 3.25, 1e-7]);
    same(&Vec::<u8>::new());
    same(&BTreeMap::<String, u8>::new());
    same(&Some(Some(3)));
    same(&serde_json::json!({"a": [1, -2, 3.5, null, true, {"b": "c"}], "": {}}));
}

#[test]
fn map_keys_are_strings_as_in_serde_json() {
    same(&[(1u8, 'a')].into_iter().collect::<BTreeMap<_, _>>());
    same(&[(-5i64, 1)].into_iter().collect::<BTreeMap<_, _>>());
    same(
        &[(true, 1), (false, 2)]
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
    );
    same(&[('k', 1)].into_iter().collect::<BTreeMap<_, _>>());
    same(&[(Newtype("k\n".into()), 1)].into_iter().collect::<Vec<_>>());
    #[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
    enum Key {
        A,
    }
    same(&[(Key::A, 1)].into_iter().collect::<BTreeMap<_, _>>());
    same(
        &[("x", 1)]
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>(),
    );
}

/// A map with one entry, for keys that cannot go in a `BTreeMap`.
#[derive(Debug)]
struct OneEntry<K>(K);

impl<K: Serialize> Serialize for OneEntry<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(&self.0, &0)?;
        map.end()
    }
}

#[test]
fn keys_serde_json_refuses_are_refused() {
    same(&OneEntry(2.5f64));
    for refused in [
        ours(&OneEntry(f64::NAN)),
        ours(&OneEntry((1, 2))),
        ours(&OneEntry(vec![1])),
        ours(&OneEntry(())),
        ours(&OneEntry(Some(1))),
    ] {
        assert!(refused.is_err(), "{refused:?}");
    }
    assert!(serde_json::to_string(&OneEntry((1, 2))).is_err());
}
