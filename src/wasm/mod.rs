//! The browser binding: the engine exported to JavaScript with wasm-bindgen.
//!
//! This tree is the only place that knows about JavaScript. It converts values at the boundary
//! (`serde-wasm-bindgen`, maps as plain objects) and turns every engine [`Error`](crate::Error) into a real JS
//! `Error` carrying a stable `errorCode` ([`error::to_js`]).
//!
//! - [`Engine`]: queries over rows held by the caller (no storage).
//! - `loadProfile`, `lintProfile`: profiles for the client and for authors (`profile.rs`).
//! - `hooks*` functions: the offline workflow hook rules for `js/hooks.js` (`hooks/`).
//! - [`OfflineStore`]: the IndexedDB offline store behind `Xrm.WebApi.offline` (`store/`).

mod context;
mod convert;
mod engine;
mod error;
mod hooks;
mod profile;
mod store;
mod sync;

pub use engine::Engine;
pub use store::OfflineStore;
pub use sync::SyncEngine;
