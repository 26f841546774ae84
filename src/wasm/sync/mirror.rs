//! What the sync core reads of the store during a pass ([`LocalRows`]): [`Local`].
//!
//! Two forms. **Lean** (static profiles, see `SyncPlan::is_static`, with an empty outbox and a clean scope): nothing
//! is loaded up front; the core's questions (`get`, `any_referencing`, `referencing`) are answered from a cache,
//! and a question the cache cannot answer is recorded as a miss. The host then reads the misses from IndexedDB in
//! one transaction (rows by key, primary keys by index) and asks the core again, until it asks nothing new: a pass
//! reads what its changes touch, not the store. **Full** (profiles whose filters move with the clock or the user,
//! pending offline changes, an interrupted pass): every profile table is loaded, projected to the columns the core
//! looks at, as before; the eviction then re-evaluates the whole store.
//!
//! Only the columns the core looks at are kept: the primary id, the lookups the profile's relationships follow and
//! the columns its filters compare (the same set the store indexes, `profile_index_columns`).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::read::{self, Read};
use js_sys::Array;
use serde_json::Value;
use wasm_bindgen::JsValue;

use crate::query::{Row, RowSource};
use crate::store::layout::{table_store, OUTBOX};
use crate::sync::{Changes, LocalRows, MemoryRows, SyncPlan};
use crate::wasm::store::{idb, idb_err, Inner};

/// Row keys kept per table.
pub struct Projection {
    keys: HashMap<String, Vec<String>>,
}

impl Projection {
    /// The keys of `columns` (logical names) per table, plus each primary id.
    pub fn new(plan: &SyncPlan, columns: &HashMap<String, Vec<String>>) -> Projection {
        let schema = plan.schema();
        let mut keys = HashMap::new();
        for tp in plan.tables() {
            let Some(def) = schema.table(&tp.table) else { continue };
            let mut k = vec![def.primary_id_attribute.clone(), "@odata.etag".to_string()];
            for col in columns.get(&tp.table).into_iter().flatten() {
                if let Some(a) = def.attribute(col) {
                    let key = a.row_key();
                    if a.attribute_type.is_lookup() {
                        k.push(format!("{key}@Microsoft.Dynamics.CRM.lookuplogicalname"));
                    }
                    k.push(key);
                }
            }
            crate::sort::sort_dedup(&mut k);
            keys.insert(tp.table.clone(), k);
        }
        Projection { keys }
    }

    /// `row` reduced to the kept keys of `table`.
    pub fn project(&self, table: &str, row: &Row) -> Row {
        match self.keys.get(table) {
            // Inserted one by one: `collect()` into a map sorts its input first, a sort compiled for this one pair type.
            Some(keys) => {
                let mut out = Row::new();
                for k in keys {
                    if let Some(v) = row.get(k) {
                        out.insert(k.clone(), v.clone());
                    }
                }
                out
            }
            None => row.clone(),
        }
    }
}

/// The questions a lean pass could not answer yet.
#[derive(Default)]
struct Misses {
    /// Rows asked for (sorted and deduplicated when read: a `Vec` costs less wasm than two more set types).
    gets: Vec<(String, String)>,
    /// Referencing rows asked for (the same).
    refs: Vec<(String, String, String)>,
    /// A whole table was asked for (`rows`): only the full form answers that.
    full: bool,
}

/// The lean form: answers read so far, and the misses of the last question round.
#[derive(Default)]
pub struct Lean {
    rows: HashMap<(String, String), Option<Row>>,
    refs: HashMap<(String, String, String), Vec<String>>,
    pending: HashSet<(String, String)>,
    misses: RefCell<Misses>,
    /// Rows read from IndexedDB for the core (for the notes' counters).
    pub reads: u64,
}

fn key2(table: &str, id: &str) -> (String, String) {
    (table.to_ascii_lowercase(), id.to_ascii_lowercase())
}

/// The local rows of a pass.
pub enum Local {
    Lean(Lean),
    Full(MemoryRows),
}

struct Looked {
    rows: Vec<Value>,
    refs: Vec<Vec<Value>>,
}

impl Looked {
    /// `{rows: [...], refs: [[...], ...]}` (js/idb.js `lookup`), taken apart without copying the rows.
    fn read(text: &str) -> Read<Looked> {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let Value::Object(mut m) = v else { return Err(read::invalid(&v, "struct Looked")) };
        let mut take = |name: &str| match m.remove(name) {
            Some(Value::Array(a)) => Ok(a),
            Some(other) => Err(read::invalid(&other, "a sequence")),
            None => Err(format!("missing field `{name}`")),
        };
        let rows = take("rows")?;
        let refs = take("refs")?
            .into_iter()
            .map(|r| match r {
                Value::Array(a) => Ok(a),
                other => Err(read::invalid(&other, "a sequence")),
            })
            .collect::<Read<_>>()?;
        Ok(Looked { rows, refs })
    }
}

