//! The local store's rules, free of the browser: offline write validation and the rows it stores
//! ([`write`]), GUIDs ([`guid`]), the IndexedDB layout ([`layout`]), what a storage failure means ([`failure`]). The IndexedDB code that applies them lives in `wasm/store/`.

pub mod failure;
pub mod guid;
pub mod layout;
pub mod write;
