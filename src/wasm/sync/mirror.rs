//! The in-memory mirror of the store the sync core reads ([`LocalRows`] through [`MemoryRows`]).
//!
//! Only the columns the core looks at are kept: the primary id, the lookups the profile's relationships follow and
//! the columns its filters compare (the same set the store indexes, `profile_index_columns`). The mirror is loaded
//! at the start of each sync run from IndexedDB and kept current with every change the run stores, so the core's
//! decisions during the run see the rows as stored.

use std::collections::HashMap;

use serde_json::Value;
use wasm_bindgen::JsValue;

use crate::query::Row;
use crate::store::layout::{table_store, OUTBOX};
use crate::sync::{Changes, MemoryRows, SyncPlan};
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
            Some(keys) => keys.iter().filter_map(|k| row.get(k).map(|v| (k.clone(), v.clone()))).collect(),
            None => row.clone(),
        }
    }

    /// Applies the puts (projected) and deletes of `changes` to `mirror`.
    pub fn apply(&self, mirror: &mut MemoryRows, changes: &Changes) {
        for p in &changes.puts {
            mirror.put(&p.table, &p.id, self.project(&p.table, &p.row));
        }
        for d in &changes.deletes {
            mirror.remove(&d.table, &d.id);
        }
    }
}

/// Loads every profile table (projected) and the outbox's pending rows.
pub async fn load(inner: &Inner, plan: &SyncPlan, projection: &Projection) -> Result<MemoryRows, JsValue> {
    let mut mirror = MemoryRows::new();
    for tp in plan.tables() {
        let rows = idb::get_all(&inner.db, &table_store(&tp.table), None, JsValue::UNDEFINED, None)
            .await
            .map_err(|e| idb_err("sync: reading the store", e))?;
        let rows: Vec<Value> = crate::wasm::convert::from_value(rows).map_err(|e| idb_err("sync", e.into()))?;
        for row in rows {
            let Value::Object(row) = row else { continue };
            let Some(id) = row.get(&tp.primary_id).and_then(Value::as_str).map(str::to_string) else { continue };
            mirror.put(&tp.table, &id, projection.project(&tp.table, &row));
        }
    }
    let outbox = idb::get_all(&inner.db, OUTBOX, None, JsValue::UNDEFINED, None)
        .await
        .map_err(|e| idb_err("sync: reading the outbox", e))?;
    let entries: Vec<Value> = crate::wasm::convert::from_value(outbox).map_err(|e| idb_err("sync", e.into()))?;
    for e in entries {
        if let (Some(t), Some(id)) = (e.get("table").and_then(Value::as_str), e.get("id").and_then(Value::as_str)) {
            mirror.set_pending(t, id, true);
        }
    }
    Ok(mirror)
}
