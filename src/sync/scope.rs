//! Re-evaluating the profile over the local rows, and the rows to evict.
//!
//! Run after every sync with the device clock: relative date windows move every day, so a booking that matched
//! yesterday may not today. Table by table in sync order, a local row is in scope when the outbox holds a change of
//! it, its own filter matches, its lookup of a relationship names an in-scope row, or an in-scope row of a related
//! table names it. Everything else is evicted (a later `retrieveRecord` answers "Record Not Found"); rows that
//! depended on an evicted row go in the same pass.
//!
//! Cost: one pass over the local rows of each table (plus a key look-up per in-scope row for relationships that
//! bring rows in from the other side). This is the one step that grows with the size of the store rather than
//! with the number of changes; it reads only local data.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::apply::RowRef;
use super::local::LocalRows;
use super::page::row_id;
use super::plan::SyncPlan;
use crate::error::Result;
use crate::profile::{LinkKind, OwnRows};
use crate::query::{EvalContext, Predicate};
use crate::store::guid;

/// The in-scope ids (lower case) of each profile table, as evaluated locally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalScope {
    tables: HashMap<String, HashSet<String>>,
}

impl LocalScope {
    /// Whether row `id` of `table` is in scope.
    pub fn contains(&self, table: &str, id: &str) -> bool {
        self.tables.get(&table.to_ascii_lowercase()).is_some_and(|t| t.contains(&id.to_ascii_lowercase()))
    }

    /// The in-scope ids of `table` (`None` for a table not in the profile).
    pub fn ids(&self, table: &str) -> Option<&HashSet<String>> {
        self.tables.get(&table.to_ascii_lowercase())
    }

    /// How many rows of `table` are in scope.
    pub fn len(&self, table: &str) -> usize {
        self.ids(table).map_or(0, HashSet::len)
    }

    /// Whether no row is in scope.
    pub fn is_empty(&self) -> bool {
        self.tables.values().all(HashSet::is_empty)
    }
}

impl SyncPlan {
    /// Evaluates the profile over the local rows (see the module documentation).
    pub fn local_scope(&self, local: &dyn LocalRows, ctx: &EvalContext) -> Result<LocalScope> {
        let mut scope = LocalScope::default();
        for tp in self.tables() {
            let own = match &tp.own {
                OwnRows::Matching(f) => Some(Predicate::compile(self.schema(), &tp.table, f, local, ctx)?),
                _ => None,
            };
            let own_all = matches!(tp.own, OwnRows::All);
            let mut by_lookup: Vec<(String, &HashSet<String>)> = Vec::new();
            let mut referenced: HashSet<String> = HashSet::new();
            for link in &tp.links {
                let Some(other) = scope.tables.get(&link.other_table) else { continue };
                match &link.kind {
                    LinkKind::References { column } => by_lookup.push((format!("_{column}_value"), other)),
                    LinkKind::ReferencedBy { column } => {
                        let key = format!("_{column}_value");
                        for id in other {
                            let target = local.get(&link.other_table, id).and_then(|r| r.get(&key));
                            if let Some(t) = target.and_then(Value::as_str).and_then(guid::normalize) {
                                referenced.insert(t);
                            }
                        }
                    }
                }
            }
            let mut ids = HashSet::new();
            for row in local.rows(&tp.table) {
                let Some(id) = row_id(row, &tp.primary_id) else { continue };
                let keep = local.is_pending(&tp.table, &id)
                    || referenced.contains(&id)
                    || by_lookup.iter().any(|(key, set)| {
                        row.get(key).and_then(Value::as_str).and_then(guid::normalize).is_some_and(|v| set.contains(&v))
                    })
                    || own_all
                    || own.as_ref().is_some_and(|p| p.test(row));
                if keep {
                    ids.insert(id);
                }
            }
            scope.tables.insert(tp.table.clone(), ids);
        }
        Ok(scope)
    }

    /// The local rows outside the profile's scope now (see the module documentation), by table in sync order.
    /// Rows with a change in the outbox are never evicted.
    pub fn evictions(&self, local: &dyn LocalRows, ctx: &EvalContext) -> Result<Vec<RowRef>> {
        let scope = self.local_scope(local, ctx)?;
        let mut out = Vec::new();
        for tp in self.tables() {
            for row in local.rows(&tp.table) {
                let Some(id) = row_id(row, &tp.primary_id) else { continue };
                if !scope.contains(&tp.table, &id) {
                    out.push(RowRef { table: tp.table.clone(), id });
                }
            }
        }
        Ok(out)
    }
}
