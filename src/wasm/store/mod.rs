//! `OfflineStore`: the IndexedDB-backed offline data store behind `Xrm.WebApi.offline`.
//!
//! Every local write and its outbox entry commit in one IndexedDB transaction (`js/idb.js` `write` /
//! `readModifyWrite`), so a page killed at any moment leaves either both or neither. Reads go through the engine:
//! the query is parsed into a plan, candidate rows are read from IndexedDB and the evaluator decides.

mod access;
pub(crate) mod idb;
mod query;
pub(crate) mod rowcache;

use std::collections::BTreeSet;
use std::rc::Rc;

use crate::read::{self, Fields, Read};
use js_sys::Array;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use super::convert::{self, from_js, object};
use super::error::{bad_argument, to_js as err_js};
use super::promise;
use crate::error::{Error, ErrorCode};
use crate::hooks::{self, HookEntry};
use crate::query::{EvalContext, Row};
use crate::schema::Schema;
use crate::store::layout::{self, table_store, Layout, HOOK_QUEUE, META, OUTBOX};
use crate::store::write::{prepare_create, prepare_update};

/// Options of [`OfflineStore::open`].
struct OpenOptions {
    /// Organisation URL (the database is per organisation).
    org_url: String,
    /// The signed-in user's systemuserid.
    user_id: String,
    /// The profile's id or name.
    profile_id: String,
    /// Logical names of the tables in the profile.
    tables: Vec<String>,
    /// Columns to index per table (from the profile's relationships and filters).
    index_columns: std::collections::HashMap<String, Vec<String>>,
}

impl OpenOptions {
    fn read(v: &Value) -> Read<OpenOptions> {
        let known = ["orgUrl", "userId", "profileId", "tables", "indexColumns"];
        let f = Fields::only(v, "OpenOptions", &known)?;
        let names = |v: &Value| read::list(v, read::string);
        Ok(OpenOptions {
            org_url: f.with("orgUrl", read::string)?,
            user_id: f.with("userId", read::string)?,
            profile_id: f.with("profileId", read::string)?,
            tables: f.with("tables", names)?,
            index_columns: f.or_default("indexColumns", |v| {
                let m = v.as_object().ok_or_else(|| read::invalid(v, "a map"))?;
                m.iter().map(|(k, v)| Ok((k.clone(), names(v)?))).collect()
            })?,
        })
    }
}

pub(crate) struct Inner {
    pub(crate) db: JsValue,
    pub(crate) schema: Schema,
    pub(crate) tables: BTreeSet<String>,
    pub(crate) layout: Layout,
    pub(crate) org_url: String,
    /// The user, teams and business unit the user operators compare with (the clock is read per query).
    pub(crate) user: std::cell::RefCell<EvalContext>,
    /// What the last offline query read (`queryStats()`): counters for the bench and the access-path tests.
    pub(crate) stats: std::cell::Cell<QueryStats>,
    /// The query cache (`rowcache.rs`) and this instance's write stamps.
    pub(crate) caches: rowcache::Caches,
}

/// Counters of one offline query: IndexedDB reads (batches) and the rows they returned.
#[derive(Clone, Copy, Default)]
pub(crate) struct QueryStats {
    pub(crate) batches: u32,
    pub(crate) rows_read: u32,
}

impl QueryStats {
    pub(crate) fn add(self, batches: u32, rows: usize) -> QueryStats {
        QueryStats { batches: self.batches + batches, rows_read: self.rows_read + rows as u32 }
    }
}

/// The offline data store of one (organisation, user, profile).
#[wasm_bindgen]
#[derive(Clone)]
pub struct OfflineStore {
    pub(crate) inner: Rc<Inner>,
}

pub(crate) fn js_err(e: Error) -> JsValue {
    err_js(&e)
}

/// Maps an IndexedDB failure to a typed error ([`crate::store::failure`]): a `ConstraintError` on add is a
/// duplicate id, a quota refusal or a full disk is `StorageFull`.
pub(crate) fn idb_err(what: &str, e: JsValue) -> JsValue {
    let name = js_sys::Reflect::get(&e, &"name".into()).ok().and_then(|n| n.as_string()).unwrap_or_default();
    let msg = js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|n| n.as_string()).unwrap_or_default();
    let code = crate::store::failure::storage_failure_code(&name, &msg);
    let message = match code {
        ErrorCode::DuplicateRecord => format!("{what}: a record with this id already exists"),
        ErrorCode::StorageFull => {
            format!("{what}: the device's storage is full ({msg}); free space and retry, nothing was written")
        }
        _ => format!("{what}: IndexedDB failed: {name}: {msg}"),
    };
    js_err(Error::new(code, message))
}

impl Inner {
    pub(crate) fn require_offline(&self, table: &str) -> Result<(), JsValue> {
        if self.tables.contains(table) {
            return Ok(());
        }
        // The device only knows the profile's tables: anything else, known to the server or not, is not offline.
        Err(js_err(Error::new(
            ErrorCode::TableNotAvailableOffline,
            format!("The table '{table}' is not available offline: add it to the mobile offline profile, or use Xrm.WebApi.online"),
        )))
    }

