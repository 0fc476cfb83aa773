//! A JSON value that borrows its strings from the input buffer where it can.
//!
//! Converting items is dominated by parsing; `serde_json::Value` allocates every string and a
//! B-tree per object. Here strings without escapes are slices of the NDJSON line, and objects
//! are small vectors of members in document order, which roughly halves the parse cost.

use std::borrow::Cow;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    /// An integer that fits in i64.
    Int(i64),
    /// A positive integer beyond i64.
    BigUint(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// A JSON object: members in document order.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Object<'a>(pub(crate) Vec<(Cow<'a, str>, Json<'a>)>);

impl<'a> Object<'a> {
    /// The value of a member (the last one, if a key repeats, as JSON parsers usually do).
    pub(crate) fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Take a member out.
    pub(crate) fn remove(&mut self, key: &str) -> Option<Json<'a>> {
        let index = self.0.iter().rposition(|(k, _)| k == key)?;
        Some(self.0.remove(index).1)
    }
}

impl<'a> Json<'a> {
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub(crate) fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    pub(crate) fn is_number(&self) -> bool {
        matches!(self, Json::Int(_) | Json::BigUint(_) | Json::Float(_))
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Int(n) => Some(*n as f64),
            Json::BigUint(n) => Some(*n as f64),
            Json::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&Vec<Json<'a>>> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    pub(crate) fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.as_object().and_then(|o| o.get(key))
    }

    /// The JSON type name used in messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Int(_) | Json::BigUint(_) => "integer",
            Json::Float(_) => "float",
            Json::Str(_) => "string",
            Json::Array(_) => "list",
            Json::Object(_) => "object",
        }
    }

    /// Parse a complete JSON text, borrowing strings from it.
    ///
    /// sonic-rs (SIMD) does the parsing; when it rejects the text, serde_json parses it again to
    /// produce its familiar message (`expected value at line 1 column 5`), on the error path only.
    ///
    /// Every number parses to the nearest double, bit for bit as Rust's own `f64` parser would
    /// (serde_json's `float_roundtrip`), except that sonic-rs reads a negative zero (`-0.0`) as
    /// `+0.0`: a text holding one is parsed by serde_json instead.
    pub(crate) fn parse(text: &'a str) -> serde_json::Result<Json<'a>> {
        if has_negative_zero(text.as_bytes()) {
            return serde_json::from_str(text);
        }
        match sonic_rs::from_str(text) {
            Ok(value) => Ok(value),
            Err(_) => serde_json::from_str(text),
        }
    }
}

/// Whether `text` may hold a JSON number that is a negative zero (`-0`, `-0.00`, `-0e5`, …).
/// Also true for such text inside a string (`"x: -0"`), which only costs the slower parser.
pub(crate) fn has_negative_zero(text: &[u8]) -> bool {
    memchr::memmem::find_iter(text, b"-0").any(|at| {
        // A number starts a value, after `:`, `,`, `[` or blanks; and a leading zero followed
        // by a digit is no JSON number: `"band-0"` and `"wide-00000000"` are text.
        let starts_value = at == 0
            || matches!(
                text[at - 1],
                b':' | b',' | b'[' | b' ' | b'\t' | b'\n' | b'\r'
            );
        if !starts_value || text.get(at + 2).is_some_and(u8::is_ascii_digit) {
            return false;
        }
        let mantissa = text[at + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'.');
        let mut zero = true;
        for b in mantissa {
            zero &= matches!(b, b'0' | b'.');
        }
        zero
    })
}

/// A string that borrows from the input when the parser allows it (no escapes).
pub(crate) struct Key<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(match i64::try_from(v) {
            Ok(v) => Json::Int(v),
            Err(_) => Json::BigUint(v),
        })
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(Json::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(Key(key)) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        Ok(Json::Object(Object(members)))
    }
}

/// FNV-1a: field names are short and trusted-enough (they only key our own lookups), and SipHash
/// costs more than the lookups it protects.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

/// Hasher builder for field-name maps.
pub(crate) type FieldHash = BuildHasherDefault<Fnv>;

/// An owned copy of a `serde_json::Value` (tests build items with `json!`).
#[cfg(test)]
pub(crate) fn from_value(value: serde_json::Value) -> Json<'static> {
    use serde_json::Value;
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) if !n.is_f64() => Json::Int(i),
            (None, Some(u)) if !n.is_f64() => Json::BigUint(u),
            _ => Json::Float(n.as_f64().expect("finite")),
        },
        Value::String(s) => Json::Str(Cow::Owned(s)),
        Value::Array(a) => Json::Array(a.into_iter().map(from_value).collect()),
        Value::Object(o) => Json::Object(Object(
            o.into_iter()
                .map(|(k, v)| (Cow::Owned(k), from_value(v)))
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_borrow_and_escaped_strings_own() {
        let text = r#"{"a": "plain", "b\n": "esc\"aped", "n": [1, -2, 1.5, 18446744073709551615]}"#;
        let value = Json::parse(text).unwrap();
        let object = value.as_object().unwrap();
        assert!(matches!(
            object.get("a"),
            Some(Json::Str(Cow::Borrowed("plain")))
        ));
        assert_eq!(object.get("b\n").unwrap().as_str(), Some("esc\"aped"));
        assert_eq!(
            object.get("n").unwrap().as_array().unwrap(),
            &vec![
                Json::Int(1),
                Json::Int(-2),
                Json::Float(1.5),
                Json::BigUint(u64::MAX)
            ]
        );
        let keys: Vec<&str> = object.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["a", "b\n", "n"]);
    }

    #[test]
    fn every_number_parses_bit_exactly() {
        let hard = [
            "121.62421300000001",
            "-0.0",
            "-0",
            "-0.000e-5",
            "5e-324",
            "4.9406564584124654e-324",
            "2.2250738585072011e-308",
            "2.2250738585072014e-308",
            "1.7976931348623157e308",
            "0.30000000000000004",
            "9007199254740993.0",
            "1e23",
            "8.98846567431158e307",
            "0.1",
            "0.10000000000000002",
            "-0.5",
            "-1.0e-300",
        ];
        for text in hard {
            let doc = format!("[{text}, {{\"x\": {text}}}]");
            let value = Json::parse(&doc).unwrap();
            let expected: f64 = text.parse().unwrap();
            let items = value.as_array().unwrap();
            for got in [&items[0], items[1].get("x").unwrap()] {
                let got = match got {
                    Json::Int(n) => *n as f64,
                    other => other.as_f64().unwrap(),
                };
                // `-0` is an integer literal; JSON parsers give it as the double -0.0.
                assert_eq!(got.to_bits(), expected.to_bits(), "{text}");
            }
        }
    }

    #[test]
    fn negative_zero_detection_looks_at_the_whole_mantissa() {
        assert!(has_negative_zero(b"[-0]"));
        assert!(has_negative_zero(b"[-0.000e7]"));
        assert!(!has_negative_zero(b"[-0.5, -10, -0.0001]"));
        assert!(!has_negative_zero(b"[1, 2]"));
        assert!(!has_negative_zero(
            br#"{"id": "wide-00000000", "d": "2020-01-01", "b": "band-0"}"#
        ));
        assert!(has_negative_zero(b"-0"));
        assert!(has_negative_zero(b"[1,-0.0]"));
        assert!(has_negative_zero(br#"{"id": "wide-00000000", "x": -0}"#));
    }
}
