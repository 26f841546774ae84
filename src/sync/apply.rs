//! Applying downloaded rows and deletions to the local store: what to put, what to delete, and which related rows
//! to fetch next.
//!
//! Decisions, for each changed row of a table (cost: a few key look-ups per changed row, never a table scan):
//! - it is **in scope** when the outbox holds a change of it, its own filter matches (compiled once per call), a
//!   lookup of a relationship points at a row present locally, or a local row of a related table points at it
//!   ([`LocalRows::any_referencing`]). "Present locally" stands for "in scope": rows that left the scope are
//!   evicted at the end of every sync ([`SyncPlan::evictions`]), which also settles what this approximation kept.
//! - it is **put** when in scope, or when it is stored already (fresh values; the eviction pass removes it if it
//!   left the scope) — except a row with a change in the outbox, which a download never overwrites (uploads run
//!   before downloads; the next delta brings the server's row back).
//! - **follow-ups**: for each in-scope row, the rows its lookups bring in ([`TablePlan::parents`]) that are
//!   missing locally, fetched by id; for each row that *enters* the scope, the rows of tables that point at it
//!   ([`TablePlan::children`]), fetched with `in` conditions. Both in chunks of [`IDS_PER_QUERY`] ids, so URLs stay
//!   short. The host applies the puts first, then runs the follow-ups and applies their rows with
//!   [`SyncPlan::apply`] again, until no follow-up is left.
//!
//! [`TablePlan::parents`]: super::TablePlan::parents
//! [`TablePlan::children`]: super::TablePlan::children

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::download::{ids_query, FetchQuery};
use super::local::LocalRows;
use super::page::{row_id, Page};
use super::plan::SyncPlan;
use crate::error::Result;
use crate::profile::{LinkKind, OwnRows};
use crate::query::{EvalContext, Predicate, Row};
use crate::store::guid;

/// Ids per follow-up query (an `in` condition of 100 GUIDs makes a URL of about 6.5 KB once encoded; Dataverse
/// accepts URLs up to 32 KB).
pub const IDS_PER_QUERY: usize = 100;

/// A row of a table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowRef {
    /// Table logical name.
    pub table: String,
    /// Primary id, lower case.
    pub id: String,
}

/// A row to store (replacing any stored row of that id).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRow {
    /// Table logical name.
    pub table: String,
    /// Primary id, lower case.
    pub id: String,
    /// The row in the Web API shape.
    pub row: Row,
}

/// Why a follow-up query is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FollowUpReason {
    /// Rows a delta reported changed (ids only): fetch them with the profile's columns.
    Changed,
    /// Rows an in-scope row points at that are missing locally.
    Parent,
    /// Rows pointing at rows that entered the scope.
    Children,
    /// Rows a window-refresh query found in scope that are missing locally.
    Window,
}

/// A query the host must run (page by page), then pass its rows to [`SyncPlan::apply`] for `query.table`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowUp {
    /// Why.
    pub reason: FollowUpReason,
    /// The ids in the `in` condition (for logs and tests).
    pub ids: Vec<String>,
    /// The query.
    pub query: FetchQuery,
}

/// Instructions for the host: store `puts`, remove `deletes` (in one transaction), then run `follow_ups`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    /// Rows to store.
    pub puts: Vec<PutRow>,
    /// Rows to remove.
    pub deletes: Vec<RowRef>,
    /// Queries to run next.
    pub follow_ups: Vec<FollowUp>,
}

impl Changes {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty() && self.follow_ups.is_empty()
    }

    /// Appends `other`.
    pub fn extend(&mut self, other: Changes) {
        self.puts.extend(other.puts);
        self.deletes.extend(other.deletes);
        self.follow_ups.extend(other.follow_ups);
    }
}

fn lookup_of(row: &Row, column: &str) -> Option<String> {
    row.get(&format!("_{column}_value")).and_then(Value::as_str).and_then(guid::normalize)
}

/// Whether a delta row carries columns (beyond the primary id and annotations) or only says "this id changed".
fn has_columns(row: &Row, primary_id: &str) -> bool {
    row.keys().any(|k| k != primary_id && !k.starts_with('@'))
}

