//! `SyncEngine`: drives the sans-IO sync core ([`crate::sync`]) against IndexedDB and the server.
//!
//! The core decides; this host does the I/O, following docs/SYNC.md "Driving it from a host": upload the outbox,
//! run (or resume) the first sync table by table with each page and its checkpoint in one transaction, then the
//! incremental sync from the delta links, the window refreshes and the local eviction. Timers, Web Locks and the
//! network state live in `js/sync.js`; this runs one pass when asked.

mod first;
mod mirror;
mod transport;
mod upload;

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::read::{self, Fields, Read};
use js_sys::{Array, Function};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use self::mirror::{Local, Projection};
use self::transport::{SendError, Transport};
use super::convert::{self, from_js};
use super::error::bad_argument;
use super::promise;
use super::store::{context, idb, idb_err, js_err, op, rowcache, stores, Inner, OfflineStore};
use crate::error::{Error, ErrorCode};
use crate::profile::Profile;
use crate::query::EvalContext;
use crate::store::layout::{profile_index_columns, table_store, META};
use crate::sync::{track_changes_request, Changes, Checkpoint, ConflictPolicy, Cursor, FollowUp, SyncPlan};

/// Rows per page the engine asks for.
const DEFAULT_PAGE_SIZE: u32 = 1000;
/// Meta key: `true` while rows a pass wrote may leave rows outside the scope that only a walk over the whole store
/// finds (a pass interrupted before its eviction, an upload of offline changes); the next pass then evicts over the
/// whole store (docs/SYNC.md "Eviction").
const SCOPE_DIRTY: &str = "scopeDirty";
/// Lookup rounds per decision (each reads what the previous one asked).
const MAX_LOOKUP_ROUNDS: usize = 64;
/// Follow-up rounds per settle, a guard against a server that keeps answering with new related rows.
const MAX_FOLLOW_UP_ROUNDS: usize = 64;

struct EngineOptions {
    conflict_policy: Option<String>,
    page_size: Option<u32>,
}

impl EngineOptions {
    fn read(v: &Value) -> Read<EngineOptions> {
        let f = Fields::of(v, "EngineOptions")?;
        Ok(EngineOptions {
            conflict_policy: f.opt("conflictPolicy", read::string)?,
            page_size: f.opt("pageSize", read::u32)?,
        })
    }
}

pub(crate) struct SyncInner {
    store: Rc<Inner>,
    plan: SyncPlan,
    projection: Projection,
    transport: Transport,
    policy: ConflictPolicy,
    resolver: Option<Function>,
    progress: Option<Function>,
    page_size: u32,
    running: Cell<bool>,
}

/// The sync engine of one offline store.
#[wasm_bindgen]
#[derive(Clone)]
pub struct SyncEngine {
    inner: Rc<SyncInner>,
}

/// What one pass did, for the status and the tests.
#[derive(Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    first_sync_complete: bool,
    uploaded: u64,
    rejected: u64,
    conflicts: u64,
    downloaded: u64,
    deleted: u64,
    evicted: u64,
    requests: u64,
    bytes: u64,
    /// Rows read from the store to answer the sync core (lean passes), and in how many rounds.
    rows_read: u64,
    lookup_rounds: u64,
    /// Whether the pass evaluated the scope over the whole store (`"store"`) or only among its changes
    /// (`"changes"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    eviction: Option<&'static str>,
    /// How many changed rows the eviction started from (lean passes).
    #[serde(skip_serializing_if = "Option::is_none")]
    scope_checked: Option<u64>,
    /// Set when the pass stopped on a transient failure: retry after this many milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped: Option<String>,
}

fn err(e: Error) -> JsValue {
    js_err(e)
}

impl SyncInner {
    fn ctx(&self) -> EvalContext {
        context(&self.store)
    }

    fn emit(&self, value: Value) {
        if let Some(f) = &self.progress {
            if let Ok(v) = convert::to_js(&value) {
                let _ = f.call1(&JsValue::NULL, &v);
            }
        }
    }