    fn primary_id(&self, table: &str) -> Result<String, JsValue> {
        Ok(self.schema.require_table(table).map_err(js_err)?.primary_id_attribute.clone())
    }
}

fn outbox_entry(table: &str, id: &str, action: &str, changes: &Row, etag: Option<&Value>) -> Result<JsValue, JsValue> {
    let mut e = json!({
        "table": table,
        "id": id,
        "action": action,
        "changes": changes,
        "queuedOn": js_sys::Date::new_0().to_iso_string().as_string().unwrap_or_default(),
    });
    if let (Some(tag), Some(o)) = (etag, e.as_object_mut()) {
        o.insert("etag".into(), tag.clone());
    }
    convert::to_js(&e)
}

pub(crate) fn op(kind: &str, store: &str, value: &JsValue) -> JsValue {
    object(&[("store", JsValue::from_str(store)), (kind, value.clone())])
}

pub(crate) fn stores(names: &[&str]) -> Array {
    names.iter().map(|n| JsValue::from_str(n)).collect()
}

/// The post-hook entries a write queues (`post_hooks` are the names of the post hooks registered for it), as
/// `add` ops on the hook queue, so they commit in the write's own transaction.
#[allow(clippy::too_many_arguments)]
fn hook_ops(
    post_hooks: &[String],
    table: &str,
    message: &str,
    id: &str,
    record: Value,
    previous: Value,
    depth: u32,
) -> Result<Vec<JsValue>, JsValue> {
    let now = js_sys::Date::now();
    post_hooks
        .iter()
        .map(|name| {
            let e = hooks::post_entry(name, table, message, id, record.clone(), previous.clone(), depth, now);
            Ok(op("add", HOOK_QUEUE, &convert::to_js(&e)?))
        })
        .collect()
}

fn record_ref(table: &str, id: &str) -> JsValue {
    object(&[("entityType", JsValue::from_str(table)), ("id", JsValue::from_str(id))])
}

