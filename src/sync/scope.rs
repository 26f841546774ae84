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
//!
//! [`SyncPlan::evictions_among`] is its incremental form, for profiles whose filters do not move
//! ([`SyncPlan::is_static`]) and a store that held exactly the scope before the rows `seeds` changed: only those
//! rows, and the rows whose reason to be in scope they were (cascading), are evaluated. Cost: a few key and index
//! look-ups per changed row.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;

use super::apply::RowRef;
use super::local::LocalRows;
use super::page::row_id;
use super::plan::SyncPlan;
use crate::error::Result;
use crate::profile::{LinkKind, OwnRows};
use crate::query::Row;
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

    /// Whether no own filter of the profile can change without its row changing (no relative date, user operator
    /// or related-row condition: no table has a window-refresh query). Then a row's scope only changes when it, or
    /// a row it depends on, changes, and [`SyncPlan::evictions_among`] gives what [`SyncPlan::evictions`] gives.
    pub fn is_static(&self) -> bool {
        self.tables().iter().all(|t| t.refresh.is_none())
    }

    /// The rows `row` (of `table`, as it was stored) brings into the scope through its lookups: rows of later
    /// tables that are in scope because an in-scope row of `table` names them. When `row` is replaced or deleted,
    /// they are the rows it may leave without a reason; pass them to [`SyncPlan::evictions_among`].
    pub fn scope_dependents(&self, table: &str, row: &Row) -> Vec<RowRef> {
        let Some(at) = self.tables().iter().position(|t| t.table == table) else { return Vec::new() };
        let mut out = Vec::new();
        for u in &self.tables()[at + 1..] {
            for link in &u.links {
                if let (true, LinkKind::ReferencedBy { column }) = (link.other_table == table, &link.kind) {
                    let target = row.get(&format!("_{column}_value")).and_then(Value::as_str).and_then(guid::normalize);
                    if let Some(id) = target {
                        out.push(RowRef { table: u.table.clone(), id });
                    }
                }
            }
        }
        out
    }

    /// The rows to evict after the rows `seeds` changed (put, deleted, or left without a reason: see
    /// [`SyncPlan::scope_dependents`]), when the local rows were exactly the profile's scope before those changes
    /// and the profile [`is_static`](SyncPlan::is_static). Each seed is evaluated as [`SyncPlan::local_scope`]
    /// would (rows of other tables count as in scope when stored and not evicted here), and every evicted or
    /// deleted row makes the rows that depended on it candidates, table by table in sync order. Same result as
    /// [`SyncPlan::evictions`] under those conditions (tested), at the cost of the changes, not of the store.
    pub fn evictions_among(&self, local: &dyn LocalRows, ctx: &EvalContext, seeds: &[RowRef]) -> Result<Vec<RowRef>> {
        let tables = self.tables();
        let position: HashMap<&str, usize> = tables.iter().enumerate().map(|(i, t)| (t.table.as_str(), i)).collect();
        let mut candidates: Vec<BTreeSet<String>> = vec![BTreeSet::new(); tables.len()];
        for s in seeds {
            if let (Some(&i), Some(id)) = (position.get(s.table.to_ascii_lowercase().as_str()), guid::normalize(&s.id))
            {
                candidates[i].insert(id);
            }
        }
        let mut evicted: Vec<HashSet<String>> = vec![HashSet::new(); tables.len()];
        let mut out = Vec::new();
        for (i, tp) in tables.iter().enumerate() {
            let ids = std::mem::take(&mut candidates[i]);
            if ids.is_empty() {
                continue;
            }
            let own = match &tp.own {
                OwnRows::Matching(f) => Some(Predicate::compile(self.schema(), &tp.table, f, local, ctx)?),
                _ => None,
            };
            let own_all = matches!(tp.own, OwnRows::All);
            for id in ids {
                let row = local.get(&tp.table, &id);
                let keep = row.is_some_and(|row| {
                    local.is_pending(&tp.table, &id)
                        || own_all
                        || own.as_ref().is_some_and(|p| p.test(row))
                        || tp.links.iter().any(|link| {
                            let Some(&o) = position.get(link.other_table.as_str()) else { return false };
                            if o >= i {
                                return false;
                            }
                            let in_scope = |other: &str| {
                                local.get(&link.other_table, other).is_some() && !evicted[o].contains(other)
                            };
                            match &link.kind {
                                LinkKind::References { column } => row
                                    .get(&format!("_{column}_value"))
                                    .and_then(Value::as_str)
                                    .and_then(guid::normalize)
                                    .is_some_and(|v| in_scope(&v)),
                                LinkKind::ReferencedBy { column } => local
                                    .referencing(&link.other_table, &format!("_{column}_value"), &id)
                                    .iter()
                                    .any(|r| in_scope(r)),
                            }
                        })
                });
                if keep {
                    continue;
                }
                if row.is_some() {
                    evicted[i].insert(id.clone());
                    out.push(RowRef { table: tp.table.clone(), id: id.clone() });
                }
                // Gone or evicted: the rows of later tables it was a reason for are evaluated again.
                for (j, u) in tables.iter().enumerate().skip(i + 1) {
                    for link in u.links.iter().filter(|l| l.other_table == tp.table) {
                        match &link.kind {
                            LinkKind::References { column } => {
                                candidates[j].extend(local.referencing(&u.table, &format!("_{column}_value"), &id));
                            }
                            LinkKind::ReferencedBy { column } => {
                                let target = row
                                    .and_then(|r| r.get(&format!("_{column}_value")))
                                    .and_then(Value::as_str)
                                    .and_then(guid::normalize);
                                candidates[j].extend(target);
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
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
