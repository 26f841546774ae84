//! Engine errors as JavaScript `Error` objects with the Xrm error fields.

use wasm_bindgen::JsValue;

use crate::error::{Error, ErrorCode};

/// A JS `Error` whose `message` is the engine's message, with `errorCode` (the positive decimal of the Dataverse
/// hex code, as `Xrm.WebApi` error callbacks report it) and `errorName` (the stable name, e.g. `RecordNotFound`).
pub fn to_js(e: &Error) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    err.set_name("XrmOfflineError");
    let obj: &JsValue = err.as_ref();
    // Reflect::set only fails on frozen objects; a fresh Error is not.
    let _ = js_sys::Reflect::set(obj, &"errorCode".into(), &JsValue::from_f64(e.code.hex() as f64));
    let _ = js_sys::Reflect::set(obj, &"errorName".into(), &e.code.name().into());
    err.into()
}

/// Converts a value the caller passed that could not be read into an `InvalidArgument` JS error.
pub fn bad_argument(what: &str, detail: impl std::fmt::Display) -> JsValue {
    to_js(&Error::new(ErrorCode::InvalidArgument, format!("{what}: {detail}")))
}
