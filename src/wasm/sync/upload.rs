//! Uploading the outbox and settling each change: the host half of docs/SYNC.md "Upload" and "Conflicts and
//! rejections". Each settled change leaves the outbox in the same transaction that stores its outcome (new etag,
//! reverted row, sync error), so a reload at any moment either re-sends it (idempotent: creates are create-only
//! upserts, updates carry If-Match) or finds it settled.

use js_sys::{Array, Promise};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::transport::SendError;
use super::{store_failed, Pass, Report, SyncInner};
use crate::error::Error;
use crate::query::Row;
use crate::store::layout::{table_store, OUTBOX, SYNC_ERRORS};
use crate::sync::upload::{
    build_request, classify, coalesce, propagate_etag, Action, Guard, OutboxEntry, Outcome, PendingChange,
};
use crate::sync::{on_conflict, resolve, revert, Changes, ConflictStep, Request, Response, Revert, SyncError};
use crate::wasm::convert::{self, from_js};
use crate::wasm::store::{idb, idb_err, js_err, modify_row_in, op, stores};

fn failed(e: Error) -> SendError {
    SendError::Failed { status: 0, error: e }
}

fn transient(res: &Response, retry_after: Option<u64>) -> SendError {
    match res.status {
        None => SendError::Unreachable,
        Some(s) => SendError::Transient { status: s, retry_after },
    }
}

/// Uploads every queued change in order; stops at the first transient failure.
pub(super) async fn run(inner: &SyncInner, mirror: &mut Pass, report: &mut Report) -> Result<(), SendError> {
    let raw = idb::get_all(&inner.store.db, OUTBOX, None, JsValue::UNDEFINED, None)
        .await
        .map_err(|e| store_failed(idb_err("upload: reading the outbox", e)))?;
    let values = crate::wasm::convert::array(raw).map_err(|e| store_failed(e.into()))?;
    let entries: Vec<OutboxEntry> = values.iter().filter_map(|v| OutboxEntry::read(v).ok()).collect();
    if entries.is_empty() {
        return Ok(());
    }
    let coalesced = coalesce(&entries);
    if !coalesced.dropped.is_empty() {
        // A create then a delete of the same row: nothing to send.
        let ops: Array =
            coalesced.dropped.iter().map(|s| op("delete", OUTBOX, &JsValue::from_f64(*s as f64))).collect();
        idb::write(&inner.store.db, stores(&[OUTBOX]), ops).await.map_err(|e| store_failed(idb_err("upload", e)))?;
    }
    let mut changes = coalesced.changes;
    let total = changes.len();
    for i in 0..total {
        let change = changes[i].clone();
        let schema = inner.plan.schema();
        let req = build_request(schema, &change, Guard::Etag).map_err(failed)?;
        let res = inner.transport.send(&req).await;
        let outcome = classify(change.action, &res);
        let etag = settle(inner, mirror, report, &change, &req, &res, outcome).await?;
        if let Some(tag) = etag {
            propagate_etag(&mut changes[i + 1..], &change.table, &change.id, &tag);
        }
        let still_pending = changes[i + 1..].iter().any(|c| c.table == change.table && c.id == change.id);
        if !still_pending {
            mirror.set_pending(&change.table, &change.id, false);
        }
        inner.emit(json!({"phase": "upload", "done": i + 1, "total": total, "table": change.table}));
    }
    Ok(())
}