    async fn meta_get(&self, key: &str) -> Result<Option<Value>, JsValue> {
        let entry = idb::get(&self.store.db, META, &JsValue::from_str(key)).await.map_err(|e| idb_err("sync", e))?;
        if entry.is_undefined() {
            return Ok(None);
        }
        let v = js_sys::Reflect::get(&entry, &"value".into()).unwrap_or(JsValue::UNDEFINED);
        Ok(Some(from_js("meta", v)?))
    }

    fn meta_op(key: &str, value: &Value) -> Result<JsValue, JsValue> {
        Ok(op("put", META, &convert::to_js(&json!({ "key": key, "value": value }))?))
    }

    /// Marks the scope dirty (the next pass evicts over the whole store) in its own transaction.
    async fn mark_dirty(&self) -> Result<(), JsValue> {
        let ops: Array = [SyncInner::meta_op(SCOPE_DIRTY, &Value::Bool(true))?].into_iter().collect();
        idb::write(&self.store.db, stores(&[META]), ops).await.map_err(|e| idb_err("sync", e))?;
        Ok(())
    }

    async fn checkpoint(&self, table: &str) -> Result<Checkpoint, JsValue> {
        match self.meta_get(&format!("checkpoint:{table}")).await? {
            Some(Value::String(s)) => Checkpoint::from_json(&s).map_err(err),
            _ => Ok(Checkpoint::new(table)),
        }
    }

    /// Stores the puts and deletes of `changes` (and `extra` ops, such as a checkpoint, on the stores
    /// `extra_stores`) in ONE transaction, then mirrors them. The rows written are remembered for the eviction at
    /// the end of the pass (with the rows their old values brought into the scope), and the first such write of a
    /// pass marks the scope dirty in the same transaction (cleared by the eviction: a pass interrupted in between
    /// leaves it set, and the next pass re-evaluates the whole store).
    pub(super) async fn store_changes(
        &self,
        pass: &mut Pass,
        changes: &Changes,
        extra: Vec<JsValue>,
        extra_stores: &[&str],
    ) -> Result<(), JsValue> {
        self.write_changes(pass, changes, extra, extra_stores, true, None).await
    }

    async fn write_changes(
        &self,
        pass: &mut Pass,
        changes: &Changes,
        mut extra: Vec<JsValue>,
        extra_stores: &[&str],
        track: bool,
        stage: Option<&mut Staged>,
    ) -> Result<(), JsValue> {
        let mut names: Vec<String> = extra_stores.iter().map(|s| s.to_string()).collect();
        let touches = !changes.puts.is_empty() || !changes.deletes.is_empty();
        if track && touches {
            // The old rows: what they brought into the scope may leave it.
            pass.local.ask_old_rows(changes);
            if pass.local.has_misses() {
                pass.local.resolve(&self.store, &self.plan, &self.projection).await?;
            }
            let puts = changes.puts.iter().map(|p| (&p.table, &p.id));
            for (t, id) in puts.chain(changes.deletes.iter().map(|d| (&d.table, &d.id))) {
                if let Some(old) = crate::sync::LocalRows::get(&pass.local, t, id) {
                    pass.seeds.extend(self.plan.scope_dependents(t, old));
                }
                pass.seeds.push(crate::sync::RowRef { table: t.clone(), id: id.clone() });
            }
            if !pass.dirty_marked {
                extra.push(SyncInner::meta_op(SCOPE_DIRTY, &Value::Bool(true))?);
                names.push(META.to_string());
                pass.dirty_marked = true;
            }
        }
        let mut staged = Staged { ops: Array::new(), names };
        staged.add(changes)?;
        for e in extra {
            staged.ops.push(&e);
        }
        if let Some(into) = stage {
            // Written later with the rest (settle): mirrored now, so the core's next decisions see these rows.
            into.names.append(&mut staged.names);
            for o in staged.ops.iter() {
                into.ops.push(&o);
            }
            pass.local.apply(&self.projection, changes);
            return Ok(());
        }
        self.write_staged(staged).await?;
        pass.local.apply(&self.projection, changes);
        Ok(())
    }

