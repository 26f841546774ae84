//! What the core reads of the device's store: the [`LocalRows`] trait the host implements, and [`MemoryRows`], an
//! in-memory implementation (tests, and a host that mirrors the store in memory).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::apply::Changes;
use crate::query::{Row, RowSource};

/// The local rows, as the core needs to read them. Table names are logical names; ids are lower-case GUIDs.
///
/// The browser host implements it over a snapshot of the IndexedDB tables (or an in-memory mirror kept up to date
/// with the [`Changes`] it applies): the core is synchronous and never awaits.
pub trait LocalRows: RowSource {
    /// The stored row `id` of `table`.
    fn get(&self, table: &str, id: &str) -> Option<&Row>;

    /// Whether the outbox holds a change of this row that is not uploaded yet (such rows are never evicted, and
    /// the rows they reference through the profile's relationships stay too).
    fn is_pending(&self, table: &str, id: &str) -> bool;

    /// Whether some row of `table` has `id` under row key `key` (`_msdyn_workorder_value`). The default scans the
    /// table; an IndexedDB host answers from the index on that lookup.
    fn any_referencing(&self, table: &str, key: &str, id: &str) -> bool {
        self.rows(table).any(|r| r.get(key).and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(id)))
    }

    /// The ids (lower case) of the rows of `table` that have `id` under row key `key`: the rows an eviction makes
    /// the eviction pass look at again ([`SyncPlan::evictions_among`](super::SyncPlan::evictions_among)). An
    /// IndexedDB host answers from the index on that lookup.
    fn referencing(&self, table: &str, key: &str, id: &str) -> Vec<String>;
}

/// Rows in memory by table and id, the set of pending (outbox) rows, and an index of lookup values (so
/// [`LocalRows::any_referencing`] is a hash look-up, as an IndexedDB index would be).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryRows {
    tables: HashMap<String, BTreeMap<String, Row>>,
    pending: HashSet<(String, String)>,
    /// table -> lookup key (`_x_value`) -> lower-case id -> how many rows hold it.
    refs: HashMap<String, HashMap<String, HashMap<String, usize>>>,
}

fn lookup_values(row: &Row) -> impl Iterator<Item = (&String, String)> + '_ {
    row.iter()
        .filter(|(k, _)| k.starts_with('_') && k.ends_with("_value") && !k.contains('@'))
        .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_ascii_lowercase())))
}

impl MemoryRows {
    /// An empty store.
    pub fn new() -> MemoryRows {
        MemoryRows::default()
    }

    /// Stores (or replaces) row `id` of `table`.
    pub fn put(&mut self, table: &str, id: &str, row: Row) {
        let table = table.to_ascii_lowercase();
        self.unindex(&table, id);
        let refs = self.refs.entry(table.clone()).or_default();
        for (k, v) in lookup_values(&row) {
            *refs.entry(k.clone()).or_default().entry(v).or_default() += 1;
        }
        self.tables.entry(table).or_default().insert(id.to_ascii_lowercase(), row);
    }

    /// Removes row `id` of `table`; whether it was there.
    pub fn remove(&mut self, table: &str, id: &str) -> bool {
        let table = table.to_ascii_lowercase();
        self.unindex(&table, id);
        self.tables.get_mut(&table).is_some_and(|t| t.remove(&id.to_ascii_lowercase()).is_some())
    }

    fn unindex(&mut self, table: &str, id: &str) {
        let Some(old) = self.tables.get(table).and_then(|t| t.get(&id.to_ascii_lowercase())) else { return };
        let Some(refs) = self.refs.get_mut(table) else { return };
        for (k, v) in lookup_values(old) {
            if let Some(ids) = refs.get_mut(k) {
                if let Some(n) = ids.get_mut(&v) {
                    *n -= 1;
                    if *n == 0 {
                        ids.remove(&v);
                    }
                }
            }
        }
    }

    /// Marks row `id` of `table` as having (`true`) or no longer having (`false`) a change in the outbox.
    pub fn set_pending(&mut self, table: &str, id: &str, pending: bool) {
        let key = (table.to_ascii_lowercase(), id.to_ascii_lowercase());
        if pending {
            self.pending.insert(key);
        } else {
            self.pending.remove(&key);
        }
    }

    /// Applies the puts and deletes of `changes` (follow-ups are the host's to run).
    pub fn apply(&mut self, changes: &Changes) {
        for p in &changes.puts {
            self.put(&p.table, &p.id, p.row.clone());
        }
        for d in &changes.deletes {
            self.remove(&d.table, &d.id);
        }
    }

    /// The ids of `table`, in order.
    pub fn ids(&self, table: &str) -> Vec<String> {
        self.tables.get(&table.to_ascii_lowercase()).map(|t| t.keys().cloned().collect()).unwrap_or_default()
    }

    /// How many rows `table` holds.
    pub fn len(&self, table: &str) -> usize {
        self.tables.get(&table.to_ascii_lowercase()).map_or(0, BTreeMap::len)
    }

    /// Whether no table holds a row.
    pub fn is_empty(&self) -> bool {
        self.tables.values().all(BTreeMap::is_empty)
    }
}

impl RowSource for MemoryRows {
    fn rows<'a>(&'a self, table: &str) -> Box<dyn Iterator<Item = &'a Row> + 'a> {
        match self.tables.get(&table.to_ascii_lowercase()) {
            Some(t) => Box::new(t.values()),
            None => Box::new(std::iter::empty()),
        }
    }
}

impl LocalRows for MemoryRows {
    fn get(&self, table: &str, id: &str) -> Option<&Row> {
        self.tables.get(&table.to_ascii_lowercase()).and_then(|t| t.get(&id.to_ascii_lowercase()))
    }

    fn is_pending(&self, table: &str, id: &str) -> bool {
        self.pending.contains(&(table.to_ascii_lowercase(), id.to_ascii_lowercase()))
    }

    fn any_referencing(&self, table: &str, key: &str, id: &str) -> bool {
        self.refs
            .get(&table.to_ascii_lowercase())
            .and_then(|r| r.get(key))
            .is_some_and(|ids| ids.contains_key(&id.to_ascii_lowercase()))
    }

    fn referencing(&self, table: &str, key: &str, id: &str) -> Vec<String> {
        if !self.any_referencing(table, key, id) {
            return Vec::new();
        }
        let Some(rows) = self.tables.get(&table.to_ascii_lowercase()) else { return Vec::new() };
        rows.iter()
            .filter(|(_, r)| r.get(key).and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(id)))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: serde_json::Value) -> Row {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_lookup_index_follows_puts_and_removes() {
        let mut m = MemoryRows::new();
        m.put("b", "1", row(json!({"bid": "1", "_w_value": "W1"})));
        m.put("b", "2", row(json!({"bid": "2", "_w_value": "w1"})));
        assert!(m.any_referencing("b", "_w_value", "w1"));
        m.put("b", "1", row(json!({"bid": "1", "_w_value": "w2"})));
        assert!(m.any_referencing("b", "_w_value", "W1"));
        m.remove("b", "2");
        assert!(!m.any_referencing("b", "_w_value", "w1"));
        assert!(m.any_referencing("b", "_w_value", "w2"));
        assert!(!m.any_referencing("b", "_x_value", "w2"));
        assert!(!m.remove("b", "2"));
        assert_eq!(m.len("b"), 1);
    }
}
