//! A stored row read as its JSON text: its members as (key, raw value text) borrowed from the text, without building
//! a `serde_json` map. Collection pages write thousands of rows whose stored JSON is already what the response
//! holds, value for value; only the annotations and the member order are added.
//!
//! The stored text is written by `serde_json` (`Db::put`, `Db::put_bulk`), so re-serializing a parsed value gives
//! its text back for strings without escapes, literals and plain integers: those are copied. Everything else
//! (escaped strings, floats, nested values) goes through `serde_json` as before, so the output is byte for byte
//! what decoding the row into a map and serializing it gave, whatever the text holds.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Number, Value};

/// The members of a stored row, in text order.
#[derive(Debug, Default)]
pub struct RawRow<'a> {
    /// (key, value text) pairs; a key with escapes is decoded.
    pub members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> RawRow<'a> {
    /// The members of `text`; none when it is not a JSON object (what decoding it into a map gave: an empty map).
    pub fn parse(text: &'a str) -> RawRow<'a> {
        serde_json::from_str::<RawRow<'a>>(text).unwrap_or_default()
    }

    /// The value of `key` (the last one when a key repeats, as a map decoded from the text keeps).
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
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
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for RawRow<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawRow<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRow<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(40));
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    members.push((k, v));
                }
                Ok(RawRow { members })
            }
        }
        d.deserialize_map(V)
    }
}

/// A raw value as the scalar the annotations read.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A string, decoded.
    Str(Cow<'a, str>),
    /// A number, as `serde_json` reads it.
    Num(Number),
    /// An object or an array.
    Other,
}

impl<'a> Scalar<'a> {
    /// The scalar of a raw value.
    pub fn of(raw: &'a RawValue) -> Scalar<'a> {
        let s = raw.get();
        match s.as_bytes().first() {
            Some(b'"') if !s.contains('\\') => Scalar::Str(Cow::Borrowed(&s[1..s.len() - 1])),
            Some(b'"') => serde_json::from_str::<String>(s).map(|t| Scalar::Str(Cow::Owned(t))).unwrap_or(Scalar::Null),
            Some(b't') => Scalar::Bool(true),
            Some(b'f') => Scalar::Bool(false),
            Some(b'n') | None => Scalar::Null,
            Some(b'{' | b'[') => Scalar::Other,
            Some(_) => match plain_u64(s) {
                Some(n) => Scalar::Num(Number::from(n)),
                None => match serde_json::from_str::<Value>(s) {
                    Ok(Value::Number(n)) => Scalar::Num(n),
                    _ => Scalar::Null,
                },
            },
        }
    }

    /// The scalar of a decoded value.
    pub fn of_value(v: &'a Value) -> Scalar<'a> {
        match v {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::String(s) => Scalar::Str(Cow::Borrowed(s)),
            Value::Number(n) => Scalar::Num(n.clone()),
            Value::Array(_) | Value::Object(_) => Scalar::Other,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    /// As `Value::as_i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Num(n) => n.as_i64(),
            _ => None,
        }
    }

    /// As `Value::as_f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Num(n) => n.as_f64(),
            _ => None,
        }
    }

    /// As `Value::as_bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// Whether a raw value is `null` (or absent).
pub fn is_null(raw: Option<&RawValue>) -> bool {
    raw.is_none_or(|r| r.get() == "null")
}

/// An integer of at most 19 digits without sign: `serde_json` reads it as that `u64` and writes it back as is.
fn plain_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Writes a raw value as serializing its decoded value writes it.
pub fn write_raw(out: &mut Vec<u8>, raw: &RawValue) {
    let s = raw.get();
    let copy = match s.as_bytes().first() {
        Some(b'"') => !s.contains('\\'),
        Some(b't' | b'f' | b'n') => true,
        Some(b'0'..=b'9') => plain_u64(s).is_some(),
        _ => false,
    };
    if copy {
        out.extend_from_slice(s.as_bytes());
    } else {
        match serde_json::from_str::<Value>(s) {
            // Writing into a Vec cannot fail and a JSON value always serializes.
            Ok(v) => {
                let _ = serde_json::to_writer(&mut *out, &v);
            }
            Err(_) => out.extend_from_slice(b"null"),
        }
    }
}

/// Writes `s` as a JSON string, escaped as `serde_json` escapes.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(text: &str) -> String {
        let row = RawRow::parse(text);
        let mut out = vec![b'{'];
        for (i, (k, v)) in row.members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(&mut out, k);
            out.push(b':');
            write_raw(&mut out, v);
        }
        out.push(b'}');
        String::from_utf8(out).expect("utf-8")
    }

    /// Every value kind written from the raw text equals serializing the decoded row.
    #[test]
    fn raw_values_write_what_the_decoded_values_serialize() {
        let texts = [
            r#"{"a":"plain","b":"esc \" \\ \n \u0001 \u00e9 \/","c":1,"d":-1,"e":1.5,"f":25.0,"g":1e3,"h":true,"i":false,"j":null}"#,
            r#"{"k":12345678901234567890,"l":1234567890123456789,"m":0,"n":-0,"o":1.0000000000000002,"p":[1,{"q":"x"}],"r":{"s":[]}}"#,
            r#"{"key \"quoted\"":1, "spaced" : [ 1 , 2 ] ,"t\u00e9":"é"}"#,
            r#"{}"#,
        ];
        for text in texts {
            let decoded: Value = serde_json::from_str(text).expect("json");
            assert_eq!(rewritten(text), serde_json::to_string(&decoded).expect("serialize"), "{text}");
        }
    }

    #[test]
    fn text_that_is_not_an_object_has_no_members() {
        for text in ["", "[1]", "1", "{\"a\":1", "{\"a\":1} x", "{\"a\":01}", "{\"a\":\"\u{1}\"}"] {
            assert!(RawRow::parse(text).members.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn scalars_read_as_the_decoded_values_do() {
        let text = r#"{"a":"x\"y","b":690970001,"c":-5,"d":3.25,"e":true,"f":null,"g":18446744073709551615,"h":[1]}"#;
        let row = RawRow::parse(text);
        let decoded: Value = serde_json::from_str(text).expect("json");
        for (k, v) in &row.members {
            let d = &decoded[k.as_ref()];
            let s = Scalar::of(v);
            assert_eq!(s, Scalar::of_value(d), "{k}");
            assert_eq!(s.as_str(), d.as_str(), "{k}");
            assert_eq!(s.as_i64(), d.as_i64(), "{k}");
            assert_eq!(s.as_f64(), d.as_f64(), "{k}");
            assert_eq!(s.as_bool(), d.as_bool(), "{k}");
        }
        assert_eq!(row.get("b").map(RawValue::get), Some("690970001"));
        assert_eq!(RawRow::parse(r#"{"a":1,"a":2}"#).get("a").map(RawValue::get), Some("2"));
    }
}