    /// Writes staged operations in ONE transaction (nothing when there are none).
    async fn write_staged(&self, mut staged: Staged) -> Result<(), JsValue> {
        if staged.ops.length() == 0 {
            return Ok(());
        }
        crate::sort::sort_dedup(&mut staged.names);
        let refs: Vec<&str> = staged.names.iter().map(String::as_str).collect();
        rowcache::write(&self.store, &refs, staged.ops).await.map_err(|e| idb_err("sync: storing rows", e))?;
        Ok(())
    }

    /// Runs `decide` over the pass's local rows until it asks nothing the lean form has not read (each round reads
    /// the misses of the previous one from IndexedDB in one transaction).
    async fn ask<T>(&self, pass: &mut Pass, decide: impl Fn(&Local) -> Result<T, Error>) -> Result<T, SendError> {
        for _ in 0..MAX_LOOKUP_ROUNDS {
            let out = decide(&pass.local).map_err(failed)?;
            if !pass.local.has_misses() {
                return Ok(out);
            }
            pass.local.resolve(&self.store, &self.plan, &self.projection).await.map_err(store_failed)?;
            pass.lookups += 1;
        }
        Err(failed(Error::new(ErrorCode::StorageError, "sync: the local rows kept asking for more rows")))
    }

    /// The whole store in memory (the full form), for what only a walk over every row answers.
    async fn make_full(&self, pass: &mut Pass) -> Result<(), JsValue> {
        if matches!(pass.local, Local::Lean(_)) {
            pass.local = Local::Full(mirror::load(&self.store, &self.plan, &self.projection).await?);
        }
        Ok(())
    }

    /// Runs the follow-ups of `changes` page by page, applying what they bring, until none is left; then stores
    /// `changes` and everything the follow-ups brought in ONE transaction. A row that entered the scope (a booking
    /// handed to this user) is stored together with the rows its entry brings (its work order, that work order's
    /// lines): the core asks for a row's children only when the row enters, so storing the row first and its
    /// children later would leave a hole after an interruption (a crash, a reload, a lost network), because the
    /// delta read again from the old link finds the row present and does not ask again. The pass's local rows are
    /// updated as the follow-ups run (the core's decisions see the rows already brought).
    async fn settle(&self, pass: &mut Pass, changes: Changes, report: &mut Report) -> Result<(), SendError> {
        let mut pending: Vec<FollowUp> = changes.follow_ups.clone();
        report.downloaded += changes.puts.len() as u64;
        report.deleted += changes.deletes.len() as u64;
        let mut staged = Staged { ops: Array::new(), names: Vec::new() };
        self.write_changes(pass, &changes, Vec::new(), &[], true, Some(&mut staged)).await.map_err(store_failed)?;
        let mut rounds = 0;
        while !pending.is_empty() {
            rounds += 1;
            if rounds > MAX_FOLLOW_UP_ROUNDS {
                break;
            }
            let mut next = Vec::new();
            for f in pending {
                let mut cursor = Cursor::Start;
                loop {
                    let req = f.query.request(&cursor, self.page_size);
                    let page = self.transport.page(&req, &cursor).await?;
                    let ctx = self.ctx();
                    let c = self.ask(pass, |l| self.plan.apply(l, &ctx, &f.query.table, &page.rows, &[])).await?;
                    report.downloaded += c.puts.len() as u64;
                    next.extend(c.follow_ups.iter().cloned());
                    self.write_changes(pass, &c, Vec::new(), &[], true, Some(&mut staged))
                        .await
                        .map_err(store_failed)?;
                    match page.next {
                        Some(n) => cursor = n,
                        None => break,
                    }
                }
            }
            pending = next;
        }
        self.write_staged(staged).await.map_err(store_failed)
    }

    fn progress_download(&self, table: &str, i: usize, total: usize, report: &Report) {
        let t = self.transport.traffic.get();
        self.emit(json!({"phase": "download", "table": table, "tablesDone": i, "tablesTotal": total,
            "rows": report.downloaded, "bytes": t.bytes}));
    }

