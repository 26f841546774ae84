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
}

/// Rows in memory by table and id, plus the set of pending (outbox) rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryRows {
    tables: HashMap<String, BTreeMap<String, Row>>,
    pending: HashSet<(String, String)>,
}

impl MemoryRows {
    /// An empty store.
    pub fn new() -> MemoryRows {
        MemoryRows::default()
    }

    /// Stores (or replaces) row `id` of `table`.
    pub fn put(&mut self, table: &str, id: &str, row: Row) {
        self.tables.entry(table.to_ascii_lowercase()).or_default().insert(id.to_ascii_lowercase(), row);
    }

    /// Removes row `id` of `table`; whether it was there.
    pub fn remove(&mut self, table: &str, id: &str) -> bool {
        self.tables.get_mut(&table.to_ascii_lowercase()).is_some_and(|t| t.remove(&id.to_ascii_lowercase()).is_some())
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
}