/// What an offline create writes, as ONE JSON text `{"stores": [...], "ops": [...], "result": {entityType, id},
/// "pk": "<primary id column>"}` (`js/idb.js` `writeCreate` parses it and writes the ops in one transaction): the
/// row, its outbox entry, an entry per post hook and the table's write stamp. One string crosses into JS instead of
/// objects built property by property (each property a call across the boundary), serialized straight from the
/// validated row; the row is in it once: the outbox entry's `changes` (the row without its primary id) and each
/// post-hook entry's `record` (the row) are null here and made from the row by `writeCreate`. Returns the text and
/// the stamp [`rowcache::committed`] needs once the write committed.
fn create_text(
    inner: &Inner,
    table: &str,
    record: JsValue,
    post_hooks: &[String],
    depth: u32,
) -> Result<(String, rowcache::Stamped), JsValue> {
    hooks::check_depth(depth, "createRecord").map_err(js_err)?;
    inner.require_offline(table)?;
    let record = from_js("record", record)?;
    let tables = &inner.tables;
    let w = prepare_create(&inner.schema, table, &record, &idb::new_id(), &|t| tables.contains(t)).map_err(js_err)?;
    let pk = &inner.schema.require_table(table).map_err(js_err)?.primary_id_attribute;
    let store = table_store(table);
    let (stamp, stamped) = rowcache::stamp_json(inner, table);
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{\"stores\":[");
    json(&store, &mut out)?;
    out.extend_from_slice(if post_hooks.is_empty() {
        br#","outbox","meta"],"ops":[{"store":"# as &[u8]
    } else {
        br#","outbox","hookqueue","meta"],"ops":[{"store":"#
    });
    json(&store, &mut out)?;
    out.extend_from_slice(br#","add":"#);
    json(&w.row, &mut out)?;
    // The outbox entry's keys in the order a `serde_json` map keeps them (sorted), as before.
    out.extend_from_slice(br#"},{"store":"outbox","add":{"action":"create","changes":null,"id":"#);
    json(&w.id, &mut out)?;
    out.extend_from_slice(br#","queuedOn":"#);
    json(&iso_now(), &mut out)?;
    out.extend_from_slice(br#","table":"#);
    json(&table, &mut out)?;
    out.extend_from_slice(b"}}");
    if !post_hooks.is_empty() {
        let now = js_sys::Date::now();
        for name in post_hooks {
            let e = hooks::post_entry(name, table, "Create", &w.id, Value::Null, Value::Null, depth, now);
            out.extend_from_slice(br#",{"store":"hookqueue","add":"#);
            json(&e, &mut out)?;
            out.push(b'}');
        }
    }
    out.push(b',');
    out.extend_from_slice(stamp.as_bytes());
    out.extend_from_slice(br#"],"result":{"entityType":"#);
    json(&table, &mut out)?;
    out.extend_from_slice(br#","id":"#);
    json(&w.id, &mut out)?;
    out.extend_from_slice(br#"},"pk":"#);
    json(pk, &mut out)?;
    out.push(b'}');
    // serde_json writes UTF-8, and the literals above are ASCII.
    let text = String::from_utf8(out).map_err(|e| bad_argument("record", e))?;
    Ok((text, stamped))
}

/// Appends `v` as JSON.
fn json<T: serde::Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) -> Result<(), JsValue> {
    serde_json::to_writer(out, v).map_err(|e| bad_argument("record", e))
}

/// Creates a row offline (see [`OfflineStore::create_record`]).
fn create(inner: &Rc<Inner>, table: &str, record: JsValue, post_hooks: &[String], depth: u32) -> js_sys::Promise {
    let (text, stamped) = match create_text(inner, table, record, post_hooks, depth) {
        Ok(p) => p,
        Err(e) => return js_sys::Promise::reject(&e),
    };
    // Opens the transaction, places the ops and commits before it returns: what follows runs while IndexedDB
    // commits.
    let (written, ops) = match idb::write_create(&inner.db, &text, "createRecord", &idb_err_fn()) {
        Ok(w) => (w.get(0).unchecked_into::<js_sys::Promise>(), w.get(1).unchecked_into::<Array>()),
        Err(e) => return js_sys::Promise::reject(&e),
    };
    let inner = inner.clone();
    // Once committed, the query cache takes the row (rowcache.rs).
    let cached = Closure::once(move |v: JsValue| -> JsValue {
        rowcache::committed(&inner, &stamped, &ops, None);
        v
    })
    .into_js_value();
    // `Promise.prototype.then` with a callback whose result is the promise's (js-sys's `then` drops it).
    let then =
        js_sys::Reflect::get(&written, &JsValue::from_str("then")).map(|f| f.unchecked_into::<js_sys::Function>());
    match then.and_then(|f| f.call1(&written, &cached)) {
        Ok(p) => p.unchecked_into(),
        Err(_) => written,
    }
}

/// Now as JavaScript's `Date.prototype.toISOString` writes it, without a `Date` object and its string crossing.
fn iso_now() -> String {
    crate::dates::format_datetime_millis(js_sys::Date::now() as i64)
}

thread_local! {
    /// `idb_err` as a JS function, made once: what `writeAll` calls on a failed transaction.
    static IDB_ERR: Closure<dyn Fn(String, JsValue) -> JsValue> =
        Closure::new(|what: String, e: JsValue| idb_err(&what, e));
}

fn idb_err_fn() -> js_sys::Function {
    IDB_ERR.with(|c| c.as_ref().unchecked_ref::<js_sys::Function>().clone())
}

#[wasm_bindgen]
impl OfflineStore {
    /// Opens (creating or upgrading, keeping rows) the database of `{ orgUrl, userId, profileId, tables,
    /// indexColumns }` over `schema` (EntityDefinitions JSON text).
    #[wasm_bindgen(js_name = open, unchecked_return_type = "Promise<OfflineStore>")]
    pub fn open_js(options: JsValue, schema: String) -> js_sys::Promise {
        promise(async move { Self::open(options, schema).await.map(JsValue::from) })
    }

    /// Sets who the user operators (`eq-userid`, `eq-userteams`, `eq-businessid`...) compare with.
    #[wasm_bindgen(js_name = setUser)]
    pub fn set_user(
        &self,
        user_id: String,
        #[wasm_bindgen(unchecked_param_type = "string[]")] team_ids: JsValue,
        business_unit_id: Option<String>,
    ) -> Result<(), JsValue> {
        let team_ids = convert::texts("teamIds", &team_ids)?;
        let mut u = self.inner.user.borrow_mut();
        u.user_id = Some(user_id.to_ascii_lowercase());
        u.team_ids = team_ids.iter().map(|t| t.to_ascii_lowercase()).collect();
        u.business_unit_id = business_unit_id.map(|b| b.to_ascii_lowercase());
        Ok(())
    }

    /// The database name (one per organisation, user and profile).
    #[wasm_bindgen(getter, unchecked_return_type = "string")]
    pub fn name(&self) -> JsValue {
        JsValue::from_str(&self.inner.layout.name)
    }

    /// Store names and their indexes, as the database has them.
    pub fn describe(&self) -> JsValue {
        idb::describe(&self.inner.db)
    }

    /// Whether `table` is in the offline profile (`Xrm.WebApi.offline.isAvailableOffline`).
    #[wasm_bindgen(js_name = isAvailableOffline)]
    pub fn is_available_offline(&self, table: &str) -> bool {
        self.inner.tables.contains(table)
    }

    /// Creates a row offline; the row, its outbox entry and an entry per post hook in `post_hooks` (names) commit
    /// together. `depth` is how deep in a chain of hook-made writes this one is (0: the user's). Resolves
    /// `{ entityType, id }`.
    ///
    /// Not an `async fn`: the checks and the ops are made synchronously and the transaction is opened before this
    /// returns, and the promise is JS's own (`writeCreate`), so no wasm future is polled or woken for a create (that
    /// machinery and the JS objects built one by one were a third of a create's time; docs/PERFORMANCE.md). The
    /// whole write crosses as one JSON text ([`create_text`]).
    #[wasm_bindgen(js_name = createRecord)]
    pub fn create_record(
        &self,
        table: String,
        record: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string[] | null")] post_hooks: JsValue,
        depth: Option<u32>,
    ) -> js_sys::Promise {
        match convert::texts("postHooks", &post_hooks) {
            Ok(hooks) => create(&self.inner, &table, record, &hooks, depth.unwrap_or(0)),
            Err(e) => js_sys::Promise::reject(&e),
        }
    }

    /// Updates a row offline (it must exist locally); only changed columns are queued, with an entry per post hook
    /// in `post_hooks` when something changed (same transaction). Resolves `{ entityType, id }`.
    #[wasm_bindgen(js_name = updateRecord, unchecked_return_type = "Promise<any>")]
    pub fn update_record_js(
        &self,
        table: String,
        id: String,
        record: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string[] | null")] post_hooks: JsValue,
        depth: Option<u32>,
    ) -> js_sys::Promise {
        let s = self.clone();
        promise(async move {
            let hooks = convert::texts("postHooks", &post_hooks)?;
            s.update_record(table, id, record, Some(hooks), depth).await
        })
    }

    /// Deletes a row offline (it must exist locally) and queues the delete, with an entry per post hook in
    /// `post_hooks` (same transaction). Resolves `{ entityType, id }`.
    #[wasm_bindgen(js_name = deleteRecord, unchecked_return_type = "Promise<any>")]
    pub fn delete_record_js(
        &self,
        table: String,
        id: String,
        #[wasm_bindgen(unchecked_param_type = "string[] | null")] post_hooks: JsValue,
        depth: Option<u32>,
    ) -> js_sys::Promise {
        let s = self.clone();
        promise(async move {
            let hooks = convert::texts("postHooks", &post_hooks)?;
            s.delete_record(table, id, Some(hooks), depth).await
        })
    }

    /// Reads one row offline; `options` may hold `$select` and `$expand`. Rejects with "Record Not Found" when the
    /// row is not in the store.
    #[wasm_bindgen(js_name = retrieveRecord, unchecked_return_type = "Promise<any>")]
    pub fn retrieve_record_js(&self, table: String, id: String, options: Option<String>) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.retrieve_record(table, id, options).await })
    }

    /// Queries rows offline with OData options or `?fetchXml=`; resolves `{ entities, nextLink? }`.
    #[wasm_bindgen(js_name = retrieveMultipleRecords, unchecked_return_type = "Promise<any>")]
    pub fn retrieve_multiple_records_js(
        &self,
        table: String,
        options: Option<String>,
        max_page_size: Option<u32>,
    ) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.retrieve_multiple_records(table, options, max_page_size).await })
    }

    /// What the last `retrieveMultipleRecords` read from IndexedDB: `{ batches, rowsRead }` (requests and the rows
    /// they returned), so the bench and the tests can see an access path at work.
    #[wasm_bindgen(js_name = queryStats)]
    pub fn query_stats(&self) -> JsValue {
        let s = self.inner.stats.get();
        let (rows, bytes) = self.inner.caches.size();
        object(&[
            ("batches", JsValue::from(s.batches)),
            ("rowsRead", JsValue::from(s.rows_read)),
            ("cachedRows", JsValue::from(rows as u32)),
            ("cacheBytes", JsValue::from(bytes as u32)),
        ])
    }

    /// Turns the query cache (docs/QUERY.md "Query cache") on or off for this store instance (on by default; the
    /// tests compare the IndexedDB paths with it).
    #[wasm_bindgen(js_name = setQueryCache)]
    pub fn set_query_cache(&self, on: bool) {
        self.inner.caches.enabled.set(on);
    }

    /// The queued offline changes, in upload order.
    #[wasm_bindgen(js_name = outbox, unchecked_return_type = "Promise<any>")]
    pub fn outbox_js(&self) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.outbox().await })
    }

    /// Number of rows stored for `table`.
    #[wasm_bindgen(js_name = countRows, unchecked_return_type = "Promise<number>")]
    pub fn count_rows_js(&self, table: String) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.count_rows(table).await.map(JsValue::from) })
    }

    /// Writes rows as the server sent them (no outbox entry): used by sync and by tests that seed a store.
    #[wasm_bindgen(js_name = putServerRows, unchecked_return_type = "Promise<void>")]
    pub fn put_server_rows_js(&self, table: String, rows: Array) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.put_server_rows(table, rows).await.map(|()| JsValue::UNDEFINED) })
    }

    /// Stores a metadata value (cached schema and profile, sync state) under `key`.
    #[wasm_bindgen(js_name = putMeta, unchecked_return_type = "Promise<void>")]
    pub fn put_meta_js(&self, key: String, value: JsValue) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.put_meta(key, value).await.map(|()| JsValue::UNDEFINED) })
    }

    /// The metadata value stored under `key`, or undefined.
    #[wasm_bindgen(js_name = getMeta, unchecked_return_type = "Promise<any>")]
    pub fn get_meta_js(&self, key: String) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.get_meta(key).await })
    }

    /// Every entry of the hook queue (post hooks and online work, dead ones included), in queue order.
    #[wasm_bindgen(js_name = hookQueue, unchecked_return_type = "Promise<any>")]
    pub fn hook_queue_js(&self) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.hook_queue().await })
    }

    /// One hook-queue entry by `seq`, or undefined.
    #[wasm_bindgen(js_name = hookEntry, unchecked_return_type = "Promise<any>")]
    pub fn hook_entry_js(&self, seq: f64) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.hook_entry(seq).await })
    }

    /// Stores a hook-queue entry back (after a failed run, a retry), checked against the entry model.
    #[wasm_bindgen(js_name = putHookEntry, unchecked_return_type = "Promise<void>")]
    pub fn put_hook_entry_js(&self, entry: JsValue) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.put_hook_entry(entry).await.map(|()| JsValue::UNDEFINED) })
    }

    /// Removes a hook-queue entry (it ran, or was discarded).
    #[wasm_bindgen(js_name = deleteHookEntry, unchecked_return_type = "Promise<void>")]
    pub fn delete_hook_entry_js(&self, seq: f64) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.delete_hook_entry(seq).await.map(|()| JsValue::UNDEFINED) })
    }

    /// Queues online-only work `request` (`{method, path, body?, headers?}`, named `name`) behind every change in
    /// the outbox now: it runs once they have all been uploaded. Resolves with the entry's `seq`.
    #[wasm_bindgen(js_name = enqueueOnline, unchecked_return_type = "Promise<number>")]
    pub fn enqueue_online_js(&self, name: String, request: JsValue) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.enqueue_online(name, request).await.map(JsValue::from) })
    }

    /// The smallest `seq` left in the outbox (undefined when it is empty).
    #[wasm_bindgen(js_name = minOutboxSeq, unchecked_return_type = "Promise<number | undefined>")]
    pub fn min_outbox_seq_js(&self) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.min_outbox_seq().await.map(JsValue::from) })
    }

    /// Closes the connection (the database stays).
    pub fn close(&self) {
        idb::close_database(&self.inner.db);
    }

    /// Deletes this store's database (sign-out). The store can't be used afterwards.
    #[wasm_bindgen(js_name = deleteDatabase, unchecked_return_type = "Promise<void>")]
    pub fn delete_database_js(&self) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.delete_database().await.map(|()| JsValue::UNDEFINED) })
    }
}

