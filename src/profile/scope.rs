//! Which stored rows a profile keeps: the filters and relationships evaluated over a [`RowSource`], table by table
//! in sync order. The sync engine evicts the rows outside the scope after each sync.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::model::{ItemFilter, OwnRows, Profile};
use super::validate::LinkKind;
use crate::error::Result;
use crate::query::plan::Filter;
use crate::query::{matches, parse_fetchxml_filter, EvalContext, Row, RowSource};
use crate::schema::Schema;

/// The ids of the in-scope rows of each profile table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    tables: HashMap<String, HashSet<String>>,
}

impl Scope {
    /// Whether row `id` of `table` is in scope (ids compare case-insensitively).
    pub fn contains(&self, table: &str, id: &str) -> bool {
        self.ids(table).is_some_and(|ids| ids.contains(&id.to_ascii_lowercase()))
    }

    /// The in-scope ids (lower case) of `table`; `None` when the table is not in the profile.
    pub fn ids(&self, table: &str) -> Option<&HashSet<String>> {
        self.tables.get(&table.to_ascii_lowercase())
    }

    /// How many rows of `table` are in scope.
    pub fn len(&self, table: &str) -> usize {
        self.ids(table).map_or(0, HashSet::len)
    }

    /// Whether no table has an in-scope row.
    pub fn is_empty(&self) -> bool {
        self.tables.values().all(HashSet::is_empty)
    }
}

fn id_of(row: &Row, key: &str) -> Option<String> {
    row.get(key).and_then(Value::as_str).map(str::to_ascii_lowercase)
}

impl Profile {
    /// Evaluates the profile over `source`: for each item in [`Profile::sync_order`], the rows its own filter
    /// selects, OR the rows its relationships bring in from the tables already evaluated. Custom filters not yet
    /// parsed (see [`Profile::prepare`]) are parsed here. Tables not in the schema are skipped.
    pub fn scope(&self, schema: &Schema, source: &dyn RowSource, ctx: &EvalContext) -> Result<Scope> {
        let mut scope = Scope::default();
        for index in self.sync_order(schema) {
            let item = &self.items[index];
            let Some(def) = schema.table(&item.table) else { continue };
            let own = match &item.filter {
                ItemFilter::Custom(c) if c.plan.is_none() => {
                    match parse_fetchxml_filter(schema, &def.logical_name, &c.fetchxml)? {
                        Some(f) => OwnRows::Matching(f),
                        None => OwnRows::Matching(Filter::And(Vec::new())),
                    }
                }
                f => f.own_rows(),
            };
            // What each relationship accepts: a lookup value of this table's rows, or this table's own id.
            let mut by_lookup: Vec<(String, &HashSet<String>)> = Vec::new();
            let mut referenced_ids: HashSet<String> = HashSet::new();
            for link in self.links(schema, index) {
                let Some(other) = scope.tables.get(&link.other_table) else { continue };
                match link.kind {
                    LinkKind::References { column } => by_lookup.push((format!("_{column}_value"), other)),
                    LinkKind::ReferencedBy { column } => {
                        let key = format!("_{column}_value");
                        let Some(other_def) = schema.table(&link.other_table) else { continue };
                        for row in source.rows(&other_def.logical_name) {
                            let in_scope =
                                id_of(row, &other_def.primary_id_attribute).is_some_and(|id| other.contains(&id));
                            if let (true, Some(target)) = (in_scope, id_of(row, &key)) {
                                referenced_ids.insert(target);
                            }
                        }
                    }
                }
            }
            let mut ids = HashSet::new();
            for row in source.rows(&def.logical_name) {
                let Some(id) = id_of(row, &def.primary_id_attribute) else { continue };
                let related = referenced_ids.contains(&id)
                    || by_lookup.iter().any(|(key, set)| id_of(row, key).is_some_and(|v| set.contains(&v)));
                let keep = related
                    || match &own {
                        OwnRows::None => false,
                        OwnRows::All => true,
                        OwnRows::Matching(f) => matches(schema, &def.logical_name, f, row, source, ctx)?,
                    };
                if keep {
                    ids.insert(id);
                }
            }
            scope.tables.insert(def.logical_name.clone(), ids);
        }
        Ok(scope)
    }
}