    /// One incremental pass: every table's delta, the window refreshes, then the eviction.
    async fn incremental(&self, pass: &mut Pass, report: &mut Report) -> Result<(), SendError> {
        let total = self.plan.tables().len();
        // Every table's first delta page is requested at once (reads: the answers are still applied in sync order,
        // and the rows they name are fetched when applied).
        let mut cps = Vec::with_capacity(total);
        let mut early = Vec::with_capacity(total);
        for tp in self.plan.tables() {
            let cp = self.checkpoint(&tp.table).await.map_err(store_failed)?;
            let def = self.plan.schema().require_table(&tp.table).map_err(failed)?;
            early.push(cp.delta_link().map(|l| {
                let cursor = Cursor::Link { url: l.to_string() };
                self.transport.start(&track_changes_request(def, &cursor, self.page_size), false)
            }));
            cps.push(cp);
        }
        for (i, tp) in self.plan.tables().iter().enumerate() {
            let cp = &cps[i];
            let Some(link) = cp.delta_link().map(str::to_string) else { continue };
            let def = self.plan.schema().require_table(&tp.table).map_err(failed)?;
            let mut cursor = Cursor::Link { url: link };
            let mut started = early[i].take();
            let new_link = loop {
                let req = track_changes_request(def, &cursor, self.page_size);
                let page = match self.transport.page_split(&req, &cursor, false, started.take()).await {
                    Ok((p, _)) => p,
                    Err(SendError::Failed { status, .. }) if (400..500).contains(&status) => {
                        // An expired or unknown delta token: download the table again (docs/SYNC.md).
                        self.restart_table(pass, &tp.table).await.map_err(store_failed)?;
                        break None;
                    }
                    Err(e) => return Err(e),
                };
                let ctx = self.ctx();
                let changes = self.ask(pass, |l| self.plan.apply_delta(l, &ctx, &tp.table, &page)).await?;
                self.settle(pass, changes, report).await?;
                match (&page.next, &page.delta_link) {
                    (Some(n), _) => cursor = n.clone(),
                    (None, Some(l)) => break Some(l.clone()),
                    (None, None) => break None,
                }
            };
            if let Some(l) = new_link {
                let meta = SyncInner::meta_op(
                    &format!("checkpoint:{}", tp.table),
                    &Value::String(cp.with_delta_link(&l).to_json()),
                )
                .map_err(store_failed)?;
                let last = SyncInner::meta_op(&format!("lastSync:{}", tp.table), &json!(js_sys::Date::now()))
                    .map_err(store_failed)?;
                self.store_changes(pass, &Changes::default(), vec![meta, last], &[META]).await.map_err(store_failed)?;
            }
            let t = self.transport.traffic.get();
            self.emit(json!({"phase": "delta", "table": tp.table, "tablesDone": i + 1, "tablesTotal": total,
                "rows": report.downloaded, "bytes": t.bytes}));
        }
        // Rows that entered a moving window (dates, the user) without being modified.
        for tp in self.plan.tables() {
            let Some(refresh) = &tp.refresh else { continue };
            let mut ids = Vec::new();
            let mut cursor = Cursor::Start;
            loop {
                let req = refresh.request(&cursor, self.page_size);
                let page = self.transport.page(&req, &cursor).await?;
                ids.extend(page.ids(&tp.primary_id));
                match page.next {
                    Some(n) => cursor = n,
                    None => break,
                }
            }
            let follow_ups = self.ask(pass, |l| self.plan.refresh_missing(l, &tp.table, &ids)).await?;
            self.settle(pass, Changes { follow_ups, ..Changes::default() }, report).await?;
        }
        // Rows no longer in scope leave the device: among the rows this pass changed (lean form), or the whole
        // store (full form).
        let ctx = self.ctx();
        let evict = match pass.local {
            Local::Lean(_) => {
                let seeds = std::mem::take(&mut pass.seeds);
                report.scope_checked = Some(seeds.len() as u64);
                self.ask(pass, |l| self.plan.evictions_among(l, &ctx, &seeds)).await?
            }
            Local::Full(ref m) => self.plan.evictions(m, &ctx).map_err(failed)?,
        };
        report.evicted += evict.len() as u64;
        let changes = Changes { deletes: evict, ..Changes::default() };
        let clean = SyncInner::meta_op(SCOPE_DIRTY, &Value::Bool(false)).map_err(store_failed)?;
        self.write_changes(pass, &changes, vec![clean], &[META], false, None).await.map_err(store_failed)?;
        pass.dirty_marked = false;
        Ok(())
    }