impl SyncPlan {
    /// Decides what to do with `rows` (server shape, with the profile's columns) and `deleted` ids of `table`,
    /// given the local store. See the module documentation for the rules.
    pub fn apply(
        &self,
        local: &dyn LocalRows,
        ctx: &EvalContext,
        table: &str,
        rows: &[Row],
        deleted: &[String],
    ) -> Result<Changes> {
        let tp = self.require_table(table)?;
        let own = match &tp.own {
            OwnRows::Matching(f) => Some(Predicate::compile(self.schema(), &tp.table, f, local, ctx)?),
            _ => None,
        };
        let own_all = matches!(tp.own, OwnRows::All);
        let mut changes = Changes::default();
        let mut entered: Vec<String> = Vec::new();
        let mut missing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for row in rows {
            let Some(id) = row_id(row, &tp.primary_id) else { continue };
            let present = local.get(&tp.table, &id).is_some();
            let pending = local.is_pending(&tp.table, &id);
            let in_scope = pending
                || own_all
                || own.as_ref().is_some_and(|p| p.test(row))
                || tp.links.iter().any(|link| match &link.kind {
                    LinkKind::References { column } => {
                        lookup_of(row, column).is_some_and(|v| local.get(&link.other_table, &v).is_some())
                    }
                    LinkKind::ReferencedBy { column } => {
                        local.any_referencing(&link.other_table, &format!("_{column}_value"), &id)
                    }
                });
            if (in_scope || present) && !pending {
                let mut row = row.clone();
                row.insert(tp.primary_id.clone(), Value::String(id.clone()));
                changes.puts.push(PutRow { table: tp.table.clone(), id: id.clone(), row });
            }
            if !in_scope {
                continue;
            }
            if !present {
                entered.push(id.clone());
            }
            for p in &tp.parents {
                if let Some(v) = lookup_of(row, &p.column) {
                    if local.get(&p.table, &v).is_none() {
                        missing.entry(p.table.clone()).or_default().insert(v);
                    }
                }
            }
        }
        for id in deleted {
            let Some(id) = guid::normalize(id) else { continue };
            if local.get(&tp.table, &id).is_some() {
                changes.deletes.push(RowRef { table: tp.table.clone(), id });
            }
        }
        for (t, ids) in missing {
            let ids: Vec<String> = ids.into_iter().collect();
            changes.follow_ups.extend(self.fetch_by_ids(&t, &ids, FollowUpReason::Parent)?);
        }
        if !entered.is_empty() {
            for c in &tp.children {
                let child = self.require_table(&c.table)?;
                let def = self.schema().require_table(&child.table)?;
                for chunk in entered.chunks(IDS_PER_QUERY) {
                    changes.follow_ups.push(FollowUp {
                        reason: FollowUpReason::Children,
                        ids: chunk.to_vec(),
                        query: ids_query(def, &c.column, chunk, &child.columns)?,
                    });
                }
            }
        }
        Ok(changes)
    }

    /// Applies one page of a change-tracking read of `table`: deletions are decided at once, rows that carry
    /// columns are applied as by [`SyncPlan::apply`], and rows that carry only their id (the delta link selects
    /// the primary id) become [`FollowUpReason::Changed`] queries that fetch them with the profile's columns.
    pub fn apply_delta(&self, local: &dyn LocalRows, ctx: &EvalContext, table: &str, page: &Page) -> Result<Changes> {
        let tp = self.require_table(table)?;
        let (full, ids_only): (Vec<&Row>, Vec<&Row>) = page.rows.iter().partition(|r| has_columns(r, &tp.primary_id));
        let full: Vec<Row> = full.into_iter().cloned().collect();
        let mut changes = self.apply(local, ctx, table, &full, &page.deleted)?;
        let ids: Vec<String> = ids_only.iter().filter_map(|r| row_id(r, &tp.primary_id)).collect();
        changes.follow_ups.extend(self.fetch_by_ids(table, &ids, FollowUpReason::Changed)?);
        Ok(changes)
    }

    /// Queries fetching rows `ids` of `table` with the profile's columns, [`IDS_PER_QUERY`] ids each (none when
    /// `ids` is empty).
    pub fn fetch_by_ids(&self, table: &str, ids: &[String], reason: FollowUpReason) -> Result<Vec<FollowUp>> {
        let tp = self.require_table(table)?;
        let def = self.schema().require_table(&tp.table)?;
        let mut ids: Vec<String> = ids.iter().filter_map(|i| guid::normalize(i)).collect();
        crate::sort::sort_dedup(&mut ids);
        ids.chunks(IDS_PER_QUERY)
            .map(|chunk| {
                Ok(FollowUp { reason, ids: chunk.to_vec(), query: ids_query(def, &tp.primary_id, chunk, &tp.columns)? })
            })
            .collect()
    }

    /// After a window-refresh query of `table` returned `ids` (rows its own filter selects now): queries fetching
    /// those missing locally.
    pub fn refresh_missing(&self, local: &dyn LocalRows, table: &str, ids: &[String]) -> Result<Vec<FollowUp>> {
        let tp = self.require_table(table)?;
        let missing: Vec<String> =
            ids.iter().filter_map(|i| guid::normalize(i)).filter(|i| local.get(&tp.table, i).is_none()).collect();
        self.fetch_by_ids(table, &missing, FollowUpReason::Window)
    }
}
