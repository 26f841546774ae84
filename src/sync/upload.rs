//! Uploading the outbox: coalescing queued changes per row, building each Web API request, and classifying the
//! response.
//!
//! Decisions:
//! - **Creates are `PATCH <set>(<id>)` with `If-None-Match: *`** (an upsert that may only create), not `POST`: the
//!   id is generated on the device, so a create retried after a lost response, a reload or a crash finds the row
//!   already there and the server answers `412 Precondition Failed`, which for a create means "done". A `POST`
//!   with the id in the body would be idempotent too (a duplicate answers `0x80040237`, also treated as done), but
//!   the `If-None-Match` form is the one Dataverse documents for "create only"
//!   ([Upsert a table row](https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api#prevent-update-in-upsert)).
//! - **Updates are `PATCH` with `If-Match: <etag>`** and only the changed columns (without an etag, `If-Match: *`,
//!   so a row deleted on the server is never re-created by an update). Deletes are `DELETE` with `If-Match`.
//! - Creates and updates ask `Prefer: return=representation` with `$select=<primary id>`, so the response carries
//!   the row's new `@odata.etag` for the next change of the same row.
//! - Lookups become `<navigation property>@odata.bind: "/<set>(<id>)"` using the relationship's single-valued
//!   navigation property for the lookup's target table (Customer and Owner lookups: the one of the target); a
//!   cleared lookup is `<navigation property>@odata.bind: null`
//!   ([Associate and disassociate table rows](https://learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api)).

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::request::{Method, Request};
use crate::error::{Error, ErrorCode, Result};
use crate::query::Row;
use crate::read::{self, Fields, Read};
use crate::schema::{AttributeDef, Schema, TableDef};
use crate::store::write::LOOKUP_LOGICAL_NAME;

/// What an outbox entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `createRecord`
    Create,
    /// `updateRecord`
    Update,
    /// `deleteRecord`
    Delete,
}

impl Action {
    /// `Create`, `Update`, `Delete` (the `syncerror` action names).
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "Create",
            Action::Update => "Update",
            Action::Delete => "Delete",
        }
    }
}

/// An outbox entry as the browser store writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEntry {
    /// Queue position (IndexedDB auto-increment key).
    pub seq: u64,
    /// Table logical name.
    pub table: String,
    /// Row id.
    pub id: String,
    /// What the entry does.
    pub action: Action,
    /// The columns written, in the stored shape (lookups as `_x_value` with annotations).
    #[serde(default)]
    pub changes: Row,
    /// The row's `@odata.etag` when the change was made (updates and deletes).
    #[serde(default)]
    pub etag: Option<String>,
    /// When the change was queued (ISO 8601).
    #[serde(default)]
    pub queued_on: Option<String>,
}

/// One change to upload: one or more outbox entries of a row, coalesced.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingChange {
    /// Table logical name.
    pub table: String,
    /// Row id (lower case).
    pub id: String,
    /// What to do.
    pub action: Action,
    /// The merged columns (stored shape).
    pub changes: Row,
    /// The etag the change was made against (the first entry's).
    pub etag: Option<String>,
    /// The outbox entries this change covers; remove them all when it is settled.
    pub seqs: Vec<u64>,
}

// `Deserialize` is written out (crate::read says why); the tests compare it with the derive.
impl Action {
    pub(crate) fn read(v: &Value) -> Read<Action> {
        Ok([Action::Create, Action::Update, Action::Delete][read::variant(v, &["create", "update", "delete"])?])
    }
}

impl OutboxEntry {
    pub(crate) fn read(v: &Value) -> Read<OutboxEntry> {
        let f = Fields::of(v, "OutboxEntry")?;
        Ok(OutboxEntry {
            seq: f.with("seq", read::u64)?,
            table: f.with("table", read::string)?,
            id: f.with("id", read::string)?,
            action: f.with("action", Action::read)?,
            changes: f.or_default("changes", read::object)?,
            etag: f.opt("etag", read::string)?,
            queued_on: f.opt("queuedOn", read::string)?,
        })
    }
}