    /// Forgets a table's rows (except those with pending changes) and its checkpoint, so its first sync runs again.
    async fn restart_table(&self, pass: &mut Pass, table: &str) -> Result<(), JsValue> {
        self.make_full(pass).await?;
        let deletes: Vec<crate::sync::RowRef> = pass
            .local
            .ids(table)
            .into_iter()
            .filter(|id| !crate::sync::LocalRows::is_pending(&pass.local, table, id))
            .map(|id| crate::sync::RowRef { table: table.to_string(), id })
            .collect();
        let meta =
            SyncInner::meta_op(&format!("checkpoint:{table}"), &Value::String(Checkpoint::new(table).to_json()))?;
        self.store_changes(pass, &Changes { deletes, ..Changes::default() }, vec![meta], &[META]).await?;
        let mut report = Report::default();
        let _ = self.first_sync(pass, &mut report).await;
        Ok(())
    }
}

/// The state of one pass: the local rows the core reads, the rows changed so far (for the eviction), and whether
/// the scope is marked dirty in the store yet.
pub(crate) struct Pass {
    local: Local,
    seeds: Vec<crate::sync::RowRef>,
    dirty_marked: bool,
    /// Lookup rounds (lean form), for the report.
    lookups: u64,
}

impl Pass {
    /// Marks row `id` of `table` as having (or no longer having) a change in the outbox.
    pub(super) fn set_pending(&mut self, table: &str, id: &str, pending: bool) {
        self.local.set_pending(table, id, pending);
    }
}

/// IndexedDB operations gathered for one transaction, in order, with the stores they touch.
pub(crate) struct Staged {
    ops: Array,
    names: Vec<String>,
}

impl Staged {
    /// Adds the puts, then the deletes, of `changes`.
    fn add(&mut self, changes: &Changes) -> Result<(), JsValue> {
        for p in &changes.puts {
            let store = table_store(&p.table);
            let mut row = p.row.clone();
            row.remove("@odata.context");
            self.ops.push(&op("put", &store, &convert::to_js(&row)?));
            self.names.push(store);
        }
        for d in &changes.deletes {
            let store = table_store(&d.table);
            self.ops.push(&op("delete", &store, &JsValue::from_str(&d.id)));
            self.names.push(store);
        }
        Ok(())
    }
}

fn failed(e: Error) -> SendError {
    SendError::Failed { status: 0, error: e }
}

fn store_failed(e: JsValue) -> SendError {
    let message = js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_default();
    let code = js_sys::Reflect::get(&e, &"errorName".into()).ok().and_then(|m| m.as_string());
    let code = if code.as_deref() == Some("StorageFull") { ErrorCode::StorageFull } else { ErrorCode::StorageError };
    SendError::Failed { status: 0, error: Error::new(code, message) }
}

