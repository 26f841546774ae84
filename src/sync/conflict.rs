//! Conflicts (`412` on an update or a delete) and reverts (rejected changes).
//!
//! Policies:
//! - [`ConflictPolicy::ClientWins`] (the Power Apps default, "conflict detection: No"): the change is sent again
//!   with `If-Match: *`, overwriting the server's columns (only the changed ones). `*` rather than no `If-Match`:
//!   without it a `PATCH` is an upsert and would re-create a row deleted on the server.
//! - [`ConflictPolicy::ServerWins`] ("conflict detection: Yes"): the local row is reverted to the server's row and
//!   a sync error of errortype 0 is recorded.
//! - [`ConflictPolicy::Resolver`]: the host fetches the server row and calls a JS resolver with the local change
//!   and the server row; [`resolve`] turns its answer into a `PATCH` of the columns that differ from the server
//!   row (guarded by the server row's etag) and the local row to store.
//!
//! Reverts: a rejected create removes the local row; a rejected update or delete restores the server's row (the
//! host fetches it with [`Revert::Refetch`]; a `404` then removes the local row).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::apply::{Changes, PutRow, RowRef};
use super::download::ALL_ANNOTATIONS;
use super::errors::{SyncError, CONCURRENCY_VERSION_MISMATCH, CONFLICT};
use super::page::row_id;
use super::request::{Method, Request};
use super::upload::{build_request, request_body, row_path, Action, Guard, PendingChange, Response};
use crate::error::Result;
use crate::query::Row;
use crate::schema::Schema;

/// What to do when the server row changed since the local change was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConflictPolicy {
    /// The local change overwrites the server's (the Power Apps default).
    #[default]
    ClientWins,
    /// The server's row is kept; the local change is reverted and recorded as a sync error.
    ServerWins,
    /// A JS resolver decides.
    Resolver,
}

/// How to undo a local change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Revert {
    /// Remove the local row (a create the server did not accept).
    Remove {
        /// The row.
        row: RowRef,
    },
    /// Fetch the server's row and store it ([`refetched`]); remove the local row if the server has none.
    Refetch {
        /// The row.
        row: RowRef,
        /// `GET <set>(<id>)` with every annotation.
        request: Request,
    },
}

/// How to undo `change` locally.
pub fn revert(schema: &Schema, change: &PendingChange) -> Result<Revert> {
    let row = RowRef { table: change.table.clone(), id: change.id.clone() };
    Ok(match change.action {
        Action::Create => Revert::Remove { row },
        Action::Update | Action::Delete => {
            let request = fetch_row_request(schema, &change.table, &change.id)?;
            Revert::Refetch { row, request }
        }
    })
}

/// `GET <set>(<id>)` with `Prefer: odata.include-annotations="*"`.
pub fn fetch_row_request(schema: &Schema, table: &str, id: &str) -> Result<Request> {
    let def = schema.require_table(table)?;
    Ok(Request::new(Method::Get, row_path(def, id)).with_header("Prefer", ALL_ANNOTATIONS))
}

/// The local changes after a [`Revert::Refetch`] (or a resolver's fetch) answered: the server row to store, or
/// the local row to remove when the server answered `404`. `None` for any other answer (retry later).
pub fn refetched(schema: &Schema, row: &RowRef, response: &Response) -> Result<Option<Changes>> {
    let def = schema.require_table(&row.table)?;
    Ok(match (response.status, &response.body) {
        (Some(200), Some(Value::Object(body))) => {
            let mut stored = body.clone();
            stored.remove("@odata.context");
            let id = row_id(&stored, &def.primary_id_attribute).unwrap_or_else(|| row.id.clone());
            stored.insert(def.primary_id_attribute.clone(), Value::String(id.clone()));
            Some(Changes { puts: vec![PutRow { table: row.table.clone(), id, row: stored }], ..Default::default() })
        }
        (Some(404), _) => Some(Changes { deletes: vec![row.clone()], ..Default::default() }),
        _ => None,
    })
}

/// What to do about a conflict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ConflictStep {
    /// Client wins: send this instead (same change, `If-Match: *`).
    Resend {
        /// The request.
        request: Request,
    },
    /// Server wins: undo the local change and record the error.
    Revert {
        /// How to undo it.
        revert: Revert,
        /// The sync error to store (errortype 0).
        error: Box<SyncError>,
    },
    /// Resolver: fetch the server row with `request`, call the resolver, then [`resolve`].
    Resolve {
        /// `GET <set>(<id>)`.
        request: Request,
    },
}

/// The conflict step for `change` (sent as `sent`) under `policy`, at `now_ms`.
pub fn on_conflict(
    schema: &Schema,
    change: &PendingChange,
    sent: &Request,
    policy: ConflictPolicy,
    now_ms: i64,
) -> Result<ConflictStep> {
    Ok(match policy {
        ConflictPolicy::ClientWins => ConflictStep::Resend { request: build_request(schema, change, Guard::Any)? },
        ConflictPolicy::ServerWins => ConflictStep::Revert {
            revert: revert(schema, change)?,
            error: Box::new(SyncError::new(
                change,
                sent,
                CONCURRENCY_VERSION_MISMATCH,
                "the row was changed on the server after it was changed offline; the server's version was kept",
                CONFLICT,
                now_ms,
            )),
        },
        ConflictPolicy::Resolver => {
            ConflictStep::Resolve { request: fetch_row_request(schema, &change.table, &change.id)? }
        }
    })
}

/// The outcome of a resolver's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolution {
    /// The request to send (`None`: the server row already holds the resolved values).
    pub request: Option<Request>,
    /// The local row to store (or remove).
    pub local: Changes,
}

/// Turns a resolver's answer into the follow-up request. `server_row` is the row the server returned (with its
/// `@odata.etag`); `resolved` the columns the resolver keeps (stored shape: lookups as `_x_value` with their
/// `lookuplogicalname` annotation), or `None` to go on with a delete. Only columns that differ from the server row
/// are sent, with `If-Match: <server etag>` (a further change on the server is a new conflict).
pub fn resolve(
    schema: &Schema,
    change: &PendingChange,
    server_row: &Row,
    resolved: Option<&Row>,
) -> Result<Resolution> {
    let etag = server_row.get("@odata.etag").and_then(Value::as_str).map(str::to_string);
    let row = RowRef { table: change.table.clone(), id: change.id.clone() };
    let Some(resolved) = resolved else {
        let delete = PendingChange { action: Action::Delete, changes: Map::new(), etag, ..change.clone() };
        return Ok(Resolution {
            request: Some(build_request(schema, &delete, Guard::Etag)?),
            local: Changes { deletes: vec![row], ..Default::default() },
        });
    };
    let mut diff = Map::new();
    let mut local = server_row.clone();
    local.remove("@odata.context");
    for (k, v) in resolved {
        if server_row.get(k) != Some(v) {
            diff.insert(k.clone(), v.clone());
        }
        local.insert(k.clone(), v.clone());
    }
    let put = PutRow { table: change.table.clone(), id: change.id.clone(), row: local };
    let local = Changes { puts: vec![put], ..Default::default() };
    if request_body(schema, &change.table, &diff)?.is_empty() {
        return Ok(Resolution { request: None, local });
    }
    let update = PendingChange { action: Action::Update, changes: diff, etag, ..change.clone() };
    Ok(Resolution { request: Some(build_request(schema, &update, Guard::Etag)?), local })
}
