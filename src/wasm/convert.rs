//! JSON values across the boundary: plain JS objects in, plain JS objects out (maps as objects, so IndexedDB key
//! paths and indexes see ordinary properties).

use serde::Serialize;
use wasm_bindgen::JsValue;

use super::error::bad_argument;

/// A JS value as JSON (`undefined` becomes `null`).
pub fn from_js(what: &str, v: JsValue) -> Result<serde_json::Value, JsValue> {
    if v.is_undefined() {
        return Ok(serde_json::Value::Null);
    }
    serde_wasm_bindgen::from_value(v).map_err(|e| bad_argument(what, e))
}

/// A Rust value as a plain JS value.
pub fn to_js<T: Serialize + ?Sized>(v: &T) -> Result<JsValue, JsValue> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| bad_argument("value", e))
}

/// Builds a plain JS object from key/value pairs.
pub fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}