#[wasm_bindgen]
impl SyncEngine {
    /// A sync engine for `store` with `profile` (plain JSON form), sending requests through `transport`
    /// (`(request) => Promise<{status, headers, body}>`). Options: `{ conflictPolicy: "clientWins" | "serverWins"
    /// | "resolver", pageSize }`; `resolver(localChange, serverRow)` returns the columns to keep (or null);
    /// `onProgress(event)` receives progress events.
    #[wasm_bindgen(constructor)]
    pub fn new(
        store: &OfflineStore,
        profile: JsValue,
        transport: Function,
        options: JsValue,
        resolver: Option<Function>,
        on_progress: Option<Function>,
    ) -> Result<SyncEngine, JsValue> {
        let inner = store.inner.clone();
        let profile_doc = from_js("profile", profile)?;
        let mut p = Profile::from_any_value(&profile_doc, &inner.schema).map_err(joined)?;
        p.prepare(&inner.schema).map_err(joined)?;
        let plan = SyncPlan::new(&p, &inner.schema).map_err(err)?;
        let columns = profile_index_columns(&inner.schema, &p);
        let projection = Projection::new(&plan, &columns);
        let o: EngineOptions = if options.is_undefined() || options.is_null() {
            EngineOptions { conflict_policy: None, page_size: None }
        } else {
            EngineOptions::read(&from_js("sync options", options)?).map_err(|e| bad_argument("sync options", e))?
        };
        let policy = match o.conflict_policy.as_deref() {
            None | Some("clientWins") => ConflictPolicy::ClientWins,
            Some("serverWins") => ConflictPolicy::ServerWins,
            Some("resolver") if resolver.is_some() => ConflictPolicy::Resolver,
            Some(other) => {
                return Err(bad_argument(
                    "conflictPolicy",
                    format!("'{other}' is not one of clientWins, serverWins, or a resolver function"),
                ))
            }
        };
        Ok(SyncEngine {
            inner: Rc::new(SyncInner {
                store: inner,
                plan,
                projection,
                transport: Transport {
                    send: transport,
                    traffic: Cell::new(Default::default()),
                    last_bytes: Cell::new(0),
                    on_retry: on_progress.clone(),
                },
                policy,
                resolver,
                progress: on_progress,
                page_size: o.page_size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, 5000),
                running: Cell::new(false),
            }),
        })
    }

    /// The tables in sync order.
    #[wasm_bindgen(js_name = syncOrder, unchecked_return_type = "string[]")]
    pub fn sync_order(&self) -> JsValue {
        convert::js_texts(self.inner.plan.tables().iter().map(|t| t.table.as_str()))
    }

    /// One pass: upload the outbox, finish the first sync, then (once it is complete) the incremental sync.
    /// Resolves with a report; a transient failure ends the pass early with `retryAfterMs` set.
    #[wasm_bindgen(js_name = run, unchecked_return_type = "Promise<any>")]
    pub fn run_js(&self) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.run().await })
    }

    /// Uploads the outbox only (writes made while online upload at once).
    #[wasm_bindgen(js_name = upload, unchecked_return_type = "Promise<any>")]
    pub fn upload_js(&self) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.upload().await })
    }

    /// Per table: rows stored, last successful sync (ms), first sync done; plus the outbox length and active sync
    /// errors.
    #[wasm_bindgen(js_name = status, unchecked_return_type = "Promise<any>")]
    pub fn status_js(&self) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.status().await })
    }

    /// The active sync errors (`syncerror` shape), oldest first.
    #[wasm_bindgen(js_name = errors, unchecked_return_type = "Promise<any>")]
    pub fn errors_js(&self) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.errors().await })
    }

    /// Queues the change of sync error `id` again (re-applying it locally) and resolves the error.
    #[wasm_bindgen(js_name = retry, unchecked_return_type = "Promise<void>")]
    pub fn retry_js(&self, id: String) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.retry(id).await.map(|()| JsValue::UNDEFINED) })
    }

    /// Resolves sync error `id` without retrying (the local data stays as the server has it).
    #[wasm_bindgen(js_name = discard, unchecked_return_type = "Promise<void>")]
    pub fn discard_js(&self, id: String) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.discard(id).await.map(|()| JsValue::UNDEFINED) })
    }

    /// The wait in milliseconds before retry `attempt` (0-based): exponential with full jitter, at least
    /// `retryAfterSeconds`.
    #[wasm_bindgen(js_name = backoffMs)]
    pub fn backoff_ms(attempt: u32, retry_after_seconds: Option<u32>) -> f64 {
        let b = crate::sync::Backoff::default();
        b.delay_ms(attempt, js_sys::Math::random(), retry_after_seconds.map(u64::from)) as f64
    }

    /// Milliseconds until the next table is due (per-table intervals, a table no less often than what it depends
    /// on); 0 when one is due now.
    #[wasm_bindgen(js_name = nextDueInMs, unchecked_return_type = "Promise<number>")]
    pub fn next_due_in_ms_js(&self) -> js_sys::Promise {
        let s = self.clone();
        promise(async move { s.next_due_in_ms().await.map(JsValue::from) })
    }
}

