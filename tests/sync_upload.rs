//! Uploading the outbox: coalescing, the exact requests, response classification, conflict policies and reverts,
//! sync errors; and end to end against the in-memory server, a create retried after a lost response is not
//! duplicated.
#![cfg(not(target_arch = "wasm32"))]

mod sync_support;

use serde_json::{json, Value};
use sync_support::*;
use xrm_offline::query::Row;
use xrm_offline::schema::field_service;
use xrm_offline::sync::conflict::refetched;
use xrm_offline::sync::errors::{CONFLICT, OTHER, RECORD_NOT_FOUND};
use xrm_offline::sync::upload::propagate_etag;
use xrm_offline::sync::{
    build_request, classify, coalesce, on_conflict, resolve, revert, Action, ConflictPolicy, ConflictStep, Guard,
    Method, OutboxEntry, Outcome, PendingChange, Response, Revert, SyncError,
};

const A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const B: &str = "aaaaaaaa-0000-4000-8000-000000000002";
const C: &str = "aaaaaaaa-0000-4000-8000-000000000003";

fn row(v: Value) -> Row {
    v.as_object().unwrap().clone()
}

fn entry(seq: u64, table: &str, id: &str, action: Action, changes: Value, etag: Option<&str>) -> OutboxEntry {
    OutboxEntry {
        seq,
        table: table.into(),
        id: id.into(),
        action,
        changes: row(changes),
        etag: etag.map(str::to_string),
        queued_on: None,
    }
}

#[test]
fn coalescing_merges_per_row_and_keeps_the_queue_order() {
    let out = coalesce(&[
        entry(1, "account", A, Action::Create, json!({"name": "A"}), None),
        entry(2, "contact", B, Action::Update, json!({"lastname": "x", "jobtitle": "t"}), Some("W/\"5\"")),
        entry(3, "account", A, Action::Update, json!({"name": "A2", "telephone1": "1"}), None),
        entry(4, "contact", B, Action::Update, json!({"lastname": "y"}), Some("W/\"6\"")),
        entry(5, "account", C, Action::Create, json!({"name": "C"}), None),
        entry(6, "account", C, Action::Update, json!({"name": "C2"}), None),
        entry(7, "account", C, Action::Delete, json!({}), None),
        entry(8, "contact", A, Action::Update, json!({"lastname": "z"}), Some("W/\"1\"")),
        entry(9, "contact", A, Action::Delete, json!({}), Some("W/\"1\"")),
    ]);
    assert_eq!(out.dropped, vec![5, 6, 7], "create … delete: nothing to upload");
    let c = &out.changes;
    assert_eq!(c.len(), 3);
    assert_eq!((c[0].table.as_str(), c[0].action, c[0].seqs.clone()), ("account", Action::Create, vec![1, 3]));
    assert_eq!(c[0].changes, row(json!({"name": "A2", "telephone1": "1"})));
    assert_eq!((c[1].table.as_str(), c[1].action, c[1].seqs.clone()), ("contact", Action::Update, vec![2, 4]));
    assert_eq!(c[1].changes, row(json!({"lastname": "y", "jobtitle": "t"})));
    assert_eq!(c[1].etag.as_deref(), Some("W/\"5\""), "the etag the user started from");
    assert_eq!((c[2].action, c[2].seqs.clone()), (Action::Delete, vec![8, 9]));
    assert!(c[2].changes.is_empty());
}

#[test]
fn an_update_naming_a_later_create_is_not_moved_before_it() {
    let out = coalesce(&[
        entry(1, "contact", A, Action::Update, json!({"lastname": "x"}), Some("W/\"1\"")),
        entry(2, "account", B, Action::Create, json!({"name": "new"}), None),
        entry(
            3,
            "contact",
            A,
            Action::Update,
            json!({"_parentcustomerid_value": B,
            "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account"}),
            Some("W/\"1\""),
        ),
    ]);
    let order: Vec<(String, Vec<u64>)> = out.changes.iter().map(|c| (c.table.clone(), c.seqs.clone())).collect();
    assert_eq!(order, vec![("contact".into(), vec![1]), ("account".into(), vec![2]), ("contact".into(), vec![3])]);
}

