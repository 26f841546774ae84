//! The browser binding: the engine exported to JavaScript with wasm-bindgen.
//!
//! This tree is the only place that knows about JavaScript. It converts values at the boundary
//! (`serde-wasm-bindgen`, maps as plain objects) and turns every engine [`Error`](crate::Error) into a real JS
//! `Error` carrying a stable `errorCode` ([`error::to_js`]).
//!
//! - [`Engine`]: queries over rows held by the caller (no storage).
//! - `loadProfile`, `lintProfile`: profiles for the client and for authors (`profile.rs`).
//! - `hookRule`: the offline workflow hook rules for `js/hooks.js`, one export numbered by rule (`hooks/`).
//! - [`OfflineStore`]: the IndexedDB offline store behind `Xrm.WebApi.offline` (`store/`).

mod context;
mod convert;
mod engine;
mod error;
mod hooks;
mod profile;
mod store;
mod sync;

use wasm_bindgen::JsValue;

pub use engine::Engine;
pub use store::OfflineStore;
pub use sync::SyncEngine;

/// One promise adapter for every async export: the exported method boxes its future and this turns it into a JS
/// `Promise`. wasm-bindgen's own `async fn` export compiles `future_to_promise` (its executor closure, its task and
/// their drop glue) once per method; boxed, it is compiled once (docs/PERFORMANCE.md "Size").
pub(crate) fn promise(f: impl std::future::Future<Output = Result<JsValue, JsValue>> + 'static) -> js_sys::Promise {
    to_promise(Box::pin(f))
}

fn to_promise(f: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>>) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(f)
}