impl Local {
    /// Marks row `id` of `table` as having (`true`) or no longer having a change in the outbox.
    pub fn set_pending(&mut self, table: &str, id: &str, pending: bool) {
        match self {
            Local::Full(m) => m.set_pending(table, id, pending),
            Local::Lean(l) => {
                if pending {
                    l.pending.insert(key2(table, id));
                } else {
                    l.pending.remove(&key2(table, id));
                }
            }
        }
    }

    /// Whether the core asked something this form could not answer; [`Local::resolve`] reads it.
    pub fn has_misses(&self) -> bool {
        match self {
            Local::Full(_) => false,
            Local::Lean(l) => {
                let m = l.misses.borrow();
                m.full || !m.gets.is_empty() || !m.refs.is_empty()
            }
        }
    }

    /// The old stored rows of `changes`' puts and deletes are known (read if needed), so the host can tell which
    /// rows they brought into the scope.
    pub fn ask_old_rows(&self, changes: &Changes) {
        let puts = changes.puts.iter().map(|p| (&p.table, &p.id));
        for (t, id) in puts.chain(changes.deletes.iter().map(|d| (&d.table, &d.id))) {
            let _ = self.get(t, id);
        }
    }

    /// Reads the misses from IndexedDB (the lean form), or switches to the full form when a whole table was asked.
    pub async fn resolve(&mut self, inner: &Inner, plan: &SyncPlan, projection: &Projection) -> Result<(), JsValue> {
        let Local::Lean(l) = self else { return Ok(()) };
        let mut misses = std::mem::take(&mut *l.misses.borrow_mut());
        crate::sort::sort_dedup(&mut misses.gets);
        crate::sort::sort_dedup(&mut misses.refs);
        if misses.full {
            let pending = std::mem::take(&mut l.pending);
            let mut m = load(inner, plan, projection).await?;
            for (t, id) in pending {
                m.set_pending(&t, &id, true);
            }
            *self = Local::Full(m);
            return Ok(());
        }
        let gets: Array = misses
            .gets
            .iter()
            .map(|(t, id)| -> JsValue {
                [JsValue::from_str(&table_store(t)), JsValue::from_str(id)].into_iter().collect::<Array>().into()
            })
            .collect();
        let refs: Array = misses
            .refs
            .iter()
            .map(|(t, k, id)| -> JsValue {
                [JsValue::from_str(&table_store(t)), JsValue::from_str(k), JsValue::from_str(id)]
                    .into_iter()
                    .collect::<Array>()
                    .into()
            })
            .collect();
        let text = idb::lookup(&inner.db, gets, refs).await.map_err(|e| idb_err("sync: reading rows", e))?;
        let looked = Looked::read(&text.as_string().unwrap_or_default())
            .map_err(|e| idb_err("sync: reading rows", JsValue::from_str(&e)))?;
        for ((t, id), row) in misses.gets.into_iter().zip(looked.rows) {
            let row = match row {
                Value::Object(r) => {
                    l.reads += 1;
                    Some(projection.project(&t, &r))
                }
                _ => None,
            };
            l.rows.insert((t, id), row);
        }
        for (key, ids) in misses.refs.into_iter().zip(looked.refs) {
            let ids = ids.into_iter().filter_map(|v| v.as_str().map(str::to_ascii_lowercase)).collect();
            l.refs.insert(key, ids);
        }
        Ok(())
    }

    /// Applies the puts (projected) and deletes of `changes`, as stored.
    pub fn apply(&mut self, projection: &Projection, changes: &Changes) {
        match self {
            Local::Full(m) => {
                for p in &changes.puts {
                    m.put(&p.table, &p.id, projection.project(&p.table, &p.row));
                }
                for d in &changes.deletes {
                    m.remove(&d.table, &d.id);
                }
            }
            Local::Lean(l) => {
                let mut touched = HashSet::new();
                for p in &changes.puts {
                    l.rows.insert(key2(&p.table, &p.id), Some(projection.project(&p.table, &p.row)));
                    touched.insert(p.table.to_ascii_lowercase());
                }
                for d in &changes.deletes {
                    l.rows.insert(key2(&d.table, &d.id), None);
                    touched.insert(d.table.to_ascii_lowercase());
                }
                // Lookup answers of the tables written may have changed: ask IndexedDB again when needed.
                l.refs.retain(|(t, _, _), _| !touched.contains(t));
            }
        }
    }