impl PendingChange {
    pub(crate) fn read(v: &Value) -> Read<PendingChange> {
        let f = Fields::of(v, "PendingChange")?;
        Ok(PendingChange {
            table: f.with("table", read::string)?,
            id: f.with("id", read::string)?,
            action: f.with("action", Action::read)?,
            changes: f.with("changes", read::object)?,
            etag: f.opt("etag", read::string)?,
            seqs: f.with("seqs", |v| read::list(v, read::u64))?,
        })
    }
}

crate::deserialize_by_hand!(Action);
crate::deserialize_by_hand!(OutboxEntry);
crate::deserialize_by_hand!(PendingChange);

/// The outbox, coalesced.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Coalesced {
    /// Changes to upload, in order.
    pub changes: Vec<PendingChange>,
    /// Entries that cancel out (a create then a delete of the same row): remove them without uploading.
    pub dropped: Vec<u64>,
}

fn merge(into: &mut Row, changes: &Row) {
    for (k, v) in changes {
        if v.is_null() && k.ends_with("_value") && !k.contains('@') {
            // A cleared lookup drops the annotations an earlier change set.
            let prefix = format!("{k}@");
            into.retain(|rk, _| !rk.starts_with(&prefix));
        }
        into.insert(k.clone(), v.clone());
    }
}

/// Lookup ids a change sets.
fn lookup_ids(changes: &Row) -> impl Iterator<Item = String> + '_ {
    changes
        .iter()
        .filter(|(k, _)| k.starts_with('_') && k.ends_with("_value"))
        .filter_map(|(_, v)| v.as_str().map(str::to_ascii_lowercase))
}

/// Coalesces the outbox per row, keeping the queue order: create + updates → one create with the merged columns;
/// updates → one update (against the first entry's etag); create … delete → nothing; updates + delete → delete.
/// A merged change takes the place of the row's first entry, except that an update naming (through a lookup) a
/// row created later in the queue starts a new change there, so a row is never uploaded before a row it points at.
/// Entries are sorted by `seq` first.
pub fn coalesce(entries: &[OutboxEntry]) -> Coalesced {
    let mut sorted: Vec<&OutboxEntry> = entries.iter().collect();
    crate::sort::sort_by_key(&mut sorted, |e| e.seq);
    let mut out: Vec<Option<PendingChange>> = Vec::new();
    // Keyed by table, NUL, id: a map of `String` keys is compiled anyway, one of pairs would add its own code.
    let mut open: HashMap<String, usize> = HashMap::new();
    let mut created_at: HashMap<String, usize> = HashMap::new();
    let mut dropped = Vec::new();
    for e in sorted {
        let (table, id) = (e.table.to_ascii_lowercase(), e.id.to_ascii_lowercase());
        let key = format!("{table}\0{id}");
        let slot = open.get(&key).copied();
        let merged = match slot {
            Some(i) => {
                let blocked = e.action == Action::Update
                    && lookup_ids(&e.changes).any(|id| created_at.get(&id).is_some_and(|&c| c > i));
                if blocked {
                    None
                } else {
                    let Some(c) = out[i].as_mut() else { continue };
                    match (c.action, e.action) {
                        (Action::Create | Action::Update, Action::Update) => {
                            merge(&mut c.changes, &e.changes);
                            c.seqs.push(e.seq);
                            Some(())
                        }
                        (Action::Create, Action::Delete) => {
                            dropped.extend(c.seqs.iter().copied());
                            dropped.push(e.seq);
                            out[i] = None;
                            open.remove(&key);
                            Some(())
                        }
                        (Action::Update, Action::Delete) => {
                            c.action = Action::Delete;
                            c.changes = Map::new();
                            c.seqs.push(e.seq);
                            Some(())
                        }
                        // After a delete (or a create of an existing change), keep the entries apart.
                        _ => None,
                    }
                }
            }
            None => None,
        };
        if merged.is_none() {
            let i = out.len();
            out.push(Some(PendingChange {
                table,
                id: id.clone(),
                action: e.action,
                changes: e.changes.clone(),
                etag: e.etag.clone(),
                seqs: vec![e.seq],
            }));
            if e.action == Action::Create {
                created_at.insert(id, i);
            }
            open.insert(key, i);
        }
    }
    crate::sort::sort_by(&mut dropped, Ord::cmp);
    Coalesced { changes: out.into_iter().flatten().collect(), dropped }
}

