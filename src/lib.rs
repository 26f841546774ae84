//! xrm-offline: the offline behaviour of the Power Apps / Dynamics 365 mobile client for any web page.
//!
//! The engine (this crate's native part) knows nothing of the browser: table metadata ([`schema`]), mobile
//! offline profiles ([`profile`]), and OData / FetchXML queries parsed and evaluated in Rust ([`query`]). The
//! browser binding lives in `wasm/`, compiled only for `wasm32`.
#![warn(missing_docs)]

pub mod dates;
pub mod error;
pub mod hooks;
pub mod lower;
pub mod num;
pub mod profile;
pub mod query;
pub mod read;
pub mod schema;
pub mod sort;
pub mod store;
pub mod sync;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, ErrorCode, Result};