    /// Forgets every answer (rows were written without going through [`Local::apply`]: the first-sync pages).
    pub fn forget_rows(&mut self) {
        if let Local::Lean(l) = self {
            l.rows.clear();
            l.refs.clear();
        }
    }

    /// The ids of `table` (full form only: the lean form switches first).
    pub fn ids(&self, table: &str) -> Vec<String> {
        match self {
            Local::Full(m) => m.ids(table),
            Local::Lean(_) => Vec::new(),
        }
    }

    /// Rows read from IndexedDB to answer the core (lean form), for the progress counters.
    pub fn reads(&self) -> u64 {
        match self {
            Local::Lean(l) => l.reads,
            Local::Full(_) => 0,
        }
    }
}

impl RowSource for Local {
    fn rows<'a>(&'a self, table: &str) -> Box<dyn Iterator<Item = &'a Row> + 'a> {
        match self {
            Local::Full(m) => m.rows(table),
            Local::Lean(l) => {
                l.misses.borrow_mut().full = true;
                let t = table.to_ascii_lowercase();
                Box::new(l.rows.iter().filter(move |((tt, _), _)| *tt == t).filter_map(|(_, r)| r.as_ref()))
            }
        }
    }
}

impl LocalRows for Local {
    fn get(&self, table: &str, id: &str) -> Option<&Row> {
        match self {
            Local::Full(m) => m.get(table, id),
            Local::Lean(l) => {
                let k = key2(table, id);
                match l.rows.get(&k) {
                    Some(r) => r.as_ref(),
                    None => {
                        l.misses.borrow_mut().gets.push(k);
                        None
                    }
                }
            }
        }
    }

    fn is_pending(&self, table: &str, id: &str) -> bool {
        match self {
            Local::Full(m) => m.is_pending(table, id),
            Local::Lean(l) => l.pending.contains(&key2(table, id)),
        }
    }

    fn any_referencing(&self, table: &str, key: &str, id: &str) -> bool {
        match self {
            Local::Full(m) => m.any_referencing(table, key, id),
            Local::Lean(_) => !self.referencing(table, key, id).is_empty(),
        }
    }

    fn referencing(&self, table: &str, key: &str, id: &str) -> Vec<String> {
        match self {
            Local::Full(m) => m.referencing(table, key, id),
            Local::Lean(l) => {
                let k = (table.to_ascii_lowercase(), key.to_string(), id.to_ascii_lowercase());
                match l.refs.get(&k) {
                    Some(ids) => ids.clone(),
                    None => {
                        l.misses.borrow_mut().refs.push(k);
                        Vec::new()
                    }
                }
            }
        }
    }
}

/// Loads every profile table (projected, through `projectAll`: one JSON text per table) and the outbox's pending
/// rows.
pub async fn load(inner: &Inner, plan: &SyncPlan, projection: &Projection) -> Result<MemoryRows, JsValue> {
    let mut mirror = MemoryRows::new();
    for tp in plan.tables() {
        let keys: Array = projection.keys.get(&tp.table).into_iter().flatten().map(|k| JsValue::from_str(k)).collect();
        let text = idb::project_all(&inner.db, &table_store(&tp.table), keys)
            .await
            .map_err(|e| idb_err("sync: reading the store", e))?;
        let rows = read::json_array(&text.as_string().unwrap_or_default())
            .map_err(|e| idb_err("sync: reading the store", JsValue::from_str(&e)))?;
        for row in rows {
            let Value::Object(row) = row else { continue };
            let Some(id) = row.get(&tp.primary_id).and_then(Value::as_str).map(str::to_string) else { continue };
            mirror.put(&tp.table, &id, row);
        }
    }
    for (t, id) in pending(inner).await? {
        mirror.set_pending(&t, &id, true);
    }
    Ok(mirror)
}

/// The rows with a change in the outbox.
pub async fn pending(inner: &Inner) -> Result<Vec<(String, String)>, JsValue> {
    let outbox = idb::get_all(&inner.db, OUTBOX, None, JsValue::UNDEFINED, None)
        .await
        .map_err(|e| idb_err("sync: reading the outbox", e))?;
    let mut out = Vec::new();
    for e in Array::from(&outbox).iter() {
        let t = js_sys::Reflect::get(&e, &"table".into()).ok().and_then(|v| v.as_string());
        let id = js_sys::Reflect::get(&e, &"id".into()).ok().and_then(|v| v.as_string());
        if let (Some(t), Some(id)) = (t, id) {
            out.push((t, id));
        }
    }
    Ok(out)
}

/// A lean form with the outbox's pending rows.
pub fn lean(pending: &[(String, String)]) -> Local {
    let mut l = Lean::default();
    for (t, id) in pending {
        l.pending.insert(key2(t, id));
    }
    Local::Lean(l)
}