/// After a change of a row succeeded with a new etag: later changes of the same row are made against it.
pub fn propagate_etag(changes: &mut [PendingChange], table: &str, id: &str, etag: &str) {
    for c in changes.iter_mut().filter(|c| c.table.eq_ignore_ascii_case(table) && c.id.eq_ignore_ascii_case(id)) {
        c.etag = Some(etag.to_string());
    }
}

/// `<set>(<id>)`.
pub fn row_path(def: &TableDef, id: &str) -> String {
    format!("{}({})", def.entity_set_name, id.to_ascii_lowercase())
}

/// The single-valued navigation property of lookup `attr` of `def` pointing at `target`: the relationship's
/// `ReferencingEntityNavigationPropertyName`, or the column's logical name when the schema has no relationship for
/// it (Dataverse names `ownerid`'s navigation property `ownerid`).
pub fn navigation_property(def: &TableDef, attr: &AttributeDef, target: Option<&str>) -> String {
    let candidates =
        def.many_to_one.iter().filter(|r| r.referencing_attribute.eq_ignore_ascii_case(&attr.logical_name));
    let mut first = None;
    for r in candidates {
        if target.is_none_or(|t| r.referenced_entity.eq_ignore_ascii_case(t)) {
            return r.referencing_navigation.clone();
        }
        first.get_or_insert_with(|| r.referencing_navigation.clone());
    }
    match (target, first) {
        (None, Some(nav)) => nav,
        _ => attr.logical_name.clone(),
    }
}

/// The Web API body of a create or an update: plain columns as they are, lookups as `@odata.bind`. Keys that are
/// annotations, the primary id and unknown columns are left out.
pub fn request_body(schema: &Schema, table: &str, changes: &Row) -> Result<Map<String, Value>> {
    let def = schema.require_table(table)?;
    let mut body = Map::new();
    for (key, value) in changes {
        if key.contains('@') {
            continue;
        }
        let Some(attr) = def.attribute_by_row_key(key) else { continue };
        if attr.logical_name == def.primary_id_attribute {
            continue;
        }
        if attr.attribute_type.is_lookup() {
            let target = changes
                .get(&format!("{key}{LOOKUP_LOGICAL_NAME}"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| (attr.targets.len() == 1).then(|| attr.targets[0].clone()));
            let nav = navigation_property(def, attr, target.as_deref());
            let bound = match (value.as_str(), &target) {
                (Some(id), Some(t)) => {
                    let set = schema.require_table(t)?;
                    Value::String(format!("/{}({})", set.entity_set_name, id.to_ascii_lowercase()))
                }
                (Some(_), None) => {
                    return Err(Error::argument(format!(
                        "the lookup '{}' of '{table}' names no table (missing {LOOKUP_LOGICAL_NAME})",
                        attr.logical_name
                    )))
                }
                (None, _) => Value::Null,
            };
            body.insert(format!("{nav}@odata.bind"), bound);
        } else {
            body.insert(attr.logical_name.clone(), value.clone());
        }
    }
    Ok(body)
}

/// How to guard a write with `If-Match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// The change's etag (`*` when it has none): detects conflicts.
    Etag,
    /// `If-Match: *`: overwrite whatever version the server holds, but never re-create a deleted row (client wins).
    Any,
}

/// The request uploading `change`.
pub fn build_request(schema: &Schema, change: &PendingChange, guard: Guard) -> Result<Request> {
    let def = schema.require_table(&change.table)?;
    let path = row_path(def, &change.id);
    let if_match = match (guard, &change.etag) {
        (Guard::Etag, Some(tag)) => tag.clone(),
        _ => "*".to_string(),
    };
    let select = format!("{path}?$select={}", def.primary_id_attribute);
    Ok(match change.action {
        Action::Create => Request::new(Method::Patch, select)
            .with_header("If-None-Match", "*")
            .with_header("Prefer", "return=representation")
            .with_body(Value::Object(request_body(schema, &change.table, &change.changes)?)),
        Action::Update => Request::new(Method::Patch, select)
            .with_header("If-Match", if_match)
            .with_header("Prefer", "return=representation")
            .with_body(Value::Object(request_body(schema, &change.table, &change.changes)?)),
        Action::Delete => Request::new(Method::Delete, path).with_header("If-Match", if_match),
    })
}