/// The async bodies of the exported methods above (each export wraps one in [`promise`]).
impl OfflineStore {
    /// Opens (creating or upgrading, keeping rows) the database of `{ orgUrl, userId, profileId, tables,
    /// indexColumns }` over `schema` (EntityDefinitions JSON text).
    pub async fn open(options: JsValue, schema: String) -> Result<OfflineStore, JsValue> {
        let o = crate::wasm::convert::from_js("open options", options)?;
        let o = OpenOptions::read(&o).map_err(|e| bad_argument("open options", e))?;
        let schema = Schema::from_json(&schema).map_err(js_err)?;
        let mut tables = BTreeSet::new();
        for t in &o.tables {
            let def = schema.require_table(t).map_err(js_err)?;
            if !def.is_available_offline {
                return Err(js_err(Error::new(
                    ErrorCode::TableNotAvailableOffline,
                    format!("the table '{t}' can't be used offline (IsAvailableOffline is false)"),
                )));
            }
            tables.insert(def.logical_name.clone());
        }
        let name = layout::database_name(&o.org_url, &o.user_id, &o.profile_id);
        let table_list: Vec<String> = tables.iter().cloned().collect();
        let index_columns = o.index_columns;
        let layout =
            layout::layout(&schema, &name, &table_list, &|t| index_columns.get(t).cloned().unwrap_or_default());
        let db = idb::open_database(convert::to_js(&layout)?).await.map_err(|e| idb_err("open", e))?;
        let user = std::cell::RefCell::new(EvalContext::default());
        Ok(OfflineStore {
            inner: Rc::new(Inner {
                db,
                schema,
                tables,
                layout,
                org_url: o.org_url,
                user,
                stats: Default::default(),
                caches: rowcache::Caches::new(),
            }),
        })
    }

