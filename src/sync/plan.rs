//! [`SyncPlan`]: everything the core derives once from a profile and a schema: per table, in sync order, its
//! download query, columns, window-refresh query, and which other tables its rows bring in.

use std::collections::HashMap;

use super::download::{download_columns, download_query, own_rows, refresh_query, selections, FetchQuery, Selection};
use crate::error::{Error, Result};
use crate::profile::{Link, LinkKind, OwnRows, Profile};
use crate::query::plan::Columns;
use crate::schema::Schema;

/// A lookup that brings rows of another table into scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The other table (logical name).
    pub table: String,
    /// The lookup column (logical name). For [`TablePlan::parents`] it is on this table; for
    /// [`TablePlan::children`] it is on the other table.
    pub column: String,
}

/// What the core knows about one profile table.
#[derive(Debug, Clone, PartialEq)]
pub struct TablePlan {
    /// Logical name.
    pub table: String,
    /// Web API entity set.
    pub entity_set: String,
    /// Primary id column.
    pub primary_id: String,
    /// The item's sync interval, in minutes.
    pub interval_minutes: u32,
    /// Tables this one depends on (they sync first).
    pub depends_on: Vec<String>,
    /// The item's relationships, resolved.
    pub links: Vec<Link>,
    /// The item's own filter.
    pub own: OwnRows,
    /// Which rows the profile selects (own filter OR relationships, recursively).
    pub selection: Selection,
    /// The columns downloaded.
    pub columns: Columns,
    /// The first-sync download query; `None` when the profile selects no row of the table.
    pub download: Option<FetchQuery>,
    /// The window-refresh query (own filter, primary id only) when the own filter can change without the row
    /// changing (relative dates, user operators, related-row filters).
    pub refresh: Option<FetchQuery>,
    /// Tables whose rows this table's in-scope rows bring in through a lookup of this table (the work order's
    /// service account): when such a lookup names a row missing locally, the core fetches it.
    pub parents: Vec<Reference>,
    /// Tables whose rows that point at an in-scope row of this table are in scope (work order products of a work
    /// order): when a row of this table enters the scope, the core fetches those.
    pub children: Vec<Reference>,
}

/// The sync plan of a profile over a schema: one [`TablePlan`] per item, in sync order (parents first).
#[derive(Debug, Clone)]
pub struct SyncPlan {
    schema: Schema,
    tables: Vec<TablePlan>,
    by_name: HashMap<String, usize>,
}

impl SyncPlan {
    /// Builds the plan. Errors: the profile does not validate against the schema (all messages joined), or a
    /// filter cannot be written as FetchXML.
    pub fn new(profile: &Profile, schema: &Schema) -> Result<SyncPlan> {
        let errors = profile.validate(schema);
        if !errors.is_empty() {
            let text: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
            return Err(Error::profile(format!("the profile can't be synced: {}", text.join("; "))));
        }
        let selections = selections(profile, schema)?;
        let deps = profile.dependencies(schema);
        let mut tables = Vec::new();
        for index in profile.sync_order(schema) {
            let item = &profile.items[index];
            let def = schema.require_table(&item.table)?;
            let own = own_rows(profile, schema, index)?;
            let columns = download_columns(profile, schema, index)?;
            let selection = selections[index].clone();
            let download = download_query(def, &selection, &columns)?;
            let refresh = refresh_query(def, &own)?;
            let mut parents = Vec::new();
            let mut children = Vec::new();
            for j in 0..profile.items.len() {
                for link in profile.links(schema, j) {
                    if !link.other_table.eq_ignore_ascii_case(&def.logical_name) {
                        continue;
                    }
                    let other = profile.items[j].table.to_ascii_lowercase();
                    match link.kind {
                        LinkKind::ReferencedBy { column } => parents.push(Reference { table: other, column }),
                        LinkKind::References { column } => children.push(Reference { table: other, column }),
                    }
                }
            }
            tables.push(TablePlan {
                table: def.logical_name.clone(),
                entity_set: def.entity_set_name.clone(),
                primary_id: def.primary_id_attribute.clone(),
                interval_minutes: item.sync_interval_minutes,
                depends_on: deps[index].iter().map(|&d| profile.items[d].table.to_ascii_lowercase()).collect(),
                links: profile.links(schema, index),
                own,
                selection,
                columns,
                download,
                refresh,
                parents,
                children,
            });
        }
        let by_name = tables.iter().enumerate().map(|(i, t)| (t.table.clone(), i)).collect();
        Ok(SyncPlan { schema: schema.clone(), tables, by_name })
    }

    /// The tables, in sync order.
    pub fn tables(&self) -> &[TablePlan] {
        &self.tables
    }

    /// The plan of `table` (logical name, case-insensitive).
    pub fn table(&self, table: &str) -> Option<&TablePlan> {
        self.by_name.get(&table.to_ascii_lowercase()).map(|&i| &self.tables[i])
    }

    /// The plan of `table`, or a `TableNotAvailableOffline` error.
    pub fn require_table(&self, table: &str) -> Result<&TablePlan> {
        self.table(table).ok_or_else(|| {
            Error::new(
                crate::error::ErrorCode::TableNotAvailableOffline,
                format!("the table '{table}' is not in the offline profile"),
            )
        })
    }

    /// The schema the plan was built over.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }
}
