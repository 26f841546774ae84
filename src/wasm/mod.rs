//! The browser binding: the engine's functions exported to JavaScript with wasm-bindgen.