    /// Updates a row offline (it must exist locally); only changed columns are queued, with an entry per post hook
    /// in `post_hooks` when something changed (same transaction). Resolves `{ entityType, id }`.
    pub async fn update_record(
        &self,
        table: String,
        id: String,
        record: JsValue,
        post_hooks: Option<Vec<String>>,
        depth: Option<u32>,
    ) -> Result<JsValue, JsValue> {
        let inner = self.inner.clone();
        let depth = depth.unwrap_or(0);
        hooks::check_depth(depth, "updateRecord").map_err(js_err)?;
        inner.require_offline(&table)?;
        let key = normalize_id(&id)?;
        let record = from_js("record", record)?;
        let (inner2, table2) = (inner.clone(), table.clone());
        let post_hooks = post_hooks.unwrap_or_default();
        let with_hooks = !post_hooks.is_empty();
        modify_row(&inner, &table, &key, "updateRecord", with_hooks, move |existing| {
            let tables = &inner2.tables;
            let w =
                prepare_update(&inner2.schema, &table2, &existing, &record, &|t| tables.contains(t)).map_err(js_err)?;
            let ops = Array::new();
            if !w.changes.is_empty() {
                ops.push(&op("put", &table_store(&table2), &convert::to_js(&w.row)?));
                let entry = outbox_entry(&table2, &w.id, "update", &w.changes, existing.get("@odata.etag"))?;
                ops.push(&op("add", OUTBOX, &entry));
                let (row, before) = (Value::Object(w.row.clone()), Value::Object(existing.clone()));
                for o in hook_ops(&post_hooks, &table2, "Update", &w.id, row, before, depth)? {
                    ops.push(&o);
                }
            }
            Ok(ops)
        })
        .await?;
        Ok(record_ref(&table, &key))
    }