/// The async bodies of the exported methods above (each export wraps one in [`promise`]).
impl SyncEngine {
    /// One pass: upload the outbox, finish the first sync, then (once it is complete) the incremental sync.
    /// Resolves with a report; a transient failure ends the pass early with `retryAfterMs` set.
    pub async fn run(&self) -> Result<JsValue, JsValue> {
        let inner = self.inner.clone();
        if inner.running.replace(true) {
            return Err(bad_argument("sync", "a sync pass is already running in this tab"));
        }
        let result = run_pass(&inner).await;
        inner.running.set(false);
        result
    }

    /// Uploads the outbox only (writes made while online upload at once).
    pub async fn upload(&self) -> Result<JsValue, JsValue> {
        let inner = self.inner.clone();
        let mut report = Report::default();
        let pending = mirror::pending(&inner.store).await?;
        if !pending.is_empty() {
            // Uploading offline changes settles rows whose scope only the whole store can tell (their old values
            // are gone): the next pass evicts over the whole store. Marked before anything is uploaded.
            inner.mark_dirty().await?;
            let mut pass = Pass { local: mirror::lean(&pending), seeds: Vec::new(), dirty_marked: true, lookups: 0 };
            if let Err(e) = upload::run(&inner, &mut pass, &mut report).await {
                note_stop(&mut report, &e);
            }
        }
        convert::to_js(&report)
    }

    /// Per table: rows stored, last successful sync (ms), first sync done; plus the outbox length and active sync
    /// errors.
    pub async fn status(&self) -> Result<JsValue, JsValue> {
        let inner = self.inner.clone();
        let mut tables = Vec::new();
        for tp in inner.plan.tables() {
            let n = idb::count(&inner.store.db, &table_store(&tp.table)).await.map_err(|e| idb_err("status", e))?;
            let last = inner.meta_get(&format!("lastSync:{}", tp.table)).await?;
            let cp = inner.checkpoint(&tp.table).await?;
            tables.push(json!({
                "table": tp.table,
                "rows": n.as_f64().unwrap_or(0.0),
                "lastSync": last,
                "firstSyncDone": cp.is_done(),
                "intervalMinutes": tp.interval_minutes,
            }));
        }
        let outbox = idb::get_all(&inner.store.db, crate::store::layout::OUTBOX, None, JsValue::UNDEFINED, None)
            .await
            .map_err(|e| idb_err("status", e))?;
        let mut pending: HashMap<String, u64> = HashMap::new();
        for e in Array::from(&outbox).iter() {
            if let Some(t) = js_sys::Reflect::get(&e, &"table".into()).ok().and_then(|t| t.as_string()) {
                *pending.entry(t).or_default() += 1;
            }
        }
        for t in tables.iter_mut() {
            let name = t["table"].as_str().unwrap_or_default().to_string();
            t["pendingUploads"] = json!(pending.get(&name).copied().unwrap_or(0));
        }
        let errors = upload::active_errors(&inner).await?;
        let first = inner.meta_get("firstSyncComplete").await? == Some(Value::Bool(true));
        convert::to_js(&json!({
            "tables": tables,
            "pendingUploads": Array::from(&outbox).length(),
            "errors": errors.len(),
            "firstSyncComplete": first,
        }))
    }

    /// The active sync errors (`syncerror` shape), oldest first.
    pub async fn errors(&self) -> Result<JsValue, JsValue> {
        convert::to_js(&upload::active_errors(&self.inner).await?)
    }

    /// Queues the change of sync error `id` again (re-applying it locally) and resolves the error.
    pub async fn retry(&self, id: String) -> Result<(), JsValue> {
        upload::retry_error(&self.inner, &id).await
    }

