//! Canonical JSON of any `Serialize` value — object keys sorted at every
//! level, no whitespace, `serde_json`'s escapes and number formats —
//! written without building a `serde_json::Value` first: the same bytes as
//! the canonical text of `serde_json::to_value(value)`, with one buffer per
//! object instead of one allocation per string and map node.
//!
//! Whatever this serializer does not write exactly as `to_value` would
//! (non-string map keys, 128-bit integers, raw values) is refused with
//! [`Unsupported`], and the caller falls back to the `Value` path.

use std::borrow::Cow;

use serde::ser::{self, Serialize};

/// Writes the canonical JSON of `value` into `out`.
///
/// # Errors
/// [`Unsupported`] for a shape this writer does not handle exactly as
/// `serde_json::to_value`; `out` is then left in an unspecified state.
pub(crate) fn write<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), Unsupported> {
    value.serialize(Writer { out })
}

/// A shape the canonical writer does not handle; use the `Value` path.
#[derive(Debug)]
pub(crate) struct Unsupported(String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Unsupported(msg.to_string())
    }
}

fn unsupported(what: &str) -> Unsupported {
    Unsupported(format!("{what} is not written canonically"))
}

/// A scalar exactly as `serde_json` writes it.
fn scalar<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), Unsupported> {
    serde_json::to_writer(out, value).map_err(|e| Unsupported(e.to_string()))
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

/// An object being written: its members in a scratch buffer, sorted by key
/// when it ends. Keys are JSON-escaped strings, so sorting the raw keys
/// sorts as `serde_json`'s sorted map does (by the unescaped `String`).
struct Object<'a> {
    out: &'a mut Vec<u8>,
    scratch: Vec<u8>,
    /// (key, value range in `scratch`)
    members: Vec<(Cow<'static, str>, std::ops::Range<usize>)>,
    pending_key: Option<String>,
    /// For `{"Variant": {...}}`: close the outer object too.
    variant: Option<&'static str>,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut Vec<u8>, variant: Option<&'static str>) -> Self {
        Object {
            out,
            scratch: Vec::new(),
            members: Vec::new(),
            pending_key: None,
            variant,
        }
    }

    fn member<T: Serialize + ?Sized>(
        &mut self,
        key: Cow<'static, str>,
        value: &T,
    ) -> Result<(), Unsupported> {
        let start = self.scratch.len();
        value.serialize(Writer {
            out: &mut self.scratch,
        })?;
        self.members.push((key, start..self.scratch.len()));
        Ok(())
    }

    fn finish(mut self) -> Result<(), Unsupported> {
        self.members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(variant) = self.variant {
            self.out.push(b'{');
            scalar(variant, self.out)?;
            self.out.push(b':');
        }
        self.out.push(b'{');
        for (i, (key, range)) in self.members.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            scalar(key.as_ref(), self.out)?;
            self.out.push(b':');
            self.out.extend_from_slice(&self.scratch[range.clone()]);
        }
        self.out.push(b'}');
        if self.variant.is_some() {
            self.out.push(b'}');
        }
        Ok(())
    }
}

/// An array being written, straight into the output.
struct Array<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    variant: bool,
}

impl<'a> Array<'a> {
    fn new(out: &'a mut Vec<u8>, variant: Option<&'static str>) -> Result<Self, Unsupported> {
        if let Some(variant) = variant {
            out.push(b'{');
            scalar(variant, out)?;
            out.push(b':');
        }
        out.push(b'[');
        Ok(Array {
            out,
            first: true,
            variant: variant.is_some(),
        })
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Writer { out: self.out })
    }

    fn finish(self) -> Result<(), Unsupported> {
        self.out.push(b']');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

macro_rules! scalars {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Result<(), Unsupported> { scalar(&v, self.out) })*
    };
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Array<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    scalars!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_char(char),
        serialize_str(&str),
    );

    fn serialize_f32(self, v: f32) -> Result<(), Unsupported> {
        // `to_value` widens to f64 first (and writes a non-finite as null)
        scalar(&serde_json::Value::from(f64::from(v)), self.out)
    }

    fn serialize_f64(self, v: f64) -> Result<(), Unsupported> {
        scalar(&serde_json::Value::from(v), self.out)
    }

    fn serialize_i128(self, _: i128) -> Result<(), Unsupported> {
        Err(unsupported("i128"))
    }

    fn serialize_u128(self, _: u128) -> Result<(), Unsupported> {
        Err(unsupported("u128"))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Unsupported> {
        scalar(v, self.out)
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_none()
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        scalar(variant, self.out)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.out.push(b'{');
        scalar(variant, self.out)?;
        self.out.push(b':');
        value.serialize(Writer { out: self.out })?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Array<'a>, Unsupported> {
        Array::new(self.out, None)
    }

    fn serialize_tuple(self, _: usize) -> Result<Array<'a>, Unsupported> {
        Array::new(self.out, None)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Array<'a>, Unsupported> {
        Array::new(self.out, None)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Array<'a>, Unsupported> {
        Array::new(self.out, Some(variant))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Object<'a>, Unsupported> {
        Ok(Object::new(self.out, None))
    }

    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Object<'a>, Unsupported> {
        // serde_json's `RawValue` serialises as a struct of this name
        if name == "$serde_json::private::RawValue" {
            return Err(unsupported("a raw value"));
        }
        Ok(Object::new(self.out, None))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Object<'a>, Unsupported> {
        Ok(Object::new(self.out, Some(variant)))
    }
}