    /// Deletes a row offline (it must exist locally) and queues the delete, with an entry per post hook in
    /// `post_hooks` (same transaction). Resolves `{ entityType, id }`.
    pub async fn delete_record(
        &self,
        table: String,
        id: String,
        post_hooks: Option<Vec<String>>,
        depth: Option<u32>,
    ) -> Result<JsValue, JsValue> {
        let inner = self.inner.clone();
        let depth = depth.unwrap_or(0);
        hooks::check_depth(depth, "deleteRecord").map_err(js_err)?;
        inner.require_offline(&table)?;
        let key = normalize_id(&id)?;
        let (table2, key2) = (table.clone(), key.clone());
        let post_hooks = post_hooks.unwrap_or_default();
        let with_hooks = !post_hooks.is_empty();
        modify_row(&inner, &table, &key, "deleteRecord", with_hooks, move |existing| {
            let entry = outbox_entry(&table2, &key2, "delete", &Row::new(), existing.get("@odata.etag"))?;
            let ops: Array =
                [op("delete", &table_store(&table2), &JsValue::from_str(&key2)), op("add", OUTBOX, &entry)]
                    .into_iter()
                    .collect();
            for o in hook_ops(&post_hooks, &table2, "Delete", &key2, Value::Null, Value::Object(existing), depth)? {
                ops.push(&o);
            }
            Ok(ops)
        })
        .await?;
        Ok(record_ref(&table, &key))
    }

    /// Reads one row offline; `options` may hold `$select` and `$expand`. Rejects with "Record Not Found" when the
    /// row is not in the store.
    pub async fn retrieve_record(
        &self,
        table: String,
        id: String,
        options: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let inner = self.inner.clone();
        inner.require_offline(&table)?;
        let key = normalize_id(&id)?;
        let ctx = context(&inner);
        query::retrieve_record(&inner, &table, &key, options.as_deref().unwrap_or(""), &ctx).await
    }

    /// Queries rows offline with OData options or `?fetchXml=`; resolves `{ entities, nextLink? }`.
    pub async fn retrieve_multiple_records(
        &self,
        table: String,
        options: Option<String>,
        max_page_size: Option<u32>,
    ) -> Result<JsValue, JsValue> {
        let inner = self.inner.clone();
        inner.require_offline(&table)?;
        let size = max_page_size.unwrap_or(5000);
        if size == 0 {
            return Err(bad_argument("maxPageSize", "must be a positive number"));
        }
        let ctx = context(&inner);
        query::retrieve_multiple(&inner, &table, options.as_deref().unwrap_or(""), size, &ctx).await
    }

    /// The queued offline changes, in upload order.
    pub async fn outbox(&self) -> Result<JsValue, JsValue> {
        idb::get_all(&self.inner.db, OUTBOX, None, JsValue::UNDEFINED, None).await.map_err(|e| idb_err("outbox", e))
    }

    /// Number of rows stored for `table`.
    pub async fn count_rows(&self, table: String) -> Result<u32, JsValue> {
        self.inner.require_offline(&table)?;
        let n = idb::count(&self.inner.db, &table_store(&table)).await.map_err(|e| idb_err("count", e))?;
        Ok(n.as_f64().unwrap_or(0.0) as u32)
    }