/// Acts on one outcome; returns the row's new etag when the change went through.
async fn settle(
    inner: &SyncInner,
    mirror: &mut Pass,
    report: &mut Report,
    change: &PendingChange,
    req: &Request,
    res: &Response,
    outcome: Outcome,
) -> Result<Option<String>, SendError> {
    let schema = inner.plan.schema();
    let now = js_sys::Date::now() as i64;
    match outcome {
        Outcome::Done { etag } => {
            report.uploaded += 1;
            done(inner, change, etag.clone()).await.map_err(store_failed)?;
            Ok(etag)
        }
        Outcome::Transient { retry_after_secs } => Err(transient(res, retry_after_secs)),
        Outcome::Rejected { code, message, errortype } => {
            report.rejected += 1;
            let error = SyncError::new(change, req, &code, &message, errortype, now);
            let rv = revert(schema, change).map_err(failed)?;
            undo(inner, mirror, change, rv, Some(error)).await?;
            Ok(None)
        }
        Outcome::Conflict => {
            if change.action == Action::Update {
                if let Some(etag) = already_applied(inner, change).await? {
                    // Our own earlier attempt went through (its answer was lost): nothing conflicts.
                    report.uploaded += 1;
                    done(inner, change, Some(etag.clone())).await.map_err(store_failed)?;
                    return Ok(Some(etag));
                }
            }
            report.conflicts += 1;
            match on_conflict(schema, change, req, inner.policy, now).map_err(failed)? {
                ConflictStep::Resend { request } => {
                    let res2 = inner.transport.send(&request).await;
                    let again = classify(change.action, &res2);
                    if matches!(again, Outcome::Conflict) {
                        // If-Match: * cannot conflict; a server that says so is treated as a rejection.
                        let error =
                            SyncError::new(change, &request, "0x80060882", "conflict on a forced update", 0, now);
                        let rv = revert(schema, change).map_err(failed)?;
                        undo(inner, mirror, change, rv, Some(error)).await?;
                        return Ok(None);
                    }
                    Box::pin(settle(inner, mirror, report, change, &request, &res2, again)).await
                }
                ConflictStep::Revert { revert, error } => {
                    undo(inner, mirror, change, revert, Some(*error)).await?;
                    Ok(None)
                }
                ConflictStep::Resolve { request } => {
                    let got = inner.transport.send(&request).await;
                    let server_row = match (got.status, &got.body) {
                        (Some(200), Some(Value::Object(o))) => o.clone(),
                        (Some(404), _) => Row::new(),
                        _ => return Err(transient(&got, None)),
                    };
                    let resolved = call_resolver(inner, change, &server_row).await?;
                    let resolution = resolve(schema, change, &server_row, resolved.as_ref()).map_err(failed)?;
                    let mut etag = None;
                    if let Some(r) = &resolution.request {
                        let res3 = inner.transport.send(r).await;
                        match classify(change.action, &res3) {
                            Outcome::Done { etag: e } => etag = e,
                            Outcome::Transient { retry_after_secs } => return Err(transient(&res3, retry_after_secs)),
                            other => {
                                return Box::pin(settle(inner, mirror, report, change, r, &res3, other)).await;
                            }
                        }
                    }
                    inner.store_changes(mirror, &resolution.local, Vec::new(), &[]).await.map_err(store_failed)?;
                    done(inner, change, etag.clone()).await.map_err(store_failed)?;
                    report.uploaded += 1;
                    Ok(etag)
                }
            }
        }
    }
}

