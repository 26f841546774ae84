//! Offline writes end to end: rows written with the store's offline validation, queued, coalesced, uploaded to
//! the in-memory server, then synced back: created rows stay while pending and settle to the profile's scope after
//! upload; a rejected update is reverted to the server's row and recorded as a sync error.
#![cfg(not(target_arch = "wasm32"))]

mod sync_support;

use serde_json::json;
use sync_support::*;
use xrm_offline::store::write::{prepare_create, prepare_update};
use xrm_offline::sync::conflict::refetched;
use xrm_offline::sync::errors::OTHER;
use xrm_offline::sync::upload::propagate_etag;
use xrm_offline::sync::{
    build_request, classify, coalesce, revert, Action, Guard, LocalRows, OutboxEntry, Outcome, Revert, SyncError,
};

/// The host's outbox and the local writes that feed it.
struct Device {
    host: Host,
    outbox: Vec<OutboxEntry>,
    seq: u64,
}

impl Device {
    fn create(&mut self, table: &str, id: &str, record: serde_json::Value) {
        let schema = self.host.plan.schema().clone();
        let w = prepare_create(&schema, table, &record, id, &|_| true).unwrap();
        self.host.local.put(table, &w.id, w.row);
        self.host.local.set_pending(table, &w.id, true);
        self.seq += 1;
        self.outbox.push(OutboxEntry {
            seq: self.seq,
            table: table.into(),
            id: w.id,
            action: Action::Create,
            changes: w.changes,
            etag: None,
            queued_on: None,
        });
    }

    fn update(&mut self, table: &str, id: &str, record: serde_json::Value) {
        let schema = self.host.plan.schema().clone();
        let existing = self.host.local.get(table, id).unwrap().clone();
        let w = prepare_update(&schema, table, &existing, &record, &|_| true).unwrap();
        self.host.local.put(table, id, w.row);
        self.host.local.set_pending(table, id, true);
        self.seq += 1;
        self.outbox.push(OutboxEntry {
            seq: self.seq,
            table: table.into(),
            id: id.into(),
            action: Action::Update,
            changes: w.changes,
            etag: existing.get("@odata.etag").and_then(|v| v.as_str()).map(str::to_string),
            queued_on: None,
        });
    }