    /// Writes rows as the server sent them (no outbox entry): used by sync and by tests that seed a store.
    pub async fn put_server_rows(&self, table: String, rows: Array) -> Result<(), JsValue> {
        let inner = self.inner.clone();
        inner.require_offline(&table)?;
        let id_attr = inner.primary_id(&table)?;
        let store = table_store(&table);
        let ops = Array::new();
        for row in rows.iter() {
            let id = js_sys::Reflect::get(&row, &JsValue::from_str(&id_attr)).ok().and_then(|v| v.as_string());
            let Some(g) = id.as_deref().and_then(crate::store::guid::normalize) else {
                return Err(bad_argument("row", format!("every '{table}' row needs '{id_attr}' as a GUID")));
            };
            let _ = js_sys::Reflect::set(&row, &JsValue::from_str(&id_attr), &JsValue::from_str(&g));
            ops.push(&op("put", &store, &row));
        }
        // Rows stored outside a sync: the next sync pass evaluates the scope over the whole store (docs/SYNC.md).
        let dirty = object(&[("key", JsValue::from_str("scopeDirty")), ("value", JsValue::TRUE)]);
        ops.push(&op("put", META, &dirty));
        rowcache::write(&inner, &[&store, META], ops).await.map_err(|e| idb_err("putServerRows", e))?;
        Ok(())
    }

    /// Stores a metadata value (cached schema and profile, sync state) under `key`.
    pub async fn put_meta(&self, key: String, value: JsValue) -> Result<(), JsValue> {
        let entry = object(&[("key", JsValue::from_str(&key)), ("value", value)]);
        let ops: Array = [op("put", META, &entry)].into_iter().collect();
        idb::write(&self.inner.db, stores(&[META]), ops).await.map_err(|e| idb_err("putMeta", e))?;
        Ok(())
    }

    /// The metadata value stored under `key`, or undefined.
    pub async fn get_meta(&self, key: String) -> Result<JsValue, JsValue> {
        let entry =
            idb::get(&self.inner.db, META, &JsValue::from_str(&key)).await.map_err(|e| idb_err("getMeta", e))?;
        if entry.is_undefined() {
            return Ok(JsValue::UNDEFINED);
        }
        Ok(js_sys::Reflect::get(&entry, &"value".into()).unwrap_or(JsValue::UNDEFINED))
    }

    /// Every entry of the hook queue (post hooks and online work, dead ones included), in queue order.
    pub async fn hook_queue(&self) -> Result<JsValue, JsValue> {
        idb::get_all(&self.inner.db, HOOK_QUEUE, None, JsValue::UNDEFINED, None)
            .await
            .map_err(|e| idb_err("hookQueue", e))
    }

    /// One hook-queue entry by `seq`, or undefined.
    pub async fn hook_entry(&self, seq: f64) -> Result<JsValue, JsValue> {
        idb::get(&self.inner.db, HOOK_QUEUE, &JsValue::from_f64(seq)).await.map_err(|e| idb_err("hookEntry", e))
    }

    /// Stores a hook-queue entry back (after a failed run, a retry), checked against the entry model.
    pub async fn put_hook_entry(&self, entry: JsValue) -> Result<(), JsValue> {
        let e = crate::wasm::convert::read(entry, HookEntry::read).map_err(|e| bad_argument("hook entry", e))?;
        if e.seq.is_none() {
            return Err(bad_argument("hook entry", "has no seq (entries are queued by the writes and enqueueOnline)"));
        }
        let ops: Array = [op("put", HOOK_QUEUE, &convert::to_js(&e)?)].into_iter().collect();
        idb::write(&self.inner.db, stores(&[HOOK_QUEUE]), ops).await.map_err(|e| idb_err("putHookEntry", e))?;
        Ok(())
    }

    /// Removes a hook-queue entry (it ran, or was discarded).
    pub async fn delete_hook_entry(&self, seq: f64) -> Result<(), JsValue> {
        let ops: Array = [op("delete", HOOK_QUEUE, &JsValue::from_f64(seq))].into_iter().collect();
        idb::write(&self.inner.db, stores(&[HOOK_QUEUE]), ops).await.map_err(|e| idb_err("deleteHookEntry", e))?;
        Ok(())
    }

    /// Queues online-only work `request` (`{method, path, body?, headers?}`, named `name`) behind every change in
    /// the outbox now: it runs once they have all been uploaded. Resolves with the entry's `seq`.
    pub async fn enqueue_online(&self, name: String, request: JsValue) -> Result<f64, JsValue> {
        let request = from_js("request", request)?;
        let after = self.max_outbox_seq().await?.unwrap_or(0.0) as u64;
        let e = hooks::online_entry(&name, request, after, js_sys::Date::now());
        let ops: Array = [op("add", HOOK_QUEUE, &convert::to_js(&e)?)].into_iter().collect();
        let keys =
            idb::write(&self.inner.db, stores(&[HOOK_QUEUE]), ops).await.map_err(|e| idb_err("enqueueOnline", e))?;
        Ok(Array::from(&keys).get(0).as_f64().unwrap_or(0.0))
    }

    /// The smallest `seq` left in the outbox (undefined when it is empty).
    pub async fn min_outbox_seq(&self) -> Result<Option<f64>, JsValue> {
        let first = idb::get_all(&self.inner.db, OUTBOX, None, JsValue::UNDEFINED, Some(1))
            .await
            .map_err(|e| idb_err("outbox", e))?;
        Ok(seq_of(&Array::from(&first).get(0)))
    }