/// For an update answered 412: whether the server row already holds every changed value (an earlier attempt of
/// this very change went through and only its answer was lost). Returns the server row's etag when it does.
async fn already_applied(inner: &SyncInner, change: &PendingChange) -> Result<Option<String>, SendError> {
    let req =
        crate::sync::conflict::fetch_row_request(inner.plan.schema(), &change.table, &change.id).map_err(failed)?;
    let res = inner.transport.send(&req).await;
    let Some(Value::Object(server)) = (res.status == Some(200)).then_some(res.body).flatten() else {
        return Ok(None);
    };
    let same = |a: &Value, b: Option<&Value>| match (a, b) {
        (Value::Null, None) => true,
        (Value::String(x), Some(Value::String(y))) => x.eq_ignore_ascii_case(y),
        (Value::Number(x), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        (x, Some(y)) => x == y,
        _ => false,
    };
    let applied = change.changes.iter().filter(|(k, _)| !k.contains('@')).all(|(k, v)| same(v, server.get(k)));
    Ok(if applied { server.get("@odata.etag").and_then(Value::as_str).map(str::to_string) } else { None })
}

/// The change went through: in one transaction, store the new etag on the row (if it is still there) and remove
/// the change's outbox entries.
async fn done(inner: &SyncInner, change: &PendingChange, etag: Option<String>) -> Result<(), JsValue> {
    let store = table_store(&change.table);
    let (store2, seqs) = (store.clone(), change.seqs.clone());
    modify_row_in(&inner.store, &[&store, OUTBOX], &change.table, &change.id, "upload", move |row| {
        let ops = Array::new();
        if let (Some(mut row), Some(tag)) = (row, etag.clone()) {
            row.insert("@odata.etag".into(), Value::String(tag));
            ops.push(&op("put", &store2, &convert::to_js(&row)?));
        }
        for s in &seqs {
            ops.push(&op("delete", OUTBOX, &JsValue::from_f64(*s as f64)));
        }
        Ok(ops)
    })
    .await
}

/// Undoes a local change the server did not take (removing it from the outbox) and records `error`, in one
/// transaction. A refetch that gets no answer leaves everything queued (the next pass sends it again).
async fn undo(
    inner: &SyncInner,
    mirror: &mut Pass,
    change: &PendingChange,
    rv: Revert,
    error: Option<SyncError>,
) -> Result<(), SendError> {
    let schema = inner.plan.schema();
    let local = match rv {
        Revert::Remove { row } => Changes { deletes: vec![row], ..Changes::default() },
        Revert::Refetch { row, request } => {
            let res = inner.transport.send(&request).await;
            match crate::sync::conflict::refetched(schema, &row, &res).map_err(failed)? {
                Some(c) => c,
                None => return Err(transient(&res, None)),
            }
        }
    };
    let mut extra: Vec<JsValue> =
        change.seqs.iter().map(|s| op("delete", OUTBOX, &JsValue::from_f64(*s as f64))).collect();
    if let Some(e) = &error {
        extra.push(op("put", SYNC_ERRORS, &convert::to_js(e).map_err(store_failed)?));
    }
    inner.store_changes(mirror, &local, extra, &[OUTBOX, SYNC_ERRORS]).await.map_err(store_failed)
}

/// Asks the JS resolver `(localChange, serverRow) => columns | null` (sync or async).
async fn call_resolver(inner: &SyncInner, change: &PendingChange, server_row: &Row) -> Result<Option<Row>, SendError> {
    let Some(f) = &inner.resolver else { return Ok(None) };
    let local = convert::to_js(change).map_err(store_failed)?;
    let server = convert::to_js(server_row).map_err(store_failed)?;
    let out = f.call2(&JsValue::NULL, &local, &server).map_err(store_failed)?;
    // Promise.resolve accepts a plain value or a promise alike.
    let out = JsFuture::from(Promise::resolve(&out)).await.map_err(store_failed)?;
    match from_js("resolver result", out).map_err(store_failed)? {
        Value::Object(o) => Ok(Some(o)),
        _ => Ok(None),
    }
}

/// The active (unresolved) sync errors, oldest first.
pub(super) async fn active_errors(inner: &SyncInner) -> Result<Vec<Value>, JsValue> {
    let raw = idb::get_all(&inner.store.db, SYNC_ERRORS, None, JsValue::UNDEFINED, None)
        .await
        .map_err(|e| idb_err("sync errors", e))?;
    let mut list = crate::wasm::convert::array(raw).map_err(|e| idb_err("sync errors", e.into()))?;
    list.retain(|e| e.get("statecode").and_then(Value::as_u64) == Some(0));
    crate::sort::sort_by(&mut list, |a, b| a["errortime"].as_str().cmp(&b["errortime"].as_str()));
    Ok(list)
}

async fn get_error(inner: &SyncInner, id: &str) -> Result<SyncError, JsValue> {
    let raw =
        idb::get(&inner.store.db, SYNC_ERRORS, &JsValue::from_str(id)).await.map_err(|e| idb_err("sync errors", e))?;
    if raw.is_undefined() {
        return Err(js_err(Error::new(crate::error::ErrorCode::RecordNotFound, format!("no sync error with id {id}"))));
    }
    SyncError::read(&from_js("sync error", raw)?)
        .map_err(|e| js_err(Error::new(crate::error::ErrorCode::InvalidJson, format!("sync error {id}: {e}"))))
}

/// Re-applies the failed change locally and queues it again, marking the error resolved, in one transaction.
pub(super) async fn retry_error(inner: &SyncInner, id: &str) -> Result<(), JsValue> {
    let error = get_error(inner, id).await?;
    let change = error
        .change()
        .ok_or_else(|| js_err(Error::argument(format!("sync error {id} does not hold the change it failed on"))))?;
    let store = table_store(&change.table);
    let resolved = convert::to_js(&error.resolved())?;
    let primary = inner.plan.schema().require_table(&change.table).map_err(js_err)?.primary_id_attribute.clone();
    let (store2, change2) = (store.clone(), change.clone());
    modify_row_in(&inner.store, &[&store, OUTBOX, SYNC_ERRORS], &change.table, &change.id, "retry", move |row| {
        let ops = Array::new();
        let etag = row.as_ref().and_then(|r| r.get("@odata.etag")).cloned();
        match change2.action {
            Action::Delete => ops.push(&op("delete", &store2, &JsValue::from_str(&change2.id))),
            Action::Create | Action::Update => {
                let mut r = row.unwrap_or_default();
                r.insert(primary.clone(), Value::String(change2.id.clone()));
                for (k, v) in &change2.changes {
                    r.insert(k.clone(), v.clone());
                }
                ops.push(&op("put", &store2, &convert::to_js(&r)?))
            }
        };
        let action = match change2.action {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        };
        let mut entry = json!({"table": change2.table, "id": change2.id, "action": action, "changes": change2.changes,
            "queuedOn": js_sys::Date::new_0().to_iso_string().as_string().unwrap_or_default()});
        if let Some(tag) = etag {
            entry["etag"] = tag;
        }
        ops.push(&op("add", OUTBOX, &convert::to_js(&entry)?));
        ops.push(&op("put", SYNC_ERRORS, &resolved));
        Ok(ops)
    })
    .await
}

/// Marks a sync error resolved without retrying.
pub(super) async fn discard_error(inner: &SyncInner, id: &str) -> Result<(), JsValue> {
    let error = get_error(inner, id).await?;
    let ops: Array = [op("put", SYNC_ERRORS, &convert::to_js(&error.resolved())?)].into_iter().collect();
    idb::write(&inner.store.db, stores(&[SYNC_ERRORS]), ops).await.map_err(|e| idb_err("discard", e))?;
    Ok(())
}
