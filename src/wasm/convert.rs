//! JSON values across the boundary: plain JS objects in, plain JS objects out (maps as objects, so IndexedDB key
//! paths and indexes see ordinary properties).
//!
//! Both directions go through `serde_json` alone, so each Rust type's serde code is compiled once (for
//! `serde_json`) rather than once more for a JS-value (de)serializer:
//! - in: a small walker turns the JS value into a [`Value`] (`null`/`undefined` as null, numbers that are safe
//!   integers as integers, arrays, plain objects by their own enumerable properties), then a reader of
//!   [`crate::read`] takes the Rust type from that;
//! - out: the Rust value is written as JSON text and `JSON.parse`d on the JS side: one call instead of one per
//!   property, and the same plain objects, arrays, numbers and strings.

use js_sys::{Array, Object};
use serde::Serialize;
use serde_json::{Map, Number, Value};
use wasm_bindgen::{JsCast, JsValue};

use super::error::bad_argument;

/// Why a JS value could not be read: its text is the message (`invalid type: ...`, `missing field ...`).
pub struct ConvertError(String);

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ConvertError> for JsValue {
    fn from(e: ConvertError) -> JsValue {
        js_sys::Error::new(&e.0).into()
    }
}

/// A JS value read by one of the crate's readers ([`crate::read`]).
pub fn read<T>(v: JsValue, read: impl FnOnce(&Value) -> crate::read::Read<T>) -> Result<T, ConvertError> {
    read(&value(&v)?).map_err(ConvertError)
}

/// A JS array as JSON values.
pub fn array(v: JsValue) -> Result<Vec<Value>, ConvertError> {
    match value(&v)? {
        Value::Array(a) => Ok(a),
        other => Err(ConvertError(crate::read::invalid(&other, "a sequence"))),
    }
}

/// A JS value as JSON (`undefined` becomes `null`).
pub fn from_js(what: &str, v: JsValue) -> Result<Value, JsValue> {
    value(&v).map_err(|e| bad_argument(what, e))
}

/// Largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

fn value(v: &JsValue) -> Result<Value, ConvertError> {
    if v.is_null() || v.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = v.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = v.as_f64() {
        if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
            return Ok(Value::from(n as i64));
        }
        // NaN and the infinities have no JSON form: null, as JSON.stringify writes them.
        return Ok(Number::from_f64(n).map_or(Value::Null, Value::Number));
    }
    if let Some(s) = v.as_string() {
        return Ok(Value::String(s));
    }
    if Array::is_array(v) {
        let a: &Array = v.unchecked_ref();
        let mut out = Vec::with_capacity(a.length() as usize);
        for item in a.iter() {
            out.push(value(&item)?);
        }
        return Ok(Value::Array(out));
    }
    if v.is_object() && !v.is_function() {
        let mut out = Map::new();
        for entry in Object::entries(v.unchecked_ref()).iter() {
            let pair: &Array = entry.unchecked_ref();
            let key = pair.get(0).as_string().unwrap_or_default();
            out.insert(key, value(&pair.get(1))?);
        }
        return Ok(Value::Object(out));
    }
    Err(ConvertError("invalid type: expected a JSON value (null, boolean, number, string, array or object)".into()))
}

/// A Rust value as a plain JS value.
pub fn to_js<T: Serialize + ?Sized>(v: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(v).map_err(|e| bad_argument("value", e))?;
    js_sys::JSON::parse(&text)
}

/// An optional array of strings argument (null and undefined: empty). Taken as a `JsValue` rather than a
/// `Vec<String>`: wasm-bindgen's generated JS would copy the array into wasm memory at each call site, with its own
/// helpers in both directions (docs/PERFORMANCE.md "Size").
pub fn texts(what: &str, v: &JsValue) -> Result<Vec<String>, JsValue> {
    if v.is_null() || v.is_undefined() {
        return Ok(Vec::new());
    }
    let items = Array::is_array(v).then(|| v.unchecked_ref::<Array>().iter().map(|s| s.as_string()).collect());
    items.flatten().ok_or_else(|| bad_argument(what, "must be an array of strings"))
}

/// Strings as a JS array of strings (in place of a `Vec<String>` return: see [`texts`]).
pub fn js_texts<'a>(items: impl IntoIterator<Item = &'a str>) -> JsValue {
    items.into_iter().map(JsValue::from_str).collect::<Array>().into()
}

/// Builds a plain JS object from key/value pairs.
pub fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}