/// A response, as the host saw it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// The HTTP status; `None` when no response arrived (network error, timeout, aborted).
    pub status: Option<u16>,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl Response {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The Dataverse error body's `code` and `message`.
    pub fn error(&self) -> (Option<String>, Option<String>) {
        let e = self.body.as_ref().and_then(|b| b.get("error"));
        let get = |k: &str| e.and_then(|e| e.get(k)).and_then(Value::as_str).map(str::to_string);
        (get("code"), get("message"))
    }
}

/// What a response means for the change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Outcome {
    /// Uploaded (or already uploaded: a retried create, a delete of a row already gone). Remove the entries;
    /// store `etag` on the local row when given.
    Done {
        /// The row's new `@odata.etag`.
        etag: Option<String>,
    },
    /// `412`: the server row changed since the change was made. Apply the conflict policy.
    Conflict,
    /// Any other 4xx: revert the local change, record a sync error, go on with the queue.
    Rejected {
        /// The Dataverse error code (`0x80040217`); `0x80a00008` (ServerError) when the body has none.
        code: String,
        /// The server's message.
        message: String,
        /// `syncerror` errortype: 0 conflict, 1 record not found, 2 already exists, 3 other.
        errortype: u8,
    },
    /// Network error, 401, 408, 429, 5xx: keep the change and retry later (after `retry_after_secs` at least).
    Transient {
        /// `Retry-After`, in seconds.
        retry_after_secs: Option<u64>,
    },
}

/// The hex code Dataverse uses for a duplicate row.
pub const DUPLICATE_RECORD: &str = "0x80040237";
/// The hex code Dataverse uses for a missing row.
pub const RECORD_NOT_FOUND: &str = "0x80040217";

/// Reads `Retry-After` as seconds (an HTTP date is not honoured: Dataverse sends seconds).
pub fn retry_after_secs(value: &str) -> Option<u64> {
    let v = value.trim();
    v.parse::<u64>().ok().or_else(|| crate::num::parse_f64(v).filter(|f| *f >= 0.0).map(|f| f.ceil() as u64))
}

/// Classifies the response to the upload of a change of kind `action`.
pub fn classify(action: Action, response: &Response) -> Outcome {
    let Some(status) = response.status else { return Outcome::Transient { retry_after_secs: None } };
    let (code, message) = response.error();
    let etag = response
        .body
        .as_ref()
        .and_then(|b| b.get("@odata.etag"))
        .and_then(Value::as_str)
        .or_else(|| response.header("ETag"))
        .map(str::to_string);
    let is = |c: &str| code.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(c));
    match status {
        200..=299 => Outcome::Done { etag },
        401 | 408 | 429 | 500..=599 => {
            Outcome::Transient { retry_after_secs: response.header("Retry-After").and_then(retry_after_secs) }
        }
        412 if action == Action::Create => Outcome::Done { etag: None },
        _ if action == Action::Create && is(DUPLICATE_RECORD) => Outcome::Done { etag: None },
        404 if action == Action::Delete => Outcome::Done { etag: None },
        412 => Outcome::Conflict,
        _ => {
            let errortype = if status == 404 || is(RECORD_NOT_FOUND) {
                1
            } else if is(DUPLICATE_RECORD) {
                2
            } else {
                3
            };
            // An error body with an empty code or message says nothing: the sync error still needs both.
            Outcome::Rejected {
                code: code.filter(|c| !c.trim().is_empty()).unwrap_or_else(|| ErrorCode::ServerError.hex_string()),
                message: message
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| format!("the server answered {status} without saying why")),
                errortype,
            }
        }
    }
}
