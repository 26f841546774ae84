//! The IndexedDB primitives of `js/idb.js`, imported into Rust.

use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/idb.js")]
extern "C" {
    /// Opens (creating or upgrading) the database described by a `Layout`.
    #[wasm_bindgen(js_name = openDatabase, catch)]
    pub async fn open_database(layout: JsValue) -> Result<JsValue, JsValue>;

    /// Deletes a database by name.
    #[wasm_bindgen(js_name = deleteDatabase, catch)]
    pub async fn delete_database(name: &str) -> Result<JsValue, JsValue>;

    /// Applies ops (`{store, put}` / `{store, add}` / `{store, delete}`) in one readwrite transaction.
    #[wasm_bindgen(catch)]
    pub async fn write(db: &JsValue, stores: Array, ops: Array) -> Result<JsValue, JsValue>;

    /// Reads `key` of `store` and calls `modify(existing)` synchronously inside the same readwrite transaction;
    /// `modify` returns the ops to apply (or throws to abort). Resolves with what `modify` returned.
    #[wasm_bindgen(js_name = readModifyWrite, catch)]
    pub async fn read_modify_write(
        db: &JsValue,
        stores: Array,
        store: &str,
        key: &JsValue,
        modify: &Function,
    ) -> Result<JsValue, JsValue>;

    /// One row by key (undefined when missing).
    #[wasm_bindgen(catch)]
    pub async fn get(db: &JsValue, store: &str, key: &JsValue) -> Result<JsValue, JsValue>;

    /// All rows of a store, or of an index within a key range.
    #[wasm_bindgen(js_name = getAll, catch)]
    pub async fn get_all(
        db: &JsValue,
        store: &str,
        index: Option<String>,
        range: JsValue,
        count: Option<u32>,
    ) -> Result<JsValue, JsValue>;

    /// Rows through an index within a range, ascending, as JSON in UTF-8 bytes (see `js/idb.js`).
    #[wasm_bindgen(js_name = getAllJson, catch)]
    pub async fn get_all_json(
        db: &JsValue,
        store: &str,
        index: Option<String>,
        range: JsValue,
        count: Option<u32>,
        skip_keys: Array,
    ) -> Result<JsValue, JsValue>;

    /// As `get_all_json`, resolving `[rowsRead, json, rows]` (rows read before the skip filter); with `columns` (an
    /// array of keys) the JSON holds only those keys of each row and `rows` the rows themselves (for `pick_json`).
    #[wasm_bindgen(js_name = scanJson, catch)]
    pub async fn scan_json(
        db: &JsValue,
        store: &str,
        index: Option<String>,
        range: JsValue,
        count: Option<u32>,
        skip_keys: Array,
        columns: JsValue,
    ) -> Result<JsValue, JsValue>;

    /// The rows of `rows` at `positions`, as JSON in UTF-8 bytes.
    #[wasm_bindgen(js_name = pickJson)]
    pub fn pick_json(rows: &JsValue, positions: Vec<u32>) -> JsValue;

    /// Rows through an index within a range, descending, resuming after `{key, primaryKey}`, as JSON in UTF-8 bytes.
    #[wasm_bindgen(js_name = getAllJsonDesc, catch)]
    pub async fn get_all_json_desc(
        db: &JsValue,
        store: &str,
        index: &str,
        range: JsValue,
        count: u32,
        after: JsValue,
    ) -> Result<JsValue, JsValue>;

    /// Number of rows in a store.
    #[wasm_bindgen(catch)]
    pub async fn count(db: &JsValue, store: &str) -> Result<JsValue, JsValue>;

    /// Store names and their index names.
    #[wasm_bindgen]
    pub fn describe(db: &JsValue) -> JsValue;

    /// `n` random bytes (`crypto.getRandomValues`).
    #[wasm_bindgen(js_name = randomBytes)]
    pub fn random_bytes(n: u32) -> Vec<u8>;

    /// Applies ops in one readwrite transaction without awaiting anything in wasm: the promise resolves with
    /// `result` once the transaction committed, or rejects with `map_error(what, error)`.
    #[wasm_bindgen(js_name = writeAll)]
    pub fn write_all(
        db: &JsValue,
        stores: Array,
        ops: Array,
        result: JsValue,
        what: &str,
        map_error: &Function,
    ) -> js_sys::Promise;

    /// `writeAll` of the offline create in `text` (see `create_text` in mod.rs): returns `[promise, ops]` once the
    /// transaction is opened, the ops placed and the commit asked for.
    #[wasm_bindgen(js_name = writeCreate, catch)]
    pub fn write_create(db: &JsValue, text: &str, what: &str, map_error: &Function) -> Result<Array, JsValue>;

    /// Keeps, in place, the rows of a downloaded page that have a GUID primary id (lower-cased); returns how many.
    #[wasm_bindgen(js_name = keepRows)]
    pub fn keep_rows(rows: &Array, primary_id: &str) -> u32;

    /// Puts plain row objects into `store` plus `extra` ops, in one readwrite transaction over `stores`; with
    /// `release`, `rows` is emptied as the puts are placed (before the commit).
    #[wasm_bindgen(js_name = putRows, catch)]
    pub async fn put_rows(
        db: &JsValue,
        stores: Array,
        store: &str,
        rows: &Array,
        extra: Array,
        release: bool,
    ) -> Result<JsValue, JsValue>;

    /// Rows by key (`[store, id]`) and primary keys by index key (`[store, index, id]`), as JSON text.
    #[wasm_bindgen(catch)]
    pub async fn lookup(db: &JsValue, gets: Array, refs: Array) -> Result<JsValue, JsValue>;

    /// Every row of `store` reduced to `keys`, as JSON text.
    #[wasm_bindgen(js_name = projectAll, catch)]
    pub async fn project_all(db: &JsValue, store: &str, keys: Array) -> Result<JsValue, JsValue>;

    /// Resolves after `ms` milliseconds.
    #[wasm_bindgen]
    pub async fn sleep(ms: f64);

    /// Closes a database connection.
    #[wasm_bindgen(js_name = closeDatabase)]
    pub fn close_database(db: &JsValue);

    /// Every row of `store` reduced to `[primaryKey, ...keys]` and the `meta` stamps from `lower` to `upper`, in one
    /// readonly transaction: `[rowCount, [json (UTF-8 bytes) per chunk of rows], stamps (JSON text)]`.
    #[wasm_bindgen(js_name = loadColumns, catch)]
    pub async fn load_columns(
        db: &JsValue,
        store: &str,
        keys: Array,
        lower: &str,
        upper: &str,
    ) -> Result<JsValue, JsValue>;

    /// The rows of `store` with primary keys `ids` (null when missing) and the `meta` stamps from `lower` to `upper`,
    /// in one readonly transaction: `[json (UTF-8 bytes), stamps (JSON text)]`.
    #[wasm_bindgen(js_name = getRowsStamped, catch)]
    pub async fn get_rows_stamped(
        db: &JsValue,
        store: &str,
        ids: Array,
        lower: &str,
        upper: &str,
    ) -> Result<JsValue, JsValue>;
}

thread_local! {
    /// Random bytes for generated ids, drawn from `crypto.getRandomValues` 64 ids at a time (one call into JS per
    /// 64 creates instead of one per create).
    static RANDOM: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A new random version-4 GUID (lower case).
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    RANDOM.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < 16 {
            *pool = random_bytes(16 * 64);
        }
        let at = pool.len() - 16;
        b.copy_from_slice(&pool[at..]);
        pool.truncate(at);
    });
    crate::store::guid::from_random_bytes(b)
}