macro_rules! array_impl {
    ($trait:ident, $method:ident) => {
        impl ser::$trait for Array<'_> {
            type Ok = ();
            type Error = Unsupported;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
                self.element(value)
            }

            fn end(self) -> Result<(), Unsupported> {
                self.finish()
            }
        }
    };
}

array_impl!(SerializeSeq, serialize_element);
array_impl!(SerializeTuple, serialize_element);
array_impl!(SerializeTupleStruct, serialize_field);
array_impl!(SerializeTupleVariant, serialize_field);

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        // Only string keys: `to_value` turns other keys into strings its own way.
        match serde_json::to_value(key) {
            Ok(serde_json::Value::String(k)) => {
                self.pending_key = Some(k);
                Ok(())
            }
            _ => Err(unsupported("a map key that is not a string")),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| unsupported("a map value without a key"))?;
        // `to_value` keeps the last of repeated keys (a map insert).
        self.members.retain(|(k, _)| *k != key);
        self.member(Cow::Owned(key), value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

macro_rules! struct_impl {
    ($trait:ident) => {
        impl ser::$trait for Object<'_> {
            type Ok = ();
            type Error = Unsupported;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Unsupported> {
                self.member(Cow::Borrowed(key), value)
            }

            fn end(self) -> Result<(), Unsupported> {
                self.finish()
            }
        }
    };
}

struct_impl!(SerializeStruct);
struct_impl!(SerializeStructVariant);

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;
    use serde_json::json;

    use super::*;

    /// The reference: `to_value`, whose maps are sorted in this build, as text.
    fn reference<T: Serialize>(value: &T) -> String {
        serde_json::to_value(value).unwrap().to_string()
    }

    fn canonical<T: Serialize>(value: &T) -> String {
        let mut out = Vec::new();
        write(value, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Line {
        sku: String,
        quantity: u32,
        unit_price: f64,
        note: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    enum Kind {
        Plain,
        Wrapped(String),
        Pair(u8, i64),
        Shaped { z: bool, a: Vec<u8> },
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Newtype(String);

    #[derive(Serialize)]
    struct Order {
        zeta: &'static str,
        alpha: Vec<Line>,
        kinds: Vec<Kind>,
        attrs: HashMap<String, serde_json::Value>,
        sorted: BTreeMap<String, i32>,
        unit: Unit,
        newtype: Newtype,
        tuple: (u8, &'static str),
        floats: Vec<f64>,
        small: f32,
        chars: char,
        bytes: &'static [u8],
        #[serde(flatten)]
        flat: BTreeMap<String, String>,
    }

    #[test]
    fn writes_what_to_value_writes_sorted() {
        let order = Order {
            zeta: "é \"quoted\" \u{1} \n end",
            alpha: vec![
                Line {
                    sku: "B".into(),
                    quantity: 2,
                    unit_price: 19.95,
                    note: None,
                    skipped: None,
                },
                Line {
                    sku: "A".into(),
                    quantity: 0,
                    unit_price: -0.0,
                    note: Some("x".into()),
                    skipped: Some(1),
                },
            ],
            kinds: vec![
                Kind::Plain,
                Kind::Wrapped("w".into()),
                Kind::Pair(1, -7),
                Kind::Shaped {
                    z: true,
                    a: vec![3, 1],
                },
            ],
            attrs: [
                ("b".to_owned(), json!({"y": [1, {"k": null}], "x": 1.5e300})),
                ("a".to_owned(), json!("s")),
                ("B".to_owned(), json!(u64::MAX)),
            ]
            .into_iter()
            .collect(),
            sorted: [("2".to_owned(), 2), ("10".to_owned(), 10)]
                .into_iter()
                .collect(),
            unit: Unit,
            newtype: Newtype("n".into()),
            tuple: (7, "t"),
            floats: vec![f64::NAN, f64::INFINITY, 1e21, 0.1, 1.0, -1e-7],
            small: 0.1,
            chars: 'ß',
            bytes: b"hi",
            flat: [("aa".to_owned(), "flat".to_owned())].into_iter().collect(),
        };
        assert_eq!(canonical(&order), reference(&order));
        assert_eq!(
            canonical(&json!({"k": {"b": 1, "a": [{"d": 1, "c": 2}]}})),
            r#"{"k":{"a":[{"c":2,"d":1}],"b":1}}"#
        );
    }

    #[test]
    fn shapes_it_cannot_write_exactly_are_refused() {
        let mut out = Vec::new();
        assert!(write(&u128::MAX, &mut out).is_err());
        let numeric_keys: BTreeMap<u32, u32> = [(1, 2)].into_iter().collect();
        assert!(write(&numeric_keys, &mut Vec::new()).is_err());
        let raw = serde_json::value::RawValue::from_string("{\"b\":1,\"a\":2}".into()).unwrap();
        assert!(write(&raw, &mut Vec::new()).is_err());
    }
}