    /// Resolves sync error `id` without retrying (the local data stays as the server has it).
    pub async fn discard(&self, id: String) -> Result<(), JsValue> {
        upload::discard_error(&self.inner, &id).await
    }

    /// Milliseconds until the next table is due (per-table intervals, a table no less often than what it depends
    /// on); 0 when one is due now.
    pub async fn next_due_in_ms(&self) -> Result<f64, JsValue> {
        let inner = self.inner.clone();
        let mut last: HashMap<String, i64> = HashMap::new();
        for tp in inner.plan.tables() {
            if let Some(v) = inner.meta_get(&format!("lastSync:{}", tp.table)).await?.and_then(|v| v.as_f64()) {
                last.insert(tp.table.clone(), v as i64);
            }
        }
        let now = js_sys::Date::now() as i64;
        let due = crate::sync::schedule::next_due_ms(&inner.plan, now, &last);
        Ok((due - now).max(0) as f64)
    }
}

fn note_stop(report: &mut Report, e: &SendError) {
    match e {
        SendError::Transient { retry_after, .. } => {
            report.retry_after_ms = Some(retry_after.map(|s| s * 1000).unwrap_or(0));
            report.stopped = Some(e.to_error().message);
        }
        SendError::Unreachable => {
            report.retry_after_ms = Some(0);
            report.stopped = Some(e.to_error().message);
        }
        SendError::Failed { .. } => report.stopped = Some(e.to_error().message),
    }
}

async fn run_pass(inner: &Rc<SyncInner>) -> Result<JsValue, JsValue> {
    let mut report = Report::default();
    // The transport counts from `open`; the report says what this pass sent and received.
    let before = inner.transport.traffic.get();
    // The lean form when the profile is static, no offline change waits and the last pass left the scope clean;
    // else the whole store in memory (docs/SYNC.md "Eviction").
    let pending = mirror::pending(&inner.store).await?;
    let dirty = inner.meta_get(SCOPE_DIRTY).await? == Some(Value::Bool(true));
    let lean = inner.plan.is_static() && pending.is_empty() && !dirty;
    let mut pass = if lean {
        Pass { local: mirror::lean(&pending), seeds: Vec::new(), dirty_marked: false, lookups: 0 }
    } else {
        if !dirty {
            inner.mark_dirty().await?;
        }
        let local = Local::Full(mirror::load(&inner.store, &inner.plan, &inner.projection).await?);
        Pass { local, seeds: Vec::new(), dirty_marked: true, lookups: 0 }
    };
    let outcome: Result<(), SendError> = async {
        upload::run(inner, &mut pass, &mut report).await?;
        let was_complete = inner.meta_get("firstSyncComplete").await.map_err(store_failed)? == Some(Value::Bool(true));
        let complete = inner.first_sync(&mut pass, &mut report).await?;
        if complete {
            // Tables download one after another: the first deltas settle what changed in between.
            inner.incremental(&mut pass, &mut report).await?;
            report.eviction = Some(if matches!(pass.local, Local::Lean(_)) { "changes" } else { "store" });
            if !was_complete {
                let meta = SyncInner::meta_op("firstSyncComplete", &Value::Bool(true)).map_err(store_failed)?;
                inner.store_changes(&mut pass, &Changes::default(), vec![meta], &[META]).await.map_err(store_failed)?;
            }
        }
        report.first_sync_complete = complete;
        Ok(())
    }
    .await;
    report.rows_read = pass.local.reads();
    report.lookup_rounds = pass.lookups;
    let t = inner.transport.traffic.get();
    report.requests = t.requests - before.requests;
    report.bytes = t.bytes - before.bytes;
    match outcome {
        Ok(()) => {}
        Err(SendError::Failed { error, .. }) if error.code != ErrorCode::ServerError => return Err(err(error)),
        Err(e) => note_stop(&mut report, &e),
    }
    inner.emit(json!({"phase": "done", "report": &report}));
    convert::to_js(&report)
}

fn joined(errors: Vec<Error>) -> JsValue {
    let code = errors.first().map(|e| e.code).unwrap_or(ErrorCode::InvalidProfile);
    err(Error::new(code, errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ")))
}