#[test]
fn requests_are_web_api_writes() {
    let schema = field_service();
    let create = PendingChange {
        table: "contact".into(),
        id: A.into(),
        action: Action::Create,
        changes: row(json!({"lastname": "Ng", "_parentcustomerid_value": B,
            "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
            "_parentcustomerid_value@OData.Community.Display.V1.FormattedValue": "Contoso",
            "_ownerid_value": C, "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "systemuser"})),
        etag: None,
        seqs: vec![1],
    };
    let r = build_request(&schema, &create, Guard::Etag).unwrap();
    assert_eq!(r.method, Method::Patch);
    assert_eq!(r.url, format!("contacts({A})?$select=contactid"));
    assert_eq!(r.header("If-None-Match"), Some("*"));
    assert_eq!(r.header("If-Match"), None);
    assert_eq!(r.header("Prefer"), Some("return=representation"));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        r.body,
        Some(json!({"lastname": "Ng", "parentcustomerid_account@odata.bind": format!("/accounts({B})"),
            "ownerid@odata.bind": format!("/systemusers({C})")}))
    );
    // A customer lookup to a contact uses the contact navigation property; a cleared lookup binds null.
    let update = PendingChange {
        action: Action::Update,
        changes: row(json!({"_parentcustomerid_value": B,
            "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact", "jobtitle": null})),
        etag: Some("W/\"42\"".into()),
        ..create.clone()
    };
    let r = build_request(&schema, &update, Guard::Etag).unwrap();
    assert_eq!(r.method, Method::Patch);
    assert_eq!(r.header("If-Match"), Some("W/\"42\""));
    assert_eq!(r.header("If-None-Match"), None);
    assert_eq!(
        r.body,
        Some(json!({"parentcustomerid_contact@odata.bind": format!("/contacts({B})"), "jobtitle": null}))
    );
    let clear = PendingChange {
        changes: row(json!({"_primarycontactid_value": null})),
        table: "account".into(),
        ..update.clone()
    };
    assert_eq!(
        build_request(&schema, &clear, Guard::Etag).unwrap().body,
        Some(json!({"primarycontactid@odata.bind": null}))
    );
    // Client wins: If-Match *; no etag known: If-Match * too (never an upsert of a deleted row).
    assert_eq!(build_request(&schema, &update, Guard::Any).unwrap().header("If-Match"), Some("*"));
    let delete = PendingChange { action: Action::Delete, changes: Row::new(), ..update.clone() };
    let r = build_request(&schema, &delete, Guard::Etag).unwrap();
    assert_eq!((r.method, r.url.as_str(), r.body.clone()), (Method::Delete, format!("contacts({A})").as_str(), None));
    assert_eq!(r.header("If-Match"), Some("W/\"42\""));
}

fn resp(status: Option<u16>, headers: &[(&str, &str)], body: Option<Value>) -> Response {
    Response { status, headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), body }
}

#[test]
fn responses_are_classified() {
    let err = |code: &str| Some(json!({"error": {"code": code, "message": "m"}}));
    let ok = resp(Some(200), &[], Some(json!({"@odata.etag": "W/\"7\""})));
    assert_eq!(classify(Action::Update, &ok), Outcome::Done { etag: Some("W/\"7\"".into()) });
    assert_eq!(classify(Action::Delete, &resp(Some(204), &[], None)), Outcome::Done { etag: None });
    // Retried create: the row is already there.
    assert_eq!(classify(Action::Create, &resp(Some(412), &[], err("0x80040237"))), Outcome::Done { etag: None });
    assert_eq!(classify(Action::Create, &resp(Some(400), &[], err("0x80040237"))), Outcome::Done { etag: None });
    // Retried delete: already gone.
    assert_eq!(classify(Action::Delete, &resp(Some(404), &[], err("0x80040217"))), Outcome::Done { etag: None });
    assert_eq!(classify(Action::Update, &resp(Some(412), &[], err("0x80060882"))), Outcome::Conflict);
    assert_eq!(classify(Action::Delete, &resp(Some(412), &[], None)), Outcome::Conflict);
    assert_eq!(
        classify(Action::Update, &resp(Some(404), &[], err("0x80040217"))),
        Outcome::Rejected { code: "0x80040217".into(), message: "m".into(), errortype: RECORD_NOT_FOUND }
    );
    assert_eq!(
        classify(Action::Update, &resp(Some(400), &[], err("0x80040203"))),
        Outcome::Rejected { code: "0x80040203".into(), message: "m".into(), errortype: OTHER }
    );
    assert!(matches!(classify(Action::Update, &resp(Some(403), &[], None)), Outcome::Rejected { errortype: 3, .. }));
    for s in [None, Some(401), Some(408), Some(500), Some(502), Some(503), Some(504)] {
        assert_eq!(
            classify(Action::Update, &resp(s, &[], None)),
            Outcome::Transient { retry_after_secs: None },
            "{s:?}"
        );
    }
    assert_eq!(
        classify(Action::Create, &resp(Some(429), &[("Retry-After", "30")], None)),
        Outcome::Transient { retry_after_secs: Some(30) }
    );
}

fn update_change(etag: &str) -> PendingChange {
    PendingChange {
        table: "account".into(),
        id: A.into(),
        action: Action::Update,
        changes: row(json!({"name": "Mine", "telephone1": "555"})),
        etag: Some(etag.into()),
        seqs: vec![3, 4],
    }
}

#[test]
fn conflict_policies() {
    let schema = field_service();
    let change = update_change("W/\"1\"");
    let sent = build_request(&schema, &change, Guard::Etag).unwrap();
    // Client wins: the same columns, If-Match *.
    let ConflictStep::Resend { request } =
        on_conflict(&schema, &change, &sent, ConflictPolicy::ClientWins, NOW_MS).unwrap()
    else {
        panic!("resend expected")
    };
    assert_eq!(request.header("If-Match"), Some("*"));
    assert_eq!(request.body, sent.body);
    // Server wins: refetch the server row, error of errortype 0.
    let ConflictStep::Revert { revert: rv, error } =
        on_conflict(&schema, &change, &sent, ConflictPolicy::ServerWins, NOW_MS).unwrap()
    else {
        panic!("revert expected")
    };
    let Revert::Refetch { row: r, request } = rv else { panic!("refetch expected") };
    assert_eq!((request.method, request.url.as_str()), (Method::Get, format!("accounts({A})").as_str()));
    assert_eq!(error.errortype, CONFLICT);
    assert_eq!(error.errorcode, "0x80060882");
    assert_eq!(error.action, "Update");
    assert_eq!(error.errortime, "2026-11-27T09:00:00Z");
    assert_eq!(error.regardingobjectid.id, A);
    assert_eq!(error.statecode, 0);
    assert_eq!(error.change(), Some(change.clone()), "kept for a retry");
    let requestdata: Value = serde_json::from_str(&error.requestdata).unwrap();
    assert_eq!(requestdata["method"], "PATCH");
    let server_row = row(
        json!({"@odata.context": "x", "accountid": A, "name": "Theirs", "telephone1": "555", "@odata.etag": "W/\"9\""}),
    );
    let put = refetched(&schema, &r, &resp(Some(200), &[], Some(Value::Object(server_row.clone())))).unwrap().unwrap();
    assert_eq!(put.puts[0].row["name"], "Theirs");
    assert!(!put.puts[0].row.contains_key("@odata.context"));
    let gone = refetched(&schema, &r, &resp(Some(404), &[], None)).unwrap().unwrap();
    assert_eq!(gone.deletes.len(), 1);
    // Resolver: the host fetches the server row and asks; only columns differing from the server row are sent,
    // guarded by the server's etag.
    assert!(matches!(
        on_conflict(&schema, &change, &sent, ConflictPolicy::Resolver, NOW_MS).unwrap(),
        ConflictStep::Resolve { .. }
    ));
    let resolved = row(json!({"name": "Merged", "telephone1": "555"}));
    let res = resolve(&schema, &change, &server_row, Some(&resolved)).unwrap();
    let req = res.request.unwrap();
    assert_eq!(req.body, Some(json!({"name": "Merged"})));
    assert_eq!(req.header("If-Match"), Some("W/\"9\""));
    assert_eq!(res.local.puts[0].row["name"], "Merged");
    let same = resolve(&schema, &change, &server_row, Some(&row(json!({"name": "Theirs"})))).unwrap();
    assert!(same.request.is_none());
    let delete = resolve(&schema, &change, &server_row, None).unwrap();
    assert_eq!(delete.request.unwrap().method, Method::Delete);
}

#[test]
fn reverts_undo_each_kind_of_change() {
    let schema = field_service();
    let create = PendingChange { action: Action::Create, etag: None, ..update_change("x") };
    assert!(matches!(revert(&schema, &create).unwrap(), Revert::Remove { row } if row.id == A));
    let del = PendingChange { action: Action::Delete, ..update_change("W/\"1\"") };
    assert!(matches!(revert(&schema, &del).unwrap(), Revert::Refetch { .. }));
    let e = SyncError::new(&del, &build_request(&schema, &del, Guard::Etag).unwrap(), "0x80040203", "no", OTHER, 0);
    let json = serde_json::to_value(&e).unwrap();
    for k in [
        "syncerrorid",
        "name",
        "action",
        "actiondata",
        "requestdata",
        "errorcode",
        "errormessage",
        "errortype",
        "errortime",
        "regardingobjectid",
        "statecode",
    ] {
        assert!(json.get(k).is_some(), "{k} missing");
    }
    assert_eq!(json["regardingobjectid"], json!({"table": "account", "id": A}));
    assert_eq!(e.resolved().statecode, 1);
    let back: SyncError = serde_json::from_value(json).unwrap();
    assert_eq!(back, e);
}

/// Uploads `changes` in order against the server, the way a host does; returns the outcomes.
fn upload(server: &mut TestServer, changes: &mut [PendingChange], policy: ConflictPolicy) -> Vec<Outcome> {
    let schema = field_service();
    let mut out = Vec::new();
    for i in 0..changes.len() {
        let change = changes[i].clone();
        let mut req = build_request(&schema, &change, Guard::Etag).unwrap();
        loop {
            let (status, body) = server.handle(&req);
            let r = resp((status != 0).then_some(status), &[], (!body.is_null()).then_some(body));
            let outcome = classify(change.action, &r);
            match &outcome {
                Outcome::Transient { .. } => continue, // retry at once (the backoff is tested elsewhere)
                Outcome::Done { etag: Some(tag) } => propagate_etag(changes, &change.table, &change.id, tag),
                Outcome::Conflict => {
                    if let ConflictStep::Resend { request } =
                        on_conflict(&schema, &change, &req, policy, NOW_MS).unwrap()
                    {
                        req = request;
                        out.push(outcome);
                        continue;
                    }
                }
                _ => {}
            }
            out.push(outcome);
            break;
        }
    }
    out
}

#[test]
fn a_create_retried_after_a_lost_response_is_not_duplicated() {
    let mut server = TestServer::new();
    seed(&mut server);
    let id = gid(6, 500);
    let mut changes = coalesce(&[
        entry(1, "account", &id, Action::Create, json!({"name": "New"}), None),
        entry(2, "account", &id, Action::Update, json!({"telephone1": "1"}), None),
    ])
    .changes;
    server.lose_next_response = true;
    let before = server.tables["account"].len();
    let outcomes = upload(&mut server, &mut changes, ConflictPolicy::ClientWins);
    assert_eq!(outcomes, vec![Outcome::Done { etag: None }], "the retry answered 412: already created");
    assert_eq!(server.tables["account"].len(), before + 1);
    assert_eq!(server.row("account", &id).unwrap()["telephone1"], "1");
    // The same create queued again after a reload (the outbox entry survived): still one row.
    let mut again = coalesce(&[entry(1, "account", &id, Action::Create, json!({"name": "New"}), None)]).changes;
    assert_eq!(upload(&mut server, &mut again, ConflictPolicy::ClientWins), vec![Outcome::Done { etag: None }]);
    assert_eq!(server.tables["account"].len(), before + 1);
}

#[test]
fn end_to_end_conflicts_and_rejections() {
    let mut server = TestServer::new();
    seed(&mut server);
    let id = gid(6, 1);
    let etag = server.row("account", &id).unwrap()["@odata.etag"].as_str().unwrap().to_string();
    server.modify("account", &id, json!({"name": "Changed on the server"}));
    // Client wins: the offline change overwrites.
    let mut changes = vec![PendingChange {
        table: "account".into(),
        id: id.clone(),
        action: Action::Update,
        changes: row(json!({"name": "Offline"})),
        etag: Some(etag.clone()),
        seqs: vec![1],
    }];
    let outcomes = upload(&mut server, &mut changes, ConflictPolicy::ClientWins);
    assert_eq!(outcomes[0], Outcome::Conflict);
    assert!(matches!(outcomes[1], Outcome::Done { etag: Some(_) }));
    assert_eq!(server.row("account", &id).unwrap()["name"], "Offline");
    // A second update of the same row uses the new etag: no conflict.
    let mut two =
        vec![changes[0].clone(), PendingChange { changes: row(json!({"name": "Again"})), ..changes[0].clone() }];
    two[0].etag = server.row("account", &id).unwrap()["@odata.etag"].as_str().map(str::to_string);
    let outcomes = upload(&mut server, &mut two, ConflictPolicy::ServerWins);
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Done { .. })), "{outcomes:?}");
    // Server wins: the conflict stays a conflict.
    let mut stale = vec![PendingChange { etag: Some(etag), ..changes[0].clone() }];
    assert_eq!(upload(&mut server, &mut stale, ConflictPolicy::ServerWins), vec![Outcome::Conflict]);
    // A business-rule rejection.
    let mut bad = vec![PendingChange { changes: row(json!({"name": "REJECT ME"})), etag: None, ..changes[0].clone() }];
    assert!(matches!(&upload(&mut server, &mut bad, ConflictPolicy::ClientWins)[0],
        Outcome::Rejected { code, errortype: 3, .. } if code == "0x80040203"));
}