    /// Uploads the outbox; returns the sync errors recorded.
    fn upload(&mut self, server: &mut TestServer) -> Vec<SyncError> {
        let schema = self.host.plan.schema().clone();
        let c = coalesce(&self.outbox);
        let mut changes = c.changes;
        let mut errors = Vec::new();
        for i in 0..changes.len() {
            let change = changes[i].clone();
            let req = build_request(&schema, &change, Guard::Etag).unwrap();
            let res = server.send(&req);
            match classify(change.action, &res) {
                Outcome::Done { etag } => {
                    if let Some(tag) = etag {
                        propagate_etag(&mut changes, &change.table, &change.id, &tag);
                    }
                }
                Outcome::Rejected { code, message, errortype } => {
                    errors.push(SyncError::new(&change, &req, &code, &message, errortype, server.now_ms));
                    match revert(&schema, &change).unwrap() {
                        Revert::Remove { row } => {
                            self.host.local.remove(&row.table, &row.id);
                        }
                        Revert::Refetch { row, request } => {
                            let res = server.send(&request);
                            let undo = refetched(&schema, &row, &res).unwrap().unwrap();
                            self.host.local.apply(&undo);
                        }
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
            self.host.local.set_pending(&change.table, &change.id, false);
        }
        self.outbox.clear();
        errors
    }
}

fn device() -> (TestServer, xrm_offline::profile::Profile, Device) {
    let mut server = TestServer::new();
    seed(&mut server);
    let profile = default_profile(&server.schema);
    let mut host = Host::new(&profile, &server.schema, 25);
    assert!(host.first_sync(&mut server, usize::MAX));
    (server, profile, Device { host, outbox: Vec::new(), seq: 0 })
}

#[test]
fn offline_writes_upload_and_settle_to_the_scope() {
    let (mut server, profile, mut d) = device();
    let ctx = ctx_at(NOW_MS);
    let wo = d.host.local.ids("msdyn_workorder")[0].clone();
    let product = d.host.local.ids("product")[0].clone();
    // A line on an in-scope work order (will match), and an account no work order uses (will not).
    let line = gid(10, 7000);
    d.create(
        "msdyn_workorderproduct",
        &line,
        json!({"msdyn_name": "offline line",
        "msdyn_workorder": {"logicalname": "msdyn_workorder", "id": wo},
        "msdyn_product": {"logicalname": "product", "id": product}}),
    );
    d.update("msdyn_workorderproduct", &line, json!({"msdyn_name": "offline line, renamed"}));
    let lonely = gid(6, 7000);
    d.create("account", &lonely, json!({"name": "Walk-in customer"}));
    // Pending: kept through a sync although the account matches nothing.
    d.host.incremental_sync(&mut server, &ctx);
    assert!(d.host.has("account", &lonely) && d.host.has("msdyn_workorderproduct", &line));
    // Upload: one create per row (create + update coalesced), binds resolved by the server.
    let before = server.requests.len();
    assert!(d.upload(&mut server).is_empty());
    assert_eq!(server.requests.len() - before, 2);
    let stored = server.row("msdyn_workorderproduct", &line).unwrap();
    assert_eq!(stored["msdyn_name"], "offline line, renamed");
    assert_eq!(stored["_msdyn_workorder_value"], json!(wo));
    assert_eq!(stored["_msdyn_product_value"], json!(product));
    // Synced back: the line stays (its work order is in scope) with the server's row; the account goes.
    d.host.incremental_sync(&mut server, &ctx);
    assert!(d.host.has("msdyn_workorderproduct", &line));
    assert!(!d.host.has("account", &lonely), "uploaded and out of scope: evicted");
    assert_eq!(d.host.snapshot(), expected_scope(&server, &profile, NOW_MS));
    assert_eq!(d.host.local.get("msdyn_workorderproduct", &line), server.row("msdyn_workorderproduct", &line));
}

#[test]
fn a_booking_moved_out_of_the_window_offline_leaves_after_upload() {
    let (mut server, profile, mut d) = device();
    let ctx = ctx_at(NOW_MS);
    let booking = d.host.local.ids("bookableresourcebooking")[0].clone();
    let far = iso(NOW_MS + 30 * DAY_MS);
    d.update("bookableresourcebooking", &booking, json!({"starttime": far, "endtime": far}));
    d.host.incremental_sync(&mut server, &ctx);
    assert!(d.host.has("bookableresourcebooking", &booking), "pending: kept");
    assert!(d.upload(&mut server).is_empty());
    d.host.incremental_sync(&mut server, &ctx);
    assert!(!d.host.has("bookableresourcebooking", &booking));
    assert_eq!(d.host.snapshot(), expected_scope(&server, &profile, NOW_MS));
}

#[test]
fn a_rejected_update_is_reverted_and_recorded_and_the_queue_goes_on() {
    let (mut server, _, mut d) = device();
    let accounts = d.host.local.ids("account");
    let (a, b) = (accounts[0].clone(), accounts[1].clone());
    let original = d.host.local.get("account", &a).unwrap().clone();
    d.update("account", &a, json!({"name": "REJECT ME"}));
    d.update("account", &b, json!({"name": "Fine"}));
    let errors = d.upload(&mut server);
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!((e.action.as_str(), e.errorcode.as_str(), e.errortype), ("Update", "0x80040203", OTHER));
    assert_eq!(e.regardingobjectid.id, a);
    assert_eq!(e.errormessage, "Business rule: that name is not allowed");
    assert_eq!(d.host.local.get("account", &a), Some(&original), "reverted to the server's row");
    assert!(!d.host.local.is_pending("account", &a));
    assert_eq!(server.row("account", &b).unwrap()["name"], "Fine", "the rest of the queue went on");
}