    /// Deletes this store's database (sign-out). The store can't be used afterwards.
    pub async fn delete_database(&self) -> Result<(), JsValue> {
        idb::close_database(&self.inner.db);
        idb::delete_database(&self.inner.layout.name).await.map_err(|e| idb_err("deleteDatabase", e))?;
        Ok(())
    }
}

/// Reads row `key` of `table` and applies the ops `decide(existing row)` returns in the SAME readwrite transaction
/// over the table and the outbox, so the check and the write can't interleave with another writer. `decide` runs
/// inside the transaction, synchronously. A missing row is "Record Not Found"; an error from `decide` aborts the
/// transaction and is returned as it is.
async fn modify_row(
    inner: &Inner,
    table: &str,
    key: &str,
    what: &str,
    with_hooks: bool,
    mut decide: impl FnMut(Row) -> Result<Array, JsValue> + 'static,
) -> Result<(), JsValue> {
    let (table2, key2) = (table.to_string(), key.to_string());
    let store = table_store(table);
    let mut names = vec![store.as_str(), OUTBOX];
    if with_hooks {
        names.push(HOOK_QUEUE);
    }
    modify_row_in(inner, &names, table, key, what, move |existing| match existing {
        Some(row) => decide(row),
        None => Err(not_found(&table2, &key2)),
    })
    .await
}

/// As [`modify_row`] over the stores `names` (which must include the table's), with `decide` told whether the row
/// exists (`None` when it does not). Used by the sync engine too (etags after an upload, reverts).
pub(crate) async fn modify_row_in(
    inner: &Inner,
    names: &[&str],
    table: &str,
    key: &str,
    what: &str,
    mut decide: impl FnMut(Option<Row>) -> Result<Array, JsValue> + 'static,
) -> Result<(), JsValue> {
    let store = table_store(table);
    let failure: Rc<std::cell::RefCell<Option<JsValue>>> = Rc::default();
    let failure2 = failure.clone();
    // The table's write stamp (rowcache.rs) commits with the ops; the ops are kept for the cache.
    let (stamp, stamped) = rowcache::stamp_ops(inner, [table]);
    let written: Rc<std::cell::RefCell<Option<Array>>> = Rc::default();
    let written2 = written.clone();
    let mut names = names.to_vec();
    if !names.contains(&META) {
        names.push(META);
    }
    let modify = Closure::<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>::new(move |existing: JsValue| {
        let mut run = |existing: JsValue| -> Result<JsValue, JsValue> {
            let row = if existing.is_undefined() {
                None
            } else {
                let Value::Object(row) = from_js("stored row", existing)? else {
                    return Err(bad_argument("stored row", "not an object"));
                };
                Some(row)
            };
            let ops = decide(row)?;
            if ops.length() > 0 {
                *written2.borrow_mut() = Some(ops.clone());
                let all: Array = ops.iter().chain(stamp.iter().cloned()).collect();
                return Ok(object(&[("ops", all.into()), ("result", JsValue::NULL)]));
            }
            Ok(object(&[("ops", ops.into()), ("result", JsValue::NULL)]))
        };
        run(existing).inspect_err(|e| *failure2.borrow_mut() = Some(e.clone()))
    });
    let result = idb::read_modify_write(
        &inner.db,
        stores(&names),
        &store,
        &JsValue::from_str(key),
        modify.as_ref().unchecked_ref(),
    )
    .await;
    drop(modify);
    if let (Ok(_), Some(ops)) = (&result, written.borrow_mut().take()) {
        rowcache::committed(inner, &stamped, &ops, None);
    }
    // A failure raised by `decide` (typed) wins over the transaction's abort error it caused.
    result.map(|_| ()).map_err(|e| failure.borrow_mut().take().unwrap_or_else(|| idb_err(what, e)))
}

impl OfflineStore {
    async fn max_outbox_seq(&self) -> Result<Option<f64>, JsValue> {
        let all = idb::get_all(&self.inner.db, OUTBOX, None, JsValue::UNDEFINED, None)
            .await
            .map_err(|e| idb_err("outbox", e))?;
        Ok(Array::from(&all).iter().filter_map(|e| seq_of(&e)).reduce(f64::max))
    }
}

fn seq_of(entry: &JsValue) -> Option<f64> {
    if entry.is_undefined() {
        return None;
    }
    js_sys::Reflect::get(entry, &"seq".into()).ok().and_then(|s| s.as_f64())
}

fn normalize_id(id: &str) -> Result<String, JsValue> {
    crate::store::guid::normalize(id).ok_or_else(|| bad_argument("id", format!("'{id}' is not a GUID")))
}

pub(crate) fn not_found(table: &str, id: &str) -> JsValue {
    js_err(Error::new(ErrorCode::RecordNotFound, format!("{table} With Id = {id} Does Not Exist")))
}

/// The user's context with the device clock and time zone read now.
pub(crate) fn context(inner: &Inner) -> EvalContext {
    let now = js_sys::Date::new_0();
    EvalContext {
        now_ms: now.get_time() as i64,
        utc_offset_minutes: -(now.get_timezone_offset() as i32),
        ..inner.user.borrow().clone()
    }
}
